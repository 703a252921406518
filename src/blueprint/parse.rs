//! Reading the blueprint types from YAML: serde-saphyr's options and input limits, its
//! errors as diagnostics (with path, position and hint), the serde helpers the types name,
//! and `complete`, which fills what is derived after reading (paths, lower-cased names,
//! defaults that depend on other fields, DKIM key files).

use std::borrow::Cow;
use std::path::Path;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Unexpected, Visitor};
use serde_saphyr::budget::BudgetBreach;

use super::*;

/// Bounds on what a blueprint file may hold, so that `validate` (the step CI runs on
/// pull-request content) needs bounded memory and time whatever the input. A real blueprint
/// stays far below each.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The file's size in bytes.
    pub file_bytes: usize,
    /// Events replayed from aliases (`*name`) in all, and event copies kept for anchors.
    pub alias_events: usize,
    /// Nested lists and mappings.
    pub depth: usize,
    /// YAML documents in the file.
    pub documents: usize,
    /// Scalars, lists and mappings in the document.
    pub nodes: usize,
}

pub const LIMITS: Limits = Limits {
    file_bytes: 1 << 20,
    alias_events: 100_000,
    depth: 32,
    documents: 1,
    nodes: 1_000_000,
};

fn options() -> serde_saphyr::Options {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_depth = LIMITS.depth;
    budget.flow_nesting_limit = LIMITS.depth;
    budget.max_documents = LIMITS.documents;
    budget.max_nodes = LIMITS.nodes;
    budget.max_events = 4 * LIMITS.nodes;
    budget.max_recorded_anchor_events = LIMITS.alias_events;
    budget.max_recorded_anchor_bytes = LIMITS.file_bytes;
    let mut options = serde_saphyr::Options::default();
    options.budget = Some(budget);
    options.alias_limits.max_total_replayed_events = LIMITS.alias_events;
    // YAML 1.2 booleans only: `yes`/`no`/`on`/`off` are refused where a boolean goes (and read
    // as text elsewhere), as yaml-language-server and the JSON Schema read them.
    options.strict_booleans = true;
    options.with_snippet = false;
    options
}

/// Reads the blueprint types from `source`; the first structural problem stops it.
pub(super) fn from_str(source: &str) -> Result<Blueprint, Diagnostic> {
    if source.len() > LIMITS.file_bytes {
        return Err(too_large(source.len()));
    }
    let mut path = String::new();
    serde_saphyr::with_deserializer_from_str_with_options(source, options(), |de| {
        serde_path_to_error::deserialize(de).map_err(|e| {
            path = e.path().to_string();
            e.into_inner()
        })
    })
    .map_err(|e| diagnostic(&e, &clean_path(&path), source))
}

/// The diagnostic for a file over the size limit.
pub(super) fn too_large(bytes: usize) -> Diagnostic {
    Diagnostic::new(
        None,
        "",
        format!(
            "the blueprint is {bytes} bytes; the file size limit is {} bytes (1 MB)",
            LIMITS.file_bytes
        ),
    )
    .hint("a blueprint this large is not a hand-written file; split it into several blueprints")
}

/// serde's path without the `Spanned` wrappers' `value` steps and unknown (`?`) steps; the
/// root is empty.
fn clean_path(path: &str) -> String {
    let path = path.replace(".value", "").replace(".?", "");
    if path == "." || path == "?" {
        String::new()
    } else {
        path
    }
}

/// The path's parent and last field: `domains[0].tll` -> (`domains[0]`, `tll`).
fn split_path(path: &str) -> (&str, &str) {
    match path.rfind('.') {
        Some(i) => (&path[..i], &path[i + 1..]),
        None if path.ends_with(']') => (path, ""),
        None => ("", path),
    }
}

