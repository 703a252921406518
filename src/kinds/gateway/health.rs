//! The gateway's own report of its state (issue 14, "Health"): the instance writes a JSON
//! document to the SSM parameter `/mailinfra/<blueprint>/gateway/health` (its role may write
//! that one parameter and no other) at the end of its boot, when a boot step fails, and every
//! 5 minutes from a systemd timer (`mailinfra-report-health`, rendered in
//! `crate::mail::gateway`). `plan` and `status` read it and say which of these holds:
//! configured as the blueprint says at T, running with a problem, boot failed at step X,
//! configured otherwise than the blueprint, or not reporting since T.
//!
//! The report is not part of the observed state a saved plan is checked against (it changes
//! every 5 minutes); it only adds reports.

use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;
use serde::{Deserialize, Serialize};

use super::{DesiredGateway, ObservedGateway, ObservedInstance};
use crate::plan::{Report, ReportKind};

/// The timer's period on the gateway, in seconds.
pub const PERIOD: i64 = 300;
/// A report older than this (three periods) means the gateway has stopped reporting.
pub const STALE_AFTER: i64 = 3 * PERIOD;

/// The gateway's report as it writes it (`report_health.sh`). Fields it could not read are
/// absent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// When it was written, RFC 3339 UTC.
    #[serde(default)]
    pub time: String,
    /// The instance that wrote it.
    #[serde(default)]
    pub instance: String,
    /// SHA-256 of the user data it booted with (cloud-init's copy), hex.
    #[serde(default)]
    pub user_data_sha256: String,
    /// `ok` (the boot script ran to its end), `failed`, or `running`.
    #[serde(default)]
    pub boot: String,
    #[serde(default)]
    pub boot_step: Option<String>,
    #[serde(default)]
    pub boot_reason: Option<String>,
    #[serde(default)]
    pub postfix_running: bool,
    /// OpenDKIM's milter port answers.
    #[serde(default)]
    pub opendkim_running: bool,
    /// The last DKIM key fetch failed: its record (time, attempts, last error).
    #[serde(default)]
    pub dkim_key_failed: Option<String>,
    /// Relaying through SES: the last SMTP credentials fetch failed (time, attempts, error).
    #[serde(default)]
    pub ses_credentials_failed: Option<String>,
    /// Messages in Postfix's queue, and how many of them are deferred.
    #[serde(default)]
    pub queue: Option<u64>,
    #[serde(default)]
    pub deferred: Option<u64>,
}

/// The report as observed: the document (or why it could not be read) and the time it was
/// read, which staleness is measured against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    /// `None`: the parameter does not exist (the gateway never reported).
    pub report: Option<Result<Health, String>>,
    /// Seconds since the epoch, when it was read.
    pub now: i64,
}

impl Observed {
    /// Reads the parameter's value (`None` when there is none).
    pub fn parse(value: Option<&str>, now: i64) -> Observed {
        Observed {
            report: value.map(|v| {
                serde_json::from_str::<Health>(v).map_err(|e| format!("unreadable report: {e}"))
            }),
            now,
        }
    }
}

/// What the report says about the serving instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// Configured as the blueprint says, Postfix and OpenDKIM running.
    Configured { at: String, detail: String },
    /// Configured as the blueprint says, but something does not run.
    Problem { at: String, what: String },
    BootFailed {
        at: String,
        step: String,
        reason: String,
    },
    /// It booted with other user data than the blueprint renders.
    Differs {
        at: String,
        reported: String,
        wanted: String,
    },
    /// Launched recently; its first report is not due yet.
    Starting { launched: String },
    /// No report from this instance, or none for `STALE_AFTER`.
    Silent { since: String },
}

/// `2026-12-03T10:00:00Z` for seconds since the epoch.
pub(crate) fn rfc3339(secs: i64) -> String {
    DateTime::from_secs(secs)
        .fmt(Format::DateTime)
        .unwrap_or_else(|_| secs.to_string())
}

/// Seconds since the epoch of a `2026-12-03T10:00:00Z` time.
pub(crate) fn secs(t: &str) -> Option<i64> {
    DateTime::from_str(t, Format::DateTime)
        .ok()
        .map(|d| d.secs())
}

