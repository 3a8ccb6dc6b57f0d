//! VMware Private AI Services control API (seed 002): `/api/v1/control/mcp-servers`.
//! FastAPI-style 422 `detail` lists, 404/409 without body, `null` resets a field,
//! Unix-second times, `headers` write-only, `availability` PENDING -> AVAILABLE.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::Json;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::admin::{AdminError, AvailabilityBody};
use super::auth::{Caller, header};
use super::common::{json, new_uuid, query_map};
use super::registry::{SimRegistry, record_mut};
use super::seed::Credential;
use super::state::Sim;

/// The PAIS dialect, under `/pais`.
pub struct Pais;

impl SimRegistry for Pais {
    const PREFIX: &'static str = "pais";
    type Record = Record;

    fn id(record: &Record) -> &str {
        &record.id
    }

    fn router() -> Router<Arc<Sim>> {
        router()
    }

    /// `Authorization: Bearer <token>`.
    fn authenticate(headers: &HeaderMap, accepted: &[Credential]) -> Result<Caller, &'static str> {
        let value = header(headers, "authorization").ok_or("Not authenticated")?;
        let token = value
            .split_once(' ')
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, t)| t.trim())
            .filter(|t| !t.is_empty())
            .ok_or("Not authenticated")?;
        if !accepted.is_empty() && !accepted.iter().any(|c| c.token.as_deref() == Some(token)) {
            return Err("Invalid authentication credentials");
        }
        Ok(Caller::anonymous())
    }

    fn error(status: StatusCode, detail: &str) -> Response {
        error(status, detail)
    }

    /// `status` is `availability`: `AVAILABLE`, `UNAVAILABLE` or `PENDING`.
    fn set_availability(sim: &Sim, id: &str, body: AvailabilityBody) -> Result<(), AdminError> {
        if !["AVAILABLE", "UNAVAILABLE", "PENDING"].contains(&body.status.as_str()) {
            return Err(AdminError::BadRequest(
                "PAIS availability is AVAILABLE, UNAVAILABLE or PENDING".into(),
            ));
        }
        let mut table = sim.table::<Pais>().lock();
        let record = record_mut::<Pais>(&mut table, id)?;
        set_status(record, &body.status);
        Ok(())
    }

    /// `PUT /_sim/records/pais/{id}/linked`: while linked, DELETE answers 409.
    fn admin_router() -> Router<Arc<Sim>> {
        Router::new().route("/{id}/linked", put(linked))
    }
}

#[derive(Deserialize)]
struct LinkedBody {
    linked: bool,
}

async fn linked(
    State(sim): State<Arc<Sim>>,
    Path(id): Path<String>,
    Json(body): Json<LinkedBody>,
) -> Result<StatusCode, AdminError> {
    let mut table = sim.table::<Pais>().lock();
    record_mut::<Pais>(&mut table, &id)?.linked_to_agent = body.linked;
    Ok(StatusCode::NO_CONTENT)
}

const FIELDS: [&str; 6] = [
    "name",
    "description",
    "documentation_url",
    "headers",
    "url",
    "transport",
];
const TRANSPORTS: [&str; 2] = ["STREAMABLE_HTTP", "SSE"];
const MAX_LIMIT: usize = 100;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    pub name: String,
    pub value: String,
    #[serde(default)]
    pub is_secret: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    #[serde(default = "new_uuid")]
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub documentation_url: Option<String>,
    pub url: String,
    #[serde(default = "default_transport")]
    pub transport: String,
    /// Write-only: stored, never rendered.
    #[serde(default)]
    pub headers: Vec<Header>,
    #[serde(default = "available")]
    pub availability: String,
    #[serde(default)]
    pub last_available_at: Option<Timestamp>,
    #[serde(default = "Timestamp::now")]
    pub created_at: Timestamp,
    #[serde(default = "Timestamp::now")]
    pub last_updated_at: Timestamp,
    /// Its tools are linked to an agent: delete answers 409.
    #[serde(default)]
    pub linked_to_agent: bool,
    #[serde(skip)]
    pub pending_until: Option<Timestamp>,
}

