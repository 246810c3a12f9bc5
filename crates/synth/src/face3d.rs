//! A head turned in 3D, rendered from one frontal photo.
//!
//! Every pixel near the face gets a depth from an analytic average-adult face (an ellipsoidal
//! shell whose slope is capped, eye sockets, a nose ridge), placed on the face by the detector's
//! eye and mouth keypoints and measured in inter-eye distances. Turning the head rotates that
//! surface about a vertical axis behind the face (yaw) or a horizontal one (a nod), and the
//! frame is re-rendered by orthographic projection. Because the axis is parallel to the image
//! rows (yaw) or columns (nod), every row (column) maps onto itself, so each is a 1-D problem:
//! rasterise the forward map of the line, keep the nearest surface per output pixel (the nose
//! hides the far cheek), sample the source line linearly. Far from the head a weight fades the
//! rotation out, so the background stays put.

use image::{Rgb, RgbImage};
use veriframe_vision::face::Keypoints;
use veriframe_vision::warp::{Affine, warp};

/// Depth of the face surface towards the camera, in inter-eye units, about 0 at the nose tip.
/// `u` runs along the eye axis (image right), `v` down the face, both in inter-eye units from
/// the midpoint of the eyes.
pub fn face_depth(u: f32, v: f32) -> f32 {
    // Shell: half-axes A (across) and B (down) centred at VC, curvature C; beyond the point where
    // its slope reaches SMAX it continues as a cone, which keeps the near cheek from smearing.
    const Z1: f32 = 0.338;
    const C: f32 = 1.226;
    const A: f32 = 1.206;
    const B: f32 = 3.859;
    const VC: f32 = -0.329;
    const SMAX: f32 = 2.0;
    // Eye sockets: depth E, spread SE across and SEV down.
    const E: f32 = 0.20;
    const SE: f32 = 0.328;
    const SEV: f32 = 0.17;
    // Nose: height H, width SN, rising from VN0 to its tip at VT, falling off with SD below.
    const H: f32 = 0.381;
    const SN: f32 = 0.131;
    const VN0: f32 = 0.006;
    const VT: f32 = 0.40;
    const SD: f32 = 0.389;
    let rho = ((u / A).powi(2) + ((v - VC) / B).powi(2)).sqrt();
    let slope = SMAX * A;
    let rc = slope / (C * C + slope * slope).sqrt();
    let shell = |r: f32| -C * (1.0 - (1.0 - r * r).max(0.0).sqrt());
    let g = if rho <= rc { shell(rho) } else { shell(rc) - slope * (rho - rc) };
    let eye = -E * (-((u.abs() - 0.5).powi(2) / (2.0 * SE * SE) + v * v / (2.0 * SEV * SEV))).exp();
    let rise =
        if v <= VT { ((v - VN0) / (VT - VN0)).clamp(0.0, 1.0) } else { (-(v - VT).powi(2) / (2.0 * SD * SD)).exp() };
    let nose = H * (-u * u / (2.0 * SN * SN)).exp() * rise;
    -Z1 + g + eye + nose
}

/// The face's own frame in an image, from its keypoints.
#[derive(Debug, Clone, Copy)]
pub struct FaceFrame {
    /// Midpoint of the eyes.
    pub cx: f32,
    pub cy: f32,
    /// Inter-eye distance in pixels.
    pub iod: f32,
    /// Unit vector along the eye axis (towards the subject's left eye, image right).
    ex: (f32, f32),
    /// Vertical stretch of this face against the template (eye-to-mouth distance).
    stretch: f32,
}

impl FaceFrame {
    pub fn new(kp: &Keypoints) -> Self {
        let (re, le, m) = (kp.right_eye, kp.left_eye, kp.mouth);
        let (cx, cy) = ((re.x + le.x) / 2.0, (re.y + le.y) / 2.0);
        let iod = (le.x - re.x).hypot(le.y - re.y).max(1.0);
        let ex = ((le.x - re.x) / iod, (le.y - re.y) / iod);
        let stretch = ((m.x - cx) * -ex.1 + (m.y - cy) * ex.0) / (1.07 * iod);
        Self { cx, cy, iod, ex, stretch: stretch.max(0.3) }
    }

