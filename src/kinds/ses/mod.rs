//! Amazon SES v2 state: what a blueprint wants (identities, configuration sets, account
//! settings) and what SES holds. SES's enumerations are types (`values`) written in SES's own
//! spellings (`RSA_2048_BIT`, `BOUNCE`, `REQUIRE`, `USE_DEFAULT_VALUE`), so desired and
//! observed compare without translation and the plan reads as SES does.
//! SES resources carry tags, so ownership is the tag `mailinfra:blueprint`.

pub mod diff;
pub mod execute;
pub mod observe;
pub mod rotation;
pub mod values;
pub mod verification;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::blueprint::{
    self, Blueprint, ConfigSetSpec, DEFAULT_TTL, DomainSpec, ProductionAccessSpec, SesDkimSpec,
    SesDomainSpec, SpfAll,
};
use crate::mail::spf;
pub use values::{
    ContactLanguage, DkimOrigin, KeyLength, MailType, MxFailure, ReviewStatus, SuppressionReason,
    TlsPolicy, VerificationStatus,
};

pub use super::{ADDRESS_TAG, OWNER_TAG};
/// Regions whose Easy DKIM CNAMEs point at their own `dkim.<region>.amazonses.com` (AWS
/// General Reference, "Amazon Simple Email Service endpoints and quotas", Easy DKIM domains:
/// <https://docs.aws.amazon.com/general/latest/gr/ses.html#ses_dkim_domains>). Every other
/// region uses `dkim.amazonses.com`.
const REGIONAL_DKIM_DOMAINS: [&str; 11] = [
    "af-south-1",
    "ap-northeast-3",
    "ap-south-2",
    "ap-southeast-3",
    "ap-southeast-5",
    "ca-west-1",
    "eu-central-2",
    "eu-south-1",
    "il-central-1",
    "me-central-1",
    "us-gov-east-1",
];

/// Where Easy DKIM CNAMEs point in a region when SES does not say (SES's
/// `SigningHostedZone`, which mailinfra uses whenever SES returns it).
pub fn default_signing_zone(region: &str) -> String {
    if REGIONAL_DKIM_DOMAINS.contains(&region) {
        format!("dkim.{region}.amazonses.com")
    } else {
        "dkim.amazonses.com".into()
    }
}

