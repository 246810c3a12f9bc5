//! The head-turn verdict, from measured frames only.

use super::{ChallengeFailure, ChallengeReport, ChallengeRules, ChallengeSpec, TurnMeasures};

/// Fewest frames a capture must have to be judged at all (a second of film at ten a second).
pub const MIN_FRAMES: usize = 10;
/// The film must go on at least this long after the prompt for a turn out and back to fit.
const MIN_AFTER_PROMPT_MS: u32 = 1500;
/// A still start at the camera: the intermediate band of a leg begins at this share of the
/// threshold, below which the head counts as frontal.
const LEG_FLOOR: f32 = 0.25;

/// Judges a head-turn capture. With Δ the yaw change from the start (the median of the frames
/// before the prompt), signed so that the asked side is positive, and Δ̃ its 3-frame median:
///
/// 1. the capture is complete: enough frames, at least `min_fps`, filmed well past the prompt;
/// 2. the face is there (at most `max_missing_share` of frames without it), alone, and does not
///    jump across the frame;
/// 3. the start is still and roughly frontal;
/// 4. after the prompt Δ̃ reaches `turn_threshold` toward the asked side (not the other side
///    first), in at least `min_turned_frames` frames;
/// 5. after the turn Δ̃ comes back to `return_threshold`;
/// 6. the motion is a head's: no step larger than `max_step_per_100ms`, and the way out or
///    the way back passes through the band between frontal and turned in at least one frame (a
///    photo swapped for a turned one and back does neither);
/// 7. the turned and final faces are the starting person's.
pub fn judge(measures: &TurnMeasures, spec: &ChallengeSpec, rules: &ChallengeRules) -> ChallengeReport {
    let frames = &measures.frames;
    let n = frames.len();
    let mut failures = Vec::new();

    let covered = frames.last().map_or(0, |f| f.at_ms);
    let fps = if covered > 0 { (n.saturating_sub(1)) as f32 * 1000.0 / covered as f32 } else { 0.0 };
    let needed = spec.prompt_at_ms + MIN_AFTER_PROMPT_MS.min(spec.after_prompt_ms);
    if n < MIN_FRAMES || fps < rules.min_fps || covered < needed {
        failures.push(ChallengeFailure::CaptureIncomplete { frames: n, fps, covered_ms: covered, needed_ms: needed });
    }

    let usable: Vec<bool> =
        frames.iter().map(|f| f.face.is_some_and(|t| t.score >= rules.min_detection_score)).collect();
    let missing = usable.iter().filter(|u| !**u).count();
    if n > 0 && missing as f32 > rules.max_missing_share * n as f32 {
        failures.push(ChallengeFailure::FaceLost { missing, of: n });
    }
    let crowded = frames.iter().filter(|f| f.competing_face).count();
    if crowded >= 2 {
        failures.push(ChallengeFailure::MultipleFaces { frames: crowded });
    }
    check_jumps(measures, rules, &mut failures);

    // The start: the frames before the prompt.
    let mut start: Vec<f32> = frames
        .iter()
        .zip(&usable)
        .filter(|(f, ok)| **ok && f.at_ms < spec.prompt_at_ms)
        .filter_map(|(f, _)| f.face.map(|t| t.yaw))
        .collect();
    start.sort_by(f32::total_cmp);
    let baseline = start.get(start.len() / 2).copied().unwrap_or(0.0);
    let spread = robust_spread(&start, baseline);
    if start.len() < rules.min_baseline_frames
        || spread > rules.baseline_max_spread
        || baseline.abs() > rules.baseline_max_abs_yaw
    {
        failures.push(ChallengeFailure::NotFrontalAtStart { baseline, spread });
    }

    let s = spec.direction.sign();
    let deltas: Vec<Option<f32>> = frames
        .iter()
        .zip(&usable)
        .map(|(f, ok)| if *ok { f.face.map(|t| s * (t.yaw - baseline)) } else { None })
        .collect();
    // What counts toward the turn: the change less the foreshortening a flat picture shows.
    let mut aspects: Vec<f32> = frames
        .iter()
        .zip(&usable)
        .filter(|(f, ok)| **ok && f.at_ms < spec.prompt_at_ms)
        .filter_map(|(f, _)| f.face.and_then(aspect))
        .collect();
    aspects.sort_by(f32::total_cmp);
    let start_aspect = aspects.get(aspects.len() / 2).copied();
    let counted: Vec<Option<f32>> = frames
        .iter()
        .zip(&deltas)
        .map(|(f, d)| {
            let d = (*d)?;
            let growth = match (f.face.and_then(aspect), start_aspect) {
                (Some(a), Some(a0)) if a0 > 0.0 => (a / a0 - 1.0).max(0.0),
                _ => 0.0,
            };
            Some(d - rules.foreshortening_weight * growth)
        })
        .collect();
    let smooth = median3(&counted);
    let t = rules.turn_threshold;
    let after: Vec<usize> = (0..n).filter(|&i| frames[i].at_ms >= spec.prompt_at_ms).collect();
    let along = |i: &usize| smooth[*i];
    let peak = after.iter().filter_map(along).fold(0f32, f32::max);
    let opposite = after.iter().filter_map(along).map(|d| -d).fold(0f32, f32::max);
    let opposite_at = after.iter().copied().find(|i| smooth[*i].is_some_and(|d| -d >= t));
    let turned_frames: Vec<usize> = after.iter().copied().filter(|i| smooth[*i].is_some_and(|d| d >= t)).collect();
    let turned = turned_frames.len() >= rules.min_turned_frames && !turned_frames.is_empty();
    let mut returned = false;
    if !turned {
        if opposite >= t {
            failures.push(ChallengeFailure::TurnedWrongWay { peak_opposite: opposite });
        } else {
            failures.push(ChallengeFailure::TurnTooSmall { peak, needed: t });
        }
    } else {
        let first = turned_frames[0];
        let last = turned_frames[turned_frames.len() - 1];
        if opposite_at.is_some_and(|o| o < first) {
            failures.push(ChallengeFailure::TurnedWrongWay { peak_opposite: opposite });
        }
        let back = rules.return_threshold;
        let return_at = (last + 1..n).find(|&i| smooth[i].is_some_and(|d| d <= back));
        returned = return_at.is_some();
        if !returned {
            let end = (0..n).rev().find_map(|i| smooth[i]).unwrap_or(0.0);
            failures.push(ChallengeFailure::DidNotReturn { last: end, needed: back });
        }
        check_legs(&deltas, after.first().copied().unwrap_or(n), t, peak, &mut failures);
    }
    check_steps(measures, &deltas, rules, &mut failures);

    for check in &measures.identity {
        let limit = if check.turned { rules.turned_identity_threshold } else { rules.identity_threshold };
        if check.distance >= limit {
            failures.push(ChallengeFailure::DifferentPerson { frame: check.frame, distance: check.distance });
        }
    }
    let same_person = !failures
        .iter()
        .any(|f| matches!(f, ChallengeFailure::DifferentPerson { .. } | ChallengeFailure::FaceJumped { .. }));
    ChallengeReport {
        direction: spec.direction,
        rules: *rules,
        baseline_yaw: baseline,
        peak_delta: peak,
        deltas,
        turned,
        returned,
        same_person,
        passed: failures.is_empty(),
        failures,
    }
}

