//! The gateway half of the diff: IAM role, DKIM key, security group, instance, Elastic IP and
//! its reverse DNS, compared with what AWS holds; plus the reports only a person can act on
//! (the port-25 release, the relay line for senders, a pending PTR). Pure.

use serde::{Deserialize, Serialize};

use super::{DesiredGateway, Ingress, ObservedGateway};
use crate::kinds::ses::diff::FieldChange;
use crate::mail::gateway as render;
use crate::plan::desired::{Desired, OutputRef, OutputValue, Outputs};
use crate::plan::{Action, Conflict};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum GatewayOp {
    /// Create or repair the role, its one policy, and the instance profile.
    EnsureRole {
        role: String,
        policy: String,
    },
    /// Generate the DKIM key; the private half goes to SSM (SecureString) only.
    CreateKey {
        private: String,
        public: String,
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
    /// Launch with the configuration fingerprint `config` (also the client token's base).
    RunInstance {
        config: String,
        image_id: String,
        subnet_id: String,
        replaces: Option<String>,
    },
    AllocateAddress,
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
    DeleteRole {
        role: String,
    },
    DeleteKey {
        names: Vec<String>,
    },
    ResetReverseDns {
        allocation_id: String,
    },
}

impl GatewayOp {
    /// Runs after the DNS changes.
    pub fn after_dns(&self) -> bool {
        matches!(
            self,
            GatewayOp::SetReverseDns { .. } | GatewayOp::ResetReverseDns { .. }
        ) || matches!(self, GatewayOp::ReleaseAddresses { .. })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GatewayChange {
    pub address: String,
    pub action: Action,
    pub op: GatewayOp,
    pub fields: Vec<FieldChange>,
}

/// Something that changes nothing: a step only a person can take, or something AWS is
/// still doing (verification, reverse DNS) that a later plan or `status` picks up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub address: String,
    /// `todo` (a person's step, shown with changes and by `status`) or `pending` (AWS is
    /// still at it; shown by every plan, with or without changes).
    pub kind: String,
    pub title: String,
    pub steps: Vec<String>,
}

fn field(name: &str, before: Option<String>, after: Option<String>) -> FieldChange {
    FieldChange {
        field: name.into(),
        before,
        after,
    }
}

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

/// The gateway's changes, in execution order, and its reports.
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

fn wanted(
    desired: &Desired,
    g: &DesiredGateway,
    o: &ObservedGateway,
    conflicts: &mut Vec<Conflict>,
) -> (Vec<GatewayChange>, Vec<Report>) {
    let mut changes = Vec::new();
    let region = desired.region.clone().unwrap_or_default();
    let policy = render::role_policy(&region, &g.names.key_private);

    let role_ok = o.profile_roles.as_deref() == Some(std::slice::from_ref(&g.names.role))
        && o.role_policy
            .as_deref()
            .is_some_and(|p| same_json(p, &policy));
    if !role_ok {
        changes.push(change(
            "gateway.role",
            if o.profile_roles.is_none() {
                Action::Create
            } else {
                Action::Update
            },
            GatewayOp::EnsureRole {
                role: g.names.role.clone(),
                policy: policy.clone(),
            },
            vec![field("policy", o.role_policy.clone(), Some(policy))],
        ));
    }
    if o.public_key.is_none() || !o.private_key_exists {
        changes.push(change(
            "gateway.dkim_key",
            Action::Create,
            GatewayOp::CreateKey {
                private: g.names.key_private.clone(),
                public: g.names.key_public.clone(),
            },
            vec![field(
                "key",
                None,
                Some(format!(
                    "RSA 2048, private half in SSM {} (SecureString)",
                    g.names.key_private
                )),
            )],
        ));
    }

    let Some((subnet_id, vpc_id)) = o.subnet.clone() else {
        conflicts.push(Conflict {
            address: "gateway.instance".into(),
            message: match &g.subnet {
                Some(s) => format!("subnet `{s}` does not exist in this region"),
                None => "the region has no default subnet to launch the gateway in".into(),
            },
            hint: "set `gateway.subnet` to a public subnet of your VPC".into(),
        });
        return (changes, Vec::new());
    };
    let Some(image_id) = o.image_id.clone() else {
        conflicts.push(Conflict {
            address: "gateway.instance".into(),
            message: format!("the image `{}` could not be resolved", g.image),
            hint: "use `debian-12` or an AMI id that exists in this region".into(),
        });
        return (changes, Vec::new());
    };

    match o.security_groups.first() {
        None => {
            changes.push(change(
                "gateway.security_group",
                Action::Create,
                GatewayOp::CreateSecurityGroup {
                    name: g.names.security_group.clone(),
                    vpc_id,
                },
                vec![],
            ));
            changes.push(change(
                "gateway.security_group.ingress",
                Action::Create,
                GatewayOp::Authorize {
                    group: None,
                    rules: g.ingress.clone(),
                },
                g.ingress
                    .iter()
                    .map(|r| field("ingress", None, Some(rule_text(r))))
                    .collect(),
            ));
        }
        Some(sg) => {
            let missing: Vec<Ingress> = g
                .ingress
                .iter()
                .filter(|r| !sg.ingress.contains(r))
                .cloned()
                .collect();
            let extra: Vec<Ingress> = sg
                .ingress
                .iter()
                .filter(|r| !g.ingress.contains(r))
                .cloned()
                .collect();
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
                changes.push(change(
                    "gateway.security_group.ingress",
                    Action::Create,
                    GatewayOp::Authorize {
                        group: Some(sg.id.clone()),
                        rules: missing.clone(),
                    },
                    missing
                        .iter()
                        .map(|r| field("ingress", None, Some(rule_text(r))))
                        .collect(),
                ));
            }
        }
    }

    let config = g.config_hash(&subnet_id);
    let live: Vec<_> = o.live_instances().collect();
    let keep = live
        .iter()
        .filter(|i| i.config.as_deref() == Some(config.as_str()))
        .filter(|i| !g.pins_image() || i.image_id == image_id)
        .max_by_key(|i| i.launched);
    let eip = o.eip();
    let mut stale: Vec<String> = live
        .iter()
        .filter(|i| Some(i.id.as_str()) != keep.map(|k| k.id.as_str()))
        .map(|i| i.id.clone())
        .collect();
    stale.sort();
    let new_instance = keep.is_none();
    if new_instance {
        let current = eip
            .and_then(|e| e.instance_id.as_ref())
            .and_then(|id| live.iter().find(|i| &i.id == id))
            .or(live.first());
        let (action, fields) = match current {
            None => (
                Action::Create,
                vec![
                    field("instance_type", None, Some(g.instance_type.clone())),
                    field("image", None, Some(format!("{} ({image_id})", g.image))),
                    field("subnet", None, Some(subnet_id.clone())),
                ],
            ),
            Some(c) => {
                let mut why = Vec::new();
                if c.instance_type != g.instance_type {
                    why.push(field(
                        "instance_type",
                        Some(c.instance_type.clone()),
                        Some(g.instance_type.clone()),
                    ));
                }
                if c.image_id != image_id {
                    why.push(field(
                        "image",
                        Some(c.image_id.clone()),
                        Some(image_id.clone()),
                    ));
                }
                if c.subnet_id != subnet_id {
                    why.push(field(
                        "subnet",
                        Some(c.subnet_id.clone()),
                        Some(subnet_id.clone()),
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
                    Some(
                        "new instance; the Elastic IP moves to it, then the old one is terminated"
                            .into(),
                    ),
                ));
                (Action::Replace, why)
            }
        };
        changes.push(change(
            "gateway.instance",
            action,
            GatewayOp::RunInstance {
                config,
                image_id: image_id.clone(),
                subnet_id,
                replaces: current.map(|c| c.id.clone()),
            },
            fields,
        ));
    }
    if eip.is_none() {
        changes.push(change(
            "gateway.eip",
            Action::Create,
            GatewayOp::AllocateAddress,
            vec![],
        ));
    }
    let target = keep.map(|k| k.id.clone());
    let associated = eip.and_then(|e| e.instance_id.clone());
    if eip.is_none() || new_instance || associated != target {
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
    if !stale.is_empty() {
        changes.push(change(
            "gateway.instance",
            Action::Delete,
            GatewayOp::TerminateInstances { ids: stale.clone() },
            stale
                .iter()
                .map(|id| field("terminate", Some(id.clone()), None))
                .collect(),
        ));
    }
    // Duplicates from a race: unassociated, tagged, not the one in use. One that got reverse
    // DNS first has it reset, since AWS refuses to release it otherwise.
    let extras: Vec<_> = o
        .eips
        .iter()
        .filter(|e| {
            Some(e.allocation_id.as_str()) != eip.map(|c| c.allocation_id.as_str())
                && e.instance_id.is_none()
        })
        .collect();
    for e in extras
        .iter()
        .filter(|e| e.ptr.is_some() || e.ptr_update.is_some())
    {
        changes.push(change(
            "gateway.eip.reverse_dns",
            Action::Delete,
            GatewayOp::ResetReverseDns {
                allocation_id: e.allocation_id.clone(),
            },
            vec![field("ptr", e.ptr.clone(), None)],
        ));
    }
    let extra_eips: Vec<String> = extras.iter().map(|e| e.allocation_id.clone()).collect();
    if !extra_eips.is_empty() {
        changes.push(change(
            "gateway.eip",
            Action::Delete,
            GatewayOp::ReleaseAddresses {
                allocation_ids: extra_eips.clone(),
            },
            extra_eips
                .iter()
                .map(|id| field("duplicate", Some(id.clone()), None))
                .collect(),
        ));
    }
    let ptr_pending = eip
        .and_then(|e| e.ptr_update.as_ref())
        .filter(|u| u.0 == g.hostname);
    let ptr_done = eip.and_then(|e| e.ptr.as_deref()) == Some(g.hostname.as_str());
    if !ptr_done && ptr_pending.is_none() {
        changes.push(change(
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
        ));
    }
    (changes, reports(g, o, ptr_pending.cloned()))
}

fn rule_text(r: &Ingress) -> String {
    format!("{}/{} from {}", r.protocol, r.from_port, r.cidr)
}

/// What only a person can do about the gateway.
pub fn reports(
    g: &DesiredGateway,
    o: &ObservedGateway,
    ptr_pending: Option<(String, String, Option<String>)>,
) -> Vec<Report> {
    let ip = o
        .eip()
        .map_or("<the Elastic IP, known after apply>".to_owned(), |e| {
            e.public_ip.clone()
        });
    // The instance serving now: the one with the Elastic IP.
    let serving = o
        .eip()
        .and_then(|e| e.instance_id.as_ref())
        .and_then(|id| o.instances.iter().find(|i| &i.id == id));
    let private = serving
        .and_then(|i| i.private_ip.clone())
        .unwrap_or_else(|| "<the gateway's private IP, known after apply>".into());
    let mut out = vec![
        Report {
            address: "gateway.report.port25".into(),
            kind: "todo".into(),
            title: "Ask AWS to lift the port-25 restriction and check the IP's reputation (no API exists)".into(),
            steps: vec![
                format!("AWS console → Support → \"Request to remove email sending limitations\": give the Elastic IP {ip} and the reverse DNS name {}", g.hostname),
                format!("check {ip} against the blocklists (e.g. https://check.spamhaus.org); if listed, use AWS's Elastic IP removal form"),
            ],
        },
        Report {
            address: "gateway.report.senders".into(),
            kind: "todo".into(),
            title: "Point application instances at the gateway".into(),
            steps: vec![
                format!("Postfix: relayhost = [{private}]"),
                format!("sendmail: define(`SMART_HOST', `[{private}]')"),
                format!("applications: SMTP host {private}, port 25, from inside {}", g.render.relay_from.join(", ")),
            ],
        },
    ];
    if let (Some(running), Some(latest), false) = (serving, &o.image_id, g.pins_image())
        && running.image_id != *latest
    {
        out.push(Report {
            address: "gateway.report.image".into(),
            kind: "todo".into(),
            title: format!(
                "A newer `{}` image is published: {latest} (the gateway runs {})",
                g.image, running.image_id
            ),
            steps: vec![
                "nothing changes by itself: the running instance keeps its image, the next replacement uses the new one".into(),
                format!("to move now, set `image: {latest}` in the blueprint: apply replaces the instance and keeps the Elastic IP"),
            ],
        });
    }
    if let Some((value, status, reason)) = ptr_pending {
        out.push(Report {
            address: "gateway.report.reverse_dns".into(),
            kind: "pending".into(),
            title: format!("Reverse DNS of {ip} -> {value} is {status}"),
            steps: vec![reason.unwrap_or_else(|| {
                "AWS completes it once the A record resolves; run `mailinfra plan` later".into()
            })],
        });
    }
    out
}

/// Everything to remove when the blueprint no longer has a gateway (destroy): instances,
/// security group, role, key. The Elastic IP stays (its reputation is the point) unless
/// `--release-ip` adds its release (see `with_release`).
fn removal(o: &ObservedGateway, scope: Option<&DesiredGateway>) -> Vec<GatewayChange> {
    let mut changes = Vec::new();
    let live: Vec<String> = o.live_instances().map(|i| i.id.clone()).collect();
    if !live.is_empty() {
        changes.push(change(
            "gateway.instance",
            Action::Delete,
            GatewayOp::TerminateInstances { ids: live.clone() },
            live.iter()
                .map(|id| field("terminate", Some(id.clone()), None))
                .collect(),
        ));
    }
    if !o.security_groups.is_empty() {
        changes.push(change(
            "gateway.security_group",
            Action::Delete,
            GatewayOp::DeleteSecurityGroups {
                ids: o.security_groups.iter().map(|s| s.id.clone()).collect(),
            },
            vec![],
        ));
    }
    if let Some(g) = scope {
        if o.profile_roles.is_some() || o.role_policy.is_some() {
            changes.push(change(
                "gateway.role",
                Action::Delete,
                GatewayOp::DeleteRole {
                    role: g.names.role.clone(),
                },
                vec![],
            ));
        }
        if o.public_key.is_some() || o.private_key_exists {
            changes.push(change(
                "gateway.dkim_key",
                Action::Delete,
                GatewayOp::DeleteKey {
                    names: vec![g.names.key_private.clone(), g.names.key_public.clone()],
                },
                vec![],
            ));
        }
    }
    changes
}

/// Adds the release of the gateway's Elastic IPs to a destroy plan: reverse DNS reset first,
/// since AWS refuses to release an address that has one.
pub fn with_release(changes: &mut Vec<GatewayChange>, o: Option<&ObservedGateway>) {
    let Some(o) = o else { return };
    for e in &o.eips {
        if e.ptr.is_some() || e.ptr_update.is_some() {
            changes.push(change(
                "gateway.eip.reverse_dns",
                Action::Delete,
                GatewayOp::ResetReverseDns {
                    allocation_id: e.allocation_id.clone(),
                },
                vec![field("ptr", e.ptr.clone(), None)],
            ));
        }
    }
    if !o.eips.is_empty() {
        let ids: Vec<String> = o.eips.iter().map(|e| e.allocation_id.clone()).collect();
        changes.push(change(
            "gateway.eip",
            Action::Delete,
            GatewayOp::ReleaseAddresses {
                allocation_ids: ids.clone(),
            },
            o.eips
                .iter()
                .map(|e| {
                    field(
                        "release",
                        Some(format!("{} ({})", e.public_ip, e.allocation_id)),
                        None,
                    )
                })
                .collect(),
        ));
    }
}

/// The outputs AWS already holds: the Elastic IP, and the published key unless `changes`
/// generate a new one.
pub fn known_outputs(o: &ObservedGateway, changes: &[GatewayChange]) -> Outputs {
    let mut known = Outputs::default();
    if let Some(eip) = o.eip() {
        known.set(
            OutputRef::gateway_ip(),
            OutputValue::Text(eip.public_ip.clone()),
        );
    }
    let rekeyed = changes
        .iter()
        .any(|c| matches!(c.op, GatewayOp::CreateKey { .. }));
    if let (Some(key), false) = (&o.public_key, rekeyed) {
        known.set(OutputRef::gateway_key(), OutputValue::Text(key.clone()));
    }
    known
}
