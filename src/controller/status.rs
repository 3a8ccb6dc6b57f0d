//! Status through the status subresource, with server-side apply under one field manager:
//! a field the operator stops setting (a cleared `pendingCreate`) is removed. Callers
//! write only when [`crate::engine::material_change`] says so, or when `lastSyncTime` is
//! due once per sync interval.

use std::time::Duration;

use jiff::Timestamp;
use kube::api::{Patch, PatchParams};
use kube::{Api, Resource, ResourceExt};
use serde::Serialize;
use serde_json::json;

use crate::api::{ClusterMcpRegistry, McpRegistry, McpServer, McpServerStatus, RegistryStatus};
use crate::engine::material_change;

/// The field manager of every write the operator makes.
pub const FIELD_MANAGER: &str = "mcpsync";

/// Writes status subresources, and remembers the last McpServer status it wrote: the
/// operator is the only writer of that status, and its cache may lag behind its own
/// writes (a reconcile that read a create intent already cleared could adopt a foreign
/// record by name).
#[derive(Clone)]
pub struct StatusWriter {
    pub client: kube::Client,
    written: std::sync::Arc<parking_lot::Mutex<std::collections::HashMap<String, McpServerStatus>>>,
    /// The last check of each registry (by UID), known before its status write is sent:
    /// a server woken by that write must not read the older status from a cache that has
    /// not seen it yet (it would stay `RegistryNotReady` until the next change).
    checked: std::sync::Arc<parking_lot::Mutex<std::collections::HashMap<String, RegistryStatus>>>,
}

impl StatusWriter {
    pub fn new(client: kube::Client) -> Self {
        StatusWriter {
            client,
            written: Default::default(),
            checked: Default::default(),
        }
    }

    /// Remembers a registry's check result (its next status), whether or not it is written.
    pub fn remember_check(&self, uid: Option<&str>, status: &RegistryStatus) {
        if let Some(uid) = uid {
            self.checked.lock().insert(uid.to_string(), status.clone());
        }
    }

    /// The last check result of this process for a registry, if any.
    pub fn last_check(&self, uid: Option<&str>) -> Option<RegistryStatus> {
        self.checked.lock().get(uid?).cloned()
    }

    /// The status this process last wrote for this object (by UID: a McpServer deleted
    /// and created again under its name starts afresh), if any.
    pub fn last_written(&self, server: &McpServer) -> Option<McpServerStatus> {
        let uid = server.metadata.uid.as_deref()?;
        self.written.lock().get(uid).cloned()
    }

    /// Forgets a server (deleted).
    pub fn forget(&self, server: &McpServer) {
        if let Some(uid) = server.metadata.uid.as_deref() {
            self.written.lock().remove(uid);
        }
    }

    #[cfg(test)]
    pub fn remember_written(&self, uid: &str, status: McpServerStatus) {
        self.written.lock().insert(uid.to_string(), status);
    }

    /// Forgets the status last written for a server (by UID), which is gone.
    pub fn forget_uid(&self, uid: &str) {
        self.written.lock().remove(uid);
    }

    /// Forgets the last check of a registry (by UID), which is gone.
    pub fn forget_check(&self, uid: &str) {
        self.checked.lock().remove(uid);
    }

    /// How many server statuses and registry checks are remembered.
    pub fn remembered(&self) -> (usize, usize) {
        (self.written.lock().len(), self.checked.lock().len())
    }

    async fn apply<K>(
        &self,
        api: Api<K>,
        name: &str,
        status: &impl Serialize,
    ) -> Result<(), kube::Error>
    where
        K: Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
    {
        let patch = json!({
            "apiVersion": K::api_version(&()),
            "kind": K::kind(&()),
            "status": status,
        });
        let params = PatchParams::apply(FIELD_MANAGER).force();
        api.patch_status(name, &params, &Patch::Apply(&patch))
            .await
            .map(|_| ())
    }

