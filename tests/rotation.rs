//! The gateway's DKIM key rotation against the emulator (docs/rotation.md): each stage one
//! apply, decided from what SSM and Route 53 hold. Time passing is what AWS holds too: a
//! stage's date in the key's description is moved back through SSM's own PutParameter, as a
//! day passing would leave it.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_ssm::types::ParameterStringFilter;
use common::{Account, GATEWAY, Run, SES_RELAY};
use mailinfra::kinds::gateway::rotation::{KeyMeta, Stage, format_time};

const R: &str = "eu-west-1";
const DAY: i64 = 86_400;

fn ok(run: &Run, what: &str) {
    assert_eq!(
        run.code, 0,
        "{what} failed:\n{}\n{}",
        run.stdout, run.stderr
    );
}

/// `plan --detailed-exitcode`: 0 when there is nothing to do.
fn clean(acct: &Account, file: &str) -> Run {
    let plan = acct.mailinfra(&["plan", file, "--detailed-exitcode"]);
    assert_eq!(
        plan.code, 0,
        "plan is not clean:\n{}\n{}",
        plan.stdout, plan.stderr
    );
    plan
}

fn apply(acct: &Account, file: &str) -> Run {
    let run = acct.mailinfra(&["apply", file, "--yes"]);
    ok(&run, "apply");
    clean(acct, file);
    run
}

/// The gateway's keys: selector → (stage, meta), from the public halves' descriptions; and
/// every selector has both halves.
async fn keys(acct: &Account) -> BTreeMap<String, KeyMeta> {
    let out = acct
        .ssm(R)
        .describe_parameters()
        .parameter_filters(
            ParameterStringFilter::builder()
                .key("Name")
                .option("BeginsWith")
                .values("/mailinfra/relay/dkim/")
                .build()
                .unwrap(),
        )
        .max_results(50)
        .send()
        .await
        .unwrap();
    let mut halves: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut metas = BTreeMap::new();
    for p in out.parameters() {
        let rest = p
            .name()
            .unwrap()
            .trim_start_matches("/mailinfra/relay/dkim/");
        let (selector, half) = rest.split_once('/').unwrap();
        halves
            .entry(selector.to_owned())
            .or_default()
            .push(half.to_owned());
        if half == "public" {
            metas.insert(
                selector.to_owned(),
                KeyMeta::parse(p.description().unwrap_or_default()),
            );
        }
    }
    for (selector, h) in &halves {
        assert_eq!(h.len(), 2, "{selector} has both halves: {h:?}");
    }
    metas
}

/// Moves a key's recorded dates back by `secs`, as time passing would.
async fn backdate(acct: &Account, selector: &str, secs: i64) {
    acct.backdate_dkim_key("relay", selector, secs).await;
}

/// The DKIM TXT record names in the zone (not mailinfra's ownership records).
async fn dkim_records(acct: &Account, zone: &str) -> BTreeSet<String> {
    acct.records(zone)
        .await
        .into_keys()
        .filter(|(name, t)| {
            name.contains("._domainkey.") && !name.starts_with("_mailinfra") && t == "TXT"
        })
        .map(|(name, _)| name)
        .collect()
}

fn published(selectors: &[&str]) -> BTreeSet<String> {
    selectors
        .iter()
        .flat_map(|s| {
            [
                format!("{s}._domainkey.example.com"),
                format!("{s}._domainkey.mail.example.com"),
            ]
        })
        .collect()
}

/// The key each running gateway instance's boot script fetches: its selector.
async fn signing(acct: &Account) -> Vec<String> {
    let mut found = Vec::new();
    for (id, _) in acct.running_instances().await {
        let script = acct.boot_script(&id).await;
        found.push(
            common::key_parameter(&script)
                .trim_start_matches("/mailinfra/relay/dkim/")
                .trim_end_matches("/private")
                .to_owned(),
        );
    }
    found
}

fn today() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    format_time(now)[..10].replace('-', "")
}

