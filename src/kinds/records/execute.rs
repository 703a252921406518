//! Carries out a plan's Route 53 part: per zone, tag the zone with the blueprint's footprint
//! before writing, send the change batches (each atomic; see `plan::batch`), wait until every
//! change is INSYNC, and remove the tag once the blueprint no longer writes there.
//! Zones are independent and run concurrently, paced under Route 53's rate limit.

use std::time::Duration;

use aws_sdk_route53::error::ProvideErrorMetadata;
use aws_sdk_route53::types::{
    self as r53, ChangeBatch, ChangeStatus, ResourceRecord, ResourceRecordSet, RrType,
    TagResourceType,
};
use futures::future::try_join_all;
use tokio::time::Instant;

use crate::aws::poll::{self, Look, Stopped, Wait};
use crate::aws::{Aws, AwsError, ops};
use crate::kinds::records::RecordSet;
use crate::kinds::records::batch::took_effect;
use crate::kinds::records::ownership::{ZONE_TAG_VALUE, zone_tag_key};
use crate::output::Output;
use crate::plan::{ChangeAction, Plan, TagChange, ZonePlan, batches};

/// How often `GetChange` is asked while waiting for INSYNC.
const POLL: Duration = Duration::from_secs(2);

/// What one zone's execution did.
#[derive(Debug)]
pub struct ZoneResult {
    pub zone: String,
    pub batches: usize,
    pub change_ids: Vec<String>,
}

/// Applies every zone of the plan, then waits (at most `wait`) for the changes to be INSYNC.
pub async fn apply(
    aws: &Aws,
    plan: &Plan,
    wait: Duration,
    out: &Output,
) -> Result<Vec<ZoneResult>, AwsError> {
    let results = try_join_all(
        plan.zones
            .iter()
            .map(|z| apply_zone(aws, &plan.blueprint, z, out)),
    )
    .await?;
    let ids: Vec<(&str, &str)> = results
        .iter()
        .flat_map(|r| {
            r.change_ids
                .iter()
                .map(move |id| (r.zone.as_str(), id.as_str()))
        })
        .collect();
    wait_insync(aws, &ids, wait, out).await?;
    Ok(results)
}

async fn apply_zone(
    aws: &Aws,
    blueprint: &str,
    zone: &ZonePlan,
    out: &Output,
) -> Result<ZoneResult, AwsError> {
    let key = zone_tag_key(blueprint);
    if zone.tag == Some(TagChange::Add) {
        aws.route53_pace.wait().await;
        aws.route53
            .change_tags_for_resource()
            .resource_type(TagResourceType::Hostedzone)
            .resource_id(&zone.zone_id)
            .add_tags(r53::Tag::builder().key(&key).value(ZONE_TAG_VALUE).build())
            .send()
            .await
            .map_err(|e| AwsError::call(&ops::CHANGE_TAGS_FOR_RESOURCE, e))?;
    }
    let planned = batches(zone);
    let mut change_ids = Vec::new();
    for (i, batch) in planned.iter().enumerate() {
        crate::interrupt::check(&format!(
            "DNS batch {} of {} in zone {}",
            i + 1,
            planned.len(),
            zone.zone
        ))?;
        let changes = batch
            .changes
            .iter()
            .map(|c| to_sdk(c.action, &c.set))
            .collect::<Result<Vec<_>, _>>()?;
        let n = changes.len();
        let change_batch = ChangeBatch::builder()
            .set_changes(Some(changes))
            .comment(format!("mailinfra blueprint {blueprint}"))
            .build()
            .map_err(|e| AwsError::Other(format!("building the change batch: {e}")))?;
        aws.route53_pace.wait().await;
        let sent = aws
            .route53
            .change_resource_record_sets()
            .hosted_zone_id(&zone.zone_id)
            .change_batch(change_batch)
            .send()
            .await;
        let which = format!(
            "{}: batch {}/{} ({n} changes)",
            zone.zone,
            i + 1,
            planned.len()
        );
        match sent {
            Ok(sent) => {
                let id = sent
                    .change_info()
                    .map(|c| c.id().to_owned())
                    .unwrap_or_default();
                out.progress(&format!("{which} sent as {id}"));
                change_ids.push(id);
            }
            Err(e) if e.code() == Some("InvalidChangeBatch") => {
                // The SDK retries a request whose response was lost; Route 53 then refuses
                // the retry of a batch the first attempt applied. The records tell.
                let now = super::observe::list_records(aws, &zone.zone_id).await?;
                if !took_effect(batch, &now) {
                    return Err(refused_batch(AwsError::call(
                        &ops::CHANGE_RESOURCE_RECORD_SETS,
                        e,
                    )));
                }
                out.progress(&format!(
                    "{which} is in effect: an earlier attempt, whose response was lost, applied it"
                ));
            }
            Err(e) => return Err(AwsError::call(&ops::CHANGE_RESOURCE_RECORD_SETS, e)),
        }
    }
    if zone.tag == Some(TagChange::Remove) {
        aws.route53_pace.wait().await;
        aws.route53
            .change_tags_for_resource()
            .resource_type(TagResourceType::Hostedzone)
            .resource_id(&zone.zone_id)
            .remove_tag_keys(&key)
            .send()
            .await
            .map_err(|e| AwsError::call(&ops::CHANGE_TAGS_FOR_RESOURCE, e))?;
    }
    Ok(ZoneResult {
        zone: zone.zone.clone(),
        batches: planned.len(),
        change_ids,
    })
}

