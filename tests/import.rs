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

/// With `--region`, SES domain identities under the zone are imported too (Easy DKIM, a
/// custom MAIL FROM) with `adopt:` for the identity and the records SES needs, which are not
/// read as the domain's own; what a blueprint cannot describe (an email-address identity, an
/// identity with a configuration set) is named on stderr and left out. `plan` right after
/// changes nothing but ownership.
#[tokio::test]
async fn ses_identities_are_imported_with_their_records() {
    use aws_sdk_sesv2::types::BehaviorOnMxFailure;
    let acct = Account::new();
    let zone = acct.create_zone("example.com").await;
    let ses = acct.ses("eu-west-1");
    let created = ses
        .create_email_identity()
        .email_identity("example.com")
        .send()
        .await
        .unwrap();
    let tokens: Vec<String> = created.dkim_attributes().unwrap().tokens().to_vec();
    assert_eq!(tokens.len(), 3);
    ses.put_email_identity_mail_from_attributes()
        .email_identity("example.com")
        .mail_from_domain("bounce.example.com")
        .behavior_on_mx_failure(BehaviorOnMxFailure::RejectMessage)
        .send()
        .await
        .unwrap();
    ses.create_email_identity()
        .email_identity("ops@example.com")
        .send()
        .await
        .unwrap();
    ses.create_configuration_set()
        .configuration_set_name("tx")
        .send()
        .await
        .unwrap();
    ses.create_email_identity()
        .email_identity("news.example.com")
        .configuration_set_name("tx")
        .send()
        .await
        .unwrap();
    let cnames: Vec<(String, String)> = tokens
        .iter()
        .map(|t| {
            (
                format!("{t}._domainkey.example.com"),
                format!("{t}.dkim.amazonses.com"),
            )
        })
        .collect();
    let mut changes: Vec<(ChangeAction, &str, &str, i64, Vec<String>)> = cnames
        .iter()
        .map(|(n, v)| {
            (
                ChangeAction::Create,
                n.as_str(),
                "CNAME",
                1800,
                vec![v.clone()],
            )
        })
        .collect();
    changes.push((
        ChangeAction::Create,
        "bounce.example.com",
        "MX",
        1800,
        vec!["10 feedback-smtp.eu-west-1.amazonses.com".into()],
    ));
    changes.push((
        ChangeAction::Create,
        "bounce.example.com",
        "TXT",
        1800,
        vec![q("v=spf1 include:amazonses.com -all")],
    ));
    changes.push((
        ChangeAction::Create,
        "example.com",
        "TXT",
        1800,
        vec![q("v=spf1 include:amazonses.com -all")],
    ));
    let refs: Vec<(ChangeAction, &str, &str, i64, Vec<&str>)> = changes
        .iter()
        .map(|(a, n, t, ttl, v)| {
            (
                a.clone(),
                *n,
                *t,
                *ttl,
                v.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    let args: Vec<(ChangeAction, &str, &str, i64, &[&str])> = refs
        .iter()
        .map(|(a, n, t, ttl, v)| (a.clone(), *n, *t, *ttl, v.as_slice()))
        .collect();
    acct.change(&zone, &args).await.unwrap();

    let run = acct.mailinfra(&[
        "import",
        "--zone",
        "example.com",
        "--region",
        "eu-west-1",
        "--out",
        "b.yaml",
    ]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let yaml = acct.read("b.yaml");
    for line in [
        "send_via: [ses]",
        "mail_from: bounce.example.com",
        "mail_from_on_mx_failure: reject",
        "- ses.identity.example.com",
        "- dns.bounce.example.com.MX",
        "- dns.bounce.example.com.TXT",
    ] {
        assert!(yaml.contains(line), "{line}:\n{yaml}");
    }
    assert!(!yaml.contains("domain: bounce.example.com"), "{yaml}");
    for left_out in [
        "SES identity ops@example.com: an email-address identity",
        "SES identity news.example.com: its default configuration set `tx` is not imported",
    ] {
        assert!(run.stderr.contains(left_out), "{left_out}:\n{}", run.stderr);
    }
    assert!(
        !run.stderr.contains("CNAME"),
        "SES's records are not unmanaged: {}",
        run.stderr
    );

    let plan = acct.mailinfra(&["plan", "b.yaml"]);
    assert_eq!(plan.code, 0, "{}\n{}", plan.stdout, plan.stderr);
    assert!(
        plan.stdout.contains("0 to create, 0 to update") && plan.stdout.contains("0 to delete"),
        "{}",
        plan.stdout
    );
    let apply = acct.mailinfra(&["apply", "b.yaml", "--yes"]);
    assert_eq!(apply.code, 0, "{}\n{}", apply.stdout, apply.stderr);
    let again = acct.mailinfra(&["plan", "b.yaml", "--detailed-exitcode"]);
    assert_eq!(again.code, 0, "{}\n{}", again.stdout, again.stderr);
}
