//! Test harness: boots the real veriframe application in-process on `127.0.0.1:0`, over a
//! fresh SQLite file or a fresh PostgreSQL database, and talks to it over real HTTP.
//!
//! PostgreSQL comes from `VERIFRAME_TEST_PG_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`); each test gets its own database, dropped
//! afterwards. When PostgreSQL is unreachable its tests are skipped with a message, except
//! under `CI=true`, where that is a failure.
#![forbid(unsafe_code)]

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use rand::Rng;
use sqlx::Connection;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use veriframe::app::{App, Parts, open_blobs, open_store, provisioning};
use veriframe::config::Config;
use veriframe_client::Client;
use veriframe_core::clock::ShiftedClock;
use veriframe_core::ports::Store;
use veriframe_core::provisioning::Provisioning;
use veriframe_pipeline::{Engines, Pipeline, PipelineSettings};

pub mod browser;
pub mod flow;
pub mod synth;

pub use veriframe_client as client;

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The administrative PostgreSQL URL tests create their databases from.
pub fn pg_admin_url() -> String {
    std::env::var("VERIFRAME_TEST_PG_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

impl Backend {
    /// Whether tests on this backend can run here. Panics under CI when PostgreSQL is missing.
    pub fn available(self) -> bool {
        match self {
            Backend::Sqlite => true,
            Backend::Postgres => {
                static AVAILABLE: OnceLock<Result<(), String>> = OnceLock::new();
                let probe = AVAILABLE.get_or_init(|| {
                    std::thread::spawn(|| {
                        let runtime = tokio::runtime::Builder::new_current_thread()
                            .enable_all()
                            .build()
                            .map_err(|e| e.to_string())?;
                        runtime.block_on(async {
                            let connect = sqlx::PgConnection::connect(&pg_admin_url());
                            match tokio::time::timeout(std::time::Duration::from_secs(5), connect).await {
                                Ok(Ok(conn)) => {
                                    let _ = conn.close().await;
                                    Ok(())
                                }
                                Ok(Err(e)) => Err(e.to_string()),
                                Err(_) => Err("timed out".into()),
                            }
                        })
                    })
                    .join()
                    .unwrap_or_else(|_| Err("probe panicked".into()))
                });
                match probe {
                    Ok(()) => true,
                    Err(e) if in_ci() => {
                        panic!("PostgreSQL is required under CI=true but unreachable at {}: {e}", pg_admin_url())
                    }
                    Err(e) => {
                        eprintln!("skipping PostgreSQL test: {e}");
                        false
                    }
                }
            }
        }
    }
}

// Where models and test data are, and whether missing ones fail the run (under `CI=true`
// every end-to-end test runs with passive PAD; none skips it silently).
pub use veriframe_synth::testenv::{in_ci, models_dir, pad_models_dir, testdata_dir};

/// The engines, loaded once per test process. `None` (with a message) when the models are not
/// fetched; under `CI=true` that is a failure.
pub fn engines() -> Option<Arc<Engines>> {
    static ENGINES: OnceLock<Result<Arc<Engines>, String>> = OnceLock::new();
    let loaded = ENGINES.get_or_init(|| {
        Engines::load(&models_dir(), pad_models_dir().as_deref()).map(Arc::new).map_err(|e| e.to_string())
    });
    match loaded {
        Ok(engines) => Some(engines.clone()),
        Err(e) if in_ci() => panic!("models are required under CI=true ({}): {e}", models_dir().display()),
        Err(e) => {
            eprintln!("skipping: models not available ({e}); run `veriframe models fetch`");
            None
        }
    }
}

/// Runs an async test body on each backend: `#[tokio::test]` functions named `sqlite` and
/// `postgres` inside a module named after the scenario.
#[macro_export]
macro_rules! on_both_backends {
    ($($scenario:ident),* $(,)?) => {
        $(
            mod $scenario {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    if $crate::engines().is_some() {
                        super::$scenario($crate::Backend::Sqlite).await;
                    }
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    if $crate::engines().is_some() && $crate::Backend::Postgres.available() {
                        super::$scenario($crate::Backend::Postgres).await;
                    }
                }
            }
        )*
    };
}

/// A PostgreSQL database that exists for one test.
#[derive(Debug)]
pub struct TestDatabase {
    pub name: String,
    pub url: String,
}

impl TestDatabase {
    pub async fn create() -> Self {
        let name = format!("vf_test_{}", hex::encode(rand::rng().random::<[u8; 8]>()));
        let admin = pg_admin_url();
        let mut conn = sqlx::PgConnection::connect(&admin).await.expect("connect to PostgreSQL");
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .expect("create test database");
        let _ = conn.close().await;
        let mut url = reqwest::Url::parse(&admin).expect("PostgreSQL URL");
        url.set_path(&format!("/{name}"));
        Self { name, url: url.to_string() }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop runs outside any runtime guarantee, so use a short-lived one on a thread.
        let _ = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
            runtime.block_on(async {
                if let Ok(mut conn) = sqlx::PgConnection::connect(&pg_admin_url()).await {
                    let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")))
                        .execute(&mut conn)
                        .await;
                    let _ = conn.close().await;
                }
            });
        })
        .join();
    }
}

