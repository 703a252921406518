//! The gateway half of the diff: IAM role, DKIM key, security group, instance, Elastic IP and
//! its reverse DNS, compared with what AWS holds; plus the reports only a person can act on
//! (the port-25 release, the relay line for senders, a pending PTR). Pure.

use serde::{Deserialize, Serialize};

use super::rotation::{self, Step};
use super::{
    DEBIAN_OWNER, DefaultRoute, DesiredGateway, Ingress, Names, ObservedEip, ObservedGateway,
    ObservedInstance, ObservedInterface, ObservedSecurityGroup, PtrUpdate, Subnet,
};
use crate::mail::gateway as render;
use crate::plan::desired::{Desired, OutputRef, OutputValue, Outputs};
use crate::plan::{Action, Conflict, FieldChange, Report, ReportKind, ResourceChange, field};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum GatewayOp {
    /// Create or update the role's permissions boundary policy.
    EnsureBoundary {
        name: String,
        arn: String,
        policy: String,
    },
    /// Create or repair the role (with its permissions boundary), its one policy, and the
    /// instance profile.
    EnsureRole {
        role: String,
        boundary: String,
        policy: String,
    },
    /// Set the role's one policy, when that is all that differs (the role, its boundary and
    /// its instance profile are in place): a DKIM key rotation's switch.
    PutRolePolicy {
        role: String,
        policy: String,
    },
    /// Create the customer managed KMS key that encrypts the DKIM private key, with its
    /// policy, and point the blueprint's alias at it.
    CreateKmsKey {
        alias: String,
        description: String,
        policy: String,
    },
    /// Set the KMS key's policy back to the blueprint's (the bootstrap role only).
    PutKmsKeyPolicy {
        key_id: String,
        policy: String,
    },
    /// Generate the DKIM key; the private half goes to SSM (SecureString, encrypted with the
    /// blueprint's KMS key) only.
    CreateKey {
        private: String,
        public: String,
        #[serde(default)]
        kms_alias: String,
        /// The public half's description: the key's stage and dates (`rotation::KeyMeta`).
        #[serde(default)]
        description: String,
        /// The output the public half is, for the DNS records (`OutputRef::gateway_key_of`).
        #[serde(default = "OutputRef::gateway_key")]
        output: OutputRef,
    },
    /// Rewrite a key's stage and dates (the public half's description; its value stays).
    /// After DNS when it records that the key's records are INSYNC.
    MarkKey {
        public: String,
        description: String,
        after_dns: bool,
    },
    /// Delete a retired key (both halves), after DNS has removed its records.
    RetireKey {
        names: Vec<String>,
    },
    /// Create the log group of the gateway's hard bounces (if missing) and set its retention.
    EnsureBounceLog {
        name: String,
        retention_days: i32,
    },
    /// Encrypt an existing private key with the blueprint's KMS key (read and written again
    /// by the bootstrap role; the key itself does not change, so DNS does not either).
    MoveKey {
        private: String,
        kms_alias: String,
    },
    CreateSecurityGroup {
        name: String,
        vpc_id: String,
    },
    /// `group: None` is the group created in this run.
    Authorize {
        group: Option<String>,
        rules: Vec<Ingress>,
    },
    Revoke {
        group: String,
        rules: Vec<Ingress>,
    },
    /// Create the gateway's network interface in the subnet, in the security group (`None`:
    /// the one created in this run).
    CreateNetworkInterface {
        subnet_id: String,
        security_group: Option<String>,
    },
    /// Launch with the configuration fingerprint `config` (also the client token's base), on
    /// the gateway's network interface as its primary one.
    RunInstance {
        config: String,
        image_id: String,
        subnet_id: String,
        /// The security group in the subnet's VPC; `None` is the one created in this run.
        #[serde(default)]
        security_group: Option<String>,
        replaces: Option<String>,
        /// The network interface launched on; `None` is the one created in this run.
        #[serde(default)]
        network_interface: Option<String>,
    },
    AllocateAddress,
    /// Associate the Elastic IP with the network interface (it then follows the interface
    /// from instance to instance). `None` means the one created in this run.
    AssociateInterface {
        allocation_id: Option<String>,
        network_interface_id: Option<String>,
    },
    /// Network interfaces no instance will use again (the subnet moved; destroy).
    DeleteNetworkInterfaces {
        ids: Vec<String>,
    },
    /// `None` means the one created in this run.
    Associate {
        allocation_id: Option<String>,
        instance_id: Option<String>,
    },
    TerminateInstances {
        ids: Vec<String>,
    },
    ReleaseAddresses {
        allocation_ids: Vec<String>,
    },
    /// After the A record is in sync.
    SetReverseDns {
        allocation_id: Option<String>,
        hostname: String,
    },
    // Destroy:
    DeleteSecurityGroups {
        ids: Vec<String>,
    },
    /// Removes the parts of the role that exist, in this order.
    DeleteRole {
        role: String,
        parts: Vec<RolePart>,
    },
    DeleteKey {
        names: Vec<String>,
    },
    /// The gateway's health report parameter.
    DeleteHealth {
        name: String,
    },
    /// Create the SES SMTP user (tagged, with the gateway's boundary) where it is missing, and
    /// set its boundary and its one policy (`relay_via: ses`).
    EnsureSmtpUser {
        user: String,
        boundary: String,
        policy: String,
    },
    /// Delete the user's access keys `stale` (none holds the stored password), create one,
    /// derive its SES SMTP password for `region` and store `user:password` in `parameter`
    /// (SecureString, the blueprint's KMS key). The secret is never shown.
    CreateSmtpCredentials {
        user: String,
        stale: Vec<String>,
        parameter: String,
        kms_alias: String,
        region: String,
    },
    /// Delete access keys of the SMTP user that the stored password does not belong to.
    DeleteAccessKeys {
        user: String,
        ids: Vec<String>,
    },
    /// Delete the SES SMTP user (its access keys, its policy, the user) and its credentials
    /// parameter: destroy, or back to direct delivery.
    DeleteSmtpUser {
        user: String,
        access_keys: Vec<String>,
        policy: bool,
        exists: bool,
        parameter: Option<String>,
    },
    ResetReverseDns {
        allocation_id: String,
    },
}

/// A piece of the gateway's IAM role, in the order destroy removes them (IAM refuses to
/// delete a profile that holds a role, or a role that has a policy or sits in a profile).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RolePart {
    /// The role's membership in the instance profile.
    Membership,
    Profile,
    Policy,
    Role,
}

impl RolePart {
    /// The parts `o` holds, in deletion order.
    fn present(o: &ObservedGateway, role: &str) -> Vec<RolePart> {
        let in_profile = o
            .profile_roles
            .as_ref()
            .is_some_and(|roles| roles.iter().any(|r| r == role));
        [
            (RolePart::Membership, in_profile),
            (RolePart::Profile, o.profile_roles.is_some()),
            (RolePart::Policy, o.role_policy.is_some()),
            (RolePart::Role, o.role_exists),
        ]
        .into_iter()
        .filter_map(|(part, there)| there.then_some(part))
        .collect()
    }
}

impl GatewayOp {
    /// Runs after the DNS changes.
    pub fn after_dns(&self) -> bool {
        matches!(
            self,
            GatewayOp::SetReverseDns { .. } | GatewayOp::ResetReverseDns { .. }
        ) || matches!(
            self,
            GatewayOp::ReleaseAddresses { .. }
                | GatewayOp::RetireKey { .. }
                | GatewayOp::MarkKey {
                    after_dns: true,
                    ..
                }
        )
    }
}

/// One change to the gateway (EC2, IAM, SSM).
pub type GatewayChange = ResourceChange<GatewayOp>;

fn change(address: &str, action: Action, op: GatewayOp, fields: Vec<FieldChange>) -> GatewayChange {
    GatewayChange {
        address: address.into(),
        action,
        op,
        fields,
    }
}

