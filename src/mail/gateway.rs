//! What the relay gateway runs, rendered from the blueprint: Postfix's main.cf settings,
//! OpenDKIM's configuration, key and signing tables, the instance's boot script, and the IAM
//! policies of its role. Pure: the private key is never an input; the boot script fetches it
//! from SSM with the instance's own role, before every start of opendkim.
//!
//! Settings follow DOMAIN.md: relay only for `mynetworks` (loopback plus `relay_from`),
//! `myhostname` = the name the A and PTR records give (so HELO matches), opportunistic TLS
//! out, OpenDKIM as a milter in signing mode with a KeyTable/SigningTable per domain. Mail
//! waits (`milter_default_action = tempfail`) while OpenDKIM is down or has no key; the key
//! is fetched before every start of opendkim (a systemd drop-in), so every boot fetches it.

use std::fmt::Write as _;

/// Everything the rendering needs; public values only.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Gateway {
    pub blueprint: String,
    pub hostname: String,
    pub region: String,
    pub relay_from: Vec<String>,
    pub selector: String,
    /// Domains whose mail the gateway signs (those with `send_via: [gateway]`).
    pub signing_domains: Vec<String>,
    /// The SSM SecureString holding the private key (PKCS#8 PEM).
    pub key_parameter: String,
    /// Where Postfix's notices to the postmaster go.
    pub postmaster: String,
    pub delivery: Delivery,
    /// Whether relay clients are refused at RCPT TO for addresses that bounced permanently.
    #[serde(default)]
    pub suppress_hard_bounces: bool,
    /// When the gateway may reboot after an update that needs it, `HH:MM` UTC.
    #[serde(default = "default_reboot_time")]
    pub reboot_time: String,
    /// Where the gateway sends on: each recipient's MX (signed by OpenDKIM), or Amazon SES.
    #[serde(default, skip_serializing_if = "Relay::is_direct")]
    pub relay: Relay,
}

/// Where the gateway sends the mail it relays.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Relay {
    /// To each recipient's MX from the Elastic IP, signed by OpenDKIM.
    #[default]
    Direct,
    /// To Amazon SES's SMTP endpoint, over verified TLS with SMTP credentials (SASL).
    Ses {
        /// `email-smtp.<region>.amazonaws.com` (`ses_smtp::endpoint`).
        endpoint: String,
        /// The SSM SecureString holding `<SMTP user name>:<SMTP password>`.
        credentials_parameter: String,
    },
}

impl Relay {
    pub fn is_direct(&self) -> bool {
        matches!(self, Relay::Direct)
    }
}

/// The reboot window's default: 04:00 UTC, night in Europe and evening in the Americas; the
/// reboot takes about a minute, and senders' queues hold the mail meanwhile.
pub fn default_reboot_time() -> String {
    "04:00".into()
}

/// unattended-upgrades' settings, in their own file after Debian's `50unattended-upgrades`.
pub const UNATTENDED_UPGRADES_PATH: &str = "/etc/apt/apt.conf.d/52mailinfra-unattended-upgrades";
/// APT's periodic jobs: update the lists and run unattended-upgrades every day.
pub const AUTO_UPGRADES_PATH: &str = "/etc/apt/apt.conf.d/20auto-upgrades";

/// How the gateway delivers: main.cf values, defaults for a new address sending
/// transactional mail (docs/gateway.md gives the reasons).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Delivery {
    /// `smtp_destination_concurrency_limit`.
    pub destination_concurrency: u32,
    /// `smtp_destination_rate_delay`.
    pub destination_rate_delay: String,
    /// `maximal_queue_lifetime`.
    pub queue_lifetime: String,
    /// `bounce_queue_lifetime`.
    pub bounce_lifetime: String,
    /// `delay_warning_time`.
    pub delay_warning: String,
    /// `message_size_limit`, bytes.
    pub message_size_limit: u32,
}

impl Default for Delivery {
    fn default() -> Self {
        Delivery {
            destination_concurrency: 2,
            destination_rate_delay: "1s".into(),
            queue_lifetime: "1d".into(),
            bounce_lifetime: "1d".into(),
            delay_warning: "1h".into(),
            message_size_limit: 10_240_000,
        }
    }
}

/// Where OpenDKIM keeps the key on the instance.
pub const KEY_DIR: &str = "/etc/opendkim/keys";
/// The milter's address, shared by opendkim.conf and main.cf.
pub const MILTER_PORT: u16 = 8891;
/// Postfix's table of the envelope senders relay clients may use (a regexp table).
pub const SENDER_ACCESS_PATH: &str = "/etc/postfix/mailinfra/sender_access";
/// Postfix's header_checks: removes internal Received lines, refuses foreign From domains.
pub const HEADER_CHECKS_PATH: &str = "/etc/postfix/mailinfra/header_checks";
/// The headers OpenDKIM signs: RFC 6376 section 5.4.1's list, with List-Unsubscribe-Post,
/// which RFC 8058 requires a signature to cover.
pub const SIGN_HEADERS: &str = "From,Sender,Reply-To,Subject,Date,Message-ID,To,Cc,MIME-Version,Content-Type,Content-Transfer-Encoding,Content-ID,Content-Description,Resent-Date,Resent-From,Resent-Sender,Resent-To,Resent-Cc,Resent-Message-ID,In-Reply-To,References,List-Id,List-Help,List-Unsubscribe,List-Unsubscribe-Post,List-Subscribe,List-Post,List-Owner,List-Archive";
/// Signed once more than they occur, so that none can be added after signing.
pub const OVERSIGN_HEADERS: &str = "From,Subject,Date,Message-ID,To,Reply-To";

/// With `relay_via: ses`: Postfix's SASL password map (`[endpoint]:587 user:password`),
/// written at boot from SSM, mode 0600, root's.
pub const SASL_PASSWORDS_PATH: &str = "/etc/postfix/mailinfra/sasl_passwd";
/// The trust store Postfix verifies SES's certificate with: Debian's `ca-certificates`.
pub const CA_FILE: &str = "/etc/ssl/certs/ca-certificates.crt";
/// The credentials fetch the Postfix drop-in runs before every start of Postfix.
pub const FETCH_CREDENTIALS_PATH: &str = "/usr/local/sbin/mailinfra-fetch-ses-credentials";
/// The systemd drop-in that runs the credentials fetch: on Debian the Postfix instance runs
/// as `postfix@-.service` (`postfix.service` only starts it).
pub const POSTFIX_DROP_IN_PATH: &str = "/etc/systemd/system/postfix@-.service.d/mailinfra.conf";

