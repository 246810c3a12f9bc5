//! PostgreSQL implementation of the storage ports: native types (`timestamptz`, `jsonb`,
//! `bytea`), embedded migrations, plain runtime queries.
#![forbid(unsafe_code)]

mod captures;
mod jobs;
mod rows;
mod verification;

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::types::Json;
use time::OffsetDateTime;
use veriframe_core::flow::{Flow, FlowConfig};
use veriframe_core::ids::{ApiKeyId, ClientId, FlowId, InterviewId, TenantId};
use veriframe_core::ports::{
    AdminStore, ApiKeyStore, FlowStore, SecretRecord, SecretStore, SessionStore, StatusRow, Store, StoreError,
    StoreResult, TenantStore,
};
use veriframe_core::secret::SecretHash;
use veriframe_core::session::Session;
use veriframe_core::status::OnboardingStatus;
use veriframe_core::tenant::{Admin, ApiKey, Tenant};
use veriframe_core::text::{Email, ExternalCustomerId, HttpUrl};

use crate::rows::{
    AdminRow, ApiKeyRow, FlowRow, KeyWithTenantRow, SecretRow, SecretWithStatusRow, SessionRow, StatusRowRaw,
    TenantRow, map_err,
};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Connection settings.
#[derive(Debug, Clone)]
pub struct PostgresSettings {
    pub max_connections: u32,
    /// How long a request may wait for a pooled connection before it fails as unavailable.
    pub acquire_timeout: Duration,
}

impl Default for PostgresSettings {
    fn default() -> Self {
        Self { max_connections: 16, acquire_timeout: Duration::from_secs(5) }
    }
}

