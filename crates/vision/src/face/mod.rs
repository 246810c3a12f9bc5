//! Faces: detection, alignment, descriptors, matching and quality.

pub mod align;
pub mod blazeface;
pub mod dlib;
pub mod engine;
pub mod film;
pub mod matching;
pub mod quality;

pub use blazeface::{BoundingBox, Detection, DetectorKind, Keypoints, Point};
pub use engine::{AnalyzedFace, EngineOptions, FaceAnalysis, FaceEngine, FaceError, LivenessReport, crop_face};
pub use film::{FilmBytes, FilmError, FilmVerdict};
pub use matching::{FaceMatch, MatchKind, MatchPolicy};
pub use quality::{CaptureIssue, CaptureThresholds, FaceQuality, Pose, selfie_issues};

use serde::{Deserialize, Serialize};

/// A 128-value dlib face descriptor. Not normalised: dlib compares raw Euclidean distances.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "Vec<f32>", into = "Vec<f32>")]
pub struct Embedding([f32; dlib::DESCRIPTOR_LEN]);

impl Embedding {
    pub fn as_slice(&self) -> &[f32] {
        &self.0
    }

    /// Euclidean distance, dlib's native metric (same person below about 0.6).
    pub fn distance(&self, other: &Embedding) -> f32 {
        self.0.iter().zip(&other.0).map(|(a, b)| (a - b) * (a - b)).sum::<f32>().sqrt()
    }
}

impl TryFrom<Vec<f32>> for Embedding {
    type Error = String;

    fn try_from(values: Vec<f32>) -> Result<Self, Self::Error> {
        let len = values.len();
        let array: [f32; dlib::DESCRIPTOR_LEN] =
            values.try_into().map_err(|_| format!("a face descriptor has 128 values, not {len}"))?;
        if array.iter().all(|v| v.is_finite()) {
            Ok(Self(array))
        } else {
            Err("a face descriptor must be finite".to_owned())
        }
    }
}

impl From<Embedding> for Vec<f32> {
    fn from(e: Embedding) -> Self {
        e.0.to_vec()
    }
}
