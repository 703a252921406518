//! Observes the relay gateway: its instances, Elastic IPs and security group (by the
//! blueprint's tag), the instance profile and role policy, the DKIM key parameters, the image
//! and subnet to launch with, and the reverse DNS of the Elastic IP. Independent reads run
//! concurrently; only the PTR read waits for the addresses.
//!
//! Only what passes the ownership rules of docs/ownership.md is observed: instances, groups
//! and addresses that merely carry the tags are someone else's.
//!
//! Requests for a no-op plan: DescribeInstances then DescribeInstanceAttribute (each
//! instance's user data) and DescribeNetworkInterfaces, DescribeAddresses, DescribeSecurityGroups,
//! DescribeSubnets, DescribeInstanceTypeOfferings, then DescribeRouteTables, GetInstanceProfile, GetRolePolicy, DescribeParameters, GetParameter (the
//! public key), DescribeInstanceTypes (the type's architecture), then GetParameter (the image,
//! for `debian-12`) or DescribeImages (a pinned image's architecture and owner, with
//! GetCallerIdentity when the owner is not Debian), then DescribeNetworkInterfaces, the
//! health report (GetParameter) and DescribeImages (when the images were built), then
//! DescribeAddressesAttribute; DescribeKey then GetKeyPolicy (the KMS key the blueprint's
//! alias names), DescribeLogGroups (the bounce log).

use aws_sdk_ec2::types::{
    AddressAttributeName, Filter, Instance, InstanceAttributeName, InstanceStateName, InstanceType,
    IpPermission, LocationType, RouteState,
};
use aws_sdk_iam::error::ProvideErrorMetadata as _;
use aws_sdk_ssm::types::ParameterStringFilter;

use super::rotation::{KeyMeta, ObservedKey};
use super::{
    CONFIG_TAG, DefaultRoute, DesiredGateway, Ingress, InstanceState, Names, ObservedEip,
    ObservedGateway, ObservedInstance, ObservedInterface, ObservedSecurityGroup,
    ObservedSmtpCredentials, ObservedSmtpUser, PtrUpdate, ROLE_POLICY, Source, Subnet,
};
use crate::aws::{Aws, AwsError, ops};
use crate::kinds::{ADDRESS_TAG, OWNER_TAG};
use crate::mail::gateway as render;

/// The filter for what the blueprint owns: its tag.
fn owned(blueprint: &str) -> Filter {
    Filter::builder()
        .name(format!("tag:{OWNER_TAG}"))
        .values(blueprint)
        .build()
}

/// The filter for the part of the gateway a resource is: its address tag.
fn part(address: &str) -> Filter {
    Filter::builder()
        .name(format!("tag:{ADDRESS_TAG}"))
        .values(address)
        .build()
}

fn some(s: Option<&str>) -> Option<String> {
    s.filter(|v| !v.is_empty()).map(str::to_owned)
}

/// An instance's state as EC2 reports it (in DescribeInstances and RunInstances answers).
pub(super) fn state(i: &Instance) -> InstanceState {
    match i.state().and_then(|s| s.name()) {
        Some(InstanceStateName::Pending) => InstanceState::Pending,
        Some(InstanceStateName::Running) => InstanceState::Running,
        Some(InstanceStateName::ShuttingDown) => InstanceState::ShuttingDown,
        Some(InstanceStateName::Terminated) => InstanceState::Terminated,
        Some(InstanceStateName::Stopping) => InstanceState::Stopping,
        Some(InstanceStateName::Stopped) => InstanceState::Stopped,
        _ => InstanceState::Unknown,
    }
}

