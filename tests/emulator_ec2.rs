//! The emulator extension's EC2 and SSM behaviours (emulator/README.md), each shown through
//! the real SDK.

mod common;

use aws_sdk_ec2::error::ProvideErrorMetadata;
use aws_sdk_ec2::types::{AddressAttributeName, DomainType};
use aws_sdk_route53::types::ChangeAction::Create;
use common::Account;

const R: &str = "eu-west-1";

async fn debian(acct: &Account) -> String {
    acct.debian_image(R).await
}

#[tokio::test]
async fn debian_12_resolves_through_its_public_parameter() {
    let acct = Account::new();
    let ami = debian(&acct).await;
    let images = acct
        .ec2(R)
        .describe_images()
        .image_ids(&ami)
        .send()
        .await
        .unwrap();
    let image = &images.images()[0];
    assert!(image.name().unwrap().starts_with("debian-12-amd64-"));
    assert_eq!(image.owner_id(), Some("136693071363"));
}

#[tokio::test]
async fn run_instances_with_a_client_token_is_idempotent() {
    let acct = Account::new();
    let ami = debian(&acct).await;
    let ec2 = acct.ec2(R);
    let mut ids = Vec::new();
    for _ in 0..2 {
        let out = ec2
            .run_instances()
            .image_id(&ami)
            .min_count(1)
            .max_count(1)
            .client_token("same")
            .send()
            .await
            .unwrap();
        ids.push(out.instances()[0].instance_id().unwrap().to_owned());
    }
    assert_eq!(ids[0], ids[1]);
    let other = ec2
        .run_instances()
        .image_id(&ami)
        .min_count(1)
        .max_count(1)
        .client_token("other")
        .send()
        .await
        .unwrap();
    assert_ne!(other.instances()[0].instance_id().unwrap(), ids[0]);
    let all = ec2.describe_instances().send().await.unwrap();
    assert_eq!(
        all.reservations()
            .iter()
            .map(|r| r.instances().len())
            .sum::<usize>(),
        2
    );

    // After termination EC2 remembers the token (at least 24 h) and refuses it: it launches
    // nothing anew and does not answer with the terminated instance.
    ec2.terminate_instances()
        .instance_ids(&ids[0])
        .send()
        .await
        .unwrap();
    let err = ec2
        .run_instances()
        .image_id(&ami)
        .min_count(1)
        .max_count(1)
        .client_token("same")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("IdempotentInstanceTerminated"));
    let all = ec2.describe_instances().send().await.unwrap();
    assert_eq!(
        all.reservations()
            .iter()
            .map(|r| r.instances().len())
            .sum::<usize>(),
        2
    );
    // The same token with other parameters is refused.
    let err = ec2
        .run_instances()
        .image_id(&ami)
        .instance_type(aws_sdk_ec2::types::InstanceType::T3Small)
        .min_count(1)
        .max_count(1)
        .client_token("same")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("IdempotentParameterMismatch"));
}

