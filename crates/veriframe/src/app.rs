//! Composition root: picks the store, wires the services, builds the router, serves.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use async_trait::async_trait;
use time::Duration;
use tokio::net::TcpListener;
use veriframe_blob::{BlobLocation, Keyring, MasterKey, open_blob_store};
use veriframe_core::blob::BlobStore;
use veriframe_core::capture::Capturing;
use veriframe_core::ids::TenantId;
use veriframe_core::ports::{PasswordError, PasswordHasher, Store};
use veriframe_core::provisioning::{Bootstrapped, Provisioning};
use veriframe_core::results::Results;
use veriframe_core::service::{Onboarding, Settings};
use veriframe_core::{Clock, SystemClock, password};
use veriframe_http::AppState;
use veriframe_http::middleware::{Guards, MemoryBudget};
use veriframe_http::throttle::Throttle;
use veriframe_pipeline::{
    Admission, Analyzer, CpuError, CpuPool, Engines, JpegCropper, JsonDocumentVault, Pipeline, PipelineSettings, Wakeup,
};
use veriframe_store::{PostgresSettings, SqlStore, SqliteSettings};

use crate::config::{AdmissionConfig, Config, DatabaseKind, redact_url};

/// argon2 on a bounded pool of its own: each check holds ~19 MiB, so a storm of log-ins queues
/// a few and refuses the rest with a fast 503 instead of allocating without limit.
#[derive(Debug, Clone)]
pub struct BoundedArgon2 {
    pool: CpuPool,
}

impl BoundedArgon2 {
    pub fn new(slots: usize, queue: usize) -> Self {
        Self {
            pool: CpuPool::named(
                "veriframe-argon2",
                Admission {
                    size: slots,
                    queue,
                    max_wait: std::time::Duration::from_secs(5),
                    retry_after: std::time::Duration::from_secs(1),
                },
            ),
        }
    }
}

impl Default for BoundedArgon2 {
    fn default() -> Self {
        let admission = AdmissionConfig::default();
        Self::new(admission.password_slots, admission.password_queue)
    }
}

fn password_error(e: CpuError) -> PasswordError {
    match e {
        CpuError::Busy { retry_after } => PasswordError::Busy { retry_after },
        CpuError::Failed(detail) => PasswordError::Failed(detail),
    }
}

#[async_trait]
impl PasswordHasher for BoundedArgon2 {
    async fn hash(&self, password: String) -> Result<String, PasswordError> {
        self.pool.run(move || password::hash_password(&password)).await.map_err(password_error)?
    }

    async fn verify(&self, password: String, hash: String) -> Result<bool, PasswordError> {
        self.pool.run(move || password::verify_password(&password, &hash)).await.map_err(password_error)
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
            let store = SqlStore::connect_sqlite(&url, &settings)
                .await
                .with_context(|| format!("opening the SQLite database {}", redact_url(&url)))?;
            Ok(Arc::new(store))
        }
        Some(DatabaseKind::Postgres) => {
            let settings = PostgresSettings {
                max_connections: config.database_max_connections.unwrap_or(PostgresSettings::default().max_connections),
                ..PostgresSettings::default()
            };
            let store = SqlStore::connect_postgres(&url, &settings)
                .await
                .with_context(|| format!("connecting to PostgreSQL at {}", redact_url(&url)))?;
            Ok(Arc::new(store))
        }
        None => anyhow::bail!("unsupported database URL {}", redact_url(&url)),
    }
}

/// Services for CLI commands that work on the store directly.
pub fn provisioning(store: Arc<dyn Store>) -> Provisioning {
    Provisioning::new(store, Arc::new(SystemClock), Arc::new(BoundedArgon2::default()))
}

/// Opens the encrypted blob store: creates the master key on first start.
pub fn open_blobs(config: &Config) -> anyhow::Result<Arc<dyn BlobStore>> {
    let location: BlobLocation = config.blob_url().parse().context("blob_url")?;
    let key_file = config.master_key_file();
    if let Some(parent) = key_file.parent() {
        std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    let master = MasterKey::load_or_create(&key_file).with_context(|| format!("master key {}", key_file.display()))?;
    open_blob_store(&location, Keyring::new(master)).context("opening the blob store")
}

/// Loads the models, fetching them first when the cache is missing or incomplete (the first
/// start on a fresh machine).
pub fn load_engines(config: &Config, fetch_if_missing: bool) -> anyhow::Result<Arc<Engines>> {
    let dir = config.models_dir();
    let complete = veriframe_vision::models::verify(&dir).map(|r| r.all_ok()).unwrap_or(false);
    if !complete {
        anyhow::ensure!(
            fetch_if_missing,
            "the models in {} are missing or incomplete; run `veriframe models fetch`",
            dir.display()
        );
        eprintln!("Fetching the verification models into {} (first start only) ...", dir.display());
        crate::commands::models::fetch_with_progress(&dir).context("fetching the models")?;
    }
    // Passive PAD: the configured directory, else what `models fetch --pad` installed.
    let pad = match &config.pad_models_dir {
        Some(pad) => Some(pad.clone()),
        None => veriframe_vision::models::pad::installed(&dir).context("the passive PAD models")?,
    };
    let engines = Engines::load(&dir, pad.as_deref()).context("loading the models")?;
    Ok(Arc::new(engines))
}

/// What the composition needs besides configuration: chosen by `build` for the server, by
/// the test harness for tests.
pub struct Parts {
    pub store: Arc<dyn Store>,
    pub blobs: Arc<dyn BlobStore>,
    pub engines: Arc<Engines>,
    pub clock: Arc<dyn Clock>,
    pub pipeline: PipelineSettings,
}

/// A built application, ready to serve on a bound listener.
pub struct App {
    state: AppState,
    public_url: String,
    pipeline: Arc<Pipeline>,
    workers: usize,
    /// What the first start created, to be printed once.
    pub bootstrapped: Option<Bootstrapped>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App").field("public_url", &self.public_url).finish_non_exhaustive()
    }
}

