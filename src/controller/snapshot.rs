//! One remote snapshot per registry: its listing, read at most once per sync interval and
//! refreshed from every write's answer. Reconciles decide against it and fall back to a
//! GET only for a record it lacks, so in steady state the remote traffic of a registry is
//! its LIST pages once per interval: no GET per server, no PATCH.
//!
//! A listing is read once it is older than the interval (so at most one per interval).
//! A registry whose last listing was quick is read while the reconcile waits, as before;
//! one whose listing took longer ([`SLOW_LISTING`]: many pages, or a slow SaaS) is read
//! in the background while reconciles keep deciding against the previous listing, so
//! its 100 pages never hold every reconcile of the registry back. A failed listing is
//! tried again after a backoff (capped by the interval), not by every reconcile;
//! meanwhile a stale snapshot is not trusted and each reconcile GETs its record.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::provider::ProviderModel;
use crate::provider::http::{Listing, RegistryClient};
use crate::reconcile::ports::RegistryApi;
use crate::vocab::{
    Change, ErrorClass, Field, RegistryId, RemoteError, RemoteRecord, WriteContext,
};

/// A listing that took longer than this is refreshed in the background.
pub const SLOW_LISTING: Duration = Duration::from_millis(500);

/// First wait after a failed listing; doubled per failure, never above the interval.
const FIRST_LISTING_BACKOFF: Duration = Duration::from_secs(2);

/// The listing of one registry.
#[derive(Debug, Default)]
pub struct Snapshot {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    fetched: Option<Instant>,
    by_id: HashMap<String, RemoteRecord>,
    /// A background listing is under way; `touched` holds the ids written (or deleted)
    /// since it started, whose listing entries are older than what is known.
    refreshing: bool,
    touched: HashSet<String>,
    /// Listings failed in a row, and when the next may be tried.
    failures: u32,
    retry_at: Option<Instant>,
    /// How long the last listing took.
    took: Option<Duration>,
}

impl State {
    fn age(&self) -> Option<Duration> {
        self.fetched.map(|t| t.elapsed())
    }

    fn backing_off(&self) -> bool {
        self.retry_at.is_some_and(|t| Instant::now() < t)
    }

    /// Takes a listing read since `refreshing` was set: records written meanwhile keep
    /// their newer state.
    fn install(&mut self, records: Vec<RemoteRecord>) {
        let mut by_id: HashMap<String, RemoteRecord> =
            records.into_iter().map(|r| (r.id.clone(), r)).collect();
        for id in self.touched.drain() {
            match self.by_id.remove(&id) {
                Some(known) => by_id.insert(id, known),
                None => by_id.remove(&id),
            };
        }
        self.by_id = by_id;
        self.fetched = Some(Instant::now());
        self.failures = 0;
        self.retry_at = None;
    }

    fn failed(&mut self, max_age: Duration) {
        self.touched.clear();
        self.failures = self.failures.saturating_add(1);
        let doubling = 2u32.saturating_pow(self.failures.saturating_sub(1).min(16));
        let wait = FIRST_LISTING_BACKOFF.saturating_mul(doubling).min(max_age);
        self.retry_at = Some(Instant::now() + wait);
    }

    /// Notes a write of `id` (its answer is newer than any listing under way).
    fn touch(&mut self, id: &str) {
        if self.refreshing {
            self.touched.insert(id.to_string());
        }
    }
}

/// The snapshots of every registry, by identity.
#[derive(Debug, Default)]
pub struct Snapshots {
    map: parking_lot::Mutex<HashMap<RegistryId, Arc<Snapshot>>>,
}

impl Snapshots {
    pub fn of(&self, id: &RegistryId) -> Arc<Snapshot> {
        self.map.lock().entry(id.clone()).or_default().clone()
    }

    /// Whether the registry's listing was read within `age` (an authenticated call that
    /// succeeded): a registry check can then skip its own call.
    pub fn fresh(&self, id: &RegistryId, age: Duration) -> bool {
        let Some(snapshot) = self.map.lock().get(id).cloned() else {
            return false;
        };
        snapshot
            .state
            .try_lock()
            .ok()
            .and_then(|s| s.fetched)
            .is_some_and(|t| t.elapsed() < age)
    }

