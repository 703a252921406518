//! DKIM key records (RFC 6376 §3.6.1): the `v=DKIM1; k=rsa; p=…` text for a public key, and
//! reading enough of the key (DER SubjectPublicKeyInfo) to know it is RSA and how long it is.
//! Only public keys pass through here.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// Receivers refuse RSA keys shorter than this (RFC 8301 §3.2).
pub const MIN_RSA_BITS: usize = 1024;

/// The DKIM record's owner name for a selector.
pub fn record_name(selector: &str, domain: &str) -> String {
    format!("{selector}._domainkey.{domain}")
}

/// Drops PEM armour and whitespace, leaving the base64 body.
pub fn strip_pem(text: &str) -> String {
    text.lines()
        .filter(|l| !l.trim_start().starts_with("-----"))
        .flat_map(|l| l.split_whitespace())
        .collect()
}

/// The record text for a base64 SubjectPublicKeyInfo.
pub fn record_text(public_key_b64: &str) -> String {
    format!("v=DKIM1; k=rsa; p={public_key_b64}")
}

/// The modulus length in bits of an RSA public key given as base64 DER
/// SubjectPublicKeyInfo, or why it is not one.
pub fn rsa_key_bits(public_key_b64: &str) -> Result<usize, String> {
    let der = STANDARD
        .decode(public_key_b64)
        .map_err(|e| format!("is not valid base64 ({e})"))?;
    let not_rsa = || "is not an RSA public key (DER SubjectPublicKeyInfo)".to_owned();
    // SubjectPublicKeyInfo ::= SEQUENCE { algorithm SEQUENCE { OID, NULL }, BIT STRING }
    let (spki, _) = Der::new(&der).take(0x30).ok_or_else(not_rsa)?;
    let mut spki = Der::new(spki);
    let (alg, _) = spki.take(0x30).ok_or_else(not_rsa)?;
    let (oid, _) = Der::new(alg).take(0x06).ok_or_else(not_rsa)?;
    // 1.2.840.113549.1.1.1 rsaEncryption
    if oid != [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01] {
        return Err("is not an RSA key (only RSA keys are supported)".into());
    }
    let (bits, _) = spki.take(0x03).ok_or_else(not_rsa)?;
    // BIT STRING: one byte of unused bits, then RSAPublicKey ::= SEQUENCE { n INTEGER, e INTEGER }
    let (rsa, _) = Der::new(bits.get(1..).ok_or_else(not_rsa)?)
        .take(0x30)
        .ok_or_else(not_rsa)?;
    let (modulus, _) = Der::new(rsa).take(0x02).ok_or_else(not_rsa)?;
    let modulus = match modulus.iter().position(|&b| b != 0) {
        Some(i) => &modulus[i..],
        None => return Err(not_rsa()),
    };
    Ok(modulus.len() * 8 - modulus[0].leading_zeros() as usize)
}

/// A tiny reader for the few DER elements a SubjectPublicKeyInfo needs.
struct Der<'a> {
    rest: &'a [u8],
}

impl<'a> Der<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Self { rest: bytes }
    }

    /// Takes the next element if it has `tag`, returning its contents.
    fn take(&mut self, tag: u8) -> Option<(&'a [u8], ())> {
        let (&t, rest) = self.rest.split_first()?;
        if t != tag {
            return None;
        }
        let (&first, mut rest) = rest.split_first()?;
        let len = if first < 0x80 {
            usize::from(first)
        } else {
            let n = usize::from(first & 0x7f);
            if n == 0 || n > 4 || rest.len() < n {
                return None;
            }
            let len = rest[..n]
                .iter()
                .fold(0usize, |acc, &b| acc << 8 | usize::from(b));
            rest = &rest[n..];
            len
        };
        if rest.len() < len {
            return None;
        }
        let (body, after) = rest.split_at(len);
        self.rest = after;
        Some((body, ()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str) -> String {
        let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
        strip_pem(&std::fs::read_to_string(path).unwrap())
    }

    #[test]
    fn measures_rsa_keys() {
        assert_eq!(rsa_key_bits(&key("dkim-2048.pub")), Ok(2048));
        assert_eq!(rsa_key_bits(&key("dkim-1024.pub")), Ok(1024));
        assert_eq!(rsa_key_bits(&key("dkim-512.pub")), Ok(512));
    }

    #[test]
    fn rejects_what_is_not_a_key() {
        assert!(rsa_key_bits("not base64!").unwrap_err().contains("base64"));
        assert!(
            rsa_key_bits("AAAA")
                .unwrap_err()
                .contains("not an RSA public key")
        );
    }

    #[test]
    fn record_text_of_a_2048_bit_key_needs_two_strings() {
        let text = record_text(&key("dkim-2048.pub"));
        assert!(text.starts_with("v=DKIM1; k=rsa; p=MIIB"));
        assert_eq!(
            crate::mail::txt::decode(&crate::mail::txt::encode(&text)).len(),
            2
        );
    }
}

/// A DKIM private key. It cannot be printed, logged or serialized: `Debug` says `redacted`,
/// there is no `Display` and no `Serialize`; only [`PrivateKey::expose_base64`] reveals it,
/// for the one request that hands it to SES.
pub struct PrivateKey(String);

impl PrivateKey {
    /// Base64 of the PKCS#8 DER key, as SES's `DomainSigningPrivateKey` takes it.
    pub fn expose_base64(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PrivateKey(redacted)")
    }
}

/// Generates an RSA 2048 key pair: the private key, and the base64 SubjectPublicKeyInfo
/// for the DKIM record.
pub fn generate_key() -> Result<(PrivateKey, String), String> {
    use aws_lc_rs::encoding::AsDer;
    use aws_lc_rs::rsa::{KeyPair, KeySize};
    use aws_lc_rs::signature::KeyPair as _;

    let pair =
        KeyPair::generate(KeySize::Rsa2048).map_err(|_| "RSA key generation failed".to_owned())?;
    let private = pair
        .as_der()
        .map_err(|_| "encoding the private key failed".to_owned())?;
    let public = pair
        .public_key()
        .as_der()
        .map_err(|_| "encoding the public key failed".to_owned())?;
    Ok((
        PrivateKey(STANDARD.encode(private.as_ref())),
        STANDARD.encode(public.as_ref()),
    ))
}

#[cfg(test)]
mod key_tests {
    use super::*;

    #[test]
    fn generated_keys_are_2048_bit_rsa_and_never_print() {
        let (private, public) = generate_key().unwrap();
        assert_eq!(rsa_key_bits(&public), Ok(2048));
        let shown = format!("{private:?}");
        assert_eq!(shown, "PrivateKey(redacted)");
        assert!(!shown.contains(private.expose_base64()));
        // The record text parses back to the same key.
        let text = record_text(&public);
        let p = text.split("p=").nth(1).unwrap();
        assert_eq!(p, public);
        assert_eq!(rsa_key_bits(p), Ok(2048));
    }
}

impl PrivateKey {
    /// The key as PKCS#8 PEM, as OpenDKIM reads it; for the one request that stores it in SSM.
    pub fn expose_pem(&self) -> String {
        let mut pem = String::from("-----BEGIN PRIVATE KEY-----\n");
        for chunk in self.0.as_bytes().chunks(64) {
            pem.push_str(&String::from_utf8_lossy(chunk));
            pem.push('\n');
        }
        pem.push_str("-----END PRIVATE KEY-----\n");
        pem
    }
}
