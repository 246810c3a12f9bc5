//! `veriframe-eval mrz DIR`: reads every document of a labelled set and scores the result.
//!
//! The truth file (`DIR/ground_truth.json` unless `--truth` says otherwise) is a JSON array
//! of `{"file": ..., "lines": [...]}` (or `"l1"`, `"l2"`, `"l3"`) entries; `"lines": null`
//! marks a document whose zone is unreadable to a person and counts only towards "read".
//! Images in DIR without an entry are read and reported but not scored.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use serde::{Deserialize, Serialize};
use veriframe_vision::document::{QualityThresholds, assess_document};
use veriframe_vision::mrz::CalendarDate;

use veriframe::cli::Context as CliContext;
use veriframe::commands::image_input::load_rgb;
use veriframe::commands::mrz::{load_reader, parse_day};
use veriframe::output::emit;

/// Arguments of `veriframe-eval mrz`.
#[derive(Debug, Args)]
pub struct EvalMrzArgs {
    /// Directory of document images.
    pub dir: PathBuf,
    /// Truth file (default `DIR/ground_truth.json`; without one, documents are only read).
    #[arg(long)]
    pub truth: Option<PathBuf>,
    /// Resolve two-digit years as of this day (YYYY-MM-DD).
    #[arg(long, value_parser = parse_day)]
    pub today: Option<CalendarDate>,
    /// Blur every image with a Gaussian of this sigma (pixels) before reading, to measure
    /// how reading and the sharpness score degrade together.
    #[arg(long, default_value_t = 0.0)]
    pub blur: f32,
}

/// One truth entry.
#[derive(Debug, Deserialize)]
struct TruthEntry {
    file: String,
    #[serde(default)]
    lines: Option<Vec<String>>,
    #[serde(default)]
    l1: Option<String>,
    #[serde(default)]
    l2: Option<String>,
    #[serde(default)]
    l3: Option<String>,
}

impl TruthEntry {
    fn lines(&self) -> Option<Vec<String>> {
        self.lines.clone().or_else(|| {
            let v: Vec<String> = [&self.l1, &self.l2, &self.l3].into_iter().flatten().cloned().collect();
            (!v.is_empty()).then_some(v)
        })
    }
}

/// Result for one image.
#[derive(Debug, Serialize)]
pub struct FileResult {
    /// File name.
    pub file: String,
    /// Expected lines, when labelled.
    pub truth: Option<Vec<String>>,
    /// Zone lines read (empty when nothing parsed).
    pub lines: Vec<String>,
    /// Per expected line: read exactly.
    pub exact: Vec<bool>,
    /// Character errors (edit distance) per expected line.
    pub char_errors: Vec<usize>,
    /// A zone was parsed.
    pub parsed: bool,
    /// Every printed check digit agrees.
    pub valid: bool,
    /// Time to read, milliseconds.
    pub read_ms: f64,
    /// Document sharpness score of the image read (see `veriframe mrz`).
    pub sharpness: f32,
    /// The sharpness score is below the "blurry" threshold.
    pub blurry: bool,
    /// Why the image could not be read, if it could not.
    pub error: Option<String>,
}

/// Totals over the set.
#[derive(Debug, Serialize)]
pub struct Summary {
    /// Images read.
    pub documents: usize,
    /// Images with a parsed zone.
    pub documents_parsed: usize,
    /// Images whose zone has every check digit valid.
    pub documents_valid: usize,
    /// Labelled images (with readable truth lines).
    pub labelled: usize,
    /// Labelled images with every line exact.
    pub documents_exact: usize,
    /// Labelled lines.
    pub lines: usize,
    /// Labelled lines read exactly.
    pub lines_exact: usize,
    /// Character error rate over labelled lines (edit distance / truth characters).
    pub cer: f64,
    /// Median read time, milliseconds.
    pub median_ms: f64,
    /// 90th percentile read time, milliseconds.
    pub p90_ms: f64,
    /// Slowest read, milliseconds.
    pub max_ms: f64,
    /// Images whose sharpness score says "blurry".
    pub blurry: usize,
    /// Median sharpness score.
    pub median_sharpness: f32,
}

