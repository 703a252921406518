//! The blueprint: its types, loading from YAML with source positions, and validation.
//!
//! `load` turns a file's text into a [`Blueprint`] and reports every problem at once
//! (structure and meaning alike) as a [`Report`]. Pure apart from reading DKIM key files the
//! blueprint names: no AWS, no tokio. May import `mail` (the record builders it validates
//! against); nothing from `model`, `plan` or the AWS edges.

pub mod diagnostics;
mod load;
#[cfg(test)]
mod tests;
mod validate;
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
