//! `mcpsync run`: the controller. Kubernetes wiring around the shared pipeline
//! ([`crate::reconcile`]): watches and caches (never of Secret data), the reference
//! index that maps a Secret or registry change to the objects using it, predicates so the
//! operator's own status writes cause no work, status writes, events and the finalizer.

pub mod context;
pub mod events;
pub mod index;
pub mod ports;
pub mod registry;
pub mod server;
pub mod snapshot;
pub mod status;

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use futures::{Stream, StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Secret;
use kube::core::PartialObjectMeta;
use kube::runtime::controller::{Action, Config as ControllerConfig};
use kube::runtime::reflector::{self, ObjectRef};
use kube::runtime::utils::Backoff;
use kube::runtime::{Controller, WatchStreamExt, predicates, watcher};
use kube::{Api, Client, Resource, ResourceExt};
use parking_lot::RwLock;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio_util::sync::CancellationToken;

use crate::api::conditions::types;
use crate::api::{
    ClusterMcpRegistry, McpRegistry, McpServer, RECONCILE_REQUESTED_AT, RegistryStatus,
};
use crate::engine::schedule::{self, Requeue, Settled};
use crate::vocab::{ObjectKey, RegistryId};
use context::{Ctx, Gone, Liveness, Settings, Stores};
use events::{Recorder, Reporter};
use index::{RefIndex, SecretKey, server_refs};

/// How `mcpsync run` is set up.
#[derive(Clone, Debug)]
pub struct Options {
    /// Namespaces whose McpServers, McpRegistries and Secrets are watched; empty: all.
    pub namespaces: Vec<String>,
    /// Label selector of the McpServers this instance manages (shards large installations).
    pub selector: Option<String>,
    /// Reconciles running at once, per controller.
    pub concurrency: u16,
    /// Sync interval of servers and registries that set none.
    pub default_sync_interval: Duration,
    /// Status writes per second that only move `lastSyncTime` (a status that changed in
    /// substance is always written at once). A refresh over budget is put off to the
    /// server's next reconcile, so `lastSyncTime` stays a true "last confirmed equal"
    /// time, only refreshed less often: at 10,000 servers and a 10 m interval the
    /// refreshes alone would be ~17 writes/s. 0: unlimited.
    pub status_refresh_qps: f64,
    /// Name of this instance in events (the pod name in a cluster).
    pub instance: Option<String>,
    /// Set once the caches are synced and the controllers run (`/readyz`).
    pub ready: Option<Arc<std::sync::atomic::AtomicBool>>,
    /// How a reconcile reads the remote record. Benchmark baseline only; see [`Observe`].
    pub observe: Observe,
}

/// How a server's reconcile reads its remote record.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Observe {
    /// From the registry's listing, read at most once per sync interval (the product).
    #[default]
    Snapshot,
    /// One GET per server on every reconcile, as Crossplane and ACK do: the baseline the
    /// scale benchmark compares with (docs/architecture.md, "Scale benchmark").
    GetEach,
}

/// A failed reconcile; retried with backoff. The variant is the metric label. Registry
/// failures are not among them: they are a server's status (a condition and a requeue at
/// the registry's pace), never a reconcile error.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Kubernetes API: {}", ports::kube_message(.0))]
    Kube(kube::Error),
}

impl Error {
    pub fn label(&self) -> &'static str {
        match self {
            Error::Kube(_) => "kube",
        }
    }
}

/// The kinds the operator needs, as `kubectl get` names them.
const KINDS: [&str; 3] = ["mcpservers", "mcpregistries", "clustermcpregistries"];

/// Fails with the names of the CRDs that are not installed.
pub async fn check_crds(client: &Client) -> anyhow::Result<()> {
    let served: Vec<String> = match client
        .list_api_group_resources(&format!("{}/{}", crate::api::GROUP, crate::api::VERSION))
        .await
    {
        Ok(list) => list.resources.into_iter().map(|r| r.name).collect(),
        Err(kube::Error::Api(s)) if s.code == 404 => Vec::new(),
        Err(e) => anyhow::bail!("cannot read the API server's discovery: {e}"),
    };
    let missing: Vec<String> = KINDS
        .iter()
        .filter(|k| !served.iter().any(|s| s == *k))
        .map(|k| format!("{k}.{}", crate::api::GROUP))
        .collect();
    if !missing.is_empty() {
        anyhow::bail!(
            "the CustomResourceDefinitions {} are not installed: run `kubectl apply --server-side -f crds/` (or `mcpsync crds | kubectl apply --server-side -f -`)",
            missing.join(", ")
        );
    }
    Ok(())
}