#[tokio::test]
async fn a_rotation_publishes_then_switches_then_retires_one_apply_each() {
    let acct = Account::new();
    let zone = acct.create_zone("example.com").await;
    acct.write("b.yaml", GATEWAY);
    apply(&acct, "b.yaml");
    let k = keys(&acct).await;
    assert_eq!(k.keys().collect::<Vec<_>>(), ["mta1"]);
    assert_eq!(k["mta1"].stage, Some(Stage::Signing));
    assert!(k["mta1"].created.is_some());
    assert_eq!(signing(&acct).await, ["mta1"]);
    let status = acct.mailinfra(&["status", "b.yaml"]);
    ok(&status, "status");
    assert!(
        status
            .stdout
            .contains("dkim key: signing with `mta1` since"),
        "{}",
        status.stdout
    );

    // Stage 1, asked for: a new key published beside the old; the gateway keeps signing with
    // the old one.
    let new = format!("mta1-{}", today());
    let run = acct.mailinfra(&["rotate", "gateway-dkim", "b.yaml", "--yes"]);
    ok(&run, "rotate");
    assert!(
        run.stdout.contains(&format!("rotating to `{new}`")),
        "{}",
        run.stdout
    );
    let k = keys(&acct).await;
    assert_eq!(k.len(), 2, "{k:?}");
    assert_eq!(k[&new].stage, Some(Stage::Next));
    assert!(k[&new].published.is_some(), "marked once INSYNC: {k:?}");
    assert_eq!(k["mta1"].stage, Some(Stage::Signing));
    assert_eq!(dkim_records(&acct, &zone).await, published(&["mta1", &new]));
    assert_eq!(signing(&acct).await, ["mta1"]);
    // Nothing more until the TTL has passed; plan says where the rotation stands.
    let plan = clean(&acct, "b.yaml");
    assert!(
        plan.stdout.contains("DKIM key rotation") && plan.stdout.contains(&new),
        "{}",
        plan.stdout
    );
    // status says where it stands too.
    let status = acct.mailinfra(&["status", "b.yaml", "--json"]);
    ok(&status, "status");
    let v: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    let key = v["gateway"]["dkim_key"].as_str().unwrap();
    assert!(key.contains(&format!("rotating to `{new}`")), "{key}");
    // Asked again meanwhile: no second new key.
    ok(
        &acct.mailinfra(&["rotate", "gateway-dkim", "b.yaml", "--yes"]),
        "rotate again",
    );
    assert_eq!(keys(&acct).await.len(), 2);

    // Stage 2, the TTL (300 s) after publication: the gateway is replaced to sign with the
    // new key; the old one stays published.
    backdate(&acct, &new, 301).await;
    let run = acct.mailinfra(&["plan", "b.yaml", "--detailed-exitcode"]);
    assert_eq!(run.code, 2, "the switch is due:\n{}", run.stdout);
    apply(&acct, "b.yaml");
    let k = keys(&acct).await;
    assert_eq!(k[&new].stage, Some(Stage::Signing));
    assert_eq!(k["mta1"].stage, Some(Stage::Retiring));
    assert_eq!(signing(&acct).await, std::slice::from_ref(&new));
    assert_eq!(dkim_records(&acct, &zone).await, published(&["mta1", &new]));
    // The new instance reports its user data: `status` compares it with the signing key's
    // rendering (with the blueprint's own selector's, it would say the configuration differs).
    let (instance, _) = acct.running_instances().await.remove(0);
    let sha = acct.user_data_sha256(&instance).await;
    let now = format_time(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64,
    );
    acct.ssm(R)
        .put_parameter()
        .name("/mailinfra/relay/gateway/health")
        .r#type(aws_sdk_ssm::types::ParameterType::String)
        .overwrite(true)
        .value(format!(
            r#"{{"time":"{now}","instance":"{instance}","user_data_sha256":"{sha}","boot":"ok","boot_step":null,"boot_reason":null,"postfix_running":true,"opendkim_running":true,"dkim_key_failed":null,"queue":0,"deferred":0}}"#
        ))
        .send()
        .await
        .unwrap();
    let status = acct.mailinfra(&["status", "b.yaml", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    let health = v["gateway"]["health"].as_str().unwrap_or_default();
    assert!(
        health.starts_with("configured as the blueprint says"),
        "{health}"
    );

    // Six days on, the old key is still published (retire_after is 7d by default).
    backdate(&acct, "mta1", 6 * DAY).await;
    clean(&acct, "b.yaml");
    assert_eq!(dkim_records(&acct, &zone).await, published(&["mta1", &new]));

    // Stage 3, retire_after on: the old records go, then the old key.
    backdate(&acct, "mta1", DAY + 1).await;
    apply(&acct, "b.yaml");
    let k = keys(&acct).await;
    assert_eq!(k.keys().collect::<Vec<_>>(), [&new]);
    assert_eq!(dkim_records(&acct, &zone).await, published(&[&new]));
    assert_eq!(signing(&acct).await, std::slice::from_ref(&new));
}

#[tokio::test]
async fn rotate_every_starts_a_rotation_when_the_key_is_that_old() {
    let acct = Account::new();
    let zone = acct.create_zone("example.com").await;
    let blueprint = GATEWAY.replace(
        "dkim: { selector: mta1 }",
        "dkim: { selector: mta1, rotate_every: 180d, retire_after: 2d }",
    );
    acct.write("b.yaml", &blueprint);
    apply(&acct, "b.yaml");
    let plan = clean(&acct, "b.yaml");
    assert!(
        !plan.stdout.contains("DKIM key rotation"),
        "{}",
        plan.stdout
    );

    backdate(&acct, "mta1", 181 * DAY).await;
    let run = acct.mailinfra(&["plan", "b.yaml", "--detailed-exitcode"]);
    assert_eq!(run.code, 2, "a rotation is due:\n{}", run.stdout);
    assert!(run.stdout.contains("rotate_every"), "{}", run.stdout);
    // Reviewed and applied as a saved plan: the times a step sets are the apply's.
    ok(
        &acct.mailinfra(&["plan", "b.yaml", "--out", "p.json"]),
        "plan --out",
    );
    ok(
        &acct.mailinfra(&["apply", "p.json", "--yes"]),
        "apply p.json",
    );
    clean(&acct, "b.yaml");
    let new = format!("mta1-{}", today());
    assert_eq!(dkim_records(&acct, &zone).await, published(&["mta1", &new]));
    let meta = &keys(&acct).await[&new];
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    for t in [meta.created, meta.published] {
        assert!(t.is_some_and(|t| (now - t).abs() < 600), "{meta:?}");
    }
}

#[tokio::test]
async fn a_new_selector_in_the_blueprint_is_a_rotation_with_overlap() {
    let acct = Account::new();
    let zone = acct.create_zone("example.com").await;
    acct.write("b.yaml", GATEWAY);
    apply(&acct, "b.yaml");
    acct.write(
        "b.yaml",
        &GATEWAY.replace("selector: mta1", "selector: mta2"),
    );
    apply(&acct, "b.yaml");
    // The old key still signs and stays published; the new one is published beside it.
    assert_eq!(
        dkim_records(&acct, &zone).await,
        published(&["mta1", "mta2"])
    );
    assert_eq!(signing(&acct).await, ["mta1"]);
    backdate(&acct, "mta2", 301).await;
    apply(&acct, "b.yaml");
    assert_eq!(signing(&acct).await, ["mta2"]);
}

#[tokio::test]
async fn rotate_refuses_a_blueprint_without_a_gateway_key() {
    let acct = Account::new();
    acct.write(
        "b.yaml",
        "blueprint: relay\nregion: eu-west-1\ndomains:\n  - domain: example.com\n    dmarc: { policy: none }\n",
    );
    let run = acct.mailinfra(&["rotate", "gateway-dkim", "b.yaml", "--yes"]);
    assert_ne!(run.code, 0);
    assert!(run.stderr.contains("no gateway DKIM key"), "{}", run.stderr);
    assert_eq!(acct.request_total(), 0, "nothing was sent to AWS");
}

/// A rotation's stages, as the sweep below sets each up and runs it.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Step {
    Publish,
    Switch,
    Retire,
}

impl common::Sweep for Step {
    /// The command that runs the stage.
    fn args(self) -> Vec<&'static str> {
        match self {
            Step::Publish => vec!["rotate", "gateway-dkim", "b.yaml", "--yes"],
            _ => vec!["apply", "b.yaml", "--yes", "--timeout=5m"],
        }
    }

    /// A fresh account in the state right before the step: its zone id.
    async fn before(self, acct: &Account) -> Result<String, String> {
        let zone = acct.create_zone("example.com").await;
        acct.write("b.yaml", GATEWAY);
        let run = |args: &[&str]| {
            let r = acct.mailinfra(args);
            (r.code == 0)
                .then_some(())
                .ok_or_else(|| format!("{args:?} before the stage: {}", r.stderr))
        };
        run(&["apply", "b.yaml", "--yes"])?;
        if self == Step::Publish {
            return Ok(zone);
        }
        run(&["rotate", "gateway-dkim", "b.yaml", "--yes"])?;
        backdate(acct, &format!("mta1-{}", today()), 301).await;
        if self == Step::Switch {
            return Ok(zone);
        }
        run(&["apply", "b.yaml", "--yes"])?;
        backdate(acct, "mta1", 8 * DAY).await;
        Ok(zone)
    }

    /// After a run of the step killed at some request and one more apply: the keys, records and
    /// signer are those of the stage done, or (publish killed before the new key existed) of
    /// none begun; never a second new key, never the old key gone before the switch.
    async fn finished(self, acct: &Account, zone: &str) -> Result<(), String> {
        common::apply_then_clean(acct)?;
        let new = format!("mta1-{}", today());
        let k = keys(acct).await;
        let stages: BTreeMap<&str, Option<Stage>> =
            k.iter().map(|(s, m)| (s.as_str(), m.stage)).collect();
        let (want, signer): (Vec<BTreeMap<&str, Option<Stage>>>, &str) = match self {
            Step::Publish => (
                vec![
                    BTreeMap::from([("mta1", Some(Stage::Signing))]),
                    BTreeMap::from([("mta1", Some(Stage::Signing)), (&new, Some(Stage::Next))]),
                ],
                "mta1",
            ),
            Step::Switch => (
                vec![BTreeMap::from([
                    ("mta1", Some(Stage::Retiring)),
                    (&new, Some(Stage::Signing)),
                ])],
                &new,
            ),
            Step::Retire => (
                vec![BTreeMap::from([(new.as_str(), Some(Stage::Signing))])],
                &new,
            ),
        };
        if !want.contains(&stages) {
            return Err(format!("keys {stages:?}, expected one of {want:?}"));
        }
        if let Some(m) = k.get(&new).filter(|m| m.stage == Some(Stage::Next))
            && m.published.is_none()
        {
            return Err("the new key's records are up but it is not marked published".into());
        }
        let selectors: Vec<&str> = stages.keys().copied().collect();
        let records = dkim_records(acct, zone).await;
        if records != published(&selectors) {
            return Err(format!("records {records:?} for keys {selectors:?}"));
        }
        let signs = signing(acct).await;
        if signs != [signer] {
            return Err(format!(
                "the gateway signs with {signs:?}, expected {signer}"
            ));
        }
        Ok(())
    }
}