/// The key fetch the opendkim drop-in runs before every start of opendkim.
pub const FETCH_KEY_PATH: &str = "/usr/local/sbin/mailinfra-fetch-dkim-key";
/// The systemd drop-in that runs the key fetch.
pub const DROP_IN_PATH: &str = "/etc/systemd/system/opendkim.service.d/mailinfra.conf";
/// Where the key fetch records its last outcome: `dkim-key.fetched` (the time) or
/// `dkim-key.failed` (the time, attempts and the last error).
pub const STATE_DIR: &str = "/var/lib/mailinfra";
/// The bounce recorder (`record_bounces.py`): `record` reads Postfix's log lines, `restore`
/// rebuilds the suppression table at boot.
pub const RECORD_BOUNCES_PATH: &str = "/usr/local/sbin/mailinfra-bounces";
/// The Postfix access table of recipients that bounced permanently (`hash:`, so `postmap`
/// makes its `.db` and running smtpd processes see changes).
pub const BOUNCED_PATH: &str = "/etc/postfix/mailinfra/bounced";
/// The systemd units that feed the recorder Postfix's delivery log every minute.
pub const BOUNCES_SERVICE_PATH: &str = "/etc/systemd/system/mailinfra-bounces.service";
pub const BOUNCES_TIMER_PATH: &str = "/etc/systemd/system/mailinfra-bounces.timer";

/// The CloudWatch Logs group holding the gateway's hard bounces: it outlives the instance.
pub fn bounce_log_group(blueprint: &str) -> String {
    format!("/mailinfra/{blueprint}/gateway/bounces")
}

/// How long the bounce list keeps an address (CloudWatch Logs retention, days): a year, so
/// an address that bounced is remembered across a yearly sending cycle.
pub const BOUNCE_RETENTION_DAYS: i32 = 365;

/// The gateway's health report (`kinds::gateway::health`): the script, and the systemd
/// service and timer that run it every 5 minutes.
pub const HEALTH_PATH: &str = "/usr/local/sbin/mailinfra-report-health";
pub const HEALTH_SERVICE_PATH: &str = "/etc/systemd/system/mailinfra-health.service";
pub const HEALTH_TIMER_PATH: &str = "/etc/systemd/system/mailinfra-health.timer";

/// Where the gateway's DKIM keys live: `/mailinfra/<blueprint>/dkim/<selector>/{private,public}`.
pub fn dkim_key_prefix(blueprint: &str) -> String {
    format!("/mailinfra/{blueprint}/dkim/")
}

/// One half (`private` or `public`) of the gateway's DKIM key under `selector` (`*` for every
/// selector, in a policy).
pub fn dkim_key_parameter(blueprint: &str, selector: &str, half: &str) -> String {
    format!("{}{selector}/{half}", dkim_key_prefix(blueprint))
}

/// The SSM parameter the gateway reports its health to: the one parameter its role may write.
pub fn health_parameter(blueprint: &str) -> String {
    format!("/mailinfra/{blueprint}/gateway/health")
}

impl Gateway {
    pub fn key_path(&self) -> String {
        format!("{KEY_DIR}/{}.private", self.selector)
    }

    /// `postconf -e` settings for /etc/postfix/main.cf, in order.
    pub fn main_cf(&self) -> Vec<(&'static str, String)> {
        let mut networks = vec!["127.0.0.0/8".to_owned(), "[::1]/128".to_owned()];
        networks.extend(self.relay_from.iter().cloned());
        let settings = vec![
            ("myhostname", self.hostname.clone()),
            ("myorigin", "$myhostname".into()),
            ("mydestination", "localhost".into()),
            ("inet_interfaces", "all".into()),
            ("inet_protocols", "ipv4".into()),
            ("mynetworks", networks.join(" ")),
            (
                "smtpd_relay_restrictions",
                "permit_mynetworks, reject_unauth_destination".into(),
            ),
            (
                "smtpd_recipient_restrictions",
                if self.suppress_hard_bounces {
                    // Addresses that bounced permanently are refused before relaying, so
                    // the application learns at once and the address's reputation cost is
                    // paid only once.
                    format!(
                        "check_recipient_access hash:{BOUNCED_PATH}, permit_mynetworks, reject_unauth_destination"
                    )
                } else {
                    "permit_mynetworks, reject_unauth_destination".into()
                },
            ),
            // Relay clients send only as the domains the gateway signs.
            (
                "smtpd_sender_restrictions",
                format!("check_sender_access regexp:{SENDER_ACCESS_PATH}"),
            ),
            // Relay clients' mail gets a missing Message-ID and Date (and From), as mail
            // submitted on the gateway itself does; receivers such as Gmail refuse mail
            // without Message-ID.
            ("local_header_rewrite_clients", "permit_mynetworks".into()),
            ("always_add_missing_headers", "no".into()),
            ("header_checks", format!("regexp:{HEADER_CHECKS_PATH}")),
            ("smtp_tls_security_level", "may".into()),
            ("smtp_tls_protocols", ">=TLSv1.2".into()),
            ("smtp_tls_mandatory_protocols", ">=TLSv1.2".into()),
            ("smtp_tls_loglevel", "1".into()),
            ("smtpd_tls_security_level", "may".into()),
            (
                "message_size_limit",
                self.delivery.message_size_limit.to_string(),
            ),
            ("smtpd_milters", format!("inet:localhost:{MILTER_PORT}")),
            ("non_smtpd_milters", "$smtpd_milters".into()),
            // Mail waits at the sender while OpenDKIM is down or has no key, instead of
            // leaving unsigned (and failing DMARC).
            ("milter_default_action", "tempfail".into()),
            ("milter_protocol", "6".into()),
            // Bounces pass OpenDKIM (and header_checks) too, so they leave signed for the
            // gateway's hostname.
            ("internal_mail_filter_classes", "bounce".into()),
            // Postfix's notices go to the blueprint's postmaster, not to root's mailbox on
            // an instance nobody logs in to; undeliverable bounces among them.
            ("notify_classes", "2bounce, resource, software".into()),
            ("bounce_notice_recipient", self.postmaster.clone()),
            ("2bounce_notice_recipient", self.postmaster.clone()),
            ("delay_notice_recipient", self.postmaster.clone()),
            ("error_notice_recipient", self.postmaster.clone()),
            // A new address earns its reputation slowly: few parallel connections and a
            // pause between deliveries to each receiving domain.
            (
                "smtp_destination_concurrency_limit",
                self.delivery.destination_concurrency.to_string(),
            ),
            (
                "smtp_destination_rate_delay",
                self.delivery.destination_rate_delay.clone(),
            ),
            // Transactional mail is worth little after a day; the sender hears of a delay.
            (
                "maximal_queue_lifetime",
                self.delivery.queue_lifetime.clone(),
            ),
            (
                "bounce_queue_lifetime",
                self.delivery.bounce_lifetime.clone(),
            ),
            ("delay_warning_time", self.delivery.delay_warning.clone()),
        ];
        self.relayed(settings)
    }

