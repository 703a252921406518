//! The architecture's one hard rule, checked: the pure core (blueprint, mail, plan, policy,
//! and each kind's pure half) never touches the AWS SDK or tokio and has no async code, so it
//! can be tested without AWS and reasoned about as plain functions (docs/architecture.md).

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Whether a file under src/ belongs to the pure core.
fn is_pure(rel: &Path) -> bool {
    let parts: Vec<&str> = rel.iter().filter_map(|p| p.to_str()).collect();
    match parts.as_slice() {
        ["blueprint" | "mail" | "plan", ..] | ["policy.rs"] => true,
        ["kinds", _, file] => !matches!(*file, "observe.rs" | "execute.rs"),
        ["kinds", "mod.rs"] => true,
        _ => false,
    }
}

#[test]
fn the_pure_core_has_no_sdk_no_tokio_and_no_async() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let pure: Vec<PathBuf> = files
        .into_iter()
        .filter(|f| is_pure(f.strip_prefix(&src).unwrap()))
        .collect();
    // The rule covers the core: if the layout moves, this list must move with it.
    assert!(pure.len() >= 20, "{pure:?}");
    assert!(pure.iter().any(|p| p.ends_with("kinds/gateway/diff.rs")));
    // `crate::aws::ops`, the table of operations, is data and allowed; the clients are not.
    let forbidden = [
        "aws_sdk_",
        "aws_config",
        "tokio",
        "async fn",
        ".await",
        "crate::aws::{",
        "crate::aws::Aws",
    ];
    let mut found = Vec::new();
    for file in &pure {
        let text = std::fs::read_to_string(file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for word in forbidden {
                if code.contains(word) {
                    found.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "the pure core reaches the edges:\n{}",
        found.join("\n")
    );
}
