//! Post-processing of the PP-OCRv4 text detector: probability map to oriented line boxes.
//!
//! The detector (DB network) outputs, per pixel, the probability that it lies inside a
//! shrunk text region. Regions are thresholded, split into connected components, and each
//! component becomes an oriented rectangle (principal axis of its pixels) that is grown back
//! by `area * unclip / perimeter`, the same expansion the network was trained to expect.
//! Orientation matters for MRZ lines: a 44-character line photographed 1° off level drifts by
//! more than half a character height from one end to the other.

use serde::{Deserialize, Serialize};

/// Thresholds for turning the probability map into boxes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DetectParams {
    /// A pixel belongs to text when its probability exceeds this.
    pub pixel_threshold: f32,
    /// A component is kept when the mean probability of its pixels reaches this.
    pub box_threshold: f32,
    /// Growth factor applied to the shrunk region (DB "unclip ratio").
    pub unclip_ratio: f32,
    /// Components whose short side is below this many map pixels are noise.
    pub min_side: f32,
}

impl Default for DetectParams {
    fn default() -> Self {
        Self { pixel_threshold: 0.3, box_threshold: 0.5, unclip_ratio: 1.6, min_side: 3.0 }
    }
}

/// An oriented rectangle around one detected text line, in some image's pixel coordinates.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LineBox {
    /// Centre, x.
    pub cx: f32,
    /// Centre, y.
    pub cy: f32,
    /// Length along the reading direction.
    pub width: f32,
    /// Extent across the reading direction.
    pub height: f32,
    /// Angle of the reading direction, radians, in (-π/2, π/2]; 0 is level text.
    pub angle: f32,
    /// Mean detector probability over the component.
    pub score: f32,
}

impl LineBox {
    /// Ratio of length to height; MRZ lines are long and thin.
    pub fn aspect(&self) -> f32 {
        self.width / self.height.max(1e-3)
    }

    /// Unit vector along the reading direction.
    pub fn axis(&self) -> (f32, f32) {
        (self.angle.cos(), self.angle.sin())
    }

    /// The same box in a coordinate system scaled by `factor` (map to image).
    pub fn scaled(&self, factor: f32) -> Self {
        Self {
            cx: self.cx * factor,
            cy: self.cy * factor,
            width: self.width * factor,
            height: self.height * factor,
            ..*self
        }
    }

    /// Axis-aligned bounds `(x0, y0, x1, y1)` of the rotated rectangle.
    pub fn bounds(&self) -> (f32, f32, f32, f32) {
        let (ux, uy) = self.axis();
        let hw = self.width / 2.0;
        let hh = self.height / 2.0;
        let ex = (ux * hw).abs() + (uy * hh).abs();
        let ey = (uy * hw).abs() + (ux * hh).abs();
        (self.cx - ex, self.cy - ey, self.cx + ex, self.cy + ey)
    }
}

/// Per-component running sums gathered in one pass over the labelled map.
#[derive(Debug, Clone, Copy, Default)]
struct Moments {
    n: f64,
    prob: f64,
    sx: f64,
    sy: f64,
    sxx: f64,
    syy: f64,
    sxy: f64,
}

