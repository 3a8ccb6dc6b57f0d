//! Composio v3: `/api/v3/mcp` (seed 001, docs/providers.md).
//!
//! Every writable field is read back, so drift shows by comparison alone. Deleting is a
//! soft delete (`deleted: true`, then 404).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::wire;
use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{
    AuthHeader, Change, Cursor, DecodeError, Descriptor, FieldRule, FieldSupport, ListPage,
    Method, ProviderKind, ProviderModel, RemoteRecord, RequestSpec, Violation, WriteContext,
};
use crate::api::SecretKeyRef;
use crate::vocab::field::Field;

const ID: &str = "composio";
const ITEM_PREFIX: &str = "/api/v3/mcp";
const LIST_PATH: &str = "/api/v3/mcp/servers";
const CREATE_PATH: &str = "/api/v3/mcp/servers/custom";

/// Everything not documented for Composio, in one place.
pub mod assumed {
    use crate::vocab::field::Field;

    /// Page size asked for in listings (the vendor documents `limit`, not its maximum).
    pub const PAGE_SIZE: u32 = 100;
    /// Fields create needs (the reference lists the fields, not which are required; only
    /// the name is certainly needed, the registry answers 400 for anything else missing).
    pub const CREATE_REQUIRED: &[Field] = &[Field::DisplayName];
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

pub const DESCRIPTOR: Descriptor = Descriptor {
    id: ID,
    default_base_url: Some("https://backend.composio.dev"),
    secret_refs: &["apiKeySecretRef"],
    sim_prefixes: &["composio"],
    fields: &[
        FieldSupport::new(Field::DisplayName, FieldRule::plain("name"))
            .constraint("4-30 characters: letters, digits, spaces, hyphens"),
        FieldSupport::new(Field::Tools, FieldRule::plain("allowed_tools"))
            .constraint("from `tools.allowed`; no `tools.enabled`"),
        FieldSupport::new(Field::Toolkits, FieldRule::plain("toolkits")),
        FieldSupport::new(Field::AuthConfigIds, FieldRule::plain("auth_config_ids")),
        FieldSupport::new(
            Field::ManagedAuth,
            FieldRule::plain("managed_auth_via_composio"),
        ),
    ],
    required_on_create: assumed::CREATE_REQUIRED,
};

/// The Composio model.
#[derive(Clone, Debug)]
pub struct Composio {
    key_header: ComposioKeyHeader,
    api_key: SecretKeyRef,
}

impl Composio {
    pub fn new(p: &ComposioProvider) -> Self {
        Composio {
            key_header: p.key_header.unwrap_or_default(),
            api_key: p.api_key_secret_ref.clone(),
        }
    }

    fn item_path(id: &str) -> String {
        format!("{ITEM_PREFIX}/{}", wire::path_segment(id))
    }

    /// The remote (key, value) of one canonical field; `None` when Composio has no such
    /// field or nothing is to be sent (`tools` without `allowed`).
    fn encode(field: Field, value: Option<&Value>) -> Option<(&'static str, Value)> {
        let rule = field_rule(field)?;
        let Some(value) = value else {
            return Some((rule.remote, Value::Null));
        };
        let remote = match field {
            Field::Tools => value.get("allowed")?.clone(),
            _ => value.clone(),
        };
        Some((rule.remote, remote))
    }
}

fn field_rule(field: Field) -> Option<FieldRule> {
    DESCRIPTOR.rule(field)
}

/// Composio names: 4-30 characters, letters, digits, spaces and hyphens.
fn check_name(name: &str) -> Result<(), Violation> {
    let len = wire::char_len(name);
    let chars_ok = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == ' ' || c == '-');
    if (4..=30).contains(&len) && chars_ok {
        return Ok(());
    }
    Err(wire::invalid(
        Field::DisplayName,
        format!(
            "composio names are 4-30 characters of letters, digits, spaces and hyphens (got {len} characters{})",
            if chars_ok {
                ""
            } else {
                ", with other characters"
            }
        ),
    ))
}

