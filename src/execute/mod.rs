//! Plan -> AWS: write-only execution of a plan's changes, with batching, bounded waits and
//! progress. SDK types stop here.

pub mod gateway;
pub mod route53;
pub mod ses;
