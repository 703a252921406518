//! SPF records as a receiver reads them (RFC 7208): parsing the terms, and evaluating a
//! domain's policy through DNS to count the terms that cost lookups (at most 10, §4.6.4),
//! the void lookups (at most 2), and to collect the addresses it authorizes.

use std::net::IpAddr;
use std::ops::ControlFlow;

use super::dns::{Answer, Dns};

/// One term of an SPF record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Term {
    /// A mechanism with its qualifier (`+`, `-`, `~`, `?`), name and argument.
    Mechanism {
        qualifier: char,
        name: String,
        arg: Option<String>,
    },
    /// A modifier: `redirect=…`, `exp=…`, or unknown ones (ignored, RFC 7208 §6).
    Modifier { name: String, value: String },
}

const MECHANISMS: &[&str] = &["all", "include", "a", "mx", "ptr", "ip4", "ip6", "exists"];
/// The mechanisms and modifiers that cost a DNS lookup (RFC 7208 §4.6.4).
const LOOKUP_TERMS: &[&str] = &["include", "a", "mx", "ptr", "exists", "redirect"];

/// Parses a `v=spf1` record into its terms, or says what is wrong with it.
pub fn parse(record: &str) -> Result<Vec<Term>, String> {
    let mut words = record.split_ascii_whitespace();
    match words.next() {
        Some(v) if v.eq_ignore_ascii_case("v=spf1") => {}
        _ => return Err("does not start with `v=spf1`".into()),
    }
    let mut terms = Vec::new();
    for w in words {
        if let Some((name, value)) = w.split_once('=')
            && !name.contains(':')
            && !name.contains('/')
        {
            terms.push(Term::Modifier {
                name: name.to_ascii_lowercase(),
                value: value.to_owned(),
            });
            continue;
        }
        let (qualifier, rest) = match w.chars().next() {
            Some(q @ ('+' | '-' | '~' | '?')) => (q, &w[1..]),
            _ => ('+', w),
        };
        let (name, arg) = match rest.find([':', '/']) {
            Some(i) if rest.as_bytes()[i] == b':' => (&rest[..i], Some(rest[i + 1..].to_owned())),
            Some(i) => (&rest[..i], Some(rest[i..].to_owned())),
            None => (rest, None),
        };
        let name = name.to_ascii_lowercase();
        if !MECHANISMS.contains(&name.as_str()) {
            return Err(format!("unknown mechanism `{w}`"));
        }
        if matches!(name.as_str(), "include" | "exists" | "ip4" | "ip6")
            && arg.as_deref().is_none_or(str::is_empty)
        {
            return Err(format!("`{name}` needs an argument"));
        }
        terms.push(Term::Mechanism {
            qualifier,
            name,
            arg,
        });
    }
    Ok(terms)
}

/// What evaluating a domain's SPF through DNS found.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Evaluation {
    pub lookups: usize,
    pub voids: usize,
    /// `ip4`/`ip6` ranges (address, prefix length) authorized anywhere in the tree.
    pub ranges: Vec<(IpAddr, u8)>,
    /// The top record's `all` qualifier, if it has one.
    pub all: Option<char>,
    /// Problems a receiver would treat as errors (permerror/temperror).
    pub errors: Vec<String>,
}

impl Evaluation {
    pub fn authorizes(&self, ip: IpAddr) -> bool {
        self.ranges
            .iter()
            .any(|(net, prefix)| in_range(ip, *net, *prefix))
    }
}

fn in_range(ip: IpAddr, net: IpAddr, prefix: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = if prefix == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(prefix.min(32)))
            };
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = if prefix == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(prefix.min(128)))
            };
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

/// The SPF records among a name's TXT values.
pub fn records(txt: &[String]) -> Vec<&String> {
    txt.iter().filter(|t| crate::mail::spf::is_spf(t)).collect()
}

/// Evaluates `domain`'s policy: `record` is its SPF text, already fetched.
pub async fn evaluate(dns: &Dns, record: &str) -> Evaluation {
    let mut e = Evaluation::default();
    walk(dns, record, 0, true, &mut e).await;
    e
}

fn walk<'a>(
    dns: &'a Dns,
    record: &'a str,
    depth: usize,
    top: bool,
    e: &'a mut Evaluation,
) -> futures::future::BoxFuture<'a, ()> {
    Box::pin(async move {
        let terms = match parse(record) {
            Ok(t) => t,
            Err(why) => {
                e.errors.push(format!("`{record}` {why}"));
                return;
            }
        };
        let has_all = terms
            .iter()
            .any(|t| matches!(t, Term::Mechanism { name, .. } if name == "all"));
        for t in &terms {
            let Some((name, target)) = note(t, top, has_all, e) else {
                continue;
            };
            if !LOOKUP_TERMS.contains(&name) {
                continue;
            }
            e.lookups += 1;
            if e.lookups > crate::mail::spf::MAX_LOOKUPS {
                return;
            }
            let followed = match name {
                "include" | "redirect" => follow(dns, name, target, depth, e).await,
                "a" => {
                    add_a(dns, target, e).await;
                    ControlFlow::Continue(())
                }
                _ => ControlFlow::Continue(()),
            };
            if followed.is_break() {
                return;
            }
        }
    })
}

