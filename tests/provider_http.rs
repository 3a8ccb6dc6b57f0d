//! The shared registry client against tiny scripted HTTP servers on loopback: retries,
//! `Retry-After`, POST safety, redirects, body cap, error classes, secret masking and
//! rate limiting.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use mcpsync::api::{
    AitronosProvider, ComposioProvider, PaisProvider, ProviderSpec, SecretKeyRef, ZuduBodyStyle,
    ZuduProvider,
};
use mcpsync::engine::field::Field;
use mcpsync::provider::http::{ClientConfig, RegistryClient};
use mcpsync::provider::{ErrorClass, WriteContext, model_for};
use mcpsync::secret::SecretValue;
use serde_json::{Value, json};
use tokio::io::AsyncReadExt;

const CANARY: &str = "sk_canary_5f1d2e9a";

/// One scripted answer.
#[derive(Clone)]
struct Reply {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: String,
    chunked: bool,
    delay: Duration,
}

fn reply(status: u16, body: Value) -> Reply {
    Reply {
        status,
        headers: vec![("content-type", "application/json".into())],
        body: body.to_string(),
        chunked: false,
        delay: Duration::ZERO,
    }
}

impl Reply {
    fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
}

/// What the server saw of one request.
#[derive(Clone, Debug)]
struct Seen {
    method: String,
    path: String,
    query: Option<String>,
    headers: HeaderMap,
    at: Instant,
}

