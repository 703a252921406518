//! Observes Amazon SES v2 in the blueprint's region: the account (when the blueprint manages
//! account settings), the domain identities the blueprint names or owns (their tags say
//! whether this blueprint owns them) and every configuration set. Reads run concurrently,
//! paced under SES's one request a second.
//!
//! Identities are found without reading every identity in the region (an account may hold
//! 10,000): `ListEmailIdentities` (1,000 names a page) says which exist, one Resource Groups
//! Tagging API `GetResources` (100 a page) which are tagged `mailinfra:blueprint=<name>`, and
//! only those that exist and that the blueprint names or owns are read (`GetEmailIdentity`),
//! once each.
//! Configuration sets: `ListConfigurationSets` (1,000 a page) and one `GetConfigurationSet`
//! per set; `GetAccount` when account settings are managed.

use std::collections::{BTreeMap, BTreeSet};

use std::future::Future;

use aws_sdk_resourcegroupstagging::types::TagFilter;
use aws_sdk_sesv2::types::{IdentityType, SuppressionListReason, Tag};
use futures::stream::{self, StreamExt, TryStreamExt};

use crate::aws::{Aws, AwsError, ops};
use crate::kinds::ses::{
    AccountDetails, DkimOrigin, KeyLength, MxFailure, OWNER_TAG, ObservedAccount,
    ObservedConfigSet, ObservedIdentity, ObservedMailFrom, ObservedSes, ReviewStatus,
    SuppressionReason, TlsPolicy, VerificationStatus,
};

/// Reads in flight at once; the pace, not this, sets the rate.
const CONCURRENCY: usize = 4;

/// What SES holds for a blueprint: the identities of the `domains` it names and those tagged
/// as its own, every configuration set, and the account when `with_account`.
pub async fn observe(
    aws: &Aws,
    blueprint: &str,
    domains: &BTreeSet<String>,
    with_account: bool,
) -> Result<ObservedSes, AwsError> {
    let account = async {
        if with_account {
            account(aws).await.map(Some)
        } else {
            Ok(None)
        }
    };
    let identities = async {
        let (listed, owned) =
            futures::try_join!(list_identities(aws), owned_identities(aws, blueprint))?;
        let names: BTreeSet<String> = domains
            .iter()
            .chain(&owned)
            .filter(|n| listed.contains(*n))
            .cloned()
            .collect();
        let found = stream::iter(names.into_iter().map(|n| identity_if_any(aws, n)))
            .buffer_unordered(CONCURRENCY)
            .try_collect::<Vec<_>>()
            .await?;
        Ok::<_, AwsError>(found.into_iter().flatten().collect::<Vec<_>>())
    };
    let sets = async {
        let names = list_config_sets(aws).await?;
        stream::iter(names.into_iter().map(|n| config_set(aws, n)))
            .buffer_unordered(CONCURRENCY)
            .try_collect::<Vec<_>>()
            .await
    };
    let (account, identities, sets) = futures::try_join!(account, identities, sets)?;
    Ok(ObservedSes {
        region: aws.region.clone(),
        read_at: crate::kinds::rotation::unix_now(),
        account,
        identities: identities
            .into_iter()
            .map(|i| (i.domain.clone(), i))
            .collect(),
        config_sets: sets.into_iter().map(|s| (s.name.clone(), s)).collect(),
    })
}

pub async fn account(aws: &Aws) -> Result<ObservedAccount, AwsError> {
    aws.ses_pace.wait().await;
    let a = aws
        .ses
        .get_account()
        .send()
        .await
        .map_err(|e| AwsError::call(&ops::GET_ACCOUNT, e))?;
    let quota = a.send_quota();
    let review = a.details().and_then(|d| d.review_details());
    let details = AccountDetails {
        sending_enabled: a.sending_enabled(),
        max_24_hour_send: quota.map_or(0.0, |q| q.max24_hour_send()),
        max_send_rate: quota.map_or(0.0, |q| q.max_send_rate()),
        sent_last_24_hours: quota.map_or(0.0, |q| q.sent_last24_hours()),
        suppression: reasons(
            a.suppression_attributes()
                .map(|s| s.suppressed_reasons())
                .unwrap_or_default(),
        ),
        review_status: review
            .and_then(|r| r.status())
            .map(|s| ReviewStatus::from(s.as_str())),
        case_id: review.and_then(|r| r.case_id()).map(str::to_owned),
    };
    Ok(ObservedAccount {
        production_access: a.production_access_enabled(),
        details,
    })
}

