//! Ports: what the domain needs from the outside world. Storage is split by aggregate; the
//! `Store` supertrait bundles them so the composition root hands out one `Arc<dyn Store>`.
//!
//! Every implementation must pass the conformance suite in `crates/testkit`.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::blob::BlobKey;
use crate::flow::Flow;
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
    pub idempotency_key: Option<String>,
    pub created_at: OffsetDateTime,
}

/// A head-turn challenge handed to the page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChallengeRecord {
    pub id: ChallengeId,
    pub tenant_id: TenantId,
    pub session_id: InterviewId,
    /// `left` or `right`.
    pub direction: String,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub answered_at: Option<OffsetDateTime>,
}

#[async_trait]
pub trait CaptureStore: Send + Sync {
    /// Conflict when the session already has a capture with the same idempotency key.
    async fn insert_capture(&self, capture: &CaptureRecord) -> StoreResult<()>;
    async fn capture_by_idempotency_key(
        &self,
        tenant: TenantId,
        session: InterviewId,
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
    /// Marks the challenge answered; `false` when it already was (a challenge is answered once).
    async fn answer_challenge(&self, tenant: TenantId, id: ChallengeId, at: OffsetDateTime) -> StoreResult<bool>;
    /// Records the person's consent (first time only).
    async fn record_consent(&self, tenant: TenantId, session: InterviewId, at: OffsetDateTime) -> StoreResult<()>;
    /// Records that the page submitted the session for verification (first time only).
    async fn record_submission(&self, tenant: TenantId, session: InterviewId, at: OffsetDateTime) -> StoreResult<()>;
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
    /// `false` for a wrong password or a malformed stored hash.
    async fn verify(&self, password: String, hash: String) -> bool;
}

#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct PasswordError(pub String);

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

/// Head-turn frames after their immediate check.
#[derive(Debug, Clone)]
pub struct CheckedFrames {
    pub frames: Vec<Vec<u8>>,
    pub problems: Vec<CaptureProblem>,
}

/// Why an upload could not be checked at all.
#[derive(Debug, thiserror::Error)]
pub enum AnalyzeError {
    /// Not an image, truncated, unsupported, or beyond the decoding limits (bombs included).
    #[error("{0}")]
    BadImage(String),
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
    /// Checks a head-turn sequence (frames in capture order, the first frontal) for the asked
    /// direction (`left`/`right`, from the person's point of view).
    async fn check_frames(&self, direction: &str, frames: Vec<Vec<u8>>) -> Result<CheckedFrames, AnalyzeError>;
    /// Whether the engine is loaded and usable (readiness).
    fn ready(&self) -> bool;
}

/// Wakes the verification workers when a job is queued, so they need not poll.
pub trait JobSignal: Send + Sync {
    fn job_queued(&self);
}
