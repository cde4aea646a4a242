//! `trakt-doctor stremio`: how to route Stremio through the proxy on a system.

use crate::cli::StremioArgs;
use crate::error::Fatal;
use crate::guide;

pub(crate) fn run(args: StremioArgs) -> Result<i32, Fatal> {
    let ca = args.certs.files()?.cert_path().display().to_string();
    let os = args.os.unwrap_or_else(guide::Os::current);
    println!(
        "Route Stremio through trakt-doctor on {}:\n{}",
        os.name(),
        guide::stremio_steps(os, &args.proxy.to_string(), &ca)
    );
    Ok(0)
}
