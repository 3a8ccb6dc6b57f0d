//! The public contract: the three custom resources of `mcpsync.dev/v1alpha1` and their
//! status types. `kubectl explain` shows the doc comments of this module.

pub mod admission;
pub mod conditions;
pub mod registry;
pub mod server;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceDefinition, JSONSchemaProps, JSONSchemaPropsOrArray, JSONSchemaPropsOrBool,
};

// Note for editors: the enums used as fields (`Transport`, `ApprovalPolicy`, ...) carry
// plain `//` comments, not `///` docs. schemars would put a type's doc in place of the
// field's doc in the CRD, and the field's doc is what `kubectl explain` should show.

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
/// CEL rule on a duration string: it parses, and is not shorter than ten seconds.
pub(crate) const MIN_SYNC_INTERVAL: &str = "duration(self) >= duration('10s')";
/// CEL rule on a string: an absolute http(s) URL with a host, as the API server's CEL URL
/// library (Go `net/url`) reads it.
pub(crate) const ABSOLUTE_HTTP_URL: &str =
    "isURL(self) && url(self).getScheme() in ['http', 'https'] && url(self).getHostname() != ''";
/// A Kubernetes namespace name (RFC 1123 label).
pub const DNS_LABEL_PATTERN: &str = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$";

/// The three CustomResourceDefinitions, in the order `mcpsync crds` prints them.
///
/// Unlike `McpServer::crd()` and friends, no field is `nullable`: the API server then drops
/// an explicit `null` before validation, so `url: null` means the same as no `url` (not
/// managed) and no CEL rule ever sees a null. Number formats the API server does not know
/// (schemars' `uint32`) are left out too; `minimum`/`maximum` carry the range.
pub fn crds() -> Vec<CustomResourceDefinition> {
    use kube::CustomResourceExt;
    let mut crds = vec![
        McpServer::crd(),
        McpRegistry::crd(),
        ClusterMcpRegistry::crd(),
    ];
    for version in crds.iter_mut().flat_map(|crd| crd.spec.versions.iter_mut()) {
        if let Some(schema) = version
            .schema
            .as_mut()
            .and_then(|s| s.open_api_v3_schema.as_mut())
        {
            normalize(schema);
        }
    }
    for crd in crds.iter_mut().skip(1) {
        if let Some(spec) = spec_schema(crd) {
            add_base_url_rules(spec);
        }
    }
    if let Some(spec) = crds.first_mut().and_then(spec_schema) {
        document_field_support(spec);
    }
    crds
}

/// The `spec` property of a CRD's (only) version.
fn spec_schema(crd: &mut CustomResourceDefinition) -> Option<&mut JSONSchemaProps> {
    crd.spec
        .versions
        .first_mut()
        .and_then(|v| v.schema.as_mut())
        .and_then(|s| s.open_api_v3_schema.as_mut())
        .and_then(|s| s.properties.as_mut())
        .and_then(|p| p.get_mut("spec"))
}

/// A registry spec's rules: after the derived ones that hold for every provider (exactly
/// one block, https), one "baseUrl is required" rule per provider that has no default.
fn add_base_url_rules(spec: &mut JSONSchemaProps) {
    let rules = spec.x_kubernetes_validations.get_or_insert_with(Vec::new);
    let at = rules
        .iter()
        .position(|r| {
            r.message
                .as_deref()
                .is_some_and(|m| m.starts_with("baseUrl uses http://"))
        })
        .map_or(rules.len(), |i| i + 1);
    for (offset, rule) in registry::base_url_required_rules().into_iter().enumerate() {
        rules.insert(at + offset, rule);
    }
}

/// Adds to each managed McpServer field's description which providers support it and how,
/// from the provider descriptors (`kubectl explain mcpserver.spec.url`).
fn document_field_support(spec: &mut JSONSchemaProps) {
    let Some(properties) = spec.properties.as_mut() else {
        return;
    };
    for field in crate::vocab::Field::ALL {
        if let Some(property) = properties.get_mut(field.spec_name()) {
            let prose = crate::provider::support_prose(field);
            property.description = Some(match property.description.take() {
                Some(text) => format!("{text}\n{prose}"),
                None => prose,
            });
        }
    }
}

/// Formats an API server recognizes for the types these schemas use.
const KNOWN_FORMATS: &[&str] = &["int32", "int64", "float", "double", "date-time", "byte"];

fn normalize(schema: &mut JSONSchemaProps) {
    schema.nullable = None;
    if is_exactly_one_of_required(schema) {
        // kube hoists an enum of blocks (`ProviderSpec`) into `oneOf: [{required: [a]}, ...]`.
        // The API server checks it before any CEL rule, and when no block is set it names
        // only the first branch's miss (`spec.provider.aitronos: Required value`) and skips
        // the CEL rules. The spec's CEL rule says the same in words
        // ("exactly one provider block must be set: ..."), so the oneOf goes.
        schema.one_of = None;
    }
    if schema
        .format
        .as_deref()
        .is_some_and(|f| !KNOWN_FORMATS.contains(&f))
    {
        schema.format = None;
    }
    let children = schema
        .properties
        .iter_mut()
        .flat_map(|p| p.values_mut())
        .chain(schema.one_of.iter_mut().flatten())
        .chain(schema.any_of.iter_mut().flatten())
        .chain(schema.all_of.iter_mut().flatten());
    children.for_each(normalize);
    match &mut schema.items {
        Some(JSONSchemaPropsOrArray::Schema(item)) => normalize(item),
        Some(JSONSchemaPropsOrArray::Schemas(items)) => items.iter_mut().for_each(normalize),
        None => {}
    }
    if let Some(JSONSchemaPropsOrBool::Schema(additional)) = &mut schema.additional_properties {
        normalize(additional);
    }
}

/// A `oneOf` whose every branch only requires one property: "exactly one of these".
fn is_exactly_one_of_required(schema: &JSONSchemaProps) -> bool {
    schema.one_of.as_ref().is_some_and(|branches| {
        branches.iter().all(|branch| {
            let only_required = JSONSchemaProps {
                required: branch.required.clone(),
                ..JSONSchemaProps::default()
            };
            branch.required.as_ref().is_some_and(|r| r.len() == 1) && *branch == only_required
        })
    })
}

/// Everything `kubectl apply -f crds/` installs, as one multi-document YAML stream exactly
/// as committed in `crds/mcpsync.dev_crds.yaml`: the three CRDs, then the admission policy
/// and binding that keep a McpRegistry's secret references in its own namespace (see
/// [`admission`]).
pub fn crds_yaml() -> Result<String, serde_saphyr::ser::Error> {
    let mut out = String::new();
    for crd in crds() {
        push_document(&mut out, &crd)?;
    }
    push_document(&mut out, &admission::mcpregistry_secret_namespace_policy())?;
    push_document(&mut out, &admission::mcpregistry_secret_namespace_binding())?;
    Ok(out)
}

fn push_document<T: serde::Serialize>(
    out: &mut String,
    doc: &T,
) -> Result<(), serde_saphyr::ser::Error> {
    out.push_str("---\n");
    out.push_str(&serde_saphyr::to_string(doc)?);
    Ok(())
}
