//! The hosted page in a real browser, embedded the way a customer embeds it: headless Chromium
//! with a fake camera, our page in a cross-site iframe, and the parent page listening for our
//! `postMessage` events. SQLite only: the store is not what these tests are about.
//!
//! The camera shows what each step needs: the test puts the next clip behind the camera file as
//! soon as the current step's preview plays (the live stream keeps its clip; the page's next
//! opening of the camera reads the new one).

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use veriframe_core::flow::{CaptureSettings, FlowConfig};
use veriframe_core::ids::ClientId;
use veriframe_testkit::browser::flow::{
    Person, Presence, Screenshots, assert_taken_on_merit, consent, document_clip, finish, onboard,
};
use veriframe_testkit::browser::{
    ALLOW_ALL, Browser, CameraPermission, Options, ParentPage, STEP_TIMEOUT, StaticSite, Video, i420, letterbox,
};
use veriframe_testkit::synth::jpeg;
use veriframe_testkit::{Backend, TestApp, engines};

// ---------------------------------------------------------------------------------------------
// The harness itself, against a camera page of the test's own (no models needed)
// ---------------------------------------------------------------------------------------------

/// A page that opens the camera (stopping any open tracks first, as the hosted page does between
/// steps), samples frames at given offsets after the first frame, and reports each sample's mean
/// colour to the test and to its parent.
const CAMERA_PAGE: &str = r#"<!doctype html><meta charset="utf-8">
<video id="v" autoplay playsinline muted></video>
<script>
var v = document.getElementById('v');
function mean() {
  var c = document.createElement('canvas');
  c.width = v.videoWidth; c.height = v.videoHeight;
  var x = c.getContext('2d'); x.drawImage(v, 0, 0);
  var d = x.getImageData(0, 0, c.width, c.height).data, r = 0, g = 0, b = 0, n = d.length / 4;
  for (var i = 0; i < d.length; i += 4) { r += d[i]; g += d[i + 1]; b += d[i + 2]; }
  return [r / n, g / n, b / n];
}
function sleep(ms) { return new Promise(function (r) { setTimeout(r, ms); }); }
window.openAndSample = async function (offsets) {
  if (v.srcObject) v.srcObject.getTracks().forEach(function (t) { t.stop(); });
  var s = await navigator.mediaDevices.getUserMedia({video: {facingMode: {ideal: 'user'}}});
  v.srcObject = s;
  var playing = v.play(); if (playing) playing.catch(function () {});
  // Ready as the hosted page takes it: a decoded picture of known size.
  await new Promise(function (r) {
    var check = function () { if (v.readyState >= 2 && v.videoWidth > 0) r(); };
    ['loadeddata', 'canplay', 'resize'].forEach(function (e) { v.addEventListener(e, check); });
    check();
  });
  var t0 = performance.now(), samples = [];
  for (var i = 0; i < offsets.length; i++) {
    var wait = t0 + offsets[i] - performance.now();
    if (wait > 0) await sleep(wait);
    samples.push(mean());
  }
  var out = {size: [v.videoWidth, v.videoHeight], samples: samples};
  parent.postMessage({source: 'dev-camera', type: 'sampled', count: samples.length}, '*');
  return out;
};
// Resolves once the live stream has shown `frames` more frames (its own clock, not the test's).
window.afterFrames = function (frames) {
  return new Promise(function (r) {
    var start = null;
    var tick = function (now, meta) {
      if (start === null) start = meta.presentedFrames;
      if (meta.presentedFrames - start >= frames) r(true); else v.requestVideoFrameCallback(tick);
    };
    v.requestVideoFrameCallback(tick);
  });
};
window.sampleLive = function () { return {size: [v.videoWidth, v.videoHeight], samples: [mean()]}; };
</script>"#;

