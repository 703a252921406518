//! Ownership that cannot be forged into deletion, against the emulator: ownership records
//! and tags someone else wrote, claiming a blueprint, make neither `plan` nor `destroy`
//! delete an MX or A record mailinfra never writes, records in a zone the blueprint does not
//! name, an instance, a security group or an Elastic IP that is not the gateway's
//! (docs/ownership.md).

mod common;

use aws_sdk_ec2::types::{
    Filter, IamInstanceProfileSpecification, InstanceType, ResourceType, Tag, TagSpecification,
};
use aws_sdk_route53::types::{ChangeAction, Tag as ZoneTag, TagResourceType};
use common::{Account, GATEWAY, q};

const R: &str = "eu-west-1";
const RECORDS: &str = "blueprint: acme
domains:
  - domain: example.com
    dmarc: { policy: none }
";

fn marker(blueprint: &str) -> String {
    q(&format!(
        "heritage=mailinfra,mailinfra/blueprint={blueprint},mailinfra/owns=all"
    ))
}

#[tokio::test]
async fn forged_ownership_records_delete_nothing() {
    let acct = Account::new();
    let zone = acct.create_zone("example.com").await;
    acct.write("b.yaml", RECORDS);
    let run = acct.mailinfra(&["apply", "b.yaml", "--yes"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);

    // Someone with TXT write access claims the apex MX and `www` A for the blueprint, and
    // tags a zone it never named as part of its footprint.
    let owner = marker("acme");
    acct.change(
        &zone,
        &[
            (
                ChangeAction::Create,
                "example.com",
                "MX",
                300,
                &["10 mx.example.com"],
            ),
            (
                ChangeAction::Create,
                "_mailinfra-mx.example.com",
                "TXT",
                300,
                &[owner.as_str()],
            ),
            (
                ChangeAction::Create,
                "www.example.com",
                "A",
                300,
                &["192.0.2.1"],
            ),
            (
                ChangeAction::Create,
                "_mailinfra-a.www.example.com",
                "TXT",
                300,
                &[owner.as_str()],
            ),
        ],
    )
    .await
    .unwrap();
    let victim = acct.create_zone("victim.test").await;
    let spf = q("v=spf1 -all");
    acct.change(
        &victim,
        &[
            (
                ChangeAction::Create,
                "victim.test",
                "TXT",
                300,
                &[spf.as_str()],
            ),
            (
                ChangeAction::Create,
                "_mailinfra-txt.victim.test",
                "TXT",
                300,
                &[owner.as_str()],
            ),
        ],
    )
    .await
    .unwrap();
    acct.route53()
        .change_tags_for_resource()
        .resource_type(TagResourceType::Hostedzone)
        .resource_id(&victim)
        .add_tags(
            ZoneTag::builder()
                .key("mailinfra:blueprint:acme")
                .value("records")
                .build(),
        )
        .send()
        .await
        .unwrap();

    let plan = acct.mailinfra(&["plan", "b.yaml"]);
    assert_eq!(plan.code, 0, "{}\n{}", plan.stdout, plan.stderr);
    for (forged, claim) in [
        (
            "dns.example.com.MX",
            "`_mailinfra-mx.example.com` claims `example.com` MX for this blueprint, but blueprint `acme` never writes MX at `example.com`",
        ),
        (
            "dns.www.example.com.A",
            "`_mailinfra-a.www.example.com` claims `www.example.com` A",
        ),
        (
            "dns.victim.test.TXT",
            "but blueprint `acme` does not name zone `victim.test`",
        ),
    ] {
        assert!(
            !plan.stdout.contains(&format!("delete  {forged}")),
            "{}",
            plan.stdout
        );
        assert!(plan.stdout.contains(claim), "reported: {}", plan.stdout);
    }

    let run = acct.mailinfra(&["destroy", "b.yaml", "--yes"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let left = acct.records(&zone).await;
    for key in [
        ("example.com", "MX"),
        ("www.example.com", "A"),
        ("_mailinfra-mx.example.com", "TXT"),
    ] {
        assert!(
            left.contains_key(&(key.0.to_owned(), key.1.to_owned())),
            "{key:?} was deleted: {left:?}"
        );
    }
    assert!(
        !left.contains_key(&("_dmarc.example.com".to_owned(), "TXT".to_owned())),
        "the blueprint's own record goes: {left:?}"
    );
    let left = acct.records(&victim).await;
    assert!(
        left.contains_key(&("victim.test".to_owned(), "TXT".to_owned())),
        "{left:?}"
    );
}

fn tags(pairs: &[(&str, &str)]) -> Vec<Tag> {
    pairs
        .iter()
        .map(|(k, v)| Tag::builder().key(*k).value(*v).build())
        .collect()
}

fn spec(kind: ResourceType, pairs: &[(&str, &str)]) -> TagSpecification {
    TagSpecification::builder()
        .resource_type(kind)
        .set_tags(Some(tags(pairs)))
        .build()
}

/// An instance, security group and Elastic IP that are someone else's, tagged as the gateway's.
/// Returns (instance id, group id, allocation id).
async fn forge_gateway(
    acct: &Account,
    group_name: &str,
    profile: Option<&str>,
) -> (String, String, String) {
    let ec2 = acct.ec2(R);
    let image = ec2
        .describe_images()
        .owners("136693071363")
        .send()
        .await
        .unwrap()
        .images()[0]
        .image_id()
        .unwrap()
        .to_owned();
    let group = ec2
        .create_security_group()
        .group_name(group_name)
        .description("production web")
        .tag_specifications(spec(
            ResourceType::SecurityGroup,
            &[
                ("mailinfra:blueprint", "relay"),
                ("mailinfra:address", "gateway.security_group"),
            ],
        ))
        .send()
        .await
        .unwrap()
        .group_id()
        .unwrap()
        .to_owned();
    let mut run = ec2
        .run_instances()
        .image_id(image)
        .instance_type(InstanceType::M5Large)
        .min_count(1)
        .max_count(1)
        .security_group_ids(&group)
        .tag_specifications(spec(
            ResourceType::Instance,
            &[
                ("Name", "production-db"),
                ("mailinfra:blueprint", "relay"),
                ("mailinfra:address", "gateway.instance"),
                ("mailinfra:config", "0123456789abcdef0123456789abcdef"),
            ],
        ));
    if let Some(p) = profile {
        run = run.iam_instance_profile(IamInstanceProfileSpecification::builder().name(p).build());
    }
    let instance = run.send().await.unwrap().instances()[0]
        .instance_id()
        .unwrap()
        .to_owned();
    let allocation = ec2
        .allocate_address()
        .tag_specifications(spec(
            ResourceType::ElasticIp,
            &[
                ("mailinfra:blueprint", "relay"),
                ("mailinfra:address", "gateway.eip"),
            ],
        ))
        .send()
        .await
        .unwrap()
        .allocation_id()
        .unwrap()
        .to_owned();
    ec2.associate_address()
        .allocation_id(&allocation)
        .instance_id(&instance)
        .send()
        .await
        .unwrap();
    (instance, group, allocation)
}

async fn state(acct: &Account, instance: &str) -> String {
    let out = acct
        .ec2(R)
        .describe_instances()
        .instance_ids(instance)
        .send()
        .await
        .unwrap();
    out.reservations()[0].instances()[0]
        .state()
        .unwrap()
        .name()
        .unwrap()
        .as_str()
        .to_owned()
}

#[tokio::test]
async fn forged_tags_make_no_instance_group_or_address_the_gateways() {
    let acct = Account::new();
    acct.create_zone("example.com").await;
    acct.write("b.yaml", GATEWAY);
    let run = acct.mailinfra(&["apply", "b.yaml", "--yes"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    // One foreign instance without the gateway's profile, one with it but in another group.
    let (victim, group, address) = forge_gateway(&acct, "prod-web", None).await;
    let (with_profile, _, _) =
        forge_gateway(&acct, "prod-api", Some("mailinfra-relay-gateway")).await;

    let plan = acct.mailinfra(&["plan", "b.yaml", "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "{}\n{}", plan.stdout, plan.stderr);

    let ours = acct
        .ec2(R)
        .describe_security_groups()
        .filters(
            Filter::builder()
                .name("group-name")
                .values("mailinfra-relay-gateway")
                .build(),
        )
        .send()
        .await
        .unwrap()
        .security_groups()[0]
        .group_id()
        .unwrap()
        .to_owned();
    let plan = acct.mailinfra(&["destroy", "b.yaml", "--release-ip"]);
    assert!(
        plan.stdout.contains(&ours),
        "the plan names the group it deletes: {}",
        plan.stdout
    );
    for theirs in [&victim, &with_profile, &group, &address] {
        assert!(
            !plan.stdout.contains(theirs.as_str()),
            "{theirs}: {}",
            plan.stdout
        );
    }

    let run = acct.mailinfra(&["destroy", "b.yaml", "--yes", "--release-ip"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(state(&acct, &victim).await, "running");
    assert_eq!(state(&acct, &with_profile).await, "running");
    let groups = acct
        .ec2(R)
        .describe_security_groups()
        .group_ids(&group)
        .send()
        .await
        .unwrap();
    assert_eq!(groups.security_groups().len(), 1);
    let addresses = acct
        .ec2(R)
        .describe_addresses()
        .allocation_ids(&address)
        .send()
        .await
        .unwrap();
    assert_eq!(
        addresses.addresses()[0].instance_id(),
        Some(victim.as_str())
    );
}
