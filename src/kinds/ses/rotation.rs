//! Rotating an SES identity's BYODKIM key with overlap (docs/rotation.md, "SES BYODKIM").
//!
//! SES holds one key per identity, and mailinfra never stores the private half: it exists
//! only in the memory of the apply that generates it. So the publish and the switch are one
//! apply: the new key's TXT goes up beside the old, Route 53 reports it INSYNC, then SES is
//! given the key. The old TXT stays `retire_after`, and a later apply removes it.
//!
//! There is no state file. What a later plan needs is in the identity's tag `mailinfra:dkim`
//! (`KeyTag`), which GetEmailIdentity returns with the identity: what signs, since when, and
//! what retires. The tag is written first, before the new TXT: a run killed before SES
//! switched leaves a tag naming a signer SES does not sign with while SES still signs with
//! the one it calls retiring, and the next apply carries the same rotation out again (the
//! lost key never signed anything, so its TXT is overwritten under the same selector).
//! Pure.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::kinds::rotation::{NOW, Policy, Stage, dated_selector, format_time, of_base, span};
use crate::kinds::ses::{DkimOrigin, ObservedIdentity};

/// The identity tag that records its DKIM key's history.
pub const TAG: &str = "mailinfra:dkim";

/// What signs an identity's mail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Signer {
    /// Easy DKIM: SES's keys, behind three CNAMEs.
    Easy,
    /// BYODKIM: the key published under this selector.
    Byodkim(String),
}

impl Signer {
    /// What SES signs with now.
    pub fn of(o: &ObservedIdentity) -> Signer {
        match (&o.dkim_origin, o.tokens.as_slice()) {
            (DkimOrigin::External, [selector]) => Signer::Byodkim(selector.clone()),
            (DkimOrigin::External, _) => Signer::Byodkim(String::new()),
            _ => Signer::Easy,
        }
    }

    pub fn selector(&self) -> Option<&str> {
        match self {
            Signer::Byodkim(s) => Some(s),
            Signer::Easy => None,
        }
    }

    /// In the tag: `easy` or `byodkim:<selector>` (a selector is one DNS label, never `:`).
    fn tag_text(&self) -> String {
        match self {
            Signer::Easy => "easy".into(),
            Signer::Byodkim(s) => format!("byodkim:{s}"),
        }
    }

    fn parse(text: &str) -> Option<Signer> {
        match text {
            "easy" => Some(Signer::Easy),
            _ => text
                .strip_prefix("byodkim:")
                .filter(|s| !s.is_empty())
                .map(|s| Signer::Byodkim(s.to_owned())),
        }
    }
}

impl std::fmt::Display for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        match self {
            Signer::Easy => f.write_str("Easy DKIM"),
            Signer::Byodkim(s) => write!(f, "`{s}`"),
        }
    }
}

/// An identity's DKIM key history, the value of its tag `mailinfra:dkim`:
/// `signing=byodkim:mi1-20261204 since=2026-12-04T10:00:00Z retiring=byodkim:mi1`
/// (SES tag values allow letters, digits, spaces and `_ . : / = + -`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyTag {
    pub signing: Signer,
    /// When the switch to `signing` was begun (seconds).
    pub since: Option<i64>,
    /// What signed before, published until `since + retire_after`.
    pub retiring: Option<Signer>,
}

impl KeyTag {
    pub fn parse(text: &str) -> Option<KeyTag> {
        let mut signing = None;
        let mut tag = KeyTag {
            signing: Signer::Easy,
            since: None,
            retiring: None,
        };
        for part in text.split_whitespace() {
            match part.split_once('=') {
                Some(("signing", v)) => signing = Signer::parse(v),
                Some(("since", v)) => tag.since = crate::kinds::rotation::parse_time(v),
                Some(("retiring", v)) => tag.retiring = Signer::parse(v),
                _ => {}
            }
        }
        tag.signing = signing?;
        Some(tag)
    }

    /// The tag's value; a `since` of `NOW` is written `now` and stamped at execution.
    pub fn text(&self) -> String {
        let mut out = format!("signing={}", self.signing.tag_text());
        if let Some(t) = self.since {
            out.push_str(&format!(" since={}", format_time(t)));
        }
        if let Some(r) = &self.retiring {
            out.push_str(&format!(" retiring={}", r.tag_text()));
        }
        out
    }