fn default_transport() -> String {
    "STREAMABLE_HTTP".into()
}
fn available() -> String {
    "AVAILABLE".into()
}

pub fn router() -> Router<Arc<Sim>> {
    Router::new()
        .route("/api/v1/control/mcp-servers", get(list).post(create))
        .route("/api/v1/control/mcp-servers/", get(list).post(create))
        .route(
            "/api/v1/control/mcp-servers/{id}",
            get(fetch).patch(update).delete(remove),
        )
        .fallback(|| async { error(StatusCode::NOT_FOUND, "Not Found") })
}

/// 404 and 409 carry no body (as documented); other statuses the FastAPI default
/// `{"detail": "..."}` (assumed).
pub fn error(status: StatusCode, detail: &str) -> Response {
    match status {
        StatusCode::NOT_FOUND | StatusCode::CONFLICT => status.into_response(),
        _ => json(status, json!({ "detail": detail })),
    }
}

/// One entry of a 422 `detail` list.
struct Problem {
    loc: Vec<Value>,
    msg: String,
    kind: &'static str,
}

fn problem(loc: &[Value], msg: impl Into<String>, kind: &'static str) -> Problem {
    Problem {
        loc: loc.to_vec(),
        msg: msg.into(),
        kind,
    }
}

fn unprocessable(problems: Vec<Problem>) -> Response {
    let detail: Vec<Value> = problems
        .into_iter()
        .map(|p| json!({ "loc": p.loc, "msg": p.msg, "type": p.kind }))
        .collect();
    json(
        StatusCode::UNPROCESSABLE_ENTITY,
        json!({ "detail": detail }),
    )
}

fn render(r: &Record) -> Value {
    json!({
        "name": r.name,
        "description": r.description,
        "documentation_url": r.documentation_url,
        "url": r.url,
        "transport": r.transport,
        "id": r.id,
        "object": "mcp_server",
        "created_at": r.created_at.as_second(),
        "availability": r.availability,
        "last_available_at": r.last_available_at.map(|t| t.as_second()),
        "last_updated_at": r.last_updated_at.as_second(),
    })
}

fn settle(r: &mut Record, now: Timestamp) {
    if let Some(due) = r.pending_until.filter(|due| *due <= now) {
        r.pending_until = None;
        r.availability = "AVAILABLE".into();
        r.last_available_at = Some(due);
    }
}

fn start_pending(r: &mut Record, sim: &Sim, now: Timestamp) {
    r.availability = "PENDING".into();
    r.pending_until = now.checked_add(sim.availability_delay).ok();
}

/// Admin override of availability; stops the automatic transition.
pub fn set_status(r: &mut Record, availability: &str) {
    r.pending_until = None;
    r.availability = availability.into();
    if availability == "AVAILABLE" {
        r.last_available_at = Some(Timestamp::now());
    }
}

/// The value a PATCH or POST sets: `Reset` is an explicit `null`.
enum Set<T> {
    Keep,
    Reset,
    To(T),
}

/// A validated body.
struct Changes {
    name: Set<String>,
    description: Set<String>,
    documentation_url: Set<String>,
    headers: Set<Vec<Header>>,
    url: Set<String>,
    transport: Set<String>,
}

fn text(body: &Map<String, Value>, field: &str, problems: &mut Vec<Problem>) -> Set<String> {
    match body.get(field) {
        None => Set::Keep,
        Some(Value::Null) => Set::Reset,
        Some(Value::String(s)) => Set::To(s.clone()),
        Some(_) => {
            problems.push(problem(
                &[json!("body"), json!(field)],
                "Input should be a valid string",
                "string_type",
            ));
            Set::Keep
        }
    }
}

fn url_field(body: &Map<String, Value>, problems: &mut Vec<Problem>) -> Set<String> {
    let loc = [json!("body"), json!("url")];
    match text(body, "url", problems) {
        Set::To(u) if u.is_empty() => {
            problems.push(problem(
                &loc,
                "String should have at least 1 character",
                "string_too_short",
            ));
            Set::Keep
        }
        Set::To(u) if url::Url::parse(&u).is_err() => {
            problems.push(problem(
                &loc,
                "Input should be a valid URL, relative URL without a base",
                "url_parsing",
            ));
            Set::Keep
        }
        Set::Reset => {
            problems.push(problem(
                &loc,
                "Input should be a valid URL; url cannot be reset",
                "url_type",
            ));
            Set::Keep
        }
        other => other,
    }
}

