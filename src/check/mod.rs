//! `mailinfra check`: what a receiving server finds in DNS for the blueprint's domains and
//! sending IP, compared with what the blueprint wants. Expectations come from the same
//! resolved desired state `plan` uses (so the gateway's Elastic IP and DKIM key and SES's
//! DKIM tokens are the ones AWS holds); answers come from real DNS lookups.

pub mod dns;
pub mod spf;

use std::net::IpAddr;

use serde::Serialize;

use crate::mail::{dkim, txt};
use crate::plan::desired::{Content, Desired, DesiredRecord};
use crate::plan::observed::Observed;
use dns::{Answer, Dns};

pub const FORMAT: &str = "mailinfra-check";
pub const VERSION: u32 = 1;

/// Blocklists looked up by default.
pub const DEFAULT_DNSBLS: &[&str] = &[
    "zen.spamhaus.org",
    "bl.spamcop.net",
    "b.barracudacentral.org",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Pass,
    Warn,
    Fail,
    CouldNotCheck,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Row {
    pub check: String,
    pub status: Status,
    pub found: String,
    /// One line: what to do, for every row that does not pass.
    pub fix: Option<String>,
}

fn row(
    check: impl Into<String>,
    status: Status,
    found: impl Into<String>,
    fix: Option<String>,
) -> Row {
    Row {
        check: check.into(),
        status,
        found: found.into(),
        fix,
    }
}

fn failed(check: &str, why: &str) -> Row {
    row(
        check,
        Status::CouldNotCheck,
        why,
        Some("check the resolver (--resolver) and try again".into()),
    )
}

/// Where to ask a zone's own name servers, to tell a record that is still propagating
/// from one that is missing.
pub enum Authoritative {
    /// Look the zone's NS records up and ask those servers (port 53).
    FromNs,
    /// Ask this server.
    Server(std::net::SocketAddr),
}

/// Whether the zone's authoritative servers already hold a TXT/A/CNAME/MX that the resolver
/// did not return: a change still propagating (resolvers cache for the record's TTL).
async fn propagating(
    dns: &Dns,
    auth: &Authoritative,
    zone: &str,
    name: &str,
    rtype: &str,
    timeout: std::time::Duration,
) -> bool {
    let servers: Vec<std::net::SocketAddr> = match auth {
        Authoritative::Server(s) => vec![*s],
        Authoritative::FromNs => {
            let Answer::Found(hosts) = dns.ns(zone).await else {
                return false;
            };
            let mut addrs = Vec::new();
            for h in hosts {
                if let Answer::Found(ips) = dns.a(&h).await {
                    addrs.extend(
                        ips.into_iter()
                            .map(|ip| std::net::SocketAddr::new(IpAddr::V4(ip), 53)),
                    );
                }
            }
            addrs
        }
    };
    for s in servers {
        let Ok(direct) = Dns::new(Some(s), timeout) else {
            continue;
        };
        let found = match rtype {
            "TXT" => matches!(direct.txt(name).await, Answer::Found(_)),
            "A" => matches!(direct.a(name).await, Answer::Found(_)),
            "CNAME" => matches!(direct.cname(name).await, Answer::Found(_)),
            "MX" => matches!(direct.mx(name).await, Answer::Found(_)),
            _ => false,
        };
        if found {
            return true;
        }
    }
    false
}

/// Turns a "missing" failure into a warning when the zone's own servers already have it.
async fn unless_propagating(
    row: Row,
    ctx: &Context<'_>,
    zone: &str,
    name: &str,
    rtype: &str,
) -> Row {
    let missing = row.status == Status::Fail
        && (row.found.starts_with("no ") || row.found.contains("missing"));
    if !missing || !propagating(ctx.dns, ctx.authoritative, zone, name, rtype, ctx.timeout).await {
        return row;
    }
    Row {
        status: Status::Warn,
        found: format!(
            "{} at {}, but the zone's own name servers already have it: still propagating",
            row.found, ctx.dns.server
        ),
        fix: Some(
            "nothing to change: resolvers pick it up once their cached answer expires (its TTL)"
                .into(),
        ),
        ..row
    }
}

/// What every check needs besides its record.
pub struct Context<'a> {
    pub dns: &'a Dns,
    pub authoritative: &'a Authoritative,
    pub timeout: std::time::Duration,
}

