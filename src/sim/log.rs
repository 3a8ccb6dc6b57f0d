//! The request log and counters: how tests count exactly which calls the operator made.
//! Bodies are masked before they are stored, so no secret value ever reaches the log,
//! the admin API or a test's output; auth headers are never recorded at all.

use std::collections::{BTreeMap, VecDeque};

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What replaces every secret value.
pub const MASK: &str = "***";

/// Status recorded for a request whose connection was dropped without an answer.
pub const DROPPED: u16 = 0;

/// One request as the simulator saw it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LoggedRequest {
    /// Path prefix without the slash: `aitronos`, `composio`, `pais`, `zudu`, `zudu-flat`.
    pub provider: String,
    pub method: String,
    /// The vendor's path, without the provider prefix (`/api/v3/mcp/123`).
    pub path: String,
    /// The raw query string, `None` when the URL had none.
    pub query: Option<String>,
    /// The status answered; 0 when the connection was dropped on purpose.
    pub status: u16,
    /// The JSON body with secret values replaced by `***`; a non-JSON body is replaced
    /// by a note of its length so that nothing unparsed can leak.
    pub body: Option<Value>,
}

/// Filter for [`RequestLog::query`]; every set field must match.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct LogFilter {
    pub provider: Option<String>,
    pub method: Option<String>,
    pub path: Option<String>,
    pub path_prefix: Option<String>,
    pub status: Option<u16>,
}

impl LogFilter {
    fn matches(&self, r: &LoggedRequest) -> bool {
        self.provider.as_ref().is_none_or(|p| *p == r.provider)
            && self
                .method
                .as_ref()
                .is_none_or(|m| m.eq_ignore_ascii_case(&r.method))
            && self.path.as_ref().is_none_or(|p| *p == r.path)
            && self
                .path_prefix
                .as_ref()
                .is_none_or(|p| r.path.starts_with(p.as_str()))
            && self.status.is_none_or(|s| s == r.status)
    }
}

/// provider -> method -> status -> count.
pub type Counters = BTreeMap<String, BTreeMap<String, BTreeMap<String, u64>>>;

#[derive(Default)]
struct Inner {
    entries: VecDeque<LoggedRequest>,
    evicted: u64,
    counters: Counters,
}

/// Bounded so a long-running sandbox cannot grow without limit; `evicted` tells a test
/// when the bound made the log inexact.
pub struct RequestLog {
    capacity: usize,
    inner: Mutex<Inner>,
}

impl RequestLog {
    pub fn new(capacity: usize) -> Self {
        RequestLog {
            capacity: capacity.max(1),
            inner: Mutex::default(),
        }
    }

    pub fn record(&self, entry: LoggedRequest) {
        let mut inner = self.inner.lock();
        *inner
            .counters
            .entry(entry.provider.clone())
            .or_default()
            .entry(entry.method.clone())
            .or_default()
            .entry(entry.status.to_string())
            .or_default() += 1;
        if inner.entries.len() >= self.capacity {
            inner.entries.pop_front();
            inner.evicted += 1;
        }
        inner.entries.push_back(entry);
    }

    pub fn query(&self, filter: &LogFilter) -> Vec<LoggedRequest> {
        let inner = self.inner.lock();
        inner
            .entries
            .iter()
            .filter(|r| filter.matches(r))
            .cloned()
            .collect()
    }

    pub fn counters(&self) -> Counters {
        self.inner.lock().counters.clone()
    }

    pub fn evicted(&self) -> u64 {
        self.inner.lock().evicted
    }

    /// Empties the log but keeps the counters.
    pub fn clear_entries(&self) {
        let mut inner = self.inner.lock();
        inner.entries.clear();
        inner.evicted = 0;
    }

    /// Empties both the log and the counters.
    pub fn clear_all(&self) {
        *self.inner.lock() = Inner::default();
    }
}

/// The body as it may be stored: parsed and masked, or a length note.
/// Largest request body kept in the log.
pub const MAX_LOGGED_BODY: usize = 16 * 1024;

/// A request body as logged: JSON with secrets masked, or a note of its size.
pub fn masked_body(bytes: &[u8]) -> Option<Value> {
    if bytes.is_empty() {
        return None;
    }
    // The log holds bodies up to this size, so its memory is bounded by its capacity.
    if bytes.len() > MAX_LOGGED_BODY {
        return Some(Value::String(format!(
            "<{} bytes, not logged>",
            bytes.len()
        )));
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(mut value) => {
            mask_secrets(&mut value);
            Some(value)
        }
        Err(_) => Some(Value::String(format!("<{} bytes, not JSON>", bytes.len()))),
    }
}

/// Masks by field name, the same for every provider, so a secret sent to the wrong
/// provider (or the wrong body style) is masked too: `credentials` and `secret_token`
/// entirely, the values of `request_headers`, and `value` of each `headers` entry.
pub fn mask_secrets(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, field) in map.iter_mut() {
                match key.as_str() {
                    "credentials" | "secret_token" => mask_all(field),
                    "request_headers" => mask_all(field),
                    "headers" => mask_header_list(field),
                    _ => mask_secrets(field),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(mask_secrets),
        _ => {}
    }
}

/// Keeps the structure (keys, list lengths) so tests can still see what was sent.
fn mask_all(value: &mut Value) {
    match value {
        Value::Object(map) => map.values_mut().for_each(mask_all),
        Value::Array(items) => items.iter_mut().for_each(mask_all),
        Value::Null => {}
        other => *other = Value::String(MASK.into()),
    }
}

fn mask_header_list(value: &mut Value) {
    match value {
        Value::Array(items) => {
            for item in items {
                match item.as_object_mut() {
                    Some(header) => {
                        if let Some(v) = header.get_mut("value") {
                            mask_all(v);
                        }
                    }
                    None => mask_all(item),
                }
            }
        }
        other => mask_all(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn masks_every_secret_field_but_keeps_shape() {
        let mut body = json!({
            "name": "x",
            "credentials": {"token": "canary", "nested": {"k": 1}},
            "headers": [{"name": "A", "value": "canary", "is_secret": true}],
            "config": {"request_headers": {"Authorization": "canary"},
                       "secret_token": {"secret_id": "canary"}}
        });
        mask_secrets(&mut body);
        let text = body.to_string();
        assert!(!text.contains("canary"), "{text}");
        assert_eq!(body["headers"][0]["name"], "A");
        assert_eq!(body["credentials"]["nested"]["k"], MASK);
        assert_eq!(body["name"], "x");
    }

    #[test]
    fn non_json_body_is_not_stored() {
        let v = masked_body(b"token=canary");
        assert_eq!(v, Some(Value::String("<12 bytes, not JSON>".into())));
    }

    #[test]
    fn a_large_body_is_not_kept_in_the_log() {
        let big = format!("{{\"name\": \"{}\"}}", "x".repeat(MAX_LOGGED_BODY));
        let v = masked_body(big.as_bytes());
        assert_eq!(
            v,
            Some(Value::String(format!("<{} bytes, not logged>", big.len())))
        );
    }

    #[test]
    fn capacity_evicts_oldest_and_counts() {
        let log = RequestLog::new(2);
        for status in [200, 201, 404] {
            log.record(LoggedRequest {
                provider: "pais".into(),
                method: "GET".into(),
                path: "/x".into(),
                query: None,
                status,
                body: None,
            });
        }
        let all = log.query(&LogFilter::default());
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].status, 201);
        assert_eq!(log.evicted(), 1);
        assert_eq!(log.counters()["pais"]["GET"]["200"], 1);
    }
}
