//! `mailinfra policy` and the operation table it is built from: the actions in the policy are
//! exactly the operations the code calls (tests scan the sources), and nothing else.

use std::collections::BTreeSet;
use std::path::Path;

use mailinfra::aws::ops::{self, Access, Need, Target};
use mailinfra::policy::{self, Phase};

fn sources() -> Vec<(String, String)> {
    fn walk(dir: &Path, out: &mut Vec<(String, String)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push((
                    path.display().to_string(),
                    std::fs::read_to_string(&path).unwrap(),
                ));
            }
        }
    }
    let mut out = Vec::new();
    walk(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut out);
    out
}

fn const_name(op: &ops::Op) -> String {
    let mut s = String::new();
    for (i, c) in op.name.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            s.push('_');
        }
        s.push(c.to_ascii_uppercase());
    }
    s
}

#[test]
fn every_sdk_call_names_its_table_entry_and_every_entry_is_called() {
    let mut used = BTreeSet::new();
    for (path, text) in sources() {
        if path.ends_with("aws/ops.rs") {
            continue;
        }
        let sends = text.matches(".send()").count();
        let calls = text.matches("AwsError::call(&ops::").count();
        assert_eq!(
            sends, calls,
            "{path}: every SDK call maps its error through AwsError::call(&ops::…)"
        );
        assert!(
            !text.contains("AwsError::call(\""),
            "{path}: name the operation by its table entry"
        );
        for op in ops::ALL {
            if text.contains(&format!("ops::{}", const_name(op))) {
                used.insert(op.name);
            }
        }
    }
    let table: BTreeSet<&str> = ops::ALL.iter().map(|o| o.name).collect();
    assert_eq!(
        used, table,
        "operations in the table but never called, or called but not in the table"
    );
}

const EVERYTHING: &str = r#"
blueprint: all
region: eu-west-1
gateway: { hostname: mail.example.com, relay_from: [10.0.0.0/16] }
domains:
  - domain: example.net
    send_via: [gateway]
  - domain: example.com
    spf: { include: [_spf.google.com] }
    dmarc: { policy: none }
  - domain: example.org
    send_via: [ses]
    ses: { mail_from: bounce.example.org, configuration_set: tx }
ses:
  suppression: [bounce]
  configuration_sets: [{ name: tx }]
  production_access:
    mail_type: transactional
    website_url: https://example.org
    use_case: Receipts to customers who created an account on the site.
"#;

fn desired(yaml: &str) -> mailinfra::plan::desired::Desired {
    let bp = mailinfra::blueprint::load("b.yaml", yaml, Path::new(".")).unwrap();
    mailinfra::plan::desired::from_blueprint(&bp)
}

fn actions(doc: &serde_json::Value) -> BTreeSet<String> {
    doc["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| {
            s["Action"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap().to_owned())
        })
        .collect()
}

#[test]
fn a_blueprint_using_everything_needs_exactly_the_table() {
    let d = desired(EVERYTHING);
    let needing_permission = || ops::ALL.iter().filter(|o| o.target != Target::Free);
    let mut apply: BTreeSet<String> = needing_permission().map(|o| o.action()).collect();
    // Launching with an instance profile passes its role: a permission without an API call.
    apply.insert("iam:PassRole".into());
    let plan: BTreeSet<String> = needing_permission()
        // The run lock is read only by apply and destroy (the plan role may not take it).
        .filter(|o| o.access == Access::Read && o.need != Need::Lock)
        .map(|o| o.action())
        .collect();
    assert_eq!(actions(&policy::build(&d, Phase::Apply)), apply);
    assert_eq!(actions(&policy::build(&d, Phase::Plan)), plan);
}

