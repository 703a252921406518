//! Checks of meaning on a structurally sound blueprint: names, ranges, SPF lookups, DMARC
//! URIs, DKIM keys, record collisions, adoption entries. Every problem is reported; nothing
//! stops at the first.

use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr};

use super::*;
use crate::mail::record::{Purpose, RType};
use crate::mail::{dkim, dmarc, names, spf, txt};

/// TTL bounds: under a minute many resolvers clamp anyway; over a week hides a fix for days.
pub const TTL_RANGE: std::ops::RangeInclusive<u32> = 60..=604_800;

struct Checks {
    diags: Vec<Diagnostic>,
}

impl Checks {
    fn err(&mut self, pos: Pos, path: &str, msg: impl Into<String>, hint: impl Into<String>) {
        self.diags
            .push(Diagnostic::new(Some(pos), path, msg).hint(hint));
    }

    fn ttl(&mut self, ttl: &Option<Spanned<u32>>, path: &str) {
        if let Some(t) = ttl
            && !TTL_RANGE.contains(&t.value)
        {
            self.err(
                t.pos,
                path,
                format!("TTL {} is out of range", t.value),
                format!(
                    "use {} to {} seconds (300 is a good default)",
                    TTL_RANGE.start(),
                    TTL_RANGE.end()
                ),
            );
        }
    }

    fn txt(&mut self, text: &str, pos: Pos, path: &str, what: &str) {
        if let Err(why) = txt::representable(text) {
            self.err(
                pos,
                path,
                format!("the {what} record {why}"),
                "shorten the values that make up this record",
            );
        }
    }

    /// A host name at `path`: false, with a diagnostic, when it is not one.
    fn host(&mut self, name: &Spanned<String>, path: &str, what: &str, hint: &str) -> bool {
        let checked = names::check_hostname(&name.value);
        if let Err(why) = &checked {
            self.err(
                name.pos,
                path,
                format!("`{}` is not a valid {what}: it {why}", name.value),
                hint,
            );
        }
        checked.is_ok()
    }

    /// A DKIM selector: one DNS label; `example` is shown in the hint.
    fn selector(&mut self, selector: &Spanned<String>, path: &str, example: &str) {
        if let Err(why) = names::check_label(&selector.value) {
            self.err(
                selector.pos,
                path,
                format!("selector `{}` {why}", selector.value),
                format!("a selector is one DNS label, e.g. {example}"),
            );
        }
    }
}

/// SPF records longer than this risk a DNS answer over 512 bytes, which some resolvers and
/// middleboxes mishandle (no EDNS0, no TCP fallback): a permerror or temperror at receivers.
pub const SPF_SIZE_WARNING: usize = 450;

/// What a valid blueprint asks for that works against it at receivers: warnings, not
/// errors. `validate` prints them; nothing fails on them.
pub fn advisories(bp: &Blueprint) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for d in &bp.domains {
        let domain = &d.domain.value;
        if let (Some(m), Some(mf)) = (&d.dmarc, d.ses.as_ref().and_then(|s| s.mail_from.as_ref()))
            && m.aspf == Some(Alignment::Strict)
        {
            out.push(
                Diagnostic::new(
                    Some(m.pos),
                    format!("{}.dmarc.aspf", d.path),
                    format!(
                        "`aspf: strict` with the MAIL FROM domain `{}`: SPF passes for `{}`, which is not `{domain}`, so SPF never aligns and DMARC rests on DKIM alone",
                        mf.domain.value, mf.domain.value
                    ),
                )
                .hint("drop `aspf: strict` (relaxed alignment accepts a subdomain of the same organizational domain)"),
            );
        }
        if let Some(s) = &d.spf {
            // The gateway's `ip4:` (up to 20 bytes with its space) comes with it at plan time.
            let gateway = if d.via_gateway.is_some() { 20 } else { 0 };
            let size = spf::compose(s).len() + gateway;
            if size > SPF_SIZE_WARNING {
                out.push(
                    Diagnostic::new(
                        Some(s.pos),
                        format!("{}.spf", d.path),
                        format!(
                            "the SPF record is about {size} bytes; over {SPF_SIZE_WARNING} the DNS answer may exceed 512 bytes, which some resolvers mishandle"
                        ),
                    )
                    .hint("merge `ip4:` ranges into wider ones, or move senders into an `include:` of a record of their own"),
                );
            }
        }
    }
    out
}

/// Parses a record address `dns.<name>.<TYPE>` into its name and type.
pub fn parse_address(address: &str) -> Option<(String, String)> {
    let rest = address.strip_prefix("dns.")?;
    let (name, rtype) = rest.rsplit_once('.')?;
    if name.is_empty() || rtype.is_empty() || !rtype.chars().all(|c| c.is_ascii_uppercase()) {
        return None;
    }
    Some((names::normalize(name), rtype.to_owned()))
}

