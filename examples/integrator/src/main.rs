//! `veriframe-integrator`: serves the reference integrator on one address.
#![forbid(unsafe_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use veriframe_integrator::{AppState, Db, Settings, router};

/// The integrator's half of the embedded-iframe guide: a backend that creates onboarding
/// sessions, a page that shows the hosted flow in an iframe, and the decision at the end.
/// Works against veriframe or Incode (Omni API); only the URL, key and flow id change.
#[derive(Debug, Parser)]
#[command(name = "veriframe-integrator", version)]
struct Cli {
    /// Root of the partner API: veriframe's address, or e.g. https://demo-api.incodesmile.com.
    #[arg(long, env = "INTEGRATOR_API_URL", default_value = "http://127.0.0.1:8080")]
    api_url: String,
    /// The tenant's API key (x-api-key). Prefer the environment variable: flags show in `ps`.
    #[arg(long, env = "INTEGRATOR_API_KEY", hide_env_values = true)]
    api_key: String,
    /// The flow every session starts on (configurationId).
    #[arg(long, env = "INTEGRATOR_FLOW_ID")]
    flow_id: String,
    /// Address the integrator listens on.
    #[arg(long, env = "INTEGRATOR_LISTEN", default_value = "127.0.0.1:3000")]
    listen: SocketAddr,
    /// SQLite file holding each user's sessions (created on first start).
    #[arg(long, env = "INTEGRATOR_DATABASE", default_value = "integrator.db")]
    database: PathBuf,
    /// countryCode sent to /omni/start.
    #[arg(long, env = "INTEGRATOR_COUNTRY_CODE", default_value = "ALL")]
    country_code: String,
    /// language sent to /omni/start (the hosted flow's language).
    #[arg(long, env = "INTEGRATOR_LANGUAGE", default_value = "en-US")]
    language: String,
    /// Longest a call to the API may take, in seconds, before the page gets a 504.
    #[arg(long, env = "INTEGRATOR_REQUEST_TIMEOUT", default_value_t = 10.0)]
    request_timeout: f64,
    /// Longest connecting to the API may take, in seconds.
    #[arg(long, env = "INTEGRATOR_CONNECT_TIMEOUT", default_value_t = 3.0)]
    connect_timeout: f64,
}

fn seconds(name: &str, value: f64) -> anyhow::Result<Duration> {
    Duration::try_from_secs_f64(value)
        .ok()
        .filter(|d| !d.is_zero())
        .with_context(|| format!("--{name} must be a positive number of seconds"))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    let cli = Cli::parse();
    let settings = Settings {
        country_code: cli.country_code,
        language: cli.language,
        request_timeout: seconds("request-timeout", cli.request_timeout)?,
        connect_timeout: seconds("connect-timeout", cli.connect_timeout)?,
        ..Settings::new(cli.api_url, cli.api_key, cli.flow_id)
    };
    let db = Db::open(&cli.database).await.with_context(|| format!("opening {}", cli.database.display()))?;
    let state = AppState::new(settings, db).context("configuring the API client")?;
    let listener =
        tokio::net::TcpListener::bind(cli.listen).await.with_context(|| format!("binding {}", cli.listen))?;
    let address = listener.local_addr()?;
    tracing::info!(%address, api = %state.settings().api_url, "integrator listening");
    println!("integrator is listening on http://{address}");
    axum::serve(listener, router(state)).with_graceful_shutdown(shutdown()).await?;
    Ok(())
}

/// Ctrl-C or SIGTERM (what `demo.sh` and service managers send) finishes in-flight requests.
async fn shutdown() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}