/// A server that answers from a script (the last answer repeats) and records requests.
#[derive(Clone, Default)]
struct Scripted {
    script: Arc<Mutex<VecDeque<Reply>>>,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Scripted {
    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

async fn answer(State(s): State<Scripted>, req: Request) -> Response {
    s.seen.lock().unwrap().push(Seen {
        method: req.method().to_string(),
        path: req.uri().path().to_string(),
        query: req.uri().query().map(str::to_string),
        headers: req.headers().clone(),
        at: Instant::now(),
    });
    let r = {
        let mut script = s.script.lock().unwrap();
        if script.len() > 1 {
            script.pop_front().unwrap()
        } else {
            script.front().cloned().unwrap()
        }
    };
    tokio::time::sleep(r.delay).await;
    let body = if r.chunked {
        let chunks: Vec<Result<String, std::io::Error>> = r
            .body
            .as_bytes()
            .chunks(256)
            .map(|c| Ok(String::from_utf8_lossy(c).into_owned()))
            .collect();
        Body::from_stream(futures::stream::iter(chunks))
    } else {
        Body::from(r.body)
    };
    let mut resp = Response::new(body);
    *resp.status_mut() = StatusCode::from_u16(r.status).unwrap();
    for (k, v) in r.headers {
        resp.headers_mut().insert(k, v.parse().unwrap());
    }
    resp
}

async fn serve(ip: &str, script: Vec<Reply>) -> (SocketAddr, Scripted) {
    let state = Scripted {
        script: Arc::new(Mutex::new(script.into())),
        seen: Arc::default(),
    };
    let app = Router::new().fallback(answer).with_state(state.clone());
    let listener = tokio::net::TcpListener::bind((ip, 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, state)
}

fn secret_ref() -> SecretKeyRef {
    SecretKeyRef {
        name: "s".into(),
        key: "k".into(),
        namespace: None,
    }
}

fn aitronos() -> ProviderSpec {
    ProviderSpec::Aitronos(AitronosProvider {
        api_key_secret_ref: secret_ref(),
        organization_id: "org_1".into(),
    })
}

fn zudu_flat() -> ProviderSpec {
    ProviderSpec::Zudu(ZuduProvider {
        api_key_secret_ref: secret_ref(),
        api_secret_secret_ref: secret_ref(),
        body_style: Some(ZuduBodyStyle::Flat),
    })
}

/// Fast test settings against `base`.
fn config(base: String) -> ClientConfig {
    let mut c = ClientConfig::new(base.parse().unwrap());
    c.allow_insecure_http = true;
    c.requests_per_second = 1000.0;
    c.burst = 100;
    c.min_backoff = Duration::from_millis(50);
    c.max_backoff = Duration::from_millis(200);
    c.timeout = Duration::from_secs(5);
    c
}

fn client_with(provider: &ProviderSpec, config: ClientConfig) -> RegistryClient {
    let model = model_for(provider);
    let auth = model
        .auth_headers()
        .into_iter()
        .map(|h| (h, SecretValue::new(CANARY)))
        .collect();
    RegistryClient::new(model, config, auth).unwrap()
}

fn client(addr: SocketAddr) -> RegistryClient {
    client_with(&aitronos(), config(format!("http://{addr}")))
}

fn record() -> Value {
    json!({"id": "mcp_1", "name": "GitHub", "server_url": "https://g.example.com",
           "transportType": "sse", "isActive": true, "connectionStatus": "connected"})
}

fn create_fields() -> BTreeMap<Field, Value> {
    BTreeMap::from([
        (Field::DisplayName, json!("GitHub")),
        (Field::Url, json!("https://g.example.com")),
        (Field::Transport, json!("Sse")),
    ])
}

#[tokio::test]
async fn retry_after_429_is_waited_out() {
    let (addr, srv) = serve(
        "127.0.0.1",
        vec![
            reply(429, json!({"message": "slow down"})).header("retry-after", "1"),
            reply(200, record()),
        ],
    )
    .await;
    let c = client(addr);
    let start = Instant::now();
    let rec = c.get("mcp_1").await.unwrap();
    assert_eq!(rec.id, "mcp_1");
    assert!(
        start.elapsed() >= Duration::from_millis(950),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(srv.seen().len(), 2);
    assert_eq!(c.stats().retries, 1);
}

#[tokio::test]
async fn long_retry_after_is_returned_to_the_caller() {
    let (addr, srv) = serve(
        "127.0.0.1",
        vec![reply(429, json!({})).header("retry-after", "3600")],
    )
    .await;
    let err = client(addr).get("mcp_1").await.unwrap_err();
    assert_eq!(err.class, ErrorClass::RateLimited);
    assert_eq!(err.retry_after, Some(Duration::from_secs(3600)));
    assert_eq!(srv.seen().len(), 1);
}

#[tokio::test]
async fn backoff_on_503_then_success() {
    let (addr, srv) = serve(
        "127.0.0.1",
        vec![
            reply(503, json!({})),
            reply(503, json!({})),
            reply(200, record()),
        ],
    )
    .await;
    client(addr).get("mcp_1").await.unwrap();
    let seen = srv.seen();
    assert_eq!(seen.len(), 3);
    for pair in seen.windows(2) {
        let gap = pair[1].at - pair[0].at;
        assert!(gap >= Duration::from_millis(45), "gap {gap:?}");
    }
}

#[tokio::test]
async fn server_errors_exhaust_attempts_as_unreachable() {
    let (addr, srv) = serve("127.0.0.1", vec![reply(500, json!({}))]).await;
    let mut cfg = config(format!("http://{addr}"));
    cfg.max_attempts = 3;
    let err = client_with(&aitronos(), cfg)
        .get("mcp_1")
        .await
        .unwrap_err();
    assert_eq!(err.class, ErrorClass::Unreachable);
    assert_eq!(err.status, Some(500));
    assert!(
        err.message
            .contains("GET /v1/mcp-configurations/mcp_1 answered 500"),
        "{}",
        err.message
    );
    assert_eq!(srv.seen().len(), 3);
}

#[tokio::test]
async fn post_after_500_is_not_resent() {
    let (addr, srv) = serve("127.0.0.1", vec![reply(500, json!({}))]).await;
    let err = client(addr)
        .create(&create_fields(), &WriteContext::default())
        .await
        .unwrap_err();
    assert_eq!(err.class, ErrorClass::Unreachable);
    assert_eq!(srv.seen().len(), 1);
}

#[tokio::test]
async fn post_is_resent_after_429() {
    let (addr, srv) = serve(
        "127.0.0.1",
        vec![
            reply(429, json!({})).header("retry-after", "0"),
            reply(201, record()),
        ],
    )
    .await;
    let rec = client(addr)
        .create(&create_fields(), &WriteContext::default())
        .await
        .unwrap();
    assert_eq!(rec.id, "mcp_1");
    let seen = srv.seen();
    assert_eq!(seen.len(), 2);
    assert!(seen.iter().all(|s| s.method == "POST"));
}

/// A server that reads each request and hangs up without answering.
async fn hang_up_server() -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            count.fetch_add(1, Ordering::SeqCst);
            let mut buf = [0u8; 4096];
            let _ = sock.read(&mut buf).await;
            drop(sock);
        }
    });
    (addr, accepted)
}

