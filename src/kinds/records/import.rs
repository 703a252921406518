//! `mailinfra import`: a blueprint describing the mail records a set of Route 53 zones already
//! holds (SPF, DMARC, DKIM keys), with `adopt:` for each, so that `plan` right after finds
//! nothing to change but the ownership records. Pure: the record sets come in, YAML text and
//! what was left out come back.
//!
//! A record is described only when the blueprint can say exactly what it holds; otherwise it
//! is left out and named (`skipped`), never approximated: an SPF record with terms the
//! blueprint has no field for (`redirect=`, `exists`, `a:other.example`, `ptr`, `+all`),
//! a DMARC record with tags RFC 9989 removed (`pct` other than 100, `rf`, `ri`), a DKIM record
//! with tags beyond `v`, `k=rsa` and `p`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::RecordSet;
use crate::mail::record::RType;
use crate::mail::txt;

/// An SES identity as import reads it: the domain identity (GetEmailIdentity), or an
/// email-address identity, which a blueprint cannot describe.
pub enum Identity {
    Domain(Box<crate::kinds::ses::ObservedIdentity>),
    Address(String),
}

/// One zone as Route 53 holds it.
pub struct Zone {
    pub name: String,
    pub records: Vec<RecordSet>,
}

/// What import made.
#[derive(Debug, Default, PartialEq)]
pub struct Imported {
    /// The blueprint, YAML.
    pub yaml: String,
    /// Mail records left out, each with the reason.
    pub skipped: Vec<String>,
    /// How many records the blueprint describes.
    pub described: usize,
    /// Record sets that are not mail records mailinfra manages (`www` A, an apex MX, ...),
    /// as `name TYPE`: left out, and named so that nothing is dropped silently. The zones'
    /// own SOA and NS sets are not listed.
    pub unmanaged: Vec<String>,
}

/// The SPF fields of one domain.
#[derive(Debug, Default, PartialEq)]
struct Spf {
    include: Vec<String>,
    ip4: Vec<String>,
    ip6: Vec<String>,
    a: bool,
    mx: bool,
    all: &'static str,
}

/// One domain's entry: (field lines, adopt addresses, ttl).
#[derive(Debug, Default)]
struct Entry {
    zone: String,
    /// `send_via` and `ses:` lines, when the domain is an SES identity.
    ses: String,
    lines: String,
    adopt: Vec<String>,
    ttls: Vec<u32>,
}

/// An SES domain identity as blueprint lines, with the record sets SES needs that the zones
/// hold (DKIM CNAMEs, the MAIL FROM MX and TXT: adopted with the identity, never read as the
/// domain's own records), or why it cannot be described.
struct SesImport {
    lines: String,
    /// (name, type, ttl) of the record sets SES needs that the zones hold.
    records: Vec<(String, RType, u32)>,
}