/// Finds text boxes in a `width × height` row-major probability map.
///
/// Returned boxes are in map pixel coordinates, sorted top to bottom.
pub fn boxes_from_probability_map(map: &[f32], width: usize, height: usize, params: &DetectParams) -> Vec<LineBox> {
    if width == 0 || height == 0 || map.len() < width * height {
        return Vec::new();
    }
    let labels = label_components(map, width, height, params.pixel_threshold);
    let count = labels.iter().copied().max().map_or(0, |m| m as usize);
    if count == 0 {
        return Vec::new();
    }
    let mut moments = vec![Moments::default(); count + 1];
    for (i, &label) in labels.iter().enumerate() {
        if label == 0 {
            continue;
        }
        let x = (i % width) as f64 + 0.5;
        let y = (i / width) as f64 + 0.5;
        let m = &mut moments[label as usize];
        m.n += 1.0;
        m.prob += f64::from(map[i]);
        m.sx += x;
        m.sy += y;
        m.sxx += x * x;
        m.syy += y * y;
        m.sxy += x * y;
    }
    // Principal axis per component, then a second pass for the extents along it.
    let axes: Vec<(f64, f64, f64, f64)> = moments
        .iter()
        .map(|m| {
            if m.n < 1.0 {
                return (0.0, 0.0, 1.0, 0.0);
            }
            let mx = m.sx / m.n;
            let my = m.sy / m.n;
            let cxx = m.sxx / m.n - mx * mx;
            let cyy = m.syy / m.n - my * my;
            let cxy = m.sxy / m.n - mx * my;
            let theta = 0.5 * (2.0 * cxy).atan2(cxx - cyy);
            (mx, my, theta.cos(), theta.sin())
        })
        .collect();
    let mut extents = vec![[f64::MAX, f64::MIN, f64::MAX, f64::MIN]; count + 1];
    for (i, &label) in labels.iter().enumerate() {
        if label == 0 {
            continue;
        }
        let (mx, my, ux, uy) = axes[label as usize];
        let dx = (i % width) as f64 + 0.5 - mx;
        let dy = (i / width) as f64 + 0.5 - my;
        let along = dx * ux + dy * uy;
        let across = -dx * uy + dy * ux;
        let e = &mut extents[label as usize];
        e[0] = e[0].min(along);
        e[1] = e[1].max(along);
        e[2] = e[2].min(across);
        e[3] = e[3].max(across);
    }
    let mut boxes = Vec::new();
    for label in 1..=count {
        let m = &moments[label];
        if m.n < 4.0 {
            continue;
        }
        let score = (m.prob / m.n) as f32;
        if score < params.box_threshold {
            continue;
        }
        let (mx, my, ux, uy) = axes[label];
        let e = extents[label];
        let w = (e[1] - e[0] + 1.0) as f32;
        let h = (e[3] - e[2] + 1.0) as f32;
        if w.min(h) < params.min_side {
            continue;
        }
        // Centre of the extents (not the centroid: glyph mass is uneven along a line).
        let mid_along = (e[0] + e[1]) / 2.0;
        let mid_across = (e[2] + e[3]) / 2.0;
        let cx = (mx + mid_along * ux - mid_across * uy) as f32;
        let cy = (my + mid_along * uy + mid_across * ux) as f32;
        let grow = w * h * params.unclip_ratio / (2.0 * (w + h));
        let (mut width_out, mut height_out, mut angle) = (w + 2.0 * grow, h + 2.0 * grow, uy.atan2(ux) as f32);
        if height_out > width_out {
            std::mem::swap(&mut width_out, &mut height_out);
            angle += std::f32::consts::FRAC_PI_2;
        }
        boxes.push(LineBox { cx, cy, width: width_out, height: height_out, angle: normalize_angle(angle), score });
    }
    boxes.sort_by(|a, b| a.cy.total_cmp(&b.cy));
    boxes
}

/// Joins boxes that are pieces of one text line.
///
/// Under noise the detector tends to break an MRZ line inside a long filler run (`<<<<`),
/// and a line recognised in two pieces loses the run's length. Pieces are joined when they
/// have similar heights and angles, sit on each other's axis, and are separated by a gap of
/// at most a few character heights.
pub fn merge_collinear(mut boxes: Vec<LineBox>) -> Vec<LineBox> {
    loop {
        let mut merged = None;
        'search: for i in 0..boxes.len() {
            for j in 0..boxes.len() {
                if i != j
                    && let Some(joined) = join(&boxes[i], &boxes[j])
                {
                    merged = Some((i, j, joined));
                    break 'search;
                }
            }
        }
        let Some((i, j, joined)) = merged else {
            break;
        };
        boxes[i] = joined;
        boxes.swap_remove(j);
    }
    boxes.sort_by(|a, b| a.cy.total_cmp(&b.cy));
    boxes
}

/// `b` joined onto `a` (the longer one) when both are pieces of one line.
fn join(a: &LineBox, b: &LineBox) -> Option<LineBox> {
    if a.width < b.width {
        return None;
    }
    let h = a.height.max(b.height);
    if h <= 0.0 || a.height.min(b.height) * 1.6 < h {
        return None;
    }
    let mut dangle = (a.angle - b.angle).abs();
    if dangle > std::f32::consts::FRAC_PI_2 {
        dangle = std::f32::consts::PI - dangle;
    }
    // Short pieces have noisy angles; the offset test below is what matters.
    if dangle > 4f32.to_radians() {
        return None;
    }
    let (ux, uy) = a.axis();
    let (dx, dy) = (b.cx - a.cx, b.cy - a.cy);
    let along = dx * ux + dy * uy;
    let across = -dx * uy + dy * ux;
    if across.abs() > 0.35 * h {
        return None;
    }
    let gap = along.abs() - (a.width + b.width) / 2.0;
    if gap > 2.5 * h {
        return None;
    }
    // `b`'s ends projected on `a`'s axis.
    let (bux, buy) = b.axis();
    let b_half = (b.width / 2.0) * (bux * ux + buy * uy).abs();
    let lo = (-a.width / 2.0).min(along - b_half);
    let hi = (a.width / 2.0).max(along + b_half);
    let mid = (lo + hi) / 2.0;
    let total = a.width + b.width;
    Some(LineBox {
        cx: a.cx + mid * ux,
        cy: a.cy + mid * uy,
        width: hi - lo,
        height: h,
        angle: a.angle,
        score: (a.score * a.width + b.score * b.width) / total.max(1e-3),
    })
}

/// Folds an angle into (-π/2, π/2] so that the reading direction points right.
fn normalize_angle(mut angle: f32) -> f32 {
    use std::f32::consts::PI;
    while angle > PI / 2.0 {
        angle -= PI;
    }
    while angle <= -PI / 2.0 {
        angle += PI;
    }
    angle
}

