//! The plan: what would change, as data. `desired` is what the blueprint wants, with values
//! known after apply as typed outputs; `observed` what AWS holds; `diff` compares them
//! through each kind's diff (pure, synchronous); `render` prints a plan for people. Plans
//! serialize to JSON (docs/plan-format.md) so they can be saved, checksummed, reviewed and
//! applied later. May import `kinds` (pure halves), `blueprint`, `mail`; never the SDK.

pub mod desired;
mod diff;
pub mod observed;
pub mod render;
#[cfg(test)]
mod tests;

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

pub use diff::{Conflict, diff, resolved};

use crate::kinds::gateway::diff as gateway;
pub use crate::kinds::records::batch::{Batch, Change, ChangeAction, batches};
pub use crate::kinds::records::{Pending, Purpose, RecordSet};
pub use crate::kinds::ses::diff::{SesChange, SesOp};
use desired::Desired;

/// Names the JSON document as a mailinfra plan.
pub const FORMAT: &str = "mailinfra-plan";
/// Bumped whenever a field of the JSON plan changes meaning or shape.
/// 3: a change whose value is learned during apply carries it as typed data (`pending`: the
/// record and its content with references to other resources' outputs), not as a note.
/// 4: `source` names the blueprint file and its SHA-256; `apply PLAN` plans it again and
/// carries out only a plan equal to the saved one.
pub const VERSION: u32 = 4;

/// The blueprint file a plan was made from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    /// As given on the command line (relative to where `plan` ran, when it was).
    pub path: String,
    /// SHA-256 of the file's bytes, hex.
    pub sha256: String,
}

impl Source {
    pub fn of(path: &str, bytes: &[u8]) -> Self {
        use sha2::{Digest, Sha256};
        Source {
            path: path.into(),
            sha256: Sha256::digest(bytes)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect(),
        }
    }
}

/// Something that changes nothing: a step only a person can take, or something AWS is
/// still doing (verification, reverse DNS) that a later plan or `status` picks up. Any kind
/// makes them (SES verification, the gateway's port-25 release and reverse DNS).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub address: String,
    pub kind: ReportKind,
    pub title: String,
    pub steps: Vec<String>,
}

/// Who acts next on a report; `todo` and `pending` in the JSON plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportKind {
    /// A person's step, shown with changes and by `status`.
    Todo,
    /// AWS is still at it; shown by every plan, with or without changes.
    Pending,
    /// Something is not as it should be and no change in the plan fixes it (the gateway
    /// reports a failed boot, or has stopped reporting); shown by every plan.
    Attention,
}

/// Everything one run would change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub format: String,
    pub version: u32,
    pub blueprint: String,
    /// Hosted zones the blueprint names; with the tagged zones, the scope that is observed.
    pub scope: BTreeSet<String>,
    /// SHA-256 of everything observed; a saved plan is applied only if it still matches.
    pub observed_checksum: String,
    pub zones: Vec<ZonePlan>,
    /// Amazon SES changes, in execution order.
    pub ses: Vec<SesChange>,
    /// Relay gateway changes (EC2, IAM, SSM), in execution order.
    pub gateway: Vec<gateway::GatewayChange>,
    /// What only a person can do (the port-25 release, the relay line, a pending PTR).
    pub reports: Vec<Report>,
    pub summary: Summary,
    /// Set when the plan changes or deletes much of what the blueprint owns; apply then
    /// needs `--force`.
    pub safety: Option<String>,
    /// The desired state the plan was made from, every output known when planning put in.
    /// Public data only.
    pub desired: Desired,
    /// The blueprint file, when the plan was made from one.
    pub source: Option<Source>,
}

impl Plan {
    /// The top-level parts of the plan (`zones`, `gateway`, `desired`, ...) in which `other`
    /// differs from it.
    pub fn differences(&self, other: &Plan) -> Vec<String> {
        let (a, b) = (serde_json::to_value(self), serde_json::to_value(other));
        let (Ok(serde_json::Value::Object(a)), Ok(serde_json::Value::Object(b))) = (a, b) else {
            return vec!["everything".into()];
        };
        let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
        keys.sort();
        keys.dedup();
        keys.into_iter()
            .filter(|k| a.get(*k) != b.get(*k))
            .cloned()
            .collect()
    }

    pub fn is_empty(&self) -> bool {
        self.zones.is_empty() && self.ses.is_empty() && self.gateway.is_empty()
    }
}

/// Counts by action.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub create: usize,
    pub update: usize,
    pub replace: usize,
    pub delete: usize,
    pub adopt: usize,
}

/// The changes in one hosted zone, applied as one atomic batch where the API's limits allow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ZonePlan {
    pub zone: String,
    pub zone_id: String,
    /// The footprint tag to add before the records are written, or remove after.
    pub tag: Option<TagChange>,
    pub changes: Vec<RecordChange>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TagChange {
    Add,
    Remove,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Create,
    Update,
    /// Create a new one, move what points at it, remove the old (the gateway instance).
    Replace,
    /// Take over a record that exists without an ownership record (listed in `adopt:`).
    Adopt,
    Delete,
}

/// One record set's change. `before` is the record set exactly as observed (a DELETE must
/// match it to the letter); `after` what it becomes. The same for its ownership record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordChange {
    pub address: String,
    pub action: Action,
    /// What the record is for; none for the deletion of a whole set no longer wanted.
    #[serde(with = "crate::mail::record::optional_label")]
    pub purpose: Option<Purpose>,
    pub before: Option<RecordSet>,
    pub after: Option<RecordSet>,
    pub marker_before: Option<RecordSet>,
    pub marker_after: Option<RecordSet>,
    /// Set when the new value is another resource's output, learned during apply (SES's
    /// tokens, a key apply generates, the Elastic IP): what to write once it is known
    /// (`RecordChange::fill`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<Pending>,
}

/// One line of what changes, for people: `field: before -> after`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldChange {
    pub field: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

pub fn field(name: &str, before: Option<String>, after: Option<String>) -> FieldChange {
    FieldChange {
        field: name.into(),
        before,
        after,
    }
}

/// A change to one resource of a kind other than DNS records (SES, the gateway): its
/// address, its action, the call to make (`op`, the kind's own enum) and what changes, for
/// people.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceChange<Op> {
    pub address: String,
    pub action: Action,
    pub op: Op,
    pub fields: Vec<FieldChange>,
}
