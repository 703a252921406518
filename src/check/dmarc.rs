//! DMARC records as a receiver reads them (RFC 9989, the grammar of its §4.8): `v=DMARC1`
//! first; tags separated by `;`, spaces allowed around `=` and `;`; tag names and values
//! case-insensitive (the version `DMARC1` aside). A record that is not `v=DMARC1` first, or
//! whose tags do not parse, is no record to receivers. Within a record, receivers ignore
//! unknown and removed tags (§4.7) and discard an invalid value in favour of the tag's
//! default (§4.8); a record without `p=` is read as `p=none` (§4.7); reports go only to the
//! `mailto:` URIs receivers must support. Those are warnings: the record works, not as
//! written.

/// A DMARC record, read.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DmarcRecord {
    /// Every tag as published: name lower-cased, value trimmed, in order.
    pub tags: Vec<(String, String)>,
    /// What receivers ignore or discard, each with why: `pct`, `rf`, `ri` (removed by RFC
    /// 9989), unknown tags, invalid values, report URIs they need not support.
    pub ignored: Vec<String>,
}

/// RFC 9989's tags.
const TAGS: &[&str] = &[
    "v", "p", "sp", "np", "adkim", "aspf", "rua", "ruf", "fo", "t", "psd",
];
/// RFC 7489's tags RFC 9989 removed; receivers that follow it ignore them (`pct` among them:
/// a policy applies to all mail or none).
const REMOVED: &[&str] = &["pct", "rf", "ri"];

impl DmarcRecord {
    /// The value of tag `name`, if published.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.tags
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A tag's value as compared: lower case, and for `rua`/`ruf` the URIs sorted, each
    /// trimmed.
    pub fn normalized(&self, name: &str) -> Option<String> {
        let v = self.get(name)?.to_ascii_lowercase();
        Some(if name == "rua" || name == "ruf" {
            let mut uris: Vec<&str> = v.split(',').map(str::trim).collect();
            uris.sort_unstable();
            uris.join(",")
        } else {
            v
        })
    }

    /// The report addresses' domains (`rua` and `ruf`), a size suffix `!10m` dropped.
    pub fn report_domains(&self) -> Vec<String> {
        let mut out: Vec<String> = ["rua", "ruf"]
            .iter()
            .filter_map(|t| self.get(t))
            .flat_map(|v| v.split(','))
            .filter_map(|uri| mailto(uri.trim()).ok())
            .map(|(_, domain)| domain)
            .collect();
        out.dedup();
        out
    }
}

/// A `mailto:` report URI's address parts (RFC 9989 §4.7): `mailto:local@domain[!size]`.
fn mailto(uri: &str) -> Result<(String, String), String> {
    let scheme_end = uri
        .find(':')
        .ok_or_else(|| format!("`{uri}` is not a URI"))?;
    if !uri[..scheme_end].eq_ignore_ascii_case("mailto") {
        return Err(format!(
            "`{uri}`: receivers send reports only to `mailto:` URIs"
        ));
    }
    let rest = &uri[scheme_end + 1..];
    let (addr, size) = match rest.split_once('!') {
        Some((a, s)) => (a, Some(s)),
        None => (rest, None),
    };
    if let Some(size) = size {
        let digits = size.trim_end_matches(['k', 'm', 'g', 't', 'K', 'M', 'G', 'T']);
        if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
            return Err(format!("`{uri}`: `!{size}` is not a size limit"));
        }
    }
    match addr.rsplit_once('@') {
        Some((local, domain))
            if !local.is_empty()
                && domain.contains('.')
                && domain
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.') =>
        {
            Ok((local.to_owned(), domain.to_ascii_lowercase()))
        }
        _ => Err(format!("`{uri}` is not a `mailto:` address")),
    }
}

/// Reads a DMARC record, or says why receivers would not use it.
pub fn parse(record: &str) -> Result<DmarcRecord, String> {
    let mut parts = record.split(';').map(str::trim);
    let first = parts.next().unwrap_or_default();
    let version = first
        .split_once('=')
        .filter(|(k, _)| k.trim().eq_ignore_ascii_case("v"))
        .map(|(_, v)| v.trim());
    if version != Some("DMARC1") {
        return Err("does not start with `v=DMARC1`".into());
    }
    let mut out = DmarcRecord {
        tags: vec![("v".into(), "DMARC1".into())],
        ignored: Vec::new(),
    };
    for part in parts {
        if part.is_empty() {
            continue;
        }
        let Some((name, value)) = part.split_once('=') else {
            return Err(format!("`{part}` is not a tag (`name=value`)"));
        };
        let name = name.trim().to_ascii_lowercase();
        let value = value.trim().to_owned();
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!("`{part}` is not a tag (`name=value`)"));
        }
        if out.tags.iter().any(|(k, _)| *k == name) {
            return Err(format!("`{name}` appears twice"));
        }
        if REMOVED.contains(&name.as_str()) {
            out.ignored
                .push(format!("{name} (removed by RFC 9989: receivers ignore it)"));
        } else if !TAGS.contains(&name.as_str()) {
            out.ignored
                .push(format!("{name} (unknown: receivers ignore it)"));
        } else if let Err(why) = check_value(&name, &value) {
            out.ignored
                .push(format!("{why} (receivers discard it, RFC 9989 §4.8)"));
        }
        out.tags.push((name, value));
    }
    if out.get("p").is_none() {
        out.ignored
            .push("no policy `p=` (receivers read p=none, RFC 9989 §4.7)".into());
    }
    Ok(out)
}

