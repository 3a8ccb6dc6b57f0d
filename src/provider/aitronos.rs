//! Aitronos "Freddy" API: `/v1/mcp-configurations` (seed 000, docs/providers.md).
//!
//! Mixed-case answers (`server_url` but `transportType`, `isActive`); the transport is set
//! on create only; credentials and tool configuration are never returned (write-only).

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::wire::{self, SSE, STREAMABLE_HTTP, WEB_SOCKET};
use kube::KubeSchema;
use serde::{Deserialize, Serialize};

use super::{
    AuthHeader, Change, Cursor, DecodeError, Descriptor, FieldRule, FieldSupport, ListPage,
    Method, ProviderKind, ProviderModel, RemoteRecord, RequestSpec, Violation, WriteContext,
};
use crate::api::{Availability, SecretKeyRef};
use crate::vocab::field::Field;

const ID: &str = "aitronos";
const COLLECTION: &str = "/v1/mcp-configurations";

/// Everything docs/providers.md marks **assumed** for Aitronos, in one place.
pub mod assumed {
    /// The list endpoint has no pagination: one GET returns every configuration.
    pub const LIST_IS_PAGINATED: bool = false;
    /// `auth_type` sent on create when the server has no credentials (the field is
    /// required; the vendor names no value for "none").
    pub const AUTH_TYPE_WITHOUT_CREDENTIALS: &str = "none";
    /// Create accepts only these fields (422 on unknown fields): `is_active` is not among
    /// them, so `enabled: false` needs a PATCH after the create.
    pub const CREATE_FIELDS: [&str; 7] = [
        "name",
        "server_url",
        "transport_type",
        "auth_type",
        "organization_id",
        "credentials",
        "tool_configuration",
    ];
}

/// Aitronos account settings.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct AitronosProvider {
    /// Secret key holding the API key, sent as `X-API-Key`.
    pub api_key_secret_ref: SecretKeyRef,
    /// Organization that owns the MCP configurations (`organization_id`, e.g. `org_...`).
    #[schemars(length(min = 1, max = 255))]
    pub organization_id: String,
}

pub const DESCRIPTOR: Descriptor = Descriptor {
    id: ID,
    default_base_url: Some("https://api.aitronos.com"),
    secret_refs: &["apiKeySecretRef"],
    sim_prefixes: &["aitronos"],
    fields: &[
        FieldSupport::new(Field::DisplayName, FieldRule::plain("name")),
        FieldSupport::new(Field::Url, FieldRule::plain("server_url")).constraint("https only"),
        FieldSupport::new(
            Field::Transport,
            FieldRule::plain("transport_type").create_only(),
        )
        .wire("`sse`/`streamable_http`")
        .constraint("no `WebSocket`"),
        FieldSupport::new(Field::Enabled, FieldRule::plain("is_active"))
            .wire("read back as `isActive`"),
        FieldSupport::new(
            Field::Credentials,
            FieldRule::plain("credentials").write_only(),
        )
        .wire("with `auth_type` from `authType` on create"),
        FieldSupport::new(
            Field::Tools,
            FieldRule::plain("tool_configuration").write_only(),
        )
        .wire("`{enabled, allowed_tools}`"),
    ],
    required_on_create: &[Field::DisplayName, Field::Url, Field::Transport],
};

/// The Aitronos model for one organization.
#[derive(Clone, Debug)]
pub struct Aitronos {
    organization_id: String,
    api_key: SecretKeyRef,
}

impl Aitronos {
    pub fn new(p: &AitronosProvider) -> Self {
        Aitronos {
            organization_id: p.organization_id.clone(),
            api_key: p.api_key_secret_ref.clone(),
        }
    }

    fn item_path(id: &str) -> String {
        format!("{COLLECTION}/{}", wire::path_segment(id))
    }

    /// The remote (key, value) of one canonical field; `None` for fields Aitronos does not
    /// take in a body.
    fn encode(field: Field, value: Option<&Value>) -> Option<(&'static str, Value)> {
        let rule = field_rule(field)?;
        let Some(value) = value else {
            return Some((rule.remote, Value::Null));
        };
        let remote = match field {
            Field::Transport => match value.as_str() {
                Some(SSE) => json!("sse"),
                Some(STREAMABLE_HTTP) => json!("streamable_http"),
                _ => value.clone(),
            },
            Field::Tools => encode_tools(value),
            _ => value.clone(),
        };
        Some((rule.remote, remote))
    }
}

