//! Carries out a plan's SES changes in order (sets, identities, their settings, account,
//! then deletions), paced under SES's rate. Returns what SES gave back that DNS needs:
//! Easy DKIM tokens, and the public half of each key generated for BYODKIM. The private
//! half goes to SES in one request and is dropped; it is never printed or stored. A new
//! BYODKIM key of an existing identity waits in memory (`NewKeys`) until DNS publishes its
//! TXT: `after_dns` gives it to SES (docs/rotation.md, "SES BYODKIM").

use std::collections::BTreeMap;

use aws_sdk_sesv2::error::ProvideErrorMetadata;
use aws_sdk_sesv2::operation::put_email_identity_dkim_signing_attributes::PutEmailIdentityDkimSigningAttributesOutput;
use aws_sdk_sesv2::types::{
    BehaviorOnMxFailure, ContactLanguage, DeliveryOptions, DkimSigningAttributes,
    DkimSigningAttributesOrigin, DkimSigningKeyLength, MailType, SendingOptions,
    SuppressionListReason, SuppressionOptions, Tag, TlsPolicy,
};

use crate::aws::{Aws, AwsError, ops, partition};
use crate::kinds::ses::observe;
use crate::kinds::ses::{
    DesiredConfigSet, DesiredIdentity, DkimOrigin, DkimSetting, MxFailure, ObservedConfigSet,
    ObservedIdentity, ProductionAccess, SuppressionReason, default_signing_zone,
};
use crate::mail::dkim;
use crate::output::Output;
use crate::plan::desired::{OutputRef, OutputValue, Outputs};
use crate::plan::{SesChange, SesOp};

fn tags(map: &BTreeMap<String, String>) -> Result<Vec<Tag>, AwsError> {
    map.iter()
        .map(|(k, v)| {
            Tag::builder()
                .key(k)
                .value(v)
                .build()
                .map_err(|e| AwsError::Other(format!("building a tag: {e}")))
        })
        .collect()
}

fn reasons(list: &[SuppressionReason]) -> Vec<SuppressionListReason> {
    list.iter()
        .map(|r| SuppressionListReason::from(r.as_str()))
        .collect()
}

fn delivery(set: &DesiredConfigSet) -> DeliveryOptions {
    DeliveryOptions::builder()
        .tls_policy(TlsPolicy::from(set.tls.as_str()))
        .build()
}

/// What a DKIM setting needs sent, and what DNS will need: the key is generated here.
fn signing(dkim: &DkimSetting) -> Result<(DkimSigningAttributes, Option<String>), AwsError> {
    match dkim {
        DkimSetting::Easy { key_length } => Ok((
            DkimSigningAttributes::builder()
                .next_signing_key_length(DkimSigningKeyLength::from(key_length.as_str()))
                .build(),
            None,
        )),
        DkimSetting::External { selector } => {
            let (private, public) = dkim::generate_key().map_err(AwsError::Other)?;
            Ok((byodkim(selector, &private), Some(public)))
        }
    }
}

/// The signing attributes that give SES a BYODKIM key: the one request its private half is in.
fn byodkim(selector: &str, private: &dkim::PrivateKey) -> DkimSigningAttributes {
    DkimSigningAttributes::builder()
        .domain_signing_selector(selector)
        .domain_signing_private_key(private.expose_base64())
        .build()
}

/// Records what SES returned for a domain's DKIM as that identity's outputs: the public half
/// of a key mailinfra generated (BYODKIM), or the Easy DKIM tokens and their zone.
fn learn(
    learned: &mut Outputs,
    domain: &str,
    tokens: &[String],
    zone: Option<&str>,
    region: &str,
    public: Option<String>,
) {
    match public {
        Some(key) => learned.set(OutputRef::ses_key(domain), OutputValue::Text(key)),
        None => learned.set(
            OutputRef::ses_tokens(domain),
            OutputValue::Tokens {
                tokens: tokens.to_vec(),
                signing_zone: zone.map_or_else(|| default_signing_zone(region), str::to_owned),
            },
        ),
    }
}

/// The account id, for the ARNs that tagging takes.
async fn account_id(aws: &Aws) -> Result<String, AwsError> {
    let who = aws
        .sts
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| AwsError::call(&ops::GET_CALLER_IDENTITY, e))?;
    Ok(who.account().unwrap_or_default().to_owned())
}

async fn tag(aws: &Aws, arn: String, map: &BTreeMap<String, String>) -> Result<(), AwsError> {
    aws.ses_pace.wait().await;
    aws.ses
        .tag_resource()
        .resource_arn(arn)
        .set_tags(Some(tags(map)?))
        .send()
        .await
        .map_err(|e| AwsError::call(&ops::TAG_RESOURCE, e))?;
    Ok(())
}

