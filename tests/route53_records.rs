//! The foundation's end-to-end behaviour: the built binary against the emulator. Every step
//! that applies is followed by a plan that must show no changes.

mod common;

use aws_sdk_route53::types::ChangeAction;
use common::{Account, q};

const THREE_DOMAINS: &str = r#"
blueprint: acme
domains:
  - domain: example.com
    spf: { include: [_spf.google.com], all: fail }
    dmarc: { policy: none, rua: [mailto:dmarc@example.com] }
  - domain: shop.example.com
    zone: example.com
    spf: { ip4: [192.0.2.0/24] }
    dmarc: { policy: quarantine }
  - domain: example.org
    dmarc: { policy: reject }
"#;

fn assert_clean(acct: &Account, file: &str) {
    let run = acct.mailinfra(&["plan", file, "--detailed-exitcode"]);
    assert_eq!(
        run.code, 0,
        "plan after apply is not clean:\n{}\n{}",
        run.stdout, run.stderr
    );
    assert!(run.stdout.contains("No changes."), "{}", run.stdout);
}

fn apply(acct: &Account, file: &str) {
    let run = acct.mailinfra(&["apply", file, "--yes"]);
    assert_eq!(run.code, 0, "apply failed:\n{}\n{}", run.stdout, run.stderr);
    assert_clean(acct, file);
}

#[tokio::test]
async fn apply_three_domains_then_plan_is_clean() {
    let acct = Account::new();
    let com = acct.create_zone("example.com").await;
    let org = acct.create_zone("example.org").await;
    acct.write("b.yaml", THREE_DOMAINS);

    let run = acct.mailinfra(&["plan", "b.yaml", "--detailed-exitcode"]);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains("Plan: 5 to create, 0 to update, 0 to adopt, 0 to delete."),
        "{}",
        run.stdout
    );

    apply(&acct, "b.yaml");
    let records = acct.records(&com).await;
    let get = |name: &str| records.get(&(name.to_owned(), "TXT".to_owned())).cloned();
    assert_eq!(
        get("example.com"),
        Some((300, vec![q("v=spf1 include:_spf.google.com -all")]))
    );
    assert_eq!(
        get("_dmarc.example.com"),
        Some((
            300,
            vec![q("v=DMARC1; p=none; rua=mailto:dmarc@example.com")]
        ))
    );
    assert_eq!(
        get("shop.example.com"),
        Some((300, vec![q("v=spf1 ip4:192.0.2.0/24 ~all")]))
    );
    assert_eq!(
        get("_dmarc.shop.example.com"),
        Some((300, vec![q("v=DMARC1; p=quarantine")]))
    );
    assert_eq!(
        get("_mailinfra-txt.example.com"),
        Some((
            300,
            vec![q(
                "heritage=mailinfra,mailinfra/blueprint=acme,mailinfra/owns=spf"
            )]
        ))
    );
    assert_eq!(
        get("_mailinfra-txt._dmarc.example.com"),
        Some((
            300,
            vec![q(
                "heritage=mailinfra,mailinfra/blueprint=acme,mailinfra/owns=all"
            )]
        ))
    );
    let org_records = acct.records(&org).await;
    assert_eq!(org_records.len(), 2, "{org_records:?}");
    assert_eq!(
        acct.zone_tags(&com)
            .await
            .get("mailinfra:blueprint:acme")
            .map(String::as_str),
        Some("records")
    );

    // Every change of a zone went in one batch.
    assert_eq!(
        acct.requests().get("route53.ChangeResourceRecordSets"),
        Some(&2)
    );
}

