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
use crate::liveness::{
    ChallengeReport, ChallengeRules, ChallengeSpec, FaceTrack, FrameMeasure, IdentityCheck, TurnMeasures, judge,
};
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

/// Head-turn challenge plus passive PAD on the start's face.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LivenessReport {
    pub challenge: ChallengeReport,
    /// `None` when passive PAD is not installed or the start shows no face.
    pub passive: Option<PadResult>,
    /// Challenge passed and, when present, passive PAD says live.
    pub live: bool,
    /// The model the frames were measured with, and what it measured.
    pub detector: DetectorKind,
    pub measures: TurnMeasures,
    /// The start's face descriptor, to compare with other captures of the session.
    #[serde(skip)]
    pub start_embedding: Option<Embedding>,
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

    /// Judges a head-turn capture: measures every frame (`frames` are `(at_ms, image)` in
    /// capture order, unmirrored unless `mirrored`), then [`crate::liveness::judge`] decides.
    /// `key` is a sharper copy of the first frame, when the page sent one: the start's identity
    /// and passive PAD (when installed) are read from it.
    pub fn head_turn(
        &self,
        frames: &[(u32, RgbImage)],
        key: Option<&RgbImage>,
        spec: &ChallengeSpec,
        mirrored: bool,
    ) -> Result<LivenessReport, FaceError> {
        let measured = self.measure_turn(frames, key, spec, mirrored)?;
        let challenge = judge(&measured.measures, spec, &self.options.challenge);
        let passive = match (&self.pad, &measured.start_face) {
            (Some(pad), Some((image, det))) => Some(pad.score(image, &det.bbox)?),
            _ => None,
        };
        let live = challenge.passed && passive.is_none_or(|p| p.is_live);
        Ok(LivenessReport {
            challenge,
            passive,
            live,
            detector: measured.detector,
            measures: measured.measures,
            start_embedding: measured.start_embedding,
        })
    }

    /// What [`crate::liveness::judge`] reads: the main face's yaw, size and place in every frame,
    /// and descriptor distances of the turned and final faces from the start's. Uses the selfie
    /// detector; when it misses the face in more frames than the rules tolerate, the whole film
    /// is measured again with the full-range detector, so every yaw of a film comes from one
    /// model.
    pub fn measure_turn<'a>(
        &self,
        frames: &'a [(u32, RgbImage)],
        key: Option<&'a RgbImage>,
        spec: &ChallengeSpec,
        mirrored: bool,
    ) -> Result<MeasuredTurn<'a>, FaceError> {
        let rules = &self.options.challenge;
        let kind = self.options.selfie_detector;
        let mut detector = kind;
        // The key frame's face does not depend on the track: find it alongside.
        let (tracked, key_faces) = rten::thread_pool().run(|| {
            rayon::join(
                || self.track(frames, kind, mirrored),
                || key.map(|image| self.detect(image, DetectorKind::Full256)).transpose(),
            )
        });
        let mut tracked = tracked?;
        let missing = tracked.iter().filter(|(m, _)| m.face.is_none()).count();
        if kind != DetectorKind::Full256 && missing as f32 > rules.max_missing_share * frames.len() as f32 {
            detector = DetectorKind::Full256;
            tracked = self.track(frames, detector, mirrored)?;
        }
        let (measures, detections): (Vec<FrameMeasure>, Vec<Option<Detection>>) = tracked.into_iter().unzip();
        // The start's face: the key frame's, else the first frame's.
        let key_face = match (key, key_faces?) {
            (Some(image), Some(faces)) => largest(&faces).copied().map(|d| (image, d)),
            _ => None,
        };
        let start_face = key_face.or_else(|| frames.first().zip(detections[0]).map(|((_, image), d)| (image, d)));
        let mut start_embedding = None;
        let identity = match &start_face {
            Some((image, det)) => {
                let picks = identity_frames(&measures, spec);
                let last = picks.last().copied();
                let mut chips = vec![align_chip(image, det).ok_or(FaceError::Degenerate)?];
                let mut used = Vec::new();
                for i in picks {
                    if let (Some(det), Some((_, image))) = (detections[i], frames.get(i))
                        && let Some(chip) = align_chip(image, &det)
                    {
                        chips.push(chip);
                        used.push(i);
                    }
                }
                let refs: Vec<&RgbImage> = chips.iter().collect();
                let embeddings = self.embedder.embed(&refs)?;
                start_embedding = embeddings.first().cloned();
                used.iter()
                    .zip(&embeddings[1..])
                    .map(|(&frame, e)| IdentityCheck {
                        frame,
                        distance: embeddings[0].distance(e),
                        turned: Some(frame) != last,
                    })
                    .collect()
            }
            None => Vec::new(),
        };
        Ok(MeasuredTurn {
            detector,
            measures: TurnMeasures { frames: measures, identity },
            start_face,
            start_embedding,
        })
    }

    /// Detects the main face of each frame with one model. One small frame's detection is too
    /// little work to spread over cores, so the frames are measured side by side instead, on the
    /// models' own thread pool.
    fn track(
        &self,
        frames: &[(u32, RgbImage)],
        kind: DetectorKind,
        mirrored: bool,
    ) -> Result<Vec<(FrameMeasure, Option<Detection>)>, FaceError> {
        use rayon::prelude::*;
        let rules = &self.options.challenge;
        rten::thread_pool().run(|| {
            frames
                .par_iter()
                .map(|(at_ms, frame)| {
                    // Turned faces score lower (down to ~0.65 at 45°), so search at the rule's floor.
                    let faces = self.detector(kind).detect(frame, rules.min_detection_score)?;
                    let main =
                        largest(&faces).copied().and_then(|d| Pose::from_keypoints(&d.keypoints).map(|p| (d, p)));
                    let competing = main.is_some_and(|(d, _)| {
                        faces.iter().any(|o| o.bbox != d.bbox && o.bbox.width >= 0.5 * d.bbox.width)
                    });
                    let face = main.map(|(d, pose)| {
                        let c = d.bbox.center();
                        let kp = &d.keypoints;
                        FaceTrack {
                            score: d.score,
                            yaw: if mirrored { -pose.yaw } else { pose.yaw },
                            roll_deg: pose.roll_deg,
                            center_x: c.x,
                            center_y: c.y,
                            face_width: d.bbox.width,
                            inter_eye: kp.inter_eye_distance(),
                            eye_mouth: kp.right_eye.mid(kp.left_eye).dist(kp.mouth),
                        }
                    });
                    Ok((
                        FrameMeasure { at_ms: *at_ms, faces: faces.len(), competing_face: competing, face },
                        main.map(|(d, _)| d),
                    ))
                })
                .collect()
        })
    }
}

