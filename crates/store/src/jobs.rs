//! The durable job queue.

use async_trait::async_trait;
use time::OffsetDateTime;
use veriframe_core::ids::{InterviewId, JobId, TenantId};
use veriframe_core::ports::{Job, JobKind, JobState, JobStore, StoreResult};

use crate::SqlStore;
use crate::db::{Conn, Dialect, Row, corrupt, id, query};

fn job(r: &Row) -> StoreResult<Job> {
    Ok(Job {
        id: id(&r.text("id")?, "job id")?,
        tenant_id: id(&r.text("tenant_id")?, "tenant id")?,
        session_id: id(&r.text("session_id")?, "interview id")?,
        kind: JobKind::parse(&r.text("kind")?).ok_or_else(|| corrupt("job kind"))?,
        state: JobState::parse(&r.text("state")?).ok_or_else(|| corrupt("job state"))?,
        attempts: u32::try_from(r.int("attempts")?).map_err(|_| corrupt("job attempts"))?,
        run_after: r.time("run_after")?,
        lease_until: r.opt_time("lease_until")?,
        worker: r.opt_text("worker")?,
        last_error: r.opt_text("last_error")?,
        created_at: r.time("created_at")?,
        updated_at: r.time("updated_at")?,
    })
}

/// The columns [`job`] reads.
macro_rules! job_columns {
    () => {
        "id, tenant_id, session_id, kind, state, attempts, run_after, lease_until, worker, last_error, created_at, \
         updated_at"
    };
}

#[async_trait]
impl JobStore for SqlStore {
    async fn enqueue_job(
        &self,
        tenant: TenantId,
        session: InterviewId,
        kind: JobKind,
        run_after: OffsetDateTime,
        now: OffsetDateTime,
    ) -> StoreResult<()> {
        enqueue(self.db.write(), self.dialect(), tenant, session, kind, run_after, now).await
    }

    async fn claim_job(
        &self,
        worker: &str,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
    ) -> StoreResult<Option<Job>> {
        // One statement. On SQLite the single writer keeps the pick and the lease from
        // interleaving with another claimer; on PostgreSQL, SKIP LOCKED has concurrent claimers
        // (several servers on one database) each take a different row instead of queueing on
        // the same one.
        query(sqlx::AssertSqlSafe(format!(
            "UPDATE jobs SET state = 'running', worker = $1, lease_until = $2, attempts = attempts + 1, updated_at = $3
             WHERE id = (
                 SELECT id FROM jobs
                 WHERE (state = 'queued' AND run_after <= $3) OR (state = 'running' AND lease_until < $3)
                 ORDER BY run_after, created_at LIMIT 1 {})
             RETURNING {}",
            self.dialect().for_update_skip_locked(),
            job_columns!()
        )))
        .bind(worker)
        .bind(lease_until)
        .bind(now)
        .fetch_optional_with(self.db.write(), job)
        .await
    }

    async fn extend_lease(&self, id: JobId, worker: &str, lease_until: OffsetDateTime) -> StoreResult<bool> {
        let changed = query("UPDATE jobs SET lease_until = $1 WHERE id = $2 AND worker = $3 AND state = 'running'")
            .bind(lease_until)
            .bind(id.to_string())
            .bind(worker)
            .execute(self.db.write())
            .await?;
        Ok(changed == 1)
    }

    async fn complete_job(&self, id: JobId, worker: &str, now: OffsetDateTime) -> StoreResult<()> {
        self.end_job(id, worker, now, JobState::Done, None).await
    }

    async fn retry_job(
        &self,
        id: JobId,
        worker: &str,
        error: &str,
        run_after: OffsetDateTime,
        now: OffsetDateTime,
    ) -> StoreResult<()> {
        query(
            "UPDATE jobs SET state = 'queued', run_after = $1, last_error = $2, lease_until = NULL, worker = NULL,
                 updated_at = $3
             WHERE id = $4 AND worker = $5 AND state = 'running'",
        )
        .bind(run_after)
        .bind(error)
        .bind(now)
        .bind(id.to_string())
        .bind(worker)
        .execute(self.db.write())
        .await?;
        Ok(())
    }