pub async fn observe(
    aws: &Aws,
    blueprint: &str,
    g: &DesiredGateway,
) -> Result<ObservedGateway, AwsError> {
    let (
        instances,
        eips,
        groups,
        subnet,
        role,
        profile,
        policy,
        params,
        public_key,
        image,
        boundary,
        bounce_log,
    ) = futures::try_join!(
        instances(aws, blueprint, &g.names),
        addresses(aws, blueprint),
        security_groups(aws, blueprint, &g.names.security_group),
        subnet(aws, g),
        role(aws, &g.names.role),
        profile_roles(aws, &g.names.role),
        role_policy(aws, &g.names.role),
        key_parameters(aws, blueprint, g),
        // The blueprint selector's key is almost always the one: read with the rest.
        parameter(aws, &g.names.key_public),
        image(aws, g),
        boundary(aws, &g.names.boundary),
        // Relaying through SES, SES handles bounces: the log group is not used or read.
        async {
            if g.via_ses() {
                Ok(None)
            } else {
                bounce_log(aws, &g.names.bounce_log).await
            }
        },
    )?;
    let (role_exists, role_boundary) = role;
    let (account, boundary_arn, boundary_policy) = boundary;
    let kms_key = kms_key(aws, &g.names.kms_alias, blueprint).await?;
    let smtp_credentials = params
        .iter()
        .find(|p| p.name == g.names.smtp_credentials)
        .map(|p| ObservedSmtpCredentials {
            access_key: p
                .description
                .as_deref()
                .and_then(super::smtp_credentials_key),
            kms: p.kms.clone(),
            modified: p.modified,
        });
    let dkim_keys = dkim_keys(aws, blueprint, &params, (&g.names.key_public, public_key)).await?;
    // Read relaying through SES, or when a credentials parameter says an earlier apply did
    // (switching back to direct delivery removes the user): no request otherwise.
    let smtp_user = if g.via_ses() || smtp_credentials.is_some() {
        smtp_user(aws, &g.names.smtp_user).await?
    } else {
        None
    };
    let mut instances = instances;
    user_data(aws, &mut instances).await?;
    let mut images: Vec<String> = instances
        .iter()
        .filter(|i| i.state.is_live())
        .map(|i| i.image_id.clone())
        .chain(image.id.clone())
        .filter(|i| !i.is_empty())
        .collect();
    images.sort();
    images.dedup();
    let (network_interfaces, health, image_dates) = futures::try_join!(
        interfaces(aws, blueprint, &g.names, &instances),
        health(aws, &g.names.health),
        image_dates(aws, images),
    )?;
    let read_at = health.now;
    let mut eips = eips;
    ObservedGateway::own_addresses(&mut eips, &instances);
    ObservedGateway::own_interface_addresses(&mut eips, &network_interfaces);
    ptr(aws, &mut eips).await?;
    let (subnet, subnet_zone, offered_zones) = subnet;
    let subnet_route = match &subnet {
        Some(s) => Some(default_route(aws, s).await?),
        None => None,
    };
    Ok(ObservedGateway {
        subnet_zone,
        subnet_route,
        offered_zones,
        architectures: image.architectures,
        image_id: image.id,
        image_architecture: image.architecture,
        image_owner: image.owner,
        subnet,
        role_exists,
        role_boundary,
        boundary_arn,
        boundary_policy,
        profile_roles: profile,
        role_policy: policy,
        dkim_keys,
        smtp_credentials,
        smtp_user,
        account,
        kms_key,
        bounce_log,
        security_groups: groups,
        instances,
        eips,
        network_interfaces,
        health: Some(health),
        image_dates,
        read_at,
    })
}

/// When each image was built (`CreationDate`); an image EC2 no longer knows (deregistered)
/// is left out.
async fn image_dates(aws: &Aws, ids: Vec<String>) -> Result<Vec<(String, String)>, AwsError> {
    use aws_sdk_ec2::error::ProvideErrorMetadata as _;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let out = match aws
        .ec2
        .describe_images()
        .set_image_ids(Some(ids))
        .send()
        .await
    {
        Ok(out) => out,
        Err(e) if e.code().is_some_and(|c| c.starts_with("InvalidAMIID.")) => {
            return Ok(Vec::new());
        }
        Err(e) => return Err(AwsError::call(&ops::DESCRIBE_IMAGES, e)),
    };
    let mut dates: Vec<(String, String)> = out
        .images()
        .iter()
        .filter_map(|i| Some((i.image_id()?.to_owned(), i.creation_date()?.to_owned())))
        .collect();
    dates.sort();
    Ok(dates)
}

/// The gateway's health report (`health.rs`), read now.
async fn health(aws: &Aws, name: &str) -> Result<super::health::Observed, AwsError> {
    use aws_sdk_ssm::error::ProvideErrorMetadata as _;
    let value = match aws.ssm.get_parameter().name(name).send().await {
        Ok(out) => out.parameter().and_then(|p| p.value()).map(str::to_owned),
        Err(e) if e.code() == Some("ParameterNotFound") => None,
        Err(e) => return Err(AwsError::call(&ops::GET_HEALTH_PARAMETER, e)),
    };
    let now = crate::kinds::rotation::unix_now();
    Ok(super::health::Observed::parse(value.as_deref(), now))
}

/// The gateway's network interfaces (docs/ownership.md): tagged as its interface, a plain
/// interface (not one AWS manages for a service), in the gateway's security group alone, and
/// attached to nothing or to one of the gateway's `instances`.
pub(super) async fn interfaces(
    aws: &Aws,
    blueprint: &str,
    names: &Names,
    instances: &[ObservedInstance],
) -> Result<Vec<ObservedInterface>, AwsError> {
    use aws_sdk_ec2::types::NetworkInterfaceType;
    let out = aws
        .ec2
        .describe_network_interfaces()
        .filters(owned(blueprint))
        .filters(part("gateway.network_interface"))
        .send()
        .await
        .map_err(|e| AwsError::call(&ops::DESCRIBE_NETWORK_INTERFACES, e))?;
    let mut found: Vec<ObservedInterface> = out
        .network_interfaces()
        .iter()
        .filter(|n| {
            let groups: Vec<&str> = n
                .groups()
                .iter()
                .map(|g| g.group_name().unwrap_or_default())
                .collect();
            n.interface_type()
                .is_none_or(|t| *t == NetworkInterfaceType::Interface)
                && n.requester_managed() != Some(true)
                && !groups.is_empty()
                && groups.iter().all(|g| *g == names.security_group)
        })
        .map(|n| ObservedInterface {
            id: n.network_interface_id().unwrap_or_default().to_owned(),
            subnet_id: n.subnet_id().unwrap_or_default().to_owned(),
            private_ip: n.private_ip_address().unwrap_or_default().to_owned(),
            instance_id: n.attachment().and_then(|a| some(a.instance_id())),
        })
        .filter(|n| {
            n.instance_id
                .as_ref()
                .is_none_or(|id| instances.iter().any(|i| &i.id == id))
        })
        .collect();
    found.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(found)
}

