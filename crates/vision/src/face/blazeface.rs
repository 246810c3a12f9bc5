//! MediaPipe BlazeFace (keijiro's ONNX export): letterbox, run, decode anchors, weighted NMS.
//!
//! Both exports share one output layout: a 16×16 grid with 2 anchors per cell (`Identity`,
//! `Identity_2`) and an 8×8 grid with 6 anchors per cell (`Identity_1`, `Identity_3`), 896
//! anchors in all. Anchor centres sit at cell centres in normalised coordinates; box and
//! keypoint regressors are offsets in input pixels. The back-256 model uses the same grids as
//! front-128, at twice the stride.

use std::path::Path;

use image::{Rgb, RgbImage};
use rten::{Model, ModelOptions, NodeId};
use rten_tensor::NdTensor;
use rten_tensor::prelude::*;
use serde::{Deserialize, Serialize};

use crate::warp::{Affine, letterbox};

/// Which BlazeFace model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DetectorKind {
    /// Full-range 256×256: documents and whole frames, faces from ~5 % of the frame.
    Full256,
    /// Short-range 128×128: selfie crops where the face fills much of the frame.
    Front128,
}

impl DetectorKind {
    pub fn input_size(self) -> u32 {
        match self {
            DetectorKind::Full256 => 256,
            DetectorKind::Front128 => 128,
        }
    }
}

/// A point in source-image pixels.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Point {
    pub x: f32,
    pub y: f32,
}

impl Point {
    pub fn new(x: f32, y: f32) -> Self {
        Self { x, y }
    }

    pub fn mid(self, o: Point) -> Point {
        Point::new((self.x + o.x) / 2.0, (self.y + o.y) / 2.0)
    }

    pub fn dist(self, o: Point) -> f32 {
        (self.x - o.x).hypot(self.y - o.y)
    }
}

/// Axis-aligned box in source-image pixels.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct BoundingBox {
    pub x: f32,
    pub y: f32,
    pub width: f32,
    pub height: f32,
}

impl BoundingBox {
    pub fn center(&self) -> Point {
        Point::new(self.x + self.width / 2.0, self.y + self.height / 2.0)
    }

    pub fn area(&self) -> f32 {
        self.width.max(0.0) * self.height.max(0.0)
    }

    pub fn iou(&self, o: &BoundingBox) -> f32 {
        let x0 = self.x.max(o.x);
        let y0 = self.y.max(o.y);
        let x1 = (self.x + self.width).min(o.x + o.width);
        let y1 = (self.y + self.height).min(o.y + o.height);
        let inter = (x1 - x0).max(0.0) * (y1 - y0).max(0.0);
        let union = self.area() + o.area() - inter;
        if union > 0.0 { inter / union } else { 0.0 }
    }
}

/// BlazeFace's six keypoints, named from the subject's point of view: in an unmirrored frame
/// the subject's right eye is on the image's left.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Keypoints {
    pub right_eye: Point,
    pub left_eye: Point,
    pub nose_tip: Point,
    pub mouth: Point,
    pub right_ear: Point,
    pub left_ear: Point,
}

impl Keypoints {
    fn from_array(p: [Point; 6]) -> Self {
        Self { right_eye: p[0], left_eye: p[1], nose_tip: p[2], mouth: p[3], right_ear: p[4], left_ear: p[5] }
    }

    pub fn inter_eye_distance(&self) -> f32 {
        self.right_eye.dist(self.left_eye)
    }
}

/// One detected face.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Detection {
    /// Which model found it (alignment uses a per-model keypoint template).
    pub detector: DetectorKind,
    /// Detector confidence (0–1).
    pub score: f32,
    pub bbox: BoundingBox,
    pub keypoints: Keypoints,
}

/// Errors from running a detector.
#[derive(Debug, thiserror::Error)]
pub enum DetectError {
    #[error("cannot load the face detector {path}: {detail}")]
    Load { path: String, detail: String },
    #[error("face detector failed: {0}")]
    Run(String),
    #[error("image too small to search for faces ({0}×{1})")]
    TooSmall(u32, u32),
}

/// Candidates below this never reach NMS.
pub const CANDIDATE_SCORE: f32 = 0.5;
/// Overlap above which candidates are merged (MediaPipe's weighted NMS).
const NMS_IOU: f32 = 0.3;

/// A loaded BlazeFace model. `Send + Sync`.
pub struct BlazeFace {
    kind: DetectorKind,
    model: Model,
    input: NodeId,
    outputs: [NodeId; 4],
}

impl std::fmt::Debug for BlazeFace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlazeFace").field("kind", &self.kind).finish()
    }
}

