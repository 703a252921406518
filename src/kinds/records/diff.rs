//! The per-zone diff of DNS record sets: every desired record is compared with what exists
//! and who owns it; every ownership record of this blueprint whose record is no longer
//! desired becomes a deletion. Records someone else owns are never touched: they are
//! conflicts, reported with how to adopt them. Pure.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::ownership::{self, Owner, Scope};
use super::{Purpose, RType, RecordSet, address};
use crate::mail::{spf, txt};
use crate::plan::desired::{Content, Desired, DesiredRecord, OutputRef, Outputs};
use crate::plan::observed::ObservedZone;
use crate::plan::{Action, Conflict, RecordChange, Report, ReportKind, TagChange, ZonePlan};

/// One zone's changes, and how many record sets the blueprint owns there (for the safety
/// rule).
pub fn zone(
    desired: &Desired,
    oz: &ObservedZone,
    conflicts: &mut Vec<Conflict>,
    reports: &mut Vec<Report>,
) -> (Option<ZonePlan>, usize) {
    let wanted: Vec<&DesiredRecord> = desired
        .records
        .iter()
        .filter(|r| r.zone == oz.zone.name)
        .collect();
    let mut zone = ZoneDiff::new(desired, oz);
    let owned = zone.owned.len();
    reports.extend(zone.ignored.iter().map(|t| ignored(desired, oz, t)));
    for record in &wanted {
        zone.desired_record(record, conflicts);
    }
    zone.orphans(&wanted);
    let mut changes = zone.changes;
    changes.sort_by(|a, b| a.address.cmp(&b.address));
    let tag = match (!wanted.is_empty(), oz.tagged) {
        (true, false) => Some(TagChange::Add),
        (false, true) => Some(TagChange::Remove),
        _ => None,
    };
    let plan = (!changes.is_empty() || tag.is_some()).then(|| ZonePlan {
        zone: oz.zone.name.clone(),
        zone_id: oz.zone.id.clone(),
        tag,
        changes,
    });
    (plan, owned)
}

/// A change whose new value waits for another resource's output: the record as the blueprint
/// wants it, written once apply knows the value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pending {
    pub name: String,
    #[serde(rename = "type")]
    pub rtype: RType,
    pub ttl: u32,
    pub content: Content,
}

impl RecordChange {
    /// This change with the outputs apply learned put in: its record set as it will be
    /// written (an Easy DKIM change becomes its three CNAMEs). Everything else about the
    /// change (the action, what it replaces, the ownership record) was decided by the plan.
    /// Fails with the first output still unknown.
    pub fn fill(&self, outputs: &Outputs, blueprint: &str) -> Result<Vec<RecordChange>, OutputRef> {
        let Some(p) = &self.pending else {
            return Ok(vec![self.clone()]);
        };
        let want = DesiredRecord {
            zone: String::new(),
            name: p.name.clone(),
            rtype: p.rtype.clone(),
            ttl: p.ttl,
            content: p.content.clone(),
            purpose: self.purpose.unwrap_or(Purpose::Spf),
        };
        let records = want.resolve(outputs)?;
        let owner = Owner {
            blueprint: blueprint.to_owned(),
            scope: Scope::All,
        };
        Ok(records
            .into_iter()
            .map(|r| {
                let after = match &r.content {
                    Content::Spf { text } => spf_set(self.before.as_ref(), &r, text),
                    Content::Whole { values } => RecordSet {
                        name: r.name.clone(),
                        rtype: r.rtype.clone(),
                        ttl: r.ttl,
                        values: values.clone(),
                    },
                    _ => unreachable!("resolve leaves only known content"),
                };
                let renamed = r.name != p.name;
                RecordChange {
                    address: address(&r.name, &r.rtype),
                    after: Some(after),
                    marker_after: if renamed {
                        Some(ownership::marker(&r.name, &r.rtype, &owner))
                    } else {
                        self.marker_after.clone()
                    },
                    pending: None,
                    ..self.clone()
                }
            })
            .collect())
    }
}

/// The TXT set at `want`'s name with `text` as its one SPF string: other values are kept,
/// and so is the TTL of a set shared with them.
fn spf_set(existing: Option<&RecordSet>, want: &DesiredRecord, text: &str) -> RecordSet {
    let mut values: Vec<String> = existing.map(|e| e.values.clone()).unwrap_or_default();
    match values.iter().position(|v| spf::is_spf(&txt::text_of(v))) {
        Some(i) => values[i] = txt::encode(text),
        None => values.push(txt::encode(text)),
    }
    let ttl = match existing {
        Some(e) if values.len() > 1 => e.ttl,
        _ => want.ttl,
    };
    RecordSet {
        name: want.name.clone(),
        rtype: want.rtype.clone(),
        ttl,
        values,
    }
}

