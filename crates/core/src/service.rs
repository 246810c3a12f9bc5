//! Use cases of the partner API: authenticate callers, start and resume sessions, hand out
//! onboarding links, report status, finish sessions, log executives in. The operator's side
//! (tenants, keys, flows, administrators) is [`crate::provisioning`].

use std::sync::Arc;

use time::{Duration, OffsetDateTime};

use crate::auth::{FlowAuth, KeyAuth, SessionAccess, TokenAuth, TokenScope};
use crate::clock::Clock;
use crate::flow::Flow;
use crate::ids::{AdminId, ClientId, FlowId, InterviewCode, InterviewId, TenantId};
use crate::lockout::{Locked, Lockout, LockoutPolicy};
use crate::password;
use crate::ports::{PasswordError, PasswordHasher, SecretRecord, Store, StoreError};
use crate::secret::{Secret, SecretKind};
use crate::session::Session;
use crate::status::OnboardingStatus;
use crate::tenant::Tenant;
use crate::text::{CountryCode, CustomFields, Email, ExternalCustomerId, HttpUrl, InvalidValue, Language};

/// Why a credential was refused. The text is safe to return to the caller: it never says
/// whether a key exists for another tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialProblem {
    Missing,
    Invalid,
    Expired,
    Revoked,
    WrongTenant,
    /// The session behind the token is over (expired or finished): it takes no new link.
    SessionEnded,
}

/// Everything a use case can refuse. The HTTP layer maps each variant to one status code.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// API key missing, unknown or revoked (HTTP 403).
    #[error("{}", api_key_message(*.0))]
    ApiKey(CredentialProblem),
    /// Token missing, unknown, expired or not valid for this caller (HTTP 401).
    #[error("{}", token_message(*.0))]
    Token(CredentialProblem),
    /// Wrong e-mail or password at executive login (HTTP 401).
    #[error("invalid email or password")]
    Login,
    /// The caller may not see it, or it does not exist: deliberately indistinguishable (404).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// Bad input (400).
    #[error("{0}")]
    Invalid(String),
    /// An upload that is not a usable image: not an image of its type, truncated, too small or
    /// over the pixel budget (400, code `UNREADABLE_IMAGE`).
    #[error("{0}")]
    Image(String),
    /// The request is well formed but the session's state forbids it (400 as well, with its own
    /// message: Incode's clients treat every 4xx alike).
    #[error("{0}")]
    State(&'static str),
    /// A uniqueness rule (CLI provisioning).
    #[error("{0}")]
    Conflict(String),
    /// Too many requests of this kind from this caller or for this account (HTTP 429).
    #[error("{reason}; retry in {} s", retry_after.as_secs().max(1))]
    Throttled { reason: &'static str, retry_after: std::time::Duration },
    /// The server is at capacity for this kind of work (HTTP 503); nothing was done.
    #[error("the server is busy; retry in {} s", retry_after.as_secs().max(1))]
    Busy { retry_after: std::time::Duration },
    /// Storage failed; the message is for logs, not for callers.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<InvalidValue> for ServiceError {
    fn from(e: InvalidValue) -> Self {
        ServiceError::Invalid(e.to_string())
    }
}

fn api_key_message(p: CredentialProblem) -> &'static str {
    match p {
        CredentialProblem::Missing => "missing x-api-key header",
        CredentialProblem::Revoked => "the API key was revoked",
        _ => "invalid API key",
    }
}

fn token_message(p: CredentialProblem) -> &'static str {
    match p {
        CredentialProblem::Missing => "missing X-Incode-Hardware-Id token",
        CredentialProblem::Expired => "the token has expired",
        CredentialProblem::WrongTenant => "the token does not belong to this API key's tenant",
        CredentialProblem::SessionEnded => "the session has ended (expired or finished); start a new session",
        CredentialProblem::Revoked | CredentialProblem::Invalid => "invalid token",
    }
}

pub type ServiceResult<T> = Result<T, ServiceError>;