/// The whole evaluation.
#[derive(Debug, Serialize)]
pub struct EvalReport {
    /// The directory evaluated.
    pub dir: PathBuf,
    /// Per image.
    pub files: Vec<FileResult>,
    /// Totals.
    pub summary: Summary,
}

/// Levenshtein distance between two strings (characters).
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != cb)).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

fn is_image(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "jpg" | "jpeg" | "png" | "webp"))
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let idx = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

pub fn run(args: &EvalMrzArgs, ctx: &CliContext) -> anyhow::Result<()> {
    let report = evaluate(args, ctx)?;
    emit(ctx.json, &report, human)
}

/// Reads and scores every image of the set.
pub fn evaluate(args: &EvalMrzArgs, ctx: &CliContext) -> anyhow::Result<EvalReport> {
    let truth_path = args.truth.clone().unwrap_or_else(|| args.dir.join("ground_truth.json"));
    let truth: BTreeMap<String, Option<Vec<String>>> = if truth_path.exists() {
        let entries: Vec<TruthEntry> = serde_json::from_slice(
            &std::fs::read(&truth_path).with_context(|| format!("cannot read {}", truth_path.display()))?,
        )
        .with_context(|| format!("{} is not a truth file", truth_path.display()))?;
        entries.into_iter().map(|e| (e.file.clone(), e.lines())).collect()
    } else if args.truth.is_some() {
        anyhow::bail!("truth file {} does not exist", truth_path.display());
    } else {
        BTreeMap::new()
    };
    let mut images: Vec<PathBuf> = std::fs::read_dir(&args.dir)
        .with_context(|| format!("cannot list {}", args.dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| is_image(p))
        .collect();
    images.sort();
    // With a truth file, only its documents (line crops and extras are not documents).
    if !truth.is_empty() {
        images.retain(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| truth.contains_key(n)));
    }
    anyhow::ensure!(!images.is_empty(), "no images to evaluate in {}", args.dir.display());
    let reader = load_reader(ctx)?;
    let today = args.today.unwrap_or_else(CalendarDate::today_utc);
    let mut files = Vec::new();
    for path in &images {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
        let expected = truth.get(&name).cloned().flatten();
        let mut result = FileResult {
            file: name,
            truth: expected.clone(),
            lines: Vec::new(),
            exact: Vec::new(),
            char_errors: Vec::new(),
            parsed: false,
            valid: false,
            read_ms: 0.0,
            sharpness: 0.0,
            blurry: false,
            error: None,
        };
        let loaded =
            load_rgb(path).map(|img| if args.blur > 0.0 { image::imageops::blur(&img, args.blur) } else { img });
        let read = loaded.and_then(|img| {
            let quality = assess_document(&img, &QualityThresholds::default());
            result.sharpness = quality.sharpness;
            result.blurry = quality.blurry;
            Ok(reader.read_at(&img, today)?)
        });
        match read {
            Ok(reading) => {
                result.read_ms = reading.timings.total_ms;
                if let Some(zone) = &reading.zone {
                    result.lines = zone.lines.clone();
                    result.parsed = true;
                    result.valid = zone.check_digits.all_valid();
                }
            }
            Err(e) => result.error = Some(format!("{e:#}")),
        }
        if let Some(expected) = &expected {
            for (i, want) in expected.iter().enumerate() {
                let got = result.lines.get(i).map_or("", String::as_str);
                result.exact.push(got == want);
                result.char_errors.push(edit_distance(got, want));
            }
        }
        files.push(result);
    }
    let labelled: Vec<&FileResult> = files.iter().filter(|f| f.truth.is_some()).collect();
    let truth_chars: usize = labelled.iter().flat_map(|f| f.truth.iter().flatten()).map(|l| l.chars().count()).sum();
    let errors: usize = labelled.iter().flat_map(|f| &f.char_errors).sum();
    let mut times: Vec<f64> = files.iter().filter(|f| f.error.is_none()).map(|f| f.read_ms).collect();
    times.sort_by(f64::total_cmp);
    let summary = Summary {
        documents: files.len(),
        documents_parsed: files.iter().filter(|f| f.parsed).count(),
        documents_valid: files.iter().filter(|f| f.valid).count(),
        labelled: labelled.len(),
        documents_exact: labelled.iter().filter(|f| !f.exact.is_empty() && f.exact.iter().all(|e| *e)).count(),
        lines: labelled.iter().map(|f| f.exact.len()).sum(),
        lines_exact: labelled.iter().flat_map(|f| &f.exact).filter(|e| **e).count(),
        cer: if truth_chars == 0 { 0.0 } else { errors as f64 / truth_chars as f64 },
        median_ms: percentile(&times, 0.5),
        p90_ms: percentile(&times, 0.9),
        max_ms: times.last().copied().unwrap_or(0.0),
        blurry: files.iter().filter(|f| f.blurry).count(),
        median_sharpness: {
            let mut s: Vec<f32> = files.iter().map(|f| f.sharpness).collect();
            s.sort_by(f32::total_cmp);
            s.get(s.len() / 2).copied().unwrap_or(0.0)
        },
    };
    Ok(EvalReport { dir: args.dir.clone(), files, summary })
}

