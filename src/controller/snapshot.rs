//! One remote snapshot per registry: its listing, read at most once per sync interval and
//! refreshed from every write's answer. Reconciles decide against it and fall back to a
//! GET only for a record it lacks, so in steady state the remote traffic of a registry is
//! its LIST pages once per interval: no GET per server, no PATCH.

use std::collections::{BTreeMap, HashMap};
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

/// The listing of one registry.
#[derive(Debug, Default)]
pub struct Snapshot {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    fetched: Option<Instant>,
    by_id: HashMap<String, RemoteRecord>,
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
        let stale = state.fetched.is_none_or(|t| t.elapsed() >= self.max_age);
        if stale {
            tracing::debug!(age = ?state.fetched.map(|t| t.elapsed()), max_age = ?self.max_age, "reading the registry's listing");
            match self.client.list_all(None).await {
                Ok(records) => {
                    state.by_id = records.into_iter().map(|r| (r.id.clone(), r)).collect();
                    state.fetched = Some(Instant::now());
                }
                Err(e) if e.class == ErrorClass::Unauthorized => return Err(e),
                // A listing that fails falls back to one GET for this record.
                Err(_) => {}
            }
        }
        if let Some(record) = state.by_id.get(id).filter(|_| state.fetched.is_some()) {
            return Ok(record.clone());
        }
        drop(state);
        // Not in the listing (created since, or hidden by it): confirm with a GET.
        let record = self.client.get(id).await?;
        self.remember(&record).await;
        Ok(record)
    }

    async fn remember(&self, record: &RemoteRecord) {
        self.snapshot
            .state
            .lock()
            .await
            .by_id
            .insert(record.id.clone(), record.clone());
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
            self.snapshot.state.lock().await.by_id.remove(id);
        }
        answer
    }
}
