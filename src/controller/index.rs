//! Pure indexes fed by the watch streams: which McpServers and registries reference which
//! Secret, and which McpServers use which registry. A change to a Secret or a registry
//! then re-reconciles exactly the objects that use it. Only names are indexed, never data.

use std::collections::{BTreeSet, HashMap};

use crate::api::{ClusterMcpRegistry, McpRegistry, McpServer, RegistryKind};
use crate::engine::{self, SecretNeed};
use crate::provider::model_for;
use crate::reconcile::refs::{RegistryView, server_secret_namespace};
use crate::vocab::{ObjectKey, RegistryId};

/// A Secret by namespace and name.
pub type SecretKey = ObjectKey;

/// What one McpServer references.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServerRefs {
    pub registry: Option<RegistryId>,
    pub secrets: BTreeSet<SecretKey>,
}

/// The references of a McpServer: its registry and the Secrets of its headers and
/// credentials (all in its own namespace).
pub fn server_refs(server: &McpServer) -> ServerRefs {
    let ns = server_secret_namespace(server);
    let wanted = &server.spec.registry_ref;
    let registry = match wanted.kind.unwrap_or_default() {
        RegistryKind::McpRegistry => {
            RegistryId::Namespaced(ObjectKey::new(ns.clone(), wanted.name.clone()))
        }
        RegistryKind::ClusterMcpRegistry => RegistryId::Cluster(wanted.name.clone()),
    };
    let secrets = engine::secret_needs(&server.spec)
        .into_iter()
        .map(|need| match need {
            SecretNeed::HeaderKey { secret, .. } | SecretNeed::WholeSecret { secret } => {
                ObjectKey::new(ns.clone(), secret)
            }
        })
        .collect();
    ServerRefs {
        registry: Some(registry),
        secrets,
    }
}

/// The Secrets a registry's credentials come from (references the namespace rules
/// refuse are left out: they are never read).
pub fn registry_secrets(view: &RegistryView) -> BTreeSet<SecretKey> {
    model_for(&view.connection.provider)
        .auth_headers()
        .into_iter()
        .filter_map(|h| {
            let ns = view.secret_namespace(&h.secret).ok()?;
            Some(ObjectKey::new(ns, h.secret.name))
        })
        .collect()
}

/// The view of a McpRegistry.
pub fn namespaced_view(registry: &McpRegistry) -> Option<RegistryView> {
    let ns = registry.metadata.namespace.clone()?;
    let name = registry.metadata.name.clone()?;
    let id = RegistryId::Namespaced(ObjectKey::new(ns, name));
    let mut view = RegistryView::new(id, registry.spec.connection.clone());
    view.generation = registry.metadata.generation;
    Some(view)
}

/// The view of a ClusterMcpRegistry.
pub fn cluster_view(registry: &ClusterMcpRegistry) -> Option<RegistryView> {
    let id = RegistryId::Cluster(registry.metadata.name.clone()?);
    let mut view = RegistryView::new(id, registry.spec.connection.clone());
    view.generation = registry.metadata.generation;
    Some(view)
}

/// The reverse indexes.
#[derive(Debug, Default)]
pub struct RefIndex {
    servers: HashMap<ObjectKey, ServerRefs>,
    registries: HashMap<RegistryId, BTreeSet<SecretKey>>,
}

impl RefIndex {
    /// Records (or replaces) what a server references.
    pub fn set_server(&mut self, key: ObjectKey, refs: ServerRefs) {
        self.servers.insert(key, refs);
    }

    pub fn remove_server(&mut self, key: &ObjectKey) {
        self.servers.remove(key);
    }

    /// Records (or replaces) the Secrets a registry reads.
    pub fn set_registry(&mut self, id: RegistryId, secrets: BTreeSet<SecretKey>) {
        self.registries.insert(id, secrets);
    }

    pub fn remove_registry(&mut self, id: &RegistryId) {
        self.registries.remove(id);
    }

    /// Servers that use `registry`.
    pub fn servers_of_registry(&self, registry: &RegistryId) -> Vec<ObjectKey> {
        let mut out: Vec<ObjectKey> = self
            .servers
            .iter()
            .filter(|(_, r)| r.registry.as_ref() == Some(registry))
            .map(|(k, _)| k.clone())
            .collect();
        out.sort();
        out
    }

    /// Servers that reference `secret` directly, or through their registry.
    pub fn servers_of_secret(&self, secret: &SecretKey) -> Vec<ObjectKey> {
        let registries = self.registries_of_secret(secret);
        let mut out: Vec<ObjectKey> = self
            .servers
            .iter()
            .filter(|(_, r)| {
                r.secrets.contains(secret)
                    || r.registry
                        .as_ref()
                        .is_some_and(|id| registries.contains(id))
            })
            .map(|(k, _)| k.clone())
            .collect();
        out.sort();
        out
    }

    /// Registries whose credentials come from `secret`.
    pub fn registries_of_secret(&self, secret: &SecretKey) -> Vec<RegistryId> {
        let mut out: Vec<RegistryId> = self
            .registries
            .iter()
            .filter(|(_, s)| s.contains(secret))
            .map(|(id, _)| id.clone())
            .collect();
        out.sort();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(yaml: &str) -> McpServer {
        serde_saphyr::from_str(yaml).unwrap()
    }

    #[test]
    fn a_secret_change_reaches_its_servers_directly_and_through_registries() {
        let mut index = RefIndex::default();
        let a = server(
            "apiVersion: mcpsync.dev/v1alpha1\nkind: McpServer\nmetadata: {name: a, namespace: team-a}\nspec:\n  registryRef: {name: composio}\n  headers: [{name: Authorization, valueFrom: {secretKeyRef: {name: token, key: h}}}]\n",
        );
        let b = server(
            "apiVersion: mcpsync.dev/v1alpha1\nkind: McpServer\nmetadata: {name: b, namespace: team-b}\nspec:\n  registryRef: {kind: ClusterMcpRegistry, name: shared}\n",
        );
        let key_a = ObjectKey::new("team-a", "a");
        let key_b = ObjectKey::new("team-b", "b");
        index.set_server(key_a.clone(), server_refs(&a));
        index.set_server(key_b.clone(), server_refs(&b));
        let shared = RegistryId::Cluster("shared".into());
        index.set_registry(
            shared.clone(),
            BTreeSet::from([ObjectKey::new("mcpsync-system", "api")]),
        );

        assert_eq!(
            index.servers_of_secret(&ObjectKey::new("team-a", "token")),
            vec![key_a.clone()]
        );
        // Same name, other namespace: not referenced.
        assert!(
            index
                .servers_of_secret(&ObjectKey::new("team-b", "token"))
                .is_empty()
        );
        assert_eq!(
            index.servers_of_secret(&ObjectKey::new("mcpsync-system", "api")),
            vec![key_b.clone()]
        );
        assert_eq!(
            index.registries_of_secret(&ObjectKey::new("mcpsync-system", "api")),
            vec![shared.clone()]
        );
        assert_eq!(index.servers_of_registry(&shared), vec![key_b.clone()]);
        assert_eq!(
            index.servers_of_registry(&RegistryId::Namespaced(ObjectKey::new(
                "team-a", "composio"
            ))),
            vec![key_a.clone()]
        );
        index.remove_server(&key_a);
        assert!(
            index
                .servers_of_secret(&ObjectKey::new("team-a", "token"))
                .is_empty()
        );
    }
}
