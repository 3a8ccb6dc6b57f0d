//! Zudu (seeds 003 and 004): `/api/mcp-servers`. One implementation, two body styles:
//! Wrapped wants `{"config": {...}}` and answers `server_url`/`server_name`; Flat wants a
//! flat body, answers `url`/`name` and also allows `WebSocket` and
//! `auto_approve_read_only`. Every answer is the `{message, status, error, data}`
//! envelope; times are Unix milliseconds; names are unique per organization.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Router};
use jiff::Timestamp;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::auth::{Caller, header};
use super::common::{json, pages, query_map};
use super::registry::SimRegistry;
use super::seed::Credential;
use super::state::{Sim, Table};

/// Organization every Zudu caller belongs to when no seed names one.
pub const DEFAULT_ZUDU_ORG: &str = "org_sim";

/// Zudu in one body style: `FLAT` false is seed 003's `{"config": {...}}` under `/zudu`,
/// true seed 004's flat bodies under `/zudu-flat`. Each keeps its own records.
pub struct Zudu<const FLAT: bool>;
pub type Wrapped = Zudu<false>;
pub type Flat = Zudu<true>;

impl<const FLAT: bool> SimRegistry for Zudu<FLAT> {
    const PREFIX: &'static str = if FLAT { "zudu-flat" } else { "zudu" };
    type Record = Record;

    fn id(record: &Record) -> &str {
        &record.id
    }

    fn router() -> Router<Arc<Sim>> {
        router(FLAT)
    }

    /// `X-API-KEY` and `X-API-SECRET`; the caller is the seeded `organization_id`, else
    /// [`DEFAULT_ZUDU_ORG`].
    fn authenticate(headers: &HeaderMap, accepted: &[Credential]) -> Result<Caller, &'static str> {
        let missing = "Missing or invalid API key/secret";
        let key = header(headers, "x-api-key").ok_or(missing)?;
        let secret = header(headers, "x-api-secret").ok_or(missing)?;
        if accepted.is_empty() {
            return Ok(Caller {
                principal: DEFAULT_ZUDU_ORG.into(),
            });
        }
        let cred = accepted
            .iter()
            .find(|c| c.api_key.as_deref() == Some(key) && c.api_secret.as_deref() == Some(secret))
            .ok_or(missing)?;
        Ok(Caller {
            principal: cred
                .organization_id
                .clone()
                .unwrap_or_else(|| DEFAULT_ZUDU_ORG.into()),
        })
    }

    fn error(status: StatusCode, detail: &str) -> Response {
        error(status, detail)
    }
}

/// The records of one body style.
fn records(sim: &Sim, flat: bool) -> &Mutex<Table<Record>> {
    if flat {
        sim.table::<Flat>()
    } else {
        sim.table::<Wrapped>()
    }
}

const FIELDS: [&str; 7] = [
    "name",
    "url",
    "approval_policy",
    "transport",
    "description",
    "request_headers",
    "secret_token",
];
const POLICIES: [&str; 3] = [
    "auto_approve_all",
    "require_approval_all",
    "require_approval_per_tool",
];
const TRANSPORTS: [&str; 2] = ["SSE", "STREAMABLE_HTTP"];
/// Assumed defaults where the vendor documents none.
const DEFAULT_LIMIT: usize = 20;
const MAX_LIMIT: usize = 100;
const DEFAULT_POLICY: &str = "require_approval_all";
const DEFAULT_TRANSPORT: &str = "STREAMABLE_HTTP";

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretToken {
    pub secret_id: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    #[serde(default = "new_id")]
    pub id: String,
    #[serde(default = "default_org")]
    pub organization_id: String,
    pub name: String,
    pub url: String,
    #[serde(default = "default_policy")]
    pub approval_policy: String,
    #[serde(default = "default_transport")]
    pub transport: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub request_headers: BTreeMap<String, String>,
    /// Write-only: stored, never rendered.
    #[serde(default)]
    pub secret_token: Option<SecretToken>,
    #[serde(default = "Timestamp::now")]
    pub created_at: Timestamp,
    #[serde(default = "Timestamp::now")]
    pub updated_at: Timestamp,
}

