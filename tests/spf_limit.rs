//! `plan` counts the DNS lookups an SPF record costs receivers through its includes
//! (RFC 7208 §4.6.4), reading other senders' records from a real authoritative DNS server
//! (tests/dns/server.py), and refuses more than 10. pyspf (tests/dns/reference.py), asked
//! for the same record tree, gives a permerror for too many lookups exactly when plan
//! refuses. DNS that cannot be reached is a warning, and the plan stays quick.

mod common;

use std::time::{Duration, Instant};

use common::Account;
use common::dns::{Reference, serve};
use serde_json::{Value, json};

/// pyspf's result (and why) for the sender 203.0.113.250 at `domain`.
fn spf(reference: &mut Reference, domain: &str) -> (String, String) {
    let v = reference.ask(&json!({ "spf": [{ "ip": "203.0.113.250", "domain": domain }] }));
    let r = &v["spf"][0];
    (
        r["result"].as_str().unwrap().to_owned(),
        r["why"].as_str().unwrap_or_default().to_owned(),
    )
}

/// `n` `a:` terms, each one lookup (h.senders.test has an address, so none is void).
fn a_terms(n: usize) -> String {
    vec!["a:h.senders.test"; n].join(" ")
}

/// Other senders' records: `cost<n>.senders.test` costs `n` lookups besides its include.
fn sender_records() -> serde_json::Map<String, Value> {
    let mut records = serde_json::Map::new();
    for n in 0..=10 {
        records.insert(
            format!("cost{n}.senders.test|TXT"),
            json!([format!("v=spf1 ip4:198.51.100.{n} {} -all", a_terms(n))]),
        );
    }
    for (name, text) in [
        // Two lookups: its own `mx` and the `include`; the included record costs one more.
        (
            "nested.senders.test",
            "v=spf1 mx:senders.test include:cost1.senders.test -all".to_owned(),
        ),
        // `redirect=` followed: 1 + the 9 of its target.
        (
            "redirect.senders.test",
            "v=spf1 redirect=cost9.senders.test".to_owned(),
        ),
        // `redirect=` beside `all` is counted where it is read but never followed (§6.1).
        (
            "ignored.senders.test",
            "v=spf1 -all redirect=cost9.senders.test".to_owned(),
        ),
        // Terms after `all` are never evaluated (§5.1).
        (
            "after.senders.test",
            format!("v=spf1 ip4:198.51.100.99 -all {}", a_terms(10)),
        ),
    ] {
        records.insert(format!("{name}|TXT"), json!([text]));
    }
    records.insert("h.senders.test|A".into(), json!(["198.51.100.200"]));
    records.insert("senders.test|MX".into(), json!(["10 h.senders.test"]));
    records
}

/// The blueprint's SPF for example.com with these includes.
fn blueprint(includes: &[&str]) -> String {
    format!(
        "blueprint: spf\ndomains:\n  - domain: example.com\n    spf: {{ include: [{}], all: fail }}\n",
        includes.join(", ")
    )
}

/// Each case: the includes, the lookups they cost through the tree.
fn cases() -> Vec<(&'static str, Vec<String>, usize)> {
    let many = |costly: usize, total: usize| -> Vec<String> {
        (0..total)
            .map(|i| {
                if i < costly {
                    "cost1.senders.test".to_owned()
                } else {
                    "cost0.senders.test".to_owned()
                }
            })
            .collect()
    };
    vec![
        ("ten includes costing 15", many(5, 10), 15),
        ("ten includes costing 11", many(1, 10), 11),
        ("eight includes costing exactly 10", many(2, 8), 10),
        (
            "one include costing 10",
            vec!["cost9.senders.test".into()],
            10,
        ),
        (
            "one include costing 11",
            vec!["cost10.senders.test".into()],
            11,
        ),
        (
            "nested includes and mx",
            vec![
                "nested.senders.test".into(),
                "cost4.senders.test".into(),
                "cost0.senders.test".into(),
            ],
            4 + 5 + 1,
        ),
        (
            "nested includes and mx, one more",
            vec![
                "nested.senders.test".into(),
                "cost5.senders.test".into(),
                "cost0.senders.test".into(),
            ],
            4 + 6 + 1,
        ),
        (
            "redirect followed",
            vec!["redirect.senders.test".into(), "cost0.senders.test".into()],
            1 + 1 + 9 + 1,
        ),
        (
            "redirect beside all",
            vec!["ignored.senders.test".into(), "cost8.senders.test".into()],
            2 + 9,
        ),
        (
            "redirect beside all, within",
            vec!["ignored.senders.test".into(), "cost7.senders.test".into()],
            2 + 8,
        ),
        (
            "terms after all",
            vec!["after.senders.test".into(), "cost8.senders.test".into()],
            1 + 9,
        ),
    ]
}

