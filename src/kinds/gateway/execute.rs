//! Carries out the gateway's changes. Before DNS: role, key, security group, instance (waited
//! on until running), Elastic IP, association, termination of replaced or duplicate instances.
//! After DNS: reverse DNS (AWS wants the A record first), releases.
//!
//! Every step tolerates a run killed halfway: names are fixed, `RunInstances` has a client
//! token derived from the blueprint and the configuration, resources are tagged at creation,
//! and "already exists" answers count as success. Two applies at once allocate at most one
//! extra Elastic IP, which the loser releases.

use std::time::Duration;

use aws_sdk_ec2::error::ProvideErrorMetadata as _;
use aws_sdk_ec2::types::{
    AddressAttributeName, DomainType, Filter, HttpTokensState, IamInstanceProfileSpecification,
    InstanceMetadataOptionsRequest, InstanceStateName, InstanceType, IpPermission, IpRange,
    ResourceType, Tag, TagSpecification,
};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest as _, Sha256};
use tokio::time::Instant;

use crate::aws::{Aws, AwsError, ops};
use crate::kinds::gateway::diff::{GatewayChange, GatewayOp};
use crate::kinds::gateway::{CONFIG_TAG, ROLE_POLICY};
use crate::kinds::gateway::{DesiredGateway, Ingress};
use crate::kinds::{ADDRESS_TAG, OWNER_TAG};
use crate::mail::dkim;
use crate::mail::gateway as render;
use crate::output::Output;
use crate::plan::desired::{OutputRef, OutputValue, Outputs};

/// What the gateway's steps learned that DNS and later steps need.
#[derive(Debug, Default, Clone)]
pub struct Learned {
    pub ip: Option<String>,
    pub allocation_id: Option<String>,
    pub public_key: Option<String>,
    pub instance_id: Option<String>,
    pub security_group: Option<String>,
}

impl Learned {
    /// What the gateway's steps produced that DNS records use: the Elastic IP, a newly
    /// generated key's public half.
    pub fn outputs(&self) -> Outputs {
        let mut outputs = Outputs::default();
        if let Some(ip) = &self.ip {
            outputs.set(OutputRef::gateway_ip(), OutputValue::Text(ip.clone()));
        }
        if let Some(key) = &self.public_key {
            outputs.set(OutputRef::gateway_key(), OutputValue::Text(key.clone()));
        }
        outputs
    }

    /// The address a step names: known at plan time, or allocated earlier in this apply.
    fn allocation(&self, planned: &Option<String>) -> String {
        planned
            .clone()
            .or(self.allocation_id.clone())
            .unwrap_or_default()
    }

