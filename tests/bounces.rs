//! The gateway's hard-bounce list (issue 14, item 11) on the emulator: apply makes the log
//! group the gateway writes, the gateway's role may write only there, and `mailinfra bounces`
//! (under the plan role) lists what it wrote. The recorder itself runs with real Postfix in
//! tests/mail_path.rs.

mod common;

use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_cloudwatchlogs::types::InputLogEvent;
use common::{Account, GATEWAY};

const R: &str = "eu-west-1";
const GROUP: &str = "/mailinfra/relay/gateway/bounces";

fn event(ms: i64, recipient: &str, dsn: &str, at: &str) -> InputLogEvent {
    InputLogEvent::builder()
        .timestamp(ms)
        .message(
            serde_json::json!({
                "recipient": recipient,
                "dsn": dsn,
                "reason": format!("host mx.example.org said: 550 {dsn} <{recipient}>: User unknown"),
                "at": at,
                "queue_id": "3F2A1C",
            })
            .to_string(),
        )
        .build()
        .unwrap()
}

#[tokio::test]
async fn the_gateway_records_hard_bounces_and_bounces_lists_them() {
    let acct = Account::new();
    acct.create_zone("example.com").await;
    acct.write("b.yaml", GATEWAY);
    let before = acct.mailinfra(&["bounces", "b.yaml"]);
    assert_eq!(before.code, 1, "{}", before.stdout);
    assert!(
        before.stderr.contains("does not exist yet") && before.stderr.contains("mailinfra apply"),
        "{}",
        before.stderr
    );
    let run = acct.mailinfra(&["apply", "b.yaml", "--yes"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("gateway.bounce_log"), "{}", run.stdout);

    let root = acct.logs(R);
    let groups = root
        .describe_log_groups()
        .log_group_name_prefix(GROUP)
        .send()
        .await
        .unwrap();
    assert_eq!(groups.log_groups()[0].retention_in_days(), Some(365));
    let empty = acct.mailinfra(&["bounces", "b.yaml"]);
    assert_eq!(empty.code, 0, "{}", empty.stderr);
    assert!(empty.stdout.contains("No hard bounces"), "{}", empty.stdout);

    // The gateway's role, as its instance gets it, records bounces as record_bounces.py does.
    let gateway = aws_sdk_cloudwatchlogs::Client::new(
        &acct.config_with(acct.instance_credentials("mailinfra-relay-gateway"), R),
    );
    gateway
        .create_log_stream()
        .log_group_name(GROUP)
        .log_stream_name("mail.example.com-1")
        .send()
        .await
        .unwrap();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let day = 86_400_000;
    gateway
        .put_log_events()
        .log_group_name(GROUP)
        .log_stream_name("mail.example.com-1")
        .log_events(event(
            now - 10 * day,
            "old@example.org",
            "5.1.1",
            "2026-11-23T07:00:00Z",
        ))
        .log_events(event(
            now - day,
            "Gone@example.net",
            "5.1.1",
            "2026-12-02T07:00:00Z",
        ))
        .log_events(event(
            now - 3_600_000,
            "gone@example.net",
            "5.2.1",
            "2026-12-03T06:00:00Z",
        ))
        .log_events(
            InputLogEvent::builder()
                .timestamp(now - 60_000)
                .message("not a bounce")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    // Only its own log group.
    root.create_log_group()
        .log_group_name("/someone/else")
        .send()
        .await
        .unwrap();
    let refused = gateway
        .create_log_stream()
        .log_group_name("/someone/else")
        .log_stream_name("x")
        .send()
        .await
        .unwrap_err();
    assert!(
        format!("{refused:?}").contains("AccessDenied"),
        "{refused:?}"
    );

    let list = acct.mailinfra(&["bounces", "b.yaml"]);
    assert_eq!(list.code, 0, "{}", list.stderr);
    assert!(
        list.stdout.contains("2 address(es) bounced permanently"),
        "{}",
        list.stdout
    );
    // One line per address, the latest bounce of each, oldest first.
    let lines: Vec<&str> = list.stdout.lines().skip(1).collect();
    assert_eq!(lines.len(), 2, "{}", list.stdout);
    assert!(lines[0].contains("old@example.org"), "{}", list.stdout);
    assert!(
        lines[1].contains("gone@example.net") && lines[1].contains("5.2.1"),
        "{}",
        list.stdout
    );
    assert!(list.stderr.contains("1 event(s)"), "{}", list.stderr);

    let recent = acct.mailinfra(&["bounces", "b.yaml", "--since", "7d", "--json"]);
    assert_eq!(recent.code, 0, "{}", recent.stderr);
    let json: serde_json::Value = serde_json::from_str(&recent.stdout).unwrap();
    assert_eq!(json["format"], "mailinfra-bounces");
    let recipients: Vec<&str> = json["bounces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["recipient"].as_str().unwrap())
        .collect();
    assert_eq!(recipients, ["gone@example.net"]);

    let clean = acct.mailinfra(&["plan", "b.yaml", "--detailed-exitcode"]);
    assert_eq!(clean.code, 0, "{}\n{}", clean.stdout, clean.stderr);
}
