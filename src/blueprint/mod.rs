//! The blueprint: its types, loading from YAML with source positions, and validation.
//!
//! `load` turns a file's text into a [`Blueprint`] and reports every problem at once
//! (structure and meaning alike) as a [`Report`]. Pure apart from reading DKIM key files the
//! blueprint names: no AWS, no tokio. May import `mail` (the record builders it validates
//! against); nothing from `model`, `plan` or the AWS edges.

pub mod diagnostics;
mod load;
pub mod schema;
#[cfg(test)]
mod tests;
pub(crate) mod validate;
pub mod yaml;

use std::path::Path;

pub use diagnostics::{Diagnostic, Pos, Report};

/// A value and where it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Spanned<T> {
    pub value: T,
    pub pos: Pos,
}

/// The TTL given to records when neither the domain nor the blueprint sets one. Five minutes
/// lets a fix reach resolvers quickly; mail records change rarely, so the query cost is small.
pub const DEFAULT_TTL: u32 = 300;

/// One blueprint file.
#[derive(Debug, Clone, PartialEq)]
pub struct Blueprint {
    /// The owner name: ownership records and tags carry it.
    pub name: Spanned<String>,
    pub region: Option<Spanned<String>>,
    pub ttl: Option<Spanned<u32>>,
    pub domains: Vec<DomainSpec>,
    /// Record addresses (`dns.example.com.TXT`) that already exist without mailinfra's
    /// ownership record and that the user wants mailinfra to take over.
    pub adopt: Vec<Spanned<String>>,
    /// Account-level Amazon SES settings.
    pub ses: Option<SesAccountSpec>,
    /// The self-hosted relay gateway.
    pub gateway: Option<GatewaySpec>,
}

/// The relay gateway: one EC2 instance in the VPC that application instances hand mail to.
#[derive(Debug, Clone, PartialEq)]
pub struct GatewaySpec {
    pub pos: Pos,
    /// The name in the A and PTR records and Postfix's `myhostname`.
    pub hostname: Spanned<String>,
    /// The hosted zone holding `hostname` (default: its parent domain).
    pub zone: Option<Spanned<String>>,
    pub instance_type: Spanned<String>,
    /// `debian-12` (resolved through Debian's public SSM parameter) or an `ami-` id.
    pub image: Spanned<String>,
    /// Default: a default subnet of the default VPC.
    pub subnet: Option<Spanned<String>>,
    /// The networks allowed to relay through the gateway (Postfix `mynetworks`, security group).
    pub relay_from: Vec<Spanned<String>>,
    /// Also accept mail on the submission port 587.
    pub submission: bool,
    pub dkim_selector: Spanned<String>,
}

impl GatewaySpec {
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
#[derive(Debug, Clone, PartialEq)]
pub struct DomainSpec {
    /// The document path, `domains[N]`, for diagnostics.
    pub path: String,
    pub domain: Spanned<String>,
    /// The Route 53 hosted zone holding the domain's records; the domain itself by default.
    pub zone: Option<Spanned<String>>,
    pub ttl: Option<Spanned<u32>>,
    pub spf: Option<SpfSpec>,
    pub dmarc: Option<DmarcSpec>,
    pub dkim: Vec<DkimSpec>,
    /// `send_via: [ses]`: the domain sends through Amazon SES, with these settings.
    pub ses: Option<SesDomainSpec>,
    /// `send_via: [gateway]`: the gateway relays and signs this domain's mail.
    pub via_gateway: Option<Pos>,
}

impl DomainSpec {
    pub fn zone_name(&self) -> &str {
        self.zone.as_ref().unwrap_or(&self.domain).value.as_str()
    }
}

/// SPF for one domain: the mechanisms the user lists; mailinfra adds its own senders.
#[derive(Debug, Clone, PartialEq)]
pub struct SpfSpec {
    pub pos: Pos,
    pub include: Vec<Spanned<String>>,
    pub ip4: Vec<Spanned<String>>,
    pub ip6: Vec<Spanned<String>>,
    pub a: bool,
    pub mx: bool,
    pub all: Spanned<SpfAll>,
}

/// The closing `all` mechanism's qualifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpfAll {
    /// `-all`: receivers should reject mail from unlisted senders.
    Fail,
    /// `~all`: accept but mark (the default: safe while other senders are being found).
    SoftFail,
    /// `?all`: no statement.
    Neutral,
}

