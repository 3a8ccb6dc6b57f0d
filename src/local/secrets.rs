//! Secrets read from manifest files, and the namespace rules of api.md that decide which
//! Secret a reference may reach. The rules are pure functions so that every front end
//! (controller, `plan`, `apply`) refuses the same references with the same words.

use std::collections::BTreeMap;
use std::fmt;

use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;

use super::manifests::{DEFAULT_NAMESPACE, Manifests};
use crate::api::registry::RegistryConnection;
use crate::api::{McpServer, RegistryKind, SecretKeyRef};

/// Values of the loaded Secrets, by namespace and name. Its `Debug` shows names and key
/// names only: a value must never reach a log line, an error or a test failure.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SecretStore {
    secrets: BTreeMap<(String, String), BTreeMap<String, Vec<u8>>>,
}

/// A Secret or key a reference names is not there, or not usable. Never holds a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// No Secret of that namespace and name was loaded; `key` is the key that was
    /// wanted from it, when one was.
    #[error("Secret {namespace}/{name} not found{}", wanted_key(.key.as_deref()))]
    NotFound {
        namespace: String,
        name: String,
        key: Option<String>,
    },
    /// The Secret exists but lacks the key.
    #[error("Secret {namespace}/{name} has no key {key:?} (it has: {available})")]
    MissingKey {
        namespace: String,
        name: String,
        key: String,
        available: String,
    },
    /// The value is binary; headers and credentials need text.
    #[error("Secret {namespace}/{name} key {key:?} is not UTF-8 text")]
    NotUtf8 {
        namespace: String,
        name: String,
        key: String,
    },
}

/// ` (key "k" wanted)`, or nothing when the whole Secret was wanted.
fn wanted_key(key: Option<&str>) -> String {
    key.map(|k| format!(" (key {k:?} wanted)"))
        .unwrap_or_default()
}

impl SecretError {
    /// The condition reason api.md gives every secret failure.
    pub fn reason(&self) -> crate::api::conditions::Reason {
        crate::api::conditions::Reason::SecretNotFound
    }
}

impl fmt::Debug for SecretStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut list = f.debug_list();
        for ((ns, name), values) in &self.secrets {
            let keys: Vec<&str> = values.keys().map(String::as_str).collect();
            list.entry(&format_args!("{ns}/{name} keys {keys:?}"));
        }
        list.finish()
    }
}

impl SecretStore {
    /// Adds a Secret as the API server would store it: `stringData` entries win over
    /// `data` entries of the same key. A Secret without namespace lands in `default`.
    pub fn insert_secret(&mut self, secret: &Secret) {
        let mut values: BTreeMap<String, Vec<u8>> = BTreeMap::new();
        for (key, bytes) in secret.data.iter().flatten() {
            values.insert(key.clone(), bytes.0.clone());
        }
        for (key, text) in secret.string_data.iter().flatten() {
            values.insert(key.clone(), text.clone().into_bytes());
        }
        let namespace = secret
            .metadata
            .namespace
            .clone()
            .unwrap_or_else(|| DEFAULT_NAMESPACE.to_string());
        self.secrets.insert((namespace, secret.name_any()), values);
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
        let values = self.secret(namespace, name).map_err(|e| match e {
            SecretError::NotFound {
                namespace, name, ..
            } => SecretError::NotFound {
                namespace,
                name,
                key: Some(key.to_string()),
            },
            other => other,
        })?;
        let bytes = values.get(key).ok_or_else(|| SecretError::MissingKey {
            namespace: namespace.to_string(),
            name: name.to_string(),
            key: key.to_string(),
            available: key_list(values),
        })?;
        text(namespace, name, key, bytes)
    }

