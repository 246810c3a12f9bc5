//! `veriframe config`: the example file and the effective configuration.

use clap::Subcommand;

use crate::cli::Context;
use crate::config::{EXAMPLE, redact_url};

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print a commented configuration file with every key and its default.
    Example,
    /// Print the effective configuration after all layers (secrets redacted).
    Show,
}

pub fn run(ctx: &Context, command: &ConfigCommand) -> anyhow::Result<()> {
    match command {
        ConfigCommand::Example => {
            crate::output::print(EXAMPLE);
            Ok(())
        }
        ConfigCommand::Show => {
            let mut config = ctx.config.clone();
            config.database_url = Some(redact_url(&config.database_url()));
            if ctx.json {
                crate::output::print(&format!("{}\n", serde_json::to_string_pretty(&config)?));
            } else {
                crate::output::print(&toml::to_string_pretty(&config)?);
            }
            Ok(())
        }
    }
}
