//! One module per command group; `run` dispatches.

pub mod config;
pub mod face;
pub mod image_input;
pub mod liveness;
pub mod models;
pub mod mrz;
pub mod provision;
pub mod serve;

use crate::cli::{Command, Context};

/// Runs a command. Async commands get a multi-threaded runtime.
pub fn run(command: Command, ctx: &Context) -> anyhow::Result<()> {
    match command {
        Command::Config(c) => config::run(ctx, &c),
        Command::Serve(_) => runtime()?.block_on(serve::run(ctx)),
        Command::Tenants(c) => runtime()?.block_on(provision::tenants(ctx, c)),
        Command::Keys(c) => runtime()?.block_on(provision::keys(ctx, c)),
        Command::Flows(c) => runtime()?.block_on(provision::flows(ctx, c)),
        Command::Admins(c) => runtime()?.block_on(provision::admins(ctx, c)),
        Command::Models(args) => models::run(&args, ctx),
        Command::FaceMatch(args) => face::run(&args, ctx),
        Command::FaceInspect(args) => face::inspect(&args, ctx),
        Command::Liveness(args) => liveness::run(&args, ctx),
        Command::Mrz(args) => mrz::run(&args, ctx),
    }
}

pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().enable_all().build()?)
}
