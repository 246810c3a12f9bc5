//! A person going through the hosted flow in a [`Browser`] with the fake camera: consent,
//! passport front, selfie, head turn (with retries), as the page's DOM contract describes
//! (`notes/dom-contract.md`). Shared by the tests that embed the page in the test's own
//! [`ParentPage`](super::ParentPage) and those that go through an integrator's page.
//!
//! The camera always shows what the *next* opening needs: each step's clip is put behind the
//! camera file while the current step's preview plays, before the click that ends the step (see
//! [`Camera::show`](super::Camera::show)).

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use image::RgbImage;
use veriframe_synth::camera::{Framing, Subject, sensor};
use veriframe_synth::film::Act;

use super::{Browser, STEP_TIMEOUT, Video};
use crate::synth::{Holder, Rng, clear_turn, frontal, passport, photo};

/// How long a capture or a head turn may take from the click to the page's verdict (capture,
/// upload and the checks on the server, in a debug build on a loaded machine).
const VERDICT_TIMEOUT: Duration = Duration::from_secs(60);

/// How long the verification may take once the last capture is in.
pub const PROCESSING_TIMEOUT: Duration = Duration::from_secs(90);

/// Someone in front of the camera: the passport they hold, their selfie, and the photo their
/// head turn is rendered from.
pub struct Person {
    pub document: RgbImage,
    pub selfie: RgbImage,
    pub face_photo: RgbImage,
}

impl Person {
    /// A genuine person: the passport portrait from one photo, the selfie and the head turn from
    /// another photo of the same person.
    pub fn genuine() -> Self {
        Self::holding("faces/obama_3.jpg")
    }

    /// The same face holding a valid passport whose portrait is someone else: only the 1:1
    /// face match can catch it.
    pub fn with_borrowed_document() -> Self {
        Self::holding("faces/harington_1.jpg")
    }

    fn holding(portrait: &str) -> Self {
        let holder = Holder::valid("ERIKSSON", "ANNA MARIA");
        let face_photo = photo("faces/obama_1.jpg");
        Self { document: passport(&photo(portrait), &holder), selfie: frontal(&face_photo).0, face_photo }
    }
}

/// The document on a table in front of a 1280×720 camera. (In a 960×540 frame the synthetic
/// passport's portrait, with its bright background, reads as glare: the glare check's smallest
/// blob scales with the frame.)
pub const DOCUMENT_CAMERA: (u32, u32) = (1280, 720);

/// The document at its own size on a table (enlarging it softens the edges into glare or blur).
pub fn document_clip(document: &RgbImage) -> Video {
    Video::document(document, DOCUMENT_CAMERA.0, DOCUMENT_CAMERA.1)
}

/// Who is in front of the camera when the page asks for a head turn, filmed continuously from
/// the moment the page opens the camera: a live person who turns the way the arrow asks, a
/// little after it appears, and back; or a printed photo held still.
#[derive(Clone)]
pub struct Presence {
    subject: Subject,
    act: Act,
    seed: u64,
}

/// The webcam the head turn is filmed with, and its frame rate.
const WEBCAM: Framing = Framing::WEBCAM;
const WEBCAM_FPS: u32 = 15;
/// The clip runs this long past the end of the page's filming.
const CLIP_TAIL_MS: u32 = 1000;

impl Presence {
    /// A live person who turns their head the way they are asked.
    pub fn turning(face_photo: &RgbImage, seed: u64) -> Self {
        Self::of(face_photo, Act::Genuine, seed)
    }

    /// A printed photo held in front of the camera: the same frontal face, whatever is asked.
    pub fn still_photo(face_photo: &RgbImage, seed: u64) -> Self {
        Self::of(face_photo, Act::StillPrint, seed)
    }

    fn of(face_photo: &RgbImage, act: Act, seed: u64) -> Self {
        let engines = crate::engines().expect("models");
        let faces = engines.face.detect(face_photo, veriframe_vision::face::DetectorKind::Full256).expect("detect");
        let kp = veriframe_vision::face::engine::largest(&faces).expect("a face").keypoints;
        Self { subject: Subject::place(face_photo, &kp, WEBCAM), act, seed }
    }

