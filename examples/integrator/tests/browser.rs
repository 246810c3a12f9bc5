//! The whole guide in a real browser: veriframe and the integrator on port 0, the integrator's
//! page opened in headless Chromium with a fake camera, and a person going through the hosted
//! flow inside the page's iframe. The page is on `localhost` and veriframe on `127.0.0.1`, so
//! the iframe is cross-site, as a customer's site and veriframe are in production.
//!
//! Skips with a message where Chromium or the models are missing (a failure under `CI=true`).

use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::net::TcpListener;
use veriframe_core::flow::CaptureSettings;
use veriframe_core::ids::{ClientId, InterviewId};
use veriframe_integrator::{AppState, Db, Settings, router};
use veriframe_testkit::browser::fantoccini::Locator;
use veriframe_testkit::browser::flow::{Person, Presence, Screenshots, assert_taken_on_merit, document_clip, onboard};
use veriframe_testkit::browser::{Browser, Options};
use veriframe_testkit::{Backend, TestApp, engines};

/// From the last capture to the page's verdict: processing, the page's one-second polling, and
/// the score.
const RESULT_TIMEOUT: Duration = Duration::from_secs(120);

/// The integrator on `127.0.0.1:0`, with its database kept at hand for the checks.
struct Integrator {
    /// The page's address under the name `localhost`: another site than veriframe's `127.0.0.1`.
    url: String,
    db: Db,
    server: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

impl Drop for Integrator {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Integrator {
    async fn against(app: &TestApp) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("integrator.db")).await.unwrap();
        let settings = Settings::new(&app.base_url, &app.api_key, &app.flow_id);
        let state = AppState::new(settings, db.clone()).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let url = format!("http://localhost:{port}/");
        // veriframe lets only the flow's allowed origins frame it.
        app.allow_origin(&app.flow_id, &format!("http://localhost:{port}")).await;
        let server = tokio::spawn(async move { axum::serve(listener, router(state)).await.unwrap() });
        Self { url, db, server, _dir: dir }
    }
}

/// Runs `script` on the integrator's page (the top level, whatever frame the test was in).
async fn top_eval(browser: &Browser, script: &str) -> Value {
    browser.top().await;
    browser.eval(script, vec![]).await
}

/// Waits for the page's verdict: `#result[data-status]`, set once the iframe is gone. Returns
/// the status and the interview the page showed it for.
async fn wait_for_result(browser: &Browser) -> (String, String) {
    let deadline = Instant::now() + RESULT_TIMEOUT;
    loop {
        let seen = top_eval(
            browser,
            "var r = document.getElementById('result');
             return {status: r.dataset.status, interviewId: r.dataset.interviewId || '',
                     text: r.textContent, progress: document.getElementById('progress').textContent};",
        )
        .await;
        if let Some(status) = seen["status"].as_str().filter(|s| !s.is_empty()) {
            return (status.to_owned(), seen["interviewId"].as_str().unwrap_or_default().to_owned());
        }
        assert!(Instant::now() < deadline, "no result on the integrator's page within {RESULT_TIMEOUT:?}: {seen}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// veriframe's verification jobs of a session, for a failure message: a verdict that is not the
/// one expected is most often a job that failed or ran late.
async fn jobs(app: &TestApp, interview_id: &str) -> String {
    let tenant = app.provisioning().tenant(&ClientId::parse(&app.client_id).unwrap()).await.unwrap();
    let Ok(id) = InterviewId::parse(interview_id) else { return format!("no interview {interview_id:?}") };
    let jobs = app.store.jobs(tenant.id, id).await.unwrap();
    let lines: Vec<String> = jobs
        .iter()
        .map(|j| format!("{:?} {:?} attempts={} error={:?}", j.kind, j.state, j.attempts, j.last_error))
        .collect();
    format!("veriframe's jobs of {interview_id}:\n  {}", lines.join("\n  "))
}

/// One person through the integrator's page: type the user id, press the button, go through the
/// flow in the iframe, and read the page's verdict. Returns the verdict and the interview.
async fn run(
    browser: &Browser,
    integrator: &Integrator,
    user_id: &str,
    person: &Person,
    presence: Presence,
    shots: &Screenshots,
) -> (String, String) {
    let started = Instant::now();
    browser.camera().show(&document_clip(&person.document)).unwrap();
    browser.goto(&integrator.url).await;
    let input = browser.client().find(Locator::Css("#user-id")).await.unwrap();
    input.clear().await.unwrap();
    input.send_keys(user_id).await.unwrap();
    shots.take(browser, &format!("{user_id}-start")).await;
    browser.client().find(Locator::Css("#start")).await.unwrap().click().await.unwrap();

    let rejected = onboard(browser, person, presence, Some(shots)).await;
    assert_taken_on_merit(&rejected, CaptureSettings::default().selfie_capture_retries);
    let (status, interview_id) = wait_for_result(browser).await;
    shots.take(browser, &format!("{user_id}-result")).await;
    eprintln!("{user_id}: {status} after {:?}", started.elapsed());

    // Step 5: the page removed the iframe, which released the camera.
    let frames = browser.client().find_all(Locator::Css("iframe")).await.unwrap();
    assert!(frames.is_empty(), "the iframe is gone once the flow is over");
    (status, interview_id)
}

/// A genuine person onboards through the integrator's page and the page says so; then someone
/// with another person's passport is turned down. The integrator's database holds each run's
/// session token and interview, and the decision it showed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_integrators_page_onboards_a_person_inside_the_iframe() {
    if engines().is_none() {
        return;
    }
    let options = Options { app_frame: "#onboarding-frame".into(), ..Options::default() };
    let Some(browser) = Browser::launch("integrator", options).await else { return };
    let shots = Screenshots::new("the_integrators_page_onboards_a_person_inside_the_iframe");
    let app = TestApp::spawn_with_workers(Backend::Sqlite, 2).await;
    let integrator = Integrator::against(&app).await;
    assert!(!app.base_url.contains("localhost"), "veriframe and the page must be different sites");
    let genuine = Person::genuine();
    let borrowed = Person::with_borrowed_document();
    // Each head turn renders in the background while its person goes through the first steps
    // (not both at once: the renderings would starve the server's checks on two cores).
    let turn = Presence::turning(&genuine.face_photo, 11);
    let (status, first) = run(&browser, &integrator, "user-anna", &genuine, turn, &shots).await;
    assert_eq!(status, "OK", "the genuine person is onboarded\n{}", jobs(&app, &first).await);
    let turn = Presence::turning(&borrowed.face_photo, 3);
    let (status, second) = run(&browser, &integrator, "user-mallory", &borrowed, turn, &shots).await;
    assert_eq!(status, "FAIL", "a borrowed passport does not pass\n{}", jobs(&app, &second).await);
    assert_ne!(first, second);

    for (user_id, interview_id, decision) in [("user-anna", &first, "OK"), ("user-mallory", &second, "FAIL")] {
        let stored = integrator.db.sessions_of(user_id).await.unwrap();
        assert_eq!(stored.len(), 1, "one session for {user_id}: {stored:?}");
        assert_eq!(&stored[0].interview_id, interview_id);
        assert!(!stored[0].token.is_empty(), "the session token is kept for later calls");
        assert_eq!(stored[0].decision.as_deref(), Some(decision), "{stored:?}");
        // The token is the one veriframe gave: it still reads this session's score.
        let score = app.client.session(&stored[0].token).score().await.unwrap();
        assert_eq!(score.overall.status, decision, "{score:#?}");
    }
    browser.close().await;
    app.stop().await;
}