#[tokio::test]
async fn changed_dmarc_policy_is_exactly_one_update() {
    let acct = Account::new();
    acct.create_zone("example.com").await;
    acct.create_zone("example.org").await;
    acct.write("b.yaml", THREE_DOMAINS);
    apply(&acct, "b.yaml");

    acct.write(
        "b.yaml",
        &THREE_DOMAINS.replace("dmarc: { policy: reject }", "dmarc: { policy: quarantine }"),
    );
    let run = acct.mailinfra(&["plan", "b.yaml"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout
            .contains("Plan: 0 to create, 1 to update, 0 to adopt, 0 to delete."),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("~ update  dns._dmarc.example.org.TXT  (DMARC)"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("- \"v=DMARC1; p=reject\""),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("+ \"v=DMARC1; p=quarantine\""),
        "{}",
        run.stdout
    );
    apply(&acct, "b.yaml");
}

#[tokio::test]
async fn a_record_deleted_out_of_band_is_restored() {
    let acct = Account::new();
    let com = acct.create_zone("example.com").await;
    acct.create_zone("example.org").await;
    acct.write("b.yaml", THREE_DOMAINS);
    apply(&acct, "b.yaml");

    let dmarc = q("v=DMARC1; p=quarantine");
    acct.change(
        &com,
        &[(
            ChangeAction::Delete,
            "_dmarc.shop.example.com",
            "TXT",
            300,
            &[&dmarc],
        )],
    )
    .await
    .unwrap();
    let run = acct.mailinfra(&["plan", "b.yaml", "--detailed-exitcode"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stdout
            .contains("+ create  dns._dmarc.shop.example.com.TXT"),
        "{}",
        run.stdout
    );
    apply(&acct, "b.yaml");
    assert!(
        acct.records(&com)
            .await
            .contains_key(&("_dmarc.shop.example.com".into(), "TXT".into()))
    );
}

#[tokio::test]
async fn an_unowned_spf_is_a_conflict_until_adopted() {
    let acct = Account::new();
    let com = acct.create_zone("example.com").await;
    let theirs = q("v=spf1 include:old.example.net -all");
    acct.change(
        &com,
        &[(ChangeAction::Create, "example.com", "TXT", 600, &[&theirs])],
    )
    .await
    .unwrap();
    let bp = "blueprint: acme\ndomains:\n  - domain: example.com\n    spf: { include: [_spf.google.com] }\n";
    acct.write("b.yaml", bp);
    let before = acct.requests();

    for cmd in ["plan", "apply"] {
        let run = acct.mailinfra(&[cmd, "b.yaml", "--yes"][..if cmd == "plan" { 2 } else { 3 }]);
        assert_eq!(run.code, 1, "{cmd}: {}", run.stdout);
        assert!(
            run.stderr.contains("error: dns.example.com.TXT: `example.com` already has an SPF record that mailinfra does not own"),
            "{}",
            run.stderr
        );
        assert!(
            run.stderr.contains("adopt:\n        - dns.example.com.TXT"),
            "{}",
            run.stderr
        );
    }
    // In a CI job summary the reason shows too, not an empty section.
    let md = acct.mailinfra(&["plan", "b.yaml", "--format", "markdown"]);
    assert_eq!(md.code, 1);
    assert!(
        md.stdout
            .starts_with("### mailinfra plan for `b.yaml` failed")
            && md
                .stdout
                .contains("already has an SPF record that mailinfra does not own")
            && md.stdout.contains("Nothing was changed."),
        "{}",
        md.stdout
    );
    // Nothing was written.
    let after = acct.requests();
    assert_eq!(
        before.get("route53.ChangeResourceRecordSets"),
        after.get("route53.ChangeResourceRecordSets")
    );
    assert_eq!(after.get("route53.ChangeTagsForResource"), None);

    acct.write("b.yaml", &format!("{bp}adopt: [dns.example.com.TXT]\n"));
    let run = acct.mailinfra(&["plan", "b.yaml"]);
    assert!(
        run.stdout.contains("~ adopt   dns.example.com.TXT  (SPF)"),
        "{}",
        run.stdout
    );
    apply(&acct, "b.yaml");
    // The set had only their SPF: it is replaced, and its TTL becomes the blueprint's.
    let records = acct.records(&com).await;
    assert_eq!(
        records.get(&("example.com".into(), "TXT".into())),
        Some(&(300, vec![q("v=spf1 include:_spf.google.com ~all")]))
    );
}

#[tokio::test]
async fn other_values_in_the_apex_txt_set_are_kept() {
    let acct = Account::new();
    let com = acct.create_zone("example.com").await;
    let a = q("google-site-verification=abc");
    let b = q("MS=ms12345");
    acct.change(
        &com,
        &[(ChangeAction::Create, "example.com", "TXT", 3600, &[&a, &b])],
    )
    .await
    .unwrap();
    acct.write(
        "b.yaml",
        "blueprint: acme\ndomains:\n  - domain: example.com\n    spf: { ip4: [192.0.2.1] }\n",
    );
    apply(&acct, "b.yaml");
    let (ttl, values) = acct.records(&com).await[&("example.com".into(), "TXT".into())].clone();
    assert_eq!(ttl, 3600, "the shared set keeps its owner's TTL");
    assert_eq!(
        values,
        vec![a.clone(), b.clone(), q("v=spf1 ip4:192.0.2.1 ~all")]
    );

    // Removing the SPF from the blueprint removes only mailinfra's string.
    acct.write(
        "b.yaml",
        "blueprint: acme\ndomains:\n  - domain: example.com\n    dmarc: { policy: none }\n",
    );
    apply(&acct, "b.yaml");
    let records = acct.records(&com).await;
    assert_eq!(records[&("example.com".into(), "TXT".into())].1, vec![a, b]);
    assert!(!records.contains_key(&("_mailinfra-txt.example.com".into(), "TXT".into())));
}

#[tokio::test]
async fn removed_domains_records_are_reported_and_left_alone() {
    // A blueprint's ownership records count only for names it can write (docs/ownership.md):
    // a domain removed from it is one it can no longer write for, like a forged marker.
    let acct = Account::new();
    let com = acct.create_zone("example.com").await;
    let org = acct.create_zone("example.org").await;
    acct.write("b.yaml", THREE_DOMAINS);
    apply(&acct, "b.yaml");
    let before_com = acct.records(&com).await;
    let before_org = acct.records(&org).await;

    // example.org is gone from the blueprint entirely, and so is shop.example.com.
    acct.write(
        "b.yaml",
        "blueprint: acme\ndomains:\n  - domain: example.com\n    spf: { include: [_spf.google.com], all: fail }\n    dmarc: { policy: none, rua: [mailto:dmarc@example.com] }\n",
    );
    let run = acct.mailinfra(&["plan", "b.yaml"]);
    assert!(
        run.stdout
            .contains("Plan: 0 to create, 0 to update, 0 to adopt, 0 to delete."),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("untag zone"), "{}", run.stdout);
    for claim in [
        "`_mailinfra-txt.shop.example.com` claims `shop.example.com` TXT for this blueprint, but blueprint `acme` never writes TXT at `shop.example.com`",
        "`_mailinfra-txt._dmarc.shop.example.com` claims",
        "`_mailinfra-txt._dmarc.example.org` claims `_dmarc.example.org` TXT for this blueprint, but blueprint `acme` does not name zone `example.org`",
    ] {
        assert!(run.stdout.contains(claim), "{claim}\n{}", run.stdout);
    }
    apply(&acct, "b.yaml");
    assert_eq!(acct.records(&org).await, before_org);
    assert!(acct.zone_tags(&org).await.is_empty());
    assert_eq!(acct.records(&com).await, before_com);
}

#[tokio::test]
async fn destroy_leaves_only_what_was_there_before() {
    let acct = Account::new();
    let com = acct.create_zone("example.com").await;
    let org = acct.create_zone("example.org").await;
    let keep = q("keep-me");
    acct.change(
        &com,
        &[(ChangeAction::Create, "example.com", "TXT", 300, &[&keep])],
    )
    .await
    .unwrap();
    let before_com = acct.records(&com).await;
    acct.write("b.yaml", THREE_DOMAINS);
    apply(&acct, "b.yaml");

    let refused = acct.mailinfra(&["destroy", "b.yaml"]);
    assert_eq!(refused.code, 1);
    assert!(refused.stderr.contains("pass --yes"), "{}", refused.stderr);

    let run = acct.mailinfra(&["destroy", "b.yaml", "--yes"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(acct.records(&com).await, before_com);
    assert!(acct.records(&org).await.is_empty());
    assert!(acct.zone_tags(&com).await.is_empty());
    let again = acct.mailinfra(&["destroy", "b.yaml", "--yes"]);
    assert!(again.stdout.contains("No changes."), "{}", again.stdout);
}

#[tokio::test]
async fn a_saved_plan_is_refused_after_an_out_of_band_change() {
    let acct = Account::new();
    let com = acct.create_zone("example.com").await;
    acct.create_zone("example.org").await;
    acct.write("b.yaml", THREE_DOMAINS);

    let run = acct.mailinfra(&["plan", "b.yaml", "--out", "p.json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let other = q("someone=else");
    acct.change(
        &com,
        &[(
            ChangeAction::Create,
            "www.example.com",
            "TXT",
            300,
            &[&other],
        )],
    )
    .await
    .unwrap();
    let run = acct.mailinfra(&["apply", "p.json", "--yes"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("the saved plan p.json is stale"),
        "{}",
        run.stderr
    );
    assert_eq!(
        acct.requests().get("route53.ChangeResourceRecordSets"),
        Some(&1),
        "only the out-of-band change"
    );

    // A fresh plan applies, and applying it is what plan showed.
    acct.mailinfra(&["plan", "b.yaml", "--out", "p.json"]);
    let run = acct.mailinfra(&["apply", "p.json", "--yes"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_clean(&acct, "b.yaml");
}

#[tokio::test]
async fn apply_waits_for_insync_with_progress_and_a_bound() {
    let acct = Account::new();
    acct.create_zone("example.com").await;
    acct.create_zone("example.org").await;
    acct.emulator(
        "POST",
        &format!(
            "/_mailinfra/route53/insync-after?account={}&seconds=3",
            acct.id
        ),
        "",
    );
    acct.write("b.yaml", THREE_DOMAINS);
    let start = std::time::Instant::now();
    let run = acct.mailinfra(&["apply", "b.yaml", "--yes"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        start.elapsed() >= std::time::Duration::from_secs(3),
        "it waited for INSYNC"
    );
    assert!(
        run.stderr.contains("waiting for Route 53 changes to reach every name server (INSYNC), usually under 60 s (0 s of at most 300 s): 2 change(s) PENDING"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("Route 53 changes INSYNC after"),
        "{}",
        run.stderr
    );

    // A bound shorter than the propagation: the changes are in, the wait gives up, exit 1.
    acct.emulator(
        "POST",
        &format!(
            "/_mailinfra/route53/insync-after?account={}&seconds=30",
            acct.id
        ),
        "",
    );
    acct.write(
        "b.yaml",
        &THREE_DOMAINS.replace("dmarc: { policy: reject }", "dmarc: { policy: none }"),
    );
    let run = acct.mailinfra(&["apply", "b.yaml", "--yes", "--timeout", "1s"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("were still PENDING after"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("they were accepted and will complete"),
        "{}",
        run.stderr
    );
    let plan = acct.mailinfra(&["plan", "b.yaml", "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "the accepted changes are in: {}", plan.stdout);
}

#[tokio::test]
async fn json_plan_is_data_on_stdout() {
    let acct = Account::new();
    acct.create_zone("example.com").await;
    acct.create_zone("example.org").await;
    acct.write("b.yaml", THREE_DOMAINS);
    let run = acct.mailinfra(&["plan", "b.yaml", "--json"]);
    assert_eq!(run.code, 0);
    let plan: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(plan["format"], "mailinfra-plan");
    assert_eq!(plan["version"], 4);
    assert_eq!(plan["summary"]["create"], 5);
    assert_eq!(plan["zones"][0]["changes"][0]["action"], "create");
    assert!(
        run.stderr.contains("reading AWS for blueprint `acme`"),
        "progress goes to stderr"
    );
    assert!(
        !run.stderr.contains("observed zone"),
        "details only with -v"
    );
    let verbose = acct.mailinfra(&["plan", "b.yaml", "--json", "-v"]);
    assert_eq!(verbose.stdout, run.stdout, "-v changes stderr only");
    assert!(
        verbose.stderr.contains("observed zone example.com (")
            && verbose.stderr.contains("observation checksum"),
        "{}",
        verbose.stderr
    );
}

#[tokio::test]
async fn two_blueprints_cannot_own_one_record() {
    let acct = Account::new();
    acct.create_zone("example.com").await;
    acct.write(
        "a.yaml",
        "blueprint: team-a\ndomains:\n  - domain: example.com\n    dmarc: { policy: none }\n",
    );
    acct.write(
        "b.yaml",
        "blueprint: team-b\ndomains:\n  - domain: example.com\n    dmarc: { policy: reject }\n",
    );
    apply(&acct, "a.yaml");
    let run = acct.mailinfra(&["plan", "b.yaml"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .contains("`_dmarc.example.com` TXT is owned by blueprint `team-a`"),
        "{}",
        run.stderr
    );
}

#[tokio::test]
async fn a_missing_zone_is_named_with_how_to_create_it() {
    let acct = Account::new();
    acct.write(
        "b.yaml",
        "blueprint: acme\ndomains:\n  - domain: example.net\n    dmarc: { policy: none }\n",
    );
    let run = acct.mailinfra(&["plan", "b.yaml"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .contains("no public hosted zone `example.net` in this account"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("create-hosted-zone"), "{}", run.stderr);
}

/// A change batch whose response is lost is retried by the SDK; Route 53 then refuses the
/// retry ("already exists"), though the first attempt applied the batch. The records are as
/// the batch wanted them, so the apply succeeds; `destroy` likewise ("not found").
#[tokio::test]
async fn a_lost_change_batch_response_is_recovered() {
    let acct = Account::new();
    acct.create_zone("example.com").await;
    acct.create_zone("example.org").await;
    acct.write("b.yaml", THREE_DOMAINS);
    let timeout = [("MAILINFRA_AWS_ATTEMPT_TIMEOUT", "0.5")];

    acct.lose_responses("route53.ChangeResourceRecordSets", 2.0, 1);
    let run = acct.mailinfra_env(&["apply", "b.yaml", "--yes"], &timeout, &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_clean(&acct, "b.yaml");

    let before = acct
        .requests()
        .get("route53.ChangeResourceRecordSets")
        .copied()
        .unwrap_or(0);
    acct.lose_responses("route53.ChangeResourceRecordSets", 2.0, 1);
    let run = acct.mailinfra_env(&["destroy", "b.yaml", "--yes"], &timeout, &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let after = acct.requests()["route53.ChangeResourceRecordSets"];
    // Two zones, one batch each, and the retry of the one whose response was lost.
    assert_eq!(after - before, 3, "{run:?}");
    let plan = acct.mailinfra(&["plan", "b.yaml", "--detailed-exitcode"]);
    assert_eq!(plan.code, 2, "destroy left records: {}", plan.stdout);
}

/// Route 53 writes and returns a character outside printable ASCII, or any character someone
/// chose to escape, as `\` and three octal digits (`\073` is `;`: Route 53 Developer Guide,
/// "DNS domain name format"). A record written that way holds the same text, so the plan
/// finds nothing to change; read as decimal, `\073` was `I` and the plan rewrote it forever.
#[tokio::test]
async fn octal_escapes_in_a_txt_value_are_the_same_text() {
    let acct = Account::new();
    let zone = acct.create_zone("example.com").await;
    acct.create_zone("example.org").await;
    acct.write("b.yaml", THREE_DOMAINS);
    apply(&acct, "b.yaml");

    let records = acct.records(&zone).await;
    let (ttl, values) = records
        .get(&("_dmarc.example.com".to_owned(), "TXT".to_owned()))
        .expect("the DMARC record")
        .clone();
    assert!(values[0].contains(';'), "{values:?}");
    let escaped = values[0].replace(';', "\\073");
    acct.change(
        &zone,
        &[(
            ChangeAction::Upsert,
            "_dmarc.example.com",
            "TXT",
            ttl,
            &[escaped.as_str()],
        )],
    )
    .await
    .unwrap();
    assert_clean(&acct, "b.yaml");
}

/// A TTL-only change shows its TTLs in the Markdown plan (the pull-request summary), not an
/// "update" whose two sides read the same.
#[tokio::test]
async fn a_ttl_change_shows_in_the_markdown_plan() {
    let acct = Account::new();
    acct.create_zone("example.com").await;
    acct.create_zone("example.org").await;
    acct.write("b.yaml", THREE_DOMAINS);
    apply(&acct, "b.yaml");
    acct.write(
        "b.yaml",
        &THREE_DOMAINS.replace(
            "  - domain: example.org\n",
            "  - domain: example.org\n    ttl: 3600\n",
        ),
    );
    let md = acct.mailinfra(&["plan", "b.yaml", "--format", "markdown"]);
    assert_eq!(md.code, 0, "{}", md.stderr);
    let row = md
        .stdout
        .lines()
        .find(|l| l.contains("`dns._dmarc.example.org.TXT`"))
        .unwrap_or_else(|| panic!("{}", md.stdout));
    assert!(
        row.contains(
            "| TTL 300<br>`\"v=DMARC1; p=reject\"` | TTL 3600<br>`\"v=DMARC1; p=reject\"` |"
        ),
        "{row}"
    );
}