async fn sample(browser: &Browser, script: &str, offsets: &[u32]) -> (Vec<u64>, Vec<[f64; 3]>) {
    browser.app_frame().await;
    let answer = browser
        .client()
        .execute_async(
            &format!(
                "var done = arguments[arguments.length - 1];
                 Promise.resolve({script}).then(done, function (e) {{ done({{error: e.name + ': ' + e.message}}); }});"
            ),
            vec![json!(offsets)],
        )
        .await
        .expect("sampling script");
    assert!(answer.get("error").is_none(), "camera page: {answer}");
    let size = answer["size"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).collect();
    let samples =
        answer["samples"].as_array().unwrap().iter().map(|s| [0, 1, 2].map(|i| s[i].as_f64().unwrap())).collect();
    (size, samples)
}

fn solid(rgb: [u8; 3], width: u32, height: u32) -> image::RgbImage {
    image::RgbImage::from_pixel(width, height, image::Rgb(rgb))
}

fn close_to(got: [f64; 3], want: [u8; 3], tolerance: f64) -> bool {
    got.iter().zip(want).all(|(g, w)| (g - f64::from(w)).abs() <= tolerance)
}

/// The y4m writer's colours come back as written; a clip swapped behind the camera is shown
/// from the next opening on, never to a stream that is already live (not even after the old clip
/// loops); a new size takes effect on reopening; a continuous film plays on between samples;
/// an iframe without `allow="camera"` is refused; messages reach the parent with our origin.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn harness_fake_camera_swaps_clips_between_openings() {
    let Some(browser) = Browser::launch("harness", Options::default()).await else { return };
    let camera_site = StaticSite::serve(vec![("/camera".to_owned(), CAMERA_PAGE.to_owned())]).await;
    // The camera page on 127.0.0.1, its parent on localhost: two sites.
    let camera_url = format!("{}/camera", camera_site.loopback_origin());
    let parent = ParentPage::serve(&camera_url, Some(ALLOW_ALL)).await;

    let red = [200, 30, 30];
    let blue = [30, 60, 200];
    browser.camera().show(&Video::still(&solid(red, 320, 240))).unwrap();
    browser.goto(&parent.url).await;
    let (size, first) = sample(&browser, "openAndSample(arguments[0])", &[100]).await;
    assert_eq!(size, [320, 240]);
    assert!(close_to(first[0], red, 2.5), "limited-range BT.601 round trip: {first:?}");

    // Staged while the stream is live: the live stream keeps the old clip past its loop...
    browser.camera().show(&Video::still(&solid(blue, 320, 240))).unwrap();
    // Past the end of the one-second, five-frame clip: the camera has looped by now.
    let (_, live) = sample(&browser, "afterFrames(7).then(sampleLive)", &[]).await;
    assert!(close_to(live[0], red, 2.5), "an open stream must not switch clips: {live:?}");
    // ...and the next opening shows the new one, from its first frame.
    let (_, reopened) = sample(&browser, "openAndSample(arguments[0])", &[50]).await;
    assert!(close_to(reopened[0], blue, 2.5), "the reopened camera shows the staged clip: {reopened:?}");

    // A different size, and a continuous film at 15 frames a second (frame k is grey 20 + 6·k),
    // sampled every 300 ms the way the page films a head turn: the samples follow the clock.
    let film: Vec<_> = (0..36).map(|k| solid([(20 + 6 * k) as u8; 3], 480, 640)).collect();
    browser.camera().show(&Video::film(&film, 15)).unwrap();
    let offsets: Vec<u32> = (0..6).map(|i| i * 300).collect();
    let (size, samples) = sample(&browser, "openAndSample(arguments[0])", &offsets).await;
    assert_eq!(size, [480, 640]);
    let seen: Vec<f64> = samples.iter().map(|s| (s[0] - 20.0) / 6.0).collect();
    assert!(seen.windows(2).all(|w| w[1] > w[0] + 2.0), "the film plays on between samples: {seen:?}");
    let rate = (seen[5] - seen[0]) / 1.5;
    assert!((10.0..=20.0).contains(&rate), "about 15 frames a second: {rate:.1} ({seen:?})");

    let messages = browser.messages().await;
    assert_eq!(messages.len(), 3, "{messages:?}");
    assert!(messages.iter().all(|m| m["origin"] == camera_site.loopback_origin()), "{messages:?}");

    // The integrator's classic mistake: no `allow` on the iframe. The browser grants the camera,
    // the permissions policy still refuses it.
    let bare = ParentPage::serve(&camera_url, None).await;
    browser.goto(&bare.url).await;
    browser.app_frame().await;
    let refused = browser
        .client()
        .execute_async(
            "var done = arguments[arguments.length - 1];
             openAndSample([0]).then(function () { done('opened'); }, function (e) { done(e.name); });",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(refused, "NotAllowedError");
    browser.close().await;
}

