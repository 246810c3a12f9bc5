//! `veriframe bench ...`: per-stage timings of the vision stages.

use clap::{Args, Subcommand};

use super::bench_mrz::BenchMrzArgs;
use crate::cli::Context;

/// Arguments of `veriframe bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub what: BenchCommand,
}

/// What to time.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// MRZ reading: model load, detection, recognition, interpretation, band check.
    Mrz(BenchMrzArgs),
}

pub fn run(args: &BenchArgs, ctx: &Context) -> anyhow::Result<()> {
    match &args.what {
        BenchCommand::Mrz(a) => super::bench_mrz::run(a, ctx),
    }
}
