//! Composio v3 (seed 001): `/api/v3/mcp`. Every writable field is read back, names are
//! 4-30 letters, digits, spaces or hyphens, delete is soft (`{"id","deleted":true}`,
//! then 404), lists page with `page_no`/`limit`.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::common::{
    iso_millis, json, new_uuid, pages, parse_object, query_map, short_token, string_list,
};
use super::auth::{Caller, header};
use super::registry::SimRegistry;
use super::seed::Credential;
use super::state::{Sim, Table};

/// The Composio dialect, under `/composio`.
pub struct Composio;

impl SimRegistry for Composio {
    const PREFIX: &'static str = "composio";
    type Record = Record;

    fn id(record: &Record) -> &str {
        &record.id
    }

    fn router() -> Router<Arc<Sim>> {
        router()
    }

    /// `x-api-key` or `x-user-api-key`.
    fn authenticate(headers: &HeaderMap, accepted: &[Credential]) -> Result<Caller, &'static str> {
        let key = header(headers, "x-api-key")
            .or_else(|| header(headers, "x-user-api-key"))
            .ok_or("API key is missing")?;
        if !accepted.is_empty() && !accepted.iter().any(|c| c.api_key.as_deref() == Some(key)) {
            return Err("Invalid API key");
        }
        Ok(Caller::anonymous())
    }

    fn error(status: StatusCode, detail: &str) -> Response {
        error(status, detail)
    }
}

const FIELDS: [&str; 5] = [
    "name",
    "toolkits",
    "allowed_tools",
    "managed_auth_via_composio",
    "auth_config_ids",
];
/// Assumed: the vendor documents no defaults for listing.
const DEFAULT_LIMIT: usize = 10;
const MAX_LIMIT: usize = 100;

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    #[serde(default = "new_uuid")]
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub toolkits: Vec<String>,
    #[serde(default)]
    pub allowed_tools: Vec<String>,
    #[serde(default)]
    pub auth_config_ids: Vec<String>,
    #[serde(default)]
    pub managed_auth_via_composio: bool,
    #[serde(default)]
    pub server_instance_count: u64,
    #[serde(default = "Timestamp::now")]
    pub created_at: Timestamp,
    #[serde(default = "Timestamp::now")]
    pub updated_at: Timestamp,
    #[serde(default)]
    pub deleted: bool,
}

pub fn router() -> Router<Arc<Sim>> {
    Router::new()
        .route("/api/v3/mcp/servers", get(list))
        .route("/api/v3/mcp/servers/custom", post(create))
        .route("/api/v3/mcp/{id}", get(fetch).patch(update).delete(remove))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "Not Found") })
}

/// Seed 001's `{"error": {...}}` envelope, except 429 which carries `{"message"}`.
pub fn error(status: StatusCode, message: &str) -> Response {
    error_with(status, message, Vec::new())
}

fn error_with(status: StatusCode, message: &str, errors: Vec<String>) -> Response {
    if status == StatusCode::TOO_MANY_REQUESTS {
        return json(status, json!({ "message": message }));
    }
    let (slug, fix) = match status.as_u16() {
        400 => (
            "BadRequest",
            "Check the request body against the API reference",
        ),
        401 => (
            "Unauthorized",
            "Pass a valid API key in the x-api-key header",
        ),
        403 => (
            "Forbidden",
            "Use an API key of the project that owns this resource",
        ),
        404 => ("NotFound", "Check the MCP server id"),
        409 => ("Conflict", "Choose a different name"),
        422 => (
            "UnprocessableEntity",
            "Check the request body against the API reference",
        ),
        503 => ("ServiceUnavailable", "Retry later"),
        _ => ("InternalServerError", "Retry later or contact support"),
    };
    json(
        status,
        json!({
            "error": {
                "message": message,
                "code": status.as_u16(),
                "slug": slug,
                "status": status.as_u16(),
                "request_id": short_token(),
                "suggested_fix": fix,
                "errors": errors,
            }
        }),
    )
}

