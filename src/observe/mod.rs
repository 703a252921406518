//! AWS -> model: read-only observation. Every read that does not depend on another runs
//! concurrently. SDK types stop here.

pub mod route53;
