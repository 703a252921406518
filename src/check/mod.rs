//! `mailinfra check`: what a receiving server finds in DNS for the blueprint's domains and
//! sending IP, compared with what the blueprint wants. Expectations come from the same
//! resolved desired state `plan` uses (so the gateway's Elastic IP and DKIM key and SES's
//! DKIM tokens are the ones AWS holds); answers come from real DNS lookups.

pub mod dns;
pub mod finding;
pub mod spf;

use std::net::IpAddr;

use serde::Serialize;

use crate::mail::record::{Purpose, RType};
use crate::mail::{dkim, txt};
use crate::plan::desired::{Content, Desired, DesiredRecord};
use crate::plan::observed::Observed;
use dns::{Answer, Dns};
use finding::{
    Dkim, Dmarc, Dnsbl, Finding, Gateway, MailFromMx, MailFromSpf, Record, ReportTarget, Spf,
    SpfProblem, Verdict,
};

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

impl Row {
    /// The row for what a check found: status, text and fix come from the finding.
    fn new(check: String, finding: &Finding) -> Row {
        let Verdict { status, found, fix } = finding.verdict();
        Row {
            check,
            status,
            found,
            fix,
        }
    }
}

/// A record type `check` asks the zone's own name servers for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    Txt,
    A,
    Cname,
    Mx,
}

/// Where to ask a zone's own name servers, to tell a record that is still propagating
/// from one that is missing.
pub enum Authoritative {
    /// Look the zone's NS records up and ask those servers (port 53).
    FromNs,
    /// Ask this server.
    Server(std::net::SocketAddr),
}

/// Whether the zone's authoritative servers already hold a record that the resolver did not
/// return: a change still propagating (resolvers cache for the record's TTL).
async fn propagating(
    dns: &Dns,
    auth: &Authoritative,
    zone: &str,
    name: &str,
    lookup: Lookup,
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
        let found = match lookup {
            Lookup::Txt => matches!(direct.txt(name).await, Answer::Found(_)),
            Lookup::A => matches!(direct.a(name).await, Answer::Found(_)),
            Lookup::Cname => matches!(direct.cname(name).await, Answer::Found(_)),
            Lookup::Mx => matches!(direct.mx(name).await, Answer::Found(_)),
        };
        if found {
            return true;
        }
    }
    false
}

/// Turns "the resolver has no such record" into "still propagating" when the zone's own
/// servers already have it.
async fn unless_propagating(
    finding: Finding,
    ctx: &Context<'_>,
    zone: &str,
    name: &str,
) -> Finding {
    let Some(lookup) = finding.absent() else {
        return finding;
    };
    if !propagating(ctx.dns, ctx.authoritative, zone, name, lookup, ctx.timeout).await {
        return finding;
    }
    Finding::Propagating {
        finding: Box::new(finding),
        resolver: ctx.dns.server.clone(),
    }
}

/// What every check needs besides its record.
pub struct Context<'a> {
    pub dns: &'a Dns,
    pub authoritative: &'a Authoritative,
    pub timeout: std::time::Duration,
}

/// Which check a desired record gets, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Checked {
    Spf,
    /// SES Easy DKIM: a CNAME to SES's key.
    DkimCname,
    /// A published key: the gateway's, the blueprint's, or SES BYODKIM.
    DkimTxt,
    Dmarc,
    /// The MAIL FROM subdomain's MX (its SPF is checked with it).
    MailFrom,
}

/// Which row checks a record the blueprint publishes for `domain`.
fn checked(domain: &str, r: &DesiredRecord) -> Option<Checked> {
    match r.purpose {
        Purpose::Spf if r.name == domain => Some(Checked::Spf),
        p if p.is_dkim() => Some(if r.rtype == RType::Cname {
            Checked::DkimCname
        } else {
            Checked::DkimTxt
        }),
        Purpose::MailFromMx => Some(Checked::MailFrom),
        Purpose::Dmarc if r.name == format!("_dmarc.{domain}") => Some(Checked::Dmarc),
        _ => None,
    }
}