fn ses_identity(
    id: &crate::kinds::ses::ObservedIdentity,
    zones: &[Zone],
) -> Result<SesImport, String> {
    use crate::kinds::ses::{DkimOrigin, KeyLength, MxFailure};
    if id.dkim_origin != DkimOrigin::AwsSes {
        return Err(
            "BYODKIM (or a key copied from another region): its private key cannot be read, so a blueprint could only replace it"
                .into(),
        );
    }
    if let Some(set) = &id.configuration_set {
        return Err(format!(
            "its default configuration set `{set}` is not imported: describe the set under `ses: configuration_sets` and add `configuration_set: {set}` by hand"
        ));
    }
    let find = |name: &str, rtype: RType| -> Option<&RecordSet> {
        zones
            .iter()
            .flat_map(|z| &z.records)
            .find(|r| r.rtype == rtype && r.name.trim_end_matches('.').eq_ignore_ascii_case(name))
    };
    let mut records = Vec::new();
    for token in &id.tokens {
        let name = format!("{token}._domainkey.{}", id.domain);
        if let Some(r) = find(&name, RType::Cname) {
            records.push((name, RType::Cname, r.ttl));
        }
    }
    let mut lines = String::from("    send_via: [ses]\n");
    let mut ses = String::new();
    if id.next_key_length == Some(KeyLength::Rsa1024) {
        ses.push_str("      dkim: { easy: { key_length: 1024 } }\n");
    }
    if let Some(m) = &id.mail_from {
        let _ = writeln!(ses, "      mail_from: {}", m.domain);
        if m.behavior == MxFailure::RejectMessage {
            ses.push_str("      mail_from_on_mx_failure: reject\n");
        }
        if let Some(r) = find(&m.domain, RType::Mx) {
            records.push((m.domain.clone(), RType::Mx, r.ttl));
        }
        if let Some(r) = find(&m.domain, RType::Txt) {
            let text = one_starting(r, "v=spf1")
                .ok_or_else(|| format!("{} TXT is not one SPF record", m.domain))?;
            match text.split_ascii_whitespace().last() {
                Some("-all") => {}
                Some("~all") => ses.push_str("      mail_from_spf: softfail\n"),
                _ => {
                    return Err(format!(
                        "the MAIL FROM domain's SPF `{text}` is not SES's `include:amazonses.com` with `-all` or `~all`"
                    ));
                }
            }
            records.push((m.domain.clone(), RType::Txt, r.ttl));
        }
    }
    if !ses.is_empty() {
        lines.push_str("    ses:\n");
        lines.push_str(&ses);
    }
    Ok(SesImport { lines, records })
}

fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("\"{s}\""))
}

fn list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| quote(i)).collect();
    format!("[{}]", quoted.join(", "))
}

/// The SPF record's terms as blueprint fields, or why they cannot be.
fn spf(text: &str) -> Result<Spf, String> {
    let mut spf = Spf {
        all: "",
        ..Spf::default()
    };
    let mut words = text.split_ascii_whitespace();
    if !words
        .next()
        .is_some_and(|v| v.eq_ignore_ascii_case("v=spf1"))
    {
        return Err("not an SPF record".into());
    }
    for w in words {
        let lower = w.to_ascii_lowercase();
        let (qualifier, term) = match lower.chars().next() {
            Some(q @ ('+' | '-' | '~' | '?')) => (q, &lower[1..]),
            _ => ('+', lower.as_str()),
        };
        if !spf.all.is_empty() {
            return Err(format!("`{w}` after `all`"));
        }
        match (qualifier, term.split_once(':')) {
            ('+', Some(("include", arg))) => spf.include.push(arg.into()),
            ('+', Some(("ip4", arg))) => spf.ip4.push(arg.into()),
            ('+', Some(("ip6", arg))) => spf.ip6.push(arg.into()),
            ('+', None) if term == "a" => spf.a = true,
            ('+', None) if term == "mx" => spf.mx = true,
            ('-', None) if term == "all" => spf.all = "fail",
            ('~', None) if term == "all" => spf.all = "softfail",
            ('?', None) if term == "all" => spf.all = "neutral",
            _ => return Err(format!("`{w}` has no blueprint field")),
        }
    }
    if spf.all.is_empty() {
        return Err("no `all` at the end".into());
    }
    Ok(spf)
}

fn spf_lines(s: &Spf) -> String {
    let mut out = String::from("    spf:\n");
    for (key, values) in [("include", &s.include), ("ip4", &s.ip4), ("ip6", &s.ip6)] {
        if !values.is_empty() {
            let _ = writeln!(out, "      {key}: {}", list(values));
        }
    }
    if s.a {
        out.push_str("      a: true\n");
    }
    if s.mx {
        out.push_str("      mx: true\n");
    }
    let _ = writeln!(out, "      all: {}", s.all);
    out
}