/// Runs every check. `desired` is the plan's resolved desired state.
pub async fn run(
    ctx: &Context<'_>,
    desired: &Desired,
    observed: &Observed,
    dnsbls: &[String],
) -> Vec<Row> {
    let dns = ctx.dns;
    let mut rows = Vec::new();
    let eip: Option<IpAddr> = observed
        .gateway
        .as_ref()
        .and_then(|g| g.eip())
        .and_then(|e| e.public_ip.parse().ok());
    for domain in &desired.domains {
        // A record belongs to the longest blueprint domain that contains it.
        let owner = |name: &str| {
            desired
                .domains
                .iter()
                .filter(|d| crate::mail::names::is_within(name, d))
                .max_by_key(|d| d.len())
                .cloned()
        };
        let mine: Vec<&DesiredRecord> = desired
            .records
            .iter()
            .filter(|r| owner(&r.name).as_deref() == Some(domain.as_str()))
            .collect();
        if let Some(r) = mine
            .iter()
            .find(|r| r.name == *domain && r.purpose == "SPF")
        {
            let checked = spf_row(dns, r, eip).await;
            rows.push(unless_propagating(checked, ctx, &r.zone, &r.name, "TXT").await);
        }
        for r in mine.iter().filter(|r| r.purpose.contains("DKIM")) {
            let checked = dkim_row(dns, r).await;
            rows.push(unless_propagating(checked, ctx, &r.zone, &r.name, &r.rtype).await);
        }
        if let Some(r) = mine.iter().find(|r| r.name == format!("_dmarc.{domain}")) {
            let checked = dmarc_row(dns, domain, r).await;
            rows.push(unless_propagating(checked, ctx, &r.zone, &r.name, "TXT").await);
        }
        for r in mine.iter().filter(|r| r.purpose == "MAIL FROM") {
            let checked = mail_from_row(dns, r).await;
            rows.push(unless_propagating(checked, ctx, &r.zone, &r.name, "MX").await);
        }
    }
    if let (Some(g), Some(ip)) = (&desired.gateway, eip) {
        let [a, ptr] = gateway_rows(dns, &g.hostname, ip).await;
        rows.push(unless_propagating(a, ctx, &g.zone, &g.hostname, "A").await);
        rows.push(ptr);
        for zone in dnsbls {
            rows.push(dnsbl_row(dns, zone, ip).await);
        }
    }
    rows
}

async fn spf_row(dns: &Dns, want: &DesiredRecord, eip: Option<IpAddr>) -> Row {
    let check = format!("spf {}", want.name);
    // Before the gateway's address exists, its term reads "(known after apply: ...)".
    let expected = match &want.content {
        Content::Spf { text } => text.clone(),
        Content::SpfFrom { text } => text.to_string(),
        _ => return row(check, Status::CouldNotCheck, "", None),
    };
    let expected = expected.as_str();
    let txt = match dns.txt(&want.name).await {
        Answer::Found(t) => t,
        Answer::NoRecords => Vec::new(),
        Answer::Failed(why) => return failed(&check, &why),
    };
    let records = spf::records(&txt);
    let record = match records.as_slice() {
        [] => {
            return row(
                check,
                Status::Fail,
                "no SPF record",
                Some("run `mailinfra apply`".into()),
            );
        }
        [one] => (*one).clone(),
        many => {
            return row(
                check,
                Status::Fail,
                format!(
                    "{} SPF records: receivers treat that as a permanent error",
                    many.len()
                ),
                Some("delete all but one (RFC 7208 §4.5)".into()),
            );
        }
    };
    let e = spf::evaluate(dns, &record).await;
    let mut problems = Vec::new();
    let mut fix = None;
    if e.lookups > crate::mail::spf::MAX_LOOKUPS {
        problems.push(format!(
            "{} DNS lookups counting includes (the limit is 10)",
            e.lookups
        ));
        fix = Some("replace includes with ip4:/ip6: ranges or remove unused ones".to_owned());
    }
    if e.voids > 2 {
        problems.push(format!("{} void lookups (the limit is 2)", e.voids));
        fix.get_or_insert("remove includes of names that have no SPF record".into());
    }
    if let Some(ip) = eip
        && expected.contains(&format!("ip4:{ip}"))
        && !e.authorizes(ip)
    {
        problems.push(format!("the gateway's IP {ip} is not authorized"));
        fix.get_or_insert("run `mailinfra apply` to put the gateway's ip4: back".into());
    }
    let want_all = spf::parse(expected).ok().and_then(|t| {
        t.iter().find_map(|t| match t {
            spf::Term::Mechanism {
                qualifier, name, ..
            } if name == "all" => Some(*qualifier),
            _ => None,
        })
    });
    if want_all.is_some() && e.all != want_all {
        problems.push(format!(
            "ends with {:?}all, the blueprint says {:?}all",
            e.all.unwrap_or(' '),
            want_all.unwrap_or(' ')
        ));
        fix.get_or_insert("run `mailinfra apply`".into());
    }
    let status = if problems.is_empty() {
        Status::Pass
    } else if e.lookups > crate::mail::spf::MAX_LOOKUPS
        || e.voids > 2
        || problems.iter().any(|p| p.contains("not authorized"))
    {
        Status::Fail
    } else {
        Status::Warn
    };
    let found = if problems.is_empty() {
        format!("{record} ({} lookups)", e.lookups)
    } else {
        format!("{record}: {}", problems.join("; "))
    };
    row(check, status, found, fix)
}

