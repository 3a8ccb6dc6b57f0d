//! The registry simulator: one axum server speaking the four registries' APIs, for
//! tests, demos and sandboxes. It is a second, independent reading of the vendors'
//! documents and deliberately shares no mapping code with `crate::provider`, so that a
//! misreading in one is caught by the other instead of being hidden by shared code.
//!
//! Layout: each simulated registry is one file implementing
//! [`registry::SimRegistry`] ([`aitronos`], [`composio`], [`pais`], [`zudu`]) and one
//! line in the `sim_registries!` list below; [`state`] holds the tables, [`gate`] runs
//! faults, auth and the log in front of each registry's router, [`admin`] is the
//! `/_sim/` side channel, [`server`] the accept loop that can drop connections.

// Validation returns the vendor's ready-made error response as `Err`: it is built at
// most once per request, so boxing it would only add noise.
#![allow(clippy::result_large_err)]

pub mod admin;
pub mod auth;
pub mod cli;
mod common;
pub mod faults;
mod gate;
pub mod kind;
pub mod log;
#[macro_use]
pub mod registry;
pub mod seed;
mod server;
pub mod state;

// The simulated registries: one line per file (`module { Variant: Type, ... }`), one
// entry per dialect. Adding a registry is its file plus its line here, at the end: the
// list's order is `Provider::ALL`'s and `Provider`'s `Ord` (docs/simulator.md, "Adding
// a registry").
sim_registries! {
    aitronos { Aitronos: Aitronos },
    composio { Composio: Composio },
    pais { Pais: Pais },
    zudu {
        /// Seed 003: `{"config": {...}}` bodies, `server_url`/`server_name` answers.
        Zudu: Wrapped,
        /// Seed 004: flat bodies, `url`/`name` answers, extra enum values.
        ZuduFlat: Flat,
    },
}

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use cli::SimArgs;
pub use faults::{NextFault, RateLimit};
pub use log::{Counters, LogFilter, LoggedRequest};

use admin::AvailabilityBody;
use gate::Gate;
use state::{InitialFaults, Sim};

/// How to start the simulator.
#[derive(Clone, Debug)]
pub struct SimConfig {
    pub listen: SocketAddr,
    /// YAML file of credentials and records per provider (see `docs/simulator.md`).
    pub seed: Option<PathBuf>,
    /// Added to every provider request.
    pub latency: Duration,
    pub rate_limits: Vec<RateLimit>,
    /// Faults queued at start (e.g. the first request answered 503).
    pub fail_next: Vec<NextFault>,
    /// How long new Aitronos/PAIS records stay pending before they connect.
    pub availability_delay: Duration,
    /// Most requests kept in the log; older ones are evicted.
    pub log_capacity: usize,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            seed: None,
            latency: Duration::ZERO,
            rate_limits: Vec::new(),
            fail_next: Vec::new(),
            availability_delay: Duration::from_secs(1),
            log_capacity: 1_000_000,
        }
    }
}

/// A running simulator. Dropping it leaves the server running until the runtime
/// ends; call [`SimHandle::shutdown`] to stop it.
pub struct SimHandle {
    addr: SocketAddr,
    sim: Arc<Sim>,
    stop: CancellationToken,
    task: JoinHandle<()>,
}

/// Binds, spawns the server and returns at once.
pub async fn start(config: SimConfig) -> anyhow::Result<SimHandle> {
    let seed = match &config.seed {
        Some(path) => Seed::load(path)?,
        None => Seed::default(),
    };
    let initial = InitialFaults {
        latency: config.latency,
        rate_limits: config.rate_limits.clone(),
        next: config.fail_next.clone(),
    };
    let sim = Arc::new(Sim::new(
        seed,
        initial,
        config.availability_delay,
        config.log_capacity,
    ));
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("binding the simulator to {}", config.listen))?;
    let addr = listener.local_addr()?;
    let stop = CancellationToken::new();
    let task = tokio::spawn(server::run(listener, app(sim.clone()), stop.clone()));
    Ok(SimHandle {
        addr,
        sim,
        stop,
        task,
    })
}

/// Starts the simulator and runs it until Ctrl-C.
pub async fn serve(config: SimConfig) -> anyhow::Result<()> {
    let handle = start(config).await?;
    tracing::info!(addr = %handle.addr(), "registry simulator listening");
    for provider in Provider::ALL {
        println!(
            "{:<10} {}",
            provider.as_str(),
            handle.base_url(provider.as_str())
        );
    }
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    handle.shutdown().await;
    Ok(())
}

/// All provider routers under their prefixes, each behind the gate, plus `/_sim/`.
fn app(sim: Arc<Sim>) -> Router {
    let mut app = admin::router();
    for provider in Provider::ALL {
        let routes = provider.registry().router();
        let gate = Gate {
            sim: sim.clone(),
            provider,
        };
        let routes = routes.layer(axum::middleware::from_fn_with_state(gate, gate::gate));
        app = app.nest(&format!("/{}", provider.as_str()), routes);
    }
    app.with_state(sim)
}

impl std::fmt::Debug for SimHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimHandle")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl SimHandle {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A registry `baseUrl`: `prefix` is `composio` or `/composio`.
    pub fn base_url(&self, prefix: &str) -> String {
        format!("http://{}/{}", self.addr, prefix.trim_start_matches('/'))
    }

    /// Every logged request (secrets masked), oldest first.
    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.sim.log.query(&LogFilter::default())
    }

    pub fn requests_matching(&self, filter: &LogFilter) -> Vec<LoggedRequest> {
        self.sim.log.query(filter)
    }

    /// Empties the request log; counters keep counting.
    pub fn clear_log(&self) {
        self.sim.log.clear_entries();
    }

    pub fn counters(&self) -> Counters {
        self.sim.log.counters()
    }

    /// Seeded records, command-line faults, empty log and counters.
    pub fn reset(&self) {
        self.sim.reset();
    }

    /// Faults to inject or clear at run time.
    pub fn faults(&self) -> &faults::Faults {
        &self.sim.faults
    }

    /// Sets Aitronos `connectionStatus` (+ `errorMessage`) or PAIS `availability`.
    pub fn set_availability(
        &self,
        provider: Provider,
        id: &str,
        status: &str,
        message: Option<&str>,
    ) -> anyhow::Result<()> {
        let body = AvailabilityBody {
            status: status.to_string(),
            message: message.map(str::to_owned),
        };
        Ok(admin::set_availability(&self.sim, provider, id, body)?)
    }

    /// A stored record with its write-only fields in clear, for asserting what the
    /// operator sent; never exposed over HTTP.
    pub fn stored_record(&self, provider: Provider, id: &str) -> Option<Value> {
        admin::stored_records(&self.sim, provider)
            .into_iter()
            .find(|r| r.get("id").and_then(Value::as_str) == Some(id))
    }

    /// Every stored record of a provider, write-only fields in clear; never exposed over
    /// HTTP.
    pub fn stored_records(&self, provider: Provider) -> Vec<Value> {
        admin::stored_records(&self.sim, provider)
    }

    /// Stops accepting, closes every connection and waits for the accept loop.
    pub async fn shutdown(self) {
        self.stop.cancel();
        if let Err(e) = self.task.await {
            tracing::warn!(error = %e, "simulator task ended abnormally");
        }
    }
}