/// A refused batch whose records are not as it would leave them: someone else changed them
/// since they were observed. Route 53 applied none of this request; whether an earlier,
/// retried attempt applied it before they changed is not known, so the hint does not say.
fn refused_batch(err: AwsError) -> AwsError {
    match err {
        AwsError::Call {
            operation,
            code,
            message,
            ..
        } if matches!(code.as_deref(), Some("InvalidChangeBatch")) => AwsError::Call {
            operation,
            code,
            message: format!("Route 53 refused the change batch: {message}"),
            hint: Some(
                "the records in this batch are not as it would leave them: they changed since they were observed (another run or a person?); run `mailinfra plan` again to see where they stand".into(),
            ),
        },
        other => other,
    }
}

fn to_sdk(action: ChangeAction, set: &RecordSet) -> Result<r53::Change, AwsError> {
    let build =
        |e: aws_sdk_route53::error::BuildError| AwsError::Other(format!("building a change: {e}"));
    let records = set
        .values
        .iter()
        .map(|v| ResourceRecord::builder().value(v).build().map_err(build))
        .collect::<Result<Vec<_>, _>>()?;
    let rrset = ResourceRecordSet::builder()
        .name(&set.name)
        .r#type(RrType::from(set.rtype.as_str()))
        .ttl(i64::from(set.ttl))
        .set_resource_records(Some(records))
        .build()
        .map_err(build)?;
    r53::Change::builder()
        .action(r53::ChangeAction::from(action.as_str()))
        .resource_record_set(rrset)
        .build()
        .map_err(build)
}

/// Polls `GetChange` until every change is INSYNC, for at most `limit`.
async fn wait_insync(
    aws: &Aws,
    ids: &[(&str, &str)],
    limit: Duration,
    out: &Output,
) -> Result<(), AwsError> {
    let start = Instant::now();
    let mut ids: Vec<&str> = ids.iter().map(|(_, id)| *id).collect();
    ids.dedup();
    if ids.is_empty() {
        return Ok(());
    }
    let pending = std::sync::Mutex::new(ids);
    let wait = Wait {
        what: "Route 53 changes to reach every name server (INSYNC), usually under 60 s",
        every: POLL,
        limit,
        out: Some(out),
    };
    let waited = poll::until(wait, || async {
        let mut still = Vec::new();
        let ids = pending.lock().expect("not poisoned").clone();
        for id in ids {
            aws.route53_pace.wait().await;
            let change = aws
                .route53
                .get_change()
                .id(id)
                .send()
                .await
                .map_err(|e| AwsError::call(&ops::GET_CHANGE, e))?;
            if change.change_info().map(|c| c.status()) != Some(&ChangeStatus::Insync) {
                still.push(id);
            }
        }
        let look = if still.is_empty() {
            Look::Done(())
        } else {
            Look::NotYet(format!(
                "{} change(s) PENDING: {}",
                still.len(),
                still.join(", ")
            ))
        };
        *pending.lock().expect("not poisoned") = still;
        Ok(look)
    })
    .await;
    match waited {
        Ok(()) => {
            out.progress(&format!(
                "Route 53 changes INSYNC after {:.1} s",
                start.elapsed().as_secs_f64()
            ));
            Ok(())
        }
        Err(Stopped::Failed(e)) => Err(e),
        Err(Stopped::TimedOut { pending, spent }) => Err(AwsError::Other(format!(
            "Route 53 changes were still PENDING after {} s ({pending}); they were accepted and will complete\n  = hint: run `mailinfra plan` in a minute to confirm, or raise --timeout",
            spent.as_secs()
        ))),
    }
}
