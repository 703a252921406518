//! TXT record values as Route 53 takes and returns them: one or more quoted
//! character-strings of at most 255 bytes each, `"` and `\` escaped with a backslash.

/// The longest character-string a TXT record can hold (RFC 1035 §3.3).
pub const MAX_STRING: usize = 255;
/// The longest TXT value Route 53 accepts, in characters.
pub const MAX_VALUE: usize = 4000;

/// Renders `text` as a Route 53 TXT value: split into strings of at most 255 bytes, each
/// quoted and escaped. `text` must be printable ASCII (see [`representable`]).
pub fn encode(text: &str) -> String {
    let bytes = text.as_bytes();
    if bytes.is_empty() {
        return "\"\"".to_owned();
    }
    bytes
        .chunks(MAX_STRING)
        .map(|chunk| {
            let mut s = String::with_capacity(chunk.len() + 2);
            s.push('"');
            for &b in chunk {
                if b == b'"' || b == b'\\' {
                    s.push('\\');
                }
                s.push(b as char);
            }
            s.push('"');
            s
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Parses a Route 53 TXT value into its character-strings. Route 53 writes a byte outside
/// printable ASCII as `\` and three **octal** digits (`\052` is `*`), not the decimal `\DDD`
/// of RFC 1035 master files ("DNS domain name format" and "Supported DNS record types" in
/// the Route 53 Developer Guide); other escaped characters stand for themselves. Unquoted
/// values (which Route 53 rejects but emulators store) are read as whitespace-separated
/// strings.
pub fn decode(value: &str) -> Vec<String> {
    let bytes = value.as_bytes();
    let mut strings = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let mut s: Vec<u8> = Vec::new();
        if bytes[i] == b'"' {
            i += 1;
            while i < bytes.len() && bytes[i] != b'"' {
                if bytes[i] == b'\\' && i + 1 < bytes.len() {
                    if let Some(byte) = octal(&bytes[i + 1..]) {
                        s.push(byte);
                        i += 4;
                        continue;
                    }
                    i += 1;
                }
                s.push(bytes[i]);
                i += 1;
            }
            i += 1;
        } else {
            while i < bytes.len() && !bytes[i].is_ascii_whitespace() {
                s.push(bytes[i]);
                i += 1;
            }
        }
        strings.push(String::from_utf8_lossy(&s).into_owned());
    }
    strings
}

/// The byte of a three-digit octal escape at the start of `rest`, if there is one.
fn octal(rest: &[u8]) -> Option<u8> {
    let digits = rest.get(..3)?;
    if !digits.iter().all(|d| (b'0'..=b'7').contains(d)) {
        return None;
    }
    let code = digits.iter().fold(0u32, |n, d| n * 8 + u32::from(d - b'0'));
    u8::try_from(code).ok()
}

/// The text a receiver reads from a TXT value: its strings joined without separators
/// (RFC 7208 §3.3, RFC 6376 §3.6.2.2).
pub fn text_of(value: &str) -> String {
    decode(value).concat()
}

/// Why `text` cannot be published as one TXT value, if it cannot.
pub fn representable(text: &str) -> Result<(), String> {
    if let Some(c) = text.chars().find(|c| !(' '..='~').contains(c)) {
        return Err(format!(
            "contains {c:?}, which is not printable ASCII; TXT mail records are ASCII"
        ));
    }
    let encoded = encode(text).len();
    if encoded > MAX_VALUE {
        return Err(format!(
            "is {encoded} characters once quoted and split; Route 53 takes at most {MAX_VALUE}"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_one_quoted_string() {
        assert_eq!(encode("v=spf1 -all"), "\"v=spf1 -all\"");
    }

    #[test]
    fn long_text_splits_at_255_bytes() {
        let text = "a".repeat(600);
        let value = encode(&text);
        let parts = decode(&value);
        assert_eq!(
            parts.iter().map(String::len).collect::<Vec<_>>(),
            [255, 255, 90]
        );
        assert_eq!(text_of(&value), text);
    }

    #[test]
    fn quotes_and_backslashes_round_trip() {
        let text = r#"say "hi" \ bye"#;
        assert_eq!(encode(text), r#""say \"hi\" \\ bye""#);
        assert_eq!(text_of(&encode(text)), text);
    }

    #[test]
    fn decode_reads_route53_octal_escapes_and_unquoted_values() {
        // The Route 53 Developer Guide's own example: `\052` is `*`.
        assert_eq!(decode(r#""\052.example.com""#), ["*.example.com"]);
        assert_eq!(decode(r#""v=DMARC1\073 p=none""#), ["v=DMARC1; p=none"]);
        assert_eq!(decode(r#""caf\303\251""#), ["café"], "bytes, then UTF-8");
        // Not three octal digits: the escaped character stands for itself.
        assert_eq!(decode(r#""a\9b\08""#), ["a9b08"]);
        assert_eq!(decode("plain words"), ["plain", "words"]);
    }

    #[test]
    fn representable_rejects_non_ascii_and_oversize() {
        assert!(representable("v=spf1 ~all").is_ok());
        assert!(
            representable("naïve")
                .unwrap_err()
                .contains("printable ASCII")
        );
        assert!(
            representable(&"x".repeat(4000))
                .unwrap_err()
                .contains("at most 4000")
        );
    }
}
