//! The run lock (one apply or destroy of a blueprint at a time) and Ctrl-C during apply,
//! against the emulator with the real binary.

mod common;

use std::time::{Duration, Instant};

use common::{Account, GATEWAY};

const R: &str = "eu-west-1";
const LOCKS: &str = "/mailinfra/relay/lock";

/// The lock parameters left in the account: (name, value).
async fn locks(acct: &Account) -> Vec<(String, String)> {
    let out = acct
        .ssm(R)
        .get_parameters_by_path()
        .path(LOCKS)
        .send()
        .await
        .unwrap();
    out.parameters()
        .iter()
        .map(|p| (p.name().unwrap().to_owned(), p.value().unwrap().to_owned()))
        .collect()
}

async fn hold(acct: &Account, n: u32, since: &str, expires: &str) {
    let value = serde_json::json!({
        "command": "apply",
        "by": "pid 7 on build-3",
        "since": since,
        "expires": expires,
    });
    acct.ssm(R)
        .put_parameter()
        .name(format!("{LOCKS}/{n}"))
        .value(value.to_string())
        .r#type(aws_sdk_ssm::types::ParameterType::String)
        .send()
        .await
        .unwrap();
}

/// Requests of the account that change something (not reads, not the lock).
fn writes(acct: &Account) -> Vec<String> {
    acct.requests()
        .into_keys()
        .filter(|op| {
            let name = op.split('.').nth(1).unwrap_or("");
            !["Describe", "Get", "List"]
                .iter()
                .any(|p| name.starts_with(p))
        })
        .collect()
}

#[tokio::test]
async fn a_held_lock_stops_apply_before_it_reads_or_writes_and_names_the_holder() {
    let acct = Account::new();
    acct.create_zone("example.com").await;
    acct.write("b.yaml", GATEWAY);
    hold(&acct, 1, "2026-12-02T10:00:00Z", "2999-01-01T00:00:00Z").await;

    let run = acct.mailinfra(&["apply", "b.yaml", "--yes"]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains(
            "another apply holds the lock since 2026-12-02T10:00:00Z (pid 7 on build-3); it expires at 2999-01-01T00:00:00Z"
        ),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("--lock-timeout"), "{}", run.stderr);
    assert!(!run.stderr.contains("reading AWS"), "{}", run.stderr);
    // Only the zone this test made and the lock it put are there: apply wrote nothing.
    let w = writes(&acct);
    assert!(
        w.iter()
            .all(|op| op == "route53.CreateHostedZone" || op == "ssm.PutParameter"),
        "{w:?}"
    );
    assert_eq!(acct.requests().get("ssm.PutParameter"), Some(&1));
    assert_eq!(locks(&acct).await.len(), 1, "the holder's lock stays");

    let run = acct.mailinfra(&["destroy", "b.yaml", "--yes"]);
    assert_eq!(
        run.code, 1,
        "destroy waits for the lock too: {}",
        run.stderr
    );
    assert!(
        run.stderr.contains("another apply holds the lock"),
        "{}",
        run.stderr
    );
}

