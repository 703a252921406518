//! The gateway's DKIM key rotation against the emulator (docs/rotation.md): each stage one
//! apply, decided from what SSM and Route 53 hold. Time passing is what AWS holds too: a
//! stage's date in the key's description is moved back through SSM's own PutParameter, as a
//! day passing would leave it.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_ec2::types::{Filter, InstanceAttributeName};
use aws_sdk_ssm::types::{ParameterStringFilter, ParameterType};
use base64::Engine as _;
use common::{Account, GATEWAY, Run};
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

/// Moves a key's recorded `published` or `since` date back by `secs`, as time passing would.
async fn backdate(acct: &Account, selector: &str, secs: i64) {
    let name = format!("/mailinfra/relay/dkim/{selector}/public");
    let ssm = acct.ssm(R);
    let value = ssm.get_parameter().name(&name).send().await.unwrap();
    let value = value.parameter().unwrap().value().unwrap().to_owned();
    let mut meta = keys(acct).await.remove(selector).unwrap();
    for t in [&mut meta.created, &mut meta.published, &mut meta.since] {
        if let Some(t) = t.as_mut() {
            *t -= secs;
        }
    }
    ssm.put_parameter()
        .name(&name)
        .value(value)
        .r#type(ParameterType::String)
        .description(meta.description())
        .overwrite(true)
        .send()
        .await
        .unwrap();
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

/// The key parameter each running gateway instance's boot script fetches.
async fn signing(acct: &Account) -> Vec<String> {
    let ec2 = acct.ec2(R);
    let out = ec2
        .describe_instances()
        .filters(
            Filter::builder()
                .name("tag:mailinfra:blueprint")
                .values("relay")
                .build(),
        )
        .filters(
            Filter::builder()
                .name("instance-state-name")
                .values("running")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let mut found = Vec::new();
    for i in out.reservations().iter().flat_map(|r| r.instances()) {
        let ud = ec2
            .describe_instance_attribute()
            .instance_id(i.instance_id().unwrap())
            .attribute(InstanceAttributeName::UserData)
            .send()
            .await
            .unwrap();
        let packed = base64::engine::general_purpose::STANDARD
            .decode(ud.user_data().unwrap().value().unwrap())
            .unwrap();
        let mut script = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&packed[..]), &mut script)
            .unwrap();
        let line = script
            .lines()
            .find(|l| l.starts_with("KEY_PARAMETER="))
            .unwrap();
        found.push(
            line.trim_start_matches("KEY_PARAMETER='/mailinfra/relay/dkim/")
                .trim_end_matches("/private'")
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
    apply(&acct, "b.yaml");
    let new = format!("mta1-{}", today());
    assert_eq!(dkim_records(&acct, &zone).await, published(&["mta1", &new]));
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