/// Canonical tools `{"enabled"?, "allowed"?}` -> `{"enabled"?, "allowed_tools"?}`.
fn encode_tools(value: &Value) -> Value {
    let mut out = Map::new();
    if let Some(enabled) = value.get("enabled") {
        out.insert("enabled".into(), enabled.clone());
    }
    if let Some(allowed) = value.get("allowed") {
        out.insert("allowed_tools".into(), allowed.clone());
    }
    Value::Object(out)
}

fn field_rule(field: Field) -> Option<FieldRule> {
    DESCRIPTOR.rule(field)
}

impl ProviderModel for Aitronos {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Aitronos
    }

    fn check(&self, field: Field, value: &Value) -> Result<(), Violation> {
        match field {
            Field::Url => {
                let url = wire::expect_str(ID, field, value)?;
                let https = url::Url::parse(url)
                    .map(|u| u.scheme() == "https" && u.host().is_some())
                    .unwrap_or(false);
                if !https {
                    return Err(wire::invalid(
                        field,
                        "aitronos server_url must be an absolute https:// URL",
                    ));
                }
            }
            Field::Transport if value.as_str() == Some(WEB_SOCKET) => {
                return Err(wire::invalid(
                    field,
                    "aitronos transport_type is sse or streamable_http: WebSocket is not supported",
                ));
            }
            Field::DisplayName => {
                wire::expect_str(ID, field, value)?;
            }
            Field::Enabled if !value.is_boolean() => {
                return Err(wire::wrong_type(ID, field, "a boolean"));
            }
            _ => {}
        }
        if field_rule(field).is_none() {
            return Err(wire::unsupported(
                field.to_string(),
                format!("aitronos does not support {field}"),
            ));
        }
        Ok(())
    }

    /// Aitronos documents no uniqueness of configuration names: a look-up by name may find
    /// several, so the engine must not adopt by name alone.
    fn names_unique(&self) -> bool {
        false
    }

    fn auth_headers(&self) -> Vec<AuthHeader> {
        vec![AuthHeader {
            header: "X-API-Key",
            prefix: "",
            secret: self.api_key.clone(),
        }]
    }

    fn get_request(&self, id: &str) -> RequestSpec {
        RequestSpec::new(Method::Get, Self::item_path(id))
    }

    /// Aitronos cannot filter by name: the caller filters the listing.
    fn list_request(&self, _cursor: Option<&Cursor>, _name: Option<&str>) -> RequestSpec {
        RequestSpec::new(Method::Get, COLLECTION).query("organization_id", &self.organization_id)
    }

    fn create_request(
        &self,
        fields: &BTreeMap<Field, Value>,
        ctx: &WriteContext,
    ) -> Result<RequestSpec, Violation> {
        let mut body = Map::new();
        for (field, value) in fields {
            if let Some((key, v)) = Self::encode(*field, Some(value))
                && assumed::CREATE_FIELDS.contains(&key)
            {
                body.insert(key.to_string(), v);
            }
        }
        wire::check_required(&DESCRIPTOR, &body)?;
        let auth_type = match (&ctx.auth_type, fields.contains_key(&Field::Credentials)) {
            (Some(t), _) => t.clone(),
            (None, false) => assumed::AUTH_TYPE_WITHOUT_CREDENTIALS.to_string(),
            (None, true) => {
                return Err(Violation {
                    path: "spec.credentials.authType".into(),
                    rule: "aitronos requires `auth_type` on create when credentials are set".into(),
                    unsupported: false,
                });
            }
        };
        body.insert("auth_type".into(), Value::String(auth_type));
        body.insert(
            "organization_id".into(),
            Value::String(self.organization_id.clone()),
        );
        Ok(RequestSpec::new(Method::Post, COLLECTION).body(Value::Object(body)))
    }

    /// Create-only (`transport_type`) and unsupported fields are left out: the engine
    /// refuses those changes before asking for a PATCH.
    fn patch_request(&self, id: &str, changes: &[Change], _ctx: &WriteContext) -> RequestSpec {
        let mut body = Map::new();
        for change in changes {
            if field_rule(change.field).is_some_and(|r| r.create_only) {
                continue;
            }
            if let Some((key, v)) = Self::encode(change.field, change.value.as_ref()) {
                body.insert(key.to_string(), v);
            }
        }
        RequestSpec::new(Method::Patch, Self::item_path(id)).body(Value::Object(body))
    }

    fn delete_request(&self, id: &str) -> RequestSpec {
        RequestSpec::new(Method::Delete, Self::item_path(id))
    }

    fn wire_value(&self, field: Field, value: &Value) -> Value {
        Self::encode(field, Some(value)).map_or_else(|| value.clone(), |(_, v)| v)
    }

    fn parse_record(&self, body: &Value) -> Result<RemoteRecord, DecodeError> {
        let obj = wire::object(ID, body, "the answer")?;
        // Some answers wrap the object in `data`.
        match obj.get("data") {
            Some(inner @ Value::Object(_)) if !obj.contains_key("id") => decode(inner),
            _ => decode(body),
        }
    }

    fn parse_list(&self, body: &Value, _cursor: Option<&Cursor>) -> Result<ListPage, DecodeError> {
        let obj = wire::object(ID, body, "the list answer")?;
        let items = list_items(obj)?;
        let records = items.iter().map(decode).collect::<Result<Vec<_>, _>>()?;
        Ok(ListPage {
            records,
            next: None,
        })
    }

    /// `error.message` with `error.code` in parentheses.
    fn error_message(&self, _status: u16, body: &Value) -> Option<String> {
        let error = body.get("error")?;
        let mut message = wire::scalar_text(error.get("message"))?;
        // `system_message` carries the reason ("server_url must use HTTPS"); a person needs it
        // to fix the spec. It is a documented message field, masked like the rest.
        if let Some(detail) =
            wire::scalar_text(error.get("system_message")).filter(|d| *d != message)
        {
            message = format!("{message}: {detail}");
        }
        Some(match wire::scalar_text(error.get("code")) {
            Some(code) => format!("{message} ({code})"),
            None => message,
        })
    }
}