#[tokio::test]
async fn post_is_not_resent_after_connection_drop() {
    let (addr, accepted) = hang_up_server().await;
    let err = client(addr)
        .create(&create_fields(), &WriteContext::default())
        .await
        .unwrap_err();
    assert_eq!(err.class, ErrorClass::Unreachable);
    assert_eq!(err.status, None);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        1,
        "the POST was sent again"
    );
}

#[tokio::test]
async fn get_is_resent_after_connection_drop() {
    let (addr, accepted) = hang_up_server().await;
    let err = client(addr).get("mcp_1").await.unwrap_err();
    assert_eq!(err.class, ErrorClass::Unreachable);
    assert_eq!(accepted.load(Ordering::SeqCst), 4);
}

#[tokio::test]
async fn connection_refused_is_unreachable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let mut cfg = config(format!("http://{addr}"));
    cfg.max_attempts = 2;
    let err = client_with(&aitronos(), cfg).get("x").await.unwrap_err();
    assert_eq!(err.class, ErrorClass::Unreachable);
    assert!(err.message.contains("cannot connect"), "{}", err.message);
}

#[tokio::test]
async fn cross_origin_redirect_does_not_carry_credentials() {
    let (other, other_srv) = serve("127.0.0.1", vec![reply(200, record())]).await;
    let target = format!(
        "http://localhost:{}/v1/mcp-configurations/mcp_1",
        other.port()
    );
    let (addr, _srv) = serve(
        "127.0.0.1",
        vec![reply(302, json!({})).header("location", target)],
    )
    .await;
    let err = client(addr).get("mcp_1").await.unwrap_err();
    assert_eq!(err.status, Some(302));
    assert!(err.message.contains("redirected"), "{}", err.message);
    assert!(other_srv.seen().is_empty(), "the other host was called");
}

#[tokio::test]
async fn same_origin_redirect_is_followed_with_credentials() {
    let (addr, srv) = serve(
        "127.0.0.1",
        vec![
            reply(307, json!({})).header("location", "/v1/mcp-configurations/mcp_2"),
            reply(200, record()),
        ],
    )
    .await;
    client(addr).get("mcp_1").await.unwrap();
    let seen = srv.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[1].path, "/v1/mcp-configurations/mcp_2");
    assert_eq!(seen[1].headers["x-api-key"], CANARY);
}

#[tokio::test]
async fn oversized_answers_are_refused() {
    let big = json!({"id": "mcp_1", "name": "x".repeat(4096)});
    for chunked in [false, true] {
        let mut r = reply(200, big.clone());
        r.chunked = chunked;
        let (addr, srv) = serve("127.0.0.1", vec![r]).await;
        let mut cfg = config(format!("http://{addr}"));
        cfg.max_body_bytes = 1024;
        let err = client_with(&aitronos(), cfg)
            .get("mcp_1")
            .await
            .unwrap_err();
        assert_eq!(err.class, ErrorClass::Unreachable, "chunked={chunked}");
        assert!(err.message.contains("1024-byte limit"), "{}", err.message);
        assert_eq!(srv.seen().len(), 1, "an oversized answer is not retried");
    }
}

