//! `McpRegistry` (namespaced) and `ClusterMcpRegistry` (cluster-scoped): the connection to
//! one remote registry account.

// kube's `printcolumn(name = .., type_ = ..)` repeats keys that clippy takes for duplicated
// attributes.
#![allow(clippy::duplicated_attributes)]

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{ABSOLUTE_HTTP_URL, DNS_LABEL_PATTERN, DURATION_PATTERN, MIN_SYNC_INTERVAL};

/// Reference to one key of a Kubernetes Secret.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretKeyRef {
    /// Name of the Secret.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Key inside the Secret's `data` whose value is used.
    #[schemars(length(min = 1, max = 253))]
    pub key: String,
    /// Namespace of the Secret. Required in a ClusterMcpRegistry (checked by the CRD); in a
    /// McpRegistry it must be omitted or equal to the McpRegistry's own namespace (checked by
    /// the admission policy `mcpregistry-secret-namespace.mcpsync.dev` shipped with the CRDs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 63), regex(pattern = DNS_LABEL_PATTERN))]
    pub namespace: Option<String>,
}

/// Which remote registry this is, and the credentials to reach it. Exactly one block is set.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum ProviderSpec {
    /// Aitronos "Freddy" API (`https://api.aitronos.com`). Sends `X-API-Key`.
    Aitronos(AitronosProvider),
    /// Composio v3 (`https://backend.composio.dev`). Sends `x-api-key` or `x-user-api-key`.
    Composio(ComposioProvider),
    /// VMware (Broadcom) Private AI Services control API. No public default: `baseUrl` is
    /// required. Sends `Authorization: Bearer`.
    Pais(PaisProvider),
    /// Zudu (`https://api.zudu.ai`). Sends `X-API-KEY` and `X-API-SECRET`.
    Zudu(ZuduProvider),
}

/// Aitronos account settings.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct AitronosProvider {
    /// Secret key holding the API key, sent as `X-API-Key`.
    pub api_key_secret_ref: SecretKeyRef,
    /// Organization that owns the MCP configurations (`organization_id`, e.g. `org_...`).
    #[schemars(length(min = 1, max = 255))]
    pub organization_id: String,
}

// Header that carries the Composio API key.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, JsonSchema)]
pub enum ComposioKeyHeader {
    /// Project API key (the default).
    #[default]
    #[serde(rename = "x-api-key")]
    XApiKey,
    /// User API key.
    #[serde(rename = "x-user-api-key")]
    XUserApiKey,
}

/// Composio account settings.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ComposioProvider {
    /// Secret key holding the API key.
    pub api_key_secret_ref: SecretKeyRef,
    /// Header the key is sent in: `x-api-key` (default) or `x-user-api-key`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_header: Option<ComposioKeyHeader>,
}

/// Private AI Services account settings.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct PaisProvider {
    /// Secret key holding the bearer token, sent as `Authorization: Bearer <token>`.
    pub token_secret_ref: SecretKeyRef,
}

// The two request shapes Zudu documents for its update endpoint.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, Hash, JsonSchema)]
pub enum ZuduBodyStyle {
    /// Fields inside a `config` object (the public reference; default).
    #[default]
    Wrapped,
    /// Fields at the top level (the generated reference); also allows the `WebSocket`
    /// transport and the `auto_approve_read_only` approval policy.
    Flat,
}

/// Zudu account settings.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ZuduProvider {
    /// Secret key holding the API key (`sk_...`), sent as `X-API-KEY`.
    pub api_key_secret_ref: SecretKeyRef,
    /// Secret key holding the API secret, sent as `X-API-SECRET`.
    pub api_secret_secret_ref: SecretKeyRef,
    /// Request body style: `Wrapped` (default) or `Flat`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_style: Option<ZuduBodyStyle>,
}

