//! The gateway's to-dos only a person can do (the port-25 release, pointing senders at the
//! relay) repeat in every plan until the blueprint acknowledges them.

mod common;

use common::Account;

const GATEWAY: &str = "blueprint: relay
region: eu-west-1
gateway:
  hostname: mail.example.com
  relay_from: [10.0.0.0/16]
domains:
  - domain: example.com
    send_via: [gateway]
";

#[tokio::test]
async fn acknowledged_todos_leave_plans_and_status() {
    let acct = Account::new();
    acct.create_zone("example.com").await;
    let acknowledged = GATEWAY.replace(
        "  relay_from: [10.0.0.0/16]\n",
        "  relay_from: [10.0.0.0/16]\n  port25_released: true\n",
    );
    acct.write("b.yaml", GATEWAY);
    acct.write("ack.yaml", &acknowledged);
    let port25 = "Ask AWS to lift the port-25 restriction";
    let senders = "Point application instances at the gateway";
    let shows = |file: &str, cmd: &str| {
        let run = acct.mailinfra(&[cmd, file]);
        assert_eq!(run.code, 0, "{cmd} {file}: {}", run.stderr);
        (run.stdout.contains(port25), run.stdout.contains(senders))
    };

    // Plans (with changes: the first) repeat both to-dos until the blueprint acknowledges one.
    assert_eq!(shows("b.yaml", "plan"), (true, true));
    assert_eq!(shows("ack.yaml", "plan"), (false, true));
    let run = acct.mailinfra(&["apply", "b.yaml", "--yes"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(shows("b.yaml", "status"), (true, true));
    assert_eq!(shows("ack.yaml", "status"), (false, true));
    let clean = acct.mailinfra(&["plan", "ack.yaml", "--detailed-exitcode"]);
    assert_eq!(
        clean.code, 0,
        "acknowledging changes nothing in AWS: {}",
        clean.stdout
    );
}
