//! Remote registries. Each provider is one file: a pure *model* (which fields it supports,
//! its constraints, how spec fields map to its JSON, how its requests and answers look),
//! the settings of its registry block and a [`Descriptor`] of itself; the one shared HTTP
//! client in [`http`] carries out the requests the model describes. The list below is the
//! only place that enumerates the providers: the CRD's provider blocks and rules, the
//! dispatch and the per-field documentation all come from it (docs/architecture.md,
//! "Adding a registry").

pub mod http;
mod pacing;
mod wire;

use std::collections::BTreeMap;
use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::api::SecretKeyRef;
use crate::vocab::field::Field;
pub use crate::vocab::{Change, ErrorClass, RemoteError, RemoteRecord, WriteContext};

/// Declares the providers: each line names the module (the provider id), the
/// `spec.provider` block's variant with its settings type, and the model built from them.
macro_rules! providers {
    ($( $(#[$doc:meta])* $module:ident: $variant:ident($settings:ident) => $model:ident, )+) => {
        $( pub mod $module; )+

        /// Which remote registry this is, and the credentials to reach it. Exactly one block is set.
        #[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
        #[serde(rename_all = "camelCase")]
        pub enum ProviderSpec {
            $( $(#[$doc])* $variant($module::$settings), )+
        }

        /// Which registry, as a type (its id as text is [`ProviderKind::id`]).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum ProviderKind {
            $( $variant, )+
        }

        impl ProviderKind {
            /// Every provider, in the list's order.
            pub const ALL: &'static [ProviderKind] = &[$( ProviderKind::$variant, )+];

            /// What the provider says of itself.
            pub fn descriptor(self) -> &'static Descriptor {
                match self {
                    $( ProviderKind::$variant => &$module::DESCRIPTOR, )+
                }
            }
        }

        impl ProviderSpec {
            pub fn kind(&self) -> ProviderKind {
                match self {
                    $( ProviderSpec::$variant(_) => ProviderKind::$variant, )+
                }
            }
        }

        /// The model of the registry a connection names: the only dispatch on the provider.
        pub fn model_for(provider: &ProviderSpec) -> Box<dyn ProviderModel> {
            match provider {
                $( ProviderSpec::$variant(settings) => Box::new($module::$model::new(settings)), )+
            }
        }
    };
}

// The providers, one line each (docs/architecture.md, "Adding a registry").
providers! {
    /// Aitronos "Freddy" API (`https://api.aitronos.com`). Sends `X-API-Key`.
    aitronos: Aitronos(AitronosProvider) => Aitronos,
    /// Composio v3 (`https://backend.composio.dev`). Sends `x-api-key` or `x-user-api-key`.
    composio: Composio(ComposioProvider) => Composio,
    /// VMware (Broadcom) Private AI Services control API. No public default: `baseUrl` is
    /// required. Sends `Authorization: Bearer`.
    pais: Pais(PaisProvider) => Pais,
    /// Zudu (`https://api.zudu.ai`). Sends `X-API-KEY` and `X-API-SECRET`.
    zudu: Zudu(ZuduProvider) => Zudu,
}

impl ProviderKind {
    /// Provider id as used in manifests and status (`aitronos`, `composio`, `pais`, `zudu`).
    pub fn id(self) -> &'static str {
        self.descriptor().id
    }

    /// The vendor's public API base URL, where it has one.
    pub fn default_base_url(self) -> Option<&'static str> {
        self.descriptor().default_base_url
    }
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// What a provider says of itself, for everything that is not a request: the CRD's rules
/// and `kubectl explain` prose, defaults, the simulator's routes, the docs' field table.
#[derive(Debug)]
pub struct Descriptor {
    /// The provider id: the `spec.provider` block's name and `status.provider`.
    pub id: &'static str,
    /// The vendor's public API base URL; `None` makes `baseUrl` required (a CRD rule).
    pub default_base_url: Option<&'static str>,
    /// The secret references of the registry block (camelCase field names of its settings):
    /// the CRD rule for cluster registries and the McpRegistry admission policy cover these.
    pub secret_refs: &'static [&'static str],
    /// Path prefixes of `mcpsync sim` that speak this provider's dialects, the default first.
    pub sim_prefixes: &'static [&'static str],
    /// Every McpServer field the provider supports, and how; a field not listed is refused
    /// (`UnsupportedField`).
    pub fields: &'static [FieldSupport],
    /// Fields a create needs, in the order they are checked.
    pub required_on_create: &'static [Field],
}

