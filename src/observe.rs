//! AWS -> Observed: read-only observation. Every read that does not depend on another runs
//! concurrently (Route 53, SES and the gateway side by side); the reads themselves are in
//! `kinds::*::observe`.

use crate::aws::{Aws, AwsError};
use crate::kinds::{gateway, records, ses};
use crate::plan::desired::Desired;
use crate::plan::observed::Observed;

/// Observes everything in the desired state's scope: its hosted zones and, when it names a
/// region, SES there.
pub async fn observe(aws: &Aws, desired: &Desired) -> Result<Observed, AwsError> {
    let with_account =
        desired.ses.account_suppression.is_some() || desired.ses.production_access.is_some();
    let ses = async {
        if desired.region.is_some() {
            ses::observe::observe(aws, &desired.blueprint, &desired.domains, with_account)
                .await
                .map(Some)
        } else {
            Ok(None)
        }
    };
    let gateway = async {
        match &desired.gateway_scope {
            Some(g) => gateway::observe::observe(aws, &desired.blueprint, g)
                .await
                .map(Some),
            None => Ok(None),
        }
    };
    let ((zones, other_zones), ses, gateway) =
        futures::try_join!(records::observe::observe(aws, desired), ses, gateway)?;
    Ok(Observed {
        zones,
        ses,
        gateway,
        other_zones,
    })
}
