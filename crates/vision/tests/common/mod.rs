//! Locating models and test data for model-backed tests.
//!
//! Models: `VERIFRAME_MODELS_DIR`, else `<repo>/veriframe-data/models`. PAD models:
//! `VERIFRAME_PAD_MODELS_DIR`, else `../shared/testdata/models-test-only`. Test data:
//! `../shared/testdata`. When something is missing the test is skipped with a message, except
//! under `CI=true`, where it fails.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use veriframe_vision::face::{EngineOptions, FaceEngine};

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Returns `Some(path)` when `path` exists; otherwise skips (`None`) or, in CI, panics.
fn require(path: PathBuf, what: &str) -> Option<PathBuf> {
    if path.exists() {
        return Some(path);
    }
    let msg = format!("{what} not found at {}", path.display());
    assert!(!in_ci(), "{msg} (CI=true: missing models or data fail the run)");
    eprintln!("SKIPPED: {msg}; run `veriframe models fetch` or set the env var");
    None
}

pub fn models_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("VERIFRAME_MODELS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("veriframe-data/models"));
    let marker = dir.join(veriframe_vision::models::names::DLIB_RESNET);
    require(marker, "models").map(|_| dir)
}

pub fn pad_models_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("VERIFRAME_PAD_MODELS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("../shared/testdata/models-test-only"));
    require(dir, "passive PAD models")
}

pub fn testdata(rel: &str) -> Option<PathBuf> {
    require(repo_root().join("../shared/testdata").join(rel), "test data")
}

/// One engine per test binary (loading parses the dlib file and builds three models).
pub fn engine() -> Option<&'static FaceEngine> {
    static ENGINE: OnceLock<Option<FaceEngine>> = OnceLock::new();
    ENGINE
        .get_or_init(|| {
            let models = models_dir()?;
            let pad = pad_models_dir();
            let options = EngineOptions { pad_models_dir: pad, ..EngineOptions::default() };
            Some(FaceEngine::load(&models, options).expect("load the face engine"))
        })
        .as_ref()
}

pub fn load_image(path: &Path) -> image::RgbImage {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    veriframe_vision::decode::decode(&bytes, &veriframe_vision::decode::DecodeLimits::default())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .image
}
