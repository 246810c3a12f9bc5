//! Machine-readable zone (MRZ) reading: OCR of the zone with PP-OCRv4, assembly of its lines,
//! check-digit-guided repair, and ICAO 9303 parsing through the `mrz` crate.

pub mod charset;
pub mod detect;
pub mod engine;
pub mod fields;
pub mod layout;
pub mod reader;
pub mod recognize;
pub mod text;

use std::path::PathBuf;

pub use detect::{DetectParams, LineBox};
pub use engine::{DET_MODEL_FILE, OcrEngine, REC_MODEL_FILE};
pub use fields::{
    CalendarDate, CheckDigits, DateAssessment, MrzDate, MrzFields, MrzFormat, MrzScoreChecks, MrzZone, Repair,
    RepairReason,
};
pub use reader::{MrzReader, MrzReading, RawLine, ReadOutcome, ReadTimings, ReaderConfig};
pub use recognize::{OcrChar, OcrLine};
pub use text::{InterpretError, interpret, interpret_text};

/// Why the OCR engine could not load or run.
#[derive(Debug, thiserror::Error)]
pub enum OcrError {
    /// A model file is not where it should be; `veriframe models fetch` puts it there.
    #[error("OCR model {0} is missing (run `veriframe models fetch`)")]
    ModelMissing(PathBuf),
    /// A model file exists but rten cannot load it.
    #[error("OCR model {path} could not be loaded: {message}")]
    ModelLoad {
        /// The file.
        path: PathBuf,
        /// rten's explanation.
        message: String,
    },
    /// The recogniser's dictionary lacks what MRZ decoding needs.
    #[error("recognition dictionary unusable: {0}")]
    Dictionary(String),
    /// Inference failed inside rten.
    #[error("OCR inference failed: {0}")]
    Inference(#[from] rten::RunError),
    /// A model produced an output of a shape this code does not understand.
    #[error("unexpected OCR model output: {0}")]
    UnexpectedOutput(&'static str),
    /// The image is too small to hold an MRZ or absurdly large.
    #[error("image of {width}×{height} pixels cannot be read for an MRZ")]
    ImageSize {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
    },
}