/// The gateway's instances: tagged as its instance, and passing `Names::is_gateway_instance`.
pub(super) async fn instances(
    aws: &Aws,
    blueprint: &str,
    names: &Names,
) -> Result<Vec<ObservedInstance>, AwsError> {
    let out = aws
        .ec2
        .describe_instances()
        .filters(owned(blueprint))
        .filters(part("gateway.instance"))
        .filters(
            Filter::builder()
                .name("instance-state-name")
                .set_values(Some(
                    // Shutting down too: its network interface is still attached to it.
                    [
                        InstanceState::Pending,
                        InstanceState::Running,
                        InstanceState::ShuttingDown,
                        InstanceState::Stopping,
                        InstanceState::Stopped,
                    ]
                    .map(|s| s.as_str().to_owned())
                    .to_vec(),
                ))
                .build(),
        )
        .send()
        .await
        .map_err(|e| AwsError::call(&ops::DESCRIBE_INSTANCES, e))?;
    Ok(out
        .reservations()
        .iter()
        .flat_map(|r| r.instances())
        .map(|i| (i, tag(i.tags(), CONFIG_TAG)))
        .filter(|(i, config)| {
            let groups: Vec<&str> = i
                .security_groups()
                .iter()
                .map(|g| g.group_name().unwrap_or_default())
                .collect();
            let profile = i.iam_instance_profile().and_then(|p| p.arn());
            names.is_gateway_instance(profile, &groups, config.as_deref())
        })
        .map(|(i, config)| ObservedInstance {
            id: i.instance_id().unwrap_or_default().to_owned(),
            state: state(i),
            instance_type: i
                .instance_type()
                .map_or(String::new(), |t| t.as_str().to_owned()),
            image_id: i.image_id().unwrap_or_default().to_owned(),
            subnet_id: i.subnet_id().unwrap_or_default().to_owned(),
            private_ip: some(i.private_ip_address()),
            config,
            user_data: None,
            network_interface: i
                .network_interfaces()
                .iter()
                .find(|n| n.attachment().and_then(|a| a.device_index()) == Some(0))
                .and_then(|n| some(n.network_interface_id())),
            launched: i.launch_time().map_or(0, |t| t.secs()),
        })
        .collect())
}

/// The hash of each instance's user data as EC2 holds it: what actually runs at boot,
/// whatever the configuration tag says.
async fn user_data(aws: &Aws, instances: &mut [ObservedInstance]) -> Result<(), AwsError> {
    use base64::Engine as _;
    for i in instances.iter_mut() {
        let out = aws
            .ec2
            .describe_instance_attribute()
            .instance_id(&i.id)
            .attribute(InstanceAttributeName::UserData)
            .send()
            .await
            .map_err(|e| AwsError::call(&ops::DESCRIBE_INSTANCE_ATTRIBUTE, e))?;
        i.user_data = out
            .user_data()
            .and_then(|u| u.value())
            .filter(|v| !v.is_empty())
            .map(|v| {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(v)
                    .unwrap_or_else(|_| v.as_bytes().to_vec());
                super::user_data_hash(&bytes)
            });
    }
    Ok(())
}

/// The value of the tag `key`.
fn tag(tags: &[aws_sdk_ec2::types::Tag], key: &str) -> Option<String> {
    tags.iter()
        .find(|t| t.key() == Some(key))
        .and_then(|t| t.value())
        .map(str::to_owned)
}

/// The addresses tagged as the gateway's Elastic IP (`ObservedGateway::own_addresses` then
/// drops those serving another instance).
pub(super) async fn addresses(aws: &Aws, blueprint: &str) -> Result<Vec<ObservedEip>, AwsError> {
    let out = aws
        .ec2
        .describe_addresses()
        .filters(owned(blueprint))
        .filters(part("gateway.eip"))
        .send()
        .await
        .map_err(|e| AwsError::call(&ops::DESCRIBE_ADDRESSES, e))?;
    Ok(out
        .addresses()
        .iter()
        .map(|a| ObservedEip {
            allocation_id: a.allocation_id().unwrap_or_default().to_owned(),
            public_ip: a.public_ip().unwrap_or_default().to_owned(),
            // The emulator (like EC2-Classic responses) sends empty strings for "none".
            instance_id: some(a.instance_id()),
            association_id: some(a.association_id()),
            ptr: None,
            ptr_update: None,
            network_interface_id: some(a.network_interface_id()),
        })
        .collect())
}

