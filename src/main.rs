//! The `trakt-doctor` binary: parse the command line, set up diagnostics,
//! hand over to [`trakt_doctor::app`].

/// The proxy allocates and frees on several threads at once (tokio workers,
/// the log writer); glibc's allocator serialises that on arena locks, which
/// cost about a quarter of the proxy's CPU under load. See
/// docs/performance.md for the figures.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let cli = trakt_doctor::cli::parse();
    trakt_doctor::app::init_diagnostics();
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
