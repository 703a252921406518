//! One file per subcommand, each a short function wiring the layers; the shared pipeline
//! (load, connect, observe, diff) lives here so that `plan`, `apply` and `destroy` are one
//! path with execution switched on or off.

pub mod apply;
pub mod bounces;
pub mod check;
pub mod destroy;
pub mod docs;
pub mod import;
pub mod plan;
pub mod policy;
pub mod render_files;
pub mod schema;
pub mod show;
pub mod status;
pub mod validate;

use std::path::Path;

use crate::aws::{self, Aws, AwsError, AwsSettings};
use crate::blueprint::{self, Blueprint, Report};
use crate::observe;
use crate::output::Output;
use crate::plan::desired::{self, Desired};
use crate::plan::observed::Observed;
use crate::plan::{Conflict, Plan, diff, render};

/// Why a command failed, each kind printed its own way; all exit 1 but Ctrl-C (130).
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    #[error("{}", .0.render())]
    Blueprint(Report),
    #[error("{}", render::conflicts(.0))]
    Conflicts(Vec<Conflict>),
    #[error(transparent)]
    Aws(#[from] AwsError),
    #[error(transparent)]
    Execute(#[from] crate::execute::ExecuteError),
    #[error("{0}")]
    Refused(String),
}

impl Failure {
    /// Whether Ctrl-C stopped the run (exit 130, as shells report SIGINT).
    pub fn interrupted(&self) -> bool {
        matches!(
            self,
            Failure::Aws(AwsError::Interrupted { .. })
                | Failure::Execute(crate::execute::ExecuteError::Aws(
                    AwsError::Interrupted { .. }
                ))
        )
    }
}

/// What a command returns when it did not fail: the process exit code.
pub type Outcome = Result<i32, Failure>;

/// The blueprint file as a plan names it: path and SHA-256.
pub fn source(path: &Path) -> Result<crate::plan::Source, Failure> {
    let bytes = std::fs::read(path)
        .map_err(|e| Failure::Refused(format!("cannot read `{}`: {e}", path.display())))?;
    Ok(crate::plan::Source::of(&path.display().to_string(), &bytes))
}

pub fn load(path: &Path) -> Result<Blueprint, Failure> {
    blueprint::load_file(path).map_err(Failure::Blueprint)
}

/// How to connect: `--profile`, `--endpoint-url`, and the region (`region`).
pub fn settings(
    global: &crate::cli::Global,
    blueprint_region: Option<&str>,
) -> Result<AwsSettings, Failure> {
    Ok(AwsSettings {
        profile: global.profile.clone(),
        region: region(global, blueprint_region)?,
        endpoint_url: global.endpoint_url.clone(),
        trace: (global.verbose >= 2 && !global.quiet)
            .then(|| Output::new(global.color, global.quiet, global.verbose)),
    })
}

/// The region: the blueprint's (or a saved plan's) `region:`; `--region` names the region
/// of one without it. A `--region` that differs is refused before any request: the SES
/// setup, the gateway's key and its boot script would otherwise be split between two
/// regions, and what exists in the blueprint's region would be left behind.
fn region(global: &crate::cli::Global, own: Option<&str>) -> Result<Option<String>, Failure> {
    if let Some(flag) = &global.region
        && let Some(known) = crate::aws::partition::misspelt(flag)
    {
        return Err(Failure::Refused(format!(
            "`--region {flag}` is not an AWS region; nothing was sent to AWS\n  = hint: did you mean `{known}`?"
        )));
    }
    match (&global.region, own) {
        (Some(flag), Some(own)) if flag != own => Err(Failure::Refused(format!(
            "`--region {flag}` differs from the blueprint's `region: {own}`; nothing was sent to AWS\n  = hint: drop `--region` (the blueprint's region is used), or change `region:` in the blueprint"
        ))),
        (flag, own) => Ok(flag.clone().or_else(|| own.map(str::to_owned))),
    }
}

pub async fn connect(settings: &AwsSettings) -> Result<Aws, Failure> {
    Ok(aws::connect(settings).await?)
}

/// The desired state of a blueprint, in the region `region` settles.
pub fn desired(bp: &Blueprint, global: &crate::cli::Global) -> Result<Desired, Failure> {
    let mut d = desired::from_blueprint(bp);
    d.region = region(global, bp.region())?;
    Ok(d)
}

/// What plan, apply, destroy and check start from.
pub struct Session {
    pub aws: Aws,
    pub plan: Plan,
    pub observed: Observed,
}

/// Loads the blueprint, connects, observes and diffs: the one pipeline behind plan, apply,
/// destroy and check. `shape` adjusts the desired state (destroy wants nothing).
pub async fn start(
    file: &Path,
    global: &crate::cli::Global,
    out: &Output,
    shape: impl FnOnce(Desired) -> Desired,
) -> Result<Session, Failure> {
    let (aws, desired) = prepare(file, global, shape).await?;
    let (mut plan, observed) = make_plan(&aws, &desired, out).await?;
    plan.source = Some(source(file)?);
    Ok(Session {
        aws,
        plan,
        observed,
    })
}

/// Loads the blueprint, shapes its desired state and connects; nothing is read yet.
pub async fn prepare(
    file: &Path,
    global: &crate::cli::Global,
    shape: impl FnOnce(Desired) -> Desired,
) -> Result<(Aws, Desired), Failure> {
    let bp = load(file)?;
    let desired = shape(desired(&bp, global)?);
    let aws = connect(&settings(global, bp.region())?).await?;
    Ok((aws, desired))
}

/// Observes AWS for the desired state's scope and diffs.
pub async fn make_plan(
    aws: &Aws,
    desired: &Desired,
    out: &Output,
) -> Result<(Plan, Observed), Failure> {
    out.progress(&format!(
        "reading AWS for blueprint `{}`...",
        desired.blueprint
    ));
    let observed = observe::observe(aws, desired).await?;
    describe(&observed, out);
    let plan = diff(desired, &observed).map_err(Failure::Conflicts)?;
    Ok((plan, observed))
}

/// With `-v`: what was observed, on stderr.
fn describe(o: &Observed, out: &Output) {
    for z in &o.zones {
        out.debug(&format!(
            "observed zone {} ({}): {} record sets{}",
            z.zone.name,
            z.zone.id,
            z.records.len(),
            if z.tagged {
                ", tagged with this blueprint's footprint"
            } else {
                ""
            }
        ));
    }
    if let Some(s) = &o.ses {
        out.debug(&format!(
            "observed SES ({}): {} domain identities, {} configuration sets",
            s.region,
            s.identities.len(),
            s.config_sets.len()
        ));
    }
    if let Some(g) = &o.gateway {
        out.debug(&format!(
            "observed gateway: {} instances, {} Elastic IPs, {} security groups, DKIM keys [{}]",
            g.live_instances().count(),
            g.eips.len(),
            g.security_groups.len(),
            g.dkim_keys
                .iter()
                .map(|k| k.selector.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    out.debug(&format!("observation checksum {}", o.checksum()));
}
