//! Captures and liveness challenges.

use async_trait::async_trait;
use time::OffsetDateTime;
use veriframe_core::blob::BlobKey;
use veriframe_core::challenge::TurnDirection;
use veriframe_core::ids::{ChallengeId, InterviewId, TenantId};
use veriframe_core::ports::{
    CaptureCommit, CaptureRecord, CaptureStore, ChallengeRecord, Committed, JobKind, StoreResult,
};
use veriframe_core::verification::CaptureKind;

use crate::SqlStore;
use crate::db::{Row, Value, corrupt, id, query};
use crate::jobs::enqueue;
use crate::verification::{blob_keys, register_image};

fn capture(r: &Row) -> StoreResult<CaptureRecord> {
    Ok(CaptureRecord {
        id: id(&r.text("id")?, "capture id")?,
        tenant_id: id(&r.text("tenant_id")?, "tenant id")?,
        session_id: id(&r.text("session_id")?, "interview id")?,
        kind: CaptureKind::parse(&r.text("kind")?).ok_or_else(|| corrupt("capture kind"))?,
        accepted: r.bool("accepted")?,
        problems: r.json("problems", "capture problems")?,
        summary: r.json("summary", "capture summary")?,
        blobs: blob_keys(&r.json::<Vec<String>>("blobs", "blob keys")?)?,
        source: r.text("source")?,
        challenge_id: r.opt_text("challenge_id")?.map(|c| id(&c, "challenge id")).transpose()?,
        liveness: r.opt_json("liveness", "liveness findings")?,
        idempotency_key: r.opt_text("idempotency_key")?,
        created_at: r.time("created_at")?,
    })
}

/// The columns [`capture`] reads, as a literal so queries stay `&'static str`.
macro_rules! capture_columns {
    () => {
        "id, tenant_id, session_id, kind, accepted, problems, summary, blobs, source, challenge_id, liveness, \
         idempotency_key, created_at"
    };
}

fn challenge(r: &Row) -> StoreResult<ChallengeRecord> {
    Ok(ChallengeRecord {
        id: id(&r.text("id")?, "challenge id")?,
        tenant_id: id(&r.text("tenant_id")?, "tenant id")?,
        session_id: id(&r.text("session_id")?, "interview id")?,
        direction: TurnDirection::parse(&r.text("direction")?).ok_or_else(|| corrupt("challenge direction"))?,
        prompt_at_ms: u32::try_from(r.int("prompt_at_ms")?).map_err(|_| corrupt("challenge prompt time"))?,
        created_at: r.time("created_at")?,
        expires_at: r.time("expires_at")?,
        answered_at: r.opt_time("answered_at")?,
    })
}

