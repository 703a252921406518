//! `mailinfra check` against a real DNS server (tests/dns/server.py) serving the zones built
//! from what mailinfra applied to the emulator: a healthy setup passes every check, and each
//! kind of failure gives its row and its fix.

mod common;

use std::collections::BTreeMap;

use common::Account;
use common::dns::Server;
use serde_json::{Value, json};

const BLUEPRINT: &str = "blueprint: relay
region: eu-west-1
gateway:
  hostname: mail.example.com
  relay_from: [10.0.0.0/16]
  dkim: { selector: mta1 }
domains:
  - domain: example.com
    send_via: [gateway]
    spf: { all: fail }
    dmarc: { policy: quarantine, rua: [mailto:reports@example.net] }
  - domain: example.org
    send_via: [ses]
    ses: { mail_from: bounce.example.org }
    dmarc: { policy: none }
";

/// The DNS server of `common::dns`, with its zones in a file of their own.
fn serve(acct: &Account, zones: &Value) -> Server {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    common::dns::serve(acct, &format!("zones-{n}.json"), zones)
}

/// The zones as a resolver would see them: every record mailinfra (and the test) put in the
/// emulator's Route 53, the Elastic IP's reverse DNS, and the report authorization.
async fn zones(acct: &Account, ids: &[String], ip: &str) -> Value {
    let mut records: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for id in ids {
        for ((name, rtype), (_, values)) in acct.records(id).await {
            let values = values
                .iter()
                .map(|v| {
                    if rtype == "TXT" {
                        mailinfra::mail::txt::text_of(v)
                    } else {
                        v.trim_end_matches('.').to_owned()
                    }
                })
                .collect();
            records.insert(format!("{name}|{rtype}"), values);
        }
    }
    let o: Vec<&str> = ip.split('.').collect();
    records.insert(
        format!("{}.{}.{}.{}.in-addr.arpa|PTR", o[3], o[2], o[1], o[0]),
        vec!["mail.example.com".into()],
    );
    records.insert(
        "example.com._report._dmarc.example.net|TXT".into(),
        vec!["v=DMARC1".into()],
    );
    json!({ "records": records })
}

/// The gateway's Elastic IP.
async fn elastic_ip(acct: &Account) -> String {
    let eips = acct
        .ec2("eu-west-1")
        .describe_addresses()
        .send()
        .await
        .unwrap();
    eips.addresses()[0].public_ip().unwrap().to_owned()
}

fn check(acct: &Account, port: u16, extra: &[&str]) -> (i32, Vec<Value>) {
    let resolver = format!("127.0.0.1:{port}");
    let mut args = vec![
        "check",
        "b.yaml",
        "--json",
        "--resolver",
        &resolver,
        "--dnsbl",
        "dnsbl.test",
    ];
    args.extend_from_slice(extra);
    let run = acct.mailinfra(&args);
    let v: Value = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", run.stdout, run.stderr));
    assert_eq!(v["format"], "mailinfra-check");
    (run.code, v["rows"].as_array().unwrap().clone())
}

fn find<'a>(rows: &'a [Value], check: &str) -> &'a Value {
    rows.iter()
        .find(|r| r["check"] == check)
        .unwrap_or_else(|| panic!("no row `{check}` in {rows:#?}"))
}