/// The I420 planes of a known colour, by hand: BT.601 limited range, chroma averaged per 2×2.
#[test]
fn y4m_frames_are_limited_range_i420() {
    let mut image = solid([255, 255, 255], 4, 2);
    image.put_pixel(0, 0, image::Rgb([0, 0, 0]));
    let planes = i420(&image);
    assert_eq!(planes.len(), 4 * 2 * 3 / 2);
    assert_eq!(&planes[..8], &[16, 235, 235, 235, 235, 235, 235, 235], "Y: black 16, white 235");
    assert_eq!(&planes[8..], &[128, 128, 128, 128], "greys carry no chroma");
    let red = i420(&solid([255, 0, 0], 2, 2));
    assert_eq!(red, vec![81, 81, 81, 81, 90, 240]);
    assert_eq!(letterbox(&solid([0, 0, 0], 100, 50), 200, 200).get_pixel(0, 0).0, [128, 128, 128]);
}

// ---------------------------------------------------------------------------------------------
// The hosted page
// ---------------------------------------------------------------------------------------------

/// A session started the integrator's way, and its onboarding URL.
struct Session {
    token: String,
    interview_id: String,
    url: String,
}

async fn start_session(app: &TestApp, flow_id: &str) -> Session {
    let started = app.start_raw(json!({"configurationId": flow_id})).await;
    let token = started["token"].as_str().unwrap_or_else(|| panic!("{started}")).to_owned();
    let url = app.client.session(&token).onboarding_url().await.unwrap().url;
    Session { token, interview_id: started["interviewId"].as_str().unwrap().to_owned(), url }
}

/// Our origin, as the parent sees it on our messages.
fn origin_of(base_url: &str) -> String {
    let url = reqwest::Url::parse(base_url).unwrap();
    url.origin().ascii_serialization()
}

/// Passes for `kind` among the parent's messages from our page.
fn of_type<'m>(messages: &'m [Value], kind: &str) -> Vec<&'m Value> {
    messages.iter().filter(|m| m["data"]["type"] == kind).collect()
}

