//! The emulator extension's EC2 and SSM behaviours (emulator/README.md), each shown through
//! the real SDK.

mod common;

use aws_sdk_ec2::error::ProvideErrorMetadata;
use aws_sdk_ec2::types::{AddressAttributeName, DomainType};
use aws_sdk_route53::types::ChangeAction::Create;
use common::Account;

const R: &str = "eu-west-1";

async fn debian(acct: &Account) -> String {
    let p = acct
        .ssm(R)
        .get_parameter()
        .name("/aws/service/debian/release/12/latest/amd64")
        .send()
        .await
        .unwrap();
    p.parameter().unwrap().value().unwrap().to_owned()
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

    // After termination the token still answers, with the instance as it is now.
    ec2.terminate_instances()
        .instance_ids(&ids[0])
        .send()
        .await
        .unwrap();
    let again = ec2
        .run_instances()
        .image_id(&ami)
        .min_count(1)
        .max_count(1)
        .client_token("same")
        .send()
        .await
        .unwrap();
    let instance = &again.instances()[0];
    assert_eq!(instance.instance_id(), Some(ids[0].as_str()));
    assert_eq!(
        instance.state().and_then(|s| s.name()).map(|n| n.as_str()),
        Some("terminated")
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
    let err = ec2
        .release_address()
        .allocation_id(&allocation)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InvalidIPAddress.InUse"));

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
