//! `diff(desired, observed) -> Plan`: the reconciler's decision, pure and synchronous.
//!
//! For each zone in scope (named by the blueprint or tagged with its footprint): every desired
//! record is compared with what exists and who owns it; every ownership record of this
//! blueprint whose record is no longer desired becomes a deletion. Records someone else owns
//! are never touched: they are conflicts, reported with how to adopt them.

use std::collections::HashMap;

use serde::Serialize;

use super::{Action, FORMAT, Plan, RecordChange, Summary, TagChange, VERSION, ZonePlan};
use crate::mail::{spf, txt};
use crate::model::desired::{Content, Desired, DesiredRecord};
use crate::model::gateway as model_gateway;
use crate::model::observed::{Observed, ObservedZone};
use crate::model::ownership::{self, Owner, Scope};
use crate::model::{RecordSet, address};

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

pub fn diff(desired: &Desired, observed: &Observed) -> Result<Plan, Vec<Conflict>> {
    let mut conflicts = Vec::new();
    let (ses, rekey) = super::ses::diff(desired, observed, &mut conflicts);
    let (gateway, mut reports) =
        super::gateway::diff(desired, observed.gateway.as_ref(), &mut conflicts);
    reports.extend(super::ses::pending(desired, observed));
    let mut desired = desired.clone();
    if let Some(obs) = &observed.ses {
        desired.add_ses_records(obs, &rekey);
    }
    if let Some(g) = &observed.gateway {
        if let Some(eip) = g.eip() {
            desired.substitute(model_gateway::IP, &eip.public_ip);
        }
        let rekeyed = gateway
            .iter()
            .any(|c| matches!(c.op, super::gateway::GatewayOp::CreateKey { .. }));
        if let (Some(key), false) = (&g.public_key, rekeyed) {
            desired.substitute(model_gateway::DKIM_KEY, key);
        }
    }
    let desired = &desired;
    let mut zones = Vec::new();
    let mut owned_total = 0;

    for name in &desired.zones {
        if observed.zone(name).is_none() {
            conflicts.push(Conflict {
                address: format!("zone.{name}"),
                message: format!("no public hosted zone `{name}` in this account"),
                hint: format!(
                    "create it first (`aws route53 create-hosted-zone --name {name} --caller-reference $(date +%s)`) and delegate the domain to its name servers, or fix `zone:`"
                ),
            });
        }
    }

    for oz in &observed.zones {
        let wanted: Vec<&DesiredRecord> = desired
            .records
            .iter()
            .filter(|r| r.zone == oz.zone.name)
            .collect();
        let mut zone = ZoneDiff::new(desired, oz);
        owned_total += zone.owned.len();
        for record in &wanted {
            zone.desired_record(record, &mut conflicts);
        }
        zone.orphans(&wanted);
        let mut changes = zone.changes;
        changes.sort_by(|a, b| a.address.cmp(&b.address));
        let tag = match (!wanted.is_empty(), oz.tagged) {
            (true, false) => Some(TagChange::Add),
            (false, true) => Some(TagChange::Remove),
            _ => None,
        };
        if !changes.is_empty() || tag.is_some() {
            zones.push(ZonePlan {
                zone: oz.zone.name.clone(),
                zone_id: oz.zone.id.clone(),
                tag,
                changes,
            });
        }
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
    })
}

/// What a value still holding a gateway placeholder will be.
fn pending_note(content: &Content) -> Option<String> {
    let text = match content {
        Content::Whole { values } => values.join(" "),
        Content::Spf { text } => text.clone(),
        _ => return None,
    };
    if text.contains(model_gateway::IP) {
        Some(format!(
            "{} with the gateway's Elastic IP",
            text.replace(model_gateway::IP, "<ip>")
        ))
    } else if text.contains(model_gateway::DKIM_KEY) {
        Some("the gateway's DKIM public key, generated at apply".into())
    } else {
        None
    }
}

/// The working state of one zone's diff.
struct ZoneDiff<'a> {
    desired: &'a Desired,
    sets: HashMap<(&'a str, &'a str), &'a RecordSet>,
    /// (name, type) -> (marker set, owner) for every mailinfra ownership record in the zone.
    markers: HashMap<(String, String), (&'a RecordSet, Option<Owner>)>,
    /// The subset owned by this blueprint.
    owned: Vec<(String, String)>,
    changes: Vec<RecordChange>,
}

