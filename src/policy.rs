//! The least-privilege IAM policy a CI role needs to plan, or to apply, one blueprint,
//! built from the operation table (`aws::ops`) and the blueprint's desired state. Pure.
//!
//! Scoping, where the services allow it:
//! - Route 53 record changes are limited to the blueprint's domains and their subdomains
//!   (`route53:ChangeResourceRecordSetsNormalizedRecordNames`).
//! - SES identity and configuration-set writes name the blueprint's identities and sets;
//!   deletions are limited to resources tagged `mailinfra:blueprint=<name>`.
//! - Reads that must see everything to find the blueprint's footprint (all zones, all
//!   identities) are account-wide, as are the calls IAM only grants on `*`.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::aws::ops::{self, Access, Need, Op, Target};
use crate::kinds::ses::OWNER_TAG;
use crate::mail::names;
use crate::plan::desired::Desired;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Phase {
    /// `mailinfra plan` and `status`: reads only.
    Plan,
    /// `mailinfra apply` and `destroy`: reads and writes.
    Apply,
}

/// Whether the blueprint needs an operation at all.
fn needed(op: &Op, desired: &Desired, phase: Phase) -> bool {
    if phase == Phase::Plan && op.access == Access::Write || op.target == Target::Free {
        return false;
    }
    let ses = &desired.ses;
    match op.need {
        Need::Always => true,
        Need::Gateway => desired.gateway.is_some(),
        Need::Lock => phase == Phase::Apply && desired.region.is_some(),
        Need::Ses => desired.region.is_some(),
        Need::SesAccount => {
            desired.region.is_some()
                && match op.name {
                    n if n == ops::PUT_ACCOUNT_DETAILS.name => ses.production_access.is_some(),
                    n if n == ops::PUT_ACCOUNT_SUPPRESSION_ATTRIBUTES.name => {
                        ses.account_suppression.is_some()
                    }
                    _ => ses.account_suppression.is_some() || ses.production_access.is_some(),
                }
        }
    }
}

/// The operations the blueprint needs for a phase.
pub fn operations(desired: &Desired, phase: Phase) -> Vec<&'static Op> {
    ops::ALL
        .iter()
        .copied()
        .filter(|op| needed(op, desired, phase))
        .collect()
}

/// One IAM policy statement being assembled.
struct Statement {
    sid: &'static str,
    resources: Vec<String>,
    condition: Option<Value>,
    actions: Vec<String>,
}

fn is_delete(op: &Op) -> bool {
    op.name.starts_with("Delete")
}

pub fn build(desired: &Desired, phase: Phase) -> Value {
    let scope = Scope::of(desired);
    let mut statements: Vec<Statement> = Vec::new();
    // Launching the gateway with its instance profile passes the role to EC2.
    if operations(desired, phase)
        .iter()
        .any(|o| o.name == ops::RUN_INSTANCES.name)
    {
        statements.push(Statement {
            sid: "PassGatewayRole",
            resources: vec![format!(
                "arn:{}:iam::*:role/{}",
                scope.partition, scope.role
            )],
            condition: Some(
                json!({ "StringEquals": { "iam:PassedToService": "ec2.amazonaws.com" } }),
            ),
            actions: vec!["iam:PassRole".into()],
        });
    }
    for op in operations(desired, phase) {
        let (sid, resources, condition) = scope.group(op);
        match statements.iter_mut().find(|s| s.sid == sid) {
            Some(s) => s.actions.push(op.action()),
            None => statements.push(Statement {
                sid,
                resources,
                condition,
                actions: vec![op.action()],
            }),
        }
    }
    let statements: Vec<Value> = statements.into_iter().map(Statement::into_json).collect();
    json!({ "Version": "2012-10-17", "Statement": statements })
}

impl Statement {
    fn into_json(mut self) -> Value {
        self.actions.sort();
        let mut s = json!({ "Sid": self.sid, "Effect": "Allow", "Action": self.actions, "Resource": self.resources });
        if let Some(c) = self.condition {
            s["Condition"] = c;
        }
        s
    }
}

/// What a blueprint's statements are limited to: its region, SES resources, record names,
/// gateway role and owner tag.
struct Scope<'a> {
    blueprint: &'a str,
    region: &'a str,
    /// The region's partition (`aws`, `aws-cn`, `aws-us-gov`), which every ARN names.
    partition: &'static str,
    /// ARNs of the blueprint's SES identities and configuration sets.
    ses: Vec<String>,
    /// Each outermost name the blueprint writes, and everything below it.
    names: BTreeSet<String>,
    role: String,
    /// The gateway's DKIM key parameters: (private, public).
    key: (String, String),
    owned: Value,
}

impl<'a> Scope<'a> {
    fn of(desired: &'a Desired) -> Self {
        let region = desired.region.as_deref().unwrap_or("*");
        let partition = crate::aws::partition::of(region);
        let identities = desired
            .ses
            .identities
            .iter()
            .map(|i| format!("arn:{partition}:ses:{region}:*:identity/{}", i.domain));
        let sets = desired.ses.config_sets.iter().map(|s| {
            format!(
                "arn:{partition}:ses:{region}:*:configuration-set/{}",
                s.name
            )
        });
        Scope {
            blueprint: &desired.blueprint,
            region,
            partition,
            ses: identities.chain(sets).collect(),
            names: record_names(desired),
            role: desired
                .gateway
                .as_ref()
                .map(|g| g.names.role.clone())
                .unwrap_or_default(),
            key: desired
                .gateway
                .as_ref()
                .map(|g| (g.names.key_private.clone(), g.names.key_public.clone()))
                .unwrap_or_default(),
            owned: json!({ "StringEquals": { format!("aws:ResourceTag/{OWNER_TAG}"): desired.blueprint } }),
        }
    }

