//! The relay gateway's state: what the blueprint wants (names derived from the blueprint, the
//! rendered configuration) and what EC2, IAM and SSM hold. Resources carry the tags
//! `mailinfra:blueprint` and `mailinfra:address`; IAM and SSM names carry the blueprint name.

pub mod diff;
pub mod execute;
pub mod health;
pub mod observe;
pub mod rotation;
#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::blueprint::Blueprint;
use crate::mail::gateway::Gateway;

/// The tag that records an instance's configuration fingerprint.
pub const CONFIG_TAG: &str = "mailinfra:config";
/// How many bytes of SHA-256 a configuration fingerprint keeps (it is written in hex).
const FINGERPRINT_BYTES: usize = 16;
/// The name of the role's one inline policy.
pub const ROLE_POLICY: &str = "read-own-dkim-key";
/// The AWS account that owns Debian's official images in the `aws` partition, the owner
/// infrastructure code filters Debian images by (`owners = ["136693071363"]`); the images
/// are listed at https://wiki.debian.org/Cloud/AmazonEC2Image. Debian's accounts in
/// `aws-cn` and `aws-us-gov` are not confirmed here, so nothing relies on them there.
pub const DEBIAN_OWNER: &str = "136693071363";

/// Debian's public SSM parameter for the latest Debian 12 image of an architecture as EC2
/// names it (`x86_64`, `arm64`), or `None` for one Debian does not publish. Debian names
/// x86_64 `amd64` (https://wiki.debian.org/Cloud/AmazonEC2Image).
pub fn debian_12_parameter(architecture: &str) -> Option<String> {
    let debian = match architecture {
        "x86_64" => "amd64",
        "arm64" => "arm64",
        _ => return None,
    };
    Some(format!("/aws/service/debian/release/12/latest/{debian}"))
}

/// The names mailinfra gives the gateway's resources.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Names {
    pub role: String,
    /// The managed policy that is the role's permissions boundary.
    #[serde(default)]
    pub boundary: String,
    pub security_group: String,
    pub key_private: String,
    pub key_public: String,
    /// The alias of the customer managed KMS key that encrypts the private key.
    #[serde(default)]
    pub kms_alias: String,
    /// The CloudWatch Logs group of the gateway's hard bounces.
    #[serde(default)]
    pub bounce_log: String,
    /// The parameter the gateway reports its health to (`health.rs`).
    #[serde(default)]
    pub health: String,
    /// The IAM user whose access key is the SES SMTP credential (`relay_via: ses`).
    #[serde(default)]
    pub smtp_user: String,
    /// The SecureString holding the SES SMTP credentials (`relay_via: ses`).
    #[serde(default)]
    pub smtp_credentials: String,
}

impl Names {
    /// Whether an instance carrying the blueprint's tags is the gateway's (docs/ownership.md):
    /// tags can be forged by anyone allowed `ec2:CreateTags`, so it must also run with the
    /// gateway's instance profile, in the gateway's security group alone, and carry a
    /// configuration fingerprint. Only such an instance is ever kept, replaced or terminated.
    pub fn is_gateway_instance(
        &self,
        profile_arn: Option<&str>,
        group_names: &[&str],
        config: Option<&str>,
    ) -> bool {
        let profile = profile_arn.and_then(|a| a.rsplit_once(":instance-profile/"));
        profile
            .is_some_and(|(_, path_name)| path_name.rsplit('/').next() == Some(self.role.as_str()))
            && !group_names.is_empty()
            && group_names.iter().all(|n| *n == self.security_group)
            && config.is_some_and(is_fingerprint)
    }

