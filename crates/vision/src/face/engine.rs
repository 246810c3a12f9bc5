//! `FaceEngine`: every face model loaded once, shared by all requests.

use std::path::{Path, PathBuf};

use image::{Rgb, RgbImage};
use serde::{Deserialize, Serialize};

use super::Embedding;
use super::align::align_chip;
use super::blazeface::{BlazeFace, DetectError, Detection, DetectorKind};
use super::dlib::{DlibEmbedder, DlibError};
use super::matching::{FaceMatch, MatchKind, MatchPolicy};
use super::quality::{FaceQuality, Pose};
use crate::liveness::pad::{PadError, PadResult, PassivePad};
use crate::liveness::{ChallengeReport, ChallengeRules, FrameMeasure, TurnDirection, evaluate_head_turn};
use crate::models::{self, ModelsError, names};
use crate::warp::{Affine, warp};

/// Errors from the face engine.
#[derive(Debug, thiserror::Error)]
pub enum FaceError {
    #[error(transparent)]
    Models(#[from] ModelsError),
    #[error(transparent)]
    Detect(#[from] DetectError),
    #[error(transparent)]
    Descriptor(#[from] DlibError),
    #[error(transparent)]
    Pad(#[from] PadError),
    #[error("the face's keypoints are degenerate; cannot align it")]
    Degenerate,
}

/// Options fixed at load time.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EngineOptions {
    /// Directory with the MiniFASNet files; passive PAD is off without it.
    pub pad_models_dir: Option<PathBuf>,
    pub policy: MatchPolicy,
    /// Detections below this score are ignored for analysis and face counts.
    pub min_face_score: f32,
    /// Detector for selfies and challenge frames, where the face is large. The short-range
    /// 128 model costs a fraction of the 256 one; when it finds no face, or a face narrower
    /// than `selfie_min_face_fraction` of the image's long side, the 256 model is used.
    pub selfie_detector: DetectorKind,
    /// Below this face width (over the long side) the 128 model's keypoints degrade: on
    /// faces/ a face at 12 % came out rolled by 9° and matched its own person at 0.57, and one
    /// at 22 % moved a document comparison from 0.571 to 0.585. Phone selfies and the
    /// challenge frames are at 28–50 %.
    pub selfie_min_face_fraction: f32,
    pub challenge: ChallengeRules,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            pad_models_dir: None,
            policy: MatchPolicy::default(),
            min_face_score: 0.7,
            selfie_detector: DetectorKind::Front128,
            selfie_min_face_fraction: 0.25,
            challenge: ChallengeRules::default(),
        }
    }
}

/// The face chosen for analysis in an image (the largest confident one) and its measures.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AnalyzedFace {
    pub detection: Detection,
    pub quality: FaceQuality,
    pub embedding: Embedding,
}

/// Everything the pipeline needs from one image.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FaceAnalysis {
    pub image_width: u32,
    pub image_height: u32,
    pub detector: DetectorKind,
    /// All faces at or above `min_face_score`, best score first.
    pub faces: Vec<Detection>,
    /// The largest of `faces`, aligned and embedded; `None` when no face was found.
    pub primary: Option<AnalyzedFace>,
}

impl FaceAnalysis {
    pub fn face_count(&self) -> usize {
        self.faces.len()
    }
}

/// Head-turn challenge plus passive PAD on the first frame.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LivenessReport {
    pub challenge: ChallengeReport,
    /// `None` when passive PAD is not installed or the first frame has no face.
    pub passive: Option<PadResult>,
    /// Challenge passed and, when present, passive PAD says live.
    pub live: bool,
}

/// Face detection, alignment, descriptors, PAD and the head-turn challenge. Load once and
/// share: `Send + Sync`, every method takes `&self`.
#[derive(Debug)]
pub struct FaceEngine {
    full: BlazeFace,
    front: BlazeFace,
    embedder: DlibEmbedder,
    pad: Option<PassivePad>,
    options: EngineOptions,
}

