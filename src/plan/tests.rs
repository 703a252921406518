//! Table-driven tests of `diff`, apart from every AWS call (dnscontrol's diff2 tests), and
//! snapshots of the rendered plan.

use std::collections::BTreeSet;

use super::*;
use crate::kinds::records::RecordSet;
use crate::kinds::records::ownership::{self, Owner, Scope};
use crate::mail::record::{Purpose, RType};
use crate::mail::txt;
use crate::plan::desired::{
    Content, Desired, DesiredRecord, OutputRef, OutputValue, Outputs, Piece, Template,
};
use crate::plan::observed::{HostedZone, Observed, ObservedZone};

fn set(name: &str, ttl: u32, values: &[&str]) -> RecordSet {
    RecordSet {
        name: name.into(),
        rtype: "TXT".into(),
        ttl,
        values: values.iter().map(|v| txt::encode(v)).collect(),
    }
}

fn marker(name: &str, blueprint: &str, scope: Scope) -> RecordSet {
    ownership::marker(
        name,
        "TXT",
        &Owner {
            blueprint: blueprint.into(),
            scope,
        },
    )
}

fn dmarc(text: &str) -> DesiredRecord {
    DesiredRecord {
        zone: "example.com".into(),
        name: "_dmarc.example.com".into(),
        rtype: "TXT".into(),
        ttl: 300,
        content: Content::Whole {
            values: vec![txt::encode(text)],
        },
        purpose: Purpose::Dmarc,
    }
}

fn spf(text: &str) -> DesiredRecord {
    DesiredRecord {
        name: "example.com".into(),
        content: Content::Spf { text: text.into() },
        purpose: Purpose::Spf,
        ..dmarc("")
    }
}

fn desired(records: Vec<DesiredRecord>, adopt: &[&str]) -> Desired {
    Desired {
        blueprint: "acme".into(),
        zones: ["example.com".to_owned()].into(),
        domains: ["example.com".to_owned()].into(),
        records,
        adopt: adopt.iter().map(|a| a.to_string()).collect::<BTreeSet<_>>(),
        region: None,
        ses: Default::default(),
        gateway: None,
        gateway_scope: None,
        writable: {
            let mut w = crate::kinds::records::ownership::Writable::default();
            for name in [
                "example.com",
                "_dmarc.example.com",
                "*._domainkey.example.com",
            ] {
                w.add(name, "TXT".into());
            }
            w
        },
    }
}

fn zone(tagged: bool, records: Vec<RecordSet>) -> Observed {
    Observed {
        zones: vec![ObservedZone {
            zone: HostedZone {
                id: "Z1".into(),
                name: "example.com".into(),
                private: false,
            },
            tagged,
            records,
        }],
        ses: None,
        gateway: None,
        other_zones: Vec::new(),
    }
}

/// (address, action, the text of each value after) of one change.
type ChangeOutline = (String, Action, Option<Vec<String>>);

/// Each change's outline, and the tag change.
fn outline(plan: &Plan) -> (Vec<ChangeOutline>, Option<TagChange>) {
    let z = plan.zones.first();
    (
        z.map(|z| {
            z.changes
                .iter()
                .map(|c| {
                    (
                        c.address.clone(),
                        c.action,
                        c.after
                            .as_ref()
                            .map(|a| a.values.iter().map(|v| txt::text_of(v)).collect()),
                    )
                })
                .collect()
        })
        .unwrap_or_default(),
        z.and_then(|z| z.tag),
    )
}