fn new_id() -> String {
    format!("mcp_{}", uuid::Uuid::new_v4())
}
fn default_org() -> String {
    DEFAULT_ZUDU_ORG.into()
}
fn default_policy() -> String {
    DEFAULT_POLICY.into()
}
fn default_transport() -> String {
    DEFAULT_TRANSPORT.into()
}

pub fn router(flat: bool) -> Router<Arc<Sim>> {
    Router::new()
        .route(
            "/api/mcp-servers",
            get(move |s, c, q| list(s, c, q, flat)).post(move |s, c, b| create(s, c, b, flat)),
        )
        .route(
            "/api/mcp-servers/{id}",
            get(move |s, c, p| fetch(s, c, p, flat))
                .patch(move |s, c, p, b| update(s, c, p, b, flat))
                .delete(move |s, c, p| remove(s, c, p, flat)),
        )
        .fallback(|| async { error(StatusCode::NOT_FOUND, "Route not found") })
}

/// The error envelope of seed 003 (`data` absent, as there).
pub fn error(status: StatusCode, detail: &str) -> Response {
    let message = match status.as_u16() {
        400 => "Validation failed",
        401 => "Unauthorized",
        404 => "MCP server not found",
        409 => "MCP server name already exists",
        429 => "Too many requests",
        503 => "Service unavailable",
        _ => "Internal server error",
    };
    json(
        status,
        json!({ "message": message, "status": "error", "error": detail }),
    )
}

fn invalid(detail: impl Into<String>) -> Response {
    error(StatusCode::BAD_REQUEST, &detail.into())
}

fn not_found(id: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        &format!("MCP server with ID '{id}' does not exist in organization"),
    )
}

fn conflict(name: &str) -> Response {
    error(
        StatusCode::CONFLICT,
        &format!("MCP server with name '{name}' already exists in organization"),
    )
}

fn success(status: StatusCode, message: &str, data: Value) -> Response {
    json(
        status,
        json!({ "message": message, "status": "success", "error": null, "data": data }),
    )
}

fn render(r: &Record, flat: bool) -> Value {
    let (url_key, name_key) = if flat {
        ("url", "name")
    } else {
        ("server_url", "server_name")
    };
    json!({
        "id": r.id,
        "organization_id": r.organization_id,
        url_key: r.url,
        name_key: r.name,
        "approval_policy": r.approval_policy,
        "transport": r.transport,
        "description": r.description,
        "request_headers": r.request_headers,
        "updated_at": r.updated_at.as_millisecond(),
    })
}

/// The fields object: `config` for Wrapped (required, alone), the body itself for Flat
/// (where a `config` key is just an unknown field).
fn fields(body: &[u8], flat: bool) -> Result<Map<String, Value>, Response> {
    let mut body = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => map,
        _ => return Err(invalid("Request body must be a JSON object")),
    };
    let map = if flat {
        body
    } else {
        if let Some(extra) = body.keys().find(|k| *k != "config") {
            return Err(invalid(format!(
                "Unknown field '{extra}'; fields belong in 'config'"
            )));
        }
        match body.remove("config") {
            Some(Value::Object(config)) => config,
            Some(_) => return Err(invalid("config must be an object")),
            None => return Err(invalid("config is required")),
        }
    };
    match map.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        Some(field) => Err(invalid(format!("Unknown field '{field}'"))),
        None => Ok(map),
    }
}

/// A validated set of fields: each `Some` when it was sent.
#[derive(Default)]
struct Changes {
    name: Option<String>,
    url: Option<String>,
    approval_policy: Option<String>,
    transport: Option<String>,
    description: Option<String>,
    request_headers: Option<BTreeMap<String, String>>,
    secret_token: Option<SecretToken>,
}

