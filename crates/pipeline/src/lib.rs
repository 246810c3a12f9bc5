//! The verification pipeline: immediate capture checks ([`analyzer`]) and durable jobs
//! ([`jobs`]) that read the document, match the face and score the session; the liveness
//! verdict is computed once, when the film arrives ([`liveness`]).
//!
//! Architecture invariant: this crate is where the domain meets the engine. It depends on
//! `veriframe-core` (ports, findings, score policy) and `veriframe-vision` (models), never on
//! HTTP or a database driver; CPU-heavy work runs on a [`cpu::CpuPool`] sized to the cores.
#![forbid(unsafe_code)]

pub mod analyzer;
pub mod convert;
pub mod cpu;
pub mod engines;
pub mod jobs;
pub mod liveness;
pub mod vault;

pub use analyzer::{Analyzer, JpegCropper};
pub use cpu::{Admission, CpuError, CpuPool};
pub use engines::Engines;
pub use jobs::{Outcome, Pipeline, PipelineSettings, Wakeup};
pub use vault::JsonDocumentVault;