/// Names inside backticks, or after `expected one of`, in serde's messages.
fn names_after(msg: &str, marker: &str) -> Vec<String> {
    msg.split_once(marker)
        .map(|(_, rest)| {
            rest.trim_start_matches("one of ")
                .split(", ")
                .map(|n| n.trim_matches('`').to_owned())
                .filter(|n| !n.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

fn quoted(msg: &str) -> &str {
    msg.split('`').nth(1).unwrap_or("")
}

/// The closest known name to a typo: one edit per four characters (at least one) still reads
/// as a typo; on a tie, a field that starts with what was typed (`al` -> `all`).
fn did_you_mean(typed: &str, known: &[String]) -> String {
    let best = known
        .iter()
        .map(|k| (strsim::osa_distance(k, typed), k))
        .min_by_key(|(d, k)| (*d, !k.starts_with(typed)))
        .filter(|(d, _)| *d <= 1 + typed.len() / 4);
    match best {
        Some((_, k)) => format!("did you mean `{k}`?"),
        None => format!("known fields here: {}", known.join(", ")),
    }
}

/// The DMARC tags RFC 9989 removed, with what to do instead.
const REMOVED_DMARC_TAGS: &[(&str, &str)] = &[
    (
        "pct",
        "RFC 9989 removed `pct`; to roll a policy out gradually use `testing: true` (t=y)",
    ),
    (
        "rf",
        "RFC 9989 removed `rf`; failure reports have one format, drop the field",
    ),
    (
        "ri",
        "RFC 9989 removed `ri`; report intervals are the receiver's choice, drop the field",
    ),
];

/// serde's wording of a value's kind, as the blueprint's docs say it.
fn kind(found: &str) -> String {
    match found {
        "sequence" => "a list".into(),
        "map" => "a mapping".into(),
        "unit value" | "null" => "nothing (null)".into(),
        f if f.starts_with("string ") => format!("the text {}", &f["string ".len()..]),
        f => f.to_owned(),
    }
}

/// Which input limit an error reports, if it reports one.
fn limit_breached(e: &serde_saphyr::Error) -> Option<(&'static str, usize)> {
    use serde_saphyr::Error as E;
    const ALIAS: &str = "alias expansion";
    Some(match e {
        E::AliasReplayLimitExceeded { .. }
        | E::AliasExpansionLimitExceeded { .. }
        | E::AliasReplayStackDepthExceeded { .. } => (ALIAS, LIMITS.alias_events),
        E::MultipleDocuments { .. } => ("document count", LIMITS.documents),
        E::Budget { breach, .. } => match breach {
            BudgetBreach::Depth { .. } => ("nesting depth", LIMITS.depth),
            BudgetBreach::Documents { .. } => ("document count", LIMITS.documents),
            BudgetBreach::RecordedAnchorEvents { .. }
            | BudgetBreach::RecordedAnchorBytes { .. }
            | BudgetBreach::Aliases { .. }
            | BudgetBreach::Anchors { .. }
            | BudgetBreach::AliasAnchorRatio { .. } => (ALIAS, LIMITS.alias_events),
            _ => ("node count", LIMITS.nodes),
        },
        // Errors raised while an alias is replayed reach here as their text.
        _ => {
            let text = e.to_string();
            if text.contains("alias replay") || text.contains("alias expansion") {
                (ALIAS, LIMITS.alias_events)
            } else if text.contains("recursion limit") || text.contains("nesting limit") {
                ("nesting depth", LIMITS.depth)
            } else {
                return None;
            }
        }
    })
}

/// One structural problem as a diagnostic: serde's message in the blueprint's words, the
/// path and position, and a hint.
fn diagnostic(e: &serde_saphyr::Error, path: &str, source: &str) -> Diagnostic {
    let e = e.without_snippet();
    let location = e.location().filter(|l| l.line() > 0);
    let text = e.to_string();
    let msg = match text.rfind(" at line ") {
        Some(i) => &text[..i],
        None => text.as_str(),
    };
    let said = if let Some((limit, value)) = limit_breached(e) {
        over_limit(limit, value, path)
    } else if let serde_saphyr::Error::InvalidBooleanStrict { .. } = e {
        not_a_boolean(location, source, path)
    } else if let Some(said) = serde_message(msg, path) {
        said
    } else if let serde_saphyr::Error::Eof { .. } = e
        && source.trim_start_matches('\u{feff}').trim().is_empty()
    {
        Said::new(
            "",
            "the blueprint is empty".into(),
            "start with `blueprint: <name>`, e.g. `blueprint: acme-mail`",
        )
    } else {
        Said::new(
            path,
            format!("YAML error: {msg}"),
            "check the indentation and quoting around this position",
        )
    };
    Diagnostic::new(location.map(Pos::of), said.path, said.message).hint(said.hint)
}

/// A structural problem in the blueprint's words: where, what, and what to do.
struct Said {
    path: String,
    message: String,
    hint: String,
}

impl Said {
    fn new(path: &str, message: String, hint: impl Into<String>) -> Said {
        Said {
            path: path.to_owned(),
            message,
            hint: hint.into(),
        }
    }
}

/// What each input limit's breach says, and what to do: (limit, what, hint).
const OVER_LIMIT: &[(&str, &str, &str)] = &[
    (
        "document count",
        "found a second YAML document",
        "a blueprint file holds one document; remove the `---` line and what follows",
    ),
    (
        "nesting depth",
        "the blueprint is nested too deeply",
        "a blueprint needs only a few levels of lists and mappings",
    ),
    (
        "alias expansion",
        "the blueprint's aliases expand to too much",
        "use fewer aliases (`*name`), or write the values out",
    ),
];

fn over_limit(limit: &str, value: usize, path: &str) -> Said {
    let (what, hint) = OVER_LIMIT.iter().find(|(l, _, _)| *l == limit).map_or(
        (
            "the blueprint has too many values",
            "split it into several blueprints",
        ),
        |(_, what, hint)| (*what, *hint),
    );
    // A second document is a problem of the file, not of a place in the first.
    let path = if limit == "document count" { "" } else { path };
    Said::new(path, format!("{what}: the {limit} limit is {value}"), hint)
}

/// A YAML 1.1 boolean (`yes`, `on`, ...) where a boolean goes, quoted as it was written.
fn not_a_boolean(location: Option<serde_saphyr::Location>, source: &str, path: &str) -> Said {
    let written = location
        .and_then(|l| {
            let span = l.span();
            let start = usize::try_from(span.byte_offset()?).ok()?;
            let len = usize::try_from(span.byte_len()?).ok()?;
            source.get(start..start + len)
        })
        .unwrap_or("this value");
    Said::new(
        path,
        format!("`{written}` is not a boolean"),
        "write `true` or `false` (YAML 1.1 spellings like yes/no/on/off mean text in YAML 1.2)",
    )
}

/// Words a message: (the whole message, what follows its start, the path).
type Wording = fn(&str, &str, &str) -> Said;

/// serde's messages by how they start, each with what the blueprint says for it: the
/// function gets the whole message, what follows the start, and the path.
const SERDE_MESSAGES: &[(&str, Wording)] = &[
    ("unknown field `", unknown_field),
    ("unknown variant `", unknown_variant),
    ("missing field `", missing_field),
    ("duplicate mapping key: ", duplicate_key),
    ("invalid type: ", invalid_type),
];

/// The parser's messages that name what it expected, in the blueprint's words.
const EXPECTED: &[(&str, &str)] = &[
    ("expected mapping start", "a mapping (`key: value` lines)"),
    (
        "expected sequence start",
        "a list (`- item` lines or `[a, b]`)",
    ),
    ("expected string scalar", "a text value"),
];

/// What the blueprint says for one of serde's or the parser's messages, if it knows it.
fn serde_message(msg: &str, path: &str) -> Option<Said> {
    SERDE_MESSAGES
        .iter()
        .find_map(|(start, said)| Some(said(msg, msg.strip_prefix(start)?, path)))
        .or_else(|| {
            let (_, what) = EXPECTED.iter().find(|(m, _)| *m == msg)?;
            Some(Said::new(
                path,
                format!("expected {what}"),
                format!("write {what} here"),
            ))
        })
}

fn unknown_field(msg: &str, _: &str, path: &str) -> Said {
    let typed = quoted(msg);
    let (parent, _) = split_path(path);
    if parent.ends_with("dmarc")
        && let Some((tag, hint)) = REMOVED_DMARC_TAGS.iter().find(|(k, _)| *k == typed)
    {
        return Said::new(
            parent,
            format!("DMARC tag `{tag}` was removed by RFC 9989"),
            *hint,
        );
    }
    let known = names_after(msg, "expected ");
    Said::new(
        parent,
        format!("unknown field `{typed}`"),
        did_you_mean(typed, &known),
    )
}

fn unknown_variant(msg: &str, _: &str, path: &str) -> Said {
    let names = names_after(msg, "expected ").join(", ");
    Said::new(
        path,
        format!("`{}` is not one of {names}", quoted(msg)),
        format!("use one of: {names}"),
    )
}

fn missing_field(msg: &str, _: &str, path: &str) -> Said {
    let field = quoted(msg);
    let whole = if path.is_empty() {
        "the blueprint".to_owned()
    } else {
        format!("`{path}`")
    };
    Said::new(
        path,
        format!("missing field `{field}`"),
        format!("{whole} needs `{field}:`"),
    )
}

fn duplicate_key(_: &str, rest: &str, path: &str) -> Said {
    let key = rest
        .split(", set DuplicateKeyPolicy")
        .next()
        .unwrap_or(rest);
    let (parent, _) = split_path(path);
    Said::new(
        parent,
        format!("duplicate key `{key}`"),
        "a key may appear once in a mapping; remove one of them",
    )
}

fn invalid_type(_: &str, rest: &str, path: &str) -> Said {
    let (found, expected) = rest
        .split_once(", expected ")
        .unwrap_or((rest, "another value"));
    Said::new(
        path,
        format!("expected {expected}, found {}", kind(found)),
        format!("write {expected} here"),
    )
}

/// A mapping whose own position the blueprint keeps (for diagnostics about it as a whole).
pub(super) trait HasPos {
    fn set_pos(&mut self, pos: Pos);
}

/// A default value has no position of its own: it takes its mapping's.
fn default_at<T>(value: &mut Spanned<T>, pos: Pos) {
    if !value.pos.is_known() {
        value.pos = pos;
    }
}

impl HasPos for GatewaySpec {
    fn set_pos(&mut self, pos: Pos) {
        self.pos = pos;
        default_at(&mut self.instance_type, pos);
        default_at(&mut self.image, pos);
        default_at(&mut self.dkim.selector, pos);
    }
}

impl HasPos for SmtpCredentials {
    fn set_pos(&mut self, pos: Pos) {
        self.pos = pos;
    }
}

impl HasPos for SpfSpec {
    fn set_pos(&mut self, pos: Pos) {
        self.pos = pos;
        default_at(&mut self.all, pos);
    }
}

macro_rules! has_pos {
    ($($t:ty),*) => {$(
        impl HasPos for $t {
            fn set_pos(&mut self, pos: Pos) {
                self.pos = pos;
            }
        }
    )*};
}

has_pos!(
    DmarcSpec,
    DkimSpec,
    SesDomainSpec,
    SesAccountSpec,
    ProductionAccessSpec
);

fn place<T: HasPos>(s: Spanned<T>) -> T {
    let mut v = s.value;
    v.set_pos(s.pos);
    v
}

pub(super) fn positioned_opt<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + HasPos,
{
    Ok(Option::<Spanned<T>>::deserialize(d)?.map(place))
}

pub(super) fn positioned_vec<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + HasPos,
{
    Ok(Vec::<Spanned<T>>::deserialize(d)?
        .into_iter()
        .map(place)
        .collect())
}

/// A whole number written as a number: `'300'` (quoted, so text in YAML) is refused, as the
/// JSON Schema refuses it.
struct Whole(u32);

impl<'de> Deserialize<'de> for Whole {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Whole;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a whole number (unquoted)")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Whole, E> {
                u32::try_from(v)
                    .map(Whole)
                    .map_err(|_| E::invalid_value(Unexpected::Unsigned(v), &self))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Whole, E> {
                u32::try_from(v)
                    .map(Whole)
                    .map_err(|_| E::invalid_value(Unexpected::Signed(v), &self))
            }
        }
        d.deserialize_any(V)
    }
}

pub(super) fn whole_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Spanned<u32>>, D::Error> {
    Ok(Option::<Spanned<Whole>>::deserialize(d)?.map(|s| Spanned {
        value: s.value.0,
        pos: s.pos,
    }))
}

pub(super) fn tls<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(Option::<Tls>::deserialize(d)? == Some(Tls::Require))
}

pub(super) fn tags<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<(String, String)>, D::Error> {
    Ok(
        std::collections::BTreeMap::<String, String>::deserialize(d)?
            .into_iter()
            .collect(),
    )
}

pub(super) fn default_instance_type() -> Spanned<String> {
    Spanned::new("t3.micro".into())
}

pub(super) fn default_image() -> Spanned<String> {
    Spanned::new("debian-12".into())
}

pub(super) fn default_gateway_dkim() -> GatewayDkim {
    GatewayDkim {
        selector: default_selector(),
        rotate_every: None,
        retire_after: None,
    }
}

pub(super) fn default_selector() -> Spanned<String> {
    Spanned::new("mailinfra".into())
}

pub(super) fn default_all() -> Spanned<SpfAll> {
    Spanned::new(SpfAll::SoftFail)
}

pub(super) fn yes() -> bool {
    true
}

pub(super) fn english() -> ContactLanguage {
    ContactLanguage::En
}

/// `dkim:` of an SES domain written as a mapping.
#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
enum DkimForm {
    /// Easy DKIM: SES holds the key.
    Easy(EasyDkim),
    /// BYODKIM: mailinfra generates the key and gives SES the private half.
    Byodkim(ByoDkim),
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct EasyDkim {
    /// 1024 or 2048 (default) bits.
    #[serde(default = "rsa2048")]
    key_length: KeyLength,
}

fn rsa2048() -> KeyLength {
    KeyLength::Rsa2048
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ByoDkim {
    /// The DKIM selector, 50 characters at most; mailinfra generates the key. A rotation
    /// names the new key `<selector>-<yyyymmdd>`; a new selector here is itself a rotation,
    /// with overlap.
    #[schemars(regex(pattern = pattern::LABEL))]
    selector: Spanned<String>,
    /// Rotate the key when it is this old, e.g. `180d`: the apply that finds it due
    /// publishes a new key and switches SES to it. Default: only when asked (`mailinfra
    /// rotate ses-dkim`).
    #[schemars(regex(pattern = pattern::DURATION))]
    rotate_every: Option<Spanned<String>>,
    /// How long the old key stays published after SES switched, so that mail signed before
    /// still verifies; default `7d`.
    #[schemars(regex(pattern = pattern::DURATION))]
    retire_after: Option<Spanned<String>>,
}

impl<'de> Deserialize<'de> for SesDkimSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = SesDkimSpec;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str(
                    "`easy`, `{ easy: { key_length: 1024 } }` or `{ byodkim: { selector: s1 } }`",
                )
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<SesDkimSpec, E> {
                match v {
                    "easy" => Ok(SesDkimSpec::default()),
                    _ => Err(E::unknown_variant(v, &["easy"])),
                }
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<SesDkimSpec, A::Error> {
                Ok(
                    match DkimForm::deserialize(de::value::MapAccessDeserializer::new(map))? {
                        DkimForm::Easy(e) => SesDkimSpec::Easy {
                            key_length: e.key_length,
                        },
                        DkimForm::Byodkim(b) => SesDkimSpec::Byo {
                            selector: b.selector,
                            rotate_every: b.rotate_every,
                            retire_after: b.retire_after,
                        },
                    },
                )
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for SesDkimSpec {
    fn schema_name() -> Cow<'static, str> {
        "SesDkim".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let form = generator.subschema_for::<DkimForm>();
        json_schema!({
            "description": "`easy` (default), `{ easy: { key_length: 1024 } }` or `{ byodkim: { selector: s1 } }`.",
            "anyOf": [{ "const": "easy" }, form]
        })
    }
}

impl<'de> Deserialize<'de> for KeyLength {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Whole::deserialize(d)?.0 {
            1024 => Ok(KeyLength::Rsa1024),
            2048 => Ok(KeyLength::Rsa2048),
            n => Err(de::Error::invalid_value(
                Unexpected::Unsigned(n.into()),
                &"1024 or 2048",
            )),
        }
    }
}

impl JsonSchema for KeyLength {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        "KeyLength".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "enum": [1024, 2048] })
    }
}