/// Same JSON, whatever the spacing and key order.
fn same_json(a: &str, b: &str) -> bool {
    match (
        serde_json::from_str::<serde_json::Value>(a),
        serde_json::from_str::<serde_json::Value>(b),
    ) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

/// The gateway's changes, in execution order, and its reports. `desired` has the key
/// rotation decided (`Desired::with_gateway_keys`), as `plan::diff` makes it.
pub fn diff(
    desired: &Desired,
    observed: Option<&ObservedGateway>,
    conflicts: &mut Vec<Conflict>,
) -> (Vec<GatewayChange>, Vec<Report>) {
    let Some(o) = observed else {
        return (Vec::new(), Vec::new());
    };
    match &desired.gateway {
        Some(g) => wanted(desired, g, o, conflicts),
        None => (removal(o, desired.gateway_scope.as_ref()), Vec::new()),
    }
}

/// The changes that make AWS hold `g`, part by part in execution order, and the reports.
fn wanted(
    desired: &Desired,
    g: &DesiredGateway,
    o: &ObservedGateway,
    conflicts: &mut Vec<Conflict>,
) -> (Vec<GatewayChange>, Vec<Report>) {
    let region = desired.region.as_deref().unwrap_or_default();
    let mut changes: Vec<GatewayChange> = boundary(desired, g, o, region).into_iter().collect();
    let mut smtp_later = Vec::new();
    changes.extend(role(g, o, region));
    changes.extend(kms_key(desired, g, o, region, conflicts));
    if g.via_ses() {
        // SES signs and handles bounces: no DKIM key and no bounce log of the gateway's own
        // (one left from direct delivery stays, for a switch back).
        let (now, later) = smtp(g, o, region, conflicts);
        changes.extend(now);
        smtp_later = later;
    } else {
        changes.extend(keys(g, o));
        changes.extend(bounce_log(g, o));
        changes.extend(smtp_removal(g, o));
    }
    let Some((subnet, image_id)) = launch_site(g, o, conflicts) else {
        return (changes, Vec::new());
    };
    // Security groups belong to one VPC: the one in the subnet's VPC is the gateway's.
    let group = o.security_groups.iter().find(|s| s.vpc_id == subnet.vpc_id);
    changes.extend(security_group(g, group, &subnet.vpc_id));
    let iface = o.interface_in(&subnet.id);
    let site = Site {
        subnet_id: &subnet.id,
        image_id,
        security_group: group.map(|s| s.id.as_str()),
        interface: iface,
        refresh: changes
            .iter()
            .any(|c| matches!(c.op, GatewayOp::CreateSmtpCredentials { .. }))
            || g.via_ses() && credentials_newer(o),
    };
    let instances = instance(g, o, &site);
    let eip = o.eip();
    if instances.launching && iface.is_none() {
        changes.push(create_interface(&subnet.id, site.security_group));
    }
    // An instance on the interface holds it: it is terminated before the launch that takes
    // the interface over (an interface is attached to one instance at a time).
    let holds = |id: &String| {
        instances.launching && iface.is_some_and(|n| n.instance_id.as_ref() == Some(id))
    };
    let (first, later): (Vec<String>, Vec<String>) =
        instances.stale.iter().cloned().partition(holds);
    changes.extend(terminate(&first));
    changes.extend(instances.launch);
    if g.via_ses() {
        // Through SES nothing leaves from the gateway's own address: an Elastic IP left from
        // direct delivery is released (its reverse DNS removed first). Senders keep relaying
        // to the network interface's private IP.
        changes.extend(terminate(&later));
        changes.extend(smtp_later);
        changes.extend(other_interfaces(o, iface, instances.keep));
        changes.extend(other_networks(o, &subnet.vpc_id));
        let all: Vec<&ObservedEip> = o.eips.iter().collect();
        changes.extend(release(&all, |e| {
            field(
                "release",
                Some(format!(
                    "{} ({}): relaying through SES needs no address of its own",
                    e.public_ip, e.allocation_id
                )),
                None,
            )
        }));
        return (changes, reports(g, o, None));
    }
    changes.extend(address(eip, instances.keep, instances.launching, iface));
    changes.extend(terminate(&later));
    changes.extend(other_interfaces(o, iface, instances.keep));
    changes.extend(other_networks(o, &subnet.vpc_id));
    changes.extend(duplicates(o, eip));
    let (ptr, ptr_update) = reverse_dns(g, eip);
    changes.extend(ptr);
    (changes, reports(g, o, ptr_update.cloned()))
}

/// Whether the stored SES SMTP credentials were written after a live instance launched: it
/// read older ones at boot (a run killed between storing and replacing), so it is replaced.
fn credentials_newer(o: &ObservedGateway) -> bool {
    let Some(modified) = o.smtp_credentials.as_ref().and_then(|c| c.modified) else {
        return false;
    };
    o.live_instances().any(|i| i.launched < modified)
}

/// The SES SMTP user and its credentials (`relay_via: ses`): the user with the gateway's
/// boundary and its policy, and a stored password that belongs to one of its access keys (the
/// parameter's description names the key, so plan never decrypts it). Otherwise new
/// credentials: the keys no stored password belongs to are deleted first (their secrets are
/// gone), so the user never has more than IAM's two. Keys besides the stored one's (a run
/// cut short) are deleted.
fn smtp(
    g: &DesiredGateway,
    o: &ObservedGateway,
    region: &str,
    conflicts: &mut Vec<Conflict>,
) -> (Vec<GatewayChange>, Vec<GatewayChange>) {
    let user = &g.names.smtp_user;
    if let Some(u) = &o.smtp_user
        && u.blueprint_tag.as_deref() != Some(g.render.blueprint.as_str())
    {
        conflicts.push(Conflict {
            address: "gateway.smtp_user".into(),
            message: format!(
                "the IAM user `{user}` exists but does not carry this blueprint's tag: it is not mailinfra's to use"
            ),
            hint: format!(
                "rename or delete that user, or tag it `{}={}` if it is this blueprint's",
                crate::kinds::OWNER_TAG,
                g.render.blueprint
            ),
        });
        return (Vec::new(), Vec::new());
    }
    let policy = g.smtp_policy.clone().unwrap_or_default();
    let mut changes = Vec::new();
    let u = o.smtp_user.as_ref();
    let boundary_ok = u.is_some_and(|u| u.boundary.as_deref() == Some(o.boundary_arn.as_str()));
    let policy_ok = u
        .and_then(|u| u.policy.as_deref())
        .is_some_and(|p| same_json(p, &policy));
    if !boundary_ok || !policy_ok {
        let mut fields = Vec::new();
        if !boundary_ok {
            fields.push(field(
                "boundary",
                u.and_then(|u| u.boundary.clone()),
                Some(o.boundary_arn.clone()),
            ));
        }
        fields.push(field(
            "policy",
            u.and_then(|u| u.policy.clone()),
            Some(policy.clone()),
        ));
        changes.push(change(
            "gateway.smtp_user",
            if u.is_none() {
                Action::Create
            } else {
                Action::Update
            },
            GatewayOp::EnsureSmtpUser {
                user: user.clone(),
                boundary: o.boundary_arn.clone(),
                policy,
            },
            fields,
        ));
    }
    let keys: &[String] = u.map_or(&[], |u| u.access_keys.as_slice());
    let stored = o.smtp_credentials.as_ref();
    let kms_ok = match (&o.kms_key, stored.and_then(|c| c.kms.as_ref())) {
        (Some(k), Some(id)) => k.is(id, &g.names.kms_alias),
        _ => false,
    };
    let current = stored
        .and_then(|c| c.access_key.as_ref())
        .filter(|k| kms_ok && keys.contains(k));
    // Deleted once the instance reads the stored credentials: after this plan's launch.
    let mut later = Vec::new();
    match current {
        Some(current) => {
            let stale: Vec<String> = keys.iter().filter(|k| *k != current).cloned().collect();
            if !stale.is_empty() {
                later.push(change(
                    "gateway.smtp_credentials",
                    Action::Update,
                    GatewayOp::DeleteAccessKeys {
                        user: user.clone(),
                        ids: stale.clone(),
                    },
                    stale
                        .iter()
                        .map(|k| field("stale_access_key", Some(k.clone()), None))
                        .collect(),
                ));
            }
            // A rotation (docs/rotation.md): a second key with its password stored, the
            // instance replaced to read it, then the old key deleted. Not while a stale key
            // is still there: the user never holds more than IAM's two.
            let rotation = g.smtp_rotation.clone().unwrap_or_default();
            let due = rotation
                .rotate_every
                .zip(u.and_then(|u| u.created.get(current)))
                .map(|(every, created)| created + every);
            if stale.is_empty() && (rotation.requested || due.is_some_and(|d| o.read_at >= d)) {
                changes.push(change(
                    "gateway.smtp_credentials",
                    Action::Replace,
                    GatewayOp::CreateSmtpCredentials {
                        user: user.clone(),
                        stale: Vec::new(),
                        parameter: g.names.smtp_credentials.clone(),
                        kms_alias: g.names.kms_alias.clone(),
                        region: region.to_owned(),
                    },
                    vec![field(
                        "access_key",
                        Some(format!(
                            "{current} ({})",
                            if rotation.requested {
                                "rotation asked for".to_owned()
                            } else {
                                format!(
                                    "older than rotate_every, {}",
                                    rotation::span(rotation.rotate_every.unwrap_or_default())
                                )
                            }
                        )),
                        Some(format!(
                            "a second one of {user}; its SMTP password derived and stored in SSM {}, never shown; {current} deleted once the new instance runs",
                            g.names.smtp_credentials
                        )),
                    )],
                ));
                later.push(change(
                    "gateway.smtp_credentials",
                    Action::Update,
                    GatewayOp::DeleteAccessKeys {
                        user: user.clone(),
                        ids: vec![current.clone()],
                    },
                    vec![field("rotated_access_key", Some(current.clone()), None)],
                ));
            }
        }
        None => changes.push(change(
            "gateway.smtp_credentials",
            if stored.is_none() {
                Action::Create
            } else {
                Action::Replace
            },
            GatewayOp::CreateSmtpCredentials {
                user: user.clone(),
                stale: keys.to_vec(),
                parameter: g.names.smtp_credentials.clone(),
                kms_alias: g.names.kms_alias.clone(),
                region: region.to_owned(),
            },
            vec![field(
                "access_key",
                stored.and_then(|c| c.access_key.clone()),
                Some(format!(
                    "a new one of {user}; its SMTP password derived and stored in SSM {} (SecureString, KMS key {}), never shown",
                    g.names.smtp_credentials, g.names.kms_alias
                )),
            )],
        )),
    }
    (changes, later)
}

/// The SES SMTP user and its credentials parameter, removed (destroy, or back to direct
/// delivery). A user without the blueprint's tag is never touched.
fn smtp_removal(g: &DesiredGateway, o: &ObservedGateway) -> Option<GatewayChange> {
    let user = o
        .smtp_user
        .as_ref()
        .filter(|u| u.blueprint_tag.as_deref() == Some(g.render.blueprint.as_str()));
    if user.is_none() && o.smtp_credentials.is_none() {
        return None;
    }
    let mut fields = Vec::new();
    if let Some(u) = user {
        fields.push(field("user", Some(g.names.smtp_user.clone()), None));
        fields.extend(
            u.access_keys
                .iter()
                .map(|k| field("access_key", Some(k.clone()), None)),
        );
    }
    if o.smtp_credentials.is_some() {
        fields.push(field(
            "credentials",
            Some(g.names.smtp_credentials.clone()),
            None,
        ));
    }
    Some(change(
        "gateway.smtp_user",
        Action::Delete,
        GatewayOp::DeleteSmtpUser {
            user: g.names.smtp_user.clone(),
            access_keys: user.map(|u| u.access_keys.clone()).unwrap_or_default(),
            policy: user.is_some_and(|u| u.policy.is_some()),
            exists: user.is_some(),
            parameter: o
                .smtp_credentials
                .is_some()
                .then(|| g.names.smtp_credentials.clone()),
        },
        fields,
    ))
}

/// The role's permissions boundary, a managed policy: created where it does not exist (the
/// apply role may), given a new default version where it differs (the bootstrap role only:
/// docs/ci.md).
fn boundary(
    desired: &Desired,
    g: &DesiredGateway,
    o: &ObservedGateway,
    region: &str,
) -> Option<GatewayChange> {
    let policy = render::boundary_policy(region, &desired.blueprint);
    if o.boundary_policy
        .as_deref()
        .is_some_and(|p| same_json(p, &policy))
    {
        return None;
    }
    Some(change(
        "gateway.boundary",
        if o.boundary_policy.is_none() {
            Action::Create
        } else {
            Action::Update
        },
        GatewayOp::EnsureBoundary {
            name: g.names.boundary.clone(),
            arn: o.boundary_arn.clone(),
            policy: policy.clone(),
        },
        vec![field("policy", o.boundary_policy.clone(), Some(policy))],
    ))
}

/// The role (with its permissions boundary), its one policy, and the instance profile.
fn role(g: &DesiredGateway, o: &ObservedGateway, region: &str) -> Option<GatewayChange> {
    let policy = if g.via_ses() {
        render::role_policy_ses(region, &g.render.blueprint)
    } else {
        render::role_policy(region, &g.render.blueprint)
    };
    let role_ok = o.profile_roles.as_deref() == Some(std::slice::from_ref(&g.names.role))
        && o.role_boundary.as_deref() == Some(o.boundary_arn.as_str())
        && o.role_policy
            .as_deref()
            .is_some_and(|p| same_json(p, &policy));
    if role_ok {
        return None;
    }
    let mut fields = Vec::new();
    if o.role_boundary.as_deref() != Some(o.boundary_arn.as_str()) {
        fields.push(field(
            "boundary",
            o.role_boundary.clone(),
            Some(o.boundary_arn.clone()),
        ));
    }
    fields.push(field("policy", o.role_policy.clone(), Some(policy.clone())));
    let only_policy = o.role_exists
        && o.profile_roles.as_deref() == Some(std::slice::from_ref(&g.names.role))
        && o.role_boundary.as_deref() == Some(o.boundary_arn.as_str());
    let op = if only_policy {
        GatewayOp::PutRolePolicy {
            role: g.names.role.clone(),
            policy: policy.clone(),
        }
    } else {
        GatewayOp::EnsureRole {
            role: g.names.role.clone(),
            boundary: o.boundary_arn.clone(),
            policy: policy.clone(),
        }
    };
    Some(change(
        "gateway.role",
        if !o.role_exists {
            Action::Create
        } else {
            Action::Update
        },
        op,
        fields,
    ))
}

/// The customer managed KMS key that encrypts the DKIM private key: created with its alias
/// where the alias names no key; its policy set back (the bootstrap role only) where it
/// differs. A key mailinfra did not make, or one a person disabled or scheduled for deletion,
/// stops the plan: mailinfra neither takes over the one nor undoes the other.
fn kms_key(
    desired: &Desired,
    g: &DesiredGateway,
    o: &ObservedGateway,
    region: &str,
    conflicts: &mut Vec<Conflict>,
) -> Option<GatewayChange> {
    let policy = render::kms_key_policy(region, &o.account, &desired.blueprint);
    let alias = &g.names.kms_alias;
    let Some(k) = &o.kms_key else {
        return Some(change(
            "gateway.kms_key",
            Action::Create,
            GatewayOp::CreateKmsKey {
                alias: alias.clone(),
                description: super::kms_description(&desired.blueprint),
                policy: policy.clone(),
            },
            vec![
                field("alias", None, Some(alias.clone())),
                field("policy", None, Some(policy)),
            ],
        ));
    };
    if !k.owned {
        conflicts.push(Conflict {
            address: "gateway.kms_key".into(),
            message: format!(
                "the KMS alias `{alias}` names key {}, which mailinfra did not create (its description is not \"{}\")",
                k.id,
                super::kms_description(&desired.blueprint)
            ),
            hint: format!(
                "the gateway's DKIM key must be encrypted with a key only the gateway may decrypt; delete that alias (`aws kms delete-alias --alias-name {alias}`) so mailinfra creates its own key"
            ),
        });
        return None;
    }
    if k.state != "Enabled" {
        conflicts.push(Conflict {
            address: "gateway.kms_key".into(),
            message: format!(
                "the gateway's KMS key {} is {}: the gateway cannot decrypt its DKIM key",
                k.id, k.state
            ),
            hint: format!(
                "mailinfra does not undo a person's decision; to use the key again: `aws kms cancel-key-deletion --key-id {id}` (if pending deletion), then `aws kms enable-key --key-id {id}`",
                id = k.id
            ),
        });
        return None;
    }
    if k.policy.as_deref().is_some_and(|p| same_json(p, &policy)) {
        return None;
    }
    Some(change(
        "gateway.kms_key",
        Action::Update,
        GatewayOp::PutKmsKeyPolicy {
            key_id: k.id.clone(),
            policy: policy.clone(),
        },
        vec![field("policy", k.policy.clone(), Some(policy))],
    ))
}

/// The DKIM keys, as the rotation decided (`rotation::decide`): a key made where its
/// selector needs one (either half missing), stages marked, a retired key deleted. A key
/// whose private half is encrypted with another KMS key than the blueprint's (e.g.
/// `aws/ssm`, which every principal allowed `ssm:GetParameter` can decrypt) is moved under it.
fn keys(g: &DesiredGateway, o: &ObservedGateway) -> Vec<GatewayChange> {
    let Some(r) = &g.rotation else {
        return Vec::new();
    };
    let alias = &g.names.kms_alias;
    let names = |selector: &str| Names::of(&g.render.blueprint, selector);
    let address = |selector: &str| OutputRef::gateway_key_of(selector, &r.signing).of;
    let mut changes = Vec::new();
    for step in &r.steps {
        match step {
            Step::Create { selector, meta } => {
                let n = names(selector);
                changes.push(change(
                    &address(selector),
                    Action::Create,
                    GatewayOp::CreateKey {
                        private: n.key_private.clone(),
                        public: n.key_public.clone(),
                        kms_alias: alias.clone(),
                        description: meta.description(),
                        output: OutputRef::gateway_key_of(selector, &r.signing),
                    },
                    vec![
                        field(
                            "key",
                            None,
                            Some(format!(
                                "RSA 2048, private half in SSM {} (SecureString, KMS key {alias})",
                                n.key_private
                            )),
                        ),
                        field("stage", None, meta.stage.map(|s| s.as_str().to_owned())),
                    ],
                ));
            }
            Step::Mark {
                selector,
                meta,
                after_dns,
            } => {
                let before = o.dkim_key(selector).and_then(|k| k.meta.stage);
                let stage = |s: Option<rotation::Stage>| s.map(|s| s.as_str().to_owned());
                let mut fields = vec![field("stage", stage(before), stage(meta.stage))];
                if *after_dns {
                    fields.push(field(
                        "published",
                        None,
                        Some("once its records are INSYNC".into()),
                    ));
                }
                changes.push(change(
                    &address(selector),
                    Action::Update,
                    GatewayOp::MarkKey {
                        public: names(selector).key_public,
                        description: meta.description(),
                        after_dns: *after_dns,
                    },
                    fields,
                ));
            }
            Step::Retire { selector } => {
                let n = names(selector);
                changes.push(change(
                    &address(selector),
                    Action::Delete,
                    GatewayOp::RetireKey {
                        names: vec![n.key_private.clone(), n.key_public.clone()],
                    },
                    vec![field(
                        "key",
                        Some(format!("{selector}, retired (its records go first)")),
                        None,
                    )],
                ));
            }
        }
    }
    let made: Vec<&str> = r
        .steps
        .iter()
        .filter_map(|s| match s {
            Step::Create { selector, .. } | Step::Retire { selector } => Some(selector.as_str()),
            Step::Mark { .. } => None,
        })
        .collect();
    for k in o.dkim_keys.iter().filter(|k| {
        k.complete() && r.published.contains(&k.selector) && !made.contains(&k.selector.as_str())
    }) {
        let ours = match (&o.kms_key, &k.private_kms) {
            (Some(key), Some(id)) => key.is(id, alias),
            _ => false,
        };
        if !ours {
            changes.push(change(
                &address(&k.selector),
                Action::Update,
                GatewayOp::MoveKey {
                    private: names(&k.selector).key_private,
                    kms_alias: alias.clone(),
                },
                vec![field("kms_key", k.private_kms.clone(), Some(alias.clone()))],
            ));
        }
    }
    changes
}

/// The log group of the gateway's hard bounces (`mailinfra bounces`): made before the
/// instance boots (which reads it), kept `BOUNCE_RETENTION_DAYS`. `destroy` leaves it: the
/// list of addresses to drop outlives the gateway.
fn bounce_log(g: &DesiredGateway, o: &ObservedGateway) -> Option<GatewayChange> {
    let days = render::BOUNCE_RETENTION_DAYS;
    if o.bounce_log == Some(Some(days)) {
        return None;
    }
    let current = o.bounce_log.map(|d| match d {
        Some(d) => format!("{d} days"),
        None => "forever".to_owned(),
    });
    Some(change(
        "gateway.bounce_log",
        if o.bounce_log.is_none() {
            Action::Create
        } else {
            Action::Update
        },
        GatewayOp::EnsureBounceLog {
            name: g.names.bounce_log.clone(),
            retention_days: days,
        },
        vec![field("retention", current, Some(format!("{days} days")))],
    ))
}

/// Where the instance can go: the subnet and the resolved image, or a conflict saying which
/// is missing (then nothing that needs them is planned).
fn launch_site<'o>(
    g: &DesiredGateway,
    o: &'o ObservedGateway,
    conflicts: &mut Vec<Conflict>,
) -> Option<(&'o Subnet, &'o str)> {
    let size = super::user_data(&g.render.boot_script()).len();
    if size > super::USER_DATA_MAX {
        conflicts.push(Conflict {
            address: "gateway.instance".into(),
            message: format!(
                "the gateway's boot script is {size} bytes compressed, over EC2's {} for user data",
                super::USER_DATA_MAX
            ),
            hint: "the tables for every signing domain make it up: split the domains between two blueprints, each with its own gateway".into(),
        });
        return None;
    }
    let Some(subnet) = &o.subnet else {
        conflicts.push(Conflict {
            address: "gateway.instance".into(),
            message: match &g.subnet {
                Some(s) => format!("subnet `{s}` does not exist in this region"),
                None => "the region has no default subnet to launch the gateway in".into(),
            },
            hint: "set `gateway.subnet` to a public subnet of your VPC".into(),
        });
        return None;
    };
    if let Some(reason) = not_public(g, subnet, o.subnet_route.as_ref()) {
        conflicts.push(Conflict {
            address: "gateway.instance".into(),
            message: reason,
            hint: "set `gateway.subnet` to a public subnet: one whose route table sends 0.0.0.0/0 to an internet gateway (igw-…)".into(),
        });
        return None;
    }
    if o.architectures.is_empty() {
        conflicts.push(Conflict {
            address: "gateway.instance".into(),
            message: format!(
                "EC2 does not know the instance type `{}` in this region",
                g.instance_type
            ),
            hint: "choose an `instance_type` EC2 offers here (`aws ec2 describe-instance-type-offerings`)"
                .into(),
        });
        return None;
    }
    if let Some(zone) = o
        .subnet_zone
        .as_ref()
        .filter(|z| !o.offered_zones.contains(z))
    {
        let offered = if o.offered_zones.is_empty() {
            "none of this region's zones".to_owned()
        } else {
            o.offered_zones.join(", ")
        };
        conflicts.push(Conflict {
            address: "gateway.instance".into(),
            message: match &g.subnet {
                Some(s) => format!(
                    "the instance type `{}` is not offered in {zone}, the zone of subnet `{s}`; it is offered in {offered}",
                    g.instance_type
                ),
                None => format!(
                    "the instance type `{}` is not offered in the zone of any default subnet; it is offered in {offered}",
                    g.instance_type
                ),
            },
            hint: "set `gateway.subnet` to a public subnet in a zone that offers the type, or choose another `instance_type`".into(),
        });
        return None;
    }
    let Some(image_id) = &o.image_id else {
        conflicts.push(Conflict {
            address: "gateway.instance".into(),
            message: format!("the image `{}` could not be resolved", g.image),
            hint: "use `debian-12` or an AMI id that exists in this region".into(),
        });
        return None;
    };
    if let Some(owner) = o.image_owner.as_ref().filter(|w| !w.trusted()) {
        conflicts.push(Conflict {
            address: "gateway.instance".into(),
            message: format!(
                "the image `{}` is owned by account {}, neither Debian ({DEBIAN_OWNER}) nor this account",
                g.image, owner.owner
            ),
            hint: "use `image: debian-12`, one of Debian's AMIs, or an image built in this account".into(),
        });
        return None;
    }
    if let Some(arch) = o
        .image_architecture
        .as_ref()
        .filter(|a| !o.architectures.contains(a))
    {
        conflicts.push(Conflict {
            address: "gateway.instance".into(),
            message: format!(
                "the image `{}` is built for {arch}, and the instance type `{}` runs {}",
                g.image,
                g.instance_type,
                o.architectures.join(", ")
            ),
            hint: format!(
                "use an {} image, another `instance_type`, or `image: debian-12` (which follows the instance type's architecture)",
                o.architectures.join(" or ")
            ),
        });
        return None;
    }
    Some((subnet, image_id))
}

