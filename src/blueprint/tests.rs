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
            (4, 5),
            "expected a whole number (unquoted), found a list",
        ),
        (
            "quoted number",
            "    ttl: '300'\n",
            (4, 5),
            "expected a whole number (unquoted), found the text \"300\"",
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
            (4, 14),
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
            "the whole IPv4 internet refused",
            "    spf: { ip4: [0.0.0.0/0] }\n",
            (4, 18),
            "`0.0.0.0/0` authorizes a large part of the internet",
        ),
        (
            "a /7 refused",
            "    spf: { ip4: [192.0.2.0/7] }\n",
            (4, 18),
            "`192.0.2.0/7` authorizes a large part of the internet",
        ),
        (
            "the whole IPv6 internet refused",
            "    spf: { ip6: ['::/0'] }\n",
            (4, 18),
            "`::/0` authorizes a large part of the internet",
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
            "byodkim rotation period",
            "    send_via: [ses]\n    ses: { dkim: { byodkim: { selector: s1, rotate_every: 12h } } }\n",
            (5, 59),
            "`12h` is too short",
        ),
        (
            "byodkim rotation shorter than the overlap",
            "    send_via: [ses]\n    ses: { dkim: { byodkim: { selector: s1, rotate_every: 5d, retire_after: 5d } } }\n",
            (5, 59),
            "the key would be due again before the last rotation retired the old one",
        ),
        (
            "byodkim retire_after unit",
            "    send_via: [ses]\n    ses: { dkim: { byodkim: { selector: s1, retire_after: 2 days } } }\n",
            (5, 59),
            "`2 days` is not a time with its unit",
        ),
        (
            "byodkim selector too long to rotate",
            "    send_via: [ses]\n    ses: { dkim: { byodkim: { selector: a234567890123456789012345678901234567890123456789012 } } }\n",
            (5, 41),
            "a rotated key's is 50 at most",
        ),
        (
            "dkim kind",
            "    send_via: [ses]\n    ses: { dkim: hard }\n",
            (5, 12),
            "`hard` is not one of easy",
        ),
    ];
    let mut wrong = Vec::new();
    for (name, extra, (line, col), message) in cases {
        let found = problems(&format!("{HEAD}{extra}"));
        if !found
            .iter()
            .any(|(l, c, m)| (l, c) == (line, col) && m.contains(message))
        {
            wrong.push(format!(
                "{name}: expected {line}:{col} {message:?}, got {found:?}"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
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
            "blueprint: acme\nregion: eu-west-1\ngateway: { hostname: mail.example.com, relay_from: [10.0.1.5/16] }\n",
            (3, 53),
            "`10.0.1.5/16` has host bits set: the range it means is `10.0.0.0/16`",
        ),
        (
            "blueprint: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\nregion: eu-west-1\ngateway: { hostname: mail.example.com, relay_from: [10.0.0.0/16] }\n",
            (1, 12),
            "the blueprint name makes the IAM role `mailinfra-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-gateway`, 65 characters; IAM allows 64",
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
        ("blueprint: [unclosed\n", (1, 12), "expected a text value"),
        (
            "blueprint: acme\nttl: 'unclosed\n",
            (2, 6),
            "YAML error: unclosed quote",
        ),
        ("", (1, 1), "the blueprint is empty"),
        (
            "blueprint: acme\n---\nblueprint: other\n",
            (2, 1),
            "found a second YAML document: the document count limit is 1",
        ),
    ];
    let mut wrong = Vec::new();
    for (yaml, (line, col), message) in cases {
        let found = problems(yaml);
        if !found
            .iter()
            .any(|(l, c, m)| (l, c) == (line, col) && m.contains(message))
        {
            wrong.push(format!(
                "{yaml:?}: expected {line}:{col} {message:?}, got {found:?}"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
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
fn every_problem_of_meaning_is_reported_at_once() {
    let yaml = "blueprint: acme\nttl: 1\ndomains:\n  - domain: example.com\n    spf: { ip4: [300.1.1.1] }\n    dmarc: { policy: none, rua: [a@example.com] }\n  - domain: x\n";
    assert_eq!(problems(yaml).len(), 4, "{:?}", problems(yaml));
}

/// Structural problems stop loading at the first, as cargo does, each with its position, the
/// path in the document and a hint.
#[test]
fn a_structural_problem_comes_with_path_and_hint() {
    /// The document, then the path, position, message and hint of its one diagnostic.
    type Case = (
        &'static str,
        &'static str,
        (usize, usize),
        &'static str,
        &'static str,
    );
    let cases: &[Case] = &[
        (
            "blueprint: acme\ndomains:\n  - domain: example.com\n    tll: 300\n    spf: { all: pass }\n",
            "domains[0]",
            (4, 5),
            "unknown field `tll`",
            "did you mean `ttl`?",
        ),
        (
            "blueprint: acme\ndomains:\n  - domain: example.com\n    spf: { al: fail }\n",
            "domains[0].spf",
            (4, 12),
            "unknown field `al`",
            "did you mean `all`?",
        ),
        (
            "blueprint: acme\nfrobnicate: 1\n",
            "",
            (2, 1),
            "unknown field `frobnicate`",
            "known fields here: blueprint, region, ttl, domains, adopt, ses, gateway",
        ),
        (
            "blueprint: acme\ndomains:\n  - domain: example.com\n    dmarc: { policy: maybe }\n",
            "domains[0].dmarc.policy",
            (4, 22),
            "`maybe` is not one of none, quarantine, reject",
            "use one of: none, quarantine, reject",
        ),
        (
            "blueprint: acme\ndomains:\n  - domain: example.com\n    dmarc: {}\n",
            "domains[0].dmarc",
            (4, 12),
            "missing field `policy`",
            "`domains[0].dmarc` needs `policy:`",
        ),
        (
            "blueprint: acme\ndomains:\n  - domain: example.com\n    send_via: [ses]\n    ses: { dkim: { easy: { key_length: '1024' } } }\n",
            "domains[0].ses.dkim.easy.key_length",
            (5, 28),
            "expected a whole number (unquoted), found the text \"1024\"",
            "write a whole number (unquoted) here",
        ),
    ];
    for (yaml, path, (line, col), message, hint) in cases {
        let report = load("t.yaml", yaml, Path::new(".")).unwrap_err();
        assert_eq!(report.diagnostics.len(), 1, "{yaml:?}: {report:?}");
        let d = &report.diagnostics[0];
        assert_eq!(
            (
                d.path.as_str(),
                d.pos,
                d.message.as_str(),
                d.hint.as_deref()
            ),
            (
                *path,
                Some(Pos {
                    line: *line,
                    col: *col
                }),
                *message,
                Some(*hint)
            ),
            "{yaml:?}"
        );
    }
}

/// `yes`, `no`, `on` and `off` are text in YAML 1.2 and booleans in YAML 1.1. The blueprint
/// follows YAML 1.2 (as yaml-language-server and the JSON Schema do): where a boolean goes
/// they are refused, elsewhere they are text (`psd: no` is the value `no`).
#[test]
fn yes_and_no_are_not_booleans() {
    for word in ["yes", "no", "on", "off", "y", "n"] {
        let found = problems(&format!("{HEAD}    spf: {{ a: {word} }}\n"));
        assert_eq!(
            found,
            vec![(4, 15, format!("`{word}` is not a boolean"))],
            "{word}"
        );
    }
    let bp = load(
        "t.yaml",
        &format!("{HEAD}    spf: {{ a: true, mx: false }}\n    dmarc: {{ policy: none, psd: no, testing: True }}\n"),
        Path::new("."),
    )
    .unwrap();
    let d = &bp.domains[0];
    assert!(d.spf.as_ref().unwrap().a);
    assert!(!d.spf.as_ref().unwrap().mx);
    assert_eq!(d.dmarc.as_ref().unwrap().psd, Some(Psd::No));
    assert!(d.dmarc.as_ref().unwrap().testing);
}

#[test]
fn a_file_may_start_with_a_byte_order_mark() {
    let bp = load("t.yaml", &format!("\u{feff}{HEAD}"), Path::new(".")).unwrap();
    assert_eq!(bp.name.value, "acme");
    assert_eq!(bp.domains[0].domain.pos, Pos { line: 3, col: 13 });
}

/// A bomb the types accept up to the alias limit: every domain an alias of the first, whose
/// DKIM list repeats one entry by alias. Without the limit it expands to 600,000 entries.
pub(crate) fn alias_bomb() -> String {
    let mut yaml = String::from(
        "blueprint: acme\ndomains:\n  - &d\n    domain: example.com\n    dkim: [&e { selector: s, public_key: AAAA }",
    );
    yaml.push_str(&", *e".repeat(1500));
    yaml.push_str("]\n");
    yaml.push_str(&"  - *d\n".repeat(400));
    yaml
}

#[test]
fn input_limits_are_named() {
    let big = format!("blueprint: acme\n# {}\n", "x".repeat(LIMITS.file_bytes));
    let cases = [
        (alias_bomb(), (16, 5), "the alias expansion limit is 100000"),
        (big, (0, 0), "the file size limit is 1048576 bytes"),
        (
            "blueprint: a\n---\nblueprint: b\n".to_owned(),
            (2, 1),
            "the document count limit is 1",
        ),
    ];
    for (yaml, (line, col), limit) in cases {
        let report = load("t.yaml", &yaml, Path::new(".")).unwrap_err();
        let found: Vec<(Pos, &str)> = report
            .diagnostics
            .iter()
            .map(|d| (d.pos.unwrap_or_default(), d.message.as_str()))
            .collect();
        assert!(
            found.len() == 1 && found[0].1.contains(limit) && found[0].0 == Pos { line, col },
            "{limit}: {found:?}"
        );
    }
}

/// The parser looks ahead over flow collections, so deep nesting meets the nesting limit
/// before the types see it.
#[test]
fn deep_nesting_meets_the_nesting_limit() {
    let nested = format!(
        "blueprint: acme\nadopt: {}{}\n",
        "[".repeat(100),
        "]".repeat(100)
    );
    let report = load("t.yaml", &nested, Path::new(".")).unwrap_err();
    let found: Vec<(Option<Pos>, &str)> = report
        .diagnostics
        .iter()
        .map(|d| (d.pos, d.message.as_str()))
        .collect();
    assert_eq!(
        found,
        vec![(
            Some(Pos { line: 2, col: 40 }),
            "the blueprint is nested too deeply: the nesting depth limit is 32"
        )]
    );
}

#[test]
fn a_46_character_name_fits_iam_with_a_gateway() {
    let name = "a".repeat(46);
    let source = format!(
        "blueprint: {name}\nregion: eu-west-1\ngateway: {{ hostname: mail.example.com, relay_from: [10.0.0.0/16] }}\n"
    );
    let bp = super::load("b.yaml", &source, std::path::Path::new(".")).unwrap();
    assert_eq!(
        crate::mail::gateway::role_name(&bp.name.value).len(),
        crate::mail::gateway::IAM_NAME_MAX
    );
}

#[test]
fn the_submission_port_is_refused() {
    let source = "blueprint: acme\nregion: eu-west-1\ngateway:\n  hostname: mail.example.com\n  relay_from: [10.0.0.0/16]\n  submission: true\n";
    let found = problems(source);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0]
            .2
            .starts_with("`submission: true` is no longer accepted: port 587 without authentication would be a second port 25"),
        "{found:?}"
    );
    let without = source.replace("  submission: true\n", "  submission: false\n");
    assert_eq!(problems(&without), Vec::new());
}

#[test]
fn gateway_postmaster_and_delivery_are_checked() {
    let head = "blueprint: acme\nregion: eu-west-1\ngateway:\n  hostname: mail.example.com\n  relay_from: [10.0.0.0/16]\n";
    let cases: &[(&str, (usize, usize), &str)] = &[
        (
            "  postmaster: \"ops'x@example.com\"\n",
            (6, 15),
            "`ops'x@example.com` is not an email address Postfix can use",
        ),
        (
            "  postmaster: ops\n",
            (6, 15),
            "`ops` is not an email address Postfix can use",
        ),
        (
            "  delivery: { destination_concurrency: 0 }\n",
            (6, 40),
            "0 parallel deliveries per destination is out of range",
        ),
        (
            "  delivery: { destination_rate_delay: 1 }\n",
            (6, 39),
            "`1` is not a time with its unit",
        ),
        (
            "  delivery: { queue_lifetime: 5 days }\n",
            (6, 31),
            "`5 days` is not a time with its unit",
        ),
        (
            "  delivery: { message_size_limit: 1000 }\n",
            (6, 35),
            "1000 bytes is out of range",
        ),
        (
            "  reboot_window: \"24:00\"\n",
            (6, 18),
            "`24:00` is not a time of day",
        ),
        (
            "  reboot_window: 4am\n",
            (6, 18),
            "`4am` is not a time of day",
        ),
        (
            "  dkim: { rotate_every: 6 months }\n",
            (6, 25),
            "`6 months` is not a time with its unit",
        ),
        (
            "  dkim: { rotate_every: 12h }\n",
            (6, 25),
            "`12h` is too short",
        ),
        (
            "  dkim: { rotate_every: 5d }\n",
            (6, 25),
            "the key would be due again before the last rotation retired the old one",
        ),
        (
            "  dkim: { selector: a234567890123456789012345678901234567890123456789012 }\n",
            (6, 21),
            "selector `a234567890123456789012345678901234567890123456789012` is 52 characters; a rotated key's is 50 at most",
        ),
        (
            "  smtp_credentials: { rotate_every: 90d }\n",
            (6, 21),
            "`smtp_credentials` belongs to a gateway that relays through SES; this one delivers directly and holds no SMTP credentials",
        ),
    ];
    for (yaml, pos, message) in cases {
        let found = problems(&format!("{head}{yaml}"));
        assert_eq!(found.len(), 1, "{yaml}: {found:?}");
        assert_eq!((found[0].0, found[0].1), *pos, "{yaml}: {found:?}");
        assert_eq!(found[0].2, *message, "{yaml}");
    }
    let good = format!(
        "{head}  postmaster: ops+mail@example.org\n  delivery: {{ destination_concurrency: 5, destination_rate_delay: 0s, queue_lifetime: 12h, bounce_lifetime: 2h, delay_warning: 0h, message_size_limit: 26214400 }}\n  reboot_window: \"23:30\"\n"
    );
    assert_eq!(problems(&good), Vec::new());
    // The gateway's hostname publishes its own SPF: a MAIL FROM domain there collides.
    let collision = format!(
        "{head}domains:\n  - domain: example.com\n    send_via: [ses]\n    ses: {{ mail_from: mail.example.com }}\n"
    );
    let found = problems(&collision);
    assert!(
        found.iter().any(|p| p
            .2
            .contains("`mail.example.com` TXT is also produced by gateway (gateway SPF)")),
        "{found:?}"
    );
}

/// DNS names compare case-insensitively and Route 53 answers in lower case: a selector
/// written `Sel1` is `sel1` everywhere, so its record plans once, not on every run.
#[test]
fn selectors_are_lower_cased() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let source = "blueprint: acme\nregion: eu-west-1\ngateway: { hostname: mail.example.com, relay_from: [10.0.0.0/16], dkim: { selector: MTA1 } }\ndomains:\n  - domain: example.com\n    send_via: [gateway, ses]\n    dkim: [{ selector: Sel1, public_key_file: dkim-2048.pub }]\n    ses: { dkim: { byodkim: { selector: BYO } } }\n";
    let bp = load("t.yaml", source, &data).unwrap();
    assert_eq!(bp.gateway.as_ref().unwrap().dkim.selector.value, "mta1");
    assert_eq!(bp.domains[0].dkim[0].selector.value, "sel1");
    let Some(SesDomainSpec {
        dkim: SesDkimSpec::Byo { selector, .. },
        ..
    }) = &bp.domains[0].ses
    else {
        panic!("{:?}", bp.domains[0].ses);
    };
    assert_eq!(selector.value, "byo");
    // Two spellings of one selector are one record: refused as a collision.
    let twice = format!(
        "{HEAD}    dkim: [{{ selector: Sel1, public_key_file: dkim-2048.pub }}, {{ selector: sel1, public_key_file: dkim-2048.pub }}]\n"
    );
    assert!(!problems(&twice).is_empty());
}

/// What works against the blueprint at receivers is a warning, with its position.
#[test]
fn advisories_warn_on_strict_spf_alignment_with_a_mail_from_domain_and_long_spf_records() {
    let head = "blueprint: acme\nregion: eu-west-1\ndomains:\n  - domain: example.com\n";
    let strict = format!(
        "{head}    send_via: [ses]\n    ses: {{ mail_from: bounce.example.com }}\n    dmarc: {{ policy: reject, aspf: strict }}\n"
    );
    let bp = load("t.yaml", &strict, Path::new(".")).unwrap();
    let w = validate::advisories(&bp);
    assert_eq!(w.len(), 1, "{w:?}");
    assert_eq!(w[0].path, "domains[0].dmarc.aspf");
    assert!(w[0].message.contains("SPF never aligns"), "{w:?}");
    let relaxed = strict.replace("aspf: strict", "aspf: relaxed");
    assert!(validate::advisories(&load("t.yaml", &relaxed, Path::new(".")).unwrap()).is_empty());

    let ranges: Vec<String> = (1..=25).map(|i| format!("198.51.{i}.0/24")).collect();
    let long = format!("{head}    spf: {{ ip4: [{}] }}\n", ranges.join(", "));
    let w = validate::advisories(&load("t.yaml", &long, Path::new(".")).unwrap());
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(w[0].message.contains("the SPF record is about"), "{w:?}");
    assert_eq!(w[0].pos.map(|p| p.line), Some(5));
}

/// A domain written in Unicode is published under its A-label (IDNA).
#[test]
fn unicode_domains_become_a_labels() {
    let source = "blueprint: acme\nregion: eu-west-1\ndomains:\n  - domain: bücher.example\n    send_via: [ses]\n    ses: { mail_from: bounce.bücher.example }\n    dmarc: { policy: none }\n";
    let bp = load("t.yaml", source, Path::new(".")).unwrap();
    assert_eq!(bp.domains[0].domain.value, "xn--bcher-kva.example");
    let d = crate::plan::desired::from_blueprint(&bp);
    assert!(
        d.records
            .iter()
            .any(|r| r.name == "_dmarc.xn--bcher-kva.example"),
        "{:?}",
        d.records
    );
    assert_eq!(
        bp.domains[0]
            .ses
            .as_ref()
            .unwrap()
            .mail_from
            .as_ref()
            .unwrap()
            .domain
            .value,
        "bounce.xn--bcher-kva.example"
    );
}

#[test]
fn relaying_through_ses_needs_every_gateway_domain_to_be_an_ses_identity() {
    let head = "blueprint: acme\nregion: eu-west-1\ngateway:\n  hostname: mail.example.com\n  relay_from: [10.0.0.0/16]\n  relay_via: ses\ndomains:\n";
    let source = format!(
        "{head}  - domain: example.com\n    send_via: [ses, gateway]\n  - domain: example.net\n    send_via: [gateway]\n"
    );
    let found = problems(&source);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!((found[0].0, found[0].1), (11, 16), "{found:?}");
    assert!(
        found[0].2.starts_with(
            "the gateway relays through Amazon SES (`relay_via: ses`, line 6), but `example.net` is not an SES identity of the blueprint"
        ),
        "{found:?}"
    );
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let hint = load("t.yaml", &source, &data).unwrap_err().diagnostics[0]
        .hint
        .clone()
        .unwrap_or_default();
    assert!(hint.contains("send_via: [ses, gateway]"), "{hint}");
    // The same domain is fine when it is an identity, or when the gateway delivers directly.
    assert_eq!(
        problems(&source.replace("send_via: [gateway]", "send_via: [gateway, ses]")),
        Vec::new()
    );
    assert_eq!(
        problems(&source.replace("relay_via: ses", "relay_via: direct")),
        Vec::new()
    );
    assert_eq!(
        problems(&source.replace("  relay_via: ses\n", "")),
        Vec::new()
    );
    let bad = problems(&source.replace("relay_via: ses", "relay_via: smtp"));
    assert_eq!(bad.len(), 1, "{bad:?}");
    assert!(
        bad[0].2.contains("direct") && bad[0].2.contains("ses"),
        "{bad:?}"
    );
}

#[test]
fn relaying_through_ses_names_an_iam_user_that_must_fit() {
    let name = "a".repeat(46);
    let source = format!(
        "blueprint: {name}\nregion: eu-west-1\ngateway:\n  hostname: mail.example.com\n  relay_from: [10.0.0.0/16]\n  relay_via: ses\n"
    );
    let found = problems(&source);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!((found[0].0, found[0].1), (1, 12));
    assert!(
        found[0].2.contains(&format!(
            "makes the IAM user `mailinfra-{name}-ses-smtp`, 65 characters; IAM allows 64"
        )),
        "{found:?}"
    );
    assert_eq!(
        problems(&source.replace("relay_via: ses", "relay_via: direct")),
        Vec::new()
    );
    assert_eq!(
        problems(&source.replace(&name, &"a".repeat(45))),
        Vec::new()
    );
}
