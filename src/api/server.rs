//! `McpServer`: the desired state of one MCP server registration in a remote registry.

// kube's `printcolumn(name = .., type_ = ..)` repeats keys that clippy takes for duplicated
// attributes.
#![allow(clippy::duplicated_attributes)]

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{ABSOLUTE_HTTP_URL, DURATION_PATTERN, MIN_SYNC_INTERVAL};

/// Desired state of one MCP server registration. Every field but `registryRef` is
/// optional; a field that is absent is not managed: never sent, and the remote value is
/// left alone. A field the registry's provider does not support is refused with
/// `Stalled=True`, reason `UnsupportedField`, never silently dropped.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[kube(
    group = "mcpsync.dev",
    version = "v1alpha1",
    kind = "McpServer",
    namespaced,
    status = "McpServerStatus",
    shortname = "mcps",
    category = "mcpsync",
    doc = "An MCP server registration that mcpsync keeps equal in a remote MCP registry.",
    printcolumn(
        name = "REGISTRY",
        type_ = "string",
        json_path = ".spec.registryRef.name"
    ),
    printcolumn(
        name = "EXTERNAL-ID",
        type_ = "string",
        json_path = ".status.externalId"
    ),
    printcolumn(
        name = "SYNCED",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Synced\")].status"
    ),
    printcolumn(
        name = "READY",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(
        name = "AVAILABILITY",
        type_ = "string",
        json_path = ".status.availability"
    ),
    printcolumn(name = "LAST-SYNC", type_ = "date", json_path = ".status.lastSyncTime"),
    printcolumn(
        name = "AGE",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!has(oldSelf.externalId) || (has(self.externalId) && self.externalId == oldSelf.externalId)").message("externalId cannot be changed or removed once set; delete and recreate the McpServer to point it at another record"))]
pub struct McpServerSpec {
    /// The registry that holds the record: a McpRegistry in this namespace (the default
    /// kind) or a ClusterMcpRegistry that allows this namespace.
    pub registry_ref: RegistryRef,
    /// Id of an existing remote record to adopt instead of creating one. When absent (and
    /// `managementPolicy` is `Manage`), mcpsync creates the record and writes its id to
    /// `status.externalId`; it never writes to spec. Cannot be changed or removed once set:
    /// to point at another record, delete and recreate the McpServer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 255))]
    pub external_id: Option<String>,
    /// The remote record's name. When absent, the record is created with `metadata.name` and
    /// the name is not managed afterwards.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 255))]
    pub display_name: Option<String>,
    /// URL of the MCP server (absolute http or https).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 2048))]
    #[x_kube(validation = Rule::new(ABSOLUTE_HTTP_URL).message("url must be an absolute http(s) URL"))]
    pub url: Option<String>,
    /// Description shown in the registry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 5000))]
    pub description: Option<String>,
    /// Absolute http(s) URL of the server's documentation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 2048))]
    #[x_kube(validation = Rule::new(ABSOLUTE_HTTP_URL).message("documentationUrl must be an absolute http(s) URL"))]
    pub documentation_url: Option<String>,
    /// Transport protocol: `StreamableHttp`, `Sse` or `WebSocket`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transport: Option<Transport>,
    /// Whether the registration is active.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Tool-call approval policy: `AutoApproveAll`, `RequireApprovalAll`,
    /// `RequireApprovalPerTool` or `AutoApproveReadOnly`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval_policy: Option<ApprovalPolicy>,
    /// HTTP headers the registry sends to the MCP server, at most 64, names
    /// unique. Each has exactly one of `value` or `valueFrom`. Values from Secrets are
    /// never shown in status or logs; a rotated Secret re-sends the headers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["name".into()]))]
    #[schemars(length(max = 64))]
    pub headers: Option<Vec<HeaderSpec>>,
    /// Credentials the registry uses to reach the MCP server. Every key of
    /// the Secret becomes a field of the remote `credentials` object; values are never
    /// shown in status or logs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<CredentialsSpec>,
    /// Which tools the registry exposes: all (`enabled`) or a list (`allowed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<ToolsSpec>,
    /// Toolkit slugs the server exposes (e.g. `github`), compared as a
    /// set: order does not matter and each slug appears once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 256), inner(length(min = 1, max = 255)))]
    #[x_kube(merge_strategy = ListMerge::Set)]
    pub toolkits: Option<Vec<String>>,
    /// Auth config ids (e.g. `ac_123`) the server uses, compared
    /// as a set: order does not matter and each id appears once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 256), inner(length(min = 1, max = 255)))]
    #[x_kube(merge_strategy = ListMerge::Set)]
    pub auth_config_ids: Option<Vec<String>>,
    /// Whether the registry manages authentication for the server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed_auth: Option<bool>,
    /// Id of the secret token the registry uses to call the server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 255))]
    pub secret_token_id: Option<String>,
    /// `Manage` (default): create and update the remote record. `ObserveOnly`: never write;
    /// report differences in `status.drift`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub management_policy: Option<ManagementPolicy>,
    /// On deletion of this McpServer: `Retain` (default) leaves the remote record,
    /// `Delete` deletes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_policy: Option<DeletionPolicy>,
    /// How often the remote record is re-checked for drift: a Go duration of at least
    /// `10s`, such as `30s`, `5m` or `1h30m`. Default: the registry's `syncInterval`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64), regex(pattern = DURATION_PATTERN))]
    #[x_kube(validation = Rule::new(MIN_SYNC_INTERVAL).message("syncInterval must be a duration of at least 10s, such as 30s, 5m or 1h"))]
    pub sync_interval: Option<String>,
    /// When true, no remote call is made for this McpServer (condition reason `Suspended`)
    /// until it is false again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspend: Option<bool>,
}

/// Which registry resource a McpServer uses.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegistryRef {
    /// `McpRegistry` (default: same namespace) or `ClusterMcpRegistry`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<RegistryKind>,
    /// Name of the McpRegistry or ClusterMcpRegistry.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
}

// Kind of registry resource.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
pub enum RegistryKind {
    /// Namespaced registry in the McpServer's own namespace.
    #[default]
    McpRegistry,
    /// Cluster-scoped registry that allows the McpServer's namespace.
    ClusterMcpRegistry,
}

// MCP transport protocol.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
pub enum Transport {
    /// Streamable HTTP.
    StreamableHttp,
    /// Server-Sent Events.
    Sse,
    /// WebSocket (where the provider supports it: see `transport`).
    WebSocket,
}

// Tool-call approval policy.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
pub enum ApprovalPolicy {
    /// Approve every tool call automatically.
    AutoApproveAll,
    /// Ask for approval of every tool call.
    RequireApprovalAll,
    /// Ask per tool.
    RequireApprovalPerTool,
    /// Approve read-only tools automatically (where the provider supports it).
    AutoApproveReadOnly,
}

/// One HTTP header sent by the registry to the MCP server.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.value) != has(self.valueFrom)").message("a header needs exactly one of value or valueFrom"))]
pub struct HeaderSpec {
    /// Header name (an HTTP token), e.g. `Authorization`.
    #[schemars(
        length(min = 1, max = 256),
        regex(pattern = r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
    )]
    pub name: String,
    /// Literal value, stored in plain text in this object. Use `valueFrom` for anything
    /// secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 8192))]
    pub value: Option<String>,
    /// Value read from a Secret in the McpServer's namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_from: Option<HeaderValueSource>,
}