    pub fn of(blueprint: &str, selector: &str) -> Names {
        let base = crate::mail::gateway::role_name(blueprint);
        Names {
            boundary: crate::mail::gateway::boundary_name(blueprint),
            role: base.clone(),
            security_group: base,
            key_private: crate::mail::gateway::dkim_key_parameter(blueprint, selector, "private"),
            key_public: crate::mail::gateway::dkim_key_parameter(blueprint, selector, "public"),
            kms_alias: crate::mail::gateway::kms_alias(blueprint),
            bounce_log: crate::mail::gateway::bounce_log_group(blueprint),
            health: crate::mail::gateway::health_parameter(blueprint),
            smtp_user: crate::mail::ses_smtp::user_name(blueprint),
            smtp_credentials: crate::mail::gateway::ses_credentials_parameter(blueprint),
        }
    }
}

/// One inbound rule: `protocol` ports `from_port`-`to_port` from `source`. The blueprint's
/// rules are TCP from IPv4 ranges; what is observed can be any kind EC2 has.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Ingress {
    /// `tcp`, `udp`, `icmp`, ... or `-1` (all traffic, every port).
    pub protocol: String,
    pub from_port: i32,
    pub to_port: i32,
    pub source: Source,
}

/// Where a security group rule lets traffic in from: each kind EC2 has (`IpPermission`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// An IPv4 range (`IpRanges`).
    Ipv4(String),
    /// An IPv6 range (`Ipv6Ranges`).
    Ipv6(String),
    /// A managed prefix list (`PrefixListIds`), `pl-…`.
    PrefixList(String),
    /// Another security group (`UserIdGroupPairs`), `sg-…`.
    Group(String),
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Ipv4(s) | Source::Ipv6(s) => f.write_str(s),
            Source::PrefixList(s) => write!(f, "prefix list {s}"),
            Source::Group(s) => write!(f, "security group {s}"),
        }
    }
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
    /// The to-dos a person has acknowledged in the blueprint.
    #[serde(default)]
    pub acknowledged: Acknowledged,
    /// With `relay_via: ses`: the SMTP user's policy (`ses_smtp_user_policy`).
    #[serde(default)]
    pub smtp_policy: Option<String>,
    /// How the DKIM key rotates (`gateway.dkim`).
    #[serde(default)]
    pub rotation_policy: Option<rotation::Policy>,
    /// With `relay_via: ses`: how the SMTP credentials rotate (`gateway.smtp_credentials`).
    #[serde(default)]
    pub smtp_rotation: Option<SmtpRotation>,
    /// The rotation decided from the keys SSM holds (`Desired::with_gateway_keys`); the names
    /// and rendering above are then the signing key's.
    #[serde(default)]
    pub rotation: Option<rotation::Rotation>,
}

/// When the SES SMTP credentials are rotated (docs/rotation.md).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SmtpRotation {
    /// `gateway.smtp_credentials.rotate_every` in seconds: the access key's age that starts
    /// a rotation.
    pub rotate_every: Option<i64>,
    /// `mailinfra rotate smtp-credentials`: rotate now.
    pub requested: bool,
}

/// To-dos only a person can do, marked done in the blueprint (`port25_released`,
/// `senders_configured`) so that plans stop repeating them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Acknowledged {
    pub port25_released: bool,
    pub senders_configured: bool,
}

impl DesiredGateway {
    /// This gateway signing with the key under `selector`: its key names and rendering.
    pub fn signing_with(&self, selector: &str) -> DesiredGateway {
        let mut g = self.clone();
        let names = Names::of(&self.render.blueprint, selector);
        g.names.key_private = names.key_private;
        g.names.key_public = names.key_public;
        g.render.selector = selector.to_owned();
        g.render.key_parameter = g.names.key_private.clone();
        g
    }

    /// Relaying through Amazon SES (`relay_via: ses`): no Elastic IP, no reverse DNS, no DKIM
    /// key of its own; an SMTP user and its credentials instead.
    pub fn via_ses(&self) -> bool {
        matches!(self.render.relay, crate::mail::gateway::Relay::Ses { .. })
    }

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
            .take(FINGERPRINT_BYTES)
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// SHA-256 of the user data the blueprint renders (the boot script), as `user_data_hash`
    /// writes it: compared with what EC2 holds, so user data changed outside mailinfra
    /// replaces the instance.
    pub fn user_data_sha256(&self) -> String {
        user_data_hash(self.render.boot_script().as_bytes())
    }

