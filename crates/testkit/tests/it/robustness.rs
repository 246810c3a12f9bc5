//! Crowds and attackers: throttles answer 429 with `Retry-After` in Incode's error shape,
//! admission control answers a fast 503 instead of a 30-second 408, images of every size get a
//! 4xx with a code instead of a 500, both stores refuse NUL alike, and ended sessions hand out
//! no links.

use reqwest::StatusCode;
use serde_json::{Value, json};
use time::Duration;
use veriframe_api_types::OnboardingLinkSecret;
use veriframe_http::throttle::{Rate, TenantLimits};
use veriframe_testkit::synth::{Act, film_for, frontal, jpeg, photo, subject};
use veriframe_testkit::{Backend, TestApp, on_both_backends};

use crate::errors::expect_error;

on_both_backends!(
    a_static_flow_url_flood_is_throttled,
    guessing_api_keys_earns_a_penalty,
    executive_accounts_lock_after_repeated_failures,
    tenant_limits_apply_to_api_keys_but_never_to_polling,
    a_crowd_of_uploads_gets_a_fast_503,
    a_film_turned_away_busy_keeps_its_challenge,
    huge_images_are_refused_before_decoding,
    images_of_every_size_get_an_answer,
    text_with_nul_is_refused_alike,
    ended_sessions_get_no_links,
);

/// Checks a 429 or 503 from admission or a throttle: Incode's body, a code, `Retry-After`.
pub(crate) async fn expect_refusal(response: reqwest::Response, status: StatusCode, code: &str) -> Value {
    let retry_after = response.headers().get("retry-after").map(|v| v.to_str().unwrap().parse::<u64>().unwrap());
    assert!(retry_after.is_some_and(|s| s >= 1), "Retry-After in whole seconds");
    let body = expect_error(response, status, "").await;
    assert_eq!(body["code"], code, "{body}");
    body
}