/// The statement of a policy document with this `Sid`.
fn statement(doc: &serde_json::Value, sid: &str) -> serde_json::Value {
    doc["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["Sid"] == sid)
        .unwrap_or_else(|| panic!("no statement {sid}"))
        .clone()
}

#[test]
fn the_gateway_role_is_passed_only_to_ec2_and_changes_need_the_blueprints_tag() {
    let doc = policy::build(&desired(EVERYTHING), Phase::Apply);
    let by_sid = |sid: &str| statement(&doc, sid);
    assert_eq!(
        by_sid("PassGatewayRole")["Resource"],
        serde_json::json!(["arn:aws:iam::*:role/mailinfra-all-gateway"])
    );
    assert_eq!(
        by_sid("PassGatewayRole")["Condition"]["StringEquals"]["iam:PassedToService"],
        "ec2.amazonaws.com"
    );
    let tagged = by_sid("ChangeOwnGatewayResources");
    assert!(
        tagged["Action"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("ec2:TerminateInstances"))
    );
    assert_eq!(
        tagged["Condition"]["StringEquals"]["aws:ResourceTag/mailinfra:blueprint"],
        "all"
    );
    assert_eq!(
        by_sid("WriteGatewayDkimKey")["Resource"],
        serde_json::json!([
            "arn:aws:ssm:eu-west-1:*:parameter/mailinfra/all/dkim/mailinfra/private",
            "arn:aws:ssm:eu-west-1:*:parameter/mailinfra/all/dkim/mailinfra/public"
        ])
    );
}

/// Issue 12: the plan role could read `parameter/mailinfra/<blueprint>/*`, the DKIM private
/// key included (under the default `aws/ssm` key, GetParameter decrypts). Only the public
/// half is ever read, so neither role may read anything else of the key.
#[test]
fn no_role_may_read_the_private_key() {
    for phase in [Phase::Plan, Phase::Apply] {
        let doc = policy::build(&desired(EVERYTHING), phase);
        for s in doc["Statement"].as_array().unwrap() {
            let actions = s["Action"].as_array().unwrap();
            let reads = actions
                .iter()
                .any(|a| a.as_str().unwrap().starts_with("ssm:GetParameter"));
            if !reads {
                continue;
            }
            for r in s["Resource"].as_array().unwrap() {
                let r = r.as_str().unwrap();
                let ours = r.contains(":parameter/mailinfra/") && !r.contains("/lock");
                assert!(
                    !ours || r.ends_with("/public"),
                    "{phase:?}: {} may read {r}",
                    s["Sid"]
                );
            }
        }
        assert_eq!(
            statement(&doc, "ReadGatewayPublicKey")["Resource"],
            serde_json::json!([
                "arn:aws:ssm:eu-west-1:*:parameter/mailinfra/all/dkim/mailinfra/public"
            ]),
            "{phase:?}"
        );
    }
}

#[test]
fn a_dns_only_blueprint_gets_no_ses_and_writes_only_its_names() {
    let d = desired(
        "blueprint: dns\ndomains:\n  - domain: example.com\n    dmarc: { policy: none }\n  - domain: shop.example.com\n    zone: example.com\n    dmarc: { policy: none }\n",
    );
    let doc = policy::build(&d, Phase::Apply);
    assert!(
        actions(&doc).iter().all(|a| a.starts_with("route53:")),
        "{doc:#}"
    );
    let change = doc["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["Sid"] == "ChangeBlueprintRecords")
        .unwrap();
    assert_eq!(
        change["Condition"]["ForAllValues:StringLike"]["route53:ChangeResourceRecordSetsNormalizedRecordNames"],
        serde_json::json!(["*.example.com", "example.com"])
    );
    assert_eq!(doc["Version"], "2012-10-17");
}

#[test]
fn ses_writes_name_the_blueprints_resources_and_deletes_need_its_tag() {
    let doc = policy::build(&desired(EVERYTHING), Phase::Apply);
    let by_sid = |sid: &str| statement(&doc, sid);
    assert_eq!(
        by_sid("WriteBlueprintSes")["Resource"],
        serde_json::json!([
            "arn:aws:ses:eu-west-1:*:identity/example.org",
            "arn:aws:ses:eu-west-1:*:configuration-set/tx"
        ])
    );
    assert_eq!(
        by_sid("DeleteOwnResources")["Condition"]["StringEquals"]["aws:ResourceTag/mailinfra:blueprint"],
        "all"
    );
}

#[test]
fn the_policy_command_is_offline_json() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("b.yaml"), EVERYTHING).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mailinfra"))
        .args(["policy", "b.yaml", "--for", "plan"])
        .current_dir(dir.path())
        .env_clear()
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(actions(&doc).contains("route53:ListHostedZones"));
    assert!(!actions(&doc).contains("route53:ChangeResourceRecordSets"));
}
