//! Ports: what the domain needs from the outside world. Storage is split by aggregate; the
//! `Store` supertrait bundles them so the composition root hands out one `Arc<dyn Store>`.
//!
//! Every implementation must pass the conformance suite in `crates/testkit`.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::blob::BlobKey;
use crate::challenge::{Film, TurnDirection};
use crate::flow::{Flow, FlowConfig};
use crate::ids::{AdminId, ApiKeyId, CaptureId, ChallengeId, ClientId, FlowId, InterviewId, JobId, TenantId};
use crate::scores::Scores;
use crate::secret::{SecretHash, SecretKind};
use crate::session::Session;
use crate::status::OnboardingStatus;
use crate::tenant::{Admin, ApiKey, Tenant};
use crate::text::Email;
use crate::verification::{
    CaptureKind, CaptureProblem, CaptureSummary, DocumentFindings, FaceFindings, LivenessFindings, SessionResults,
};

/// Storage failures, reduced to what callers can act on.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule was violated (the message names which, without personal data).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The database could not be reached or timed out; worth retrying.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// Anything else (corrupt row, failed migration, driver bug).
    #[error("storage error: {0}")]
    Other(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

#[async_trait]
pub trait TenantStore: Send + Sync {
    async fn create_tenant(&self, tenant: &Tenant) -> StoreResult<()>;
    async fn tenant(&self, id: TenantId) -> StoreResult<Option<Tenant>>;
    async fn tenant_by_client_id(&self, client_id: &ClientId) -> StoreResult<Option<Tenant>>;
    async fn list_tenants(&self) -> StoreResult<Vec<Tenant>>;
}

#[async_trait]
pub trait ApiKeyStore: Send + Sync {
    async fn create_api_key(&self, key: &ApiKey, hash: &SecretHash) -> StoreResult<()>;
    /// The key with this hash and its tenant, revoked or not (the caller decides).
    async fn api_key_by_hash(&self, hash: &SecretHash) -> StoreResult<Option<(ApiKey, Tenant)>>;
    async fn list_api_keys(&self, tenant: TenantId) -> StoreResult<Vec<ApiKey>>;
    /// Marks the key revoked; `false` when the tenant has no such key or it was already revoked.
    async fn revoke_api_key(&self, tenant: TenantId, id: ApiKeyId, at: OffsetDateTime) -> StoreResult<bool>;
}

#[async_trait]
pub trait FlowStore: Send + Sync {
    async fn create_flow(&self, flow: &Flow) -> StoreResult<()>;
    async fn flow(&self, tenant: TenantId, id: FlowId) -> StoreResult<Option<Flow>>;
    async fn list_flows(&self, tenant: TenantId) -> StoreResult<Vec<Flow>>;
    /// Replaces a flow's configuration; `false` when the tenant has no such flow.
    async fn update_flow_config(&self, tenant: TenantId, id: FlowId, config: &FlowConfig) -> StoreResult<bool>;
}

/// A bearer secret's stored record (everything but the secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretRecord {
    pub hash: SecretHash,
    pub kind: SecretKind,
    pub tenant_id: TenantId,
    pub session_id: Option<InterviewId>,
    pub admin_id: Option<AdminId>,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

#[async_trait]
pub trait SecretStore: Send + Sync {
    async fn insert_secret(&self, record: &SecretRecord) -> StoreResult<()>;
    async fn secret(&self, hash: &SecretHash) -> StoreResult<Option<SecretRecord>>;
    /// Moves a secret's expiry later (never earlier); nothing happens to an unknown hash.
    async fn extend_secret(&self, hash: &SecretHash, until: OffsetDateTime) -> StoreResult<()>;
    /// Deletes records that expired before `before`; returns how many.
    async fn delete_expired_secrets(&self, before: OffsetDateTime) -> StoreResult<u64>;
    /// The secret and, when it names a session of its own tenant, that session's status: one
    /// round trip for the hot path (status polling with a session token).
    async fn secret_with_status(&self, hash: &SecretHash) -> StoreResult<Option<(SecretRecord, Option<StatusRow>)>>;
}

#[async_trait]
pub trait SessionStore: Send + Sync {
    async fn create_session(&self, session: &Session) -> StoreResult<()>;
    async fn session(&self, tenant: TenantId, id: InterviewId) -> StoreResult<Option<Session>>;
    /// Only the milestone and its deadline: what status polling needs, as cheaply as possible.
    async fn session_status(&self, tenant: TenantId, id: InterviewId) -> StoreResult<Option<StatusRow>>;
    /// Moves the session to `to` when its current stored status is one of `from`. Returns the
    /// status after the call (unchanged when the guard did not match), `None` if no such session.
    async fn transition_status(
        &self,
        tenant: TenantId,
        id: InterviewId,
        from: &[OnboardingStatus],
        to: OnboardingStatus,
        at: OffsetDateTime,
    ) -> StoreResult<Option<OnboardingStatus>>;

    /// Finishes an onboarding that is still in progress (the person submitted, or the results
    /// are in); a finished, failed or expired one keeps its status. Returns the status after.
    async fn finish_onboarding(
        &self,
        tenant: TenantId,
        id: InterviewId,
        at: OffsetDateTime,
    ) -> StoreResult<Option<OnboardingStatus>> {
        self.transition_status(tenant, id, &OnboardingStatus::IN_PROGRESS, OnboardingStatus::OnboardingFinished, at)
            .await
    }
}

/// The polling view of a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusRow {
    pub status: OnboardingStatus,
    pub expires_at: OffsetDateTime,
}