    /// The instance a step names: known at plan time, or launched earlier in this apply.
    fn instance(&self, planned: &Option<String>) -> String {
        planned
            .clone()
            .or(self.instance_id.clone())
            .unwrap_or_default()
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

fn permissions(rules: &[Ingress]) -> Vec<IpPermission> {
    rules
        .iter()
        .map(|r| {
            IpPermission::builder()
                .ip_protocol(&r.protocol)
                .from_port(r.from_port)
                .to_port(r.to_port)
                .ip_ranges(
                    IpRange::builder()
                        .cidr_ip(&r.cidr)
                        .description("mailinfra relay_from")
                        .build(),
                )
                .build()
        })
        .collect()
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
    let mut l = Learned::default();
    for c in changes.iter().filter(|c| !c.op.after_dns()) {
        match &c.op {
            GatewayOp::EnsureRole { role, policy } => {
                ensure_role(aws, blueprint, role, policy).await?
            }
            GatewayOp::CreateKey { private, public } => {
                l.public_key = Some(create_key(aws, private, public).await?)
            }
            GatewayOp::CreateSecurityGroup { name, vpc_id } => {
                l.security_group = Some(create_security_group(aws, blueprint, name, vpc_id).await?)
            }
            GatewayOp::Authorize { group, rules } => {
                let group = group
                    .clone()
                    .or(l.security_group.clone())
                    .unwrap_or_default();
                let r = aws
                    .ec2
                    .authorize_security_group_ingress()
                    .group_id(&group)
                    .set_ip_permissions(Some(permissions(rules)))
                    .send()
                    .await;
                match r {
                    Ok(_) => {}
                    Err(e) if e.code() == Some("InvalidPermission.Duplicate") => {}
                    Err(e) => {
                        return Err(AwsError::call(&ops::AUTHORIZE_SECURITY_GROUP_INGRESS, e));
                    }
                }
                l.security_group = Some(group);
            }
            GatewayOp::Revoke { group, rules } => {
                let r = aws
                    .ec2
                    .revoke_security_group_ingress()
                    .group_id(group)
                    .set_ip_permissions(Some(permissions(rules)))
                    .send()
                    .await;
                match r {
                    Ok(_) => {}
                    Err(e) if e.code() == Some("InvalidPermission.NotFound") => {}
                    Err(e) => return Err(AwsError::call(&ops::REVOKE_SECURITY_GROUP_INGRESS, e)),
                }
                l.security_group = Some(group.clone());
            }
            GatewayOp::RunInstance {
                config,
                image_id,
                subnet_id,
                ..
            } => {
                let g = g.ok_or_else(|| {
                    AwsError::Other("a plan launches a gateway it does not describe".into())
                })?;
                let sg = match &l.security_group {
                    Some(s) => s.clone(),
                    None => security_group_id(aws, blueprint).await?,
                };
                let id = run_instance(
                    aws, blueprint, g, config, image_id, subnet_id, &sg, timeout, out,
                )
                .await?;
                l.instance_id = Some(id);
            }
            GatewayOp::AllocateAddress => {
                let (allocation, ip) = allocate(aws, blueprint).await?;
                l.allocation_id = Some(allocation);
                l.ip = Some(ip);
            }
            GatewayOp::Associate {
                allocation_id,
                instance_id,
            } => {
                let allocation = l.allocation(allocation_id);
                let instance = l.instance(instance_id);
                aws.ec2
                    .associate_address()
                    .allocation_id(&allocation)
                    .instance_id(&instance)
                    .allow_reassociation(true)
                    .send()
                    .await
                    .map_err(|e| AwsError::call(&ops::ASSOCIATE_ADDRESS, e))?;
                out.progress(&format!("gateway: Elastic IP {allocation} on {instance}"));
                l.allocation_id = Some(allocation);
            }
            GatewayOp::TerminateInstances { ids } => terminate(aws, ids, timeout, out).await?,
            GatewayOp::DeleteSecurityGroups { ids } => {
                for id in ids {
                    delete_security_group(aws, id, timeout).await?;
                }
            }
            GatewayOp::DeleteRole { role } => delete_role(aws, role).await?,
            GatewayOp::DeleteKey { names } => {
                aws.ssm
                    .delete_parameters()
                    .set_names(Some(names.clone()))
                    .send()
                    .await
                    .map_err(|e| AwsError::call(&ops::DELETE_PARAMETERS, e))?;
            }
            GatewayOp::SetReverseDns { .. }
            | GatewayOp::ResetReverseDns { .. }
            | GatewayOp::ReleaseAddresses { .. } => {}
        }
    }
    Ok(l)
}

/// The steps that come after DNS: reverse DNS (the A record must resolve first) and releases.
pub async fn after_dns(
    aws: &Aws,
    changes: &[GatewayChange],
    l: &Learned,
    out: &Output,
) -> Result<(), AwsError> {
    for c in changes.iter().filter(|c| c.op.after_dns()) {
        match &c.op {
            GatewayOp::SetReverseDns {
                allocation_id,
                hostname,
            } => {
                let allocation = l.allocation(allocation_id);
                let done = aws
                    .ec2
                    .modify_address_attribute()
                    .allocation_id(&allocation)
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
            GatewayOp::ReleaseAddresses { allocation_ids } => {
                for id in allocation_ids {
                    match aws.ec2.release_address().allocation_id(id).send().await {
                        Ok(_) => out.progress(&format!("gateway: released Elastic IP {id}")),
                        Err(e) if e.code() == Some("InvalidAllocationID.NotFound") => {}
                        Err(e) => return Err(AwsError::call(&ops::RELEASE_ADDRESS, e)),
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}

async fn ensure_role(aws: &Aws, blueprint: &str, role: &str, policy: &str) -> Result<(), AwsError> {
    use aws_sdk_iam::error::ProvideErrorMetadata as _;
    let tag = |k: &str, v: &str| aws_sdk_iam::types::Tag::builder().key(k).value(v).build();
    let tags: Vec<_> = [tag(OWNER_TAG, blueprint), tag(ADDRESS_TAG, "gateway.role")]
        .into_iter()
        .collect::<Result<_, _>>()
        .map_err(|e| AwsError::Other(format!("building a tag: {e}")))?;
    match aws
        .iam
        .create_role()
        .role_name(role)
        .assume_role_policy_document(render::trust_policy())
        .set_tags(Some(tags))
        .send()
        .await
    {
        Ok(_) => {}
        Err(e) if e.code() == Some("EntityAlreadyExists") => {}
        Err(e) => return Err(AwsError::call(&ops::CREATE_ROLE, e)),
    }
    aws.iam
        .put_role_policy()
        .role_name(role)
        .policy_name(ROLE_POLICY)
        .policy_document(policy)
        .send()
        .await
        .map_err(|e| AwsError::call(&ops::PUT_ROLE_POLICY, e))?;
    match aws
        .iam
        .create_instance_profile()
        .instance_profile_name(role)
        .send()
        .await
    {
        Ok(_) => {}
        Err(e) if e.code() == Some("EntityAlreadyExists") => {}
        Err(e) => return Err(AwsError::call(&ops::CREATE_INSTANCE_PROFILE, e)),
    }
    match aws
        .iam
        .add_role_to_instance_profile()
        .instance_profile_name(role)
        .role_name(role)
        .send()
        .await
    {
        Ok(_) => {}
        Err(e) if matches!(e.code(), Some("LimitExceeded" | "EntityAlreadyExists")) => {}
        Err(e) => return Err(AwsError::call(&ops::ADD_ROLE_TO_INSTANCE_PROFILE, e)),
    }
    Ok(())
}

/// Generates the key. The public half is written first, without overwriting: it is the lock
/// two concurrent applies race for. The winner writes the private half; the loser uses the
/// winner's public half. Returns the public half in force.
async fn create_key(aws: &Aws, private: &str, public: &str) -> Result<String, AwsError> {
    use aws_sdk_ssm::error::ProvideErrorMetadata as _;
    use aws_sdk_ssm::types::ParameterType;
    let (key, public_b64) = dkim::generate_key().map_err(AwsError::Other)?;
    let put_public = aws
        .ssm
        .put_parameter()
        .name(public)
        .value(&public_b64)
        .r#type(ParameterType::String)
        .description("mailinfra gateway DKIM public key (base64 SubjectPublicKeyInfo)")
        .overwrite(false)
        .send()
        .await;
    match put_public {
        Ok(_) => {}
        Err(e) if e.code() == Some("ParameterAlreadyExists") => {
            // Another run won, or a crash left the public half without the private one: the
            // plan asked for a key, so this run's pair replaces it as a whole.
        }
        Err(e) => return Err(AwsError::call(&ops::PUT_PARAMETER, e)),
    }
    aws.ssm
        .put_parameter()
        .name(private)
        .value(key.expose_pem())
        .r#type(ParameterType::SecureString)
        .description(
            "mailinfra gateway DKIM private key (PKCS#8 PEM); read by the gateway's role only",
        )
        .overwrite(true)
        .send()
        .await
        .map_err(|e| AwsError::call(&ops::PUT_PARAMETER, e))?;
    aws.ssm
        .put_parameter()
        .name(public)
        .value(&public_b64)
        .r#type(ParameterType::String)
        .overwrite(true)
        .send()
        .await
        .map_err(|e| AwsError::call(&ops::PUT_PARAMETER, e))?;
    Ok(public_b64)
}

async fn create_security_group(
    aws: &Aws,
    blueprint: &str,
    name: &str,
    vpc_id: &str,
) -> Result<String, AwsError> {
    match aws
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
    {
        Ok(out) => Ok(out.group_id().unwrap_or_default().to_owned()),
        Err(e) if e.code() == Some("InvalidGroup.Duplicate") => {
            security_group_id(aws, blueprint).await
        }
        Err(e) => Err(AwsError::call(&ops::CREATE_SECURITY_GROUP, e)),
    }
}

async fn security_group_id(aws: &Aws, blueprint: &str) -> Result<String, AwsError> {
    let out = aws
        .ec2
        .describe_security_groups()
        .filters(
            Filter::builder()
                .name(format!("tag:{OWNER_TAG}"))
                .values(blueprint)
                .build(),
        )
        .send()
        .await
        .map_err(|e| AwsError::call(&ops::DESCRIBE_SECURITY_GROUPS, e))?;
    out.security_groups()
        .first()
        .and_then(|g| g.group_id())
        .map(str::to_owned)
        .ok_or_else(|| {
            AwsError::Other("the gateway's security group disappeared; run apply again".into())
        })
}

/// How many client tokens one launch steps through before giving up.
const MAX_LAUNCH_GENERATIONS: u32 = 16;

/// The client token of a launch: the same for every retry of one configuration and image, so
/// an interrupted apply finds the instance it launched instead of making a second.
/// `generation` moves past tokens EC2 still remembers for instances since terminated (EC2 keeps
/// a token for at least 24 hours after termination and answers with the terminated instance).
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

#[allow(clippy::too_many_arguments)]
async fn run_instance(
    aws: &Aws,
    blueprint: &str,
    g: &DesiredGateway,
    config: &str,
    image_id: &str,
    subnet_id: &str,
    sg: &str,
    timeout: Duration,
    out: &Output,
) -> Result<String, AwsError> {
    let start = Instant::now();
    let mut generation = 1;
    loop {
        let token = launch_token(blueprint, config, image_id, generation);
        let r = aws
            .ec2
            .run_instances()
            .image_id(image_id)
            .instance_type(InstanceType::from(g.instance_type.as_str()))
            .min_count(1)
            .max_count(1)
            .subnet_id(subnet_id)
            .security_group_ids(sg)
            .iam_instance_profile(
                IamInstanceProfileSpecification::builder()
                    .name(&g.names.role)
                    .build(),
            )
            .user_data(STANDARD.encode(g.render.boot_script()))
            .metadata_options(
                InstanceMetadataOptionsRequest::builder()
                    .http_tokens(HttpTokensState::Required)
                    .build(),
            )
            .tag_specifications(spec(
                ResourceType::Instance,
                tags(
                    blueprint,
                    "gateway.instance",
                    &[(CONFIG_TAG, config), ("Name", &g.hostname)],
                ),
            ))
            .tag_specifications(spec(
                ResourceType::Volume,
                tags(blueprint, "gateway.instance", &[]),
            ))
            .client_token(&token)
            .send()
            .await;
        match r {
            // The token launched an instance once already and it has since been terminated
            // (destroy, or a replacement rolled back): EC2 answers with that instance for at
            // least 24 hours. The next generation launches anew.
            Ok(o)
                if generation < MAX_LAUNCH_GENERATIONS
                    && o.instances().iter().any(|i| {
                        matches!(
                            i.state().and_then(|s| s.name()),
                            Some(InstanceStateName::Terminated | InstanceStateName::ShuttingDown)
                        )
                    }) =>
            {
                generation += 1;
            }
            Ok(o) => {
                let id = o
                    .instances()
                    .first()
                    .and_then(|i| i.instance_id())
                    .unwrap_or_default()
                    .to_owned();
                out.progress(&format!(
                    "gateway: launched {id}; waiting until it runs (usually 30-60 s, at most {} s)",
                    timeout.as_secs()
                ));
                match wait_state(
                    aws,
                    std::slice::from_ref(&id),
                    InstanceStateName::Running,
                    timeout,
                )
                .await?
                {
                    Waited::Reached => return Ok(id),
                    // Terminated while starting (or a response that did not say so yet).
                    Waited::Gone if generation < MAX_LAUNCH_GENERATIONS => generation += 1,
                    Waited::Gone => {
                        return Err(AwsError::Other(format!(
                            "instance {id} was terminated while launching\n  = hint: run `mailinfra apply` again"
                        )));
                    }
                }
            }
            // The token was used with other parameters (a security group made anew).
            Err(e)
                if e.code() == Some("IdempotentParameterMismatch")
                    && generation < MAX_LAUNCH_GENERATIONS =>
            {
                generation += 1;
            }
            // A new instance profile takes a few seconds to reach EC2 (IAM is eventually consistent).
            Err(e)
                if e.code() == Some("InvalidParameterValue")
                    && e.message()
                        .is_some_and(|m| m.to_ascii_lowercase().contains("profile"))
                    && start.elapsed() < Duration::from_secs(60) =>
            {
                out.progress("gateway: waiting for the new instance profile to reach EC2...");
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
            Err(e) => return Err(AwsError::call(&ops::RUN_INSTANCES, e)),
        }
    }
}

/// How a wait for an instance state ended.
enum Waited {
    Reached,
    /// Waiting for `running`, an instance is terminated or shutting down: it never will be.
    Gone,
}

async fn wait_state(
    aws: &Aws,
    ids: &[String],
    want: InstanceStateName,
    timeout: Duration,
) -> Result<Waited, AwsError> {
    let start = Instant::now();
    loop {
        let out = aws
            .ec2
            .describe_instances()
            .set_instance_ids(Some(ids.to_vec()))
            .send()
            .await
            .map_err(|e| AwsError::call(&ops::DESCRIBE_INSTANCES, e))?;
        let states: Vec<_> = out
            .reservations()
            .iter()
            .flat_map(|r| r.instances())
            .map(|i| i.state().and_then(|s| s.name()))
            .collect();
        if states.iter().all(|s| *s == Some(&want)) {
            return Ok(Waited::Reached);
        }
        if want == InstanceStateName::Running
            && states.iter().any(|s| {
                matches!(
                    s,
                    Some(InstanceStateName::Terminated | InstanceStateName::ShuttingDown)
                )
            })
        {
            return Ok(Waited::Gone);
        }
        if start.elapsed() >= timeout {
            return Err(AwsError::Other(format!(
                "instances {} did not reach `{}` within {} s\n  = hint: run `mailinfra apply` again; it continues where this run stopped",
                ids.join(", "),
                want.as_str(),
                timeout.as_secs()
            )));
        }
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
}

async fn terminate(
    aws: &Aws,
    ids: &[String],
    timeout: Duration,
    out: &Output,
) -> Result<(), AwsError> {
    aws.ec2
        .terminate_instances()
        .set_instance_ids(Some(ids.to_vec()))
        .send()
        .await
        .map_err(|e| AwsError::call(&ops::TERMINATE_INSTANCES, e))?;
    out.progress(&format!(
        "gateway: terminating {}; waiting until it is gone",
        ids.join(", ")
    ));
    wait_state(aws, ids, InstanceStateName::Terminated, timeout)
        .await
        .map(|_| ())
}

/// Allocates the Elastic IP, then settles a race: with several tagged addresses, the one in
/// use stays (else the lowest allocation id), and this run releases the other unassociated
/// ones; the observer applies the same rule.
async fn allocate(aws: &Aws, blueprint: &str) -> Result<(String, String), AwsError> {
    aws.ec2
        .allocate_address()
        .domain(DomainType::Vpc)
        .tag_specifications(spec(
            ResourceType::ElasticIp,
            tags(blueprint, "gateway.eip", &[]),
        ))
        .send()
        .await
        .map_err(|e| AwsError::call(&ops::ALLOCATE_ADDRESS, e))?;
    let all = aws
        .ec2
        .describe_addresses()
        .filters(
            Filter::builder()
                .name(format!("tag:{OWNER_TAG}"))
                .values(blueprint)
                .build(),
        )
        .send()
        .await
        .map_err(|e| AwsError::call(&ops::DESCRIBE_ADDRESSES, e))?;
    let mut addresses: Vec<_> = all.addresses().iter().collect();
    addresses.sort_by_key(|a| {
        (
            a.instance_id().is_none_or(str::is_empty),
            a.allocation_id().unwrap_or_default().to_owned(),
        )
    });
    let keep = addresses
        .first()
        .ok_or_else(|| AwsError::Other("the allocated Elastic IP is not listed".into()))?;
    for extra in &addresses[1..] {
        if extra.instance_id().is_none_or(str::is_empty) {
            match aws
                .ec2
                .release_address()
                .set_allocation_id(extra.allocation_id().map(str::to_owned))
                .send()
                .await
            {
                Ok(_) => {}
                Err(e) if e.code() == Some("InvalidAllocationID.NotFound") => {}
                Err(e) => return Err(AwsError::call(&ops::RELEASE_ADDRESS, e)),
            }
        }
    }
    Ok((
        keep.allocation_id().unwrap_or_default().to_owned(),
        keep.public_ip().unwrap_or_default().to_owned(),
    ))
}

async fn delete_security_group(aws: &Aws, id: &str, timeout: Duration) -> Result<(), AwsError> {
    let start = Instant::now();
    loop {
        match aws.ec2.delete_security_group().group_id(id).send().await {
            Ok(_) => return Ok(()),
            Err(e) if e.code() == Some("InvalidGroup.NotFound") => return Ok(()),
            // Still attached to an instance that is shutting down.
            Err(e) if e.code() == Some("DependencyViolation") && start.elapsed() < timeout => {
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
            Err(e) => return Err(AwsError::call(&ops::DELETE_SECURITY_GROUP, e)),
        }
    }
}

async fn delete_role(aws: &Aws, role: &str) -> Result<(), AwsError> {
    use aws_sdk_iam::error::ProvideErrorMetadata as _;
    let gone = |e: Option<&str>| e == Some("NoSuchEntity");
    match aws
        .iam
        .remove_role_from_instance_profile()
        .instance_profile_name(role)
        .role_name(role)
        .send()
        .await
    {
        Err(e) if !gone(e.code()) => {
            return Err(AwsError::call(&ops::REMOVE_ROLE_FROM_INSTANCE_PROFILE, e));
        }
        _ => {}
    }
    match aws
        .iam
        .delete_instance_profile()
        .instance_profile_name(role)
        .send()
        .await
    {
        Err(e) if !gone(e.code()) => return Err(AwsError::call(&ops::DELETE_INSTANCE_PROFILE, e)),
        _ => {}
    }
    match aws
        .iam
        .delete_role_policy()
        .role_name(role)
        .policy_name(ROLE_POLICY)
        .send()
        .await
    {
        Err(e) if !gone(e.code()) => return Err(AwsError::call(&ops::DELETE_ROLE_POLICY, e)),
        _ => {}
    }
    match aws.iam.delete_role().role_name(role).send().await {
        Err(e) if !gone(e.code()) => return Err(AwsError::call(&ops::DELETE_ROLE, e)),
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::launch_token;

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
}
