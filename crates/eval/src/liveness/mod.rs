//! `veriframe-eval liveness`: plays natural head turns of the London set, and the attacks a
//! head-turn check must stop, through the page's own sampling and encoding and the server's own
//! measurement and judge, and reports what passes.
//!
//! Every attempt is saved as its measurements (`--dump`), so the judge's thresholds can be
//! re-tried on the same films in seconds (`--rejudge`).

mod report;

use std::io::{BufRead as _, Write as _};
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use veriframe_core::challenge::{FilmSpec, HEAD_TURN_FILM};
use veriframe_synth::Rng;
use veriframe_synth::sampling::FrameSampling;
use veriframe_vision::decode::DecodeLimits;
use veriframe_vision::face::engine::largest;
use veriframe_vision::face::{DetectorKind, FilmBytes};
use veriframe_vision::liveness::{ChallengeRules, ChallengeSpec, TurnDirection, TurnMeasures, judge};

use crate::setup;
use report::Report;
use veriframe_synth::film::{self as scenes, Act, Capture};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// How many London-set people (in file order).
    #[arg(long, default_value_t = 30)]
    people: usize,
    /// Skip this many people first.
    #[arg(long, default_value_t = 0)]
    skip: usize,
    /// Attempts per person and act; every 4 consecutive genuine attempts of a person make a
    /// session (the flow allows 3 retries).
    #[arg(long, default_value_t = 4)]
    attempts: usize,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Only these acts: genuine, still, tilt, moved, replay.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Passive PAD models (MiniFASNet V2 + V1SE); without them PAD is reported as not run.
    #[arg(long)]
    pad: Option<PathBuf>,
    /// Save every attempt's measurements here (JSON lines).
    #[arg(long)]
    dump: Option<PathBuf>,
    /// Judge saved measurements again instead of filming (for calibrating the rules).
    #[arg(long, conflicts_with = "dump")]
    rejudge: Option<PathBuf>,
    /// Rules to judge with, as JSON (fields of `ChallengeRules`; missing ones keep defaults).
    #[arg(long)]
    rules: Option<String>,
    /// With `--rejudge`: print every failed attempt's reasons and yaw changes.
    #[arg(long)]
    verbose: bool,
    /// Write the uploads of the first person's attempts here, as JPEG files.
    #[arg(long)]
    frames_dir: Option<PathBuf>,
}

/// One attempt as saved by `--dump`.
#[derive(Debug, Serialize, Deserialize)]
struct Saved {
    person: String,
    act: String,
    attempt: usize,
    amplitude_deg: f32,
    spec: ChallengeSpec,
    measures: TurnMeasures,
    /// Passive PAD's say over the attempt (film start and selfie, the server's rule); `None`
    /// when PAD did not run.
    #[serde(default)]
    pad_says_live: Option<bool>,
    /// Passive PAD's live scores on the film's start and on the selfie, when it ran.
    #[serde(default)]
    start_live: Option<f32>,
    #[serde(default)]
    selfie_live: Option<f32>,
    upload_bytes: usize,
    verdict_ms: f64,
}