fn transport_field(body: &Map<String, Value>, problems: &mut Vec<Problem>) -> Set<String> {
    match text(body, "transport", problems) {
        Set::To(t) if TRANSPORTS.contains(&t.as_str()) => Set::To(t),
        Set::Keep => Set::Keep,
        _ => {
            problems.push(problem(
                &[json!("body"), json!("transport")],
                "Input should be 'STREAMABLE_HTTP' or 'SSE'",
                "enum",
            ));
            Set::Keep
        }
    }
}

fn header_list(body: &Map<String, Value>, problems: &mut Vec<Problem>) -> Set<Vec<Header>> {
    let items = match body.get("headers") {
        None => return Set::Keep,
        Some(Value::Null) => return Set::Reset,
        Some(Value::Array(items)) => items,
        Some(_) => {
            problems.push(problem(
                &[json!("body"), json!("headers")],
                "Input should be a valid list",
                "list_type",
            ));
            return Set::Keep;
        }
    };
    let before = problems.len();
    let headers: Vec<Header> = items
        .iter()
        .enumerate()
        .filter_map(|(i, item)| one_header(i, item, problems))
        .collect();
    if problems.len() > before {
        Set::Keep
    } else {
        Set::To(headers)
    }
}

fn one_header(index: usize, item: &Value, problems: &mut Vec<Problem>) -> Option<Header> {
    let loc = |field: &str| vec![json!("body"), json!("headers"), json!(index), json!(field)];
    let mut text = |field: &str| match item.get(field) {
        Some(Value::String(s)) => Some(s.clone()),
        None => {
            problems.push(problem(&loc(field), "Field required", "missing"));
            None
        }
        Some(_) => {
            problems.push(problem(
                &loc(field),
                "Input should be a valid string",
                "string_type",
            ));
            None
        }
    };
    let (name, value) = (text("name"), text("value"));
    let is_secret = match item.get("is_secret") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            problems.push(problem(
                &loc("is_secret"),
                "Input should be a valid boolean",
                "bool_type",
            ));
            false
        }
    };
    Some(Header {
        name: name?,
        value: value?,
        is_secret,
    })
}

impl Changes {
    fn parse(body: &[u8]) -> Result<Changes, Response> {
        let body = match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(map)) => map,
            _ => {
                return Err(unprocessable(vec![problem(
                    &[json!("body")],
                    "Input should be a valid dictionary or object to extract fields from",
                    "model_attributes_type",
                )]));
            }
        };
        let mut problems: Vec<Problem> = body
            .keys()
            .filter(|k| !FIELDS.contains(&k.as_str()))
            .map(|k| {
                problem(
                    &[json!("body"), json!(k)],
                    "Extra inputs are not permitted",
                    "extra_forbidden",
                )
            })
            .collect();
        let changes = Changes {
            name: text(&body, "name", &mut problems),
            description: text(&body, "description", &mut problems),
            documentation_url: text(&body, "documentation_url", &mut problems),
            headers: header_list(&body, &mut problems),
            url: url_field(&body, &mut problems),
            transport: transport_field(&body, &mut problems),
        };
        if problems.is_empty() {
            Ok(changes)
        } else {
            Err(unprocessable(problems))
        }
    }

    fn apply(self, r: &mut Record, sim: &Sim, now: Timestamp) {
        fn put<T>(slot: &mut Option<T>, set: Set<T>) {
            match set {
                Set::Keep => {}
                Set::Reset => *slot = None,
                Set::To(v) => *slot = Some(v),
            }
        }
        put(&mut r.name, self.name);
        put(&mut r.description, self.description);
        put(&mut r.documentation_url, self.documentation_url);
        match self.headers {
            Set::Keep => {}
            Set::Reset => r.headers.clear(),
            Set::To(h) => r.headers = h,
        }
        if let Set::To(url) = self.url {
            if url != r.url {
                start_pending(r, sim, now);
            }
            r.url = url;
        }
        if let Set::To(t) = self.transport {
            r.transport = t;
        }
        r.last_updated_at = now;
    }
}