/// The BYODKIM keys generated for existing identities, by domain, with their selectors: held
/// in memory only, until their TXT records are INSYNC.
#[derive(Debug, Default)]
pub struct NewKeys(BTreeMap<String, (String, dkim::PrivateKey)>);

/// Writes an identity's key history tag (`rotation::KeyTag`), its `now` stamped.
async fn mark_key(aws: &Aws, domain: &str, mark: &str) -> Result<(), AwsError> {
    let value = crate::kinds::rotation::stamp(mark, crate::kinds::rotation::unix_now());
    let map = BTreeMap::from([(super::rotation::TAG.to_owned(), value)]);
    tag_identity(aws, domain, &map).await
}

pub async fn apply(
    aws: &Aws,
    changes: &[SesChange],
    out: &Output,
) -> Result<(Outputs, NewKeys), AwsError> {
    let mut learned = Outputs::default();
    let mut keys = NewKeys::default();
    for change in changes {
        crate::interrupt::check(&change.address)?;
        aws.ses_pace.wait().await;
        match &change.op {
            SesOp::CreateConfigurationSet { set } => create_config_set(aws, set).await?,
            SesOp::UpdateConfigurationSet {
                set,
                suppression,
                delivery,
                sending,
                tags,
            } => {
                let parts = SetParts {
                    suppression: *suppression,
                    delivery: *delivery,
                    sending: *sending,
                    tags: *tags,
                };
                update_config_set(aws, set, parts).await?;
            }
            SesOp::DeleteConfigurationSet { name } => delete_config_set(aws, name).await?,
            SesOp::CreateIdentity { identity, tags } => {
                // The key history's `since` is the create's time.
                let now = crate::kinds::rotation::unix_now();
                let tags: BTreeMap<String, String> = tags
                    .iter()
                    .map(|(k, v)| (k.clone(), crate::kinds::rotation::stamp(v, now)))
                    .collect();
                create_identity(aws, identity, &tags, &mut learned).await?;
                out.progress(&format!("SES: created identity {}", identity.domain));
            }
            SesOp::TagIdentity { domain, tags } => tag_identity(aws, domain, tags).await?,
            SesOp::SetDkim { domain, dkim, mark } => {
                if let Some(mark) = mark {
                    mark_key(aws, domain, mark).await?;
                }
                match dkim {
                    // Published first: SES gets the key after DNS (`after_dns`).
                    DkimSetting::External { selector } => {
                        let (private, public) = dkim::generate_key().map_err(AwsError::Other)?;
                        learned.set(OutputRef::ses_key(domain), OutputValue::Text(public));
                        keys.0.insert(domain.clone(), (selector.clone(), private));
                        out.progress(&format!(
                            "SES: generated a DKIM key for {domain} under `{selector}`; SES signs with it once its TXT is INSYNC"
                        ));
                    }
                    DkimSetting::Easy { .. } => {
                        if mark.is_some() {
                            aws.ses_pace.wait().await;
                        }
                        set_dkim(aws, domain, dkim, &mut learned).await?;
                        out.progress(&format!("SES: set DKIM signing for {domain}"));
                    }
                }
            }
            SesOp::EnableDkimSigning { domain } => enable_dkim_signing(aws, domain).await?,
            SesOp::SetMailFrom {
                domain,
                mail_from,
                behavior,
            } => put_mail_from(aws, domain, mail_from.as_deref(), behavior).await?,
            SesOp::SetIdentityConfigurationSet { domain, name } => {
                set_identity_config_set(aws, domain, name.as_deref()).await?;
            }
            SesOp::DeleteIdentity { domain } => {
                delete_identity(aws, domain).await?;
                out.progress(&format!("SES: deleted identity {domain}"));
            }
            SesOp::SetAccountSuppression { reasons } => {
                set_account_suppression(aws, reasons).await?;
            }
            SesOp::RequestProductionAccess { request } => {
                request_production_access(aws, request).await?;
                out.progress(
                    "SES: requested production access; AWS reviews it (usually within a day)",
                );
            }
        }
    }
    Ok((learned, keys))
}

