//! DNS names as mailinfra writes them: lower case, no trailing dot, hostname rules for the
//! domains a user names (RFC 1035 §2.3.1 as relaxed by RFC 1123).

/// The longest DNS name in text form, without the trailing dot.
pub const MAX_NAME: usize = 253;

/// Lower-cases and drops a trailing dot, so both sides of a comparison agree.
pub fn normalize(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// Checks a domain or host name a user wrote: at least two labels, each 1–63 letters, digits
/// or hyphens, not starting or ending with a hyphen; 253 characters at most.
pub fn check_hostname(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("is empty".into());
    }
    if name.len() > MAX_NAME {
        return Err(format!(
            "is {} characters long; the limit is {MAX_NAME}",
            name.len()
        ));
    }
    let labels: Vec<&str> = name.split('.').collect();
    if labels.len() < 2 {
        return Err("needs at least two labels, like `example.com`".into());
    }
    for label in labels {
        if label.is_empty() {
            return Err("has an empty label (two dots in a row)".into());
        }
        if label.len() > 63 {
            return Err(format!(
                "has a label of {} characters; the limit is 63",
                label.len()
            ));
        }
        if let Some(c) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
        {
            return Err(format!(
                "has the character {c:?}; use letters, digits and hyphens"
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(format!(
                "has the label `{label}` starting or ending with a hyphen"
            ));
        }
    }
    Ok(())
}

/// Checks one label such as a DKIM selector: 1–63 letters, digits, hyphens or underscores.
pub fn check_label(label: &str) -> Result<(), String> {
    if label.is_empty() || label.len() > 63 {
        return Err("must be 1 to 63 characters".into());
    }
    if let Some(c) = label
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
    {
        return Err(format!(
            "has the character {c:?}; use letters, digits, `-` and `_`"
        ));
    }
    Ok(())
}

/// Whether `name` is `zone` or below it.
pub fn is_within(name: &str, zone: &str) -> bool {
    name == zone || name.ends_with(&format!(".{zone}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostnames() {
        for ok in ["example.com", "mail.example.co.uk", "a-b.example", "x1.io"] {
            assert_eq!(check_hostname(ok), Ok(()), "{ok}");
        }
        for (bad, why) in [
            ("com", "two labels"),
            ("exa mple.com", "character ' '"),
            ("-x.com", "hyphen"),
            ("a..com", "empty label"),
            ("_dmarc.example.com", "character '_'"),
        ] {
            let err = check_hostname(bad).unwrap_err();
            assert!(err.contains(why), "{bad}: {err}");
        }
        assert!(check_hostname(&format!("{}.com", "a".repeat(64))).is_err());
    }

    #[test]
    fn within() {
        assert!(is_within("example.com", "example.com"));
        assert!(is_within("mail.example.com", "example.com"));
        assert!(!is_within("badexample.com", "example.com"));
        assert!(!is_within("example.org", "example.com"));
    }
}
