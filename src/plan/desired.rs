//! The desired state derived from a blueprint: every record set (or SPF string) it wants, in
//! which zone, with what TTL. The user never writes these values by hand.
//!
//! Some values exist only once apply has run another resource's step: the gateway's Elastic
//! IP, the DKIM public key mailinfra generates, the tokens SES gives an Easy DKIM identity.
//! Those are typed references to that resource's output ([`OutputRef`]), never placeholder
//! text: the plan resolves every reference whose value AWS already holds, shows the rest as
//! "(known after apply: ...)", and apply fills them in from what each step returned.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::blueprint::{Blueprint, DEFAULT_TTL, DkimSpec, DomainSpec};
use crate::kinds::gateway::{self, DesiredGateway};
use crate::kinds::records::ownership::Writable;
use crate::kinds::ses::{self, DesiredSes, DkimSetting, mail_from_mx};
use crate::mail::record::{Purpose, RType};
use crate::mail::{dkim, dmarc, spf, txt};

/// Which output of a resource a value needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutputName {
    /// The Elastic IP's public address.
    PublicIp,
    /// A generated DKIM key's public half (base64 of the DER SubjectPublicKeyInfo).
    PublicKey,
    /// An Easy DKIM identity's three tokens and the zone their CNAMEs point into.
    DkimTokens,
}

impl OutputName {
    fn as_str(self) -> &'static str {
        match self {
            OutputName::PublicIp => "public_ip",
            OutputName::PublicKey => "public_key",
            OutputName::DkimTokens => "dkim_tokens",
        }
    }
}

/// A value another resource produces: `gateway.eip.public_ip`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct OutputRef {
    /// The producing resource's address, as plans print it.
    pub of: String,
    pub name: OutputName,
}

impl OutputRef {
    pub fn gateway_ip() -> Self {
        Self::new("gateway.eip", OutputName::PublicIp)
    }
    pub fn gateway_key() -> Self {
        Self::new("gateway.dkim_key", OutputName::PublicKey)
    }
    /// The public half of the gateway's key under `selector`: `gateway.dkim_key` for the one
    /// it signs with, `gateway.dkim_key.<selector>` for the other of a rotation.
    pub fn gateway_key_of(selector: &str, signing: &str) -> Self {
        if selector == signing {
            Self::gateway_key()
        } else {
            Self::new(
                &format!("gateway.dkim_key.{selector}"),
                OutputName::PublicKey,
            )
        }
    }
    pub fn ses_tokens(domain: &str) -> Self {
        Self::new(&ses::identity_address(domain), OutputName::DkimTokens)
    }
    pub fn ses_key(domain: &str) -> Self {
        Self::new(&ses::identity_address(domain), OutputName::PublicKey)
    }
    fn new(of: &str, name: OutputName) -> Self {
        OutputRef {
            of: of.into(),
            name,
        }
    }
}

impl fmt::Display for OutputRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.of, self.name.as_str())
    }
}

/// The value of one output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutputValue {
    Text(String),
    Tokens {
        tokens: Vec<String>,
        signing_zone: String,
    },
}

/// The outputs known so far: from what was observed when planning, then from each step apply
/// runs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outputs(BTreeMap<OutputRef, OutputValue>);

impl Outputs {
    pub fn set(&mut self, of: OutputRef, value: OutputValue) {
        self.0.insert(of, value);
    }

    pub fn extend(&mut self, other: Outputs) {
        self.0.extend(other.0);
    }

    fn text(&self, of: &OutputRef) -> Option<&str> {
        match self.0.get(of)? {
            OutputValue::Text(t) => Some(t),
            OutputValue::Tokens { .. } => None,
        }
    }

    fn tokens(&self, of: &OutputRef) -> Option<(&[String], &str)> {
        match self.0.get(of)? {
            OutputValue::Tokens {
                tokens,
                signing_zone,
            } => Some((tokens, signing_zone)),
            OutputValue::Text(_) => None,
        }
    }
}

/// Text made of literal pieces and outputs: `v=spf1 ip4:` + `gateway.eip.public_ip` + ` ~all`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Template(pub Vec<Piece>);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Piece {
    Text(String),
    Output(OutputRef),
}

impl Template {
    /// The text, or the first output whose value is not known yet.
    pub fn render(&self, outputs: &Outputs) -> Result<String, OutputRef> {
        self.0
            .iter()
            .map(|p| match p {
                Piece::Text(t) => Ok(t.as_str()),
                Piece::Output(o) => outputs.text(o).ok_or_else(|| o.clone()),
            })
            .collect()
    }
}