fn dkim_p(text: &str) -> Option<String> {
    text.split(';')
        .find_map(|t| t.trim().strip_prefix("p="))
        .map(|p| p.split_whitespace().collect())
}

async fn dkim_row(dns: &Dns, want: &DesiredRecord) -> Row {
    let check = format!("dkim {}", want.name);
    if want.rtype == "CNAME" {
        let Content::Whole { values } = &want.content else {
            return row(
                check,
                Status::CouldNotCheck,
                "the identity's tokens are not known yet",
                Some("run `mailinfra apply`".into()),
            );
        };
        let target = crate::mail::names::normalize(&values[0]);
        return match dns.cname(&want.name).await {
            Answer::Found(v) if v.contains(&target) => {
                row(check, Status::Pass, format!("CNAME {target}"), None)
            }
            Answer::Found(v) => row(
                check,
                Status::Fail,
                format!("CNAME {}, SES expects {target}", v.join(", ")),
                Some("run `mailinfra apply`".into()),
            ),
            Answer::NoRecords => row(
                check,
                Status::Fail,
                "no CNAME",
                Some("run `mailinfra apply`".into()),
            ),
            Answer::Failed(why) => failed(&check, &why),
        };
    }
    let expected = match &want.content {
        Content::Whole { values } => dkim_p(&txt::text_of(&values[0])),
        _ => None,
    };
    let txt = match dns.txt(&want.name).await {
        Answer::Found(t) => t,
        Answer::NoRecords => {
            return row(
                check,
                Status::Fail,
                "no DKIM record",
                Some("run `mailinfra apply`".into()),
            );
        }
        Answer::Failed(why) => return failed(&check, &why),
    };
    let Some(found) = txt
        .iter()
        .find(|t| t.contains("p="))
        .and_then(|t| dkim_p(t))
    else {
        return row(
            check,
            Status::Fail,
            "no `p=` key in the record",
            Some("run `mailinfra apply`".into()),
        );
    };
    if let Some(want_key) = &expected
        && want_key.as_str() != found.as_str()
    {
        return row(
            check,
            Status::Fail,
            "the published key does not match the signing key",
            Some("run `mailinfra apply` to publish the key the signer uses".into()),
        );
    }
    match dkim::rsa_key_bits(&found) {
        Ok(bits) if bits < dkim::MIN_RSA_BITS => row(
            check,
            Status::Fail,
            format!("RSA {bits} bits: receivers refuse it"),
            Some("generate a 2048-bit key".into()),
        ),
        Ok(bits) if bits < 2048 => row(
            check,
            Status::Warn,
            format!("RSA {bits} bits"),
            Some("move to a 2048-bit key".into()),
        ),
        Ok(bits) => row(
            check,
            Status::Pass,
            format!("RSA {bits} bits, matches the signing key"),
            None,
        ),
        Err(why) => row(
            check,
            Status::Fail,
            format!("the key {why}"),
            Some("run `mailinfra apply`".into()),
        ),
    }
}

