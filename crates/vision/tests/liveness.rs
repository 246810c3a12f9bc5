//! The head-turn check on films the test renders from one frontal photo, sampled and encoded the
//! way the hosted page does: a natural turn passes in the asked direction only; a print held
//! still, moved about or tilted to fake a turn fails, and so does a photo swapped for a turned
//! one, a mirrored film read as unmirrored, and a face that changes person.

mod common;

use image::RgbImage;
use veriframe_synth::Rng;
use veriframe_synth::camera::Subject;
use veriframe_synth::film::{self, Act, Attempt, Capture};
use veriframe_synth::motion::{Gesture, Pose};
use veriframe_synth::sampling::FrameSampling;
use veriframe_vision::decode::{DecodeLimits, decode};
use veriframe_vision::face::engine::largest;
use veriframe_vision::face::{DetectorKind, FaceEngine};
use veriframe_vision::liveness::{ChallengeFailure, ChallengeSpec, TurnDirection};

const CAPTURE: Capture = Capture {
    interval_ms: 100,
    prompt_at_ms: 900,
    after_prompt_ms: 4000,
    sampling: FrameSampling { crop_height: 0.75, crop_aspect: 0.75, max_side: 240, quality: 70 },
};
const KEY: FrameSampling = FrameSampling { crop_height: 1.0, crop_aspect: 10.0, max_side: 640, quality: 85 };

fn subject(engine: &FaceEngine, photo: &str) -> Option<Subject> {
    let path = common::testdata(photo)?;
    let image = common::load_image(&path);
    let faces = engine.detect(&image, DetectorKind::Full256).unwrap();
    Some(film::subject(&image, &largest(&faces).expect("a face").keypoints))
}

fn spec(direction: TurnDirection) -> ChallengeSpec {
    ChallengeSpec {
        direction,
        prompt_at_ms: CAPTURE.prompt_at_ms,
        after_prompt_ms: CAPTURE.after_prompt_ms,
        interval_ms: CAPTURE.interval_ms,
    }
}

fn decoded(attempt: &Attempt) -> (Vec<(u32, RgbImage)>, RgbImage) {
    let image = |bytes: &[u8]| decode(bytes, &DecodeLimits::default()).unwrap().image;
    let frames = attempt.at_ms.iter().zip(&attempt.frames).map(|(at, f)| (*at, image(f))).collect();
    (frames, image(&attempt.key))
}

fn has(failures: &[ChallengeFailure], pick: fn(&ChallengeFailure) -> bool) -> bool {
    failures.iter().any(pick)
}

/// A quick, small turn and a slow, large one with a hold, each way: the judge reads the
/// trajectory, not a few snapshots. (`veriframe-eval liveness` measures the whole range of
/// natural turns; this pins the mechanism.)
#[test]
fn turns_fast_and_slow_pass_in_the_asked_direction_only() {
    let Some(engine) = common::engine() else { return };
    let gestures = [
        |d: f32| Gesture::plain(d, 25.0, 300.0, 300.0, 0.0, 400.0),
        |d: f32| Gesture::plain(d, 40.0, 700.0, 900.0, 500.0, 1000.0),
    ];
    for (n, photo) in ["faces/obama_1.jpg", "faces/lacamoire_1.jpg", "faces-london/001_neutral.jpg"].iter().enumerate()
    {
        let Some(subject) = subject(engine, photo) else { return };
        for (k, direction) in TurnDirection::ALL.into_iter().enumerate() {
            for (g, gesture) in gestures.iter().enumerate() {
                let gesture = gesture(direction.sign());
                let mut rng = Rng::new((100 + n * 4 + k * 2 + g) as u64);
                let attempt = film::record_gesture(&subject, Act::Genuine, gesture.clone(), &CAPTURE, &KEY, &mut rng);
                let (frames, key) = decoded(&attempt);
                let asked = engine.head_turn(&frames, Some(&key), &spec(direction), false).unwrap();
                let c = &asked.challenge;
                assert!(
                    c.passed,
                    "{photo} {direction:?} {gesture:?}: {:?}\n{:?}",
                    c.failures,
                    c.deltas.iter().map(|d| d.map(|d| (d * 100.0).round() / 100.0)).collect::<Vec<_>>()
                );
                assert!(c.same_person && c.turned && c.returned);
                let other = engine.head_turn(&frames, Some(&key), &spec(direction.opposite()), false).unwrap();
                assert!(
                    has(&other.challenge.failures, |f| matches!(f, ChallengeFailure::TurnedWrongWay { .. })),
                    "{photo} judged the other way: {:?}",
                    other.challenge.failures
                );
            }
        }
    }
}

