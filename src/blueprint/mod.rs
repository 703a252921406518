//! The blueprint: its types, loading from YAML with source positions, and validation.
//!
//! The types below are the one description of the document: serde reads them from YAML
//! (serde-saphyr, with positions), schemars turns them into the JSON Schema that `mailinfra
//! schema` prints, and their doc comments are that schema's descriptions. `load` reads a file's
//! text into a [`Blueprint`]; a structural problem (a wrong type, an unknown or missing field)
//! stops it with one [`Diagnostic`], as cargo does; checks of meaning then report every problem
//! at once. Pure apart from reading DKIM key files the blueprint names: no AWS, no tokio. May
//! import `mail` (the record builders it validates against); nothing from `kinds`, `plan` or
//! the AWS edges.

pub mod diagnostics;
mod parse;
pub mod schema;
#[cfg(test)]
mod tests;
pub(crate) mod validate;

use std::borrow::Cow;
use std::path::Path;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Deserializer};

pub use diagnostics::{Diagnostic, Pos, Report};
pub use parse::LIMITS;

use crate::mail::dkim;
use crate::mail::record::{Purpose, RType};

use parse::{positioned_opt, positioned_vec, tags, tls, whole_opt};

/// A value and where it was written.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Spanned<T> {
    pub value: T,
    pub pos: Pos,
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Spanned<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = serde_saphyr::Spanned::<T>::deserialize(d)?;
        Ok(Spanned {
            value: s.value,
            pos: Pos::of(s.referenced),
        })
    }
}

/// In the schema a spanned value is the value itself.
impl<T: JsonSchema> JsonSchema for Spanned<T> {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        T::schema_name()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        generator.subschema_for::<T>()
    }
}

impl<T> Spanned<T> {
    fn new(value: T) -> Self {
        Spanned {
            value,
            pos: Pos::default(),
        }
    }
}

/// The TTL given to records when neither the domain nor the blueprint sets one. Five minutes
/// lets a fix reach resolvers quickly; mail records change rarely, so the query cost is small.
pub const DEFAULT_TTL: u32 = 300;

/// Patterns the schema states and `validate` checks again with messages and hints.
mod pattern {
    pub const NAME: &str = r"^[a-z0-9][a-z0-9-]{0,62}$";
    pub const REGION: &str = r"^[a-z]+(-[a-z]+)+-[0-9]{1,3}$";
    /// A host name as written: upper case and a final dot are allowed (both are normalized).
    pub const HOST: &str = r"^(?=.{1,254}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.?$";
    pub const LABEL: &str = r"^[A-Za-z0-9_-]{1,63}$";
    pub const INCLUDE: &str = r"^([A-Za-z0-9_-]{1,63}\.)+[A-Za-z0-9_-]{1,63}$";
    pub const IP4: &str = r"^((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(/(3[0-2]|[12]?[0-9]))?$";
    /// The characters of an IPv6 address and a prefix of at most 128; the address itself is
    /// checked by `validate`.
    pub const IP6: &str = r"^[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*(/(12[0-8]|1[01][0-9]|[1-9]?[0-9]))?$";
    pub const MAILTO: &str = r"^mailto:[^@,; ]+@[^@,; ]+\.[^@,; ]+$";
    pub const FO: &str = r"^[01ds](:[01ds])*$";
    pub const ADOPT: &str = r"^(dns\..+\.[A-Z]+|ses\.identity\..+|ses\.configuration_set\..+)$";
    pub const CONFIG_SET: &str = r"^[A-Za-z0-9_-]{1,64}$";
    pub const URL: &str = r"^https?://";
    pub const EMAIL: &str = r"@";
    pub const INSTANCE_TYPE: &str = r"^[A-Za-z0-9-]+\.[A-Za-z0-9.-]+$";
    pub const IMAGE: &str = r"^(debian-12|ami-[0-9A-Fa-f]{8,17})$";
    pub const SUBNET: &str = r"^subnet-[0-9A-Fa-f]+$";
    /// A Postfix time: a whole number and its unit (`s`, `m`, `h`, `d`, `w`). The unit is
    /// required: Postfix's default unit differs from one parameter to the next.
    pub const DURATION: &str = r"^[0-9]{1,5}[smhdw]$";
    /// A time of day, `HH:MM`, 24-hour.
    pub const CLOCK: &str = r"^([01][0-9]|2[0-3]):[0-5][0-9]$";
    /// An address Postfix can put in main.cf as it is: no quotes, spaces or commas.
    pub const MAILBOX: &str = r"^[A-Za-z0-9._%+-]{1,64}@([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$";
    /// Private IPv4 space (RFC 1918, RFC 6598), each range with a prefix at least as long as
    /// its own: the same rule as `validate::is_private_range`.
    pub const PRIVATE_V4: &str = concat!(
        r"^(",
        r"10(\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}(/([89]|[12][0-9]|3[0-2]))?",
        r"|172\.(1[6-9]|2[0-9]|3[01])(\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){2}(/(1[2-9]|2[0-9]|3[0-2]))?",
        r"|192\.168(\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){2}(/(1[6-9]|2[0-9]|3[0-2]))?",
        r"|100\.(6[4-9]|[7-9][0-9]|1[01][0-9]|12[0-7])(\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){2}(/(1[0-9]|2[0-9]|3[0-2]))?",
        r")$"
    );
}

