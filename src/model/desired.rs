//! The desired state derived from a blueprint: every record set (or SPF string) it wants, in
//! which zone, with what TTL. The user never writes these values by hand.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::blueprint::{Blueprint, DEFAULT_TTL};
use crate::mail::{dkim, dmarc, spf, txt};
use crate::model::gateway::{self, DesiredGateway};
use crate::model::ses::{
    self, DEFAULT_SIGNING_ZONE, DesiredSes, DkimSetting, ObservedSes, mail_from_mx,
};

/// What the blueprint wants at one name and type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Content {
    /// The whole record set holds exactly these values (Route 53 form).
    Whole { values: Vec<String> },
    /// A TXT set holds this SPF text among whatever other values it has.
    Spf { text: String },
    /// Whatever this blueprint already published here stays (a BYODKIM public key, which
    /// only DNS and SES hold).
    Keep,
    /// A value known only once apply has run a step (SES's DKIM tokens, a key mailinfra
    /// generates); `apply` resolves it before writing DNS.
    Pending { domain: String, note: String },
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

/// A value that apply learned from SES and that resolves a [`Content::Pending`] record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    Easy {
        tokens: Vec<String>,
        signing_zone: String,
    },
    External {
        public_key_b64: String,
    },
}

/// Everything a blueprint wants, plus what the plan needs to know about its scope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Desired {
    pub blueprint: String,
    /// The region for regional services (SES); `None` leaves SES out of scope.
    pub region: Option<String>,
    /// Hosted zones the blueprint names, sorted.
    pub zones: BTreeSet<String>,
    /// The mail domains the blueprint names.
    #[serde(default)]
    pub domains: BTreeSet<String>,
    pub records: Vec<DesiredRecord>,
    /// Addresses the user asked to adopt.
    pub adopt: BTreeSet<String>,
    pub ses: DesiredSes,
    #[serde(default)]
    pub gateway: Option<DesiredGateway>,
    /// The gateway whose resources are observed: the desired one, or for `destroy` the one
    /// being removed (its names are derived from the blueprint).
    #[serde(default)]
    pub gateway_scope: Option<DesiredGateway>,
}

impl Desired {
    /// The desired state of `destroy`: nothing, in the same scope.
    pub fn nothing(&self) -> Desired {
        Desired {
            records: Vec::new(),
            adopt: BTreeSet::new(),
            ses: DesiredSes::default(),
            gateway: None,
            ..self.clone()
        }
    }

    /// Adds the DNS records SES identities need. Values SES already gave (Easy DKIM tokens,
    /// a published BYODKIM key) are used as they are, except for the domains in `rekey`,
    /// whose DKIM apply is about to set anew: those, like identities not created yet, get
    /// [`Content::Pending`] records.
    pub fn add_ses_records(&mut self, observed: &ObservedSes, rekey: &BTreeSet<String>) {
        let region = self.region.clone().unwrap_or_default();
        for id in self.ses.identities.clone() {
            let known = observed
                .identities
                .get(&id.domain)
                .filter(|_| !rekey.contains(&id.domain));
            let mut push = |name: String, rtype: &str, purpose: &str, content: Content| {
                self.records.push(DesiredRecord {
                    zone: id.zone.clone(),
                    name,
                    rtype: rtype.into(),
                    ttl: id.ttl,
                    content,
                    purpose: purpose.into(),
                })
            };
            match &id.dkim {
                DkimSetting::Easy { .. } => match known.filter(|o| o.dkim_origin == "AWS_SES" && o.tokens.len() == 3) {
                    Some(o) => {
                        let zone = o.signing_zone.clone().unwrap_or_else(|| DEFAULT_SIGNING_ZONE.into());
                        for t in &o.tokens {
                            push(
                                dkim::record_name(t, &id.domain),
                                "CNAME",
                                "SES DKIM",
                                Content::Whole { values: vec![format!("{t}.{zone}")] },
                            );
                        }
                    }
                    None => push(
                        dkim::record_name("*", &id.domain),
                        "CNAME",
                        "SES DKIM",
                        Content::Pending {
                            domain: id.domain.clone(),
                            note: "3 Easy DKIM CNAMEs; SES gives their tokens when it sets up the signing key".into(),
                        },
                    ),
                },
                DkimSetting::External { selector } => {
                    let published = known.is_some_and(|o| o.dkim_origin == "EXTERNAL" && o.tokens == [selector.clone()]);
                    push(
                        dkim::record_name(selector, &id.domain),
                        "TXT",
                        "SES DKIM",
                        if published {
                            Content::Keep
                        } else {
                            Content::Pending {
                                domain: id.domain.clone(),
                                note: "the public half of the RSA 2048 key mailinfra generates for SES".into(),
                            }
                        },
                    );
                }
            }
            if let Some(mf) = &id.mail_from {
                push(
                    mf.domain.clone(),
                    "MX",
                    "MAIL FROM",
                    Content::Whole {
                        values: vec![mail_from_mx(&region)],
                    },
                );
                push(
                    mf.domain.clone(),
                    "TXT",
                    "MAIL FROM SPF",
                    Content::Spf {
                        text: mf.spf.clone(),
                    },
                );
            }
        }
    }