impl App {
    /// Opens storage and blobs, loads (and on first start fetches) the models, creates the demo
    /// tenant on an empty store. `bound` is the address the listener actually got (port 0 in
    /// tests), for the default public URL.
    pub async fn build(config: &Config, bound: SocketAddr) -> anyhow::Result<Self> {
        let store = open_store(config).await?;
        let blobs = open_blobs(config)?;
        let config_for_models = config.clone();
        let engines = tokio::task::spawn_blocking(move || load_engines(&config_for_models, true)).await??;
        let pipeline = PipelineSettings {
            lease: Duration::seconds(i64::from(config.job_lease_seconds)),
            ..PipelineSettings::default()
        };
        let parts = Parts { store, blobs, engines, clock: Arc::new(SystemClock), pipeline };
        Self::with_parts(config, bound, parts).await
    }

    /// Same, with given parts.
    pub async fn with_parts(config: &Config, bound: SocketAddr, parts: Parts) -> anyhow::Result<Self> {
        let Parts { store, blobs, engines, clock, pipeline } = parts;
        let admission = &config.admission;
        let passwords: Arc<dyn PasswordHasher> =
            Arc::new(BoundedArgon2::new(admission.password_slots, admission.password_queue));
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
        let onboarding = Onboarding::new(store.clone(), clock.clone(), passwords, settings)
            .with_lockout(config.login_lockout.policy());
        let per_core = Admission::per_core();
        let cpu = CpuPool::new(Admission {
            queue: admission.cpu_queue.unwrap_or(per_core.queue),
            max_wait: std::time::Duration::from_secs(admission.cpu_max_wait_seconds),
            ..per_core
        });
        // Per-tenant limits are configured by clientId; the throttles key on tenant ids.
        let tenants: HashMap<String, TenantId> = store
            .list_tenants()
            .await
            .context("listing tenants")?
            .into_iter()
            .map(|t| (t.client_id.to_string(), t.id))
            .collect();
        let guards = Arc::new(Guards {
            throttle: Throttle::new(&config.limits, &tenants),
            proxies: config.trusted_proxies()?,
            uploads: MemoryBudget::new(admission.upload_buffer_mib * 1024 * 1024),
            image_reads: MemoryBudget::new(admission.image_reads_mib * 1024 * 1024),
        });
        let wakeup = Arc::new(Wakeup::default());
        let analyzer = Arc::new(Analyzer::new(engines.clone(), cpu.clone()));
        let capturing =
            Capturing::new(onboarding.clone(), blobs.clone(), analyzer, Arc::new(JpegCropper), wakeup.clone());
        let documents = Arc::new(JsonDocumentVault::new(blobs.clone()));
        let results = Results::new(onboarding.clone(), blobs.clone(), documents);
        let pipeline = Arc::new(Pipeline::new(store, blobs, engines, cpu.clone(), clock, pipeline, wakeup));
        let workers = config.workers.unwrap_or_else(|| cpu.size());
        Ok(Self {
            state: AppState { onboarding, capturing, results, guards },
            public_url,
            pipeline,
            workers,
            bootstrapped,
        })
    }

    pub fn public_url(&self) -> &str {
        &self.public_url
    }

    pub fn router(&self) -> axum::Router {
        veriframe_http::router(self.state.clone())
    }

    /// The verification pipeline (tests drive it with `run_once`).
    pub fn pipeline(&self) -> Arc<Pipeline> {
        self.pipeline.clone()
    }

    /// Serves until `shutdown` resolves, then finishes in-flight requests and lets each worker
    /// finish its current job (an unfinished one is taken over after its lease by the next start).
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let workers = self.pipeline.spawn_workers(self.workers, stopped);
        // The peer address feeds the per-client throttles.
        let service = self.router().into_make_service_with_connect_info::<SocketAddr>();
        let served = axum::serve(listener, service).with_graceful_shutdown(shutdown).await.context("serving HTTP");
        let _ = stop.send(true);
        let deadline = tokio::time::sleep(std::time::Duration::from_secs(8));
        tokio::pin!(deadline);
        for worker in workers {
            tokio::select! {
                _ = worker => {}
                () = &mut deadline => {
                    tracing::warn!("a verification job did not finish within 8 s of shutdown; it resumes after restart");
                    break;
                }
            }
        }
        served
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
