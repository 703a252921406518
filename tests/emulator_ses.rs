//! The emulator extension's SES v2 behaviours (emulator/README.md), each shown through the
//! real SDK against what the SES API v2 reference says.

mod common;

use aws_sdk_route53::types::ChangeAction::Create;
use aws_sdk_sesv2::error::ProvideErrorMetadata;
use aws_sdk_sesv2::types::{
    BehaviorOnMxFailure, DeliveryOptions, DkimSigningAttributes, DkimSigningAttributesOrigin,
    MailType, SuppressionListReason, SuppressionOptions, TlsPolicy,
};
use common::Account;

const R: &str = "eu-west-1";

#[tokio::test]
async fn create_returns_three_tokens_and_refuses_a_duplicate() {
    let acct = Account::new();
    let ses = acct.ses(R);
    let out = ses
        .create_email_identity()
        .email_identity("example.org")
        .send()
        .await
        .unwrap();
    let dkim = out.dkim_attributes().unwrap();
    assert_eq!(dkim.tokens().len(), 3);
    assert_eq!(
        dkim.signing_attributes_origin().unwrap(),
        &DkimSigningAttributesOrigin::AwsSes
    );
    assert!(!out.verified_for_sending_status());
    let err = ses
        .create_email_identity()
        .email_identity("example.org")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("AlreadyExistsException"));
    let err = ses
        .delete_email_identity()
        .email_identity("missing.org")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("NotFoundException"));
}

#[tokio::test]
async fn verification_follows_the_dkim_cnames_and_mail_from_the_mx() {
    let acct = Account::new();
    let ses = acct.ses(R);
    let zone = acct.create_zone("example.org").await;
    let out = ses
        .create_email_identity()
        .email_identity("example.org")
        .send()
        .await
        .unwrap();
    let tokens = out.dkim_attributes().unwrap().tokens().to_vec();
    ses.put_email_identity_mail_from_attributes()
        .email_identity("example.org")
        .mail_from_domain("bounce.example.org")
        .behavior_on_mx_failure(BehaviorOnMxFailure::RejectMessage)
        .send()
        .await
        .unwrap();
    let get = || {
        ses.get_email_identity()
            .email_identity("example.org")
            .send()
    };
    let before = get().await.unwrap();
    assert_eq!(before.verification_status().unwrap().as_str(), "PENDING");
    assert_eq!(
        before
            .mail_from_attributes()
            .unwrap()
            .mail_from_domain_status()
            .as_str(),
        "PENDING"
    );

    // Two of three CNAMEs are not enough.
    for t in &tokens[..2] {
        let (name, value) = (
            format!("{t}._domainkey.example.org"),
            format!("{t}.dkim.amazonses.com"),
        );
        acct.change(&zone, &[(Create, &name, "CNAME", 300, &[&value])])
            .await
            .unwrap();
    }
    assert!(!get().await.unwrap().verified_for_sending_status());
    let (name, value) = (
        format!("{}._domainkey.example.org", tokens[2]),
        format!("{}.dkim.amazonses.com", tokens[2]),
    );
    acct.change(&zone, &[(Create, &name, "CNAME", 300, &[&value])])
        .await
        .unwrap();
    let after = get().await.unwrap();
    assert!(after.verified_for_sending_status());
    assert_eq!(
        after.dkim_attributes().unwrap().status().unwrap().as_str(),
        "SUCCESS"
    );
    assert_eq!(
        after
            .mail_from_attributes()
            .unwrap()
            .mail_from_domain_status()
            .as_str(),
        "PENDING"
    );

    acct.change(
        &zone,
        &[(
            Create,
            "bounce.example.org",
            "MX",
            300,
            &["10 feedback-smtp.eu-west-1.amazonses.com"],
        )],
    )
    .await
    .unwrap();
    let mf = get().await.unwrap().mail_from_attributes().unwrap().clone();
    assert_eq!(mf.mail_from_domain_status().as_str(), "SUCCESS");
    assert_eq!(mf.behavior_on_mx_failure().as_str(), "REJECT_MESSAGE");
}

