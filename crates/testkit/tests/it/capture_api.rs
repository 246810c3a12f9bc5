//! The capture API refuses what it cannot use with a clear error in the API's shape — wrong or
//! missing flow tokens, wrong types, oversized and corrupt images, decompression bombs, unknown
//! kinds and challenges, captures after submit or after expiry — and retried uploads are
//! idempotent.

use reqwest::StatusCode;
use serde_json::{Value, json};
use time::Duration;
use veriframe_api_types::OnboardingLinkSecret;
use veriframe_testkit::synth::{frontal, jpeg, photo};
use veriframe_testkit::{Backend, TestApp, on_both_backends};

use crate::errors::expect_error;

on_both_backends!(
    bad_uploads_get_clear_errors,
    retried_uploads_are_idempotent,
    captures_end_with_the_session,
    an_opened_link_survives_a_reload
);

/// Starts a session and opens its link as the page does; returns the flow token.
async fn open(app: &TestApp) -> String {
    let (token, _) = app.start_session().await;
    let url = app.client.session(&token).onboarding_url().await.unwrap().url;
    app.open_link(&url).await["flowToken"].as_str().unwrap().to_owned()
}

fn upload(app: &TestApp, token: &str, kind: &str, content_type: &str, body: Vec<u8>) -> reqwest::RequestBuilder {
    app.http()
        .post(app.url(&format!("flow/api/capture/{kind}")))
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(body)
}

/// A PNG that declares 40000×40000 pixels (4.8 GB decoded) in 40 kB.
fn decompression_bomb() -> Vec<u8> {
    use std::io::Write as _;
    let (w, h) = (40_000u32, 40_000u32);
    let mut idat = zlib_stored(&vec![0u8; w as usize + 1]);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut chunk = |kind: &[u8], data: &[u8]| {
        png.write_all(&(data.len() as u32).to_be_bytes()).unwrap();
        png.write_all(kind).unwrap();
        png.write_all(data).unwrap();
        let mut crc_input = kind.to_vec();
        crc_input.extend_from_slice(data);
        png.write_all(&crc32(&crc_input).to_be_bytes()).unwrap();
    };
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    chunk(b"IHDR", &ihdr);
    chunk(b"IDAT", &std::mem::take(&mut idat));
    chunk(b"IEND", &[]);
    png
}

/// `data` as a zlib stream of stored (uncompressed) blocks: one image row is enough, because the
/// decoder must refuse the header's dimensions before it inflates anything.
fn zlib_stored(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x78, 0x01];
    let chunks: Vec<&[u8]> = data.chunks(65_535).collect();
    for (i, c) in chunks.iter().enumerate() {
        out.push(u8::from(i + 1 == chunks.len()));
        out.extend_from_slice(&(c.len() as u16).to_le_bytes());
        out.extend_from_slice(&(!(c.len() as u16)).to_le_bytes());
        out.extend_from_slice(c);
    }
    let (mut a, mut b) = (1u32, 0u32);
    for &byte in data {
        a = (a + u32::from(byte)) % 65_521;
        b = (b + a) % 65_521;
    }
    out.extend_from_slice(&((b << 16) | a).to_be_bytes());
    out
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

