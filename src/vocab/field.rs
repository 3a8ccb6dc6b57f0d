//! The managed fields of a McpServer, in one canonical form shared by every provider.
//!
//! Canonical values are plain JSON so that the engine can compare, fingerprint and print
//! them without knowing any provider:
//! - `DisplayName`, `Url`, `Description`, `DocumentationUrl`, `SecretTokenId`: string
//! - `Transport`, `ApprovalPolicy`: the spec's enum name (`"StreamableHttp"`, ...)
//! - `Enabled`, `ManagedAuth`: bool
//! - `Headers`: object `{name: value}`
//! - `Credentials`: object `{key: value}` (the Secret's keys)
//! - `Tools`: object `{"enabled"?: bool, "allowed"?: [sorted, unique strings]}`
//! - `Toolkits`, `AuthConfigIds`: array of sorted, unique strings (sets)

use std::fmt;

use serde_json::Value;

/// One managed McpServer field, named as in the spec.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Field {
    DisplayName,
    Url,
    Description,
    DocumentationUrl,
    Transport,
    Enabled,
    ApprovalPolicy,
    Headers,
    Credentials,
    Tools,
    Toolkits,
    AuthConfigIds,
    ManagedAuth,
    SecretTokenId,
}

impl Field {
    /// Every field, in spec order.
    pub const ALL: [Field; 14] = [
        Field::DisplayName,
        Field::Url,
        Field::Description,
        Field::DocumentationUrl,
        Field::Transport,
        Field::Enabled,
        Field::ApprovalPolicy,
        Field::Headers,
        Field::Credentials,
        Field::Tools,
        Field::Toolkits,
        Field::AuthConfigIds,
        Field::ManagedAuth,
        Field::SecretTokenId,
    ];

    /// The field's path in the McpServer spec, for messages (`spec.displayName`).
    pub fn spec_name(self) -> &'static str {
        match self {
            Field::DisplayName => "displayName",
            Field::Url => "url",
            Field::Description => "description",
            Field::DocumentationUrl => "documentationUrl",
            Field::Transport => "transport",
            Field::Enabled => "enabled",
            Field::ApprovalPolicy => "approvalPolicy",
            Field::Headers => "headers",
            Field::Credentials => "credentials",
            Field::Tools => "tools",
            Field::Toolkits => "toolkits",
            Field::AuthConfigIds => "authConfigIds",
            Field::ManagedAuth => "managedAuth",
            Field::SecretTokenId => "secretTokenId",
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "spec.{}", self.spec_name())
    }
}

impl Field {
    /// Whether a value of this field may hold Secret material (header values from
    /// Secrets, credentials), so that `Debug` output never shows it.
    pub fn may_hold_secrets(self) -> bool {
        matches!(self, Field::Headers | Field::Credentials)
    }
}

/// A value safe for `Debug` output: `"***"` for fields that may hold Secret material.
pub fn debug_value(field: Field, value: &Value) -> Value {
    if field.may_hold_secrets() {
        Value::from("***")
    } else {
        value.clone()
    }
}

/// Sorts and de-duplicates a list of strings: the canonical form of a set.
pub fn canonical_set<I, S>(items: I) -> Value
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let mut v: Vec<String> = items.into_iter().map(Into::into).collect();
    v.sort();
    v.dedup();
    Value::Array(v.into_iter().map(Value::String).collect())
}