/// Server-wide settings the use cases need.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Base URL that people's browsers use to reach this server, without a trailing slash.
    pub public_url: String,
    /// The `env` value returned by `/omni/start`.
    pub env: String,
    pub session_token_ttl: Duration,
    pub executive_token_ttl: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            public_url: "http://127.0.0.1:8080".into(),
            env: "veriframe".into(),
            session_token_ttl: Duration::days(90),
            executive_token_ttl: Duration::hours(24),
        }
    }
}

/// `/omni/start` input, already parsed.
#[derive(Debug, Clone, Default)]
pub struct StartSession {
    pub configuration_id: Option<FlowId>,
    pub country_code: Option<CountryCode>,
    pub language: Option<Language>,
    pub external_customer_id: Option<ExternalCustomerId>,
    pub redirection_url: Option<HttpUrl>,
    pub custom_fields: CustomFields,
    /// Resume this session instead of creating one.
    pub resume: Option<InterviewId>,
}

/// `/omni/start` outcome.
#[derive(Debug, Clone)]
pub struct Started {
    pub token: Secret,
    pub session: Session,
    pub flow: Flow,
    pub client_id: ClientId,
    pub existing_session: bool,
}

/// A fresh onboarding link.
#[derive(Debug, Clone)]
pub struct OnboardingLink {
    pub url: String,
    /// The secret the URL ends with, which the hosted page exchanges for a flow token.
    pub link: Secret,
    pub expires_at: OffsetDateTime,
}

/// What the person's browser should do after `finish-status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinishAction {
    Approved,
    Rejected,
    None,
}

impl FinishAction {
    pub fn as_str(self) -> &'static str {
        match self {
            FinishAction::Approved => "approved",
            FinishAction::Rejected => "rejected",
            FinishAction::None => "none",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Finished {
    pub status: OnboardingStatus,
    pub redirection_url: Option<HttpUrl>,
    pub action: FinishAction,
}

/// The partner API's use cases.
#[derive(Clone)]
pub struct Onboarding {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    passwords: Arc<dyn PasswordHasher>,
    settings: Settings,
    lockout: Arc<Lockout>,
}

impl std::fmt::Debug for Onboarding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Onboarding").field("backend", &self.store.backend()).field("settings", &self.settings).finish()
    }
}

