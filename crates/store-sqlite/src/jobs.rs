//! The durable job queue over SQLite.

use async_trait::async_trait;
use sqlx::SqliteConnection;
use time::OffsetDateTime;
use veriframe_core::ids::{InterviewId, JobId, TenantId};
use veriframe_core::ports::{Job, JobKind, JobState, JobStore, StoreError, StoreResult};

use crate::SqliteStore;
use crate::rows::map_err;
use crate::verification::{corrupt, ms, time};

#[derive(sqlx::FromRow)]
struct JobRow {
    id: String,
    tenant_id: String,
    session_id: String,
    kind: String,
    state: String,
    attempts: i64,
    run_after: i64,
    lease_until: Option<i64>,
    worker: Option<String>,
    last_error: Option<String>,
    created_at: i64,
    updated_at: i64,
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
            run_after: time(r.run_after)?,
            lease_until: r.lease_until.map(time).transpose()?,
            worker: r.worker,
            last_error: r.last_error,
            created_at: time(r.created_at)?,
            updated_at: time(r.updated_at)?,
        })
    }
}

const JOB_COLUMNS: &str = "id, tenant_id, session_id, kind, state, attempts, run_after, lease_until, worker, last_error, created_at, updated_at";

#[async_trait]
impl JobStore for SqliteStore {
    async fn enqueue_job(
        &self,
        tenant: TenantId,
        session: InterviewId,
        kind: JobKind,
        run_after: OffsetDateTime,
        now: OffsetDateTime,
    ) -> StoreResult<()> {
        let mut conn = self.writer().acquire().await.map_err(map_err)?;
        enqueue(&mut conn, tenant, session, kind, run_after, now).await
    }

    async fn claim_job(
        &self,
        worker: &str,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
    ) -> StoreResult<Option<Job>> {
        // One statement: SQLite has a single writer, so the pick and the lease cannot interleave
        // with another claimer.
        sqlx::query_as::<_, JobRow>(sqlx::AssertSqlSafe(format!(
            "UPDATE jobs SET state = 'running', worker = ?1, lease_until = ?2, attempts = attempts + 1, updated_at = ?3
             WHERE id = (
                 SELECT id FROM jobs
                 WHERE (state = 'queued' AND run_after <= ?3) OR (state = 'running' AND lease_until < ?3)
                 ORDER BY run_after, created_at LIMIT 1)
             RETURNING {JOB_COLUMNS}"
        )))
        .bind(worker)
        .bind(ms(lease_until))
        .bind(ms(now))
        .fetch_optional(self.writer())
        .await
        .map_err(map_err)?
        .map(TryInto::try_into)
        .transpose()
    }

    async fn extend_lease(&self, id: JobId, worker: &str, lease_until: OffsetDateTime) -> StoreResult<bool> {
        let done = sqlx::query("UPDATE jobs SET lease_until = ? WHERE id = ? AND worker = ? AND state = 'running'")
            .bind(ms(lease_until))
            .bind(id.to_string())
            .bind(worker)
            .execute(self.writer())
            .await
            .map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn complete_job(&self, id: JobId, worker: &str, now: OffsetDateTime) -> StoreResult<()> {
        sqlx::query(
            "UPDATE jobs SET
                 state = CASE WHEN rerun = 1 THEN 'queued' ELSE 'done' END,
                 attempts = CASE WHEN rerun = 1 THEN 0 ELSE attempts END,
                 run_after = CASE WHEN rerun = 1 THEN ?1 ELSE run_after END,
                 rerun = 0, lease_until = NULL, worker = NULL, last_error = NULL, updated_at = ?1
             WHERE id = ?2 AND worker = ?3 AND state = 'running'",
        )
        .bind(ms(now))
        .bind(id.to_string())
        .bind(worker)
        .execute(self.writer())
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
            "UPDATE jobs SET state = 'queued', run_after = ?1, last_error = ?2, lease_until = NULL, worker = NULL,
                 updated_at = ?3
             WHERE id = ?4 AND worker = ?5 AND state = 'running'",
        )
        .bind(ms(run_after))
        .bind(error)
        .bind(ms(now))
        .bind(id.to_string())
        .bind(worker)
        .execute(self.writer())
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn fail_job(&self, id: JobId, worker: &str, error: &str, now: OffsetDateTime) -> StoreResult<()> {
        sqlx::query(
            "UPDATE jobs SET
                 state = CASE WHEN rerun = 1 THEN 'queued' ELSE 'failed' END,
                 attempts = CASE WHEN rerun = 1 THEN 0 ELSE attempts END,
                 run_after = CASE WHEN rerun = 1 THEN ?1 ELSE run_after END,
                 rerun = 0, last_error = ?2, lease_until = NULL, worker = NULL, updated_at = ?1
             WHERE id = ?3 AND worker = ?4 AND state = 'running'",
        )
        .bind(ms(now))
        .bind(error)
        .bind(id.to_string())
        .bind(worker)
        .execute(self.writer())
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn jobs(&self, tenant: TenantId, session: InterviewId) -> StoreResult<Vec<Job>> {
        sqlx::query_as::<_, JobRow>(sqlx::AssertSqlSafe(format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE tenant_id = ? AND session_id = ? ORDER BY created_at, id"
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
        let next: Option<i64> = sqlx::query_scalar(
            "SELECT MIN(t) FROM (
                 SELECT MIN(run_after) AS t FROM jobs WHERE state = 'queued'
                 UNION ALL
                 SELECT MIN(lease_until) AS t FROM jobs WHERE state = 'running')",
        )
        .fetch_one(self.pool())
        .await
        .map_err(map_err)?;
        next.map(time).transpose()
    }
}

/// Queues a job with [`JobStore::enqueue_job`]'s rules, inside the caller's transaction.
pub(crate) async fn enqueue(
    conn: &mut SqliteConnection,
    tenant: TenantId,
    session: InterviewId,
    kind: JobKind,
    run_after: OffsetDateTime,
    now: OffsetDateTime,
) -> StoreResult<()> {
    // Every SET expression reads the row as it was before the update.
    sqlx::query(
        "INSERT INTO jobs (id, tenant_id, session_id, kind, state, attempts, rerun, run_after, created_at, updated_at)
         VALUES (?, ?, ?, ?, 'queued', 0, 0, ?, ?, ?)
         ON CONFLICT (session_id, kind) DO UPDATE SET
             rerun = CASE WHEN jobs.state = 'running' THEN 1 ELSE jobs.rerun END,
             run_after = CASE
                 WHEN jobs.state = 'queued' THEN MIN(jobs.run_after, excluded.run_after)
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
    .bind(ms(run_after))
    .bind(ms(now))
    .bind(ms(now))
    .execute(conn)
    .await
    .map_err(map_err)?;
    Ok(())
}
