//! The benchmark: plan and apply against the local emulator for 1, 10 and 100 domains, with
//! wall time and AWS requests by operation next to the lower bound. Run with `scripts/bench`.
//! It measures; it asserts nothing (tests check behaviour).

#[path = "../tests/common/mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader};
use std::time::Instant;

use common::Account;

/// One blueprint with `n` domains in one zone, each with SPF and DMARC: 2 records and 2
/// ownership records per domain.
fn blueprint(n: usize) -> String {
    let mut s = String::from("blueprint: bench\ndomains:\n");
    for i in 0..n {
        let name = if i == 0 {
            "example.com".to_owned()
        } else {
            format!("d{i}.example.com")
        };
        s.push_str(&format!(
            "  - domain: {name}\n    zone: example.com\n    spf: {{ ip4: [192.0.2.{}], include: [_spf.google.com] }}\n    dmarc: {{ policy: quarantine, rua: [mailto:dmarc@example.com] }}\n",
            i % 250
        ));
    }
    s
}

fn delta(before: &BTreeMap<String, u64>, after: &BTreeMap<String, u64>) -> BTreeMap<String, u64> {
    after
        .iter()
        .map(|(k, v)| (k.clone(), v - before.get(k).copied().unwrap_or(0)))
        .filter(|(_, v)| *v > 0)
        .collect()
}

fn step(acct: &Account, label: &str, args: &[&str], bound: &str) {
    let before = acct.requests();
    let start = Instant::now();
    let run = acct.mailinfra(args);
    let ms = start.elapsed().as_millis();
    assert!(
        run.code == 0 || run.code == 2,
        "{label} failed: {}",
        run.stderr
    );
    let by_op = delta(&before, &acct.requests());
    let total: u64 = by_op.values().sum();
    let ops: Vec<String> = by_op
        .iter()
        .map(|(k, v)| format!("{}={v}", k.trim_start_matches("route53.")))
        .collect();
    println!(
        "  {label:<14} {ms:>6} ms  {total:>3} requests  [{}]",
        ops.join(" ")
    );
    println!("  {:<14} {:>6}     lower bound: {bound}", "", "");
}

/// `n` SES domains in one zone, each with Easy DKIM and a MAIL FROM subdomain.
fn ses_blueprint(n: usize) -> String {
    let mut s = String::from("blueprint: bench\nregion: eu-west-1\ndomains:\n");
    for i in 0..n {
        s.push_str(&format!(
            "  - domain: s{i}.example.com\n    zone: example.com\n    send_via: [ses]\n    ses: {{ mail_from: bounce.s{i}.example.com }}\n"
        ));
    }
    s
}

