//! The one place where failures become HTTP responses.
//!
//! Handlers and extractors return [`ApiError`], which carries a status and a message that is
//! safe to show. [`render_errors`] then gives *every* error response — ours, axum's 404/405,
//! body-limit 413s, timeouts, caught panics — Incode's body
//! `{timestamp, status, error, message, path}`.

use axum::extract::{Request, rejection::JsonRejection, rejection::QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::time::Duration;
use veriframe_api_types::ErrorBody;

use veriframe_core::ports::StoreError;
use veriframe_core::service::{CredentialProblem, ServiceError};

use crate::throttle::Limited;

/// An error with a status and a caller-safe message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    /// The body's `code`, when there is one.
    pub code: Option<&'static str>,
    /// Sent as `Retry-After` (whole seconds, at least one).
    pub retry_after: Option<Duration>,
    /// The caller presented an API key, token or link that does not exist: counted against its
    /// address by [`crate::middleware::credential_guard`].
    pub unknown_credential: bool,
}

/// The message and code, stashed in the response for [`render_errors`].
#[derive(Debug, Clone)]
struct ErrorMessage(String, Option<&'static str>);

/// Marks a response that refused an unknown credential.
#[derive(Debug, Clone, Copy)]
pub(crate) struct UnknownCredential;

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self { status, message: message.into(), code: None, retry_after: None, unknown_credential: false }
    }

    /// 429 from a throttle.
    pub fn limited(limited: Limited) -> Self {
        Self {
            code: Some("RATE_LIMITED"),
            retry_after: Some(limited.retry_after),
            ..Self::new(StatusCode::TOO_MANY_REQUESTS, format!("{}; retry later", limited.reason))
        }
    }

    /// 503 from admission control: nothing was done, and the caller may retry.
    pub fn busy(retry_after: Duration) -> Self {
        Self {
            code: Some("SERVER_BUSY"),
            retry_after: Some(retry_after),
            ..Self::new(StatusCode::SERVICE_UNAVAILABLE, "the server is at capacity; retry after the Retry-After delay")
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    /// A server-side failure: the detail goes to the log (inside the request span, so it
    /// carries the request id) and the caller gets a generic message.
    pub fn internal(detail: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "request failed");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error; the request id identifies it in the server log")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = self.status.into_response();
        if let Some(wait) = self.retry_after {
            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
        }
        if self.unknown_credential {
            response.extensions_mut().insert(UnknownCredential);
        }
        response.extensions_mut().insert(ErrorMessage(self.message, self.code));
        response
    }
}

impl From<Limited> for ApiError {
    fn from(limited: Limited) -> Self {
        Self::limited(limited)
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::ApiKey(problem) => Self {
                unknown_credential: problem == CredentialProblem::Invalid,
                ..Self::new(StatusCode::FORBIDDEN, e.to_string())
            },
            ServiceError::Token(problem) => Self {
                unknown_credential: problem == CredentialProblem::Invalid,
                ..Self::new(StatusCode::UNAUTHORIZED, e.to_string())
            },
            ServiceError::Login => Self::new(StatusCode::UNAUTHORIZED, e.to_string()),
            ServiceError::Image(_) => Self { code: Some("UNREADABLE_IMAGE"), ..Self::bad_request(e.to_string()) },
            ServiceError::Throttled { reason, retry_after } => Self::limited(Limited { reason, retry_after }),
            ServiceError::Busy { retry_after } => Self::busy(retry_after),
            ServiceError::NotFound(_) => Self::not_found(e.to_string()),
            ServiceError::Invalid(_) | ServiceError::State(_) => Self::bad_request(e.to_string()),
            ServiceError::Conflict(_) => Self::new(StatusCode::CONFLICT, e.to_string()),
            ServiceError::Store(StoreError::Unavailable(detail)) => {
                tracing::warn!(error = %detail, "storage unavailable");
                Self::new(StatusCode::SERVICE_UNAVAILABLE, "storage is temporarily unavailable; retry shortly")
            }
            ServiceError::Store(other) => Self::internal(&other),
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::MissingJsonContentType(_) => Self::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "expected a JSON body with the header Content-Type: application/json",
            ),
            JsonRejection::JsonSyntaxError(e) => Self::bad_request(format!("malformed JSON: {}", e.body_text())),
            JsonRejection::JsonDataError(e) => Self::bad_request(format!("invalid JSON body: {}", e.body_text())),
            JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Self::new(StatusCode::PAYLOAD_TOO_LARGE, "request body too large")
            }
            other => Self::bad_request(other.body_text()),
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        Self::bad_request(format!("invalid query string: {}", rejection.body_text()))
    }
}

/// Middleware: renders the Incode error body for every error response that lacks one.
pub async fn render_errors(request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let method = request.method().clone();
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let already_json =
        response.headers().get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    let stashed = response.extensions().get::<ErrorMessage>().cloned();
    if already_json && stashed.is_none() {
        return response;
    }
    let (message, code) = match stashed {
        Some(ErrorMessage(message, code)) => (message, code),
        None => (default_message(status, &method), None),
    };
    let (mut parts, _) = response.into_parts();
    let body = ErrorBody {
        timestamp: veriframe_core::clock::unix_millis(time::OffsetDateTime::now_utc()),
        status: status.as_u16(),
        error: status.canonical_reason().unwrap_or("Error").to_owned(),
        message,
        path,
        code: code.map(str::to_owned),
    };
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, axum::body::Body::from(bytes))
}

fn default_message(status: StatusCode, method: &axum::http::Method) -> String {
    match status {
        StatusCode::NOT_FOUND => "no such endpoint".into(),
        StatusCode::METHOD_NOT_ALLOWED => format!("method {method} is not allowed on this endpoint"),
        StatusCode::PAYLOAD_TOO_LARGE => "request body too large".into(),
        StatusCode::REQUEST_TIMEOUT => "the request took too long".into(),
        StatusCode::INTERNAL_SERVER_ERROR => "internal error; the request id identifies it in the server log".into(),
        other => other.canonical_reason().unwrap_or("error").to_lowercase(),
    }
}