/// A genuine person goes through the whole flow with the camera: consent, passport front,
/// selfie, head turn in the requested direction; verification passes and the customer's page
/// heard about every step, from our origin. Each screen is photographed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_genuine_person_onboards_through_the_camera() {
    if engines().is_none() {
        return;
    }
    let Some(browser) = Browser::launch("genuine", Options::default()).await else { return };
    let started = Instant::now();
    let shots = Screenshots::new("a_genuine_person_onboards_through_the_camera");
    let app = TestApp::spawn_with_workers(Backend::Sqlite, 1).await;
    let person = Person::genuine();
    let presence = Presence::turning(&person.face_photo, 11);
    let session = start_session(&app, &app.flow_id).await;
    let parent = ParentPage::serve(&session.url, Some(ALLOW_ALL)).await;
    app.allow_origin(&app.flow_id, &parent.origin).await;

    browser.camera().show(&document_clip(&person.document)).unwrap();
    browser.goto(&parent.url).await;
    let rejected = onboard(&browser, &person, presence, Some(&shots)).await;
    assert_taken_on_merit(&rejected, CaptureSettings::default().selfie_capture_retries);
    finish(&browser, Some(&shots)).await;
    eprintln!("flow done in {:?}", started.elapsed());

    let score = app.client.session(&session.token).score().await.unwrap();
    assert_eq!(score.overall.status, "OK", "{score:#?}");
    assert_eq!(score.liveness.as_ref().unwrap().overall.status, "OK", "{score:#?}");
    assert_eq!(score.face_recognition.as_ref().unwrap().overall.status, "OK", "{score:#?}");

    browser.wait_for_message("finished", STEP_TIMEOUT).await;
    let messages = browser.messages().await;
    let ours = origin_of(&app.base_url);
    assert!(!messages.is_empty());
    for m in &messages {
        assert_eq!(m["origin"], ours.as_str(), "every message comes from our origin: {m}");
        assert_eq!(m["data"]["source"], "veriframe", "{m}");
        assert_eq!(m["data"]["interviewId"], session.interview_id.as_str(), "{m}");
    }
    assert_eq!(of_type(&messages, "started").len(), 1, "{messages:?}");
    let completed: Vec<&str> =
        of_type(&messages, "step-completed").iter().filter_map(|m| m["data"]["step"].as_str()).collect();
    for step in ["front", "selfie", "liveness"] {
        assert!(completed.contains(&step), "step-completed for {step}: {messages:?}");
    }
    assert_eq!(of_type(&messages, "finished").len(), 1, "{messages:?}");
    assert!(of_type(&messages, "error").is_empty(), "{messages:?}");
    let saved: Vec<String> = std::fs::read_dir(shots.dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    for step in ["consent", "front", "selfie", "liveness", "done"] {
        assert!(saved.iter().any(|f| f.ends_with(&format!("-{step}.png"))), "a screenshot of {step}: {saved:?}");
    }
    browser.close().await;
    app.stop().await;
}

/// A printed photo held up to the camera: every head turn is refused with NO_TURN, the page says
/// so and offers another try; once the retries run out the turn is taken as it is, the flow
/// completes, and verification fails on liveness. The flow allows one retry, so the test waits
/// through two turns rather than the default four.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_still_photo_fails_liveness_in_the_browser() {
    if engines().is_none() {
        return;
    }
    let Some(browser) = Browser::launch("still", Options::default()).await else { return };
    let app = TestApp::spawn_with_workers(Backend::Sqlite, 1).await;
    let person = Person::genuine();
    let presence = Presence::still_photo(&person.face_photo, 5);
    let tenant = app.provisioning().tenant(&ClientId::parse(&app.client_id).unwrap()).await.unwrap();
    let config = FlowConfig {
        capture: CaptureSettings { selfie_capture_retries: 1, ..CaptureSettings::default() },
        ..FlowConfig::default()
    };
    let flow = app.provisioning().create_flow(&tenant, "one retry", config).await.unwrap();
    let session = start_session(&app, &flow.id.to_string()).await;
    let parent = ParentPage::serve(&session.url, Some(ALLOW_ALL)).await;
    app.allow_origin(&flow.id.to_string(), &parent.origin).await;

    browser.camera().show(&document_clip(&person.document)).unwrap();
    browser.goto(&parent.url).await;
    let rejected = onboard(&browser, &person, presence, None).await;
    assert_eq!(rejected.len(), 1, "one retry, then the turn is taken as it is: {rejected:?}");
    assert!(rejected[0].split_whitespace().any(|c| c == "TURN_TOO_SMALL"), "a still face did not turn: {rejected:?}");
    finish(&browser, None).await;

    let score = app.client.session(&session.token).score().await.unwrap();
    assert_eq!(score.liveness.as_ref().unwrap().overall.status, "FAIL", "{score:#?}");
    assert_eq!(score.overall.status, "FAIL", "{score:#?}");
    assert!(score.reason_msg.contains("liveness"), "{}", score.reason_msg);
    let messages = browser.messages().await;
    assert!(
        of_type(&messages, "capture-failed").iter().any(|m| m["data"]["step"] == "liveness"),
        "the parent hears about the refused turn: {messages:?}"
    );
    assert_eq!(of_type(&messages, "finished").len(), 1, "{messages:?}");
    browser.close().await;
    app.stop().await;
}

