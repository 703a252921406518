//! SPF as a receiver evaluates it: RFC 7208's `check_host()` (§4) for one sending address,
//! through DNS, with its limits: at most 10 terms that cost a lookup (§4.6.4), at most 10 MX
//! names per `mx` and PTR names per `ptr`, at most 2 void lookups, macros expanded (§7).
//! The result is one of §2.6's seven; `check` reports the result for the gateway's address
//! and for an address no record should authorize.

use std::net::IpAddr;

use super::dns::{Answer, Dns};

/// The most DNS-querying terms one evaluation may use (RFC 7208 §4.6.4).
pub const MAX_LOOKUPS: usize = crate::mail::spf::MAX_LOOKUPS;
/// The most lookups that may come back empty (NXDOMAIN or no data) (RFC 7208 §4.6.4).
pub const MAX_VOID_LOOKUPS: usize = 2;
/// The most MX names an `mx` term, or PTR names a `ptr` term, may look up (§4.6.4).
pub const MAX_NAMES: usize = 10;

/// One term of an SPF record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Term {
    Mechanism {
        qualifier: Qualifier,
        mechanism: Mechanism,
    },
    /// `redirect=`, `exp=`, or an unknown modifier (ignored, RFC 7208 §6).
    Modifier { name: String, value: String },
}

/// A mechanism's qualifier: what a match means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Qualifier {
    Pass,
    Fail,
    SoftFail,
    Neutral,
}

impl Qualifier {
    pub fn result(self) -> SpfResult {
        match self {
            Qualifier::Pass => SpfResult::Pass,
            Qualifier::Fail => SpfResult::Fail,
            Qualifier::SoftFail => SpfResult::SoftFail,
            Qualifier::Neutral => SpfResult::Neutral,
        }
    }

    pub fn symbol(self) -> char {
        match self {
            Qualifier::Pass => '+',
            Qualifier::Fail => '-',
            Qualifier::SoftFail => '~',
            Qualifier::Neutral => '?',
        }
    }
}

/// A mechanism with its argument; `a` and `mx` carry their prefix lengths (IPv4, IPv6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mechanism {
    All,
    Include(String),
    A(Option<String>, u8, u8),
    Mx(Option<String>, u8, u8),
    Ptr(Option<String>),
    Ip(IpAddr, u8),
    Exists(String),
}

/// RFC 7208 §2.6: what a receiver concludes for one address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpfResult {
    None,
    Neutral,
    Pass,
    Fail,
    SoftFail,
    TempError,
    PermError,
}

impl SpfResult {
    /// The result's name as RFC 7208 writes it in `Received-SPF` (`pass`, `permerror`, ...).
    pub fn name(self) -> &'static str {
        match self {
            SpfResult::None => "none",
            SpfResult::Neutral => "neutral",
            SpfResult::Pass => "pass",
            SpfResult::Fail => "fail",
            SpfResult::SoftFail => "softfail",
            SpfResult::TempError => "temperror",
            SpfResult::PermError => "permerror",
        }
    }

    /// What a receiver does with it (RFC 7208 §8, RFC 9989 for DMARC).
    pub fn meaning(self) -> &'static str {
        match self {
            SpfResult::Pass => "authorized",
            SpfResult::Fail => "not authorized: receivers may reject (§8.4)",
            SpfResult::SoftFail => "probably not authorized: receivers mark it suspicious (§8.5)",
            SpfResult::Neutral => "no assertion: SPF does not help DMARC (§8.2)",
            SpfResult::None => "no SPF record: SPF does not help DMARC (§8.1)",
            SpfResult::TempError => "a DNS error: receivers defer the mail (§8.6)",
            SpfResult::PermError => {
                "the record is broken: receivers treat SPF as failed for every sender (§8.7)"
            }
        }
    }
}

