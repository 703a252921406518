//! What rotating a key means for every kind that holds one (the gateway's DKIM keys, SES
//! BYODKIM keys; docs/rotation.md): a key's stage, the blueprint's policy, how selectors a
//! rotation makes are named, and how the times a step sets are written in a plan.

use serde::{Deserialize, Serialize};

/// Where a key is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    /// Generated and published; nothing signs with it yet.
    Next,
    /// The signer (the gateway, SES) signs with it.
    Signing,
    /// Signed before the switch; still published for mail in flight.
    Retiring,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Next => "next",
            Stage::Signing => "signing",
            Stage::Retiring => "retiring",
        }
    }

    pub fn parse(s: &str) -> Option<Stage> {
        [Stage::Next, Stage::Signing, Stage::Retiring]
            .into_iter()
            .find(|x| x.as_str() == s)
    }
}

/// What the blueprint asks of rotation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    /// The blueprint's selector (`gateway.dkim.selector`, an identity's `byodkim.selector`):
    /// the first key's selector and the stem of every next one.
    pub selector: String,
    /// `rotate_every` in seconds.
    pub rotate_every: Option<i64>,
    /// `retire_after` in seconds.
    pub retire_after: i64,
    /// `mailinfra rotate gateway-dkim|ses-dkim`: start a rotation now (when none is under way).
    pub requested: bool,
}

/// A time a step sets to when it runs: plans stay the same from `plan --out` to `apply`
/// (a saved plan is applied only when planning again gives the same plan), and the time
/// written is the apply's. Written `now` in a plan; `stamp` puts the time in.
pub const NOW: i64 = i64::MIN;

/// Seconds since the epoch, now: what a step stamps, and when observation decides.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// `description` with `now` replaced by the time `secs`.
pub fn stamp(description: &str, secs: i64) -> String {
    description.replace("=now", &format!("={}", format_time(secs)))
}

/// A length of time as the blueprint writes it: `7d`, `12h`, `300s`.
pub fn span(secs: i64) -> String {
    match secs {
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3_600 == 0 => format!("{}h", s / 3_600),
        s => format!("{s}s"),
    }
}

/// `2026-12-03T10:00:00Z` for seconds since the epoch (`now` for `NOW`).
pub fn format_time(secs: i64) -> String {
    if secs == NOW {
        return "now".into();
    }
    super::gateway::health::rfc3339(secs)
}

pub fn parse_time(text: &str) -> Option<i64> {
    super::gateway::health::secs(text)
}

/// The day of `secs` as `yyyymmdd`.
pub fn day(secs: i64) -> String {
    format_time(secs)[..10].replace('-', "")
}

/// Whether `selector` is `base` or one a rotation of `base` named (`base-yyyymmdd[-n]`).
pub fn of_base(selector: &str, base: &str) -> bool {
    let Some(rest) = selector
        .strip_prefix(base)
        .and_then(|r| r.strip_prefix('-'))
    else {
        return selector == base;
    };
    let (date, n) = rest.split_once('-').unwrap_or((rest, "1"));
    date.len() == 8
        && date.bytes().all(|b| b.is_ascii_digit())
        && !n.is_empty()
        && n.bytes().all(|b| b.is_ascii_digit())
}

/// The selector of a new key under `stem`: `<stem>-<yyyymmdd>` for the day of `now`, with
/// `-2`, `-3` for a second rotation the same day; the first one `taken` does not refuse.
pub fn dated_selector(stem: &str, now: i64, taken: impl Fn(&str) -> bool) -> String {
    let dated = format!("{stem}-{}", day(now));
    (1..)
        .map(|n| {
            if n == 1 {
                dated.clone()
            } else {
                format!("{dated}-{n}")
            }
        })
        .find(|s| !taken(s))
        .expect("an unused selector exists")
}
