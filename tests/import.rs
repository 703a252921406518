//! `mailinfra import` round trip: a zone set up by hand, imported, then planned: only the
//! ownership records change, and after apply the mail records still say the same.

mod common;

use aws_sdk_route53::types::ChangeAction;
use common::{Account, q};

fn dkim_key() -> String {
    let pem = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/dkim-2048.pub"),
    )
    .unwrap();
    pem.lines().filter(|l| !l.starts_with("-----")).collect()
}

#[tokio::test]
async fn an_imported_zone_plans_only_its_ownership_records() {
    let acct = Account::new();
    let zone = acct.create_zone("example.com").await;
    let dkim = format!("v=DKIM1; k=rsa; p={}", dkim_key());
    let dkim_value = mailinfra::mail::txt::encode(&dkim);
    acct.change(
        &zone,
        &[
            (
                ChangeAction::Create,
                "example.com",
                "TXT",
                3600,
                &[
                    &q("google-site-verification=abc123"),
                    &q("v=spf1 ip4:192.0.2.25 include:_spf.google.com -all"),
                ],
            ),
            (
                ChangeAction::Create,
                "_dmarc.example.com",
                "TXT",
                3600,
                &[&q(
                    "v=DMARC1; p=quarantine; rua=mailto:dmarc@example.com; adkim=s",
                )],
            ),
            (
                ChangeAction::Create,
                "s1._domainkey.example.com",
                "TXT",
                3600,
                &[dkim_value.as_str()],
            ),
            (
                ChangeAction::Create,
                "_dmarc.legacy.example.com",
                "TXT",
                300,
                &[&q("v=DMARC1; p=none; ri=3600")],
            ),
            (
                ChangeAction::Create,
                "example.com",
                "MX",
                3600,
                &["10 mx.example.net."],
            ),
        ],
    )
    .await
    .unwrap();
    let before = acct.records(&zone).await;

    let run = acct.mailinfra(&["import", "--zone", "example.com", "--out", "b.yaml"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains(
            "left out: _dmarc.legacy.example.com TXT (dmarc): `ri=` has no blueprint field"
        ),
        "{}",
        run.stderr
    );
    // Records mailinfra does not manage are named on stderr too, not dropped silently.
    assert!(
        run.stderr.contains(
            "not mail records mailinfra manages, left out (and never touched): example.com MX"
        ),
        "{}",
        run.stderr
    );
    let valid = acct.mailinfra(&["validate", "b.yaml"]);
    assert_eq!(valid.code, 0, "{}", valid.stderr);

    let plan = acct.mailinfra(&["plan", "b.yaml"]);
    assert_eq!(plan.code, 0, "{}\n{}", plan.stdout, plan.stderr);
    // Every change is an adoption (ownership record only, or DMARC's tags in mailinfra's
    // order: the same policy) or the zone's footprint tag; nothing is created or deleted.
    assert!(
        plan.stdout
            .contains("Plan: 0 to create, 0 to update, 3 to adopt, 0 to delete."),
        "{}",
        plan.stdout
    );
    assert_eq!(
        plan.stdout.matches("(ownership record only)").count(),
        2,
        "SPF and DKIM as they are: {}",
        plan.stdout
    );

    let apply = acct.mailinfra(&["apply", "b.yaml", "--yes"]);
    assert_eq!(apply.code, 0, "{}\n{}", apply.stdout, apply.stderr);
    let again = acct.mailinfra(&["plan", "b.yaml", "--detailed-exitcode"]);
    assert_eq!(again.code, 0, "{}\n{}", again.stdout, again.stderr);
    let after = acct.records(&zone).await;
    for key in [
        ("example.com".to_owned(), "TXT".to_owned()),
        ("_dmarc.example.com".to_owned(), "TXT".to_owned()),
        ("s1._domainkey.example.com".to_owned(), "TXT".to_owned()),
        ("_dmarc.legacy.example.com".to_owned(), "TXT".to_owned()),
        ("example.com".to_owned(), "MX".to_owned()),
    ] {
        let text = |m: &std::collections::BTreeMap<(String, String), (i64, Vec<String>)>| {
            let (ttl, values) = m.get(&key).unwrap_or_else(|| panic!("{key:?} gone"));
            // DMARC's tags may come back in mailinfra's order: compare them as a set.
            let mut texts: Vec<String> = values
                .iter()
                .map(|v| {
                    let mut tags: Vec<String> = mailinfra::mail::txt::text_of(v)
                        .split(';')
                        .map(|t| t.trim().to_owned())
                        .collect();
                    tags.sort();
                    tags.join(";")
                })
                .collect();
            texts.sort();
            (*ttl, texts)
        };
        assert_eq!(text(&before), text(&after), "{key:?} says the same");
    }
}
