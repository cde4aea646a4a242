//! Dispatch: hands each subcommand to its module in `commands`.
//! Every failure is a one-line `Fatal` message and exit status 2.

use crate::cli::{Cli, Command};
use crate::commands;
use crate::error::Fatal;

/// Runs the parsed command line; returns the process exit status.
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
    }
}