#[test]
fn decisions() {
    let p = "v=DMARC1; p=none";
    let m_dmarc = marker("_dmarc.example.com", "acme", Scope::All);
    let m_spf = marker("example.com", "acme", Scope::Spf);
    let s = |v: &str| Some(vec![v.to_owned()]);
    type Outline = (
        Vec<(&'static str, Action, Option<Vec<String>>)>,
        Option<TagChange>,
    );
    let cases: Vec<(&str, Desired, Observed, Outline)> = vec![
        (
            "create into an empty zone",
            desired(vec![dmarc(p)], &[]),
            zone(false, vec![]),
            (
                vec![("dns._dmarc.example.com.TXT", Action::Create, s(p))],
                Some(TagChange::Add),
            ),
        ),
        (
            "in place and owned: nothing",
            desired(vec![dmarc(p)], &[]),
            zone(
                true,
                vec![set("_dmarc.example.com", 300, &[p]), m_dmarc.clone()],
            ),
            (vec![], None),
        ),
        (
            "a TTL change is an update",
            desired(vec![dmarc(p)], &[]),
            zone(
                true,
                vec![set("_dmarc.example.com", 60, &[p]), m_dmarc.clone()],
            ),
            (
                vec![("dns._dmarc.example.com.TXT", Action::Update, s(p))],
                None,
            ),
        ),
        (
            "deleted out of band: created again",
            desired(vec![dmarc(p)], &[]),
            zone(true, vec![m_dmarc.clone()]),
            (
                vec![("dns._dmarc.example.com.TXT", Action::Create, s(p))],
                None,
            ),
        ),
        (
            "adopted",
            desired(vec![dmarc(p)], &["dns._dmarc.example.com.TXT"]),
            zone(
                false,
                vec![set("_dmarc.example.com", 300, &["v=DMARC1; p=reject"])],
            ),
            (
                vec![("dns._dmarc.example.com.TXT", Action::Adopt, s(p))],
                Some(TagChange::Add),
            ),
        ),
        (
            "SPF joins a shared set",
            desired(vec![spf("v=spf1 -all")], &[]),
            zone(true, vec![set("example.com", 3600, &["site=1"])]),
            (
                vec![(
                    "dns.example.com.TXT",
                    Action::Update,
                    Some(vec!["site=1".into(), "v=spf1 -all".into()]),
                )],
                None,
            ),
        ),
        (
            "owned SPF replaced in place",
            desired(vec![spf("v=spf1 -all")], &[]),
            zone(
                true,
                vec![
                    set("example.com", 3600, &["a=1", "v=spf1 ~all", "b=2"]),
                    m_spf.clone(),
                ],
            ),
            (
                vec![(
                    "dns.example.com.TXT",
                    Action::Update,
                    Some(vec!["a=1".into(), "v=spf1 -all".into(), "b=2".into()]),
                )],
                None,
            ),
        ),
        (
            "no longer desired: deleted with its marker, zone untagged",
            desired(vec![], &[]),
            zone(
                true,
                vec![set("_dmarc.example.com", 300, &[p]), m_dmarc.clone()],
            ),
            (
                vec![("dns._dmarc.example.com.TXT", Action::Delete, None)],
                Some(TagChange::Remove),
            ),
        ),
        (
            "no longer desired SPF: only its string goes",
            desired(vec![], &[]),
            zone(
                true,
                vec![
                    set("example.com", 300, &["a=1", "v=spf1 -all"]),
                    m_spf.clone(),
                ],
            ),
            (
                vec![(
                    "dns.example.com.TXT",
                    Action::Update,
                    Some(vec!["a=1".into()]),
                )],
                Some(TagChange::Remove),
            ),
        ),
        (
            "another blueprint's records are not ours to delete",
            desired(vec![], &[]),
            zone(
                true,
                vec![
                    set("_dmarc.example.com", 300, &[p]),
                    marker("_dmarc.example.com", "other", Scope::All),
                ],
            ),
            (vec![], Some(TagChange::Remove)),
        ),
    ];
    for (name, d, o, want) in cases {
        let plan = diff(&d, &o).unwrap_or_else(|c| panic!("{name}: {c:?}"));
        let (changes, tag) = outline(&plan);
        let want_changes: Vec<_> = want
            .0
            .iter()
            .map(|(a, b, c)| (a.to_string(), *b, c.clone()))
            .collect();
        assert_eq!((changes, tag), (want_changes, want.1), "{name}");
    }
}

#[test]
fn conflicts() {
    let cases: Vec<(&str, Desired, Observed, &str)> = vec![
        (
            "unowned record",
            desired(vec![dmarc("v=DMARC1; p=none")], &[]),
            zone(
                false,
                vec![set("_dmarc.example.com", 300, &["v=DMARC1; p=reject"])],
            ),
            "already exists and mailinfra does not own it",
        ),
        (
            "unowned SPF",
            desired(vec![spf("v=spf1 -all")], &[]),
            zone(false, vec![set("example.com", 300, &["v=spf1 mx -all"])]),
            "already has an SPF record that mailinfra does not own",
        ),
        (
            "two SPF strings, even when adopting",
            desired(vec![spf("v=spf1 -all")], &["dns.example.com.TXT"]),
            zone(
                false,
                vec![set(
                    "example.com",
                    300,
                    &["v=spf1 mx -all", "v=spf1 a -all"],
                )],
            ),
            "has 2 SPF records",
        ),
        (
            "owned by another blueprint",
            desired(
                vec![dmarc("v=DMARC1; p=none")],
                &["dns._dmarc.example.com.TXT"],
            ),
            zone(
                false,
                vec![marker("_dmarc.example.com", "other", Scope::All)],
            ),
            "is owned by blueprint `other`",
        ),
        (
            "missing zone",
            desired(vec![dmarc("v=DMARC1; p=none")], &[]),
            Observed::default(),
            "no public hosted zone `example.com`",
        ),
    ];
    for (name, d, o, want) in cases {
        let err = diff(&d, &o).expect_err(name);
        if name == "missing zone" {
            assert!(
                err.iter().any(|c| c.hint.contains("create-hosted-zone")),
                "{err:?}"
            );
        }
        assert!(
            err.iter().any(|c| c.message.contains(want)),
            "{name}: {err:?}"
        );
    }
}

#[test]
fn deleting_much_of_what_is_owned_needs_force() {
    let mut records = Vec::new();
    let mut wanted = Vec::new();
    for i in 0..10 {
        let name = format!("s{i}._domainkey.example.com");
        records.push(set(&name, 300, &["v=DKIM1; p=x"]));
        records.push(marker(&name, "acme", Scope::All));
        if i >= 4 {
            wanted.push(DesiredRecord {
                name,
                content: Content::Whole {
                    values: vec![txt::encode("v=DKIM1; p=x")],
                },
                ..dmarc("")
            });
        }
    }
    let plan = diff(&desired(wanted.clone(), &[]), &zone(true, records.clone())).unwrap();
    assert_eq!(plan.summary.delete, 4);
    assert!(
        plan.safety.as_deref().unwrap().contains("4 of the 10"),
        "{:?}",
        plan.safety
    );
    let plan = diff(&desired(wanted[3..].to_vec(), &[]), &zone(true, records)).unwrap();
    assert_eq!(plan.summary.delete, 7);
    let few = diff(&desired(wanted[..5].to_vec(), &[]), &zone(true, vec![])).unwrap();
    assert!(few.safety.is_none());
}

#[test]
fn batches_pair_deletes_with_creates_and_split_at_limits() {
    let old = set("_dmarc.example.com", 300, &["v=DMARC1; p=none"]);
    let plan = diff(
        &desired(vec![dmarc("v=DMARC1; p=reject")], &[]),
        &zone(
            true,
            vec![
                old.clone(),
                marker("_dmarc.example.com", "acme", Scope::All),
            ],
        ),
    )
    .unwrap();
    let b = batches(&plan.zones[0]);
    assert_eq!(b.len(), 1);
    let actions: Vec<_> = b[0]
        .changes
        .iter()
        .map(|c| (c.action, c.set.values.len()))
        .collect();
    assert_eq!(
        actions,
        [(ChangeAction::Delete, 1), (ChangeAction::Create, 1)]
    );
    assert_eq!(
        b[0].changes[0].set, old,
        "the DELETE is the observed set, to the letter"
    );

    // 600 new records with markers: 1,200 resource records, so two batches.
    let many: Vec<DesiredRecord> = (0..600)
        .map(|i| DesiredRecord {
            name: format!("r{i}.example.com"),
            ..dmarc("v=DMARC1; p=none")
        })
        .collect();
    let plan = diff(&desired(many, &[]), &zone(true, vec![])).unwrap();
    let b = batches(&plan.zones[0]);
    assert_eq!(b.len(), 2);
    for batch in &b {
        let n: usize = batch.changes.iter().map(|c| c.set.values.len()).sum();
        let chars: usize = batch
            .changes
            .iter()
            .flat_map(|c| &c.set.values)
            .map(String::len)
            .sum();
        assert!(n <= 1000 && chars <= 32_000, "{n} records, {chars} chars");
        assert_eq!(
            batch.changes.len() % 2,
            0,
            "a record and its marker travel together"
        );
    }
}

/// The gateway's SPF: its Elastic IP is an output until the address exists.
fn gateway_spf() -> DesiredRecord {
    DesiredRecord {
        content: Content::SpfFrom {
            text: Template(vec![
                Piece::Text("v=spf1 ip4:".into()),
                Piece::Output(OutputRef::gateway_ip()),
                Piece::Text(" ~all".into()),
            ]),
        },
        ..spf("")
    }
}

#[test]
fn a_pending_change_shows_current_values_as_current() {
    let d = desired(vec![gateway_spf()], &[]);
    let o = zone(true, vec![set("example.com", 300, &["site=1"])]);
    let text = render::text(&diff(&d, &o).unwrap(), render::Paint { color: false });
    assert!(text.contains("= \"site=1\"  (now)"), "{text}");
    assert!(!text.contains("- \"site=1\""), "{text}");
    assert!(
        text.contains("+ v=spf1 ip4:(known after apply: gateway.eip.public_ip) ~all"),
        "{text}"
    );
}

#[test]
fn an_spf_owned_by_someone_else_stops_the_plan_while_the_gateway_ip_is_unknown() {
    // The value is not known yet, but whose record it is, is: the plan must stop here,
    // before apply creates anything.
    let d = desired(vec![gateway_spf()], &[]);
    let o = zone(
        true,
        vec![set(
            "example.com",
            300,
            &["v=spf1 include:other.example -all"],
        )],
    );
    let conflicts = diff(&d, &o).unwrap_err();
    assert_eq!(conflicts.len(), 1, "{conflicts:?}");
    assert_eq!(conflicts[0].address, "dns.example.com.TXT");
    assert!(
        conflicts[0]
            .message
            .contains("SPF record that mailinfra does not own"),
        "{conflicts:?}"
    );
    // Adopting it makes the plan, as an adoption whose value apply learns.
    let d = desired(vec![gateway_spf()], &["dns.example.com.TXT"]);
    let plan = diff(&d, &o).unwrap();
    assert_eq!(plan.zones[0].changes[0].action, Action::Adopt);
    assert!(plan.zones[0].changes[0].pending.is_some());
}

#[test]
fn a_pending_change_is_filled_with_what_apply_learned_and_nothing_else() {
    let d = desired(vec![gateway_spf()], &[]);
    let o = zone(true, vec![set("example.com", 3600, &["site=1"])]);
    let plan = diff(&d, &o).unwrap();
    let change = &plan.zones[0].changes[0];
    // Unknown output: fill names it, so apply can say what is missing.
    assert_eq!(
        change.fill(&Outputs::default(), "acme").unwrap_err(),
        OutputRef::gateway_ip()
    );
    let mut learned = Outputs::default();
    learned.set(
        OutputRef::gateway_ip(),
        OutputValue::Text("192.0.2.7".into()),
    );
    let filled = change.fill(&learned, "acme").unwrap();
    assert_eq!(filled.len(), 1);
    let after = filled[0].after.as_ref().unwrap();
    // The other value stays, and so does the shared set's TTL.
    assert_eq!(after.ttl, 3600);
    assert_eq!(
        after.values,
        vec![
            txt::encode("site=1"),
            txt::encode("v=spf1 ip4:192.0.2.7 ~all")
        ]
    );
    assert_eq!(filled[0].before, change.before);
    assert_eq!(
        filled[0].marker_after,
        Some(marker("example.com", "acme", Scope::Spf))
    );
    assert!(filled[0].pending.is_none());
}

fn gateway_desired(image: &str) -> Desired {
    let source = format!(
        "blueprint: relay\nregion: eu-west-1\ngateway:\n  hostname: mail.example.com\n  image: {image}\n  relay_from: [10.0.0.0/16]\n  dkim: {{ selector: mta1 }}\n"
    );
    let bp = crate::blueprint::load("b.yaml", &source, std::path::Path::new(".")).unwrap();
    crate::plan::desired::from_blueprint(&bp)
}

/// A gateway applied with `applied` as its image, running `running`, planned with `image`
/// while Debian's parameter resolves to `resolved`: the changes' addresses and the reports.
fn gateway_plan(
    applied: &str,
    running: &str,
    image: &str,
    resolved: &str,
) -> (Vec<String>, Vec<Report>) {
    use crate::kinds::gateway::{
        InstanceState, ObservedEip, ObservedGateway, ObservedInstance, Subnet,
    };
    let launched = gateway_desired(applied);
    let launched = launched.gateway.as_ref().unwrap();
    let desired = gateway_desired(image);
    let observed = ObservedGateway {
        architectures: vec!["x86_64".into()],
        image_id: Some(resolved.into()),
        subnet: Some(Subnet {
            id: "subnet-1".into(),
            vpc_id: "vpc-1".into(),
        }),
        instances: vec![ObservedInstance {
            id: "i-1".into(),
            state: InstanceState::Running,
            instance_type: launched.instance_type.clone(),
            image_id: running.into(),
            subnet_id: "subnet-1".into(),
            private_ip: Some("10.0.0.5".into()),
            config: Some(launched.config_hash("subnet-1")),
            user_data: Some(launched.user_data_sha256()),
            network_interface: None,
            launched: 1,
        }],
        eips: vec![ObservedEip {
            allocation_id: "eipalloc-1".into(),
            public_ip: "198.51.100.7".into(),
            instance_id: Some("i-1".into()),
            association_id: Some("eipassoc-1".into()),
            ptr: Some("mail.example.com".into()),
            ptr_update: None,
            network_interface_id: None,
        }],
        ..Default::default()
    };
    let (changes, reports) = gateway::diff(&desired, Some(&observed), &mut Vec::new());
    (changes.into_iter().map(|c| c.address).collect(), reports)
}

#[test]
fn a_new_debian_image_is_reported_and_replaces_nothing() {
    let (changes, reports) = gateway_plan(
        "debian-12",
        "ami-0aaaaaaaaaaaaaaa1",
        "debian-12",
        "ami-0bbbbbbbbbbbbbbb2",
    );
    assert!(
        !changes.iter().any(|c| c == "gateway.instance"),
        "{changes:?}"
    );
    let report = reports
        .iter()
        .find(|r| r.address == "gateway.report.image")
        .expect("the newer image is reported");
    assert!(report.title.contains("ami-0bbbbbbbbbbbbbbb2"), "{report:?}");
    assert!(report.title.contains("ami-0aaaaaaaaaaaaaaa1"), "{report:?}");
    assert!(
        report.steps[1].contains("image: ami-0bbbbbbbbbbbbbbb2"),
        "{report:?}"
    );

    // Up to date: no report.
    let (_, reports) = gateway_plan(
        "debian-12",
        "ami-0bbbbbbbbbbbbbbb2",
        "debian-12",
        "ami-0bbbbbbbbbbbbbbb2",
    );
    assert!(!reports.iter().any(|r| r.address == "gateway.report.image"));

    // Pinning the new image is a change of configuration: a replacement.
    let (changes, _) = gateway_plan(
        "debian-12",
        "ami-0aaaaaaaaaaaaaaa1",
        "ami-0bbbbbbbbbbbbbbb2",
        "ami-0bbbbbbbbbbbbbbb2",
    );
    assert!(
        changes.iter().any(|c| c == "gateway.instance"),
        "{changes:?}"
    );
    // Pinning the image it runs changes nothing.
    let (changes, reports) = gateway_plan(
        "debian-12",
        "ami-0aaaaaaaaaaaaaaa1",
        "ami-0aaaaaaaaaaaaaaa1",
        "ami-0aaaaaaaaaaaaaaa1",
    );
    assert!(
        !changes.iter().any(|c| c == "gateway.instance"),
        "{changes:?}"
    );
    assert!(!reports.iter().any(|r| r.address == "gateway.report.image"));
}

#[test]
fn rendered_plan() {
    let d = desired(vec![dmarc("v=DMARC1; p=reject"), spf("v=spf1 -all")], &[]);
    let o = zone(
        false,
        vec![
            set("_dmarc.example.com", 300, &["v=DMARC1; p=none"]),
            marker("_dmarc.example.com", "acme", Scope::All),
            set("example.com", 3600, &["site=1"]),
            set("old.example.com", 300, &["v=spf1 -all"]),
            marker("old.example.com", "acme", Scope::Spf),
        ],
    );
    let plan = diff(&d, &o).unwrap();
    insta::assert_snapshot!(render::text(&plan, render::Paint { color: false }));
    let err = diff(
        &desired(vec![dmarc("x")], &[]),
        &zone(false, vec![set("_dmarc.example.com", 300, &["y"])]),
    )
    .unwrap_err();
    insta::assert_snapshot!("conflict", render::conflicts(&err));
}

mod ses_tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::kinds::ses::{
        DesiredConfigSet, DesiredIdentity, DesiredMailFrom, DkimSetting, ObservedConfigSet,
        ObservedIdentity, ObservedSes, owner_tags,
    };

    fn identity(dkim: DkimSetting, mail_from: bool) -> DesiredIdentity {
        DesiredIdentity {
            domain: "example.com".into(),
            zone: "example.com".into(),
            ttl: 300,
            dkim,
            mail_from: mail_from.then(|| DesiredMailFrom {
                domain: "bounce.example.com".into(),
                behavior: "USE_DEFAULT_VALUE".into(),
                spf: "v=spf1 include:amazonses.com -all".into(),
            }),
            configuration_set: None,
            key_policy: None,
            keys: None,
        }
    }

    fn easy() -> DkimSetting {
        DkimSetting::Easy {
            key_length: "RSA_2048_BIT".into(),
        }
    }

    fn observed_identity(tags: BTreeMap<String, String>) -> ObservedIdentity {
        ObservedIdentity {
            tags,
            ..ObservedIdentity::example()
        }
    }

    fn with_ses(identities: Vec<DesiredIdentity>) -> Desired {
        let mut d = desired(vec![], &[]);
        d.region = Some("eu-west-1".into());
        d.ses.identities = identities;
        d
    }

    fn observed(
        identities: Vec<ObservedIdentity>,
        config_sets: Vec<ObservedConfigSet>,
    ) -> Observed {
        let mut o = zone(true, vec![]);
        o.ses = Some(ObservedSes {
            region: "eu-west-1".into(),
            read_at: 1_800_000_000,
            account: None,
            identities: identities
                .into_iter()
                .map(|i| (i.domain.clone(), i))
                .collect(),
            config_sets: config_sets
                .into_iter()
                .map(|c| (c.name.clone(), c))
                .collect(),
        });
        o
    }

    fn mine() -> BTreeMap<String, String> {
        owner_tags("acme", "ses.identity.example.com")
    }

    #[test]
    fn known_tokens_become_three_cnames_and_mail_from_an_mx_and_spf() {
        let d = with_ses(vec![identity(easy(), true)]);
        let o = observed(vec![observed_identity(mine())], vec![]);
        let plan = diff(&d, &o).unwrap();
        let got: Vec<(String, RType, Content)> = plan
            .desired
            .records
            .iter()
            .map(|r| (r.name.clone(), r.rtype.clone(), r.content.clone()))
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    "t1._domainkey.example.com".into(),
                    "CNAME".into(),
                    Content::Whole {
                        values: vec!["t1.dkim.amazonses.com".into()]
                    }
                ),
                (
                    "t2._domainkey.example.com".into(),
                    "CNAME".into(),
                    Content::Whole {
                        values: vec!["t2.dkim.amazonses.com".into()]
                    }
                ),
                (
                    "t3._domainkey.example.com".into(),
                    "CNAME".into(),
                    Content::Whole {
                        values: vec!["t3.dkim.amazonses.com".into()]
                    }
                ),
                (
                    "bounce.example.com".into(),
                    "MX".into(),
                    Content::Whole {
                        values: vec!["10 feedback-smtp.eu-west-1.amazonses.com".into()]
                    }
                ),
                (
                    "bounce.example.com".into(),
                    "TXT".into(),
                    Content::Spf {
                        text: "v=spf1 include:amazonses.com -all".into()
                    }
                ),
            ]
        );
    }

    #[test]
    fn unknown_values_are_pending_until_resolved() {
        let mut d = with_ses(vec![
            identity(easy(), false),
            DesiredIdentity {
                domain: "example.net".into(),
                dkim: DkimSetting::External {
                    selector: "s1".into(),
                },
                ..identity(easy(), false)
            },
        ]);
        d.add_ses_records();
        assert!(
            d.records
                .iter()
                .all(|r| r.resolve(&Outputs::default()).is_err()),
            "{:?}",
            d.records
        );
        let mut learned = Outputs::default();
        learned.set(
            OutputRef::ses_tokens("example.com"),
            OutputValue::Tokens {
                tokens: vec!["a".into(), "b".into(), "c".into()],
                signing_zone: "dkim.example".into(),
            },
        );
        learned.set(
            OutputRef::ses_key("example.net"),
            OutputValue::Text("KEY".into()),
        );
        d.resolve(&learned);
        let mut got: Vec<(String, Content)> = d
            .records
            .iter()
            .map(|r| (r.name.clone(), r.content.clone()))
            .collect();
        got.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(
            got[0],
            (
                "a._domainkey.example.com".into(),
                Content::Whole {
                    values: vec!["a.dkim.example".into()]
                }
            )
        );
        assert_eq!(
            got[3],
            (
                "s1._domainkey.example.net".into(),
                Content::Whole {
                    values: vec!["\"v=DKIM1; k=rsa; p=KEY\"".into()]
                }
            )
        );
    }

    #[test]
    fn ses_decisions() {
        // (case, desired, observed, the SES changes by address and action)
        type Case = (&'static str, Desired, Observed, Vec<(&'static str, Action)>);
        let cases: Vec<Case> = vec![
            (
                "new identity",
                with_ses(vec![identity(easy(), true)]),
                observed(vec![], vec![]),
                vec![("ses.identity.example.com", Action::Create)],
            ),
            (
                "owned and in place",
                with_ses(vec![identity(easy(), false)]),
                observed(vec![observed_identity(mine())], vec![]),
                vec![],
            ),
            (
                "mail from added",
                with_ses(vec![identity(easy(), true)]),
                observed(vec![observed_identity(mine())], vec![]),
                vec![("ses.identity.example.com.mail_from", Action::Update)],
            ),
            (
                "switch to BYODKIM",
                with_ses(vec![identity(
                    DkimSetting::External {
                        selector: "s1".into(),
                    },
                    false,
                )]),
                observed(vec![observed_identity(mine())], vec![]),
                vec![("ses.identity.example.com.dkim", Action::Update)],
            ),
            (
                "no longer desired",
                with_ses(vec![]),
                observed(vec![observed_identity(mine())], vec![]),
                vec![("ses.identity.example.com", Action::Delete)],
            ),
            (
                "someone else's identity is left alone",
                with_ses(vec![]),
                observed(vec![observed_identity(BTreeMap::new())], vec![]),
                vec![],
            ),
            (
                "configuration set drift",
                {
                    let mut d = with_ses(vec![]);
                    d.ses.config_sets = vec![DesiredConfigSet {
                        name: "tx".into(),
                        suppression: Some(vec!["BOUNCE".into()]),
                        tls: "REQUIRE".into(),
                        sending_enabled: true,
                        tags: owner_tags("acme", "ses.configuration_set.tx"),
                    }];
                    d
                },
                observed(
                    vec![],
                    vec![ObservedConfigSet {
                        name: "tx".into(),
                        tags: owner_tags("acme", "ses.configuration_set.tx"),
                        suppression: Some(vec![]),
                        tls: "REQUIRE".into(),
                        sending_enabled: true,
                    }],
                ),
                vec![("ses.configuration_set.tx", Action::Update)],
            ),
            (
                "a set without suppression in the blueprint leaves the set's own alone",
                {
                    let mut d = with_ses(vec![]);
                    d.ses.config_sets = vec![DesiredConfigSet {
                        name: "tx".into(),
                        suppression: None,
                        tls: "REQUIRE".into(),
                        sending_enabled: true,
                        tags: owner_tags("acme", "ses.configuration_set.tx"),
                    }];
                    d
                },
                observed(
                    vec![],
                    vec![ObservedConfigSet {
                        name: "tx".into(),
                        tags: owner_tags("acme", "ses.configuration_set.tx"),
                        suppression: Some(vec![]),
                        tls: "REQUIRE".into(),
                        sending_enabled: true,
                    }],
                ),
                vec![],
            ),
        ];
        for (name, d, o, want) in cases {
            let plan = diff(&d, &o).unwrap_or_else(|c| panic!("{name}: {c:?}"));
            let got: Vec<(&str, Action)> = plan
                .ses
                .iter()
                .map(|c| (c.address.as_str(), c.action))
                .collect();
            assert_eq!(got, want, "{name}");
        }
    }

    #[test]
    fn an_identity_tagged_by_another_blueprint_is_a_conflict() {
        let other = owner_tags("other", "ses.identity.example.com");
        let err = diff(
            &with_ses(vec![identity(easy(), false)]),
            &observed(vec![observed_identity(other)], vec![]),
        )
        .unwrap_err();
        assert!(
            err[0].message.contains("is owned by blueprint `other`"),
            "{err:?}"
        );
    }
}

