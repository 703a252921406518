//! `mailinfra destroy`: plan the blueprint's desired state as nothing, then apply. Only
//! what the blueprint owns is removed (records, SES identities and configuration sets);
//! everything else stays as it was. Account-level SES settings are left as they are.

use super::apply::{Execution, execute, locked};
use super::{Outcome, make_plan, prepare};
use crate::cli::{DestroyArgs, Global};
use crate::output::Output;
use crate::plan::render;

pub async fn run(args: &DestroyArgs, global: &Global, out: &Output) -> Outcome {
    let how = Execution {
        yes: args.yes,
        force: true,
        timeout: args.timeout,
        wait: None,
        lock_timeout: args.lock_timeout,
        verb: "Destroy",
    };
    let (aws, desired) = prepare(&args.file.file, global, |d| d.nothing()).await?;
    locked(&aws, &desired, &how, out, || async {
        let (mut plan, observed) = make_plan(&aws, &desired, out).await?;
        // Removing everything is the point of destroy: its confirmation is the safety check.
        plan.safety = None;
        if args.release_ip {
            let before = plan.gateway.len();
            crate::kinds::gateway::diff::with_release(&mut plan.gateway, observed.gateway.as_ref());
            plan.summary.delete += plan.gateway.len() - before;
        } else if observed
            .gateway
            .as_ref()
            .is_some_and(|g| !g.eips.is_empty())
        {
            out.progress("the gateway's Elastic IP is kept (its reputation and reverse DNS are the point); `--release-ip` releases it");
        }
        out.data(&render::text(&plan, out.paint_out()));
        execute(&aws, &plan, &how, out).await
    })
    .await
}