#[tokio::test]
async fn reverse_dns_waits_for_the_a_record_and_locks_the_address() {
    let acct = Account::new();
    let ec2 = acct.ec2(R);
    let ami = debian(&acct).await;
    let instance = ec2
        .run_instances()
        .image_id(&ami)
        .min_count(1)
        .max_count(1)
        .send()
        .await
        .unwrap();
    let instance = instance.instances()[0].instance_id().unwrap().to_owned();
    let eip = ec2
        .allocate_address()
        .domain(DomainType::Vpc)
        .send()
        .await
        .unwrap();
    let (allocation, ip) = (
        eip.allocation_id().unwrap().to_owned(),
        eip.public_ip().unwrap().to_owned(),
    );
    ec2.associate_address()
        .allocation_id(&allocation)
        .instance_id(&instance)
        .send()
        .await
        .unwrap();
    let modified = ec2
        .modify_address_attribute()
        .allocation_id(&allocation)
        .domain_name("mail.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(
        modified
            .address()
            .unwrap()
            .ptr_record_update()
            .unwrap()
            .status(),
        Some("PENDING")
    );
    let attr = || {
        ec2.describe_addresses_attribute()
            .allocation_ids(&allocation)
            .attribute(AddressAttributeName::DomainName)
            .send()
    };
    assert_eq!(attr().await.unwrap().addresses()[0].ptr_record(), None);

    let zone = acct.create_zone("example.com").await;
    acct.change(&zone, &[(Create, "mail.example.com", "A", 300, &[&ip])])
        .await
        .unwrap();
    let done = attr().await.unwrap();
    assert_eq!(done.addresses()[0].ptr_record(), Some("mail.example.com."));
    assert!(done.addresses()[0].ptr_record_update().is_none());

    // Terminating the instance frees the address, but the PTR still locks it.
    ec2.terminate_instances()
        .instance_ids(&instance)
        .send()
        .await
        .unwrap();
    let after = ec2
        .describe_addresses()
        .allocation_ids(&allocation)
        .send()
        .await
        .unwrap();
    assert!(after.addresses()[0].instance_id().is_none_or(str::is_empty));
    let err = ec2
        .release_address()
        .allocation_id(&allocation)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InvalidAddress.Locked"));
    ec2.reset_address_attribute()
        .allocation_id(&allocation)
        .attribute(AddressAttributeName::DomainName)
        .send()
        .await
        .unwrap();
    ec2.release_address()
        .allocation_id(&allocation)
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn the_delay_hook_holds_one_operation_of_one_account() {
    let acct = Account::new();
    acct.delay("ec2.AllocateAddress", 1.0);
    let start = std::time::Instant::now();
    acct.ec2(R)
        .allocate_address()
        .domain(DomainType::Vpc)
        .send()
        .await
        .unwrap();
    assert!(start.elapsed() >= std::time::Duration::from_secs(1));
    acct.delay("ec2.AllocateAddress", 0.0);
    let start = std::time::Instant::now();
    acct.ec2(R)
        .allocate_address()
        .domain(DomainType::Vpc)
        .send()
        .await
        .unwrap();
    assert!(start.elapsed() < std::time::Duration::from_secs(1));
}

#[tokio::test]
async fn the_launch_failure_hook_terminates_the_next_launch_with_its_state_reason() {
    let acct = Account::new();
    let ami = debian(&acct).await;
    let ec2 = acct.ec2(R);
    acct.fail_next_launch(
        "Client.InternalError",
        "Client.InternalError: Client error on launch",
    );
    let launch = |token: &'static str| {
        ec2.run_instances()
            .image_id(&ami)
            .min_count(1)
            .max_count(1)
            .client_token(token)
            .send()
    };
    let out = launch("doomed").await.unwrap();
    let instance = &out.instances()[0];
    // RunInstances answers `pending`; the instance is gone when next looked at.
    assert_eq!(
        instance.state().and_then(|s| s.name()).map(|n| n.as_str()),
        Some("pending")
    );
    let id = instance.instance_id().unwrap().to_owned();
    let seen = ec2
        .describe_instances()
        .instance_ids(&id)
        .send()
        .await
        .unwrap();
    let seen = &seen.reservations()[0].instances()[0];
    assert_eq!(
        seen.state().and_then(|s| s.name()).map(|n| n.as_str()),
        Some("terminated")
    );
    let reason = seen.state_reason().unwrap();
    assert_eq!(reason.code(), Some("Client.InternalError"));
    assert_eq!(
        reason.message(),
        Some("Client.InternalError: Client error on launch")
    );
    // Its token is spent; the hook was for one launch only.
    let err = launch("doomed").await.unwrap_err();
    assert_eq!(err.code(), Some("IdempotentInstanceTerminated"));
    let fine = launch("fine").await.unwrap();
    let fine = fine.instances()[0].instance_id().unwrap().to_owned();
    let seen = ec2
        .describe_instances()
        .instance_ids(&fine)
        .send()
        .await
        .unwrap();
    assert_eq!(
        seen.reservations()[0].instances()[0]
            .state()
            .and_then(|s| s.name())
            .map(|n| n.as_str()),
        Some("running")
    );
}

