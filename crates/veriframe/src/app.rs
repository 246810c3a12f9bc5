//! Composition root: picks the store, wires the services, builds the router, serves.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use async_trait::async_trait;
use time::Duration;
use tokio::net::TcpListener;
use veriframe_core::ports::{PasswordError, PasswordHasher, Store};
use veriframe_core::service::{Bootstrapped, Onboarding, Provisioning, Settings};
use veriframe_core::{Clock, SystemClock, password};
use veriframe_http::AppState;
use veriframe_store_postgres::{PostgresSettings, PostgresStore};
use veriframe_store_sqlite::{SqliteSettings, SqliteStore};

use crate::config::{Config, DatabaseKind, redact_url};

/// argon2 on tokio's blocking pool, so a login never stalls request handling.
#[derive(Debug, Default, Clone, Copy)]
pub struct BlockingArgon2;

#[async_trait]
impl PasswordHasher for BlockingArgon2 {
    async fn hash(&self, password: String) -> Result<String, PasswordError> {
        tokio::task::spawn_blocking(move || password::hash_password(&password))
            .await
            .map_err(|e| PasswordError(e.to_string()))?
    }

    async fn verify(&self, password: String, hash: String) -> bool {
        tokio::task::spawn_blocking(move || password::verify_password(&password, &hash)).await.unwrap_or(false)
    }
}

/// Opens the configured store, creating the data directory for SQLite.
pub async fn open_store(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    let url = config.database_url();
    match DatabaseKind::of(&url) {
        Some(DatabaseKind::Sqlite) => {
            std::fs::create_dir_all(&config.data_dir)
                .with_context(|| format!("creating the data directory {}", config.data_dir.display()))?;
            let settings = SqliteSettings {
                max_connections: config.database_max_connections.unwrap_or(SqliteSettings::default().max_connections),
            };
            let store = SqliteStore::connect(&url, &settings)
                .await
                .with_context(|| format!("opening the SQLite database {}", redact_url(&url)))?;
            Ok(Arc::new(store))
        }
        Some(DatabaseKind::Postgres) => {
            let settings = PostgresSettings {
                max_connections: config.database_max_connections.unwrap_or(PostgresSettings::default().max_connections),
                ..PostgresSettings::default()
            };
            let store = PostgresStore::connect(&url, &settings)
                .await
                .with_context(|| format!("connecting to PostgreSQL at {}", redact_url(&url)))?;
            Ok(Arc::new(store))
        }
        None => anyhow::bail!("unsupported database URL {}", redact_url(&url)),
    }
}

/// Services for CLI commands that work on the store directly.
pub fn provisioning(store: Arc<dyn Store>) -> Provisioning {
    Provisioning::new(store, Arc::new(SystemClock), Arc::new(BlockingArgon2))
}

/// A built application, ready to serve on a bound listener.
pub struct App {
    state: AppState,
    public_url: String,
    /// What the first start created, to be printed once.
    pub bootstrapped: Option<Bootstrapped>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App").field("public_url", &self.public_url).finish_non_exhaustive()
    }
}

impl App {
    /// Opens storage, applies migrations, creates the demo tenant on an empty store. `bound`
    /// is the address the listener actually got (port 0 in tests), for the default public URL.
    pub async fn build(config: &Config, bound: SocketAddr) -> anyhow::Result<Self> {
        let store = open_store(config).await?;
        Self::with_store(config, bound, store, Arc::new(SystemClock)).await
    }

    /// Same, with a given store and clock (tests use a manual clock).
    pub async fn with_store(
        config: &Config,
        bound: SocketAddr,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Self> {
        let passwords: Arc<dyn PasswordHasher> = Arc::new(BlockingArgon2);
        let bootstrapped = Provisioning::new(store.clone(), clock.clone(), passwords.clone())
            .bootstrap_if_empty()
            .await
            .context("creating the demo tenant")?;
        let public_url = config.public_url(bound);
        let settings = Settings {
            public_url: public_url.clone(),
            env: config.env.clone(),
            session_token_ttl: Duration::days(i64::from(config.session_token_ttl_days)),
            ..Settings::default()
        };
        let onboarding = Onboarding::new(store, clock, passwords, settings);
        Ok(Self { state: AppState { onboarding }, public_url, bootstrapped })
    }

    pub fn public_url(&self) -> &str {
        &self.public_url
    }

    pub fn router(&self) -> axum::Router {
        veriframe_http::router(self.state.clone())
    }

    /// Serves until `shutdown` resolves, then finishes in-flight requests.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        axum::serve(listener, self.router()).with_graceful_shutdown(shutdown).await.context("serving HTTP")
    }
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM. The handlers are installed when this is called, not
/// when the future is first polled, so a signal that arrives while the server is still starting
/// is not lost (and does not kill the process with the default action).
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let interrupt = signal(SignalKind::interrupt());
        let terminate = signal(SignalKind::terminate());
        async move {
            match (interrupt, terminate) {
                (Ok(mut interrupt), Ok(mut terminate)) => {
                    tokio::select! {
                        _ = interrupt.recv() => {},
                        _ = terminate.recv() => {},
                    }
                }
                _ => std::future::pending::<()>().await,
            }
            tracing::info!("shutting down");
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutting down");
    }
}
