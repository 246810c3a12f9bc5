//! Synthetic head-turn sequences from one frontal photo, for liveness tests.
//!
//! Height-field rotation: each pixel near the face gets a depth from an analytic face model
//! (an ellipsoidal shell with a capped slope, eye sockets and a nose ridge, fitted to an average
//! adult face), is rotated about a vertical axis behind the face, and the frame is re-rendered
//! by orthographic projection. Rows map to themselves, so each row is a 1-D problem solved with
//! a z-buffer (the nose hides the far cheek). The background does not move.
#![allow(dead_code)]

use image::{Rgb, RgbImage};
use veriframe_vision::decode::{DecodeLimits, decode, encode_jpeg};
use veriframe_vision::face::Keypoints;
use veriframe_vision::warp::{Affine, warp};

/// Small deterministic generator for noise, shifts and JPEG qualities.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }

    pub fn gauss(&mut self) -> f32 {
        let u1 = self.unit().max(1e-7);
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
    }
}

/// Depth of the face surface towards the camera, in inter-eye units, ≈ 0 at the nose tip.
pub fn face_depth(u: f32, v: f32) -> f32 {
    const Z1: f32 = 0.338;
    const C: f32 = 1.226;
    const A: f32 = 1.206;
    const B: f32 = 3.859;
    const VC: f32 = -0.329;
    const E: f32 = 0.20;
    const SE: f32 = 0.328;
    const SEV: f32 = 0.17;
    const H: f32 = 0.381;
    const SN: f32 = 0.131;
    const VN0: f32 = 0.006;
    const VT: f32 = 0.40;
    const SD: f32 = 0.389;
    const SMAX: f32 = 2.0;
    let rho = ((u / A).powi(2) + ((v - VC) / B).powi(2)).sqrt();
    let s = SMAX * A;
    let rc = s / (C * C + s * s).sqrt();
    let shell = |r: f32| -C * (1.0 - (1.0 - r * r).max(0.0).sqrt());
    let g = if rho <= rc { shell(rho) } else { shell(rc) - s * (rho - rc) };
    let eye = -E * (-((u.abs() - 0.5).powi(2) / (2.0 * SE * SE) + v * v / (2.0 * SEV * SEV))).exp();
    let profile =
        if v <= VT { ((v - VN0) / (VT - VN0)).clamp(0.0, 1.0) } else { (-(v - VT).powi(2) / (2.0 * SD * SD)).exp() };
    let nose = H * (-u * u / (2.0 * SN * SN)).exp() * profile;
    -Z1 + g + eye + nose
}

