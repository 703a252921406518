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

#[cfg(test)]
mod tests {
    use super::*;

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