    /// An AMI id pins the image: an instance on another one is replaced. `debian-12` follows
    /// Debian's parameter without replacing: a newer image is reported, and used by the next
    /// launch, so the relay is never rebuilt on Debian's schedule.
    pub fn pins_image(&self) -> bool {
        self.image != "debian-12"
    }
}

/// EC2's limit on user data: "User data is limited to 16 KB, in raw form, before it is
/// base64-encoded" (EC2 User Guide, "Run commands when you launch an EC2 instance with user
/// data input").
pub const USER_DATA_MAX: usize = 16 * 1024;

/// The user data sent to EC2: the boot script, gzip-compressed, which cloud-init unpacks
/// before running it (cloud-init documentation, "User-data formats": "Compressed content.
/// Content found to be gzip compressed will be uncompressed"). The script with its files
/// (key fetch, bounce recorder, tables for every domain) is near the limit uncompressed.
pub fn user_data(script: &str) -> Vec<u8> {
    use std::io::Write as _;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(script.as_bytes())
        .and_then(|()| gz.finish())
        .expect("gzip into memory does not fail")
}

/// SHA-256 of the script in user data (decoded from base64; unpacked when gzip-compressed,
/// so the hash does not depend on how it was compressed, and an instance launched with plain
/// user data compares too), in hex.
pub fn user_data_hash(bytes: &[u8]) -> String {
    use std::io::Read as _;
    let mut plain = Vec::new();
    let bytes = if bytes.starts_with(&[0x1f, 0x8b])
        && flate2::read::GzDecoder::new(bytes)
            .read_to_end(&mut plain)
            .is_ok()
    {
        plain.as_slice()
    } else {
        bytes
    };
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Whether `s` has the form of a configuration fingerprint (`DesiredGateway::config_hash`).
fn is_fingerprint(s: &str) -> bool {
    s.len() == 2 * FINGERPRINT_BYTES
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

pub fn from_blueprint(bp: &Blueprint) -> Option<DesiredGateway> {
    let g = bp.gateway.as_ref()?;
    let names = Names::of(&bp.name.value, &g.dkim.selector.value);
    // Port 25 only: the submission port is not offered (docs/gateway.md).
    let mut ingress: Vec<Ingress> = g
        .relay_from
        .iter()
        .map(|r| Ingress {
            protocol: "tcp".into(),
            from_port: 25,
            to_port: 25,
            source: Source::Ipv4(if r.value.contains('/') {
                r.value.clone()
            } else {
                format!("{}/32", r.value)
            }),
        })
        .collect();
    ingress.sort();
    let render = Gateway {
        blueprint: bp.name.value.clone(),
        hostname: g.hostname.value.clone(),
        region: bp.region().unwrap_or_default().to_owned(),
        relay_from: g.relay_from.iter().map(|r| r.value.clone()).collect(),
        selector: g.dkim.selector.value.clone(),
        signing_domains: bp
            .domains
            .iter()
            .filter(|d| d.via_gateway.is_some())
            .map(|d| d.domain.value.clone())
            .collect(),
        key_parameter: names.key_private.clone(),
        postmaster: g.postmaster_address(),
        delivery: g.delivery_settings(),
        suppress_hard_bounces: g.suppress_hard_bounces,
        reboot_time: g.reboot_time(),
        relay: relay(bp, g),
    };
    let smtp_policy = (g.relay_via() == crate::blueprint::RelayVia::Ses)
        .then(|| ses_smtp_user_policy(bp, &render));
    Some(DesiredGateway {
        hostname: g.hostname.value.clone(),
        zone: g.zone_name(),
        instance_type: g.instance_type.value.clone(),
        image: g.image.value.clone(),
        subnet: g.subnet.as_ref().map(|s| s.value.clone()),
        ingress,
        render,
        names,
        acknowledged: Acknowledged {
            port25_released: g.port25_released,
            senders_configured: g.senders_configured,
        },
        smtp_policy,
        rotation_policy: (g.relay_via() == crate::blueprint::RelayVia::Direct).then(|| {
            rotation::Policy {
                selector: g.dkim.selector.value.clone(),
                rotate_every: g.dkim.rotate_every_secs(),
                retire_after: g.dkim.retire_after_secs(),
                requested: false,
            }
        }),
        rotation: None,
        smtp_rotation: (g.relay_via() == crate::blueprint::RelayVia::Ses).then(|| SmtpRotation {
            rotate_every: g
                .smtp_credentials
                .as_ref()
                .and_then(|c| c.rotate_every.as_ref())
                .and_then(|d| crate::blueprint::duration_secs(&d.value)),
            requested: false,
        }),
    })
}

/// The policy of the IAM user whose access key is the gateway's SES SMTP credential
/// (`relay_via: ses`): send as the relayed domains, through their configuration sets.
pub fn ses_smtp_user_policy(bp: &Blueprint, g: &Gateway) -> String {
    let mut sets: Vec<String> = bp
        .domains
        .iter()
        .filter(|d| d.via_gateway.is_some())
        .filter_map(|d| d.ses.as_ref()?.configuration_set.as_ref())
        .map(|c| c.value.clone())
        .collect();
    sets.sort();
    sets.dedup();
    crate::mail::ses_smtp::user_policy(&g.region, &g.signing_domains, &g.hostname, &sets)
}

/// Where the gateway sends on, as the rendering needs it.
fn relay(bp: &Blueprint, g: &crate::blueprint::GatewaySpec) -> crate::mail::gateway::Relay {
    match g.relay_via() {
        crate::blueprint::RelayVia::Direct => crate::mail::gateway::Relay::Direct,
        crate::blueprint::RelayVia::Ses => crate::mail::gateway::Relay::Ses {
            endpoint: crate::mail::ses_smtp::endpoint(bp.region().unwrap_or_default()),
            credentials_parameter: crate::mail::gateway::ses_credentials_parameter(&bp.name.value),
        },
    }
}

/// An instance's state, spelled as EC2 spells it (`shutting-down`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InstanceState {
    Pending,
    Running,
    ShuttingDown,
    Terminated,
    Stopping,
    Stopped,
    /// A state EC2 did not name, or one this tool does not know.
    Unknown,
}

impl InstanceState {
    pub fn as_str(self) -> &'static str {
        match self {
            InstanceState::Pending => "pending",
            InstanceState::Running => "running",
            InstanceState::ShuttingDown => "shutting-down",
            InstanceState::Terminated => "terminated",
            InstanceState::Stopping => "stopping",
            InstanceState::Stopped => "stopped",
            InstanceState::Unknown => "unknown",
        }
    }

    /// Still there: the gateway's instance, a stale one to terminate, or one that blocks
    /// deleting the security group.
    pub fn is_live(self) -> bool {
        matches!(
            self,
            InstanceState::Pending
                | InstanceState::Running
                | InstanceState::Stopping
                | InstanceState::Stopped
        )
    }

    /// Terminated or on its way there: it will never run.
    pub fn is_gone(self) -> bool {
        matches!(
            self,
            InstanceState::ShuttingDown | InstanceState::Terminated
        )
    }
}

