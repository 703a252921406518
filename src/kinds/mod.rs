//! The resource kinds, each in one folder: a pure half (`mod.rs` with the desired and observed
//! values, `diff.rs` deciding the changes) and an SDK half (`observe.rs`, `execute.rs`). The
//! list is closed: `plan`, `observe` and `execute` call each kind by name, in the order the
//! kinds depend on each other (SES and the gateway produce outputs DNS records use).
//!
//! - `records`: DNS record sets in Route 53, with their ownership records.
//! - `ses`: Amazon SES v2 identities, configuration sets and account settings.
//! - `gateway`: the relay gateway: IAM role, DKIM key, security group, instance, Elastic IP,
//!   reverse DNS.
//!
//! Adding a kind: docs/architecture.md, "Adding a kind".

/// The tag naming the blueprint that owns a resource (SES resources, the gateway's EC2 and IAM
/// resources). Policy conditions and ownership checks key on it.
pub const OWNER_TAG: &str = "mailinfra:blueprint";
/// The tag naming a resource's address in the plan (`gateway.instance`).
pub const ADDRESS_TAG: &str = "mailinfra:address";

/// The SSM folder of a blueprint's run lock parameters (`crate::lock`).
pub fn lock_path(blueprint: &str) -> String {
    format!("/mailinfra/{blueprint}/lock")
}

pub mod gateway;
pub mod records;
pub mod rotation;
pub mod ses;