fn hash_of(value: impl Hash) -> u64 {
    let mut h = DefaultHasher::new();
    value.hash(&mut h);
    h.finish()
}

/// A server needs work when its spec (generation), its finalizers or the
/// `reconcile-requested-at` annotation change; its own status writes change none of them.
fn server_predicate(server: &McpServer) -> Option<u64> {
    Some(hash_of((
        server.meta().generation,
        server.finalizers(),
        server.annotations().get(RECONCILE_REQUESTED_AT),
    )))
}

/// A registry matters to its servers when its spec or its readiness changes, not when
/// only `lastCheckedTime` moves.
fn registry_predicate(generation: Option<i64>, status: Option<&RegistryStatus>) -> Option<u64> {
    let ready = status.and_then(|s| {
        s.conditions
            .iter()
            .find(|c| c.type_ == types::READY)
            .map(|c| (c.status.clone(), c.reason.clone()))
    });
    Some(hash_of((generation, ready)))
}

fn secret_key(meta: &kube::core::ObjectMeta) -> SecretKey {
    ObjectKey::new(
        meta.namespace.clone().unwrap_or_default(),
        meta.name.clone().unwrap_or_default(),
    )
}

fn server_ref(key: &ObjectKey) -> ObjectRef<McpServer> {
    ObjectRef::new(&key.name).within(&key.namespace)
}

/// Feeds the reference index from the McpServer watch.
fn index_servers(index: &RwLock<RefIndex>, event: &watcher::Event<McpServer>) {
    let key = |s: &McpServer| ObjectKey::new(s.namespace().unwrap_or_default(), s.name_any());
    match event {
        watcher::Event::Apply(s) | watcher::Event::InitApply(s) => {
            index.write().set_server(key(s), server_refs(s))
        }
        watcher::Event::Delete(s) => index.write().remove_server(&key(s)),
        watcher::Event::Init | watcher::Event::InitDone => {}
    }
}

fn error_policy<K: Resource<DynamicType = ()>>(
    object: Arc<K>,
    error: &Error,
    ctx: Arc<Ctx>,
) -> Action {
    let key = policy_key(object.meta());
    tracing::warn!(object = %key, kind = %K::kind(&()), error = %error, "reconcile failed; retrying");
    let settled = Settled::Transient {
        failures: ctx.failed(&key),
        retry_after: None,
    };
    match schedule::requeue(settled, ctx.settings.default_sync_interval, rand::random()) {
        Requeue::After(d) => Action::requeue(d),
        Requeue::OnChange => Action::await_change(),
    }
}

/// The key `error_policy` counts failures under: namespace/name (empty namespace for a
/// cluster-scoped object).
fn policy_key(meta: &kube::core::ObjectMeta) -> String {
    format!(
        "{}/{}",
        meta.namespace.as_deref().unwrap_or_default(),
        meta.name.as_deref().unwrap_or_default()
    )
}

/// [`policy_key`] of a registry.
pub(crate) fn failure_key(id: &RegistryId) -> String {
    match id {
        RegistryId::Namespaced(key) => key.to_string(),
        RegistryId::Cluster(name) => format!("/{name}"),
    }
}

/// The longest a watch waits before it tries the API server again.
pub const WATCH_BACKOFF_CAP: Duration = Duration::from_secs(5);
const WATCH_BACKOFF_FIRST: Duration = Duration::from_millis(500);

/// The backoff of every watch: 0.5 s doubling up to [`WATCH_BACKOFF_CAP`], each delay
/// drawn from its upper half (jitter, so that the watches do not all come back at once),
/// never above the cap. kube's `DefaultBackoff` grows to 30 s plus as much jitter again
/// (a watch waited 47 s after a 7 s API-server outage, issue 18). `StreamBackoff` resets
/// it on the first item the watch yields once the server answers.
#[derive(Clone, Debug)]
pub struct WatchBackoff {
    next: Duration,
}