/// Parses a `v=spf1` record into its terms, or says what is wrong with it (a permerror for a
/// receiver). Macros are checked here and expanded at evaluation.
pub fn parse(record: &str) -> Result<Vec<Term>, String> {
    let mut words = record.split(' ').filter(|w| !w.is_empty());
    match words.next() {
        Some(v) if v.eq_ignore_ascii_case("v=spf1") => {}
        _ => return Err("does not start with `v=spf1`".into()),
    }
    let mut terms = Vec::new();
    let mut seen_redirect = false;
    let mut seen_exp = false;
    for w in words {
        if let Some((name, value)) = modifier(w) {
            let name = name.to_ascii_lowercase();
            check_macros(value, false).map_err(|why| format!("`{w}`: {why}"))?;
            if name == "redirect" || name == "exp" {
                let seen = if name == "redirect" {
                    &mut seen_redirect
                } else {
                    &mut seen_exp
                };
                if *seen {
                    return Err(format!("`{name}=` appears twice (RFC 7208 §6)"));
                }
                *seen = true;
                check_domain_spec(value).map_err(|why| format!("`{w}`: {why}"))?;
            }
            terms.push(Term::Modifier {
                name,
                value: value.to_owned(),
            });
            continue;
        }
        let (qualifier, rest) = match w.as_bytes()[0] {
            b'+' => (Qualifier::Pass, &w[1..]),
            b'-' => (Qualifier::Fail, &w[1..]),
            b'~' => (Qualifier::SoftFail, &w[1..]),
            b'?' => (Qualifier::Neutral, &w[1..]),
            _ => (Qualifier::Pass, w),
        };
        let mechanism = mechanism(rest).map_err(|why| format!("`{w}`: {why}"))?;
        terms.push(Term::Mechanism {
            qualifier,
            mechanism,
        });
    }
    Ok(terms)
}

/// `name=value` when `w` is a modifier (RFC 7208 §12: a name starts with a letter).
fn modifier(w: &str) -> Option<(&str, &str)> {
    let (name, value) = w.split_once('=')?;
    let mut chars = name.chars();
    let first = chars.next()?;
    (first.is_ascii_alphabetic()
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    .then_some((name, value))
}

fn mechanism(rest: &str) -> Result<Mechanism, String> {
    let end = rest.find([':', '/']).unwrap_or(rest.len());
    let name = rest[..end].to_ascii_lowercase();
    let after = &rest[end..];
    let domain_arg = |after: &str, required: bool| -> Result<(Option<String>, String), String> {
        // `:domain-spec` then an optional `/cidr` part, returned apart.
        let Some(spec) = after.strip_prefix(':') else {
            if required {
                return Err(format!("`{name}` needs a domain"));
            }
            return Ok((None, after.to_owned()));
        };
        let cidr_at = cidr_start(spec);
        let (domain, cidr) = spec.split_at(cidr_at);
        if domain.is_empty() {
            return Err(format!("`{name}` needs a domain"));
        }
        check_macros(domain, false)?;
        check_domain_spec(domain)?;
        Ok((Some(domain.to_owned()), cidr.to_owned()))
    };
    match name.as_str() {
        "all" if after.is_empty() => Ok(Mechanism::All),
        "all" => Err("`all` takes no argument".into()),
        "include" | "exists" => {
            let (domain, cidr) = domain_arg(after, true)?;
            if !cidr.is_empty() {
                return Err(format!("`{name}` takes no prefix length"));
            }
            let domain = domain.unwrap_or_default();
            Ok(if name == "include" {
                Mechanism::Include(domain)
            } else {
                Mechanism::Exists(domain)
            })
        }
        "ptr" => {
            let (domain, cidr) = domain_arg(after, false)?;
            if !cidr.is_empty() {
                return Err("`ptr` takes no prefix length".into());
            }
            Ok(Mechanism::Ptr(domain))
        }
        "a" | "mx" => {
            let (domain, cidr) = domain_arg(after, false)?;
            let (v4, v6) = dual_cidr(&cidr)?;
            Ok(if name == "a" {
                Mechanism::A(domain, v4, v6)
            } else {
                Mechanism::Mx(domain, v4, v6)
            })
        }
        "ip4" | "ip6" => {
            let net = after
                .strip_prefix(':')
                .ok_or_else(|| format!("`{name}` needs an address"))?;
            let (addr, prefix) = match net.split_once('/') {
                Some((a, p)) => (a, Some(p)),
                None => (net, None),
            };
            let v4 = name == "ip4";
            let ip: IpAddr = if v4 {
                addr.parse::<std::net::Ipv4Addr>().map(IpAddr::V4)
            } else {
                addr.parse::<std::net::Ipv6Addr>().map(IpAddr::V6)
            }
            .map_err(|_| {
                format!(
                    "`{addr}` is not an IP{} address",
                    if v4 { "v4" } else { "v6" }
                )
            })?;
            let max = if v4 { 32 } else { 128 };
            let prefix = match prefix {
                None => max,
                Some(p) => prefix_length(p, max)?,
            };
            Ok(Mechanism::Ip(ip, prefix))
        }
        _ => Err("unknown mechanism".into()),
    }
}

/// Where the `/cidr` suffix of a domain-spec starts: the last `/` followed only by digits
/// and slashes (a macro may hold `/` as a delimiter).
fn cidr_start(spec: &str) -> usize {
    let bytes = spec.as_bytes();
    let mut at = spec.len();
    while at > 0 && (bytes[at - 1].is_ascii_digit() || bytes[at - 1] == b'/') {
        at -= 1;
    }
    match spec[at..].find('/') {
        Some(i) => at + i,
        None => spec.len(),
    }
}

/// `/n`, `//n6` or `/n//n6` after `a` or `mx`.
fn dual_cidr(cidr: &str) -> Result<(u8, u8), String> {
    if cidr.is_empty() {
        return Ok((32, 128));
    }
    let (v4, v6) = match cidr.split_once("//") {
        Some((v4, v6)) => (v4, Some(v6)),
        None => (cidr, None),
    };
    let v4 = match v4.strip_prefix('/') {
        Some(p) => prefix_length(p, 32)?,
        None if v4.is_empty() => 32,
        None => return Err(format!("`{cidr}` is not a prefix length")),
    };
    let v6 = match v6 {
        Some(p) => prefix_length(p, 128)?,
        None => 128,
    };
    Ok((v4, v6))
}

fn prefix_length(p: &str, max: u8) -> Result<u8, String> {
    match p.parse::<u8>() {
        Ok(n) if n <= max && (p == "0" || !p.starts_with('0')) => Ok(n),
        _ => Err(format!("`/{p}` is not a prefix length (0-{max})")),
    }
}

/// A domain-spec ends with a top label, or a macro (RFC 7208 §7.1: `domain-end`).
fn check_domain_spec(spec: &str) -> Result<(), String> {
    let spec = spec.strip_suffix('.').unwrap_or(spec);
    if spec.ends_with('}') {
        return Ok(());
    }
    let Some((_, top)) = spec.rsplit_once('.') else {
        return Err(format!("`{spec}` is not a fully qualified domain"));
    };
    let ok = !top.is_empty()
        && top.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && top.chars().any(|c| c.is_ascii_alphabetic())
        && !top.starts_with('-')
        && !top.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(format!("`{spec}` is not a fully qualified domain"))
    }
}

