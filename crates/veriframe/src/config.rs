//! Configuration, layered: built-in defaults, then a TOML file (`--config`), then `VERIFRAME_*`
//! environment variables, then command-line flags. `veriframe config example` prints every key.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use veriframe_core::lockout::LockoutPolicy;
use veriframe_http::throttle::{Limits, TrustedProxies};

/// Fully resolved configuration.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where the database, blobs, keys and models live by default.
    pub data_dir: PathBuf,
    /// Address the server listens on.
    pub listen: SocketAddr,
    /// Base URL people's browsers and integrators use to reach the server (onboarding links are
    /// built from it). Default: `http://<listen>`.
    pub public_url: Option<String>,
    /// `sqlite://path` or `postgres://user@host/db`. Default: a SQLite file in the data dir.
    pub database_url: Option<String>,
    /// Pool size; default 8 for SQLite, 16 for PostgreSQL.
    pub database_max_connections: Option<u32>,
    /// The `env` value `/omni/start` returns.
    pub env: String,
    /// Session token lifetime (Incode's default is 90 days).
    pub session_token_ttl_days: u32,
    /// `text` or `json`.
    pub log_format: LogFormat,
    /// Log filter in `tracing` syntax, e.g. `info` or `info,veriframe_http=debug`. `RUST_LOG`
    /// overrides it.
    pub log: String,
    /// Where fetched models are cached (default `<data_dir>/models`).
    pub models_dir: Option<PathBuf>,
    /// Optional directory holding the passive anti-spoofing (MiniFASNet) ONNX files.
    pub pad_models_dir: Option<PathBuf>,
    /// Where images and extracted personal data are stored, encrypted: a directory (default
    /// `<data_dir>/blobs`) or `s3://bucket/prefix?endpoint=...&region=...`.
    pub blob_url: Option<String>,
    /// The 32-byte master key that wraps every blob's data key (default
    /// `<data_dir>/master.key`, created with mode 0600 on first start). Keep it outside backups
    /// of the database and blobs.
    pub master_key_file: Option<PathBuf>,
    /// Verification workers in this process (default: one per core; 0 runs none, for a server
    /// that only takes captures while others verify).
    pub workers: Option<usize>,
    /// How long a verification job is leased to a worker; a killed server's jobs are taken over
    /// once their lease ends (a heartbeat extends it while a job runs).
    pub job_lease_seconds: u32,
    /// Reverse proxies (addresses or CIDRs) whose `X-Forwarded-For` names the client. Empty:
    /// the TCP peer is the client.
    pub trusted_proxies: Vec<String>,
    /// Token buckets (see SECURITY.md).
    pub limits: Limits,
    /// Bounds on expensive work: beyond them requests get a fast 503 with `Retry-After`.
    pub admission: AdmissionConfig,
    /// Executive log-in lockout after repeated failures.
    pub login_lockout: LockoutConfig,
}

/// Admission control (see `veriframe_pipeline::cpu`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdmissionConfig {
    /// Capture checks that may wait for a CPU slot (one slot per core); default 4 per core.
    pub cpu_queue: Option<usize>,
    /// Longest a capture check waits for a slot before it is refused.
    pub cpu_max_wait_seconds: u64,
    /// Password checks (argon2, ~19 MiB each) running at once, and how many may wait.
    pub password_slots: usize,
    pub password_queue: usize,
    /// Upload bodies held in memory at once, in MiB.
    pub upload_buffer_mib: usize,
    /// `/get/images` answers assembled at once, in MiB (each reserves 24).
    pub image_reads_mib: usize,
}

impl Default for AdmissionConfig {
    fn default() -> Self {
        Self {
            cpu_queue: None,
            cpu_max_wait_seconds: 10,
            password_slots: 2,
            password_queue: 8,
            upload_buffer_mib: 64,
            image_reads_mib: 96,
        }
    }
}

/// Lockout policy for executive log-in (see `veriframe_core::lockout`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LockoutConfig {
    pub free_failures: u32,
    pub first_lock_seconds: u32,
    pub max_lock_seconds: u32,
}

impl Default for LockoutConfig {
    fn default() -> Self {
        let policy = LockoutPolicy::default();
        Self {
            free_failures: policy.free_failures,
            first_lock_seconds: u32::try_from(policy.first_lock.whole_seconds()).unwrap_or(30),
            max_lock_seconds: u32::try_from(policy.max_lock.whole_seconds()).unwrap_or(900),
        }
    }
}

