//! Desired fields: the spec plus resolved Secret values, in canonical form.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

use crate::api::{ApprovalPolicy, McpServerSpec, Transport};
use crate::engine::field::{Field, canonical_set};
use crate::vocab::WriteContext;

/// A Secret value the spec needs, to be read from the McpServer's own namespace.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum SecretNeed {
    /// One key, for the header `header`.
    HeaderKey {
        header: String,
        secret: String,
        key: String,
    },
    /// Every key of the Secret (credentials).
    WholeSecret { secret: String },
}

/// Secret values resolved by a front end (cluster or files). Never printed.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ResolvedSecrets {
    /// Header name -> value, for headers with `valueFrom`.
    pub headers: BTreeMap<String, String>,
    /// The credentials Secret's keys and values.
    pub credentials: Option<BTreeMap<String, String>>,
}

impl std::fmt::Debug for ResolvedSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResolvedSecrets")
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field(
                "credentials",
                &self
                    .credentials
                    .as_ref()
                    .map(|c| c.keys().collect::<Vec<_>>()),
            )
            .finish()
    }
}

impl ResolvedSecrets {
    /// Every secret value, for masking messages.
    pub fn values(&self) -> Vec<&str> {
        let creds = self.credentials.iter().flat_map(|c| c.values());
        self.headers
            .values()
            .chain(creds)
            .map(String::as_str)
            .collect()
    }
}

/// What the spec asks for, ready to compare with a remote record.
#[derive(Clone, PartialEq, Default)]
pub struct Desired {
    pub fields: BTreeMap<Field, Value>,
    /// Fields whose value holds Secret material: shown only as "changed".
    pub secret_fields: BTreeSet<Field>,
    /// Per-server facts the provider needs to shape a write.
    pub ctx: WriteContext,
    /// The name a created record gets: `displayName`, else `metadata.name`.
    pub create_name: String,
}

impl std::fmt::Debug for Desired {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown: BTreeMap<_, _> = self
            .fields
            .iter()
            .map(|(k, v)| {
                let v = if self.secret_fields.contains(k) {
                    json!("***")
                } else {
                    v.clone()
                };
                (k.spec_name(), v)
            })
            .collect();
        f.debug_struct("Desired")
            .field("fields", &shown)
            .field("create_name", &self.create_name)
            .finish()
    }
}

/// The Secret values `spec` needs.
pub fn secret_needs(spec: &McpServerSpec) -> Vec<SecretNeed> {
    let mut needs: Vec<SecretNeed> = spec
        .headers
        .iter()
        .flatten()
        .filter_map(|h| {
            h.value_from.as_ref().map(|src| SecretNeed::HeaderKey {
                header: h.name.clone(),
                secret: src.secret_key_ref.name.clone(),
                key: src.secret_key_ref.key.clone(),
            })
        })
        .collect();
    if let Some(c) = &spec.credentials {
        needs.push(SecretNeed::WholeSecret {
            secret: c.secret_ref.name.clone(),
        });
    }
    needs
}

/// A spec that cannot be turned into desired fields.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct SpecError {
    pub path: String,
    pub message: String,
}

