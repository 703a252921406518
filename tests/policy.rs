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
    // EVERYTHING's gateway delivers directly: making an SES SMTP user is `relay_via: ses`'s
    // alone (below).
    let needing_permission = || {
        ops::ALL
            .iter()
            .filter(|o| o.target != Target::Free && o.need != Need::SesRelay)
    };
    let mut bootstrap: BTreeSet<String> = needing_permission().map(|o| o.action()).collect();
    // Permissions AWS checks without an API call of their own: passing the gateway's role
    // at launch, tag-on-create (ec2:CreateTags, iam:TagRole).
    bootstrap.extend(
        ops::IMPLIED
            .iter()
            .filter(|i| i.op.need != Need::SesRelay)
            .map(|i| i.op.action()),
    );
    let relay = actions(&policy::build(&desired(SES_RELAY), Phase::Apply));
    for op in ops::ALL
        .iter()
        .copied()
        .chain(ops::IMPLIED.iter().map(|i| &i.op))
        .filter(|o| o.need == Need::SesRelay)
    {
        assert!(relay.contains(&op.action()), "{}", op.action());
    }
    assert!(bootstrap.contains("ec2:CreateTags") && bootstrap.contains("iam:TagRole"));
    // Changing the gateway's permissions boundary is the bootstrap role's alone.
    // (An action the apply role also needs for another operation stays, e.g. ssm:GetParameter.)
    let apply: BTreeSet<String> = bootstrap
        .iter()
        .filter(|a| {
            ops::ALL
                .iter()
                .copied()
                .chain(ops::IMPLIED.iter().map(|i| &i.op))
                .any(|o| o.need != Need::Bootstrap && o.action() == **a)
        })
        .cloned()
        .collect();
    assert!(!apply.contains("iam:CreatePolicyVersion") && apply.contains("iam:CreatePolicy"));
    let plan: BTreeSet<String> = needing_permission()
        // The run lock is read only by apply and destroy (the plan role may not take it).
        .filter(|o| o.access == Access::Read && o.need != Need::Lock && o.need != Need::Bootstrap)
        .map(|o| o.action())
        .collect();
    assert_eq!(actions(&policy::build(&d, Phase::Bootstrap)), bootstrap);
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
        by_sid("WriteGatewaySecrets")["Resource"],
        serde_json::json!([
            "arn:aws:ssm:eu-west-1:*:parameter/mailinfra/all/dkim/*/private",
            "arn:aws:ssm:eu-west-1:*:parameter/mailinfra/all/dkim/*/public",
            "arn:aws:ssm:eu-west-1:*:parameter/mailinfra/all/ses-smtp/credentials"
        ])
    );
    // Direct delivery may read and delete an SES SMTP user left from `relay_via: ses`, never
    // create one or give it a policy.
    let role = by_sid("GatewayRole");
    assert!(
        role["Resource"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!(
                "arn:aws:iam::*:user/mailinfra-all-ses-smtp"
            ))
    );
    let text = doc.to_string();
    for absent in ["iam:CreateUser", "iam:PutUserPolicy", "iam:CreateAccessKey"] {
        assert!(!text.contains(absent), "{absent}");
    }
}

