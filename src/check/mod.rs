//! `mailinfra check`: what a receiving server finds in DNS for the blueprint's domains and
//! sending IP, compared with what the blueprint wants. Expectations come from the same
//! resolved desired state `plan` uses (so the gateway's Elastic IP and DKIM key and SES's
//! DKIM tokens are the ones AWS holds); answers come from real DNS lookups.

pub mod dmarc;
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
    Dkim, Dmarc, DmarcDrift, Dnsbl, Finding, Gateway, MailFromMx, MailFromSpf, Record,
    ReportTarget, Spf, Verdict,
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

/// Where to ask a zone's own name servers, to tell a record that is still propagating
/// from one that is missing or wrong.
pub enum Authoritative {
    /// Look the zone's NS records up and ask those servers (port 53).
    FromNs,
    /// Ask this server.
    Server(std::net::SocketAddr),
}

/// What every check needs besides its record.
pub struct Context<'a> {
    pub dns: &'a Dns,
    pub authoritative: &'a Authoritative,
    /// Longest wait for one DNS answer.
    pub timeout: std::time::Duration,
    /// Longest time for all the rows together; a row still waiting then is could-not-check.
    pub overall: std::time::Duration,
}

/// The address `check` evaluates SPF for besides the gateway's: one no record should
/// authorize (TEST-NET-1, RFC 5737). Its result is what a receiver concludes for mail from
/// anyone else: `permerror` for a broken record, `pass` for one that authorizes the internet.
pub const PROBE: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));

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

/// One row to check: what it looks up, and the zone whose own servers can tell propagation
/// from a real problem.
struct Planned<'d> {
    check: String,
    zone: Option<&'d str>,
    what: What<'d>,
}

