//! What a remote record is and what is written to it, in canonical form: the words the
//! engine and the providers share.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use jiff::Timestamp;
use serde_json::Value;

use crate::api::Availability;
use crate::vocab::field::{Field, debug_value};

/// One field of a PATCH: a new canonical value, or `None` to reset it with `null`.
#[derive(Clone, PartialEq)]
pub struct Change {
    pub field: Field,
    pub value: Option<Value>,
}

impl fmt::Debug for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let value = self.value.as_ref().map(|v| debug_value(self.field, v));
        f.debug_struct("Change")
            .field("field", &self.field)
            .field("value", &value)
            .finish()
    }
}

/// Per-server facts a provider needs to shape a write, beyond the canonical values.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WriteContext {
    /// Names of headers whose value comes from a Secret (PAIS `is_secret: true`).
    pub secret_headers: BTreeSet<String>,
    /// `spec.credentials.authType` (Aitronos `auth_type`, on create).
    pub auth_type: Option<String>,
}

/// A remote record decoded into canonical fields. `Debug` masks fields that may hold
/// Secret material (Zudu returns header values in clear).
#[derive(Clone, PartialEq, Default)]
pub struct RemoteRecord {
    pub id: String,
    /// The record's name, used for look-up by name.
    pub name: Option<String>,
    /// Every readable supported field the record carries, in canonical form.
    pub fields: BTreeMap<Field, Value>,
    pub availability: Availability,
    pub availability_message: Option<String>,
    pub last_available_at: Option<Timestamp>,
    pub updated_at: Option<Timestamp>,
}

impl fmt::Debug for RemoteRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fields: BTreeMap<_, _> = self
            .fields
            .iter()
            .map(|(k, v)| (k, debug_value(*k, v)))
            .collect();
        f.debug_struct("RemoteRecord")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("fields", &fields)
            .field("availability", &self.availability)
            .field("availability_message", &self.availability_message)
            .field("last_available_at", &self.last_available_at)
            .field("updated_at", &self.updated_at)
            .finish()
    }
}
