//! The SES half of the diff: identities, configuration sets and account settings, compared
//! with what SES holds, owned through the `mailinfra:blueprint` tag. Pure.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::kinds::ses::verification;
use crate::kinds::ses::{
    self, DesiredConfigSet, DesiredIdentity, DesiredSes, DkimOrigin, DkimSetting, MxFailure,
    OWNER_TAG, ObservedAccount, ObservedIdentity, ObservedSes, ProductionAccess, SuppressionReason,
    config_set_address, identity_address,
};
use crate::plan::desired::{Desired, OutputRef, OutputValue, Outputs};
use crate::plan::observed::Observed;
use crate::plan::{Action, Conflict, Report, ResourceChange, field};

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
        identity: Box<DesiredIdentity>,
        tags: BTreeMap<String, String>,
    },
    TagIdentity {
        domain: String,
        tags: BTreeMap<String, String>,
    },
    /// Set how SES signs, after writing the tag `mark` (`rotation::KeyTag`). For
    /// `External`, apply generates a new key, publishes it, and gives it to SES once Route 53
    /// has it INSYNC (docs/rotation.md, "SES BYODKIM").
    SetDkim {
        domain: String,
        dkim: DkimSetting,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        mark: Option<String>,
    },
    EnableDkimSigning {
        domain: String,
    },
    SetMailFrom {
        domain: String,
        mail_from: Option<String>,
        behavior: MxFailure,
    },
    SetIdentityConfigurationSet {
        domain: String,
        name: Option<String>,
    },
    DeleteIdentity {
        domain: String,
    },
    SetAccountSuppression {
        reasons: Vec<SuppressionReason>,
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

/// One SES API change.
pub type SesChange = ResourceChange<SesOp>;

fn list<T: std::fmt::Display>(v: &[T]) -> String {
    if v.is_empty() {
        "(none)".into()
    } else {
        v.iter().map(T::to_string).collect::<Vec<_>>().join(", ")
    }
}

/// A configuration set's suppression: its own reasons, or the account's list.
fn suppression_text(reasons: Option<&[SuppressionReason]>) -> String {
    reasons.map_or_else(|| "(the account's list)".into(), list)
}

fn dkim_text(d: &DkimSetting) -> String {
    match d {
        DkimSetting::Easy { key_length } => format!("Easy DKIM ({key_length})"),
        DkimSetting::External { selector } => {
            format!("BYODKIM, selector {selector} (key generated at apply)")
        }
    }
}

/// An SES identity's DKIM key rotation under way (docs/rotation.md, "SES BYODKIM"): its
/// stage, and when an apply next has something to do. Shown until the old key is retired.
fn key_rotation(id: &DesiredIdentity) -> Option<Report> {
    let k = id.keys.as_ref().filter(|k| k.in_progress())?;
    let mut steps = Vec::new();
    if let Some(due) = k.next_due {
        steps.push(format!(
            "the next step is due {}: the first `mailinfra apply` after that takes it (a pipeline that applies daily finishes the rotation by itself)",
            crate::kinds::rotation::format_time(due)
        ));
    }
    Some(Report {
        address: format!("{}.dkim_key.rotation", identity_address(&id.domain)),
        kind: crate::plan::ReportKind::Pending,
        title: format!("DKIM key rotation of {}: {}", id.domain, k.stage),
        steps,
    })
}

/// Identities SES has not verified yet: reported, never a change and never a failure.
pub fn pending(desired: &Desired, observed: &Observed) -> Vec<Report> {
    let Some(obs) = &observed.ses else {
        return Vec::new();
    };
    desired
        .ses
        .identities
        .iter()
        .flat_map(|id| {
            let o = obs.identities.get(&id.domain);
            o.and_then(|o| verifying(id, o))
                .into_iter()
                .chain(o.and_then(|o| key_length_change(id, o)))
                .chain(o.and(key_rotation(id)))
        })
        .collect()
}

/// An Easy DKIM key length change SES has not carried out yet: it signs with the old key
/// until it generates the next pair, on its own schedule (SES Developer Guide, "DKIM signing
/// key length"); the CNAMEs do not change.
fn key_length_change(id: &DesiredIdentity, o: &ObservedIdentity) -> Option<Report> {
    let (current, next) = o.easy_dkim_key_change()?;
    Some(Report {
        address: format!("{}.dkim_key", identity_address(&id.domain)),
        kind: crate::plan::ReportKind::Pending,
        title: format!(
            "SES signs {} with its {current} key until SES generates the {next} one",
            id.domain
        ),
        steps: vec![
            "nothing to do: SES generates the next Easy DKIM key pair on its own schedule, behind the same CNAMEs; `mailinfra status` shows when it last did".into(),
        ],
    })
}

/// An identity SES is still verifying.
fn verifying(id: &DesiredIdentity, o: &ObservedIdentity) -> Option<Report> {
    let progress = verification::progress(id, Some(o));
    if progress.is_done() {
        return None;
    }
    let mail_from = progress
        .mail_from_text()
        .map(|t| format!(", {t}"))
        .unwrap_or_default();
    let checked = o
        .last_checked
        .map(|t| format!("; SES last checked DNS {t} (seconds since the epoch)"))
        .unwrap_or_default();
    Some(Report {
        address: format!("{}.verification", identity_address(&id.domain)),
        kind: crate::plan::ReportKind::Pending,
        title: format!(
            "SES is still verifying {} ({}{mail_from}{checked})",
            id.domain,
            progress.verification_text(),
        ),
        steps: vec![
            "pending is not failed: SES checks DNS on its own schedule, up to 72 hours; `mailinfra status` shows the details, `apply --wait` waits".into(),
        ],
    })
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
    let owner = Owner {
        me: desired.blueprint.as_str(),
        adopt: &desired.adopt,
    };
    let ds = &desired.ses;
    for set in &ds.config_sets {
        match config_set(&owner, set, obs) {
            Ok(change) => changes.extend(change),
            Err(c) => conflicts.push(c),
        }
    }
    for id in &ds.identities {
        match identity(&owner, id, ds, obs, &mut rekey) {
            Ok(more) => changes.extend(more),
            Err(c) => conflicts.push(c),
        }
    }
    changes.extend(deletions(&owner, ds, obs));
    if let Some(acct) = &obs.account {
        changes.extend(account_suppression(ds, acct));
        changes.extend(production_access(ds, acct));
    }
    changes.sort_by(|a, b| (a.op.phase(), &a.address).cmp(&(b.op.phase(), &b.address)));
    (changes, rekey)
}

/// Who owns what: this blueprint, through the owner tag, and what it adopts.
struct Owner<'a> {
    me: &'a str,
    adopt: &'a BTreeSet<String>,
}

