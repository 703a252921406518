//! The emulator's IAM authorization (emulator/mailinfra_emulator/iam_enforce.py), shown
//! through the real SDK with a role's temporary credentials: each AWS rule it follows refuses
//! a request that lacks what the rule asks, and allows it once the policy grants it.

mod common;

use aws_sdk_ec2::error::ProvideErrorMetadata;
use aws_sdk_ec2::types::{ResourceType, Tag, TagSpecification};
use aws_sdk_route53::types::{
    Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType,
};
use common::Account;
use serde_json::json;

const R: &str = "eu-west-1";

fn policy(statements: serde_json::Value) -> String {
    json!({ "Version": "2012-10-17", "Statement": statements }).to_string()
}

async fn debian(acct: &Account) -> String {
    acct.debian_image(R).await
}

fn owner_tag() -> TagSpecification {
    TagSpecification::builder()
        .resource_type(ResourceType::Instance)
        .tags(Tag::builder().key("owner").value("ci").build())
        .build()
}

/// "To tag a resource on creation, ... you must have permissions to use the ec2:CreateTags
/// action" and ec2:CreateAction names the creating action (Amazon EC2 User Guide, "Grant
/// permission to tag Amazon EC2 resources during creation").
#[tokio::test]
async fn tags_given_at_launch_need_ec2_create_tags_for_that_launch() {
    let acct = Account::new();
    let ami = debian(&acct).await;
    let launch = |creds| {
        let ec2 = aws_sdk_ec2::Client::new(&acct.config_with(creds, R));
        let ami = ami.clone();
        async move {
            ec2.run_instances()
                .image_id(ami)
                .min_count(1)
                .max_count(1)
                .tag_specifications(owner_tag())
                .send()
                .await
        }
    };
    let run = json!({ "Effect": "Allow", "Action": "ec2:RunInstances", "Resource": "*" });
    let refused = launch(acct.assume("launcher", &policy(json!([run]))))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Some("UnauthorizedOperation"));
    let message = refused.message().unwrap();
    assert!(
        message.contains("ec2:CreateTags")
            && message.contains(&format!("arn:aws:ec2:{R}:{}:instance/*", acct.id)),
        "{message}"
    );

    let tag_for = |action: &str| {
        json!({ "Effect": "Allow", "Action": "ec2:CreateTags", "Resource": "*",
                "Condition": { "StringEquals": { "ec2:CreateAction": action } } })
    };
    let other = acct.assume(
        "launcher",
        &policy(json!([run, tag_for("CreateSecurityGroup")])),
    );
    assert_eq!(
        launch(other).await.unwrap_err().code(),
        Some("UnauthorizedOperation")
    );
    let right = acct.assume("launcher", &policy(json!([run, tag_for("RunInstances")])));
    launch(right).await.unwrap();
}

/// RunInstances with an instance profile needs iam:PassRole on its role, with
/// iam:PassedToService (IAM User Guide, "Granting a user permissions to pass a role").
#[tokio::test]
async fn a_launch_with_an_instance_profile_needs_pass_role_for_ec2() {
    let acct = Account::new();
    let ami = debian(&acct).await;
    let iam = acct.iam();
    iam.create_role()
        .role_name("app")
        .assume_role_policy_document("{}")
        .send()
        .await
        .unwrap();
    iam.create_instance_profile()
        .instance_profile_name("app")
        .send()
        .await
        .unwrap();
    iam.add_role_to_instance_profile()
        .instance_profile_name("app")
        .role_name("app")
        .send()
        .await
        .unwrap();
    let launch = |statements| {
        let ec2 = aws_sdk_ec2::Client::new(
            &acct.config_with(acct.assume("launcher", &policy(statements)), R),
        );
        let ami = ami.clone();
        async move {
            ec2.run_instances()
                .image_id(ami)
                .min_count(1)
                .max_count(1)
                .iam_instance_profile(
                    aws_sdk_ec2::types::IamInstanceProfileSpecification::builder()
                        .name("app")
                        .build(),
                )
                .send()
                .await
        }
    };
    let run = json!({ "Effect": "Allow", "Action": "ec2:RunInstances", "Resource": "*" });
    let refused = launch(json!([run])).await.unwrap_err();
    assert!(
        refused.message().unwrap().contains("iam:PassRole"),
        "{refused:?}"
    );
    let pass = |service: &str| {
        json!({ "Effect": "Allow", "Action": "iam:PassRole", "Resource": "*",
                "Condition": { "StringEquals": { "iam:PassedToService": service } } })
    };
    assert!(
        launch(json!([run, pass("lambda.amazonaws.com")]))
            .await
            .is_err()
    );
    launch(json!([run, pass("ec2.amazonaws.com")]))
        .await
        .unwrap();
}

