//! `mailinfra validate`: offline checks, every problem of meaning at once (a malformed
//! document stops at its first problem). No credentials, no AWS.

use super::{Outcome, load};
use crate::cli::FileArg;
use crate::output::Output;
use crate::plan::desired;

pub fn run(args: &FileArg, out: &Output) -> Outcome {
    let bp = load(&args.file)?;
    let d = desired::from_blueprint(&bp);
    out.data(&format!(
        "{}: blueprint `{}` is valid: {} domain(s), {} record(s) in {} zone(s)\n",
        args.file.display(),
        bp.name.value,
        bp.domains.len(),
        d.records.len(),
        d.zones.len()
    ));
    Ok(0)
}
