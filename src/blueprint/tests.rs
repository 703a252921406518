//! Table-driven validation tests: one case per rule, each asserting the position and the
//! message (dnscontrol's analyze_test.go style).

use std::path::Path;

use super::*;

fn problems(yaml: &str) -> Vec<(usize, usize, String)> {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    match load("t.yaml", yaml, &data) {
        Ok(_) => Vec::new(),
        Err(r) => r
            .diagnostics
            .into_iter()
            .map(|d| {
                let p = d.pos.unwrap_or(Pos { line: 0, col: 0 });
                (p.line, p.col, d.message)
            })
            .collect(),
    }
}

const HEAD: &str = "blueprint: acme\ndomains:\n  - domain: example.com\n";

#[test]
fn each_rule_reports_its_position_and_message() {
    let cases: &[(&str, &str, (usize, usize), &str)] = &[
        (
            "unknown field",
            "    tll: 300\n",
            (4, 5),
            "unknown field `tll`",
        ),
        (
            "wrong type",
            "    ttl: [300]\n",
            (4, 10),
            "expected a whole number (unquoted), found a list",
        ),
        (
            "quoted number",
            "    ttl: '300'\n",
            (4, 10),
            "expected a whole number (unquoted), found a scalar",
        ),
        (
            "duplicate key",
            "    ttl: 300\n    ttl: 600\n",
            (5, 5),
            "duplicate key `ttl`",
        ),
        (
            "ttl range",
            "    ttl: 10\n",
            (4, 10),
            "TTL 10 is out of range",
        ),
        (
            "yes is not a boolean",
            "    spf: { a: yes }\n",
            (4, 15),
            "`yes` is not a boolean",
        ),
        (
            "removed dmarc tag",
            "    dmarc: { policy: none, ri: 3600 }\n",
            (4, 28),
            "DMARC tag `ri` was removed by RFC 9989",
        ),
        (
            "missing dmarc policy",
            "    dmarc: { rua: [mailto:a@example.com] }\n",
            (4, 12),
            "missing field `policy`",
        ),
        (
            "bad rua",
            "    dmarc: { policy: none, rua: [a@example.com] }\n",
            (4, 34),
            "must be a `mailto:` URI",
        ),
        (
            "bad fo",
            "    dmarc: { policy: none, fo: '2' }\n",
            (4, 32),
            "`2` must be `0`, `1`, `d` or `s`",
        ),
        (
            "bad ip4",
            "    spf: { ip4: [192.0.2.300] }\n",
            (4, 18),
            "not an IPv4 address or range",
        ),
        (
            "bad ip6 prefix",
            "    spf: { ip6: ['2001:db8::/129'] }\n",
            (4, 18),
            "not an IPv6 address or range",
        ),
        (
            "bad include",
            "    spf: { include: ['not a name'] }\n",
            (4, 22),
            "is not a domain name to include",
        ),
        (
            "too many lookups",
            "    spf: { a: true, mx: true, include: [a.t, b.t, c.t, d.t, e.t, f.t, g.t, h.t, i.t] }\n",
            (4, 10),
            "SPF needs 11 DNS lookups",
        ),
        (
            "all pass refused",
            "    spf: { all: pass }\n",
            (4, 17),
            "`pass` is not one of fail, softfail, neutral",
        ),
        (
            "zone is not a parent",
            "    zone: example.org\n",
            (3, 13),
            "`example.com` is outside its zone `example.org`",
        ),
        (
            "short dkim key",
            "    dkim: [{ selector: s1, public_key_file: dkim-512.pub }]\n",
            (4, 45),
            "the DKIM key is 512 bits",
        ),
        (
            "not a key",
            "    dkim: [{ selector: s1, public_key: AAAA }]\n",
            (4, 40),
            "is not an RSA public key",
        ),
        (
            "bad selector",
            "    dkim: [{ selector: 'a.b', public_key_file: dkim-2048.pub }]\n",
            (4, 24),
            "selector `a.b` has the character '.'",
        ),
        (
            "missing key file",
            "    dkim: [{ selector: s1, public_key_file: nope.pub }]\n",
            (4, 45),
            "cannot read `nope.pub`",
        ),
        (
            "ses needs a region",
            "    send_via: [ses]\n",
            (4, 16),
            "Amazon SES is regional",
        ),
        (
            "gateway missing",
            "    send_via: [gateway]\n",
            (4, 16),
            "the domain sends via the gateway, but the blueprint has no `gateway:`",
        ),
        (
            "ses settings without send_via",
            "    ses: {}\n",
            (4, 10),
            "`ses` settings are given but the domain does not send via SES",
        ),
        (
            "mail from outside the domain",
            "    send_via: [ses]\n    ses: { mail_from: bounce.example.net }\n",
            (5, 23),
            "must be a subdomain of `example.com`",
        ),
        (
            "mail from options without mail from",
            "    send_via: [ses]\n    ses: { mail_from_spf: fail }\n",
            (5, 27),
            "`mail_from_spf` is set but `mail_from` is not",
        ),
        (
            "byodkim selector",
            "    send_via: [ses]\n    ses: { dkim: { byodkim: { selector: 'a.b' } } }\n",
            (5, 41),
            "selector `a.b` has the character '.'",
        ),
        (
            "dkim kind",
            "    send_via: [ses]\n    ses: { dkim: hard }\n",
            (5, 18),
            "`hard` is not one of easy",
        ),
    ];
    for (name, extra, (line, col), message) in cases {
        let found = problems(&format!("{HEAD}{extra}"));
        assert!(
            found
                .iter()
                .any(|(l, c, m)| (l, c) == (line, col) && m.contains(message)),
            "{name}: expected {line}:{col} {message:?}, got {found:?}"
        );
    }
}