/// The real application on an ephemeral port.
pub struct TestApp {
    pub backend: Backend,
    pub base_url: String,
    pub addr: SocketAddr,
    /// Client with the demo tenant's API key.
    pub client: Client,
    pub api_key: String,
    pub client_id: String,
    pub flow_id: String,
    pub store: Arc<dyn Store>,
    pub clock: Arc<ShiftedClock>,
    pub config: Config,
    /// Drive verification with `pipeline.run_until_idle(..)`; no workers run unless the app was
    /// spawned with [`TestApp::spawn_with_workers`].
    pub pipeline: Arc<Pipeline>,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
    dir: tempfile::TempDir,
    _database: Option<TestDatabase>,
}

impl std::fmt::Debug for TestApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestApp")
            .field("backend", &self.backend)
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl TestApp {
    /// Boots the application with its first-start demo tenant; verification runs only when the
    /// test drives the pipeline.
    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_inner(backend, 0, |_| {}).await
    }

    /// Boots the application with `workers` verification workers running, as `serve` does.
    pub async fn spawn_with_workers(backend: Backend, workers: usize) -> Self {
        Self::spawn_inner(backend, workers, |_| {}).await
    }

    /// Boots the application with its configuration adjusted first (limits, admission).
    pub async fn spawn_configured(backend: Backend, workers: usize, configure: impl FnOnce(&mut Config)) -> Self {
        Self::spawn_inner(backend, workers, configure).await
    }

    async fn spawn_inner(backend: Backend, workers: usize, configure: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let database = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(TestDatabase::create().await),
        };
        let mut config = Config {
            data_dir: dir.path().to_owned(),
            database_url: database.as_ref().map(|d| d.url.clone()),
            workers: Some(workers),
            ..Config::default()
        };
        configure(&mut config);
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await.expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let store = open_store(&config).await.expect("open store");
        let clock = Arc::new(ShiftedClock::default());
        let parts = Parts {
            store: store.clone(),
            blobs: open_blobs(&config).expect("blob store"),
            engines: engines().expect("models (check engines() before spawning)"),
            clock: clock.clone(),
            // Short leases and retries, so tests of crashes and retries finish quickly.
            pipeline: PipelineSettings {
                lease: time::Duration::seconds(3),
                backoff: time::Duration::milliseconds(100),
                idle_poll: std::time::Duration::from_millis(100),
                ..PipelineSettings::default()
            },
        };
        let app = App::with_parts(&config, addr, parts).await.expect("build app");
        let pipeline = app.pipeline();
        let demo = app.bootstrapped.clone().expect("a fresh store creates the demo tenant");
        let base_url = app.public_url().to_owned();
        let (tx, rx) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            app.serve(listener, async move {
                let _ = rx.await;
            })
            .await
            .expect("server failed");
        });
        let api_key = demo.api_key.expose().to_owned();
        let client = Client::new(&base_url).expect("client").with_api_key(&api_key);
        Self {
            backend,
            base_url,
            addr,
            client,
            api_key,
            client_id: demo.tenant.client_id.to_string(),
            flow_id: demo.flow.id.to_string(),
            store,
            clock,
            config,
            pipeline,
            shutdown: Some(tx),
            server: Some(server),
            dir,
            _database: database,
        }
    }

    /// Provisioning on the same store (other tenants, keys, flows, admins).
    pub fn provisioning(&self) -> Provisioning {
        provisioning(self.store.clone())
    }

    /// A client with no API key.
    pub fn anonymous(&self) -> Client {
        Client::new(&self.base_url).expect("client")
    }

    /// A raw HTTP client for requests the typed client would never send.
    pub fn http(&self) -> reqwest::Client {
        reqwest::Client::new()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}/{}", self.base_url, path.trim_start_matches('/'))
    }

    /// Opens an onboarding link as the hosted page does (`POST /flow/api/open`); `url_or_link`
    /// is the onboarding URL or its secret. Returns the answer (`flowToken`, `state`); panics
    /// unless it is 200, so callers that expect a refusal send the request themselves.
    pub async fn open_link(&self, url_or_link: &str) -> serde_json::Value {
        flow::Page::open(&self.base_url, url_or_link).await.1
    }

    /// `POST /omni/start` with the demo tenant's key, the demo flow and `body`'s fields on top;
    /// the integrator's raw answer (`token`, `interviewId`, …).
    pub async fn start_raw(&self, body: serde_json::Value) -> serde_json::Value {
        let mut start = serde_json::json!({"configurationId": self.flow_id, "countryCode": "ALL"});
        start.as_object_mut().expect("an object").extend(body.as_object().cloned().unwrap_or_default());
        let r = self.http().post(self.url("omni/start")).header("x-api-key", &self.api_key).json(&start);
        let r = r.send().await.expect("POST /omni/start");
        let status = r.status();
        let started: serde_json::Value = r.json().await.expect("a JSON answer");
        assert_eq!(status, 200, "starting a session: {started}");
        started
    }

    /// A session started the integrator's way (`start_raw`) and opened the hosted page's way:
    /// the page, and the session token the integrator holds.
    pub async fn start_page(&self, body: serde_json::Value) -> (flow::Page, String) {
        let started = self.start_raw(body).await;
        let session_token = started["token"].as_str().expect("a session token").to_owned();
        let url = self.client.session(&session_token).onboarding_url().await.expect("onboarding URL").url;
        let (page, opened) = flow::Page::open(&self.base_url, &url).await;
        assert_eq!(opened["state"]["interviewId"], started["interviewId"], "{opened}");
        (page, session_token)
    }

    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    /// The application's blob store (same directory and master key), to plant or inspect blobs.
    pub fn blobs(&self) -> Arc<dyn veriframe_core::blob::BlobStore> {
        open_blobs(&self.config).expect("blob store")
    }

    /// Lets `origin` frame the flow `flow_id` of the demo tenant (browser tests embed the page
    /// from a parent on a random port).
    pub async fn allow_origin(&self, flow_id: &str, origin: &str) {
        let p = self.provisioning();
        let tenant = p.tenant(&veriframe_core::ids::ClientId::parse(&self.client_id).unwrap()).await.unwrap();
        let flow_id = veriframe_core::ids::FlowId::parse(flow_id).unwrap();
        let mut origins = p.flow(&tenant, flow_id).await.unwrap().config.allowed_origins;
        origins.push(veriframe_core::text::Origin::parse(origin).unwrap());
        p.set_allowed_origins(&tenant, flow_id, origins).await.unwrap();
    }

    /// Runs SQL against the application's database directly, bypassing the store: tests inject
    /// faults (triggers that fail a statement) and break invariants the ports would not.
    pub async fn sql(&self, statements: &str) {
        match self.backend {
            Backend::Sqlite => {
                let path = self.dir.path().join("veriframe.db");
                let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
                    .await
                    .expect("open the test database");
                sqlx::raw_sql(sqlx::AssertSqlSafe(statements.to_owned())).execute(&mut conn).await.expect("SQL");
                let _ = conn.close().await;
            }
            Backend::Postgres => {
                let url = self.config.database_url.clone().expect("PostgreSQL URL");
                let mut conn = sqlx::PgConnection::connect(&url).await.expect("connect to the test database");
                sqlx::raw_sql(sqlx::AssertSqlSafe(statements.to_owned())).execute(&mut conn).await.expect("SQL");
                let _ = conn.close().await;
            }
        }
    }

    /// Starts a session on the demo flow; returns (token, interviewId).
    pub async fn start_session(&self) -> (String, String) {
        let started = self
            .client
            .start(&veriframe_api_types::StartRequest {
                configuration_id: Some(self.flow_id.clone()),
                ..Default::default()
            })
            .await
            .expect("start session");
        (started.token, started.interview_id)
    }

    /// Stops the server and waits for it to finish in-flight requests.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
