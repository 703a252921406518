//! `mailinfra destroy`: plan the blueprint's desired state as nothing, then apply. Only
//! what the blueprint owns is removed; everything else in its zones stays as it was.

use super::{Outcome, apply::execute, connect, load, make_plan, settings};
use crate::cli::{DestroyArgs, Global};
use crate::model::desired;
use crate::output::Output;
use crate::plan::render;

pub async fn run(args: &DestroyArgs, global: &Global, out: &Output) -> Outcome {
    let bp = load(&args.file.file)?;
    let desired = desired::from_blueprint(&bp).nothing();
    let aws = connect(&settings(
        global,
        bp.region.as_ref().map(|r| r.value.as_str()),
    ))
    .await?;
    out.progress(&format!(
        "reading Route 53 for blueprint `{}`...",
        desired.blueprint
    ));
    let (mut plan, _) = make_plan(&aws, &desired).await?;
    // Removing everything is the point of destroy: its confirmation is the safety check.
    plan.safety = None;
    out.data(&render::text(&plan, out.paint_out()));
    execute(&aws, &plan, args.yes, true, args.timeout, out).await
}
