//! What verification establishes about a session, in the domain's terms.
//!
//! Findings are split by sensitivity. [`DocumentFindings`], [`FaceFindings`] and
//! [`LivenessFindings`] hold measurements and check outcomes only: no names, numbers or images,
//! so they may live in the database. [`DocumentData`] holds what was read from the document —
//! personal data — and is only ever stored encrypted in the blob store.

use serde::{Deserialize, Serialize};

use crate::challenge::TurnDirection;

/// What the person is asked to capture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaptureKind {
    /// Front of the document (the data page of a passport).
    Front,
    /// Back of an identity card.
    Back,
    /// A frontal selfie.
    Selfie,
    /// The frames of a head-turn challenge.
    Liveness,
}

impl CaptureKind {
    pub const ALL: [CaptureKind; 4] = [Self::Front, Self::Back, Self::Selfie, Self::Liveness];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Front => "front",
            Self::Back => "back",
            Self::Selfie => "selfie",
            Self::Liveness => "liveness",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// Something the person can fix by capturing again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CaptureProblem {
    UnreadableImage,
    NoFace,
    MultipleFaces,
    FaceTooSmall,
    FaceTooClose,
    FaceNotFrontal,
    TooDark,
    TooBright,
    Blurry,
    Glare,
    MrzUnreadable,
    WrongSide,
    /// The head did not turn far enough toward the asked side (`NO_TURN` before).
    #[serde(alias = "NO_TURN")]
    TurnTooSmall,
    WrongDirection,
    DidNotReturn,
    DifferentPerson,
    NotEnoughFrames,
    /// The face left the frame during the turn.
    FaceLost,
    /// The motion was not a head turning (a jump, a swap, the camera moving).
    UnnaturalMotion,
    /// Passive anti-spoofing did not see a live face.
    NotLive,
}

impl CaptureProblem {
    /// Every problem, for catalogues that must translate each one.
    pub const ALL: [CaptureProblem; 20] = [
        Self::UnreadableImage,
        Self::NoFace,
        Self::MultipleFaces,
        Self::FaceTooSmall,
        Self::FaceTooClose,
        Self::FaceNotFrontal,
        Self::TooDark,
        Self::TooBright,
        Self::Blurry,
        Self::Glare,
        Self::MrzUnreadable,
        Self::WrongSide,
        Self::TurnTooSmall,
        Self::WrongDirection,
        Self::DidNotReturn,
        Self::DifferentPerson,
        Self::NotEnoughFrames,
        Self::FaceLost,
        Self::UnnaturalMotion,
        Self::NotLive,
    ];

    /// The code on the wire and in translation catalogues.
    pub fn code(self) -> &'static str {
        match self {
            Self::UnreadableImage => "UNREADABLE_IMAGE",
            Self::NoFace => "NO_FACE",
            Self::MultipleFaces => "MULTIPLE_FACES",
            Self::FaceTooSmall => "FACE_TOO_SMALL",
            Self::FaceTooClose => "FACE_TOO_CLOSE",
            Self::FaceNotFrontal => "FACE_NOT_FRONTAL",
            Self::TooDark => "TOO_DARK",
            Self::TooBright => "TOO_BRIGHT",
            Self::Blurry => "BLURRY",
            Self::Glare => "GLARE",
            Self::MrzUnreadable => "MRZ_UNREADABLE",
            Self::WrongSide => "WRONG_SIDE",
            Self::TurnTooSmall => "TURN_TOO_SMALL",
            Self::WrongDirection => "WRONG_DIRECTION",
            Self::DidNotReturn => "DID_NOT_RETURN",
            Self::DifferentPerson => "DIFFERENT_PERSON",
            Self::NotEnoughFrames => "NOT_ENOUGH_FRAMES",
            Self::FaceLost => "FACE_LOST",
            Self::UnnaturalMotion => "UNNATURAL_MOTION",
            Self::NotLive => "NOT_LIVE",
        }
    }
}

/// Which family of document the front capture showed, from its MRZ format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentClass {
    /// TD3 booklet: MRZ on the data page, no back to capture.
    Passport,
    /// MRV-A/MRV-B visa: MRZ on the front.
    Visa,
    /// TD2 travel document or card with its MRZ on the front.
    TravelDocument,
    /// TD1 card: portrait on the front, MRZ on the back.
    IdentityCard,
}