fn bounded(map: &Map<String, Value>, field: &str, max: usize) -> Result<Option<String>, Response> {
    match map.get(field) {
        None => Ok(None),
        Some(Value::String(s)) if s.chars().count() > max => {
            Err(invalid(format!("{field} must be at most {max} characters")))
        }
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(invalid(format!("{field} must be a string"))),
    }
}

fn one_of(
    map: &Map<String, Value>,
    field: &str,
    allowed: &[&str],
) -> Result<Option<String>, Response> {
    match map.get(field) {
        None => Ok(None),
        Some(Value::String(s)) if allowed.contains(&s.as_str()) => Ok(Some(s.clone())),
        Some(_) => Err(invalid(format!(
            "{field} must be one of: {}",
            allowed.join(", ")
        ))),
    }
}

impl Changes {
    fn parse(map: &Map<String, Value>, flat: bool) -> Result<Changes, Response> {
        let mut policies = POLICIES.to_vec();
        let mut transports = TRANSPORTS.to_vec();
        if flat {
            policies.push("auto_approve_read_only");
            transports.push("WebSocket");
        }
        let name = bounded(map, "name", 255)?;
        if name.as_deref().is_some_and(|n| n.trim().is_empty()) {
            return Err(invalid("name must not be empty"));
        }
        let url = bounded(map, "url", 1000)?;
        if url
            .as_deref()
            .is_some_and(|u| !(u.starts_with("http://") || u.starts_with("https://")))
        {
            return Err(invalid("url must start with http:// or https://"));
        }
        Ok(Changes {
            name,
            url,
            approval_policy: one_of(map, "approval_policy", &policies)?,
            transport: one_of(map, "transport", &transports)?,
            description: bounded(map, "description", 5000)?,
            request_headers: map.get("request_headers").map(headers).transpose()?,
            secret_token: map.get("secret_token").map(secret).transpose()?,
        })
    }

    fn apply(self, r: &mut Record, now: Timestamp) {
        if let Some(v) = self.name {
            r.name = v;
        }
        if let Some(v) = self.url {
            r.url = v;
        }
        if let Some(v) = self.approval_policy {
            r.approval_policy = v;
        }
        if let Some(v) = self.transport {
            r.transport = v;
        }
        if self.description.is_some() {
            r.description = self.description;
        }
        if let Some(v) = self.request_headers {
            r.request_headers = v;
        }
        if self.secret_token.is_some() {
            r.secret_token = self.secret_token;
        }
        r.updated_at = now;
    }
}

fn headers(value: &Value) -> Result<BTreeMap<String, String>, Response> {
    let refuse = || invalid("request_headers must be an object of string values");
    value
        .as_object()
        .ok_or_else(refuse)?
        .iter()
        .map(|(k, v)| {
            v.as_str()
                .map(|v| (k.clone(), v.to_string()))
                .ok_or_else(refuse)
        })
        .collect()
}

fn secret(value: &Value) -> Result<SecretToken, Response> {
    let refuse =
        || invalid("secret_token must be {\"secret_id\": string of at most 255 characters}");
    let object = value.as_object().ok_or_else(refuse)?;
    if object.keys().any(|k| k != "secret_id") {
        return Err(refuse());
    }
    match object.get("secret_id").and_then(Value::as_str) {
        Some(id) if !id.is_empty() && id.chars().count() <= 255 => Ok(SecretToken {
            secret_id: id.to_string(),
        }),
        _ => Err(refuse()),
    }
}

fn name_taken(table: &Table<Record>, org: &str, name: &str, except: &str) -> bool {
    table
        .values()
        .any(|r| r.organization_id == org && r.id != except && r.name == name)
}

async fn create(
    State(sim): State<Arc<Sim>>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
    flat: bool,
) -> Response {
    let changes = match fields(&body, flat).and_then(|m| Changes::parse(&m, flat)) {
        Ok(changes) => changes,
        Err(response) => return response,
    };
    let (Some(name), Some(url)) = (changes.name.clone(), changes.url.clone()) else {
        return invalid("name and url are required");
    };
    let mut table = records(&sim, flat).lock();
    if name_taken(&table, &caller.principal, &name, "") {
        return conflict(&name);
    }
    let now = Timestamp::now();
    let mut record = Record {
        id: new_id(),
        organization_id: caller.principal,
        name,
        url,
        approval_policy: default_policy(),
        transport: default_transport(),
        description: None,
        request_headers: BTreeMap::new(),
        secret_token: None,
        created_at: now,
        updated_at: now,
    };
    changes.apply(&mut record, now);
    let data = render(&record, flat);
    table.insert(record.id.clone(), record);
    success(StatusCode::CREATED, "MCP server created successfully", data)
}

