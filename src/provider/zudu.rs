//! Zudu: `/api/mcp-servers` (seeds 003 `Wrapped` and 004 `Flat`, docs/providers.md).
//!
//! Every answer is an envelope `{"message", "status", "error", "data"}`. The two body
//! styles differ in the request shape (`{"config": {...}}` or flat), in the names of the
//! answer fields (`server_url`/`server_name` or `url`/`name`), and in two extra enum
//! values that only `Flat` accepts.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::wire::{self, SSE, STREAMABLE_HTTP, WEB_SOCKET};
use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{
    AuthHeader, Change, Cursor, DecodeError, Descriptor, FieldRule, FieldSupport, ListPage,
    Method, ProviderKind, ProviderModel, RemoteRecord, RequestSpec, Violation, WriteContext,
};
use crate::api::SecretKeyRef;
use crate::vocab::field::Field;

const ID: &str = "zudu";
const COLLECTION: &str = "/api/mcp-servers";

/// Everything not documented for Zudu, in one place.
pub mod assumed {
    use crate::vocab::field::Field;

    /// `DELETE /api/mcp-servers/{id}` deletes a server (docs/providers.md: assumed).
    pub const DELETE_SUPPORTED: bool = true;
    /// Page size of listings (the reference shows `limit=20`; its maximum is unknown).
    pub const PAGE_SIZE: u32 = 20;
    /// Fields create needs (the reference lists the fields, not which are required).
    pub const CREATE_REQUIRED: &[Field] = &[Field::Url, Field::DisplayName];
}

const NAME_MAX: usize = 255;
const URL_MAX: usize = 1000;
const DESCRIPTION_MAX: usize = 5000;
const SECRET_ID_MAX: usize = 255;

/// Canonical approval policy <-> Zudu's snake-case value; the flag marks `Flat`-only ones.
const APPROVAL: [(&str, &str, bool); 4] = [
    ("AutoApproveAll", "auto_approve_all", false),
    ("RequireApprovalAll", "require_approval_all", false),
    ("RequireApprovalPerTool", "require_approval_per_tool", false),
    ("AutoApproveReadOnly", "auto_approve_read_only", true),
];

/// Canonical transport <-> Zudu's value; the flag marks `Flat`-only ones.
const TRANSPORT: [(&str, &str, bool); 3] = [
    (SSE, "SSE", false),
    (STREAMABLE_HTTP, "STREAMABLE_HTTP", false),
    (WEB_SOCKET, "WebSocket", true),
];

// The two request shapes Zudu documents for its update endpoint.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, Hash, JsonSchema)]
pub enum ZuduBodyStyle {
    /// Fields inside a `config` object (the public reference; default).
    #[default]
    Wrapped,
    /// Fields at the top level (the generated reference); also allows the `WebSocket`
    /// transport and the `auto_approve_read_only` approval policy.
    Flat,
}

/// Zudu account settings.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ZuduProvider {
    /// Secret key holding the API key (`sk_...`), sent as `X-API-KEY`.
    pub api_key_secret_ref: SecretKeyRef,
    /// Secret key holding the API secret, sent as `X-API-SECRET`.
    pub api_secret_secret_ref: SecretKeyRef,
    /// Request body style: `Wrapped` (default) or `Flat`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_style: Option<ZuduBodyStyle>,
}