    pub fn of(o: &ObservedIdentity) -> Option<KeyTag> {
        o.tags.get(TAG).and_then(|t| KeyTag::parse(t))
    }
}

/// What the blueprint wants to sign an identity's mail.
#[derive(Debug, Clone, Copy)]
pub enum Want<'a> {
    Easy,
    Byodkim(&'a Policy),
}

/// What DNS and SES hold for one identity, as the decision needs it.
#[derive(Debug, Clone)]
pub struct Seen<'a> {
    /// `None`: the identity does not exist yet.
    pub identity: Option<&'a ObservedIdentity>,
    /// The selectors under which this blueprint publishes a DKIM TXT (owned records).
    pub published: &'a BTreeSet<String>,
    /// The Easy DKIM CNAMEs this blueprint publishes for the domain, by name.
    pub easy_cnames: Vec<String>,
    pub now: i64,
}

/// The decision for one identity's DKIM key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyPlan {
    /// What signs after this apply.
    pub signer: Signer,
    /// SES's DKIM is set anew this apply (to `signer`), after the tag `mark` is written.
    pub switch: bool,
    /// The tag written before the switch (or with the identity when it is created).
    pub mark: Option<String>,
    /// The selector whose key this apply generates: its TXT takes the new public half.
    pub new_key: Option<String>,
    /// Each BYODKIM selector published after this apply, with its stage.
    pub keys: BTreeMap<String, Stage>,
    /// Easy DKIM CNAMEs that stay published while they retire, by name.
    pub easy_cnames: Vec<String>,
    /// What this apply stops publishing: a retired key.
    pub removes: Option<Signer>,
    /// Where the key stands after this apply, in words (plan, status, check).
    pub stage: String,
    /// When the next step is due (seconds), if one is.
    pub next_due: Option<i64>,
}

impl KeyPlan {
    /// `signer` signs, nothing changes, nothing is published.
    pub fn new(signer: Signer) -> KeyPlan {
        KeyPlan {
            signer,
            switch: false,
            mark: None,
            new_key: None,
            keys: BTreeMap::new(),
            easy_cnames: Vec::new(),
            removes: None,
            stage: String::new(),
            next_due: None,
        }
    }

    /// A rotation is under way or happens in this apply: an old key is still published.
    pub fn in_progress(&self) -> bool {
        self.switch
            || self.removes.is_some()
            || self.keys.values().any(|s| *s == Stage::Retiring)
            || !self.easy_cnames.is_empty()
    }
}