/// The schema of a domain entry that sends via `sender`.
fn sends_via_one(sender: &str) -> serde_json::Value {
    serde_json::json!({
        "required": ["send_via"],
        "properties": { "send_via": { "contains": { "const": sender } } }
    })
}

/// The schema of a blueprint where some domain sends via `sender`.
fn sends_via(sender: &str) -> serde_json::Value {
    serde_json::json!({
        "required": ["domains"],
        "properties": {
            "domains": {
                "contains": {
                    "required": ["send_via"],
                    "properties": { "send_via": { "contains": { "const": sender } } }
                }
            }
        }
    })
}

/// A mailinfra blueprint: the mail records, Amazon SES setup and relay gateway of a set of
/// domains.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "mailinfra blueprint")]
#[schemars(extend("dependentRequired" = { "gateway": ["region"] }))]
#[schemars(extend("allOf" = [
    {
        "if": sends_via("ses"),
        "then": { "required": ["region"] }
    },
    {
        "if": sends_via("gateway"),
        "then": { "required": ["gateway"] }
    },
    {
        "if": {
            "required": ["gateway"],
            "properties": { "gateway": { "required": ["relay_via"], "properties": { "relay_via": { "const": "ses" } } } }
        },
        "then": {
            "properties": {
                "domains": {
                    "items": {
                        "if": sends_via_one("gateway"),
                        "then": sends_via_one("ses")
                    }
                }
            }
        }
    }
]))]
pub struct Blueprint {
    /// The owner name: ownership records and tags carry it. 1-63 lower-case letters, digits,
    /// hyphens.
    #[serde(rename = "blueprint")]
    #[schemars(regex(pattern = pattern::NAME))]
    pub name: Spanned<String>,
    /// The AWS region for SES and the gateway (Route 53 is global), e.g. `eu-west-1`.
    #[schemars(regex(pattern = pattern::REGION))]
    pub region: Option<Spanned<String>>,
    /// Default TTL in seconds for every record (60 to 604800; default 300).
    #[serde(default, deserialize_with = "whole_opt")]
    #[schemars(with = "Option<u32>", range(min = 60, max = 604800))]
    pub ttl: Option<Spanned<u32>>,
    /// The mail domains.
    #[serde(default)]
    pub domains: Vec<DomainSpec>,
    /// Record addresses (`dns.example.com.TXT`) or SES resources (`ses.identity.example.com`)
    /// that already exist without mailinfra's ownership mark and that mailinfra should take
    /// over, as `plan` prints them.
    #[serde(default)]
    #[schemars(inner(regex(pattern = pattern::ADOPT)))]
    pub adopt: Vec<Spanned<String>>,
    /// Account-level Amazon SES settings.
    #[serde(default, deserialize_with = "positioned_opt")]
    pub ses: Option<SesAccountSpec>,
    /// The self-hosted relay gateway (EC2, Elastic IP with reverse DNS, Postfix and OpenDKIM).
    #[serde(default, deserialize_with = "positioned_opt")]
    pub gateway: Option<GatewaySpec>,
}

