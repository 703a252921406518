//! `mailinfra validate`: offline checks, every problem of meaning at once (a malformed
//! document stops at its first problem). No credentials, no AWS. `--format json` and
//! `--format github` put the problems on stdout as data or as workflow annotations.

use super::{Failure, Outcome, load};
use crate::cli::{ValidateArgs, ValidateFormat};
use crate::output::Output;
use crate::plan::desired;

pub fn run(args: &ValidateArgs, out: &Output) -> Outcome {
    let file = &args.file.file;
    let bp = match (load(file), args.format) {
        (Ok(bp), _) => bp,
        (Err(e), ValidateFormat::Text) => return Err(e),
        (Err(Failure::Blueprint(report)), ValidateFormat::Json) => {
            out.data(&format!("{}\n", report.json()));
            return Ok(1);
        }
        (Err(Failure::Blueprint(report)), ValidateFormat::Github) => {
            out.data(&report.github());
            out.error_block(&report.render());
            return Ok(1);
        }
        (Err(e), _) => return Err(e),
    };
    let d = desired::from_blueprint(&bp);
    let warnings = crate::blueprint::validate::advisories(&bp);
    let report = crate::blueprint::Report {
        file: file.display().to_string(),
        source: String::new(),
        diagnostics: warnings,
    };
    match args.format {
        ValidateFormat::Json => {
            let mut json = serde_json::json!({ "file": file.display().to_string(), "valid": true, "problems": [] });
            json["warnings"] = report.json()["problems"].clone();
            out.data(&format!("{json}\n"));
        }
        ValidateFormat::Text | ValidateFormat::Github => out.data(&format!(
            "{}: blueprint `{}` is valid: {} domain(s), {} record(s) in {} zone(s)\n",
            file.display(),
            bp.name.value,
            bp.domains.len(),
            d.records.len(),
            d.zones.len()
        )),
    }
    if !report.diagnostics.is_empty() && args.format != ValidateFormat::Json {
        if args.format == ValidateFormat::Github {
            out.data(&report.github().replace("::error ", "::warning "));
        }
        // Warnings: they do not fail the run.
        for w in &report.diagnostics {
            let at = w
                .pos
                .map(|p| format!(":{}:{}", p.line, p.col))
                .unwrap_or_default();
            out.warn(&format!(
                "{}{at}: {}: {}\n  = hint: {}",
                report.file,
                w.path,
                w.message,
                w.hint.as_deref().unwrap_or_default()
            ));
        }
    }
    Ok(0)
}
