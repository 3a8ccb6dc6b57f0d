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
    /// No Secret of that namespace and name was loaded.
    #[error("Secret {namespace}/{name} not found")]
    NotFound { namespace: String, name: String },
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

impl SecretError {
    /// The condition reason api.md gives every secret failure.
    pub fn reason(&self) -> &'static str {
        crate::api::conditions::reasons::SECRET_NOT_FOUND
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
        let values = self.secret(namespace, name)?;
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
    pub fn reason(&self) -> &'static str {
        use crate::api::conditions::reasons;
        match self {
            RefError::RegistryNotFound { .. } | RefError::NamespaceNotAllowed { .. } => {
                reasons::REGISTRY_NOT_READY
            }
            _ => reasons::INVALID_SPEC,
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