/// Runs every check. `desired` is the plan's resolved desired state.
pub async fn run(
    ctx: &Context<'_>,
    desired: &Desired,
    observed: &Observed,
    dnsbls: &[String],
) -> Vec<Row> {
    let mut rows = Vec::new();
    let eip: Option<IpAddr> = observed
        .gateway
        .as_ref()
        .and_then(|g| g.eip())
        .and_then(|e| e.public_ip.parse().ok());
    for domain in &desired.domains {
        rows.extend(domain_rows(ctx, desired, domain, eip).await);
    }
    if let (Some(g), Some(ip)) = (&desired.gateway, eip) {
        rows.extend(gateway_rows(ctx, g, ip, dnsbls).await);
    }
    rows
}

/// The records the blueprint publishes for `domain` that a row checks. A record belongs to
/// the longest blueprint domain that contains it.
fn checked_records<'d>(desired: &'d Desired, domain: &str) -> Vec<(Checked, &'d DesiredRecord)> {
    let owner = |name: &str| {
        desired
            .domains
            .iter()
            .filter(|d| crate::mail::names::is_within(name, d))
            .max_by_key(|d| d.len())
    };
    desired
        .records
        .iter()
        .filter(|r| owner(&r.name).map(String::as_str) == Some(domain))
        .filter_map(|r| checked(domain, r).map(|c| (c, r)))
        .collect()
}

/// One domain's rows: SPF, each DKIM key, DMARC, each MAIL FROM subdomain, in that order.
async fn domain_rows(
    ctx: &Context<'_>,
    desired: &Desired,
    domain: &str,
    eip: Option<IpAddr>,
) -> Vec<Row> {
    let dns = ctx.dns;
    let mine = checked_records(desired, domain);
    let of = |kinds: &'static [Checked]| {
        mine.iter()
            .filter(move |(c, _)| kinds.contains(c))
            .map(|(c, r)| (*c, *r))
    };
    let mut rows = Vec::new();
    if let Some((_, r)) = of(&[Checked::Spf]).next() {
        let found = unless_propagating(spf_row(dns, r, eip).await, ctx, &r.zone, &r.name).await;
        rows.push(Row::new(format!("spf {}", r.name), &found));
    }
    for (kind, r) in of(&[Checked::DkimCname, Checked::DkimTxt]) {
        let found = match kind {
            Checked::DkimCname => dkim_cname_row(dns, r).await,
            _ => dkim_txt_row(dns, r).await,
        };
        let found = unless_propagating(found, ctx, &r.zone, &r.name).await;
        rows.push(Row::new(format!("dkim {}", r.name), &found));
    }
    if let Some((_, r)) = of(&[Checked::Dmarc]).next() {
        let found =
            unless_propagating(dmarc_row(dns, domain, r).await, ctx, &r.zone, &r.name).await;
        rows.push(Row::new(format!("dmarc {domain}"), &found));
    }
    for (_, r) in of(&[Checked::MailFrom]) {
        let found = unless_propagating(mail_from_row(dns, r).await, ctx, &r.zone, &r.name).await;
        rows.push(Row::new(format!("mail-from {}", r.name), &found));
    }
    rows
}

/// The gateway's rows: its A record, its reverse DNS, and each blocklist.
async fn gateway_rows(
    ctx: &Context<'_>,
    g: &crate::kinds::gateway::DesiredGateway,
    ip: IpAddr,
    dnsbls: &[String],
) -> Vec<Row> {
    let dns = ctx.dns;
    let a = unless_propagating(
        address_row(dns, &g.hostname, ip).await,
        ctx,
        &g.zone,
        &g.hostname,
    )
    .await;
    let mut rows = vec![Row::new(format!("a {}", g.hostname), &a)];
    let ptr = reverse_dns_row(dns, &g.hostname, ip).await;
    rows.push(Row::new(format!("ptr {ip}"), &ptr));
    for zone in dnsbls {
        rows.push(Row::new(
            format!("dnsbl {zone}"),
            &dnsbl_row(dns, zone, ip).await,
        ));
    }
    rows
}

