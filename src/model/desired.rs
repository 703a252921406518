//! The desired state derived from a blueprint: every record set (or SPF string) it wants, in
//! which zone, with what TTL. The user never writes these values by hand.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::blueprint::{Blueprint, DEFAULT_TTL};
use crate::mail::{dkim, dmarc, spf, txt};

/// What the blueprint wants at one name and type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Content {
    /// The whole record set holds exactly these values (Route 53 form).
    Whole { values: Vec<String> },
    /// A TXT set holds this SPF text among whatever other values it has.
    Spf { text: String },
}

/// One record the blueprint wants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DesiredRecord {
    pub zone: String,
    pub name: String,
    #[serde(rename = "type")]
    pub rtype: String,
    pub ttl: u32,
    pub content: Content,
    /// What the record is for, for people: `SPF`, `DMARC`, `DKIM`.
    pub purpose: String,
}

/// Everything a blueprint wants, plus what the plan needs to know about its scope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Desired {
    pub blueprint: String,
    /// Hosted zones the blueprint names, sorted.
    pub zones: BTreeSet<String>,
    pub records: Vec<DesiredRecord>,
    /// Addresses the user asked to adopt.
    pub adopt: BTreeSet<String>,
}

impl Desired {
    /// The desired state of `destroy`: nothing, in the same scope.
    pub fn nothing(&self) -> Desired {
        Desired {
            records: Vec::new(),
            adopt: BTreeSet::new(),
            ..self.clone()
        }
    }
}

/// Derives the desired state of a valid blueprint.
pub fn from_blueprint(bp: &Blueprint) -> Desired {
    let default_ttl = bp.ttl.as_ref().map_or(DEFAULT_TTL, |t| t.value);
    let mut records = Vec::new();
    let mut zones = BTreeSet::new();
    for d in &bp.domains {
        let zone = d.zone_name().to_owned();
        let ttl = d.ttl.as_ref().map_or(default_ttl, |t| t.value);
        let domain = &d.domain.value;
        let mut push = |name: String, purpose: &str, content: Content| {
            records.push(DesiredRecord {
                zone: zone.clone(),
                name,
                rtype: "TXT".into(),
                ttl,
                content,
                purpose: purpose.into(),
            })
        };
        if let Some(s) = &d.spf {
            push(
                domain.clone(),
                "SPF",
                Content::Spf {
                    text: spf::compose(s),
                },
            );
        }
        if let Some(m) = &d.dmarc {
            push(
                format!("_dmarc.{domain}"),
                "DMARC",
                Content::Whole {
                    values: vec![txt::encode(&dmarc::render(m))],
                },
            );
        }
        for k in &d.dkim {
            push(
                dkim::record_name(&k.selector.value, domain),
                "DKIM",
                Content::Whole {
                    values: vec![txt::encode(&dkim::record_text(&k.public_key.value))],
                },
            );
        }
        zones.insert(zone);
    }
    Desired {
        blueprint: bp.name.value.clone(),
        zones,
        records,
        adopt: bp.adopt.iter().map(|a| a.value.clone()).collect(),
    }
}
