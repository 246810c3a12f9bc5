//! `veriframe-eval pad`: passive presentation-attack detection (MiniFASNet V2 + V1SE) on the
//! attack and bona fide photos of the test data, as ISO/IEC 30107-3 error rates: APCER (attacks
//! taken for live) and BPCER (live faces taken for attacks).

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use veriframe_vision::face::engine::largest;
use veriframe_vision::face::{DetectorKind, FaceEngine};

use crate::setup;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The MiniFASNet models (the test-only copies by default).
    #[arg(long)]
    pad: Option<PathBuf>,
}

/// One scored photo.
struct Scored {
    name: String,
    live_score: f32,
    is_live: bool,
}

fn score_all(engine: &FaceEngine, paths: &[PathBuf]) -> anyhow::Result<Vec<Scored>> {
    let mut out = Vec::new();
    for path in paths {
        let image = setup::read_image(path)?;
        let faces = engine.detect(&image, DetectorKind::Full256)?;
        let Some(face) = largest(&faces) else {
            eprintln!("{}: no face, skipped", path.display());
            continue;
        };
        let result = engine.passive_pad(&image, face)?.context("passive PAD is not loaded")?;
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("?").to_owned();
        out.push(Scored { name, live_score: result.live_score, is_live: result.is_live });
    }
    Ok(out)
}

fn files(dir: &Path, keep: impl Fn(&str) -> bool) -> anyhow::Result<Vec<PathBuf>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(&keep))
        .collect();
    paths.sort();
    Ok(paths)
}

pub fn run(args: &Args) -> anyhow::Result<()> {
    let data = setup::testdata();
    let pad = args.pad.clone().unwrap_or_else(|| data.join("models-test-only"));
    let engine = setup::engine(Some(&pad))?;
    let attacks = files(&data.join("spoof"), |n| n.contains("_F"))?;
    let mut bona_fide = files(&data.join("spoof"), |n| n.contains("_T"))?;
    let single_face = |n: &str| n.ends_with(".jpg") && !n.starts_with("two_people") && !n.contains("partial");
    bona_fide.extend(files(&data.join("faces"), single_face)?);
    bona_fide.extend(files(&data.join("faces-london"), |n| n.ends_with("_neutral.jpg"))?);
    let attacks = score_all(&engine, &attacks)?;
    let bona_fide = score_all(&engine, &bona_fide)?;
    let accepted = attacks.iter().filter(|s| s.is_live).count();
    let rejected: Vec<&Scored> = bona_fide.iter().filter(|s| !s.is_live).collect();
    println!("passive PAD (MiniFASNet V2 + V1SE, live when the live class wins the averaged softmax)");
    for s in &attacks {
        println!("  attack     {:<32} live {:.3} → {}", s.name, s.live_score, if s.is_live { "LIVE" } else { "spoof" });
    }
    println!(
        "APCER {:.1} % ({accepted} of {} attack presentations taken for live)",
        100.0 * accepted as f64 / attacks.len().max(1) as f64,
        attacks.len()
    );
    println!(
        "BPCER {:.1} % ({} of {} bona fide photos taken for attacks: testdata spoof/*_T*, faces/, faces-london/*_neutral)",
        100.0 * rejected.len() as f64 / bona_fide.len().max(1) as f64,
        rejected.len(),
        bona_fide.len()
    );
    for s in rejected {
        println!("  rejected   {:<32} live {:.3}", s.name, s.live_score);
    }
    Ok(())
}
