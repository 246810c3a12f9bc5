//! Model-backed face tests: detection, matching thresholds on the test photos, document
//! portraits, passive PAD on the spoof samples (which also exercises EXIF orientation).

mod common;

use veriframe_vision::face::{DetectorKind, Embedding, FaceEngine, FaceError, MatchKind};

#[test]
fn engine_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<FaceEngine>();
}

#[test]
fn missing_models_are_a_typed_error() {
    let dir = tempfile::tempdir().unwrap();
    let err = FaceEngine::load(dir.path(), Default::default()).unwrap_err();
    assert!(matches!(err, FaceError::Models(_)), "{err}");
    assert!(err.to_string().contains("models fetch"), "{err}");
}

fn embed(engine: &FaceEngine, path: &std::path::Path) -> Embedding {
    let img = common::load_image(path);
    let analysis = engine.analyze(&img, DetectorKind::Full256).unwrap();
    assert_eq!(analysis.face_count(), 1, "{}", path.display());
    analysis.primary.unwrap().embedding
}

#[test]
fn test_photos_split_at_the_thresholds() {
    let (Some(engine), Some(faces), Some(cards)) =
        (common::engine(), common::testdata("faces"), common::testdata("idcard_synth"))
    else {
        return;
    };
    let names = [
        "biden_1",
        "biden_2",
        "harington_1",
        "harington_2",
        "harington_3",
        "lacamoire_1",
        "lacamoire_2",
        "leslie_1",
        "leslie_2",
        "obama_1",
        "obama_2",
        "obama_3",
        "obama_4",
    ];
    let photos: Vec<(&str, Embedding)> =
        names.iter().map(|n| (*n, embed(engine, &faces.join(format!("{n}.jpg"))))).collect();
    let person = |n: &str| n.split('_').next().unwrap().to_owned();
    let policy = engine.policy();
    let (mut genuine, mut impostor) = (0, 0);
    for (i, (a, ea)) in photos.iter().enumerate() {
        for (b, eb) in &photos[i + 1..] {
            let m = policy.compare(ea, eb, MatchKind::Selfie);
            if person(a) == person(b) {
                genuine += 1;
                assert!(m.is_match && m.similarity > 50.0, "{a}/{b}: {m:?}");
            } else {
                impostor += 1;
                assert!(!m.is_match && m.similarity < 50.0, "{a}/{b}: {m:?}");
            }
        }
    }
    assert_eq!((genuine, impostor), (12, 66));

    // Document portraits against the other photos (not the one each card was made from).
    let sources = ["obama_3", "biden_1", "leslie_1", "harington_1", "lacamoire_1"];
    for source in sources {
        let who = person(source);
        let card = embed(engine, &cards.join(format!("{who}_card.jpg")));
        for (name, e) in &photos {
            if *name == source {
                continue;
            }
            let m = policy.compare(&card, e, MatchKind::Document);
            assert_eq!(m.is_match, person(name) == who, "{who}_card/{name}: {m:?}");
        }
    }

    // Two people in one photo; a partly cropped face is still found.
    let two = common::load_image(&faces.join("two_people.jpg"));
    assert_eq!(engine.detect(&two, DetectorKind::Full256).unwrap().len(), 2);
    let partial = common::load_image(&faces.join("obama_partial.jpg"));
    assert_eq!(engine.detect(&partial, DetectorKind::Full256).unwrap().len(), 1);
}

#[test]
fn passive_pad_separates_the_spoof_samples() {
    let (Some(engine), Some(spoof), Some(_)) = (common::engine(), common::testdata("spoof"), common::pad_models_dir())
    else {
        return;
    };
    assert!(engine.has_passive_pad(), "PAD models configured for tests");
    for (file, live) in
        [("silentface_image_F1.jpg", false), ("silentface_image_F2.jpg", false), ("silentface_image_T1.jpg", true)]
    {
        let bytes = std::fs::read(spoof.join(file)).unwrap();
        let decoded = veriframe_vision::decode::decode(&bytes, &Default::default()).unwrap();
        // Stored sideways with an EXIF tag: without applying it the face is not found.
        assert_ne!(decoded.exif_orientation, 1, "{file}");
        let img = decoded.image;
        assert!(img.height() > img.width(), "{file} is upright after orientation");
        // Boxes from either path (document detector, selfie detector) give the same verdict.
        for analysis in [engine.analyze(&img, DetectorKind::Full256).unwrap(), engine.analyze_selfie(&img).unwrap()] {
            let face = analysis.primary.unwrap_or_else(|| panic!("{file}: no face"));
            let pad = engine.passive_pad(&img, &face.detection).unwrap().unwrap();
            assert_eq!(pad.is_live, live, "{file}: {pad:?}");
        }
    }
}

#[test]
fn selfie_detector_and_crop() {
    let (Some(engine), Some(faces)) = (common::engine(), common::testdata("faces")) else {
        return;
    };
    let img = common::load_image(&faces.join("leslie_2.jpg"));
    let faces = engine.detect(&img, DetectorKind::Front128).unwrap();
    assert_eq!(faces.len(), 1);
    let crop = veriframe_vision::face::crop_face(&img, &faces[0], 1.8, 400).unwrap();
    assert!(crop.width() <= 400 && crop.height() <= 400 && crop.width() > 100);
    let again = engine.detect(&crop, DetectorKind::Front128).unwrap();
    assert_eq!(again.len(), 1, "the crop still shows the face");
}

#[test]
fn selfie_feedback() {
    use veriframe_vision::face::{CaptureIssue, CaptureThresholds, selfie_issues};
    let (Some(engine), Some(london)) = (common::engine(), common::testdata("faces-london")) else {
        return;
    };
    let t = CaptureThresholds::default();
    let img = common::load_image(&london.join("001_neutral.jpg"));
    assert!(selfie_issues(&engine.analyze_selfie(&img).unwrap(), &t).is_empty());
    let blurred = image::imageops::blur(&img, 2.5);
    let issues = selfie_issues(&engine.analyze_selfie(&blurred).unwrap(), &t);
    assert!(issues.contains(&CaptureIssue::Blurry), "{issues:?}");
    let dark =
        image::RgbImage::from_fn(img.width(), img.height(), |x, y| image::Rgb(img.get_pixel(x, y).0.map(|v| v / 6)));
    let issues = selfie_issues(&engine.analyze_selfie(&dark).unwrap(), &t);
    assert!(issues.contains(&CaptureIssue::TooDark) || issues.contains(&CaptureIssue::NoFace), "{issues:?}");
    let empty = image::RgbImage::from_pixel(320, 240, image::Rgb([128, 128, 128]));
    assert_eq!(selfie_issues(&engine.analyze_selfie(&empty).unwrap(), &t), [CaptureIssue::NoFace]);
}
