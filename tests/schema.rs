//! `mailinfra schema`, the committed schema file editors use, and the example blueprints.

use std::path::Path;

use mailinfra::blueprint;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn the_committed_schema_is_what_the_command_prints() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mailinfra"))
        .arg("schema")
        .env_clear()
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let committed = std::fs::read_to_string(root().join("schema/mailinfra.schema.json")).unwrap();
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        committed,
        "schema/mailinfra.schema.json is stale: run `mailinfra schema > schema/mailinfra.schema.json`"
    );
    let v: serde_json::Value = serde_json::from_str(&committed).unwrap();
    assert_eq!(v["title"], "mailinfra blueprint");
    assert_eq!(v["required"], serde_json::json!(["blueprint"]));
    assert!(
        !committed.contains("not built yet"),
        "the schema describes what is built"
    );
}

#[test]
fn every_example_blueprint_names_the_schema_and_loads() {
    let dir = root().join("blueprints");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") {
            let text = std::fs::read_to_string(&path).unwrap();
            assert!(
                text.starts_with(
                    "# yaml-language-server: $schema=../schema/mailinfra.schema.json\n"
                ),
                "{} must start with the yaml-language-server modeline",
                path.display()
            );
            blueprint::load("b.yaml", &text, &dir).unwrap_or_else(|r| panic!("{}", r.render()));
            seen += 1;
        }
    }
    assert!(seen > 0);
}
