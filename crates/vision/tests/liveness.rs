//! Head-turn challenge on sequences rendered by the test itself from one frontal photo: a real
//! turn (height-field rotation) passes in the requested direction only; the same photo held
//! still or rotated in its plane fails.

mod common;

use common::headturn::{Rng, capture, face_depth, roll, selfie_frame, turn_angles, turn_head};
use image::RgbImage;
use veriframe_vision::face::engine::largest;
use veriframe_vision::face::{DetectorKind, FaceEngine};
use veriframe_vision::liveness::{ChallengeFailure, TurnDirection, evaluate_head_turn};

#[test]
fn depth_model_matches_its_checkpoints() {
    for (u, v, z) in [
        (0.0, 0.49, 0.004),
        (0.5, 0.0, -0.653),
        (0.0, 1.09, -0.345),
        (0.0, 1.91, -0.565),
        (0.0, -0.89, -0.351),
        (0.0, 0.2, -0.193),
    ] {
        let got = face_depth(u, v);
        assert!((got - z).abs() < 0.003, "({u}, {v}) → {got}");
    }
}

/// The frontal 480×640 frame of `photo` and its keypoints.
fn frontal(engine: &FaceEngine, photo: &RgbImage) -> (RgbImage, veriframe_vision::face::Keypoints) {
    let dets = engine.detect(photo, DetectorKind::Full256).unwrap();
    let frame = selfie_frame(photo, &largest(&dets).unwrap().keypoints);
    let dets = engine.detect(&frame, DetectorKind::Full256).unwrap();
    let kp = largest(&dets).unwrap().keypoints;
    (frame, kp)
}

#[test]
fn synthetic_head_turn_passes_and_still_or_rolled_photo_fails() {
    let (Some(engine), Some(faces)) = (common::engine(), common::testdata("faces")) else {
        return;
    };
    let rules = engine.options().challenge;
    let photo = common::load_image(&faces.join("obama_1.jpg"));
    let (frame, kp) = frontal(engine, &photo);
    let mut rng = Rng::new(0x5eed_0001);

    // Turn to the subject's left by 35°, and back.
    let angles = turn_angles(35.0);
    let frames: Vec<RgbImage> = angles.iter().map(|&a| capture(&turn_head(&frame, &kp, a), &mut rng)).collect();
    // Both detectors, each on its own: the selfie default (128) and the full-range model.
    for kind in [DetectorKind::Front128, DetectorKind::Full256] {
        let measured = engine.measure_frames_with(&frames, false, kind).unwrap();
        let m = &measured.measures;
        assert!(m.iter().all(|f| f.faces >= 1 && f.score >= 0.6), "{kind:?}: {m:?}");
        let baseline = m[0].yaw;
        assert!(baseline.abs() <= 0.12, "frontal source: {baseline}");
        for (f, a) in m.iter().zip(&angles) {
            if *a >= 10.0 {
                assert!(f.yaw - baseline > 0.0, "{kind:?} sign at {a}°: {m:?}");
            }
        }
        let left = evaluate_head_turn(m, TurnDirection::Left, &rules);
        assert!(left.passed, "{kind:?}: {:?}\n{:?}", left.failures, left.frames);
        assert!((0.15..=0.35).contains(&left.peak_delta), "{kind:?} peak {}", left.peak_delta);
        assert!(left.same_person, "identity across the turn: {:?}", left.frames);
        let right = evaluate_head_turn(m, TurnDirection::Right, &rules);
        assert!(!right.passed);
        assert!(right.failures.iter().any(|f| matches!(f, ChallengeFailure::TurnedWrongWay { .. })));
        eprintln!(
            "{kind:?} turn 35°: peak Δyaw {:.3}; identity distances {:?}",
            left.peak_delta,
            left.frames.iter().map(|f| f.identity_distance.unwrap_or(-1.0)).collect::<Vec<_>>()
        );
    }
    // Without a fallback the default measurement stays on the selfie detector.
    assert_eq!(engine.measure_frames(&frames, false).unwrap().detector, DetectorKind::Front128);

    // The same photo held still (with camera noise) fails either way.
    let still: Vec<RgbImage> = (0..15).map(|_| capture(&frame, &mut rng)).collect();
    for dir in [TurnDirection::Left, TurnDirection::Right] {
        let r = engine.head_turn(&still, dir, false).unwrap();
        assert!(!r.live && !r.challenge.turned, "still photo, {dir:?}: {:?}", r.challenge.frames);
    }

    // The photo rotated in its own plane 0 → 30° → 0 fails either way.
    let (cx, cy) = ((kp.right_eye.x + kp.left_eye.x) / 2.0, (kp.right_eye.y + kp.left_eye.y) / 2.0);
    let rolled: Vec<RgbImage> =
        turn_angles(30.0).iter().map(|&a| capture(&roll(&frame, cx, cy + 40.0, a), &mut rng)).collect();
    let measured = engine.measure_frames(&rolled, false).unwrap();
    let peak_roll = measured.measures.iter().map(|f| f.roll_deg).fold(f32::MIN, f32::max);
    assert!(peak_roll > 20.0, "the sequence really rolls: {peak_roll}");
    for dir in [TurnDirection::Left, TurnDirection::Right] {
        let r = evaluate_head_turn(&measured.measures, dir, &rules);
        assert!(!r.passed && !r.turned, "rolled photo, {dir:?}: {:?}", r.frames);
    }
}

#[test]
fn mirrored_frames_flip_the_direction() {
    let (Some(engine), Some(faces)) = (common::engine(), common::testdata("faces")) else {
        return;
    };
    let photo = common::load_image(&faces.join("lacamoire_1.jpg"));
    let (frame, kp) = frontal(engine, &photo);
    let mut rng = Rng::new(7);
    // Subject turns to their own right; the client mirrors what it uploads.
    let frames: Vec<RgbImage> = turn_angles(-35.0)
        .iter()
        .map(|&a| image::imageops::flip_horizontal(&capture(&turn_head(&frame, &kp, a), &mut rng)))
        .collect();
    let rules = engine.options().challenge;
    let measured = engine.measure_frames(&frames, true).unwrap();
    let right = evaluate_head_turn(&measured.measures, TurnDirection::Right, &rules);
    assert!(right.passed, "{:?}\n{:?}", right.failures, right.frames);
    // Read as unmirrored (the flag only negates yaw), the same frames fail.
    let mut unflagged = measured.measures.clone();
    unflagged.iter_mut().for_each(|m| m.yaw = -m.yaw);
    assert!(!evaluate_head_turn(&unflagged, TurnDirection::Right, &rules).passed);
}
