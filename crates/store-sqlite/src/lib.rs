//! SQLite implementation of the storage ports: one file in WAL mode, embedded migrations,
//! plain runtime queries. Identifiers are stored as their 24-character hex text and timestamps
//! as integer milliseconds, so the database can be read with the `sqlite3` shell.
#![forbid(unsafe_code)]

mod captures;
mod jobs;
mod rows;
mod verification;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use time::OffsetDateTime;
use veriframe_core::clock::unix_millis;
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
pub struct SqliteSettings {
    /// Maximum pooled connections. SQLite serialises writers; readers run in parallel in WAL.
    pub max_connections: u32,
}

impl Default for SqliteSettings {
    fn default() -> Self {
        Self { max_connections: 8 }
    }
}

/// The SQLite store. Reads share a pool; every write goes through one connection, so writers
/// queue in the process instead of racing for SQLite's single write lock (which answers a loser
/// with "database is locked" when a transaction has to upgrade from read to write).
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    writer: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and applies pending migrations.
    pub async fn open(path: &Path, settings: &SqliteSettings) -> StoreResult<Self> {
        let options = SqliteConnectOptions::new().filename(path);
        Self::connect_with(options, settings).await
    }

    /// Opens a `sqlite://` URL (query parameters such as `?mode=rwc` are honoured).
    pub async fn connect(url: &str, settings: &SqliteSettings) -> StoreResult<Self> {
        let options =
            SqliteConnectOptions::from_str(url).map_err(|e| StoreError::Other(format!("bad SQLite URL: {e}")))?;
        Self::connect_with(options, settings).await
    }

    async fn connect_with(options: SqliteConnectOptions, settings: &SqliteSettings) -> StoreResult<Self> {
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // With WAL, NORMAL loses at most the last transactions on power loss, never
            // consistency; FULL would fsync on every status write.
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            // Other processes (the CLI, a second server) may hold the write lock for a moment.
            .busy_timeout(Duration::from_secs(10));
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(20))
            .connect_with(options.clone())
            .await
            .map_err(map_err)?;
        MIGRATOR.run(&writer).await.map_err(|e| StoreError::Other(format!("migrating the SQLite database: {e}")))?;
        let pool = SqlitePoolOptions::new()
            .max_connections(settings.max_connections.max(1))
            .min_connections(1)
            .connect_with(options)
            .await
            .map_err(map_err)?;
        Ok(Self { pool, writer })
    }

    /// The underlying read pool, for other SQLite-backed adapters of the same database.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// The single writing connection.
    pub(crate) fn writer(&self) -> &SqlitePool {
        &self.writer
    }

    /// A write transaction that takes SQLite's write lock at once (`BEGIN IMMEDIATE`), so it
    /// never has to upgrade a read lock mid-way, which fails instead of waiting.
    pub(crate) async fn write_transaction(&self) -> StoreResult<sqlx::Transaction<'static, sqlx::Sqlite>> {
        self.writer.begin_with("BEGIN IMMEDIATE").await.map_err(map_err)
    }
}

fn ms(t: OffsetDateTime) -> i64 {
    unix_millis(t)
}