#[tokio::test]
async fn plan_refuses_exactly_when_pyspf_finds_too_many_lookups() {
    let acct = Account::new();
    acct.create_zone("example.com").await;
    let mut failures = Vec::new();
    for (name, includes, cost) in cases() {
        let refs: Vec<&str> = includes.iter().map(String::as_str).collect();
        let bp = blueprint(&refs);
        acct.write("b.yaml", &bp);
        // What the blueprint will publish, served with the senders' records for pyspf.
        let validate = acct.mailinfra(&["validate", "b.yaml"]);
        assert_eq!(validate.code, 0, "{name}: {}", validate.stderr);
        let mut records = sender_records();
        let published = format!(
            "v=spf1 {} -all",
            refs.iter()
                .map(|i| format!("include:{i}"))
                .collect::<Vec<_>>()
                .join(" ")
        );
        records.insert("example.com|TXT".into(), json!([published]));
        let server = serve(
            &acct,
            "zones.json",
            &json!({ "zones": ["example.com", "senders.test"], "records": records }),
        );
        let resolver = format!("127.0.0.1:{}", server.port);
        let plan = acct.mailinfra(&[
            "plan",
            "b.yaml",
            "--resolver",
            &resolver,
            "--dns-timeout",
            "5s",
        ]);
        let (result, why) = spf(&mut Reference::start(server.port), "example.com");
        let pyspf_refuses = result == "permerror" && why.contains("Too many DNS lookups");
        let refused = plan.code != 0;
        if refused {
            let want = format!("costs receivers {cost} DNS lookups");
            if !plan.stderr.contains(&want) || !plan.stderr.contains("dns.example.com.TXT") {
                failures.push(format!("{name}: refusal without `{want}`: {}", plan.stderr));
            }
        } else {
            assert!(plan.stdout.contains("create"), "{name}: {}", plan.stdout);
        }
        if refused != (cost > 10) || refused != pyspf_refuses {
            failures.push(format!(
                "{name}: {cost} lookups; plan exit {} ({}); pyspf {result} ({why})",
                plan.code,
                plan.stderr.trim()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn the_refusal_names_the_heaviest_includes() {
    let acct = Account::new();
    acct.create_zone("example.com").await;
    let server = serve(
        &acct,
        "zones.json",
        &json!({ "zones": ["senders.test"], "records": sender_records() }),
    );
    acct.write(
        "b.yaml",
        &blueprint(&[
            "cost0.senders.test",
            "cost5.senders.test",
            "cost1.senders.test",
            "cost3.senders.test",
            "cost0.senders.test",
        ]),
    );
    let resolver = format!("127.0.0.1:{}", server.port);
    let plan = acct.mailinfra(&[
        "plan",
        "b.yaml",
        "--resolver",
        &resolver,
        "--dns-timeout",
        "5s",
    ]);
    assert_eq!(plan.code, 1, "{}", plan.stderr);
    assert!(
        plan.stderr.contains(
            "the heaviest: include:cost5.senders.test (6), include:cost3.senders.test (4), include:cost1.senders.test (2)"
        ),
        "{}",
        plan.stderr
    );
    assert!(plan.stderr.contains("ip4:/ip6:"), "{}", plan.stderr);
    // A pull request's summary shows the reason too.
    let md = acct.mailinfra(&[
        "plan",
        "b.yaml",
        "--resolver",
        &resolver,
        "--dns-timeout",
        "5s",
        "--format",
        "markdown",
    ]);
    assert_eq!(md.code, 1);
    assert!(
        md.stdout.contains("costs receivers 14 DNS lookups"),
        "{}",
        md.stdout
    );
}

#[tokio::test]
async fn dns_that_does_not_answer_is_a_warning_and_the_plan_stays_quick() {
    let acct = Account::new();
    acct.create_zone("example.com").await;
    // 15 lookups, which the plan would refuse if it could read them.
    let includes: Vec<&str> = (0..10)
        .map(|i| {
            if i < 5 {
                "cost1.senders.test"
            } else {
                "cost0.senders.test"
            }
        })
        .collect();
    acct.write("b.yaml", &blueprint(&includes));
    let silent = serve(&acct, "silent.json", &json!({ "timeout": true }));
    let resolver = format!("127.0.0.1:{}", silent.port);
    let started = Instant::now();
    let plan = acct.mailinfra(&[
        "plan",
        "b.yaml",
        "--resolver",
        &resolver,
        "--dns-timeout",
        "2s",
    ]);
    let took = started.elapsed();
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    assert!(plan.stdout.contains("create"), "{}", plan.stdout);
    assert!(
        plan.stderr
            .contains("SPF lookups not counted: DNS (127.0.0.1:")
            && plan.stderr.contains("within 2s"),
        "{}",
        plan.stderr
    );
    assert!(took < Duration::from_secs(10), "plan took {took:?}");
    // Nothing listening: refused at once, one warning per record, not an error.
    drop(silent);
    let started = Instant::now();
    let plan = acct.mailinfra(&[
        "plan",
        "b.yaml",
        "--resolver",
        &resolver,
        "--dns-timeout",
        "5s",
    ]);
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    // Closed UDP port: the count gives up within --dns-timeout (default 5s) either way.
    assert!(
        plan.stderr.contains("not all of its tree could be read")
            || plan.stderr.contains("SPF lookups not counted"),
        "{}",
        plan.stderr
    );
    assert!(started.elapsed() < Duration::from_secs(12));
    // `--dns-timeout 0s` skips the count.
    let plan = acct.mailinfra(&[
        "plan",
        "b.yaml",
        "--resolver",
        &resolver,
        "--dns-timeout",
        "0s",
    ]);
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    assert!(!plan.stderr.contains("SPF"), "{}", plan.stderr);
}
