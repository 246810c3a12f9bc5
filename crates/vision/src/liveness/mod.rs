//! Liveness: the head-turn challenge (always) and passive PAD (when its models are installed).
//!
//! The page films the whole gesture — a still start, the prompt, the turn out and back — at ten
//! or more frames a second, and the server judges the trajectory of the yaw read off the
//! detector's keypoints, relative to the start. What that proves is limited (see
//! `reference/liveness-synthesis.md` in the design notes): it stops still photos and screens,
//! photos moved, scaled or rolled in the image plane, prints tilted to fake a turn and photo
//! swaps; it does not stop folded or curved prints, video replays or injected streams. That is
//! why the face must stay the same person throughout and passive PAD runs when available.
//!
//! [`judge`] is the one function that decides. It is pure: the engine measures the frames
//! ([`crate::face::FaceEngine::measure_turn`]) and the judge reads only those measures.

mod judge;
pub mod pad;

pub use judge::judge;
use serde::{Deserialize, Serialize};

/// Which way the subject was asked to turn, from the subject's own point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TurnDirection {
    Left,
    Right,
}

impl TurnDirection {
    pub const ALL: [TurnDirection; 2] = [TurnDirection::Left, TurnDirection::Right];

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

    pub fn as_str(self) -> &'static str {
        match self {
            TurnDirection::Left => "left",
            TurnDirection::Right => "right",
        }
    }

    /// Parses `left` or `right` (the wire and database spelling).
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|d| d.as_str() == s)
    }
}

/// What was asked of the person, and when: the frames' instants are measured from the first
/// frame, and the prompt (the arrow) appeared `prompt_at_ms` after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChallengeSpec {
    pub direction: TurnDirection,
    pub prompt_at_ms: u32,
    /// How long the page filmed after the prompt.
    pub after_prompt_ms: u32,
    /// The page's interval between frames.
    pub interval_ms: u32,
}

/// Thresholds of the challenge, calibrated on synthetic natural turns of the London set with
/// `veriframe-eval liveness` (numbers and reasoning in BENCHMARKS.md). Not yet validated on
/// recorded head-turn video.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ChallengeRules {
    /// Yaw change (inter-eye units) toward the asked side that counts as turned.
    pub turn_threshold: f32,
    /// Back near frontal: the yaw change falls to this.
    pub return_threshold: f32,
    /// Frames in which the change must reach `turn_threshold`.
    pub min_turned_frames: usize,
    /// Fewest frames before the prompt (the still start the turn is measured from).
    pub min_baseline_frames: usize,
    /// The start may spread at most this much around its median, ...
    pub baseline_max_spread: f32,
    /// ... and must be roughly frontal.
    pub baseline_max_abs_yaw: f32,
    /// Largest change of yaw between frames 100 ms apart: a head does not jump.
    pub max_step_per_100ms: f32,
    /// Largest share of frames in which the face may be missing (motion blur).
    pub max_missing_share: f32,
    /// Lowest frame rate the capture may have had.
    pub min_fps: f32,
    /// Minimum detector score for a frame to count as showing the face.
    pub min_detection_score: f32,
    /// Largest descriptor distance of the final (frontal again) face from the start's.
    pub identity_threshold: f32,
    /// Largest descriptor distance of the most turned faces from the start's: a face seen at
    /// 30–45° and at a fifth of the start's resolution reads farther from it (up to ~0.55 on
    /// genuine turns) without being anyone else.
    pub turned_identity_threshold: f32,
    /// How much horizontal foreshortening without parallax counts against a turn: a print
    /// tilted away narrows the face (eye-to-mouth over inter-eye grows) while the nose barely
    /// moves across it; a head that turns moves the nose first. The yaw change that counts is
    /// reduced by this factor times the growth of that ratio.
    pub foreshortening_weight: f32,
    /// Largest jump of the face centre between consecutive frames, in face widths.
    pub max_jump_face_widths: f32,
}

impl Default for ChallengeRules {
    fn default() -> Self {
        Self {
            turn_threshold: 0.07,
            return_threshold: 0.045,
            min_turned_frames: 1,
            min_baseline_frames: 3,
            baseline_max_spread: 0.05,
            baseline_max_abs_yaw: 0.25,
            max_step_per_100ms: 0.3,
            max_missing_share: 0.1,
            min_fps: 8.0,
            min_detection_score: 0.5,
            identity_threshold: 0.6,
            turned_identity_threshold: 0.7,
            foreshortening_weight: 0.2,
            max_jump_face_widths: 0.5,
        }
    }
}

/// The main face in one frame.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FaceTrack {
    pub score: f32,
    /// Yaw proxy (see `face::Pose`), already corrected for a mirrored capture.
    pub yaw: f32,
    pub roll_deg: f32,
    pub center_x: f32,
    pub center_y: f32,
    pub face_width: f32,
    /// Inter-eye distance and eye-to-mouth distance, pixels (foreshortening).
    pub inter_eye: f32,
    pub eye_mouth: f32,
}

/// What the engine measured in one frame.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FrameMeasure {
    /// Milliseconds after the first frame.
    pub at_ms: u32,
    /// Faces found at the detector's candidate threshold.
    pub faces: usize,
    /// Another face at least half as wide as the main one.
    pub competing_face: bool,
    /// The largest face, when one was found.
    pub face: Option<FaceTrack>,
}

/// A descriptor comparison between a frame's face and the start's.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct IdentityCheck {
    pub frame: usize,
    pub distance: f32,
    /// The most turned face (judged against `turned_identity_threshold`), or the final one.
    #[serde(default)]
    pub turned: bool,
}

/// Everything the judge reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct TurnMeasures {
    pub frames: Vec<FrameMeasure>,
    /// The turned and final faces compared with the start's.
    pub identity: Vec<IdentityCheck>,
}

/// Why a challenge failed. Several can apply at once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum ChallengeFailure {
    /// Too few frames, too slow a frame rate, or a capture cut short.
    CaptureIncomplete {
        frames: usize,
        fps: f32,
        covered_ms: u32,
        needed_ms: u32,
    },
    /// The face was missing in too many frames, or around the turn.
    FaceLost {
        missing: usize,
        of: usize,
    },
    MultipleFaces {
        frames: usize,
    },
    /// The start was not a still, roughly frontal face.
    NotFrontalAtStart {
        baseline: f32,
        spread: f32,
    },
    TurnTooSmall {
        peak: f32,
        needed: f32,
    },
    TurnedWrongWay {
        peak_opposite: f32,
    },
    DidNotReturn {
        last: f32,
        needed: f32,
    },
    /// The yaw jumped between frames or skipped the way between frontal and turned: not a
    /// head moving (a swapped photo, a cut in the stream).
    ImplausibleMotion {
        frame: usize,
        step: f32,
    },
    FaceJumped {
        frame: usize,
        face_widths: f32,
    },
    DifferentPerson {
        frame: usize,
        distance: f32,
    },
}

/// Outcome of the head-turn challenge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChallengeReport {
    pub direction: TurnDirection,
    pub rules: ChallengeRules,
    pub baseline_yaw: f32,
    /// Largest yaw change toward the asked side.
    pub peak_delta: f32,
    /// Yaw change per frame (`None` without a face), signed so that positive is the asked side.
    pub deltas: Vec<Option<f32>>,
    pub turned: bool,
    pub returned: bool,
    pub same_person: bool,
    pub passed: bool,
    pub failures: Vec<ChallengeFailure>,
}
