//! `mailinfra plan`: observe AWS and print what apply would change.

use super::{Failure, Outcome, Session, start};
use crate::cli::{Global, PlanArgs, PlanFormat};
use crate::output::Output;
use crate::plan::{Plan, render};

pub async fn run(args: &PlanArgs, global: &Global, out: &Output) -> Outcome {
    let format = if args.json {
        PlanFormat::Json
    } else {
        args.format
    };
    let Session { plan, .. } = match start(&args.file.file, global, out, |d| d).await {
        Ok(session) => session,
        Err(e) => {
            // A job summary gets the reason, not an empty section; stderr has it as usual.
            if format == PlanFormat::Markdown {
                out.data(&render::markdown_failure(
                    &args.file.file.display().to_string(),
                    &e.to_string(),
                ));
            }
            return Err(e);
        }
    };
    let json = serde_json::to_string_pretty(&plan).map_err(|e| Failure::Refused(e.to_string()))?;
    if let Some(path) = &args.out {
        std::fs::write(path, format!("{json}\n"))
            .map_err(|e| Failure::Refused(format!("cannot write `{}`: {e}", path.display())))?;
        out.progress(&format!(
            "saved the plan to {}; apply it with `mailinfra apply {}`",
            path.display(),
            path.display()
        ));
    }
    print(&plan, &json, format, out);
    Ok(if args.detailed_exitcode && !plan.is_empty() {
        2
    } else {
        0
    })
}

/// Prints a plan (`json` is its JSON) in a format. Shared by `plan` and `show`.
pub fn print(plan: &Plan, json: &str, format: PlanFormat, out: &Output) {
    match format {
        PlanFormat::Json => out.data(&format!("{json}\n")),
        PlanFormat::Markdown => out.data(&render::markdown(plan)),
        PlanFormat::Text => out.data(&render::text(plan, out.paint_out())),
    }
}
