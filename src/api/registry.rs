//! `McpRegistry` (namespaced) and `ClusterMcpRegistry` (cluster-scoped): the connection to
//! one remote registry account.

// kube's `printcolumn(name = .., type_ = ..)` repeats keys that clippy takes for duplicated
// attributes.
#![allow(clippy::duplicated_attributes)]

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::ValidationRule;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::core::{Message, Rule};
use kube::{CustomResource, KubeSchema};
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

// The `spec.provider` blocks are declared by the provider list (`crate::provider`): each
// provider's settings live in its own file.
pub use crate::provider::aitronos::AitronosProvider;
pub use crate::provider::composio::{ComposioKeyHeader, ComposioProvider};
pub use crate::provider::pais::PaisProvider;
pub use crate::provider::zudu::{ZuduBodyStyle, ZuduProvider};
pub use crate::provider::{ProviderKind, ProviderSpec};

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
const HTTPS_UNLESS_ALLOWED: &str = "!has(self.baseUrl) || !isURL(self.baseUrl) || url(self.baseUrl).getScheme() == 'https' || (has(self.allowInsecureHttp) && self.allowInsecureHttp)";

/// The provider ids, in the list's order.
fn provider_ids() -> impl Iterator<Item = &'static str> {
    ProviderKind::ALL.iter().map(|k| k.id())
}

/// `a`, `a or b`, `a, b or c`.
fn either_of(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => (*one).to_string(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// Exactly one `spec.provider` block is set, whichever the provider list holds.
fn exactly_one_provider() -> Rule {
    let terms: Vec<String> = provider_ids()
        .map(|id| format!("(has(self.provider.{id}) ? 1 : 0)"))
        .collect();
    let ids: Vec<&str> = provider_ids().collect();
    Rule::new(format!("{} == 1", terms.join(" + "))).message(Message::Message(format!(
        "exactly one provider block must be set: {}",
        either_of(&ids)
    )))
}

/// One rule per provider without a public default base URL: it needs `baseUrl`. A rule of
/// its own names the provider at fault; `api::crds` puts them after the rules above (CRD
/// derive attributes take a fixed number of rules, the provider list does not).
pub fn base_url_required_rules() -> Vec<ValidationRule> {
    ProviderKind::ALL
        .iter()
        .filter(|k| k.default_base_url().is_none())
        .map(|k| ValidationRule {
            rule: format!("has(self.baseUrl) || !has(self.provider.{})", k.id()),
            message: Some(format!(
                "baseUrl is required for the {} provider (it has no public default)",
                k.id()
            )),
            ..ValidationRule::default()
        })
        .collect()
}

/// Connection settings common to `McpRegistry` and `ClusterMcpRegistry`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegistryConnection {
    /// The remote registry and its credentials: exactly one provider block.
    pub provider: ProviderSpec,
    /// Base URL of the registry API, e.g. `https://backend.composio.dev` or, for the
    /// simulator, `http://127.0.0.1:8080/composio`. Optional where the provider has a public
    /// default (its block says so); required where it has none.
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
#[x_kube(validation = exactly_one_provider())]
#[x_kube(validation = Rule::new(HTTPS_UNLESS_ALLOWED).message("baseUrl uses http://; set allowInsecureHttp: true to allow it"))]
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
#[x_kube(validation = exactly_one_provider())]
#[x_kube(validation = Rule::new(HTTPS_UNLESS_ALLOWED).message("baseUrl uses http://; set allowInsecureHttp: true to allow it"))]
#[x_kube(validation = cluster_refs_name_namespace())]
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

/// Where the secret references of a registry spec live: `spec.provider.<provider>.<field>`,
/// from the provider descriptors. The cluster-registry CEL rule below and the McpRegistry
/// admission policy both cover exactly these (`tests/crd_schema.rs` holds them to the
/// settings types' schemas).
pub fn secret_ref_paths() -> Vec<(&'static str, &'static str)> {
    ProviderKind::ALL
        .iter()
        .flat_map(|k| {
            let d = k.descriptor();
            d.secret_refs.iter().map(move |field| (d.id, *field))
        })
        .collect()
}

/// Every secret reference of a cluster registry carries a namespace. `namespace` is a CEL
/// reserved word, so the API server wants it escaped as `__namespace__`.
fn cluster_refs_name_namespace() -> Rule {
    let per_provider: Vec<String> = ProviderKind::ALL
        .iter()
        .map(|k| {
            let d = k.descriptor();
            let named: Vec<String> = d
                .secret_refs
                .iter()
                .map(|f| format!("has(self.provider.{}.{f}.__namespace__)", d.id))
                .collect();
            let all_named = match named.as_slice() {
                [one] => one.clone(),
                _ => format!("({})", named.join(" && ")),
            };
            format!("(!has(self.provider.{}) || {all_named})", d.id)
        })
        .collect();
    Rule::new(per_provider.join(" && "))
        .message("every secret reference of a ClusterMcpRegistry must name its namespace")
}

/// Observed state of a registry connection.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegistryStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Provider id (the name of the `spec.provider` block), for `kubectl get`.
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
