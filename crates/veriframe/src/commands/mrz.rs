//! `veriframe mrz IMAGE`: read a document's machine-readable zone.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use serde::Serialize;
use veriframe_vision::document::{DocumentQuality, QualityThresholds, assess_document};
use veriframe_vision::mrz::{CalendarDate, DateAssessment, MrzReader, MrzReading, MrzScoreChecks, RepairReason};

use super::image_input::load_rgb;
use crate::cli::Context as CliContext;
use crate::output::emit;

/// Arguments of `veriframe mrz`.
#[derive(Debug, Args)]
pub struct MrzArgs {
    /// Document image (JPEG, PNG or WebP).
    pub image: PathBuf,
    /// Judge expiry and age as of this day (YYYY-MM-DD) instead of today.
    #[arg(long, value_parser = parse_day)]
    pub today: Option<CalendarDate>,
}

/// Parses `YYYY-MM-DD` for `--today`.
pub fn parse_day(s: &str) -> Result<CalendarDate, String> {
    s.parse()
}

/// Everything `veriframe mrz` reports.
#[derive(Debug, Serialize)]
pub struct MrzReport {
    /// The image read.
    pub file: PathBuf,
    /// Recognised lines, zone, check digits, repairs and timings.
    #[serde(flatten)]
    pub reading: MrzReading,
    /// Expiry and age as of `today`.
    pub dates: Option<DateAssessment>,
    /// Incode's MRZ score checks.
    pub score_checks: MrzScoreChecks,
    /// Sharpness and glare of the image.
    pub quality: DocumentQuality,
}

/// Loads the OCR models from the configured models directory.
pub fn load_reader(ctx: &CliContext) -> anyhow::Result<MrzReader> {
    let dir = ctx.config.models_dir();
    MrzReader::load(&dir)
        .with_context(|| format!("cannot load the OCR models from {} (run `veriframe models fetch`)", dir.display()))
}

pub fn run(args: &MrzArgs, ctx: &CliContext) -> anyhow::Result<()> {
    let reader = load_reader(ctx)?;
    let image = load_rgb(&args.image)?;
    let today = args.today.unwrap_or_else(CalendarDate::today_utc);
    let reading = reader.read_at(&image, today)?;
    let report = MrzReport {
        file: args.image.clone(),
        dates: reading.zone.as_ref().map(|z| z.assess_dates(today)),
        score_checks: reading.score_checks(today),
        quality: assess_document(&image, &QualityThresholds::default()),
        reading,
    };
    emit(ctx.json, &report, human)
}

fn yes_no(b: bool) -> &'static str {
    if b { "valid" } else { "INVALID" }
}

fn human(report: &MrzReport) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let r = &report.reading;
    let _ = writeln!(out, "{}: {:?} (attempt {})", report.file.display(), r.outcome, r.attempt);
    for line in &r.raw_lines {
        let _ = writeln!(out, "  read   {}  ({:.2})", line.text, line.confidence);
    }
    if let Some(zone) = &r.zone {
        let _ = writeln!(out, "  format {}", zone.format);
        for line in &zone.lines {
            let _ = writeln!(out, "  zone   {line}");
        }
        let f = &zone.fields;
        let _ = writeln!(out, "  document type     {}", f.document_type);
        let _ = writeln!(out, "  issuing country   {}", f.issuing_country);
        let _ = writeln!(out, "  surname           {}", f.surname);
        let _ = writeln!(out, "  given names       {}", f.given_names);
        let _ = writeln!(out, "  document number   {}", f.document_number);
        let _ = writeln!(out, "  nationality       {}", f.nationality);
        let date = |d: &veriframe_vision::mrz::MrzDate| {
            d.date.map_or_else(|| format!("{} (not a date)", d.raw), |d| d.to_string())
        };
        let _ = writeln!(out, "  birth date        {}", date(&f.birth_date));
        let _ = writeln!(out, "  sex               {}", f.sex);
        let _ = writeln!(out, "  expiry date       {}", date(&f.expiry_date));
        if let Some(p) = &f.personal_number {
            let _ = writeln!(out, "  personal number   {p}");
        }
        for (name, value) in [("optional data", &f.optional_data), ("optional data 2", &f.optional_data_2)] {
            if let Some(v) = value {
                let _ = writeln!(out, "  {name:<17} {v}");
            }
        }
        let c = &zone.check_digits;
        let _ = writeln!(
            out,
            "  check digits: document number {}, birth date {}, expiry {}",
            yes_no(c.document_number),
            yes_no(c.birth_date),
            yes_no(c.expiry_date)
        );
        if let Some(p) = c.personal_number {
            let _ = writeln!(out, "                personal number {}", yes_no(p));
        }
        if let Some(p) = c.composite {
            let _ = writeln!(out, "                composite {}", yes_no(p));
        }
        if zone.check_digits_as_read != Some(zone.check_digits) {
            let _ = writeln!(out, "  (check digits were satisfied only after repair)");
        }
        if zone.repairs.is_empty() {
            let _ = writeln!(out, "  repairs: none");
        } else {
            let _ = writeln!(out, "  repairs:");
            for rep in &zone.repairs {
                let show = |c: Option<char>| c.map_or("∅".to_string(), |c| c.to_string());
                let why = match rep.reason {
                    RepairReason::FillerRestored => "filler restored",
                    RepairReason::Removed => "extra character removed",
                    RepairReason::CharacterClass => "character class",
                    RepairReason::CheckDigit => "confirmed by check digit",
                    RepairReason::CountryCode => "country code",
                    RepairReason::FillerLookalike => "K read for a filler",
                    RepairReason::Crate => "mrz crate repair",
                    RepairReason::DocumentCode => "document code from format",
                    RepairReason::Unreadable => "UNREADABLE",
                };
                let _ = writeln!(
                    out,
                    "    line {} col {:>2}: {} -> {}  ({why})",
                    rep.line + 1,
                    rep.column + 1,
                    show(rep.from),
                    show(rep.to)
                );
            }
        }
        let _ = writeln!(out, "  confidence {:.2}", zone.confidence);
    }
    if let Some(d) = &report.dates {
        let _ = writeln!(
            out,
            "  as of {}: expired {:?}, age {:?}, birth date plausible {}, expiry plausible {}",
            d.today, d.expired, d.age_years, d.birth_date_valid, d.expiry_date_valid
        );
    }
    let q = &report.quality;
    let _ = writeln!(
        out,
        "  image: sharpness {:.2}{}, glare {:.3}{}",
        q.sharpness,
        if q.blurry { " (blurry)" } else { "" },
        q.glare_fraction,
        if q.glare { " (glare)" } else { "" }
    );
    let t = &r.timings;
    let _ = write!(
        out,
        "  time: detect {:.0} ms, recognise {:.0} ms, total {:.0} ms",
        t.detect_ms, t.recognize_ms, t.total_ms
    );
    out
}
