//! What each check found, as data, and the one place that turns a finding into a row's
//! status, its `found` text and its fix ([`Finding::verdict`]). The checks in `mod.rs` look
//! records up and say what they found; no decision reads a message back.

use std::net::{IpAddr, Ipv4Addr};

use super::Status;
use super::spf::{Evaluation, Qualifier, SpfResult};
use crate::mail::dkim;

/// The usual fix: publish what the blueprint wants.
const APPLY: &str = "run `mailinfra apply`";

/// What a check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// The lookup got no answer (timeout, SERVFAIL, REFUSED): never read as "absent".
    NoAnswer(String),
    /// What the blueprint wants here is known only once `apply` has run (the sentence says
    /// what).
    NotKnownYet(&'static str),
    /// The resolver has no such record.
    Absent(Record),
    /// The resolver's answer does not pass the row, the zone's own name servers' answer
    /// does: a change still propagating. `finding` is what the resolver's answer gave.
    Propagating {
        finding: Box<Finding>,
        resolver: String,
    },
    Spf(Spf),
    Dkim(Dkim),
    Dmarc(Dmarc),
    MailFrom {
        /// The MX host SES expects.
        host: String,
        mx: MailFromMx,
        spf: MailFromSpf,
    },
    Gateway(Gateway),
    Dnsbl(Dnsbl),
}

