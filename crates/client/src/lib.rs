//! Typed async client for veriframe's partner API — which is Incode Omni's, so this client also
//! talks to Incode when pointed at it.
//!
//! ```no_run
//! # async fn demo() -> Result<(), veriframe_client::ClientError> {
//! use veriframe_client::{Client, wire::StartRequest};
//! let client = Client::new("http://127.0.0.1:8080")?.with_api_key("vfk_...");
//! let started = client
//!     .start(&StartRequest { configuration_id: Some("65283accd410a1dd7e965479".into()), ..Default::default() })
//!     .await?;
//! let session = client.session(&started.token);
//! let url = session.onboarding_url().await?.url;
//! let status = session.status().await?.onboarding_status;
//! # let _ = (url, status); Ok(()) }
//! ```
//!
//! Architecture invariant: depends on `veriframe-api-types` and an HTTP client only, never on
//! server crates.
#![forbid(unsafe_code)]

use std::time::Duration;

use reqwest::{Method, RequestBuilder, StatusCode};
use serde::de::DeserializeOwned;
pub use veriframe_api_types as wire;
use wire::ErrorBody;

/// What can go wrong talking to the server.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered with an error body.
    #[error("HTTP {status}: {}", body.message)]
    Api {
        status: u16,
        /// Boxed: the body is large and errors are the rare path.
        body: Box<ErrorBody>,
        /// The server's `x-request-id`, to find the request in its log.
        request_id: Option<String>,
    },
    /// The server answered with an error status but no error body (a proxy, say).
    #[error("HTTP {status} without an error body")]
    Status { status: u16, request_id: Option<String> },
    /// Could not reach the server, or it did not answer in time.
    #[error("request failed: {0}")]
    Transport(#[from] reqwest::Error),
    /// A 2xx response that does not parse as the expected type.
    #[error("unexpected response body: {0}")]
    Decode(String),
    /// The base URL is not usable.
    #[error("invalid base URL: {0}")]
    BaseUrl(String),
}

impl ClientError {
    /// The HTTP status, if the server answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Api { status, .. } | ClientError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

pub type Result<T, E = ClientError> = std::result::Result<T, E>;

/// Headers the API uses.
pub mod headers {
    pub const API_KEY: &str = "x-api-key";
    pub const TOKEN: &str = "X-Incode-Hardware-Id";
    pub const API_VERSION: &str = "api-version";
}

/// Connection to one server, optionally with a tenant API key.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    base: url::Url,
    api_key: Option<String>,
}

impl Client {
    /// `base_url` is the server's root, e.g. `http://127.0.0.1:8080` (a path prefix is kept).
    pub fn new(base_url: &str) -> Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .connect_timeout(Duration::from_secs(5))
            .build()?;
        Self::with_http_client(base_url, http)
    }

    /// Uses a preconfigured `reqwest::Client` (timeouts, proxies, TLS roots).
    pub fn with_http_client(base_url: &str, http: reqwest::Client) -> Result<Self> {
        let mut base = url::Url::parse(base_url).map_err(|e| ClientError::BaseUrl(e.to_string()))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(ClientError::BaseUrl("the scheme must be http or https".into()));
        }
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        Ok(Self { http, base, api_key: None })
    }

    /// Sends `x-api-key` on the calls that need it.
    #[must_use]
    pub fn with_api_key(mut self, api_key: impl Into<String>) -> Self {
        self.api_key = Some(api_key.into());
        self
    }

    pub fn base_url(&self) -> &url::Url {
        &self.base
    }

    fn request(&self, method: Method, path: &str) -> Result<RequestBuilder> {
        let url = self.base.join(path.trim_start_matches('/')).map_err(|e| ClientError::BaseUrl(e.to_string()))?;
        Ok(self.http.request(method, url).header(headers::API_VERSION, "1.0").header("accept", "application/json"))
    }

    fn keyed(&self, method: Method, path: &str) -> Result<RequestBuilder> {
        let request = self.request(method, path)?;
        Ok(match &self.api_key {
            Some(key) => request.header(headers::API_KEY, key),
            None => request,
        })
    }

    /// `POST /omni/start`.
    pub async fn start(&self, body: &wire::StartRequest) -> Result<wire::StartResponse> {
        send(self.keyed(Method::POST, "omni/start")?.json(body)).await
    }

    /// `POST /executive/log-in`.
    pub async fn executive_login(&self, email: &str, password: &str) -> Result<wire::ExecutiveLoginResponse> {
        let body = wire::ExecutiveLoginRequest { email: email.into(), password: password.into() };
        send(self.keyed(Method::POST, "executive/log-in")?.json(&body)).await
    }

    /// The `/0/omni/...` calls of one session, authenticated by its token alone.
    pub fn session(&self, token: &str) -> SessionClient {
        SessionClient { client: self.clone(), token: token.to_owned(), id: None }
    }

    /// The `/omni/...?id=` calls with the API key and an executive (or session) token.
    pub fn executive(&self, token: &str, interview_id: &str) -> KeyedClient {
        KeyedClient { client: self.clone(), token: token.to_owned(), id: Some(interview_id.to_owned()) }
    }

    /// The `/omni/...` calls with the API key and a session token, no `?id=`.
    pub fn keyed_session(&self, token: &str) -> KeyedClient {
        KeyedClient { client: self.clone(), token: token.to_owned(), id: None }
    }

    /// `GET /healthz`.
    pub async fn health(&self) -> Result<wire::HealthResponse> {
        send(self.request(Method::GET, "healthz")?).await
    }

    /// `GET /readyz`.
    pub async fn ready(&self) -> Result<wire::HealthResponse> {
        send(self.request(Method::GET, "readyz")?).await
    }
}