/// Why mail from `subnet` would not leave from the Elastic IP, if it would not: only an
/// internet gateway route makes the instance's Elastic IP its address on the internet; through
/// a NAT, mail leaves from the NAT's address, which SPF and reverse DNS do not name.
fn not_public(g: &DesiredGateway, subnet: &Subnet, route: Option<&DefaultRoute>) -> Option<String> {
    let which = match &g.subnet {
        Some(_) => format!("subnet `{}`", subnet.id),
        None => format!("the default subnet `{}`", subnet.id),
    };
    match route? {
        DefaultRoute::InternetGateway(_) => None,
        DefaultRoute::Through(target) => Some(format!(
            "{which} sends internet traffic through {target}, not an internet gateway: mail would leave from {target}'s address, not the Elastic IP, so SPF and reverse DNS would not match the sender"
        )),
        DefaultRoute::None => Some(format!(
            "{which} has no route to the internet (no 0.0.0.0/0 in its route table): the gateway could not deliver mail"
        )),
    }
}

/// The security group and its inbound rules: created with every rule, or the rules that
/// differ revoked and authorized. `group` is the one in the subnet's VPC.
fn security_group(
    g: &DesiredGateway,
    group: Option<&ObservedSecurityGroup>,
    vpc_id: &str,
) -> Vec<GatewayChange> {
    let Some(sg) = group else {
        return vec![
            change(
                "gateway.security_group",
                Action::Create,
                GatewayOp::CreateSecurityGroup {
                    name: g.names.security_group.clone(),
                    vpc_id: vpc_id.to_owned(),
                },
                vec![],
            ),
            authorize(None, g.ingress.clone()),
        ];
    };
    let (missing, extra) = (
        only_in(&g.ingress, &sg.ingress),
        only_in(&sg.ingress, &g.ingress),
    );
    let mut changes = Vec::new();
    if !extra.is_empty() {
        changes.push(change(
            "gateway.security_group.ingress",
            Action::Delete,
            GatewayOp::Revoke {
                group: sg.id.clone(),
                rules: extra.clone(),
            },
            extra
                .iter()
                .map(|r| field("ingress", Some(rule_text(r)), None))
                .collect(),
        ));
    }
    if !missing.is_empty() {
        changes.push(authorize(Some(sg.id.clone()), missing));
    }
    changes
}

