//! `mailinfra schema`, the committed schema file editors use, and agreement between the
//! schema types and what the loader accepts.

use std::path::Path;

use mailinfra::blueprint::{self, schema::BlueprintDoc, yaml};

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
}

/// A document the loader accepts must also be one the schema accepts.
fn schema_accepts(text: &str, base: &Path) {
    blueprint::load("b.yaml", text, base).unwrap_or_else(|r| panic!("{}", r.render()));
    let json = yaml::parse(text).unwrap().to_json();
    serde_json::from_value::<BlueprintDoc>(json.clone())
        .unwrap_or_else(|e| panic!("schema types refuse {json}: {e}"));
}

#[test]
fn every_example_blueprint_names_the_schema_and_matches_it() {
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
            schema_accepts(&text, &dir);
            seen += 1;
        }
    }
    assert!(seen > 0);
}

#[test]
fn documents_the_loader_accepts_the_schema_accepts() {
    let data = root().join("tests/data");
    for doc in [
        "blueprint: a\n",
        "blueprint: a\nttl: 600\ndomains:\n  - domain: example.com\n    spf: { include: [x.example.net], ip4: [192.0.2.1], a: true, all: fail }\n    dmarc: { policy: reject, rua: [mailto:d@example.com], adkim: strict, testing: true, psd: no, fo: '1' }\n    dkim: [{ selector: s1, public_key_file: dkim-2048.pub }]\n",
        "blueprint: a\nregion: eu-west-1\ndomains:\n  - domain: example.org\n    send_via: [ses]\n    ses: { dkim: easy, mail_from: b.example.org, mail_from_on_mx_failure: reject, mail_from_spf: softfail, configuration_set: tx }\n  - domain: example.net\n    send_via: [ses]\n    ses: { dkim: { byodkim: { selector: s1 } } }\n  - domain: example.info\n    send_via: [ses]\n    ses: { dkim: { easy: { key_length: 1024 } } }\nses:\n  suppression: [bounce, complaint]\n  configuration_sets: [{ name: tx, suppression: [bounce], tls: require, sending_enabled: false, tags: { team: mail } }]\n  production_access: { mail_type: marketing, website_url: 'https://example.org', use_case: 'Newsletters to subscribers who confirmed by email.', contact_language: ja, additional_contacts: [a@example.org] }\nadopt: [ses.identity.example.org]\n",
    ] {
        schema_accepts(doc, &data);
    }
}
