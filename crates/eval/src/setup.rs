//! Where the lab finds its models and data.

use std::path::Path;

use anyhow::Context as _;
use image::RgbImage;
use veriframe_vision::decode::{DecodeLimits, decode};
use veriframe_vision::face::{EngineOptions, FaceEngine};

pub use veriframe_synth::testenv::{models_dir, testdata_dir as testdata};

/// The face engine, with passive PAD from `pad_dir` when given.
pub fn engine(pad_dir: Option<&Path>) -> anyhow::Result<FaceEngine> {
    let options = EngineOptions { pad_models_dir: pad_dir.map(Path::to_path_buf), ..EngineOptions::default() };
    FaceEngine::load(&models_dir(), options)
        .with_context(|| format!("loading the models from {} (run `veriframe models fetch`)", models_dir().display()))
}

pub fn read_image(path: &Path) -> anyhow::Result<RgbImage> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(decode(&bytes, &DecodeLimits::default()).with_context(|| format!("decoding {}", path.display()))?.image)
}
