//! From the YAML tree to a [`Blueprint`], collecting every structural problem (unknown or
//! missing fields, wrong types, duplicate keys, values outside their set) instead of stopping
//! at the first, each with its position and a hint.

use std::path::Path;

use super::schema::*;
use super::yaml::{Node, Value};
use super::*;

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
    fn map<'n>(&mut self, node: &'n Node, path: &str, known: &[String]) -> Option<Fields<'n>> {
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
            if !known.contains(text) {
                // One edit per four characters (at least one) still reads as a typo.
                let best = known
                    .iter()
                    .map(|k| (strsim::osa_distance(k, text), k))
                    // On a tie, a field that starts with what was typed (`al` -> `all`).
                    .min_by_key(|(d, k)| (*d, !k.starts_with(text.as_str())))
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
        let f = self.map(root, "", &fields::<BlueprintDoc>())?;
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
        let ses = f.get("ses").and_then(|n| self.ses_account(n, "ses"));
        let gateway = f.get("gateway").and_then(|n| self.gateway(n, "gateway"));
        Some(Blueprint {
            name: name?,
            region,
            ttl,
            domains,
            adopt,
            ses,
            gateway,
        })
    }

    fn gateway(&mut self, node: &Node, path: &str) -> Option<GatewaySpec> {
        let f = self.map(node, path, &fields::<GatewayDoc>())?;
        let lower = |s: Spanned<String>| Spanned {
            value: s.value.trim_end_matches('.').to_ascii_lowercase(),
            pos: s.pos,
        };
        let hostname = self
            .required(&f, "hostname", "mail.example.com")
            .and_then(|n| self.string(n, &f.path("hostname")))
            .map(lower);
        let zone = f
            .get("zone")
            .and_then(|n| self.string(n, &f.path("zone")))
            .map(lower);
        let text = |cx: &mut Self, key: &str, default: &str| match f.get(key) {
            Some(n) => cx.string(n, &f.path(key)),
            None => Some(Spanned {
                value: default.to_owned(),
                pos: node.pos,
            }),
        };
        let instance_type = text(self, "instance_type", "t3.micro");
        let image = text(self, "image", "debian-12");
        let subnet = f
            .get("subnet")
            .and_then(|n| self.string(n, &f.path("subnet")));
        let relay_from = match self.required(&f, "relay_from", "[10.0.0.0/16]") {
            Some(n) => self.list(n, &f.path("relay_from"), |cx, n, p| cx.string(n, p)),
            None => Vec::new(),
        };
        let submission = f
            .get("submission")
            .and_then(|n| self.boolean(n, &f.path("submission")))
            .unwrap_or(false);
        let dkim_selector = match f.get("dkim") {
            Some(n) => {
                let d = self.map(n, &f.path("dkim"), &fields::<GatewayDkimDoc>())?;
                self.required(&d, "selector", "mta1")
                    .and_then(|n| self.string(n, &d.path("selector")))
            }
            None => Some(Spanned {
                value: "mailinfra".into(),
                pos: node.pos,
            }),
        };
        Some(GatewaySpec {
            pos: node.pos,
            hostname: hostname?,
            zone,
            instance_type: instance_type?,
            image: image?,
            subnet,
            relay_from,
            submission,
            dkim_selector: dkim_selector?,
        })
    }

    fn domain(&mut self, node: &Node, path: &str) -> Option<DomainSpec> {
        let f = self.map(node, path, &fields::<DomainDoc>())?;
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
        let via = match f.get("send_via") {
            Some(n) => self.list(n, &f.path("send_via"), |cx, n, p| {
                cx.choice(n, p, &[("ses", "ses"), ("gateway", "gateway")])
            }),
            None => Vec::new(),
        };
        let via_gateway = via.iter().find(|v| v.value == "gateway").map(|v| v.pos);
        let via_ses = via.iter().find(|v| v.value == "ses");
        let ses_node = f.get("ses");
        let ses = match (via_ses, ses_node) {
            (Some(_), Some(n)) => self.ses_domain(n, &f.path("ses")),
            (Some(v), None) => Some(SesDomainSpec {
                pos: v.pos,
                dkim: SesDkimSpec::Easy {
                    key_length: KeyLength::Rsa2048,
                },
                mail_from: None,
                configuration_set: None,
            }),
            (None, Some(n)) => {
                self.error(
                    n.pos,
                    &f.path("ses"),
                    "`ses` settings are given but the domain does not send via SES",
                    "add `send_via: [ses]` to the domain",
                );
                None
            }
            (None, None) => None,
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
            ses,
            via_gateway,
        })
    }

    fn key_length(&mut self, f: &Fields<'_>) -> KeyLength {
        f.get("key_length")
            .and_then(|n| {
                self.choice(
                    n,
                    &f.path("key_length"),
                    &[("2048", KeyLength::Rsa2048), ("1024", KeyLength::Rsa1024)],
                )
            })
            .map_or(KeyLength::Rsa2048, |s| s.value)
    }

    fn ses_domain(&mut self, node: &Node, path: &str) -> Option<SesDomainSpec> {
        let f = self.map(node, path, &fields::<SesDomainDoc>())?;
        let dkim = match f.get("dkim") {
            None => SesDkimSpec::Easy {
                key_length: KeyLength::Rsa2048,
            },
            Some(n) => match &n.value {
                Value::Scalar { text, .. } if text == "easy" => SesDkimSpec::Easy {
                    key_length: KeyLength::Rsa2048,
                },
                Value::Scalar { .. } => {
                    self.choice(n, &f.path("dkim"), &[("easy", ())]);
                    return None;
                }
                _ => {
                    let d = self.map(
                        n,
                        &f.path("dkim"),
                        &[fields::<EasyWrap>(), fields::<ByoWrap>()].concat(),
                    )?;
                    match (d.get("easy"), d.get("byodkim")) {
                        (Some(e), None) => {
                            let e = self.map(e, &d.path("easy"), &fields::<EasyDoc>())?;
                            SesDkimSpec::Easy {
                                key_length: self.key_length(&e),
                            }
                        }
                        (None, Some(b)) => {
                            let b = self.map(b, &d.path("byodkim"), &fields::<ByoDoc>())?;
                            let selector = self
                                .required(&b, "selector", "mailinfra1")
                                .and_then(|n| self.string(n, &b.path("selector")))?;
                            SesDkimSpec::Byo { selector }
                        }
                        _ => {
                            self.error(
                                n.pos,
                                &f.path("dkim"),
                                "`dkim` takes exactly one of `easy` or `byodkim`",
                                "write `dkim: easy` or `dkim: { byodkim: { selector: mailinfra1 } }`",
                            );
                            return None;
                        }
                    }
                }
            },
        };
        let mail_from = f
            .get("mail_from")
            .and_then(|n| self.string(n, &f.path("mail_from")));
        let on_mx_failure = f
            .get("mail_from_on_mx_failure")
            .and_then(|n| {
                self.choice(
                    n,
                    &f.path("mail_from_on_mx_failure"),
                    &[
                        ("use_default", MxFailure::UseDefault),
                        ("reject", MxFailure::Reject),
                    ],
                )
            })
            .map_or(MxFailure::UseDefault, |s| s.value);
        let spf_all = f
            .get("mail_from_spf")
            .and_then(|n| {
                self.choice(
                    n,
                    &f.path("mail_from_spf"),
                    &[("fail", SpfAll::Fail), ("softfail", SpfAll::SoftFail)],
                )
            })
            .map_or(SpfAll::Fail, |s| s.value);
        if mail_from.is_none() {
            for key in ["mail_from_on_mx_failure", "mail_from_spf"] {
                if let Some(n) = f.get(key) {
                    self.error(
                        n.pos,
                        &f.path(key),
                        format!("`{key}` is set but `mail_from` is not"),
                        "add `mail_from: bounce.<domain>` or remove this field",
                    );
                }
            }
        }
        Some(SesDomainSpec {
            pos: node.pos,
            dkim,
            mail_from: mail_from.map(|d| MailFromSpec {
                domain: Spanned {
                    value: d.value.trim_end_matches('.').to_ascii_lowercase(),
                    pos: d.pos,
                },
                on_mx_failure,
                spf_all,
            }),
            configuration_set: f
                .get("configuration_set")
                .and_then(|n| self.string(n, &f.path("configuration_set"))),
        })
    }

    fn reasons(&mut self, node: &Node, path: &str) -> Vec<SuppressionReason> {
        let mut r = self.list(node, path, |cx, n, p| {
            cx.choice(
                n,
                p,
                &[
                    ("bounce", SuppressionReason::Bounce),
                    ("complaint", SuppressionReason::Complaint),
                ],
            )
            .map(|s| s.value)
        });
        r.sort();
        r.dedup();
        r
    }

    fn ses_account(&mut self, node: &Node, path: &str) -> Option<SesAccountSpec> {
        let f = self.map(node, path, &fields::<SesAccountDoc>())?;
        let suppression = f
            .get("suppression")
            .map(|n| self.reasons(n, &f.path("suppression")));
        let configuration_sets = match f.get("configuration_sets") {
            Some(n) => self.list(n, &f.path("configuration_sets"), |cx, n, p| {
                cx.config_set(n, p)
            }),
            None => Vec::new(),
        };
        let production_access = f
            .get("production_access")
            .and_then(|n| self.production_access(n, &f.path("production_access")));
        Some(SesAccountSpec {
            pos: node.pos,
            suppression,
            configuration_sets,
            production_access,
        })
    }

    fn config_set(&mut self, node: &Node, path: &str) -> Option<ConfigSetSpec> {
        let f = self.map(node, path, &fields::<ConfigSetDoc>())?;
        let name = self
            .required(&f, "name", "transactional")
            .and_then(|n| self.string(n, &f.path("name")));
        let suppression = f
            .get("suppression")
            .map(|n| self.reasons(n, &f.path("suppression")))
            .unwrap_or_default();
        let tls_required = f
            .get("tls")
            .and_then(|n| self.choice(n, &f.path("tls"), &[("require", true), ("optional", false)]))
            .is_some_and(|s| s.value);
        let sending_enabled = f
            .get("sending_enabled")
            .and_then(|n| self.boolean(n, &f.path("sending_enabled")))
            .unwrap_or(true);
        let mut tags = Vec::new();
        if let Some(n) = f.get("tags") {
            if !matches!(n.value, Value::Map(_)) {
                self.expected(n, &f.path("tags"), "a mapping of tag names to values");
            }
            if let Value::Map(pairs) = &n.value {
                for (k, v) in pairs {
                    if let (Value::Scalar { text: k, .. }, Some(v)) =
                        (&k.value, self.string(v, &f.path("tags")))
                    {
                        tags.push((k.clone(), v.value));
                    }
                }
            }
        }
        Some(ConfigSetSpec {
            name: name?,
            suppression,
            tls_required,
            sending_enabled,
            tags,
        })
    }

    fn production_access(&mut self, node: &Node, path: &str) -> Option<ProductionAccessSpec> {
        let f = self.map(node, path, &fields::<ProductionAccessDoc>())?;
        let mail_type = self
            .required(&f, "mail_type", "transactional")
            .and_then(|n| {
                self.choice(
                    n,
                    &f.path("mail_type"),
                    &[
                        ("transactional", MailType::Transactional),
                        ("marketing", MailType::Marketing),
                    ],
                )
            });
        let website_url = self
            .required(&f, "website_url", "https://example.com")
            .and_then(|n| self.string(n, &f.path("website_url")));
        let use_case = self
            .required(
                &f,
                "use_case",
                "\"Order receipts and password resets for our customers\"",
            )
            .and_then(|n| self.string(n, &f.path("use_case")));
        let contact_language = f
            .get("contact_language")
            .and_then(|n| {
                self.choice(
                    n,
                    &f.path("contact_language"),
                    &[("en", ContactLanguage::En), ("ja", ContactLanguage::Ja)],
                )
            })
            .map_or(ContactLanguage::En, |s| s.value);
        Some(ProductionAccessSpec {
            pos: node.pos,
            mail_type: mail_type?.value,
            website_url: website_url?,
            use_case: use_case?,
            contact_language,
            additional_contacts: self.strings(&f, "additional_contacts"),
        })
    }

    fn spf(&mut self, node: &Node, path: &str) -> Option<SpfSpec> {
        let f = self.map(node, path, &fields::<SpfDoc>())?;
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
        // The removed tags are known here so that they get their own message, not "unknown".
        let mut known = fields::<DmarcDoc>();
        known.extend(REMOVED.iter().map(|(k, _)| k.to_string()));
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
        let f = self.map(node, path, &fields::<DkimKeyDoc>())?;
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
