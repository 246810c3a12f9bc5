//! Captures, challenges, jobs and results over PostgreSQL.

use async_trait::async_trait;
use sqlx::types::Json;
use time::OffsetDateTime;
use veriframe_core::blob::BlobKey;
use veriframe_core::ids::{ChallengeId, InterviewId, JobId, TenantId};
use veriframe_core::ports::{
    CaptureRecord, CaptureStore, ChallengeRecord, Job, JobKind, JobState, JobStore, ResultStore, StoreError,
    StoreResult,
};
use veriframe_core::scores::Scores;
use veriframe_core::verification::{CaptureKind, DocumentFindings, FaceFindings, LivenessFindings, SessionResults};

use crate::PostgresStore;
use crate::rows::map_err;

fn corrupt(what: &str) -> StoreError {
    StoreError::Other(format!("unreadable {what} in the database"))
}

fn from_value<T: serde::de::DeserializeOwned>(value: serde_json::Value, what: &str) -> StoreResult<T> {
    serde_json::from_value(value).map_err(|_| corrupt(what))
}

fn blob_keys(keys: &[String]) -> StoreResult<Vec<BlobKey>> {
    keys.iter().map(|k| BlobKey::parse(k).ok_or_else(|| corrupt("blob key"))).collect()
}

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
            idempotency_key: r.idempotency_key,
            created_at: r.created_at,
        })
    }
}

const CAPTURE_COLUMNS: &str = "id, tenant_id, session_id, kind, accepted, problems, summary, blobs, source, \
                               challenge_id, idempotency_key, created_at";

#[derive(sqlx::FromRow)]
struct ChallengeRow {
    id: String,
    tenant_id: String,
    session_id: String,
    direction: String,
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
            direction: r.direction,
            created_at: r.created_at,
            expires_at: r.expires_at,
            answered_at: r.answered_at,
        })
    }
}