impl FaceEngine {
    /// Loads the models from `models_dir` (checked against their pins) and, if configured,
    /// passive PAD.
    pub fn load(models_dir: &Path, options: EngineOptions) -> Result<Self, FaceError> {
        let full = BlazeFace::load(&models::require(models_dir, names::BLAZEFACE_256)?, DetectorKind::Full256)?;
        let front = BlazeFace::load(&models::require(models_dir, names::BLAZEFACE_128)?, DetectorKind::Front128)?;
        let embedder = DlibEmbedder::load(&models::require(models_dir, names::DLIB_RESNET)?)?;
        let pad = match &options.pad_models_dir {
            Some(dir) => Some(PassivePad::load(dir)?),
            None => None,
        };
        Ok(Self { full, front, embedder, pad, options })
    }

    pub fn options(&self) -> &EngineOptions {
        &self.options
    }

    pub fn policy(&self) -> &MatchPolicy {
        &self.options.policy
    }

    pub fn has_passive_pad(&self) -> bool {
        self.pad.is_some()
    }

    pub fn detector(&self, kind: DetectorKind) -> &BlazeFace {
        match kind {
            DetectorKind::Full256 => &self.full,
            DetectorKind::Front128 => &self.front,
        }
    }

    pub fn embedder(&self) -> &DlibEmbedder {
        &self.embedder
    }

    /// Faces at or above `min_face_score`, best first.
    pub fn detect(&self, img: &RgbImage, kind: DetectorKind) -> Result<Vec<Detection>, FaceError> {
        Ok(self.detector(kind).detect(img, self.options.min_face_score)?)
    }

    /// Aligned chip and descriptor of one detected face.
    pub fn embed(&self, img: &RgbImage, det: &Detection) -> Result<(Embedding, RgbImage), FaceError> {
        let chip = align_chip(img, det).ok_or(FaceError::Degenerate)?;
        let embedding = self.embedder.embed(&[&chip])?.pop().ok_or(FaceError::Degenerate)?;
        Ok((embedding, chip))
    }

    /// Detects, picks the largest face, aligns, embeds and measures it.
    pub fn analyze(&self, img: &RgbImage, kind: DetectorKind) -> Result<FaceAnalysis, FaceError> {
        let faces = self.detect(img, kind)?;
        self.analyze_detections(img, kind, faces)
    }

    fn analyze_detections(
        &self,
        img: &RgbImage,
        kind: DetectorKind,
        faces: Vec<Detection>,
    ) -> Result<FaceAnalysis, FaceError> {
        let primary = match largest(&faces) {
            Some(det) => {
                let (embedding, chip) = self.embed(img, det)?;
                let quality = FaceQuality::measure(det, &chip, img.width()).ok_or(FaceError::Degenerate)?;
                Some(AnalyzedFace { detection: *det, quality, embedding })
            }
            None => None,
        };
        Ok(FaceAnalysis { image_width: img.width(), image_height: img.height(), detector: kind, faces, primary })
    }

    /// `analyze` for identity documents and other whole scenes: the full-range detector.
    pub fn analyze_document(&self, img: &RgbImage) -> Result<FaceAnalysis, FaceError> {
        self.analyze(img, DetectorKind::Full256)
    }

    /// `analyze` for a selfie: the configured selfie detector, falling back to the full-range
    /// one when it finds nothing (a face far from the camera).
    pub fn analyze_selfie(&self, img: &RgbImage) -> Result<FaceAnalysis, FaceError> {
        let kind = self.options.selfie_detector;
        let faces = self.detect(img, kind)?;
        let large = largest(&faces).is_some_and(|d| self.large_enough_for_selfie_detector(img, d));
        if large || kind == DetectorKind::Full256 {
            return self.analyze_detections(img, kind, faces);
        }
        self.analyze(img, DetectorKind::Full256)
    }

