//! Strict JSON reading for every entry point (SPEC §13): append, import, HTTP bodies,
//! `--defs`, reports. serde_json's `Value` keeps the *last* of two members with the
//! same name, while other parsers keep the first — the same bytes would mean two
//! different events. So an object with a duplicate member name is refused (RFC 7493,
//! I-JSON), and so is an integer outside ±(2^53 − 1), named as such (serde_json would
//! read a long integer literal as a float and lose its digits).
//!
//! Built on serde_json's own parser through a [`DeserializeSeed`]; only the checks are
//! ours. The path of the offending member is kept in a stack as the seed descends, so
//! the refusal names it (`data.children[1].code`).

use std::borrow::Cow;
use std::cell::RefCell;
use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

use crate::limits::MAX_SAFE_INTEGER;

/// Why a text was refused: where (a member path, empty for the whole text) and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonError {
    pub path: String,
    pub reason: String,
    /// A syntax error (or a text cut short), as opposed to valid JSON that breaks a rule.
    pub syntax: bool,
    /// The text ended inside a value (such as one line of a pretty-printed object).
    pub eof: bool,
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.reason)
        } else {
            write!(f, "{}: {}", self.path, self.reason)
        }
    }
}

enum Seg {
    Key(String),
    Index(usize),
}

/// The first rule broken: its reason, and the path to it, innermost segment first
/// (filled in as the error unwinds, so the happy path copies no key).
struct Ctx {
    found: RefCell<Option<(Vec<Seg>, String)>>,
}

impl Ctx {
    fn refuse<E: de::Error>(&self, reason: impl Into<String>) -> E {
        let reason = reason.into();
        self.found.borrow_mut().get_or_insert_with(|| (Vec::new(), reason.clone()));
        E::custom(reason)
    }

    /// Adds `seg` to the path of a refusal found below it.
    fn below(&self, seg: impl FnOnce() -> Seg) {
        if let Some((path, _)) = self.found.borrow_mut().as_mut() {
            path.push(seg());
        }
    }

    fn path(segs: &[Seg]) -> String {
        let mut out = String::new();
        for seg in segs.iter().rev() {
            match seg {
                Seg::Key(k) => {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(k);
                }
                Seg::Index(i) => out.push_str(&format!("[{i}]")),
            }
        }
        out
    }
}

struct Seed<'c>(&'c Ctx);

impl<'de> DeserializeSeed<'de> for Seed<'_> {
    type Value = Value;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

/// What the refusal of a member named twice says (RFC 7493), for callers that tell it
/// from other refusals.
pub const TWICE: &str = "встречается в объекте дважды";

const UNSAFE_INTEGER: &str = "целое число вне ±9007199254740991";

impl<'de> Visitor<'de> for Seed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        if !(-MAX_SAFE_INTEGER..=MAX_SAFE_INTEGER).contains(&v) {
            return Err(self.0.refuse(UNSAFE_INTEGER));
        }
        Ok(Value::Number(v.into()))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        if v > MAX_SAFE_INTEGER as u64 {
            return Err(self.0.refuse(UNSAFE_INTEGER));
        }
        Ok(Value::Number(v.into()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        // serde_json reads an integer literal too long for 64 bits as a float.
        if v.is_finite() && v.fract() == 0.0 && v.abs() > MAX_SAFE_INTEGER as f64 {
            return Err(self.0.refuse(UNSAFE_INTEGER));
        }
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        loop {
            match seq.next_element_seed(Seed(self.0)) {
                Ok(Some(v)) => out.push(v),
                Ok(None) => return Ok(Value::Array(out)),
                Err(e) => {
                    let at = out.len();
                    self.0.below(|| Seg::Index(at));
                    return Err(e);
                }
            }
        }
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let slot = match out.entry(key) {
                serde_json::map::Entry::Vacant(slot) => slot,
                serde_json::map::Entry::Occupied(taken) => {
                    let key = taken.key().clone();
                    let e = self.0.refuse(format!(
                        "поле `{key}` {TWICE} (одни программы прочли бы первое значение, другие — последнее: отказ)"
                    ));
                    self.0.below(|| Seg::Key(key));
                    return Err(e);
                }
            };
            match map.next_value_seed(Seed(self.0)) {
                Ok(v) => {
                    slot.insert(v);
                }
                Err(e) => {
                    let key = slot.key().clone();
                    self.0.below(|| Seg::Key(key));
                    return Err(e);
                }
            }
        }
        Ok(Value::Object(out))
    }
}

