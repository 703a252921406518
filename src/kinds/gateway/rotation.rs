//! Rotating the gateway's DKIM key with overlap (docs/rotation.md). A rotation has three
//! stages, each one `apply`:
//!
//! 1. **publish**: a new key is generated under a new selector (`<selector>-<yyyymmdd>`) and
//!    its records are published beside the old ones; once Route 53 has them INSYNC (on every
//!    authoritative server) the key is marked `published`.
//! 2. **switch**: when the records' TTL has passed since then, the new key becomes the one
//!    the gateway signs with (the instance is replaced with the new selector) and the old one
//!    is marked `retiring`.
//! 3. **retire**: `retire_after` later, and only once the running instance signs with the new
//!    key, the old records are removed, then the old key.
//!
//! There is no state file: each key's stage and dates are in the description of its public
//! half in SSM (`KeyMeta`), which DescribeParameters returns with the names plan reads
//! anyway. Every stage is decided from what AWS holds, so a run killed at any request is
//! finished by the next: the new key's selector is fixed by its date and written before its
//! records, the switch marks the new key before the old, and the old records go before the
//! old key.

use serde::{Deserialize, Serialize};

use crate::kinds::rotation::parse_time;
pub use crate::kinds::rotation::{NOW, Policy, Stage, format_time, of_base, span, stamp};

/// What the description of a key's public half starts with.
pub const DESCRIPTION: &str = "mailinfra gateway DKIM public key (base64 SubjectPublicKeyInfo)";

/// A key's stage and dates, kept in the description of its public half:
/// `<DESCRIPTION>; stage=next; created=2026-12-03T10:00:00Z; published=…; since=…`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyMeta {
    /// `None` for a key made before stages were recorded: the one the gateway signs with.
    pub stage: Option<Stage>,
    /// When it was generated (seconds since the epoch).
    pub created: Option<i64>,
    /// When its records were INSYNC in Route 53 (a `next` key).
    pub published: Option<i64>,
    /// Since when it signs (`signing`) or stopped signing (`retiring`).
    pub since: Option<i64>,
}

impl KeyMeta {
    pub fn parse(description: &str) -> KeyMeta {
        let mut meta = KeyMeta::default();
        for part in description.split(';').skip(1) {
            let Some((name, value)) = part.trim().split_once('=') else {
                continue;
            };
            match name {
                "stage" => meta.stage = Stage::parse(value),
                "created" => meta.created = parse_time(value),
                "published" => meta.published = parse_time(value),
                "since" => meta.since = parse_time(value),
                _ => {}
            }
        }
        meta
    }

    pub fn description(&self) -> String {
        let mut out = String::from(DESCRIPTION);
        if let Some(s) = self.stage {
            out.push_str(&format!("; stage={}", s.as_str()));
        }
        for (name, t) in [
            ("created", self.created),
            ("published", self.published),
            ("since", self.since),
        ] {
            if let Some(t) = t {
                out.push_str(&format!("; {name}={}", format_time(t)));
            }
        }
        out
    }
}

/// One DKIM key of the gateway as SSM holds it: its two parameters
/// `/mailinfra/<blueprint>/dkim/<selector>/{private,public}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObservedKey {
    pub selector: String,
    /// The public half's value (base64 SubjectPublicKeyInfo).
    pub public: Option<String>,
    /// Whether the private half exists.
    pub private: bool,
    /// The KMS key that encrypts the private half.
    pub private_kms: Option<String>,
    /// From the public half's description.
    pub meta: KeyMeta,
    /// When the public half was last written (seconds): the age of a key made before
    /// stages were recorded.
    pub modified: Option<i64>,
}

impl ObservedKey {
    /// Both halves exist.
    pub fn complete(&self) -> bool {
        self.public.is_some() && self.private
    }

    fn created(&self) -> i64 {
        self.meta.created.or(self.modified).unwrap_or(0)
    }
}