impl DocumentClass {
    /// Incode's `typeOfId` vocabulary.
    pub fn type_of_id(self) -> &'static str {
        match self {
            Self::Passport => "Passport",
            Self::Visa => "Visa",
            Self::TravelDocument => "TravelDocument",
            Self::IdentityCard => "IdentificationCard",
        }
    }

    /// Whether the MRZ (and so the capture that completes the document) is on the back.
    pub fn needs_back(self) -> bool {
        self == Self::IdentityCard
    }
}

/// Non-personal facts from a capture check, kept with the capture: enough to drive the flow.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CaptureSummary {
    /// Set by a front capture: the document family, when the MRZ or the layout tells.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document_class: Option<DocumentClass>,
    /// Faces found (document portrait or selfie).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub faces: Option<u32>,
    /// MRZ format read (`TD1`, `TD2`, `TD3`, `MRVA`, `MRVB`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mrz_format: Option<String>,
    /// Whether every check digit of the MRZ held.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mrz_valid: Option<bool>,
}

/// Sharpness and glare of a document capture, as measured.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageQuality {
    /// 0–100, higher is sharper.
    pub sharpness: f32,
    /// Fraction of the document area blown out by reflections, 0–1.
    pub glare: f32,
    pub sharp_enough: bool,
    pub glare_ok: bool,
}

/// Outcome of each ICAO 9303 check digit; `None` when the format has no such digit or the field
/// could not be read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckDigitFindings {
    pub document_number: Option<bool>,
    pub birth_date: Option<bool>,
    pub expiry_date: Option<bool>,
    pub personal_number: Option<bool>,
    pub composite: Option<bool>,
}

/// What the document step established (no personal data).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DocumentFindings {
    pub document_class: Option<DocumentClass>,
    pub mrz_found: bool,
    pub mrz_format: Option<String>,
    pub mrz_line_format_ok: bool,
    pub mrz_parsable: bool,
    pub check_digits: CheckDigitFindings,
    pub document_expired: Option<bool>,
    pub birth_date_valid: Option<bool>,
    pub expiry_date_valid: Option<bool>,
    pub age_years: Option<i32>,
    /// Recogniser confidence over the MRZ, 0–1.
    pub ocr_confidence: Option<f32>,
    /// Characters changed by check-digit-guided repair.
    pub repairs: u32,
    pub portrait_found: bool,
    pub front_quality: Option<ImageQuality>,
    pub back_quality: Option<ImageQuality>,
}

/// Face match between the document portrait and the selfie.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MatchFindings {
    /// Euclidean distance between descriptors.
    pub distance: f32,
    /// Calibrated 0–100 similarity: 50 at the threshold.
    pub similarity: f32,
    pub threshold: f32,
    pub is_match: bool,
}

/// What the selfie step established.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FaceFindings {
    pub selfie_faces: u32,
    /// Mean luma of the selfie's face chip, 0–255.
    pub selfie_brightness: Option<f32>,
    /// Present when both a portrait and a selfie face were found.
    pub face_match: Option<MatchFindings>,
    /// Why there is no match result, when there is none.
    pub match_unavailable: Option<String>,
}

/// A check that took part in the liveness verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum LivenessCheck {
    /// The head-turn film, judged as a trajectory.
    HeadTurn,
    /// Passive anti-spoofing on the film's sharp first frame.
    PassivePadFilm,
    /// Passive anti-spoofing on the selfie.
    PassivePadSelfie,
    /// The face in the film is the selfie's.
    SelfieIdentity,
}

impl LivenessCheck {
    /// The name in score responses.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::HeadTurn => "headTurn",
            Self::PassivePadFilm => "passivePadFilm",
            Self::PassivePadSelfie => "passivePadSelfie",
            Self::SelfieIdentity => "selfieIdentity",
        }
    }
}

