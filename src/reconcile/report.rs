//! What the pipeline reports per server: the action, the changes (safe to print), a
//! message and the next status. Every front end prints or stores it.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use crate::api::McpServerStatus;
use crate::engine::plan::FieldDiff;
use crate::provider::ProviderModel;
use crate::vocab::Field;

/// What happened to one server, for output.
#[derive(Clone, Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ServerResult {
    /// `namespace/name`.
    pub server: String,
    /// `McpRegistry/ns/name` or `ClusterMcpRegistry/name`; absent when the server's
    /// registry could not be found (or it is suspended: no registry was consulted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registry: Option<String>,
    /// The registry's provider id (`aitronos`, `composio`, `pais`, `zudu`), with `registry`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    pub action: ActionKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<ShownChange>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    pub status: McpServerStatus,
    /// The registry's `Retry-After` on a failed call, for scheduling the next attempt.
    #[serde(skip)]
    pub retry_after: Option<Duration>,
}

/// The kind of result, as printed.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub enum ActionKind {
    InSync,
    Create,
    Patch,
    Drift,
    Missing,
    Refused,
    Failed,
    /// `spec.suspend: true`: no remote call was made.
    Suspended,
}

/// One changed field, safe to print: Secret-backed values are replaced by `(secret)`.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ShownChange {
    pub field: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old: Option<Value>,
    pub new: Value,
}

/// Who a result is about: the server and its registry.
#[derive(Clone, Copy)]
pub struct Who<'a> {
    pub key: &'a str,
    pub registry: Option<&'a str>,
    pub provider: Option<&'a str>,
}

impl Who<'_> {
    pub fn result(self, action: ActionKind, status: McpServerStatus) -> ServerResult {
        ServerResult {
            server: self.key.to_string(),
            registry: self.registry.map(str::to_string),
            provider: self.provider.map(str::to_string),
            action,
            external_id: status.external_id.clone(),
            changes: Vec::new(),
            message: None,
            status,
            retry_after: None,
        }
    }
}

/// A value as printed: in the registry's own form, or `(secret)` when it comes from a
/// Secret; `null` for a reset.
fn shown(model: &dyn ProviderModel, field: Field, secret: bool, value: Option<&Value>) -> Value {
    match value {
        _ if secret => Value::from("(secret)"),
        Some(v) => model.wire_value(field, v),
        None => Value::Null,
    }
}

/// The fields a create sends, as changes from nothing.
pub fn created_fields(
    model: &dyn ProviderModel,
    fields: &BTreeMap<Field, Value>,
    secret_fields: &std::collections::BTreeSet<Field>,
) -> Vec<ShownChange> {
    fields
        .iter()
        .map(|(f, v)| ShownChange {
            field: model
                .field_rule(*f)
                .map_or(f.spec_name(), |r| r.remote)
                .to_string(),
            old: None,
            new: shown(model, *f, secret_fields.contains(f), Some(v)),
        })
        .collect()
}

/// The differing fields; the old value of a write-only field is unknown.
pub fn shown_changes(model: &dyn ProviderModel, diffs: &[FieldDiff]) -> Vec<ShownChange> {
    diffs
        .iter()
        .map(|d| ShownChange {
            field: d.remote.to_string(),
            old: (!d.write_only).then(|| shown(model, d.field, d.secret, d.old.as_ref())),
            new: shown(model, d.field, d.secret, d.new.as_ref()),
        })
        .collect()
}