    fn large_enough_for_selfie_detector(&self, img: &RgbImage, det: &Detection) -> bool {
        let long_side = img.width().max(img.height()) as f32;
        det.bbox.width >= self.options.selfie_min_face_fraction * long_side
    }

    pub fn compare(&self, a: &Embedding, b: &Embedding, kind: MatchKind) -> FaceMatch {
        self.options.policy.compare(a, b, kind)
    }

    /// Passive PAD of one face; `Ok(None)` when the models are not installed.
    pub fn passive_pad(&self, img: &RgbImage, det: &Detection) -> Result<Option<PadResult>, FaceError> {
        match &self.pad {
            Some(pad) => Ok(Some(pad.score(img, &det.bbox)?)),
            None => Ok(None),
        }
    }

    /// Scores a head-turn challenge: `frames` in capture order, `direction` as requested of
    /// the subject, `mirrored` when the client flipped the frames horizontally. Passive PAD, when
    /// installed, runs on the first frame.
    pub fn head_turn(
        &self,
        frames: &[RgbImage],
        direction: TurnDirection,
        mirrored: bool,
    ) -> Result<LivenessReport, FaceError> {
        let measured = self.measure_frames(frames, mirrored)?;
        let challenge = evaluate_head_turn(&measured.measures, direction, &self.options.challenge);
        let passive = match (&self.pad, measured.first_face, frames.first()) {
            (Some(pad), Some(det), Some(frame)) => Some(pad.score(frame, &det.bbox)?),
            _ => None,
        };
        let live = challenge.passed && passive.is_none_or(|p| p.is_live);
        Ok(LivenessReport { challenge, passive, live })
    }

    /// Per-frame yaw, roll, detection and identity distance to the first frame: the inputs of
    /// `liveness::evaluate_head_turn`. Uses the selfie detector; if it misses a face in any
    /// frame, or a face is too small for it, the whole sequence is measured again with the
    /// full-range detector, so that every yaw in a sequence comes from the same model.
    pub fn measure_frames(&self, frames: &[RgbImage], mirrored: bool) -> Result<MeasuredFrames, FaceError> {
        let kind = self.options.selfie_detector;
        if kind != DetectorKind::Full256
            && let Some(measured) = self.measure_sequence(frames, mirrored, kind, true)?
        {
            return Ok(measured);
        }
        self.measure_frames_with(frames, mirrored, DetectorKind::Full256)
    }

    /// `measure_frames` with a given detector and no fallback.
    pub fn measure_frames_with(
        &self,
        frames: &[RgbImage],
        mirrored: bool,
        kind: DetectorKind,
    ) -> Result<MeasuredFrames, FaceError> {
        let measured = self.measure_sequence(frames, mirrored, kind, false)?;
        // Without `stop_when_unusable` every frame is measured and the result is `Some`.
        Ok(measured.unwrap_or(MeasuredFrames { detector: kind, measures: Vec::new(), first_face: None }))
    }