/// What a row looks up and compares.
enum What<'d> {
    Spf {
        domain: &'d str,
        want: &'d DesiredRecord,
        eip: Option<IpAddr>,
        helo: String,
    },
    DkimCname(&'d DesiredRecord),
    DkimTxt(&'d DesiredRecord),
    Dmarc {
        domain: &'d str,
        want: &'d DesiredRecord,
    },
    MailFrom(&'d DesiredRecord),
    Address {
        hostname: &'d str,
        ip: IpAddr,
    },
    ReverseDns {
        hostname: &'d str,
        ip: IpAddr,
    },
    Dnsbl {
        zone: &'d str,
        ip: IpAddr,
    },
}

impl What<'_> {
    /// What DNS, as `dns` answers it, holds for this row.
    async fn find(&self, dns: &Dns) -> Finding {
        match self {
            What::Spf {
                domain,
                want,
                eip,
                helo,
            } => spf_row(dns, domain, want, *eip, helo).await,
            What::DkimCname(r) => dkim_cname_row(dns, r).await,
            What::DkimTxt(r) => dkim_txt_row(dns, r).await,
            What::Dmarc { domain, want } => dmarc_row(dns, domain, want).await,
            What::MailFrom(r) => mail_from_row(dns, r).await,
            What::Address { hostname, ip } => address_row(dns, hostname, *ip).await,
            What::ReverseDns { hostname, ip } => reverse_dns_row(dns, hostname, *ip).await,
            What::Dnsbl { zone, ip } => dnsbl_row(dns, zone, *ip).await,
        }
    }
}

/// Runs every check, all at once, each bounded by `ctx.overall`. `desired` is the resolved
/// desired state (the gateway's Elastic IP and key, SES's tokens put in).
pub async fn run(
    ctx: &Context<'_>,
    desired: &Desired,
    observed: &Observed,
    dnsbls: &[String],
) -> Vec<Row> {
    let eip: Option<IpAddr> = observed
        .gateway
        .as_ref()
        .and_then(|g| g.eip())
        .and_then(|e| e.public_ip.parse().ok());
    let helo = desired.gateway.as_ref().map(|g| g.hostname.as_str());
    let mut planned = Vec::new();
    for domain in &desired.domains {
        planned.extend(domain_rows(desired, domain, eip, helo));
    }
    if let (Some(g), Some(ip)) = (&desired.gateway, eip) {
        planned.extend(gateway_rows(g, ip, dnsbls));
    }
    let deadline = tokio::time::Instant::now() + ctx.overall;
    let rows = planned.iter().map(|p| async move {
        let finding = match tokio::time::timeout_at(deadline, settle(ctx, p)).await {
            Ok(f) => f,
            Err(_) => Finding::NoAnswer(format!(
                "no answer within --timeout ({} s)",
                ctx.overall.as_secs()
            )),
        };
        Row::new(p.check.clone(), &finding)
    });
    futures::future::join_all(rows).await
}

/// The row's finding through the resolver; when that does not pass, the same check through
/// the zone's own name servers: if they would pass it, the change is still propagating.
async fn settle(ctx: &Context<'_>, p: &Planned<'_>) -> Finding {
    let found = p.what.find(ctx.dns).await;
    let Some(zone) = p.zone else {
        return found;
    };
    if matches!(found.verdict().status, Status::Pass | Status::CouldNotCheck) {
        return found;
    }
    let servers = authoritative_servers(ctx, zone).await;
    if servers.is_empty() {
        return found;
    }
    let direct = ctx.dns.within(zone, &servers, ctx.timeout);
    if p.what.find(&direct).await.verdict().status != Status::Pass {
        return found;
    }
    Finding::Propagating {
        finding: Box::new(found),
        resolver: ctx.dns.server.clone(),
    }
}

/// The zone's own name servers: `--authoritative`, or its NS records' addresses (port 53).
async fn authoritative_servers(ctx: &Context<'_>, zone: &str) -> Vec<std::net::SocketAddr> {
    match ctx.authoritative {
        Authoritative::Server(s) => vec![*s],
        Authoritative::FromNs => {
            let Answer::Found(hosts) = ctx.dns.ns(zone).await else {
                return Vec::new();
            };
            let mut addrs = Vec::new();
            for h in hosts {
                if let Answer::Found(ips) = ctx.dns.a(&h).await {
                    addrs.extend(
                        ips.into_iter()
                            .map(|ip| std::net::SocketAddr::new(IpAddr::V4(ip), 53)),
                    );
                }
            }
            addrs
        }
    }
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

/// During a DKIM key rotation (the gateway's, an SES identity's), which key a DKIM record
/// is: ` (rotation: next key)`, ` (rotation: signing key)` or ` (rotation: retiring key)`;
/// empty otherwise. Both keys are published then, and each row checks its own.
fn rotation_stage(desired: &Desired, r: &DesiredRecord) -> String {
    let (selector, domain) = r.name.split_once("._domainkey.").unwrap_or_default();
    let stage = match r.purpose {
        Purpose::GatewayDkim => desired
            .gateway
            .as_ref()
            .and_then(|g| g.rotation.as_ref())
            .filter(|rotation| rotation.in_progress())
            .and_then(|rotation| rotation.keys.get(selector).copied()),
        Purpose::SesDkim => desired
            .ses
            .identities
            .iter()
            .find(|id| id.domain == domain)
            .and_then(|id| id.keys.as_ref())
            .filter(|k| k.in_progress())
            .and_then(|k| {
                if k.easy_cnames.contains(&r.name) {
                    Some(crate::kinds::rotation::Stage::Retiring)
                } else {
                    k.keys.get(selector).copied()
                }
            }),
        _ => None,
    };
    stage
        .map(|stage| format!(" (rotation: {} key)", stage.as_str()))
        .unwrap_or_default()
}

/// One domain's rows: SPF, each DKIM key, DMARC, each MAIL FROM subdomain, in that order.
fn domain_rows<'d>(
    desired: &'d Desired,
    domain: &'d str,
    eip: Option<IpAddr>,
    helo: Option<&str>,
) -> Vec<Planned<'d>> {
    let mine = checked_records(desired, domain);
    let of = |kinds: &'static [Checked]| {
        mine.iter()
            .filter(move |(c, _)| kinds.contains(c))
            .map(|(c, r)| (*c, *r))
    };
    let row = |check: String, r: &'d DesiredRecord, what: What<'d>| Planned {
        check,
        zone: Some(r.zone.as_str()),
        what,
    };
    let mut rows = Vec::new();
    if let Some((_, r)) = of(&[Checked::Spf]).next() {
        let what = What::Spf {
            domain,
            want: r,
            eip,
            helo: helo.unwrap_or(domain).to_owned(),
        };
        rows.push(row(format!("spf {}", r.name), r, what));
    }
    for (kind, r) in of(&[Checked::DkimCname, Checked::DkimTxt]) {
        let what = match kind {
            Checked::DkimCname => What::DkimCname(r),
            _ => What::DkimTxt(r),
        };
        rows.push(row(
            format!("dkim {}{}", r.name, rotation_stage(desired, r)),
            r,
            what,
        ));
    }
    if let Some((_, r)) = of(&[Checked::Dmarc]).next() {
        let what = What::Dmarc { domain, want: r };
        rows.push(row(format!("dmarc {domain}"), r, what));
    }
    for (_, r) in of(&[Checked::MailFrom]) {
        rows.push(row(format!("mail-from {}", r.name), r, What::MailFrom(r)));
    }
    rows
}

