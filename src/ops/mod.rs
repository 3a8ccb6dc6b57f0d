//! Running the operator in production: metrics, health probes, leader election, graceful
//! shutdown.

pub mod leader;
pub mod metrics;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use tokio_util::sync::CancellationToken;

use crate::controller;
use leader::Leadership;

/// How long in-flight reconciles may take to finish after SIGTERM.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(25);

/// What `/readyz` reports.
#[derive(Debug, Default)]
pub struct Health {
    /// The leader's caches have their first listing and its controllers run.
    pub caches_synced: Arc<AtomicBool>,
    /// Waiting as a healthy standby in the leader election.
    pub standby: AtomicBool,
}

impl Health {
    pub fn ready(&self) -> bool {
        self.caches_synced.load(Ordering::Relaxed) || self.standby.load(Ordering::Relaxed)
    }
}

/// Leader election settings.
#[derive(Clone, Debug)]
pub struct LeaderOptions {
    pub namespace: String,
    pub lease: String,
    pub identity: String,
}

/// `mcpsync run` with its endpoints.
#[derive(Clone, Debug)]
pub struct OperatorOptions {
    pub controller: controller::Options,
    pub metrics_addr: Option<SocketAddr>,
    pub probe_addr: Option<SocketAddr>,
    pub leader: Option<LeaderOptions>,
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(health): State<Arc<Health>>) -> impl IntoResponse {
    if health.ready() {
        (StatusCode::OK, "ok")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "caches not synced")
    }
}

async fn metrics_text() -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        metrics::metrics().encode(),
    )
}

async fn serve(addr: SocketAddr, app: Router, shutdown: CancellationToken) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;
    let addr = listener.local_addr().unwrap_or(addr);
    tracing::info!(%addr, "listening");
    tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown.cancelled_owned())
            .await;
        if let Err(e) = served {
            tracing::warn!(error = %e, "endpoint server stopped");
        }
    });
    Ok(())
}

/// Runs the operator until `shutdown`: endpoints, the election (when configured), then
/// the controllers while leading. Losing the Lease is an error (the pod restarts and
/// campaigns again).
pub async fn run(
    client: kube::Client,
    opts: OperatorOptions,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let health = Arc::new(Health::default());
    let endpoints = shutdown.child_token();
    if let Some(addr) = opts.probe_addr {
        let app = Router::new()
            .route("/healthz", get(healthz))
            .route("/readyz", get(readyz))
            .with_state(health.clone());
        serve(addr, app, endpoints.clone()).await?;
    }
    if let Some(addr) = opts.metrics_addr {
        let app = Router::new().route("/metrics", get(metrics_text));
        serve(addr, app, endpoints.clone()).await?;
    }
    let mut controller_opts = opts.controller.clone();
    controller_opts.ready = Some(health.caches_synced.clone());
    let Some(leader) = opts.leader else {
        return bounded(
            controller::run(client, controller_opts, shutdown.clone()),
            &shutdown,
        )
        .await;
    };
    health.standby.store(true, Ordering::Relaxed);
    let mut election = Leadership::campaign(
        client.clone(),
        &leader.namespace,
        &leader.lease,
        &leader.identity,
    )
    .await?;
    tracing::info!(lease = %leader.lease, identity = %leader.identity, "waiting to lead");
    loop {
        if *election.leading.borrow_and_update() {
            break;
        }
        tokio::select! {
            changed = election.leading.changed() => {
                if changed.is_err() {
                    anyhow::bail!("the leader election stopped");
                }
            }
            () = shutdown.cancelled() => {
                election.resign().await;
                return Ok(());
            }
        }
    }
    health.standby.store(false, Ordering::Relaxed);
    tracing::info!("leading: starting the controllers");
    let running = shutdown.child_token();
    let mut leading = election.leading.clone();
    let lost = running.clone();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = lost.cancelled() => return,
                changed = leading.changed() => {
                    if changed.is_err() || !*leading.borrow() {
                        tracing::error!("lost the leader Lease: stopping");
                        lost.cancel();
                        return;
                    }
                }
            }
        }
    });
    let result = bounded(
        controller::run(client, controller_opts, running.clone()),
        &running,
    )
    .await;
    let lost_lease = running.is_cancelled() && !shutdown.is_cancelled();
    running.cancel();
    election.resign().await;
    if lost_lease {
        anyhow::bail!("lost the leader Lease");
    }
    result
}

/// Waits for `run`, but no longer than [`SHUTDOWN_GRACE`] after `stop`.
async fn bounded(
    run: impl Future<Output = anyhow::Result<()>>,
    stop: &CancellationToken,
) -> anyhow::Result<()> {
    let deadline = async {
        stop.cancelled().await;
        tokio::time::sleep(SHUTDOWN_GRACE).await;
    };
    tokio::select! {
        result = run => result,
        () = deadline => {
            tracing::warn!("in-flight reconciles did not finish within {SHUTDOWN_GRACE:?}; exiting");
            Ok(())
        }
    }
}