    /// Forgets a registry's listing (its spec or credentials changed).
    pub fn forget(&self, id: &RegistryId) {
        self.map.lock().remove(id);
    }

    /// How many registries have a snapshot.
    pub fn len(&self) -> usize {
        self.map.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Age of each snapshot, for metrics.
    pub fn ages(&self) -> BTreeMap<String, Duration> {
        let map = self.map.lock();
        map.iter()
            .filter_map(|(id, s)| {
                let fetched = s.state.try_lock().ok()?.fetched?;
                Some((id.to_string(), fetched.elapsed()))
            })
            .collect()
    }
}

/// The registry as one reconcile sees it: reads by id from the snapshot (no older than
/// `max_age`), everything else live; writes update the snapshot. `live` reads the record
/// itself (a check someone asked for with the `reconcile-requested-at` annotation).
pub struct SnapshotRegistry {
    pub client: RegistryClient,
    pub snapshot: Arc<Snapshot>,
    pub max_age: Duration,
    pub live: bool,
}

impl SnapshotRegistry {
    async fn lookup(&self, id: &str) -> Result<RemoteRecord, RemoteError> {
        if self.live {
            let record = self.client.get(id).await?;
            self.remember(&record).await;
            return Ok(record);
        }
        let mut state = self.snapshot.state.lock().await;
        let expired = state.age().is_none_or(|a| a >= self.max_age);
        let due = expired && !state.refreshing && !state.backing_off();
        let slow = state.fetched.is_some() && state.took.is_some_and(|t| t >= SLOW_LISTING);
        if due && slow {
            state.refreshing = true;
            self.refresh_in_background();
        } else if due {
            // No listing yet, or a quick one: read it now, holding the snapshot, so that
            // the other reconciles do not each GET their record meanwhile.
            tracing::debug!(age = ?state.age(), max_age = ?self.max_age, "reading the registry's listing");
            let started = Instant::now();
            match self.client.list_all(None).await {
                Ok(records) => {
                    state.install(records);
                    state.took = Some(started.elapsed());
                }
                Err(e) if e.class == ErrorClass::Unauthorized => return Err(e),
                Err(_) => state.failed(self.max_age),
            }
        }
        // A listing under way vouches for the previous one, up to a second interval.
        let trusted = state.age().is_some_and(|a| {
            a < self.max_age || (state.refreshing && a < self.max_age.saturating_mul(2))
        });
        if let Some(record) = state.by_id.get(id).filter(|_| trusted) {
            return Ok(record.clone());
        }
        drop(state);
        // Not in the listing (created since, or hidden by it), or no listing to trust:
        // confirm with a GET.
        let record = self.client.get(id).await?;
        self.remember(&record).await;
        Ok(record)
    }

    /// Reads the listing without holding the snapshot: readers keep the previous one.
    fn refresh_in_background(&self) {
        let client = self.client.clone();
        let snapshot = self.snapshot.clone();
        let max_age = self.max_age;
        tokio::spawn(async move {
            tracing::debug!(max_age = ?max_age, "refreshing the registry's listing");
            let started = Instant::now();
            let answer = client.list_all(None).await;
            let mut state = snapshot.state.lock().await;
            state.refreshing = false;
            match answer {
                Ok(records) => {
                    state.install(records);
                    state.took = Some(started.elapsed());
                }
                Err(_) => state.failed(max_age),
            }
        });
    }

    async fn remember(&self, record: &RemoteRecord) {
        let mut state = self.snapshot.state.lock().await;
        state.touch(&record.id);
        state.by_id.insert(record.id.clone(), record.clone());
    }

    async fn written(
        &self,
        answer: Result<RemoteRecord, RemoteError>,
    ) -> Result<RemoteRecord, RemoteError> {
        if let Ok(record) = &answer {
            self.remember(record).await;
        }
        answer
    }
}

impl RegistryApi for SnapshotRegistry {
    fn model(&self) -> &dyn ProviderModel {
        self.client.model()
    }

