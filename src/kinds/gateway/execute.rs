//! Carries out the gateway's changes. Before DNS: role, key, security group, instance (waited
//! on until running), Elastic IP, association, termination of replaced or duplicate instances.
//! After DNS: reverse DNS (AWS wants the A record first), releases.
//!
//! Every step tolerates a run killed halfway: names are fixed, `RunInstances` has a client
//! token derived from the blueprint and the configuration, resources are tagged at creation,
//! and "already exists" answers count as success. Two applies at once allocate at most one
//! extra Elastic IP, which the loser releases.
//!
//! Every wait (an instance's state, a new instance profile reaching EC2, a new id EC2 does not
//! know yet, a security group still in use, an address locked until its reverse DNS is
//! removed) goes through `aws::poll`, bounded by `--timeout`.

use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use aws_sdk_ec2::operation::run_instances::RunInstancesOutput;
use aws_sdk_ec2::types::{
    AddressAttributeName, BlockDeviceMapping, DomainType, EbsBlockDevice, HttpTokensState,
    IamInstanceProfileSpecification, Instance, InstanceMetadataEndpointState,
    InstanceMetadataOptionsRequest, InstanceNetworkInterfaceSpecification, InstanceType,
    IpPermission, IpRange, Ipv6Range, PrefixListId, ResourceType, Tag, TagSpecification,
    UserIdGroupPair,
};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest as _, Sha256};
use tokio::time::Instant;

use super::diff::{GatewayChange, GatewayOp, RolePart};
use super::observe::{self, state};
use super::{
    CONFIG_TAG, DesiredGateway, Ingress, InstanceState, Names, ObservedEip, ObservedGateway,
    ROLE_POLICY, Source,
};
use crate::aws::poll::{self, Look, Stopped, Wait};
use crate::aws::{Aws, AwsError, ops};
use crate::kinds::{ADDRESS_TAG, OWNER_TAG};
use crate::mail::dkim;
use crate::mail::gateway as render;
use crate::output::Output;
use crate::plan::desired::{OutputRef, OutputValue, Outputs};

/// An Elastic IP allocated in this run.
#[derive(Debug, Clone)]
struct Allocated {
    allocation_id: String,
    public_ip: String,
}

/// What the steps of this run made, for DNS and the later steps. A plan names a resource that
/// does not exist yet as `None` ("the one created in this run"); each field here is that one,
/// `None` until the step that makes it has run.
#[derive(Debug, Default, Clone)]
pub struct Learned {
    /// The Elastic IP allocated (and kept, once a race is settled).
    address: Option<Allocated>,
    /// The public half of each DKIM key generated, by its output.
    public_keys: Vec<(OutputRef, String)>,
    /// The instance launched (and running).
    instance_id: Option<String>,
    /// The security group created, or the one whose rules this run changed: the launch
    /// uses it without looking it up.
    security_group: Option<String>,
    /// The network interface created.
    network_interface: Option<String>,
}

impl Learned {
    /// What the gateway's steps produced that DNS records use: the Elastic IP, a newly
    /// generated key's public half.
    pub fn outputs(&self) -> Outputs {
        let mut outputs = Outputs::default();
        if let Some(a) = &self.address {
            outputs.set(
                OutputRef::gateway_ip(),
                OutputValue::Text(a.public_ip.clone()),
            );
        }
        for (output, key) in &self.public_keys {
            outputs.set(output.clone(), OutputValue::Text(key.clone()));
        }
        outputs
    }

    /// The address a step names: known at plan time, or allocated earlier in this apply.
    fn allocation(&self, planned: &Option<String>) -> Result<String, AwsError> {
        this_run(
            planned,
            self.address.as_ref().map(|a| a.allocation_id.as_str()),
            "Elastic IP",
        )
    }

    /// The instance a step names: known at plan time, or launched earlier in this apply.
    fn instance(&self, planned: &Option<String>) -> Result<String, AwsError> {
        this_run(planned, self.instance_id.as_deref(), "instance")
    }

    /// The security group a step names: known at plan time, or created earlier in this apply.
    fn security_group(&self, planned: &Option<String>) -> Result<String, AwsError> {
        this_run(planned, self.security_group.as_deref(), "security group")
    }

    /// The network interface a step names: known at plan time, or created earlier in this
    /// apply.
    fn network_interface(&self, planned: &Option<String>) -> Result<String, AwsError> {
        this_run(
            planned,
            self.network_interface.as_deref(),
            "network interface",
        )
    }
}

/// The resource the plan names, else the one made earlier in this run. Neither is a plan
/// whose steps are out of order: no request goes out with an empty id.
fn this_run(planned: &Option<String>, made: Option<&str>, what: &str) -> Result<String, AwsError> {
    planned
        .as_deref()
        .or(made)
        .map(str::to_owned)
        .ok_or_else(|| {
            AwsError::Other(format!(
                "a gateway step names the {what} created in this run, and no earlier step created one\n  = hint: make the plan again with `mailinfra plan`"
            ))
        })
}

/// The refusal's code, for the refusals a step expects.
fn code(e: &AwsError) -> Option<&str> {
    match e {
        AwsError::Call { code, .. } => code.as_deref(),
        _ => None,
    }
}