    /// Every key of one Secret as text (for `credentials.secretRef`).
    pub fn get_all(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<BTreeMap<String, String>, SecretError> {
        self.secret(namespace, name)?
            .iter()
            .map(|(key, bytes)| Ok((key.clone(), text(namespace, name, key, bytes)?)))
            .collect()
    }

    fn secret(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<&BTreeMap<String, Vec<u8>>, SecretError> {
        self.secrets
            .get(&(namespace.to_string(), name.to_string()))
            .ok_or_else(|| SecretError::NotFound {
                namespace: namespace.to_string(),
                name: name.to_string(),
                key: None,
            })
    }
}

fn key_list(values: &BTreeMap<String, Vec<u8>>) -> String {
    if values.is_empty() {
        return "no keys".to_string();
    }
    values
        .keys()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

fn text(namespace: &str, name: &str, key: &str, bytes: &[u8]) -> Result<String, SecretError> {
    String::from_utf8(bytes.to_vec()).map_err(|_| SecretError::NotUtf8 {
        namespace: namespace.to_string(),
        name: name.to_string(),
        key: key.to_string(),
    })
}

/// A reference that api.md's rules refuse, or a registry that cannot be found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RefError {
    /// A McpRegistry may only read Secrets of its own namespace.
    #[error(
        "secret reference {secret:?} names namespace {secret_namespace:?}, but a McpRegistry may only use Secrets of its own namespace {registry_namespace:?}: omit the namespace or use a ClusterMcpRegistry"
    )]
    ForeignNamespace {
        secret: String,
        secret_namespace: String,
        registry_namespace: String,
    },
    /// A McpRegistry object without a namespace cannot anchor its references.
    #[error("secret reference {secret:?} belongs to a McpRegistry without a namespace")]
    RegistryWithoutNamespace { secret: String },
    /// A ClusterMcpRegistry has no namespace of its own to fall back to.
    #[error(
        "secret reference {secret:?} of a ClusterMcpRegistry must name its namespace (add namespace: ...)"
    )]
    ClusterRefWithoutNamespace { secret: String },
    /// The McpServer's registryRef names a registry that is not in the manifests.
    #[error("McpServer {server} refers to {registry}, which is not in the manifests")]
    RegistryNotFound { server: String, registry: String },
    /// The ClusterMcpRegistry's `allowedNamespaces` leaves the server's namespace out.
    #[error(
        "McpServer {server} may not use ClusterMcpRegistry {registry}: its allowedNamespaces ({allowed}) do not include {namespace:?}"
    )]
    NamespaceNotAllowed {
        server: String,
        registry: String,
        namespace: String,
        allowed: String,
    },
}

impl RefError {
    /// The condition reason api.md gives this failure.
    pub fn reason(&self) -> crate::api::conditions::Reason {
        use crate::api::conditions::Reason;
        match self {
            RefError::RegistryNotFound { .. } | RefError::NamespaceNotAllowed { .. } => {
                Reason::RegistryNotReady
            }
            _ => Reason::InvalidSpec,
        }
    }
}

/// The namespace a registry's secret reference reads from. A McpRegistry: no namespace
/// or its own (anything else is refused, never followed). A ClusterMcpRegistry: the
/// reference must name one.
pub fn registry_secret_namespace(
    secret_ref: &SecretKeyRef,
    registry_kind: RegistryKind,
    registry_namespace: Option<&str>,
) -> Result<String, RefError> {
    let secret = secret_ref.name.clone();
    match (registry_kind, secret_ref.namespace.as_deref()) {
        (RegistryKind::ClusterMcpRegistry, Some(ns)) => Ok(ns.to_string()),
        (RegistryKind::ClusterMcpRegistry, None) => {
            Err(RefError::ClusterRefWithoutNamespace { secret })
        }
        (RegistryKind::McpRegistry, wanted) => {
            let own = registry_namespace.ok_or(RefError::RegistryWithoutNamespace {
                secret: secret.clone(),
            })?;
            match wanted {
                None => Ok(own.to_string()),
                Some(ns) if ns == own => Ok(own.to_string()),
                Some(ns) => Err(RefError::ForeignNamespace {
                    secret,
                    secret_namespace: ns.to_string(),
                    registry_namespace: own.to_string(),
                }),
            }
        }
    }
}

