//! The whole onboarding over the capture API, with real models on generated inputs: a genuine
//! person passes; a still photo fails liveness; another person's selfie fails face recognition.
//! Results then read back in Incode's shapes, and personal data only from encrypted blobs.

use serde_json::json;
use veriframe_testkit::flow::Page;
use veriframe_testkit::synth::{Act, Holder, jpeg, passport, photo, subject};
use veriframe_testkit::{Backend, TestApp, on_both_backends};

on_both_backends!(a_genuine_person_is_verified, a_still_photo_fails_liveness, someone_elses_document_fails_face_match);

/// Documents, selfies and turns for one person: the passport portrait from one photo, the
/// selfie and the head turn from another photo of the same person.
struct Person {
    document: Vec<u8>,
    selfie_photo: image::RgbImage,
}

fn person(portrait: &str, selfie: &str, holder: &Holder) -> Person {
    Person { document: jpeg(&passport(&photo(portrait), holder)), selfie_photo: photo(selfie) }
}

async fn capture_all(page: &Page, doc: &Person, selfie: &image::RgbImage, act: Act) {
    let (status, state) = page.post("consent").await;
    assert_eq!((status.as_u16(), state["current"].as_str()), (200, Some("front")), "{state}");
    let (status, front) = page.capture("front", doc.document.clone()).await;
    assert_eq!(status, 200, "{front}");
    assert_eq!(front["accepted"], true, "{front}");
    assert_eq!(front["next"], "selfie", "a passport has no back: {front}");
    let state = page.state().await;
    assert_eq!(state["document"]["type"], "Passport", "{state}");
    assert!(!state["steps"].as_array().unwrap().contains(&json!("back")), "{state}");
    let (status, answer) = page.capture("selfie", jpeg(&veriframe_testkit::synth::frontal(selfie).0)).await;
    assert_eq!((status.as_u16(), answer["accepted"].as_bool()), (200, Some(true)), "{answer}");
    assert_eq!(answer["next"], "liveness");
    let (status, answer) = page.liveness(&subject(selfie), act, 11).await;
    assert_eq!(status, 200, "{answer}");
}