/// Relaying through SES, the apply role creates the SMTP user only with the gateway's
/// boundary and the blueprint's tags, and changes its policy only under that boundary.
#[test]
fn the_ses_smtp_user_is_made_only_under_the_gateways_boundary() {
    let doc = policy::build(&desired(SES_RELAY), Phase::Apply);
    let by_sid = |sid: &str| statement(&doc, sid);
    let user = serde_json::json!("arn:aws:iam::*:user/mailinfra-relay-ses-smtp");
    let create = by_sid("CreateGatewayRole");
    assert!(
        create["Action"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("iam:CreateUser"))
    );
    assert!(create["Resource"].as_array().unwrap().contains(&user));
    assert_eq!(
        create["Condition"]["ArnLike"]["iam:PermissionsBoundary"],
        "arn:aws:iam::*:policy/mailinfra-relay-gateway-boundary"
    );
    let bounded = by_sid("ChangeBoundedGatewayRole");
    assert!(
        bounded["Action"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("iam:PutUserPolicy"))
    );
    assert!(bounded["Resource"].as_array().unwrap().contains(&user));
    let keys = by_sid("GatewayRole");
    assert!(
        keys["Action"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("iam:CreateAccessKey"))
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
                    !ours || r.ends_with("/public") || r.ends_with("/gateway/health"),
                    "{phase:?}: {} may read {r}",
                    s["Sid"]
                );
            }
        }
        assert_eq!(
            statement(&doc, "ReadGatewayPublicKey")["Resource"],
            serde_json::json!(["arn:aws:ssm:eu-west-1:*:parameter/mailinfra/all/dkim/*/public"]),
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
    // DMARC records and the ownership markers are TXT; mailinfra never sends UPSERT.
    let only = &change["Condition"]["ForAllValues:StringEquals"];
    assert_eq!(
        only["route53:ChangeResourceRecordSetsRecordTypes"],
        serde_json::json!(["TXT"])
    );
    assert_eq!(
        only["route53:ChangeResourceRecordSetsActions"],
        serde_json::json!(["CREATE", "DELETE"])
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

#[test]
fn record_changes_are_limited_to_the_types_the_blueprint_writes() {
    let doc = policy::build(&desired(EVERYTHING), Phase::Apply);
    let change = statement(&doc, "ChangeBlueprintRecords");
    // The gateway's A record, MX for the gateway and MAIL FROM domains, SES's DKIM CNAMEs,
    // and TXT (SPF, DMARC, DKIM keys, markers): never NS, AAAA or any other type.
    assert_eq!(
        change["Condition"]["ForAllValues:StringEquals"]["route53:ChangeResourceRecordSetsRecordTypes"],
        serde_json::json!(["A", "CNAME", "MX", "TXT"])
    );
}

#[test]
fn the_gateway_launches_only_with_its_profile_imdsv2_its_tag_and_debians_image() {
    let doc = policy::build(&desired(EVERYTHING), Phase::Apply);
    let by_sid = |sid: &str| statement(&doc, sid);
    let instance = by_sid("LaunchGatewayInstance");
    assert_eq!(instance["Action"], serde_json::json!(["ec2:RunInstances"]));
    assert_eq!(
        instance["Resource"],
        serde_json::json!(["arn:aws:ec2:eu-west-1:*:instance/*"])
    );
    assert_eq!(
        instance["Condition"]["ArnLike"]["ec2:InstanceProfile"],
        "arn:aws:iam::*:instance-profile/mailinfra-all-gateway"
    );
    assert_eq!(
        instance["Condition"]["StringEquals"]["ec2:MetadataHttpTokens"],
        "required"
    );
    assert_eq!(
        instance["Condition"]["StringEquals"]["aws:RequestTag/mailinfra:blueprint"],
        "all"
    );
    assert_eq!(
        by_sid("LaunchFromImage")["Condition"]["StringEquals"]["ec2:Owner"],
        "136693071363"
    );
    assert_eq!(
        by_sid("InOwnSecurityGroup")["Condition"]["StringEquals"]["aws:ResourceTag/mailinfra:blueprint"],
        "all"
    );
    // The network interface: created only with the blueprint's tag, launched on only when
    // it carries it.
    let create = by_sid("CreateGatewayNetworkInterface");
    assert_eq!(
        create["Action"],
        serde_json::json!(["ec2:CreateNetworkInterface"])
    );
    assert_eq!(
        create["Condition"]["StringEquals"]["aws:RequestTag/mailinfra:blueprint"],
        "all"
    );
    let on = by_sid("LaunchOnOwnNetworkInterface");
    assert_eq!(on["Action"], serde_json::json!(["ec2:RunInstances"]));
    assert_eq!(
        on["Resource"],
        serde_json::json!(["arn:aws:ec2:eu-west-1:*:network-interface/*"])
    );
    assert_eq!(
        on["Condition"]["StringEquals"]["aws:ResourceTag/mailinfra:blueprint"],
        "all"
    );
    // No statement lets RunInstances create an instance without those conditions.
    for s in doc["Statement"].as_array().unwrap() {
        let runs = s["Action"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("ec2:RunInstances"));
        let instances = s["Resource"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r == "*" || r.as_str().unwrap().contains(":instance/"));
        assert!(
            !runs || !instances || s["Sid"] == "LaunchGatewayInstance",
            "{s:#}"
        );
    }
    // A pinned image is the only image.
    let pinned = desired(&EVERYTHING.replace(
        "hostname: mail.example.com,",
        "hostname: mail.example.com, image: ami-0123456789abcdef0,",
    ));
    let doc = policy::build(&pinned, Phase::Apply);
    assert_eq!(
        statement(&doc, "LaunchFromImage")["Resource"],
        serde_json::json!(["arn:aws:ec2:eu-west-1::image/ami-0123456789abcdef0"])
    );
}

#[test]
fn tags_are_allowed_only_at_creation_and_the_role_only_with_mailinfras_tags() {
    let doc = policy::build(&desired(EVERYTHING), Phase::Apply);
    let tag = statement(&doc, "TagOnCreate");
    assert_eq!(tag["Action"], serde_json::json!(["ec2:CreateTags"]));
    assert_eq!(
        tag["Condition"]["StringEquals"]["ec2:CreateAction"],
        serde_json::json!([
            "RunInstances",
            "CreateSecurityGroup",
            "AllocateAddress",
            "CreateNetworkInterface"
        ])
    );
    assert_eq!(
        tag["Condition"]["StringEquals"]["aws:RequestTag/mailinfra:blueprint"],
        "all"
    );
    let role = statement(&doc, "CreateGatewayRole");
    assert_eq!(role["Action"], serde_json::json!(["iam:CreateRole"]));
    assert_eq!(
        role["Condition"]["ForAllValues:StringEquals"]["aws:TagKeys"],
        serde_json::json!(["mailinfra:blueprint", "mailinfra:address"])
    );
    // No role without the gateway's permissions boundary; its policy and boundary change
    // only while the boundary is the gateway's; the boundary is never removed, and changed
    // only by the bootstrap role.
    let boundary = "arn:aws:iam::*:policy/mailinfra-all-gateway-boundary";
    assert_eq!(
        role["Condition"]["ArnLike"]["iam:PermissionsBoundary"],
        boundary
    );
    let tag_role = statement(&doc, "TagGatewayRoleAtCreation");
    assert_eq!(tag_role["Action"], serde_json::json!(["iam:TagRole"]));
    let bounded = statement(&doc, "ChangeBoundedGatewayRole");
    assert_eq!(
        bounded["Action"],
        serde_json::json!([
            "iam:DeleteRolePolicy",
            "iam:PutRolePermissionsBoundary",
            "iam:PutRolePolicy"
        ])
    );
    assert_eq!(
        bounded["Condition"]["ArnLike"]["iam:PermissionsBoundary"],
        boundary
    );
    let text = doc.to_string();
    assert!(
        !text.contains("DeleteRolePermissionsBoundary") && !text.contains("CreatePolicyVersion")
    );
    let bootstrap = policy::build(&desired(EVERYTHING), Phase::Bootstrap);
    assert_eq!(
        statement(&bootstrap, "GatewayBoundary")["Action"],
        serde_json::json!([
            "iam:CreatePolicy",
            "iam:CreatePolicyVersion",
            "iam:DeletePolicyVersion",
            "iam:GetPolicy",
            "iam:GetPolicyVersion",
            "iam:ListPolicyVersions"
        ])
    );
    for sid in ["CreateGatewaySecurityGroup", "AllocateGatewayAddress"] {
        assert_eq!(
            statement(&doc, sid)["Condition"]["StringEquals"]["aws:RequestTag/mailinfra:blueprint"],
            "all",
            "{sid}"
        );
    }
}

/// A blueprint of `n` domains, each its own zone, sending through SES.
fn domains(n: usize) -> String {
    let mut y = String::from("blueprint: big\nregion: eu-west-1\ndomains:\n");
    for i in 0..n {
        y.push_str(&format!(
            "  - domain: d{i}.initech-mail.com\n    send_via: [ses]\n    dmarc: {{ policy: none }}\n"
        ));
    }
    y
}

/// Every (action, resource, condition, record name) a set of documents grants.
fn grants(docs: &[serde_json::Value]) -> BTreeSet<String> {
    const NAMES: &str = "route53:ChangeResourceRecordSetsNormalizedRecordNames";
    let mut out = BTreeSet::new();
    for doc in docs {
        for s in doc["Statement"].as_array().unwrap() {
            let mut condition = s["Condition"].clone();
            let names: Vec<String> = match condition
                .get_mut("ForAllValues:StringLike")
                .and_then(|c| c.as_object_mut())
                .and_then(|c| c.remove(NAMES))
            {
                Some(n) => n
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_str().unwrap().to_owned())
                    .collect(),
                None => vec![String::new()],
            };
            for a in s["Action"].as_array().unwrap() {
                for r in s["Resource"].as_array().unwrap() {
                    for n in &names {
                        out.insert(format!("{a} {r} {condition} {n}"));
                    }
                }
            }
        }
    }
    out
}

#[test]
fn a_policy_over_iams_size_limit_is_cut_into_documents_granting_the_same() {
    let mut sizes = Vec::new();
    for n in [1, 10, 120, 500] {
        let d = desired(&domains(n));
        let whole = policy::build(&d, Phase::Apply);
        let docs = policy::documents(&d, Phase::Apply);
        sizes.push((n, policy::size(&whole), docs.len()));
        for doc in &docs {
            assert!(
                policy::size(doc) <= policy::MAX_POLICY_CHARS,
                "{n} domains: a document of {} characters",
                policy::size(doc)
            );
            let sids: Vec<&str> = doc["Statement"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["Sid"].as_str().unwrap())
                .collect();
            let unique: BTreeSet<&str> = sids.iter().copied().collect();
            assert_eq!(sids.len(), unique.len(), "Sids are unique in a document");
        }
        assert_eq!(
            grants(&docs),
            grants(std::slice::from_ref(&whole)),
            "{n} domains"
        );
        if policy::size(&whole) <= policy::MAX_POLICY_CHARS {
            assert_eq!(docs, vec![whole], "a policy that fits stays one document");
        }
    }
    eprintln!("(domains, characters of the whole policy, documents): {sizes:?}");
    assert_eq!(sizes[0].2, 1);
    assert!(
        sizes[3].1 > policy::MAX_POLICY_CHARS && sizes[3].2 > 1,
        "{sizes:?}"
    );
}

#[test]
fn hundreds_of_domains_in_one_zone_become_that_zone() {
    // One change batch may hold names of every domain in a zone, so their names cannot be
    // cut apart; too many for one statement, they become the zone and all below it.
    let mut y = String::from("blueprint: sub\ndomains:\n");
    for i in 0..300 {
        y.push_str(&format!(
            "  - domain: d{i}.example.com\n    zone: example.com\n    dmarc: {{ policy: none }}\n"
        ));
    }
    let docs = policy::documents(&desired(&y), Phase::Apply);
    assert_eq!(docs.len(), 1);
    assert_eq!(
        statement(&docs[0], "ChangeBlueprintRecords")["Condition"]["ForAllValues:StringLike"]["route53:ChangeResourceRecordSetsNormalizedRecordNames"],
        serde_json::json!(["*.example.com", "example.com"])
    );
}

#[test]
fn the_policy_command_prints_one_document_or_writes_several() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("b.yaml"), domains(500)).unwrap();
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("blueprints/example.yaml");
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_mailinfra"))
            .args(args)
            .current_dir(dir.path())
            .env_clear()
            .output()
            .unwrap()
    };
    // Too large for one document of any kind: nothing on stdout, the way named.
    let out = run(&["policy", "b.yaml", "--for", "apply"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("pass --out-dir DIR"), "{stderr}");

    // Over the managed limit, within the inline one: one document, and how to attach it.
    std::fs::write(dir.path().join("g.yaml"), GATEWAY).unwrap();
    let out = run(&["policy", "g.yaml", "--for", "apply"]);
    assert_eq!(out.status.code(), Some(0));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(policy::size(&doc) > 6144, "{}", policy::size(&doc));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("inline policy"), "{stderr}");
    // The example (gateway and SES together) is over the inline limit too: managed policies.
    let out = run(&["policy", example.to_str().unwrap(), "--for", "apply"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("pass --out-dir DIR"));

    let docs = policy::documents(&desired(&domains(500)), Phase::Apply);
    assert!(docs.len() > 1);
    let out = run(&["policy", "b.yaml", "--out-dir", "p"]);
    assert_eq!(out.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("the policy is {} documents", docs.len())),
        "{stderr}"
    );
    for (i, doc) in docs.iter().enumerate() {
        let text =
            std::fs::read_to_string(dir.path().join(format!("p/policy-{}.json", i + 1))).unwrap();
        assert_eq!(
            &serde_json::from_str::<serde_json::Value>(&text).unwrap(),
            doc
        );
    }
    assert!(
        !dir.path()
            .join(format!("p/policy-{}.json", docs.len() + 1))
            .exists()
    );
}