impl Default for WatchBackoff {
    fn default() -> Self {
        WatchBackoff {
            next: WATCH_BACKOFF_FIRST,
        }
    }
}

impl Iterator for WatchBackoff {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        let delay = self.next.min(WATCH_BACKOFF_CAP);
        self.next = delay.saturating_mul(2).min(WATCH_BACKOFF_CAP);
        Some(delay.mul_f64(0.5 + rand::random::<f64>() / 2.0))
    }
}

impl Backoff for WatchBackoff {
    fn reset(&mut self) {
        self.next = WATCH_BACKOFF_FIRST;
    }
}

/// The one backoff every watcher uses, so that they cannot drift apart.
pub fn watch_backoff() -> WatchBackoff {
    WatchBackoff::default()
}

/// What the watches saw go, handed to the task that drops its state (the watches are
/// built before the context that holds it).
#[derive(Debug)]
enum Departure {
    Server(Gone),
    Registry(RegistryId, Option<String>),
}

/// Sends what a watch event shows gone. A closed channel means the operator is stopping.
fn depart(
    live: &parking_lot::Mutex<Liveness>,
    departures: &UnboundedSender<Departure>,
    to_departure: impl Fn(Gone) -> Departure,
    event: &watcher::Event<impl Resource>,
) {
    for gone in live.lock().observe(event) {
        let _ = departures.send(to_departure(gone));
    }
}

/// The server controller (by index) that watches `namespace`.
fn scope_of(scopes: &[Option<String>], namespace: &str) -> Option<usize> {
    scopes
        .iter()
        .position(|s| s.as_deref().is_none_or(|ns| ns == namespace))
}

/// Drops the state of what went, and wakes the servers of a registry that went (they
/// then report it not found). Runs after the watch has removed the object from its cache,
/// so a woken server no longer finds it there.
async fn handle_departures(
    mut departures: UnboundedReceiver<Departure>,
    ctx: Arc<Ctx>,
    scopes: Vec<Option<String>>,
    wakes: Vec<UnboundedSender<ObjectRef<McpServer>>>,
) {
    while let Some(departure) = departures.recv().await {
        match departure {
            Departure::Server(gone) => ctx.forget_server(&gone),
            Departure::Registry(id, uid) => {
                ctx.forget_registry(&id, uid.as_deref());
                let servers = ctx.index.read().servers_of_registry(&id);
                tracing::debug!(registry = %id, servers = servers.len(), "registry gone");
                for server in servers {
                    if let Some(wake) =
                        scope_of(&scopes, &server.namespace).and_then(|i| wakes.get(i))
                    {
                        let _ = wake.send(server_ref(&server));
                    }
                }
            }
        }
    }
}

/// A server's reconcile; one whose server was deleted meanwhile may have recorded state
/// after the watch dropped it: it is dropped again. (The watch updates the cache before
/// it reports the delete, so either that report comes after this reconcile's records, or
/// the cache no longer has the server here.)
async fn reconcile_server(server: Arc<McpServer>, ctx: Arc<Ctx>) -> Result<Action, Error> {
    let gone = Gone {
        key: ObjectKey::new(server.namespace().unwrap_or_default(), server.name_any()),
        uid: server.metadata.uid.clone(),
    };
    let result = timed("mcpserver", server::reconcile(server, ctx.clone())).await;
    if !ctx.stores.has_server(&gone.key, gone.uid.as_deref()) {
        ctx.forget_server(&gone);
    }
    result
}

fn server_error_policy(server: Arc<McpServer>, error: &Error, ctx: Arc<Ctx>) -> Action {
    let gone = Gone {
        key: ObjectKey::new(server.namespace().unwrap_or_default(), server.name_any()),
        uid: server.metadata.uid.clone(),
    };
    let action = error_policy(server, error, ctx.clone());
    if !ctx.stores.has_server(&gone.key, gone.uid.as_deref()) {
        ctx.forget_server(&gone);
        return Action::await_change();
    }
    action
}

/// A registry's reconcile, with the same after-check as [`reconcile_server`].
async fn reconcile_registry(registry: Arc<McpRegistry>, ctx: Arc<Ctx>) -> Result<Action, Error> {
    let key = ObjectKey::new(
        registry.namespace().unwrap_or_default(),
        registry.name_any(),
    );
    let uid = registry.metadata.uid.clone();
    let result = timed(
        "mcpregistry",
        registry::reconcile_namespaced(registry, ctx.clone()),
    )
    .await;
    let here = ctx
        .stores
        .registry(&key)
        .is_some_and(|r| r.metadata.uid == uid);
    if !here {
        ctx.forget_registry(&RegistryId::Namespaced(key), uid.as_deref());
    }
    result
}