/// The gateway's security groups in another VPC than the subnet's (`subnet:` moved): EC2
/// refuses to launch with them, so the group is made anew in the subnet's VPC, and these are
/// deleted once the instance that used them is terminated.
fn other_networks(o: &ObservedGateway, vpc_id: &str) -> Option<GatewayChange> {
    let old: Vec<&ObservedSecurityGroup> = o
        .security_groups
        .iter()
        .filter(|s| s.vpc_id != vpc_id)
        .collect();
    (!old.is_empty()).then(|| {
        change(
            "gateway.security_group",
            Action::Delete,
            GatewayOp::DeleteSecurityGroups {
                ids: old.iter().map(|s| s.id.clone()).collect(),
            },
            old.iter()
                .map(|s| {
                    field(
                        "security_group",
                        Some(format!(
                            "{} in {} (the subnet is in {vpc_id})",
                            s.id, s.vpc_id
                        )),
                        None,
                    )
                })
                .collect(),
        )
    })
}

/// The rules of `a` that `b` lacks.
fn only_in(a: &[Ingress], b: &[Ingress]) -> Vec<Ingress> {
    a.iter().filter(|r| !b.contains(r)).cloned().collect()
}

/// Opens `rules` on `group` (`None`: the group created in this run).
fn authorize(group: Option<String>, rules: Vec<Ingress>) -> GatewayChange {
    let fields = rules
        .iter()
        .map(|r| field("ingress", None, Some(rule_text(r))))
        .collect();
    change(
        "gateway.security_group.ingress",
        Action::Create,
        GatewayOp::Authorize { group, rules },
        fields,
    )
}

