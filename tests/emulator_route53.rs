//! The emulator extension's Route 53 behaviours (emulator/README.md), each shown through the
//! real SDK: what AWS does, and what plain moto did not.

mod common;

use aws_sdk_route53::error::ProvideErrorMetadata;
use aws_sdk_route53::types::ChangeAction::{Create, Delete, Upsert};
use common::{Account, q};

#[tokio::test]
async fn create_of_an_existing_set_fails_the_batch_whatever_its_values() {
    let acct = Account::new();
    let z = acct.create_zone("example.com").await;
    acct.change(&z, &[(Create, "a.example.com", "TXT", 300, &[&q("one")])])
        .await
        .unwrap();
    let err = acct
        .change(&z, &[(Create, "a.example.com", "TXT", 60, &[&q("two")])])
        .await
        .unwrap_err();
    assert!(err.starts_with("InvalidChangeBatch: "), "{err}");
    assert!(err.contains("Tried to create resource record set [name='a.example.com.', type='TXT'] but it already exists"), "{err}");
    let records = acct.records(&z).await;
    assert_eq!(
        records[&("a.example.com".into(), "TXT".into())],
        (300, vec![q("one")])
    );
}

#[tokio::test]
async fn delete_must_match_the_current_set_exactly() {
    let acct = Account::new();
    let z = acct.create_zone("example.com").await;
    acct.change(&z, &[(Create, "a.example.com", "TXT", 300, &[&q("one")])])
        .await
        .unwrap();
    let stale = acct
        .change(&z, &[(Delete, "a.example.com", "TXT", 300, &[&q("old")])])
        .await
        .unwrap_err();
    assert!(
        stale.contains("but the values provided do not match the current values"),
        "{stale}"
    );
    let ttl = acct
        .change(&z, &[(Delete, "a.example.com", "TXT", 60, &[&q("one")])])
        .await
        .unwrap_err();
    assert!(ttl.starts_with("InvalidChangeBatch"), "{ttl}");
    let missing = acct
        .change(&z, &[(Delete, "b.example.com", "TXT", 300, &[&q("one")])])
        .await
        .unwrap_err();
    assert!(missing.contains("but it was not found"), "{missing}");
    acct.change(&z, &[(Delete, "a.example.com", "TXT", 300, &[&q("one")])])
        .await
        .unwrap();
    assert!(acct.records(&z).await.is_empty());
}

#[tokio::test]
async fn a_failed_batch_applies_nothing_and_lists_every_problem() {
    let acct = Account::new();
    let z = acct.create_zone("example.com").await;
    let err = acct
        .change(
            &z,
            &[
                (Create, "ok.example.com", "TXT", 300, &[&q("fine")]),
                (Delete, "gone.example.com", "TXT", 300, &[&q("x")]),
                (Create, "out.example.org", "TXT", 300, &[&q("x")]),
            ],
        )
        .await
        .unwrap_err();
    assert!(err.contains("gone.example.com."), "{err}");
    assert!(
        err.contains("is not permitted in zone example.com."),
        "{err}"
    );
    assert!(
        acct.records(&z).await.is_empty(),
        "nothing of the batch was applied"
    );
}

#[tokio::test]
async fn delete_then_create_in_one_batch_replaces_a_set() {
    let acct = Account::new();
    let z = acct.create_zone("example.com").await;
    acct.change(&z, &[(Create, "a.example.com", "TXT", 300, &[&q("one")])])
        .await
        .unwrap();
    acct.change(
        &z,
        &[
            (Delete, "a.example.com", "TXT", 300, &[&q("one")]),
            (
                Create,
                "a.example.com",
                "TXT",
                600,
                &[&q("two"), &q("three")],
            ),
        ],
    )
    .await
    .unwrap();
    let records = acct.records(&z).await;
    assert_eq!(
        records[&("a.example.com".into(), "TXT".into())],
        (600, vec![q("two"), q("three")])
    );
    assert_eq!(records.len(), 1);
}

#[tokio::test]
async fn txt_strings_over_255_characters_are_refused() {
    let acct = Account::new();
    let z = acct.create_zone("example.com").await;
    let long = q(&"a".repeat(256));
    let err = acct
        .change(&z, &[(Upsert, "a.example.com", "TXT", 300, &[&long])])
        .await
        .unwrap_err();
    assert!(err.contains("CharacterStringTooLong"), "{err}");
    let split = format!("{} {}", q(&"a".repeat(255)), q("b"));
    acct.change(&z, &[(Upsert, "a.example.com", "TXT", 300, &[&split])])
        .await
        .unwrap();
}

