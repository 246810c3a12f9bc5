//! The integrator's endpoints over real HTTP: against a real veriframe on port 0 (the tests that
//! need one skip, with a message, where the models are not fetched; under `CI=true` that fails),
//! against a closed port, and against a server that never answers.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::Connection as _;
use tokio::net::TcpListener;
use veriframe_integrator::{AppState, Db, Settings, router};
use veriframe_testkit::flow::Page;
use veriframe_testkit::synth::{Act, Holder, frontal, jpeg, passport, photo, subject};
use veriframe_testkit::{Backend, TestApp};

/// The integrator on an ephemeral port with a fresh database file.
struct Integrator {
    url: String,
    db_path: PathBuf,
    http: reqwest::Client,
    server: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

impl Drop for Integrator {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// One row of the integrator's table, read straight from the file.
#[derive(Debug, sqlx::FromRow)]
struct Row {
    interview_id: String,
    user_id: String,
    token: String,
    decision: Option<String>,
    decision_final: Option<bool>,
    face_recognition_status: Option<String>,
}

impl Integrator {
    async fn spawn(settings: Settings) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let db_path = dir.path().join("integrator.db");
        let state = AppState::new(settings, Db::open(&db_path).await.unwrap()).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move { axum::serve(listener, router(state)).await.unwrap() });
        Self { url, db_path, http: reqwest::Client::new(), server, _dir: dir }
    }

    /// Pointed at a running veriframe with its demo tenant.
    async fn against(app: &TestApp) -> Self {
        Self::spawn(Settings::new(&app.base_url, &app.api_key, &app.flow_id)).await
    }

    async fn create(&self, user_id: &str) -> (StatusCode, Value) {
        let r = self
            .http
            .post(format!("{}/create-session-and-onboarding-url", self.url))
            .json(&json!({ "userId": user_id }))
            .send()
            .await
            .unwrap();
        (r.status(), r.json().await.unwrap())
    }

    async fn get(&self, path_and_query: &str) -> (StatusCode, Value) {
        let r = self.http.get(format!("{}{path_and_query}", self.url)).send().await.unwrap();
        let status = r.status();
        let text = r.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}")))
    }

    async fn status(&self, interview_id: &str) -> (StatusCode, Value) {
        self.get(&format!("/onboarding-status?interviewId={interview_id}")).await
    }

    async fn score(&self, interview_id: &str) -> (StatusCode, Value) {
        self.get(&format!("/fetch-score?interviewId={interview_id}")).await
    }

    /// The sessions the integrator stored for a user, oldest first, read without its code.
    async fn rows(&self, user_id: &str) -> Vec<Row> {
        let options = sqlx::sqlite::SqliteConnectOptions::new().filename(&self.db_path).read_only(true);
        let mut conn = sqlx::SqliteConnection::connect_with(&options).await.unwrap();
        let rows = sqlx::query_as::<_, Row>(
            "SELECT interview_id, user_id, token, decision, decision_final, face_recognition_status
             FROM onboarding_sessions WHERE user_id = ? ORDER BY created_at_ms, interview_id",
        )
        .bind(user_id)
        .fetch_all(&mut conn)
        .await
        .unwrap();
        conn.close().await.unwrap();
        rows
    }
}

/// Checks an error answer's shape (the partner API's) and its message.
fn expect_error(got: (StatusCode, Value), status: StatusCode, path: &str, message_part: &str) -> Value {
    let (code, body) = got;
    assert_eq!(code, status, "{body}");
    assert_eq!(body["status"], status.as_u16(), "{body}");
    assert_eq!(body["path"], path, "{body}");
    assert!(body["timestamp"].as_i64().unwrap() > 1_600_000_000_000, "{body}");
    assert!(body["error"].is_string(), "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(message.to_lowercase().contains(&message_part.to_lowercase()), "expected {message_part:?} in {message:?}");
    body
}

/// veriframe on port 0, when the models are there.
async fn veriframe() -> Option<TestApp> {
    veriframe_testkit::engines()?;
    Some(TestApp::spawn(Backend::Sqlite).await)
}

/// Fails the test instead of hanging it when the integrator itself never answers.
async fn bounded<T>(call: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(8), call).await.expect("the integrator answered within 8 s")
}

