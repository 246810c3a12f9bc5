//! Command-line interface: raw clap structures, then dispatch to `commands`.
//!
//! Exit codes: 0 success, 1 failure, 2 bad usage or configuration, 3 not found, 4 conflict
//! (already exists).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use veriframe_core::service::ServiceError;

use crate::commands;
use crate::commands::provision::{AdminsCommand, FlowsCommand, KeysCommand, TenantsCommand};
use crate::config::{Config, Overrides};

#[derive(Debug, Parser)]
#[command(
    name = "veriframe",
    version,
    about = "Self-hosted identity verification onboarding server, wire-compatible with Incode Omni",
    after_help = "Exit codes: 0 success, 1 failure, 2 bad usage or configuration, 3 not found, 4 already exists."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command understands.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Data directory (database, blobs, master key, models) [default: ./veriframe-data].
    #[arg(long, global = true, env = "VERIFRAME_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// TOML configuration file (see `veriframe config example`).
    #[arg(long, short = 'c', global = true, env = "VERIFRAME_CONFIG")]
    pub config: Option<PathBuf>,
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (creates the data directory and a demo tenant on first start).
    Serve(commands::serve::ServeArgs),
    /// Manage tenants (integrating companies).
    #[command(subcommand)]
    Tenants(TenantsCommand),
    /// Manage a tenant's API keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Manage a tenant's flows (configurationId).
    #[command(subcommand)]
    Flows(FlowsCommand),
    /// Manage a tenant's administrators (executive log-in).
    #[command(subcommand)]
    Admins(AdminsCommand),
    /// Show or explain configuration.
    #[command(subcommand)]
    Config(commands::config::ConfigCommand),
    /// Fetch or verify the model files.
    Models(commands::models::ModelsArgs),
    /// Compare the main faces of two images.
    FaceMatch(commands::face::FaceMatchArgs),
    /// Faces, quality, pose and passive PAD of images.
    FaceInspect(commands::face::FaceInspectArgs),
    /// Score a head-turn liveness challenge from its frames.
    Liveness(commands::liveness::LivenessArgs),
    /// Read the machine-readable zone of a document image.
    Mrz(commands::mrz::MrzArgs),
}

/// What every command receives.
#[derive(Debug)]
pub struct Context {
    pub config: Config,
    pub json: bool,
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut overrides = Overrides { data_dir: cli.global.data_dir.clone(), ..Overrides::default() };
    if let Command::Serve(args) = &cli.command {
        overrides.listen = args.listen;
        overrides.public_url.clone_from(&args.public_url);
        overrides.database_url.clone_from(&args.database_url);
    }
    let config = match Config::load(cli.global.config.as_deref(), &overrides) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("error: {err:#}");
            return ExitCode::from(2);
        }
    };
    crate::telemetry::init(&config);
    let ctx = Context { config, json: cli.global.json };
    match commands::run(cli.command, &ctx) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(exit_code(&err))
        }
    }
}

fn exit_code(err: &anyhow::Error) -> u8 {
    if let Some(e) = err.downcast_ref::<ServiceError>() {
        return match e {
            ServiceError::NotFound(_) => 3,
            ServiceError::Conflict(_) => 4,
            ServiceError::Invalid(_) => 2,
            _ => 1,
        };
    }
    if err.downcast_ref::<veriframe_core::IdError>().is_some()
        || err.downcast_ref::<veriframe_core::text::InvalidValue>().is_some()
    {
        return 2;
    }
    1
}
