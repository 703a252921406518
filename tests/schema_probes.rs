//! The editor schema is as strict as `validate` wherever JSON Schema can say it: the same
//! probe blueprints go to both (the schema through Python's `jsonschema`, an independent
//! implementation, in the tests' venv) and they must agree on each. Probes whose rule JSON
//! Schema cannot state are listed as validate-only, with the reason, and must stay that way:
//! `validate` refuses them and the schema accepts them.

use std::path::Path;

use mailinfra::blueprint;

const HEAD: &str = "blueprint: acme\nregion: eu-west-1\ndomains:\n  - domain: example.com\n";
const GATEWAY: &str =
    "blueprint: acme\nregion: eu-west-1\ngateway:\n  hostname: mail.example.com\n";

/// (name, document, `None` if both must agree, or why only `validate` can refuse it).
fn probes() -> Vec<(&'static str, String, Option<&'static str>)> {
    let d = |extra: &str| format!("{HEAD}{extra}");
    let g = |extra: &str| format!("{GATEWAY}{extra}");
    vec![
        // Valid documents both accept.
        ("minimal", "blueprint: acme\n".into(), None),
        (
            "full",
            d("    zone: example.com\n    ttl: 600\n    spf: { include: [_spf.example.net], ip4: [192.0.2.0/24], ip6: ['2001:db8::/32'], a: true, mx: false, all: fail }\n    dmarc: { policy: reject, subdomain_policy: none, rua: [mailto:d@example.com], ruf: [mailto:f@example.com], adkim: strict, aspf: relaxed, fo: '1:d', testing: true, psd: no }\n    dkim: [{ selector: s1, public_key_file: dkim-2048.pub }]\n    send_via: [ses, gateway]\n    ses: { dkim: { byodkim: { selector: s2 } }, mail_from: bounce.example.com, mail_from_on_mx_failure: reject, mail_from_spf: softfail, configuration_set: tx }\ngateway: { hostname: mail.example.com, relay_from: [10.0.0.0/16, 172.16.0.0/12, 192.168.1.0/24, 100.64.0.0/10, 10.1.2.3], instance_type: t3.small, image: ami-0123456789abcdef0, subnet: subnet-0abc1234, submission: false, dkim: { selector: mta1 }, postmaster: ops+mail@example.com, delivery: { destination_concurrency: 3, destination_rate_delay: 2s, queue_lifetime: 12h, bounce_lifetime: 6h, delay_warning: 2h, message_size_limit: 20000000 } }\nses:\n  suppression: [bounce]\n  configuration_sets: [{ name: tx, suppression: [complaint], tls: require, sending_enabled: false, tags: { team: mail } }]\n  production_access: { mail_type: marketing, website_url: 'https://example.com', use_case: 'Newsletters to subscribers who confirmed by email.', contact_language: ja, additional_contacts: [ops@example.com] }\nadopt: [dns.example.com.TXT, ses.identity.example.com]\n"),
            None,
        ),
        ("easy dkim 1024", d("    send_via: [ses]\n    ses: { dkim: { easy: { key_length: 1024 } } }\n"), None),
        ("upper-case domain with a final dot", "blueprint: acme\ndomains:\n  - domain: Example.COM.\n".into(), None),
        // Refused by both.
        ("blueprint name", "blueprint: Acme Mail\n".into(), None),
        ("region", "blueprint: acme\nregion: europe\n".into(), None),
        ("unknown field", d("    tll: 300\n"), None),
        ("ttl range", d("    ttl: 5\n"), None),
        ("quoted ttl", d("    ttl: '300'\n"), None),
        ("domain with a space", "blueprint: acme\ndomains:\n  - domain: 'exa mple.com'\n".into(), None),
        ("one-label domain", "blueprint: acme\ndomains:\n  - domain: com\n".into(), None),
        ("label ending in a hyphen", "blueprint: acme\ndomains:\n  - domain: example-.com\n".into(), None),
        ("yes as a boolean", d("    spf: { a: yes }\n"), None),
        ("all: pass", d("    spf: { all: pass }\n"), None),
        ("ip4 octet", d("    spf: { ip4: [192.0.2.300] }\n"), None),
        ("ip4 prefix", d("    spf: { ip4: [192.0.2.0/33] }\n"), None),
        ("ip6 prefix", d("    spf: { ip6: ['2001:db8::/129'] }\n"), None),
        ("include name", d("    spf: { include: ['not a name'] }\n"), None),
        ("dmarc policy", d("    dmarc: { policy: maybe }\n"), None),
        ("dmarc without policy", d("    dmarc: { rua: [mailto:d@example.com] }\n"), None),
        ("rua without mailto", d("    dmarc: { policy: none, rua: [d@example.com] }\n"), None),
        ("rua with a comma", d("    dmarc: { policy: none, rua: ['mailto:a@example.com,mailto:b@example.com'] }\n"), None),
        ("fo", d("    dmarc: { policy: none, fo: '2' }\n"), None),
        ("removed pct", d("    dmarc: { policy: none, pct: 50 }\n"), None),
        ("dkim selector", d("    dkim: [{ selector: 'a.b', public_key_file: dkim-2048.pub }]\n"), None),
        ("dkim without a key", d("    dkim: [{ selector: s1 }]\n"), None),
        ("dkim with two keys", d("    dkim: [{ selector: s1, public_key: AAAA, public_key_file: dkim-2048.pub }]\n"), None),
        ("send_via", d("    send_via: [mail]\n"), None),
        ("ses settings without send_via", d("    ses: {}\n"), None),
        ("mail_from options without mail_from", d("    send_via: [ses]\n    ses: { mail_from_spf: fail }\n"), None),
        ("ses dkim kind", d("    send_via: [ses]\n    ses: { dkim: hard }\n"), None),
        ("key_length", d("    send_via: [ses]\n    ses: { dkim: { easy: { key_length: 4096 } } }\n"), None),
        ("ses without a region", "blueprint: acme\ndomains:\n  - domain: example.com\n    send_via: [ses]\n".into(), None),
        ("gateway without a region", "blueprint: acme\ngateway: { hostname: mail.example.com, relay_from: [10.0.0.0/16] }\n".into(), None),
        ("send via a missing gateway", d("    send_via: [gateway]\n"), None),
        ("relay_via", g("  relay_via: smtp\n  relay_from: [10.0.0.0/16]\n"), None),
        ("relay_via ses for a domain that is not an SES identity", g("  relay_via: ses\n  relay_from: [10.0.0.0/16]\ndomains:\n  - domain: example.com\n    send_via: [gateway]\n"), None),
        ("relay_via ses for SES identities", g("  relay_via: ses\n  relay_from: [10.0.0.0/16]\ndomains:\n  - domain: example.com\n    send_via: [ses, gateway]\n  - domain: example.net\n    send_via: [ses]\n"), None),
        ("configuration set name", "blueprint: acme\nses: { configuration_sets: [{ name: 'a b' }] }\n".into(), None),
        ("website url", "blueprint: acme\nses: { production_access: { mail_type: transactional, website_url: example.com, use_case: 'Receipts for customers who signed up.' } }\n".into(), None),
        ("short use case", "blueprint: acme\nses: { production_access: { mail_type: transactional, website_url: 'https://example.com', use_case: short } }\n".into(), None),
        ("contact address", "blueprint: acme\nses: { production_access: { mail_type: transactional, website_url: 'https://example.com', use_case: 'Receipts for customers who signed up.', additional_contacts: [ops] } }\n".into(), None),
        ("open relay", g("  relay_from: [0.0.0.0/0]\n"), None),
        ("relay range wider than private space", g("  relay_from: [10.0.0.0/7]\n"), None),
        ("public relay address", g("  relay_from: [8.8.8.8]\n"), None),
        ("no relay range", g("  relay_from: []\n"), None),
        ("image", g("  relay_from: [10.0.0.0/16]\n  image: ubuntu\n"), None),
        ("instance type", g("  relay_from: [10.0.0.0/16]\n  instance_type: big\n"), None),
        ("subnet", g("  relay_from: [10.0.0.0/16]\n  subnet: net-1\n"), None),
        ("gateway dkim selector", g("  relay_from: [10.0.0.0/16]\n  dkim: { selector: 'a b' }\n"), None),
        ("postmaster", g("  relay_from: [10.0.0.0/16]\n  postmaster: \"a b@example.com\"\n"), None),
        ("delivery concurrency", g("  relay_from: [10.0.0.0/16]\n  delivery: { destination_concurrency: 21 }\n"), None),
        ("delivery time without unit", g("  relay_from: [10.0.0.0/16]\n  delivery: { queue_lifetime: '5' }\n"), None),
        ("message size", g("  relay_from: [10.0.0.0/16]\n  delivery: { message_size_limit: 1000 }\n"), None),
        ("adopt address", "blueprint: acme\nadopt: [example.com]\n".into(), None),
        ("two documents", "blueprint: acme\n---\nblueprint: b\n".into(), None),
        // Refused by `validate` only.
        (
            "domain outside its zone",
            d("    zone: example.org\n"),
            Some("compares two fields' values (suffix of another field)"),
        ),
        (
            "MAIL FROM outside the domain",
            d("    send_via: [ses]\n    ses: { mail_from: bounce.example.net }\n"),
            Some("compares two fields' values (suffix of another field)"),
        ),
        (
            "gateway hostname outside its zone",
            g("  zone: example.org\n  relay_from: [10.0.0.0/16]\n"),
            Some("compares two fields' values (suffix of another field)"),
        ),
        (
            "too many SPF lookups",
            d("    spf: { a: true, mx: true, include: [a.t, b.t, c.t, d.t, e.t, f.t, g.t, h.t, i.t] }\n"),
            Some("a sum over several fields (includes plus `a` plus `mx`)"),
        ),
        (
            "two entries producing one record",
            "blueprint: acme\ndomains:\n  - domain: example.com\n    dmarc: { policy: none }\n  - domain: EXAMPLE.com\n    dmarc: { policy: none }\n".into(),
            Some("uniqueness after normalization across list entries"),
        ),
        (
            "configuration set defined twice",
            "blueprint: acme\nses: { configuration_sets: [{ name: tx }, { name: tx, tls: require }] }\n".into(),
            Some("uniqueness of one property across list entries"),
        ),
        (
            "adopting a record the blueprint does not manage",
            "blueprint: acme\nadopt: [dns.example.com.TXT]\n".into(),
            Some("a cross-reference to what other entries produce"),
        ),
        (
            "not an RSA key",
            d("    dkim: [{ selector: s1, public_key: AAAA }]\n"),
            Some("the key's DER content"),
        ),
        (
            "512-bit key",
            d("    dkim: [{ selector: s1, public_key_file: dkim-512.pub }]\n"),
            Some("the key's DER content (its size in bits)"),
        ),
        (
            "key file missing",
            d("    dkim: [{ selector: s1, public_key_file: nope.pub }]\n"),
            Some("the file system"),
        ),
        (
            "malformed IPv6 address",
            d("    spf: { ip6: ['2001:db8:::1'] }\n"),
            Some("IPv6 address syntax (`::` once, eight groups) is checked by parsing, not by the pattern"),
        ),
        (
            "blank use case",
            "blueprint: acme\nses: { production_access: { mail_type: transactional, website_url: 'https://example.com', use_case: '                         ' } }\n".into(),
            Some("length after trimming spaces"),
        ),
    ]
}