/// Decides this apply's DKIM step for one identity (docs/rotation.md, "SES BYODKIM").
/// `retire_after` applies to the key being replaced: the blueprint's, or the default for an
/// identity going back to Easy DKIM.
pub fn decide(want: Want, seen: &Seen, retire_after: i64) -> KeyPlan {
    let now = seen.now;
    let Some(o) = seen.identity else {
        // A new identity is created with its signer and the tag.
        return match want {
            Want::Easy => plan(Signer::Easy, "Easy DKIM (created with the identity)".into()),
            Want::Byodkim(p) => {
                let signer = Signer::Byodkim(p.selector.clone());
                let mut k = plan(
                    signer.clone(),
                    format!("signing with `{}` (created with the identity)", p.selector),
                );
                k.mark = Some(
                    KeyTag {
                        signing: signer,
                        since: Some(NOW),
                        retiring: None,
                    }
                    .text(),
                );
                k.new_key = Some(p.selector.clone());
                k.keys.insert(p.selector.clone(), Stage::Signing);
                k
            }
        };
    };
    let current = Signer::of(o);
    let tag = KeyTag::of(o);
    // The history, when the tag is about what SES signs with now; a rotation cut short
    // before SES switched, when SES signs with what the tag calls retiring.
    let (since, retiring, begun) = match &tag {
        Some(t) if t.signing == current => (t.since, t.retiring.clone(), None),
        Some(t) if t.retiring.as_ref() == Some(&current) => (None, None, Some(t.signing.clone())),
        _ => (None, None, None),
    };
    let live = |s: &Signer| match s {
        Signer::Easy => !seen.easy_cnames.is_empty(),
        Signer::Byodkim(sel) => seen.published.contains(sel),
    };
    // The old key still published and within its time: kept; after it, left to go.
    let retiring = retiring.filter(|r| *r != current && live(r));
    let retire_due = retiring
        .as_ref()
        .map(|_| since.unwrap_or(now) + retire_after);
    let busy = retire_due.is_some_and(|d| now < d);
    let current_live = match &current {
        Signer::Easy => true,
        Signer::Byodkim(sel) => seen.published.contains(sel),
    };

    // What the blueprint asks for, and why a switch would happen.
    let target: Option<(Signer, String)> = match want {
        Want::Easy => (current != Signer::Easy)
            .then(|| (Signer::Easy, "the blueprint asks for Easy DKIM".to_owned())),
        Want::Byodkim(p) => {
            let taken = |s: &str| {
                current.selector() == Some(s) && current_live
                    || retiring.as_ref().and_then(Signer::selector) == Some(s)
            };
            let of_stem = current.selector().is_some_and(|s| of_base(s, &p.selector));
            match begun.as_ref().and_then(Signer::selector) {
                Some(n) if of_base(n, &p.selector) => Some((
                    Signer::Byodkim(n.to_owned()),
                    "a rotation cut short before SES switched".to_owned(),
                )),
                _ if !current_live => Some((
                    Signer::Byodkim(if taken(&p.selector) {
                        dated_selector(&p.selector, now, taken)
                    } else {
                        p.selector.clone()
                    }),
                    format!(
                        "the key SES signs with, {current}, is not published: every signature fails"
                    ),
                )),
                _ if !of_stem => Some((
                    Signer::Byodkim(if taken(&p.selector) {
                        dated_selector(&p.selector, now, taken)
                    } else {
                        p.selector.clone()
                    }),
                    match current {
                        Signer::Easy => "the blueprint asks for BYODKIM",
                        Signer::Byodkim(_) => "the blueprint names a new selector",
                    }
                    .to_owned(),
                )),
                _ => {
                    let due = p.rotate_every.map(|e| since.map_or(now, |s| s + e));
                    let is_due = due.is_some_and(|d| now >= d);
                    (p.requested || is_due).then(|| {
                        (
                            Signer::Byodkim(dated_selector(&p.selector, now, taken)),
                            if p.requested {
                                "asked for"
                            } else {
                                "rotate_every"
                            }
                            .to_owned(),
                        )
                    })
                }
            }
        }
    };

    let urgent = !current_live && matches!(current, Signer::Byodkim(_));
    match target {
        Some((to, why)) if !busy || urgent || begun.is_some() => {
            let mut keys = BTreeMap::new();
            if let Some(s) = to.selector() {
                keys.insert(s.to_owned(), Stage::Signing);
            }
            // What signs now retires, when it is published; when it is not (an urgent switch),
            // a key still retiring keeps retiring, from now.
            let old = Some(current.clone())
                .filter(|c| *c != to && live(c))
                .or_else(|| retiring.clone().filter(|r| *r != to && busy));
            let mut easy_cnames = Vec::new();
            match &old {
                Some(Signer::Byodkim(s)) => {
                    keys.insert(s.clone(), Stage::Retiring);
                }
                Some(Signer::Easy) => easy_cnames = seen.easy_cnames.clone(),
                None => {}
            }
            let mark = KeyTag {
                signing: to.clone(),
                since: Some(NOW),
                retiring: old.clone(),
            };
            let mut stage = match &to {
                Signer::Byodkim(s) => format!(
                    "rotating to `{s}` ({why}): its TXT is published, and SES signs with it once Route 53 has it INSYNC"
                ),
                Signer::Easy => format!("switching to Easy DKIM ({why})"),
            };
            if let Some(old) = &old {
                stage.push_str(&format!(
                    "; {old} stays published {} after the switch (retire_after), then is removed",
                    span(retire_after)
                ));
            }
            KeyPlan {
                signer: to.clone(),
                switch: true,
                mark: Some(mark.text()),
                new_key: to.selector().map(str::to_owned),
                keys,
                easy_cnames,
                removes: None,
                stage,
                next_due: None,
            }
        }
        target => {
            let mut k = plan(current.clone(), String::new());
            if let Some(s) = current.selector().filter(|_| current_live) {
                k.keys.insert(s.to_owned(), Stage::Signing);
            }
            k.stage = format!("signing with {current}");
            if let Some(s) = since {
                k.stage.push_str(&format!(" since {}", format_time(s)));
            }
            if let (Some(r), Some(due)) = (&retiring, retire_due) {
                if now < due {
                    match r {
                        Signer::Byodkim(s) => {
                            k.keys.insert(s.clone(), Stage::Retiring);
                        }
                        Signer::Easy => k.easy_cnames = seen.easy_cnames.clone(),
                    }
                    k.stage
                        .push_str(&format!("; {r} stays published until {}", format_time(due)));
                    k.next_due = Some(due);
                } else {
                    k.stage.push_str(&format!("; retiring {r}"));
                    k.removes = Some(r.clone());
                }
            }
            if let Some((to, _)) = target {
                k.stage.push_str(&format!(
                    "; the switch to {to} waits until the old key is retired"
                ));
            } else if let Want::Byodkim(p) = want {
                let age_due = p.rotate_every.and_then(|e| since.map(|s| s + e));
                if let Some(d) = age_due {
                    k.stage
                        .push_str(&format!("; next rotation due {}", format_time(d)));
                    k.next_due = Some(k.next_due.map_or(d, |n: i64| n.min(d)));
                }
            }
            k
        }
    }
}