async fn create(State(sim): State<Arc<Sim>>, body: Bytes) -> Response {
    let changes = match Changes::parse(&body) {
        Ok(changes) => changes,
        Err(response) => return response,
    };
    let missing: Vec<Problem> = [("url", &changes.url), ("transport", &changes.transport)]
        .into_iter()
        .filter(|(_, set)| !matches!(set, Set::To(_)))
        .map(|(field, _)| problem(&[json!("body"), json!(field)], "Field required", "missing"))
        .collect();
    if !missing.is_empty() {
        return unprocessable(missing);
    }
    let now = Timestamp::now();
    let mut record = Record {
        id: new_uuid(),
        name: None,
        description: None,
        documentation_url: None,
        url: String::new(),
        transport: String::new(),
        headers: Vec::new(),
        availability: String::new(),
        last_available_at: None,
        created_at: now,
        last_updated_at: now,
        linked_to_agent: false,
        pending_until: None,
    };
    changes.apply(&mut record, &sim, now);
    start_pending(&mut record, &sim, now);
    let rendered = render(&record);
    sim.table::<Pais>().lock().insert(record.id.clone(), record);
    json(StatusCode::CREATED, rendered)
}

async fn list(State(sim): State<Arc<Sim>>, RawQuery(query): RawQuery) -> Response {
    let query = query_map(query.as_deref());
    let limit = match query.get("limit").map(|l| l.parse::<usize>()) {
        None => MAX_LIMIT,
        Some(Ok(l)) if (1..=MAX_LIMIT).contains(&l) => l,
        Some(_) => {
            return unprocessable(vec![problem(
                &[json!("query"), json!("limit")],
                "Input should be an integer between 1 and 100",
                "less_than_equal",
            )]);
        }
    };
    let now = Timestamp::now();
    let mut table = sim.table::<Pais>().lock();
    let start = match query.get("after") {
        None => 0,
        Some(after) => table.get_index_of(after).map_or(table.len(), |i| i + 1),
    };
    let total = table.len();
    let data: Vec<Value> = table
        .values_mut()
        .skip(start)
        .take(limit)
        .map(|r| {
            settle(r, now);
            render(r)
        })
        .collect();
    let id_at = |i: usize| {
        data.get(i)
            .and_then(|r| r.get("id"))
            .cloned()
            .unwrap_or(Value::Null)
    };
    json(
        StatusCode::OK,
        json!({
            "object": "list",
            "has_more": start + data.len() < total,
            "first_id": id_at(0),
            "last_id": id_at(data.len().saturating_sub(1)),
            "data": data,
        }),
    )
}

async fn fetch(State(sim): State<Arc<Sim>>, Path(id): Path<String>) -> Response {
    let mut table = sim.table::<Pais>().lock();
    match table.get_mut(&id) {
        Some(r) => {
            settle(r, Timestamp::now());
            json(StatusCode::OK, render(r))
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn update(State(sim): State<Arc<Sim>>, Path(id): Path<String>, body: Bytes) -> Response {
    let changes = match Changes::parse(&body) {
        Ok(changes) => changes,
        Err(response) => return response,
    };
    let now = Timestamp::now();
    let mut table = sim.table::<Pais>().lock();
    let Some(record) = table.get_mut(&id) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    settle(record, now);
    changes.apply(record, &sim, now);
    json(StatusCode::OK, render(record))
}

async fn remove(State(sim): State<Arc<Sim>>, Path(id): Path<String>) -> Response {
    let mut table = sim.table::<Pais>().lock();
    match table.get(&id) {
        None => StatusCode::NOT_FOUND.into_response(),
        Some(r) if r.linked_to_agent => StatusCode::CONFLICT.into_response(),
        Some(_) => {
            table.shift_remove(&id);
            json(
                StatusCode::OK,
                json!({ "id": id, "object": "mcp_server", "deleted": true }),
            )
        }
    }
}
