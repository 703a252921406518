//! `mailinfra policy`: the least-privilege IAM policy for a CI role that plans or applies
//! the blueprint. Offline (no credentials, no AWS request) unless `--lookup-zones` reads the
//! blueprint's hosted zone ids.

use std::path::Path;

use serde_json::Value;

use super::{Failure, Outcome, desired, load};
use crate::cli::{Global, PolicyArgs};
use crate::output::Output;
use crate::policy::{self, MAX_POLICY_CHARS};

/// Managed policies a role may have attached by default (IAM and AWS STS quotas; the quota
/// can be raised).
const MANAGED_PER_ROLE: usize = 10;
/// The characters all of a role's inline policies may hold together (IAM and AWS STS
/// quotas), whitespace not counted.
const INLINE_PER_ROLE: usize = 10_240;

pub fn run(args: &PolicyArgs, global: &Global, out: &Output) -> Outcome {
    let bp = load(&args.file.file)?;
    let d = desired(&bp, global)?;
    let zones = match args.lookup_zones {
        true => Some(zone_ids(&d, global, out)?),
        false => None,
    };
    let zones = zones.as_deref();
    if args.out_dir.is_none() {
        return one_document(&policy::build_in(&d, args.r#for, zones), out);
    }
    let docs = policy::documents_in(&d, args.r#for, zones);
    let pretty = |v: &Value| {
        serde_json::to_string_pretty(v)
            .map(|j| format!("{j}\n"))
            .map_err(|e| Failure::Refused(e.to_string()))
    };
    if docs.len() > 1 {
        out.warn(&format!(
            "the policy is {} documents of at most {MAX_POLICY_CHARS} characters (IAM's limit for one managed policy): attach each to the role as its own managed policy",
            docs.len()
        ));
    }
    if docs.len() > MANAGED_PER_ROLE {
        out.warn(&format!(
            "a role holds {MANAGED_PER_ROLE} managed policies unless its quota is raised: split the blueprint, or ask AWS for a higher quota"
        ));
    }
    match &args.out_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .map_err(|e| Failure::Refused(format!("cannot create `{}`: {e}", dir.display())))?;
            for (i, doc) in docs.iter().enumerate() {
                let path = Path::new(dir).join(format!("policy-{}.json", i + 1));
                std::fs::write(&path, pretty(doc)?).map_err(|e| {
                    Failure::Refused(format!("cannot write `{}`: {e}", path.display()))
                })?;
                out.data(&format!("{}\n", path.display()));
            }
        }
        None => unreachable!("without --out-dir the policy is printed whole"),
    }
    Ok(0)
}

/// The ids of the hosted zones the blueprint works in, read with the current credentials.
/// Every zone the blueprint names must exist: a policy made before its zone would not let
/// the blueprint write there.
fn zone_ids(
    d: &crate::plan::desired::Desired,
    global: &Global,
    out: &Output,
) -> Result<Vec<String>, Failure> {
    let settings = super::settings(global, d.region.as_deref())?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Refused(format!("starting the async runtime: {e}")))?;
    let zones = rt.block_on(async {
        let aws = super::connect(&settings).await?;
        Ok::<_, Failure>(crate::kinds::records::observe::zones_in_scope(&aws, d).await?)
    })?;
    let missing: Vec<&str> = d
        .zones
        .iter()
        .filter(|name| !zones.iter().any(|z| &z.name == *name))
        .map(String::as_str)
        .collect();
    let ids: Vec<String> = zones.into_iter().map(|z| z.id).collect();
    if !missing.is_empty() {
        return Err(Failure::Refused(format!(
            "no public hosted zone for {}; nothing was printed
  = hint: create the zone first (or leave out --lookup-zones: the policy then names every zone)",
            missing.join(", ")
        )));
    }
    out.progress(&format!(
        "record changes limited to {} hosted zone(s): {}",
        ids.len(),
        ids.join(", ")
    ));
    Ok(ids)
}

/// On stdout, the policy as one document when IAM can take it as one: up to 6,144
/// characters as a managed policy, up to 10,240 as the role's inline policy. Larger, it needs
/// `--out-dir`: printing several documents to a file that looks like one would fail only when
/// IAM is handed it.
fn one_document(doc: &Value, out: &Output) -> Outcome {
    let size = policy::size(doc);
    if size > INLINE_PER_ROLE {
        return Err(Failure::Refused(format!(
            "the policy is {size} characters: over IAM's {INLINE_PER_ROLE} for a role's inline policies and {MAX_POLICY_CHARS} for one managed policy; nothing was printed\n  = hint: pass --out-dir DIR to write it as managed policies of at most {MAX_POLICY_CHARS} characters each (policy-1.json, ...)"
        )));
    }
    if size > MAX_POLICY_CHARS {
        out.warn(&format!(
            "the policy is {size} characters: attach it as the role's inline policy (IAM allows {INLINE_PER_ROLE}), not as a managed policy ({MAX_POLICY_CHARS}); --out-dir DIR splits it into managed policies"
        ));
    }
    let json = serde_json::to_string_pretty(doc).map_err(|e| Failure::Refused(e.to_string()))?;
    out.data(&format!("{json}\n"));
    Ok(0)
}
