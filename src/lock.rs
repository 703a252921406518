//! The run lock: one `apply` or `destroy` of a blueprint at a time.
//!
//! Two runs at once (a double-triggered pipeline) would each plan from what they saw and
//! each carry out their plan: DNS could end up publishing one run's DKIM key while SSM holds
//! the other's, or one run could release the Elastic IP the other just associated. So a run
//! that writes first takes the blueprint's lock, and only then reads AWS and plans.
//!
//! The lock is an SSM parameter `/mailinfra/<blueprint>/lock/<n>` in the blueprint's region,
//! created without overwrite: SSM lets exactly one `PutParameter` create a name, which makes
//! taking it atomic. Its value says who holds it, since when, and until when. The holder
//! deletes it when done. A lock whose holder died (killed, a lost runner) expires; it is
//! taken over by creating the next number `<n+1>`, again without overwrite, so two runs taking
//! over the same expired lock cannot both win; the winner deletes the old one. No state file,
//! no extra service.
//!
//! A blueprint without a region (Route 53 records only) takes no lock: SSM is regional, and
//! every Route 53 write mailinfra makes is conditional (a batch fails whole when a set it
//! deletes does not match or one it creates exists), so the losing run fails and the next
//! converges.

use std::time::{Duration, SystemTime};

use aws_sdk_ssm::error::ProvideErrorMetadata as _;
use aws_sdk_ssm::types::ParameterType;
use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;
use serde::{Deserialize, Serialize};

use crate::aws::poll::{self, Look, Stopped, Wait};
use crate::aws::{Aws, AwsError, ops};
use crate::output::Output;

/// How long a lock lasts beyond the run's own longest waits: observing, the AWS calls
/// between the waits, and margin.
const MARGIN: Duration = Duration::from_secs(20 * 60);

use crate::kinds::lock_path as path;

/// What a lock parameter holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    /// The command: `apply` or `destroy`.
    pub command: String,
    /// Who: host and process, and the CI run when there is one.
    pub by: String,
    /// RFC 3339, UTC.
    pub since: String,
    pub expires: String,
    /// The holding process, where it can be recognised again: the boot it runs in (Linux's
    /// boot id), its pid and its start time. A lock whose holder is gone from this very
    /// machine (killed) is taken over at once instead of at its expiry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process: Option<Process>,
}

/// A process, recognisable on the machine that runs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Process {
    pub boot: String,
    pub pid: u32,
    /// Its start time in clock ticks since boot (`/proc/<pid>/stat`, field 22).
    pub start: String,
}

impl Process {
    fn this() -> Option<Self> {
        let pid = std::process::id();
        Some(Process {
            boot: boot_id()?,
            pid,
            start: start_time(pid)?,
        })
    }

    /// Whether this process ran on this machine since its last boot and has ended. Anywhere
    /// else (another machine, no /proc) nothing is known, so `false`.
    fn ended_here(&self) -> bool {
        boot_id().is_some_and(|b| b == self.boot)
            && start_time(self.pid).is_none_or(|s| s != self.start)
    }
}

fn boot_id() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .ok()
        .map(|b| b.trim().to_owned())
}

fn start_time(pid: u32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // After the command name in parentheses, fields 3, 4, ...; the start time is field 22.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19).map(str::to_owned)
}

impl Holder {
    fn new(command: &str, now: SystemTime, lasts: Duration) -> Self {
        Holder {
            command: command.into(),
            by: who(),
            since: rfc3339(now),
            expires: rfc3339(now + lasts),
            process: Process::this(),
        }
    }

    /// Whether the lock has expired at `now`. A lock whose expiry cannot be read never
    /// expires on its own: a person removes it (the error names the parameter).
    fn expired(&self, now: SystemTime) -> bool {
        DateTime::from_str(&self.expires, Format::DateTime)
            .ok()
            .and_then(|t| SystemTime::try_from(t).ok())
            .is_some_and(|t| t <= now)
    }
}

fn rfc3339(t: SystemTime) -> String {
    DateTime::from(t)
        .fmt(Format::DateTime)
        .unwrap_or_else(|_| "?".into())
}

/// `pid 4242 on build-7`, plus the GitHub Actions run when there is one.
fn who() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "an unknown host".into());
    let mut by = format!("pid {} on {host}", std::process::id());
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    if let (Some(server), Some(repo), Some(run)) = (
        var("GITHUB_SERVER_URL"),
        var("GITHUB_REPOSITORY"),
        var("GITHUB_RUN_ID"),
    ) {
        by.push_str(&format!(" ({server}/{repo}/actions/runs/{run})"));
    }
    by
}

