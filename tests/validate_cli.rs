//! `validate` and invalid blueprints through the binary: every problem at once, exit 1, and
//! not one request to AWS.

mod common;

use common::Account;

/// Problems of meaning: every one is reported at once.
const BROKEN: &str = r#"blueprint: Acme Mail
ttl: 5
domains:
  - domain: example.com
    ttl: 300
    spf: { include: [a.test, b.test, c.test, d.test, e.test, f.test, g.test, h.test, i.test, j.test, k.test] }
    dmarc: { policy: none, rua: [dmarc@example.com] }
  - domain: mail.example.org
    zone: example.com
    dmarc: { policy: none, fo: '2' }
"#;

#[tokio::test]
async fn an_invalid_blueprint_lists_every_problem_and_sends_nothing() {
    let acct = Account::new();
    acct.write("b.yaml", BROKEN);
    acct.write("typo.yaml", TYPO);
    for cmd in ["validate", "plan", "apply", "destroy"] {
        let args = |file| {
            let mut a = vec![cmd, file];
            if cmd == "apply" || cmd == "destroy" {
                a.push("--yes");
            }
            a
        };
        let run = acct.mailinfra(&args("b.yaml"));
        assert_eq!(run.code, 1, "{cmd}");
        for expected in [
            "b.yaml:1:12: blueprint: `Acme Mail` is not a valid blueprint name",
            "b.yaml:2:6: ttl: TTL 5 is out of range",
            "b.yaml:6:10: domains[0].spf: SPF needs 11 DNS lookups",
            "b.yaml:7:34: domains[0].dmarc.rua: `dmarc@example.com` must be a `mailto:` URI",
            "b.yaml:8:13: domains[1].domain: `mail.example.org` is outside its zone `example.com`",
            "b.yaml:10:32: domains[1].dmarc.fo: `2` must be `0`, `1`, `d` or `s`",
            "6 problems in b.yaml; nothing was sent to AWS",
        ] {
            assert!(
                run.stderr.contains(expected),
                "{cmd}: missing {expected:?} in:\n{}",
                run.stderr
            );
        }
        assert_eq!(run.stdout, "", "{cmd}");

        // A structural problem stops loading at the first, with its position and a hint.
        let run = acct.mailinfra(&args("typo.yaml"));
        assert_eq!(run.code, 1, "{cmd}");
        assert_eq!(
            run.stderr,
            "error: typo.yaml:4:5: domains[0]: unknown field `tll`\n  |\n4 |     tll: 300\n  |     ^\n  = hint: did you mean `ttl`?\n1 problem in typo.yaml; nothing was sent to AWS\n",
            "{cmd}"
        );
    }
    assert_eq!(acct.request_total(), 0, "{:?}", acct.requests());

    // The same account does send requests once the blueprint is valid, so the count can fail.
    acct.write("ok.yaml", "blueprint: acme\ndomains: []\n");
    assert_eq!(acct.mailinfra(&["plan", "ok.yaml"]).code, 0);
    assert!(acct.request_total() > 0);
}

const TYPO: &str = r#"blueprint: acme
domains:
  - domain: example.com
    tll: 300
"#;

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