pub const DESCRIPTOR: Descriptor = Descriptor {
    id: ID,
    default_base_url: Some("https://api.zudu.ai"),
    secret_refs: &["apiKeySecretRef", "apiSecretSecretRef"],
    // `bodyStyle: Wrapped` (seed 003), then `Flat` (seed 004).
    sim_prefixes: &["zudu", "zudu-flat"],
    fields: &[
        FieldSupport::new(Field::DisplayName, FieldRule::plain("name"))
            .constraint("max 255, unique in the organization"),
        FieldSupport::new(Field::Url, FieldRule::plain("url")).constraint("max 1000"),
        FieldSupport::new(Field::Description, FieldRule::plain("description"))
            .constraint("max 5000"),
        FieldSupport::new(Field::Transport, FieldRule::plain("transport"))
            .wire("`SSE`/`STREAMABLE_HTTP`/`WebSocket`")
            .constraint("`WebSocket` with `bodyStyle: Flat` only"),
        FieldSupport::new(Field::ApprovalPolicy, FieldRule::plain("approval_policy"))
            .wire("`auto_approve_all`/`require_approval_all`/`require_approval_per_tool`/`auto_approve_read_only`")
            .constraint("`AutoApproveReadOnly` with `bodyStyle: Flat` only"),
        FieldSupport::new(Field::Headers, FieldRule::plain("request_headers"))
            .wire("`{name: value}`, read back in plain text"),
        FieldSupport::new(
            Field::SecretTokenId,
            FieldRule::plain("secret_token").write_only(),
        )
        .wire("`{secret_id}`")
        .constraint("max 255"),
    ],
    required_on_create: assumed::CREATE_REQUIRED,
};

/// The Zudu model for one body style.
#[derive(Clone, Debug)]
pub struct Zudu {
    style: ZuduBodyStyle,
    api_key: SecretKeyRef,
    api_secret: SecretKeyRef,
}

impl Zudu {
    pub fn new(p: &ZuduProvider) -> Self {
        Zudu {
            style: p.body_style.unwrap_or_default(),
            api_key: p.api_key_secret_ref.clone(),
            api_secret: p.api_secret_secret_ref.clone(),
        }
    }

    fn item_path(id: &str) -> String {
        format!("{COLLECTION}/{}", wire::path_segment(id))
    }

    /// The write body in this style: `{"config": fields}` or the fields themselves.
    fn wrap(&self, fields: Map<String, Value>) -> Value {
        match self.style {
            ZuduBodyStyle::Wrapped => json!({ "config": fields }),
            ZuduBodyStyle::Flat => Value::Object(fields),
        }
    }

    fn encode(field: Field, value: Option<&Value>) -> Option<(&'static str, Value)> {
        let rule = field_rule(field)?;
        let Some(value) = value else {
            return Some((rule.remote, Value::Null));
        };
        let remote = match field {
            Field::Transport => map_enum(&TRANSPORT, value, true),
            Field::ApprovalPolicy => map_enum(&APPROVAL, value, true),
            Field::SecretTokenId => json!({ "secret_id": value }),
            _ => value.clone(),
        };
        Some((rule.remote, remote))
    }

    fn flat_only_violation(&self, field: Field, value: &str) -> Result<(), Violation> {
        if self.style == ZuduBodyStyle::Flat {
            return Ok(());
        }
        Err(wire::invalid(
            field,
            format!("zudu accepts {field} {value} only with bodyStyle: Flat"),
        ))
    }
}

/// Canonical -> remote (`to_remote`) or remote -> canonical; unknown values pass through
/// unchanged on the way out (check refuses them first) and yield `Null` on the way in.
fn map_enum(table: &[(&str, &str, bool)], value: &Value, to_remote: bool) -> Value {
    let Some(s) = value.as_str() else {
        return if to_remote {
            value.clone()
        } else {
            Value::Null
        };
    };
    let found = table
        .iter()
        .find(|(c, r, _)| if to_remote { *c == s } else { *r == s });
    match (found, to_remote) {
        (Some((_, r, _)), true) => json!(r),
        (Some((c, _, _)), false) => json!(c),
        (None, true) => value.clone(),
        (None, false) => Value::Null,
    }
}

fn field_rule(field: Field) -> Option<FieldRule> {
    DESCRIPTOR.rule(field)
}

fn max_len(field: Field, value: &str, max: usize, what: &str) -> Result<(), Violation> {
    let len = wire::char_len(value);
    if len > max {
        return Err(wire::invalid(
            field,
            format!("zudu {what} is at most {max} characters (got {len})"),
        ));
    }
    Ok(())
}