    /// The settings of `relay_via: ses` in place of direct delivery: no milter (SES signs with
    /// the identity's DKIM), every message to SES's endpoint on 587 with TLS required and the
    /// certificate verified against the endpoint's name (`secure`: never in clear, never to an
    /// impostor), and SASL with the credentials fetched at boot. Direct mode is unchanged.
    fn relayed(&self, mut settings: Vec<(&'static str, String)>) -> Vec<(&'static str, String)> {
        let Relay::Ses { endpoint, .. } = &self.relay else {
            return settings;
        };
        const MILTER: [&str; 4] = [
            "smtpd_milters",
            "non_smtpd_milters",
            "milter_default_action",
            "milter_protocol",
        ];
        settings.retain(|(k, _)| !MILTER.contains(k));
        for (k, v) in &mut settings {
            if *k == "smtp_tls_security_level" {
                *v = "secure".into();
            }
        }
        let at = settings
            .iter()
            .position(|(k, _)| *k == "smtp_tls_loglevel")
            .map_or(settings.len(), |i| i + 1);
        let port = super::ses_smtp::PORT;
        let ses = [
            ("relayhost", format!("[{endpoint}]:{port}")),
            ("smtp_tls_secure_cert_match", "nexthop".into()),
            ("smtp_tls_CAfile", CA_FILE.into()),
            ("smtp_sasl_auth_enable", "yes".into()),
            (
                "smtp_sasl_password_maps",
                format!("texthash:{SASL_PASSWORDS_PATH}"),
            ),
            ("smtp_sasl_security_options", "noanonymous".into()),
            ("smtp_sasl_tls_security_options", "noanonymous".into()),
        ];
        settings.splice(at..at, ses);
        settings
    }

    pub fn opendkim_conf(&self) -> String {
        format!(
            "# Rendered by mailinfra for blueprint {bp}: sign mail from the relay networks.\n\
             Syslog                  yes\n\
             UMask                   007\n\
             Mode                    s\n\
             Canonicalization        relaxed/relaxed\n\
             SignHeaders             {SIGN_HEADERS}\n\
             OversignHeaders         {OVERSIGN_HEADERS}\n\
             On-SignatureError       tempfail\n\
             On-InternalError        tempfail\n\
             KeyTable                file:/etc/opendkim/KeyTable\n\
             SigningTable            refile:/etc/opendkim/SigningTable\n\
             InternalHosts           refile:/etc/opendkim/TrustedHosts\n\
             ExternalIgnoreList      refile:/etc/opendkim/TrustedHosts\n\
             Socket                  inet:{MILTER_PORT}@localhost\n\
             PidFile                 /run/opendkim/opendkim.pid\n\
             UserID                  opendkim\n",
            bp = self.blueprint
        )
    }

    /// The domains OpenDKIM signs for: the signing domains and the gateway's hostname, whose
    /// bounces (`MAILER-DAEMON@<hostname>`) are signed `d=<hostname>`.
    pub fn signed_domains(&self) -> Vec<&str> {
        let mut out: Vec<&str> = self.signing_domains.iter().map(String::as_str).collect();
        if !out.contains(&self.hostname.as_str()) {
            out.push(&self.hostname);
        }
        out
    }

    /// One key per signed domain: `<selector>._domainkey.<domain> <domain>:<selector>:<path>`.
    pub fn key_table(&self) -> String {
        let mut out = String::new();
        for d in self.signed_domains() {
            let _ = writeln!(
                out,
                "{}._domainkey.{d} {d}:{}:{}",
                self.selector,
                self.selector,
                self.key_path()
            );
        }
        out
    }

    /// Mail from any address of a signed domain is signed with that domain's key; other
    /// domains' mail does not reach OpenDKIM (sender_access, header_checks).
    pub fn signing_table(&self) -> String {
        let mut out = String::new();
        for d in self.signed_domains() {
            let _ = writeln!(out, "*@{d} {}._domainkey.{d}", self.selector);
        }
        out
    }

    /// The domains whose addresses OpenDKIM signs, as a regexp alternation.
    fn domains_pattern(domains: &[&str]) -> String {
        domains
            .iter()
            .map(|d| d.replace('.', "\\."))
            .collect::<Vec<_>>()
            .join("|")
    }

    /// What the gateway does for its domains, as its refusals say it: signs them, or sends
    /// them through Amazon SES (which signs).
    fn serves(&self) -> &'static str {
        match self.relay {
            Relay::Direct => "it signs",
            Relay::Ses { .. } => "it sends through Amazon SES",
        }
    }

    /// The signing domains as a reply names them.
    fn allowed(&self) -> String {
        if self.signing_domains.is_empty() {
            "none: no domain of the blueprint has `send_via: [gateway]`".to_owned()
        } else {
            self.signing_domains.join(", ")
        }
    }

    /// `check_sender_access` table: relay clients may use envelope senders of the signing
    /// domains only (exactly those: a subdomain is not signed). Anything else, the null
    /// sender included, is refused with a 5xx that names the allowed domains.
    pub fn sender_access(&self) -> String {
        let mut out = format!(
            "# Rendered by mailinfra for blueprint {}: the envelope senders relay clients may use.\n",
            self.blueprint
        );
        let domains: Vec<&str> = self.signing_domains.iter().map(String::as_str).collect();
        if !domains.is_empty() {
            let _ = writeln!(out, "/@({})$/ DUNNO", Self::domains_pattern(&domains));
        }
        let _ = writeln!(
            out,
            "/.*/ REJECT 5.7.1 this gateway relays mail only from the domains {}: {}",
            self.serves(),
            self.allowed()
        );
        out
    }

    /// header_checks: internal Received lines (the application hosts' and the gateway's own,
    /// with private names and addresses) are removed; a From address outside the signing
    /// domains (and the gateway's own name, which its bounces use) is refused, since
    /// OpenDKIM would not sign it and it would fail DMARC. A From without a domain is
    /// completed with the gateway's name by Postfix.
    pub fn header_checks(&self) -> String {
        let domains = self.signed_domains();
        format!(
            "# Rendered by mailinfra for blueprint {bp}.\n\
             /^Received:/ IGNORE\n\
             if /^From:.*@/\n\
             !/@({pattern})([>[:space:](,;]|$)/ REJECT 5.7.1 the From: address must be in a domain {serves}: {allowed}\n\
             endif\n",
            bp = self.blueprint,
            serves = self.serves().replacen("it", "this gateway", 1),
            pattern = Self::domains_pattern(&domains),
            allowed = self.allowed()
        )
    }

