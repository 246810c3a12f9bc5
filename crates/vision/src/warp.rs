//! Affine resampling of RGB images with anti-aliasing.
//!
//! Every geometric step of the face pipeline (detector letterbox, 150×150 chip, PAD crops) is
//! an affine map from output pixels to source pixels. When the map shrinks the source, plain
//! bilinear sampling aliases (the dlib descriptor is sensitive to that), so the source is first
//! box-averaged by the integer factor that brings the remaining shrink under 2×, and then
//! sampled bilinearly. That is close to area resampling at a fraction of its cost.

use image::{Rgb, RgbImage};

/// Maps output coordinates to source coordinates:
/// `src = (a·x + b·y + c, d·x + e·y + f)`, in pixel-centre convention (pixel `i` covers
/// `[i, i+1)`, its centre is `i + 0.5`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Affine {
    pub a: f32,
    pub b: f32,
    pub c: f32,
    pub d: f32,
    pub e: f32,
    pub f: f32,
}

impl Affine {
    /// Uniform scale then translation: `src = (x·s + tx, y·s + ty)`.
    pub fn scale_translate(s: f32, tx: f32, ty: f32) -> Self {
        Self { a: s, b: 0.0, c: tx, d: 0.0, e: s, f: ty }
    }

    pub fn apply(&self, x: f32, y: f32) -> (f32, f32) {
        (self.a * x + self.b * y + self.c, self.d * x + self.e * y + self.f)
    }

    /// Source pixels per output pixel (geometric mean of the two axes).
    pub fn source_step(&self) -> f32 {
        (self.a * self.e - self.b * self.d).abs().sqrt()
    }

    /// Inverse map; `None` when degenerate.
    pub fn inverse(&self) -> Option<Self> {
        let det = self.a * self.e - self.b * self.d;
        if det.abs() < 1e-12 || !det.is_finite() {
            return None;
        }
        let (a, b, d, e) = (self.e / det, -self.b / det, -self.d / det, self.a / det);
        Some(Self { a, b, c: -(a * self.c + b * self.f), d, e, f: -(d * self.c + e * self.f) })
    }
}

/// Averages `k×k` blocks (edge blocks average what exists). For `k > 4` it averages a regular
/// grid of about 4×4 samples per block instead of every pixel: the result is still
/// alias-free for the bilinear step that follows, and a 12 MP photo shrinks in a few
/// milliseconds.
pub fn box_shrink(src: &RgbImage, k: u32) -> RgbImage {
    if k <= 1 {
        return src.clone();
    }
    let (w, h) = (src.width() as usize, src.height() as usize);
    let k = k as usize;
    // Odd, so that fine periodic patterns (stripes, print screens) are not sampled in phase.
    let step = (k / 4).max(1) | 1;
    let (ow, oh) = (w.div_ceil(k), h.div_ceil(k));
    let raw = src.as_raw();
    let mut out = vec![0u8; ow * oh * 3];
    let mut acc = vec![0u32; ow * 3];
    let mut count = vec![0u32; ow];
    // Sample offsets inside a block starting at `start` and ending before `end`.
    let samples = move |start: usize, end: usize| {
        let first = start + (step / 2).min(end - start - 1);
        (first..end).step_by(step)
    };
    for oy in 0..oh {
        acc.fill(0);
        count.fill(0);
        for y in samples(oy * k, ((oy + 1) * k).min(h)) {
            let row = &raw[y * w * 3..(y + 1) * w * 3];
            for ox in 0..ow {
                let a = &mut acc[ox * 3..ox * 3 + 3];
                for x in samples(ox * k, ((ox + 1) * k).min(w)) {
                    let px = &row[x * 3..x * 3 + 3];
                    a[0] += u32::from(px[0]);
                    a[1] += u32::from(px[1]);
                    a[2] += u32::from(px[2]);
                    count[ox] += 1;
                }
            }
        }
        let out_row = &mut out[oy * ow * 3..(oy + 1) * ow * 3];
        for ox in 0..ow {
            let n = count[ox].max(1);
            for c in 0..3 {
                out_row[ox * 3 + c] = ((acc[ox * 3 + c] + n / 2) / n) as u8;
            }
        }
    }
    RgbImage::from_raw(ow as u32, oh as u32, out).unwrap_or_else(|| RgbImage::new(1, 1))
}

/// Renders `out_w×out_h` pixels, each sampled at `map(x + 0.5, y + 0.5) − 0.5` in `src`
/// with bilinear interpolation; outside the source the pixel is `fill`. Shrinking maps are
/// anti-aliased (see the module docs).
pub fn warp(src: &RgbImage, map: &Affine, out_w: u32, out_h: u32, fill: Rgb<u8>) -> RgbImage {
    let step = map.source_step();
    let k = if step.is_finite() && step > 2.0 { (step / 1.5).floor() as u32 } else { 1 };
    if k >= 2 {
        let small = box_shrink(src, k);
        let s = 1.0 / k as f32;
        let scaled = Affine { a: map.a * s, b: map.b * s, c: map.c * s, d: map.d * s, e: map.e * s, f: map.f * s };
        return warp_bilinear(&small, &scaled, out_w, out_h, fill);
    }
    warp_bilinear(src, map, out_w, out_h, fill)
}

