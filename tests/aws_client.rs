//! The AWS client itself, through the real binary and the emulator: credentials from a
//! `credential_process` profile, the error for an SSO profile that is not logged in, the
//! per-attempt and per-call timeouts against a stalling emulator, and SES pacing that spends
//! one token per request sent.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use common::Account;

const BLUEPRINT: &str = "blueprint: acme\nregion: us-east-1\ndomains:\n  - domain: example.com\n    spf: { include: [_spf.google.com], all: fail }\n";

/// A secret that only the credential process knows: it must reach AWS and no output.
const PROCESS_SECRET: &str = "process-secret-4b1d9e";

#[tokio::test]
async fn a_credential_process_profile_works_end_to_end() {
    let acct = Account::new();
    acct.create_zone("example.com").await;
    acct.write("b.yaml", BLUEPRINT);
    let script = acct.write(
        "creds.sh",
        &format!(
            "#!/bin/sh\nprintf '%s' '{{\"Version\": 1, \"AccessKeyId\": \"{}\", \"SecretAccessKey\": \"{PROCESS_SECRET}\"}}'\n",
            acct.access_key()
        ),
    );
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let config = acct.write(
        "aws-config",
        &format!(
            "[profile ci]\ncredential_process = {}\nregion = us-east-1\n",
            script.display()
        ),
    );
    let config = config.to_str().unwrap();
    let keys = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"];

    // Without the profile there are no credentials at all: the keys really are gone.
    let arranged = acct.request_total();
    let none = acct.mailinfra_env(&["plan", "b.yaml"], &[("AWS_CONFIG_FILE", config)], &keys);
    assert_eq!(none.code, 1, "{none:?}");
    assert!(none.stderr.contains("no AWS credentials found"), "{none:?}");
    assert_eq!(acct.request_total(), arranged);

    let run = acct.mailinfra_env(
        &["--profile", "ci", "plan", "b.yaml"],
        &[("AWS_CONFIG_FILE", config)],
        &keys,
    );
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("example.com"), "{run:?}");
    // The emulator picks the account from the access key, so requests counted in this
    // account were signed with the key the process printed.
    assert!(
        acct.requests().get("route53.ListResourceRecordSets") >= Some(&1),
        "{:?}",
        acct.requests()
    );
    assert!(!run.stdout.contains(PROCESS_SECRET) && !run.stderr.contains(PROCESS_SECRET));
}

#[test]
fn an_sso_profile_without_a_cached_login_names_the_login_command() {
    let acct = Account::new();
    acct.write("b.yaml", BLUEPRINT);
    // HOME is the test's folder, so ~/.aws/sso/cache holds no token.
    let config = acct.write(
        "aws-config",
        "[profile dev]\nsso_session = corp\nsso_account_id = 111122223333\nsso_role_name = Admin\nregion = us-east-1\n\n[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = us-east-1\nsso_registration_scopes = sso:account:access\n",
    );
    let run = acct.mailinfra_env(
        &["--profile", "dev", "plan", "b.yaml"],
        &[("AWS_CONFIG_FILE", config.to_str().unwrap())],
        &["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"],
    );
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(
        run.stderr.trim_end(),
        "error: profile `dev` signs in through IAM Identity Center (SSO) and has no valid cached login: run `aws sso login --profile dev`"
    );
    assert_eq!(acct.request_total(), 0);
}

/// The first request `plan` sends for a blueprint without SES or a gateway.
const FIRST: &str = "route53.ListHostedZones";

#[tokio::test]
async fn a_stalled_response_is_cut_off_and_retried() {
    let acct = Account::new();
    acct.create_zone("example.com").await;
    acct.write("b.yaml", BLUEPRINT);
    acct.delay_times(FIRST, 20.0, 1);
    let start = Instant::now();
    let run = acct.mailinfra_env(
        &["plan", "b.yaml"],
        &[("MAILINFRA_AWS_ATTEMPT_TIMEOUT", "1")],
        &[],
    );
    let spent = start.elapsed();
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        acct.requests().get(FIRST),
        Some(&2),
        "{:?}",
        acct.requests()
    );
    assert!(spent < Duration::from_secs(10), "{spent:?}");
}

#[tokio::test]
async fn a_call_whose_every_attempt_stalls_fails_with_a_clear_error() {
    let acct = Account::new();
    acct.create_zone("example.com").await;
    acct.write("b.yaml", BLUEPRINT);
    acct.delay(FIRST, 30.0);

    // Every attempt times out: the retries are spent.
    let start = Instant::now();
    let run = acct.mailinfra_env(
        &["plan", "b.yaml"],
        &[("MAILINFRA_AWS_ATTEMPT_TIMEOUT", "0.5")],
        &[],
    );
    let spent = start.elapsed();
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr
            .contains("no response from AWS within 0.5 s in any of 5 attempts"),
        "{run:?}"
    );
    assert_eq!(
        acct.requests().get(FIRST),
        Some(&5),
        "{:?}",
        acct.requests()
    );
    assert!(spent < Duration::from_secs(25), "{spent:?}");

    // The bound on the whole call stops it sooner than the attempts would.
    let start = Instant::now();
    let run = acct.mailinfra_env(
        &["plan", "b.yaml"],
        &[
            ("MAILINFRA_AWS_ATTEMPT_TIMEOUT", "1"),
            ("MAILINFRA_AWS_OPERATION_TIMEOUT", "1.5"),
        ],
        &[],
    );
    let spent = start.elapsed();
    acct.delay(FIRST, 0.0);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr.contains(
            "no response from AWS within 1.5 s (the bound on one call, retries included)"
        ),
        "{run:?}"
    );
    assert!(spent < Duration::from_secs(5), "{spent:?}");
}

/// SES allows one request a second after a burst of 5 (`aws::SES_BURST`): at the real pace a
/// run's SES reads take (requests - 5) seconds, and each token taken without a request adds
/// one more.
#[tokio::test]
async fn ses_pacing_spends_one_token_per_request() {
    let acct = Account::new();
    acct.create_zone("example.com").await;
    let ses = acct.ses("us-east-1");
    // Identities the blueprint owns (tagged) and no longer names: plan reads each.
    for i in 0..6 {
        ses.create_email_identity()
            .email_identity(format!("other{i}.example.net"))
            .tags(
                aws_sdk_sesv2::types::Tag::builder()
                    .key("mailinfra:blueprint")
                    .value("acme")
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
    }
    acct.write(
        "b.yaml",
        "blueprint: acme\nregion: us-east-1\ndomains:\n  - domain: example.com\n    send_via: [ses]\n",
    );
    let before = acct.requests();
    let start = Instant::now();
    let run = acct.mailinfra_env(
        &["plan", "b.yaml"],
        &[("MAILINFRA_SES_REQUESTS_PER_SECOND", "1")],
        &[],
    );
    let spent = start.elapsed().as_secs_f64();
    assert_eq!(run.code, 0, "{run:?}");
    let after = acct.requests();
    let ses_requests: u64 = after
        .iter()
        .filter(|(op, _)| op.starts_with("ses."))
        .map(|(op, n)| n - before.get(op).copied().unwrap_or(0))
        .sum();
    // ListEmailIdentities, ListConfigurationSets, GetEmailIdentity x6 at least.
    assert!(ses_requests >= 8, "{after:?}");
    let paced = (ses_requests - 5) as f64;
    assert!(
        spent >= paced - 0.1 && spent < paced + 0.9,
        "{ses_requests} SES requests took {spent:.2} s; one token each would take {paced} s"
    );
}