/// Renders `frame` with the head turned by `theta_deg` (positive: the subject's own left,
/// nose towards image +x). `kp` are the detector keypoints of `frame`.
pub fn turn_head(frame: &RgbImage, kp: &Keypoints, theta_deg: f32) -> RgbImage {
    let (w, h) = frame.dimensions();
    let (re, le, m) = (kp.right_eye, kp.left_eye, kp.mouth);
    let (cx, cy) = ((re.x + le.x) / 2.0, (re.y + le.y) / 2.0);
    let d = (le.x - re.x).hypot(le.y - re.y);
    let ex = ((le.x - re.x) / d, (le.y - re.y) / d);
    let ey = (-ex.1, ex.0);
    let vs = ((m.x - cx) * ey.0 + (m.y - cy) * ey.1) / (1.07 * d);
    let theta = theta_deg.to_radians();
    let (xa, za) = (cx, -1.68 * d);
    let mut out = RgbImage::new(w, h);
    let mut xs = vec![0f32; w as usize];
    let mut zs = vec![0f32; w as usize];
    let mut zbuf = vec![0f32; w as usize];
    let mut src = vec![0f32; w as usize];
    for y in 0..h {
        for x in 0..w {
            let (qx, qy) = (x as f32 - cx, y as f32 - cy);
            let u = (qx * ex.0 + qy * ex.1) / d;
            let v = (qx * ey.0 + qy * ey.1) / (d * vs);
            let r = ((u / 1.45).powi(2) + ((v - 0.05) / 2.10).powi(2)).sqrt();
            let t = ((1.35 - r) / 0.35).clamp(0.0, 1.0);
            let weight = t * t * (3.0 - 2.0 * t);
            if weight <= 0.0 {
                xs[x as usize] = x as f32;
                // Far behind anything on the head, but finite so segments interpolate.
                zs[x as usize] = -1e9;
            } else {
                let phi = weight * theta;
                let depth = face_depth(u, v) * d - za;
                let dx = x as f32 - xa;
                xs[x as usize] = xa + dx * phi.cos() + depth * phi.sin();
                zs[x as usize] = -dx * phi.sin() + depth * phi.cos();
            }
        }
        zbuf.iter_mut().for_each(|z| *z = f32::NEG_INFINITY);
        for (x, s) in src.iter_mut().enumerate() {
            *s = x as f32;
        }
        for x in 0..(w as usize - 1) {
            let (a, b) = (xs[x], xs[x + 1]);
            let lo = a.min(b).ceil().max(0.0) as usize;
            let hi = a.max(b).floor().min(w as f32 - 1.0);
            if hi < 0.0 {
                continue;
            }
            for ox in lo..=hi as usize {
                let t = if a == b { 0.0 } else { (ox as f32 - a) / (b - a) };
                let z = zs[x] + t * (zs[x + 1] - zs[x]);
                if z > zbuf[ox] {
                    zbuf[ox] = z;
                    src[ox] = x as f32 + t;
                }
            }
        }
        for x in 0..w {
            let s = src[x as usize].clamp(0.0, w as f32 - 1.0);
            let x0 = s.floor() as u32;
            let x1 = (x0 + 1).min(w - 1);
            let f = s - x0 as f32;
            let (p0, p1) = (frame.get_pixel(x0, y), frame.get_pixel(x1, y));
            let px = std::array::from_fn(|c| (f32::from(p0[c]) * (1.0 - f) + f32::from(p1[c]) * f).round() as u8);
            out.put_pixel(x, y, Rgb(px));
        }
    }
    out
}

/// Places the face of `photo` into a 480×640 portrait frame: eyes 84 px apart, centred at
/// (240, 270), the photo's own roll kept.
pub fn selfie_frame(photo: &RgbImage, kp: &Keypoints) -> RgbImage {
    let (re, le) = (kp.right_eye, kp.left_eye);
    let d = (le.x - re.x).hypot(le.y - re.y);
    let step = d / 84.0;
    let (cx, cy) = ((re.x + le.x) / 2.0, (re.y + le.y) / 2.0);
    let map = Affine::scale_translate(step, cx - 240.0 * step, cy - 270.0 * step);
    warp(photo, &map, 480, 640, Rgb([90, 90, 90]))
}

/// Rotates `frame` in its plane by `deg` about (cx, cy).
pub fn roll(frame: &RgbImage, cx: f32, cy: f32, deg: f32) -> RgbImage {
    let (s, c) = deg.to_radians().sin_cos();
    // Output → source: rotate by −deg about the centre.
    let map = Affine { a: c, b: s, c: cx - c * cx - s * cy, d: -s, e: c, f: cy + s * cx - c * cy };
    warp(frame, &map, frame.width(), frame.height(), Rgb([90, 90, 90]))
}

/// Camera effects: sub-pixel shift (±1.5 px), Gaussian noise σ = 2, JPEG at quality 70–90.
pub fn capture(frame: &RgbImage, rng: &mut Rng) -> RgbImage {
    let (dx, dy) = (rng.unit() * 3.0 - 1.5, rng.unit() * 3.0 - 1.5);
    let shifted = warp(frame, &Affine::scale_translate(1.0, dx, dy), frame.width(), frame.height(), Rgb([90, 90, 90]));
    let mut noisy = shifted;
    for px in noisy.pixels_mut() {
        for c in 0..3 {
            px[c] = (f32::from(px[c]) + 2.0 * rng.gauss()).round().clamp(0.0, 255.0) as u8;
        }
    }
    let quality = 70 + (rng.next_u64() % 21) as u8;
    let jpeg = encode_jpeg(&noisy, quality).expect("encode");
    decode(&jpeg, &DecodeLimits::default()).expect("decode").image
}

/// The calibration's 15-frame shape: θ_k = A·sin²(πk/14), 0 → A → 0.
pub fn turn_angles(amplitude_deg: f32) -> Vec<f32> {
    (0..15).map(|k| amplitude_deg * (std::f32::consts::PI * k as f32 / 14.0).sin().powi(2)).collect()
}
