//! The API server's verdict on a manifest, offline: what `kubectl apply` (strict field
//! validation) would refuse, judged from the generated CRDs and admission policy so there
//! is one source of truth. `mcpsync validate`, `plan` and `apply` run it first.
//!
//! - OpenAPI: types, enums, lengths, ranges, patterns, required fields, list types, and
//!   unknown fields (strict decoding), as the API server words them;
//! - the CRDs' CEL rules (`x-kubernetes-validations`), by kube's CEL support;
//! - `metadata.name` and `metadata.namespace` rules;
//! - the McpRegistry admission policy (its namespace is the manifest's).
//!
//! `tests/kube_api.rs` judges the same table with a real API server: the verdicts must
//! agree.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use kube::core::cel::{Validator, VapEvaluator, VapExpression};
use serde_json::Value;

use crate::api;

/// The `openAPIV3Schema` of a kind, as the generated CRD holds it.
pub fn schema(kind: &str) -> Option<&'static Value> {
    static SCHEMAS: OnceLock<Vec<(String, Value)>> = OnceLock::new();
    let schemas = SCHEMAS.get_or_init(|| {
        api::crds()
            .into_iter()
            .filter_map(|crd| {
                let kind = crd.spec.names.kind.clone();
                let schema = crd
                    .spec
                    .versions
                    .first()?
                    .schema
                    .as_ref()?
                    .open_api_v3_schema
                    .as_ref()?;
                Some((kind, serde_json::to_value(schema).ok()?))
            })
            .collect()
    });
    schemas.iter().find(|(k, _)| k == kind).map(|(_, s)| s)
}

/// The API server drops `null` fields whose schema is not `nullable` (none is) before it
/// validates anything.
pub fn without_nulls(value: Value) -> Value {
    match value {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, without_nulls(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(without_nulls).collect()),
        other => other,
    }
}

/// Every error the CRD of `kind` gives `object` (and `old` on update): OpenAPI first,
/// then CEL (the API server runs CEL only when the OpenAPI checks pass).
pub fn schema_errors(kind: &str, object: &Value, old: Option<&Value>) -> Vec<String> {
    let Some(schema) = schema(kind) else {
        return vec![format!("{kind} is not a kind of {}", api::GROUP)];
    };
    let object = &without_nulls(object.clone());
    let old = old.cloned().map(without_nulls);
    let mut out = Vec::new();
    openapi_errors(schema, object, "", &mut out);
    if let Err(cel_errors) = Validator::new().validate(schema, object, old.as_ref()) {
        out.extend(cel_errors.iter().map(|e| e.to_string()));
    }
    out
}

/// What the McpRegistry admission policy says of `object` (its namespace from
/// `metadata.namespace`).
pub fn policy_denials(object: &Value) -> Vec<String> {
    let policy = api::admission::mcpregistry_secret_namespace_policy();
    let validations = policy.spec.and_then(|s| s.validations).unwrap_or_default();
    let namespace_object =
        serde_json::json!({"metadata": {"name": object["metadata"]["namespace"]}});
    let expressions: Vec<VapExpression> = validations
        .iter()
        .map(|v| VapExpression {
            expression: v.expression.clone(),
            message: v.message.clone(),
            message_expression: None,
        })
        .collect();
    VapEvaluator::builder()
        .object(object.clone())
        .namespace_object(namespace_object)
        .build()
        .evaluate(&expressions)
        .into_iter()
        .filter(|r| !r.passed)
        .map(|r| r.message.unwrap_or_default())
        .collect()
}

