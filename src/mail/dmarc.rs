//! DMARC policy records (RFC 9989, which replaces RFC 7489's tag set): rendering the
//! `v=DMARC1` string. Only tags RFC 9989 defines are ever written; `pct`, `rf` and `ri`
//! are refused when the blueprint is loaded.

use crate::blueprint::{Alignment, DmarcPolicy, DmarcSpec, Psd};

fn policy(p: DmarcPolicy) -> &'static str {
    match p {
        DmarcPolicy::None => "none",
        DmarcPolicy::Quarantine => "quarantine",
        DmarcPolicy::Reject => "reject",
    }
}

fn alignment(a: Alignment) -> &'static str {
    match a {
        Alignment::Relaxed => "r",
        Alignment::Strict => "s",
    }
}

/// Renders the record: `v=DMARC1` first (required), then `p`, and the optional tags in a fixed
/// order so the value is stable from run to run.
pub fn render(spec: &DmarcSpec) -> String {
    let mut tags = vec!["v=DMARC1".to_owned(), format!("p={}", policy(spec.policy))];
    if let Some(p) = spec.subdomain_policy {
        tags.push(format!("sp={}", policy(p)));
    }
    if let Some(p) = spec.nonexistent_policy {
        tags.push(format!("np={}", policy(p)));
    }
    if let Some(a) = spec.adkim {
        tags.push(format!("adkim={}", alignment(a)));
    }
    if let Some(a) = spec.aspf {
        tags.push(format!("aspf={}", alignment(a)));
    }
    let uris = |list: &[crate::blueprint::Spanned<String>]| {
        list.iter()
            .map(|u| u.value.as_str())
            .collect::<Vec<_>>()
            .join(",")
    };
    if !spec.rua.is_empty() {
        tags.push(format!("rua={}", uris(&spec.rua)));
    }
    if !spec.ruf.is_empty() {
        tags.push(format!("ruf={}", uris(&spec.ruf)));
    }
    if let Some(fo) = &spec.fo {
        tags.push(format!("fo={}", fo.value));
    }
    if spec.testing {
        tags.push("t=y".into());
    }
    if let Some(psd) = spec.psd {
        tags.push(
            match psd {
                Psd::Yes => "psd=y",
                Psd::No => "psd=n",
                Psd::Unknown => "psd=u",
            }
            .into(),
        );
    }
    tags.join("; ")
}

/// Checks a reporting URI: RFC 9989 reports go to `mailto:` addresses.
pub fn check_report_uri(uri: &str) -> Result<(), String> {
    let Some(addr) = uri.strip_prefix("mailto:") else {
        return Err("must be a `mailto:` URI, e.g. `mailto:dmarc@example.com`".into());
    };
    match addr.split_once('@') {
        Some((local, domain)) if !local.is_empty() && domain.contains('.') => {
            if uri.contains([',', ';', ' ']) {
                Err("must not contain `,`, `;` or spaces".into())
            } else {
                Ok(())
            }
        }
        _ => Err(format!("`{addr}` is not an email address")),
    }
}

/// Checks an `fo` value: colon-separated `0`, `1`, `d`, `s`.
pub fn check_failure_options(fo: &str) -> Result<(), String> {
    if !fo.is_empty() && fo.split(':').all(|o| matches!(o, "0" | "1" | "d" | "s")) {
        Ok(())
    } else {
        Err("must be `0`, `1`, `d` or `s`, joined by `:` (e.g. `1:d`)".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blueprint::{Pos, Spanned};

    fn base(p: DmarcPolicy) -> DmarcSpec {
        DmarcSpec {
            pos: Pos { line: 1, col: 1 },
            policy: p,
            subdomain_policy: None,
            nonexistent_policy: None,
            rua: vec![],
            ruf: vec![],
            adkim: None,
            aspf: None,
            fo: None,
            testing: false,
            psd: None,
        }
    }

    #[test]
    fn renders_minimal_and_full_records() {
        assert_eq!(render(&base(DmarcPolicy::None)), "v=DMARC1; p=none");
        let at = Pos { line: 1, col: 1 };
        let full = DmarcSpec {
            subdomain_policy: Some(DmarcPolicy::Reject),
            nonexistent_policy: Some(DmarcPolicy::Reject),
            rua: vec![
                Spanned {
                    value: "mailto:a@example.com".into(),
                    pos: at,
                },
                Spanned {
                    value: "mailto:b@example.net".into(),
                    pos: at,
                },
            ],
            adkim: Some(Alignment::Strict),
            aspf: Some(Alignment::Relaxed),
            fo: Some(Spanned {
                value: "1".into(),
                pos: at,
            }),
            testing: true,
            psd: Some(Psd::No),
            ..base(DmarcPolicy::Quarantine)
        };
        assert_eq!(
            render(&full),
            "v=DMARC1; p=quarantine; sp=reject; np=reject; adkim=s; aspf=r; \
             rua=mailto:a@example.com,mailto:b@example.net; fo=1; t=y; psd=n"
        );
    }

    #[test]
    fn report_uris() {
        assert!(check_report_uri("mailto:dmarc@example.com").is_ok());
        assert!(
            check_report_uri("dmarc@example.com")
                .unwrap_err()
                .contains("mailto:")
        );
        assert!(check_report_uri("mailto:nobody").is_err());
    }

    #[test]
    fn failure_options() {
        assert!(check_failure_options("1:d:s").is_ok());
        assert!(check_failure_options("2").is_err());
    }
}