/// One lock parameter as found.
#[derive(Debug, Clone)]
struct Found {
    n: u64,
    name: String,
    /// `None` when the value is not a lock this version can read.
    holder: Option<Holder>,
    /// Its holder ran on this machine and has ended.
    ended: bool,
}

/// What to do, given the lock parameters found.
#[derive(Debug, PartialEq, Eq)]
enum Next {
    /// Create number `n`; `replacing` names the expired lock to delete once it is ours.
    Take { n: u64, replacing: Option<String> },
    /// Someone holds it.
    Wait(String),
}

/// The highest number decides: it is the current lock, or the most recent takeover.
fn next(found: &[Found], now: SystemTime) -> Next {
    let Some(top) = found.iter().max_by_key(|f| f.n) else {
        return Next::Take {
            n: 1,
            replacing: None,
        };
    };
    match &top.holder {
        Some(h) if h.expired(now) || top.ended => Next::Take {
            n: top.n + 1,
            replacing: Some(top.name.clone()),
        },
        Some(h) => Next::Wait(format!(
            "another {} holds the lock since {} ({}); it expires at {}",
            h.command, h.since, h.by, h.expires
        )),
        None => Next::Wait(format!(
            "the lock parameter {} holds a value this mailinfra cannot read",
            top.name
        )),
    }
}

/// A lock this run holds; `release` gives it back.
#[derive(Debug)]
pub struct Lock {
    name: String,
}

/// Takes the blueprint's lock in the client's region, waiting at most `wait` for another
/// run to release it. `lasts` is how long this run may take at most (its own waits); the lock
/// expires that long plus a margin after it is taken.
pub async fn acquire(
    aws: &Aws,
    blueprint: &str,
    command: &str,
    lasts: Duration,
    wait: Duration,
    out: &Output,
) -> Result<Lock, AwsError> {
    let w = Wait {
        what: "the lock",
        every: Duration::from_secs(5),
        limit: wait,
        out: Some(out),
    };
    let taken = poll::until(w, || async {
        let found = list(aws, blueprint).await?;
        match next(&found, SystemTime::now()) {
            Next::Wait(why) => Ok(Look::NotYet(why)),
            Next::Take { n, replacing } => {
                let name = format!("{}/{n}", path(blueprint));
                let holder = Holder::new(command, SystemTime::now(), lasts + MARGIN);
                if !create(aws, &name, &holder).await? {
                    // Another run created it first: say who.
                    let found = list(aws, blueprint).await?;
                    return Ok(Look::NotYet(match next(&found, SystemTime::now()) {
                        Next::Wait(why) => why,
                        Next::Take { .. } => "another run took the lock first".into(),
                    }));
                }
                if let Some(old) = replacing {
                    out.progress(&format!(
                        "took over the lock {old}: its run has ended without giving it back"
                    ));
                    delete(aws, &old).await?;
                }
                Ok(Look::Done(Lock { name }))
            }
        }
    })
    .await;
    match taken {
        Ok(lock) => Ok(lock),
        Err(Stopped::Failed(e)) => Err(e),
        Err(Stopped::TimedOut { pending, spent }) => Err(AwsError::Locked {
            why: pending,
            waited: spent,
            path: path(blueprint),
        }),
    }
}

impl Lock {
    /// Deletes the lock. A lock already gone (taken over after expiry) is fine.
    pub async fn release(self, aws: &Aws) -> Result<(), AwsError> {
        delete(aws, &self.name).await
    }
}

async fn list(aws: &Aws, blueprint: &str) -> Result<Vec<Found>, AwsError> {
    let mut found = Vec::new();
    let mut pages = aws
        .ssm
        .get_parameters_by_path()
        .path(path(blueprint))
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::call(&ops::GET_PARAMETERS_BY_PATH, e))?;
        for p in page.parameters() {
            let name = p.name().unwrap_or_default();
            let Some(n) = name.rsplit('/').next().and_then(|n| n.parse().ok()) else {
                continue;
            };
            let holder: Option<Holder> = p.value().and_then(|v| serde_json::from_str(v).ok());
            let ended = holder
                .as_ref()
                .and_then(|h| h.process.as_ref())
                .is_some_and(Process::ended_here);
            found.push(Found {
                n,
                name: name.to_owned(),
                holder,
                ended,
            });
        }
    }
    Ok(found)
}

