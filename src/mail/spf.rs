//! SPF records (RFC 7208): composing the `v=spf1` string from a blueprint, counting the
//! mechanisms that cost a DNS lookup, and recognising an SPF string among a name's TXT values.

use crate::blueprint::{SpfAll, SpfSpec};

/// RFC 7208 §4.6.4: more DNS-querying terms than this is a permanent error at the receiver.
pub const MAX_LOOKUPS: usize = 10;

/// Composes the SPF string: `v=spf1`, then `a`, `mx`, the `ip4:`/`ip6:` ranges (no lookups,
/// so receivers match them first), the includes, and the `all` qualifier.
pub fn compose(spec: &SpfSpec) -> String {
    let mut terms = vec!["v=spf1".to_owned()];
    if spec.a {
        terms.push("a".into());
    }
    if spec.mx {
        terms.push("mx".into());
    }
    terms.extend(spec.ip4.iter().map(|r| format!("ip4:{}", r.value)));
    terms.extend(spec.ip6.iter().map(|r| format!("ip6:{}", r.value)));
    terms.extend(spec.include.iter().map(|d| format!("include:{}", d.value)));
    terms.push(all_term(spec.all.value).into());
    terms.join(" ")
}

/// The closing `all` term for a qualifier: `-all`, `~all` or `?all`.
pub fn all_term(all: SpfAll) -> &'static str {
    match all {
        SpfAll::Fail => "-all",
        SpfAll::SoftFail => "~all",
        SpfAll::Neutral => "?all",
    }
}

/// The DNS lookups the blueprint's own terms cost (`a`, `mx`, each `include`). Includes cost
/// more at the receiver, counted recursively; `mailinfra check` counts those through DNS.
pub fn lookups(spec: &SpfSpec) -> usize {
    usize::from(spec.a) + usize::from(spec.mx) + spec.include.len()
}

/// Whether a TXT record's text is an SPF record: `v=spf1` alone or followed by a space
/// (RFC 7208 §4.5; the version is case-insensitive).
pub fn is_spf(text: &str) -> bool {
    let t = text.trim_start();
    t.len() >= 6
        && t[..6].eq_ignore_ascii_case("v=spf1")
        && t[6..].chars().next().is_none_or(|c| c == ' ')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blueprint::{Pos, Spanned};

    fn s(v: &str) -> Spanned<String> {
        Spanned {
            value: v.into(),
            pos: Pos { line: 1, col: 1 },
        }
    }

    fn spec(include: &[&str], ip4: &[&str], all: SpfAll) -> SpfSpec {
        SpfSpec {
            pos: Pos { line: 1, col: 1 },
            include: include.iter().map(|v| s(v)).collect(),
            ip4: ip4.iter().map(|v| s(v)).collect(),
            ip6: vec![],
            a: false,
            mx: false,
            all: Spanned {
                value: all,
                pos: Pos { line: 1, col: 1 },
            },
        }
    }

    #[test]
    fn compose_orders_ranges_before_includes() {
        let cases = [
            (spec(&[], &[], SpfAll::Fail), "v=spf1 -all"),
            (
                spec(&["_spf.google.com"], &["192.0.2.0/24"], SpfAll::SoftFail),
                "v=spf1 ip4:192.0.2.0/24 include:_spf.google.com ~all",
            ),
            (
                spec(&["a.test", "b.test"], &[], SpfAll::Neutral),
                "v=spf1 include:a.test include:b.test ?all",
            ),
        ];
        for (spec, want) in cases {
            assert_eq!(compose(&spec), want);
        }
    }

    #[test]
    fn lookups_count_a_mx_and_includes() {
        let mut sp = spec(&["a.test", "b.test"], &["192.0.2.1"], SpfAll::Fail);
        assert_eq!(lookups(&sp), 2);
        sp.a = true;
        sp.mx = true;
        assert_eq!(lookups(&sp), 4);
    }

    #[test]
    fn recognises_spf_strings() {
        for (text, want) in [
            ("v=spf1 -all", true),
            ("V=SPF1 include:x ~all", true),
            ("v=spf1", true),
            ("v=spf10 -all", false),
            ("google-site-verification=abc", false),
            ("v=DMARC1; p=none", false),
        ] {
            assert_eq!(is_spf(text), want, "{text}");
        }
    }
}