impl ProviderModel for Composio {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Composio
    }

    fn check(&self, field: Field, value: &Value) -> Result<(), Violation> {
        if field_rule(field).is_none() {
            return Err(wire::unsupported(
                field.to_string(),
                format!("composio does not support {field}"),
            ));
        }
        match field {
            Field::DisplayName => check_name(wire::expect_str(ID, field, value)?),
            Field::Tools if value.get("enabled").is_some() => Err(wire::unsupported(
                "spec.tools.enabled",
                "composio has no switch for all tools: set spec.tools.allowed only",
            )),
            Field::ManagedAuth if !value.is_boolean() => {
                Err(wire::wrong_type(ID, field, "a boolean"))
            }
            Field::Toolkits | Field::AuthConfigIds if !value.is_array() => {
                Err(wire::wrong_type(ID, field, "a list of strings"))
            }
            _ => Ok(()),
        }
    }

    /// Composio documents no uniqueness of MCP server names, and its `name` filter is not
    /// documented as exact: a look-up by name may find several.
    fn names_unique(&self) -> bool {
        false
    }

    fn auth_headers(&self) -> Vec<AuthHeader> {
        let header = match self.key_header {
            ComposioKeyHeader::XApiKey => "x-api-key",
            ComposioKeyHeader::XUserApiKey => "x-user-api-key",
        };
        vec![AuthHeader {
            header,
            prefix: "",
            secret: self.api_key.clone(),
        }]
    }

    fn get_request(&self, id: &str) -> RequestSpec {
        RequestSpec::new(Method::Get, Self::item_path(id))
    }

    fn list_request(&self, cursor: Option<&Cursor>, name: Option<&str>) -> RequestSpec {
        let page = match cursor {
            Some(Cursor::Page(n)) => *n,
            _ => 1,
        };
        let mut req = RequestSpec::new(Method::Get, LIST_PATH);
        if let Some(name) = name {
            req = req.query("name", name);
        }
        req.query("page_no", page.to_string())
            .query("limit", assumed::PAGE_SIZE.to_string())
    }

    fn create_request(
        &self,
        fields: &BTreeMap<Field, Value>,
        _ctx: &WriteContext,
    ) -> Result<RequestSpec, Violation> {
        let body = wire::object_of(
            fields
                .iter()
                .map(|(field, value)| Self::encode(*field, Some(value))),
        );
        wire::check_required(&DESCRIPTOR, &body)?;
        Ok(RequestSpec::new(Method::Post, CREATE_PATH).body(Value::Object(body)))
    }

    fn patch_request(&self, id: &str, changes: &[Change], _ctx: &WriteContext) -> RequestSpec {
        let body = wire::object_of(
            changes
                .iter()
                .map(|change| Self::encode(change.field, change.value.as_ref())),
        );
        RequestSpec::new(Method::Patch, Self::item_path(id)).body(Value::Object(body))
    }

    fn delete_request(&self, id: &str) -> RequestSpec {
        RequestSpec::new(Method::Delete, Self::item_path(id))
    }

    fn wire_value(&self, field: Field, value: &Value) -> Value {
        Self::encode(field, Some(value)).map_or_else(|| value.clone(), |(_, v)| v)
    }

    fn parse_record(&self, body: &Value) -> Result<RemoteRecord, DecodeError> {
        decode(body)
    }

    fn parse_list(&self, body: &Value, cursor: Option<&Cursor>) -> Result<ListPage, DecodeError> {
        let obj = wire::object(ID, body, "the list answer")?;
        let items = obj
            .get("items")
            .and_then(Value::as_array)
            .ok_or_else(|| wire::decode_error(ID, "`items` is not a list"))?;
        let records = items
            .iter()
            .filter(|item| !self.is_deleted(item))
            .map(decode)
            .collect::<Result<Vec<_>, _>>()?;
        let requested = match cursor {
            Some(Cursor::Page(n)) => *n,
            _ => 1,
        };
        let current = obj
            .get("current_page")
            .and_then(Value::as_u64)
            .unwrap_or(requested);
        let total = obj
            .get("total_pages")
            .and_then(Value::as_u64)
            .ok_or_else(|| wire::decode_error(ID, "`total_pages` is missing"))?;
        let next = (current < total && !items.is_empty()).then(|| Cursor::Page(current + 1));
        Ok(ListPage { records, next })
    }

    /// `error.message` plus `error.errors`; a 429 carries a top-level `message`.
    fn error_message(&self, status: u16, body: &Value) -> Option<String> {
        let Some(error) = body.get("error").filter(|e| e.is_object()) else {
            return (status == 429)
                .then(|| wire::scalar_text(body.get("message")))
                .flatten();
        };
        let message = wire::scalar_text(error.get("message"));
        let details: Vec<String> = error
            .get("errors")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|e| wire::scalar_text(Some(e)))
                    .collect()
            })
            .unwrap_or_default();
        match (message, details.is_empty()) {
            (Some(m), true) => Some(m),
            (Some(m), false) => Some(format!("{m}: {}", details.join("; "))),
            (None, false) => Some(details.join("; ")),
            (None, true) => None,
        }
    }

    fn is_deleted(&self, body: &Value) -> bool {
        body.get("deleted").and_then(Value::as_bool) == Some(true)
    }
}