/// Eye-to-mouth over inter-eye distance: grows as the face narrows.
fn aspect(face: super::FaceTrack) -> Option<f32> {
    (face.inter_eye > 1.0).then(|| face.eye_mouth / face.inter_eye)
}

/// How far the start's values stray from its median, ignoring the single worst frame when there
/// are enough (one blurred frame should not void a still start).
fn robust_spread(sorted: &[f32], median: f32) -> f32 {
    let mut dev: Vec<f32> = sorted.iter().map(|v| (v - median).abs()).collect();
    dev.sort_by(f32::total_cmp);
    if dev.len() >= 5 {
        dev.pop();
    }
    dev.last().copied().unwrap_or(0.0)
}

/// Median of each frame with its neighbours that have a value; `None` where the frame has none.
fn median3(values: &[Option<f32>]) -> Vec<Option<f32>> {
    (0..values.len())
        .map(|i| {
            values[i]?;
            let mut w: Vec<f32> = [i.checked_sub(1), Some(i), Some(i + 1)]
                .into_iter()
                .flatten()
                .filter_map(|j| values.get(j).copied().flatten())
                .collect();
            w.sort_by(f32::total_cmp);
            w.get(w.len() / 2).copied()
        })
        .collect()
}

/// The turn must pass through the band between frontal and near the peak (85 % of it) in at
/// least one frame, on the way out (between the last frontal frame and the first near the
/// peak) or on the way back (between the last near the peak and the first frontal again). A
/// head sweeps through it, though a fast one at ten frames a second may cross it between two
/// frames on one leg; a photo swapped for a turned one and back jumps over it both ways.
fn check_legs(deltas: &[Option<f32>], after_prompt: usize, t: f32, peak: f32, failures: &mut Vec<ChallengeFailure>) {
    let top = (0.85 * peak).max(t);
    let floor = LEG_FLOOR * t;
    let near_peak: Vec<usize> = (after_prompt..deltas.len()).filter(|&i| deltas[i].is_some_and(|d| d >= top)).collect();
    let (Some(&first), Some(&last)) = (near_peak.first(), near_peak.last()) else { return };
    let in_band = |i: usize| deltas[i].is_some_and(|d| d > floor && d < top);
    let frontal = |i: usize| deltas[i].is_some_and(|d| d <= floor);
    let out_from = (0..first).rev().find(|&i| frontal(i)).unwrap_or(0);
    let swept_out = (out_from + 1..first).any(in_band);
    let back_to = (last + 1..deltas.len()).find(|&i| frontal(i)).unwrap_or(deltas.len());
    let swept_back = (last + 1..back_to).any(in_band);
    if !swept_out && !swept_back {
        failures.push(ChallengeFailure::ImplausibleMotion { frame: first, step: deltas[first].unwrap_or(0.0) });
    }
}

