//! Errors as JSON in the partner API's shape (`timestamp`, `status`, `error`, `message`, `path`),
//! so the page handles the integrator's errors and the provider's the same way. Failures of the
//! verification API become 502 (it answered badly or not at all) or 504 (it did not answer in
//! time), with a message that says what to do, plus the upstream status and request id so the
//! call can be found in the provider's log.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use veriframe_client::ClientError;

use crate::Settings;

/// An error answer. Rendered by [`render_errors`], which knows the request path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppError {
    pub status: StatusCode,
    pub message: String,
    /// The verification API's HTTP status, when it answered with an error.
    pub upstream_status: Option<u16>,
    /// The verification API's `x-request-id`, when it sent one.
    pub upstream_request_id: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Body<'a> {
    timestamp: i64,
    status: u16,
    error: &'a str,
    message: &'a str,
    path: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    upstream_status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    upstream_request_id: Option<&'a str>,
}

impl AppError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self { status, message: message.into(), upstream_status: None, upstream_request_id: None }
    }

    /// The integrator's own database failed; the detail goes to the log only.
    pub(crate) fn database(e: sqlx::Error) -> Self {
        tracing::error!(error = %e, "database error");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "the integrator's database failed; see its log")
    }

    /// A failed call to the verification API while doing `what` (e.g. "creating the session").
    pub(crate) fn upstream(e: ClientError, what: &str, settings: &Settings) -> Self {
        let base = settings.api_url.trim_end_matches('/');
        let api = format!("the verification API at {base}");
        let error = match e {
            ClientError::Transport(err) => {
                let cause = root_cause(&err);
                if err.is_timeout() && err.is_connect() {
                    Self::new(
                        StatusCode::GATEWAY_TIMEOUT,
                        format!(
                            "could not connect to {api} within {}s while {what} ({cause}); it is down or unreachable",
                            settings.connect_timeout.as_secs_f32()
                        ),
                    )
                } else if err.is_timeout() {
                    Self::new(
                        StatusCode::GATEWAY_TIMEOUT,
                        format!(
                            "{api} did not answer within {}s while {what}; it is overloaded or hung",
                            settings.request_timeout.as_secs_f32()
                        ),
                    )
                } else if err.is_connect() {
                    Self::new(
                        StatusCode::BAD_GATEWAY,
                        format!("cannot reach {api} while {what} ({cause}); is it running, and is --api-url right?"),
                    )
                } else {
                    Self::new(StatusCode::BAD_GATEWAY, format!("talking to {api} failed while {what}: {cause}"))
                }
            }
            ClientError::Api { status, body, request_id } => {
                let upstream = &body.message;
                let message = match status {
                    403 => format!(
                        "{api} refused this app's API key while {what} (HTTP 403: {upstream}). The key is missing, \
                         unknown or revoked: create a new one (`veriframe keys create`) and restart the integrator \
                         with it"
                    ),
                    401 => format!(
                        "{api} refused the session token stored for this interview while {what} (HTTP 401: \
                         {upstream}); it expired or belongs to another tenant, so start a new session"
                    ),
                    400 => format!(
                        "{api} rejected the request while {what} (HTTP 400: {upstream}); check --flow-id and the \
                         other settings"
                    ),
                    _ => format!("{api} answered HTTP {status} while {what}: {upstream}"),
                };
                Self {
                    status: StatusCode::BAD_GATEWAY,
                    message,
                    upstream_status: Some(status),
                    upstream_request_id: request_id,
                }
            }
            ClientError::Status { status, request_id } => Self {
                status: StatusCode::BAD_GATEWAY,
                message: format!(
                    "{api} answered HTTP {status} without an error body while {what}; is a proxy in between, or is \
                     --api-url not the API's root?"
                ),
                upstream_status: Some(status),
                upstream_request_id: request_id,
            },
            ClientError::Decode(detail) => Self::new(
                StatusCode::BAD_GATEWAY,
                format!("the answer of {api} while {what} did not parse ({detail}); is --api-url the API's root?"),
            ),
            ClientError::BaseUrl(detail) => {
                Self::new(StatusCode::INTERNAL_SERVER_ERROR, format!("the verification API URL is unusable: {detail}"))
            }
        };
        // No token, key or user id here: only what identifies the failing call.
        tracing::warn!(
            status = error.status.as_u16(),
            upstream_status = error.upstream_status,
            upstream_request_id = error.upstream_request_id.as_deref(),
            what,
            "verification API call failed"
        );
        error
    }

    fn render(&self, path: &str) -> Response {
        let body = Body {
            timestamp: now_ms(),
            status: self.status.as_u16(),
            error: self.status.canonical_reason().unwrap_or("Error"),
            message: &self.message,
            path,
            upstream_status: self.upstream_status,
            upstream_request_id: self.upstream_request_id.as_deref(),
        };
        (self.status, axum::Json(body)).into_response()
    }
}

impl IntoResponse for AppError {
    /// Renders without a path and leaves the error for [`render_errors`] to render again with it.
    fn into_response(self) -> Response {
        let mut response = self.render("");
        response.extensions_mut().insert(self);
        response
    }
}

/// Middleware: fills in the request path of error answers.
pub(crate) async fn render_errors(request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let mut response = next.run(request).await;
    match response.extensions_mut().remove::<AppError>() {
        Some(error) => error.render(&path),
        None => response,
    }
}

/// The innermost cause ("Connection refused (os error 111)") says more than reqwest's wrapper.
fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = err;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX)).unwrap_or(0)
}
