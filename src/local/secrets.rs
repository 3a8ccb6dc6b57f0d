//! Secrets read from manifest files, and the registries the manifests declare (as a
//! [`RegistrySource`]). The namespace and look-up rules themselves are shared with every
//! front end ([`crate::reconcile::refs`], [`crate::reconcile::lookup`]).

use std::collections::BTreeMap;
use std::fmt;

use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;

use super::manifests::Manifests;
use crate::reconcile::ports::{Health, RegistrySource, SecretSource, SourcedRegistry};
pub use crate::reconcile::refs::{
    RefError, RegistryView, SecretData, SecretError, registry_secret_namespace,
    server_secret_namespace,
};
use crate::secret::SecretValue;
use crate::vocab::{ObjectKey, RegistryId};

/// Values of the loaded Secrets, by namespace and name. Its `Debug` shows names and key
/// names only: a value must never reach a log line, an error or a test failure.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SecretStore {
    secrets: BTreeMap<(String, String), SecretData>,
}

impl fmt::Debug for SecretStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.secrets.values()).finish()
    }
}

impl SecretStore {
    /// Adds a Secret as the API server would store it: `stringData` entries win over
    /// `data` entries of the same key. A Secret without namespace lands in `default`.
    pub fn insert_secret(&mut self, secret: &Secret) {
        let namespace = secret
            .metadata
            .namespace
            .clone()
            .unwrap_or_else(|| crate::reconcile::refs::DEFAULT_NAMESPACE.to_string());
        let name = secret.name_any();
        let data = SecretData::new(&namespace, &name, secret);
        self.secrets.insert((namespace, name), data);
    }

    /// Whether a Secret of that namespace and name was loaded.
    pub fn contains(&self, namespace: &str, name: &str) -> bool {
        self.secrets
            .contains_key(&(namespace.to_string(), name.to_string()))
    }

    /// Number of Secrets loaded.
    pub fn len(&self) -> usize {
        self.secrets.len()
    }

    /// Whether no Secret was loaded.
    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }

    /// The text of one key.
    pub fn get(&self, namespace: &str, name: &str, key: &str) -> Result<String, SecretError> {
        let data = self.secret(namespace, name, Some(key))?;
        data.key(key).map(|v| v.expose().to_string())
    }

    /// Every key of one Secret as text (for `credentials.secretRef`).
    pub fn get_all(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<BTreeMap<String, String>, SecretError> {
        let all = self.secret(namespace, name, None)?.all()?;
        Ok(all
            .into_iter()
            .map(|(k, v)| (k, v.expose().to_string()))
            .collect())
    }

    fn secret(
        &self,
        namespace: &str,
        name: &str,
        key: Option<&str>,
    ) -> Result<&SecretData, SecretError> {
        self.secrets
            .get(&(namespace.to_string(), name.to_string()))
            .ok_or_else(|| SecretError::NotFound {
                namespace: namespace.to_string(),
                name: name.to_string(),
                key: key.map(str::to_string),
            })
    }
}

impl SecretSource for SecretStore {
    async fn key(
        &self,
        namespace: &str,
        name: &str,
        key: &str,
    ) -> Result<SecretValue, SecretError> {
        self.secret(namespace, name, Some(key))?.key(key)
    }

    async fn all(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<BTreeMap<String, SecretValue>, SecretError> {
        self.secret(namespace, name, None)?.all()
    }
}

/// The registries declared in the files. Local mode keeps no registry checks: a
/// registry found is used as it is.
impl RegistrySource for Manifests {
    fn place(&self) -> &'static str {
        "in the manifests"
    }

    fn mcp_registry(&self, key: &ObjectKey) -> Option<SourcedRegistry> {
        let registry = self.registries.iter().map(|l| &l.object).find(|r| {
            r.name_any() == key.name && r.namespace().as_deref() == Some(&key.namespace)
        })?;
        Some(SourcedRegistry {
            view: RegistryView::new(
                RegistryId::Namespaced(key.clone()),
                registry.spec.connection.clone(),
            ),
            allowed_namespaces: None,
            health: Health::Untracked,
        })
    }