async fn bad_uploads_get_clear_errors(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = open(&app).await;
    let selfie = jpeg(&frontal(&photo("faces/obama_1.jpg")).0);

    // Credentials.
    let r =
        app.http().post(app.url("flow/api/capture/selfie")).header("content-type", "image/jpeg").body(selfie.clone());
    expect_error(r.send().await.unwrap(), StatusCode::UNAUTHORIZED, "").await;
    let r = upload(&app, "vff_not-a-real-token", "selfie", "image/jpeg", selfie.clone());
    expect_error(r.send().await.unwrap(), StatusCode::UNAUTHORIZED, "").await;
    let r = app.http().post(app.url("flow/api/open")).json(&json!({"link": "vfl_guessed"})).send().await.unwrap();
    expect_error(r, StatusCode::UNAUTHORIZED, "").await;

    // Shape of the request.
    let r = upload(&app, &token, "passport", "image/jpeg", selfie.clone()).send().await.unwrap();
    expect_error(r, StatusCode::NOT_FOUND, "front, back").await;
    let r = upload(&app, &token, "selfie", "text/plain", selfie.clone()).send().await.unwrap();
    expect_error(r, StatusCode::UNSUPPORTED_MEDIA_TYPE, "image/jpeg").await;
    let r = upload(&app, &token, "selfie", "image/jpeg", vec![0xFF; 10 * 1024 * 1024 + 1]).send().await.unwrap();
    expect_error(r, StatusCode::PAYLOAD_TOO_LARGE, "").await;
    let r = upload(&app, &token, "selfie", "image/jpeg", selfie.clone())
        .query(&[("crop", "0.5,0.5,0.9,0.9")])
        .send()
        .await
        .unwrap();
    expect_error(r, StatusCode::BAD_REQUEST, "crop").await;

    // Bytes that are not a usable image.
    for (what, content_type, body) in [
        ("garbage", "image/jpeg", b"definitely not a jpeg".to_vec()),
        ("truncated", "image/jpeg", selfie[..selfie.len() / 3].to_vec()),
        ("bomb", "image/png", decompression_bomb()),
        ("empty", "image/png", Vec::new()),
    ] {
        let r = upload(&app, &token, "selfie", content_type, body).send().await.unwrap();
        let status = r.status();
        let body: Value = r.json().await.unwrap();
        assert_eq!(status, StatusCode::BAD_REQUEST, "{what}: {body}");
        assert_eq!(body["status"], 400, "{what}: {body}");
    }

    // Challenges.
    let r = app.http().post(app.url("flow/api/challenge/not-an-id/frames")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let form = reqwest::multipart::Form::new()
        .part("frame", reqwest::multipart::Part::bytes(selfie.clone()).mime_str("image/jpeg").unwrap());
    let r = app
        .http()
        .post(app.url("flow/api/challenge/0123456789abcdef01234567/frames"))
        .bearer_auth(&token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert!(matches!(r.status(), StatusCode::NOT_FOUND | StatusCode::BAD_REQUEST), "{}", r.status());
    let (status, _) = (r.status(), r.text().await.unwrap());
    assert_ne!(status, StatusCode::INTERNAL_SERVER_ERROR);
    let challenge: Value =
        app.http().post(app.url("flow/api/challenge")).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
    let id = challenge["challengeId"].as_str().unwrap();
    let frames_url = app.url(&format!("flow/api/challenge/{id}/frames"));
    let film = |frames: usize, timestamps: &str| {
        let frame = || reqwest::multipart::Part::bytes(vec![0xff, 0xd8, 0xff]).mime_str("image/jpeg").unwrap();
        let form = (0..frames).fold(reqwest::multipart::Form::new(), |f, _| f.part("frame", frame()));
        let form = if timestamps.is_empty() { form } else { form.text("timestamps", timestamps.to_owned()) };
        app.http().post(&frames_url).bearer_auth(&token).multipart(form).send()
    };
    let too_many = serde_json::to_string(&(0..81).map(|i| i * 100).collect::<Vec<u32>>()).unwrap();
    expect_error(film(81, &too_many).await.unwrap(), StatusCode::BAD_REQUEST, "at most").await;
    expect_error(film(3, "").await.unwrap(), StatusCode::BAD_REQUEST, "timestamps").await;
    expect_error(film(3, "[0, 100]").await.unwrap(), StatusCode::BAD_REQUEST, "timestamp").await;
    expect_error(film(3, "[0, 200, 100]").await.unwrap(), StatusCode::BAD_REQUEST, "increasing").await;
    expect_error(film(3, "[0, \"a\", 2]").await.unwrap(), StatusCode::BAD_REQUEST, "timestamps").await;
    // Frames that are not images are refused before any judging, and the challenge stays open.
    let r = film(12, &serde_json::to_string(&(0..12).map(|i| i * 100).collect::<Vec<u32>>()).unwrap()).await.unwrap();
    expect_error(r, StatusCode::BAD_REQUEST, "frame").await;
    let form = reqwest::multipart::Form::new()
        .part("frame", reqwest::multipart::Part::bytes(selfie.clone()).mime_str("text/plain").unwrap());
    let r = app.http().post(app.url(&format!("flow/api/challenge/{id}/frames"))).bearer_auth(&token).multipart(form);
    expect_error(r.send().await.unwrap(), StatusCode::UNSUPPORTED_MEDIA_TYPE, "frames").await;
    let r = app
        .http()
        .post(app.url(&format!("flow/api/challenge/{id}/frames")))
        .bearer_auth(&token)
        .header("content-type", "multipart/form-data; boundary=x")
        .body("--x\r\nContent-Disposition: form-data; name=\"frame\"\r\nContent-Type: image/jpeg\r\n\r\nunterminated")
        .send()
        .await
        .unwrap();
    expect_error(r, StatusCode::BAD_REQUEST, "multipart").await;

    // None of that cost the person a retry or broke the session.
    let state: Value =
        app.http().get(app.url("flow/api/state")).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
    assert_eq!(state["retries"]["selfie"], 3, "{state}");
}

async fn retried_uploads_are_idempotent(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = open(&app).await;
    // A selfie with no face: rejected, and each distinct attempt costs a retry.
    let blank = jpeg(&image::RgbImage::from_pixel(640, 480, image::Rgb([128, 128, 128])));
    let send = |key: &'static str| {
        upload(&app, &token, "selfie", "image/jpeg", blank.clone()).header("Idempotency-Key", key).send()
    };
    let first: Value = send("attempt-1").await.unwrap().json().await.unwrap();
    assert_eq!(first["accepted"], false, "{first}");
    assert!(first["problems"].as_array().unwrap().iter().any(|p| p["code"] == "NO_FACE"), "{first}");
    let again: Value = send("attempt-1").await.unwrap().json().await.unwrap();
    assert_eq!(again, first, "the same key answers the same, without spending a retry");
    let second: Value = send("attempt-2").await.unwrap().json().await.unwrap();
    assert_eq!(second["retriesLeft"].as_i64().unwrap(), first["retriesLeft"].as_i64().unwrap() - 1, "{second}");
    let r = upload(&app, &token, "selfie", "image/jpeg", blank.clone())
        .header("Idempotency-Key", "x".repeat(65))
        .send()
        .await
        .unwrap();
    expect_error(r, StatusCode::BAD_REQUEST, "Idempotency-Key").await;
}

async fn captures_end_with_the_session(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = open(&app).await;
    let selfie = jpeg(&frontal(&photo("faces/obama_1.jpg")).0);
    // Submitting with steps missing is refused and changes nothing.
    let r = app.http().post(app.url("flow/api/submit")).bearer_auth(&token).send().await.unwrap();
    expect_error(r, StatusCode::BAD_REQUEST, "").await;
    // An expired session takes nothing more.
    app.clock.advance(Duration::days(2));
    let r = upload(&app, &token, "selfie", "image/jpeg", selfie).send().await.unwrap();
    let status = r.status();
    let body: Value = r.json().await.unwrap();
    assert!(matches!(status, StatusCode::UNAUTHORIZED | StatusCode::BAD_REQUEST), "{status} {body}");
    assert_eq!(body["status"], status.as_u16());
    assert!(body["message"].as_str().unwrap().to_lowercase().contains("expired"), "{body}");
}

async fn an_opened_link_survives_a_reload(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (token, _) = app.start_session().await;
    let link_of = |url: String| OnboardingLinkSecret::from_url(&url).unwrap().expose().to_owned();
    let opened = link_of(app.client.session(&token).onboarding_url().await.unwrap().url);
    let unopened = link_of(app.client.session(&token).onboarding_url().await.unwrap().url);
    let open = |link: String| {
        let app = &app;
        async move { app.http().post(app.url("flow/api/open")).json(&json!({"link": link})).send().await.unwrap() }
    };
    assert_eq!(open(opened.clone()).await.status(), StatusCode::OK);
    // Past the flow's 15-minute link expiry: the opened link still reloads the flow, the
    // link nobody opened has expired.
    app.clock.advance(Duration::minutes(40));
    let reloaded = open(opened).await;
    assert_eq!(reloaded.status(), StatusCode::OK, "{}", reloaded.text().await.unwrap());
    expect_error(open(unopened).await, StatusCode::UNAUTHORIZED, "").await;
}