/// What the instance part decided.
struct Instances<'o> {
    /// The live instance launched with this configuration (and image, when pinned), if any.
    keep: Option<&'o ObservedInstance>,
    /// Whether a new instance is launched (nothing to keep).
    launching: bool,
    /// The launch, first in the plan's instance steps.
    launch: Option<GatewayChange>,
    /// Every other live instance, terminated once the Elastic IP has moved.
    stale: Vec<String>,
}

/// Where the instance goes and what it is launched with.
struct Site<'o> {
    subnet_id: &'o str,
    image_id: &'o str,
    /// The security group in the subnet's VPC; `None` when this run creates it.
    security_group: Option<&'o str>,
    /// The gateway's network interface in the subnet; `None` when this run creates it.
    interface: Option<&'o ObservedInterface>,
    /// New SES SMTP credentials are stored in this run: the instance reads them at boot, so
    /// the one running is replaced (on the same interface) rather than kept.
    refresh: bool,
}

/// The gateway's network interface, created in the subnet (when a launch needs one and the
/// subnet has none): its private IP is the address senders relay to, from now on.
fn create_interface(subnet_id: &str, security_group: Option<&str>) -> GatewayChange {
    change(
        "gateway.network_interface",
        Action::Create,
        GatewayOp::CreateNetworkInterface {
            subnet_id: subnet_id.to_owned(),
            security_group: security_group.map(str::to_owned),
        },
        vec![
            field("subnet", None, Some(subnet_id.to_owned())),
            field(
                "private_ip",
                None,
                Some("known after apply; the address senders relay to, kept when the instance is replaced".into()),
            ),
        ],
    )
}