const RECORDS_ONLY: &str = "blueprint: dns\ndomains:\n  - domain: example.com\n    spf: { include: [_spf.google.com] }\n    dmarc: { policy: none }\n";
const SES: &str = "blueprint: mail\nregion: eu-west-1\ndomains:\n  - domain: example.org\n    send_via: [ses]\n    ses: { mail_from: bounce.example.org }\n    dmarc: { policy: none }\n";
const GATEWAY: &str = "blueprint: relay\nregion: eu-west-1\ngateway: { hostname: mail.example.net, relay_from: [10.0.0.0/16] }\ndomains:\n  - domain: example.net\n    send_via: [gateway]\n";
const SES_RELAY: &str = "blueprint: relay\nregion: eu-west-1\ngateway: { hostname: mail.example.net, relay_from: [10.0.0.0/16], relay_via: ses }\ndomains:\n  - domain: example.net\n    send_via: [ses, gateway]\n";

/// parliament findings that are wrong, or known and tracked elsewhere: (issue, text the
/// finding contains, why it is allowed). A RESOURCE_MISMATCH finding lists one entry per
/// action; each entry must be allowed.
const ALLOWED_FINDINGS: &[(&str, &str, &str)] = &[
    (
        "PRIVILEGE_ESCALATION",
        "'type': 'CreateEC2WithExistingIP', 'actions': ['iam:passrole', 'ec2:runinstances']",
        "parliament reads no conditions: only the gateway's role is passed, only to EC2, and that role cannot exceed its permissions boundary (read its DKIM keys), which the apply role may neither remove nor change (ci_roles.rs)",
    ),
    (
        "PRIVILEGE_ESCALATION",
        "'type': 'CreateNewPolicyVersion', 'actions': ['iam:createpolicyversion']",
        "the bootstrap role is an administrator's: it may change the gateway's boundary policy, and nothing else of IAM's policies",
    ),
    (
        "PERMISSIONS_MANAGEMENT_ACTIONS",
        "'iam:addroletoinstanceprofile', 'iam:createinstanceprofile', 'iam:createpolicy', 'iam:createrole', 'iam:deleteinstanceprofile', 'iam:deleterole', 'iam:deleterolepolicy', 'iam:passrole', 'iam:putrolepermissionsboundary', 'iam:putrolepolicy', 'iam:removerolefrominstanceprofile'",
        "the apply role manages the gateway's role, always under the gateway's permissions boundary (iam:PermissionsBoundary conditions parliament does not read)",
    ),
    (
        "PERMISSIONS_MANAGEMENT_ACTIONS",
        "'iam:addroletoinstanceprofile', 'iam:createinstanceprofile', 'iam:createpolicy', 'iam:createpolicyversion', 'iam:createrole', 'iam:deleteinstanceprofile', 'iam:deletepolicyversion', 'iam:deleterole', 'iam:deleterolepolicy', 'iam:passrole', 'iam:putrolepermissionsboundary', 'iam:putrolepolicy', 'iam:removerolefrominstanceprofile'",
        "the bootstrap role also changes the boundary policy itself",
    ),
    (
        "RESOURCE_MISMATCH",
        "'action': 'route53:ChangeTagsForResource', 'required_format': 'arn:*:route53:::healthcheck/*'",
        "parliament wants a health check ARN; the SAR lists hostedzone for this action too, and zones are what mailinfra tags",
    ),
    (
        "RESOURCE_MISMATCH",
        "'action': 'ses:CreateEmailIdentity', 'required_format': '*'",
        "SES v1 and v2 share the `ses` prefix: v1's CreateEmailIdentity takes `*`, v2's (the one mailinfra calls) an identity ARN (SAR)",
    ),
    (
        "RESOURCE_MISMATCH",
        "'action': 'ses:CreateConfigurationSet', 'required_format': '*'",
        "SES v1 and v2 share the `ses` prefix: v1's CreateConfigurationSet takes `*`, v2's a configuration-set ARN (SAR)",
    ),
    (
        "RESOURCE_MISMATCH",
        "'action': 'ssm:GetParameter', 'required_format': 'arn:*:ssm:*:*:parameter/*'",
        "AWS's public parameters (`arn:aws:ssm:<region>::parameter/aws/service/…`) have an empty account field",
    ),
    (
        "RESOURCE_MISMATCH",
        "'action': 'ec2:RunInstances', 'required_format': ",
        "RunInstances authorizes each resource type on its own; one statement per type keeps each type's conditions to it (as the EC2 User Guide's tag-on-create examples do), where parliament wants every required type in each statement",
    ),
    (
        "UNKNOWN_CONDITION_FOR_ACTION",
        "Unknown condition kms:ResourceAliases for action kms:",
        "kms:ResourceAliases is a condition key of the `key` resource type (SAR, AWS Key Management Service: key: aws:ResourceTag/${TagKey}, kms:ResourceAliases, ...), which every action on a key takes; parliament reads only the keys listed beside the action",
    ),
    (
        "RESOURCE_MISMATCH",
        "'action': 'kms:CreateAlias', 'required_format': ",
        "CreateAlias is authorized on the alias and on the key each on its own (AWS KMS Developer Guide, \"Controlling access to aliases\"); one statement per resource keeps the tag condition to the key",
    ),
    (
        "PERMISSIONS_MANAGEMENT_ACTIONS",
        "'iam:createpolicyversion', 'iam:deletepolicyversion', 'kms:createkey', 'kms:putkeypolicy'",
        "one document of a bootstrap policy cut to IAM's size limit: the boundary and KMS key policy changes, as above",
    ),
    (
        "PERMISSIONS_MANAGEMENT_ACTIONS",
        "'iam:createaccesskey', 'iam:createuser', 'iam:deleteaccesskey', 'iam:deleteuser', 'iam:deleteuserpolicy', 'iam:putuserpermissionsboundary', 'iam:putuserpolicy'",
        "the SES SMTP user of `relay_via: ses` (one user, by name), created and changed only under the gateway's permissions boundary (iam:PermissionsBoundary conditions parliament does not read); direct delivery may only read and delete it",
    ),
    (
        "CREDENTIALS_EXPOSURE",
        "'actions': ['iam:createaccesskey']",
        "the SES SMTP credential is an access key of the blueprint's own SMTP user, whose boundary allows nothing but sending through SES and reading its own parameters; apply derives the SMTP password and stores it where only the gateway's role can decrypt it, never printing it",
    ),
    (
        "PRIVILEGE_ESCALATION",
        "'type': 'CreateAccessKey', 'actions': ['iam:createaccesskey']",
        "only on the SES SMTP user (one ARN), whose permissions boundary the apply role may neither remove nor change: its keys can send through SES, nothing more",
    ),
    (
        "PRIVILEGE_ESCALATION",
        "'type': 'PutUserPolicy', 'actions': ['iam:putuserpolicy']",
        "only on the SES SMTP user, and only while its boundary is the gateway's (iam:PermissionsBoundary): whatever the policy says, the user can do no more than the boundary",
    ),
    (
        "PERMISSIONS_MANAGEMENT_ACTIONS",
        "'iam:passrole'",
        "apply-after-bootstrap passes the gateway's role, made by an administrator, only to EC2 and writes nothing of IAM",
    ),
    (
        "PERMISSIONS_MANAGEMENT_ACTIONS",
        "'kms:createkey'",
        "the apply role creates the gateway's DKIM KMS key, only with the blueprint's tags, for encryption, and never skipping KMS's lockout check; it may not change a key policy afterwards",
    ),
    (
        "PERMISSIONS_MANAGEMENT_ACTIONS",
        "'kms:createkey', 'kms:putkeypolicy'",
        "the bootstrap role also sets the gateway's KMS key policy back, on the key the blueprint's alias names only",
    ),
    (
        "RESOURCE_MISMATCH",
        "'action': 'ec2:CreateSecurityGroup', 'required_format': 'arn:*:ec2:*:*:security-group/*'",
        "the statement for the VPC (no request tag there); the security-group statement carries the tag condition; each resource is authorized on its own",
    ),
    (
        "RESOURCE_MISMATCH",
        "'action': 'ec2:CreateNetworkInterface', 'required_format': ",
        "CreateNetworkInterface authorizes the new interface (request tag), the user's subnet (open) and the gateway's security group (resource tag) each on its own: one statement per type keeps each type's condition to it",
    ),
];