fn human(report: &EvalReport) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    for f in &report.files {
        let status = match (&f.error, f.parsed, f.valid) {
            (Some(e), _, _) => format!("error: {e}"),
            (None, false, _) => "no zone".to_string(),
            (None, true, false) => "parsed, check digits fail".to_string(),
            (None, true, true) => "valid".to_string(),
        };
        let exact = if f.exact.is_empty() {
            String::new()
        } else {
            format!(
                "  exact {}/{} (char errors {})",
                f.exact.iter().filter(|e| **e).count(),
                f.exact.len(),
                f.char_errors.iter().sum::<usize>()
            )
        };
        let _ =
            writeln!(out, "{:<28} {:<28}{exact}  sharpness {:.2}  {:.0} ms", f.file, status, f.sharpness, f.read_ms);
    }
    let s = &report.summary;
    let _ = writeln!(
        out,
        "documents {}: parsed {}, all check digits valid {}",
        s.documents, s.documents_parsed, s.documents_valid
    );
    if s.labelled > 0 {
        let _ = writeln!(
            out,
            "labelled {}: documents exact {}, lines exact {}/{}, character error rate {:.2} %",
            s.labelled,
            s.documents_exact,
            s.lines_exact,
            s.lines,
            s.cer * 100.0
        );
    }
    let _ = write!(out, "read time: median {:.0} ms, p90 {:.0} ms, max {:.0} ms", s.median_ms, s.p90_ms, s.max_ms);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_counts_insertions_deletions_and_substitutions() {
        assert_eq!(edit_distance("", ""), 0);
        assert_eq!(edit_distance("P<UTO", "P<UTO"), 0);
        assert_eq!(edit_distance("P<UT0", "P<UTO"), 1);
        assert_eq!(edit_distance("P<<<", "P<<<<<"), 2);
        assert_eq!(edit_distance("", "ABC"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn truth_entries_accept_both_shapes() {
        let json = r#"[{"file":"a.png","l1":"X","l2":"Y"},{"file":"b.png","lines":["A","B","C"]},{"file":"c.png","lines":null}]"#;
        let entries: Vec<TruthEntry> = serde_json::from_str(json).unwrap();
        assert_eq!(entries[0].lines(), Some(vec!["X".to_string(), "Y".to_string()]));
        assert_eq!(entries[1].lines().map(|l| l.len()), Some(3));
        assert_eq!(entries[2].lines(), None);
    }
}
