//! `mailinfra show PLAN`: a plan saved by `plan --out`, printed again for review (text,
//! JSON or Markdown), offline.

use super::apply::read_saved_plan;
use super::plan::print;
use super::{Failure, Outcome};
use crate::cli::ShowArgs;
use crate::output::Output;

pub fn run(args: &ShowArgs, out: &Output) -> Outcome {
    if let Err(e) = std::fs::metadata(&args.plan) {
        return Err(Failure::Refused(format!(
            "cannot read `{}`: {e}\n  = hint: save a plan with `mailinfra plan BLUEPRINT --out {}`",
            args.plan.display(),
            args.plan.display()
        )));
    }
    let plan = read_saved_plan(&args.plan)?.ok_or_else(|| {
        Failure::Refused(format!(
            "{} is not a saved plan (a file `mailinfra plan --out` writes)",
            args.plan.display()
        ))
    })?;
    let json = serde_json::to_string_pretty(&plan).map_err(|e| Failure::Refused(e.to_string()))?;
    print(&plan, &json, args.format, out);
    Ok(0)
}