#[test]
fn prints_held_still_moved_or_tilted_fail() {
    let Some(engine) = common::engine() else { return };
    let Some(subject) = subject(engine, "faces-london/002_neutral.jpg") else { return };
    let acts = [
        Act::StillPrint,
        Act::MovedPrint,
        Act::TiltedPrint { max_tilt_deg: 45.0, focal_px: 500.0 },
        Act::TiltedPrint { max_tilt_deg: 60.0, focal_px: 336.0 },
    ];
    for (i, act) in acts.into_iter().enumerate() {
        for direction in TurnDirection::ALL {
            let mut rng = Rng::new(7 + i as u64);
            let attempt = film::record(&subject, act, direction.sign(), &CAPTURE, &KEY, &mut rng);
            let (frames, key) = decoded(&attempt);
            let r = engine.head_turn(&frames, Some(&key), &spec(direction), false).unwrap();
            assert!(
                !r.challenge.passed && !r.live,
                "{} asked {direction:?}: peak {}",
                act.name(),
                r.challenge.peak_delta
            );
        }
    }
}

#[test]
fn a_photo_swapped_for_a_turned_one_fails_as_implausible_motion() {
    let Some(engine) = common::engine() else { return };
    let Some(subject) = subject(engine, "faces/obama_1.jpg") else { return };
    let turned = subject.render(&Pose { yaw_deg: 35.0, ..Pose::default() });
    let mut rng = Rng::new(3);
    let frames: Vec<(u32, RgbImage)> = (0..50u32)
        .map(|k| {
            let at = k * 100;
            let shown = if (1500..2200).contains(&at) { &turned } else { &subject.frame };
            let seen = veriframe_synth::camera::sensor(shown, 0.5, &mut rng);
            (at, decode(&CAPTURE.sampling.encode(&seen), &DecodeLimits::default()).unwrap().image)
        })
        .collect();
    let r = engine.head_turn(&frames, None, &spec(TurnDirection::Left), false).unwrap();
    assert!(r.challenge.turned, "the swap reads as turned: {}", r.challenge.peak_delta);
    assert!(
        has(&r.challenge.failures, |f| matches!(f, ChallengeFailure::ImplausibleMotion { .. })),
        "{:?}",
        r.challenge.failures
    );
}

#[test]
fn a_mirrored_film_is_judged_by_its_flag() {
    let Some(engine) = common::engine() else { return };
    let Some(subject) = subject(engine, "faces/lacamoire_1.jpg") else { return };
    let mut rng = Rng::new(11);
    // The subject turns to their own right; the client mirrors what it uploads.
    let attempt = film::record(&subject, Act::Genuine, TurnDirection::Right.sign(), &CAPTURE, &KEY, &mut rng);
    let (frames, key) = decoded(&attempt);
    let flip = |(at, f): &(u32, RgbImage)| (*at, image::imageops::flip_horizontal(f));
    let mirrored: Vec<(u32, RgbImage)> = frames.iter().map(flip).collect();
    let key = image::imageops::flip_horizontal(&key);
    let right = spec(TurnDirection::Right);
    assert!(engine.head_turn(&mirrored, Some(&key), &right, true).unwrap().challenge.passed);
    assert!(!engine.head_turn(&mirrored, Some(&key), &right, false).unwrap().challenge.passed);
}

#[test]
fn a_face_that_changes_person_fails() {
    let Some(engine) = common::engine() else { return };
    let (Some(start), Some(other)) =
        (subject(engine, "faces-london/003_neutral.jpg"), subject(engine, "faces-london/004_neutral.jpg"))
    else {
        return;
    };
    let mut rng = Rng::new(5);
    let attempt = film::record(&start, Act::Genuine, 1.0, &CAPTURE, &KEY, &mut rng);
    let mut rng = Rng::new(5);
    let impostor = film::record(&other, Act::Genuine, 1.0, &CAPTURE, &KEY, &mut rng);
    // The key frame (the start's identity) is one person, the film another.
    let (frames, _) = decoded(&impostor);
    let (_, key) = decoded(&attempt);
    let r = engine.head_turn(&frames, Some(&key), &spec(TurnDirection::Left), false).unwrap();
    assert!(!r.challenge.same_person, "{:?}", r.measures.identity);
    assert!(has(&r.challenge.failures, |f| matches!(f, ChallengeFailure::DifferentPerson { .. })));
}