impl Onboarding {
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        passwords: Arc<dyn PasswordHasher>,
        settings: Settings,
    ) -> Self {
        Self { store, clock, passwords, settings, lockout: Arc::new(Lockout::default()) }
    }

    /// Replaces the default executive log-in lockout policy.
    pub fn with_lockout(mut self, policy: LockoutPolicy) -> Self {
        self.lockout = Arc::new(Lockout::new(policy));
        self
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// For the other use cases of this crate, which share the store; other crates go through
    /// use cases.
    pub(crate) fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Readiness: the store answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.store.ping().await
    }

    pub fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    /// Checks `x-api-key`.
    pub async fn authenticate_key(&self, presented: Option<&str>) -> ServiceResult<KeyAuth> {
        let presented = presented.ok_or(ServiceError::ApiKey(CredentialProblem::Missing))?;
        let secret = Secret::parse_presented(presented).ok_or(ServiceError::ApiKey(CredentialProblem::Invalid))?;
        let (key, tenant) = self
            .store
            .api_key_by_hash(&secret.hash())
            .await?
            .ok_or(ServiceError::ApiKey(CredentialProblem::Invalid))?;
        if key.revoked_at.is_some() {
            return Err(ServiceError::ApiKey(CredentialProblem::Revoked));
        }
        Ok(KeyAuth::new(tenant, key.id))
    }

    /// Checks `X-Incode-Hardware-Id`: a session token or an executive token.
    pub async fn authenticate_token(&self, presented: Option<&str>) -> ServiceResult<TokenAuth> {
        let record = self.secret_of_kind(presented, &[SecretKind::Session, SecretKind::Executive]).await?;
        match (record.kind, record.session_id, record.admin_id) {
            (SecretKind::Session, Some(session_id), _) => {
                Ok(TokenAuth::new(TokenScope::Session { tenant_id: record.tenant_id, session_id }))
            }
            (SecretKind::Executive, _, Some(admin_id)) => {
                Ok(TokenAuth::new(TokenScope::Executive { tenant_id: record.tenant_id, admin_id }))
            }
            _ => Err(ServiceError::Token(CredentialProblem::Invalid)),
        }
    }

    /// Checks a hosted-flow page's bearer token.
    pub async fn authenticate_flow(&self, presented: Option<&str>) -> ServiceResult<FlowAuth> {
        let record = self.secret_of_kind(presented, &[SecretKind::Flow]).await?;
        let session_id = record.session_id.ok_or(ServiceError::Token(CredentialProblem::Invalid))?;
        Ok(FlowAuth::new(record.tenant_id, session_id))
    }

    async fn secret_of_kind(&self, presented: Option<&str>, kinds: &[SecretKind]) -> ServiceResult<SecretRecord> {
        let presented = presented.ok_or(ServiceError::Token(CredentialProblem::Missing))?;
        let secret = Secret::parse_presented(presented).ok_or(ServiceError::Token(CredentialProblem::Invalid))?;
        let record = self.store.secret(&secret.hash()).await?.ok_or(ServiceError::Token(CredentialProblem::Invalid))?;
        if !kinds.contains(&record.kind) {
            return Err(ServiceError::Token(CredentialProblem::Invalid));
        }
        if self.clock.now() >= record.expires_at {
            return Err(ServiceError::Token(CredentialProblem::Expired));
        }
        Ok(record)
    }

    /// Access through a `/0/` route: the token alone decides. A session token reaches its own
    /// session (an `id` naming another one is 404); an executive token needs `id`.
    pub fn access_zero(&self, token: &TokenAuth, id: Option<InterviewId>) -> ServiceResult<SessionAccess> {
        match (token.scope(), id) {
            (TokenScope::Session { tenant_id, session_id }, None) => Ok(SessionAccess::new(tenant_id, session_id)),
            (TokenScope::Session { tenant_id, session_id }, Some(id)) if id == session_id => {
                Ok(SessionAccess::new(tenant_id, session_id))
            }
            (TokenScope::Session { .. }, Some(_)) => Err(ServiceError::NotFound("interview")),
            (TokenScope::Executive { tenant_id, .. }, Some(id)) => Ok(SessionAccess::new(tenant_id, id)),
            (TokenScope::Executive { .. }, None) => {
                Err(ServiceError::Invalid("id is required when an executive token is used".into()))
            }
        }
    }

    /// Access through an API-key route: the key and the token must belong to the same tenant.
    pub fn access_keyed(
        &self,
        key: &KeyAuth,
        token: &TokenAuth,
        id: Option<InterviewId>,
    ) -> ServiceResult<SessionAccess> {
        if token.tenant_id() != key.tenant().id {
            return Err(ServiceError::Token(CredentialProblem::WrongTenant));
        }
        self.access_zero(token, id)
    }

    /// `/omni/start`: a new session, or a new token for an existing one.
    pub async fn start(&self, key: &KeyAuth, request: StartSession) -> ServiceResult<Started> {
        self.start_on(key.tenant(), request).await
    }

    /// The static flow URL (`/{clientId}/flow/{configurationId}`): a visitor starts a session on
    /// a tenant's published flow without any key, so an unknown client or flow is simply not
    /// found — never a hint about which of the two exists.
    async fn start_for_client(&self, client_id: &ClientId, request: StartSession) -> ServiceResult<Started> {
        let tenant = self.store.tenant_by_client_id(client_id).await?.ok_or(ServiceError::NotFound("flow"))?;
        let flow_id = request.configuration_id.ok_or(ServiceError::NotFound("flow"))?;
        self.store.flow(tenant.id, flow_id).await?.ok_or(ServiceError::NotFound("flow"))?;
        self.start_on(&tenant, StartSession { resume: None, ..request }).await
    }

    /// The static flow URL's visit: a new session on a published flow and its onboarding link,
    /// in one step, so that no caller outside this service holds access to a session it did
    /// not authenticate for.
    pub async fn start_link_for_client(
        &self,
        client_id: &ClientId,
        request: StartSession,
    ) -> ServiceResult<OnboardingLink> {
        let started = self.start_for_client(client_id, request).await?;
        self.onboarding_url(&SessionAccess::new(started.session.tenant_id, started.session.id)).await
    }

    /// Whether a published flow exists, for a probe of the static URL that must not start a
    /// session.
    pub async fn published_flow(&self, client_id: &ClientId, flow_id: FlowId) -> ServiceResult<Flow> {
        let tenant = self.store.tenant_by_client_id(client_id).await?.ok_or(ServiceError::NotFound("flow"))?;
        self.store.flow(tenant.id, flow_id).await?.ok_or(ServiceError::NotFound("flow"))
    }

    /// The session and flow behind an onboarding link, expired or not: an expired link still
    /// decides who may frame the page that says so. `None` for anything that is not a link.
    pub async fn link_session(&self, link: &str) -> ServiceResult<Option<(Session, Flow)>> {
        let Some(secret) = Secret::parse_presented(link) else { return Ok(None) };
        let Some(record) = self.store.secret(&secret.hash()).await? else { return Ok(None) };
        let (SecretKind::Link, Some(session_id)) = (record.kind, record.session_id) else { return Ok(None) };
        let Some(session) = self.store.session(record.tenant_id, session_id).await? else { return Ok(None) };
        Ok(self.store.flow(record.tenant_id, session.flow_id).await?.map(|flow| (session, flow)))
    }

    async fn start_on(&self, tenant: &Tenant, request: StartSession) -> ServiceResult<Started> {
        let now = self.clock.now();
        if let Some(resume) = request.resume {
            let session = self.store.session(tenant.id, resume).await?.ok_or(ServiceError::NotFound("interview"))?;
            let flow = self.flow_of(&session).await?;
            let token = self
                .issue(SecretKind::Session, tenant.id, Some(session.id), None, now, self.settings.session_token_ttl)
                .await?;
            return Ok(Started { token, session, flow, client_id: tenant.client_id.clone(), existing_session: true });
        }
        let flow_id =
            request.configuration_id.ok_or_else(|| ServiceError::Invalid("configurationId is required".into()))?;
        let flow = self
            .store
            .flow(tenant.id, flow_id)
            .await?
            .ok_or_else(|| ServiceError::Invalid(format!("unknown configurationId {flow_id}")))?;
        let session = Session {
            id: InterviewId::generate(now),
            tenant_id: tenant.id,
            flow_id: flow.id,
            interview_code: InterviewCode::generate(),
            status: OnboardingStatus::Unknown,
            external_customer_id: request.external_customer_id,
            redirection_url: request.redirection_url,
            country_code: request.country_code.unwrap_or_else(CountryCode::all),
            language: request.language.unwrap_or_else(Language::default_tag),
            custom_fields: request.custom_fields,
            created_at: now,
            updated_at: now,
            expires_at: now + Duration::minutes(i64::from(flow.config.session_expiration_minutes)),
            finished_at: None,
            consented_at: None,
            submitted_at: None,
        };
        self.store.create_session(&session).await?;
        let token = self
            .issue(SecretKind::Session, tenant.id, Some(session.id), None, now, self.settings.session_token_ttl)
            .await?;
        tracing::info!(interview_id = %session.id, flow_id = %flow.id, "session started");
        Ok(Started { token, session, flow, client_id: tenant.client_id.clone(), existing_session: false })
    }

    async fn flow_of(&self, session: &Session) -> ServiceResult<Flow> {
        self.store.flow(session.tenant_id, session.flow_id).await?.ok_or_else(|| {
            ServiceError::Store(StoreError::Other(format!("flow {} of a session is missing", session.flow_id)))
        })
    }

    async fn issue(
        &self,
        kind: SecretKind,
        tenant_id: TenantId,
        session_id: Option<InterviewId>,
        admin_id: Option<AdminId>,
        now: OffsetDateTime,
        ttl: Duration,
    ) -> ServiceResult<Secret> {
        let secret = Secret::generate(kind);
        let record = SecretRecord {
            hash: secret.hash(),
            kind,
            tenant_id,
            session_id,
            admin_id,
            created_at: now,
            expires_at: now + ttl,
        };
        self.store.insert_secret(&record).await?;
        Ok(secret)
    }

    /// The session behind an access, or 404.
    pub async fn session(&self, access: &SessionAccess) -> ServiceResult<Session> {
        self.store.session(access.tenant_id(), access.session_id()).await?.ok_or(ServiceError::NotFound("interview"))
    }

    /// The session and its flow.
    pub async fn session_and_flow(&self, access: &SessionAccess) -> ServiceResult<(Session, Flow)> {
        let session = self.session(access).await?;
        let flow = self.flow_of(&session).await?;
        Ok((session, flow))
    }

    /// `/omni/onboarding-url`: a new, unguessable link to the hosted flow for this session.
    pub async fn onboarding_url(&self, access: &SessionAccess) -> ServiceResult<OnboardingLink> {
        let (session, flow) = self.session_and_flow(access).await?;
        let now = self.clock.now();
        // An expired or finished session takes no more captures, so a link to it would only
        // open onto a dead end.
        if session.effective_status(now).is_closed() {
            return Err(ServiceError::Token(CredentialProblem::SessionEnded));
        }
        let ttl = Duration::minutes(i64::from(flow.config.onboarding_link_expiration_minutes));
        let link = self.issue(SecretKind::Link, session.tenant_id, Some(session.id), None, now, ttl).await?;
        Ok(OnboardingLink {
            url: format!("{}/flow/{}", self.settings.public_url, link.expose()),
            link,
            expires_at: now + ttl,
        })
    }

    /// Status polling through `/0/omni/get/onboarding/status`, the hot path: with a session
    /// token this is one indexed read that checks the token and reads the status together.
    /// The rules are those of [`Self::authenticate_token`] + [`Self::access_zero`] +
    /// [`Self::status`], which an executive token goes through.
    pub async fn poll_status(
        &self,
        presented: Option<&str>,
        id: Option<InterviewId>,
    ) -> ServiceResult<OnboardingStatus> {
        let presented = presented.ok_or(ServiceError::Token(CredentialProblem::Missing))?;
        let secret = Secret::parse_presented(presented).ok_or(ServiceError::Token(CredentialProblem::Invalid))?;
        let (record, status) = self
            .store
            .secret_with_status(&secret.hash())
            .await?
            .ok_or(ServiceError::Token(CredentialProblem::Invalid))?;
        let now = self.clock.now();
        match (record.kind, record.session_id) {
            (SecretKind::Session, Some(session_id)) => {
                if now >= record.expires_at {
                    return Err(ServiceError::Token(CredentialProblem::Expired));
                }
                if id.is_some_and(|id| id != session_id) {
                    return Err(ServiceError::NotFound("interview"));
                }
                Ok(status.ok_or(ServiceError::NotFound("interview"))?.effective_status(now))
            }
            (SecretKind::Executive, _) => {
                let token = self.authenticate_token(Some(presented)).await?;
                let access = self.access_zero(&token, id)?;
                self.status(&access).await
            }
            _ => Err(ServiceError::Token(CredentialProblem::Invalid)),
        }
    }

    /// The polled status: one indexed read.
    pub async fn status(&self, access: &SessionAccess) -> ServiceResult<OnboardingStatus> {
        let row = self
            .store
            .session_status(access.tenant_id(), access.session_id())
            .await?
            .ok_or(ServiceError::NotFound("interview"))?;
        Ok(row.effective_status(self.clock.now()))
    }

    /// `/omni/finish-status`: marks the session complete. Idempotent for completed sessions.
    pub async fn finish(&self, access: &SessionAccess) -> ServiceResult<Finished> {
        let (session, flow) = self.session_and_flow(access).await?;
        let now = self.clock.now();
        let redirection_url = session.redirection_url.clone().or_else(|| flow.config.redirection_url.clone());
        let status = match session.effective_status(now) {
            OnboardingStatus::Expired => return Err(ServiceError::State("the session expired before it was finished")),
            done if done.is_complete() => done,
            _ => self
                .store
                .finish_onboarding(session.tenant_id, session.id, now)
                .await?
                .ok_or(ServiceError::NotFound("interview"))?,
        };
        if status == OnboardingStatus::OnboardingFinished && !session.status.is_complete() {
            tracing::info!(interview_id = %session.id, "session finished");
        }
        // A reviewer's decision stands; otherwise the verification's verdict, once there is one.
        let verdict = self.store.results(session.tenant_id, session.id).await?.scores.map(|s| s.overall.verdict);
        let action = match (status, verdict) {
            (OnboardingStatus::ManualReviewApproved, _) | (_, Some(crate::scores::Verdict::Ok)) => {
                FinishAction::Approved
            }
            (OnboardingStatus::ManualReviewRejected, _) | (_, Some(crate::scores::Verdict::Fail)) => {
                FinishAction::Rejected
            }
            _ => FinishAction::None,
        };
        Ok(Finished { status, redirection_url, action })
    }

    /// `/executive/log-in`: an executive token for an administrator of the key's tenant. An
    /// account that failed too often is locked (see [`crate::lockout`]): while it is, no
    /// password is checked and the caller hears when to come back.
    pub async fn executive_login(&self, key: &KeyAuth, email: &str, password: &str) -> ServiceResult<Secret> {
        let tenant = key.tenant().id;
        let locked = |Locked(wait): Locked| ServiceError::Throttled {
            reason: "too many failed log-ins for this account",
            retry_after: std::time::Duration::try_from(wait).unwrap_or_default(),
        };
        self.lockout.check(tenant, email, self.clock.now()).map_err(locked)?;
        let admin = match Email::parse(email) {
            Ok(email) => self.store.admin_by_email(tenant, &email).await?,
            Err(_) => None,
        };
        let stored_hash = admin.as_ref().map_or_else(|| password::decoy_hash().to_owned(), |a| a.password_hash.clone());
        let verified = self.passwords.verify(password.to_owned(), stored_hash).await.map_err(password_error)?;
        let Some(admin) = admin.filter(|_| verified) else {
            return Err(match self.lockout.failed(tenant, email, self.clock.now()) {
                Some(lock) => {
                    tracing::warn!(tenant_id = %tenant, "executive account locked after repeated failures");
                    locked(lock)
                }
                None => ServiceError::Login,
            });
        };
        self.lockout.succeeded(tenant, email);
        let now = self.clock.now();
        let token = self
            .issue(SecretKind::Executive, tenant, None, Some(admin.id), now, self.settings.executive_token_ttl)
            .await?;
        tracing::info!(admin_id = %admin.id, "executive logged in");
        Ok(token)
    }

    /// Exchanges an onboarding link for a flow token the hosted page keeps in memory. The link
    /// stays usable until it expires, so a reload of the page does not strand the person.
    pub async fn open_link(&self, link: &str) -> ServiceResult<(Secret, FlowAuth)> {
        let record = self.secret_of_kind(Some(link), &[SecretKind::Link]).await?;
        let session_id = record.session_id.ok_or(ServiceError::Token(CredentialProblem::Invalid))?;
        let access = SessionAccess::new(record.tenant_id, session_id);
        let (session, _flow) = self.session_and_flow(&access).await?;
        let now = self.clock.now();
        if session.effective_status(now).is_closed() {
            return Err(ServiceError::Token(CredentialProblem::SessionEnded));
        }
        // Once opened, the link lives as long as its session, so a reload (after granting the
        // camera, after a crash of the tab) finds the flow again instead of an expired link.
        self.store.extend_secret(&record.hash, session.expires_at).await?;
        let ttl = (session.expires_at - now).max(Duration::minutes(5));
        let token = self.issue(SecretKind::Flow, record.tenant_id, Some(session_id), None, now, ttl).await?;
        Ok((token, FlowAuth::new(record.tenant_id, session_id)))
    }
}

pub(crate) fn password_error(e: PasswordError) -> ServiceError {
    match e {
        PasswordError::Busy { retry_after } => ServiceError::Busy { retry_after },
        PasswordError::Failed(detail) => ServiceError::Store(StoreError::Other(detail)),
    }
}