async fn list(
    State(sim): State<Arc<Sim>>,
    Extension(caller): Extension<Caller>,
    RawQuery(query): RawQuery,
    flat: bool,
) -> Response {
    let query = query_map(query.as_deref());
    let page = match query.get("page").map(|p| p.parse::<usize>()) {
        None => 0,
        Some(Ok(p)) => p,
        Some(Err(_)) => return invalid("page must be a non-negative integer"),
    };
    let limit = match query.get("limit").map(|l| l.parse::<usize>()) {
        None => DEFAULT_LIMIT,
        Some(Ok(l)) if (1..=MAX_LIMIT).contains(&l) => l,
        Some(_) => return invalid("limit must be an integer between 1 and 100"),
    };
    let needle = query
        .get("search")
        .map(|s| s.to_lowercase())
        .unwrap_or_default();
    let table = records(&sim, flat).lock();
    let matching: Vec<&Record> = table
        .values()
        .filter(|r| {
            r.organization_id == caller.principal && r.name.to_lowercase().contains(&needle)
        })
        .collect();
    let total_pages = pages(matching.len(), limit);
    let servers: Vec<Value> = matching
        .iter()
        .skip(page.saturating_mul(limit))
        .take(limit)
        .map(|r| render(r, flat))
        .collect();
    let data = json!({
        "servers": servers,
        "total_count": matching.len(),
        "page": page,
        "limit": limit,
        "total_pages": total_pages,
        "has_next": page + 1 < total_pages,
        "has_previous": page > 0,
    });
    success(StatusCode::OK, "MCP servers retrieved successfully", data)
}

async fn fetch(
    State(sim): State<Arc<Sim>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    flat: bool,
) -> Response {
    let table = records(&sim, flat).lock();
    match table
        .get(&id)
        .filter(|r| r.organization_id == caller.principal)
    {
        Some(r) => success(
            StatusCode::OK,
            "MCP server retrieved successfully",
            render(r, flat),
        ),
        None => not_found(&id),
    }
}

async fn update(
    State(sim): State<Arc<Sim>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Bytes,
    flat: bool,
) -> Response {
    let map = match fields(&body, flat) {
        Ok(map) => map,
        Err(response) => return response,
    };
    if map.is_empty() {
        return invalid("At least one field must be provided for update");
    }
    let changes = match Changes::parse(&map, flat) {
        Ok(changes) => changes,
        Err(response) => return response,
    };
    let org = caller.principal;
    let mut table = records(&sim, flat).lock();
    if table.get(&id).is_none_or(|r| r.organization_id != org) {
        return not_found(&id);
    }
    if let Some(name) = changes
        .name
        .as_deref()
        .filter(|n| name_taken(&table, &org, n, &id))
    {
        return conflict(name);
    }
    let Some(record) = table.get_mut(&id) else {
        return not_found(&id);
    };
    changes.apply(record, Timestamp::now());
    success(
        StatusCode::OK,
        "MCP server updated successfully",
        render(record, flat),
    )
}

/// Assumed: the vendor documents no delete; a hard delete with the usual envelope.
async fn remove(
    State(sim): State<Arc<Sim>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    flat: bool,
) -> Response {
    let mut table = records(&sim, flat).lock();
    if table
        .get(&id)
        .is_none_or(|r| r.organization_id != caller.principal)
    {
        return not_found(&id);
    }
    table.shift_remove(&id);
    success(
        StatusCode::OK,
        "MCP server deleted successfully",
        json!({ "id": id }),
    )
}
