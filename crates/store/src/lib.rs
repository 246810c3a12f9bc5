//! The storage ports over SQLite and PostgreSQL. One implementation serves both: queries are
//! written once with `$n` placeholders, and `db` stores each value the way its database keeps
//! it. SQLite (the embedded default: one file in WAL mode) holds ids as their 24-character hex
//! text, timestamps as integer milliseconds and JSON as text, so it can be read with the
//! `sqlite3` shell; PostgreSQL uses native types (`timestamptz`, `jsonb`, `bytea`, an
//! `object_id` domain). Each has its own embedded migrations.
#![forbid(unsafe_code)]

mod captures;
mod db;
mod jobs;
mod rows;
mod verification;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
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

use crate::db::{Db, Dialect, Value, map_err, query};
use crate::rows::session_columns;

static SQLITE_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// SQLite connection settings.
#[derive(Debug, Clone)]
pub struct SqliteSettings {
    /// Maximum pooled reading connections. SQLite serialises writers; readers run in parallel
    /// in WAL.
    pub max_connections: u32,
}

impl Default for SqliteSettings {
    fn default() -> Self {
        Self { max_connections: 8 }
    }
}

/// PostgreSQL connection settings.
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

/// The store, over whichever database it was opened on.
#[derive(Debug, Clone)]
pub struct SqlStore {
    db: Db,
}

impl SqlStore {
    /// Opens (creating if needed) a SQLite database file and applies pending migrations.
    pub async fn open_sqlite(path: &Path, settings: &SqliteSettings) -> StoreResult<Self> {
        Self::sqlite_with(SqliteConnectOptions::new().filename(path), settings).await
    }

    /// Opens a `sqlite://` URL (query parameters such as `?mode=rwc` are honoured).
    pub async fn connect_sqlite(url: &str, settings: &SqliteSettings) -> StoreResult<Self> {
        let options =
            SqliteConnectOptions::from_str(url).map_err(|e| StoreError::Other(format!("bad SQLite URL: {e}")))?;
        Self::sqlite_with(options, settings).await
    }

    async fn sqlite_with(options: SqliteConnectOptions, settings: &SqliteSettings) -> StoreResult<Self> {
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // With WAL, NORMAL loses at most the last transactions on power loss, never
            // consistency; FULL would fsync on every status write.
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            // Other processes (the CLI, a second server) may hold the write lock for a moment.
            .busy_timeout(Duration::from_secs(10));
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(20))
            .connect_with(options.clone())
            .await
            .map_err(map_err)?;
        SQLITE_MIGRATOR
            .run(&write)
            .await
            .map_err(|e| StoreError::Other(format!("migrating the SQLite database: {e}")))?;
        let read = SqlitePoolOptions::new()
            .max_connections(settings.max_connections.max(1))
            .min_connections(1)
            .connect_with(options)
            .await
            .map_err(map_err)?;
        Ok(Self { db: Db::Sqlite { read, write } })
    }

    /// Connects to a `postgres://` URL and applies pending migrations.
    pub async fn connect_postgres(url: &str, settings: &PostgresSettings) -> StoreResult<Self> {
        let options =
            PgConnectOptions::from_str(url).map_err(|e| StoreError::Other(format!("bad PostgreSQL URL: {e}")))?;
        let pool = PgPoolOptions::new()
            .max_connections(settings.max_connections.max(1))
            .acquire_timeout(settings.acquire_timeout)
            .connect_with(options)
            .await
            .map_err(map_err)?;
        POSTGRES_MIGRATOR
            .run(&pool)
            .await
            .map_err(|e| StoreError::Other(format!("migrating the PostgreSQL database: {e}")))?;
        Ok(Self { db: Db::Postgres(pool) })
    }

    fn dialect(&self) -> Dialect {
        self.db.dialect()
    }
}

#[async_trait]
impl TenantStore for SqlStore {
    async fn create_tenant(&self, t: &Tenant) -> StoreResult<()> {
        query("INSERT INTO tenants (id, client_id, name, created_at) VALUES ($1, $2, $3, $4)")
            .bind(t.id.to_string())
            .bind(t.client_id.as_str())
            .bind(&t.name)
            .bind(t.created_at)
            .execute(self.db.write())
            .await?;
        Ok(())
    }

