//! Alignment of a detected face to dlib's 150×150 descriptor chip.
//!
//! dlib's descriptor expects the chip its own landmark model would cut (padding 0.25). We fit a
//! least-squares similarity (scale, rotation, translation — no shear, so the face is never
//! distorted) from four BlazeFace keypoints to where that detector's keypoints land, on
//! average, inside dlib-made chips. Each model places keypoints a little differently, so each
//! has its own template (`examples/chip_template.rs` measures them).

use image::{Rgb, RgbImage};

use super::blazeface::{Detection, DetectorKind, Keypoints, Point};
use super::dlib::CHIP_SIZE;
use crate::warp::{Affine, warp};

/// Mean BlazeFace-256 positions of right eye, left eye, nose tip and mouth centre inside a
/// dlib 150×150 chip.
pub const CHIP_TEMPLATE: [Point; 4] = [
    Point { x: 45.51, y: 45.67 },
    Point { x: 99.81, y: 46.50 },
    Point { x: 73.56, y: 75.84 },
    Point { x: 72.94, y: 106.44 },
];

/// The same for BlazeFace-128 (measured on dlib's 15 reference chips).
pub const CHIP_TEMPLATE_128: [Point; 4] = [
    Point { x: 45.22, y: 47.34 },
    Point { x: 102.10, y: 47.11 },
    Point { x: 73.63, y: 75.75 },
    Point { x: 73.49, y: 106.78 },
];

/// The template for a detector.
pub fn template(kind: DetectorKind) -> &'static [Point; 4] {
    match kind {
        DetectorKind::Full256 => &CHIP_TEMPLATE,
        DetectorKind::Front128 => &CHIP_TEMPLATE_128,
    }
}

/// `dst = [a −b; b a]·src + (tx, ty)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Similarity {
    pub a: f32,
    pub b: f32,
    pub tx: f32,
    pub ty: f32,
}

impl Similarity {
    pub fn scale(&self) -> f32 {
        self.a.hypot(self.b)
    }

    /// Rotation in degrees.
    pub fn angle_deg(&self) -> f32 {
        self.b.atan2(self.a).to_degrees()
    }

    pub fn apply(&self, p: Point) -> Point {
        Point::new(self.a * p.x - self.b * p.y + self.tx, self.b * p.x + self.a * p.y + self.ty)
    }

    fn to_affine(self) -> Affine {
        Affine { a: self.a, b: -self.b, c: self.tx, d: self.b, e: self.a, f: self.ty }
    }
}

/// Least-squares similarity taking `src` onto `dst` (closed form). `None` when the source
/// points are degenerate (all equal) or not finite.
pub fn fit_similarity(src: &[Point], dst: &[Point]) -> Option<Similarity> {
    let n = src.len().min(dst.len());
    if n < 2 {
        return None;
    }
    let mean = |pts: &[Point]| {
        let (sx, sy) = pts[..n].iter().fold((0f64, 0f64), |(x, y), p| (x + f64::from(p.x), y + f64::from(p.y)));
        (sx / n as f64, sy / n as f64)
    };
    let (mx, my) = mean(src);
    let (nx, ny) = mean(dst);
    let (mut sxx, mut dot, mut cross) = (0f64, 0f64, 0f64);
    for (p, q) in src[..n].iter().zip(&dst[..n]) {
        let (px, py) = (f64::from(p.x) - mx, f64::from(p.y) - my);
        let (qx, qy) = (f64::from(q.x) - nx, f64::from(q.y) - ny);
        sxx += px * px + py * py;
        dot += px * qx + py * qy;
        cross += px * qy - py * qx;
    }
    if sxx.is_nan() || sxx <= 1e-9 || !dot.is_finite() || !cross.is_finite() {
        return None;
    }
    let a = dot / sxx;
    let b = cross / sxx;
    let tx = nx - (a * mx - b * my);
    let ty = ny - (b * mx + a * my);
    Some(Similarity { a: a as f32, b: b as f32, tx: tx as f32, ty: ty as f32 })
}

/// The similarity from image pixels to chip pixels for keypoints from detector `kind`.
pub fn chip_transform(kp: &Keypoints, kind: DetectorKind) -> Option<Similarity> {
    let src = [kp.right_eye, kp.left_eye, kp.nose_tip, kp.mouth];
    fit_similarity(&src, template(kind))
}

/// Cuts the 150×150 descriptor chip of a detected face (anti-aliased). `None` for degenerate
/// keypoints.
pub fn align_chip(img: &RgbImage, det: &Detection) -> Option<RgbImage> {
    let to_chip = chip_transform(&det.keypoints, det.detector)?;
    let to_image = to_chip.to_affine().inverse()?;
    let size = CHIP_SIZE as u32;
    Some(warp(img, &to_image, size, size, Rgb([0, 0, 0])))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Any exact similarity of the template is recovered.
        #[test]
        fn recovers_exact_similarity(scale in 0.05f32..20.0, angle in -3.1f32..3.1, tx in -500f32..500.0, ty in -500f32..500.0) {
            let truth = Similarity { a: scale * angle.cos(), b: scale * angle.sin(), tx, ty };
            let src: Vec<Point> = CHIP_TEMPLATE.iter().map(|&p| truth.apply(p)).collect();
            let fit = fit_similarity(&CHIP_TEMPLATE, &src).unwrap();
            prop_assert!((fit.a - truth.a).abs() < 1e-3 * scale.max(1.0));
            prop_assert!((fit.b - truth.b).abs() < 1e-3 * scale.max(1.0));
            for p in CHIP_TEMPLATE {
                let (f, t) = (fit.apply(p), truth.apply(p));
                prop_assert!(f.dist(t) < 1e-2 * scale.max(1.0));
            }
        }
    }

    #[test]
    fn degenerate_points() {
        let p = [Point::new(3.0, 3.0); 4];
        assert!(fit_similarity(&p, &CHIP_TEMPLATE).is_none());
        let nan = [Point::new(f32::NAN, 1.0); 4];
        assert!(fit_similarity(&nan, &CHIP_TEMPLATE).is_none());
    }

    #[test]
    fn chip_maps_keypoints_onto_template() {
        // Face 3× larger than the chip, rotated 20°, somewhere in a big image.
        let truth = Similarity { a: 3.0 * 0.349f32.cos(), b: 3.0 * 0.349f32.sin(), tx: 400.0, ty: 200.0 };
        let pts: Vec<Point> = CHIP_TEMPLATE.iter().map(|&p| truth.apply(p)).collect();
        let kp =
            Keypoints { right_eye: pts[0], left_eye: pts[1], nose_tip: pts[2], mouth: pts[3], ..Keypoints::default() };
        let t = chip_transform(&kp, DetectorKind::Full256).unwrap();
        assert!((t.scale() - 1.0 / 3.0).abs() < 1e-4);
        assert!((t.angle_deg() + 20.0).abs() < 0.1);
    }
}
