//! The event envelope of SPEC §3: what an input line may hold, and the stored event
//! with its canonical bytes and BLAKE3 hash.

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::error::Refusal;
use crate::ledger::canonical;
use crate::ledger::json::Node;
use crate::limits::MAX_CODE_CHARS;
use crate::say;

/// The event types of SPEC §4, in catalogue order.
pub const EVENT_TYPES: [&str; 18] = [
    "signal_received",
    "signal_resolved",
    "case_opened",
    "child_added",
    "curator_assigned",
    "efo_scored",
    "plan_set",
    "aid_issued",
    "service_provided",
    "shelter_admitted",
    "shelter_extended",
    "shelter_left",
    "case_closed",
    "follow_up_done",
    "expense_recorded",
    "event_voided",
    "event_amended",
    "report_published",
];

/// The type of a published report's event (SPEC §19): written only by publishing a
/// report (`report bundle`, `report create --publish`, `POST /v1/bundles`, the web
/// page's bundle), never from an input line; an export or a mirror carries it like
/// any stored event.
pub const REPORT_PUBLISHED: &str = "report_published";

/// The types an input line may carry: every type but [`REPORT_PUBLISHED`].
pub fn input_types() -> impl Iterator<Item = &'static str> {
    EVENT_TYPES.into_iter().filter(|t| *t != REPORT_PUBLISHED)
}

/// Returns the catalogue's own `&'static str` for a type name, or `None`.
pub fn known_type(name: &str) -> Option<&'static str> {
    EVENT_TYPES.iter().copied().find(|t| *t == name)
}

pub use crate::codec::{
    format_date, format_stamp, hex, hex_bytes, parse_date, parse_hex, parse_stamp, Hash, ZERO_HASH,
};

/// Checks a code-like string: non-empty, at most [`MAX_CODE_CHARS`] characters, no
/// control characters, no invisible format characters (Unicode category Cf, such as a
/// zero-width space U+200B) and no line or paragraph separators (U+2028, U+2029): two
/// codes that look the same must be the same code.
pub fn check_code(field: &str, s: &str) -> Result<(), Refusal> {
    if s.is_empty() {
        return Err(Refusal::field(field, say::EMPTY));
    }
    if s.chars().count() > MAX_CODE_CHARS {
        return Err(Refusal::field(field, say::too_long(MAX_CODE_CHARS)));
    }
    if s.chars().any(char::is_control) {
        return Err(Refusal::field(field, say::CONTROL_CHAR));
    }
    if let Some(c) = invisible_char(s) {
        return Err(Refusal::field(field, say::invisible(c)));
    }
    Ok(())
}

/// An invisible or direction-changing character in `s` (Unicode category Cf — a
/// zero-width space U+200B, a right-to-left override U+202E — or a line or paragraph
/// separator U+2028/U+2029), if any: shown in a page, a printout or a spreadsheet it
/// would hide or reorder what a person reads.
pub fn invisible_char(s: &str) -> Option<char> {
    s.chars().find(|c| may_be_invisible(*c) && is_invisible(*c))
}

/// Whether `c` lies outside U+0000–U+00AC and U+00AE–U+05FF (Latin, Greek, Cyrillic,
/// Armenian, Hebrew), where no character is invisible: most text is looked up in no
/// table at all (a bulk append spent 3 % of its time in the lookup).
fn may_be_invisible(c: char) -> bool {
    !(c < '\u{ad}' || ('\u{ae}'..='\u{5ff}').contains(&c))
}

fn is_invisible(c: char) -> bool {
    use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};
    matches!(
        c.general_category(),
        GeneralCategory::Format | GeneralCategory::LineSeparator | GeneralCategory::ParagraphSeparator
    )
}

/// One input event (SPEC §8 `append`), its envelope checked.
#[derive(Debug, Clone)]
pub struct InputEvent {
    pub id: Option<Uuid>,
    pub kind: &'static str,
    pub occurred_on: NaiveDate,
    pub recorded_at: Option<DateTime<Utc>>,
    pub actor: Option<compact_str::CompactString>,
    pub data: Map<String, Value>,
}