/// The gateway's rows: its A record, its reverse DNS (AWS's zone, not the blueprint's), and
/// each blocklist.
fn gateway_rows<'d>(
    g: &'d crate::kinds::gateway::DesiredGateway,
    ip: IpAddr,
    dnsbls: &'d [String],
) -> Vec<Planned<'d>> {
    let hostname = g.hostname.as_str();
    let mut rows = vec![
        Planned {
            check: format!("a {hostname}"),
            zone: Some(g.zone.as_str()),
            what: What::Address { hostname, ip },
        },
        Planned {
            check: format!("ptr {ip}"),
            zone: None,
            what: What::ReverseDns { hostname, ip },
        },
    ];
    for zone in dnsbls {
        rows.push(Planned {
            check: format!("dnsbl {zone}"),
            zone: None,
            what: What::Dnsbl { zone, ip },
        });
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

/// The domain's one SPF record, evaluated as a receiver does (RFC 7208 `check_host()`) for
/// the gateway's address, when the gateway sends for the domain, and for [`PROBE`].
async fn spf_row(
    dns: &Dns,
    domain: &str,
    want: &DesiredRecord,
    eip: Option<IpAddr>,
    helo: &str,
) -> Finding {
    // Before the gateway's address exists, its term reads "(known after apply: ...)".
    let expected = match &want.content {
        Content::Spf { text } => text.clone(),
        Content::SpfFrom { text } => text.to_string(),
        _ => return Finding::NotKnownYet("the SPF record is not known yet"),
    };
    let is_spf = crate::mail::spf::is_spf;
    let several = |n| Finding::Spf(Spf::Several(n));
    let record = match one_record(dns, domain, is_spf, Record::Spf, several).await {
        Ok(r) => r,
        Err(finding) => return finding,
    };
    let wanted = spf::parse(&expected).unwrap_or_default();
    // The gateway sends for the domain when the blueprint's record names its address.
    let gateway_sends = |ip: IpAddr| {
        wanted.iter().any(|t| {
            matches!(t, spf::Term::Mechanism { mechanism: spf::Mechanism::Ip(net, _), .. } if *net == ip)
        })
    };
    let sender = format!("postmaster@{domain}");
    let gateway = match eip {
        Some(ip) if gateway_sends(ip) => {
            Some((ip, spf::check_host(dns, ip, domain, &sender, helo).await))
        }
        _ => None,
    };
    let other = spf::check_host(dns, PROBE, domain, &sender, helo).await;
    Finding::Spf(Spf::One {
        record,
        gateway,
        other,
        want_all: spf::all_qualifier(&expected),
    })
}

/// A DKIM key record's tags (RFC 6376 §3.2 tag-list): names lower-cased, values with their
/// whitespace removed (folding whitespace is allowed inside a value such as `p=`).
fn dkim_tags(text: &str) -> Vec<(String, String)> {
    text.split(';')
        .filter_map(|t| t.split_once('='))
        .map(|(k, v)| {
            (
                k.trim().to_ascii_lowercase(),
                v.split_whitespace().collect::<String>(),
            )
        })
        .collect()
}

fn dkim_tag<'t>(tags: &'t [(String, String)], name: &str) -> Option<&'t str> {
    tags.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn dkim_p(text: &str) -> Option<String> {
    dkim_tag(&dkim_tags(text), "p").map(str::to_owned)
}