/// Reverse DNS of the addresses, one request for all.
async fn ptr(aws: &Aws, eips: &mut [ObservedEip]) -> Result<(), AwsError> {
    if eips.is_empty() {
        return Ok(());
    }
    let out = aws
        .ec2
        .describe_addresses_attribute()
        .attribute(AddressAttributeName::DomainName)
        .set_allocation_ids(Some(eips.iter().map(|e| e.allocation_id.clone()).collect()))
        .send()
        .await
        .map_err(|e| AwsError::call(&ops::DESCRIBE_ADDRESSES_ATTRIBUTE, e))?;
    for a in out.addresses() {
        if let Some(e) = eips
            .iter_mut()
            .find(|e| Some(e.allocation_id.as_str()) == a.allocation_id())
        {
            e.ptr = some(a.ptr_record()).map(|p| p.trim_end_matches('.').to_owned());
            e.ptr_update = a.ptr_record_update().map(|u| PtrUpdate {
                value: u
                    .value()
                    .unwrap_or_default()
                    .trim_end_matches('.')
                    .to_owned(),
                status: u.status().unwrap_or_default().to_owned(),
                reason: u.reason().map(str::to_owned),
            });
        }
    }
    Ok(())
}

/// The gateway's security groups: tagged as its group, and named as it names it.
pub(super) async fn security_groups(
    aws: &Aws,
    blueprint: &str,
    name: &str,
) -> Result<Vec<ObservedSecurityGroup>, AwsError> {
    let out = aws
        .ec2
        .describe_security_groups()
        .filters(owned(blueprint))
        .filters(part("gateway.security_group"))
        .filters(Filter::builder().name("group-name").values(name).build())
        .send()
        .await
        .map_err(|e| AwsError::call(&ops::DESCRIBE_SECURITY_GROUPS, e))?;
    Ok(out
        .security_groups()
        .iter()
        .map(|g| {
            let mut ingress: Vec<Ingress> = g.ip_permissions().iter().flat_map(rules).collect();
            ingress.sort();
            ObservedSecurityGroup {
                id: g.group_id().unwrap_or_default().to_owned(),
                name: g.group_name().unwrap_or_default().to_owned(),
                vpc_id: g.vpc_id().unwrap_or_default().to_owned(),
                ingress,
            }
        })
        .collect())
}

/// Every inbound rule of one permission, one per source of each kind EC2 has: IPv4 and IPv6
/// ranges, prefix lists and security groups (egress is not read: see docs/gateway.md).
fn rules(p: &IpPermission) -> Vec<Ingress> {
    let text = |s: Option<&str>| s.unwrap_or_default().to_owned();
    let sources = p
        .ip_ranges()
        .iter()
        .map(|r| Source::Ipv4(text(r.cidr_ip())))
        .chain(
            p.ipv6_ranges()
                .iter()
                .map(|r| Source::Ipv6(text(r.cidr_ipv6()))),
        )
        .chain(
            p.prefix_list_ids()
                .iter()
                .map(|l| Source::PrefixList(text(l.prefix_list_id()))),
        )
        .chain(
            p.user_id_group_pairs()
                .iter()
                .map(|g| Source::Group(text(g.group_id()))),
        );
    sources
        .map(|source| Ingress {
            protocol: text(p.ip_protocol()),
            // `-1` (all traffic) has no ports.
            from_port: p.from_port().unwrap_or(0),
            to_port: p.to_port().unwrap_or(0),
            source,
        })
        .collect()
}

/// The subnet to launch in, its zone, and the zones that offer the instance type: the named
/// subnet, or the first default subnet (by zone name) whose zone offers the type (the first
/// of all when none does, which the plan then refuses).
async fn subnet(
    aws: &Aws,
    g: &DesiredGateway,
) -> Result<(Option<Subnet>, Option<String>, Vec<String>), AwsError> {
    let (subnets, offered) = futures::try_join!(
        subnets(aws, g.subnet.as_deref()),
        offered_zones(aws, &g.instance_type)
    )?;
    let chosen = subnets
        .iter()
        .find(|(_, zone)| offered.contains(zone))
        .or(subnets.first());
    Ok((
        chosen.map(|(s, _)| s.clone()),
        chosen.map(|(_, zone)| zone.clone()),
        offered,
    ))
}

