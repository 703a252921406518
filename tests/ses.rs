//! Amazon SES v2 domains end to end: the binary against the emulator, whose SES verifies an
//! identity by finding its DNS records in the same account's Route 53.

mod common;

use aws_sdk_route53::types::ChangeAction;
use aws_sdk_sesv2::types::{SuppressionListReason, Tag};
use common::{Account, q};

const REGION: &str = "eu-west-1";

const SES_BLUEPRINT: &str = r#"
blueprint: shop
region: eu-west-1
domains:
  - domain: example.org
    send_via: [ses]
    ses:
      mail_from: bounce.example.org
      configuration_set: transactional
    dmarc: { policy: quarantine }
ses:
  suppression: [bounce, complaint]
  configuration_sets:
    - name: transactional
      suppression: [bounce, complaint]
      tls: require
"#;

fn apply_clean(acct: &Account, file: &str) -> common::Run {
    let run = acct.mailinfra(&["apply", file, "--yes"]);
    assert_eq!(run.code, 0, "apply failed:\n{}\n{}", run.stdout, run.stderr);
    let plan = acct.mailinfra(&["plan", file, "--detailed-exitcode"]);
    assert_eq!(
        plan.code, 0,
        "plan after apply is not clean:\n{}\n{}",
        plan.stdout, plan.stderr
    );
    run
}