/// What one apply does about the keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Step {
    /// Generate the key under `selector` (both halves, replacing a half left by a crash).
    Create { selector: String, meta: KeyMeta },
    /// Rewrite a key's stage and dates; `after_dns` waits for the plan's DNS changes to be
    /// INSYNC first.
    Mark {
        selector: String,
        meta: KeyMeta,
        after_dns: bool,
    },
    /// Delete a retired key, after its records are removed.
    Retire { selector: String },
}

/// The decision: which key the gateway signs with, which keys are published, and the steps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rotation {
    /// The selector the gateway signs with after this apply.
    pub signing: String,
    /// Every selector whose records stay or go up, the signing one first.
    pub published: Vec<String>,
    /// The stage of each published selector after this apply.
    pub keys: std::collections::BTreeMap<String, Stage>,
    pub steps: Vec<Step>,
    /// Where the rotation stands after this apply, in words (plan, status, check).
    pub stage: String,
    /// When the next stage is due (seconds), if one is.
    pub next_due: Option<i64>,
}

impl Rotation {
    /// Whether a rotation is under way (a second key exists or is being made).
    pub fn in_progress(&self) -> bool {
        self.published.len() > 1
    }
}

/// The selector of the next key: the blueprint's own when the signing key is not of it (the
/// blueprint names a new one) and it is free; otherwise `<base>-<yyyymmdd>`, with `-2`, `-3`
/// for a second rotation the same day.
fn next_selector(policy: &Policy, signing: &str, keys: &[ObservedKey], now: i64) -> String {
    let taken = |s: &str| keys.iter().any(|k| k.selector == s);
    if !of_base(signing, &policy.selector) && !taken(&policy.selector) {
        return policy.selector.clone();
    }
    crate::kinds::rotation::dated_selector(&policy.selector, now, taken)
}