/// An address nothing listens on.
async fn closed_port() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_are_created_saved_and_polled() {
    let Some(app) = veriframe().await else { return };
    let integrator = Integrator::against(&app).await;

    let (status, created) = integrator.create("user-0001").await;
    assert_eq!(status, 200, "{created}");
    let url = created["url"].as_str().unwrap();
    let interview_id = created["interviewId"].as_str().unwrap();
    assert!(url.starts_with(&format!("{}/flow/", app.base_url)), "{url}");
    assert_eq!(interview_id.len(), 24, "{interview_id}");

    // Step 1.2: the database holds the token and interviewId for this user, and the token is
    // the session's (it reads the session's status by itself).
    let rows = integrator.rows("user-0001").await;
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].interview_id.as_str(), rows[0].user_id.as_str()), (interview_id, "user-0001"));
    assert_eq!(app.client.session(&rows[0].token).status().await.unwrap().onboarding_status, "UNKNOWN");
    assert_eq!(rows[0].decision, None);

    // The user's id went to veriframe as externalCustomerId, with the configured flow.
    let tenant = app.provisioning().tenant(&veriframe_core::ClientId::parse(&app.client_id).unwrap()).await.unwrap();
    let session = app
        .store
        .session(tenant.id, veriframe_core::InterviewId::parse(interview_id).unwrap())
        .await
        .unwrap()
        .expect("veriframe knows the session");
    assert_eq!(
        session.external_customer_id.as_ref().map(veriframe_core::text::ExternalCustomerId::as_str),
        Some("user-0001")
    );
    assert_eq!(session.flow_id.to_string(), app.flow_id);

    // Step 3.
    let (status, polled) = integrator.status(interview_id).await;
    assert_eq!(status, 200, "{polled}");
    assert_eq!(polled, json!({ "onboardingStatus": "UNKNOWN" }));

    // Step 6 before the person did anything: no decision, said plainly, and recorded.
    let (status, decision) = integrator.score(interview_id).await;
    assert_eq!(status, 200, "{decision}");
    assert_eq!(decision["status"], "UNKNOWN", "{decision}");
    assert_eq!((decision["finished"].as_bool(), decision["onboarded"].as_bool()), (Some(false), Some(false)));
    assert_eq!(decision["onboardingStatus"], "UNKNOWN");
    assert!(decision["reason"].as_str().unwrap().contains("not finished"), "{decision}");
    let rows = integrator.rows("user-0001").await;
    assert_eq!((rows[0].decision.as_deref(), rows[0].decision_final), (Some("UNKNOWN"), Some(false)));

    // A second attempt is a new session with its own link; both are kept.
    let (_, again) = integrator.create("user-0001").await;
    assert_ne!(again["interviewId"], created["interviewId"]);
    assert_ne!(again["url"], created["url"]);
    assert_eq!(integrator.rows("user-0001").await.len(), 2);
}

#[tokio::test]
async fn bad_requests_get_clear_json_errors() {
    // Nothing here reaches the verification API, so a closed port is enough.
    let integrator = Integrator::spawn(Settings::new(closed_port().await, "vfk_unused", "unused")).await;

    let unknown = "0123456789abcdef01234567";
    expect_error(
        integrator.status(unknown).await,
        StatusCode::NOT_FOUND,
        "/onboarding-status",
        "no onboarding session",
    );
    expect_error(integrator.score(unknown).await, StatusCode::NOT_FOUND, "/fetch-score", "no onboarding session");
    expect_error(integrator.get("/fetch-score").await, StatusCode::BAD_REQUEST, "/fetch-score", "interviewId");
    expect_error(integrator.get("/nowhere").await, StatusCode::NOT_FOUND, "/nowhere", "no such route");

    for user_id in ["", "   ", "a\u{7}b", &"x".repeat(129)] {
        expect_error(
            integrator.create(user_id).await,
            StatusCode::BAD_REQUEST,
            "/create-session-and-onboarding-url",
            "userId",
        );
    }
    let r = integrator
        .http
        .post(format!("{}/create-session-and-onboarding-url", integrator.url))
        .header("content-type", "application/json")
        .body("{\"userId\": ")
        .send()
        .await
        .unwrap();
    let got = (r.status(), r.json::<Value>().await.unwrap());
    expect_error(got, StatusCode::BAD_REQUEST, "/create-session-and-onboarding-url", "json");
    assert!(integrator.rows("").await.is_empty());
}