/// `metadata.name` of a custom resource: a DNS subdomain (RFC 1123), at most 253
/// characters; `metadata.namespace`: a DNS label.
pub fn metadata_errors(object: &Value, namespaced: bool) -> Vec<String> {
    let mut out = Vec::new();
    let meta = &object["metadata"];
    match meta["name"].as_str() {
        None | Some("") => out.push("metadata.name: Required value".to_string()),
        Some(name) => {
            let subdomain = regex::Regex::new(
                r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$",
            )
            .is_ok_and(|re| re.is_match(name));
            if name.len() > 253 || !subdomain {
                out.push(format!(
                    "metadata.name: Invalid value {name:?}: a lowercase RFC 1123 subdomain of at most 253 characters (letters, digits, '-' and '.')"
                ));
            }
        }
    }
    if namespaced && let Some(ns) = meta["namespace"].as_str() {
        let label = regex::Regex::new(api::DNS_LABEL_PATTERN).is_ok_and(|re| re.is_match(ns));
        if ns.len() > 63 || !label {
            out.push(format!("metadata.namespace: Invalid value {ns:?}: a lowercase RFC 1123 label of at most 63 characters"));
        }
    }
    out
}

/// The API server's verdict on one mcpsync object: every error, empty when it would be
/// accepted. The admission policy runs last, only for an object the schema accepts.
pub fn object_errors(object: &Value) -> Vec<String> {
    let kind = object["kind"].as_str().unwrap_or_default();
    let namespaced = kind != "ClusterMcpRegistry";
    let mut out = metadata_errors(object, namespaced);
    out.extend(schema_errors(kind, object, None));
    if kind == "McpRegistry" && out.is_empty() {
        out.extend(policy_denials(object));
    }
    out
}

/// The schema keywords the generated CRDs use; [`openapi_errors`] judges each.
pub const KNOWN_KEYWORDS: &[&str] = &[
    "type",
    "format",
    "description",
    "title",
    "nullable",
    "enum",
    "pattern",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "minItems",
    "maxItems",
    "required",
    "properties",
    "additionalProperties",
    "items",
    "oneOf",
    "x-kubernetes-validations",
    "x-kubernetes-list-type",
    "x-kubernetes-list-map-keys",
];

pub fn openapi_errors(schema: &Value, value: &Value, path: &str, out: &mut Vec<String>) {
    let Some(s) = schema.as_object() else {
        out.push(format!("{path}: the schema is not an object"));
        return;
    };
    if let Some(keyword) = s.keys().find(|k| !KNOWN_KEYWORDS.contains(&k.as_str())) {
        // A constraint this checker cannot judge: say so rather than pass silently
        // (tests/crd_schema.rs keeps the generated schemas free of such keywords).
        out.push(format!(
            "{path}: schema keyword `{keyword}` is not checked offline"
        ));
    }
    if value.is_null() {
        if s.get("nullable") != Some(&Value::Bool(true)) {
            out.push(format!("{path}: must not be null"));
        }
        return;
    }
    if let Some(ty) = s.get("type").and_then(Value::as_str) {
        let ok = match ty {
            "object" => value.is_object(),
            "array" => value.is_array(),
            "string" => value.is_string(),
            "boolean" => value.is_boolean(),
            "integer" => value.is_i64() || value.is_u64(),
            "number" => value.is_number(),
            _ => false,
        };
        if !ok {
            out.push(format!("{path}: must be of type {ty}"));
            return;
        }
    }
    if let Some(allowed) = s.get("enum").and_then(Value::as_array)
        && !allowed.contains(value)
    {
        let allowed: Vec<String> = allowed.iter().map(Value::to_string).collect();
        out.push(format!(
            "{path}: Unsupported value {value}: supported values: {}",
            allowed.join(", ")
        ));
    }
    string_errors(s, value, path, out);
    number_errors(s, value, path, out);
    array_errors(s, value, path, out);
    property_errors(s, value, path, out);
    if let Some(branches) = s.get("oneOf").and_then(Value::as_array) {
        let matching = branches
            .iter()
            .filter(|b| {
                let mut e = Vec::new();
                openapi_errors(b, value, path, &mut e);
                e.is_empty()
            })
            .count();
        if matching != 1 {
            out.push(format!(
                "{path}: must validate one and only one schema (oneOf)"
            ));
        }
    }
}