/// Parses one JSON text strictly (see the module's doc).
pub fn parse(bytes: &[u8]) -> Result<Value, JsonError> {
    let ctx = Ctx { found: RefCell::new(None) };
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let parsed = Seed(&ctx).deserialize(&mut de).and_then(|v| de.end().map(|()| v));
    match parsed {
        Ok(v) => Ok(v),
        Err(e) => {
            if let Some((segs, reason)) = ctx.found.into_inner() {
                return Err(JsonError { path: Ctx::path(&segs), reason, syntax: false, eof: false });
            }
            let eof = e.classify() == serde_json::error::Category::Eof;
            Err(JsonError { path: String::new(), reason: e.to_string(), syntax: true, eof })
        }
    }
}

/// A JSON value as the bulk append's quick reading holds it: strings borrowed from the
/// text where they have no escapes, an object's members in byte order of their names.
/// It holds only what the strict reading accepts and keeps as written: no `null`, no
/// float, no integer outside ±(2^53 − 1), no member named twice.
#[derive(Debug, Clone, PartialEq)]
pub enum Node<'a> {
    Bool(bool),
    Int(i64),
    Str(Cow<'a, str>),
    Arr(Vec<Node<'a>>),
    Obj(Vec<(Cow<'a, str>, Node<'a>)>),
}

impl<'a> Node<'a> {
    /// An object's member by name.
    pub fn member(members: &[(Cow<'a, str>, Node<'a>)], name: &str) -> Option<usize> {
        members.binary_search_by(|(k, _)| k.as_ref().cmp(name)).ok()
    }
}

/// Reads a JSON text into a [`Node`] without copying its plain strings; `None` for a
/// text the strict [`parse`] refuses, and for one holding a `null` or a float, which
/// an event refuses (the caller reads such a text the strict way, which names the
/// fault). Nothing it accepts reads differently the strict way.
pub fn parse_quick(text: &str) -> Option<Node<'_>> {
    let mut de = serde_json::Deserializer::from_str(text);
    let node = Quick.deserialize(&mut de).ok()?;
    de.end().ok()?;
    Some(node)
}

struct Quick;

impl<'de> DeserializeSeed<'de> for Quick {
    type Value = Node<'de>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Node<'de>, D::Error> {
        d.deserialize_any(self)
    }
}

// Any value not visited here (a null, a float) is an error, as serde's defaults make it.
impl<'de> Visitor<'de> for Quick {
    type Value = Node<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value without null or floats")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Node<'de>, E> {
        Ok(Node::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Node<'de>, E> {
        match (-MAX_SAFE_INTEGER..=MAX_SAFE_INTEGER).contains(&v) {
            true => Ok(Node::Int(v)),
            false => Err(E::custom(UNSAFE_INTEGER)),
        }
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Node<'de>, E> {
        match i64::try_from(v) {
            Ok(v) => self.visit_i64(v),
            Err(_) => Err(E::custom(UNSAFE_INTEGER)),
        }
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Node<'de>, E> {
        Ok(Node::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Node<'de>, E> {
        Ok(Node::Str(Cow::Owned(v.to_string())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Node<'de>, E> {
        Ok(Node::Str(Cow::Owned(v)))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node<'de>, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(Quick)? {
            out.push(v);
        }
        Ok(Node::Arr(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node<'de>, A::Error> {
        let mut out = Vec::new();
        while let Some(key) = map.next_key_seed(Name)? {
            out.push((key, map.next_value_seed(Quick)?));
        }
        out.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        if out.windows(2).any(|w| w[0].0 == w[1].0) {
            return Err(de::Error::custom(TWICE));
        }
        Ok(Node::Obj(out))
    }
}

/// A [`Node`] read as serde reads a text: typed values (a payload) come out of it as
/// they would out of its canonical JSON text, without reading that text again. Only
/// what JSON holds is visited (an integer as `u64` when it is not negative, as
/// serde_json does; a string as an enum's unit variant); anything else is an error,
/// and the caller reads the text instead.
impl<'de> de::Deserializer<'de> for &Node<'de> {
    type Error = de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        use de::value::{MapDeserializer, SeqDeserializer};
        match self {
            Node::Bool(b) => visitor.visit_bool(*b),
            Node::Int(n) => match u64::try_from(*n) {
                Ok(n) => visitor.visit_u64(n),
                Err(_) => visitor.visit_i64(*n),
            },
            Node::Str(Cow::Borrowed(s)) => visitor.visit_borrowed_str(s),
            Node::Str(Cow::Owned(s)) => visitor.visit_str(s),
            Node::Arr(items) => {
                let mut seq = SeqDeserializer::new(items.iter());
                let value = visitor.visit_seq(&mut seq)?;
                seq.end()?;
                Ok(value)
            }
            Node::Obj(members) => {
                let mut map = MapDeserializer::new(members.iter().map(|(k, v)| (k.clone(), v)));
                let value = visitor.visit_map(&mut map)?;
                map.end()?;
                Ok(value)
            }
        }
    }
    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_some(self)
    }
    fn deserialize_newtype_struct<V: Visitor<'de>>(self, _: &'static str, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_newtype_struct(self)
    }
    // A string is asked for only a string, as serde_json gives it (a visitor may take
    // other shapes too: uuid's takes 16 numbers, which the strict reading refuses).
    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self {
            Node::Str(_) => self.deserialize_any(visitor),
            _ => Err(de::Error::custom("a string is wanted here")),
        }
    }
    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        self.deserialize_str(visitor)
    }
    // Not in payloads: left to the strict reading.
    fn deserialize_bytes<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom("bytes are read the strict way"))
    }
    fn deserialize_byte_buf<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom("bytes are read the strict way"))
    }
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        use de::IntoDeserializer;
        match self {
            Node::Str(Cow::Borrowed(s)) => visitor.visit_enum(de::value::BorrowedStrDeserializer::new(s)),
            Node::Str(Cow::Owned(s)) => visitor.visit_enum(s.as_str().into_deserializer()),
            _ => Err(de::Error::custom("an enum here is a string")),
        }
    }
    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char unit
        unit_struct seq tuple tuple_struct map struct identifier ignored_any
    }
}