/// A record a check looks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Record {
    Spf,
    DkimCname,
    DkimTxt,
    Dmarc,
    A,
    /// The Elastic IP's reverse DNS, which lives in AWS's zone, not the blueprint's.
    Ptr,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Spf {
    /// Several `v=spf1` records: a permanent error for receivers (RFC 7208 §4.5).
    Several(usize),
    /// Exactly one, evaluated as a receiver does (RFC 7208 `check_host()`).
    One {
        record: String,
        /// The gateway's address and its result, when the gateway sends for the domain.
        gateway: Option<(IpAddr, Evaluation)>,
        /// The result for an address nobody authorized ([`super::PROBE`]): what mail from
        /// anyone else gets.
        other: Evaluation,
        /// The blueprint's `all` qualifier.
        want_all: Option<Qualifier>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dkim {
    /// The SES Easy DKIM CNAME points where SES expects.
    Cname(String),
    OtherCname {
        found: Vec<String>,
        want: String,
    },
    /// A TXT record without a `p=` key.
    NoKey,
    /// Several records at the selector: verifiers pick one (RFC 6376 §3.6.2.2).
    Several(usize),
    /// `v=` other than `DKIM1`: verifiers discard the record (RFC 6376 §3.6.1).
    OtherVersion(String),
    /// An empty `p=`: the key is revoked (RFC 6376 §3.6.1).
    Revoked,
    /// `h=` without sha256: verifiers refuse rsa-sha256 signatures (RFC 6376 §3.6.1).
    NoSha256(String),
    /// A key, but not the one the signer uses.
    OtherKey,
    /// An RSA key of `bits` bits; `compared` when the blueprint's key is known and matched it
    /// (an SES key the blueprint does not hold cannot be compared).
    Key {
        bits: usize,
        compared: bool,
        /// `t=y`: the domain is testing DKIM.
        testing: bool,
    },
    /// A `p=` value that is no RSA public key.
    BadKey(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dmarc {
    Several(usize),
    /// Not a record receivers can use (RFC 9989 grammar): they apply no DMARC policy.
    Invalid {
        record: String,
        why: String,
    },
    /// Tags the blueprint sets with other values.
    Drift {
        record: String,
        drift: Vec<DmarcDrift>,
    },
    /// Exactly one record with every tag the blueprint sets; it passes when every report
    /// address is authorized and receivers ignore no tag.
    One {
        record: String,
        unauthorized: Vec<ReportTarget>,
        /// Tags receivers ignore (`pct`, `rf`, `ri`, unknown ones), each with why.
        ignored: Vec<String>,
    },
}

/// A tag the blueprint sets, published with another value (or not at all).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DmarcDrift {
    pub tag: String,
    pub found: Option<String>,
    pub want: String,
}

/// A report address on another domain that has not published its consent (RFC 7489 §7.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportTarget {
    /// The receiving domain.
    pub target: String,
    /// The domain whose reports it would receive.
    pub domain: String,
    /// The authorization record it lacks, `<domain>._report._dmarc.<target>`.
    pub record: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailFromMx {
    Right,
    Absent,
    Other(Vec<String>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailFromSpf {
    Right,
    Absent,
    WithoutAmazonSes,
    /// Several SPF records, or one that does not parse: a permerror at receivers.
    Broken(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gateway {
    /// The hostname's A record holds the Elastic IP.
    Address(IpAddr),
    OtherAddress {
        found: Vec<Ipv4Addr>,
        eip: IpAddr,
    },
    /// The Elastic IP's reverse DNS names the hostname.
    ReverseName(String),
    OtherReverseName {
        found: Vec<String>,
        hostname: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dnsbl {
    NotListed(IpAddr),
    Listed {
        ip: IpAddr,
        codes: Vec<Ipv4Addr>,
        zone: String,
    },
    /// The list answered with its own error codes (Spamhaus 127.255.255.x: a public
    /// resolver, or over the limit): neither listed nor clean.
    Refused(Vec<Ipv4Addr>),
    /// Codes that are not the list's "listed" codes: outside 127.0.0.0/8 (a resolver that
    /// rewrites NXDOMAIN, or a list that is gone) or undocumented.
    Unexpected(Vec<Ipv4Addr>),
    /// The list lists 127.0.0.1, which RFC 5782 §5 says it must not: it answers for every
    /// address (a list that was shut down does this), so its answer says nothing.
    ListsEverything(Vec<Ipv4Addr>),
    /// Only IPv4 addresses are looked up.
    Ipv6 {
        zone: String,
    },
}

/// A row's status, what it found and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub status: Status,
    pub found: String,
    /// One line, for every verdict that does not pass.
    pub fix: Option<String>,
}

fn verdict(status: Status, found: impl Into<String>, fix: Option<&str>) -> Verdict {
    Verdict {
        status,
        found: found.into(),
        fix: fix.map(str::to_owned),
    }
}

fn pass(found: impl Into<String>) -> Verdict {
    verdict(Status::Pass, found, None)
}

fn fail(found: impl Into<String>, fix: &str) -> Verdict {
    verdict(Status::Fail, found, Some(fix))
}

fn joined<T: ToString>(items: &[T]) -> String {
    items
        .iter()
        .map(T::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

impl Finding {
    /// The row's status, what it found and its fix.
    pub fn verdict(&self) -> Verdict {
        match self {
            Finding::NoAnswer(why) => verdict(
                Status::CouldNotCheck,
                why.as_str(),
                Some("check the resolver (--resolver) and try again"),
            ),
            Finding::NotKnownYet(what) => verdict(Status::CouldNotCheck, *what, Some(APPLY)),
            Finding::Absent(record) => absent(*record),
            Finding::Propagating { finding, resolver } => verdict(
                Status::Warn,
                format!(
                    "{} at {resolver}, but the zone's own name servers already answer what passes: still propagating",
                    finding.verdict().found
                ),
                Some(
                    "nothing to change: resolvers pick it up once their cached answer expires (its TTL)",
                ),
            ),
            Finding::Spf(f) => f.verdict(),
            Finding::Dkim(f) => f.verdict(),
            Finding::Dmarc(f) => f.verdict(),
            Finding::MailFrom { host, mx, spf } => mail_from(host, mx, spf),
            Finding::Gateway(f) => f.verdict(),
            Finding::Dnsbl(f) => f.verdict(),
        }
    }
}

fn absent(record: Record) -> Verdict {
    match record {
        Record::Spf => fail("no SPF record", APPLY),
        Record::DkimCname => fail("no CNAME", APPLY),
        Record::DkimTxt => fail("no DKIM record", APPLY),
        Record::Dmarc => fail("no DMARC record", "run `mailinfra apply` (at least p=none)"),
        Record::A => fail("no A record", APPLY),
        Record::Ptr => fail(
            "no reverse DNS",
            "run `mailinfra apply`; `mailinfra status` shows a pending update",
        ),
    }
}

impl Spf {
    fn verdict(&self) -> Verdict {
        let (record, gateway, other, want_all) = match self {
            Spf::Several(n) => {
                return fail(
                    format!("{n} SPF records: receivers treat that as a permanent error"),
                    "delete all but one (RFC 7208 §4.5)",
                );
            }
            Spf::One {
                record,
                gateway,
                other,
                want_all,
            } => (record, gateway, other, want_all),
        };
        let mut results = Vec::new();
        if let Some((ip, e)) = gateway {
            results.push(format!("{ip}: {}", result_text(e)));
        }
        results.push(format!("other addresses: {}", result_text(other)));
        let found = format!(
            "{record} ({} lookups); {}",
            other.lookups,
            results.join("; ")
        );
        let evaluations = gateway.iter().map(|(_, e)| e).chain([other]);
        if evaluations
            .clone()
            .any(|e| e.result == SpfResult::PermError)
        {
            return fail(
                found,
                "fix the record (RFC 7208): a permerror fails SPF for every sender, and DMARC with it",
            );
        }
        if evaluations
            .clone()
            .any(|e| e.result == SpfResult::TempError)
        {
            return verdict(
                Status::CouldNotCheck,
                found,
                Some(
                    "a DNS lookup failed (temperror: receivers defer the mail); check the resolver and the names the record uses, then try again",
                ),
            );
        }
        if let Some((_, e)) = gateway
            && e.result != SpfResult::Pass
        {
            return fail(
                format!("{found}: the gateway's mail does not pass SPF"),
                "run `mailinfra apply`: the gateway's `ip4:` must come before any `all`, with no `-`, `~` or `?` in front",
            );
        }
        if other.result == SpfResult::Pass {
            return fail(
                format!("{found}: any address passes, so anyone can send as this domain"),
                "remove `+all` and any range that covers the internet (run `mailinfra apply`)",
            );
        }
        if let Some(want) = want_all
            && other.result != want.result()
        {
            return verdict(
                Status::Warn,
                format!(
                    "{found}: the blueprint says {}all (other addresses: {})",
                    want.symbol(),
                    want.result().name()
                ),
                Some(APPLY),
            );
        }
        pass(found)
    }
}

/// An SPF result as `found` says it: the result's name, and for an error what caused it.
fn result_text(e: &Evaluation) -> String {
    match &e.why {
        Some(why) => format!("{} ({why})", e.result.name()),
        None => e.result.name().to_owned(),
    }
}

impl Dkim {
    fn verdict(&self) -> Verdict {
        match self {
            Dkim::Cname(target) => pass(format!("CNAME {target}")),
            Dkim::OtherCname { found, want } => fail(
                format!("CNAME {}, SES expects {want}", found.join(", ")),
                APPLY,
            ),
            Dkim::NoKey => fail("no `p=` key in the record", APPLY),
            Dkim::Several(n) => fail(
                format!(
                    "{n} records at the selector: verifiers pick one (RFC 6376 §3.6.2.2), so signatures fail at random"
                ),
                "keep only the signer's key record (run `mailinfra apply`)",
            ),
            Dkim::OtherVersion(v) => fail(
                format!(
                    "v={v}: verifiers discard a key record that is not v=DKIM1 (RFC 6376 §3.6.1)"
                ),
                APPLY,
            ),
            Dkim::Revoked => fail(
                "an empty `p=`: the key is revoked, every signature with it fails (RFC 6376 §3.6.1)",
                "run `mailinfra apply` to publish the signing key",
            ),
            Dkim::NoSha256(h) => fail(
                format!(
                    "h={h}: the record refuses sha256, so verifiers fail rsa-sha256 signatures (RFC 6376 §3.6.1)"
                ),
                APPLY,
            ),
            Dkim::OtherKey => fail(
                "the published key does not match the signing key",
                "run `mailinfra apply` to publish the key the signer uses",
            ),
            Dkim::Key { bits, .. } if *bits < dkim::MIN_RSA_BITS => fail(
                format!("RSA {bits} bits: receivers refuse it"),
                "generate a 2048-bit key",
            ),
            Dkim::Key { bits, .. } if *bits < 2048 => verdict(
                Status::Warn,
                format!("RSA {bits} bits"),
                Some("move to a 2048-bit key"),
            ),
            Dkim::Key {
                bits,
                testing: true,
                ..
            } => verdict(
                Status::Warn,
                format!(
                    "RSA {bits} bits, t=y: the domain says it is testing DKIM; verifiers may treat its signed mail as unsigned (RFC 6376 §3.6.1)"
                ),
                Some("drop `t=y` once signing works (run `mailinfra apply`)"),
            ),
            Dkim::Key {
                bits,
                compared: true,
                ..
            } => pass(format!("RSA {bits} bits, matches the signing key")),
            Dkim::Key {
                bits,
                compared: false,
                ..
            } => pass(format!("RSA {bits} bits")),
            Dkim::BadKey(why) => fail(format!("the key {why}"), APPLY),
        }
    }
}

impl Dmarc {
    fn verdict(&self) -> Verdict {
        match self {
            Dmarc::Several(n) => fail(
                format!("{n} DMARC records: receivers apply no policy (RFC 9989 §4.10)"),
                "keep exactly one",
            ),
            Dmarc::Invalid { record, why } => fail(
                format!("{record}: {why}; receivers ignore the record and apply no policy"),
                "run `mailinfra apply` to publish the blueprint's record",
            ),
            Dmarc::Drift { record, drift } => {
                let text: Vec<String> = drift
                    .iter()
                    .map(|d| match &d.found {
                        Some(f) => {
                            format!("{}={f}, the blueprint says {}={}", d.tag, d.tag, d.want)
                        }
                        None => format!("no {}, the blueprint says {}={}", d.tag, d.tag, d.want),
                    })
                    .collect();
                fail(format!("{record}: {}", text.join("; ")), APPLY)
            }
            Dmarc::One {
                record,
                unauthorized,
                ignored,
            } => {
                let mut warnings: Vec<String> = unauthorized
                    .iter()
                    .map(|t| {
                        format!(
                            "{} has not authorized reports for {} ({}): receivers send it none",
                            t.target, t.domain, t.record
                        )
                    })
                    .collect();
                if !ignored.is_empty() {
                    warnings.push(format!("receivers ignore {}", ignored.join(", ")));
                }
                let fix = if !unauthorized.is_empty() {
                    "publish the authorization TXT `v=DMARC1` at the receiving domain, or report to your own domain"
                } else {
                    "run `mailinfra apply` to publish the blueprint's record"
                };
                if warnings.is_empty() {
                    pass(record.as_str())
                } else {
                    verdict(
                        Status::Warn,
                        format!("{record}: {}", warnings.join("; ")),
                        Some(fix),
                    )
                }
            }
        }
    }
}

fn mail_from(host: &str, mx: &MailFromMx, spf: &MailFromSpf) -> Verdict {
    if (mx, spf) == (&MailFromMx::Right, &MailFromSpf::Right) {
        return pass(format!("MX {host}, SPF include:amazonses.com"));
    }
    let mut problems = Vec::new();
    match mx {
        MailFromMx::Right => {}
        MailFromMx::Absent => problems.push("no MX".to_owned()),
        MailFromMx::Other(found) => {
            problems.push(format!("MX {}, SES expects {host}", found.join(", ")));
        }
    }
    match spf {
        MailFromSpf::Right => {}
        MailFromSpf::Absent => problems.push("no SPF record".to_owned()),
        MailFromSpf::WithoutAmazonSes => {
            problems.push("SPF without include:amazonses.com".to_owned());
        }
        MailFromSpf::Broken(why) => {
            problems.push(format!("SPF permerror: {why}"));
        }
    }
    fail(problems.join("; "), APPLY)
}

impl Gateway {
    fn verdict(&self) -> Verdict {
        match self {
            Gateway::Address(ip) => pass(ip.to_string()),
            Gateway::OtherAddress { found, eip } => fail(
                format!("{} (the gateway's Elastic IP is {eip})", joined(found)),
                "run `mailinfra apply` to point the A record at the Elastic IP",
            ),
            Gateway::ReverseName(hostname) => pass(hostname.as_str()),
            Gateway::OtherReverseName { found, hostname } => fail(
                format!(
                    "{} (should be {hostname}: receivers want forward-confirmed reverse DNS)",
                    found.join(", ")
                ),
                "run `mailinfra apply` (it sets the Elastic IP's reverse DNS); `mailinfra status` shows a pending update",
            ),
        }
    }
}

impl Dnsbl {
    fn verdict(&self) -> Verdict {
        match self {
            Dnsbl::NotListed(ip) => pass(format!("{ip} is not listed")),
            Dnsbl::Listed { ip, codes, zone } => Verdict {
                status: Status::Fail,
                found: format!("{ip} is listed ({})", joined(codes)),
                fix: Some(format!(
                    "request removal at the list's site ({zone}); AWS's Elastic IP removal form covers EC2 addresses"
                )),
            },
            Dnsbl::Refused(codes) => verdict(
                Status::CouldNotCheck,
                format!("the list refused the query ({})", joined(codes)),
                Some(
                    "query through your own resolver (--resolver), not a public one, or within the list's limits",
                ),
            ),
            Dnsbl::Unexpected(codes) => verdict(
                Status::CouldNotCheck,
                format!(
                    "the answer ({}) is not one of the list's \"listed\" codes: a resolver that rewrites NXDOMAIN, or a list that is gone",
                    joined(codes)
                ),
                Some("query through a resolver that returns NXDOMAIN unchanged, or drop the list"),
            ),
            Dnsbl::ListsEverything(codes) => verdict(
                Status::CouldNotCheck,
                format!(
                    "the list answers {} for 127.0.0.1, its test entry that must not be listed (RFC 5782 §5): it answers for every address",
                    joined(codes)
                ),
                Some("drop the list (--dnsbl): it is broken or shut down"),
            ),
            Dnsbl::Ipv6 { zone } => Verdict {
                status: Status::CouldNotCheck,
                found: "IPv6 addresses are not looked up".into(),
                fix: Some(format!("look the address up at the list's site ({zone})")),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip() -> IpAddr {
        "192.0.2.7".parse().unwrap()
    }

    fn evaluation(result: SpfResult) -> Evaluation {
        Evaluation {
            result,
            why: matches!(result, SpfResult::PermError | SpfResult::TempError)
                .then(|| "`x.test`: the resolver answered SERVFAIL".to_owned()),
            lookups: 1,
            voids: 0,
        }
    }

    /// The row for the gateway's result and every other address's.
    fn spf_with(gateway: SpfResult, other: SpfResult) -> Finding {
        Finding::Spf(Spf::One {
            record: "v=spf1 ip4:192.0.2.7 -all".into(),
            gateway: Some((ip(), evaluation(gateway))),
            other: evaluation(other),
            want_all: Some(Qualifier::Fail),
        })
    }

    /// One finding of every kind.
    fn every_kind() -> Vec<Finding> {
        let mut all = vec![
            Finding::NoAnswer("the resolver answered SERVFAIL".into()),
            Finding::NotKnownYet("the identity's tokens are not known yet"),
            Finding::Spf(Spf::Several(2)),
            spf_with(SpfResult::Pass, SpfResult::Fail),
            spf_with(SpfResult::Pass, SpfResult::PermError),
            spf_with(SpfResult::TempError, SpfResult::Fail),
            spf_with(SpfResult::SoftFail, SpfResult::Fail),
            spf_with(SpfResult::Pass, SpfResult::Pass),
            spf_with(SpfResult::Pass, SpfResult::SoftFail),
            Finding::Dkim(Dkim::Cname("t.dkim.amazonses.com".into())),
            Finding::Dkim(Dkim::OtherCname {
                found: vec!["x.example".into()],
                want: "t.dkim.amazonses.com".into(),
            }),
            Finding::Dkim(Dkim::NoKey),
            Finding::Dkim(Dkim::OtherKey),
            Finding::Dkim(Dkim::BadKey("is not base64".into())),
            Finding::Dmarc(Dmarc::Several(2)),
            Finding::Dmarc(Dmarc::Invalid {
                record: "v=DMARC1; p=block".into(),
                why: "`p=block`: the value must be one of none, quarantine, reject".into(),
            }),
            Finding::Dmarc(Dmarc::Drift {
                record: "v=DMARC1; p=none".into(),
                drift: vec![DmarcDrift {
                    tag: "p".into(),
                    found: Some("none".into()),
                    want: "reject".into(),
                }],
            }),
            Finding::Dmarc(Dmarc::One {
                record: "v=DMARC1; p=none; foo=1".into(),
                unauthorized: vec![],
                ignored: vec!["foo (unknown: receivers ignore it)".into()],
            }),
            Finding::Gateway(Gateway::Address(ip())),
            Finding::Gateway(Gateway::OtherAddress {
                found: vec!["192.0.2.99".parse().unwrap()],
                eip: ip(),
            }),
            Finding::Gateway(Gateway::ReverseName("mail.example.com".into())),
            Finding::Gateway(Gateway::OtherReverseName {
                found: vec!["other.example.net".into()],
                hostname: "mail.example.com".into(),
            }),
            Finding::Dnsbl(Dnsbl::NotListed(ip())),
            Finding::Dnsbl(Dnsbl::Listed {
                ip: ip(),
                codes: vec!["127.0.0.2".parse().unwrap()],
                zone: "dnsbl.test".into(),
            }),
            Finding::Dnsbl(Dnsbl::Refused(vec!["127.255.255.254".parse().unwrap()])),
            Finding::Dnsbl(Dnsbl::Unexpected(vec!["10.0.0.1".parse().unwrap()])),
            Finding::Dnsbl(Dnsbl::ListsEverything(vec!["127.0.0.2".parse().unwrap()])),
            Finding::Dnsbl(Dnsbl::Ipv6 {
                zone: "dnsbl.test".into(),
            }),
        ];
        for record in [
            Record::Spf,
            Record::DkimCname,
            Record::DkimTxt,
            Record::Dmarc,
            Record::A,
            Record::Ptr,
        ] {
            all.push(Finding::Absent(record));
        }
        for bits in [512, 1024, 2048] {
            for compared in [true, false] {
                for testing in [true, false] {
                    all.push(Finding::Dkim(Dkim::Key {
                        bits,
                        compared,
                        testing,
                    }));
                }
            }
        }
        all.extend([
            Finding::Dkim(Dkim::Several(2)),
            Finding::Dkim(Dkim::OtherVersion("DKIM2".into())),
            Finding::Dkim(Dkim::Revoked),
            Finding::Dkim(Dkim::NoSha256("sha1".into())),
        ]);
        for mx in [
            MailFromMx::Right,
            MailFromMx::Absent,
            MailFromMx::Other(vec!["mx.example".into()]),
        ] {
            for spf in [
                MailFromSpf::Right,
                MailFromSpf::Absent,
                MailFromSpf::WithoutAmazonSes,
                MailFromSpf::Broken("2 SPF records".into()),
            ] {
                all.push(Finding::MailFrom {
                    host: "feedback-smtp.eu-west-1.amazonses.com".into(),
                    mx: mx.clone(),
                    spf,
                });
            }
        }
        all
    }

    #[test]
    fn every_row_that_does_not_pass_says_what_it_found_and_what_to_do() {
        for f in every_kind() {
            let v = f.verdict();
            assert!(!v.found.is_empty(), "{f:?}");
            assert!(!v.found.ends_with("; "), "{f:?}: {}", v.found);
            assert_eq!(v.fix.is_none(), v.status == Status::Pass, "{f:?}: {v:?}");
        }
    }

    #[test]
    fn spf_fails_on_errors_an_unauthorized_gateway_and_an_open_record_and_warns_on_another_all() {
        use SpfResult::*;
        for (gateway, other, status, words) in [
            (
                Pass,
                Fail,
                Status::Pass,
                "192.0.2.7: pass; other addresses: fail",
            ),
            (
                Pass,
                PermError,
                Status::Fail,
                "other addresses: permerror (`x.test`",
            ),
            (
                TempError,
                Fail,
                Status::CouldNotCheck,
                "192.0.2.7: temperror",
            ),
            (
                SoftFail,
                Fail,
                Status::Fail,
                "the gateway's mail does not pass SPF",
            ),
            (
                Neutral,
                Fail,
                Status::Fail,
                "the gateway's mail does not pass SPF",
            ),
            (Pass, Pass, Status::Fail, "anyone can send as this domain"),
            (
                Pass,
                SoftFail,
                Status::Warn,
                "the blueprint says -all (other addresses: fail)",
            ),
        ] {
            let v = spf_with(gateway, other).verdict();
            assert_eq!(v.status, status, "{gateway:?} {other:?}: {v:?}");
            assert!(v.found.contains(words), "{gateway:?} {other:?}: {v:?}");
        }
        assert_eq!(
            spf_with(Pass, Fail).verdict().found,
            "v=spf1 ip4:192.0.2.7 -all (1 lookups); 192.0.2.7: pass; other addresses: fail"
        );
    }

    #[test]
    fn a_propagating_record_warns_with_what_the_resolver_said_and_nothing_to_change() {
        let v = Finding::Propagating {
            finding: Box::new(Finding::Absent(Record::Dmarc)),
            resolver: "127.0.0.1:5353".into(),
        }
        .verdict();
        assert_eq!(v.status, Status::Warn);
        assert!(
            v.found
                .starts_with("no DMARC record at 127.0.0.1:5353, but"),
            "{v:?}"
        );
        assert!(v.found.ends_with("still propagating"), "{v:?}");
        assert!(v.fix.unwrap().starts_with("nothing to change"));
    }

    #[test]
    fn a_dkim_key_is_said_to_match_only_when_it_was_compared() {
        let compared = Finding::Dkim(Dkim::Key {
            bits: 2048,
            compared: true,
            testing: false,
        });
        assert_eq!(
            compared.verdict().found,
            "RSA 2048 bits, matches the signing key"
        );
        let not = Finding::Dkim(Dkim::Key {
            bits: 2048,
            compared: false,
            testing: false,
        });
        assert_eq!(not.verdict(), pass("RSA 2048 bits"));
        let weak = Finding::Dkim(Dkim::Key {
            bits: 1024,
            compared: true,
            testing: false,
        });
        assert_eq!(weak.verdict().status, Status::Warn);
    }

    #[test]
    fn mail_from_names_each_problem_and_the_fix_for_unknown_dmarc_tags_is_apply() {
        let v = Finding::MailFrom {
            host: "feedback-smtp.eu-west-1.amazonses.com".into(),
            mx: MailFromMx::Other(vec!["mx.example".into()]),
            spf: MailFromSpf::Right,
        }
        .verdict();
        assert_eq!(
            v.found,
            "MX mx.example, SES expects feedback-smtp.eu-west-1.amazonses.com"
        );
        let v = Finding::Dmarc(Dmarc::One {
            record: "v=DMARC1; p=none; foo=1".into(),
            unauthorized: vec![],
            ignored: vec!["foo (unknown: receivers ignore it)".into()],
        })
        .verdict();
        assert_eq!(v.status, Status::Warn);
        assert!(v.fix.unwrap().contains("publish the blueprint's record"));
    }
}
