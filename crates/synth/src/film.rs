//! Filmed head-turn attempts, as the hosted page uploads them: a genuine person turning their
//! head as asked, or an attack (a print held still, moved about or tilted to fake a turn, a
//! phone replaying a genuine turn), sampled and encoded the page's way.

use image::RgbImage;

use crate::Rng;
use crate::attack::{PrintPose, phone_replay, print, room};
use crate::camera::{Framing, Subject, sensor};
use crate::face3d::roll_shift;
use crate::motion::{Gesture, Pose};
use crate::sampling::FrameSampling;

/// The page's timing and sampling of one head-turn attempt.
#[derive(Debug, Clone, Copy)]
pub struct Capture {
    pub interval_ms: u32,
    /// Frontal frames before the prompt (the server picks this per challenge).
    pub prompt_at_ms: u32,
    /// How long the page keeps capturing after the prompt.
    pub after_prompt_ms: u32,
    pub sampling: FrameSampling,
}

impl Capture {
    /// Capture instants (ms from the first frame), with the few milliseconds of jitter a
    /// browser's timers have.
    pub fn instants(&self, rng: &mut Rng) -> Vec<u32> {
        let end = self.prompt_at_ms + self.after_prompt_ms;
        (0..)
            .map(|k| k * self.interval_ms)
            .take_while(|t| *t <= end)
            .map(|t| if t == 0 { 0 } else { (t as f32 + rng.range(-8.0, 8.0)).max(1.0) as u32 })
            .collect()
    }
}

/// What stands in front of the camera.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Act {
    /// The person turns their head as asked.
    Genuine,
    /// A print of the person's frontal photo, held (with a hand's small shake).
    StillPrint,
    /// A print tilted about its vertical axis up to `max_tilt_deg` and back, in the asked
    /// direction's sense, seen through a lens of focal length `focal_px`.
    TiltedPrint { max_tilt_deg: f32, focal_px: f32 },
    /// A print moved about in front of the camera: shifted sideways, brought closer and away,
    /// rolled in its plane (what a naive attacker does instead of a turn).
    MovedPrint,
    /// A phone screen replaying a genuine turn toward the asked side.
    PhoneReplay,
}

impl Act {
    pub fn name(&self) -> String {
        match self {
            Act::Genuine => "genuine".into(),
            Act::StillPrint => "still print".into(),
            Act::TiltedPrint { max_tilt_deg, focal_px } => {
                format!("print tilted {max_tilt_deg:.0}°, f {focal_px:.0} px")
            }
            Act::MovedPrint => "print moved, scaled, rolled".into(),
            Act::PhoneReplay => "phone replay".into(),
        }
    }

    /// The short name `--only` takes.
    pub fn tag(&self) -> &'static str {
        match self {
            Act::Genuine => "genuine",
            Act::StillPrint => "still",
            Act::TiltedPrint { .. } => "tilt",
            Act::MovedPrint => "moved",
            Act::PhoneReplay => "replay",
        }
    }
}

/// One recorded attempt: the uploads, their instants, and the true yaw when a head turned.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub frames: Vec<Vec<u8>>,
    /// The first frame, sharper (the page's key frame).
    pub key: Vec<u8>,
    pub at_ms: Vec<u32>,
    pub true_yaw_deg: Vec<f32>,
    pub gesture: Gesture,
}

/// The camera's view: portrait 360×480, which is what the page keeps of a 640×480 webcam
/// frame; rendering only that keeps the lab fast without changing what the page sends.
pub const CAMERA: Framing = Framing { width: 360, height: 480, eye_x: 0.5, eye_y: 0.42, iod: 64.0 / 480.0 };

/// Plays `act` for a challenge asking for `direction` (+1 left, −1 right), with the timing of
/// a natural gesture drawn from `rng`.
pub fn record(
    subject: &Subject,
    act: Act,
    direction: f32,
    capture: &Capture,
    key: &FrameSampling,
    rng: &mut Rng,
) -> Attempt {
    let gesture = Gesture::natural(rng, direction);
    record_gesture(subject, act, gesture, capture, key, rng)
}