impl BlazeFace {
    pub fn load(path: &Path, kind: DetectorKind) -> Result<Self, DetectError> {
        let load_err = |detail: String| DetectError::Load { path: path.display().to_string(), detail };
        let mut options = ModelOptions::with_all_ops();
        options.prepack_weights(true);
        let model = options.load_file(path).map_err(|e| load_err(e.to_string()))?;
        let id = |name: &str| model.node_id(name).map_err(|e| load_err(e.to_string()));
        let input = id("input:0")?;
        let outputs = [id("Identity:0")?, id("Identity_1:0")?, id("Identity_2:0")?, id("Identity_3:0")?];
        let expected = kind.input_size() as usize;
        let shape = model.node_info(input).and_then(|i| i.shape());
        let size_ok = shape.is_some_and(|s| {
            s.len() == 4
                && matches!(s[1], rten::Dimension::Fixed(v) if v == expected)
                && matches!(s[2], rten::Dimension::Fixed(v) if v == expected)
        });
        if !size_ok {
            return Err(load_err(format!("expected a {expected}×{expected} input")));
        }
        Ok(Self { kind, model, input, outputs })
    }

    pub fn kind(&self) -> DetectorKind {
        self.kind
    }

    /// All faces with score ≥ `min_score` (at least `CANDIDATE_SCORE`), best first.
    pub fn detect(&self, img: &RgbImage, min_score: f32) -> Result<Vec<Detection>, DetectError> {
        if img.width() < 8 || img.height() < 8 {
            return Err(DetectError::TooSmall(img.width(), img.height()));
        }
        let size = self.kind.input_size();
        let (boxed, map) = letterbox(img, size, Rgb([0, 0, 0]));
        let s = size as usize;
        let data: Vec<f32> = boxed.as_raw().iter().map(|&v| f32::from(v) / 127.5 - 1.0).collect();
        let input = NdTensor::from_data([1, s, s, 3], data);
        let outs = self
            .model
            .run(vec![(self.input, input.into())], &self.outputs, None)
            .map_err(|e| DetectError::Run(e.to_string()))?;
        let mut tensors = Vec::with_capacity(4);
        for out in outs {
            let t: NdTensor<f32, 3> =
                out.try_into().map_err(|e: rten::TryFromValueError| DetectError::Run(e.to_string()))?;
            tensors.push(t);
        }
        let grids = [(&tensors[0], &tensors[2], 16usize, 2usize), (&tensors[1], &tensors[3], 8, 6)];
        let mut candidates = Vec::new();
        for (scores, boxes, cells, per_cell) in grids {
            if scores.shape() != [1, cells * cells * per_cell, 1] || boxes.shape() != [1, cells * cells * per_cell, 16]
            {
                return Err(DetectError::Run(format!(
                    "unexpected output shapes {:?} / {:?}",
                    scores.shape(),
                    boxes.shape()
                )));
            }
            // Shapes were checked above; `to_vec` also copes with non-contiguous outputs.
            decode_grid(
                &scores.to_vec(),
                &boxes.to_vec(),
                cells,
                per_cell,
                size as f32,
                min_score.max(CANDIDATE_SCORE),
                &mut candidates,
            );
        }
        let merged = weighted_nms(candidates);
        Ok(merged.into_iter().map(|d| to_source(&d, &map, size as f32, self.kind)).collect())
    }
}

/// A detection in normalised letterbox coordinates (0–1).
#[derive(Debug, Clone, Copy)]
struct RawDetection {
    score: f32,
    /// cx, cy, w, h, then 6 (x, y) keypoints.
    geom: [f32; 16],
}

impl RawDetection {
    fn bbox(&self) -> BoundingBox {
        let g = &self.geom;
        BoundingBox { x: g[0] - g[2] / 2.0, y: g[1] - g[3] / 2.0, width: g[2], height: g[3] }
    }
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x.clamp(-80.0, 80.0)).exp())
}

fn decode_grid(
    scores: &[f32],
    boxes: &[f32],
    cells: usize,
    per_cell: usize,
    size: f32,
    min_score: f32,
    out: &mut Vec<RawDetection>,
) {
    for (i, &logit) in scores.iter().enumerate() {
        let score = sigmoid(logit);
        if score < min_score || !score.is_finite() {
            continue;
        }
        let cell = i / per_cell;
        let ax = ((cell % cells) as f32 + 0.5) / cells as f32;
        let ay = ((cell / cells) as f32 + 0.5) / cells as f32;
        let r = &boxes[i * 16..i * 16 + 16];
        let mut geom = [0f32; 16];
        geom[0] = ax + r[0] / size;
        geom[1] = ay + r[1] / size;
        geom[2] = r[2] / size;
        geom[3] = r[3] / size;
        for k in 0..6 {
            geom[4 + 2 * k] = ax + r[4 + 2 * k] / size;
            geom[5 + 2 * k] = ay + r[5 + 2 * k] / size;
        }
        if geom.iter().all(|v| v.is_finite()) && geom[2] > 0.0 && geom[3] > 0.0 {
            out.push(RawDetection { score, geom });
        }
    }
}