    pub async fn write_server(
        &self,
        server: &McpServer,
        status: &McpServerStatus,
    ) -> Result<(), kube::Error> {
        let api = Api::<McpServer>::namespaced(
            self.client.clone(),
            &server.namespace().unwrap_or_default(),
        );
        self.apply(api, &server.name_any(), status).await?;
        if let Some(uid) = server.metadata.uid.clone() {
            self.written.lock().insert(uid, status.clone());
        }
        Ok(())
    }

    pub async fn write_registry(
        &self,
        registry: &McpRegistry,
        status: &RegistryStatus,
    ) -> Result<(), kube::Error> {
        let api = Api::<McpRegistry>::namespaced(
            self.client.clone(),
            &registry.namespace().unwrap_or_default(),
        );
        self.apply(api, &registry.name_any(), status).await
    }

    pub async fn write_cluster_registry(
        &self,
        registry: &ClusterMcpRegistry,
        status: &RegistryStatus,
    ) -> Result<(), kube::Error> {
        let api = Api::<ClusterMcpRegistry>::all(self.client.clone());
        self.apply(api, &registry.name_any(), status).await
    }
}

/// Whether a McpServer's new status must be written: it changed in substance, or the
/// stored `lastSyncTime` is older than the sync interval (so it moves at most once per
/// interval).
pub fn server_status_due(
    stored: &McpServerStatus,
    next: &McpServerStatus,
    interval: Duration,
    now: Timestamp,
) -> bool {
    if material_change(stored, next) {
        return true;
    }
    time_due(
        stored.last_sync_time.as_ref().map(|t| t.0),
        next.last_sync_time.as_ref().map(|t| t.0),
        interval,
        now,
    )
}

/// A registry's status: a change other than `lastCheckedTime`, or that time due.
pub fn registry_status_due(
    stored: &RegistryStatus,
    next: &RegistryStatus,
    interval: Duration,
    now: Timestamp,
) -> bool {
    let strip = |s: &RegistryStatus| {
        let mut s = s.clone();
        s.last_checked_time = None;
        for c in &mut s.conditions {
            c.last_transition_time =
                k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(Timestamp::UNIX_EPOCH);
        }
        s
    };
    strip(stored) != strip(next)
        || time_due(
            stored.last_checked_time.as_ref().map(|t| t.0),
            next.last_checked_time.as_ref().map(|t| t.0),
            interval,
            now,
        )
}

/// A time that moved is written when the stored one is older than 90% of the interval
/// (the requeue jitter takes up to 10% off), or was never written.
fn time_due(
    stored: Option<Timestamp>,
    next: Option<Timestamp>,
    interval: Duration,
    now: Timestamp,
) -> bool {
    match (stored, next) {
        (_, None) => false,
        (None, Some(_)) => true,
        (Some(old), Some(new)) if old == new => false,
        (Some(old), Some(_)) => {
            let age = now.duration_since(old).unsigned_abs();
            age >= interval.mul_f64(0.9)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    #[test]
    fn last_sync_time_is_written_at_most_once_per_interval() {
        let t0 = Timestamp::UNIX_EPOCH + jiff::SignedDuration::from_hours(1);
        let interval = Duration::from_secs(600);
        let at = |secs: i64| {
            let t = t0 + jiff::SignedDuration::from_secs(secs);
            McpServerStatus {
                last_sync_time: Some(Time(t)),
                ..Default::default()
            }
        };
        let stored = at(0);
        let now = |secs: i64| t0 + jiff::SignedDuration::from_secs(secs);
        assert!(!server_status_due(&stored, &at(60), interval, now(60)));
        assert!(!server_status_due(&stored, &at(500), interval, now(500)));
        assert!(server_status_due(&stored, &at(560), interval, now(560)));
        assert!(server_status_due(
            &McpServerStatus::default(),
            &at(1),
            interval,
            now(1)
        ));
        let mut changed = at(60);
        changed.external_id = Some("rec".into());
        assert!(server_status_due(&stored, &changed, interval, now(60)));
    }
}
