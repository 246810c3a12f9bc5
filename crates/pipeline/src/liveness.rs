//! The liveness verdict: one computation, when the film arrives. It judges the head turn, runs
//! passive PAD on the film's sharp first frame and on the selfie (when installed), and compares
//! the film's face with the selfie's. The page shows its outcome and the scores read the stored
//! findings, so an accepted turn is never failed later by a second reading.

use veriframe_core::challenge::{Film, TurnDirection};
use veriframe_core::ports::{AnalyzeError, CheckedFilm, FilmCheck};
use veriframe_core::verification::{CaptureProblem, LivenessCheck, LivenessFailure, LivenessFindings};
use veriframe_vision::decode::{DecodeLimits, encode_jpeg};
use veriframe_vision::face::{FilmBytes, FilmError, FilmVerdict};
use veriframe_vision::liveness::{self as engine, ChallengeFailure, ChallengeSpec};

use crate::analyzer::STORED_JPEG_QUALITY;
use crate::engines::Engines;

/// Limits for the film's small frames and its key frame.
fn limits(engines: &Engines) -> DecodeLimits {
    engines.limits
}

fn direction(d: TurnDirection) -> engine::TurnDirection {
    match d {
        TurnDirection::Left => engine::TurnDirection::Left,
        TurnDirection::Right => engine::TurnDirection::Right,
    }
}

/// The domain's name for an engine failure.
fn failure(f: &ChallengeFailure) -> LivenessFailure {
    match f {
        ChallengeFailure::CaptureIncomplete { .. } => LivenessFailure::CaptureIncomplete,
        ChallengeFailure::FaceLost { .. } => LivenessFailure::FaceLost,
        ChallengeFailure::MultipleFaces { .. } => LivenessFailure::MultipleFaces,
        ChallengeFailure::NotFrontalAtStart { .. } => LivenessFailure::NotFrontalAtStart,
        ChallengeFailure::TurnTooSmall { .. } => LivenessFailure::TurnTooSmall,
        ChallengeFailure::TurnedWrongWay { .. } => LivenessFailure::TurnedWrongWay,
        ChallengeFailure::DidNotReturn { .. } => LivenessFailure::DidNotReturn,
        ChallengeFailure::ImplausibleMotion { .. } => LivenessFailure::ImplausibleMotion,
        ChallengeFailure::FaceJumped { .. } => LivenessFailure::FaceJumped,
        ChallengeFailure::DifferentPerson { .. } => LivenessFailure::DifferentPerson,
    }
}

/// What the person is told for each failure.
pub fn problem(f: LivenessFailure) -> CaptureProblem {
    match f {
        LivenessFailure::CaptureIncomplete => CaptureProblem::NotEnoughFrames,
        LivenessFailure::FaceLost => CaptureProblem::FaceLost,
        LivenessFailure::MultipleFaces => CaptureProblem::MultipleFaces,
        LivenessFailure::NotFrontalAtStart => CaptureProblem::FaceNotFrontal,
        LivenessFailure::TurnTooSmall => CaptureProblem::TurnTooSmall,
        LivenessFailure::TurnedWrongWay => CaptureProblem::WrongDirection,
        LivenessFailure::DidNotReturn => CaptureProblem::DidNotReturn,
        LivenessFailure::ImplausibleMotion => CaptureProblem::UnnaturalMotion,
        LivenessFailure::FaceJumped | LivenessFailure::DifferentPerson | LivenessFailure::DifferentPersonThanSelfie => {
            CaptureProblem::DifferentPerson
        }
        LivenessFailure::NotLive | LivenessFailure::Other => CaptureProblem::NotLive,
    }
}

/// Judges a film (synchronous; runs on the CPU pool).
pub fn check_film(engines: &Engines, check: &FilmCheck) -> Result<CheckedFilm, AnalyzeError> {
    let frames: Vec<(u32, &[u8])> = check.film.frames().iter().map(|f| (f.at_ms, f.bytes.as_slice())).collect();
    let film = FilmBytes { frames: &frames, key: check.film.key(), selfie: check.selfie.as_deref() };
    let spec = ChallengeSpec {
        direction: direction(check.direction),
        prompt_at_ms: check.prompt_at_ms,
        after_prompt_ms: veriframe_core::challenge::HEAD_TURN_FILM.after_prompt_ms,
        interval_ms: veriframe_core::challenge::HEAD_TURN_FILM.interval_ms,
    };
    let verdict = engines.face.judge_film(&film, &spec, &limits(engines)).map_err(|e| match e {
        FilmError::Frame(_) => AnalyzeError::BadImage(e.to_string()),
        FilmError::Selfie(_) | FilmError::Face(_) => AnalyzeError::Internal(e.to_string()),
    })?;
    let findings = findings(&verdict);
    let problems = problems(&findings);
    let key_jpeg = verdict.key.as_ref().map(|k| encode_jpeg(k, STORED_JPEG_QUALITY)).transpose();
    let key_jpeg = key_jpeg.map_err(|e| AnalyzeError::Internal(e.to_string()))?;
    Ok(CheckedFilm { problems, findings, key_jpeg, film_blob: encode_film(&check.film) })
}

