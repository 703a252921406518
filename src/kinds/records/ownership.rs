//! How mailinfra marks what it owns in Route 53, where record sets carry no tags.
//!
//! After external-dns's TXT registry and octoDNS's ownership records: every record set
//! mailinfra manages has a companion TXT record set at `_mailinfra-<type>.<name>` holding
//! `"heritage=mailinfra,mailinfra/blueprint=<name>,mailinfra/owns=<all|spf>"`. `owns=spf`
//! means the blueprint owns only the SPF string inside a TXT set shared with other values.
//! Hosted zones a blueprint writes to carry the tag `mailinfra:blueprint:<name>`, so its
//! footprint is found in AWS, never in a local state file.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::{RType, RecordSet};
use crate::mail::txt;

/// The TTL of ownership records; nobody resolves them in the mail path.
pub const MARKER_TTL: u32 = 300;
const PREFIX: &str = "_mailinfra-";

/// What part of a record set a blueprint owns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// The whole record set.
    All,
    /// Only the `v=spf1` string in a TXT set that may hold other values.
    Spf,
}

/// The owner an ownership record names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    pub blueprint: String,
    pub scope: Scope,
}

/// The hosted-zone tag key that marks a zone as part of a blueprint's footprint.
pub fn zone_tag_key(blueprint: &str) -> String {
    format!("mailinfra:blueprint:{blueprint}")
}

/// The value of that tag.
pub const ZONE_TAG_VALUE: &str = "records";

/// The name of the ownership record for a record set.
pub fn marker_name(name: &str, rtype: impl AsRef<str>) -> String {
    format!("{PREFIX}{}.{name}", rtype.as_ref().to_ascii_lowercase())
}

/// If `name` is an ownership record's name, the name and type of the record set it marks.
pub fn marked_by(name: &str) -> Option<(String, RType)> {
    let rest = name.strip_prefix(PREFIX)?;
    let (rtype, target) = rest.split_once('.')?;
    Some((target.to_owned(), RType::from(rtype.to_ascii_uppercase())))
}

/// The record names and types a blueprint can write: an ownership record naming the blueprint
/// is honoured (its record updated or deleted) only for one of these, and only in a zone the
/// blueprint names. Anyone who can write a TXT record could forge a marker; this keeps a
/// forged one from turning into the deletion of an MX or A record mailinfra never writes.
/// A name starting with `*.` stands for any one label there (`*._domainkey.example.com`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Writable(pub BTreeSet<(String, RType)>);

impl Writable {
    pub fn add(&mut self, name: &str, rtype: RType) {
        self.0.insert((name.to_owned(), rtype));
    }

    /// Whether the blueprint can write a record set of type `rtype` at `name`.
    pub fn allows(&self, name: &str, rtype: &RType) -> bool {
        self.0
            .iter()
            .any(|(pattern, t)| t == rtype && name_matches(pattern, name))
    }
}

/// Whether `name` is `pattern`, where a pattern starting with `*.` stands for any one label
/// there (`*._domainkey.example.com`: Easy DKIM's CNAMEs, whose tokens SES chooses).
pub fn name_matches(pattern: &str, name: &str) -> bool {
    match pattern.strip_prefix("*.") {
        Some(parent) => name
            .split_once('.')
            .is_some_and(|(label, rest)| !label.is_empty() && rest == parent),
        None => pattern == name,
    }
}

/// The ownership record set for a record set owned by `owner`.
pub fn marker(name: &str, rtype: impl AsRef<str>, owner: &Owner) -> RecordSet {
    let scope = match owner.scope {
        Scope::All => "all",
        Scope::Spf => "spf",
    };
    RecordSet {
        name: marker_name(name, rtype),
        rtype: RType::Txt,
        ttl: MARKER_TTL,
        values: vec![txt::encode(&format!(
            "heritage=mailinfra,mailinfra/blueprint={},mailinfra/owns={scope}",
            owner.blueprint
        ))],
    }
}

/// Reads the owner from an ownership record set; `None` if it is not one of mailinfra's.
pub fn parse(set: &RecordSet) -> Option<Owner> {
    let [value] = set.values.as_slice() else {
        return None;
    };
    let text = txt::text_of(value);
    let mut fields = text.split(',');
    if fields.next()? != "heritage=mailinfra" {
        return None;
    }
    let mut blueprint = None;
    let mut scope = None;
    for f in fields {
        match f.split_once('=')? {
            ("mailinfra/blueprint", b) => blueprint = Some(b.to_owned()),
            ("mailinfra/owns", "all") => scope = Some(Scope::All),
            ("mailinfra/owns", "spf") => scope = Some(Scope::Spf),
            _ => {}
        }
    }
    Some(Owner {
        blueprint: blueprint?,
        scope: scope?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marker_round_trips() {
        let owner = Owner {
            blueprint: "acme-mail".into(),
            scope: Scope::Spf,
        };
        let m = marker("example.com", "TXT", &owner);
        assert_eq!(m.name, "_mailinfra-txt.example.com");
        assert_eq!(
            m.values,
            ["\"heritage=mailinfra,mailinfra/blueprint=acme-mail,mailinfra/owns=spf\""]
        );
        assert_eq!(parse(&m), Some(owner));
        assert_eq!(
            marked_by(&m.name),
            Some(("example.com".to_owned(), RType::Txt))
        );
    }

    #[test]
    fn writable_names_match_exactly_or_by_one_label() {
        let mut w = Writable::default();
        w.add("example.com", RType::Txt);
        w.add("*._domainkey.example.com", RType::Cname);
        assert!(w.allows("example.com", &RType::Txt));
        assert!(!w.allows("example.com", &RType::Mx));
        assert!(!w.allows("www.example.com", &RType::Txt));
        assert!(w.allows("abc._domainkey.example.com", &RType::Cname));
        assert!(!w.allows("a.b._domainkey.example.com", &RType::Cname));
        assert!(!w.allows("._domainkey.example.com", &RType::Cname));
        assert!(!w.allows("abc._domainkey.example.com", &RType::Txt));
    }

    #[test]
    fn foreign_txt_is_not_a_marker() {
        let set = RecordSet {
            name: "_mailinfra-txt.example.com".into(),
            rtype: "TXT".into(),
            ttl: 300,
            values: vec!["\"heritage=external-dns,external-dns/owner=x\"".into()],
        };
        assert_eq!(parse(&set), None);
        assert_eq!(marked_by("_dmarc.example.com"), None);
    }
}