#[async_trait]
impl CaptureStore for SqlStore {
    async fn commit_capture(&self, commit: &CaptureCommit) -> StoreResult<Committed> {
        let c = &commit.capture;
        let mut tx = self.db.begin().await?;
        if let Some(challenge) = commit.answers_challenge {
            let answered = query(
                "UPDATE challenges SET answered_at = $1 WHERE tenant_id = $2 AND session_id = $3 AND id = $4
                   AND answered_at IS NULL",
            )
            .bind(c.created_at)
            .bind(c.tenant_id.to_string())
            .bind(c.session_id.to_string())
            .bind(challenge.to_string())
            .execute(tx.conn())
            .await?;
            if answered != 1 {
                return Ok(Committed::ChallengeAlreadyAnswered);
            }
        }
        let blobs: Vec<&str> = c.blobs.iter().map(BlobKey::as_str).collect();
        query(
            "INSERT INTO captures (id, tenant_id, session_id, kind, accepted, problems, summary, blobs, source,
                challenge_id, liveness, idempotency_key, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(c.id.to_string())
        .bind(c.tenant_id.to_string())
        .bind(c.session_id.to_string())
        .bind(c.kind.as_str())
        .bind(c.accepted)
        .bind(Value::json(&c.problems)?)
        .bind(Value::json(&c.summary)?)
        .bind(Value::json(&blobs)?)
        .bind(&c.source)
        .bind(c.challenge_id.map(|id| id.to_string()))
        .bind(Value::opt_json(c.liveness.as_ref())?)
        .bind(c.idempotency_key.as_deref())
        .bind(c.created_at)
        .execute(tx.conn())
        .await?;
        let mut replaced = Vec::new();
        for (name, key) in &commit.images {
            let image = register_image(tx.conn(), self.dialect(), c.tenant_id, c.session_id, name, key, c.created_at);
            if let Some(old) = image.await? {
                replaced.push(old);
            }
        }
        for &kind in &commit.jobs {
            enqueue(tx.conn(), self.dialect(), c.tenant_id, c.session_id, kind, c.created_at, c.created_at).await?;
        }
        tx.commit().await?;
        Ok(Committed::Stored { replaced })
    }

    async fn capture_by_idempotency_key(
        &self,
        tenant: TenantId,
        session: InterviewId,
        kind: CaptureKind,
        key: &str,
    ) -> StoreResult<Option<CaptureRecord>> {
        query(concat!(
            "SELECT ",
            capture_columns!(),
            " FROM captures WHERE tenant_id = $1 AND session_id = $2 AND kind = $3 AND idempotency_key = $4"
        ))
        .bind(tenant.to_string())
        .bind(session.to_string())
        .bind(kind.as_str())
        .bind(key)
        .fetch_optional_with(self.db.read(), capture)
        .await
    }

    async fn captures(&self, tenant: TenantId, session: InterviewId) -> StoreResult<Vec<CaptureRecord>> {
        query(concat!(
            "SELECT ",
            capture_columns!(),
            " FROM captures WHERE tenant_id = $1 AND session_id = $2 ORDER BY created_at, id"
        ))
        .bind(tenant.to_string())
        .bind(session.to_string())
        .fetch_all_with(self.db.read(), capture)
        .await
    }

    async fn insert_challenge(&self, c: &ChallengeRecord) -> StoreResult<()> {
        query(
            "INSERT INTO challenges (id, tenant_id, session_id, direction, prompt_at_ms, created_at, expires_at, answered_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(c.id.to_string())
        .bind(c.tenant_id.to_string())
        .bind(c.session_id.to_string())
        .bind(c.direction.as_str())
        .bind(i64::from(c.prompt_at_ms))
        .bind(c.created_at)
        .bind(c.expires_at)
        .bind(c.answered_at)
        .execute(self.db.write())
        .await?;
        Ok(())
    }

    async fn challenge(
        &self,
        tenant: TenantId,
        session: InterviewId,
        id: ChallengeId,
    ) -> StoreResult<Option<ChallengeRecord>> {
        query(
            "SELECT id, tenant_id, session_id, direction, prompt_at_ms, created_at, expires_at, answered_at
             FROM challenges WHERE tenant_id = $1 AND session_id = $2 AND id = $3",
        )
        .bind(tenant.to_string())
        .bind(session.to_string())
        .bind(id.to_string())
        .fetch_optional_with(self.db.read(), challenge)
        .await
    }

    async fn extend_challenge(
        &self,
        tenant: TenantId,
        session: InterviewId,
        id: ChallengeId,
        until: OffsetDateTime,
    ) -> StoreResult<()> {
        query(
            "UPDATE challenges SET expires_at = $1 WHERE tenant_id = $2 AND session_id = $3 AND id = $4
               AND answered_at IS NULL AND expires_at < $1",
        )
        .bind(until)
        .bind(tenant.to_string())
        .bind(session.to_string())
        .bind(id.to_string())
        .execute(self.db.write())
        .await?;
        Ok(())
    }

    async fn record_consent(&self, tenant: TenantId, session: InterviewId, at: OffsetDateTime) -> StoreResult<()> {
        query(
            "UPDATE sessions SET consented_at = COALESCE(consented_at, $1), updated_at = $1 WHERE tenant_id = $2 AND id = $3",
        )
        .bind(at)
        .bind(tenant.to_string())
        .bind(session.to_string())
        .execute(self.db.write())
        .await?;
        Ok(())
    }

    async fn submit_session(&self, tenant: TenantId, session: InterviewId, at: OffsetDateTime) -> StoreResult<()> {
        let mut tx = self.db.begin().await?;
        let first = query(
            "UPDATE sessions SET submitted_at = $1, updated_at = $1
             WHERE tenant_id = $2 AND id = $3 AND submitted_at IS NULL",
        )
        .bind(at)
        .bind(tenant.to_string())
        .bind(session.to_string())
        .execute(tx.conn())
        .await?;
        if first == 1 {
            enqueue(tx.conn(), self.dialect(), tenant, session, JobKind::Finalize, at, at).await?;
        }
        tx.commit().await
    }

    async fn reconcile_candidates(
        &self,
        now: OffsetDateTime,
        after: OffsetDateTime,
        before: OffsetDateTime,
        cursor: Option<InterviewId>,
        limit: u32,
    ) -> StoreResult<Vec<(TenantId, InterviewId)>> {
        query(
            "SELECT s.tenant_id, s.id FROM sessions s
             WHERE s.status IN ('UNKNOWN', 'ID_VALIDATION_FINISHED', 'POST_PROCESSING_FINISHED', 'FACE_VALIDATION_FINISHED')
               AND s.expires_at > $1 AND s.id > $4
               AND ((s.submitted_at IS NOT NULL AND s.submitted_at <= $3
                     AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.session_id = s.id AND j.kind = 'finalize'))
                 OR EXISTS (SELECT 1 FROM captures c
                     WHERE c.session_id = s.id AND c.accepted AND c.created_at > $2 AND c.created_at <= $3
                       AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.session_id = s.id
                           AND j.kind = CASE WHEN c.kind IN ('front', 'back') THEN 'document' ELSE 'face' END
                           AND j.updated_at >= c.created_at)))
             ORDER BY s.id LIMIT $5",
        )
        .bind(now)
        .bind(after)
        .bind(before)
        .bind(cursor.map_or_else(String::new, |c| c.to_string()))
        .bind(i64::from(limit))
        .fetch_all_with(self.db.read(), |r| {
            Ok((id(&r.text("tenant_id")?, "tenant id")?, id(&r.text("id")?, "interview id")?))
        })
        .await
    }
}
