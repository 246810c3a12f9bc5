//! A reference integrator: the backend and page that the embedded-iframe guide asks a company
//! to write, built on `veriframe-client` with its own SQLite database.
//!
//! It speaks only Incode Omni's partner API (`/omni/start` with `x-api-key`, then `/0/omni/...`
//! with the session token in `X-Incode-Hardware-Id`, `api-version: 1.0` everywhere), so the same
//! binary works against veriframe and against Incode: only the base URL, key and flow id change.
//!
//! | guide step | here |
//! |---|---|
//! | 1.1–1.4 create the session, save it, get the URL | `POST /create-session-and-onboarding-url` |
//! | 2 iframe, 4 poll, 5 close, 6 show the outcome | `GET /` and `GET /app.js` |
//! | 3 onboarding status | `GET /onboarding-status?interviewId=` |
//! | 6 scores → decision | `GET /fetch-score?interviewId=` |
//!
//! The library exposes [`router`] so tests (and other binaries) can serve it on any listener.
#![forbid(unsafe_code)]

pub mod db;
mod decision;
mod error;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use veriframe_client::wire::StartRequest;
use veriframe_client::{Client, ClientError};

pub use db::Db;
pub use decision::{Checks, Decision, decide};
pub use error::AppError;

/// The page of guide steps 2, 4, 5 and 6, and its script. Embedded so the binary is all there is
/// to deploy.
const INDEX_HTML: &str = include_str!("../static/index.html");
const APP_JS: &str = include_str!("../static/app.js");

/// Longest `userId` accepted; Incode's dashboard searches on `externalCustomerId`, so it should
/// be an identifier, not a document.
const MAX_USER_ID: usize = 128;

/// How the app reaches the verification API.
#[derive(Clone)]
pub struct Settings {
    /// Root of the partner API: veriframe's address, or `https://demo-api.incodesmile.com`.
    pub api_url: String,
    /// The tenant's API key, sent as `x-api-key` to `/omni/start` only.
    pub api_key: String,
    /// The flow (`configurationId`) every session is started on.
    pub flow_id: String,
    /// `countryCode` for `/omni/start`; `ALL` lets the person use any country's document.
    pub country_code: String,
    /// `language` for `/omni/start`: the hosted flow's language.
    pub language: String,
    /// Upper bound on one call to the verification API, from connecting to the last body byte.
    /// A hung server turns into a 504 after this long instead of a hung page.
    pub request_timeout: Duration,
    /// Upper bound on establishing the connection (a black-holed address fails this fast).
    pub connect_timeout: Duration,
}

// The API key is a secret: never print it.
impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("api_url", &self.api_url)
            .field("flow_id", &self.flow_id)
            .field("country_code", &self.country_code)
            .field("language", &self.language)
            .field("request_timeout", &self.request_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .finish_non_exhaustive()
    }
}

impl Settings {
    /// Settings with the guide's defaults (`countryCode: ALL`, `language: en-US`) and timeouts
    /// short enough that a page polling every second notices an outage within seconds.
    pub fn new(api_url: impl Into<String>, api_key: impl Into<String>, flow_id: impl Into<String>) -> Self {
        Self {
            api_url: api_url.into(),
            api_key: api_key.into(),
            flow_id: flow_id.into(),
            country_code: "ALL".into(),
            language: "en-US".into(),
            request_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(3),
        }
    }
}

/// Shared by every request.
#[derive(Debug, Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    client: Client,
    db: Db,
    settings: Settings,
}

impl AppState {
    /// Builds the API client with the configured timeouts. Fails on an unusable base URL.
    pub fn new(settings: Settings, db: Db) -> Result<Self, ClientError> {
        let http = reqwest::Client::builder()
            .timeout(settings.request_timeout)
            .connect_timeout(settings.connect_timeout)
            .user_agent(concat!("veriframe-integrator/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let client = Client::with_http_client(&settings.api_url, http)?.with_api_key(&settings.api_key);
        Ok(Self { inner: Arc::new(Inner { client, db, settings }) })
    }

    pub fn db(&self) -> &Db {
        &self.inner.db
    }

    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }
}

/// All routes of the app. Unknown routes and wrong methods answer JSON errors like the rest.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/app.js", get(script))
        .route("/create-session-and-onboarding-url", post(create_session))
        .route("/onboarding-status", get(onboarding_status))
        .route("/fetch-score", get(fetch_score))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn(error::render_errors))
        .with_state(state)
}

async fn index() -> Response {
    static_file("text/html; charset=utf-8", INDEX_HTML)
}

async fn script() -> Response {
    static_file("text/javascript; charset=utf-8", APP_JS)
}

fn static_file(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        ],
        body,
    )
        .into_response()
}

async fn not_found() -> AppError {
    AppError::new(StatusCode::NOT_FOUND, "no such route")
}

