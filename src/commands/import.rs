//! `mailinfra import`: write a blueprint describing the mail records (SPF, DMARC, DKIM keys)
//! that Route 53 zones already hold, with `adopt:` for each, so that `plan` right after changes
//! only the ownership records. With `--region`, the SES domain identities under the zones
//! too (Easy DKIM, custom MAIL FROM), with `adopt:` for each and for the records SES needs.
//! What it cannot describe exactly is named on stderr and left out (dnscontrol's
//! `get-zones` and Terraform's config generation are the model).

use super::{Failure, Outcome, connect, settings};
use crate::cli::{Global, ImportArgs};
use crate::kinds::records::import::{self, Zone};
use crate::kinds::records::observe::{list_records, list_zones};
use crate::kinds::ses::observe;
use crate::output::Output;

pub async fn run(args: &ImportArgs, global: &Global, out: &Output) -> Outcome {
    let aws = connect(&settings(global, None)?).await?;
    let public: Vec<_> = list_zones(&aws)
        .await?
        .into_iter()
        .filter(|z| !z.private)
        .collect();
    let mut zones = Vec::new();
    for name in &args.zones {
        let want = name.trim_end_matches('.').to_ascii_lowercase();
        let zone = public.iter().find(|z| z.name == want).ok_or_else(|| {
            Failure::Refused(format!(
                "no public hosted zone `{want}` in this account; nothing was written"
            ))
        })?;
        out.progress(&format!("reading zone {want} ({})...", zone.id));
        zones.push(Zone {
            name: want,
            records: list_records(&aws, &zone.id).await?,
        });
    }
    // With a region, the SES identities there under the zones too (one GetEmailIdentity
    // each); without one, Route 53 only: SES is regional and import does not guess.
    let mut identities = Vec::new();
    if let Some(region) = global.region.as_deref() {
        out.progress(&format!("reading SES identities in {region}..."));
        let ses = connect(&settings(global, Some(region))?).await?;
        let under = |name: &str| {
            let domain = name.rsplit_once('@').map_or(name, |(_, d)| d);
            zones
                .iter()
                .any(|z| domain == z.name || domain.ends_with(&format!(".{}", z.name)))
        };
        for (name, domain) in observe::list_all_identities(&ses).await? {
            if !under(&name) {
                continue;
            }
            if !domain {
                identities.push(import::Identity::Address(name));
            } else if let Some(id) = observe::identity_if_any(&ses, name).await? {
                identities.push(import::Identity::Domain(Box::new(id)));
            }
        }
    }
    let name = args
        .blueprint
        .clone()
        .unwrap_or_else(|| zones[0].name.replace('.', "-").chars().take(63).collect());
    let imported = import::blueprint(&name, global.region.as_deref(), &zones, &identities);
    for skipped in &imported.skipped {
        out.warn(&format!("left out: {skipped}"));
    }
    if !imported.unmanaged.is_empty() {
        out.warn(&format!(
            "not mail records mailinfra manages, left out (and never touched): {}",
            imported.unmanaged.join(", ")
        ));
    }
    match &args.out {
        Some(path) => {
            std::fs::write(path, &imported.yaml)
                .map_err(|e| Failure::Refused(format!("cannot write `{}`: {e}", path.display())))?;
            out.progress(&format!(
                "wrote {} describing {} record(s); next: `mailinfra plan {}`",
                path.display(),
                imported.described,
                path.display()
            ));
        }
        None => out.data(&imported.yaml),
    }
    Ok(0)
}
