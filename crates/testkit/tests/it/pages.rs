//! The browser-facing routes over real HTTP: the hosted page and its security headers, the
//! static flow URL, the immutable assets and embed.js.

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use veriframe_api_types::StartRequest;
use veriframe_core::flow::FlowConfig;
use veriframe_core::ids::{ClientId, InterviewId};
use veriframe_core::text::Origin;
use veriframe_testkit::{Backend, TestApp, on_both_backends};

on_both_backends!(
    the_page_carries_its_security_headers,
    frame_ancestors_follow_the_flows_allowed_origins,
    the_static_flow_url_starts_a_session,
    unknown_clients_and_flows_get_a_404_page,
    assets_are_immutable_and_versioned,
    embed_js_is_served_to_any_site,
);

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers.get(name).map(|v| v.to_str().unwrap()).unwrap_or_else(|| panic!("no {name} header in {headers:?}"))
}

/// A client that shows redirects instead of following them.
fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

/// A fresh onboarding link for a new session on `flow_id` (the demo flow when `None`).
async fn new_link(app: &TestApp, flow_id: Option<String>, language: Option<&str>) -> String {
    let started = app
        .client
        .start(&StartRequest {
            configuration_id: Some(flow_id.unwrap_or_else(|| app.flow_id.clone())),
            language: language.map(str::to_owned),
            ..Default::default()
        })
        .await
        .unwrap();
    let url = app.client.session(&started.token).onboarding_url().await.unwrap();
    url.link().unwrap().expose().to_owned()
}

/// `Content-Security-Policy` as (directive, value) pairs.
fn csp(headers: &HeaderMap) -> Vec<(String, String)> {
    header(headers, "content-security-policy")
        .split(';')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(|d| {
            let (name, value) = d.split_once(' ').unwrap_or((d, ""));
            (name.to_owned(), value.trim().to_owned())
        })
        .collect()
}

fn directive(headers: &HeaderMap, name: &str) -> String {
    csp(headers).into_iter().find(|(n, _)| n == name).map(|(_, v)| v).unwrap_or_else(|| panic!("no {name} in the CSP"))
}

/// The versioned asset base (`/flow/assets/{version}/`) the page's HTML points at.
fn asset_base(html: &str) -> String {
    let prefix = "/flow/assets/";
    let start = html.find(prefix).expect("the page names its assets") + prefix.len();
    let version: String = html[start..].chars().take_while(char::is_ascii_hexdigit).collect();
    assert_eq!(version.len(), 16, "a versioned asset URL: {html}");
    format!("{prefix}{version}/")
}