    /// Puts a value learned from AWS where its placeholder stands (the gateway's Elastic IP,
    /// its DKIM public key). TXT values are re-split after the substitution.
    pub fn substitute(&mut self, placeholder: &str, value: &str) {
        for r in &mut self.records {
            match &mut r.content {
                Content::Whole { values } => {
                    for v in values.iter_mut() {
                        if v.contains(placeholder)
                            || (r.rtype == "TXT" && txt::text_of(v).contains(placeholder))
                        {
                            *v = if r.rtype == "TXT" {
                                txt::encode(&txt::text_of(v).replace(placeholder, value))
                            } else {
                                v.replace(placeholder, value)
                            };
                        }
                    }
                }
                Content::Spf { text } => *text = text.replace(placeholder, value),
                _ => {}
            }
        }
    }

    /// Replaces a domain's pending records with what apply learned.
    pub fn resolve(&mut self, domain: &str, resolved: &Resolved) {
        let mut added = Vec::new();
        self.records.retain(|r| {
            let Content::Pending { domain: d, .. } = &r.content else {
                return true;
            };
            if d != domain {
                return true;
            }
            match resolved {
                Resolved::Easy {
                    tokens,
                    signing_zone,
                } => {
                    for t in tokens {
                        added.push(DesiredRecord {
                            name: dkim::record_name(t, domain),
                            content: Content::Whole {
                                values: vec![format!("{t}.{signing_zone}")],
                            },
                            ..r.clone()
                        });
                    }
                }
                Resolved::External { public_key_b64 } => added.push(DesiredRecord {
                    content: Content::Whole {
                        values: vec![txt::encode(&dkim::record_text(public_key_b64))],
                    },
                    ..r.clone()
                }),
            }
            false
        });
        self.records.extend(added);
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
    if let Some(g) = &bp.gateway {
        let zone = g.zone_name();
        records.push(DesiredRecord {
            zone: zone.clone(),
            name: g.hostname.value.clone(),
            rtype: "A".into(),
            ttl: default_ttl,
            content: Content::Whole {
                values: vec![gateway::IP.into()],
            },
            purpose: "gateway A".into(),
        });
        zones.insert(zone);
        for d in bp.domains.iter().filter(|d| d.via_gateway.is_some()) {
            let ttl = d.ttl.as_ref().map_or(default_ttl, |t| t.value);
            // The gateway's IP joins the domain's own SPF, or makes one.
            let text = match &d.spf {
                Some(s) => {
                    spf::compose(s).replacen("v=spf1", &format!("v=spf1 ip4:{}", gateway::IP), 1)
                }
                None => format!("v=spf1 ip4:{} ~all", gateway::IP),
            };
            match records
                .iter_mut()
                .find(|r| r.name == d.domain.value && r.purpose == "SPF")
            {
                Some(r) => r.content = Content::Spf { text },
                None => records.push(DesiredRecord {
                    zone: d.zone_name().to_owned(),
                    name: d.domain.value.clone(),
                    rtype: "TXT".into(),
                    ttl,
                    content: Content::Spf { text },
                    purpose: "SPF".into(),
                }),
            }
            records.push(DesiredRecord {
                zone: d.zone_name().to_owned(),
                name: dkim::record_name(&g.dkim_selector.value, &d.domain.value),
                rtype: "TXT".into(),
                ttl,
                content: Content::Whole {
                    values: vec![txt::encode(&dkim::record_text(gateway::DKIM_KEY))],
                },
                purpose: "gateway DKIM".into(),
            });
        }
    }
    Desired {
        blueprint: bp.name.value.clone(),
        region: bp.region().map(str::to_owned),
        zones,
        domains: bp.domains.iter().map(|d| d.domain.value.clone()).collect(),
        records,
        adopt: bp.adopt.iter().map(|a| a.value.clone()).collect(),
        ses: ses::from_blueprint(bp),
        gateway: gateway::from_blueprint(bp),
        gateway_scope: gateway::from_blueprint(bp),
    }
}