/// The DMARC record's tags as blueprint fields, or why they cannot be.
fn dmarc(text: &str) -> Result<String, String> {
    let mut tags: Vec<(String, String)> = Vec::new();
    for part in text.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = part
            .split_once('=')
            .ok_or_else(|| format!("`{part}` is not a tag"))?;
        tags.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
    }
    if !tags
        .first()
        .is_some_and(|(k, v)| k == "v" && v.eq_ignore_ascii_case("DMARC1"))
    {
        return Err("does not start with `v=DMARC1`".into());
    }
    let policy = |v: &str| match v.to_ascii_lowercase().as_str() {
        p @ ("none" | "quarantine" | "reject") => Ok(p.to_owned()),
        other => Err(format!("`{other}` is not a policy")),
    };
    let alignment = |v: &str| match v.to_ascii_lowercase().as_str() {
        "r" => Ok("relaxed".to_owned()),
        "s" => Ok("strict".to_owned()),
        other => Err(format!("`{other}` is not an alignment")),
    };
    let uris = |v: &str| -> Vec<String> { v.split(',').map(|u| u.trim().to_owned()).collect() };
    let mut fields: BTreeMap<usize, String> = BTreeMap::new();
    let mut has_policy = false;
    for (k, v) in &tags[1..] {
        let (order, line) = match k.as_str() {
            "p" => {
                has_policy = true;
                (0, format!("policy: {}", policy(v)?))
            }
            "sp" => (1, format!("subdomain_policy: {}", policy(v)?)),
            "np" => (2, format!("nonexistent_policy: {}", policy(v)?)),
            "rua" => (3, format!("rua: {}", list(&uris(v)))),
            "ruf" => (4, format!("ruf: {}", list(&uris(v)))),
            "adkim" => (5, format!("adkim: {}", alignment(v)?)),
            "aspf" => (6, format!("aspf: {}", alignment(v)?)),
            "fo" => (7, format!("fo: {}", quote(v))),
            "t" if v.eq_ignore_ascii_case("y") => (8, "testing: true".to_owned()),
            "t" if v.eq_ignore_ascii_case("n") => continue,
            "psd" => {
                let p = match v.to_ascii_lowercase().as_str() {
                    "y" => "yes",
                    "n" => "no",
                    "u" => "unknown",
                    other => return Err(format!("`psd={other}` is not y, n or u")),
                };
                (9, format!("psd: {p}"))
            }
            "pct" if v == "100" => continue,
            other => return Err(format!("`{other}=` has no blueprint field (RFC 9989)")),
        };
        if fields.insert(order, line).is_some() {
            return Err(format!("`{k}` twice"));
        }
    }
    if !has_policy {
        return Err("no `p=`".into());
    }
    let mut out = String::from("    dmarc:\n");
    for line in fields.values() {
        let _ = writeln!(out, "      {line}");
    }
    Ok(out)
}

/// A DKIM record's public key, or why the blueprint cannot publish it as it is.
fn dkim_key(text: &str) -> Result<String, String> {
    let mut key = None;
    for part in text.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = part
            .split_once('=')
            .ok_or_else(|| format!("`{part}` is not a tag"))?;
        match (k.trim(), v.trim()) {
            ("v", "DKIM1") | ("k", "rsa") => {}
            ("p", p) if !p.is_empty() => key = Some(p.replace(char::is_whitespace, "")),
            ("p", _) => return Err("a revoked key (empty `p=`)".into()),
            (other, _) => return Err(format!("`{other}=` has no blueprint field")),
        }
    }
    key.ok_or_else(|| "no `p=`".into())
}

/// The one TXT string of a set that starts with `prefix`, if exactly one does.
fn one_starting(set: &RecordSet, prefix: &str) -> Option<String> {
    let texts: Vec<String> = set
        .values
        .iter()
        .map(|v| txt::text_of(v))
        .filter(|t| t.to_ascii_lowercase().starts_with(prefix))
        .collect();
    (texts.len() == 1).then(|| texts[0].clone())
}