impl LockoutConfig {
    pub fn policy(&self) -> LockoutPolicy {
        LockoutPolicy {
            free_failures: self.free_failures,
            first_lock: time::Duration::seconds(i64::from(self.first_lock_seconds.max(1))),
            max_lock: time::Duration::seconds(i64::from(self.max_lock_seconds.max(self.first_lock_seconds).max(1))),
            ..LockoutPolicy::default()
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./veriframe-data"),
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: None,
            database_url: None,
            database_max_connections: None,
            env: "veriframe".into(),
            session_token_ttl_days: 90,
            log_format: LogFormat::Text,
            log: "info".into(),
            models_dir: None,
            pad_models_dir: None,
            blob_url: None,
            master_key_file: None,
            workers: None,
            job_lease_seconds: 60,
            trusted_proxies: Vec::new(),
            limits: Limits::default(),
            admission: AdmissionConfig::default(),
            login_lockout: LockoutConfig::default(),
        }
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("data_dir", &self.data_dir)
            .field("listen", &self.listen)
            .field("public_url", &self.public_url)
            .field("database_url", &self.database_url.as_deref().map(redact_url))
            .field("database_max_connections", &self.database_max_connections)
            .field("env", &self.env)
            .field("session_token_ttl_days", &self.session_token_ttl_days)
            .field("log_format", &self.log_format)
            .field("log", &self.log)
            .field("models_dir", &self.models_dir)
            .field("pad_models_dir", &self.pad_models_dir)
            .field("blob_url", &self.blob_url)
            .field("master_key_file", &self.master_key_file)
            .field("workers", &self.workers)
            .field("job_lease_seconds", &self.job_lease_seconds)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("limits", &self.limits)
            .field("admission", &self.admission)
            .field("login_lockout", &self.login_lockout)
            .finish()
    }
}

/// A database URL with its password replaced, for logs and `Debug`.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        Ok(_) => url.to_owned(),
        Err(_) => "(unparseable URL)".to_owned(),
    }
}

impl Config {
    /// Loads the layers; `file` is the TOML file named on the command line, if any.
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> anyhow::Result<Self> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(file) = file {
            anyhow::ensure!(file.exists(), "config file {} does not exist", file.display());
            figment = figment.merge(Toml::file(file));
        }
        // Only configuration keys are read from the environment: other VERIFRAME_* variables
        // (the integrator example's, the test harness's) are none of the server's business.
        figment = figment.merge(Env::prefixed("VERIFRAME_").only(&KEYS));
        figment = figment.merge(Serialized::defaults(overrides));
        let config: Config = figment.extract().map_err(|e| anyhow::anyhow!("configuration: {e}"))?;
        config.check()?;
        Ok(config)
    }

    fn check(&self) -> anyhow::Result<()> {
        if let Some(url) = &self.public_url {
            let parsed = url::Url::parse(url).map_err(|e| anyhow::anyhow!("public_url: {e}"))?;
            anyhow::ensure!(matches!(parsed.scheme(), "http" | "https"), "public_url must be an http(s) URL");
        }
        if let Some(url) = &self.database_url {
            anyhow::ensure!(
                DatabaseKind::of(url).is_some(),
                "database_url must start with sqlite:, postgres: or postgresql: (got {})",
                redact_url(url)
            );
        }
        anyhow::ensure!(self.session_token_ttl_days >= 1, "session_token_ttl_days must be at least 1");
        self.trusted_proxies()?;
        anyhow::ensure!(self.job_lease_seconds >= 3, "job_lease_seconds must be at least 3");
        anyhow::ensure!(self.admission.password_slots >= 1, "admission.password_slots must be at least 1");
        anyhow::ensure!(
            self.admission.upload_buffer_mib >= 24,
            "admission.upload_buffer_mib must hold one 24 MiB upload"
        );
        anyhow::ensure!(
            self.admission.image_reads_mib >= 24,
            "admission.image_reads_mib must hold one answer (24 MiB)"
        );
        Ok(())
    }

    /// The trusted proxies, parsed.
    pub fn trusted_proxies(&self) -> anyhow::Result<TrustedProxies> {
        TrustedProxies::parse(&self.trusted_proxies).map_err(|e| anyhow::anyhow!("trusted_proxies: {e}"))
    }

    /// Directory of the fetched model files.
    pub fn models_dir(&self) -> PathBuf {
        self.models_dir.clone().unwrap_or_else(|| self.data_dir.join("models"))
    }

    /// Where blobs go, defaulting to a directory in the data directory.
    pub fn blob_url(&self) -> String {
        self.blob_url.clone().unwrap_or_else(|| self.data_dir.join("blobs").display().to_string())
    }

    /// The master key file.
    pub fn master_key_file(&self) -> PathBuf {
        self.master_key_file.clone().unwrap_or_else(|| self.data_dir.join("master.key"))
    }

    /// The database URL, defaulting to a SQLite file in the data directory.
    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("veriframe.db").display()))
    }

    /// The public URL without a trailing slash, given the address actually bound.
    pub fn public_url(&self, bound: SocketAddr) -> String {
        self.public_url.clone().unwrap_or_else(|| format!("http://{bound}")).trim_end_matches('/').to_owned()
    }
}