const INPUT_MEMBERS: [&str; 6] = ["id", "type", "occurred_on", "recorded_at", "actor", "data"];

fn str_member<'a>(obj: &'a Map<String, Value>, name: &str) -> Result<Option<&'a str>, Refusal> {
    match obj.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(Refusal::field(name, say::NOT_A_STRING)),
    }
}

impl InputEvent {
    /// Parses and checks one input line. Content rules of the event's `data` belong to
    /// the domain; here: the envelope, known type, dates, no floats anywhere.
    pub fn parse(line: &[u8]) -> Result<InputEvent, Refusal> {
        let value = read_json(line)?;
        let Value::Object(mut obj) = value else {
            return Err(Refusal::new(None, "событие — не объект JSON: одна строка — одно событие `{…}`"));
        };
        if let Some(path) = obj.iter().find_map(|(k, v)| crate::ledger::json::find_null(v, k)) {
            return Err(Refusal::field(
                &path,
                "пустое значение (`null`) не хранится: необязательное поле просто пропустите",
            ));
        }
        let mut ev = envelope(obj.keys().map(String::as_str), |name| str_member(&obj, name))?;
        let mut data = match obj.remove("data") {
            None => return Err(Refusal::field("data", say::REQUIRED)),
            Some(Value::Object(m)) => m,
            Some(_) => return Err(Refusal::field("data", say::NOT_AN_OBJECT)),
        };
        if let Some(Value::String(t)) = data.get_mut("target") {
            if let Some(one) = target_spelling(t) {
                *t = one;
            }
        }
        let mut path = String::from("data");
        for (k, v) in &data {
            let len = path.len();
            path.push('.');
            path.push_str(k);
            canonical::check_numbers(v, &mut path).map_err(|e| Refusal::field(&e.path, e.reason))?;
            path.truncate(len);
        }
        ev.data = data;
        Ok(ev)
    }

    /// The quick reading of a bulk append: the event (without `data`) and the
    /// canonical bytes of its `data`, read without building a `Value`; `None` when the
    /// line is not plainly a good event (a `null`, a float, a member named twice, any
    /// envelope [`InputEvent::parse`] refuses). Whatever it reads, [`InputEvent::parse`]
    /// reads the same, to the byte; the caller reads a `None` line that way, for the
    /// refusal.
    pub fn parse_quick(line: &[u8]) -> Option<(InputEvent, Vec<u8>)> {
        let text = std::str::from_utf8(line).ok()?;
        InputEvent::read_quick(text).map(|(ev, _, canonical)| (ev, canonical))
    }

    /// [`InputEvent::parse_quick`] of a text, with its `data` as read (for the rules
    /// to read their payload from).
    pub fn read_quick(text: &str) -> Option<(InputEvent, Node<'_>, Vec<u8>)> {
        let Node::Obj(mut members) = crate::ledger::json::parse_quick(text)? else { return None };
        let ev = envelope(members.iter().map(|(k, _)| k.as_ref()), |name| {
            match Node::member(&members, name).map(|i| &members[i].1) {
                None => Ok(None),
                Some(Node::Str(s)) => Ok(Some(s.as_ref())),
                Some(_) => Err(Refusal::field(name, say::NOT_A_STRING)),
            }
        })
        .ok()?;
        let Node::Obj(mut data) = members.swap_remove(Node::member(&members, "data")?).1 else { return None };
        if let Some(i) = Node::member(&data, "target") {
            if let Node::Str(t) = &mut data[i].1 {
                if let Some(one) = target_spelling(t) {
                    *t = one.into();
                }
            }
        }
        let mut canonical = Vec::with_capacity(text.len());
        canonical::write_node_object(&data, &mut canonical);
        Some((ev, Node::Obj(data), canonical))
    }

    /// The canonical bytes of `data` (used for idempotency comparisons).
    pub fn data_canonical(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(128);
        write_object(&self.data, &mut out);
        out
    }
}

