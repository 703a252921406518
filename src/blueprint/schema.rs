//! The blueprint document's shape, once: these types give the JSON Schema that `mailinfra
//! schema` prints (for editors), and the loader takes each mapping's known fields from them
//! (`fields::<T>()`), so a field cannot exist in the loader and not the schema, or the other
//! way round. The loader checks values itself, with positions and hints; the doc comments
//! here are the schema's descriptions.
#![allow(dead_code)]

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;

/// A mailinfra blueprint: the mail records and Amazon SES setup of a set of domains.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "mailinfra blueprint")]
pub struct BlueprintDoc {
    /// The owner name: ownership records and tags carry it. 1-63 lower-case letters, digits, hyphens.
    #[schemars(regex(pattern = r"^[a-z0-9][a-z0-9-]{0,62}$"))]
    pub blueprint: String,
    /// The AWS region for SES (Route 53 is global), e.g. `eu-west-1`.
    pub region: Option<String>,
    /// Default TTL in seconds for every record (default 300).
    #[schemars(range(min = 60, max = 604800))]
    pub ttl: Option<u32>,
    #[serde(default)]
    pub domains: Vec<DomainDoc>,
    /// Addresses of existing records or SES resources to take over, as plan prints them
    /// (`dns.example.com.TXT`, `ses.identity.example.com`).
    #[serde(default)]
    pub adopt: Vec<String>,
    /// Account-level Amazon SES settings.
    pub ses: Option<SesAccountDoc>,
}

/// One mail domain.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DomainDoc {
    /// The mail domain, e.g. `example.com`.
    pub domain: String,
    /// The Route 53 hosted zone holding the domain (default: the domain).
    pub zone: Option<String>,
    /// TTL in seconds for this domain's records.
    #[schemars(range(min = 60, max = 604800))]
    pub ttl: Option<u32>,
    pub spf: Option<SpfDoc>,
    pub dmarc: Option<DmarcDoc>,
    /// DKIM public keys to publish at `<selector>._domainkey.<domain>`.
    #[serde(default)]
    pub dkim: Vec<DkimKeyDoc>,
    /// Who sends the domain's mail: `ses` (Amazon SES); `gateway` is not built yet.
    #[serde(default)]
    pub send_via: Vec<Sender>,
    /// Amazon SES settings for the domain (needs `send_via: [ses]`).
    pub ses: Option<SesDomainDoc>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Sender {
    Ses,
    Gateway,
}

/// The domain's SPF record; mailinfra adds its own senders.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SpfDoc {
    /// Other senders' SPF domains (each costs DNS lookups; at most 10 in all).
    #[serde(default)]
    pub include: Vec<String>,
    /// IPv4 addresses or CIDR ranges.
    #[serde(default)]
    pub ip4: Vec<String>,
    /// IPv6 addresses or CIDR ranges.
    #[serde(default)]
    pub ip6: Vec<String>,
    /// The `a` mechanism.
    #[serde(default)]
    pub a: bool,
    /// The `mx` mechanism.
    #[serde(default)]
    pub mx: bool,
    /// The closing qualifier (default softfail).
    pub all: Option<SpfAllDoc>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SpfAllDoc {
    Fail,
    Softfail,
    Neutral,
}

/// The domain's DMARC record (RFC 9989 tags only).
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DmarcDoc {
    pub policy: PolicyDoc,
    pub subdomain_policy: Option<PolicyDoc>,
    /// `np=`: policy for non-existent subdomains.
    pub nonexistent_policy: Option<PolicyDoc>,
    /// Aggregate report addresses (`mailto:`).
    #[serde(default)]
    pub rua: Vec<String>,
    /// Failure report addresses (`mailto:`).
    #[serde(default)]
    pub ruf: Vec<String>,
    pub adkim: Option<AlignmentDoc>,
    pub aspf: Option<AlignmentDoc>,
    /// Failure reporting options: `0`, `1`, `d`, `s` joined by `:`.
    pub fo: Option<String>,
    /// `t=y`: receivers apply one step less while the policy is tested.
    #[serde(default)]
    pub testing: bool,
    pub psd: Option<PsdDoc>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PolicyDoc {
    None,
    Quarantine,
    Reject,
}

#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum AlignmentDoc {
    Relaxed,
    Strict,
}

#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PsdDoc {
    Yes,
    No,
    Unknown,
}

/// A DKIM public key: inline or from a file (PEM or base64 SubjectPublicKeyInfo).
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DkimKeyDoc {
    pub selector: String,
    pub public_key: Option<String>,
    /// A path relative to the blueprint file.
    pub public_key_file: Option<String>,
}

/// How the domain sends through Amazon SES.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SesDomainDoc {
    pub dkim: Option<SesDkimDoc>,
    /// A custom MAIL FROM subdomain, e.g. `bounce.example.com`.
    pub mail_from: Option<String>,
    pub mail_from_on_mx_failure: Option<MxFailureDoc>,
    pub mail_from_spf: Option<MailFromSpfDoc>,
    /// The identity's default configuration set.
    pub configuration_set: Option<String>,
}

/// `easy`, `{ easy: { key_length } }` or `{ byodkim: { selector } }`.
#[derive(Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum SesDkimDoc {
    Kind(EasyKind),
    Easy(EasyWrap),
    Byo(ByoWrap),
}

#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum EasyKind {
    Easy,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EasyWrap {
    pub easy: EasyDoc,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EasyDoc {
    /// 1024 or 2048 (default).
    #[schemars(extend("enum" = [1024, 2048]))]
    pub key_length: Option<u32>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ByoWrap {
    pub byodkim: ByoDoc,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ByoDoc {
    /// The DKIM selector; mailinfra generates the key.
    pub selector: String,
}

#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MxFailureDoc {
    UseDefault,
    Reject,
}

#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum MailFromSpfDoc {
    Fail,
    Softfail,
}

/// Account-level Amazon SES settings.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SesAccountDoc {
    /// The account suppression list's reasons.
    pub suppression: Option<Vec<ReasonDoc>>,
    #[serde(default)]
    pub configuration_sets: Vec<ConfigSetDoc>,
    /// Request production access (leave the sandbox) with these details.
    pub production_access: Option<ProductionAccessDoc>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ReasonDoc {
    Bounce,
    Complaint,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfigSetDoc {
    #[schemars(regex(pattern = r"^[A-Za-z0-9_-]{1,64}$"))]
    pub name: String,
    #[serde(default)]
    pub suppression: Vec<ReasonDoc>,
    pub tls: Option<TlsDoc>,
    pub sending_enabled: Option<bool>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum TlsDoc {
    Require,
    Optional,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductionAccessDoc {
    pub mail_type: MailTypeDoc,
    pub website_url: String,
    /// Who receives the mail, how they opted in, how bounces and complaints are handled.
    pub use_case: String,
    pub contact_language: Option<LanguageDoc>,
    #[serde(default)]
    pub additional_contacts: Vec<String>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum MailTypeDoc {
    Transactional,
    Marketing,
}

#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LanguageDoc {
    En,
    Ja,
}

/// The JSON Schema of the blueprint.
pub fn json_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(BlueprintDoc)).unwrap_or_default()
}

/// The field names a mapping of type `T` takes, in declaration order.
pub fn fields<T: JsonSchema>() -> Vec<String> {
    let schema = schemars::SchemaGenerator::default().into_root_schema_for::<T>();
    schema
        .get("properties")
        .and_then(|p| p.as_object())
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default()
}
