//! Captures and liveness challenges over PostgreSQL.

use async_trait::async_trait;
use sqlx::types::Json;
use time::OffsetDateTime;
use veriframe_core::blob::BlobKey;
use veriframe_core::challenge::TurnDirection;
use veriframe_core::ids::{ChallengeId, InterviewId, TenantId};
use veriframe_core::ports::{
    CaptureCommit, CaptureRecord, CaptureStore, ChallengeRecord, Committed, JobKind, StoreError, StoreResult,
};
use veriframe_core::verification::CaptureKind;

use crate::PostgresStore;
use crate::jobs::enqueue;
use crate::rows::map_err;
use crate::verification::{blob_keys, corrupt, from_value, register_image};

#[derive(sqlx::FromRow)]
struct CaptureRow {
    id: String,
    tenant_id: String,
    session_id: String,
    kind: String,
    accepted: bool,
    problems: serde_json::Value,
    summary: serde_json::Value,
    blobs: Json<Vec<String>>,
    source: String,
    challenge_id: Option<String>,
    liveness: Option<serde_json::Value>,
    idempotency_key: Option<String>,
    created_at: OffsetDateTime,
}

impl TryFrom<CaptureRow> for CaptureRecord {
    type Error = StoreError;
    fn try_from(r: CaptureRow) -> StoreResult<Self> {
        Ok(CaptureRecord {
            id: r.id.parse().map_err(|_| corrupt("capture id"))?,
            tenant_id: r.tenant_id.parse().map_err(|_| corrupt("tenant id"))?,
            session_id: r.session_id.parse().map_err(|_| corrupt("interview id"))?,
            kind: CaptureKind::parse(&r.kind).ok_or_else(|| corrupt("capture kind"))?,
            accepted: r.accepted,
            problems: from_value(r.problems, "capture problems")?,
            summary: from_value(r.summary, "capture summary")?,
            blobs: blob_keys(&r.blobs.0)?,
            source: r.source,
            challenge_id: r.challenge_id.map(|id| id.parse().map_err(|_| corrupt("challenge id"))).transpose()?,
            liveness: r.liveness.map(|v| from_value(v, "liveness findings")).transpose()?,
            idempotency_key: r.idempotency_key,
            created_at: r.created_at,
        })
    }
}

const CAPTURE_COLUMNS: &str = "id, tenant_id, session_id, kind, accepted, problems, summary, blobs, source, \
                               challenge_id, liveness, idempotency_key, created_at";

#[derive(sqlx::FromRow)]
struct ChallengeRow {
    id: String,
    tenant_id: String,
    session_id: String,
    direction: String,
    prompt_at_ms: i32,
    created_at: OffsetDateTime,
    expires_at: OffsetDateTime,
    answered_at: Option<OffsetDateTime>,
}

impl TryFrom<ChallengeRow> for ChallengeRecord {
    type Error = StoreError;
    fn try_from(r: ChallengeRow) -> StoreResult<Self> {
        Ok(ChallengeRecord {
            id: r.id.parse().map_err(|_| corrupt("challenge id"))?,
            tenant_id: r.tenant_id.parse().map_err(|_| corrupt("tenant id"))?,
            session_id: r.session_id.parse().map_err(|_| corrupt("interview id"))?,
            direction: TurnDirection::parse(&r.direction).ok_or_else(|| corrupt("challenge direction"))?,
            prompt_at_ms: u32::try_from(r.prompt_at_ms).map_err(|_| corrupt("challenge prompt time"))?,
            created_at: r.created_at,
            expires_at: r.expires_at,
            answered_at: r.answered_at,
        })
    }
}

