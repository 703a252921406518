//! The command line as a person or a pipeline meets it: snapshots of exit code, stdout and
//! stderr together (uv's style) for help, errors, plans in every format, missing credentials
//! and runs without a terminal; and golden files for the JSON formats, which must change only
//! with their version.

mod common;

use common::{Account, Run};

/// Exit code, stdout and stderr in one text, with what changes from run to run replaced.
fn shot(run: &Run, acct: Option<&Account>) -> String {
    let mut text = format!(
        "exit: {}\n--- stdout\n{}--- stderr\n{}",
        run.code, run.stdout, run.stderr
    );
    if let Some(a) = acct {
        text = text.replace(&a.dir.path().display().to_string(), "[DIR]");
    }
    normalize(&text)
}

/// Replaces ids that differ per run: hosted zones, change ids, checksums, SES tokens.
fn normalize(text: &str) -> String {
    let mut out = String::new();
    for word in text.split_inclusive(|c: char| !(c.is_ascii_alphanumeric())) {
        let (w, tail) = word.split_at(
            word.trim_end_matches(|c: char| !c.is_ascii_alphanumeric())
                .len(),
        );
        // A hosted zone id may happen to have no digit (one in a thousand or so of
        // the emulator's 21-letter ids): a long one is an id either way.
        let upper_id = w.len() >= 13
            && w.chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
            && (w.chars().any(|c| c.is_ascii_digit()) || w.len() >= 18);
        let hex64 = w.len() == 64 && w.chars().all(|c| c.is_ascii_hexdigit());
        let token = w.len() == 32
            && w.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        out.push_str(if upper_id {
            "[ID]"
        } else if hex64 {
            "[SHA256]"
        } else if token {
            "[TOKEN]"
        } else {
            w
        });
        out.push_str(tail);
    }
    out
}