fn bad_request(message: impl Into<String>) -> Response {
    let message = message.into();
    error_with(StatusCode::BAD_REQUEST, &message, vec![message.clone()])
}

fn not_found(id: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        &format!("MCP server with id '{id}' not found"),
    )
}

fn mcp_url(id: &str) -> String {
    format!("https://mcp.composio.dev/composio/server/{id}/mcp")
}

fn render(r: &Record) -> Value {
    let url = mcp_url(&r.id);
    let icons: Map<String, Value> = r
        .toolkits
        .iter()
        .map(|t| {
            (
                t.clone(),
                json!(format!("https://logos.composio.dev/api/{t}")),
            )
        })
        .collect();
    let command = |client: &str| {
        format!(
            "npx @composio/mcp@latest setup \"{url}\" \"{}\" --client {client}",
            r.name
        )
    };
    json!({
        "id": r.id,
        "name": r.name,
        "auth_config_ids": r.auth_config_ids,
        "allowed_tools": r.allowed_tools,
        "mcp_url": url,
        "toolkits": r.toolkits,
        "toolkit_icons": icons,
        "commands": {
            "cursor": command("cursor"),
            "claude": command("claude"),
            "windsurf": command("windsurf"),
        },
        "updated_at": iso_millis(r.updated_at),
        "created_at": iso_millis(r.created_at),
        "server_instance_count": r.server_instance_count,
        "managed_auth_via_composio": r.managed_auth_via_composio,
        "deleted": r.deleted,
    })
}

fn valid_name(name: &str) -> bool {
    let len = name.chars().count();
    (4..=30).contains(&len)
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == ' ' || c == '-')
}

/// A validated body: each field `Some` when it was sent.
#[derive(Default)]
struct Changes {
    name: Option<String>,
    toolkits: Option<Vec<String>>,
    allowed_tools: Option<Vec<String>>,
    auth_config_ids: Option<Vec<String>>,
    managed_auth: Option<bool>,
}

impl Changes {
    fn parse(body: &[u8]) -> Result<Changes, Response> {
        let body = parse_object(body).map_err(bad_request)?;
        if let Some(field) = body.keys().find(|k| !FIELDS.contains(&k.as_str())) {
            return Err(bad_request(format!(
                "Unrecognized field '{field}' in request body"
            )));
        }
        let list = |field: &str| -> Result<Option<Vec<String>>, Response> {
            body.get(field)
                .map(|v| {
                    string_list(v)
                        .ok_or_else(|| bad_request(format!("{field} must be an array of strings")))
                })
                .transpose()
        };
        let name = match body.get("name") {
            None => None,
            Some(Value::String(n)) if valid_name(n) => Some(n.clone()),
            Some(_) => {
                return Err(bad_request(
                    "name must be 4-30 characters long and contain only letters, digits, spaces and hyphens",
                ));
            }
        };
        let managed_auth = match body.get("managed_auth_via_composio") {
            None => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(_) => return Err(bad_request("managed_auth_via_composio must be a boolean")),
        };
        Ok(Changes {
            name,
            toolkits: list("toolkits")?,
            allowed_tools: list("allowed_tools")?,
            auth_config_ids: list("auth_config_ids")?,
            managed_auth,
        })
    }

    fn apply(self, r: &mut Record, now: Timestamp) {
        if let Some(v) = self.name {
            r.name = v;
        }
        if let Some(v) = self.toolkits {
            r.toolkits = v;
        }
        if let Some(v) = self.allowed_tools {
            r.allowed_tools = v;
        }
        if let Some(v) = self.auth_config_ids {
            r.auth_config_ids = v;
        }
        if let Some(v) = self.managed_auth {
            r.managed_auth_via_composio = v;
        }
        r.updated_at = now;
    }
}

