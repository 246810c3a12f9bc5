//! A person in front of a camera: their frontal photo placed in the camera frame, posed by a
//! gesture, with the sensor's noise and the small shake of a hand-held or desk camera.

use image::RgbImage;
use veriframe_vision::face::Keypoints;
use veriframe_vision::warp::{Affine, warp};

use crate::Rng;
use crate::face3d::{FaceFrame, place_face, roll_shift, turn_head};
use crate::motion::Pose;

/// What the camera sees of a person: their frontal face, placed, and its keypoints there.
#[derive(Debug, Clone)]
pub struct Subject {
    pub frame: RgbImage,
    pub keypoints: Keypoints,
}

/// Where a face sits in a camera frame of a given size: the eyes' midpoint and their distance,
/// as fractions of the frame's height (a webcam or phone selfie at arm's length).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Framing {
    pub width: u32,
    pub height: u32,
    pub eye_x: f32,
    pub eye_y: f32,
    pub iod: f32,
}

impl Framing {
    /// A 640×480 webcam frame with the face centred and the eyes 64 px apart.
    pub const WEBCAM: Framing = Framing { width: 640, height: 480, eye_x: 0.5, eye_y: 0.42, iod: 64.0 / 480.0 };

    /// The same framing at another frame size (scaled with the frame height).
    pub fn sized(self, width: u32, height: u32) -> Framing {
        Framing { width, height, ..self }
    }

    pub fn iod_px(&self) -> f32 {
        self.iod * self.height as f32
    }
}

impl Subject {
    /// Places the face of `photo` (whose detector keypoints are `kp`) as `framing` says. The
    /// keypoints move with it, so no second detection is needed.
    pub fn place(photo: &RgbImage, kp: &Keypoints, framing: Framing) -> Self {
        let eye_x = framing.eye_x * framing.width as f32;
        let eye_y = framing.eye_y * framing.height as f32;
        let iod = framing.iod_px();
        let frame = place_face(photo, kp, framing.width, framing.height, iod, eye_x, eye_y);
        let face = FaceFrame::new(kp);
        let s = iod / face.iod;
        let map = |p: veriframe_vision::face::Point| {
            veriframe_vision::face::Point::new(eye_x + (p.x - face.cx) * s, eye_y + (p.y - face.cy) * s)
        };
        let keypoints = Keypoints {
            right_eye: map(kp.right_eye),
            left_eye: map(kp.left_eye),
            nose_tip: map(kp.nose_tip),
            mouth: map(kp.mouth),
            right_ear: map(kp.right_ear),
            left_ear: map(kp.left_ear),
        };
        Self { frame, keypoints }
    }

    /// The subject in `pose` (before sensor effects).
    pub fn render(&self, pose: &Pose) -> RgbImage {
        let turned = turn_head(&self.frame, &self.keypoints, pose.yaw_deg, pose.pitch_deg);
        let face = FaceFrame::new(&self.keypoints);
        if pose.roll_deg.abs() < 1e-3 && pose.dx.abs() < 1e-4 && pose.dy.abs() < 1e-4 {
            return turned;
        }
        roll_shift(&turned, face.cx, face.cy + 0.5 * face.iod, pose.roll_deg, pose.dx * face.iod, pose.dy * face.iod)
    }
}

/// The sensor: a sub-pixel shake of up to ±`shake_px` and Gaussian noise of σ = 2 grey levels.
pub fn sensor(frame: &RgbImage, shake_px: f32, rng: &mut Rng) -> RgbImage {
    let (dx, dy) = (rng.range(-shake_px, shake_px), rng.range(-shake_px, shake_px));
    let map = Affine::scale_translate(1.0, dx, dy);
    let mut out = warp(frame, &map, frame.width(), frame.height(), image::Rgb([90, 90, 90]));
    for px in out.pixels_mut() {
        for c in 0..3 {
            px[c] = (f32::from(px[c]) + 2.0 * rng.gauss()).round().clamp(0.0, 255.0) as u8;
        }
    }
    out
}