/// Someone holds another person's valid passport and passes the selfie and the head turn: the
/// flow completes and verification fails on the face match alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn someone_elses_document_fails_face_match_in_the_browser() {
    if engines().is_none() {
        return;
    }
    let Some(browser) = Browser::launch("borrowed", Options::default()).await else { return };
    let app = TestApp::spawn_with_workers(Backend::Sqlite, 1).await;
    let person = Person::with_borrowed_document();
    let presence = Presence::turning(&person.face_photo, 3);
    let session = start_session(&app, &app.flow_id).await;
    let parent = ParentPage::serve(&session.url, Some(ALLOW_ALL)).await;
    app.allow_origin(&app.flow_id, &parent.origin).await;

    browser.camera().show(&document_clip(&person.document)).unwrap();
    browser.goto(&parent.url).await;
    let rejected = onboard(&browser, &person, presence, None).await;
    assert_taken_on_merit(&rejected, CaptureSettings::default().selfie_capture_retries);
    finish(&browser, None).await;

    let score = app.client.session(&session.token).score().await.unwrap();
    assert_eq!(score.liveness.as_ref().unwrap().overall.status, "OK", "{score:#?}");
    assert_eq!(score.face_recognition.as_ref().unwrap().overall.status, "FAIL", "{score:#?}");
    assert_eq!(score.overall.status, "FAIL", "{score:#?}");
    assert!(score.reason_msg.contains("does not match"), "{}", score.reason_msg);
    browser.close().await;
    app.stop().await;
}

/// A person who refuses the camera is told why, can upload the document instead, and on a
/// desktop can hand off to a phone with a QR code.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_camera_the_page_offers_upload_and_handoff() {
    if engines().is_none() {
        return;
    }
    let options = Options { camera: CameraPermission::Denied, ..Options::default() };
    let Some(browser) = Browser::launch("denied", options).await else { return };
    let shots = Screenshots::new("without_a_camera_the_page_offers_upload_and_handoff");
    let app = TestApp::spawn_with_workers(Backend::Sqlite, 1).await;
    let person = Person::genuine();
    let session = start_session(&app, &app.flow_id).await;
    let parent = ParentPage::serve(&session.url, Some(ALLOW_ALL)).await;
    app.allow_origin(&app.flow_id, &parent.origin).await;

    browser.goto(&parent.url).await;
    consent(&browser, None).await;
    browser.wait_for_step("front", STEP_TIMEOUT).await;
    let problem = browser.wait_visible("[data-role=\"camera-problem\"]", STEP_TIMEOUT).await;
    shots.take(&browser, "camera-problem").await;
    let refused_by_person = problem.text().await.unwrap();
    assert!(!refused_by_person.trim().is_empty(), "the camera problem is explained");
    assert!(!browser.camera_live().await);

    browser.upload("passport.jpg", &jpeg(&person.document)).await;
    browser.wait_for_step("selfie", STEP_TIMEOUT).await;

    browser.wait_visible("[data-role=\"camera-problem\"]", STEP_TIMEOUT).await;
    browser.click("handoff").await;
    let qr = browser.wait_visible("[data-role=\"qr\"]", STEP_TIMEOUT).await;
    shots.take(&browser, "handoff").await;
    let svg = qr.html(true).await.unwrap();
    assert!(svg.contains("<svg"), "the QR is an inline SVG: {svg:.200}");

    // Embedded without `allow`: the customer's page withholds the camera, whatever the person
    // would say, and the explanation is not the one for a person's refusal.
    let second = start_session(&app, &app.flow_id).await;
    let bare = ParentPage::serve(&second.url, None).await;
    app.allow_origin(&app.flow_id, &bare.origin).await;
    browser.goto(&bare.url).await;
    consent(&browser, None).await;
    browser.wait_for_step("front", STEP_TIMEOUT).await;
    let problem = browser.wait_visible("[data-role=\"camera-problem\"]", STEP_TIMEOUT).await;
    shots.take(&browser, "camera-blocked-by-embedder").await;
    let refused_by_embedder = problem.text().await.unwrap();
    assert_ne!(refused_by_embedder, refused_by_person, "a policy block is explained as such");
    assert!(
        browser.visible("input[type=file][data-role=\"upload\"]").await.is_some()
            || browser.visible("[data-role=\"camera-problem\"] label").await.is_some(),
        "the upload is offered"
    );
    browser.close().await;
    app.stop().await;
}