/// Builds the desired fields of `spec`; `object_name` is `metadata.name`.
pub fn desired(
    spec: &McpServerSpec,
    object_name: &str,
    secrets: &ResolvedSecrets,
) -> Result<Desired, SpecError> {
    let mut d = Desired {
        create_name: spec
            .display_name
            .clone()
            .unwrap_or_else(|| object_name.to_string()),
        ..Desired::default()
    };
    let mut put = |f: Field, v: Option<Value>| {
        if let Some(v) = v {
            d.fields.insert(f, v);
        }
    };
    put(
        Field::DisplayName,
        spec.display_name.clone().map(Value::String),
    );
    put(Field::Url, spec.url.clone().map(Value::String));
    put(
        Field::Description,
        spec.description.clone().map(Value::String),
    );
    put(
        Field::DocumentationUrl,
        spec.documentation_url.clone().map(Value::String),
    );
    put(
        Field::Transport,
        spec.transport.map(transport_name).map(Value::from),
    );
    put(Field::Enabled, spec.enabled.map(Value::Bool));
    put(
        Field::ApprovalPolicy,
        spec.approval_policy.map(approval_name).map(Value::from),
    );
    put(Field::Tools, spec.tools.as_ref().map(tools_value));
    put(
        Field::Toolkits,
        spec.toolkits
            .as_ref()
            .map(|t| canonical_set(t.iter().cloned())),
    );
    put(
        Field::AuthConfigIds,
        spec.auth_config_ids
            .as_ref()
            .map(|t| canonical_set(t.iter().cloned())),
    );
    put(Field::ManagedAuth, spec.managed_auth.map(Value::Bool));
    put(
        Field::SecretTokenId,
        spec.secret_token_id.clone().map(Value::String),
    );
    if let Some(headers) = &spec.headers {
        let (value, secret_names) = headers_value(headers, secrets)?;
        d.fields.insert(Field::Headers, value);
        if !secret_names.is_empty() {
            d.secret_fields.insert(Field::Headers);
        }
        d.ctx.secret_headers = secret_names;
    }
    if let Some(c) = &spec.credentials {
        let values = secrets.credentials.as_ref().ok_or_else(|| SpecError {
            path: "spec.credentials.secretRef".into(),
            message: format!("Secret {:?} was not resolved", c.secret_ref.name),
        })?;
        let obj: Map<String, Value> = values
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        d.fields.insert(Field::Credentials, Value::Object(obj));
        d.secret_fields.insert(Field::Credentials);
        d.ctx.auth_type = c.auth_type.clone();
    }
    Ok(d)
}

fn headers_value(
    headers: &[crate::api::HeaderSpec],
    secrets: &ResolvedSecrets,
) -> Result<(Value, BTreeSet<String>), SpecError> {
    let mut obj = Map::new();
    let mut secret_names = BTreeSet::new();
    for (i, h) in headers.iter().enumerate() {
        let value = match (&h.value, &h.value_from) {
            (Some(v), None) => v.clone(),
            (None, Some(_)) => {
                secret_names.insert(h.name.clone());
                secrets
                    .headers
                    .get(&h.name)
                    .cloned()
                    .ok_or_else(|| SpecError {
                        path: format!("spec.headers[{i}].valueFrom"),
                        message: format!(
                            "the Secret value of header {:?} was not resolved",
                            h.name
                        ),
                    })?
            }
            _ => {
                return Err(SpecError {
                    path: format!("spec.headers[{i}]"),
                    message: format!(
                        "header {:?} needs exactly one of value or valueFrom",
                        h.name
                    ),
                });
            }
        };
        if obj.insert(h.name.clone(), Value::String(value)).is_some() {
            return Err(SpecError {
                path: format!("spec.headers[{i}].name"),
                message: format!("header {:?} is listed twice", h.name),
            });
        }
    }
    Ok((Value::Object(obj), secret_names))
}

fn tools_value(t: &crate::api::ToolsSpec) -> Value {
    let mut obj = Map::new();
    if let Some(e) = t.enabled {
        obj.insert("enabled".into(), Value::Bool(e));
    }
    if let Some(a) = &t.allowed {
        obj.insert("allowed".into(), canonical_set(a.iter().cloned()));
    }
    Value::Object(obj)
}

/// Canonical name of a transport (the spec's enum name).
pub fn transport_name(t: Transport) -> &'static str {
    match t {
        Transport::StreamableHttp => "StreamableHttp",
        Transport::Sse => "Sse",
        Transport::WebSocket => "WebSocket",
    }
}

/// Canonical name of an approval policy (the spec's enum name).
pub fn approval_name(p: ApprovalPolicy) -> &'static str {
    match p {
        ApprovalPolicy::AutoApproveAll => "AutoApproveAll",
        ApprovalPolicy::RequireApprovalAll => "RequireApprovalAll",
        ApprovalPolicy::RequireApprovalPerTool => "RequireApprovalPerTool",
        ApprovalPolicy::AutoApproveReadOnly => "AutoApproveReadOnly",
    }
}
