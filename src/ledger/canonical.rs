//! RFC 8785 (JSON Canonicalization Scheme) for the values events may hold.
//!
//! Events never contain floating-point numbers (SPEC §3), so the only numbers are
//! integers with |n| ≤ 2^53 − 1, which JCS prints exactly as decimal integers. Strings
//! are escaped as ECMAScript's `JSON.stringify` does, which is also what serde_json's
//! compact writer does (`\b \t \n \f \r`, other controls as lowercase `\u00xx`, nothing
//! else). Object members are sorted by their UTF-16 code units.
//!
//! Written by hand rather than taken from a crate because the stored-event path builds
//! canonical bytes for every appended event and this is the hot loop of bulk append;
//! the interop check (`.ci/run` → shared/tools/verify_export.py, which uses the
//! `rfc8785` Python library) keeps it honest.

use serde_json::Value;

use crate::ledger::json::Node;
use crate::limits::MAX_SAFE_INTEGER;

/// Why a value has no canonical form here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotCanonical {
    pub path: String,
    pub reason: &'static str,
}

/// Checks that a value holds only what events may hold: no floats, integers within
/// ±(2^53 − 1). `path` names the value for the error (e.g. `data`).
pub fn check_numbers(value: &Value, path: &mut String) -> Result<(), NotCanonical> {
    match value {
        Value::Number(n) => {
            let ok = match (n.as_i64(), n.as_u64()) {
                (Some(i), _) => (-MAX_SAFE_INTEGER..=MAX_SAFE_INTEGER).contains(&i),
                (None, Some(_)) => false,
                (None, None) => {
                    return Err(NotCanonical {
                        path: path.clone(),
                        reason: "дробное число: в событиях дробей нет (сумму пишут строкой, например `\"1500.00\"`)",
                    })
                }
            };
            if ok {
                Ok(())
            } else {
                Err(NotCanonical { path: path.clone(), reason: "целое число вне ±9007199254740991" })
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                check_numbers(item, path)?;
                path.truncate(len);
            }
            Ok(())
        }
        Value::Object(map) => {
            for (k, v) in map {
                let len = path.len();
                path.push('.');
                path.push_str(k);
                check_numbers(v, path)?;
                path.truncate(len);
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Appends the canonical form of `value` to `out`. The value must have passed
/// [`check_numbers`]; a float here is a programming error and is refused rather than
/// written in a non-canonical form.
pub fn write(value: &Value, out: &mut Vec<u8>) -> Result<(), NotCanonical> {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => {
            if n.is_f64() {
                return Err(NotCanonical { path: String::new(), reason: "floating-point number" });
            }
            out.extend_from_slice(n.to_string().as_bytes());
        }
        Value::String(s) => write_str(s, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write(item, out)?;
            }
            out.push(b']');
        }
        Value::Object(map) => write_object(map, out)?,
    }
    Ok(())
}

/// Appends the canonical form of a JSON object.
pub fn write_object(map: &serde_json::Map<String, Value>, out: &mut Vec<u8>) -> Result<(), NotCanonical> {
    write_members(map.iter().map(|(k, v)| (k.as_str(), v)), out, write)
}

/// Appends the canonical form of a value read by the quick reading (which holds no
/// value without one).
pub fn write_node(node: &Node<'_>, out: &mut Vec<u8>) {
    match node {
        Node::Bool(true) => out.extend_from_slice(b"true"),
        Node::Bool(false) => out.extend_from_slice(b"false"),
        Node::Int(n) => {
            if *n < 0 {
                out.push(b'-');
            }
            crate::codec::push_decimal(n.unsigned_abs(), out);
        }
        Node::Str(s) => write_str(s, out),
        Node::Arr(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_node(item, out);
            }
            out.push(b']');
        }
        Node::Obj(members) => write_node_object(members, out),
    }
}

/// Appends the canonical form of an object read by the quick reading.
pub fn write_node_object(members: &[(std::borrow::Cow<'_, str>, Node<'_>)], out: &mut Vec<u8>) {
    let written = write_members(members.iter().map(|(k, v)| (k.as_ref(), v)), out, |v, out| {
        write_node(v, out);
        Ok(())
    });
    debug_assert!(written.is_ok());
}

/// Writes an object's members given in UTF-8 byte order of their names, which equals
/// their UTF-16 order unless names mix astral-plane characters with U+E000..U+FFFF.
fn write_members<'v, V: 'v, I>(
    members: I,
    out: &mut Vec<u8>,
    value: impl Fn(&V, &mut Vec<u8>) -> Result<(), NotCanonical>,
) -> Result<(), NotCanonical>
where
    I: Iterator<Item = (&'v str, &'v V)> + Clone,
{
    let mut write_all = |members: &mut dyn Iterator<Item = (&'v str, &'v V)>| {
        out.push(b'{');
        for (i, (k, v)) in members.enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_str(k, out);
            out.push(b':');
            value(v, out)?;
        }
        out.push(b'}');
        Ok(())
    };
    if members.clone().zip(members.clone().skip(1)).all(|(a, b)| utf16_le(a.0, b.0)) {
        write_all(&mut members.clone())
    } else {
        let mut sorted: Vec<(&str, &V)> = members.collect();
        sorted.sort_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
        write_all(&mut sorted.into_iter())
    }
}

