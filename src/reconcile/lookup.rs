//! The registry a McpServer's `registryRef` names, with the rules of docs/api.md: a
//! McpRegistry of the server's own namespace, or a ClusterMcpRegistry whose
//! `allowedNamespaces` include it; and, where a source keeps registry checks (the
//! cluster), only once its last check for the current generation found it ready, so no
//! call is made with credentials nobody has verified.

use kube::ResourceExt;

use crate::api::conditions::{Reason, types};
use crate::api::{McpServer, RegistryKind, RegistryStatus};
use crate::engine::plan::Refusal;
use crate::reconcile::ports::{Health, RegistrySource, SourcedRegistry};
use crate::reconcile::refs::{RegistryView, server_secret_namespace};
use crate::vocab::ObjectKey;

/// Why a server's registry cannot be used now.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    /// The registry named does not exist where the source looks (`place`).
    #[error("McpServer {server} refers to {registry}, which is not {place}")]
    NotFound {
        server: String,
        registry: String,
        place: &'static str,
    },
    /// The ClusterMcpRegistry's `allowedNamespaces` leaves the server's namespace out.
    #[error(
        "McpServer {server} may not use ClusterMcpRegistry {registry}: its allowedNamespaces ({allowed}) do not include {namespace:?}"
    )]
    NotAllowed {
        server: String,
        registry: String,
        namespace: String,
        allowed: String,
    },
    /// Its check has not run for its current generation (new, or its spec just changed):
    /// a wait, not a refusal; the check's status write wakes the server.
    #[error("the registry has not been checked yet")]
    NotChecked,
    /// Its last check found it not ready.
    #[error("{registry} is not ready ({reason}): {message}")]
    NotReady {
        registry: String,
        reason: String,
        message: String,
    },
}

impl LookupError {
    /// The condition reason docs/api.md gives every one of them.
    pub fn reason(&self) -> Reason {
        Reason::RegistryNotReady
    }

    /// As a refusal of the server (`Stalled`/`Ready=False` with the reason).
    pub fn refusal(&self) -> Refusal {
        Refusal {
            reason: self.reason(),
            message: self.to_string(),
        }
    }
}

/// The registry `server` names, found in `source`, allowed for its namespace and ready.
pub fn find_registry(
    source: &impl RegistrySource,
    server: &McpServer,
) -> Result<RegistryView, LookupError> {
    let namespace = server_secret_namespace(server);
    let server_key = ObjectKey::new(namespace.clone(), server.name_any());
    let wanted = &server.spec.registry_ref;
    let not_found = |registry: String| LookupError::NotFound {
        server: server_key.to_string(),
        registry,
        place: source.place(),
    };
    let found = match wanted.kind.unwrap_or_default() {
        RegistryKind::McpRegistry => {
            let id = ObjectKey::new(namespace.clone(), wanted.name.clone());
            source
                .mcp_registry(&id)
                .ok_or_else(|| not_found(format!("McpRegistry {id}")))?
        }
        RegistryKind::ClusterMcpRegistry => {
            let found = source
                .cluster_registry(&wanted.name)
                .ok_or_else(|| not_found(format!("ClusterMcpRegistry {}", wanted.name)))?;
            check_allowed_namespace(&wanted.name, &found, &namespace, &server_key)?;
            found
        }
    };
    match &found.health {
        Health::Untracked => {}
        Health::Checked(status) => check_health(&found.view, status.as_ref())?,
    }
    Ok(found.view)
}

/// `allowedNamespaces` (absent = every namespace; empty = none) must include the
/// server's namespace.
fn check_allowed_namespace(
    registry: &str,
    found: &SourcedRegistry,
    namespace: &str,
    server: &ObjectKey,
) -> Result<(), LookupError> {
    match &found.allowed_namespaces {
        Some(allowed) if !allowed.iter().any(|ns| ns == namespace) => {
            Err(LookupError::NotAllowed {
                server: server.to_string(),
                registry: registry.to_string(),
                namespace: namespace.to_string(),
                allowed: allowed.join(", "),
            })
        }
        _ => Ok(()),
    }
}

/// A check counts only for the generation it describes: a status of an older spec says
/// nothing about the credentials in use now.
fn check_health(view: &RegistryView, status: Option<&RegistryStatus>) -> Result<(), LookupError> {
    let current = status.filter(|s| s.observed_generation == view.generation);
    let Some(status) = current.filter(|s| !s.conditions.is_empty()) else {
        return Err(LookupError::NotChecked);
    };
    let not_ready = status
        .conditions
        .iter()
        .find(|c| c.type_ == types::READY && c.status == "False");
    match not_ready {
        Some(ready) => Err(LookupError::NotReady {
            registry: view.label(),
            reason: ready.reason.clone(),
            message: ready.message.clone(),
        }),
        None => Ok(()),
    }
}
