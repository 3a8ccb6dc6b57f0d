//! Remote registries. Each provider is a pure *model* (which fields it supports, its
//! constraints, how spec fields map to its JSON, how its requests and answers look) plus
//! the one shared HTTP client in [`http`] that carries out the requests the model
//! describes. Adding a fifth registry is one file implementing [`ProviderModel`].

pub mod aitronos;
pub mod composio;
pub mod http;
pub mod pais;
mod wire;
pub mod zudu;

use std::collections::BTreeMap;
use std::fmt;

use serde_json::Value;

use crate::api::{ProviderSpec, SecretKeyRef, ZuduBodyStyle};
use crate::vocab::field::Field;
pub use crate::vocab::{Change, ErrorClass, RemoteError, RemoteRecord, WriteContext};

/// Which registry, with the one setting that changes the wire format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProviderKind {
    Aitronos,
    Composio,
    Pais,
    Zudu(ZuduBodyStyle),
}

impl ProviderKind {
    /// Provider id as used in manifests and status (`aitronos`, `composio`, `pais`, `zudu`).
    pub fn id(self) -> &'static str {
        match self {
            ProviderKind::Aitronos => "aitronos",
            ProviderKind::Composio => "composio",
            ProviderKind::Pais => "pais",
            ProviderKind::Zudu(_) => "zudu",
        }
    }

    /// The vendor's public API base URL, where it has one.
    pub fn default_base_url(self) -> Option<&'static str> {
        match self {
            ProviderKind::Aitronos => Some("https://api.aitronos.com"),
            ProviderKind::Composio => Some("https://backend.composio.dev"),
            ProviderKind::Pais => None,
            ProviderKind::Zudu(_) => Some("https://api.zudu.ai"),
        }
    }
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
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
    fn field_rule(&self, field: Field) -> Option<FieldRule>;
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

/// The model of the registry a connection names.
pub fn model_for(provider: &ProviderSpec) -> Box<dyn ProviderModel> {
    match provider {
        ProviderSpec::Aitronos(p) => Box::new(aitronos::Aitronos::new(p)),
        ProviderSpec::Composio(p) => Box::new(composio::Composio::new(p)),
        ProviderSpec::Pais(p) => Box::new(pais::Pais::new(p)),
        ProviderSpec::Zudu(p) => Box::new(zudu::Zudu::new(p)),
    }
}