    /// Face coordinates (u, v) of image point (x, y).
    pub fn uv(&self, x: f32, y: f32) -> (f32, f32) {
        let (qx, qy) = (x - self.cx, y - self.cy);
        let u = (qx * self.ex.0 + qy * self.ex.1) / self.iod;
        let v = (qx * -self.ex.1 + qy * self.ex.0) / (self.iod * self.stretch);
        (u, v)
    }

    /// 1 on the head (hair and ears included), fading to 0 in the background.
    fn weight(u: f32, v: f32) -> f32 {
        let r = ((u / 1.45).powi(2) + ((v - 0.05) / 2.10).powi(2)).sqrt();
        let t = ((1.35 - r) / 0.35).clamp(0.0, 1.0);
        t * t * (3.0 - 2.0 * t)
    }
}

/// How far behind the nose tip the rotation axes sit (about the ear plane), in inter-eye units.
const AXIS_DEPTH: f32 = 1.68;
/// The nod axis sits this far below the eyes (roughly ear level), in inter-eye units.
const NOD_AXIS_DOWN: f32 = 0.3;

/// Renders `frame` with the head turned: `yaw_deg > 0` turns the subject to their own left
/// (nose towards image +x in an unmirrored frame), `pitch_deg > 0` nods down. `kp` are the
/// frontal frame's detector keypoints.
pub fn turn_head(frame: &RgbImage, kp: &Keypoints, yaw_deg: f32, pitch_deg: f32) -> RgbImage {
    let face = FaceFrame::new(kp);
    let mut out =
        if yaw_deg.abs() > 1e-3 { rotate(frame, &face, yaw_deg.to_radians(), Axis::Vertical) } else { frame.clone() };
    if pitch_deg.abs() > 1e-3 {
        out = rotate(&out, &face, pitch_deg.to_radians(), Axis::Horizontal);
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Axis {
    /// Yaw: lines are image rows.
    Vertical,
    /// Nod: lines are image columns.
    Horizontal,
}

fn rotate(frame: &RgbImage, face: &FaceFrame, theta: f32, axis: Axis) -> RgbImage {
    let (w, h) = frame.dimensions();
    let (lines, len) = match axis {
        Axis::Vertical => (h, w),
        Axis::Horizontal => (w, h),
    };
    let d = face.iod;
    let za = -AXIS_DEPTH * d;
    let pivot = match axis {
        Axis::Vertical => face.cx,
        Axis::Horizontal => face.cy + NOD_AXIS_DOWN * d,
    };
    let mut out = RgbImage::new(w, h);
    let mut pos = vec![0f32; len as usize];
    let mut depth = vec![0f32; len as usize];
    let mut src = vec![0f32; len as usize];
    let mut zbuf = vec![0f32; len as usize];
    for line in 0..lines {
        for i in 0..len {
            let (x, y) = match axis {
                Axis::Vertical => (i as f32, line as f32),
                Axis::Horizontal => (line as f32, i as f32),
            };
            let (u, v) = face.uv(x, y);
            let weight = FaceFrame::weight(u, v);
            if weight <= 0.0 {
                pos[i as usize] = i as f32;
                // Far behind anything on the head, but finite so segments interpolate.
                depth[i as usize] = -1e9;
            } else {
                let phi = weight * theta;
                let z = face_depth(u, v) * d - za;
                let along = i as f32 - pivot;
                pos[i as usize] = pivot + along * phi.cos() + z * phi.sin();
                depth[i as usize] = -along * phi.sin() + z * phi.cos();
            }
        }
        project_line(&pos, &depth, &mut src, &mut zbuf);
        for i in 0..len {
            let s = src[i as usize].clamp(0.0, (len - 1) as f32);
            let i0 = s.floor() as u32;
            let i1 = (i0 + 1).min(len - 1);
            let f = s - i0 as f32;
            let at = |k: u32| match axis {
                Axis::Vertical => *frame.get_pixel(k, line),
                Axis::Horizontal => *frame.get_pixel(line, k),
            };
            let (p0, p1) = (at(i0), at(i1));
            let px = Rgb(std::array::from_fn(|c| (f32::from(p0[c]) * (1.0 - f) + f32::from(p1[c]) * f).round() as u8));
            match axis {
                Axis::Vertical => out.put_pixel(i, line, px),
                Axis::Horizontal => out.put_pixel(line, i, px),
            }
        }
    }
    out
}

/// For one line: given where each source sample lands (`pos`) and its depth, finds for each
/// output position the (fractional) source sample of the nearest surface. Output positions no
/// segment covers keep their own source sample.
fn project_line(pos: &[f32], depth: &[f32], src: &mut [f32], zbuf: &mut [f32]) {
    let n = pos.len();
    zbuf.fill(f32::NEG_INFINITY);
    for (i, s) in src.iter_mut().enumerate() {
        *s = i as f32;
    }
    for i in 0..n.saturating_sub(1) {
        let (a, b) = (pos[i], pos[i + 1]);
        let lo = a.min(b).ceil().max(0.0);
        let hi = a.max(b).floor().min(n as f32 - 1.0);
        if hi < lo {
            continue;
        }
        for o in lo as usize..=hi as usize {
            let t = if a == b { 0.0 } else { (o as f32 - a) / (b - a) };
            let z = depth[i] + t * (depth[i + 1] - depth[i]);
            if z > zbuf[o] {
                zbuf[o] = z;
                src[o] = i as f32 + t;
            }
        }
    }
}

/// Places the face of `photo` in a `width`×`height` frame with the eyes `iod` pixels apart and
/// their midpoint at (`eye_x`, `eye_y`), keeping the photo's own roll. Outside the photo the
/// frame is neutral grey.
pub fn place_face(
    photo: &RgbImage,
    kp: &Keypoints,
    width: u32,
    height: u32,
    iod: f32,
    eye_x: f32,
    eye_y: f32,
) -> RgbImage {
    let face = FaceFrame::new(kp);
    let step = face.iod / iod;
    let map = Affine::scale_translate(step, face.cx - eye_x * step, face.cy - eye_y * step);
    warp(photo, &map, width, height, Rgb([90, 90, 90]))
}

/// Rotates `frame` in its own plane by `deg` (clockwise in image coordinates) about (cx, cy) and
/// shifts it by (dx, dy).
pub fn roll_shift(frame: &RgbImage, cx: f32, cy: f32, deg: f32, dx: f32, dy: f32) -> RgbImage {
    let (s, c) = deg.to_radians().sin_cos();
    // Output → source: undo the shift, then rotate by −deg about the centre.
    let (ox, oy) = (cx + dx, cy + dy);
    let map = Affine { a: c, b: s, c: cx - c * ox - s * oy, d: -s, e: c, f: cy + s * ox - c * oy };
    warp(frame, &map, frame.width(), frame.height(), Rgb([90, 90, 90]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_model_meets_its_checkpoints() {
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

    #[test]
    fn a_line_keeps_the_nearest_surface() {
        // Samples 2..=4 fold back over 0..2 in front of them: the front wins where they overlap.
        let pos = [0.0, 1.0, 2.0, 1.0, 0.5];
        let depth = [0.0, 0.0, 0.0, 5.0, 5.0];
        let (mut src, mut zbuf) = ([0.0; 5], [0.0; 5]);
        project_line(&pos, &depth, &mut src, &mut zbuf);
        assert!((src[1] - 3.0).abs() < 1e-6, "{src:?}");
        assert_eq!(src[4], 4.0, "uncovered positions keep their own sample");
    }
}