/// The configurations of a list answer: `{"configurations": [...]}`, or under `data`
/// (`{"data": [...]}` or `{"data": {"configurations": [...]}}`).
fn list_items(obj: &Map<String, Value>) -> Result<&Vec<Value>, DecodeError> {
    fn from(v: Option<&Value>) -> Option<&Vec<Value>> {
        match v? {
            Value::Array(a) => Some(a),
            Value::Object(o) => o.get("configurations")?.as_array(),
            _ => None,
        }
    }
    from(obj.get("configurations"))
        .or_else(|| from(obj.get("data")))
        .ok_or_else(|| wire::decode_error(ID, "neither `configurations` nor `data` is a list"))
}

fn decode(value: &Value) -> Result<RemoteRecord, DecodeError> {
    let obj = wire::object(ID, value, "a configuration")?;
    let mut rec = RemoteRecord {
        id: wire::required_id(ID, obj, "id")?,
        ..RemoteRecord::default()
    };
    if let Some(name) = wire::opt_str(ID, obj, "name")? {
        rec.name = Some(name.to_string());
        rec.fields.insert(Field::DisplayName, json!(name));
    }
    if let Some(url) = wire::opt_str(ID, obj, "server_url")? {
        rec.fields.insert(Field::Url, json!(url));
    }
    if let Some(t) = wire::first_str(ID, obj, &["transportType", "transport_type"])? {
        let canonical = match t.to_ascii_lowercase().as_str() {
            "sse" => SSE,
            "streamable_http" => STREAMABLE_HTTP,
            _ => {
                return Err(wire::decode_error(
                    ID,
                    "`transportType` has an unknown value",
                ));
            }
        };
        rec.fields.insert(Field::Transport, json!(canonical));
    }
    let active = match wire::opt_bool(ID, obj, "isActive")? {
        Some(b) => Some(b),
        None => wire::opt_bool(ID, obj, "is_active")?,
    };
    if let Some(active) = active {
        rec.fields.insert(Field::Enabled, json!(active));
    }
    let (availability, message) = availability(obj)?;
    rec.availability = availability;
    rec.availability_message = message;
    rec.last_available_at = wire::iso_timestamp(obj.get("lastConnectedAt"));
    rec.updated_at = wire::iso_timestamp(obj.get("updated_at"));
    Ok(rec)
}

