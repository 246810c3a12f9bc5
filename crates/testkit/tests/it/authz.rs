//! The authorisation matrix: every credential a caller of tenant A can hold, against every
//! endpoint that reads a session, aimed at tenant B's session and at A's own sessions.

use reqwest::Method;
use serde_json::json;
use time::Duration;
use veriframe_core::ClientId;
use veriframe_testkit::{Backend, TestApp, on_both_backends};

on_both_backends!(tenants_and_sessions_are_isolated);

/// (method, path) of every session-reading endpoint, without the `/0` prefix.
const ENDPOINTS: [(Method, &str); 6] = [
    (Method::GET, "omni/onboarding-url"),
    (Method::GET, "omni/get/onboarding/status"),
    (Method::GET, "omni/get/score"),
    (Method::GET, "omni/get/ocr-data"),
    (Method::POST, "omni/get/images"),
    (Method::GET, "omni/finish-status"),
];

struct Call<'a> {
    zero: bool,
    key: Option<&'a str>,
    token: &'a str,
    id: Option<&'a str>,
}

async fn status_of(app: &TestApp, method: &Method, path: &str, call: &Call<'_>) -> u16 {
    let full = if call.zero { format!("0/{path}") } else { path.to_owned() };
    let mut request = app
        .http()
        .request(method.clone(), app.url(&full))
        .header("api-version", "1.0")
        .header("X-Incode-Hardware-Id", call.token);
    if let Some(key) = call.key {
        request = request.header("x-api-key", key);
    }
    if let Some(id) = call.id {
        request = request.query(&[("id", id)]);
    }
    if *method == Method::POST {
        request = request.json(&json!({"images": ["selfie"]}));
    }
    request.send().await.unwrap().status().as_u16()
}

async fn tenants_and_sessions_are_isolated(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let p = app.provisioning();

    // Tenant A is the demo tenant; tenant B is created here with its own key, flow and admin.
    let tenant_a = p.tenant(&ClientId::parse(&app.client_id).unwrap()).await.unwrap();
    let tenant_b = p.create_tenant(ClientId::parse("bank-b").unwrap(), "Bank B").await.unwrap();
    let (_, key_b) = p.create_api_key(&tenant_b, "b").await.unwrap();
    let flow_b = p.create_flow(&tenant_b, "b", Default::default()).await.unwrap();
    p.create_admin(&tenant_a, "a@example.com", "password of admin a").await.unwrap();
    p.create_admin(&tenant_b, "b@example.com", "password of admin b").await.unwrap();
    let key_a = app.api_key.clone();
    let key_b = key_b.expose().to_owned();

    let client_b = app.anonymous().with_api_key(&key_b);
    let start_b = client_b
        .start(&veriframe_api_types::StartRequest {
            configuration_id: Some(flow_b.id.to_string()),
            ..Default::default()
        })
        .await
        .unwrap();
    let (token_a, id_a) = app.start_session().await;
    let (token_a2, id_a2) = app.start_session().await;
    let exec_a = app.client.executive_login("a@example.com", "password of admin a").await.unwrap().token;
    let exec_b = client_b.executive_login("b@example.com", "password of admin b").await.unwrap().token;
    let id_b = start_b.interview_id.as_str();

    // Tenant A's API key cannot start a session on B's flow (it does not exist for A).
    let err = app
        .client
        .start(&veriframe_api_types::StartRequest {
            configuration_id: Some(flow_b.id.to_string()),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(400));
    // Nor resume B's session.
    let err = app
        .client
        .start(&veriframe_api_types::StartRequest { interview_id: Some(id_b.to_owned()), ..Default::default() })
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(404));
    // Nor log in B's administrator.
    let err = app.client.executive_login("b@example.com", "password of admin b").await.unwrap_err();
    assert_eq!(err.status(), Some(401));

    for (method, path) in &ENDPOINTS {
        let cases: Vec<(&str, Call<'_>, u16)> = vec![
            // Tenant A's credentials aimed at tenant B's session: invisible.
            (
                "A key + A session token, ?id=B",
                Call { zero: false, key: Some(&key_a), token: &token_a, id: Some(id_b) },
                404,
            ),
            (
                "A key + A executive, ?id=B",
                Call { zero: false, key: Some(&key_a), token: &exec_a, id: Some(id_b) },
                404,
            ),
            ("/0 A session token, ?id=B", Call { zero: true, key: None, token: &token_a, id: Some(id_b) }, 404),
            ("/0 A executive, ?id=B", Call { zero: true, key: None, token: &exec_a, id: Some(id_b) }, 404),
            // Mixing tenants' keys and tokens.
            ("A key + B session token", Call { zero: false, key: Some(&key_a), token: &start_b.token, id: None }, 401),
            (
                "B key + A executive, ?id=A",
                Call { zero: false, key: Some(&key_b), token: &exec_a, id: Some(&id_a) },
                401,
            ),
            // A session token reaches its own session only.
            ("/0 A token, ?id=A2", Call { zero: true, key: None, token: &token_a, id: Some(&id_a2) }, 404),
            (
                "A key + A token, ?id=A2",
                Call { zero: false, key: Some(&key_a), token: &token_a, id: Some(&id_a2) },
                404,
            ),
            // The legitimate calls work.
            ("/0 A2 token", Call { zero: true, key: None, token: &token_a2, id: None }, 200),
            (
                "A key + A executive, ?id=A2",
                Call { zero: false, key: Some(&key_a), token: &exec_a, id: Some(&id_a2) },
                200,
            ),
            ("/0 B executive, ?id=B", Call { zero: true, key: None, token: &exec_b, id: Some(id_b) }, 200),
            ("B key + B token", Call { zero: false, key: Some(&key_b), token: &start_b.token, id: None }, 200),
        ];
        for (name, call, expected) in cases {
            let got = status_of(&app, method, path, &call).await;
            assert_eq!(got, expected, "{method} {path}: {name}");
        }
    }

    // Tenant B's session was never touched by A's calls (finish-status ran only through B).
    // Revoked keys and expired tokens.
    let (revocable, revocable_secret) = p.create_api_key(&tenant_a, "to revoke").await.unwrap();
    p.revoke_api_key(&tenant_a, revocable.id).await.unwrap();
    let revoked = Call { zero: false, key: Some(revocable_secret.expose()), token: &exec_a, id: Some(&id_a) };
    assert_eq!(status_of(&app, &Method::GET, "omni/get/score", &revoked).await, 403);
    app.clock.advance(Duration::hours(25));
    let expired_exec = Call { zero: false, key: Some(&key_a), token: &exec_a, id: Some(&id_a) };
    assert_eq!(status_of(&app, &Method::GET, "omni/get/score", &expired_exec).await, 401);
    // Tenants are listed separately and see only their own flows.
    assert!(p.flow(&tenant_a, flow_b.id).await.is_err());
}
