//! The SES half of the diff: identities, configuration sets and account settings, compared
//! with what SES holds, owned through the `mailinfra:blueprint` tag. Pure.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::kinds::records::ownership;
use crate::kinds::ses::{
    self, DEFAULT_SIGNING_ZONE, DesiredConfigSet, DesiredIdentity, DkimSetting, OWNER_TAG,
    ObservedSes, ProductionAccess, config_set_address, identity_address,
};
use crate::plan::desired::{Desired, OutputRef, OutputValue, Outputs};
use crate::plan::observed::Observed;
use crate::plan::{Action, Conflict};

/// One SES API change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum SesOp {
    CreateConfigurationSet {
        set: DesiredConfigSet,
    },
    /// Which parts of an existing set to write.
    UpdateConfigurationSet {
        set: DesiredConfigSet,
        suppression: bool,
        delivery: bool,
        sending: bool,
        tags: bool,
    },
    DeleteConfigurationSet {
        name: String,
    },
    CreateIdentity {
        identity: DesiredIdentity,
        tags: std::collections::BTreeMap<String, String>,
    },
    TagIdentity {
        domain: String,
        tags: std::collections::BTreeMap<String, String>,
    },
    /// Set how SES signs; for `External`, apply generates a new key.
    SetDkim {
        domain: String,
        dkim: DkimSetting,
    },
    EnableDkimSigning {
        domain: String,
    },
    SetMailFrom {
        domain: String,
        mail_from: Option<String>,
        behavior: String,
    },
    SetIdentityConfigurationSet {
        domain: String,
        name: Option<String>,
    },
    DeleteIdentity {
        domain: String,
    },
    SetAccountSuppression {
        reasons: Vec<String>,
    },
    RequestProductionAccess {
        request: ProductionAccess,
    },
}

impl SesOp {
    /// Execution order: sets before the identities that use them, identities before their
    /// settings, deletions of identities before the sets they used.
    pub fn phase(&self) -> u8 {
        match self {
            SesOp::CreateConfigurationSet { .. } | SesOp::UpdateConfigurationSet { .. } => 0,
            SesOp::CreateIdentity { .. } | SesOp::TagIdentity { .. } => 1,
            SesOp::SetDkim { .. } | SesOp::EnableDkimSigning { .. } => 2,
            SesOp::SetMailFrom { .. } | SesOp::SetIdentityConfigurationSet { .. } => 3,
            SesOp::SetAccountSuppression { .. } | SesOp::RequestProductionAccess { .. } => 4,
            SesOp::DeleteIdentity { .. } => 5,
            SesOp::DeleteConfigurationSet { .. } => 6,
        }
    }
}

/// One line of what changes, for people: `field: before -> after`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldChange {
    pub field: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SesChange {
    pub address: String,
    pub action: Action,
    pub op: SesOp,
    pub fields: Vec<FieldChange>,
}

fn field(name: &str, before: Option<String>, after: Option<String>) -> FieldChange {
    FieldChange {
        field: name.into(),
        before,
        after,
    }
}

fn list(v: &[String]) -> String {
    if v.is_empty() {
        "(none)".into()
    } else {
        v.join(", ")
    }
}

fn dkim_text(d: &DkimSetting) -> String {
    match d {
        DkimSetting::Easy { key_length } => format!("Easy DKIM ({key_length})"),
        DkimSetting::External { selector } => {
            format!("BYODKIM, selector {selector} (key generated at apply)")
        }
    }
}

