//! What AWS holds, as the observers found it: hosted zones in scope with their records and
//! whether they carry the blueprint's footprint tag. Its checksum lets a saved plan prove
//! that AWS has not changed since the plan was made.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::kinds::gateway::ObservedGateway;
use crate::kinds::records::RecordSet;
use crate::kinds::ses::ObservedSes;

/// A Route 53 hosted zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostedZone {
    /// The bare id, without `/hostedzone/`.
    pub id: String,
    /// Lower case, no trailing dot.
    pub name: String,
    pub private: bool,
}

/// One hosted zone in scope and everything in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObservedZone {
    pub zone: HostedZone,
    /// Whether the zone carries this blueprint's footprint tag.
    pub tagged: bool,
    pub records: Vec<RecordSet>,
}

/// Everything observed for one blueprint.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Observed {
    pub zones: Vec<ObservedZone>,
    /// `None` when SES is out of scope (the blueprint names no region).
    pub ses: Option<ObservedSes>,
    /// `None` when the blueprint has no gateway (nothing of one is looked for).
    #[serde(default)]
    pub gateway: Option<ObservedGateway>,
    /// The names of the account's other public hosted zones: for the hint when a zone the
    /// blueprint names is missing but its parent exists. Not part of the checksum.
    #[serde(default)]
    pub other_zones: Vec<String>,
}

impl Observed {
    pub fn zone(&self, name: &str) -> Option<&ObservedZone> {
        self.zones.iter().find(|z| z.zone.name == name)
    }

    /// A SHA-256 over everything observed, in a canonical order.
    pub fn checksum(&self) -> String {
        let mut zones = self.zones.clone();
        zones.sort_by(|a, b| a.zone.id.cmp(&b.zone.id));
        for z in &mut zones {
            z.records.sort();
            for r in &mut z.records {
                r.values.sort();
            }
        }
        let ses = self.ses.as_ref().map(ObservedSes::stable);
        let gateway = self.gateway.as_ref().map(|g| {
            let mut g = g.clone();
            // PTR updates complete by themselves; they do not make a plan stale.
            for e in &mut g.eips {
                e.ptr_update = None;
            }
            g
        });
        let bytes = serde_json::to_vec(&(zones, ses, gateway)).unwrap_or_default();
        let digest = Sha256::digest(&bytes);
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }
}