/// Creates the parameter unless it exists: whether this run created it.
async fn create(aws: &Aws, name: &str, holder: &Holder) -> Result<bool, AwsError> {
    let value = serde_json::to_string(holder)
        .map_err(|e| AwsError::Other(format!("writing the lock: {e}")))?;
    match aws
        .ssm
        .put_parameter()
        .name(name)
        .value(&value)
        .r#type(ParameterType::String)
        .overwrite(false)
        .description("mailinfra run lock: one apply or destroy of this blueprint at a time")
        .send()
        .await
    {
        Ok(_) => Ok(true),
        // It exists: made by another run, or by this very request, whose answer was lost
        // and which the SDK sent again. The value tells (it names this process and instant).
        Err(e) if e.code() == Some("ParameterAlreadyExists") => {
            Ok(read(aws, name).await?.as_deref() == Some(value.as_str()))
        }
        Err(e) => Err(AwsError::call(&ops::LOCK_PUT_PARAMETER, e)),
    }
}

async fn read(aws: &Aws, name: &str) -> Result<Option<String>, AwsError> {
    match aws.ssm.get_parameter().name(name).send().await {
        Ok(out) => Ok(out.parameter().and_then(|p| p.value()).map(str::to_owned)),
        Err(e) if e.code() == Some("ParameterNotFound") => Ok(None),
        Err(e) => Err(AwsError::call(&ops::LOCK_GET_PARAMETER, e)),
    }
}

async fn delete(aws: &Aws, name: &str) -> Result<(), AwsError> {
    match aws.ssm.delete_parameter().name(name).send().await {
        Ok(_) => Ok(()),
        Err(e) if e.code() == Some("ParameterNotFound") => Ok(()),
        Err(e) => Err(AwsError::call(&ops::DELETE_PARAMETER, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000 + secs)
    }

    fn found(n: u64, taken: u64, lasts: u64) -> Found {
        Found {
            n,
            name: format!("/mailinfra/relay/lock/{n}"),
            holder: Some(Holder::new("apply", at(taken), Duration::from_secs(lasts))),
            ended: false,
        }
    }

    #[test]
    fn no_lock_is_taken_as_number_one() {
        assert_eq!(
            next(&[], at(0)),
            Next::Take {
                n: 1,
                replacing: None
            }
        );
    }

    #[test]
    fn a_live_lock_is_waited_for_and_says_who_and_since_when() {
        let Next::Wait(why) = next(&[found(3, 0, 600)], at(599)) else {
            panic!("a live lock must be waited for");
        };
        assert!(
            why.starts_with("another apply holds the lock since 2027-01-15T08:00:00Z (pid "),
            "{why}"
        );
        assert!(why.ends_with("it expires at 2027-01-15T08:10:00Z"), "{why}");
    }

    #[test]
    fn an_expired_lock_is_taken_over_by_the_next_number() {
        assert_eq!(
            next(&[found(2, 0, 60), found(3, 0, 600)], at(600)),
            Next::Take {
                n: 4,
                replacing: Some("/mailinfra/relay/lock/3".into())
            }
        );
    }

    #[test]
    fn a_live_lock_whose_process_ended_here_is_taken_over_at_once() {
        let mut gone = found(1, 0, 600);
        gone.ended = true;
        assert!(matches!(next(&[gone], at(1)), Next::Take { n: 2, .. }));
    }

    #[test]
    fn this_process_is_recognised_and_is_not_ended() {
        let me = Process::this().expect("Linux has /proc");
        assert!(!me.ended_here());
        let other_start = Process {
            start: "0".into(),
            ..me.clone()
        };
        assert!(other_start.ended_here(), "a reused pid is another process");
        let elsewhere = Process {
            boot: "another-boot".into(),
            ..me
        };
        assert!(
            !elsewhere.ended_here(),
            "nothing is known of other machines"
        );
    }

    #[test]
    fn the_highest_number_decides() {
        // An expired 2 next to a live 3 (3 took over from 2 and has not deleted it yet).
        assert!(matches!(
            next(&[found(2, 0, 60), found(3, 100, 600)], at(200)),
            Next::Wait(_)
        ));
    }

    #[test]
    fn an_unreadable_lock_never_expires_and_is_named() {
        let odd = Found {
            n: 1,
            name: "/mailinfra/relay/lock/1".into(),
            holder: None,
            ended: false,
        };
        let Next::Wait(why) = next(&[odd], at(10_000_000)) else {
            panic!("an unreadable lock must be waited for");
        };
        assert!(why.contains("/mailinfra/relay/lock/1"), "{why}");
    }
}