/// Client-side rate limit shared by every call to one registry.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct RateLimit {
    /// Sustained requests per second (token refill rate). Default 5.
    #[schemars(range(min = 0.01, max = 10000.0))]
    // The API server compares an integer value (`0`) with `minimum` truncated to an integer
    // (0.01 -> 0) and lets it through: the rule holds the bound for every value.
    #[x_kube(validation = Rule::new("self >= 0.01").message("requestsPerSecond must be at least 0.01"))]
    pub requests_per_second: f64,
    /// Largest burst of requests sent at once (bucket size). Default 10.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 100000))]
    pub burst: Option<u32>,
}

/// Rules shared by both registry kinds, checked by the API server.
const EXACTLY_ONE_PROVIDER: &str = "(has(self.provider.aitronos) ? 1 : 0) + (has(self.provider.composio) ? 1 : 0) + (has(self.provider.pais) ? 1 : 0) + (has(self.provider.zudu) ? 1 : 0) == 1";
const HTTPS_UNLESS_ALLOWED: &str = "!has(self.baseUrl) || !isURL(self.baseUrl) || url(self.baseUrl).getScheme() == 'https' || (has(self.allowInsecureHttp) && self.allowInsecureHttp)";
const PAIS_NEEDS_BASE_URL: &str = "has(self.baseUrl) || !has(self.provider.pais)";

/// Connection settings common to `McpRegistry` and `ClusterMcpRegistry`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegistryConnection {
    /// The remote registry and its credentials: exactly one of `aitronos`, `composio`,
    /// `pais`, `zudu`.
    pub provider: ProviderSpec,
    /// Base URL of the registry API, e.g. `https://backend.composio.dev` or, for the
    /// simulator, `http://127.0.0.1:8080/composio`. Optional where the provider has a public
    /// default (aitronos, composio, zudu); required for pais.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2048))]
    #[x_kube(validation = Rule::new(ABSOLUTE_HTTP_URL).message("baseUrl must be an absolute http(s) URL"))]
    pub base_url: Option<String>,
    /// Allow an `http://` baseUrl (local simulators, in-cluster test registries). Default false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_insecure_http: Option<bool>,
    /// Timeout of one HTTP request to the registry, in seconds. Default 30.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 600))]
    pub timeout_seconds: Option<u32>,
    /// Client-side rate limit shared by every call to this registry. Default 5 requests
    /// per second with bursts of 10.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimit>,
    /// Default drift re-check period of the McpServers using this registry (Go duration
    /// such as `10m`; default `10m`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64), regex(pattern = DURATION_PATTERN))]
    #[x_kube(validation = Rule::new(MIN_SYNC_INTERVAL).message("syncInterval must be a duration of at least 10s, such as 30s, 10m or 1h"))]
    pub sync_interval: Option<String>,
}

/// Connection to one remote registry account, usable by McpServers of its own namespace.
/// Secrets are read from this namespace only: a secret reference names no namespace, or
/// this one.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[kube(
    group = "mcpsync.dev",
    version = "v1alpha1",
    kind = "McpRegistry",
    namespaced,
    status = "RegistryStatus",
    shortname = "mcpreg",
    category = "mcpsync",
    doc = "Connection to one remote MCP registry account, usable by McpServers in its own namespace.",
    printcolumn(name = "PROVIDER", type_ = "string", json_path = ".status.provider"),
    printcolumn(
        name = "READY",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(
        name = "REASON",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].reason"
    ),
    printcolumn(
        name = "LAST-CHECKED",
        type_ = "date",
        json_path = ".status.lastCheckedTime"
    ),
    printcolumn(
        name = "AGE",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new(EXACTLY_ONE_PROVIDER).message("exactly one provider block must be set: aitronos, composio, pais or zudu"))]
#[x_kube(validation = Rule::new(HTTPS_UNLESS_ALLOWED).message("baseUrl uses http://; set allowInsecureHttp: true to allow it"))]
#[x_kube(validation = Rule::new(PAIS_NEEDS_BASE_URL).message("baseUrl is required for the pais provider (it has no public default)"))]
pub struct McpRegistrySpec {
    /// Connection settings. Secret references name no namespace, or this McpRegistry's own.
    #[serde(flatten)]
    pub connection: RegistryConnection,
}