/// What the macros of a domain-spec (or, with `exp`, an explanation) may hold (§7.1).
fn check_macros(s: &str, exp: bool) -> Result<(), String> {
    expand_with(s, exp, &Macros::placeholder()).map(|_| ())
}

/// The values macros expand to (RFC 7208 §7.2).
#[derive(Debug, Clone)]
pub struct Macros {
    pub ip: IpAddr,
    pub sender: String,
    pub domain: String,
    pub helo: String,
}

impl Macros {
    fn placeholder() -> Macros {
        Macros {
            ip: IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
            sender: "postmaster@example.com".into(),
            domain: "example.com".into(),
            helo: "example.com".into(),
        }
    }

    fn letter(&self, letter: char) -> Option<String> {
        let (local, sender_domain) = self
            .sender
            .rsplit_once('@')
            .unwrap_or(("postmaster", self.sender.as_str()));
        Some(match letter {
            's' => self.sender.clone(),
            'l' => local.to_owned(),
            'o' => sender_domain.to_owned(),
            'd' => self.domain.clone(),
            'i' => match self.ip {
                IpAddr::V4(v4) => v4.to_string(),
                IpAddr::V6(v6) => v6
                    .octets()
                    .iter()
                    .flat_map(|b| [b >> 4, b & 0xf])
                    .map(|n| format!("{n:x}"))
                    .collect::<Vec<_>>()
                    .join("."),
            },
            // The validated domain name needs PTR lookups; RFC 7208 §7.3 discourages `p`
            // and allows "unknown".
            'p' => "unknown".into(),
            'v' => match self.ip {
                IpAddr::V4(_) => "in-addr".into(),
                IpAddr::V6(_) => "ip6".into(),
            },
            'h' => self.helo.clone(),
            _ => return None,
        })
    }
}

/// Expands a macro-string (RFC 7208 §7): `%{letter digits r delimiters}`, `%%`, `%_`, `%-`.
pub fn expand(s: &str, m: &Macros) -> Result<String, String> {
    let out = expand_with(s, false, m)?;
    // §7.3: too long, drop labels from the left until it fits.
    let mut out = out.trim_end_matches('.').to_owned();
    while out.len() > 253 {
        match out.split_once('.') {
            Some((_, rest)) => out = rest.to_owned(),
            None => break,
        }
    }
    Ok(out)
}