pub(super) fn check(bp: &Blueprint) -> Vec<Diagnostic> {
    let mut c = Checks { diags: Vec::new() };
    blueprint_name(&mut c, &bp.name);
    if let Some(r) = &bp.region {
        region(&mut c, r);
    }
    c.ttl(&bp.ttl, "ttl");
    let owners = gateway_and_domains(&mut c, bp);
    if let Some(ses) = &bp.ses {
        ses_account(&mut c, ses);
    }
    for d in &bp.domains {
        if let Some(ses) = &d.ses
            && bp.region.is_none()
        {
            c.err(
                ses.pos,
                &format!("{}.send_via", d.path),
                "Amazon SES is regional, and the blueprint names no region",
                ADD_REGION,
            );
        }
    }
    adopt(&mut c, bp, &owners);
    c.diags
}

/// The hint for a regional service in a blueprint without `region:`.
const ADD_REGION: &str = "add `region: <aws region>` at the top, e.g. `region: eu-west-1`";

fn blueprint_name(c: &mut Checks, name: &Spanned<String>) {
    let n = &name.value;
    let valid = !n.is_empty()
        && n.len() <= 63
        && n.starts_with(|ch: char| ch.is_ascii_lowercase() || ch.is_ascii_digit())
        && n.chars()
            .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '-');
    if !valid {
        c.err(
            name.pos,
            "blueprint",
            format!("`{n}` is not a valid blueprint name"),
            "use 1 to 63 lower-case letters, digits and hyphens, starting with a letter or digit",
        );
    }
}

fn region(c: &mut Checks, r: &Spanned<String>) {
    let parts: Vec<&str> = r.value.split('-').collect();
    let ok = parts.len() >= 3
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|ch| ch.is_ascii_lowercase()))
        && parts[parts.len() - 1].parse::<u8>().is_ok();
    if !ok {
        c.err(
            r.pos,
            "region",
            format!("`{}` is not an AWS region name", r.value),
            "use a region code such as `eu-west-1` or `ap-northeast-1`",
        );
    } else if let Some(known) = crate::aws::partition::misspelt(&r.value) {
        c.err(
            r.pos,
            "region",
            format!("`{}` is not an AWS region", r.value),
            format!("did you mean `{known}`?"),
        );
    }
}

