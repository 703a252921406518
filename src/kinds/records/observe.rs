//! Observes the blueprint's Route 53 scope: the hosted zones it names and every zone tagged
//! with its footprint, each read a page (300 record sets) at a time.
//!
//! Requests for a no-op plan: ceil(zones/100) `ListHostedZones` + ceil(zones/10)
//! `ListTagsForResources` + ceil(records/300) `ListResourceRecordSets` per zone in scope.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_route53::types::TagResourceType;
use futures::future::try_join_all;

use crate::aws::{Aws, AwsError, ops};
use crate::kinds::records::ownership;
use crate::kinds::records::{RType, RecordSet};
use crate::mail::names;
use crate::plan::desired::Desired;
use crate::plan::observed::{HostedZone, ObservedZone};

/// The most record sets `ListResourceRecordSets` returns in one page.
const PAGE: i32 = 300;
/// The most hosted zones `ListTagsForResources` takes in one request.
const TAGS_PER_REQUEST: usize = 10;

/// The blueprint's zones, and the names of the account's other public zones (for hints).
pub async fn observe(
    aws: &Aws,
    desired: &Desired,
) -> Result<(Vec<ObservedZone>, Vec<String>), AwsError> {
    let zones = list_zones(aws).await?;
    let tagged = footprint(aws, &zones, &desired.blueprint).await?;
    let scope = in_scope(&zones, &tagged, desired)?;
    let others: Vec<String> = zones
        .iter()
        .filter(|z| !z.private && !scope.iter().any(|s| s.name == z.name))
        .map(|z| z.name.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let tagged = &tagged;
    let observed = try_join_all(scope.into_iter().map(|zone| async move {
        Ok::<_, AwsError>(ObservedZone {
            records: list_records(aws, &zone.id).await?,
            tagged: tagged.contains(&zone.id),
            zone: zone.clone(),
        })
    }))
    .await?;
    Ok((observed, others))
}

/// The zones the blueprint works in: the public zone of each name it names (of several with
/// one name, the one carrying its footprint tag), and every zone carrying that tag.
fn in_scope<'z>(
    zones: &'z [HostedZone],
    tagged: &BTreeSet<String>,
    desired: &Desired,
) -> Result<Vec<&'z HostedZone>, AwsError> {
    let mut by_name: BTreeMap<&str, Vec<&HostedZone>> = BTreeMap::new();
    for z in zones.iter().filter(|z| !z.private) {
        by_name.entry(&z.name).or_default().push(z);
    }
    let mut scope: Vec<&HostedZone> = Vec::new();
    for name in &desired.zones {
        match by_name.get(name.as_str()).map(Vec::as_slice) {
            Some([one]) => scope.push(one),
            Some(many) if many.len() > 1 => {
                // A tagged one is the one this blueprint already writes to.
                match many.iter().find(|z| tagged.contains(&z.id)) {
                    Some(z) => scope.push(z),
                    None => {
                        let ids: Vec<&str> = many.iter().map(|z| z.id.as_str()).collect();
                        return Err(AwsError::Other(format!(
                            "there are {} public hosted zones named `{name}` ({}); mailinfra cannot tell which one is delegated\n  = hint: delete the zones that are not in use",
                            many.len(),
                            ids.join(", ")
                        )));
                    }
                }
            }
            _ => {}
        }
    }
    for z in zones {
        if tagged.contains(&z.id) && !scope.iter().any(|s| s.id == z.id) {
            scope.push(z);
        }
    }
    Ok(scope)
}

/// The zones the blueprint works in (`in_scope`), for `mailinfra policy --lookup-zones`.
pub async fn zones_in_scope(aws: &Aws, desired: &Desired) -> Result<Vec<HostedZone>, AwsError> {
    let zones = list_zones(aws).await?;
    let tagged = footprint(aws, &zones, &desired.blueprint).await?;
    Ok(in_scope(&zones, &tagged, desired)?
        .into_iter()
        .cloned()
        .collect())
}

