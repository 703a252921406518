//! The gateway's mail path with Debian's real Postfix and OpenDKIM (tests/mailpath/run.py
//! runs them). The configuration is what `mailinfra render gateway` writes from the same code
//! as the boot script; the key is the one mailinfra stored in (emulated) SSM; the signature is
//! verified by dkimpy against the DKIM TXT exactly as mailinfra published it to Route 53.
//! Needs root, postfix, opendkim and iproute2 (scripts/install-mail-tools) and the Python
//! packages in tests/python-requirements.txt: without them it fails, never skips.

mod common;

use common::Account;

const R: &str = "eu-west-1";

/// Runs tests/mailpath/run.py with `args` in the account's folder (the emulator's endpoint
/// and the account's credentials come with `program`: the key fetch case calls SSM with
/// them); what it printed, read and as text.
fn run_mailpath(
    acct: &Account,
    python: &str,
    args: &[&str],
    what: &str,
) -> (serde_json::Value, String) {
    let out = acct
        .program(python)
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/mailpath/run.py"
        ))
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{what} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (serde_json::from_str(&stdout).unwrap(), stdout.into_owned())
}

/// The test Python, once `tools` are all installed: without them the test fails, never skips.
fn mail_tools(tools: &[&str]) -> String {
    let python = std::env::var("MAILINFRA_TEST_PYTHON").expect(
        "MAILINFRA_TEST_PYTHON is not set: run scripts/test, which installs the mail-path tools",
    );
    for tool in tools {
        let found = std::process::Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .unwrap();
        assert!(
            found.status.success(),
            "`{tool}` is missing: run scripts/install-mail-tools"
        );
    }
    python
}