/// Killed (SIGKILL) right before any write of any stage is answered, the next apply finishes
/// the same rotation (`common::kill_sweep`).
#[test]
fn a_rotation_killed_at_any_write_of_any_stage_is_finished_by_the_next_apply() {
    common::kill_sweep(&[Step::Publish, Step::Switch, Step::Retire]);
}

const CREDENTIALS: &str = "/mailinfra/relay/ses-smtp/credentials";
const SMTP_USER: &str = "mailinfra-relay-ses-smtp";

/// The SMTP user's access keys, the one the stored credentials name, when they were stored,
/// and the running instances with their launch times.
struct Smtp {
    keys: Vec<String>,
    stored: Option<String>,
    stored_at: Option<i64>,
    running: Vec<(String, i64)>,
}

async fn smtp(acct: &Account) -> Smtp {
    let keys = acct.access_key_ids(SMTP_USER).await;
    let described = acct
        .ssm(R)
        .describe_parameters()
        .parameter_filters(
            ParameterStringFilter::builder()
                .key("Name")
                .option("Equals")
                .values(CREDENTIALS)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let p = described.parameters().first();
    let stored = p.and_then(|p| p.description()).and_then(|d| {
        d.split_whitespace()
            .find(|w| w.starts_with("AKIA") || w.starts_with("ASIA"))
            .map(str::to_owned)
    });
    let stored_at = p.and_then(|p| p.last_modified_date()).map(|d| d.secs());
    let running = acct.running_instances().await;
    Smtp {
        keys,
        stored,
        stored_at,
        running,
    }
}

/// One key, the stored password its own, and the one running instance launched after it was
/// stored (so it read it at boot).
fn settled(s: &Smtp) -> Result<(), String> {
    if s.keys.len() != 1 || s.stored.as_ref() != s.keys.first() {
        return Err(format!("keys {:?}, stored {:?}", s.keys, s.stored));
    }
    match (s.running.as_slice(), s.stored_at) {
        ([(_, launched)], Some(at)) if *launched >= at => Ok(()),
        (running, at) => Err(format!(
            "running {running:?}, credentials stored at {at:?}: the instance must boot after"
        )),
    }
}

#[tokio::test]
async fn smtp_credentials_rotate_through_a_second_key_and_a_new_instance() {
    let acct = Account::new();
    acct.create_zone("example.com").await;
    acct.write("b.yaml", SES_RELAY);
    apply(&acct, "b.yaml");
    let before = smtp(&acct).await;
    settled(&before).unwrap();

    let run = acct.mailinfra(&["rotate", "smtp-credentials", "b.yaml", "--yes"]);
    ok(&run, "rotate");
    assert!(run.stdout.contains("rotation asked for"), "{}", run.stdout);
    clean(&acct, "b.yaml");
    let after = smtp(&acct).await;
    settled(&after).unwrap();
    assert_ne!(after.keys, before.keys, "a new key");
    assert_ne!(after.running[0].0, before.running[0].0, "a new instance");

    // A direct gateway has none to rotate.
    acct.write("d.yaml", GATEWAY);
    let run = acct.mailinfra(&["rotate", "smtp-credentials", "d.yaml", "--yes"]);
    assert_ne!(run.code, 0);
    assert!(
        run.stderr.contains("no SES SMTP credentials"),
        "{}",
        run.stderr
    );
}

/// The SMTP credentials' rotation, as the sweep below runs it.
#[derive(Debug, Clone, Copy)]
struct SmtpRotation;

impl common::Sweep for SmtpRotation {
    fn args(self) -> Vec<&'static str> {
        vec!["rotate", "smtp-credentials", "b.yaml", "--yes"]
    }

    async fn before(self, acct: &Account) -> Result<String, String> {
        let zone = acct.create_zone("example.com").await;
        acct.write("b.yaml", SES_RELAY);
        let run = acct.mailinfra(&["apply", "b.yaml", "--yes"]);
        (run.code == 0)
            .then_some(zone)
            .ok_or_else(|| format!("apply before the rotation: {}", run.stderr))
    }

    async fn finished(self, acct: &Account, _zone: &str) -> Result<(), String> {
        let mid = smtp(acct).await;
        if mid.keys.len() > 2 {
            return Err(format!("{} keys after the kill", mid.keys.len()));
        }
        common::apply_then_clean(acct)?;
        settled(&smtp(acct).await)
    }
}