/// A call's outcome with the refusals that mean "already so" (`codes`) counted as success.
fn already<T>(r: Result<T, AwsError>, codes: &[&str]) -> Result<Option<T>, AwsError> {
    match r {
        Ok(t) => Ok(Some(t)),
        Err(e) if code(&e).is_some_and(|c| codes.contains(&c)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Makes `call` again while AWS refuses it for a reason that passes with time (`passing`),
/// as `wait` says; when the wait runs out, the last refusal is the error.
async fn again_while<T, F, Fut>(
    wait: Wait<'_>,
    passing: impl Fn(&AwsError) -> bool,
    call: F,
) -> Result<T, AwsError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, AwsError>>,
{
    let every = wait.every;
    again_while_backoff(wait, every, passing, call).await
}

/// How long EC2 may take to know a resource it just created (eventual consistency), at most.
const VISIBILITY: Duration = Duration::from_secs(120);

/// EC2 does not know (yet) an id it just handed out: "not yet", not "gone". EC2's eventual
/// consistency: https://docs.aws.amazon.com/ec2/latest/devguide/eventual-consistency.html
/// (the SDK's standard retry does not retry these codes).
fn not_yet_visible(e: &AwsError) -> bool {
    matches!(
        code(e),
        Some(
            "InvalidInstanceID.NotFound"
                | "InvalidGroup.NotFound"
                | "InvalidAllocationID.NotFound"
                | "InvalidNetworkInterfaceID.NotFound"
        )
    )
}

/// `again_while` with the pause doubling up to `max_every`.
async fn again_while_backoff<T, F, Fut>(
    wait: Wait<'_>,
    max_every: Duration,
    passing: impl Fn(&AwsError) -> bool,
    mut call: F,
) -> Result<T, AwsError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, AwsError>>,
{
    let last = Mutex::new(None);
    let waited = poll::until_backoff(wait, max_every, || {
        let answer = call();
        let (last, passing) = (&last, &passing);
        async move {
            match answer.await {
                Err(e) if passing(&e) => {
                    let pending = e.to_string();
                    *last.lock().expect("not poisoned") = Some(e);
                    Ok(Look::NotYet(pending))
                }
                other => other.map(Look::Done),
            }
        }
    })
    .await;
    match waited {
        Ok(t) => Ok(t),
        Err(Stopped::Failed(e)) => Err(e),
        Err(Stopped::TimedOut { pending, .. }) => Err(last
            .into_inner()
            .ok()
            .flatten()
            .unwrap_or(AwsError::Other(pending))),
    }
}

fn tags(blueprint: &str, address: &str, extra: &[(&str, &str)]) -> Vec<Tag> {
    let mut t = vec![
        Tag::builder().key(OWNER_TAG).value(blueprint).build(),
        Tag::builder().key(ADDRESS_TAG).value(address).build(),
    ];
    t.extend(
        extra
            .iter()
            .map(|(k, v)| Tag::builder().key(*k).value(*v).build()),
    );
    t
}

fn spec(kind: ResourceType, tags: Vec<Tag>) -> TagSpecification {
    TagSpecification::builder()
        .resource_type(kind)
        .set_tags(Some(tags))
        .build()
}

/// The rules as EC2 permissions, each source in its own kind's list (a rule to revoke must
/// name its source the way it was authorized).
fn permissions(rules: &[Ingress]) -> Vec<IpPermission> {
    rules
        .iter()
        .map(|r| {
            let p = IpPermission::builder().ip_protocol(&r.protocol);
            // All traffic (`-1`) has no ports.
            let p = if r.protocol == "-1" {
                p
            } else {
                p.from_port(r.from_port).to_port(r.to_port)
            };
            match &r.source {
                Source::Ipv4(cidr) => p.ip_ranges(
                    IpRange::builder()
                        .cidr_ip(cidr)
                        .description("mailinfra relay_from")
                        .build(),
                ),
                Source::Ipv6(cidr) => p.ipv6_ranges(Ipv6Range::builder().cidr_ipv6(cidr).build()),
                Source::PrefixList(id) => {
                    p.prefix_list_ids(PrefixListId::builder().prefix_list_id(id).build())
                }
                Source::Group(id) => {
                    p.user_id_group_pairs(UserIdGroupPair::builder().group_id(id).build())
                }
            }
            .build()
        })
        .collect()
}

/// What every step of one apply shares.
struct Steps<'a> {
    aws: &'a Aws,
    blueprint: &'a str,
    /// Bounds every wait.
    timeout: Duration,
    out: &'a Output,
}

/// The steps that come before DNS.
pub async fn before_dns(
    aws: &Aws,
    blueprint: &str,
    g: Option<&DesiredGateway>,
    changes: &[GatewayChange],
    timeout: Duration,
    out: &Output,
) -> Result<Learned, AwsError> {
    let s = Steps {
        aws,
        blueprint,
        timeout,
        out,
    };
    let mut l = Learned::default();
    for c in changes.iter().filter(|c| !c.op.after_dns()) {
        crate::interrupt::check(&c.address)?;
        s.before_dns(&c.op, g, &mut l).await?;
    }
    Ok(l)
}

/// The steps that come after DNS: reverse DNS (the A record must resolve first) and releases.
/// Waits (an address locked until its reverse DNS is removed) are bounded by `timeout`.
pub async fn after_dns(
    aws: &Aws,
    changes: &[GatewayChange],
    l: &Learned,
    timeout: Duration,
    out: &Output,
) -> Result<(), AwsError> {
    // No step after DNS names the blueprint.
    let s = Steps {
        aws,
        blueprint: "",
        timeout,
        out,
    };
    for c in changes.iter().filter(|c| c.op.after_dns()) {
        crate::interrupt::check(&c.address)?;
        match &c.op {
            GatewayOp::SetReverseDns {
                allocation_id,
                hostname,
            } => {
                let allocation = l.allocation(allocation_id)?;
                s.once_visible(&allocation, || {
                    set_reverse_dns(aws, &allocation, hostname, out)
                })
                .await?;
            }
            GatewayOp::ResetReverseDns { allocation_id } => {
                aws.ec2
                    .reset_address_attribute()
                    .allocation_id(allocation_id)
                    .attribute(AddressAttributeName::DomainName)
                    .send()
                    .await
                    .map_err(|e| AwsError::call(&ops::RESET_ADDRESS_ATTRIBUTE, e))?;
            }
            GatewayOp::MarkKey {
                public,
                description,
                ..
            } => mark_key(aws, public, description).await?,
            GatewayOp::RetireKey { names } => delete_key(aws, names).await?,
            GatewayOp::ReleaseAddresses { allocation_ids } => {
                for id in allocation_ids {
                    s.release_when_unlocked(id).await?;
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// EC2's refusal to release an address whose reverse DNS is set or still being removed
/// (`InvalidAddress.Locked`; `InvalidAddress.PtrSet` is seen too).
fn locked(e: &AwsError) -> bool {
    matches!(
        code(e),
        Some("InvalidAddress.Locked" | "InvalidAddress.PtrSet")
    )
}

impl Steps<'_> {
    /// Releases an Elastic IP. Removing reverse DNS takes AWS minutes (the reset stays
    /// `PENDING`), and the address is locked until it is done: the release waits for it, at
    /// most `--timeout`; past that the address stays allocated, is reported as pending, and
    /// the next run (whose plan shows the release) finishes it.
    async fn release_when_unlocked(&self, id: &str) -> Result<(), AwsError> {
        match release(self.aws, id).await {
            Ok(released) => {
                self.say_released(id, released);
                return Ok(());
            }
            Err(e) if locked(&e) => {}
            Err(e) => return Err(e),
        }
        self.out.progress(&format!(
            "gateway: Elastic IP {id} is locked until AWS has removed its reverse DNS; waiting (at most {} s)",
            self.timeout.as_secs()
        ));
        let what = format!("the reverse DNS of {id} to be removed");
        let aws = self.aws;
        let waited = poll::until(self.every_5s(&what), || async move {
            Ok::<_, AwsError>(match reverse_dns_of(aws, id).await? {
                None => Look::Done(()),
                Some(pending) => Look::NotYet(pending),
            })
        })
        .await;
        match waited {
            Ok(()) => {
                let released = release(self.aws, id).await?;
                self.say_released(id, released);
                Ok(())
            }
            Err(Stopped::Failed(e)) => Err(e),
            Err(Stopped::TimedOut { pending, .. }) => {
                self.out.progress(&format!(
                    "gateway: Elastic IP {id} is not released yet, AWS still has it locked ({pending}): it stays allocated, and the next run releases it (its plan shows the release)"
                ));
                Ok(())
            }
        }
    }

    fn say_released(&self, id: &str, released: bool) {
        if released {
            self.out
                .progress(&format!("gateway: released Elastic IP {id}"));
        }
    }
}

/// The reverse DNS an address still has, in force or being changed or removed, as people read
/// it; `None` when it has none.
async fn reverse_dns_of(aws: &Aws, id: &str) -> Result<Option<String>, AwsError> {
    let out = aws
        .ec2
        .describe_addresses_attribute()
        .allocation_ids(id)
        .attribute(AddressAttributeName::DomainName)
        .send()
        .await
        .map_err(|e| AwsError::call(&ops::DESCRIBE_ADDRESSES_ATTRIBUTE, e))?;
    let Some(a) = out.addresses().first() else {
        return Ok(None);
    };
    Ok(
        match (
            a.ptr_record().filter(|p| !p.is_empty()),
            a.ptr_record_update(),
        ) {
            (_, Some(u)) => Some(format!(
                "reverse DNS update {}",
                u.status().unwrap_or("in progress")
            )),
            (Some(p), None) => Some(format!("reverse DNS {p}")),
            (None, None) => None,
        },
    )
}

impl Steps<'_> {
    /// A wait for `what` that looks every 5 s, at most `--timeout`, with progress.
    fn every_5s<'w>(&'w self, what: &'w str) -> Wait<'w> {
        Wait {
            what,
            every: Duration::from_secs(5),
            limit: self.timeout,
            out: Some(self.out),
        }
    }

    /// `call`, made again with backoff while EC2 does not know yet an id it just handed out
    /// (about 2 minutes at most, bounded by `--timeout`).
    async fn once_visible<T, F, Fut>(&self, what: &str, call: F) -> Result<T, AwsError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, AwsError>>,
    {
        let what = format!("EC2 to know {what}");
        let wait = Wait {
            what: &what,
            every: Duration::from_secs(1),
            limit: VISIBILITY.min(self.timeout),
            out: Some(self.out),
        };
        again_while_backoff(wait, Duration::from_secs(16), not_yet_visible, call).await
    }

    /// One step before DNS; what it makes goes into `l`.
    async fn before_dns(
        &self,
        op: &GatewayOp,
        g: Option<&DesiredGateway>,
        l: &mut Learned,
    ) -> Result<(), AwsError> {
        let (aws, blueprint) = (self.aws, self.blueprint);
        match op {
            GatewayOp::EnsureBoundary { name, arn, policy } => {
                ensure_boundary(aws, name, arn, policy).await
            }
            GatewayOp::EnsureRole {
                role,
                boundary,
                policy,
            } => ensure_role(aws, blueprint, role, boundary, policy).await,
            GatewayOp::PutRolePolicy { role, policy } => put_role_policy(aws, role, policy).await,
            GatewayOp::CreateKmsKey {
                alias,
                description,
                policy,
            } => create_kms_key(aws, blueprint, alias, description, policy).await,
            GatewayOp::PutKmsKeyPolicy { key_id, policy } => aws
                .kms
                .put_key_policy()
                .key_id(key_id)
                .policy_name("default")
                .policy(policy)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| AwsError::call(&ops::PUT_KEY_POLICY, e)),
            GatewayOp::CreateKey {
                private,
                public,
                kms_alias,
                description,
                output,
            } => {
                let key = create_key(aws, private, public, kms_alias, description).await?;
                l.public_keys.push((output.clone(), key));
                Ok(())
            }
            GatewayOp::MarkKey {
                public,
                description,
                after_dns: false,
            } => mark_key(aws, public, description).await,
            GatewayOp::MoveKey { private, kms_alias } => move_key(aws, private, kms_alias).await,
            GatewayOp::EnsureBounceLog {
                name,
                retention_days,
            } => ensure_bounce_log(aws, name, *retention_days).await,
            GatewayOp::CreateSecurityGroup { name, vpc_id } => {
                l.security_group = Some(create_security_group(aws, blueprint, name, vpc_id).await?);
                Ok(())
            }
            GatewayOp::Authorize { group, rules } => {
                let group = l.security_group(group)?;
                self.once_visible(&format!("security group {group}"), || {
                    authorize(aws, &group, rules)
                })
                .await?;
                l.security_group = Some(group);
                Ok(())
            }
            GatewayOp::Revoke { group, rules } => {
                revoke(aws, group, rules).await?;
                l.security_group = Some(group.clone());
                Ok(())
            }
            GatewayOp::CreateNetworkInterface {
                subnet_id,
                security_group,
            } => {
                let group = l.security_group(security_group)?;
                let (id, ip) = self
                    .once_visible(&format!("security group {group}"), || {
                        create_interface(aws, blueprint, subnet_id, &group)
                    })
                    .await?;
                self.out.progress(&format!(
                    "gateway: network interface {id}, private IP {ip}: the address senders relay to, kept when the instance is replaced"
                ));
                l.network_interface = Some(id);
                Ok(())
            }
            GatewayOp::RunInstance {
                config,
                image_id,
                replaces,
                network_interface,
                ..
            } => {
                let g = g.ok_or_else(|| {
                    AwsError::Other("a plan launches a gateway it does not describe".into())
                })?;
                let network_interface = l.network_interface(network_interface)?;
                let root_device = root_device(aws, image_id).await?;
                let launch = Launch {
                    g,
                    config,
                    image_id,
                    root_device: &root_device,
                    replaces: replaces.as_deref(),
                    network_interface: &network_interface,
                };
                l.instance_id = Some(self.run_instance(&launch).await?);
                Ok(())
            }
            GatewayOp::AllocateAddress => {
                let g = g.ok_or_else(|| {
                    AwsError::Other(
                        "a plan allocates an address for a gateway it does not describe".into(),
                    )
                })?;
                l.address = Some(allocate(aws, blueprint, &g.names).await?);
                Ok(())
            }
            GatewayOp::Associate {
                allocation_id,
                instance_id,
            } => {
                let (allocation, instance) =
                    (l.allocation(allocation_id)?, l.instance(instance_id)?);
                self.once_visible(&format!("{allocation} and {instance}"), || {
                    associate(aws, &allocation, &instance)
                })
                .await?;
                self.out
                    .progress(&format!("gateway: Elastic IP {allocation} on {instance}"));
                Ok(())
            }
            GatewayOp::AssociateInterface {
                allocation_id,
                network_interface_id,
            } => {
                let (allocation, interface) = (
                    l.allocation(allocation_id)?,
                    l.network_interface(network_interface_id)?,
                );
                self.once_visible(&format!("{allocation} and {interface}"), || {
                    associate_interface(aws, &allocation, &interface)
                })
                .await?;
                self.out.progress(&format!(
                    "gateway: Elastic IP {allocation} on network interface {interface}"
                ));
                Ok(())
            }
            GatewayOp::DeleteNetworkInterfaces { ids } => {
                for id in ids {
                    self.delete_interface(id).await?;
                }
                Ok(())
            }
            GatewayOp::TerminateInstances { ids } => self.terminate(ids).await,
            GatewayOp::DeleteSecurityGroups { ids } => {
                for id in ids {
                    self.delete_security_group(id).await?;
                }
                Ok(())
            }
            GatewayOp::DeleteRole { role, parts } => delete_role(aws, role, parts).await,
            GatewayOp::EnsureSmtpUser {
                user,
                boundary,
                policy,
            } => ensure_smtp_user(aws, blueprint, user, boundary, policy).await,
            GatewayOp::CreateSmtpCredentials {
                user,
                stale,
                parameter,
                kms_alias,
                region,
            } => {
                delete_access_keys(aws, user, stale).await?;
                create_smtp_credentials(aws, user, parameter, kms_alias, region).await?;
                self.out.progress(&format!(
                    "gateway: SES SMTP credentials of {user} stored in SSM {parameter} (never shown)"
                ));
                Ok(())
            }
            GatewayOp::DeleteAccessKeys { user, ids } => delete_access_keys(aws, user, ids).await,
            GatewayOp::DeleteSmtpUser {
                user,
                access_keys,
                policy,
                exists,
                parameter,
            } => {
                // The parameter last: it is what tells a later plan in direct mode that a
                // user may be left to delete.
                delete_smtp_user(aws, user, access_keys, *policy, *exists).await?;
                if let Some(parameter) = parameter {
                    delete_key(aws, std::slice::from_ref(parameter)).await?;
                }
                Ok(())
            }
            GatewayOp::DeleteKey { names } => delete_key(aws, names).await,
            GatewayOp::DeleteHealth { name } => delete_health(aws, name).await,
            GatewayOp::SetReverseDns { .. }
            | GatewayOp::ResetReverseDns { .. }
            | GatewayOp::ReleaseAddresses { .. }
            | GatewayOp::RetireKey { .. }
            | GatewayOp::MarkKey {
                after_dns: true, ..
            } => Ok(()),
        }
    }
}

/// IAM keeps at most five versions of a managed policy (IAM User Guide, "Versioning IAM
/// policies"); a sixth is refused with `LimitExceeded` until one is deleted.
const POLICY_VERSIONS_MAX: usize = 5;

/// Creates the boundary policy, or makes `policy` its default version. Creating needs only
/// `iam:CreatePolicy` (the apply role has it); a new version needs the bootstrap role.
async fn ensure_boundary(aws: &Aws, name: &str, arn: &str, policy: &str) -> Result<(), AwsError> {
    let created = aws
        .iam
        .create_policy()
        .policy_name(name)
        .policy_document(policy)
        .description("mailinfra: the most the relay gateway's role may ever do")
        .send()
        .await
        .map_err(|e| AwsError::call(&ops::CREATE_POLICY, e));
    if already(created, &["EntityAlreadyExists"])?.is_some() {
        return Ok(());
    }
    let versions = aws
        .iam
        .list_policy_versions()
        .policy_arn(arn)
        .send()
        .await
        .map_err(|e| AwsError::call(&ops::LIST_POLICY_VERSIONS, e))?;
    let mut old: Vec<_> = versions
        .versions()
        .iter()
        .filter(|v| !v.is_default_version())
        .collect();
    old.sort_by_key(|v| v.create_date().map(|d| d.secs()));
    if versions.versions().len() >= POLICY_VERSIONS_MAX
        && let Some(oldest) = old.first().and_then(|v| v.version_id())
    {
        aws.iam
            .delete_policy_version()
            .policy_arn(arn)
            .version_id(oldest)
            .send()
            .await
            .map_err(|e| AwsError::call(&ops::DELETE_POLICY_VERSION, e))?;
    }
    aws.iam
        .create_policy_version()
        .policy_arn(arn)
        .policy_document(policy)
        .set_as_default(true)
        .send()
        .await
        .map_err(|e| AwsError::call(&ops::CREATE_POLICY_VERSION, e))?;
    Ok(())
}

/// Sets the role's one inline policy.
async fn put_role_policy(aws: &Aws, role: &str, policy: &str) -> Result<(), AwsError> {
    aws.iam
        .put_role_policy()
        .role_name(role)
        .policy_name(ROLE_POLICY)
        .policy_document(policy)
        .send()
        .await
        .map_err(|e| AwsError::call(&ops::PUT_ROLE_POLICY, e))?;
    Ok(())
}

async fn ensure_role(
    aws: &Aws,
    blueprint: &str,
    role: &str,
    boundary: &str,
    policy: &str,
) -> Result<(), AwsError> {
    let tag = |k: &str, v: &str| aws_sdk_iam::types::Tag::builder().key(k).value(v).build();
    let tags: Vec<_> = [tag(OWNER_TAG, blueprint), tag(ADDRESS_TAG, "gateway.role")]
        .into_iter()
        .collect::<Result<_, _>>()
        .map_err(|e| AwsError::Other(format!("building a tag: {e}")))?;
    let created = aws
        .iam
        .create_role()
        .role_name(role)
        .assume_role_policy_document(render::trust_policy())
        .permissions_boundary(boundary)
        .set_tags(Some(tags))
        .send()
        .await
        .map_err(|e| AwsError::call(&ops::CREATE_ROLE, e));
    // A role that was there already (made before boundaries, or by a run cut short) gets the
    // boundary before its policy: the apply role may change the policy only then.
    if already(created, &["EntityAlreadyExists"])?.is_none() {
        aws.iam
            .put_role_permissions_boundary()
            .role_name(role)
            .permissions_boundary(boundary)
            .send()
            .await
            .map_err(|e| AwsError::call(&ops::PUT_ROLE_PERMISSIONS_BOUNDARY, e))?;
    }
    put_role_policy(aws, role, policy).await?;
    let profile = aws
        .iam
        .create_instance_profile()
        .instance_profile_name(role)
        .send()
        .await
        .map_err(|e| AwsError::call(&ops::CREATE_INSTANCE_PROFILE, e));
    already(profile, &["EntityAlreadyExists"])?;
    // A profile holds one role: `LimitExceeded` means it holds it already.
    let added = aws
        .iam
        .add_role_to_instance_profile()
        .instance_profile_name(role)
        .role_name(role)
        .send()
        .await
        .map_err(|e| AwsError::call(&ops::ADD_ROLE_TO_INSTANCE_PROFILE, e));
    already(added, &["LimitExceeded", "EntityAlreadyExists"])?;
    Ok(())
}

/// Generates a key pair and writes it: the public half first, created without overwriting
/// (with its description), then the private half, then the public half again, overwriting.
/// A public half that exists already does not stop this run: another run, or a crash that left
/// the public half without the private one, put it there, and the plan asked for a key, so this
/// run's pair replaces it as a whole. Returns this run's public half.
///
/// Two applies never run this at once: apply takes the blueprint's run lock (`crate::lock`)
/// before planning, so the pair written is the one DNS publishes.
async fn create_key(
    aws: &Aws,
    private: &str,
    public: &str,
    kms_alias: &str,
    description: &str,
) -> Result<String, AwsError> {
    use aws_sdk_ssm::types::ParameterType;
    let (key, public_b64) = dkim::generate_key().map_err(AwsError::Other)?;
    let description = if description.is_empty() {
        super::rotation::DESCRIPTION.to_owned()
    } else {
        super::rotation::stamp(description, crate::kinds::rotation::unix_now())
    };
    let put_public = aws
        .ssm
        .put_parameter()
        .name(public)
        .value(&public_b64)
        .r#type(ParameterType::String)
        .description(&description)
        .overwrite(false)
        .send()
        .await
        .map_err(|e| AwsError::call(&ops::PUT_PARAMETER, e));
    already(put_public, &["ParameterAlreadyExists"])?;
    put_private_key(aws, private, &key.expose_pem(), kms_alias).await?;
    aws.ssm
        .put_parameter()
        .name(public)
        .value(&public_b64)
        .r#type(ParameterType::String)
        .description(&description)
        .overwrite(true)
        .send()
        .await
        .map_err(|e| AwsError::call(&ops::PUT_PARAMETER, e))?;
    Ok(public_b64)
}

/// Rewrites the description of a key's public half (its stage and dates,
/// `rotation::KeyMeta`), keeping its value: read, then written back with the new description.
async fn mark_key(aws: &Aws, public: &str, description: &str) -> Result<(), AwsError> {
    use aws_sdk_ssm::types::ParameterType;
    let value = aws
        .ssm
        .get_parameter()
        .name(public)
        .send()
        .await
        .map_err(|e| AwsError::call(&ops::GET_PARAMETER, e))?
        .parameter()
        .and_then(|p| p.value())
        .map(str::to_owned)
        .ok_or_else(|| AwsError::Other(format!("SSM returned no value for {public}")))?;
    aws.ssm
        .put_parameter()
        .name(public)
        .value(value)
        .r#type(ParameterType::String)
        .description(super::rotation::stamp(
            description,
            crate::kinds::rotation::unix_now(),
        ))
        .overwrite(true)
        .send()
        .await
        .map_err(|e| AwsError::call(&ops::PUT_PARAMETER, e))?;
    Ok(())
}

const PRIVATE_KEY_DESCRIPTION: &str =
    "mailinfra gateway DKIM private key (PKCS#8 PEM); decrypted by the gateway's role only";

/// Creates the blueprint's KMS key with its policy and tags, then its alias. A run killed
/// between the two leaves a key without the alias, which the next run does not find: it
/// creates another (the first stays, tagged with the blueprint, at the cost of a key; KMS has
/// no way to look a key up by tag in one request).
async fn create_kms_key(
    aws: &Aws,
    blueprint: &str,
    alias: &str,
    description: &str,
    policy: &str,
) -> Result<(), AwsError> {
    use aws_sdk_kms::error::ProvideErrorMetadata as _;
    use aws_sdk_kms::types::Tag;
    let tag = |k: &str, v: &str| {
        Tag::builder()
            .tag_key(k)
            .tag_value(v)
            .build()
            .map_err(|e| AwsError::Other(format!("building a KMS tag: {e}")))
    };
    let created = aws
        .kms
        .create_key()
        .description(description)
        .policy(policy)
        .tags(tag(OWNER_TAG, blueprint)?)
        .tags(tag(ADDRESS_TAG, "gateway.kms_key")?)
        .send()
        .await
        .map_err(|e| AwsError::call(&ops::CREATE_KEY, e))?;
    let id = created
        .key_metadata()
        .map(|m| m.key_id().to_owned())
        .ok_or_else(|| AwsError::Other("CreateKey answered without the key's id".into()))?;
    match aws
        .kms
        .create_alias()
        .alias_name(alias)
        .target_key_id(&id)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        // The SDK retried a CreateAlias whose answer was lost: the alias is this key's.
        Err(e) if e.code() == Some("AlreadyExistsException") => Ok(()),
        Err(e) => Err(AwsError::call(&ops::CREATE_ALIAS, e)),
    }
}

/// Encrypts the existing private key with the blueprint's KMS key: read (decrypted with the
/// key it has now) and written again, unchanged. Only the bootstrap role may read it
/// (docs/ci.md); the value is never printed and dropped at once.
async fn move_key(aws: &Aws, private: &str, kms_alias: &str) -> Result<(), AwsError> {
    let out = aws
        .ssm
        .get_parameter()
        .name(private)
        .with_decryption(true)
        .send()
        .await
        .map_err(|e| AwsError::call(&ops::GET_PRIVATE_KEY, e))?;
    let value = out
        .parameter()
        .and_then(|p| p.value())
        .ok_or_else(|| AwsError::Other(format!("SSM answered {private} without its value")))?;
    put_private_key(aws, private, value, kms_alias).await
}

/// Writes the private key as a SecureString encrypted with the blueprint's KMS key.
async fn put_private_key(
    aws: &Aws,
    private: &str,
    pem: &str,
    kms_alias: &str,
) -> Result<(), AwsError> {
    aws.ssm
        .put_parameter()
        .name(private)
        .value(pem)
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .key_id(kms_alias)
        .description(PRIVATE_KEY_DESCRIPTION)
        .overwrite(true)
        .send()
        .await
        .map_err(|e| AwsError::call(&ops::PUT_PARAMETER, e))?;
    Ok(())
}

/// Creates the bounce log group where it is missing ("already exists" is success: a run cut
/// short), then sets its retention.
async fn ensure_bounce_log(aws: &Aws, name: &str, days: i32) -> Result<(), AwsError> {
    use aws_sdk_cloudwatchlogs::error::ProvideErrorMetadata as _;
    match aws
        .logs
        .create_log_group()
        .log_group_name(name)
        .send()
        .await
    {
        Ok(_) => {}
        Err(e) if e.code() == Some("ResourceAlreadyExistsException") => {}
        Err(e) => return Err(AwsError::call(&ops::CREATE_LOG_GROUP, e)),
    }
    aws.logs
        .put_retention_policy()
        .log_group_name(name)
        .retention_in_days(days)
        .send()
        .await
        .map_err(|e| AwsError::call(&ops::PUT_RETENTION_POLICY, e))?;
    Ok(())
}

async fn delete_key(aws: &Aws, names: &[String]) -> Result<(), AwsError> {
    aws.ssm
        .delete_parameters()
        .set_names(Some(names.to_vec()))
        .send()
        .await
        .map_err(|e| AwsError::call(&ops::DELETE_PARAMETERS, e))?;
    Ok(())
}

/// The SES SMTP user: created with the blueprint's tags and the gateway's permissions
/// boundary (one that exists already, a run cut short, counts), the boundary set again where
/// it differs, and its one policy written.
async fn ensure_smtp_user(
    aws: &Aws,
    blueprint: &str,
    user: &str,
    boundary: &str,
    policy: &str,
) -> Result<(), AwsError> {
    let tag = |k: &str, v: &str| aws_sdk_iam::types::Tag::builder().key(k).value(v).build();
    let tags: Vec<_> = [
        tag(OWNER_TAG, blueprint),
        tag(ADDRESS_TAG, "gateway.smtp_user"),
    ]
    .into_iter()
    .collect::<Result<_, _>>()
    .map_err(|e| AwsError::Other(format!("building the user's tags: {e}")))?;
    let created = aws
        .iam
        .create_user()
        .user_name(user)
        .permissions_boundary(boundary)
        .set_tags(Some(tags))
        .send()
        .await
        .map_err(|e| AwsError::call(&ops::CREATE_USER, e));
    if already(created, &["EntityAlreadyExists"])?.is_none() {
        // It was there (a run cut short, or its boundary changed): the boundary again.
        aws.iam
            .put_user_permissions_boundary()
            .user_name(user)
            .permissions_boundary(boundary)
            .send()
            .await
            .map_err(|e| AwsError::call(&ops::PUT_USER_PERMISSIONS_BOUNDARY, e))?;
    }
    aws.iam
        .put_user_policy()
        .user_name(user)
        .policy_name(super::SMTP_USER_POLICY)
        .policy_document(policy)
        .send()
        .await
        .map_err(|e| AwsError::call(&ops::PUT_USER_POLICY, e))?;
    Ok(())
}

/// Deletes access keys of the SMTP user; one gone already counts as deleted.
async fn delete_access_keys(aws: &Aws, user: &str, ids: &[String]) -> Result<(), AwsError> {
    for id in ids {
        let r = aws
            .iam
            .delete_access_key()
            .user_name(user)
            .access_key_id(id)
            .send()
            .await
            .map_err(|e| AwsError::call(&ops::DELETE_ACCESS_KEY, e));
        already(r, &["NoSuchEntity"])?;
    }
    Ok(())
}

/// A new access key of the SMTP user, its SES SMTP password (`mail::ses_smtp::password`), and
/// `user:password` stored as a SecureString under the blueprint's KMS key; the description
/// names the access key. The secret access key lives only in this function's memory. A run
/// killed after the key is made leaves a key no stored password belongs to: the next plan
/// deletes it and makes another.
async fn create_smtp_credentials(
    aws: &Aws,
    user: &str,
    parameter: &str,
    kms_alias: &str,
    region: &str,
) -> Result<(), AwsError> {
    let out = aws
        .iam
        .create_access_key()
        .user_name(user)
        .send()
        .await
        .map_err(|e| AwsError::call(&ops::CREATE_ACCESS_KEY, e))?;
    let key = out
        .access_key()
        .ok_or_else(|| AwsError::Other("CreateAccessKey answered without a key".into()))?;
    let id = key.access_key_id();
    let password = crate::mail::ses_smtp::password(key.secret_access_key(), region);
    aws.ssm
        .put_parameter()
        .name(parameter)
        .value(format!("{id}:{password}"))
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .key_id(kms_alias)
        .description(super::smtp_credentials_description(id))
        .overwrite(true)
        .send()
        .await
        .map_err(|e| AwsError::call(&ops::PUT_PARAMETER, e))?;
    Ok(())
}

/// Deletes the SMTP user: its access keys and policy first (IAM refuses to delete a user that
/// has them); parts gone already count as deleted.
async fn delete_smtp_user(
    aws: &Aws,
    user: &str,
    access_keys: &[String],
    policy: bool,
    exists: bool,
) -> Result<(), AwsError> {
    delete_access_keys(aws, user, access_keys).await?;
    if policy {
        let r = aws
            .iam
            .delete_user_policy()
            .user_name(user)
            .policy_name(super::SMTP_USER_POLICY)
            .send()
            .await
            .map_err(|e| AwsError::call(&ops::DELETE_USER_POLICY, e));
        already(r, &["NoSuchEntity"])?;
    }
    if exists {
        let r = aws
            .iam
            .delete_user()
            .user_name(user)
            .send()
            .await
            .map_err(|e| AwsError::call(&ops::DELETE_USER, e));
        already(r, &["NoSuchEntity"])?;
    }
    Ok(())
}

/// Deletes the health report parameter; one gone already counts as deleted.
async fn delete_health(aws: &Aws, name: &str) -> Result<(), AwsError> {
    let r = aws
        .ssm
        .delete_parameter()
        .name(name)
        .send()
        .await
        .map_err(|e| AwsError::call(&ops::DELETE_HEALTH_PARAMETER, e));
    already(r, &["ParameterNotFound"]).map(drop)
}

/// Creates the group; one that exists already (a run killed after creating it) is looked up.
async fn create_security_group(
    aws: &Aws,
    blueprint: &str,
    name: &str,
    vpc_id: &str,
) -> Result<String, AwsError> {
    let created = aws
        .ec2
        .create_security_group()
        .group_name(name)
        .description(format!("mailinfra relay gateway of blueprint {blueprint}"))
        .vpc_id(vpc_id)
        .tag_specifications(spec(
            ResourceType::SecurityGroup,
            tags(blueprint, "gateway.security_group", &[]),
        ))
        .send()
        .await
        .map_err(|e| AwsError::call(&ops::CREATE_SECURITY_GROUP, e));
    match already(created, &["InvalidGroup.Duplicate"])? {
        Some(out) => Ok(out.group_id().unwrap_or_default().to_owned()),
        None => security_group_id(aws, blueprint, name, vpc_id).await,
    }
}

/// The blueprint's security group in `vpc_id`, read as the observer reads it.
async fn security_group_id(
    aws: &Aws,
    blueprint: &str,
    name: &str,
    vpc_id: &str,
) -> Result<String, AwsError> {
    observe::security_groups(aws, blueprint, name)
        .await?
        .into_iter()
        .find(|g| g.vpc_id == vpc_id)
        .map(|g| g.id)
        .ok_or_else(|| {
            AwsError::Other("the gateway's security group disappeared; run apply again".into())
        })
}

async fn authorize(aws: &Aws, group: &str, rules: &[Ingress]) -> Result<(), AwsError> {
    let r = aws
        .ec2
        .authorize_security_group_ingress()
        .group_id(group)
        .set_ip_permissions(Some(permissions(rules)))
        .send()
        .await
        .map_err(|e| AwsError::call(&ops::AUTHORIZE_SECURITY_GROUP_INGRESS, e));
    already(r, &["InvalidPermission.Duplicate"]).map(drop)
}

async fn revoke(aws: &Aws, group: &str, rules: &[Ingress]) -> Result<(), AwsError> {
    let r = aws
        .ec2
        .revoke_security_group_ingress()
        .group_id(group)
        .set_ip_permissions(Some(permissions(rules)))
        .send()
        .await
        .map_err(|e| AwsError::call(&ops::REVOKE_SECURITY_GROUP_INGRESS, e));
    already(r, &["InvalidPermission.NotFound"]).map(drop)
}

/// How many client tokens one launch steps through before giving up.
const MAX_LAUNCH_GENERATIONS: u32 = 16;
/// How long a new instance profile (or security group) may take to reach EC2, from the first
/// launch request.
const PROFILE_PROPAGATION: Duration = VISIBILITY;

/// The client token of a launch: the same for every retry of one configuration and image, so
/// an interrupted apply finds the instance it launched instead of making a second.
/// `generation` moves past tokens EC2 still remembers for instances since terminated (EC2 keeps
/// a token for at least 24 hours after termination and refuses it with
/// `IdempotentInstanceTerminated`).
fn launch_token(blueprint: &str, config: &str, image_id: &str, generation: u32) -> String {
    let launch: String = Sha256::digest(format!("{config}\0{image_id}"))
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect();
    let base = format!("mailinfra-{blueprint}-{launch}");
    let suffix = if generation > 1 {
        format!("-{generation}")
    } else {
        String::new()
    };
    let keep = 64 - suffix.len();
    base.chars().take(keep).chain(suffix.chars()).collect()
}

/// One launch: everything `RunInstances` is given but the client token.
struct Launch<'a> {
    g: &'a DesiredGateway,
    /// The configuration fingerprint, tagged on the instance and the client token's base.
    config: &'a str,
    image_id: &'a str,
    /// The image's root device (`RootDeviceName`), mapped so its volume is encrypted.
    root_device: &'a str,
    /// The instance this launch replaces, if any: never the answer to it.
    replaces: Option<&'a str>,
    /// The gateway's network interface, the instance's primary one.
    network_interface: &'a str,
}

/// The root device name of `image_id`, which the launch maps to ask for an encrypted volume.
async fn root_device(aws: &Aws, image_id: &str) -> Result<String, AwsError> {
    let out = aws
        .ec2
        .describe_images()
        .image_ids(image_id)
        .send()
        .await
        .map_err(|e| AwsError::call(&ops::DESCRIBE_IMAGES, e))?;
    out.images()
        .first()
        .and_then(|i| i.root_device_name())
        .map(str::to_owned)
        .ok_or_else(|| {
            AwsError::Other(format!(
                "EC2 names no root device for image {image_id}; run `mailinfra plan` again"
            ))
        })
}

/// How the launch with one client token ended.
enum Generation {
    Running(String),
    /// This token cannot launch anew; the next generation's can.
    Spent,
}

/// How a wait for an instance state ended.
enum Waited {
    Reached,
    /// Waiting for `running`, an instance is terminated or shutting down: it never will be.
    /// With EC2's reason for it (`StateReason`: code, message), read in the same request.
    Gone(Option<(String, String)>),
}

impl Steps<'_> {
    /// Launches the instance and waits until it runs, stepping through client-token
    /// generations while a token cannot launch anew.
    async fn run_instance(&self, launch: &Launch<'_>) -> Result<String, AwsError> {
        let started = Instant::now();
        for generation in 1..=MAX_LAUNCH_GENERATIONS {
            let last = generation == MAX_LAUNCH_GENERATIONS;
            if let Generation::Running(id) = self.launch(launch, generation, last, started).await? {
                return Ok(id);
            }
        }
        // The last generation ends running or failed; this is not reached.
        Err(AwsError::Other(format!(
            "no launch ran in {MAX_LAUNCH_GENERATIONS} attempts\n  = hint: run `mailinfra apply` again"
        )))
    }

    /// The launch with one generation's token; the `last` one fails where the others pass the
    /// launch on to the next generation.
    async fn launch(
        &self,
        launch: &Launch<'_>,
        generation: u32,
        last: bool,
        started: Instant,
    ) -> Result<Generation, AwsError> {
        let token = launch_token(self.blueprint, launch.config, launch.image_id, generation);
        let answer = match self.send_launch(launch, &token, started).await {
            // EC2 remembers the token and will not launch with it again: its instance has
            // since been terminated (`IdempotentInstanceTerminated`: destroy, a replacement
            // rolled back, a launch that failed; EC2 keeps tokens at least 24 hours), or it
            // was used with other parameters (`IdempotentParameterMismatch`: a security group
            // made anew). The next generation launches anew.
            Err(e) if !last && spent_token(&e) => return Ok(Generation::Spent),
            answer => answer?,
        };
        // An answer carrying an instance already on its way out (terminated by an earlier
        // run) cannot run either; nor can the instance this launch replaces (launched with
        // this token, its user data since changed outside mailinfra).
        let replaced =
            |i: &Instance| launch.replaces.is_some() && i.instance_id() == launch.replaces;
        if last && answer.instances().iter().any(replaced) {
            return Err(AwsError::Other(format!(
                "every launch token returned the instance being replaced\n  = hint: terminate {} by hand, then run `mailinfra apply` again",
                launch.replaces.unwrap_or_default()
            )));
        }
        if !last
            && answer
                .instances()
                .iter()
                .any(|i| state(i).is_gone() || replaced(i))
        {
            return Ok(Generation::Spent);
        }
        let id = answer
            .instances()
            .first()
            .and_then(|i| i.instance_id())
            .ok_or_else(|| AwsError::Other("RunInstances answered without an instance".into()))?
            .to_owned();
        self.out.progress(&format!(
            "gateway: launched {id}; waiting until it runs (usually 30-60 s, at most {} s)",
            self.timeout.as_secs()
        ));
        match self
            .wait_state(std::slice::from_ref(&id), InstanceState::Running)
            .await?
        {
            Waited::Reached => Ok(Generation::Running(id)),
            // Terminated while starting: EC2 says why (an EBS key the caller may not use,
            // volume limits, capacity), and the next token would only fail the same way.
            Waited::Gone(reason) => Err(AwsError::Other(launch_failed(&id, reason.as_ref()))),
        }
    }

    /// `RunInstances` with `token`. A new instance profile takes a few seconds to reach EC2
    /// (IAM is eventually consistent): until it has, EC2 refuses the profile, and the request
    /// goes again every 5 s, up to `PROFILE_PROPAGATION` after the first launch request. A
    /// security group created just before may be unknown to EC2 for a while too.
    async fn send_launch(
        &self,
        launch: &Launch<'_>,
        token: &str,
        started: Instant,
    ) -> Result<RunInstancesOutput, AwsError> {
        let wait = Wait {
            what: "the gateway's new instance profile and security group to reach EC2",
            every: Duration::from_secs(5),
            limit: PROFILE_PROPAGATION
                .min(self.timeout)
                .saturating_sub(started.elapsed()),
            out: Some(self.out),
        };
        // An interface still attached to the instance it is taken from (shutting down after
        // a run cut short) is free once that one is terminated.
        let unknown_profile = |e: &AwsError| {
            not_yet_visible(e)
                || code(e) == Some("InvalidNetworkInterface.InUse")
                || code(e) == Some("InvalidParameterValue")
                    && e.to_string().to_ascii_lowercase().contains("profile")
        };
        again_while(wait, unknown_profile, || {
            run_instances(self.aws, self.blueprint, launch, token)
        })
        .await
    }

    /// Waits until every one of `ids` is in state `want`, at most `--timeout`.
    async fn wait_state(&self, ids: &[String], want: InstanceState) -> Result<Waited, AwsError> {
        let what = format!("{} to be {want}", ids.join(", "));
        let wait = Wait {
            what: &what,
            every: Duration::from_secs(3),
            limit: self.timeout,
            // The step announced the wait, with how long it usually takes.
            out: None,
        };
        let waited = poll::until(wait, || async {
            let states = match instance_states(self.aws, ids).await {
                // Just launched, EC2 may not know the id yet (eventual consistency).
                Err(e) if not_yet_visible(&e) => return Ok(Look::NotYet("not visible yet".into())),
                states => states?,
            };
            let gone = states.iter().find(|(s, _)| s.is_gone());
            Ok(if states.iter().all(|(s, _)| *s == want) {
                Look::Done(Waited::Reached)
            } else if let (InstanceState::Running, Some((_, reason))) = (want, gone) {
                Look::Done(Waited::Gone(reason.clone()))
            } else {
                Look::NotYet(
                    states
                        .iter()
                        .map(|(s, _)| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                )
            })
        })
        .await;
        match waited {
            Ok(w) => Ok(w),
            Err(Stopped::Failed(e)) => Err(e),
            Err(Stopped::TimedOut { .. }) => Err(AwsError::Other(format!(
                "instances {} did not reach `{want}` within {} s\n  = hint: run `mailinfra apply` again; it continues where this run stopped",
                ids.join(", "),
                self.timeout.as_secs()
            ))),
        }
    }

    async fn terminate(&self, ids: &[String]) -> Result<(), AwsError> {
        self.aws
            .ec2
            .terminate_instances()
            .set_instance_ids(Some(ids.to_vec()))
            .send()
            .await
            .map_err(|e| AwsError::call(&ops::TERMINATE_INSTANCES, e))?;
        self.out.progress(&format!(
            "gateway: terminating {}; waiting until it is gone",
            ids.join(", ")
        ));
        self.wait_state(ids, InstanceState::Terminated)
            .await
            .map(drop)
    }

    /// Deletes a network interface; while an instance that is shutting down still holds it,
    /// EC2 refuses (`InvalidNetworkInterface.InUse`) and the delete goes again every 5 s, at
    /// most `--timeout`. One gone already counts as deleted.
    async fn delete_interface(&self, id: &str) -> Result<(), AwsError> {
        let what = format!("network interface {id} to be free to delete");
        let aws = self.aws;
        let in_use = |e: &AwsError| code(e) == Some("InvalidNetworkInterface.InUse");
        again_while(self.every_5s(&what), in_use, || async move {
            let r = aws
                .ec2
                .delete_network_interface()
                .network_interface_id(id)
                .send()
                .await
                .map_err(|e| AwsError::call(&ops::DELETE_NETWORK_INTERFACE, e));
            already(r, &["InvalidNetworkInterfaceID.NotFound"]).map(drop)
        })
        .await?;
        self.out
            .progress(&format!("gateway: deleted network interface {id}"));
        Ok(())
    }

    /// Deletes the group; while an instance that is shutting down still holds it, EC2 refuses
    /// (`DependencyViolation`) and the delete goes again every 5 s, at most `--timeout`.
    async fn delete_security_group(&self, id: &str) -> Result<(), AwsError> {
        let what = format!("security group {id} to be free to delete");
        let aws = self.aws;
        let in_use = |e: &AwsError| code(e) == Some("DependencyViolation");
        again_while(self.every_5s(&what), in_use, || async move {
            let r = aws
                .ec2
                .delete_security_group()
                .group_id(id)
                .send()
                .await
                .map_err(|e| AwsError::call(&ops::DELETE_SECURITY_GROUP, e));
            already(r, &["InvalidGroup.NotFound"]).map(drop)
        })
        .await
    }
}

async fn run_instances(
    aws: &Aws,
    blueprint: &str,
    launch: &Launch<'_>,
    token: &str,
) -> Result<RunInstancesOutput, AwsError> {
    let g = launch.g;
    aws.ec2
        .run_instances()
        .image_id(launch.image_id)
        .instance_type(InstanceType::from(g.instance_type.as_str()))
        .min_count(1)
        .max_count(1)
        // The gateway's own interface as the primary one: its subnet and security group are
        // the instance's, and it outlives the instance (not deleted on termination), keeping
        // its private IP and Elastic IP for the next one.
        .network_interfaces(
            InstanceNetworkInterfaceSpecification::builder()
                .device_index(0)
                .network_interface_id(launch.network_interface)
                .build(),
        )
        .iam_instance_profile(
            IamInstanceProfileSpecification::builder()
                .name(&g.names.role)
                .build(),
        )
        .user_data(STANDARD.encode(super::user_data(&g.render.boot_script())))
        // The root volume holds the DKIM key: encrypted whatever the account's default.
        .block_device_mappings(
            BlockDeviceMapping::builder()
                .device_name(launch.root_device)
                .ebs(
                    EbsBlockDevice::builder()
                        .encrypted(true)
                        .delete_on_termination(true)
                        .build(),
                )
                .build(),
        )
        // IMDSv2 only, one hop: a container on the gateway cannot reach the role's
        // credentials (the default is 2 for an image that declares `ImdsSupport: v2.0`).
        .metadata_options(
            InstanceMetadataOptionsRequest::builder()
                .http_endpoint(InstanceMetadataEndpointState::Enabled)
                .http_tokens(HttpTokensState::Required)
                .http_put_response_hop_limit(1)
                .build(),
        )
        .tag_specifications(spec(
            ResourceType::Instance,
            tags(
                blueprint,
                "gateway.instance",
                &[(CONFIG_TAG, launch.config), ("Name", &g.hostname)],
            ),
        ))
        .tag_specifications(spec(
            ResourceType::Volume,
            tags(blueprint, "gateway.instance", &[]),
        ))
        .client_token(token)
        .send()
        .await
        .map_err(|e| AwsError::call(&ops::RUN_INSTANCES, e))
}

/// Whether EC2 refused a launch's client token because it remembers it (`Idempotent…`: its
/// instance was terminated, or it came with other parameters): the next token launches.
fn spent_token(e: &AwsError) -> bool {
    code(e).is_some_and(|c| c.starts_with("Idempotent"))
}

/// The error of a launch whose instance terminated while starting, with EC2's reason.
fn launch_failed(id: &str, reason: Option<&(String, String)>) -> String {
    let (code, message) = reason.map_or(("", ""), |(c, m)| (c.as_str(), m.as_str()));
    let why = match (code, message) {
        ("", "") => "EC2 gave no reason".to_owned(),
        (c, "") => c.to_owned(),
        (c, m) if c.is_empty() || m.starts_with(c) => m.to_owned(),
        (c, m) => format!("{c}: {m}"),
    };
    let hint = if code.starts_with("Server.") {
        "AWS's side (capacity, an internal error): run `mailinfra apply` again later, or choose another `instance_type` or `subnet`"
    } else {
        "common causes: the account's default EBS encryption uses a KMS key this role may not use, or the EBS volume limit is reached; fix the cause, then run `mailinfra apply` again (it launches anew)"
    };
    format!("instance {id} was terminated while launching: {why}\n  = hint: {hint}")
}

/// Each instance's state, and why it is in it as EC2 says (`StateReason`: code, message).
async fn instance_states(
    aws: &Aws,
    ids: &[String],
) -> Result<Vec<(InstanceState, Option<(String, String)>)>, AwsError> {
    let out = aws
        .ec2
        .describe_instances()
        .set_instance_ids(Some(ids.to_vec()))
        .send()
        .await
        .map_err(|e| AwsError::call(&ops::DESCRIBE_INSTANCES, e))?;
    Ok(out
        .reservations()
        .iter()
        .flat_map(|r| r.instances())
        .map(|i| {
            let reason = i.state_reason().map(|r| {
                (
                    r.code().unwrap_or_default().to_owned(),
                    r.message().unwrap_or_default().to_owned(),
                )
            });
            (state(i), reason)
        })
        .collect())
}

/// Allocates the Elastic IP, then settles a race: with several tagged addresses, the one in
/// use stays (else the lowest allocation id), and this run releases the other unassociated
/// ones; the observer applies the same rule.
async fn allocate(aws: &Aws, blueprint: &str, names: &Names) -> Result<Allocated, AwsError> {
    let out = aws
        .ec2
        .allocate_address()
        .domain(DomainType::Vpc)
        .tag_specifications(spec(
            ResourceType::ElasticIp,
            tags(blueprint, "gateway.eip", &[]),
        ))
        .send()
        .await
        .map_err(|e| AwsError::call(&ops::ALLOCATE_ADDRESS, e))?;
    let ours = match (out.allocation_id(), out.public_ip()) {
        (Some(id), Some(ip)) => ObservedEip {
            allocation_id: id.to_owned(),
            public_ip: ip.to_owned(),
            instance_id: None,
            association_id: None,
            ptr: None,
            ptr_update: None,
            network_interface_id: None,
        },
        _ => {
            return Err(AwsError::Other(
                "AllocateAddress answered without an allocation id".into(),
            ));
        }
    };
    // The listing may not show the new address yet (eventual consistency): it is counted in.
    let mut addresses = observe::addresses(aws, blueprint).await?;
    let instances = observe::instances(aws, blueprint, names).await?;
    ObservedGateway::own_addresses(&mut addresses, &instances);
    if !addresses
        .iter()
        .any(|a| a.allocation_id == ours.allocation_id)
    {
        addresses.push(ours);
    }
    addresses.sort_by(|a, b| {
        (a.instance_id.is_none(), &a.allocation_id)
            .cmp(&(b.instance_id.is_none(), &b.allocation_id))
    });
    let mut addresses = addresses.into_iter();
    let keep = addresses
        .next()
        .ok_or_else(|| AwsError::Other("the allocated Elastic IP is not listed".into()))?;
    for extra in addresses.filter(|a| a.instance_id.is_none()) {
        release(aws, &extra.allocation_id).await?;
    }
    Ok(Allocated {
        allocation_id: keep.allocation_id,
        public_ip: keep.public_ip,
    })
}

/// Releases an Elastic IP; `false` when it was gone already (the other run of a race
/// released it).
async fn release(aws: &Aws, allocation_id: &str) -> Result<bool, AwsError> {
    let r = aws
        .ec2
        .release_address()
        .allocation_id(allocation_id)
        .send()
        .await
        .map_err(|e| AwsError::call(&ops::RELEASE_ADDRESS, e));
    Ok(already(r, &["InvalidAllocationID.NotFound"])?.is_some())
}

/// Creates the gateway's network interface, tagged at creation; returns its id and private IP.
async fn create_interface(
    aws: &Aws,
    blueprint: &str,
    subnet_id: &str,
    group: &str,
) -> Result<(String, String), AwsError> {
    let out = aws
        .ec2
        .create_network_interface()
        .subnet_id(subnet_id)
        .groups(group)
        .description(format!(
            "mailinfra relay gateway of blueprint {blueprint}: the address senders relay to"
        ))
        .tag_specifications(spec(
            ResourceType::NetworkInterface,
            tags(blueprint, "gateway.network_interface", &[]),
        ))
        .send()
        .await
        .map_err(|e| AwsError::call(&ops::CREATE_NETWORK_INTERFACE, e))?;
    let n = out.network_interface();
    match (
        n.and_then(|n| n.network_interface_id()),
        n.and_then(|n| n.private_ip_address()),
    ) {
        (Some(id), Some(ip)) => Ok((id.to_owned(), ip.to_owned())),
        _ => Err(AwsError::Other(
            "CreateNetworkInterface answered without an interface".into(),
        )),
    }
}

async fn associate_interface(aws: &Aws, allocation: &str, interface: &str) -> Result<(), AwsError> {
    aws.ec2
        .associate_address()
        .allocation_id(allocation)
        .network_interface_id(interface)
        .allow_reassociation(true)
        .send()
        .await
        .map_err(|e| AwsError::call(&ops::ASSOCIATE_ADDRESS, e))?;
    Ok(())
}

async fn associate(aws: &Aws, allocation: &str, instance: &str) -> Result<(), AwsError> {
    aws.ec2
        .associate_address()
        .allocation_id(allocation)
        .instance_id(instance)
        .allow_reassociation(true)
        .send()
        .await
        .map_err(|e| AwsError::call(&ops::ASSOCIATE_ADDRESS, e))?;
    Ok(())
}

async fn set_reverse_dns(
    aws: &Aws,
    allocation: &str,
    hostname: &str,
    out: &Output,
) -> Result<(), AwsError> {
    let done = aws
        .ec2
        .modify_address_attribute()
        .allocation_id(allocation)
        .domain_name(hostname)
        .send()
        .await
        .map_err(|e| AwsError::call(&ops::MODIFY_ADDRESS_ATTRIBUTE, e))?;
    let status = done
        .address()
        .and_then(|a| a.ptr_record_update())
        .and_then(|u| u.status())
        .map_or("done".to_owned(), str::to_owned);
    out.progress(&format!(
        "gateway: reverse DNS -> {hostname}: {status}{}",
        if status == "PENDING" {
            " (AWS completes it on its own; `mailinfra status` shows it)"
        } else {
            ""
        }
    ));
    Ok(())
}

/// Removes the parts of the role that were observed, in order: its membership in the profile,
/// the profile, the policy, the role. A part already gone (`NoSuchEntity`) counts as done, so a
/// destroy cut short between any two of them is finished by the next.
async fn delete_role(aws: &Aws, role: &str, parts: &[RolePart]) -> Result<(), AwsError> {
    for part in parts {
        let done = match part {
            RolePart::Membership => aws
                .iam
                .remove_role_from_instance_profile()
                .instance_profile_name(role)
                .role_name(role)
                .send()
                .await
                .map(drop)
                .map_err(|e| AwsError::call(&ops::REMOVE_ROLE_FROM_INSTANCE_PROFILE, e)),
            RolePart::Profile => aws
                .iam
                .delete_instance_profile()
                .instance_profile_name(role)
                .send()
                .await
                .map(drop)
                .map_err(|e| AwsError::call(&ops::DELETE_INSTANCE_PROFILE, e)),
            RolePart::Policy => aws
                .iam
                .delete_role_policy()
                .role_name(role)
                .policy_name(ROLE_POLICY)
                .send()
                .await
                .map(drop)
                .map_err(|e| AwsError::call(&ops::DELETE_ROLE_POLICY, e)),
            RolePart::Role => aws
                .iam
                .delete_role()
                .role_name(role)
                .send()
                .await
                .map(drop)
                .map_err(|e| AwsError::call(&ops::DELETE_ROLE, e)),
        };
        already(done, &["NoSuchEntity"])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn launch_tokens_are_stable_distinct_per_launch_and_generation_and_fit_ec2() {
        let (config, ami) = ("0123456789abcdef0123456789abcdef", "ami-0aaaaaaaaaaaaaaa1");
        let token =
            |blueprint, image, generation| launch_token(blueprint, config, image, generation);
        assert_eq!(token("relay", ami, 1), token("relay", ami, 1));
        assert!(token("relay", ami, 1).starts_with("mailinfra-relay-"));
        assert_ne!(token("relay", ami, 1), token("relay", ami, 2));
        assert_ne!(
            token("relay", ami, 1),
            token("relay", "ami-0bbbbbbbbbbbbbbb2", 1)
        );
        assert_ne!(token("relay", ami, 1), launch_token("relay", "f", ami, 1));
        let long = "a-blueprint-name-long-enough-to-need-cutting";
        for generation in [1, 2, 16] {
            assert_eq!(token(long, ami, generation).len(), 64);
        }
        assert!(token(long, ami, 16).ends_with("-16"));
    }

    fn refused(code: &str) -> AwsError {
        AwsError::Call {
            operation: "DeleteSecurityGroup",
            code: Some(code.into()),
            message: format!("{code}: refused"),
            hint: None,
        }
    }

    #[test]
    fn every_idempotency_refusal_spends_the_token_and_nothing_else_does() {
        assert!(spent_token(&refused("IdempotentInstanceTerminated")));
        assert!(spent_token(&refused("IdempotentParameterMismatch")));
        assert!(!spent_token(&refused("InvalidParameterValue")));
        assert!(!spent_token(&AwsError::Other("Idempotent".into())));
    }

    #[test]
    fn a_launch_that_terminated_names_ec2s_reason_and_whose_side_it_is() {
        let reason = |c: &str, m: &str| Some((c.to_owned(), m.to_owned()));
        let e = launch_failed(
            "i-1",
            reason(
                "Client.InternalError",
                "Client.InternalError: Client error on launch",
            )
            .as_ref(),
        );
        assert!(
            e.starts_with(
                "instance i-1 was terminated while launching: Client.InternalError: Client error on launch\n"
            ),
            "{e}"
        );
        assert!(e.contains("KMS key"), "{e}");
        let e = launch_failed(
            "i-1",
            reason(
                "Server.InsufficientInstanceCapacity",
                "Insufficient capacity.",
            )
            .as_ref(),
        );
        assert!(
            e.contains("Server.InsufficientInstanceCapacity: Insufficient capacity."),
            "{e}"
        );
        assert!(e.contains("another `instance_type`"), "{e}");
        assert!(launch_failed("i-1", None).contains("EC2 gave no reason"));
    }

    #[test]
    fn only_the_named_refusals_count_as_already_so() {
        assert!(matches!(already(Ok(1), &["A"]), Ok(Some(1))));
        assert!(matches!(
            already::<()>(Err(refused("A")), &["B", "A"]),
            Ok(None)
        ));
        assert!(already::<()>(Err(refused("C")), &["A"]).is_err());
        assert!(already::<()>(Err(AwsError::Other("A".into())), &["A"]).is_err());
    }

    #[test]
    fn a_step_naming_what_this_run_made_gets_it_or_a_clear_error() {
        let mut l = Learned::default();
        assert_eq!(l.instance(&Some("i-1".into())).unwrap(), "i-1");
        let e = l.instance(&None).unwrap_err().to_string();
        assert!(e.contains("no earlier step created one"), "{e}");
        l.instance_id = Some("i-2".into());
        assert_eq!(l.instance(&None).unwrap(), "i-2");
        assert_eq!(l.instance(&Some("i-1".into())).unwrap(), "i-1");
    }

    #[tokio::test(start_paused = true)]
    async fn a_passing_refusal_is_tried_again_and_the_last_one_ends_the_wait() {
        let wait = |secs| Wait {
            what: "a test",
            every: Duration::from_secs(5),
            limit: Duration::from_secs(secs),
            out: None,
        };
        let calls = Mutex::new(0);
        let passing = |e: &AwsError| code(e) == Some("DependencyViolation");
        let got = again_while(wait(60), passing, || {
            let n = {
                let mut n = calls.lock().unwrap();
                *n += 1;
                *n
            };
            async move {
                if n < 3 {
                    Err(refused("DependencyViolation"))
                } else {
                    Ok(n)
                }
            }
        })
        .await;
        assert_eq!(got.unwrap(), 3);
        let got: Result<(), _> = again_while(wait(12), passing, || async {
            Err(refused("DependencyViolation"))
        })
        .await;
        assert_eq!(code(&got.unwrap_err()), Some("DependencyViolation"));
        let got: Result<(), _> =
            again_while(wait(60), passing, || async { Err(refused("Other")) }).await;
        assert_eq!(code(&got.unwrap_err()), Some("Other"));
    }
}