/// Decides this apply's steps from the keys SSM holds. `wait` is the records' TTL: how long
/// after its records were INSYNC a new key waits before the gateway signs with it (resolvers
/// that looked the name up before may hold the answer that long). `instance_signs(selector)`
/// says whether the running gateway signs with that key already (its user data is the one
/// the selector renders): the old key is removed only then.
pub fn decide(
    policy: &Policy,
    keys: &[ObservedKey],
    now: i64,
    wait: i64,
    instance_signs: impl Fn(&str) -> bool,
) -> Rotation {
    let mut steps = Vec::new();
    let by = |stage: Option<Stage>| -> Vec<&ObservedKey> {
        let mut v: Vec<&ObservedKey> = keys
            .iter()
            .filter(|k| match stage {
                Some(Stage::Signing) => matches!(k.meta.stage, None | Some(Stage::Signing)),
                s => k.meta.stage == s,
            })
            .collect();
        // Newest last: the key that signs since latest wins. Among keys an earlier mailinfra
        // wrote (no stage recorded; a selector changed then left the old key behind), the
        // blueprint's own selector's, then the one made latest.
        v.sort_by_key(|k| {
            (
                k.meta.since.unwrap_or(0),
                k.selector == policy.selector,
                k.created(),
                k.selector.clone(),
            )
        });
        v
    };
    let signing_keys = by(Some(Stage::Signing));
    let complete_signing: Vec<&&ObservedKey> =
        signing_keys.iter().filter(|k| k.complete()).collect();
    let mut retiring: Vec<(String, i64)> = by(Some(Stage::Retiring))
        .iter()
        .map(|k| (k.selector.clone(), k.meta.since.unwrap_or(k.created())))
        .collect();
    let mut next: Option<&ObservedKey> = by(Some(Stage::Next)).last().copied();

    // The signing key: the newest complete one; older ones (a switch cut short between its
    // two marks) retire from when the newest began. Without one, the blueprint's selector's
    // key is made (a first apply, or a key a person deleted), replacing a half-made one.
    let signing = match complete_signing.last() {
        Some(s) => {
            let since = s.meta.since.unwrap_or(s.created());
            for old in complete_signing.iter().rev().skip(1) {
                retiring.push((old.selector.clone(), since));
                steps.push(mark(old, Stage::Retiring, since));
            }
            s.selector.clone()
        }
        None => {
            let selector = match next.take() {
                // A next key and nothing signing (the signing key was deleted by hand): the
                // next key is the one to sign with.
                Some(n) if n.complete() => {
                    steps.push(mark(n, Stage::Signing, NOW));
                    n.selector.clone()
                }
                _ => {
                    let selector = policy.selector.clone();
                    steps.push(Step::Create {
                        selector: selector.clone(),
                        meta: KeyMeta {
                            stage: Some(Stage::Signing),
                            created: Some(NOW),
                            published: None,
                            since: Some(NOW),
                        },
                    });
                    selector
                }
            };
            // Half-made keys under other selectors go with the retiring ones.
            for k in &signing_keys {
                if k.selector != selector {
                    retiring.push((k.selector.clone(), 0));
                }
            }
            selector
        }
    };
    let signing_key = keys.iter().find(|k| k.selector == signing);
    let mut published = vec![signing.clone()];
    let next_due;
    let mut stage;

    match next {
        Some(n) => {
            published.push(n.selector.clone());
            if !n.complete() {
                steps.push(Step::Create {
                    selector: n.selector.clone(),
                    meta: KeyMeta {
                        published: None,
                        ..n.meta.clone()
                    },
                });
            }
            match n.meta.published.filter(|_| n.complete()) {
                None => {
                    steps.push(publish_mark(&n.selector, &n.meta));
                    stage = format!(
                        "rotating to `{}`: its records are being published; the gateway switches to it at the first apply {} after they are INSYNC",
                        n.selector,
                        span(wait)
                    );
                    next_due = None;
                }
                Some(p) if now >= p + wait => {
                    // The switch: the new key first, so that a run cut short between the two
                    // marks still finds the new key signing.
                    steps.push(mark(n, Stage::Signing, NOW));
                    retiring.push((signing.clone(), now));
                    if let Some(s) = signing_key {
                        steps.push(mark(s, Stage::Retiring, NOW));
                    }
                    published = vec![n.selector.clone(), signing.clone()];
                    stage = format!(
                        "switching to `{}`; `{signing}` stays published {} after the switch (retire_after), then is removed",
                        n.selector,
                        span(policy.retire_after)
                    );
                    next_due = None;
                    let r = Rotation {
                        signing: n.selector.clone(),
                        published,
                        keys: Default::default(),
                        steps,
                        stage,
                        next_due,
                    };
                    return finish(r, retiring, policy, now, &instance_signs);
                }
                Some(p) => {
                    stage = format!(
                        "rotating to `{}`: published {}; the gateway switches to it at the first apply after {}",
                        n.selector,
                        format_time(p),
                        format_time(p + wait)
                    );
                    next_due = Some(p + wait);
                }
            }
        }
        None => {
            let age_due = signing_key
                .filter(|k| k.complete())
                .and_then(|k| policy.rotate_every.map(|e| k.created() + e));
            let renamed = !of_base(&signing, &policy.selector);
            let busy = !retiring.is_empty();
            let start = signing_key.is_some_and(|k| k.complete())
                && !busy
                && (policy.requested || renamed || age_due.is_some_and(|d| now >= d));
            if start {
                let selector = next_selector(policy, &signing, keys, now);
                let meta = KeyMeta {
                    stage: Some(Stage::Next),
                    created: Some(NOW),
                    published: None,
                    since: None,
                };
                steps.push(Step::Create {
                    selector: selector.clone(),
                    meta: meta.clone(),
                });
                steps.push(publish_mark(&selector, &meta));
                published.push(selector.clone());
                stage = format!(
                    "rotating to `{selector}` ({}): its records are being published; the gateway switches to it at the first apply {} after they are INSYNC",
                    if policy.requested {
                        "asked for"
                    } else if renamed {
                        "the blueprint names a new selector"
                    } else {
                        "rotate_every"
                    },
                    span(wait)
                );
                next_due = None;
            } else {
                stage = format!("signing with `{signing}`");
                if let Some(k) = signing_key.filter(|k| k.complete()) {
                    let since = k.meta.since.unwrap_or(k.created());
                    stage.push_str(&format!(" since {}", format_time(since)));
                }
                next_due = age_due;
                if policy.requested && busy {
                    stage.push_str("; a new rotation starts once the old key is retired");
                }
                if let Some(d) = age_due.filter(|_| !busy) {
                    stage.push_str(&format!("; next rotation due {}", format_time(d)));
                }
            }
        }
    }
    let r = Rotation {
        signing,
        published,
        keys: Default::default(),
        steps,
        stage,
        next_due,
    };
    finish(r, retiring, policy, now, &instance_signs)
}

