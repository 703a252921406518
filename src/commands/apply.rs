//! `mailinfra apply`: the plan pipeline with execution switched on. Takes a blueprint, or a
//! plan saved by `plan --out`, which is applied only if AWS still holds exactly what the plan
//! observed (its checksum). SES and the gateway's first steps run first, side by side; the
//! values they produce (DKIM tokens, a generated key's public half, the Elastic IP) fill the
//! plan's pending record changes; then Route 53, then the steps that wait for DNS.

use std::future::Future;
use std::path::Path;
use std::time::Duration;

use tokio::time::Instant;

use super::{Failure, Outcome, make_plan, prepare};
use crate::aws::poll::{self, Look, Stopped, Wait};
use crate::aws::{Aws, AwsError};
use crate::cli::{ApplyArgs, Global, RotateArgs, RotateKey};
use crate::execute;
use crate::kinds::ses::{observe as ses, verification};
use crate::lock;
use crate::output::Output;
use crate::plan::desired::Desired;
use crate::plan::{self, Plan, render};

pub async fn run(args: &ApplyArgs, global: &Global, out: &Output) -> Outcome {
    let how = Execution {
        yes: args.yes,
        force: args.force,
        timeout: args.timeout,
        wait: args.wait,
        lock_timeout: args.lock_timeout,
        verb: "Apply",
    };
    if let Some(saved) = read_saved_plan(&args.file)? {
        return apply_saved(&args.file, saved, global, &how, out).await;
    }
    let (aws, desired) = prepare(&args.file, global, |d| d).await?;
    locked(&aws, &desired, &how, out, || async {
        let (plan, _) = make_plan(&aws, &desired, out).await?;
        out.data(&render::text(&plan, out.paint_out()));
        execute(&aws, &plan, &how, out).await
    })
    .await
}

/// `mailinfra rotate`: an apply that starts the named key's rotation now (its first stage).
pub async fn rotate(args: &RotateArgs, global: &Global, out: &Output) -> Outcome {
    let how = Execution {
        yes: args.yes,
        force: false,
        timeout: args.timeout,
        wait: None,
        lock_timeout: args.lock_timeout,
        verb: "Apply",
    };
    let mut rotates = false;
    let mut unknown: Vec<String> = args.domain.clone();
    let (aws, desired) = prepare(&args.file, global, |mut d| {
        let g = d.gateway.as_mut();
        match args.key {
            RotateKey::SesDkim => {
                for id in &mut d.ses.identities {
                    let named = args.domain.is_empty() || args.domain.contains(&id.domain);
                    unknown.retain(|u| *u != id.domain);
                    if let Some(p) = id.key_policy.as_mut().filter(|_| named) {
                        p.requested = true;
                        rotates = true;
                    }
                }
            }
            RotateKey::GatewayDkim => {
                if let Some(p) = g.and_then(|g| g.rotation_policy.as_mut()) {
                    p.requested = true;
                    rotates = true;
                }
            }
            RotateKey::SmtpCredentials => {
                if let Some(r) = g.and_then(|g| g.smtp_rotation.as_mut()) {
                    r.requested = true;
                    rotates = true;
                }
            }
        }
        d
    })
    .await?;
    if let Some(u) = unknown.first().filter(|_| args.key == RotateKey::SesDkim) {
        return Err(Failure::Refused(format!(
            "{} has no SES identity `{u}`\n  = hint: --domain names a domain of the blueprint whose `ses.dkim` is `byodkim`",
            args.file.display()
        )));
    }
    if !args.domain.is_empty() && args.key != RotateKey::SesDkim {
        return Err(Failure::Refused(
            "--domain belongs to `mailinfra rotate ses-dkim`; the gateway holds one key of each kind".into(),
        ));
    }
    if !rotates {
        let why = match args.key {
            RotateKey::GatewayDkim => {
                "no gateway DKIM key to rotate: it has no `gateway:`, or the gateway relays through SES (`relay_via: ses`), which signs with the identities' keys\n  = hint: `mailinfra rotate ses-dkim` rotates the BYODKIM keys of SES identities"
            }
            RotateKey::SesDkim => {
                "no BYODKIM key to rotate among the identities named: SES holds Easy DKIM keys itself and rotates them on its own schedule\n  = hint: `ses: { dkim: { byodkim: { selector: s1 } } }` makes mailinfra generate the key"
            }
            RotateKey::SmtpCredentials => {
                "no SES SMTP credentials to rotate: only a gateway with `relay_via: ses` has them\n  = hint: `mailinfra rotate gateway-dkim` rotates the key of a gateway that delivers directly"
            }
        };
        return Err(Failure::Refused(format!(
            "{} has {why}",
            args.file.display()
        )));
    }
    locked(&aws, &desired, &how, out, || async {
        let (plan, _) = make_plan(&aws, &desired, out).await?;
        out.data(&render::text(&plan, out.paint_out()));
        execute(&aws, &plan, &how, out).await
    })
    .await
}