    pub fn trusted_hosts(&self) -> String {
        let mut out = String::from("127.0.0.1\n::1\nlocalhost\n");
        for r in &self.relay_from {
            let _ = writeln!(out, "{r}");
        }
        out
    }

    /// The key fetch: SSM GetParameter with the instance's role, retried with backoff, into
    /// OpenDKIM's key file; a failure is left in `STATE_DIR/dkim-key.failed`.
    pub fn fetch_key_script(&self) -> String {
        fill(
            include_str!("fetch_dkim_key.sh"),
            &[
                ("region", &self.region),
                ("key_parameter", &self.key_parameter),
                ("key_path", &self.key_path()),
            ],
        )
    }

    /// The health report: what the gateway runs and how its mail waits, written to SSM
    /// (`kinds::gateway::health` reads it).
    pub fn health_script(&self) -> String {
        fill(
            include_str!("report_health.sh"),
            &[
                ("region", &self.region),
                ("health_parameter", &health_parameter(&self.blueprint)),
                ("milter_port", &self.milter_port()),
            ],
        )
    }

    /// The port OpenDKIM's milter listens on, or nothing relaying through SES (no OpenDKIM).
    fn milter_port(&self) -> String {
        match self.relay {
            Relay::Direct => MILTER_PORT.to_string(),
            Relay::Ses { .. } => String::new(),
        }
    }

    /// unattended-upgrades: Debian's security updates (its default origins) installed daily,
    /// a reboot when one needs it at the reboot window, old kernels removed, and APT's
    /// periodic run turned on.
    pub fn unattended_upgrades_conf(&self) -> String {
        format!(
            "// Rendered by mailinfra: install Debian's security updates every day; reboot at {t} UTC\n\
             // when one needs it (a new kernel or C library). Senders' queues hold mail meanwhile.\n\
             Unattended-Upgrade::Automatic-Reboot \"true\";\n\
             Unattended-Upgrade::Automatic-Reboot-WithUsers \"true\";\n\
             Unattended-Upgrade::Automatic-Reboot-Time \"{t}\";\n\
             Unattended-Upgrade::Remove-Unused-Kernel-Packages \"true\";\n\
             Unattended-Upgrade::Remove-Unused-Dependencies \"true\";\n\
             Unattended-Upgrade::SyslogEnable \"true\";\n",
            t = self.reboot_time
        )
    }

    /// APT's periodic jobs, as `dpkg-reconfigure unattended-upgrades` writes them.
    pub fn auto_upgrades_conf(&self) -> String {
        "APT::Periodic::Update-Package-Lists \"1\";\nAPT::Periodic::Unattended-Upgrade \"1\";\n"
            .into()
    }

    /// The service that runs the health report once.
    pub fn health_service(&self) -> String {
        format!(
            "# Rendered by mailinfra: report the gateway's state to SSM (read by `mailinfra status`).\n\
             [Unit]\n\
             Description=mailinfra gateway health report\n\
             After=network-online.target postfix.service opendkim.service\n\
             \n\
             [Service]\n\
             Type=oneshot\n\
             ExecStart={HEALTH_PATH}\n"
        )
    }

    /// The timer: every 5 minutes (`kinds::gateway::health::PERIOD`), from 2 minutes after
    /// boot; a report older than three periods reads as "not reporting".
    pub fn health_timer(&self) -> String {
        format!(
            "# Rendered by mailinfra: the health report every {} minutes.\n\
             [Unit]\n\
             Description=mailinfra gateway health report, every {} minutes\n\
             \n\
             [Timer]\n\
             OnBootSec=2min\n\
             OnUnitActiveSec={}min\n\
             \n\
             [Install]\n\
             WantedBy=timers.target\n",
            crate::kinds::gateway::health::PERIOD / 60,
            crate::kinds::gateway::health::PERIOD / 60,
            crate::kinds::gateway::health::PERIOD / 60,
        )
    }

    /// The drop-in for Debian's opendkim.service: the key fetch before every start (so each
    /// boot fetches the key again), and starts retried every 30 seconds without end while the
    /// fetch fails (mail waits meanwhile).
    pub fn opendkim_drop_in(&self) -> String {
        format!(
            "# Rendered by mailinfra: fetch the DKIM key from SSM before every start of opendkim,\n\
             # and keep trying while that fails (Postfix keeps mail waiting meanwhile).\n\
             [Unit]\n\
             StartLimitIntervalSec=0\n\
             \n\
             [Service]\n\
             ExecStartPre={FETCH_KEY_PATH}\n\
             TimeoutStartSec=5min\n\
             Restart=on-failure\n\
             RestartSec=30s\n"
        )
    }

    /// The instance's user data: installs and configures Postfix and OpenDKIM. Idempotent:
    /// every step sets a state rather than appending to one, so running it twice is safe.
    /// The script is `boot_script.sh`; this fills in its `{{name}}`s.
    /// The bounce recorder, with this gateway's region, log group and table.
    pub fn record_bounces_script(&self) -> String {
        fill(
            include_str!("record_bounces.py"),
            &[
                ("region", &self.region),
                ("log_group", &bounce_log_group(&self.blueprint)),
                ("map_path", BOUNCED_PATH),
                (
                    "suppress",
                    if self.suppress_hard_bounces {
                        "yes"
                    } else {
                        "no"
                    },
                ),
                ("state_dir", STATE_DIR),
            ],
        )
    }

    /// The service that feeds the recorder the delivery log since its last run (the journal
    /// cursor is kept between runs).
    pub fn bounce_service(&self) -> String {
        format!(
            "[Unit]\nDescription=mailinfra: record the gateway's hard bounces\nAfter=postfix.service\n\n\
                 [Service]\nType=oneshot\nExecStart=/bin/sh -c 'journalctl --cursor-file={STATE_DIR}/bounces.cursor \
                 -t postfix/smtp -t postfix/lmtp -o cat --no-pager | {RECORD_BOUNCES_PATH} record'\n"
        )
    }

    /// The timer that runs `bounce_service` every minute.
    pub fn bounce_timer(&self) -> String {
        "[Unit]\nDescription=mailinfra: record the gateway's hard bounces every minute\n\n\
             [Timer]\nOnBootSec=1min\nOnUnitActiveSec=1min\n\n[Install]\nWantedBy=timers.target\n"
            .to_owned()
    }