/// The blueprint for `zones`.
pub fn blueprint(
    name: &str,
    region: Option<&str>,
    zones: &[Zone],
    identities: &[Identity],
) -> Imported {
    let mut out = Imported::default();
    let mut entries: BTreeMap<String, Entry> = BTreeMap::new();
    let within = |domain: &str| {
        zones
            .iter()
            .find(|z| domain == z.name || domain.ends_with(&format!(".{}", z.name)))
    };
    // SES identities first: the record sets SES needs are theirs, not the domain's own.
    let mut ses_records: Vec<(String, RType)> = Vec::new();
    for identity in identities {
        let id = match identity {
            Identity::Address(address) => {
                if address
                    .rsplit_once('@')
                    .is_some_and(|(_, d)| within(&d.to_ascii_lowercase()).is_some())
                {
                    out.skipped.push(format!(
                        "SES identity {address}: an email-address identity; a blueprint describes domains"
                    ));
                }
                continue;
            }
            Identity::Domain(id) => id,
        };
        let Some(zone) = within(&id.domain) else {
            continue;
        };
        match ses_identity(id, zones) {
            Ok(ses) => {
                let e = entries.entry(id.domain.clone()).or_insert_with(|| Entry {
                    zone: zone.name.clone(),
                    ..Entry::default()
                });
                e.ses = ses.lines;
                e.adopt.push(format!("ses.identity.{}", id.domain));
                for (record, rtype, ttl) in ses.records {
                    e.adopt.push(format!("dns.{record}.{rtype}"));
                    e.ttls.push(ttl);
                    ses_records.push((record, rtype));
                }
                out.described += 1;
            }
            Err(why) => out
                .skipped
                .push(format!("SES identity {}: {why}", id.domain)),
        }
    }
    let is_ses = |n: &str, t: &RType| ses_records.iter().any(|(r, rt)| r == n && rt == t);
    let mut found: Vec<(String, String, &RecordSet, &'static str)> = Vec::new();
    for zone in zones {
        for set in zone.records.iter().filter(|s| s.rtype == RType::Txt) {
            let n = set.name.trim_end_matches('.').to_ascii_lowercase();
            if is_ses(&n, &set.rtype) {
                continue;
            }
            if let Some(domain) = n.strip_prefix("_dmarc.") {
                found.push((domain.to_owned(), zone.name.clone(), set, "dmarc"));
            } else if let Some((_, domain)) = n.split_once("._domainkey.") {
                found.push((domain.to_owned(), zone.name.clone(), set, "dkim"));
            } else if one_starting(set, "v=spf1").is_some() {
                found.push((n.clone(), zone.name.clone(), set, "spf"));
            }
        }
        for set in &zone.records {
            let n = set.name.trim_end_matches('.').to_ascii_lowercase();
            let mail = set.rtype == RType::Txt
                && (n.starts_with("_dmarc.")
                    || n.contains("._domainkey.")
                    || one_starting(set, "v=spf1").is_some());
            let own = n == zone.name && matches!(set.rtype, RType::Soa | RType::Ns);
            if !mail && !own && !is_ses(&n, &set.rtype) {
                out.unmanaged.push(format!("{n} {}", set.rtype));
            }
        }
    }
    found.sort_by(|a, b| (a.0.as_str(), a.3).cmp(&(b.0.as_str(), b.3)));
    for (domain, zone, set, kind) in found {
        let name = set.name.trim_end_matches('.').to_ascii_lowercase();
        let described = match kind {
            "spf" => one_starting(set, "v=spf1")
                .ok_or_else(|| "not one SPF record".to_owned())
                .and_then(|t| spf(&t))
                .map(|s| spf_lines(&s)),
            "dmarc" => one_starting(set, "v=dmarc1")
                .ok_or_else(|| "not one DMARC record".to_owned())
                .and_then(|t| dmarc(&t)),
            _ => {
                let selector = name.split("._domainkey.").next().unwrap_or_default();
                if set.values.len() != 1 {
                    Err("more than one value".to_owned())
                } else {
                    dkim_key(&txt::text_of(&set.values[0])).map(|key| {
                        format!(
                            "      - selector: {}\n        public_key: {}\n",
                            quote(selector),
                            quote(&key)
                        )
                    })
                }
            }
        };
        match described {
            Ok(lines) => {
                let e = entries.entry(domain.clone()).or_insert_with(|| Entry {
                    zone: zone.clone(),
                    ..Entry::default()
                });
                if kind == "dkim" && !e.lines.contains("    dkim:\n") {
                    e.lines.push_str("    dkim:\n");
                }
                e.lines.push_str(&lines);
                e.adopt.push(format!("dns.{name}.TXT"));
                e.ttls.push(set.ttl);
                out.described += 1;
            }
            Err(why) => out.skipped.push(format!("{name} TXT ({kind}): {why}")),
        }
    }
    let _ = writeln!(
        out.yaml,
        "# Written by `mailinfra import` from the Route 53 zones {}.\n# Review it, then `mailinfra plan`: only the ownership records should change.",
        zones
            .iter()
            .map(|z| z.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let _ = writeln!(out.yaml, "blueprint: {name}");
    if let Some(r) = region {
        let _ = writeln!(out.yaml, "region: {r}");
    }
    if entries.is_empty() {
        out.yaml.push_str("domains: []\n");
        return out;
    }
    out.yaml.push_str("domains:\n");
    let mut adopt = Vec::new();
    for (domain, e) in &entries {
        let _ = writeln!(out.yaml, "  - domain: {domain}");
        if e.zone != *domain {
            let _ = writeln!(out.yaml, "    zone: {}", e.zone);
        }
        // The most common TTL of the domain's records (300 is the default).
        let mut counts: BTreeMap<u32, usize> = BTreeMap::new();
        for t in &e.ttls {
            *counts.entry(*t).or_default() += 1;
        }
        if let Some((&ttl, _)) = counts.iter().max_by_key(|(t, n)| (**n, **t))
            && ttl != 300
        {
            let _ = writeln!(out.yaml, "    ttl: {ttl}");
        }
        out.yaml.push_str(&e.ses);
        out.yaml.push_str(&e.lines);
        adopt.extend(e.adopt.iter().cloned());
    }
    out.yaml.push_str("adopt:\n");
    for a in adopt {
        let _ = writeln!(out.yaml, "  - {a}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn txt(name: &str, ttl: u32, values: &[&str]) -> RecordSet {
        RecordSet {
            name: name.into(),
            rtype: RType::Txt,
            ttl,
            values: values.iter().map(|v| txt::encode(v)).collect(),
        }
    }

    use crate::kinds::ses::DkimOrigin;

    fn identity(domain: &str, origin: DkimOrigin, set: Option<&str>) -> Identity {
        use crate::kinds::ses::{
            KeyLength, MxFailure, ObservedIdentity, ObservedMailFrom, VerificationStatus,
        };
        Identity::Domain(Box::new(ObservedIdentity {
            domain: domain.into(),
            dkim_origin: origin,
            tokens: vec!["tok1".into()],
            signing_zone: None,
            next_key_length: Some(KeyLength::Rsa1024),
            mail_from: Some(ObservedMailFrom {
                domain: format!("bounce.{domain}"),
                behavior: MxFailure::UseDefaultValue,
                status: VerificationStatus::Success,
            }),
            configuration_set: set.map(str::to_owned),
            ..ObservedIdentity::example()
        }))
    }

    /// An SES identity's settings become its `ses:` fields; the records SES needs are adopted
    /// with it and not read as domains of their own (the MAIL FROM's SPF is not a domain
    /// `bounce.example.com`); what cannot be described is left out with the reason.
    #[test]
    fn ses_identities_become_ses_fields_and_their_records_adoptions() {
        let mx = RecordSet {
            name: "bounce.example.com.".into(),
            rtype: RType::Mx,
            ttl: 300,
            values: vec!["10 feedback-smtp.eu-west-1.amazonses.com".into()],
        };
        let cname = RecordSet {
            name: "tok1._domainkey.example.com.".into(),
            rtype: RType::Cname,
            ttl: 300,
            values: vec!["tok1.dkim.amazonses.com".into()],
        };
        let zone = Zone {
            name: "example.com".into(),
            records: vec![
                mx,
                cname,
                txt(
                    "bounce.example.com.",
                    300,
                    &["v=spf1 include:amazonses.com ~all"],
                ),
            ],
        };
        let got = blueprint(
            "acme",
            Some("eu-west-1"),
            &[zone],
            &[
                identity("example.com", DkimOrigin::AwsSes, None),
                identity("byo.example.com", DkimOrigin::External, None),
                identity("news.example.com", DkimOrigin::AwsSes, Some("tx")),
                identity("example.org", DkimOrigin::AwsSes, None),
                Identity::Address("ops@example.com".into()),
            ],
        );
        for line in [
            "  - domain: example.com\n    send_via: [ses]\n    ses:\n      dkim: { easy: { key_length: 1024 } }\n      mail_from: bounce.example.com\n      mail_from_spf: softfail\n",
            "  - ses.identity.example.com\n  - dns.tok1._domainkey.example.com.CNAME\n  - dns.bounce.example.com.MX\n  - dns.bounce.example.com.TXT\n",
        ] {
            assert!(got.yaml.contains(line), "{line}\n{}", got.yaml);
        }
        assert!(
            !got.yaml.contains("domain: bounce.example.com"),
            "{}",
            got.yaml
        );
        assert!(
            !got.yaml.contains("example.org"),
            "outside the zones: {}",
            got.yaml
        );
        assert_eq!(got.unmanaged, Vec::<String>::new());
        assert_eq!(got.skipped.len(), 3, "{:?}", got.skipped);
        assert!(got.skipped[0].starts_with("SES identity byo.example.com: BYODKIM"));
        assert!(got.skipped[1].contains("`tx` is not imported"));
        assert!(got.skipped[2].contains("ops@example.com: an email-address identity"));
    }

    #[test]
    fn spf_dmarc_and_dkim_become_fields_and_adopt_entries() {
        let zone = Zone {
            name: "example.com".into(),
            records: vec![
                txt(
                    "example.com.",
                    3600,
                    &[
                        "google-site-verification=abc",
                        "v=spf1 ip4:192.0.2.1 include:_spf.google.com -all",
                    ],
                ),
                txt(
                    "_dmarc.example.com.",
                    3600,
                    &["v=DMARC1; p=quarantine; rua=mailto:d@example.com; pct=100; adkim=s"],
                ),
                txt(
                    "s1._domainkey.example.com.",
                    3600,
                    &["v=DKIM1; k=rsa; p=MIIBIj"],
                ),
                txt(
                    "_dmarc.shop.example.com.",
                    300,
                    &["v=DMARC1; p=none; ri=3600"],
                ),
            ],
        };
        let got = blueprint("acme", Some("eu-west-1"), &[zone], &[]);
        assert_eq!(got.described, 3);
        assert_eq!(
            got.skipped,
            ["_dmarc.shop.example.com TXT (dmarc): `ri=` has no blueprint field (RFC 9989)"]
        );
        let body: String = got.yaml.lines().skip(2).map(|l| format!("{l}\n")).collect();
        assert_eq!(
            body,
            "blueprint: acme
region: eu-west-1
domains:
  - domain: example.com
    ttl: 3600
    dkim:
      - selector: \"s1\"
        public_key: \"MIIBIj\"
    dmarc:
      policy: quarantine
      rua: [\"mailto:d@example.com\"]
      adkim: strict
    spf:
      include: [\"_spf.google.com\"]
      ip4: [\"192.0.2.1\"]
      all: fail
adopt:
  - dns.s1._domainkey.example.com.TXT
  - dns._dmarc.example.com.TXT
  - dns.example.com.TXT
"
        );
    }

    #[test]
    fn spf_the_blueprint_cannot_say_is_left_out() {
        for record in [
            "v=spf1 redirect=_spf.example.net",
            "v=spf1 a:other.example -all",
            "v=spf1 include:x.example",
            "v=spf1 +all",
            "v=spf1 -all include:x.example",
        ] {
            assert!(spf(record).is_err(), "{record}");
        }
        assert_eq!(
            spf("v=spf1 a mx ~all").unwrap(),
            Spf {
                a: true,
                mx: true,
                all: "softfail",
                ..Spf::default()
            }
        );
    }
}