#[async_trait]
impl CaptureStore for PostgresStore {
    async fn commit_capture(&self, commit: &CaptureCommit) -> StoreResult<Committed> {
        let c = &commit.capture;
        let mut tx = self.pool().begin().await.map_err(map_err)?;
        if let Some(challenge) = commit.answers_challenge {
            let answered = sqlx::query(
                "UPDATE challenges SET answered_at = $1 WHERE tenant_id = $2 AND session_id = $3 AND id = $4
                   AND answered_at IS NULL",
            )
            .bind(c.created_at)
            .bind(c.tenant_id.to_string())
            .bind(c.session_id.to_string())
            .bind(challenge.to_string())
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
            if answered.rows_affected() != 1 {
                return Ok(Committed::ChallengeAlreadyAnswered);
            }
        }
        let blobs: Vec<&str> = c.blobs.iter().map(BlobKey::as_str).collect();
        sqlx::query(
            "INSERT INTO captures (id, tenant_id, session_id, kind, accepted, problems, summary, blobs, source,
                challenge_id, liveness, idempotency_key, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(c.id.to_string())
        .bind(c.tenant_id.to_string())
        .bind(c.session_id.to_string())
        .bind(c.kind.as_str())
        .bind(c.accepted)
        .bind(Json(&c.problems))
        .bind(Json(&c.summary))
        .bind(Json(&blobs))
        .bind(&c.source)
        .bind(c.challenge_id.map(|id| id.to_string()))
        .bind(c.liveness.as_ref().map(Json))
        .bind(c.idempotency_key.as_deref())
        .bind(c.created_at)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        let mut replaced = Vec::new();
        for (name, key) in &commit.images {
            if let Some(old) = register_image(&mut tx, c.tenant_id, c.session_id, name, key, c.created_at).await? {
                replaced.push(old);
            }
        }
        for &kind in &commit.jobs {
            enqueue(&mut tx, c.tenant_id, c.session_id, kind, c.created_at, c.created_at).await?;
        }
        tx.commit().await.map_err(map_err)?;
        Ok(Committed::Stored { replaced })
    }

    async fn capture_by_idempotency_key(
        &self,
        tenant: TenantId,
        session: InterviewId,
        kind: CaptureKind,
        key: &str,
    ) -> StoreResult<Option<CaptureRecord>> {
        sqlx::query_as::<_, CaptureRow>(sqlx::AssertSqlSafe(format!(
            "SELECT {CAPTURE_COLUMNS} FROM captures
             WHERE tenant_id = $1 AND session_id = $2 AND kind = $3 AND idempotency_key = $4"
        )))
        .bind(tenant.to_string())
        .bind(session.to_string())
        .bind(kind.as_str())
        .bind(key)
        .fetch_optional(self.pool())
        .await
        .map_err(map_err)?
        .map(TryInto::try_into)
        .transpose()
    }

    async fn captures(&self, tenant: TenantId, session: InterviewId) -> StoreResult<Vec<CaptureRecord>> {
        sqlx::query_as::<_, CaptureRow>(sqlx::AssertSqlSafe(format!(
            "SELECT {CAPTURE_COLUMNS} FROM captures WHERE tenant_id = $1 AND session_id = $2 ORDER BY created_at, id"
        )))
        .bind(tenant.to_string())
        .bind(session.to_string())
        .fetch_all(self.pool())
        .await
        .map_err(map_err)?
        .into_iter()
        .map(TryInto::try_into)
        .collect()
    }

    async fn insert_challenge(&self, c: &ChallengeRecord) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO challenges (id, tenant_id, session_id, direction, prompt_at_ms, created_at, expires_at, answered_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(c.id.to_string())
        .bind(c.tenant_id.to_string())
        .bind(c.session_id.to_string())
        .bind(c.direction.as_str())
        .bind(i32::try_from(c.prompt_at_ms).map_err(|_| StoreError::Other("prompt time out of range".into()))?)
        .bind(c.created_at)
        .bind(c.expires_at)
        .bind(c.answered_at)
        .execute(self.pool())
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn challenge(
        &self,
        tenant: TenantId,
        session: InterviewId,
        id: ChallengeId,
    ) -> StoreResult<Option<ChallengeRecord>> {
        sqlx::query_as::<_, ChallengeRow>(
            "SELECT id, tenant_id, session_id, direction, prompt_at_ms, created_at, expires_at, answered_at
             FROM challenges WHERE tenant_id = $1 AND session_id = $2 AND id = $3",
        )
        .bind(tenant.to_string())
        .bind(session.to_string())
        .bind(id.to_string())
        .fetch_optional(self.pool())
        .await
        .map_err(map_err)?
        .map(TryInto::try_into)
        .transpose()
    }

    async fn extend_challenge(
        &self,
        tenant: TenantId,
        session: InterviewId,
        id: ChallengeId,
        until: OffsetDateTime,
    ) -> StoreResult<()> {
        sqlx::query(
            "UPDATE challenges SET expires_at = $1 WHERE tenant_id = $2 AND session_id = $3 AND id = $4
               AND answered_at IS NULL AND expires_at < $1",
        )
        .bind(until)
        .bind(tenant.to_string())
        .bind(session.to_string())
        .bind(id.to_string())
        .execute(self.pool())
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn record_consent(&self, tenant: TenantId, session: InterviewId, at: OffsetDateTime) -> StoreResult<()> {
        sqlx::query(
            "UPDATE sessions SET consented_at = COALESCE(consented_at, $1), updated_at = $2 WHERE tenant_id = $3 AND id = $4",
        )
        .bind(at)
        .bind(at)
        .bind(tenant.to_string())
        .bind(session.to_string())
        .execute(self.pool())
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn submit_session(&self, tenant: TenantId, session: InterviewId, at: OffsetDateTime) -> StoreResult<()> {
        let mut tx = self.pool().begin().await.map_err(map_err)?;
        let first = sqlx::query(
            "UPDATE sessions SET submitted_at = $1, updated_at = $1
             WHERE tenant_id = $2 AND id = $3 AND submitted_at IS NULL",
        )
        .bind(at)
        .bind(tenant.to_string())
        .bind(session.to_string())
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        if first.rows_affected() == 1 {
            enqueue(&mut tx, tenant, session, JobKind::Finalize, at, at).await?;
        }
        tx.commit().await.map_err(map_err)?;
        Ok(())
    }

    async fn reconcile_candidates(
        &self,
        now: OffsetDateTime,
        after: OffsetDateTime,
        before: OffsetDateTime,
        cursor: Option<InterviewId>,
        limit: u32,
    ) -> StoreResult<Vec<(TenantId, InterviewId)>> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT s.tenant_id, s.id FROM sessions s
             WHERE s.status IN ('UNKNOWN', 'ID_VALIDATION_FINISHED', 'POST_PROCESSING_FINISHED', 'FACE_VALIDATION_FINISHED')
               AND s.expires_at > $1 AND s.id::text > $4
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
        .fetch_all(self.pool())
        .await
        .map_err(map_err)?;
        rows.into_iter()
            .map(|(t, s)| {
                Ok((t.parse().map_err(|_| corrupt("tenant id"))?, s.parse().map_err(|_| corrupt("interview id"))?))
            })
            .collect()
    }
}