async fn reconcile_cluster_registry(
    registry: Arc<ClusterMcpRegistry>,
    ctx: Arc<Ctx>,
) -> Result<Action, Error> {
    let name = registry.name_any();
    let uid = registry.metadata.uid.clone();
    let result = registry::reconcile_cluster(registry, ctx.clone()).await;
    let here = ctx
        .stores
        .cluster_registry(&name)
        .is_some_and(|r| r.metadata.uid == uid);
    if !here {
        ctx.forget_registry(&RegistryId::Cluster(name), uid.as_deref());
    }
    result
}

/// A reconcile, counted and timed under controller-runtime's metric names.
async fn timed(
    controller: &'static str,
    reconcile: impl std::future::Future<Output = Result<Action, Error>>,
) -> Result<Action, Error> {
    let timer = crate::ops::metrics::ReconcileTimer::start(controller);
    let result = reconcile.await;
    match &result {
        Ok(_) => timer.finish("success", None),
        Err(e) => timer.finish("error", Some(e.label())),
    }
    result
}

/// Drains a controller's results, logging failures.
async fn drain<K, E: std::fmt::Display>(
    results: impl Stream<Item = Result<(ObjectRef<K>, Action), E>>,
) where
    K: Resource,
{
    results
        .for_each(|r| async move {
            if let Err(e) = r {
                tracing::debug!(error = %e, "controller");
            }
        })
        .await;
}