/// The frames whose faces are compared with the start's: the most turned one toward the asked
/// side, the most turned one toward the other side, and the last one with a face.
fn identity_frames(measures: &[FrameMeasure], spec: &ChallengeSpec) -> Vec<usize> {
    let yaws: Vec<(usize, f32, u32)> =
        measures.iter().enumerate().filter_map(|(i, m)| m.face.map(|f| (i, f.yaw, m.at_ms))).collect();
    let mut start: Vec<f32> = yaws.iter().filter(|(_, _, t)| *t < spec.prompt_at_ms).map(|(_, y, _)| *y).collect();
    start.sort_by(f32::total_cmp);
    let baseline = start.get(start.len() / 2).copied().unwrap_or(0.0);
    let s = spec.direction.sign();
    let extreme = |sign: f32| {
        yaws.iter().max_by(|a, b| (sign * s * (a.1 - baseline)).total_cmp(&(sign * s * (b.1 - baseline)))).map(|y| y.0)
    };
    let mut picks: Vec<usize> = [extreme(1.0), extreme(-1.0), yaws.last().map(|y| y.0)].into_iter().flatten().collect();
    picks.sort_unstable();
    picks.dedup();
    picks
}

/// Output of [`FaceEngine::measure_turn`].
#[derive(Debug, Clone)]
pub struct MeasuredTurn<'a> {
    /// The model every frame was measured with.
    pub detector: DetectorKind,
    pub measures: TurnMeasures,
    /// The start's image and face (passive PAD runs on it), and the face's descriptor.
    pub start_face: Option<(&'a RgbImage, Detection)>,
    pub start_embedding: Option<Embedding>,
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
