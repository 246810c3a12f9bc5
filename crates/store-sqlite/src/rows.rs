//! Row shapes and their conversion into domain types. A row that does not convert means the
//! database holds something this code never wrote: reported as `StoreError::Other`, never
//! papered over.

use time::OffsetDateTime;
use veriframe_core::clock::from_unix_millis;
use veriframe_core::flow::{Flow, FlowConfig};
use veriframe_core::ids::{AdminId, ApiKeyId, ClientId, FlowId, InterviewCode, InterviewId};
use veriframe_core::ports::{SecretRecord, StatusRow, StoreError, StoreResult};
use veriframe_core::secret::{SecretHash, SecretKind};
use veriframe_core::session::Session;
use veriframe_core::status::OnboardingStatus;
use veriframe_core::tenant::{Admin, ApiKey, Tenant};
use veriframe_core::text::{CountryCode, CustomFields, Email, ExternalCustomerId, HttpUrl, Language};

/// Maps driver errors onto the port's vocabulary.
pub(crate) fn map_err(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(db.message().to_owned()),
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
            StoreError::Unavailable(e.to_string())
        }
        sqlx::Error::Database(db) if db.message().contains("database is locked") => {
            StoreError::Unavailable(e.to_string())
        }
        _ => StoreError::Other(e.to_string()),
    }
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Other(format!("unreadable {what} in the database"))
}

fn time(ms: i64) -> StoreResult<OffsetDateTime> {
    from_unix_millis(ms).ok_or_else(|| corrupt("timestamp"))
}

fn id<T: std::str::FromStr>(s: &str, what: &str) -> StoreResult<T> {
    s.parse().map_err(|_| corrupt(what))
}

pub(crate) fn parse_status(s: &str) -> StoreResult<OnboardingStatus> {
    OnboardingStatus::parse(s).ok_or_else(|| corrupt("status"))
}

#[derive(sqlx::FromRow)]
pub(crate) struct TenantRow {
    id: String,
    client_id: String,
    name: String,
    created_at: i64,
}