#[tokio::test]
async fn a_healthy_setup_passes_and_each_failure_has_its_row_and_fix() {
    let acct = Account::new();
    let com = acct.create_zone("example.com").await;
    let org = acct.create_zone("example.org").await;
    acct.write("b.yaml", BLUEPRINT);
    let run = acct.mailinfra(&["apply", "b.yaml", "--yes"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let ip = elastic_ip(&acct).await;
    let healthy = zones(&acct, &[com, org], &ip).await;
    let server = serve(&acct, &healthy);

    // Healthy: every check passes.
    let (code, rows) = check(&acct, server.port, &[]);
    let row_count = rows.len();
    for r in &rows {
        assert_eq!(r["status"], "pass", "{r:#}");
    }
    assert_eq!(code, 0);
    for name in [
        "spf example.com",
        "dkim mta1._domainkey.example.com",
        "dmarc example.com",
        "dmarc example.org",
        "mail-from bounce.example.org",
        "a mail.example.com",
        "dnsbl dnsbl.test",
    ] {
        find(&rows, name);
    }
    assert_eq!(
        rows.iter()
            .filter(|r| r["check"]
                .as_str()
                .unwrap()
                .ends_with("._domainkey.example.org"))
            .count(),
        3,
        "three SES DKIM CNAMEs"
    );
    // The golden JSON of the check format: a field that changes without the version fails here.
    let resolver = format!("127.0.0.1:{}", server.port);
    let json = acct.mailinfra(&[
        "check",
        "b.yaml",
        "--json",
        "--resolver",
        &resolver,
        "--dnsbl",
        "dnsbl.test",
    ]);
    let mut golden = json
        .stdout
        .replace(&resolver, "[RESOLVER]")
        .replace(&ip, "[EIP]");
    for token in golden.clone().split(|c: char| !c.is_ascii_alphanumeric()) {
        if token.len() == 32
            && token
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        {
            golden = golden.replace(token, "[TOKEN]");
        }
    }
    let mut rows: Vec<Value> = serde_json::from_str::<Value>(&golden).unwrap()["rows"]
        .as_array()
        .unwrap()
        .clone();
    rows.sort_by_key(|r| r["check"].as_str().unwrap().to_owned());
    let mut doc: Value = serde_json::from_str(&golden).unwrap();
    doc["rows"] = Value::Array(rows);
    insta::assert_snapshot!("check_json_v1", serde_json::to_string_pretty(&doc).unwrap());
    let text = acct.mailinfra(&[
        "check",
        "b.yaml",
        "--resolver",
        &resolver,
        "--dnsbl",
        "dnsbl.test",
    ]);
    assert!(
        text.stdout.contains("0 fail, 0 could not check"),
        "{}",
        text.stdout
    );

    let rev = {
        let o: Vec<&str> = ip.split('.').collect();
        format!("{}.{}.{}.{}", o[3], o[2], o[1], o[0])
    };
    let spf = healthy["records"]["example.com|TXT"][0]
        .as_str()
        .unwrap()
        .to_owned();
    let ptr_row = format!("ptr {ip}");
    // (what to change, the row, its status, words in what it found, words in its fix)
    let cases: Vec<(Value, &str, &str, &str, &str)> = vec![
        (
            json!({"example.com|TXT": [spf.clone(), "v=spf1 -all"]}),
            "spf example.com",
            "fail",
            "2 SPF records",
            "delete all but one",
        ),
        (
            {
                let mut m = serde_json::Map::new();
                m.insert(
                    "example.com|TXT".into(),
                    json!([spf.replace("-all", "include:i1.test -all")]),
                );
                for i in 1..=11 {
                    let next = if i < 11 {
                        format!("v=spf1 include:i{}.test -all", i + 1)
                    } else {
                        "v=spf1 -all".into()
                    };
                    m.insert(format!("i{i}.test|TXT"), json!([next]));
                }
                Value::Object(m)
            },
            "spf example.com",
            "fail",
            "permerror (more than 10 DNS lookups",
            "a permerror fails SPF for every sender",
        ),
        (
            json!({"example.com|TXT": [spf.replace("-all", "include:v1.test include:v2.test include:v3.test -all")]}),
            "spf example.com",
            "fail",
            "other addresses: permerror (include:v1.test: `v1.test` has no SPF record)",
            "a permerror fails SPF for every sender",
        ),
        (
            json!({"mta1._domainkey.example.com|TXT": [format!("v=DKIM1; k=rsa; p={}", mailinfra::mail::dkim::generate_key().unwrap().1)]}),
            "dkim mta1._domainkey.example.com",
            "fail",
            "does not match the signing key",
            "publish the key the signer uses",
        ),
        (
            json!({"_dmarc.example.com|TXT": []}),
            "dmarc example.com",
            "fail",
            "no DMARC record",
            "at least p=none",
        ),
        (
            json!({"_dmarc.example.com|TXT": ["v=DMARC1; p=quarantine; pct=50; rua=mailto:reports@example.net"]}),
            "dmarc example.com",
            "warn",
            "receivers ignore pct (removed by RFC 9989",
            "mailinfra apply",
        ),
        (
            json!({format!("{rev}.in-addr.arpa|PTR"): ["other.example.net"]}),
            &ptr_row,
            "fail",
            "should be mail.example.com",
            "reverse DNS",
        ),
        (
            json!({"mail.example.com|A": ["192.0.2.99"]}),
            "a mail.example.com",
            "fail",
            "192.0.2.99",
            "point the A record",
        ),
        (
            json!({format!("{rev}.dnsbl.test|A"): ["127.0.0.2"]}),
            "dnsbl dnsbl.test",
            "fail",
            "is listed (127.0.0.2)",
            "request removal",
        ),
        (
            json!({format!("{rev}.dnsbl.test|A"): ["127.255.255.254"]}),
            "dnsbl dnsbl.test",
            "could-not-check",
            "refused the query",
            "your own resolver",
        ),
        (
            json!({"_dmarc.example.com|TXT": ["v=DMARC1; p=quarantine; foo=1; rua=mailto:reports@example.net"]}),
            "dmarc example.com",
            "warn",
            "receivers ignore foo (unknown",
            "publish the blueprint's record",
        ),
        (
            json!({"bounce.example.org|MX": ["10 mx.other.example"]}),
            "mail-from bounce.example.org",
            "fail",
            "MX mx.other.example, SES expects feedback-smtp.eu-west-1.amazonses.com",
            "mailinfra apply",
        ),
        (
            json!({"bounce.example.org|MX": []}),
            "mail-from bounce.example.org",
            "fail",
            "no MX",
            "mailinfra apply",
        ),
        (
            json!({"example.com._report._dmarc.example.net|TXT": []}),
            "dmarc example.com",
            "warn",
            "has not authorized reports",
            "authorization TXT",
        ),
    ];
    for (change, name, status, found, fix) in cases {
        let mut zones = healthy.clone();
        for (k, v) in change.as_object().unwrap() {
            if v.as_array().is_some_and(|a| a.is_empty()) {
                zones["records"].as_object_mut().unwrap().remove(k);
            } else {
                zones["records"][k] = v.clone();
            }
        }
        server.set(&zones);
        let (code, rows) = check(&acct, server.port, &[]);
        let r = find(&rows, name);
        assert_eq!(r["status"], status, "{name}: {r:#}");
        assert!(
            r["found"].as_str().unwrap().contains(found),
            "{name}: {r:#}"
        );
        assert!(
            r["fix"].as_str().unwrap_or("").contains(fix),
            "{name}: {r:#}"
        );
        assert_eq!(code, if status == "fail" { 1 } else { 0 }, "{name}");
    }

    // Authoritative vs cached: the resolver lacks the DMARC record, the zone's own server has
    // it: a warning that it is propagating, not a failure to "fix".
    let fresh = serve(&acct, &healthy);
    let mut stale = healthy.clone();
    stale["records"]
        .as_object_mut()
        .unwrap()
        .remove("_dmarc.example.com|TXT");
    server.set(&stale);
    let authoritative = format!("127.0.0.1:{}", fresh.port);
    let (code, rows) = check(&acct, server.port, &["--authoritative", &authoritative]);
    let r = find(&rows, "dmarc example.com");
    assert_eq!(r["status"], "warn", "{r:#}");
    assert!(
        r["found"].as_str().unwrap().contains("still propagating"),
        "{r:#}"
    );
    assert!(
        r["fix"].as_str().unwrap().contains("nothing to change"),
        "{r:#}"
    );
    assert_eq!(code, 0);
    // A record that is there but wrong is on its way too when the zone's own server already
    // answers what passes (an old value still cached), and fails when that server holds the
    // same wrong record.
    let mut wrong = healthy.clone();
    wrong["records"]["mta1._domainkey.example.com|TXT"] = json!(["v=DKIM1; k=rsa"]);
    wrong["records"]["bounce.example.org|MX"] = json!(["10 mx.other.example"]);
    server.set(&wrong);
    let (code, rows) = check(&acct, server.port, &["--authoritative", &authoritative]);
    for name in [
        "dkim mta1._domainkey.example.com",
        "mail-from bounce.example.org",
    ] {
        let r = find(&rows, name);
        assert_eq!(r["status"], "warn", "{r:#}");
        assert!(
            r["found"].as_str().unwrap().contains("still propagating"),
            "{r:#}"
        );
    }
    assert_eq!(code, 0);
    fresh.set(&wrong);
    let (code, rows) = check(&acct, server.port, &["--authoritative", &authoritative]);
    for (name, found) in [
        ("dkim mta1._domainkey.example.com", "no `p=` key"),
        ("mail-from bounce.example.org", "SES expects"),
    ] {
        let r = find(&rows, name);
        assert_eq!(r["status"], "fail", "{r:#}");
        assert!(r["found"].as_str().unwrap().contains(found), "{r:#}");
    }
    assert_eq!(code, 1);
    // And when the authoritative server lacks it too, it is missing.
    server.set(&stale);
    fresh.set(&stale);
    let (code, rows) = check(&acct, server.port, &["--authoritative", &authoritative]);
    assert_eq!(find(&rows, "dmarc example.com")["status"], "fail");
    assert_eq!(code, 1);

    // A SERVFAIL is reported for its check, not as absent.
    let mut zones = healthy.clone();
    zones["servfail"] = json!(["_dmarc.example.com"]);
    server.set(&zones);
    let (_, rows) = check(&acct, server.port, &[]);
    let r = find(&rows, "dmarc example.com");
    assert_eq!(r["status"], "could-not-check", "{r:#}");
    assert!(r["found"].as_str().unwrap().contains("SERVFAIL"), "{r:#}");

    // A resolver that never answers: every row says so, within the time bound, no crash.
    let mut zones = healthy.clone();
    zones["timeout"] = json!(true);
    server.set(&zones);
    let start = std::time::Instant::now();
    let (code, rows) = check(&acct, server.port, &["--query-timeout", "1s"]);
    assert!(start.elapsed() < std::time::Duration::from_secs(20));
    assert_eq!(rows.len(), row_count, "{rows:#?}");
    assert!(
        rows.iter().all(|r| r["status"] == "could-not-check"),
        "{rows:#?}"
    );
    assert_eq!(code, 1, "nothing could be checked: a gate must not pass");
    // The overall bound: rows still waiting when it ends are could-not-check, the others are
    // kept, and the JSON is printed.
    let start = std::time::Instant::now();
    let (code, rows) = check(
        &acct,
        server.port,
        &["--query-timeout", "30s", "--timeout", "2s"],
    );
    assert!(start.elapsed() < std::time::Duration::from_secs(10));
    assert_eq!(rows.len(), row_count, "{rows:#?}");
    assert!(
        rows.iter()
            .all(|r| r["found"].as_str().unwrap().contains("--timeout (2 s)")),
        "{rows:#?}"
    );
    assert_eq!(code, 1);
    // A resolver nothing listens on: rows at once, not a 60 s wait.
    let start = std::time::Instant::now();
    let run = acct.mailinfra(&[
        "check",
        "b.yaml",
        "--json",
        "--resolver",
        "127.0.0.1:9",
        "--dnsbl",
        "dnsbl.test",
    ]);
    assert!(start.elapsed() < std::time::Duration::from_secs(20));
    let v: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(v["summary"]["could_not_check"], row_count, "{v:#}");
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("nothing could be checked"),
        "{}",
        run.stderr
    );
    // One row that could not be checked: only --strict fails on it.
    let mut zones = healthy.clone();
    zones["servfail"] = json!(["_dmarc.example.com"]);
    server.set(&zones);
    assert_eq!(check(&acct, server.port, &[]).0, 0);
    assert_eq!(check(&acct, server.port, &["--strict"]).0, 1);
    // --strict fails on warnings.
    let mut zones = healthy.clone();
    zones["records"]
        .as_object_mut()
        .unwrap()
        .remove("example.com._report._dmarc.example.net|TXT");
    server.set(&zones);
    assert_eq!(check(&acct, server.port, &[]).0, 0);
    assert_eq!(check(&acct, server.port, &["--strict"]).0, 1);
}

/// `check` runs when the plan has a conflict (here a domain whose zone is not in the
/// account): that is when a receiver's view is needed.
#[tokio::test]
async fn check_runs_when_the_plan_has_a_conflict() {
    let acct = Account::new();
    let com = acct.create_zone("example.com").await;
    let org = acct.create_zone("example.org").await;
    acct.write("b.yaml", BLUEPRINT);
    let run = acct.mailinfra(&["apply", "b.yaml", "--yes"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let ip = elastic_ip(&acct).await;
    let server = serve(&acct, &zones(&acct, &[com, org], &ip).await);
    acct.write(
        "b.yaml",
        &format!("{BLUEPRINT}  - domain: example.info\n    dmarc: {{ policy: none }}\n"),
    );
    assert_eq!(acct.mailinfra(&["plan", "b.yaml"]).code, 1, "a conflict");
    let resolver = format!("127.0.0.1:{}", server.port);
    let run = acct.mailinfra(&[
        "check",
        "b.yaml",
        "--json",
        "--resolver",
        &resolver,
        "--dnsbl",
        "dnsbl.test",
    ]);
    assert!(run.stderr.contains("conflict"), "{}", run.stderr);
    let v: Value = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", run.stdout, run.stderr));
    let rows = v["rows"].as_array().unwrap();
    assert_eq!(find(rows, "spf example.com")["status"], "pass");
    assert_eq!(find(rows, "dmarc example.info")["status"], "fail");
    assert_eq!(run.code, 1);
}

/// During a gateway DKIM key rotation both keys are published and each has its row, named by
/// its stage; a new key missing from DNS fails its row.
#[tokio::test]
async fn check_during_a_key_rotation_checks_both_keys_and_names_their_stage() {
    let acct = Account::new();
    let com = acct.create_zone("example.com").await;
    let org = acct.create_zone("example.org").await;
    acct.write("b.yaml", BLUEPRINT);
    let run = acct.mailinfra(&["apply", "b.yaml", "--yes"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let run = acct.mailinfra(&["rotate", "gateway-dkim", "b.yaml", "--yes"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let ip = elastic_ip(&acct).await;
    let published = zones(&acct, &[com, org], &ip).await;
    let new = published["records"]
        .as_object()
        .unwrap()
        .keys()
        .find_map(|k| {
            k.strip_suffix("._domainkey.example.com|TXT")
                .filter(|s| s.starts_with("mta1-"))
        })
        .expect("the new key is published")
        .to_owned();
    let server = serve(&acct, &published);
    let (code, rows) = check(&acct, server.port, &[]);
    let old_row = "dkim mta1._domainkey.example.com (rotation: signing key)";
    let new_row = format!("dkim {new}._domainkey.example.com (rotation: next key)");
    assert_eq!(find(&rows, old_row)["status"], "pass");
    assert_eq!(find(&rows, &new_row)["status"], "pass");
    assert_eq!(code, 0, "{rows:#?}");

    // The new key not yet visible: its row fails, the old one still passes.
    let mut missing = published.clone();
    missing["records"]
        .as_object_mut()
        .unwrap()
        .remove(&format!("{new}._domainkey.example.com|TXT"));
    let server = serve(&acct, &missing);
    let (code, rows) = check(&acct, server.port, &[]);
    assert_eq!(find(&rows, old_row)["status"], "pass");
    assert_ne!(find(&rows, &new_row)["status"], "pass", "{rows:#?}");
    assert_eq!(code, 1);
}

/// During an SES identity's BYODKIM rotation the old key stays published beside the new one
/// SES signs with: each has its row, named by its stage.
#[tokio::test]
async fn check_during_a_byodkim_rotation_names_the_signing_and_the_retiring_key() {
    let acct = Account::new();
    let org = acct.create_zone("example.org").await;
    acct.write(
        "b.yaml",
        "blueprint: shop\nregion: eu-west-1\ndomains:\n  - domain: example.org\n    send_via: [ses]\n    ses: { dkim: { byodkim: { selector: mi1 } } }\n    dmarc: { policy: none }\n",
    );
    let run = acct.mailinfra(&["apply", "b.yaml", "--yes"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let run = acct.mailinfra(&["rotate", "ses-dkim", "b.yaml", "--yes"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let published = zones(&acct, &[org], "192.0.2.1").await;
    let new = format!(
        "mi1-{}",
        mailinfra::kinds::rotation::day(mailinfra::kinds::rotation::unix_now())
    );
    let server = serve(&acct, &published);
    let (_, rows) = check(&acct, server.port, &[]);
    let old_row = "dkim mi1._domainkey.example.org (rotation: retiring key)";
    let new_row = format!("dkim {new}._domainkey.example.org (rotation: signing key)");
    assert_eq!(find(&rows, old_row)["status"], "pass", "{rows:#?}");
    assert_eq!(find(&rows, &new_row)["status"], "pass", "{rows:#?}");
}
