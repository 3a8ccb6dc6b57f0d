//! Aitronos "Freddy" API (seed 000): `/v1/mcp-configurations`. Mixed-case answers,
//! ISO-8601 times, soft delete, owner-only writes, HTTPS-only `server_url`, and a
//! `connectionStatus` that goes `pending` -> `connected` after a create or URL change.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::admin::{AdminError, AvailabilityBody};
use super::auth::{Caller, derived, header};
use super::common::{iso_seconds, json, parse_object, query_map, short_token, string_list};
use super::registry::{SimRegistry, record_mut};
use super::seed::Credential;
use super::state::Sim;

/// The Aitronos dialect, under `/aitronos`.
pub struct Aitronos;

impl SimRegistry for Aitronos {
    const PREFIX: &'static str = "aitronos";
    type Record = Record;

    fn id(record: &Record) -> &str {
        &record.id
    }

    fn router() -> Router<Arc<Sim>> {
        router()
    }

    /// `X-API-Key`; the caller is the seeded `user_id`, else an id derived from the key.
    fn authenticate(headers: &HeaderMap, accepted: &[Credential]) -> Result<Caller, &'static str> {
        let key = header(headers, "x-api-key").ok_or("Missing API key")?;
        let principal = if accepted.is_empty() {
            derived("usr_", key, 32)
        } else {
            let cred = accepted
                .iter()
                .find(|c| c.api_key.as_deref() == Some(key))
                .ok_or("Invalid API key")?;
            cred.user_id
                .clone()
                .unwrap_or_else(|| derived("usr_", key, 32))
        };
        Ok(Caller { principal })
    }

    fn error(status: StatusCode, detail: &str) -> Response {
        error(status, detail)
    }

    /// `status` is `connectionStatus` (`connected`, `error`, ...), `message` its
    /// `errorMessage`.
    fn set_availability(sim: &Sim, id: &str, body: AvailabilityBody) -> Result<(), AdminError> {
        let mut table = sim.table::<Aitronos>().lock();
        let record = record_mut::<Aitronos>(&mut table, id)?;
        set_status(record, &body.status, body.message);
        Ok(())
    }
}

const PATCH_FIELDS: [&str; 5] = [
    "name",
    "server_url",
    "is_active",
    "credentials",
    "tool_configuration",
];
const CREATE_FIELDS: [&str; 7] = [
    "name",
    "server_url",
    "transport_type",
    "auth_type",
    "organization_id",
    "credentials",
    "tool_configuration",
];
const TRANSPORTS: [&str; 2] = ["sse", "streamable_http"];

/// One configuration. `credentials` and `tool_configuration` are write-only: kept here,
/// never rendered.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    #[serde(default = "new_id")]
    pub id: String,
    pub name: String,
    #[serde(default = "default_org")]
    pub organization_id: String,
    /// The owner; `None` lets any caller write (handy for hand-written seeds).
    #[serde(default)]
    pub user_id: Option<String>,
    pub server_url: String,
    #[serde(default = "default_transport")]
    pub transport_type: String,
    #[serde(default = "default_auth")]
    pub auth_type: String,
    #[serde(default = "yes")]
    pub is_active: bool,
    #[serde(default = "connected")]
    pub connection_status: String,
    #[serde(default)]
    pub last_connected_at: Option<Timestamp>,
    #[serde(default)]
    pub error_message: Option<String>,
    #[serde(default = "Timestamp::now")]
    pub created_at: Timestamp,
    #[serde(default = "Timestamp::now")]
    pub updated_at: Timestamp,
    #[serde(default)]
    pub deleted: bool,
    #[serde(default)]
    pub credentials: Option<Value>,
    #[serde(default)]
    pub tool_configuration: Option<Value>,
    /// When a `pending` status turns `connected` on its own.
    #[serde(skip)]
    pub pending_until: Option<Timestamp>,
}