fn bin(args: &[&str], env: &[(&str, &str)]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = std::process::Command::new(common::binary());
    cmd.args(args)
        .current_dir(dir.path())
        .env_clear()
        .env("HOME", dir.path());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.stdin(std::process::Stdio::null()).output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn help() {
    insta::assert_snapshot!("help", shot(&bin(&["--help"], &[]), None));
    insta::assert_snapshot!("plan_help", shot(&bin(&["plan", "--help"], &[]), None));
    insta::assert_snapshot!("apply_help", shot(&bin(&["apply", "--help"], &[]), None));
}

#[test]
fn usage_errors_exit_1_not_2() {
    // 2 means "changes present"; a usage error must not look like it.
    let run = bin(&["plan", "--colour"], &[]);
    assert_eq!(run.code, 1);
    insta::assert_snapshot!("usage_error", shot(&run, None));
}

#[test]
fn invalid_blueprint() {
    let acct = Account::new();
    acct.write("b.yaml", "blueprint: acme\ndomains:\n  - domain: example.com\n    dmarc: { policy: none, pct: 50 }\n    spf: { al: fail }\n");
    insta::assert_snapshot!(
        "invalid_blueprint",
        shot(&acct.mailinfra(&["validate", "b.yaml"]), Some(&acct))
    );
}

#[test]
fn missing_credentials_is_one_clear_sentence() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("b.yaml"), "blueprint: acme\ndomains: []\n").unwrap();
    let out = std::process::Command::new(common::binary())
        .args(["plan", "b.yaml"])
        .current_dir(dir.path())
        .env_clear()
        .env("HOME", dir.path())
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ENDPOINT_URL", common::endpoint())
        .output()
        .unwrap();
    let run = Run {
        code: out.status.code().unwrap(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    insta::assert_snapshot!("missing_credentials", shot(&run, None));
}

const BLUEPRINT: &str = "blueprint: acme\nregion: eu-west-1\ndomains:\n  - domain: example.com\n    spf: { include: [_spf.google.com], all: fail }\n    dmarc: { policy: none, rua: [mailto:dmarc@example.com] }\n  - domain: example.org\n    send_via: [ses]\n    ses: { mail_from: bounce.example.org }\n";

#[tokio::test]
async fn plan_in_every_format() {
    let acct = Account::new();
    acct.create_zone("example.com").await;
    acct.create_zone("example.org").await;
    acct.write("b.yaml", BLUEPRINT);
    insta::assert_snapshot!(
        "plan_text",
        shot(&acct.mailinfra(&["plan", "b.yaml"]), Some(&acct))
    );
    insta::assert_snapshot!(
        "plan_markdown",
        shot(
            &acct.mailinfra(&["plan", "b.yaml", "--format", "markdown"]),
            Some(&acct)
        )
    );
    // The golden JSON: a field that changes without the version changing fails here.
    let json = acct.mailinfra(&["plan", "b.yaml", "--format", "json"]);
    assert_eq!(json.code, 0);
    insta::assert_snapshot!("plan_json_v4", normalize(&json.stdout));
    assert_eq!(
        json.stdout,
        acct.mailinfra(&["plan", "b.yaml", "--json"]).stdout
    );
}

#[tokio::test]
async fn status_json_golden() {
    let acct = Account::new();
    acct.create_zone("example.org").await;
    acct.write("b.yaml", BLUEPRINT.replace("  - domain: example.com\n    spf: { include: [_spf.google.com], all: fail }\n    dmarc: { policy: none, rua: [mailto:dmarc@example.com] }\n", "").as_str());
    assert_eq!(acct.mailinfra(&["apply", "b.yaml", "--yes"]).code, 0);
    let run = acct.mailinfra(&["status", "b.yaml", "--json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let mut v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    v["domains"][0]["last_checked"] = serde_json::json!("[TIME]");
    // When SES last generated the Easy DKIM key: the time of the emulator's.
    let dkim = v["domains"][0]["dkim"].as_str().unwrap().to_owned();
    let (head, tail) = dkim.split_once("generated a key ").unwrap();
    let rest = tail.split_once(')').map_or("", |(_, r)| r);
    v["domains"][0]["dkim"] = serde_json::json!(format!("{head}generated a key [TIME]){rest}"));
    insta::assert_snapshot!("status_json_v3", serde_json::to_string_pretty(&v).unwrap());
}

#[tokio::test]
async fn without_a_terminal_apply_asks_for_yes_and_nothing_is_coloured() {
    let acct = Account::new();
    acct.create_zone("example.com").await;
    acct.write(
        "b.yaml",
        "blueprint: acme\ndomains:\n  - domain: example.com\n    dmarc: { policy: none }\n",
    );
    let run = acct.mailinfra(&["apply", "b.yaml"]);
    assert_eq!(run.code, 1);
    assert!(
        !run.stdout.contains('\x1b') && !run.stderr.contains('\x1b'),
        "no colour without a terminal"
    );
    insta::assert_snapshot!("apply_without_terminal", shot(&run, Some(&acct)));
    assert_eq!(
        acct.requests().get("route53.ChangeResourceRecordSets"),
        None,
        "nothing was changed"
    );

    let coloured = acct.mailinfra(&["plan", "b.yaml", "--color", "always"]);
    assert!(
        coloured.stdout.contains("\x1b[32m+\x1b[0m"),
        "{:?}",
        coloured.stdout
    );
    let never = acct.mailinfra(&["plan", "b.yaml", "--color", "never"]);
    assert!(!never.stdout.contains('\x1b'));
}

/// The man page names a page per command (`mailinfra-plan(1)`); `man --dir` writes every one
/// of them, so none points nowhere.
#[test]
fn every_man_page_the_main_page_names_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("man1");
    let run = bin(&["man", "--dir", out.to_str().unwrap()], &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let main = std::fs::read_to_string(out.join("mailinfra.1")).unwrap();
    assert_eq!(
        main,
        bin(&["man"], &[]).stdout,
        "the same page as on stdout"
    );
    let named: Vec<&str> = main
        .split("mailinfra\\-")
        .skip(1)
        .filter_map(|rest| rest.split_once("(1)").map(|(name, _)| name))
        .collect();
    assert!(named.len() >= 10, "{named:?}");
    for name in named {
        let page = out.join(format!("mailinfra-{name}.1"));
        let text = std::fs::read_to_string(&page)
            .unwrap_or_else(|_| panic!("{} is named but not written", page.display()));
        assert!(text.contains(&format!("mailinfra\\-{name}")), "{name}");
    }
}
