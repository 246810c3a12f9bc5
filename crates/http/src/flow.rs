//! The hosted flow's capture API (`/flow/api/...`), authenticated by the page's flow token.

use axum::body::Bytes;
use axum::extract::{FromRequestParts, Multipart, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use serde::Deserialize;
use veriframe_api_types::ErrorBody;
use veriframe_api_types::flow as wire;
use veriframe_core::auth::FlowAuth;
use veriframe_core::capture::{CaptureOutcome, CaptureSource, FlowState, RelativeRect};
use veriframe_core::challenge::{Film, HEAD_TURN_FILM, MAX_CHALLENGE_FRAMES};
use veriframe_core::clock::unix_millis;
use veriframe_core::ids::ChallengeId;
use veriframe_core::verification::{CaptureKind, CaptureProblem};

use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery};
use crate::state::AppState;

/// Largest image one capture may upload.
pub const CAPTURE_BODY_LIMIT: usize = 10 * 1024 * 1024;
/// Largest head-turn upload (all frames together). A film is about 0.3 MB; this leaves room
/// for a camera that encodes large JPEGs without letting one upload hold much memory.
pub const FRAMES_BODY_LIMIT: usize = 4 * 1024 * 1024;

type ApiResult<T> = Result<ApiJson<T>, ApiError>;

/// `Authorization: Bearer <flow token>`.
#[derive(Debug, Clone, Copy)]
pub struct Flow(pub FlowAuth);

impl FromRequestParts<AppState> for Flow {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let presented = parts
            .headers
            .get(header::AUTHORIZATION)
            .map(|v| v.to_str().map_err(|_| ApiError::bad_request("the Authorization header must be ASCII")))
            .transpose()?
            .map(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")).unwrap_or(v));
        Ok(Self(state.onboarding.authenticate_flow(presented).await?))
    }
}

/// English text for each problem code; the page shows its own translation of the code.
pub fn problem_message(problem: CaptureProblem) -> &'static str {
    match problem {
        CaptureProblem::UnreadableImage => "The image could not be read. Take the photo again.",
        CaptureProblem::NoFace => "No face was found. Make sure the face is fully in the frame.",
        CaptureProblem::MultipleFaces => {
            "More than one face is visible. Only the person verifying should be in the frame."
        }
        CaptureProblem::FaceTooSmall => "The face is too small. Move closer.",
        CaptureProblem::FaceTooClose => "The face is too close. Move back a little.",
        CaptureProblem::FaceNotFrontal => "Look straight at the camera and hold your head upright.",
        CaptureProblem::TooDark => "The photo is too dark. Find more light.",
        CaptureProblem::TooBright => "The photo is too bright. Avoid strong light behind or on the face.",
        CaptureProblem::Blurry => "The photo is blurry. Hold still and let the camera focus.",
        CaptureProblem::Glare => "There is glare on the document. Tilt it away from the light.",
        CaptureProblem::MrzUnreadable => {
            "The machine-readable lines at the bottom of the document could not be read. Fill the frame with the document, sharp and without glare."
        }
        CaptureProblem::WrongSide => "This looks like the other side of the document. Turn it over.",
        CaptureProblem::TurnTooSmall => {
            "The turn was too small. When the arrow appears, turn your head further, then back."
        }
        CaptureProblem::WrongDirection => "The head turned the other way. Follow the arrow.",
        CaptureProblem::DidNotReturn => "Turn back to face the camera before the filming ends.",
        CaptureProblem::FaceLost => "The face left the frame. Keep the whole face inside the oval while turning.",
        CaptureProblem::UnnaturalMotion => {
            "That did not look like a head turning. Hold the device still and turn the head, not the device."
        }
        CaptureProblem::NotLive => {
            "A live person could not be confirmed. Face the camera in good light, with no photo or screen in view."
        }
        CaptureProblem::DifferentPerson => {
            "The face changed during the capture. Only the person verifying should be in the frame."
        }
        CaptureProblem::NotEnoughFrames => "The filming stopped too early. Keep the page open until it ends.",
    }
}