async fn method_not_allowed() -> AppError {
    AppError::new(StatusCode::METHOD_NOT_ALLOWED, "method not allowed on this route")
}

/// Body of `POST /create-session-and-onboarding-url`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateSessionRequest {
    /// Your user's id. A real app takes it from its own login session, never from the page; the
    /// demo page lets you type it.
    pub user_id: String,
}

/// Step 1.4: what the page needs.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreatedSession {
    pub url: String,
    pub interview_id: String,
}

/// Step 3's answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusResponse {
    pub onboarding_status: String,
}

/// `?interviewId=` of steps 3 and 6.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InterviewQuery {
    pub interview_id: String,
}

/// Step 1: create the session (1.1), save it (1.2), get its onboarding URL (1.3), return both
/// (1.4).
async fn create_session(
    State(state): State<AppState>,
    body: Result<axum::Json<CreateSessionRequest>, JsonRejection>,
) -> Result<axum::Json<CreatedSession>, AppError> {
    let axum::Json(body) = body.map_err(|e| AppError::new(StatusCode::BAD_REQUEST, e.body_text()))?;
    let user_id = body.user_id.trim();
    if user_id.is_empty() || user_id.chars().count() > MAX_USER_ID || user_id.chars().any(char::is_control) {
        return Err(AppError::new(
            StatusCode::BAD_REQUEST,
            format!("userId must be 1 to {MAX_USER_ID} characters, without control characters"),
        ));
    }
    let inner = &state.inner;
    let request = StartRequest {
        configuration_id: Some(inner.settings.flow_id.clone()),
        country_code: Some(inner.settings.country_code.clone()),
        language: Some(inner.settings.language.clone()),
        external_customer_id: Some(user_id.to_owned()),
        ..StartRequest::default()
    };
    let started = inner
        .client
        .start(&request)
        .await
        .map_err(|e| AppError::upstream(e, "creating the session", state.settings()))?;
    inner.db.insert_session(user_id, &started.interview_id, &started.token).await.map_err(AppError::database)?;
    let url = inner
        .client
        .session(&started.token)
        .onboarding_url()
        .await
        .map_err(|e| AppError::upstream(e, "generating the onboarding URL", state.settings()))?
        .url;
    Ok(axum::Json(CreatedSession { url, interview_id: started.interview_id }))
}

/// Looks the stored session up; 404 when this app never created it.
async fn stored(
    state: &AppState,
    query: Result<Query<InterviewQuery>, QueryRejection>,
) -> Result<db::StoredSession, AppError> {
    let Query(query) =
        query.map_err(|_| AppError::new(StatusCode::BAD_REQUEST, "the interviewId query parameter is required"))?;
    state
        .inner
        .db
        .session(&query.interview_id)
        .await
        .map_err(AppError::database)?
        .ok_or_else(|| AppError::new(StatusCode::NOT_FOUND, "no onboarding session with this interviewId"))
}

/// Step 3: the status the page polls, read with the stored token.
async fn onboarding_status(
    State(state): State<AppState>,
    query: Result<Query<InterviewQuery>, QueryRejection>,
) -> Result<axum::Json<StatusResponse>, AppError> {
    let session = stored(&state, query).await?;
    let status = state
        .inner
        .client
        .session(&session.token)
        .status()
        .await
        .map_err(|e| AppError::upstream(e, "reading the onboarding status", state.settings()))?;
    Ok(axum::Json(StatusResponse { onboarding_status: status.onboarding_status }))
}

/// Step 6: the decision, derived from the score once the onboarding is over, and kept.
async fn fetch_score(
    State(state): State<AppState>,
    query: Result<Query<InterviewQuery>, QueryRejection>,
) -> Result<axum::Json<Decision>, AppError> {
    let session = stored(&state, query).await?;
    let api = state.inner.client.session(&session.token);
    let status = api
        .status()
        .await
        .map_err(|e| AppError::upstream(e, "reading the onboarding status", state.settings()))?
        .onboarding_status;
    // Scores are only a decision once the session is over; before that, say so instead of
    // presenting partial results as an outcome.
    let score = if decision::is_over(&status) && status != "EXPIRED" {
        Some(api.score().await.map_err(|e| AppError::upstream(e, "fetching the score", state.settings()))?)
    } else {
        None
    };
    let decision = decide(&session.interview_id, &status, score.as_ref());
    state
        .inner
        .db
        .record_decision(
            &session.interview_id,
            &db::StoredDecision {
                status: &decision.status,
                is_final: decision.finished,
                reason: &decision.reason,
                id_validation: decision.checks.id_validation.as_deref(),
                liveness: decision.checks.liveness.as_deref(),
                face_recognition: decision.checks.face_recognition.as_deref(),
            },
        )
        .await
        .map_err(AppError::database)?;
    Ok(axum::Json(decision))
}