impl StatusRow {
    /// Same rule as [`Session::effective_status`].
    pub fn effective_status(&self, now: OffsetDateTime) -> OnboardingStatus {
        if !self.status.is_closed() && now >= self.expires_at { OnboardingStatus::Expired } else { self.status }
    }
}

#[async_trait]
pub trait AdminStore: Send + Sync {
    async fn create_admin(&self, admin: &Admin) -> StoreResult<()>;
    async fn admin_by_email(&self, tenant: TenantId, email: &Email) -> StoreResult<Option<Admin>>;
    async fn list_admins(&self, tenant: TenantId) -> StoreResult<Vec<Admin>>;
}

/// One capture attempt. Rejected attempts keep no image: only what was wrong.
#[derive(Debug, Clone, PartialEq)]
pub struct CaptureRecord {
    pub id: CaptureId,
    pub tenant_id: TenantId,
    pub session_id: InterviewId,
    pub kind: CaptureKind,
    pub accepted: bool,
    pub problems: Vec<CaptureProblem>,
    pub summary: CaptureSummary,
    /// The stored image(s): one for a document side or selfie, the frames for liveness.
    pub blobs: Vec<BlobKey>,
    /// `camera` or `upload`.
    pub source: String,
    pub challenge_id: Option<ChallengeId>,
    /// For a head-turn film: the liveness verdict computed when it arrived (the one the page
    /// showed, and the one the scores read).
    pub liveness: Option<LivenessFindings>,
    pub idempotency_key: Option<String>,
    pub created_at: OffsetDateTime,
}

/// A head-turn challenge handed to the page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChallengeRecord {
    pub id: ChallengeId,
    pub tenant_id: TenantId,
    pub session_id: InterviewId,
    pub direction: TurnDirection,
    /// When the page shows the arrow, after filming starts.
    pub prompt_at_ms: u32,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub answered_at: Option<OffsetDateTime>,
}

