//! Liveness: the head-turn challenge (always) and passive PAD (when its models are installed).
//!
//! The challenge is scored from per-frame yaw read off the detector keypoints, relative to a
//! baseline taken from the first frames. What it proves is limited (see
//! `reference/liveness-synthesis.md` in the design notes): it stops still photos and screens,
//! photos moved, scaled or rolled in the image plane, flat prints tilted up to ~45° and photo
//! swaps; it does not stop folded or curved prints, video replays or injected streams. That is
//! why every frame must also be the same person and passive PAD runs when available.

pub mod pad;

use serde::{Deserialize, Serialize};

/// Which way the subject was asked to turn, from the subject's own point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TurnDirection {
    Left,
    Right,
}

impl TurnDirection {
    /// Sign of the yaw change this turn produces in an unmirrored frame.
    pub fn sign(self) -> f32 {
        match self {
            TurnDirection::Left => 1.0,
            TurnDirection::Right => -1.0,
        }
    }

    pub fn opposite(self) -> Self {
        match self {
            TurnDirection::Left => TurnDirection::Right,
            TurnDirection::Right => TurnDirection::Left,
        }
    }
}

impl std::str::FromStr for TurnDirection {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "left" => Ok(TurnDirection::Left),
            "right" => Ok(TurnDirection::Right),
            other => Err(format!("direction must be left or right, not {other:?}")),
        }
    }
}

/// Thresholds of the challenge. Defaults follow the synthetic calibration (T = 0.12, about 22°
/// on an average face with BlazeFace-256); they are not validated on real head-turn video.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ChallengeRules {
    /// Yaw change (inter-eye units) that counts as turned.
    pub turn_threshold: f32,
    /// Returned when the change falls to this fraction of `turn_threshold`.
    pub return_fraction: f32,
    /// Minimum detector score in every frame.
    pub min_detection_score: f32,
    /// Largest step against the direction of travel on either leg.
    pub max_backstep: f32,
    /// Baseline frames may spread at most this much around their median.
    pub baseline_max_spread: f32,
    /// Baseline must be roughly frontal.
    pub baseline_max_abs_yaw: f32,
    /// Largest descriptor distance from the first frame.
    pub identity_threshold: f32,
    /// Largest jump of the face centre between consecutive frames, in face widths.
    pub max_jump_face_widths: f32,
}

impl Default for ChallengeRules {
    fn default() -> Self {
        Self {
            turn_threshold: 0.12,
            return_fraction: 0.5,
            min_detection_score: 0.6,
            max_backstep: 0.05,
            baseline_max_spread: 0.04,
            baseline_max_abs_yaw: 0.20,
            identity_threshold: 0.6,
            max_jump_face_widths: 0.5,
        }
    }
}

/// Fewest frames that can show baseline, outbound, peak, way back and return.
pub const MIN_FRAMES: usize = 5;

/// What the engine measured in one frame.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FrameMeasure {
    /// Faces found (score ≥ the detector's candidate threshold).
    pub faces: usize,
    /// Whether another face at least half as wide as the main one is present.
    pub competing_face: bool,
    /// Main face's detector score (0 without a face).
    pub score: f32,
    pub yaw: f32,
    pub roll_deg: f32,
    pub center_x: f32,
    pub center_y: f32,
    pub face_width: f32,
    /// Descriptor distance to the first frame's face.
    pub identity_distance: Option<f32>,
}

/// Why a challenge failed. Several can apply at once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum ChallengeFailure {
    TooFewFrames { got: usize, need: usize },
    NoFace { frame: usize },
    MultipleFaces { frame: usize },
    LowDetectionScore { frame: usize, score: f32 },
    UnstableBaseline { spread: f32 },
    NotFrontalAtStart { baseline: f32 },
    NotTurned { peak: f32, needed: f32 },
    TurnedWrongWay { peak_opposite: f32 },
    TooFewTurnedFrames { got: usize, need: usize },
    DidNotReturn { last: f32, needed: f32 },
    NoIntermediateFrame { leg: Leg },
    Jerky { frame: usize, step: f32 },
    FaceJumped { frame: usize, face_widths: f32 },
    DifferentPerson { frame: usize, distance: f32 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Leg {
    Outbound,
    Return,
}

/// Per-frame line of the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrameReport {
    pub index: usize,
    pub faces: usize,
    pub score: f32,
    pub yaw: f32,
    /// Yaw change from the baseline, signed so that positive is the requested direction.
    pub delta: f32,
    pub roll_deg: f32,
    pub identity_distance: Option<f32>,
}

/// Outcome of the head-turn challenge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChallengeReport {
    pub direction: TurnDirection,
    pub rules: ChallengeRules,
    pub baseline_yaw: f32,
    pub peak_delta: f32,
    pub turned: bool,
    pub returned: bool,
    pub same_person: bool,
    pub passed: bool,
    pub frames: Vec<FrameReport>,
    pub failures: Vec<ChallengeFailure>,
}