fn new_id() -> String {
    format!("mcp_{}", uuid::Uuid::new_v4().simple())
}
fn default_org() -> String {
    "org_sim".into()
}
fn default_transport() -> String {
    "streamable_http".into()
}
fn default_auth() -> String {
    "none".into()
}
fn yes() -> bool {
    true
}
fn connected() -> String {
    "connected".into()
}

pub fn router() -> Router<Arc<Sim>> {
    Router::new()
        .route("/v1/mcp-configurations", get(list).post(create))
        .route(
            "/v1/mcp-configurations/{id}",
            get(fetch).patch(update).delete(remove),
        )
        .fallback(|| async { error(StatusCode::NOT_FOUND, "Resource not found") })
}

/// Seed 000's error envelope; `detail` goes to `system_message`.
pub fn error(status: StatusCode, detail: &str) -> Response {
    let (code, message, kind) = match status.as_u16() {
        400 => (
            "VALIDATION_ERROR",
            "Invalid request parameters",
            "validation_error",
        ),
        401 => (
            "UNAUTHORIZED",
            "Authentication required",
            "authentication_error",
        ),
        403 => (
            "FORBIDDEN",
            "You do not have permission to access this resource",
            "authorization_error",
        ),
        404 => (
            "NOT_FOUND",
            "MCP configuration not found",
            "not_found_error",
        ),
        422 => (
            "UNPROCESSABLE_ENTITY",
            "Request contains unsupported fields",
            "validation_error",
        ),
        429 => (
            "RATE_LIMIT_EXCEEDED",
            "Too many requests",
            "rate_limit_error",
        ),
        503 => (
            "SERVICE_UNAVAILABLE",
            "Service temporarily unavailable",
            "server_error",
        ),
        _ => (
            "INTERNAL_ERROR",
            "An unexpected error occurred",
            "server_error",
        ),
    };
    json(
        status,
        json!({
            "success": false,
            "error": {
                "code": code,
                "message": message,
                "system_message": detail,
                "type": kind,
                "status": status.as_u16(),
                "trace_id": format!("req_{}", short_token()),
                "timestamp": iso_seconds(Timestamp::now()),
            }
        }),
    )
}

fn invalid(detail: impl std::fmt::Display) -> Response {
    error(
        StatusCode::BAD_REQUEST,
        &format!("Validation failed: {detail}"),
    )
}

fn render(r: &Record) -> Value {
    json!({
        "id": r.id,
        "name": r.name,
        "type": "custom",
        "organization_id": r.organization_id,
        "userId": r.user_id,
        "server_url": r.server_url,
        "transportType": r.transport_type,
        "authType": r.auth_type,
        "isActive": r.is_active,
        "connectionStatus": r.connection_status,
        "lastConnectedAt": r.last_connected_at.map(iso_seconds),
        "errorMessage": r.error_message,
        "created_at": iso_seconds(r.created_at),
        "updated_at": iso_seconds(r.updated_at),
    })
}

/// Lets a `pending` connection succeed once its delay is over.
fn settle(r: &mut Record, now: Timestamp) {
    if let Some(due) = r.pending_until.filter(|due| *due <= now) {
        r.pending_until = None;
        r.connection_status = "connected".into();
        r.last_connected_at = Some(due);
        r.error_message = None;
    }
}

fn start_pending(r: &mut Record, sim: &Sim, now: Timestamp) {
    r.connection_status = "pending".into();
    r.error_message = None;
    r.pending_until = now.checked_add(sim.availability_delay).ok();
}

/// Admin override of the connection state; stops the automatic transition.
pub fn set_status(r: &mut Record, status: &str, message: Option<String>) {
    r.pending_until = None;
    r.connection_status = status.into();
    if status == "connected" {
        r.last_connected_at = Some(Timestamp::now());
    }
    r.error_message = message;
}

fn refuse_unknown(body: &Map<String, Value>, allowed: &[&str]) -> Result<(), Response> {
    match body.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(field) => Err(error(
            StatusCode::UNPROCESSABLE_ENTITY,
            &format!("Unknown field '{field}' is not accepted by this endpoint"),
        )),
        None => Ok(()),
    }
}

