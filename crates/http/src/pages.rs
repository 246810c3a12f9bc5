//! Browser-facing routes: the hosted onboarding page, its assets, the static flow URL and
//! `embed.js`. The bytes come from `veriframe-web`; this module adds the headers that make them
//! safe to serve (CSP, Permissions-Policy, caching) and the two use cases behind them.
//!
//! These routes answer HTML errors of their own (a person, not a program, reads them), so the
//! router keeps them outside [`crate::error::render_errors`].
//!
//! Unknown or expired links still get the page (200): the page learns from `POST
//! /flow/api/open`'s 401 that the link is no good and shows its "expired" screen in the person's
//! language, and the embedding site receives the `expired` event. Answering 404 instead would
//! leave an iframe with a bare error page and the integrator without an event.

use axum::Router;
use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use veriframe_core::ids::{ClientId, FlowId};
use veriframe_core::service::{ServiceError, StartSession};
use veriframe_core::text::{ExternalCustomerId, Language, Origin};
use veriframe_web::ErrorPage;

use crate::middleware::ClientIp;
use crate::state::AppState;
use crate::throttle::Limited;

static PERMISSIONS_POLICY: HeaderName = HeaderName::from_static("permissions-policy");
static X_ROBOTS_TAG: HeaderName = HeaderName::from_static("x-robots-tag");
static CROSS_ORIGIN_RESOURCE_POLICY: HeaderName = HeaderName::from_static("cross-origin-resource-policy");

/// What the page itself may load: its own scripts, styles and API only; camera frames and
/// photos as `blob:`/`data:` images and media streams.
const PAGE_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; \
     media-src 'self' blob: mediastream:; connect-src 'self'; font-src 'self'; object-src 'none'; \
     base-uri 'none'; form-action 'none'";

/// Error pages load nothing but the stylesheet.
const ERROR_CSP: &str =
    "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors *";

/// `self` here is the page's own origin, so in a cross-origin iframe the camera works exactly
/// when the parent delegates it with `allow="camera"`; `camera=()` would block it everywhere.
const PERMISSIONS: &str = "camera=(self), microphone=(), geolocation=(self), accelerometer=(self), \
     gyroscope=(self), magnetometer=(self), fullscreen=(self), payment=(), usb=(), display-capture=()";

/// Assets are addressed by a hash of their content.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// `embed.js` keeps a stable URL, so it may be cached only briefly (and revalidated by ETag).
const EMBED_CACHE: &str = "public, max-age=300";
const JAVASCRIPT: &str = "text/javascript; charset=utf-8";

/// The routes, for [`crate::router`].
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/flow/{link}", get(page))
        .route("/flow/assets/{*path}", get(asset))
        .route("/embed.js", get(embed_script))
        .route("/embed.mjs", get(embed_module))
        .route("/{client_id}/flow/{configuration_id}", get(static_flow))
}

fn accept_language(headers: &HeaderMap) -> &str {
    headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()).unwrap_or("")
}

/// `frame-ancestors`: the flow's allowed origins; a flow that names none is framable by no other
/// site (`'self'`: fail closed). `None` — a link that names no session at all — may be framed
/// anywhere, because that page holds nothing but the "link expired" screen, which the
/// embedding site must be able to show and hear about. Only characters an origin can hold pass,
/// so a stored value can never add another directive; a configured list with nothing usable left
/// in it frames nowhere.
pub fn frame_ancestors(origins: Option<&[Origin]>) -> String {
    let Some(origins) = origins else { return "*".into() };
    if origins.is_empty() {
        return "'self'".into();
    }
    let usable: Vec<&str> = origins
        .iter()
        .map(Origin::as_str)
        .filter(|o| o.bytes().all(|b| b.is_ascii_alphanumeric() || b":/.-*[]".contains(&b)))
        .collect();
    if usable.is_empty() { "'none'".into() } else { usable.join(" ") }
}

fn set(response: &mut Response, name: &HeaderName, value: &'static str) {
    response.headers_mut().insert(name.clone(), HeaderValue::from_static(value));
}