/// Runs `validate` on `text` with its address space limited to 256 MB (prlimit, util-linux):
/// a blueprint that expanded without bounds would be killed or fail to allocate instead of
/// exiting 1. Returns the exit code and stderr.
fn validate_bounded(text: &str) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("b.yaml"), text).unwrap();
    let out = std::process::Command::new("prlimit")
        .arg(format!("--as={}", 256 << 20))
        .arg(env!("CARGO_BIN_EXE_mailinfra"))
        .args(["validate", "b.yaml"])
        .current_dir(dir.path())
        .env_clear()
        .output()
        .expect("prlimit (util-linux) runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Nine levels of nine-fold aliases: 9^9 (387 million) strings once expanded. Each level is
/// a top-level field, or (`in_list`) an entry of `adopt`.
fn billion_laughs(in_list: bool) -> String {
    let level = |i: usize, items: &str| {
        if in_list {
            format!("  - &a{i} [{items}]\n")
        } else if i == 0 {
            format!("adopt: &a0 [{items}]\n")
        } else {
            format!("x{i}: &a{i} [{items}]\n")
        }
    };
    let mut yaml = String::from(if in_list {
        "blueprint: acme\nadopt:\n"
    } else {
        "blueprint: acme\n"
    });
    yaml.push_str(&level(0, &["lol"; 9].join(", ")));
    for i in 1..9 {
        let alias = format!("*a{}", i - 1);
        yaml.push_str(&level(i, &[alias.as_str(); 9].join(", ")));
    }
    if !in_list {
        yaml.push_str("domains: *a8\n");
    }
    yaml
}

#[test]
fn alias_bombs_and_oversized_input_stop_with_the_limit_named() {
    // What the types accept, up to the alias limit: every domain an alias of the first, whose
    // DKIM list repeats one entry by alias (600,000 entries once expanded).
    let mut quadratic = String::from(
        "blueprint: acme\ndomains:\n  - &d\n    domain: example.com\n    dkim: [&e { selector: s, public_key: AAAA }",
    );
    quadratic.push_str(&", *e".repeat(1500));
    quadratic.push_str("]\n");
    quadratic.push_str(&"  - *d\n".repeat(400));
    let cases = [
        (
            quadratic,
            "b.yaml:16:5: domains[11].dkim[144]: the blueprint's aliases expand to too much: the alias expansion limit is 100000",
        ),
        (
            format!(
                "blueprint: acme\nadopt: {}{}\n",
                "[".repeat(5000),
                "]".repeat(5000)
            ),
            "b.yaml:2:40: adopt: the blueprint is nested too deeply: the nesting depth limit is 32",
        ),
        (
            format!("blueprint: acme\n# {}\n", "x".repeat(1 << 20)),
            "error: b.yaml: the blueprint is 1048595 bytes; the file size limit is 1048576 bytes (1 MB)",
        ),
        (
            "blueprint: acme\n---\nblueprint: other\n".into(),
            "b.yaml:2:1: found a second YAML document: the document count limit is 1",
        ),
        // Nested aliases stop at the first value of the wrong shape, before any expansion.
        (billion_laughs(false), "b.yaml:3:1: unknown field `x1`"),
        (
            billion_laughs(true),
            "b.yaml:3:9: adopt[0]: expected a text value",
        ),
    ];
    for (text, expected) in cases {
        let (code, stderr) = validate_bounded(&text);
        assert_eq!(code, Some(1), "{expected}: {stderr}");
        assert!(
            stderr.contains(expected),
            "missing {expected:?} in:\n{stderr}"
        );
        assert!(stderr.contains("1 problem in b.yaml"), "{stderr}");
    }
}

/// A misspelt region passed `validate` and failed later in an SDK error naming neither
/// region nor host. Now it is caught offline, with the region it most likely meant; a region
/// mailinfra does not know yet (AWS opens new ones) still passes.
#[tokio::test]
async fn a_misspelt_region_is_caught_before_any_request_with_a_suggestion() {
    let acct = Account::new();
    acct.write(
        "typo.yaml",
        "blueprint: acme\nregion: eu-wset-1\ndomains:\n  - domain: example.com\n    dmarc: { policy: none }\n",
    );
    acct.write(
        "new.yaml",
        "blueprint: acme\nregion: ap-southeast-9\ndomains:\n  - domain: example.com\n    dmarc: { policy: none }\n",
    );
    acct.write(
        "none.yaml",
        "blueprint: acme\ndomains:\n  - domain: example.com\n    dmarc: { policy: none }\n",
    );
    let run = acct.mailinfra(&["validate", "typo.yaml"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("typo.yaml:2:9: region: `eu-wset-1` is not an AWS region")
            && run.stderr.contains("did you mean `eu-west-1`?"),
        "{}",
        run.stderr
    );
    let run = acct.mailinfra(&["validate", "new.yaml"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let run = acct.mailinfra(&["plan", "none.yaml", "--region", "us-eats-1"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("`--region us-eats-1` is not an AWS region")
            && run.stderr.contains("did you mean `us-east-1`?"),
        "{}",
        run.stderr
    );
    assert!(acct.requests().is_empty(), "{:?}", acct.requests());
}

/// For pull requests: the problems as data, and as GitHub workflow annotations on the
/// blueprint's lines; the same problems as the text report.
#[tokio::test]
async fn validate_reports_as_json_and_as_github_annotations() {
    let acct = Account::new();
    acct.write("b.yaml", BROKEN);
    let text = acct.mailinfra(&["validate", "b.yaml"]);
    let problems = text.stderr.matches("\nerror: ").count() + 1;
    assert!(problems >= 5, "{}", text.stderr);

    let json = acct.mailinfra(&["validate", "b.yaml", "--format", "json"]);
    assert_eq!(json.code, 1, "{}", json.stderr);
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(doc["valid"], false);
    assert_eq!(doc["problems"].as_array().unwrap().len(), problems);
    assert_eq!(doc["problems"][0]["line"], 1);
    assert_eq!(doc["problems"][0]["col"], 12);
    assert_eq!(doc["problems"][0]["path"], "blueprint");

    let github = acct.mailinfra(&["validate", "b.yaml", "--format", "github"]);
    assert_eq!(github.code, 1, "{}", github.stderr);
    let lines: Vec<&str> = github.stdout.lines().collect();
    assert_eq!(lines.len(), problems, "{}", github.stdout);
    assert!(
        lines[0].starts_with(
            "::error file=b.yaml,line=1,col=12,title=mailinfra%3A blueprint::`Acme Mail` is not a valid blueprint name"
        ),
        "{}",
        lines[0]
    );
    assert!(lines.iter().all(|l| l.starts_with("::error file=b.yaml,")));

    acct.write(
        "ok.yaml",
        "blueprint: acme\ndomains:\n  - domain: example.com\n    dmarc: { policy: none }\n",
    );
    let ok = acct.mailinfra(&["validate", "ok.yaml", "--format", "json"]);
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    let doc: serde_json::Value = serde_json::from_str(&ok.stdout).unwrap();
    assert_eq!(doc["valid"], true);
    assert!(acct.requests().is_empty());
}