/// The relay gateway: one EC2 instance in the VPC that application instances hand mail to.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GatewaySpec {
    #[serde(skip)]
    pub pos: Pos,
    /// The gateway's name in the A and PTR records and Postfix's `myhostname`, e.g.
    /// `mail.example.com`.
    #[schemars(regex(pattern = pattern::HOST))]
    pub hostname: Spanned<String>,
    /// The Route 53 hosted zone holding `hostname` (default: its parent domain).
    #[schemars(regex(pattern = pattern::HOST))]
    pub zone: Option<Spanned<String>>,
    /// The EC2 instance type (default `t3.micro`).
    #[serde(default = "parse::default_instance_type")]
    #[schemars(regex(pattern = pattern::INSTANCE_TYPE), extend("default" = "t3.micro"))]
    pub instance_type: Spanned<String>,
    /// `debian-12` (default; resolved through Debian's public SSM parameter) or an AMI id.
    #[serde(default = "parse::default_image")]
    #[schemars(regex(pattern = pattern::IMAGE), extend("default" = "debian-12"))]
    pub image: Spanned<String>,
    /// A subnet id (default: a default subnet of the default VPC).
    #[schemars(regex(pattern = pattern::SUBNET))]
    pub subnet: Option<Spanned<String>>,
    /// The networks allowed to relay through the gateway (Postfix `mynetworks`, the security
    /// group): private IPv4 ranges only (RFC 1918, RFC 6598), or the gateway is an open relay.
    #[schemars(length(min = 1), inner(regex(pattern = pattern::PRIVATE_V4)))]
    pub relay_from: Vec<Spanned<String>>,
    /// Removed: must be false. The gateway listens on port 25 only; port 587 without
    /// authentication would be a second port 25 (docs/gateway.md).
    #[serde(default)]
    pub submission: bool,
    /// A person has had AWS lift the port-25 restriction on the account (and checked the
    /// Elastic IP's reputation): plans and `status` stop asking for it.
    #[serde(default)]
    pub port25_released: bool,
    /// A person has pointed the application hosts at the gateway: plans and `status` stop
    /// showing the relay settings as a to-do.
    #[serde(default)]
    pub senders_configured: bool,
    /// Where Postfix sends its notices to the postmaster (bounces that cannot be delivered,
    /// resource and software problems), default `postmaster@<zone>`.
    #[schemars(regex(pattern = pattern::MAILBOX))]
    pub postmaster: Option<Spanned<String>>,
    /// Refuse relay clients' mail to addresses that bounced permanently (RCPT TO answered 5xx
    /// naming the bounce), from the gateway's bounce list (`mailinfra bounces`). Default
    /// false: the bounces are recorded and listed, and mail to them is still attempted.
    #[serde(default)]
    pub suppress_hard_bounces: bool,
    /// How the gateway delivers: per-destination limits for a new address, queue lifetimes,
    /// the message size limit (docs/gateway.md gives each default and why).
    #[serde(default)]
    pub delivery: Option<GatewayDelivery>,
    /// When the gateway may reboot to finish a security update that needs it (a new kernel
    /// or C library), as `HH:MM` UTC; default `04:00`. Debian's security updates are installed
    /// daily by unattended-upgrades (docs/gateway.md, "Patching").
    #[schemars(regex(pattern = pattern::CLOCK), extend("default" = "04:00"))]
    pub reboot_window: Option<Spanned<String>>,
    /// How the gateway sends on: `direct` (default: to each recipient's MX from its own
    /// Elastic IP, signing with OpenDKIM) or `ses` (to Amazon SES's SMTP endpoint in the
    /// blueprint's region over verified TLS with SMTP credentials; every domain the gateway
    /// relays for must then be an SES identity of the blueprint). docs/gateway.md compares them.
    #[schemars(extend("default" = "direct"))]
    pub relay_via: Option<Spanned<RelayVia>>,
    /// With `relay_via: ses`: how the SES SMTP credentials are rotated (docs/rotation.md).
    #[serde(default, deserialize_with = "positioned_opt")]
    pub smtp_credentials: Option<SmtpCredentials>,
    /// The gateway's DKIM key, generated by mailinfra and kept in SSM Parameter Store, and
    /// how it is rotated (docs/rotation.md).
    #[serde(default = "parse::default_gateway_dkim")]
    #[schemars(with = "Option<GatewayDkim>")]
    pub dkim: GatewayDkim,
}

/// Where the gateway sends the mail it relays.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RelayVia {
    /// To each recipient's MX, from the gateway's Elastic IP, signed by OpenDKIM.
    #[default]
    Direct,
    /// To Amazon SES's SMTP endpoint in the blueprint's region (STARTTLS, SMTP credentials);
    /// SES signs (Easy DKIM or BYODKIM) and handles bounces.
    Ses,
}

/// How the gateway delivers (Postfix main.cf); each field has a default.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GatewayDelivery {
    /// Parallel deliveries to one destination domain (`smtp_destination_concurrency_limit`),
    /// 1 to 20; default 2. Only counts when `destination_rate_delay` is `0s`.
    #[serde(default, deserialize_with = "whole_opt")]
    #[schemars(with = "Option<u32>", range(min = 1, max = 20))]
    pub destination_concurrency: Option<Spanned<u32>>,
    /// The pause between deliveries to one destination domain
    /// (`smtp_destination_rate_delay`), e.g. `1s` (default); `0s` for none.
    #[schemars(regex(pattern = pattern::DURATION))]
    pub destination_rate_delay: Option<Spanned<String>>,
    /// How long a message that cannot be delivered yet is retried before it bounces
    /// (`maximal_queue_lifetime`), default `1d`.
    #[schemars(regex(pattern = pattern::DURATION))]
    pub queue_lifetime: Option<Spanned<String>>,
    /// The same for bounces (`bounce_queue_lifetime`), default `1d`.
    #[schemars(regex(pattern = pattern::DURATION))]
    pub bounce_lifetime: Option<Spanned<String>>,
    /// When the sender is told that a message is still waiting (`delay_warning_time`),
    /// default `1h`; `0h` for never.
    #[schemars(regex(pattern = pattern::DURATION))]
    pub delay_warning: Option<Spanned<String>>,
    /// The largest message accepted, in bytes (`message_size_limit`), 1 MiB to 100 MiB;
    /// default 10240000 (Postfix's).
    #[serde(default, deserialize_with = "whole_opt")]
    #[schemars(with = "Option<u32>", range(min = 1048576, max = 104857600))]
    pub message_size_limit: Option<Spanned<u32>>,
}

