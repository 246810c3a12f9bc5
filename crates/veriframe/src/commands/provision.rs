//! `tenants`, `keys`, `flows`, `admins`: provisioning that works on the database directly, like
//! a migration tool (the server need not be running).

use std::io::Read as _;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use serde_json::json;
use veriframe_core::flow::{Flow, FlowConfig};
use veriframe_core::ids::{ApiKeyId, ClientId, FlowId};
use veriframe_core::provisioning::Provisioning;
use veriframe_core::tenant::{Admin, ApiKey, Tenant};
use veriframe_core::text::Origin;

use crate::app::{open_store, provisioning};
use crate::cli::Context;
use crate::output::emit;

/// Which tenant a command acts on.
#[derive(Debug, Args)]
pub struct TenantArg {
    /// The tenant's clientId.
    #[arg(long, default_value = "demo")]
    pub client_id: String,
}

impl TenantArg {
    async fn resolve(&self, provisioning: &Provisioning) -> anyhow::Result<Tenant> {
        let client_id = ClientId::parse(&self.client_id)?;
        Ok(provisioning.tenant(&client_id).await?)
    }
}

#[derive(Debug, Subcommand)]
pub enum TenantsCommand {
    /// Create a tenant (an integrating company). Then create an API key and a flow for it.
    Create {
        /// Public identifier: 2-63 lowercase letters, digits, '-' or '_'.
        #[arg(long)]
        client_id: String,
        /// Display name.
        #[arg(long)]
        name: String,
    },
    /// List tenants.
    List,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create an API key. It is printed once; only its hash is stored.
    Create {
        #[command(flatten)]
        tenant: TenantArg,
        /// What the key is for, e.g. "production backend".
        #[arg(long, default_value = "")]
        label: String,
    },
    /// List a tenant's API keys (prefixes only).
    List {
        #[command(flatten)]
        tenant: TenantArg,
    },
    /// Revoke an API key: requests with it get 403 from now on.
    Revoke {
        #[command(flatten)]
        tenant: TenantArg,
        /// The key's id (from `keys list`), not the key itself.
        key_id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum FlowsCommand {
    /// Create a flow from a JSON configuration (every key optional; see `flows show`).
    Create {
        #[command(flatten)]
        tenant: TenantArg,
        #[arg(long)]
        name: String,
        /// JSON file with the flow configuration; `-` reads standard input; omitted uses
        /// the defaults.
        #[arg(long)]
        file: Option<PathBuf>,
    },
    /// List a tenant's flows.
    List {
        #[command(flatten)]
        tenant: TenantArg,
    },
    /// Show one flow's full configuration (modules, thresholds, redirect URL, allowed origins,
    /// timeouts, retries).
    Show {
        #[command(flatten)]
        tenant: TenantArg,
        /// The flow id (`configurationId`).
        flow_id: String,
    },
    /// Set the origins allowed to embed a flow in an iframe (and to receive its events),
    /// replacing the current list. With no `--origin` the flow is framable by no other site.
    SetOrigins {
        #[command(flatten)]
        tenant: TenantArg,
        /// The flow id (`configurationId`).
        flow_id: String,
        /// An origin such as `https://shop.example.com` (repeatable).
        #[arg(long = "origin")]
        origins: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum AdminsCommand {
    /// Create a tenant administrator, who can log in at /executive/log-in. The password is read
    /// from standard input (one line) or from VERIFRAME_ADMIN_PASSWORD.
    Create {
        #[command(flatten)]
        tenant: TenantArg,
        #[arg(long)]
        email: String,
    },
    /// List a tenant's administrators.
    List {
        #[command(flatten)]
        tenant: TenantArg,
    },
}

fn tenant_json(t: &Tenant) -> serde_json::Value {
    json!({ "clientId": t.client_id.as_str(), "name": t.name, "createdAt": rfc3339(t.created_at) })
}

fn key_json(k: &ApiKey) -> serde_json::Value {
    json!({
        "id": k.id.to_string(),
        "label": k.label,
        "prefix": k.display_prefix,
        "createdAt": rfc3339(k.created_at),
        "revokedAt": k.revoked_at.map(rfc3339),
    })
}

fn flow_json(f: &Flow) -> serde_json::Value {
    json!({ "configurationId": f.id.to_string(), "name": f.name, "createdAt": rfc3339(f.created_at), "config": f.config })
}

fn admin_json(a: &Admin) -> serde_json::Value {
    json!({ "id": a.id.to_string(), "email": a.email.as_str(), "createdAt": rfc3339(a.created_at) })
}

fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

async fn services(ctx: &Context) -> anyhow::Result<Provisioning> {
    Ok(provisioning(open_store(&ctx.config).await?))
}

pub async fn tenants(ctx: &Context, command: TenantsCommand) -> anyhow::Result<()> {
    let p = services(ctx).await?;
    match command {
        TenantsCommand::Create { client_id, name } => {
            let tenant = p.create_tenant(ClientId::parse(&client_id)?, &name).await?;
            emit(ctx.json, &tenant_json(&tenant), |_| {
                format!(
                    "created tenant {}\nnext: veriframe keys create --client-id {0} && veriframe flows create --client-id {0} --name Default",
                    tenant.client_id
                )
            })
        }
        TenantsCommand::List => {
            let tenants = p.list_tenants().await?;
            let value: Vec<_> = tenants.iter().map(tenant_json).collect();
            emit(ctx.json, &value, |_| {
                tenants.iter().map(|t| format!("{:<24} {}", t.client_id, t.name)).collect::<Vec<_>>().join("\n")
            })
        }
    }
}

pub async fn keys(ctx: &Context, command: KeysCommand) -> anyhow::Result<()> {
    let p = services(ctx).await?;
    match command {
        KeysCommand::Create { tenant, label } => {
            let tenant = tenant.resolve(&p).await?;
            let (key, secret) = p.create_api_key(&tenant, &label).await?;
            let mut value = key_json(&key);
            value["apiKey"] = json!(secret.expose());
            emit(ctx.json, &value, |_| {
                format!(
                    "API key for {} (shown once; store it now):\n{}\nid: {}",
                    tenant.client_id,
                    secret.expose(),
                    key.id
                )
            })
        }
        KeysCommand::List { tenant } => {
            let tenant = tenant.resolve(&p).await?;
            let keys = p.list_api_keys(&tenant).await?;
            let value: Vec<_> = keys.iter().map(key_json).collect();
            emit(ctx.json, &value, |_| {
                keys.iter()
                    .map(|k| {
                        let state = if k.revoked_at.is_some() { "revoked" } else { "active" };
                        format!("{}  {}…  {:<8} {}", k.id, k.display_prefix, state, k.label)
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })
        }
        KeysCommand::Revoke { tenant, key_id } => {
            let tenant = tenant.resolve(&p).await?;
            let id = ApiKeyId::parse(&key_id)?;
            p.revoke_api_key(&tenant, id).await?;
            emit(ctx.json, &json!({ "id": key_id, "revoked": true }), |_| format!("revoked API key {key_id}"))
        }
    }
}

pub async fn flows(ctx: &Context, command: FlowsCommand) -> anyhow::Result<()> {
    let p = services(ctx).await?;
    match command {
        FlowsCommand::Create { tenant, name, file } => {
            let tenant = tenant.resolve(&p).await?;
            let config = match file {
                None => FlowConfig::default(),
                Some(path) => {
                    let text = if path.as_os_str() == "-" {
                        let mut text = String::new();
                        std::io::stdin().read_to_string(&mut text).context("reading the configuration from stdin")?;
                        text
                    } else {
                        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?
                    };
                    let config: FlowConfig =
                        serde_json::from_str(&text).context("the flow configuration is not valid JSON")?;
                    config.check().map(|()| config).map_err(|problems| {
                        anyhow::anyhow!(
                            "invalid flow configuration:\n  {}",
                            problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n  ")
                        )
                    })?
                }
            };
            let flow = p.create_flow(&tenant, &name, config).await?;
            emit(ctx.json, &flow_json(&flow), |_| format!("created flow {} (configurationId {})", flow.name, flow.id))
        }
        FlowsCommand::List { tenant } => {
            let tenant = tenant.resolve(&p).await?;
            let flows = p.list_flows(&tenant).await?;
            let value: Vec<_> = flows.iter().map(flow_json).collect();
            emit(ctx.json, &value, |_| {
                flows.iter().map(|f| format!("{}  {}", f.id, f.name)).collect::<Vec<_>>().join("\n")
            })
        }
        FlowsCommand::Show { tenant, flow_id } => {
            let tenant = tenant.resolve(&p).await?;
            let flow = p.flow(&tenant, FlowId::parse(&flow_id)?).await?;
            let value = flow_json(&flow);
            emit(ctx.json, &value, |v| serde_json::to_string_pretty(v).unwrap_or_default())
        }
        FlowsCommand::SetOrigins { tenant, flow_id, origins } => {
            let tenant = tenant.resolve(&p).await?;
            let origins = origins.iter().map(|o| Origin::parse(o)).collect::<Result<Vec<_>, _>>()?;
            let flow = p.set_allowed_origins(&tenant, FlowId::parse(&flow_id)?, origins).await?;
            let shown: Vec<&str> = flow.config.allowed_origins.iter().map(Origin::as_str).collect();
            emit(ctx.json, &flow_json(&flow), |_| match shown.as_slice() {
                [] => format!("flow {} may be framed by no other site", flow.id),
                list => format!("flow {} may be framed by {}", flow.id, list.join(" ")),
            })
        }
    }
}

pub async fn admins(ctx: &Context, command: AdminsCommand) -> anyhow::Result<()> {
    let p = services(ctx).await?;
    match command {
        AdminsCommand::Create { tenant, email } => {
            let tenant = tenant.resolve(&p).await?;
            let password = match std::env::var("VERIFRAME_ADMIN_PASSWORD") {
                Ok(password) => password,
                Err(_) => {
                    let mut line = String::new();
                    std::io::stdin().read_line(&mut line).context("reading the password from stdin")?;
                    line.trim_end_matches(['\r', '\n']).to_owned()
                }
            };
            let admin = p.create_admin(&tenant, &email, &password).await?;
            emit(ctx.json, &admin_json(&admin), |_| {
                format!("created administrator {} for {}", admin.email, tenant.client_id)
            })
        }
        AdminsCommand::List { tenant } => {
            let tenant = tenant.resolve(&p).await?;
            let admins = p.list_admins(&tenant).await?;
            let value: Vec<_> = admins.iter().map(admin_json).collect();
            emit(ctx.json, &value, |_| {
                admins.iter().map(|a| format!("{}  {}", a.id, a.email)).collect::<Vec<_>>().join("\n")
            })
        }
    }
}