fn string_errors(
    s: &serde_json::Map<String, Value>,
    value: &Value,
    path: &str,
    out: &mut Vec<String>,
) {
    let Some(text) = value.as_str() else { return };
    let chars = text.chars().count() as u64;
    if let Some(min) = s.get("minLength").and_then(Value::as_u64)
        && chars < min
    {
        out.push(format!(
            "{path}: should be at least {min} chars long (minLength)"
        ));
    }
    if let Some(max) = s.get("maxLength").and_then(Value::as_u64)
        && chars > max
    {
        out.push(format!(
            "{path}: may not be more than {max} chars long (maxLength)"
        ));
    }
    if let Some(pattern) = s.get("pattern").and_then(Value::as_str) {
        let matches = regex::Regex::new(pattern).is_ok_and(|re| re.is_match(text));
        if !matches {
            out.push(format!("{path}: should match '{pattern}' (pattern)"));
        }
    }
}

fn number_errors(
    s: &serde_json::Map<String, Value>,
    value: &Value,
    path: &str,
    out: &mut Vec<String>,
) {
    let Some(n) = value.as_f64() else { return };
    if let Some(min) = s.get("minimum").and_then(Value::as_f64)
        && n < min
    {
        out.push(format!(
            "{path}: should be greater than or equal to {min} (minimum)"
        ));
    }
    if let Some(max) = s.get("maximum").and_then(Value::as_f64)
        && n > max
    {
        out.push(format!(
            "{path}: should be less than or equal to {max} (maximum)"
        ));
    }
}

fn array_errors(
    s: &serde_json::Map<String, Value>,
    value: &Value,
    path: &str,
    out: &mut Vec<String>,
) {
    let Some(items) = value.as_array() else {
        return;
    };
    if let Some(max) = s.get("maxItems").and_then(Value::as_u64)
        && items.len() as u64 > max
    {
        out.push(format!("{path}: must have at most {max} items (maxItems)"));
    }
    if let Some(min) = s.get("minItems").and_then(Value::as_u64)
        && (items.len() as u64) < min
    {
        out.push(format!("{path}: must have at least {min} items (minItems)"));
    }
    if let Some(item_schema) = s.get("items") {
        for (i, item) in items.iter().enumerate() {
            openapi_errors(item_schema, item, &format!("{path}[{i}]"), out);
        }
    }
    match s.get("x-kubernetes-list-type").and_then(Value::as_str) {
        Some("set") => {
            let unique: BTreeSet<String> = items.iter().map(Value::to_string).collect();
            if unique.len() != items.len() {
                out.push(format!("{path}: Duplicate value (list-type set)"));
            }
        }
        Some("map") => {
            let keys = s
                .get("x-kubernetes-list-map-keys")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let unique: BTreeSet<String> = items
                .iter()
                .map(|item| {
                    let key: Vec<&Value> = keys
                        .iter()
                        .map(|k| &item[k.as_str().unwrap_or_default()])
                        .collect();
                    format!("{key:?}")
                })
                .collect();
            if unique.len() != items.len() {
                out.push(format!(
                    "{path}: Duplicate value (list-type map, keys {keys:?})"
                ));
            }
        }
        _ => {}
    }
}

fn property_errors(
    s: &serde_json::Map<String, Value>,
    value: &Value,
    path: &str,
    out: &mut Vec<String>,
) {
    let Some(object) = value.as_object() else {
        return;
    };
    if let Some(required) = s.get("required").and_then(Value::as_array) {
        for key in required.iter().filter_map(Value::as_str) {
            if object.get(key).is_none_or(Value::is_null) {
                out.push(format!("{path}.{key}: Required value"));
            }
        }
    }
    let properties = s.get("properties").and_then(Value::as_object);
    for (key, child) in object {
        let child_path = format!("{path}.{key}");
        if let Some(child_schema) = properties.and_then(|p| p.get(key)) {
            openapi_errors(child_schema, child, &child_path, out);
        } else if let Some(additional) = s.get("additionalProperties") {
            openapi_errors(additional, child, &child_path, out);
        } else if path.is_empty() && ["apiVersion", "kind", "metadata"].contains(&key.as_str()) {
            // Validated by the API server itself, not by the CRD schema.
        } else if properties.is_some() {
            out.push(format!("{child_path}: unknown field \"{key}\""));
        }
    }
}