#[tokio::test]
async fn mail_from_must_be_a_subdomain() {
    let acct = Account::new();
    let ses = acct.ses(R);
    ses.create_email_identity()
        .email_identity("example.org")
        .send()
        .await
        .unwrap();
    let err = ses
        .put_email_identity_mail_from_attributes()
        .email_identity("example.org")
        .mail_from_domain("bounce.example.net")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("BadRequestException"));
}

#[tokio::test]
async fn byodkim_verifies_against_the_published_public_key() {
    let acct = Account::new();
    let ses = acct.ses(R);
    let zone = acct.create_zone("example.net").await;
    let (private, public) = mailinfra::mail::dkim::generate_key().unwrap();
    let out = ses
        .create_email_identity()
        .email_identity("example.net")
        .dkim_signing_attributes(
            DkimSigningAttributes::builder()
                .domain_signing_selector("s1")
                .domain_signing_private_key(private.expose_base64())
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        out.dkim_attributes()
            .unwrap()
            .signing_attributes_origin()
            .unwrap()
            .as_str(),
        "EXTERNAL"
    );
    let get = || {
        ses.get_email_identity()
            .email_identity("example.net")
            .send()
    };
    assert_eq!(
        get().await.unwrap().dkim_attributes().unwrap().tokens(),
        ["s1"],
        "Tokens holds the selector"
    );

    // Another key's public half does not verify it.
    let (_, other) = mailinfra::mail::dkim::generate_key().unwrap();
    let wrong = mailinfra::mail::txt::encode(&mailinfra::mail::dkim::record_text(&other));
    acct.change(
        &zone,
        &[(Create, "s1._domainkey.example.net", "TXT", 300, &[&wrong])],
    )
    .await
    .unwrap();
    assert!(!get().await.unwrap().verified_for_sending_status());
    let right = mailinfra::mail::txt::encode(&mailinfra::mail::dkim::record_text(&public));
    acct.change(
        &zone,
        &[
            (
                aws_sdk_route53::types::ChangeAction::Delete,
                "s1._domainkey.example.net",
                "TXT",
                300,
                &[&wrong],
            ),
            (Create, "s1._domainkey.example.net", "TXT", 300, &[&right]),
        ],
    )
    .await
    .unwrap();
    assert!(get().await.unwrap().verified_for_sending_status());

    // Back to Easy DKIM: new tokens, pending again.
    let set = ses
        .put_email_identity_dkim_signing_attributes()
        .email_identity("example.net")
        .signing_attributes_origin(DkimSigningAttributesOrigin::AwsSes)
        .send()
        .await
        .unwrap();
    assert_eq!(set.dkim_tokens().len(), 3);
    assert!(!get().await.unwrap().verified_for_sending_status());
}

#[tokio::test]
async fn configuration_sets_keep_their_options() {
    let acct = Account::new();
    let ses = acct.ses(R);
    ses.create_configuration_set()
        .configuration_set_name("tx")
        .delivery_options(
            DeliveryOptions::builder()
                .tls_policy(TlsPolicy::Require)
                .build(),
        )
        .suppression_options(
            SuppressionOptions::builder()
                .suppressed_reasons(SuppressionListReason::Bounce)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let err = ses
        .create_configuration_set()
        .configuration_set_name("tx")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("AlreadyExistsException"));
    ses.put_configuration_set_sending_options()
        .configuration_set_name("tx")
        .sending_enabled(false)
        .send()
        .await
        .unwrap();
    let got = ses
        .get_configuration_set()
        .configuration_set_name("tx")
        .send()
        .await
        .unwrap();
    assert_eq!(
        got.delivery_options().unwrap().tls_policy(),
        Some(&TlsPolicy::Require)
    );
    assert_eq!(
        got.suppression_options().unwrap().suppressed_reasons(),
        [SuppressionListReason::Bounce]
    );
    assert!(!got.sending_options().unwrap().sending_enabled());
    assert_eq!(
        ses.list_configuration_sets()
            .send()
            .await
            .unwrap()
            .configuration_sets(),
        ["tx"]
    );
}

