//! Onboarding status: Incode's "latest milestone" vocabulary.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The latest milestone a session has reached. Not a strict state machine: milestones follow
/// the flow's modules, and only values the flow actually reaches are ever emitted, because
/// strictly typed integrators reject values they do not know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OnboardingStatus {
    /// Created; nothing collected yet.
    Unknown,
    /// The document was captured and processed: OCR data and the ID score can be read.
    IdValidationFinished,
    /// Server-side post-processing of the document finished.
    PostProcessingFinished,
    /// Selfie, liveness and face match are done.
    FaceValidationFinished,
    /// The session was completed (by the hosted flow or `finish-status`). Lifecycle, not approval.
    OnboardingFinished,
    /// A reviewer approved the session.
    ManualReviewApproved,
    /// A reviewer rejected the session.
    ManualReviewRejected,
    /// The session ran out of time before it was completed.
    Expired,
}

impl OnboardingStatus {
    pub const ALL: [OnboardingStatus; 8] = [
        Self::Unknown,
        Self::IdValidationFinished,
        Self::PostProcessingFinished,
        Self::FaceValidationFinished,
        Self::OnboardingFinished,
        Self::ManualReviewApproved,
        Self::ManualReviewRejected,
        Self::Expired,
    ];

    /// Milestones of a session still being captured or verified: the ones `ONBOARDING_FINISHED`
    /// may follow.
    pub const IN_PROGRESS: [OnboardingStatus; 4] =
        [Self::Unknown, Self::IdValidationFinished, Self::PostProcessingFinished, Self::FaceValidationFinished];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unknown => "UNKNOWN",
            Self::IdValidationFinished => "ID_VALIDATION_FINISHED",
            Self::PostProcessingFinished => "POST_PROCESSING_FINISHED",
            Self::FaceValidationFinished => "FACE_VALIDATION_FINISHED",
            Self::OnboardingFinished => "ONBOARDING_FINISHED",
            Self::ManualReviewApproved => "MANUAL_REVIEW_APPROVED",
            Self::ManualReviewRejected => "MANUAL_REVIEW_REJECTED",
            Self::Expired => "EXPIRED",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == s)
    }

    /// Completed (or decided) sessions never expire and never move back to a capture milestone.
    pub fn is_complete(self) -> bool {
        matches!(self, Self::OnboardingFinished | Self::ManualReviewApproved | Self::ManualReviewRejected)
    }

    /// No further milestone can follow, except a manual review after completion.
    pub fn is_closed(self) -> bool {
        self.is_complete() || self == Self::Expired
    }
}

impl fmt::Display for OnboardingStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_match_serde() {
        for status in OnboardingStatus::ALL {
            assert_eq!(OnboardingStatus::parse(status.as_str()), Some(status));
            assert_eq!(serde_json::to_value(status).unwrap(), serde_json::json!(status.as_str()));
        }
        assert_eq!(OnboardingStatus::parse("onboarding_finished"), None);
    }
}
