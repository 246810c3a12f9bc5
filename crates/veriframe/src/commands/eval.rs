//! `veriframe eval ...`: accuracy over labelled test sets. One module per target.

use clap::{Args, Subcommand};

use super::eval_faces::{self, EvalFacesArgs};
use super::eval_mrz::{self, EvalMrzArgs};
use crate::cli::Context;

#[derive(Debug, Args)]
pub struct EvalArgs {
    #[command(subcommand)]
    pub target: EvalTarget,
}

#[derive(Debug, Subcommand)]
pub enum EvalTarget {
    /// Face matching over a labelled photo directory.
    Faces(EvalFacesArgs),
    /// MRZ reading against `ground_truth.json`: exact lines, character error rate, valid documents.
    Mrz(EvalMrzArgs),
}

pub fn run(args: &EvalArgs, ctx: &Context) -> anyhow::Result<()> {
    match &args.target {
        EvalTarget::Faces(a) => eval_faces::run(a, ctx),
        EvalTarget::Mrz(a) => eval_mrz::run(a, ctx),
    }
}
