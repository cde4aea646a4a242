//! The `trakt-doctor` binary: parse the command line, set up diagnostics,
//! hand over to [`trakt_doctor::app`].

use clap::Parser;
use tracing_subscriber::EnvFilter;

/// The proxy allocates and frees on several threads at once (tokio workers,
/// the log writer); glibc's allocator serialises that on arena locks, which
/// cost about a quarter of the proxy's CPU under load. See the README's
/// performance section for the figures.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let cli = trakt_doctor::cli::Cli::parse();
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("trakt_doctor=info,warn"));
    // Colour codes only for a terminal that wants them, not for a pipe or a file.
    let colour = trakt_doctor::log::terminal::colour_wanted(std::io::IsTerminal::is_terminal(
        &std::io::stderr(),
    ));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
    let code = match trakt_doctor::app::main(cli) {
        Ok(code) => code,
        Err(fatal) => {
            // A message may quote a file being linted: no control characters.
            let message = fatal.to_string();
            eprintln!(
                "trakt-doctor: error: {}",
                trakt_doctor::log::terminal::visible(&message)
            );
            2
        }
    };
    std::process::exit(code);
}
