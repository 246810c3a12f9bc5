//! Face quality measures for scores and capture feedback: size, brightness, sharpness, and head
//! pose (yaw and roll) from the detector keypoints.

use image::RgbImage;
use serde::{Deserialize, Serialize};

use super::blazeface::{Detection, Keypoints};
use super::engine::FaceAnalysis;

/// Head pose read from the detector's keypoints.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Pose {
    /// Yaw proxy: the nose tip's offset from the midpoint of eye-centre and mouth, along the eye
    /// axis, in inter-eye distances. Positive when the subject turns to their own left (nose
    /// towards image +x in an unmirrored frame). Frontal faces sit within about ±0.15; BlazeFace
    /// responds with roughly 0.30·tan(yaw).
    pub yaw: f32,
    /// Rough yaw in degrees from `yaw` (atan(yaw / 0.30)); for display, not for decisions.
    pub yaw_deg_estimate: f32,
    /// In-plane rotation of the eye line, degrees, positive clockwise in image coordinates.
    pub roll_deg: f32,
}

/// BlazeFace's damped response: Δyaw ≈ 0.30·tan θ (liveness-synthesis calibration).
const YAW_RESPONSE: f32 = 0.30;

impl Pose {
    pub fn from_keypoints(kp: &Keypoints) -> Option<Pose> {
        let d = kp.inter_eye_distance();
        if d.is_nan() || d <= 1e-3 {
            return None;
        }
        let ex = ((kp.left_eye.x - kp.right_eye.x) / d, (kp.left_eye.y - kp.right_eye.y) / d);
        let reference = kp.right_eye.mid(kp.left_eye).mid(kp.mouth);
        let yaw = ((kp.nose_tip.x - reference.x) * ex.0 + (kp.nose_tip.y - reference.y) * ex.1) / d;
        let roll_deg = ex.1.atan2(ex.0).to_degrees();
        yaw.is_finite().then(|| Pose { yaw, yaw_deg_estimate: (yaw / YAW_RESPONSE).atan().to_degrees(), roll_deg })
    }
}

/// Measures of one detected face.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FaceQuality {
    /// Detector confidence.
    pub score: f32,
    /// Face box width in source pixels.
    pub face_width_px: f32,
    /// Face box width over image width.
    pub face_width_ratio: f32,
    /// Distance between the eyes in source pixels (below ~30 the descriptor degrades).
    pub inter_eye_px: f32,
    /// Mean luma of the face (0–255), on the aligned chip.
    pub brightness: f32,
    /// Variance of the Laplacian of the aligned chip's luma; below ~30 the face is blurred or
    /// upscaled from very few pixels.
    pub sharpness: f32,
    pub pose: Pose,
}

impl FaceQuality {
    /// `chip` is the 150×150 aligned chip of `det` in an image `image_width` wide.
    pub fn measure(det: &Detection, chip: &RgbImage, image_width: u32) -> Option<FaceQuality> {
        let pose = Pose::from_keypoints(&det.keypoints)?;
        let (brightness, sharpness) = chip_luma_stats(chip);
        Some(FaceQuality {
            score: det.score,
            face_width_px: det.bbox.width,
            face_width_ratio: det.bbox.width / image_width.max(1) as f32,
            inter_eye_px: det.keypoints.inter_eye_distance(),
            brightness,
            sharpness,
            pose,
        })
    }
}

/// Mean luma and Laplacian variance over the chip's central face region (the borders of a
/// chip are background or black fill).
pub fn chip_luma_stats(chip: &RgbImage) -> (f32, f32) {
    let (w, h) = chip.dimensions();
    let luma = |x: u32, y: u32| {
        let p = chip.get_pixel(x, y);
        0.299 * f32::from(p[0]) + 0.587 * f32::from(p[1]) + 0.114 * f32::from(p[2])
    };
    let (x0, x1) = (w / 5, w - w / 5);
    let (y0, y1) = (h / 5, h - h / 8);
    if x1 <= x0 + 2 || y1 <= y0 + 2 {
        return (0.0, 0.0);
    }
    let mut sum = 0f64;
    let mut n = 0f64;
    let (mut lap_sum, mut lap_sq) = (0f64, 0f64);
    for y in y0..y1 {
        for x in x0..x1 {
            let c = luma(x, y);
            sum += f64::from(c);
            n += 1.0;
            let lap = luma(x - 1, y) + luma(x + 1, y) + luma(x, y - 1) + luma(x, y + 1) - 4.0 * c;
            lap_sum += f64::from(lap);
            lap_sq += f64::from(lap) * f64::from(lap);
        }
    }
    let mean_lap = lap_sum / n;
    ((sum / n) as f32, (lap_sq / n - mean_lap * mean_lap) as f32)
}

/// What a person should fix in a selfie capture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaptureIssue {
    NoFace,
    MultipleFaces,
    /// Too few pixels across the face for a reliable descriptor: come closer.
    FaceTooSmall,
    /// The face fills (or leaves) the frame: move back.
    FaceTooClose,
    TooDark,
    TooBright,
    Blurry,
    /// Look at the camera.
    TurnedAway,
    /// Hold the head (or phone) upright.
    Tilted,
}