#[test]
fn document_level_rules() {
    let cases: &[(&str, (usize, usize), &str)] = &[
        ("domains: []\n", (1, 1), "missing field `blueprint`"),
        ("blueprint: Acme\n", (1, 12), "not a valid blueprint name"),
        (
            "blueprint: acme\nregion: europe\n",
            (2, 9),
            "not an AWS region name",
        ),
        (
            "blueprint: acme\nregion: eu-west-1\nregion: eu-west-2\n",
            (3, 1),
            "duplicate key `region`",
        ),
        (
            "blueprint: acme\ngateway: {}\n",
            (2, 10),
            "missing field `hostname`",
        ),
        (
            "blueprint: acme\nregion: eu-west-1\ngateway: { hostname: mail.example.com, relay_from: [0.0.0.0/0] }\n",
            (3, 53),
            "`0.0.0.0/0` is not private address space: relaying for it makes the gateway an open relay",
        ),
        (
            "blueprint: acme\nregion: eu-west-1\ngateway: { hostname: mail.example.com, relay_from: [10.0.0.0/7] }\n",
            (3, 53),
            "open relay",
        ),
        (
            "blueprint: acme\nregion: eu-west-1\ngateway: { hostname: mail.example.com, zone: example.org, relay_from: [10.0.0.0/16] }\n",
            (3, 22),
            "`mail.example.com` is outside its zone `example.org`",
        ),
        (
            "blueprint: acme\nregion: eu-west-1\ngateway: { hostname: mail.example.com, relay_from: [10.0.0.0/16], image: ubuntu }\n",
            (3, 74),
            "`ubuntu` is not `debian-12` or an AMI id",
        ),
        (
            "blueprint: acme\ngateway: { hostname: mail.example.com, relay_from: [10.0.0.0/16] }\n",
            (2, 10),
            "the gateway runs in EC2, which is regional",
        ),
        (
            "blueprint: acme\nses: { configuration_sets: [{ name: 'a b' }] }\n",
            (2, 37),
            "not a valid configuration set name",
        ),
        (
            "blueprint: acme\nses: { production_access: { mail_type: transactional, website_url: example.com, use_case: short } }\n",
            (2, 68),
            "is not a web address",
        ),
        (
            "blueprint: acme\ndomains:\n  - domain: 'exa mple.com'\n",
            (3, 13),
            "is not a valid domain name",
        ),
        (
            "blueprint: acme\ndomains:\n  - domain: com\n",
            (3, 13),
            "needs at least two labels",
        ),
        (
            "blueprint: acme\nadopt: [example.com]\n",
            (2, 9),
            "is not an address mailinfra manages",
        ),
        (
            "blueprint: acme\nadopt: [dns.example.com.TXT]\n",
            (2, 9),
            "not a record this blueprint manages",
        ),
        ("blueprint: acme\ndomains: {}\n", (2, 10), "expected a list"),
        ("- a\n- b\n", (1, 1), "expected a mapping"),
        ("blueprint: [unclosed\n", (2, 1), "YAML syntax error"),
        (
            "blueprint: acme\n---\nblueprint: other\n",
            (2, 1),
            "found a second",
        ),
    ];
    for (yaml, (line, col), message) in cases {
        let found = problems(yaml);
        assert!(
            found
                .iter()
                .any(|(l, c, m)| (l, c) == (line, col) && m.contains(message)),
            "{yaml:?}: expected {line}:{col} {message:?}, got {found:?}"
        );
    }
}

