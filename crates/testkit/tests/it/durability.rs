//! Every acceptance is durable and every session finishes, even when a statement fails between
//! two steps (a trigger injects the fault), work goes missing behind the server's back, or bytes
//! are left that nothing refers to.

use reqwest::StatusCode;
use serde_json::{Value, json};
use veriframe_core::blob::BlobKey;
use veriframe_core::flow::{FlowConfig, Modules};
use veriframe_core::ids::{ClientId, InterviewId, TenantId};
use veriframe_testkit::synth::{frontal, jpeg, photo};
use veriframe_testkit::{Backend, TestApp, on_both_backends};

on_both_backends!(
    a_failed_statement_loses_no_accepted_upload,
    a_failed_submission_strands_no_session,
    the_reconciler_requeues_missing_work,
    orphaned_blobs_are_swept,
    an_idempotency_key_reused_for_another_kind_is_another_capture,
);

/// A flow with one capture, the selfie: the cheapest complete onboarding.
async fn selfie_flow(app: &TestApp) -> String {
    let p = app.provisioning();
    let tenant = p.tenant(&ClientId::parse(&app.client_id).unwrap()).await.unwrap();
    let modules = Modules { consent: false, id_capture: false, selfie: true, liveness: false, face_match: false };
    let flow = p.create_flow(&tenant, "selfie only", FlowConfig { modules, ..FlowConfig::default() }).await.unwrap();
    flow.id.to_string()
}

/// Starts a session on `flow_id` and opens it as the page does: (session token, flow token, id).
async fn open(app: &TestApp, flow_id: &str) -> (String, String, String) {
    let started = app
        .client
        .start(&veriframe_api_types::StartRequest { configuration_id: Some(flow_id.into()), ..Default::default() })
        .await
        .unwrap();
    let url = app.client.session(&started.token).onboarding_url().await.unwrap().url;
    let flow_token = app.open_link(&url).await["flowToken"].as_str().unwrap().to_owned();
    (started.token, flow_token, started.interview_id)
}

async fn upload(app: &TestApp, flow_token: &str, kind: &str, image: Vec<u8>, key: &str) -> (StatusCode, Value) {
    let r = app
        .http()
        .post(app.url(&format!("flow/api/capture/{kind}")))
        .bearer_auth(flow_token)
        .header("content-type", "image/jpeg")
        .header("idempotency-key", key)
        .body(image)
        .send()
        .await
        .unwrap();
    (r.status(), r.json().await.unwrap())
}