fn expand_with(s: &str, exp: bool, m: &Macros) -> Result<String, String> {
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            if !(c.is_ascii_graphic() || (exp && c == ' ')) {
                return Err(format!("`{c}` is not allowed in a macro-string"));
            }
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('%') => out.push('%'),
            Some('_') => out.push(' '),
            Some('-') => out.push_str("%20"),
            Some('{') => {
                let mut body = String::new();
                loop {
                    match chars.next() {
                        Some('}') => break,
                        Some(c) => body.push(c),
                        None => return Err("a macro `%{` is not closed".into()),
                    }
                }
                out.push_str(&macro_value(&body, exp, m)?);
            }
            _ => return Err("`%` must be followed by `{`, `%`, `_` or `-`".into()),
        }
    }
    Ok(out)
}

fn macro_value(body: &str, exp: bool, m: &Macros) -> Result<String, String> {
    let mut chars = body.chars();
    let letter = chars
        .next()
        .ok_or_else(|| "an empty macro `%{}`".to_owned())?;
    let lower = letter.to_ascii_lowercase();
    let allowed = "sloipvhd".contains(lower) || (exp && "crt".contains(lower));
    if !allowed {
        return Err(format!("unknown macro letter `{letter}`"));
    }
    let rest: String = chars.collect();
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let rest = &rest[digits.len()..];
    let (reverse, delimiters) = match rest.strip_prefix(['r', 'R']) {
        Some(d) => (true, d),
        None => (false, rest),
    };
    if let Some(bad) = delimiters.chars().find(|c| !".-+,/_=".contains(*c)) {
        return Err(format!("`{bad}` is not a macro delimiter"));
    }
    let value = m.letter(lower).unwrap_or_else(|| String::from("unknown"));
    let delimiters = if delimiters.is_empty() {
        "."
    } else {
        delimiters
    };
    let mut parts: Vec<&str> = value.split(|c| delimiters.contains(c)).collect();
    if reverse {
        parts.reverse();
    }
    if !digits.is_empty() {
        let n: usize = digits
            .parse()
            .map_err(|_| "a macro's digits are too long")?;
        if n == 0 {
            return Err("a macro keeps zero labels".into());
        }
        if parts.len() > n {
            parts = parts.split_off(parts.len() - n);
        }
    }
    let joined = parts.join(".");
    Ok(if letter.is_ascii_uppercase() {
        url_escape(&joined)
    } else {
        joined
    })
}

/// RFC 7208 §7.3: an upper-case macro letter URL-escapes the value (RFC 3986 unreserved kept).
fn url_escape(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// What evaluating one address against a domain's SPF found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    pub result: SpfResult,
    /// For a permerror or temperror: what caused it.
    pub why: Option<String>,
    /// The DNS-querying terms evaluated.
    pub lookups: usize,
    pub voids: usize,
}

/// Why an evaluation stopped early.
enum Stop {
    Temp(String),
    Perm(String),
}

type Step<T> = Result<T, Stop>;

struct Walk<'a> {
    dns: &'a Dns,
    ip: IpAddr,
    sender: String,
    helo: String,
    lookups: usize,
    voids: usize,
}

/// RFC 7208 §4: the SPF result for mail from `ip` with MAIL FROM `sender` (a local part @
/// `domain`) and HELO `helo`.
pub async fn check_host(
    dns: &Dns,
    ip: IpAddr,
    domain: &str,
    sender: &str,
    helo: &str,
) -> Evaluation {
    let mut walk = Walk {
        dns,
        ip,
        sender: sender.to_owned(),
        helo: helo.to_owned(),
        lookups: 0,
        voids: 0,
    };
    let (result, why) = match walk.check_host(domain.to_ascii_lowercase(), 0).await {
        Ok(r) => (r, None),
        Err(Stop::Temp(why)) => (SpfResult::TempError, Some(why)),
        Err(Stop::Perm(why)) => (SpfResult::PermError, Some(why)),
    };
    Evaluation {
        result,
        why,
        lookups: walk.lookups,
        voids: walk.voids,
    }
}

/// The SPF records among a name's TXT values.
pub fn records(txt: &[String]) -> Vec<&String> {
    txt.iter().filter(|t| crate::mail::spf::is_spf(t)).collect()
}