/// Where the subnet's route table (its explicit association, else the VPC's main table) sends
/// 0.0.0.0/0: one request for the VPC's tables.
async fn default_route(aws: &Aws, subnet: &Subnet) -> Result<DefaultRoute, AwsError> {
    let out = aws
        .ec2
        .describe_route_tables()
        .filters(
            Filter::builder()
                .name("vpc-id")
                .values(&subnet.vpc_id)
                .build(),
        )
        .send()
        .await
        .map_err(|e| AwsError::call(&ops::DESCRIBE_ROUTE_TABLES, e))?;
    let tables = out.route_tables();
    let explicit = tables.iter().find(|t| {
        t.associations()
            .iter()
            .any(|a| a.subnet_id() == Some(subnet.id.as_str()))
    });
    let main = || {
        tables
            .iter()
            .find(|t| t.associations().iter().any(|a| a.main() == Some(true)))
    };
    let table = explicit.or_else(main);
    let route = table.and_then(|t| {
        t.routes().iter().find(|r| {
            r.destination_cidr_block() == Some("0.0.0.0/0")
                && r.state() != Some(&RouteState::Blackhole)
        })
    });
    let Some(route) = route else {
        return Ok(DefaultRoute::None);
    };
    let target = [
        route.gateway_id(),
        route.nat_gateway_id(),
        route.instance_id(),
        route.transit_gateway_id(),
        route.network_interface_id(),
        route.vpc_peering_connection_id(),
    ]
    .into_iter()
    .flatten()
    .find(|t| !t.is_empty())
    .unwrap_or("an unnamed target");
    Ok(if target.starts_with("igw-") {
        DefaultRoute::InternetGateway(target.to_owned())
    } else {
        DefaultRoute::Through(target.to_owned())
    })
}

/// The availability zones of the region that offer `instance_type`.
async fn offered_zones(aws: &Aws, instance_type: &str) -> Result<Vec<String>, AwsError> {
    let offerings: Vec<_> = aws
        .ec2
        .describe_instance_type_offerings()
        .location_type(LocationType::AvailabilityZone)
        .filters(
            Filter::builder()
                .name("instance-type")
                .values(instance_type)
                .build(),
        )
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| AwsError::call(&ops::DESCRIBE_INSTANCE_TYPE_OFFERINGS, e))?;
    let mut zones: Vec<String> = offerings
        .iter()
        .filter_map(|o| o.location().map(str::to_owned))
        .collect();
    zones.sort();
    Ok(zones)
}

/// The named subnet, or the default subnets, each with its zone, sorted by zone name.
async fn subnets(aws: &Aws, named: Option<&str>) -> Result<Vec<(Subnet, String)>, AwsError> {
    let req = aws.ec2.describe_subnets();
    let req = match named {
        Some(id) => req.subnet_ids(id),
        None => req.filters(
            Filter::builder()
                .name("default-for-az")
                .values("true")
                .build(),
        ),
    };
    let out = req
        .send()
        .await
        .map_err(|e| AwsError::call(&ops::DESCRIBE_SUBNETS, e))?;
    let mut subnets: Vec<(Subnet, String)> = out
        .subnets()
        .iter()
        .map(|s| {
            let subnet = Subnet {
                id: s.subnet_id().unwrap_or_default().to_owned(),
                vpc_id: s.vpc_id().unwrap_or_default().to_owned(),
            };
            (subnet, s.availability_zone().unwrap_or_default().to_owned())
        })
        .collect();
    subnets.sort_by(|a, b| a.1.cmp(&b.1));
    Ok(subnets)
}

/// Whether the role exists, and its permissions boundary's ARN.
async fn role(aws: &Aws, name: &str) -> Result<(bool, Option<String>), AwsError> {
    match aws.iam.get_role().role_name(name).send().await {
        Ok(out) => Ok((
            true,
            out.role()
                .and_then(|r| r.permissions_boundary())
                .and_then(|b| b.permissions_boundary_arn())
                .map(str::to_owned),
        )),
        Err(e) if e.code() == Some("NoSuchEntity") => Ok((false, None)),
        Err(e) => Err(AwsError::call(&ops::GET_ROLE, e)),
    }
}

/// The boundary policy's ARN in the caller's account, and its default version's document
/// when it exists.
/// The account, the boundary policy's ARN in it, and its default version's document.
async fn boundary(aws: &Aws, name: &str) -> Result<(String, String, Option<String>), AwsError> {
    let partition = crate::aws::partition::of(&aws.region);
    let account = account_id(aws).await?;
    let arn = format!("arn:{partition}:iam::{account}:policy/{name}");
    let policy = match aws.iam.get_policy().policy_arn(&arn).send().await {
        Ok(out) => out.policy().cloned(),
        Err(e) if e.code() == Some("NoSuchEntity") => return Ok((account, arn, None)),
        Err(e) => return Err(AwsError::call(&ops::GET_POLICY, e)),
    };
    let Some(version) = policy.and_then(|p| p.default_version_id().map(str::to_owned)) else {
        return Ok((account, arn, None));
    };
    let out = aws
        .iam
        .get_policy_version()
        .policy_arn(&arn)
        .version_id(version)
        .send()
        .await
        .map_err(|e| AwsError::call(&ops::GET_POLICY_VERSION, e))?;
    let document = out
        .policy_version()
        .and_then(|v| v.document())
        .map(percent_decode);
    Ok((account, arn, document))
}