impl Owner<'_> {
    fn owns(&self, tags: &BTreeMap<String, String>) -> bool {
        tags.get(OWNER_TAG).map(String::as_str) == Some(self.me)
    }

    /// Whether the blueprint may manage an existing resource: `Ok(true)` it owns it,
    /// `Ok(false)` it adopts it now; a conflict when another blueprint owns it, or nobody
    /// does and the blueprint does not adopt it.
    fn claim(
        &self,
        address: &str,
        what: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<bool, Conflict> {
        let foreign = tags.get(OWNER_TAG).is_some_and(|o| o != self.me);
        if foreign || (!self.owns(tags) && !self.adopt.contains(address)) {
            return Err(unowned(address, what, tags));
        }
        Ok(self.owns(tags))
    }
}

/// A configuration set: created when missing, its drifted parts written when owned or adopted.
fn config_set(
    owner: &Owner,
    set: &DesiredConfigSet,
    obs: &ObservedSes,
) -> Result<Option<SesChange>, Conflict> {
    let address = config_set_address(&set.name);
    let Some(o) = obs.config_sets.get(&set.name) else {
        return Ok(Some(SesChange {
            address,
            action: Action::Create,
            fields: vec![
                field(
                    "suppression",
                    None,
                    Some(suppression_text(set.suppression.as_deref())),
                ),
                field("tls", None, Some(set.tls.to_string())),
                field(
                    "sending_enabled",
                    None,
                    Some(set.sending_enabled.to_string()),
                ),
            ],
            op: SesOp::CreateConfigurationSet { set: set.clone() },
        }));
    };
    let owned = owner.claim(
        &address,
        &format!("configuration set `{}`", set.name),
        &o.tags,
    )?;
    let mut fields = Vec::new();
    // Absent in the blueprint: the set's suppression is not managed.
    let suppression = set
        .suppression
        .as_ref()
        .is_some_and(|want| o.suppression.as_ref() != Some(want));
    if suppression {
        fields.push(field(
            "suppression",
            Some(suppression_text(o.suppression.as_deref())),
            Some(suppression_text(set.suppression.as_deref())),
        ));
    }
    let delivery = o.tls != set.tls;
    if delivery {
        fields.push(field(
            "tls",
            Some(o.tls.to_string()),
            Some(set.tls.to_string()),
        ));
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
    Ok((!fields.is_empty()).then(|| SesChange {
        address,
        action: if owned { Action::Update } else { Action::Adopt },
        fields,
        op: SesOp::UpdateConfigurationSet {
            set: set.clone(),
            suppression,
            delivery,
            sending,
            tags,
        },
    }))
}

/// A domain identity and its settings: created when missing; otherwise claimed (tagged when
/// adopted), then its DKIM, MAIL FROM and configuration set compared part by part.
fn identity(
    owner: &Owner,
    id: &DesiredIdentity,
    ds: &DesiredSes,
    obs: &ObservedSes,
    rekey: &mut BTreeSet<String>,
) -> Result<Vec<SesChange>, Conflict> {
    let address = identity_address(&id.domain);
    if let Some(cs) = &id.configuration_set
        && !obs.config_sets.contains_key(cs)
        && !ds.config_sets.iter().any(|s| &s.name == cs)
    {
        return Err(Conflict {
            address,
            message: format!(
                "configuration set `{cs}` does not exist in SES and the blueprint does not define it"
            ),
            hint: format!(
                "add it under `ses: configuration_sets:` (`- name: {cs}`), or fix the name"
            ),
        });
    }
    let tags = ses::owner_tags(owner.me, &address);
    let Some(o) = obs.identities.get(&id.domain) else {
        rekey.insert(id.domain.clone());
        let mut tags = tags;
        // A BYODKIM key's history starts with the identity (`rotation::KeyTag`).
        if let Some(mark) = id.keys.as_ref().and_then(|k| k.mark.clone()) {
            tags.insert(ses::rotation::TAG.to_owned(), mark);
        }
        return Ok(vec![create_identity(id, address, tags)]);
    };
    let mut changes = Vec::new();
    if !owner.claim(&address, &format!("SES identity `{}`", id.domain), &o.tags)? {
        changes.push(SesChange {
            address: address.clone(),
            action: Action::Adopt,
            fields: vec![field(
                "tags",
                None,
                Some(format!("{OWNER_TAG}={}", owner.me)),
            )],
            op: SesOp::TagIdentity {
                domain: id.domain.clone(),
                tags,
            },
        });
    }
    let need = dkim_need(id, o);
    if need == DkimNeed::NewKey {
        rekey.insert(id.domain.clone());
    }
    changes.extend(dkim(id, o, need, &address));
    changes.extend(mail_from(id, o, &address));
    changes.extend(identity_config_set(id, o, &address));
    Ok(changes)
}

fn create_identity(
    id: &DesiredIdentity,
    address: String,
    tags: BTreeMap<String, String>,
) -> SesChange {
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
    SesChange {
        address,
        action: Action::Create,
        fields,
        op: SesOp::CreateIdentity {
            // What the create sends; the key decision is in the tags (`mark`).
            identity: Box::new(DesiredIdentity {
                keys: None,
                key_policy: None,
                ..id.clone()
            }),
            tags,
        },
    }
}

/// What an existing identity's DKIM needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DkimNeed {
    /// As desired.
    InPlace,
    /// Easy DKIM with another next key length: set anew, the tokens stay.
    KeyLength,
    /// A new signer (`rotation::decide`): a new BYODKIM key, or Easy DKIM; DNS takes the new
    /// values.
    NewKey,
}