fn lower(name: &mut Spanned<String>) {
    name.value = name.value.trim_end_matches('.').to_ascii_lowercase();
}

/// Fills what is derived once the types are read; problems found here (an unreadable key
/// file) are reported with the checks of meaning, all at once.
pub(super) fn complete(bp: &mut Blueprint, base_dir: &Path) -> Vec<Diagnostic> {
    if let Some(g) = &mut bp.gateway {
        lower(&mut g.hostname);
        if let Some(z) = &mut g.zone {
            lower(z);
        }
    }
    if let Some(ses) = &mut bp.ses {
        if let Some(s) = &mut ses.suppression {
            s.sort();
            s.dedup();
        }
        for s in ses
            .configuration_sets
            .iter_mut()
            .filter_map(|cs| cs.suppression.as_mut())
        {
            s.sort();
            s.dedup();
        }
    }
    let mut diags = Vec::new();
    for (i, d) in bp.domains.iter_mut().enumerate() {
        d.path = format!("domains[{i}]");
        complete_domain(d);
        for (j, k) in d.dkim.iter_mut().enumerate() {
            diags.extend(dkim_key(k, format!("{}.dkim[{j}]", d.path), base_dir));
        }
    }
    diags
}

/// A domain's names in lower case, where it sends via the gateway, and its SES settings
/// (defaults when it sends via SES without an `ses:` mapping).
fn complete_domain(d: &mut DomainSpec) {
    lower(&mut d.domain);
    if let Some(z) = &mut d.zone {
        lower(z);
    }
    d.via_gateway = d
        .send_via
        .iter()
        .find(|v| v.value == Sender::Gateway)
        .map(|v| v.pos);
    if let Some(v) = d.send_via.iter().find(|v| v.value == Sender::Ses)
        && d.ses.is_none()
    {
        d.ses = Some(SesDomainSpec {
            pos: v.pos,
            ..SesDomainSpec::default()
        });
    }
    if let Some(ses) = &mut d.ses {
        mail_from(ses);
    }
}

