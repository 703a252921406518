//! The GitHub Action's steps (action/mailinfra-action.sh, which action.yml runs) against the
//! emulator: plan on a pull request (annotations, job summary, saved plan, `changes`
//! output), apply of that saved plan on merge, and the nightly drift check.

mod common;

use aws_sdk_route53::types::ChangeAction;
use common::{Account, Run, q};

const BLUEPRINT: &str = "blueprint: acme
domains:
  - domain: example.com
    spf: { include: [_spf.google.com] }
    dmarc: { policy: none }
";

fn step(acct: &Account, command: &str) -> Run {
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("action/mailinfra-action.sh");
    let out = acct
        .program(&script)
        .arg(command)
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("MAILINFRA", common::binary())
        .env("BLUEPRINT", "mail.yaml")
        .env("PLAN_FILE", "plan.json")
        .env("GITHUB_STEP_SUMMARY", acct.dir.path().join("summary.md"))
        .env("GITHUB_OUTPUT", acct.dir.path().join("output.txt"))
        .output()
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn take(acct: &Account, file: &str) -> String {
    let path = acct.dir.path().join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let _ = std::fs::remove_file(path);
    text
}

#[tokio::test]
async fn plan_then_apply_the_saved_plan_then_drift_is_caught() {
    let acct = Account::new();
    let zone = acct.create_zone("example.com").await;

    // An invalid blueprint: annotations on its lines, and the step fails.
    acct.write("mail.yaml", "blueprint: Acme Mail\ndomains: []\n");
    let bad = step(&acct, "plan");
    assert_ne!(bad.code, 0);
    assert!(
        bad.stdout
            .starts_with("::error file=mail.yaml,line=1,col=12,"),
        "{}",
        bad.stdout
    );

    // Pull request: plan, saved, in the job summary, `changes=true`.
    acct.write("mail.yaml", BLUEPRINT);
    let plan = step(&acct, "plan");
    assert_eq!(plan.code, 0, "{}\n{}", plan.stdout, plan.stderr);
    assert!(acct.dir.path().join("plan.json").exists());
    let summary = take(&acct, "summary.md");
    assert!(
        summary.contains("create") && summary.contains("example.com"),
        "{summary}"
    );
    assert_eq!(take(&acct, "output.txt"), "changes=true\n");
    assert!(acct.records(&zone).await.is_empty(), "plan changes nothing");

    // Merge: the saved plan is applied.
    let apply = step(&acct, "apply");
    assert_eq!(apply.code, 0, "{}\n{}", apply.stdout, apply.stderr);
    assert!(
        acct.records(&zone)
            .await
            .contains_key(&("example.com".into(), "TXT".into())),
        "{:?}",
        acct.records(&zone).await
    );

    // Nightly: no drift, then a hand edit is drift.
    let _ = take(&acct, "output.txt");
    let clean = step(&acct, "drift");
    assert_eq!(clean.code, 0, "{}\n{}", clean.stdout, clean.stderr);
    assert_eq!(take(&acct, "output.txt"), "changes=false\n");
    acct.change(
        &zone,
        &[(
            ChangeAction::Upsert,
            "_dmarc.example.com",
            "TXT",
            300,
            &[&q("v=DMARC1; p=reject")],
        )],
    )
    .await
    .unwrap();
    let drift = step(&acct, "drift");
    assert_eq!(drift.code, 1, "{}\n{}", drift.stdout, drift.stderr);
    assert!(
        drift.stdout.contains("::error title=mailinfra drift::"),
        "{}",
        drift.stdout
    );
    assert_eq!(take(&acct, "output.txt"), "changes=true\n");
    assert!(take(&acct, "summary.md").contains("_dmarc.example.com"));
}

/// action.yml is valid YAML, every `inputs.X` it uses is declared, and every command it
/// documents is one the script knows (actionlint needs a download this machine cannot make;
/// these are the checks of it that matter here).
#[test]
fn the_action_definition_matches_its_script() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("action.yml")).unwrap();
    let action: serde_json::Value = serde_saphyr::from_str(&text).unwrap();
    let inputs = action["inputs"].as_object().unwrap();
    for used in text.split("inputs.").skip(1) {
        let name: String = used
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect();
        assert!(inputs.contains_key(&name), "inputs.{name} is not declared");
    }
    assert_eq!(action["runs"]["using"], "composite");
    let script = std::fs::read_to_string(root.join("action/mailinfra-action.sh")).unwrap();
    for command in ["install", "plan", "apply", "drift"] {
        assert!(
            script.contains(&format!("\n  {command})")),
            "the script has no `{command}` step"
        );
        assert!(
            inputs["command"]["description"]
                .as_str()
                .unwrap()
                .contains(command)
                || command == "install",
            "{command}"
        );
    }
}