/// Who writes each record: (name, type) -> (the entry's path, the record's purpose).
type Owners = HashMap<(String, RType), (String, &'static str)>;

/// Checks the gateway and every domain, and the records two entries would both write;
/// returns who writes each record, for the `adopt:` check.
fn gateway_and_domains(c: &mut Checks, bp: &Blueprint) -> Owners {
    let mut owners = Owners::new();
    let selector = bp.gateway.as_ref().and_then(|g| g.signing_selector());
    if let Some(g) = &bp.gateway {
        gateway(c, g, bp.region.is_some());
        iam_names(c, &bp.name);
        if g.relay_via() == RelayVia::Ses {
            ses_smtp_user_name(c, &bp.name);
        }
        owners.insert(
            (g.hostname.value.clone(), RType::A),
            ("gateway".into(), Purpose::GatewayA.label()),
        );
        // The hostname's SPF and DKIM key (for its bounces), unless the hostname is one of
        // the domains, whose entry then writes them.
        if !bp
            .domains
            .iter()
            .any(|d| d.domain.value == g.hostname.value)
        {
            owners.insert(
                (g.hostname.value.clone(), RType::Txt),
                ("gateway".into(), "gateway SPF"),
            );
            owners.insert(
                (
                    dkim::record_name(&g.dkim.selector.value, &g.hostname.value),
                    RType::Txt,
                ),
                ("gateway".into(), Purpose::GatewayDkim.label()),
            );
        }
    }
    for d in &bp.domains {
        domain(c, d);
        if let Some(pos) = d.via_gateway
            && bp.gateway.is_none()
        {
            c.err(
                pos,
                &format!("{}.send_via", d.path),
                "the domain sends via the gateway, but the blueprint has no `gateway:`",
                "add a `gateway:` section (hostname, relay_from), or send via `ses`",
            );
        }
        if let Some(pos) = d.via_gateway {
            relayed_through_ses(c, bp, d, pos);
        }
        for RecordKey {
            name: rname,
            rtype,
            purpose,
            pos,
        } in d.records(selector)
        {
            let what = purpose.label();
            let key = (rname.clone(), rtype.clone());
            if let Some((other, other_what)) = owners.get(&key) {
                c.err(
                    pos,
                    &d.path,
                    format!(
                        "the {what} record `{rname}` {rtype} is also produced by {other} ({other_what})"
                    ),
                    "two entries cannot own one record; merge them into one domain entry",
                );
            } else {
                owners.insert(key, (d.path.clone(), what));
            }
        }
    }
    owners
}

/// With `relay_via: ses`, SES sends the gateway's mail: SES refuses a From domain that is
/// not a verified identity, and signs with the identity's DKIM. So every domain the gateway
/// relays for must be one of the blueprint's SES identities.
fn relayed_through_ses(c: &mut Checks, bp: &Blueprint, d: &DomainSpec, pos: Pos) {
    let Some(relay_via) = bp.gateway.as_ref().and_then(|g| g.relay_via.as_ref()) else {
        return;
    };
    if relay_via.value == RelayVia::Ses && d.ses.is_none() {
        c.err(
            pos,
            &format!("{}.send_via", d.path),
            format!(
                "the gateway relays through Amazon SES (`relay_via: ses`, line {}), but `{}` is not an SES identity of the blueprint: SES refuses mail from a domain it has not verified",
                relay_via.pos.line, d.domain.value
            ),
            "add `ses` to the domain's `send_via` (`send_via: [ses, gateway]`), or set `relay_via: direct`",
        );
    }
}

fn adopt(c: &mut Checks, bp: &Blueprint, owners: &Owners) {
    for (i, a) in bp.adopt.iter().enumerate() {
        let path = format!("adopt[{i}]");
        if ses_address(bp, &a.value) {
            continue;
        }
        match parse_address(&a.value) {
            None => c.err(
                a.pos,
                &path,
                format!("`{}` is not an address mailinfra manages", a.value),
                "write the address the plan printed, like `dns.example.com.TXT` or `ses.identity.example.com`",
            ),
            Some((rname, rtype)) => {
                // Easy DKIM's CNAMEs are known by pattern (`*._domainkey.<domain>`): the plan
                // names each by its token.
                let manages = |(n, t): &(String, RType)| {
                    t.as_str() == rtype
                        && crate::kinds::records::ownership::name_matches(n, &rname)
                };
                if !owners.keys().any(manages) {
                    c.err(
                        a.pos,
                        &path,
                        format!("`{}` is not a record this blueprint manages", a.value),
                        "adopt only records the blueprint describes; remove this entry",
                    );
                }
            }
        }
    }
}

/// Private IPv4 space: RFC 1918 and RFC 6598 (shared address space). A relay range outside
/// it lets the internet relay through the gateway: an open relay, blocklisted within hours.
const PRIVATE_V4: &[(Ipv4Addr, u8)] = &[
    (Ipv4Addr::new(10, 0, 0, 0), 8),
    (Ipv4Addr::new(172, 16, 0, 0), 12),
    (Ipv4Addr::new(192, 168, 0, 0), 16),
    (Ipv4Addr::new(100, 64, 0, 0), 10),
];

/// Whether a CIDR range lies inside private IPv4 space.
pub fn is_private_range(addr: Ipv4Addr, prefix: u8) -> bool {
    PRIVATE_V4.iter().any(|(net, bits)| {
        let mask = |b: u8| {
            if b == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(b))
            }
        };
        prefix >= *bits && u32::from(addr) & mask(*bits) == u32::from(*net)
    })
}

fn gateway(c: &mut Checks, g: &GatewaySpec, has_region: bool) {
    if !has_region {
        c.err(
            g.pos,
            "gateway",
            "the gateway runs in EC2, which is regional, and the blueprint names no region",
            ADD_REGION,
        );
    }
    let h = &g.hostname;
    let hint = "write the gateway's name, e.g. `mail.example.com`";
    if c.host(h, "gateway.hostname", "host name", hint)
        && !names::is_within(&h.value, &g.zone_name())
    {
        c.err(
            h.pos,
            "gateway.hostname",
            format!("`{}` is outside its zone `{}`", h.value, g.zone_name()),
            "set `zone:` to the hosted zone that holds the hostname",
        );
    }
    relay_ranges(c, g);
    if g.submission {
        c.err(
            g.pos,
            "gateway.submission",
            "`submission: true` is no longer accepted: port 587 without authentication would be a second port 25, open to the same hosts with none of what submission promises (SASL, forced TLS)",
            "remove the line; applications send through the gateway on port 25 from `relay_from`",
        );
    }
    instance(c, g);
    c.selector(&g.dkim.selector, "gateway.dkim.selector", "`mta1`");
    rotation(
        c,
        "gateway.dkim",
        &g.dkim.selector,
        g.dkim.rotate_every.as_ref(),
        g.dkim.retire_after.as_ref(),
    );
    if let Some(sc) = &g.smtp_credentials {
        smtp_credentials(c, g, sc);
    }
    if let Some(p) = &g.postmaster
        && !is_mailbox(&p.value)
    {
        c.err(
            p.pos,
            "gateway.postmaster",
            format!("`{}` is not an email address Postfix can use", p.value),
            "write a plain address such as `ops@example.com` (letters, digits and . _ % + - before the @)",
        );
    }
    if let Some(d) = &g.delivery {
        delivery(c, d);
    }
    if let Some(r) = &g.reboot_window
        && !is_clock(&r.value)
    {
        c.err(
            r.pos,
            "gateway.reboot_window",
            format!("`{}` is not a time of day", r.value),
            "write `HH:MM`, 24-hour, in UTC, e.g. `04:00` (the default)",
        );
    }
}

