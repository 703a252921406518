//! `mailinfra check`: deliverability as a receiver sees it, through real DNS lookups,
//! compared with what the blueprint wants. Reads AWS (for the Elastic IP, the gateway's key,
//! SES's tokens) and DNS; changes nothing. It runs when the plan has conflicts too (an
//! unowned record, a missing zone): that is when a receiver's view is most needed.

use std::fmt::Write as _;

use serde::Serialize;

use super::{Failure, Outcome, prepare};
use crate::check::{self, Row, Status, dns::Dns};
use crate::cli::{CheckArgs, Global};
use crate::output::Output;

#[derive(Serialize)]
struct Report<'a> {
    format: &'a str,
    version: u32,
    blueprint: &'a str,
    resolver: &'a str,
    rows: &'a [Row],
    summary: Summary,
}

#[derive(Serialize, Default)]
struct Summary {
    pass: usize,
    warn: usize,
    fail: usize,
    could_not_check: usize,
}

pub async fn run(args: &CheckArgs, global: &Global, out: &Output) -> Outcome {
    let (aws, desired) = prepare(&args.file.file, global, |d| d).await?;
    out.progress(&format!(
        "reading AWS for blueprint `{}`...",
        desired.blueprint
    ));
    let observed = crate::observe::observe(&aws, &desired).await?;
    if let Err(conflicts) = crate::plan::diff(&desired, &observed) {
        out.warn(&format!(
            "the plan has {} conflict{} (`mailinfra plan` shows them); checking DNS anyway",
            conflicts.len(),
            if conflicts.len() == 1 { "" } else { "s" }
        ));
    }
    let desired = crate::plan::resolved(&desired, &observed);
    let dns = Dns::new(args.resolver, args.query_timeout).map_err(Failure::Refused)?;
    let dnsbls: Vec<String> = if args.dnsbl.is_empty() {
        check::DEFAULT_DNSBLS
            .iter()
            .map(|s| s.to_string())
            .collect()
    } else {
        args.dnsbl.clone()
    };
    out.progress(&format!("looking up DNS through {}...", dns.server));
    let authoritative = match args.authoritative {
        Some(s) => check::Authoritative::Server(s),
        None => check::Authoritative::FromNs,
    };
    let ctx = check::Context {
        dns: &dns,
        authoritative: &authoritative,
        timeout: args.query_timeout,
        overall: args.timeout,
    };
    let rows = check::run(&ctx, &desired, &observed, &dnsbls).await;
    let mut summary = Summary::default();
    for r in &rows {
        match r.status {
            Status::Pass => summary.pass += 1,
            Status::Warn => summary.warn += 1,
            Status::Fail => summary.fail += 1,
            Status::CouldNotCheck => summary.could_not_check += 1,
        }
    }
    // A gate that checked nothing must not pass: no row at all, or none that could be checked.
    let nothing_checked = summary.could_not_check == rows.len();
    let failing = summary.fail > 0
        || nothing_checked
        || (args.strict && (summary.warn > 0 || summary.could_not_check > 0));
    if args.json {
        let report = Report {
            format: check::FORMAT,
            version: check::VERSION,
            blueprint: &desired.blueprint,
            resolver: &dns.server,
            rows: &rows,
            summary,
        };
        let json =
            serde_json::to_string_pretty(&report).map_err(|e| Failure::Refused(e.to_string()))?;
        out.data(&format!("{json}\n"));
    } else {
        out.data(&table(&rows, &summary, out));
    }
    if nothing_checked {
        out.warn(if rows.is_empty() {
            "nothing to check: the blueprint publishes no record `check` looks at"
        } else {
            "nothing could be checked: no DNS answer for any row (exit 1)"
        });
    }
    Ok(if failing { 1 } else { 0 })
}
fn table(rows: &[Row], s: &Summary, out: &Output) -> String {
    let paint = out.paint_out();
    let width = rows.iter().map(|r| r.check.len()).max().unwrap_or(5).max(5);
    let mut text = String::new();
    let _ = writeln!(text, "{:<width$}  {:<15}  found", "check", "status");
    for r in rows {
        let (word, colored) = match r.status {
            Status::Pass => ("pass", paint.green("pass")),
            Status::Warn => ("warn", paint.yellow("warn")),
            Status::Fail => ("FAIL", paint.red("FAIL")),
            Status::CouldNotCheck => ("could-not-check", paint.yellow("could-not-check")),
        };
        let pad = " ".repeat(15 - word.len());
        let _ = writeln!(text, "{:<width$}  {colored}{pad}  {}", r.check, r.found);
        if let Some(fix) = &r.fix {
            let _ = writeln!(text, "{:<width$}  {:<15}  fix: {fix}", "", "");
        }
    }
    let _ = writeln!(
        text,
        "\n{} pass, {} warn, {} fail, {} could not check",
        s.pass, s.warn, s.fail, s.could_not_check
    );
    text
}
