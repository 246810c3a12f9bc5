//! Extractors whose failures are [`ApiError`]s, so malformed input gets our error body, and the
//! credential extractors that turn headers into the domain's proof types.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use veriframe_core::auth::{KeyAuth, SessionAccess, TokenAuth};
use veriframe_core::ids::InterviewId;

use crate::error::ApiError;
use crate::state::AppState;

/// Header carrying the tenant API key.
pub const API_KEY_HEADER: &str = "x-api-key";
/// Header carrying a session or executive token (Incode's name).
pub const TOKEN_HEADER: &str = "x-incode-hardware-id";
/// Header carrying the API version.
pub const API_VERSION_HEADER: &str = "api-version";

/// JSON body; rejections become our error body.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(req.headers()) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "expected a JSON body with the header Content-Type: application/json",
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| match e.status() {
            StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "request body too large"),
            _ => ApiError::bad_request(e.body_text()),
        })?;
        // Refused here, for every endpoint and both stores alike: PostgreSQL cannot store NUL in
        // text, SQLite would, and no field has a use for it.
        if holds_nul(&bytes) {
            return Err(ApiError::bad_request("text may not contain NUL characters (\\u0000)"));
        }
        let axum::Json(value) = axum::Json::<T>::from_bytes(&bytes)?;
        Ok(Self(value))
    }
}

/// `application/json` or `application/*+json`, as axum's own extractor accepts.
fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else { return false };
    let essence = value.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Whether JSON text holds a NUL character: raw, or escaped as `\u0000` inside a string (an
/// escaped backslash followed by `u0000` is text, not a NUL).
pub(crate) fn holds_nul(json: &[u8]) -> bool {
    let mut i = 0;
    while i < json.len() {
        match json[i] {
            0 => return true,
            b'\\' if json.get(i + 1) == Some(&b'u') && json.get(i + 2..i + 6) == Some(b"0000".as_slice()) => {
                return true;
            }
            b'\\' => i += 2,
            _ => i += 1,
        }
    }
    false
}

impl<T: serde::Serialize> IntoResponse for ApiJson<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// Query string; rejections become our error body.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Query(value) = axum::extract::Query::<T>::from_request_parts(parts, state).await?;
        Ok(Self(value))
    }
}

fn header<'a>(parts: &'a Parts, name: &str) -> Result<Option<&'a str>, ApiError> {
    parts
        .headers
        .get(name)
        .map(|v| v.to_str().map_err(|_| ApiError::bad_request(format!("header {name} must be ASCII"))))
        .transpose()
}

/// A valid `x-api-key`, within its key's rate.
#[derive(Debug, Clone)]
pub struct ApiKey(pub KeyAuth);

impl FromRequestParts<AppState> for ApiKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let presented = header(parts, API_KEY_HEADER)?;
        let key = state.onboarding.authenticate_key(presented).await?;
        state.guards.throttle.api_key(key.tenant().id, key.key_id())?;
        Ok(Self(key))
    }
}

/// A valid session or executive token in `X-Incode-Hardware-Id`.
#[derive(Debug, Clone, Copy)]
pub struct Token(pub TokenAuth);

impl FromRequestParts<AppState> for Token {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let presented = header(parts, TOKEN_HEADER)?;
        Ok(Self(state.onboarding.authenticate_token(presented).await?))
    }
}

/// The raw `X-Incode-Hardware-Id` value, for handlers that check it themselves.
#[derive(Debug, Clone)]
pub struct PresentedToken(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for PresentedToken {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(header(parts, TOKEN_HEADER)?.map(str::to_owned)))
    }
}

/// `?id=<interviewId>`; other query parameters (`clientId`, `flowId`, `verbose`, ...) are
/// accepted and ignored.
#[derive(Debug, Default, Deserialize)]
pub struct IdQuery {
    #[serde(default)]
    pub id: Option<String>,
}

impl IdQuery {
    pub fn interview_id(&self) -> Result<Option<InterviewId>, ApiError> {
        match self.id.as_deref().map(str::trim) {
            None | Some("") => Ok(None),
            Some(id) => InterviewId::parse(id).map(Some).map_err(|e| ApiError::bad_request(format!("id: {e}"))),
        }
    }
}

/// Access to one session through a `/0/omni/...` route: the token alone, within its tenant's
/// rate.
#[derive(Debug, Clone, Copy)]
pub struct ZeroAccess(pub SessionAccess);

impl FromRequestParts<AppState> for ZeroAccess {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let Token(token) = Token::from_request_parts(parts, state).await?;
        state.guards.throttle.session_token(token.tenant_id())?;
        let ApiQuery(query) = ApiQuery::<IdQuery>::from_request_parts(parts, state).await?;
        Ok(Self(state.onboarding.access_zero(&token, query.interview_id()?)?))
    }
}

/// Access to one session through an `/omni/...` route: API key and token of the same tenant.
#[derive(Debug, Clone, Copy)]
pub struct KeyedAccess(pub SessionAccess);

impl FromRequestParts<AppState> for KeyedAccess {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let ApiKey(key) = ApiKey::from_request_parts(parts, state).await?;
        let Token(token) = Token::from_request_parts(parts, state).await?;
        let ApiQuery(query) = ApiQuery::<IdQuery>::from_request_parts(parts, state).await?;
        Ok(Self(state.onboarding.access_keyed(&key, &token, query.interview_id()?)?))
    }
}

#[cfg(test)]
mod tests {
    use super::holds_nul;

    #[test]
    fn nul_is_found_raw_and_escaped_but_not_in_escaped_backslashes() {
        assert!(holds_nul(br#"{"a":"x\u0000y"}"#));
        assert!(holds_nul(b"{\"a\":\"x\0\"}"));
        assert!(!holds_nul(br#"{"a":"x\\u0000y"}"#), "an escaped backslash, then text");
        assert!(!holds_nul(br#"{"a":"\u00e9\"\\"}"#));
        assert!(holds_nul(br#"{"a":"\\\u0000"}"#), "an escaped backslash, then a NUL");
    }
}