impl<'de> de::IntoDeserializer<'de, de::value::Error> for &Node<'de> {
    type Deserializer = Self;
    fn into_deserializer(self) -> Self {
        self
    }
}

/// A member's name, borrowed when it has no escapes.
struct Name;

impl<'de> DeserializeSeed<'de> for Name {
    type Value = Cow<'de, str>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Cow<'de, str>, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Name {
    type Value = Cow<'de, str>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a member name")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Borrowed(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Owned(v.to_string()))
    }
}

/// Reads a whole JSON file (definitions, a report): a UTF-8 byte-order mark is
/// skipped, a file in another encoding is named, and the text is parsed strictly.
pub fn read_file(bytes: &[u8]) -> Result<Value, String> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if std::str::from_utf8(bytes).is_err() {
        return Err("not UTF-8 (perhaps windows-1251: convert with iconv -f cp1251 -t utf-8)".into());
    }
    parse(bytes).map_err(|e| if e.syntax { format!("not valid JSON: {}", e.reason) } else { e.to_string() })
}

/// The first `null` anywhere in `value`, as a path below `prefix` (events never store
/// one: an optional member is left out).
pub fn find_null(value: &Value, prefix: &str) -> Option<String> {
    // (Looked for first without paths: every event is checked, and almost none has one.)
    has_null(value).then(|| null_path(value, prefix)).flatten()
}

fn has_null(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Array(items) => items.iter().any(has_null),
        Value::Object(map) => map.values().any(has_null),
        _ => false,
    }
}

fn null_path(value: &Value, prefix: &str) -> Option<String> {
    match value {
        Value::Null => Some(prefix.to_string()),
        Value::Array(items) => items.iter().enumerate().find_map(|(i, v)| null_path(v, &format!("{prefix}[{i}]"))),
        Value::Object(map) => map.iter().find_map(|(k, v)| {
            let path = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
            null_path(v, &path)
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_are_refused_with_their_path() {
        let e = parse(br#"{"type":"a","data":{"x":1,"x":2}}"#).unwrap_err();
        assert_eq!(e.path, "data.x");
        assert!(e.reason.contains(TWICE), "{e}");
        let e = parse(br#"{"type":"a","type":"b"}"#).unwrap_err();
        assert_eq!(e.path, "type");
        let e = parse(br#"{"d":[{"c":1},{"c":1,"c":1}]}"#).unwrap_err();
        assert_eq!(e.path, "d[1].c");
        assert!(parse(br#"{"a":{"x":1},"b":{"x":1}}"#).is_ok());
    }

    #[test]
    fn unsafe_integers_are_named_as_integers() {
        for text in ["{\"q\":9007199254740992}", "{\"q\":-9007199254740992}", "{\"q\":100000000000000000000000}"] {
            let e = parse(text.as_bytes()).unwrap_err();
            assert_eq!((e.path.as_str(), e.reason.as_str()), ("q", UNSAFE_INTEGER), "{text}");
        }
        assert_eq!(parse(b"{\"q\":9007199254740991}").unwrap()["q"], 9007199254740991u64);
        // A float stays a float, for the caller to refuse as one.
        assert!(parse(b"{\"q\":1.5}").unwrap()["q"].is_f64());
    }

    #[test]
    fn syntax_errors_and_nulls() {
        let e = parse(b"{").unwrap_err();
        assert!(e.syntax && e.eof);
        let e = parse(b"{\"a\":1}x").unwrap_err();
        assert!(e.syntax && !e.eof);
        let v = parse(br#"{"a":{"b":[1,null]}}"#).unwrap();
        assert_eq!(find_null(&v, "data").as_deref(), Some("data.a.b[1]"));
        assert_eq!(find_null(&serde_json::json!({"a": 1}), ""), None);
    }
}