impl std::fmt::Display for InstanceState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObservedInstance {
    pub id: String,
    pub state: InstanceState,
    pub instance_type: String,
    pub image_id: String,
    pub subnet_id: String,
    pub private_ip: Option<String>,
    /// The `mailinfra:config` tag: the configuration fingerprint it was launched with.
    pub config: Option<String>,
    /// SHA-256 of the user data EC2 holds for it (`DescribeInstanceAttribute userData`);
    /// `None` when it has none.
    #[serde(default)]
    pub user_data: Option<String>,
    /// Its primary network interface (device index 0): the gateway's own one
    /// (`ObservedInterface`) when it was launched on it.
    #[serde(default)]
    pub network_interface: Option<String>,
    /// Seconds since the epoch.
    pub launched: i64,
}

/// A reverse DNS update AWS has not finished, or could not (`PtrUpdateStatus`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PtrUpdate {
    /// The name asked for, without the trailing dot.
    pub value: String,
    /// AWS's word for it: `PENDING` while at work, `FAILED` when it gave up.
    pub status: String,
    /// Why, when AWS says (a missing A record, for one).
    pub reason: Option<String>,
}

impl PtrUpdate {
    /// AWS is still at it; any other status is an update that ended without taking effect.
    pub fn is_pending(&self) -> bool {
        self.status.eq_ignore_ascii_case("PENDING")
    }