/// A forged ownership record naming the blueprint: at a name or type it never writes, or in
/// a zone it does not name, it leads to no change, only a report.
#[test]
fn forged_ownership_records_delete_nothing() {
    let forged = |name: &str, rtype: &str| {
        ownership::marker(
            name,
            rtype,
            &Owner {
                blueprint: "acme".into(),
                scope: Scope::All,
            },
        )
    };
    let record = |name: &str, rtype: &str, value: &str| RecordSet {
        name: name.into(),
        rtype: rtype.into(),
        ttl: 300,
        values: vec![value.into()],
    };
    let mut observed = zone(
        true,
        vec![
            record("example.com", "MX", "10 mx.example.com"),
            forged("example.com", "MX"),
            record("www.example.com", "A", "192.0.2.1"),
            forged("www.example.com", "A"),
            // Honoured: the DMARC record this blueprint can write.
            set("_dmarc.example.com", 300, &["v=DMARC1; p=none"]),
            marker("_dmarc.example.com", "acme", Scope::All),
        ],
    );
    observed.zones.push(ObservedZone {
        zone: HostedZone {
            id: "Z2".into(),
            name: "victim.test".into(),
            private: false,
        },
        tagged: true,
        records: vec![
            set("victim.test", 300, &["v=spf1 -all"]),
            forged("victim.test", "TXT"),
        ],
    });
    let plan = diff(&desired(vec![], &[]), &observed).unwrap();
    let changed: Vec<&str> = plan
        .zones
        .iter()
        .flat_map(|z| z.changes.iter().map(|c| c.address.as_str()))
        .collect();
    assert_eq!(changed, ["dns._dmarc.example.com.TXT"]);
    let reported: Vec<&str> = plan.reports.iter().map(|r| r.address.as_str()).collect();
    assert_eq!(
        reported,
        [
            "dns.example.com.MX",
            "dns.www.example.com.A",
            "dns.victim.test.TXT"
        ]
    );
    assert!(
        plan.reports[2]
            .title
            .contains("does not name zone `victim.test`"),
        "{:?}",
        plan.reports[2]
    );
}