fn decode(value: &Value) -> Result<RemoteRecord, DecodeError> {
    let obj = wire::object(ID, value, "an MCP server")?;
    let mut rec = RemoteRecord {
        id: wire::required_id(ID, obj, "id")?,
        ..RemoteRecord::default()
    };
    if let Some(name) = wire::opt_str(ID, obj, "name")? {
        rec.name = Some(name.to_string());
        rec.fields.insert(Field::DisplayName, json!(name));
    }
    if let Some(tools) = wire::opt_string_set(ID, obj, "allowed_tools")? {
        rec.fields.insert(Field::Tools, json!({ "allowed": tools }));
    }
    if let Some(v) = wire::opt_string_set(ID, obj, "toolkits")? {
        rec.fields.insert(Field::Toolkits, v);
    }
    if let Some(v) = wire::opt_string_set(ID, obj, "auth_config_ids")? {
        rec.fields.insert(Field::AuthConfigIds, v);
    }
    if let Some(b) = wire::opt_bool(ID, obj, "managed_auth_via_composio")? {
        rec.fields.insert(Field::ManagedAuth, json!(b));
    }
    rec.updated_at = wire::iso_timestamp(obj.get("updated_at"));
    Ok(rec)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Availability;

    fn model(header: Option<ComposioKeyHeader>) -> Composio {
        Composio::new(&ComposioProvider {
            api_key_secret_ref: SecretKeyRef {
                name: "s".into(),
                key: "k".into(),
                namespace: None,
            },
            key_header: header,
        })
    }

    /// Seed 001, 200 answer (with concrete values).
    fn seed_response() -> Value {
        json!({
            "id": "srv-1", "name": "GitHub tools", "auth_config_ids": ["ac_2", "ac_1"],
            "allowed_tools": ["GITHUB_STAR", "GITHUB_CREATE_ISSUE", "GITHUB_STAR"],
            "mcp_url": "https://mcp.composio.dev/x", "toolkits": ["github"],
            "toolkit_icons": {"github": "https://x/icon.png"},
            "commands": {"cursor": "c", "claude": "c", "windsurf": "w"},
            "updated_at": "2025-06-01T10:00:00.000Z", "created_at": "2025-06-01T09:00:00.000Z",
            "server_instance_count": 1, "managed_auth_via_composio": true, "deleted": false
        })
    }

    #[test]
    fn seed_patch_body() {
        let changes = [
            Change {
                field: Field::DisplayName,
                value: Some(json!("string")),
            },
            Change {
                field: Field::Toolkits,
                value: Some(json!(["string"])),
            },
            Change {
                field: Field::Tools,
                value: Some(json!({"allowed": ["string"]})),
            },
            Change {
                field: Field::ManagedAuth,
                value: Some(json!(true)),
            },
            Change {
                field: Field::AuthConfigIds,
                value: Some(json!(["string"])),
            },
        ];
        let req = model(None).patch_request("string", &changes, &WriteContext::default());
        assert_eq!(req.method, Method::Patch);
        assert_eq!(req.path, "/api/v3/mcp/string");
        assert_eq!(
            req.body,
            Some(json!({
                "name": "string", "toolkits": ["string"], "allowed_tools": ["string"],
                "managed_auth_via_composio": true, "auth_config_ids": ["string"]
            }))
        );
    }

    #[test]
    fn seed_response_decodes_sets_canonically() {
        let rec = model(None).parse_record(&seed_response()).unwrap();
        assert_eq!(rec.id, "srv-1");
        assert_eq!(rec.name.as_deref(), Some("GitHub tools"));
        assert_eq!(
            rec.fields[&Field::Tools],
            json!({"allowed": ["GITHUB_CREATE_ISSUE", "GITHUB_STAR"]})
        );
        assert_eq!(rec.fields[&Field::AuthConfigIds], json!(["ac_1", "ac_2"]));
        assert_eq!(rec.fields[&Field::Toolkits], json!(["github"]));
        assert_eq!(rec.fields[&Field::ManagedAuth], json!(true));
        assert_eq!(rec.availability, Availability::Unknown);
        assert_eq!(
            rec.updated_at.map(|t| t.to_string()).as_deref(),
            Some("2025-06-01T10:00:00Z")
        );
        assert!(!model(None).is_deleted(&seed_response()));
        assert!(model(None).is_deleted(&json!({"id": "x", "deleted": true})));
    }

    #[test]
    fn pagination() {
        let m = model(None);
        let req = m.list_request(None, Some("GitHub tools"));
        assert_eq!(req.path, "/api/v3/mcp/servers");
        assert_eq!(
            req.query,
            vec![
                ("name".into(), "GitHub tools".into()),
                ("page_no".into(), "1".into()),
                ("limit".into(), "100".into())
            ]
        );
        let req = m.list_request(Some(&Cursor::Page(3)), None);
        assert_eq!(req.query[0], ("page_no".into(), "3".into()));

        let deleted = json!({"id": "gone", "deleted": true});
        let body =
            json!({"items": [seed_response(), deleted], "current_page": 1, "total_pages": 2});
        let page = m.parse_list(&body, None).unwrap();
        assert_eq!(page.records.len(), 1);
        assert_eq!(page.next, Some(Cursor::Page(2)));
        let body = json!({"items": [seed_response()], "current_page": 2, "total_pages": 2});
        let page = m.parse_list(&body, Some(&Cursor::Page(2))).unwrap();
        assert_eq!(page.next, None);
        let err = m.parse_list(&json!({"items": []}), None).unwrap_err();
        assert!(err.what.contains("total_pages"));
    }

    #[test]
    fn create_request() {
        let m = model(None);
        let mut fields = BTreeMap::from([
            (Field::DisplayName, json!("GitHub tools")),
            (Field::Toolkits, json!(["github"])),
            (Field::Tools, json!({"allowed": ["GITHUB_STAR"]})),
        ]);
        let req = m.create_request(&fields, &WriteContext::default()).unwrap();
        assert_eq!(req.path, "/api/v3/mcp/servers/custom");
        assert_eq!(
            req.body,
            Some(
                json!({"name": "GitHub tools", "toolkits": ["github"], "allowed_tools": ["GITHUB_STAR"]})
            )
        );
        fields.remove(&Field::DisplayName);
        let err = m
            .create_request(&fields, &WriteContext::default())
            .unwrap_err();
        assert_eq!(err.path, "spec.displayName");
    }

    #[test]
    fn checks() {
        let m = model(None);
        let cases = [
            (Field::DisplayName, json!("GitHub tools-2"), None),
            (Field::DisplayName, json!("abc"), Some(false)),
            (Field::DisplayName, json!("a".repeat(31)), Some(false)),
            (Field::DisplayName, json!("under_score"), Some(false)),
            (Field::Tools, json!({"allowed": ["A"]}), None),
            (Field::Tools, json!({"enabled": true}), Some(true)),
            (Field::Url, json!("https://x"), Some(true)),
            (Field::ManagedAuth, json!(false), None),
        ];
        for (field, value, want) in cases {
            let got = m.check(field, &value).err().map(|v| v.unsupported);
            assert_eq!(got, want, "{field} {value}");
        }
        let v = m
            .check(Field::Tools, &json!({"enabled": false}))
            .unwrap_err();
        assert_eq!(v.path, "spec.tools.enabled");
        let v = m.check(Field::DisplayName, &json!("x_y")).unwrap_err();
        assert!(v.rule.contains("4-30"), "{}", v.rule);
    }

    #[test]
    fn error_messages() {
        let m = model(None);
        let cases = [
            (
                400,
                json!({"error": {"message": "Invalid name", "code": 1, "slug": "x", "status": 400,
                    "errors": ["name: too short", "toolkits: unknown"], "suggested_fix": "s"}}),
                Some("Invalid name: name: too short; toolkits: unknown"),
            ),
            (
                404,
                json!({"error": {"message": "MCP server not found", "code": 2, "slug": "nf", "status": 404}}),
                Some("MCP server not found"),
            ),
            (
                429,
                json!({"message": "Too many requests"}),
                Some("Too many requests"),
            ),
            (400, json!({"message": "not documented here"}), None),
        ];
        for (status, body, want) in cases {
            assert_eq!(m.error_message(status, &body).as_deref(), want);
        }
    }

    #[test]
    fn auth_header_follows_key_header() {
        assert_eq!(model(None).auth_headers()[0].header, "x-api-key");
        assert_eq!(
            model(Some(ComposioKeyHeader::XUserApiKey)).auth_headers()[0].header,
            "x-user-api-key"
        );
    }
}
