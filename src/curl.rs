//! Copy as curl.