/// The namespace every Secret of a McpServer is read from: its own (api.md), `default`
/// when the object names none, as kubectl does.
pub fn server_secret_namespace(server: &McpServer) -> String {
    server
        .metadata
        .namespace
        .clone()
        .unwrap_or_else(|| DEFAULT_NAMESPACE.to_string())
}

/// The registry a McpServer uses, whichever of the two kinds it is.
#[derive(Debug, Clone, PartialEq)]
pub struct RegistryView<'a> {
    /// McpRegistry or ClusterMcpRegistry.
    pub kind: RegistryKind,
    /// `metadata.name` of the registry object.
    pub name: String,
    /// Its namespace (McpRegistry only).
    pub namespace: Option<String>,
    /// Provider, base URL and limits.
    pub connection: &'a RegistryConnection,
}

impl RegistryView<'_> {
    /// `McpRegistry/ns/name` or `ClusterMcpRegistry/name`: the label the state file and
    /// messages use.
    pub fn label(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{:?}/{ns}/{}", self.kind, self.name),
            None => format!("{:?}/{}", self.kind, self.name),
        }
    }

    /// The namespace one of this registry's secret references reads from.
    pub fn secret_namespace(&self, secret_ref: &SecretKeyRef) -> Result<String, RefError> {
        registry_secret_namespace(secret_ref, self.kind, self.namespace.as_deref())
    }
}

/// The registry a McpServer's `registryRef` names: a McpRegistry of the server's own
/// namespace, or a ClusterMcpRegistry whose `allowedNamespaces` (absent = all) include it.
pub fn find_registry<'a>(
    manifests: &'a Manifests,
    server: &McpServer,
) -> Result<RegistryView<'a>, RefError> {
    let namespace = server_secret_namespace(server);
    let server_label = format!("{namespace}/{}", server.name_any());
    let wanted = &server.spec.registry_ref;
    match wanted.kind.unwrap_or_default() {
        RegistryKind::McpRegistry => manifests
            .registries
            .iter()
            .map(|l| &l.object)
            .find(|r| r.name_any() == wanted.name && r.namespace().as_deref() == Some(&namespace))
            .map(|r| RegistryView {
                kind: RegistryKind::McpRegistry,
                name: r.name_any(),
                namespace: Some(namespace.clone()),
                connection: &r.spec.connection,
            })
            .ok_or_else(|| RefError::RegistryNotFound {
                server: server_label,
                registry: format!("McpRegistry {namespace}/{}", wanted.name),
            }),
        RegistryKind::ClusterMcpRegistry => {
            find_cluster_registry(manifests, &wanted.name, &namespace, server_label)
        }
    }
}

fn find_cluster_registry<'a>(
    manifests: &'a Manifests,
    name: &str,
    namespace: &str,
    server: String,
) -> Result<RegistryView<'a>, RefError> {
    let registry = manifests
        .cluster_registries
        .iter()
        .map(|l| &l.object)
        .find(|r| r.name_any() == name)
        .ok_or_else(|| RefError::RegistryNotFound {
            server: server.clone(),
            registry: format!("ClusterMcpRegistry {name}"),
        })?;
    if let Some(allowed) = &registry.spec.allowed_namespaces
        && !allowed.iter().any(|ns| ns == namespace)
    {
        return Err(RefError::NamespaceNotAllowed {
            server,
            registry: name.to_string(),
            namespace: namespace.to_string(),
            allowed: allowed.join(", "),
        });
    }
    Ok(RegistryView {
        kind: RegistryKind::ClusterMcpRegistry,
        name: registry.name_any(),
        namespace: None,
        connection: &registry.spec.connection,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::local::manifests::load;
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
        assert_eq!(view.namespace, None);
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
        assert!(matches!(err, RefError::NamespaceNotAllowed { .. }));
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
        assert!(matches!(err, RefError::RegistryNotFound { .. }));
    }
}