    async fn tenant(&self, id: TenantId) -> StoreResult<Option<Tenant>> {
        query("SELECT id, client_id, name, created_at FROM tenants WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional_with(self.db.read(), rows::tenant)
            .await
    }

    async fn tenant_by_client_id(&self, client_id: &ClientId) -> StoreResult<Option<Tenant>> {
        query("SELECT id, client_id, name, created_at FROM tenants WHERE client_id = $1")
            .bind(client_id.as_str())
            .fetch_optional_with(self.db.read(), rows::tenant)
            .await
    }

    async fn list_tenants(&self) -> StoreResult<Vec<Tenant>> {
        query("SELECT id, client_id, name, created_at FROM tenants ORDER BY created_at, id")
            .fetch_all_with(self.db.read(), rows::tenant)
            .await
    }
}

#[async_trait]
impl ApiKeyStore for SqlStore {
    async fn create_api_key(&self, key: &ApiKey, hash: &SecretHash) -> StoreResult<()> {
        query(
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
        .execute(self.db.write())
        .await?;
        Ok(())
    }

    async fn api_key_by_hash(&self, hash: &SecretHash) -> StoreResult<Option<(ApiKey, Tenant)>> {
        query(
            "SELECT k.id, k.tenant_id, k.label, k.display_prefix, k.created_at, k.revoked_at,
                    t.client_id AS tenant_client_id, t.name AS tenant_name, t.created_at AS tenant_created_at
             FROM api_keys k JOIN tenants t ON t.id = k.tenant_id
             WHERE k.key_hash = $1",
        )
        .bind(hash.as_bytes().as_slice())
        .fetch_optional_with(self.db.read(), rows::api_key_with_tenant)
        .await
    }

    async fn list_api_keys(&self, tenant: TenantId) -> StoreResult<Vec<ApiKey>> {
        query(
            "SELECT id, tenant_id, label, display_prefix, created_at, revoked_at
             FROM api_keys WHERE tenant_id = $1 ORDER BY created_at, id",
        )
        .bind(tenant.to_string())
        .fetch_all_with(self.db.read(), rows::api_key)
        .await
    }

    async fn revoke_api_key(&self, tenant: TenantId, id: ApiKeyId, at: OffsetDateTime) -> StoreResult<bool> {
        let changed =
            query("UPDATE api_keys SET revoked_at = $1 WHERE tenant_id = $2 AND id = $3 AND revoked_at IS NULL")
                .bind(at)
                .bind(tenant.to_string())
                .bind(id.to_string())
                .execute(self.db.write())
                .await?;
        Ok(changed == 1)
    }
}

#[async_trait]
impl FlowStore for SqlStore {
    async fn create_flow(&self, flow: &Flow) -> StoreResult<()> {
        query("INSERT INTO flows (id, tenant_id, name, config, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(flow.id.to_string())
            .bind(flow.tenant_id.to_string())
            .bind(&flow.name)
            .bind(Value::json(&flow.config)?)
            .bind(flow.created_at)
            .execute(self.db.write())
            .await?;
        Ok(())
    }

    async fn flow(&self, tenant: TenantId, id: FlowId) -> StoreResult<Option<Flow>> {
        query("SELECT id, tenant_id, name, config, created_at FROM flows WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.to_string())
            .bind(id.to_string())
            .fetch_optional_with(self.db.read(), rows::flow)
            .await
    }

    async fn list_flows(&self, tenant: TenantId) -> StoreResult<Vec<Flow>> {
        query("SELECT id, tenant_id, name, config, created_at FROM flows WHERE tenant_id = $1 ORDER BY created_at, id")
            .bind(tenant.to_string())
            .fetch_all_with(self.db.read(), rows::flow)
            .await
    }

    async fn update_flow_config(&self, tenant: TenantId, id: FlowId, config: &FlowConfig) -> StoreResult<bool> {
        let changed = query("UPDATE flows SET config = $1 WHERE tenant_id = $2 AND id = $3")
            .bind(Value::json(config)?)
            .bind(tenant.to_string())
            .bind(id.to_string())
            .execute(self.db.write())
            .await?;
        Ok(changed == 1)
    }
}

#[async_trait]
impl SecretStore for SqlStore {
    async fn insert_secret(&self, r: &SecretRecord) -> StoreResult<()> {
        query(
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
        .execute(self.db.write())
        .await?;
        Ok(())
    }

    async fn secret(&self, hash: &SecretHash) -> StoreResult<Option<SecretRecord>> {
        query("SELECT hash, kind, tenant_id, session_id, admin_id, created_at, expires_at FROM secrets WHERE hash = $1")
            .bind(hash.as_bytes().as_slice())
            .fetch_optional_with(self.db.read(), rows::secret)
            .await
    }

    async fn secret_with_status(&self, hash: &SecretHash) -> StoreResult<Option<(SecretRecord, Option<StatusRow>)>> {
        query(
            "SELECT k.hash, k.kind, k.tenant_id, k.session_id, k.admin_id, k.created_at, k.expires_at,
                    s.status AS session_status, s.expires_at AS session_expires_at
             FROM secrets k LEFT JOIN sessions s ON s.id = k.session_id AND s.tenant_id = k.tenant_id
             WHERE k.hash = $1",
        )
        .bind(hash.as_bytes().as_slice())
        .fetch_optional_with(self.db.read(), rows::secret_with_status)
        .await
    }

    async fn extend_secret(&self, hash: &SecretHash, until: OffsetDateTime) -> StoreResult<()> {
        query("UPDATE secrets SET expires_at = $1 WHERE hash = $2 AND expires_at < $1")
            .bind(until)
            .bind(hash.as_bytes().as_slice())
            .execute(self.db.write())
            .await?;
        Ok(())
    }

    async fn delete_expired_secrets(&self, before: OffsetDateTime) -> StoreResult<u64> {
        query("DELETE FROM secrets WHERE expires_at < $1").bind(before).execute(self.db.write()).await
    }
}

#[async_trait]
impl SessionStore for SqlStore {
    async fn create_session(&self, s: &Session) -> StoreResult<()> {
        query(
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
        .bind(Value::json(&s.custom_fields)?)
        .bind(s.created_at)
        .bind(s.updated_at)
        .bind(s.expires_at)
        .bind(s.finished_at)
        .execute(self.db.write())
        .await?;
        Ok(())
    }

    async fn session(&self, tenant: TenantId, id: InterviewId) -> StoreResult<Option<Session>> {
        query(concat!("SELECT ", session_columns!(), " FROM sessions WHERE tenant_id = $1 AND id = $2"))
            .bind(tenant.to_string())
            .bind(id.to_string())
            .fetch_optional_with(self.db.read(), rows::session)
            .await
    }

    async fn session_status(&self, tenant: TenantId, id: InterviewId) -> StoreResult<Option<StatusRow>> {
        query("SELECT status, expires_at FROM sessions WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.to_string())
            .bind(id.to_string())
            .fetch_optional_with(self.db.read(), rows::status)
            .await
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
        // One guarded statement, so concurrent transitions cannot interleave between the check
        // and the write; it answers the new status when it matched.
        let moved = query(sqlx::AssertSqlSafe(format!(
            "UPDATE sessions SET status = $1, updated_at = $2, finished_at = COALESCE(finished_at, $3)
             WHERE tenant_id = $4 AND id = $5 AND status IN (SELECT j.value FROM {})
             RETURNING status",
            self.dialect().json_strings("$6")
        )))
        .bind(to.as_str())
        .bind(at)
        .bind(finished)
        .bind(tenant.to_string())
        .bind(id.to_string())
        .bind(Value::json(&from)?)
        .fetch_optional_with(self.db.write(), |r| r.text("status"))
        .await?;
        let status = match moved {
            Some(status) => Some(status),
            None => {
                query("SELECT status FROM sessions WHERE tenant_id = $1 AND id = $2")
                    .bind(tenant.to_string())
                    .bind(id.to_string())
                    .fetch_optional_with(self.db.write(), |r| r.text("status"))
                    .await?
            }
        };
        status.map(|s| rows::parse_status(&s)).transpose()
    }
}

#[async_trait]
impl AdminStore for SqlStore {
    async fn create_admin(&self, a: &Admin) -> StoreResult<()> {
        query("INSERT INTO admins (id, tenant_id, email, password_hash, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(a.id.to_string())
            .bind(a.tenant_id.to_string())
            .bind(a.email.as_str())
            .bind(&a.password_hash)
            .bind(a.created_at)
            .execute(self.db.write())
            .await?;
        Ok(())
    }

    async fn admin_by_email(&self, tenant: TenantId, email: &Email) -> StoreResult<Option<Admin>> {
        query("SELECT id, tenant_id, email, password_hash, created_at FROM admins WHERE tenant_id = $1 AND email = $2")
            .bind(tenant.to_string())
            .bind(email.as_str())
            .fetch_optional_with(self.db.read(), rows::admin)
            .await
    }

    async fn list_admins(&self, tenant: TenantId) -> StoreResult<Vec<Admin>> {
        query(
            "SELECT id, tenant_id, email, password_hash, created_at FROM admins WHERE tenant_id = $1 ORDER BY created_at, id",
        )
        .bind(tenant.to_string())
        .fetch_all_with(self.db.read(), rows::admin)
        .await
    }
}

#[async_trait]
impl Store for SqlStore {
    async fn ping(&self) -> StoreResult<()> {
        query("SELECT 1").execute(self.db.read()).await?;
        Ok(())
    }

    fn backend(&self) -> &'static str {
        match self.dialect() {
            Dialect::Sqlite => "sqlite",
            Dialect::Postgres => "postgres",
        }
    }
}
