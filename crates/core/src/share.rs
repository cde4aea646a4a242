//! What a user hands to someone else: a Markdown report of failed exchanges
//! for a support thread or an issue ([`report`]), with the account's names
//! replaced by placeholders ([`accounts`]). The HAR of just those exchanges
//! is [`crate::har::document`] of the scrubbed records.

pub mod accounts;
pub mod report;