/// Every configuration key, as read from `VERIFRAME_<KEY>`.
pub const KEYS: [&str; 19] = [
    "data_dir",
    "listen",
    "public_url",
    "database_url",
    "database_max_connections",
    "env",
    "session_token_ttl_days",
    "log_format",
    "log",
    "models_dir",
    "pad_models_dir",
    "blob_url",
    "master_key_file",
    "workers",
    "job_lease_seconds",
    "trusted_proxies",
    "limits",
    "admission",
    "login_lockout",
];

/// Which store a database URL selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatabaseKind {
    Sqlite,
    Postgres,
}

impl DatabaseKind {
    pub fn of(url: &str) -> Option<Self> {
        if url.starts_with("sqlite:") {
            Some(Self::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Some(Self::Postgres)
        } else {
            None
        }
    }
}

/// Values given as command-line flags; `None` leaves the lower layers alone.
#[derive(Debug, Default, Serialize)]
pub struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
}

/// The commented example printed by `veriframe config example`. A test parses it, so it cannot
/// drift from [`Config`].
pub const EXAMPLE: &str = r#"# veriframe configuration. Every key is optional; shown values are the defaults.
# Precedence: defaults < this file (--config / VERIFRAME_CONFIG) < VERIFRAME_<KEY> environment
# variables (e.g. VERIFRAME_LISTEN, VERIFRAME_DATABASE_URL) < command-line flags.

# Database, blobs, master key and models live here unless configured elsewhere.
data_dir = "./veriframe-data"

# Address to listen on. Use 0.0.0.0:8080 behind a reverse proxy or in a container.
listen = "127.0.0.1:8080"

# Base URL that browsers and integrators use; onboarding links are built from it.
# Set it to your HTTPS address in production (cameras need HTTPS except on localhost).
# public_url = "https://verify.example.com"

# sqlite://<path> (default: <data_dir>/veriframe.db) or postgres://user:password@host:5432/db
# database_url = "postgres://postgres@127.0.0.1:5432/veriframe"
# database_max_connections = 16

# The "env" value returned by /omni/start.
env = "veriframe"

# Lifetime of session tokens returned by /omni/start.
session_token_ttl_days = 90

# "text" for people, "json" for log shippers. RUST_LOG overrides the filter.
log_format = "text"
log = "info"

# Where `veriframe models fetch` caches models (default: <data_dir>/models).
# models_dir = "/var/lib/veriframe/models"

# Directory with the optional passive anti-spoofing models
# (2.7_80x80_MiniFASNetV2.onnx and 4_0_0_80x80_MiniFASNetV1SE.onnx).
# pad_models_dir = "/var/lib/veriframe/pad"

# Images and data read from documents are stored here, encrypted (AES-256-GCM, a fresh data
# key per object). A directory (default: <data_dir>/blobs) or an S3-compatible bucket:
# blob_url = "s3://veriframe-blobs/prod?endpoint=https://s3.eu-west-1.amazonaws.com&region=eu-west-1"
# (S3 credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, never from this file.)

# The master key that wraps every blob's data key; created (mode 0600) on first start.
# Losing it makes every stored image unreadable; keep it out of database and blob backups.
# master_key_file = "/etc/veriframe/master.key"

# Verification workers in this process (default: one per core; 0 for none).
# workers = 2

# A killed server's verification jobs are taken over by others once their lease ends.
job_lease_seconds = 60

# Reverse proxies whose X-Forwarded-For header names the client (addresses or CIDRs). Only
# list proxies you run: anyone else could claim any address. Empty: the TCP peer is the client.
trusted_proxies = []