#[tokio::test]
async fn unauthorized_is_not_retried() {
    let body =
        json!({"success": false, "error": {"code": "UNAUTHORIZED", "message": "Invalid API key"}});
    let (addr, srv) = serve("127.0.0.1", vec![reply(401, body)]).await;
    let err = client(addr).get("mcp_1").await.unwrap_err();
    assert_eq!(err.class, ErrorClass::Unauthorized);
    assert_eq!(err.status, Some(401));
    assert!(
        err.message.contains("Invalid API key (UNAUTHORIZED)"),
        "{}",
        err.message
    );
    assert_eq!(srv.seen().len(), 1);
}

#[tokio::test]
async fn error_messages_never_hold_a_secret_echoed_by_the_registry() {
    let body = json!({"success": false, "error": {
        "code": "VALIDATION_ERROR",
        "message": format!("key {CANARY} may not set server_url"),
        "system_message": format!("raw header X-API-Key: {CANARY}")}});
    let (addr, srv) = serve("127.0.0.1", vec![reply(400, body)]).await;
    let c = client(addr);
    let err = c
        .patch("mcp_1", &[], &WriteContext::default())
        .await
        .unwrap_err();
    assert_eq!(err.class, ErrorClass::Rejected);
    assert!(
        err.message.contains("may not set server_url"),
        "{}",
        err.message
    );
    assert!(err.message.contains("key *** may"), "{}", err.message);
    // `system_message` is a documented field of seed 000's envelope: shown, but masked.
    assert!(
        err.message.contains("raw header X-API-Key: ***"),
        "{}",
        err.message
    );
    for text in [err.to_string(), format!("{err:?}"), format!("{c:?}")] {
        assert!(!text.contains(CANARY), "{text}");
    }
    assert_eq!(srv.seen()[0].headers["x-api-key"], CANARY);
}

#[tokio::test]
async fn not_found_and_conflict_classes() {
    let (addr, _srv) = serve("127.0.0.1", vec![reply(404, json!({}))]).await;
    let err = client(addr).delete("mcp_1").await.unwrap_err();
    assert_eq!(err.class, ErrorClass::NotFound);
    let conflict = json!({"message": "MCP server name already exists", "status": "error",
        "error": "MCP server with name 'n' already exists in organization"});
    let (addr, srv) = serve("127.0.0.1", vec![reply(409, conflict)]).await;
    let c = client_with(&zudu_flat(), config(format!("http://{addr}")));
    let err = c
        .create(&create_fields(), &WriteContext::default())
        .await
        .unwrap_err();
    assert_eq!(err.class, ErrorClass::Conflict);
    assert!(err.message.contains("already exists in organization"));
    assert_eq!(srv.seen().len(), 1, "no retry storm on 409");
    let headers = &srv.seen()[0].headers;
    assert_eq!(headers["x-api-key"], CANARY);
    assert_eq!(headers["x-api-secret"], CANARY);
}