/// The state of `serving` (the instance with the Elastic IP) by its report; `None` without
/// an instance, or when the report was not read.
pub fn state(g: &DesiredGateway, o: &ObservedGateway, serving: &ObservedInstance) -> Option<State> {
    let observed = o.health.as_ref()?;
    let now = observed.now;
    let launched = serving.launched;
    // Reports of an earlier instance say nothing about this one.
    let report = match &observed.report {
        Some(Ok(h)) if h.instance == serving.id => Some(h),
        _ => None,
    };
    let Some(h) = report else {
        return Some(if now - launched < STALE_AFTER {
            State::Starting {
                launched: rfc3339(launched),
            }
        } else {
            State::Silent {
                since: format!("its launch at {}", rfc3339(launched)),
            }
        });
    };
    let at = h.time.clone();
    if secs(&at).is_none_or(|t| now - t > STALE_AFTER) {
        return Some(State::Silent { since: at });
    }
    if h.boot == "failed" {
        return Some(State::BootFailed {
            at,
            step: h.boot_step.clone().unwrap_or_else(|| "?".into()),
            reason: h
                .boot_reason
                .clone()
                .unwrap_or_else(|| "no reason given".into()),
        });
    }
    let wanted = g.user_data_sha256();
    if h.user_data_sha256 != wanted {
        return Some(State::Differs {
            at,
            reported: h.user_data_sha256.clone(),
            wanted,
        });
    }
    let mut problems = Vec::new();
    if h.boot != "ok" {
        problems.push("the boot script has not finished".to_owned());
    }
    if !h.postfix_running {
        problems.push("Postfix is not running".to_owned());
    }
    let ses = matches!(g.render.relay, crate::mail::gateway::Relay::Ses { .. });
    if ses {
        if let Some(why) = &h.ses_credentials_failed {
            problems.push(format!("the SES SMTP credentials fetch fails ({why}); Postfix stays stopped and mail waits in the senders' queues"));
        }
    } else if !h.opendkim_running {
        problems.push(match &h.dkim_key_failed {
            Some(why) => format!("OpenDKIM is not running: the DKIM key fetch fails ({why}); mail waits in the senders' queues"),
            None => "OpenDKIM is not running; mail waits in the senders' queues".to_owned(),
        });
    }
    let queue = match (h.queue, h.deferred) {
        (Some(q), Some(d)) => format!("{q} queued, {d} deferred"),
        _ => "queue not read".to_owned(),
    };
    Some(if problems.is_empty() {
        State::Configured {
            at,
            detail: if ses {
                format!("Postfix running, relaying through SES, {queue}")
            } else {
                format!("Postfix and OpenDKIM running, {queue}")
            },
        }
    } else {
        State::Problem {
            at,
            what: format!("{}; {queue}", problems.join("; ")),
        }
    })
}

/// One line for `status`.
pub fn summary(s: &State) -> String {
    match s {
        State::Configured { at, detail } => {
            format!("configured as the blueprint says at {at} ({detail})")
        }
        State::Problem { at, what } => {
            format!("configured as the blueprint says, with a problem at {at}: {what}")
        }
        State::BootFailed { at, step, reason } => {
            format!("boot failed at step `{step}`: {reason} (reported at {at})")
        }
        State::Differs {
            at,
            reported,
            wanted,
        } => format!(
            "configured otherwise than the blueprint at {at} (booted with user data sha256 {reported}; the blueprint renders {wanted})"
        ),
        State::Starting { launched } => {
            format!(
                "launched at {launched}; no report yet (it reports once booted, within about 5 minutes)"
            )
        }
        State::Silent { since } => format!("not reporting since {since}"),
    }
}

/// A report for `plan` and `status` when the gateway is not as the blueprint says, or
/// silent; `None` when all is well or it is still starting.
pub fn report(s: &State, instance: &str) -> Option<Report> {
    let console = format!(
        "the boot's output: `aws ec2 get-console-output --instance-id {instance}` (or \"Get system log\" in the EC2 console)"
    );
    let replace = format!(
        "once the cause is fixed, replace the instance: terminate it (`aws ec2 terminate-instances --instance-ids {instance}`), then `mailinfra apply` launches a new one on the same network interface (the addresses stay)"
    );
    let (title, steps) = match s {
        State::Configured { .. } | State::Starting { .. } => return None,
        State::Problem { at, what } => (
            format!("Gateway {instance} reports a problem at {at}: {what}"),
            vec![console, replace],
        ),
        State::BootFailed { at, step, reason } => (
            format!("Gateway {instance}: boot failed at step `{step}`: {reason} (reported at {at})"),
            vec![console, replace],
        ),
        State::Differs {
            at,
            reported,
            wanted,
        } => (
            format!(
                "Gateway {instance} runs another configuration than the blueprint (reported at {at}: user data sha256 {reported}, the blueprint renders {wanted})"
            ),
            vec!["`mailinfra apply` replaces it with one launched as the blueprint says".into()],
        ),
        State::Silent { since } => (
            format!("Gateway {instance} is not reporting its health since {since}"),
            vec![
                console,
                "it reports every 5 minutes: no report means the instance is stopped or hung, its role may not write the parameter, or it cannot reach SSM".into(),
                replace,
            ],
        ),
    };
    Some(Report {
        address: "gateway.report.health".into(),
        kind: ReportKind::Attention,
        title,
        steps,
    })
}
