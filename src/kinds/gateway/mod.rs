//! The relay gateway's state: what the blueprint wants (names derived from the blueprint, the
//! rendered configuration) and what EC2, IAM and SSM hold. Resources carry the tags
//! `mailinfra:blueprint` and `mailinfra:address`; IAM and SSM names carry the blueprint name.

pub mod diff;
pub mod execute;
pub mod observe;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::blueprint::Blueprint;
use crate::mail::gateway::Gateway;

/// The names mailinfra gives the gateway's resources.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Names {
    pub role: String,
    pub security_group: String,
    pub key_private: String,
    pub key_public: String,
}

impl Names {
    pub fn of(blueprint: &str, selector: &str) -> Names {
        let base = format!("mailinfra-{blueprint}-gateway");
        Names {
            role: base.clone(),
            security_group: base,
            key_private: format!("/mailinfra/{blueprint}/dkim/{selector}/private"),
            key_public: format!("/mailinfra/{blueprint}/dkim/{selector}/public"),
        }
    }
}

/// One inbound rule: TCP `port` from `cidr`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Ingress {
    pub protocol: String,
    pub from_port: i32,
    pub to_port: i32,
    pub cidr: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DesiredGateway {
    pub hostname: String,
    pub zone: String,
    pub instance_type: String,
    /// `debian-12` or an AMI id.
    pub image: String,
    pub subnet: Option<String>,
    pub ingress: Vec<Ingress>,
    pub names: Names,
    pub render: Gateway,
}

impl DesiredGateway {
    /// The instance's configuration fingerprint: a change replaces the instance. Also the
    /// base of the `RunInstances` client token, so a retried launch returns the same instance.
    /// The image is not part of it: `pins_image` decides when the image replaces the instance.
    pub fn config_hash(&self, subnet_id: &str) -> String {
        let mut h = Sha256::new();
        for part in [
            &self.instance_type,
            subnet_id,
            &self.names.role,
            &self.names.security_group,
            &self.render.boot_script(),
        ] {
            h.update(part.as_bytes());
            h.update([0]);
        }
        h.finalize()
            .iter()
            .take(16)
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// An AMI id pins the image: an instance on another one is replaced. `debian-12` follows
    /// Debian's parameter without replacing: a newer image is reported, and used by the next
    /// launch, so the relay is never rebuilt on Debian's schedule.
    pub fn pins_image(&self) -> bool {
        self.image != "debian-12"
    }
}

pub fn from_blueprint(bp: &Blueprint) -> Option<DesiredGateway> {
    let g = bp.gateway.as_ref()?;
    let names = Names::of(&bp.name.value, &g.dkim_selector.value);
    let mut ports = vec![25];
    if g.submission {
        ports.push(587);
    }
    let mut ingress: Vec<Ingress> = ports
        .iter()
        .flat_map(|p| {
            g.relay_from.iter().map(move |r| Ingress {
                protocol: "tcp".into(),
                from_port: *p,
                to_port: *p,
                cidr: if r.value.contains('/') {
                    r.value.clone()
                } else {
                    format!("{}/32", r.value)
                },
            })
        })
        .collect();
    ingress.sort();
    Some(DesiredGateway {
        hostname: g.hostname.value.clone(),
        zone: g.zone_name(),
        instance_type: g.instance_type.value.clone(),
        image: g.image.value.clone(),
        subnet: g.subnet.as_ref().map(|s| s.value.clone()),
        ingress,
        render: Gateway {
            blueprint: bp.name.value.clone(),
            hostname: g.hostname.value.clone(),
            region: bp.region().unwrap_or_default().to_owned(),
            relay_from: g.relay_from.iter().map(|r| r.value.clone()).collect(),
            submission: g.submission,
            selector: g.dkim_selector.value.clone(),
            signing_domains: bp
                .domains
                .iter()
                .filter(|d| d.via_gateway.is_some())
                .map(|d| d.domain.value.clone())
                .collect(),
            key_parameter: names.key_private.clone(),
        },
        names,
    })
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObservedInstance {
    pub id: String,
    pub state: String,
    pub instance_type: String,
    pub image_id: String,
    pub subnet_id: String,
    pub private_ip: Option<String>,
    /// The `mailinfra:config` tag: the configuration fingerprint it was launched with.
    pub config: Option<String>,
    /// Seconds since the epoch.
    pub launched: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObservedEip {
    pub allocation_id: String,
    pub public_ip: String,
    pub instance_id: Option<String>,
    pub association_id: Option<String>,
    /// The reverse DNS name in force.
    pub ptr: Option<String>,
    /// A pending reverse DNS update: (value, status, reason).
    pub ptr_update: Option<(String, String, Option<String>)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObservedSecurityGroup {
    pub id: String,
    pub name: String,
    pub vpc_id: String,
    pub ingress: Vec<Ingress>,
}

/// Everything observed of the gateway.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObservedGateway {
    /// The resolved image id.
    pub image_id: Option<String>,
    /// (subnet id, VPC id) the instance goes into.
    pub subnet: Option<(String, String)>,
    /// Roles in the instance profile, when it exists.
    pub profile_roles: Option<Vec<String>>,
    pub role_policy: Option<String>,
    pub public_key: Option<String>,
    pub private_key_exists: bool,
    pub security_groups: Vec<ObservedSecurityGroup>,
    pub instances: Vec<ObservedInstance>,
    pub eips: Vec<ObservedEip>,
}

impl ObservedGateway {
    /// The Elastic IP the gateway uses: the one associated with a live instance, else the
    /// oldest allocation (duplicates from a race are released by apply).
    pub fn eip(&self) -> Option<&ObservedEip> {
        self.eips
            .iter()
            .find(|e| e.instance_id.is_some())
            .or_else(|| {
                self.eips
                    .iter()
                    .min_by(|a, b| a.allocation_id.cmp(&b.allocation_id))
            })
    }

    pub fn live_instances(&self) -> impl Iterator<Item = &ObservedInstance> {
        self.instances.iter().filter(|i| {
            matches!(
                i.state.as_str(),
                "pending" | "running" | "stopping" | "stopped"
            )
        })
    }
}