/// `connectionStatus` per docs/providers.md; the message only when unavailable.
fn availability(obj: &Map<String, Value>) -> Result<(Availability, Option<String>), DecodeError> {
    let Some(status) = wire::opt_str(ID, obj, "connectionStatus")? else {
        return Ok((Availability::Unknown, None));
    };
    Ok(match status.to_ascii_lowercase().as_str() {
        "connected" => (Availability::Available, None),
        "error" | "failed" | "disconnected" => (
            Availability::Unavailable,
            wire::opt_str(ID, obj, "errorMessage")?.map(str::to_string),
        ),
        _ => (Availability::Pending, None),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_value_shows_what_the_registry_receives() {
        let m = model();
        assert_eq!(m.wire_value(Field::Transport, &json!("Sse")), json!("sse"));
        assert_eq!(
            m.wire_value(Field::Tools, &json!({"enabled": true, "allowed": ["a"]})),
            json!({"enabled": true, "allowed_tools": ["a"]})
        );
        assert_eq!(
            m.wire_value(Field::DisplayName, &json!("GitHub")),
            json!("GitHub")
        );
    }

    fn model() -> Aitronos {
        Aitronos::new(&AitronosProvider {
            api_key_secret_ref: SecretKeyRef {
                name: "s".into(),
                key: "k".into(),
                namespace: None,
            },
            organization_id: "org_1".into(),
        })
    }

    /// Seed 000, 200 answer.
    fn seed_response() -> Value {
        json!({
            "id": "mcp_abc123xyz", "name": "Updated GitHub MCP", "type": "custom",
            "organization_id": "org_1234567890abcdef1234567890abcdef",
            "userId": "usr_1234567890abcdef1234567890abcdef",
            "server_url": "https://github-mcp.example.com", "transportType": "sse",
            "authType": "api_key", "isActive": false, "connectionStatus": "connected",
            "lastConnectedAt": "2025-11-13T10:30:00Z", "errorMessage": null,
            "created_at": "2025-11-13T10:00:00Z", "updated_at": "2025-11-13T11:00:00Z"
        })
    }

    #[test]
    fn seed_patch_body() {
        let changes = [
            Change {
                field: Field::DisplayName,
                value: Some(json!("Updated GitHub")),
            },
            Change {
                field: Field::Enabled,
                value: Some(json!(false)),
            },
            Change {
                field: Field::Tools,
                value: Some(json!({"enabled": true, "allowed": ["search_code"]})),
            },
        ];
        let req = model().patch_request("mcp_abc123xyz", &changes, &WriteContext::default());
        assert_eq!(req.method, Method::Patch);
        assert_eq!(req.path, "/v1/mcp-configurations/mcp_abc123xyz");
        assert_eq!(
            req.body,
            Some(json!({
                "name": "Updated GitHub", "is_active": false,
                "tool_configuration": {"enabled": true, "allowed_tools": ["search_code"]}
            }))
        );
    }

    #[test]
    fn patch_skips_create_only_transport_and_sends_null() {
        let changes = [
            Change {
                field: Field::Transport,
                value: Some(json!("Sse")),
            },
            Change {
                field: Field::Credentials,
                value: None,
            },
        ];
        let req = model().patch_request("a/b", &changes, &WriteContext::default());
        assert_eq!(req.path, "/v1/mcp-configurations/a%2Fb");
        assert_eq!(req.body, Some(json!({"credentials": null})));
    }

    #[test]
    fn seed_response_decodes() {
        let rec = model().parse_record(&seed_response()).unwrap();
        assert_eq!(rec.id, "mcp_abc123xyz");
        assert_eq!(rec.name.as_deref(), Some("Updated GitHub MCP"));
        assert_eq!(
            rec.fields[&Field::Url],
            json!("https://github-mcp.example.com")
        );
        assert_eq!(rec.fields[&Field::Transport], json!("Sse"));
        assert_eq!(rec.fields[&Field::Enabled], json!(false));
        assert!(!rec.fields.contains_key(&Field::Credentials));
        assert_eq!(rec.availability, Availability::Available);
        assert_eq!(
            rec.last_available_at.map(|t| t.to_string()).as_deref(),
            Some("2025-11-13T10:30:00Z")
        );
        assert_eq!(
            rec.updated_at.map(|t| t.to_string()).as_deref(),
            Some("2025-11-13T11:00:00Z")
        );
    }

    #[test]
    fn availability_table() {
        let cases = [
            (Some("connected"), None, Availability::Available, None),
            (
                Some("error"),
                Some("boom"),
                Availability::Unavailable,
                Some("boom"),
            ),
            (Some("failed"), None, Availability::Unavailable, None),
            (
                Some("disconnected"),
                Some("x"),
                Availability::Unavailable,
                Some("x"),
            ),
            (Some("connecting"), Some("x"), Availability::Pending, None),
            (None, None, Availability::Unknown, None),
        ];
        for (status, msg, want, want_msg) in cases {
            let mut body = json!({"id": "m"});
            if let Some(s) = status {
                body["connectionStatus"] = json!(s);
            }
            if let Some(m) = msg {
                body["errorMessage"] = json!(m);
            }
            let rec = model().parse_record(&body).unwrap();
            assert_eq!(rec.availability, want, "{status:?}");
            assert_eq!(rec.availability_message.as_deref(), want_msg, "{status:?}");
        }
    }

    #[test]
    fn list_accepts_both_shapes() {
        let m = model();
        let req = m.list_request(None, Some("x"));
        assert_eq!(req.path, "/v1/mcp-configurations");
        assert_eq!(req.query, vec![("organization_id".into(), "org_1".into())]);
        for body in [
            json!({"configurations": [seed_response()]}),
            json!({"data": [seed_response()]}),
            json!({"data": {"configurations": [seed_response()]}}),
        ] {
            let page = m.parse_list(&body, None).unwrap();
            assert_eq!(page.records.len(), 1);
            assert_eq!(page.next, None);
        }
        let err = m.parse_list(&json!({"items": []}), None).unwrap_err();
        assert!(err.to_string().contains("configurations"));
        let data = json!({"data": seed_response()});
        assert_eq!(m.parse_record(&data).unwrap().id, "mcp_abc123xyz");
    }

    #[test]
    fn decode_errors_name_the_field() {
        let err = model()
            .parse_record(&json!({"name": "secret-ish"}))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "aitronos answer has an unexpected shape: `id` is missing"
        );
        let err = model()
            .parse_record(&json!({"id": "m", "isActive": "yes"}))
            .unwrap_err();
        assert!(err.to_string().contains("isActive"));
        assert!(!err.to_string().contains("yes"));
    }

    #[test]
    fn create_body_and_required_fields() {
        let m = model();
        let mut fields = BTreeMap::from([
            (Field::DisplayName, json!("GitHub")),
            (Field::Url, json!("https://g.example.com")),
            (Field::Transport, json!("StreamableHttp")),
            (Field::Enabled, json!(true)),
            (Field::Credentials, json!({"token": "t"})),
        ]);
        let ctx = WriteContext {
            auth_type: Some("bearer".into()),
            ..WriteContext::default()
        };
        let req = m.create_request(&fields, &ctx).unwrap();
        assert_eq!(req.method, Method::Post);
        assert_eq!(req.path, "/v1/mcp-configurations");
        assert_eq!(
            req.body,
            Some(json!({
                "name": "GitHub", "server_url": "https://g.example.com",
                "transport_type": "streamable_http", "auth_type": "bearer",
                "organization_id": "org_1", "credentials": {"token": "t"}
            }))
        );
        let err = m
            .create_request(&fields, &WriteContext::default())
            .unwrap_err();
        assert_eq!(err.path, "spec.credentials.authType");
        fields.remove(&Field::Credentials);
        let req = m.create_request(&fields, &WriteContext::default()).unwrap();
        assert_eq!(req.body.unwrap()["auth_type"], json!("none"));
        fields.remove(&Field::Transport);
        let err = m.create_request(&fields, &ctx).unwrap_err();
        assert_eq!(err.path, "spec.transport");
        assert!(err.rule.contains("transport_type"));
    }

    #[test]
    fn checks() {
        let m = model();
        let cases = [
            (Field::Url, json!("https://x.example.com/mcp"), None),
            (Field::Url, json!("http://x.example.com"), Some(false)),
            (Field::Url, json!("not a url"), Some(false)),
            (Field::Transport, json!("WebSocket"), Some(false)),
            (Field::Transport, json!("Sse"), None),
            (Field::Enabled, json!(true), None),
            (Field::Description, json!("d"), Some(true)),
            (Field::Headers, json!({}), Some(true)),
        ];
        for (field, value, want) in cases {
            let got = m.check(field, &value).err().map(|v| v.unsupported);
            assert_eq!(got, want, "{field} {value}");
        }
        let v = m.check(Field::Url, &json!("http://x")).unwrap_err();
        assert_eq!(v.path, "spec.url");
        assert!(v.rule.contains("https"));
    }

    #[test]
    fn error_messages() {
        let body = json!({"success": false, "error": {
            "code": "VALIDATION_ERROR", "message": "Invalid request parameters",
            "system_message": "Validation failed", "type": "validation_error",
            "status": 400, "trace_id": "req_xyz789", "timestamp": "2025-11-13T10:30:00Z"}});
        assert_eq!(
            model().error_message(400, &body).as_deref(),
            Some("Invalid request parameters: Validation failed (VALIDATION_ERROR)")
        );
        assert_eq!(model().error_message(500, &json!({"detail": "x"})), None);
    }

    #[test]
    fn auth_and_rules() {
        let m = model();
        assert_eq!(m.auth_headers()[0].header, "X-API-Key");
        assert!(m.field_rule(Field::Transport).unwrap().create_only);
        assert!(m.field_rule(Field::Tools).unwrap().write_only);
        assert!(m.field_rule(Field::Headers).is_none());
        assert!(!m.names_unique());
    }
}