/// Whether a parliament finding is in `ALLOWED_FINDINGS`. A permissions-management finding
/// lists actions (per document, so a policy cut into documents splits the list): each action
/// must be one an allowed entry names.
fn allowed(issue: &str, text: &str) -> bool {
    let entries: Vec<String> = match issue {
        "RESOURCE_MISMATCH" => text.split("}, {").map(str::to_owned).collect(),
        "PERMISSIONS_MANAGEMENT_ACTIONS" => {
            let list = text.split_once('[').and_then(|(_, l)| l.split_once(']'));
            list.map_or(vec![], |(l, _)| l.split(", ").map(str::to_owned).collect())
        }
        _ => vec![text.to_owned()],
    };
    entries.iter().all(|entry| {
        ALLOWED_FINDINGS.iter().any(|(i, about, _)| {
            *i == issue
                && if issue == "PERMISSIONS_MANAGEMENT_ACTIONS" {
                    about.split(", ").any(|a| a == entry)
                } else {
                    entry.contains(about)
                }
        })
    })
}

/// Runs parliament (with its community auditors) on every generated policy and fails on any
/// finding not in `ALLOWED_FINDINGS`. parliament's data is the Service Authorization
/// Reference, so this also catches an action, resource or condition key that does not go
/// together.
#[test]
fn parliament_finds_nothing_but_documented_false_positives() {
    let python = std::env::var("MAILINFRA_TEST_PYTHON")
        .expect("MAILINFRA_TEST_PYTHON is not set: run scripts/test, which installs parliament");
    let mut policies = Vec::new();
    for (name, yaml) in [
        ("records-only", RECORDS_ONLY),
        ("ses", SES),
        ("gateway", GATEWAY),
        ("ses-relay", SES_RELAY),
        ("everything", EVERYTHING),
    ] {
        for phase in [
            Phase::Plan,
            Phase::Apply,
            Phase::Bootstrap,
            Phase::ApplyAfterBootstrap,
        ] {
            for doc in policy::documents(&desired(yaml), phase) {
                policies.push(serde_json::json!([format!("{name} {phase:?}"), doc]));
            }
        }
    }
    let script = r#"
import json, sys
from parliament import analyze_policy_string
for label, doc in json.load(sys.stdin):
    p = analyze_policy_string(json.dumps(doc), include_community_auditors=True)
    for f in p.findings:
        print(json.dumps({"policy": label, "issue": f.issue, "detail": str(f.detail), "location": str(f.location)}))
"#;
    let mut child = std::process::Command::new(python)
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin
            .write_all(serde_json::Value::Array(policies).to_string().as_bytes())
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "parliament failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let findings: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter(|line| {
            let f: serde_json::Value = serde_json::from_str(line).unwrap();
            let text = format!("{} {}", f["detail"], f["location"]);
            !allowed(f["issue"].as_str().unwrap(), &text)
        })
        .map(str::to_owned)
        .collect();
    assert!(findings.is_empty(), "parliament:\n{}", findings.join("\n"));
}