#[tokio::test]
async fn the_page_follows_the_guide() {
    let integrator = Integrator::spawn(Settings::new(closed_port().await, "vfk_unused", "unused")).await;
    let page = integrator.http.get(format!("{}/", integrator.url)).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let html = page.text().await.unwrap();
    for id in ["id=\"start\"", "id=\"frame-host\"", "id=\"result\"", "data-status=\"\"", "src=\"app.js\""] {
        assert!(html.contains(id), "{id} missing from the page");
    }
    let script = integrator.http.get(format!("{}/app.js", integrator.url)).send().await.unwrap();
    assert!(script.headers()["content-type"].to_str().unwrap().starts_with("text/javascript"));
    let js = script.text().await.unwrap();
    for needle in [
        "'geolocation *; microphone *; camera *; accelerometer *; gyroscope *;'",
        "frame.width = '100%'",
        "frame.height = '100%'",
        "'create-session-and-onboarding-url'",
        "onboarding-status?interviewId=",
        "fetch-score?interviewId=",
        "const POLL_MS = 1000;",
        "frame.parentNode.removeChild(frame)",
        "result.dataset.status = status",
    ] {
        assert!(js.contains(needle), "{needle} missing from app.js");
    }
}

#[tokio::test]
async fn a_verification_api_that_is_down_fails_fast_and_clearly() {
    let down = closed_port().await;
    let integrator = Integrator::spawn(Settings::new(&down, "vfk_any", "any")).await;
    let started = Instant::now();
    let body = expect_error(
        bounded(integrator.create("user-0001")).await,
        StatusCode::BAD_GATEWAY,
        "/create-session-and-onboarding-url",
        "cannot reach the verification API",
    );
    assert!(started.elapsed() < Duration::from_secs(2), "took {:?}", started.elapsed());
    assert!(body["message"].as_str().unwrap().contains(&down), "{body}");
    assert!(body["upstreamStatus"].is_null(), "nobody answered: {body}");
    assert!(integrator.rows("user-0001").await.is_empty(), "nothing saved for a failed start");
}

