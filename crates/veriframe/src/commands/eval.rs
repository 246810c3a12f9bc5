//! `veriframe eval ...`: accuracy measurements on labelled image sets.

use clap::{Args, Subcommand};

use super::eval_mrz::EvalMrzArgs;
use crate::cli::Context;

/// Arguments of `veriframe eval`.
#[derive(Debug, Args)]
pub struct EvalArgs {
    #[command(subcommand)]
    pub what: EvalCommand,
}

/// What to evaluate.
#[derive(Debug, Subcommand)]
pub enum EvalCommand {
    /// MRZ reading against `ground_truth.json`: exact lines, character error rate, valid documents.
    Mrz(EvalMrzArgs),
}

pub fn run(args: &EvalArgs, ctx: &Context) -> anyhow::Result<()> {
    match &args.what {
        EvalCommand::Mrz(a) => super::eval_mrz::run(a, ctx),
    }
}
