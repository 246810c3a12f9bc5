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
use veriframe_api_types::ErrorBody;
use veriframe_core::ports::StoreError;
use veriframe_core::service::ServiceError;

/// An error with a status and a caller-safe message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

/// The message, stashed in the response for [`render_errors`].
#[derive(Debug, Clone)]
struct ErrorMessage(String);

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self { status, message: message.into() }
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
        response.extensions_mut().insert(ErrorMessage(self.message));
        response
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::ApiKey(_) => Self::new(StatusCode::FORBIDDEN, e.to_string()),
            ServiceError::Token(_) | ServiceError::Login => Self::new(StatusCode::UNAUTHORIZED, e.to_string()),
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
    let message = response.extensions().get::<ErrorMessage>().map(|m| m.0.clone());
    if already_json && message.is_none() {
        return response;
    }
    let message = message.unwrap_or_else(|| default_message(status, &method));
    let (mut parts, _) = response.into_parts();
    let body = ErrorBody {
        timestamp: veriframe_core::clock::unix_millis(time::OffsetDateTime::now_utc()),
        status: status.as_u16(),
        error: status.canonical_reason().unwrap_or("Error").to_owned(),
        message,
        path,
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
