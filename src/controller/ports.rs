//! The pipeline's ports served from Kubernetes: Secret values by GET (never cached),
//! create intents persisted in the McpServer's status before the POST, record ownership
//! from the McpServer cache, and registries from their caches with their last checks.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::runtime::reflector::Store;

use kube::api::ObjectMeta;

use crate::api::{McpServer, McpServerStatus, RegistryStatus};
use crate::controller::context::Stores;
use crate::controller::index::{cluster_view, namespaced_view, server_refs};
use crate::controller::status::StatusWriter;
use crate::reconcile::ports::{
    Health, IntentSink, OwnershipIndex, RegistrySource, SecretSource, SourcedRegistry,
};
use crate::reconcile::refs::{SecretData, SecretError};
use crate::secret::SecretValue;
use crate::vocab::{ObjectKey, RegistryId};

/// Secrets read with a GET when a reconcile needs them. Nothing is cached: the value lives
/// only as long as the reconcile that asked.
#[derive(Clone)]
pub struct KubeSecrets {
    pub client: kube::Client,
}

impl KubeSecrets {
    async fn read(
        &self,
        namespace: &str,
        name: &str,
        key: Option<&str>,
    ) -> Result<SecretData, SecretError> {
        let api: Api<Secret> = Api::namespaced(self.client.clone(), namespace);
        match api.get_opt(name).await {
            Ok(Some(secret)) => Ok(SecretData::new(namespace, name, &secret)),
            Ok(None) => Err(SecretError::NotFound {
                namespace: namespace.to_string(),
                name: name.to_string(),
                key: key.map(str::to_string),
            }),
            Err(e) => Err(SecretError::Unreadable {
                namespace: namespace.to_string(),
                name: name.to_string(),
                message: kube_message(&e),
            }),
        }
    }
}

/// An API error for a person: the API server's status message (it never holds Secret data).
pub fn kube_message(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(status) => format!("{} ({})", status.message, status.code),
        other => other.to_string(),
    }
}

impl SecretSource for KubeSecrets {
    async fn key(
        &self,
        namespace: &str,
        name: &str,
        key: &str,
    ) -> Result<SecretValue, SecretError> {
        self.read(namespace, name, Some(key)).await?.key(key)
    }

    async fn all(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<BTreeMap<String, SecretValue>, SecretError> {
        self.read(namespace, name, None).await?.all()
    }
}

/// Create intents written to the McpServer's status; the POST waits for the answer.
pub struct StatusIntents<'a> {
    pub writer: &'a StatusWriter,
    pub server: &'a McpServer,
}

/// A create intent the API server did not store.
#[derive(Debug, thiserror::Error)]
#[error("the create intent could not be written to the status: {}", kube_message(.0))]
pub struct IntentNotWritten(#[source] pub kube::Error);

impl IntentSink for StatusIntents<'_> {
    type Error = IntentNotWritten;

    async fn record(
        &mut self,
        intents: &[(ObjectKey, McpServerStatus)],
    ) -> Result<(), IntentNotWritten> {
        for (_, status) in intents {
            self.writer
                .write_server(self.server, status)
                .await
                .map_err(IntentNotWritten)?;
        }
        Ok(())
    }
}

/// Who manages which record, from the McpServer caches: a record id recorded in another
/// server's status or pinned by its `spec.externalId`, in the same registry.
pub struct StoreOwners<'a> {
    pub stores: &'a [Store<McpServer>],
}

impl OwnershipIndex for StoreOwners<'_> {
    fn owner(
        &self,
        registry: &RegistryId,
        record_id: &str,
        except: &ObjectKey,
    ) -> Option<ObjectKey> {
        self.stores
            .iter()
            .flat_map(|s| s.state())
            .find_map(|server| {
                let key = ObjectKey::new(
                    server.metadata.namespace.clone().unwrap_or_default(),
                    server.metadata.name.clone().unwrap_or_default(),
                );
                let id = server.spec.external_id.as_deref().or(server
                    .status
                    .as_ref()
                    .and_then(|s| s.external_id.as_deref()));
                let same_registry = server_refs(&server).registry.as_ref() == Some(registry);
                (key != *except && same_registry && id == Some(record_id)).then_some(key)
            })
    }
}

/// Registries from the caches, each with the status of its last check as this process
/// knows it.
pub struct StoreRegistries<'a> {
    pub stores: &'a Stores,
    pub writer: &'a StatusWriter,
}

impl StoreRegistries<'_> {
    /// Its own last check for the registry's current generation, else the cached status
    /// (which may lag behind that check).
    fn last_check(&self, meta: &ObjectMeta, cached: Option<&RegistryStatus>) -> Health {
        let own = self
            .writer
            .last_check(meta.uid.as_deref())
            .filter(|s| s.observed_generation == meta.generation);
        Health::Checked(own.or_else(|| cached.cloned()))
    }
}

impl RegistrySource for StoreRegistries<'_> {
    fn place(&self) -> &'static str {
        "in the cluster"
    }

    fn mcp_registry(&self, key: &ObjectKey) -> Option<SourcedRegistry> {
        let registry = self.stores.registry(key)?;
        Some(SourcedRegistry {
            view: namespaced_view(&registry)?,
            allowed_namespaces: None,
            health: self.last_check(&registry.metadata, registry.status.as_ref()),
        })
    }

    fn cluster_registry(&self, name: &str) -> Option<SourcedRegistry> {
        let registry = self.stores.cluster_registry(name)?;
        Some(SourcedRegistry {
            view: cluster_view(&registry)?,
            allowed_namespaces: registry.spec.allowed_namespaces.clone(),
            health: self.last_check(&registry.metadata, registry.status.as_ref()),
        })
    }
}
