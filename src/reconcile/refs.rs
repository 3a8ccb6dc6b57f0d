//! References from McpServers and registries to the objects they use, with the namespace
//! rules of docs/api.md that decide which Secret a reference may reach. The rules are pure
//! functions so that every front end (controller, `plan`, `apply`) refuses the same
//! references with the same words.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Secret;

use crate::api::registry::RegistryConnection;
use crate::api::{McpServer, RegistryKind, SecretKeyRef};
use crate::secret::SecretValue;
use crate::vocab::RegistryId;

/// The namespace of an object whose manifest names none, as kubectl does.
pub const DEFAULT_NAMESPACE: &str = "default";

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
    /// The Secret could not be read (an API error other than not found).
    #[error("Secret {namespace}/{name} could not be read: {message}")]
    Unreadable {
        namespace: String,
        name: String,
        message: String,
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
    /// The condition reason docs/api.md gives every secret failure.
    pub fn reason(&self) -> crate::api::conditions::Reason {
        crate::api::conditions::Reason::SecretNotFound
    }
}

/// The keys of one Secret as the API server stores them: `stringData` entries win over
/// `data` entries of the same key. Its `Debug` shows key names only.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SecretData {
    namespace: String,
    name: String,
    values: BTreeMap<String, Vec<u8>>,
}

impl std::fmt::Debug for SecretData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let keys: Vec<&str> = self.values.keys().map(String::as_str).collect();
        write!(f, "{}/{} keys {keys:?}", self.namespace, self.name)
    }
}

impl SecretData {
    /// The keys of `secret`, found at `namespace/name`.
    pub fn new(namespace: &str, name: &str, secret: &Secret) -> Self {
        let mut values: BTreeMap<String, Vec<u8>> = BTreeMap::new();
        for (key, bytes) in secret.data.iter().flatten() {
            values.insert(key.clone(), bytes.0.clone());
        }
        for (key, text) in secret.string_data.iter().flatten() {
            values.insert(key.clone(), text.clone().into_bytes());
        }
        SecretData {
            namespace: namespace.to_string(),
            name: name.to_string(),
            values,
        }
    }

    /// The text of one key.
    pub fn key(&self, key: &str) -> Result<SecretValue, SecretError> {
        let bytes = self
            .values
            .get(key)
            .ok_or_else(|| SecretError::MissingKey {
                namespace: self.namespace.clone(),
                name: self.name.clone(),
                key: key.to_string(),
                available: key_list(&self.values),
            })?;
        text(&self.namespace, &self.name, key, bytes).map(SecretValue::new)
    }

    /// Every key as text (for `credentials.secretRef`).
    pub fn all(&self) -> Result<BTreeMap<String, SecretValue>, SecretError> {
        self.values
            .iter()
            .map(|(key, bytes)| {
                let value = text(&self.namespace, &self.name, key, bytes)?;
                Ok((key.clone(), SecretValue::new(value)))
            })
            .collect()
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

/// A registry's secret reference that docs/api.md's rules refuse.
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
}

impl RefError {
    /// The condition reason docs/api.md gives this failure.
    pub fn reason(&self) -> crate::api::conditions::Reason {
        crate::api::conditions::Reason::InvalidSpec
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

/// The namespace every Secret of a McpServer is read from: its own (docs/api.md), `default`
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
pub struct RegistryView {
    /// Which registry object.
    pub id: RegistryId,
    /// Its `metadata.generation` (a changed spec means a new HTTP client).
    pub generation: Option<i64>,
    /// Provider, base URL and limits.
    pub connection: RegistryConnection,
}

impl RegistryView {
    pub fn new(id: RegistryId, connection: RegistryConnection) -> Self {
        RegistryView {
            id,
            generation: None,
            connection,
        }
    }

    /// `McpRegistry/ns/name` or `ClusterMcpRegistry/name`: the label the state file and
    /// messages use.
    pub fn label(&self) -> String {
        self.id.to_string()
    }

    /// The namespace one of this registry's secret references reads from.
    pub fn secret_namespace(&self, secret_ref: &SecretKeyRef) -> Result<String, RefError> {
        registry_secret_namespace(secret_ref, self.id.kind(), self.id.namespace())
    }
}
