//! The OCR engine: PP-OCRv4 detection and recognition run with rten, loaded once.

use std::path::{Path, PathBuf};

use image::RgbImage;
use rten::Model;
use rten_tensor::NdTensor;
use rten_tensor::prelude::*;

use super::OcrError;
use super::charset::MrzClasses;
use super::detect::{DetectParams, LineBox, boxes_from_probability_map};
use super::recognize::{OcrLine, REC_HEIGHT, bilinear, crop_for_recognition, ctc_decode_mrz};

/// File name of the PP-OCRv4 detection model in the models directory.
pub const DET_MODEL_FILE: &str = "ch_PP-OCRv4_det_infer.onnx";
/// File name of the PP-OCRv4 recognition model in the models directory.
pub const REC_MODEL_FILE: &str = "ch_PP-OCRv4_rec_infer.onnx";

/// Largest image side accepted; anything bigger is a decoding mistake, not a document.
const MAX_SIDE: u32 = 20_000;

/// PP-OCR detection input normalisation (ImageNet statistics, applied to B, G, R planes).
const DET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
const DET_STD: [f32; 3] = [0.229, 0.224, 0.225];

/// Detection and recognition networks plus the recogniser's MRZ class table.
///
/// Load once and share: inference takes `&self`, and the type is `Send + Sync`.
pub struct OcrEngine {
    det: Model,
    rec: Model,
    classes: MrzClasses,
}

impl std::fmt::Debug for OcrEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OcrEngine").field("classes", &self.classes.num_classes).finish_non_exhaustive()
    }
}

impl OcrEngine {
    /// Loads both models from `models_dir` (files [`DET_MODEL_FILE`] and [`REC_MODEL_FILE`]).
    pub fn load(models_dir: &Path) -> Result<Self, OcrError> {
        Self::load_files(&models_dir.join(DET_MODEL_FILE), &models_dir.join(REC_MODEL_FILE))
    }

    /// Loads the models from explicit paths.
    pub fn load_files(det_path: &Path, rec_path: &Path) -> Result<Self, OcrError> {
        let det = load_model(det_path)?;
        let rec = load_model(rec_path)?;
        let dictionary = rec
            .metadata()
            .get("character")
            .ok_or_else(|| OcrError::Dictionary("the recognition model has no `character` metadata".into()))?;
        let classes = MrzClasses::from_dictionary(dictionary)?;
        Ok(Self { det, rec, classes })
    }

    /// Runs the text detector with the image's long side scaled to `long_side` pixels and
    /// returns line boxes in image coordinates, top to bottom.
    pub fn detect(&self, image: &RgbImage, long_side: u32, params: &DetectParams) -> Result<Vec<LineBox>, OcrError> {
        check_image(image)?;
        let (w, h) = (image.width() as f32, image.height() as f32);
        let scale = long_side.max(32) as f32 / w.max(h);
        let map_w = round_up_32((w * scale).round().max(1.0) as usize);
        let map_h = round_up_32((h * scale).round().max(1.0) as usize);
        let content_w = ((w * scale).round() as usize).clamp(1, map_w);
        let content_h = ((h * scale).round() as usize).clamp(1, map_h);
        let input = det_input(image, map_w, map_h, content_w, content_h);
        let output = self.det.run_one(input.view().into(), None)?;
        let map: NdTensor<f32, 4> =
            output.try_into().map_err(|_| OcrError::UnexpectedOutput("detection output is not a 4-d float tensor"))?;
        let [_, _, oh, ow] = map.shape();
        if oh != map_h || ow != map_w {
            return Err(OcrError::UnexpectedOutput("detection map size differs from its input"));
        }
        let data = map.to_vec();
        let boxes = boxes_from_probability_map(&data, ow, oh, params);
        // Map pixels to image pixels; content was scaled by `scale` and sits at the origin.
        Ok(boxes.into_iter().map(|b| b.scaled(1.0 / scale)).collect())
    }

    /// Recognises one line, sampled at `width × 48` from the rotated box.
    pub fn recognize(&self, image: &RgbImage, line: &LineBox, width: usize) -> Result<OcrLine, OcrError> {
        check_image(image)?;
        let width = width.clamp(32, 4096);
        let data = crop_for_recognition(image, line, width);
        let input = NdTensor::from_data([1, 3, REC_HEIGHT, width], data);
        let output = self.rec.run_one(input.view().into(), None)?;
        let probs: NdTensor<f32, 3> = output
            .try_into()
            .map_err(|_| OcrError::UnexpectedOutput("recognition output is not a 3-d float tensor"))?;
        let [_, steps, classes] = probs.shape();
        if classes != self.classes.num_classes {
            return Err(OcrError::UnexpectedOutput("recognition class count differs from the dictionary"));
        }
        Ok(ctc_decode_mrz(&probs.to_vec(), steps, &self.classes))
    }
}

fn load_model(path: &Path) -> Result<Model, OcrError> {
    if !path.is_file() {
        return Err(OcrError::ModelMissing(path.to_path_buf()));
    }
    Model::load_file(path)
        .map_err(|source| OcrError::ModelLoad { path: PathBuf::from(path), message: source.to_string() })
}

fn check_image(image: &RgbImage) -> Result<(), OcrError> {
    let (w, h) = image.dimensions();
    if w < 8 || h < 8 || w > MAX_SIDE || h > MAX_SIDE {
        return Err(OcrError::ImageSize { width: w, height: h });
    }
    Ok(())
}

fn round_up_32(v: usize) -> usize {
    v.div_ceil(32).max(1) * 32
}

/// Resamples `image` into the top-left `content_w × content_h` of a `map_w × map_h`
/// detection input (BGR planes, ImageNet-normalised); the padding is the normalised mean.
fn det_input(image: &RgbImage, map_w: usize, map_h: usize, content_w: usize, content_h: usize) -> NdTensor<f32, 4> {
    let plane = map_w * map_h;
    let mut data = vec![0f32; 3 * plane];
    let (iw, ih) = (image.width() as usize, image.height() as usize);
    let sx = iw as f32 / content_w as f32;
    let sy = ih as f32 / content_h as f32;
    let taps_x = (sx.ceil() as usize).clamp(1, 4);
    let taps_y = (sy.ceil() as usize).clamp(1, 4);
    let raw = image.as_raw();
    let norm = 1.0 / (taps_x * taps_y) as f32;
    for y in 0..content_h {
        for x in 0..content_w {
            let mut acc = [0f32; 3];
            for ty in 0..taps_y {
                let fy = (y as f32 + (ty as f32 + 0.5) / taps_y as f32) * sy - 0.5;
                for tx in 0..taps_x {
                    let fx = (x as f32 + (tx as f32 + 0.5) / taps_x as f32) * sx - 0.5;
                    let px = bilinear(raw, iw, ih, fx, fy);
                    acc[0] += px[0];
                    acc[1] += px[1];
                    acc[2] += px[2];
                }
            }
            let idx = y * map_w + x;
            // planes in B, G, R order
            for (p, c) in [2usize, 1, 0].into_iter().enumerate() {
                data[p * plane + idx] = (acc[c] * norm / 255.0 - DET_MEAN[p]) / DET_STD[p];
            }
        }
    }
    NdTensor::from_data([1, 3, map_h, map_w], data)
}