fn check_url(value: &Value) -> Result<String, Response> {
    let text = value
        .as_str()
        .ok_or_else(|| invalid("server_url must be a string"))?;
    match url::Url::parse(text) {
        Ok(u) if u.scheme() == "https" && u.host().is_some() => Ok(text.to_string()),
        _ => Err(invalid("server_url must be a valid HTTPS URL")),
    }
}

/// Seed 000 documents no trimming: a name is stored as sent, so that it reads back
/// exactly (a blank one is still refused).
fn check_name(value: &Value) -> Result<String, Response> {
    match value.as_str() {
        Some(name) if !name.trim().is_empty() && name.len() <= 255 => Ok(name.to_string()),
        _ => Err(invalid(
            "name must be a non-empty string of at most 255 characters",
        )),
    }
}

fn check_object(field: &str, value: &Value) -> Result<Value, Response> {
    if value.is_object() {
        Ok(value.clone())
    } else {
        Err(invalid(format!("{field} must be an object")))
    }
}

fn check_tools(value: &Value) -> Result<Value, Response> {
    let tools = check_object("tool_configuration", value)?;
    let enabled_ok = tools.get("enabled").is_none_or(Value::is_boolean);
    let allowed_ok = tools
        .get("allowed_tools")
        .is_none_or(|v| string_list(v).is_some());
    if enabled_ok && allowed_ok {
        Ok(tools)
    } else {
        Err(invalid(
            "tool_configuration must be {enabled: boolean, allowed_tools: [string]}",
        ))
    }
}

async fn list(State(sim): State<Arc<Sim>>, RawQuery(query): RawQuery) -> Response {
    let query = query_map(query.as_deref());
    let org = query.get("organization_id");
    let now = Timestamp::now();
    let mut table = sim.table::<Aitronos>().lock();
    let items: Vec<Value> = table
        .values_mut()
        .filter(|r| !r.deleted && org.is_none_or(|o| *o == r.organization_id))
        .map(|r| {
            settle(r, now);
            render(r)
        })
        .collect();
    json(StatusCode::OK, json!({ "configurations": items }))
}

async fn fetch(State(sim): State<Arc<Sim>>, Path(id): Path<String>) -> Response {
    let mut table = sim.table::<Aitronos>().lock();
    match table.get_mut(&id).filter(|r| !r.deleted) {
        Some(r) => {
            settle(r, Timestamp::now());
            json(StatusCode::OK, render(r))
        }
        None => error(
            StatusCode::NOT_FOUND,
            &format!("MCP configuration '{id}' not found"),
        ),
    }
}

async fn create(
    State(sim): State<Arc<Sim>>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Response {
    match build(&sim, &caller, &body) {
        Ok(record) => {
            let rendered = render(&record);
            sim.table::<Aitronos>().lock().insert(record.id.clone(), record);
            json(StatusCode::CREATED, rendered)
        }
        Err(response) => response,
    }
}

fn required<'a>(body: &'a Map<String, Value>, field: &str) -> Result<&'a Value, Response> {
    body.get(field)
        .filter(|v| !v.is_null())
        .ok_or_else(|| invalid(format!("{field} is required")))
}

