//! Housekeeping that keeps every session finishing and no image orphaned.
//!
//! Each acceptance is one transaction (capture, images, jobs), and so is each submission
//! (`submitted_at` and the finalize job), so a crash cannot leave half of either. Two gaps
//! remain, and this module closes them:
//!
//! - **Missing work.** Two captures of one session committed at the same moment can each decide
//!   that the other's input is still missing, so neither queues the job they complete together;
//!   and databases written before these rules may hold such sessions. [`Reconciler::reconcile`]
//!   finds sessions whose inputs are complete but whose job is absent or older than its inputs,
//!   and queues it. Jobs whose worker died are not missing: their lease expires and another
//!   worker claims them.
//! - **Orphaned blobs.** Bytes are stored before the transaction that refers to them; a crash or
//!   a failed commit in between leaves bytes nobody refers to, as does a failed delete of a
//!   superseded image. [`Reconciler::sweep_blobs`] deletes blobs that no row refers to once they
//!   are older than a grace period far longer than any request.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use time::{Duration, OffsetDateTime};

use crate::blob::{BlobError, BlobKey, BlobStore};
use crate::capture::FlowState;
use crate::clock::Clock;
use crate::ids::{InterviewId, TenantId};
use crate::ports::{Job, JobKind, JobSignal, JobState, Store, StoreError};
use crate::verification::CaptureKind;

/// Candidates examined per database round trip.
const PAGE: u32 = 200;

#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Blob(#[from] BlobError),
}

/// Finds and repairs missing work and orphaned blobs.
pub struct Reconciler {
    store: Arc<dyn Store>,
    blobs: Arc<dyn BlobStore>,
    clock: Arc<dyn Clock>,
    signal: Arc<dyn JobSignal>,
}

impl std::fmt::Debug for Reconciler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reconciler").field("backend", &self.store.backend()).finish_non_exhaustive()
    }
}

impl Reconciler {
    pub fn new(
        store: Arc<dyn Store>,
        blobs: Arc<dyn BlobStore>,
        clock: Arc<dyn Clock>,
        signal: Arc<dyn JobSignal>,
    ) -> Self {
        Self { store, blobs, clock, signal }
    }

    /// Queues the missing jobs of sessions with captures taken after `since` (or submitted at
    /// any time); returns how many jobs were queued. A pass from the epoch examines everything
    /// (at start-up); periodic passes look back a little further than their period.
    pub async fn reconcile(&self, since: OffsetDateTime) -> Result<usize, ReconcileError> {
        let now = self.clock.now();
        let mut cursor = None;
        let mut queued = 0;
        loop {
            let page = self.store.reconcile_candidates(now, since, now, cursor, PAGE).await?;
            for &(tenant, session) in &page {
                queued += self.reconcile_session(tenant, session, now).await?;
            }
            match page.last() {
                Some(&(_, last)) if page.len() == PAGE as usize => cursor = Some(last),
                _ => break,
            }
        }
        if queued > 0 {
            tracing::warn!(jobs = queued, "reconciler queued missing verification work");
            self.signal.job_queued();
        }
        Ok(queued)
    }

    async fn reconcile_session(
        &self,
        tenant: TenantId,
        session_id: InterviewId,
        now: OffsetDateTime,
    ) -> Result<usize, ReconcileError> {
        let Some(session) = self.store.session(tenant, session_id).await? else { return Ok(0) };
        let Some(flow) = self.store.flow(tenant, session.flow_id).await? else { return Ok(0) };
        let captures = self.store.captures(tenant, session_id).await?;
        let jobs = self.store.jobs(tenant, session_id).await?;
        let latest_input = |kinds: &[CaptureKind]| {
            captures.iter().filter(|c| c.accepted && kinds.contains(&c.kind)).map(|c| c.created_at).max()
        };
        let inputs = [
            (JobKind::Document, latest_input(&[CaptureKind::Front, CaptureKind::Back])),
            (JobKind::Face, latest_input(&[CaptureKind::Selfie, CaptureKind::Liveness])),
            (JobKind::Finalize, session.submitted_at),
        ];
        let state = FlowState::compute(session, flow, &captures, &jobs, now);
        if state.status.is_closed() {
            return Ok(0);
        }
        let mut queued = 0;
        for (kind, input) in inputs {
            let Some(input) = input else { continue };
            if state.job_ready(kind) && missing(&jobs, kind, input) {
                tracing::warn!(interview_id = %session_id, job = kind.as_str(), "queueing a missing job");
                self.store.enqueue_job(tenant, session_id, kind, now, now).await?;
                queued += 1;
            }
        }
        Ok(queued)
    }

    /// Deletes blobs under `prefix` that no row refers to and that are older than `grace`;
    /// returns how many.
    pub async fn sweep_blobs(&self, grace: Duration) -> Result<u64, ReconcileError> {
        let cutoff = self.clock.now() - grace;
        let mut by_session: BTreeMap<(TenantId, InterviewId), Vec<BlobKey>> = BTreeMap::new();
        for listed in self.blobs.list("tenants/").await? {
            if listed.modified >= cutoff {
                continue;
            }
            if let Some(owner) = listed.key.owner() {
                by_session.entry(owner).or_default().push(listed.key);
            }
        }
        let mut deleted = 0;
        for ((tenant, session), old) in by_session {
            let referenced: HashSet<BlobKey> =
                self.store.referenced_blobs(tenant, session).await?.into_iter().collect();
            for key in old.into_iter().filter(|k| !referenced.contains(k)) {
                self.blobs.delete(&key).await?;
                deleted += 1;
            }
        }
        if deleted > 0 {
            tracing::info!(blobs = deleted, "deleted blobs that no record refers to");
        }
        Ok(deleted)
    }
}

/// Whether the session's job of `kind` is absent, or finished before its latest input arrived
/// (queued or running jobs are in hand; a job re-queued while running reruns by itself).
fn missing(jobs: &[Job], kind: JobKind, latest_input: OffsetDateTime) -> bool {
    match jobs.iter().find(|j| j.kind == kind) {
        None => true,
        Some(job) => match job.state {
            JobState::Queued | JobState::Running => false,
            JobState::Done | JobState::Failed => job.updated_at < latest_input,
        },
    }
}
