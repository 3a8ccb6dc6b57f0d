//! Prometheus metrics, with the names teams already alert on (controller-runtime's) and
//! mcpsync's own. One process-wide registry: the HTTP client and the controllers record
//! into it, `/metrics` encodes it.

use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::Duration;

use parking_lot::Mutex;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ControllerLabels {
    pub controller: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabels {
    pub controller: String,
    pub result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    pub controller: String,
    pub error: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CallLabels {
    pub provider: String,
    pub operation: String,
    pub code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OperationLabels {
    pub provider: String,
    pub operation: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ProviderLabels {
    pub provider: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ServerLabels {
    pub ready: String,
    pub reason: String,
    pub availability: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RegistryLabels {
    pub registry: String,
}

fn histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.005, 2.0, 14))
}

/// Every metric of the process.
pub struct Metrics {
    registry: Registry,
    pub reconcile_total: Family<ResultLabels, Counter>,
    pub reconcile_errors: Family<ErrorLabels, Counter>,
    pub reconcile_time: Family<ControllerLabels, Histogram, fn() -> Histogram>,
    pub active_workers: Family<ControllerLabels, Gauge>,
    pub registry_calls: Family<CallLabels, Counter>,
    pub registry_call_time: Family<OperationLabels, Histogram, fn() -> Histogram>,
    pub patches: Family<ProviderLabels, Counter>,
    pub patched_fields: Family<ProviderLabels, Counter>,
    pub drift: Family<ProviderLabels, Counter>,
    pub rate_limit_waits: Family<ProviderLabels, Counter>,
    pub servers: Family<ServerLabels, Gauge>,
    pub snapshot_age: Family<RegistryLabels, Gauge<f64, std::sync::atomic::AtomicU64>>,
    pub status_refreshes_deferred: Counter,
    /// The last known state of each server, to count them by condition.
    server_states: Mutex<HashMap<String, ServerLabels>>,
}

/// The process-wide metrics.
pub fn metrics() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(Metrics::new)
}

impl Metrics {
    fn new() -> Self {
        let mut registry = Registry::default();
        let m = Metrics {
            reconcile_total: Family::default(),
            reconcile_errors: Family::default(),
            reconcile_time: Family::new_with_constructor(histogram),
            active_workers: Family::default(),
            registry_calls: Family::default(),
            registry_call_time: Family::new_with_constructor(histogram),
            patches: Family::default(),
            patched_fields: Family::default(),
            drift: Family::default(),
            rate_limit_waits: Family::default(),
            servers: Family::default(),
            snapshot_age: Family::default(),
            status_refreshes_deferred: Counter::default(),
            server_states: Mutex::new(HashMap::new()),
            registry: Registry::default(),
        };
        registry.register(
            "controller_runtime_reconcile",
            "Reconciles per controller and result",
            m.reconcile_total.clone(),
        );
        registry.register(
            "controller_runtime_reconcile_errors",
            "Reconciles that failed, per controller and error",
            m.reconcile_errors.clone(),
        );
        registry.register(
            "controller_runtime_reconcile_time_seconds",
            "Time per reconcile",
            m.reconcile_time.clone(),
        );
        registry.register(
            "controller_runtime_active_workers",
            "Reconciles running now",
            m.active_workers.clone(),
        );
        registry.register(
            "mcpsync_registry_requests",
            "Calls to remote registries by provider, operation and answer code",
            m.registry_calls.clone(),
        );
        registry.register(
            "mcpsync_registry_request_duration_seconds",
            "Latency of calls to remote registries",
            m.registry_call_time.clone(),
        );
        registry.register(
            "mcpsync_patches",
            "PATCHes sent, by provider",
            m.patches.clone(),
        );
        registry.register(
            "mcpsync_patched_fields",
            "Fields sent in PATCHes, by provider",
            m.patched_fields.clone(),
        );
        registry.register(
            "mcpsync_drift_detected",
            "Reconciles that found the remote record differing from the spec",
            m.drift.clone(),
        );
        registry.register(
            "mcpsync_rate_limit_waits",
            "Calls that waited for the client-side rate limit or a Retry-After pause",
            m.rate_limit_waits.clone(),
        );
        registry.register(
            "mcpsync_servers",
            "McpServers by Ready status and reason, and availability",
            m.servers.clone(),
        );
        registry.register(
            "mcpsync_snapshot_age_seconds",
            "Age of each registry's remote snapshot",
            m.snapshot_age.clone(),
        );
        registry.register(
            "mcpsync_status_refreshes_deferred",
            "lastSyncTime-only status writes put off to a later reconcile by --status-refresh-qps",
            m.status_refreshes_deferred.clone(),
        );
        Metrics { registry, ..m }
    }

    /// The text exposition format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }

    /// One registry call and its answer (`code`: the HTTP status, or `error`).
    pub fn registry_call(&self, provider: &str, operation: &str, code: &str, took: Duration) {
        self.registry_calls
            .get_or_create(&CallLabels {
                provider: provider.into(),
                operation: operation.into(),
                code: code.into(),
            })
            .inc();
        self.registry_call_time
            .get_or_create(&OperationLabels {
                provider: provider.into(),
                operation: operation.into(),
            })
            .observe(took.as_secs_f64());
    }

    pub fn rate_limit_wait(&self, provider: &str) {
        self.rate_limit_waits
            .get_or_create(&ProviderLabels {
                provider: provider.into(),
            })
            .inc();
    }

    /// Records a server's state (`None`: gone). The gauge moves by one series at a time:
    /// rebuilding it from every server on each reconcile cost O(N) per reconcile (issue
    /// 18), and a state no server is in any more leaves no series behind.
    pub fn server_state(&self, key: &str, state: Option<ServerLabels>) {
        // The lock spans the gauge updates so that two reconciles of one server cannot
        // interleave their decrement and increment.
        let mut states = self.server_states.lock();
        let previous = match state {
            Some(s) => {
                if states.get(key) == Some(&s) {
                    return;
                }
                self.servers.get_or_create(&s).inc();
                states.insert(key.to_string(), s)
            }
            None => states.remove(key),
        };
        if let Some(old) = previous {
            let left = self.servers.get_or_create(&old).dec() - 1;
            if left <= 0 {
                self.servers.remove(&old);
            }
        }
    }

    /// Drops the series of a registry that is gone.
    pub fn forget_registry(&self, registry: &str) {
        self.snapshot_age.remove(&RegistryLabels {
            registry: registry.to_string(),
        });
    }

    /// Whether a server's state is recorded.
    pub fn server_recorded(&self, key: &str) -> bool {
        self.server_states.lock().contains_key(key)
    }

    /// Servers whose state is recorded (deleted ones are not).
    pub fn servers_recorded(&self) -> usize {
        self.server_states.lock().len()
    }
}

/// Counts a reconcile while it runs (active workers) and when it ends (time, result).
pub struct ReconcileTimer {
    controller: &'static str,
    started: std::time::Instant,
}

impl ReconcileTimer {
    pub fn start(controller: &'static str) -> Self {
        metrics()
            .active_workers
            .get_or_create(&ControllerLabels {
                controller: controller.into(),
            })
            .inc();
        ReconcileTimer {
            controller,
            started: std::time::Instant::now(),
        }
    }

    /// `result`: `success`, `requeue_after` or `error` (with the error's label).
    pub fn finish(self, result: &str, error: Option<&str>) {
        let m = metrics();
        let controller = self.controller.to_string();
        m.reconcile_total
            .get_or_create(&ResultLabels {
                controller: controller.clone(),
                result: result.into(),
            })
            .inc();
        if let Some(error) = error {
            m.reconcile_errors
                .get_or_create(&ErrorLabels {
                    controller: controller.clone(),
                    error: error.into(),
                })
                .inc();
        }
        m.reconcile_time
            .get_or_create(&ControllerLabels {
                controller: controller.clone(),
            })
            .observe(self.started.elapsed().as_secs_f64());
    }
}

impl Drop for ReconcileTimer {
    fn drop(&mut self) {
        metrics()
            .active_workers
            .get_or_create(&ControllerLabels {
                controller: self.controller.into(),
            })
            .dec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(ready: &str, reason: &str) -> ServerLabels {
        ServerLabels {
            ready: ready.into(),
            reason: reason.into(),
            availability: "Unknown".into(),
        }
    }

    fn series(m: &Metrics) -> Vec<String> {
        m.encode()
            .lines()
            .filter(|l| l.starts_with("mcpsync_servers{"))
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn servers_are_counted_by_state_and_forgotten_when_gone() {
        let m = Metrics::new();
        let ready = labels("True", "Synced");
        m.server_state("a/one", Some(ready.clone()));
        m.server_state("a/two", Some(ready.clone()));
        assert_eq!(m.servers.get_or_create(&ready).get(), 2);
        m.server_state("a/two", None);
        assert_eq!(m.servers.get_or_create(&ready).get(), 1);
        m.registry_call("composio", "list", "200", Duration::from_millis(3));
        let text = m.encode();
        assert!(text.contains("mcpsync_registry_requests_total{provider=\"composio\",operation=\"list\",code=\"200\"} 1"), "{text}");
        assert!(
            text.contains(
                "mcpsync_servers{ready=\"True\",reason=\"Synced\",availability=\"Unknown\"} 1"
            ),
            "{text}"
        );
    }

    #[test]
    fn the_server_gauge_moves_by_state_and_drops_empty_series() {
        let m = Metrics::new();
        let ready = labels("True", "Synced");
        let waiting = labels("False", "RegistryNotReady");
        for i in 0..5 {
            m.server_state(&format!("a/s{i}"), Some(waiting.clone()));
        }
        // The same state again counts once.
        m.server_state("a/s0", Some(waiting.clone()));
        for i in 0..3 {
            m.server_state(&format!("a/s{i}"), Some(ready.clone()));
        }
        let text = m.encode();
        assert!(
            text.contains(
                "mcpsync_servers{ready=\"True\",reason=\"Synced\",availability=\"Unknown\"} 3"
            ),
            "{text}"
        );
        assert!(
            text.contains("mcpsync_servers{ready=\"False\",reason=\"RegistryNotReady\",availability=\"Unknown\"} 2"),
            "{text}"
        );
        // Series are updated in place, never rebuilt: a handle taken before other
        // servers change still reads the count.
        let held = m.servers.get_or_create(&ready).clone();
        m.server_state("a/s3", Some(ready.clone()));
        assert_eq!(held.get(), 4);
        m.server_state("a/s3", Some(waiting.clone()));
        assert_eq!(held.get(), 3);
        for i in 0..5 {
            m.server_state(&format!("a/s{i}"), None);
        }
        // Forgetting an unknown server changes nothing.
        m.server_state("a/never", None);
        assert_eq!(
            series(&m),
            Vec::<String>::new(),
            "no series for deleted servers"
        );
        assert_eq!(m.servers_recorded(), 0);
    }

    #[test]
    fn a_deleted_registry_leaves_no_snapshot_age_series() {
        let m = Metrics::new();
        for registry in ["McpRegistry/a/gone", "McpRegistry/a/kept"] {
            m.snapshot_age
                .get_or_create(&RegistryLabels {
                    registry: registry.into(),
                })
                .set(1.0);
        }
        m.forget_registry("McpRegistry/a/gone");
        let text = m.encode();
        assert!(!text.contains("a/gone"), "{text}");
        assert!(text.contains("a/kept"), "{text}");
    }
}