async fn a_static_flow_url_flood_is_throttled(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let no_redirects = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let url = app.url(&format!("{}/flow/{}", app.client_id, app.flow_id));
    let mut started = 0;
    let mut refused = None;
    for _ in 0..40 {
        let r = no_redirects.get(&url).send().await.unwrap();
        match r.status() {
            StatusCode::SEE_OTHER => started += 1,
            StatusCode::TOO_MANY_REQUESTS => {
                refused = Some(r);
                break;
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(started, 30, "the default burst for one address");
    let refused = refused.expect("the flood is refused");
    assert!(refused.headers().contains_key("retry-after"));
    assert!(refused.headers()["content-type"].to_str().unwrap().starts_with("text/html"), "a page for a person");
    // Probes do not start sessions and are not counted.
    assert_eq!(no_redirects.head(&url).send().await.unwrap().status(), StatusCode::OK);
}

async fn guessing_api_keys_earns_a_penalty(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let start = |key: String| {
        app.http()
            .post(app.url("omni/start"))
            .header("x-api-key", key)
            .json(&json!({"configurationId": app.flow_id}))
            .send()
    };
    let mut forbidden = 0;
    let mut limited = None;
    for i in 0..100 {
        let r = start(format!("vfk_guess{i:04}")).await.unwrap();
        match r.status() {
            StatusCode::FORBIDDEN => forbidden += 1,
            StatusCode::TOO_MANY_REQUESTS => {
                limited = Some(r);
                break;
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert!((55..=65).contains(&forbidden), "{forbidden} guesses before the penalty");
    expect_refusal(limited.expect("guessing is refused"), StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED").await;
    // During the penalty nothing from this address is checked, the right key included: a
    // guesser cannot tell a hit from a miss.
    let r = start(app.api_key.clone()).await.unwrap();
    expect_refusal(r, StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED").await;
}

async fn executive_accounts_lock_after_repeated_failures(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let p = app.provisioning();
    let tenant = p.tenant(&veriframe_core::ids::ClientId::parse(&app.client_id).unwrap()).await.unwrap();
    p.create_admin(&tenant, "ops@demo.example", "correct horse battery staple").await.unwrap();
    let login = |password: &str| {
        app.http()
            .post(app.url("executive/log-in"))
            .header("x-api-key", &app.api_key)
            .json(&json!({"email": "ops@demo.example", "password": password}))
            .send()
    };
    for i in 0..5 {
        expect_error(login(&format!("wrong {i}")).await.unwrap(), StatusCode::UNAUTHORIZED, "invalid").await;
    }
    let locked = login("wrong again").await.unwrap();
    let body = expect_refusal(locked, StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED").await;
    assert!(body["message"].as_str().unwrap().contains("account"), "{body}");
    // Locked means locked: the right password is not even checked.
    let r = login("correct horse battery staple").await.unwrap();
    expect_refusal(r, StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED").await;
    // Once the lock has passed, the right password works and clears the count.
    app.clock.advance(Duration::seconds(31));
    assert_eq!(login("correct horse battery staple").await.unwrap().status(), StatusCode::OK);
    assert_eq!(login("wrong once more").await.unwrap().status(), StatusCode::UNAUTHORIZED);
}

async fn tenant_limits_apply_to_api_keys_but_never_to_polling(backend: Backend) {
    let app = TestApp::spawn_configured(backend, 0, |config| {
        let own = TenantLimits { api_key: Some(Rate::new(60, 5)), session_token: None };
        config.limits.tenants.insert("demo".into(), own);
    })
    .await;
    let (token, _) = app.start_session().await;
    let mut statuses = Vec::new();
    for _ in 0..8 {
        let r = app
            .http()
            .post(app.url("omni/start"))
            .header("x-api-key", &app.api_key)
            .json(&json!({"configurationId": app.flow_id}))
            .send()
            .await
            .unwrap();
        statuses.push(r.status());
        if r.status() == StatusCode::TOO_MANY_REQUESTS {
            expect_refusal(r, StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED").await;
            break;
        }
    }
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::OK).count(), 4, "{statuses:?}");
    // The hot path is exempt: an integrator polls every open session every second.
    for _ in 0..300 {
        let r = app.http().get(app.url("0/omni/get/onboarding/status")).header("X-Incode-Hardware-Id", &token);
        assert_eq!(r.send().await.unwrap().status(), StatusCode::OK);
    }
}

async fn upload(app: &TestApp, token: &str, kind: &str, content_type: &str, body: Vec<u8>) -> reqwest::Response {
    app.http()
        .post(app.url(&format!("flow/api/capture/{kind}")))
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap()
}

async fn flow_token(app: &TestApp) -> String {
    let (token, _) = app.start_session().await;
    let url = app.client.session(&token).onboarding_url().await.unwrap().url;
    app.open_link(&url).await["flowToken"].as_str().unwrap().to_owned()
}

/// With no room to queue, a crowd is answered at once: some checked, the rest told when to
/// come back — never left to time out.
async fn a_crowd_of_uploads_gets_a_fast_503(backend: Backend) {
    let app = TestApp::spawn_configured(backend, 0, |config| {
        config.admission.cpu_queue = Some(0);
        config.admission.cpu_max_wait_seconds = 0;
    })
    .await;
    let selfie = jpeg(&frontal(&photo("faces/obama_1.jpg")).0);
    let mut tokens = Vec::new();
    for _ in 0..12 {
        tokens.push(flow_token(&app).await);
    }
    let crowd = tokens.iter().map(|t| upload(&app, t, "selfie", "image/jpeg", selfie.clone()));
    let answers = futures_util::future::join_all(crowd).await;
    let (mut checked, mut busy) = (0, 0);
    for r in answers {
        match r.status() {
            StatusCode::OK => checked += 1,
            StatusCode::SERVICE_UNAVAILABLE => {
                expect_refusal(r, StatusCode::SERVICE_UNAVAILABLE, "SERVER_BUSY").await;
                busy += 1;
            }
            other => panic!("unexpected {other}: {}", r.text().await.unwrap()),
        }
    }
    assert!(checked >= 1 && busy >= 1, "{checked} checked, {busy} refused");
}

/// A film turned away because every CPU slot is taken renews its challenge: the person's wait
/// for room is not counted against them. Renewal stops ten minutes after the challenge was
/// handed out, so keeping the server busy buys a forger no more than that.
async fn a_film_turned_away_busy_keeps_its_challenge(backend: Backend) {
    let app = TestApp::spawn_configured(backend, 0, |config| {
        config.admission.cpu_queue = Some(0);
        config.admission.cpu_max_wait_seconds = 0;
    })
    .await;
    let face = photo("faces/obama_1.jpg");
    let (page, _) = app.start_page(json!({})).await;
    page.consent().await;
    let answer = |challenge: &Value, key: &str| {
        let id = challenge["challengeId"].as_str().unwrap();
        let form = film_for(&subject(&face), challenge, Act::Genuine, 5).form();
        let r = page.request(reqwest::Method::POST, &format!("challenge/{id}/frames"));
        r.header("idempotency-key", key.to_owned()).multipart(form).send()
    };
    // Every slot held by work that waits for a signal.
    let pool = app.pipeline.cpu_pool().clone();
    let fill = || {
        let mut releases = Vec::new();
        let mut held = Vec::new();
        for _ in 0..pool.size() {
            let (release, wait) = tokio::sync::oneshot::channel::<()>();
            let pool = pool.clone();
            held.push(tokio::spawn(async move { pool.run_job(move || wait.blocking_recv()).await }));
            releases.push(release);
        }
        (releases, held)
    };
    let until_full = || async {
        while pool.free_slots() > 0 {
            tokio::task::yield_now().await;
        }
    };
    type Held = tokio::task::JoinHandle<
        Result<Result<(), tokio::sync::oneshot::error::RecvError>, veriframe_pipeline::CpuError>,
    >;
    let drain = |(releases, held): (Vec<tokio::sync::oneshot::Sender<()>>, Vec<Held>)| async move {
        for r in releases {
            r.send(()).expect("the holder waits");
        }
        for h in held {
            h.await.unwrap().unwrap().unwrap();
        }
    };

    // Turned away near the end of its two minutes; answered after them.
    let (status, challenge) = page.post("challenge").await;
    assert_eq!(status, StatusCode::OK, "{challenge}");
    app.clock.advance(Duration::seconds(110));
    let full = fill();
    until_full().await;
    expect_refusal(answer(&challenge, "turn-1").await.unwrap(), StatusCode::SERVICE_UNAVAILABLE, "SERVER_BUSY").await;
    drain(full).await;
    app.clock.advance(Duration::seconds(60));
    let r = answer(&challenge, "turn-1").await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let turned: Value = r.json().await.unwrap();
    assert_eq!(turned["accepted"], true, "the renewed challenge was answered: {turned}");

    // A challenge is never renewed past ten minutes.
    let (page, _) = app.start_page(json!({})).await;
    page.consent().await;
    let (status, challenge) = page.post("challenge").await;
    assert_eq!(status, StatusCode::OK, "{challenge}");
    let id = challenge["challengeId"].as_str().unwrap();
    let send = || {
        let form = film_for(&subject(&face), &challenge, Act::Genuine, 5).form();
        page.request(reqwest::Method::POST, &format!("challenge/{id}/frames")).multipart(form).send()
    };
    for _ in 0..5 {
        app.clock.advance(Duration::seconds(115));
        let full = fill();
        until_full().await;
        expect_refusal(send().await.unwrap(), StatusCode::SERVICE_UNAVAILABLE, "SERVER_BUSY").await;
        drain(full).await;
    }
    app.clock.advance(Duration::seconds(30));
    expect_error(send().await.unwrap(), StatusCode::BAD_REQUEST, "expired").await;
}

/// A 7000×7000 PNG (49 MP, a few hundred kB) is refused from its header: nothing is decoded,
/// nothing queues behind it, and a real capture goes through meanwhile.
async fn huge_images_are_refused_before_decoding(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut huge = Vec::new();
    image::GrayImage::from_fn(7000, 7000, |x, y| image::Luma([((x / 50 + y / 50) % 2 * 255) as u8]))
        .write_to(&mut std::io::Cursor::new(&mut huge), image::ImageFormat::Png)
        .unwrap();
    let mut tokens = Vec::new();
    for _ in 0..7 {
        tokens.push(flow_token(&app).await);
    }
    let legit = tokens.pop().unwrap();
    let selfie = jpeg(&frontal(&photo("faces/obama_1.jpg")).0);
    let flood = tokens.iter().map(|t| upload(&app, t, "selfie", "image/png", huge.clone()));
    let (answers, real) =
        tokio::join!(futures_util::future::join_all(flood), upload(&app, &legit, "selfie", "image/jpeg", selfie));
    for r in answers {
        let body = expect_error(r, StatusCode::BAD_REQUEST, "pixels").await;
        assert_eq!(body["code"], "UNREADABLE_IMAGE", "{body}");
    }
    assert_eq!(real.status(), StatusCode::OK);
    let real: Value = real.json().await.unwrap();
    assert_eq!(real["accepted"], true, "{real}");
}

/// Every image size gets a 200 with problems or a 400 with a code: 1–2 px images used to reach
/// the engine and answer 500.
async fn images_of_every_size_get_an_answer(backend: Backend) {
    let app = TestApp::spawn_configured(backend, 0, |config| {
        config.limits.uploads_per_session = Rate::new(0, 0);
    })
    .await;
    let sizes = [(1, 1), (2, 2), (1, 400), (400, 1), (2, 600), (31, 31), (32, 32), (33, 90), (48, 48), (64, 40)];
    for kind in ["selfie", "front", "back"] {
        let token = flow_token(&app).await;
        for (w, h) in sizes {
            let image = jpeg(&image::RgbImage::from_pixel(w, h, image::Rgb([120, 110, 100])));
            let r = upload(&app, &token, kind, "image/jpeg", image).await;
            let status = r.status();
            let body: Value = r.json().await.unwrap();
            match status {
                StatusCode::OK => assert!(w >= 32 && h >= 32, "{kind} {w}×{h}: {body}"),
                StatusCode::BAD_REQUEST => {
                    assert_eq!(body["code"], "UNREADABLE_IMAGE", "{kind} {w}×{h}: {body}");
                    assert!(w < 32 || h < 32, "{kind} {w}×{h}: {body}");
                }
                other => panic!("{kind} {w}×{h}: {other} {body}"),
            }
        }
    }
}

async fn text_with_nul_is_refused_alike(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let start =
        |body: Value| app.http().post(app.url("omni/start")).header("x-api-key", &app.api_key).json(&body).send();
    for body in [
        json!({"configurationId": app.flow_id, "customFields": {"note": "a\u{0}b"}}),
        json!({"configurationId": app.flow_id, "externalCustomerId": "user\u{0}1"}),
        json!({"configurationId": app.flow_id, "customFields": {"note\u{0}": "x"}}),
    ] {
        expect_error(start(body).await.unwrap(), StatusCode::BAD_REQUEST, "NUL").await;
    }
    let r = app
        .http()
        .post(app.url("executive/log-in"))
        .header("x-api-key", &app.api_key)
        .json(&json!({"email": "a\u{0}@b.example", "password": "x"}))
        .send()
        .await
        .unwrap();
    expect_error(r, StatusCode::BAD_REQUEST, "NUL").await;
    // An escaped backslash before "u0000" is text, not a NUL.
    let r = start(json!({"configurationId": app.flow_id, "customFields": {"note": "\\u0000"}})).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

async fn ended_sessions_get_no_links(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let link_of = |url: String| OnboardingLinkSecret::from_url(&url).unwrap().expose().to_owned();
    let open = |link: String| app.http().post(app.url("flow/api/open")).json(&json!({"link": link})).send();

    // Finished.
    let (token, _) = app.start_session().await;
    let session = app.client.session(&token);
    let unopened = link_of(session.onboarding_url().await.unwrap().url);
    session.finish().await.unwrap();
    let r = app.http().get(app.url("0/omni/onboarding-url")).header("X-Incode-Hardware-Id", &token);
    expect_error(r.send().await.unwrap(), StatusCode::UNAUTHORIZED, "ended").await;
    expect_error(open(unopened).await.unwrap(), StatusCode::UNAUTHORIZED, "ended").await;

    // Expired, with a link opened before (an opened link lives as long as its session).
    let (token, _) = app.start_session().await;
    let opened = link_of(app.client.session(&token).onboarding_url().await.unwrap().url);
    assert_eq!(open(opened.clone()).await.unwrap().status(), StatusCode::OK);
    app.clock.advance(Duration::days(2));
    let r = app.http().get(app.url("0/omni/onboarding-url")).header("X-Incode-Hardware-Id", &token);
    expect_error(r.send().await.unwrap(), StatusCode::UNAUTHORIZED, "").await;
    expect_error(open(opened).await.unwrap(), StatusCode::UNAUTHORIZED, "").await;
}
