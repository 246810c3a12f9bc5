//! The face engine and image loading shared by this crate's model-backed tests; models and test
//! data are located by `veriframe_synth::testenv`.
#![allow(dead_code)]

use std::path::Path;
use std::sync::OnceLock;

use veriframe_vision::face::{EngineOptions, FaceEngine};

pub use veriframe_synth::testenv::{pad_models_dir, testdata};

/// One engine per test binary (loading parses the dlib file and builds three models).
pub fn engine() -> Option<&'static FaceEngine> {
    static ENGINE: OnceLock<Option<FaceEngine>> = OnceLock::new();
    ENGINE
        .get_or_init(|| {
            let models = veriframe_synth::testenv::face_models()?;
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