/// route53:ChangeResourceRecordSetsNormalizedRecordNames holds every name of the batch in
/// lower case without the final dot; `...RecordTypes` and `...Actions` every type and action
/// (Route 53 Developer Guide, "Using IAM policy conditions for fine-grained access control").
/// ForAllValues: each of them must be allowed.
#[tokio::test]
async fn record_changes_are_allowed_only_for_the_names_types_and_actions_granted() {
    let acct = Account::new();
    let zone = acct.create_zone("example.com").await;
    let creds = acct.assume(
        "dns",
        &policy(json!([{
            "Effect": "Allow",
            "Action": "route53:ChangeResourceRecordSets",
            "Resource": "arn:aws:route53:::hostedzone/*",
            "Condition": { "ForAllValues:StringEquals": {
                "route53:ChangeResourceRecordSetsNormalizedRecordNames": ["example.com", "_dmarc.example.com"],
                "route53:ChangeResourceRecordSetsRecordTypes": ["TXT"],
                "route53:ChangeResourceRecordSetsActions": ["CREATE", "DELETE"],
            } },
        }])),
    );
    let r53 = aws_sdk_route53::Client::new(&acct.config_with(creds, "us-east-1"));
    let change = |name: &str, ty: RrType, value: &str| {
        let r53 = r53.clone();
        let zone = zone.clone();
        let set = ResourceRecordSet::builder()
            .name(name)
            .r#type(ty)
            .ttl(300)
            .resource_records(ResourceRecord::builder().value(value).build().unwrap())
            .build()
            .unwrap();
        async move {
            r53.change_resource_record_sets()
                .hosted_zone_id(zone)
                .change_batch(
                    ChangeBatch::builder()
                        .changes(
                            Change::builder()
                                .action(ChangeAction::Create)
                                .resource_record_set(set)
                                .build()
                                .unwrap(),
                        )
                        .build()
                        .unwrap(),
                )
                .send()
                .await
        }
    };
    change("_DMARC.Example.com.", RrType::Txt, "\"v=DMARC1; p=none\"")
        .await
        .unwrap();
    let mx = change("example.com", RrType::Mx, "10 mx.example.net.")
        .await
        .unwrap_err();
    assert_eq!(mx.code(), Some("AccessDenied"), "{mx:?}");
    let other = change("www.example.com", RrType::Txt, "\"x\"")
        .await
        .unwrap_err();
    assert_eq!(other.code(), Some("AccessDenied"));
    assert!(
        other.message().unwrap().contains(
            "route53:ChangeResourceRecordSets on resource: arn:aws:route53:::hostedzone/"
        ),
        "{other:?}"
    );
}

/// An explicit Deny wins over any Allow; a permissions boundary caps what the identity
/// policies allow (IAM User Guide, "Policy evaluation logic").
#[tokio::test]
async fn a_deny_wins_and_a_permissions_boundary_caps_the_role() {
    let acct = Account::new();
    let ssm = acct.ssm(R);
    for name in ["/app/a", "/app/secret"] {
        ssm.put_parameter()
            .name(name)
            .value("v")
            .r#type(aws_sdk_ssm::types::ParameterType::String)
            .send()
            .await
            .unwrap();
    }
    let creds = acct.assume(
        "reader",
        &policy(json!([
            { "Effect": "Allow", "Action": "ssm:*", "Resource": "*" },
            { "Effect": "Deny", "Action": "ssm:GetParameter",
              "Resource": format!("arn:aws:ssm:{R}:*:parameter/app/secret") },
        ])),
    );
    let as_role = aws_sdk_ssm::Client::new(&acct.config_with(creds, R));
    let get = |name: &'static str| as_role.get_parameter().name(name).send();
    get("/app/a").await.unwrap();
    let denied = get("/app/secret").await.unwrap_err();
    assert_eq!(denied.code(), Some("AccessDeniedException"));
    assert!(
        denied.message().unwrap().contains("explicit deny"),
        "{denied:?}"
    );

    let iam = acct.iam();
    let boundary = iam
        .create_policy()
        .policy_name("only-get")
        .policy_document(policy(json!([
            { "Effect": "Allow", "Action": "ssm:GetParameter", "Resource": "*" }
        ])))
        .send()
        .await
        .unwrap();
    iam.put_role_permissions_boundary()
        .role_name("reader")
        .permissions_boundary(boundary.policy().unwrap().arn().unwrap())
        .send()
        .await
        .unwrap();
    get("/app/a").await.unwrap();
    let capped = as_role
        .put_parameter()
        .name("/app/b")
        .value("v")
        .r#type(aws_sdk_ssm::types::ParameterType::String)
        .send()
        .await
        .unwrap_err();
    assert!(
        capped
            .message()
            .unwrap()
            .contains("because no permissions boundary allows the ssm:PutParameter action"),
        "{capped:?}"
    );
}

/// SES v2 identities take aws:ResourceTag (Service Authorization Reference, Amazon SES v2,
/// resource type `identity`): a delete scoped to a tag reaches only identities that carry it.
#[tokio::test]
async fn an_ses_delete_scoped_by_tag_reaches_only_tagged_identities() {
    let acct = Account::new();
    let ses = acct.ses(R);
    for (domain, tagged) in [("mine.example", true), ("theirs.example", false)] {
        let mut create = ses.create_email_identity().email_identity(domain);
        if tagged {
            create = create.tags(
                aws_sdk_sesv2::types::Tag::builder()
                    .key("owner")
                    .value("ci")
                    .build()
                    .unwrap(),
            );
        }
        create.send().await.unwrap();
    }
    let creds = acct.assume(
        "ses",
        &policy(json!([{
            "Effect": "Allow", "Action": "ses:DeleteEmailIdentity",
            "Resource": format!("arn:aws:ses:{R}:*:identity/*"),
            "Condition": { "StringEquals": { "aws:ResourceTag/owner": "ci" } },
        }])),
    );
    let config = acct.config_with(creds, R);
    let as_role = aws_sdk_sesv2::Client::new(&config);
    let theirs = as_role
        .delete_email_identity()
        .email_identity("theirs.example")
        .send()
        .await
        .unwrap_err();
    assert_eq!(theirs.code(), Some("AccessDeniedException"), "{theirs:?}");
    as_role
        .delete_email_identity()
        .email_identity("mine.example")
        .send()
        .await
        .unwrap();
}