#[tokio::test]
async fn names_are_case_insensitive_and_stored_lower_case() {
    let acct = Account::new();
    let z = acct.create_zone("example.com").await;
    acct.change(&z, &[(Create, "Mixed.Example.COM", "TXT", 300, &[&q("x")])])
        .await
        .unwrap();
    assert!(
        acct.records(&z)
            .await
            .contains_key(&("mixed.example.com".into(), "TXT".into()))
    );
}

#[tokio::test]
async fn each_batch_has_its_own_change_id_and_unknown_ids_are_not_found() {
    let acct = Account::new();
    let z = acct.create_zone("example.com").await;
    let r53 = acct.route53();
    let mut ids = Vec::new();
    for name in ["a.example.com", "b.example.com"] {
        let set = aws_sdk_route53::types::ResourceRecordSet::builder()
            .name(name)
            .r#type(aws_sdk_route53::types::RrType::Txt)
            .ttl(300)
            .resource_records(
                aws_sdk_route53::types::ResourceRecord::builder()
                    .value(q("x"))
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap();
        let out = r53
            .change_resource_record_sets()
            .hosted_zone_id(&z)
            .change_batch(
                aws_sdk_route53::types::ChangeBatch::builder()
                    .changes(
                        aws_sdk_route53::types::Change::builder()
                            .action(Create)
                            .resource_record_set(set)
                            .build()
                            .unwrap(),
                    )
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
        ids.push(out.change_info().unwrap().id().to_owned());
    }
    assert_ne!(ids[0], ids[1]);
    let status = r53.get_change().id(&ids[0]).send().await.unwrap();
    assert_eq!(status.change_info().unwrap().status().as_str(), "INSYNC");
    let err = r53
        .get_change()
        .id("/change/CNOSUCHCHANGE1")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("NoSuchChange"));
}

#[tokio::test]
async fn the_access_key_selects_an_isolated_account() {
    let a = Account::new();
    let b = Account::new();
    a.create_zone("example.com").await;
    let zones = b.route53().list_hosted_zones().send().await.unwrap();
    assert!(
        zones.hosted_zones().is_empty(),
        "account {} sees account {}'s zone",
        b.id,
        a.id
    );
    assert_eq!(a.requests().get("route53.CreateHostedZone"), Some(&1));
    assert_eq!(b.requests().get("route53.ListHostedZones"), Some(&1));
}

/// A lost response (the emulator's `delay … mode=response` hook): the batch takes effect at
/// once, the answer is held past the client's attempt timeout, and the SDK's retry meets the
/// batch's own records: "already exists".
#[tokio::test]
async fn a_retried_batch_whose_response_was_lost_meets_its_own_records() {
    let acct = Account::new();
    let zone = acct.create_zone("example.com").await;
    acct.lose_responses("route53.ChangeResourceRecordSets", 2.0, 1);
    let creds = aws_credential_types::Credentials::new(
        acct.access_key(),
        "test-secret",
        None,
        None,
        "test",
    );
    let client = aws_sdk_route53::Client::from_conf(
        aws_sdk_route53::Config::builder()
            .behavior_version(aws_sdk_route53::config::BehaviorVersion::latest())
            .region(aws_sdk_route53::config::Region::new("us-east-1"))
            .endpoint_url(&acct.endpoint)
            .credentials_provider(creds)
            .timeout_config(
                aws_sdk_route53::config::timeout::TimeoutConfig::builder()
                    .operation_attempt_timeout(std::time::Duration::from_millis(500))
                    .build(),
            )
            .build(),
    );
    use aws_sdk_route53::types::{Change, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType};
    let set = ResourceRecordSet::builder()
        .name("example.com")
        .r#type(RrType::Txt)
        .ttl(300)
        .resource_records(ResourceRecord::builder().value("\"x\"").build().unwrap())
        .build()
        .unwrap();
    let err = client
        .change_resource_record_sets()
        .hosted_zone_id(&zone)
        .change_batch(
            ChangeBatch::builder()
                .changes(
                    Change::builder()
                        .action(Create)
                        .resource_record_set(set)
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InvalidChangeBatch"), "{err:?}");
    assert!(err.message().unwrap().contains("already exists"), "{err:?}");
    assert_eq!(acct.requests()["route53.ChangeResourceRecordSets"], 2);
    assert_eq!(
        acct.records(&zone).await[&("example.com".to_owned(), "TXT".to_owned())],
        (300, vec!["\"x\"".to_owned()])
    );
}