async fn profile_roles(aws: &Aws, name: &str) -> Result<Option<Vec<String>>, AwsError> {
    match aws
        .iam
        .get_instance_profile()
        .instance_profile_name(name)
        .send()
        .await
    {
        Ok(out) => Ok(Some(
            out.instance_profile()
                .map(|p| p.roles().iter().map(|r| r.role_name().to_owned()).collect())
                .unwrap_or_default(),
        )),
        Err(e) if e.code() == Some("NoSuchEntity") => Ok(None),
        Err(e) => Err(AwsError::call(&ops::GET_INSTANCE_PROFILE, e)),
    }
}

async fn role_policy(aws: &Aws, role: &str) -> Result<Option<String>, AwsError> {
    match aws
        .iam
        .get_role_policy()
        .role_name(role)
        .policy_name(ROLE_POLICY)
        .send()
        .await
    {
        Ok(out) => Ok(Some(percent_decode(out.policy_document()))),
        Err(e) if e.code() == Some("NoSuchEntity") => Ok(None),
        Err(e) => Err(AwsError::call(&ops::GET_ROLE_POLICY, e)),
    }
}

/// One of the gateway's parameters as Parameter Store describes it (never its value).
struct Param {
    name: String,
    kms: Option<String>,
    description: Option<String>,
    modified: Option<i64>,
}

/// The gateway's DKIM key parameters (every selector: a rotation has two keys) and its SES
/// SMTP credentials, as Parameter Store describes them.
async fn key_parameters(
    aws: &Aws,
    blueprint: &str,
    g: &DesiredGateway,
) -> Result<Vec<Param>, AwsError> {
    let filter = ParameterStringFilter::builder()
        .key("Name")
        .option("BeginsWith")
        .values(render::dkim_key_prefix(blueprint))
        .values(&g.names.smtp_credentials)
        .build()
        .map_err(|e| AwsError::Other(format!("building a parameter filter: {e}")))?;
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = aws
            .ssm
            .describe_parameters()
            .parameter_filters(filter.clone())
            .max_results(50)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| AwsError::call(&ops::DESCRIBE_PARAMETERS, e))?;
        out.extend(page.parameters().iter().filter_map(|p| {
            Some(Param {
                name: p.name()?.to_owned(),
                kms: p.key_id().map(str::to_owned),
                description: p.description().map(str::to_owned),
                modified: p.last_modified_date().map(|d| d.secs()),
            })
        }));
        match page.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_owned()),
            _ => break,
        }
    }
    Ok(out)
}

/// Every DKIM key of the gateway, by selector, with its public half read (`known` is the
/// one already read: the blueprint selector's). Sorted by selector.
async fn dkim_keys(
    aws: &Aws,
    blueprint: &str,
    params: &[Param],
    known: (&str, Option<String>),
) -> Result<Vec<ObservedKey>, AwsError> {
    let prefix = render::dkim_key_prefix(blueprint);
    let mut keys: std::collections::BTreeMap<String, ObservedKey> = Default::default();
    // The public halves whose value is to be read: (selector, parameter name).
    let mut publics = Vec::new();
    for p in params {
        let Some((selector, half)) = p
            .name
            .strip_prefix(&prefix)
            .and_then(|rest| rest.split_once('/'))
        else {
            continue;
        };
        let key = keys
            .entry(selector.to_owned())
            .or_insert_with(|| ObservedKey {
                selector: selector.to_owned(),
                public: None,
                private: false,
                private_kms: None,
                meta: KeyMeta::default(),
                modified: None,
            });
        match half {
            "private" => {
                key.private = true;
                key.private_kms = p.kms.clone();
            }
            "public" => {
                key.meta = KeyMeta::parse(p.description.as_deref().unwrap_or_default());
                key.modified = p.modified;
                publics.push((selector.to_owned(), p.name.clone()));
            }
            _ => {}
        }
    }
    let reads = publics.into_iter().map(|(selector, name)| {
        let known = (name == known.0).then(|| known.1.clone());
        async move {
            let value = match known {
                Some(value) => value,
                None => parameter(aws, &name).await?,
            };
            Ok::<_, AwsError>((selector, value))
        }
    });
    for (selector, value) in futures::future::try_join_all(reads).await? {
        if let Some(k) = keys.get_mut(&selector) {
            k.public = value;
        }
    }
    Ok(keys.into_values().collect())
}