/// `v=spf1 ip4:(known after apply: gateway.eip.public_ip) ~all`
impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for p in &self.0 {
            match p {
                Piece::Text(t) => f.write_str(t)?,
                Piece::Output(o) => write!(f, "(known after apply: {o})")?,
            }
        }
        Ok(())
    }
}

/// What the blueprint wants at one name and type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Content {
    /// The whole record set holds exactly these values (Route 53 form).
    Whole { values: Vec<String> },
    /// A TXT set holds this SPF text among whatever other values it has.
    Spf { text: String },
    /// Whatever this blueprint already published here stays (a BYODKIM public key, which
    /// only DNS and SES hold).
    Keep,
    /// The record set holds one value made from outputs (TXT is quoted once it is known).
    WholeFrom { value: Template },
    /// The SPF string of a shared TXT set, made from outputs.
    SpfFrom { text: Template },
    /// An Easy DKIM identity's three CNAMEs: their names and values are the identity's tokens.
    EasyDkim { tokens: OutputRef },
}

impl Content {
    /// What the value will be, for people: the template with its outputs named.
    pub fn describe(&self) -> String {
        match self {
            Content::Whole { values } => values.join(" "),
            Content::Spf { text } => text.clone(),
            Content::Keep => "(as published)".into(),
            Content::WholeFrom { value: t } | Content::SpfFrom { text: t } => t.to_string(),
            Content::EasyDkim { tokens } => format!(
                "3 CNAMEs <token>._domainkey -> <token>.<SES signing zone> (known after apply: {tokens})"
            ),
        }
    }
}

/// One record the blueprint wants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DesiredRecord {
    pub zone: String,
    pub name: String,
    #[serde(rename = "type")]
    pub rtype: RType,
    pub ttl: u32,
    pub content: Content,
    /// What the record is for.
    pub purpose: Purpose,
}

impl DesiredRecord {
    /// This record with every output it uses put in; an Easy DKIM record becomes its three
    /// CNAMEs. Fails with the first output whose value is not known yet.
    pub fn resolve(&self, outputs: &Outputs) -> Result<Vec<DesiredRecord>, OutputRef> {
        let with = |content: Content| DesiredRecord {
            content,
            ..self.clone()
        };
        Ok(match &self.content {
            Content::Whole { .. } | Content::Spf { .. } | Content::Keep => vec![self.clone()],
            Content::WholeFrom { value } => {
                let text = value.render(outputs)?;
                let value = if self.rtype == RType::Txt {
                    txt::encode(&text)
                } else {
                    text
                };
                vec![with(Content::Whole {
                    values: vec![value],
                })]
            }
            Content::SpfFrom { text } => vec![with(Content::Spf {
                text: text.render(outputs)?,
            })],
            Content::EasyDkim { tokens: of } => {
                let (tokens, zone) = outputs.tokens(of).ok_or_else(|| of.clone())?;
                let domain = self.name.trim_start_matches("*._domainkey.");
                tokens
                    .iter()
                    .map(|t| DesiredRecord {
                        name: dkim::record_name(t, domain),
                        content: Content::Whole {
                            values: vec![format!("{t}.{zone}")],
                        },
                        ..self.clone()
                    })
                    .collect()
            }
        })
    }
}

/// Everything a blueprint wants, plus what the plan needs to know about its scope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Desired {
    pub blueprint: String,
    /// The region for regional services (SES); `None` leaves SES out of scope.
    pub region: Option<String>,
    /// Hosted zones the blueprint names, sorted.
    pub zones: BTreeSet<String>,
    /// The mail domains the blueprint names.
    #[serde(default)]
    pub domains: BTreeSet<String>,
    pub records: Vec<DesiredRecord>,
    /// Addresses the user asked to adopt.
    pub adopt: BTreeSet<String>,
    pub ses: DesiredSes,
    #[serde(default)]
    pub gateway: Option<DesiredGateway>,
    /// The gateway whose resources are observed: the desired one, or for `destroy` the one
    /// being removed (its names are derived from the blueprint).
    #[serde(default)]
    pub gateway_scope: Option<DesiredGateway>,
    /// The record names and types the blueprint can write, whatever it wants now: the only
    /// ones whose ownership records count (`ownership::Writable`). Kept by `nothing`.
    #[serde(default)]
    pub writable: Writable,
}