/// The gateway's DKIM settings.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GatewayDkim {
    /// The selector (default `mailinfra`), 50 characters at most. A rotation names the new
    /// key `<selector>-<yyyymmdd>`; a new selector here is itself a rotation, with overlap.
    #[serde(default = "parse::default_selector")]
    #[schemars(regex(pattern = pattern::LABEL), extend("default" = "mailinfra"))]
    pub selector: Spanned<String>,
    /// Rotate the key when it is this old, e.g. `180d` (M3AAWG: at least every six months);
    /// each `apply` when due takes the rotation one stage further. Default: only when asked
    /// (`mailinfra rotate gateway-dkim`).
    #[schemars(regex(pattern = pattern::DURATION))]
    pub rotate_every: Option<Spanned<String>>,
    /// How long the old key stays published after the gateway switched to the new one, so
    /// that mail signed before the switch still verifies; default `7d` (longer than a
    /// message waits in a Postfix queue).
    #[schemars(regex(pattern = pattern::DURATION))]
    pub retire_after: Option<Spanned<String>>,
}

/// The SES SMTP credentials of `relay_via: ses`.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SmtpCredentials {
    #[serde(skip)]
    pub pos: Pos,
    /// Rotate them when their access key is this old, e.g. `90d`: a second key is made, its
    /// password stored, the gateway replaced to use it, then the old key deleted. Default:
    /// only when asked (`mailinfra rotate smtp-credentials`).
    #[schemars(regex(pattern = pattern::DURATION))]
    pub rotate_every: Option<Spanned<String>>,
}

/// An old DKIM key (the gateway's, an SES identity's BYODKIM key) stays published this long after the switch unless the blueprint
/// says otherwise: longer than Postfix keeps a message queued (`maximal_queue_lifetime`, 5 days
/// by default), so a message signed before the switch and delivered late still verifies.
pub const DEFAULT_RETIRE_AFTER: i64 = 7 * 86_400;

/// A Postfix-style time with its unit (`30s`, `12h`, `180d`, `26w`) in seconds; `None` when
/// it is not one.
pub fn duration_secs(text: &str) -> Option<i64> {
    let unit = match text.chars().last()? {
        's' => 1,
        'm' => 60,
        'h' => 3_600,
        'd' => 86_400,
        'w' => 7 * 86_400,
        _ => return None,
    };
    let n = &text[..text.len() - 1];
    if n.is_empty() || n.len() > 5 || !n.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    n.parse::<i64>().ok().map(|n| n * unit)
}

/// A key's `rotate_every` in seconds, when it is set and valid.
pub fn rotate_every_secs(rotate_every: Option<&Spanned<String>>) -> Option<i64> {
    rotate_every.and_then(|d| duration_secs(&d.value))
}

/// A key's `retire_after` in seconds, or the default.
pub fn retire_after_secs(retire_after: Option<&Spanned<String>>) -> i64 {
    retire_after
        .and_then(|d| duration_secs(&d.value))
        .unwrap_or(DEFAULT_RETIRE_AFTER)
}

impl GatewayDkim {
    pub fn rotate_every_secs(&self) -> Option<i64> {
        rotate_every_secs(self.rotate_every.as_ref())
    }

    pub fn retire_after_secs(&self) -> i64 {
        retire_after_secs(self.retire_after.as_ref())
    }
}

impl GatewaySpec {
    /// The postmaster address: as written, or `postmaster@<zone>`.
    pub fn postmaster_address(&self) -> String {
        self.postmaster.as_ref().map_or_else(
            || format!("postmaster@{}", self.zone_name()),
            |p| p.value.clone(),
        )
    }

    /// The time of day (UTC) the gateway may reboot after an update: as written, or `04:00`.
    pub fn reboot_time(&self) -> String {
        self.reboot_window
            .as_ref()
            .map_or_else(crate::mail::gateway::default_reboot_time, |r| {
                r.value.clone()
            })
    }

    /// The delivery settings with the defaults filled in.
    pub fn delivery_settings(&self) -> crate::mail::gateway::Delivery {
        let mut out = crate::mail::gateway::Delivery::default();
        let Some(d) = &self.delivery else {
            return out;
        };
        let text = |v: &Option<Spanned<String>>, into: &mut String| {
            if let Some(v) = v {
                into.clone_from(&v.value);
            }
        };
        if let Some(v) = &d.destination_concurrency {
            out.destination_concurrency = v.value;
        }
        text(&d.destination_rate_delay, &mut out.destination_rate_delay);
        text(&d.queue_lifetime, &mut out.queue_lifetime);
        text(&d.bounce_lifetime, &mut out.bounce_lifetime);
        text(&d.delay_warning, &mut out.delay_warning);
        if let Some(v) = &d.message_size_limit {
            out.message_size_limit = v.value;
        }
        out
    }

