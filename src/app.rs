//! Dispatch: hands each subcommand to its module in `commands`.
//! Every failure is a one-line `Fatal` message and exit status 2.

use crate::cli::{Cli, Command};
use crate::commands;
use crate::error::Fatal;

/// Runs the parsed command line; returns the process exit status.
/// Diagnostics as the binary sets them up: `RUST_LOG` or
/// `trakt_doctor=info,warn`, to stderr, coloured only for a terminal that
/// wants it. The benchmark's child proxy sets up the same, so it pays what
/// the binary pays.
pub fn init_diagnostics() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("trakt_doctor=info,warn"));
    // Colour codes only for a terminal that wants them, not for a pipe or a file.
    let colour =
        crate::log::terminal::colour_wanted(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}

pub fn main(cli: Cli) -> Result<i32, Fatal> {
    match cli.command {
        None => commands::run::run(cli.run),
        Some(Command::Run(args)) => commands::run::run(args),
        Some(Command::Ca(args)) => commands::ca::run(args),
        Some(Command::Lint(args)) => commands::lint::run(args),
        Some(Command::Stremio(args)) => commands::stremio::run(args),
        Some(Command::CheckToken(args)) => commands::check_token::run(args),
        Some(Command::Rules(args)) => commands::rules::run(args),
        Some(Command::Report(args)) => commands::report::run(args),
        Some(Command::Replay(args)) => commands::replay::run(args),
        Some(Command::Open(args)) => commands::open::run(args),
    }
}