/// Connection to one remote registry account, usable by McpServers of every namespace it
/// allows. Every secret reference names its namespace.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[kube(
    group = "mcpsync.dev",
    version = "v1alpha1",
    kind = "ClusterMcpRegistry",
    status = "RegistryStatus",
    shortname = "cmcpreg",
    category = "mcpsync",
    doc = "Connection to one remote MCP registry account, usable by McpServers in every namespace it allows.",
    printcolumn(name = "PROVIDER", type_ = "string", json_path = ".status.provider"),
    printcolumn(
        name = "READY",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(
        name = "REASON",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].reason"
    ),
    printcolumn(
        name = "LAST-CHECKED",
        type_ = "date",
        json_path = ".status.lastCheckedTime"
    ),
    printcolumn(
        name = "AGE",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new(EXACTLY_ONE_PROVIDER).message("exactly one provider block must be set: aitronos, composio, pais or zudu"))]
#[x_kube(validation = Rule::new(HTTPS_UNLESS_ALLOWED).message("baseUrl uses http://; set allowInsecureHttp: true to allow it"))]
#[x_kube(validation = Rule::new(PAIS_NEEDS_BASE_URL).message("baseUrl is required for the pais provider (it has no public default)"))]
#[x_kube(validation = Rule::new(CLUSTER_REFS_NAME_NAMESPACE).message("every secret reference of a ClusterMcpRegistry must name its namespace"))]
pub struct ClusterMcpRegistrySpec {
    /// Connection settings. Every secret reference must name its namespace.
    #[serde(flatten)]
    pub connection: RegistryConnection,
    /// Namespaces whose McpServers may use this registry, e.g. `[team-a, team-b]`. Absent:
    /// every namespace. An empty list allows none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1024), inner(length(min = 1, max = 63), regex(pattern = DNS_LABEL_PATTERN)))]
    #[x_kube(merge_strategy = ListMerge::Set)]
    pub allowed_namespaces: Option<Vec<String>>,
}

/// Where the secret references of a registry spec live: `spec.provider.<provider>.<field>`.
/// The cluster-registry CEL rule below and the McpRegistry admission policy both cover
/// exactly these (`tests/crd_schema.rs` keeps them in step).
pub const SECRET_REF_PATHS: &[(&str, &str)] = &[
    ("aitronos", "apiKeySecretRef"),
    ("composio", "apiKeySecretRef"),
    ("pais", "tokenSecretRef"),
    ("zudu", "apiKeySecretRef"),
    ("zudu", "apiSecretSecretRef"),
];

/// Every secret reference of a cluster registry carries a namespace. `namespace` is a CEL
/// reserved word, so the API server wants it escaped as `__namespace__`.
const CLUSTER_REFS_NAME_NAMESPACE: &str = "(!has(self.provider.aitronos) || has(self.provider.aitronos.apiKeySecretRef.__namespace__)) && (!has(self.provider.composio) || has(self.provider.composio.apiKeySecretRef.__namespace__)) && (!has(self.provider.pais) || has(self.provider.pais.tokenSecretRef.__namespace__)) && (!has(self.provider.zudu) || (has(self.provider.zudu.apiKeySecretRef.__namespace__) && has(self.provider.zudu.apiSecretSecretRef.__namespace__)))";

/// Observed state of a registry connection.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegistryStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Provider id (`aitronos`, `composio`, `pais`, `zudu`), for `kubectl get`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// `Ready`: credentials resolved and a cheap authenticated call succeeded. Reasons:
    /// `Valid`, `SecretNotFound`, `Unauthorized`, `Unreachable`, `InvalidSpec`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,
    /// When the registry was last checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_checked_time: Option<Time>,
}