/// Applies the challenge rule to measured frames (pure; the engine measures).
///
/// With Δ = s·(yaw − baseline), s the requested direction's sign:
/// 1. a face in every frame, score ≥ min, no competing face, no jumps;
/// 2. a stable, roughly frontal baseline (median of the first max(1, n/5) frames, at most 3);
/// 3. Δ ≥ T in at least 2 frames (1 when fewer than 10 frames were sent);
/// 4. after the last such frame, Δ ≤ return_fraction·T;
/// 5. no backstep larger than `max_backstep` on either leg;
/// 6. a frame with 0.2·T < Δ < T on each leg (a swapped-in turned photo has none);
/// 7. every frame within `identity_threshold` of the first.
pub fn evaluate_head_turn(
    frames: &[FrameMeasure],
    direction: TurnDirection,
    rules: &ChallengeRules,
) -> ChallengeReport {
    let n = frames.len();
    let mut failures = Vec::new();
    if n < MIN_FRAMES {
        failures.push(ChallengeFailure::TooFewFrames { got: n, need: MIN_FRAMES });
    }
    for (i, f) in frames.iter().enumerate() {
        if f.faces == 0 {
            failures.push(ChallengeFailure::NoFace { frame: i });
        } else {
            if f.competing_face {
                failures.push(ChallengeFailure::MultipleFaces { frame: i });
            }
            if f.score < rules.min_detection_score {
                failures.push(ChallengeFailure::LowDetectionScore { frame: i, score: f.score });
            }
        }
        if i > 0 && f.faces > 0 && frames[i - 1].faces > 0 {
            let prev = &frames[i - 1];
            let jump = (f.center_x - prev.center_x).hypot(f.center_y - prev.center_y)
                / prev.face_width.max(f.face_width).max(1.0);
            if jump > rules.max_jump_face_widths {
                failures.push(ChallengeFailure::FaceJumped { frame: i, face_widths: jump });
            }
        }
        if let Some(d) = f.identity_distance
            && d >= rules.identity_threshold
        {
            failures.push(ChallengeFailure::DifferentPerson { frame: i, distance: d });
        }
    }

    let baseline_count = (n / 5).clamp(1, 3).min(n);
    let mut base: Vec<f32> = frames[..baseline_count].iter().map(|f| f.yaw).collect();
    base.sort_by(f32::total_cmp);
    let baseline = base.get(base.len() / 2).copied().unwrap_or(0.0);
    let spread = base.iter().map(|v| (v - baseline).abs()).fold(0f32, f32::max);
    if spread > rules.baseline_max_spread {
        failures.push(ChallengeFailure::UnstableBaseline { spread });
    }
    if baseline.abs() > rules.baseline_max_abs_yaw {
        failures.push(ChallengeFailure::NotFrontalAtStart { baseline });
    }

    let s = direction.sign();
    let t = rules.turn_threshold;
    let delta: Vec<f32> = frames.iter().map(|f| s * (f.yaw - baseline)).collect();
    let peak = delta.iter().copied().fold(f32::NEG_INFINITY, f32::max).max(0.0);
    let turned_idx: Vec<usize> = (0..n).filter(|&i| delta[i] >= t).collect();
    let need_turned = if n >= 10 { 2 } else { 1 };
    let turned = turned_idx.len() >= need_turned;
    let mut returned = false;
    match (turned_idx.first(), turned_idx.last()) {
        (Some(&first), Some(&last)) => {
            if turned_idx.len() < need_turned {
                failures.push(ChallengeFailure::TooFewTurnedFrames { got: turned_idx.len(), need: need_turned });
            }
            let back = t * rules.return_fraction;
            let return_at = (last + 1..n).find(|&i| delta[i] <= back);
            returned = return_at.is_some();
            if !returned {
                failures
                    .push(ChallengeFailure::DidNotReturn { last: delta.last().copied().unwrap_or(0.0), needed: back });
            }
            let between = |i: &usize| delta[*i] > 0.2 * t && delta[*i] < t;
            if !(baseline_count..first).any(|i| between(&i)) {
                failures.push(ChallengeFailure::NoIntermediateFrame { leg: Leg::Outbound });
            }
            let return_end = return_at.unwrap_or(n);
            if !(last + 1..return_end).any(|i| between(&i)) {
                failures.push(ChallengeFailure::NoIntermediateFrame { leg: Leg::Return });
            }
            for i in 1..=first {
                let step = delta[i] - delta[i - 1];
                if step < -rules.max_backstep {
                    failures.push(ChallengeFailure::Jerky { frame: i, step });
                }
            }
            let return_leg_end = return_at.map_or(n, |r| r + 1);
            for i in last + 1..return_leg_end {
                let step = delta[i] - delta[i - 1];
                if step > rules.max_backstep {
                    failures.push(ChallengeFailure::Jerky { frame: i, step });
                }
            }
        }
        _ => {
            let opposite = delta.iter().map(|d| -d).fold(0f32, f32::max);
            if opposite >= t {
                failures.push(ChallengeFailure::TurnedWrongWay { peak_opposite: opposite });
            } else {
                failures.push(ChallengeFailure::NotTurned { peak, needed: t });
            }
        }
    }

    let same_person =
        frames.iter().all(|f| f.faces > 0 && f.identity_distance.is_none_or(|d| d < rules.identity_threshold));
    let report_frames = frames
        .iter()
        .enumerate()
        .map(|(i, f)| FrameReport {
            index: i,
            faces: f.faces,
            score: f.score,
            yaw: f.yaw,
            delta: delta[i],
            roll_deg: f.roll_deg,
            identity_distance: f.identity_distance,
        })
        .collect();
    ChallengeReport {
        direction,
        rules: *rules,
        baseline_yaw: baseline,
        peak_delta: peak,
        turned,
        returned,
        same_person,
        passed: failures.is_empty(),
        frames: report_frames,
        failures,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn frames(yaws: &[f32]) -> Vec<FrameMeasure> {
        yaws.iter()
            .map(|&yaw| FrameMeasure {
                faces: 1,
                competing_face: false,
                score: 0.9,
                yaw,
                roll_deg: 0.0,
                center_x: 100.0,
                center_y: 100.0,
                face_width: 80.0,
                identity_distance: Some(0.2),
            })
            .collect()
    }

    /// The 15-frame sin² turn of the calibration, peak 0.17 (a 30° turn).
    fn turn(peak: f32) -> Vec<f32> {
        (0..15).map(|k| 0.03 + peak * (std::f32::consts::PI * k as f32 / 14.0).sin().powi(2)).collect()
    }

    #[test]
    fn a_real_turn_passes_only_in_its_direction() {
        let f = frames(&turn(0.17));
        let r = ChallengeRules::default();
        let ok = evaluate_head_turn(&f, TurnDirection::Left, &r);
        assert!(ok.passed, "{:?}", ok.failures);
        assert!((ok.peak_delta - 0.17).abs() < 0.01);
        let wrong = evaluate_head_turn(&f, TurnDirection::Right, &r);
        assert!(!wrong.passed);
        assert!(wrong.failures.iter().any(|x| matches!(x, ChallengeFailure::TurnedWrongWay { .. })));
        // Mirrored capture of a right turn reads like this left turn: the sign matters.
        let neg: Vec<f32> = turn(0.17).iter().map(|v| -v).collect();
        assert!(evaluate_head_turn(&frames(&neg), TurnDirection::Right, &r).passed);
    }

    #[test]
    fn still_photo_fails() {
        let f = frames(&[0.05; 15]);
        let r = evaluate_head_turn(&f, TurnDirection::Left, &ChallengeRules::default());
        assert!(!r.passed && !r.turned);
        assert!(r.failures.iter().any(|x| matches!(x, ChallengeFailure::NotTurned { .. })));
    }

    #[test]
    fn swap_without_intermediate_frames_fails() {
        let mut y = vec![0.0; 5];
        y.extend([0.2; 5]);
        y.extend([0.0; 5]);
        let r = evaluate_head_turn(&frames(&y), TurnDirection::Left, &ChallengeRules::default());
        assert!(!r.passed);
        assert!(r.failures.iter().any(|x| matches!(x, ChallengeFailure::NoIntermediateFrame { .. })));
    }

    #[test]
    fn no_return_fails_and_other_person_fails() {
        let y: Vec<f32> = (0..10).map(|k| k as f32 * 0.03).collect();
        let r = evaluate_head_turn(&frames(&y), TurnDirection::Left, &ChallengeRules::default());
        assert!(r.failures.iter().any(|x| matches!(x, ChallengeFailure::DidNotReturn { .. })));

        let mut f = frames(&turn(0.2));
        f[7].identity_distance = Some(0.8);
        let r = evaluate_head_turn(&f, TurnDirection::Left, &ChallengeRules::default());
        assert!(!r.passed && !r.same_person);
    }

    #[test]
    fn five_frame_challenge() {
        let f = frames(&[0.0, 0.07, 0.2, 0.07, 0.0]);
        assert!(evaluate_head_turn(&f, TurnDirection::Left, &ChallengeRules::default()).passed);
        let short = frames(&[0.0, 0.2, 0.0]);
        let r = evaluate_head_turn(&short, TurnDirection::Left, &ChallengeRules::default());
        assert!(r.failures.contains(&ChallengeFailure::TooFewFrames { got: 3, need: 5 }));
    }

    proptest! {
        /// Without any frame reaching T, nothing passes, whatever the noise.
        #[test]
        fn small_motion_never_passes(noise in proptest::collection::vec(-0.05f32..0.05, 5..30), left: bool) {
            let dir = if left { TurnDirection::Left } else { TurnDirection::Right };
            let r = evaluate_head_turn(&frames(&noise), dir, &ChallengeRules::default());
            prop_assert!(!r.passed);
        }

        /// Never panics on arbitrary measurements.
        #[test]
        fn arbitrary_measurements(yaws in proptest::collection::vec(-1f32..1.0, 0..20), faces in proptest::collection::vec(0usize..3, 20)) {
            let mut f = frames(&yaws);
            for (m, n) in f.iter_mut().zip(faces) { m.faces = n; }
            let _ = evaluate_head_turn(&f, TurnDirection::Left, &ChallengeRules::default());
        }
    }
}
