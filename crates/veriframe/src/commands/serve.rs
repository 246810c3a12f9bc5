//! `veriframe serve`: run the server.

use std::net::SocketAddr;

use anyhow::Context as _;
use clap::Args;
use tokio::net::TcpListener;

use crate::app::{App, shutdown_signal};
use crate::cli::Context;
use crate::config::redact_url;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8080; env VERIFRAME_LISTEN].
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// Base URL browsers use to reach this server [default: http://<listen>; env VERIFRAME_PUBLIC_URL].
    #[arg(long)]
    pub public_url: Option<String>,
    /// sqlite://path or postgres://... [default: SQLite in the data dir; env VERIFRAME_DATABASE_URL].
    #[arg(long)]
    pub database_url: Option<String>,
}

pub async fn run(ctx: &Context) -> anyhow::Result<()> {
    let shutdown = shutdown_signal();
    let config = &ctx.config;
    let listener = TcpListener::bind(config.listen).await.with_context(|| format!("binding {}", config.listen))?;
    let bound = listener.local_addr()?;
    let app = App::build(config, bound).await?;
    tracing::info!(address = %bound, database = %redact_url(&config.database_url()), "listening");
    print_banner(&app, ctx.json);
    app.serve(listener, shutdown).await
}

/// Tells the operator where the server is and, on the very first start only, the demo
/// credentials (the API key is never shown again: only its hash is stored).
fn print_banner(app: &App, json: bool) {
    if json {
        let mut value = serde_json::json!({ "baseUrl": app.public_url() });
        if let Some(b) = &app.bootstrapped {
            value["demoTenant"] = serde_json::json!({
                "clientId": b.tenant.client_id.as_str(),
                "apiKey": b.api_key.expose(),
                "configurationId": b.flow.id.to_string(),
            });
        }
        banner(&format!("{value}\n"));
        return;
    }
    let mut text = format!("veriframe is listening on {}\n", app.public_url());
    if let Some(b) = &app.bootstrapped {
        text.push_str(&format!(
            "\nFirst start: created a demo tenant. Save the API key now; it is not shown again.\n  \
             clientId:        {}\n  API key:         {}\n  configurationId: {}\n\nTry it:\n  \
             curl -s -X POST {}/omni/start -H 'Content-Type: application/json' -H 'api-version: 1.0' \\\n       \
             -H 'x-api-key: {}' -d '{{\"configurationId\":\"{}\",\"countryCode\":\"ALL\"}}'\n",
            b.tenant.client_id,
            b.api_key.expose(),
            b.flow.id,
            app.public_url(),
            b.api_key.expose(),
            b.flow.id
        ));
    }
    banner(&text);
}

/// The start-up banner goes to stdout; a server whose stdout nobody reads keeps serving.
fn banner(text: &str) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}