#[tokio::test]
async fn rate_limiter_spaces_requests_across_clones() {
    let (addr, srv) = serve("127.0.0.1", vec![reply(200, record())]).await;
    let mut cfg = config(format!("http://{addr}"));
    cfg.requests_per_second = 20.0;
    cfg.burst = 1;
    let a = client_with(&aitronos(), cfg);
    let b = a.clone();
    let start = Instant::now();
    let (x, y) = tokio::join!(
        async {
            for _ in 0..3 {
                a.get("mcp_1").await.unwrap();
            }
        },
        async {
            for _ in 0..3 {
                b.get("mcp_1").await.unwrap();
            }
        }
    );
    let _ = (x, y);
    // 6 requests, 1 at once, 50 ms apart: at least 250 ms.
    assert!(
        start.elapsed() >= Duration::from_millis(240),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(srv.seen().len(), 6);
    assert_eq!(a.stats().requests, 6);
}

fn zudu_page(page: u64, has_next: bool, names: &[&str]) -> Value {
    let servers: Vec<Value> = names
        .iter()
        .enumerate()
        .map(|(i, n)| json!({"id": format!("mcp_{page}_{i}"), "name": n, "url": "https://u"}))
        .collect();
    json!({"message": "ok", "status": "success", "error": null, "data": {
        "servers": servers, "total_count": 3, "page": page, "limit": 20,
        "total_pages": 2, "has_next": has_next, "has_previous": page > 0}})
}

#[tokio::test]
async fn list_all_reads_every_page_and_filters_names_exactly() {
    let (addr, srv) = serve(
        "127.0.0.1",
        vec![
            reply(200, zudu_page(0, true, &["weather", "weather-2"])),
            reply(200, zudu_page(1, false, &["weather"])),
        ],
    )
    .await;
    let c = client_with(&zudu_flat(), config(format!("http://{addr}")));
    let found = c.list_all(Some("weather")).await.unwrap();
    let ids: Vec<_> = found.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["mcp_0_0", "mcp_1_0"]);
    let queries: Vec<_> = srv.seen().into_iter().map(|s| s.query.unwrap()).collect();
    assert_eq!(
        queries,
        [
            "page=0&limit=20&search=weather",
            "page=1&limit=20&search=weather"
        ]
    );
}

#[tokio::test]
async fn list_all_stops_on_a_pagination_loop() {
    let (addr, srv) = serve("127.0.0.1", vec![reply(200, zudu_page(0, true, &["a"]))]).await;
    let c = client_with(&zudu_flat(), config(format!("http://{addr}")));
    let err = c.list_all(None).await.unwrap_err();
    assert_eq!(err.class, ErrorClass::Unreachable);
    assert!(err.message.contains("already read"), "{}", err.message);
    assert!(srv.seen().len() <= 3);
}

#[tokio::test]
async fn undecodable_answer_names_the_field_not_the_body() {
    let (addr, _srv) = serve(
        "127.0.0.1",
        vec![reply(200, json!({"name": format!("leak {CANARY}")}))],
    )
    .await;
    let err = client(addr).get("mcp_1").await.unwrap_err();
    assert_eq!(err.class, ErrorClass::Unreachable);
    assert!(err.message.contains("`id` is missing"), "{}", err.message);
    assert!(!err.message.contains("leak"));
}

#[tokio::test]
async fn plain_http_is_refused_unless_allowed() {
    let model = model_for(&aitronos());
    let cfg = ClientConfig::new("http://registry.example.com".parse().unwrap());
    let err = RegistryClient::new(model, cfg, Vec::new()).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("aitronos") && text.contains("allowInsecureHttp"),
        "{text}"
    );
}

#[tokio::test]
async fn post_is_not_resent_after_a_timeout_but_get_is() {
    let mut slow = reply(201, record());
    slow.delay = Duration::from_millis(600);
    let (addr, srv) = serve("127.0.0.1", vec![slow]).await;
    let mut cfg = config(format!("http://{addr}"));
    cfg.timeout = Duration::from_millis(200);
    cfg.max_attempts = 3;
    let c = client_with(&aitronos(), cfg);
    let err = c
        .create(&create_fields(), &WriteContext::default())
        .await
        .unwrap_err();
    assert_eq!(err.class, ErrorClass::Unreachable);
    assert!(err.message.contains("no answer within"), "{}", err.message);
    assert_eq!(
        srv.seen().len(),
        1,
        "the POST was sent again after a timeout"
    );
    c.get("mcp_1").await.unwrap_err();
    assert_eq!(srv.seen().len(), 4);
}

