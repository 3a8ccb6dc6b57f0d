//! The layer in front of every provider router: faults, auth and the request log.
//! It runs before the vendor's handler so a faulted or unauthenticated request never
//! touches a record, and after it so the log holds the status actually answered. The
//! one exception is an `after` fault: the request goes through auth and the handler as
//! usual, and only then is the answer replaced by the fault (or the connection dropped).

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;

use super::faults::{RateInfo, Verdict};
use super::kind::Provider;
use super::log::{DROPPED, LoggedRequest, masked_body};
use super::server::ConnectionKill;
use super::state::Sim;

/// Larger than any registration body; refuses runaway uploads.
const MAX_BODY: usize = 1 << 20;

#[derive(Clone)]
pub struct Gate {
    pub sim: Arc<Sim>,
    pub provider: Provider,
}

pub async fn gate(State(gate): State<Gate>, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(bytes) => bytes,
        Err(_) => {
            return gate
                .provider
                .error(StatusCode::PAYLOAD_TOO_LARGE, "Request body too large");
        }
    };
    let mut entry = LoggedRequest {
        provider: gate.provider.as_str().into(),
        method: parts.method.to_string(),
        path: parts.uri.path().to_string(),
        query: parts.uri.query().map(str::to_owned),
        status: DROPPED,
        body: masked_body(&bytes),
    };
    let (latency, verdict) = gate.sim.faults.decide(gate.provider);
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let response = match verdict {
        Verdict::Drop => {
            gate.sim.log.record(entry);
            return drop_connection(parts.extensions.get::<ConnectionKill>()).await;
        }
        Verdict::Answer {
            status,
            retry_after,
            rate,
        } => fault_response(gate.provider, status, retry_after, rate),
        Verdict::Pass(rate) => {
            let mut response = pass(&gate, parts, bytes, next).await;
            add_rate_headers(&mut response, rate);
            response
        }
        Verdict::AnswerAfter {
            status,
            retry_after,
        } => {
            // The provider's answer is discarded: the client sees only the fault.
            let _ = pass(&gate, parts, bytes, next).await;
            tokio::time::sleep(gate.sim.faults.after_hold()).await;
            fault_response(gate.provider, status, retry_after, None)
        }
        Verdict::DropAfter => {
            let kill = parts.extensions.get::<ConnectionKill>().cloned();
            let _ = pass(&gate, parts, bytes, next).await;
            tokio::time::sleep(gate.sim.faults.after_hold()).await;
            gate.sim.log.record(entry);
            return drop_connection(kill.as_ref()).await;
        }
    };
    entry.status = response.status().as_u16();
    gate.sim.log.record(entry);
    response
}

/// Authenticates the caller and runs the provider's handler: the ordinary path of a
/// request, whose answer the caller may still replace (`after` faults).
async fn pass(gate: &Gate, mut parts: Parts, bytes: Bytes, next: Next) -> Response {
    match gate
        .provider
        .registry()
        .authenticate(&parts.headers, gate.sim.seed())
    {
        Ok(caller) => {
            parts.extensions.insert(caller);
            let request = Request::from_parts(parts, Body::from(bytes));
            next.run(request).await
        }
        Err(reason) => gate.provider.error(StatusCode::UNAUTHORIZED, reason),
    }
}

/// Closes the TCP connection without a byte of answer: the server's connection task
/// watches this token and drops the connection when it fires. The pending future is
/// dropped along with the connection, so nothing is ever written.
async fn drop_connection(kill: Option<&ConnectionKill>) -> Response {
    match kill {
        Some(kill) => {
            kill.0.cancel();
            std::future::pending::<()>().await;
            Response::default()
        }
        // Only reachable when the router is driven without the simulator's server.
        None => {
            tokio::time::sleep(Duration::from_millis(1)).await;
            let mut response = Response::default();
            *response.status_mut() = StatusCode::BAD_GATEWAY;
            response
        }
    }
}

fn fault_response(
    provider: Provider,
    status: u16,
    retry_after: Option<u64>,
    rate: Option<RateInfo>,
) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let reason = status.canonical_reason().unwrap_or("Injected fault");
    let mut response = provider.error(status, reason);
    if let Some(secs) = retry_after {
        response
            .headers_mut()
            .insert(axum::http::header::RETRY_AFTER, HeaderValue::from(secs));
    }
    add_rate_headers(&mut response, rate);
    response
}

fn add_rate_headers(response: &mut Response, rate: Option<RateInfo>) {
    let Some(rate) = rate else { return };
    let headers = response.headers_mut();
    let pairs = [
        ("x-ratelimit-limit", u64::from(rate.limit)),
        ("x-ratelimit-remaining", u64::from(rate.remaining)),
        ("x-ratelimit-reset", rate.reset_secs),
    ];
    for (name, value) in pairs {
        headers.insert(HeaderName::from_static(name), HeaderValue::from(value));
    }
}