/// A capture and everything its acceptance implies, stored together in one transaction: the
/// capture row, the images it registers, the jobs it makes ready and the challenge it answers.
/// Either all of it is stored or none of it, so an accepted upload can never be half-recorded.
/// The blobs it names are written before the commit; a commit that fails leaves them orphaned
/// for the sweeper, never referenced.
#[derive(Debug, Clone, PartialEq)]
pub struct CaptureCommit {
    pub capture: CaptureRecord,
    /// Images to register under their names (`fullFrameFrontID`, `croppedFrontID`, ...).
    pub images: Vec<(String, BlobKey)>,
    /// Jobs to queue (due at the capture's time), with [`JobStore::enqueue_job`]'s rules.
    pub jobs: Vec<JobKind>,
    /// The challenge this capture answers: marked answered in the same transaction; nothing is
    /// stored when it had already been answered.
    pub answers_challenge: Option<ChallengeId>,
}

/// What [`CaptureStore::commit_capture`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Committed {
    /// Stored; the images these replaced are no longer referenced (the caller deletes them).
    Stored { replaced: Vec<BlobKey> },
    /// The challenge had been answered already; nothing was stored.
    ChallengeAlreadyAnswered,
}

#[async_trait]
pub trait CaptureStore: Send + Sync {
    /// Stores a capture with its images, jobs and challenge in one transaction. Conflict when
    /// the session already has a capture of the same kind with the same idempotency key.
    async fn commit_capture(&self, commit: &CaptureCommit) -> StoreResult<Committed>;
    /// The session's capture of `kind` stored under an idempotency key (keys are scoped to the
    /// session and the capture kind).
    async fn capture_by_idempotency_key(
        &self,
        tenant: TenantId,
        session: InterviewId,
        kind: CaptureKind,
        key: &str,
    ) -> StoreResult<Option<CaptureRecord>>;
    /// All attempts of a session, oldest first.
    async fn captures(&self, tenant: TenantId, session: InterviewId) -> StoreResult<Vec<CaptureRecord>>;
    async fn insert_challenge(&self, challenge: &ChallengeRecord) -> StoreResult<()>;
    async fn challenge(
        &self,
        tenant: TenantId,
        session: InterviewId,
        id: ChallengeId,
    ) -> StoreResult<Option<ChallengeRecord>>;
    /// Moves an unanswered challenge's expiry later, to `until`; never earlier, and never for
    /// an answered one.
    async fn extend_challenge(
        &self,
        tenant: TenantId,
        session: InterviewId,
        id: ChallengeId,
        until: OffsetDateTime,
    ) -> StoreResult<()>;
    /// Records the person's consent (first time only).
    async fn record_consent(&self, tenant: TenantId, session: InterviewId, at: OffsetDateTime) -> StoreResult<()>;
    /// Records that the page submitted the session (first time only) and queues its `finalize`
    /// job, in one transaction: a submitted session always has its finalize job.
    async fn submit_session(&self, tenant: TenantId, session: InterviewId, at: OffsetDateTime) -> StoreResult<()>;
    /// Sessions that may be missing work, for the reconciler: unexpired, unfinished sessions
    /// that were submitted before `before` without a finalize job, or that have an accepted
    /// capture taken in `(after, before]` with no job of its kind queued since. Ordered by
    /// interview id, starting after `cursor`, at most `limit`.
    async fn reconcile_candidates(
        &self,
        now: OffsetDateTime,
        after: OffsetDateTime,
        before: OffsetDateTime,
        cursor: Option<InterviewId>,
        limit: u32,
    ) -> StoreResult<Vec<(TenantId, InterviewId)>>;
}

/// What a verification job does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobKind {
    /// Read and check the document.
    Document,
    /// Selfie, face match and liveness.
    Face,
    /// Scores and completion, once the page has submitted.
    Finalize,
}

impl JobKind {
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Document => "document",
            JobKind::Face => "face",
            JobKind::Finalize => "finalize",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [JobKind::Document, JobKind::Face, JobKind::Finalize].into_iter().find(|k| k.as_str() == s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    Queued,
    Running,
    Done,
    /// Gave up after its retries.
    Failed,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Done => "done",
            JobState::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [JobState::Queued, JobState::Running, JobState::Done, JobState::Failed].into_iter().find(|k| k.as_str() == s)
    }
}