impl ProviderModel for Zudu {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Zudu
    }

    /// The descriptor's prefixes, in body-style order: `Wrapped` first, then `Flat`.
    fn sim_prefix(&self) -> &'static str {
        let index = match self.style {
            ZuduBodyStyle::Wrapped => 0,
            ZuduBodyStyle::Flat => 1,
        };
        DESCRIPTOR.sim_prefixes.get(index).copied().unwrap_or(ID)
    }

    fn check(&self, field: Field, value: &Value) -> Result<(), Violation> {
        if field_rule(field).is_none() {
            return Err(wire::unsupported(
                field.to_string(),
                format!("zudu does not support {field}"),
            ));
        }
        match field {
            Field::DisplayName => {
                max_len(field, wire::expect_str(ID, field, value)?, NAME_MAX, "name")
            }
            Field::Url => {
                let url = wire::expect_str(ID, field, value)?;
                max_len(field, url, URL_MAX, "url")?;
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    return Err(wire::invalid(
                        field,
                        "zudu url must start with http:// or https://",
                    ));
                }
                Ok(())
            }
            Field::Description => max_len(
                field,
                wire::expect_str(ID, field, value)?,
                DESCRIPTION_MAX,
                "description",
            ),
            Field::SecretTokenId => max_len(
                field,
                wire::expect_str(ID, field, value)?,
                SECRET_ID_MAX,
                "secret_token.secret_id",
            ),
            Field::Transport => self.check_enum(field, &TRANSPORT, value),
            Field::ApprovalPolicy => self.check_enum(field, &APPROVAL, value),
            Field::Headers if !value.is_object() => Err(wire::wrong_type(
                ID,
                field,
                "a map of header names to values",
            )),
            _ => Ok(()),
        }
    }

    /// Zudu refuses a second server with the same name in an organization (409), so a
    /// look-up by name finds at most one.
    fn names_unique(&self) -> bool {
        true
    }

    fn auth_headers(&self) -> Vec<AuthHeader> {
        vec![
            AuthHeader {
                header: "X-API-KEY",
                prefix: "",
                secret: self.api_key.clone(),
            },
            AuthHeader {
                header: "X-API-SECRET",
                prefix: "",
                secret: self.api_secret.clone(),
            },
        ]
    }

    fn get_request(&self, id: &str) -> RequestSpec {
        RequestSpec::new(Method::Get, Self::item_path(id))
    }

    /// `search` narrows the listing (not necessarily to exact matches).
    fn list_request(&self, cursor: Option<&Cursor>, name: Option<&str>) -> RequestSpec {
        let page = match cursor {
            Some(Cursor::Page(n)) => *n,
            _ => 0,
        };
        let req = RequestSpec::new(Method::Get, COLLECTION)
            .query("page", page.to_string())
            .query("limit", assumed::PAGE_SIZE.to_string());
        match name {
            Some(name) => req.query("search", name),
            None => req,
        }
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
        Ok(RequestSpec::new(Method::Post, COLLECTION).body(self.wrap(body)))
    }

    /// Zudu answers 400 to an empty update: the engine sends no PATCH without changes.
    fn patch_request(&self, id: &str, changes: &[Change], _ctx: &WriteContext) -> RequestSpec {
        let body = wire::object_of(
            changes
                .iter()
                .map(|change| Self::encode(change.field, change.value.as_ref())),
        );
        RequestSpec::new(Method::Patch, Self::item_path(id)).body(self.wrap(body))
    }

    fn delete_request(&self, id: &str) -> RequestSpec {
        RequestSpec::new(Method::Delete, Self::item_path(id))
    }

    fn wire_value(&self, field: Field, value: &Value) -> Value {
        Self::encode(field, Some(value)).map_or_else(|| value.clone(), |(_, v)| v)
    }

    fn parse_record(&self, body: &Value) -> Result<RemoteRecord, DecodeError> {
        decode(unwrap_envelope(body)?)
    }

    fn parse_list(&self, body: &Value, cursor: Option<&Cursor>) -> Result<ListPage, DecodeError> {
        let data = wire::object(ID, unwrap_envelope(body)?, "`data`")?;
        let servers = data
            .get("servers")
            .and_then(Value::as_array)
            .ok_or_else(|| wire::decode_error(ID, "`data.servers` is not a list"))?;
        let records = servers.iter().map(decode).collect::<Result<Vec<_>, _>>()?;
        let requested = match cursor {
            Some(Cursor::Page(n)) => *n,
            _ => 0,
        };
        let page = data
            .get("page")
            .and_then(Value::as_u64)
            .unwrap_or(requested);
        let has_next = match wire::opt_bool(ID, data, "has_next")? {
            Some(b) => b,
            None => data
                .get("total_pages")
                .and_then(Value::as_u64)
                .is_some_and(|total| page + 1 < total),
        };
        let next = (has_next && !servers.is_empty()).then(|| Cursor::Page(page + 1));
        Ok(ListPage { records, next })
    }

    /// `message` and the `error` string.
    fn error_message(&self, _status: u16, body: &Value) -> Option<String> {
        let message = wire::scalar_text(body.get("message"));
        let error = wire::scalar_text(body.get("error"));
        match (message, error) {
            (Some(m), Some(e)) if m != e => Some(format!("{m}: {e}")),
            (Some(m), _) => Some(m),
            (None, e) => e,
        }
    }
}