    /// With `stop_when_unusable`, returns `None` at the first frame whose face is missing or
    /// too small for the selfie detector, before any descriptor is computed.
    fn measure_sequence(
        &self,
        frames: &[RgbImage],
        mirrored: bool,
        kind: DetectorKind,
        stop_when_unusable: bool,
    ) -> Result<Option<MeasuredFrames>, FaceError> {
        let rules = &self.options.challenge;
        let mut measures = Vec::with_capacity(frames.len());
        let mut chips: Vec<Option<RgbImage>> = Vec::with_capacity(frames.len());
        let mut first_face: Option<Detection> = None;
        for (i, frame) in frames.iter().enumerate() {
            // Turned faces score lower (down to ~0.65 at 45°), so search below the rule's floor.
            let faces = self.detector(kind).detect(frame, rules.min_detection_score.min(0.6))?;
            let main = largest(&faces).copied().and_then(|d| Pose::from_keypoints(&d.keypoints).map(|p| (d, p)));
            let usable = main.is_some_and(|(d, _)| self.large_enough_for_selfie_detector(frame, &d));
            if stop_when_unusable && !usable {
                return Ok(None);
            }
            let measure = match main {
                Some((det, pose)) => {
                    if i == 0 {
                        first_face = Some(det);
                    }
                    chips.push(align_chip(frame, &det));
                    let competing = faces.iter().any(|o| o.bbox != det.bbox && o.bbox.width >= 0.5 * det.bbox.width);
                    let c = det.bbox.center();
                    FrameMeasure {
                        faces: faces.len(),
                        competing_face: competing,
                        score: det.score,
                        yaw: if mirrored { -pose.yaw } else { pose.yaw },
                        roll_deg: pose.roll_deg,
                        center_x: c.x,
                        center_y: c.y,
                        face_width: det.bbox.width,
                        identity_distance: None,
                    }
                }
                None => {
                    chips.push(None);
                    FrameMeasure {
                        faces: 0,
                        competing_face: false,
                        score: 0.0,
                        yaw: 0.0,
                        roll_deg: 0.0,
                        center_x: 0.0,
                        center_y: 0.0,
                        face_width: 0.0,
                        identity_distance: None,
                    }
                }
            };
            measures.push(measure);
        }
        // One batched descriptor run for every frame with a face.
        let present: Vec<(usize, &RgbImage)> =
            chips.iter().enumerate().filter_map(|(i, c)| c.as_ref().map(|c| (i, c))).collect();
        let refs: Vec<&RgbImage> = present.iter().map(|(_, c)| *c).collect();
        let embeddings = self.embedder.embed(&refs)?;
        if present.first().is_some_and(|(i, _)| *i == 0) {
            let reference = &embeddings[0];
            for ((i, _), e) in present.iter().zip(&embeddings) {
                measures[*i].identity_distance = Some(reference.distance(e));
            }
        }
        Ok(Some(MeasuredFrames { detector: kind, measures, first_face }))
    }
}

/// Output of `FaceEngine::measure_frames`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MeasuredFrames {
    /// The model every frame was measured with.
    pub detector: DetectorKind,
    pub measures: Vec<FrameMeasure>,
    /// The first frame's main face (PAD runs on it).
    pub first_face: Option<Detection>,
}

/// The detection with the largest box.
pub fn largest(faces: &[Detection]) -> Option<&Detection> {
    faces.iter().max_by(|a, b| a.bbox.area().total_cmp(&b.bbox.area()))
}

/// An upright square crop around a face for display (`croppedFace`, `croppedIDFace`): `scale`
/// times the face box, centred on it, clipped to the image, at most `max_side` pixels.
pub fn crop_face(img: &RgbImage, det: &Detection, scale: f32, max_side: u32) -> Option<RgbImage> {
    let b = &det.bbox;
    let side = b.width.max(b.height) * scale.max(1.0);
    if !side.is_finite() || side < 2.0 {
        return None;
    }
    let c = b.center();
    let (w, h) = (img.width() as f32, img.height() as f32);
    let x0 = (c.x - side / 2.0).clamp(0.0, w);
    let y0 = (c.y - side / 2.0).clamp(0.0, h);
    let x1 = (c.x + side / 2.0).clamp(0.0, w);
    let y1 = (c.y + side / 2.0).clamp(0.0, h);
    let (cw, ch) = (x1 - x0, y1 - y0);
    if cw < 2.0 || ch < 2.0 {
        return None;
    }
    let step = (cw.max(ch) / max_side.max(1) as f32).max(1.0);
    let (ow, oh) = ((cw / step).round() as u32, (ch / step).round() as u32);
    let map = Affine::scale_translate(step, x0, y0);
    Some(warp(img, &map, ow.max(1), oh.max(1), Rgb([0, 0, 0])))
}