impl Desired {
    /// The desired state of `destroy`: nothing, in the same scope.
    pub fn nothing(&self) -> Desired {
        Desired {
            records: Vec::new(),
            adopt: BTreeSet::new(),
            ses: DesiredSes::default(),
            gateway: None,
            ..self.clone()
        }
    }

    /// Decides each SES identity's DKIM key (`ses::rotation::decide`): whether this apply
    /// switches SES to a new key (published first) or to Easy DKIM, and which old key stays
    /// published while it retires. Decided once, like the gateway's.
    pub fn with_ses_keys(&self, observed: &super::observed::Observed) -> Desired {
        let mut d = self.clone();
        let Some(obs) = &observed.ses else {
            return d;
        };
        for id in &mut d.ses.identities {
            if id.keys.is_some() {
                continue;
            }
            let (txt, easy_cnames) = published_dkim(observed, &d.blueprint, &id.domain);
            let seen = ses::rotation::Seen {
                identity: obs.identities.get(&id.domain),
                published: &txt,
                easy_cnames,
                now: obs.read_at,
            };
            let policy = match &id.dkim {
                DkimSetting::External { selector } => Some(id.key_policy.clone().unwrap_or(
                    crate::kinds::rotation::Policy {
                        selector: selector.clone(),
                        rotate_every: None,
                        retire_after: crate::blueprint::DEFAULT_RETIRE_AFTER,
                        requested: false,
                    },
                )),
                DkimSetting::Easy { .. } => None,
            };
            let (want, retire_after) = match &policy {
                Some(p) => (ses::rotation::Want::Byodkim(p), p.retire_after),
                None => (
                    ses::rotation::Want::Easy,
                    crate::blueprint::DEFAULT_RETIRE_AFTER,
                ),
            };
            let keys = ses::rotation::decide(want, &seen, retire_after);
            // Easy DKIM with nothing retiring says nothing: the plan stays as it was.
            let quiet = keys.signer == ses::rotation::Signer::Easy
                && keys.mark.is_none()
                && !keys.in_progress();
            id.keys = (!quiet).then_some(keys);
        }
        d
    }

    /// Decides the gateway's DKIM key rotation from the keys SSM holds
    /// (`gateway::rotation::decide`): the gateway then signs with the signing key, and each
    /// gateway DKIM record the blueprint wants is published under every selector the rotation
    /// keeps (the new key beside the old during the overlap).
    pub fn with_gateway_keys(&self, observed: Option<&gateway::ObservedGateway>) -> Desired {
        let mut d = self.clone();
        let (Some(g), Some(o)) = (d.gateway.as_mut(), observed) else {
            return d;
        };
        // Decided once: the records are already those of every published selector.
        if g.rotation.is_some() {
            return d;
        }
        let Some(policy) = g.rotation_policy.clone() else {
            return d;
        };
        let wait = d
            .records
            .iter()
            .filter(|r| r.purpose == Purpose::GatewayDkim)
            .map(|r| i64::from(r.ttl))
            .max()
            .unwrap_or(i64::from(DEFAULT_TTL));
        let live: Vec<&gateway::ObservedInstance> = o.live_instances().collect();
        let rotation =
            gateway::rotation::decide(&policy, &o.dkim_keys, o.read_at, wait, |selector| {
                let want = g.signing_with(selector).user_data_sha256();
                !live.is_empty() && live.iter().all(|i| i.user_data.as_deref() == Some(&want))
            });
        *g = g.signing_with(&rotation.signing);
        let stem = format!("{}._domainkey.", policy.selector);
        let mut records = Vec::with_capacity(d.records.len());
        for r in d.records.drain(..) {
            let Some(domain) = r
                .name
                .strip_prefix(&stem)
                .filter(|_| r.purpose == Purpose::GatewayDkim)
            else {
                records.push(r);
                continue;
            };
            for selector in &rotation.published {
                records.push(DesiredRecord {
                    name: dkim::record_name(selector, domain),
                    content: Content::WholeFrom {
                        value: dkim_template(OutputRef::gateway_key_of(
                            selector,
                            &rotation.signing,
                        )),
                    },
                    ..r.clone()
                });
            }
        }
        d.records = records;
        g.rotation = Some(rotation);
        d
    }

