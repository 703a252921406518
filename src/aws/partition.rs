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

#[cfg(test)]
mod tests {
    use super::of;

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