/// `HH:MM`, 24-hour.
fn is_clock(text: &str) -> bool {
    let Some((h, m)) = text.split_once(':') else {
        return false;
    };
    let two = |s: &str| s.len() == 2 && s.chars().all(|ch| ch.is_ascii_digit());
    two(h) && two(m) && h < "24" && m < "60"
}

/// `local@host`, with a local part main.cf takes as it is (no quotes, spaces or commas).
fn is_mailbox(text: &str) -> bool {
    text.split_once('@').is_some_and(|(local, host)| {
        (1..=64).contains(&local.len())
            && local
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || "._%+-".contains(ch))
            && host.contains('.')
            && names::check_hostname(host).is_ok()
    })
}

/// A Postfix time with its unit: `30s`, `1h`, `1d`.
fn is_duration(text: &str) -> bool {
    text.len() >= 2
        && text.len() <= 6
        && text.ends_with(['s', 'm', 'h', 'd', 'w'])
        && text[..text.len() - 1].chars().all(|ch| ch.is_ascii_digit())
}

/// The longest selector of a key mailinfra rotates (the gateway's, BYODKIM): a rotation appends `-yyyymmdd` (and `-N` on a second
/// rotation the same day), and a DNS label holds 63 characters.
pub const MAX_ROTATED_SELECTOR: usize = 50;

/// A rotated DKIM key's settings (`gateway.dkim`, an identity's `ses.dkim.byodkim`, at
/// `path`): a selector a rotation can extend, times with their unit, a rotation period longer
/// than the overlap it needs.
fn rotation(
    c: &mut Checks,
    path: &str,
    selector: &Spanned<String>,
    rotate_every: Option<&Spanned<String>>,
    retire_after: Option<&Spanned<String>>,
) {
    if selector.value.len() > MAX_ROTATED_SELECTOR {
        c.err(
            selector.pos,
            &format!("{path}.selector"),
            format!(
                "selector `{}` is {} characters; a rotated key's is {MAX_ROTATED_SELECTOR} at most",
                selector.value,
                selector.value.len()
            ),
            "a rotation names the next key `<selector>-<yyyymmdd>`, which must stay one DNS label (63 characters)",
        );
    }
    let mut secs = |name: &str, v: Option<&Spanned<String>>, min: i64, min_text: &str| {
        let v = v?;
        match crate::blueprint::duration_secs(&v.value) {
            None => c.err(
                v.pos,
                &format!("{path}.{name}"),
                format!("`{}` is not a time with its unit", v.value),
                "write a whole number and a unit: h, d or w, e.g. `180d`, `26w`, `3d`",
            ),
            Some(n) if n < min => c.err(
                v.pos,
                &format!("{path}.{name}"),
                format!("`{}` is too short", v.value),
                format!("use {min_text} or more"),
            ),
            Some(n) => return Some((n, v.pos)),
        }
        None
    };
    let every = secs("rotate_every", rotate_every, 86_400, "`1d`");
    let retire = secs("retire_after", retire_after, 3_600, "`1h`");
    let retire = retire.map_or(crate::blueprint::DEFAULT_RETIRE_AFTER, |(n, _)| n);
    if let Some((every, pos)) = every
        && every <= retire
    {
        c.err(
            pos,
            &format!("{path}.rotate_every"),
            "the key would be due again before the last rotation retired the old one",
            "make `rotate_every` longer than `retire_after` (default `7d`)",
        );
    }
}

/// `gateway.smtp_credentials`: only relaying through SES has them; a rotation period of a
/// day or more.
fn smtp_credentials(
    c: &mut Checks,
    g: &crate::blueprint::GatewaySpec,
    sc: &crate::blueprint::SmtpCredentials,
) {
    if g.relay_via() != crate::blueprint::RelayVia::Ses {
        c.err(
            sc.pos,
            "gateway.smtp_credentials",
            "`smtp_credentials` belongs to a gateway that relays through SES; this one delivers directly and holds no SMTP credentials",
            "remove it, or set `relay_via: ses`",
        );
    }
    if let Some(v) = &sc.rotate_every {
        match crate::blueprint::duration_secs(&v.value) {
            None => c.err(
                v.pos,
                "gateway.smtp_credentials.rotate_every",
                format!("`{}` is not a time with its unit", v.value),
                "write a whole number and a unit: h, d or w, e.g. `90d`",
            ),
            Some(n) if n < 86_400 => c.err(
                v.pos,
                "gateway.smtp_credentials.rotate_every",
                format!("`{}` is too short", v.value),
                "use `1d` or more: each rotation replaces the gateway's instance",
            ),
            Some(_) => {}
        }
    }
}

