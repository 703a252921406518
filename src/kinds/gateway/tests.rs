//! The gateway's pure half: the parts of its diff, and what its observed values look like as
//! data (the observed checksum and the JSON plan depend on it).

use super::diff::{self, GatewayChange, GatewayOp};
use super::*;
use crate::plan::{Action, ReportKind};

fn desired() -> crate::plan::desired::Desired {
    let source = "blueprint: relay\nregion: eu-west-1\ngateway:\n  hostname: mail.example.com\n  relay_from: [10.0.0.0/16]\n  dkim: { selector: mta1 }\n";
    let bp = crate::blueprint::load("b.yaml", source, std::path::Path::new(".")).unwrap();
    crate::plan::desired::from_blueprint(&bp)
}

/// The gateway's diff as `plan` makes it: the key rotation decided first.
fn gateway_diff(
    d: &crate::plan::desired::Desired,
    o: Option<&ObservedGateway>,
    conflicts: &mut Vec<crate::plan::Conflict>,
) -> (Vec<GatewayChange>, Vec<crate::plan::Report>) {
    diff::diff(&d.with_gateway_keys(o), o, conflicts)
}

fn eip(id: &str, instance: Option<&str>, ptr: Option<&str>, pending: bool) -> ObservedEip {
    ObservedEip {
        allocation_id: id.into(),
        public_ip: format!("198.51.100.{}", id.len()),
        instance_id: instance.map(str::to_owned),
        association_id: instance.map(|_| format!("assoc-{id}")),
        ptr: ptr.map(str::to_owned),
        ptr_update: pending.then(|| PtrUpdate {
            value: "mail.example.com".into(),
            status: "PENDING".into(),
            reason: None,
        }),
        network_interface_id: instance.map(|_| "eni-1".to_owned()),
    }
}

/// Everything of the gateway in place and serving from `i-1`, with `eips` as the addresses.
fn built(eips: Vec<ObservedEip>) -> ObservedGateway {
    let d = desired();
    let g = d.gateway.as_ref().unwrap();
    ObservedGateway {
        smtp_user: None,
        smtp_credentials: None,
        architectures: vec!["x86_64".into()],
        subnet_zone: Some("eu-west-1a".into()),
        subnet_route: Some(DefaultRoute::InternetGateway("igw-1".into())),
        offered_zones: vec!["eu-west-1a".into(), "eu-west-1b".into()],
        image_id: Some("ami-1".into()),
        image_architecture: Some("x86_64".into()),
        image_owner: None,
        subnet: Some(Subnet {
            id: "subnet-1".into(),
            vpc_id: "vpc-1".into(),
        }),
        role_exists: true,
        role_boundary: Some(format!(
            "arn:aws:iam::111122223333:policy/{}",
            g.names.boundary
        )),
        boundary_arn: format!("arn:aws:iam::111122223333:policy/{}", g.names.boundary),
        boundary_policy: Some(crate::mail::gateway::boundary_policy(
            "eu-west-1",
            &d.blueprint,
        )),
        profile_roles: Some(vec![g.names.role.clone()]),
        role_policy: Some(crate::mail::gateway::role_policy("eu-west-1", &d.blueprint)),
        dkim_keys: vec![rotation::ObservedKey {
            selector: "mta1".into(),
            public: Some("MIIB".into()),
            private: true,
            private_kms: Some("1234abcd-0000-0000-0000-000000000000".into()),
            meta: rotation::KeyMeta::default(),
            modified: None,
        }],
        account: "111122223333".into(),
        kms_key: Some(super::ObservedKmsKey {
            id: "1234abcd-0000-0000-0000-000000000000".into(),
            arn: "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-0000-0000-0000-000000000000"
                .into(),
            state: "Enabled".into(),
            policy: Some(crate::mail::gateway::kms_key_policy(
                "eu-west-1",
                "111122223333",
                &d.blueprint,
            )),
            owned: true,
        }),
        bounce_log: Some(Some(crate::mail::gateway::BOUNCE_RETENTION_DAYS)),
        security_groups: vec![ObservedSecurityGroup {
            id: "sg-1".into(),
            name: g.names.security_group.clone(),
            vpc_id: "vpc-1".into(),
            ingress: g.ingress.clone(),
        }],
        instances: vec![ObservedInstance {
            id: "i-1".into(),
            state: InstanceState::Running,
            instance_type: g.instance_type.clone(),
            image_id: "ami-1".into(),
            subnet_id: "subnet-1".into(),
            private_ip: Some("10.0.0.5".into()),
            config: Some(g.config_hash("subnet-1")),
            user_data: Some(g.user_data_sha256()),
            network_interface: Some("eni-1".into()),
            launched: 1,
        }],
        eips,
        network_interfaces: vec![ObservedInterface {
            id: "eni-1".into(),
            subnet_id: "subnet-1".into(),
            private_ip: "10.0.0.5".into(),
            instance_id: Some("i-1".into()),
        }],
        health: None,
        image_dates: vec![("ami-1".into(), "2026-11-01T23:45:00.000Z".into())],
        read_at: 0,
    }
}

