//! The head-turn challenge as the product defines it: how the page films the gesture, and the
//! limits of what it may send. The page reads these numbers from each challenge, and the lab
//! (`veriframe-eval liveness`) samples synthetic turns with the same ones, so the two cannot
//! drift apart.

use serde::{Deserialize, Serialize};
use time::Duration;

/// How the hosted page films one head-turn attempt.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FilmSpec {
    /// Between frames: ten a second, so that no turn passes between two of them.
    pub interval_ms: u32,
    /// The arrow appears this long after filming starts (drawn per challenge): a still,
    /// frontal start to measure the turn from, at a moment a replay cannot predict.
    pub prompt_delay_min_ms: u32,
    pub prompt_delay_max_ms: u32,
    /// Filming goes on this long after the arrow: room for a slow reaction, a slow turn out, a
    /// hold and a slow turn back.
    pub after_prompt_ms: u32,
    /// Kept of each camera frame: a centred portrait rectangle this share of the frame's height,
    /// of this aspect (width over height): the face guide and its surroundings.
    pub crop_height: f32,
    pub crop_aspect: f32,
    /// Longest side of each uploaded frame, and its JPEG quality (1–100).
    pub max_side: u32,
    pub quality: u8,
    /// The first frame once more, sharper, for the start's identity and passive PAD.
    pub key_max_side: u32,
    pub key_quality: u8,
}

/// The film every challenge asks for.
pub const HEAD_TURN_FILM: FilmSpec = FilmSpec {
    interval_ms: 100,
    prompt_delay_min_ms: 600,
    prompt_delay_max_ms: 1400,
    after_prompt_ms: 4000,
    crop_height: 0.75,
    crop_aspect: 0.75,
    max_side: 240,
    quality: 70,
    key_max_side: 640,
    key_quality: 85,
};

impl FilmSpec {
    /// Frames in the longest film: the longest start, the time after the arrow, the first frame.
    pub fn max_frames(&self) -> usize {
        ((self.prompt_delay_max_ms + self.after_prompt_ms) / self.interval_ms) as usize + 1
    }
}

/// Most frames one answer may carry: the longest film with slack for a page whose timer ran
/// fast.
pub const MAX_CHALLENGE_FRAMES: usize = 80;
/// Largest single frame, and the largest key frame.
pub const MAX_FRAME_BYTES: usize = 256 * 1024;
pub const MAX_KEY_FRAME_BYTES: usize = 2 * 1024 * 1024;
/// How long a challenge may be answered after it was handed out.
pub const CHALLENGE_TTL: Duration = Duration::minutes(2);
/// A film turned away because the server was busy renews its challenge for [`CHALLENGE_TTL`]
/// from that refusal, up to this long after the challenge was handed out: waiting in the
/// admission queue never costs a person their turn, and whoever keeps the server busy gains at
/// most this long to forge a film for one challenge.
pub const CHALLENGE_MAX_LIFETIME: Duration = Duration::minutes(10);

/// Which way the person is asked to turn, from their own point of view (their left).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TurnDirection {
    Left,
    Right,
}

impl TurnDirection {
    pub const ALL: [TurnDirection; 2] = [TurnDirection::Left, TurnDirection::Right];

    /// The spelling on the wire and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            TurnDirection::Left => "left",
            TurnDirection::Right => "right",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|d| d.as_str() == s)
    }
}

/// One uploaded frame of the film: when it was taken (ms after the first) and its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimedFrame {
    pub at_ms: u32,
    pub bytes: Vec<u8>,
}

/// A head-turn film as the page uploaded it, checked for shape: 1 to [`MAX_CHALLENGE_FRAMES`]
/// frames starting at 0 ms in strictly increasing time, each within its size limit, and
/// optionally the sharper key frame. Its pixels are the engine's business.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Film {
    frames: Vec<TimedFrame>,
    key: Option<Vec<u8>>,
}

/// Why an upload is not a film.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilmError {
    #[error("send 1 to {MAX_CHALLENGE_FRAMES} frames")]
    FrameCount,
    #[error("send one timestamp (ms after the first frame) per frame, starting at 0 and increasing")]
    Timestamps,
    #[error("a frame is over {MAX_FRAME_BYTES} bytes or empty")]
    FrameSize,
    #[error("the key frame is over {MAX_KEY_FRAME_BYTES} bytes or empty")]
    KeySize,
}

impl Film {
    /// Pairs `frames` with `timestamps` and checks the film's shape.
    pub fn new(frames: Vec<Vec<u8>>, timestamps: &[u32], key: Option<Vec<u8>>) -> Result<Self, FilmError> {
        if frames.is_empty() || frames.len() > MAX_CHALLENGE_FRAMES {
            return Err(FilmError::FrameCount);
        }
        let increasing = timestamps.windows(2).all(|w| w[0] < w[1]);
        if timestamps.len() != frames.len() || timestamps.first() != Some(&0) || !increasing {
            return Err(FilmError::Timestamps);
        }
        if frames.iter().any(|f| f.is_empty() || f.len() > MAX_FRAME_BYTES) {
            return Err(FilmError::FrameSize);
        }
        if key.as_ref().is_some_and(|k| k.is_empty() || k.len() > MAX_KEY_FRAME_BYTES) {
            return Err(FilmError::KeySize);
        }
        let frames = frames.into_iter().zip(timestamps).map(|(bytes, &at_ms)| TimedFrame { at_ms, bytes }).collect();
        Ok(Self { frames, key })
    }

    pub fn frames(&self) -> &[TimedFrame] {
        &self.frames
    }

    pub fn key(&self) -> Option<&[u8]> {
        self.key.as_deref()
    }

    /// Milliseconds from the first frame to the last.
    pub fn duration_ms(&self) -> u32 {
        self.frames.last().map_or(0, |f| f.at_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_film_needs_increasing_timestamps_from_zero() {
        let frames = || vec![vec![1u8], vec![2u8], vec![3u8]];
        assert!(Film::new(frames(), &[0, 100, 200], None).is_ok());
        assert_eq!(Film::new(frames(), &[0, 100], None), Err(FilmError::Timestamps));
        assert_eq!(Film::new(frames(), &[10, 100, 200], None), Err(FilmError::Timestamps));
        assert_eq!(Film::new(frames(), &[0, 200, 200], None), Err(FilmError::Timestamps));
        assert_eq!(Film::new(Vec::new(), &[], None), Err(FilmError::FrameCount));
        assert_eq!(Film::new(vec![Vec::new()], &[0], None), Err(FilmError::FrameSize));
        assert_eq!(Film::new(vec![vec![1]], &[0], Some(Vec::new())), Err(FilmError::KeySize));
        assert_eq!(Film::new(frames(), &[0, 100, 200], None).map(|f| f.duration_ms()), Ok(200));
    }

    #[test]
    fn the_longest_film_fits_the_frame_limit() {
        assert!(HEAD_TURN_FILM.max_frames() < MAX_CHALLENGE_FRAMES);
        const { assert!(1000 / HEAD_TURN_FILM.interval_ms >= 10, "at least ten frames a second") };
    }
}
