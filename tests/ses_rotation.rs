//! Rotating the BYODKIM key of an SES identity with overlap (docs/rotation.md, "SES
//! BYODKIM"): the new key's TXT is published and INSYNC before SES signs with it, the old TXT
//! stays `retire_after`, and a run killed anywhere is finished by the next apply.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::{Account, Run};
use mailinfra::kinds::rotation::{day, unix_now};
use mailinfra::kinds::ses::rotation::{KeyTag, Signer};

const REGION: &str = "eu-west-1";
const DOMAIN: &str = "example.net";
const BYO: &str = "blueprint: shop\nregion: eu-west-1\ndomains:\n  - domain: example.net\n    send_via: [ses]\n    ses: { dkim: { byodkim: { selector: mi1 } } }\n";

const DAY: i64 = 86_400;

fn ok(run: &Run, what: &str) {
    assert_eq!(run.code, 0, "{what}:\n{}\n{}", run.stdout, run.stderr);
}

/// The selector a rotation made today gets.
fn dated() -> String {
    format!("mi1-{}", day(unix_now()))
}

fn set(selectors: &[&str]) -> BTreeSet<String> {
    selectors.iter().map(|s| s.to_string()).collect()
}

async fn key_tag(acct: &Account) -> Option<KeyTag> {
    acct.ses_key_tag(REGION, DOMAIN).await
}

async fn backdate(acct: &Account, secs: i64) {
    acct.backdate_ses_key(REGION, DOMAIN, secs).await
}

/// A fresh account with the zone and `bp` applied: the zone id.
async fn applied(acct: &Account, bp: &str) -> String {
    let zone = acct.create_zone(DOMAIN).await;
    acct.write("b.yaml", bp);
    ok(
        &acct.mailinfra(&["apply", "b.yaml", "--yes"]),
        "first apply",
    );
    zone
}

/// The zone's TXT records as a resolver reads them: name -> text.
async fn dns(acct: &Account, zone: &str) -> BTreeMap<String, String> {
    acct.records(zone)
        .await
        .into_iter()
        .filter(|((_, t), _)| t == "TXT")
        .map(|((name, _), (_, values))| (name, mailinfra::mail::txt::text_of(&values[0])))
        .collect()
}

/// Messages signed as SES signs, checked by dkimpy (tests/mailpath/ses_dkim.py) against DNS
/// as it is at each moment.
#[derive(Default)]
struct Mail {
    signed: Vec<String>,
}

impl Mail {
    /// Signs one more message with the key SES holds, under the selector SES signs with
    /// (when `sign`), and verifies every message signed so far against the zone now: one
    /// verdict each, oldest first.
    async fn check(&mut self, acct: &Account, zone: &str, sign: bool) -> Vec<bool> {
        let signer = if sign {
            let key = acct
                .ses_private_key(REGION, DOMAIN)
                .expect("SES holds a BYODKIM key");
            serde_json::json!({ "selector": ses_selector(acct).await, "key": key })
        } else {
            serde_json::Value::Null
        };
        let input = serde_json::json!({
            "domain": DOMAIN,
            "sign": signer,
            "verify": self.signed,
            "dns": dns(acct, zone).await,
        });
        let out = common::python("mailpath/ses_dkim.py", &input.to_string());
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        if let Some(m) = v["signed"].as_str() {
            self.signed.push(m.to_owned());
        }
        v["valid"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b.as_bool().unwrap())
            .collect()
    }
}

/// The selectors whose DKIM TXT the zone holds for the domain.
async fn dkim_selectors(acct: &Account, zone: &str) -> BTreeSet<String> {
    let suffix = format!("._domainkey.{DOMAIN}");
    acct.records(zone)
        .await
        .keys()
        .filter(|(_, t)| t == "TXT")
        .filter_map(|(name, _)| name.strip_suffix(&suffix).map(str::to_owned))
        .filter(|s| !s.starts_with("_mailinfra"))
        .collect()
}

/// The selector SES signs the domain's mail with.
async fn ses_selector(acct: &Account) -> String {
    let id = acct
        .ses(REGION)
        .get_email_identity()
        .email_identity(DOMAIN)
        .send()
        .await
        .unwrap();
    let dkim = id.dkim_attributes().unwrap();
    assert_eq!(
        dkim.signing_attributes_origin().map(|o| o.as_str()),
        Some("EXTERNAL")
    );
    dkim.tokens()[0].clone()
}

