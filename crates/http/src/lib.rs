//! veriframe's HTTP surface: the Incode-compatible partner API, health and OpenAPI.
//!
//! Architecture invariant: this is the only crate that knows HTTP and JSON. It sees storage
//! only through `veriframe-core`'s ports, held in [`AppState`].
#![forbid(unsafe_code)]

pub mod error;
pub mod extract;
pub mod flow;
pub mod middleware;
pub mod pages;
pub mod partner;
pub mod state;
pub mod throttle;

use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, StatusCode};
use axum::routing::get;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::timeout::TimeoutLayer;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::openapi::{InfoBuilder, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use crate::error::ApiError;
pub use crate::state::AppState;

/// Largest JSON body the partner API accepts. Its requests are small; the capture API has its
/// own, larger limit.
pub const PARTNER_BODY_LIMIT: usize = 256 * 1024;

/// Every route with its OpenAPI description.
fn api_router() -> OpenApiRouter<AppState> {
    let partner = OpenApiRouter::new()
        .routes(routes!(partner::start))
        .routes(routes!(partner::onboarding_url_zero))
        .routes(routes!(partner::onboarding_url_keyed))
        .routes(routes!(partner::status_zero))
        .routes(routes!(partner::status_keyed))
        .routes(routes!(partner::score_zero))
        .routes(routes!(partner::score_keyed))
        .routes(routes!(partner::ocr_data_zero))
        .routes(routes!(partner::ocr_data_keyed))
        .routes(routes!(partner::images_zero))
        .routes(routes!(partner::images_keyed))
        .routes(routes!(partner::finish_zero))
        .routes(routes!(partner::finish_keyed))
        .routes(routes!(partner::executive_login))
        .layer(axum::middleware::from_fn(middleware::api_version))
        .layer(DefaultBodyLimit::max(PARTNER_BODY_LIMIT))
        .layer(axum::middleware::from_fn(middleware::credential_guard));
    let capture = OpenApiRouter::new()
        .routes(routes!(flow::capture))
        .layer(DefaultBodyLimit::max(flow::CAPTURE_BODY_LIMIT))
        .layer(axum::middleware::from_fn(middleware::upload_admission::<{ flow::CAPTURE_BODY_LIMIT }>));
    let frames = OpenApiRouter::new()
        .routes(routes!(flow::frames))
        .layer(DefaultBodyLimit::max(flow::FRAMES_BODY_LIMIT))
        .layer(axum::middleware::from_fn(middleware::upload_admission::<{ flow::FRAMES_BODY_LIMIT }>));
    let hosted = OpenApiRouter::new()
        .routes(routes!(flow::open))
        .routes(routes!(flow::flow_state))
        .routes(routes!(flow::consent))
        .routes(routes!(flow::challenge))
        .routes(routes!(flow::submit))
        .routes(routes!(flow::handoff))
        .layer(DefaultBodyLimit::max(PARTNER_BODY_LIMIT))
        .merge(capture)
        .merge(frames)
        .layer(axum::middleware::from_fn(middleware::credential_guard))
        .layer(axum::middleware::from_fn(middleware::flow_ip_guard));
    OpenApiRouter::new().merge(partner).merge(hosted).routes(routes!(partner::healthz)).routes(routes!(partner::readyz))
}

/// The OpenAPI document, generated from the routes.
pub fn openapi() -> OpenApi {
    let (_, mut api) = api_router().split_for_parts();
    api.info = InfoBuilder::new()
        .title("veriframe partner API")
        .version(env!("CARGO_PKG_VERSION"))
        .description(Some(
            "Incode Omni-compatible onboarding API. `/omni/...` routes take `x-api-key` plus a token; \
             `/0/omni/...` routes take the session token alone. Errors use the body \
             {timestamp, status, error, message, path}. `api-version: 1.0` is assumed when absent.",
        ))
        .build();
    let components = api.components.get_or_insert_with(Default::default);
    components.add_security_scheme("apiKey", SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("x-api-key"))));
    components.add_security_scheme(
        "sessionToken",
        SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
            "X-Incode-Hardware-Id",
            "Session token from /omni/start, or an executive token from /executive/log-in",
        ))),
    );
    components.add_security_scheme(
        "flowToken",
        SecurityScheme::Http(utoipa::openapi::security::Http::new(utoipa::openapi::security::HttpAuthScheme::Bearer)),
    );
    api
}

/// The complete application router.
pub fn router(state: AppState) -> Router {
    let (api, _) = api_router().split_for_parts();
    let spec = serde_json::to_string_pretty(&openapi()).unwrap_or_default();
    let timeout = || TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, Duration::from_secs(30));
    let api = api
        .route(
            "/openapi.json",
            get(move || async move { ([(axum::http::header::CONTENT_TYPE, "application/json")], spec) }),
        )
        .fallback(|| async { ApiError::not_found("no such endpoint") })
        .layer(
            ServiceBuilder::new()
                .layer(axum::middleware::from_fn(error::render_errors))
                .layer(CatchPanicLayer::new())
                .layer(timeout()),
        );
    // The browser pages answer HTML errors of their own, so they stay outside `render_errors`.
    let pages = pages::router().layer(ServiceBuilder::new().layer(CatchPanicLayer::new()).layer(timeout()));
    let guards = state.guards.clone();
    pages.merge(api).with_state(state).layer(
        ServiceBuilder::new()
            .layer(axum::Extension(guards))
            .layer(axum::middleware::from_fn(middleware::client_ip))
            .layer(SetSensitiveRequestHeadersLayer::new([
                HeaderName::from_static(extract::API_KEY_HEADER),
                HeaderName::from_static(extract::TOKEN_HEADER),
                axum::http::header::AUTHORIZATION,
                axum::http::header::COOKIE,
            ]))
            .layer(axum::middleware::map_request(middleware::plain_request_id))
            .layer(SetRequestIdLayer::new(middleware::REQUEST_ID.clone(), middleware::RandomRequestId))
            .layer(PropagateRequestIdLayer::new(middleware::REQUEST_ID.clone()))
            .layer(axum::middleware::from_fn(middleware::request_context)),
    )
}
