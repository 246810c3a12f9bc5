//! Document image quality: sharpness, glare, and a fast "is there an MRZ band here?" check
//! for capture feedback ("blurry", "glare", "MRZ unreadable").

use std::time::Instant;

use image::RgbImage;
use serde::{Deserialize, Serialize};

use crate::mrz::{DetectParams, LineBox, OcrEngine, OcrError};

/// Images are measured at this long side so that scores do not depend on camera resolution
/// (smaller images are measured as they are).
const MEASURE_SIDE: u32 = 1024;

/// Thresholds for the quality verdicts. The defaults are the values chosen in
/// BENCHMARKS.md ("Vision: MRZ", document quality) from rendered documents blurred and
/// lit on purpose and from the specimen photos.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct QualityThresholds {
    /// Below this sharpness a document is reported blurry.
    pub min_sharpness: f32,
    /// Above this fraction of the image in enclosed saturated blobs, glare is reported.
    pub max_glare_fraction: f32,
}

impl Default for QualityThresholds {
    fn default() -> Self {
        Self { min_sharpness: 0.30, max_glare_fraction: 0.01 }
    }
}

/// Quality measures of a document photo.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DocumentQuality {
    /// Edge sharpness: mean |Laplacian| over mean gradient magnitude on the strongest edges.
    /// For an edge blurred by a Gaussian of σ pixels this falls roughly as 1/σ, whatever the
    /// edge's contrast, so it measures focus rather than how much text there is.
    pub sharpness: f32,
    /// Fraction of the image covered by soft-edged saturated blobs that do not touch the
    /// border: reflections, as opposed to white paper or printed white boxes.
    pub glare_fraction: f32,
    /// Mean luma, 0–255.
    pub brightness: f32,
    /// `sharpness` below the threshold.
    pub blurry: bool,
    /// `glare_fraction` above the threshold.
    pub glare: bool,
}

/// Measures sharpness, glare and brightness of a document image.
pub fn assess_document(image: &RgbImage, thresholds: &QualityThresholds) -> DocumentQuality {
    let (gray, w, h) = measured_gray(image);
    let sharpness = edge_sharpness(&gray, w, h);
    let glare_fraction = enclosed_glare(&gray, w, h);
    let brightness = if gray.is_empty() { 0.0 } else { gray.iter().sum::<f32>() / gray.len() as f32 };
    DocumentQuality {
        sharpness,
        glare_fraction,
        brightness,
        blurry: sharpness < thresholds.min_sharpness,
        glare: glare_fraction > thresholds.max_glare_fraction,
    }
}

/// Luma of `image` resampled (by area averaging) to at most [`MEASURE_SIDE`] on its long side.
fn measured_gray(image: &RgbImage) -> (Vec<f32>, usize, usize) {
    let (iw, ih) = (image.width() as usize, image.height() as usize);
    if iw == 0 || ih == 0 {
        return (Vec::new(), 0, 0);
    }
    let factor = (iw.max(ih) as f32 / MEASURE_SIDE as f32).max(1.0);
    let w = ((iw as f32 / factor).round() as usize).max(1);
    let h = ((ih as f32 / factor).round() as usize).max(1);
    let mut sum = vec![0f32; w * h];
    let mut count = vec![0u32; w * h];
    for (x, y, p) in image.enumerate_pixels() {
        let ox = ((x as usize * w) / iw).min(w - 1);
        let oy = ((y as usize * h) / ih).min(h - 1);
        let l = 0.299 * f32::from(p.0[0]) + 0.587 * f32::from(p.0[1]) + 0.114 * f32::from(p.0[2]);
        sum[oy * w + ox] += l;
        count[oy * w + ox] += 1;
    }
    let gray = sum.iter().zip(&count).map(|(s, c)| if *c == 0 { 0.0 } else { s / *c as f32 }).collect();
    (gray, w, h)
}

/// Mean |Laplacian| / mean gradient over the 2 % strongest-gradient pixels.
fn edge_sharpness(gray: &[f32], w: usize, h: usize) -> f32 {
    if w < 3 || h < 3 {
        return 0.0;
    }
    let at = |x: usize, y: usize| gray[y * w + x];
    let mut samples: Vec<(f32, f32)> = Vec::with_capacity((w - 2) * (h - 2));
    for y in 1..h - 1 {
        for x in 1..w - 1 {
            let gx = at(x + 1, y - 1) + 2.0 * at(x + 1, y) + at(x + 1, y + 1)
                - at(x - 1, y - 1)
                - 2.0 * at(x - 1, y)
                - at(x - 1, y + 1);
            let gy = at(x - 1, y + 1) + 2.0 * at(x, y + 1) + at(x + 1, y + 1)
                - at(x - 1, y - 1)
                - 2.0 * at(x, y - 1)
                - at(x + 1, y - 1);
            let g = (gx * gx + gy * gy).sqrt() / 8.0;
            let lap = at(x + 1, y) + at(x - 1, y) + at(x, y + 1) + at(x, y - 1) - 4.0 * at(x, y);
            samples.push((g, lap.abs()));
        }
    }
    let keep = (samples.len() / 50).max(1);
    let pivot = samples.len() - keep;
    samples.select_nth_unstable_by(pivot, |a, b| a.0.total_cmp(&b.0));
    let top = &samples[samples.len() - keep..];
    let g: f32 = top.iter().map(|s| s.0).sum();
    let l: f32 = top.iter().map(|s| s.1).sum();
    // Flat images have no edges to judge: report zero sharpness.
    if g / keep as f32 <= 2.0 {
        return 0.0;
    }
    (l / g).clamp(0.0, 10.0)
}

