//! The public contract: the three custom resources of `mcpsync.dev/v1alpha1` and their
//! status types. `kubectl explain` shows the doc comments of this module.

pub mod conditions;
pub mod registry;
pub mod server;

pub use registry::{
    AitronosProvider, ClusterMcpRegistry, ClusterMcpRegistrySpec, ComposioKeyHeader,
    ComposioProvider, McpRegistry, McpRegistrySpec, PaisProvider, ProviderSpec, RateLimit,
    RegistryStatus, SecretKeyRef, ZuduBodyStyle, ZuduProvider,
};
pub use server::{
    ApprovalPolicy, Availability, CredentialsSpec, DeletionPolicy, HeaderSpec, HeaderValueSource,
    LastPatch, LocalSecretKeyRef, LocalSecretRef, ManagementPolicy, McpServer, McpServerSpec,
    McpServerStatus, PendingCreate, RegistryKind, RegistryRef, ToolsSpec, Transport,
};

/// API group of every mcpsync resource.
pub const GROUP: &str = "mcpsync.dev";
/// The one served and stored version.
pub const VERSION: &str = "v1alpha1";
/// Finalizer held by a McpServer while its remote record must be deleted.
pub const CLEANUP_FINALIZER: &str = "mcpsync.dev/cleanup";
/// Annotation whose every new value forces an immediate re-check.
pub const RECONCILE_REQUESTED_AT: &str = "mcpsync.dev/reconcile-requested-at";

/// Go-style duration as accepted by the API server's CEL `duration()` (e.g. `30s`, `5m`, `1h30m`).
pub(crate) const DURATION_PATTERN: &str = r"^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$";

/// The three CustomResourceDefinitions as one multi-document YAML stream, exactly as
/// committed in `crds/`.
pub fn crds_yaml() -> Result<String, serde_saphyr::ser::Error> {
    use kube::CustomResourceExt;
    let mut out = String::new();
    for crd in [
        McpServer::crd(),
        McpRegistry::crd(),
        ClusterMcpRegistry::crd(),
    ] {
        out.push_str("---\n");
        out.push_str(&serde_saphyr::to_string(&crd)?);
    }
    Ok(out)
}