/// `gateway.delivery`: limits within reason, times with their unit.
fn delivery(c: &mut Checks, d: &GatewayDelivery) {
    if let Some(n) = &d.destination_concurrency
        && !(1..=20).contains(&n.value)
    {
        c.err(
            n.pos,
            "gateway.delivery.destination_concurrency",
            format!(
                "{} parallel deliveries per destination is out of range",
                n.value
            ),
            "use 1 to 20 (2 suits a new address; Postfix's own default is 20)",
        );
    }
    for (path, value) in [
        ("destination_rate_delay", &d.destination_rate_delay),
        ("queue_lifetime", &d.queue_lifetime),
        ("bounce_lifetime", &d.bounce_lifetime),
        ("delay_warning", &d.delay_warning),
    ] {
        if let Some(v) = value
            && !is_duration(&v.value)
        {
            c.err(
                v.pos,
                &format!("gateway.delivery.{path}"),
                format!("`{}` is not a time with its unit", v.value),
                "write a whole number and a unit: s, m, h, d or w, e.g. `1s`, `12h`, `1d`",
            );
        }
    }
    if let Some(n) = &d.message_size_limit
        && !(1_048_576..=104_857_600).contains(&n.value)
    {
        c.err(
            n.pos,
            "gateway.delivery.message_size_limit",
            format!("{} bytes is out of range", n.value),
            "use 1048576 (1 MiB) to 104857600 (100 MiB); Gmail accepts 25 MB, SES 40 MB",
        );
    }
}

/// `relay_from`: at least one range, each private (or the gateway is an open relay).
fn relay_ranges(c: &mut Checks, g: &GatewaySpec) {
    if g.relay_from.is_empty() {
        c.err(
            g.pos,
            "gateway.relay_from",
            "`relay_from` is empty: no one could send through the gateway",
            "list the VPC range of the application instances, e.g. `[10.0.0.0/16]`",
        );
    }
    for (i, r) in g.relay_from.iter().enumerate() {
        let path = format!("gateway.relay_from[{i}]");
        match cidr::<Ipv4Addr>(&r.value, 32) {
            Some((a, p)) if !is_private_range(a, p) => c.err(
                r.pos,
                &path,
                format!("`{}` is not private address space: relaying for it makes the gateway an open relay", r.value),
                "allow only your VPC's private ranges (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, 100.64.0.0/10)",
            ),
            // EC2 stores the network address: with host bits set, every plan would show the
            // rule as missing and the stored one as extra.
            Some((a, p)) if network(a, p) != a => c.err(
                r.pos,
                &path,
                format!("`{}` has host bits set: the range it means is `{}/{p}`", r.value, network(a, p)),
                format!("write `{}/{p}`", network(a, p)),
            ),
            Some(_) => {}
            None => c.err(
                r.pos,
                &path,
                format!("`{}` is not an IPv4 address or CIDR range", r.value),
                "write a range such as `10.0.0.0/16`",
            ),
        }
    }
}

/// The gateway's role and instance profile are named after the blueprint; IAM refuses names
/// over 64 characters, which would fail apply halfway.
fn iam_names(c: &mut Checks, name: &Spanned<String>) {
    let role = crate::mail::gateway::role_name(&name.value);
    let max = crate::mail::gateway::IAM_NAME_MAX;
    if role.len() > max {
        c.err(
            name.pos,
            "blueprint",
            format!(
                "with a gateway, the blueprint name makes the IAM role `{role}`, {} characters; IAM allows {max}",
                role.len()
            ),
            format!(
                "shorten the blueprint name to {} characters or fewer",
                max - (role.len() - name.value.len())
            ),
        );
    }
}

/// With `relay_via: ses`, the SMTP credential's IAM user is named after the blueprint too
/// (`mailinfra-<name>-ses-smtp`, one character longer than the role); IAM allows 64 for a
/// user name as for a role (IAM User Guide, "IAM and AWS STS quotas"). Only when the role's
/// name fits, so that one name is not reported twice.
fn ses_smtp_user_name(c: &mut Checks, name: &Spanned<String>) {
    let user = crate::mail::ses_smtp::user_name(&name.value);
    let max = crate::mail::gateway::IAM_NAME_MAX;
    if user.len() > max && crate::mail::gateway::role_name(&name.value).len() <= max {
        c.err(
            name.pos,
            "blueprint",
            format!(
                "with `relay_via: ses`, the blueprint name makes the IAM user `{user}`, {} characters; IAM allows {max}",
                user.len()
            ),
            format!(
                "shorten the blueprint name to {} characters or fewer",
                max - (user.len() - name.value.len())
            ),
        );
    }
}

