//! Verification engine: image decoding with limits, face detection, alignment, embedding and
//! matching, liveness, and MRZ reading. Everything here is synchronous and CPU-bound; callers
//! run it on a blocking pool.
//!
//! Faces, in the order a session uses them: `decode::decode` (untrusted bytes → upright RGB),
//! `face::FaceEngine::load` once, then `analyze_document` / `analyze_selfie` (detection, the
//! 150×150 chip, descriptor, quality), `compare` (distance, 0–100 similarity, decision),
//! `face::crop_face` and `decode::encode_jpeg` for the stored images, `face::selfie_issues` for
//! capture feedback, and `head_turn` for the liveness challenge (plus passive PAD when its
//! models are configured). `models` fetches and verifies the model files.
//!
//! Documents: `mrz::MrzReader` finds, recognises and parses the machine-readable zone (with
//! check-digit-guided repair around the `mrz` crate); `document` measures sharpness and glare
//! and checks quickly for an MRZ band.
#![forbid(unsafe_code)]

pub mod decode;
pub mod document;
pub mod face;
pub mod liveness;
pub mod models;
pub mod mrz;
pub mod warp;
