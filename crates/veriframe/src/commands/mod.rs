//! One module per command group; `run` dispatches.

pub mod bench;
pub mod eval;
pub mod eval_faces;
pub mod face;
pub mod liveness;
pub mod models;

use crate::cli::{Command, Context};

pub fn run(command: Command, ctx: &Context) -> anyhow::Result<()> {
    match command {
        Command::Models(args) => models::run(&args, ctx),
        Command::FaceMatch(args) => face::run(&args, ctx),
        Command::FaceInspect(args) => face::inspect(&args, ctx),
        Command::Liveness(args) => liveness::run(&args, ctx),
        Command::Eval(args) => eval::run(&args, ctx),
        Command::Bench(args) => bench::run(&args, ctx),
    }
}