/// How SES signs for an identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "origin", rename_all = "snake_case")]
pub enum DkimSetting {
    /// SES holds the key; three CNAMEs publish it.
    Easy { key_length: KeyLength },
    /// mailinfra generates the key at apply time; the private half goes to SES only.
    External { selector: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DesiredMailFrom {
    pub domain: String,
    pub behavior: MxFailure,
    /// The MAIL FROM domain's SPF text.
    pub spf: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DesiredIdentity {
    pub domain: String,
    pub zone: String,
    pub ttl: u32,
    pub dkim: DkimSetting,
    pub mail_from: Option<DesiredMailFrom>,
    pub configuration_set: Option<String>,
    /// BYODKIM: what the blueprint asks of the key's rotation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_policy: Option<crate::kinds::rotation::Policy>,
    /// The key's decision (`rotation::decide`), made once per plan (`Desired::with_ses_keys`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keys: Option<rotation::KeyPlan>,
}

impl DesiredIdentity {
    pub fn address(&self) -> String {
        identity_address(&self.domain)
    }
}

pub fn identity_address(domain: &str) -> String {
    format!("ses.identity.{domain}")
}

pub fn config_set_address(name: &str) -> String {
    format!("ses.configuration_set.{name}")
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DesiredConfigSet {
    pub name: String,
    /// Sorted `BOUNCE`/`COMPLAINT`, overriding the account's list (`[]`: suppress nothing);
    /// `None`: the set follows the account's list, and an existing set's is left alone.
    pub suppression: Option<Vec<SuppressionReason>>,
    pub tls: TlsPolicy,
    pub sending_enabled: bool,
    /// The user's tags plus mailinfra's ownership tags.
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductionAccess {
    pub mail_type: MailType,
    pub website_url: String,
    pub use_case: String,
    pub contact_language: ContactLanguage,
    pub additional_contacts: Vec<String>,
}

/// Everything SES-side a blueprint wants.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DesiredSes {
    pub identities: Vec<DesiredIdentity>,
    pub config_sets: Vec<DesiredConfigSet>,
    /// `None`: the account's suppression list is not managed.
    pub account_suppression: Option<Vec<SuppressionReason>>,
    pub production_access: Option<ProductionAccess>,
}

impl DesiredSes {
    pub fn is_empty(&self) -> bool {
        self.identities.is_empty()
            && self.config_sets.is_empty()
            && self.account_suppression.is_none()
            && self.production_access.is_none()
    }
}

fn reason(r: blueprint::SuppressionReason) -> SuppressionReason {
    match r {
        blueprint::SuppressionReason::Bounce => SuppressionReason::Bounce,
        blueprint::SuppressionReason::Complaint => SuppressionReason::Complaint,
    }
}

/// The MAIL FROM domain's SPF: SES's senders only.
pub fn mail_from_spf(all: SpfAll) -> String {
    format!("v=spf1 include:amazonses.com {}", spf::all_term(all))
}

/// The MAIL FROM domain's MX: SES's feedback endpoint in the region.
pub fn mail_from_mx(region: &str) -> String {
    format!("10 feedback-smtp.{region}.amazonses.com")
}

/// The ownership tags of a resource.
pub fn owner_tags(blueprint: &str, address: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (OWNER_TAG.to_owned(), blueprint.to_owned()),
        (ADDRESS_TAG.to_owned(), address.to_owned()),
    ])
}

pub fn from_blueprint(bp: &Blueprint) -> DesiredSes {
    let identities = bp
        .domains
        .iter()
        .filter_map(|d| Some(identity(bp, d, d.ses.as_ref()?)))
        .collect();
    let account = bp.ses.as_ref();
    let config_sets = account
        .map(|a| {
            a.configuration_sets
                .iter()
                .map(|cs| config_set(&bp.name.value, cs))
                .collect()
        })
        .unwrap_or_default();
    DesiredSes {
        identities,
        config_sets,
        account_suppression: account
            .and_then(|a| a.suppression.as_ref())
            .map(|rs| rs.iter().map(|r| reason(*r)).collect()),
        production_access: account
            .and_then(|a| a.production_access.as_ref())
            .map(production_access),
    }
}

fn identity(bp: &Blueprint, d: &DomainSpec, ses: &SesDomainSpec) -> DesiredIdentity {
    DesiredIdentity {
        domain: d.domain.value.clone(),
        zone: d.zone_name().to_owned(),
        ttl: d
            .ttl
            .as_ref()
            .or(bp.ttl.as_ref())
            .map_or(DEFAULT_TTL, |t| t.value),
        dkim: match &ses.dkim {
            SesDkimSpec::Easy { key_length } => DkimSetting::Easy {
                key_length: match key_length {
                    blueprint::KeyLength::Rsa1024 => KeyLength::Rsa1024,
                    blueprint::KeyLength::Rsa2048 => KeyLength::Rsa2048,
                },
            },
            SesDkimSpec::Byo { selector, .. } => DkimSetting::External {
                selector: selector.value.clone(),
            },
        },
        key_policy: match &ses.dkim {
            SesDkimSpec::Byo {
                selector,
                rotate_every,
                retire_after,
            } => Some(crate::kinds::rotation::Policy {
                selector: selector.value.clone(),
                rotate_every: blueprint::rotate_every_secs(rotate_every.as_ref()),
                retire_after: blueprint::retire_after_secs(retire_after.as_ref()),
                requested: false,
            }),
            SesDkimSpec::Easy { .. } => None,
        },
        keys: None,
        mail_from: ses.mail_from.as_ref().map(|m| DesiredMailFrom {
            domain: m.domain.value.clone(),
            behavior: match m.on_mx_failure {
                blueprint::MxFailure::UseDefault => MxFailure::UseDefaultValue,
                blueprint::MxFailure::Reject => MxFailure::RejectMessage,
            },
            spf: mail_from_spf(m.spf_all),
        }),
        configuration_set: ses.configuration_set.as_ref().map(|c| c.value.clone()),
    }
}

/// A configuration set with the user's tags and the blueprint's ownership tags.
fn config_set(blueprint: &str, cs: &ConfigSetSpec) -> DesiredConfigSet {
    let mut tags: BTreeMap<String, String> = cs.tags.iter().cloned().collect();
    tags.extend(owner_tags(blueprint, &config_set_address(&cs.name.value)));
    DesiredConfigSet {
        name: cs.name.value.clone(),
        suppression: cs
            .suppression
            .as_ref()
            .map(|rs| rs.iter().map(|r| reason(*r)).collect()),
        tls: if cs.tls_required {
            TlsPolicy::Require
        } else {
            TlsPolicy::Optional
        },
        sending_enabled: cs.sending_enabled,
        tags,
    }
}

fn production_access(p: &ProductionAccessSpec) -> ProductionAccess {
    ProductionAccess {
        mail_type: match p.mail_type {
            blueprint::MailType::Transactional => MailType::Transactional,
            blueprint::MailType::Marketing => MailType::Marketing,
        },
        website_url: p.website_url.value.clone(),
        use_case: p.use_case.value.clone(),
        contact_language: match p.contact_language {
            blueprint::ContactLanguage::En => ContactLanguage::En,
            blueprint::ContactLanguage::Ja => ContactLanguage::Ja,
        },
        additional_contacts: p
            .additional_contacts
            .iter()
            .map(|c| c.value.clone())
            .collect(),
    }
}

/// `1024-bit` for `RSA_1024_BIT`; SES's own text for a length this version does not know.
fn bits(k: &KeyLength) -> String {
    match k {
        KeyLength::Rsa1024 => "1024-bit".into(),
        KeyLength::Rsa2048 => "2048-bit".into(),
        other => other.as_str().to_owned(),
    }
}

/// An SES domain identity as GetEmailIdentity describes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObservedIdentity {
    pub domain: String,
    pub tags: BTreeMap<String, String>,
    pub dkim_origin: DkimOrigin,
    /// Easy DKIM: the three tokens; BYODKIM: the selector.
    pub tokens: Vec<String>,
    pub signing_zone: Option<String>,
    pub next_key_length: Option<KeyLength>,
    /// Easy DKIM: the length of the key SES signs with now (`CurrentSigningKeyLength`); it
    /// becomes `next_key_length` when SES generates the next key pair.
    #[serde(default)]
    pub current_key_length: Option<KeyLength>,
    /// Easy DKIM: when SES last generated a key pair (seconds; `LastKeyGenerationTimestamp`).
    #[serde(default)]
    pub last_key_generation: Option<i64>,
    pub signing_enabled: bool,
    pub dkim_status: VerificationStatus,
    pub verification: VerificationStatus,
    pub verified_for_sending: bool,
    pub mail_from: Option<ObservedMailFrom>,
    pub configuration_set: Option<String>,
    /// Seconds since the epoch of SES's last DNS check, where the API says.
    pub last_checked: Option<i64>,
}

impl ObservedIdentity {
    /// Easy DKIM with a key length change SES has not carried out yet: (the key in use, the
    /// next one), e.g. `("1024-bit", "2048-bit")`.
    pub fn easy_dkim_key_change(&self) -> Option<(String, String)> {
        if self.dkim_origin != DkimOrigin::AwsSes {
            return None;
        }
        let (current, next) = (
            self.current_key_length.as_ref()?,
            self.next_key_length.as_ref()?,
        );
        (current != next).then(|| (bits(current), bits(next)))
    }

