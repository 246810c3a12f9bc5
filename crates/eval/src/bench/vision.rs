//! `veriframe-eval bench vision`: per-stage timings of the verification engine.
//!
//! Wall time per call (median, mean, p90 over all images × rounds) and, on Linux, the process
//! CPU time per call (from `/proc/self/stat`), since the server's budget is CPU on 2 cores and
//! inference may use both.

use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Args;
use serde::Serialize;
use veriframe_vision::decode::{DecodeLimits, decode};
use veriframe_vision::face::align::align_chip;
use veriframe_vision::face::engine::largest;
use veriframe_vision::face::{DetectorKind, FaceEngine, MatchKind};
use veriframe_vision::liveness::TurnDirection;

use veriframe::cli::Context;
use veriframe::commands::face::load_engine;
use veriframe::output::emit;

#[derive(Debug, Args)]
pub struct BenchVisionArgs {
    /// Face photos to time (JPEG/PNG/WebP).
    #[arg(long, default_value = "../shared/testdata/faces")]
    pub faces: PathBuf,
    /// An identity-document image for the session estimate.
    #[arg(long, default_value = "../shared/testdata/idcard_synth/obama_card.jpg")]
    pub document: PathBuf,
    /// A selfie for the session estimate (also used, five times, as the challenge frames).
    #[arg(long, default_value = "../shared/testdata/faces-london/001_neutral.jpg")]
    pub selfie: PathBuf,
    /// Passes over the images per stage.
    #[arg(long, default_value_t = 5)]
    pub rounds: usize,
}

/// Timing of one stage.
#[derive(Debug, Clone, Serialize)]
pub struct StageTiming {
    pub stage: String,
    pub calls: usize,
    pub median_ms: f64,
    pub mean_ms: f64,
    pub p90_ms: f64,
    /// Process CPU time per call (all threads), when the platform reports it.
    pub cpu_ms_per_call: Option<f64>,
}

#[derive(Debug, Serialize)]
struct BenchReport {
    machine: String,
    threads_available: usize,
    images: usize,
    rounds: usize,
    stages: Vec<StageTiming>,
}

/// CPU seconds used by this process so far (user + system), Linux only.
fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are the 14th and 15th.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    // The kernel reports clock ticks; USER_HZ is 100 on every mainstream Linux build.
    Some((utime + stime) / 100.0)
}

/// Runs `f` once per item per round and summarises wall and CPU time.
fn time_stage<T>(
    stage: &str,
    items: &[T],
    rounds: usize,
    mut f: impl FnMut(&T) -> anyhow::Result<()>,
) -> anyhow::Result<StageTiming> {
    // One untimed pass warms caches and lazily built buffers.
    for item in items {
        f(item)?;
    }
    let mut samples = Vec::with_capacity(items.len() * rounds);
    let cpu0 = process_cpu_seconds();
    for _ in 0..rounds {
        for item in items {
            let t = Instant::now();
            f(item)?;
            samples.push(t.elapsed().as_secs_f64() * 1000.0);
        }
    }
    let cpu = match (cpu0, process_cpu_seconds()) {
        (Some(a), Some(b)) if !samples.is_empty() => Some((b - a) * 1000.0 / samples.len() as f64),
        _ => None,
    };
    samples.sort_by(f64::total_cmp);
    let n = samples.len().max(1);
    Ok(StageTiming {
        stage: stage.to_owned(),
        calls: samples.len(),
        median_ms: samples.get(samples.len() / 2).copied().unwrap_or(0.0),
        mean_ms: samples.iter().sum::<f64>() / n as f64,
        p90_ms: samples.get(samples.len() * 9 / 10).copied().unwrap_or(0.0),
        cpu_ms_per_call: cpu,
    })
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_owned());
    format!("{cpu}, {} {}", std::env::consts::OS, std::env::consts::ARCH)
}

fn load_dir(dir: &Path) -> anyhow::Result<Vec<Vec<u8>>> {
    let mut paths: Vec<PathBuf> =
        std::fs::read_dir(dir)?.filter_map(Result::ok).map(|e| e.path()).filter(|p| p.is_file()).collect();
    paths.sort();
    paths.iter().map(|p| std::fs::read(p).map_err(Into::into)).collect()
}