    /// A removal (ResetAddressAttribute) AWS is still at: an update to no name.
    pub fn is_removal(&self) -> bool {
        self.value.is_empty() && self.is_pending()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObservedEip {
    pub allocation_id: String,
    pub public_ip: String,
    pub instance_id: Option<String>,
    pub association_id: Option<String>,
    /// The reverse DNS name in force.
    pub ptr: Option<String>,
    /// A reverse DNS update not in force: pending, or failed.
    pub ptr_update: Option<PtrUpdate>,
    /// The network interface it is associated with (its association outlives the instance
    /// when the interface does).
    #[serde(default)]
    pub network_interface_id: Option<String>,
}

impl ObservedEip {
    /// AWS refuses to release an address with reverse DNS, in force or pending.
    pub fn has_reverse_dns(&self) -> bool {
        self.ptr.is_some() || self.ptr_update.is_some()
    }

    /// Its reverse DNS is being removed already: nothing to reset, only to wait for.
    pub fn removing_reverse_dns(&self) -> bool {
        self.ptr_update.as_ref().is_some_and(PtrUpdate::is_removal)
    }
}

/// The gateway's network interface (ENI): created by mailinfra in the subnet, in the
/// gateway's security group, and launched on as the instance's primary interface, so its
/// private IP (senders' `relayhost`) and its Elastic IP outlive any one instance
/// (docs/gateway.md, "The address senders use").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObservedInterface {
    pub id: String,
    pub subnet_id: String,
    pub private_ip: String,
    /// The instance it is attached to, if any.
    pub instance_id: Option<String>,
}

/// The subnet the instance goes into, and its VPC (where the security group goes).
///
/// Serialized as the pair `[id, vpc_id]` it was before it had names, so the checksum of what
/// was observed, and with it every saved plan, stays as it was.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "(String, String)", into = "(String, String)")]
pub struct Subnet {
    pub id: String,
    pub vpc_id: String,
}

impl From<(String, String)> for Subnet {
    fn from((id, vpc_id): (String, String)) -> Subnet {
        Subnet { id, vpc_id }
    }
}

impl From<Subnet> for (String, String) {
    fn from(s: Subnet) -> (String, String) {
        (s.id, s.vpc_id)
    }
}

/// Where a subnet's route table sends 0.0.0.0/0 (its explicitly associated table, else its
/// VPC's main table).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DefaultRoute {
    /// An internet gateway (`igw-…`): the instance's Elastic IP is its address on the internet.
    InternetGateway(String),
    /// Anything else (a NAT gateway `nat-…`, a NAT instance, a transit gateway): traffic
    /// leaves from that hop's address.
    Through(String),
    /// No 0.0.0.0/0 route (or a blackhole): no way out.
    None,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObservedSecurityGroup {
    pub id: String,
    pub name: String,
    pub vpc_id: String,
    pub ingress: Vec<Ingress>,
}

/// Who owns a pinned image, and the account mailinfra runs as (asked only when the owner is
/// not Debian).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageOwner {
    pub owner: String,
    pub account: Option<String>,
}