/// How a provider supports one McpServer field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FieldSupport {
    pub field: Field,
    pub rule: FieldRule,
    /// How the value looks on the wire, for the docs' field table (`sse`/`streamable_http`).
    pub wire: &'static str,
    /// What the provider accepts beyond the CRD's rules, for people (`https only`): shown by
    /// `kubectl explain` and the docs, enforced by the model's `check` before any call.
    pub constraint: &'static str,
}

impl FieldSupport {
    pub const fn new(field: Field, rule: FieldRule) -> Self {
        FieldSupport {
            field,
            rule,
            wire: "",
            constraint: "",
        }
    }
    pub const fn wire(self, wire: &'static str) -> Self {
        FieldSupport { wire, ..self }
    }
    pub const fn constraint(self, constraint: &'static str) -> Self {
        FieldSupport { constraint, ..self }
    }

    /// Flags and constraint for people: `create only; https only`; empty when there are none.
    pub fn summary(&self) -> String {
        let flags = [
            (self.rule.create_only, "create only"),
            (self.rule.write_only, "write-only"),
        ];
        flags
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, text)| *text)
            .chain((!self.constraint.is_empty()).then_some(self.constraint))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// The cell of the docs' field table: remote name, wire format, flags and constraint.
    pub fn doc_cell(&self) -> String {
        let mut cell = format!("`{}`", self.rule.remote);
        if !self.wire.is_empty() {
            cell.push(' ');
            cell.push_str(self.wire);
        }
        let summary = self.summary();
        if !summary.is_empty() {
            cell.push_str(&format!(" ({summary})"));
        }
        cell
    }
}

impl Descriptor {
    /// How the provider treats `field`; `None` when it does not support it.
    pub fn rule(&self, field: Field) -> Option<FieldRule> {
        self.support(field).map(|s| s.rule)
    }

    pub fn support(&self, field: Field) -> Option<&FieldSupport> {
        self.fields.iter().find(|s| s.field == field)
    }
}

/// How a provider treats one supported field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FieldRule {
    /// The provider's JSON name of the field (`server_url`, `request_headers`, ...): used in
    /// status (`appliedFields`, `lastPatch.fields`, `drift`) and in messages.
    pub remote: &'static str,
    /// The registry never returns the value (or masks it): compared through fingerprints.
    pub write_only: bool,
    /// Can be set on create only (Aitronos `transport_type`).
    pub create_only: bool,
    /// Sending `null` resets the field (PAIS): a field dropped from spec is reset.
    pub null_resets: bool,
}

impl FieldRule {
    /// A readable, updatable field that `null` does not reset.
    pub const fn plain(remote: &'static str) -> Self {
        FieldRule {
            remote,
            write_only: false,
            create_only: false,
            null_resets: false,
        }
    }
    pub const fn write_only(self) -> Self {
        FieldRule {
            write_only: true,
            ..self
        }
    }
    pub const fn create_only(self) -> Self {
        FieldRule {
            create_only: true,
            ..self
        }
    }
    pub const fn null_resets(self) -> Self {
        FieldRule {
            null_resets: true,
            ..self
        }
    }
}

/// A spec value the provider cannot take, found before any call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// Spec path at fault, e.g. `spec.displayName` or `spec.tools.enabled`.
    pub path: String,
    /// The provider's rule, for a person: `composio names are 4-30 characters: ...`.
    pub rule: String,
    /// True when the provider does not support the (sub-)field at all (`UnsupportedField`);
    /// false when the value breaks a constraint (`InvalidSpec`).
    pub unsupported: bool,
}

/// HTTP method of a described request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Patch,
    Delete,
}

/// A request a provider model describes; the shared client sends it. `Debug` shows the
/// body's top-level keys only: values may be secrets.
#[derive(Clone, PartialEq)]
pub struct RequestSpec {
    pub method: Method,
    /// Path after the base URL, starting with `/`.
    pub path: String,
    pub query: Vec<(String, String)>,
    pub body: Option<Value>,
}

impl fmt::Debug for RequestSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys: Option<Vec<&String>> = self.body.as_ref().map(|b| match b.as_object() {
            Some(o) => o.keys().collect(),
            None => Vec::new(),
        });
        f.debug_struct("RequestSpec")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("query", &self.query)
            .field("body_keys", &keys)
            .finish()
    }
}

