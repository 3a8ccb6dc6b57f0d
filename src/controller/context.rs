//! What every reconcile shares: the Kubernetes client, the caches (never of Secret data),
//! the reference index, one HTTP client and one remote snapshot per registry, and the
//! per-object failure counts for backoff.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use kube::core::PartialObjectMeta;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
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

    /// Whether a watch has this McpServer (this very one: same UID).
    pub fn has_server(&self, key: &ObjectKey, uid: Option<&str>) -> bool {
        let r = ObjectRef::new(&key.name).within(&key.namespace);
        self.servers
            .iter()
            .find_map(|s| s.get(&r))
            .is_some_and(|s| s.metadata.uid.as_deref() == uid)
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

impl Clients {
    /// Drops the client of a registry that is gone.
    pub fn forget(&self, id: &RegistryId) {
        self.map.lock().remove(id);
    }

    pub fn len(&self) -> usize {
        self.map.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// An object a watch no longer has: deleted, or absent from a relist.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Gone {
    pub key: ObjectKey,
    pub uid: Option<String>,
}

/// The objects one watch has, by key and UID, so that what is kept per object is dropped
/// when the object goes. A reconcile never sees an object deleted without a finalizer,
/// and one deleted while the watch was down shows only as missing from the relist
/// (`Init..InitDone`), so the watch events are the only place that learns it is gone.
#[derive(Debug, Default)]
pub struct Liveness {
    live: HashMap<ObjectKey, Option<String>>,
    relist: Option<HashMap<ObjectKey, Option<String>>>,
}

impl Liveness {
    /// Takes one watch event; returns the objects it shows gone.
    pub fn observe<K: Resource>(&mut self, event: &watcher::Event<K>) -> Vec<Gone> {
        fn entry<K: Resource>(object: &K) -> (ObjectKey, Option<String>) {
            let meta = object.meta();
            let key = ObjectKey::new(
                meta.namespace.clone().unwrap_or_default(),
                meta.name.clone().unwrap_or_default(),
            );
            (key, meta.uid.clone())
        }
        match event {
            watcher::Event::Init => {
                self.relist = Some(HashMap::new());
                Vec::new()
            }
            watcher::Event::InitApply(object) => {
                let (key, uid) = entry(object);
                self.relist
                    .get_or_insert_with(HashMap::new)
                    .insert(key, uid);
                Vec::new()
            }
            watcher::Event::InitDone => {
                let listed = self.relist.take().unwrap_or_default();
                let before = std::mem::replace(&mut self.live, listed);
                before
                    .into_iter()
                    .filter(|(key, uid)| self.live.get(key) != Some(uid))
                    .map(|(key, uid)| Gone { key, uid })
                    .collect()
            }
            watcher::Event::Apply(object) => {
                let (key, uid) = entry(object);
                match self.live.insert(key.clone(), uid.clone()) {
                    // Deleted and created again under its name between two events: the
                    // old one is gone.
                    Some(old) if old != uid => vec![Gone { key, uid: old }],
                    _ => Vec::new(),
                }
            }
            watcher::Event::Delete(object) => {
                let (key, uid) = entry(object);
                self.live.remove(&key);
                vec![Gone { key, uid }]
            }
        }
    }

    pub fn len(&self) -> usize {
        self.live.len()
    }

    pub fn is_empty(&self) -> bool {
        self.live.is_empty()
    }
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

    /// Drops everything kept for a McpServer that is gone: its failure count, its last
    /// `reconcile-requested-at`, its last written status and its state in the metrics.
    pub fn forget_server(&self, gone: &Gone) {
        let key = gone.key.to_string();
        self.failures.lock().remove(&key);
        self.requested.lock().remove(&key);
        if let Some(uid) = gone.uid.as_deref() {
            self.writer.forget_uid(uid);
        }
        crate::ops::metrics::metrics().server_state(&key, None);
    }

    /// Drops everything kept for a registry that is gone: its HTTP client, its snapshot,
    /// its last check, its failure counts, the Secrets it read and its metric series.
    pub fn forget_registry(&self, id: &RegistryId, uid: Option<&str>) {
        self.clients.forget(id);
        self.snapshots.forget(id);
        if let Some(uid) = uid {
            self.writer.forget_check(uid);
        }
        {
            let mut failures = self.failures.lock();
            // The check counts under the registry's id, `error_policy` under
            // namespace/name (see `super::failure_key`).
            failures.remove(&id.to_string());
            failures.remove(&super::failure_key(id));
        }
        self.index.write().remove_registry(id);
        crate::ops::metrics::metrics().forget_registry(&id.to_string());
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
pub(crate) mod tests {
    use super::*;
    use crate::api::McpServerStatus;
    use crate::api::registry::{PaisProvider, ProviderSpec, RegistryConnection, SecretKeyRef};
    use crate::provider::http::ClientConfig;
    use kube::runtime::events::Reporter;

    /// A context whose client points nowhere: these tests make no call.
    pub fn offline_ctx() -> Ctx {
        let config = kube::Config::new("http://127.0.0.1:9".parse().unwrap());
        let client = kube::Client::try_from(config).unwrap();
        let reporter = Reporter {
            controller: "test".into(),
            instance: None,
        };
        Ctx {
            client: client.clone(),
            writer: StatusWriter::new(client.clone()),
            secrets: KubeSecrets {
                client: client.clone(),
            },
            recorder: Recorder::new(client.clone(), reporter),
            stores: Stores::default(),
            index: Default::default(),
            clients: Default::default(),
            snapshots: Default::default(),
            failures: Default::default(),
            requested: Default::default(),
            settings: Settings::new(Duration::from_secs(600), 0.0),
        }
    }

    fn registry_client() -> RegistryClient {
        let conn = RegistryConnection {
            provider: ProviderSpec::Pais(PaisProvider {
                token_secret_ref: SecretKeyRef {
                    name: "s".into(),
                    key: "k".into(),
                    namespace: None,
                },
            }),
            base_url: Some("https://pais.invalid/".into()),
            allow_insecure_http: None,
            timeout_seconds: None,
            rate_limit: None,
            sync_interval: None,
        };
        let config = ClientConfig::for_connection(&conn, "https://pais.invalid/", false).unwrap();
        RegistryClient::new(
            crate::provider::model_for(&conn.provider),
            config,
            Vec::new(),
        )
        .unwrap()
    }

    pub fn server(name: &str, uid: &str) -> McpServer {
        let mut s: McpServer = serde_json::from_value(serde_json::json!({
            "apiVersion": "mcpsync.dev/v1alpha1",
            "kind": "McpServer",
            "metadata": {"namespace": "a", "name": name, "uid": uid},
            "spec": {
                "registryRef": {"name": "r"},
                "displayName": name,
                "url": "https://x.example.com/mcp",
                "transport": "StreamableHttp",
            },
        }))
        .unwrap();
        s.metadata.uid = Some(uid.into());
        s
    }

    fn gone(name: &str, uid: &str) -> Gone {
        Gone {
            key: ObjectKey::new("a", name),
            uid: Some(uid.into()),
        }
    }

    #[test]
    fn a_deleted_object_is_reported_gone_once() {
        let mut live = Liveness::default();
        assert!(
            live.observe(&watcher::Event::Apply(server("one", "u1")))
                .is_empty()
        );
        assert!(
            live.observe(&watcher::Event::Apply(server("two", "u2")))
                .is_empty()
        );
        assert_eq!(
            live.observe(&watcher::Event::Delete(server("one", "u1"))),
            vec![gone("one", "u1")]
        );
        assert_eq!(live.len(), 1);
    }

    #[test]
    fn an_object_missing_from_a_relist_is_gone() {
        let mut live = Liveness::default();
        for event in [
            watcher::Event::Init,
            watcher::Event::InitApply(server("one", "u1")),
            watcher::Event::InitApply(server("two", "u2")),
            watcher::Event::InitDone,
        ] {
            assert!(live.observe(&event).is_empty(), "the first listing");
        }
        assert!(
            live.observe(&watcher::Event::Apply(server("three", "u3")))
                .is_empty()
        );
        // The watch was down: `one` was deleted, `two` deleted and created again.
        let mut gone_now = Vec::new();
        for event in [
            watcher::Event::Init,
            watcher::Event::InitApply(server("two", "u2b")),
            watcher::Event::InitApply(server("three", "u3")),
            watcher::Event::InitDone,
        ] {
            gone_now.extend(live.observe(&event));
        }
        gone_now.sort_by(|a, b| a.key.cmp(&b.key));
        assert_eq!(gone_now, vec![gone("one", "u1"), gone("two", "u2")]);
        assert_eq!(live.len(), 2);
    }

    #[test]
    fn an_object_created_again_under_its_name_reports_the_old_one_gone() {
        let mut live = Liveness::default();
        live.observe(&watcher::Event::Apply(server("one", "u1")));
        assert_eq!(
            live.observe(&watcher::Event::Apply(server("one", "u1b"))),
            vec![gone("one", "u1")]
        );
        assert!(
            live.observe(&watcher::Event::Apply(server("one", "u1b")))
                .is_empty()
        );
    }

    #[tokio::test]
    async fn a_gone_server_leaves_nothing_behind() {
        let ctx = offline_ctx();
        let (kept, lost) = (gone("ctx-kept", "k1"), gone("ctx-lost", "l1"));
        for g in [&kept, &lost] {
            let key = g.key.to_string();
            ctx.failed(&key);
            ctx.requested.lock().insert(key.clone(), "t".into());
            ctx.writer
                .remember_written(g.uid.as_deref().unwrap(), McpServerStatus::default());
            crate::ops::metrics::metrics().server_state(
                &key,
                Some(crate::ops::metrics::ServerLabels {
                    ready: "True".into(),
                    reason: "Synced".into(),
                    availability: "Unknown".into(),
                }),
            );
        }
        ctx.forget_server(&lost);
        let lost_key = lost.key.to_string();
        assert!(!ctx.failures.lock().contains_key(&lost_key));
        assert!(!ctx.requested.lock().contains_key(&lost_key));
        assert_eq!(ctx.writer.remembered().0, 1);
        let m = crate::ops::metrics::metrics();
        assert!(!m.server_recorded(&lost_key));
        assert!(m.server_recorded(&kept.key.to_string()), "others stay");
        assert_eq!(ctx.failures.lock().len(), 1);
        assert_eq!(ctx.requested.lock().len(), 1);
        ctx.forget_server(&kept);
    }

    #[tokio::test]
    async fn a_gone_registry_leaves_nothing_behind() {
        let ctx = offline_ctx();
        let ids = [
            RegistryId::Namespaced(ObjectKey::new("a", "gone")),
            RegistryId::Cluster("kept".into()),
        ];
        for (i, id) in ids.iter().enumerate() {
            ctx.clients.map.lock().insert(
                id.clone(),
                CachedClient {
                    key: (Some(1), Vec::new()),
                    client: registry_client(),
                    built: std::time::Instant::now(),
                },
            );
            ctx.snapshots.of(id);
            ctx.writer
                .remember_check(Some(&format!("uid{i}")), &Default::default());
            ctx.failed(&id.to_string());
            ctx.failed(&crate::controller::failure_key(id));
            ctx.index.write().set_registry(
                id.clone(),
                [ObjectKey::new("a", format!("secret{i}"))].into(),
            );
            crate::ops::metrics::metrics()
                .snapshot_age
                .get_or_create(&crate::ops::metrics::RegistryLabels {
                    registry: id.to_string(),
                })
                .set(1.0);
        }
        ctx.forget_registry(&ids[0], Some("uid0"));
        assert_eq!(ctx.clients.len(), 1);
        assert_eq!(ctx.snapshots.len(), 1);
        assert_eq!(ctx.writer.remembered().1, 1);
        assert!(ctx.writer.last_check(Some("uid0")).is_none());
        assert_eq!(ctx.failures.lock().len(), 2, "only the kept registry's");
        let index = ctx.index.read();
        assert!(
            index
                .registries_of_secret(&ObjectKey::new("a", "secret0"))
                .is_empty()
        );
        assert_eq!(
            index
                .registries_of_secret(&ObjectKey::new("a", "secret1"))
                .len(),
            1
        );
        let text = crate::ops::metrics::metrics().encode();
        assert!(!text.contains("McpRegistry/a/gone"), "{text}");
        assert!(text.contains("ClusterMcpRegistry/kept"), "{text}");
    }

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