/// The problems to show, in the order the person should address them, without repeats.
fn problems(findings: &LivenessFindings) -> Vec<CaptureProblem> {
    let mut out = Vec::new();
    for f in &findings.failures {
        let p = problem(*f);
        if !out.contains(&p) {
            out.push(p);
        }
    }
    out
}

/// The verdict in the domain's terms.
fn findings(verdict: &FilmVerdict) -> LivenessFindings {
    let report = &verdict.report;
    let frames = report.measures.frames.len();
    let selfie_live = verdict.selfie_pad.map(|p| p.live_score);
    let c = &report.challenge;
    let mut checks = vec![LivenessCheck::HeadTurn];
    let mut failures: Vec<LivenessFailure> = Vec::new();
    for f in c.failures.iter().map(failure) {
        if !failures.contains(&f) {
            failures.push(f);
        }
    }
    if report.passive.is_some() {
        checks.push(LivenessCheck::PassivePadFilm);
    }
    if selfie_live.is_some() {
        checks.push(LivenessCheck::PassivePadSelfie);
    }
    let pad_scores: Vec<f32> = report.passive.map(|p| p.live_score).into_iter().chain(selfie_live).collect();
    let passive_live = pad_scores.iter().copied().reduce(f32::min);
    if verdict.pad_says_spoof() {
        failures.push(LivenessFailure::NotLive);
    }
    let mut same_person = c.same_person;
    if let Some(m) = &verdict.selfie_match {
        checks.push(LivenessCheck::SelfieIdentity);
        if !m.is_match {
            same_person = false;
            failures.push(LivenessFailure::DifferentPersonThanSelfie);
        }
    }
    let max_identity_distance = report
        .measures
        .identity
        .iter()
        .map(|i| i.distance)
        .fold(None, |acc: Option<f32>, d| Some(acc.map_or(d, |a| a.max(d))));
    LivenessFindings {
        direction: match c.direction {
            engine::TurnDirection::Left => TurnDirection::Left,
            engine::TurnDirection::Right => TurnDirection::Right,
        },
        frames: u32::try_from(frames).unwrap_or(u32::MAX),
        checks,
        turned: c.turned,
        returned: c.returned,
        same_person,
        challenge_passed: c.passed,
        live: verdict.live(),
        peak_turn: c.peak_delta,
        required_turn: c.rules.turn_threshold,
        max_identity_distance,
        identity_threshold: c.rules.identity_threshold,
        passive_live,
        failures,
    }
}

/// The film as one stored object: a magic line, then per frame its time (ms) and length as
/// little-endian u32 and its bytes; a key frame, when sent, comes first with time `u32::MAX`.
pub fn encode_film(film: &Film) -> Vec<u8> {
    let mut out = FILM_MAGIC.to_vec();
    let mut put = |at: u32, bytes: &[u8]| {
        out.extend_from_slice(&at.to_le_bytes());
        out.extend_from_slice(&u32::try_from(bytes.len()).unwrap_or(u32::MAX).to_le_bytes());
        out.extend_from_slice(bytes);
    };
    if let Some(key) = film.key() {
        put(u32::MAX, key);
    }
    for f in film.frames() {
        put(f.at_ms, &f.bytes);
    }
    out
}

const FILM_MAGIC: &[u8] = b"veriframe film 1\n";

/// Reads back what [`encode_film`] wrote; `None` for anything else.
pub fn decode_film(bytes: &[u8]) -> Option<Film> {
    let mut rest = bytes.strip_prefix(FILM_MAGIC)?;
    let mut key = None;
    let (mut frames, mut at_ms) = (Vec::new(), Vec::new());
    while !rest.is_empty() {
        let at = u32::from_le_bytes(rest.get(..4)?.try_into().ok()?);
        let len = u32::from_le_bytes(rest.get(4..8)?.try_into().ok()?) as usize;
        let data = rest.get(8..8 + len)?.to_vec();
        rest = &rest[8 + len..];
        if at == u32::MAX {
            key = Some(data);
        } else {
            frames.push(data);
            at_ms.push(at);
        }
    }
    Film::new(frames, &at_ms, key).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_film_reads_back_as_stored() {
        let film = Film::new(vec![vec![1, 2, 3], vec![4]], &[0, 100], Some(vec![9, 9])).unwrap();
        assert_eq!(decode_film(&encode_film(&film)), Some(film.clone()));
        assert!(decode_film(b"something else").is_none());
        let mut cut = encode_film(&film);
        cut.truncate(cut.len() - 1);
        assert!(decode_film(&cut).is_none());
    }

    #[test]
    fn every_failure_has_a_problem_the_page_can_show() {
        for f in [LivenessFailure::NotLive, LivenessFailure::DifferentPersonThanSelfie, LivenessFailure::Other] {
            assert!(CaptureProblem::ALL.contains(&problem(f)));
        }
    }
}