#[tokio::main]
async fn main() {
    println!("mailinfra benchmark against the local emulator (debug build)");
    for n in [1usize, 10, 100] {
        let acct = Account::new();
        acct.create_zone("example.com").await;
        acct.write("b.yaml", &blueprint(n));
        // SOA and NS, plus 4 record sets a domain once applied.
        let after_apply = 2 + 4 * n;
        let pages = |sets: usize| sets.div_ceil(300);
        println!(
            "\n{n} domain(s), one zone, {} record sets once applied:",
            after_apply
        );
        step(
            &acct,
            "plan (create)",
            &["plan", "b.yaml"],
            &format!(
                "ListHostedZones=1 ListTagsForResources=1 ListResourceRecordSets={}",
                pages(2)
            ),
        );
        let batches = (4 * n).div_ceil(1000).max(1);
        step(
            &acct,
            "apply",
            &["apply", "b.yaml", "--yes"],
            &format!(
                "reads as plan + ChangeTagsForResource=1 ChangeResourceRecordSets={batches} GetChange={batches}"
            ),
        );
        step(
            &acct,
            "plan (no-op)",
            &["plan", "b.yaml"],
            &format!(
                "ListHostedZones=1 ListTagsForResources=1 ListResourceRecordSets={}",
                pages(after_apply)
            ),
        );
    }
    // The relay gateway with one domain.
    {
        let acct = Account::new();
        acct.create_zone("example.com").await;
        acct.write(
            "b.yaml",
            "blueprint: bench\nregion: eu-west-1\ngateway: { hostname: mail.example.com, relay_from: [10.0.0.0/16] }\ndomains:\n  - domain: example.com\n    send_via: [gateway]\n    dmarc: { policy: none }\n",
        );
        println!("\nrelay gateway and one domain:");
        step(
            &acct,
            "plan (create)",
            &["plan", "b.yaml"],
            "13 gateway reads (no address yet) + 3 Route 53 + 2 SES lists + tagging GetResources",
        );
        step(
            &acct,
            "apply",
            &["apply", "b.yaml", "--yes"],
            "reads + role 4, key 3, security group 2, RunInstances 1 + waits, address 2, DNS 3, reverse DNS 1",
        );
        step(
            &acct,
            "plan (no-op)",
            &["plan", "b.yaml"],
            "DescribeInstances, DescribeInstanceAttribute, DescribeAddresses, DescribeAddressesAttribute, DescribeSecurityGroups, DescribeSubnets, DescribeInstanceTypeOfferings, DescribeRouteTables, DescribeInstanceTypes, GetRole, GetInstanceProfile, GetRolePolicy, DescribeParameters, GetParameter x2 + 3 Route 53 + 2 SES lists + tagging GetResources = 21",
        );
    }
    // The gateway relaying through SES (`relay_via: ses`): the SMTP user and credentials in
    // place of the address, the DKIM key and the bounce log.
    {
        let acct = Account::new();
        acct.create_zone("example.com").await;
        acct.write(
            "b.yaml",
            "blueprint: bench\nregion: eu-west-1\ngateway: { hostname: mail.example.com, relay_from: [10.0.0.0/16], relay_via: ses }\ndomains:\n  - domain: example.com\n    send_via: [ses, gateway]\n    dmarc: { policy: none }\n",
        );
        println!("\nrelay gateway through SES and one domain:");
        step(
            &acct,
            "plan (create)",
            &["plan", "b.yaml"],
            "the gateway's reads (GetUser for the SMTP user, no address) + the SES identity + Route 53",
        );
        step(
            &acct,
            "apply",
            &["apply", "b.yaml", "--yes"],
            "reads + role, KMS key, SMTP user 3 (CreateUser, PutUserPolicy), credentials 2 (CreateAccessKey, PutParameter), security group, interface, RunInstances + waits, SES identity, DNS",
        );
        step(
            &acct,
            "plan (no-op)",
            &["plan", "b.yaml"],
            "the direct gateway's no-op reads without the address's 2, plus GetUser, GetUserPolicy, ListAccessKeys, and the SES identity",
        );
    }
    // A gateway DKIM key rotation (docs/rotation.md): each stage one apply; the time between
    // them is moved back in the keys' recorded dates, as the tests do.
    {
        let acct = Account::new();
        acct.create_zone("example.com").await;
        acct.write(
            "b.yaml",
            "blueprint: bench\nregion: eu-west-1\ngateway: { hostname: mail.example.com, relay_from: [10.0.0.0/16], dkim: { selector: mta1 } }\ndomains:\n  - domain: example.com\n    send_via: [gateway]\n    dmarc: { policy: none }\n",
        );
        let run = acct.mailinfra(&["apply", "b.yaml", "--yes"]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        println!("\nrelay gateway DKIM key rotation, one domain:");
        step(
            &acct,
            "rotate",
            &["rotate", "gateway-dkim", "b.yaml", "--yes"],
            "no-op reads + the run lock 2, key 3 PutParameter, DNS 1 + GetChange, mark GetParameter + PutParameter",
        );
        step(
            &acct,
            "plan (2 keys)",
            &["plan", "b.yaml"],
            "the no-op plan's reads + GetParameter for the second key's public half",
        );
        let new = {
            let keys = acct
                .ssm("eu-west-1")
                .get_parameters_by_path()
                .path("/mailinfra/bench/dkim")
                .recursive(true)
                .send()
                .await
                .unwrap();
            keys.parameters()
                .iter()
                .filter_map(|p| p.name())
                .filter_map(|n| n.strip_prefix("/mailinfra/bench/dkim/"))
                .filter_map(|n| n.strip_suffix("/public"))
                .find(|s| *s != "mta1")
                .unwrap()
                .to_owned()
        };
        acct.backdate_dkim_key("bench", &new, 301).await;
        step(
            &acct,
            "apply (switch)",
            &["apply", "b.yaml", "--yes"],
            "reads + marks 2 x (GetParameter + PutParameter), role policy, instance replacement (terminate, RunInstances + waits, address)",
        );
        acct.backdate_dkim_key("bench", "mta1", 8 * 86_400).await;
        step(
            &acct,
            "apply (retire)",
            &["apply", "b.yaml", "--yes"],
            "reads + DNS 1 + GetChange, DeleteParameters 1",
        );
    }
    // An SES BYODKIM key rotation (docs/rotation.md, "SES BYODKIM"): publish and switch in
    // one apply, the retirement in a later one; the time between them is moved back in the
    // identity's key tag, as the tests do.
    {
        let acct = Account::new();
        acct.create_zone("example.net").await;
        acct.write(
            "b.yaml",
            "blueprint: bench\nregion: eu-west-1\ndomains:\n  - domain: example.net\n    send_via: [ses]\n    ses: { dkim: { byodkim: { selector: mi1 } } }\n",
        );
        let run = acct.mailinfra(&["apply", "b.yaml", "--yes"]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        println!("\nSES BYODKIM key rotation, one identity:");
        step(
            &acct,
            "rotate",
            &["rotate", "ses-dkim", "b.yaml", "--yes"],
            "no-op reads + the run lock 2, the key tag (GetCallerIdentity + TagResource), DNS 1 + GetChange, PutEmailIdentityDkimSigningAttributes",
        );
        step(
            &acct,
            "plan (overlap)",
            &["plan", "b.yaml"],
            "the no-op plan's reads: the stage is in the identity's tag",
        );
        acct.backdate_ses_key("eu-west-1", "example.net", 8 * 86_400)
            .await;
        step(
            &acct,
            "apply (retire)",
            &["apply", "b.yaml", "--yes"],
            "reads + the run lock 2, DNS 1 + GetChange",
        );
    }
    // SES: one identity costs a GetEmailIdentity on every plan; the requests are paced at
    // SES's one a second on AWS (the benchmark lifts the pace, as the tests do).
    for n in [10usize, 100] {
        let acct = Account::new();
        acct.create_zone("example.com").await;
        acct.write("b.yaml", &ses_blueprint(n));
        // 3 CNAMEs, MX and TXT a domain, each with its marker.
        let sets = 2 + 10 * n;
        println!("\n{n} SES domain(s), one zone, {sets} record sets once applied:");
        step(
            &acct,
            "plan (create)",
            &["plan", "b.yaml"],
            "ListEmailIdentities=1 ListConfigurationSets=1 tagging.GetResources=1 + the 3 Route 53 reads",
        );
        step(
            &acct,
            "apply",
            &["apply", "b.yaml", "--yes"],
            &format!(
                "reads + CreateEmailIdentity={n} PutEmailIdentityMailFromAttributes={n} ChangeResourceRecordSets={b} GetChange={b} (1,000 records or 32,000 characters a batch)",
                b = if n >= 100 { 2 } else { 1 }
            ),
        );
        step(
            &acct,
            "plan (no-op)",
            &["plan", "b.yaml"],
            &format!(
                "ListEmailIdentities=1 GetEmailIdentity={n} ListConfigurationSets=1 tagging.GetResources=1 ListHostedZones=1 ListTagsForResources=1 ListResourceRecordSets={}",
                sets.div_ceil(300)
            ),
        );
        println!(
            "  (on AWS the {} SES requests of a no-op plan take about {} s at one a second after a burst of 5)",
            n + 2,
            (n + 2).saturating_sub(5)
        );
    }
    large_account().await;
    first_apply_critical_path().await;
}

/// An account holding 200 identities of others and a blueprint of 3 SES domains: plan and
/// status read the blueprint's identities only.
async fn large_account() {
    let acct = Account::new();
    let ses = acct.ses("eu-west-1");
    for i in 0..200 {
        ses.create_email_identity()
            .email_identity(format!("other{i}.example.net"))
            .send()
            .await
            .expect("creating a foreign identity");
    }
    let mut bp = String::from("blueprint: bench\nregion: eu-west-1\ndomains:\n");
    for d in ["a.example", "b.example", "c.example"] {
        acct.create_zone(d).await;
        bp.push_str(&format!("  - domain: {d}\n    send_via: [ses]\n"));
    }
    acct.write("b.yaml", &bp);
    assert_eq!(acct.mailinfra(&["apply", "b.yaml", "--yes"]).code, 0);
    println!(
        "\nA large account: 200 identities of others, a blueprint of 3 SES domains (applied):"
    );
    step(
        &acct,
        "plan (no-op)",
        &["plan", "b.yaml"],
        "ListEmailIdentities=1 tagging.GetResources=1 GetEmailIdentity=3 ListConfigurationSets=1 + Route 53: ListHostedZones=1 ListTagsForResources=1 ListResourceRecordSets=3",
    );
    step(
        &acct,
        "status",
        &["status", "b.yaml"],
        "GetAccount=1 GetEmailIdentity=3",
    );
}

/// The first apply of a gateway and 10 SES domains with SES paced as on AWS (one request a
/// second after a burst of 5): when each kind's first and last step showed, and the whole.
/// SES and the gateway do not depend on each other, so the gateway's steps should start at
/// once instead of after the SES writes.
async fn first_apply_critical_path() {
    let acct = Account::new();
    acct.create_zone("example.com").await;
    let mut bp = String::from(
        "blueprint: bench\nregion: eu-west-1\ngateway: { hostname: mail.example.com, relay_from: [10.0.0.0/16] }\ndomains:\n  - domain: example.com\n    send_via: [gateway]\n    dmarc: { policy: none }\n",
    );
    for i in 0..10 {
        bp.push_str(&format!(
            "  - domain: s{i}.example.com\n    zone: example.com\n    send_via: [ses]\n    ses: {{ mail_from: bounce.s{i}.example.com }}\n"
        ));
    }
    acct.write("b.yaml", &bp);
    println!("\nfirst apply, gateway + 10 SES domains, SES paced at 1 request/s as on AWS:");
    let start = Instant::now();
    let mut child = acct.spawn_with(
        &["apply", "b.yaml", "--yes"],
        &[("MAILINFRA_SES_REQUESTS_PER_SECOND", "1")],
    );
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let mut seen: BTreeMap<&str, (u128, u128)> = BTreeMap::new();
    for line in stderr.lines().map_while(Result::ok) {
        let at = start.elapsed().as_millis();
        let kind = if line.starts_with("gateway:") {
            "gateway steps"
        } else if line.starts_with("SES:") {
            "SES steps"
        } else if line.contains("Route 53") {
            "Route 53 batch and wait"
        } else {
            continue;
        };
        let e = seen.entry(kind).or_insert((at, at));
        e.1 = at;
    }
    let status = child.wait().unwrap();
    assert!(status.success(), "the apply failed");
    for (kind, (first, last)) in &seen {
        println!("  {kind:<24} first at {first:>6} ms, last at {last:>6} ms");
    }
    println!(
        "  {:<24} {:>6} ms (critical path: the longer of SES and the gateway, then DNS)",
        "whole apply",
        start.elapsed().as_millis()
    );
}