    /// The ARN of an SSM parameter of the blueprint's region (`name` starts with `/`).
    fn parameter(&self, name: &str) -> String {
        format!(
            "arn:{}:ssm:{}:*:parameter{name}",
            self.partition, self.region
        )
    }

    /// (sid, resources, condition) of the statement an operation belongs to.
    fn group(&self, op: &Op) -> (&'static str, Vec<String>, Option<Value>) {
        let region = self.region;
        let partition = self.partition;
        let zones = || vec![format!("arn:{partition}:route53:::hostedzone/*")];
        match (op.target, op.access) {
            (Target::Account, Access::Read) => ("ReadAccountWide", vec!["*".into()], None),
            (Target::Account, Access::Write) => ("WriteAccountSettings", vec!["*".into()], None),
            (Target::HostedZone, Access::Read) => ("ReadHostedZones", zones(), None),
            (Target::HostedZone, Access::Write) => ("TagHostedZones", zones(), None),
            (Target::Change, _) => (
                "ReadChanges",
                vec![format!("arn:{partition}:route53:::change/*")],
                None,
            ),
            (Target::RecordSets, _) => (
                "ChangeBlueprintRecords",
                zones(),
                Some(json!({ "ForAllValues:StringLike": {
                    "route53:ChangeResourceRecordSetsNormalizedRecordNames": self.names.iter().collect::<Vec<_>>()
                } })),
            ),
            (Target::Identity, Access::Read) => (
                "ReadIdentities",
                vec![format!("arn:{partition}:ses:{region}:*:identity/*")],
                None,
            ),
            (Target::ConfigurationSet, Access::Read) => (
                "ReadConfigurationSets",
                vec![format!(
                    "arn:{partition}:ses:{region}:*:configuration-set/*"
                )],
                None,
            ),
            (Target::Identity | Target::ConfigurationSet, Access::Write) if is_delete(op) => (
                "DeleteOwnResources",
                vec![
                    format!("arn:{partition}:ses:{region}:*:identity/*"),
                    format!("arn:{partition}:ses:{region}:*:configuration-set/*"),
                ],
                Some(self.owned.clone()),
            ),
            (Target::Identity | Target::ConfigurationSet, Access::Write) => {
                let mut r = self.ses.clone();
                if r.is_empty() {
                    r.push(format!("arn:{partition}:ses:{region}:*:identity/none"));
                }
                ("WriteBlueprintSes", r, None)
            }
            (Target::Ec2Read, _) => ("ReadEc2", vec!["*".into()], None),
            (Target::Ec2Create, _) => ("CreateGatewayResources", vec!["*".into()], None),
            (Target::Ec2Tagged, _) => (
                "ChangeOwnGatewayResources",
                vec!["*".into()],
                Some(self.owned.clone()),
            ),
            (Target::GatewayRole, _) => (
                "GatewayRole",
                vec![
                    format!("arn:{partition}:iam::*:role/{}", self.role),
                    format!("arn:{partition}:iam::*:instance-profile/{}", self.role),
                ],
                None,
            ),
            // Only the public half is ever read (GetParameter): the private half is written
            // and deleted, and its existence is seen through DescribeParameters (metadata).
            // Neither the plan nor the apply role may read the private key.
            (Target::GatewayKey, Access::Read) => (
                "ReadGatewayPublicKey",
                vec![self.parameter(&self.key.1)],
                None,
            ),
            (Target::GatewayKey, Access::Write) => (
                "WriteGatewayDkimKey",
                vec![self.parameter(&self.key.0), self.parameter(&self.key.1)],
                None,
            ),
            (Target::PublicParameter, _) => (
                "ReadImageParameter",
                vec![format!(
                    "arn:{partition}:ssm:{region}::parameter/aws/service/*"
                )],
                None,
            ),
            (Target::Lock, _) => (
                "RunLock",
                vec![
                    format!(
                        "arn:aws:ssm:{region}:*:parameter{}",
                        crate::kinds::lock_path(self.blueprint)
                    ),
                    format!(
                        "arn:aws:ssm:{region}:*:parameter{}/*",
                        crate::kinds::lock_path(self.blueprint)
                    ),
                ],
                None,
            ),
            (Target::Free, _) => ("None", vec![], None),
        }
    }
}

/// Each outermost name the blueprint writes, and everything below it (`example.com`,
/// `*.example.com`).
fn record_names(desired: &Desired) -> BTreeSet<String> {
    let mut candidates: Vec<&str> = desired
        .domains
        .iter()
        .map(String::as_str)
        .chain(
            desired
                .records
                .iter()
                .map(|r| r.name.trim_start_matches("*.")),
        )
        .collect();
    candidates.sort_by_key(|n| n.matches('.').count());
    let mut roots: Vec<&str> = Vec::new();
    for n in candidates {
        if !roots.iter().any(|r| names::is_within(n, r)) {
            roots.push(n);
        }
    }
    roots
        .iter()
        .flat_map(|r| [r.to_string(), format!("*.{r}")])
        .collect()
}