/// The gateway's network interfaces no instance will use: in another subnet (`subnet:`
/// moved), or a second one in the subnet (a run cut short). Deleted once the instances on
/// them are terminated, each named with its private IP.
fn other_interfaces(
    o: &ObservedGateway,
    used: Option<&ObservedInterface>,
    keep: Option<&ObservedInstance>,
) -> Option<GatewayChange> {
    let kept_on = keep.and_then(|k| k.network_interface.as_deref());
    let old: Vec<&ObservedInterface> = o
        .network_interfaces
        .iter()
        .filter(|n| Some(n.id.as_str()) != used.map(|u| u.id.as_str()))
        .filter(|n| Some(n.id.as_str()) != kept_on)
        .collect();
    delete_interfaces(&old)
}

/// Deletes `interfaces`, each shown by id, private IP and subnet.
fn delete_interfaces(interfaces: &[&ObservedInterface]) -> Option<GatewayChange> {
    (!interfaces.is_empty()).then(|| {
        change(
            "gateway.network_interface",
            Action::Delete,
            GatewayOp::DeleteNetworkInterfaces {
                ids: interfaces.iter().map(|n| n.id.clone()).collect(),
            },
            interfaces
                .iter()
                .map(|n| {
                    field(
                        "network_interface",
                        Some(format!("{} ({}) in {}", n.id, n.private_ip, n.subnet_id)),
                        None,
                    )
                })
                .collect(),
        )
    })
}

/// The instance: the newest live one with this configuration is kept; without one, a launch
/// (a replacement when an instance serves now, saying why).
fn instance<'o>(g: &DesiredGateway, o: &'o ObservedGateway, site: &Site<'_>) -> Instances<'o> {
    let (subnet_id, image_id) = (site.subnet_id, site.image_id);
    let config = g.config_hash(subnet_id);
    let user_data = g.user_data_sha256();
    let live: Vec<&ObservedInstance> = o.live_instances().collect();
    let keep = live
        .iter()
        .copied()
        .filter(|_| !site.refresh)
        .filter(|i| i.config.as_deref() == Some(config.as_str()))
        .filter(|i| i.user_data.as_deref() == Some(user_data.as_str()))
        .filter(|i| !g.pins_image() || i.image_id == image_id)
        .max_by_key(|i| i.launched);
    let mut stale: Vec<String> = live
        .iter()
        .filter(|i| Some(i.id.as_str()) != keep.map(|k| k.id.as_str()))
        .map(|i| i.id.clone())
        .collect();
    stale.sort();
    let launch = keep.is_none().then(|| {
        // The instance serving now: the one with the Elastic IP, else any live one.
        let current = o
            .eip()
            .and_then(|e| e.instance_id.as_ref())
            .and_then(|id| live.iter().copied().find(|i| &i.id == id))
            .or(live.first().copied());
        let (action, fields) = match current {
            None => (
                Action::Create,
                vec![
                    field("instance_type", None, Some(g.instance_type.clone())),
                    field("image", None, Some(format!("{} ({image_id})", g.image))),
                    field("subnet", None, Some(subnet_id.to_owned())),
                ],
            ),
            Some(c) => (Action::Replace, replacement(g, c, site)),
        };
        change(
            "gateway.instance",
            action,
            GatewayOp::RunInstance {
                config,
                image_id: image_id.to_owned(),
                subnet_id: subnet_id.to_owned(),
                security_group: site.security_group.map(str::to_owned),
                replaces: current.map(|c| c.id.clone()),
                network_interface: site.interface.map(|n| n.id.clone()),
            },
            fields,
        )
    });
    Instances {
        keep,
        launching: launch.is_some(),
        launch,
        stale,
    }
}

/// Why `c` is replaced: what differs, or the boot script when nothing the plan can show does.
fn replacement(g: &DesiredGateway, c: &ObservedInstance, site: &Site<'_>) -> Vec<FieldChange> {
    let (subnet_id, image_id, interface) = (site.subnet_id, site.image_id, site.interface);
    let mut why: Vec<FieldChange> = [
        ("instance_type", &c.instance_type, g.instance_type.as_str()),
        ("image", &c.image_id, image_id),
        ("subnet", &c.subnet_id, subnet_id),
    ]
    .into_iter()
    .filter(|(_, before, after)| before.as_str() != *after)
    .map(|(name, before, after)| field(name, Some(before.clone()), Some(after.to_owned())))
    .collect();
    let user_data = g.user_data_sha256();
    if c.user_data.as_deref() != Some(user_data.as_str())
        && c.config.as_deref() == Some(g.config_hash(subnet_id).as_str())
    {
        why.push(field(
            "user data",
            Some(format!(
                "changed outside mailinfra (sha256 {})",
                c.user_data.as_deref().unwrap_or("of none")
            )),
            Some(format!("as the blueprint renders it (sha256 {user_data})")),
        ));
    }
    if why.is_empty() && site.refresh {
        why.push(field(
            "smtp_credentials",
            Some("as fetched at boot".into()),
            Some("new: the instance reads them when it boots".into()),
        ));
    }
    if why.is_empty() {
        why.push(field(
            "boot script",
            Some("as launched".into()),
            Some("rendered anew (Postfix/OpenDKIM settings changed)".into()),
        ));
    }
    why.push(field(
        "replacement",
        Some(c.id.clone()),
        Some(replacement_order(c, interface)),
    ));
    why
}

/// How a replacement goes, for the plan: on the interface the old instance holds, the old one
/// goes first; otherwise the new one comes first.
fn replacement_order(c: &ObservedInstance, interface: Option<&ObservedInterface>) -> String {
    let private = c.private_ip.as_deref().unwrap_or("?");
    match interface {
        Some(n) if n.instance_id.as_deref() == Some(c.id.as_str()) => format!(
            "terminated first, then a new instance on its network interface {}: the private IP {} and the Elastic IP stay (mail waits in the senders' queues for about a minute)",
            n.id, n.private_ip
        ),
        Some(n) => format!(
            "new instance on the network interface {} (private IP {}: senders move from {private} once, then it stays); the Elastic IP moves to it, then the old one is terminated",
            n.id, n.private_ip
        ),
        None => format!(
            "new instance on a new network interface (senders move from {private} once to its private IP, then it stays); the Elastic IP moves to it, then the old one is terminated"
        ),
    }
}

/// The Elastic IP, allocated when there is none, and associated with the gateway's network
/// interface (the instance launched in this run, or kept, is on it); with the instance kept
/// when that one runs on an interface of its own (launched before mailinfra made one).
fn address(
    eip: Option<&ObservedEip>,
    keep: Option<&ObservedInstance>,
    launching: bool,
    interface: Option<&ObservedInterface>,
) -> Vec<GatewayChange> {
    let mut changes = Vec::new();
    if eip.is_none() {
        changes.push(change(
            "gateway.eip",
            Action::Create,
            GatewayOp::AllocateAddress,
            vec![],
        ));
    }
    let target = interface.map(|n| n.id.clone());
    let on_interface = launching
        || keep.is_some_and(|k| k.network_interface.is_some() && k.network_interface == target);
    if on_interface {
        let associated = eip.and_then(|e| e.network_interface_id.clone());
        if eip.is_none() || target.is_none() || associated != target {
            changes.push(change(
                "gateway.eip.association",
                Action::Update,
                GatewayOp::AssociateInterface {
                    allocation_id: eip.map(|e| e.allocation_id.clone()),
                    network_interface_id: target.clone(),
                },
                vec![field(
                    "network_interface",
                    associated,
                    Some(target.unwrap_or_else(|| "the new network interface".into())),
                )],
            ));
        }
        return changes;
    }
    let target = keep.map(|k| k.id.clone());
    let associated = eip.and_then(|e| e.instance_id.clone());
    if eip.is_none() || launching || associated != target {
        changes.push(change(
            "gateway.eip.association",
            Action::Update,
            GatewayOp::Associate {
                allocation_id: eip.map(|e| e.allocation_id.clone()),
                instance_id: target.clone(),
            },
            vec![field(
                "instance",
                associated,
                Some(target.unwrap_or_else(|| "the new instance".into())),
            )],
        ));
    }
    changes
}