/// A durable job: at most one per session and kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub id: JobId,
    pub tenant_id: TenantId,
    pub session_id: InterviewId,
    pub kind: JobKind,
    pub state: JobState,
    /// Runs started so far (including the current one).
    pub attempts: u32,
    pub run_after: OffsetDateTime,
    pub lease_until: Option<OffsetDateTime>,
    pub worker: Option<String>,
    pub last_error: Option<String>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

#[async_trait]
pub trait JobStore: Send + Sync {
    /// Queues the session's job of this kind. A queued job stays queued (earliest `run_after`
    /// wins); a running one is marked to run again when it completes, because its inputs
    /// changed; a done or failed one is queued afresh with its attempts reset.
    async fn enqueue_job(
        &self,
        tenant: TenantId,
        session: InterviewId,
        kind: JobKind,
        run_after: OffsetDateTime,
        now: OffsetDateTime,
    ) -> StoreResult<()>;
    /// Takes the oldest due job — queued, or running with an expired lease (its worker died) —
    /// and leases it to `worker` until `lease_until`. Safe under concurrent claimers.
    async fn claim_job(
        &self,
        worker: &str,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
    ) -> StoreResult<Option<Job>>;
    /// Extends the lease; `false` when the job is no longer leased to this worker.
    async fn extend_lease(&self, id: JobId, worker: &str, lease_until: OffsetDateTime) -> StoreResult<bool>;
    /// Done — or queued again at once if it was re-enqueued while running.
    async fn complete_job(&self, id: JobId, worker: &str, now: OffsetDateTime) -> StoreResult<()>;
    /// Back to the queue after a transient failure.
    async fn retry_job(
        &self,
        id: JobId,
        worker: &str,
        error: &str,
        run_after: OffsetDateTime,
        now: OffsetDateTime,
    ) -> StoreResult<()>;
    /// Gives up.
    async fn fail_job(&self, id: JobId, worker: &str, error: &str, now: OffsetDateTime) -> StoreResult<()>;
    async fn jobs(&self, tenant: TenantId, session: InterviewId) -> StoreResult<Vec<Job>>;
    /// When the next queued job is due, to sleep exactly that long.
    async fn next_job_due(&self) -> StoreResult<Option<OffsetDateTime>>;
}

#[async_trait]
pub trait ResultStore: Send + Sync {
    /// What has been stored for the session (all `None` when nothing yet).
    async fn results(&self, tenant: TenantId, session: InterviewId) -> StoreResult<SessionResults>;
    async fn save_document_findings(
        &self,
        tenant: TenantId,
        session: InterviewId,
        findings: &DocumentFindings,
        data: Option<&BlobKey>,
        at: OffsetDateTime,
    ) -> StoreResult<()>;
    async fn save_face_findings(
        &self,
        tenant: TenantId,
        session: InterviewId,
        face: &FaceFindings,
        liveness: Option<&LivenessFindings>,
        at: OffsetDateTime,
    ) -> StoreResult<()>;
    async fn save_scores(
        &self,
        tenant: TenantId,
        session: InterviewId,
        scores: &Scores,
        at: OffsetDateTime,
    ) -> StoreResult<()>;
    /// Records the latest image of a name (`selfie`, `croppedFace`, ...); returns the key it
    /// replaced, which the caller deletes from the blob store.
    async fn put_image(
        &self,
        tenant: TenantId,
        session: InterviewId,
        name: &str,
        key: &BlobKey,
        at: OffsetDateTime,
    ) -> StoreResult<Option<BlobKey>>;
    async fn images(&self, tenant: TenantId, session: InterviewId) -> StoreResult<Vec<(String, BlobKey)>>;
    /// Every blob the session's rows refer to (captures, images, document data), for the
    /// sweeper of orphaned blobs.
    async fn referenced_blobs(&self, tenant: TenantId, session: InterviewId) -> StoreResult<Vec<BlobKey>>;
}

