//! From the YAML tree to a [`Blueprint`], collecting every structural problem (unknown or
//! missing fields, wrong types, duplicate keys, values outside their set) instead of stopping
//! at the first, each with its position and a hint.

use std::path::Path;

use super::yaml::{Node, Value};
use super::*;

/// Fields that later versions fill in; named here so that a blueprint using them gets a clear
/// "not supported yet" instead of "unknown field".
const NOT_YET: &[(&str, &str)] = &[
    (
        "gateway",
        "the relay gateway (EC2, Elastic IP, PTR, DKIM key) is not built yet",
    ),
    ("ses", "Amazon SES settings are not built yet"),
    (
        "send_via",
        "`send_via` (gateway or SES senders in SPF) is not built yet",
    ),
];

pub(super) fn from_tree(root: &Node, base_dir: &Path) -> (Option<Blueprint>, Vec<Diagnostic>) {
    let mut cx = Cx {
        diags: Vec::new(),
        base_dir,
    };
    let bp = cx.blueprint(root);
    (bp, cx.diags)
}

struct Cx<'a> {
    diags: Vec<Diagnostic>,
    base_dir: &'a Path,
}

/// The fields of one mapping, checked against the names the type knows.
struct Fields<'n> {
    path: String,
    pos: Pos,
    pairs: Vec<(&'n str, &'n Node)>,
}

impl<'n> Fields<'n> {
    fn get(&self, key: &str) -> Option<&'n Node> {
        self.pairs
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| *v)
            .filter(|v| v.value != Value::Null)
    }

    fn path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.path)
        }
    }
}

fn join(path: &str, index: usize) -> String {
    format!("{path}[{index}]")
}