/// A domain reporting to another organizational domain whose zone is in the blueprint gets
/// the report domain's consent published there (RFC 9989 §4.7.1); a report domain elsewhere,
/// or in the same organizational domain, gets none.
#[test]
fn report_authorization_is_published_where_the_blueprint_holds_the_report_domain() {
    let source = "blueprint: acme\ndomains:\n  - domain: example.com\n    dmarc: { policy: none, rua: [mailto:r@example.com] }\n  - domain: example.org\n    dmarc: { policy: none, rua: ['mailto:r@reports.example.com', mailto:r@example.net, mailto:r@sub.example.org] }\n";
    let bp = crate::blueprint::load("b.yaml", source, std::path::Path::new(".")).unwrap();
    let d = crate::plan::desired::from_blueprint(&bp);
    let auth: Vec<(&str, &str)> = d
        .records
        .iter()
        .filter(|r| r.purpose == Purpose::DmarcReportAuth)
        .map(|r| (r.zone.as_str(), r.name.as_str()))
        .collect();
    assert_eq!(
        auth,
        vec![(
            "example.com",
            "example.org._report._dmarc.reports.example.com"
        )]
    );
}

/// A zone the blueprint names that is missing, below a zone the account has: the hint names
/// the parent (issue 13).
#[test]
fn a_missing_zone_below_an_existing_one_names_the_parent() {
    let mut d = desired(vec![dmarc("v=DMARC1; p=none")], &[]);
    d.zones = ["shop.example.com".to_owned()].into();
    let o = Observed {
        other_zones: vec!["com.example".into(), "example.com".into()],
        ..Observed::default()
    };
    let err = diff(&d, &o).expect_err("missing zone");
    let c = err
        .iter()
        .find(|c| c.address == "zone.shop.example.com")
        .unwrap();
    assert!(
        c.hint.contains("parent zone `example.com`") && c.hint.contains("zone: example.com"),
        "{c:?}"
    );
}
