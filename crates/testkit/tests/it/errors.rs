//! Bad input gets a clear error in Incode's shape, with the right status, never a 500.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use time::Duration;
use veriframe_testkit::{Backend, TestApp, on_both_backends};

on_both_backends!(
    malformed_requests_get_the_error_shape,
    credentials_are_checked,
    expiry_is_enforced,
    executive_login_and_access
);

/// Sends a request and checks the error body's shape and status.
pub(crate) async fn expect_error(response: reqwest::Response, status: StatusCode, message_part: &str) -> Value {
    let got = response.status();
    let path = response.url().path().to_owned();
    let content_type = response.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned());
    let body: Value = response.json().await.expect("error bodies are JSON");
    assert_eq!(got, status, "{body}");
    assert_eq!(content_type.as_deref(), Some("application/json"));
    assert_eq!(body["status"], status.as_u16(), "{body}");
    assert!(body["timestamp"].as_i64().unwrap() > 1_600_000_000_000, "{body}");
    assert_eq!(body["path"], path, "{body}");
    assert!(body["error"].is_string(), "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(message.to_lowercase().contains(&message_part.to_lowercase()), "expected {message_part:?} in {message:?}");
    body
}

async fn malformed_requests_get_the_error_shape(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let http = app.http();
    let start = || http.post(app.url("omni/start")).header("x-api-key", &app.api_key).header("api-version", "1.0");

    let r = start().header("content-type", "application/json").body("{\"configurationId\": ").send().await.unwrap();
    expect_error(r, StatusCode::BAD_REQUEST, "malformed JSON").await;
    let r = start().header("content-type", "text/plain").body("{}").send().await.unwrap();
    expect_error(r, StatusCode::UNSUPPORTED_MEDIA_TYPE, "Content-Type").await;
    let r = start().json(&json!({"configurationId": 42})).send().await.unwrap();
    expect_error(r, StatusCode::BAD_REQUEST, "invalid JSON body").await;
    let r = start().json(&json!([1, 2])).send().await.unwrap();
    expect_error(r, StatusCode::BAD_REQUEST, "invalid JSON body").await;
    let r = start().json(&json!({})).send().await.unwrap();
    expect_error(r, StatusCode::BAD_REQUEST, "configurationId is required").await;
    let r = start().json(&json!({"configurationId": "not-an-id"})).send().await.unwrap();
    expect_error(r, StatusCode::BAD_REQUEST, "configurationId").await;
    let r = start().json(&json!({"configurationId": "0123456789abcdef01234567"})).send().await.unwrap();
    expect_error(r, StatusCode::BAD_REQUEST, "unknown configurationId").await;
    for (field, value) in [
        ("countryCode", json!("Narnia")),
        ("language", json!("klingon-of-doom")),
        ("redirectionUrl", json!("javascript:alert(1)")),
        ("customFields", json!({"nested": {"no": 1}})),
        ("externalCustomerId", json!("x".repeat(300))),
        ("interviewId", json!("zz")),
    ] {
        let r = start().json(&json!({"configurationId": app.flow_id, field: value})).send().await.unwrap();
        expect_error(r, StatusCode::BAD_REQUEST, field).await;
    }
    // customFields that is not an object at all, or breaks a rule on its entries: each says which.
    let too_many: serde_json::Map<String, Value> = (0..51).map(|i| (format!("k{i}"), json!("v"))).collect();
    for (value, reason) in [
        (json!(["a"]), "expected a flat JSON object"),
        (json!("a=1"), "expected a flat JSON object"),
        (json!({"bad key": "x"}), "keys are 1 to 64 characters"),
        (json!({"list": [1]}), "values must be strings, numbers or booleans"),
        (Value::Object(too_many), "at most 50 fields"),
    ] {
        let r = start().json(&json!({"configurationId": app.flow_id, "customFields": value})).send().await.unwrap();
        expect_error(r, StatusCode::BAD_REQUEST, reason).await;
    }
    // Oversized body.
    let huge = json!({"configurationId": app.flow_id, "customFields": {"a": "x".repeat(400 * 1024)}});
    let r = start().json(&huge).send().await.unwrap();
    expect_error(r, StatusCode::PAYLOAD_TOO_LARGE, "too large").await;
    // API version.
    let r = http
        .post(app.url("omni/start"))
        .header("x-api-key", &app.api_key)
        .header("api-version", "2.0")
        .json(&json!({"configurationId": app.flow_id}))
        .send()
        .await
        .unwrap();
    expect_error(r, StatusCode::BAD_REQUEST, "api-version").await;
    // A missing api-version is read as 1.0.
    let r = http
        .post(app.url("omni/start"))
        .header("x-api-key", &app.api_key)
        .json(&json!({"configurationId": app.flow_id}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    // Unknown routes and wrong methods.
    let r = http.get(app.url("omni/no-such-thing")).send().await.unwrap();
    expect_error(r, StatusCode::NOT_FOUND, "no such endpoint").await;
    let r = http.request(Method::DELETE, app.url("omni/start")).send().await.unwrap();
    expect_error(r, StatusCode::METHOD_NOT_ALLOWED, "not allowed").await;
    // Query and image-name validation.
    let (token, _) = app.start_session().await;
    let r = http.get(app.url("0/omni/get/score?id=nope")).header("X-Incode-Hardware-Id", &token).send().await.unwrap();
    expect_error(r, StatusCode::BAD_REQUEST, "id").await;
    let r = http
        .post(app.url("0/omni/get/images"))
        .header("X-Incode-Hardware-Id", &token)
        .json(&json!({"images": ["selfie", "passportScanOfTheMoon"]}))
        .send()
        .await
        .unwrap();
    expect_error(r, StatusCode::BAD_REQUEST, "unknown image name").await;
    let r = http
        .post(app.url("0/omni/get/images"))
        .header("X-Incode-Hardware-Id", &token)
        .json(&json!({"pics": []}))
        .send()
        .await
        .unwrap();
    expect_error(r, StatusCode::BAD_REQUEST, "images").await;
    // Non-ASCII header values.
    let r = http
        .get(app.url("0/omni/get/onboarding/status"))
        .header("X-Incode-Hardware-Id", reqwest::header::HeaderValue::from_bytes(b"caf\xe9").unwrap())
        .send()
        .await
        .unwrap();
    expect_error(r, StatusCode::BAD_REQUEST, "ASCII").await;
    // Health stays plain.
    assert_eq!(app.client.health().await.unwrap().status, "ok");
    assert_eq!(app.client.ready().await.unwrap().status, "ok");
    // Every response carries a request id and the processing time.
    let r = http.get(app.url("healthz")).header("x-request-id", "trace-me-42").send().await.unwrap();
    assert_eq!(r.headers()["x-request-id"], "trace-me-42");
    assert!(r.headers().contains_key("processing-time"));
}

async fn credentials_are_checked(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let http = app.http();
    let body = json!({"configurationId": app.flow_id});
    let r = http.post(app.url("omni/start")).json(&body).send().await.unwrap();
    expect_error(r, StatusCode::FORBIDDEN, "missing x-api-key").await;
    let r = http.post(app.url("omni/start")).header("x-api-key", "vfk_wrong").json(&body).send().await.unwrap();
    expect_error(r, StatusCode::FORBIDDEN, "invalid API key").await;
    let r = http.post(app.url("omni/start")).header("x-api-key", "").json(&body).send().await.unwrap();
    expect_error(r, StatusCode::FORBIDDEN, "invalid API key").await;

    let r = http.get(app.url("0/omni/get/onboarding/status")).send().await.unwrap();
    expect_error(r, StatusCode::UNAUTHORIZED, "missing X-Incode-Hardware-Id").await;
    let r = http
        .get(app.url("0/omni/get/onboarding/status"))
        .header("X-Incode-Hardware-Id", "vfs_wrong")
        .send()
        .await
        .unwrap();
    expect_error(r, StatusCode::UNAUTHORIZED, "invalid token").await;
    // The API key is not a token, and an API-key route needs both.
    let r = http
        .get(app.url("0/omni/get/onboarding/status"))
        .header("X-Incode-Hardware-Id", &app.api_key)
        .send()
        .await
        .unwrap();
    expect_error(r, StatusCode::UNAUTHORIZED, "invalid token").await;
    let (token, _) = app.start_session().await;
    let r =
        http.get(app.url("omni/get/onboarding/status")).header("X-Incode-Hardware-Id", &token).send().await.unwrap();
    expect_error(r, StatusCode::FORBIDDEN, "x-api-key").await;
    let r = http.get(app.url("omni/get/onboarding/status")).header("x-api-key", &app.api_key).send().await.unwrap();
    expect_error(r, StatusCode::UNAUTHORIZED, "X-Incode-Hardware-Id").await;

    // An onboarding link's secret is not a session token.
    let link = app.client.session(&token).onboarding_url().await.unwrap().link().unwrap();
    let link = link.expose();
    let r =
        http.get(app.url("0/omni/get/onboarding/status")).header("X-Incode-Hardware-Id", link).send().await.unwrap();
    expect_error(r, StatusCode::UNAUTHORIZED, "invalid token").await;

    // Revoked keys stop working at once; other keys of the tenant keep working.
    let p = app.provisioning();
    let tenant = p.tenant(&veriframe_core::ClientId::parse(&app.client_id).unwrap()).await.unwrap();
    let (second, second_secret) = p.create_api_key(&tenant, "second").await.unwrap();
    let with_second = app.anonymous().with_api_key(second_secret.expose());
    with_second
        .start(&veriframe_api_types::StartRequest { configuration_id: Some(app.flow_id.clone()), ..Default::default() })
        .await
        .unwrap();
    p.revoke_api_key(&tenant, second.id).await.unwrap();
    let err = with_second
        .start(&veriframe_api_types::StartRequest { configuration_id: Some(app.flow_id.clone()), ..Default::default() })
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(403));
    assert!(err.to_string().contains("revoked"), "{err}");
    app.start_session().await;
}

async fn expiry_is_enforced(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (token, _) = app.start_session().await;
    let session = app.client.session(&token);
    let url = session.onboarding_url().await.unwrap();
    assert!(!url.url.is_empty());
    // The default flow gives unfinished sessions 24 hours.
    app.clock.advance(Duration::hours(25));
    assert_eq!(session.status().await.unwrap().onboarding_status, "EXPIRED");
    let err = session.finish().await.unwrap_err();
    assert_eq!(err.status(), Some(400));
    assert!(err.to_string().contains("expired"), "{err}");
    // Finished sessions never expire.
    let (token2, _) = app.start_session().await;
    app.client.session(&token2).finish().await.unwrap();
    app.clock.advance(Duration::days(30));
    assert_eq!(app.client.session(&token2).status().await.unwrap().onboarding_status, "ONBOARDING_FINISHED");
    // Session tokens last 90 days.
    app.clock.advance(Duration::days(61));
    let err = app.client.session(&token2).status().await.unwrap_err();
    assert_eq!(err.status(), Some(401));
    assert!(err.to_string().contains("expired"), "{err}");
}

async fn executive_login_and_access(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let p = app.provisioning();
    let tenant = p.tenant(&veriframe_core::ClientId::parse(&app.client_id).unwrap()).await.unwrap();
    p.create_admin(&tenant, "Reviewer@Example.com", "a long enough password").await.unwrap();
    let err = app.client.executive_login("reviewer@example.com", "wrong password!!").await.unwrap_err();
    assert_eq!(err.status(), Some(401));
    let err = app.client.executive_login("nobody@example.com", "a long enough password").await.unwrap_err();
    assert_eq!(err.status(), Some(401));
    let err = app.anonymous().executive_login("reviewer@example.com", "a long enough password").await.unwrap_err();
    assert_eq!(err.status(), Some(403));
    let exec = app.client.executive_login("reviewer@example.com", "a long enough password").await.unwrap().token;

    let (_, interview_id) = app.start_session().await;
    let reader = app.client.executive(&exec, &interview_id);
    assert_eq!(reader.status().await.unwrap().onboarding_status, "UNKNOWN");
    assert_eq!(reader.score().await.unwrap().overall.status, "UNKNOWN");
    reader.finish().await.unwrap();
    assert_eq!(
        app.client.session(&exec).for_interview(&interview_id).status().await.unwrap().onboarding_status,
        "ONBOARDING_FINISHED"
    );
    // Without ?id= an executive token does not know which session is meant.
    let err = app.client.session(&exec).status().await.unwrap_err();
    assert_eq!(err.status(), Some(400));
    // A well-formed id that does not exist is 404.
    let err = app.client.executive(&exec, "0123456789abcdef01234567").status().await.unwrap_err();
    assert_eq!(err.status(), Some(404));
    // Executive tokens last 24 hours.
    app.clock.advance(Duration::hours(25));
    let err = reader.status().await.unwrap_err();
    assert_eq!(err.status(), Some(401));
}