/// Where a header value comes from.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct HeaderValueSource {
    /// A key of a Secret in the McpServer's namespace.
    pub secret_key_ref: LocalSecretKeyRef,
}

/// A key of a Secret in the referring object's own namespace.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, Hash, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct LocalSecretKeyRef {
    /// Name of the Secret.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Key inside the Secret.
    #[schemars(length(min = 1, max = 253))]
    pub key: String,
}

/// A whole Secret in the referring object's own namespace.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, Hash, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct LocalSecretRef {
    /// Name of the Secret.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
}

/// Credentials the registry uses to authenticate to the MCP server.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct CredentialsSpec {
    /// Authentication type, e.g. `bearer_token` or `api_key` (sent on create).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub auth_type: Option<String>,
    /// Secret whose keys and values become the remote `credentials` object.
    pub secret_ref: LocalSecretRef,
}

/// Tool selection.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ToolsSpec {
    /// Whether tools are enabled (refused by providers that have no such switch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Tool identifiers to allow (e.g. `search_code`), compared as a set: order does not
    /// matter and each identifier appears once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1024), inner(length(min = 1, max = 255)))]
    #[x_kube(merge_strategy = ListMerge::Set)]
    pub allowed: Option<Vec<String>>,
}

// Whether mcpsync writes to the registry.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum ManagementPolicy {
    /// Create and update the remote record (default).
    #[default]
    Manage,
    /// Read only: differences are reported in `status.drift`, never written.
    ObserveOnly,
}

// What happens to the remote record when the McpServer is deleted.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum DeletionPolicy {
    /// Leave the remote record (default).
    #[default]
    Retain,
    /// Delete the remote record (finalizer `mcpsync.dev/cleanup`).
    Delete,
}

// Whether the registry reports the MCP server reachable.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum Availability {
    /// The registry reached the server.
    Available,
    /// The registry could not reach the server (see `availabilityMessage`).
    Unavailable,
    /// The registry has not checked yet.
    Pending,
    /// The registry does not report availability, or nothing was observed yet.
    #[default]
    Unknown,
}

impl Availability {
    /// The value as written in status.
    pub fn as_str(self) -> &'static str {
        match self {
            Availability::Available => "Available",
            Availability::Unavailable => "Unavailable",
            Availability::Pending => "Pending",
            Availability::Unknown => "Unknown",
        }
    }
}

/// The last PATCH (or create) sent to the registry.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct LastPatch {
    /// When it was sent.
    pub time: Time,
    /// The remote field names it carried.
    pub fields: Vec<String>,
}

/// A create that was started but whose result was not yet recorded. A later reconcile
/// looks the record up by `name` before any second POST.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct PendingCreate {
    /// The remote name the record was created with.
    pub name: String,
    /// When the create was started.
    pub time: Time,
}

/// Observed state of a McpServer.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct McpServerStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Id of the remote record (adopted, found by name, or created).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// `Available`, `Unavailable`, `Pending` or `Unknown`, as the registry reports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability: Option<Availability>,
    /// The registry's explanation when unavailable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability_message: Option<String>,
    /// Last time the remote record was confirmed equal to the spec.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_sync_time: Option<Time>,
    /// Last time the registry reported the server reachable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_available_time: Option<Time>,
    /// The last write sent to the registry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_patch: Option<LastPatch>,
    /// The registry's own last-modified time of the record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_updated_at: Option<Time>,
    /// Remote fields mcpsync has written and manages.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub applied_fields: Vec<String>,
    /// Salted SHA-256 fingerprints of write-only values as last applied, per remote field.
    /// They show when a value changed without revealing it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub applied_fingerprints: BTreeMap<String, String>,
    /// Remote fields that differ from the spec (under `ObserveOnly`, or while a change is
    /// pending).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub drift: Vec<String>,
    /// A create in flight, recorded before the POST so that it is never repeated blindly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_create: Option<PendingCreate>,
    /// `Ready`, `Synced`, `Reconciling` and `Stalled`, following the kstatus conventions
    /// that `kubectl wait`, Flux and Argo CD read. Each has a reason and a message for a
    /// person.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,
}
