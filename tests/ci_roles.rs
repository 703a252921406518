//! The CI roles `mailinfra policy` prints, under the emulator's IAM authorization: what they
//! must not be able to do. (That they can do what each command needs is shown by every other
//! integration test, which runs mailinfra under them: tests/common `ci_role`.)

mod common;

use aws_sdk_ssm::error::ProvideErrorMetadata;
use common::{Account, GATEWAY};

const R: &str = "eu-west-1";
const PRIVATE: &str = "/mailinfra/relay/dkim/mta1/private";
const PUBLIC: &str = "/mailinfra/relay/dkim/mta1/public";

/// An account with the gateway blueprint `GATEWAY` applied (under the apply role).
async fn applied_gateway() -> Account {
    let acct = Account::new();
    acct.create_zone("example.com").await;
    acct.write("b.yaml", GATEWAY);
    let run = acct.mailinfra(&["apply", "b.yaml", "--yes"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    acct
}

/// An SSM parameter's value; `decrypt` asks for a SecureString's plain text.
async fn value(ssm: &aws_sdk_ssm::Client, name: &str, decrypt: bool) -> String {
    ssm.get_parameter()
        .name(name)
        .with_decryption(decrypt)
        .send()
        .await
        .unwrap()
        .parameter()
        .and_then(|p| p.value())
        .unwrap()
        .to_owned()
}

/// The private key as the gateway's role (as its instance gets it) reads it.
async fn read_as_gateway(acct: &Account) -> String {
    let gateway = acct.instance_credentials("mailinfra-relay-gateway");
    value(
        &aws_sdk_ssm::Client::new(&acct.config_with(gateway, R)),
        PRIVATE,
        true,
    )
    .await
}

#[tokio::test]
async fn neither_ci_role_can_read_the_gateways_private_key() {
    let acct = applied_gateway().await;
    for phase in ["plan", "apply"] {
        let policy = acct.mailinfra(&["policy", "b.yaml", "--for", phase]);
        assert_eq!(policy.code, 0, "{}", policy.stderr);
        let creds = acct.assume(&format!("check-{phase}"), &policy.stdout);
        let ssm = aws_sdk_ssm::Client::new(&acct.config_with(creds, R));
        let private = ssm
            .get_parameter()
            .name(PRIVATE)
            .with_decryption(true)
            .send()
            .await
            .unwrap_err();
        assert_eq!(
            private.code(),
            Some("AccessDeniedException"),
            "{phase}: {private:?}"
        );
        let public = ssm.get_parameter().name(PUBLIC).send().await.unwrap();
        assert!(public.parameter().is_some());
    }
}

#[tokio::test]
async fn apply_under_the_plan_role_is_refused_names_the_policy_and_changes_nothing() {
    let acct = Account::new();
    let zone = acct.create_zone("example.com").await;
    acct.write(
        "b.yaml",
        "blueprint: dns\ndomains:\n  - domain: example.com\n    dmarc: { policy: none }\n",
    );
    acct.under_role("plan");
    let plan = acct.mailinfra(&["plan", "b.yaml"]);
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    let run = acct.mailinfra(&["apply", "b.yaml", "--yes"]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("AccessDenied")
            && run.stderr.contains("the credentials may not call route53:")
            && run.stderr.contains("mailinfra policy FILE --for apply"),
        "{}",
        run.stderr
    );
    let records = acct.records(&zone).await;
    assert!(
        records
            .keys()
            .all(|(name, _)| name != "_dmarc.example.com."),
        "{records:?}"
    );
}

/// The gateway's role carries a permissions boundary the apply role can neither remove,
/// replace nor change; whatever policy the role is given, it can do no more than the boundary
/// allows (read its DKIM keys).
#[tokio::test]
async fn the_apply_role_cannot_lift_the_gateway_roles_boundary() {
    let acct = applied_gateway().await;
    let role = "mailinfra-relay-gateway";
    let root = acct.iam();
    let got = root.get_role().role_name(role).send().await.unwrap();
    let boundary = got
        .role()
        .and_then(|r| r.permissions_boundary())
        .and_then(|b| b.permissions_boundary_arn())
        .unwrap()
        .to_owned();
    assert!(
        boundary.ends_with(":policy/mailinfra-relay-gateway-boundary"),
        "{boundary}"
    );
    let wide = root
        .create_policy()
        .policy_name("wide")
        .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#)
        .send()
        .await
        .unwrap();
    let wide = wide.policy().unwrap().arn().unwrap().to_owned();

    let policy = acct.mailinfra(&["policy", "b.yaml", "--for", "apply"]);
    let creds = acct.assume("ci-apply", &policy.stdout);
    let iam = aws_sdk_iam::Client::new(&acct.config_with(creds, "us-east-1"));
    let everything =
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
    let denied = |r: Result<(), aws_sdk_iam::Error>, what: &str| {
        let e = r.unwrap_err();
        assert_eq!(e.code(), Some("AccessDenied"), "{what}: {e:?}");
    };
    denied(
        iam.delete_role_permissions_boundary()
            .role_name(role)
            .send()
            .await
            .map(|_| ())
            .map_err(Into::into),
        "remove the boundary",
    );
    denied(
        iam.put_role_permissions_boundary()
            .role_name(role)
            .permissions_boundary(&wide)
            .send()
            .await
            .map(|_| ())
            .map_err(Into::into),
        "replace the boundary",
    );
    denied(
        iam.create_policy_version()
            .policy_arn(&boundary)
            .policy_document(everything)
            .set_as_default(true)
            .send()
            .await
            .map(|_| ())
            .map_err(Into::into),
        "widen the boundary",
    );
    denied(
        iam.create_role()
            .role_name("unbounded")
            .assume_role_policy_document(GATEWAY_TRUST)
            .send()
            .await
            .map(|_| ())
            .map_err(Into::into),
        "another role",
    );
    // The role's own policy may be set (the apply role manages it), but the boundary caps it.
    iam.put_role_policy()
        .role_name(role)
        .policy_name("mailinfra")
        .policy_document(everything)
        .send()
        .await
        .unwrap();
    let sts = aws_sdk_sts::Client::new(&acct.config_with(
        aws_credential_types::Credentials::new(
            acct.access_key(),
            "test-secret",
            None,
            None,
            "root",
        ),
        "us-east-1",
    ));
    let session = sts
        .assume_role()
        .role_arn(got.role().unwrap().arn())
        .role_session_name("instance")
        .send()
        .await
        .unwrap();
    let c = session.credentials().unwrap();
    let as_gateway = aws_credential_types::Credentials::new(
        c.access_key_id(),
        c.secret_access_key(),
        Some(c.session_token().to_owned()),
        None,
        "gateway",
    );
    let ec2 = aws_sdk_ec2::Client::new(&acct.config_with(as_gateway.clone(), R));
    let e = ec2.describe_instances().send().await.unwrap_err();
    assert_eq!(e.code(), Some("UnauthorizedOperation"), "{e:?}");
    assert!(
        e.message()
            .unwrap_or_default()
            .contains("because no permissions boundary allows the ec2:DescribeInstances action"),
        "{e:?}"
    );
    let ssm = aws_sdk_ssm::Client::new(&acct.config_with(as_gateway, R));
    ssm.get_parameter()
        .name(PRIVATE)
        .with_decryption(true)
        .send()
        .await
        .unwrap();
}

const GATEWAY_TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

/// A boundary changed outside mailinfra is put back, but only by the bootstrap role: the
/// apply role stops with a hint naming it.
#[tokio::test]
async fn a_changed_boundary_is_restored_by_the_bootstrap_role_only() {
    let acct = applied_gateway().await;
    let root = acct.iam();
    let got = root
        .get_role()
        .role_name("mailinfra-relay-gateway")
        .send()
        .await
        .unwrap();
    let boundary = got
        .role()
        .and_then(|r| r.permissions_boundary())
        .and_then(|b| b.permissions_boundary_arn())
        .unwrap()
        .to_owned();
    root.create_policy_version()
        .policy_arn(&boundary)
        .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ssm:*","Resource":"*"}]}"#)
        .set_as_default(true)
        .send()
        .await
        .unwrap();
    let plan = acct.mailinfra(&["plan", "b.yaml"]);
    assert!(
        plan.stdout.contains("~ update  gateway.boundary"),
        "{}",
        plan.stdout
    );
    let refused = acct.mailinfra(&["apply", "b.yaml", "--yes"]);
    assert_eq!(refused.code, 1, "{}\n{}", refused.stdout, refused.stderr);
    assert!(
        refused.stderr.contains(
            "only the bootstrap role changes the gateway's permissions boundary or KMS key policy"
        ) && refused.stderr.contains("--for bootstrap"),
        "{}",
        refused.stderr
    );
    acct.under_role("bootstrap");
    let fixed = acct.mailinfra(&["apply", "b.yaml", "--yes"]);
    assert_eq!(fixed.code, 0, "{}\n{}", fixed.stdout, fixed.stderr);
    let again = acct.mailinfra(&["plan", "b.yaml", "--detailed-exitcode"]);
    assert_eq!(again.code, 0, "{}\n{}", again.stdout, again.stderr);
}

/// The private key is encrypted with the blueprint's own KMS key, whose key policy lets only
/// the gateway's role decrypt it: a role that IAM allows every SSM and KMS action still cannot
/// read it, while the gateway's role (as its instance gets it) can.
#[tokio::test]
async fn only_the_gateway_role_can_decrypt_the_private_key() {
    let acct = applied_gateway().await;

    let root_ssm = acct.ssm(R);
    let described = root_ssm
        .describe_parameters()
        .parameter_filters(
            aws_sdk_ssm::types::ParameterStringFilter::builder()
                .key("Name")
                .values(PRIVATE)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let key_id = described.parameters()[0].key_id().unwrap().to_owned();
    assert_ne!(key_id, "alias/aws/ssm");
    let kms = acct.kms(R);
    let key = kms
        .describe_key()
        .key_id("alias/mailinfra-relay-gateway-dkim")
        .send()
        .await
        .unwrap();
    let key = key.key_metadata().unwrap();
    assert!(
        [
            key.key_id(),
            key.arn().unwrap(),
            "alias/mailinfra-relay-gateway-dkim"
        ]
        .contains(&key_id.as_str()),
        "{key_id} {key:?}"
    );

    let admin = acct.assume(
        "ssm-and-kms-admin",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ssm:*","kms:*"],"Resource":"*"}]}"#,
    );
    let admin = aws_sdk_ssm::Client::new(&acct.config_with(admin, R));
    let refused = admin
        .get_parameter()
        .name(PRIVATE)
        .with_decryption(true)
        .send()
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Some("AccessDeniedException"), "{refused:?}");
    assert!(
        refused
            .message()
            .is_some_and(|m| m.contains("kms:Decrypt") && m.contains("resource-based policy")),
        "{refused:?}"
    );
    // The same role reads the parameter's metadata: it is KMS that refuses, not SSM.
    admin.get_parameter().name(PRIVATE).send().await.unwrap();

    assert!(
        read_as_gateway(&acct)
            .await
            .starts_with("-----BEGIN PRIVATE KEY-----"),
        "the gateway role must read its key"
    );
}

/// A private key that an earlier mailinfra stored under the AWS managed `aws/ssm` key (which
/// every principal allowed `ssm:GetParameter` can decrypt) is moved under the blueprint's KMS
/// key by the bootstrap role; the apply role may not read it to do so. The key itself, and so
/// DNS, does not change.
#[tokio::test]
async fn a_key_under_aws_ssm_is_moved_by_the_bootstrap_role_only() {
    let acct = applied_gateway().await;
    let root_ssm = acct.ssm(R);
    let public_before = value(&root_ssm, PUBLIC, false).await;
    root_ssm
        .put_parameter()
        .name(PRIVATE)
        .value("-----BEGIN PRIVATE KEY-----\nMIIEold\n-----END PRIVATE KEY-----\n")
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .key_id("alias/aws/ssm")
        .overwrite(true)
        .send()
        .await
        .unwrap();

    let plan = acct.mailinfra(&["plan", "b.yaml"]);
    assert!(
        plan.stdout.contains("~ update  gateway.dkim_key"),
        "{}",
        plan.stdout
    );
    let refused = acct.mailinfra(&["apply", "b.yaml", "--yes"]);
    assert_eq!(refused.code, 1, "{}\n{}", refused.stdout, refused.stderr);
    assert!(
        refused.stderr.contains("ssm:GetParameter") && refused.stderr.contains("--for bootstrap"),
        "{}",
        refused.stderr
    );
    acct.under_role("bootstrap");
    let moved = acct.mailinfra(&["apply", "b.yaml", "--yes"]);
    assert_eq!(moved.code, 0, "{}\n{}", moved.stdout, moved.stderr);
    for secret in ["MIIEold", "BEGIN PRIVATE KEY"] {
        assert!(
            !moved.stdout.contains(secret) && !moved.stderr.contains(secret),
            "{}\n{}",
            moved.stdout,
            moved.stderr
        );
    }
    let again = acct.mailinfra(&["plan", "b.yaml", "--detailed-exitcode"]);
    assert_eq!(again.code, 0, "{}\n{}", again.stdout, again.stderr);

    assert!(read_as_gateway(&acct).await.contains("MIIEold"));
    assert_eq!(public_before, value(&root_ssm, PUBLIC, false).await);
}

/// The alternative to letting CI create IAM resources at all: an administrator applies once
/// with the bootstrap role; CI's `apply-after-bootstrap` role then applies the blueprint's
/// changes (here another relay range) passing the gateway's role to EC2 but writing no IAM
/// resource and creating no KMS key, and is refused when the role itself must change.
#[tokio::test]
async fn after_a_bootstrap_apply_ci_applies_without_iam_writes() {
    let acct = Account::new();
    acct.create_zone("example.com").await;
    acct.write("b.yaml", GATEWAY);
    let policy = acct.mailinfra(&["policy", "b.yaml", "--for", "apply-after-bootstrap"]);
    assert_eq!(policy.code, 0, "{}", policy.stderr);
    assert!(
        policy.stdout.contains("\"iam:PassRole\""),
        "{}",
        policy.stdout
    );
    for write in [
        "iam:CreateRole",
        "iam:PutRolePolicy",
        "iam:CreatePolicy\"",
        "kms:CreateKey",
    ] {
        assert!(!policy.stdout.contains(write), "{write}: {}", policy.stdout);
    }
    acct.under_role("bootstrap");
    let first = acct.mailinfra(&["apply", "b.yaml", "--yes"]);
    assert_eq!(first.code, 0, "{}\n{}", first.stdout, first.stderr);

    acct.under_role("apply-after-bootstrap");
    acct.write(
        "b.yaml",
        &GATEWAY.replace("[10.0.0.0/16]", "[10.0.0.0/16, 10.1.0.0/16]"),
    );
    let ci = acct.mailinfra(&["apply", "b.yaml", "--yes"]);
    assert_eq!(ci.code, 0, "{}\n{}", ci.stdout, ci.stderr);
    assert!(
        ci.stdout.contains("gateway.security_group"),
        "{}",
        ci.stdout
    );
    let clean = acct.mailinfra(&["plan", "b.yaml", "--detailed-exitcode"]);
    assert_eq!(clean.code, 0, "{}\n{}", clean.stdout, clean.stderr);

    acct.iam()
        .delete_role_policy()
        .role_name("mailinfra-relay-gateway")
        .policy_name("read-own-dkim-key")
        .send()
        .await
        .unwrap();
    let refused = acct.mailinfra(&["apply", "b.yaml", "--yes"]);
    assert_eq!(refused.code, 1, "{}\n{}", refused.stdout, refused.stderr);
    // The repair starts with the role's own calls (CreateRole answers "already exists" to
    // a role allowed it): refused at the first.
    assert!(
        refused
            .stderr
            .contains("is not authorized to perform: iam:"),
        "{}",
        refused.stderr
    );
}

/// Offline, record changes are limited by names, types and actions, which a private zone of
/// the same name as the public one shares. With `--lookup-zones` they are limited to the
/// blueprint's zone by id, and the private zone is refused.
#[tokio::test]
async fn looked_up_zones_keep_record_changes_out_of_a_private_zone_of_the_same_name() {
    use aws_sdk_route53::types::{ChangeAction, HostedZoneConfig, Vpc, VpcRegion};
    let acct = Account::new();
    let public = acct.create_zone("example.com").await;
    let vpc = acct.ec2(R).describe_vpcs().send().await.unwrap().vpcs()[0]
        .vpc_id()
        .unwrap()
        .to_owned();
    let private = acct
        .route53()
        .create_hosted_zone()
        .name("example.com")
        .caller_reference(format!("private-{}", acct.id))
        .hosted_zone_config(HostedZoneConfig::builder().private_zone(true).build())
        .vpc(
            Vpc::builder()
                .vpc_region(VpcRegion::from(R))
                .vpc_id(vpc)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let private = private
        .hosted_zone()
        .unwrap()
        .id()
        .trim_start_matches("/hostedzone/")
        .to_owned();
    acct.write(
        "b.yaml",
        "blueprint: dns\ndomains:\n  - domain: example.com\n    dmarc: { policy: none }\n",
    );
    let offline = acct.mailinfra(&["policy", "b.yaml", "--for", "apply"]);
    assert!(
        offline.stdout.contains("hostedzone/*"),
        "{}",
        offline.stdout
    );
    let policy = acct.mailinfra(&["policy", "b.yaml", "--for", "apply", "--lookup-zones"]);
    assert_eq!(policy.code, 0, "{}", policy.stderr);
    assert!(
        policy.stdout.contains(&format!("hostedzone/{public}")),
        "{}",
        policy.stdout
    );
    let ci =
        aws_sdk_route53::Client::new(&acct.config_with(acct.assume("zones", &policy.stdout), R));
    let dmarc: &[&str] = &["\"v=DMARC1; p=none\""];
    let change = [(
        ChangeAction::Create,
        "_dmarc.example.com",
        "TXT",
        300,
        dmarc,
    )];
    let refused = acct.change_as(&ci, &private, &change).await.unwrap_err();
    assert!(refused.starts_with("AccessDenied"), "{refused}");
    acct.change_as(&ci, &public, &change).await.unwrap();
    // What the lookup prevents: the offline policy lets the same change into the private zone.
    let offline =
        aws_sdk_route53::Client::new(&acct.config_with(acct.assume("offline", &offline.stdout), R));
    acct.change_as(&offline, &private, &change).await.unwrap();

    acct.write(
        "c.yaml",
        "blueprint: dns\ndomains:\n  - domain: example.org\n",
    );
    let missing = acct.mailinfra(&["policy", "c.yaml", "--lookup-zones"]);
    assert_eq!(missing.code, 1, "{}", missing.stdout);
    assert!(
        missing
            .stderr
            .contains("no public hosted zone for example.org")
            && missing.stdout.is_empty(),
        "{}",
        missing.stderr
    );
}
