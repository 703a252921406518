//! Table-driven tests of `diff`, apart from every AWS call (dnscontrol's diff2 tests), and
//! snapshots of the rendered plan.

use std::collections::BTreeSet;

use super::*;
use crate::mail::txt;
use crate::model::RecordSet;
use crate::model::desired::{Content, Desired, DesiredRecord};
use crate::model::observed::{HostedZone, Observed, ObservedZone};
use crate::model::ownership::{self, Owner, Scope};

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
        purpose: "DMARC".into(),
    }
}

fn spf(text: &str) -> DesiredRecord {
    DesiredRecord {
        name: "example.com".into(),
        content: Content::Spf { text: text.into() },
        purpose: "SPF".into(),
        ..dmarc("")
    }
}

fn desired(records: Vec<DesiredRecord>, adopt: &[&str]) -> Desired {
    Desired {
        blueprint: "acme".into(),
        zones: ["example.com".to_owned()].into(),
        records,
        adopt: adopt.iter().map(|a| a.to_string()).collect::<BTreeSet<_>>(),
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