fn check_value(name: &str, value: &str) -> Result<(), String> {
    let v = value.to_ascii_lowercase();
    let one_of = |allowed: &[&str]| {
        if allowed.contains(&v.as_str()) {
            Ok(())
        } else {
            Err(format!(
                "`{name}={value}`: the value must be one of {}",
                allowed.join(", ")
            ))
        }
    };
    match name {
        "p" | "sp" | "np" => one_of(&["none", "quarantine", "reject"]),
        "adkim" | "aspf" => one_of(&["r", "s"]),
        "t" => one_of(&["y", "n"]),
        "psd" => one_of(&["y", "n", "u"]),
        "fo" => {
            if !v.is_empty()
                && v.split(':')
                    .all(|o| ["0", "1", "d", "s"].contains(&o.trim()))
            {
                Ok(())
            } else {
                Err(format!(
                    "`fo={value}`: a `:`-separated list of 0, 1, d and s"
                ))
            }
        }
        "rua" | "ruf" => {
            for uri in value.split(',') {
                mailto(uri.trim()).map_err(|why| format!("`{name}`: {why}"))?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// The organizational domain of `name` (RFC 9989 §4.10 uses the DNS tree walk; the Public
/// Suffix List gives the same answer for domains under a public suffix, and is what RFC 7489
/// receivers use): the registrable domain, or `name` itself when it has none.
pub fn organizational_domain(name: &str) -> String {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    psl::domain_str(&name).unwrap_or(&name).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_grammar_allows_case_and_spaces() {
        let r = parse("v=DMARC1 ; P = REJECT ;SP=None; rua = mailto:a@example.net!10m ;").unwrap();
        assert_eq!(r.normalized("p").as_deref(), Some("reject"));
        assert_eq!(r.normalized("sp").as_deref(), Some("none"));
        assert_eq!(r.report_domains(), vec!["example.net".to_owned()]);
        assert!(r.ignored.is_empty());
    }

    #[test]
    fn what_receivers_refuse() {
        for (record, why) in [
            ("v=DMARC2; p=none", "v=DMARC1"),
            ("p=none; v=DMARC1", "v=DMARC1"),
            ("v=dmarc1; p=none", "v=DMARC1"),
            ("v=DMARC1; p=none; nonsense", "not a tag"),
            ("v=DMARC1; p=none; p=reject", "twice"),
        ] {
            let err = parse(record).unwrap_err();
            assert!(err.contains(why), "{record}: {err}");
        }
    }

    #[test]
    fn what_receivers_discard() {
        for (record, why) in [
            ("v=DMARC1; rua=mailto:a@example.com", "no policy"),
            ("v=DMARC1; p=block", "one of none"),
            ("v=DMARC1; p=none; sp=maybe", "one of none"),
            ("v=DMARC1; p=none; adkim=x", "one of r, s"),
            ("v=DMARC1; p=none; fo=2", "list of 0, 1"),
            (
                "v=DMARC1; p=none; rua=https://example.com/r",
                "only to `mailto:`",
            ),
            (
                "v=DMARC1; p=none; rua=mailto:nobody",
                "not a `mailto:` address",
            ),
            (
                "v=DMARC1; p=none; rua=mailto:a@example.com!ten",
                "size limit",
            ),
        ] {
            let read = parse(record).unwrap();
            assert_eq!(read.ignored.len(), 1, "{record}: {read:?}");
            assert!(read.ignored[0].contains(why), "{record}: {read:?}");
        }
    }

    #[test]
    fn removed_and_unknown_tags_are_ignored() {
        let r = parse("v=DMARC1; p=none; pct=50; foo=1").unwrap();
        assert_eq!(r.ignored.len(), 2, "{r:?}");
        assert!(r.ignored[0].starts_with("pct (removed by RFC 9989"));
    }

    #[test]
    fn organizational_domains_come_from_the_public_suffix_list() {
        assert_eq!(
            organizational_domain("reports.example.co.uk"),
            "example.co.uk"
        );
        assert_eq!(organizational_domain("a.b.example.com"), "example.com");
        assert_eq!(organizational_domain("example.com"), "example.com");
    }
}
