//! Vision: image decoding, faces, liveness, and machine-readable-zone reading. Synchronous
//! code only; callers run it on a blocking pool.
#![forbid(unsafe_code)]

pub mod document;
pub mod mrz;