fn state_response(s: &FlowState) -> wire::FlowStateResponse {
    let c = &s.config().capture;
    wire::FlowStateResponse {
        interview_id: s.session.id.to_string(),
        language: s.session.language.to_string(),
        status: s.status.as_str().to_owned(),
        expires_at: unix_millis(s.session.expires_at),
        steps: s.steps.iter().map(|st| st.as_str().to_owned()).collect(),
        completed: s.completed.iter().map(|st| st.as_str().to_owned()).collect(),
        current: s.current.as_str().to_owned(),
        document: wire::DocumentState {
            type_of_id: s.document_class.map(|d| d.type_of_id().to_owned()),
            needs_back: s.document_class.map(veriframe_core::verification::DocumentClass::needs_back),
        },
        retries: wire::RetriesState {
            front: s.retries.front,
            back: s.retries.back,
            selfie: s.retries.selfie,
            liveness: s.retries.liveness,
        },
        capture: wire::CaptureTimeouts {
            id_capture_timeout: c.id_capture_timeout,
            id_detection_timeout: c.id_detection_timeout,
            selfie_capture_timeout: c.selfie_capture_timeout,
        },
        allowed_origins: s.config().allowed_origins.iter().map(|o| o.as_str().to_owned()).collect(),
        end_screen: wire::EndScreen {
            title: s.config().end_screen_title.clone(),
            text: s.config().end_screen_text.clone(),
        },
        redirection_url: s.redirection_url().map(str::to_owned),
        processing: wire::ProcessingState { submitted: s.submitted, done: s.done, failed: s.failed },
    }
}

fn capture_response(o: &CaptureOutcome) -> wire::CaptureResponse {
    wire::CaptureResponse {
        accepted: o.accepted,
        problems: o
            .problems
            .iter()
            .map(|p| wire::CaptureProblem { code: p.code().to_owned(), message: problem_message(*p).to_owned() })
            .collect(),
        retries_left: o.retries_left,
        next: o.next.as_str().to_owned(),
    }
}

/// Exchange an onboarding link for a flow token.
#[utoipa::path(
    post, path = "/flow/api/open", tag = "hosted flow",
    request_body = wire::OpenRequest,
    responses((status = 200, body = wire::OpenResponse), (status = 401, description = "Unknown or expired link", body = ErrorBody))
)]
pub async fn open(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<wire::OpenRequest>,
) -> ApiResult<wire::OpenResponse> {
    let (token, flow) = state.capturing.open(&body.link).await?;
    Ok(ApiJson(wire::OpenResponse { flow_token: token.expose().to_owned(), state: state_response(&flow) }))
}

/// Where the person is in the flow.
#[utoipa::path(
    get, path = "/flow/api/state", tag = "hosted flow",
    security(("flowToken" = [])),
    responses((status = 200, body = wire::FlowStateResponse), (status = 401, body = ErrorBody))
)]
pub async fn flow_state(State(state): State<AppState>, Flow(flow): Flow) -> ApiResult<wire::FlowStateResponse> {
    Ok(ApiJson(state_response(&state.capturing.state(flow).await?)))
}

/// Record the person's consent.
#[utoipa::path(
    post, path = "/flow/api/consent", tag = "hosted flow",
    security(("flowToken" = [])),
    responses((status = 200, body = wire::FlowStateResponse), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody))
)]
pub async fn consent(State(state): State<AppState>, Flow(flow): Flow) -> ApiResult<wire::FlowStateResponse> {
    Ok(ApiJson(state_response(&state.capturing.consent(flow).await?)))
}

#[derive(Debug, Default, Deserialize)]
pub struct CaptureQuery {
    /// `camera` (default) or `upload`.
    #[serde(default)]
    pub source: Option<String>,
    /// Guide frame `x,y,w,h` in 0..1 (documents).
    #[serde(default)]
    pub crop: Option<String>,
}

fn source(query: &CaptureQuery) -> Result<CaptureSource, ApiError> {
    match query.source.as_deref() {
        None | Some("camera") => Ok(CaptureSource::Camera),
        Some("upload") => Ok(CaptureSource::Upload),
        Some(_) => Err(ApiError::bad_request("source must be camera or upload")),
    }
}

fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    headers
        .get("idempotency-key")
        .map(|v| v.to_str().map(str::to_owned).map_err(|_| ApiError::bad_request("Idempotency-Key must be ASCII")))
        .transpose()
}

/// Images the engine decodes; everything else is refused before any work.
fn check_image_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    match essence.as_str() {
        "image/jpeg" | "image/png" | "image/webp" => Ok(()),
        _ => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send the image as the body with Content-Type image/jpeg, image/png or image/webp",
        )),
    }
}

/// Upload a document side or a selfie; answers at once whether to retake.
#[utoipa::path(
    post, path = "/flow/api/capture/{kind}", tag = "hosted flow",
    security(("flowToken" = [])),
    params(
        ("kind" = String, Path, description = "front, back or selfie"),
        ("source" = Option<String>, Query, description = "camera or upload"),
        ("crop" = Option<String>, Query, description = "guide frame x,y,w,h in 0..1"),
        ("Idempotency-Key" = Option<String>, Header, description = "retry-safe key, up to 64 characters"),
    ),
    request_body(content = Vec<u8>, content_type = "image/jpeg"),
    responses(
        (status = 200, body = wire::CaptureResponse),
        (status = 400, description = "Not a usable image, or the session is not capturing", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 413, body = ErrorBody),
        (status = 415, body = ErrorBody),
        (status = 429, description = "Too many uploads for this session or from this address", body = ErrorBody),
        (status = 503, description = "At capacity: retry after Retry-After", body = ErrorBody),
    )
)]
pub async fn capture(
    State(state): State<AppState>,
    Flow(flow): Flow,
    Path(kind): Path<String>,
    ApiQuery(query): ApiQuery<CaptureQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<wire::CaptureResponse> {
    let Some(kind @ (CaptureKind::Front | CaptureKind::Back | CaptureKind::Selfie)) = CaptureKind::parse(&kind) else {
        return Err(ApiError::not_found("capture kinds are front, back and selfie"));
    };
    state.guards.throttle.upload(flow.session_id())?;
    check_image_type(&headers)?;
    let crop = query
        .crop
        .as_deref()
        .map(|c| RelativeRect::parse(c).ok_or_else(|| ApiError::bad_request("crop must be x,y,w,h within 0..1")))
        .transpose()?;
    let outcome = state
        .capturing
        .capture(flow, kind, Vec::from(body), source(&query)?, crop, idempotency_key(&headers)?.as_deref())
        .await?;
    Ok(ApiJson(capture_response(&outcome)))
}

/// Start a head-turn challenge: a random direction, and how to film the answer.
#[utoipa::path(
    post, path = "/flow/api/challenge", tag = "hosted flow",
    security(("flowToken" = [])),
    responses((status = 200, body = wire::ChallengeResponse), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody))
)]
pub async fn challenge(State(state): State<AppState>, Flow(flow): Flow) -> ApiResult<wire::ChallengeResponse> {
    let c = state.capturing.start_challenge(flow).await?;
    let film = &HEAD_TURN_FILM;
    Ok(ApiJson(wire::ChallengeResponse {
        challenge_id: c.id.to_string(),
        direction: c.direction.as_str().to_owned(),
        expires_at: unix_millis(c.expires_at),
        film: wire::FilmSpec {
            interval_ms: film.interval_ms,
            prompt_at_ms: c.prompt_at_ms,
            after_prompt_ms: film.after_prompt_ms,
            crop_height: film.crop_height,
            crop_aspect: film.crop_aspect,
            max_side: film.max_side,
            quality: film.quality,
            key_max_side: film.key_max_side,
            key_quality: film.key_quality,
            max_frames: u32::try_from(MAX_CHALLENGE_FRAMES).unwrap_or(u32::MAX),
        },
    }))
}

