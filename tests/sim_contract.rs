//! Contract tests of the registry simulator: each vendor document's example request
//! gets the documented answer (modulo ids and times), documented errors get their
//! documented bodies, and the simulator's own machinery (faults, rate limit, log) does
//! what the admin API promises. Everything runs on 127.0.0.1.

use std::collections::BTreeSet;
use std::time::Duration;

use mcpsync::sim::{self, Provider, SimConfig, SimHandle};
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};

mod support;
use support::providers::Dialect;

const CANARY: &str = "canary-7f3e9b";

struct Sim {
    handle: SimHandle,
    client: Client,
}

struct Answer {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    text: String,
    body: Value,
}

async fn start_with(config: SimConfig) -> Sim {
    let handle = sim::start(config).await.expect("simulator starts");
    let client = Client::builder().no_proxy().build().unwrap();
    Sim { handle, client }
}

async fn start() -> Sim {
    start_with(SimConfig {
        availability_delay: Duration::from_millis(150),
        ..SimConfig::default()
    })
    .await
}

/// Credentials of an unseeded simulator: it takes any.
const KEY: &str = "unseeded-key";
const SECRET: &str = "unseeded-secret";
/// The Aitronos organization of the table-driven creates.
const ORG: &str = "org_1234567890abcdef1234567890abcdef";

/// The auth headers of the dialect at `prefix`; a prefix without a row in the provider
/// table fails the test.
fn auth(prefix: &str) -> Vec<(&'static str, String)> {
    Dialect::from_prefix(prefix).auth(KEY, SECRET)
}