/// The envelope of an input event (all but `data`), checked: only the members an
/// input may carry (`names`), a known type, the id, the dates, the actor. `member`
/// reads a member that must be a string.
fn envelope<'a>(
    mut names: impl Iterator<Item = &'a str>,
    member: impl Fn(&str) -> Result<Option<&'a str>, Refusal>,
) -> Result<InputEvent, Refusal> {
    if let Some(key) = names.find(|k| !INPUT_MEMBERS.contains(k)) {
        let why = match key {
            "seq" | "prev" | "hash" => "его назначает реестр: во входном событии его не пишут",
            _ => "нет такого поля события; есть `id`, `type`, `occurred_on`, `recorded_at`, `actor`, `data`",
        };
        return Err(Refusal::field(key, why));
    }
    let required = |name| member(name)?.ok_or_else(|| Refusal::field(name, say::REQUIRED));
    let kind = required("type")?;
    let kind = known_type(kind).ok_or_else(|| Refusal::field("type", say::unknown_type(kind)))?;
    if kind == REPORT_PUBLISHED {
        return Err(Refusal::field(
            "type",
            "«Отчёт опубликован» записывает только публикация отчёта (`caseledger report bundle`, `caseledger report create --publish`)",
        ));
    }
    let id = match member("id")? {
        None => None,
        Some(s) => Some(Uuid::try_parse(s).map_err(|_| Refusal::field("id", "не идентификатор события (UUID)"))?),
    };
    let occurred = required("occurred_on")?;
    let occurred_on = parse_date(occurred).ok_or_else(|| Refusal::field("occurred_on", say::NOT_AN_ISO_DAY))?;
    let recorded_at = match member("recorded_at")? {
        None => None,
        Some(s) => Some(parse_stamp(s).ok_or_else(|| Refusal::field("recorded_at", say::NOT_A_STAMP))?),
    };
    let actor = match member("actor")? {
        None => None,
        Some(a) => {
            check_code("actor", a)?;
            Some(a.into())
        }
    };
    Ok(InputEvent { id, kind, occurred_on, recorded_at, actor, data: Map::new() })
}

/// A correction's target is stored in one spelling, whichever the input used
/// (`urn:uuid:…`, braces, 32 hex digits, capitals): the new spelling, if it differs.
fn target_spelling(t: &str) -> Option<String> {
    let one = Uuid::try_parse(t).ok()?.hyphenated().to_string();
    (one != t).then_some(one)
}

/// Reads one input line as strict JSON (see `ledger::json`), with the hints SPEC §13
/// asks for: a line that is not UTF-8, and a line that is part of a pretty-printed
/// object.
pub fn read_json(line: &[u8]) -> Result<Value, Refusal> {
    if std::str::from_utf8(line).is_err() {
        return Err(Refusal::new(None, "not UTF-8 (perhaps windows-1251: convert with iconv -f cp1251 -t utf-8)"));
    }
    crate::ledger::json::parse(line).map_err(|e| {
        if !e.syntax {
            return Refusal::new((!e.path.is_empty()).then(|| e.path.clone()), e.reason);
        }
        let hint = if e.eof || looks_like_pretty_json(line) { "; one event per line (JSONL)" } else { "" };
        Refusal::new(None, format!("строка — не JSON (`{}`){hint}", e.reason))
    })
}

/// A line of an object spread over several lines: `{`, `"member": value,`, `}`.
fn looks_like_pretty_json(line: &[u8]) -> bool {
    let t = String::from_utf8_lossy(line);
    let t = t.trim();
    matches!(t, "{" | "}" | "}," | "[" | "]" | "],") || (t.starts_with('"') && t.contains("\":"))
}

fn write_object(map: &Map<String, Value>, out: &mut Vec<u8>) {
    // Values were checked by `check_numbers`, so canonicalisation cannot fail.
    canonical::write_object(map, out).expect("data was checked for floats");
}

/// The members of a stored event other than `hash`, in canonical (sorted) order.
pub struct EventFields<'a> {
    pub actor: &'a str,
    pub data_canonical: &'a [u8],
    pub id: &'a Uuid,
    pub occurred_on: &'a str,
    pub prev: &'a Hash,
    pub recorded_at: &'a str,
    pub seq: u64,
    pub kind: &'a str,
}