async fn the_page_carries_its_security_headers(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let link = new_link(&app, None, None).await;
    let r = app.http().get(app.url(&format!("flow/{link}"))).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let headers = r.headers().clone();
    assert_eq!(header(&headers, "content-type"), "text/html; charset=utf-8");
    assert_eq!(header(&headers, "cache-control"), "no-store");
    assert_eq!(header(&headers, "referrer-policy"), "no-referrer");
    assert_eq!(header(&headers, "x-content-type-options"), "nosniff");
    assert!(headers.get("x-frame-options").is_none(), "X-Frame-Options would block every embedding site");
    // Scripts and styles from our origin only: nothing inline, nothing evaluated.
    assert_eq!(directive(&headers, "default-src"), "'self'");
    assert_eq!(directive(&headers, "script-src"), "'self'");
    assert_eq!(directive(&headers, "style-src"), "'self'");
    assert_eq!(directive(&headers, "connect-src"), "'self'");
    assert!(directive(&headers, "img-src").split(' ').any(|s| s == "blob:"));
    assert!(directive(&headers, "media-src").split(' ').any(|s| s == "mediastream:"));
    assert_eq!(directive(&headers, "object-src"), "'none'");
    assert!(!header(&headers, "content-security-policy").contains("unsafe"));
    // The first-start demo flow may be framed by the demo integrator only.
    assert_eq!(directive(&headers, "frame-ancestors"), "http://127.0.0.1:3000 http://localhost:3000");
    // The camera stays usable by the page itself (and so in an iframe that delegates it).
    let permissions = header(&headers, "permissions-policy");
    assert!(permissions.split(',').map(str::trim).any(|p| p == "camera=(self)"), "{permissions}");
    assert!(!permissions.contains("camera=()"), "{permissions}");
    let html = r.text().await.unwrap();
    assert!(html.contains(r#"<main id="app" data-step="loading""#), "{html}");
    assert!(html.contains(&format!(r#"<script type="module" src="{}app.js"></script>"#, asset_base(&html))));
    assert!(!html.contains("<script>"), "no inline script");
    assert!(!html.contains(&link), "the page reads its link from its own URL, it never repeats it");
    assert!(html.contains(r#"<html lang="en-US">"#));

    // The session's language decides the page's.
    let spanish = new_link(&app, None, Some("es-ES")).await;
    let html = app.http().get(app.url(&format!("flow/{spanish}"))).send().await.unwrap().text().await.unwrap();
    assert!(html.contains(r#"<html lang="es-ES">"#), "{html}");

    // An unknown link still gets the page (it shows "expired" after open answers 401), framable
    // by anyone since no flow is known.
    let r = app
        .http()
        .get(app.url("flow/vfl_no-such-link"))
        .header("accept-language", "es-MX,es;q=0.9")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(directive(r.headers(), "frame-ancestors"), "*");
    assert!(r.text().await.unwrap().contains(r#"<html lang="es-ES">"#));
    let r = app.http().post(app.url("flow/api/open")).json(&json!({"link": "vfl_no-such-link"})).send().await.unwrap();
    assert_eq!(r.status(), 401);

    // The API keeps its JSON errors next to the pages.
    let r = app.http().get(app.url("omni/no-such-thing")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(header(r.headers(), "content-type"), "application/json");
}

async fn frame_ancestors_follow_the_flows_allowed_origins(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let provisioning = app.provisioning();
    let tenant = provisioning.tenant(&ClientId::parse(&app.client_id).unwrap()).await.unwrap();
    let config = FlowConfig {
        allowed_origins: vec![
            Origin::parse("https://shop.example.com").unwrap(),
            Origin::parse("http://localhost:3000").unwrap(),
        ],
        ..FlowConfig::default()
    };
    let flow = provisioning.create_flow(&tenant, "embedded in the shop", config).await.unwrap();
    let link = new_link(&app, Some(flow.id.to_string()), None).await;
    let r = app.http().get(app.url(&format!("flow/{link}"))).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(directive(r.headers(), "frame-ancestors"), "https://shop.example.com http://localhost:3000");

    // The page posts its events to the same origins.
    let opened = app.open_link(&link).await;
    assert_eq!(opened["state"]["allowedOrigins"], json!(["https://shop.example.com", "http://localhost:3000"]));

    // Once the link has expired the page still says so, and is still framable only there.
    app.clock.advance(time::Duration::days(2));
    let r = app.http().get(app.url(&format!("flow/{link}"))).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(directive(r.headers(), "frame-ancestors"), "https://shop.example.com http://localhost:3000");

    // A flow that names no origin fails closed: no other site may frame it.
    let closed = provisioning.create_flow(&tenant, "not embedded", FlowConfig::default()).await.unwrap();
    let link = new_link(&app, Some(closed.id.to_string()), None).await;
    let r = app.http().get(app.url(&format!("flow/{link}"))).send().await.unwrap();
    assert_eq!(directive(r.headers(), "frame-ancestors"), "'self'");
    // `veriframe flows set-origins` (the same use case) opens it to one site.
    let origin = Origin::parse("https://partner.example").unwrap();
    provisioning.set_allowed_origins(&tenant, closed.id, vec![origin]).await.unwrap();
    let r = app.http().get(app.url(&format!("flow/{link}"))).send().await.unwrap();
    assert_eq!(directive(r.headers(), "frame-ancestors"), "https://partner.example");
}

async fn the_static_flow_url_starts_a_session(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let http = no_redirects();
    let url = app.url(&format!("{}/flow/{}?externalId=customer-0042&language=es-ES", app.client_id, app.flow_id));
    let r = http.get(&url).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(header(r.headers(), "cache-control"), "no-store");
    let location = header(r.headers(), "location").to_owned();
    let link = location.strip_prefix("/flow/").unwrap_or_else(|| panic!("303 to {location}"));
    assert!(link.starts_with("vfl_"), "{location}");

    // The link is a working onboarding link for a new session with the externalId.
    let page = http.get(app.url(&location)).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains(r#"<html lang="es-ES">"#));
    let opened = app.open_link(link).await;
    assert_eq!(opened["state"]["language"], "es-ES");
    let interview_id = InterviewId::parse(opened["state"]["interviewId"].as_str().unwrap()).unwrap();
    let tenant = app.provisioning().tenant(&ClientId::parse(&app.client_id).unwrap()).await.unwrap();
    let session = app.store.session(tenant.id, interview_id).await.unwrap().expect("the session exists");
    assert_eq!(session.flow_id.to_string(), app.flow_id);
    assert_eq!(
        session.external_customer_id.as_ref().map(veriframe_core::text::ExternalCustomerId::as_str),
        Some("customer-0042")
    );

    // A HEAD probe learns that the URL works and starts nothing.
    let probe = http.head(app.url(&format!("{}/flow/{}", app.client_id, app.flow_id))).send().await.unwrap();
    assert_eq!(probe.status(), 200);
    assert!(probe.headers().get("location").is_none());

    // Every visit is a new session; without externalId there is none.
    let again = http.get(app.url(&format!("{}/flow/{}", app.client_id, app.flow_id))).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::SEE_OTHER);
    let other = header(again.headers(), "location").to_owned();
    assert_ne!(other, location);
    let opened = app.open_link(&other).await;
    let second = InterviewId::parse(opened["state"]["interviewId"].as_str().unwrap()).unwrap();
    assert_ne!(second, interview_id);
    let session = app.store.session(tenant.id, second).await.unwrap().unwrap();
    assert!(session.external_customer_id.is_none());
    assert_eq!(session.language.as_str(), "en-US");
}

async fn unknown_clients_and_flows_get_a_404_page(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let http = no_redirects();
    // Another tenant's flow is as unknown as a made-up one.
    let provisioning = app.provisioning();
    let other_tenant = provisioning.create_tenant(ClientId::parse("other-co").unwrap(), "Other Co").await.unwrap();
    let other_flow = provisioning.create_flow(&other_tenant, "theirs", FlowConfig::default()).await.unwrap();
    for path in [
        format!("no-such-client/flow/{}", app.flow_id),
        format!("{}/flow/000000000000000000000000", app.client_id),
        format!("{}/flow/not-an-id", app.client_id),
        format!("{}/flow/{}", app.client_id, other_flow.id),
        format!("other-co/flow/{}", app.flow_id),
        format!("NOT_A_CLIENT/flow/{}", app.flow_id),
    ] {
        let r = http.get(app.url(&path)).header("accept-language", "es").send().await.unwrap();
        assert_eq!(r.status(), 404, "{path}");
        assert_eq!(header(r.headers(), "content-type"), "text/html; charset=utf-8", "{path}");
        assert_eq!(header(r.headers(), "cache-control"), "no-store");
        let html = r.text().await.unwrap();
        assert!(html.contains(r#"data-step="error""#) && html.contains("<html lang=\"es-ES\">"), "{path}: {html}");
    }
    // The other tenant's own URL works.
    let r = http.get(app.url(&format!("other-co/flow/{}", other_flow.id))).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);

    // An unacceptable externalId is the visitor's mistake, not a missing page.
    let long = "x".repeat(300);
    let r =
        http.get(app.url(&format!("{}/flow/{}?externalId={long}", app.client_id, app.flow_id))).send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(header(r.headers(), "content-type"), "text/html; charset=utf-8");
    let r =
        http.get(app.url(&format!("{}/flow/{}?language=klingon-x", app.client_id, app.flow_id))).send().await.unwrap();
    assert_eq!(r.status(), 400);
}

async fn assets_are_immutable_and_versioned(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let link = new_link(&app, None, None).await;
    let html = app.http().get(app.url(&format!("flow/{link}"))).send().await.unwrap().text().await.unwrap();
    let base = asset_base(&html);
    for (name, content_type) in [
        ("app.js", "text/javascript; charset=utf-8"),
        ("camera.js", "text/javascript; charset=utf-8"),
        ("liveness.js", "text/javascript; charset=utf-8"),
        ("app.css", "text/css; charset=utf-8"),
        ("i18n/en-US.json", "application/json; charset=utf-8"),
        ("i18n/es-ES.json", "application/json; charset=utf-8"),
    ] {
        let r = app.http().get(app.url(&format!("{base}{name}"))).send().await.unwrap();
        assert_eq!(r.status(), 200, "{base}{name}");
        assert_eq!(header(r.headers(), "content-type"), content_type, "{name}");
        assert_eq!(header(r.headers(), "cache-control"), "public, max-age=31536000, immutable", "{name}");
        assert_eq!(header(r.headers(), "x-content-type-options"), "nosniff");
        let body = r.bytes().await.unwrap();
        assert!(!body.is_empty());
        if name.ends_with(".json") {
            let catalogue: Value = serde_json::from_slice(&body).unwrap();
            assert!(catalogue["problem.BLURRY"].is_string());
        }
    }
    // Another version, an unknown name, or no version at all: not found, and not cacheable.
    for path in [
        "flow/assets/0000000000000000/app.js".to_owned(),
        format!("{base}no-such-module.js"),
        format!("{base}i18n/fr-FR.json"),
        "flow/assets/app.js".to_owned(),
    ] {
        let r = app.http().get(app.url(&path)).send().await.unwrap();
        assert_eq!(r.status(), 404, "{path}");
        assert_ne!(
            r.headers().get("cache-control").map(|v| v.to_str().unwrap()),
            Some("public, max-age=31536000, immutable")
        );
    }
}

async fn embed_js_is_served_to_any_site(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let r = app.http().get(app.url("embed.js")).header("origin", "https://shop.example.com").send().await.unwrap();
    assert_eq!(r.status(), 200);
    let headers = r.headers().clone();
    assert_eq!(header(&headers, "content-type"), "text/javascript; charset=utf-8");
    assert_eq!(header(&headers, "cache-control"), "public, max-age=300");
    assert_eq!(header(&headers, "access-control-allow-origin"), "*");
    let etag = header(&headers, "etag").to_owned();
    let script = r.text().await.unwrap();
    assert!(script.contains("VeriframeEmbed"));
    assert!(script.contains(r#"camera *; microphone *; geolocation *; accelerometer *; gyroscope *"#));
    assert!(script.contains("event.origin !== origin"), "embed.js checks where messages come from");

    let r = app.http().get(app.url("embed.js")).header("if-none-match", &etag).send().await.unwrap();
    assert_eq!(r.status(), 304);

    let r = app.http().get(app.url("embed.mjs")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(header(r.headers(), "content-type"), "text/javascript; charset=utf-8");
    assert!(r.text().await.unwrap().contains("export const mount"));
}
