//! Cross-cutting request handling: request ids, the request span, API version, timing.

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rand::Rng;
use tracing::Instrument;

use crate::error::ApiError;
use crate::extract::API_VERSION_HEADER;

pub static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
static PROCESSING_TIME: HeaderName = HeaderName::from_static("processing-time");

/// The request's id, available to handlers as an extension.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// Accepts a caller's `x-request-id` when it is short and plain, else makes one; opens the
/// request span (method, route *template* and id: never the raw path, which can hold an
/// onboarding-link secret, never headers); logs one line per request; echoes the id and the
/// processing time (Incode's `Processing-Time`, in ms) in the response.
pub async fn request_context(mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let incoming = request.headers().get(&REQUEST_ID).and_then(|v| v.to_str().ok()).filter(|id| {
        !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    });
    let id = incoming.map_or_else(new_request_id, str::to_owned);
    request.extensions_mut().insert(RequestId(id.clone()));
    let route = request.extensions().get::<MatchedPath>().map_or("(unmatched)", MatchedPath::as_str).to_owned();
    let method = request.method().clone();
    let span = tracing::info_span!("request", request_id = %id, method = %method, route = %route);
    let mut response = next.run(request).instrument(span.clone()).await;
    let elapsed = started.elapsed();
    let status = response.status();
    span.in_scope(|| {
        let ms = (elapsed.as_secs_f64() * 1e6).round() / 1e3;
        // Probes and successful status polls (every integrator polls every second or two per open
        // session) would drown everything else at INFO.
        let routine = route == "/healthz" || route == "/readyz" || route.ends_with("/get/onboarding/status");
        if routine && status.is_success() {
            tracing::debug!(status = status.as_u16(), ms, "response");
        } else if status.is_server_error() {
            tracing::warn!(status = status.as_u16(), ms, "response");
        } else {
            tracing::info!(status = status.as_u16(), ms, "response");
        }
    });
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&id) {
        headers.insert(REQUEST_ID.clone(), value);
    }
    if let Ok(value) = HeaderValue::from_str(&elapsed.as_millis().to_string()) {
        headers.insert(PROCESSING_TIME.clone(), value);
    }
    response
}

fn new_request_id() -> String {
    let bytes: [u8; 8] = rand::rng().random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `api-version`: Incode requires `1.0`. veriframe treats a missing header as `1.0` (the hosted
/// page, curl users and health checkers need not send it) and refuses any other version, so a
/// client written for a future API fails loudly instead of being misread.
pub async fn api_version(request: Request, next: Next) -> Response {
    match request.headers().get(API_VERSION_HEADER).map(|v| v.to_str().map(str::trim)) {
        None | Some(Ok("1.0" | "1")) => next.run(request).await,
        Some(Ok(other)) => {
            let shown: String = other.chars().take(20).collect();
            ApiError::new(StatusCode::BAD_REQUEST, format!("unsupported api-version {shown:?}; this server speaks 1.0"))
                .into_response()
        }
        Some(Err(_)) => ApiError::bad_request("api-version must be ASCII").into_response(),
    }
}