impl ImageOwner {
    /// Only Debian's images and the account's own are launched: a pinned id that anyone can
    /// share publicly could run anything with the gateway's role and DKIM key.
    pub fn trusted(&self) -> bool {
        self.owner == DEBIAN_OWNER || self.account.as_deref() == Some(self.owner.as_str())
    }
}

/// One permanent delivery failure the gateway recorded (`record_bounces.py` writes it as the
/// JSON message of a CloudWatch Logs event).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bounce {
    pub recipient: String,
    /// The enhanced status code, `5.x.x`.
    pub dsn: String,
    /// What the receiving server said.
    pub reason: String,
    /// When the gateway recorded it (UTC, RFC 3339).
    pub at: String,
    #[serde(default)]
    pub queue_id: String,
}

impl Bounce {
    /// The bounce list from the log's event messages: the latest bounce of each recipient
    /// (addresses compared without regard to case), oldest first; messages that are not a
    /// bounce are counted, not kept.
    pub fn list<'a>(messages: impl IntoIterator<Item = &'a str>) -> (Vec<Bounce>, usize) {
        let mut latest: std::collections::BTreeMap<String, Bounce> = Default::default();
        let mut unreadable = 0;
        for m in messages {
            match serde_json::from_str::<Bounce>(m) {
                Ok(b) if b.dsn.starts_with("5.") && b.recipient.contains('@') => {
                    let key = b.recipient.to_lowercase();
                    if latest.get(&key).is_none_or(|old| old.at <= b.at) {
                        latest.insert(key, b);
                    }
                }
                _ => unreadable += 1,
            }
        }
        let mut list: Vec<Bounce> = latest.into_values().collect();
        list.sort_by(|a, b| a.at.cmp(&b.at).then_with(|| a.recipient.cmp(&b.recipient)));
        (list, unreadable)
    }
}

/// The description mailinfra gives the blueprint's DKIM KMS key: how it tells its own key
/// from one someone else put behind the alias.
pub fn kms_description(blueprint: &str) -> String {
    format!("mailinfra gateway DKIM key encryption, blueprint {blueprint}")
}

/// The SES SMTP user (`relay_via: ses`), as IAM holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObservedSmtpUser {
    /// The `mailinfra:blueprint` tag: a user of that name without it is someone else's.
    pub blueprint_tag: Option<String>,
    /// Its permissions boundary's ARN.
    pub boundary: Option<String>,
    /// Its inline policy `SMTP_USER_POLICY`, when it has one.
    pub policy: Option<String>,
    /// Its access key ids (at most two: IAM's limit).
    pub access_keys: Vec<String>,
    /// When each access key was made (seconds; `CreateDate`): a rotation's age.
    #[serde(default)]
    pub created: std::collections::BTreeMap<String, i64>,
}

/// The SES SMTP credentials parameter, as Parameter Store describes it (never decrypted by
/// plan): which access key its password was derived from, named in its description.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObservedSmtpCredentials {
    pub access_key: Option<String>,
    /// When the parameter was last written (seconds; `LastModifiedDate`): an instance launched
    /// before has older credentials.
    #[serde(default)]
    pub modified: Option<i64>,
    /// The KMS key it is encrypted with, as Parameter Store reports it.
    pub kms: Option<String>,
}

/// The description of the SES SMTP credentials parameter: names the access key (not a
/// secret: access key ids appear in CloudTrail) so plan knows, without decrypting, whether the
/// stored password belongs to a key that still exists.
pub fn smtp_credentials_description(access_key: &str) -> String {
    format!("Amazon SES SMTP credentials of access key {access_key} (mailinfra)")
}