/// Issue 15: the SES SMTP user's policy (`ses:SendRawEmail` on the identities and sets, with
/// `ses:FromAddress`) and the gateway role's policy in `relay_via: ses` mode pass parliament
/// (the Service Authorization Reference: the action, its resource types and condition key go
/// together) with no finding at all.
#[test]
fn the_ses_smtp_policies_pass_parliament() {
    let python = std::env::var("MAILINFRA_TEST_PYTHON")
        .expect("MAILINFRA_TEST_PYTHON is not set: run scripts/test, which installs parliament");
    let policies = serde_json::json!([
        mailinfra::mail::ses_smtp::user_policy(
            "eu-west-1",
            &["example.com".into(), "example.net".into()],
            "mail.example.com",
            &["tx".into()],
        ),
        mailinfra::mail::gateway::role_policy_ses("eu-west-1", "acme"),
        // A known-bad policy, so that a parliament that finds nothing cannot pass this test.
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ses:SendRawEmail","Resource":"arn:aws:ses:eu-west-1:*:identity/example.com","Condition":{"StringLike":{"ses:NoSuchKey":"x"}}}]}"#,
    ]);
    let script = r#"
import json, sys
from parliament import analyze_policy_string
for i, doc in enumerate(json.load(sys.stdin)):
    p = analyze_policy_string(doc, include_community_auditors=True)
    print(json.dumps([[f.issue, str(f.detail) + " " + str(f.location)] for f in p.findings]))
"#;
    let mut child = std::process::Command::new(python)
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(policies.to_string().as_bytes()).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "parliament failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let findings: Vec<Vec<(String, String)>> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(findings.len(), 3);
    assert_eq!(findings[0], Vec::new(), "user policy");
    // The role decrypts its credentials as the direct mode's role decrypts its key: the one
    // documented false positive (kms:ResourceAliases, a condition key of the key resource).
    assert!(
        findings[1].iter().all(|(issue, text)| allowed(issue, text)),
        "role policy: {:?}",
        findings[1]
    );
    assert!(
        !findings[2].is_empty(),
        "the bad policy passed: {findings:?}"
    );
}