/// Terminates `ids` (stale instances, or every instance on destroy).
fn terminate(ids: &[String]) -> Option<GatewayChange> {
    (!ids.is_empty()).then(|| {
        change(
            "gateway.instance",
            Action::Delete,
            GatewayOp::TerminateInstances { ids: ids.to_vec() },
            ids.iter()
                .map(|id| field("terminate", Some(id.clone()), None))
                .collect(),
        )
    })
}

/// Duplicate Elastic IPs from a race: unassociated, tagged, not the one in use. Released.
fn duplicates(o: &ObservedGateway, eip: Option<&ObservedEip>) -> Vec<GatewayChange> {
    let extras: Vec<&ObservedEip> = o
        .eips
        .iter()
        .filter(|e| {
            Some(e.allocation_id.as_str()) != eip.map(|c| c.allocation_id.as_str())
                && e.instance_id.is_none()
        })
        .collect();
    release(&extras, |e| {
        field("duplicate", Some(e.allocation_id.clone()), None)
    })
}

/// Releases `eips`, each shown in the plan as `shown` says. One that has reverse DNS (in force
/// or pending) has it reset first, since AWS refuses to release it otherwise; one whose reset
/// AWS is still at (it takes minutes) is released once that is done (apply waits for it).
fn release(
    eips: &[&ObservedEip],
    shown: impl Fn(&ObservedEip) -> FieldChange,
) -> Vec<GatewayChange> {
    if eips.is_empty() {
        return Vec::new();
    }
    let mut changes: Vec<GatewayChange> = eips
        .iter()
        .filter(|e| e.has_reverse_dns() && !e.removing_reverse_dns())
        .map(|e| {
            change(
                "gateway.eip.reverse_dns",
                Action::Delete,
                GatewayOp::ResetReverseDns {
                    allocation_id: e.allocation_id.clone(),
                },
                vec![field("ptr", e.ptr.clone(), None)],
            )
        })
        .collect();
    changes.push(change(
        "gateway.eip",
        Action::Delete,
        GatewayOp::ReleaseAddresses {
            allocation_ids: eips.iter().map(|e| e.allocation_id.clone()).collect(),
        },
        eips.iter()
            .map(|e| shown(e))
            .chain(eips.iter().filter(|e| e.removing_reverse_dns()).map(|e| {
                field(
                    "reverse_dns",
                    Some(format!(
                        "{} being removed by AWS (PENDING)",
                        e.ptr.as_deref().unwrap_or(&e.public_ip)
                    )),
                    None,
                )
            }))
            .collect(),
    ));
    changes
}

/// The Elastic IP's reverse DNS: set unless it is the hostname already or an update to it is
/// pending at AWS (which the reports then show). An update to it that AWS ended otherwise
/// (`FAILED`) is set again, and reported with AWS's reason.
fn reverse_dns<'o>(
    g: &DesiredGateway,
    eip: Option<&'o ObservedEip>,
) -> (Option<GatewayChange>, Option<&'o PtrUpdate>) {
    let update = eip
        .and_then(|e| e.ptr_update.as_ref())
        .filter(|u| u.value == g.hostname);
    let pending = update.filter(|u| u.is_pending());
    let done = eip.and_then(|e| e.ptr.as_deref()) == Some(g.hostname.as_str());
    if done || pending.is_some() {
        return (None, pending);
    }
    let set = change(
        "gateway.eip.reverse_dns",
        Action::Update,
        GatewayOp::SetReverseDns {
            allocation_id: eip.map(|e| e.allocation_id.clone()),
            hostname: g.hostname.clone(),
        },
        vec![field(
            "ptr",
            eip.and_then(|e| e.ptr.clone()),
            Some(g.hostname.clone()),
        )],
    );
    (Some(set), update)
}

fn rule_text(r: &Ingress) -> String {
    let ports = match (r.protocol.as_str(), r.from_port, r.to_port) {
        ("-1", ..) => "all traffic".to_owned(),
        (p, from, to) if from == to => format!("{p}/{from}"),
        (p, from, to) => format!("{p}/{from}-{to}"),
    };
    format!("{ports} from {}", r.source)
}

/// What only a person can do about the gateway.
pub fn reports(
    g: &DesiredGateway,
    o: &ObservedGateway,
    ptr_update: Option<PtrUpdate>,
) -> Vec<Report> {
    let ip = o
        .eip()
        .map_or("<the Elastic IP, known after apply>".to_owned(), |e| {
            e.public_ip.clone()
        });
    let serving = o.serving(g.via_ses());
    // The private IP of the gateway's network interface, which outlives the instance: the
    // serving instance's, else that of the interface the Elastic IP is on.
    let interface = o
        .eip()
        .and_then(|e| e.network_interface_id.as_ref())
        .and_then(|id| o.network_interfaces.iter().find(|n| &n.id == id));
    let private = serving
        .and_then(|i| i.private_ip.clone())
        .or_else(|| interface.map(|n| n.private_ip.clone()))
        .unwrap_or_else(|| "<the gateway's private IP, known after apply>".into());
    let mut out = vec![
        Report {
            address: "gateway.report.port25".into(),
            kind: ReportKind::Todo,
            title: "Ask AWS to lift the port-25 restriction and check the IP's reputation (no API exists)".into(),
            steps: vec![
                format!("AWS console → Support → \"Request to remove email sending limitations\": give the Elastic IP {ip} and the reverse DNS name {}", g.hostname),
                format!("check {ip} against the blocklists (e.g. https://check.spamhaus.org); if listed, use AWS's Elastic IP removal form"),
            ],
        },
        Report {
            address: "gateway.report.senders".into(),
            kind: ReportKind::Todo,
            title: "Point application instances at the gateway".into(),
            steps: vec![
                format!("Postfix: relayhost = [{private}]"),
                format!("sendmail: define(`SMART_HOST', `[{private}]')"),
                format!("applications: SMTP host {private}, port 25, from inside {}", g.render.relay_from.join(", ")),
            ],
        },
    ];
    // Acknowledged in the blueprint: done, not repeated. Relaying through SES, port 25 out
    // is never used.
    out.retain(|r| {
        !(r.address == "gateway.report.port25" && (g.acknowledged.port25_released || g.via_ses())
            || r.address == "gateway.report.senders" && g.acknowledged.senders_configured)
    });
    out.extend(image_report(g, o, serving));
    out.extend(rotation_report(g));
    out.extend(serving.and_then(|s| {
        super::health::state(g, o, s).and_then(|st| super::health::report(&st, &s.id))
    }));
    out.extend(ptr_update.map(|u| reverse_dns_report(&ip, u)));
    out
}

/// An image older than this many days is reported even when no newer one is known (a
/// pinned AMI): unattended-upgrades keeps its packages patched, but not what upgrades leave
/// alone (the base system as built, packages Debian has since replaced).
pub const IMAGE_AGE_REPORTED_DAYS: i64 = 90;

/// When an image was built and how many days ago: (`2026-11-01`, 32), when its date is
/// known.
pub fn image_age(o: &ObservedGateway, image_id: &str) -> Option<(String, i64)> {
    let (_, built) = o.image_dates.iter().find(|(id, _)| id == image_id)?;
    let secs =
        aws_smithy_types::DateTime::from_str(built, aws_smithy_types::date_time::Format::DateTime)
            .ok()?
            .secs();
    let days = (o.read_at - secs).max(0) / 86_400;
    let day = built.get(..10).unwrap_or(built);
    Some((day.to_owned(), days))
}