/// Assumed: names are unique among live servers (the vendor lists 409 among its errors).
fn name_taken(table: &Table<Record>, name: &str, except: &str) -> bool {
    table
        .values()
        .any(|r| !r.deleted && r.id != except && r.name == name)
}

async fn create(State(sim): State<Arc<Sim>>, body: Bytes) -> Response {
    let changes = match Changes::parse(&body) {
        Ok(changes) => changes,
        Err(response) => return response,
    };
    let Some(name) = changes.name.clone() else {
        return bad_request("name is required");
    };
    let mut table = sim.table::<Composio>().lock();
    if name_taken(&table, &name, "") {
        return error(
            StatusCode::CONFLICT,
            &format!("MCP server with name '{name}' already exists"),
        );
    }
    let now = Timestamp::now();
    let mut record = Record {
        id: new_uuid(),
        name,
        toolkits: Vec::new(),
        allowed_tools: Vec::new(),
        auth_config_ids: Vec::new(),
        managed_auth_via_composio: false,
        server_instance_count: 0,
        created_at: now,
        updated_at: now,
        deleted: false,
    };
    changes.apply(&mut record, now);
    let rendered = render(&record);
    table.insert(record.id.clone(), record);
    json(StatusCode::CREATED, rendered)
}

async fn list(State(sim): State<Arc<Sim>>, RawQuery(query): RawQuery) -> Response {
    let query = query_map(query.as_deref());
    let number = |key: &str, default: usize| match query.get(key).filter(|v| !v.is_empty()) {
        None => Ok(default),
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| bad_request(format!("{key} must be a positive integer"))),
    };
    let (page, limit) = match (number("page_no", 1), number("limit", DEFAULT_LIMIT)) {
        (Ok(p), Ok(l)) => (p, l.min(MAX_LIMIT)),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    let needle = query
        .get("name")
        .map(|n| n.to_lowercase())
        .unwrap_or_default();
    let table = sim.table::<Composio>().lock();
    let matching: Vec<&Record> = table
        .values()
        .filter(|r| !r.deleted && r.name.to_lowercase().contains(&needle))
        .collect();
    let items: Vec<Value> = matching
        .iter()
        .skip((page - 1).saturating_mul(limit))
        .take(limit)
        .map(|r| render(r))
        .collect();
    json(
        StatusCode::OK,
        json!({
            "items": items,
            "current_page": page,
            "total_pages": pages(matching.len(), limit),
        }),
    )
}

async fn fetch(State(sim): State<Arc<Sim>>, Path(id): Path<String>) -> Response {
    let table = sim.table::<Composio>().lock();
    match table.get(&id).filter(|r| !r.deleted) {
        Some(r) => json(StatusCode::OK, render(r)),
        None => not_found(&id),
    }
}

async fn update(State(sim): State<Arc<Sim>>, Path(id): Path<String>, body: Bytes) -> Response {
    let changes = match Changes::parse(&body) {
        Ok(changes) => changes,
        Err(response) => return response,
    };
    let mut table = sim.table::<Composio>().lock();
    if table.get(&id).is_none_or(|r| r.deleted) {
        return not_found(&id);
    }
    if let Some(name) = changes
        .name
        .as_deref()
        .filter(|n| name_taken(&table, n, &id))
    {
        return error(
            StatusCode::CONFLICT,
            &format!("MCP server with name '{name}' already exists"),
        );
    }
    let Some(record) = table.get_mut(&id) else {
        return not_found(&id);
    };
    changes.apply(record, Timestamp::now());
    json(StatusCode::OK, render(record))
}

async fn remove(State(sim): State<Arc<Sim>>, Path(id): Path<String>) -> Response {
    let mut table = sim.table::<Composio>().lock();
    match table.get_mut(&id).filter(|r| !r.deleted) {
        Some(record) => {
            record.deleted = true;
            record.updated_at = Timestamp::now();
            json(StatusCode::OK, json!({ "id": id, "deleted": true }))
        }
        None => not_found(&id),
    }
}
