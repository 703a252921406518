//! Cutting a zone's changes into `ChangeResourceRecordSets` batches.
//!
//! Every change is a DELETE of the record set exactly as observed and/or a CREATE of the new
//! one, never an UPSERT: Route 53 then refuses the whole batch if anyone changed those records
//! since they were observed, so a batch never overwrites what it did not see. A record and its
//! ownership record always travel in the same batch. Batches are split only at the API's
//! limits: 1,000 resource records and 32,000 characters of values per request.

use serde::Serialize;

use super::RecordSet;
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