/// RFC 9989's tag set; `pct`, `rf` and `ri` are gone.
const DMARC_TAGS: &[&str] = &[
    "v", "p", "sp", "np", "adkim", "aspf", "rua", "ruf", "fo", "t", "psd",
];
const DMARC_REMOVED: &[&str] = &["pct", "rf", "ri"];

async fn dmarc_row(dns: &Dns, domain: &str, want: &DesiredRecord) -> Row {
    let check = format!("dmarc {domain}");
    let txt = match dns.txt(&want.name).await {
        Answer::Found(t) => t,
        Answer::NoRecords => Vec::new(),
        Answer::Failed(why) => return failed(&check, &why),
    };
    let records: Vec<&String> = txt
        .iter()
        .filter(|t| t.trim_start().starts_with("v=DMARC1"))
        .collect();
    let record = match records.as_slice() {
        [] => {
            return row(
                check,
                Status::Fail,
                "no DMARC record",
                Some("run `mailinfra apply` (at least p=none)".into()),
            );
        }
        [one] => (*one).clone(),
        many => {
            return row(
                check,
                Status::Fail,
                format!("{} DMARC records", many.len()),
                Some("keep exactly one".into()),
            );
        }
    };
    let tags: Vec<(String, String)> = record
        .split(';')
        .filter_map(|t| t.split_once('='))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let removed: Vec<&str> = tags
        .iter()
        .map(|(k, _)| k.as_str())
        .filter(|k| DMARC_REMOVED.contains(k))
        .collect();
    if !removed.is_empty() {
        return row(
            check,
            Status::Fail,
            format!("{record}: RFC 9989 removed {}", removed.join(", ")),
            Some("run `mailinfra apply` to publish the blueprint's record".into()),
        );
    }
    let unknown: Vec<&str> = tags
        .iter()
        .map(|(k, _)| k.as_str())
        .filter(|k| !DMARC_TAGS.contains(k))
        .collect();
    let want_p = match &want.content {
        Content::Whole { values } => txt::text_of(&values[0])
            .split(';')
            .find_map(|t| t.trim().strip_prefix("p=").map(str::to_owned)),
        _ => None,
    };
    let have_p = tags.iter().find(|(k, _)| k == "p").map(|(_, v)| v.clone());
    if want_p.is_some() && have_p != want_p {
        return row(
            check,
            Status::Fail,
            format!(
                "{record}: policy {}, the blueprint says {}",
                have_p.unwrap_or_default(),
                want_p.unwrap_or_default()
            ),
            Some("run `mailinfra apply`".into()),
        );
    }
    // Reports to another domain need its consent (RFC 7489 §7.1).
    let mut warnings = Vec::new();
    for (_, v) in tags.iter().filter(|(k, _)| k == "rua" || k == "ruf") {
        for uri in v.split(',') {
            let Some(target) = uri
                .trim()
                .strip_prefix("mailto:")
                .and_then(|a| a.split_once('@'))
                .map(|(_, d)| d.to_ascii_lowercase())
            else {
                continue;
            };
            if crate::mail::names::is_within(&target, domain)
                || crate::mail::names::is_within(domain, &target)
            {
                continue;
            }
            let auth = format!("{domain}._report._dmarc.{target}");
            match dns.txt(&auth).await {
                Answer::Found(t) if t.iter().any(|x| x.starts_with("v=DMARC1")) => {}
                _ => warnings.push(format!(
                    "{target} has not authorized reports for {domain} ({auth})"
                )),
            }
        }
    }
    if !unknown.is_empty() {
        warnings.push(format!("unknown tags {}", unknown.join(", ")));
    }
    if warnings.is_empty() {
        row(check, Status::Pass, record, None)
    } else {
        row(check, Status::Warn, format!("{record}: {}", warnings.join("; ")), Some("publish the authorization TXT `v=DMARC1` at the receiving domain, or report to your own domain".into()))
    }
}