/// The one TXT record at `name` that `is_kind` picks, or the finding: no answer, `absent`,
/// or `several` with their count.
async fn one_record(
    dns: &Dns,
    name: &str,
    is_kind: impl Fn(&str) -> bool,
    absent: Record,
    several: fn(usize) -> Finding,
) -> Result<String, Finding> {
    let txt = match dns.txt(name).await {
        Answer::Found(t) => t,
        Answer::NoRecords => Vec::new(),
        Answer::Failed(why) => return Err(Finding::NoAnswer(why)),
    };
    let mut records: Vec<String> = txt.into_iter().filter(|t| is_kind(t)).collect();
    match records.len() {
        0 => Err(Finding::Absent(absent)),
        1 => Ok(records.remove(0)),
        n => Err(several(n)),
    }
}

async fn spf_row(dns: &Dns, want: &DesiredRecord, eip: Option<IpAddr>) -> Finding {
    // Before the gateway's address exists, its term reads "(known after apply: ...)".
    let expected = match &want.content {
        Content::Spf { text } => text.clone(),
        Content::SpfFrom { text } => text.to_string(),
        _ => return Finding::NotKnownYet("the SPF record is not known yet"),
    };
    let expected = expected.as_str();
    let is_spf = crate::mail::spf::is_spf;
    let several = |n| Finding::Spf(Spf::Several(n));
    let record = match one_record(dns, &want.name, is_spf, Record::Spf, several).await {
        Ok(r) => r,
        Err(finding) => return finding,
    };
    let e = spf::evaluate(dns, &record).await;
    let mut problems = Vec::new();
    if e.lookups > crate::mail::spf::MAX_LOOKUPS {
        problems.push(SpfProblem::TooManyLookups(e.lookups));
    }
    if e.voids > finding::MAX_VOID_LOOKUPS {
        problems.push(SpfProblem::TooManyVoidLookups(e.voids));
    }
    if let Some(ip) = eip
        && expected.contains(&format!("ip4:{ip}"))
        && !e.authorizes(ip)
    {
        problems.push(SpfProblem::GatewayNotAuthorized(ip));
    }
    let want_all = spf::parse(expected).ok().and_then(|t| {
        t.iter().find_map(|t| match t {
            spf::Term::Mechanism {
                qualifier, name, ..
            } if name == "all" => Some(*qualifier),
            _ => None,
        })
    });
    if let Some(want) = want_all
        && e.all != Some(want)
    {
        problems.push(SpfProblem::OtherAll { found: e.all, want });
    }
    Finding::Spf(Spf::One {
        record,
        lookups: e.lookups,
        problems,
    })
}

fn dkim_p(text: &str) -> Option<String> {
    text.split(';')
        .find_map(|t| t.trim().strip_prefix("p="))
        .map(|p| p.split_whitespace().collect())
}

/// SES Easy DKIM: the CNAME points at SES's key.
async fn dkim_cname_row(dns: &Dns, want: &DesiredRecord) -> Finding {
    let Content::Whole { values } = &want.content else {
        return Finding::NotKnownYet("the identity's tokens are not known yet");
    };
    let target = crate::mail::names::normalize(&values[0]);
    match dns.cname(&want.name).await {
        Answer::Found(v) if v.contains(&target) => Finding::Dkim(Dkim::Cname(target)),
        Answer::Found(found) => Finding::Dkim(Dkim::OtherCname {
            found,
            want: target,
        }),
        Answer::NoRecords => Finding::Absent(Record::DkimCname),
        Answer::Failed(why) => Finding::NoAnswer(why),
    }
}

