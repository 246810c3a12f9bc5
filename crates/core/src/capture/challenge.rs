//! The head-turn challenge: hand one out, and judge the film that answers it. The film is
//! judged once, by the analyzer, and that verdict is stored with the capture in the same
//! transaction that marks the challenge answered: the answer the page shows and the score read
//! the same record, and a challenge is never used up by an answer that was not stored.

use rand::Rng;
use time::OffsetDateTime;

use super::{CaptureOutcome, CaptureSource, Capturing, analyze_error, blob_error};
use crate::auth::FlowAuth;
use crate::blob::BlobKey;
use crate::challenge::{CHALLENGE_MAX_LIFETIME, CHALLENGE_TTL, Film, HEAD_TURN_FILM, TurnDirection};
use crate::ids::{CaptureId, ChallengeId};
use crate::ports::{AnalyzeError, CaptureRecord, ChallengeRecord, FilmCheck};
use crate::service::{ServiceError, ServiceResult};
use crate::verification::CaptureKind;

/// A head-turn challenge for the page.
#[derive(Debug, Clone)]
pub struct Challenge {
    pub id: ChallengeId,
    pub direction: TurnDirection,
    /// When the page shows the arrow, after it starts filming.
    pub prompt_at_ms: u32,
    pub expires_at: OffsetDateTime,
}

impl Capturing {
    /// Starts a head-turn challenge: a random direction, and a random moment for the arrow.
    pub async fn start_challenge(&self, flow: FlowAuth) -> ServiceResult<Challenge> {
        let state = self.state(flow).await?;
        Self::ensure_step(&state, CaptureKind::Liveness)?;
        let now = self.now();
        let (direction, prompt_at_ms) = {
            let mut rng = rand::rng();
            let direction = if rng.random::<bool>() { TurnDirection::Left } else { TurnDirection::Right };
            let film = &HEAD_TURN_FILM;
            (direction, rng.random_range(film.prompt_delay_min_ms..=film.prompt_delay_max_ms))
        };
        let record = ChallengeRecord {
            id: ChallengeId::generate(now),
            tenant_id: flow.tenant_id(),
            session_id: flow.session_id(),
            direction,
            prompt_at_ms,
            created_at: now,
            expires_at: now + CHALLENGE_TTL,
            answered_at: None,
        };
        self.store().insert_challenge(&record).await?;
        Ok(Challenge { id: record.id, direction, prompt_at_ms, expires_at: record.expires_at })
    }

    /// The film answering a challenge. A repeat with the same idempotency key gets the first
    /// answer, also while that one is still being judged (409 until it is stored); a film whose
    /// answer was never stored (a dropped connection, a crash) leaves its challenge open.
    pub async fn answer_challenge(
        &self,
        flow: FlowAuth,
        challenge: ChallengeId,
        film: Film,
        source: CaptureSource,
        idempotency_key: Option<&str>,
    ) -> ServiceResult<CaptureOutcome> {
        if let Some(previous) = self.replay(flow, CaptureKind::Liveness, idempotency_key).await? {
            return Ok(previous);
        }
        let state = self.state(flow).await?;
        Self::ensure_step(&state, CaptureKind::Liveness)?;
        let record = self
            .store()
            .challenge(flow.tenant_id(), flow.session_id(), challenge)
            .await?
            .ok_or(ServiceError::NotFound("challenge"))?;
        let now = self.now();
        if now >= record.expires_at {
            return Err(ServiceError::State("the challenge expired; start a new one"));
        }
        if record.answered_at.is_some() {
            return Err(ServiceError::State("the challenge was already answered; start a new one"));
        }
        let selfie = self.latest_selfie(flow).await?;
        let check = FilmCheck { direction: record.direction, prompt_at_ms: record.prompt_at_ms, film, selfie };
        let checked = match self.analyzer.check_film(check).await {
            Ok(checked) => checked,
            // Turned away for load: the time spent waiting for room is not the person's.
            Err(AnalyzeError::Busy { retry_after }) => {
                let until = (now + CHALLENGE_TTL).min(record.created_at + CHALLENGE_MAX_LIFETIME);
                if until > record.expires_at {
                    self.store().extend_challenge(flow.tenant_id(), flow.session_id(), challenge, until).await?;
                }
                return Err(ServiceError::Busy { retry_after });
            }
            Err(e) => return Err(analyze_error(e)),
        };
        let accept = checked.problems.is_empty() || state.retries.liveness == 0;
        // Blobs first: the commit may only name bytes that are already stored. A rejected
        // attempt keeps no image, only its verdict.
        let mut blobs = Vec::new();
        if accept {
            let key = BlobKey::for_session(flow.tenant_id(), flow.session_id(), "liveness-film");
            self.blobs.put(&key, checked.film_blob).await.map_err(blob_error)?;
            blobs.push(key);
            if let Some(jpeg) = checked.key_jpeg {
                let key = BlobKey::for_session(flow.tenant_id(), flow.session_id(), "liveness-key");
                self.blobs.put(&key, jpeg).await.map_err(blob_error)?;
                blobs.push(key);
            }
        }
        let capture = CaptureRecord {
            id: CaptureId::generate(now),
            tenant_id: flow.tenant_id(),
            session_id: flow.session_id(),
            kind: CaptureKind::Liveness,
            accepted: accept,
            problems: checked.problems,
            summary: Default::default(),
            blobs,
            source: source.as_str().into(),
            challenge_id: Some(challenge),
            liveness: Some(checked.findings),
            idempotency_key: idempotency_key.map(str::to_owned),
            created_at: now,
        };
        let problems = capture.problems.len();
        let outcome = match self.commit(flow, capture, Vec::new(), Some(challenge)).await {
            // A repeat of this upload that was judged alongside it got stored first.
            Err(ServiceError::State(_) | ServiceError::Conflict(_)) if idempotency_key.is_some() => {
                match self.replay(flow, CaptureKind::Liveness, idempotency_key).await? {
                    Some(previous) => previous,
                    None => {
                        return Err(ServiceError::Conflict(
                            "a film with this Idempotency-Key is being processed".into(),
                        ));
                    }
                }
            }
            other => other?,
        };
        tracing::info!(interview_id = %flow.session_id(), accepted = accept, problems, "liveness capture");
        Ok(outcome)
    }

    /// The session's accepted selfie, as stored: the film's face must be its face.
    async fn latest_selfie(&self, flow: FlowAuth) -> ServiceResult<Option<Vec<u8>>> {
        let captures = self.store().captures(flow.tenant_id(), flow.session_id()).await?;
        let selfie = captures.iter().rev().find(|c| c.kind == CaptureKind::Selfie && c.accepted);
        match selfie.and_then(|c| c.blobs.first()) {
            Some(key) => Ok(self.blobs.get(key).await.map_err(blob_error)?),
            None => Ok(None),
        }
    }
}