# Token buckets: a sustained rate per minute and a burst on top. Beyond them: 429 with
# Retry-After. per_minute = 0 disables a bucket. See SECURITY.md.
[limits]
api_key = { per_minute = 6000, burst = 600 }          # per API key
session_token = { per_minute = 6000, burst = 600 }    # per tenant, token-only calls (not status polling)
flow_ip = { per_minute = 1200, burst = 300 }          # per client IP: the hosted page and its API
static_flow_ip = { per_minute = 30, burst = 30 }      # per client IP: sessions from a static flow URL
uploads_per_session = { per_minute = 20, burst = 20 } # captures and head-turn answers per session
login_ip = { per_minute = 30, burst = 10 }            # per client IP: executive log-ins
failed_auth_ip = { per_minute = 30, burst = 60 }      # per client IP: unknown keys, tokens, links
failed_auth_penalty_seconds = 300                     # then everything from that IP is refused this long
# Per-tenant limits by clientId, read at start-up:
# tenants.acme = { api_key = { per_minute = 60000, burst = 2000 } }

# Bounds on expensive work. Beyond them: an immediate 503 with Retry-After.
[admission]
# cpu_queue = 8                 # capture checks waiting for a CPU slot (default: 4 per core)
cpu_max_wait_seconds = 10       # longest wait for a slot
password_slots = 2              # argon2 checks at once (~19 MiB each)
password_queue = 8              # and waiting
upload_buffer_mib = 64          # upload bodies held in memory at once
image_reads_mib = 96            # /get/images answers assembled at once (24 MiB each)

# Executive log-in: free failures per account, then a lock that doubles with each failure.
[login_lockout]
free_failures = 5
first_lock_seconds = 30
max_lock_seconds = 900
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_parses_to_the_defaults() {
        let parsed: Config = Figment::from(Toml::string(EXAMPLE)).extract().unwrap();
        let defaults = Config::default();
        assert_eq!(parsed.data_dir, defaults.data_dir);
        assert_eq!(parsed.listen, defaults.listen);
        assert_eq!(parsed.env, defaults.env);
        assert_eq!(parsed.session_token_ttl_days, defaults.session_token_ttl_days);
        assert_eq!(parsed.log_format, defaults.log_format);
        assert_eq!(parsed.limits, defaults.limits);
        assert_eq!(parsed.admission, defaults.admission);
        assert_eq!(parsed.login_lockout, defaults.login_lockout);
    }

    #[test]
    fn passwords_never_show_in_debug() {
        let config = Config { database_url: Some("postgres://app:hunter2@db:5432/x".into()), ..Config::default() };
        let shown = format!("{config:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("***"), "{shown}");
    }

    #[test]
    fn keys_list_every_field() {
        let value = serde_json::to_value(Config::default()).unwrap();
        let mut fields: Vec<_> = value.as_object().unwrap().keys().cloned().collect();
        let mut keys: Vec<_> = KEYS.iter().map(|k| (*k).to_owned()).collect();
        fields.sort();
        keys.sort();
        assert_eq!(fields, keys);
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment::Jail's signature, not ours
    fn layers_apply_in_order() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("veriframe.toml", "listen = \"127.0.0.1:9000\"\nenv = \"from-file\"\nlog = \"debug\"")?;
            jail.set_env("VERIFRAME_ENV", "from-env");
            jail.set_env("VERIFRAME_LOG", "warn");
            jail.set_env("VERIFRAME_UNRELATED_SETTING", "ignored");
            let overrides = Overrides { listen: Some("127.0.0.1:9100".parse().unwrap()), ..Overrides::default() };
            let config = Config::load(Some(Path::new("veriframe.toml")), &overrides).unwrap();
            assert_eq!(config.listen.port(), 9100, "flags beat the file");
            assert_eq!(config.env, "from-env", "env beats the file");
            assert_eq!(config.log, "warn");
            assert_eq!(config.data_dir, PathBuf::from("./veriframe-data"), "defaults fill the rest");
            Ok(())
        });
    }

    #[test]
    fn database_kinds() {
        assert_eq!(DatabaseKind::of("sqlite://x.db"), Some(DatabaseKind::Sqlite));
        assert_eq!(DatabaseKind::of("postgres://h/db"), Some(DatabaseKind::Postgres));
        assert_eq!(DatabaseKind::of("postgresql://h/db"), Some(DatabaseKind::Postgres));
        assert_eq!(DatabaseKind::of("mysql://h/db"), None);
    }
}