#[test]
fn two_entries_producing_one_record_are_refused() {
    let yaml = "blueprint: acme\ndomains:\n  - domain: example.com\n    dmarc: { policy: none }\n  - domain: Example.com.\n    dmarc: { policy: reject }\n";
    let found = problems(yaml);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!((found[0].0, found[0].1), (6, 12));
    assert!(
        found[0]
            .2
            .contains("`_dmarc.example.com` TXT is also produced by domains[0] (DMARC)"),
        "{found:?}"
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let yaml = "blueprint: acme\nttl: 1\ndomains:\n  - domain: example.com\n    tll: 1\n    spf: { all: pass }\n  - domain: x\n";
    assert_eq!(problems(yaml).len(), 4, "{:?}", problems(yaml));
}

#[test]
fn a_valid_blueprint_loads_with_defaults() {
    let yaml = "blueprint: acme\ndomains:\n  - domain: Example.COM\n    spf: {}\n    dkim: [{ selector: mta1, public_key_file: dkim-2048.pub }]\n";
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let bp = load("t.yaml", yaml, &data).unwrap();
    let d = &bp.domains[0];
    assert_eq!(d.domain.value, "example.com");
    assert_eq!(d.zone_name(), "example.com");
    assert_eq!(d.spf.as_ref().unwrap().all.value, SpfAll::SoftFail);
    assert!(d.dkim[0].public_key.value.starts_with("MIIBIjAN"));
}

#[test]
fn private_ranges_are_the_only_relay_ranges() {
    use std::net::Ipv4Addr;
    use validate::is_private_range;
    let ok = [
        ("10.0.0.0", 16),
        ("172.16.0.0", 12),
        ("172.31.5.0", 24),
        ("192.168.1.0", 24),
        ("100.64.0.0", 10),
        ("10.1.2.3", 32),
    ];
    let bad = [
        ("0.0.0.0", 0),
        ("8.8.8.0", 24),
        ("172.32.0.0", 16),
        ("10.0.0.0", 7),
        ("100.128.0.0", 10),
        ("192.0.2.0", 24),
    ];
    for (a, p) in ok {
        assert!(
            is_private_range(a.parse::<Ipv4Addr>().unwrap(), p),
            "{a}/{p}"
        );
    }
    for (a, p) in bad {
        assert!(
            !is_private_range(a.parse::<Ipv4Addr>().unwrap(), p),
            "{a}/{p}"
        );
    }
}
