//! The `check` corpus: realistic DNS setups served by an authoritative server with NS and SOA
//! records, as production zones are (tests/dns/server.py), each run through `mailinfra check`
//! and through independent implementations (tests/dns/reference.py): pyspf for SPF results,
//! checkdmarc for DMARC record validity, dkimpy for the DKIM key and a signature made with the
//! gateway's own key. The test fails on any disagreement that a case does not list, with the
//! RFC section that says why mailinfra's verdict is the receiver's.

mod common;

use std::collections::BTreeMap;

use common::Account;
use common::dns::{Reference, serve};
use serde_json::{Value, json};

const BLUEPRINT: &str = "blueprint: relay
region: eu-west-1
gateway:
  hostname: mail.example.com
  relay_from: [10.0.0.0/16]
  dkim: { selector: mta1 }
domains:
  - domain: example.com
    send_via: [gateway]
    spf: { all: fail }
    dmarc: { policy: quarantine, subdomain_policy: reject, rua: [mailto:reports@example.net] }
  - domain: example.org
    send_via: [ses]
    ses: { mail_from: bounce.example.org }
    dmarc: { policy: none }
";

/// The address `check` evaluates SPF for besides the gateway's (check::PROBE).
const PROBE: &str = "192.0.2.1";
/// An address in SES's published SPF ranges (amazonses.com's record below).
const SES_IP: &str = "54.240.0.1";
const SES_SPF: &str = "v=spf1 ip4:199.255.192.0/22 ip4:199.127.232.0/22 ip4:54.240.0.0/18 ip4:69.169.224.0/20 ip4:23.249.208.0/20 ip4:23.251.224.0/19 ip4:76.223.176.0/20 ip4:54.240.64.0/19 ip4:54.240.96.0/19 -all";
/// The zones the server answers for with NS and SOA records.
const ZONES: &[&str] = &[
    "example.com",
    "example.org",
    "example.net",
    "amazonses.com",
    "ext.test",
    "dnsbl.test",
];

/// One setup: what differs from the healthy zones, and what `check` must say.
struct Case {
    name: String,
    /// Record sets to put (`"name|TYPE": [values]`; `[]` removes) and server settings
    /// (`servfail`, `timeout`, `refused`): what the resolver, and receivers, see.
    change: Value,
    /// What the zone's own server holds instead, for a change still propagating.
    authoritative: Option<Value>,
    row: String,
    status: &'static str,
    found: String,
    /// Why a reference's verdict differs from the receiver's, with the RFC section.
    differs: Option<&'static str>,
}

fn case(name: &str, change: Value, row: &str, status: &'static str, found: &str) -> Case {
    Case {
        name: name.into(),
        change,
        authoritative: None,
        row: row.into(),
        status,
        found: found.into(),
        differs: None,
    }
}

impl Case {
    fn differs(mut self, why: &'static str) -> Case {
        self.differs = Some(why);
        self
    }

    fn authoritative(mut self, holds: Value) -> Case {
        self.authoritative = Some(holds);
        self
    }
}

fn changed(healthy: &Value, change: &Value) -> Value {
    let mut zones = healthy.clone();
    for (k, v) in change.as_object().unwrap() {
        if k.contains('|') {
            if v.as_array().is_some_and(|a| a.is_empty()) {
                zones["records"].as_object_mut().unwrap().remove(k);
            } else {
                zones["records"][k] = v.clone();
            }
        } else {
            zones[k] = v.clone();
        }
    }
    zones
}

/// The zones as receivers see them: every record mailinfra put in the emulator's Route 53
/// (its NS and SOA aside: the server makes its own), the Elastic IP's reverse DNS, the report
/// authorization and SES's SPF record.
async fn healthy(acct: &Account, ids: &[String], ip: &str) -> Value {
    let mut records: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for id in ids {
        for ((name, rtype), (_, values)) in acct.records(id).await {
            if rtype == "NS" || rtype == "SOA" {
                continue;
            }
            let values = values
                .iter()
                .map(|v| {
                    if rtype == "TXT" {
                        mailinfra::mail::txt::text_of(v)
                    } else {
                        v.trim_end_matches('.').to_owned()
                    }
                })
                .collect();
            records.insert(format!("{name}|{rtype}"), values);
        }
    }
    records.insert(
        format!("{}|PTR", reverse(ip, "in-addr.arpa")),
        vec!["mail.example.com".into()],
    );
    records.insert(
        "example.com._report._dmarc.example.net|TXT".into(),
        vec!["v=DMARC1".into()],
    );
    records.insert("amazonses.com|TXT".into(), vec![SES_SPF.into()]);
    json!({ "zones": ZONES, "records": records })
}

fn reverse(ip: &str, zone: &str) -> String {
    let o: Vec<&str> = ip.split('.').collect();
    format!("{}.{}.{}.{}.{zone}", o[3], o[2], o[1], o[0])
}