/// The image the gateway runs: a newer Debian image than it (never for a pinned AMI), or an
/// old image, with its age and how to move without changing the addresses.
fn image_report(
    g: &DesiredGateway,
    o: &ObservedGateway,
    serving: Option<&ObservedInstance>,
) -> Option<Report> {
    let running = serving?;
    let age = image_age(o, &running.image_id);
    let age_text = age.as_ref().map_or(String::new(), |(day, days)| {
        format!(", built {day}, {days} days ago")
    });
    let keeps = "apply terminates the instance and launches one on the same network interface: the private IP senders use and the Elastic IP stay; mail waits in the senders' queues for about a minute";
    let patched = format!(
        "meanwhile unattended-upgrades installs Debian's security updates every day and reboots at {} UTC when one needs it",
        g.render.reboot_time
    );
    let latest = o.image_id.as_ref().filter(|l| **l != running.image_id);
    if let (false, Some(latest)) = (g.pins_image(), latest) {
        return Some(Report {
            address: "gateway.report.image".into(),
            kind: ReportKind::Todo,
            title: format!(
                "A newer `{}` image is published: {latest} (the gateway runs {}{age_text})",
                g.image, running.image_id
            ),
            steps: vec![
                "nothing changes by itself: the running instance keeps its image, the next replacement uses the new one".into(),
                format!("to move now, set `image: {latest}` in the blueprint: {keeps}"),
                patched,
            ],
        });
    }
    let (day, days) = age.as_ref().filter(|(_, d)| *d > IMAGE_AGE_REPORTED_DAYS)?;
    Some(Report {
        address: "gateway.report.image".into(),
        kind: ReportKind::Todo,
        title: format!(
            "The gateway's image {} is {days} days old (built {day})",
            running.image_id
        ),
        steps: vec![
            patched,
            format!(
                "to renew the base system, set `image:` to a newer image (`debian-12` follows Debian's latest): {keeps}"
            ),
        ],
    })
}

/// A reverse DNS update AWS is still at (pending), or one that failed (a person's to-do,
/// with AWS's reason).
fn reverse_dns_report(ip: &str, u: PtrUpdate) -> Report {
    if u.is_pending() {
        return Report {
            address: "gateway.report.reverse_dns".into(),
            kind: ReportKind::Pending,
            title: format!("Reverse DNS of {ip} -> {} is {}", u.value, u.status),
            steps: vec![u.reason.unwrap_or_else(|| {
                "AWS completes it once the A record resolves; run `mailinfra plan` later".into()
            })],
        };
    }
    Report {
        address: "gateway.report.reverse_dns".into(),
        kind: ReportKind::Todo,
        title: format!(
            "Reverse DNS of {ip} -> {} {}: {}",
            u.value,
            u.status,
            u.reason.as_deref().unwrap_or("AWS gave no reason")
        ),
        steps: vec![
            format!(
                "AWS sets it only once the A record {} -> {ip} resolves in public DNS (the zone delegated at its registrar)",
                u.value
            ),
            "`mailinfra apply` asks for it again".into(),
        ],
    }
}

/// Everything to remove when the blueprint no longer has a gateway (destroy): instances,
/// security group, role, key. The Elastic IP stays (its reputation is the point) unless
/// `--release-ip` adds its release (see `with_release`).
fn removal(o: &ObservedGateway, scope: Option<&DesiredGateway>) -> Vec<GatewayChange> {
    let live: Vec<String> = o.live_instances().map(|i| i.id.clone()).collect();
    let mut changes: Vec<GatewayChange> = terminate(&live).into_iter().collect();
    let interfaces: Vec<&ObservedInterface> = o.network_interfaces.iter().collect();
    changes.extend(delete_interfaces(&interfaces));
    if !o.security_groups.is_empty() {
        changes.push(change(
            "gateway.security_group",
            Action::Delete,
            GatewayOp::DeleteSecurityGroups {
                ids: o.security_groups.iter().map(|s| s.id.clone()).collect(),
            },
            o.security_groups
                .iter()
                .map(|s| {
                    field(
                        "security_group",
                        Some(format!("{} ({}) in {}", s.id, s.name, s.vpc_id)),
                        None,
                    )
                })
                .collect(),
        ));
    }
    let Some(g) = scope else { return changes };
    let parts = RolePart::present(o, &g.names.role);
    if !parts.is_empty() {
        changes.push(change(
            "gateway.role",
            Action::Delete,
            GatewayOp::DeleteRole {
                role: g.names.role.clone(),
                parts,
            },
            vec![],
        ));
    }
    if o.health.as_ref().is_some_and(|h| h.report.is_some()) {
        changes.push(change(
            "gateway.health",
            Action::Delete,
            GatewayOp::DeleteHealth {
                name: g.names.health.clone(),
            },
            vec![field("parameter", Some(g.names.health.clone()), None)],
        ));
    }
    changes.extend(smtp_removal(g, o));
    if !o.dkim_keys.is_empty() {
        changes.push(change(
            "gateway.dkim_key",
            Action::Delete,
            GatewayOp::DeleteKey {
                names: o
                    .dkim_keys
                    .iter()
                    .flat_map(|k| {
                        let n = Names::of(&g.render.blueprint, &k.selector);
                        [n.key_private, n.key_public]
                    })
                    .collect(),
            },
            vec![],
        ));
    }
    changes
}

/// Adds the release of the gateway's Elastic IPs to a destroy plan.
pub fn with_release(changes: &mut Vec<GatewayChange>, o: Option<&ObservedGateway>) {
    let Some(o) = o else { return };
    let all: Vec<&ObservedEip> = o.eips.iter().collect();
    changes.extend(release(&all, |e| {
        field(
            "release",
            Some(format!("{} ({})", e.public_ip, e.allocation_id)),
            None,
        )
    }));
}

/// A DKIM key rotation under way (docs/rotation.md): its stage, and when the next apply
/// takes it further. Shown by every plan until the old key is retired.
fn rotation_report(g: &DesiredGateway) -> Option<Report> {
    let r = g.rotation.as_ref()?;
    let retiring = r.steps.iter().any(|s| matches!(s, Step::Retire { .. }));
    if !r.in_progress() && !retiring {
        return None;
    }
    let mut steps = Vec::new();
    if let Some(due) = r.next_due {
        steps.push(format!(
            "the next stage is due {}: the first `mailinfra apply` after that takes it (a pipeline that applies daily finishes the rotation by itself)",
            rotation::format_time(due)
        ));
    }
    Some(Report {
        address: "gateway.dkim_key.rotation".into(),
        kind: ReportKind::Pending,
        title: format!("DKIM key rotation: {}", r.stage),
        steps,
    })
}

/// The outputs AWS already holds: the Elastic IP, and the published key unless `changes`
/// generate a new one.
pub fn known_outputs(
    o: &ObservedGateway,
    signing: Option<&DesiredGateway>,
    changes: &[GatewayChange],
) -> Outputs {
    let mut known = Outputs::default();
    if let Some(eip) = o.eip() {
        known.set(
            OutputRef::gateway_ip(),
            OutputValue::Text(eip.public_ip.clone()),
        );
    }
    let Some(r) = signing.and_then(|g| g.rotation.as_ref()) else {
        return known;
    };
    let rekeyed: Vec<&OutputRef> = changes
        .iter()
        .filter_map(|c| match &c.op {
            GatewayOp::CreateKey { output, .. } => Some(output),
            _ => None,
        })
        .collect();
    for k in &o.dkim_keys {
        let output = OutputRef::gateway_key_of(&k.selector, &r.signing);
        if let (Some(key), false) = (&k.public, rekeyed.contains(&&output)) {
            known.set(output, OutputValue::Text(key.clone()));
        }
    }
    known
}
