//! VMware (Broadcom) Private AI Services control API: `/api/v1/control/mcp-servers`
//! (seed 002, docs/providers.md).
//!
//! `null` resets a field; headers are write-only (never returned); availability and Unix
//! second timestamps are reported on every record.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::wire::{self, SSE, STREAMABLE_HTTP, WEB_SOCKET};
use kube::KubeSchema;
use serde::{Deserialize, Serialize};

use super::{
    AuthHeader, Change, Cursor, DecodeError, Descriptor, FieldRule, FieldSupport, ListPage,
    Method, ProviderKind, ProviderModel, RemoteRecord, RequestSpec, Violation, WriteContext,
};
use crate::api::{Availability, SecretKeyRef};
use crate::vocab::field::Field;

const ID: &str = "pais";
const PREFIX: &str = "/api/v1/control/mcp-servers";

/// Everything not spelled out for PAIS, in one place.
pub mod assumed {
    /// docs/providers.md names create and list `POST /` and `GET /` under the prefix: the
    /// collection path keeps the trailing slash, as written.
    pub const COLLECTION_PATH: &str = "/api/v1/control/mcp-servers/";
    /// Page size of listings (docs/providers.md shows `limit=100`).
    pub const PAGE_SIZE: u32 = 100;
}

/// Private AI Services account settings.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct PaisProvider {
    /// Secret key holding the bearer token, sent as `Authorization: Bearer <token>`.
    pub token_secret_ref: SecretKeyRef,
}

pub const DESCRIPTOR: Descriptor = Descriptor {
    id: ID,
    default_base_url: None,
    secret_refs: &["tokenSecretRef"],
    sim_prefixes: &["pais"],
    fields: &[
        FieldSupport::new(Field::DisplayName, FieldRule::plain("name").null_resets()),
        FieldSupport::new(Field::Url, FieldRule::plain("url")).constraint("not empty"),
        FieldSupport::new(
            Field::Description,
            FieldRule::plain("description").null_resets(),
        ),
        FieldSupport::new(
            Field::DocumentationUrl,
            FieldRule::plain("documentation_url").null_resets(),
        ),
        FieldSupport::new(Field::Transport, FieldRule::plain("transport"))
            .wire("`STREAMABLE_HTTP`/`SSE`")
            .constraint("no `WebSocket`"),
        FieldSupport::new(
            Field::Headers,
            FieldRule::plain("headers").write_only().null_resets(),
        )
        .wire("`[{name, value, is_secret}]`"),
    ],
    required_on_create: &[Field::Url, Field::Transport],
};

/// The PAIS model.
#[derive(Clone, Debug)]
pub struct Pais {
    token: SecretKeyRef,
}

impl Pais {
    pub fn new(p: &PaisProvider) -> Self {
        Pais {
            token: p.token_secret_ref.clone(),
        }
    }

    fn item_path(id: &str) -> String {
        format!("{PREFIX}/{}", wire::path_segment(id))
    }
}

fn field_rule(field: Field) -> Option<FieldRule> {
    DESCRIPTOR.rule(field)
}

/// The remote (key, value) of one canonical field.
fn encode(
    field: Field,
    value: Option<&Value>,
    ctx: &WriteContext,
) -> Option<(&'static str, Value)> {
    let rule = field_rule(field)?;
    let Some(value) = value else {
        return Some((rule.remote, Value::Null));
    };
    let remote = match field {
        Field::Transport => match value.as_str() {
            Some(STREAMABLE_HTTP) => json!("STREAMABLE_HTTP"),
            Some(SSE) => json!("SSE"),
            _ => value.clone(),
        },
        Field::Headers => encode_headers(value, ctx),
        _ => value.clone(),
    };
    Some((rule.remote, remote))
}

/// `{name: value}` -> `[{name, value, is_secret}]`, sorted by name.
fn encode_headers(value: &Value, ctx: &WriteContext) -> Value {
    let Some(map) = value.as_object() else {
        return value.clone();
    };
    let mut pairs: Vec<(&String, &Value)> = map.iter().collect();
    pairs.sort_by(|a, b| a.0.cmp(b.0));
    Value::Array(
        pairs
            .into_iter()
            .map(|(name, value)| {
                json!({
                    "name": name,
                    "value": value,
                    "is_secret": ctx.secret_headers.contains(name),
                })
            })
            .collect(),
    )
}