/// Carries out a plan saved by `plan --out`, and only that: its blueprint (named in the
/// plan, with its SHA-256) is read and planned again against fresh observation, and the run
/// goes on only when AWS is as the plan saw it and the new plan equals the saved one. What
/// is carried out is the new plan, built from the blueprint: nothing is taken from the
/// saved file's text, so editing it (a relay range, a role policy, the safety flag) cannot
/// change what apply does.
async fn apply_saved(
    file: &Path,
    saved: Plan,
    global: &Global,
    how: &Execution,
    out: &Output,
) -> Outcome {
    let name = file.display();
    let Some(source) = saved.source.clone() else {
        return Err(Failure::Refused(format!(
            "the saved plan {name} names no blueprint; nothing was applied\n  = hint: make it with `mailinfra plan BLUEPRINT --out {name}`"
        )));
    };
    let blueprint = Path::new(&source.path);
    if super::source(blueprint).ok().as_ref() != Some(&source) {
        return Err(Failure::Refused(format!(
            "the blueprint {} is not the one the saved plan {name} was made from (missing, or its SHA-256 differs); nothing was applied\n  = hint: apply from the folder and commit where `mailinfra plan --out` ran, or make the plan again",
            source.path
        )));
    }
    let (aws, desired) = prepare(blueprint, global, |d| d).await?;
    locked(&aws, &desired, how, out, || async {
        out.progress(&format!("checking that AWS still matches the saved plan {name}..."));
        let (mut fresh, _) = make_plan(&aws, &desired, out).await?;
        fresh.source = Some(source);
        if fresh.observed_checksum != saved.observed_checksum {
            return Err(Failure::Refused(format!(
                "the saved plan {name} is stale: what it observed in AWS has changed since it was made; nothing was applied\n  = hint: run `mailinfra plan --out {name}` again and review the new plan"
            )));
        }
        let differ = fresh.differences(&saved);
        if !differ.is_empty() {
            return Err(Failure::Refused(format!(
                "the saved plan {name} is not what its blueprint plans: `{}` differ(s), so the file was edited or made by another mailinfra; nothing was applied\n  = hint: make the plan again with `mailinfra plan {} --out {name}` and review it",
                differ.join("`, `"),
                fresh.source.as_ref().map_or("", |s| s.path.as_str())
            )));
        }
        out.data(&render::text(&fresh, out.paint_out()));
        execute(&aws, &fresh, how, out).await
    })
    .await
}

/// Runs `body` holding the blueprint's run lock (`crate::lock`), taken before AWS is read so
/// that the plan is made from what no other run is changing, and given back whatever
/// `body` returns. A blueprint without a region takes none (see `crate::lock`).
pub async fn locked<F, Fut>(
    aws: &Aws,
    desired: &Desired,
    how: &Execution,
    out: &Output,
    body: F,
) -> Outcome
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Outcome>,
{
    if desired.region.is_none() {
        return body().await;
    }
    let command = how.verb.to_lowercase();
    let lock = lock::acquire(
        aws,
        &desired.blueprint,
        &command,
        how.longest(),
        how.lock_timeout,
        out,
    )
    .await?;
    let result = body().await;
    if let Err(e) = lock.release(aws).await {
        out.warn(&format!(
            "the run lock was not given back ({e}); it expires on its own"
        ));
    }
    result
}