    /// Where the gateway sends: `direct` unless the blueprint says `relay_via: ses`.
    pub fn relay_via(&self) -> RelayVia {
        self.relay_via
            .as_ref()
            .map_or(RelayVia::Direct, |r| r.value)
    }

    /// The selector the gateway signs with (OpenDKIM), published as its domains' DKIM key:
    /// none with `relay_via: ses`, where SES signs with the identities' keys.
    pub fn signing_selector(&self) -> Option<&str> {
        (self.relay_via() == RelayVia::Direct).then_some(self.dkim.selector.value.as_str())
    }

    pub fn zone_name(&self) -> String {
        match &self.zone {
            Some(z) => z.value.clone(),
            None => self
                .hostname
                .value
                .split_once('.')
                .map_or(self.hostname.value.clone(), |(_, parent)| parent.to_owned()),
        }
    }
}

impl Blueprint {
    pub fn region(&self) -> Option<&str> {
        self.region.as_ref().map(|r| r.value.as_str())
    }
}

/// One mail domain.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("dependentSchemas" = {
    "ses": { "required": ["send_via"], "properties": { "send_via": { "contains": { "const": "ses" } } } }
}))]
pub struct DomainSpec {
    /// The document path, `domains[N]`, for diagnostics.
    #[serde(skip)]
    pub path: String,
    /// The mail domain, e.g. `example.com`.
    #[schemars(regex(pattern = pattern::HOST))]
    pub domain: Spanned<String>,
    /// The Route 53 hosted zone holding the domain's records (default: the domain itself).
    #[schemars(regex(pattern = pattern::HOST))]
    pub zone: Option<Spanned<String>>,
    /// TTL in seconds for this domain's records (60 to 604800).
    #[serde(default, deserialize_with = "whole_opt")]
    #[schemars(with = "Option<u32>", range(min = 60, max = 604800))]
    pub ttl: Option<Spanned<u32>>,
    #[serde(default, deserialize_with = "positioned_opt")]
    pub spf: Option<SpfSpec>,
    #[serde(default, deserialize_with = "positioned_opt")]
    pub dmarc: Option<DmarcSpec>,
    /// DKIM public keys to publish at `<selector>._domainkey.<domain>`.
    #[serde(default, deserialize_with = "positioned_vec")]
    pub dkim: Vec<DkimSpec>,
    /// Who sends the domain's mail: `ses` (Amazon SES) and/or `gateway` (the relay gateway).
    #[serde(default)]
    pub send_via: Vec<Spanned<Sender>>,
    /// Amazon SES settings for the domain (needs `send_via: [ses]`). After loading, set
    /// whenever the domain sends via SES.
    #[serde(default, deserialize_with = "positioned_opt")]
    pub ses: Option<SesDomainSpec>,
    /// Where `send_via` names the gateway, if it does.
    #[serde(skip)]
    pub via_gateway: Option<Pos>,
}

impl DomainSpec {
    pub fn zone_name(&self) -> &str {
        self.zone.as_ref().unwrap_or(&self.domain).value.as_str()
    }

    /// Every record this domain's entry writes, with where the blueprint asks for it: the
    /// one derivation `validate` (collisions, `adopt:`) and the desired state (content) both
    /// use. In the order plans list them. SES's Easy DKIM CNAMEs are not here: their names
    /// are SES's tokens, known once SES has the identity.
    pub fn records(&self, gateway_selector: Option<&str>) -> Vec<RecordKey> {
        let d = &self.domain.value;
        let key = |name: String, rtype: RType, purpose: Purpose, pos: Pos| RecordKey {
            name,
            rtype,
            purpose,
            pos,
        };
        let mut keys = Vec::new();
        let via_gateway = self.via_gateway.filter(|_| gateway_selector.is_some());
        match (&self.spf, via_gateway) {
            (Some(s), _) => keys.push(key(d.clone(), RType::Txt, Purpose::Spf, s.pos)),
            // The gateway's address makes an SPF record of its own.
            (None, Some(pos)) => keys.push(key(d.clone(), RType::Txt, Purpose::Spf, pos)),
            (None, None) => {}
        }
        if let Some(m) = &self.dmarc {
            keys.push(key(
                format!("_dmarc.{d}"),
                RType::Txt,
                Purpose::Dmarc,
                m.pos,
            ));
        }
        for k in &self.dkim {
            let name = dkim::record_name(&k.selector.value, d);
            keys.push(key(name, RType::Txt, Purpose::Dkim, k.pos));
        }
        if let (Some(pos), Some(selector)) = (via_gateway, gateway_selector) {
            let name = dkim::record_name(selector, d);
            keys.push(key(name, RType::Txt, Purpose::GatewayDkim, pos));
        }
        if let Some(ses) = &self.ses {
            match &ses.dkim {
                SesDkimSpec::Byo { selector, .. } => {
                    let name = dkim::record_name(&selector.value, d);
                    keys.push(key(name, RType::Txt, Purpose::SesDkim, selector.pos));
                }
                // Easy DKIM's three CNAMEs, named by tokens SES chooses: a pattern.
                SesDkimSpec::Easy { .. } => keys.push(key(
                    dkim::record_name("*", d),
                    RType::Cname,
                    Purpose::SesDkim,
                    ses.pos,
                )),
            }
            if let Some(mf) = &ses.mail_from {
                let (name, pos) = (&mf.domain.value, mf.domain.pos);
                keys.push(key(name.clone(), RType::Mx, Purpose::MailFromMx, pos));
                keys.push(key(name.clone(), RType::Txt, Purpose::MailFromSpf, pos));
            }
        }
        keys
    }
}

