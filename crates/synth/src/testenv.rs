//! Where tests find what they need: the repository's models, `../shared/testdata`, the OCR-B
//! font. Something missing skips the test with a message, except under `CI=true`, where a
//! missing model or file fails the run instead of passing it silently.

use std::path::{Path, PathBuf};

/// True under `CI=true` (or `CI=1`): missing services and data fail instead of skipping.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// The repository root (two levels above this crate).
pub fn repo_root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.canonicalize().unwrap_or(root)
}

/// `Some(path)` when it exists; otherwise `None` after saying why, or, under CI, a panic.
pub fn require(what: &str, path: PathBuf) -> Option<PathBuf> {
    if path.exists() {
        return Some(path);
    }
    let message = format!("{what} not found at {}", path.display());
    assert!(!in_ci(), "{message} (CI=true: missing models or data fail the run)");
    eprintln!("SKIPPED: {message}; run `veriframe models fetch` or set the environment variable");
    None
}

/// The shared test data: `VERIFRAME_TESTDATA`, else `../shared/testdata` beside the repository.
pub fn testdata_dir() -> PathBuf {
    std::env::var_os("VERIFRAME_TESTDATA").map(PathBuf::from).unwrap_or_else(|| repo_root().join("../shared/testdata"))
}

/// A file or folder of the shared test data.
pub fn testdata(relative: &str) -> Option<PathBuf> {
    require("test data", testdata_dir().join(relative))
}

/// Where the models are: `VERIFRAME_MODELS_DIR`, else `<repo>/veriframe-data/models`, where
/// `veriframe models fetch` puts them.
pub fn models_dir() -> PathBuf {
    std::env::var_os("VERIFRAME_MODELS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("veriframe-data/models"))
}

/// The models folder, when it holds the face models.
pub fn face_models() -> Option<PathBuf> {
    let dir = models_dir();
    require("face models", dir.join(veriframe_vision::models::names::DLIB_RESNET))?;
    Some(dir)
}

/// The models folder, when it holds the MRZ reader's OCR models.
pub fn ocr_models() -> Option<PathBuf> {
    let dir = models_dir();
    require("OCR models", dir.join(veriframe_vision::mrz::DET_MODEL_FILE))?;
    require("OCR models", dir.join(veriframe_vision::mrz::REC_MODEL_FILE))?;
    Some(dir)
}

/// The passive PAD models: `VERIFRAME_PAD_MODELS_DIR` (set by `.ci/run` to the copies
/// `veriframe models fetch --pad` verified), else the test-only copies in the test data.
pub fn pad_models_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("VERIFRAME_PAD_MODELS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| testdata_dir().join("models-test-only"));
    require("passive PAD models", dir)
}