/// A JSON document naming itself `mailinfra-plan` is a saved plan; anything else is taken
/// for a blueprint.
pub fn read_saved_plan(path: &Path) -> Result<Option<Plan>, Failure> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Ok(None);
    };
    let Ok(value) = serde_json::from_str::<serde_json::Value>(&text) else {
        return Ok(None);
    };
    if value.get("format").and_then(|f| f.as_str()) != Some(plan::FORMAT) {
        return Ok(None);
    }
    let version = value.get("version").and_then(|v| v.as_u64());
    if version != Some(u64::from(plan::VERSION)) {
        return Err(Failure::Refused(format!(
            "{} is a plan of format version {}, this mailinfra reads version {}\n  = hint: make the plan again with this version",
            path.display(),
            version.map_or("?".into(), |v| v.to_string()),
            plan::VERSION
        )));
    }
    serde_json::from_value(value)
        .map(Some)
        .map_err(|e| Failure::Refused(format!("{} is not a valid plan: {e}", path.display())))
}

/// How to carry out a plan.
pub struct Execution {
    pub yes: bool,
    pub force: bool,
    pub timeout: Duration,
    /// Wait this long for SES identities to verify.
    pub wait: Option<Duration>,
    /// Wait this long for another run's lock.
    pub lock_timeout: Duration,
    /// What the run is called when it reports: `Apply` or `Destroy`.
    pub verb: &'static str,
}

impl Execution {
    /// The longest this run can wait on AWS: DNS, the gateway's instance, SES verification.
    fn longest(&self) -> Duration {
        self.timeout * 2 + self.wait.unwrap_or_default()
    }
}

/// Confirms and carries out a plan. Shared by apply and destroy.
pub async fn execute(aws: &Aws, plan: &Plan, how: &Execution, out: &Output) -> Outcome {
    if !plan.is_empty() {
        if let Some(why) = &plan.safety
            && !how.force
        {
            return Err(Failure::Refused(format!(
                "{why}; nothing was applied\n  = hint: review the plan, then pass --force"
            )));
        }
        if !how.yes {
            if !out.can_prompt() {
                return Err(Failure::Refused(
                    "refusing to change AWS without confirmation: stdin is not a terminal\n  = hint: pass --yes to apply without asking".into(),
                ));
            }
            if !out.confirm("Apply these changes?") {
                return Err(Failure::Refused(
                    "apply cancelled; nothing was changed".into(),
                ));
            }
        }
        crate::interrupt::listen(out);
        let results = execute::run(aws, plan, how.timeout, out).await?;
        let batches: usize = results.iter().map(|r| r.batches).sum();
        let s = plan.summary;
        out.progress(&format!(
            "{} complete: {} created, {} updated, {} replaced, {} adopted, {} deleted; {} SES change(s), {} gateway change(s), {} Route 53 change batch(es) in {} zone(s).",
            how.verb,
            s.create,
            s.update,
            s.replace,
            s.adopt,
            s.delete,
            plan.ses.len(),
            plan.gateway.len(),
            batches,
            results.len()
        ));
    }
    if let Some(limit) = how.wait {
        wait_verified(aws, plan, limit, out).await?;
    }
    Ok(0)
}

/// Polls SES until every identity of the plan's desired state is verified (and its MAIL FROM
/// domain with it), for at most `limit`.
async fn wait_verified(
    aws: &Aws,
    plan: &Plan,
    limit: Duration,
    out: &Output,
) -> Result<(), Failure> {
    let start = Instant::now();
    let ids = &plan.desired.ses.identities;
    if ids.is_empty() {
        return Ok(());
    }
    let wait = Wait {
        what: "SES to verify",
        every: Duration::from_secs(5),
        limit,
        out: Some(out),
    };
    let waited = poll::until(wait, || async {
        let mut pending = Vec::new();
        for id in ids {
            let o = ses::identity(aws, id.domain.clone()).await?;
            let progress = verification::progress(id, Some(&o));
            if !progress.is_done() {
                pending.push(format!("{} ({})", id.domain, progress.waiting_for()));
            }
        }
        Ok::<_, AwsError>(if pending.is_empty() {
            Look::Done(())
        } else {
            Look::NotYet(pending.join("; "))
        })
    })
    .await;
    match waited {
        Ok(()) => {
            out.progress(&format!(
                "SES verified every identity after {} s",
                start.elapsed().as_secs()
            ));
            Ok(())
        }
        Err(Stopped::Failed(e)) => Err(e.into()),
        Err(Stopped::TimedOut { pending, spent }) => Err(Failure::Refused(format!(
            "still pending after {} s: {pending}\n  = hint: SES checks DNS on its own schedule (up to 72 hours); `mailinfra status` shows what each identity needs",
            spent.as_secs(),
        ))),
    }
}
