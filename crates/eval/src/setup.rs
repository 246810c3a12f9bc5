//! Where the lab finds its models and data.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use image::RgbImage;
use veriframe_vision::decode::{DecodeLimits, decode};
use veriframe_vision::face::{EngineOptions, FaceEngine};

/// The repository's root (the lab runs from a checkout).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `VERIFRAME_MODELS_DIR`, else `veriframe-data/models` in the checkout.
pub fn models_dir() -> PathBuf {
    std::env::var_os("VERIFRAME_MODELS_DIR").map_or_else(|| repo_root().join("veriframe-data/models"), PathBuf::from)
}

/// `VERIFRAME_TESTDATA`, else `../shared/testdata` beside the checkout.
pub fn testdata() -> PathBuf {
    std::env::var_os("VERIFRAME_TESTDATA").map_or_else(|| repo_root().join("../shared/testdata"), PathBuf::from)
}

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