impl Zudu {
    fn check_enum(
        &self,
        field: Field,
        table: &[(&str, &str, bool)],
        value: &Value,
    ) -> Result<(), Violation> {
        let s = wire::expect_str(ID, field, value)?;
        match table.iter().find(|(c, _, _)| *c == s) {
            Some((_, _, true)) => self.flat_only_violation(field, s),
            Some(_) => Ok(()),
            None => Err(wire::invalid(
                field,
                format!("zudu does not accept {field} {s}"),
            )),
        }
    }
}

/// The `data` member of the envelope; a body without an envelope is taken as is.
fn unwrap_envelope(body: &Value) -> Result<&Value, DecodeError> {
    let obj = wire::object(ID, body, "the answer")?;
    let enveloped = obj.contains_key("status") || obj.contains_key("message");
    match obj.get("data") {
        Some(data) if !data.is_null() => Ok(data),
        _ if enveloped => Err(wire::decode_error(ID, "`data` is missing")),
        _ => Ok(body),
    }
}

fn decode(value: &Value) -> Result<RemoteRecord, DecodeError> {
    let outer = wire::object(ID, value, "an MCP server")?;
    // `config.*` wins over the top level where present.
    let mut obj = outer.clone();
    if let Some(Value::Object(config)) = outer.get("config") {
        for (k, v) in config {
            obj.insert(k.clone(), v.clone());
        }
    }
    let mut rec = RemoteRecord {
        id: wire::required_id(ID, &obj, "id")?,
        ..RemoteRecord::default()
    };
    if let Some(name) = wire::first_str(ID, &obj, &["server_name", "name"])? {
        rec.name = Some(name.to_string());
        rec.fields.insert(Field::DisplayName, json!(name));
    }
    if let Some(url) = wire::first_str(ID, &obj, &["server_url", "url"])? {
        rec.fields.insert(Field::Url, json!(url));
    }
    if let Some(d) = wire::opt_str(ID, &obj, "description")? {
        rec.fields.insert(Field::Description, json!(d));
    }
    for (field, key, table) in [
        (Field::Transport, "transport", &TRANSPORT[..]),
        (Field::ApprovalPolicy, "approval_policy", &APPROVAL[..]),
    ] {
        if let Some(raw) = obj.get(key).filter(|v| !v.is_null()) {
            let canonical = map_enum(table, raw, false);
            if canonical.is_null() {
                return Err(wire::decode_error(
                    ID,
                    format!("`{key}` has an unknown value"),
                ));
            }
            rec.fields.insert(field, canonical);
        }
    }
    if let Some(headers) = wire::string_map(ID, &obj, "request_headers")? {
        rec.fields.insert(Field::Headers, headers);
    }
    rec.updated_at = wire::unix_millis(obj.get("updated_at"));
    Ok(rec)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Availability;

    fn model(style: ZuduBodyStyle) -> Zudu {
        let r = |n: &str| SecretKeyRef {
            name: n.into(),
            key: "k".into(),
            namespace: None,
        };
        Zudu::new(&ZuduProvider {
            api_key_secret_ref: r("key"),
            api_secret_secret_ref: r("secret"),
            body_style: Some(style),
        })
    }

    fn seed_changes(flat: bool) -> Vec<Change> {
        let c = |field, v: Value| Change {
            field,
            value: Some(v),
        };
        if flat {
            vec![
                c(Field::DisplayName, json!("Updated Server Name")),
                c(Field::Url, json!("https://new-server-url.example.com")),
                c(Field::Description, json!("Updated description")),
                c(Field::ApprovalPolicy, json!("AutoApproveReadOnly")),
                c(Field::Transport, json!("WebSocket")),
                c(
                    Field::Headers,
                    json!({"Authorization": "Bearer new-token", "User-Agent": "MCP-Client/2.0"}),
                ),
            ]
        } else {
            vec![
                c(Field::DisplayName, json!("Updated Server Name")),
                c(Field::Description, json!("Updated description")),
                c(Field::Transport, json!("StreamableHttp")),
                c(Field::ApprovalPolicy, json!("RequireApprovalAll")),
                c(Field::Headers, json!({"Authorization": "Bearer new_token"})),
            ]
        }
    }

    #[test]
    fn seed_003_wrapped_patch_body() {
        let req = model(ZuduBodyStyle::Wrapped).patch_request(
            "mcp_abc123def456",
            &seed_changes(false),
            &WriteContext::default(),
        );
        assert_eq!(req.path, "/api/mcp-servers/mcp_abc123def456");
        assert_eq!(
            req.body,
            Some(json!({"config": {
                "name": "Updated Server Name", "description": "Updated description",
                "transport": "STREAMABLE_HTTP", "approval_policy": "require_approval_all",
                "request_headers": {"Authorization": "Bearer new_token"}
            }}))
        );
    }

    #[test]
    fn seed_004_flat_patch_body() {
        let req = model(ZuduBodyStyle::Flat).patch_request(
            "mcp_8c180796-e6d7-4343-88b5-5df0846fef69",
            &seed_changes(true),
            &WriteContext::default(),
        );
        assert_eq!(
            req.body,
            Some(json!({
                "name": "Updated Server Name", "url": "https://new-server-url.example.com",
                "description": "Updated description", "approval_policy": "auto_approve_read_only",
                "transport": "WebSocket",
                "request_headers": {"Authorization": "Bearer new-token", "User-Agent": "MCP-Client/2.0"}
            }))
        );
    }

    #[test]
    fn secret_token_and_reset() {
        let changes = [
            Change {
                field: Field::SecretTokenId,
                value: Some(json!("sec_1")),
            },
            Change {
                field: Field::Description,
                value: None,
            },
        ];
        let req =
            model(ZuduBodyStyle::Wrapped).patch_request("m", &changes, &WriteContext::default());
        assert_eq!(
            req.body,
            Some(json!({"config": {"secret_token": {"secret_id": "sec_1"}, "description": null}}))
        );
    }

    #[test]
    fn seed_responses_decode() {
        let wrapped = json!({
            "message": "MCP server updated successfully", "status": "success", "error": null,
            "data": {
                "id": "mcp_abc123def456", "organization_id": "org_1234567890",
                "server_url": "https://example.com/mcp-server", "server_name": "Updated Server Name",
                "approval_policy": "require_approval_all", "transport": "STREAMABLE_HTTP",
                "description": "Updated description",
                "request_headers": {"Authorization": "Bearer new_token"},
                "updated_at": 1705321000000i64
            }
        });
        let rec = model(ZuduBodyStyle::Wrapped)
            .parse_record(&wrapped)
            .unwrap();
        assert_eq!(rec.id, "mcp_abc123def456");
        assert_eq!(rec.name.as_deref(), Some("Updated Server Name"));
        assert_eq!(
            rec.fields[&Field::Url],
            json!("https://example.com/mcp-server")
        );
        assert_eq!(
            rec.fields[&Field::ApprovalPolicy],
            json!("RequireApprovalAll")
        );
        assert_eq!(rec.fields[&Field::Transport], json!("StreamableHttp"));
        assert_eq!(
            rec.fields[&Field::Headers],
            json!({"Authorization": "Bearer new_token"})
        );
        assert_eq!(rec.updated_at.unwrap().as_millisecond(), 1705321000000);
        assert_eq!(rec.availability, Availability::Unknown);

        let flat = json!({
            "message": "MCP server updated successfully", "status": "success", "error": null,
            "data": {
                "id": "mcp_8c180796-e6d7-4343-88b5-5df0846fef69",
                "organization_id": "org_2zC2v0GqxbrfKq1rKazb3gFcPEq",
                "url": "https://new-server-url.example.com", "name": "Updated Server Name",
                "approval_policy": "auto_approve_read_only", "transport": "WebSocket",
                "description": "Updated description",
                "request_headers": {"Authorization": "Bearer new-token", "User-Agent": "MCP-Client/2.0"},
                "updated_at": 1751401500000i64
            }
        });
        let rec = model(ZuduBodyStyle::Flat).parse_record(&flat).unwrap();
        assert_eq!(
            rec.fields[&Field::Url],
            json!("https://new-server-url.example.com")
        );
        assert_eq!(rec.fields[&Field::Transport], json!("WebSocket"));
        assert_eq!(
            rec.fields[&Field::ApprovalPolicy],
            json!("AutoApproveReadOnly")
        );

        let config = json!({"status": "success", "data": {"id": "m", "config": {"name": "n", "url": "https://u"}}});
        let rec = model(ZuduBodyStyle::Wrapped).parse_record(&config).unwrap();
        assert_eq!(rec.name.as_deref(), Some("n"));
        assert_eq!(rec.fields[&Field::Url], json!("https://u"));

        let err = model(ZuduBodyStyle::Wrapped)
            .parse_record(&json!({"status": "error", "message": "x", "data": null}))
            .unwrap_err();
        assert!(err.what.contains("data"));
    }

    #[test]
    fn pagination() {
        let m = model(ZuduBodyStyle::Wrapped);
        let req = m.list_request(None, Some("n"));
        assert_eq!(
            req.query,
            vec![
                ("page".into(), "0".into()),
                ("limit".into(), "20".into()),
                ("search".into(), "n".into())
            ]
        );
        let page_of = |page: u64, has_next: bool| {
            json!({"message": "ok", "status": "success", "error": null, "data": {
                "servers": [{"id": format!("m{page}"), "name": "n"}], "total_count": 21,
                "page": page, "limit": 20, "total_pages": 2, "has_next": has_next,
                "has_previous": page > 0}})
        };
        let p = m.parse_list(&page_of(0, true), None).unwrap();
        assert_eq!(p.next, Some(Cursor::Page(1)));
        assert_eq!(p.records[0].id, "m0");
        let p = m
            .parse_list(&page_of(1, false), Some(&Cursor::Page(1)))
            .unwrap();
        assert_eq!(p.next, None);
    }

    #[test]
    fn create_wraps_per_style() {
        let fields = BTreeMap::from([
            (Field::DisplayName, json!("n")),
            (Field::Url, json!("https://u")),
        ]);
        let ctx = WriteContext::default();
        let w = model(ZuduBodyStyle::Wrapped)
            .create_request(&fields, &ctx)
            .unwrap();
        assert_eq!(w.path, "/api/mcp-servers");
        assert_eq!(
            w.body,
            Some(json!({"config": {"name": "n", "url": "https://u"}}))
        );
        let f = model(ZuduBodyStyle::Flat)
            .create_request(&fields, &ctx)
            .unwrap();
        assert_eq!(f.body, Some(json!({"name": "n", "url": "https://u"})));
        let only_name = BTreeMap::from([(Field::DisplayName, json!("n"))]);
        let err = model(ZuduBodyStyle::Flat)
            .create_request(&only_name, &ctx)
            .unwrap_err();
        assert_eq!(err.path, "spec.url");
    }

    #[test]
    fn checks() {
        let w = model(ZuduBodyStyle::Wrapped);
        let f = model(ZuduBodyStyle::Flat);
        let cases: Vec<(&Zudu, Field, Value, Option<bool>)> = vec![
            (&w, Field::DisplayName, json!("a".repeat(255)), None),
            (&w, Field::DisplayName, json!("a".repeat(256)), Some(false)),
            (&w, Field::Url, json!("ftp://x"), Some(false)),
            (
                &w,
                Field::Url,
                json!(format!("https://{}", "a".repeat(1000))),
                Some(false),
            ),
            (&w, Field::Url, json!("http://x"), None),
            (&w, Field::Description, json!("d".repeat(5001)), Some(false)),
            (
                &w,
                Field::SecretTokenId,
                json!("s".repeat(256)),
                Some(false),
            ),
            (&w, Field::Transport, json!("WebSocket"), Some(false)),
            (&f, Field::Transport, json!("WebSocket"), None),
            (
                &w,
                Field::ApprovalPolicy,
                json!("AutoApproveReadOnly"),
                Some(false),
            ),
            (
                &f,
                Field::ApprovalPolicy,
                json!("AutoApproveReadOnly"),
                None,
            ),
            (&w, Field::ApprovalPolicy, json!("AutoApproveAll"), None),
            (&w, Field::Enabled, json!(true), Some(true)),
        ];
        for (m, field, value, want) in cases {
            let got = m.check(field, &value).err().map(|v| v.unsupported);
            assert_eq!(got, want, "{field}");
        }
        let v = w.check(Field::Transport, &json!("WebSocket")).unwrap_err();
        assert!(v.rule.contains("bodyStyle: Flat"), "{}", v.rule);
    }

    #[test]
    fn error_messages_and_auth() {
        let m = model(ZuduBodyStyle::Wrapped);
        let body = json!({"message": "MCP server name already exists", "status": "error",
            "error": "MCP server with name 'Updated Server Name' already exists in organization"});
        assert_eq!(
            m.error_message(409, &body).as_deref(),
            Some(
                "MCP server name already exists: MCP server with name 'Updated Server Name' already exists in organization"
            )
        );
        assert_eq!(m.error_message(401, &json!({})), None);
        let h: Vec<_> = m.auth_headers().iter().map(|a| a.header).collect();
        assert_eq!(h, ["X-API-KEY", "X-API-SECRET"]);
        assert!(m.names_unique());
        assert!(m.field_rule(Field::SecretTokenId).unwrap().write_only);
        assert!(!m.field_rule(Field::Headers).unwrap().write_only);
        assert_eq!(m.kind(), ProviderKind::Zudu);
        assert_eq!(m.sim_prefix(), "zudu");
        assert_eq!(model(ZuduBodyStyle::Flat).sim_prefix(), "zudu-flat");
    }
}