/// The gateway instance's type, image and subnet.
fn instance(c: &mut Checks, g: &GatewaySpec) {
    let t = &g.instance_type;
    if !t.value.split_once('.').is_some_and(|(a, b)| {
        !a.is_empty()
            && !b.is_empty()
            && t.value
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '.' || ch == '-')
    }) {
        c.err(
            t.pos,
            "gateway.instance_type",
            format!("`{}` is not an EC2 instance type", t.value),
            "write a type such as `t3.micro`",
        );
    }
    let i = &g.image;
    let ami = i
        .value
        .strip_prefix("ami-")
        .is_some_and(|h| (8..=17).contains(&h.len()) && h.chars().all(|ch| ch.is_ascii_hexdigit()));
    if i.value != "debian-12" && !ami {
        c.err(
            i.pos,
            "gateway.image",
            format!("`{}` is not `debian-12` or an AMI id", i.value),
            "use `debian-12` (the default gateway image) or an id such as `ami-0123456789abcdef0`",
        );
    }
    if let Some(s) = &g.subnet
        && !s
            .value
            .strip_prefix("subnet-")
            .is_some_and(|h| !h.is_empty() && h.chars().all(|ch| ch.is_ascii_hexdigit()))
    {
        c.err(
            s.pos,
            "gateway.subnet",
            format!("`{}` is not a subnet id", s.value),
            "write an id such as `subnet-0abc1234`, or leave it out for a default subnet",
        );
    }
}

/// Whether `address` names an SES resource the blueprint manages (adoptable).
fn ses_address(bp: &Blueprint, address: &str) -> bool {
    bp.domains
        .iter()
        .any(|d| d.ses.is_some() && address == format!("ses.identity.{}", d.domain.value))
        || bp.ses.as_ref().is_some_and(|s| {
            s.configuration_sets
                .iter()
                .any(|cs| address == format!("ses.configuration_set.{}", cs.name.value))
        })
}

fn ses_account(c: &mut Checks, ses: &SesAccountSpec) {
    let mut names: HashMap<&str, usize> = HashMap::new();
    for (i, cs) in ses.configuration_sets.iter().enumerate() {
        let path = format!("ses.configuration_sets[{i}].name");
        let n = &cs.name;
        let ok = !n.value.is_empty()
            && n.value.len() <= 64
            && n.value
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_');
        if !ok {
            c.err(
                n.pos,
                &path,
                format!("`{}` is not a valid configuration set name", n.value),
                "use 1 to 64 letters, digits, `-` and `_`",
            );
        }
        if let Some(first) = names.insert(&n.value, i) {
            c.err(
                n.pos,
                &path,
                format!(
                    "configuration set `{}` is already defined at ses.configuration_sets[{first}]",
                    n.value
                ),
                "give each configuration set one entry",
            );
        }
    }
    if let Some(pa) = &ses.production_access {
        let url = &pa.website_url;
        if !(url.value.starts_with("https://") || url.value.starts_with("http://")) {
            c.err(
                url.pos,
                "ses.production_access.website_url",
                format!("`{}` is not a web address", url.value),
                "AWS reviews the site that sends the mail: give its https:// address",
            );
        }
        if pa.use_case.value.trim().len() < 20 {
            c.err(
                pa.use_case.pos,
                "ses.production_access.use_case",
                "the use case is too short for AWS to review",
                "describe who receives the mail, how they opted in, and how bounces and complaints are handled",
            );
        }
        for a in &pa.additional_contacts {
            if !a.value.contains('@') {
                c.err(
                    a.pos,
                    "ses.production_access.additional_contacts",
                    format!("`{}` is not an email address", a.value),
                    "list addresses AWS may write to about the request",
                );
            }
        }
    }
}

