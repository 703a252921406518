//! `mailinfra bounces`: the addresses the gateway's mail bounced from permanently, from the
//! log group the gateway records them in (docs/gateway.md, "Hard bounces"). Reads only.

use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

use super::{Failure, Outcome, connect, desired, load, settings};
use crate::cli::{BouncesArgs, Global};
use crate::kinds::gateway::Bounce;
use crate::output::Output;

pub const FORMAT: &str = "mailinfra-bounces";
pub const VERSION: u32 = 1;

#[derive(Debug, Serialize)]
struct List<'a> {
    format: &'static str,
    version: u32,
    blueprint: &'a str,
    log_group: &'a str,
    bounces: &'a [Bounce],
}

pub async fn run(args: &BouncesArgs, global: &Global, out: &Output) -> Outcome {
    let bp = load(&args.file.file)?;
    let d = desired(&bp, global)?;
    let Some(g) = &d.gateway else {
        return Err(Failure::Refused(format!(
            "blueprint `{}` has no gateway: the bounce list is the gateway's (SES keeps its own: the account's suppression list)",
            d.blueprint
        )));
    };
    let aws = connect(&settings(global, d.region.as_deref())?).await?;
    let since_ms = args.since.map(|s| {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        i64::try_from(now.saturating_sub(s).as_millis()).unwrap_or(i64::MAX)
    });
    let group = &g.names.bounce_log;
    let Some(messages) =
        crate::kinds::gateway::observe::bounce_events(&aws, group, since_ms).await?
    else {
        return Err(Failure::Refused(format!(
            "the gateway's bounce log {group} does not exist yet\n  = hint: `mailinfra apply` creates it with the gateway"
        )));
    };
    let (bounces, unreadable) = Bounce::list(messages.iter().map(String::as_str));
    if unreadable > 0 {
        out.warn(&format!(
            "{unreadable} event(s) in {group} are not bounces mailinfra wrote; left out"
        ));
    }
    if args.json {
        let list = List {
            format: FORMAT,
            version: VERSION,
            blueprint: &d.blueprint,
            log_group: group,
            bounces: &bounces,
        };
        let json =
            serde_json::to_string_pretty(&list).map_err(|e| Failure::Refused(e.to_string()))?;
        out.data(&format!("{json}\n"));
        return Ok(0);
    }
    out.data(&text(&bounces, group));
    Ok(0)
}

fn text(bounces: &[Bounce], group: &str) -> String {
    if bounces.is_empty() {
        return format!("No hard bounces recorded (in {group}).\n");
    }
    let width = bounces.iter().map(|b| b.recipient.len()).max().unwrap_or(0);
    let mut s = format!(
        "{} address(es) bounced permanently; drop them from your lists:\n",
        bounces.len()
    );
    for b in bounces {
        let _ = writeln!(
            s,
            "  {:width$}  {}  {}  {}",
            b.recipient, b.dsn, b.at, b.reason
        );
    }
    s
}