fn dkim_need(id: &DesiredIdentity, o: &ObservedIdentity) -> DkimNeed {
    if id.keys.as_ref().is_some_and(|k| k.switch) {
        return DkimNeed::NewKey;
    }
    match &id.dkim {
        DkimSetting::Easy { key_length }
            if o.dkim_origin == DkimOrigin::AwsSes
                && o.next_key_length.as_ref().is_some_and(|k| k != key_length) =>
        {
            DkimNeed::KeyLength
        }
        _ => DkimNeed::InPlace,
    }
}

/// DKIM set anew when it needs it; otherwise signing turned back on when it is off.
fn dkim(
    id: &DesiredIdentity,
    o: &ObservedIdentity,
    need: DkimNeed,
    address: &str,
) -> Option<SesChange> {
    if need != DkimNeed::InPlace {
        let before = if o.dkim_origin == DkimOrigin::AwsSes {
            let length = o.next_key_length.as_ref().map(|k| k.as_str());
            format!("Easy DKIM ({})", length.unwrap_or_default())
        } else {
            format!("BYODKIM, selector {}", o.tokens.join(","))
        };
        let keys = id.keys.as_ref().filter(|_| need == DkimNeed::NewKey);
        // The new key's selector: the blueprint's, or one a rotation names.
        let dkim = match (&id.dkim, keys.and_then(|k| k.new_key.as_ref())) {
            (DkimSetting::External { .. }, Some(selector)) => DkimSetting::External {
                selector: selector.clone(),
            },
            (d, _) => d.clone(),
        };
        let mut after = dkim_text(&dkim);
        if matches!(dkim, DkimSetting::External { .. }) {
            after.push_str(", published before SES signs with it");
        }
        return Some(SesChange {
            address: format!("{address}.dkim"),
            action: Action::Update,
            fields: vec![field("dkim", Some(before), Some(after))],
            op: SesOp::SetDkim {
                domain: id.domain.clone(),
                dkim,
                mark: keys.and_then(|k| k.mark.clone()),
            },
        });
    }
    (!o.signing_enabled).then(|| SesChange {
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
    })
}