/// Each change as `address action op`, in plan order.
fn steps(changes: &[GatewayChange]) -> Vec<String> {
    changes
        .iter()
        .map(|c| {
            let op = serde_json::to_value(&c.op).unwrap();
            format!(
                "{} {:?} {}",
                c.address,
                c.action,
                op["op"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn a_built_gateway_plans_nothing_and_reports_only_the_persons_steps() {
    let o = built(vec![eip(
        "eipalloc-1",
        Some("i-1"),
        Some("mail.example.com"),
        false,
    )]);
    let (changes, reports) = gateway_diff(&desired(), Some(&o), &mut Vec::new());
    assert_eq!(steps(&changes), Vec::<String>::new());
    assert!(
        reports.iter().all(|r| r.kind == ReportKind::Todo),
        "{reports:?}"
    );
}

#[test]
fn a_duplicate_address_with_reverse_dns_is_reset_then_released() {
    let o = built(vec![
        eip("eipalloc-1", Some("i-1"), Some("mail.example.com"), false),
        eip("eipalloc-2", None, None, true),
        eip("eipalloc-3", None, None, false),
    ]);
    let (changes, _) = gateway_diff(&desired(), Some(&o), &mut Vec::new());
    assert_eq!(
        steps(&changes),
        [
            "gateway.eip.reverse_dns Delete reset_reverse_dns",
            "gateway.eip Delete release_addresses",
        ]
    );
    assert_eq!(
        changes[0].op,
        GatewayOp::ResetReverseDns {
            allocation_id: "eipalloc-2".into()
        }
    );
    assert_eq!(
        changes[1].op,
        GatewayOp::ReleaseAddresses {
            allocation_ids: vec!["eipalloc-2".into(), "eipalloc-3".into()]
        }
    );
    assert_eq!(changes[1].fields[0].field, "duplicate");
}

#[test]
fn release_on_destroy_resets_reverse_dns_first_and_names_each_address() {
    let o = built(vec![
        eip("eipalloc-1", Some("i-1"), Some("mail.example.com"), false),
        eip("eipalloc-22", None, None, false),
    ]);
    let mut changes = Vec::new();
    diff::with_release(&mut changes, Some(&o));
    assert_eq!(
        steps(&changes),
        [
            "gateway.eip.reverse_dns Delete reset_reverse_dns",
            "gateway.eip Delete release_addresses",
        ]
    );
    assert_eq!(
        changes[1].fields[1].before.as_deref(),
        Some("198.51.100.11 (eipalloc-22)")
    );
    let mut none = Vec::new();
    diff::with_release(&mut none, Some(&built(Vec::new())));
    assert!(none.is_empty(), "{none:?}");
}

#[test]
fn a_new_instance_type_terminates_the_old_one_then_launches_on_its_interface() {
    let mut o = built(vec![eip(
        "eipalloc-1",
        Some("i-1"),
        Some("mail.example.com"),
        false,
    )]);
    o.instances[0].config = Some("an older configuration".into());
    o.instances[0].instance_type = "t3.nano".into();
    let (changes, _) = gateway_diff(&desired(), Some(&o), &mut Vec::new());
    // The Elastic IP is on the interface and goes with it: nothing to associate.
    assert_eq!(
        steps(&changes),
        [
            "gateway.instance Delete terminate_instances",
            "gateway.instance Replace run_instance",
        ]
    );
    assert_eq!(
        changes[0].op,
        GatewayOp::TerminateInstances {
            ids: vec!["i-1".into()]
        }
    );
    let launch = &changes[1];
    assert_eq!(launch.fields[0].field, "instance_type");
    let order = launch.fields.last().unwrap();
    assert_eq!(order.field, "replacement");
    assert!(
        order.after.as_deref().unwrap().contains(
            "terminated first, then a new instance on its network interface eni-1: the private IP 10.0.0.5 and the Elastic IP stay"
        ),
        "{order:?}"
    );
    assert!(matches!(
        &launch.op,
        GatewayOp::RunInstance { network_interface: Some(n), replaces: Some(r), .. } if n == "eni-1" && r == "i-1"
    ));
}

#[test]
fn a_gateway_launched_before_interfaces_is_kept_and_moves_to_one_when_replaced() {
    let mut o = built(vec![eip(
        "eipalloc-1",
        Some("i-1"),
        Some("mail.example.com"),
        false,
    )]);
    o.network_interfaces.clear();
    o.eips[0].network_interface_id = Some("eni-its-own".into());
    o.instances[0].network_interface = Some("eni-its-own".into());
    let (changes, _) = gateway_diff(&desired(), Some(&o), &mut Vec::new());
    assert!(changes.is_empty(), "{:?}", steps(&changes));
    o.instances[0].config = Some("an older configuration".into());
    let (changes, _) = gateway_diff(&desired(), Some(&o), &mut Vec::new());
    // Not on an interface of mailinfra's: launched first, the old one goes last.
    assert_eq!(
        steps(&changes),
        [
            "gateway.network_interface Create create_network_interface",
            "gateway.instance Replace run_instance",
            "gateway.eip.association Update associate_interface",
            "gateway.instance Delete terminate_instances",
        ]
    );
    assert!(matches!(
        &changes[1].op,
        GatewayOp::RunInstance {
            network_interface: None,
            ..
        }
    ));
    assert!(
        changes[1]
            .fields
            .last()
            .unwrap()
            .after
            .as_deref()
            .unwrap()
            .contains("senders move from 10.0.0.5 once"),
        "{:?}",
        changes[1].fields
    );
}

#[test]
fn a_kept_address_without_an_instance_goes_to_the_one_launched() {
    let mut o = built(vec![eip(
        "eipalloc-1",
        None,
        Some("mail.example.com"),
        false,
    )]);
    o.instances.clear();
    o.network_interfaces[0].instance_id = None;
    let (changes, _) = gateway_diff(&desired(), Some(&o), &mut Vec::new());
    assert_eq!(
        steps(&changes),
        [
            "gateway.instance Create run_instance",
            "gateway.eip.association Update associate_interface",
        ]
    );
    // A run cut short after terminating the old instance: the address is on the interface,
    // and the launch takes the interface over.
    o.eips[0].network_interface_id = Some("eni-1".into());
    let (changes, _) = gateway_diff(&desired(), Some(&o), &mut Vec::new());
    assert_eq!(steps(&changes), ["gateway.instance Create run_instance"]);
    assert!(matches!(
        &changes[0].op,
        GatewayOp::RunInstance { network_interface: Some(n), .. } if n == "eni-1"
    ));
}

#[test]
fn an_extra_rule_is_revoked_and_a_missing_one_authorized_on_the_group() {
    let mut o = built(vec![eip(
        "eipalloc-1",
        Some("i-1"),
        Some("mail.example.com"),
        false,
    )]);
    let wanted = o.security_groups[0].ingress.clone();
    o.security_groups[0].ingress = vec![Ingress {
        source: Source::Ipv4("0.0.0.0/0".into()),
        ..wanted[0].clone()
    }];
    let (changes, _) = gateway_diff(&desired(), Some(&o), &mut Vec::new());
    assert_eq!(
        steps(&changes),
        [
            "gateway.security_group.ingress Delete revoke",
            "gateway.security_group.ingress Create authorize",
        ]
    );
    assert_eq!(
        changes[1].op,
        GatewayOp::Authorize {
            group: Some("sg-1".into()),
            rules: wanted,
        }
    );
}

#[test]
fn a_pending_reverse_dns_is_reported_not_set_again() {
    let o = built(vec![eip("eipalloc-1", Some("i-1"), None, true)]);
    let (changes, reports) = gateway_diff(&desired(), Some(&o), &mut Vec::new());
    assert!(changes.is_empty(), "{changes:?}");
    let pending: Vec<_> = reports
        .iter()
        .filter(|r| r.kind == ReportKind::Pending)
        .collect();
    assert_eq!(pending.len(), 1, "{reports:?}");
    assert!(pending[0].title.ends_with("-> mail.example.com is PENDING"));

    let mut elsewhere = o.clone();
    elsewhere.eips[0].ptr_update.as_mut().unwrap().value = "old.example.com".into();
    let (changes, _) = gateway_diff(&desired(), Some(&elsewhere), &mut Vec::new());
    assert_eq!(
        steps(&changes),
        ["gateway.eip.reverse_dns Update set_reverse_dns"]
    );
    assert_eq!(changes[0].action, Action::Update);
}

#[test]
fn a_failed_reverse_dns_is_set_again_and_reported_with_its_reason() {
    let mut o = built(vec![eip("eipalloc-1", Some("i-1"), None, true)]);
    let update = o.eips[0].ptr_update.as_mut().unwrap();
    update.status = "FAILED".into();
    update.reason = Some("the A record does not resolve".into());
    let (changes, reports) = gateway_diff(&desired(), Some(&o), &mut Vec::new());
    assert_eq!(
        steps(&changes),
        ["gateway.eip.reverse_dns Update set_reverse_dns"]
    );
    let failed: Vec<_> = reports
        .iter()
        .filter(|r| r.address == "gateway.report.reverse_dns")
        .collect();
    assert_eq!(failed.len(), 1, "{reports:?}");
    assert_eq!(failed[0].kind, ReportKind::Todo);
    assert!(
        failed[0]
            .title
            .ends_with("-> mail.example.com FAILED: the A record does not resolve"),
        "{}",
        failed[0].title
    );
}

#[test]
fn observed_values_serialize_as_they_did_before_they_had_types() {
    let subnet = Subnet {
        id: "subnet-1".into(),
        vpc_id: "vpc-1".into(),
    };
    assert_eq!(
        serde_json::to_string(&subnet).unwrap(),
        r#"["subnet-1","vpc-1"]"#
    );
    let back: Subnet = serde_json::from_str(r#"["subnet-1","vpc-1"]"#).unwrap();
    assert_eq!(back, subnet);
    for (state, text) in [
        (InstanceState::Running, "running"),
        (InstanceState::ShuttingDown, "shutting-down"),
        (InstanceState::Unknown, "unknown"),
    ] {
        assert_eq!(serde_json::to_value(state).unwrap(), text);
        assert_eq!(state.to_string(), text);
    }
    assert!(InstanceState::Stopped.is_live() && !InstanceState::ShuttingDown.is_live());
    assert!(InstanceState::ShuttingDown.is_gone() && !InstanceState::Pending.is_gone());
    let kinds = serde_json::to_value([ReportKind::Todo, ReportKind::Pending]).unwrap();
    assert_eq!(kinds, serde_json::json!(["todo", "pending"]));
}

#[test]
fn an_image_of_another_architecture_than_the_type_stops_the_plan() {
    let mut o = built(Vec::new());
    o.architectures = vec!["arm64".into()];
    let mut conflicts = Vec::new();
    let (changes, _) = gateway_diff(&desired(), Some(&o), &mut conflicts);
    assert!(
        !changes
            .iter()
            .any(|c| c.address.starts_with("gateway.instance")),
        "{changes:?}"
    );
    assert_eq!(conflicts.len(), 1, "{conflicts:?}");
    assert!(
        conflicts[0].message.contains("is built for x86_64")
            && conflicts[0].message.contains("runs arm64"),
        "{conflicts:?}"
    );
    o.architectures = Vec::new();
    let mut conflicts = Vec::new();
    gateway_diff(&desired(), Some(&o), &mut conflicts);
    assert!(
        conflicts[0]
            .message
            .contains("does not know the instance type")
    );
}

#[test]
fn debian_publishes_amd64_and_arm64() {
    assert_eq!(
        debian_12_parameter("x86_64").as_deref(),
        Some("/aws/service/debian/release/12/latest/amd64")
    );
    assert_eq!(
        debian_12_parameter("arm64").as_deref(),
        Some("/aws/service/debian/release/12/latest/arm64")
    );
    assert_eq!(debian_12_parameter("i386"), None);
}

#[test]
fn a_subnet_in_another_vpc_gets_a_new_group_and_the_old_one_goes_after_the_instance() {
    let mut o = built(vec![eip(
        "eipalloc-1",
        Some("i-1"),
        Some("mail.example.com"),
        false,
    )]);
    o.subnet = Some(Subnet {
        id: "subnet-2".into(),
        vpc_id: "vpc-2".into(),
    });
    let (changes, _) = gateway_diff(&desired(), Some(&o), &mut Vec::new());
    assert_eq!(
        steps(&changes),
        [
            "gateway.security_group Create create_security_group",
            "gateway.security_group.ingress Create authorize",
            "gateway.network_interface Create create_network_interface",
            "gateway.instance Replace run_instance",
            "gateway.eip.association Update associate_interface",
            "gateway.instance Delete terminate_instances",
            "gateway.network_interface Delete delete_network_interfaces",
            "gateway.security_group Delete delete_security_groups",
        ]
    );
    assert!(matches!(
        &changes[2].op,
        GatewayOp::CreateNetworkInterface { subnet_id, security_group: None } if subnet_id == "subnet-2"
    ));
    assert_eq!(
        changes[6].fields[0].before.as_deref(),
        Some("eni-1 (10.0.0.5) in subnet-1")
    );
    assert!(matches!(
        &changes[0].op,
        GatewayOp::CreateSecurityGroup { vpc_id, .. } if vpc_id == "vpc-2"
    ));
    assert!(matches!(
        &changes[3].op,
        GatewayOp::RunInstance { security_group: None, subnet_id, .. } if subnet_id == "subnet-2"
    ));
    assert_eq!(
        changes[7].op,
        GatewayOp::DeleteSecurityGroups {
            ids: vec!["sg-1".into()]
        }
    );
    // In the same VPC the group is the one the launch uses.
    o.subnet = Some(Subnet {
        id: "subnet-3".into(),
        vpc_id: "vpc-1".into(),
    });
    let (changes, _) = gateway_diff(&desired(), Some(&o), &mut Vec::new());
    assert!(matches!(
        &changes[1].op,
        GatewayOp::RunInstance { security_group: Some(g), .. } if g == "sg-1"
    ));
}

#[test]
fn a_subnet_whose_zone_does_not_offer_the_type_stops_the_plan() {
    let mut o = built(Vec::new());
    o.offered_zones = vec!["eu-west-1b".into()];
    let mut conflicts = Vec::new();
    let (changes, _) = gateway_diff(&desired(), Some(&o), &mut conflicts);
    assert!(
        !changes
            .iter()
            .any(|c| c.address.starts_with("gateway.instance")),
        "{changes:?}"
    );
    assert!(
        conflicts[0].message.contains(
            "is not offered in the zone of any default subnet; it is offered in eu-west-1b"
        ),
        "{conflicts:?}"
    );
}

#[test]
fn a_subnet_without_an_internet_gateway_route_stops_the_plan() {
    for (route, says) in [
        (
            DefaultRoute::Through("nat-1".into()),
            "the default subnet `subnet-1` sends internet traffic through nat-1, not an internet gateway",
        ),
        (
            DefaultRoute::None,
            "the default subnet `subnet-1` has no route to the internet",
        ),
    ] {
        let mut o = built(Vec::new());
        o.subnet_route = Some(route);
        let mut conflicts = Vec::new();
        let (changes, _) = gateway_diff(&desired(), Some(&o), &mut conflicts);
        assert!(
            !changes
                .iter()
                .any(|c| c.address.starts_with("gateway.instance")),
            "{changes:?}"
        );
        assert!(conflicts[0].message.starts_with(says), "{conflicts:?}");
    }
}

#[test]
fn an_instance_is_the_gateways_only_with_its_profile_group_and_fingerprint() {
    let names = Names::of("relay", "mta1");
    let profile = "arn:aws:iam::123456789012:instance-profile/mailinfra-relay-gateway";
    let group = ["mailinfra-relay-gateway"];
    let config = Some("0123456789abcdef0123456789abcdef");
    assert!(names.is_gateway_instance(Some(profile), &group, config));
    let other_profile = "arn:aws:iam::123456789012:instance-profile/prod-db";
    assert!(!names.is_gateway_instance(Some(other_profile), &group, config));
    assert!(!names.is_gateway_instance(None, &group, config));
    assert!(!names.is_gateway_instance(Some(profile), &["prod-web"], config));
    assert!(!names.is_gateway_instance(
        Some(profile),
        &["mailinfra-relay-gateway", "prod-web"],
        config
    ));
    assert!(!names.is_gateway_instance(Some(profile), &[], config));
    assert!(!names.is_gateway_instance(Some(profile), &group, None));
    assert!(!names.is_gateway_instance(Some(profile), &group, Some("forged")));
}

#[test]
fn an_address_serving_another_instance_is_not_the_gateways() {
    let o = built(vec![]);
    let mut eips = vec![
        eip("eipalloc-ours", Some("i-1"), None, false),
        eip("eipalloc-free", None, None, false),
        eip("eipalloc-theirs", Some("i-foreign"), None, false),
    ];
    ObservedGateway::own_addresses(&mut eips, &o.instances);
    let kept: Vec<&str> = eips.iter().map(|e| e.allocation_id.as_str()).collect();
    assert_eq!(kept, ["eipalloc-ours", "eipalloc-free"]);
}

#[test]
fn destroy_names_each_security_group_it_deletes() {
    let o = built(vec![eip("eipalloc-1", Some("i-1"), None, false)]);
    let gone = desired().nothing();
    let (changes, _) = gateway_diff(&gone, Some(&o), &mut Vec::new());
    let sg = changes
        .iter()
        .find(|c| matches!(c.op, GatewayOp::DeleteSecurityGroups { .. }))
        .unwrap();
    assert_eq!(
        sg.fields[0].before.as_deref(),
        Some("sg-1 (mailinfra-relay-gateway) in vpc-1")
    );
    // The instance goes first, then its interface (named by id), then the group.
    assert_eq!(
        steps(&changes)[..3],
        [
            "gateway.instance Delete terminate_instances",
            "gateway.network_interface Delete delete_network_interfaces",
            "gateway.security_group Delete delete_security_groups",
        ]
    );
    assert_eq!(
        changes[1].fields[0].before.as_deref(),
        Some("eni-1 (10.0.0.5) in subnet-1")
    );
}

#[test]
fn user_data_changed_outside_mailinfra_replaces_the_instance() {
    let mut o = built(vec![eip("eipalloc-1", Some("i-1"), None, false)]);
    o.instances[0].user_data = Some("0".repeat(64));
    let (changes, _) = gateway_diff(&desired(), Some(&o), &mut Vec::new());
    let launch = changes
        .iter()
        .find(|c| c.address == "gateway.instance" && c.action == Action::Replace)
        .unwrap_or_else(|| panic!("{:?}", steps(&changes)));
    assert!(
        launch.fields.iter().any(|f| f.field == "user data"),
        "{:?}",
        launch.fields
    );
}

#[test]
fn a_pinned_image_of_another_owner_stops_the_plan() {
    let mut o = built(vec![]);
    o.image_owner = Some(ImageOwner {
        owner: "999999999999".into(),
        account: Some("123456789012".into()),
    });
    let mut conflicts = Vec::new();
    gateway_diff(&desired(), Some(&o), &mut conflicts);
    assert!(
        conflicts[0].message.contains(
            "owned by account 999999999999, neither Debian (136693071363) nor this account"
        ),
        "{conflicts:?}"
    );
    for trusted in [DEBIAN_OWNER, "123456789012"] {
        let owner = ImageOwner {
            owner: trusted.into(),
            account: Some("123456789012".into()),
        };
        assert!(owner.trusted());
    }
}

#[test]
fn user_data_is_gzipped_and_hashed_as_the_script_it_holds() {
    let d = desired();
    let g = d.gateway.as_ref().unwrap();
    let script = g.render.boot_script();
    let sent = super::user_data(&script);
    assert!(sent.starts_with(&[0x1f, 0x8b]), "gzip");
    assert!(
        sent.len() * 2 < script.len(),
        "{} of {}",
        sent.len(),
        script.len()
    );
    // What EC2 returns hashes as the script, compressed or (an older launch) not.
    assert_eq!(super::user_data_hash(&sent), g.user_data_sha256());
    assert_eq!(
        super::user_data_hash(script.as_bytes()),
        g.user_data_sha256()
    );
}

#[test]
fn a_boot_script_over_ecs_user_data_limit_stops_the_plan() {
    let mut d = desired();
    let g = d.gateway.as_mut().unwrap();
    // Thousands of signing domains: tables no compression brings under 16 KB.
    g.render.signing_domains = (0..4000)
        .map(|i| format!("d{:x}{i}.example", i * 7919 % 65_521))
        .collect();
    let mut conflicts = Vec::new();
    gateway_diff(&d, Some(&built(vec![])), &mut conflicts);
    assert!(
        conflicts
            .iter()
            .any(|c| c.message.contains("over EC2's 16384 for user data")),
        "{conflicts:?}"
    );
}

/// The gateway as `built`, with `report` (JSON) read at `now`; `i-1` launched at 1.
fn reporting(report: Option<&str>, now: i64) -> ObservedGateway {
    let mut o = built(vec![eip(
        "eipalloc-1",
        Some("i-1"),
        Some("mail.example.com"),
        false,
    )]);
    o.health = Some(health::Observed::parse(report, now));
    o
}

fn report_json(g: &DesiredGateway, time: &str, extra: &str) -> String {
    format!(
        r#"{{"time":"{time}","instance":"i-1","user_data_sha256":"{}","boot":"ok","boot_step":null,"boot_reason":null,"postfix_running":true,"opendkim_running":true,"dkim_key_failed":null,"queue":3,"deferred":1{extra}}}"#,
        g.user_data_sha256()
    )
}

#[test]
fn the_health_report_says_configured_failed_differing_or_silent() {
    let d = desired();
    let g = d.gateway.as_ref().unwrap();
    // 2026-12-03T07:00:00Z
    let t = 1_796_281_200;
    let health_of = |o: &ObservedGateway| {
        let s = health::state(g, o, &o.instances[0]).unwrap();
        (health::summary(&s), health::report(&s, "i-1"))
    };
    let ok = report_json(g, "2026-12-03T07:00:00Z", "");
    let (line, report) = health_of(&reporting(Some(&ok), t + 60));
    assert_eq!(
        line,
        "configured as the blueprint says at 2026-12-03T07:00:00Z (Postfix and OpenDKIM running, 3 queued, 1 deferred)"
    );
    assert!(report.is_none());
    // The plan of a healthy gateway has no health report.
    let (_, reports) = gateway_diff(&d, Some(&reporting(Some(&ok), t + 60)), &mut Vec::new());
    assert!(reports.iter().all(|r| r.address != "gateway.report.health"));

    // Silent for more than three periods.
    let (line, report) = health_of(&reporting(Some(&ok), t + health::STALE_AFTER + 1));
    assert_eq!(line, "not reporting since 2026-12-03T07:00:00Z");
    let report = report.unwrap();
    assert_eq!(report.kind, ReportKind::Attention);
    assert!(report.steps[0].contains("get-console-output --instance-id i-1"));

    // Never reported: starting within three periods of the launch, then silent.
    let mut o = reporting(None, t);
    o.instances[0].launched = t - 60;
    assert!(
        health_of(&o)
            .0
            .starts_with("launched at 2026-12-03T06:59:00Z; no report yet")
    );
    assert!(health_of(&o).1.is_none());
    o.instances[0].launched = t - health::STALE_AFTER - 1;
    assert!(
        health_of(&o)
            .0
            .starts_with("not reporting since its launch at")
    );
    // A report of an earlier instance says nothing about this one.
    let mut o = reporting(Some(&ok.replace("\"i-1\"", "\"i-0\"")), t + 60);
    o.instances[0].launched = t - health::STALE_AFTER - 1;
    assert!(
        health_of(&o)
            .0
            .starts_with("not reporting since its launch at")
    );

    // A failed boot step, with its reason.
    let failed = ok.replace(
        r#""boot":"ok","boot_step":null,"boot_reason":null"#,
        r#""boot":"failed","boot_step":"install packages","boot_reason":"exit 100: apt-get install -y -q postfix opendkim""#,
    );
    let (line, report) = health_of(&reporting(Some(&failed), t + 60));
    assert_eq!(
        line,
        "boot failed at step `install packages`: exit 100: apt-get install -y -q postfix opendkim (reported at 2026-12-03T07:00:00Z)"
    );
    assert!(
        report
            .unwrap()
            .title
            .contains("boot failed at step `install packages`")
    );

    // Booted with another configuration than the blueprint renders: `plan` says so.
    let other = ok.replace(&g.user_data_sha256(), &"0".repeat(64));
    let (line, _) = health_of(&reporting(Some(&other), t + 60));
    assert!(
        line.starts_with("configured otherwise than the blueprint at 2026-12-03T07:00:00Z"),
        "{line}"
    );
    let (_, reports) = gateway_diff(&d, Some(&reporting(Some(&other), t + 60)), &mut Vec::new());
    let health = reports
        .iter()
        .find(|r| r.address == "gateway.report.health")
        .unwrap();
    assert!(
        health
            .title
            .contains("runs another configuration than the blueprint"),
        "{health:?}"
    );

    // Running, but OpenDKIM is down because the key fetch fails.
    let down = ok.replace(
        r#""opendkim_running":true,"dkim_key_failed":null"#,
        r#""opendkim_running":false,"dkim_key_failed":"2026-12-03T06:58:00Z 6 attempts; last error: AccessDenied""#,
    );
    let (line, report) = health_of(&reporting(Some(&down), t + 60));
    assert!(line.contains("OpenDKIM is not running: the DKIM key fetch fails (2026-12-03T06:58:00Z 6 attempts; last error: AccessDenied)"), "{line}");
    assert!(report.is_some());

    // Not part of what a saved plan is checked against.
    let json = serde_json::to_string(&reporting(Some(&ok), t)).unwrap();
    assert!(!json.contains("\"health\""), "{json}");
}

#[test]
fn the_image_report_gives_its_age_and_how_to_move_keeping_the_addresses() {
    let d = desired();
    let mut o = built(vec![eip(
        "eipalloc-1",
        Some("i-1"),
        Some("mail.example.com"),
        false,
    )]);
    // 2026-12-03T07:00:00Z: the image was built 31 days before.
    o.read_at = 1_796_281_200;
    let image = |o: &ObservedGateway| {
        diff::reports(d.gateway.as_ref().unwrap(), o, None)
            .into_iter()
            .find(|r| r.address == "gateway.report.image")
    };
    assert!(image(&o).is_none(), "the latest image, and recent");
    // Debian has published a newer one.
    o.image_id = Some("ami-2".into());
    let r = image(&o).unwrap();
    assert_eq!(
        r.title,
        "A newer `debian-12` image is published: ami-2 (the gateway runs ami-1, built 2026-11-01, 31 days ago)"
    );
    assert!(
        r.steps[1].contains("the private IP senders use and the Elastic IP stay"),
        "{r:?}"
    );
    assert!(r.steps[2].contains("reboots at 04:00 UTC"), "{r:?}");
    // An old image is reported without a newer one too.
    o.image_id = Some("ami-1".into());
    o.read_at += 100 * 86_400;
    let r = image(&o).unwrap();
    assert_eq!(
        r.title,
        "The gateway's image ami-1 is 131 days old (built 2026-11-01)"
    );
}

/// A gateway relaying through SES is planned without an Elastic IP, reverse DNS, DKIM key,
/// bounce log or port-25 to-do, and with its SMTP user and credentials; a user of that name
/// another blueprint (or nobody) tagged is a conflict, never used.
#[test]
fn relaying_through_ses_plans_smtp_credentials_and_no_address() {
    let source = "blueprint: relay\nregion: eu-west-1\ngateway:\n  hostname: mail.example.com\n  relay_from: [10.0.0.0/16]\n  relay_via: ses\ndomains:\n  - domain: example.com\n    send_via: [ses, gateway]\n";
    let bp = crate::blueprint::load("b.yaml", source, std::path::Path::new(".")).unwrap();
    let d = crate::plan::desired::from_blueprint(&bp);
    let o = ObservedGateway {
        role_exists: false,
        profile_roles: None,
        role_policy: None,
        boundary_policy: None,
        dkim_keys: Vec::new(),
        instances: Vec::new(),
        eips: Vec::new(),
        ..built(Vec::new())
    };
    let mut conflicts = Vec::new();
    let (changes, reports) = gateway_diff(&d, Some(&o), &mut conflicts);
    assert_eq!(conflicts, Vec::new());
    let addresses: Vec<&str> = changes.iter().map(|c| c.address.as_str()).collect();
    for absent in [
        "gateway.eip",
        "gateway.eip.association",
        "gateway.eip.reverse_dns",
        "gateway.dkim_key",
        "gateway.bounce_log",
    ] {
        assert!(!addresses.contains(&absent), "{absent}: {addresses:?}");
    }
    for present in [
        "gateway.smtp_user",
        "gateway.smtp_credentials",
        "gateway.instance",
    ] {
        assert!(addresses.contains(&present), "{present}: {addresses:?}");
    }
    assert!(
        reports.iter().all(|r| r.address != "gateway.report.port25"),
        "{reports:?}"
    );
    // Nothing of the gateway's own in DNS.
    assert!(
        d.records
            .iter()
            .all(|r| !r.name.contains("mail.example.com") && !r.name.contains("._domainkey")),
        "{:?}",
        d.records
    );

    let foreign = ObservedGateway {
        smtp_user: Some(ObservedSmtpUser {
            blueprint_tag: None,
            boundary: None,
            policy: None,
            access_keys: vec!["AKIAOTHER".into()],
            created: Default::default(),
        }),
        ..o
    };
    let mut conflicts = Vec::new();
    let (changes, _) = gateway_diff(&d, Some(&foreign), &mut conflicts);
    assert_eq!(conflicts.len(), 1, "{conflicts:?}");
    assert!(
        conflicts[0]
            .message
            .contains("does not carry this blueprint's tag")
    );
    assert!(
        changes
            .iter()
            .all(|c| !c.address.starts_with("gateway.smtp"))
    );
}

/// The credentials parameter's description names its access key, and plan reads it back.
#[test]
fn the_credentials_description_names_the_access_key() {
    let d = smtp_credentials_description("AKIAEXAMPLE123");
    assert_eq!(smtp_credentials_key(&d).as_deref(), Some("AKIAEXAMPLE123"));
    assert_eq!(smtp_credentials_key("written by hand"), None);
}

/// `gateway.smtp_credentials.rotate_every`: an access key that old gets a second one, the
/// instance replaced to read it, and is deleted after the launch; a younger one is kept.
#[test]
fn smtp_credentials_older_than_rotate_every_are_rotated_after_the_launch() {
    let source = "blueprint: relay\nregion: eu-west-1\ngateway:\n  hostname: mail.example.com\n  relay_from: [10.0.0.0/16]\n  relay_via: ses\n  smtp_credentials: { rotate_every: 90d }\ndomains:\n  - domain: example.com\n    send_via: [ses, gateway]\n";
    let bp = crate::blueprint::load("b.yaml", source, std::path::Path::new(".")).unwrap();
    let d = crate::plan::desired::from_blueprint(&bp);
    let day = 86_400;
    let o = |age_days: i64| ObservedGateway {
        smtp_user: Some(ObservedSmtpUser {
            blueprint_tag: Some("relay".into()),
            boundary: None,
            policy: None,
            access_keys: vec!["AKIAOLD".into()],
            created: [("AKIAOLD".to_owned(), 1_000 * day)].into(),
        }),
        smtp_credentials: Some(ObservedSmtpCredentials {
            access_key: Some("AKIAOLD".into()),
            kms: Some("1234abcd-0000-0000-0000-000000000000".into()),
            modified: Some(0),
        }),
        read_at: (1_000 + age_days) * day,
        ..built(Vec::new())
    };
    let ops = |o: &ObservedGateway| -> Vec<String> {
        let mut conflicts = Vec::new();
        let (changes, _) = gateway_diff(&d, Some(o), &mut conflicts);
        changes
            .iter()
            .map(|c| match &c.op {
                GatewayOp::CreateSmtpCredentials { stale, .. } => {
                    format!("create (stale {stale:?})")
                }
                GatewayOp::DeleteAccessKeys { ids, .. } => format!("delete {ids:?}"),
                GatewayOp::RunInstance { .. } => "launch".into(),
                _ => String::new(),
            })
            .filter(|s| !s.is_empty())
            .collect()
    };
    assert_eq!(
        ops(&o(91)),
        ["create (stale [])", "launch", "delete [\"AKIAOLD\"]"]
    );
    // (The instance of `built` is a direct-mode one: it is replaced either way.)
    assert_eq!(ops(&o(10)), ["launch"]);
}
