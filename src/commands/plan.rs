//! `mailinfra plan`: observe AWS and print what apply would change.

use std::time::Duration;

use super::{Failure, Outcome, Session, start};
use crate::check::dns::Dns;
use crate::check::spf;
use crate::cli::{Global, PlanArgs, PlanFormat};
use crate::output::Output;
use crate::plan::desired::{Content, Desired, Piece};
use crate::plan::{Conflict, Plan, render};

pub async fn run(args: &PlanArgs, global: &Global, out: &Output) -> Outcome {
    let format = if args.json {
        PlanFormat::Json
    } else {
        args.format
    };
    let session = match start(&args.file.file, global, out, |d| d).await {
        Ok(session) => spf_limit(&session.plan.desired, args, out)
            .await
            .map(|()| session),
        Err(e) => Err(e),
    };
    let Session { plan, .. } = match session {
        Ok(session) => session,
        Err(e) => {
            // A job summary gets the reason, not an empty section; stderr has it as usual.
            if format == PlanFormat::Markdown {
                out.data(&render::markdown_failure(
                    &args.file.file.display().to_string(),
                    &e.to_string(),
                ));
            }
            return Err(e);
        }
    };
    let json = serde_json::to_string_pretty(&plan).map_err(|e| Failure::Refused(e.to_string()))?;
    if let Some(path) = &args.out {
        std::fs::write(path, format!("{json}\n"))
            .map_err(|e| Failure::Refused(format!("cannot write `{}`: {e}", path.display())))?;
        out.progress(&format!(
            "saved the plan to {}; apply it with `mailinfra apply {}`",
            path.display(),
            path.display()
        ));
    }
    print(&plan, &json, format, out);
    Ok(if args.detailed_exitcode && !plan.is_empty() {
        2
    } else {
        0
    })
}

/// Prints a plan (`json` is its JSON) in a format. Shared by `plan` and `show`.
pub fn print(plan: &Plan, json: &str, format: PlanFormat, out: &Output) {
    match format {
        PlanFormat::Json => out.data(&format!("{json}\n")),
        PlanFormat::Markdown => out.data(&render::markdown(plan)),
        PlanFormat::Text => out.data(&render::text(plan, out.paint_out())),
    }
}

/// Longest wait for one DNS answer while counting SPF lookups.
const SPF_QUERY_TIMEOUT: Duration = Duration::from_secs(2);

/// The SPF text a record will publish; an address learned at apply (the gateway's, always
/// an `ip4:` range) stands as TEST-NET-1, which costs no lookup either.
fn spf_text(content: &Content) -> Option<String> {
    match content {
        Content::Spf { text } => Some(text.clone()),
        Content::SpfFrom { text } => Some(
            text.0
                .iter()
                .map(|p| match p {
                    Piece::Text(t) => t.as_str(),
                    Piece::Output(_) => "192.0.2.0",
                })
                .collect(),
        ),
        _ => None,
    }
}

/// RFC 7208 §4.6.4 through DNS: each SPF record the blueprint publishes, counted with every
/// include's and redirect's record as receivers read them. More than 10 refuses the plan
/// (a conflict naming the count and the heaviest includes); `validate` counts only the
/// blueprint's own terms, offline. When DNS cannot be reached or `--dns-timeout` runs out,
/// the plan warns and goes on: the count is a check on other senders' records, and a plan
/// must work without network.
async fn spf_limit(desired: &Desired, args: &PlanArgs, out: &Output) -> Result<(), Failure> {
    let records: Vec<(String, String)> = desired
        .records
        .iter()
        .filter_map(|r| Some((r.name.clone(), spf_text(&r.content)?)))
        .filter(|(_, text)| crate::mail::spf::is_spf(text))
        .collect();
    if records.is_empty() || args.dns_timeout.is_zero() {
        return Ok(());
    }
    let dns = match Dns::new(args.resolver, SPF_QUERY_TIMEOUT.min(args.dns_timeout)) {
        Ok(dns) => dns,
        Err(why) => {
            out.warn(&format!("SPF lookups not counted through DNS: {why}"));
            return Ok(());
        }
    };
    out.progress(&format!(
        "counting SPF lookups through DNS ({})...",
        dns.server
    ));
    let local = |name: &str| {
        records
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, text)| text.clone())
    };
    let counts = futures::future::join_all(
        records
            .iter()
            .map(|(name, text)| spf::count_tree(&dns, name, text, &local)),
    );
    let Ok(counts) = tokio::time::timeout(args.dns_timeout, counts).await else {
        out.warn(&format!(
            "SPF lookups not counted: DNS ({}) did not answer within {}s (--dns-timeout); the plan goes on without the check",
            dns.server,
            args.dns_timeout.as_secs()
        ));
        return Ok(());
    };
    let mut conflicts = Vec::new();
    for ((name, _), count) in records.iter().zip(counts) {
        // A record that does not parse is refused by `validate`; nothing to count here.
        let Ok(count) = count else { continue };
        if count.lookups > spf::MAX_LOOKUPS {
            conflicts.push(over_limit(name, &count));
        } else if let Some(first) = count.unknown.first() {
            out.warn(&format!(
                "SPF record of {name}: {} DNS lookups counted, but not all of its tree could be read ({first}{}); not refused",
                count.lookups,
                match count.unknown.len() {
                    1 => String::new(),
                    n => format!(", and {} more", n - 1),
                }
            ));
        } else {
            out.debug(&format!(
                "SPF record of {name}: {} DNS lookups through its includes (at most {})",
                count.lookups,
                spf::MAX_LOOKUPS
            ));
        }
    }
    if conflicts.is_empty() {
        Ok(())
    } else {
        Err(Failure::Conflicts(conflicts))
    }
}

fn over_limit(name: &str, count: &spf::TreeCount) -> Conflict {
    let heaviest: Vec<String> = count
        .heaviest
        .iter()
        .filter(|(_, n)| *n > 1)
        .take(3)
        .map(|(term, n)| format!("{term} ({n})"))
        .collect();
    let more = if count.truncated { "at least " } else { "" };
    Conflict {
        address: crate::kinds::records::address(name, "TXT"),
        message: format!(
            "the SPF record of {name} costs receivers {more}{} DNS lookups through its includes; they allow {} (RFC 7208 §4.6.4) and treat more as a permanent error{}",
            count.lookups,
            spf::MAX_LOOKUPS,
            if heaviest.is_empty() {
                String::new()
            } else {
                format!("; the heaviest: {}", heaviest.join(", "))
            }
        ),
        hint: "replace the heaviest includes with the senders' ip4:/ip6: ranges, or drop senders that no longer send for the domain (`validate` counts only the blueprint's own terms)".into(),
    }
}