/// A published key: the signer's, at least 1024 bits.
async fn dkim_txt_row(dns: &Dns, want: &DesiredRecord) -> Finding {
    let expected = match &want.content {
        Content::Whole { values } => dkim_p(&txt::text_of(&values[0])),
        _ => None,
    };
    let txt = match dns.txt(&want.name).await {
        Answer::Found(t) => t,
        Answer::NoRecords => return Finding::Absent(Record::DkimTxt),
        Answer::Failed(why) => return Finding::NoAnswer(why),
    };
    let Some(found) = txt
        .iter()
        .find(|t| t.contains("p="))
        .and_then(|t| dkim_p(t))
    else {
        return Finding::Dkim(Dkim::NoKey);
    };
    if let Some(want_key) = &expected
        && want_key.as_str() != found.as_str()
    {
        return Finding::Dkim(Dkim::OtherKey);
    }
    Finding::Dkim(match dkim::rsa_key_bits(&found) {
        Ok(bits) => Dkim::Key {
            bits,
            compared: expected.is_some(),
        },
        Err(why) => Dkim::BadKey(why),
    })
}

/// RFC 9989's tag set; `pct`, `rf` and `ri` are gone.
const DMARC_TAGS: &[&str] = &[
    "v", "p", "sp", "np", "adkim", "aspf", "rua", "ruf", "fo", "t", "psd",
];
const DMARC_REMOVED: &[&str] = &["pct", "rf", "ri"];

async fn dmarc_row(dns: &Dns, domain: &str, want: &DesiredRecord) -> Finding {
    let is_dmarc = |t: &str| t.trim_start().starts_with("v=DMARC1");
    let several = |n| Finding::Dmarc(Dmarc::Several(n));
    let record = match one_record(dns, &want.name, is_dmarc, Record::Dmarc, several).await {
        Ok(r) => r,
        Err(finding) => return finding,
    };
    let tags = dmarc_tags(&record);
    let names = || tags.iter().map(|(k, _)| k.as_str());
    let removed: Vec<String> = names()
        .filter(|k| DMARC_REMOVED.contains(k))
        .map(str::to_owned)
        .collect();
    if !removed.is_empty() {
        return Finding::Dmarc(Dmarc::RemovedTags {
            record,
            tags: removed,
        });
    }
    let unknown_tags: Vec<String> = names()
        .filter(|k| !DMARC_TAGS.contains(k))
        .map(str::to_owned)
        .collect();
    if let Some((found, want)) = other_policy(want, &tags) {
        return Finding::Dmarc(Dmarc::OtherPolicy {
            record,
            found,
            want,
        });
    }
    let unauthorized = unauthorized_reports(dns, domain, &tags).await;
    Finding::Dmarc(Dmarc::One {
        record,
        unauthorized,
        unknown_tags,
    })
}

/// A DMARC record's tags, names lower-cased, values trimmed.
fn dmarc_tags(record: &str) -> Vec<(String, String)> {
    record
        .split(';')
        .filter_map(|t| t.split_once('='))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect()
}

/// The published `p=` and the blueprint's, when they differ.
fn other_policy(
    want: &DesiredRecord,
    tags: &[(String, String)],
) -> Option<(Option<String>, String)> {
    let want_p = match &want.content {
        Content::Whole { values } => txt::text_of(&values[0])
            .split(';')
            .find_map(|t| t.trim().strip_prefix("p=").map(str::to_owned)),
        _ => None,
    }?;
    let have_p = tags.iter().find(|(k, _)| k == "p").map(|(_, v)| v.clone());
    (have_p.as_ref() != Some(&want_p)).then_some((have_p, want_p))
}

/// The `rua`/`ruf` targets outside `domain` that have not published their consent to receive
/// its reports (RFC 7489 §7.1).
async fn unauthorized_reports(
    dns: &Dns,
    domain: &str,
    tags: &[(String, String)],
) -> Vec<ReportTarget> {
    let mut unauthorized = Vec::new();
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
                _ => unauthorized.push(ReportTarget {
                    target,
                    domain: domain.to_owned(),
                    record: auth,
                }),
            }
        }
    }
    unauthorized
}

