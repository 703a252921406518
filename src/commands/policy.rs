//! `mailinfra policy`: the least-privilege IAM policy for a CI role that plans or applies
//! the blueprint. Offline: no credentials, no AWS request.

use super::{Failure, Outcome, desired, load};
use crate::cli::{Global, PolicyArgs};
use crate::output::Output;
use crate::policy;

pub fn run(args: &PolicyArgs, global: &Global, out: &Output) -> Outcome {
    let bp = load(&args.file.file)?;
    let doc = policy::build(&desired(&bp, global)?, args.r#for);
    let json = serde_json::to_string_pretty(&doc).map_err(|e| Failure::Refused(e.to_string()))?;
    out.data(&format!("{json}\n"));
    Ok(0)
}