    async fn fail_job(&self, id: JobId, worker: &str, error: &str, now: OffsetDateTime) -> StoreResult<()> {
        self.end_job(id, worker, now, JobState::Failed, Some(error)).await
    }

    async fn jobs(&self, tenant: TenantId, session: InterviewId) -> StoreResult<Vec<Job>> {
        query(concat!(
            "SELECT ",
            job_columns!(),
            " FROM jobs WHERE tenant_id = $1 AND session_id = $2 ORDER BY created_at, id"
        ))
        .bind(tenant.to_string())
        .bind(session.to_string())
        .fetch_all_with(self.db.read(), job)
        .await
    }

    async fn next_job_due(&self) -> StoreResult<Option<OffsetDateTime>> {
        let next = query(
            "SELECT MIN(t) AS t FROM (
                 SELECT MIN(run_after) AS t FROM jobs WHERE state = 'queued'
                 UNION ALL
                 SELECT MIN(lease_until) AS t FROM jobs WHERE state = 'running') AS due",
        )
        .fetch_optional_with(self.db.read(), |r| r.opt_time("t"))
        .await?;
        Ok(next.flatten())
    }
}

impl SqlStore {
    /// Ends the worker's running job in `end` (done or failed) with `error`; a rerun asked for
    /// while it ran queues it again instead, from the start.
    async fn end_job(
        &self,
        id: JobId,
        worker: &str,
        now: OffsetDateTime,
        end: JobState,
        error: Option<&str>,
    ) -> StoreResult<()> {
        query(
            "UPDATE jobs SET
                 state = CASE WHEN rerun THEN 'queued' ELSE $5 END,
                 attempts = CASE WHEN rerun THEN 0 ELSE attempts END,
                 run_after = CASE WHEN rerun THEN $1 ELSE run_after END,
                 rerun = false, last_error = $2, lease_until = NULL, worker = NULL, updated_at = $1
             WHERE id = $3 AND worker = $4 AND state = 'running'",
        )
        .bind(now)
        .bind(error)
        .bind(id.to_string())
        .bind(worker)
        .bind(end.as_str())
        .execute(self.db.write())
        .await?;
        Ok(())
    }
}

/// Queues a job with [`JobStore::enqueue_job`]'s rules, on `on` (a transaction's connection
/// when it must commit together with what asked for the job).
pub(crate) async fn enqueue(
    on: Conn<'_>,
    dialect: Dialect,
    tenant: TenantId,
    session: InterviewId,
    kind: JobKind,
    run_after: OffsetDateTime,
    now: OffsetDateTime,
) -> StoreResult<()> {
    // Every SET expression reads the row as it was before the update.
    query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO jobs (id, tenant_id, session_id, kind, state, attempts, rerun, run_after, created_at, updated_at)
         VALUES ($1, $2, $3, $4, 'queued', 0, false, $5, $6, $6)
         ON CONFLICT (session_id, kind) DO UPDATE SET
             rerun = (jobs.state = 'running') OR jobs.rerun,
             run_after = CASE
                 WHEN jobs.state = 'queued' THEN {least}(jobs.run_after, excluded.run_after)
                 WHEN jobs.state IN ('done', 'failed') THEN excluded.run_after
                 ELSE jobs.run_after END,
             attempts = CASE WHEN jobs.state IN ('done', 'failed') THEN 0 ELSE jobs.attempts END,
             last_error = CASE WHEN jobs.state IN ('done', 'failed') THEN NULL ELSE jobs.last_error END,
             state = CASE WHEN jobs.state IN ('done', 'failed') THEN 'queued' ELSE jobs.state END,
             updated_at = excluded.updated_at",
        least = dialect.least()
    )))
    .bind(JobId::generate(now).to_string())
    .bind(tenant.to_string())
    .bind(session.to_string())
    .bind(kind.as_str())
    .bind(run_after)
    .bind(now)
    .execute(on)
    .await?;
    Ok(())
}
