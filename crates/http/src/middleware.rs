//! Cross-cutting request handling: which request ids are kept, the request span, API version, timing, and the
//! protective layers (client address, credential guessing, per-address throttle, upload budget).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Extension;
use axum::extract::{ConnectInfo, FromRequestParts, MatchedPath, Request};
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rand::Rng;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tower_http::request_id::{MakeRequestId, RequestId};
use tracing::Instrument;

use crate::error::{ApiError, UnknownCredential};
use crate::extract::API_VERSION_HEADER;
use crate::throttle::{Throttle, TrustedProxies};

static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

pub static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
static PROCESSING_TIME: HeaderName = HeaderName::from_static("processing-time");

/// A caller's `x-request-id` is kept only when it is short and plain (it ends up in our logs and
/// in the response); anything else is dropped here so that tower-http's request-id layer makes
/// a fresh one.
pub async fn plain_request_id(mut request: Request) -> Request {
    let plain = request.headers().get(&REQUEST_ID).and_then(|v| v.to_str().ok()).is_some_and(|id| {
        !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    });
    if !plain {
        request.headers_mut().remove(&REQUEST_ID);
    }
    request
}

/// Fresh request ids: 64 random bits in hex.
#[derive(Debug, Clone, Copy, Default)]
pub struct RandomRequestId;

impl MakeRequestId for RandomRequestId {
    fn make_request_id<B>(&mut self, _request: &axum::http::Request<B>) -> Option<RequestId> {
        let bytes: [u8; 8] = rand::rng().random();
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        HeaderValue::from_str(&hex).ok().map(RequestId::new)
    }
}

/// Opens the request span (method, route *template* and the id tower-http set: never the raw
/// path, which can hold an onboarding-link secret, never headers); logs one line per request;
/// adds the processing time (Incode's `Processing-Time`, in ms) to the response.
pub async fn request_context(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = request
        .extensions()
        .get::<RequestId>()
        .and_then(|id| id.header_value().to_str().ok())
        .unwrap_or_default()
        .to_owned();
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
    if let Ok(value) = HeaderValue::from_str(&elapsed.as_millis().to_string()) {
        response.headers_mut().insert(PROCESSING_TIME.clone(), value);
    }
    response
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

/// The client's address, as the throttles see it (see [`crate::throttle::TrustedProxies`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(parts.extensions.get::<ClientIp>().copied().unwrap_or(ClientIp(IpAddr::V4(Ipv4Addr::UNSPECIFIED))))
    }
}

/// Works out [`ClientIp`] from the TCP peer and, behind a trusted proxy, `X-Forwarded-For`.
pub async fn client_ip(Extension(guards): Extension<Arc<Guards>>, mut request: Request, next: Next) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |ConnectInfo(addr)| addr.ip());
    let forwarded = request.headers().get_all(&X_FORWARDED_FOR).iter().filter_map(|v| v.to_str().ok());
    let client = guards.proxies.client(peer, forwarded);
    request.extensions_mut().insert(ClientIp(client));
    next.run(request).await
}

/// Refuses every request of a client serving a penalty for guessing credentials, and counts
/// the unknown credentials it presents (see [`crate::throttle`]).
pub async fn credential_guard(
    Extension(guards): Extension<Arc<Guards>>,
    ClientIp(ip): ClientIp,
    request: Request,
    next: Next,
) -> Response {
    if let Err(limited) = guards.throttle.penalized(ip) {
        return ApiError::limited(limited).into_response();
    }
    let response = next.run(request).await;
    if response.extensions().get::<UnknownCredential>().is_some() {
        guards.throttle.failed_credential(ip);
    }
    response
}

/// The per-address bucket of the hosted flow's API.
pub async fn flow_ip_guard(
    Extension(guards): Extension<Arc<Guards>>,
    ClientIp(ip): ClientIp,
    request: Request,
    next: Next,
) -> Response {
    match guards.throttle.flow_ip(ip) {
        Ok(()) => next.run(request).await,
        Err(limited) => ApiError::limited(limited).into_response(),
    }
}

/// Admission for upload bodies: each request reserves its declared size (or the route's
/// limit, when it declares none) from a server-wide budget before its body is read, and keeps it
/// until it is answered. When the budget is spent the request is refused at once with 503 and
/// `Retry-After`, so a crowd of large uploads cannot exhaust memory.
pub async fn upload_admission<const LIMIT: usize>(
    Extension(guards): Extension<Arc<Guards>>,
    request: Request,
    next: Next,
) -> Response {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(LIMIT);
    match guards.uploads.reserve(declared.min(LIMIT)) {
        Some(reserved) => {
            let response = next.run(request).await;
            drop(reserved);
            response
        }
        None => ApiError::busy(guards.uploads.retry_after).into_response(),
    }
}

/// Bytes held at once by one kind of large buffer (upload bodies, image answers).
#[derive(Debug)]
pub struct MemoryBudget {
    kib: Arc<Semaphore>,
    /// What a refused uploader is told to wait.
    pub retry_after: Duration,
}

impl MemoryBudget {
    pub fn new(bytes: usize) -> Self {
        let kib = (bytes / 1024).clamp(1, Semaphore::MAX_PERMITS);
        Self { kib: Arc::new(Semaphore::new(kib)), retry_after: Duration::from_secs(2) }
    }

    /// Reserves `bytes` until the permit is dropped; `None` when the budget is spent.
    pub fn reserve(&self, bytes: usize) -> Option<OwnedSemaphorePermit> {
        let kib = u32::try_from(bytes / 1024 + 1).unwrap_or(u32::MAX);
        self.kib.clone().try_acquire_many_owned(kib).ok()
    }
}

/// What the protective middleware share: throttles, trusted proxies, memory budgets.
#[derive(Debug)]
pub struct Guards {
    pub throttle: Throttle,
    pub proxies: TrustedProxies,
    /// Upload bodies being received or checked.
    pub uploads: MemoryBudget,
    /// `/get/images` answers being assembled (up to ~14 MB each: 10 MB of images in base64).
    pub image_reads: MemoryBudget,
}

impl Guards {
    /// No throttles, no proxies, a generous upload budget: for tools and unit tests.
    pub fn unlimited() -> Self {
        Self {
            throttle: Throttle::unlimited(),
            proxies: TrustedProxies::default(),
            uploads: MemoryBudget::new(1 << 30),
            image_reads: MemoryBudget::new(1 << 30),
        }
    }
}
