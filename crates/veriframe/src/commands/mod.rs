//! One module per command group; `run` dispatches.

pub mod bench;
pub mod bench_mrz;
pub mod eval;
pub mod eval_mrz;
pub mod image_input;
pub mod mrz;

use crate::cli::{Command, Context};

pub fn run(command: Command, ctx: &Context) -> anyhow::Result<()> {
    match command {
        Command::Mrz(args) => mrz::run(&args, ctx),
        Command::Eval(args) => eval::run(&args, ctx),
        Command::Bench(args) => bench::run(&args, ctx),
    }
}