#[tokio::test]
async fn a_new_byodkim_selector_is_published_before_ses_signs_with_it_and_the_old_one_stays() {
    let acct = Account::new();
    let zone = applied(&acct, BYO).await;
    acct.write("b.yaml", &BYO.replace("mi1", "mi2"));
    let ops = common::recorded_ops(&acct, &["apply", "b.yaml", "--yes"]);
    let at = |op: &str| ops.iter().position(|o| o == op);
    let put = at("ses.PutEmailIdentityDkimSigningAttributes").expect("SES is given a new key");
    let change = at("route53.ChangeResourceRecordSets").expect("DNS is changed");
    let insync = at("route53.GetChange").expect("DNS is waited for");
    assert!(
        change < insync && insync < put,
        "the new TXT is published and INSYNC before SES signs with its key: {ops:?}"
    );
    assert_eq!(ses_selector(&acct).await, "mi2");
    assert_eq!(
        dkim_selectors(&acct, &zone).await,
        BTreeSet::from(["mi1".to_owned(), "mi2".to_owned()]),
        "the old key stays published for mail signed before the switch"
    );
}

/// The whole rotation, through `mailinfra rotate ses-dkim`: one apply publishes the new key
/// and switches SES to it, the old TXT stays `retire_after`, a later apply removes it. At each
/// step dkimpy verifies what SES signs against what DNS publishes then.
#[tokio::test]
async fn a_byodkim_rotation_publishes_switches_then_retires() {
    let acct = Account::new();
    let zone = applied(&acct, BYO).await;
    let tag = key_tag(&acct)
        .await
        .expect("the identity is created with its tag");
    assert_eq!(tag.signing, Signer::Byodkim("mi1".into()));
    assert!(
        tag.since.is_some_and(|s| (s - unix_now()).abs() < 300),
        "{tag:?}"
    );
    let mut mail = Mail::default();
    assert_eq!(mail.check(&acct, &zone, true).await, [true]);

    let rotate = acct.mailinfra(&["rotate", "ses-dkim", "b.yaml", "--yes"]);
    ok(&rotate, "rotate ses-dkim");
    let new = dated();
    assert!(
        rotate
            .stdout
            .contains(&format!("rotating to `{new}` (asked for)")),
        "{}",
        rotate.stdout
    );
    assert_eq!(ses_selector(&acct).await, new);
    assert_eq!(dkim_selectors(&acct, &zone).await, set(&["mi1", &new]));
    let tag = key_tag(&acct).await.unwrap();
    assert_eq!(
        (tag.signing, tag.retiring),
        (
            Signer::Byodkim(new.clone()),
            Some(Signer::Byodkim("mi1".into()))
        )
    );
    // The message signed before the switch still verifies; the new key signs and verifies.
    assert_eq!(mail.check(&acct, &zone, true).await, [true, true]);

    let plan = acct.mailinfra(&["plan", "b.yaml", "--detailed-exitcode"]);
    assert_eq!(
        plan.code, 0,
        "nothing to do during the overlap:\n{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains(&format!(
            "DKIM key rotation of {DOMAIN}: signing with `{new}` since"
        )) && plan.stdout.contains("`mi1` stays published until"),
        "{}",
        plan.stdout
    );
    let status = acct.mailinfra(&["status", "b.yaml"]);
    assert!(
        status
            .stdout
            .contains(&format!("dkim key: signing with `{new}` since")),
        "{}",
        status.stdout
    );
    // A second rotation does not start while the old key retires.
    let again = acct.mailinfra(&["rotate", "ses-dkim", "b.yaml", "--yes"]);
    ok(&again, "rotate during the overlap");
    assert_eq!(ses_selector(&acct).await, new);
    assert!(
        again.stdout.contains("waits until the old key is retired"),
        "{}",
        again.stdout
    );

    backdate(&acct, 8 * DAY).await;
    let retire = acct.mailinfra(&["apply", "b.yaml", "--yes"]);
    ok(&retire, "the apply after retire_after");
    assert!(
        retire.stdout.contains("retiring `mi1`"),
        "{}",
        retire.stdout
    );
    assert_eq!(dkim_selectors(&acct, &zone).await, set(&[&new]));
    // Retired: the old key's signature no longer verifies; the new one's does.
    assert_eq!(mail.check(&acct, &zone, false).await, [false, true]);
    let clean = acct.mailinfra(&["plan", "b.yaml", "--detailed-exitcode"]);
    assert_eq!(clean.code, 0, "{}", clean.stdout);
    assert!(
        !clean.stdout.contains("DKIM key rotation"),
        "{}",
        clean.stdout
    );
}