fn domain(c: &mut Checks, d: &DomainSpec) {
    let dom = &d.domain;
    let path = format!("{}.domain", d.path);
    c.host(
        dom,
        &path,
        "domain name",
        "write the mail domain, e.g. `example.com`",
    );
    if let Some(z) = &d.zone {
        let hint = "write the hosted zone's name, e.g. `example.com`";
        if c.host(z, &format!("{}.zone", d.path), "zone name", hint)
            && !names::is_within(&dom.value, &z.value)
        {
            c.err(
                dom.pos,
                &path,
                format!("`{}` is outside its zone `{}`", dom.value, z.value),
                format!(
                    "set `zone:` to the hosted zone that holds `{}` (the domain itself or a parent)",
                    dom.value
                ),
            );
        }
    }
    c.ttl(&d.ttl, &format!("{}.ttl", d.path));
    if let Some(s) = &d.spf {
        spf(c, s, &format!("{}.spf", d.path));
    }
    if let Some(m) = &d.dmarc {
        dmarc(c, m, &format!("{}.dmarc", d.path));
    }
    if let Some(ses) = &d.ses {
        ses_domain(c, d, ses);
    }
    for (i, k) in d.dkim.iter().enumerate() {
        dkim_key(c, k, &d.domain.value, &format!("{}.dkim[{i}]", d.path));
    }
}

fn spf(c: &mut Checks, s: &SpfSpec, sp: &str) {
    let v4 = |t: &str| cidr::<Ipv4Addr>(t, 32).is_some();
    let v6 = |t: &str| cidr::<Ipv6Addr>(t, 128).is_some();
    let (ip4, ip6) = (format!("{sp}.ip4"), format!("{sp}.ip6"));
    spf_ranges(
        c,
        &s.ip4,
        &ip4,
        "IPv4",
        v4,
        "`192.0.2.10` or `192.0.2.0/24`",
    );
    spf_ranges(c, &s.ip6, &ip6, "IPv6", v6, "`2001:db8::/32`");
    internet_wide(c, &s.ip4, &ip4, |t| {
        cidr::<Ipv4Addr>(t, 32).map(|(_, p)| (p, 8))
    });
    internet_wide(c, &s.ip6, &ip6, |t| {
        cidr::<Ipv6Addr>(t, 128).map(|(_, p)| (p, 16))
    });
    for r in &s.include {
        let ok = r.value.split('.').count() >= 2
            && r.value.split('.').all(|l| names::check_label(l).is_ok());
        if !ok {
            c.err(
                r.pos,
                &format!("{sp}.include"),
                format!("`{}` is not a domain name to include", r.value),
                "write the sender's SPF domain, e.g. `_spf.google.com`",
            );
        }
    }
    let n = spf::lookups(s);
    if n > spf::MAX_LOOKUPS {
        c.err(
            s.pos,
            sp,
            format!(
                "SPF needs {n} DNS lookups; receivers allow {} (RFC 7208 §4.6.4)",
                spf::MAX_LOOKUPS
            ),
            "list senders by `ip4:`/`ip6:` range instead of `include:`, or drop unused includes",
        );
    }
    c.txt(&spf::compose(s), s.pos, sp, "SPF");
}

/// A range no single sender holds (an IPv4 prefix shorter than /8, an IPv6 one shorter than
/// /16, down to `0.0.0.0/0`) authorizes a good part of the internet to send as the domain:
/// refused, as `all: pass` is. `prefix` gives a range's prefix and the shortest allowed.
fn internet_wide(
    c: &mut Checks,
    ranges: &[Spanned<String>],
    path: &str,
    prefix: impl Fn(&str) -> Option<(u8, u8)>,
) {
    for r in ranges {
        if let Some((p, min)) = prefix(&r.value)
            && p < min
        {
            c.err(
                r.pos,
                path,
                format!(
                    "`{}` authorizes a large part of the internet to send as this domain",
                    r.value
                ),
                format!(
                    "list the senders' own ranges (no sender holds one shorter than /{min}); `all: pass` is refused for the same reason"
                ),
            );
        }
    }
}

/// `ip4:` or `ip6:` ranges: each an address of the `family`, with an optional prefix.
fn spf_ranges(
    c: &mut Checks,
    ranges: &[Spanned<String>],
    path: &str,
    family: &str,
    parses: impl Fn(&str) -> bool,
    example: &str,
) {
    for r in ranges.iter().filter(|r| !parses(&r.value)) {
        c.err(
            r.pos,
            path,
            format!("`{}` is not an {family} address or range", r.value),
            format!("write an address or CIDR range, e.g. {example}"),
        );
    }
}

fn dmarc(c: &mut Checks, m: &DmarcSpec, mp: &str) {
    for (key, list) in [("rua", &m.rua), ("ruf", &m.ruf)] {
        for u in list {
            if let Err(why) = dmarc::check_report_uri(&u.value) {
                c.err(
                    u.pos,
                    &format!("{mp}.{key}"),
                    format!("`{}` {why}", u.value),
                    "reports go to `mailto:` addresses, e.g. `mailto:dmarc@example.com`",
                );
            }
        }
    }
    if let Some(fo) = &m.fo
        && let Err(why) = dmarc::check_failure_options(&fo.value)
    {
        c.err(
            fo.pos,
            &format!("{mp}.fo"),
            format!("`{}` {why}", fo.value),
            "`1` asks for a report on any failure",
        );
    }
    c.txt(&dmarc::render(m), m.pos, mp, "DMARC");
}