pub async fn list_zones(aws: &Aws) -> Result<Vec<HostedZone>, AwsError> {
    let mut zones = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        aws.route53_pace.wait().await;
        let page = aws
            .route53
            .list_hosted_zones()
            .set_marker(marker.clone())
            .send()
            .await
            .map_err(|e| AwsError::call(&ops::LIST_HOSTED_ZONES, e))?;
        for z in page.hosted_zones() {
            zones.push(HostedZone {
                id: bare_id(z.id()),
                name: decode_name(z.name()),
                private: z.config().is_some_and(|c| c.private_zone()),
            });
        }
        match page.next_marker() {
            Some(m) if page.is_truncated() => marker = Some(m.to_owned()),
            _ => break,
        }
    }
    Ok(zones)
}

/// The ids of zones that carry the blueprint's footprint tag.
async fn footprint(
    aws: &Aws,
    zones: &[HostedZone],
    blueprint: &str,
) -> Result<BTreeSet<String>, AwsError> {
    let key = ownership::zone_tag_key(blueprint);
    let chunks = zones.chunks(TAGS_PER_REQUEST).map(|chunk| {
        let key = key.clone();
        async move {
            aws.route53_pace.wait().await;
            let out = aws
                .route53
                .list_tags_for_resources()
                .resource_type(TagResourceType::Hostedzone)
                .set_resource_ids(Some(chunk.iter().map(|z| z.id.clone()).collect()))
                .send()
                .await
                .map_err(|e| AwsError::call(&ops::LIST_TAGS_FOR_RESOURCES, e))?;
            Ok::<_, AwsError>(
                out.resource_tag_sets()
                    .iter()
                    .filter(|set| set.tags().iter().any(|t| t.key() == Some(key.as_str())))
                    .filter_map(|set| set.resource_id().map(bare_id))
                    .collect::<Vec<_>>(),
            )
        }
    });
    Ok(try_join_all(chunks).await?.into_iter().flatten().collect())
}

/// Every simple record set in a zone, following Route 53's three-part cursor
/// (name, type, identifier). Alias and routing-policy sets are left out: mailinfra neither
/// writes nor changes them.
pub async fn list_records(aws: &Aws, zone_id: &str) -> Result<Vec<RecordSet>, AwsError> {
    let mut records = Vec::new();
    let mut cursor: (
        Option<String>,
        Option<aws_sdk_route53::types::RrType>,
        Option<String>,
    ) = (None, None, None);
    loop {
        aws.route53_pace.wait().await;
        let page = aws
            .route53
            .list_resource_record_sets()
            .hosted_zone_id(zone_id)
            .max_items(PAGE)
            .set_start_record_name(cursor.0.clone())
            .set_start_record_type(cursor.1.clone())
            .set_start_record_identifier(cursor.2.clone())
            .send()
            .await
            .map_err(|e| AwsError::call(&ops::LIST_RESOURCE_RECORD_SETS, e))?;
        for set in page.resource_record_sets() {
            if set.alias_target().is_some() || set.set_identifier().is_some() {
                continue;
            }
            records.push(RecordSet {
                name: decode_name(set.name()),
                rtype: RType::from(set.r#type().as_str()),
                ttl: set.ttl().unwrap_or(0).clamp(0, i64::from(u32::MAX)) as u32,
                values: set
                    .resource_records()
                    .iter()
                    .map(|r| r.value().to_owned())
                    .collect(),
            });
        }
        if !page.is_truncated() {
            break;
        }
        cursor = (
            page.next_record_name().map(str::to_owned),
            page.next_record_type().cloned(),
            page.next_record_identifier().map(str::to_owned),
        );
    }
    Ok(records)
}

fn bare_id(id: &str) -> String {
    id.trim_start_matches("/hostedzone/").to_owned()
}

/// Route 53 returns names with a trailing dot and octal escapes (`\052` for `*`).
fn decode_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let bytes = name.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && i + 4 <= bytes.len()
            && bytes[i + 1..i + 4].iter().all(u8::is_ascii_digit)
        {
            let code = u8::from_str_radix(&name[i + 1..i + 4], 8).unwrap_or(b'?');
            out.push(code as char);
            i += 4;
        } else {
            out.push(bytes[i] as char);
            i += 1;
        }
    }
    names::normalize(&out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_lose_dot_case_and_escapes() {
        assert_eq!(decode_name("Example.COM."), "example.com");
        assert_eq!(decode_name("\\052.example.com."), "*.example.com");
        assert_eq!(bare_id("/hostedzone/Z123"), "Z123");
    }
}
