//! Command-line interface: raw clap structures, then dispatch to `commands`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::commands;
use crate::config::{Config, Overrides};

#[derive(Debug, Parser)]
#[command(
    name = "veriframe",
    version,
    about = "Self-hosted identity verification onboarding server"
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
    /// Data directory (database, blobs, master key, models).
    #[arg(long, global = true, env = "VERIFRAME_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// TOML configuration file.
    #[arg(long, short = 'c', global = true, env = "VERIFRAME_CONFIG")]
    pub config: Option<PathBuf>,
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Read the machine-readable zone of a document image.
    Mrz(commands::mrz::MrzArgs),
    /// Measure accuracy on labelled image sets.
    Eval(commands::eval::EvalArgs),
    /// Time the vision stages.
    Bench(commands::bench::BenchArgs),
}

/// What every command receives.
#[derive(Debug)]
pub struct Context {
    pub config: Config,
    pub json: bool,
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let overrides = Overrides {
        data_dir: cli.global.data_dir.clone(),
    };
    let config = match Config::load(cli.global.config.as_deref(), &overrides) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("error: {err:#}");
            return ExitCode::from(2);
        }
    };
    let ctx = Context {
        config,
        json: cli.global.json,
    };
    match commands::run(cli.command, &ctx) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