impl<'a> ZoneDiff<'a> {
    fn new(desired: &'a Desired, oz: &'a ObservedZone) -> Self {
        let mut sets = HashMap::new();
        let mut markers = HashMap::new();
        let mut owned = Vec::new();
        for r in &oz.records {
            sets.insert((r.name.as_str(), r.rtype.as_str()), r);
            if r.rtype == "TXT"
                && let Some(target) = ownership::marked_by(&r.name)
            {
                let owner = ownership::parse(r);
                if owner
                    .as_ref()
                    .is_some_and(|o| o.blueprint == desired.blueprint)
                {
                    owned.push(target.clone());
                }
                markers.insert(target, (r, owner));
            }
        }
        owned.sort();
        Self {
            desired,
            sets,
            markers,
            owned,
            changes: Vec::new(),
        }
    }

    fn me(&self, scope: Scope) -> Owner {
        Owner {
            blueprint: self.desired.blueprint.clone(),
            scope,
        }
    }

    fn desired_record(&mut self, want: &DesiredRecord, conflicts: &mut Vec<Conflict>) {
        let addr = address(&want.name, &want.rtype);
        let existing = self
            .sets
            .get(&(want.name.as_str(), want.rtype.as_str()))
            .copied();
        let (marker_before, owner) =
            match self.markers.get(&(want.name.clone(), want.rtype.clone())) {
                Some((set, owner)) => (Some((*set).clone()), owner.clone()),
                None => (None, None),
            };
        if let Some(o) = &owner
            && o.blueprint != self.desired.blueprint
        {
            conflicts.push(Conflict {
                address: addr,
                message: format!(
                    "`{}` {} is owned by blueprint `{}`",
                    want.name, want.rtype, o.blueprint
                ),
                hint: "two blueprints cannot manage one record; remove it from one of them".into(),
            });
            return;
        }
        let ours = owner.is_some();
        let adopting = self.desired.adopt.contains(&addr);
        let adopt_hint = format!(
            "if mailinfra should manage it from now on, add to the blueprint:\n      adopt:\n        - {addr}"
        );

        // A record someone else wrote stands in the way unless the user adopts it.
        let blocked = existing.is_some() && !ours && !adopting;
        let unowned = Conflict {
            address: addr.clone(),
            message: format!(
                "`{}` {} already exists and mailinfra does not own it",
                want.name, want.rtype
            ),
            hint: adopt_hint.clone(),
        };
        if let Some(note) = pending_note(&want.content) {
            if blocked && !matches!(want.content, Content::Spf { .. }) {
                conflicts.push(unowned);
                return;
            }
            self.changes.push(RecordChange {
                address: addr,
                action: if existing.is_some() {
                    Action::Update
                } else {
                    Action::Create
                },
                purpose: want.purpose.clone(),
                before: existing.cloned(),
                after: None,
                marker_before: None,
                marker_after: None,
                pending: Some(note),
            });
            return;
        }
        // Whether applying takes over something someone else wrote (needs `adopt:`).
        let mut takes_over = existing.is_some();
        let (after, scope) = match &want.content {
            Content::Keep | Content::Pending { .. } => {
                if blocked {
                    conflicts.push(unowned);
                    return;
                }
                if let Content::Pending { note, .. } = &want.content {
                    self.changes.push(RecordChange {
                        address: addr,
                        action: if existing.is_some() {
                            Action::Update
                        } else {
                            Action::Create
                        },
                        purpose: want.purpose.clone(),
                        before: None,
                        after: None,
                        marker_before: None,
                        marker_after: None,
                        pending: Some(note.clone()),
                    });
                    return;
                }
                match existing {
                    // Ours and published: nothing to do. Adopted: only the marker is written.
                    Some(e) => (e.clone(), Scope::All),
                    None => return,
                }
            }
            Content::Whole { values } => {
                if want.purpose == "MAIL FROM"
                    && let Some(e) = existing
                    && !ours
                    && !e.same_content(&RecordSet {
                        values: values.clone(),
                        ..e.clone()
                    })
                {
                    conflicts.push(Conflict {
                        address: addr,
                        message: format!(
                            "`{}` already receives mail (MX {}); a MAIL FROM domain must not",
                            want.name,
                            e.values.join(", ")
                        ),
                        hint: "choose another subdomain for `mail_from`, e.g. `bounce.<domain>`"
                            .into(),
                    });
                    return;
                }
                if blocked {
                    conflicts.push(unowned);
                    return;
                }
                let after = RecordSet {
                    name: want.name.clone(),
                    rtype: want.rtype.clone(),
                    ttl: want.ttl,
                    values: values.clone(),
                };
                (after, Scope::All)
            }
            Content::Spf { text } => {
                let mut values: Vec<String> =
                    existing.map(|e| e.values.clone()).unwrap_or_default();
                let spf_at: Vec<usize> = values
                    .iter()
                    .enumerate()
                    .filter(|(_, v)| spf::is_spf(&txt::text_of(v)))
                    .map(|(i, _)| i)
                    .collect();
                if spf_at.len() > 1 {
                    conflicts.push(Conflict {
                        address: addr,
                        message: format!(
                            "`{}` has {} SPF records; receivers treat that as a permanent error (RFC 7208 §4.5)",
                            want.name,
                            spf_at.len()
                        ),
                        hint: "delete all but one by hand, then plan again; mailinfra never creates a second SPF record".into(),
                    });
                    return;
                }
                takes_over = spf_at.len() == 1;
                if let [i] = spf_at[..] {
                    if !ours && !adopting {
                        conflicts.push(Conflict {
                            address: addr,
                            message: format!(
                                "`{}` already has an SPF record that mailinfra does not own: {}",
                                want.name, values[i]
                            ),
                            hint: adopt_hint.clone(),
                        });
                        return;
                    }
                    values[i] = txt::encode(text);
                } else {
                    values.push(txt::encode(text));
                }
                // The TTL of a set shared with others' values stays theirs.
                let shared = values.len() > 1;
                let ttl = match existing {
                    Some(e) if shared => e.ttl,
                    _ => want.ttl,
                };
                let after = RecordSet {
                    name: want.name.clone(),
                    rtype: want.rtype.clone(),
                    ttl,
                    values,
                };
                (after, Scope::Spf)
            }
        };
        let marker_after = ownership::marker(&want.name, &want.rtype, &self.me(scope));
        let record_same = existing.is_some_and(|e| e.same_content(&after));
        let marker_same = marker_before
            .as_ref()
            .is_some_and(|m| m.same_content(&marker_after));
        if record_same && marker_same {
            return;
        }
        let action = match existing {
            None => Action::Create,
            Some(_) if !ours && takes_over => Action::Adopt,
            Some(_) => Action::Update,
        };
        self.changes.push(RecordChange {
            address: addr,
            action,
            purpose: want.purpose.clone(),
            before: existing.filter(|_| !record_same).cloned(),
            after: (!record_same).then_some(after),
            marker_before: marker_before.filter(|_| !marker_same),
            marker_after: (!marker_same).then_some(marker_after),
            pending: None,
        });
    }

