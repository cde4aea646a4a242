//! Auto-fix: the record of one rewrite applied to a request before it left.

use serde::{Deserialize, Serialize};

/// One rewrite, as the logs show it: which rule, where, and the text before and after.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FixRecord {
    pub rule: String,
    pub location: String,
    pub before: String,
    pub after: String,
}