/// Identities SES has not verified yet: reported, never a change and never a failure.
pub fn pending(desired: &Desired, observed: &Observed) -> Vec<crate::plan::Report> {
    let Some(obs) = &observed.ses else {
        return Vec::new();
    };
    desired
        .ses
        .identities
        .iter()
        .filter_map(|id| {
            let o = obs.identities.get(&id.domain)?;
            let mf = o.mail_from.as_ref().map(|m| m.status.as_str());
            let mail_from_pending = id.mail_from.is_some() && mf != Some("SUCCESS");
            if o.verified_for_sending && !mail_from_pending {
                return None;
            }
            let checked = o
                .last_checked
                .map(|t| format!("; SES last checked DNS {t} (seconds since the epoch)"))
                .unwrap_or_default();
            Some(crate::plan::Report {
                address: format!("{}.verification", identity_address(&id.domain)),
                kind: crate::plan::ReportKind::Pending,
                title: format!(
                    "SES is still verifying {} (verification {}{}{checked})",
                    id.domain,
                    o.verification,
                    if mail_from_pending { format!(", MAIL FROM {}", mf.unwrap_or("NOT SET")) } else { String::new() }
                ),
                steps: vec![
                    "pending is not failed: SES checks DNS on its own schedule, up to 72 hours; `mailinfra status` shows the details, `apply --wait` waits".into(),
                ],
            })
        })
        .collect()
}