/// Notes what a term says without a lookup (the top record's `all`, `ip4`/`ip6` ranges) and
/// returns the lookup it may cost: its name and target. `redirect` counts only in a record
/// without `all` (RFC 7208 §6.1).
fn note<'t>(
    t: &'t Term,
    top: bool,
    has_all: bool,
    e: &mut Evaluation,
) -> Option<(&'t str, Option<String>)> {
    match t {
        Term::Mechanism {
            qualifier,
            name,
            arg,
        } => {
            if name == "all" && top {
                e.all = Some(*qualifier);
            }
            if name == "ip4" || name == "ip6" {
                if let Some(a) = arg {
                    add_range(name, a, e);
                }
                return None;
            }
            Some((name.as_str(), arg.clone()))
        }
        Term::Modifier { name, value } if name == "redirect" && !has_all => {
            Some(("redirect", Some(value.clone())))
        }
        Term::Modifier { .. } => None,
    }
}

/// An `ip4`/`ip6` argument: an address with an optional prefix length.
fn add_range(name: &str, a: &str, e: &mut Evaluation) {
    let (addr, prefix) = a
        .split_once('/')
        .unwrap_or((a, if name == "ip4" { "32" } else { "128" }));
    match (addr.parse::<IpAddr>(), prefix.parse::<u8>()) {
        (Ok(ip), Ok(p)) => e.ranges.push((ip, p)),
        _ => e
            .errors
            .push(format!("`{name}:{a}` is not an address or range")),
    }
}

/// `include` or `redirect`: walks the target's one SPF record. Breaks when the includes nest
/// too deep, which ends the walk of the record that named it.
async fn follow(
    dns: &Dns,
    name: &str,
    target: Option<String>,
    depth: usize,
    e: &mut Evaluation,
) -> ControlFlow<()> {
    let Some(target) = target else {
        return ControlFlow::Continue(());
    };
    if depth > 10 {
        e.errors.push("includes nest too deep (a loop?)".into());
        return ControlFlow::Break(());
    }
    match dns.txt(&target).await {
        Answer::Found(txt) => match records(&txt).as_slice() {
            [one] => {
                let one = (*one).clone();
                walk(dns, &one, depth + 1, false, e).await;
            }
            [] => {
                e.voids += 1;
                e.errors
                    .push(format!("`{target}` (from {name}) has no SPF record"));
            }
            _ => e
                .errors
                .push(format!("`{target}` (from {name}) has several SPF records")),
        },
        Answer::NoRecords => {
            e.voids += 1;
            e.errors
                .push(format!("`{target}` (from {name}) does not exist"));
        }
        Answer::Failed(why) => e.errors.push(format!("`{target}`: {why}")),
    }
    ControlFlow::Continue(())
}

/// `a:host`: the host's addresses are authorized. A bare `a` (or `a/24`) is not expanded.
async fn add_a(dns: &Dns, target: Option<String>, e: &mut Evaluation) {
    if let Some(host) = target.filter(|t| !t.starts_with('/')) {
        match dns.a(&host).await {
            Answer::Found(ips) => e
                .ranges
                .extend(ips.into_iter().map(|ip| (IpAddr::V4(ip), 32))),
            Answer::NoRecords => e.voids += 1,
            Answer::Failed(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The records of RFC 7208 Appendix A, and what the parser makes of them.
    #[test]
    fn rfc_7208_examples_parse() {
        for record in [
            "v=spf1 +all",
            "v=spf1 a -all",
            "v=spf1 a:example.org -all",
            "v=spf1 mx -all",
            "v=spf1 mx:example.org -all",
            "v=spf1 mx mx:example.org -all",
            "v=spf1 mx/30 mx:example.org/30 -all",
            "v=spf1 ptr -all",
            "v=spf1 ip4:192.0.2.128/28 -all",
            "v=spf1 include:example.com include:example.net -all",
            "v=spf1 redirect=example.org",
            "v=spf1 -include:_spf.example.com ~all",
            "v=spf1 exists:%{ir}.%{l1r+-}._spf.%{d} -all",
        ] {
            assert!(parse(record).is_ok(), "{record}: {:?}", parse(record));
        }
        assert_eq!(
            parse("v=spf1 mx/30 -all").unwrap()[0],
            Term::Mechanism {
                qualifier: '+',
                name: "mx".into(),
                arg: Some("/30".into())
            }
        );
        assert_eq!(
            parse("v=spf1 redirect=_spf.example.com").unwrap()[0],
            Term::Modifier {
                name: "redirect".into(),
                value: "_spf.example.com".into()
            }
        );
        assert_eq!(
            parse("v=spf1 ~all").unwrap()[0],
            Term::Mechanism {
                qualifier: '~',
                name: "all".into(),
                arg: None
            }
        );
    }

    #[test]
    fn malformed_records_are_named() {
        assert!(parse("v=spf2 -all").unwrap_err().contains("v=spf1"));
        assert!(
            parse("v=spf1 ipv4:1.2.3.4 -all")
                .unwrap_err()
                .contains("unknown mechanism")
        );
        assert!(
            parse("v=spf1 include: -all")
                .unwrap_err()
                .contains("needs an argument")
        );
    }

    #[test]
    fn ranges() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(in_range(ip("192.0.2.130"), ip("192.0.2.128"), 28));
        assert!(!in_range(ip("192.0.2.150"), ip("192.0.2.128"), 28));
        assert!(in_range(ip("2001:db8::1"), ip("2001:db8::"), 32));
        assert!(!in_range(ip("192.0.2.1"), ip("2001:db8::"), 32));
    }
}