fn row<'a>(rows: &'a [Value], check: &str) -> &'a Value {
    rows.iter()
        .find(|r| r["check"] == check)
        .unwrap_or_else(|| panic!("no row `{check}` in {rows:#?}"))
}

/// The SPF row's status a receiver's result implies: the gateway's mail must pass, nobody
/// else's may, and neither may be an error.
fn spf_status(gateway: &str, other: &str) -> &'static str {
    if gateway == "permerror" || other == "permerror" {
        "fail"
    } else if gateway == "temperror" || other == "temperror" {
        "could-not-check"
    } else if gateway != "pass" || other == "pass" {
        "fail"
    } else {
        "pass"
    }
}

/// The cases, by class of the issue (13): 1 propagation, 2 SPF evaluation, 3 the gateway's
/// address, 4 DMARC, 5 DKIM, 6 blocklists, 7 MAIL FROM SPF.
fn cases(ip: &str, dkim: &str, dmarc: &str) -> Vec<Case> {
    let spf = |terms: &str| json!({ "example.com|TXT": [format!("v=spf1 {terms}")] });
    let with = |records: &[(&str, Value)]| {
        let mut m = serde_json::Map::new();
        for (k, v) in records {
            m.insert((*k).to_owned(), v.clone());
        }
        Value::Object(m)
    };
    let gw = format!("ip4:{ip}");
    let spf_row = "spf example.com";
    let dkim_row = "dkim mta1._domainkey.example.com";
    let dmarc_row = "dmarc example.com";
    let mail_from = "mail-from bounce.example.org";
    let dnsbl = "dnsbl dnsbl.test";
    let listed = reverse(ip, "dnsbl.test");
    let (key_tags, key) = dkim.rsplit_once("p=").unwrap();
    let key_tags = key_tags.to_owned();
    let key = key.to_owned();
    let dkim_rec = |text: String| json!({ "mta1._domainkey.example.com|TXT": [text] });
    let dmarc_rec = |text: &str| json!({ "_dmarc.example.com|TXT": [text] });
    let propagating = "RFC 2308 §5 and RFC 1035 §3.2.1: resolvers answer from their cache for the TTL; the zone's own servers already hold what passes, so receivers will see it";
    let mut c = vec![
        // 1. Propagation: only when the zone's own servers' answer would pass the row.
        case(
            "a site-verification TXT is not the SPF record",
            json!({ "example.com|TXT": ["google-site-verification=abc"] }),
            spf_row,
            "fail",
            "no SPF record",
        ),
        case(
            "a non-DMARC TXT at _dmarc is not a DMARC record",
            dmarc_rec("some-other-verification=1"),
            dmarc_row,
            "fail",
            "no DMARC record",
        ),
        case(
            "a DKIM record without p=",
            dkim_rec("v=DKIM1; k=rsa".into()),
            dkim_row,
            "fail",
            "no `p=` key",
        ),
        case(
            "a MAIL FROM MX for another region",
            json!({ "bounce.example.org|MX": ["10 feedback-smtp.us-east-1.amazonses.com"] }),
            mail_from,
            "fail",
            "SES expects feedback-smtp.eu-west-1.amazonses.com",
        ),
        case(
            "the gateway's hostname has only a TXT record",
            json!({ "mail.example.com|A": [], "mail.example.com|TXT": ["hello"] }),
            "a mail.example.com",
            "fail",
            "no A record",
        ),
        case(
            "the resolver lacks DMARC, the zone has it",
            json!({ "_dmarc.example.com|TXT": [] }),
            dmarc_row,
            "warn",
            "still propagating",
        )
        .authoritative(json!({}))
        .differs(propagating),
        case(
            "the resolver has the old SPF, the zone the new one",
            spf("ip4:192.0.2.99 -all"),
            spf_row,
            "warn",
            "still propagating",
        )
        .authoritative(json!({}))
        .differs(propagating),
        case(
            "the resolver and the zone both lack DMARC",
            json!({ "_dmarc.example.com|TXT": [] }),
            dmarc_row,
            "fail",
            "no DMARC record",
        )
        .authoritative(json!({ "_dmarc.example.com|TXT": [] })),
        case(
            "the resolver has an old DKIM key, the zone a broken one",
            dkim_rec(format!("{key_tags}p=")),
            dkim_row,
            "fail",
            "",
        )
        .authoritative(dkim_rec("v=DKIM1; k=rsa".into())),
        // 2. SPF evaluation: permerror, temperror, the limits, redirect.
        case(
            "two SPF records",
            json!({ "example.com|TXT": [format!("v=spf1 {gw} -all"), "v=spf1 -all"] }),
            spf_row,
            "fail",
            "2 SPF records",
        ),
        case(
            "an unknown mechanism",
            spf(&format!("{gw} ipv4:192.0.2.0/24 -all")),
            spf_row,
            "fail",
            "permerror",
        ),
        case(
            "an ip4 prefix of /33",
            spf(&format!("{gw} ip4:198.51.100.0/33 -all")),
            spf_row,
            "fail",
            "permerror",
        ),
        case(
            "an include target without an SPF record",
            with(&[
                (
                    "example.com|TXT",
                    json!([format!("v=spf1 {gw} include:nospf.ext.test -all")]),
                ),
                ("nospf.ext.test|TXT", json!(["not spf"])),
            ]),
            spf_row,
            "fail",
            "other addresses: permerror",
        ),
        case(
            "an include target with two SPF records",
            with(&[
                (
                    "example.com|TXT",
                    json!([format!("v=spf1 {gw} include:two.ext.test -all")]),
                ),
                ("two.ext.test|TXT", json!(["v=spf1 -all", "v=spf1 ~all"])),
            ]),
            spf_row,
            "fail",
            "2 SPF records",
        ),
        case(
            "an include of a name that does not exist",
            spf(&format!("{gw} include:nothing.ext.test -all")),
            spf_row,
            "fail",
            "other addresses: permerror",
        ),
        case(
            "a /33 inside an include, reached only by other senders",
            with(&[
                (
                    "example.com|TXT",
                    json!([format!("v=spf1 {gw} include:bad.ext.test -all")]),
                ),
                (
                    "bad.ext.test|TXT",
                    json!(["v=spf1 ip4:198.51.100.0/33 -all"]),
                ),
            ]),
            spf_row,
            "fail",
            "other addresses: permerror",
        ),
        case(
            "an include before the gateway's address that is broken",
            with(&[
                (
                    "example.com|TXT",
                    json!([format!("v=spf1 include:bad.ext.test {gw} -all")]),
                ),
                (
                    "bad.ext.test|TXT",
                    json!(["v=spf1 ip4:198.51.100.0/33 -all"]),
                ),
            ]),
            spf_row,
            "fail",
            ": permerror",
        ),
        case(
            "exactly 10 lookups through includes",
            {
                let mut m = serde_json::Map::new();
                m.insert(
                    "example.com|TXT".into(),
                    json!([format!("v=spf1 {gw} include:i1.ext.test -all")]),
                );
                for i in 1..=10 {
                    let next = if i < 10 {
                        format!("v=spf1 include:i{}.ext.test -all", i + 1)
                    } else {
                        "v=spf1 -all".into()
                    };
                    m.insert(format!("i{i}.ext.test|TXT"), json!([next]));
                }
                Value::Object(m)
            },
            spf_row,
            "pass",
            "(10 lookups)",
        ),
        case(
            "11 lookups through includes",
            {
                let mut m = serde_json::Map::new();
                m.insert(
                    "example.com|TXT".into(),
                    json!([format!("v=spf1 {gw} include:i1.ext.test -all")]),
                );
                for i in 1..=11 {
                    let next = if i < 11 {
                        format!("v=spf1 include:i{}.ext.test -all", i + 1)
                    } else {
                        "v=spf1 -all".into()
                    };
                    m.insert(format!("i{i}.ext.test|TXT"), json!([next]));
                }
                Value::Object(m)
            },
            spf_row,
            "fail",
            "more than 10 DNS lookups",
        ),
        case(
            "ten includes that cost 15 lookups",
            {
                let mut m = serde_json::Map::new();
                let includes: Vec<String> =
                    (1..=10).map(|i| format!("include:w{i}.ext.test")).collect();
                m.insert(
                    "example.com|TXT".into(),
                    json!([format!("v=spf1 {gw} {} -all", includes.join(" "))]),
                );
                for i in 1..=10 {
                    let body = if i <= 5 {
                        "v=spf1 a:host.ext.test -all"
                    } else {
                        "v=spf1 -all"
                    };
                    m.insert(format!("w{i}.ext.test|TXT"), json!([body]));
                }
                m.insert("host.ext.test|A".into(), json!(["198.51.100.1"]));
                Value::Object(m)
            },
            spf_row,
            "fail",
            "more than 10 DNS lookups",
        ),
        case(
            "an mx with 11 names",
            {
                let mut m = serde_json::Map::new();
                m.insert(
                    "example.com|TXT".into(),
                    json!([format!("v=spf1 {gw} mx:mx.ext.test -all")]),
                );
                m.insert(
                    "mx.ext.test|MX".into(),
                    json!(
                        (1..=11)
                            .map(|i| format!("{i} m{i}.ext.test"))
                            .collect::<Vec<_>>()
                    ),
                );
                for i in 1..=11 {
                    m.insert(
                        format!("m{i}.ext.test|A"),
                        json!([format!("198.51.100.{i}")]),
                    );
                }
                Value::Object(m)
            },
            spf_row,
            "fail",
            "more than 10",
        ),
        case(
            "an mx with 10 names",
            {
                let mut m = serde_json::Map::new();
                m.insert(
                    "example.com|TXT".into(),
                    json!([format!("v=spf1 {gw} mx:mx.ext.test -all")]),
                );
                m.insert(
                    "mx.ext.test|MX".into(),
                    json!(
                        (1..=10)
                            .map(|i| format!("{i} m{i}.ext.test"))
                            .collect::<Vec<_>>()
                    ),
                );
                for i in 1..=10 {
                    m.insert(
                        format!("m{i}.ext.test|A"),
                        json!([format!("198.51.100.{i}")]),
                    );
                }
                Value::Object(m)
            },
            spf_row,
            "pass",
            "other addresses: fail",
        ),
        case(
            "three void lookups from a",
            spf(&format!(
                "{gw} a:nx1.ext.test a:nx2.ext.test a:nx3.ext.test -all"
            )),
            spf_row,
            "fail",
            "void lookups",
        ),
        case(
            "two void lookups",
            spf(&format!("{gw} a:nx1.ext.test a:nx2.ext.test -all")),
            spf_row,
            "pass",
            "other addresses: fail",
        ),
        case(
            "three void lookups from exists",
            spf(&format!(
                "{gw} exists:nx1.ext.test exists:nx2.ext.test exists:nx3.ext.test -all"
            )),
            spf_row,
            "fail",
            "void lookups",
        ),
        case(
            "three void lookups from mx",
            spf(&format!(
                "{gw} mx:nx1.ext.test mx:nx2.ext.test mx:nx3.ext.test -all"
            )),
            spf_row,
            "fail",
            "void lookups",
        ),
        case(
            "redirect to a softfail policy",
            with(&[
                (
                    "example.com|TXT",
                    json!([format!("v=spf1 {gw} redirect=_spf.ext.test")]),
                ),
                ("_spf.ext.test|TXT", json!(["v=spf1 ~all"])),
            ]),
            spf_row,
            "warn",
            "the blueprint says -all",
        ),
        case(
            "redirect to a name without SPF",
            spf(&format!("{gw} redirect=nothing.ext.test")),
            spf_row,
            "fail",
            "other addresses: permerror",
        ),
        case(
            "redirect to +all",
            with(&[
                (
                    "example.com|TXT",
                    json!([format!("v=spf1 {gw} redirect=_spf.ext.test")]),
                ),
                ("_spf.ext.test|TXT", json!(["v=spf1 +all"])),
            ]),
            spf_row,
            "fail",
            "anyone can send",
        ),
        case(
            "redirect is ignored when the record has all",
            spf(&format!("{gw} -all redirect=nothing.ext.test")),
            spf_row,
            "pass",
            "other addresses: fail",
        ),
        case(
            "+all",
            spf(&format!("{gw} +all")),
            spf_row,
            "fail",
            "anyone can send",
        ),
        case(
            "a range that covers the internet",
            spf(&format!("{gw} ip4:0.0.0.0/0 -all")),
            spf_row,
            "fail",
            "anyone can send",
        ),
        case(
            "an include whose target answers SERVFAIL",
            with(&[
                (
                    "example.com|TXT",
                    json!([format!("v=spf1 {gw} include:sf.ext.test -all")]),
                ),
                ("servfail", json!(["sf.ext.test"])),
            ]),
            spf_row,
            "could-not-check",
            "temperror",
        ),
        case(
            "an include whose target never answers",
            with(&[
                (
                    "example.com|TXT",
                    json!([format!("v=spf1 {gw} include:slow.ext.test -all")]),
                ),
                ("timeout", json!(["slow.ext.test"])),
            ]),
            spf_row,
            "could-not-check",
            "temperror",
        ),
        case(
            "the address through an exists macro",
            with(&[
                (
                    "example.com|TXT",
                    json!(["v=spf1 exists:%{i}._spf.ext.test -all"]),
                ),
                (&format!("{ip}._spf.ext.test|A"), json!(["127.0.0.2"])),
            ]),
            spf_row,
            "pass",
            "other addresses: fail",
        ),
        case(
            "a reversed-address macro",
            with(&[
                (
                    "example.com|TXT",
                    json!(["v=spf1 exists:%{ir}.%{v}._spf.%{d2} -all"]),
                ),
                (
                    &format!("{}._spf.example.com|A", reverse(ip, "in-addr")),
                    json!(["127.0.0.2"]),
                ),
            ]),
            spf_row,
            "pass",
            "other addresses: fail",
        ),
        case(
            "a macro with a bad letter",
            spf(&format!("{gw} exists:%{{x}}.ext.test -all")),
            spf_row,
            "fail",
            "permerror",
        ),
        case(
            "the gateway through a:",
            spf("a:mail.example.com -all"),
            spf_row,
            "pass",
            "other addresses: fail",
        ),
        case(
            "the gateway through mx",
            with(&[
                ("example.com|TXT", json!(["v=spf1 mx -all"])),
                ("example.com|MX", json!(["10 mail.example.com"])),
            ]),
            spf_row,
            "pass",
            "other addresses: fail",
        ),
        case(
            "the gateway through a /24 in an include",
            with(&[
                (
                    "example.com|TXT",
                    json!(["v=spf1 include:_spf.ext.test -all"]),
                ),
                (
                    "_spf.ext.test|TXT",
                    json!([format!("v=spf1 ip4:{}/24 -all", ip)]),
                ),
            ]),
            spf_row,
            "pass",
            "other addresses: fail",
        ),
        case(
            "upper-case terms",
            spf(&format!("IP4:{ip} -ALL")),
            spf_row,
            "pass",
            "other addresses: fail",
        ),
        case(
            "~all where the blueprint says -all",
            spf(&format!("{gw} ~all")),
            spf_row,
            "warn",
            "the blueprint says -all",
        ),
        case(
            "no all at all",
            spf(&gw),
            spf_row,
            "warn",
            "other addresses: neutral",
        ),
        // 3. The gateway's address, evaluated in order with its qualifier.
        case(
            "the gateway's address after -all",
            spf(&format!("-all {gw}")),
            spf_row,
            "fail",
            &format!("{ip}: fail"),
        ),
        case(
            "the gateway's address under ~",
            spf(&format!("~{gw} -all")),
            spf_row,
            "fail",
            &format!("{ip}: softfail"),
        ),
        case(
            "the gateway's address under -",
            spf(&format!("-{gw} -all")),
            spf_row,
            "fail",
            &format!("{ip}: fail"),
        ),
        case(
            "the gateway's address under ?",
            spf(&format!("?{gw} -all")),
            spf_row,
            "fail",
            &format!("{ip}: neutral"),
        ),
        case(
            "the gateway's address missing",
            spf("ip4:192.0.2.99 -all"),
            spf_row,
            "fail",
            &format!("{ip}: fail"),
        ),
        case(
            "the gateway's address after a failing include",
            with(&[
                (
                    "example.com|TXT",
                    json!([format!("v=spf1 -include:_spf.ext.test {gw} -all")]),
                ),
                (
                    "_spf.ext.test|TXT",
                    json!([format!("v=spf1 ip4:{ip} -all")]),
                ),
            ]),
            spf_row,
            "fail",
            &format!("{ip}: fail"),
        ),
        // 6. Blocklists: only "listed" codes mean listed.
        case(
            "listed with 127.0.0.2",
            json!({ format!("{listed}|A"): ["127.0.0.2"] }),
            dnsbl,
            "fail",
            "is listed (127.0.0.2)",
        ),
        case(
            "a refusal code 127.255.255.254",
            json!({ format!("{listed}|A"): ["127.255.255.254"] }),
            dnsbl,
            "could-not-check",
            "refused",
        ),
        case(
            "an answer outside 127.0.0.0/8",
            json!({ format!("{listed}|A"): ["198.51.100.7"] }),
            dnsbl,
            "could-not-check",
            "not one of the list's",
        ),
        case(
            "a list that lists 127.0.0.1",
            json!({ format!("{listed}|A"): ["127.0.0.2"], "1.0.0.127.dnsbl.test|A": ["127.0.0.2"] }),
            dnsbl,
            "could-not-check",
            "RFC 5782 §5",
        ),
        // 7. MAIL FROM SPF, parsed.
        case(
            "MAIL FROM SPF with -include:amazonses.com",
            json!({ "bounce.example.org|TXT": ["v=spf1 -include:amazonses.com ~all"] }),
            mail_from,
            "fail",
            "SPF without include:amazonses.com",
        ),
        case(
            "MAIL FROM SPF including a look-alike",
            json!({ "bounce.example.org|TXT": ["v=spf1 include:amazonses.com.ext.test -all"] }),
            mail_from,
            "fail",
            "SPF without include:amazonses.com",
        ),
        case(
            "MAIL FROM with two SPF records",
            json!({ "bounce.example.org|TXT": ["v=spf1 include:amazonses.com -all", "v=spf1 -all"] }),
            mail_from,
            "fail",
            "2 SPF records",
        ),
        case(
            "MAIL FROM SPF in upper case",
            json!({ "bounce.example.org|TXT": ["v=spf1 INCLUDE:AmazonSES.com -all"] }),
            mail_from,
            "pass",
            "",
        ),
    ];
    let rua = "rua=mailto:reports@example.net";
    let discarded = "RFC 9989 §4.8: receivers discard an invalid value in favour of the tag's default, and the record still applies; checkdmarc does so for adkim but refuses the whole record for np and fo";
    let blueprint = "the blueprint's record differs from a valid one: a question of the blueprint, not of RFC 9989 validity (§4.7), which is all checkdmarc judges";
    c.extend([
        // 4. DMARC, read per RFC 9989's grammar and compared tag by tag.
        case(
            "DMARC tags and values in upper case, spaces around =",
            dmarc_rec("v=DMARC1; P = QUARANTINE ; SP=Reject; RUA = mailto:reports@example.net"),
            dmarc_row,
            "pass",
            "",
        ),
        case(
            "sp drift",
            dmarc_rec(&format!("v=DMARC1; p=quarantine; sp=none; {rua}")),
            dmarc_row,
            "fail",
            "sp=none, the blueprint says sp=reject",
        )
        .differs(blueprint),
        case(
            "p drift",
            dmarc_rec(&format!("v=DMARC1; p=none; sp=reject; {rua}")),
            dmarc_row,
            "fail",
            "p=none, the blueprint says p=quarantine",
        )
        .differs(blueprint),
        case(
            "rua drift",
            dmarc_rec("v=DMARC1; p=quarantine; sp=reject; rua=mailto:other@example.com"),
            dmarc_row,
            "fail",
            "the blueprint says rua=mailto:reports@example.net",
        )
        .differs(blueprint),
        case(
            "an invalid adkim",
            dmarc_rec(&format!("v=DMARC1; p=quarantine; sp=reject; adkim=x; {rua}")),
            dmarc_row,
            "warn",
            "one of r, s",
        ),
        case(
            "an invalid np",
            dmarc_rec(&format!("v=DMARC1; p=quarantine; sp=reject; np=maybe; {rua}")),
            dmarc_row,
            "warn",
            "one of none",
        )
        .differs(discarded),
        case(
            "an invalid fo",
            dmarc_rec(&format!("v=DMARC1; p=quarantine; sp=reject; fo=2; {rua}")),
            dmarc_row,
            "warn",
            "list of 0, 1",
        )
        .differs(discarded),
        case(
            "a report URI that is not mailto",
            json!({ "_dmarc.example.org|TXT": ["v=DMARC1; p=none; rua=https://example.net/reports"] }),
            "dmarc example.org",
            "warn",
            "only to `mailto:`",
        ),
        case(
            "a size limit on the report address",
            json!({
                "_dmarc.example.org|TXT": ["v=DMARC1; p=none; rua=mailto:reports@example.net!10m"],
                "example.org._report._dmarc.example.net|TXT": ["v=DMARC1"],
            }),
            "dmarc example.org",
            "pass",
            "",
        ),
        case(
            "a size limit and no authorization",
            json!({ "_dmarc.example.org|TXT": ["v=DMARC1; p=none; rua=mailto:reports@example.net!10m"] }),
            "dmarc example.org",
            "warn",
            "(example.org._report._dmarc.example.net)",
        ),
        case(
            "pct is ignored by RFC 9989 receivers",
            dmarc_rec(&format!("v=DMARC1; p=quarantine; sp=reject; pct=50; {rua}")),
            dmarc_row,
            "warn",
            "pct (removed by RFC 9989",
        ),
        case(
            "an unknown tag",
            dmarc_rec(&format!("v=DMARC1; p=quarantine; sp=reject; foo=1; {rua}")),
            dmarc_row,
            "warn",
            "foo (unknown",
        ),
        case(
            "v=DMARC1 not first",
            dmarc_rec(&format!("p=quarantine; v=DMARC1; sp=reject; {rua}")),
            dmarc_row,
            "fail",
            "no DMARC record",
        ),
        case(
            "no policy",
            dmarc_rec(&format!("v=DMARC1; sp=reject; {rua}")),
            dmarc_row,
            "fail",
            "no p, the blueprint says p=quarantine",
        )
        .differs(blueprint),
        case(
            "two DMARC records",
            json!({ "_dmarc.example.com|TXT": [dmarc, "v=DMARC1; p=none"] }),
            dmarc_row,
            "fail",
            "2 DMARC records",
        ),
        case(
            "no report authorization",
            json!({ "example.com._report._dmarc.example.net|TXT": [] }),
            dmarc_row,
            "warn",
            "has not authorized reports",
        ),
        // 5. DKIM flags.
        case(
            "DKIM t=y",
            dkim_rec(format!("{key_tags}t=y; p={key}")),
            dkim_row,
            "warn",
            "t=y",
        ),
        case(
            "two DKIM records at the selector",
            json!({ "mta1._domainkey.example.com|TXT": [dkim.to_owned(), format!("{key_tags}p={key}")] }),
            dkim_row,
            "fail",
            "2 records at the selector",
        )
        .differs("RFC 6376 §3.6.2.2: with several key records a verifier may use any one; dkimpy takes the first, others may not"),
        case(
            "DKIM v=DKIM2",
            dkim_rec(format!("v=DKIM2; k=rsa; p={key}")),
            dkim_row,
            "fail",
            "v=DKIM2",
        ),
        case(
            "DKIM h=sha1",
            dkim_rec(format!("{key_tags}h=sha1; p={key}")),
            dkim_row,
            "fail",
            "h=sha1",
        )
        .differs("RFC 6376 §6.1.2: a key record whose h= does not list the signature's hash must be ignored (PERMFAIL, inappropriate hash algorithm); dkimpy does not read h="),
        case(
            "DKIM h=sha1:sha256",
            dkim_rec(format!("{key_tags}h=sha1:sha256; p={key}")),
            dkim_row,
            "pass",
            "",
        ),
        case(
            "a revoked DKIM key",
            dkim_rec(format!("{key_tags}p=")),
            dkim_row,
            "fail",
            "revoked",
        ),
        case(
            "a DKIM record without v=",
            dkim_rec(format!("k=rsa; p={key}")),
            dkim_row,
            "pass",
            "",
        ),
        case(
            "a DKIM key split by spaces",
            dkim_rec(format!("{key_tags}p={} {}", &key[..100], &key[100..])),
            dkim_row,
            "pass",
            "",
        ),
    ]);
    c
}