/// Answer a challenge with its film (multipart: parts named `frame` in capture order, a
/// `timestamps` part with their times as a JSON array of milliseconds from the first, and an
/// optional sharper first frame named `key`).
#[utoipa::path(
    post, path = "/flow/api/challenge/{challengeId}/frames", tag = "hosted flow",
    security(("flowToken" = [])),
    params(("challengeId" = String, Path), ("source" = Option<String>, Query, description = "camera or upload"),
           ("Idempotency-Key" = Option<String>, Header)),
    request_body(content_type = "multipart/form-data", description = "parts named frame (JPEG), timestamps (JSON array of ms), key (JPEG, optional)"),
    responses((status = 200, body = wire::CaptureResponse), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, description = "The same upload is still being judged", body = ErrorBody),
              (status = 413, body = ErrorBody), (status = 415, body = ErrorBody))
)]
pub async fn frames(
    State(state): State<AppState>,
    Flow(flow): Flow,
    Path(challenge): Path<String>,
    ApiQuery(query): ApiQuery<CaptureQuery>,
    headers: HeaderMap,
    mut multipart: Multipart,
) -> ApiResult<wire::CaptureResponse> {
    let challenge = ChallengeId::parse(&challenge).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let mut frames = Vec::new();
    let mut key = None;
    let mut timestamps: Option<Vec<u32>> = None;
    while let Some(field) = multipart.next_field().await.map_err(multipart_error)? {
        match field.name() {
            Some(name @ ("frame" | "key")) => {
                let content_type = field.content_type().unwrap_or("").to_ascii_lowercase();
                if !matches!(content_type.as_str(), "image/jpeg" | "image/png" | "image/webp") {
                    return Err(ApiError::new(
                        StatusCode::UNSUPPORTED_MEDIA_TYPE,
                        "frames must be image/jpeg, image/png or image/webp",
                    ));
                }
                let is_key = name == "key";
                if !is_key && frames.len() == MAX_CHALLENGE_FRAMES {
                    return Err(ApiError::bad_request(format!("at most {MAX_CHALLENGE_FRAMES} frames")));
                }
                let bytes = field.bytes().await.map_err(multipart_error)?.to_vec();
                if is_key {
                    key = Some(bytes);
                } else {
                    frames.push(bytes);
                }
            }
            Some("timestamps") => {
                let text = field.text().await.map_err(multipart_error)?;
                let parsed = serde_json::from_str(&text)
                    .map_err(|_| ApiError::bad_request("timestamps must be a JSON array of milliseconds"))?;
                timestamps = Some(parsed);
            }
            _ => {}
        }
    }
    let timestamps = timestamps.ok_or_else(|| ApiError::bad_request("the timestamps part is missing"))?;
    let film = Film::new(frames, &timestamps, key).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let outcome = state
        .capturing
        .answer_challenge(flow, challenge, film, source(&query)?, idempotency_key(&headers)?.as_deref())
        .await?;
    Ok(ApiJson(capture_response(&outcome)))
}

fn multipart_error(e: axum::extract::multipart::MultipartError) -> ApiError {
    let status = e.status();
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(status, "the frames are too large together")
    } else {
        ApiError::bad_request(format!("malformed multipart body: {}", e.body_text()))
    }
}

/// Submit the captures for verification.
#[utoipa::path(
    post, path = "/flow/api/submit", tag = "hosted flow",
    security(("flowToken" = [])),
    responses((status = 200, body = wire::FlowStateResponse), (status = 400, description = "A step is missing", body = ErrorBody), (status = 401, body = ErrorBody))
)]
pub async fn submit(State(state): State<AppState>, Flow(flow): Flow) -> ApiResult<wire::FlowStateResponse> {
    Ok(ApiJson(state_response(&state.capturing.submit(flow).await?)))
}

/// A fresh link (and its QR code) to continue on a phone.
#[utoipa::path(
    post, path = "/flow/api/handoff", tag = "hosted flow",
    security(("flowToken" = [])),
    responses((status = 200, body = wire::HandoffResponse), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody))
)]
pub async fn handoff(State(state): State<AppState>, Flow(flow): Flow) -> ApiResult<wire::HandoffResponse> {
    let link = state.capturing.handoff(flow).await?;
    let qr = qrcode::QrCode::new(link.url.as_bytes()).map_err(|e| ApiError::internal(&e))?;
    let qr_svg = qr.render::<qrcode::render::svg::Color<'_>>().min_dimensions(200, 200).build();
    Ok(ApiJson(wire::HandoffResponse { url: link.url, qr_svg }))
}