/// Limits for selfie capture feedback. Sharpness: a 600 px portrait (eyes ~90 px apart) reads
/// 350–700 sharp, ~90 after a σ = 1 px blur and ~20 after σ = 2 px; a face upscaled from eyes
/// ~23 px apart reads 15–25.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CaptureThresholds {
    pub min_inter_eye_px: f32,
    pub max_face_width_ratio: f32,
    pub min_brightness: f32,
    pub max_brightness: f32,
    pub min_sharpness: f32,
    pub max_abs_yaw: f32,
    pub max_abs_roll_deg: f32,
}

impl Default for CaptureThresholds {
    fn default() -> Self {
        Self {
            min_inter_eye_px: 40.0,
            max_face_width_ratio: 0.85,
            min_brightness: 50.0,
            max_brightness: 215.0,
            min_sharpness: 40.0,
            max_abs_yaw: 0.20,
            max_abs_roll_deg: 25.0,
        }
    }
}

/// Issues with a selfie, most important first; empty when it is fine.
pub fn selfie_issues(analysis: &FaceAnalysis, t: &CaptureThresholds) -> Vec<CaptureIssue> {
    let Some(face) = &analysis.primary else {
        return vec![CaptureIssue::NoFace];
    };
    let mut issues = Vec::new();
    let main = face.detection.bbox.width;
    if analysis.faces.iter().filter(|d| d.bbox.width >= 0.5 * main).count() > 1 {
        issues.push(CaptureIssue::MultipleFaces);
    }
    let q = &face.quality;
    if q.inter_eye_px < t.min_inter_eye_px {
        issues.push(CaptureIssue::FaceTooSmall);
    }
    if q.face_width_ratio > t.max_face_width_ratio {
        issues.push(CaptureIssue::FaceTooClose);
    }
    if q.brightness < t.min_brightness {
        issues.push(CaptureIssue::TooDark);
    }
    if q.brightness > t.max_brightness {
        issues.push(CaptureIssue::TooBright);
    }
    if q.sharpness < t.min_sharpness {
        issues.push(CaptureIssue::Blurry);
    }
    if q.pose.yaw.abs() > t.max_abs_yaw {
        issues.push(CaptureIssue::TurnedAway);
    }
    if q.pose.roll_deg.abs() > t.max_abs_roll_deg {
        issues.push(CaptureIssue::Tilted);
    }
    issues
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::face::blazeface::Point;
    use image::Rgb;

    fn frontal() -> Keypoints {
        Keypoints {
            right_eye: Point::new(100.0, 100.0),
            left_eye: Point::new(200.0, 100.0),
            nose_tip: Point::new(150.0, 155.0),
            mouth: Point::new(150.0, 205.0),
            ..Keypoints::default()
        }
    }

    #[test]
    fn frontal_face_has_zero_yaw_and_roll() {
        let p = Pose::from_keypoints(&frontal()).unwrap();
        assert!(p.yaw.abs() < 1e-6 && p.roll_deg.abs() < 1e-6);
    }

    #[test]
    fn nose_towards_left_eye_is_positive_and_mirroring_flips_it() {
        let mut kp = frontal();
        kp.nose_tip.x += 20.0;
        let p = Pose::from_keypoints(&kp).unwrap();
        assert!((p.yaw - 0.2).abs() < 1e-6);
        // Mirror horizontally: the detector labels eyes by image side, so they swap.
        let m = |pt: Point| Point::new(300.0 - pt.x, pt.y);
        let mirrored = Keypoints {
            right_eye: m(kp.left_eye),
            left_eye: m(kp.right_eye),
            nose_tip: m(kp.nose_tip),
            mouth: m(kp.mouth),
            ..kp
        };
        let q = Pose::from_keypoints(&mirrored).unwrap();
        assert!((q.yaw + 0.2).abs() < 1e-6);
    }

    #[test]
    fn yaw_is_invariant_to_in_plane_rotation() {
        let mut kp = frontal();
        kp.nose_tip.x += 15.0;
        let base = Pose::from_keypoints(&kp).unwrap();
        let (s, c) = 30f32.to_radians().sin_cos();
        let r = |p: Point| Point::new(c * p.x - s * p.y, s * p.x + c * p.y);
        let rolled = Keypoints {
            right_eye: r(kp.right_eye),
            left_eye: r(kp.left_eye),
            nose_tip: r(kp.nose_tip),
            mouth: r(kp.mouth),
            ..kp
        };
        let p = Pose::from_keypoints(&rolled).unwrap();
        assert!((p.yaw - base.yaw).abs() < 1e-5);
        assert!((p.roll_deg - 30.0).abs() < 1e-3);
    }

    #[test]
    fn sharpness_separates_edges_from_flat() {
        let flat = RgbImage::from_pixel(150, 150, Rgb([120, 120, 120]));
        let stripes = RgbImage::from_fn(150, 150, |x, _| if x % 4 < 2 { Rgb([200; 3]) } else { Rgb([40; 3]) });
        let (b, s) = chip_luma_stats(&flat);
        assert!((b - 120.0).abs() < 0.5 && s < 1e-3);
        assert!(chip_luma_stats(&stripes).1 > 1000.0);
    }
}
