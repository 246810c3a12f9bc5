//! Wire types of the hosted flow's capture API (`/flow/api/...`), used by the embedded page.
//! Not part of Incode's surface; see `docs/capture-api.md`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `POST /flow/api/open` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OpenRequest {
    /// The secret from the onboarding URL's path.
    pub link: String,
}

/// `POST /flow/api/open` response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OpenResponse {
    /// Bearer token for the other capture calls. Keep it in memory only.
    pub flow_token: String,
    pub state: FlowStateResponse,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DocumentState {
    /// `Passport`, `Visa`, `TravelDocument`, `IdentificationCard`, or null before the front.
    #[serde(rename = "type")]
    pub type_of_id: Option<String>,
    pub needs_back: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RetriesState {
    pub front: u32,
    pub back: u32,
    pub selfie: u32,
    pub liveness: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CaptureTimeouts {
    pub id_capture_timeout: u32,
    pub id_detection_timeout: u32,
    pub selfie_capture_timeout: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct EndScreen {
    pub title: String,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ProcessingState {
    pub submitted: bool,
    pub done: bool,
    pub failed: bool,
}

/// `GET /flow/api/state` response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FlowStateResponse {
    pub interview_id: String,
    pub language: String,
    /// The onboarding status, as the partner API reports it.
    pub status: String,
    /// Milliseconds since the Unix epoch.
    pub expires_at: i64,
    /// `consent`, `front`, `back`, `selfie`, `liveness`, `processing`, `done`.
    pub steps: Vec<String>,
    pub completed: Vec<String>,
    /// The step to show now; also `expired`.
    pub current: String,
    pub document: DocumentState,
    pub retries: RetriesState,
    pub capture: CaptureTimeouts,
    /// Origins the page may post events to (empty: the embedding page's own origin).
    pub allowed_origins: Vec<String>,
    pub end_screen: EndScreen,
    pub redirection_url: Option<String>,
    pub processing: ProcessingState,
}

/// Something to fix before capturing again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CaptureProblem {
    /// Stable code, e.g. `BLURRY`, `NO_FACE`, `WRONG_SIDE`; the page translates it.
    pub code: String,
    /// English explanation.
    pub message: String,
}

/// Answer to a capture or to challenge frames.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CaptureResponse {
    pub accepted: bool,
    pub problems: Vec<CaptureProblem>,
    pub retries_left: u32,
    /// The step to show next.
    pub next: String,
}

/// `POST /flow/api/challenge` response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChallengeResponse {
    pub challenge_id: String,
    /// `left` or `right`, from the person's point of view.
    pub direction: String,
    pub expires_at: i64,
    /// How to film the answer.
    pub film: FilmSpec,
}

/// How the page films a head turn: a frame every `intervalMs` from the moment it starts, the
/// arrow at `promptAtMs`, on for `afterPromptMs` more; of each camera frame it keeps the centred
/// region `cropHeight` of the frame's height tall and `cropAspect` wide (width over height),
/// scaled to at most `maxSide` pixels, as JPEG at `quality` (1–100); the first frame is also
/// sent whole, at most `keyMaxSide` pixels, at `keyQuality`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FilmSpec {
    pub interval_ms: u32,
    pub prompt_at_ms: u32,
    pub after_prompt_ms: u32,
    pub crop_height: f32,
    pub crop_aspect: f32,
    pub max_side: u32,
    pub quality: u8,
    pub key_max_side: u32,
    pub key_quality: u8,
    /// Most frames an answer may carry.
    pub max_frames: u32,
}

/// `POST /flow/api/handoff` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HandoffResponse {
    /// A fresh link to the same session, for a phone.
    pub url: String,
    /// The link as a QR code (SVG markup).
    pub qr_svg: String,
}