/// Calls under `/0/omni/`, with a session token (or, with [`SessionClient::for_interview`], an
/// executive token and `?id=`).
#[derive(Debug, Clone)]
pub struct SessionClient {
    client: Client,
    token: String,
    id: Option<String>,
}

/// Calls under `/omni/` with `x-api-key`, a token and optionally `?id=`.
#[derive(Debug, Clone)]
pub struct KeyedClient {
    client: Client,
    token: String,
    id: Option<String>,
}

macro_rules! session_calls {
    ($ty:ident, $prefix:literal, $builder:ident) => {
        impl $ty {
            fn call(&self, method: Method, path: &str) -> Result<RequestBuilder> {
                let mut request = self.client.$builder(method, &format!(concat!($prefix, "{}"), path))?;
                request = request.header(headers::TOKEN, &self.token);
                if let Some(id) = &self.id {
                    request = request.query(&[("id", id)]);
                }
                Ok(request)
            }

            /// `GET onboarding-url`.
            pub async fn onboarding_url(&self) -> Result<wire::OnboardingUrlResponse> {
                send(self.call(Method::GET, "onboarding-url")?).await
            }

            /// `GET get/onboarding/status`.
            pub async fn status(&self) -> Result<wire::OnboardingStatusResponse> {
                send(self.call(Method::GET, "get/onboarding/status")?).await
            }

            /// `GET get/score`.
            pub async fn score(&self) -> Result<wire::ScoreResponse> {
                send(self.call(Method::GET, "get/score")?).await
            }

            /// `GET get/ocr-data`.
            pub async fn ocr_data(&self) -> Result<wire::OcrDataResponse> {
                send(self.call(Method::GET, "get/ocr-data")?).await
            }

            /// `POST get/images` for the given image names.
            pub async fn images(&self, names: &[&str]) -> Result<wire::ImagesResponse> {
                let body = wire::ImagesRequest { images: names.iter().map(|n| (*n).to_owned()).collect() };
                send(self.call(Method::POST, "get/images")?.json(&body)).await
            }

            /// `GET finish-status`: marks the session complete.
            pub async fn finish(&self) -> Result<wire::FinishStatusResponse> {
                send(self.call(Method::GET, "finish-status")?).await
            }
        }
    };
}

session_calls!(SessionClient, "0/omni/", request);
session_calls!(KeyedClient, "omni/", keyed);

impl SessionClient {
    /// Adds `?id=` (needed with an executive token).
    #[must_use]
    pub fn for_interview(mut self, interview_id: &str) -> Self {
        self.id = Some(interview_id.to_owned());
        self
    }
}

async fn send<T: DeserializeOwned>(request: RequestBuilder) -> Result<T> {
    let response = request.send().await?;
    let status = response.status();
    let request_id = response.headers().get("x-request-id").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let bytes = response.bytes().await?;
    if status.is_success() {
        return serde_json::from_slice(&bytes).map_err(|e| ClientError::Decode(e.to_string()));
    }
    error_from(status, &bytes, request_id)
}

fn error_from<T>(status: StatusCode, bytes: &[u8], request_id: Option<String>) -> Result<T> {
    match serde_json::from_slice::<ErrorBody>(bytes) {
        Ok(body) => Err(ClientError::Api { status: status.as_u16(), body: Box::new(body), request_id }),
        Err(_) => Err(ClientError::Status { status: status.as_u16(), request_id }),
    }
}