/// The access key a credentials parameter's description names.
pub fn smtp_credentials_key(description: &str) -> Option<String> {
    description
        .strip_prefix("Amazon SES SMTP credentials of access key ")?
        .split_whitespace()
        .next()
        .map(str::to_owned)
}

/// The name of the SMTP user's one inline policy.
pub const SMTP_USER_POLICY: &str = "send-through-ses";

/// The customer managed KMS key that encrypts the gateway's DKIM private key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObservedKmsKey {
    pub id: String,
    pub arn: String,
    /// `Enabled`, `Disabled`, `PendingDeletion`, ... (KeyMetadata.KeyState).
    pub state: String,
    /// The key policy (`default`), when it could be read.
    pub policy: Option<String>,
    /// Whether the key carries the blueprint's tag: an alias of that name pointing at a key
    /// mailinfra did not create is someone else's, and is never used.
    pub owned: bool,
}

impl ObservedKmsKey {
    /// Whether Parameter Store's `KeyId` of a parameter names this key.
    pub fn is(&self, key_id: &str, alias: &str) -> bool {
        [self.id.as_str(), self.arn.as_str(), alias].contains(&key_id)
            || key_id
                .strip_prefix("arn:")
                .is_some_and(|_| key_id.ends_with(&format!(":{alias}")))
    }
}

/// Everything observed of the gateway.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObservedGateway {
    /// The architectures the instance type runs (`ProcessorInfo.SupportedArchitectures`);
    /// empty when EC2 does not know the type.
    #[serde(default)]
    pub architectures: Vec<String>,
    /// The resolved image id.
    pub image_id: Option<String>,
    /// The image's architecture (`x86_64`, `arm64`).
    #[serde(default)]
    pub image_architecture: Option<String>,
    /// A pinned image's owner, and the caller's account when the owner is not Debian.
    #[serde(default)]
    pub image_owner: Option<ImageOwner>,
    /// The subnet the instance goes into.
    pub subnet: Option<Subnet>,
    /// Whether the role itself exists (a destroy cut short can leave it alone, without its
    /// profile and policy).
    pub role_exists: bool,
    /// The subnet's availability zone.
    #[serde(default)]
    pub subnet_zone: Option<String>,
    /// Where the subnet's route table sends internet traffic (0.0.0.0/0).
    #[serde(default)]
    pub subnet_route: Option<DefaultRoute>,
    /// The availability zones that offer the instance type (DescribeInstanceTypeOfferings).
    #[serde(default)]
    pub offered_zones: Vec<String>,
    /// Roles in the instance profile, when it exists.
    pub profile_roles: Option<Vec<String>>,
    /// The role's permissions boundary (its ARN), when it has one.
    #[serde(default)]
    pub role_boundary: Option<String>,
    /// The ARN the boundary policy has (or gets) in this account.
    #[serde(default)]
    pub boundary_arn: String,
    /// The boundary policy's default version's document, when the policy exists.
    #[serde(default)]
    pub boundary_policy: Option<String>,
    pub role_policy: Option<String>,
    /// The DKIM keys in SSM, every selector (two during a rotation), sorted by selector. A
    /// private half's `KeyId` is as Parameter Store reports it: a key id, key ARN or alias
    /// (`alias/aws/ssm` for the AWS managed key).
    #[serde(default)]
    pub dkim_keys: Vec<rotation::ObservedKey>,
    /// The account mailinfra runs in (the key policy names it).
    #[serde(default)]
    pub account: String,
    /// The KMS key the blueprint's alias names, when it exists.
    #[serde(default)]
    pub kms_key: Option<ObservedKmsKey>,
    /// The bounce log group's retention in days, when the group exists (`Some(None)`: kept
    /// forever).
    #[serde(default)]
    pub bounce_log: Option<Option<i32>>,
    /// The SES SMTP user, when it exists (`relay_via: ses`, or left from it).
    #[serde(default)]
    pub smtp_user: Option<ObservedSmtpUser>,
    /// The SES SMTP credentials parameter, when it exists.
    #[serde(default)]
    pub smtp_credentials: Option<ObservedSmtpCredentials>,
    pub security_groups: Vec<ObservedSecurityGroup>,
    pub instances: Vec<ObservedInstance>,
    pub eips: Vec<ObservedEip>,
    /// The gateway's network interfaces (`ObservedInterface`): one in use, more only while a
    /// subnet move or a run cut short leaves others to delete.
    #[serde(default)]
    pub network_interfaces: Vec<ObservedInterface>,
    /// The gateway's own report (`health.rs`); not part of what a saved plan is checked
    /// against, since it changes every few minutes.
    #[serde(skip)]
    pub health: Option<health::Observed>,
    /// When each image the gateway runs or would launch was built (DescribeImages
    /// `CreationDate`): (image id, RFC 3339 time).
    #[serde(default)]
    pub image_dates: Vec<(String, String)>,
    /// When this was read, seconds since the epoch (ages are measured against it); not part
    /// of what a saved plan is checked against.
    #[serde(skip)]
    pub read_at: i64,
}