async fn mail_from_row(dns: &Dns, want: &DesiredRecord) -> Finding {
    let Content::Whole { values } = &want.content else {
        return Finding::NotKnownYet("the MAIL FROM MX is not known yet");
    };
    let host = values[0]
        .split_whitespace()
        .last()
        .unwrap_or_default()
        .trim_end_matches('.')
        .to_ascii_lowercase();
    let mx = match dns.mx(&want.name).await {
        Answer::Found(v) if v.iter().any(|(_, h)| *h == host) => MailFromMx::Right,
        Answer::Found(v) => MailFromMx::Other(v.into_iter().map(|(_, h)| h).collect()),
        Answer::NoRecords => MailFromMx::Absent,
        Answer::Failed(why) => return Finding::NoAnswer(why),
    };
    let spf = match dns.txt(&want.name).await {
        Answer::Found(t) => {
            let records = spf::records(&t);
            if records.iter().any(|r| r.contains("include:amazonses.com")) {
                MailFromSpf::Right
            } else if records.is_empty() {
                MailFromSpf::Absent
            } else {
                MailFromSpf::WithoutAmazonSes
            }
        }
        Answer::NoRecords => MailFromSpf::Absent,
        Answer::Failed(why) => return Finding::NoAnswer(why),
    };
    Finding::MailFrom { host, mx, spf }
}

/// The gateway hostname's A record holds the Elastic IP.
async fn address_row(dns: &Dns, hostname: &str, ip: IpAddr) -> Finding {
    match dns.a(hostname).await {
        Answer::Found(v) if v.iter().any(|a| IpAddr::V4(*a) == ip) => {
            Finding::Gateway(Gateway::Address(ip))
        }
        Answer::Found(found) => Finding::Gateway(Gateway::OtherAddress { found, eip: ip }),
        Answer::NoRecords => Finding::Absent(Record::A),
        Answer::Failed(why) => Finding::NoAnswer(why),
    }
}

/// The Elastic IP's reverse DNS names the gateway (forward-confirmed with the A record).
async fn reverse_dns_row(dns: &Dns, hostname: &str, ip: IpAddr) -> Finding {
    match dns.ptr(ip).await {
        Answer::Found(v) if v.iter().any(|p| p == hostname) => {
            Finding::Gateway(Gateway::ReverseName(hostname.to_owned()))
        }
        Answer::Found(found) => Finding::Gateway(Gateway::OtherReverseName {
            found,
            hostname: hostname.to_owned(),
        }),
        Answer::NoRecords => Finding::Absent(Record::Ptr),
        Answer::Failed(why) => Finding::NoAnswer(why),
    }
}

/// A DNSBL answers 127.0.0.x for a listed address; Spamhaus answers 127.255.255.x when it
/// refuses the query (public resolver, over the limit): that is "could not check", never
/// "listed" or "clean".
async fn dnsbl_row(dns: &Dns, zone: &str, ip: IpAddr) -> Finding {
    let IpAddr::V4(v4) = ip else {
        return Finding::Dnsbl(Dnsbl::Ipv6 {
            zone: zone.to_owned(),
        });
    };
    let o = v4.octets();
    let name = format!("{}.{}.{}.{}.{zone}", o[3], o[2], o[1], o[0]);
    Finding::Dnsbl(match dns.a(&name).await {
        Answer::NoRecords => Dnsbl::NotListed(ip),
        Answer::Found(codes) if codes.iter().all(|c| c.octets()[..3] == [127, 255, 255]) => {
            Dnsbl::Refused(codes)
        }
        Answer::Found(codes) => Dnsbl::Listed {
            ip,
            codes,
            zone: zone.to_owned(),
        },
        Answer::Failed(why) => return Finding::NoAnswer(why),
    })
}
