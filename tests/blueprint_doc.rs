//! docs/blueprint.md against the blueprint's types: the field list there is written by hand,
//! so these tests keep it in step with the JSON Schema the types make (`mailinfra schema`).
//! Every field at every level is named in the document, and every key its YAML examples
//! use is a field.

use std::collections::BTreeSet;
use std::path::Path;

use mailinfra::blueprint::schema::json_schema;
use serde_json::Value;

fn doc() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/blueprint.md");
    std::fs::read_to_string(path).unwrap()
}

/// The property names of every subschema in `schema` (nested ones and `$defs` included).
fn property_names(schema: &Value, names: &mut BTreeSet<String>) {
    match schema {
        Value::Object(map) => {
            if let Some(Value::Object(properties)) = map.get("properties") {
                names.extend(properties.keys().cloned());
            }
            map.values().for_each(|v| property_names(v, names));
        }
        Value::Array(items) => items.iter().for_each(|v| property_names(v, names)),
        _ => {}
    }
}

/// The keys the document's ```yaml examples write, each with its indentation
/// (`  - name: x` is `name` at 4).
fn example_keys(doc: &str) -> Vec<(usize, String)> {
    let mut keys = Vec::new();
    let mut in_yaml = false;
    for line in doc.lines() {
        if line.starts_with("```") {
            in_yaml = line == "```yaml";
            continue;
        }
        if !in_yaml {
            continue;
        }
        let text = line.trim_start();
        let item = text.strip_prefix("- ").unwrap_or(text);
        let indent = line.len() - item.len();
        let Some((key, _)) = item.split_once(':') else {
            continue;
        };
        if !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            keys.push((indent, key.to_owned()));
        }
    }
    keys
}

#[test]
fn every_blueprint_field_is_in_the_docs() {
    let doc = doc();
    let mut names = BTreeSet::new();
    property_names(&json_schema(), &mut names);
    assert!(names.len() > 40, "the schema walk found only {names:?}");
    let in_examples: BTreeSet<String> = example_keys(&doc).into_iter().map(|(_, k)| k).collect();
    let missing: Vec<&String> = names
        .iter()
        .filter(|n| !doc.contains(&format!("`{n}`")) && !in_examples.contains(*n))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/blueprint.md does not name these blueprint fields: {missing:?}; \
         add each to a YAML example (`name: value`) or name it in backticks"
    );
}

#[test]
fn every_key_the_docs_show_is_a_blueprint_field() {
    let schema = json_schema();
    let top: BTreeSet<&String> = schema["properties"].as_object().unwrap().keys().collect();
    let mut names = BTreeSet::new();
    property_names(&schema, &mut names);
    let keys = example_keys(&doc());
    assert!(keys.iter().any(|(indent, _)| *indent == 0));
    for (indent, key) in keys {
        if indent == 0 {
            assert!(
                top.contains(&key),
                "docs/blueprint.md shows `{key}:` at the top of a blueprint, which has no such field"
            );
        } else {
            assert!(
                names.contains(&key),
                "docs/blueprint.md shows `{key}:`, which is no blueprint field"
            );
        }
    }
}
