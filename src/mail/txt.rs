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

/// Parses a Route 53 TXT value into its character-strings. Unquoted values (which Route 53
/// rejects but emulators store) are read as whitespace-separated strings.
pub fn decode(value: &str) -> Vec<String> {
    let mut strings = Vec::new();
    let mut chars = value.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let mut s = String::new();
        if c == '"' {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '"' => break,
                    '\\' => match chars.next() {
                        Some(d) if d.is_ascii_digit() => {
                            let mut code = d.to_digit(10).unwrap_or(0);
                            for _ in 0..2 {
                                if let Some(d) = chars.peek().and_then(|d| d.to_digit(10)) {
                                    code = code * 10 + d;
                                    chars.next();
                                }
                            }
                            s.push(char::from_u32(code).unwrap_or('?'));
                        }
                        Some(other) => s.push(other),
                        None => {}
                    },
                    other => s.push(other),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                s.push(c);
                chars.next();
            }
        }
        strings.push(s);
    }
    strings
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
    fn decode_reads_decimal_escapes_and_unquoted_values() {
        assert_eq!(decode(r#""a\059b""#), ["a;b"]);
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