/// A set created without SuppressionOptions follows the account's list and is described
/// without them; an empty list is an override that suppresses nothing (SES API v2 reference,
/// CreateConfigurationSet and SuppressionOptions; SES developer guide, configuration
/// set-level suppression).
#[tokio::test]
async fn absent_suppression_options_differ_from_an_empty_list() {
    let acct = Account::new();
    let ses = acct.ses(R);
    ses.create_configuration_set()
        .configuration_set_name("inherits")
        .send()
        .await
        .unwrap();
    ses.create_configuration_set()
        .configuration_set_name("none")
        .suppression_options(
            SuppressionOptions::builder()
                .set_suppressed_reasons(Some(vec![]))
                .build(),
        )
        .send()
        .await
        .unwrap();
    let get = |name: &'static str| {
        let ses = ses.clone();
        async move {
            ses.get_configuration_set()
                .configuration_set_name(name)
                .send()
                .await
                .unwrap()
        }
    };
    assert!(get("inherits").await.suppression_options().is_none());
    let none = get("none").await;
    assert_eq!(none.suppression_options().unwrap().suppressed_reasons(), []);
    ses.put_configuration_set_suppression_options()
        .configuration_set_name("inherits")
        .suppressed_reasons(SuppressionListReason::Complaint)
        .send()
        .await
        .unwrap();
    assert_eq!(
        get("inherits")
            .await
            .suppression_options()
            .unwrap()
            .suppressed_reasons(),
        [SuppressionListReason::Complaint]
    );
}

#[tokio::test]
async fn the_account_starts_in_the_sandbox() {
    let acct = Account::new();
    let ses = acct.ses(R);
    let a = ses.get_account().send().await.unwrap();
    assert!(!a.production_access_enabled());
    assert_eq!(a.send_quota().unwrap().max24_hour_send(), 200.0);
    ses.put_account_suppression_attributes()
        .suppressed_reasons(SuppressionListReason::Complaint)
        .send()
        .await
        .unwrap();
    ses.put_account_details()
        .mail_type(MailType::Transactional)
        .website_url("https://example.org")
        .use_case_description("receipts")
        .production_access_enabled(true)
        .send()
        .await
        .unwrap();
    let a = ses.get_account().send().await.unwrap();
    assert_eq!(
        a.suppression_attributes().unwrap().suppressed_reasons(),
        [SuppressionListReason::Complaint]
    );
    assert_eq!(
        a.details()
            .unwrap()
            .review_details()
            .unwrap()
            .status()
            .unwrap()
            .as_str(),
        "PENDING"
    );
    assert!(
        !a.production_access_enabled(),
        "people grant production access, not the API"
    );
    acct.set_ses_account(R, serde_json::json!({"ProductionAccessEnabled": true}));
    assert!(
        ses.get_account()
            .send()
            .await
            .unwrap()
            .production_access_enabled()
    );
}