/// No frame-to-frame step a head cannot make (scaled to 100 ms between the two frames).
fn check_steps(
    measures: &TurnMeasures,
    deltas: &[Option<f32>],
    rules: &ChallengeRules,
    failures: &mut Vec<ChallengeFailure>,
) {
    let frames = &measures.frames;
    let mut previous: Option<(usize, f32)> = None;
    for (i, d) in deltas.iter().enumerate() {
        let Some(d) = *d else { continue };
        if let Some((j, p)) = previous {
            let dt = frames[i].at_ms.saturating_sub(frames[j].at_ms).max(1) as f32;
            let step = (d - p).abs() / (dt / 100.0).max(1.0);
            if step > rules.max_step_per_100ms {
                failures.push(ChallengeFailure::ImplausibleMotion { frame: i, step });
            }
        }
        previous = Some((i, d));
    }
}

/// The face must not leap across the frame between consecutive sightings.
fn check_jumps(measures: &TurnMeasures, rules: &ChallengeRules, failures: &mut Vec<ChallengeFailure>) {
    let mut previous = None;
    for (i, f) in measures.frames.iter().enumerate() {
        let Some(face) = f.face else { continue };
        if let Some(p) = previous {
            let p: super::FaceTrack = p;
            let jump = (face.center_x - p.center_x).hypot(face.center_y - p.center_y)
                / p.face_width.max(face.face_width).max(1.0);
            if jump > rules.max_jump_face_widths {
                failures.push(ChallengeFailure::FaceJumped { frame: i, face_widths: jump });
            }
        }
        previous = Some(face);
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::super::{FaceTrack, FrameMeasure, IdentityCheck, TurnDirection};
    use super::*;

    const SPEC: ChallengeSpec =
        ChallengeSpec { direction: TurnDirection::Left, prompt_at_ms: 1000, after_prompt_ms: 4000, interval_ms: 100 };

    fn film(yaws: &[f32]) -> TurnMeasures {
        let frames = yaws
            .iter()
            .enumerate()
            .map(|(i, &yaw)| FrameMeasure {
                at_ms: i as u32 * 100,
                faces: 1,
                competing_face: false,
                face: Some(FaceTrack {
                    score: 0.9,
                    yaw,
                    roll_deg: 0.0,
                    center_x: 100.0,
                    center_y: 100.0,
                    face_width: 80.0,
                    inter_eye: 30.0,
                    eye_mouth: 32.0,
                }),
            })
            .collect();
        TurnMeasures { frames, identity: vec![IdentityCheck { frame: 20, distance: 0.3, turned: false }] }
    }

    /// A still start, then a smooth turn to `peak` and back, with the film going on after.
    fn turn(peak: f32) -> Vec<f32> {
        let mut y = vec![0.02; 13];
        y.extend((0..=10).map(|k| 0.02 + peak * (std::f32::consts::PI * k as f32 / 10.0).sin().powi(2)));
        y.extend(vec![0.02; 20]);
        y
    }

    #[test]
    fn a_smooth_turn_passes_only_in_its_direction() {
        let r = judge(&film(&turn(0.15)), &SPEC, &ChallengeRules::default());
        assert!(r.passed, "{:?}", r.failures);
        assert!((r.peak_delta - 0.15).abs() < 0.02);
        let right = ChallengeSpec { direction: TurnDirection::Right, ..SPEC };
        let r = judge(&film(&turn(0.15)), &right, &ChallengeRules::default());
        assert!(r.failures.iter().any(|f| matches!(f, ChallengeFailure::TurnedWrongWay { .. })), "{:?}", r.failures);
    }

    #[test]
    fn too_small_a_turn_or_no_return_fails_with_its_reason() {
        let r = judge(&film(&turn(0.05)), &SPEC, &ChallengeRules::default());
        assert!(r.failures.iter().any(|f| matches!(f, ChallengeFailure::TurnTooSmall { .. })));
        let mut y = vec![0.0; 13];
        y.extend((0..30).map(|k| (k as f32 * 0.02).min(0.2)));
        let r = judge(&film(&y), &SPEC, &ChallengeRules::default());
        assert!(r.failures.iter().any(|f| matches!(f, ChallengeFailure::DidNotReturn { .. })), "{:?}", r.failures);
    }

    #[test]
    fn a_swapped_photo_fails_as_implausible_motion() {
        let mut y = vec![0.0; 15];
        y.extend([0.2, 0.21, 0.19, 0.2, 0.2, 0.2]);
        y.extend([0.0; 20]);
        let r = judge(&film(&y), &SPEC, &ChallengeRules::default());
        assert!(r.failures.iter().any(|f| matches!(f, ChallengeFailure::ImplausibleMotion { .. })), "{:?}", r.failures);
    }

    #[test]
    fn a_still_photo_a_short_film_and_another_person_fail() {
        let r = judge(&film(&[0.03; 50]), &SPEC, &ChallengeRules::default());
        assert!(!r.passed && !r.turned);
        let r = judge(&film(&turn(0.15)[..12]), &SPEC, &ChallengeRules::default());
        assert!(r.failures.iter().any(|f| matches!(f, ChallengeFailure::CaptureIncomplete { .. })));
        let mut m = film(&turn(0.15));
        m.identity[0].distance = 0.7;
        let r = judge(&m, &SPEC, &ChallengeRules::default());
        assert!(!r.passed && !r.same_person);
    }

    #[test]
    fn a_few_lost_frames_are_tolerated_but_not_many() {
        let mut m = film(&turn(0.15));
        m.frames[5].face = None;
        m.frames[30].face = None;
        assert!(judge(&m, &SPEC, &ChallengeRules::default()).passed);
        for f in m.frames.iter_mut().step_by(4) {
            f.face = None;
        }
        let r = judge(&m, &SPEC, &ChallengeRules::default());
        assert!(r.failures.iter().any(|f| matches!(f, ChallengeFailure::FaceLost { .. })));
    }

    proptest! {
        /// Motion whose whole range stays under the threshold (0.07) never passes, wherever the
        /// baseline lands inside it.
        #[test]
        fn small_motion_never_passes(noise in proptest::collection::vec(-0.034f32..0.034, 10..60), left: bool) {
            let direction = if left { TurnDirection::Left } else { TurnDirection::Right };
            let r = judge(&film(&noise), &ChallengeSpec { direction, ..SPEC }, &ChallengeRules::default());
            prop_assert!(!r.passed);
        }

        /// Never panics on arbitrary measurements.
        #[test]
        fn arbitrary_measurements(yaws in proptest::collection::vec(-1f32..1.0, 0..60), gaps in proptest::collection::vec(any::<bool>(), 60)) {
            let mut m = film(&yaws);
            for (f, gap) in m.frames.iter_mut().zip(gaps) {
                if gap { f.face = None; }
            }
            let _ = judge(&m, &SPEC, &ChallengeRules::default());
        }
    }
}