impl ObservedGateway {
    /// The DKIM key under `selector`.
    pub fn dkim_key(&self, selector: &str) -> Option<&rotation::ObservedKey> {
        self.dkim_keys.iter().find(|k| k.selector == selector)
    }

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

    /// Keeps only the Elastic IPs that are the gateway's: unassociated, or associated with one
    /// of `instances` (the gateway's by `Names::is_gateway_instance`). A tagged address that
    /// serves another instance is someone else's, whatever its tags say.
    pub fn own_addresses(eips: &mut Vec<ObservedEip>, instances: &[ObservedInstance]) {
        eips.retain(|e| {
            e.instance_id
                .as_ref()
                .is_none_or(|id| instances.iter().any(|i| &i.id == id))
        });
    }

    /// Keeps only the Elastic IPs whose network interface, when they have one and serve no
    /// instance (the interface outlived its instance), is one of the gateway's.
    pub fn own_interface_addresses(eips: &mut Vec<ObservedEip>, interfaces: &[ObservedInterface]) {
        eips.retain(|e| {
            e.instance_id.is_some()
                || e.network_interface_id
                    .as_ref()
                    .is_none_or(|id| interfaces.iter().any(|n| &n.id == id))
        });
    }

    /// The network interface the gateway uses in `subnet_id`: the one the serving instance is
    /// on, else one attached to a live instance, else the one the Elastic IP is on, else the
    /// lowest id.
    pub fn interface_in(&self, subnet_id: &str) -> Option<&ObservedInterface> {
        let eip_on = self.eip().and_then(|e| e.network_interface_id.as_deref());
        self.network_interfaces
            .iter()
            .filter(|n| n.subnet_id == subnet_id)
            .min_by_key(|n| {
                (
                    n.instance_id.is_none(),
                    Some(n.id.as_str()) != eip_on,
                    n.id.clone(),
                )
            })
    }

    /// The instance serving now: the one with the Elastic IP, else (relaying through SES,
    /// `via_ses`, with no address) the live one on one of the gateway's network interfaces.
    pub fn serving(&self, via_ses: bool) -> Option<&ObservedInstance> {
        let by_address = self
            .eip()
            .and_then(|e| e.instance_id.as_ref())
            .and_then(|id| self.instances.iter().find(|i| &i.id == id));
        by_address.or_else(|| {
            via_ses.then(|| {
                self.live_instances().find(|i| {
                    i.network_interface
                        .as_ref()
                        .is_some_and(|n| self.network_interfaces.iter().any(|x| &x.id == n))
                })
            })?
        })
    }

    pub fn live_instances(&self) -> impl Iterator<Item = &ObservedInstance> {
        self.instances.iter().filter(|i| i.state.is_live())
    }
}
