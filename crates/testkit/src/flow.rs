//! The hosted page's half of the capture API (`/flow/api/*`), for tests and harnesses that
//! onboard a person without a browser. One value holds the flow token; each method is one request
//! the page makes, and answers come back as status and JSON so a test can assert on refusals too.

use reqwest::{RequestBuilder, StatusCode};
use serde_json::{Value, json};
use veriframe_api_types::OnboardingLinkSecret;
use veriframe_synth::camera::Subject;

use crate::synth::{Act, film_for};

/// A session opened the way the hosted page opens it.
#[derive(Debug, Clone)]
pub struct Page {
    http: reqwest::Client,
    base: String,
    /// The flow token `POST /flow/api/open` gave.
    pub token: String,
}

impl Page {
    /// Opens `url_or_link` (an onboarding URL or its secret) against the server at `base`.
    /// Returns the page and the answer (`flowToken`, `state`); panics unless it is 200, so tests
    /// that expect a refusal send the request themselves.
    pub async fn open(base: &str, url_or_link: &str) -> (Page, Value) {
        let http = reqwest::Client::new();
        let base = base.trim_end_matches('/').to_owned();
        let parsed = OnboardingLinkSecret::from_url(url_or_link);
        let link = parsed.as_ref().map_or(url_or_link, |l| l.expose());
        let r = http.post(format!("{base}/flow/api/open")).json(&json!({"link": link})).send().await;
        let r = r.expect("POST /flow/api/open");
        let status = r.status();
        let opened: Value = r.json().await.expect("a JSON answer");
        assert_eq!(status, 200, "opening the link: {opened}");
        let token = opened["flowToken"].as_str().expect("a flow token").to_owned();
        (Page { http, base, token }, opened)
    }

    /// A request to `/flow/api/{path}` with the flow token, for what the methods below do not say.
    pub fn request(&self, method: reqwest::Method, path: &str) -> RequestBuilder {
        self.http.request(method, format!("{}/flow/api/{path}", self.base)).bearer_auth(&self.token)
    }

    /// `POST /flow/api/{path}` with no body.
    pub async fn post(&self, path: &str) -> (StatusCode, Value) {
        answer(self.request(reqwest::Method::POST, path)).await
    }

    pub async fn state(&self) -> Value {
        answer(self.request(reqwest::Method::GET, "state")).await.1
    }

    /// Consents, and panics unless that was accepted.
    pub async fn consent(&self) {
        let consent = self.request(reqwest::Method::POST, "consent").json(&json!({"accepted": true}));
        let (status, state) = answer(consent).await;
        assert_eq!(status, 200, "consent: {state}");
    }

    /// Uploads a JPEG capture of `kind` (`front`, `back`, `selfie`).
    pub async fn capture(&self, kind: &str, jpeg: Vec<u8>) -> (StatusCode, Value) {
        let upload = self.request(reqwest::Method::POST, &format!("capture/{kind}"));
        answer(upload.header("content-type", "image/jpeg").body(jpeg)).await
    }

    /// Asks for a head-turn challenge and answers it with the film of `subject` performing `act`
    /// (`seed` draws the film's noise and timing).
    pub async fn liveness(&self, subject: &Subject, act: Act, seed: u64) -> (StatusCode, Value) {
        let (status, challenge) = self.post("challenge").await;
        assert_eq!(status, 200, "{challenge}");
        let id = challenge["challengeId"].as_str().expect("a challenge id");
        let form = film_for(subject, &challenge, act, seed).form();
        answer(self.request(reqwest::Method::POST, &format!("challenge/{id}/frames")).multipart(form)).await
    }

    /// Consent, document front, selfie, a genuine head turn and submit, each asserted accepted:
    /// the whole onboarding of a person who does what the screen asks.
    pub async fn onboard(&self, document: Vec<u8>, selfie: Vec<u8>, face: &Subject, seed: u64) {
        self.consent().await;
        for (kind, jpeg) in [("front", document), ("selfie", selfie)] {
            let (status, answer) = self.capture(kind, jpeg).await;
            assert_eq!((status, &answer["accepted"]), (StatusCode::OK, &json!(true)), "{kind}: {answer}");
        }
        let (status, turned) = self.liveness(face, Act::Genuine, seed).await;
        assert_eq!((status, &turned["accepted"]), (StatusCode::OK, &json!(true)), "head turn: {turned}");
        let (status, submitted) = self.post("submit").await;
        assert_eq!(status, 200, "submit: {submitted}");
    }
}

async fn answer(request: RequestBuilder) -> (StatusCode, Value) {
    let r = request.send().await.expect("a flow API request");
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}
