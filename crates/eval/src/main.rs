//! `veriframe-eval`: the lab. Measures what the server's checks are worth on synthetic and public
//! data; nothing here runs in production.
#![forbid(unsafe_code)]

mod liveness;
mod pad;
mod setup;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "veriframe-eval", about = "veriframe's lab: accuracy and attack evaluations")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Head-turn liveness on synthetic natural turns of the London set, and attacks.
    Liveness(liveness::Args),
    /// Passive anti-spoofing error rates (APCER, BPCER) on the test data's photos.
    Pad(pad::Args),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Liveness(args) => liveness::run(args),
        Command::Pad(args) => pad::run(args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
