//! Amazon SES SMTP credentials: the SMTP user name is an IAM user's access key id, and the
//! SMTP password is derived from its secret access key and the region, by the version 4
//! algorithm of the SES Developer Guide, "Obtaining Amazon SES SMTP credentials", section
//! "Converting existing AWS credentials"
//! (<https://docs.aws.amazon.com/ses/latest/dg/smtp-credentials.html#smtp-credentials-convert>):
//!
//! ```text
//! kDate     = HmacSha256("11111111", "AWS4" + secret)
//! kRegion   = HmacSha256(region, kDate)
//! kService  = HmacSha256("ses", kRegion)
//! kTerminal = HmacSha256("aws4_request", kService)
//! kMessage  = HmacSha256("SendRawEmail", kTerminal)
//! password  = Base64(0x04 || kMessage)
//! ```
//!
//! The password is a secret: it is stored in SSM as a SecureString and never printed. The
//! tests' Python side (`tests/mailpath/ses_smtp.py`) implements the same algorithm on its own.
//! Also the SMTP endpoint of a region, `email-smtp.<region>.<partition's DNS suffix>`
//! (SES Developer Guide, "Connecting to an Amazon SES SMTP endpoint").

use aws_lc_rs::hmac;
use base64::Engine as _;

/// The version byte of the algorithm: 4 (Signature Version 4, per region).
const VERSION: u8 = 0x04;

fn sign(key: &[u8], message: &str) -> Vec<u8> {
    let key = hmac::Key::new(hmac::HMAC_SHA256, key);
    hmac::sign(&key, message.as_bytes()).as_ref().to_vec()
}

/// The SES SMTP password for the secret access key `secret` in `region`.
pub fn password(secret: &str, region: &str) -> String {
    let mut signature = sign(format!("AWS4{secret}").as_bytes(), "11111111");
    for part in [region, "ses", "aws4_request", "SendRawEmail"] {
        signature = sign(&signature, part);
    }
    let mut bytes = Vec::with_capacity(1 + signature.len());
    bytes.push(VERSION);
    bytes.extend_from_slice(&signature);
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The SES SMTP endpoint of `region`: `email-smtp.<region>.amazonaws.com`, and in the
/// partitions whose DNS suffix differs, theirs (China: `amazonaws.com.cn`).
pub fn endpoint(region: &str) -> String {
    let suffix = match crate::aws::partition::of(region) {
        "aws-cn" => "amazonaws.com.cn",
        _ => "amazonaws.com",
    };
    format!("email-smtp.{region}.{suffix}")
}

/// The port the gateway uses: 587, STARTTLS (SES also offers 25, 2587 and implicit TLS on
/// 465 and 2465; EC2 throttles port 25 out, so 587 is the one that always works).
pub const PORT: u16 = 587;

/// The IAM user whose access key is the SMTP credential: `mailinfra-<blueprint>-ses-smtp`.
pub fn user_name(blueprint: &str) -> String {
    format!("mailinfra-{blueprint}-ses-smtp")
}

/// The SMTP user's one permission: `ses:SendRawEmail` (the action SES SMTP authorizes, SES
/// Developer Guide, "Obtaining Amazon SES SMTP credentials") on the blueprint's identities
/// and configuration sets only, and only with a From address in the relayed domains or the
/// gateway's hostname (its bounces) when that is under one of them. `ses:FromAddress` is the
/// SES condition key for the From address (Service Authorization Reference, "Actions,
/// resources, and condition keys for Amazon SES"; SES Developer Guide, "Controlling access
/// with IAM"). `domains` must not be empty.
pub fn user_policy(
    region: &str,
    domains: &[String],
    hostname: &str,
    configuration_sets: &[String],
) -> String {
    let partition = crate::aws::partition::of(region);
    let mut resources: Vec<String> = domains
        .iter()
        .map(|d| format!("arn:{partition}:ses:{region}:*:identity/{d}"))
        .collect();
    resources.extend(
        configuration_sets
            .iter()
            .map(|c| format!("arn:{partition}:ses:{region}:*:configuration-set/{c}")),
    );
    let mut from: Vec<String> = domains.iter().map(|d| format!("*@{d}")).collect();
    if domains
        .iter()
        .any(|d| super::names::is_within(hostname, d) && hostname != d)
    {
        from.push(format!("*@{hostname}"));
    }
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "SendAsTheRelayedDomainsOnly",
            "Effect": "Allow",
            "Action": "ses:SendRawEmail",
            "Resource": resources,
            "Condition": { "StringLike": { "ses:FromAddress": from } },
        }],
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_smtp_user_may_send_only_as_the_relayed_domains() {
        let policy: serde_json::Value = serde_json::from_str(&user_policy(
            "eu-west-1",
            &["example.com".into(), "example.net".into()],
            "mail.example.com",
            &["tx".into()],
        ))
        .unwrap();
        let st = &policy["Statement"];
        assert_eq!(st.as_array().unwrap().len(), 1);
        assert_eq!(st[0]["Action"], "ses:SendRawEmail");
        assert_eq!(
            st[0]["Resource"],
            serde_json::json!([
                "arn:aws:ses:eu-west-1:*:identity/example.com",
                "arn:aws:ses:eu-west-1:*:identity/example.net",
                "arn:aws:ses:eu-west-1:*:configuration-set/tx"
            ])
        );
        assert_eq!(
            st[0]["Condition"]["StringLike"]["ses:FromAddress"],
            serde_json::json!(["*@example.com", "*@example.net", "*@mail.example.com"])
        );
        // A hostname outside the relayed domains gets no From of its own; GovCloud ARNs.
        let gov: serde_json::Value = serde_json::from_str(&user_policy(
            "us-gov-west-1",
            &["example.com".into()],
            "relay.example.org",
            &[],
        ))
        .unwrap();
        assert_eq!(
            gov["Statement"][0]["Condition"]["StringLike"]["ses:FromAddress"],
            serde_json::json!(["*@example.com"])
        );
        assert_eq!(
            gov["Statement"][0]["Resource"][0],
            "arn:aws-us-gov:ses:us-gov-west-1:*:identity/example.com"
        );
        assert_eq!(user_name("acme"), "mailinfra-acme-ses-smtp");
    }

    #[test]
    fn the_password_is_the_version_byte_and_a_signature_in_base64() {
        let p = password("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "eu-west-1");
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&p)
            .unwrap();
        assert_eq!(bytes.len(), 33);
        assert_eq!(bytes[0], 4);
        // Per region: the same key gives another password elsewhere.
        assert_ne!(
            p,
            password("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "us-east-1")
        );
        assert_ne!(
            p,
            password("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEZ", "eu-west-1")
        );
    }

    #[test]
    fn endpoints_follow_the_partition() {
        assert_eq!(endpoint("eu-west-1"), "email-smtp.eu-west-1.amazonaws.com");
        assert_eq!(
            endpoint("us-gov-west-1"),
            "email-smtp.us-gov-west-1.amazonaws.com"
        );
        assert_eq!(
            endpoint("cn-northwest-1"),
            "email-smtp.cn-northwest-1.amazonaws.com.cn"
        );
    }
}