#[tokio::test]
async fn an_expired_lock_is_taken_over_and_every_lock_is_given_back() {
    let acct = Account::new();
    acct.create_zone("example.com").await;
    acct.write("b.yaml", GATEWAY);
    hold(&acct, 4, "2026-12-02T10:00:00Z", "2026-12-02T10:30:00Z").await;

    let run = acct.mailinfra(&["apply", "b.yaml", "--yes"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr
            .contains("took over the lock /mailinfra/relay/lock/4: its run has ended"),
        "{}",
        run.stderr
    );
    assert_eq!(locks(&acct).await, Vec::<(String, String)>::new());
    let run = acct.mailinfra(&["destroy", "b.yaml", "--yes"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(locks(&acct).await, Vec::<(String, String)>::new());
}

#[tokio::test]
async fn the_lock_of_a_killed_run_on_this_machine_is_taken_over_at_once() {
    let acct = Account::new();
    acct.create_zone("example.com").await;
    acct.write("b.yaml", GATEWAY);
    acct.delay("ec2.AllocateAddress", 20.0);
    let mut child = acct.spawn(&["apply", "b.yaml", "--yes"]);
    let start = Instant::now();
    while !acct.requests().contains_key("ec2.AllocateAddress") {
        assert!(start.elapsed() < Duration::from_secs(30), "never allocated");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    child.kill().unwrap(); // SIGKILL: the lock stays behind
    let _ = child.wait();
    acct.delay("ec2.AllocateAddress", 0.0);
    assert_eq!(locks(&acct).await.len(), 1);

    let run = acct.mailinfra(&["apply", "b.yaml", "--yes"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr
            .contains("took over the lock /mailinfra/relay/lock/1: its run has ended"),
        "{}",
        run.stderr
    );
    assert_eq!(locks(&acct).await, Vec::<(String, String)>::new());
}

#[tokio::test]
async fn a_second_apply_with_lock_timeout_waits_and_then_finds_nothing_to_do() {
    let acct = Account::new();
    acct.create_zone("example.com").await;
    acct.write("b.yaml", GATEWAY);
    acct.delay("ec2.AllocateAddress", 3.0);
    let first = acct.spawn(&["apply", "b.yaml", "--yes"]);
    // The second starts once the first holds the lock.
    let start = Instant::now();
    while locks(&acct).await.is_empty() {
        assert!(start.elapsed() < Duration::from_secs(20), "no lock taken");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let second = acct.spawn(&["apply", "b.yaml", "--yes", "--lock-timeout", "2m"]);
    let (first, second) = (
        first.wait_with_output().unwrap(),
        second.wait_with_output().unwrap(),
    );
    let text = |o: &std::process::Output| {
        format!(
            "{}\n{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    };
    assert!(first.status.success(), "{}", text(&first));
    assert!(second.status.success(), "{}", text(&second));
    assert!(
        text(&second).contains("waiting for the lock"),
        "{}",
        text(&second)
    );
    assert!(text(&second).contains("No changes"), "{}", text(&second));
    assert_eq!(acct.requests().get("ec2.RunInstances"), Some(&1));
    assert_eq!(acct.requests().get("ec2.AllocateAddress"), Some(&1));
}

#[tokio::test]
async fn ctrl_c_stops_after_the_step_in_flight_and_the_next_apply_finishes() {
    let acct = Account::new();
    let zone = acct.create_zone("example.com").await;
    acct.write("b.yaml", GATEWAY);
    acct.delay("ec2.AllocateAddress", 3.0);
    let child = acct.spawn(&["apply", "b.yaml", "--yes"]);
    let start = Instant::now();
    while !acct.requests().contains_key("ec2.AllocateAddress") {
        assert!(start.elapsed() < Duration::from_secs(30), "never allocated");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let kill = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("stopping after the step in flight"),
        "{stderr}"
    );
    assert!(
        stderr.contains("interrupted: stopped before gateway.eip.association"),
        "{stderr}"
    );
    // The step in flight finished; nothing after it started; the lock was given back.
    let requests = acct.requests();
    assert_eq!(requests.get("ec2.AllocateAddress"), Some(&1));
    assert_eq!(requests.get("ec2.AssociateAddress"), None, "{requests:?}");
    assert_eq!(
        requests.get("route53.ChangeResourceRecordSets"),
        None,
        "{requests:?}"
    );
    assert_eq!(locks(&acct).await, Vec::<(String, String)>::new());

    acct.delay("ec2.AllocateAddress", 0.0);
    let run = acct.mailinfra(&["apply", "b.yaml", "--yes"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let plan = acct.mailinfra(&["plan", "b.yaml", "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "{}\n{}", plan.stdout, plan.stderr);
    assert!(!acct.records(&zone).await.is_empty());
    assert_eq!(acct.requests().get("ec2.AllocateAddress"), Some(&1));
}

/// `-vv` traces every AWS call: service and operation, host, status, duration.
#[tokio::test]
async fn very_verbose_traces_every_aws_call() {
    let acct = Account::new();
    acct.create_zone("example.com").await;
    acct.write("b.yaml", GATEWAY);
    let before: u64 = acct.requests().values().sum();
    let run = acct.mailinfra(&["plan", "b.yaml", "-vv"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let made: u64 = acct.requests().values().sum::<u64>() - before;
    let traced: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("aws: "))
        .collect();
    assert_eq!(traced.len() as u64, made, "{}", run.stderr);
    let host = acct.endpoint.trim_start_matches("http://");
    assert!(
        traced.iter().any(
            |l| l.starts_with(&format!("aws: ec2.DescribeInstances {host} 200 "))
                && l.ends_with(" ms")
        ),
        "{traced:?}"
    );
    // Each service by the name its API uses, no spaces (not `route 53.ListHostedZones`).
    assert!(
        traced
            .iter()
            .any(|l| l.starts_with(&format!("aws: route53.ListHostedZones {host} 200 "))),
        "{traced:?}"
    );
    let quiet = acct.mailinfra(&["plan", "b.yaml", "-v"]);
    assert!(!quiet.stderr.contains("aws: "), "{}", quiet.stderr);
}