/// Gives SES the BYODKIM keys `apply` generated, now that DNS publishes them (INSYNC).
pub async fn after_dns(
    aws: &Aws,
    changes: &[SesChange],
    mut keys: NewKeys,
    out: &Output,
) -> Result<(), AwsError> {
    for change in changes {
        let SesOp::SetDkim {
            domain,
            dkim: DkimSetting::External { .. },
            ..
        } = &change.op
        else {
            continue;
        };
        crate::interrupt::check(&change.address)?;
        let Some((selector, private)) = keys.0.remove(domain) else {
            return Err(AwsError::Other(format!(
                "no key was generated for {domain} before DNS; run `mailinfra apply` again"
            )));
        };
        aws.ses_pace.wait().await;
        put_signing(
            aws,
            domain,
            DkimSigningAttributesOrigin::External,
            byodkim(&selector, &private),
        )
        .await?;
        out.progress(&format!(
            "SES: signs {domain} with the key under `{selector}`"
        ));
    }
    Ok(())
}

async fn create_config_set(aws: &Aws, set: &DesiredConfigSet) -> Result<(), AwsError> {
    let sent = aws
        .ses
        .create_configuration_set()
        .configuration_set_name(&set.name)
        .delivery_options(delivery(set))
        .sending_options(
            SendingOptions::builder()
                .sending_enabled(set.sending_enabled)
                .build(),
        )
        // Without SuppressionOptions the set follows the account's suppression list; an
        // empty list would override it with nothing.
        .set_suppression_options(set.suppression.as_ref().map(|rs| {
            SuppressionOptions::builder()
                .set_suppressed_reasons(Some(reasons(rs)))
                .build()
        }))
        .set_tags(Some(tags(&set.tags)?))
        .send()
        .await;
    match sent {
        Err(e) if e.code() == Some(ALREADY_EXISTS) => {
            // A retry after a lost response finds the set its first attempt made.
            let found = observe::config_set_if_any(aws, set.name.clone()).await?;
            if found.is_some_and(|o| set_is(set, &o)) {
                Ok(())
            } else {
                Err(exists_meanwhile(
                    &ops::CREATE_CONFIGURATION_SET,
                    e,
                    &format!("configuration set `{}`", set.name),
                ))
            }
        }
        r => r
            .map(|_| ())
            .map_err(|e| AwsError::call(&ops::CREATE_CONFIGURATION_SET, e)),
    }
}

/// SES's answer to a create of something that exists.
const ALREADY_EXISTS: &str = "AlreadyExistsException";

/// Whether an existing set is the one this create asked for.
fn set_is(want: &DesiredConfigSet, o: &ObservedConfigSet) -> bool {
    want.tags.iter().all(|(k, v)| o.tags.get(k) == Some(v))
        && o.suppression == want.suppression
        && o.tls == want.tls
        && o.sending_enabled == want.sending_enabled
}

/// A create refused because something else made the resource after the plan: the error as
/// SES gave it, with a hint that says only what is known.
fn exists_meanwhile<E>(
    op: &'static ops::Op,
    err: aws_sdk_sesv2::error::SdkError<E, aws_smithy_runtime_api::http::Response>,
    what: &str,
) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match AwsError::call(op, err) {
        AwsError::Call {
            operation,
            code,
            message,
            ..
        } => AwsError::Call {
            operation,
            code,
            message,
            hint: Some(format!(
                "{what} was created after the plan, and not as this apply asks (another run or a person?): run `mailinfra plan` again to see it"
            )),
        },
        other => other,
    }
}

/// Which parts of an existing configuration set to write.
struct SetParts {
    suppression: bool,
    delivery: bool,
    sending: bool,
    tags: bool,
}

/// Writes the drifted parts of a set, one request each (the first is already paced).
async fn update_config_set(
    aws: &Aws,
    set: &DesiredConfigSet,
    parts: SetParts,
) -> Result<(), AwsError> {
    if let (true, Some(list)) = (parts.suppression, &set.suppression) {
        aws.ses
            .put_configuration_set_suppression_options()
            .configuration_set_name(&set.name)
            .set_suppressed_reasons(Some(reasons(list)))
            .send()
            .await
            .map_err(|e| AwsError::call(&ops::PUT_CONFIGURATION_SET_SUPPRESSION_OPTIONS, e))?;
    }
    if parts.delivery {
        aws.ses_pace.wait().await;
        aws.ses
            .put_configuration_set_delivery_options()
            .configuration_set_name(&set.name)
            .tls_policy(TlsPolicy::from(set.tls.as_str()))
            .send()
            .await
            .map_err(|e| AwsError::call(&ops::PUT_CONFIGURATION_SET_DELIVERY_OPTIONS, e))?;
    }
    if parts.sending {
        aws.ses_pace.wait().await;
        aws.ses
            .put_configuration_set_sending_options()
            .configuration_set_name(&set.name)
            .sending_enabled(set.sending_enabled)
            .send()
            .await
            .map_err(|e| AwsError::call(&ops::PUT_CONFIGURATION_SET_SENDING_OPTIONS, e))?;
    }
    if parts.tags {
        let arn = format!(
            "arn:{}:ses:{}:{}:configuration-set/{}",
            partition::of(&aws.region),
            aws.region,
            account_id(aws).await?,
            set.name
        );
        tag(aws, arn, &set.tags).await?;
    }
    Ok(())
}