impl ProviderModel for Pais {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Pais
    }

    fn check(&self, field: Field, value: &Value) -> Result<(), Violation> {
        if field_rule(field).is_none() {
            return Err(wire::unsupported(
                field.to_string(),
                format!("pais does not support {field}"),
            ));
        }
        match field {
            Field::Url if wire::expect_str(ID, field, value)?.is_empty() => Err(wire::invalid(
                field,
                "pais url must not be empty (minLength 1)",
            )),
            Field::Transport if value.as_str() == Some(WEB_SOCKET) => Err(wire::invalid(
                field,
                "pais transport is STREAMABLE_HTTP or SSE: WebSocket is not supported",
            )),
            Field::Headers if !value.is_object() => Err(wire::wrong_type(
                ID,
                field,
                "a map of header names to values",
            )),
            Field::DisplayName | Field::Description | Field::DocumentationUrl => {
                wire::expect_str(ID, field, value).map(|_| ())
            }
            _ => Ok(()),
        }
    }

    /// PAIS documents no uniqueness of names: a look-up by name may find several.
    fn names_unique(&self) -> bool {
        false
    }

    fn auth_headers(&self) -> Vec<AuthHeader> {
        vec![AuthHeader {
            header: "Authorization",
            prefix: "Bearer ",
            secret: self.token.clone(),
        }]
    }

    fn get_request(&self, id: &str) -> RequestSpec {
        RequestSpec::new(Method::Get, Self::item_path(id))
    }

    /// PAIS cannot filter by name: the caller filters the listing.
    fn list_request(&self, cursor: Option<&Cursor>, _name: Option<&str>) -> RequestSpec {
        let req = RequestSpec::new(Method::Get, assumed::COLLECTION_PATH)
            .query("limit", assumed::PAGE_SIZE.to_string());
        match cursor {
            Some(Cursor::After(id)) => req.query("after", id.clone()),
            _ => req,
        }
    }

    fn create_request(
        &self,
        fields: &BTreeMap<Field, Value>,
        ctx: &WriteContext,
    ) -> Result<RequestSpec, Violation> {
        let body = wire::object_of(
            fields
                .iter()
                .map(|(field, value)| encode(*field, Some(value), ctx)),
        );
        wire::check_required(&DESCRIPTOR, &body)?;
        Ok(RequestSpec::new(Method::Post, assumed::COLLECTION_PATH).body(Value::Object(body)))
    }

    fn patch_request(&self, id: &str, changes: &[Change], ctx: &WriteContext) -> RequestSpec {
        let body = wire::object_of(
            changes
                .iter()
                .map(|change| encode(change.field, change.value.as_ref(), ctx)),
        );
        RequestSpec::new(Method::Patch, Self::item_path(id)).body(Value::Object(body))
    }

    fn delete_request(&self, id: &str) -> RequestSpec {
        RequestSpec::new(Method::Delete, Self::item_path(id))
    }

    fn wire_value(&self, field: Field, value: &Value) -> Value {
        encode(field, Some(value), &WriteContext::default())
            .map_or_else(|| value.clone(), |(_, v)| v)
    }

    fn parse_record(&self, body: &Value) -> Result<RemoteRecord, DecodeError> {
        decode(body)
    }

    fn parse_list(&self, body: &Value, _cursor: Option<&Cursor>) -> Result<ListPage, DecodeError> {
        let obj = wire::object(ID, body, "the list answer")?;
        let data = obj
            .get("data")
            .and_then(Value::as_array)
            .ok_or_else(|| wire::decode_error(ID, "`data` is not a list"))?;
        let records = data.iter().map(decode).collect::<Result<Vec<_>, _>>()?;
        let has_more = wire::opt_bool(ID, obj, "has_more")?.unwrap_or(false);
        let last = match wire::opt_str(ID, obj, "last_id")? {
            Some(id) => Some(id.to_string()),
            None => records.last().map(|r| r.id.clone()),
        };
        let next = if has_more {
            last.map(Cursor::After)
        } else {
            None
        };
        Ok(ListPage { records, next })
    }

    /// 422 `detail[]` as `loc: msg`; the `input` member (which may echo values) is never
    /// used. 404 and 409 come without a body.
    fn error_message(&self, _status: u16, body: &Value) -> Option<String> {
        let detail = body.get("detail")?;
        if let Some(text) = wire::scalar_text(Some(detail)) {
            return Some(text);
        }
        let parts: Vec<String> = detail
            .as_array()?
            .iter()
            .filter_map(|d| {
                let msg = wire::scalar_text(d.get("msg"))?;
                let loc: Vec<String> = d
                    .get("loc")
                    .and_then(Value::as_array)
                    .map(|l| {
                        l.iter()
                            .filter_map(|p| wire::scalar_text(Some(p)))
                            .collect()
                    })
                    .unwrap_or_default();
                Some(if loc.is_empty() {
                    msg
                } else {
                    format!("{}: {msg}", loc.join("."))
                })
            })
            .collect();
        (!parts.is_empty()).then(|| parts.join("; "))
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
    for (field, key) in [
        (Field::Url, "url"),
        (Field::Description, "description"),
        (Field::DocumentationUrl, "documentation_url"),
    ] {
        if let Some(v) = wire::opt_str(ID, obj, key)? {
            rec.fields.insert(field, json!(v));
        }
    }
    if let Some(t) = wire::opt_str(ID, obj, "transport")? {
        let canonical = match t {
            "STREAMABLE_HTTP" => STREAMABLE_HTTP,
            "SSE" => SSE,
            _ => return Err(wire::decode_error(ID, "`transport` has an unknown value")),
        };
        rec.fields.insert(Field::Transport, json!(canonical));
    }
    rec.availability = match wire::opt_str(ID, obj, "availability")? {
        Some("AVAILABLE") => Availability::Available,
        Some("UNAVAILABLE") => Availability::Unavailable,
        Some("PENDING") => Availability::Pending,
        _ => Availability::Unknown,
    };
    rec.last_available_at = wire::unix_seconds(obj.get("last_available_at"));
    rec.updated_at = wire::unix_seconds(obj.get("last_updated_at"));
    Ok(rec)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn wire_value_shows_what_the_registry_receives() {
        assert_eq!(
            model().wire_value(Field::Transport, &json!("StreamableHttp")),
            json!("STREAMABLE_HTTP")
        );
    }

    fn model() -> Pais {
        Pais::new(&PaisProvider {
            token_secret_ref: SecretKeyRef {
                name: "s".into(),
                key: "k".into(),
                namespace: None,
            },
        })
    }

    /// Seed 002, 200 answer (with concrete values).
    fn seed_response() -> Value {
        json!({
            "name": "weather", "description": "Weather tools", "documentation_url": "https://docs.example.com",
            "url": "https://weather.example.com/mcp", "transport": "STREAMABLE_HTTP",
            "id": "6f1c0c5e-8d1a-4d0e-9d55-0b6c1a0e7f10", "object": "mcp_server",
            "created_at": 1_700_000_000, "availability": "AVAILABLE",
            "last_available_at": 1_700_000_500, "last_updated_at": 1_700_000_100
        })
    }

    #[test]
    fn seed_patch_body_with_secret_header_and_resets() {
        let ctx = WriteContext {
            secret_headers: BTreeSet::from(["Authorization".to_string()]),
            ..WriteContext::default()
        };
        let changes = [
            Change {
                field: Field::DisplayName,
                value: Some(json!("string")),
            },
            Change {
                field: Field::Description,
                value: None,
            },
            Change {
                field: Field::Headers,
                value: Some(json!({"X-Team": "ai", "Authorization": "Bearer t"})),
            },
            Change {
                field: Field::Transport,
                value: Some(json!("Sse")),
            },
        ];
        let req = model().patch_request("abc", &changes, &ctx);
        assert_eq!(req.path, "/api/v1/control/mcp-servers/abc");
        assert_eq!(
            req.body,
            Some(json!({
                "name": "string", "description": null, "transport": "SSE",
                "headers": [
                    {"name": "Authorization", "value": "Bearer t", "is_secret": true},
                    {"name": "X-Team", "value": "ai", "is_secret": false}
                ]
            }))
        );
    }

    #[test]
    fn seed_response_decodes() {
        let rec = model().parse_record(&seed_response()).unwrap();
        assert_eq!(rec.id, "6f1c0c5e-8d1a-4d0e-9d55-0b6c1a0e7f10");
        assert_eq!(rec.fields[&Field::Transport], json!("StreamableHttp"));
        assert_eq!(
            rec.fields[&Field::Url],
            json!("https://weather.example.com/mcp")
        );
        assert_eq!(
            rec.fields[&Field::DocumentationUrl],
            json!("https://docs.example.com")
        );
        assert!(!rec.fields.contains_key(&Field::Headers));
        assert_eq!(rec.availability, Availability::Available);
        assert_eq!(rec.last_available_at.unwrap().as_second(), 1_700_000_500);
        assert_eq!(rec.updated_at.unwrap().as_second(), 1_700_000_100);
        for (raw, want) in [
            ("UNAVAILABLE", Availability::Unavailable),
            ("PENDING", Availability::Pending),
            ("SOMETHING", Availability::Unknown),
        ] {
            let mut body = seed_response();
            body["availability"] = json!(raw);
            assert_eq!(model().parse_record(&body).unwrap().availability, want);
        }
        let mut body = seed_response();
        body["transport"] = json!("CARRIER_PIGEON");
        let err = model().parse_record(&body).unwrap_err();
        assert!(err.what.contains("transport") && !err.what.contains("PIGEON"));
    }

    #[test]
    fn pagination() {
        let m = model();
        let req = m.list_request(None, Some("weather"));
        assert_eq!(req.path, "/api/v1/control/mcp-servers/");
        assert_eq!(req.query, vec![("limit".into(), "100".into())]);
        let req = m.list_request(Some(&Cursor::After("id9".into())), None);
        assert_eq!(req.query[1], ("after".into(), "id9".into()));
        let body = json!({"object": "list", "data": [seed_response()], "has_more": true,
            "first_id": "a", "last_id": "6f1c"});
        let page = m.parse_list(&body, None).unwrap();
        assert_eq!(page.records.len(), 1);
        assert_eq!(page.next, Some(Cursor::After("6f1c".into())));
        let body = json!({"object": "list", "data": [], "has_more": false});
        assert_eq!(m.parse_list(&body, None).unwrap().next, None);
    }

    #[test]
    fn create_requires_url_and_transport() {
        let m = model();
        let mut fields = BTreeMap::from([
            (Field::Url, json!("https://w.example.com")),
            (Field::Transport, json!("StreamableHttp")),
            (Field::DisplayName, json!("weather")),
        ]);
        let req = m.create_request(&fields, &WriteContext::default()).unwrap();
        assert_eq!(req.method, Method::Post);
        assert_eq!(
            req.body,
            Some(
                json!({"url": "https://w.example.com", "transport": "STREAMABLE_HTTP", "name": "weather"})
            )
        );
        fields.remove(&Field::Transport);
        let err = m
            .create_request(&fields, &WriteContext::default())
            .unwrap_err();
        assert_eq!(err.path, "spec.transport");
    }

    #[test]
    fn checks_and_rules() {
        let m = model();
        let cases = [
            (Field::Url, json!(""), Some(false)),
            (Field::Url, json!("https://x"), None),
            (Field::Transport, json!("WebSocket"), Some(false)),
            (Field::Transport, json!("Sse"), None),
            (Field::ApprovalPolicy, json!("AutoApproveAll"), Some(true)),
            (Field::Headers, json!({"A": "b"}), None),
        ];
        for (field, value, want) in cases {
            let got = m.check(field, &value).err().map(|v| v.unsupported);
            assert_eq!(got, want, "{field} {value}");
        }
        assert!(m.field_rule(Field::Description).unwrap().null_resets);
        assert!(!m.field_rule(Field::Url).unwrap().null_resets);
        assert!(!m.field_rule(Field::Transport).unwrap().null_resets);
        let h = m.field_rule(Field::Headers).unwrap();
        assert!(h.write_only && h.null_resets);
        let a = &m.auth_headers()[0];
        assert_eq!((a.header, a.prefix), ("Authorization", "Bearer "));
    }

    #[test]
    fn error_messages_never_use_input() {
        let body = json!({"detail": [
            {"loc": ["body", "url"], "msg": "String should have at least 1 character",
             "type": "string_too_short", "input": "CANARY"},
            {"loc": ["body", "headers", 0, "value"], "msg": "Field required", "type": "missing"}
        ]});
        let msg = model().error_message(422, &body).unwrap();
        assert_eq!(
            msg,
            "body.url: String should have at least 1 character; body.headers.0.value: Field required"
        );
        assert_eq!(model().error_message(404, &Value::Null), None);
    }
}