/// Adds the retirements: each retiring key whose time is up goes once the gateway signs with
/// the new key (its records leave `published`); the others stay published.
fn finish(
    r: Rotation,
    mut retiring: Vec<(String, i64)>,
    policy: &Policy,
    now: i64,
    instance_signs: &impl Fn(&str) -> bool,
) -> Rotation {
    let Rotation {
        signing,
        mut published,
        mut steps,
        mut stage,
        mut next_due,
        ..
    } = r;
    retiring.sort();
    retiring.dedup_by(|a, b| a.0 == b.0);
    let mut keys: std::collections::BTreeMap<String, Stage> =
        published.iter().map(|s| (s.clone(), Stage::Next)).collect();
    keys.insert(signing.clone(), Stage::Signing);
    for (selector, since) in retiring {
        keys.insert(selector.clone(), Stage::Retiring);
        let due = since + policy.retire_after;
        if now >= due && instance_signs(&signing) {
            published.retain(|s| *s != selector);
            steps.push(Step::Retire {
                selector: selector.clone(),
            });
            stage.push_str(&format!("; retiring `{selector}`"));
        } else {
            if !published.contains(&selector) {
                published.push(selector.clone());
            }
            if now < due {
                if !stage.contains(&format!("`{selector}` stays")) {
                    next_due = Some(next_due.map_or(due, |d: i64| d.min(due)));
                    stage.push_str(&format!(
                        "; `{selector}` stays published until {}",
                        format_time(due)
                    ));
                }
            } else {
                stage.push_str(&format!(
                    "; `{selector}` is removed once the gateway signs with `{signing}`"
                ));
            }
        }
    }
    keys.retain(|s, _| published.contains(s));
    Rotation {
        signing,
        published,
        keys,
        steps,
        stage,
        next_due,
    }
}

fn mark(k: &ObservedKey, stage: Stage, since: i64) -> Step {
    Step::Mark {
        selector: k.selector.clone(),
        meta: KeyMeta {
            stage: Some(stage),
            created: Some(k.created()),
            published: k.meta.published,
            since: Some(since),
        },
        after_dns: false,
    }
}