#[tokio::test]
async fn easy_dkim_and_mail_from_are_published_and_verify() {
    let acct = Account::new();
    let zone = acct.create_zone("example.org").await;
    acct.write("b.yaml", SES_BLUEPRINT);

    let plan = acct.mailinfra(&["plan", "b.yaml"]);
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    assert!(
        plan.stdout.contains("+ create  ses.identity.example.org"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("(known after apply: ses.identity.example.org.dkim_tokens)"),
        "{}",
        plan.stdout
    );

    apply_clean(&acct, "b.yaml");
    let ses = acct.ses(REGION);
    let id = ses
        .get_email_identity()
        .email_identity("example.org")
        .send()
        .await
        .unwrap();
    let tokens = id.dkim_attributes().unwrap().tokens().to_vec();
    assert_eq!(tokens.len(), 3);
    let tags: Vec<(&str, &str)> = id.tags().iter().map(|t| (t.key(), t.value())).collect();
    assert!(tags.contains(&("mailinfra:blueprint", "shop")), "{tags:?}");

    let records = acct.records(&zone).await;
    for t in &tokens {
        let key = (format!("{t}._domainkey.example.org"), "CNAME".to_owned());
        assert_eq!(
            records.get(&key),
            Some(&(300, vec![format!("{t}.dkim.amazonses.com")])),
            "{records:?}"
        );
    }
    assert_eq!(
        records.get(&("bounce.example.org".into(), "MX".into())),
        Some(&(
            300,
            vec!["10 feedback-smtp.eu-west-1.amazonses.com".to_owned()]
        ))
    );
    assert_eq!(
        records.get(&("bounce.example.org".into(), "TXT".into())),
        Some(&(300, vec![q("v=spf1 include:amazonses.com -all")]))
    );
    // The domain's own SPF gains nothing: alignment comes from the MAIL FROM subdomain.
    assert!(!records.contains_key(&("example.org".into(), "TXT".into())));

    let cs = ses
        .get_configuration_set()
        .configuration_set_name("transactional")
        .send()
        .await
        .unwrap();
    assert_eq!(
        cs.delivery_options()
            .unwrap()
            .tls_policy()
            .unwrap()
            .as_str(),
        "REQUIRE"
    );
    assert_eq!(
        cs.suppression_options().unwrap().suppressed_reasons().len(),
        2
    );
    let account = ses.get_account().send().await.unwrap();
    assert_eq!(
        account
            .suppression_attributes()
            .unwrap()
            .suppressed_reasons()
            .len(),
        2
    );

    let status = acct.mailinfra(&["status", "b.yaml"]);
    assert_eq!(status.code, 0, "{}", status.stderr);
    assert!(
        status.stdout.contains("example.org: verified"),
        "{}",
        status.stdout
    );
    assert!(
        status
            .stdout
            .contains("mail_from: bounce.example.org SUCCESS"),
        "{}",
        status.stdout
    );
    assert!(
        status.stdout.contains("sandbox; quota 200 messages a day"),
        "{}",
        status.stdout
    );
    assert!(
        status
            .stdout
            .contains("aws sesv2 put-account-details --production-access-enabled"),
        "{}",
        status.stdout
    );
    let json: serde_json::Value =
        serde_json::from_str(&acct.mailinfra(&["status", "b.yaml", "--json"]).stdout).unwrap();
    assert_eq!(json["format"], "mailinfra-status");
    assert_eq!(json["domains"][0]["state"], "verified");
    assert_eq!(json["account"]["sandbox"], true);
}

#[tokio::test]
async fn byodkim_publishes_the_key_and_the_private_half_never_prints() {
    let acct = Account::new();
    let zone = acct.create_zone("example.net").await;
    let bp = "blueprint: shop\nregion: eu-west-1\ndomains:\n  - domain: example.net\n    send_via: [ses]\n    ses: { dkim: { byodkim: { selector: mi1 } } }\n";
    acct.write("b.yaml", bp);
    let plan = acct.mailinfra(&["plan", "b.yaml", "--out", "p.json", "-v"]);
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    let apply = acct.mailinfra(&["apply", "p.json", "--yes", "-v"]);
    assert_eq!(apply.code, 0, "{}\n{}", apply.stdout, apply.stderr);
    let again = acct.mailinfra(&[
        "plan",
        "b.yaml",
        "--out",
        "p2.json",
        "--detailed-exitcode",
        "-v",
    ]);
    assert_eq!(again.code, 0, "{}\n{}", again.stdout, again.stderr);

    let private = acct
        .ses_private_key(REGION, "example.net")
        .expect("SES holds a BYODKIM key");
    assert!(private.len() > 1000);
    let txt = &acct.records(&zone).await[&("mi1._domainkey.example.net".into(), "TXT".into())].1[0];
    assert!(txt.starts_with("\"v=DKIM1; k=rsa; p=MIIB"), "{txt}");
    let saved = [
        std::fs::read_to_string(acct.dir.path().join("p.json")).unwrap(),
        std::fs::read_to_string(acct.dir.path().join("p2.json")).unwrap(),
    ];
    let outputs = [
        &plan.stdout,
        &plan.stderr,
        &apply.stdout,
        &apply.stderr,
        &again.stdout,
        &again.stderr,
        &saved[0],
        &saved[1],
    ];
    // No 32-character piece of the private key appears anywhere.
    for window in private.as_bytes().windows(32).step_by(16) {
        let piece = std::str::from_utf8(window).unwrap();
        for (i, text) in outputs.iter().enumerate() {
            assert!(
                !text.contains(piece),
                "output {i} contains part of the private key"
            );
        }
    }
    let status = acct.mailinfra(&["status", "b.yaml"]);
    assert!(
        status.stdout.contains("example.net: verified"),
        "SES verified the published key: {}",
        status.stdout
    );
}

#[tokio::test]
async fn suppression_drift_is_shown_and_repaired() {
    let acct = Account::new();
    acct.create_zone("example.org").await;
    acct.write("b.yaml", SES_BLUEPRINT);
    apply_clean(&acct, "b.yaml");

    let ses = acct.ses(REGION);
    ses.put_configuration_set_suppression_options()
        .configuration_set_name("transactional")
        .set_suppressed_reasons(Some(vec![]))
        .send()
        .await
        .unwrap();
    let plan = acct.mailinfra(&["plan", "b.yaml", "--detailed-exitcode"]);
    assert_eq!(plan.code, 2);
    assert!(
        plan.stdout
            .contains("~ update  ses.configuration_set.transactional"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("suppression: (none) -> BOUNCE, COMPLAINT"),
        "{}",
        plan.stdout
    );
    apply_clean(&acct, "b.yaml");
    let cs = ses
        .get_configuration_set()
        .configuration_set_name("transactional")
        .send()
        .await
        .unwrap();
    assert_eq!(
        cs.suppression_options().unwrap().suppressed_reasons(),
        [
            SuppressionListReason::Bounce,
            SuppressionListReason::Complaint
        ]
    );
}

#[tokio::test]
async fn a_removed_domain_loses_its_identity_and_records() {
    let acct = Account::new();
    let zone = acct.create_zone("example.org").await;
    acct.write("b.yaml", SES_BLUEPRINT);
    apply_clean(&acct, "b.yaml");
    let records = acct.records(&zone).await;
    assert!(records.len() >= 6);

    acct.write(
        "b.yaml",
        "blueprint: shop\nregion: eu-west-1\ndomains: []\n",
    );
    let plan = acct.mailinfra(&["plan", "b.yaml"]);
    assert!(
        plan.stdout.contains("- delete  ses.identity.example.org"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("- delete  ses.configuration_set.transactional"),
        "{}",
        plan.stdout
    );
    // The zone is no longer named: its records are reported and left for a person to
    // delete, since an ownership record there could be forged (docs/ownership.md).
    assert!(
        plan.stdout
            .contains("but blueprint `shop` does not name zone `example.org`"),
        "{}",
        plan.stdout
    );
    apply_clean(&acct, "b.yaml");
    assert_eq!(acct.records(&zone).await, records);
    let err = acct
        .ses(REGION)
        .get_email_identity()
        .email_identity("example.org")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        aws_sdk_sesv2::error::ProvideErrorMetadata::code(&err),
        Some("NotFoundException")
    );
}

#[tokio::test]
async fn an_untagged_identity_is_a_conflict_until_adopted() {
    let acct = Account::new();
    acct.create_zone("example.org").await;
    acct.ses(REGION)
        .create_email_identity()
        .email_identity("example.org")
        .tags(Tag::builder().key("team").value("web").build().unwrap())
        .send()
        .await
        .unwrap();
    let bp = "blueprint: shop\nregion: eu-west-1\ndomains:\n  - domain: example.org\n    send_via: [ses]\n";
    acct.write("b.yaml", bp);
    let plan = acct.mailinfra(&["plan", "b.yaml"]);
    assert_eq!(plan.code, 1);
    assert!(plan.stderr.contains("error: ses.identity.example.org: SES identity `example.org` already exists and mailinfra does not own it"), "{}", plan.stderr);
    assert!(
        plan.stderr.contains("- ses.identity.example.org"),
        "{}",
        plan.stderr
    );

    acct.write(
        "b.yaml",
        &format!("{bp}adopt: [ses.identity.example.org]\n"),
    );
    let plan = acct.mailinfra(&["plan", "b.yaml"]);
    assert!(
        plan.stdout.contains("~ adopt   ses.identity.example.org"),
        "{}",
        plan.stdout
    );
    apply_clean(&acct, "b.yaml");
}

#[tokio::test]
async fn apply_wait_names_what_is_still_pending() {
    let acct = Account::new();
    acct.create_zone("example.org").await;
    // SES's DNS checks find nothing: the registrar does not delegate to this zone.
    acct.set_ses_account(REGION, serde_json::json!({"Delegated": false}));
    acct.write("b.yaml", SES_BLUEPRINT);
    let start = std::time::Instant::now();
    let run = acct.mailinfra(&["apply", "b.yaml", "--yes", "--wait=10s"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(start.elapsed() >= std::time::Duration::from_secs(10));
    assert!(
        run.stderr.contains("still pending after")
            && run
                .stderr
                .contains("example.org (verification PENDING, MAIL FROM PENDING)"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("waiting for SES"),
        "progress on stderr: {}",
        run.stderr
    );
    // Pending is reported by every plan, never as a change.
    let plan = acct.mailinfra(&["plan", "b.yaml", "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "{}", plan.stdout);
    assert!(plan.stdout.contains("No changes."), "{}", plan.stdout);
    assert!(
        plan.stdout
            .contains("In progress at AWS (nothing to change):")
            && plan.stdout.contains(
                "SES is still verifying example.org (verification PENDING, MAIL FROM PENDING"
            ),
        "{}",
        plan.stdout
    );
    let md = acct.mailinfra(&["plan", "b.yaml", "--format", "markdown"]);
    assert!(
        md.stdout
            .contains("**In progress at AWS (nothing to change)**"),
        "{}",
        md.stdout
    );
    let status = acct.mailinfra(&["status", "b.yaml"]);
    assert!(
        status.stdout.contains("example.org: pending"),
        "{}",
        status.stdout
    );
    assert!(
        status
            .stdout
            .contains("SES is checking for the 3 DKIM CNAMEs"),
        "{}",
        status.stdout
    );
}

#[tokio::test]
async fn a_mail_from_domain_that_receives_mail_is_refused() {
    let acct = Account::new();
    let zone = acct.create_zone("example.org").await;
    acct.change(
        &zone,
        &[(
            ChangeAction::Create,
            "bounce.example.org",
            "MX",
            300,
            &["10 mx.example.org"],
        )],
    )
    .await
    .unwrap();
    acct.write("b.yaml", SES_BLUEPRINT);
    let plan = acct.mailinfra(&["plan", "b.yaml"]);
    assert_eq!(plan.code, 1);
    assert!(
        plan.stderr
            .contains("`bounce.example.org` already receives mail (MX 10 mx.example.org)"),
        "{}",
        plan.stderr
    );
}

#[tokio::test]
async fn production_access_is_requested_only_when_the_blueprint_asks() {
    let acct = Account::new();
    acct.create_zone("example.org").await;
    acct.write("b.yaml", SES_BLUEPRINT);
    apply_clean(&acct, "b.yaml");
    assert_eq!(acct.requests().get("ses.PutAccountDetails"), None);

    let with_request = format!(
        "{SES_BLUEPRINT}  production_access:\n    mail_type: transactional\n    website_url: https://shop.example.org\n    use_case: Order receipts and password resets to customers who signed up on the site.\n"
    );
    acct.write("b.yaml", &with_request);
    let plan = acct.mailinfra(&["plan", "b.yaml"]);
    assert!(
        plan.stdout
            .contains("+ create  ses.account.production_access"),
        "{}",
        plan.stdout
    );
    apply_clean(&acct, "b.yaml");
    assert_eq!(acct.requests().get("ses.PutAccountDetails"), Some(&1));
    let status = acct.mailinfra(&["status", "b.yaml"]);
    assert!(
        status
            .stdout
            .contains("review of the production-access request is PENDING"),
        "{}",
        status.stdout
    );
}

/// A set without `suppression:` is created without SuppressionOptions, so it follows the
/// account's suppression list; `suppression: []` is the explicit choice to suppress nothing.
#[tokio::test]
async fn a_set_without_suppression_follows_the_account_list() {
    let acct = Account::new();
    acct.create_zone("example.org").await;
    acct.write(
        "b.yaml",
        "blueprint: shop\nregion: eu-west-1\ndomains:\n  - domain: example.org\n    send_via: [ses]\n    ses: { configuration_set: inherits }\nses:\n  configuration_sets:\n    - name: inherits\n    - name: nothing\n      suppression: []\n",
    );
    apply_clean(&acct, "b.yaml");
    let ses = acct.ses(REGION);
    let get = |name: &'static str| {
        let ses = ses.clone();
        async move {
            ses.get_configuration_set()
                .configuration_set_name(name)
                .send()
                .await
                .unwrap()
        }
    };
    assert_eq!(get("inherits").await.suppression_options(), None);
    assert_eq!(
        get("nothing")
            .await
            .suppression_options()
            .unwrap()
            .suppressed_reasons(),
        []
    );
    let status = acct.mailinfra(&["status", "b.yaml"]);
    assert!(
        status
            .stdout
            .contains("configuration set: inherits (the account's suppression list)"),
        "{}",
        status.stdout
    );
    assert!(
        !status.stdout.contains("suppresses nothing"),
        "{}",
        status.stdout
    );
}

/// In a region with its own DKIM domain, the CNAMEs point where SES says
/// (`dkim.af-south-1.amazonses.com`), and SES verifies them.
#[tokio::test]
async fn easy_dkim_uses_the_regions_own_dkim_domain() {
    let acct = Account::new();
    let zone = acct.create_zone("example.org").await;
    acct.write(
        "b.yaml",
        "blueprint: shop\nregion: af-south-1\ndomains:\n  - domain: example.org\n    send_via: [ses]\n",
    );
    apply_clean(&acct, "b.yaml");
    let id = acct
        .ses("af-south-1")
        .get_email_identity()
        .email_identity("example.org")
        .send()
        .await
        .unwrap();
    let records = acct.records(&zone).await;
    for t in id.dkim_attributes().unwrap().tokens() {
        let key = (format!("{t}._domainkey.example.org"), "CNAME".to_owned());
        assert_eq!(
            records.get(&key),
            Some(&(300, vec![format!("{t}.dkim.af-south-1.amazonses.com")])),
            "{records:?}"
        );
    }
    assert!(id.verified_for_sending_status());
}

/// In GovCloud, the ARNs mailinfra builds (here to tag an adopted identity) are
/// `arn:aws-us-gov:`.
#[tokio::test]
async fn adopting_in_govcloud_tags_with_the_partitions_arn() {
    let acct = Account::new();
    // Route 53 is global within a partition: GovCloud has its own zones.
    let creds = aws_credential_types::Credentials::new(
        acct.access_key(),
        "test-secret",
        None,
        None,
        "test",
    );
    let route53 = aws_sdk_route53::Client::from_conf(
        aws_sdk_route53::Config::builder()
            .behavior_version(aws_sdk_route53::config::BehaviorVersion::latest())
            .region(aws_sdk_route53::config::Region::new("us-gov-west-1"))
            .endpoint_url(&acct.endpoint)
            .credentials_provider(creds)
            .build(),
    );
    route53
        .create_hosted_zone()
        .name("example.org")
        .caller_reference(format!("gov-{}", acct.id))
        .send()
        .await
        .unwrap();
    acct.ses("us-gov-west-1")
        .create_email_identity()
        .email_identity("example.org")
        .send()
        .await
        .unwrap();
    acct.write(
        "b.yaml",
        "blueprint: shop\nregion: us-gov-west-1\ndomains:\n  - domain: example.org\n    send_via: [ses]\nadopt: [ses.identity.example.org]\n",
    );
    apply_clean(&acct, "b.yaml");
    let id = acct
        .ses("us-gov-west-1")
        .get_email_identity()
        .email_identity("example.org")
        .send()
        .await
        .unwrap();
    let tags: Vec<(&str, &str)> = id.tags().iter().map(|t| (t.key(), t.value())).collect();
    assert!(tags.contains(&("mailinfra:blueprint", "shop")), "{tags:?}");
}

/// The SES requests of one command, from the emulator's counts before and after it.
fn ses_requests(acct: &Account, args: &[&str]) -> std::collections::BTreeMap<String, u64> {
    let before = acct.requests();
    let run = acct.mailinfra(args);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    acct.requests()
        .into_iter()
        .filter(|(op, _)| op.starts_with("ses.") || op.starts_with("tagging."))
        .map(|(op, n)| {
            let was = before.get(&op).copied().unwrap_or(0);
            (op, n - was)
        })
        .filter(|(_, n)| *n > 0)
        .collect()
}

/// An account with 200 other identities: plan lists the names (one page), asks the tagging
/// API once for the ones the blueprint owns and reads only the blueprint's 3; status reads
/// the 3 once (docs/benchmark.md).
#[tokio::test]
async fn plan_and_status_read_only_the_blueprints_identities() {
    let acct = Account::new();
    let ses = acct.ses(REGION);
    for i in 0..200 {
        ses.create_email_identity()
            .email_identity(format!("other{i}.example.net"))
            .send()
            .await
            .unwrap();
    }
    let mut bp = String::from("blueprint: shop\nregion: eu-west-1\ndomains:\n");
    for d in ["a.example", "b.example", "c.example"] {
        acct.create_zone(d).await;
        bp.push_str(&format!("  - domain: {d}\n    send_via: [ses]\n"));
    }
    acct.write("b.yaml", &bp);
    apply_clean(&acct, "b.yaml");

    let plan = ses_requests(&acct, &["plan", "b.yaml"]);
    assert_eq!(plan.get("ses.GetEmailIdentity"), Some(&3), "{plan:?}");
    assert_eq!(plan.get("tagging.GetResources"), Some(&1), "{plan:?}");
    assert_eq!(plan.get("ses.ListEmailIdentities"), Some(&1), "{plan:?}");

    let status = ses_requests(&acct, &["status", "b.yaml"]);
    assert_eq!(status.get("ses.GetEmailIdentity"), Some(&3), "{status:?}");
    assert_eq!(status.get("ses.ListEmailIdentities"), None, "{status:?}");
    assert_eq!(status.get("ses.ListConfigurationSets"), None, "{status:?}");
}

/// A create whose response is lost and that the SDK retries finds what it asked for
/// (`AlreadyExistsException` on the retry): that is a success, not a failed apply.
#[tokio::test]
async fn a_lost_create_response_is_recovered() {
    let acct = Account::new();
    acct.create_zone("example.org").await;
    acct.write("b.yaml", SES_BLUEPRINT);
    acct.lose_responses("ses.CreateConfigurationSet", 2.0, 1);
    acct.lose_responses("ses.CreateEmailIdentity", 2.0, 1);
    let run = acct.mailinfra_env(
        &["apply", "b.yaml", "--yes"],
        &[("MAILINFRA_AWS_ATTEMPT_TIMEOUT", "0.5")],
        &[],
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let requests = acct.requests();
    // The first attempt of each took effect; the retry found it.
    assert_eq!(requests.get("ses.CreateConfigurationSet"), Some(&2));
    assert_eq!(requests.get("ses.CreateEmailIdentity"), Some(&2));
    let plan = acct.mailinfra(&["plan", "b.yaml", "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "{}\n{}", plan.stdout, plan.stderr);
    let status = acct.mailinfra(&["status", "b.yaml"]);
    assert!(
        status.stdout.contains("example.org: verified"),
        "{}",
        status.stdout
    );
}
