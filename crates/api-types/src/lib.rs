//! Wire types of the partner API, shaped like Incode Omni's JSON and shared by the server
//! (`veriframe-http`) and the SDK (`veriframe-client`).
//!
//! Architecture invariant: these are plain data. Nothing here validates or knows about the
//! domain; the server parses them into domain types, the SDK hands them to its callers. A
//! change here is an API change and shows up in the committed `openapi.json`.
//!
//! Request types ignore unknown fields (Incode tolerates them and so do we); response types
//! serialise every documented field, `null` where nothing is known, so integrators' typed
//! clients always find the keys they expect.
#![forbid(unsafe_code)]

pub mod flow;
mod results;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use results::*;

/// Incode's error body, returned for every 4xx and 5xx.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// When the error happened, in milliseconds since the Unix epoch.
    pub timestamp: i64,
    /// The HTTP status code.
    pub status: u16,
    /// Short reason phrase, e.g. "Unauthorized".
    pub error: String,
    /// What went wrong and, where possible, how to fix it.
    pub message: String,
    /// The request path.
    pub path: String,
    /// A stable machine-readable reason, where one helps the caller decide what to do:
    /// `RATE_LIMITED` (429), `SERVER_BUSY` (503, retry after `Retry-After`), or the capture
    /// problem code of an image that cannot be used (`UNREADABLE_IMAGE`). Absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
}

/// `POST /omni/start` body. Every field is optional on the wire; `configurationId` is required
/// unless `interviewId` resumes an existing session.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StartRequest {
    /// The flow to run (a flow id from `veriframe flows list`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub configuration_id: Option<String>,
    /// `ALL`, or an ISO 3166 alpha-2/alpha-3 code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country_code: Option<String>,
    /// Language of the hosted flow, e.g. `en-US`, `es-ES`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// The integrator's own id for the person.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_customer_id: Option<String>,
    /// Deprecated alias of `externalCustomerId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(deprecated)]
    pub external_id: Option<String>,
    /// Where the hosted flow sends the person at the end (top-level runs only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirection_url: Option<String>,
    /// Alias of `redirectionUrl` used by some of Incode's guides.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(deprecated)]
    pub redirect_url: Option<String>,
    /// Flat key/value map kept with the session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub custom_fields: Option<serde_json::Value>,
    /// Resume this session: returns a new token for it and `existingSession: true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interview_id: Option<String>,
}

/// `POST /omni/start` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StartResponse {
    /// Session token: send it as `X-Incode-Hardware-Id` to the `/0/omni/...` endpoints. Keep it
    /// on your backend.
    pub token: String,
    /// 24 lowercase hex characters.
    pub interview_id: String,
    /// Short code to quote to support; grants nothing.
    pub interview_code: String,
    pub flow_type: String,
    /// Seconds.
    pub id_capture_timeout: u32,
    /// Seconds.
    pub id_detection_timeout: u32,
    /// Seconds.
    pub selfie_capture_timeout: u32,
    pub id_capture_retries: u32,
    pub selfie_capture_retries: u32,
    pub client_id: String,
    pub env: String,
    pub existing_session: bool,
    pub end_screen_title: String,
    pub end_screen_text: String,
    /// Marketing opt-in is not a veriframe feature: always `false`.
    pub optin_enabled: bool,
    pub optin_company_name: String,
    /// How long the link from `onboarding-url` may wait before it is first opened.
    pub onboarding_link_expiration_minutes: u32,
}

/// `GET /0/omni/onboarding-url` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OnboardingUrlResponse {
    /// Unique, unguessable link to the hosted flow for this session.
    pub url: String,
}

impl OnboardingUrlResponse {
    /// The link secret the URL ends with, which `POST /flow/api/open` takes.
    pub fn link(&self) -> Option<OnboardingLinkSecret> {
        OnboardingLinkSecret::from_url(&self.url)
    }
}

/// The secret at the end of an onboarding URL (`{publicUrl}/flow/{link}`): the one place a
/// client cuts it out of the URL. Its `Debug` never shows the value.
#[derive(Clone, PartialEq, Eq)]
pub struct OnboardingLinkSecret(String);

impl OnboardingLinkSecret {
    /// The secret of an onboarding URL, or `None` when the URL is not one (no `/flow/`
    /// segment, or anything but URL-safe characters after it).
    pub fn from_url(url: &str) -> Option<Self> {
        let (_, secret) = url.rsplit_once("/flow/")?;
        let url_safe = secret.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        (!secret.is_empty() && url_safe).then(|| Self(secret.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for OnboardingLinkSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OnboardingLinkSecret(…)")
    }
}

/// `GET /0/omni/get/onboarding/status` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OnboardingStatusResponse {
    /// One of `UNKNOWN`, `ID_VALIDATION_FINISHED`, `POST_PROCESSING_FINISHED`,
    /// `FACE_VALIDATION_FINISHED`, `ONBOARDING_FINISHED`, `MANUAL_REVIEW_APPROVED`,
    /// `MANUAL_REVIEW_REJECTED`, `EXPIRED`.
    pub onboarding_status: String,
}

/// `GET /omni/finish-status` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FinishStatusResponse {
    /// The session's `redirectionUrl`, else the flow's; empty when neither is set.
    pub redirection_url: String,
    /// `approved`, `rejected` or `none`.
    pub action: String,
}

/// `POST /executive/log-in` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ExecutiveLoginRequest {
    pub email: String,
    pub password: String,
}

/// `POST /executive/log-in` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ExecutiveLoginResponse {
    /// Executive token (24 h): send it as `X-Incode-Hardware-Id` with `x-api-key` and `?id=`.
    pub token: String,
}

/// `POST /0/omni/get/images` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ImagesRequest {
    /// Names of the images wanted, e.g. `["selfie", "croppedFace"]`.
    pub images: Vec<String>,
}

/// `GET /healthz` and `GET /readyz` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct HealthResponse {
    /// `ok`, or what is not ready.
    pub status: String,
}

#[cfg(test)]
mod tests {
    use super::OnboardingLinkSecret;

    #[test]
    fn a_link_secret_is_cut_from_an_onboarding_url_only() {
        let link = OnboardingLinkSecret::from_url("https://id.example.com/flow/vfl_AbC-d_9").unwrap();
        assert_eq!(link.expose(), "vfl_AbC-d_9");
        assert_eq!(format!("{link:?}"), "OnboardingLinkSecret(…)");
        for not_a_link in [
            "https://id.example.com/flow/",
            "https://id.example.com/other/vfl_x",
            "https://id.example.com/flow/vfl_x?y=1",
            "https://id.example.com/flow/a/b",
        ] {
            assert!(OnboardingLinkSecret::from_url(not_a_link).is_none(), "{not_a_link}");
        }
    }
}
