//! The decision policy: findings + flow thresholds → Incode-shaped scores with OK / WARN /
//! FAIL / UNKNOWN verdicts. Pure, so every rule is unit- and property-tested.
//!
//! Rules, in words:
//! - A check that could not run is `UNKNOWN`, never a guess. A section a flow requires but
//!   that never produced findings makes the overall verdict `UNKNOWN`.
//! - Any failed section fails the session; otherwise any warning warns; otherwise `OK`.
//! - Face match: the calibrated similarity (50 at the engine's distance threshold) against
//!   `faceMatchOk` (default 50) and `faceMatchWarn` (default 35).
//! - Liveness: every check of the verdict stored with the film must pass (the head turn: turned
//!   the asked way and back, the same person throughout and the selfie's; passive PAD on the
//!   film and the selfie when installed); the score then grows with how far past the required turn the head went
//!   (50 at exactly the required turn, 100 at twice it) and is capped by the passive
//!   anti-spoofing probability when that model is installed. `livenessOk` (default 50) and
//!   `livenessWarn` (default 30) apply to that score.
//! - Document: the MRZ must be found, well formed and parsable; every check digit it has must
//!   hold; the document must not be expired; dates must be valid; an optional minimum age.
//!   Sharpness and glare only warn.

use serde::{Deserialize, Serialize};

use crate::flow::{Modules, Thresholds};
use crate::text::CustomFields;
use crate::verification::{
    DocumentData, DocumentFindings, FaceFindings, ImageQuality, LivenessCheck, LivenessFindings,
};

/// A verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Verdict {
    Ok,
    Warn,
    Fail,
    Unknown,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Ok => "OK",
            Verdict::Warn => "WARN",
            Verdict::Fail => "FAIL",
            Verdict::Unknown => "UNKNOWN",
        }
    }

    fn of(ok: Option<bool>) -> Self {
        match ok {
            Some(true) => Verdict::Ok,
            Some(false) => Verdict::Fail,
            None => Verdict::Unknown,
        }
    }
}

/// Incode's `{value, status}` block; `value` is text even when numeric.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Block {
    pub value: String,
    pub verdict: Verdict,
}

impl Block {
    fn number(value: f32, verdict: Verdict) -> Self {
        Self { value: format!("{value:.1}"), verdict }
    }

    fn flag(ok: Option<bool>) -> Self {
        let value = match ok {
            Some(true) => "PASSED",
            Some(false) => "FAILED",
            None => "",
        };
        Self { value: value.into(), verdict: Verdict::of(ok) }
    }

    fn unknown() -> Self {
        Self { value: String::new(), verdict: Verdict::Unknown }
    }
}

/// A named check inside a section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    pub key: String,
    pub block: Block,
}