pub fn run(args: &Args) -> anyhow::Result<()> {
    let rules = match &args.rules {
        Some(json) => merge_rules(json)?,
        None => ChallengeRules::default(),
    };
    let mut report = Report::default();
    if let Some(path) = &args.rejudge {
        let file = std::fs::File::open(path).with_context(|| path.display().to_string())?;
        for line in std::io::BufReader::new(file).lines() {
            let saved: Saved = serde_json::from_str(&line?)?;
            let verdict = judge(&saved.measures, &saved.spec, &rules);
            if args.verbose && !verdict.passed {
                let deltas: Vec<String> =
                    verdict.deltas.iter().map(|d| d.map_or_else(|| "--".to_owned(), |d| format!("{d:.2}"))).collect();
                println!(
                    "{} {} {:.0}° prompt {} ms: {}\n    {}",
                    saved.act,
                    saved.person,
                    saved.amplitude_deg,
                    saved.spec.prompt_at_ms,
                    serde_json::to_string(&verdict.failures)?,
                    deltas.join(" ")
                );
            }
            report.add(
                &saved.act,
                &saved.person,
                saved.amplitude_deg,
                &verdict,
                saved.pad_says_live,
                saved.upload_bytes,
                saved.verdict_ms,
            );
        }
        print!("{}", report.render(&rules));
        return Ok(());
    }
    let engine = setup::engine(args.pad.as_deref())?;
    let mut dump = match &args.dump {
        Some(path) => {
            Some(std::io::BufWriter::new(std::fs::File::create(path).with_context(|| path.display().to_string())?))
        }
        None => None,
    };
    let mut rng = Rng::new(args.seed);
    let film = HEAD_TURN_FILM;
    for (index, path) in people(args)?.iter().enumerate() {
        let person = path.file_name().and_then(|n| n.to_str()).unwrap_or("?").to_owned();
        let photo = setup::read_image(path)?;
        let detections = engine.detect(&photo, DetectorKind::Full256)?;
        let Some(face) = largest(&detections) else {
            eprintln!("{person}: no face found, skipped");
            continue;
        };
        let subject = scenes::subject(&photo, &face.keypoints);
        // The session's selfie as the server holds it: a frontal camera frame of the person taken
        // before the film (the page's selfie is a camera frame, not a studio portrait, whose face
        // fills the image and leaves passive PAD none of the context it was trained with). Its
        // own random stream leaves the attempts' draws as they were. Attacks keep this genuine
        // selfie, so their PAD pass rate is the film's alone: the harder case.
        let mut selfie_rng = Rng::new(args.seed.wrapping_add(0x5e1f_0000 + index as u64));
        let selfie_take = capture(&film, &mut selfie_rng);
        let selfie =
            scenes::record(&subject, Act::Genuine, 1.0, &selfie_take, &key_sampling(&film), &mut selfie_rng).key;
        for act in scenes::acts() {
            if !args.only.is_empty() && !args.only.iter().any(|o| o == act.tag()) {
                continue;
            }
            for attempt in 0..args.attempts {
                let direction = if rng.chance(0.5) { TurnDirection::Left } else { TurnDirection::Right };
                let capture = capture(&film, &mut rng);
                let recorded =
                    scenes::record(&subject, act, direction.sign(), &capture, &key_sampling(&film), &mut rng);
                if let (Some(dir), 0) = (&args.frames_dir, index) {
                    save_frames(dir, &act, attempt, &recorded.frames)?;
                }
                let spec = ChallengeSpec {
                    direction,
                    prompt_at_ms: capture.prompt_at_ms,
                    after_prompt_ms: capture.after_prompt_ms,
                    interval_ms: capture.interval_ms,
                };
                let frames: Vec<(u32, &[u8])> =
                    recorded.frames.iter().zip(&recorded.at_ms).map(|(bytes, at)| (*at, bytes.as_slice())).collect();
                let film = FilmBytes { frames: &frames, key: Some(&recorded.key), selfie: Some(&selfie) };
                // Timed as the server's verdict: decoding, the turn, PAD and the selfie comparison.
                let started = Instant::now();
                let judged = engine.judge_film(&film, &spec, &DecodeLimits::default())?;
                let verdict_ms = started.elapsed().as_secs_f64() * 1000.0;
                let verdict = judge(&judged.report.measures, &spec, &rules);
                let bytes = recorded.frames.iter().map(Vec::len).sum::<usize>() + recorded.key.len();
                let pad_ran = judged.report.passive.is_some() || judged.selfie_pad.is_some();
                let pad_says_live = pad_ran.then(|| !judged.pad_says_spoof());
                report.add(
                    &act.name(),
                    &person,
                    recorded.gesture.amplitude_deg,
                    &verdict,
                    pad_says_live,
                    bytes,
                    verdict_ms,
                );
                if let Some(out) = dump.as_mut() {
                    let saved = Saved {
                        person: person.clone(),
                        act: act.name(),
                        attempt,
                        amplitude_deg: recorded.gesture.amplitude_deg,
                        spec,
                        measures: judged.report.measures,
                        pad_says_live,
                        start_live: judged.report.passive.map(|p| p.live_score),
                        selfie_live: judged.selfie_pad.map(|p| p.live_score),
                        upload_bytes: bytes,
                        verdict_ms,
                    };
                    writeln!(out, "{}", serde_json::to_string(&saved)?)?;
                }
            }
        }
        eprintln!("{person}: done ({} of {})", index + 1, args.people);
    }
    print!("{}", report.render(&rules));
    Ok(())
}

/// The London set's neutral photos, in file order.
fn people(args: &Args) -> anyhow::Result<Vec<PathBuf>> {
    let dir = setup::testdata().join("faces-london");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.ends_with("_neutral.jpg")))
        .collect();
    paths.sort();
    Ok(paths.into_iter().skip(args.skip).take(args.people).collect())
}

/// The page's timing for one attempt, the prompt drawn as the server draws it.
fn capture(film: &FilmSpec, rng: &mut Rng) -> Capture {
    let (lo, hi) = (film.prompt_delay_min_ms, film.prompt_delay_max_ms);
    Capture {
        interval_ms: film.interval_ms,
        prompt_at_ms: lo + (rng.unit() * (hi - lo) as f32) as u32,
        after_prompt_ms: film.after_prompt_ms,
        sampling: FrameSampling {
            crop_height: film.crop_height,
            crop_aspect: film.crop_aspect,
            max_side: film.max_side,
            quality: film.quality,
        },
    }
}

/// The key frame: the whole camera frame, sharper.
fn key_sampling(film: &FilmSpec) -> FrameSampling {
    FrameSampling { crop_height: 1.0, crop_aspect: 10.0, max_side: film.key_max_side, quality: film.key_quality }
}

fn merge_rules(json: &str) -> anyhow::Result<ChallengeRules> {
    let mut value = serde_json::to_value(ChallengeRules::default())?;
    let overrides: serde_json::Map<String, serde_json::Value> = serde_json::from_str(json).context("--rules")?;
    for (k, v) in overrides {
        anyhow::ensure!(value.get(&k).is_some(), "--rules: no rule named {k}");
        value[k] = v;
    }
    Ok(serde_json::from_value(value)?)
}

fn save_frames(dir: &std::path::Path, act: &Act, attempt: usize, frames: &[Vec<u8>]) -> anyhow::Result<()> {
    let name: String = act.name().chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
    for (i, f) in frames.iter().enumerate() {
        std::fs::write(dir.join(format!("{name}-{attempt}-{i:02}.jpg")), f)?;
    }
    Ok(())
}
