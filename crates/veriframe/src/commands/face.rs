//! `veriframe face-match IMAGE_A IMAGE_B`, plus helpers the other vision commands share.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::{Args, ValueEnum};
use serde::Serialize;
use veriframe_vision::decode::{DecodeLimits, decode};
use veriframe_vision::face::{
    DetectorKind, EngineOptions, FaceAnalysis, FaceEngine, FaceMatch, MatchKind, MatchPolicy,
};

use crate::cli::Context;
use crate::output::emit;

/// Which comparison, and so which threshold.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum KindArg {
    /// Two live photos.
    Selfie,
    /// IMAGE_A is an identity-document portrait (or a photo of the document).
    Document,
}

impl From<KindArg> for MatchKind {
    fn from(k: KindArg) -> Self {
        match k {
            KindArg::Selfie => MatchKind::Selfie,
            KindArg::Document => MatchKind::Document,
        }
    }
}

/// BlazeFace model to detect with.
#[derive(Debug, Clone, Copy, ValueEnum, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DetectorArg {
    /// Full-range 256×256 (default; documents and whole frames).
    #[value(name = "256")]
    Full256,
    /// Short-range 128×128 (close-up selfies).
    #[value(name = "128")]
    Front128,
    /// What the server does with selfies: 128 when the face is large, else 256.
    Selfie,
}

impl DetectorArg {
    /// Runs `FaceEngine::analyze` the way this choice says.
    pub fn analyze(self, engine: &FaceEngine, img: &image::RgbImage) -> anyhow::Result<FaceAnalysis> {
        Ok(match self {
            DetectorArg::Full256 => engine.analyze(img, DetectorKind::Full256)?,
            DetectorArg::Front128 => engine.analyze(img, DetectorKind::Front128)?,
            DetectorArg::Selfie => engine.analyze_selfie(img)?,
        })
    }
}

#[derive(Debug, Args)]
pub struct FaceMatchArgs {
    /// First image (the document when --kind document).
    pub image_a: PathBuf,
    /// Second image.
    pub image_b: PathBuf,
    /// Comparison kind; selects the threshold.
    #[arg(long, value_enum, default_value = "selfie")]
    pub kind: KindArg,
    /// Detector model.
    #[arg(long, value_enum, default_value = "256")]
    pub detector: DetectorArg,
}

/// Loads the face engine from the configured models dir (and PAD dir, if any).
pub fn load_engine(ctx: &Context) -> anyhow::Result<FaceEngine> {
    let options = EngineOptions { pad_models_dir: ctx.config.pad_models_dir.clone(), ..EngineOptions::default() };
    let dir = ctx.config.models_dir();
    FaceEngine::load(&dir, options).with_context(|| format!("loading the face models from {}", dir.display()))
}

/// Reads and decodes an image file with the server's limits.
pub fn read_image(path: &Path) -> anyhow::Result<image::RgbImage> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let decoded = decode(&bytes, &DecodeLimits::default()).with_context(|| format!("decoding {}", path.display()))?;
    Ok(decoded.image)
}

#[derive(Debug, Serialize)]
struct ImageSummary {
    path: PathBuf,
    faces_found: usize,
    analysis: FaceAnalysis,
}

#[derive(Debug, Serialize)]
struct FaceMatchOutput {
    a: ImageSummary,
    b: ImageSummary,
    /// `None` when either image has no face.
    result: Option<FaceMatch>,
    policy: MatchPolicy,
}

pub fn run(args: &FaceMatchArgs, ctx: &Context) -> anyhow::Result<()> {
    let engine = load_engine(ctx)?;
    let summarize = |path: &Path| -> anyhow::Result<ImageSummary> {
        let img = read_image(path)?;
        let analysis = args.detector.analyze(&engine, &img)?;
        Ok(ImageSummary { path: path.to_path_buf(), faces_found: analysis.face_count(), analysis })
    };
    let a = summarize(&args.image_a)?;
    let b = summarize(&args.image_b)?;
    let result = match (&a.analysis.primary, &b.analysis.primary) {
        (Some(fa), Some(fb)) => Some(engine.compare(&fa.embedding, &fb.embedding, args.kind.into())),
        _ => None,
    };
    let out = FaceMatchOutput { a, b, result, policy: *engine.policy() };
    emit(ctx.json, &out, |o| {
        let mut text = format!(
            "faces found: {} in {}, {} in {}\n",
            o.a.faces_found,
            o.a.path.display(),
            o.b.faces_found,
            o.b.path.display()
        );
        match &o.result {
            Some(m) => text.push_str(&format!(
                "distance {:.3}  similarity {:.1}/100  {}  (threshold {:.2} for {:?}; selfie {:.2}, document {:.2})",
                m.distance,
                m.similarity,
                if m.is_match { "MATCH" } else { "NO MATCH" },
                m.threshold,
                m.kind,
                o.policy.selfie_threshold,
                o.policy.document_threshold
            )),
            None => text.push_str("no comparison: a face is missing"),
        }
        text
    })?;
    anyhow::ensure!(out.result.is_some(), "no face found in at least one image");
    Ok(())
}

#[derive(Debug, Args)]
pub struct FaceInspectArgs {
    /// Images to inspect.
    #[arg(required = true)]
    pub images: Vec<PathBuf>,
    #[arg(long, value_enum, default_value = "256")]
    pub detector: DetectorArg,
}

#[derive(Debug, Serialize)]
struct Inspection {
    path: PathBuf,
    analysis: FaceAnalysis,
    /// Passive PAD of the main face, when the PAD models are configured.
    passive_pad: Option<veriframe_vision::liveness::pad::PadResult>,
}

/// `veriframe face-inspect IMAGE...`: faces, quality, pose and passive PAD per image.
pub fn inspect(args: &FaceInspectArgs, ctx: &Context) -> anyhow::Result<()> {
    let engine = load_engine(ctx)?;
    let mut out = Vec::new();
    for path in &args.images {
        let img = read_image(path)?;
        let analysis = args.detector.analyze(&engine, &img)?;
        let passive_pad = match &analysis.primary {
            Some(face) => engine.passive_pad(&img, &face.detection)?,
            None => None,
        };
        out.push(Inspection { path: path.clone(), analysis, passive_pad });
    }
    emit(ctx.json, &out, |list| {
        let mut t = String::new();
        for i in list {
            t.push_str(&format!(
                "{}: {}×{}, {} face(s)\n",
                i.path.display(),
                i.analysis.image_width,
                i.analysis.image_height,
                i.analysis.face_count()
            ));
            if let Some(f) = &i.analysis.primary {
                let q = &f.quality;
                t.push_str(&format!(
                    "  score {:.2}  width {:.0}px ({:.0} %)  eyes {:.0}px  brightness {:.0}  sharpness {:.0}  yaw {:+.3} (~{:+.0}°)  roll {:+.1}°\n",
                    q.score,
                    q.face_width_px,
                    q.face_width_ratio * 100.0,
                    q.inter_eye_px,
                    q.brightness,
                    q.sharpness,
                    q.pose.yaw,
                    q.pose.yaw_deg_estimate,
                    q.pose.roll_deg
                ));
            }
            if let Some(p) = &i.passive_pad {
                t.push_str(&format!(
                    "  passive PAD: live score {:.3} (V2 {:.3}, V1SE {:.3}) → {}\n",
                    p.live_score,
                    p.v2_live,
                    p.v1se_live,
                    if p.is_live { "live" } else { "SPOOF" }
                ));
            }
        }
        t.trim_end().to_owned()
    })
}