    /// Records this blueprint owns in the zone that it no longer wants.
    fn orphans(&mut self, wanted: &[&DesiredRecord]) {
        for (name, rtype) in self.owned.clone() {
            if wanted.iter().any(|w| w.name == name && w.rtype == rtype) {
                continue;
            }
            let Some((marker, Some(owner))) = self.markers.get(&(name.clone(), rtype.clone()))
            else {
                continue;
            };
            let existing = self.sets.get(&(name.as_str(), rtype.as_str())).copied();
            let remaining = match (owner.scope, existing) {
                (Scope::Spf, Some(e)) => {
                    let others: Vec<String> = e
                        .values
                        .iter()
                        .filter(|v| !spf::is_spf(&txt::text_of(v)))
                        .cloned()
                        .collect();
                    (!others.is_empty()).then(|| RecordSet {
                        values: others,
                        ..e.clone()
                    })
                }
                _ => None,
            };
            // Someone already removed the SPF string by hand: only the marker goes.
            let (before, remaining) = match (existing, remaining) {
                (Some(e), Some(r)) if e.same_content(&r) => (None, None),
                (e, r) => (e.cloned(), r),
            };
            let purpose = if owner.scope == Scope::Spf { "SPF" } else { "" };
            self.changes.push(RecordChange {
                address: address(&name, &rtype),
                action: if remaining.is_some() {
                    Action::Update
                } else {
                    Action::Delete
                },
                purpose: purpose.into(),
                before,
                after: remaining,
                marker_before: Some((*marker).clone()),
                marker_after: None,
                pending: None,
            });
        }
    }
}