/// Suppression reasons in SES's spelling, sorted as the blueprint's are.
fn reasons(list: &[SuppressionListReason]) -> Vec<SuppressionReason> {
    let mut v: Vec<SuppressionReason> = list
        .iter()
        .map(|r| SuppressionReason::from(r.as_str()))
        .collect();
    v.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    v
}

/// The names of the domain identities in the region.
async fn list_identities(aws: &Aws) -> Result<BTreeSet<String>, AwsError> {
    Ok(list_all_identities(aws)
        .await?
        .into_iter()
        .filter(|(_, domain)| *domain)
        .map(|(name, _)| name)
        .collect())
}

/// Every identity of the region, domains and email addresses: (name, whether a domain).
pub async fn list_all_identities(aws: &Aws) -> Result<Vec<(String, bool)>, AwsError> {
    list_all(aws, |token| async move {
        let page = aws
            .ses
            .list_email_identities()
            .page_size(PAGE_SIZE)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| AwsError::call(&ops::LIST_EMAIL_IDENTITIES, e))?;
        let names = page
            .email_identities()
            .iter()
            .filter_map(|i| {
                let domain = i.identity_type() == Some(&IdentityType::Domain);
                Some((i.identity_name()?.to_ascii_lowercase(), domain))
            })
            .collect();
        Ok((names, page.next_token().map(str::to_owned)))
    })
    .await
}

/// The most resources `GetResources` returns in one page.
const TAGGED_PAGE: i32 = 100;

/// The domain identities tagged as this blueprint's, by the Resource Groups Tagging API: one
/// request a page, whatever the number of identities in the region. The API is not SES's and
/// is not paced by it.
async fn owned_identities(aws: &Aws, blueprint: &str) -> Result<BTreeSet<String>, AwsError> {
    let mut names = BTreeSet::new();
    let mut token: Option<String> = None;
    loop {
        let page = aws
            .tagging
            .get_resources()
            .resource_type_filters("ses:identity")
            .tag_filters(
                TagFilter::builder()
                    .key(OWNER_TAG)
                    .values(blueprint)
                    .build(),
            )
            .resources_per_page(TAGGED_PAGE)
            .set_pagination_token(token)
            .send()
            .await
            .map_err(|e| AwsError::call(&ops::GET_RESOURCES, e))?;
        names.extend(
            page.resource_tag_mapping_list()
                .iter()
                .filter_map(|m| m.resource_arn()?.split_once(":identity/"))
                .map(|(_, name)| name.to_ascii_lowercase())
                .filter(|name| !name.contains('@')),
        );
        match page.pagination_token().filter(|t| !t.is_empty()) {
            Some(t) => token = Some(t.to_owned()),
            None => return Ok(names),
        }
    }
}

/// One identity, or `None` when SES has none of that name.
pub async fn identity_if_any(
    aws: &Aws,
    domain: String,
) -> Result<Option<ObservedIdentity>, AwsError> {
    match identity(aws, domain).await {
        Ok(o) => Ok(Some(o)),
        Err(e) if e.code() == Some("NotFoundException") => Ok(None),
        Err(e) => Err(e),
    }
}

async fn list_config_sets(aws: &Aws) -> Result<Vec<String>, AwsError> {
    list_all(aws, |token| async move {
        let page = aws
            .ses
            .list_configuration_sets()
            .page_size(PAGE_SIZE)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| AwsError::call(&ops::LIST_CONFIGURATION_SETS, e))?;
        let names = page.configuration_sets().to_vec();
        Ok((names, page.next_token().map(str::to_owned)))
    })
    .await
}

/// The largest page SES's list operations give.
const PAGE_SIZE: i32 = 1000;

