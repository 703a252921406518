//! Plan -> AWS: carries out a plan's changes kind by kind, in the order their outputs need.
//! Each kind's own steps are in `kinds::*::execute`; SDK types stop there.
//!
//! SES and the gateway's first steps (role, key, security group, instance, Elastic IP) do not
//! depend on each other and run at once; what they return (Easy DKIM tokens, generated public
//! keys, the Elastic IP) fills the plan's pending record changes; Route 53 follows; the
//! steps that wait for DNS come last: SES signing with a new BYODKIM key once its TXT is
//! INSYNC, the gateway's reverse DNS and releases.

use std::time::Duration;

use crate::aws::Aws;
use crate::aws::AwsError;
use crate::kinds::records::execute::ZoneResult;
use crate::kinds::{gateway, records, ses};
use crate::output::Output;
use crate::plan::desired::{OutputRef, Outputs};
use crate::plan::{Plan, ZonePlan};

#[derive(Debug, thiserror::Error)]
pub enum ExecuteError {
    #[error(transparent)]
    Aws(#[from] AwsError),
    /// A step ran but did not return the value a record needs.
    #[error(
        "{output} is still unknown after its step ran, so {address} cannot be written; the SES and gateway changes were applied, DNS was not\n  = hint: run `mailinfra apply` again: it picks up from what exists"
    )]
    Unknown { output: OutputRef, address: String },
}

/// Carries out every change of `plan`; waits (DNS in sync, instance running) are bounded by
/// `timeout`. Returns what each zone's Route 53 changes took.
pub async fn run(
    aws: &Aws,
    plan: &Plan,
    timeout: Duration,
    out: &Output,
) -> Result<Vec<ZoneResult>, ExecuteError> {
    // Both finish even when one fails, so neither is cut off halfway through a step.
    let (ses, gateway) = tokio::join!(
        ses::execute::apply(aws, &plan.ses, out),
        gateway::execute::before_dns(
            aws,
            &plan.blueprint,
            plan.desired.gateway.as_ref(),
            &plan.gateway,
            timeout,
            out,
        )
    );
    let ((mut outputs, keys), gateway) = (ses?, gateway?);
    outputs.extend(gateway.outputs());
    let dns = fill(plan, &outputs)?;
    let results = records::execute::apply(aws, &dns, timeout, out).await?;
    // A new BYODKIM key is INSYNC now: SES may sign with it.
    ses::execute::after_dns(aws, &plan.ses, keys, out).await?;
    gateway::execute::after_dns(aws, &plan.gateway, &gateway, timeout, out).await?;
    Ok(results)
}

/// The plan with every value learned during apply put in: DNS is written from exactly the
/// changes the plan decided, nothing is diffed again.
fn fill(plan: &Plan, outputs: &Outputs) -> Result<Plan, ExecuteError> {
    let mut zones = Vec::with_capacity(plan.zones.len());
    for zone in &plan.zones {
        let mut changes = Vec::with_capacity(zone.changes.len());
        for c in &zone.changes {
            let filled =
                c.fill(outputs, &plan.blueprint)
                    .map_err(|output| ExecuteError::Unknown {
                        output,
                        address: c.address.clone(),
                    })?;
            changes.extend(filled);
        }
        zones.push(ZonePlan {
            changes,
            ..zone.clone()
        });
    }
    Ok(Plan {
        zones,
        ..plan.clone()
    })
}