#[tokio::test]
async fn the_reverse_dns_failure_hook_ends_the_next_update_failed_with_its_reason() {
    let acct = Account::new();
    let ec2 = acct.ec2(R);
    let eip = ec2
        .allocate_address()
        .domain(DomainType::Vpc)
        .send()
        .await
        .unwrap();
    let (allocation, ip) = (
        eip.allocation_id().unwrap().to_owned(),
        eip.public_ip().unwrap().to_owned(),
    );
    let zone = acct.create_zone("example.com").await;
    acct.change(&zone, &[(Create, "mail.example.com", "A", 300, &[&ip])])
        .await
        .unwrap();
    acct.fail_next_reverse_dns("The forward DNS record does not resolve to the address");
    let set = || {
        ec2.modify_address_attribute()
            .allocation_id(&allocation)
            .domain_name("mail.example.com")
            .send()
    };
    let attr = || {
        ec2.describe_addresses_attribute()
            .allocation_ids(&allocation)
            .attribute(AddressAttributeName::DomainName)
            .send()
    };
    let modified = set().await.unwrap();
    let update = modified.address().unwrap().ptr_record_update().unwrap();
    assert_eq!(update.status(), Some("PENDING"));
    let seen = attr().await.unwrap();
    let address = &seen.addresses()[0];
    assert_eq!(address.ptr_record(), None);
    let update = address.ptr_record_update().unwrap();
    assert_eq!(update.value(), Some("mail.example.com"));
    assert_eq!(update.status(), Some("FAILED"));
    assert_eq!(
        update.reason(),
        Some("The forward DNS record does not resolve to the address")
    );
    // A new update (the hook was for one) completes.
    set().await.unwrap();
    let seen = attr().await.unwrap();
    assert_eq!(seen.addresses()[0].ptr_record(), Some("mail.example.com."));
    assert!(seen.addresses()[0].ptr_record_update().is_none());
}