    /// The camera's clip for a challenge asking to turn `left` (or right) with the arrow
    /// `prompt_at_ms` after filming starts: continuous, at the webcam's rate, every frame
    /// rendered for its own instant (the turn is not a pose per sample slot).
    pub fn clip(&self, left: bool, prompt_at_ms: u32, filming_ms: u32) -> Video {
        let gesture = clear_turn(left);
        let frame_ms = 1000.0 / WEBCAM_FPS as f32;
        let count = ((filming_ms + CLIP_TAIL_MS) as f32 / frame_ms).ceil() as usize;
        // The still start and the end, back at rest, are one picture: render only the motion.
        // (The y4m's chroma subsampling and the page's JPEG stand in for sensor noise.)
        let mut rng = Rng::new(self.seed ^ u64::from(prompt_at_ms));
        let rest = sensor(&self.subject.frame, 0.5, &mut rng);
        let frames: Vec<RgbImage> = (0..count)
            .map(|k| {
                let pose = gesture.pose_at(k as f32 * frame_ms - prompt_at_ms as f32);
                let moving = pose.yaw_deg.abs() > 0.05 || pose.pitch_deg.abs() > 0.05;
                match self.act {
                    Act::Genuine if moving => self.subject.render(&pose),
                    _ => rest.clone(),
                }
            })
            .collect();
        Video::film(&frames, WEBCAM_FPS)
    }
}

/// PNGs of the screens a test passes through, as `target/browser-screenshots/<test>/NN-<step>.png`
/// (the directory is emptied first, so it shows one run).
#[derive(Debug)]
pub struct Screenshots {
    dir: PathBuf,
    taken: AtomicU32,
}

impl Screenshots {
    pub fn new(test: &str) -> Self {
        let dir = target_dir().join("browser-screenshots").join(test);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
        eprintln!("screenshots of {test}: {}", dir.display());
        Self { dir, taken: AtomicU32::new(0) }
    }

    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    /// The window as it is now (the top-level page, iframe included).
    pub async fn take(&self, browser: &Browser, step: &str) -> PathBuf {
        let png = browser.client().screenshot().await.unwrap_or_else(|e| panic!("screenshot of {step}: {e}"));
        let n = self.taken.fetch_add(1, Ordering::Relaxed) + 1;
        let path = self.dir.join(format!("{n:02}-{step}.png"));
        std::fs::write(&path, png).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        path
    }
}

/// Cargo's target directory: `CARGO_TARGET_DIR`, else the one the test binary runs from
/// (`<target>/<profile>/deps/`), else the workspace's `target`.
fn target_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        return dir.into();
    }
    let exe = std::env::current_exe().expect("the test binary's path");
    match exe.ancestors().nth(3) {
        Some(target) if exe.parent().and_then(|p| p.file_name()) == Some("deps".as_ref()) => target.to_owned(),
        _ => PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../target")),
    }
}

async fn shoot(shots: Option<&Screenshots>, browser: &Browser, step: &str) {
    if let Some(shots) = shots {
        shots.take(browser, step).await;
    }
}

/// Ticks the consent box and continues.
pub async fn consent(browser: &Browser, shots: Option<&Screenshots>) {
    browser.wait_for_step("consent", STEP_TIMEOUT).await;
    browser.wait_visible("[data-action=\"continue\"]", STEP_TIMEOUT).await;
    shoot(shots, browser, "consent").await;
    browser.tick("consent-accept").await;
    browser.click("continue").await;
}

/// From the consent screen to the end of the head turn: the passport front and the selfie with
/// the camera, then head turns until the page takes one. Returns the problem codes of each
/// rejected turn. Put [`document_clip`] behind the camera before the page opens it (before
/// the page loads, or before the consent click).
pub async fn onboard(
    browser: &Browser,
    person: &Person,
    presence: Presence,
    shots: Option<&Screenshots>,
) -> Vec<String> {
    let started = Instant::now();
    consent(browser, shots).await;

    browser.wait_for_step("front", STEP_TIMEOUT).await;
    assert_eq!(browser.wait_preview(STEP_TIMEOUT).await, DOCUMENT_CAMERA, "the front shows the document clip");
    // The front's stream is live: the selfie clip is for the camera's next opening.
    browser.camera().show(&Video::still(&person.selfie)).unwrap();
    shoot(shots, browser, "front").await;
    browser.click("capture").await;

    browser.wait_for_step("selfie", VERDICT_TIMEOUT).await;
    assert_eq!(browser.wait_preview(STEP_TIMEOUT).await, (480, 640), "the selfie step reopened the camera");
    shoot(shots, browser, "selfie").await;
    browser.click("capture").await;
    eprintln!("document and selfie taken in {:?}", started.elapsed());

    browser.wait_for_step("liveness", VERDICT_TIMEOUT).await;
    let rejected = turn_head(browser, &presence, shots).await;
    eprintln!("head turn taken after {} rejection(s), {:?} after consent", rejected.len(), started.elapsed());
    rejected
}

