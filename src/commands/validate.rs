//! `mailinfra validate`: offline checks, every problem of meaning at once (a malformed
//! document stops at its first problem). No credentials, no AWS. `--format json` and
//! `--format github` put the problems on stdout as data or as workflow annotations.

use super::{Failure, Outcome, load};
use crate::cli::{ValidateArgs, ValidateFormat};
use crate::output::Output;
use crate::plan::desired;

pub fn run(args: &ValidateArgs, out: &Output) -> Outcome {
    let file = &args.file.file;
    let bp = match (load(file), args.format) {
        (Ok(bp), _) => bp,
        (Err(e), ValidateFormat::Text) => return Err(e),
        (Err(Failure::Blueprint(report)), ValidateFormat::Json) => {
            out.data(&format!("{}\n", report.json()));
            return Ok(1);
        }
        (Err(Failure::Blueprint(report)), ValidateFormat::Github) => {
            out.data(&report.github());
            out.error_block(&report.render());
            return Ok(1);
        }
        (Err(e), _) => return Err(e),
    };
    let d = desired::from_blueprint(&bp);
    match args.format {
        ValidateFormat::Json => out.data(&format!(
            "{}\n",
            serde_json::json!({ "file": file.display().to_string(), "valid": true, "problems": [] })
        )),
        ValidateFormat::Text | ValidateFormat::Github => out.data(&format!(
            "{}: blueprint `{}` is valid: {} domain(s), {} record(s) in {} zone(s)\n",
            file.display(),
            bp.name.value,
            bp.domains.len(),
            d.records.len(),
            d.zones.len()
        )),
    }
    Ok(0)
}
