//! DNS record sets in Route 53: the kind every other kind publishes through.
//!
//! Pure half: [`RecordSet`] and the normalization both sides share before they are compared,
//! ownership records (`ownership`), the per-zone diff (`diff`) and change batches (`batch`).
//! SDK half: `observe` (zones, their records and tags) and `execute` (tag, change batches,
//! INSYNC waits).

pub mod batch;
pub mod diff;
pub mod execute;
pub mod import;
pub mod observe;
pub mod ownership;

pub use diff::Pending;

use serde::{Deserialize, Serialize};

pub use crate::mail::record::{Purpose, RType};
use crate::mail::{names, txt};

/// A Route 53 resource record set as mailinfra handles it: name lower-case without the
/// trailing dot, values exactly as Route 53 stores them (TXT quoted and split).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RecordSet {
    pub name: String,
    #[serde(rename = "type")]
    pub rtype: RType,
    pub ttl: u32,
    pub values: Vec<String>,
}

impl RecordSet {
    /// Whether two record sets say the same to a resolver: same TTL and the same values once
    /// normalized (TXT by the text a receiver reads, names without case or trailing dot),
    /// in any order.
    pub fn same_content(&self, other: &RecordSet) -> bool {
        self.rtype == other.rtype
            && self.ttl == other.ttl
            && normalized_values(&self.rtype, &self.values)
                == normalized_values(&other.rtype, &other.values)
    }

    /// The record's address in plans and errors.
    pub fn address(&self) -> String {
        address(&self.name, &self.rtype)
    }
}

/// The stable address of a record set: `dns.<name>.<TYPE>`.
pub fn address(name: &str, rtype: impl std::fmt::Display) -> String {
    format!("dns.{name}.{rtype}")
}

/// One value as a resolver would compare it.
pub fn normalized_value(rtype: &RType, value: &str) -> String {
    match rtype {
        RType::Txt | RType::Spf => txt::text_of(value),
        RType::Cname | RType::Ns | RType::Ptr => names::normalize(value),
        RType::Mx => match value.split_once(' ') {
            Some((pref, host)) => format!("{pref} {}", names::normalize(host.trim())),
            None => value.to_owned(),
        },
        _ => value.trim().to_owned(),
    }
}

fn normalized_values(rtype: &RType, values: &[String]) -> Vec<String> {
    let mut v: Vec<String> = values.iter().map(|x| normalized_value(rtype, x)).collect();
    v.sort();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rs(rtype: &str, ttl: u32, values: &[&str]) -> RecordSet {
        RecordSet {
            name: "example.com".into(),
            rtype: rtype.into(),
            ttl,
            values: values.iter().map(|v| v.to_string()).collect(),
        }
    }

    #[test]
    fn txt_compares_by_text_not_by_split() {
        let a = rs("TXT", 300, &["\"v=DKIM1; k=rsa; p=AB\" \"CD\""]);
        let b = rs("TXT", 300, &["\"v=DKIM1; k=rsa; p=ABCD\""]);
        assert!(a.same_content(&b));
    }

    #[test]
    fn order_case_and_trailing_dots_do_not_matter_but_ttl_does() {
        assert!(
            rs("MX", 300, &["10 A.example.com.", "20 b.example.com"]).same_content(&rs(
                "MX",
                300,
                &["20 b.example.com.", "10 a.example.com"]
            ))
        );
        assert!(!rs("TXT", 300, &["\"x\""]).same_content(&rs("TXT", 600, &["\"x\""])));
        assert!(!rs("TXT", 300, &["\"x\""]).same_content(&rs("TXT", 300, &["\"y\""])));
    }
}