/// An HTML response with the headers every page of ours carries.
fn html(status: StatusCode, csp: &str, body: impl Into<Body>) -> Response {
    let mut response = (status, body.into()).into_response();
    let csp = HeaderValue::from_str(csp).unwrap_or_else(|_| HeaderValue::from_static("frame-ancestors 'none'"));
    response.headers_mut().insert(header::CONTENT_SECURITY_POLICY, csp);
    set(&mut response, &header::CONTENT_TYPE, "text/html; charset=utf-8");
    set(&mut response, &PERMISSIONS_POLICY, PERMISSIONS);
    set(&mut response, &header::REFERRER_POLICY, "no-referrer");
    set(&mut response, &header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(&mut response, &header::CACHE_CONTROL, "no-store");
    set(&mut response, &X_ROBOTS_TAG, "noindex, nofollow");
    response
}

fn error_page(status: StatusCode, language: &str, which: ErrorPage) -> Response {
    html(status, ERROR_CSP, veriframe_web::error_page(language, which))
}

/// Storage failed: logged (never with the link or other personal data), and a page that says
/// to try again.
fn unavailable(language: &str, error: &dyn std::fmt::Display) -> Response {
    tracing::error!(error = %error, "page could not be served");
    error_page(StatusCode::SERVICE_UNAVAILABLE, language, ErrorPage::Unavailable)
}

/// 429 as a page: a person reads it.
fn too_many(language: &str, limited: Limited) -> Response {
    let mut response = error_page(StatusCode::TOO_MANY_REQUESTS, language, ErrorPage::Unavailable);
    let seconds = limited.retry_after.as_secs() + u64::from(limited.retry_after.subsec_nanos() > 0);
    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
    response
}

/// `GET /flow/{link}`: the hosted page.
async fn page(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Path(link): Path<String>,
    headers: HeaderMap,
) -> Response {
    let accept = accept_language(&headers);
    if let Err(limited) = state.guards.throttle.flow_ip(ip) {
        return too_many(accept, limited);
    }
    let found = match state.onboarding.link_session(&link).await {
        Ok(found) => found,
        Err(e) => return unavailable(accept, &e),
    };
    let (ancestors, language) = match &found {
        Some((session, flow)) => (frame_ancestors(Some(&flow.config.allowed_origins)), session.language.as_str()),
        None => (frame_ancestors(None), accept),
    };
    html(StatusCode::OK, &format!("{PAGE_CSP}; frame-ancestors {ancestors}"), veriframe_web::page(language))
}

/// `GET /flow/assets/{version}/{name}`.
async fn asset(Path(path): Path<String>) -> Response {
    let Some(asset) = veriframe_web::asset(&path) else {
        let mut response = (StatusCode::NOT_FOUND, "not found\n").into_response();
        set(&mut response, &header::CONTENT_TYPE, "text/plain; charset=utf-8");
        set(&mut response, &header::CACHE_CONTROL, "no-store");
        set(&mut response, &header::X_CONTENT_TYPE_OPTIONS, "nosniff");
        return response;
    };
    let mut response = asset.bytes.into_response();
    set(&mut response, &header::CONTENT_TYPE, asset.content_type);
    set(&mut response, &header::CACHE_CONTROL, IMMUTABLE);
    set(&mut response, &header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    response
}

/// Whether `If-None-Match` names `etag` (weak comparison, as RFC 9110 asks for GET).
fn not_modified(headers: &HeaderMap, etag: &str) -> bool {
    let Some(value) = headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) else { return false };
    value.split(',').map(str::trim).any(|tag| tag == "*" || tag.trim_start_matches("W/") == etag)
}

/// The integrator's script: any site may load it, as a classic script or as a module (which
/// needs CORS).
fn script(headers: &HeaderMap, body: &'static str) -> Response {
    let etag = veriframe_web::embed_etag();
    let mut response =
        if not_modified(headers, etag) { StatusCode::NOT_MODIFIED.into_response() } else { body.into_response() };
    set(&mut response, &header::CONTENT_TYPE, JAVASCRIPT);
    set(&mut response, &header::CACHE_CONTROL, EMBED_CACHE);
    set(&mut response, &header::ACCESS_CONTROL_ALLOW_ORIGIN, "*");
    set(&mut response, &CROSS_ORIGIN_RESOURCE_POLICY, "cross-origin");
    set(&mut response, &header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    response.headers_mut().insert(header::ETAG, HeaderValue::from_static(etag));
    response
}

/// `GET /embed.js`.
async fn embed_script(headers: HeaderMap) -> Response {
    script(&headers, veriframe_web::embed_script())
}

/// `GET /embed.mjs`.
async fn embed_module(headers: HeaderMap) -> Response {
    script(&headers, veriframe_web::embed_module())
}

#[derive(Debug, Default, Deserialize)]
pub struct StaticFlowQuery {
    /// The integrator's id for the person (Incode's `externalId`).
    #[serde(default, rename = "externalId", alias = "externalCustomerId")]
    pub external_id: Option<String>,
    /// The page's language, e.g. `es-ES`.
    #[serde(default)]
    pub language: Option<String>,
}

fn non_empty(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|v| !v.is_empty())
}

/// `GET /{clientId}/flow/{configurationId}[?externalId=…]`: the static flow URL a tenant can
/// publish instead of creating sessions from its backend. Each visit starts a session on that
/// flow (as `/omni/start` would) and sends the browser to its hosted page with a `303`, by a
/// relative URL so the page keeps the origin the browser (and `embed.js`) used.
async fn static_flow(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Path((client_id, configuration_id)): Path<(String, String)>,
    query: Result<Query<StaticFlowQuery>, QueryRejection>,
    method: Method,
    headers: HeaderMap,
) -> Response {
    let accept = accept_language(&headers);
    let not_found = || error_page(StatusCode::NOT_FOUND, accept, ErrorPage::NotFound);
    let bad_request = || error_page(StatusCode::BAD_REQUEST, accept, ErrorPage::BadRequest);
    let Ok(Query(query)) = query else { return bad_request() };
    let (Ok(client_id), Ok(flow_id)) = (ClientId::parse(&client_id), FlowId::parse(&configuration_id)) else {
        return not_found();
    };
    let Ok(external_customer_id) = non_empty(query.external_id.as_deref()).map(ExternalCustomerId::parse).transpose()
    else {
        return bad_request();
    };
    let Ok(language) = non_empty(query.language.as_deref()).map(Language::parse).transpose() else {
        return bad_request();
    };

    match state.onboarding.published_flow(&client_id, flow_id).await {
        Ok(_) => {}
        Err(ServiceError::NotFound(_)) => return not_found(),
        Err(e) => return unavailable(accept, &e),
    }
    // Link checkers and uptime monitors probe with HEAD: they learn that the URL works without
    // leaving a session behind.
    if method == Method::HEAD {
        let mut response = StatusCode::OK.into_response();
        set(&mut response, &header::CACHE_CONTROL, "no-store");
        return response;
    }
    // Every visit creates a session: an anonymous client gets a few a minute, not thousands.
    if let Err(limited) = state.guards.throttle.static_flow_ip(ip) {
        return too_many(accept, limited);
    }
    let request =
        StartSession { configuration_id: Some(flow_id), language, external_customer_id, ..Default::default() };
    let link = match state.onboarding.start_link_for_client(&client_id, request).await {
        Ok(link) => link,
        Err(ServiceError::NotFound(_) | ServiceError::Invalid(_)) => return not_found(),
        Err(e) => return unavailable(accept, &e),
    };
    let secret = link.link.expose();
    let Ok(location) = HeaderValue::from_str(&format!("/flow/{secret}")) else {
        return unavailable(accept, &"an onboarding link that is not a header value");
    };
    let mut response = StatusCode::SEE_OTHER.into_response();
    response.headers_mut().insert(header::LOCATION, location);
    // Every visit creates a session: nothing may replay this answer.
    set(&mut response, &header::CACHE_CONTROL, "no-store");
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_ancestors_fail_closed() {
        assert_eq!(frame_ancestors(None), "*", "a page with no session behind it");
        assert_eq!(frame_ancestors(Some(&[])), "'self'", "a flow that names no origin");
        let list =
            [Origin::parse("https://shop.example.com").unwrap(), Origin::parse("http://localhost:3000").unwrap()];
        assert_eq!(frame_ancestors(Some(&list)), "https://shop.example.com http://localhost:3000");
        let sneaky = [Origin::from_stored("https://a.com; script-src *".into())];
        assert_eq!(frame_ancestors(Some(&sneaky)), "'none'");
    }

    #[test]
    fn if_none_match_is_compared_weakly() {
        let mut headers = HeaderMap::new();
        assert!(!not_modified(&headers, "\"abc\""));
        headers.insert(header::IF_NONE_MATCH, HeaderValue::from_static("\"x\", W/\"abc\""));
        assert!(not_modified(&headers, "\"abc\""));
        headers.insert(header::IF_NONE_MATCH, HeaderValue::from_static("\"x\""));
        assert!(!not_modified(&headers, "\"abc\""));
    }
}