/// MediaPipe's weighted NMS: each cluster (IoU > 0.3 with its best member) becomes the
/// score-weighted mean of its members' geometry, keeping the best score.
fn weighted_nms(mut candidates: Vec<RawDetection>) -> Vec<RawDetection> {
    candidates.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut out = Vec::new();
    while let Some(best) = candidates.first().copied() {
        let best_box = best.bbox();
        let mut sum = [0f32; 16];
        let mut weight = 0f32;
        candidates.retain(|c| {
            if c.bbox().iou(&best_box) > NMS_IOU {
                for (s, g) in sum.iter_mut().zip(&c.geom) {
                    *s += g * c.score;
                }
                weight += c.score;
                false
            } else {
                true
            }
        });
        if weight <= 0.0 {
            // Degenerate box that does not even overlap itself: drop it.
            candidates.retain(|c| c.geom != best.geom);
            continue;
        }
        sum.iter_mut().for_each(|s| *s /= weight);
        out.push(RawDetection { score: best.score, geom: sum });
    }
    out
}

fn to_source(d: &RawDetection, map: &Affine, size: f32, detector: DetectorKind) -> Detection {
    let pt = |x: f32, y: f32| {
        let (sx, sy) = map.apply(x * size, y * size);
        Point::new(sx, sy)
    };
    let b = d.bbox();
    let top_left = pt(b.x, b.y);
    let bottom_right = pt(b.x + b.width, b.y + b.height);
    let g = &d.geom;
    let kp = std::array::from_fn(|k| pt(g[4 + 2 * k], g[5 + 2 * k]));
    Detection {
        detector,
        score: d.score,
        bbox: BoundingBox {
            x: top_left.x,
            y: top_left.y,
            width: bottom_right.x - top_left.x,
            height: bottom_right.y - top_left.y,
        },
        keypoints: Keypoints::from_array(kp),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(score: f32, cx: f32, cy: f32, s: f32) -> RawDetection {
        let mut geom = [0f32; 16];
        geom[..4].copy_from_slice(&[cx, cy, s, s]);
        for k in 0..6 {
            geom[4 + 2 * k] = cx;
            geom[5 + 2 * k] = cy;
        }
        RawDetection { score, geom }
    }

    #[test]
    fn nms_merges_overlaps_with_score_weights() {
        let merged = weighted_nms(vec![raw(0.9, 0.50, 0.5, 0.2), raw(0.6, 0.53, 0.5, 0.2), raw(0.8, 0.10, 0.1, 0.1)]);
        assert_eq!(merged.len(), 2);
        assert_eq!(merged[0].score, 0.9);
        let expected_cx = (0.9 * 0.50 + 0.6 * 0.53) / 1.5;
        assert!((merged[0].geom[0] - expected_cx).abs() < 1e-6);
        assert!((merged[1].geom[0] - 0.10).abs() < 1e-6);
    }

    #[test]
    fn decoding_uses_cell_centres_and_pixel_offsets() {
        // One anchor per cell on a 2×2 grid; the second cell (row 0, col 1) fires.
        let scores = [-10.0, 5.0, -10.0, -10.0];
        let mut boxes = [0f32; 64];
        boxes[16..20].copy_from_slice(&[8.0, -4.0, 32.0, 16.0]);
        let mut out = Vec::new();
        decode_grid(&scores, &boxes, 2, 1, 128.0, 0.5, &mut out);
        assert_eq!(out.len(), 1);
        let g = out[0].geom;
        assert!((g[0] - (0.75 + 8.0 / 128.0)).abs() < 1e-6);
        assert!((g[1] - (0.25 - 4.0 / 128.0)).abs() < 1e-6);
        assert!((g[2] - 0.25).abs() < 1e-6 && (g[3] - 0.125).abs() < 1e-6);
        assert!((g[4] - 0.75).abs() < 1e-6, "keypoints are offsets from the anchor");
    }

    #[test]
    fn iou_basics() {
        let a = BoundingBox { x: 0.0, y: 0.0, width: 2.0, height: 2.0 };
        let b = BoundingBox { x: 1.0, y: 1.0, width: 2.0, height: 2.0 };
        assert!((a.iou(&b) - 1.0 / 7.0).abs() < 1e-6);
        assert_eq!(a.iou(&BoundingBox::default()), 0.0);
    }
}
