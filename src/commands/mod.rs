//! One module per subcommand. Each turns its parsed arguments into work
//! and returns the process exit status; [`crate::app`] only dispatches.

pub mod ca;
pub mod check_token;
pub mod lint;
pub mod rules;
pub mod run;
pub mod stremio;

use std::path::{Path, PathBuf};

use crate::hosts::HostName;

/// `a, b, c` for messages and the banner.
fn host_list(hosts: &[HostName]) -> String {
    hosts
        .iter()
        .map(|h| h.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The path as the user should see it (absolute when it can be made so).
fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}