/// Why a liveness verdict failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LivenessFailure {
    CaptureIncomplete,
    FaceLost,
    MultipleFaces,
    NotFrontalAtStart,
    TurnTooSmall,
    TurnedWrongWay,
    DidNotReturn,
    ImplausibleMotion,
    FaceJumped,
    DifferentPerson,
    DifferentPersonThanSelfie,
    /// Passive anti-spoofing saw no live face.
    NotLive,
    /// A reason recorded by an earlier version.
    #[serde(other)]
    Other,
}

/// What the liveness step established: the verdict computed once, when the film arrived, and
/// stored with it — the answer the page showed and the score read the same record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LivenessFindings {
    /// As asked.
    pub direction: TurnDirection,
    pub frames: u32,
    /// Which checks ran; passive PAD is absent when its models are not installed.
    #[serde(default)]
    pub checks: Vec<LivenessCheck>,
    pub turned: bool,
    pub returned: bool,
    pub same_person: bool,
    /// The head turn passed (the film alone).
    pub challenge_passed: bool,
    /// Every check that ran passed.
    #[serde(default)]
    pub live: bool,
    /// Largest yaw change towards the asked side, in the detector's yaw units.
    pub peak_turn: f32,
    /// The yaw change a pass requires.
    pub required_turn: f32,
    /// Largest descriptor distance between a turned or final face and the start's.
    pub max_identity_distance: Option<f32>,
    /// The identity distance a pass allows.
    pub identity_threshold: f32,
    /// Lowest passive anti-spoofing live probability (0–1) over the faces it ran on.
    pub passive_live: Option<f32>,
    pub failures: Vec<LivenessFailure>,
}

/// A calendar date as read (no time zone: dates on documents are local to nobody).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Date {
    pub year: i32,
    pub month: u8,
    pub day: u8,
}

/// Personal data read from the document. Never stored in the database, never logged: it lives
/// encrypted in the blob store and is served only by `/omni/get/ocr-data`.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DocumentData {
    /// The MRZ's document code (`P`, `I`, `ID`, `V`, ...).
    pub document_code: String,
    pub issuing_country: String,
    pub surname: String,
    pub given_names: String,
    pub document_number: String,
    pub nationality: String,
    pub birth_date: Option<Date>,
    pub sex: String,
    pub expiry_date: Option<Date>,
    pub personal_number: Option<String>,
    pub optional_data: Option<String>,
    pub mrz_lines: Vec<String>,
    /// The check digits as printed (document number, birth date, expiry).
    pub document_number_check_digit: Option<String>,
    pub birth_date_check_digit: Option<String>,
    pub expiry_date_check_digit: Option<String>,
    /// Recogniser confidence over the zone, 0–1.
    pub confidence: f32,
}

impl std::fmt::Debug for DocumentData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DocumentData(***)")
    }
}

/// Everything verification has stored for a session so far.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SessionResults {
    pub document: Option<DocumentFindings>,
    pub face: Option<FaceFindings>,
    pub liveness: Option<LivenessFindings>,
    /// Where the encrypted [`DocumentData`] is.
    pub document_data: Option<crate::blob::BlobKey>,
    /// Scores computed when the session was finalised.
    pub scores: Option<crate::scores::Scores>,
}

#[cfg(test)]
mod all_problems {
    use super::CaptureProblem::{self, *};

    /// The match is exhaustive: a new problem does not compile here until it has a place in
    /// `ALL` too (and so in every catalogue test).
    #[test]
    fn all_lists_every_problem_once_in_order() {
        let index = |p: CaptureProblem| match p {
            UnreadableImage => 0,
            NoFace => 1,
            MultipleFaces => 2,
            FaceTooSmall => 3,
            FaceTooClose => 4,
            FaceNotFrontal => 5,
            TooDark => 6,
            TooBright => 7,
            Blurry => 8,
            Glare => 9,
            MrzUnreadable => 10,
            WrongSide => 11,
            TurnTooSmall => 12,
            WrongDirection => 13,
            DidNotReturn => 14,
            DifferentPerson => 15,
            NotEnoughFrames => 16,
            FaceLost => 17,
            UnnaturalMotion => 18,
            NotLive => 19,
        };
        for (i, p) in CaptureProblem::ALL.into_iter().enumerate() {
            assert_eq!(index(p), i, "{p:?}");
        }
    }
}
