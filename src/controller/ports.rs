//! The pipeline's ports served from Kubernetes: Secret values by GET (never cached),
//! create intents persisted in the McpServer's status before the POST, and record
//! ownership from the McpServer cache.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::runtime::reflector::Store;

use crate::api::{McpServer, McpServerStatus};
use crate::controller::index::server_refs;
use crate::controller::status::StatusWriter;
use crate::reconcile::ports::{IntentSink, OwnershipIndex, SecretSource};
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

impl IntentSink for StatusIntents<'_> {
    async fn record(&mut self, intents: &[(ObjectKey, McpServerStatus)]) -> Result<(), String> {
        for (_, status) in intents {
            self.writer
                .write_server(self.server, status)
                .await
                .map_err(|e| {
                    format!(
                        "the create intent could not be written to the status: {}",
                        kube_message(&e)
                    )
                })?;
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