/// A domain's `ses:` settings.
fn ses_domain(c: &mut Checks, d: &DomainSpec, ses: &SesDomainSpec) {
    let sp = format!("{}.ses", d.path);
    if !d.send_via.iter().any(|v| v.value == Sender::Ses) {
        c.err(
            ses.pos,
            &sp,
            "`ses` settings are given but the domain does not send via SES",
            "add `send_via: [ses]` to the domain",
        );
    }
    if ses.mail_from_domain.is_none() {
        let options = [
            (
                "mail_from_on_mx_failure",
                ses.mail_from_on_mx_failure.as_ref().map(|s| s.pos),
            ),
            ("mail_from_spf", ses.mail_from_spf.as_ref().map(|s| s.pos)),
        ];
        for (key, pos) in options {
            if let Some(pos) = pos {
                c.err(
                    pos,
                    &format!("{sp}.{key}"),
                    format!("`{key}` is set but `mail_from` is not"),
                    "add `mail_from: bounce.<domain>` or remove this field",
                );
            }
        }
    }
    if let SesDkimSpec::Byo {
        selector,
        rotate_every,
        retire_after,
    } = &ses.dkim
    {
        c.selector(
            selector,
            &format!("{sp}.dkim.byodkim.selector"),
            "`mailinfra1`",
        );
        rotation(
            c,
            &format!("{sp}.dkim.byodkim"),
            selector,
            rotate_every.as_ref(),
            retire_after.as_ref(),
        );
    }
    if let Some(mf) = &ses.mail_from {
        mail_from(c, &mf.domain, &d.domain.value, &format!("{sp}.mail_from"));
    }
    if let Some(cs) = &ses.configuration_set
        && cs.value.is_empty()
    {
        c.err(
            cs.pos,
            &format!("{sp}.configuration_set"),
            "the configuration set name is empty",
            "name a configuration set",
        );
    }
}

/// The MAIL FROM domain: a subdomain of the mail domain `dom`.
fn mail_from(c: &mut Checks, m: &Spanned<String>, dom: &str, path: &str) {
    let hint = "write a subdomain such as `bounce.example.com`";
    if c.host(m, path, "domain name", hint) && (m.value == dom || !names::is_within(&m.value, dom))
    {
        c.err(
            m.pos,
            path,
            format!(
                "the MAIL FROM domain `{}` must be a subdomain of `{dom}`",
                m.value
            ),
            format!("use e.g. `bounce.{dom}`"),
        );
    }
}

/// One of a domain's `dkim:` keys: its selector, the record name's length, and the key.
fn dkim_key(c: &mut Checks, k: &DkimSpec, domain: &str, kp: &str) {
    let selector_path = format!("{kp}.selector");
    c.selector(&k.selector, &selector_path, "`mta1` or `2026-11`");
    let name = dkim::record_name(&k.selector.value, domain);
    if name.len() > names::MAX_NAME {
        c.err(
            k.selector.pos,
            &selector_path,
            format!("`{name}` is longer than {} characters", names::MAX_NAME),
            "use a shorter selector",
        );
    }
    if !k.public_key.pos.is_known() {
        // No key was given or its file could not be read: reported when it was read.
        return;
    }
    match dkim::rsa_key_bits(&k.public_key.value) {
        Err(why) => c.err(
            k.public_key.pos,
            kp,
            format!("the public key {why}"),
            "give the base64 (or PEM) SubjectPublicKeyInfo, as `openssl rsa -pubout` prints it",
        ),
        Ok(bits) if bits < dkim::MIN_RSA_BITS => c.err(
            k.public_key.pos,
            kp,
            format!("the DKIM key is {bits} bits; receivers refuse RSA keys under 1024 bits"),
            "generate a 2048-bit key: `openssl genrsa 2048`",
        ),
        Ok(_) => {}
    }
    c.txt(&dkim::record_text(&k.public_key.value), k.pos, kp, "DKIM");
}

/// An address with an optional `/prefix` of at most `max_prefix` bits; without one, the
/// prefix is `max_prefix` (a single address).
/// The network address of `a/prefix`.
fn network(a: Ipv4Addr, prefix: u8) -> Ipv4Addr {
    let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
    Ipv4Addr::from(u32::from(a) & mask)
}

fn cidr<A: std::str::FromStr>(text: &str, max_prefix: u8) -> Option<(A, u8)> {
    let (addr, prefix) = match text.split_once('/') {
        Some((a, p)) => (a, p.parse::<u8>().ok().filter(|p| *p <= max_prefix)?),
        None => (text, max_prefix),
    };
    Some((addr.parse::<A>().ok()?, prefix))
}
