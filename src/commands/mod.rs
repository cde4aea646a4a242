//! One module per subcommand. Each turns its parsed arguments into work
//! and returns the process exit status; [`crate::app`] only dispatches.

pub(crate) mod ca;
pub(crate) mod check_token;
pub(crate) mod lint;
pub(crate) mod open;
pub(crate) mod replay;
pub(crate) mod report;
pub(crate) mod rules;
pub(crate) mod run;
pub(crate) mod stremio;

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