    /// Adds the DNS records SES identities need, after their keys are decided
    /// (`with_ses_keys`). Easy DKIM CNAMEs come from the identity's tokens (an output) while
    /// SES signs with Easy DKIM; each BYODKIM selector the decision publishes has its TXT,
    /// kept as it is, or the public half of the key apply generates; Easy DKIM CNAMEs that
    /// retire stay as they are.
    pub fn add_ses_records(&mut self) {
        let region = self.region.clone().unwrap_or_default();
        for id in &self.ses.identities {
            let mut push = |name: String, rtype: RType, purpose: Purpose, content: Content| {
                self.records.push(DesiredRecord {
                    zone: id.zone.clone(),
                    name,
                    rtype,
                    ttl: id.ttl,
                    content,
                    purpose,
                })
            };
            // Undecided (offline: `mailinfra policy`), the blueprint's own key, made at apply.
            let undecided = || {
                let mut k = ses::rotation::KeyPlan::new(match &id.dkim {
                    DkimSetting::Easy { .. } => ses::rotation::Signer::Easy,
                    DkimSetting::External { selector } => {
                        ses::rotation::Signer::Byodkim(selector.clone())
                    }
                });
                if let ses::rotation::Signer::Byodkim(s) = &k.signer {
                    k.new_key = Some(s.clone());
                    k.keys
                        .insert(s.clone(), crate::kinds::rotation::Stage::Signing);
                }
                k
            };
            let k = id.keys.clone().unwrap_or_else(undecided);
            if k.signer == ses::rotation::Signer::Easy {
                push(
                    dkim::record_name("*", &id.domain),
                    RType::Cname,
                    Purpose::SesDkim,
                    Content::EasyDkim {
                        tokens: OutputRef::ses_tokens(&id.domain),
                    },
                );
            }
            for selector in k.keys.keys() {
                let content = if k.new_key.as_ref() == Some(selector) {
                    Content::WholeFrom {
                        value: dkim_template(OutputRef::ses_key(&id.domain)),
                    }
                } else {
                    Content::Keep
                };
                let name = dkim::record_name(selector, &id.domain);
                push(name, RType::Txt, Purpose::SesDkim, content);
            }
            for name in &k.easy_cnames {
                push(name.clone(), RType::Cname, Purpose::SesDkim, Content::Keep);
            }
            if let Some(mf) = &id.mail_from {
                push(
                    mf.domain.clone(),
                    RType::Mx,
                    Purpose::MailFromMx,
                    Content::Whole {
                        values: vec![mail_from_mx(&region)],
                    },
                );
                push(
                    mf.domain.clone(),
                    RType::Txt,
                    Purpose::MailFromSpf,
                    Content::Spf {
                        text: mf.spf.clone(),
                    },
                );
            }
        }
    }

    /// Puts in every output that is known; records still waiting for one stay as they are.
    pub fn resolve(&mut self, outputs: &Outputs) {
        self.records = std::mem::take(&mut self.records)
            .into_iter()
            .flat_map(|r| r.resolve(outputs).unwrap_or_else(|_| vec![r]))
            .collect();
    }
}

/// The DKIM records of `domain` this blueprint owns (an ownership record names it), in any
/// observed zone: the selectors of its TXT records, and the names of its CNAMEs (Easy DKIM).
fn published_dkim(
    observed: &super::observed::Observed,
    blueprint: &str,
    domain: &str,
) -> (BTreeSet<String>, Vec<String>) {
    use crate::kinds::records::ownership;
    let suffix = format!("._domainkey.{domain}");
    let (mut txt, mut cnames) = (BTreeSet::new(), Vec::new());
    for z in &observed.zones {
        let owned = |name: &str, rtype: &str| {
            let marker = ownership::marker_name(name, rtype);
            z.records.iter().any(|m| {
                m.name == marker && ownership::parse(m).is_some_and(|o| o.blueprint == blueprint)
            })
        };
        for r in &z.records {
            let Some(selector) = r.name.strip_suffix(&suffix) else {
                continue;
            };
            if selector.contains('.') {
                continue;
            }
            match r.rtype {
                RType::Txt if owned(&r.name, "TXT") => {
                    txt.insert(selector.to_owned());
                }
                RType::Cname if owned(&r.name, "CNAME") => cnames.push(r.name.clone()),
                _ => {}
            }
        }
    }
    (txt, cnames)
}

/// The DKIM TXT text for a public key that is an output.
fn dkim_template(key: OutputRef) -> Template {
    let prefix = dkim::record_text("");
    Template(vec![Piece::Text(prefix), Piece::Output(key)])
}

