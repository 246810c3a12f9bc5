//! Passive presentation-attack detection with MiniFASNet V2 and V1SE (Silent-Face).
//!
//! No package registry ships these weights, so they are optional and loaded from a configured
//! directory. Each model sees an 80×80 crop around the face box — 2.7× the box for V2, 4× for
//! V1SE — as BGR in 0–255; class 1 of the 3-way softmax means live, and the two softmaxes are
//! averaged. The authors trained on phone-camera faces within ±30° of frontal, so this is one
//! signal among several, never the whole decision.

use std::path::Path;

use image::{Rgb, RgbImage};
use rten::{Model, ModelOptions};
use rten_tensor::NdTensor;
use rten_tensor::prelude::*;
use serde::{Deserialize, Serialize};

use crate::face::blazeface::BoundingBox;
use crate::warp::{Affine, warp};

/// File names expected in the PAD models directory.
pub const MINIFASNET_V2: &str = "2.7_80x80_MiniFASNetV2.onnx";
pub const MINIFASNET_V1SE: &str = "4_0_0_80x80_MiniFASNetV1SE.onnx";

const INPUT: u32 = 80;

/// Errors from the passive PAD models.
#[derive(Debug, thiserror::Error)]
pub enum PadError {
    #[error("cannot load passive PAD model {path}: {detail}")]
    Load { path: String, detail: String },
    #[error("passive PAD failed: {0}")]
    Run(String),
    #[error("face box is empty or outside the image")]
    BadBox,
}

/// Outcome of passive PAD on one face.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PadResult {
    /// Mean probability of the live class over both models (0–1).
    pub live_score: f32,
    /// Live when the live class has the highest averaged probability.
    pub is_live: bool,
    pub v2_live: f32,
    pub v1se_live: f32,
}

struct Net {
    model: Model,
    /// Crop side over face-box side.
    scale: f32,
}

/// Both MiniFASNet models. `Send + Sync`.
pub struct PassivePad {
    nets: [Net; 2],
}

impl std::fmt::Debug for PassivePad {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PassivePad")
    }
}

impl PassivePad {
    /// Loads both models from `dir`.
    pub fn load(dir: &Path) -> Result<Self, PadError> {
        let load = |name: &str, scale: f32| -> Result<Net, PadError> {
            let path = dir.join(name);
            let mut options = ModelOptions::with_all_ops();
            options.prepack_weights(true);
            let model = options
                .load_file(&path)
                .map_err(|e| PadError::Load { path: path.display().to_string(), detail: e.to_string() })?;
            Ok(Net { model, scale })
        };
        Ok(Self { nets: [load(MINIFASNET_V2, 2.7)?, load(MINIFASNET_V1SE, 4.0)?] })
    }

    /// Scores the face in `bbox` (source pixels) of `img`.
    pub fn score(&self, img: &RgbImage, bbox: &BoundingBox) -> Result<PadResult, PadError> {
        let mut live = [0f32; 2];
        let mut mean = [0f32; 3];
        for (i, net) in self.nets.iter().enumerate() {
            let crop = crop_scaled(img, bbox, net.scale).ok_or(PadError::BadBox)?;
            let probs = run(&net.model, &crop)?;
            live[i] = probs[1];
            for (m, p) in mean.iter_mut().zip(probs) {
                *m += p / 2.0;
            }
        }
        let is_live = mean[1] >= mean[0] && mean[1] >= mean[2];
        Ok(PadResult { live_score: mean[1], is_live, v2_live: live[0], v1se_live: live[1] })
    }
}

fn run(model: &Model, crop: &RgbImage) -> Result<[f32; 3], PadError> {
    let plane = (INPUT * INPUT) as usize;
    let mut data = vec![0f32; 3 * plane];
    for (i, px) in crop.pixels().enumerate() {
        // BGR, 0–255.
        data[i] = f32::from(px[2]);
        data[plane + i] = f32::from(px[1]);
        data[2 * plane + i] = f32::from(px[0]);
    }
    let input = NdTensor::from_data([1, 3, INPUT as usize, INPUT as usize], data);
    let out = model.run_one(input.into(), None).map_err(|e| PadError::Run(e.to_string()))?;
    let logits: NdTensor<f32, 2> = out.try_into().map_err(|e: rten::TryFromValueError| PadError::Run(e.to_string()))?;
    if logits.shape() != [1, 3] {
        return Err(PadError::Run(format!("unexpected output shape {:?}", logits.shape())));
    }
    let l = [logits[[0, 0]], logits[[0, 1]], logits[[0, 2]]];
    let max = l.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let e = l.map(|v| (v - max).exp());
    let sum: f32 = e.iter().sum();
    if !(sum.is_finite() && sum > 0.0) {
        return Err(PadError::Run("non-finite logits".to_owned()));
    }
    Ok(e.map(|v| v / sum))
}

/// The box scaled by `scale` about its centre — shrunk if it cannot fit in the image, then
/// shifted inside it — resampled to 80×80. Mirrors how the models were trained.
fn crop_scaled(img: &RgbImage, bbox: &BoundingBox, scale: f32) -> Option<RgbImage> {
    let (w, h) = (img.width() as f32, img.height() as f32);
    let usable = bbox.width > 1.0 && bbox.height > 1.0 && bbox.x.is_finite() && bbox.y.is_finite();
    if !usable {
        return None;
    }
    let scale = scale.min((h - 1.0) / bbox.height).min((w - 1.0) / bbox.width);
    let (nw, nh) = (bbox.width * scale, bbox.height * scale);
    let c = bbox.center();
    let mut x0 = c.x - nw / 2.0;
    let mut y0 = c.y - nh / 2.0;
    x0 = x0.max(0.0).min(w - 1.0 - nw);
    y0 = y0.max(0.0).min(h - 1.0 - nh);
    // Inclusive pixel range [x0, x0 + nw] → INPUT pixels.
    let (sx, sy) = ((nw + 1.0) / INPUT as f32, (nh + 1.0) / INPUT as f32);
    let map = Affine { a: sx, b: 0.0, c: x0.floor(), d: 0.0, e: sy, f: y0.floor() };
    Some(warp(img, &map, INPUT, INPUT, Rgb([0, 0, 0])))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crop_stays_inside_the_image() {
        let img = RgbImage::from_fn(200, 100, |x, y| Rgb([x as u8, y as u8, 50]));
        // A box near the corner: the 4× crop would leave the image, so it is shifted/shrunk.
        let b = BoundingBox { x: 5.0, y: 5.0, width: 40.0, height: 40.0 };
        let crop = crop_scaled(&img, &b, 4.0).unwrap();
        assert_eq!(crop.dimensions(), (80, 80));
        // No black fill: every sample came from inside the image.
        assert!(crop.pixels().all(|p| p[2] == 50));
        assert!(crop_scaled(&img, &BoundingBox::default(), 2.7).is_none());
    }
}