/// The three `mail_from` fields as one value, with their defaults.
fn mail_from(ses: &mut SesDomainSpec) {
    let Some(m) = &mut ses.mail_from_domain else {
        return;
    };
    lower(m);
    ses.mail_from = Some(MailFromSpec {
        domain: m.clone(),
        on_mx_failure: ses
            .mail_from_on_mx_failure
            .as_ref()
            .map_or(MxFailure::UseDefault, |s| s.value),
        spf_all: match ses.mail_from_spf.as_ref().map(|s| s.value) {
            Some(MailFromSpf::SoftFail) => SpfAll::SoftFail,
            _ => SpfAll::Fail,
        },
    });
}

/// A DKIM key given inline or by file: reads the file, and leaves the key as bare base64.
fn dkim_key(k: &mut DkimSpec, path: String, base_dir: &Path) -> Option<Diagnostic> {
    let problem = match (k.public_key.pos.is_known(), &k.public_key_file) {
        (true, None) => None,
        (false, Some(file)) => match std::fs::read_to_string(base_dir.join(&file.value)) {
            Ok(text) => {
                k.public_key = Spanned {
                    value: text,
                    pos: file.pos,
                };
                None
            }
            Err(e) => Some(
                Diagnostic::new(
                    Some(file.pos),
                    format!("{path}.public_key_file"),
                    format!("cannot read `{}`: {e}", file.value),
                )
                .hint("the path is relative to the blueprint file's folder"),
            ),
        },
        (true, Some(_)) => Some(
            Diagnostic::new(
                Some(k.public_key.pos),
                path,
                "both `public_key` and `public_key_file` are set",
            )
            .hint("keep one of them"),
        ),
        (false, None) => Some(
            Diagnostic::new(
                Some(k.pos),
                path,
                "missing field `public_key` or `public_key_file`",
            )
            .hint("give the public key (base64 or PEM) or a file holding it"),
        ),
    };
    k.public_key.value = crate::mail::dkim::strip_pem(&k.public_key.value);
    problem
}