    pub fn boot_script(&self) -> String {
        if let Relay::Ses { .. } = &self.relay {
            return self.boot_script_ses();
        }
        let mut postconf = String::new();
        for (k, v) in self.main_cf() {
            let _ = writeln!(postconf, "postconf -e '{k} = {v}'");
        }
        let mut postfix_tables = String::new();
        for (path, body) in [
            (SENDER_ACCESS_PATH, self.sender_access()),
            (HEADER_CHECKS_PATH, self.header_checks()),
        ] {
            let _ = write!(
                postfix_tables,
                "cat > {path} <<'MAILINFRA_EOF'\n{body}MAILINFRA_EOF\n"
            );
        }
        let mut opendkim_files = String::new();
        for (path, body) in [
            ("/etc/opendkim.conf", self.opendkim_conf()),
            ("/etc/opendkim/KeyTable", self.key_table()),
            ("/etc/opendkim/SigningTable", self.signing_table()),
            ("/etc/opendkim/TrustedHosts", self.trusted_hosts()),
        ] {
            let _ = write!(
                opendkim_files,
                "cat > {path} <<'MAILINFRA_EOF'\n{body}MAILINFRA_EOF\n"
            );
        }
        fill(
            include_str!("boot_script.sh"),
            &[
                ("blueprint", &self.blueprint),
                ("hostname", &self.hostname),
                ("region", &self.region),
                ("key_parameter", &self.key_parameter),
                ("postconf", &postconf),
                ("postfix_tables", &postfix_tables),
                ("key_dir", KEY_DIR),
                ("opendkim_files", &opendkim_files),
                ("fetch_key_path", FETCH_KEY_PATH),
                ("fetch_key_script", &self.fetch_key_script()),
                ("drop_in_path", DROP_IN_PATH),
                ("drop_in", &self.opendkim_drop_in()),
                ("state_dir", STATE_DIR),
                ("record_bounces_path", RECORD_BOUNCES_PATH),
                ("record_bounces_script", &self.record_bounces_script()),
                ("bounced_path", BOUNCED_PATH),
                ("bounces_service_path", BOUNCES_SERVICE_PATH),
                ("bounces_service", &self.bounce_service()),
                ("bounces_timer_path", BOUNCES_TIMER_PATH),
                ("bounces_timer", &self.bounce_timer()),
                ("health_parameter", &health_parameter(&self.blueprint)),
                ("health_path", HEALTH_PATH),
                ("health_script", &self.health_script()),
                ("health_service_path", HEALTH_SERVICE_PATH),
                ("health_service", &self.health_service()),
                ("health_timer_path", HEALTH_TIMER_PATH),
                ("health_timer", &self.health_timer()),
                ("unattended_path", UNATTENDED_UPGRADES_PATH),
                ("unattended_conf", &self.unattended_upgrades_conf()),
                ("auto_upgrades_path", AUTO_UPGRADES_PATH),
                ("auto_upgrades_conf", &self.auto_upgrades_conf()),
            ],
        )
    }
}

impl Gateway {
    /// With `relay_via: ses`: the credentials parameter and the SASL map's next hop
    /// (`[endpoint]:587`, as `relayhost` names it), or `None` in direct mode.
    fn ses(&self) -> Option<(&str, String)> {
        match &self.relay {
            Relay::Direct => None,
            Relay::Ses {
                endpoint,
                credentials_parameter,
            } => Some((
                credentials_parameter,
                format!("[{endpoint}]:{}", super::ses_smtp::PORT),
            )),
        }
    }

    /// The credentials fetch (`relay_via: ses`): SSM GetParameter with the instance's role,
    /// retried with backoff, into Postfix's SASL password map; a failure is left in
    /// `STATE_DIR/ses-credentials.failed`. Empty in direct mode.
    pub fn fetch_credentials_script(&self) -> String {
        let Some((parameter, next_hop)) = self.ses() else {
            return String::new();
        };
        fill(
            include_str!("fetch_ses_credentials.sh"),
            &[
                ("region", &self.region),
                ("credentials_parameter", parameter),
                ("map_path", SASL_PASSWORDS_PATH),
                ("next_hop", &next_hop),
            ],
        )
    }

    /// The drop-in for Debian's Postfix instance (`relay_via: ses`): the credentials fetch
    /// before every start, and starts retried every 30 seconds without end while it fails.
    pub fn postfix_drop_in(&self) -> String {
        format!(
            "# Rendered by mailinfra: fetch the SES SMTP credentials from SSM before every start of\n\
             # Postfix, and keep trying while that fails (the senders keep mail meanwhile).\n\
             [Unit]\n\
             StartLimitIntervalSec=0\n\
             \n\
             [Service]\n\
             ExecStartPre={FETCH_CREDENTIALS_PATH}\n\
             TimeoutStartSec=5min\n\
             Restart=on-failure\n\
             RestartSec=30s\n"
        )
    }

    /// The user data of `relay_via: ses`: Postfix alone (no OpenDKIM: SES signs), its
    /// tables, the credentials fetch and its drop-in (`boot_script_ses.sh`).
    fn boot_script_ses(&self) -> String {
        let (parameter, _) = self.ses().unwrap_or_default();
        let endpoint = match &self.relay {
            Relay::Ses { endpoint, .. } => endpoint.as_str(),
            Relay::Direct => "",
        };
        let mut postconf = String::new();
        for (k, v) in self.main_cf() {
            let _ = writeln!(postconf, "postconf -e '{k} = {v}'");
        }
        let mut postfix_tables = String::new();
        for (path, body) in [
            (SENDER_ACCESS_PATH, self.sender_access()),
            (HEADER_CHECKS_PATH, self.header_checks()),
        ] {
            let _ = write!(
                postfix_tables,
                "cat > {path} <<'MAILINFRA_EOF'\n{body}MAILINFRA_EOF\n"
            );
        }
        fill(
            include_str!("boot_script_ses.sh"),
            &[
                ("blueprint", &self.blueprint),
                ("endpoint", endpoint),
                ("hostname", &self.hostname),
                ("region", &self.region),
                ("credentials_parameter", parameter),
                ("postconf", &postconf),
                ("postfix_tables", &postfix_tables),
                ("fetch_path", FETCH_CREDENTIALS_PATH),
                ("fetch_script", &self.fetch_credentials_script()),
                ("drop_in_path", POSTFIX_DROP_IN_PATH),
                ("drop_in", &self.postfix_drop_in()),
                ("state_dir", STATE_DIR),
                ("health_parameter", &health_parameter(&self.blueprint)),
                ("health_path", HEALTH_PATH),
                ("health_script", &self.health_script()),
                ("health_service_path", HEALTH_SERVICE_PATH),
                ("health_service", &self.health_service()),
                ("health_timer_path", HEALTH_TIMER_PATH),
                ("health_timer", &self.health_timer()),
                ("unattended_path", UNATTENDED_UPGRADES_PATH),
                ("unattended_conf", &self.unattended_upgrades_conf()),
                ("auto_upgrades_path", AUTO_UPGRADES_PATH),
                ("auto_upgrades_conf", &self.auto_upgrades_conf()),
            ],
        )
    }
}

