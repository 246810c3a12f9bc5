//! `veriframe-eval`: the lab. Measures what the server's checks are worth and how fast they run,
//! on synthetic and public data; nothing here runs in production, and the `veriframe` binary
//! carries none of it.
#![forbid(unsafe_code)]

mod bench;
mod faces;
mod liveness;
mod mrz;
mod pad;
mod setup;

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use veriframe::cli::Context;
use veriframe::config::{Config, Overrides};

#[derive(Debug, Parser)]
#[command(name = "veriframe-eval", about = "veriframe's lab: accuracy, attack and speed measurements")]
struct Cli {
    /// Data directory whose models and configuration the measurements use [default: ./veriframe-data].
    #[arg(long, env = "VERIFRAME_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// TOML configuration file, as for `veriframe`.
    #[arg(long, short = 'c', env = "VERIFRAME_CONFIG")]
    config: Option<PathBuf>,
    /// Print machine-readable JSON instead of text (`faces`, `mrz`, `bench`).
    #[arg(long)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Head-turn liveness on synthetic natural turns of the London set, and attacks.
    Liveness(liveness::Args),
    /// Passive anti-spoofing error rates (APCER, BPCER) on the test data's photos.
    Pad(pad::Args),
    /// Face matching over a labelled photo directory.
    Faces(faces::EvalFacesArgs),
    /// MRZ reading against `ground_truth.json`: exact lines, character error rate, valid documents.
    Mrz(mrz::EvalMrzArgs),
    /// Speed: status polling over real HTTP, the face engine's stages, MRZ reading.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
}

fn main() -> std::process::ExitCode {
    let Cli { data_dir, config, json, command } = Cli::parse();
    // The speed and accuracy commands load models and settings as the server does.
    let context = || -> anyhow::Result<Context> {
        let overrides = Overrides { data_dir: data_dir.clone(), ..Overrides::default() };
        let ctx = Context { config: Config::load(config.as_deref(), &overrides)?, json };
        veriframe::telemetry::init(&ctx.config);
        Ok(ctx)
    };
    let result = match command {
        Command::Liveness(args) => liveness::run(&args),
        Command::Pad(args) => pad::run(&args),
        Command::Faces(args) => context().and_then(|ctx| faces::run(&args, &ctx)),
        Command::Mrz(args) => context().and_then(|ctx| mrz::run(&args, &ctx)),
        Command::Bench(command) => context().and_then(|ctx| bench::run(&ctx, command)),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