/// Every name a listing holds: `page` requests the page after a token and says its names
/// and the next token. Each page waits for SES's pace: every page is a request.
async fn list_all<T, F, Fut>(aws: &Aws, mut page: F) -> Result<Vec<T>, AwsError>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: Future<Output = Result<(Vec<T>, Option<String>), AwsError>>,
{
    let mut names = Vec::new();
    let mut token = None;
    loop {
        aws.ses_pace.wait().await;
        let (more, next) = page(token).await?;
        names.extend(more);
        match next.filter(|t| !t.is_empty()) {
            Some(t) => token = Some(t),
            None => return Ok(names),
        }
    }
}

/// Tags as a map.
fn tag_map(tags: &[Tag]) -> BTreeMap<String, String> {
    tags.iter()
        .map(|t| (t.key().to_owned(), t.value().to_owned()))
        .collect()
}

/// One identity as GetEmailIdentity describes it.
pub async fn identity(aws: &Aws, domain: String) -> Result<ObservedIdentity, AwsError> {
    aws.ses_pace.wait().await;
    let o = aws
        .ses
        .get_email_identity()
        .email_identity(&domain)
        .send()
        .await
        .map_err(|e| AwsError::call(&ops::GET_EMAIL_IDENTITY, e))?;
    let dkim = o.dkim_attributes();
    Ok(ObservedIdentity {
        tags: tag_map(o.tags()),
        dkim_origin: dkim
            .and_then(|d| d.signing_attributes_origin())
            .map_or(DkimOrigin::AwsSes, |o| DkimOrigin::from(o.as_str())),
        tokens: dkim.map(|d| d.tokens().to_vec()).unwrap_or_default(),
        signing_zone: dkim
            .and_then(|d| d.signing_hosted_zone())
            .map(str::to_owned),
        next_key_length: dkim
            .and_then(|d| d.next_signing_key_length())
            .map(|k| KeyLength::from(k.as_str())),
        current_key_length: dkim
            .and_then(|d| d.current_signing_key_length())
            .map(|k| KeyLength::from(k.as_str())),
        last_key_generation: dkim
            .and_then(|d| d.last_key_generation_timestamp())
            .map(|t| t.secs()),
        signing_enabled: dkim.is_some_and(|d| d.signing_enabled()),
        dkim_status: status(dkim.and_then(|d| d.status()).map(|s| s.as_str())),
        verification: status(o.verification_status().map(|s| s.as_str())),
        verified_for_sending: o.verified_for_sending_status(),
        mail_from: o.mail_from_attributes().and_then(|m| {
            let d = m.mail_from_domain();
            (!d.is_empty()).then(|| ObservedMailFrom {
                domain: d.to_ascii_lowercase(),
                behavior: MxFailure::from(m.behavior_on_mx_failure().as_str()),
                status: VerificationStatus::from(m.mail_from_domain_status().as_str()),
            })
        }),
        configuration_set: o.configuration_set_name().map(str::to_owned),
        last_checked: o
            .verification_info()
            .and_then(|v| v.last_checked_timestamp())
            .map(|t| t.secs()),
        domain,
    })
}

/// A verification status; SES leaves it out before it starts.
fn status(s: Option<&str>) -> VerificationStatus {
    s.map_or(VerificationStatus::NotStarted, VerificationStatus::from)
}

/// One configuration set, or `None` when SES has none of that name.
pub async fn config_set_if_any(
    aws: &Aws,
    name: String,
) -> Result<Option<ObservedConfigSet>, AwsError> {
    match config_set(aws, name).await {
        Ok(o) => Ok(Some(o)),
        Err(e) if e.code() == Some("NotFoundException") => Ok(None),
        Err(e) => Err(e),
    }
}

async fn config_set(aws: &Aws, name: String) -> Result<ObservedConfigSet, AwsError> {
    aws.ses_pace.wait().await;
    let o = aws
        .ses
        .get_configuration_set()
        .configuration_set_name(&name)
        .send()
        .await
        .map_err(|e| AwsError::call(&ops::GET_CONFIGURATION_SET, e))?;
    Ok(ObservedConfigSet {
        tags: tag_map(o.tags()),
        suppression: o
            .suppression_options()
            .map(|s| reasons(s.suppressed_reasons())),
        tls: o
            .delivery_options()
            .and_then(|d| d.tls_policy())
            .map_or(TlsPolicy::Optional, |t| TlsPolicy::from(t.as_str())),
        sending_enabled: o.sending_options().is_none_or(|s| s.sending_enabled()),
        name,
    })
}