/// `template` with each `{{name}}` replaced by its value, in one pass: a value is never read
/// as a template. Every name the template uses must be given.
fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() * 2);
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        let end = rest[start..]
            .find("}}")
            .map(|e| start + e)
            .expect("a `{{` in the template is closed");
        let name = &rest[start + 2..end];
        let value = values
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| *v)
            .unwrap_or_else(|| panic!("the template's `{{{{{name}}}}}` has a value"));
        out.push_str(&rest[..start]);
        out.push_str(value);
        rest = &rest[end + 2..];
    }
    out.push_str(rest);
    out
}

/// The name of the gateway's IAM role, instance profile and security group.
pub fn role_name(blueprint: &str) -> String {
    format!("mailinfra-{blueprint}-gateway")
}

/// The name of the managed policy that is the gateway role's permissions boundary.
pub fn boundary_name(blueprint: &str) -> String {
    format!("{}-boundary", role_name(blueprint))
}

/// IAM's limit on role and instance profile names (IAM User Guide, "IAM and AWS STS quotas":
/// role name 64 characters; terraform-provider-aws validates `name` of aws_iam_role the same).
pub const IAM_NAME_MAX: usize = 64;

/// The trust policy that lets EC2 instances assume the gateway's role.
pub fn trust_policy() -> String {
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#.to_owned()
}

/// The alias of the customer managed KMS key that encrypts the blueprint's gateway DKIM keys
/// (one key per blueprint: its key policy names that blueprint's gateway role alone).
pub fn kms_alias(blueprint: &str) -> String {
    format!("alias/{}-dkim", role_name(blueprint))
}

/// The gateway role may decrypt with the blueprint's DKIM key only through Parameter Store:
/// `kms:ViaService` is `ssm.<region>.amazonaws.com` when SSM calls KMS for the caller, and
/// `kms:ResourceAliases` names the key by its alias, which is known before the key exists
/// (AWS KMS Developer Guide, "kms:ViaService" and "kms:ResourceAliases",
/// https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html).
fn decrypt_statement(sid: &str, region: &str, blueprint: &str) -> String {
    let partition = crate::aws::partition::of(region);
    let alias = kms_alias(blueprint);
    format!(
        r#"{{"Sid":"{sid}","Effect":"Allow","Action":"kms:Decrypt","Resource":"arn:{partition}:kms:{region}:*:key/*","Condition":{{"StringEquals":{{"kms:ViaService":"ssm.{region}.amazonaws.com"}},"ForAnyValue:StringEquals":{{"kms:ResourceAliases":"{alias}"}}}}}}"#
    )
}

/// The statement that lets the gateway write its health report (`PutParameter` on that one
/// parameter: it cannot create or change any other), in its role policy and its boundary.
fn health_statement(region: &str, health_parameter: &str) -> String {
    let partition = crate::aws::partition::of(region);
    format!(
        r#"{{"Sid":"ReportOwnHealth","Effect":"Allow","Action":"ssm:PutParameter","Resource":"arn:{partition}:ssm:{region}:*:parameter{health_parameter}"}}"#
    )
}

/// The gateway records its hard bounces in its own log group and reads them back at boot
/// (`record_bounces.py`): log streams and events of that group only. The group's ARN is given
/// with and without `:*`, as CloudWatch Logs authorizes some actions on either form (Amazon
/// CloudWatch Logs User Guide, "CloudWatch Logs permissions reference").
fn bounce_statement(sid: &str, region: &str, blueprint: &str) -> String {
    let partition = crate::aws::partition::of(region);
    let group = format!(
        "arn:{partition}:logs:{region}:*:log-group:{}",
        bounce_log_group(blueprint)
    );
    format!(
        r#"{{"Sid":"{sid}","Effect":"Allow","Action":["logs:CreateLogStream","logs:PutLogEvents","logs:FilterLogEvents"],"Resource":["{group}","{group}:*"]}}"#
    )
}

/// The role's only permissions: read its own DKIM key parameters (every selector of its
/// blueprint: a key rotation then needs no IAM change, so CI's `apply-after-bootstrap` role can
/// carry one out, and the new instance never waits for IAM to propagate a new policy) and
/// decrypt them, write its health report, and record and read its hard bounces.
pub fn role_policy(region: &str, blueprint: &str) -> String {
    let partition = crate::aws::partition::of(region);
    let key_parameter = dkim_key_parameter(blueprint, "*", "private");
    let decrypt = decrypt_statement("DecryptOwnDkimKey", region, blueprint);
    let health = health_statement(region, &health_parameter(blueprint));
    let bounces = bounce_statement("RecordOwnBounces", region, blueprint);
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"ReadOwnDkimKey","Effect":"Allow","Action":"ssm:GetParameter","Resource":"arn:{partition}:ssm:{region}:*:parameter{key_parameter}"}},{decrypt},{health},{bounces}]}}"#
    )
}

/// The key policy of the blueprint's DKIM KMS key. Three statements, each for the account's
/// root, which lets IAM policies decide within them (AWS KMS Developer Guide, "Default key
/// policy"):
/// - administration, without any use of the key, so an administrator can still manage it and
///   the policy passes KMS's lockout check;
/// - encryption through Parameter Store (the apply role writes the parameter; IAM decides who);
/// - decryption through Parameter Store only for the gateway's role (`aws:PrincipalArn`, a
///   condition rather than a principal so the key policy survives the role being deleted and
///   made again) and only for the blueprint's DKIM parameters and its SES SMTP credentials
///   (`relay_via: ses`) (the encryption context
///   `PARAMETER_ARN` that Parameter Store sends; Systems Manager User Guide, "How AWS Systems
///   Manager Parameter Store uses AWS KMS").
///
/// Nothing else in the account can decrypt the key, whatever its IAM policy says: not the plan
/// role, not the apply role, not an administrator without changing this policy first.
pub fn kms_key_policy(region: &str, account: &str, blueprint: &str) -> String {
    let partition = crate::aws::partition::of(region);
    let root = format!("arn:{partition}:iam::{account}:root");
    let role = format!(
        "arn:{partition}:iam::{account}:role/{}",
        role_name(blueprint)
    );
    let via = format!("ssm.{region}.amazonaws.com");
    let parameters = [
        format!(
            "arn:{partition}:ssm:{region}:{account}:parameter{}",
            dkim_key_parameter(blueprint, "*", "private")
        ),
        format!(
            "arn:{partition}:ssm:{region}:{account}:parameter{}",
            ses_credentials_parameter(blueprint)
        ),
    ];
    let admin = [
        "kms:Create*",
        "kms:Describe*",
        "kms:Enable*",
        "kms:List*",
        "kms:Put*",
        "kms:Update*",
        "kms:Revoke*",
        "kms:Disable*",
        "kms:Get*",
        "kms:Delete*",
        "kms:TagResource",
        "kms:UntagResource",
        "kms:ScheduleKeyDeletion",
        "kms:CancelKeyDeletion",
    ];
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AccountAdministersWithoutUse",
                "Effect": "Allow",
                "Principal": { "AWS": root },
                "Action": admin,
                "Resource": "*",
            },
            {
                "Sid": "EncryptThroughParameterStore",
                "Effect": "Allow",
                "Principal": { "AWS": root },
                "Action": ["kms:Encrypt", "kms:GenerateDataKey"],
                "Resource": "*",
                "Condition": { "StringEquals": { "kms:ViaService": via } },
            },
            {
                "Sid": "OnlyTheGatewayDecrypts",
                "Effect": "Allow",
                "Principal": { "AWS": root },
                "Action": "kms:Decrypt",
                "Resource": "*",
                "Condition": {
                    "StringEquals": { "kms:ViaService": via },
                    "ArnEquals": { "aws:PrincipalArn": role },
                    "StringLike": { "kms:EncryptionContext:PARAMETER_ARN": parameters },
                },
            },
        ],
    })
    .to_string()
}