fn publish_mark(selector: &str, meta: &KeyMeta) -> Step {
    Step::Mark {
        selector: selector.to_owned(),
        meta: KeyMeta {
            stage: Some(Stage::Next),
            created: meta.created.or(Some(NOW)),
            published: Some(NOW),
            since: None,
        },
        after_dns: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400;
    const T0: i64 = 1_780_000_000; // 2026-05-28

    fn policy() -> Policy {
        Policy {
            selector: "mta1".into(),
            rotate_every: Some(180 * DAY),
            retire_after: 7 * DAY,
            requested: false,
        }
    }

    fn key(selector: &str, stage: Option<Stage>, created: i64) -> ObservedKey {
        ObservedKey {
            selector: selector.into(),
            public: Some("MIIB".into()),
            private: true,
            private_kms: None,
            meta: KeyMeta {
                stage,
                created: Some(created),
                published: None,
                since: Some(created),
            },
            modified: Some(created),
        }
    }

    fn creates(r: &Rotation) -> Vec<&str> {
        r.steps
            .iter()
            .filter_map(|s| match s {
                Step::Create { selector, .. } => Some(selector.as_str()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn descriptions_round_trip_and_old_ones_read_as_signing() {
        let meta = KeyMeta {
            stage: Some(Stage::Next),
            created: Some(T0),
            published: Some(T0 + 60),
            since: None,
        };
        let text = meta.description();
        assert_eq!(
            text,
            format!(
                "{DESCRIPTION}; stage=next; created=2026-05-28T20:26:40Z; published=2026-05-28T20:27:40Z"
            )
        );
        assert_eq!(KeyMeta::parse(&text), meta);
        assert_eq!(KeyMeta::parse(DESCRIPTION), KeyMeta::default());
    }

    #[test]
    fn a_first_apply_makes_the_blueprint_selector_and_a_steady_key_waits_for_its_age() {
        let r = decide(&policy(), &[], T0, 300, |_| true);
        assert_eq!(creates(&r), ["mta1"]);
        assert_eq!(r.published, ["mta1"]);

        let keys = [key("mta1", None, T0)];
        let r = decide(&policy(), &keys, T0 + DAY, 300, |_| true);
        assert!(r.steps.is_empty(), "{r:?}");
        assert_eq!(r.next_due, Some(T0 + 180 * DAY));
        assert!(r.stage.contains("next rotation due"), "{}", r.stage);
    }

    #[test]
    fn a_whole_rotation_is_three_applies() {
        let p = policy();
        let now = T0 + 181 * DAY;
        // 1. due: a new key, published, marked after DNS.
        let keys = vec![key("mta1", Some(Stage::Signing), T0)];
        let r = decide(&p, &keys, now, 300, |_| true);
        let next = format!("mta1-{}", crate::kinds::rotation::day(now));
        assert_eq!(creates(&r), [next.as_str()]);
        assert_eq!(r.signing, "mta1");
        assert_eq!(r.published, ["mta1".to_owned(), next.clone()]);
        assert!(
            matches!(&r.steps[1], Step::Mark { after_dns: true, meta, .. } if meta.published == Some(NOW))
        );

        // Too early to switch: nothing happens.
        let mut n = key(&next, Some(Stage::Next), now);
        n.meta.published = Some(now);
        n.meta.since = None;
        let keys = vec![keys[0].clone(), n.clone()];
        let r = decide(&p, &keys, now + 200, 300, |_| true);
        assert!(r.steps.is_empty(), "{r:?}");
        assert_eq!(r.signing, "mta1");
        assert_eq!(r.next_due, Some(now + 300));

        // 2. TTL passed: the switch, new key marked first.
        let r = decide(&p, &keys, now + 300, 300, |_| true);
        assert_eq!(r.signing, next);
        assert_eq!(r.published, [next.clone(), "mta1".to_owned()]);
        let marks: Vec<(&str, Option<Stage>)> = r
            .steps
            .iter()
            .filter_map(|s| match s {
                Step::Mark { selector, meta, .. } => Some((selector.as_str(), meta.stage)),
                _ => None,
            })
            .collect();
        assert_eq!(
            marks,
            [
                (next.as_str(), Some(Stage::Signing)),
                ("mta1", Some(Stage::Retiring))
            ]
        );

        // 3. Retired only after retire_after, and only once the gateway signs with the new key.
        let mut old = keys[0].clone();
        old.meta.stage = Some(Stage::Retiring);
        old.meta.since = Some(now + 300);
        let mut new = n;
        new.meta.stage = Some(Stage::Signing);
        new.meta.since = Some(now + 300);
        let keys = vec![old, new];
        let r = decide(&p, &keys, now + 2 * DAY, 300, |_| true);
        assert!(r.steps.is_empty());
        assert_eq!(r.published.len(), 2);
        let later = now + 300 + 7 * DAY;
        let r = decide(&p, &keys, later, 300, |_| false);
        assert!(
            r.steps.is_empty(),
            "the instance still signs with the old key"
        );
        assert_eq!(r.published.len(), 2);
        let r = decide(&p, &keys, later, 300, |s| s == next);
        assert_eq!(
            r.steps,
            [Step::Retire {
                selector: "mta1".into()
            }]
        );
        assert_eq!(r.published, std::slice::from_ref(&next));
    }

    #[test]
    fn a_switch_cut_short_between_its_marks_finishes() {
        let now = T0 + 200 * DAY;
        let old = key("mta1", Some(Stage::Signing), T0);
        let mut new = key("mta1-20261203", Some(Stage::Signing), now - 10);
        new.meta.since = Some(now - 5);
        let r = decide(&policy(), &[old, new], now, 300, |_| true);
        assert_eq!(r.signing, "mta1-20261203");
        assert!(r.steps.iter().any(|s| matches!(s, Step::Mark { selector, meta, .. }
            if selector == "mta1" && meta.stage == Some(Stage::Retiring) && meta.since == Some(now - 5))));
        // Times this apply sets are written when it runs, so a saved plan stays the same.
        let text = KeyMeta {
            stage: Some(Stage::Signing),
            created: Some(T0),
            published: None,
            since: Some(NOW),
        }
        .description();
        assert!(text.ends_with("; since=now"), "{text}");
        assert_eq!(KeyMeta::parse(&stamp(&text, T0 + 5)).since, Some(T0 + 5));
        assert!(r.published.contains(&"mta1".to_owned()));
    }

    #[test]
    fn a_next_key_half_made_is_made_again_under_the_same_selector() {
        let now = T0 + 200 * DAY;
        let mut half = key("mta1-20261203", Some(Stage::Next), now);
        half.private = false;
        let r = decide(
            &policy(),
            &[key("mta1", None, T0), half],
            now + 10,
            300,
            |_| true,
        );
        assert_eq!(creates(&r), ["mta1-20261203"], "no second new key");
        assert_eq!(r.signing, "mta1");
    }

    #[test]
    fn asked_for_or_renamed_starts_one_and_a_busy_rotation_is_not_restarted() {
        let mut p = policy();
        p.rotate_every = None;
        let keys = [key("mta1", None, T0)];
        assert!(
            decide(&p, &keys, T0 + 400 * DAY, 300, |_| true)
                .steps
                .is_empty()
        );
        p.requested = true;
        assert_eq!(
            creates(&decide(&p, &keys, T0 + DAY, 300, |_| true)).len(),
            1
        );
        p.requested = false;
        p.selector = "mta2".into();
        assert_eq!(
            creates(&decide(&p, &keys, T0 + DAY, 300, |_| true)),
            ["mta2"]
        );
        // While an old key is still published, no new rotation starts.
        p.selector = "mta1".into();
        p.requested = true;
        let mut old = key("mta0", Some(Stage::Retiring), T0);
        old.meta.since = Some(T0 + DAY);
        let r = decide(&p, &[keys[0].clone(), old], T0 + 2 * DAY, 300, |_| true);
        assert!(creates(&r).is_empty());
        assert!(
            r.stage.contains("once the old key is retired"),
            "{}",
            r.stage
        );
    }

    #[test]
    fn keys_an_earlier_version_left_retire_behind_the_blueprint_selector() {
        // No stages recorded: mta2 was the selector for a while, then mta1 again.
        let mut old = key("mta2", None, T0 + DAY);
        old.meta.since = None;
        let mut current = key("mta1", None, T0);
        current.meta.since = None;
        let r = decide(&policy(), &[old, current], T0 + 2 * DAY, 300, |_| true);
        assert_eq!(r.signing, "mta1");
        assert!(
            r.steps
                .iter()
                .any(|s| matches!(s, Step::Mark { selector, meta, .. }
            if selector == "mta2" && meta.stage == Some(Stage::Retiring)))
        );
    }

    #[test]
    fn rotated_selectors_belong_to_their_base() {
        assert!(of_base("mta1", "mta1"));
        assert!(of_base("mta1-20261203", "mta1"));
        assert!(of_base("mta1-20261203-2", "mta1"));
        assert!(!of_base("mta1-x", "mta1"));
        assert!(!of_base("mta2", "mta1"));
        assert!(!of_base("mta10", "mta1"));
    }
}