    fn get(&self, id: &str) -> impl Future<Output = Result<RemoteRecord, RemoteError>> + Send {
        self.lookup(id)
    }

    fn list_all(
        &self,
        name: Option<&str>,
    ) -> impl Future<Output = Result<Vec<RemoteRecord>, RemoteError>> + Send {
        // Look-ups by name (a pending create) must see the registry as it is now.
        self.client.list_all(name)
    }

    fn list_within(
        &self,
        name: Option<&str>,
        max_pages: usize,
    ) -> impl Future<Output = Result<Listing, RemoteError>> + Send {
        self.client.list_within(name, max_pages)
    }

    async fn create(
        &self,
        fields: &BTreeMap<Field, Value>,
        ctx: &WriteContext,
    ) -> Result<RemoteRecord, RemoteError> {
        let answer = self.client.create(fields, ctx).await;
        self.written(answer).await
    }

    async fn patch(
        &self,
        id: &str,
        changes: &[Change],
        ctx: &WriteContext,
    ) -> Result<RemoteRecord, RemoteError> {
        let answer = self.client.patch(id, changes, ctx).await;
        self.written(answer).await
    }

    async fn delete(&self, id: &str) -> Result<(), RemoteError> {
        let answer = self.client.delete(id).await;
        if answer.is_ok()
            || answer
                .as_ref()
                .is_err_and(|e| e.class == ErrorClass::NotFound)
        {
            let mut state = self.snapshot.state.lock().await;
            state.touch(id);
            state.by_id.remove(id);
        }
        answer
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{PaisProvider, ProviderSpec, SecretKeyRef};
    use crate::provider::http::ClientConfig;
    use crate::provider::model_for;
    use crate::secret::SecretValue;
    use crate::sim::{self, SimConfig, SimHandle};
    use crate::vocab::field::Field;

    fn client(sim: &SimHandle) -> RegistryClient {
        let model = model_for(&ProviderSpec::Pais(PaisProvider {
            token_secret_ref: SecretKeyRef {
                name: "t".into(),
                key: "t".into(),
                namespace: None,
            },
        }));
        let auth = model
            .auth_headers()
            .into_iter()
            .map(|h| (h, SecretValue::new("token")))
            .collect();
        let mut config = ClientConfig::new(sim.base_url("pais").parse().expect("url"));
        config.allow_insecure_http = true;
        config.max_attempts = 1;
        config.requests_per_second = 1000.0;
        config.burst = 100;
        RegistryClient::new(model, config, auth).expect("client")
    }

    async fn record(client: &RegistryClient, name: &str) -> RemoteRecord {
        let fields = BTreeMap::from([
            (Field::DisplayName, Value::from(name)),
            (Field::Url, Value::from("https://mcp.example.com")),
            (Field::Transport, Value::from("StreamableHttp")),
        ]);
        client
            .create(&fields, &WriteContext::default())
            .await
            .expect("create")
    }

    /// Listings and GETs of records the simulator answered.
    fn calls(sim: &SimHandle) -> (usize, usize) {
        let gets: Vec<_> = sim
            .requests()
            .into_iter()
            .filter(|r| r.method == "GET")
            .collect();
        let lists = gets
            .iter()
            .filter(|r| r.path.trim_end_matches('/').ends_with("mcp-servers"))
            .count();
        (lists, gets.len() - lists)
    }

    async fn settled(snapshot: &Snapshot) {
        for _ in 0..100 {
            if !snapshot.state.lock().await.refreshing {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the background listing never ended");
    }

    fn registry(sim: &SimHandle, max_age: Duration) -> SnapshotRegistry {
        SnapshotRegistry {
            client: client(sim),
            snapshot: Arc::default(),
            max_age,
            live: false,
        }
    }

    /// A registry whose listing takes 600 ms, read once and now older than `max_age`.
    async fn slow_registry_due(
        sim: &SimHandle,
        names: &[&str],
    ) -> (SnapshotRegistry, Vec<RemoteRecord>) {
        let max_age = Duration::from_millis(400);
        let registry = registry(sim, max_age);
        let mut records = Vec::new();
        for name in names {
            records.push(record(&registry.client, name).await);
        }
        sim.faults().set_latency(None, Duration::from_millis(600));
        registry.get(&records[0].id).await.expect("get");
        assert!(
            !registry.snapshot.state.lock().await.refreshing,
            "the first listing is waited for"
        );
        tokio::time::sleep(max_age + Duration::from_millis(50)).await;
        sim.clear_log();
        (registry, records)
    }

    #[tokio::test]
    async fn readers_keep_the_previous_listing_while_a_slow_one_is_refreshed() {
        let sim = sim::start(SimConfig::default()).await.expect("sim");
        let (registry, records) = slow_registry_due(&sim, &["first"]).await;
        let seen = registry.get(&records[0].id).await.expect("get");
        assert_eq!(seen.id, records[0].id);
        assert!(
            registry.snapshot.state.lock().await.refreshing,
            "the reader returned before the listing it started"
        );
        settled(&registry.snapshot).await;
        assert_eq!(calls(&sim), (1, 0), "one listing, no GET");
        sim.shutdown().await;
    }

    #[tokio::test]
    async fn a_quick_listing_is_waited_for_and_read_once_per_interval() {
        let sim = sim::start(SimConfig::default()).await.expect("sim");
        let registry = registry(&sim, Duration::from_millis(300));
        let rec = record(&registry.client, "quick").await;
        sim.clear_log();
        for _ in 0..5 {
            registry.get(&rec.id).await.expect("get");
            assert!(!registry.snapshot.state.lock().await.refreshing);
        }
        assert_eq!(calls(&sim), (1, 0), "one listing within the interval");
        tokio::time::sleep(Duration::from_millis(350)).await;
        registry.get(&rec.id).await.expect("get");
        assert_eq!(
            calls(&sim),
            (2, 0),
            "read again once older than the interval"
        );
        sim.shutdown().await;
    }

    #[tokio::test]
    async fn a_write_during_a_refresh_is_not_undone_by_its_listing() {
        let sim = sim::start(SimConfig::default()).await.expect("sim");
        let (registry, records) = slow_registry_due(&sim, &["kept", "gone"]).await;
        let (kept, gone) = (&records[0], &records[1]);
        registry.get(&kept.id).await.expect("get");
        assert!(registry.snapshot.state.lock().await.refreshing);
        // While the listing is read: a write's answer, and a delete.
        let mut renamed = kept.clone();
        renamed
            .fields
            .insert(Field::DisplayName, Value::from("renamed"));
        registry.remember(&renamed).await;
        {
            let mut state = registry.snapshot.state.lock().await;
            state.touch(&gone.id);
            state.by_id.remove(&gone.id);
        }
        settled(&registry.snapshot).await;
        let state = registry.snapshot.state.lock().await;
        assert_eq!(
            state
                .by_id
                .get(&kept.id)
                .and_then(|r| r.fields.get(&Field::DisplayName)),
            Some(&Value::from("renamed"))
        );
        assert!(
            !state.by_id.contains_key(&gone.id),
            "a deleted record came back"
        );
        drop(state);
        sim.shutdown().await;
    }

    #[tokio::test]
    async fn a_failed_listing_waits_out_a_backoff_instead_of_every_reconcile_trying_it() {
        let sim = sim::start(SimConfig::default()).await.expect("sim");
        let registry = registry(&sim, Duration::from_millis(600));
        let rec = record(&registry.client, "one").await;
        sim.clear_log();
        sim.faults().push_next("503:1:pais".parse().expect("fault"));
        for _ in 0..3 {
            assert_eq!(registry.get(&rec.id).await.expect("get").id, rec.id);
        }
        assert_eq!(calls(&sim), (1, 3), "one failed listing, then a GET each");
        // The backoff (capped by the interval) has passed: the listing is tried again.
        tokio::time::sleep(Duration::from_millis(700)).await;
        sim.clear_log();
        for _ in 0..3 {
            registry.get(&rec.id).await.expect("get");
        }
        assert_eq!(calls(&sim), (1, 0), "one listing serves every reader");
        sim.shutdown().await;
    }
}
