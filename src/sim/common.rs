//! Small helpers every dialect needs; nothing here knows a vendor's field names.

use std::collections::HashMap;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use serde_json::{Map, Value};

/// A JSON answer with a status.
pub fn json(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

/// ISO-8601 at second precision, as Aitronos shows in seed 000.
pub fn iso_seconds(ts: Timestamp) -> String {
    ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// ISO-8601 with milliseconds, as JavaScript backends (Composio) print dates.
pub fn iso_millis(ts: Timestamp) -> String {
    ts.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

pub fn new_uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A short random hex string for trace and request ids.
pub fn short_token() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..12].to_string()
}

/// The body as a JSON object; the error text says why not, for the caller's error shape.
pub fn parse_object(body: &[u8]) -> Result<Map<String, Value>, String> {
    if body.is_empty() {
        return Err("request body is required".into());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err("request body must be a JSON object".into()),
        Err(e) => Err(format!("request body is not valid JSON: {e}")),
    }
}

/// Query parameters; the last value wins, as most web frameworks do.
pub fn query_map(raw: Option<&str>) -> HashMap<String, String> {
    url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

/// A list of strings, or `None` when the value is anything else.
pub fn string_list(value: &Value) -> Option<Vec<String>> {
    value
        .as_array()?
        .iter()
        .map(|v| v.as_str().map(str::to_owned))
        .collect()
}

/// Ceiling division for page counts (0 items -> 0 pages).
pub fn pages(total: usize, per_page: usize) -> usize {
    total.div_ceil(per_page.max(1))
}