fn mail_from(id: &DesiredIdentity, o: &ObservedIdentity, address: &str) -> Option<SesChange> {
    let want_mf = id
        .mail_from
        .as_ref()
        .map(|m| (m.domain.clone(), m.behavior.clone()));
    let have_mf = o
        .mail_from
        .as_ref()
        .map(|m| (m.domain.clone(), m.behavior.clone()));
    if want_mf == have_mf {
        return None;
    }
    let show = |m: &Option<(String, MxFailure)>| m.as_ref().map(|(d, b)| format!("{d} ({b})"));
    Some(SesChange {
        address: format!("{address}.mail_from"),
        action: Action::Update,
        fields: vec![field("mail_from", show(&have_mf), show(&want_mf))],
        op: SesOp::SetMailFrom {
            domain: id.domain.clone(),
            mail_from: want_mf.as_ref().map(|m| m.0.clone()),
            behavior: want_mf.map_or(MxFailure::UseDefaultValue, |m| m.1),
        },
    })
}

/// The configuration set an identity sends through by default.
fn identity_config_set(
    id: &DesiredIdentity,
    o: &ObservedIdentity,
    address: &str,
) -> Option<SesChange> {
    (o.configuration_set != id.configuration_set).then(|| SesChange {
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
    })
}

/// The identities and sets this blueprint owns and no longer wants.
fn deletions(owner: &Owner, ds: &DesiredSes, obs: &ObservedSes) -> Vec<SesChange> {
    let identities = obs
        .identities
        .iter()
        .filter(|(domain, o)| {
            owner.owns(&o.tags) && !ds.identities.iter().any(|i| &i.domain == *domain)
        })
        .map(|(domain, _)| SesChange {
            address: identity_address(domain),
            action: Action::Delete,
            fields: vec![],
            op: SesOp::DeleteIdentity {
                domain: domain.clone(),
            },
        });
    let sets = obs
        .config_sets
        .iter()
        .filter(|(name, o)| owner.owns(&o.tags) && !ds.config_sets.iter().any(|s| &s.name == *name))
        .map(|(name, _)| SesChange {
            address: config_set_address(name),
            action: Action::Delete,
            fields: vec![],
            op: SesOp::DeleteConfigurationSet { name: name.clone() },
        });
    identities.chain(sets).collect()
}

fn account_suppression(ds: &DesiredSes, acct: &ObservedAccount) -> Option<SesChange> {
    let want = ds.account_suppression.as_ref()?;
    (&acct.details.suppression != want).then(|| SesChange {
        address: "ses.account.suppression".into(),
        action: Action::Update,
        fields: vec![field(
            "suppressed_reasons",
            Some(list(&acct.details.suppression)),
            Some(list(want)),
        )],
        op: SesOp::SetAccountSuppression {
            reasons: want.clone(),
        },
    })
}

/// Production access is requested once: not while AWS reviews a request, nor after it
/// answered.
fn production_access(ds: &DesiredSes, acct: &ObservedAccount) -> Option<SesChange> {
    let request = ds.production_access.as_ref()?;
    (!acct.production_access && acct.details.review_status.is_none()).then(|| SesChange {
        address: "ses.account.production_access".into(),
        action: Action::Create,
        fields: vec![
            field("mail_type", None, Some(request.mail_type.to_string())),
            field("website_url", None, Some(request.website_url.clone())),
        ],
        op: SesOp::RequestProductionAccess {
            request: request.clone(),
        },
    })
}

fn unowned(address: &str, what: &str, tags: &BTreeMap<String, String>) -> Conflict {
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
        if id.dkim_origin == DkimOrigin::AwsSes && id.tokens.len() == 3 && !rekey.contains(domain) {
            known.set(
                OutputRef::ses_tokens(domain),
                OutputValue::Tokens {
                    tokens: id.tokens.clone(),
                    signing_zone: id
                        .signing_zone
                        .clone()
                        .unwrap_or_else(|| ses::default_signing_zone(&o.region)),
                },
            );
        }
    }
    known
}
