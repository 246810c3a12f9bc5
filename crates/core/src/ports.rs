//! Ports: what the domain needs from the outside world. Storage is split by aggregate; the
//! `Store` supertrait bundles them so the composition root hands out one `Arc<dyn Store>`.
//!
//! Every implementation must pass the conformance suite in `crates/testkit`.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::flow::Flow;
use crate::ids::{AdminId, ApiKeyId, ClientId, FlowId, InterviewId, TenantId};
use crate::secret::{SecretHash, SecretKind};
use crate::session::Session;
use crate::status::OnboardingStatus;
use crate::tenant::{Admin, ApiKey, Tenant};
use crate::text::Email;

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

/// Everything the application stores, behind one handle.
#[async_trait]
pub trait Store: TenantStore + ApiKeyStore + FlowStore + SecretStore + SessionStore + AdminStore {
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