async fn a_genuine_person_is_verified(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let holder = Holder::valid("ERIKSSON", "ANNA MARIA");
    let obama = person("faces/obama_3.jpg", "faces/obama_1.jpg", &holder);
    let (page, session_token) = app.start_page(json!({"customFields": {"lastName": "Eriksson"}})).await;
    let selfie = obama.selfie_photo.clone();
    capture_all(&page, &obama, &selfie, Act::Genuine).await;
    let state = page.state().await;
    assert!(state["completed"].as_array().unwrap().contains(&json!("liveness")), "the turn was accepted: {state}");
    assert_eq!(state["current"], "processing", "every step done: {state}");

    let (status, state) = page.post("submit").await;
    assert_eq!(status, 200, "{state}");
    assert_eq!(state["processing"]["submitted"], true);
    let ran = app.pipeline.run_until_idle(20).await.unwrap();
    assert!(ran >= 3, "document, face and finalize jobs ran ({ran})");

    let session = app.client.session(&session_token);
    assert_eq!(session.status().await.unwrap().onboarding_status, "ONBOARDING_FINISHED");
    let state = page.state().await;
    assert_eq!(
        (state["current"].as_str(), state["processing"]["done"].as_bool()),
        (Some("done"), Some(true)),
        "{state}"
    );

    let score = session.score().await.unwrap();
    assert_eq!(score.overall.status, "OK", "{score:#?}");
    let id = score.id_validation.as_ref().unwrap();
    for key in [
        "mrzParsableCheck",
        "documentNumberCheckDigit",
        "birthDateCheckDigit",
        "expirationDateCheckDigit",
        "compositeCheckDigit",
        "documentExpired",
    ] {
        let item = id.id_specific.iter().find(|i| i.key == key).unwrap_or_else(|| panic!("{key} missing"));
        assert_eq!(item.status, "OK", "{key}: {item:?}");
    }
    assert_eq!(id.custom_fields.iter().find(|i| i.key == "lastNameMatch").unwrap().status, "OK");
    let face: f32 = score.face_recognition.as_ref().unwrap().overall.value.parse().unwrap();
    assert!(face >= 50.0, "similarity {face}");
    assert_eq!(score.liveness.as_ref().unwrap().overall.status, "OK");
    assert!(score.reason_msg.contains("passed"), "{}", score.reason_msg);

    let ocr = session.ocr_data().await.unwrap();
    assert_eq!(ocr.type_of_id.as_deref(), Some("Passport"));
    let name = ocr.name.unwrap();
    assert_eq!(name.paternal_last_name.as_deref(), Some("ERIKSSON"));
    assert_eq!(name.given_name.as_deref(), Some("ANNA MARIA"));
    assert_eq!(ocr.document_number.as_deref(), Some("L898902C3"));
    assert_eq!(ocr.birth_date, Some(145_497_600_000), "1974-08-12 at UTC midnight");
    assert_eq!(ocr.expiration_date, Some(2034));
    assert_eq!(ocr.mrz1.as_deref(), Some(holder.td3()[0].as_str()));
    assert_eq!(ocr.mrz2.as_deref(), Some(holder.td3()[1].as_str()));

    let names = ["selfie", "croppedFace", "croppedIDFace", "fullFrameFrontID", "fullFrameBackID"];
    let images = session.images(&names).await.unwrap();
    // The first 64 bytes of each stored image (JPEG header and tables): long enough that
    // ciphertext cannot contain them by chance, as it can contain a bare 3-byte JPEG marker.
    let mut image_heads = Vec::new();
    for name in ["selfie", "croppedFace", "croppedIDFace", "fullFrameFrontID"] {
        let b64 = images.get(name).unwrap_or_else(|| panic!("{name} missing"));
        let bytes = base64_decode(b64);
        assert_eq!(&bytes[..2], &[0xFF, 0xD8], "{name} is a JPEG");
        image_heads.push(bytes[..64].to_vec());
    }
    assert!(!images.contains_key("fullFrameBackID"), "never captured");
    let finished = session.finish().await.unwrap();
    assert_eq!(finished.action, "approved");

    // Personal data never sits in the clear: not in the database file, not in the blobs.
    if backend == Backend::Sqlite {
        for entry in walk(app.data_dir()) {
            let bytes = std::fs::read(&entry).unwrap();
            let names = [b"ERIKSSON".as_slice(), b"L898902C3"];
            for needle in names.into_iter().chain(image_heads.iter().map(Vec::as_slice)) {
                assert!(
                    !bytes.windows(needle.len()).any(|w| w == needle),
                    "{} holds {:?} in the clear",
                    entry.display(),
                    String::from_utf8_lossy(needle)
                );
            }
        }
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

async fn a_still_photo_fails_liveness(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let obama = person("faces/obama_3.jpg", "faces/obama_1.jpg", &Holder::valid("ERIKSSON", "ANNA"));
    let (page, session_token) = app.start_page(json!({})).await;
    let selfie = obama.selfie_photo.clone();
    capture_all(&page, &obama, &selfie, Act::StillPrint).await;
    let held_still = subject(&selfie);
    // The still sequence is rejected at once, with a reason the person can act on...
    let state = page.state().await;
    assert_eq!(state["current"], "liveness", "{state}");
    let (_, again) = page.liveness(&held_still, Act::StillPrint, 11).await;
    assert_eq!(again["accepted"], false, "{again}");
    assert!(again["problems"].as_array().unwrap().iter().any(|p| p["code"] == "TURN_TOO_SMALL"), "{again}");
    // ...until the retries run out; then it is taken as it is and fails verification.
    let mut answer = again;
    for _ in 0..5 {
        if answer["accepted"] == true {
            break;
        }
        answer = page.liveness(&held_still, Act::StillPrint, 11).await.1;
    }
    assert_eq!(answer["accepted"], true, "accepted once retries ran out: {answer}");
    page.post("submit").await;
    app.pipeline.run_until_idle(20).await.unwrap();
    let score = app.client.session(&session_token).score().await.unwrap();
    assert_eq!(score.liveness.as_ref().unwrap().overall.status, "FAIL", "{score:#?}");
    assert_eq!(score.overall.status, "FAIL");
    assert!(score.reason_msg.contains("liveness"), "{}", score.reason_msg);
    assert_eq!(app.client.session(&session_token).finish().await.unwrap().action, "rejected");
}

async fn someone_elses_document_fails_face_match(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let holder = Holder::valid("ERIKSSON", "ANNA");
    // A valid passport whose portrait is another person, presented by someone who passes the
    // selfie and the head turn: only the 1:1 match can catch it.
    let borrowed = person("faces/harington_1.jpg", "faces/obama_1.jpg", &holder);
    let (page, session_token) = app.start_page(json!({})).await;
    let selfie = borrowed.selfie_photo.clone();
    capture_all(&page, &borrowed, &selfie, Act::Genuine).await;
    let (status, state) = page.post("submit").await;
    assert_eq!(status, 200, "the turn itself was fine: {state}");
    app.pipeline.run_until_idle(20).await.unwrap();
    let score = app.client.session(&session_token).score().await.unwrap();
    assert_eq!(score.liveness.as_ref().unwrap().overall.status, "OK", "{score:#?}");
    assert_eq!(score.face_recognition.as_ref().unwrap().overall.status, "FAIL", "{score:#?}");
    assert_eq!(score.overall.status, "FAIL");
    assert!(score.reason_msg.contains("does not match"), "{}", score.reason_msg);
}
