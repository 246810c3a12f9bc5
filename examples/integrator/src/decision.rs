//! Step 6: turning the provider's status and score into the yes/no an application acts on.
//!
//! Incode's guidance, which veriframe follows: decide on `overall.status` (OK, WARN, FAIL) and
//! never threshold the numeric values yourself. A human decision in manual review overrides it.

use serde::{Deserialize, Serialize};
use veriframe_client::wire::ScoreResponse;

/// Onboarding statuses after which nothing more happens without a person in the loop.
const OVER: [&str; 4] = ["ONBOARDING_FINISHED", "MANUAL_REVIEW_APPROVED", "MANUAL_REVIEW_REJECTED", "EXPIRED"];

/// Whether the session has reached an end state (see [`OVER`]).
pub(crate) fn is_over(onboarding_status: &str) -> bool {
    OVER.contains(&onboarding_status)
}

/// What `/fetch-score` answers, and what the app keeps about the outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Decision {
    pub interview_id: String,
    /// `OK` (onboarded), `WARN` (needs a human look), `FAIL`, or `UNKNOWN` (not decided yet).
    pub status: String,
    /// `status == "OK"`: the only outcome on which the page says the person is onboarded.
    pub onboarded: bool,
    /// Whether the session is over, so `status` will not change by itself (only a manual
    /// review moves a finished session on).
    pub finished: bool,
    /// The provider's status when the decision was taken.
    pub onboarding_status: String,
    /// One sentence on why (the score's `reasonMsg`, or why there is no decision yet).
    pub reason: String,
    /// The score's `needsReviewReason` (empty when none).
    pub needs_review_reason: String,
    pub checks: Checks,
}

/// `overall.status` of each section of the score; `None` when the section is absent (the module
/// is not in the flow, or nothing was scored yet).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Checks {
    pub id_validation: Option<String>,
    pub liveness: Option<String>,
    pub face_recognition: Option<String>,
}

/// Maps a score status to the decision vocabulary. Incode's manual-review statuses count as the
/// reviewer's verdict; anything else unknown is not a decision.
fn normalise(status: &str) -> &'static str {
    match status {
        "OK" | "MANUAL_OK" => "OK",
        "WARN" => "WARN",
        "FAIL" | "MANUAL_FAIL" => "FAIL",
        _ => "UNKNOWN",
    }
}

/// Derives the decision from the onboarding status and, once the session is over, its score.
pub fn decide(interview_id: &str, onboarding_status: &str, score: Option<&ScoreResponse>) -> Decision {
    let checks = score
        .map(|s| Checks {
            id_validation: s.id_validation.as_ref().map(|v| v.overall.status.clone()),
            liveness: s.liveness.as_ref().map(|v| v.overall.status.clone()),
            face_recognition: s.face_recognition.as_ref().map(|v| v.overall.status.clone()),
        })
        .unwrap_or_default();
    let needs_review_reason = score.map(|s| s.needs_review_reason.clone()).unwrap_or_default();
    let reason_msg = score.map(|s| s.reason_msg.clone()).filter(|m| !m.is_empty());
    let overall = score.map_or("UNKNOWN", |s| normalise(&s.overall.status));
    let (status, finished, reason) = match onboarding_status {
        "MANUAL_REVIEW_APPROVED" => ("OK", true, "approved in manual review".to_owned()),
        "MANUAL_REVIEW_REJECTED" => ("FAIL", true, "rejected in manual review".to_owned()),
        "EXPIRED" => ("FAIL", true, "the session expired before the person finished onboarding".to_owned()),
        "ONBOARDING_FINISHED" => {
            let reason = reason_msg.unwrap_or_else(|| match overall {
                "UNKNOWN" => "the onboarding finished but the score has no overall result yet".to_owned(),
                decided => format!("the overall score is {decided}"),
            });
            (overall, true, reason)
        }
        other => ("UNKNOWN", false, format!("the onboarding is not finished yet (status {other})")),
    };
    Decision {
        interview_id: interview_id.to_owned(),
        status: status.to_owned(),
        onboarded: status == "OK",
        finished,
        onboarding_status: onboarding_status.to_owned(),
        reason,
        needs_review_reason,
        checks,
    }
}

#[cfg(test)]
mod tests {
    use veriframe_client::wire::{FaceRecognitionScore, LivenessScore, ScoreValue};

    use super::*;

    fn value(status: &str) -> ScoreValue {
        ScoreValue { value: String::new(), status: status.into() }
    }

    fn score(overall: &str, reason: &str) -> ScoreResponse {
        ScoreResponse {
            id_validation: None,
            liveness: Some(LivenessScore {
                liveness_score: value("OK"),
                photo_quality: value("OK"),
                overall: value("OK"),
                checks: Vec::new(),
            }),
            face_recognition: Some(FaceRecognitionScore {
                existing_user: false,
                face_brightness: None,
                overall: value("FAIL"),
            }),
            government_validation: None,
            external_verification: None,
            id_ocr_confidence: None,
            retry_info: Vec::new(),
            applied_rule: None,
            needs_review_reason: String::new(),
            reason_msg: reason.into(),
            overall: value(overall),
        }
    }

    #[test]
    fn only_a_finished_session_is_decided_on_its_score() {
        let s = score("OK", "passed");
        let d = decide("i", "FACE_VALIDATION_FINISHED", Some(&s));
        assert_eq!((d.status.as_str(), d.finished, d.onboarded), ("UNKNOWN", false, false));
        assert!(d.reason.contains("FACE_VALIDATION_FINISHED"), "{}", d.reason);

        let d = decide("i", "ONBOARDING_FINISHED", Some(&s));
        assert_eq!((d.status.as_str(), d.finished, d.onboarded), ("OK", true, true));
        assert_eq!(d.reason, "passed");
        assert_eq!(d.checks.liveness.as_deref(), Some("OK"));
        assert_eq!(d.checks.face_recognition.as_deref(), Some("FAIL"));
        assert_eq!(d.checks.id_validation, None, "absent section");
    }

    #[test]
    fn statuses_map_to_the_decision_vocabulary() {
        for (overall, expected) in [
            ("OK", "OK"),
            ("WARN", "WARN"),
            ("FAIL", "FAIL"),
            ("MANUAL_OK", "OK"),
            ("MANUAL_FAIL", "FAIL"),
            ("", "UNKNOWN"),
            ("MANUAL_PENDING", "UNKNOWN"),
        ] {
            let d = decide("i", "ONBOARDING_FINISHED", Some(&score(overall, "")));
            assert_eq!(d.status, expected, "{overall}");
            assert_eq!(d.onboarded, expected == "OK");
            assert!(!d.reason.is_empty());
        }
    }

    #[test]
    fn a_human_verdict_and_expiry_override_the_score() {
        let s = score("WARN", "needs review");
        assert_eq!(decide("i", "MANUAL_REVIEW_APPROVED", Some(&s)).status, "OK");
        assert_eq!(decide("i", "MANUAL_REVIEW_REJECTED", Some(&s)).status, "FAIL");
        let expired = decide("i", "EXPIRED", None);
        assert_eq!((expired.status.as_str(), expired.finished), ("FAIL", true));
        assert_eq!(expired.checks, Checks::default());
    }
}
