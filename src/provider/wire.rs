//! Small helpers shared by the provider models: reading JSON answers without panics,
//! building violations, canonical enum names, timestamps and path segments.

use jiff::Timestamp;
use serde_json::{Map, Value};

use super::{DecodeError, Violation};
use crate::vocab::field::{Field, canonical_set};

/// Canonical transport names (see `engine::field`).
pub const STREAMABLE_HTTP: &str = "StreamableHttp";
pub const SSE: &str = "Sse";
pub const WEB_SOCKET: &str = "WebSocket";

/// A `DecodeError` for `provider` that names `what` (never quotes the body).
pub fn decode_error(provider: &'static str, what: impl Into<String>) -> DecodeError {
    DecodeError {
        provider,
        what: what.into(),
    }
}

/// The answer as an object, or a `DecodeError` saying what was expected.
pub fn object<'a>(
    provider: &'static str,
    value: &'a Value,
    what: &str,
) -> Result<&'a Map<String, Value>, DecodeError> {
    value
        .as_object()
        .ok_or_else(|| decode_error(provider, format!("{what} is not a JSON object")))
}

/// A required string (or number, for ids) member.
pub fn required_id(
    provider: &'static str,
    obj: &Map<String, Value>,
    key: &str,
) -> Result<String, DecodeError> {
    match obj.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        Some(Value::Number(n)) => Ok(n.to_string()),
        Some(_) => Err(decode_error(provider, format!("`{key}` is not a string"))),
        None => Err(decode_error(provider, format!("`{key}` is missing"))),
    }
}

/// An optional string member; `null` counts as absent, another type is an error.
pub fn opt_str<'a>(
    provider: &'static str,
    obj: &'a Map<String, Value>,
    key: &str,
) -> Result<Option<&'a str>, DecodeError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(decode_error(provider, format!("`{key}` is not a string"))),
    }
}

/// An optional boolean member; `null` counts as absent.
pub fn opt_bool(
    provider: &'static str,
    obj: &Map<String, Value>,
    key: &str,
) -> Result<Option<bool>, DecodeError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(decode_error(provider, format!("`{key}` is not a boolean"))),
    }
}

/// An optional array of strings, as a canonical set.
pub fn opt_string_set(
    provider: &'static str,
    obj: &Map<String, Value>,
    key: &str,
) -> Result<Option<Value>, DecodeError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => {
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                let s = item.as_str().ok_or_else(|| {
                    decode_error(provider, format!("`{key}` holds a non-string item"))
                })?;
                out.push(s.to_string());
            }
            Ok(Some(canonical_set(out)))
        }
        Some(_) => Err(decode_error(provider, format!("`{key}` is not an array"))),
    }
}

/// The first of `keys` present as a string.
pub fn first_str<'a>(
    provider: &'static str,
    obj: &'a Map<String, Value>,
    keys: &[&str],
) -> Result<Option<&'a str>, DecodeError> {
    for key in keys {
        if let Some(s) = opt_str(provider, obj, key)? {
            return Ok(Some(s));
        }
    }
    Ok(None)
}

/// An ISO-8601 / RFC 3339 timestamp; a date-time without offset is read as UTC.
/// Unparseable values are ignored: timestamps only feed status, never decisions.
pub fn iso_timestamp(value: Option<&Value>) -> Option<Timestamp> {
    let s = value?.as_str()?;
    if let Ok(ts) = s.parse::<Timestamp>() {
        return Some(ts);
    }
    let civil: jiff::civil::DateTime = s.parse().ok()?;
    civil
        .to_zoned(jiff::tz::TimeZone::UTC)
        .ok()
        .map(|z| z.timestamp())
}

/// Unix seconds; 0 and negative values mean "never".
pub fn unix_seconds(value: Option<&Value>) -> Option<Timestamp> {
    let n = value?.as_f64()?;
    if n <= 0.0 {
        return None;
    }
    Timestamp::from_millisecond((n * 1000.0) as i64).ok()
}