/// Writes the canonical bytes of a stored event without `hash` (SPEC §3): members in
/// sorted order, no whitespace. `data_canonical` must already be canonical.
pub fn canonical_event(f: &EventFields<'_>, out: &mut Vec<u8>) {
    canonical_head(f.actor, f.data_canonical, f.id, f.occurred_on, out);
    canonical_tail(f.prev, f.recorded_at, f.seq, f.kind, out);
}

/// The members of [`canonical_event`] before `prev` — what an event says, known
/// before its place in the chain — ending with the opening quote of `prev`'s value.
pub fn canonical_head(actor: &str, data_canonical: &[u8], id: &Uuid, occurred_on: &str, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"actor\":");
    canonical::write_str(actor, out);
    out.extend_from_slice(b",\"data\":");
    out.extend_from_slice(data_canonical);
    out.extend_from_slice(b",\"id\":\"");
    out.extend_from_slice(id.hyphenated().encode_lower(&mut Uuid::encode_buffer()).as_bytes());
    out.extend_from_slice(b"\",\"occurred_on\":\"");
    out.extend_from_slice(occurred_on.as_bytes());
    out.extend_from_slice(b"\",\"prev\":\"");
}

/// Room for what [`canonical_tail`] adds (the catalogue's type names are short).
pub const CANONICAL_TAIL_BYTES: usize = 64 + 17 + 20 + 8 + 20 + 9 + 66 + 1;

/// The rest of [`canonical_event`] after [`canonical_head`]: the event's place in the
/// chain, its transaction time and its type.
pub fn canonical_tail(prev: &Hash, recorded_at: &str, seq: u64, kind: &str, out: &mut Vec<u8>) {
    out.extend_from_slice(&crate::codec::hex_bytes(prev));
    out.extend_from_slice(b"\",\"recorded_at\":\"");
    out.extend_from_slice(recorded_at.as_bytes());
    out.extend_from_slice(b"\",\"seq\":");
    crate::codec::push_decimal(seq, out);
    out.extend_from_slice(b",\"type\":");
    canonical::write_str(kind, out);
    out.push(b'}');
}

pub fn digest(canonical: &[u8]) -> Hash {
    *blake3::hash(canonical).as_bytes()
}

/// Reads `recorded_at` from canonical bytes without parsing the whole event: in the
/// canonical form it is the only member named so, and its value is a fixed-width stamp.
pub fn recorded_at_of(canonical: &[u8]) -> Option<DateTime<Utc>> {
    const KEY: &[u8] = b"\",\"recorded_at\":\"";
    let at = canonical.windows(KEY.len()).rposition(|w| w == KEY)? + KEY.len();
    parse_stamp(std::str::from_utf8(canonical.get(at..at + 20)?).ok()?)
}

/// A stored event as kept in a block: its canonical bytes and its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub hash: Hash,
    pub canonical: Vec<u8>,
}

impl Record {
    /// The stored event as one JSON line of SPEC §3 (the canonical object with `hash`
    /// added as its last member).
    pub fn to_json_line(&self, out: &mut Vec<u8>) {
        let body = &self.canonical[..self.canonical.len().saturating_sub(1)];
        out.extend_from_slice(body);
        out.extend_from_slice(b",\"hash\":\"");
        out.extend_from_slice(&hex_bytes(&self.hash));
        out.extend_from_slice(b"\"}\n");
    }

    /// Parses the stored fields (for reading, not for verifying).
    pub fn parse(&self) -> Result<StoredEvent, String> {
        let mut ev: StoredEvent =
            serde_json::from_slice(&self.canonical).map_err(|e| format!("stored event is not readable: {e}"))?;
        ev.hash = hex(&self.hash);
        Ok(ev)
    }
}