/// The SES SMTP user: `None` when IAM has no user of that name. Its tags and boundary
/// (GetUser), its one inline policy and its access keys.
async fn smtp_user(aws: &Aws, name: &str) -> Result<Option<ObservedSmtpUser>, AwsError> {
    let user = match aws.iam.get_user().user_name(name).send().await {
        Ok(out) => out.user().cloned(),
        Err(e) if e.code() == Some("NoSuchEntity") => return Ok(None),
        Err(e) => return Err(AwsError::call(&ops::GET_USER, e)),
    };
    let Some(user) = user else { return Ok(None) };
    let policy = async {
        match aws
            .iam
            .get_user_policy()
            .user_name(name)
            .policy_name(super::SMTP_USER_POLICY)
            .send()
            .await
        {
            Ok(out) => Ok(Some(percent_decode(out.policy_document()))),
            Err(e) if e.code() == Some("NoSuchEntity") => Ok(None),
            Err(e) => Err(AwsError::call(&ops::GET_USER_POLICY, e)),
        }
    };
    let keys = async {
        aws.iam
            .list_access_keys()
            .user_name(name)
            .send()
            .await
            .map_err(|e| AwsError::call(&ops::LIST_ACCESS_KEYS, e))
            .map(|out| {
                let mut ids: Vec<String> = out
                    .access_key_metadata()
                    .iter()
                    .filter_map(|k| k.access_key_id().map(str::to_owned))
                    .collect();
                ids.sort();
                let created = out
                    .access_key_metadata()
                    .iter()
                    .filter_map(|k| Some((k.access_key_id()?.to_owned(), k.create_date()?.secs())))
                    .collect();
                (ids, created)
            })
    };
    let (policy, (access_keys, created)) = futures::try_join!(policy, keys)?;
    Ok(Some(ObservedSmtpUser {
        blueprint_tag: user
            .tags()
            .iter()
            .find(|t| t.key() == OWNER_TAG)
            .map(|t| t.value().to_owned()),
        boundary: user
            .permissions_boundary()
            .and_then(|b| b.permissions_boundary_arn())
            .map(str::to_owned),
        policy,
        access_keys,
        created,
    }))
}

/// The messages of the bounce log's events since `since_ms` (milliseconds since the epoch),
/// every page; `None` when the log group does not exist.
pub async fn bounce_events(
    aws: &Aws,
    group: &str,
    since_ms: Option<i64>,
) -> Result<Option<Vec<String>>, AwsError> {
    use aws_sdk_cloudwatchlogs::error::ProvideErrorMetadata as _;
    let mut messages = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = match aws
            .logs
            .filter_log_events()
            .log_group_name(group)
            .set_start_time(since_ms)
            .set_next_token(token.clone())
            .send()
            .await
        {
            Ok(page) => page,
            Err(e) if e.code() == Some("ResourceNotFoundException") => return Ok(None),
            Err(e) => return Err(AwsError::call(&ops::FILTER_LOG_EVENTS, e)),
        };
        messages.extend(
            page.events()
                .iter()
                .filter_map(|e| e.message().map(str::to_owned)),
        );
        match page.next_token() {
            Some(t) if !t.is_empty() && token.as_deref() != Some(t) => token = Some(t.to_owned()),
            _ => break,
        }
    }
    Ok(Some(messages))
}

/// The bounce log group's retention, when the group exists.
async fn bounce_log(aws: &Aws, name: &str) -> Result<Option<Option<i32>>, AwsError> {
    let out = aws
        .logs
        .describe_log_groups()
        .log_group_name_prefix(name)
        .send()
        .await
        .map_err(|e| AwsError::call(&ops::DESCRIBE_LOG_GROUPS, e))?;
    Ok(out
        .log_groups()
        .iter()
        .find(|g| g.log_group_name() == Some(name))
        .map(|g| g.retention_in_days()))
}

/// The KMS key the blueprint's alias names, with its policy; `None` when there is no such
/// alias (KMS answers NotFoundException).
async fn kms_key(
    aws: &Aws,
    alias: &str,
    blueprint: &str,
) -> Result<Option<super::ObservedKmsKey>, AwsError> {
    use aws_sdk_kms::error::ProvideErrorMetadata as _;
    let meta = match aws.kms.describe_key().key_id(alias).send().await {
        Ok(out) => out.key_metadata().cloned(),
        Err(e) if e.code() == Some("NotFoundException") => return Ok(None),
        Err(e) => return Err(AwsError::call(&ops::DESCRIBE_KEY, e)),
    };
    let Some(meta) = meta else { return Ok(None) };
    let id = meta.key_id().to_owned();
    let policy = aws
        .kms
        .get_key_policy()
        .key_id(&id)
        .policy_name("default")
        .send()
        .await
        .map_err(|e| AwsError::call(&ops::GET_KEY_POLICY, e))?
        .policy()
        .map(str::to_owned);
    // Whether mailinfra made it: the tags KMS lists are readable with the key's own
    // permissions only, so the key's description (set at creation, and only ever by a
    // principal allowed to create keys in the account) carries the blueprint's name.
    let owned = meta.description() == Some(super::kms_description(blueprint).as_str());
    Ok(Some(super::ObservedKmsKey {
        id,
        arn: meta.arn().unwrap_or_default().to_owned(),
        state: meta
            .key_state()
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default(),
        policy,
        owned,
    }))
}

