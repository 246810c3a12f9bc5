//! Results: scores, OCR data, images. Shapes follow Incode's "Fetch Results and Data" so typed
//! integrations written against Incode deserialise them unchanged.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A score block. `value` is always a string, even when numeric (Incode's convention).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ScoreValue {
    #[serde(default)]
    pub value: String,
    /// `OK`, `WARN`, `FAIL` or `UNKNOWN` (the check could not run). Incode omits it on some
    /// items (`photoQuality`); a missing status reads as `UNKNOWN`.
    #[serde(default = "unknown_status")]
    pub status: String,
}

fn unknown_status() -> String {
    "UNKNOWN".into()
}

impl ScoreValue {
    /// Nothing collected or computed: empty value, `UNKNOWN`.
    pub fn unknown() -> Self {
        Self { value: String::new(), status: "UNKNOWN".into() }
    }
}

/// One named check inside a list of checks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ScoreItem {
    /// Incode sends `null` or nothing for some items; both read as empty.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub key: String,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub value: String,
    #[serde(default = "unknown_status")]
    pub status: String,
}

fn null_as_empty<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(Option::<String>::deserialize(d)?.unwrap_or_default())
}

/// Document checks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IdValidationScore {
    /// Image quality checks (sharpness, glare).
    #[serde(default)]
    pub photo_security_and_quality: Vec<ScoreItem>,
    /// Document checks (MRZ format, check digits, dates, cross-checks).
    #[serde(default)]
    pub id_specific: Vec<ScoreItem>,
    /// Checks of `customFields` against the document.
    #[serde(default)]
    pub custom_fields: Vec<ScoreItem>,
    #[schema(value_type = Option<Object>)]
    pub applied_rule: Option<serde_json::Value>,
    pub overall: ScoreValue,
}

/// Liveness.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LivenessScore {
    pub liveness_score: ScoreValue,
    #[serde(default = "ScoreValue::unknown")]
    pub photo_quality: ScoreValue,
    pub overall: ScoreValue,
    /// veriframe's addition: the checks that took part in the verdict — `headTurn` always,
    /// `passivePadFilm` and `passivePadSelfie` when the anti-spoofing models are installed,
    /// `selfieIdentity` when the session has a selfie. Absent from Incode's answers.
    #[serde(default)]
    pub checks: Vec<String>,
}

/// Face match between the document portrait and the selfie.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FaceRecognitionScore {
    /// Whether this face was already enrolled in another session (veriframe does not keep a
    /// face gallery: always `false`).
    #[serde(default)]
    pub existing_user: bool,
    #[serde(default)]
    pub face_brightness: Option<ScoreValue>,
    pub overall: ScoreValue,
}

/// OCR confidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IdOcrConfidence {
    pub overall_confidence: ScoreValue,
}

/// `GET /0/omni/get/score` response. Sections of modules that did not run (or have not run
/// yet) are `null`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScoreResponse {
    pub id_validation: Option<IdValidationScore>,
    pub liveness: Option<LivenessScore>,
    pub face_recognition: Option<FaceRecognitionScore>,
    /// Government (system-of-record) checks are not part of veriframe: always `null`.
    #[schema(value_type = Option<Object>)]
    pub government_validation: Option<serde_json::Value>,
    #[schema(value_type = Option<Object>)]
    pub external_verification: Option<serde_json::Value>,
    pub id_ocr_confidence: Option<IdOcrConfidence>,
    #[schema(value_type = Vec<Object>)]
    #[serde(default)]
    pub retry_info: Vec<serde_json::Value>,
    #[schema(value_type = Option<Object>)]
    pub applied_rule: Option<serde_json::Value>,
    #[serde(default)]
    pub needs_review_reason: String,
    /// Why the session passed or failed, in one sentence.
    #[serde(default)]
    pub reason_msg: String,
    /// Decide on this: `OK`, `WARN`, `FAIL`, or `UNKNOWN` while results are missing.
    pub overall: ScoreValue,
}

/// Names read from the document.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OcrName {
    pub full_name: Option<String>,
    pub first_name: Option<String>,
    pub given_name: Option<String>,
    pub middle_name: Option<String>,
    pub paternal_last_name: Option<String>,
    pub maternal_last_name: Option<String>,
    pub machine_readable_full_name: Option<String>,
    pub given_name_mrz: Option<String>,
    pub last_name_mrz: Option<String>,
}

/// `GET /0/omni/get/ocr-data` response. Every field is `null` until the document is read.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OcrDataResponse {
    pub name: Option<OcrName>,
    /// `Passport`, `IdentificationCard`, `Visa`, `TravelDocument`, ...
    pub type_of_id: Option<String>,
    /// Date of birth, milliseconds since the Unix epoch (UTC midnight).
    pub birth_date: Option<i64>,
    /// Expiry date, milliseconds since the Unix epoch, as a string (Incode's convention).
    pub expire_at: Option<String>,
    /// Issue date when the document states it (MRZs do not).
    pub issued_at: Option<String>,
    /// Year of expiry.
    pub expiration_date: Option<i32>,
    pub gender: Option<String>,
    pub document_number: Option<String>,
    pub personal_number: Option<String>,
    /// ICAO alpha-3 code of the issuing state.
    pub issuing_country: Option<String>,
    pub nationality: Option<String>,
    pub nationality_mrz: Option<String>,
    pub mrz1: Option<String>,
    pub mrz2: Option<String>,
    pub mrz3: Option<String>,
    pub full_name_mrz: Option<String>,
    pub document_number_check_digit: Option<String>,
    pub date_of_birth_check_digit: Option<String>,
    pub expiration_date_check_digit: Option<String>,
    /// Per-field confidence in 0..1, keyed like `birthDateConfidence`.
    pub ocr_data_confidence: Option<BTreeMap<String, f32>>,
}

/// `POST /0/omni/get/images` response: base64 of each requested image that exists, keyed by
/// name. Requested images that were never captured are absent.
pub type ImagesResponse = BTreeMap<String, String>;

#[cfg(test)]
mod tests {
    use super::*;

    /// Incode leaves out or nulls some keys; a typed client must still read the decision.
    #[test]
    fn sparse_scores_as_incode_sends_them_parse() {
        let body = serde_json::json!({
            "idValidation": {"photoSecurityAndQuality": [{"key": null, "value": "", "status": "OK"}],
                             "overall": {"value": "100.0", "status": "OK"}},
            "liveness": {"livenessScore": {"value": "97", "status": "OK"}, "photoQuality": {"value": ""},
                         "overall": {"value": "97", "status": "OK"}},
            "faceRecognition": {"overall": {"value": "88", "status": "OK"}},
            "overall": {"value": "95", "status": "OK"}
        });
        let score: ScoreResponse = serde_json::from_value(body).unwrap();
        assert_eq!(score.overall.status, "OK");
        let liveness = score.liveness.unwrap();
        assert_eq!(liveness.photo_quality.status, "UNKNOWN");
        let id = score.id_validation.unwrap();
        assert_eq!(id.photo_security_and_quality[0].key, "");
        assert!(id.id_specific.is_empty());
        assert!(score.reason_msg.is_empty());
    }
}