/// 8-connected component labelling of `map > threshold` (labels start at 1; 0 is background).
fn label_components(map: &[f32], width: usize, height: usize, threshold: f32) -> Vec<u32> {
    let mut labels = vec![0u32; width * height];
    let mut next = 0u32;
    let mut stack: Vec<usize> = Vec::new();
    for start in 0..width * height {
        if labels[start] != 0 || map[start] <= threshold {
            continue;
        }
        next += 1;
        labels[start] = next;
        stack.push(start);
        while let Some(i) = stack.pop() {
            let x = i % width;
            let y = i / width;
            for dy in [-1i64, 0, 1] {
                for dx in [-1i64, 0, 1] {
                    if dx == 0 && dy == 0 {
                        continue;
                    }
                    let nx = x as i64 + dx;
                    let ny = y as i64 + dy;
                    if nx < 0 || ny < 0 || nx >= width as i64 || ny >= height as i64 {
                        continue;
                    }
                    let j = ny as usize * width + nx as usize;
                    if labels[j] == 0 && map[j] > threshold {
                        labels[j] = next;
                        stack.push(j);
                    }
                }
            }
        }
    }
    labels
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paint(map: &mut [f32], width: usize, f: impl Fn(f32, f32) -> bool) {
        for (i, v) in map.iter_mut().enumerate() {
            let x = (i % width) as f32 + 0.5;
            let y = (i / width) as f32 + 0.5;
            if f(x, y) {
                *v = 0.9;
            }
        }
    }

    #[test]
    fn finds_level_and_tilted_lines() {
        let (w, h) = (200, 100);
        let mut map = vec![0.0f32; w * h];
        // A level bar 150×6 centred at (100, 20).
        paint(&mut map, w, |x, y| (25.0..175.0).contains(&x) && (17.0..23.0).contains(&y));
        // A bar tilted by 3° centred at (100, 70).
        let t = 3f32.to_radians();
        paint(&mut map, w, |x, y| {
            let (dx, dy) = (x - 100.0, y - 70.0);
            let along = dx * t.cos() + dy * t.sin();
            let across = -dx * t.sin() + dy * t.cos();
            along.abs() < 75.0 && across.abs() < 3.0
        });
        let boxes = boxes_from_probability_map(&map, w, h, &DetectParams::default());
        assert_eq!(boxes.len(), 2, "{boxes:?}");
        let level = boxes[0];
        assert!((level.cx - 100.0).abs() < 1.0 && (level.cy - 20.0).abs() < 1.0);
        assert!(level.angle.abs() < 0.01);
        // Grown by area*1.6/perimeter on each side.
        let grow = 150.0 * 6.0 * 1.6 / (2.0 * 156.0);
        assert!((level.width - (150.0 + 2.0 * grow)).abs() < 1.5, "{level:?}");
        assert!((level.height - (6.0 + 2.0 * grow)).abs() < 1.5, "{level:?}");
        let tilted = boxes[1];
        assert!((tilted.angle - t).abs() < 0.01, "{tilted:?}");
        assert!(tilted.aspect() > 8.0);
    }

    #[test]
    fn pieces_of_one_line_are_joined_and_neighbours_are_not() {
        let piece = |cx: f32, cy: f32, width: f32| LineBox { cx, cy, width, height: 30.0, angle: 0.0, score: 0.8 };
        // Line 1 broken in two with a 40 px gap; line 2 directly below stays separate.
        let boxes = vec![piece(300.0, 100.0, 500.0), piece(700.0, 101.0, 260.0), piece(420.0, 140.0, 800.0)];
        let merged = merge_collinear(boxes);
        assert_eq!(merged.len(), 2, "{merged:?}");
        let line = merged[0];
        assert!((line.cx - 440.0).abs() < 1.0 && (line.width - 780.0).abs() < 1.0, "{line:?}");
        assert!((merged[1].cy - 140.0).abs() < 0.1);
        // Far apart on the same row: not joined.
        let apart = merge_collinear(vec![piece(100.0, 50.0, 100.0), piece(600.0, 50.0, 100.0)]);
        assert_eq!(apart.len(), 2);
    }

    #[test]
    fn weak_and_tiny_components_are_dropped() {
        let (w, h) = (50, 50);
        let mut map = vec![0.0f32; w * h];
        paint(&mut map, w, |x, y| x < 2.0 && y < 2.0); // 2×2 speck
        for v in map.iter_mut().skip(20 * w).take(2 * w) {
            *v = 0.35; // wide but weak band
        }
        assert!(boxes_from_probability_map(&map, w, h, &DetectParams::default()).is_empty());
    }

    #[test]
    fn degenerate_maps_are_harmless() {
        assert!(boxes_from_probability_map(&[], 0, 0, &DetectParams::default()).is_empty());
        assert!(boxes_from_probability_map(&[1.0; 3], 2, 2, &DetectParams::default()).is_empty());
        let nan = vec![f32::NAN; 100];
        assert!(boxes_from_probability_map(&nan, 10, 10, &DetectParams::default()).is_empty());
    }
}