async fn parameter(aws: &Aws, name: &str) -> Result<Option<String>, AwsError> {
    use aws_sdk_ssm::error::ProvideErrorMetadata as _;
    match aws.ssm.get_parameter().name(name).send().await {
        Ok(out) => Ok(out.parameter().and_then(|p| p.value()).map(str::to_owned)),
        Err(e) if e.code() == Some("ParameterNotFound") => Ok(None),
        Err(e) => Err(AwsError::call(&ops::GET_PARAMETER, e)),
    }
}

/// The image to launch, and what the instance type can run.
struct LaunchImage {
    architectures: Vec<String>,
    id: Option<String>,
    architecture: Option<String>,
    /// A pinned image's owner (Debian's parameter is trusted as it is).
    owner: Option<super::ImageOwner>,
}

/// `debian-12` through Debian's public parameter for the instance type's architecture (x86_64
/// first, for a type that runs both); an AMI id with its architecture from DescribeImages.
async fn image(aws: &Aws, g: &DesiredGateway) -> Result<LaunchImage, AwsError> {
    let architectures = architectures(aws, &g.instance_type).await?;
    if g.pins_image() {
        let (architecture, owner) = ami(aws, &g.image).await?.unzip();
        // The caller's own account is asked only when it decides: another owner than Debian.
        let account = match &owner {
            Some(o) if o != super::DEBIAN_OWNER => Some(account_id(aws).await?),
            _ => None,
        };
        return Ok(LaunchImage {
            architectures,
            id: architecture.is_some().then(|| g.image.clone()),
            architecture,
            owner: owner.map(|owner| super::ImageOwner { owner, account }),
        });
    }
    let debian = ["x86_64", "arm64"]
        .into_iter()
        .find(|a| architectures.iter().any(|t| t == a));
    let Some(name) = debian.and_then(super::debian_12_parameter) else {
        return Ok(LaunchImage {
            architectures,
            id: None,
            architecture: None,
            owner: None,
        });
    };
    let out = aws
        .ssm
        .get_parameter()
        .name(name)
        .send()
        .await
        .map_err(|e| AwsError::call(&ops::GET_PUBLIC_PARAMETER, e))?;
    Ok(LaunchImage {
        architectures,
        id: out.parameter().and_then(|p| p.value()).map(str::to_owned),
        architecture: debian.map(str::to_owned),
        owner: None,
    })
}

/// The architectures an instance type runs; none for a type EC2 does not know.
async fn architectures(aws: &Aws, instance_type: &str) -> Result<Vec<String>, AwsError> {
    use aws_sdk_ec2::error::ProvideErrorMetadata as _;
    let answer = aws
        .ec2
        .describe_instance_types()
        .instance_types(InstanceType::from(instance_type))
        .send()
        .await;
    let out = match answer {
        Ok(out) => out,
        Err(e) if e.code() == Some("InvalidInstanceType") => return Ok(Vec::new()),
        Err(e) => return Err(AwsError::call(&ops::DESCRIBE_INSTANCE_TYPES, e)),
    };
    Ok(out
        .instance_types()
        .iter()
        .filter_map(|t| t.processor_info())
        .flat_map(|p| p.supported_architectures())
        .map(|a| a.as_str().to_owned())
        .collect())
}

/// A pinned image's architecture and owner account; `None` when EC2 does not know the image
/// here.
async fn ami(aws: &Aws, image: &str) -> Result<Option<(String, String)>, AwsError> {
    use aws_sdk_ec2::error::ProvideErrorMetadata as _;
    let answer = aws.ec2.describe_images().image_ids(image).send().await;
    match answer {
        Ok(out) => Ok(out.images().first().map(|i| {
            (
                i.architecture()
                    .map_or(String::new(), |a| a.as_str().to_owned()),
                i.owner_id().unwrap_or_default().to_owned(),
            )
        })),
        Err(e) if e.code().is_some_and(|c| c.starts_with("InvalidAMIID.")) => Ok(None),
        Err(e) => Err(AwsError::call(&ops::DESCRIBE_IMAGES, e)),
    }
}

/// The caller's account id (GetCallerIdentity needs no permission).
async fn account_id(aws: &Aws) -> Result<String, AwsError> {
    let who = aws
        .sts
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| AwsError::call(&ops::GATEWAY_CALLER_IDENTITY, e))?;
    Ok(who.account().unwrap_or_default().to_owned())
}

/// IAM returns policy documents URL-encoded (RFC 3986).
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    #[test]
    fn policy_documents_are_url_decoded() {
        assert_eq!(super::percent_decode("%7B%22a%22%3A1%7D"), "{\"a\":1}");
    }
}
