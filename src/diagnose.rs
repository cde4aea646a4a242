//! Diagnosis: why the upstream answered as it did, in plain words.

use serde::{Deserialize, Serialize};

/// The explanation attached to a failed exchange.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnosis {
    pub summary: String,
    #[serde(default)]
    pub causes: Vec<String>,
    #[serde(default)]
    pub remedies: Vec<String>,
}