    fn cluster_registry(&self, name: &str) -> Option<SourcedRegistry> {
        let registry = self
            .cluster_registries
            .iter()
            .map(|l| &l.object)
            .find(|r| r.name_any() == name)?;
        Some(SourcedRegistry {
            view: RegistryView::new(
                RegistryId::Cluster(name.to_string()),
                registry.spec.connection.clone(),
            ),
            allowed_namespaces: registry.spec.allowed_namespaces.clone(),
            health: Health::Untracked,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{McpServer, RegistryKind, SecretKeyRef};
    use crate::local::manifests::load;
    use crate::reconcile::lookup::{LookupError, find_registry};
    use k8s_openapi::ByteString;

    fn store_with(namespace: &str, name: &str, data: &[(&str, &[u8])]) -> SecretStore {
        let mut secret = Secret::default();
        secret.metadata.name = Some(name.to_string());
        secret.metadata.namespace = Some(namespace.to_string());
        secret.data = Some(
            data.iter()
                .map(|(k, v)| (k.to_string(), ByteString(v.to_vec())))
                .collect(),
        );
        let mut store = SecretStore::default();
        store.insert_secret(&secret);
        store
    }

    fn key_ref(namespace: Option<&str>) -> SecretKeyRef {
        SecretKeyRef {
            name: "api".to_string(),
            key: "key".to_string(),
            namespace: namespace.map(str::to_string),
        }
    }

    #[test]
    fn get_returns_the_value_of_an_existing_key() {
        let store = store_with("team-a", "github-token", &[("header", b"Bearer x")]);
        assert_eq!(
            store.get("team-a", "github-token", "header").unwrap(),
            "Bearer x"
        );
    }

    #[test]
    fn get_names_the_missing_secret() {
        let store = store_with("team-a", "github-token", &[("header", b"v")]);
        let err = store.get("team-b", "github-token", "header").unwrap_err();
        assert_eq!(
            err.to_string(),
            "Secret team-b/github-token not found (key \"header\" wanted)"
        );
        assert_eq!(err.reason(), "SecretNotFound");
    }

    #[test]
    fn get_names_the_missing_key_and_lists_the_present_ones() {
        let store = store_with("team-a", "github-token", &[("token", b"CANARY")]);
        let err = store.get("team-a", "github-token", "header").unwrap_err();
        assert_eq!(
            err.to_string(),
            "Secret team-a/github-token has no key \"header\" (it has: token)"
        );
    }

    #[test]
    fn non_utf8_value_is_an_error_naming_the_key() {
        let store = store_with("ns", "s", &[("bin", &[0xff, 0xfe])]);
        let err = store.get("ns", "s", "bin").unwrap_err();
        assert_eq!(err.to_string(), "Secret ns/s key \"bin\" is not UTF-8 text");
        assert!(store.get_all("ns", "s").is_err());
    }

    #[test]
    fn get_all_returns_every_key() {
        let store = store_with("ns", "creds", &[("user", b"u"), ("password", b"p")]);
        let all = store.get_all("ns", "creds").unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all["password"], "p");
        assert!(store.get_all("ns", "other").is_err());
    }

    #[test]
    fn debug_shows_key_names_but_no_values() {
        let store = store_with("ns", "s", &[("token", b"CANARY-91c2")]);
        let debug = format!("{store:?}");
        assert!(debug.contains("ns/s") && debug.contains("token"), "{debug}");
        assert!(!debug.contains("CANARY-91c2"), "{debug}");
    }

    #[test]
    fn mcp_registry_ref_without_namespace_reads_the_registry_namespace() {
        let ns =
            registry_secret_namespace(&key_ref(None), RegistryKind::McpRegistry, Some("team-a"));
        assert_eq!(ns.unwrap(), "team-a");
    }

    #[test]
    fn mcp_registry_ref_may_repeat_its_own_namespace() {
        let r = key_ref(Some("team-a"));
        let ns = registry_secret_namespace(&r, RegistryKind::McpRegistry, Some("team-a"));
        assert_eq!(ns.unwrap(), "team-a");
    }

    #[test]
    fn mcp_registry_ref_to_another_namespace_is_refused() {
        let r = key_ref(Some("kube-system"));
        let err = registry_secret_namespace(&r, RegistryKind::McpRegistry, Some("team-a"));
        let err = err.unwrap_err();
        assert!(matches!(err, RefError::ForeignNamespace { .. }));
        assert!(err.to_string().contains("\"kube-system\""), "{err}");
        assert_eq!(err.reason(), "InvalidSpec");
    }

    #[test]
    fn cluster_registry_ref_uses_the_namespace_it_names() {
        let r = key_ref(Some("mcpsync-system"));
        let ns = registry_secret_namespace(&r, RegistryKind::ClusterMcpRegistry, None);
        assert_eq!(ns.unwrap(), "mcpsync-system");
    }

    #[test]
    fn cluster_registry_ref_without_namespace_is_refused() {
        let err = registry_secret_namespace(&key_ref(None), RegistryKind::ClusterMcpRegistry, None);
        assert!(matches!(
            err,
            Err(RefError::ClusterRefWithoutNamespace { .. })
        ));
    }

    const REGISTRIES: &str = "apiVersion: mcpsync.dev/v1alpha1
kind: McpRegistry
metadata: {name: pais, namespace: team-a}
spec:
  provider: {pais: {tokenSecretRef: {name: pais-token, key: token}}}
  baseUrl: https://pais.example.com
---
apiVersion: mcpsync.dev/v1alpha1
kind: ClusterMcpRegistry
metadata: {name: open}
spec:
  provider: {composio: {apiKeySecretRef: {name: c, key: k, namespace: mcpsync-system}}}
---
apiVersion: mcpsync.dev/v1alpha1
kind: ClusterMcpRegistry
metadata: {name: restricted}
spec:
  provider: {composio: {apiKeySecretRef: {name: c, key: k, namespace: mcpsync-system}}}
  allowedNamespaces: [team-a]
";

    fn manifests() -> (tempfile::TempDir, Manifests) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("registries.yaml");
        std::fs::write(&path, REGISTRIES).unwrap();
        let m = load(&[path]).unwrap();
        (dir, m)
    }

    fn server(namespace: &str, kind: Option<RegistryKind>, registry: &str) -> McpServer {
        let mut server = McpServer::new("github", Default::default());
        server.metadata.namespace = Some(namespace.to_string());
        server.spec.registry_ref.kind = kind;
        server.spec.registry_ref.name = registry.to_string();
        server
    }

    #[test]
    fn mcp_registry_is_found_in_the_server_namespace() {
        let (_dir, m) = manifests();
        let view = find_registry(&m, &server("team-a", None, "pais")).unwrap();
        assert_eq!(view.label(), "McpRegistry/team-a/pais");
        assert_eq!(
            view.connection.base_url.as_deref(),
            Some("https://pais.example.com")
        );
        let token_ref = key_ref(None);
        assert_eq!(view.secret_namespace(&token_ref).unwrap(), "team-a");
    }

    #[test]
    fn mcp_registry_of_another_namespace_is_not_found() {
        let (_dir, m) = manifests();
        let err = find_registry(&m, &server("team-b", None, "pais")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "McpServer team-b/github refers to McpRegistry team-b/pais, which is not in the manifests"
        );
        assert_eq!(err.reason(), "RegistryNotReady");
    }

    #[test]
    fn cluster_registry_without_allow_list_serves_every_namespace() {
        let (_dir, m) = manifests();
        let kind = Some(RegistryKind::ClusterMcpRegistry);
        let view = find_registry(&m, &server("anything", kind, "open")).unwrap();
        assert_eq!(view.label(), "ClusterMcpRegistry/open");
        assert_eq!(view.id.namespace(), None);
    }

    #[test]
    fn cluster_registry_allow_list_admits_listed_namespace() {
        let (_dir, m) = manifests();
        let kind = Some(RegistryKind::ClusterMcpRegistry);
        assert!(find_registry(&m, &server("team-a", kind, "restricted")).is_ok());
    }

    #[test]
    fn cluster_registry_allow_list_refuses_other_namespace() {
        let (_dir, m) = manifests();
        let kind = Some(RegistryKind::ClusterMcpRegistry);
        let err = find_registry(&m, &server("team-b", kind, "restricted")).unwrap_err();
        assert!(matches!(err, LookupError::NotAllowed { .. }));
        assert!(
            err.to_string().contains("allowedNamespaces (team-a)"),
            "{err}"
        );
    }

    #[test]
    fn missing_cluster_registry_is_not_found() {
        let (_dir, m) = manifests();
        let kind = Some(RegistryKind::ClusterMcpRegistry);
        let err = find_registry(&m, &server("team-a", kind, "nope")).unwrap_err();
        assert!(matches!(err, LookupError::NotFound { .. }));
    }
}
