//! `veriframe-eval bench mrz`: MRZ reading timings, and [`measure_mrz`] for other benchmarks.

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use image::RgbImage;
use serde::Serialize;
use veriframe_vision::document::detect_mrz_band;
use veriframe_vision::mrz::{CalendarDate, MrzReader};

use veriframe::cli::Context;
use veriframe::commands::image_input::load_rgb;
use veriframe::commands::mrz::load_reader;
use veriframe::output::emit;

/// Arguments of `veriframe-eval bench mrz`.
#[derive(Debug, Args)]
pub struct BenchMrzArgs {
    /// Document images, or directories of them.
    #[arg(required = true)]
    pub images: Vec<PathBuf>,
    /// Reads per image (after one warm-up read).
    #[arg(long, default_value_t = 3)]
    pub repeat: usize,
}

/// Median, 90th percentile and maximum of one stage, milliseconds.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Spread {
    pub median_ms: f64,
    pub p90_ms: f64,
    pub max_ms: f64,
}

impl Spread {
    fn of(mut samples: Vec<f64>) -> Self {
        if samples.is_empty() {
            return Self::default();
        }
        samples.sort_by(f64::total_cmp);
        let at = |p: f64| samples[((samples.len() - 1) as f64 * p).round() as usize];
        Self { median_ms: at(0.5), p90_ms: at(0.9), max_ms: samples[samples.len() - 1] }
    }
}

/// MRZ timings over a set of images.
#[derive(Debug, Clone, Serialize)]
pub struct MrzBench {
    /// Images timed.
    pub images: usize,
    /// Reads timed (images × repeats).
    pub reads: usize,
    /// Whole read (wall clock).
    pub read: Spread,
    /// Text detection within a read (all attempts).
    pub detect: Spread,
    /// Line recognition within a read (all attempts).
    pub recognize: Spread,
    /// Assembly, repair and parsing within a read.
    pub interpret: Spread,
    /// The detector-only MRZ band check used for capture feedback.
    pub band_check: Spread,
    /// Process CPU time per read (user + system, all threads), where the OS reports it.
    pub cpu_per_read_ms: Option<f64>,
    /// Reads that needed the second attempt.
    pub second_attempts: usize,
}

/// Process CPU time (user + system) in milliseconds, from `/proc/self/stat` on Linux.
pub fn process_cpu_ms() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let fields: Vec<&str> = stat.rsplit(')').next()?.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    // USER_HZ is 100 on every Linux platform Rust supports.
    Some(ticks * 10.0)
}

/// Reads every image once to warm up, then `repeats` times, timing each stage.
pub fn measure_mrz(reader: &MrzReader, images: &[RgbImage], repeats: usize) -> anyhow::Result<MrzBench> {
    let today = CalendarDate::today_utc();
    for image in images {
        reader.read_at(image, today)?;
    }
    let (mut read, mut detect, mut recognize, mut interpret, mut band) = (vec![], vec![], vec![], vec![], vec![]);
    let mut second = 0;
    let cpu_start = process_cpu_ms();
    for _ in 0..repeats.max(1) {
        for image in images {
            let reading = reader.read_at(image, today)?;
            read.push(reading.timings.total_ms);
            detect.push(reading.timings.detect_ms);
            recognize.push(reading.timings.recognize_ms);
            interpret.push(reading.timings.interpret_ms);
            second += usize::from(reading.attempt > 1);
        }
    }
    let cpu_end = process_cpu_ms();
    let reads = read.len();
    for image in images {
        let t = Instant::now();
        detect_mrz_band(reader.engine(), image)?;
        band.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    Ok(MrzBench {
        images: images.len(),
        reads,
        read: Spread::of(read),
        detect: Spread::of(detect),
        recognize: Spread::of(recognize),
        interpret: Spread::of(interpret),
        band_check: Spread::of(band),
        cpu_per_read_ms: cpu_start.zip(cpu_end).map(|(a, b)| (b - a) / reads.max(1) as f64),
        second_attempts: second,
    })
}

/// The command's report: model load time plus [`MrzBench`].
#[derive(Debug, Serialize)]
pub struct BenchMrzReport {
    /// Loading both OCR models, milliseconds.
    pub load_ms: f64,
    /// CPUs available to this process.
    pub cpus: usize,
    #[serde(flatten)]
    pub bench: MrzBench,
}

fn collect_images(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for path in paths {
        if path.is_dir() {
            out.extend(crate::faces::list_images(path)?);
        } else {
            out.push(path.clone());
        }
    }
    anyhow::ensure!(!out.is_empty(), "no images given");
    Ok(out)
}

pub fn run(args: &BenchMrzArgs, ctx: &Context) -> anyhow::Result<()> {
    let images: Vec<RgbImage> =
        collect_images(&args.images)?.iter().map(|p| load_rgb(p)).collect::<anyhow::Result<_>>()?;
    let t = Instant::now();
    let reader = load_reader(ctx)?;
    let load_ms = t.elapsed().as_secs_f64() * 1000.0;
    let bench = measure_mrz(&reader, &images, args.repeat)?;
    let report = BenchMrzReport { load_ms, cpus: std::thread::available_parallelism().map_or(1, usize::from), bench };
    emit(ctx.json, &report, |r| {
        let b = &r.bench;
        let line = |name: &str, s: &Spread| {
            format!(
                "  {name:<11} median {:>6.0} ms   p90 {:>6.0} ms   max {:>6.0} ms\n",
                s.median_ms, s.p90_ms, s.max_ms
            )
        };
        let mut out = format!(
            "MRZ: {} images × {} reads, {} CPUs, models loaded in {:.0} ms\n",
            b.images,
            b.reads / b.images.max(1),
            r.cpus,
            r.load_ms
        );
        out += &line("read", &b.read);
        out += &line("detect", &b.detect);
        out += &line("recognise", &b.recognize);
        out += &line("interpret", &b.interpret);
        out += &line("band check", &b.band_check);
        if let Some(cpu) = b.cpu_per_read_ms {
            out += &format!("  CPU time per read {cpu:.0} ms (all threads)\n");
        }
        out += &format!("  second attempts {}/{}", b.second_attempts, b.reads);
        out
    })
}