/// A record a domain's entry writes: name, type, what for, and where the blueprint asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordKey {
    pub name: String,
    pub rtype: RType,
    pub purpose: Purpose,
    pub pos: Pos,
}

/// A way a domain's mail leaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Sender {
    /// Amazon SES.
    Ses,
    /// The blueprint's relay gateway.
    Gateway,
}

/// SPF for one domain: the mechanisms the user lists; mailinfra adds its own senders.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SpfSpec {
    #[serde(skip)]
    pub pos: Pos,
    /// Other senders' SPF domains (each costs DNS lookups; at most 10 in all).
    #[serde(default)]
    #[schemars(inner(regex(pattern = pattern::INCLUDE)))]
    pub include: Vec<Spanned<String>>,
    /// IPv4 addresses or CIDR ranges.
    #[serde(default)]
    #[schemars(inner(regex(pattern = pattern::IP4)))]
    pub ip4: Vec<Spanned<String>>,
    /// IPv6 addresses or CIDR ranges.
    #[serde(default)]
    #[schemars(inner(regex(pattern = pattern::IP6)))]
    pub ip6: Vec<Spanned<String>>,
    /// The `a` mechanism (costs a DNS lookup).
    #[serde(default)]
    pub a: bool,
    /// The `mx` mechanism (costs a DNS lookup).
    #[serde(default)]
    pub mx: bool,
    /// The closing qualifier (default `softfail`).
    #[serde(default = "parse::default_all")]
    #[schemars(extend("default" = "softfail"))]
    pub all: Spanned<SpfAll>,
}

/// The closing `all` mechanism's qualifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SpfAll {
    /// `-all`: receivers should reject mail from unlisted senders.
    Fail,
    /// `~all`: accept but mark (the default: safe while other senders are being found).
    SoftFail,
    /// `?all`: no statement.
    Neutral,
}

/// DMARC policy for one domain, with the tags RFC 9989 keeps or adds (`pct`, `rf` and `ri`
/// are gone).
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DmarcSpec {
    #[serde(skip)]
    pub pos: Pos,
    /// `p=`: what receivers do with mail that fails DMARC.
    pub policy: DmarcPolicy,
    /// `sp=`: the policy for subdomains.
    pub subdomain_policy: Option<DmarcPolicy>,
    /// `np=`: the policy for non-existent subdomains.
    pub nonexistent_policy: Option<DmarcPolicy>,
    /// Aggregate report addresses (`mailto:`).
    #[serde(default)]
    #[schemars(inner(regex(pattern = pattern::MAILTO)))]
    pub rua: Vec<Spanned<String>>,
    /// Failure report addresses (`mailto:`).
    #[serde(default)]
    #[schemars(inner(regex(pattern = pattern::MAILTO)))]
    pub ruf: Vec<Spanned<String>>,
    /// DKIM alignment.
    pub adkim: Option<Alignment>,
    /// SPF alignment.
    pub aspf: Option<Alignment>,
    /// Failure reporting options: `0`, `1`, `d`, `s` joined by `:`.
    #[schemars(regex(pattern = pattern::FO))]
    pub fo: Option<Spanned<String>>,
    /// RFC 9989 `t=y`: the policy is being tested and receivers apply one step less.
    #[serde(default)]
    pub testing: bool,
    /// RFC 9989 `psd=`: whether this domain is a public suffix domain.
    pub psd: Option<Psd>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DmarcPolicy {
    None,
    Quarantine,
    Reject,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Alignment {
    Relaxed,
    Strict,
}

/// RFC 9989 `psd=`: whether this domain is a public suffix domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Psd {
    Yes,
    No,
    Unknown,
}

/// A DKIM public key to publish at `<selector>._domainkey.<domain>`: inline or from a file
/// (PEM or base64 SubjectPublicKeyInfo), one of the two.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("oneOf" = [{ "required": ["public_key"] }, { "required": ["public_key_file"] }]))]
pub struct DkimSpec {
    #[serde(skip)]
    pub pos: Pos,
    /// The selector: one DNS label, e.g. `mta1`.
    #[schemars(regex(pattern = pattern::LABEL))]
    pub selector: Spanned<String>,
    /// The key, base64 or PEM. After loading: base64 of the DER SubjectPublicKeyInfo,
    /// whitespace and PEM armour removed, whichever way it was given.
    #[serde(default)]
    pub public_key: Spanned<String>,
    /// A file holding the key, relative to the blueprint file.
    pub public_key_file: Option<Spanned<String>>,
}

/// How a domain sends through Amazon SES.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("dependentRequired" = {
    "mail_from_on_mx_failure": ["mail_from"],
    "mail_from_spf": ["mail_from"]
}))]
pub struct SesDomainSpec {
    #[serde(skip)]
    pub pos: Pos,
    /// `easy` (default), `{ easy: { key_length: 1024 } }` or `{ byodkim: { selector: s1 } }`.
    #[serde(default)]
    pub dkim: SesDkimSpec,
    /// A custom MAIL FROM subdomain, e.g. `bounce.example.com`.
    #[serde(rename = "mail_from")]
    #[schemars(regex(pattern = pattern::HOST))]
    pub mail_from_domain: Option<Spanned<String>>,
    /// What SES does when the MAIL FROM domain's MX is missing (default `use_default`).
    pub mail_from_on_mx_failure: Option<Spanned<MxFailure>>,
    /// The MAIL FROM domain's SPF qualifier (default `fail`).
    pub mail_from_spf: Option<Spanned<MailFromSpf>>,
    /// The three `mail_from` fields together, once loaded.
    #[serde(skip)]
    pub mail_from: Option<MailFromSpec>,
    /// The identity's default configuration set.
    #[schemars(regex(pattern = pattern::CONFIG_SET))]
    pub configuration_set: Option<Spanned<String>>,
}