#[tokio::test]
async fn soft_deleted_composio_record_is_not_found() {
    let composio = ProviderSpec::Composio(ComposioProvider {
        api_key_secret_ref: secret_ref(),
        key_header: None,
    });
    let (addr, srv) = serve(
        "127.0.0.1",
        vec![reply(
            200,
            json!({"id": "srv-1", "name": "gone", "deleted": true}),
        )],
    )
    .await;
    let c = client_with(&composio, config(format!("http://{addr}")));
    let err = c.get("srv-1").await.unwrap_err();
    assert_eq!(err.class, ErrorClass::NotFound);
    assert_eq!(srv.seen()[0].headers["x-api-key"], CANARY);
}

#[tokio::test]
async fn retry_after_holds_back_every_caller_of_the_client() {
    let (addr, srv) = serve(
        "127.0.0.1",
        vec![
            reply(429, json!({})).header("retry-after", "1"),
            reply(200, record()),
        ],
    )
    .await;
    let a = client(addr);
    let b = a.clone();
    let first = tokio::spawn(async move { a.get("mcp_1").await });
    tokio::time::sleep(Duration::from_millis(150)).await;
    b.get("mcp_2").await.unwrap();
    first.await.unwrap().unwrap();
    let seen = srv.seen();
    assert_eq!(seen.len(), 3);
    let gap = seen[1].at - seen[0].at;
    assert!(
        gap >= Duration::from_millis(900),
        "second caller went out after {gap:?}"
    );
}

#[tokio::test]
async fn list_all_has_a_page_cap() {
    let page = |i: usize| {
        reply(
            200,
            json!({"object": "list", "data": [{"id": format!("id{i}"), "url": "https://u",
                "transport": "SSE", "availability": "PENDING"}], "has_more": true,
                "first_id": format!("id{i}"), "last_id": format!("id{i}")}),
        )
    };
    let (addr, srv) = serve("127.0.0.1", (0..10).map(page).collect()).await;
    let pais = ProviderSpec::Pais(PaisProvider {
        token_secret_ref: secret_ref(),
    });
    let mut cfg = config(format!("http://{addr}/prefix"));
    cfg.max_pages = 3;
    let c = client_with(&pais, cfg);
    let err = c.list_all(None).await.unwrap_err();
    assert!(err.message.contains("more than 3 pages"), "{}", err.message);
    let seen = srv.seen();
    assert_eq!(seen.len(), 3);
    assert_eq!(seen[0].path, "/prefix/api/v1/control/mcp-servers/");
    assert_eq!(seen[1].query.as_deref(), Some("limit=100&after=id0"));
    assert_eq!(
        seen[0].headers["authorization"],
        format!("Bearer {CANARY}").as_str()
    );
}

#[tokio::test]
async fn a_connection_error_names_the_registry_origin() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let mut cfg = config(format!("http://{addr}/some/prefix"));
    cfg.max_attempts = 1;
    let err = client_with(&aitronos(), cfg).get("x").await.unwrap_err();
    assert!(
        err.message
            .contains(&format!("cannot connect to http://{addr}")),
        "{}",
        err.message
    );
}

#[tokio::test]
async fn list_all_stops_on_pages_that_only_repeat_records() {
    // Each page points to the next one, but serves the records of the first again: a
    // registry that never ends. The listing stops at the first page with nothing new.
    let page = |p: u64| {
        let mut body = zudu_page(p, true, &["a"]);
        body["data"]["servers"][0]["id"] = json!("mcp_same");
        reply(200, body)
    };
    let (addr, srv) = serve("127.0.0.1", (0..50).map(page).collect()).await;
    let c = client_with(&zudu_flat(), config(format!("http://{addr}")));
    let err = c.list_all(None).await.unwrap_err();
    assert_eq!(err.class, ErrorClass::Unreachable);
    assert!(
        err.message.contains("without new records"),
        "{}",
        err.message
    );
    assert_eq!(srv.seen().len(), 2);
}
