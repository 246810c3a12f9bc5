//! `veriframe eval ...`: accuracy over labelled test sets. One module per target.

use clap::{Args, Subcommand};

use super::eval_faces::{self, EvalFacesArgs};
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
}

pub fn run(args: &EvalArgs, ctx: &Context) -> anyhow::Result<()> {
    match &args.target {
        EvalTarget::Faces(a) => eval_faces::run(a, ctx),
    }
}