impl Walk<'_> {
    /// An answer's records; an empty answer is a void lookup, a failed one a temperror.
    fn answered<T>(&mut self, answer: Answer<T>, name: &str) -> Step<Vec<T>> {
        match answer {
            Answer::Found(v) => Ok(v),
            Answer::NoRecords => {
                self.voids += 1;
                if self.voids > MAX_VOID_LOOKUPS {
                    return Err(Stop::Perm(format!(
                        "more than {MAX_VOID_LOOKUPS} void lookups (the last: `{name}`)"
                    )));
                }
                Ok(Vec::new())
            }
            Answer::Failed(why) => Err(Stop::Temp(format!("`{name}`: {why}"))),
        }
    }

    fn count(&mut self, term: &str) -> Step<()> {
        self.lookups += 1;
        if self.lookups > MAX_LOOKUPS {
            return Err(Stop::Perm(format!(
                "more than {MAX_LOOKUPS} DNS lookups (the 11th: `{term}`)"
            )));
        }
        Ok(())
    }

    fn macros(&self, domain: &str) -> Macros {
        Macros {
            ip: self.ip,
            sender: self.sender.clone(),
            domain: domain.to_owned(),
            helo: self.helo.clone(),
        }
    }

    fn target(&self, spec: Option<&String>, domain: &str) -> Step<String> {
        match spec {
            None => Ok(domain.to_owned()),
            Some(s) => expand(s, &self.macros(domain))
                .map(|t| t.to_ascii_lowercase())
                .map_err(Stop::Perm),
        }
    }

    /// The addresses of `host` in the sender's family.
    async fn addresses(&mut self, host: &str) -> Step<Vec<IpAddr>> {
        Ok(match self.ip {
            IpAddr::V4(_) => {
                let a = self.dns.a(host).await;
                self.answered(a, host)?
                    .into_iter()
                    .map(IpAddr::V4)
                    .collect()
            }
            IpAddr::V6(_) => {
                let a = self.dns.aaaa(host).await;
                self.answered(a, host)?
                    .into_iter()
                    .map(IpAddr::V6)
                    .collect()
            }
        })
    }

    fn check_host(
        &mut self,
        domain: String,
        depth: usize,
    ) -> futures::future::BoxFuture<'_, Step<SpfResult>> {
        Box::pin(async move {
            if depth > 2 * MAX_LOOKUPS {
                return Err(Stop::Perm("includes loop".into()));
            }
            if domain.split('.').any(|l| l.is_empty() || l.len() > 63) {
                return Ok(SpfResult::None);
            }
            let txt = self.dns.txt(&domain).await;
            let txt = self.answered(txt, &domain)?;
            let record = match records(&txt).as_slice() {
                [] => return Ok(SpfResult::None),
                [one] => (*one).clone(),
                many => {
                    return Err(Stop::Perm(format!(
                        "`{domain}` has {} SPF records (RFC 7208 §4.5)",
                        many.len()
                    )));
                }
            };
            let terms = parse(&record).map_err(|why| Stop::Perm(format!("`{domain}`: {why}")))?;
            let mut redirect = None;
            for t in &terms {
                if let Term::Modifier { name, value } = t
                    && name == "redirect"
                {
                    // Counted where it is read, as pyspf does (RFC 7208 §4.6.4 counts terms).
                    self.count(&format!("redirect={value}"))?;
                    redirect = Some(value.clone());
                }
            }
            for t in &terms {
                let Term::Mechanism {
                    qualifier,
                    mechanism,
                } = t
                else {
                    continue;
                };
                if self.matches(mechanism, &domain, depth).await? {
                    return Ok(qualifier.result());
                }
            }
            let Some(redirect) = redirect else {
                return Ok(SpfResult::Neutral);
            };
            let target = self.target(Some(&redirect), &domain)?;
            match self.check_host(target.clone(), depth + 1).await? {
                SpfResult::None => Err(Stop::Perm(format!(
                    "redirect={target}: `{target}` has no SPF record"
                ))),
                r => Ok(r),
            }
        })
    }

    async fn matches(&mut self, m: &Mechanism, domain: &str, depth: usize) -> Step<bool> {
        match m {
            Mechanism::All => Ok(true),
            Mechanism::Ip(net, prefix) => Ok(in_range(self.ip, *net, *prefix)),
            Mechanism::Include(spec) => {
                self.count(&format!("include:{spec}"))?;
                let target = self.target(Some(spec), domain)?;
                match self.check_host(target.clone(), depth + 1).await? {
                    SpfResult::Pass => Ok(true),
                    SpfResult::None => Err(Stop::Perm(format!(
                        "include:{target}: `{target}` has no SPF record"
                    ))),
                    _ => Ok(false),
                }
            }
            Mechanism::A(spec, v4, v6) => {
                self.count("a")?;
                let host = self.target(spec.as_ref(), domain)?;
                let found = self.addresses(&host).await?;
                Ok(self.any_in(&found, *v4, *v6))
            }
            Mechanism::Mx(spec, v4, v6) => {
                self.count("mx")?;
                let host = self.target(spec.as_ref(), domain)?;
                let mx = self.dns.mx(&host).await;
                let mut names = self.answered(mx, &host)?;
                if names.len() > MAX_NAMES {
                    return Err(Stop::Perm(format!(
                        "mx: `{host}` has {} MX records, more than {MAX_NAMES}",
                        names.len()
                    )));
                }
                names.sort();
                for (_, name) in names {
                    let found = self.addresses(&name).await?;
                    if self.any_in(&found, *v4, *v6) {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            Mechanism::Ptr(spec) => {
                self.count("ptr")?;
                let target = self.target(spec.as_ref(), domain)?;
                let ptr = self.dns.ptr(self.ip).await;
                let names = match ptr {
                    // A PTR lookup that fails makes `ptr` not match (RFC 7208 §5.5).
                    Answer::Failed(_) => return Ok(false),
                    other => self.answered(other, "ptr")?,
                };
                for name in names.into_iter().take(MAX_NAMES) {
                    let forward = match self.ip {
                        IpAddr::V4(_) => match self.dns.a(&name).await {
                            Answer::Found(v) => v.into_iter().map(IpAddr::V4).collect(),
                            _ => Vec::new(),
                        },
                        IpAddr::V6(_) => match self.dns.aaaa(&name).await {
                            Answer::Found(v) => v.into_iter().map(IpAddr::V6).collect(),
                            _ => Vec::new(),
                        },
                    };
                    if forward.contains(&self.ip) && crate::mail::names::is_within(&name, &target) {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            Mechanism::Exists(spec) => {
                self.count(&format!("exists:{spec}"))?;
                let host = self.target(Some(spec), domain)?;
                let a = self.dns.a(&host).await;
                Ok(!self.answered(a, &host)?.is_empty())
            }
        }
    }

    fn any_in(&self, found: &[IpAddr], v4: u8, v6: u8) -> bool {
        found.iter().any(|a| {
            let prefix = if a.is_ipv4() { v4 } else { v6 };
            in_range(self.ip, *a, prefix)
        })
    }
}

/// Whether `ip` is in `net/prefix`.
pub fn in_range(ip: IpAddr, net: IpAddr, prefix: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = if prefix == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(prefix.min(32)))
            };
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = if prefix == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(prefix.min(128)))
            };
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

/// The `all` qualifier a record ends with, if it has one.
pub fn all_qualifier(record: &str) -> Option<Qualifier> {
    parse(record).ok()?.iter().find_map(|t| match t {
        Term::Mechanism {
            qualifier,
            mechanism: Mechanism::All,
        } => Some(*qualifier),
        _ => None,
    })
}

/// What a record costs a receiver in DNS-querying terms through its whole tree: every
/// `include:` and `redirect=` target's record read from DNS (or from `local`, the records the
/// blueprint itself publishes), counted as a receiver evaluating mail from an address no
/// term authorizes does (RFC 7208 §4.6.4): `include`, `a`, `mx`, `ptr`, `exists` and
/// `redirect` one each, `redirect=` where it is read (as pyspf counts it), nothing after `all`
/// (§5.1: never evaluated) and no `redirect=` followed in a record with `all` (§6.1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TreeCount {
    /// The DNS-querying terms of the whole tree.
    pub lookups: usize,
    /// Set when counting stopped following includes at pyspf's hard limit (40) or at a loop:
    /// `lookups` is then a lower bound.
    pub truncated: bool,
    /// The top record's `include:`/`redirect=` terms and what each costs with its own tree,
    /// heaviest first.
    pub heaviest: Vec<(String, usize)>,
    /// Targets whose records could not be read or followed, and why: the total is then a
    /// lower bound.
    pub unknown: Vec<String>,
}

/// Counts `record` (published at `domain`) through its tree; `local` gives the SPF record a
/// name will have when the blueprint publishes one there.
pub async fn count_tree(
    dns: &Dns,
    domain: &str,
    record: &str,
    local: &(dyn Fn(&str) -> Option<String> + Sync),
) -> Result<TreeCount, String> {
    let terms = parse(record)?;
    let mut counter = Counter {
        dns,
        local,
        lookups: 0,
        unknown: Vec::new(),
        truncated: false,
    };
    let mut heaviest = Vec::new();
    for (term, target) in counter.costly(&terms) {
        let before = counter.lookups;
        counter.lookups += 1;
        if let Some(target) = target {
            counter.follow(&target, domain, 1).await;
        }
        heaviest.push((term, counter.lookups - before));
    }
    heaviest.sort_by_key(|h| std::cmp::Reverse(h.1));
    Ok(TreeCount {
        lookups: counter.lookups,
        heaviest,
        unknown: counter.unknown,
        truncated: counter.truncated,
    })
}

struct Counter<'a> {
    dns: &'a Dns,
    local: &'a (dyn Fn(&str) -> Option<String> + Sync),
    lookups: usize,
    unknown: Vec<String>,
    truncated: bool,
}

