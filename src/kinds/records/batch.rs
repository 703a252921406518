//! Cutting a zone's changes into `ChangeResourceRecordSets` batches.
//!
//! Every change is a DELETE of the record set exactly as observed and/or a CREATE of the new
//! one, never an UPSERT: Route 53 then refuses the whole batch if anyone changed those records
//! since they were observed, so a batch never overwrites what it did not see. A record and its
//! ownership record always travel in the same batch. Batches are split only at the API's
//! limits: 1,000 resource records and 32,000 characters of values per request.

use serde::Serialize;

use super::{RType, RecordSet};
use crate::plan::ZonePlan;

/// Route 53's limit on `ResourceRecord` elements in one request.
pub const MAX_RECORDS: usize = 1000;
/// Route 53's limit on the characters of all `Value` elements in one request.
pub const MAX_CHARS: usize = 32_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ChangeAction {
    Create,
    Delete,
}

impl ChangeAction {
    /// Every action mailinfra sends (it never sends `UPSERT`).
    pub const ALL: [ChangeAction; 2] = [ChangeAction::Create, ChangeAction::Delete];

    /// As Route 53 spells it (`CREATE`).
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeAction::Create => "CREATE",
            ChangeAction::Delete => "DELETE",
        }
    }
}

/// One element of a change batch.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    pub action: ChangeAction,
    pub set: RecordSet,
}

/// One `ChangeResourceRecordSets` request's worth of changes.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Batch {
    pub changes: Vec<Change>,
}

fn cost(changes: &[Change]) -> (usize, usize) {
    changes.iter().fold((0, 0), |(n, chars), c| {
        (
            n + c.set.values.len(),
            chars + c.set.values.iter().map(String::len).sum::<usize>(),
        )
    })
}

/// Whether `records` are as `batch` leaves them: each set it creates is there with its
/// content, each set it deletes and does not create again is gone. Route 53 applies a batch
/// whole or not at all, so this tells an earlier attempt that took effect (a lost response
/// the SDK retried) from records someone else changed.
pub fn took_effect(batch: &Batch, records: &[RecordSet]) -> bool {
    let mut end: Vec<(&str, &RType, Option<&RecordSet>)> = Vec::new();
    for c in &batch.changes {
        end.retain(|(name, rtype, _)| (*name, *rtype) != (c.set.name.as_str(), &c.set.rtype));
        let created = (c.action == ChangeAction::Create).then_some(&c.set);
        end.push((&c.set.name, &c.set.rtype, created));
    }
    end.iter().all(|(name, rtype, want)| {
        let have = records
            .iter()
            .find(|r| r.name == *name && &r.rtype == *rtype);
        match (want, have) {
            (None, None) => true,
            (Some(w), Some(h)) => w.same_content(h),
            _ => false,
        }
    })
}

/// The batches that carry out a zone's plan, in order.
pub fn batches(zone: &ZonePlan) -> Vec<Batch> {
    let mut out: Vec<Batch> = Vec::new();
    let mut current = Batch::default();
    let (mut records, mut chars) = (0, 0);
    for rc in &zone.changes {
        let mut group = Vec::new();
        let pairs = [
            (&rc.before, &rc.after),
            (&rc.marker_before, &rc.marker_after),
        ];
        for (before, after) in pairs {
            if let Some(b) = before {
                group.push(Change {
                    action: ChangeAction::Delete,
                    set: b.clone(),
                });
            }
            if let Some(a) = after {
                group.push(Change {
                    action: ChangeAction::Create,
                    set: a.clone(),
                });
            }
        }
        let (n, c) = cost(&group);
        if !current.changes.is_empty() && (records + n > MAX_RECORDS || chars + c > MAX_CHARS) {
            out.push(std::mem::take(&mut current));
            (records, chars) = (0, 0);
        }
        records += n;
        chars += c;
        current.changes.extend(group);
    }
    if !current.changes.is_empty() {
        out.push(current);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(name: &str, value: &str) -> RecordSet {
        RecordSet {
            name: name.into(),
            rtype: RType::Txt,
            ttl: 300,
            values: vec![value.into()],
        }
    }

    fn change(action: ChangeAction, s: &RecordSet) -> Change {
        Change {
            action,
            set: s.clone(),
        }
    }

    #[test]
    fn a_batch_took_effect_when_the_records_are_its_end_state() {
        let old = set("example.com", "\"v=spf1 -all\"");
        let new = set("example.com", "\"v=spf1 mx -all\"");
        let gone = set("_dmarc.example.com", "\"v=DMARC1; p=none\"");
        let batch = Batch {
            changes: vec![
                change(ChangeAction::Delete, &old),
                change(ChangeAction::Create, &new),
                change(ChangeAction::Delete, &gone),
            ],
        };
        assert!(took_effect(&batch, std::slice::from_ref(&new)));
        // Not applied, or changed by someone else since:
        assert!(!took_effect(&batch, std::slice::from_ref(&old)));
        assert!(!took_effect(&batch, &[new.clone(), gone.clone()]));
        assert!(!took_effect(&batch, &[]));
    }
}