/// Head turns in the direction each challenge asks, retrying after each rejection, until the
/// page leaves the liveness screen. Returns the problem codes of each rejected turn.
pub async fn turn_head(browser: &Browser, presence: &Presence, shots: Option<&Screenshots>) -> Vec<String> {
    browser.wait_for_step("liveness", STEP_TIMEOUT).await;
    let mut rejected = Vec::new();
    loop {
        // The challenge (direction and the arrow's moment) is known before Start is enabled.
        wait_enabled(browser, "[data-action=\"start-turn\"]").await;
        let direction = browser.wait_attr("[data-role=\"challenge\"]", "data-direction", STEP_TIMEOUT).await;
        assert!(direction == "left" || direction == "right", "data-direction={direction:?}");
        let prompt = browser.wait_attr("[data-role=\"challenge\"]", "data-prompt-at-ms", STEP_TIMEOUT).await;
        let prompt: u32 = prompt.parse().unwrap_or_else(|_| panic!("data-prompt-at-ms={prompt:?}"));
        let filming = prompt + veriframe_core::challenge::HEAD_TURN_FILM.after_prompt_ms;
        if rejected.is_empty() {
            shoot(shots, browser, "liveness").await;
        }
        let rendered = Instant::now();
        let clip = {
            let presence = presence.clone();
            let left = direction == "left";
            tokio::task::spawn_blocking(move || presence.clip(left, prompt, filming)).await.expect("rendering the clip")
        };
        eprintln!("head-turn clip ({:?}) rendered in {:?}", clip.duration(), rendered.elapsed());
        browser.camera().show(&clip).unwrap();
        browser.click("start-turn").await;

        let deadline = Instant::now() + VERDICT_TIMEOUT;
        loop {
            match browser.step().await.as_deref() {
                Some("liveness") => {}
                Some(dead @ ("error" | "expired")) => panic!("head turn ended on {dead}\n{}", browser.diagnose().await),
                _ => return rejected,
            }
            if browser.visible("[data-action=\"retry-turn\"]").await.is_some() {
                let codes = browser.attr("[data-role=\"feedback\"]", "data-codes").await.unwrap_or_default();
                eprintln!("head turn to the {direction} rejected: {codes:?}");
                if rejected.is_empty() {
                    shoot(shots, browser, "liveness-rejected").await;
                }
                rejected.push(codes);
                browser.click("retry-turn").await;
                break;
            }
            if Instant::now() > deadline {
                panic!("no verdict on the head turn within {VERDICT_TIMEOUT:?}\n{}", browser.diagnose().await);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Waits through the processing screen to the done screen, photographing both.
pub async fn finish(browser: &Browser, shots: Option<&Screenshots>) {
    let deadline = Instant::now() + PROCESSING_TIMEOUT;
    let mut processing_seen = false;
    loop {
        match browser.step().await.as_deref() {
            Some("done") => break,
            Some("processing") if !processing_seen => {
                processing_seen = true;
                shoot(shots, browser, "processing").await;
            }
            _ => {}
        }
        if Instant::now() > deadline {
            // Fails with what the page shows.
            browser.wait_for_step("done", Duration::ZERO).await;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if !processing_seen {
        eprintln!("the processing screen went by between two looks");
    }
    browser.wait_visible("h1", STEP_TIMEOUT).await;
    shoot(shots, browser, "done").await;
}

async fn wait_enabled(browser: &Browser, css: &str) {
    let deadline = Instant::now() + STEP_TIMEOUT;
    loop {
        if let Some(element) = browser.visible(css).await
            && element.is_enabled().await.unwrap_or(false)
        {
            return;
        }
        if Instant::now() > deadline {
            panic!("{css} was not enabled within {STEP_TIMEOUT:?}\n{}", browser.diagnose().await);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Asserts that the page took a head turn on its merits: it rejected fewer turns than the flow
/// allows retries (after the last retry it takes whatever comes). A genuine turn is rejected now
/// and then on a loaded machine, where the fake camera's frames reach the page late (codes such
/// as `DID_NOT_RETURN`); a person would simply try again, and so does the test.
pub fn assert_taken_on_merit(rejected: &[String], retries: u32) {
    assert!(
        rejected.len() < retries as usize,
        "{} of {retries} retries used, so the turn was taken without passing: {rejected:?}",
        rejected.len()
    );
}