fn face_stages(engine: &FaceEngine, args: &BenchVisionArgs, stages: &mut Vec<StageTiming>) -> anyhow::Result<usize> {
    let limits = DecodeLimits::default();
    let files = load_dir(&args.faces)?;
    let images: Vec<image::RgbImage> = files.iter().filter_map(|b| decode(b, &limits).ok().map(|d| d.image)).collect();
    anyhow::ensure!(!images.is_empty(), "no decodable images in {}", args.faces.display());
    let rounds = args.rounds;
    stages.push(time_stage("decode", &files, rounds, |b| {
        decode(b, &limits)?;
        Ok(())
    })?);
    for (name, kind) in [("detect_256", DetectorKind::Full256), ("detect_128", DetectorKind::Front128)] {
        stages.push(time_stage(name, &images, rounds, |img| {
            engine.detect(img, kind)?;
            Ok(())
        })?);
    }
    let faces: Vec<(&image::RgbImage, veriframe_vision::face::Detection)> = images
        .iter()
        .filter_map(|img| {
            let dets = engine.detect(img, DetectorKind::Full256).ok()?;
            largest(&dets).map(|d| (img, *d))
        })
        .collect();
    stages.push(time_stage("align", &faces, rounds, |(img, det)| {
        align_chip(img, det).ok_or_else(|| anyhow::anyhow!("degenerate face"))?;
        Ok(())
    })?);
    let chips: Vec<image::RgbImage> = faces.iter().filter_map(|(img, det)| align_chip(img, det)).collect();
    stages.push(time_stage("embed", &chips, rounds, |chip| {
        engine.embedder().embed(&[chip])?;
        Ok(())
    })?);
    stages.push(time_stage("detect_256+align+embed", &images, rounds, |img| {
        engine.analyze(img, DetectorKind::Full256)?;
        Ok(())
    })?);
    stages.push(time_stage("detect_128+align+embed", &images, rounds, |img| {
        engine.analyze(img, DetectorKind::Front128)?;
        Ok(())
    })?);
    if engine.has_passive_pad() {
        stages.push(time_stage("passive_pad", &faces, rounds, |(img, det)| {
            engine.passive_pad(img, det)?;
            Ok(())
        })?);
    }

    // Face part of one session: document portrait, selfie, match, and a head-turn film of 50
    // frames at the page's size (+PAD on its first frame).
    let doc = decode(&std::fs::read(&args.document)?, &limits)?.image;
    let selfie = decode(&std::fs::read(&args.selfie)?, &limits)?.image;
    let film = veriframe_core::challenge::HEAD_TURN_FILM;
    let scale = film.max_side as f32 / selfie.width().max(selfie.height()) as f32;
    let (w, h) = ((selfie.width() as f32 * scale) as u32, (selfie.height() as f32 * scale) as u32);
    let small = image::imageops::resize(&selfie, w.max(1), h.max(1), image::imageops::FilterType::Triangle);
    let frames: Vec<(u32, image::RgbImage)> = (0..50).map(|i| (i * film.interval_ms, small.clone())).collect();
    let spec = veriframe_vision::liveness::ChallengeSpec {
        direction: TurnDirection::Left,
        prompt_at_ms: 1000,
        after_prompt_ms: film.after_prompt_ms,
        interval_ms: film.interval_ms,
    };
    stages.push(time_stage("session_faces", &[()], rounds, |()| {
        let d = engine.analyze_document(&doc)?;
        let s = engine.analyze_selfie(&selfie)?;
        if let (Some(a), Some(b)) = (d.primary, s.primary) {
            engine.compare(&a.embedding, &b.embedding, MatchKind::Document);
        }
        engine.head_turn(&frames, Some(&selfie), &spec, false)?;
        Ok(())
    })?);
    Ok(images.len())
}

pub fn bench_vision(args: &BenchVisionArgs, ctx: &Context) -> anyhow::Result<()> {
    let engine = load_engine(ctx)?;
    let mut stages = Vec::new();
    let images = face_stages(&engine, args, &mut stages)?;

    // MRZ timings: the MRZ reader adds its stages here (detection, recognition, whole read).

    let report = BenchReport {
        machine: machine(),
        threads_available: std::thread::available_parallelism().map_or(1, usize::from),
        images,
        rounds: args.rounds,
        stages,
    };
    emit(ctx.json, &report, |r| {
        let mut t = format!(
            "{} ({} threads), {} images × {} rounds\n{:<26} {:>8} {:>8} {:>8} {:>10}\n",
            r.machine, r.threads_available, r.images, r.rounds, "stage", "median", "mean", "p90", "cpu/call"
        );
        for s in &r.stages {
            let cpu = s.cpu_ms_per_call.map_or_else(|| "-".to_owned(), |c| format!("{c:.1}"));
            t.push_str(&format!(
                "{:<26} {:>6.1}ms {:>6.1}ms {:>6.1}ms {:>8}ms\n",
                s.stage, s.median_ms, s.mean_ms, s.p90_ms, cpu
            ));
        }
        t.trim_end().to_owned()
    })
}