/// A stored event's members, read back for display and projections.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize, PartialEq)]
pub struct StoredEvent {
    pub seq: u64,
    pub id: Uuid,
    #[serde(rename = "type")]
    pub kind: String,
    pub occurred_on: String,
    pub recorded_at: String,
    pub actor: String,
    pub data: Value,
    pub prev: String,
    #[serde(default)]
    pub hash: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_quick_path_of_invisible_characters_skips_none() {
        // Every character the quick path lets through unlooked-up is visible.
        let skipped = (0..=0x5ffu32).filter_map(char::from_u32).filter(|c| !may_be_invisible(*c));
        let mut n = 0;
        for c in skipped {
            assert!(!is_invisible(c), "U+{:04X} is invisible but skipped", c as u32);
            n += 1;
        }
        assert_eq!(n, 0x5ff, "all but U+00AD");
        assert!(is_invisible('\u{ad}') && may_be_invisible('\u{ad}'));
        assert_eq!(invisible_char("К-01\u{200b}"), Some('\u{200b}'));
        assert_eq!(invisible_char("семья Ф-0101"), None);
    }

    #[test]
    fn strict_dates_and_stamps() {
        assert!(parse_date("2021-03-01").is_some());
        for bad in ["2021-3-01", "2021-02-30", "21-03-01", "2021-03-01T00", "２０２１-03-01"] {
            assert!(parse_date(bad).is_none(), "{bad}");
        }
        assert!(parse_stamp("2021-01-20T09:15:00Z").is_some());
        for bad in ["2021-01-20T09:15:00", "2021-01-20T09:15:00+03:00", "2021-01-20T25:15:00Z", "2021-01-20 09:15:00Z"]
        {
            assert!(parse_stamp(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn dates_and_stamps_format_as_strftime_does() {
        // Every day of a few years around the edges strftime must agree on.
        for y in [1, 999, 2019, 2020, 2024, 9999] {
            let mut d = NaiveDate::from_ymd_opt(y, 1, 1).unwrap();
            while d.year() == y {
                assert_eq!(format_date(d), d.format("%Y-%m-%d").to_string());
                d = d.succ_opt().unwrap();
            }
        }
        use chrono::{Datelike, TimeZone};
        let t = Utc.with_ymd_and_hms(2021, 1, 2, 3, 4, 5).unwrap();
        assert_eq!(format_stamp(&t), "2021-01-02T03:04:05Z");
        let t = Utc.with_ymd_and_hms(2024, 12, 31, 23, 59, 59).unwrap();
        assert_eq!(format_stamp(&t), t.format("%Y-%m-%dT%H:%M:%SZ").to_string());
        assert_eq!(parse_stamp(&format_stamp(&t)), Some(t));
    }

    #[test]
    fn hex_round_trip() {
        let h = digest(b"x");
        assert_eq!(parse_hex(&hex(&h)), Some(h));
        assert_eq!(parse_hex(&hex(&h).to_uppercase()), None);
    }

    #[test]
    fn envelope_refusals_name_the_field() {
        let cases: [(&str, &str); 9] = [
            (r#"{"type":"nope","occurred_on":"2021-01-01","data":{}}"#, "type"),
            (r#"{"type":"plan_set","occurred_on":"2021-13-01","data":{}}"#, "occurred_on"),
            (r#"{"type":"plan_set","occurred_on":"2021-01-01","data":{"goals":1.5}}"#, "data.goals"),
            (r#"{"type":"plan_set","occurred_on":"2021-01-01","data":{},"seq":3}"#, "seq"),
            (r#"{"type":"plan_set","occurred_on":"2021-01-01","data":{},"extra":1}"#, "extra"),
            (r#"{"type":"plan_set","occurred_on":"2021-01-01","data":[]}"#, "data"),
            (r#"{"type":"plan_set","occurred_on":"2021-01-01","data":{},"id":"xyz"}"#, "id"),
            (r#"{"type":"plan_set","occurred_on":"2021-01-01","data":{},"recorded_at":"2021-01-01"}"#, "recorded_at"),
            (r#"{"type":"plan_set","occurred_on":"2021-01-01","data":{},"actor":"a\u0007"}"#, "actor"),
        ];
        for (line, field) in cases {
            let err = InputEvent::parse(line.as_bytes()).unwrap_err();
            assert_eq!(err.field.as_deref(), Some(field), "{line}: {err}");
        }
    }
}
