//! `veriframe-eval faces DIR`: every genuine and impostor pair of a labelled photo set.
//!
//! Files are `<person>_<n>.<ext>` (n a number) or `<person>_<neutral|smiling>.<ext>`; the
//! person is everything before the last underscore. Files named otherwise are listed as
//! skipped. With `--documents CARDS`, each `<person>_card.<ext>` in CARDS is compared against
//! every photo in DIR instead (document-vs-selfie).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::Args;
use serde::Serialize;
use veriframe_vision::face::{Embedding, MatchKind};

use veriframe::cli::Context;
use veriframe::commands::face::{DetectorArg, load_engine, read_image};
use veriframe::output::emit;

#[derive(Debug, Args)]
pub struct EvalFacesArgs {
    /// Directory of `<person>_<n>.jpg` (or `<person>_<neutral|smiling>.jpg`) photos.
    pub dir: PathBuf,
    /// Directory of `<person>_card.jpg` document images to compare against DIR's photos.
    #[arg(long)]
    pub documents: Option<PathBuf>,
    /// Distance threshold to count errors at (default: the policy's for the comparison kind).
    #[arg(long)]
    pub threshold: Option<f32>,
    #[arg(long, value_enum, default_value = "256")]
    pub detector: DetectorArg,
    /// `CARD:PHOTO` — the document CARD was made from PHOTO, so that pair is not a fair genuine
    /// comparison and is left out (repeatable).
    #[arg(long = "source", value_name = "CARD:PHOTO")]
    pub sources: Vec<String>,
    /// How many closest impostor and farthest genuine pairs to list.
    #[arg(long, default_value_t = 5)]
    pub show: usize,
}

#[derive(Debug, Clone, Serialize)]
struct Pair {
    a: String,
    b: String,
    distance: f32,
}

#[derive(Debug, Serialize)]
struct Range {
    count: usize,
    min: f32,
    max: f32,
    mean: f32,
}

impl Range {
    fn of(pairs: &[Pair]) -> Option<Range> {
        let d: Vec<f32> = pairs.iter().map(|p| p.distance).collect();
        if d.is_empty() {
            return None;
        }
        Some(Range {
            count: d.len(),
            min: d.iter().copied().fold(f32::INFINITY, f32::min),
            max: d.iter().copied().fold(f32::NEG_INFINITY, f32::max),
            mean: d.iter().sum::<f32>() / d.len() as f32,
        })
    }
}

#[derive(Debug, Serialize)]
struct SweepPoint {
    threshold: f32,
    false_non_matches: usize,
    false_matches: usize,
}

#[derive(Debug, Serialize)]
struct EvalReport {
    dir: PathBuf,
    documents: Option<PathBuf>,
    kind: MatchKind,
    detector: DetectorArg,
    images: usize,
    people: usize,
    skipped: Vec<String>,
    no_face: Vec<String>,
    genuine: Option<Range>,
    impostor: Option<Range>,
    threshold: f32,
    /// Genuine pairs at or above the threshold.
    false_non_matches: usize,
    /// Impostor pairs below the threshold.
    false_matches: usize,
    fnmr: f64,
    fmr: f64,
    /// Threshold minimising total errors on this set (midpoint of the gap when separable).
    best_threshold: Option<f32>,
    /// Errors at a range of thresholds.
    sweep: Vec<SweepPoint>,
    /// Pairs left out because of `--source`.
    excluded_pairs: Vec<String>,
    farthest_genuine: Vec<Pair>,
    closest_impostor: Vec<Pair>,
}

fn person_of(path: &Path, documents: bool) -> Option<String> {
    let stem = path.file_stem()?.to_str()?;
    let (person, tag) = stem.rsplit_once('_')?;
    let ok = if documents {
        tag == "card"
    } else {
        tag == "neutral" || tag == "smiling" || (!tag.is_empty() && tag.chars().all(|c| c.is_ascii_digit()))
    };
    (ok && !person.is_empty()).then(|| person.to_owned())
}

pub(crate) fn list_images(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "jpg" | "jpeg" | "png" | "webp"))
        })
        .collect();
    files.sort();
    Ok(files)
}