/// SES API v2 reference, Tag: "The characters can be Unicode letters, digits, white space, or
/// one of the following symbols: _ . : / = + -." (mailinfra's key tag keeps to them:
/// docs/rotation.md).
#[tokio::test]
async fn tag_values_take_only_the_characters_the_tag_type_allows() {
    let acct = Account::new();
    let ses = acct.ses(R);
    let tag = |k: &str, v: &str| {
        aws_sdk_sesv2::types::Tag::builder()
            .key(k)
            .value(v)
            .build()
            .unwrap()
    };
    let err = ses
        .create_email_identity()
        .email_identity("example.org")
        .tags(tag("a", "x;y"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("BadRequestException"));
    ses.create_email_identity()
        .email_identity("example.org")
        .send()
        .await
        .unwrap();
    let arn = format!("arn:aws:ses:{R}:{}:identity/example.org", acct.id);
    for bad in ["a@b", "x;y", "\"quoted\"", &"v".repeat(257)] {
        let err = ses
            .tag_resource()
            .resource_arn(&arn)
            .tags(tag("mailinfra:dkim", bad))
            .send()
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some("BadRequestException"), "{bad}");
    }
    let good = "signing=byodkim:mi1-20261204 since=2026-12-04T10:00:00Z retiring=easy";
    ses.tag_resource()
        .resource_arn(&arn)
        .tags(tag("mailinfra:dkim", good))
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn tags_are_kept_and_listed() {
    let acct = Account::new();
    let ses = acct.ses(R);
    ses.create_email_identity()
        .email_identity("example.org")
        .tags(
            aws_sdk_sesv2::types::Tag::builder()
                .key("a")
                .value("1")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let arn = format!("arn:aws:ses:{R}:{}:identity/example.org", acct.id);
    ses.tag_resource()
        .resource_arn(&arn)
        .tags(
            aws_sdk_sesv2::types::Tag::builder()
                .key("b")
                .value("2")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let tags = ses
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(tags.tags().len(), 2);
    ses.untag_resource()
        .resource_arn(&arn)
        .tag_keys("a")
        .send()
        .await
        .unwrap();
    let got = ses
        .get_email_identity()
        .email_identity("example.org")
        .send()
        .await
        .unwrap();
    assert_eq!(
        got.tags().iter().map(|t| t.key()).collect::<Vec<_>>(),
        ["b"]
    );
}

fn tag(key: &str, value: &str) -> aws_sdk_sesv2::types::Tag {
    aws_sdk_sesv2::types::Tag::builder()
        .key(key)
        .value(value)
        .build()
        .unwrap()
}

/// A Resource Groups Tagging API client for this account in `region`.
fn tagging(acct: &Account, region: &str) -> aws_sdk_resourcegroupstagging::Client {
    let creds = aws_credential_types::Credentials::new(
        acct.access_key(),
        "test-secret",
        None,
        None,
        "test",
    );
    let config = aws_sdk_resourcegroupstagging::Config::builder()
        .behavior_version(aws_sdk_resourcegroupstagging::config::BehaviorVersion::latest())
        .region(aws_sdk_resourcegroupstagging::config::Region::new(
            region.to_owned(),
        ))
        .endpoint_url(&acct.endpoint)
        .credentials_provider(creds)
        .build();
    aws_sdk_resourcegroupstagging::Client::from_conf(config)
}

/// GetResources finds SES identities by resource type and tag, a page at a time (Resource
/// Groups Tagging API reference, API_GetResources).
#[tokio::test]
async fn tagged_identities_are_found_by_the_tagging_api() {
    let acct = Account::new();
    let ses = acct.ses(R);
    for (name, owner) in [
        ("a.example", Some("shop")),
        ("b.example", Some("shop")),
        ("c.example", Some("other")),
        ("d.example", None),
    ] {
        ses.create_email_identity()
            .email_identity(name)
            .set_tags(owner.map(|o| vec![tag("mailinfra:blueprint", o)]))
            .send()
            .await
            .unwrap();
    }
    ses.create_configuration_set()
        .configuration_set_name("tx")
        .tags(tag("mailinfra:blueprint", "shop"))
        .send()
        .await
        .unwrap();
    let filter = aws_sdk_resourcegroupstagging::types::TagFilter::builder()
        .key("mailinfra:blueprint")
        .values("shop")
        .build();
    let mut arns = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = tagging(&acct, R)
            .get_resources()
            .resource_type_filters("ses:identity")
            .tag_filters(filter.clone())
            .resources_per_page(1)
            .set_pagination_token(token)
            .send()
            .await
            .unwrap();
        pages += 1;
        arns.extend(
            page.resource_tag_mapping_list()
                .iter()
                .map(|m| m.resource_arn().unwrap().to_owned()),
        );
        match page.pagination_token().filter(|t| !t.is_empty()) {
            Some(t) => token = Some(t.to_owned()),
            None => break,
        }
    }
    assert_eq!(
        arns,
        [
            format!("arn:aws:ses:{R}:{}:identity/a.example", acct.id),
            format!("arn:aws:ses:{R}:{}:identity/b.example", acct.id),
        ]
    );
    assert_eq!(pages, 2);
}

/// ARNs carry the partition of the region: `arn:aws-us-gov:` in GovCloud, where an
/// `arn:aws:` ARN names nothing.
#[tokio::test]
async fn arns_carry_the_partition_of_the_region() {
    let acct = Account::new();
    let gov = "us-gov-west-1";
    let ses = acct.ses(gov);
    ses.create_email_identity()
        .email_identity("example.org")
        .send()
        .await
        .unwrap();
    let wrong = format!("arn:aws:ses:{gov}:{}:identity/example.org", acct.id);
    let err = ses
        .tag_resource()
        .resource_arn(&wrong)
        .tags(tag("k", "v"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("BadRequestException"));
    let right = format!("arn:aws-us-gov:ses:{gov}:{}:identity/example.org", acct.id);
    ses.tag_resource()
        .resource_arn(&right)
        .tags(tag("k", "v"))
        .send()
        .await
        .unwrap();
}

/// An Easy DKIM key length change sets only the next key pair's length (SES Developer Guide,
/// "DKIM signing key length"; DkimSigningAttributes `NextSigningKeyLength`): the tokens and
/// the key in use stay; the length already set and a second change within 24 hours are
/// refused.
#[tokio::test]
async fn an_easy_dkim_key_length_change_is_for_the_next_key_only() {
    use aws_sdk_sesv2::types::DkimSigningKeyLength;
    let acct = Account::new();
    let ses = acct.ses(R);
    let created = ses
        .create_email_identity()
        .email_identity("example.org")
        .dkim_signing_attributes(
            DkimSigningAttributes::builder()
                .next_signing_key_length(DkimSigningKeyLength::Rsa1024Bit)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let tokens = created.dkim_attributes().unwrap().tokens().to_vec();
    let set = |length: DkimSigningKeyLength| {
        ses.put_email_identity_dkim_signing_attributes()
            .email_identity("example.org")
            .signing_attributes_origin(DkimSigningAttributesOrigin::AwsSes)
            .signing_attributes(
                DkimSigningAttributes::builder()
                    .next_signing_key_length(length)
                    .build(),
            )
            .send()
    };
    let same = set(DkimSigningKeyLength::Rsa1024Bit).await.unwrap_err();
    assert_eq!(same.code(), Some("BadRequestException"));
    set(DkimSigningKeyLength::Rsa2048Bit).await.unwrap();
    let got = ses
        .get_email_identity()
        .email_identity("example.org")
        .send()
        .await
        .unwrap();
    let d = got.dkim_attributes().unwrap();
    assert_eq!(d.tokens(), tokens.as_slice());
    assert_eq!(
        d.current_signing_key_length(),
        Some(&DkimSigningKeyLength::Rsa1024Bit)
    );
    assert_eq!(
        d.next_signing_key_length(),
        Some(&DkimSigningKeyLength::Rsa2048Bit)
    );
    assert!(d.last_key_generation_timestamp().is_some());
    let again = set(DkimSigningKeyLength::Rsa1024Bit).await.unwrap_err();
    assert_eq!(again.code(), Some("BadRequestException"));
    assert!(
        again.message().unwrap_or_default().contains("24 hours"),
        "{again:?}"
    );
}