#[async_trait]
impl TenantStore for SqliteStore {
    async fn create_tenant(&self, t: &Tenant) -> StoreResult<()> {
        sqlx::query("INSERT INTO tenants (id, client_id, name, created_at) VALUES (?, ?, ?, ?)")
            .bind(t.id.to_string())
            .bind(t.client_id.as_str())
            .bind(&t.name)
            .bind(ms(t.created_at))
            .execute(self.writer())
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn tenant(&self, id: TenantId) -> StoreResult<Option<Tenant>> {
        sqlx::query_as::<_, TenantRow>("SELECT id, client_id, name, created_at FROM tenants WHERE id = ?")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?
            .map(TryInto::try_into)
            .transpose()
    }

    async fn tenant_by_client_id(&self, client_id: &ClientId) -> StoreResult<Option<Tenant>> {
        sqlx::query_as::<_, TenantRow>("SELECT id, client_id, name, created_at FROM tenants WHERE client_id = ?")
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
impl ApiKeyStore for SqliteStore {
    async fn create_api_key(&self, key: &ApiKey, hash: &SecretHash) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO api_keys (id, tenant_id, key_hash, label, display_prefix, created_at, revoked_at)
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(key.id.to_string())
        .bind(key.tenant_id.to_string())
        .bind(hash.as_bytes().as_slice())
        .bind(&key.label)
        .bind(&key.display_prefix)
        .bind(ms(key.created_at))
        .bind(key.revoked_at.map(ms))
        .execute(self.writer())
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn api_key_by_hash(&self, hash: &SecretHash) -> StoreResult<Option<(ApiKey, Tenant)>> {
        let row = sqlx::query_as::<_, KeyWithTenantRow>(
            "SELECT k.id, k.tenant_id, k.label, k.display_prefix, k.created_at, k.revoked_at,
                    t.client_id AS tenant_client_id, t.name AS tenant_name, t.created_at AS tenant_created_at
             FROM api_keys k JOIN tenants t ON t.id = k.tenant_id
             WHERE k.key_hash = ?",
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
             FROM api_keys WHERE tenant_id = ? ORDER BY created_at, id",
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
            sqlx::query("UPDATE api_keys SET revoked_at = ? WHERE tenant_id = ? AND id = ? AND revoked_at IS NULL")
                .bind(ms(at))
                .bind(tenant.to_string())
                .bind(id.to_string())
                .execute(self.writer())
                .await
                .map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }
}

#[async_trait]
impl FlowStore for SqliteStore {
    async fn create_flow(&self, flow: &Flow) -> StoreResult<()> {
        let config = serde_json::to_string(&flow.config).map_err(|e| StoreError::Other(e.to_string()))?;
        sqlx::query("INSERT INTO flows (id, tenant_id, name, config, created_at) VALUES (?, ?, ?, ?, ?)")
            .bind(flow.id.to_string())
            .bind(flow.tenant_id.to_string())
            .bind(&flow.name)
            .bind(config)
            .bind(ms(flow.created_at))
            .execute(self.writer())
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn flow(&self, tenant: TenantId, id: FlowId) -> StoreResult<Option<Flow>> {
        sqlx::query_as::<_, FlowRow>(
            "SELECT id, tenant_id, name, config, created_at FROM flows WHERE tenant_id = ? AND id = ?",
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
            "SELECT id, tenant_id, name, config, created_at FROM flows WHERE tenant_id = ? ORDER BY created_at, id",
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
        let config = serde_json::to_string(config).map_err(|e| StoreError::Other(e.to_string()))?;
        let done = sqlx::query("UPDATE flows SET config = ? WHERE tenant_id = ? AND id = ?")
            .bind(config)
            .bind(tenant.to_string())
            .bind(id.to_string())
            .execute(self.writer())
            .await
            .map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }
}

#[async_trait]
impl SecretStore for SqliteStore {
    async fn insert_secret(&self, r: &SecretRecord) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO secrets (hash, kind, tenant_id, session_id, admin_id, created_at, expires_at)
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(r.hash.as_bytes().as_slice())
        .bind(r.kind.as_str())
        .bind(r.tenant_id.to_string())
        .bind(r.session_id.map(|id| id.to_string()))
        .bind(r.admin_id.map(|id| id.to_string()))
        .bind(ms(r.created_at))
        .bind(ms(r.expires_at))
        .execute(self.writer())
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn secret(&self, hash: &SecretHash) -> StoreResult<Option<SecretRecord>> {
        sqlx::query_as::<_, SecretRow>(
            "SELECT hash, kind, tenant_id, session_id, admin_id, created_at, expires_at FROM secrets WHERE hash = ?",
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
             WHERE k.hash = ?",
        )
        .bind(hash.as_bytes().as_slice())
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?
        .map(SecretWithStatusRow::split)
        .transpose()
    }

    async fn extend_secret(&self, hash: &SecretHash, until: OffsetDateTime) -> StoreResult<()> {
        sqlx::query("UPDATE secrets SET expires_at = ?1 WHERE hash = ?2 AND expires_at < ?1")
            .bind(ms(until))
            .bind(hash.as_bytes().as_slice())
            .execute(self.writer())
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn delete_expired_secrets(&self, before: OffsetDateTime) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM secrets WHERE expires_at < ?")
            .bind(ms(before))
            .execute(self.writer())
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
impl SessionStore for SqliteStore {
    async fn create_session(&self, s: &Session) -> StoreResult<()> {
        let custom_fields = serde_json::to_string(&s.custom_fields).map_err(|e| StoreError::Other(e.to_string()))?;
        sqlx::query(
            "INSERT INTO sessions (id, tenant_id, flow_id, interview_code, status, external_customer_id,
                redirection_url, country_code, language, custom_fields, created_at, updated_at, expires_at, finished_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
        .bind(custom_fields)
        .bind(ms(s.created_at))
        .bind(ms(s.updated_at))
        .bind(ms(s.expires_at))
        .bind(s.finished_at.map(ms))
        .execute(self.writer())
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn session(&self, tenant: TenantId, id: InterviewId) -> StoreResult<Option<Session>> {
        sqlx::query_as::<_, SessionRow>(concat!(
            "SELECT ",
            session_columns!(),
            " FROM sessions WHERE tenant_id = ? AND id = ?"
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
        sqlx::query_as::<_, StatusRowRaw>("SELECT status, expires_at FROM sessions WHERE tenant_id = ? AND id = ?")
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
        // One statement, so concurrent transitions cannot interleave between check and write.
        let from_json = serde_json::to_string(&from.iter().map(|s| s.as_str()).collect::<Vec<_>>())
            .map_err(|e| StoreError::Other(e.to_string()))?;
        let finished = to.is_complete().then_some(ms(at));
        sqlx::query(
            "UPDATE sessions SET status = ?, updated_at = ?, finished_at = COALESCE(finished_at, ?)
             WHERE tenant_id = ? AND id = ? AND status IN (SELECT value FROM json_each(?))",
        )
        .bind(to.as_str())
        .bind(ms(at))
        .bind(finished)
        .bind(tenant.to_string())
        .bind(id.to_string())
        .bind(from_json)
        .execute(self.writer())
        .await
        .map_err(map_err)?;
        let now = sqlx::query_scalar::<_, String>("SELECT status FROM sessions WHERE tenant_id = ? AND id = ?")
            .bind(tenant.to_string())
            .bind(id.to_string())
            .fetch_optional(self.writer())
            .await
            .map_err(map_err)?;
        now.map(|s| rows::parse_status(&s)).transpose()
    }
}

#[async_trait]
impl AdminStore for SqliteStore {
    async fn create_admin(&self, a: &Admin) -> StoreResult<()> {
        sqlx::query("INSERT INTO admins (id, tenant_id, email, password_hash, created_at) VALUES (?, ?, ?, ?, ?)")
            .bind(a.id.to_string())
            .bind(a.tenant_id.to_string())
            .bind(a.email.as_str())
            .bind(&a.password_hash)
            .bind(ms(a.created_at))
            .execute(self.writer())
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn admin_by_email(&self, tenant: TenantId, email: &Email) -> StoreResult<Option<Admin>> {
        sqlx::query_as::<_, AdminRow>(
            "SELECT id, tenant_id, email, password_hash, created_at FROM admins WHERE tenant_id = ? AND email = ?",
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
            "SELECT id, tenant_id, email, password_hash, created_at FROM admins WHERE tenant_id = ? ORDER BY created_at, id",
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
impl Store for SqliteStore {
    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map_err(map_err)?;
        Ok(())
    }

    fn backend(&self) -> &'static str {
        "sqlite"
    }
}
