//! The `/_sim/` admin API: request log, counters, reset, faults and the simulator-only
//! state (availability; vendor-only endpoints such as PAIS agent links come from the
//! registry's own file, `SimRegistry::admin_router`). Not logged, not authenticated: it is the
//! test's side channel, and the simulator listens on loopback by default.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::common::json;
use super::faults::{NextFault, RateLimit};
use super::kind::Provider;
use super::log::{LogFilter, mask_secrets};
use super::state::Sim;

/// The generic endpoints, plus each registry's own under `/_sim/records/{prefix}`.
pub fn router() -> Router<Arc<Sim>> {
    let generic = Router::new()
        .route("/_sim/requests", get(requests).delete(clear_requests))
        .route("/_sim/counters", get(counters))
        .route("/_sim/reset", post(reset))
        .route("/_sim/faults", get(faults).delete(clear_faults))
        .route("/_sim/faults/next", post(next))
        .route("/_sim/faults/drop", post(drop_next))
        .route("/_sim/faults/latency", put(latency))
        .route("/_sim/faults/rate-limit", put(rate_limit))
        .route(
            "/_sim/faults/rate-limit/{provider}",
            delete(clear_rate_limit),
        )
        .route("/_sim/availability/{provider}/{id}", put(availability))
        .route("/_sim/records/{provider}", get(records));
    Provider::ALL.into_iter().fold(generic, |app, provider| {
        app.nest(
            &format!("/_sim/records/{provider}"),
            provider.registry().admin_router(),
        )
    })
}

/// Why an admin call was refused.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("{0}")]
    BadRequest(String),
    #[error("no {provider} record with id {id}")]
    NotFound { provider: Provider, id: String },
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        let status = match self {
            AdminError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AdminError::NotFound { .. } => StatusCode::NOT_FOUND,
        };
        json(status, json!({ "error": self.to_string() }))
    }
}

fn provider(name: &str) -> Result<Provider, AdminError> {
    name.parse()
        .map_err(|e: anyhow::Error| AdminError::BadRequest(e.to_string()))
}

/// `x-sim-evicted` says how many older entries the log's bound dropped (0: exact).
async fn requests(State(sim): State<Arc<Sim>>, Query(filter): Query<LogFilter>) -> Response {
    let mut response = json(StatusCode::OK, json!(sim.log.query(&filter)));
    response.headers_mut().insert(
        axum::http::HeaderName::from_static("x-sim-evicted"),
        axum::http::HeaderValue::from(sim.log.evicted()),
    );
    response
}

async fn clear_requests(State(sim): State<Arc<Sim>>) -> StatusCode {
    sim.log.clear_entries();
    StatusCode::NO_CONTENT
}

async fn counters(State(sim): State<Arc<Sim>>) -> Response {
    json(StatusCode::OK, json!(sim.log.counters()))
}

async fn reset(State(sim): State<Arc<Sim>>) -> StatusCode {
    sim.reset();
    StatusCode::NO_CONTENT
}

async fn faults(State(sim): State<Arc<Sim>>) -> Response {
    json(StatusCode::OK, json!(sim.faults.snapshot()))
}

async fn clear_faults(State(sim): State<Arc<Sim>>) -> StatusCode {
    sim.faults.clear();
    StatusCode::NO_CONTENT
}

async fn next(
    State(sim): State<Arc<Sim>>,
    Json(fault): Json<NextFault>,
) -> Result<StatusCode, AdminError> {
    if !fault.drop && !(100..=599).contains(&fault.status) {
        return Err(AdminError::BadRequest(format!(
            "status {} is not an HTTP status (use /_sim/faults/drop to drop connections)",
            fault.status
        )));
    }
    sim.faults.push_next(fault);
    Ok(StatusCode::NO_CONTENT)
}

/// `{"count", "provider"?, "after"?}`; `after`: drop only once the provider has handled
/// the request (see [`NextFault::after`]).
#[derive(Deserialize)]
struct DropBody {
    #[serde(default)]
    provider: Option<Provider>,
    #[serde(default = "one")]
    count: u32,
    #[serde(default)]
    after: bool,
}

fn one() -> u32 {
    1
}

async fn drop_next(State(sim): State<Arc<Sim>>, Json(body): Json<DropBody>) -> StatusCode {
    sim.faults.push_next(NextFault {
        provider: body.provider,
        status: 0,
        retry_after: None,
        count: body.count,
        drop: true,
        after: body.after,
    });
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
struct LatencyBody {
    ms: u64,
    #[serde(default)]
    provider: Option<Provider>,
}

async fn latency(State(sim): State<Arc<Sim>>, Json(body): Json<LatencyBody>) -> StatusCode {
    sim.faults
        .set_latency(body.provider, Duration::from_millis(body.ms));
    StatusCode::NO_CONTENT
}

async fn rate_limit(State(sim): State<Arc<Sim>>, Json(limit): Json<RateLimit>) -> StatusCode {
    sim.faults.set_rate_limit(limit);
    StatusCode::NO_CONTENT
}

async fn clear_rate_limit(
    State(sim): State<Arc<Sim>>,
    Path(name): Path<String>,
) -> Result<StatusCode, AdminError> {
    sim.faults.clear_rate_limit(provider(&name)?);
    Ok(StatusCode::NO_CONTENT)
}

/// `status`: Aitronos `connectionStatus` (`connected`, `error`, ...) or PAIS
/// `availability` (`AVAILABLE`, `UNAVAILABLE`, `PENDING`); `message` is Aitronos'
/// `errorMessage`.
#[derive(Clone, Debug, Deserialize)]
pub struct AvailabilityBody {
    pub status: String,
    #[serde(default)]
    pub message: Option<String>,
}

async fn availability(
    State(sim): State<Arc<Sim>>,
    Path((name, id)): Path<(String, String)>,
    Json(body): Json<AvailabilityBody>,
) -> Result<StatusCode, AdminError> {
    set_availability(&sim, provider(&name)?, &id, body)?;
    Ok(StatusCode::NO_CONTENT)
}

pub fn set_availability(
    sim: &Sim,
    provider: Provider,
    id: &str,
    body: AvailabilityBody,
) -> Result<(), AdminError> {
    provider.registry().set_availability(sim, id, body)
}

/// Stored records, write-only fields included but masked: shows that a secret was
/// stored without showing it.
async fn records(
    State(sim): State<Arc<Sim>>,
    Path(name): Path<String>,
) -> Result<Response, AdminError> {
    let mut all = stored_records(&sim, provider(&name)?);
    all.iter_mut().for_each(mask_secrets);
    Ok(json(StatusCode::OK, Value::Array(all)))
}

/// Every stored record of a provider as the simulator holds it (secrets in clear).
pub fn stored_records(sim: &Sim, provider: Provider) -> Vec<Value> {
    provider.registry().stored_records(sim)
}