async fn delete_config_set(aws: &Aws, name: &str) -> Result<(), AwsError> {
    let r = aws
        .ses
        .delete_configuration_set()
        .configuration_set_name(name)
        .send()
        .await;
    gone_is_deleted(r, |e| AwsError::call(&ops::DELETE_CONFIGURATION_SET, e))
}

/// A deletion's outcome: what is already gone counts as deleted, so a deletion can be
/// retried after an apply that stopped half-way.
fn gone_is_deleted<T, E: ProvideErrorMetadata>(
    r: Result<T, E>,
    fail: impl FnOnce(E) -> AwsError,
) -> Result<(), AwsError> {
    match r {
        Err(e) if e.code() != Some("NotFoundException") => Err(fail(e)),
        _ => Ok(()),
    }
}

/// Creates an identity with its DKIM setting, configuration set and tags, learns its DKIM
/// outputs, then sets its MAIL FROM domain (CreateEmailIdentity does not take one).
async fn create_identity(
    aws: &Aws,
    identity: &DesiredIdentity,
    tag_map: &BTreeMap<String, String>,
    learned: &mut Outputs,
) -> Result<(), AwsError> {
    let (attrs, public) = signing(&identity.dkim)?;
    let sent = aws
        .ses
        .create_email_identity()
        .email_identity(&identity.domain)
        .dkim_signing_attributes(attrs)
        .set_configuration_set_name(identity.configuration_set.clone())
        .set_tags(Some(tags(tag_map)?))
        .send()
        .await;
    match sent {
        Ok(created) => {
            let dk = created.dkim_attributes();
            let tokens = dk.map(|d| d.tokens().to_vec()).unwrap_or_default();
            learn(
                learned,
                &identity.domain,
                &tokens,
                dk.and_then(|d| d.signing_hosted_zone()),
                &aws.region,
                public,
            );
        }
        Err(e) if e.code() == Some(ALREADY_EXISTS) => {
            // A retry after a lost response: the identity the first attempt made is a
            // success when it is the one asked for.
            let found = observe::identity_if_any(aws, identity.domain.clone()).await?;
            match found.filter(|o| identity_is(identity, tag_map, o)) {
                Some(o) if public.is_none() => learn(
                    learned,
                    &identity.domain,
                    &o.tokens,
                    o.signing_zone.as_deref(),
                    &aws.region,
                    None,
                ),
                // BYODKIM: set the key again, so SES surely signs with the half DNS gets.
                Some(_) => {
                    aws.ses_pace.wait().await;
                    set_dkim(aws, &identity.domain, &identity.dkim, learned).await?;
                }
                None => {
                    return Err(exists_meanwhile(
                        &ops::CREATE_EMAIL_IDENTITY,
                        e,
                        &format!("SES identity `{}`", identity.domain),
                    ));
                }
            }
        }
        Err(e) => return Err(AwsError::call(&ops::CREATE_EMAIL_IDENTITY, e)),
    }
    if let Some(mf) = &identity.mail_from {
        aws.ses_pace.wait().await;
        put_mail_from(aws, &identity.domain, Some(&mf.domain), &mf.behavior).await?;
    }
    Ok(())
}

/// Whether an existing identity is the one this create asked for: this blueprint's tags, the
/// DKIM origin and the configuration set.
fn identity_is(
    want: &DesiredIdentity,
    tag_map: &BTreeMap<String, String>,
    o: &ObservedIdentity,
) -> bool {
    let origin = match want.dkim {
        DkimSetting::Easy { .. } => DkimOrigin::AwsSes,
        DkimSetting::External { .. } => DkimOrigin::External,
    };
    tag_map.iter().all(|(k, v)| o.tags.get(k) == Some(v))
        && o.dkim_origin == origin
        && o.configuration_set == want.configuration_set
}

async fn tag_identity(
    aws: &Aws,
    domain: &str,
    tag_map: &BTreeMap<String, String>,
) -> Result<(), AwsError> {
    let arn = format!(
        "arn:{}:ses:{}:{}:identity/{domain}",
        partition::of(&aws.region),
        aws.region,
        account_id(aws).await?
    );
    tag(aws, arn, tag_map).await
}

