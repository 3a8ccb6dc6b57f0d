//! What the pipeline needs from a front end, as small traits: the cluster serves them from
//! Kubernetes, `plan`/`apply` from manifest files and a state file, tests from plain data.

use std::collections::BTreeMap;
use std::future::Future;

use serde_json::Value;

use crate::api::{McpServerStatus, RegistryStatus};
use crate::provider::ProviderModel;
use crate::provider::http::{Listing, RegistryClient};
use crate::reconcile::refs::{RegistryView, SecretError};
use crate::secret::SecretValue;
use crate::vocab::{Change, Field, ObjectKey, RegistryId, RemoteError, RemoteRecord, WriteContext};

/// Secret values, read from the namespace a reference resolves to. Implementations read
/// only what is asked for and never log a value.
pub trait SecretSource: Sync {
    /// The text of one key.
    fn key(
        &self,
        namespace: &str,
        name: &str,
        key: &str,
    ) -> impl Future<Output = Result<SecretValue, SecretError>> + Send;
    /// Every key of one Secret (for `credentials.secretRef`).
    fn all(
        &self,
        namespace: &str,
        name: &str,
    ) -> impl Future<Output = Result<BTreeMap<String, SecretValue>, SecretError>> + Send;
}

/// Who manages which remote record: one record, one McpServer.
pub trait OwnershipIndex: Sync {
    /// Another McpServer (not `except`) that manages the record `record_id` of `registry`
    /// (its id recorded in status, or pinned by `spec.externalId`).
    fn owner(
        &self,
        registry: &RegistryId,
        record_id: &str,
        except: &ObjectKey,
    ) -> Option<ObjectKey>;
}

/// Where create intents are persisted before a POST is sent (a McpServer's status in a
/// cluster, the state file in local mode). If recording fails, nothing is POSTed.
pub trait IntentSink: Send {
    /// Why the intents could not be persisted; its message ends up in the server's result.
    type Error: std::error::Error + Send + Sync + 'static;
    /// Persists `intents` (each a status holding `pendingCreate`) and returns only once
    /// they are durable.
    fn record(
        &mut self,
        intents: &[(ObjectKey, McpServerStatus)],
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;
}

/// Where the registries McpServers name are looked up (the cluster's caches, the
/// manifests); [`crate::reconcile::lookup::find_registry`] applies the rules.
pub trait RegistrySource {
    /// Where it looks, as messages say it: `in the cluster`, `in the manifests`.
    fn place(&self) -> &'static str;
    /// The McpRegistry `key` (namespace and name).
    fn mcp_registry(&self, key: &ObjectKey) -> Option<SourcedRegistry>;
    /// The ClusterMcpRegistry `name`.
    fn cluster_registry(&self, name: &str) -> Option<SourcedRegistry>;
}

/// A registry as a [`RegistrySource`] holds it.
#[derive(Clone, Debug, PartialEq)]
pub struct SourcedRegistry {
    pub view: RegistryView,
    /// A ClusterMcpRegistry's `allowedNamespaces` (absent: every namespace).
    pub allowed_namespaces: Option<Vec<String>>,
    pub health: Health,
}

/// What a source knows of a registry's checks.
#[derive(Clone, Debug, PartialEq)]
pub enum Health {
    /// The source keeps no checks (manifest files): a registry found is usable.
    Untracked,
    /// The status of its last check; `None` before the first.
    Checked(Option<RegistryStatus>),
}

/// The calls a registry answers. The HTTP client implements it; pipeline tests can use a
/// plain in-memory registry.
pub trait RegistryApi: Sync {
    fn model(&self) -> &dyn ProviderModel;
    /// The record with `id`; a soft-deleted record is `NotFound`.
    fn get(&self, id: &str) -> impl Future<Output = Result<RemoteRecord, RemoteError>> + Send;
    /// Every record (all pages); `name` keeps only records with exactly that name.
    fn list_all(
        &self,
        name: Option<&str>,
    ) -> impl Future<Output = Result<Vec<RemoteRecord>, RemoteError>> + Send;
    /// The listing if it fits in `max_pages` pages, else what those pages hold.
    fn list_within(
        &self,
        name: Option<&str>,
        max_pages: usize,
    ) -> impl Future<Output = Result<Listing, RemoteError>> + Send;
    fn create(
        &self,
        fields: &BTreeMap<Field, Value>,
        ctx: &WriteContext,
    ) -> impl Future<Output = Result<RemoteRecord, RemoteError>> + Send;
    fn patch(
        &self,
        id: &str,
        changes: &[Change],
        ctx: &WriteContext,
    ) -> impl Future<Output = Result<RemoteRecord, RemoteError>> + Send;
    /// 404 comes back as `NotFound`: the caller decides whether that counts as done.
    fn delete(&self, id: &str) -> impl Future<Output = Result<(), RemoteError>> + Send;
}

impl RegistryApi for RegistryClient {
    fn model(&self) -> &dyn ProviderModel {
        RegistryClient::model(self)
    }
    fn get(&self, id: &str) -> impl Future<Output = Result<RemoteRecord, RemoteError>> + Send {
        RegistryClient::get(self, id)
    }
    fn list_all(
        &self,
        name: Option<&str>,
    ) -> impl Future<Output = Result<Vec<RemoteRecord>, RemoteError>> + Send {
        RegistryClient::list_all(self, name)
    }
    fn list_within(
        &self,
        name: Option<&str>,
        max_pages: usize,
    ) -> impl Future<Output = Result<Listing, RemoteError>> + Send {
        RegistryClient::list_within(self, name, max_pages)
    }
    fn create(
        &self,
        fields: &BTreeMap<Field, Value>,
        ctx: &WriteContext,
    ) -> impl Future<Output = Result<RemoteRecord, RemoteError>> + Send {
        RegistryClient::create(self, fields, ctx)
    }
    fn patch(
        &self,
        id: &str,
        changes: &[Change],
        ctx: &WriteContext,
    ) -> impl Future<Output = Result<RemoteRecord, RemoteError>> + Send {
        RegistryClient::patch(self, id, changes, ctx)
    }
    fn delete(&self, id: &str) -> impl Future<Output = Result<(), RemoteError>> + Send {
        RegistryClient::delete(self, id)
    }
}

/// A borrowed registry answers as the registry itself (a front end keeps its client while
/// a step uses it).
impl<R: RegistryApi> RegistryApi for &R {
    fn model(&self) -> &dyn ProviderModel {
        (*self).model()
    }
    fn get(&self, id: &str) -> impl Future<Output = Result<RemoteRecord, RemoteError>> + Send {
        (*self).get(id)
    }
    fn list_all(
        &self,
        name: Option<&str>,
    ) -> impl Future<Output = Result<Vec<RemoteRecord>, RemoteError>> + Send {
        (*self).list_all(name)
    }
    fn list_within(
        &self,
        name: Option<&str>,
        max_pages: usize,
    ) -> impl Future<Output = Result<Listing, RemoteError>> + Send {
        (*self).list_within(name, max_pages)
    }
    fn create(
        &self,
        fields: &BTreeMap<Field, Value>,
        ctx: &WriteContext,
    ) -> impl Future<Output = Result<RemoteRecord, RemoteError>> + Send {
        (*self).create(fields, ctx)
    }
    fn patch(
        &self,
        id: &str,
        changes: &[Change],
        ctx: &WriteContext,
    ) -> impl Future<Output = Result<RemoteRecord, RemoteError>> + Send {
        (*self).patch(id, changes, ctx)
    }
    fn delete(&self, id: &str) -> impl Future<Output = Result<(), RemoteError>> + Send {
        (*self).delete(id)
    }
}