impl RequestSpec {
    pub fn new(method: Method, path: impl Into<String>) -> Self {
        RequestSpec {
            method,
            path: path.into(),
            query: Vec::new(),
            body: None,
        }
    }
    pub fn query(mut self, k: &str, v: impl Into<String>) -> Self {
        self.query.push((k.to_string(), v.into()));
        self
    }
    pub fn body(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }
}

/// Where the next page of a LIST starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cursor {
    /// Page number (Composio counts from 1, Zudu from 0).
    Page(u64),
    /// Id after which to continue (PAIS `after`).
    After(String),
}

/// One decoded page of a LIST.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct ListPage {
    pub records: Vec<RemoteRecord>,
    pub next: Option<Cursor>,
}

/// A secret sent as an auth header: `header: prefix + value`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthHeader {
    pub header: &'static str,
    pub prefix: &'static str,
    pub secret: SecretKeyRef,
}

/// A registry answer that does not have the documented shape. The message names what is
/// missing; it never quotes the body.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{provider} answer has an unexpected shape: {what}")]
pub struct DecodeError {
    pub provider: &'static str,
    pub what: String,
}

/// The pure half of a provider: no I/O, no clock.
pub trait ProviderModel: Send + Sync + fmt::Debug {
    fn kind(&self) -> ProviderKind;
    /// How the provider treats `field`; `None` when it does not support it.
    fn field_rule(&self, field: Field) -> Option<FieldRule> {
        self.kind().descriptor().rule(field)
    }
    /// The `mcpsync sim` path prefix that speaks this model's dialect.
    fn sim_prefix(&self) -> &'static str {
        let descriptor = self.kind().descriptor();
        descriptor
            .sim_prefixes
            .first()
            .copied()
            .unwrap_or(descriptor.id)
    }
    /// The provider's constraints on a canonical value (lengths, patterns, enums, HTTPS,
    /// unsupported sub-fields), checked before any call.
    fn check(&self, field: Field, value: &Value) -> Result<(), Violation>;
    /// Whether the registry keeps names unique (a look-up by name finds at most one).
    fn names_unique(&self) -> bool;
    /// Headers that carry the registry credentials.
    fn auth_headers(&self) -> Vec<AuthHeader>;

    fn get_request(&self, id: &str) -> RequestSpec;
    /// One page of the listing; `name` narrows it where the API can filter by name.
    fn list_request(&self, cursor: Option<&Cursor>, name: Option<&str>) -> RequestSpec;
    fn create_request(
        &self,
        fields: &BTreeMap<Field, Value>,
        ctx: &WriteContext,
    ) -> Result<RequestSpec, Violation>;
    fn patch_request(&self, id: &str, changes: &[Change], ctx: &WriteContext) -> RequestSpec;
    fn delete_request(&self, id: &str) -> RequestSpec;

    /// A canonical value as the registry receives it (`"Sse"` -> `"sse"`), for output.
    /// Secret-backed values are never passed here.
    fn wire_value(&self, field: Field, value: &Value) -> Value {
        let _ = field;
        value.clone()
    }

    /// Decodes the answer to GET, create or PATCH (envelopes included).
    fn parse_record(&self, body: &Value) -> Result<RemoteRecord, DecodeError>;
    /// Decodes one LIST answer; `cursor` is the one the page was requested with.
    fn parse_list(&self, body: &Value, cursor: Option<&Cursor>) -> Result<ListPage, DecodeError>;
    /// The registry's own error message from an error body, for a person. Only the fields
    /// the vendor documents as messages are used, never the raw body.
    fn error_message(&self, status: u16, body: &Value) -> Option<String>;

    /// Whether an answer describes a soft-deleted record (Composio `deleted: true`). The
    /// client reports such a GET as `NotFound` and leaves such records out of listings.
    fn is_deleted(&self, _body: &Value) -> bool {
        false
    }
}

