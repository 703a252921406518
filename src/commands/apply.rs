//! `mailinfra apply`: the plan pipeline with execution switched on. Takes a blueprint, or a
//! plan saved by `plan --out`, which is applied only if AWS still holds exactly what the plan
//! observed (its checksum).

use std::path::Path;
use std::time::Duration;

use super::{Failure, Outcome, connect, load, make_plan, settings};
use crate::cli::{ApplyArgs, Global};
use crate::execute;
use crate::model::desired::{self, Desired};
use crate::observe;
use crate::output::Output;
use crate::plan::{self, Plan, render};

pub async fn run(args: &ApplyArgs, global: &Global, out: &Output) -> Outcome {
    let plan = match read_saved_plan(&args.file)? {
        Some(saved) => {
            let aws = connect(&settings(global, None)).await?;
            let scope = Desired {
                blueprint: saved.blueprint.clone(),
                zones: saved.scope.clone(),
                records: Vec::new(),
                adopt: Default::default(),
            };
            out.progress(&format!(
                "checking that Route 53 still matches the saved plan {}...",
                args.file.display()
            ));
            let observed = observe::route53::observe(&aws, &scope).await?;
            if observed.checksum() != saved.observed_checksum {
                return Err(Failure::Refused(format!(
                    "the saved plan {} is stale: records in its zones changed since it was made; nothing was applied\n  = hint: run `mailinfra plan --out {}` again and review the new plan",
                    args.file.display(),
                    args.file.display()
                )));
            }
            out.data(&render::text(&saved, out.paint_out()));
            return execute(&aws, &saved, args.yes, args.force, args.timeout, out).await;
        }
        None => load(&args.file)?,
    };
    let desired = desired::from_blueprint(&plan);
    let aws = connect(&settings(
        global,
        plan.region.as_ref().map(|r| r.value.as_str()),
    ))
    .await?;
    out.progress(&format!(
        "reading Route 53 for blueprint `{}`...",
        desired.blueprint
    ));
    let (plan, _) = make_plan(&aws, &desired).await?;
    out.data(&render::text(&plan, out.paint_out()));
    execute(&aws, &plan, args.yes, args.force, args.timeout, out).await
}

/// A JSON document naming itself `mailinfra-plan` is a saved plan; anything else is taken
/// for a blueprint.
fn read_saved_plan(path: &Path) -> Result<Option<Plan>, Failure> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Ok(None);
    };
    let Ok(value) = serde_json::from_str::<serde_json::Value>(&text) else {
        return Ok(None);
    };
    if value.get("format").and_then(|f| f.as_str()) != Some(plan::FORMAT) {
        return Ok(None);
    }
    let version = value.get("version").and_then(|v| v.as_u64());
    if version != Some(u64::from(plan::VERSION)) {
        return Err(Failure::Refused(format!(
            "{} is a plan of format version {}, this mailinfra reads version {}\n  = hint: make the plan again with this version",
            path.display(),
            version.map_or("?".into(), |v| v.to_string()),
            plan::VERSION
        )));
    }
    serde_json::from_value(value)
        .map(Some)
        .map_err(|e| Failure::Refused(format!("{} is not a valid plan: {e}", path.display())))
}

/// Confirms and carries out a plan. Shared by apply and destroy.
pub async fn execute(
    aws: &crate::aws::Aws,
    plan: &Plan,
    yes: bool,
    force: bool,
    timeout: Duration,
    out: &Output,
) -> Outcome {
    if plan.is_empty() {
        return Ok(0);
    }
    if let Some(why) = &plan.safety
        && !force
    {
        return Err(Failure::Refused(format!(
            "{why}; nothing was applied\n  = hint: review the plan, then pass --force"
        )));
    }
    if !yes {
        if !out.can_prompt() {
            return Err(Failure::Refused(
                "refusing to change AWS without confirmation: stdin is not a terminal\n  = hint: pass --yes to apply without asking".into(),
            ));
        }
        if !out.confirm("Apply these changes?") {
            return Err(Failure::Refused(
                "apply cancelled; nothing was changed".into(),
            ));
        }
    }
    let results = execute::route53::apply(aws, plan, timeout, out).await?;
    let batches: usize = results.iter().map(|r| r.batches).sum();
    let s = plan.summary;
    out.progress(&format!(
        "Apply complete: {} created, {} updated, {} adopted, {} deleted in {} zone(s), {} change batch(es).",
        s.create,
        s.update,
        s.adopt,
        s.delete,
        results.len(),
        batches
    ));
    Ok(0)
}
