//! What every reconcile shares: the Kubernetes client, the caches (never of Secret data),
//! the reference index, one HTTP client and one remote snapshot per registry, and the
//! per-object failure counts for backoff.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use kube::core::PartialObjectMeta;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Resource, ResourceExt};
use parking_lot::{Mutex, RwLock};

use crate::api::{ClusterMcpRegistry, McpRegistry, McpServer};
use crate::controller::events::{EventAction, EventReason, Recorder};
use crate::controller::index::{RefIndex, registry_secrets};
use crate::controller::ports::KubeSecrets;
use crate::controller::snapshot::Snapshots;
use crate::controller::status::StatusWriter;
use crate::engine::plan::Refusal;
use crate::provider::http::RegistryClient;
use crate::reconcile;
use crate::reconcile::refs::RegistryView;
use crate::vocab::{ObjectKey, RegistryId};

/// The caches the watches fill.
#[derive(Clone, Default)]
pub struct Stores {
    pub servers: Vec<Store<McpServer>>,
    pub registries: Vec<Store<McpRegistry>>,
    pub cluster_registries: Vec<Store<ClusterMcpRegistry>>,
    /// Secret metadata only (names, resourceVersions): never data.
    pub secrets: Vec<Store<PartialObjectMeta<Secret>>>,
}

impl Stores {
    pub fn registry(&self, key: &ObjectKey) -> Option<Arc<McpRegistry>> {
        let r = ObjectRef::new(&key.name).within(&key.namespace);
        self.registries.iter().find_map(|s| s.get(&r))
    }

    pub fn cluster_registry(&self, name: &str) -> Option<Arc<ClusterMcpRegistry>> {
        let r = ObjectRef::new(name);
        self.cluster_registries.iter().find_map(|s| s.get(&r))
    }

    /// The resourceVersion of a Secret, when a watch sees it.
    pub fn secret_version(&self, key: &ObjectKey) -> Option<String> {
        let r = ObjectRef::new(&key.name).within(&key.namespace);
        self.secrets
            .iter()
            .find_map(|s| s.get(&r))
            .and_then(|m| m.resource_version())
    }
}

/// Operator settings every reconcile reads.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Sync interval of servers and registries that set none.
    pub default_sync_interval: Duration,
    /// Budget of status writes that only move `lastSyncTime` (see
    /// [`super::Options::status_refresh_qps`]); `None`: unlimited.
    pub refresh_budget: Option<Arc<governor::DefaultDirectRateLimiter>>,
    /// How reconciles read remote records (the benchmark's baseline reads each by GET).
    pub observe: super::Observe,
}

impl Settings {
    pub fn new(default_sync_interval: Duration, status_refresh_qps: f64) -> Self {
        let quota = (status_refresh_qps.is_finite() && status_refresh_qps > 0.0)
            .then(|| Duration::try_from_secs_f64(1.0 / status_refresh_qps).ok())
            .flatten()
            .and_then(governor::Quota::with_period)
            .map(|q| {
                // A burst of one second's worth, at least one.
                let burst = std::num::NonZeroU32::new(status_refresh_qps.ceil().min(1e6) as u32)
                    .unwrap_or(std::num::NonZeroU32::MIN);
                q.allow_burst(burst)
            });
        Settings {
            default_sync_interval,
            refresh_budget: quota.map(|q| Arc::new(governor::RateLimiter::direct(q))),
            observe: super::Observe::default(),
        }
    }

    /// Whether a `lastSyncTime`-only write may go now.
    pub fn may_refresh(&self) -> bool {
        self.refresh_budget
            .as_ref()
            .is_none_or(|budget| budget.check().is_ok())
    }
}

/// One HTTP client per registry, keyed by what it is built from, so that its rate limit
/// and `Retry-After` pause hold across every reconcile of that registry.
#[derive(Default)]
pub struct Clients {
    map: Mutex<HashMap<RegistryId, CachedClient>>,
}

struct CachedClient {
    key: ClientKey,
    client: RegistryClient,
    built: std::time::Instant,
}