fn name(p: &Path) -> String {
    p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

struct Embedded {
    name: String,
    person: String,
    embedding: Embedding,
}

fn embed_dir(
    engine: &veriframe_vision::face::FaceEngine,
    dir: &Path,
    documents: bool,
    detector: DetectorArg,
    skipped: &mut Vec<String>,
    no_face: &mut Vec<String>,
) -> anyhow::Result<Vec<Embedded>> {
    let mut out = Vec::new();
    for path in list_images(dir)? {
        let Some(person) = person_of(&path, documents) else {
            skipped.push(name(&path));
            continue;
        };
        let img = read_image(&path)?;
        match detector.analyze(engine, &img)?.primary {
            Some(face) => out.push(Embedded { name: name(&path), person, embedding: face.embedding }),
            None => no_face.push(name(&path)),
        }
    }
    Ok(out)
}

pub fn run(args: &EvalFacesArgs, ctx: &Context) -> anyhow::Result<()> {
    let engine = load_engine(ctx)?;
    let detector = args.detector;
    let kind = if args.documents.is_some() { MatchKind::Document } else { MatchKind::Selfie };
    let mut skipped = Vec::new();
    let mut no_face = Vec::new();
    let photos = embed_dir(&engine, &args.dir, false, detector, &mut skipped, &mut no_face)?;
    let mut genuine = Vec::new();
    let mut impostor = Vec::new();
    let mut excluded_pairs = Vec::new();
    let mut push = |a: &Embedded, b: &Embedded| {
        if args.sources.iter().any(|s| *s == format!("{}:{}", a.name, b.name)) {
            excluded_pairs.push(format!("{}:{}", a.name, b.name));
            return;
        }
        let pair = Pair { a: a.name.clone(), b: b.name.clone(), distance: a.embedding.distance(&b.embedding) };
        if a.person == b.person {
            genuine.push(pair);
        } else {
            impostor.push(pair);
        }
    };
    let mut images = photos.len();
    let mut people: BTreeMap<&str, usize> = BTreeMap::new();
    for p in &photos {
        *people.entry(&p.person).or_default() += 1;
    }
    let cards;
    if let Some(doc_dir) = &args.documents {
        cards = embed_dir(&engine, doc_dir, true, detector, &mut skipped, &mut no_face)?;
        images += cards.len();
        for card in &cards {
            for photo in &photos {
                push(card, photo);
            }
        }
    } else {
        for (i, a) in photos.iter().enumerate() {
            for b in &photos[i + 1..] {
                push(a, b);
            }
        }
    }
    let threshold = args.threshold.unwrap_or_else(|| engine.policy().threshold(kind));
    let false_non_matches = genuine.iter().filter(|p| p.distance >= threshold).count();
    let false_matches = impostor.iter().filter(|p| p.distance < threshold).count();
    let best_threshold = best_threshold(&genuine, &impostor);
    let sweep = (0..=10)
        .map(|i| {
            let t = 0.40 + 0.025 * i as f32;
            SweepPoint {
                threshold: t,
                false_non_matches: genuine.iter().filter(|p| p.distance >= t).count(),
                false_matches: impostor.iter().filter(|p| p.distance < t).count(),
            }
        })
        .collect();
    genuine.sort_by(|a, b| b.distance.total_cmp(&a.distance));
    impostor.sort_by(|a, b| a.distance.total_cmp(&b.distance));
    let rate = |n: usize, d: usize| if d == 0 { 0.0 } else { n as f64 / d as f64 };
    let report = EvalReport {
        dir: args.dir.clone(),
        documents: args.documents.clone(),
        kind,
        detector,
        images,
        people: people.len(),
        skipped,
        no_face,
        genuine: Range::of(&genuine),
        impostor: Range::of(&impostor),
        threshold,
        false_non_matches,
        false_matches,
        fnmr: rate(false_non_matches, genuine.len()),
        fmr: rate(false_matches, impostor.len()),
        best_threshold,
        sweep,
        excluded_pairs,
        farthest_genuine: genuine.iter().take(args.show).cloned().collect(),
        closest_impostor: impostor.iter().take(args.show).cloned().collect(),
    };
    emit(ctx.json, &report, human)
}

/// Threshold with the fewest errors; ties resolved towards the middle of the widest gap.
fn best_threshold(genuine: &[Pair], impostor: &[Pair]) -> Option<f32> {
    let mut all: Vec<(f32, bool)> =
        genuine.iter().map(|p| (p.distance, true)).chain(impostor.iter().map(|p| (p.distance, false))).collect();
    if genuine.is_empty() || impostor.is_empty() {
        return None;
    }
    all.sort_by(|a, b| a.0.total_cmp(&b.0));
    // Candidate thresholds sit midway between consecutive distances.
    let mut best: Option<(usize, f32, f32)> = None; // (errors, gap, threshold)
    let mut genuine_below = 0usize;
    let mut impostor_below = 0usize;
    for w in 0..all.len() {
        if all[w].1 {
            genuine_below += 1;
        } else {
            impostor_below += 1;
        }
        let Some(next) = all.get(w + 1) else { break };
        let t = (all[w].0 + next.0) / 2.0;
        let gap = next.0 - all[w].0;
        let errors = (genuine.len() - genuine_below) + impostor_below;
        let better = match best {
            None => true,
            Some((e, g, _)) => errors < e || (errors == e && gap > g),
        };
        if better {
            best = Some((errors, gap, t));
        }
    }
    best.map(|(_, _, t)| t)
}

fn human(r: &EvalReport) -> String {
    let range = |r: &Option<Range>| match r {
        Some(r) => format!("{} pairs, {:.3}–{:.3} (mean {:.3})", r.count, r.min, r.max, r.mean),
        None => "none".to_owned(),
    };
    let mut t = format!("{} images of {} people ({:?}, detector {:?})\n", r.images, r.people, r.kind, r.detector);
    if !r.skipped.is_empty() {
        t.push_str(&format!("skipped (name not <person>_<n>): {}\n", r.skipped.join(", ")));
    }
    if !r.no_face.is_empty() {
        t.push_str(&format!("no face found: {}\n", r.no_face.join(", ")));
    }
    t.push_str(&format!("genuine:  {}\n", range(&r.genuine)));
    t.push_str(&format!("impostor: {}\n", range(&r.impostor)));
    t.push_str(&format!(
        "at threshold {:.3}: {} false non-matches (FNMR {:.2} %), {} false matches (FMR {:.3} %)\n",
        r.threshold,
        r.false_non_matches,
        r.fnmr * 100.0,
        r.false_matches,
        r.fmr * 100.0
    ));
    if !r.excluded_pairs.is_empty() {
        t.push_str(&format!("left out (document made from the photo): {}\n", r.excluded_pairs.join(", ")));
    }
    t.push_str("threshold  false non-matches  false matches\n");
    for p in &r.sweep {
        t.push_str(&format!("  {:.3}    {:>6}             {:>6}\n", p.threshold, p.false_non_matches, p.false_matches));
    }
    if let Some(b) = r.best_threshold {
        t.push_str(&format!("fewest errors on this set at threshold {b:.3}\n"));
    }
    for p in &r.farthest_genuine {
        t.push_str(&format!("  genuine  {:.3}  {} / {}\n", p.distance, p.a, p.b));
    }
    for p in &r.closest_impostor {
        t.push_str(&format!("  impostor {:.3}  {} / {}\n", p.distance, p.a, p.b));
    }
    t.trim_end().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn person_names() {
        assert_eq!(person_of(Path::new("obama_3.jpg"), false).as_deref(), Some("obama"));
        assert_eq!(person_of(Path::new("001_smiling.jpg"), false).as_deref(), Some("001"));
        assert_eq!(person_of(Path::new("van_der_berg_12.png"), false).as_deref(), Some("van_der_berg"));
        assert_eq!(person_of(Path::new("obama_partial.jpg"), false), None);
        assert_eq!(person_of(Path::new("two_people.jpg"), false), None);
        assert_eq!(person_of(Path::new("biden_card.jpg"), true).as_deref(), Some("biden"));
    }

    #[test]
    fn best_threshold_splits_the_gap() {
        let p = |d: f32| Pair { a: String::new(), b: String::new(), distance: d };
        let t = best_threshold(&[p(0.3), p(0.4)], &[p(0.7), p(0.8)]).unwrap();
        assert!((t - 0.55).abs() < 1e-6);
        // One overlap: fewest errors is 1.
        let t = best_threshold(&[p(0.3), p(0.65)], &[p(0.6), p(0.8)]).unwrap();
        assert!(t > 0.3 && t < 0.8);
    }
}