/// The PostgreSQL store.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// Connects to a `postgres://` URL and applies pending migrations.
    pub async fn connect(url: &str, settings: &PostgresSettings) -> StoreResult<Self> {
        let options =
            PgConnectOptions::from_str(url).map_err(|e| StoreError::Other(format!("bad PostgreSQL URL: {e}")))?;
        let pool = PgPoolOptions::new()
            .max_connections(settings.max_connections.max(1))
            .acquire_timeout(settings.acquire_timeout)
            .connect_with(options)
            .await
            .map_err(map_err)?;
        MIGRATOR.run(&pool).await.map_err(|e| StoreError::Other(format!("migrating the PostgreSQL database: {e}")))?;
        Ok(Self { pool })
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

#[async_trait]
impl TenantStore for PostgresStore {
    async fn create_tenant(&self, t: &Tenant) -> StoreResult<()> {
        sqlx::query("INSERT INTO tenants (id, client_id, name, created_at) VALUES ($1, $2, $3, $4)")
            .bind(t.id.to_string())
            .bind(t.client_id.as_str())
            .bind(&t.name)
            .bind(t.created_at)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn tenant(&self, id: TenantId) -> StoreResult<Option<Tenant>> {
        sqlx::query_as::<_, TenantRow>("SELECT id, client_id, name, created_at FROM tenants WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?
            .map(TryInto::try_into)
            .transpose()
    }

    async fn tenant_by_client_id(&self, client_id: &ClientId) -> StoreResult<Option<Tenant>> {
        sqlx::query_as::<_, TenantRow>("SELECT id, client_id, name, created_at FROM tenants WHERE client_id = $1")
            .bind(client_id.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?
            .map(TryInto::try_into)
            .transpose()
    }

    async fn list_tenants(&self) -> StoreResult<Vec<Tenant>> {
        sqlx::query_as::<_, TenantRow>("SELECT id, client_id, name, created_at FROM tenants ORDER BY created_at, id")
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?
            .into_iter()
            .map(TryInto::try_into)
            .collect()
    }
}

#[async_trait]
impl ApiKeyStore for PostgresStore {
    async fn create_api_key(&self, key: &ApiKey, hash: &SecretHash) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO api_keys (id, tenant_id, key_hash, label, display_prefix, created_at, revoked_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(key.id.to_string())
        .bind(key.tenant_id.to_string())
        .bind(hash.as_bytes().as_slice())
        .bind(&key.label)
        .bind(&key.display_prefix)
        .bind(key.created_at)
        .bind(key.revoked_at)
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn api_key_by_hash(&self, hash: &SecretHash) -> StoreResult<Option<(ApiKey, Tenant)>> {
        let row = sqlx::query_as::<_, KeyWithTenantRow>(
            "SELECT k.id, k.tenant_id, k.label, k.display_prefix, k.created_at, k.revoked_at,
                    t.client_id AS tenant_client_id, t.name AS tenant_name, t.created_at AS tenant_created_at
             FROM api_keys k JOIN tenants t ON t.id = k.tenant_id
             WHERE k.key_hash = $1",
        )
        .bind(hash.as_bytes().as_slice())
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?;
        row.map(KeyWithTenantRow::split).transpose()
    }

    async fn list_api_keys(&self, tenant: TenantId) -> StoreResult<Vec<ApiKey>> {
        sqlx::query_as::<_, ApiKeyRow>(
            "SELECT id, tenant_id, label, display_prefix, created_at, revoked_at
             FROM api_keys WHERE tenant_id = $1 ORDER BY created_at, id",
        )
        .bind(tenant.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?
        .into_iter()
        .map(TryInto::try_into)
        .collect()
    }

    async fn revoke_api_key(&self, tenant: TenantId, id: ApiKeyId, at: OffsetDateTime) -> StoreResult<bool> {
        let done =
            sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE tenant_id = $2 AND id = $3 AND revoked_at IS NULL")
                .bind(at)
                .bind(tenant.to_string())
                .bind(id.to_string())
                .execute(&self.pool)
                .await
                .map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }
}

#[async_trait]
impl FlowStore for PostgresStore {
    async fn create_flow(&self, flow: &Flow) -> StoreResult<()> {
        sqlx::query("INSERT INTO flows (id, tenant_id, name, config, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(flow.id.to_string())
            .bind(flow.tenant_id.to_string())
            .bind(&flow.name)
            .bind(Json(&flow.config))
            .bind(flow.created_at)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn flow(&self, tenant: TenantId, id: FlowId) -> StoreResult<Option<Flow>> {
        sqlx::query_as::<_, FlowRow>(
            "SELECT id, tenant_id, name, config, created_at FROM flows WHERE tenant_id = $1 AND id = $2",
        )
        .bind(tenant.to_string())
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?
        .map(TryInto::try_into)
        .transpose()
    }

    async fn list_flows(&self, tenant: TenantId) -> StoreResult<Vec<Flow>> {
        sqlx::query_as::<_, FlowRow>(
            "SELECT id, tenant_id, name, config, created_at FROM flows WHERE tenant_id = $1 ORDER BY created_at, id",
        )
        .bind(tenant.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?
        .into_iter()
        .map(TryInto::try_into)
        .collect()
    }

    async fn update_flow_config(&self, tenant: TenantId, id: FlowId, config: &FlowConfig) -> StoreResult<bool> {
        let done = sqlx::query("UPDATE flows SET config = $1 WHERE tenant_id = $2 AND id = $3")
            .bind(Json(config))
            .bind(tenant.to_string())
            .bind(id.to_string())
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }
}

#[async_trait]
impl SecretStore for PostgresStore {
    async fn insert_secret(&self, r: &SecretRecord) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO secrets (hash, kind, tenant_id, session_id, admin_id, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(r.hash.as_bytes().as_slice())
        .bind(r.kind.as_str())
        .bind(r.tenant_id.to_string())
        .bind(r.session_id.map(|id| id.to_string()))
        .bind(r.admin_id.map(|id| id.to_string()))
        .bind(r.created_at)
        .bind(r.expires_at)
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn secret(&self, hash: &SecretHash) -> StoreResult<Option<SecretRecord>> {
        sqlx::query_as::<_, SecretRow>(
            "SELECT hash, kind, tenant_id, session_id, admin_id, created_at, expires_at FROM secrets WHERE hash = $1",
        )
        .bind(hash.as_bytes().as_slice())
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?
        .map(TryInto::try_into)
        .transpose()
    }

    async fn secret_with_status(&self, hash: &SecretHash) -> StoreResult<Option<(SecretRecord, Option<StatusRow>)>> {
        sqlx::query_as::<_, SecretWithStatusRow>(
            "SELECT k.hash, k.kind, k.tenant_id, k.session_id, k.admin_id, k.created_at, k.expires_at,
                    s.status AS session_status, s.expires_at AS session_expires_at
             FROM secrets k LEFT JOIN sessions s ON s.id = k.session_id AND s.tenant_id = k.tenant_id
             WHERE k.hash = $1",
        )
        .bind(hash.as_bytes().as_slice())
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?
        .map(SecretWithStatusRow::split)
        .transpose()
    }

    async fn extend_secret(&self, hash: &SecretHash, until: OffsetDateTime) -> StoreResult<()> {
        sqlx::query("UPDATE secrets SET expires_at = $1 WHERE hash = $2 AND expires_at < $1")
            .bind(until)
            .bind(hash.as_bytes().as_slice())
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn delete_expired_secrets(&self, before: OffsetDateTime) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM secrets WHERE expires_at < $1")
            .bind(before)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(done.rows_affected())
    }
}

/// The columns `SessionRow` reads, as a literal so queries stay `&'static str`.
macro_rules! session_columns {
    () => {
        "id, tenant_id, flow_id, interview_code, status, external_customer_id, redirection_url, \
         country_code, language, custom_fields, created_at, updated_at, expires_at, finished_at, consented_at, \
         submitted_at"
    };
}

#[async_trait]
impl SessionStore for PostgresStore {
    async fn create_session(&self, s: &Session) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO sessions (id, tenant_id, flow_id, interview_code, status, external_customer_id,
                redirection_url, country_code, language, custom_fields, created_at, updated_at, expires_at, finished_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        )
        .bind(s.id.to_string())
        .bind(s.tenant_id.to_string())
        .bind(s.flow_id.to_string())
        .bind(s.interview_code.as_str())
        .bind(s.status.as_str())
        .bind(s.external_customer_id.as_ref().map(ExternalCustomerId::as_str))
        .bind(s.redirection_url.as_ref().map(HttpUrl::as_str))
        .bind(s.country_code.as_str())
        .bind(s.language.as_str())
        .bind(Json(&s.custom_fields))
        .bind(s.created_at)
        .bind(s.updated_at)
        .bind(s.expires_at)
        .bind(s.finished_at)
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn session(&self, tenant: TenantId, id: InterviewId) -> StoreResult<Option<Session>> {
        sqlx::query_as::<_, SessionRow>(concat!(
            "SELECT ",
            session_columns!(),
            " FROM sessions WHERE tenant_id = $1 AND id = $2"
        ))
        .bind(tenant.to_string())
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?
        .map(TryInto::try_into)
        .transpose()
    }

    async fn session_status(&self, tenant: TenantId, id: InterviewId) -> StoreResult<Option<StatusRow>> {
        sqlx::query_as::<_, StatusRowRaw>("SELECT status, expires_at FROM sessions WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.to_string())
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?
            .map(TryInto::try_into)
            .transpose()
    }

    async fn transition_status(
        &self,
        tenant: TenantId,
        id: InterviewId,
        from: &[OnboardingStatus],
        to: OnboardingStatus,
        at: OffsetDateTime,
    ) -> StoreResult<Option<OnboardingStatus>> {
        let from: Vec<&str> = from.iter().map(|s| s.as_str()).collect();
        let finished = to.is_complete().then_some(at);
        // The guarded update and the read-back run in one statement: the CTE returns the new
        // status when it matched, and the plain select the unchanged one when it did not.
        let status = sqlx::query_scalar::<_, String>(
            "WITH moved AS (
                 UPDATE sessions SET status = $1, updated_at = $2, finished_at = COALESCE(finished_at, $3)
                 WHERE tenant_id = $4 AND id = $5 AND status = ANY($6)
                 RETURNING status)
             SELECT status FROM moved
             UNION ALL
             SELECT status FROM sessions WHERE tenant_id = $4 AND id = $5 AND NOT EXISTS (SELECT 1 FROM moved)",
        )
        .bind(to.as_str())
        .bind(at)
        .bind(finished)
        .bind(tenant.to_string())
        .bind(id.to_string())
        .bind(&from)
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?;
        status.map(|s| rows::parse_status(&s)).transpose()
    }
}

#[async_trait]
impl AdminStore for PostgresStore {
    async fn create_admin(&self, a: &Admin) -> StoreResult<()> {
        sqlx::query("INSERT INTO admins (id, tenant_id, email, password_hash, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(a.id.to_string())
            .bind(a.tenant_id.to_string())
            .bind(a.email.as_str())
            .bind(&a.password_hash)
            .bind(a.created_at)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn admin_by_email(&self, tenant: TenantId, email: &Email) -> StoreResult<Option<Admin>> {
        sqlx::query_as::<_, AdminRow>(
            "SELECT id, tenant_id, email, password_hash, created_at FROM admins WHERE tenant_id = $1 AND email = $2",
        )
        .bind(tenant.to_string())
        .bind(email.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?
        .map(TryInto::try_into)
        .transpose()
    }

    async fn list_admins(&self, tenant: TenantId) -> StoreResult<Vec<Admin>> {
        sqlx::query_as::<_, AdminRow>(
            "SELECT id, tenant_id, email, password_hash, created_at FROM admins WHERE tenant_id = $1 ORDER BY created_at, id",
        )
        .bind(tenant.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?
        .into_iter()
        .map(TryInto::try_into)
        .collect()
    }
}

#[async_trait]
impl Store for PostgresStore {
    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map_err(map_err)?;
        Ok(())
    }

    fn backend(&self) -> &'static str {
        "postgres"
    }
}