fn warp_bilinear(src: &RgbImage, map: &Affine, out_w: u32, out_h: u32, fill: Rgb<u8>) -> RgbImage {
    let (w, h) = (src.width() as i64, src.height() as i64);
    let raw = src.as_raw();
    let mut out = vec![0u8; out_w as usize * out_h as usize * 3];
    let fetch = |x: i64, y: i64| -> [f32; 3] {
        if x < 0 || y < 0 || x >= w || y >= h {
            [f32::from(fill[0]), f32::from(fill[1]), f32::from(fill[2])]
        } else {
            let i = ((y * w + x) * 3) as usize;
            [f32::from(raw[i]), f32::from(raw[i + 1]), f32::from(raw[i + 2])]
        }
    };
    for (oy, row) in out.chunks_exact_mut(out_w as usize * 3).enumerate() {
        for (ox, px) in row.chunks_exact_mut(3).enumerate() {
            let (sx, sy) = map.apply(ox as f32 + 0.5, oy as f32 + 0.5);
            let (sx, sy) = (sx - 0.5, sy - 0.5);
            if !(sx > -1.0 && sy > -1.0 && sx < w as f32 && sy < h as f32) {
                px.copy_from_slice(&fill.0);
                continue;
            }
            let (x0, y0) = (sx.floor(), sy.floor());
            let (fx, fy) = (sx - x0, sy - y0);
            let (x0, y0) = (x0 as i64, y0 as i64);
            let p00 = fetch(x0, y0);
            let p10 = fetch(x0 + 1, y0);
            let p01 = fetch(x0, y0 + 1);
            let p11 = fetch(x0 + 1, y0 + 1);
            for c in 0..3 {
                let top = p00[c] + (p10[c] - p00[c]) * fx;
                let bottom = p01[c] + (p11[c] - p01[c]) * fx;
                px[c] = (top + (bottom - top) * fy).round().clamp(0.0, 255.0) as u8;
            }
        }
    }
    RgbImage::from_raw(out_w, out_h, out).unwrap_or_else(|| RgbImage::new(out_w, out_h))
}

/// Scales `src` to fit inside `size×size`, centred on a `fill` background. Returns the image
/// and the map from letterbox pixels back to source pixels.
pub fn letterbox(src: &RgbImage, size: u32, fill: Rgb<u8>) -> (RgbImage, Affine) {
    let (w, h) = (src.width() as f32, src.height() as f32);
    let step = w.max(h) / size as f32;
    let tx = (w - size as f32 * step) / 2.0;
    let ty = (h - size as f32 * step) / 2.0;
    let map = Affine::scale_translate(step, tx, ty);
    (warp(src, &map, size, size, fill), map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inverse_roundtrip() {
        let m = Affine { a: 0.8, b: -0.3, c: 12.0, d: 0.3, e: 0.8, f: -4.0 };
        let inv = m.inverse().unwrap();
        let (x, y) = m.apply(3.0, 7.0);
        let (bx, by) = inv.apply(x, y);
        assert!((bx - 3.0).abs() < 1e-4 && (by - 7.0).abs() < 1e-4);
    }

    #[test]
    fn box_shrink_averages_blocks() {
        let img = RgbImage::from_fn(10, 7, |x, y| Rgb([(x * 10) as u8, (y * 10) as u8, 200]));
        let small = box_shrink(&img, 3);
        assert_eq!(small.dimensions(), (4, 3));
        // First block: x 0..3 → mean 10, y 0..3 → mean 10.
        assert_eq!(small.get_pixel(0, 0).0, [10, 10, 200]);
        // Edge block: x 9 only, y 6 only.
        assert_eq!(small.get_pixel(3, 2).0, [90, 60, 200]);
        // Large factors sample a grid and still average.
        let big = RgbImage::from_fn(400, 400, |x, _| Rgb([(x % 2 * 200) as u8, 0, 0]));
        let s = box_shrink(&big, 40);
        assert!((80..=120).contains(&s.get_pixel(3, 3)[0]), "{:?}", s.get_pixel(3, 3));
    }

    #[test]
    fn identity_warp_is_exact() {
        let img = RgbImage::from_fn(9, 7, |x, y| Rgb([x as u8 * 20, y as u8 * 30, 7]));
        let out = warp(&img, &Affine::scale_translate(1.0, 0.0, 0.0), 9, 7, Rgb([0, 0, 0]));
        assert_eq!(out, img);
    }

    #[test]
    fn shrinking_a_checkerboard_gives_grey_not_aliases() {
        let img = RgbImage::from_fn(400, 400, |x, y| if (x + y) % 2 == 0 { Rgb([255; 3]) } else { Rgb([0; 3]) });
        let (out, _) = letterbox(&img, 37, Rgb([0, 0, 0]));
        for px in out.pixels() {
            assert!((100..=155).contains(&px[0]), "{px:?}");
        }
    }

    #[test]
    fn letterbox_keeps_aspect_and_centres() {
        let img = RgbImage::from_pixel(200, 100, Rgb([200, 10, 10]));
        let (out, map) = letterbox(&img, 64, Rgb([0, 0, 0]));
        assert_eq!(out.get_pixel(32, 32)[0], 200);
        assert_eq!(out.get_pixel(32, 2)[0], 0, "top band is padding");
        let (sx, sy) = map.apply(32.0, 32.0);
        assert!((sx - 100.0).abs() < 1e-3 && (sy - 50.0).abs() < 1e-3);
    }
}