/// Fraction of the image in glare: saturated blobs (luma ≥ 250) of at least 0.05 % of the
/// image that do not touch the border and fade out softly.
///
/// A reflection is blown out in its middle and falls off over many pixels; white paper or a
/// white form box is bounded by printed edges. The mean gradient along a blob's boundary
/// tells them apart, so a white scan is not mistaken for glare (a white document with a real
/// reflection on it still is, as long as the reflection has a soft edge).
fn enclosed_glare(gray: &[f32], w: usize, h: usize) -> f32 {
    if w < 3 || h < 3 {
        return 0.0;
    }
    let bright: Vec<bool> = gray.iter().map(|v| *v >= 250.0).collect();
    let gradient = |i: usize| -> f32 {
        let (x, y) = (i % w, i / w);
        if x == 0 || y == 0 || x == w - 1 || y == h - 1 {
            return 0.0;
        }
        let dx = gray[i + 1] - gray[i - 1];
        let dy = gray[i + w] - gray[i - w];
        (dx * dx + dy * dy).sqrt() / 2.0
    };
    let mut seen = vec![false; w * h];
    let min_area = (w * h / 2000).max(4);
    let mut glare = 0usize;
    let mut stack = Vec::new();
    for start in 0..w * h {
        if !bright[start] || seen[start] {
            continue;
        }
        seen[start] = true;
        stack.push(start);
        let (mut area, mut edge_sum, mut edge_count) = (0usize, 0f32, 0usize);
        let mut touches_border = false;
        while let Some(i) = stack.pop() {
            area += 1;
            let (x, y) = (i % w, i / w);
            if x == 0 || y == 0 || x == w - 1 || y == h - 1 {
                touches_border = true;
                continue;
            }
            let neighbours = [i - 1, i + 1, i - w, i + w];
            if neighbours.iter().any(|&j| !bright[j]) {
                // Boundary: measure how steeply the image falls off just outside.
                let outside = neighbours.iter().filter(|&&j| !bright[j]);
                for &j in outside {
                    edge_sum += gradient(j);
                    edge_count += 1;
                }
            }
            for j in neighbours {
                if bright[j] && !seen[j] {
                    seen[j] = true;
                    stack.push(j);
                }
            }
        }
        let soft = edge_count > 0 && edge_sum / (edge_count as f32) < GLARE_EDGE_GRADIENT;
        if !touches_border && area >= min_area && soft {
            glare += area;
        }
    }
    glare as f32 / (w * h) as f32
}

/// Mean luma change per pixel just outside a saturated blob below which its edge is soft
/// (a reflection) rather than printed.
const GLARE_EDGE_GRADIENT: f32 = 12.0;

/// Result of the fast MRZ presence check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MrzBandCheck {
    /// Two or three long, thin, stacked lines of similar length were found.
    pub present: bool,
    /// How many such lines.
    pub lines: usize,
    /// The band's bounds `[x0, y0, x1, y1]` in image pixels.
    pub band: Option<[f32; 4]>,
    /// Time taken, milliseconds.
    pub elapsed_ms: f64,
}

/// Long side of the detector input for the presence check: small enough to answer in a
/// fraction of a second on two cores, large enough for an MRZ that spans the document.
pub const BAND_CHECK_SIDE: u32 = 480;

/// Looks for an MRZ band with the text detector alone (no recognition): at least two long,
/// thin lines of similar length stacked at line spacing. Meant for live capture feedback.
pub fn detect_mrz_band(engine: &OcrEngine, image: &RgbImage) -> Result<MrzBandCheck, OcrError> {
    let started = Instant::now();
    let boxes = engine.detect(image, BAND_CHECK_SIDE, &DetectParams::default())?;
    let mut lines = crate::mrz::reader::mrz_line_candidates(boxes, 10.0, 6, false);
    // In the text's own frame, so that a sideways or upside-down page is measured alike.
    let (nx, ny) = crate::mrz::reader::text_down(&lines);
    let (ux, uy) = (ny, -nx);
    for l in &mut lines {
        let (along, across) = (l.cx * ux + l.cy * uy, l.cx * nx + l.cy * ny);
        l.cx = along;
        l.cy = across;
    }
    let stack = best_stack(&lines);
    let band = (stack.len() >= 2).then(|| {
        stack.iter().fold([f32::MAX, f32::MAX, f32::MIN, f32::MIN], |b, l| {
            let (x0, y0, x1, y1) = l.bounds();
            [b[0].min(x0), b[1].min(y0), b[2].max(x1), b[3].max(y1)]
        })
    });
    Ok(MrzBandCheck {
        present: stack.len() >= 2,
        lines: stack.len(),
        band,
        elapsed_ms: started.elapsed().as_secs_f64() * 1000.0,
    })
}