/// The working state of one zone's diff.
struct ZoneDiff<'a> {
    desired: &'a Desired,
    sets: HashMap<(&'a str, &'a RType), &'a RecordSet>,
    /// (name, type) -> (marker set, owner) for every mailinfra ownership record in the zone.
    markers: HashMap<(String, RType), (&'a RecordSet, Option<Owner>)>,
    /// The subset owned by this blueprint: in a zone it names, at a name and type it can
    /// write (`Desired::writable`).
    owned: Vec<(String, RType)>,
    /// Ownership records naming this blueprint that it cannot have written: left alone.
    ignored: Vec<(String, RType)>,
    changes: Vec<RecordChange>,
}

impl<'a> ZoneDiff<'a> {
    fn new(desired: &'a Desired, oz: &'a ObservedZone) -> Self {
        let mut sets = HashMap::new();
        let mut markers = HashMap::new();
        let mut owned = Vec::new();
        let mut ignored = Vec::new();
        let named = desired.zones.contains(&oz.zone.name);
        for r in &oz.records {
            sets.insert((r.name.as_str(), &r.rtype), r);
            if r.rtype == RType::Txt
                && let Some(target) = ownership::marked_by(&r.name)
            {
                let owner = ownership::parse(r);
                if owner
                    .as_ref()
                    .is_some_and(|o| o.blueprint == desired.blueprint)
                {
                    if named && desired.writable.allows(&target.0, &target.1) {
                        owned.push(target.clone());
                    } else {
                        ignored.push(target.clone());
                    }
                }
                markers.insert(target, (r, owner));
            }
        }
        owned.sort();
        ignored.sort();
        Self {
            desired,
            sets,
            markers,
            owned,
            ignored,
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
        let existing = self.sets.get(&(want.name.as_str(), &want.rtype)).copied();
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
        // The same rules for every record, whether its value is known now or an output.
        let (takes_over, scope) = claim(want, existing, ours);
        if let Err(conflict) = self.check_ownership(want, existing, ours, takes_over) {
            conflicts.push(conflict);
            return;
        }
        let after = match &want.content {
            Content::Keep => match existing {
                // Ours and published: nothing to do. Adopted: only the marker is written.
                Some(e) => e.clone(),
                None => return,
            },
            Content::Whole { values } => RecordSet {
                name: want.name.clone(),
                rtype: want.rtype.clone(),
                ttl: want.ttl,
                values: values.clone(),
            },
            Content::Spf { text } => spf_set(existing, want, text),
            Content::WholeFrom { .. } | Content::SpfFrom { .. } | Content::EasyDkim { .. } => {
                self.pending(want, existing, ours, takes_over, marker_before, scope);
                return;
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
        self.changes.push(RecordChange {
            address: addr,
            action: action(existing, ours, takes_over),
            purpose: Some(want.purpose),
            before: existing.filter(|_| !record_same).cloned(),
            after: (!record_same).then_some(after),
            marker_before: marker_before.filter(|_| !marker_same),
            marker_after: (!marker_same).then_some(marker_after),
            pending: None,
        });
    }

    /// The conflicts a record can meet whatever its value: someone else's record (or SPF
    /// string) in the way without `adopt:`, several SPF records, a MAIL FROM name that
    /// already receives mail.
    fn check_ownership(
        &self,
        want: &DesiredRecord,
        existing: Option<&RecordSet>,
        ours: bool,
        takes_over: bool,
    ) -> Result<(), Conflict> {
        let addr = address(&want.name, &want.rtype);
        let adopting = self.desired.adopt.contains(&addr);
        let adopt_hint = format!(
            "if mailinfra should manage it from now on, add to the blueprint:\n      adopt:\n        - {addr}"
        );
        let is_spf = matches!(want.content, Content::Spf { .. } | Content::SpfFrom { .. });
        if is_spf {
            let spf: Vec<&String> = existing
                .iter()
                .flat_map(|e| &e.values)
                .filter(|v| spf::is_spf(&txt::text_of(v)))
                .collect();
            if spf.len() > 1 {
                return Err(Conflict {
                    address: addr,
                    message: format!(
                        "`{}` has {} SPF records; receivers treat that as a permanent error (RFC 7208 §4.5)",
                        want.name,
                        spf.len()
                    ),
                    hint: "delete all but one by hand, then plan again; mailinfra never creates a second SPF record".into(),
                });
            }
            if let [one] = spf[..]
                && !ours
                && !adopting
            {
                return Err(Conflict {
                    address: addr,
                    message: format!(
                        "`{}` already has an SPF record that mailinfra does not own: {one}",
                        want.name
                    ),
                    hint: adopt_hint,
                });
            }
            return Ok(());
        }
        if want.purpose == Purpose::MailFromMx
            && let (Some(e), Content::Whole { values }) = (existing, &want.content)
            && !ours
            && !e.same_content(&RecordSet {
                values: values.clone(),
                ..e.clone()
            })
        {
            return Err(Conflict {
                address: addr,
                message: format!(
                    "`{}` already receives mail (MX {}); a MAIL FROM domain must not",
                    want.name,
                    e.values.join(", ")
                ),
                hint: "choose another subdomain for `mail_from`, e.g. `bounce.<domain>`".into(),
            });
        }
        if takes_over && !adopting {
            return Err(Conflict {
                address: addr,
                message: format!(
                    "`{}` {} already exists and mailinfra does not own it",
                    want.name, want.rtype
                ),
                hint: adopt_hint,
            });
        }
        Ok(())
    }

    /// A change whose value apply learns: decided now (action, what it replaces, the
    /// ownership record), written once the output is known.
    fn pending(
        &mut self,
        want: &DesiredRecord,
        existing: Option<&RecordSet>,
        ours: bool,
        takes_over: bool,
        marker_before: Option<RecordSet>,
        scope: Scope,
    ) {
        let easy_dkim = matches!(want.content, Content::EasyDkim { .. });
        let marker_after =
            (!easy_dkim).then(|| ownership::marker(&want.name, &want.rtype, &self.me(scope)));
        let marker_same = match (&marker_before, &marker_after) {
            (Some(b), Some(a)) => b.same_content(a),
            _ => false,
        };
        self.changes.push(RecordChange {
            address: address(&want.name, &want.rtype),
            action: action(existing, ours, takes_over),
            purpose: Some(want.purpose),
            before: existing.cloned(),
            after: None,
            marker_before: marker_before.filter(|_| !marker_same),
            marker_after: marker_after.filter(|_| !marker_same),
            pending: Some(Pending {
                name: want.name.clone(),
                rtype: want.rtype.clone(),
                ttl: want.ttl,
                content: want.content.clone(),
            }),
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
            let existing = self.sets.get(&(name.as_str(), &rtype)).copied();
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
            let purpose = (owner.scope == Scope::Spf).then_some(Purpose::Spf);
            self.changes.push(RecordChange {
                address: address(&name, &rtype),
                action: if remaining.is_some() {
                    Action::Update
                } else {
                    Action::Delete
                },
                purpose,
                before,
                after: remaining,
                marker_before: Some((*marker).clone()),
                marker_after: None,
                pending: None,
            });
        }
    }
}

/// An ownership record that names this blueprint where it cannot have written: in a zone it
/// does not name, or at a name or type it never writes. Forged, or left by a domain since
/// removed from the blueprint; either way mailinfra changes nothing and says so.
fn ignored(desired: &Desired, oz: &ObservedZone, (name, rtype): &(String, RType)) -> Report {
    let why = if desired.zones.contains(&oz.zone.name) {
        format!(
            "blueprint `{}` never writes {rtype} at `{name}`",
            desired.blueprint
        )
    } else {
        format!(
            "blueprint `{}` does not name zone `{}`",
            desired.blueprint, oz.zone.name
        )
    };
    Report {
        address: address(name, rtype),
        kind: ReportKind::Todo,
        title: format!(
            "`{}` claims `{name}` {rtype} for this blueprint, but {why}: mailinfra leaves both alone",
            ownership::marker_name(name, rtype)
        ),
        steps: vec![
            "if mailinfra wrote it for a domain since removed from the blueprint, delete the record and its ownership record by hand".into(),
            format!(
                "otherwise the ownership record is forged: check who can write to zone `{}`",
                oz.zone.name
            ),
        ],
    }
}

/// What writing `want` claims: whether it replaces something that exists and someone else
/// wrote (an SPF string, or a whole record set), and the scope its ownership record names.
fn claim(want: &DesiredRecord, existing: Option<&RecordSet>, ours: bool) -> (bool, Scope) {
    match &want.content {
        Content::Spf { .. } | Content::SpfFrom { .. } => {
            let spf_count = existing.map_or(0, |e| {
                e.values
                    .iter()
                    .filter(|v| spf::is_spf(&txt::text_of(v)))
                    .count()
            });
            (spf_count == 1, Scope::Spf)
        }
        _ => (existing.is_some() && !ours, Scope::All),
    }
}

/// The verb of a change to one record set.
fn action(existing: Option<&RecordSet>, ours: bool, takes_over: bool) -> Action {
    match existing {
        None => Action::Create,
        Some(_) if !ours && takes_over => Action::Adopt,
        Some(_) => Action::Update,
    }
}
