//! `mailinfra status`: what is pending and what a person must do. Per SES domain:
//! verification, DKIM, MAIL FROM, suppression; for the account: the sandbox and sending
//! quota. Reads only; `--json` gives the same as data (docs/status-format.md).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use super::{Failure, Outcome, connect, desired, load, settings};
use crate::aws::Aws;
use crate::cli::{Global, StatusArgs};
use crate::kinds::gateway::DesiredGateway;
use crate::kinds::ses::verification::{self, State};
use crate::kinds::ses::{
    AccountDetails, DesiredIdentity, DkimSetting, ObservedAccount, ObservedIdentity, ReviewStatus,
    SuppressionReason, VerificationStatus,
};
use crate::output::Output;
use crate::plan::desired::Desired;

pub const FORMAT: &str = "mailinfra-status";
pub const VERSION: u32 = 3;

#[derive(Debug, Serialize)]
pub struct Status {
    pub format: String,
    pub version: u32,
    pub blueprint: String,
    pub region: Option<String>,
    pub account: Option<AccountStatus>,
    pub domains: Vec<DomainStatus>,
    /// `null` when the blueprint has no gateway.
    pub gateway: Option<GatewayStatus>,
}

#[derive(Debug, Serialize)]
pub struct GatewayStatus {
    pub hostname: String,
    /// The running instance, if any.
    pub instance: Option<String>,
    /// The image the instance runs, and when it was built: `ami-… (built 2026-11-01, 32 days
    /// ago)`.
    pub image: Option<String>,
    /// The address senders relay to: the private IP of the gateway's network interface.
    pub private_ip: Option<String>,
    /// The gateway's network interface (it outlives instance replacements), when it has one.
    pub network_interface: Option<String>,
    pub elastic_ip: Option<String>,
    /// What the gateway reports of itself: configured as the blueprint says at T, boot
    /// failed at step X, not reporting since T, ... (`kinds::gateway::health`); `null`
    /// without an instance.
    pub health: Option<String>,
    /// The reverse DNS in force, and a pending update's status.
    pub reverse_dns: Option<String>,
    pub reverse_dns_pending: Option<String>,
    pub reports: Vec<crate::plan::Report>,
    /// Relaying through Amazon SES (`relay_via: ses`): whether SES will take the gateway's
    /// mail (`ready`, or what stops it: the SMTP credentials, the sandbox, identities not yet
    /// verified); `null` when the gateway delivers directly.
    pub ses_relay: Option<String>,
    /// The DKIM key the gateway signs with and where its rotation stands
    /// (docs/rotation.md): `signing with `mta1` since …; next rotation due …`, or the stage
    /// of a rotation under way; `null` relaying through SES.
    pub dkim_key: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct AccountStatus {
    pub sandbox: bool,
    /// As SES reports it.
    #[serde(flatten)]
    pub account: AccountDetails,
    pub next_steps: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct DomainStatus {
    pub domain: String,
    /// `verified`, `pending`, `failed`, or `missing` (no identity yet).
    pub state: State,
    pub verification: Option<VerificationStatus>,
    pub dkim: Option<String>,
    /// BYODKIM (or an old key still retiring): the key SES signs with, since when, and where
    /// its rotation stands (docs/rotation.md); `null` otherwise.
    pub dkim_key: Option<String>,
    pub dkim_signing_enabled: Option<bool>,
    pub mail_from: Option<String>,
    pub mail_from_status: Option<VerificationStatus>,
    pub configuration_set: Option<String>,
    /// The configuration set's own suppression reasons; `None`: the account's list applies
    /// (or there is no configuration set).
    pub suppression: Option<Vec<SuppressionReason>>,
    /// Seconds since the epoch of SES's last DNS check, where the API says.
    pub last_checked: Option<i64>,
    pub next_steps: Vec<String>,
}

pub async fn run(args: &StatusArgs, global: &Global, out: &Output) -> Outcome {
    let bp = load(&args.file.file)?;
    let desired = desired(&bp, global)?;
    let mut status = Status {
        format: FORMAT.into(),
        version: VERSION,
        blueprint: desired.blueprint.clone(),
        region: desired.region.clone(),
        account: None,
        domains: Vec::new(),
        gateway: None,
    };
    let reads_ses = desired.region.is_some() && !desired.ses.identities.is_empty()
        || desired.ses.production_access.is_some();
    let aws = if desired.gateway.is_some() || reads_ses {
        Some(connect(&settings(global, bp.region())?).await?)
    } else {
        None
    };
    if let (Some(_), Some(aws)) = (&desired.gateway, &aws) {
        status.gateway = Some(gateway_status(aws, &desired).await?);
    }
    if let (true, Some(aws)) = (reads_ses, &aws) {
        out.progress(&format!(
            "reading SES for blueprint `{}`...",
            desired.blueprint
        ));
        let (account, domains) = ses_status(aws, &desired).await?;
        status.account = Some(account);
        status.domains = domains;
    }
    if let Some(g) = &desired.gateway {
        ses_readiness(&mut status, &g.render.signing_domains);
    }
    if args.json {
        let json =
            serde_json::to_string_pretty(&status).map_err(|e| Failure::Refused(e.to_string()))?;
        out.data(&format!("{json}\n"));
    } else {
        out.data(&text(&status));
    }
    Ok(0)
}

/// The gateway as AWS holds it: the instance behind the Elastic IP, reverse DNS, and the
/// gateway kind's reports of what is to do or in progress.
async fn gateway_status(aws: &Aws, desired: &Desired) -> Result<GatewayStatus, Failure> {
    let Some(g) = desired.gateway.as_ref() else {
        return Err(Failure::Refused("the blueprint has no gateway".into()));
    };
    let o = crate::kinds::gateway::observe::observe(aws, &desired.blueprint, g).await?;
    // The key the gateway signs with, as the rotation decides it from SSM: the health report
    // and the reports compare the instance with that key's rendering.
    let rotated = desired.with_gateway_keys(Some(&o));
    let g: &DesiredGateway = rotated.gateway.as_ref().unwrap_or(g);
    let eip = o.eip();
    let instance = o.serving(g.via_ses()).filter(|i| i.state.is_live());
    let pending = eip.and_then(|e| e.ptr_update.clone());
    // The interface the instance is on, else the one the Elastic IP is on (between a
    // replacement's termination and launch).
    let interface = o.network_interfaces.iter().find(|n| {
        instance.and_then(|i| i.network_interface.as_ref()) == Some(&n.id)
            || instance.is_none()
                && eip.and_then(|e| e.network_interface_id.as_ref()) == Some(&n.id)
    });
    Ok(GatewayStatus {
        hostname: g.hostname.clone(),
        instance: instance.map(|i| format!("{} ({})", i.id, i.state)),
        private_ip: instance
            .and_then(|i| i.private_ip.clone())
            .or_else(|| interface.map(|n| n.private_ip.clone())),
        network_interface: interface.map(|n| n.id.clone()),
        image: instance.map(
            |i| match crate::kinds::gateway::diff::image_age(&o, &i.image_id) {
                Some((day, days)) => format!("{} (built {day}, {days} days ago)", i.image_id),
                None => i.image_id.clone(),
            },
        ),
        health: instance
            .and_then(|i| crate::kinds::gateway::health::state(g, &o, i))
            .map(|s| crate::kinds::gateway::health::summary(&s)),
        elastic_ip: eip.map(|e| e.public_ip.clone()),
        reverse_dns: eip.and_then(|e| e.ptr.clone()),
        reverse_dns_pending: pending
            .as_ref()
            .map(|p| format!("{} {}", p.value, p.status)),
        reports: crate::kinds::gateway::diff::reports(g, &o, pending),
        ses_relay: g.via_ses().then(|| {
            match o
                .smtp_credentials
                .as_ref()
                .and_then(|c| c.access_key.as_ref())
            {
                Some(key) => format!("SMTP credentials of access key {key} stored"),
                None => "no SMTP credentials stored yet (run `mailinfra apply`)".into(),
            }
        }),
        dkim_key: g.rotation.as_ref().map(|r| {
            if r.steps.is_empty() {
                r.stage.clone()
            } else {
                format!(
                    "{}; due now: the next `mailinfra apply` takes this step",
                    r.stage
                )
            }
        }),
    })
}

/// The gateway's readiness relaying through SES, once SES has been read: the credentials
/// (from the gateway's own status), the account's sandbox and the relayed domains'
/// verification. SES refuses mail from an identity it has not verified, and in the sandbox
/// sends only to verified addresses.
fn ses_readiness(status: &mut Status, relayed: &[String]) {
    let Some(g) = status.gateway.as_mut() else {
        return;
    };
    let Some(credentials) = g.ses_relay.take() else {
        return;
    };
    let mut stops = Vec::new();
    if credentials.starts_with("no ") {
        stops.push(credentials.clone());
    }
    if status.account.as_ref().is_some_and(|a| a.sandbox) {
        stops.push(
            "the SES account is in the sandbox: it delivers only to verified addresses, 200 a day"
                .into(),
        );
    }
    for d in status
        .domains
        .iter()
        .filter(|d| relayed.contains(&d.domain))
    {
        if d.state != State::Verified {
            stops.push(format!(
                "{} is not verified by SES yet ({})",
                d.domain,
                d.state.as_str()
            ));
        }
    }
    let quota = status.account.as_ref().map_or(String::new(), |a| {
        format!(
            "; quota {} messages a day, {} a second, {} sent in the last 24 h",
            a.account.max_24_hour_send, a.account.max_send_rate, a.account.sent_last_24_hours
        )
    });
    g.ses_relay = Some(match (stops.is_empty(), credentials.starts_with("no ")) {
        (true, _) => format!("ready ({credentials}{quota})"),
        (false, true) => format!("not ready: {}", stops.join("; ")),
        (false, false) => format!("not ready: {} ({credentials})", stops.join("; ")),
    });
}

/// The SES account and each blueprint domain's identity, as SES holds them.
async fn ses_status(
    aws: &Aws,
    desired: &Desired,
) -> Result<(AccountStatus, Vec<DomainStatus>), Failure> {
    let acct = crate::kinds::ses::observe::account(aws).await?;
    // Only the sets the blueprint's identities send through: one read each.
    let mut sets = BTreeMap::new();
    for name in desired
        .ses
        .identities
        .iter()
        .filter_map(|i| i.configuration_set.as_ref())
    {
        if !sets.contains_key(name) {
            let set = crate::kinds::ses::observe::config_set_if_any(aws, name.clone()).await?;
            sets.insert(name.clone(), set);
        }
    }
    let account = account_status(&acct, desired.ses.production_access.is_some());
    let mut domains = Vec::new();
    for id in &desired.ses.identities {
        let found = crate::kinds::ses::observe::identity_if_any(aws, id.domain.clone()).await?;
        let suppression = id
            .configuration_set
            .as_ref()
            .and_then(|c| sets.get(c)?.as_ref())
            .and_then(|s| s.suppression.clone());
        domains.push(domain_status(
            id,
            found.as_ref(),
            suppression,
            desired.region.as_deref(),
        ));
    }
    Ok((account, domains))
}

/// One domain: where SES stands with it (the SES kind's one rule, `verification::progress`)
/// and what a person can do about it.
fn domain_status(
    id: &DesiredIdentity,
    found: Option<&ObservedIdentity>,
    suppression: Option<Vec<SuppressionReason>>,
    region: Option<&str>,
) -> DomainStatus {
    let progress = verification::progress(id, found);
    let mut steps = Vec::new();
    match progress.state {
        State::Missing => steps.push("run `mailinfra apply` to create the identity and its DNS records".into()),
        State::Pending => steps.push(match &id.dkim {
            DkimSetting::Easy { .. } => "SES is checking for the 3 DKIM CNAMEs (up to 72 hours after they are published); `mailinfra plan` shows whether any is missing".into(),
            DkimSetting::External { selector } => format!("SES is checking for the DKIM TXT at {selector}._domainkey.{} (up to 72 hours)", id.domain),
        }),
        State::Failed => steps.push("SES stopped checking; make sure `mailinfra plan` shows no DNS changes, then set DKIM again (change `ses.dkim` and apply) to restart verification".into()),
        State::Verified => {}
    }
    let Some(o) = found else {
        return DomainStatus {
            domain: id.domain.clone(),
            state: progress.state,
            verification: None,
            dkim: None,
            dkim_key: None,
            dkim_signing_enabled: None,
            mail_from: id.mail_from.as_ref().map(|m| m.domain.clone()),
            mail_from_status: None,
            configuration_set: id.configuration_set.clone(),
            suppression,
            last_checked: None,
            next_steps: steps,
        };
    };
    if !o.signing_enabled {
        steps.push("DKIM signing is disabled; `mailinfra apply` turns it back on".into());
    }
    if let Some(m) = &id.mail_from
        && progress.mail_from_waiting()
    {
        steps.push(format!(
            "SES is checking the MAIL FROM MX at {} (it must point at feedback-smtp.{}.amazonses.com)",
            m.domain,
            region.unwrap_or("<region>")
        ));
    }
    if suppression.as_ref().is_some_and(Vec::is_empty) {
        steps.push("the configuration set suppresses nothing: bounced and complaining addresses will be mailed again".into());
    }
    DomainStatus {
        domain: id.domain.clone(),
        state: progress.state,
        verification: Some(o.verification.clone()),
        dkim: Some(match o.easy_dkim_key_text() {
            Some(key) => format!("{} {}, {key}", o.dkim_origin, o.dkim_status),
            None => format!("{} {}", o.dkim_origin, o.dkim_status),
        }),
        dkim_key: crate::kinds::ses::rotation::describe(
            id.key_policy.as_ref(),
            o,
            crate::kinds::rotation::unix_now(),
        ),
        dkim_signing_enabled: Some(o.signing_enabled),
        mail_from: o.mail_from.as_ref().map(|m| m.domain.clone()),
        mail_from_status: o.mail_from.as_ref().map(|m| m.status.clone()),
        configuration_set: o.configuration_set.clone(),
        suppression,
        last_checked: o.last_checked,
        next_steps: steps,
    }
}

fn account_status(a: &ObservedAccount, requested_in_blueprint: bool) -> AccountStatus {
    let mut steps = Vec::new();
    if !a.production_access {
        match &a.details.review_status {
            Some(
                s @ (ReviewStatus::Pending | ReviewStatus::Failed | ReviewStatus::Denied),
            ) => steps.push(format!(
                "AWS's review of the production-access request is {s}{}; watch the support case",
                a.details.case_id.as_ref().map(|c| format!(" (case {c})")).unwrap_or_default()
            )),
            _ if requested_in_blueprint => steps.push("`mailinfra apply` will request production access with the blueprint's details".into()),
            _ => steps.push(
                "the account is in the SES sandbox: it sends only to verified addresses, 200 a day. Request production access: add `ses: production_access: { mail_type, website_url, use_case }` to the blueprint and apply, or run `aws sesv2 put-account-details --production-access-enabled --mail-type TRANSACTIONAL --website-url https://<your site> --use-case-description \"<who receives the mail, how they opted in, how bounces and complaints are handled>\"`".into(),
            ),
        }
    }
    if a.details.suppression.is_empty() {
        steps.push("the account suppression list is off: set `ses: suppression: [bounce, complaint]` so addresses that bounce or complain stop being mailed".into());
    }
    AccountStatus {
        sandbox: !a.production_access,
        account: a.details.clone(),
        next_steps: steps,
    }
}

fn text(s: &Status) -> String {
    let mut out = String::new();
    if let Some(g) = &s.gateway {
        gateway_text(&mut out, g);
    }
    let Some(a) = &s.account else {
        if s.gateway.is_none() {
            let _ = writeln!(
                out,
                "blueprint `{}` has no Amazon SES domains and no gateway: nothing to report",
                s.blueprint
            );
        }
        return out;
    };
    account_text(&mut out, s.region.as_deref().unwrap_or("?"), a);
    for d in &s.domains {
        domain_text(&mut out, d);
    }
    out
}

fn gateway_text(out: &mut String, g: &GatewayStatus) {
    let _ = writeln!(out, "Relay gateway {}", g.hostname);
    let _ = writeln!(
        out,
        "  instance: {}",
        g.instance
            .as_deref()
            .unwrap_or("none (run `mailinfra apply`)")
    );
    if let Some(ip) = &g.private_ip {
        let _ = writeln!(
            out,
            "  senders relay to: {ip}{}",
            g.network_interface
                .as_ref()
                .map(|n| format!(" (network interface {n}, kept when the instance is replaced)"))
                .unwrap_or_else(|| {
                    " (the instance's own interface: it changes once, at the next replacement)"
                        .into()
                })
        );
    }
    if let Some(health) = &g.health {
        let _ = writeln!(out, "  health: {health}");
    }
    if let Some(relay) = &g.ses_relay {
        let _ = writeln!(out, "  relays through Amazon SES: {relay}");
    }
    if let Some(key) = &g.dkim_key {
        let _ = writeln!(out, "  dkim key: {key}");
    }
    if let Some(image) = &g.image {
        let _ = writeln!(out, "  image: {image}");
    }
    // Relaying through SES the gateway has no address of its own.
    if g.ses_relay.is_none() {
        let _ = writeln!(
            out,
            "  elastic ip: {}",
            g.elastic_ip.as_deref().unwrap_or("none")
        );
        let _ = writeln!(
            out,
            "  reverse dns: {}{}",
            g.reverse_dns.as_deref().unwrap_or("not set"),
            g.reverse_dns_pending
                .as_ref()
                .map(|p| format!(" (update {p})"))
                .unwrap_or_default()
        );
    }
    out.push_str(&crate::plan::render::reports(
        "To do and in progress:",
        &g.reports,
    ));
    out.push('\n');
}

fn account_text(out: &mut String, region: &str, a: &AccountStatus) {
    let _ = writeln!(out, "Amazon SES account ({region})");
    let _ = writeln!(
        out,
        "  {}; quota {} messages a day, {} a second; sent in the last 24 h: {}",
        if a.sandbox {
            "sandbox"
        } else {
            "production access"
        },
        a.account.max_24_hour_send,
        a.account.max_send_rate,
        a.account.sent_last_24_hours
    );
    let _ = writeln!(
        out,
        "  suppression list: {}",
        if a.account.suppression.is_empty() {
            "off".into()
        } else {
            list(&a.account.suppression)
        }
    );
    steps_text(out, &a.next_steps);
}

fn domain_text(out: &mut String, d: &DomainStatus) {
    let _ = writeln!(out, "\n{}: {}", d.domain, d.state.as_str());
    if let Some(v) = &d.verification {
        let _ = writeln!(out, "  verification: {v}");
    }
    if let Some(k) = &d.dkim {
        let _ = writeln!(out, "  dkim: {k}");
    }
    if let Some(k) = &d.dkim_key {
        let _ = writeln!(out, "  dkim key: {k}");
    }
    if let Some(m) = &d.mail_from {
        let _ = writeln!(
            out,
            "  mail_from: {m} {}",
            d.mail_from_status
                .as_ref()
                .map_or("", VerificationStatus::as_str)
        );
    }
    if let Some(c) = &d.configuration_set {
        let sup = match d.suppression.as_deref() {
            None => "the account's suppression list".into(),
            Some([]) => "no suppression".into(),
            Some(reasons) => format!("suppresses {}", list(reasons)),
        };
        let _ = writeln!(out, "  configuration set: {c} ({sup})");
    }
    steps_text(out, &d.next_steps);
}

fn steps_text(out: &mut String, steps: &[String]) {
    for step in steps {
        let _ = writeln!(out, "  -> {step}");
    }
}

fn list(reasons: &[SuppressionReason]) -> String {
    let names: Vec<&str> = reasons.iter().map(SuppressionReason::as_str).collect();
    names.join(", ")
}
