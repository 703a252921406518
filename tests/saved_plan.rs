//! A saved plan (`plan --out`) is carried out only as its blueprint plans it now: the file
//! names its blueprint and SHA-256, `apply PLAN` plans that blueprint again, and anything
//! else in the file that was edited is refused before any change.

mod common;

use common::{Account, GATEWAY};

/// Requests that change the account, but for the run lock (one PutParameter and one
/// DeleteParameter per run).
fn writes(acct: &Account) -> Vec<(String, u64)> {
    let requests = acct.requests();
    let locks = requests.get("ssm.DeleteParameter").copied().unwrap_or(0);
    requests
        .into_iter()
        .filter_map(|(op, n)| {
            let name = op.split('.').nth(1).unwrap_or("");
            if ["Describe", "Get", "List"]
                .iter()
                .any(|p| name.starts_with(p))
            {
                return None;
            }
            let n = match op.as_str() {
                "ssm.PutParameter" | "ssm.DeleteParameter" => n - locks,
                "route53.CreateHostedZone" => 0,
                _ => n,
            };
            (n > 0).then_some((op, n))
        })
        .collect()
}

type Edit = fn(&mut serde_json::Value);

#[tokio::test]
async fn an_edited_saved_plan_is_refused_before_any_change() {
    let edits: [(&str, Edit, &str); 5] = [
        (
            "relay range",
            |p| {
                // Everywhere the desired state holds the range (ingress, Postfix's mynetworks).
                let text = p["desired"].to_string();
                assert!(text.contains("10.0.0.0/16"));
                p["desired"] =
                    serde_json::from_str(&text.replace("10.0.0.0/16", "0.0.0.0/0")).unwrap();
            },
            "`desired` differ",
        ),
        (
            "role policy",
            |p| {
                for c in p["gateway"].as_array_mut().unwrap() {
                    if c["op"]["op"] == "ensure_role" {
                        c["op"]["policy"] = serde_json::json!(
                            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#
                        );
                    }
                }
            },
            "`gateway` differ",
        ),
        (
            "safety flag",
            |p| p["safety"] = serde_json::json!("edited"),
            "`safety` differ",
        ),
        (
            "no blueprint",
            |p| p["source"] = serde_json::Value::Null,
            "names no blueprint",
        ),
        (
            "another blueprint's hash",
            |p| p["source"]["sha256"] = serde_json::json!("00".repeat(32)),
            "is not the one the saved plan p.json was made from",
        ),
    ];
    for (what, edit, refusal) in edits {
        let acct = Account::new();
        acct.create_zone("example.com").await;
        acct.write("b.yaml", GATEWAY);
        let plan = acct.mailinfra(&["plan", "b.yaml", "--out", "p.json"]);
        assert_eq!(plan.code, 0, "{}", plan.stderr);
        let path = acct.dir.path().join("p.json");
        let mut saved: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(saved["source"]["path"], "b.yaml");
        edit(&mut saved);
        std::fs::write(&path, saved.to_string()).unwrap();

        let run = acct.mailinfra(&["apply", "p.json", "--yes"]);
        assert_eq!(run.code, 1, "{what}: {}\n{}", run.stdout, run.stderr);
        assert!(
            run.stderr.contains(refusal) && run.stderr.contains("nothing was applied"),
            "{what}: {}",
            run.stderr
        );
        assert_eq!(writes(&acct), vec![], "{what}");
    }
}

#[tokio::test]
async fn a_saved_plan_whose_blueprint_changed_is_refused_and_an_unedited_one_applies() {
    let acct = Account::new();
    acct.create_zone("example.com").await;
    acct.write("b.yaml", GATEWAY);
    let plan = acct.mailinfra(&["plan", "b.yaml", "--out", "p.json"]);
    assert_eq!(plan.code, 0, "{}", plan.stderr);

    acct.write("b.yaml", &GATEWAY.replace("10.0.0.0/16", "0.0.0.0/0"));
    let run = acct.mailinfra(&["apply", "p.json", "--yes"]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("the blueprint b.yaml is not the one"),
        "{}",
        run.stderr
    );
    assert_eq!(writes(&acct), vec![]);

    acct.write("b.yaml", GATEWAY);
    let run = acct.mailinfra(&["apply", "p.json", "--yes"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let again = acct.mailinfra(&["plan", "b.yaml", "--detailed-exitcode"]);
    assert_eq!(again.code, 0, "{}\n{}", again.stdout, again.stderr);
}

#[tokio::test]
async fn show_prints_a_saved_plan_again_offline() {
    let acct = Account::new();
    acct.create_zone("example.com").await;
    acct.write("b.yaml", GATEWAY);
    let plan = acct.mailinfra(&["plan", "b.yaml", "--out", "p.json"]);
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    let markdown = acct.mailinfra(&["plan", "b.yaml", "--format", "markdown"]);
    let before = acct.requests();

    let text = acct.mailinfra(&["show", "p.json"]);
    assert_eq!(text.code, 0, "{}", text.stderr);
    assert_eq!(text.stdout, plan.stdout);
    let json = acct.mailinfra(&["show", "p.json", "--format", "json"]);
    let saved = std::fs::read_to_string(acct.dir.path().join("p.json")).unwrap();
    assert_eq!(json.stdout, saved);
    let md = acct.mailinfra(&["show", "p.json", "--format", "markdown"]);
    assert_eq!(md.stdout, markdown.stdout);
    let not_a_plan = acct.mailinfra(&["show", "b.yaml"]);
    assert_eq!(not_a_plan.code, 1);
    assert!(
        not_a_plan.stderr.contains("b.yaml is not a saved plan"),
        "{}",
        not_a_plan.stderr
    );
    let missing = acct.mailinfra(&["show", "missing.json"]);
    assert_eq!(missing.code, 1);
    assert!(
        missing.stderr.contains("cannot read `missing.json`: ")
            && missing.stderr.contains("--out missing.json"),
        "{}",
        missing.stderr
    );
    assert_eq!(acct.requests(), before, "show sends nothing to AWS");
}