/// The SES changes, the domains whose DKIM apply sets anew (their DNS values are pending),
/// and any conflicts.
pub fn diff(
    desired: &Desired,
    observed: &Observed,
    conflicts: &mut Vec<Conflict>,
) -> (Vec<SesChange>, BTreeSet<String>) {
    let mut changes = Vec::new();
    let mut rekey = BTreeSet::new();
    let Some(obs) = &observed.ses else {
        return (changes, rekey);
    };
    let me = desired.blueprint.as_str();
    let ds = &desired.ses;
    let owned = |tags: &std::collections::BTreeMap<String, String>| {
        tags.get(OWNER_TAG).map(String::as_str) == Some(me)
    };
    let foreign = |tags: &std::collections::BTreeMap<String, String>| {
        tags.get(OWNER_TAG).is_some_and(|o| o != me)
    };

    for set in &ds.config_sets {
        let address = config_set_address(&set.name);
        match obs.config_sets.get(&set.name) {
            None => changes.push(SesChange {
                address,
                action: Action::Create,
                fields: vec![
                    field("suppression", None, Some(list(&set.suppression))),
                    field("tls", None, Some(set.tls.clone())),
                    field(
                        "sending_enabled",
                        None,
                        Some(set.sending_enabled.to_string()),
                    ),
                ],
                op: SesOp::CreateConfigurationSet { set: set.clone() },
            }),
            Some(o) => {
                let adopting = desired.adopt.contains(&address);
                if foreign(&o.tags) || (!owned(&o.tags) && !adopting) {
                    conflicts.push(unowned(
                        &address,
                        &format!("configuration set `{}`", set.name),
                        &o.tags,
                    ));
                    continue;
                }
                let mut fields = Vec::new();
                let suppression = o.suppression != set.suppression;
                if suppression {
                    fields.push(field(
                        "suppression",
                        Some(list(&o.suppression)),
                        Some(list(&set.suppression)),
                    ));
                }
                let delivery = o.tls != set.tls;
                if delivery {
                    fields.push(field("tls", Some(o.tls.clone()), Some(set.tls.clone())));
                }
                let sending = o.sending_enabled != set.sending_enabled;
                if sending {
                    fields.push(field(
                        "sending_enabled",
                        Some(o.sending_enabled.to_string()),
                        Some(set.sending_enabled.to_string()),
                    ));
                }
                let tags = set.tags.iter().any(|(k, v)| o.tags.get(k) != Some(v));
                if tags {
                    fields.push(field(
                        "tags",
                        Some(format!("{:?}", o.tags)),
                        Some(format!("{:?}", set.tags)),
                    ));
                }
                if !fields.is_empty() {
                    changes.push(SesChange {
                        address,
                        action: if owned(&o.tags) {
                            Action::Update
                        } else {
                            Action::Adopt
                        },
                        fields,
                        op: SesOp::UpdateConfigurationSet {
                            set: set.clone(),
                            suppression,
                            delivery,
                            sending,
                            tags,
                        },
                    });
                }
            }
        }
    }

    for id in &ds.identities {
        let address = identity_address(&id.domain);
        if let Some(cs) = &id.configuration_set
            && !obs.config_sets.contains_key(cs)
            && !ds.config_sets.iter().any(|s| &s.name == cs)
        {
            conflicts.push(Conflict {
                address: address.clone(),
                message: format!("configuration set `{cs}` does not exist in SES and the blueprint does not define it"),
                hint: format!("add it under `ses: configuration_sets:` (`- name: {cs}`), or fix the name"),
            });
            continue;
        }
        let tags = ses::owner_tags(me, &address);
        let Some(o) = obs.identities.get(&id.domain) else {
            let mut fields = vec![field("dkim", None, Some(dkim_text(&id.dkim)))];
            if let Some(mf) = &id.mail_from {
                fields.push(field(
                    "mail_from",
                    None,
                    Some(format!("{} ({})", mf.domain, mf.behavior)),
                ));
            }
            if let Some(cs) = &id.configuration_set {
                fields.push(field("configuration_set", None, Some(cs.clone())));
            }
            changes.push(SesChange {
                address,
                action: Action::Create,
                fields,
                op: SesOp::CreateIdentity {
                    identity: id.clone(),
                    tags,
                },
            });
            rekey.insert(id.domain.clone());
            continue;
        };
        let adopting = desired.adopt.contains(&address);
        if foreign(&o.tags) || (!owned(&o.tags) && !adopting) {
            conflicts.push(unowned(
                &address,
                &format!("SES identity `{}`", id.domain),
                &o.tags,
            ));
            continue;
        }
        if !owned(&o.tags) {
            changes.push(SesChange {
                address: address.clone(),
                action: Action::Adopt,
                fields: vec![field("tags", None, Some(format!("{OWNER_TAG}={me}")))],
                op: SesOp::TagIdentity {
                    domain: id.domain.clone(),
                    tags,
                },
            });
        }
        let dkim_change = match &id.dkim {
            DkimSetting::Easy { key_length } => {
                if o.dkim_origin != "AWS_SES" {
                    rekey.insert(id.domain.clone());
                    true
                } else {
                    o.next_key_length
                        .as_deref()
                        .is_some_and(|k| k != key_length)
                }
            }
            DkimSetting::External { selector } => {
                let name = crate::mail::dkim::record_name(selector, &id.domain);
                let published = observed.zones.iter().any(|z| {
                    z.records.iter().any(|r| r.name == name && r.rtype == "TXT")
                        && z.records.iter().any(|r| {
                            r.name == ownership::marker_name(&name, "TXT")
                                && ownership::parse(r).is_some_and(|ow| ow.blueprint == me)
                        })
                });
                let same = o.dkim_origin == "EXTERNAL" && o.tokens == [selector.clone()];
                if !same || !published {
                    rekey.insert(id.domain.clone());
                    true
                } else {
                    false
                }
            }
        };
        if dkim_change {
            let before = if o.dkim_origin == "AWS_SES" {
                format!(
                    "Easy DKIM ({})",
                    o.next_key_length.clone().unwrap_or_default()
                )
            } else {
                format!("BYODKIM, selector {}", o.tokens.join(","))
            };
            changes.push(SesChange {
                address: format!("{address}.dkim"),
                action: Action::Update,
                fields: vec![field("dkim", Some(before), Some(dkim_text(&id.dkim)))],
                op: SesOp::SetDkim {
                    domain: id.domain.clone(),
                    dkim: id.dkim.clone(),
                },
            });
        } else if !o.signing_enabled {
            changes.push(SesChange {
                address: format!("{address}.dkim"),
                action: Action::Update,
                fields: vec![field(
                    "signing_enabled",
                    Some("false".into()),
                    Some("true".into()),
                )],
                op: SesOp::EnableDkimSigning {
                    domain: id.domain.clone(),
                },
            });
        }
        let want_mf = id
            .mail_from
            .as_ref()
            .map(|m| (m.domain.clone(), m.behavior.clone()));
        let have_mf = o
            .mail_from
            .as_ref()
            .map(|m| (m.domain.clone(), m.behavior.clone()));
        if want_mf != have_mf {
            let show = |m: &Option<(String, String)>| m.as_ref().map(|(d, b)| format!("{d} ({b})"));
            changes.push(SesChange {
                address: format!("{address}.mail_from"),
                action: Action::Update,
                fields: vec![field("mail_from", show(&have_mf), show(&want_mf))],
                op: SesOp::SetMailFrom {
                    domain: id.domain.clone(),
                    mail_from: want_mf.as_ref().map(|m| m.0.clone()),
                    behavior: want_mf.map_or_else(|| "USE_DEFAULT_VALUE".into(), |m| m.1),
                },
            });
        }
        if o.configuration_set != id.configuration_set {
            changes.push(SesChange {
                address: format!("{address}.configuration_set"),
                action: Action::Update,
                fields: vec![field(
                    "configuration_set",
                    o.configuration_set.clone(),
                    id.configuration_set.clone(),
                )],
                op: SesOp::SetIdentityConfigurationSet {
                    domain: id.domain.clone(),
                    name: id.configuration_set.clone(),
                },
            });
        }
    }

    for (domain, o) in &obs.identities {
        if owned(&o.tags) && !ds.identities.iter().any(|i| &i.domain == domain) {
            changes.push(SesChange {
                address: identity_address(domain),
                action: Action::Delete,
                fields: vec![],
                op: SesOp::DeleteIdentity {
                    domain: domain.clone(),
                },
            });
        }
    }
    for (name, o) in &obs.config_sets {
        if owned(&o.tags) && !ds.config_sets.iter().any(|s| &s.name == name) {
            changes.push(SesChange {
                address: config_set_address(name),
                action: Action::Delete,
                fields: vec![],
                op: SesOp::DeleteConfigurationSet { name: name.clone() },
            });
        }
    }

    account(ds, obs, &mut changes);
    changes.sort_by(|a, b| (a.op.phase(), &a.address).cmp(&(b.op.phase(), &b.address)));
    (changes, rekey)
}

