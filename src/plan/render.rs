//! A plan (or its conflicts) as text for people: grouped by zone, each change with its
//! address, verb and before -> after values. Returns strings; `output` prints them.

use std::fmt::Write as _;

use super::{
    Action, Conflict, Plan, RecordChange, RecordSet, Report, ReportKind, ResourceChange, TagChange,
    ZonePlan,
};
use crate::kinds::records::ownership;

/// ANSI colours, or none.
#[derive(Debug, Clone, Copy)]
pub struct Paint {
    pub color: bool,
}

impl Paint {
    fn wrap(&self, code: &str, s: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_owned()
        }
    }
    pub fn green(&self, s: &str) -> String {
        self.wrap("32", s)
    }
    pub fn red(&self, s: &str) -> String {
        self.wrap("31", s)
    }
    pub fn yellow(&self, s: &str) -> String {
        self.wrap("33", s)
    }
    pub fn bold(&self, s: &str) -> String {
        self.wrap("1", s)
    }
}

fn verb(action: Action) -> (&'static str, &'static str) {
    match action {
        Action::Create => ("+", "create"),
        Action::Update => ("~", "update"),
        Action::Replace => ("±", "replace"),
        Action::Adopt => ("~", "adopt"),
        Action::Delete => ("-", "delete"),
    }
}

/// Renders the plan. An empty plan is one line: `No changes. …`.
pub fn text(plan: &Plan, paint: Paint) -> String {
    let mut out = String::new();
    let of_kind = |kind: ReportKind| -> Vec<Report> {
        plan.reports
            .iter()
            .filter(|r| r.kind == kind)
            .cloned()
            .collect()
    };
    let pending = of_kind(ReportKind::Pending);
    let in_progress = "In progress at AWS (nothing to change):";
    let attention = of_kind(ReportKind::Attention);
    let needs = "Needs attention (no change in this plan fixes it):";
    if plan.is_empty() {
        let _ = writeln!(
            out,
            "No changes. AWS matches blueprint `{}`.",
            plan.blueprint
        );
        for (title, list) in [(needs, &attention), (in_progress, &pending)] {
            if !list.is_empty() {
                out.push_str(&reports(title, list));
            }
        }
        return out;
    }
    for zone in &plan.zones {
        zone_text(&mut out, paint, &plan.blueprint, zone);
    }
    if !plan.ses.is_empty() {
        let region = plan.desired.region.as_deref().unwrap_or("?");
        let rows = rows(&plan.ses);
        section_text(&mut out, paint, &format!("Amazon SES ({region})"), rows);
    }
    if !plan.gateway.is_empty() {
        let rows = rows(&plan.gateway);
        section_text(&mut out, paint, "Relay gateway", rows);
    }
    for (title, list) in [
        (needs, attention),
        (
            "To do by a person (mailinfra cannot):",
            of_kind(ReportKind::Todo),
        ),
        (in_progress, pending),
    ] {
        if !list.is_empty() {
            out.push_str(&reports(title, &list));
            out.push('\n');
        }
    }
    summary_text(&mut out, paint, plan);
    out
}

/// One zone's changes, between its tag and untag lines.
fn zone_text(out: &mut String, paint: Paint, blueprint: &str, zone: &ZonePlan) {
    let _ = writeln!(
        out,
        "{}",
        paint.bold(&format!("zone {} ({})", zone.zone, zone.zone_id))
    );
    if zone.tag == Some(TagChange::Add) {
        let _ = writeln!(
            out,
            "  {} tag zone with {}",
            paint.green("+"),
            ownership::zone_tag_key(blueprint)
        );
    }
    for c in &zone.changes {
        record_change_text(out, paint, c);
    }
    if zone.tag == Some(TagChange::Remove) {
        let _ = writeln!(
            out,
            "  {} untag zone: the blueprint no longer writes here",
            paint.red("-")
        );
    }
    out.push('\n');
}