#[tokio::test]
async fn rotate_every_rotates_a_byodkim_key_when_it_is_that_old() {
    let acct = Account::new();
    let bp = BYO.replace(
        "byodkim: { selector: mi1 }",
        "byodkim: { selector: mi1, rotate_every: 30d, retire_after: 2d }",
    );
    let zone = applied(&acct, &bp).await;
    let plan = acct.mailinfra(&["plan", "b.yaml", "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "a new key is not due:\n{}", plan.stdout);
    let status = acct.mailinfra(&["status", "b.yaml"]);
    assert!(
        status.stdout.contains("next rotation due"),
        "{}",
        status.stdout
    );

    backdate(&acct, 31 * DAY).await;
    let plan = acct.mailinfra(&["plan", "b.yaml", "--detailed-exitcode"]);
    assert_eq!(plan.code, 2, "{}\n{}", plan.stdout, plan.stderr);
    assert!(plan.stdout.contains("(rotate_every)"), "{}", plan.stdout);
    ok(
        &acct.mailinfra(&["apply", "b.yaml", "--yes"]),
        "the rotation",
    );
    assert_eq!(ses_selector(&acct).await, dated());
    assert_eq!(dkim_selectors(&acct, &zone).await, set(&["mi1", &dated()]));
    // retire_after: 2d.
    backdate(&acct, 3 * DAY).await;
    ok(
        &acct.mailinfra(&["apply", "b.yaml", "--yes"]),
        "the retirement",
    );
    assert_eq!(dkim_selectors(&acct, &zone).await, set(&[&dated()]));
}

/// Easy DKIM to BYODKIM and back: each switch publishes first where it can (the TXT before
/// SES signs with its key), and the old records stay `retire_after` either way. The first
/// switch goes through a saved plan (`plan --out`, then `apply PLAN`).
#[tokio::test]
async fn switching_between_easy_dkim_and_byodkim_keeps_the_old_records_while_they_retire() {
    let acct = Account::new();
    let zone = acct.create_zone(DOMAIN).await;
    let easy = BYO.replace("{ dkim: { byodkim: { selector: mi1 } } }", "{ dkim: easy }");
    acct.write("b.yaml", &easy);
    ok(&acct.mailinfra(&["apply", "b.yaml", "--yes"]), "Easy DKIM");
    let cnames = |records: &BTreeMap<(String, String), (i64, Vec<String>)>| {
        records
            .keys()
            .filter(|(n, t)| t == "CNAME" && n.ends_with(&format!("._domainkey.{DOMAIN}")))
            .count()
    };
    assert_eq!(cnames(&acct.records(&zone).await), 3);

    acct.write("b.yaml", BYO);
    ok(
        &acct.mailinfra(&["plan", "b.yaml", "--out", "p.json"]),
        "plan the switch",
    );
    let proxy = common::Proxy::start();
    proxy.set(serde_json::json!([]));
    ok(
        &acct.via(&proxy.url, &["apply", "p.json", "--yes"], &[]),
        "apply the saved plan",
    );
    let ops: Vec<String> = proxy.log().into_iter().map(|s| s.op).collect();
    let at = |op: &str| ops.iter().position(|o| o == op).unwrap();
    assert!(
        at("route53.GetChange") < at("ses.PutEmailIdentityDkimSigningAttributes"),
        "{ops:?}"
    );
    assert_eq!(ses_selector(&acct).await, "mi1");
    assert_eq!(
        cnames(&acct.records(&zone).await),
        3,
        "Easy DKIM's CNAMEs stay while they retire"
    );
    let mut mail = Mail::default();
    assert_eq!(mail.check(&acct, &zone, true).await, [true]);
    backdate(&acct, 8 * DAY).await;
    ok(
        &acct.mailinfra(&["apply", "b.yaml", "--yes"]),
        "retire the CNAMEs",
    );
    assert_eq!(cnames(&acct.records(&zone).await), 0);

    // Back to Easy DKIM: SES first (its tokens name the CNAMEs), the TXT retires after.
    acct.write("b.yaml", &easy);
    ok(
        &acct.mailinfra(&["apply", "b.yaml", "--yes"]),
        "back to Easy DKIM",
    );
    assert_eq!(cnames(&acct.records(&zone).await), 3);
    assert_eq!(dkim_selectors(&acct, &zone).await, set(&["mi1"]));
    assert_eq!(mail.check(&acct, &zone, false).await, [true]);
    let plan = acct.mailinfra(&["plan", "b.yaml", "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "{}", plan.stdout);
    backdate(&acct, 8 * DAY).await;
    ok(
        &acct.mailinfra(&["apply", "b.yaml", "--yes"]),
        "retire the TXT",
    );
    assert_eq!(dkim_selectors(&acct, &zone).await, set(&[]));
    assert_eq!(mail.check(&acct, &zone, false).await, [false]);
}

/// Which apply a kill sweep interrupts.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Step {
    /// `rotate ses-dkim`: the tag, the new TXT, the wait, SES given the key.
    Rotate,
    /// The apply after `retire_after`: the old TXT removed.
    Retire,
}

impl common::Sweep for Step {
    fn args(self) -> Vec<&'static str> {
        match self {
            Step::Rotate => vec!["rotate", "ses-dkim", "b.yaml", "--yes"],
            Step::Retire => vec!["apply", "b.yaml", "--yes", "--timeout=5m"],
        }
    }

    /// A fresh account right before the step: its zone id.
    async fn before(self, acct: &Account) -> Result<String, String> {
        let zone = acct.create_zone(DOMAIN).await;
        acct.write("b.yaml", BYO);
        let run = |args: &[&str]| {
            let r = acct.mailinfra(args);
            (r.code == 0)
                .then_some(())
                .ok_or_else(|| format!("{args:?} before the self: {}", r.stderr))
        };
        run(&["apply", "b.yaml", "--yes"])?;
        if self == Step::Retire {
            run(&["rotate", "ses-dkim", "b.yaml", "--yes"])?;
            backdate(acct, 8 * DAY).await;
        }
        Ok(zone)
    }

    /// After a run of the step killed at some request and one more `apply`: SES signs with the new
    /// key and DNS publishes what the self leaves (or, a rotation killed before it began, the old
    /// key alone), the key SES holds verifies against DNS, and nothing is left to do.
    async fn finished(self, acct: &Account, zone: &str) -> Result<(), String> {
        common::apply_then_clean(acct)?;
        let new = dated();
        let signs = ses_selector(acct).await;
        let published = dkim_selectors(acct, zone).await;
        let began = key_tag(acct)
            .await
            .is_some_and(|t| t.signing == Signer::Byodkim(new.clone()));
        let want = match self {
            Step::Rotate if !began => ("mi1".to_owned(), set(&["mi1"])),
            Step::Rotate => (new.clone(), set(&["mi1", &new])),
            Step::Retire => (new.clone(), set(&[&new])),
        };
        if (signs.clone(), published.clone()) != want {
            return Err(format!(
                "SES signs with {signs}, DNS publishes {published:?}; expected {want:?}"
            ));
        }
        if Mail::default().check(acct, zone, true).await != [true] {
            return Err(format!(
                "the key SES signs with ({signs}) does not verify against DNS"
            ));
        }
        Ok(())
    }
}

/// Killed (SIGKILL) right before any write of the rotation's apply or of the retirement's is
/// answered, the next apply finishes the same rotation: once its tag is written, SES ends on
/// the new key with its TXT published (never a key SES signs with unpublished, never the old
/// TXT removed before SES switched).
#[test]
fn a_byodkim_rotation_killed_at_any_write_is_finished_by_the_next_apply() {
    common::kill_sweep(&[Step::Rotate, Step::Retire]);
}

#[test]
fn rotate_ses_dkim_refuses_what_it_cannot_rotate() {
    let acct = Account::new();
    let easy = BYO.replace("{ dkim: { byodkim: { selector: mi1 } } }", "{ dkim: easy }");
    acct.write("easy.yaml", &easy);
    let run = acct.mailinfra(&["rotate", "ses-dkim", "easy.yaml", "--yes"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("no BYODKIM key to rotate"),
        "{}",
        run.stderr
    );
    acct.write("b.yaml", BYO);
    let run = acct.mailinfra(&["rotate", "ses-dkim", "b.yaml", "--domain", "other.example"]);
    assert!(
        run.stderr.contains("no SES identity `other.example`"),
        "{}",
        run.stderr
    );
    assert_eq!(acct.request_total(), 0, "refused before any AWS call");
}
