//! The models, loaded once and shared by every check and job.

use std::path::Path;

use veriframe_vision::decode::DecodeLimits;
use veriframe_vision::document::QualityThresholds;
use veriframe_vision::face::quality::CaptureThresholds;
use veriframe_vision::face::{EngineOptions, FaceEngine};
use veriframe_vision::mrz::MrzReader;

/// Everything the checks and jobs run on. `Send + Sync`: one instance serves all threads.
#[derive(Debug)]
pub struct Engines {
    pub face: FaceEngine,
    pub mrz: MrzReader,
    /// Limits for uploads (and, defensively, for stored images read back).
    pub limits: DecodeLimits,
    pub document_quality: QualityThresholds,
    pub selfie_quality: CaptureThresholds,
}

/// Loading failed: a model file is missing or unreadable.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("face models: {0}")]
    Face(String),
    #[error("MRZ models: {0}")]
    Mrz(String),
}

impl Engines {
    /// Loads the face and OCR models from `models_dir`, and passive PAD from `pad_dir` when
    /// given.
    pub fn load(models_dir: &Path, pad_dir: Option<&Path>) -> Result<Self, LoadError> {
        let options = EngineOptions { pad_models_dir: pad_dir.map(Path::to_path_buf), ..EngineOptions::default() };
        let face = FaceEngine::load(models_dir, options).map_err(|e| LoadError::Face(e.to_string()))?;
        let mrz = MrzReader::load(models_dir).map_err(|e| LoadError::Mrz(e.to_string()))?;
        Ok(Self {
            face,
            mrz,
            limits: DecodeLimits::default(),
            document_quality: QualityThresholds::default(),
            selfie_quality: CaptureThresholds::default(),
        })
    }
}