#[tokio::test]
async fn check_agrees_with_pyspf_checkdmarc_and_dkimpy() {
    let acct = Account::new();
    let com = acct.create_zone("example.com").await;
    let org = acct.create_zone("example.org").await;
    acct.write("b.yaml", BLUEPRINT);
    let run = acct.mailinfra(&["apply", "b.yaml", "--yes"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let eips = acct
        .ec2("eu-west-1")
        .describe_addresses()
        .send()
        .await
        .unwrap();
    let ip = eips.addresses()[0].public_ip().unwrap().to_owned();
    let key = acct
        .ssm("eu-west-1")
        .get_parameter()
        .name("/mailinfra/relay/dkim/mta1/private")
        .with_decryption(true)
        .send()
        .await
        .unwrap()
        .parameter()
        .unwrap()
        .value()
        .unwrap()
        .to_owned();
    let healthy = healthy(&acct, &[com, org], &ip).await;
    let resolver = serve(&acct, "resolver.json", &healthy);
    let authoritative = serve(&acct, "authoritative.json", &healthy);
    let mut reference = Reference::start(resolver.port);
    let dkim = healthy["records"]["mta1._domainkey.example.com|TXT"][0]
        .as_str()
        .unwrap()
        .to_owned();
    let dmarc = healthy["records"]["_dmarc.example.com|TXT"][0]
        .as_str()
        .unwrap()
        .to_owned();

    let mut all = vec![case("healthy", json!({}), "spf example.com", "pass", "")];
    all.extend(cases(&ip, &dkim, &dmarc));
    let mut disagreements = Vec::new();
    let mut wrong = Vec::new();
    let mut classes = BTreeMap::new();
    for c in &all {
        let zones = changed(&healthy, &c.change);
        resolver.set(&zones);
        authoritative.set(&match &c.authoritative {
            Some(holds) => changed(&healthy, holds),
            None => zones.clone(),
        });
        let run = acct.mailinfra(&[
            "check",
            "b.yaml",
            "--json",
            "--resolver",
            &resolver.addr(),
            "--authoritative",
            &authoritative.addr(),
            "--dnsbl",
            "dnsbl.test",
            "--query-timeout",
            "1s",
        ]);
        let v: Value = serde_json::from_str(&run.stdout)
            .unwrap_or_else(|e| panic!("{}: {e}: {}\n{}", c.name, run.stdout, run.stderr));
        let rows = v["rows"].as_array().unwrap().clone();
        let r = row(&rows, &c.row);
        *classes
            .entry(c.row.split(' ').next().unwrap().to_owned())
            .or_insert(0) += 1;
        let found = r["found"].as_str().unwrap();
        if r["status"] != c.status || !found.contains(&c.found) {
            wrong.push(format!(
                "{}: want {} with `{}`, got {r}",
                c.name, c.status, c.found
            ));
        }
        let failing = rows.iter().any(|r| r["status"] == "fail");
        if run.code != i32::from(failing) {
            wrong.push(format!("{}: exit {} ({})", c.name, run.code, run.stderr));
        }

        // The references, through the resolver receivers use.
        let answer = reference.ask(&json!({
            "spf": [
                { "ip": ip, "domain": "example.com", "helo": "mail.example.com" },
                { "ip": PROBE, "domain": "example.com", "helo": "mail.example.com" },
                { "ip": SES_IP, "domain": "bounce.example.org", "helo": "mail.example.com" },
            ],
            "dmarc": ["example.com", "example.org"],
            "dkim": [{ "domain": "example.com", "selector": "mta1", "key": key }],
        }));
        let mut disagree = |what: &str, ours: &Value, theirs: String| {
            disagreements.push(format!("{}: {what}: mailinfra {ours:#}, {theirs}", c.name));
        };
        // SPF: pyspf's results for the gateway and for anyone else.
        let gw = answer["spf"][0]["result"].as_str().unwrap();
        let other = answer["spf"][1]["result"].as_str().unwrap();
        let spf = row(&rows, "spf example.com");
        let want = spf_status(gw, other);
        let blueprint_all = spf["status"] == "warn"
            && want == "pass"
            && spf["found"]
                .as_str()
                .unwrap()
                .contains("the blueprint says");
        if spf["status"] != want && !blueprint_all {
            disagree(
                "spf",
                spf,
                format!("pyspf {gw} for {ip}, {other} for {PROBE}"),
            );
        }
        let spf_found = spf["found"].as_str().unwrap();
        if spf_found.contains("other addresses:")
            && (!spf_found.contains(&format!("other addresses: {other}"))
                || !spf_found.contains(&format!("{ip}: {gw}")))
        {
            disagree(
                "spf results",
                spf,
                format!("pyspf {gw} for {ip}, {other} for {PROBE}"),
            );
        }
        // MAIL FROM: SES's address must pass SPF at the MAIL FROM domain.
        let ses = answer["spf"][2]["result"].as_str().unwrap();
        let mf = row(&rows, "mail-from bounce.example.org");
        if (ses == "pass") != (mf["status"] == "pass") && c.row != "mail-from bounce.example.org" {
            disagree("mail-from", mf, format!("pyspf {ses} for SES's {SES_IP}"));
        }
        if ses != "pass" && mf["status"] == "pass" {
            disagree(
                "mail-from spf",
                mf,
                format!("pyspf {ses} for SES's {SES_IP}"),
            );
        }
        // DMARC: checkdmarc's validity.
        for (i, domain) in ["example.com", "example.org"].iter().enumerate() {
            let theirs = &answer["dmarc"][i];
            let ours = row(&rows, &format!("dmarc {domain}"));
            let valid = theirs["valid"].as_bool().unwrap();
            if valid == (ours["status"] == "fail") {
                disagree(
                    &format!("dmarc {domain}"),
                    ours,
                    format!("checkdmarc {theirs}"),
                );
            }
        }
        // DKIM: a signature made with the gateway's key verifies through DNS.
        let theirs = &answer["dkim"][0];
        let ours = row(&rows, "dkim mta1._domainkey.example.com");
        let verified = theirs["verified"].as_bool().unwrap_or(false);
        if verified == (ours["status"] == "fail") {
            disagree("dkim", ours, format!("dkimpy {theirs}"));
        }
    }
    // A disagreement is allowed only where a case names the RFC section that settles it.
    let listed: Vec<&Case> = all.iter().filter(|c| c.differs.is_some()).collect();
    let unlisted: Vec<&String> = disagreements
        .iter()
        .filter(|d| {
            !listed
                .iter()
                .any(|c| d.starts_with(&format!("{}:", c.name)))
        })
        .collect();
    assert!(
        wrong.is_empty(),
        "{} cases gave another verdict:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    assert!(
        unlisted.is_empty(),
        "{} disagreements with the references:\n{}",
        unlisted.len(),
        unlisted
            .iter()
            .map(|d| d.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
    // And a listed disagreement that no longer happens is taken off the list.
    let stale: Vec<&str> = listed
        .iter()
        .filter(|c| {
            !disagreements
                .iter()
                .any(|d| d.starts_with(&format!("{}:", c.name)))
        })
        .map(|c| c.name.as_str())
        .collect();
    assert!(
        stale.is_empty(),
        "listed, but the references agree: {stale:?}"
    );
    eprintln!(
        "corpus: {} cases by row: {classes:?}; {} listed disagreements:\n{}",
        all.len(),
        disagreements.len(),
        disagreements.join("\n")
    );
    assert!(all.len() >= 60, "{} cases", all.len());
}

/// The shipped example blueprint (blueprints/example.yaml), applied to the emulator: every
/// record it publishes passes checkdmarc with no error, and no DMARC report address lacks its
/// authorization (mailinfra publishes it where the report domain's zone is in the blueprint).
#[tokio::test]
async fn the_example_blueprint_passes_checkdmarc() {
    let acct = Account::new();
    let com = acct.create_zone("example.com").await;
    let org = acct.create_zone("example.org").await;
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/blueprints");
    acct.write(
        "example.yaml",
        &std::fs::read_to_string(format!("{dir}/example.yaml")).unwrap(),
    );
    acct.write(
        "example-mta1.pub",
        &std::fs::read_to_string(format!("{dir}/example-mta1.pub")).unwrap(),
    );
    let run = acct.mailinfra(&["apply", "example.yaml", "--yes"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let eips = acct
        .ec2("eu-west-1")
        .describe_addresses()
        .send()
        .await
        .unwrap();
    let ip = eips.addresses()[0].public_ip().unwrap().to_owned();
    let mut zones = healthy(&acct, &[com, org], &ip).await;
    // Stand-ins for the includes the example names (Google's and SES's SPF records).
    zones["records"]["_spf.google.com|TXT"] = json!(["v=spf1 ip4:172.217.0.0/19 ~all"]);
    zones["zones"] = json!(["example.com", "example.org", "amazonses.com", "google.com"]);
    let server = serve(&acct, "zones.json", &zones);
    let mut reference = Reference::start(server.port);
    let domains = ["example.com", "shop.example.com", "example.org"];
    let answer = reference.ask(&json!({ "dmarc": domains, "spf_record": domains }));
    for (i, domain) in domains.iter().enumerate() {
        let dmarc = &answer["dmarc"][i];
        assert_eq!(dmarc["valid"], true, "{domain}: {dmarc:#}");
        assert!(
            !dmarc["warnings"].as_array().unwrap().iter().any(|w| w
                .as_str()
                .unwrap()
                .contains("Authorization record not found")),
            "{domain}: {dmarc:#}"
        );
        let spf = &answer["spf_record"][i];
        assert_eq!(spf["valid"], true, "{domain}: {spf:#}");
    }
}
