//! The AWS partition a region belongs to, for the ARNs mailinfra builds: `arn:aws:` holds only
//! in the commercial partition; China and GovCloud are `aws-cn` and `aws-us-gov`. Pure data,
//! like `ops`, so the policy and the boot script's role policy use it too.
//!
//! The region patterns are those of the AWS SDKs' partition table (`partitions.json` in
//! smithy-lang/smithy-rs `aws/sdk/...` and every SDK; "Amazon Resource Names (ARNs)", IAM
//! User Guide: <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference-arns.html>).

/// The partition of `region`: `aws`, `aws-cn`, `aws-us-gov`, `aws-iso`, `aws-iso-b`,
/// `aws-iso-e`, `aws-iso-f` or `aws-eusc`.
pub fn of(region: &str) -> &'static str {
    const PREFIXES: [(&str, &str); 7] = [
        ("cn-", "aws-cn"),
        ("us-gov-", "aws-us-gov"),
        ("us-isob-", "aws-iso-b"),
        ("us-isof-", "aws-iso-f"),
        ("us-iso-", "aws-iso"),
        ("eu-isoe-", "aws-iso-e"),
        ("eusc-", "aws-eusc"),
    ];
    PREFIXES
        .iter()
        .find(|(prefix, _)| region.starts_with(prefix))
        .map_or("aws", |(_, partition)| partition)
}

/// The regions AWS had opened by late 2026, in the SDKs' partition table (`partitions.json`)
/// and the AWS General Reference, "AWS Regions"
/// (<https://docs.aws.amazon.com/global-infrastructure/latest/regions/aws-regions.html>).
/// Used only to catch typos: a region not listed here is accepted unless it is a misspelling
/// of a listed one, since AWS opens new regions.
pub const KNOWN_REGIONS: &[&str] = &[
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "af-south-1",
    "ap-east-1",
    "ap-east-2",
    "ap-south-1",
    "ap-south-2",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-6",
    "ap-southeast-7",
    "ca-central-1",
    "ca-west-1",
    "eu-central-1",
    "eu-central-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
    "il-central-1",
    "me-south-1",
    "me-central-1",
    "mx-central-1",
    "sa-east-1",
    "cn-north-1",
    "cn-northwest-1",
    "us-gov-east-1",
    "us-gov-west-1",
    "eusc-de-east-1",
];

/// The known region `region` is probably a misspelling of: its name part (`eu-wset` of
/// `eu-wset-1`) is no known region's but within two edits of one. A new number of a known name
/// (`ap-southeast-9`) and a wholly new name are not typos.
pub fn misspelt(region: &str) -> Option<String> {
    let (name, number) = region.rsplit_once('-')?;
    let names = || {
        KNOWN_REGIONS
            .iter()
            .filter_map(|r| r.rsplit_once('-').map(|(n, _)| n))
    };
    if names().any(|n| n == name) {
        return None;
    }
    let (distance, closest) = names().map(|n| (strsim::osa_distance(n, name), n)).min()?;
    (distance <= 2).then(|| {
        let same_number = format!("{closest}-{number}");
        if KNOWN_REGIONS.contains(&same_number.as_str()) {
            same_number
        } else {
            KNOWN_REGIONS
                .iter()
                .find(|r| r.rsplit_once('-').is_some_and(|(n, _)| n == closest))
                .map_or(same_number, |r| (*r).to_owned())
        }
    })
}

#[cfg(test)]
mod tests {
    use super::{misspelt, of};

    #[test]
    fn typos_of_known_regions_are_caught_and_new_regions_are_not() {
        assert_eq!(misspelt("eu-wset-1").as_deref(), Some("eu-west-1"));
        assert_eq!(misspelt("us-eats-2").as_deref(), Some("us-east-2"));
        assert_eq!(misspelt("ap-southest-2").as_deref(), Some("ap-southeast-2"));
        assert_eq!(misspelt("eu-west-1"), None);
        assert_eq!(
            misspelt("ap-southeast-9"),
            None,
            "a new number of a known name"
        );
        assert_eq!(misspelt("zz-polar-1"), None, "a new name");
    }

    #[test]
    fn regions_map_to_their_partition() {
        for (region, partition) in [
            ("eu-west-1", "aws"),
            ("af-south-1", "aws"),
            ("il-central-1", "aws"),
            ("cn-north-1", "aws-cn"),
            ("cn-northwest-1", "aws-cn"),
            ("us-gov-west-1", "aws-us-gov"),
            ("us-gov-east-1", "aws-us-gov"),
            ("us-iso-east-1", "aws-iso"),
            ("us-isob-east-1", "aws-iso-b"),
            ("*", "aws"),
        ] {
            assert_eq!(of(region), partition, "{region}");
        }
    }
}
