//! From the engine's types to the domain's. The split matters: measurements and outcomes go to
//! the findings (database), names and numbers to `DocumentData` (encrypted blob).

use veriframe_core::verification::{
    CheckDigitFindings, Date, DocumentClass, DocumentData, DocumentFindings, ImageQuality, MatchFindings,
};
use veriframe_vision::document::DocumentQuality;
use veriframe_vision::face::FaceMatch;
use veriframe_vision::mrz::MrzReading;
use veriframe_vision::mrz::fields::{CalendarDate, MrzFormat, MrzZone};
use veriframe_vision::mrz::layout::{CheckedKind, checked_fields};

pub fn format_name(format: MrzFormat) -> &'static str {
    match format {
        MrzFormat::Td3 => "TD3",
        MrzFormat::Td2 => "TD2",
        MrzFormat::Td1 => "TD1",
        MrzFormat::MrvA => "MRVA",
        MrzFormat::MrvB => "MRVB",
    }
}

/// The document family an MRZ format implies.
pub fn document_class(format: MrzFormat) -> DocumentClass {
    match format {
        MrzFormat::Td3 => DocumentClass::Passport,
        MrzFormat::Td2 => DocumentClass::TravelDocument,
        MrzFormat::Td1 => DocumentClass::IdentityCard,
        MrzFormat::MrvA | MrzFormat::MrvB => DocumentClass::Visa,
    }
}

pub fn image_quality(q: &DocumentQuality) -> ImageQuality {
    // The engine's sharpness is ~1/σ of an edge blur; shown to integrators on a 0–100 scale
    // where the blur threshold sits at 30.
    ImageQuality {
        sharpness: (q.sharpness * 100.0).clamp(0.0, 100.0),
        glare: q.glare_fraction.clamp(0.0, 1.0),
        sharp_enough: !q.blurry,
        glare_ok: !q.glare,
    }
}

fn date(d: Option<CalendarDate>) -> Option<Date> {
    d.map(|d| Date { year: d.year, month: u8::try_from(d.month).unwrap_or(0), day: u8::try_from(d.day).unwrap_or(0) })
}

/// The check digits as printed, in the format's positions.
fn printed_check_digits(zone: &MrzZone) -> [Option<String>; 3] {
    let mut out = [None, None, None];
    let mut dates = 0;
    for field in checked_fields(zone.format) {
        let slot = match field.kind {
            CheckedKind::DocumentNumber => 0,
            CheckedKind::Date => {
                dates += 1;
                dates
            }
            CheckedKind::PersonalNumber => continue,
        };
        if slot < 3 {
            out[slot] = zone.lines.get(field.line).and_then(|l| l.chars().nth(field.check)).map(String::from);
        }
    }
    out
}

/// What the document read establishes, on `today`.
pub fn document_findings(
    reading: Option<&MrzReading>,
    portrait_found: bool,
    front: Option<&DocumentQuality>,
    back: Option<&DocumentQuality>,
    fallback_class: Option<DocumentClass>,
    today: CalendarDate,
) -> (DocumentFindings, Option<DocumentData>) {
    let zone = reading.and_then(|r| r.zone.as_ref());
    let mut findings = DocumentFindings {
        document_class: zone.map(|z| document_class(z.format)).or(fallback_class),
        mrz_found: reading.is_some_and(|r| !r.raw_lines.is_empty()),
        portrait_found,
        front_quality: front.map(image_quality),
        back_quality: back.map(image_quality),
        ..DocumentFindings::default()
    };
    let Some(zone) = zone else {
        return (findings, None);
    };
    let checks = zone.score_checks(today);
    let dates = zone.assess_dates(today);
    findings.mrz_found = true;
    findings.mrz_format = Some(format_name(zone.format).to_owned());
    findings.mrz_line_format_ok = checks.mrz_line_format_check;
    findings.mrz_parsable = checks.mrz_parsable_check;
    findings.check_digits = CheckDigitFindings {
        document_number: checks.document_number_check_digit,
        birth_date: checks.birth_date_check_digit,
        expiry_date: checks.expiration_date_check_digit,
        personal_number: zone.check_digits.personal_number,
        composite: checks.composite_check_digit,
    };
    findings.document_expired = checks.document_expired;
    findings.birth_date_valid = checks.birth_date_validity;
    findings.expiry_date_valid = checks.expiration_date_validity;
    findings.age_years = dates.age_years;
    findings.ocr_confidence = Some(zone.confidence);
    findings.repairs = u32::try_from(zone.repairs.len()).unwrap_or(u32::MAX);
    let f = &zone.fields;
    let [document_number_check_digit, birth_date_check_digit, expiry_date_check_digit] = printed_check_digits(zone);
    let data = DocumentData {
        document_code: f.document_type.clone(),
        issuing_country: f.issuing_country.clone(),
        surname: f.surname.clone(),
        given_names: f.given_names.clone(),
        document_number: f.document_number.clone(),
        nationality: f.nationality.clone(),
        birth_date: date(f.birth_date.date),
        sex: f.sex.clone(),
        expiry_date: date(f.expiry_date.date),
        personal_number: f.personal_number.clone(),
        optional_data: f.optional_data.clone(),
        mrz_lines: zone.lines.clone(),
        document_number_check_digit,
        birth_date_check_digit,
        expiry_date_check_digit,
        confidence: zone.confidence,
    };
    (findings, Some(data))
}

pub fn match_findings(m: &FaceMatch) -> MatchFindings {
    MatchFindings { distance: m.distance, similarity: m.similarity, threshold: m.threshold, is_match: m.is_match }
}