fn account(ds: &ses::DesiredSes, obs: &ObservedSes, changes: &mut Vec<SesChange>) {
    let Some(acct) = &obs.account else { return };
    if let Some(want) = &ds.account_suppression
        && &acct.suppression != want
    {
        changes.push(SesChange {
            address: "ses.account.suppression".into(),
            action: Action::Update,
            fields: vec![field(
                "suppressed_reasons",
                Some(list(&acct.suppression)),
                Some(list(want)),
            )],
            op: SesOp::SetAccountSuppression {
                reasons: want.clone(),
            },
        });
    }
    if let Some(request) = &ds.production_access
        && !acct.production_access
        && acct.review_status.is_none()
    {
        changes.push(SesChange {
            address: "ses.account.production_access".into(),
            action: Action::Create,
            fields: vec![
                field("mail_type", None, Some(request.mail_type.clone())),
                field("website_url", None, Some(request.website_url.clone())),
            ],
            op: SesOp::RequestProductionAccess {
                request: request.clone(),
            },
        });
    }
}

fn unowned(
    address: &str,
    what: &str,
    tags: &std::collections::BTreeMap<String, String>,
) -> Conflict {
    match tags.get(OWNER_TAG) {
        Some(other) => Conflict {
            address: address.into(),
            message: format!("{what} is owned by blueprint `{other}`"),
            hint: "two blueprints cannot manage one resource; remove it from one of them".into(),
        },
        None => Conflict {
            address: address.into(),
            message: format!(
                "{what} already exists and mailinfra does not own it (no `{OWNER_TAG}` tag)"
            ),
            hint: format!(
                "if mailinfra should manage it from now on, add to the blueprint:\n      adopt:\n        - {address}"
            ),
        },
    }
}

/// The Easy DKIM tokens SES already gave, except for the domains in `rekey`, whose DKIM apply
/// sets anew.
pub fn known_outputs(o: &ObservedSes, rekey: &BTreeSet<String>) -> Outputs {
    let mut known = Outputs::default();
    for (domain, id) in &o.identities {
        if id.dkim_origin == "AWS_SES" && id.tokens.len() == 3 && !rekey.contains(domain) {
            known.set(
                OutputRef::ses_tokens(domain),
                OutputValue::Tokens {
                    tokens: id.tokens.clone(),
                    signing_zone: id
                        .signing_zone
                        .clone()
                        .unwrap_or_else(|| DEFAULT_SIGNING_ZONE.into()),
                },
            );
        }
    }
    known
}