fn utf16_le(a: &str, b: &str) -> bool {
    a.encode_utf16().cmp(b.encode_utf16()) != std::cmp::Ordering::Greater
}

/// Writes a JSON string literal, escaped as RFC 8785 requires.
pub fn write_str(s: &str, out: &mut Vec<u8>) {
    // serde_json's compact string escaping is exactly ECMAScript's JSON.stringify.
    serde_json::to_writer(&mut *out, s).expect("writing to a Vec cannot fail");
}

/// The canonical bytes of a value, as a new vector.
pub fn to_vec(value: &Value) -> Result<Vec<u8>, NotCanonical> {
    let mut out = Vec::with_capacity(128);
    write(value, &mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sorts_keys_and_drops_whitespace() {
        let v = json!({"b": 1, "a": [true, null, "x"], "c": {"z": 0, "y": -5}});
        assert_eq!(
            String::from_utf8(to_vec(&v).unwrap()).unwrap(),
            r#"{"a":[true,null,"x"],"b":1,"c":{"y":-5,"z":0}}"#
        );
    }

    #[test]
    fn escapes_like_json_stringify() {
        // RFC 8785 §3.2.2.2: controls as \b \t \n \f \r or \u00xx lowercase; '/' and
        // non-ASCII are written as they are.
        let v = json!("a\"b\\c\u{8}\t\n\u{c}\r\u{1}\u{1f}/Ф\u{7f}");
        assert_eq!(
            String::from_utf8(to_vec(&v).unwrap()).unwrap(),
            "\"a\\\"b\\\\c\\b\\t\\n\\f\\r\\u0001\\u001f/Ф\u{7f}\""
        );
    }

    #[test]
    fn orders_keys_by_utf16_code_units() {
        // U+1F600 is the surrogate pair D83D DE00, which sorts before U+E000 in UTF-16
        // but after it in UTF-8.
        let v = json!({"\u{e000}": 1, "\u{1f600}": 2});
        assert_eq!(String::from_utf8(to_vec(&v).unwrap()).unwrap(), "{\"\u{1f600}\":2,\"\u{e000}\":1}");
    }

    #[test]
    fn refuses_floats_and_unsafe_integers() {
        let mut p = String::from("data");
        let err = check_numbers(&json!({"x": [1, 2.5]}), &mut p).unwrap_err();
        assert_eq!(err.path, "data.x[1]");
        let mut p = String::from("data");
        assert!(check_numbers(&json!({"x": 9007199254740992_u64}), &mut p).is_err());
        let mut p = String::from("data");
        assert!(check_numbers(&json!({"x": -9007199254740991_i64}), &mut p).is_ok());
        let v: Value = serde_json::from_str("1.0").unwrap();
        assert!(to_vec(&v).is_err());
    }
}