async fn images(app: &TestApp, session_token: &str) -> Value {
    let r = app
        .http()
        .post(app.url("0/omni/get/images"))
        .header("X-Incode-Hardware-Id", session_token)
        .json(&json!({"images": ["selfie", "fullFrameFrontID"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

async fn status_of(app: &TestApp, session_token: &str) -> String {
    app.client.session(session_token).status().await.unwrap().onboarding_status
}

/// A trigger that fails every insert into `table`, and the statement that removes it.
fn fault(backend: Backend, table: &str) -> (String, String) {
    match backend {
        Backend::Sqlite => (
            format!("CREATE TRIGGER fault BEFORE INSERT ON {table} BEGIN SELECT RAISE(ABORT, 'injected fault'); END;"),
            "DROP TRIGGER fault;".into(),
        ),
        Backend::Postgres => (
            format!(
                "CREATE FUNCTION fault() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'injected fault'; END $$;
                 CREATE TRIGGER fault BEFORE INSERT ON {table} FOR EACH ROW EXECUTE FUNCTION fault();"
            ),
            format!("DROP TRIGGER fault ON {table}; DROP FUNCTION fault();"),
        ),
    }
}

fn selfie() -> Vec<u8> {
    jpeg(&frontal(&photo("faces/obama_1.jpg")).0)
}

/// The image is registered after the capture row: a failure there used to leave a row that the
/// retry replayed as accepted while the image never appeared.
async fn a_failed_statement_loses_no_accepted_upload(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let flow_id = selfie_flow(&app).await;
    let (session_token, flow_token, _) = open(&app, &flow_id).await;
    let (install, remove) = fault(backend, "session_images");
    app.sql(&install).await;
    let (status, body) = upload(&app, &flow_token, "selfie", selfie(), "attempt-1").await;
    assert!(status.is_server_error(), "the injected fault fails the upload: {status} {body}");
    app.sql(&remove).await;
    // The page retries with the same key: it must be processed, not replayed from a half-write.
    let (status, body) = upload(&app, &flow_token, "selfie", selfie(), "attempt-1").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["accepted"], true, "{body}");
    let stored = images(&app, &session_token).await;
    assert!(stored["selfie"].as_str().is_some_and(|b| !b.is_empty()), "an accepted selfie is stored: {stored}");
}

/// `submitted_at` used to be written before the finalize job was queued.
async fn a_failed_submission_strands_no_session(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let flow_id = selfie_flow(&app).await;
    let (session_token, flow_token, _) = open(&app, &flow_id).await;
    let (status, body) = upload(&app, &flow_token, "selfie", selfie(), "s").await;
    assert_eq!((status, &body["accepted"]), (StatusCode::OK, &json!(true)), "{body}");
    let (install, remove) = fault(backend, "jobs");
    app.sql(&install).await;
    let submit = || app.http().post(app.url("flow/api/submit")).bearer_auth(&flow_token).send();
    let failed = submit().await.unwrap();
    assert!(failed.status().is_server_error(), "{}", failed.status());
    app.sql(&remove).await;
    let retried = submit().await.unwrap();
    assert_eq!(retried.status(), 200);
    app.pipeline.run_until_idle(20).await.unwrap();
    assert_eq!(status_of(&app, &session_token).await, "ONBOARDING_FINISHED");
}

/// Work that went missing behind the server's back — a job row lost, a submission without its
/// finalize job — is found and queued again.
async fn the_reconciler_requeues_missing_work(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let flow_id = selfie_flow(&app).await;
    let (session_token, flow_token, interview) = open(&app, &flow_id).await;
    let (status_code, body) = upload(&app, &flow_token, "selfie", selfie(), "s").await;
    assert_eq!(status_code, 200, "{body}");
    let r = app.http().post(app.url("flow/api/submit")).bearer_auth(&flow_token).send().await.unwrap();
    assert_eq!(r.status(), 200);
    app.sql(&format!("DELETE FROM jobs WHERE session_id = '{interview}'")).await;
    assert_eq!(app.pipeline.run_until_idle(20).await.unwrap(), 0, "nothing left to run");
    let reconciler = app.pipeline.reconciler();
    assert_eq!(reconciler.reconcile(time::OffsetDateTime::UNIX_EPOCH).await.unwrap(), 2, "face and finalize");
    assert_eq!(reconciler.reconcile(time::OffsetDateTime::UNIX_EPOCH).await.unwrap(), 0, "queued once");
    app.pipeline.run_until_idle(20).await.unwrap();
    assert_eq!(status_of(&app, &session_token).await, "ONBOARDING_FINISHED");
    // Finished sessions are not candidates any more.
    assert_eq!(reconciler.reconcile(time::OffsetDateTime::UNIX_EPOCH).await.unwrap(), 0);
}

async fn orphaned_blobs_are_swept(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let flow_id = selfie_flow(&app).await;
    let (session_token, flow_token, interview) = open(&app, &flow_id).await;
    let (status_code, body) = upload(&app, &flow_token, "selfie", selfie(), "s").await;
    assert_eq!(status_code, 200, "{body}");
    // Bytes written for a capture whose commit never happened.
    let blobs = app.blobs();
    let tenant: TenantId =
        app.store.tenant_by_client_id(&ClientId::parse(&app.client_id).unwrap()).await.unwrap().unwrap().id;
    let session: InterviewId = interview.parse().unwrap();
    let orphan = BlobKey::for_session(tenant, session, "selfie");
    blobs.put(&orphan, b"orphaned bytes".to_vec()).await.unwrap();
    let reconciler = app.pipeline.reconciler();
    // Young blobs are left alone: their request may still be about to commit.
    assert_eq!(reconciler.sweep_blobs(time::Duration::hours(1)).await.unwrap(), 0);
    // A second later, by the app's clock, the unreferenced blob is old enough to go.
    app.clock.advance(time::Duration::seconds(1));
    assert_eq!(reconciler.sweep_blobs(time::Duration::ZERO).await.unwrap(), 1);
    assert_eq!(blobs.get(&orphan).await.unwrap(), None);
    let stored = images(&app, &session_token).await;
    assert!(stored["selfie"].as_str().is_some_and(|b| !b.is_empty()), "referenced blobs stay: {stored}");
}

/// A key is scoped to the session and the capture kind: reused for the front it must not replay
/// the selfie's "accepted" while storing nothing.
async fn an_idempotency_key_reused_for_another_kind_is_another_capture(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (session_token, flow_token, _) = open(&app, &app.flow_id.clone()).await;
    let r = app.http().post(app.url("flow/api/consent")).bearer_auth(&flow_token).json(&json!({"accepted": true}));
    assert_eq!(r.send().await.unwrap().status(), 200);
    let (status_code, selfie_answer) = upload(&app, &flow_token, "selfie", selfie(), "one-key").await;
    assert_eq!((status_code, &selfie_answer["accepted"]), (StatusCode::OK, &json!(true)), "{selfie_answer}");
    let blank = jpeg(&image::RgbImage::from_pixel(640, 480, image::Rgb([128, 128, 128])));
    let (status_code, front_answer) = upload(&app, &flow_token, "front", blank, "one-key").await;
    assert_eq!(status_code, 200, "{front_answer}");
    assert_eq!(front_answer["accepted"], false, "a blank front is checked, not replayed: {front_answer}");
    assert!(!front_answer["problems"].as_array().unwrap().is_empty(), "{front_answer}");
    let stored = images(&app, &session_token).await;
    assert!(stored.get("fullFrameFrontID").is_none(), "{stored}");
}