/// Unix milliseconds; 0 and negative values mean "never".
pub fn unix_millis(value: Option<&Value>) -> Option<Timestamp> {
    let n = value?.as_i64()?;
    if n <= 0 {
        return None;
    }
    Timestamp::from_millisecond(n).ok()
}

/// A constraint violation on `field` (InvalidSpec).
pub fn invalid(field: Field, rule: impl Into<String>) -> Violation {
    Violation {
        path: field.to_string(),
        rule: rule.into(),
        unsupported: false,
    }
}

/// A (sub-)field the provider does not support at all (UnsupportedField).
pub fn unsupported(path: impl Into<String>, rule: impl Into<String>) -> Violation {
    Violation {
        path: path.into(),
        rule: rule.into(),
        unsupported: true,
    }
}

/// A field whose canonical value does not have the expected JSON type: an engine bug
/// rather than a user error, but reported the same way so that nothing is sent.
pub fn wrong_type(provider: &str, field: Field, expected: &str) -> Violation {
    invalid(field, format!("{provider}: {field} must be {expected}"))
}

/// The canonical string value of `field`, or a violation.
pub fn expect_str<'a>(
    provider: &str,
    field: Field,
    value: &'a Value,
) -> Result<&'a str, Violation> {
    value
        .as_str()
        .ok_or_else(|| wrong_type(provider, field, "a string"))
}

/// Number of characters (not bytes), as vendors count lengths.
pub fn char_len(s: &str) -> usize {
    s.chars().count()
}

/// Percent-encodes one path segment (everything but RFC 3986 unreserved characters), so
/// that an id can never change the path it is placed in.
pub fn path_segment(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    for b in id.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The value of an object member as text for an error message: strings as is, other
/// scalars printed, objects and arrays left out (they could hold anything).
pub fn scalar_text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A header map `{name: value}` in canonical form from a JSON object of strings.
pub fn string_map(
    provider: &'static str,
    obj: &Map<String, Value>,
    key: &str,
) -> Result<Option<Value>, DecodeError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => {
            let mut out = Map::new();
            for (k, v) in m {
                let s = v.as_str().ok_or_else(|| {
                    decode_error(provider, format!("`{key}.{k}` is not a string"))
                })?;
                out.insert(k.clone(), Value::String(s.to_string()));
            }
            Ok(Some(Value::Object(out)))
        }
        Some(_) => Err(decode_error(provider, format!("`{key}` is not an object"))),
    }
}

/// The JSON object of a write: one member per encoded field, in order; fields the
/// provider leaves out (`None`) are skipped.
pub(super) fn object_of<I>(members: I) -> Map<String, Value>
where
    I: IntoIterator<Item = Option<(&'static str, Value)>>,
{
    members
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
}

/// The fields a create needs (the descriptor's `required_on_create`), checked against the
/// body about to be sent: a missing one is an `InvalidSpec` that names the spec field.
pub fn check_required(
    descriptor: &super::Descriptor,
    body: &Map<String, Value>,
) -> Result<(), Violation> {
    for &field in descriptor.required_on_create {
        let key = descriptor
            .rule(field)
            .map_or(field.spec_name(), |r| r.remote);
        if !body.contains_key(key) {
            return Err(invalid(
                field,
                format!("{} requires `{key}` on create: set {field}", descriptor.id),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn path_segment_escapes_separators() {
        assert_eq!(path_segment("mcp_abc-1.2~"), "mcp_abc-1.2~");
        assert_eq!(path_segment("a/../b?x"), "a%2F..%2Fb%3Fx");
    }

    #[test]
    fn timestamps() {
        let iso = iso_timestamp(Some(&json!("2025-11-13T11:00:00Z"))).unwrap();
        assert_eq!(iso.as_second(), 1_763_031_600);
        let civil = iso_timestamp(Some(&json!("2025-11-13T11:00:00"))).unwrap();
        assert_eq!(civil, iso);
        assert_eq!(
            unix_millis(Some(&json!(1705321000000i64)))
                .unwrap()
                .as_second(),
            1_705_321_000
        );
        assert_eq!(unix_seconds(Some(&json!(0))), None);
        assert_eq!(iso_timestamp(Some(&json!("not a date"))), None);
    }
}