/// Killed right before any write of the SMTP credentials' rotation is answered: never more
/// than IAM's two keys, and the next apply leaves one key, its password stored, and an
/// instance that booted after it was.
#[test]
fn an_smtp_credentials_rotation_killed_at_any_write_is_finished_by_the_next_apply() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let ops = rt.block_on(async {
        let acct = Account::new();
        common::Sweep::before(SmtpRotation, &acct).await.unwrap();
        common::recorded_ops(&acct, &common::Sweep::args(SmtpRotation))
    });
    assert!(
        ops.iter().any(|o| o == "iam.CreateAccessKey")
            && ops.iter().any(|o| o == "iam.DeleteAccessKey"),
        "{ops:?}"
    );
    common::kill_sweep(&[SmtpRotation]);
}

/// Easy DKIM's key length changes through SES's own mechanism: `NextSigningKeyLength` is
/// set, the CNAMEs stay, and SES signs with the old key until it generates the next pair;
/// plan and status say so until then.
#[tokio::test]
async fn an_easy_dkim_key_length_change_waits_for_ses_to_generate_the_key() {
    let acct = Account::new();
    let zone = acct.create_zone("example.com").await;
    let short = "blueprint: relay\nregion: eu-west-1\ndomains:\n  - domain: example.com\n    send_via: [ses]\n    ses: { dkim: { easy: { key_length: 1024 } } }\n    dmarc: { policy: none }\n";
    acct.write("b.yaml", short);
    apply(&acct, "b.yaml");
    let ses = acct.ses(R);
    let dkim = |o: &aws_sdk_sesv2::operation::get_email_identity::GetEmailIdentityOutput| {
        let d = o.dkim_attributes().unwrap();
        (
            d.current_signing_key_length()
                .map(|k| k.as_str().to_owned()),
            d.next_signing_key_length().map(|k| k.as_str().to_owned()),
            d.tokens().to_vec(),
        )
    };
    let get = || {
        ses.get_email_identity()
            .email_identity("example.com")
            .send()
    };
    let (current, next, tokens) = dkim(&get().await.unwrap());
    assert_eq!(
        (current.as_deref(), next.as_deref()),
        (Some("RSA_1024_BIT"), Some("RSA_1024_BIT"))
    );
    let records = acct.records(&zone).await;

    acct.write(
        "b.yaml",
        &short.replace(
            " { dkim: { easy: { key_length: 1024 } } }",
            " { dkim: easy }",
        ),
    );
    let run = acct.mailinfra(&["plan", "b.yaml", "--detailed-exitcode"]);
    assert_eq!(run.code, 2, "{}", run.stdout);
    apply(&acct, "b.yaml");
    let (current, next, after) = dkim(&get().await.unwrap());
    assert_eq!(
        (current.as_deref(), next.as_deref()),
        (Some("RSA_1024_BIT"), Some("RSA_2048_BIT"))
    );
    assert_eq!(after, tokens, "the CNAMEs stay");
    assert_eq!(acct.records(&zone).await, records, "DNS does not change");
    let plan = clean(&acct, "b.yaml");
    assert!(
        plan.stdout
            .contains("1024-bit key until SES generates the 2048-bit one"),
        "{}",
        plan.stdout
    );
    let status = acct.mailinfra(&["status", "b.yaml"]);
    assert!(
        status
            .stdout
            .contains("signing with a 1024-bit key; SES generates a 2048-bit one next"),
        "{}",
        status.stdout
    );

    // SES generates the next key pair (its own schedule; the emulator's hook stands for it).
    acct.emulator(
        "POST",
        &format!(
            "/_mailinfra/ses/generate-dkim-key?account={}&region={R}&domain=example.com",
            acct.id
        ),
        "",
    );
    let plan = clean(&acct, "b.yaml");
    assert!(!plan.stdout.contains("1024-bit"), "{}", plan.stdout);
    let status = acct.mailinfra(&["status", "b.yaml"]);
    assert!(
        status.stdout.contains("signing with a 2048-bit key"),
        "{}",
        status.stdout
    );
}