fn scoped<K>(client: &Client, namespace: Option<&str>) -> Api<K>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
{
    match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

/// Waits until a cache has its first full listing. `Store::wait_until_ready` wakes only
/// its last waiter (a one-shot channel underneath), and the controller that feeds the
/// store waits on it too: poll it again every 100 ms.
async fn wait_ready<K>(store: &reflector::Store<K>)
where
    K: Resource + Clone + 'static,
    K::DynamicType: std::hash::Hash + Eq + Clone,
{
    while tokio::time::timeout(Duration::from_millis(100), store.wait_until_ready())
        .await
        .is_err()
    {}
}

/// The caches keep no `managedFields`: nothing reads them (status is written with
/// server-side apply, which needs none locally), and they are about half of a cached
/// McpServer (measured at 10,000 servers by `make bench`).
fn drop_managed_fields<K: Resource>(object: &mut K) {
    object.meta_mut().managed_fields = None;
}

/// Secrets, metadata only: names and resourceVersions, never data.
fn secret_metadata(client: &Client, namespace: Option<&str>) -> Api<PartialObjectMeta<Secret>> {
    match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

/// Runs the controllers until `shutdown` is cancelled; in-flight reconciles finish.
pub async fn run(client: Client, opts: Options, shutdown: CancellationToken) -> anyhow::Result<()> {
    check_crds(&client).await?;
    let scopes: Vec<Option<String>> = if opts.namespaces.is_empty() {
        vec![None]
    } else {
        opts.namespaces.iter().cloned().map(Some).collect()
    };
    let index = Arc::new(RwLock::new(RefIndex::default()));
    let config = ControllerConfig::default().concurrency(opts.concurrency);
    let mut stores = Stores::default();
    let mut registry_streams = Vec::new();
    let mut server_streams = Vec::new();
    let mut secret_triggers = Vec::new();
    let (departures, departures_rx) = unbounded_channel();
    let mut wakes = Vec::new();

    let live = parking_lot::Mutex::new(Liveness::default());
    let tx = departures.clone();

    let (cluster_reader, cluster_writer) = reflector::store::<ClusterMcpRegistry>();
    stores.cluster_registries.push(cluster_reader.clone());
    let cluster_stream = watcher(
        Api::<ClusterMcpRegistry>::all(client.clone()),
        watcher::Config::default(),
    )
    .backoff(watch_backoff())
    .modify(drop_managed_fields)
    .reflect(cluster_writer)
    .inspect_ok(move |event| {
        depart(
            &live,
            &tx,
            |g| Departure::Registry(RegistryId::Cluster(g.key.name), g.uid),
            event,
        )
    })
    .applied_objects()
    .predicate_filter(predicates::generation, Default::default());

    for scope in &scopes {
        let ns = scope.as_deref();
        let (reg_reader, reg_writer) = reflector::store::<McpRegistry>();
        stores.registries.push(reg_reader.clone());
        let live = parking_lot::Mutex::new(Liveness::default());
        let tx = departures.clone();
        let reg_stream = watcher(
            scoped::<McpRegistry>(&client, ns),
            watcher::Config::default(),
        )
        .backoff(watch_backoff())
        .modify(drop_managed_fields)
        .reflect(reg_writer)
        .inspect_ok(move |event| {
            depart(
                &live,
                &tx,
                |g| Departure::Registry(RegistryId::Namespaced(g.key), g.uid),
                event,
            )
        })
        .applied_objects()
        .predicate_filter(predicates::generation, Default::default());
        registry_streams.push((reg_reader, reg_stream, ns.map(str::to_string)));

        let (secret_reader, secret_writer) = reflector::store::<PartialObjectMeta<Secret>>();
        stores.secrets.push(secret_reader);
        let secret_stream = watcher(secret_metadata(&client, ns), watcher::Config::default())
            .backoff(watch_backoff())
            .modify(drop_managed_fields)
            .reflect(secret_writer)
            .touched_objects();
        // A second metadata watch triggers registry checks (the first feeds the store and
        // the server triggers).
        let registry_secret_trigger =
            watcher(secret_metadata(&client, ns), watcher::Config::default())
                .backoff(watch_backoff())
                .touched_objects();
        secret_triggers.push(registry_secret_trigger);

        let (server_reader, server_writer) = reflector::store::<McpServer>();
        stores.servers.push(server_reader.clone());
        let mut server_config = watcher::Config::default();
        if let Some(selector) = &opts.selector {
            server_config = server_config.labels(selector);
        }
        let feed = index.clone();
        let live = parking_lot::Mutex::new(Liveness::default());
        let tx = departures.clone();
        let (wake, woken) = unbounded_channel::<ObjectRef<McpServer>>();
        wakes.push(wake);
        let server_stream = watcher(scoped::<McpServer>(&client, ns), server_config)
            .backoff(watch_backoff())
            .modify(drop_managed_fields)
            .reflect(server_writer)
            .inspect_ok(move |event| {
                index_servers(&feed, event);
                depart(&live, &tx, Departure::Server, event);
            })
            .applied_objects()
            .predicate_filter(server_predicate, Default::default());
        server_streams.push((
            server_reader,
            server_stream,
            secret_stream,
            woken,
            ns.map(str::to_string),
        ));
    }
    // The watches hold the senders: the departures end with them.
    drop(departures);

    let reporter = Reporter {
        controller: "mcpsync".into(),
        instance: opts.instance.clone(),
    };
    let ctx = Arc::new(Ctx {
        client: client.clone(),
        writer: status::StatusWriter::new(client.clone()),
        secrets: ports::KubeSecrets {
            client: client.clone(),
        },
        recorder: Recorder::new(client.clone(), reporter),
        stores: stores.clone(),
        index: index.clone(),
        clients: Default::default(),
        snapshots: Default::default(),
        failures: Default::default(),
        requested: Default::default(),
        settings: Settings {
            observe: opts.observe,
            ..Settings::new(opts.default_sync_interval, opts.status_refresh_qps)
        },
    });

    let mut tasks = tokio::task::JoinSet::new();
    tokio::spawn(handle_departures(
        departures_rx,
        ctx.clone(),
        scopes.clone(),
        wakes,
    ));

    // Registries first: servers look their registries up in these caches.
    let cluster_index = index.clone();
    let cluster_controller = Controller::for_stream(cluster_stream, cluster_reader.clone())
        .with_config(config.clone())
        .watches_stream(
            futures::stream::select_all(secret_triggers.into_iter().map(|s| s.boxed())),
            move |secret| {
                let secret = secret_key(&secret.metadata);
                cluster_index
                    .read()
                    .registries_of_secret(&secret)
                    .into_iter()
                    .filter_map(|id| match id {
                        RegistryId::Cluster(name) => Some(ObjectRef::new(&name)),
                        RegistryId::Namespaced(_) => None,
                    })
                    .collect::<Vec<_>>()
            },
        )
        .graceful_shutdown_on(shutdown.clone().cancelled_owned())
        .run(reconcile_cluster_registry, error_policy, ctx.clone());
    tasks.spawn(drain(cluster_controller));

    for (reader, stream, ns) in registry_streams {
        let trigger_index = index.clone();
        let secrets = watcher(
            secret_metadata(&client, ns.as_deref()),
            watcher::Config::default(),
        )
        .backoff(watch_backoff())
        .touched_objects();
        let controller = Controller::for_stream(stream, reader)
            .with_config(config.clone())
            .watches_stream(secrets, move |secret| {
                let secret = secret_key(&secret.metadata);
                trigger_index
                    .read()
                    .registries_of_secret(&secret)
                    .into_iter()
                    .filter_map(|id| match id {
                        RegistryId::Namespaced(key) => {
                            Some(ObjectRef::<McpRegistry>::new(&key.name).within(&key.namespace))
                        }
                        RegistryId::Cluster(_) => None,
                    })
                    .collect::<Vec<_>>()
            })
            .graceful_shutdown_on(shutdown.clone().cancelled_owned())
            .run(reconcile_registry, error_policy, ctx.clone());
        tasks.spawn(drain(controller));
    }

    let caches = async {
        for store in &stores.registries {
            wait_ready(store).await;
        }
        wait_ready(&cluster_reader).await;
    };
    tokio::select! {
        () = caches => {}
        () = shutdown.cancelled() => {
            while tasks.join_next().await.is_some() {}
            return Ok(());
        }
    }
    tracing::debug!("registry caches ready");

    for (reader, stream, secret_stream, mut woken, ns) in server_streams {
        let by_secret = index.clone();
        let by_registry = index.clone();
        let by_cluster_registry = index.clone();
        let registries = watcher(
            scoped::<McpRegistry>(&client, ns.as_deref()),
            watcher::Config::default(),
        )
        .backoff(watch_backoff())
        .applied_objects()
        .predicate_filter(
            |r: &McpRegistry| registry_predicate(r.metadata.generation, r.status.as_ref()),
            Default::default(),
        );
        let cluster_registries = watcher(
            Api::<ClusterMcpRegistry>::all(client.clone()),
            watcher::Config::default(),
        )
        .backoff(watch_backoff())
        .applied_objects()
        .predicate_filter(
            |r: &ClusterMcpRegistry| registry_predicate(r.metadata.generation, r.status.as_ref()),
            Default::default(),
        );
        let controller = Controller::for_stream(stream, reader)
            .with_config(config.clone())
            .watches_stream(secret_stream, move |secret| {
                let secret = secret_key(&secret.metadata);
                by_secret
                    .read()
                    .servers_of_secret(&secret)
                    .iter()
                    .map(server_ref)
                    .collect::<Vec<_>>()
            })
            .watches_stream(registries, move |registry| {
                let id = RegistryId::Namespaced(ObjectKey::new(
                    registry.namespace().unwrap_or_default(),
                    registry.name_any(),
                ));
                by_registry
                    .read()
                    .servers_of_registry(&id)
                    .iter()
                    .map(server_ref)
                    .collect::<Vec<_>>()
            })
            .watches_stream(cluster_registries, move |registry| {
                let id = RegistryId::Cluster(registry.name_any());
                by_cluster_registry
                    .read()
                    .servers_of_registry(&id)
                    .iter()
                    .map(server_ref)
                    .collect::<Vec<_>>()
            })
            // The servers of a registry that is gone (a delete or a relist without it).
            .reconcile_on(futures::stream::poll_fn(move |cx| woken.poll_recv(cx)))
            .graceful_shutdown_on(shutdown.clone().cancelled_owned())
            .run(reconcile_server, server_error_policy, ctx.clone());
        tasks.spawn(drain(controller));
    }
    tracing::info!(namespaces = ?opts.namespaces, "controllers started");
    if let Some(ready) = &opts.ready {
        ready.store(true, std::sync::atomic::Ordering::Relaxed);
    }
    while tasks.join_next().await.is_some() {}
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::context::tests::{offline_ctx, server};
    use crate::controller::index::ServerRefs;

    #[test]
    fn the_watch_backoff_never_exceeds_its_cap_and_starts_over_when_reset() {
        let mut backoff = watch_backoff();
        let delays: Vec<Duration> = (&mut backoff).take(40).collect();
        assert!(delays.iter().all(|d| *d <= WATCH_BACKOFF_CAP), "{delays:?}");
        assert!(
            delays[10..].iter().all(|d| *d >= WATCH_BACKOFF_CAP / 2),
            "it does grow to the cap: {delays:?}"
        );
        backoff.reset();
        let first = backoff.next().unwrap_or_default();
        assert!(first <= WATCH_BACKOFF_FIRST, "{first:?}");
    }

    /// The backoff as kube's `StreamBackoff` drives it: an error waits, an answer resets.
    #[tokio::test(start_paused = true)]
    async fn a_watch_comes_back_within_the_cap_and_fast_once_the_server_answers() {
        let mut items: Vec<Result<u32, &str>> = vec![Err("down"); 12];
        items.push(Ok(1));
        items.push(Err("down again"));
        items.push(Ok(2));
        let mut stream = std::pin::pin!(futures::stream::iter(items).backoff(watch_backoff()));
        let mut gaps = Vec::new();
        let mut last = tokio::time::Instant::now();
        while let Some(item) = stream.next().await {
            let now = tokio::time::Instant::now();
            gaps.push((item.is_ok(), now - last));
            last = now;
        }
        assert_eq!(gaps.len(), 15);
        assert!(
            gaps.iter().all(|(_, gap)| *gap <= WATCH_BACKOFF_CAP),
            "{gaps:?}"
        );
        // After 12 errors the wait was at the cap; the answer reset it: the next error
        // waits at most the first delay.
        assert!(gaps[11].1 >= WATCH_BACKOFF_CAP / 2, "{gaps:?}");
        assert!(gaps[14].1 <= WATCH_BACKOFF_FIRST, "{gaps:?}");
    }

    #[tokio::test]
    async fn deletes_and_relists_drop_state_and_a_gone_registry_wakes_its_servers() {
        let ctx = Arc::new(offline_ctx());
        let scopes = vec![Some("a".to_string()), Some("b".to_string())];
        let (departures, rx) = unbounded_channel();
        let (wake_a, mut woken_a) = unbounded_channel();
        let (wake_b, mut woken_b) = unbounded_channel();
        let registry = RegistryId::Namespaced(ObjectKey::new("a", "r"));
        ctx.index.write().set_server(
            ObjectKey::new("a", "uses-r"),
            ServerRefs {
                registry: Some(registry.clone()),
                secrets: Default::default(),
            },
        );
        for name in ["deleted", "relisted"] {
            ctx.failed(&format!("a/{name}"));
        }
        ctx.snapshots.of(&registry);
        let handler = tokio::spawn(handle_departures(
            rx,
            ctx.clone(),
            scopes,
            vec![wake_a, wake_b],
        ));

        let live = parking_lot::Mutex::new(Liveness::default());
        for event in [
            watcher::Event::Init,
            watcher::Event::InitApply(server("deleted", "u1")),
            watcher::Event::InitApply(server("relisted", "u2")),
            watcher::Event::InitDone,
            watcher::Event::Delete(server("deleted", "u1")),
            // The watch restarts; `relisted` went meanwhile.
            watcher::Event::Init,
            watcher::Event::InitDone,
        ] {
            depart(&live, &departures, Departure::Server, &event);
        }
        let mut registry_object = server("r", "ur");
        registry_object.metadata.name = Some("r".into());
        let registries = parking_lot::Mutex::new(Liveness::default());
        for event in [
            watcher::Event::Apply(registry_object.clone()),
            watcher::Event::Delete(registry_object),
        ] {
            depart(
                &registries,
                &departures,
                |g| Departure::Registry(RegistryId::Namespaced(g.key), g.uid),
                &event,
            );
        }
        drop(departures);
        handler.await.unwrap();

        assert!(ctx.failures.lock().is_empty(), "{:?}", ctx.failures.lock());
        assert!(ctx.snapshots.is_empty());
        assert_eq!(
            woken_a.recv().await.map(|r| r.name),
            Some("uses-r".to_string())
        );
        assert!(woken_b.try_recv().is_err(), "only the server's own scope");
    }
}
