//! A filmed head turn judged from its uploaded bytes: decoding, the trajectory, passive PAD and
//! the comparison with the session's selfie. Parts that do not need each other's results run
//! side by side on the models' thread pool, so on two cores a verdict waits for the slowest part
//! rather than for their sum. The server's verdict and the lab's timing both go through here.

use image::RgbImage;
use rayon::prelude::*;

use super::engine::{AnalyzedFace, FaceEngine, FaceError, LivenessReport};
use super::matching::{FaceMatch, MatchKind};
use crate::decode::{DecodeError, DecodeLimits, decode};
use crate::liveness::ChallengeSpec;
use crate::liveness::pad::PadResult;

/// A film as uploaded: each frame's time from the camera opening and its encoded bytes, the
/// sharper key frame, and the selfie captured earlier in the session.
#[derive(Debug, Clone, Copy)]
pub struct FilmBytes<'a> {
    pub frames: &'a [(u32, &'a [u8])],
    pub key: Option<&'a [u8]>,
    pub selfie: Option<&'a [u8]>,
}

/// Everything one film tells.
#[derive(Debug)]
pub struct FilmVerdict {
    /// The turn; its measures hold one entry per decoded frame.
    pub report: LivenessReport,
    /// The decoded key frame, stored as the liveness image.
    pub key: Option<RgbImage>,
    /// Passive PAD on the selfie's face.
    pub selfie_pad: Option<PadResult>,
    /// The film's starting face against the selfie's.
    pub selfie_match: Option<FaceMatch>,
}

impl FilmVerdict {
    /// Passive PAD's say over the whole attempt: a spoof when the film's start or the selfie is
    /// not live by the models' own rule (the live class wins). Checks that did not run do not
    /// count.
    pub fn pad_says_spoof(&self) -> bool {
        [self.report.passive, self.selfie_pad].iter().flatten().any(|p| !p.is_live)
    }

    /// The attempt's verdict: the turn passed, passive PAD found no spoof, and the film shows
    /// the selfie's person (when there was a selfie to compare with).
    pub fn live(&self) -> bool {
        self.report.challenge.passed && !self.pad_says_spoof() && self.selfie_match.is_none_or(|m| m.is_match)
    }
}

/// Why a film could not be judged.
#[derive(Debug, thiserror::Error)]
pub enum FilmError {
    /// A frame or the key frame is not a usable image: the uploader's fault.
    #[error("not a usable frame: {0}")]
    Frame(DecodeError),
    /// The stored selfie no longer decodes: ours.
    #[error("stored selfie: {0}")]
    Selfie(DecodeError),
    #[error(transparent)]
    Face(#[from] FaceError),
}

impl FaceEngine {
    /// Judges a film. Errors are reported in a fixed order (frames in order, then the key frame,
    /// then the turn, then the selfie) whatever finished first.
    pub fn judge_film(
        &self,
        film: &FilmBytes<'_>,
        spec: &ChallengeSpec,
        limits: &DecodeLimits,
    ) -> Result<FilmVerdict, FilmError> {
        let pool = rten::thread_pool();
        let (frames, key) = pool.run(|| {
            rayon::join(
                || {
                    film.frames
                        .par_iter()
                        .map(|(at_ms, bytes)| decode(bytes, limits).map(|d| (*at_ms, d.image)))
                        .collect::<Vec<_>>()
                },
                || film.key.map(|k| decode(k, limits).map(|d| d.image)).transpose(),
            )
        });
        let frames = frames.into_iter().collect::<Result<Vec<_>, _>>().map_err(FilmError::Frame)?;
        let key = key.map_err(FilmError::Frame)?;
        let (report, selfie) = pool.run(|| {
            rayon::join(|| self.head_turn(&frames, key.as_ref(), spec, false), || self.selfie_side(film.selfie, limits))
        });
        let report = report?;
        let (selfie_pad, selfie_face) = selfie?;
        let selfie_match = match (&report.start_embedding, &selfie_face) {
            (Some(start), Some(face)) => Some(self.compare(start, &face.embedding, MatchKind::Selfie)),
            _ => None,
        };
        Ok(FilmVerdict { report, key, selfie_pad, selfie_match })
    }

    /// The selfie's face and its passive PAD score.
    fn selfie_side(
        &self,
        selfie: Option<&[u8]>,
        limits: &DecodeLimits,
    ) -> Result<(Option<PadResult>, Option<AnalyzedFace>), FilmError> {
        let Some(bytes) = selfie else { return Ok((None, None)) };
        let image = decode(bytes, limits).map_err(FilmError::Selfie)?.image;
        let Some(face) = self.analyze_selfie(&image)?.primary else { return Ok((None, None)) };
        let pad = self.passive_pad(&image, &face.detection)?;
        Ok((pad, Some(face)))
    }
}
