//! Verification engine: image decoding with limits, face detection, alignment, embedding and
//! matching, liveness, and MRZ reading. Everything here is synchronous and CPU-bound; callers
//! run it on a blocking pool.
#![forbid(unsafe_code)]

pub mod decode;
pub mod face;
pub mod liveness;
pub mod models;
pub mod warp;
