//! `validate` and invalid blueprints through the binary: every problem at once, exit 1, and
//! not one request to AWS.

mod common;

use common::Account;

const BROKEN: &str = r#"blueprint: Acme Mail
ttl: 5
domains:
  - domain: example.com
    tll: 300
    spf: { include: [a.test, b.test, c.test, d.test, e.test, f.test, g.test, h.test, i.test, j.test, k.test] }
    dmarc: { policy: none, pct: 50 }
  - domain: mail.example.org
    zone: example.com
    dmarc: { policy: maybe }
"#;

#[tokio::test]
async fn an_invalid_blueprint_lists_every_problem_and_sends_nothing() {
    let acct = Account::new();
    acct.write("b.yaml", BROKEN);
    for cmd in ["validate", "plan", "apply", "destroy"] {
        let run = acct.mailinfra(
            &[cmd, "b.yaml", "--yes"][..if cmd == "validate" || cmd == "plan" {
                2
            } else {
                3
            }],
        );
        assert_eq!(run.code, 1, "{cmd}");
        for expected in [
            "b.yaml:1:12: blueprint: `Acme Mail` is not a valid blueprint name",
            "b.yaml:2:6: ttl: TTL 5 is out of range",
            "b.yaml:5:5: domains[0]: unknown field `tll`",
            "= hint: did you mean `ttl`?",
            "b.yaml:6:10: domains[0].spf: SPF needs 11 DNS lookups",
            "b.yaml:7:28: domains[0].dmarc: DMARC tag `pct` was removed by RFC 9989",
            "b.yaml:8:13: domains[1].domain: `mail.example.org` is outside its zone `example.com`",
            "b.yaml:10:22: domains[1].dmarc.policy: `maybe` is not one of none, quarantine, reject",
            "7 problems in b.yaml; nothing was sent to AWS",
        ] {
            assert!(
                run.stderr.contains(expected),
                "{cmd}: missing {expected:?} in:\n{}",
                run.stderr
            );
        }
        assert_eq!(run.stdout, "", "{cmd}");
    }
    assert_eq!(acct.request_total(), 0, "{:?}", acct.requests());

    // The same account does send requests once the blueprint is valid, so the count can fail.
    acct.write("ok.yaml", "blueprint: acme\ndomains: []\n");
    assert_eq!(acct.mailinfra(&["plan", "ok.yaml"]).code, 0);
    assert!(acct.request_total() > 0);
}

#[test]
fn validate_needs_no_credentials_or_network() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("b.yaml"),
        "blueprint: acme\ndomains:\n  - domain: example.com\n    dmarc: { policy: none }\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mailinfra"))
        .args(["validate", "b.yaml"])
        .current_dir(dir.path())
        .env_clear()
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "b.yaml: blueprint `acme` is valid: 1 domain(s), 1 record(s) in 1 zone(s)\n"
    );
}