/// The largest run (bottom-most on ties) of consecutive lines with similar length, similar
/// left edge, and line-pitch spacing.
fn best_stack(lines: &[LineBox]) -> Vec<LineBox> {
    let mut best: Vec<LineBox> = Vec::new();
    let mut current: Vec<LineBox> = Vec::new();
    for line in lines {
        let fits = current.last().is_some_and(|prev: &LineBox| {
            let h = prev.height.max(line.height);
            let similar = prev.width.min(line.width) >= 0.8 * prev.width.max(line.width);
            let gap = line.cy - prev.cy;
            similar && gap > 0.5 * h && gap < 2.5 * h && (prev.cx - line.cx).abs() < 2.0 * h
        });
        if !fits {
            current.clear();
        }
        current.push(*line);
        if current.len() >= best.len() {
            best = current.clone();
        }
    }
    best.truncate(3);
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgb;

    /// Black bars on white; `blur` passes of a 3×3 box filter soften them.
    fn bars(blur: usize) -> RgbImage {
        let mut img = RgbImage::from_fn(400, 300, |x, y| {
            if (x / 10) % 3 == 0 && (60..240).contains(&y) { Rgb([20, 20, 20]) } else { Rgb([235, 235, 235]) }
        });
        for _ in 0..blur {
            img = image::imageops::blur(&img, 1.0);
        }
        img
    }

    #[test]
    fn sharpness_falls_with_blur_and_ignores_contrast() {
        let t = QualityThresholds::default();
        let crisp = bars(0);
        let sharp = assess_document(&crisp, &t).sharpness;
        let soft = assess_document(&bars(2), &t).sharpness;
        let softer = assess_document(&bars(5), &t).sharpness;
        assert!(sharp > soft && soft > softer, "{sharp} {soft} {softer}");
        // Halving contrast leaves the measure nearly unchanged.
        let faint = RgbImage::from_fn(400, 300, |x, y| {
            let p = crisp.get_pixel(x, y).0[0];
            let v = 128 + (i32::from(p) - 128) / 2;
            Rgb([v as u8; 3])
        });
        let f = assess_document(&faint, &t).sharpness;
        assert!((f - sharp).abs() < 0.15 * sharp, "{f} vs {sharp}");
        let flat = RgbImage::from_pixel(100, 100, Rgb([128, 128, 128]));
        assert_eq!(assess_document(&flat, &t).sharpness, 0.0);
    }

    /// A grey card with a reflection: saturated in the middle, fading out over ~25 px.
    fn card_with_reflection() -> RgbImage {
        RgbImage::from_fn(400, 300, |x, y| {
            let d2 = (x as f32 - 200.0).powi(2) + (y as f32 - 130.0).powi(2);
            let boost = 260.0 * (-d2 / (2.0 * 30.0f32.powi(2))).exp();
            let v = |base: f32| (base + boost).min(255.0) as u8;
            Rgb([v(150.0), v(140.0), v(130.0)])
        })
    }

    #[test]
    fn glare_is_a_soft_blown_out_blob_not_white_paper() {
        let t = QualityThresholds::default();
        let q = assess_document(&card_with_reflection(), &t);
        assert!(q.glare, "{q:?}");
        // A white form box with printed edges on the same card is not glare…
        let mut form = RgbImage::from_pixel(400, 300, Rgb([150, 140, 130]));
        for y in 100..160 {
            for x in 150..260 {
                form.put_pixel(x, y, Rgb([255, 255, 255]));
            }
        }
        let q = assess_document(&form, &t);
        assert!(!q.glare && q.glare_fraction == 0.0, "{q:?}");
        // …nor is a white scan margin.
        let mut scan = RgbImage::from_pixel(400, 300, Rgb([255, 255, 255]));
        for y in 30..270 {
            for x in 30..370 {
                scan.put_pixel(x, y, Rgb([150, 140, 130]));
            }
        }
        assert!(!assess_document(&scan, &t).glare);
        assert!(!assess_document(&RgbImage::new(1, 1), &t).glare);
    }

    #[test]
    fn stacks_need_similar_stacked_lines() {
        let line = |cy: f32, width: f32| LineBox { cx: 300.0, cy, width, height: 20.0, angle: 0.0, score: 0.9 };
        assert_eq!(best_stack(&[line(100.0, 500.0), line(130.0, 510.0)]).len(), 2);
        assert_eq!(best_stack(&[line(100.0, 500.0), line(200.0, 500.0)]).len(), 1);
        assert_eq!(best_stack(&[line(100.0, 200.0), line(130.0, 500.0)]).len(), 1);
        assert_eq!(
            best_stack(&[line(10.0, 500.0), line(100.0, 400.0), line(128.0, 410.0), line(156.0, 405.0)]).len(),
            3
        );
    }
}