#[tokio::test]
async fn the_hide_new_hook_makes_new_resources_unknown_for_a_while() {
    let acct = Account::new();
    let ec2 = acct.ec2(R);
    let ami = debian(&acct).await;
    acct.ec2_hook("hide-new", "seconds=2");
    let started = std::time::Instant::now();
    let eip = ec2
        .allocate_address()
        .domain(DomainType::Vpc)
        .send()
        .await
        .unwrap();
    let allocation = eip.allocation_id().unwrap().to_owned();
    let err = ec2
        .describe_addresses()
        .allocation_ids(&allocation)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InvalidAllocationID.NotFound"));
    let listed = ec2.describe_addresses().send().await.unwrap();
    assert!(listed.addresses().is_empty(), "{listed:?}");

    let vpc = ec2.describe_vpcs().send().await.unwrap().vpcs()[0]
        .vpc_id()
        .unwrap()
        .to_owned();
    let group = ec2
        .create_security_group()
        .group_name("g")
        .description("g")
        .vpc_id(&vpc)
        .send()
        .await
        .unwrap();
    let group = group.group_id().unwrap().to_owned();
    let err = ec2
        .authorize_security_group_ingress()
        .group_id(&group)
        .ip_permissions(
            aws_sdk_ec2::types::IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(25)
                .to_port(25)
                .ip_ranges(
                    aws_sdk_ec2::types::IpRange::builder()
                        .cidr_ip("10.0.0.0/16")
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InvalidGroup.NotFound"));

    let run = ec2
        .run_instances()
        .image_id(&ami)
        .min_count(1)
        .max_count(1)
        .send()
        .await
        .unwrap();
    let instance = run.instances()[0].instance_id().unwrap().to_owned();
    let err = ec2
        .describe_instances()
        .instance_ids(&instance)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InvalidInstanceID.NotFound"));

    // Two seconds after they were made, every one is known.
    tokio::time::sleep(std::time::Duration::from_millis(2500).saturating_sub(started.elapsed()))
        .await;
    ec2.describe_addresses()
        .allocation_ids(&allocation)
        .send()
        .await
        .unwrap();
    ec2.describe_instances()
        .instance_ids(&instance)
        .send()
        .await
        .unwrap();
    ec2.describe_security_groups()
        .group_ids(&group)
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn a_reverse_dns_removal_stays_pending_and_locks_the_address_with_the_ptr_delay_hook() {
    let acct = Account::new();
    let ec2 = acct.ec2(R);
    let eip = ec2
        .allocate_address()
        .domain(DomainType::Vpc)
        .send()
        .await
        .unwrap();
    let (allocation, ip) = (
        eip.allocation_id().unwrap().to_owned(),
        eip.public_ip().unwrap().to_owned(),
    );
    let zone = acct.create_zone("example.com").await;
    acct.change(&zone, &[(Create, "mail.example.com", "A", 300, &[&ip])])
        .await
        .unwrap();
    ec2.modify_address_attribute()
        .allocation_id(&allocation)
        .domain_name("mail.example.com")
        .send()
        .await
        .unwrap();
    let attr = || {
        ec2.describe_addresses_attribute()
            .allocation_ids(&allocation)
            .attribute(AddressAttributeName::DomainName)
            .send()
    };
    assert_eq!(
        attr().await.unwrap().addresses()[0].ptr_record(),
        Some("mail.example.com.")
    );
    acct.ec2_hook("ptr-delay", "seconds=2");
    let reset = ec2
        .reset_address_attribute()
        .allocation_id(&allocation)
        .attribute(AddressAttributeName::DomainName)
        .send()
        .await
        .unwrap();
    let update = reset.address().unwrap().ptr_record_update().unwrap();
    assert_eq!(update.status(), Some("PENDING"));
    let seen = attr().await.unwrap();
    assert_eq!(seen.addresses()[0].ptr_record(), Some("mail.example.com."));
    assert_eq!(
        seen.addresses()[0].ptr_record_update().unwrap().status(),
        Some("PENDING")
    );
    let err = ec2
        .release_address()
        .allocation_id(&allocation)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InvalidAddress.Locked"));
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let seen = attr().await.unwrap();
    assert_eq!(seen.addresses()[0].ptr_record(), None);
    assert!(seen.addresses()[0].ptr_record_update().is_none());
    ec2.release_address()
        .allocation_id(&allocation)
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn debian_publishes_an_arm64_image_and_run_instances_refuses_a_mismatched_architecture() {
    let acct = Account::new();
    let ssm = acct.ssm(R);
    let ec2 = acct.ec2(R);
    let p = ssm
        .get_parameter()
        .name("/aws/service/debian/release/12/latest/arm64")
        .send()
        .await
        .unwrap();
    let arm64 = p.parameter().unwrap().value().unwrap().to_owned();
    let images = ec2
        .describe_images()
        .image_ids(&arm64)
        .send()
        .await
        .unwrap();
    let image = &images.images()[0];
    assert!(image.name().unwrap().starts_with("debian-12-arm64-"));
    assert_eq!(image.architecture().map(|a| a.as_str()), Some("arm64"));
    let amd64 = debian(&acct).await;
    let launch = |image: &str, t: aws_sdk_ec2::types::InstanceType| {
        ec2.run_instances()
            .image_id(image)
            .instance_type(t)
            .min_count(1)
            .max_count(1)
            .send()
    };
    let err = launch(&amd64, aws_sdk_ec2::types::InstanceType::T4gMicro)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InvalidParameterValue"));
    assert!(
        err.message().unwrap().starts_with(
            "The architecture 'arm64' of the specified instance type does not match the architecture 'x86_64' of the specified AMI."
        ),
        "{err:?}"
    );
    launch(&arm64, aws_sdk_ec2::types::InstanceType::T4gMicro)
        .await
        .unwrap();
}

#[tokio::test]
async fn run_instances_refuses_a_security_group_of_another_vpc_than_the_subnet() {
    let acct = Account::new();
    let ec2 = acct.ec2(R);
    let ami = debian(&acct).await;
    let vpc = ec2
        .create_vpc()
        .cidr_block("10.1.0.0/16")
        .send()
        .await
        .unwrap();
    let vpc = vpc.vpc().unwrap().vpc_id().unwrap().to_owned();
    let group = ec2
        .create_security_group()
        .group_name("elsewhere")
        .description("elsewhere")
        .vpc_id(&vpc)
        .send()
        .await
        .unwrap();
    let group = group.group_id().unwrap().to_owned();
    let subnets = ec2.describe_subnets().send().await.unwrap();
    let subnet = subnets
        .subnets()
        .iter()
        .find(|s| s.vpc_id() != Some(vpc.as_str()))
        .unwrap()
        .subnet_id()
        .unwrap()
        .to_owned();
    let err = ec2
        .run_instances()
        .image_id(&ami)
        .min_count(1)
        .max_count(1)
        .subnet_id(&subnet)
        .security_group_ids(&group)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InvalidParameter"));
    assert_eq!(
        err.message(),
        Some(
            format!("Security group {group} and subnet {subnet} belong to different networks.")
                .as_str()
        )
    );
}

#[tokio::test]
async fn the_withhold_type_hook_takes_a_type_out_of_one_zone() {
    let acct = Account::new();
    let ec2 = acct.ec2(R);
    let ami = debian(&acct).await;
    acct.ec2_hook("withhold-type", "type=t3.micro&zone=eu-west-1a");
    let offered = ec2
        .describe_instance_type_offerings()
        .location_type(aws_sdk_ec2::types::LocationType::AvailabilityZone)
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("instance-type")
                .values("t3.micro")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let mut zones: Vec<_> = offered
        .instance_type_offerings()
        .iter()
        .map(|o| o.location().unwrap().to_owned())
        .collect();
    zones.sort();
    assert_eq!(zones, ["eu-west-1b", "eu-west-1c"]);
    let subnets = ec2.describe_subnets().send().await.unwrap();
    let in_zone = |zone: &str| {
        subnets
            .subnets()
            .iter()
            .find(|s| s.availability_zone() == Some(zone))
            .unwrap()
            .subnet_id()
            .unwrap()
            .to_owned()
    };
    let launch = |subnet: String| {
        ec2.run_instances()
            .image_id(&ami)
            .instance_type(aws_sdk_ec2::types::InstanceType::T3Micro)
            .subnet_id(subnet)
            .min_count(1)
            .max_count(1)
            .send()
    };
    let err = launch(in_zone("eu-west-1a")).await.unwrap_err();
    assert_eq!(err.code(), Some("Unsupported"));
    assert!(
        err.message().unwrap().starts_with(
            "Your requested instance type (t3.micro) is not supported in your requested Availability Zone (eu-west-1a)."
        ),
        "{err:?}"
    );
    launch(in_zone("eu-west-1b")).await.unwrap();
}

#[tokio::test]
async fn the_default_vpc_routes_to_an_internet_gateway() {
    let acct = Account::new();
    let ec2 = acct.ec2(R);
    let vpcs = ec2
        .describe_vpcs()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("is-default")
                .values("true")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let vpc = vpcs.vpcs()[0].vpc_id().unwrap().to_owned();
    let tables = ec2
        .describe_route_tables()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("vpc-id")
                .values(&vpc)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let main = tables
        .route_tables()
        .iter()
        .find(|t| t.associations().iter().any(|a| a.main() == Some(true)))
        .unwrap();
    let igw = main
        .routes()
        .iter()
        .find(|r| r.destination_cidr_block() == Some("0.0.0.0/0"))
        .and_then(|r| r.gateway_id())
        .unwrap();
    assert!(igw.starts_with("igw-"), "{igw}");
    let gateways = ec2
        .describe_internet_gateways()
        .internet_gateway_ids(igw)
        .send()
        .await
        .unwrap();
    assert_eq!(
        gateways.internet_gateways()[0].attachments()[0].vpc_id(),
        Some(vpc.as_str())
    );
}

/// ReleaseAddress of an associated address: silently disassociated and released in the
/// default VPC, refused in any other (API_ReleaseAddress). Two applies at once once released
/// the address the other had just associated this way.
#[tokio::test]
async fn releasing_an_associated_address_depends_on_the_vpc() {
    let acct = Account::new();
    let ec2 = acct.ec2(R);
    let ami = debian(&acct).await;
    let vpc = ec2
        .create_vpc()
        .cidr_block("10.9.0.0/16")
        .send()
        .await
        .unwrap();
    let vpc = vpc.vpc().unwrap().vpc_id().unwrap().to_owned();
    let subnet = ec2
        .create_subnet()
        .vpc_id(&vpc)
        .cidr_block("10.9.1.0/24")
        .send()
        .await
        .unwrap();
    let subnet = subnet.subnet().unwrap().subnet_id().unwrap().to_owned();
    for (own_vpc, refused) in [(None, false), (Some(subnet.as_str()), true)] {
        let launched = ec2
            .run_instances()
            .image_id(&ami)
            .min_count(1)
            .max_count(1)
            .set_subnet_id(own_vpc.map(str::to_owned))
            .send()
            .await
            .unwrap();
        let instance = launched.instances()[0].instance_id().unwrap().to_owned();
        let eip = ec2
            .allocate_address()
            .domain(DomainType::Vpc)
            .send()
            .await
            .unwrap();
        let allocation = eip.allocation_id().unwrap().to_owned();
        ec2.associate_address()
            .allocation_id(&allocation)
            .instance_id(&instance)
            .send()
            .await
            .unwrap();
        let released = ec2
            .release_address()
            .allocation_id(&allocation)
            .send()
            .await;
        if refused {
            assert_eq!(
                released.unwrap_err().code(),
                Some("InvalidIPAddress.InUse"),
                "another VPC"
            );
        } else {
            released.expect("the default VPC releases an associated address");
            let left = ec2.describe_addresses().send().await.unwrap();
            assert!(
                left.addresses()
                    .iter()
                    .all(|a| a.allocation_id() != Some(allocation.as_str())),
                "{left:?}"
            );
        }
    }
}

#[tokio::test]
async fn launch_defaults_registered_images_and_user_data_changes_behave_as_on_ec2() {
    use aws_sdk_ec2::primitives::Blob;
    use aws_sdk_ec2::types::{
        ArchitectureValues, BlockDeviceMapping, EbsBlockDevice, ImdsSupportValues,
        InstanceAttributeName, SecureBlobAttributeValue,
    };
    use base64::Engine as _;
    let acct = Account::new();
    let ec2 = acct.ec2(R);
    // RegisterImage keeps what it was given; i386 without an architecture.
    let image = ec2
        .register_image()
        .name("own-image")
        .architecture(ArchitectureValues::X8664)
        .root_device_name("/dev/xvda")
        .imds_support(ImdsSupportValues::V20)
        .send()
        .await
        .unwrap()
        .image_id()
        .unwrap()
        .to_owned();
    let plain = ec2
        .register_image()
        .name("plain-image")
        .send()
        .await
        .unwrap()
        .image_id()
        .unwrap()
        .to_owned();
    let images = ec2
        .describe_images()
        .image_ids(&image)
        .image_ids(&plain)
        .send()
        .await
        .unwrap();
    let arch = |id: &str| {
        images
            .images()
            .iter()
            .find(|i| i.image_id() == Some(id))
            .and_then(|i| i.architecture())
            .map(|a| a.as_str().to_owned())
    };
    assert_eq!(arch(&image).as_deref(), Some("x86_64"));
    assert_eq!(arch(&plain).as_deref(), Some("i386"));

    // An image with ImdsSupport v2.0 defaults to two hops; asked for, one.
    let launch = |hops: Option<i32>| {
        let mut options = aws_sdk_ec2::types::InstanceMetadataOptionsRequest::builder()
            .http_tokens(aws_sdk_ec2::types::HttpTokensState::Required);
        if let Some(h) = hops {
            options = options.http_put_response_hop_limit(h);
        }
        ec2.run_instances()
            .image_id(&image)
            .min_count(1)
            .max_count(1)
            .metadata_options(options.build())
            .block_device_mappings(
                BlockDeviceMapping::builder()
                    .device_name("/dev/xvda")
                    .ebs(EbsBlockDevice::builder().encrypted(true).build())
                    .build(),
            )
            .user_data(base64::engine::general_purpose::STANDARD.encode("#!/bin/sh\necho a\n"))
            .send()
    };
    let default = launch(None).await.unwrap();
    let one = launch(Some(1)).await.unwrap();
    let hops = |out: &aws_sdk_ec2::operation::run_instances::RunInstancesOutput| {
        out.instances()[0]
            .metadata_options()
            .unwrap()
            .http_put_response_hop_limit()
    };
    assert_eq!(hops(&default), Some(2));
    assert_eq!(hops(&one), Some(1));

    // The root mapping without a size takes the image's: 8 GiB, encrypted as asked.
    let id = one.instances()[0].instance_id().unwrap().to_owned();
    let volumes = ec2
        .describe_volumes()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("attachment.instance-id")
                .values(&id)
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(volumes.volumes()[0].size(), Some(8));
    assert_eq!(volumes.volumes()[0].encrypted(), Some(true));

    // User data changed through the SDK while stopped reads back changed.
    ec2.stop_instances().instance_ids(&id).send().await.unwrap();
    ec2.modify_instance_attribute()
        .instance_id(&id)
        .user_data(
            SecureBlobAttributeValue::builder()
                .value(Blob::new("#!/bin/sh\necho b\n"))
                .build(),
        )
        .send()
        .await
        .unwrap();
    let ud = ec2
        .describe_instance_attribute()
        .instance_id(&id)
        .attribute(InstanceAttributeName::UserData)
        .send()
        .await
        .unwrap();
    let value = ud.user_data().unwrap().value().unwrap();
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(value)
            .unwrap(),
        b"#!/bin/sh\necho b\n"
    );
}

#[tokio::test]
async fn a_network_interface_launched_on_outlives_the_instance_with_its_elastic_ip() {
    use aws_sdk_ec2::types::InstanceNetworkInterfaceSpecification;
    let acct = Account::new();
    let ec2 = acct.ec2(R);
    let ami = debian(&acct).await;
    let subnets = ec2.describe_subnets().send().await.unwrap();
    let subnet = &subnets.subnets()[0];
    let group = ec2
        .create_security_group()
        .group_name("relay")
        .description("relay")
        .vpc_id(subnet.vpc_id().unwrap())
        .send()
        .await
        .unwrap();
    let group = group.group_id().unwrap().to_owned();
    let eni = ec2
        .create_network_interface()
        .subnet_id(subnet.subnet_id().unwrap())
        .groups(&group)
        .send()
        .await
        .unwrap();
    let eni = eni.network_interface().unwrap();
    let (eni, private) = (
        eni.network_interface_id().unwrap().to_owned(),
        eni.private_ip_address().unwrap().to_owned(),
    );
    let on_eni = || {
        ec2.run_instances()
            .image_id(&ami)
            .min_count(1)
            .max_count(1)
            .network_interfaces(
                InstanceNetworkInterfaceSpecification::builder()
                    .device_index(0)
                    .network_interface_id(&eni)
                    .build(),
            )
    };
    let first = on_eni().send().await.unwrap();
    let first = &first.instances()[0];
    assert_eq!(first.private_ip_address(), Some(private.as_str()));
    assert_eq!(
        first.security_groups()[0].group_id(),
        Some(group.as_str()),
        "the instance is in its interface's groups"
    );
    let first = first.instance_id().unwrap().to_owned();
    let allocation = ec2
        .allocate_address()
        .domain(DomainType::Vpc)
        .send()
        .await
        .unwrap()
        .allocation_id()
        .unwrap()
        .to_owned();
    ec2.associate_address()
        .allocation_id(&allocation)
        .network_interface_id(&eni)
        .send()
        .await
        .unwrap();
    let address = |ec2: aws_sdk_ec2::Client, allocation: String| async move {
        let out = ec2
            .describe_addresses()
            .allocation_ids(allocation)
            .send()
            .await
            .unwrap();
        let a = &out.addresses()[0];
        // moto writes "none" as an empty string.
        (
            a.network_interface_id()
                .filter(|i| !i.is_empty())
                .map(str::to_owned),
            a.instance_id().filter(|i| !i.is_empty()).map(str::to_owned),
        )
    };
    assert_eq!(
        address(ec2.clone(), allocation.clone()).await,
        (Some(eni.clone()), Some(first.clone())),
        "the address serves the instance the interface is on"
    );

    // In use: refused to a second launch and to deletion.
    let err = on_eni().send().await.unwrap_err();
    assert_eq!(err.code(), Some("InvalidNetworkInterface.InUse"));
    let err = ec2
        .delete_network_interface()
        .network_interface_id(&eni)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InvalidNetworkInterface.InUse"));

    // Terminated: the interface is free and keeps its Elastic IP; the next instance gets both.
    ec2.terminate_instances()
        .instance_ids(&first)
        .send()
        .await
        .unwrap();
    let n = ec2
        .describe_network_interfaces()
        .network_interface_ids(&eni)
        .send()
        .await
        .unwrap();
    assert_eq!(
        n.network_interfaces()[0].status().unwrap().as_str(),
        "available"
    );
    assert!(n.network_interfaces()[0].attachment().is_none());
    assert_eq!(
        address(ec2.clone(), allocation.clone()).await,
        (Some(eni.clone()), None)
    );
    let second = on_eni().send().await.unwrap();
    let second = second.instances()[0].instance_id().unwrap().to_owned();
    assert_eq!(
        address(ec2.clone(), allocation.clone()).await,
        (Some(eni.clone()), Some(second.clone()))
    );

    // An interface the launch creates goes with its instance, and its address is freed.
    let plain = ec2
        .run_instances()
        .image_id(&ami)
        .min_count(1)
        .max_count(1)
        .send()
        .await
        .unwrap();
    let plain = &plain.instances()[0];
    let own = plain.network_interfaces()[0]
        .network_interface_id()
        .unwrap()
        .to_owned();
    let plain = plain.instance_id().unwrap().to_owned();
    let other = ec2
        .allocate_address()
        .domain(DomainType::Vpc)
        .send()
        .await
        .unwrap()
        .allocation_id()
        .unwrap()
        .to_owned();
    ec2.associate_address()
        .allocation_id(&other)
        .instance_id(&plain)
        .send()
        .await
        .unwrap();
    ec2.terminate_instances()
        .instance_ids(&plain)
        .send()
        .await
        .unwrap();
    let gone = ec2
        .describe_network_interfaces()
        .network_interface_ids(&own)
        .send()
        .await;
    assert!(
        gone.map(|o| o.network_interfaces().is_empty())
            .unwrap_or(true),
        "deleted with its instance"
    );
    assert_eq!(address(ec2.clone(), other).await, (None, None));
}