    /// Easy DKIM: the key SES signs with, and the next one when it differs, for `status`.
    pub fn easy_dkim_key_text(&self) -> Option<String> {
        if self.dkim_origin != DkimOrigin::AwsSes {
            return None;
        }
        let generated = self
            .last_key_generation
            .filter(|t| *t > 0)
            .map(|t| {
                format!(
                    " (SES last generated a key {})",
                    crate::kinds::gateway::rotation::format_time(t)
                )
            })
            .unwrap_or_default();
        Some(match self.easy_dkim_key_change() {
            Some((current, next)) => format!(
                "signing with a {current} key; SES generates a {next} one next, on its own schedule{generated}"
            ),
            None => format!(
                "signing with a {} key{generated}",
                self.current_key_length
                    .as_ref()
                    .or(self.next_key_length.as_ref())
                    .map_or_else(|| "?".to_owned(), bits)
            ),
        })
    }
}

#[cfg(test)]
impl ObservedIdentity {
    /// A verified Easy DKIM identity of `example.com` with no tags: the tests' starting point.
    pub fn example() -> ObservedIdentity {
        ObservedIdentity {
            domain: "example.com".into(),
            tags: BTreeMap::new(),
            dkim_origin: DkimOrigin::AwsSes,
            tokens: vec!["t1".into(), "t2".into(), "t3".into()],
            signing_zone: Some("dkim.amazonses.com".into()),
            next_key_length: Some(KeyLength::Rsa2048),
            current_key_length: None,
            last_key_generation: None,
            signing_enabled: true,
            dkim_status: VerificationStatus::Success,
            verification: VerificationStatus::Success,
            verified_for_sending: true,
            mail_from: None,
            configuration_set: None,
            last_checked: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObservedMailFrom {
    pub domain: String,
    pub behavior: MxFailure,
    pub status: VerificationStatus,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObservedConfigSet {
    pub name: String,
    pub tags: BTreeMap<String, String>,
    /// The set's own suppression reasons; `None`: SES describes no SuppressionOptions and the
    /// account's list applies.
    pub suppression: Option<Vec<SuppressionReason>>,
    pub tls: TlsPolicy,
    pub sending_enabled: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObservedAccount {
    pub production_access: bool,
    /// The rest, as `status` shows it too.
    #[serde(flatten)]
    pub details: AccountDetails,
}

/// What GetAccount says of an account besides production access.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccountDetails {
    pub sending_enabled: bool,
    pub max_24_hour_send: f64,
    pub max_send_rate: f64,
    pub sent_last_24_hours: f64,
    pub suppression: Vec<SuppressionReason>,
    /// The review of a production-access request, once one was made.
    pub review_status: Option<ReviewStatus>,
    pub case_id: Option<String>,
}

/// Everything observed in SES for one region.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ObservedSes {
    pub region: String,
    /// When SES was read (seconds since the epoch): the time key rotations are decided at.
    #[serde(default)]
    pub read_at: i64,
    pub account: Option<ObservedAccount>,
    pub identities: BTreeMap<String, ObservedIdentity>,
    pub config_sets: BTreeMap<String, ObservedConfigSet>,
}

impl ObservedSes {
    /// The state without what changes by itself (verification statuses, timestamps, send
    /// counts), for the saved-plan checksum: SES verifying a domain does not make a plan stale.
    pub fn stable(&self) -> ObservedSes {
        // Blank statuses are written as "", as they always were: the checksum stays the same.
        let blank = || VerificationStatus::Other(String::new());
        let mut s = self.clone();
        s.read_at = 0;
        for i in s.identities.values_mut() {
            i.dkim_status = blank();
            i.verification = blank();
            i.verified_for_sending = false;
            i.last_checked = None;
            if let Some(m) = &mut i.mail_from {
                m.status = blank();
            }
        }
        if let Some(a) = &mut s.account {
            a.details.sent_last_24_hours = 0.0;
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::default_signing_zone;

    #[test]
    fn regions_with_their_own_dkim_domain_use_it() {
        assert_eq!(default_signing_zone("eu-west-1"), "dkim.amazonses.com");
        assert_eq!(default_signing_zone("us-east-1"), "dkim.amazonses.com");
        assert_eq!(
            default_signing_zone("af-south-1"),
            "dkim.af-south-1.amazonses.com"
        );
        assert_eq!(
            default_signing_zone("il-central-1"),
            "dkim.il-central-1.amazonses.com"
        );
        assert_eq!(
            default_signing_zone("us-gov-east-1"),
            "dkim.us-gov-east-1.amazonses.com"
        );
    }
}