/// Where counting stops following includes: pyspf's hard limit, and any loop.
const MAX_COUNTED: usize = 4 * MAX_LOOKUPS;

impl Counter<'_> {
    /// The terms of one record a receiver evaluates for an address nothing authorizes, in
    /// order, with the domain each `include:`/`redirect=` leads to (`None`: costs a lookup but
    /// leads to no record). `redirect=` first: pyspf reads it before the mechanisms.
    fn costly(&mut self, terms: &[Term]) -> Vec<(String, Option<String>)> {
        let has_all = terms.iter().any(|t| {
            matches!(
                t,
                Term::Mechanism {
                    mechanism: Mechanism::All,
                    ..
                }
            )
        });
        let mut out = Vec::new();
        let mut redirect = None;
        for t in terms {
            if let Term::Modifier { name, value } = t
                && name == "redirect"
            {
                redirect = Some(value.clone());
            }
        }
        if let Some(r) = &redirect {
            // Counted where it is read; followed only when no `all` ends the record.
            out.push((format!("redirect={r}"), None));
        }
        for t in terms {
            let Term::Mechanism { mechanism, .. } = t else {
                continue;
            };
            match mechanism {
                Mechanism::All => break,
                Mechanism::Include(d) => out.push((format!("include:{d}"), Some(d.clone()))),
                Mechanism::A(..) => out.push(("a".into(), None)),
                Mechanism::Mx(..) => out.push(("mx".into(), None)),
                Mechanism::Ptr(_) => out.push(("ptr".into(), None)),
                Mechanism::Exists(d) => out.push((format!("exists:{d}"), None)),
                Mechanism::Ip(..) => {}
            }
        }
        if let (Some(r), false) = (redirect, has_all) {
            out[0].1 = Some(r);
        }
        out
    }

    /// Adds the lookups of the record at `target` (its own terms and their trees).
    fn follow<'b>(
        &'b mut self,
        target: &'b str,
        from: &'b str,
        depth: usize,
    ) -> futures::future::BoxFuture<'b, ()> {
        Box::pin(async move {
            // Loops and huge trees end here, far past the limit.
            if self.lookups > MAX_COUNTED || depth > MAX_LOOKUPS {
                self.truncated = true;
                return;
            }
            if target.contains('%') {
                self.unknown.push(format!(
                    "`{target}` (in `{from}`) depends on the sender (a macro); not followed"
                ));
                return;
            }
            let name = target.trim_end_matches('.').to_ascii_lowercase();
            let record = match (self.local)(&name) {
                Some(r) => r,
                None => match self.dns.txt(&name).await {
                    Answer::Found(txt) => match records(&txt).as_slice() {
                        [one] => (*one).clone(),
                        [] => {
                            self.unknown
                                .push(format!("`{name}` (in `{from}`) has no SPF record"));
                            return;
                        }
                        many => {
                            self.unknown.push(format!(
                                "`{name}` (in `{from}`) has {} SPF records",
                                many.len()
                            ));
                            return;
                        }
                    },
                    Answer::NoRecords => {
                        self.unknown
                            .push(format!("`{name}` (in `{from}`) has no SPF record"));
                        return;
                    }
                    Answer::Failed(why) => {
                        self.unknown.push(format!("`{name}`: {why}"));
                        return;
                    }
                },
            };
            let terms = match parse(&record) {
                Ok(t) => t,
                Err(why) => {
                    self.unknown.push(format!("`{name}`: {why}"));
                    return;
                }
            };
            for (_, next) in self.costly(&terms) {
                self.lookups += 1;
                if let Some(next) = next {
                    self.follow(&next, &name, depth + 1).await;
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The records of RFC 7208 Appendix A, and what the parser makes of them.
    #[test]
    fn rfc_7208_examples_parse() {
        for record in [
            "v=spf1 +all",
            "v=spf1 a -all",
            "v=spf1 a:example.org -all",
            "v=spf1 mx -all",
            "v=spf1 mx:example.org -all",
            "v=spf1 mx mx:example.org -all",
            "v=spf1 mx/30 mx:example.org/30 -all",
            "v=spf1 ptr -all",
            "v=spf1 ip4:192.0.2.128/28 -all",
            "v=spf1 include:example.com include:example.net -all",
            "v=spf1 redirect=example.org",
            "v=spf1 -include:_spf.example.com ~all",
            "v=spf1 exists:%{ir}.%{l1r+-}._spf.%{d} -all",
            "v=spf1 a/24//64 -all",
        ] {
            assert!(parse(record).is_ok(), "{record}: {:?}", parse(record));
        }
        assert_eq!(
            parse("v=spf1 mx/30 -all").unwrap()[0],
            Term::Mechanism {
                qualifier: Qualifier::Pass,
                mechanism: Mechanism::Mx(None, 30, 128),
            }
        );
        assert_eq!(
            parse("v=spf1 redirect=_spf.example.com").unwrap()[0],
            Term::Modifier {
                name: "redirect".into(),
                value: "_spf.example.com".into()
            }
        );
        assert_eq!(all_qualifier("v=spf1 ~all"), Some(Qualifier::SoftFail));
    }

    /// Every one a permerror for a receiver (RFC 7208 §4.6, §5, §6, §7.1, §12).
    #[test]
    fn malformed_records_are_named() {
        for (record, why) in [
            ("v=spf2 -all", "v=spf1"),
            ("v=spf1 ipv4:1.2.3.4 -all", "unknown mechanism"),
            ("v=spf1 include: -all", "needs a domain"),
            ("v=spf1 include -all", "needs a domain"),
            ("v=spf1 ip4:192.0.2.0/33 -all", "prefix length"),
            ("v=spf1 ip4:192.0.2.300 -all", "not an IPv4 address"),
            ("v=spf1 ip4:192.0.02.1 -all", "not an IPv4 address"),
            ("v=spf1 ip6:2001:db8::/129 -all", "prefix length"),
            ("v=spf1 a/33 -all", "prefix length"),
            ("v=spf1 -all:foo", "takes no argument"),
            ("v=spf1 include:localhost -all", "fully qualified"),
            ("v=spf1 redirect=a.test redirect=b.test", "twice"),
            ("v=spf1 exists:%{x}.example.com -all", "macro letter"),
            (
                "v=spf1 exists:%(i).example.com -all",
                "`%` must be followed",
            ),
        ] {
            let err = parse(record).unwrap_err();
            assert!(err.contains(why), "{record}: {err}");
        }
    }

    #[test]
    fn macros_expand_as_rfc_7208_section_7_4_shows() {
        let m = Macros {
            ip: "192.0.2.3".parse().unwrap(),
            sender: "strong-bad@email.example.com".into(),
            domain: "email.example.com".into(),
            helo: "mx.example.org".into(),
        };
        for (spec, want) in [
            ("%{s}", "strong-bad@email.example.com"),
            ("%{o}", "email.example.com"),
            ("%{d}", "email.example.com"),
            ("%{d4}", "email.example.com"),
            ("%{d3}", "email.example.com"),
            ("%{d2}", "example.com"),
            ("%{d1}", "com"),
            ("%{dr}", "com.example.email"),
            ("%{d2r}", "example.email"),
            ("%{l}", "strong-bad"),
            ("%{l-}", "strong.bad"),
            ("%{lr}", "strong-bad"),
            ("%{lr-}", "bad.strong"),
            ("%{l1r-}", "strong"),
            (
                "%{ir}.%{v}._spf.%{d2}",
                "3.2.0.192.in-addr._spf.example.com",
            ),
            ("%{lr-}.lp._spf.%{d2}", "bad.strong.lp._spf.example.com"),
        ] {
            assert_eq!(expand(spec, &m).unwrap(), want, "{spec}");
        }
        let v6 = Macros {
            ip: "2001:db8::cb01".parse().unwrap(),
            ..m
        };
        assert_eq!(
            expand("%{ir}.%{v}._spf.%{d2}", &v6).unwrap(),
            "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com"
        );
    }

    #[test]
    fn ranges() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(in_range(ip("192.0.2.130"), ip("192.0.2.128"), 28));
        assert!(!in_range(ip("192.0.2.150"), ip("192.0.2.128"), 28));
        assert!(in_range(ip("2001:db8::1"), ip("2001:db8::"), 32));
        assert!(!in_range(ip("192.0.2.1"), ip("2001:db8::"), 32));
    }
}