/// DMARC policy for one domain, with the tags RFC 9989 keeps or adds.
#[derive(Debug, Clone, PartialEq)]
pub struct DmarcSpec {
    pub pos: Pos,
    pub policy: DmarcPolicy,
    pub subdomain_policy: Option<DmarcPolicy>,
    pub nonexistent_policy: Option<DmarcPolicy>,
    pub rua: Vec<Spanned<String>>,
    pub ruf: Vec<Spanned<String>>,
    pub adkim: Option<Alignment>,
    pub aspf: Option<Alignment>,
    pub fo: Option<Spanned<String>>,
    /// RFC 9989 `t=y`: the policy is being tested and receivers apply one step less.
    pub testing: bool,
    pub psd: Option<Psd>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DmarcPolicy {
    None,
    Quarantine,
    Reject,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alignment {
    Relaxed,
    Strict,
}

/// RFC 9989 `psd=`: whether this domain is a public suffix domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Psd {
    Yes,
    No,
    Unknown,
}

/// A DKIM public key to publish at `<selector>._domainkey.<domain>`.
#[derive(Debug, Clone, PartialEq)]
pub struct DkimSpec {
    pub pos: Pos,
    pub selector: Spanned<String>,
    /// Base64 of the DER SubjectPublicKeyInfo, whitespace and PEM armour removed.
    pub public_key: Spanned<String>,
}

/// How a domain sends through Amazon SES.
#[derive(Debug, Clone, PartialEq)]
pub struct SesDomainSpec {
    pub pos: Pos,
    pub dkim: SesDkimSpec,
    pub mail_from: Option<MailFromSpec>,
    pub configuration_set: Option<Spanned<String>>,
}

/// SES DKIM: Easy DKIM (SES holds the key, three CNAMEs) or BYODKIM (mailinfra generates a
/// key, gives the private half to SES only, publishes the public half as TXT).
#[derive(Debug, Clone, PartialEq)]
pub enum SesDkimSpec {
    Easy { key_length: KeyLength },
    Byo { selector: Spanned<String> },
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MxFailure {
    /// Fall back to SES's own MAIL FROM domain.
    UseDefault,
    /// Refuse to send.
    Reject,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SuppressionReason {
    Bounce,
    Complaint,
}

/// Account-level SES settings.
#[derive(Debug, Clone, PartialEq)]
pub struct SesAccountSpec {
    pub pos: Pos,
    /// `None`: the account's suppression list is not managed.
    pub suppression: Option<Vec<SuppressionReason>>,
    pub configuration_sets: Vec<ConfigSetSpec>,
    pub production_access: Option<ProductionAccessSpec>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ConfigSetSpec {
    pub name: Spanned<String>,
    pub suppression: Vec<SuppressionReason>,
    pub tls_required: bool,
    pub sending_enabled: bool,
    pub tags: Vec<(String, String)>,
}

/// The details of a request to leave the SES sandbox, which people at AWS decide.
#[derive(Debug, Clone, PartialEq)]
pub struct ProductionAccessSpec {
    pub pos: Pos,
    pub mail_type: MailType,
    pub website_url: Spanned<String>,
    pub use_case: Spanned<String>,
    pub contact_language: ContactLanguage,
    pub additional_contacts: Vec<Spanned<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailType {
    Transactional,
    Marketing,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
    let root = yaml::parse(source).map_err(|d| report(vec![d]))?;
    let (blueprint, mut diagnostics) = load::from_tree(&root, base_dir);
    if let Some(bp) = &blueprint {
        diagnostics.extend(validate::check(bp));
    }
    diagnostics.sort_by_key(|d| d.pos);
    match blueprint {
        Some(bp) if diagnostics.is_empty() => Ok(bp),
        _ => Err(report(diagnostics)),
    }
}

/// Reads and loads a blueprint file.
pub fn load_file(path: &Path) -> Result<Blueprint, Report> {
    let file = path.display().to_string();
    let source = std::fs::read_to_string(path).map_err(|e| Report {
        file: file.clone(),
        source: String::new(),
        diagnostics: vec![
            Diagnostic::new(None, "", format!("cannot read the blueprint: {e}"))
                .hint("pass the blueprint's path, e.g. `mailinfra plan blueprints/example.yaml`"),
        ],
    })?;
    let base = path.parent().unwrap_or(Path::new("."));
    load(&file, &source, base)
}