/// SES DKIM: Easy DKIM (SES holds the key, three CNAMEs) or BYODKIM (mailinfra generates a
/// key, gives the private half to SES only, publishes the public half as TXT).
#[derive(Debug, Clone, PartialEq)]
pub enum SesDkimSpec {
    Easy {
        key_length: KeyLength,
    },
    Byo {
        selector: Spanned<String>,
        /// Rotate the key when it is this old (docs/rotation.md, "SES BYODKIM").
        rotate_every: Option<Spanned<String>>,
        /// How long the old key stays published after SES switched.
        retire_after: Option<Spanned<String>>,
    },
}

impl Default for SesDkimSpec {
    fn default() -> Self {
        SesDkimSpec::Easy {
            key_length: KeyLength::Rsa2048,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyLength {
    Rsa1024,
    Rsa2048,
}

/// A custom MAIL FROM subdomain: SPF alignment for DMARC comes from it.
#[derive(Debug, Clone, PartialEq)]
pub struct MailFromSpec {
    pub domain: Spanned<String>,
    pub on_mx_failure: MxFailure,
    pub spf_all: SpfAll,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MxFailure {
    /// Fall back to SES's own MAIL FROM domain.
    UseDefault,
    /// Refuse to send.
    Reject,
}

/// The MAIL FROM domain's SPF qualifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum MailFromSpf {
    /// `-all`
    Fail,
    /// `~all`
    SoftFail,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SuppressionReason {
    Bounce,
    Complaint,
}

/// Account-level Amazon SES settings.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SesAccountSpec {
    #[serde(skip)]
    pub pos: Pos,
    /// The account suppression list's reasons. `None`: the list is not managed.
    pub suppression: Option<Vec<SuppressionReason>>,
    #[serde(default)]
    pub configuration_sets: Vec<ConfigSetSpec>,
    /// Request production access (leave the sandbox) with these details.
    #[serde(default, deserialize_with = "positioned_opt")]
    pub production_access: Option<ProductionAccessSpec>,
}

/// An SES configuration set the blueprint owns.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfigSetSpec {
    /// 1 to 64 letters, digits, `-` and `_`.
    #[schemars(regex(pattern = pattern::CONFIG_SET))]
    pub name: Spanned<String>,
    /// Per-set suppression reasons, overriding the account's suppression list; `[]`
    /// suppresses nothing. Absent: the set follows the account's list (SES's default) and
    /// mailinfra leaves the set's suppression alone.
    #[serde(default)]
    pub suppression: Option<Vec<SuppressionReason>>,
    /// `require` or `optional` (default).
    #[serde(rename = "tls", default, deserialize_with = "tls")]
    #[schemars(with = "Option<Tls>")]
    pub tls_required: bool,
    /// Default `true`.
    #[serde(default = "parse::yes")]
    pub sending_enabled: bool,
    /// Tags on the configuration set (mailinfra adds its ownership tags).
    #[serde(default, deserialize_with = "tags")]
    #[schemars(with = "std::collections::BTreeMap<String, String>")]
    pub tags: Vec<(String, String)>,
}

/// Whether a configuration set requires TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Tls {
    Require,
    Optional,
}

/// The details of a request to leave the SES sandbox, which people at AWS decide.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductionAccessSpec {
    #[serde(skip)]
    pub pos: Pos,
    pub mail_type: MailType,
    /// The site that sends the mail: AWS reviews it.
    #[schemars(regex(pattern = pattern::URL))]
    pub website_url: Spanned<String>,
    /// Who receives the mail, how they opted in, how bounces and complaints are handled.
    #[schemars(length(min = 20))]
    pub use_case: Spanned<String>,
    /// Default `en`.
    #[serde(default = "parse::english")]
    pub contact_language: ContactLanguage,
    /// Addresses AWS may write to about the request.
    #[serde(default)]
    #[schemars(inner(regex(pattern = pattern::EMAIL)))]
    pub additional_contacts: Vec<Spanned<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum MailType {
    Transactional,
    Marketing,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ContactLanguage {
    En,
    Ja,
}

/// Loads and validates a blueprint from its text. `file` names it in diagnostics; key files
/// are read relative to `base_dir`.
pub fn load(file: &str, source: &str, base_dir: &Path) -> Result<Blueprint, Report> {
    let report = |diagnostics: Vec<Diagnostic>| Report {
        file: file.to_owned(),
        source: source.to_owned(),
        diagnostics,
    };
    let mut bp = parse::from_str(source).map_err(|d| report(vec![d]))?;
    lower_case_selectors(&mut bp);
    a_labels(&mut bp);
    let mut diagnostics = parse::complete(&mut bp, base_dir);
    diagnostics.extend(validate::check(&bp));
    diagnostics.sort_by_key(|d| d.pos);
    if diagnostics.is_empty() {
        Ok(bp)
    } else {
        Err(report(diagnostics))
    }
}

/// DKIM selectors are DNS labels, which compare case-insensitively, and Route 53 returns
/// names in lower case: a selector kept as written (`Sel1`) would be planned for creation
/// and deletion on every run, and fail every apply after the first. They are lower-cased
/// here, once, before anything uses them (record names, the gateway's SSM key names).
fn lower_case_selectors(bp: &mut Blueprint) {
    let lower = |s: &mut Spanned<String>| s.value.make_ascii_lowercase();
    if let Some(g) = &mut bp.gateway {
        lower(&mut g.dkim.selector);
    }
    for d in &mut bp.domains {
        d.dkim.iter_mut().for_each(|k| lower(&mut k.selector));
        if let Some(SesDomainSpec {
            dkim: SesDkimSpec::Byo { selector, .. },
            ..
        }) = &mut d.ses
        {
            lower(selector);
        }
    }
}

/// Internationalized domain names: a name written in Unicode (`bücher.example`) is DNS's
/// A-label form (`xn--bcher-kva.example`, IDNA 2008/UTS 46 as hickory converts it) from here
/// on, in records, plans and AWS calls alike. A name that does not convert is left as written,
/// and validation names it.
fn a_labels(bp: &mut Blueprint) {
    let convert = |s: &mut Spanned<String>| {
        if s.value.is_ascii() {
            return;
        }
        if let Ok(name) = hickory_resolver::Name::from_utf8(&s.value) {
            s.value = name.to_ascii().trim_end_matches('.').to_ascii_lowercase();
        }
    };
    if let Some(g) = &mut bp.gateway {
        convert(&mut g.hostname);
        if let Some(z) = &mut g.zone {
            convert(z);
        }
    }
    for d in &mut bp.domains {
        convert(&mut d.domain);
        if let Some(z) = &mut d.zone {
            convert(z);
        }
        if let Some(m) = d.ses.as_mut().and_then(|s| s.mail_from_domain.as_mut()) {
            convert(m);
        }
    }
}

/// Reads and loads a blueprint file. A file over [`LIMITS`]' size is refused unread.
pub fn load_file(path: &Path) -> Result<Blueprint, Report> {
    let file = path.display().to_string();
    let refuse = |message: String, hint: &str| Report {
        file: file.clone(),
        source: String::new(),
        diagnostics: vec![Diagnostic::new(None, "", message).hint(hint)],
    };
    let read = || -> std::io::Result<Vec<u8>> {
        use std::io::Read as _;
        let mut bytes = Vec::new();
        std::fs::File::open(path)?
            .take(LIMITS.file_bytes as u64 + 1)
            .read_to_end(&mut bytes)?;
        Ok(bytes)
    };
    let bytes = read().map_err(|e| {
        refuse(
            format!("cannot read the blueprint: {e}"),
            "pass the blueprint's path, e.g. `mailinfra plan blueprints/example.yaml`",
        )
    })?;
    if bytes.len() > LIMITS.file_bytes {
        // Only the limit and one byte were read; the file's own size is in its metadata.
        let size = std::fs::metadata(path).map_or(bytes.len(), |m| m.len() as usize);
        let d = parse::too_large(size);
        return Err(refuse(d.message, d.hint.as_deref().unwrap_or_default()));
    }
    let source = String::from_utf8(bytes).map_err(|e| {
        refuse(
            format!("the blueprint is not UTF-8 text: {e}"),
            "save the file as UTF-8",
        )
    })?;
    let base = path.parent().unwrap_or(Path::new("."));
    load(&file, &source, base)
}
