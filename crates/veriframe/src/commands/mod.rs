//! One module per command group; `run` dispatches.

pub mod models;

use crate::cli::{Command, Context};

pub fn run(command: Command, ctx: &Context) -> anyhow::Result<()> {
    match command {
        Command::Models(args) => models::run(&args, ctx),
    }
}