/// SES Easy DKIM: the CNAME points at SES's key.
async fn dkim_cname_row(dns: &Dns, want: &DesiredRecord) -> Finding {
    let target = match &want.content {
        Content::Whole { values } => crate::mail::names::normalize(&values[0]),
        // A CNAME kept as it is (Easy DKIM's, retiring after a switch to BYODKIM): any target.
        Content::Keep => {
            return match dns.cname(&want.name).await {
                Answer::Found(v) if !v.is_empty() => Finding::Dkim(Dkim::Cname(v[0].clone())),
                Answer::Found(_) | Answer::NoRecords => Finding::Absent(Record::DkimCname),
                Answer::Failed(why) => Finding::NoAnswer(why),
            };
        }
        _ => return Finding::NotKnownYet("the identity's tokens are not known yet"),
    };
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

/// A published key as a verifier reads it (RFC 6376 §3.6.1): one record at the selector,
/// `v=DKIM1` if `v=` is there, a key (an empty `p=` revokes it), `h=` allowing sha256 (what
/// signers use), the signer's key, at least 1024 bits; `t=y` (testing) is flagged.
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
    if txt.len() > 1 {
        return Finding::Dkim(Dkim::Several(txt.len()));
    }
    let tags = dkim_tags(&txt[0]);
    if let Some(v) = dkim_tag(&tags, "v")
        && v != "DKIM1"
    {
        return Finding::Dkim(Dkim::OtherVersion(v.to_owned()));
    }
    let Some(found) = dkim_tag(&tags, "p") else {
        return Finding::Dkim(Dkim::NoKey);
    };
    if found.is_empty() {
        return Finding::Dkim(Dkim::Revoked);
    }
    if let Some(h) = dkim_tag(&tags, "h")
        && !h.split(':').any(|a| a.eq_ignore_ascii_case("sha256"))
    {
        return Finding::Dkim(Dkim::NoSha256(h.to_owned()));
    }
    if let Some(want_key) = &expected
        && want_key.as_str() != found
    {
        return Finding::Dkim(Dkim::OtherKey);
    }
    let testing =
        dkim_tag(&tags, "t").is_some_and(|t| t.split(':').any(|f| f.eq_ignore_ascii_case("y")));
    Finding::Dkim(match dkim::rsa_key_bits(found) {
        Ok(bits) => Dkim::Key {
            bits,
            compared: expected.is_some(),
            testing,
        },
        Err(why) => Dkim::BadKey(why),
    })
}

/// The tags the blueprint's record sets that a published record must hold with the same
/// value (`v` aside).
const DMARC_COMPARED: &[&str] = &[
    "p", "sp", "np", "adkim", "aspf", "rua", "ruf", "fo", "t", "psd",
];

/// The domain's one DMARC record, read per RFC 9989's grammar and compared tag by tag with
/// the blueprint's.
async fn dmarc_row(dns: &Dns, domain: &str, want: &DesiredRecord) -> Finding {
    // A TXT at `_dmarc` is a DMARC record when it starts with `v=DMARC1` (spaces allowed).
    let is_dmarc = |t: &str| {
        t.split(';').next().is_some_and(|v| {
            v.split_once('=')
                .is_some_and(|(k, v)| k.trim().eq_ignore_ascii_case("v") && v.trim() == "DMARC1")
        })
    };
    let several = |n| Finding::Dmarc(Dmarc::Several(n));
    let record = match one_record(dns, &want.name, is_dmarc, Record::Dmarc, several).await {
        Ok(r) => r,
        Err(finding) => return finding,
    };
    let read = match dmarc::parse(&record) {
        Ok(r) => r,
        Err(why) => return Finding::Dmarc(Dmarc::Invalid { record, why }),
    };
    let wanted = match &want.content {
        Content::Whole { values } => dmarc::parse(&txt::text_of(&values[0])).ok(),
        _ => None,
    };
    let drift: Vec<DmarcDrift> = wanted
        .iter()
        .flat_map(|w| {
            DMARC_COMPARED.iter().filter_map(|tag| {
                let want = w.normalized(tag)?;
                let found = read.normalized(tag);
                (found.as_ref() != Some(&want)).then(|| DmarcDrift {
                    tag: (*tag).to_owned(),
                    found,
                    want,
                })
            })
        })
        .collect();
    if !drift.is_empty() {
        return Finding::Dmarc(Dmarc::Drift { record, drift });
    }
    let unauthorized = unauthorized_reports(dns, domain, &read).await;
    Finding::Dmarc(Dmarc::One {
        record,
        unauthorized,
        ignored: read.ignored,
    })
}

