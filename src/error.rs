//! The error that ends a command: a one-line message and exit status 2.
//!
//! There is deliberately no blanket `From` conversion: each `?` in the
//! commands says what was being done ([`Context`]), so the message names
//! the step that failed and not only the low-level cause.

use std::fmt;

/// A failure that ends the program with a message and exit status 2.
#[derive(Debug)]
pub struct Fatal(pub String);

impl Fatal {
    pub fn new(message: impl Into<String>) -> Self {
        Fatal(message.into())
    }
}

impl fmt::Display for Fatal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Fatal {}

/// Turns any displayable error into a [`Fatal`] that says what was being done.
pub(crate) trait Context<T> {
    /// `what: cause`.
    fn context(self, what: &str) -> Result<T, Fatal>;
}

impl<T, E: fmt::Display> Context<T> for Result<T, E> {
    fn context(self, what: &str) -> Result<T, Fatal> {
        self.map_err(|e| Fatal(format!("{what}: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_names_the_step_before_the_cause() {
        let failed: Result<(), std::io::Error> = Err(std::io::Error::other("disk full"));
        assert_eq!(
            failed
                .context("cannot open the log file x.jsonl")
                .unwrap_err()
                .0,
            "cannot open the log file x.jsonl: disk full"
        );
    }
}
