//! What a user hands to someone else: a Markdown report of failed exchanges
//! for a support thread or an issue ([`report`]), and the HAR of just those
//! exchanges. Both live in the core (the browser page makes them too).

pub(crate) use trakt_doctor_core::har::document as har;
pub(crate) use trakt_doctor_core::share::report;