/// Registry generation and the resourceVersions of its Secrets (`None`: unseen).
type ClientKey = (Option<i64>, Vec<(ObjectKey, Option<String>)>);

pub struct Ctx {
    pub client: kube::Client,
    pub writer: StatusWriter,
    pub secrets: KubeSecrets,
    pub recorder: Recorder,
    pub stores: Stores,
    pub index: Arc<RwLock<RefIndex>>,
    pub clients: Clients,
    pub snapshots: Snapshots,
    pub failures: Mutex<HashMap<String, u32>>,
    /// The last `reconcile-requested-at` value handled, per McpServer.
    pub requested: Mutex<HashMap<String, String>>,
    pub settings: Settings,
}

impl Ctx {
    /// The registry's HTTP client: the cached one while the registry and its Secrets are
    /// unchanged, else a new one (credentials read again, snapshot forgotten).
    pub async fn registry_client(&self, view: &RegistryView) -> Result<RegistryClient, Refusal> {
        let secrets: Vec<(ObjectKey, Option<String>)> = registry_secrets(view)
            .into_iter()
            .map(|s| {
                let version = self.stores.secret_version(&s);
                (s, version)
            })
            .collect();
        let complete = secrets.iter().all(|(_, v)| v.is_some());
        let key: ClientKey = (view.generation, secrets);
        // A Secret no watch sees (a ClusterMcpRegistry's, outside the watched namespaces)
        // has no resourceVersion to compare: its client is then rebuilt once per sync
        // interval, not on every reconcile.
        let fresh_for = if complete {
            Duration::MAX
        } else {
            self.settings.default_sync_interval
        };
        if let Some(cached) = self.clients.map.lock().get(&view.id)
            && cached.key == key
            && cached.built.elapsed() < fresh_for
        {
            return Ok(cached.client.clone());
        }
        tracing::debug!(registry = %view.id, complete, "building the registry's HTTP client");
        let client = reconcile::connect(view, &self.secrets, None).await?;
        let entry = CachedClient {
            key,
            client: client.clone(),
            built: std::time::Instant::now(),
        };
        let new_key = entry.key.clone();
        let previous = self.clients.map.lock().insert(view.id.clone(), entry);
        // Other credentials or settings: the listing read with the old ones is dropped.
        if previous.is_some_and(|p| p.key != new_key) {
            self.snapshots.forget(&view.id);
        }
        Ok(client)
    }

    /// Consecutive transient failures of an object, counting this one.
    pub fn failed(&self, key: &str) -> u32 {
        let mut failures = self.failures.lock();
        let n = failures.entry(key.to_string()).or_insert(0);
        *n += 1;
        *n
    }

    pub fn succeeded(&self, key: &str) {
        self.failures.lock().remove(key);
    }

    /// Publishes an Event about `object`; a failure to publish is logged, never fatal.
    pub async fn event<K>(&self, object: &K, reason: EventReason, action: EventAction, note: String)
    where
        K: Resource<DynamicType = ()>,
    {
        let note = truncate(note, 1000);
        if let Err(e) = self
            .recorder
            .publish(&object.object_ref(&()), reason, action, note)
            .await
        {
            tracing::warn!(object = %object.meta().name.as_deref().unwrap_or_default(), %reason, error = %e, "could not publish an event");
        }
    }
}

/// At most `max` bytes, cut at a character boundary.
fn truncate(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut cut = max;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_refresh_budget_allows_a_second_of_writes_then_defers() {
        let settings = Settings::new(Duration::from_secs(600), 3.0);
        let allowed = (0..10).filter(|_| settings.may_refresh()).count();
        assert_eq!(allowed, 3, "a burst of one second's worth");
        let unlimited = Settings::new(Duration::from_secs(600), 0.0);
        assert!((0..1000).all(|_| unlimited.may_refresh()));
        let nonsense = Settings::new(Duration::from_secs(600), f64::NAN);
        assert!(
            nonsense.may_refresh(),
            "not a number: no budget, never a panic"
        );
    }
}