#[async_trait]
impl CaptureStore for PostgresStore {
    async fn insert_capture(&self, c: &CaptureRecord) -> StoreResult<()> {
        let blobs: Vec<&str> = c.blobs.iter().map(BlobKey::as_str).collect();
        sqlx::query(
            "INSERT INTO captures (id, tenant_id, session_id, kind, accepted, problems, summary, blobs, source,
                challenge_id, idempotency_key, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
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
        .bind(c.idempotency_key.as_deref())
        .bind(c.created_at)
        .execute(self.pool())
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn capture_by_idempotency_key(
        &self,
        tenant: TenantId,
        session: InterviewId,
        key: &str,
    ) -> StoreResult<Option<CaptureRecord>> {
        sqlx::query_as::<_, CaptureRow>(sqlx::AssertSqlSafe(format!(
            "SELECT {CAPTURE_COLUMNS} FROM captures WHERE tenant_id = $1 AND session_id = $2 AND idempotency_key = $3"
        )))
        .bind(tenant.to_string())
        .bind(session.to_string())
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
            "INSERT INTO challenges (id, tenant_id, session_id, direction, created_at, expires_at, answered_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(c.id.to_string())
        .bind(c.tenant_id.to_string())
        .bind(c.session_id.to_string())
        .bind(&c.direction)
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
            "SELECT id, tenant_id, session_id, direction, created_at, expires_at, answered_at
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

    async fn answer_challenge(&self, tenant: TenantId, id: ChallengeId, at: OffsetDateTime) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE challenges SET answered_at = $1 WHERE tenant_id = $2 AND id = $3 AND answered_at IS NULL",
        )
        .bind(at)
        .bind(tenant.to_string())
        .bind(id.to_string())
        .execute(self.pool())
        .await
        .map_err(map_err)?;
        Ok(done.rows_affected() == 1)
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

    async fn record_submission(&self, tenant: TenantId, session: InterviewId, at: OffsetDateTime) -> StoreResult<()> {
        sqlx::query(
            "UPDATE sessions SET submitted_at = COALESCE(submitted_at, $1), updated_at = $2 WHERE tenant_id = $3 AND id = $4",
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
}

#[derive(sqlx::FromRow)]
struct JobRow {
    id: String,
    tenant_id: String,
    session_id: String,
    kind: String,
    state: String,
    attempts: i32,
    run_after: OffsetDateTime,
    lease_until: Option<OffsetDateTime>,
    worker: Option<String>,
    last_error: Option<String>,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
}

impl TryFrom<JobRow> for Job {
    type Error = StoreError;
    fn try_from(r: JobRow) -> StoreResult<Self> {
        Ok(Job {
            id: r.id.parse().map_err(|_| corrupt("job id"))?,
            tenant_id: r.tenant_id.parse().map_err(|_| corrupt("tenant id"))?,
            session_id: r.session_id.parse().map_err(|_| corrupt("interview id"))?,
            kind: JobKind::parse(&r.kind).ok_or_else(|| corrupt("job kind"))?,
            state: JobState::parse(&r.state).ok_or_else(|| corrupt("job state"))?,
            attempts: u32::try_from(r.attempts).map_err(|_| corrupt("job attempts"))?,
            run_after: r.run_after,
            lease_until: r.lease_until,
            worker: r.worker,
            last_error: r.last_error,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

const JOB_COLUMNS: &str = "id, tenant_id, session_id, kind, state, attempts, run_after, lease_until, worker, last_error, created_at, updated_at";

#[async_trait]
impl JobStore for PostgresStore {
    async fn enqueue_job(
        &self,
        tenant: TenantId,
        session: InterviewId,
        kind: JobKind,
        run_after: OffsetDateTime,
        now: OffsetDateTime,
    ) -> StoreResult<()> {
        // Every SET expression reads the row as it was before the update.
        sqlx::query(
            "INSERT INTO jobs (id, tenant_id, session_id, kind, state, attempts, rerun, run_after, created_at, updated_at)
             VALUES ($1, $2, $3, $4, 'queued', 0, false, $5, $6, $7)
             ON CONFLICT (session_id, kind) DO UPDATE SET
                 rerun = (jobs.state = 'running') OR jobs.rerun,
                 run_after = CASE
                     WHEN jobs.state = 'queued' THEN LEAST(jobs.run_after, excluded.run_after)
                     WHEN jobs.state IN ('done', 'failed') THEN excluded.run_after
                     ELSE jobs.run_after END,
                 attempts = CASE WHEN jobs.state IN ('done', 'failed') THEN 0 ELSE jobs.attempts END,
                 last_error = CASE WHEN jobs.state IN ('done', 'failed') THEN NULL ELSE jobs.last_error END,
                 state = CASE WHEN jobs.state IN ('done', 'failed') THEN 'queued' ELSE jobs.state END,
                 updated_at = excluded.updated_at",
        )
        .bind(JobId::generate(now).to_string())
        .bind(tenant.to_string())
        .bind(session.to_string())
        .bind(kind.as_str())
        .bind(run_after)
        .bind(now)
        .bind(now)
        .execute(self.pool())
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn claim_job(
        &self,
        worker: &str,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
    ) -> StoreResult<Option<Job>> {
        // SKIP LOCKED: concurrent claimers (several servers on one database) each take a
        // different row instead of queueing on the same one.
        sqlx::query_as::<_, JobRow>(sqlx::AssertSqlSafe(format!(
            "UPDATE jobs SET state = 'running', worker = $1, lease_until = $2, attempts = attempts + 1, updated_at = $3
             WHERE id = (
                 SELECT id FROM jobs
                 WHERE (state = 'queued' AND run_after <= $3) OR (state = 'running' AND lease_until < $3)
                 ORDER BY run_after, created_at LIMIT 1 FOR UPDATE SKIP LOCKED)
             RETURNING {JOB_COLUMNS}"
        )))
        .bind(worker)
        .bind(lease_until)
        .bind(now)
        .fetch_optional(self.pool())
        .await
        .map_err(map_err)?
        .map(TryInto::try_into)
        .transpose()
    }

    async fn extend_lease(&self, id: JobId, worker: &str, lease_until: OffsetDateTime) -> StoreResult<bool> {
        let done = sqlx::query("UPDATE jobs SET lease_until = $1 WHERE id = $2 AND worker = $3 AND state = 'running'")
            .bind(lease_until)
            .bind(id.to_string())
            .bind(worker)
            .execute(self.pool())
            .await
            .map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn complete_job(&self, id: JobId, worker: &str, now: OffsetDateTime) -> StoreResult<()> {
        sqlx::query(
            "UPDATE jobs SET
                 state = CASE WHEN rerun THEN 'queued' ELSE 'done' END,
                 attempts = CASE WHEN rerun THEN 0 ELSE attempts END,
                 run_after = CASE WHEN rerun THEN $1 ELSE run_after END,
                 rerun = false, lease_until = NULL, worker = NULL, last_error = NULL, updated_at = $1
             WHERE id = $2 AND worker = $3 AND state = 'running'",
        )
        .bind(now)
        .bind(id.to_string())
        .bind(worker)
        .execute(self.pool())
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn retry_job(
        &self,
        id: JobId,
        worker: &str,
        error: &str,
        run_after: OffsetDateTime,
        now: OffsetDateTime,
    ) -> StoreResult<()> {
        sqlx::query(
            "UPDATE jobs SET state = 'queued', run_after = $1, last_error = $2, lease_until = NULL, worker = NULL,
                 updated_at = $3
             WHERE id = $4 AND worker = $5 AND state = 'running'",
        )
        .bind(run_after)
        .bind(error)
        .bind(now)
        .bind(id.to_string())
        .bind(worker)
        .execute(self.pool())
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn fail_job(&self, id: JobId, worker: &str, error: &str, now: OffsetDateTime) -> StoreResult<()> {
        sqlx::query(
            "UPDATE jobs SET
                 state = CASE WHEN rerun THEN 'queued' ELSE 'failed' END,
                 attempts = CASE WHEN rerun THEN 0 ELSE attempts END,
                 run_after = CASE WHEN rerun THEN $1 ELSE run_after END,
                 rerun = false, last_error = $2, lease_until = NULL, worker = NULL, updated_at = $1
             WHERE id = $3 AND worker = $4 AND state = 'running'",
        )
        .bind(now)
        .bind(error)
        .bind(id.to_string())
        .bind(worker)
        .execute(self.pool())
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn jobs(&self, tenant: TenantId, session: InterviewId) -> StoreResult<Vec<Job>> {
        sqlx::query_as::<_, JobRow>(sqlx::AssertSqlSafe(format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE tenant_id = $1 AND session_id = $2 ORDER BY created_at, id"
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

    async fn next_job_due(&self) -> StoreResult<Option<OffsetDateTime>> {
        let next: Option<OffsetDateTime> = sqlx::query_scalar(
            "SELECT MIN(t) FROM (
                 SELECT MIN(run_after) AS t FROM jobs WHERE state = 'queued'
                 UNION ALL
                 SELECT MIN(lease_until) AS t FROM jobs WHERE state = 'running') AS due",
        )
        .fetch_one(self.pool())
        .await
        .map_err(map_err)?;
        Ok(next)
    }
}

#[derive(sqlx::FromRow)]
struct ResultsRow {
    document: Option<serde_json::Value>,
    document_data_blob: Option<String>,
    face: Option<serde_json::Value>,
    liveness: Option<serde_json::Value>,
    scores: Option<serde_json::Value>,
}

#[async_trait]
impl ResultStore for PostgresStore {
    async fn results(&self, tenant: TenantId, session: InterviewId) -> StoreResult<SessionResults> {
        let row = sqlx::query_as::<_, ResultsRow>(
            "SELECT document, document_data_blob, face, liveness, scores FROM session_results
             WHERE tenant_id = $1 AND session_id = $2",
        )
        .bind(tenant.to_string())
        .bind(session.to_string())
        .fetch_optional(self.pool())
        .await
        .map_err(map_err)?;
        let Some(r) = row else { return Ok(SessionResults::default()) };
        Ok(SessionResults {
            document: r.document.map(|v| from_value(v, "document findings")).transpose()?,
            face: r.face.map(|v| from_value(v, "face findings")).transpose()?,
            liveness: r.liveness.map(|v| from_value(v, "liveness findings")).transpose()?,
            document_data: r
                .document_data_blob
                .map(|k| BlobKey::parse(&k).ok_or_else(|| corrupt("blob key")))
                .transpose()?,
            scores: r.scores.map(|v| from_value::<Scores>(v, "scores")).transpose()?,
        })
    }

    async fn save_document_findings(
        &self,
        tenant: TenantId,
        session: InterviewId,
        findings: &DocumentFindings,
        data: Option<&BlobKey>,
        at: OffsetDateTime,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO session_results (session_id, tenant_id, document, document_data_blob, updated_at)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (session_id) DO UPDATE SET document = excluded.document,
                 document_data_blob = excluded.document_data_blob, updated_at = excluded.updated_at",
        )
        .bind(session.to_string())
        .bind(tenant.to_string())
        .bind(Json(findings))
        .bind(data.map(BlobKey::as_str))
        .bind(at)
        .execute(self.pool())
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn save_face_findings(
        &self,
        tenant: TenantId,
        session: InterviewId,
        face: &FaceFindings,
        liveness: Option<&LivenessFindings>,
        at: OffsetDateTime,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO session_results (session_id, tenant_id, face, liveness, updated_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (session_id) DO UPDATE SET face = excluded.face, liveness = excluded.liveness,
                 updated_at = excluded.updated_at",
        )
        .bind(session.to_string())
        .bind(tenant.to_string())
        .bind(Json(face))
        .bind(liveness.map(Json))
        .bind(at)
        .execute(self.pool())
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn save_scores(
        &self,
        tenant: TenantId,
        session: InterviewId,
        scores: &Scores,
        at: OffsetDateTime,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO session_results (session_id, tenant_id, scores, updated_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (session_id) DO UPDATE SET scores = excluded.scores, updated_at = excluded.updated_at",
        )
        .bind(session.to_string())
        .bind(tenant.to_string())
        .bind(Json(scores))
        .bind(at)
        .execute(self.pool())
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn put_image(
        &self,
        tenant: TenantId,
        session: InterviewId,
        name: &str,
        key: &BlobKey,
        at: OffsetDateTime,
    ) -> StoreResult<Option<BlobKey>> {
        let mut tx = self.pool().begin().await.map_err(map_err)?;
        let old: Option<String> = sqlx::query_scalar(
            "SELECT blob_key FROM session_images WHERE tenant_id = $1 AND session_id = $2 AND name = $3",
        )
        .bind(tenant.to_string())
        .bind(session.to_string())
        .bind(name)
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_err)?;
        sqlx::query(
            "INSERT INTO session_images (session_id, tenant_id, name, blob_key, created_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (session_id, name) DO UPDATE SET blob_key = excluded.blob_key, created_at = excluded.created_at",
        )
        .bind(session.to_string())
        .bind(tenant.to_string())
        .bind(name)
        .bind(key.as_str())
        .bind(at)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        old.filter(|o| o != key.as_str()).map(|k| BlobKey::parse(&k).ok_or_else(|| corrupt("blob key"))).transpose()
    }

    async fn images(&self, tenant: TenantId, session: InterviewId) -> StoreResult<Vec<(String, BlobKey)>> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT name, blob_key FROM session_images WHERE tenant_id = $1 AND session_id = $2 ORDER BY name",
        )
        .bind(tenant.to_string())
        .bind(session.to_string())
        .fetch_all(self.pool())
        .await
        .map_err(map_err)?;
        rows.into_iter().map(|(n, k)| Ok((n, BlobKey::parse(&k).ok_or_else(|| corrupt("blob key"))?))).collect()
    }
}