/// `destroy` in the middle of a rotation removes both keys and every DKIM record.
#[tokio::test]
async fn destroy_during_a_rotation_removes_both_keys() {
    let acct = Account::new();
    let zone = acct.create_zone("example.com").await;
    acct.write("b.yaml", GATEWAY);
    apply(&acct, "b.yaml");
    ok(
        &acct.mailinfra(&["rotate", "gateway-dkim", "b.yaml", "--yes"]),
        "rotate",
    );
    assert_eq!(keys(&acct).await.len(), 2);
    ok(
        &acct.mailinfra(&["destroy", "b.yaml", "--yes", "--release-ip"]),
        "destroy",
    );
    assert!(keys(&acct).await.is_empty());
    assert!(dkim_records(&acct, &zone).await.is_empty());
}

/// Once an administrator has applied with the bootstrap role, CI's `apply-after-bootstrap`
/// role, which may change no IAM resource, carries a whole rotation out: the gateway's role
/// may read every key of its blueprint, so the switch needs no new role policy.
#[tokio::test]
async fn a_rotation_needs_no_iam_change() {
    let acct = Account::new();
    let zone = acct.create_zone("example.com").await;
    acct.write("b.yaml", GATEWAY);
    acct.under_role("bootstrap");
    apply(&acct, "b.yaml");
    acct.under_role("apply-after-bootstrap");
    ok(
        &acct.mailinfra(&["rotate", "gateway-dkim", "b.yaml", "--yes"]),
        "rotate",
    );
    let new = format!("mta1-{}", today());
    backdate(&acct, &new, 301).await;
    let run = apply(&acct, "b.yaml");
    assert!(!run.stdout.contains("gateway.role"), "{}", run.stdout);
    assert_eq!(signing(&acct).await, std::slice::from_ref(&new));
    backdate(&acct, "mta1", 8 * DAY).await;
    apply(&acct, "b.yaml");
    assert_eq!(dkim_records(&acct, &zone).await, published(&[&new]));
}
