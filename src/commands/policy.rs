//! `mailinfra policy`: the least-privilege IAM policy for a CI role that plans or applies
//! the blueprint. Offline: no credentials, no AWS request.

use std::path::Path;

use serde_json::Value;

use super::{Failure, Outcome, desired, load};
use crate::cli::{Global, PolicyArgs};
use crate::output::Output;
use crate::policy::{self, MAX_POLICY_CHARS};

/// Managed policies a role may have attached by default (IAM and AWS STS quotas; the quota
/// can be raised).
const MANAGED_PER_ROLE: usize = 10;

pub fn run(args: &PolicyArgs, global: &Global, out: &Output) -> Outcome {
    let bp = load(&args.file.file)?;
    let docs = policy::documents(&desired(&bp, global)?, args.r#for);
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
        None if docs.len() == 1 => out.data(&pretty(&docs[0])?),
        None => out.data(&pretty(&Value::Array(docs))?),
    }
    Ok(0)
}