/// Plays `act` with the timing (and, for a genuine turn, the motion) of `gesture`.
pub fn record_gesture(
    subject: &Subject,
    act: Act,
    gesture: Gesture,
    capture: &Capture,
    key: &FrameSampling,
    rng: &mut Rng,
) -> Attempt {
    let direction = gesture.direction;
    let instants = capture.instants(rng);
    let background = room(CAMERA.width, CAMERA.height, rng);
    let pivot = (subject.keypoints.nose_tip.x, subject.keypoints.nose_tip.y);
    let mut frames = Vec::with_capacity(instants.len());
    let mut key_frame = Vec::new();
    let mut truth = Vec::with_capacity(instants.len());
    for &t in &instants {
        let since_prompt = t as f32 - capture.prompt_at_ms as f32;
        let pose = gesture.pose_at(since_prompt);
        let (frame, yaw) = match act {
            Act::Genuine => (subject.render(&pose), pose.yaw_deg),
            Act::StillPrint => {
                let held = PrintPose { tilt_deg: rng.range(-1.5, 1.5), focal_px: 500.0, scale: 0.9, pivot };
                (print(&subject.frame, &background, &held), 0.0)
            }
            Act::TiltedPrint { max_tilt_deg, focal_px } => {
                // The attacker follows the same smooth out-hold-back timing, to the print's limit.
                let fraction = gesture.turn_deg(since_prompt) / gesture.amplitude_deg;
                let tilt = direction * max_tilt_deg * fraction;
                let held = PrintPose { tilt_deg: tilt, focal_px, scale: 0.9, pivot };
                (print(&subject.frame, &background, &held), 0.0)
            }
            Act::MovedPrint => {
                let fraction = gesture.turn_deg(since_prompt) / gesture.amplitude_deg;
                let held = PrintPose { tilt_deg: 0.0, focal_px: 500.0, scale: 0.9 + 0.25 * fraction, pivot };
                let printed = print(&subject.frame, &background, &held);
                let (cx, cy) = (CAMERA.width as f32 / 2.0, CAMERA.height as f32 / 2.0);
                let shift = direction * 40.0 * fraction;
                (roll_shift(&printed, cx, cy, direction * 20.0 * fraction, shift, 0.3 * shift.abs()), 0.0)
            }
            Act::PhoneReplay => {
                let played = subject.render(&Pose { yaw_deg: pose.yaw_deg, ..pose });
                let (w, h) = (CAMERA.width as f32, CAMERA.height as f32);
                (phone_replay(&played, &background, (0.12 * w, 0.08 * h, 0.76 * w, 0.84 * h), rng), pose.yaw_deg)
            }
        };
        let seen = sensor(&frame, 0.8, rng);
        if frames.is_empty() {
            key_frame = key.encode(&seen);
        }
        frames.push(capture.sampling.encode(&seen));
        truth.push(yaw);
    }
    Attempt { frames, key: key_frame, at_ms: instants, true_yaw_deg: truth, gesture }
}

/// Places a frontal photo's face in the camera view.
pub fn subject(photo: &RgbImage, keypoints: &veriframe_vision::face::Keypoints) -> Subject {
    Subject::place(photo, keypoints, CAMERA)
}

/// Every act the lab plays: the genuine turn and each attack, prints tilted to 30, 45 and 60°
/// through a normal and a wide-angle (~100° diagonal) lens.
pub fn acts() -> Vec<Act> {
    let mut acts = vec![Act::Genuine, Act::StillPrint, Act::MovedPrint, Act::PhoneReplay];
    for max_tilt_deg in [30.0, 45.0, 60.0] {
        for focal_px in [500.0, 336.0] {
            acts.push(Act::TiltedPrint { max_tilt_deg, focal_px });
        }
    }
    acts
}