async fn mail_from_row(dns: &Dns, want: &DesiredRecord) -> Row {
    let check = format!("mail-from {}", want.name);
    let Content::Whole { values } = &want.content else {
        return row(check, Status::CouldNotCheck, "", None);
    };
    let host = values[0]
        .split_whitespace()
        .last()
        .unwrap_or_default()
        .trim_end_matches('.')
        .to_ascii_lowercase();
    let mx_ok = match dns.mx(&want.name).await {
        Answer::Found(v) => v.iter().any(|(_, h)| *h == host),
        Answer::NoRecords => false,
        Answer::Failed(why) => return failed(&check, &why),
    };
    let spf_ok = match dns.txt(&want.name).await {
        Answer::Found(t) => spf::records(&t)
            .iter()
            .any(|r| r.contains("include:amazonses.com")),
        _ => false,
    };
    match (mx_ok, spf_ok) {
        (true, true) => row(
            check,
            Status::Pass,
            format!("MX {host}, SPF include:amazonses.com"),
            None,
        ),
        _ => row(
            check,
            Status::Fail,
            format!(
                "{}{}",
                if mx_ok { "" } else { "MX missing or wrong; " },
                if spf_ok {
                    ""
                } else {
                    "SPF without include:amazonses.com"
                }
            ),
            Some("run `mailinfra apply`".into()),
        ),
    }
}

async fn gateway_rows(dns: &Dns, hostname: &str, ip: IpAddr) -> [Row; 2] {
    let a = match dns.a(hostname).await {
        Answer::Found(v) if v.iter().any(|a| IpAddr::V4(*a) == ip) => {
            row(format!("a {hostname}"), Status::Pass, ip.to_string(), None)
        }
        Answer::Found(v) => row(
            format!("a {hostname}"),
            Status::Fail,
            format!(
                "{} (the gateway's Elastic IP is {ip})",
                v.iter()
                    .map(|a| a.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Some("run `mailinfra apply` to point the A record at the Elastic IP".into()),
        ),
        Answer::NoRecords => row(
            format!("a {hostname}"),
            Status::Fail,
            "no A record",
            Some("run `mailinfra apply`".into()),
        ),
        Answer::Failed(why) => failed(&format!("a {hostname}"), &why),
    };
    let ptr = match dns.ptr(ip).await {
        Answer::Found(v) if v.iter().any(|p| p == hostname) => row(format!("ptr {ip}"), Status::Pass, hostname, None),
        Answer::Found(v) => row(
            format!("ptr {ip}"),
            Status::Fail,
            format!("{} (should be {hostname}: receivers want forward-confirmed reverse DNS)", v.join(", ")),
            Some("run `mailinfra apply` (it sets the Elastic IP's reverse DNS); `mailinfra status` shows a pending update".into()),
        ),
        Answer::NoRecords => row(format!("ptr {ip}"), Status::Fail, "no reverse DNS", Some("run `mailinfra apply`; `mailinfra status` shows a pending update".into())),
        Answer::Failed(why) => failed(&format!("ptr {ip}"), &why),
    };
    [a, ptr]
}

/// A DNSBL answers 127.0.0.x for a listed address; Spamhaus answers 127.255.255.x when it
/// refuses the query (public resolver, over the limit): that is "could not check", never
/// "listed" or "clean".
async fn dnsbl_row(dns: &Dns, zone: &str, ip: IpAddr) -> Row {
    let check = format!("dnsbl {zone}");
    let IpAddr::V4(v4) = ip else {
        return row(check, Status::CouldNotCheck, "IPv6", None);
    };
    let o = v4.octets();
    let name = format!("{}.{}.{}.{}.{zone}", o[3], o[2], o[1], o[0]);
    match dns.a(&name).await {
        Answer::NoRecords => row(check, Status::Pass, format!("{ip} is not listed"), None),
        Answer::Found(codes) => {
            let text: Vec<String> = codes.iter().map(|c| c.to_string()).collect();
            if codes.iter().all(|c| c.octets()[..3] == [127, 255, 255]) {
                row(
                    check,
                    Status::CouldNotCheck,
                    format!("the list refused the query ({})", text.join(", ")),
                    Some("query through your own resolver (--resolver), not a public one, or within the list's limits".into()),
                )
            } else {
                row(
                    check,
                    Status::Fail,
                    format!("{ip} is listed ({})", text.join(", ")),
                    Some(format!(
                        "request removal at the list's site ({zone}); AWS's Elastic IP removal form covers EC2 addresses"
                    )),
                )
            }
        }
        Answer::Failed(why) => failed(&check, &why),
    }
}