/// One record set's change: its verb and address, then each value kept, removed or added.
fn record_change_text(out: &mut String, paint: Paint, c: &RecordChange) {
    let (sign, word) = verb(c.action);
    let colored = match c.action {
        Action::Create => paint.green(sign),
        Action::Delete => paint.red(sign),
        _ => paint.yellow(sign),
    };
    let purpose = c.purpose.map_or(String::new(), |p| format!("  ({p})"));
    let _ = writeln!(out, "  {colored} {word:<7} {}{purpose}", c.address);
    let before = c.before.as_ref();
    let after = c.after.as_ref();
    if let (Some(b), Some(a)) = (before, after)
        && b.ttl != a.ttl
    {
        let _ = writeln!(out, "      ttl {} -> {}", b.ttl, a.ttl);
    }
    let old: Vec<&String> = before
        .map(|b| b.values.iter().collect())
        .unwrap_or_default();
    let new: Vec<&String> = after.map(|a| a.values.iter().collect()).unwrap_or_default();
    for v in &old {
        if c.pending.is_some() {
            // The new value is not known yet: show what is there now, not a removal.
            let _ = writeln!(out, "      = {v}  (now)");
        } else if new.contains(v) {
            let _ = writeln!(out, "      = {v}  (kept)");
        } else {
            let _ = writeln!(out, "      {} {v}", paint.red("-"));
        }
    }
    for v in new.iter().filter(|v| !old.contains(v)) {
        let _ = writeln!(out, "      {} {v}", paint.green("+"));
    }
    if let Some(p) = &c.pending {
        let _ = writeln!(out, "      {} {}", paint.green("+"), p.content.describe());
    } else if before.is_none() && after.is_none() {
        let _ = writeln!(out, "      (ownership record only)");
    }
}

/// `Plan: N to create, …` and the safety warning.
fn summary_text(out: &mut String, paint: Paint, plan: &Plan) {
    let s = plan.summary;
    let _ = writeln!(
        out,
        "Plan: {} to create, {} to update, {}{} to adopt, {} to delete.",
        s.create,
        s.update,
        if s.replace > 0 {
            format!("{} to replace, ", s.replace)
        } else {
            String::new()
        },
        s.adopt,
        s.delete
    );
    if let Some(why) = &plan.safety {
        let _ = writeln!(
            out,
            "{} {why}; apply needs --force.",
            paint.yellow("warning:")
        );
    }
}

/// One change of a non-DNS section (SES, gateway): its address, action and what changes.
type Row<'a> = (&'a str, Action, &'a [super::FieldChange]);

fn rows<Op>(changes: &[ResourceChange<Op>]) -> impl Iterator<Item = Row<'_>> {
    changes
        .iter()
        .map(|c| (c.address.as_str(), c.action, c.fields.as_slice()))
}

fn section_text<'a>(
    out: &mut String,
    paint: Paint,
    title: &str,
    rows: impl Iterator<Item = Row<'a>>,
) {
    let _ = writeln!(out, "{}", paint.bold(title));
    for (address, action, fields) in rows {
        let (sign, word) = verb(action);
        let colored = match action {
            Action::Create => paint.green(sign),
            Action::Delete => paint.red(sign),
            _ => paint.yellow(sign),
        };
        let _ = writeln!(out, "  {colored} {word:<7} {address}");
        for f in fields {
            let _ = match (&f.before, &f.after) {
                (Some(b), Some(a)) => writeln!(out, "      {}: {b} -> {a}", f.field),
                (None, Some(a)) => writeln!(out, "      {}: {a}", f.field),
                (Some(b), None) => writeln!(out, "      {}: {b} -> (none)", f.field),
                (None, None) => Ok(()),
            };
        }
    }
    out.push('\n');
}

fn section_markdown<'a>(out: &mut String, title: &str, rows: impl Iterator<Item = Row<'a>>) {
    let _ = writeln!(out, "#### {title}\n");
    let _ = writeln!(out, "| action | resource | change |");
    let _ = writeln!(out, "|---|---|---|");
    for (address, action, fields) in rows {
        let changes: Vec<String> = fields
            .iter()
            .map(|f| {
                format!(
                    "{}: {} → {}",
                    f.field,
                    cell(f.before.as_deref().unwrap_or("(none)")),
                    cell(f.after.as_deref().unwrap_or("(none)"))
                )
            })
            .collect();
        let _ = writeln!(
            out,
            "| {} | `{}` | {} |",
            verb(action).1,
            cell(address),
            changes.join("<br>")
        );
    }
    out.push('\n');
}

/// Things only a person can do, with their steps.
pub fn reports(heading: &str, list: &[Report]) -> String {
    let mut out = format!("{heading}\n");
    for r in list {
        let _ = writeln!(out, "  * {}", r.title);
        for s in &r.steps {
            let _ = writeln!(out, "      {s}");
        }
    }
    out
}

/// Renders plan conflicts: each with its address, what is wrong, and how to resolve it.
pub fn conflicts(list: &[Conflict]) -> String {
    let mut out = String::new();
    for c in list {
        let _ = writeln!(out, "error: {}: {}", c.address, c.message);
        let _ = writeln!(out, "  = hint: {}", c.hint);
    }
    let _ = writeln!(
        out,
        "{} conflict{}; nothing was changed",
        list.len(),
        if list.len() == 1 { "" } else { "s" }
    );
    out
}