/// Derives the desired state of a valid blueprint.
pub fn from_blueprint(bp: &Blueprint) -> Desired {
    let default_ttl = bp.ttl.as_ref().map_or(DEFAULT_TTL, |t| t.value);
    let mut records = Vec::new();
    let mut zones = BTreeSet::new();
    for d in &bp.domains {
        records.extend(domain_records(bp, d, default_ttl));
        zones.insert(d.zone_name().to_owned());
    }
    records.extend(report_authorizations(bp, default_ttl));
    // Relaying through SES, the gateway has no public address and sends nothing itself:
    // no A record, no SPF or DKIM of its own (SES's records come with the identities).
    if let Some(g) = bp
        .gateway
        .as_ref()
        .filter(|g| g.signing_selector().is_some())
    {
        let zone = g.zone_name();
        records.push(DesiredRecord {
            zone: zone.clone(),
            name: g.hostname.value.clone(),
            rtype: RType::A,
            ttl: default_ttl,
            content: Content::WholeFrom {
                value: Template(vec![Piece::Output(OutputRef::gateway_ip())]),
            },
            purpose: Purpose::GatewayA,
        });
        records.extend(gateway_host_records(bp, g, &zone, default_ttl));
    }
    // Observed in both modes: what the other mode wrote there is removed.
    if let Some(g) = &bp.gateway {
        zones.insert(g.zone_name());
    }
    Desired {
        blueprint: bp.name.value.clone(),
        region: bp.region().map(str::to_owned),
        zones,
        domains: bp.domains.iter().map(|d| d.domain.value.clone()).collect(),
        records,
        adopt: bp.adopt.iter().map(|a| a.value.clone()).collect(),
        ses: ses::from_blueprint(bp),
        gateway: gateway::from_blueprint(bp),
        gateway_scope: gateway::from_blueprint(bp),
        writable: writable(bp),
    }
}

/// The gateway hostname's own SPF and DKIM key: its bounces come from
/// `MAILER-DAEMON@<hostname>` with the hostname in HELO and a null envelope sender, so
/// receivers check SPF on the hostname and DMARC aligns on it; they are signed
/// `d=<hostname>`. When the hostname is itself one of the blueprint's domains, that entry
/// writes them instead.
fn gateway_host_records(
    bp: &Blueprint,
    g: &crate::blueprint::GatewaySpec,
    zone: &str,
    ttl: u32,
) -> Vec<DesiredRecord> {
    let host = &g.hostname.value;
    if bp.domains.iter().any(|d| d.domain.value == *host) {
        return Vec::new();
    }
    vec![
        DesiredRecord {
            zone: zone.to_owned(),
            name: host.clone(),
            rtype: RType::Txt,
            ttl,
            content: Content::SpfFrom {
                text: Template(vec![
                    Piece::Text("v=spf1 ip4:".into()),
                    Piece::Output(OutputRef::gateway_ip()),
                    Piece::Text(" -all".into()),
                ]),
            },
            purpose: Purpose::Spf,
        },
        DesiredRecord {
            zone: zone.to_owned(),
            name: dkim::record_name(&g.dkim.selector.value, host),
            rtype: RType::Txt,
            ttl,
            content: Content::WholeFrom {
                value: dkim_template(OutputRef::gateway_key()),
            },
            purpose: Purpose::GatewayDkim,
        },
    ]
}

/// A domain's DMARC reports may go to another organizational domain only with that domain's
/// consent, `<domain>._report._dmarc.<report domain>` TXT `v=DMARC1` (RFC 9989 §4.7.1):
/// published here when the report domain is in one of the blueprint's zones. (Elsewhere its
/// owner must publish it; `mailinfra check` says so.)
fn report_authorizations(bp: &Blueprint, default_ttl: u32) -> Vec<DesiredRecord> {
    let mut out: Vec<DesiredRecord> = Vec::new();
    for d in &bp.domains {
        let Some(m) = &d.dmarc else { continue };
        let domain = &d.domain.value;
        let org = crate::check::dmarc::organizational_domain(domain);
        for uri in m.rua.iter().chain(&m.ruf) {
            let Some((_, target)) = uri.value.rsplit_once('@') else {
                continue;
            };
            let target = target
                .split('!')
                .next()
                .unwrap_or_default()
                .to_ascii_lowercase();
            if crate::check::dmarc::organizational_domain(&target) == org {
                continue;
            }
            let Some(zone) = bp
                .domains
                .iter()
                .map(|e| e.zone_name())
                .filter(|z| crate::mail::names::is_within(&target, z))
                .max_by_key(|z| z.len())
            else {
                continue;
            };
            let name = format!("{domain}._report._dmarc.{target}");
            if out.iter().any(|r| r.name == name) {
                continue;
            }
            out.push(DesiredRecord {
                zone: zone.to_owned(),
                name,
                rtype: RType::Txt,
                ttl: default_ttl,
                content: Content::Whole {
                    values: vec![txt::encode("v=DMARC1")],
                },
                purpose: Purpose::DmarcReportAuth,
            });
        }
    }
    out
}