#[test]
fn the_schema_and_validate_agree_on_every_probe() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let data = root.join("tests/data");
    let python = std::env::var("MAILINFRA_TEST_PYTHON")
        .expect("MAILINFRA_TEST_PYTHON is not set: run scripts/test, which installs jsonschema");
    let probes = probes();
    let mut options = serde_saphyr::Options::default();
    options.strict_booleans = true;
    // What an editor sees: the YAML as JSON. A document serde-saphyr cannot read as one
    // document is refused by both readers; `null` stands for it.
    let instances: Vec<serde_json::Value> = probes
        .iter()
        .map(|(_, text, _)| {
            serde_saphyr::from_str_with_options::<serde_json::Value>(text, options.clone())
                .unwrap_or(serde_json::Value::Null)
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("instances.json");
    std::fs::write(&input, serde_json::to_string(&instances).unwrap()).unwrap();
    let script = r#"
import json, sys
from jsonschema import Draft202012Validator
schema = json.load(open(sys.argv[1]))
Draft202012Validator.check_schema(schema)
v = Draft202012Validator(schema)
print(json.dumps([v.is_valid(i) for i in json.load(open(sys.argv[2]))]))
"#;
    let out = std::process::Command::new(python)
        .arg("-c")
        .arg(script)
        .arg(root.join("schema/mailinfra.schema.json"))
        .arg(&input)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let schema_ok: Vec<bool> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(schema_ok.len(), probes.len());
    let mut wrong = Vec::new();
    for ((name, text, only), schema_ok) in probes.iter().zip(schema_ok) {
        let validate_ok = blueprint::load("b.yaml", text, &data).is_ok();
        let fine = match only {
            None => schema_ok == validate_ok,
            Some(_) => schema_ok && !validate_ok,
        };
        if !fine {
            wrong.push(format!(
                "{name}: schema {}, validate {}{}",
                if schema_ok { "accepts" } else { "refuses" },
                if validate_ok { "accepts" } else { "refuses" },
                only.map_or(String::new(), |why| format!(
                    " (listed validate-only: {why})"
                ))
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