impl Sim {
    async fn raw(
        &self,
        method: Method,
        provider: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> Answer {
        let url = format!("{}{}", self.handle.base_url(provider), path);
        let mut request = self.client.request(method, url);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request answered");
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Answer {
            status,
            headers,
            text,
            body,
        }
    }

    async fn call(
        &self,
        method: Method,
        provider: &str,
        path: &str,
        body: Option<Value>,
    ) -> Answer {
        let headers = auth(provider);
        let headers: Vec<(&str, &str)> = headers.iter().map(|(h, v)| (*h, v.as_str())).collect();
        self.raw(method, provider, path, &headers, body).await
    }

    async fn admin(&self, method: Method, path: &str, body: Option<Value>) -> Answer {
        let url = format!("http://{}{}", self.handle.addr(), path);
        let mut request = self.client.request(method, url);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Answer {
            status,
            headers,
            text,
            body,
        }
    }
}

fn keys(value: &Value) -> BTreeSet<String> {
    value
        .as_object()
        .expect("an object")
        .keys()
        .cloned()
        .collect()
}

fn key_set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

// ---------------------------------------------------------------- aitronos (seed 000)

const AITRONOS: &str = "/v1/mcp-configurations";

async fn aitronos_create(sim: &Sim, name: &str) -> Value {
    let body = json!({
        "name": name,
        "server_url": "https://github-mcp.example.com",
        "transport_type": "sse",
        "auth_type": "api_key",
        "organization_id": "org_1234567890abcdef1234567890abcdef",
        "credentials": {"api_key": CANARY},
        "tool_configuration": {"enabled": true, "allowed_tools": ["search_code"]},
    });
    let answer = sim
        .call(Method::POST, "aitronos", AITRONOS, Some(body))
        .await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
    answer.body
}

#[tokio::test]
async fn aitronos_seed_patch_example_gets_seed_answer_shape() {
    let sim = start().await;
    let created = aitronos_create(&sim, "GitHub").await;
    let id = created["id"].as_str().unwrap();
    assert!(id.starts_with("mcp_"));
    let patch = json!({
        "name": "Updated GitHub",
        "is_active": false,
        "tool_configuration": {"enabled": true, "allowed_tools": ["search_code"]}
    });
    let answer = sim
        .call(
            Method::PATCH,
            "aitronos",
            &format!("{AITRONOS}/{id}"),
            Some(patch),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    let seed_keys = key_set(&[
        "id",
        "name",
        "type",
        "organization_id",
        "userId",
        "server_url",
        "transportType",
        "authType",
        "isActive",
        "connectionStatus",
        "lastConnectedAt",
        "errorMessage",
        "created_at",
        "updated_at",
    ]);
    assert_eq!(keys(&answer.body), seed_keys);
    let b = &answer.body;
    assert_eq!(b["id"], id);
    assert_eq!(b["name"], "Updated GitHub");
    assert_eq!(b["type"], "custom");
    assert_eq!(b["organization_id"], "org_1234567890abcdef1234567890abcdef");
    assert_eq!(b["server_url"], "https://github-mcp.example.com");
    assert_eq!(b["transportType"], "sse");
    assert_eq!(b["authType"], "api_key");
    assert_eq!(b["isActive"], false);
    assert!(b["userId"].as_str().unwrap().starts_with("usr_"));
    assert!(
        b["updated_at"]
            .as_str()
            .unwrap()
            .parse::<jiff::Timestamp>()
            .is_ok()
    );
    assert!(!answer.text.contains(CANARY) && !answer.text.contains("tool_configuration"));
}

#[tokio::test]
async fn aitronos_http_url_gets_validation_error_envelope() {
    let sim = start().await;
    let id = aitronos_create(&sim, "GitHub").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let answer = sim
        .call(
            Method::PATCH,
            "aitronos",
            &format!("{AITRONOS}/{id}"),
            Some(json!({"server_url": "http://insecure.example.com"})),
        )
        .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(keys(&answer.body), key_set(&["success", "error"]));
    let e = &answer.body["error"];
    assert_eq!(answer.body["success"], false);
    assert_eq!(
        keys(e),
        key_set(&[
            "code",
            "message",
            "system_message",
            "type",
            "status",
            "trace_id",
            "timestamp"
        ])
    );
    assert_eq!(e["code"], "VALIDATION_ERROR");
    assert_eq!(e["message"], "Invalid request parameters");
    assert_eq!(e["type"], "validation_error");
    assert_eq!(e["status"], 400);
    assert!(
        e["system_message"]
            .as_str()
            .unwrap()
            .starts_with("Validation failed")
    );
    assert!(e["trace_id"].as_str().unwrap().starts_with("req_"));
}

#[tokio::test]
async fn aitronos_unknown_field_is_422_and_missing_key_is_401() {
    let sim = start().await;
    let id = aitronos_create(&sim, "GitHub").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("{AITRONOS}/{id}");
    let answer = sim
        .call(
            Method::PATCH,
            "aitronos",
            &path,
            Some(json!({"transport_type": "sse"})),
        )
        .await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(answer.body["error"]["status"], 422);
    let answer = sim.raw(Method::GET, "aitronos", &path, &[], None).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer.body["success"], false);
    assert_eq!(answer.body["error"]["status"], 401);
    let answer = sim
        .raw(Method::GET, "aitronos", &path, &[("X-API-Key", "")], None)
        .await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn aitronos_other_user_gets_403() {
    let sim = start().await;
    let id = aitronos_create(&sim, "GitHub").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let answer = sim
        .raw(
            Method::PATCH,
            "aitronos",
            &format!("{AITRONOS}/{id}"),
            &[("X-API-Key", "someone-else")],
            Some(json!({"name": "Mine"})),
        )
        .await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert_eq!(answer.body["error"]["status"], 403);
}

#[tokio::test]
async fn aitronos_soft_delete_is_204_then_404_and_gone_from_list() {
    let sim = start().await;
    let id = aitronos_create(&sim, "GitHub").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let keep = aitronos_create(&sim, "Other").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("{AITRONOS}/{id}");
    let answer = sim.call(Method::DELETE, "aitronos", &path, None).await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT);
    assert!(answer.text.is_empty());
    assert_eq!(
        sim.call(Method::GET, "aitronos", &path, None).await.status,
        StatusCode::NOT_FOUND
    );
    let list = sim
        .call(
            Method::GET,
            "aitronos",
            &format!("{AITRONOS}?organization_id=org_1234567890abcdef1234567890abcdef"),
            None,
        )
        .await;
    let ids: Vec<&str> = list.body["configurations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![keep.as_str()]);
    let other_org = sim
        .call(
            Method::GET,
            "aitronos",
            &format!("{AITRONOS}?organization_id=org_x"),
            None,
        )
        .await;
    assert_eq!(other_org.body["configurations"], json!([]));
    // Soft: the record is still stored, marked deleted.
    assert_eq!(
        sim.handle.stored_record(Provider::Aitronos, &id).unwrap()["deleted"],
        true
    );
}

#[tokio::test]
async fn aitronos_connection_status_goes_pending_then_connected_and_admin_can_flip_it() {
    let sim = start().await;
    let created = aitronos_create(&sim, "GitHub").await;
    assert_eq!(created["connectionStatus"], "pending");
    assert_eq!(created["lastConnectedAt"], Value::Null);
    let path = format!("{AITRONOS}/{}", created["id"].as_str().unwrap());
    tokio::time::sleep(Duration::from_millis(250)).await;
    let answer = sim.call(Method::GET, "aitronos", &path, None).await;
    assert_eq!(answer.body["connectionStatus"], "connected");
    assert!(answer.body["lastConnectedAt"].is_string());
    let flip = sim
        .admin(
            Method::PUT,
            &format!(
                "/_sim/availability/aitronos/{}",
                created["id"].as_str().unwrap()
            ),
            Some(json!({"status": "error", "message": "TLS handshake failed"})),
        )
        .await;
    assert_eq!(flip.status, StatusCode::NO_CONTENT);
    let answer = sim.call(Method::GET, "aitronos", &path, None).await;
    assert_eq!(answer.body["connectionStatus"], "error");
    assert_eq!(answer.body["errorMessage"], "TLS handshake failed");
}

// ---------------------------------------------------------------- composio (seed 001)

async fn composio_create(sim: &Sim, name: &str) -> Value {
    let body = json!({"name": name, "toolkits": ["github"], "allowed_tools": ["GITHUB_SEARCH"],
                      "managed_auth_via_composio": false, "auth_config_ids": ["ac_1"]});
    let answer = sim
        .call(
            Method::POST,
            "composio",
            "/api/v3/mcp/servers/custom",
            Some(body),
        )
        .await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
    answer.body
}

#[tokio::test]
async fn composio_seed_patch_example_gets_seed_answer() {
    let sim = start().await;
    let id = composio_create(&sim, "GitHub Tools").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(uuid::Uuid::parse_str(&id).is_ok());
    let patch = json!({"name": "string", "toolkits": ["string"], "allowed_tools": ["string"],
                       "managed_auth_via_composio": true, "auth_config_ids": ["string"]});
    let answer = sim
        .call(
            Method::PATCH,
            "composio",
            &format!("/api/v3/mcp/{id}"),
            Some(patch),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let b = &answer.body;
    assert_eq!(
        keys(b),
        key_set(&[
            "id",
            "name",
            "auth_config_ids",
            "allowed_tools",
            "mcp_url",
            "toolkits",
            "toolkit_icons",
            "commands",
            "updated_at",
            "created_at",
            "server_instance_count",
            "managed_auth_via_composio",
            "deleted"
        ])
    );
    assert_eq!(
        keys(&b["commands"]),
        key_set(&["cursor", "claude", "windsurf"])
    );
    assert_eq!(b["name"], "string");
    assert_eq!(b["toolkits"], json!(["string"]));
    assert_eq!(b["allowed_tools"], json!(["string"]));
    assert_eq!(b["auth_config_ids"], json!(["string"]));
    assert_eq!(b["managed_auth_via_composio"], true);
    assert_eq!(b["deleted"], false);
    assert!(b["toolkit_icons"]["string"].is_string());
    assert!(
        b["updated_at"]
            .as_str()
            .unwrap()
            .parse::<jiff::Timestamp>()
            .is_ok()
    );
}

fn assert_composio_error(answer: &Answer, status: u16) {
    assert_eq!(answer.status.as_u16(), status, "{}", answer.text);
    let e = &answer.body["error"];
    for field in ["message", "code", "slug", "status"] {
        assert!(!e[field].is_null(), "missing {field} in {}", answer.text);
    }
    assert_eq!(e["status"], status);
    assert!(e["code"].is_number());
}

#[tokio::test]
async fn composio_name_rules_and_unknown_fields_get_400_envelope() {
    let sim = start().await;
    let id = composio_create(&sim, "GitHub Tools").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/api/v3/mcp/{id}");
    for bad in ["abc", "x".repeat(31).as_str(), "bad_name!", "ünïcode name"] {
        let answer = sim
            .call(Method::PATCH, "composio", &path, Some(json!({"name": bad})))
            .await;
        assert_composio_error(&answer, 400);
    }
    for good in ["abcd", "x".repeat(30).as_str(), "My Server-2"] {
        let answer = sim
            .call(
                Method::PATCH,
                "composio",
                &path,
                Some(json!({"name": good})),
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{good}: {}", answer.text);
    }
    let answer = sim
        .call(
            Method::PATCH,
            "composio",
            &path,
            Some(json!({"url": "https://x"})),
        )
        .await;
    assert_composio_error(&answer, 400);
    let answer = sim.raw(Method::GET, "composio", &path, &[], None).await;
    assert_composio_error(&answer, 401);
    let answer = sim
        .raw(
            Method::GET,
            "composio",
            &path,
            &[("x-user-api-key", "u")],
            None,
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK);
}

#[tokio::test]
async fn composio_pagination_walks_all_pages_and_filters_by_name() {
    let sim = start().await;
    let mut created = BTreeSet::new();
    for i in 0..7 {
        created.insert(
            composio_create(&sim, &format!("Server {i}")).await["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    composio_create(&sim, "Other thing").await;
    let (mut seen, mut page) = (BTreeSet::new(), 1);
    loop {
        let answer = sim
            .call(
                Method::GET,
                "composio",
                &format!("/api/v3/mcp/servers?name=Server&page_no={page}&limit=3"),
                None,
            )
            .await;
        assert_eq!(
            keys(&answer.body),
            key_set(&["items", "current_page", "total_pages"])
        );
        assert_eq!(answer.body["current_page"], page);
        assert_eq!(answer.body["total_pages"], 3);
        for item in answer.body["items"].as_array().unwrap() {
            seen.insert(item["id"].as_str().unwrap().to_string());
        }
        if page >= 3 {
            break;
        }
        page += 1;
    }
    assert_eq!(seen, created);
}

#[tokio::test]
async fn composio_soft_delete_answers_deleted_then_404() {
    let sim = start().await;
    let id = composio_create(&sim, "GitHub Tools").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/api/v3/mcp/{id}");
    let answer = sim.call(Method::DELETE, "composio", &path, None).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body, json!({"id": id, "deleted": true}));
    assert_composio_error(&sim.call(Method::GET, "composio", &path, None).await, 404);
    assert_composio_error(
        &sim.call(Method::DELETE, "composio", &path, None).await,
        404,
    );
}

// ---------------------------------------------------------------- pais (seed 002)

const PAIS: &str = "/api/v1/control/mcp-servers";

async fn pais_create(sim: &Sim, name: &str) -> Value {
    let body = json!({"url": "https://mcp.example.com", "transport": "STREAMABLE_HTTP", "name": name,
                      "description": "d", "documentation_url": "https://docs.example.com",
                      "headers": [{"name": "Authorization", "value": CANARY, "is_secret": true}]});
    let answer = sim.call(Method::POST, "pais", PAIS, Some(body)).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
    answer.body
}

#[tokio::test]
async fn pais_seed_patch_example_gets_seed_answer_shape() {
    let sim = start().await;
    let id = pais_create(&sim, "one").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let patch = json!({"name": "string", "description": "string", "documentation_url": "string",
                       "headers": [{"name": "string", "value": "string", "is_secret": false}],
                       "url": "https://new.example.com", "transport": "SSE"});
    let answer = sim
        .call(Method::PATCH, "pais", &format!("{PAIS}/{id}"), Some(patch))
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let b = &answer.body;
    assert_eq!(
        keys(b),
        key_set(&[
            "name",
            "description",
            "documentation_url",
            "url",
            "transport",
            "id",
            "object",
            "created_at",
            "availability",
            "last_available_at",
            "last_updated_at"
        ])
    );
    assert_eq!(b["object"], "mcp_server");
    assert_eq!(b["name"], "string");
    assert_eq!(b["documentation_url"], "string");
    assert_eq!(b["transport"], "SSE");
    assert!(b["created_at"].is_i64() && b["last_updated_at"].is_i64());
    assert!(
        b["created_at"].as_i64().unwrap() < 10_000_000_000,
        "Unix seconds"
    );
    assert_eq!(b["availability"], "PENDING", "a new URL is checked again");
    // An empty PATCH (the seed's curl sample) changes nothing.
    let answer = sim
        .call(
            Method::PATCH,
            "pais",
            &format!("{PAIS}/{id}"),
            Some(json!({})),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body["name"], "string");
}

#[tokio::test]
async fn pais_null_resets_a_field() {
    let sim = start().await;
    let id = pais_create(&sim, "one").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("{PAIS}/{id}");
    let answer = sim
        .call(
            Method::PATCH,
            "pais",
            &path,
            Some(json!({"description": null, "headers": null})),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body["description"], Value::Null);
    assert_eq!(answer.body["name"], "one");
    assert_eq!(
        sim.handle.stored_record(Provider::Pais, &id).unwrap()["headers"],
        json!([])
    );
}

#[tokio::test]
async fn pais_validation_errors_are_422_detail_lists() {
    let sim = start().await;
    let id = pais_create(&sim, "one").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("{PAIS}/{id}");
    let answer = sim
        .call(
            Method::PATCH,
            "pais",
            &path,
            Some(json!({"bogus": 1, "transport": "WebSocket", "url": ""})),
        )
        .await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
    let detail = answer.body["detail"].as_array().unwrap();
    for entry in detail {
        assert_eq!(keys(entry), key_set(&["loc", "msg", "type"]));
    }
    let types: BTreeSet<&str> = detail.iter().map(|d| d["type"].as_str().unwrap()).collect();
    assert!(
        types.contains("extra_forbidden")
            && types.contains("enum")
            && types.contains("string_too_short"),
        "{types:?}"
    );
    assert!(detail.iter().any(|d| d["loc"] == json!(["body", "bogus"])));
    let answer = sim
        .call(Method::POST, "pais", PAIS, Some(json!({"name": "x"})))
        .await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(answer.body["detail"][0]["type"], "missing");
}

#[tokio::test]
async fn pais_404_and_409_have_no_body_and_delete_answers_object() {
    let sim = start().await;
    let id = pais_create(&sim, "one").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("{PAIS}/{id}");
    let missing = sim
        .call(
            Method::GET,
            "pais",
            &format!("{PAIS}/{}", uuid::Uuid::new_v4()),
            None,
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(missing.text.is_empty());
    let link = sim
        .admin(
            Method::PUT,
            &format!("/_sim/records/pais/{id}/linked"),
            Some(json!({"linked": true})),
        )
        .await;
    assert_eq!(link.status, StatusCode::NO_CONTENT);
    let conflict = sim.call(Method::DELETE, "pais", &path, None).await;
    assert_eq!(conflict.status, StatusCode::CONFLICT);
    assert!(conflict.text.is_empty());
    sim.admin(
        Method::PUT,
        &format!("/_sim/records/pais/{id}/linked"),
        Some(json!({"linked": false})),
    )
    .await;
    let deleted = sim.call(Method::DELETE, "pais", &path, None).await;
    assert_eq!(deleted.status, StatusCode::OK);
    assert_eq!(
        deleted.body,
        json!({"id": id, "object": "mcp_server", "deleted": true})
    );
    assert_eq!(
        sim.call(Method::GET, "pais", &path, None).await.status,
        StatusCode::NOT_FOUND
    );
    let unauth = sim
        .raw(
            Method::GET,
            "pais",
            &path,
            &[("Authorization", "Bearer ")],
            None,
        )
        .await;
    assert_eq!(unauth.status, StatusCode::UNAUTHORIZED);
    assert!(unauth.body["detail"].is_string());
}

#[tokio::test]
async fn pais_pagination_walks_all_pages_with_after() {
    let sim = start().await;
    let mut created = Vec::new();
    for i in 0..5 {
        created.push(
            pais_create(&sim, &format!("s{i}")).await["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    let (mut seen, mut after) = (Vec::new(), None::<String>);
    loop {
        let query = after
            .as_ref()
            .map(|a| format!("&after={a}"))
            .unwrap_or_default();
        let answer = sim
            .call(Method::GET, "pais", &format!("{PAIS}?limit=2{query}"), None)
            .await;
        let b = &answer.body;
        assert_eq!(
            keys(b),
            key_set(&["object", "data", "has_more", "first_id", "last_id"])
        );
        assert_eq!(b["object"], "list");
        let data = b["data"].as_array().unwrap();
        assert_eq!(b["first_id"], data[0]["id"]);
        assert_eq!(b["last_id"], data[data.len() - 1]["id"]);
        seen.extend(data.iter().map(|d| d["id"].as_str().unwrap().to_string()));
        if b["has_more"] == false {
            break;
        }
        after = b["last_id"].as_str().map(str::to_owned);
    }
    assert_eq!(seen, created);
}

#[tokio::test]
async fn pais_availability_goes_pending_then_available_and_admin_can_flip_it() {
    let sim = start().await;
    let created = pais_create(&sim, "one").await;
    assert_eq!(created["availability"], "PENDING");
    let id = created["id"].as_str().unwrap();
    tokio::time::sleep(Duration::from_millis(250)).await;
    let answer = sim
        .call(Method::GET, "pais", &format!("{PAIS}/{id}"), None)
        .await;
    assert_eq!(answer.body["availability"], "AVAILABLE");
    assert!(answer.body["last_available_at"].is_i64());
    sim.handle
        .set_availability(Provider::Pais, id, "UNAVAILABLE", None)
        .unwrap();
    let answer = sim
        .call(Method::GET, "pais", &format!("{PAIS}/{id}"), None)
        .await;
    assert_eq!(answer.body["availability"], "UNAVAILABLE");
}

// ---------------------------------------------------------------- zudu (seeds 003, 004)

const ZUDU: &str = "/api/mcp-servers";

async fn zudu_create(sim: &Sim, provider: &str, name: &str) -> Value {
    let fields = json!({"name": name, "url": "https://example.com/mcp-server",
                        "secret_token": {"secret_id": CANARY}});
    let body = Dialect::from_prefix(provider).wrap(fields);
    let answer = sim.call(Method::POST, provider, ZUDU, Some(body)).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
    answer.body["data"].clone()
}

#[tokio::test]
async fn zudu_wrapped_seed_patch_example_gets_seed_answer() {
    let sim = start().await;
    let id = zudu_create(&sim, "zudu", "Server").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let patch = json!({"config": {
        "name": "Updated Server Name", "description": "Updated description",
        "transport": "STREAMABLE_HTTP", "approval_policy": "require_approval_all",
        "request_headers": {"Authorization": "Bearer new_token"}}});
    let answer = sim
        .call(Method::PATCH, "zudu", &format!("{ZUDU}/{id}"), Some(patch))
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let b = &answer.body;
    assert_eq!(b["message"], "MCP server updated successfully");
    assert_eq!(b["status"], "success");
    assert_eq!(b["error"], Value::Null);
    let d = &b["data"];
    assert_eq!(
        keys(d),
        key_set(&[
            "id",
            "organization_id",
            "server_url",
            "server_name",
            "approval_policy",
            "transport",
            "description",
            "request_headers",
            "updated_at"
        ])
    );
    assert_eq!(d["server_url"], "https://example.com/mcp-server");
    assert_eq!(d["server_name"], "Updated Server Name");
    assert_eq!(d["approval_policy"], "require_approval_all");
    assert_eq!(d["transport"], "STREAMABLE_HTTP");
    assert_eq!(d["description"], "Updated description");
    assert_eq!(
        d["request_headers"],
        json!({"Authorization": "Bearer new_token"})
    );
    assert!(
        d["updated_at"].as_i64().unwrap() > 1_000_000_000_000,
        "Unix milliseconds"
    );
    assert!(!answer.text.contains(CANARY) && !answer.text.contains("secret_token"));
}

#[tokio::test]
async fn zudu_flat_seed_patch_example_gets_seed_answer() {
    let sim = start().await;
    let id = zudu_create(&sim, "zudu-flat", "Server").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let patch = json!({"name": "Updated Server Name", "url": "https://new-server-url.example.com",
        "description": "Updated description", "approval_policy": "auto_approve_read_only",
        "transport": "WebSocket",
        "request_headers": {"Authorization": "Bearer new-token", "User-Agent": "MCP-Client/2.0"}});
    let answer = sim
        .call(
            Method::PATCH,
            "zudu-flat",
            &format!("{ZUDU}/{id}"),
            Some(patch.clone()),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let d = &answer.body["data"];
    assert_eq!(
        keys(d),
        key_set(&[
            "id",
            "organization_id",
            "url",
            "name",
            "approval_policy",
            "transport",
            "description",
            "request_headers",
            "updated_at"
        ])
    );
    for field in [
        "name",
        "url",
        "description",
        "approval_policy",
        "transport",
        "request_headers",
    ] {
        assert_eq!(d[field], patch[field], "{field}");
    }
    assert!(d["id"].as_str().unwrap().starts_with("mcp_"));
}

fn assert_zudu_error(answer: &Answer, status: u16, message: &str, error: &str) {
    assert_eq!(answer.status.as_u16(), status, "{}", answer.text);
    assert_eq!(answer.body["message"], message, "{}", answer.text);
    assert_eq!(answer.body["status"], "error");
    assert!(
        answer.body["error"].as_str().unwrap().contains(error),
        "{}",
        answer.text
    );
}

#[tokio::test]
async fn zudu_body_style_is_enforced_both_ways() {
    let sim = start().await;
    let wrapped = zudu_create(&sim, "zudu", "W").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let flat = zudu_create(&sim, "zudu-flat", "F").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let answer = sim
        .call(
            Method::PATCH,
            "zudu",
            &format!("{ZUDU}/{wrapped}"),
            Some(json!({"name": "x"})),
        )
        .await;
    assert_zudu_error(&answer, 400, "Validation failed", "config");
    let answer = sim
        .call(
            Method::PATCH,
            "zudu-flat",
            &format!("{ZUDU}/{flat}"),
            Some(json!({"config": {"name": "x"}})),
        )
        .await;
    assert_zudu_error(&answer, 400, "Validation failed", "Unknown field 'config'");
    let answer = sim
        .call(
            Method::PATCH,
            "zudu",
            &format!("{ZUDU}/{wrapped}"),
            Some(json!({"config": {"transport": "WebSocket"}})),
        )
        .await;
    assert_zudu_error(&answer, 400, "Validation failed", "transport");
    let answer = sim
        .call(
            Method::PATCH,
            "zudu",
            &format!("{ZUDU}/{wrapped}"),
            Some(json!({"config": {"approval_policy": "auto_approve_read_only"}})),
        )
        .await;
    assert_zudu_error(&answer, 400, "Validation failed", "approval_policy");
    let answer = sim
        .call(
            Method::PATCH,
            "zudu",
            &format!("{ZUDU}/{wrapped}"),
            Some(json!({"config": {"colour": "red"}})),
        )
        .await;
    assert_zudu_error(&answer, 400, "Validation failed", "Unknown field 'colour'");
}

#[tokio::test]
async fn zudu_documented_errors_have_documented_bodies() {
    let sim = start().await;
    let id = zudu_create(&sim, "zudu", "Server").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    zudu_create(&sim, "zudu", "Updated Server Name").await;
    let path = format!("{ZUDU}/{id}");
    let answer = sim
        .call(Method::PATCH, "zudu", &path, Some(json!({"config": {}})))
        .await;
    assert_eq!(
        answer.body,
        json!({"message": "Validation failed", "status": "error",
               "error": "At least one field must be provided for update"})
    );
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    let answer = sim
        .call(
            Method::PATCH,
            "zudu",
            &path,
            Some(json!({"config": {"name": "Updated Server Name"}})),
        )
        .await;
    assert_eq!(answer.status, StatusCode::CONFLICT);
    assert_eq!(
        answer.body,
        json!({"message": "MCP server name already exists", "status": "error",
               "error": "MCP server with name 'Updated Server Name' already exists in organization"})
    );
    let answer = sim
        .call(
            Method::PATCH,
            "zudu",
            &format!("{ZUDU}/mcp_abc123"),
            Some(json!({"config": {"name": "x"}})),
        )
        .await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert_eq!(
        answer.body,
        json!({"message": "MCP server not found", "status": "error",
               "error": "MCP server with ID 'mcp_abc123' does not exist in organization"})
    );
    let answer = sim
        .raw(
            Method::GET,
            "zudu",
            &path,
            &[("X-API-KEY", "sk_only")],
            None,
        )
        .await;
    assert_zudu_error(&answer, 401, "Unauthorized", "API key/secret");
}

#[tokio::test]
async fn zudu_length_and_format_limits() {
    let sim = start().await;
    let id = zudu_create(&sim, "zudu", "Server").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("{ZUDU}/{id}");
    let long = |n: usize| "x".repeat(n);
    let cases = [
        (json!({"name": long(256)}), "name"),
        (json!({"url": format!("https://{}", long(993))}), "url"),
        (json!({"url": "ftp://example.com"}), "url"),
        (json!({"description": long(5001)}), "description"),
        (
            json!({"secret_token": {"secret_id": long(256)}}),
            "secret_token",
        ),
    ];
    for (config, field) in cases {
        let answer = sim
            .call(
                Method::PATCH,
                "zudu",
                &path,
                Some(json!({"config": config})),
            )
            .await;
        assert_zudu_error(&answer, 400, "Validation failed", field);
    }
    let ok = json!({"config": {"name": long(255), "url": format!("http://{}", long(993)),
                               "description": long(5000), "secret_token": {"secret_id": long(255)}}});
    assert_eq!(
        sim.call(Method::PATCH, "zudu", &path, Some(ok))
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn zudu_pagination_walks_all_pages_from_zero() {
    let sim = start().await;
    let mut created = BTreeSet::new();
    for i in 0..5 {
        created.insert(
            zudu_create(&sim, "zudu-flat", &format!("svc {i}")).await["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    zudu_create(&sim, "zudu-flat", "unrelated").await;
    let (mut seen, mut page) = (BTreeSet::new(), 0);
    loop {
        let answer = sim
            .call(
                Method::GET,
                "zudu-flat",
                &format!("{ZUDU}?page={page}&limit=2&search=svc"),
                None,
            )
            .await;
        let d = &answer.body["data"];
        assert_eq!(
            keys(d),
            key_set(&[
                "servers",
                "total_count",
                "page",
                "limit",
                "total_pages",
                "has_next",
                "has_previous"
            ])
        );
        assert_eq!(d["total_count"], 5);
        assert_eq!(d["total_pages"], 3);
        assert_eq!(d["has_previous"], page > 0);
        for s in d["servers"].as_array().unwrap() {
            seen.insert(s["id"].as_str().unwrap().to_string());
        }
        if d["has_next"] == false {
            break;
        }
        page += 1;
    }
    assert_eq!(page, 2);
    assert_eq!(seen, created);
}

// ---------------------------------------------------------------- write-only fields

#[tokio::test]
async fn write_only_fields_are_stored_but_never_returned() {
    let sim = start().await;
    let a = aitronos_create(&sim, "GitHub").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let p = pais_create(&sim, "one").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let z = zudu_create(&sim, "zudu", "Server").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let reads = [
        ("aitronos", format!("{AITRONOS}/{a}")),
        ("aitronos", AITRONOS.to_string()),
        ("pais", format!("{PAIS}/{p}")),
        ("pais", PAIS.to_string()),
        ("zudu", format!("{ZUDU}/{z}")),
        ("zudu", ZUDU.to_string()),
    ];
    for (provider, path) in reads {
        let answer = sim.call(Method::GET, provider, &path, None).await;
        assert_eq!(answer.status, StatusCode::OK);
        for hidden in [
            CANARY,
            "credentials",
            "tool_configuration",
            "\"headers\"",
            "secret_token",
        ] {
            assert!(
                !answer.text.contains(hidden),
                "{provider} {path} shows {hidden}: {}",
                answer.text
            );
        }
    }
    let stored = sim.handle.stored_record(Provider::Aitronos, &a).unwrap();
    assert_eq!(stored["credentials"]["api_key"], CANARY);
    assert_eq!(
        stored["tool_configuration"]["allowed_tools"],
        json!(["search_code"])
    );
    assert_eq!(
        sim.handle.stored_record(Provider::Pais, &p).unwrap()["headers"][0]["value"],
        CANARY
    );
    assert_eq!(
        sim.handle.stored_record(Provider::Zudu, &z).unwrap()["secret_token"]["secret_id"],
        CANARY
    );
    let dump = sim.admin(Method::GET, "/_sim/records/zudu", None).await;
    assert!(!dump.text.contains(CANARY));
    assert_eq!(dump.body[0]["secret_token"]["secret_id"], "***");
}

// ---------------------------------------------------------------- faults

#[tokio::test]
async fn injected_429_carries_retry_after_and_provider_shape() {
    let sim = start().await;
    let answer = sim
        .admin(
            Method::POST,
            "/_sim/faults/next",
            Some(json!({"status": 429, "retry_after": 7, "count": 1, "provider": "composio"})),
        )
        .await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT);
    let answer = sim
        .call(Method::GET, "composio", "/api/v3/mcp/servers", None)
        .await;
    assert_eq!(answer.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(answer.headers["retry-after"], "7");
    assert!(answer.body["message"].is_string());
    let answer = sim
        .call(Method::GET, "composio", "/api/v3/mcp/servers", None)
        .await;
    assert_eq!(
        answer.status,
        StatusCode::OK,
        "only one request was faulted"
    );
}

#[tokio::test]
async fn next_n_faults_apply_per_provider_then_stop() {
    let sim = start().await;
    sim.admin(
        Method::POST,
        "/_sim/faults/next",
        Some(json!({"status": 503, "count": 2, "provider": "zudu"})),
    )
    .await;
    sim.admin(
        Method::POST,
        "/_sim/faults/next",
        Some(json!({"status": 500, "count": 1, "provider": "pais"})),
    )
    .await;
    assert_eq!(
        sim.call(Method::GET, "aitronos", AITRONOS, None)
            .await
            .status,
        StatusCode::OK
    );
    for _ in 0..2 {
        let answer = sim.call(Method::GET, "zudu", ZUDU, None).await;
        assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(answer.headers.contains_key("retry-after"));
        assert_eq!(answer.body["status"], "error");
    }
    assert_eq!(
        sim.call(Method::GET, "zudu", ZUDU, None).await.status,
        StatusCode::OK
    );
    let answer = sim.call(Method::GET, "pais", PAIS, None).await;
    assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(answer.body["detail"].is_string());
    assert_eq!(
        sim.call(Method::GET, "pais", PAIS, None).await.status,
        StatusCode::OK
    );
    let counters = sim.admin(Method::GET, "/_sim/counters", None).await.body;
    assert_eq!(counters["zudu"]["GET"]["503"], 2);
    assert_eq!(counters["zudu"]["GET"]["200"], 1);
}

#[tokio::test]
async fn dropped_connection_gets_no_answer() {
    let sim = start().await;
    sim.admin(
        Method::POST,
        "/_sim/faults/drop",
        Some(json!({"count": 1, "provider": "pais"})),
    )
    .await;
    let url = format!("{}{PAIS}", sim.handle.base_url("pais"));
    let result = sim.client.get(&url).bearer_auth("t").send().await;
    let err = result.expect_err("the connection is closed without an answer");
    assert!(!err.is_status() && !err.is_timeout(), "{err:?}");
    let answer = sim.call(Method::GET, "pais", PAIS, None).await;
    assert_eq!(answer.status, StatusCode::OK);
    let log = sim.handle.requests();
    assert_eq!(
        log[0].status, 0,
        "a dropped request is logged with status 0"
    );
}

#[tokio::test]
async fn latency_is_added() {
    let sim = start().await;
    sim.admin(
        Method::PUT,
        "/_sim/faults/latency",
        Some(json!({"ms": 150, "provider": "composio"})),
    )
    .await;
    let started = std::time::Instant::now();
    sim.call(Method::GET, "composio", "/api/v3/mcp/servers", None)
        .await;
    assert!(started.elapsed() >= Duration::from_millis(150));
    let started = std::time::Instant::now();
    sim.call(Method::GET, "pais", PAIS, None).await;
    assert!(started.elapsed() < Duration::from_millis(150));
}

#[tokio::test]
async fn rate_limit_refuses_past_the_bucket_with_headers() {
    let sim = start_with(SimConfig {
        rate_limits: vec!["aitronos=3/min".parse().unwrap()],
        ..SimConfig::default()
    })
    .await;
    for remaining in [2, 1, 0] {
        let answer = sim.call(Method::GET, "aitronos", AITRONOS, None).await;
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(answer.headers["x-ratelimit-limit"], "3");
        assert_eq!(
            answer.headers["x-ratelimit-remaining"],
            remaining.to_string().as_str()
        );
    }
    let answer = sim.call(Method::GET, "aitronos", AITRONOS, None).await;
    assert_eq!(answer.status, StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = answer.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=20).contains(&retry), "one token per 20 s: {retry}");
    assert!(answer.headers.contains_key("x-ratelimit-reset"));
    assert_eq!(answer.body["error"]["code"], "RATE_LIMIT_EXCEEDED");
    assert_eq!(
        sim.call(Method::GET, "pais", PAIS, None).await.status,
        StatusCode::OK,
        "other providers unaffected"
    );
    sim.admin(Method::DELETE, "/_sim/faults/rate-limit/aitronos", None)
        .await;
    assert_eq!(
        sim.call(Method::GET, "aitronos", AITRONOS, None)
            .await
            .status,
        StatusCode::OK
    );
}

// ---------------------------------------------------------------- faults after the provider

/// A create request of `d` for a record named `name`: path and body.
fn create_request(d: Dialect, name: &str) -> (&'static str, Value) {
    (d.create_path(), d.wrap(d.raw_create_fields(name, ORG)))
}

/// Ids of the records named `name`, as the provider's own list shows them.
async fn listed_ids(sim: &Sim, d: Dialect, name: &str) -> Vec<String> {
    let provider = d.prefix();
    let (path, pointer) = d.list(ORG);
    let answer = sim.call(Method::GET, provider, &path, None).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    answer
        .body
        .pointer(pointer)
        .and_then(Value::as_array)
        .unwrap_or_else(|| panic!("{provider} list without {pointer}: {}", answer.text))
        .iter()
        // Wrapped Zudu answers `server_name`.
        .filter(|r| r["name"] == name || r["server_name"] == name)
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect()
}

/// The provider table's create, list and auth rows hold for every dialect: one raw
/// create is listed exactly once, under its name.
#[tokio::test]
async fn every_dialect_of_the_provider_table_creates_and_lists_one_record() {
    let sim = start().await;
    for d in Dialect::ALL {
        let name = format!("table row {}", d.prefix());
        let (path, body) = create_request(d, &name);
        let answer = sim.call(Method::POST, d.prefix(), path, Some(body)).await;
        assert_eq!(answer.status, StatusCode::CREATED, "{d:?}: {}", answer.text);
        let ids = listed_ids(&sim, d, &name).await;
        assert_eq!(ids.len(), 1, "{d:?}: {ids:?}");
        assert!(
            sim.handle.stored_record(d.sim(), &ids[0]).is_some(),
            "{d:?}"
        );
    }
}

const AFTER_PROVIDERS: [Dialect; 4] = [
    Dialect::Composio,
    Dialect::Pais,
    Dialect::Zudu,
    Dialect::Aitronos,
];

#[tokio::test]
async fn after_fault_stores_the_create_then_answers_503() {
    let sim = start().await;
    for d in AFTER_PROVIDERS {
        let (provider, kind) = (d.prefix(), d.sim());
        let armed = sim
            .admin(
                Method::POST,
                "/_sim/faults/next",
                Some(json!({"status": 503, "count": 1, "provider": provider, "after": true})),
            )
            .await;
        assert_eq!(armed.status, StatusCode::NO_CONTENT, "{}", armed.text);
        let name = format!("lost answer {provider}");
        let (path, body) = create_request(d, &name);
        let answer = sim.call(Method::POST, provider, path, Some(body)).await;
        assert_eq!(
            answer.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{provider}: {}",
            answer.text
        );
        assert_eq!(answer.headers["retry-after"], "1", "{provider}");
        assert!(
            !answer.text.contains(&name),
            "{provider}: the provider's answer is replaced, not passed on: {}",
            answer.text
        );
        let ids = listed_ids(&sim, d, &name).await;
        assert_eq!(ids.len(), 1, "{provider}: stored exactly once: {ids:?}");
        let stored = sim.handle.stored_record(kind, &ids[0]);
        assert_eq!(stored.unwrap()["name"], name.as_str(), "{provider}");
        let logged = sim.handle.requests_matching(&mcpsync::sim::LogFilter {
            provider: Some(provider.to_string()),
            method: Some("POST".to_string()),
            ..Default::default()
        });
        assert_eq!(logged.len(), 1, "{provider}");
        assert_eq!(
            logged[0].status, 503,
            "{provider}: the status the client saw"
        );
    }
    let counters = sim.admin(Method::GET, "/_sim/counters", None).await.body;
    assert_eq!(counters["composio"]["POST"], json!({"503": 1}));
    // Used up: the next create is answered by the provider.
    let (path, body) = create_request(Dialect::Composio, "second");
    let answer = sim.call(Method::POST, "composio", path, Some(body)).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
}

#[tokio::test]
async fn after_fault_armed_from_the_command_line_syntax() {
    let sim = start_with(SimConfig {
        fail_next: vec!["after:500:1:composio".parse().unwrap()],
        ..SimConfig::default()
    })
    .await;
    let faults = sim.admin(Method::GET, "/_sim/faults", None).await.body;
    assert_eq!(faults["next"][0]["after"], true);
    let (path, body) = create_request(Dialect::Composio, "from cli");
    let answer = sim.call(Method::POST, "composio", path, Some(body)).await;
    assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        answer.body["error"]["message"].is_string(),
        "{}",
        answer.text
    );
    assert_eq!(
        listed_ids(&sim, Dialect::Composio, "from cli").await.len(),
        1
    );
}

#[tokio::test]
async fn after_drop_stores_the_create_then_closes_the_connection() {
    let sim = start().await;
    for d in AFTER_PROVIDERS {
        let (provider, kind) = (d.prefix(), d.sim());
        let armed = sim
            .admin(
                Method::POST,
                "/_sim/faults/drop",
                Some(json!({"count": 1, "provider": provider, "after": true})),
            )
            .await;
        assert_eq!(armed.status, StatusCode::NO_CONTENT, "{}", armed.text);
        let name = format!("dropped answer {provider}");
        let (path, body) = create_request(d, &name);
        let url = format!("{}{path}", sim.handle.base_url(provider));
        let mut request = sim.client.post(&url).json(&body);
        for (header, value) in auth(provider) {
            request = request.header(header, value);
        }
        let err = request
            .send()
            .await
            .expect_err("the connection is closed without an answer");
        assert!(!err.is_status() && !err.is_timeout(), "{provider}: {err:?}");
        let ids = listed_ids(&sim, d, &name).await;
        assert_eq!(ids.len(), 1, "{provider}: stored exactly once: {ids:?}");
        assert!(sim.handle.stored_record(kind, &ids[0]).is_some());
        let logged = sim.handle.requests_matching(&mcpsync::sim::LogFilter {
            provider: Some(provider.to_string()),
            method: Some("POST".to_string()),
            ..Default::default()
        });
        assert_eq!(logged.len(), 1, "{provider}");
        assert_eq!(logged[0].status, 0, "{provider}: logged as dropped");
    }
}

#[tokio::test]
async fn plain_faults_still_store_nothing() {
    let sim = start().await;
    for fault in [
        json!({"status": 503, "count": 1, "provider": "composio"}),
        json!({"status": 503, "count": 1, "provider": "composio", "after": false}),
    ] {
        sim.admin(Method::POST, "/_sim/faults/next", Some(fault))
            .await;
        let (path, body) = create_request(Dialect::Composio, "never stored");
        let answer = sim.call(Method::POST, "composio", path, Some(body)).await;
        assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    }
    sim.admin(
        Method::POST,
        "/_sim/faults/drop",
        Some(json!({"count": 1, "provider": "composio"})),
    )
    .await;
    let (path, body) = create_request(Dialect::Composio, "never stored");
    let url = format!("{}{path}", sim.handle.base_url("composio"));
    let result = sim
        .client
        .post(&url)
        .header("x-api-key", "k")
        .json(&body)
        .send()
        .await;
    assert!(result.is_err());
    assert!(
        listed_ids(&sim, Dialect::Composio, "never stored")
            .await
            .is_empty()
    );
}

// ---------------------------------------------------------------- log, counters, seed

#[tokio::test]
async fn request_log_masks_every_secret_and_never_records_auth() {
    let sim = start().await;
    aitronos_create(&sim, "GitHub").await;
    pais_create(&sim, "one").await;
    zudu_create(&sim, "zudu", "Server").await;
    let headers = json!({"config": {"name": "n2", "url": "https://x.example",
                                    "request_headers": {"Authorization": CANARY}}});
    sim.call(Method::POST, "zudu", ZUDU, Some(headers)).await;
    sim.raw(
        Method::GET,
        "composio",
        "/api/v3/mcp/servers",
        &[("x-api-key", CANARY)],
        None,
    )
    .await;
    let answer = sim.admin(Method::GET, "/_sim/requests", None).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert!(!answer.text.contains(CANARY), "{}", answer.text);
    assert!(!format!("{:?}", sim.handle.requests()).contains(CANARY));
    assert_eq!(answer.body.as_array().unwrap().len(), 5);
    let zudu = sim
        .admin(
            Method::GET,
            "/_sim/requests?provider=zudu&method=POST",
            None,
        )
        .await;
    let zudu = zudu.body.as_array().unwrap();
    assert_eq!(zudu.len(), 2);
    assert_eq!(zudu[0]["path"], "/api/mcp-servers");
    assert_eq!(zudu[0]["status"], 201);
    assert_eq!(
        zudu[1]["body"]["config"]["request_headers"]["Authorization"],
        "***"
    );
    assert_eq!(zudu[1]["body"]["config"]["name"], "n2");
}

#[tokio::test]
async fn log_clear_and_reset() {
    let sim = start().await;
    pais_create(&sim, "one").await;
    sim.call(Method::GET, "pais", &format!("{PAIS}?limit=5"), None)
        .await;
    let log = sim.handle.requests();
    assert_eq!(log.len(), 2);
    assert_eq!(log[1].query.as_deref(), Some("limit=5"));
    sim.handle.clear_log();
    assert!(sim.handle.requests().is_empty());
    assert_eq!(
        sim.handle.counters()["pais"]["POST"]["201"],
        1,
        "counters survive clear_log"
    );
    let answer = sim.admin(Method::POST, "/_sim/reset", None).await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT);
    assert!(sim.handle.counters().is_empty());
    let list = sim.call(Method::GET, "pais", PAIS, None).await;
    assert_eq!(list.body["data"], json!([]), "reset drops unseeded records");
}

#[tokio::test]
async fn seed_file_sets_records_and_accepted_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("seed.yaml");
    std::fs::write(
        &path,
        r#"
zudu:
  credentials:
    - {api_key: sk_good, api_secret: s3cr3t_good, organization_id: org_team}
  records:
    - id: mcp_seeded
      organization_id: org_team
      name: Seeded
      url: https://seeded.example.com
pais:
  records:
    - id: 6f1c1c38-44f5-4d8a-9a51-3b1f4f3f7b11
      name: seeded
      url: https://pais.example.com
"#,
    )
    .unwrap();
    let sim = start_with(SimConfig {
        seed: Some(path),
        ..SimConfig::default()
    })
    .await;
    let good = [("X-API-KEY", "sk_good"), ("X-API-SECRET", "s3cr3t_good")];
    let answer = sim
        .raw(
            Method::GET,
            "zudu",
            &format!("{ZUDU}/mcp_seeded"),
            &good,
            None,
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body["data"]["server_name"], "Seeded");
    let wrong = [("X-API-KEY", "sk_good"), ("X-API-SECRET", "wrong")];
    let answer = sim
        .raw(
            Method::GET,
            "zudu",
            &format!("{ZUDU}/mcp_seeded"),
            &wrong,
            None,
        )
        .await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    let answer = sim
        .call(
            Method::GET,
            "pais",
            &format!("{PAIS}/6f1c1c38-44f5-4d8a-9a51-3b1f4f3f7b11"),
            None,
        )
        .await;
    assert_eq!(answer.body["availability"], "AVAILABLE");
    sim.raw(
        Method::DELETE,
        "zudu",
        &format!("{ZUDU}/mcp_seeded"),
        &good,
        None,
    )
    .await;
    sim.handle.reset();
    let answer = sim
        .raw(
            Method::GET,
            "zudu",
            &format!("{ZUDU}/mcp_seeded"),
            &good,
            None,
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "reset restores the seed");
    sim.handle.shutdown().await;
}