/// What the blueprint can write for each of its domains (SPF, DMARC, any DKIM selector as
/// TXT or Easy DKIM CNAME, its MAIL FROM MX and TXT) and its gateway's A record.
fn writable(bp: &Blueprint) -> Writable {
    let mut w = Writable::default();
    let selector = bp.gateway.as_ref().and_then(|g| g.signing_selector());
    for d in &bp.domains {
        let name = &d.domain.value;
        w.add(name, RType::Txt);
        w.add(&format!("_dmarc.{name}"), RType::Txt);
        let any_selector = dkim::record_name("*", name);
        w.add(&any_selector, RType::Txt);
        w.add(&any_selector, RType::Cname);
        for key in d.records(selector) {
            w.add(&key.name, key.rtype);
        }
    }
    if let Some(g) = &bp.gateway {
        w.add(&g.hostname.value, RType::A);
        w.add(&g.hostname.value, RType::Txt);
        // Any selector: one the gateway signed with before (another selector, or before it
        // relayed through SES) is removed.
        w.add(&dkim::record_name("*", &g.hostname.value), RType::Txt);
    }
    for r in report_authorizations(bp, DEFAULT_TTL) {
        w.add(&r.name, r.rtype);
    }
    w
}

/// The records one domain publishes itself: SPF, DMARC, DKIM keys, and the gateway's key
/// and address when the domain sends through it, named by `DomainSpec::records` (the same
/// derivation validation checks). SES's records come with the plan
/// (`Desired::add_ses_records`), from what SES holds.
fn domain_records(bp: &Blueprint, d: &DomainSpec, default_ttl: u32) -> Vec<DesiredRecord> {
    let selector = bp.gateway.as_ref().and_then(|g| g.signing_selector());
    let gateway = selector.filter(|_| d.via_gateway.is_some());
    d.records(selector)
        .into_iter()
        .filter_map(|key| {
            let content = match key.purpose {
                Purpose::Spf => spf_content(d, gateway.is_some()),
                Purpose::Dmarc => Content::Whole {
                    values: vec![txt::encode(&dmarc::render(d.dmarc.as_ref()?))],
                },
                Purpose::Dkim => {
                    let name =
                        |k: &&DkimSpec| dkim::record_name(&k.selector.value, &d.domain.value);
                    let k = d.dkim.iter().find(|k| name(k) == key.name)?;
                    Content::Whole {
                        values: vec![txt::encode(&dkim::record_text(&k.public_key.value))],
                    }
                }
                Purpose::GatewayDkim => Content::WholeFrom {
                    value: dkim_template(OutputRef::gateway_key()),
                },
                // From what SES holds: `add_ses_records`.
                Purpose::SesDkim | Purpose::MailFromMx | Purpose::MailFromSpf => return None,
                Purpose::GatewayA | Purpose::DmarcReportAuth => return None,
            };
            Some(DesiredRecord {
                zone: d.zone_name().to_owned(),
                name: key.name,
                rtype: key.rtype,
                ttl: d.ttl.as_ref().map_or(default_ttl, |t| t.value),
                content,
                purpose: key.purpose,
            })
        })
        .collect()
}

/// The domain's SPF: as the blueprint composes it, with the gateway's address first when
/// the domain sends through the gateway (which makes one if the blueprint has none).
fn spf_content(d: &DomainSpec, via_gateway: bool) -> Content {
    let spf = d.spf.as_ref().map(spf::compose);
    if !via_gateway {
        return Content::Spf {
            text: spf.unwrap_or_default(),
        };
    }
    let rest = spf.as_deref().map_or(" ~all".to_owned(), |s| {
        s.strip_prefix("v=spf1").unwrap_or(s).to_owned()
    });
    Content::SpfFrom {
        text: Template(vec![
            Piece::Text("v=spf1 ip4:".into()),
            Piece::Output(OutputRef::gateway_ip()),
            Piece::Text(rest),
        ]),
    }
}