/// With `relay_via: ses`, the role's permissions: read its SES SMTP credentials parameter
/// and decrypt it through Parameter Store with the blueprint's KMS key, and write its health
/// report (it has no DKIM key, SES signs; and no bounce log, SES handles bounces).
pub fn role_policy_ses(region: &str, blueprint: &str) -> String {
    let partition = crate::aws::partition::of(region);
    let credentials_parameter = ses_credentials_parameter(blueprint);
    let decrypt = decrypt_statement("DecryptOwnSesSmtpCredentials", region, blueprint);
    let health = health_statement(region, &health_parameter(blueprint));
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"ReadOwnSesSmtpCredentials","Effect":"Allow","Action":"ssm:GetParameter","Resource":"arn:{partition}:ssm:{region}:*:parameter{credentials_parameter}"}},{decrypt},{health}]}}"#
    )
}

/// The SSM SecureString holding the gateway's SES SMTP credentials (`user:password`), with
/// `relay_via: ses`.
pub fn ses_credentials_parameter(blueprint: &str) -> String {
    format!("/mailinfra/{blueprint}/ses-smtp/credentials")
}

/// The permissions boundary of the gateway's role and of its SES SMTP user (`relay_via:
/// ses`): the most either can ever do, whatever its own policy says: read the blueprint's
/// gateway DKIM private keys (any selector, so a key rotation needs no new boundary) and SES
/// SMTP credentials, report health, record bounces, and send through SES in the region. The apply role may change the role's policy only while
/// this is its boundary, and may not change this policy (docs/ci.md).
pub fn boundary_policy(region: &str, blueprint: &str) -> String {
    let partition = crate::aws::partition::of(region);
    let decrypt = decrypt_statement("GatewayMayOnlyDecryptItsDkimKeys", region, blueprint);
    let health = health_statement(region, &health_parameter(blueprint));
    let bounces = bounce_statement("GatewayMayOnlyRecordItsBounces", region, blueprint);
    let credentials = ses_credentials_parameter(blueprint);
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"GatewayMayOnlyReadItsSecrets","Effect":"Allow","Action":"ssm:GetParameter","Resource":["arn:{partition}:ssm:{region}:*:parameter/mailinfra/{blueprint}/dkim/*/private","arn:{partition}:ssm:{region}:*:parameter{credentials}"]}},{decrypt},{health},{bounces},{{"Sid":"SmtpUserMayOnlySendThroughSes","Effect":"Allow","Action":"ses:SendRawEmail","Resource":["arn:{partition}:ses:{region}:*:identity/*","arn:{partition}:ses:{region}:*:configuration-set/*"]}}]}}"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    pub fn sample() -> Gateway {
        Gateway {
            blueprint: "acme-mail".into(),
            hostname: "mail.example.com".into(),
            region: "eu-west-1".into(),
            relay_from: vec!["10.0.0.0/16".into()],
            selector: "mta1".into(),
            signing_domains: vec!["example.com".into(), "example.net".into()],
            key_parameter: "/mailinfra/acme-mail/dkim/mta1/private".into(),
            postmaster: "ops@example.com".into(),
            delivery: Delivery::default(),
            suppress_hard_bounces: false,
            reboot_time: default_reboot_time(),
            relay: Relay::Direct,
        }
    }

    pub fn sample_ses() -> Gateway {
        Gateway {
            relay: Relay::Ses {
                endpoint: "email-smtp.eu-west-1.amazonaws.com".into(),
                credentials_parameter: "/mailinfra/acme-mail/ses-smtp/credentials".into(),
            },
            ..sample()
        }
    }

    #[test]
    fn rendered_files_relaying_through_ses() {
        let g = sample_ses();
        let main_cf: String = g
            .main_cf()
            .iter()
            .map(|(k, v)| format!("{k} = {v}\n"))
            .collect();
        insta::assert_snapshot!("ses_main_cf", main_cf);
        insta::assert_snapshot!("ses_sender_access", g.sender_access());
        insta::assert_snapshot!("ses_header_checks", g.header_checks());
        insta::assert_snapshot!("ses_boot_script", g.boot_script());
        insta::assert_snapshot!("ses_fetch_credentials_script", g.fetch_credentials_script());
        insta::assert_snapshot!("ses_postfix_drop_in", g.postfix_drop_in());
    }

    #[test]
    fn relaying_through_ses_requires_verified_tls_and_sasl_and_drops_opendkim() {
        let cf = sample_ses().main_cf();
        let get = |k: &str| {
            cf.iter()
                .find(|(key, _)| *key == k)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(
            get("relayhost"),
            Some("[email-smtp.eu-west-1.amazonaws.com]:587")
        );
        assert_eq!(get("smtp_tls_security_level"), Some("secure"));
        assert_eq!(get("smtp_sasl_auth_enable"), Some("yes"));
        assert_eq!(get("smtp_sasl_security_options"), Some("noanonymous"));
        assert_eq!(get("smtpd_milters"), None);
        assert_eq!(get("milter_default_action"), None);
        // The same relay and sender rules as direct mode.
        let direct = sample().main_cf();
        for key in [
            "mynetworks",
            "smtpd_relay_restrictions",
            "smtpd_sender_restrictions",
            "header_checks",
            "local_header_rewrite_clients",
            "always_add_missing_headers",
        ] {
            assert_eq!(
                get(key),
                direct
                    .iter()
                    .find(|(k, _)| *k == key)
                    .map(|(_, v)| v.as_str()),
                "{key}"
            );
        }
        let boot = sample_ses().boot_script();
        // No OpenDKIM installed or started (the health report only mentions it).
        for absent in ["postfix opendkim", "restart opendkim", "/etc/opendkim"] {
            assert!(!boot.contains(absent), "{absent}: {boot}");
        }
        assert!(boot.contains("libsasl2-modules"));
        // Health and patching as in direct mode.
        assert!(boot.contains("mailinfra-health.timer") && boot.contains("unattended-upgrades"));
        // Direct mode has no SES settings.
        assert!(!direct.iter().any(|(k, _)| *k == "relayhost"));
        assert_eq!(sample().fetch_credentials_script(), "");
    }

    #[test]
    fn rendered_files() {
        let g = sample();
        let main_cf: String = g
            .main_cf()
            .iter()
            .map(|(k, v)| format!("{k} = {v}\n"))
            .collect();
        insta::assert_snapshot!("main_cf", main_cf);
        insta::assert_snapshot!("opendkim_conf", g.opendkim_conf());
        insta::assert_snapshot!("key_table", g.key_table());
        insta::assert_snapshot!("signing_table", g.signing_table());
        insta::assert_snapshot!("sender_access", g.sender_access());
        insta::assert_snapshot!("header_checks", g.header_checks());
        insta::assert_snapshot!("boot_script", g.boot_script());
        insta::assert_snapshot!("fetch_key_script", g.fetch_key_script());
        insta::assert_snapshot!("health_script", g.health_script());
        insta::assert_snapshot!("health_timer", g.health_timer());
        insta::assert_snapshot!("unattended_upgrades", g.unattended_upgrades_conf());
    }

    #[test]
    fn a_filled_value_is_not_read_as_a_template() {
        assert_eq!(
            fill("a {{x}} b {{y}}\n", &[("x", "{{y}}"), ("y", "2")]),
            "a {{y}} b 2\n"
        );
    }

    #[test]
    fn relay_is_limited_to_mynetworks() {
        let g = sample();
        let cf = g.main_cf();
        let get = |k: &str| {
            cf.iter()
                .find(|(key, _)| *key == k)
                .map(|(_, v)| v.clone())
                .unwrap()
        };
        assert_eq!(get("mynetworks"), "127.0.0.0/8 [::1]/128 10.0.0.0/16");
        assert_eq!(
            get("smtpd_relay_restrictions"),
            "permit_mynetworks, reject_unauth_destination"
        );
        assert_eq!(get("myhostname"), "mail.example.com");
    }

    #[test]
    fn the_role_reads_only_its_key_and_writes_only_its_health() {
        let policy: serde_json::Value =
            serde_json::from_str(&role_policy("eu-west-1", "acme")).unwrap();
        let st = &policy["Statement"][0];
        assert_eq!(st["Action"], "ssm:GetParameter");
        assert_eq!(
            st["Resource"],
            "arn:aws:ssm:eu-west-1:*:parameter/mailinfra/acme/dkim/*/private"
        );
        let decrypt = &policy["Statement"][1];
        assert_eq!(decrypt["Action"], "kms:Decrypt");
        assert_eq!(
            decrypt["Condition"]["StringEquals"]["kms:ViaService"],
            "ssm.eu-west-1.amazonaws.com"
        );
        assert_eq!(
            decrypt["Condition"]["ForAnyValue:StringEquals"]["kms:ResourceAliases"],
            "alias/mailinfra-acme-gateway-dkim"
        );
        let health = &policy["Statement"][2];
        assert_eq!(health["Action"], "ssm:PutParameter");
        assert_eq!(
            health["Resource"],
            "arn:aws:ssm:eu-west-1:*:parameter/mailinfra/acme/gateway/health"
        );
        let bounces = &policy["Statement"][3];
        assert_eq!(
            bounces["Resource"][0],
            "arn:aws:logs:eu-west-1:*:log-group:/mailinfra/acme/gateway/bounces"
        );
        assert_eq!(policy["Statement"].as_array().unwrap().len(), 4);
        // The boundary allows the same health write and bounce log use, and for the SES SMTP
        // user sending through SES in the region, nothing more.
        let boundary: serde_json::Value =
            serde_json::from_str(&boundary_policy("eu-west-1", "acme")).unwrap();
        assert_eq!(boundary["Statement"][2], *health);
        assert_eq!(boundary["Statement"][3]["Action"], bounces["Action"]);
        assert_eq!(boundary["Statement"][3]["Resource"], bounces["Resource"]);
        assert_eq!(boundary["Statement"][4]["Action"], "ses:SendRawEmail");
        assert_eq!(boundary["Statement"].as_array().unwrap().len(), 5);
        let trust: serde_json::Value = serde_json::from_str(&trust_policy()).unwrap();
        assert_eq!(
            trust["Statement"][0]["Principal"]["Service"],
            "ec2.amazonaws.com"
        );
    }

    #[test]
    fn only_the_gateway_role_decrypts_with_the_kms_key() {
        let policy: serde_json::Value =
            serde_json::from_str(&kms_key_policy("eu-west-1", "111122223333", "acme")).unwrap();
        let statements = policy["Statement"].as_array().unwrap();
        let granting = |action: &str| -> Vec<&serde_json::Value> {
            statements
                .iter()
                .filter(|s| {
                    let a = &s["Action"];
                    a == action || a.as_array().is_some_and(|l| l.iter().any(|x| x == action))
                })
                .collect()
        };
        let decrypt = granting("kms:Decrypt");
        assert_eq!(decrypt.len(), 1, "{policy}");
        assert_eq!(
            decrypt[0]["Condition"]["ArnEquals"]["aws:PrincipalArn"],
            "arn:aws:iam::111122223333:role/mailinfra-acme-gateway"
        );
        assert_eq!(
            decrypt[0]["Condition"]["StringLike"]["kms:EncryptionContext:PARAMETER_ARN"],
            serde_json::json!([
                "arn:aws:ssm:eu-west-1:111122223333:parameter/mailinfra/acme/dkim/*/private",
                "arn:aws:ssm:eu-west-1:111122223333:parameter/mailinfra/acme/ses-smtp/credentials"
            ])
        );
        // No wildcard administration action reaches a cryptographic one.
        for st in statements {
            for a in st["Action"].as_array().into_iter().flatten() {
                let a = a.as_str().unwrap();
                if let Some(prefix) = a.strip_suffix('*') {
                    assert!(!"kms:Decrypt".starts_with(prefix), "{a}");
                    assert!(!"kms:ReEncryptFrom".starts_with(prefix), "{a}");
                }
            }
        }
        assert!(granting("kms:PutKeyPolicy").is_empty());
        assert!(granting("kms:Put*").len() == 1);
    }
}