/// Which providers support `field` and how, for `kubectl explain` (added to the field's
/// description in the CRD by `api::crds`).
pub fn support_prose(field: Field) -> String {
    let mut supported = Vec::new();
    let mut refused = Vec::new();
    for kind in ProviderKind::ALL {
        let d = kind.descriptor();
        match d.support(field) {
            Some(s) => {
                let summary = s.summary();
                supported.push(if summary.is_empty() {
                    d.id.to_string()
                } else {
                    format!("{} ({summary})", d.id)
                });
            }
            None => refused.push(d.id),
        }
    }
    // A create always has a name: `metadata.name` stands in for an absent displayName.
    let required: Vec<&str> = ProviderKind::ALL
        .iter()
        .map(|k| k.descriptor())
        .filter(|d| field != Field::DisplayName && d.required_on_create.contains(&field))
        .map(|d| d.id)
        .collect();
    let mut prose = match supported.as_slice() {
        [] => "Supported by no provider.".to_string(),
        _ => format!("Supported by: {}.", supported.join(", ")),
    };
    if !refused.is_empty() {
        prose.push_str(&format!(
            " Refused by {} (UnsupportedField).",
            refused.join(", ")
        ));
    }
    if !required.is_empty() {
        prose.push_str(&format!(
            " Required to create a record in {}.",
            required.join(", ")
        ));
    }
    prose
}

/// The field table of docs/providers.md ("Field mapping"), from the descriptors.
pub fn field_table() -> String {
    let ids: Vec<&str> = ProviderKind::ALL.iter().map(|k| k.id()).collect();
    let mut table = format!(
        "| spec | {} |\n|---|{}\n",
        ids.join(" | "),
        "---|".repeat(ids.len())
    );
    for field in Field::ALL {
        let cells: Vec<String> = ProviderKind::ALL
            .iter()
            .map(|k| {
                k.descriptor()
                    .support(field)
                    .map_or_else(|| "-".to_string(), FieldSupport::doc_cell)
            })
            .collect();
        table.push_str(&format!(
            "| `{}` | {} |\n",
            field.spec_name(),
            cells.join(" | ")
        ));
    }
    table
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn descriptors_are_complete_and_distinct() {
        let mut ids = BTreeSet::new();
        let mut prefixes = BTreeSet::new();
        for kind in ProviderKind::ALL {
            let d = kind.descriptor();
            assert!(ids.insert(d.id), "{}: id used twice", d.id);
            assert!(!d.sim_prefixes.is_empty(), "{}: no simulator prefix", d.id);
            for prefix in d.sim_prefixes {
                assert!(prefixes.insert(*prefix), "{prefix}: prefix used twice");
            }
            assert!(!d.secret_refs.is_empty(), "{}: no credentials", d.id);
            for field in d.required_on_create {
                assert!(
                    d.rule(*field).is_some(),
                    "{}: requires {field} on create but does not support it",
                    d.id
                );
            }
            let fields: BTreeSet<Field> = d.fields.iter().map(|s| s.field).collect();
            assert_eq!(fields.len(), d.fields.len(), "{}: a field twice", d.id);
        }
    }

    #[test]
    fn support_prose_names_who_supports_and_who_refuses() {
        let prose = support_prose(Field::Url);
        assert!(prose.contains("aitronos (https only)"), "{prose}");
        assert!(prose.contains("Refused by composio"), "{prose}");
        let required = prose
            .split_once("Required to create a record in ")
            .map(|(_, rest)| rest)
            .unwrap_or_default();
        for id in ["aitronos", "pais", "zudu"] {
            assert!(required.contains(id), "{prose}");
        }
        assert!(!required.contains("composio"), "{prose}");
        let transport = support_prose(Field::Transport);
        assert!(transport.contains("aitronos (create only;"), "{transport}");
        // metadata.name stands in for an absent displayName: never "required".
        assert!(!support_prose(Field::DisplayName).contains("Required"));
    }

    /// `MCPSYNC_BLESS=1` writes the generated table into docs/providers.md instead (after a
    /// provider's fields changed, or a provider was added).
    #[test]
    fn the_docs_field_table_is_the_generated_one() -> std::io::Result<()> {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/providers.md");
        let docs = std::fs::read_to_string(path)?;
        let table = field_table();
        if docs.contains(&table) {
            return Ok(());
        }
        let start = docs.find("| spec |");
        assert!(start.is_some(), "docs/providers.md has no field table");
        let start = start.unwrap_or_default();
        let end = docs[start..]
            .find("\n\n")
            .map_or(docs.len(), |i| start + i + 1);
        if std::env::var_os("MCPSYNC_BLESS").is_some() {
            return std::fs::write(path, format!("{}{table}{}", &docs[..start], &docs[end..]));
        }
        panic!(
            "docs/providers.md's field table is stale; run MCPSYNC_BLESS=1 cargo test --lib \
             provider::tests, or replace it with:\n{table}"
        );
    }
}