fn build(sim: &Sim, caller: &Caller, body: &[u8]) -> Result<Record, Response> {
    let body = parse_object(body).map_err(invalid)?;
    refuse_unknown(&body, &CREATE_FIELDS)?;
    let name = check_name(required(&body, "name")?)?;
    let server_url = check_url(required(&body, "server_url")?)?;
    let transport = required(&body, "transport_type")?
        .as_str()
        .unwrap_or_default();
    if !TRANSPORTS.contains(&transport) {
        return Err(invalid(
            "transport_type must be one of: sse, streamable_http",
        ));
    }
    let auth_type = match required(&body, "auth_type")?.as_str() {
        Some(a) if !a.is_empty() => a.to_string(),
        _ => return Err(invalid("auth_type must be a non-empty string")),
    };
    let organization_id = match required(&body, "organization_id")?.as_str() {
        Some(o) if !o.is_empty() => o.to_string(),
        _ => return Err(invalid("organization_id must be a non-empty string")),
    };
    let credentials = body
        .get("credentials")
        .map(|v| check_object("credentials", v))
        .transpose()?;
    let tool_configuration = body
        .get("tool_configuration")
        .map(check_tools)
        .transpose()?;
    let now = Timestamp::now();
    let mut record = Record {
        id: new_id(),
        name,
        organization_id,
        user_id: Some(caller.principal.clone()),
        server_url,
        transport_type: transport.to_string(),
        auth_type,
        is_active: true,
        connection_status: String::new(),
        last_connected_at: None,
        error_message: None,
        created_at: now,
        updated_at: now,
        deleted: false,
        credentials,
        tool_configuration,
        pending_until: None,
    };
    start_pending(&mut record, sim, now);
    Ok(record)
}

async fn update(
    State(sim): State<Arc<Sim>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let body = match parse_object(&body) {
        Ok(body) => body,
        Err(e) => return invalid(e),
    };
    if let Err(response) = refuse_unknown(&body, &PATCH_FIELDS) {
        return response;
    }
    let changes = match Changes::parse(&body) {
        Ok(changes) => changes,
        Err(response) => return response,
    };
    let now = Timestamp::now();
    let mut table = sim.table::<Aitronos>().lock();
    let Some(record) = table.get_mut(&id).filter(|r| !r.deleted) else {
        return error(
            StatusCode::NOT_FOUND,
            &format!("MCP configuration '{id}' not found"),
        );
    };
    if record
        .user_id
        .as_ref()
        .is_some_and(|owner| *owner != caller.principal)
    {
        return error(
            StatusCode::FORBIDDEN,
            "Only the owner can update this configuration",
        );
    }
    settle(record, now);
    changes.apply(record, &sim, now);
    json(StatusCode::OK, render(record))
}

/// A validated PATCH: each field `Some` when it was sent.
struct Changes {
    name: Option<String>,
    server_url: Option<String>,
    is_active: Option<bool>,
    credentials: Option<Value>,
    tool_configuration: Option<Value>,
}

impl Changes {
    fn parse(body: &Map<String, Value>) -> Result<Changes, Response> {
        let is_active = match body.get("is_active") {
            None => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(_) => return Err(invalid("is_active must be a boolean")),
        };
        Ok(Changes {
            name: body.get("name").map(check_name).transpose()?,
            server_url: body.get("server_url").map(check_url).transpose()?,
            is_active,
            credentials: body
                .get("credentials")
                .map(|v| check_object("credentials", v))
                .transpose()?,
            tool_configuration: body
                .get("tool_configuration")
                .map(check_tools)
                .transpose()?,
        })
    }

    fn apply(self, r: &mut Record, sim: &Sim, now: Timestamp) {
        if let Some(name) = self.name {
            r.name = name;
        }
        if let Some(url) = self.server_url {
            if url != r.server_url {
                start_pending(r, sim, now);
            }
            r.server_url = url;
        }
        if let Some(active) = self.is_active {
            r.is_active = active;
        }
        if self.credentials.is_some() {
            r.credentials = self.credentials;
        }
        if self.tool_configuration.is_some() {
            r.tool_configuration = self.tool_configuration;
        }
        r.updated_at = now;
    }
}

async fn remove(
    State(sim): State<Arc<Sim>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Response {
    let mut table = sim.table::<Aitronos>().lock();
    let Some(record) = table.get_mut(&id).filter(|r| !r.deleted) else {
        return error(
            StatusCode::NOT_FOUND,
            &format!("MCP configuration '{id}' not found"),
        );
    };
    if record
        .user_id
        .as_ref()
        .is_some_and(|owner| *owner != caller.principal)
    {
        return error(
            StatusCode::FORBIDDEN,
            "Only the owner can delete this configuration",
        );
    }
    record.deleted = true;
    record.updated_at = Timestamp::now();
    StatusCode::NO_CONTENT.into_response()
}