/// Escapes text for a Markdown table cell inside backticks.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('`', "'")
}

/// Renders the plan as GitHub-flavoured Markdown, for CI job summaries and pull-request
/// comments: a summary line, then a table per zone and one for SES.
pub fn markdown(plan: &Plan) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "### mailinfra plan for `{}`\n", plan.blueprint);
    let notes = |out: &mut String, kind: ReportKind, heading: &str| {
        let list: Vec<_> = plan.reports.iter().filter(|r| r.kind == kind).collect();
        if !list.is_empty() {
            let _ = writeln!(out, "\n**{heading}**\n");
            for r in list {
                let _ = writeln!(out, "- {}", r.title);
                for s in &r.steps {
                    let _ = writeln!(out, "  - {s}");
                }
            }
        }
    };
    if plan.is_empty() {
        let _ = writeln!(out, "**No changes.** AWS matches the blueprint.");
        notes(
            &mut out,
            ReportKind::Attention,
            "Needs attention (no change in this plan fixes it)",
        );
        notes(
            &mut out,
            ReportKind::Pending,
            "In progress at AWS (nothing to change)",
        );
        return out;
    }
    let s = plan.summary;
    let _ = writeln!(
        out,
        "**{} to create, {} to update, {} to adopt, {} to delete.**\n",
        s.create, s.update, s.adopt, s.delete
    );
    if let Some(why) = &plan.safety {
        let _ = writeln!(out, "> **Warning:** {why}; apply needs `--force`.\n");
    }
    for zone in &plan.zones {
        zone_markdown(&mut out, &plan.blueprint, zone);
    }
    if !plan.gateway.is_empty() {
        let rows = rows(&plan.gateway);
        section_markdown(&mut out, "Relay gateway", rows);
    }
    if !plan.ses.is_empty() {
        let region = plan.desired.region.as_deref().unwrap_or("?");
        let rows = rows(&plan.ses);
        section_markdown(&mut out, &format!("Amazon SES ({region})"), rows);
    }
    notes(
        &mut out,
        ReportKind::Attention,
        "Needs attention (no change in this plan fixes it)",
    );
    notes(
        &mut out,
        ReportKind::Todo,
        "To do by a person (mailinfra cannot)",
    );
    notes(
        &mut out,
        ReportKind::Pending,
        "In progress at AWS (nothing to change)",
    );
    out
}

/// The Markdown of a plan that could not be made: the error as the terminal shows it, so a
/// job summary or pull-request comment says why instead of nothing.
pub fn markdown_failure(file: &str, error: &str) -> String {
    let fence = "```";
    format!(
        "### mailinfra plan for `{}` failed\n\n{fence}text\n{}\n{fence}\n\nNothing was changed.\n",
        cell(file),
        error.trim_end().replace(fence, "'''")
    )
}

/// One zone's section: its tag change and a table of its record changes.
fn zone_markdown(out: &mut String, blueprint: &str, zone: &ZonePlan) {
    let _ = writeln!(out, "#### Zone `{}` ({})\n", zone.zone, zone.zone_id);
    match zone.tag {
        Some(TagChange::Add) => {
            let _ = writeln!(
                out,
                "Tags the zone `{}`.\n",
                ownership::zone_tag_key(blueprint)
            );
        }
        Some(TagChange::Remove) => {
            let _ = writeln!(
                out,
                "Removes the zone's tag: the blueprint no longer writes here.\n"
            );
        }
        None => {}
    }
    if zone.changes.is_empty() {
        return;
    }
    let _ = writeln!(out, "| action | record | purpose | before | after |");
    let _ = writeln!(out, "|---|---|---|---|---|");
    let values = |set: &Option<RecordSet>| {
        set.as_ref()
            .map(|r| {
                r.values
                    .iter()
                    .map(|v| format!("`{}`", cell(v)))
                    .collect::<Vec<_>>()
                    .join("<br>")
            })
            .unwrap_or_default()
    };
    for c in &zone.changes {
        let mut after = match &c.pending {
            Some(p) => cell(&p.content.describe()),
            None => values(&c.after),
        };
        let mut before = values(&c.before);
        // A TTL change is a change: show it, or an update reads the same on both sides.
        if let (Some(b), Some(a)) = (&c.before, &c.after)
            && b.ttl != a.ttl
        {
            before = format!("TTL {}<br>{before}", b.ttl);
            after = format!("TTL {}<br>{after}", a.ttl);
        }
        let _ = writeln!(
            out,
            "| {} | `{}` | {} | {} | {} |",
            verb(c.action).1,
            cell(&c.address),
            c.purpose.map_or("", |p| p.label()),
            before,
            after
        );
    }
    out.push('\n');
}