/// PutEmailIdentityDkimSigningAttributes: how SES signs for `domain` from now on.
async fn put_signing(
    aws: &Aws,
    domain: &str,
    origin: DkimSigningAttributesOrigin,
    attrs: DkimSigningAttributes,
) -> Result<PutEmailIdentityDkimSigningAttributesOutput, AwsError> {
    aws.ses
        .put_email_identity_dkim_signing_attributes()
        .email_identity(domain)
        .signing_attributes_origin(origin)
        .signing_attributes(attrs)
        .send()
        .await
        .map_err(|e| AwsError::call(&ops::PUT_EMAIL_IDENTITY_DKIM_SIGNING_ATTRIBUTES, e))
}

/// Sets how SES signs for a domain and learns the DKIM outputs that gives.
async fn set_dkim(
    aws: &Aws,
    domain: &str,
    setting: &DkimSetting,
    learned: &mut Outputs,
) -> Result<(), AwsError> {
    let (attrs, public) = signing(setting)?;
    let origin = match setting {
        DkimSetting::Easy { .. } => DkimSigningAttributesOrigin::AwsSes,
        DkimSetting::External { .. } => DkimSigningAttributesOrigin::External,
    };
    let set = put_signing(aws, domain, origin, attrs).await?;
    learn(
        learned,
        domain,
        set.dkim_tokens(),
        set.signing_hosted_zone(),
        &aws.region,
        public,
    );
    Ok(())
}

async fn enable_dkim_signing(aws: &Aws, domain: &str) -> Result<(), AwsError> {
    aws.ses
        .put_email_identity_dkim_attributes()
        .email_identity(domain)
        .signing_enabled(true)
        .send()
        .await
        .map_err(|e| AwsError::call(&ops::PUT_EMAIL_IDENTITY_DKIM_ATTRIBUTES, e))?;
    Ok(())
}

async fn set_identity_config_set(
    aws: &Aws,
    domain: &str,
    name: Option<&str>,
) -> Result<(), AwsError> {
    aws.ses
        .put_email_identity_configuration_set_attributes()
        .email_identity(domain)
        .set_configuration_set_name(name.map(str::to_owned))
        .send()
        .await
        .map_err(|e| AwsError::call(&ops::PUT_EMAIL_IDENTITY_CONFIGURATION_SET_ATTRIBUTES, e))?;
    Ok(())
}

async fn delete_identity(aws: &Aws, domain: &str) -> Result<(), AwsError> {
    let r = aws
        .ses
        .delete_email_identity()
        .email_identity(domain)
        .send()
        .await;
    gone_is_deleted(r, |e| AwsError::call(&ops::DELETE_EMAIL_IDENTITY, e))
}

async fn set_account_suppression(aws: &Aws, list: &[SuppressionReason]) -> Result<(), AwsError> {
    aws.ses
        .put_account_suppression_attributes()
        .set_suppressed_reasons(Some(reasons(list)))
        .send()
        .await
        .map_err(|e| AwsError::call(&ops::PUT_ACCOUNT_SUPPRESSION_ATTRIBUTES, e))?;
    Ok(())
}

async fn request_production_access(aws: &Aws, request: &ProductionAccess) -> Result<(), AwsError> {
    aws.ses
        .put_account_details()
        .mail_type(MailType::from(request.mail_type.as_str()))
        .website_url(&request.website_url)
        .use_case_description(&request.use_case)
        .contact_language(ContactLanguage::from(request.contact_language.as_str()))
        .set_additional_contact_email_addresses(
            (!request.additional_contacts.is_empty()).then(|| request.additional_contacts.clone()),
        )
        .production_access_enabled(true)
        .send()
        .await
        .map_err(|e| AwsError::call(&ops::PUT_ACCOUNT_DETAILS, e))?;
    Ok(())
}

async fn put_mail_from(
    aws: &Aws,
    domain: &str,
    mail_from: Option<&str>,
    behavior: &MxFailure,
) -> Result<(), AwsError> {
    aws.ses
        .put_email_identity_mail_from_attributes()
        .email_identity(domain)
        .set_mail_from_domain(mail_from.map(str::to_owned))
        .behavior_on_mx_failure(BehaviorOnMxFailure::from(behavior.as_str()))
        .send()
        .await
        .map_err(|e| AwsError::call(&ops::PUT_EMAIL_IDENTITY_MAIL_FROM_ATTRIBUTES, e))?;
    Ok(())
}