impl TryFrom<TenantRow> for Tenant {
    type Error = StoreError;
    fn try_from(r: TenantRow) -> StoreResult<Self> {
        Ok(Tenant {
            id: id(&r.id, "tenant id")?,
            client_id: ClientId::parse(&r.client_id).map_err(|_| corrupt("client id"))?,
            name: r.name,
            created_at: time(r.created_at)?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct ApiKeyRow {
    id: String,
    tenant_id: String,
    label: String,
    display_prefix: String,
    created_at: i64,
    revoked_at: Option<i64>,
}

impl TryFrom<ApiKeyRow> for ApiKey {
    type Error = StoreError;
    fn try_from(r: ApiKeyRow) -> StoreResult<Self> {
        Ok(ApiKey {
            id: id::<ApiKeyId>(&r.id, "API key id")?,
            tenant_id: id(&r.tenant_id, "tenant id")?,
            label: r.label,
            display_prefix: r.display_prefix,
            created_at: time(r.created_at)?,
            revoked_at: r.revoked_at.map(time).transpose()?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct KeyWithTenantRow {
    #[sqlx(flatten)]
    key: ApiKeyRow,
    tenant_client_id: String,
    tenant_name: String,
    tenant_created_at: i64,
}

impl KeyWithTenantRow {
    pub(crate) fn split(self) -> StoreResult<(ApiKey, Tenant)> {
        let tenant = TenantRow {
            id: self.key.tenant_id.clone(),
            client_id: self.tenant_client_id,
            name: self.tenant_name,
            created_at: self.tenant_created_at,
        };
        Ok((self.key.try_into()?, tenant.try_into()?))
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct FlowRow {
    id: String,
    tenant_id: String,
    name: String,
    config: String,
    created_at: i64,
}

impl TryFrom<FlowRow> for Flow {
    type Error = StoreError;
    fn try_from(r: FlowRow) -> StoreResult<Self> {
        let config: FlowConfig = serde_json::from_str(&r.config).map_err(|_| corrupt("flow configuration"))?;
        Ok(Flow {
            id: id::<FlowId>(&r.id, "flow id")?,
            tenant_id: id(&r.tenant_id, "tenant id")?,
            name: r.name,
            config,
            created_at: time(r.created_at)?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct SecretRow {
    hash: Vec<u8>,
    kind: String,
    tenant_id: String,
    session_id: Option<String>,
    admin_id: Option<String>,
    created_at: i64,
    expires_at: i64,
}

impl TryFrom<SecretRow> for SecretRecord {
    type Error = StoreError;
    fn try_from(r: SecretRow) -> StoreResult<Self> {
        Ok(SecretRecord {
            hash: SecretHash::from_slice(&r.hash).ok_or_else(|| corrupt("secret hash"))?,
            kind: SecretKind::parse(&r.kind).ok_or_else(|| corrupt("secret kind"))?,
            tenant_id: id(&r.tenant_id, "tenant id")?,
            session_id: r.session_id.as_deref().map(|s| id::<InterviewId>(s, "interview id")).transpose()?,
            admin_id: r.admin_id.as_deref().map(|s| id::<AdminId>(s, "admin id")).transpose()?,
            created_at: time(r.created_at)?,
            expires_at: time(r.expires_at)?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct SecretWithStatusRow {
    #[sqlx(flatten)]
    secret: SecretRow,
    session_status: Option<String>,
    session_expires_at: Option<i64>,
}

impl SecretWithStatusRow {
    pub(crate) fn split(self) -> StoreResult<(SecretRecord, Option<StatusRow>)> {
        let status = match (self.session_status, self.session_expires_at) {
            (Some(status), Some(expires_at)) => Some(StatusRowRaw { status, expires_at }.try_into()?),
            _ => None,
        };
        Ok((self.secret.try_into()?, status))
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct SessionRow {
    id: String,
    tenant_id: String,
    flow_id: String,
    interview_code: String,
    status: String,
    external_customer_id: Option<String>,
    redirection_url: Option<String>,
    country_code: String,
    language: String,
    custom_fields: String,
    created_at: i64,
    updated_at: i64,
    expires_at: i64,
    finished_at: Option<i64>,
    consented_at: Option<i64>,
    submitted_at: Option<i64>,
}

impl TryFrom<SessionRow> for Session {
    type Error = StoreError;
    fn try_from(r: SessionRow) -> StoreResult<Self> {
        let custom_fields: std::collections::BTreeMap<String, String> =
            serde_json::from_str(&r.custom_fields).map_err(|_| corrupt("custom fields"))?;
        Ok(Session {
            id: id(&r.id, "interview id")?,
            tenant_id: id(&r.tenant_id, "tenant id")?,
            flow_id: id(&r.flow_id, "flow id")?,
            interview_code: InterviewCode::from_stored(r.interview_code),
            status: parse_status(&r.status)?,
            external_customer_id: r.external_customer_id.map(ExternalCustomerId::from_stored),
            redirection_url: r.redirection_url.map(HttpUrl::from_stored),
            country_code: CountryCode::from_stored(r.country_code),
            language: Language::from_stored(r.language),
            custom_fields: CustomFields::from_stored(custom_fields),
            created_at: time(r.created_at)?,
            updated_at: time(r.updated_at)?,
            expires_at: time(r.expires_at)?,
            finished_at: r.finished_at.map(time).transpose()?,
            consented_at: r.consented_at.map(time).transpose()?,
            submitted_at: r.submitted_at.map(time).transpose()?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct StatusRowRaw {
    status: String,
    expires_at: i64,
}

impl TryFrom<StatusRowRaw> for StatusRow {
    type Error = StoreError;
    fn try_from(r: StatusRowRaw) -> StoreResult<Self> {
        Ok(StatusRow { status: parse_status(&r.status)?, expires_at: time(r.expires_at)? })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct AdminRow {
    id: String,
    tenant_id: String,
    email: String,
    password_hash: String,
    created_at: i64,
}

impl TryFrom<AdminRow> for Admin {
    type Error = StoreError;
    fn try_from(r: AdminRow) -> StoreResult<Self> {
        Ok(Admin {
            id: id(&r.id, "admin id")?,
            tenant_id: id(&r.tenant_id, "tenant id")?,
            email: Email::from_stored(r.email),
            password_hash: r.password_hash,
            created_at: time(r.created_at)?,
        })
    }
}