/// The SES SMTP password mailinfra derives (Rust) equals the one the tests' Python side
/// derives on its own from the SES Developer Guide's algorithm, for several keys and regions
/// (the Python one is also what the stand-in SES endpoint checks AUTH with).
#[test]
fn the_ses_smtp_password_matches_an_independent_derivation() {
    mail_tools(&[]);
    let cases = [
        ("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "eu-west-1"),
        ("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "us-east-1"),
        ("je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY", "us-gov-west-1"),
        ("0123456789abcdefghijABCDEFGHIJ+/+/+/+/+/", "ap-southeast-2"),
    ];
    let input = serde_json::to_string(&cases).unwrap();
    let out = common::python("mailpath/ses_smtp.py", &input);
    let python: Vec<String> = serde_json::from_slice(&out).unwrap();
    let rust: Vec<String> = cases
        .iter()
        .map(|(secret, region)| mailinfra::mail::ses_smtp::password(secret, region))
        .collect();
    assert_eq!(rust, python);
    // Distinct inputs, distinct passwords: the comparison is not of constants.
    assert_eq!(
        rust.iter().collect::<std::collections::BTreeSet<_>>().len(),
        cases.len()
    );
}

#[tokio::test]
async fn the_gateway_mail_path_with_real_postfix_and_opendkim() {
    let python = mail_tools(&["postfix", "opendkim", "ip"]);

    let acct = Account::new();
    let zone = acct.create_zone("example.com").await;
    acct.write(
        "b.yaml",
        "blueprint: relay\nregion: eu-west-1\ngateway:\n  hostname: mail.example.com\n  relay_from: [10.0.0.0/16]\n  dkim: { selector: mta1 }\n  postmaster: ops@example.org\n  delivery: { queue_lifetime: 12h, message_size_limit: 20000000 }\n  suppress_hard_bounces: true\ndomains:\n  - domain: example.com\n    send_via: [gateway]\n    dmarc: { policy: none }\n",
    );
    let run = acct.mailinfra(&["apply", "b.yaml", "--yes"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let render = acct.mailinfra(&["render", "gateway", "b.yaml", "rendered"]);
    assert_eq!(render.code, 0, "{}", render.stderr);

    // Stands in for the boot script's `aws ssm get-parameter` with the instance role.
    let key = acct
        .ssm(R)
        .get_parameter()
        .name("/mailinfra/relay/dkim/mta1/private")
        .with_decryption(true)
        .send()
        .await
        .unwrap();
    acct.write("key.pem", key.parameter().unwrap().value().unwrap());
    // The DKIM record as mailinfra published it.
    let records = acct.records(&zone).await;
    let txt = |name: &str| {
        records[&(name.to_owned(), "TXT".to_owned())]
            .1
            .iter()
            .map(|v| mailinfra::mail::txt::text_of(v))
            .collect::<Vec<_>>()
    };
    // Item 4: the hostname, which its bounces use in HELO and From, has an SPF record that
    // allows the Elastic IP alone, and its own DKIM key.
    let eip = records[&("mail.example.com".into(), "A".into())].1[0].clone();
    let host_txt = txt("mail.example.com");
    assert!(
        host_txt.contains(&format!("v=spf1 ip4:{eip} -all")),
        "{host_txt:?}"
    );
    let mut dns = serde_json::Map::new();
    for name in [
        "mta1._domainkey.example.com",
        "mta1._domainkey.mail.example.com",
    ] {
        dns.insert(name.into(), txt(name)[0].clone().into());
    }
    acct.write("dns.json", &serde_json::Value::Object(dns).to_string());

    // The emulator's endpoint and the account's credentials come with `program`: the key
    // fetch case calls SSM with them.
    let (r, _) = run_mailpath(
        &acct,
        &python,
        &[
            "--rendered",
            "rendered",
            "--key",
            "key.pem",
            "--dns",
            "dns.json",
            "--work",
            "work",
        ],
        "mail path run",
    );
    let c = &r["cases"];
    let log = r["maillog_tail"].as_str().unwrap_or("");

    // 1. Inside relay_from: accepted, signed with the blueprint's selector and domain, relayed
    //    with the gateway's hostname in HELO.
    assert_eq!(c["inside_accepted"]["accepted"], true, "{c:#}\n{log}");
    let signed = &c["relayed_signed"];
    assert_eq!(signed["delivered"], true, "{c:#}\n{log}");
    assert_eq!(signed["helo"], "mail.example.com");
    let sig = signed["dkim_signature"].as_str().unwrap();
    assert!(
        sig.contains("d=example.com") && sig.contains("s=mta1"),
        "{sig}"
    );
    // 2. The signature verifies against the published TXT (dkimpy, not OpenDKIM).
    assert_eq!(signed["dkim_valid"], true);
    // 3. Outside relay_from, to an outside domain: refused.
    assert_eq!(c["outside_refused"]["accepted"], false);
    assert!(
        c["outside_refused"]["reply"]
            .as_str()
            .unwrap()
            .contains("Relay access denied"),
        "{c:#}"
    );
    // 5. STARTTLS when the next hop offers it; plain delivery when it does not.
    assert_eq!(c["relayed_tls"]["tls"], true, "{c:#}");
    assert_eq!(c["relayed_tls"]["dkim_valid"], true);
    assert_eq!(signed["tls"], false);

    // Issue 14, item 1: mail waits while OpenDKIM cannot sign, and the key fetch retries.
    // OpenDKIM stopped: the client is told to try again later, nothing leaves unsigned.
    for case in ["milter_down", "key_missing"] {
        assert_eq!(c[case]["accepted"], false, "{case}: {c:#}\n{log}");
        let reply = c[case]["reply"].as_str().unwrap();
        assert!(reply.contains(" 451 4.7.1"), "{case}: {reply}");
    }
    let delivered = r["delivered_subjects"].as_array().unwrap();
    for subject in ["inside-milter-down", "inside-key-missing"] {
        assert!(
            !delivered.iter().any(|s| s == subject),
            "{subject} left the gateway: {delivered:?}"
        );
    }
    // The rendered key fetch, against the emulator's SSM: a missing parameter is retried with
    // a doubling backoff and left visible; the real one is installed for opendkim alone.
    let fetch = &r["fetch"];
    let failed = &fetch["failed"];
    assert_eq!(failed["exit"], 1, "{fetch:#}");
    assert_eq!(
        failed["slept"],
        serde_json::json!(["2", "4", "8", "16", "32"]),
        "{fetch:#}"
    );
    let record = failed["state"]["dkim-key.failed"].as_str().unwrap_or("");
    assert!(
        record.contains("6 attempts") && record.contains("ParameterNotFound"),
        "{fetch:#}"
    );
    assert!(failed["key"].is_null(), "{fetch:#}");
    assert!(
        failed["stderr"]
            .as_str()
            .unwrap()
            .contains("attempt 6 of 6, failed"),
        "{fetch:#}"
    );
    let fetched = &fetch["fetched"];
    assert_eq!(fetched["exit"], 0, "{fetch:#}");
    assert_eq!(fetched["key"]["same_as_ssm"], true, "{fetch:#}");
    assert_eq!(fetched["key"]["mode"], "0o600");
    assert_eq!(fetched["key"]["owner"], "opendkim");
    assert!(fetched["state"]["dkim-key.failed"].is_null(), "{fetch:#}");
    assert!(
        fetched["state"]["dkim-key.fetched"].is_string(),
        "{fetch:#}"
    );
    // systemd reads Debian's opendkim.service with the drop-in that runs the fetch at every
    // start, and finds nothing wrong in it.
    let unit = &fetch["unit"];
    assert_eq!(unit["exit"], 0, "{unit:#}");
    assert_eq!(unit["output"], "", "{unit:#}");
    let drop_in = unit["drop_in"].as_str().unwrap();
    assert!(
        drop_in.contains("ExecStartPre=/usr/local/sbin/mailinfra-fetch-dkim-key")
            && drop_in.contains("Restart=on-failure"),
        "{drop_in}"
    );

    // Item 2: a relay client's message without Message-ID and Date leaves with both, added
    // by the gateway and covered by the signature.
    let bare = &c["relayed_bare"];
    assert_eq!(bare["delivered"], true, "{c:#}\n{log}");
    assert!(
        bare["message_id"]
            .as_str()
            .unwrap_or("")
            .ends_with("@mail.example.com>"),
        "{bare:#}"
    );
    assert!(bare["date"].is_string(), "{bare:#}");
    assert_eq!(bare["dkim_valid"], true, "{bare:#}");
    let h = bare["dkim"]["h"].as_str().unwrap().to_ascii_lowercase();
    assert!(h.contains("message-id") && h.contains("date"), "{h}");
    // Without From: Postfix's cleanup adds `From: <envelope sender>` together with Date and
    // Message-ID (it has no switch for one without the others, and a milter sees the added
    // header); the sender is a signing domain (item 3), so the message leaves aligned and
    // signed. See docs/gateway.md.
    let no_from = &c["relayed_no_from"];
    assert_eq!(no_from["from_header"], "app@example.com", "{no_from:#}");
    assert_eq!(no_from["dkim"]["d"], "example.com");
    assert_eq!(no_from["dkim_valid"], true);

    // Item 3: relay only for the domains the gateway signs, refused with a 5xx naming them;
    // the null sender and a From: header of another domain too.
    for case in [
        "other_domain_refused",
        "null_sender_refused",
        "other_from_refused",
    ] {
        assert_eq!(c[case]["accepted"], false, "{case}: {c:#}");
        let reply = c[case]["reply"].as_str().unwrap();
        assert!(
            reply.contains(" 5") && reply.contains("5.7.1") && reply.contains("example.com"),
            "{case}: {reply}"
        );
    }
    assert!(
        c["other_domain_refused"]["reply"]
            .as_str()
            .unwrap()
            .contains("<app@other.example>: Sender address rejected: this gateway relays mail only from the domains it signs: example.com"),
        "{c:#}"
    );
    for subject in [
        "inside-other-domain",
        "inside-null-sender",
        "inside-other-from",
    ] {
        assert!(
            !delivered.iter().any(|s| s == subject),
            "{subject} left the gateway: {delivered:?}"
        );
    }

    // Item 7: relaxed/relaxed, the usual headers signed (From, Subject, Date, Message-ID and
    // To oversigned), no internal Received line or private address reaches the next hop.
    for name in [
        "relayed_signed",
        "relayed_tls",
        "relayed_bare",
        "relayed_no_from",
    ] {
        let m = &c[name];
        assert_eq!(m["dkim"]["c"], "relaxed/relaxed", "{name}: {m:#}");
        let h: Vec<String> = m["dkim"]["h"]
            .as_str()
            .unwrap()
            .split(':')
            .map(str::to_ascii_lowercase)
            .collect();
        for header in ["from", "to", "subject", "date", "message-id"] {
            assert!(
                h.iter().filter(|x| *x == header).count() >= 2,
                "{name}: {header} not (over)signed: {h:?}"
            );
        }
        assert_eq!(
            m["internal_names"],
            serde_json::json!([]),
            "{name}: {}",
            m["headers"]
        );
        assert!(
            !m["headers"].as_str().unwrap().contains("Received:"),
            "{name}: {}",
            m["headers"]
        );
    }

    // Item 4: a hard bounce reaches the sender signed for the gateway's hostname (null
    // envelope sender, HELO and From on the hostname: SPF and DKIM both align), and a bounce
    // that cannot be delivered reaches the blueprint's postmaster, signed too.
    let bounce = &c["bounce"];
    assert_eq!(bounce["delivered"], true, "{c:#}\n{log}");
    assert_eq!(bounce["mail_from"], "<>");
    assert_eq!(bounce["helo"], "mail.example.com");
    assert!(
        bounce["from_header"]
            .as_str()
            .unwrap()
            .contains("<MAILER-DAEMON@mail.example.com>"),
        "{bounce:#}"
    );
    assert_eq!(bounce["dkim"]["d"], "mail.example.com", "{bounce:#}");
    assert_eq!(bounce["dkim_valid"], true, "{bounce:#}");
    let notice = &c["postmaster_notice"];
    assert_eq!(notice["delivered"], true, "{c:#}\n{log}");
    assert_eq!(notice["to"], serde_json::json!(["ops@example.org"]));
    assert_eq!(notice["dkim"]["d"], "mail.example.com", "{notice:#}");
    assert_eq!(notice["dkim_valid"], true, "{notice:#}");

    // Item 5: two messages to one destination leave at least the rate delay (1s) apart.
    let (r1, r2) = (&c["relayed_rate_1"], &c["relayed_rate_2"]);
    assert_eq!(r1["delivered"], true, "{c:#}");
    assert_eq!(r2["delivered"], true, "{c:#}");
    let gap = (r2["at"].as_f64().unwrap() - r1["at"].as_f64().unwrap()).abs();
    assert!(gap >= 0.9, "deliveries {gap:.2}s apart\n{log}");

    // The rendered settings are the ones Postfix ran with.
    let settings = r["postfix_settings"].as_str().unwrap();
    for line in [
        "mynetworks = 127.0.0.0/8 [::1]/128 10.0.0.0/16",
        "milter_default_action = tempfail",
        "local_header_rewrite_clients = permit_mynetworks",
        "smtp_tls_protocols = >=TLSv1.2",
        "smtp_tls_mandatory_protocols = >=TLSv1.2",
        // Items 4 to 7: notices, gentle start, lifetimes (one set by the blueprint), size.
        "internal_mail_filter_classes = bounce",
        "2bounce_notice_recipient = ops@example.org",
        "smtp_destination_concurrency_limit = 2",
        "smtp_destination_rate_delay = 1s",
        "maximal_queue_lifetime = 12h",
        "bounce_queue_lifetime = 1d",
        "delay_warning_time = 1h",
        "message_size_limit = 20000000",
    ] {
        assert!(settings.lines().any(|l| l == line), "{line}:\n{settings}");
    }
    assert!(
        r["substitutions"]
            .as_str()
            .unwrap()
            .contains("private key comes from the emulator's SSM")
    );

    // Item 11: the hard bounce (the next hop's 550 5.1.1 for nobody@example.net) is read from
    // Postfix's delivery log and sent to the gateway's log group...
    let b = &r["bounces"];
    assert_eq!(b["record"]["exit"], 0, "{b:#}");
    let put: Vec<&serde_json::Value> = b["calls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c.as_array().unwrap().iter().any(|a| a == "put-log-events"))
        .collect();
    assert_eq!(put.len(), 1, "{b:#}");
    let args: Vec<&str> = put[0]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    let at = |flag: &str| args[args.iter().position(|a| *a == flag).unwrap() + 1];
    assert_eq!(at("--log-group-name"), "/mailinfra/relay/gateway/bounces");
    let events: Vec<serde_json::Value> = serde_json::from_str(at("--log-events")).unwrap();
    let (list, unreadable) = mailinfra::kinds::gateway::Bounce::list(
        events.iter().map(|e| e["message"].as_str().unwrap()),
    );
    assert_eq!(unreadable, 0, "{events:?}");
    let nobody = list
        .iter()
        .find(|x| x.recipient == "nobody@example.net")
        .unwrap_or_else(|| panic!("{list:?}"));
    assert_eq!(nobody.dsn, "5.1.1");
    assert!(nobody.reason.contains("User unknown"), "{nobody:?}");
    // ...and, with suppress_hard_bounces, the next message to it is refused at RCPT TO.
    let table = b["table"].as_str().unwrap_or("");
    assert!(
        table.starts_with(
            "nobody@example.net REJECT 5.1.1 <nobody@example.net> bounced permanently"
        ),
        "{b:#}"
    );
    assert_eq!(c["suppressed"]["accepted"], false, "{c:#}\n{log}");
    let reply = c["suppressed"]["reply"].as_str().unwrap();
    assert!(reply.contains("554") || reply.contains("550"), "{reply}");
    assert!(reply.contains("bounced permanently"), "{reply}");
    assert!(
        !delivered.iter().any(|s| s == "inside-suppressed"),
        "{delivered:?}"
    );
    // A replacement instance rebuilds the table from the log group at boot.
    assert_eq!(b["restore"]["exit"], 0, "{b:#}");
    assert!(
        b["restored_table"]
            .as_str()
            .unwrap_or("")
            .contains("nobody@example.net REJECT"),
        "{b:#}"
    );

    // Item 8: the rendered health report, with this Postfix and OpenDKIM, writes (a stub
    // `aws` records the call) the report `status` reads: to the one parameter, with the
    // SHA-256 of the user data, what runs, and the queue with the deferred message.
    let health = &r["health"];
    let ok = &health["ok"];
    assert_eq!(ok["exit"], 0, "{health:#}");
    let args: Vec<&str> = ok["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(&args[..2], ["ssm", "put-parameter"], "{args:?}");
    let opt = |name: &str| args[args.iter().position(|a| *a == name).unwrap() + 1];
    assert_eq!(opt("--name"), "/mailinfra/relay/gateway/health");
    assert_eq!(opt("--region"), "eu-west-1");
    assert!(args.contains(&"--overwrite"), "{args:?}");
    let report: mailinfra::kinds::gateway::health::Health =
        serde_json::from_value(ok["report"].clone()).unwrap();
    let boot = std::fs::read(acct.dir.path().join("rendered/boot.sh")).unwrap();
    assert_eq!(
        report.user_data_sha256,
        mailinfra::kinds::gateway::user_data_hash(&boot)
    );
    assert_eq!(report.instance, "i-0mailpath");
    assert_eq!(report.boot, "ok");
    assert!(
        report.postfix_running && report.opendkim_running,
        "{health:#}"
    );
    assert_eq!(report.dkim_key_failed, None);
    let (queue, deferred) = (report.queue.unwrap(), report.deferred.unwrap());
    assert!(deferred >= 1 && queue >= deferred, "{health:#}");
    // A failed boot step (its command with quotes and a backslash), OpenDKIM down for want
    // of its key: all of it in the report, still valid JSON.
    let failed: mailinfra::kinds::gateway::health::Health =
        serde_json::from_value(health["failed"]["report"].clone())
            .unwrap_or_else(|e| panic!("{e}: {health:#}"));
    assert_eq!(failed.boot, "failed");
    assert_eq!(failed.boot_step.as_deref(), Some("install packages"));
    assert_eq!(
        failed.boot_reason.as_deref(),
        Some(r#"exit 100: apt-get install -y -q "postfix" opendkim \ x"#)
    );
    assert!(failed.postfix_running);
    assert!(!failed.opendkim_running, "{health:#}");
    assert!(
        failed
            .dkim_key_failed
            .as_deref()
            .is_some_and(|f| f.contains("AccessDeniedException")),
        "{health:#}"
    );
}

/// `relay_via: ses` (issue 15): the rendered configuration relays to a stand-in for SES's
/// SMTP endpoint (tests/mailpath/run.py, `StandIn`): over STARTTLS with a certificate the
/// test's CA signed for the endpoint's name, authenticated with the credentials the rendered
/// fetch put in the SASL map, checked by the stand-in against the tests' own derivation. A
/// wrong password, a certificate no trusted CA signed, and an endpoint without STARTTLS leave
/// the mail queued, and nothing is sent in clear.
#[tokio::test]
async fn the_gateway_relays_through_ses_with_real_postfix() {
    let python = mail_tools(&["postfix", "ip", "unshare"]);
    let acct = Account::new();
    acct.write(
        "b.yaml",
        "blueprint: relay\nregion: eu-west-1\ngateway:\n  hostname: mail.example.com\n  relay_from: [10.0.0.0/16]\n  relay_via: ses\n  postmaster: ops@example.org\ndomains:\n  - domain: example.com\n    send_via: [ses, gateway]\n",
    );
    let render = acct.mailinfra(&["render", "gateway", "b.yaml", "rendered"]);
    assert_eq!(render.code, 0, "{}", render.stderr);
    assert!(
        render.stdout.contains("no OpenDKIM") && !render.stdout.contains("opendkim.conf"),
        "{}",
        render.stdout
    );

    // The credentials as apply stores them: the access key id and the password derived from
    // the secret access key, in a SecureString.
    let (user, secret) = (
        "AKIAEXAMPLESESSMTP01",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYSESSMTPKEY",
    );
    let password = mailinfra::mail::ses_smtp::password(secret, R);
    acct.ssm(R)
        .put_parameter()
        .name("/mailinfra/relay/ses-smtp/credentials")
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .value(format!("{user}:{password}"))
        .send()
        .await
        .unwrap();

    let (r, stdout) = run_mailpath(
        &acct,
        &python,
        &[
            "--rendered",
            "rendered",
            "--work",
            "work",
            "--ses-user",
            user,
            "--ses-secret",
            secret,
        ],
        "mail path run",
    );
    let c = &r["cases"];
    let log = r["maillog_tail"].as_str().unwrap_or("");
    assert!(!stdout.contains(&password), "the SMTP password was printed");

    // The rendered fetch wrote the SASL map from SSM, for root alone, keyed by the relayhost.
    let fetch = &r["fetch"];
    assert_eq!(fetch["exit"], 0, "{fetch:#}");
    assert_eq!(fetch["map_mode"], "0o600", "{fetch:#}");
    assert_eq!(fetch["map_owner"], "root", "{fetch:#}");
    assert_eq!(
        fetch["map_next_hop"],
        "[email-smtp.eu-west-1.amazonaws.com]:587"
    );

    // Relayed: over TLS, authenticated as the access key id with the password the stand-in
    // derived on its own; no AUTH and no MAIL ever in clear; SES signs, so the gateway does not.
    for name in ["relayed", "bare"] {
        let m = &c[name];
        assert_eq!(m["accepted"], true, "{name}: {c:#}\n{log}");
        assert_eq!(m["delivered"], true, "{name}: {c:#}\n{log}");
        assert_eq!(m["tls"], true, "{name}: {m:#}");
        assert_eq!(m["authenticated"], true, "{name}: {m:#}");
        assert_eq!(m["helo"], "mail.example.com");
        assert!(m["dkim_signature"].is_null(), "{name}: {m:#}");
        let events = m["events"].as_array().unwrap();
        assert!(
            events
                .iter()
                .any(|e| e["event"] == "auth" && e["login"] == user && e["ok"] == true),
            "{name}: {events:?}"
        );
        assert!(
            events.iter().all(|e| e["tls"] == true),
            "{name}: something in clear: {events:?}"
        );
        assert_eq!(m["internal_names"], serde_json::json!([]), "{name}: {m:#}");
        assert!(!m["headers"].as_str().unwrap().contains("Received:"));
        assert_eq!(m["queued"], false, "{name}: {m:#}");
    }
    // A message without Message-ID and Date gets both, as in direct mode.
    assert!(
        c["bare"]["message_id"]
            .as_str()
            .unwrap_or("")
            .ends_with("@mail.example.com>"),
        "{c:#}"
    );
    assert!(c["bare"]["date"].is_string());

    // The same relay and sender rules as direct mode.
    assert_eq!(c["outside_refused"]["accepted"], false);
    assert!(
        c["outside_refused"]["reply"]
            .as_str()
            .unwrap()
            .contains("Relay access denied"),
        "{c:#}"
    );
    for case in ["other_domain_refused", "other_from_refused"] {
        assert_eq!(c[case]["accepted"], false, "{case}: {c:#}");
        let reply = c[case]["reply"].as_str().unwrap();
        assert!(
            reply.contains("5.7.1") && reply.contains("it sends through Amazon SES: example.com")
                || reply.contains("this gateway sends through Amazon SES: example.com"),
            "{case}: {reply}"
        );
    }

    // A wrong password: refused by the stand-in (over TLS), the mail stays queued.
    let wrong = &c["wrong_password"];
    assert_eq!(wrong["accepted"], true, "{wrong:#}");
    assert_eq!(wrong["delivered"], false, "{wrong:#}\n{log}");
    assert_eq!(wrong["queued"], true, "{wrong:#}\n{log}");
    let events = wrong["events"].as_array().unwrap();
    assert!(
        events
            .iter()
            .any(|e| e["event"] == "auth" && e["ok"] == false && e["tls"] == true),
        "{events:?}"
    );
    assert!(!events.iter().any(|e| e["event"] == "mail"), "{events:?}");
    assert!(
        wrong["deferred_because"]
            .as_str()
            .unwrap_or("")
            .contains("SASL authentication failed"),
        "{wrong:#}\n{log}"
    );
    // A certificate no trusted CA signed, and an endpoint without STARTTLS: no AUTH, no MAIL,
    // nothing in clear; the mail stays queued with the reason.
    for (case, reason) in [
        ("untrusted_certificate", "certificate"),
        ("no_starttls", "TLS is required"),
    ] {
        let m = &c[case];
        assert_eq!(m["accepted"], true, "{case}: {m:#}");
        assert_eq!(m["delivered"], false, "{case}: {m:#}\n{log}");
        assert_eq!(m["queued"], true, "{case}: {m:#}\n{log}");
        assert_eq!(m["events"], serde_json::json!([]), "{case}: {m:#}");
        assert!(
            m["deferred_because"]
                .as_str()
                .unwrap_or("")
                .contains(reason),
            "{case}: {m:#}\n{log}"
        );
    }

    // systemd reads Debian's postfix@.service with the drop-in that runs the fetch before
    // every start of the instance, and finds nothing wrong in it.
    let unit = &r["unit"];
    assert_eq!(unit["exit"], 0, "{unit:#}");
    assert_eq!(unit["output"], "", "{unit:#}");
    assert!(
        unit["drop_in"]
            .as_str()
            .unwrap()
            .contains("ExecStartPre=/usr/local/sbin/mailinfra-fetch-ses-credentials"),
        "{unit:#}"
    );

    let settings = r["postfix_settings"].as_str().unwrap();
    for line in [
        "relayhost = [email-smtp.eu-west-1.amazonaws.com]:587",
        "smtp_tls_security_level = secure",
        "smtp_sasl_auth_enable = yes",
        "mynetworks = 127.0.0.0/8 [::1]/128 10.0.0.0/16",
    ] {
        assert!(settings.lines().any(|l| l == line), "{line}:\n{settings}");
    }
    assert!(!settings.contains("milter"), "{settings}");
}

/// The gateway's OpenDKIM files (opendkim.conf, KeyTable, SigningTable, TrustedHosts) as the
/// running instance's boot script writes them, into `dir`, with the private key its key fetch
/// reads from SSM into `dir/key.pem`: what the gateway signs with at this moment.
async fn running_signer(acct: &Account, dir: &str) {
    std::fs::create_dir_all(acct.dir.path().join(dir)).unwrap();
    let ids = acct.running_instances().await;
    assert_eq!(ids.len(), 1, "one running gateway: {ids:?}");
    let script = acct.boot_script(&ids[0].0).await;
    for (path, file) in [
        ("/etc/opendkim.conf", "opendkim.conf"),
        ("/etc/opendkim/KeyTable", "KeyTable"),
        ("/etc/opendkim/SigningTable", "SigningTable"),
        ("/etc/opendkim/TrustedHosts", "TrustedHosts"),
    ] {
        let start = format!("cat > {path} <<'MAILINFRA_EOF'\n");
        let body = script.split(&start).nth(1).expect(path);
        let body = &body[..body.find("MAILINFRA_EOF\n").unwrap()];
        acct.write(&format!("{dir}/{file}"), body);
    }
    let parameter = common::key_parameter(&script);
    let key = acct
        .ssm(R)
        .get_parameter()
        .name(parameter)
        .with_decryption(true)
        .send()
        .await
        .unwrap();
    acct.write(
        &format!("{dir}/key.pem"),
        key.parameter().unwrap().value().unwrap(),
    );
}

/// Every DKIM key record in the zone as published at this moment: name → text.
async fn dkim_snapshot(acct: &Account, zone: &str, label: &str) -> serde_json::Value {
    let records: serde_json::Map<String, serde_json::Value> = acct
        .records(zone)
        .await
        .into_iter()
        .filter(|((name, t), _)| {
            t == "TXT" && name.contains("._domainkey.") && !name.starts_with("_mailinfra")
        })
        .map(|((name, _), (_, values))| {
            let text: String = values
                .iter()
                .map(|v| mailinfra::mail::txt::text_of(v))
                .collect();
            (name, text.into())
        })
        .collect();
    serde_json::json!({ "label": label, "records": records })
}

/// A DKIM key rotation through real Postfix and OpenDKIM: mail signed before the switch
/// carries the old selector, after it the new one; each verifies (dkimpy) against what
/// Route 53 publishes at that moment, the old signature still during the overlap, and not
/// once the old key is retired.
#[tokio::test]
async fn a_key_rotation_through_real_postfix_and_opendkim_never_breaks_a_signature() {
    let python = mail_tools(&["postfix", "opendkim", "ip"]);
    let acct = Account::new();
    let zone = acct.create_zone("example.com").await;
    acct.write("b.yaml", common::GATEWAY);
    let ok = |run: common::Run, what: &str| {
        assert_eq!(run.code, 0, "{what}:\n{}\n{}", run.stdout, run.stderr);
    };
    ok(acct.mailinfra(&["apply", "b.yaml", "--yes"]), "apply");
    ok(
        acct.mailinfra(&["render", "gateway", "b.yaml", "rendered"]),
        "render",
    );
    let mut signers = Vec::new();
    let mut dns = Vec::new();

    running_signer(&acct, "signer-0").await;
    signers.push("signer-0");
    dns.push(dkim_snapshot(&acct, &zone, "before").await);

    // Stage 1: the new key is published; the gateway still signs with the old one.
    ok(
        acct.mailinfra(&["rotate", "gateway-dkim", "b.yaml", "--yes"]),
        "rotate",
    );
    running_signer(&acct, "signer-1").await;
    signers.push("signer-1");
    dns.push(dkim_snapshot(&acct, &zone, "published").await);

    // Stage 2: the switch.
    let new = dns[1]["records"]
        .as_object()
        .unwrap()
        .keys()
        .find_map(|n| {
            n.strip_suffix("._domainkey.example.com")
                .filter(|s| *s != "mta1")
        })
        .unwrap()
        .to_owned();
    acct.backdate_dkim_key("relay", &new, 301).await;
    ok(acct.mailinfra(&["apply", "b.yaml", "--yes"]), "switch");
    running_signer(&acct, "signer-2").await;
    signers.push("signer-2");
    dns.push(dkim_snapshot(&acct, &zone, "switched").await);

    // Stage 3: retired.
    acct.backdate_dkim_key("relay", "mta1", 8 * 86_400).await;
    ok(acct.mailinfra(&["apply", "b.yaml", "--yes"]), "retire");
    dns.push(dkim_snapshot(&acct, &zone, "retired").await);

    let spec = serde_json::json!({
        "signers": signers
            .iter()
            .map(|d| serde_json::json!({
                "rendered": acct.dir.path().join(d),
                "key": acct.dir.path().join(d).join("key.pem"),
            }))
            .collect::<Vec<_>>(),
        "dns": dns,
    });
    acct.write("rotation.json", &spec.to_string());
    let (r, _) = run_mailpath(
        &acct,
        &python,
        &[
            "--rendered",
            "rendered",
            "--rotation",
            "rotation.json",
            "--work",
            "work",
        ],
        "rotation run",
    );
    let m = r["messages"].as_array().unwrap();
    assert_eq!(m.len(), 3, "{r:#}");
    let valid = |i: usize, label: &str| m[i]["valid"][label].as_bool().unwrap();
    // Before the rotation and while the new key is only published: the old selector.
    for i in [0, 1] {
        assert_eq!(m[i]["s"], "mta1", "{r:#}");
        assert_eq!(m[i]["d"], "example.com");
        assert!(valid(i, "before") && valid(i, "published"), "{r:#}");
    }
    // After the switch: the new selector, verifying against DNS then; the message signed
    // before the switch still verifies (the overlap).
    assert_eq!(m[2]["s"], new.as_str(), "{r:#}");
    assert!(valid(2, "switched"), "{r:#}");
    assert!(
        valid(1, "switched"),
        "the old signature during the overlap: {r:#}"
    );
    // The new key was in DNS before the gateway used it, and was not before the rotation.
    assert!(valid(2, "published"), "{r:#}");
    assert!(!valid(2, "before"), "{r:#}");
    // Once retired, only the new key verifies.
    assert!(valid(2, "retired"), "{r:#}");
    assert!(!valid(1, "retired"), "{r:#}");
}
