//! `diff(desired, observed) -> Plan`: the reconciler's decision, pure and synchronous. Each
//! kind decides its own changes (`kinds::*::diff`); here they are put in order: SES and the
//! gateway first, since DNS records use their outputs; every output AWS already holds is put
//! in; then each zone's records; then the counts and the safety rule.

use std::collections::BTreeSet;

use serde::Serialize;

use super::desired::{Desired, Outputs};
use super::observed::Observed;
use super::{Action, FORMAT, Plan, Summary, VERSION};
use crate::kinds::{gateway, records, ses};

/// A desired record that cannot be planned as things stand.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Conflict {
    pub address: String,
    pub message: String,
    pub hint: String,
}

/// octoDNS's rule: with at least this many owned records, a plan that updates or deletes more
/// than `SAFETY_PERCENT` of them needs `--force`.
const SAFETY_MIN_OWNED: usize = 10;
const SAFETY_PERCENT: usize = 30;

/// The desired state with every output AWS already holds put in (SES's DKIM tokens, the
/// gateway's address and key), as `diff` resolves it, conflicts or not: what `check`
/// compares DNS with, which must run when the plan has conflicts too.
pub fn resolved(desired: &Desired, observed: &Observed) -> Desired {
    let desired = &desired
        .with_gateway_keys(observed.gateway.as_ref())
        .with_ses_keys(observed);
    let mut ignored = Vec::new();
    let (_, rekey) = ses::diff::diff(desired, observed, &mut ignored);
    let (gateway, _) = gateway::diff::diff(desired, observed.gateway.as_ref(), &mut ignored);
    with_outputs(desired, observed, &rekey, &gateway)
}

/// `desired` with SES's records added and every output AWS already holds put in.
fn with_outputs(
    desired: &Desired,
    observed: &Observed,
    rekey: &BTreeSet<String>,
    gateway: &[gateway::diff::GatewayChange],
) -> Desired {
    let mut desired = desired.clone();
    let mut known = Outputs::default();
    if let Some(obs) = &observed.ses {
        desired.add_ses_records();
        known.extend(ses::diff::known_outputs(obs, rekey));
    }
    if let Some(obs) = &observed.gateway {
        known.extend(gateway::diff::known_outputs(
            obs,
            desired.gateway.as_ref(),
            gateway,
        ));
    }
    desired.resolve(&known);
    desired
}

pub fn diff(desired: &Desired, observed: &Observed) -> Result<Plan, Vec<Conflict>> {
    // The key rotations first: they decide which key the gateway and SES sign with and which
    // selectors DNS publishes.
    let desired = &desired
        .with_gateway_keys(observed.gateway.as_ref())
        .with_ses_keys(observed);
    let mut conflicts = Vec::new();
    let (ses, rekey) = ses::diff::diff(desired, observed, &mut conflicts);
    let (gateway, mut reports) =
        gateway::diff::diff(desired, observed.gateway.as_ref(), &mut conflicts);
    reports.extend(ses::diff::pending(desired, observed));
    let desired = &with_outputs(desired, observed, &rekey, &gateway);
    let mut zones = Vec::new();
    let mut owned_total = 0;

    for name in &desired.zones {
        if observed.zone(name).is_none() {
            // A parent zone that exists is most likely where the domain's records belong.
            let parent = observed
                .other_zones
                .iter()
                .filter(|z| name.ends_with(&format!(".{z}")))
                .max_by_key(|z| z.len());
            conflicts.push(Conflict {
                address: format!("zone.{name}"),
                message: format!("no public hosted zone `{name}` in this account"),
                hint: match parent {
                    Some(p) => format!(
                        "the account has the parent zone `{p}`: write `zone: {p}` on the domains in `{name}` to put their records there, or create `{name}` and delegate it from `{p}`"
                    ),
                    None => format!(
                        "create it first (`aws route53 create-hosted-zone --name {name} --caller-reference $(date +%s)`) and delegate the domain to its name servers, or fix `zone:`"
                    ),
                },
            });
        }
    }

    for oz in &observed.zones {
        let (zone, owned) = records::diff::zone(desired, oz, &mut conflicts, &mut reports);
        owned_total += owned;
        zones.extend(zone);
    }

    if !conflicts.is_empty() {
        return Err(conflicts);
    }
    let mut summary = Summary::default();
    let actions = zones
        .iter()
        .flat_map(|z| z.changes.iter().map(|c| c.action))
        .chain(ses.iter().map(|c| c.action))
        .chain(gateway.iter().map(|c| c.action));
    for action in actions {
        match action {
            Action::Create => summary.create += 1,
            Action::Update => summary.update += 1,
            Action::Replace => summary.replace += 1,
            Action::Adopt => summary.adopt += 1,
            Action::Delete => summary.delete += 1,
        }
    }
    let risky = summary.update + summary.delete;
    let safety = (owned_total >= SAFETY_MIN_OWNED && risky * 100 > owned_total * SAFETY_PERCENT)
        .then(|| {
            format!(
                "this plan updates or deletes {risky} of the {owned_total} record sets the blueprint owns (over {SAFETY_PERCENT}%)"
            )
        });
    Ok(Plan {
        format: FORMAT.into(),
        version: VERSION,
        blueprint: desired.blueprint.clone(),
        scope: desired.zones.clone(),
        observed_checksum: observed.checksum(),
        zones,
        ses,
        gateway,
        reports,
        summary,
        safety,
        desired: desired.clone(),
        source: None,
    })
}