impl Cx<'_> {
    fn error(&mut self, pos: Pos, path: &str, message: impl Into<String>, hint: impl Into<String>) {
        self.diags
            .push(Diagnostic::new(Some(pos), path, message).hint(hint));
    }

    fn expected(&mut self, node: &Node, path: &str, what: &str) {
        let msg = format!("expected {what}, found {}", node.kind());
        self.error(node.pos, path, msg, format!("write {what} here"));
    }

    /// Opens a mapping: reports a non-mapping, unknown keys (with the closest known name),
    /// duplicate keys and fields not built yet.
    fn map<'n>(&mut self, node: &'n Node, path: &str, known: &[&str]) -> Option<Fields<'n>> {
        let Value::Map(pairs) = &node.value else {
            self.expected(node, path, "a mapping (`key: value` lines)");
            return None;
        };
        let mut fields = Fields {
            path: path.to_owned(),
            pos: node.pos,
            pairs: Vec::new(),
        };
        for (key, value) in pairs {
            let Value::Scalar { text, .. } = &key.value else {
                self.expected(key, path, "a plain field name");
                continue;
            };
            if fields.pairs.iter().any(|(k, _)| k == text) {
                self.error(
                    key.pos,
                    path,
                    format!("duplicate key `{text}`"),
                    "a key may appear once in a mapping; remove one of them",
                );
                continue;
            }
            if let Some((_, why)) = NOT_YET.iter().find(|(k, _)| k == text) {
                self.error(
                    key.pos,
                    &fields.path(text),
                    format!("`{text}` is not supported by this version of mailinfra: {why}"),
                    format!("remove `{text}` for now"),
                );
                continue;
            }
            if !known.contains(&text.as_str()) {
                // One edit per four characters (at least one) still reads as a typo.
                let best = known
                    .iter()
                    .map(|k| (strsim::osa_distance(k, text), *k))
                    .min_by_key(|(d, _)| *d)
                    .filter(|(d, _)| *d <= 1 + text.len() / 4);
                let hint = match best {
                    Some((_, k)) => format!("did you mean `{k}`?"),
                    None => format!("known fields here: {}", known.join(", ")),
                };
                self.error(key.pos, path, format!("unknown field `{text}`"), hint);
                continue;
            }
            fields.pairs.push((text.as_str(), value));
        }
        Some(fields)
    }

    fn required<'n>(&mut self, f: &Fields<'n>, key: &str, example: &str) -> Option<&'n Node> {
        let node = f.get(key);
        if node.is_none() {
            let what = if f.path.is_empty() {
                "the blueprint".to_owned()
            } else {
                format!("`{}`", f.path)
            };
            self.error(
                f.pos,
                &f.path,
                format!("missing field `{key}`"),
                format!("{what} needs `{key}: {example}`"),
            );
        }
        node
    }

    fn string(&mut self, node: &Node, path: &str) -> Option<Spanned<String>> {
        match &node.value {
            Value::Scalar { text, .. } => Some(Spanned {
                value: text.clone(),
                pos: node.pos,
            }),
            _ => {
                self.expected(node, path, "a text value");
                None
            }
        }
    }

    fn uint(&mut self, node: &Node, path: &str) -> Option<Spanned<u32>> {
        match &node.value {
            Value::Scalar { text, plain: true } => match text.parse::<u32>() {
                Ok(v) => Some(Spanned {
                    value: v,
                    pos: node.pos,
                }),
                Err(_) => {
                    self.error(
                        node.pos,
                        path,
                        format!("`{text}` is not a whole number"),
                        "write a number of seconds without quotes, e.g. `300`",
                    );
                    None
                }
            },
            _ => {
                self.expected(node, path, "a whole number (unquoted)");
                None
            }
        }
    }

    /// Booleans are YAML 1.2's `true`/`false` only. `yes`/`no`/`on`/`off` are refused rather
    /// than guessed: YAML 1.1 read them as booleans and 1.2 as text, and a blueprint must mean
    /// one thing to every tool that reads it.
    fn boolean(&mut self, node: &Node, path: &str) -> Option<bool> {
        match &node.value {
            Value::Scalar { text, plain: true } if text == "true" => Some(true),
            Value::Scalar { text, plain: true } if text == "false" => Some(false),
            Value::Scalar { text, .. } => {
                self.error(
                    node.pos,
                    path,
                    format!("`{text}` is not a boolean"),
                    "write `true` or `false` (YAML 1.1 spellings like yes/no/on/off are ambiguous)",
                );
                None
            }
            _ => {
                self.expected(node, path, "`true` or `false`");
                None
            }
        }
    }

    fn choice<T: Copy>(
        &mut self,
        node: &Node,
        path: &str,
        options: &[(&str, T)],
    ) -> Option<Spanned<T>> {
        let s = self.string(node, path)?;
        match options.iter().find(|(name, _)| *name == s.value) {
            Some((_, v)) => Some(Spanned {
                value: *v,
                pos: s.pos,
            }),
            None => {
                let names: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
                self.error(
                    s.pos,
                    path,
                    format!("`{}` is not one of {}", s.value, names.join(", ")),
                    format!("use one of: {}", names.join(", ")),
                );
                None
            }
        }
    }

    fn list<T>(
        &mut self,
        node: &Node,
        path: &str,
        mut item: impl FnMut(&mut Self, &Node, &str) -> Option<T>,
    ) -> Vec<T> {
        let Value::Seq(items) = &node.value else {
            self.expected(node, path, "a list (`- item` lines or `[a, b]`)");
            return Vec::new();
        };
        items
            .iter()
            .enumerate()
            .filter_map(|(i, n)| item(self, n, &join(path, i)))
            .collect()
    }

    fn strings(&mut self, f: &Fields<'_>, key: &str) -> Vec<Spanned<String>> {
        match f.get(key) {
            Some(node) => self.list(node, &f.path(key), |cx, n, p| cx.string(n, p)),
            None => Vec::new(),
        }
    }

    fn blueprint(&mut self, root: &Node) -> Option<Blueprint> {
        let f = self.map(
            root,
            "",
            &["blueprint", "region", "ttl", "domains", "adopt"],
        )?;
        let name = self
            .required(&f, "blueprint", "acme-mail")
            .and_then(|n| self.string(n, "blueprint"));
        let region = f.get("region").and_then(|n| self.string(n, "region"));
        let ttl = f.get("ttl").and_then(|n| self.uint(n, "ttl"));
        let domains = match f.get("domains") {
            Some(n) => self.list(n, "domains", |cx, n, p| cx.domain(n, p)),
            None => Vec::new(),
        };
        let adopt = self.strings(&f, "adopt");
        Some(Blueprint {
            name: name?,
            region,
            ttl,
            domains,
            adopt,
        })
    }

    fn domain(&mut self, node: &Node, path: &str) -> Option<DomainSpec> {
        let f = self.map(
            node,
            path,
            &["domain", "zone", "ttl", "spf", "dmarc", "dkim"],
        )?;
        let domain = self
            .required(&f, "domain", "example.com")
            .and_then(|n| self.string(n, &f.path("domain")));
        let zone = f.get("zone").and_then(|n| self.string(n, &f.path("zone")));
        let ttl = f.get("ttl").and_then(|n| self.uint(n, &f.path("ttl")));
        let spf = f.get("spf").and_then(|n| self.spf(n, &f.path("spf")));
        let dmarc = f.get("dmarc").and_then(|n| self.dmarc(n, &f.path("dmarc")));
        let dkim = match f.get("dkim") {
            Some(n) => self.list(n, &f.path("dkim"), |cx, n, p| cx.dkim(n, p)),
            None => Vec::new(),
        };
        let lower = |s: Spanned<String>| Spanned {
            value: s.value.trim_end_matches('.').to_ascii_lowercase(),
            pos: s.pos,
        };
        Some(DomainSpec {
            path: path.to_owned(),
            domain: lower(domain?),
            zone: zone.map(lower),
            ttl,
            spf,
            dmarc,
            dkim,
        })
    }

    fn spf(&mut self, node: &Node, path: &str) -> Option<SpfSpec> {
        let f = self.map(node, path, &["include", "ip4", "ip6", "a", "mx", "all"])?;
        let all = match f.get("all") {
            Some(n) => self.choice(
                n,
                &f.path("all"),
                &[
                    ("fail", SpfAll::Fail),
                    ("softfail", SpfAll::SoftFail),
                    ("neutral", SpfAll::Neutral),
                ],
            )?,
            None => Spanned {
                value: SpfAll::SoftFail,
                pos: node.pos,
            },
        };
        let flag = |cx: &mut Self, key: &str| {
            f.get(key)
                .and_then(|n| cx.boolean(n, &f.path(key)))
                .unwrap_or(false)
        };
        Some(SpfSpec {
            pos: node.pos,
            include: self.strings(&f, "include"),
            ip4: self.strings(&f, "ip4"),
            ip6: self.strings(&f, "ip6"),
            a: flag(self, "a"),
            mx: flag(self, "mx"),
            all,
        })
    }

    fn dmarc(&mut self, node: &Node, path: &str) -> Option<DmarcSpec> {
        const REMOVED: &[(&str, &str)] = &[
            (
                "pct",
                "RFC 9989 removed `pct`; to roll a policy out gradually use `testing: true` (t=y)",
            ),
            (
                "rf",
                "RFC 9989 removed `rf`; failure reports have one format, drop the field",
            ),
            (
                "ri",
                "RFC 9989 removed `ri`; report intervals are the receiver's choice, drop the field",
            ),
        ];
        if let Value::Map(pairs) = &node.value {
            for (key, _) in pairs {
                if let Value::Scalar { text, .. } = &key.value
                    && let Some((_, hint)) = REMOVED.iter().find(|(k, _)| k == text)
                {
                    self.error(
                        key.pos,
                        path,
                        format!("DMARC tag `{text}` was removed by RFC 9989"),
                        *hint,
                    );
                }
            }
        }
        let known = [
            "policy",
            "subdomain_policy",
            "nonexistent_policy",
            "rua",
            "ruf",
            "adkim",
            "aspf",
            "fo",
            "testing",
            "psd",
            "pct",
            "rf",
            "ri",
        ];
        let f = self.map(node, path, &known)?;
        let policies = [
            ("none", DmarcPolicy::None),
            ("quarantine", DmarcPolicy::Quarantine),
            ("reject", DmarcPolicy::Reject),
        ];
        let alignments = [
            ("relaxed", Alignment::Relaxed),
            ("strict", Alignment::Strict),
        ];
        let pick = |cx: &mut Self, key: &str| {
            f.get(key)
                .and_then(|n| cx.choice(n, &f.path(key), &policies))
                .map(|s| s.value)
        };
        let policy = self
            .required(&f, "policy", "none")
            .and_then(|n| self.choice(n, &f.path("policy"), &policies));
        let subdomain_policy = pick(self, "subdomain_policy");
        let nonexistent_policy = pick(self, "nonexistent_policy");
        let align = |cx: &mut Self, key: &str| {
            f.get(key)
                .and_then(|n| cx.choice(n, &f.path(key), &alignments))
                .map(|s| s.value)
        };
        let adkim = align(self, "adkim");
        let aspf = align(self, "aspf");
        let psd = f
            .get("psd")
            .and_then(|n| {
                self.choice(
                    n,
                    &f.path("psd"),
                    &[
                        ("yes", Psd::Yes),
                        ("no", Psd::No),
                        ("unknown", Psd::Unknown),
                    ],
                )
            })
            .map(|s| s.value);
        let testing = f
            .get("testing")
            .and_then(|n| self.boolean(n, &f.path("testing")))
            .unwrap_or(false);
        Some(DmarcSpec {
            pos: node.pos,
            policy: policy?.value,
            subdomain_policy,
            nonexistent_policy,
            rua: self.strings(&f, "rua"),
            ruf: self.strings(&f, "ruf"),
            adkim,
            aspf,
            fo: f.get("fo").and_then(|n| self.string(n, &f.path("fo"))),
            testing,
            psd,
        })
    }

    fn dkim(&mut self, node: &Node, path: &str) -> Option<DkimSpec> {
        let f = self.map(node, path, &["selector", "public_key", "public_key_file"])?;
        let selector = self
            .required(&f, "selector", "mta1")
            .and_then(|n| self.string(n, &f.path("selector")));
        let inline = f
            .get("public_key")
            .and_then(|n| self.string(n, &f.path("public_key")));
        let file = f
            .get("public_key_file")
            .and_then(|n| self.string(n, &f.path("public_key_file")));
        let public_key = match (inline, file) {
            (Some(k), None) => Some(k),
            (None, Some(file)) => match std::fs::read_to_string(self.base_dir.join(&file.value)) {
                Ok(text) => Some(Spanned {
                    value: text,
                    pos: file.pos,
                }),
                Err(e) => {
                    self.error(
                        file.pos,
                        &f.path("public_key_file"),
                        format!("cannot read `{}`: {e}", file.value),
                        "the path is relative to the blueprint file's folder",
                    );
                    None
                }
            },
            (Some(k), Some(_)) => {
                self.error(
                    k.pos,
                    path,
                    "both `public_key` and `public_key_file` are set",
                    "keep one of them",
                );
                None
            }
            (None, None) => {
                self.error(
                    f.pos,
                    path,
                    "missing field `public_key` or `public_key_file`",
                    "give the public key (base64 or PEM) or a file holding it",
                );
                None
            }
        };
        let public_key = public_key.map(|k| Spanned {
            value: crate::mail::dkim::strip_pem(&k.value),
            pos: k.pos,
        });
        Some(DkimSpec {
            pos: node.pos,
            selector: selector?,
            public_key: public_key?,
        })
    }
}
