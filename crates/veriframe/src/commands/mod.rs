//! One module per command group; `run` dispatches.

use crate::cli::{Command, Context};

pub fn run(command: Command, _ctx: &Context) -> anyhow::Result<()> {
    match command {}
}