/// A blurred selfie is refused on the spot with a reason, and a retake goes on. The retake uses
/// the same live camera (the page only resumes the preview), so the camera shows what a person
/// does: a blurred face for the first seconds, then, held still, a sharp one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blurred_selfie_gets_feedback_and_a_retake_works() {
    if engines().is_none() {
        return;
    }
    let Some(browser) = Browser::launch("retake", Options::default()).await else { return };
    let app = TestApp::spawn_with_workers(Backend::Sqlite, 1).await;
    let person = Person::genuine();
    let session = start_session(&app, &app.flow_id).await;
    let parent = ParentPage::serve(&session.url, Some(ALLOW_ALL)).await;
    app.allow_origin(&app.flow_id, &parent.origin).await;

    browser.camera().show(&document_clip(&person.document)).unwrap();
    browser.goto(&parent.url).await;
    consent(&browser, None).await;
    browser.wait_for_step("front", STEP_TIMEOUT).await;
    browser.wait_preview(STEP_TIMEOUT).await;
    const BLURRED_FOR: Duration = Duration::from_secs(4);
    let (w, h) = (person.selfie.width() & !1, person.selfie.height() & !1);
    let selfie = image::imageops::crop_imm(&person.selfie, 0, 0, w, h).to_image();
    let blurred = image::imageops::blur(&selfie, 12.0);
    let clip = Video::new(w, h, 2).hold(&blurred, 2 * BLURRED_FOR.as_secs() as u32).hold(&selfie, 40);
    browser.camera().show(&clip).unwrap();
    browser.click("capture").await;

    browser.wait_for_step("selfie", STEP_TIMEOUT).await;
    browser.wait_preview(STEP_TIMEOUT).await;
    // The camera started at or before this moment.
    let opened = Instant::now();
    browser.click("capture").await;
    // The camera may have started a little before `opened`: keep a second in hand.
    assert!(
        opened.elapsed() < BLURRED_FOR - Duration::from_secs(1),
        "the capture was taken while the face was blurred"
    );
    let codes = browser.wait_attr("[data-role=\"feedback\"]", "data-codes", STEP_TIMEOUT).await;
    eprintln!("feedback {codes:?} after {:?}", opened.elapsed());
    assert!(
        codes.split_whitespace().all(|c| ["BLURRY", "NO_FACE", "FACE_TOO_SMALL"].contains(&c)),
        "a blurred face is blurry or not found: {codes}"
    );
    assert_eq!(browser.step().await.as_deref(), Some("selfie"));
    let feedback = browser.wait_visible("[data-role=\"feedback\"]", STEP_TIMEOUT).await;
    assert!(!feedback.text().await.unwrap().trim().is_empty(), "the reason is shown in words");
    let messages = browser.messages().await;
    assert!(
        of_type(&messages, "capture-failed").iter().any(|m| m["data"]["step"] == "selfie"),
        "the parent hears about the failed capture: {messages:?}"
    );

    browser.click("retake").await;
    browser.wait_camera_played(BLURRED_FOR + Duration::from_millis(300), STEP_TIMEOUT).await;
    browser.click("capture").await;
    browser.wait_for_step("liveness", STEP_TIMEOUT).await;
    browser.close().await;
    app.stop().await;
}