/// Everything the application stores, behind one handle.
#[async_trait]
pub trait Store:
    TenantStore + ApiKeyStore + FlowStore + SecretStore + SessionStore + AdminStore + CaptureStore + JobStore + ResultStore
{
    /// Cheap round trip for readiness probes.
    async fn ping(&self) -> StoreResult<()>;
    /// Which backend this is, for logs and `/readyz`.
    fn backend(&self) -> &'static str;
}

/// Password hashing runs on a blocking pool, so it is a port: the domain decides *when* to
/// hash or verify, the composition root decides *where* the CPU work happens.
#[async_trait]
pub trait PasswordHasher: Send + Sync {
    async fn hash(&self, password: String) -> Result<String, PasswordError>;
    /// `Ok(false)` for a wrong password or a malformed stored hash.
    async fn verify(&self, password: String, hash: String) -> Result<bool, PasswordError>;
}

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// Every hashing slot is taken and the queue is full (each hash holds ~19 MiB): come back
    /// after `retry_after`.
    #[error("password hashing is busy")]
    Busy { retry_after: std::time::Duration },
    #[error("password hashing failed: {0}")]
    Failed(String),
}

/// A capture image after its immediate check.
#[derive(Debug, Clone)]
pub struct CheckedImage {
    /// The image re-encoded as JPEG, upright, without metadata: what gets stored.
    pub jpeg: Vec<u8>,
    /// What the person should fix (empty when fine).
    pub problems: Vec<CaptureProblem>,
    pub summary: CaptureSummary,
    /// The image's size after orientation, for crops given in relative coordinates.
    pub width: u32,
    pub height: u32,
}

/// A head-turn film to judge, with what was asked and the selfie it must match.
#[derive(Debug, Clone)]
pub struct FilmCheck {
    pub direction: TurnDirection,
    pub prompt_at_ms: u32,
    pub film: Film,
    /// The session's accepted selfie (stored JPEG), when it has one.
    pub selfie: Option<Vec<u8>>,
}

/// A head-turn film after its check: the verdict, computed once.
#[derive(Debug, Clone)]
pub struct CheckedFilm {
    /// What the person should do differently (empty when every check passed).
    pub problems: Vec<CaptureProblem>,
    pub findings: LivenessFindings,
    /// The sharp first frame, re-encoded without metadata, for the record.
    pub key_jpeg: Option<Vec<u8>>,
    /// The whole film as one stored object (frames and timestamps).
    pub film_blob: Vec<u8>,
}

/// Why an upload could not be checked at all.
#[derive(Debug, thiserror::Error)]
pub enum AnalyzeError {
    /// Not an image, truncated, unsupported, or beyond the decoding limits (bombs included).
    #[error("{0}")]
    BadImage(String),
    /// The engine's queue is full: come back after `retry_after`.
    #[error("the verification engine is busy")]
    Busy { retry_after: std::time::Duration },
    /// The engine failed; the message is for logs.
    #[error("analysis failed: {0}")]
    Internal(String),
}

/// What the capture step needs from the verification engine: fast checks that tell the person
/// right away whether to retake.
#[async_trait]
pub trait CaptureAnalyzer: Send + Sync {
    /// Checks a document side or a selfie.
    async fn check_image(&self, kind: CaptureKind, bytes: Vec<u8>) -> Result<CheckedImage, AnalyzeError>;
    /// Judges a head-turn film: the head turn, passive PAD when installed, and the film's face
    /// against the selfie. The one computation of the liveness verdict.
    async fn check_film(&self, check: FilmCheck) -> Result<CheckedFilm, AnalyzeError>;
    /// Whether the engine is loaded and usable (readiness).
    fn ready(&self) -> bool;
}

/// Wakes the verification workers when a job is queued, so they need not poll.
pub trait JobSignal: Send + Sync {
    fn job_queued(&self);
}