#[tokio::test]
async fn a_verification_api_that_hangs_times_out() {
    // Accepts connections and never answers.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hung = format!("http://{}", listener.local_addr().unwrap());
    let _black_hole = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let settings = Settings { request_timeout: Duration::from_secs(1), ..Settings::new(&hung, "vfk_any", "any") };
    let integrator = Integrator::spawn(settings).await;

    let started = Instant::now();
    expect_error(
        bounded(integrator.create("user-0001")).await,
        StatusCode::GATEWAY_TIMEOUT,
        "/create-session-and-onboarding-url",
        "did not answer within 1s",
    );
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(900) && took < Duration::from_secs(4), "took {took:?}");

    // The same bound applies to the polling endpoint, with a session the app already knows.
    let db = Db::open(&integrator.db_path).await.unwrap();
    db.insert_session("user-0001", "0123456789abcdef01234567", "vfs_stored").await.unwrap();
    db.close().await;
    let started = Instant::now();
    expect_error(
        bounded(integrator.status("0123456789abcdef01234567")).await,
        StatusCode::GATEWAY_TIMEOUT,
        "/onboarding-status",
        "did not answer",
    );
    assert!(started.elapsed() < Duration::from_secs(4), "took {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_api_key_is_explained() {
    let Some(app) = veriframe().await else { return };
    let p = app.provisioning();
    let tenant = p.tenant(&veriframe_core::ClientId::parse(&app.client_id).unwrap()).await.unwrap();
    let (key, secret) = p.create_api_key(&tenant, "integrator").await.unwrap();
    let integrator = Integrator::spawn(Settings::new(&app.base_url, secret.expose(), &app.flow_id)).await;
    let (status, created) = integrator.create("user-0001").await;
    assert_eq!(status, 200, "the key works before it is revoked: {created}");

    p.revoke_api_key(&tenant, key.id).await.unwrap();
    let body = expect_error(
        integrator.create("user-0002").await,
        StatusCode::BAD_GATEWAY,
        "/create-session-and-onboarding-url",
        "refused this app's API key",
    );
    assert_eq!(body["upstreamStatus"], 403, "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(message.contains("HTTP 403") && message.contains("revoked"), "{message}");
    assert!(!message.contains(secret.expose()), "the key never appears in errors");
    assert!(integrator.rows("user-0002").await.is_empty());
}

/// The hosted page's side, over the capture API (docs/capture-api.md), as a browser would drive
/// it: open the link, consent, front of a passport, selfie, head turn, submit.
async fn complete_hosted_flow(app: &TestApp, onboarding_url: &str, document_portrait: &str, selfie: &str) {
    let (page, _) = Page::open(&app.base_url, onboarding_url).await;
    let (_, consent) = page.post("consent").await;
    assert_eq!(consent["current"], "front", "{consent}");
    let document = jpeg(&passport(&photo(document_portrait), &Holder::valid("ERIKSSON", "ANNA MARIA")));
    let (_, front) = page.capture("front", document).await;
    assert_eq!((front["accepted"].as_bool(), front["next"].as_str()), (Some(true), Some("selfie")), "{front}");
    let face = photo(selfie);
    let (_, answer) = page.capture("selfie", jpeg(&frontal(&face).0)).await;
    assert_eq!((answer["accepted"].as_bool(), answer["next"].as_str()), (Some(true), Some("liveness")), "{answer}");
    let (_, turned) = page.liveness(&subject(&face), Act::Genuine, 11).await;
    assert_eq!(turned["accepted"], true, "{turned}");
    let (status, _) = page.post("submit").await;
    assert_eq!(status, 200);
}

/// The guide end to end without a browser: the integrator's endpoints, the hosted flow driven
/// over its capture API, verification, and the decision the page would show.
async fn onboard(app: &TestApp, integrator: &Integrator, user_id: &str, portrait: &str, selfie: &str) -> Value {
    let (status, created) = integrator.create(user_id).await;
    assert_eq!(status, 200, "{created}");
    let interview_id = created["interviewId"].as_str().unwrap();
    complete_hosted_flow(app, created["url"].as_str().unwrap(), portrait, selfie).await;

    // Submitted but not verified yet: still no decision.
    let (_, decision) = integrator.score(interview_id).await;
    assert_eq!(
        (decision["status"].as_str(), decision["finished"].as_bool()),
        (Some("UNKNOWN"), Some(false)),
        "{decision}"
    );

    app.pipeline.run_until_idle(20).await.unwrap();
    let (status, polled) = integrator.status(interview_id).await;
    assert_eq!((status.as_u16(), &polled), (200, &json!({ "onboardingStatus": "ONBOARDING_FINISHED" })));
    let (status, decision) = integrator.score(interview_id).await;
    assert_eq!(status, 200, "{decision}");
    assert_eq!(decision["interviewId"], interview_id);
    assert_eq!(
        (decision["finished"].as_bool(), decision["onboardingStatus"].as_str()),
        (Some(true), Some("ONBOARDING_FINISHED"))
    );
    decision
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_genuine_person_onboards_and_someone_else_does_not() {
    let Some(app) = veriframe().await else { return };
    let integrator = Integrator::against(&app).await;

    let decision = onboard(&app, &integrator, "anna", "faces/obama_3.jpg", "faces/obama_1.jpg").await;
    assert_eq!((decision["status"].as_str(), decision["onboarded"].as_bool()), (Some("OK"), Some(true)), "{decision}");
    assert_eq!(decision["checks"], json!({ "idValidation": "OK", "liveness": "OK", "faceRecognition": "OK" }));
    assert!(decision["reason"].as_str().unwrap().contains("passed"), "{decision}");
    let rows = integrator.rows("anna").await;
    assert_eq!((rows[0].decision.as_deref(), rows[0].decision_final), (Some("OK"), Some(true)));

    // A valid passport with another person's portrait: the face match fails it.
    let decision = onboard(&app, &integrator, "mallory", "faces/harington_1.jpg", "faces/obama_1.jpg").await;
    assert_eq!(
        (decision["status"].as_str(), decision["onboarded"].as_bool()),
        (Some("FAIL"), Some(false)),
        "{decision}"
    );
    assert_eq!(decision["checks"]["faceRecognition"], "FAIL", "{decision}");
    let rows = integrator.rows("mallory").await;
    assert_eq!(rows[0].decision.as_deref(), Some("FAIL"));
    assert_eq!(rows[0].face_recognition_status.as_deref(), Some("FAIL"));
}