impl Check {
    fn new(key: &str, block: Block) -> Self {
        Self { key: key.into(), block }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IdValidation {
    pub photo_quality: Vec<Check>,
    pub id_specific: Vec<Check>,
    pub custom_fields: Vec<Check>,
    pub overall: Block,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Liveness {
    pub score: Block,
    pub photo_quality: Block,
    pub overall: Block,
    /// The checks that took part (passive PAD only when its models are installed).
    pub checks: Vec<LivenessCheck>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FaceRecognition {
    pub face_brightness: Option<Block>,
    pub overall: Block,
}

/// The scores of a session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Scores {
    pub id_validation: Option<IdValidation>,
    pub liveness: Option<Liveness>,
    pub face_recognition: Option<FaceRecognition>,
    pub ocr_confidence: Option<Block>,
    pub overall: Block,
    pub reason: String,
}

/// Thresholds with the calibrated defaults filled in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Effective {
    pub face_match_ok: f32,
    pub face_match_warn: f32,
    pub liveness_ok: f32,
    pub liveness_warn: f32,
    pub minimum_age: Option<u8>,
}

impl Effective {
    pub const FACE_MATCH_OK: f32 = 50.0;
    pub const FACE_MATCH_WARN: f32 = 35.0;
    pub const LIVENESS_OK: f32 = 50.0;
    pub const LIVENESS_WARN: f32 = 30.0;

    pub fn from(t: &Thresholds) -> Self {
        Self {
            face_match_ok: t.face_match_ok.unwrap_or(Self::FACE_MATCH_OK),
            face_match_warn: t.face_match_warn.unwrap_or(Self::FACE_MATCH_WARN),
            liveness_ok: t.liveness_ok.unwrap_or(Self::LIVENESS_OK),
            liveness_warn: t.liveness_warn.unwrap_or(Self::LIVENESS_WARN),
            minimum_age: t.minimum_age,
        }
    }
}

/// Everything the policy looks at.
#[derive(Debug, Clone, Copy)]
pub struct Inputs<'a> {
    pub modules: &'a Modules,
    pub thresholds: Effective,
    pub document: Option<&'a DocumentFindings>,
    pub document_data: Option<&'a DocumentData>,
    pub custom_fields: &'a CustomFields,
    pub face: Option<&'a FaceFindings>,
    pub liveness: Option<&'a LivenessFindings>,
}

/// The scores of one session from what is stored about it, under its flow's modules and
/// thresholds: what the finalize step saves and what a read before finalize computes live.
pub fn score_session(
    custom_fields: &CustomFields,
    flow: &crate::flow::Flow,
    results: &crate::verification::SessionResults,
    document_data: Option<&DocumentData>,
) -> Scores {
    score(&Inputs {
        modules: &flow.config.modules,
        thresholds: Effective::from(&flow.config.thresholds),
        document: results.document.as_ref(),
        document_data,
        custom_fields,
        face: results.face.as_ref(),
        liveness: results.liveness.as_ref(),
    })
}

/// Computes the scores.
pub fn score(inputs: &Inputs<'_>) -> Scores {
    let id_validation = inputs.document.map(|d| id_validation(d, inputs));
    let face_recognition = inputs.face.map(|f| face_recognition(f, &inputs.thresholds));
    let liveness = inputs.liveness.map(|l| liveness(l, inputs.face, &inputs.thresholds));
    let ocr_confidence = inputs.document.and_then(|d| d.ocr_confidence).map(|c| {
        let verdict = if c >= 0.8 { Verdict::Ok } else { Verdict::Warn };
        Block::number(c * 100.0, verdict)
    });

    let m = inputs.modules;
    let mut sections: Vec<(&str, Option<&Block>)> = Vec::new();
    if m.id_capture {
        sections.push(("ID verification", id_validation.as_ref().map(|s| &s.overall)));
    }
    if m.face_match {
        sections.push(("face recognition", face_recognition.as_ref().map(|s| &s.overall)));
    }
    if m.liveness {
        sections.push(("liveness", liveness.as_ref().map(|s| &s.overall)));
    }
    let verdict_of = |b: Option<&Block>| b.map_or(Verdict::Unknown, |b| b.verdict);
    let any = |v: Verdict| sections.iter().any(|(_, b)| verdict_of(*b) == v);
    let verdict = if any(Verdict::Fail) {
        Verdict::Fail
    } else if sections.is_empty() || any(Verdict::Unknown) {
        Verdict::Unknown
    } else if any(Verdict::Warn) {
        Verdict::Warn
    } else {
        Verdict::Ok
    };
    // The weakest section's value: a session is as trustworthy as its weakest check.
    let value = sections
        .iter()
        .filter_map(|(_, b)| b.and_then(|b| b.value.parse::<f32>().ok()))
        .fold(None, |acc: Option<f32>, v| Some(acc.map_or(v, |a| a.min(v))));
    let overall = match (verdict, value) {
        (Verdict::Unknown, _) | (_, None) => Block { value: String::new(), verdict },
        (v, Some(value)) => Block::number(value, v),
    };
    let reason = reason(verdict, &sections, verdict_of, inputs);
    Scores { id_validation, liveness, face_recognition, ocr_confidence, overall, reason }
}

fn names_of(sections: &[(&str, Option<&Block>)], pick: impl Fn(Option<&Block>) -> bool) -> Vec<String> {
    sections.iter().filter(|(_, b)| pick(*b)).map(|(n, _)| (*n).to_owned()).collect()
}

fn join(names: &[String]) -> String {
    match names {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

fn reason(
    verdict: Verdict,
    sections: &[(&str, Option<&Block>)],
    verdict_of: impl Fn(Option<&Block>) -> Verdict,
    inputs: &Inputs<'_>,
) -> String {
    match verdict {
        Verdict::Ok => format!("The session passed: {} passed.", join(&names_of(sections, |_| true))),
        Verdict::Warn => format!(
            "The session passed with warnings in {}; a person should review it.",
            join(&names_of(sections, |b| verdict_of(b) == Verdict::Warn))
        ),
        Verdict::Fail => {
            let mut details = Vec::new();
            if inputs.document.is_some_and(|d| !d.mrz_found) {
                details.push("the document's machine-readable zone could not be read");
            } else if inputs.document.is_some_and(|d| d.document_expired == Some(true)) {
                details.push("the document has expired");
            }
            if inputs.face.is_some_and(|f| f.face_match.is_some_and(|m| !m.is_match)) {
                details.push("the selfie does not match the document portrait");
            }
            if inputs.liveness.is_some_and(|l| !l.live) {
                details.push("the liveness check failed");
            }
            let failed = join(&names_of(sections, |b| verdict_of(b) == Verdict::Fail));
            if details.is_empty() {
                format!("The session failed {failed}.")
            } else {
                format!("The session failed {failed}: {}.", details.join("; "))
            }
        }
        Verdict::Unknown => {
            let missing = join(&names_of(sections, |b| b.is_none()));
            if missing.is_empty() {
                "No result: some checks could not run.".into()
            } else {
                format!("No result yet: {missing} did not run.")
            }
        }
    }
}

fn quality_checks(suffix: &str, q: &ImageQuality) -> [Check; 2] {
    [
        Check::new(
            &format!("sharpness{suffix}"),
            Block::number(q.sharpness, if q.sharp_enough { Verdict::Ok } else { Verdict::Warn }),
        ),
        Check::new(
            &format!("balancedLight{suffix}"),
            Block::number(100.0 * (1.0 - q.glare), if q.glare_ok { Verdict::Ok } else { Verdict::Warn }),
        ),
    ]
}

fn id_validation(d: &DocumentFindings, inputs: &Inputs<'_>) -> IdValidation {
    let mut photo_quality = Vec::new();
    if let Some(q) = &d.front_quality {
        photo_quality.extend(quality_checks("Front", q));
    }
    if let Some(q) = &d.back_quality {
        photo_quality.extend(quality_checks("Back", q));
    }

    let mut id_specific = vec![
        Check::new("mrzLineFormatCheck", Block::flag(Some(d.mrz_found && d.mrz_line_format_ok))),
        Check::new("mrzParsableCheck", Block::flag(Some(d.mrz_parsable))),
    ];
    let digits = &d.check_digits;
    // Digits of a zone that could not be parsed were never checked: UNKNOWN, while
    // mrzParsableCheck carries the failure.
    let parsed = |v: Option<bool>| if d.mrz_parsable { v } else { None };
    id_specific.push(Check::new("documentNumberCheckDigit", Block::flag(parsed(digits.document_number))));
    id_specific.push(Check::new("birthDateCheckDigit", Block::flag(parsed(digits.birth_date))));
    id_specific.push(Check::new("expirationDateCheckDigit", Block::flag(parsed(digits.expiry_date))));
    if let Some(ok) = digits.composite {
        id_specific.push(Check::new("compositeCheckDigit", Block::flag(Some(ok))));
    }
    if let Some(ok) = digits.personal_number {
        id_specific.push(Check::new("personalNumberCheckDigit", Block::flag(Some(ok))));
    }
    id_specific.push(Check::new("documentExpired", Block::flag(d.document_expired.map(|expired| !expired))));
    id_specific.push(Check::new("birthDateValidity", Block::flag(d.birth_date_valid)));
    id_specific.push(Check::new("expirationDateValidity", Block::flag(d.expiry_date_valid)));
    if let Some(min) = inputs.thresholds.minimum_age {
        id_specific.push(Check::new("underageCheck", Block::flag(d.age_years.map(|age| age >= i32::from(min)))));
    }
    id_specific.push(Check::new(
        "documentClassification",
        Block {
            value: d.document_class.map(|c| c.type_of_id().to_owned()).unwrap_or_default(),
            verdict: if d.document_class.is_some() { Verdict::Ok } else { Verdict::Unknown },
        },
    ));
    id_specific.push(Check::new("portraitDetected", Block::flag(Some(d.portrait_found))));

    let custom_fields = custom_field_checks(inputs.custom_fields, inputs.document_data);

    let all: Vec<&Check> = photo_quality.iter().chain(&id_specific).chain(&custom_fields).collect();
    let fails = all.iter().any(|c| c.block.verdict == Verdict::Fail);
    let warns = all.iter().any(|c| c.block.verdict == Verdict::Warn);
    let judged: Vec<&&Check> = all.iter().filter(|c| c.block.verdict != Verdict::Unknown).collect();
    let passed = judged.iter().filter(|c| c.block.verdict == Verdict::Ok).count();
    let value = if judged.is_empty() { 0.0 } else { 100.0 * passed as f32 / judged.len() as f32 };
    let verdict = if fails {
        Verdict::Fail
    } else if warns {
        Verdict::Warn
    } else {
        Verdict::Ok
    };
    IdValidation { photo_quality, id_specific, custom_fields, overall: Block::number(value, verdict) }
}

/// Upper-case letters only, words separated by single spaces, accents removed where the letter
/// has a plain form: how MRZs transliterate names (ICAO 9303 part 3, simplified).
pub fn normalise_name(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        let plain = match c {
            'á' | 'à' | 'â' | 'ä' | 'ã' | 'å' | 'Á' | 'À' | 'Â' | 'Ä' | 'Ã' | 'Å' => 'A',
            'é' | 'è' | 'ê' | 'ë' | 'É' | 'È' | 'Ê' | 'Ë' => 'E',
            'í' | 'ì' | 'î' | 'ï' | 'Í' | 'Ì' | 'Î' | 'Ï' => 'I',
            'ó' | 'ò' | 'ô' | 'ö' | 'õ' | 'ø' | 'Ó' | 'Ò' | 'Ô' | 'Ö' | 'Õ' | 'Ø' => 'O',
            'ú' | 'ù' | 'û' | 'ü' | 'Ú' | 'Ù' | 'Û' | 'Ü' => 'U',
            'ñ' | 'Ñ' => 'N',
            'ç' | 'Ç' => 'C',
            'ý' | 'ÿ' | 'Ý' => 'Y',
            c if c.is_ascii_alphabetic() => c.to_ascii_uppercase(),
            _ => ' ',
        };
        out.push(plain);
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `firstNameMatch` / `lastNameMatch` when the integrator sent `firstName` / `lastName` in
/// `customFields`: exact equality after normalisation, as Incode documents these checks.
fn custom_field_checks(fields: &CustomFields, data: Option<&DocumentData>) -> Vec<Check> {
    let mut checks = Vec::new();
    for (field, key, pick) in [
        ("firstName", "firstNameMatch", (|d: &DocumentData| d.given_names.clone()) as fn(&DocumentData) -> String),
        ("lastName", "lastNameMatch", |d: &DocumentData| d.surname.clone()),
    ] {
        let Some(expected) = fields.as_map().get(field) else { continue };
        let outcome = data.map(|d| normalise_name(expected) == normalise_name(&pick(d)));
        checks.push(Check::new(key, Block { value: key.to_owned(), verdict: Verdict::of(outcome) }));
    }
    checks
}

fn face_recognition(f: &FaceFindings, t: &Effective) -> FaceRecognition {
    let face_brightness = f.selfie_brightness.map(|b| {
        let ok = (60.0..=220.0).contains(&b);
        Block::number(b, if ok { Verdict::Ok } else { Verdict::Warn })
    });
    let overall = match &f.face_match {
        Some(m) => {
            let verdict = if m.similarity >= t.face_match_ok {
                Verdict::Ok
            } else if m.similarity >= t.face_match_warn {
                Verdict::Warn
            } else {
                Verdict::Fail
            };
            Block::number(m.similarity, verdict)
        }
        // No face to compare on one side: the identity is not established.
        None => Block::number(0.0, Verdict::Fail),
    };
    FaceRecognition { face_brightness, overall }
}

/// The liveness score described in the module documentation.
pub fn liveness_score(l: &LivenessFindings) -> f32 {
    if !l.live || l.required_turn <= 0.0 {
        return 0.0;
    }
    let margin = ((l.peak_turn - l.required_turn) / l.required_turn).clamp(0.0, 1.0);
    let challenge = 50.0 + 50.0 * margin;
    match l.passive_live {
        Some(p) => challenge.min(100.0 * p.clamp(0.0, 1.0)),
        None => challenge,
    }
}

fn liveness(l: &LivenessFindings, face: Option<&FaceFindings>, t: &Effective) -> Liveness {
    let value = liveness_score(l);
    let verdict = if !l.live {
        Verdict::Fail
    } else if value >= t.liveness_ok {
        Verdict::Ok
    } else if value >= t.liveness_warn {
        Verdict::Warn
    } else {
        Verdict::Fail
    };
    let photo_quality = face.and_then(|f| f.selfie_brightness).map_or_else(Block::unknown, |b| {
        Block::number(b, if (60.0..=220.0).contains(&b) { Verdict::Ok } else { Verdict::Warn })
    });
    let score = Block::number(value, verdict);
    Liveness { overall: score.clone(), score, photo_quality, checks: l.checks.clone() }
}

#[cfg(test)]
mod tests;