fn plan(signer: Signer, stage: String) -> KeyPlan {
    KeyPlan {
        stage,
        ..KeyPlan::new(signer)
    }
}

/// Where an identity's key stands, from SES alone (`status`, which reads no DNS): what signs
/// and since when, a key still retiring, and when the next rotation is due.
pub fn describe(policy: Option<&Policy>, o: &ObservedIdentity, now: i64) -> Option<String> {
    let current = Signer::of(o);
    let tag = KeyTag::of(o).filter(|t| t.signing == current);
    if policy.is_none() && tag.is_none() {
        return None;
    }
    let since = tag.as_ref().and_then(|t| t.since);
    let mut text = format!("signing with {current}");
    match since {
        Some(s) => text.push_str(&format!(" since {}", format_time(s))),
        None => text.push_str(" (since before mailinfra recorded it)"),
    }
    // Back on Easy DKIM the blueprint has no `retire_after`: the default's.
    let retire_after = policy.map_or(crate::blueprint::DEFAULT_RETIRE_AFTER, |p| p.retire_after);
    if let (Some(r), Some(s)) = (tag.as_ref().and_then(|t| t.retiring.as_ref()), since)
        && now < s + retire_after
    {
        text.push_str(&format!(
            "; {r} stays published until {}",
            format_time(s + retire_after)
        ));
    }
    if let Some(every) = policy.and_then(|p| p.rotate_every) {
        match since {
            Some(s) => text.push_str(&format!("; next rotation due {}", format_time(s + every))),
            None => text.push_str("; rotated at the next apply (rotate_every, age unknown)"),
        }
    }
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400;
    /// 2027-01-15T08:00:00Z
    const NOW_: i64 = 1_800_000_000;

    fn identity(signer: &Signer, tag: Option<&str>) -> ObservedIdentity {
        let (origin, tokens) = match signer {
            Signer::Easy => ("AWS_SES", vec!["t1".into(), "t2".into(), "t3".into()]),
            Signer::Byodkim(s) => ("EXTERNAL", vec![s.clone()]),
        };
        ObservedIdentity {
            domain: "example.net".into(),
            tags: tag
                .map(|t| [(TAG.to_owned(), t.to_owned())].into())
                .unwrap_or_default(),
            dkim_origin: origin.into(),
            tokens,
            ..ObservedIdentity::example()
        }
    }

    fn policy() -> Policy {
        Policy {
            selector: "mi1".into(),
            rotate_every: None,
            retire_after: 7 * DAY,
            requested: false,
        }
    }

    fn byo(s: &str) -> Signer {
        Signer::Byodkim(s.into())
    }

    /// Decides with the TXT of `txt` published and Easy DKIM's CNAMEs when `cnames`.
    fn decide_with(
        p: Option<&Policy>,
        o: Option<&ObservedIdentity>,
        txt: &[&str],
        cnames: bool,
    ) -> KeyPlan {
        let published = txt.iter().map(|s| s.to_string()).collect();
        let seen = Seen {
            identity: o,
            published: &published,
            easy_cnames: if cnames {
                vec!["t1._domainkey.example.net".into()]
            } else {
                vec![]
            },
            now: NOW_,
        };
        let want = p.map_or(Want::Easy, Want::Byodkim);
        decide(want, &seen, p.map_or(7 * DAY, |p| p.retire_after))
    }

    fn tag(signing: &str, since: i64, retiring: Option<&str>) -> String {
        let mut t = format!("signing={signing} since={}", format_time(since));
        if let Some(r) = retiring {
            t.push_str(&format!(" retiring={r}"));
        }
        t
    }

    #[test]
    fn the_tag_reads_back_what_it_writes() {
        let t = KeyTag {
            signing: byo("mi1-20270115"),
            since: Some(NOW_),
            retiring: Some(Signer::Easy),
        };
        assert_eq!(
            t.text(),
            "signing=byodkim:mi1-20270115 since=2027-01-15T08:00:00Z retiring=easy"
        );
        assert_eq!(KeyTag::parse(&t.text()), Some(t));
        // A plan writes `now`; apply stamps it.
        let planned = KeyTag {
            signing: byo("mi1"),
            since: Some(NOW),
            retiring: None,
        };
        assert_eq!(planned.text(), "signing=byodkim:mi1 since=now");
        assert_eq!(KeyTag::parse("since=now"), None, "no signer, no tag");
        assert_eq!(KeyTag::parse("signing=byodkim:"), None);
    }

    #[test]
    fn a_new_identity_starts_its_history_with_the_key_it_is_created_with() {
        let k = decide_with(Some(&policy()), None, &[], false);
        assert_eq!(k.signer, byo("mi1"));
        assert_eq!(k.new_key.as_deref(), Some("mi1"));
        assert_eq!(k.mark.as_deref(), Some("signing=byodkim:mi1 since=now"));
        assert!(!k.switch, "the create sets the key");
    }

    #[test]
    fn a_key_in_place_stays_until_due_or_asked() {
        let o = identity(&byo("mi1"), Some(&tag("byodkim:mi1", NOW_ - DAY, None)));
        let k = decide_with(Some(&policy()), Some(&o), &["mi1"], false);
        assert!(!k.switch && !k.in_progress(), "{k:?}");
        assert_eq!(k.keys, [("mi1".to_owned(), Stage::Signing)].into());

        let every = Policy {
            rotate_every: Some(30 * DAY),
            ..policy()
        };
        let k = decide_with(Some(&every), Some(&o), &["mi1"], false);
        assert!(!k.switch);
        assert_eq!(k.next_due, Some(NOW_ + 29 * DAY));
        // Due: a rotation under `<selector>-<yyyymmdd>`.
        let old = identity(
            &byo("mi1"),
            Some(&tag("byodkim:mi1", NOW_ - 31 * DAY, None)),
        );
        let k = decide_with(Some(&every), Some(&old), &["mi1"], false);
        assert!(k.switch && k.stage.contains("(rotate_every)"), "{k:?}");
        assert_eq!(k.new_key.as_deref(), Some("mi1-20270115"));
        // Of unknown age (no tag): due at once.
        let unknown = identity(&byo("mi1"), None);
        assert!(decide_with(Some(&every), Some(&unknown), &["mi1"], false).switch);
        assert!(!decide_with(Some(&policy()), Some(&unknown), &["mi1"], false).switch);
    }

    #[test]
    fn a_rotation_publishes_the_new_key_keeps_the_old_then_retires_it() {
        let o = identity(&byo("mi1"), Some(&tag("byodkim:mi1", NOW_ - DAY, None)));
        let asked = Policy {
            requested: true,
            ..policy()
        };
        let k = decide_with(Some(&asked), Some(&o), &["mi1"], false);
        assert!(k.switch && k.stage.contains("(asked for)"));
        assert_eq!(k.signer, byo("mi1-20270115"));
        assert_eq!(
            k.keys,
            [
                ("mi1".to_owned(), Stage::Retiring),
                ("mi1-20270115".to_owned(), Stage::Signing)
            ]
            .into()
        );
        assert_eq!(
            k.mark.as_deref(),
            Some("signing=byodkim:mi1-20270115 since=now retiring=byodkim:mi1")
        );

        // After the switch: the old key stays until since + retire_after.
        let after = identity(
            &byo("mi1-20270115"),
            Some(&tag(
                "byodkim:mi1-20270115",
                NOW_ - DAY,
                Some("byodkim:mi1"),
            )),
        );
        let both = ["mi1", "mi1-20270115"];
        let k = decide_with(Some(&policy()), Some(&after), &both, false);
        assert!(!k.switch && k.in_progress());
        assert_eq!(k.keys.get("mi1"), Some(&Stage::Retiring));
        assert_eq!(k.next_due, Some(NOW_ + 6 * DAY));
        // No second rotation meanwhile.
        let k = decide_with(Some(&asked), Some(&after), &both, false);
        assert!(!k.switch && k.stage.contains("waits until the old key is retired"));
        // Then it goes.
        let later = identity(
            &byo("mi1-20270115"),
            Some(&tag(
                "byodkim:mi1-20270115",
                NOW_ - 8 * DAY,
                Some("byodkim:mi1"),
            )),
        );
        let k = decide_with(Some(&policy()), Some(&later), &both, false);
        assert_eq!(k.removes, Some(byo("mi1")));
        assert_eq!(k.keys, [("mi1-20270115".to_owned(), Stage::Signing)].into());
        // Gone: nothing in progress any more.
        let k = decide_with(Some(&policy()), Some(&later), &["mi1-20270115"], false);
        assert!(!k.in_progress(), "{k:?}");
    }

    #[test]
    fn a_rotation_cut_short_before_ses_switched_is_carried_out_under_its_selector() {
        // The tag was written, SES still signs with the key it calls retiring.
        let o = identity(
            &byo("mi1"),
            Some(&tag(
                "byodkim:mi1-20270110",
                NOW_ - 5 * DAY,
                Some("byodkim:mi1"),
            )),
        );
        for txt in [&["mi1"][..], &["mi1", "mi1-20270110"]] {
            let k = decide_with(Some(&policy()), Some(&o), txt, false);
            assert!(k.switch && k.stage.contains("cut short"), "{k:?}");
            assert_eq!(k.new_key.as_deref(), Some("mi1-20270110"));
            assert_eq!(k.keys.get("mi1"), Some(&Stage::Retiring));
        }
    }

    #[test]
    fn a_key_ses_signs_with_unpublished_is_replaced_at_once() {
        let o = identity(
            &byo("mi1-20270110"),
            Some(&tag(
                "byodkim:mi1-20270110",
                NOW_ - DAY,
                Some("byodkim:mi1"),
            )),
        );
        // Its TXT is gone (deleted by hand) while the old one still retires.
        let k = decide_with(Some(&policy()), Some(&o), &["mi1"], false);
        assert!(k.switch && k.stage.contains("is not published"), "{k:?}");
        assert_eq!(
            k.new_key.as_deref(),
            Some("mi1-20270115"),
            "mi1 still retires"
        );
        assert_eq!(k.keys.get("mi1"), Some(&Stage::Retiring));
        // The blueprint's own selector, unpublished: the new key takes its place.
        let o = identity(&byo("mi1"), None);
        let k = decide_with(Some(&policy()), Some(&o), &[], false);
        assert_eq!((k.switch, k.new_key.as_deref()), (true, Some("mi1")));
    }

    #[test]
    fn switching_between_easy_dkim_and_byodkim_keeps_the_old_records_retiring() {
        let easy = identity(&Signer::Easy, None);
        let k = decide_with(Some(&policy()), Some(&easy), &[], true);
        assert!(k.switch && k.stage.contains("asks for BYODKIM"));
        assert_eq!(k.easy_cnames, ["t1._domainkey.example.net"]);
        assert_eq!(
            k.mark.as_deref(),
            Some("signing=byodkim:mi1 since=now retiring=easy")
        );
        let byo_now = identity(&byo("mi1"), Some(&tag("byodkim:mi1", NOW_ - DAY, None)));
        let k = decide_with(None, Some(&byo_now), &["mi1"], false);
        assert!(k.switch && k.new_key.is_none());
        assert_eq!(k.signer, Signer::Easy);
        assert_eq!(k.keys, [("mi1".to_owned(), Stage::Retiring)].into());
        // Easy DKIM in place, nothing retiring: nothing to say.
        let k = decide_with(None, Some(&easy), &[], true);
        assert!(!k.switch && !k.in_progress());
    }

    #[test]
    fn a_new_selector_in_the_blueprint_is_a_rotation_to_it() {
        let o = identity(&byo("old"), Some(&tag("byodkim:old", NOW_ - DAY, None)));
        let k = decide_with(Some(&policy()), Some(&o), &["old"], false);
        assert!(k.switch && k.stage.contains("names a new selector"));
        assert_eq!(k.new_key.as_deref(), Some("mi1"));
        assert_eq!(k.keys.get("old"), Some(&Stage::Retiring));
    }
}