/// The `rua`/`ruf` domains outside `domain`'s organizational domain that have not published
/// their consent to receive its reports (RFC 9989 §4.7.1: `<domain>._report._dmarc.<target>`).
async fn unauthorized_reports(
    dns: &Dns,
    domain: &str,
    read: &dmarc::DmarcRecord,
) -> Vec<ReportTarget> {
    let org = dmarc::organizational_domain(domain);
    let mut unauthorized = Vec::new();
    for target in read.report_domains() {
        if dmarc::organizational_domain(&target) == org {
            continue;
        }
        let auth = format!("{domain}._report._dmarc.{target}");
        let authorized = match dns.txt(&auth).await {
            Answer::Found(t) => t.iter().any(|x| {
                x.split(';').next().is_some_and(|v| {
                    v.split_once('=').is_some_and(|(k, v)| {
                        k.trim().eq_ignore_ascii_case("v") && v.trim() == "DMARC1"
                    })
                })
            }),
            _ => false,
        };
        if !authorized {
            unauthorized.push(ReportTarget {
                target,
                domain: domain.to_owned(),
                record: auth,
            });
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
        Answer::Found(t) => mail_from_spf(&spf::records(&t)),
        Answer::NoRecords => MailFromSpf::Absent,
        Answer::Failed(why) => return Finding::NoAnswer(why),
    };
    Finding::MailFrom { host, mx, spf }
}

/// SES's MAIL FROM domain needs exactly one SPF record that parses and has the term
/// `include:amazonses.com` with the `+` qualifier: parsed, so that `-include:amazonses.com`
/// or `include:amazonses.com.example.net` are not taken for it.
fn mail_from_spf(records: &[&String]) -> MailFromSpf {
    let one = match records {
        [] => return MailFromSpf::Absent,
        [one] => one,
        many => return MailFromSpf::Broken(format!("{} SPF records", many.len())),
    };
    let terms = match spf::parse(one) {
        Ok(t) => t,
        Err(why) => return MailFromSpf::Broken(why),
    };
    let includes_ses = terms.iter().any(|t| {
        matches!(t, spf::Term::Mechanism {
            qualifier: spf::Qualifier::Pass,
            mechanism: spf::Mechanism::Include(d),
        } if d.trim_end_matches('.').eq_ignore_ascii_case("amazonses.com"))
    });
    if includes_ses {
        MailFromSpf::Right
    } else {
        MailFromSpf::WithoutAmazonSes
    }
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

/// The codes a blocklist documents as "listed". Spamhaus ZEN: 127.0.0.2-11 (SBL, CSS, XBL,
/// DROP, PBL; www.spamhaus.org/faqs/dnsbl-usage); SpamCop and Barracuda: 127.0.0.2. Any other
/// list: an address in 127.0.0.0/8 (RFC 5782 §2.1) other than 127.0.0.0, 127.0.0.1 and
/// 127.255.255.0/24 (the error codes Spamhaus and others use).
fn listed_code(zone: &str, code: std::net::Ipv4Addr) -> bool {
    let o = code.octets();
    let zone = zone.to_ascii_lowercase();
    if zone.ends_with("spamhaus.org") {
        return o[..3] == [127, 0, 0] && (2..=11).contains(&o[3]);
    }
    if zone == "bl.spamcop.net" || zone == "b.barracudacentral.org" {
        return o == [127, 0, 0, 2];
    }
    o[0] == 127 && o[..3] != [127, 255, 255] && !(o[..3] == [127, 0, 0] && o[3] < 2)
}

/// A DNSBL lookup (RFC 5782). Only the list's "listed" codes mean listed; a list that lists
/// 127.0.0.1 (RFC 5782 §5: it must not) answers for everything, its answers say nothing;
/// 127.255.255.x (Spamhaus: a public resolver or over the limit) is a refusal; anything else
/// is not an answer from the list. Those are "could not check", never "listed" or "clean".
async fn dnsbl_row(dns: &Dns, zone: &str, ip: IpAddr) -> Finding {
    let IpAddr::V4(v4) = ip else {
        return Finding::Dnsbl(Dnsbl::Ipv6 {
            zone: zone.to_owned(),
        });
    };
    let query = |a: std::net::Ipv4Addr| {
        let o = a.octets();
        format!("{}.{}.{}.{}.{zone}", o[3], o[2], o[1], o[0])
    };
    let codes = match dns.a(&query(v4)).await {
        Answer::NoRecords => return Finding::Dnsbl(Dnsbl::NotListed(ip)),
        Answer::Found(codes) => codes,
        Answer::Failed(why) => return Finding::NoAnswer(why),
    };
    if let Answer::Found(test) = dns.a(&query(std::net::Ipv4Addr::LOCALHOST)).await {
        return Finding::Dnsbl(Dnsbl::ListsEverything(test));
    }
    let (listed, other): (Vec<_>, Vec<_>) = codes.into_iter().partition(|c| listed_code(zone, *c));
    Finding::Dnsbl(if !listed.is_empty() {
        Dnsbl::Listed {
            ip,
            codes: listed,
            zone: zone.to_owned(),
        }
    } else if other.iter().all(|c| c.octets()[..3] == [127, 255, 255]) {
        Dnsbl::Refused(other)
    } else {
        Dnsbl::Unexpected(other)
    })
}
