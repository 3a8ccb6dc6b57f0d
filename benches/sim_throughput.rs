//! Simulator throughput over loopback: 50,000 GETs and PATCHes (half each) spread over
//! all providers, 32 in flight, one reqwest client. The simulator must sustain at least
//! 5,000 requests/s on a 2-core machine so it is never the bottleneck of the operator's
//! own benchmarks. Run with `cargo bench --bench sim_throughput`.

use std::time::{Duration, Instant};

use futures::StreamExt;
use mcpsync::sim::{self, SimConfig};
use reqwest::{Client, Method, RequestBuilder};
use serde_json::{Value, json};

const REQUESTS: usize = 50_000;
const CONCURRENCY: usize = 32;
const FLOOR: f64 = 5_000.0;

/// One created record per provider: (provider, item path, auth headers, patch body).
struct Target {
    item: String,
    auth: Vec<(&'static str, &'static str)>,
    patch: Value,
}

fn with_auth(mut request: RequestBuilder, auth: &[(&str, &str)]) -> RequestBuilder {
    for (name, value) in auth {
        request = request.header(*name, *value);
    }
    request
}

async fn create(
    client: &Client,
    base: &str,
    path: &str,
    auth: &[(&'static str, &'static str)],
    body: Value,
) -> anyhow::Result<String> {
    let answer: Value = with_auth(client.post(format!("{base}{path}")), auth)
        .json(&body)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let id = answer.get("data").unwrap_or(&answer)["id"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("no id in {answer}"))?;
    Ok(id.to_string())
}

async fn targets(client: &Client, handle: &sim::SimHandle) -> anyhow::Result<Vec<Target>> {
    let mut out = Vec::new();
    let base = handle.base_url("aitronos");
    let auth = vec![("X-API-Key", "bench")];
    let id = create(
        client,
        &base,
        "/v1/mcp-configurations",
        &auth,
        json!({
        "name": "bench", "server_url": "https://bench.example.com", "transport_type": "sse",
        "auth_type": "api_key", "organization_id": "org_bench"}),
    )
    .await?;
    out.push(Target {
        item: format!("{base}/v1/mcp-configurations/{id}"),
        auth,
        patch: json!({"is_active": true}),
    });
    let base = handle.base_url("composio");
    let auth = vec![("x-api-key", "bench")];
    let id = create(
        client,
        &base,
        "/api/v3/mcp/servers/custom",
        &auth,
        json!({"name": "bench"}),
    )
    .await?;
    out.push(Target {
        item: format!("{base}/api/v3/mcp/{id}"),
        auth,
        patch: json!({"allowed_tools": ["a", "b"]}),
    });
    let base = handle.base_url("pais");
    let auth = vec![("Authorization", "Bearer bench")];
    let id = create(
        client,
        &base,
        "/api/v1/control/mcp-servers",
        &auth,
        json!({
        "url": "https://bench.example.com", "transport": "SSE"}),
    )
    .await?;
    out.push(Target {
        item: format!("{base}/api/v1/control/mcp-servers/{id}"),
        auth,
        patch: json!({"description": "d"}),
    });
    for (prefix, body) in [
        (
            "zudu",
            json!({"config": {"name": "bench", "url": "https://bench.example.com"}}),
        ),
        (
            "zudu-flat",
            json!({"name": "bench", "url": "https://bench.example.com"}),
        ),
    ] {
        let base = handle.base_url(prefix);
        let auth = vec![("X-API-KEY", "bench"), ("X-API-SECRET", "bench")];
        let id = create(client, &base, "/api/mcp-servers", &auth, body).await?;
        let patch = if prefix == "zudu" {
            json!({"config": {"description": "d"}})
        } else {
            json!({"description": "d"})
        };
        out.push(Target {
            item: format!("{base}/api/mcp-servers/{id}"),
            auth,
            patch,
        });
    }
    Ok(out)
}

async fn one(client: &Client, target: &Target, patch: bool) -> bool {
    let method = if patch { Method::PATCH } else { Method::GET };
    let mut request = with_auth(client.request(method, &target.item), &target.auth);
    if patch {
        request = request.json(&target.patch);
    }
    match request.send().await {
        Ok(response) => {
            let ok = response.status().is_success();
            let _ = response.bytes().await;
            ok
        }
        Err(_) => false,
    }
}

async fn run() -> anyhow::Result<()> {
    let handle = sim::start(SimConfig {
        log_capacity: REQUESTS * 2,
        ..SimConfig::default()
    })
    .await?;
    let client = Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(CONCURRENCY)
        .timeout(Duration::from_secs(10))
        .build()?;
    let targets = targets(&client, &handle).await?;
    let started = Instant::now();
    let failures = futures::stream::iter(0..REQUESTS)
        .map(|i| one(&client, &targets[i % targets.len()], i % 2 == 1))
        .buffer_unordered(CONCURRENCY)
        .filter(|ok| std::future::ready(!ok))
        .count()
        .await;
    let elapsed = started.elapsed();
    let rate = REQUESTS as f64 / elapsed.as_secs_f64();
    let logged = handle.requests().len();
    println!(
        "sim_throughput: {REQUESTS} requests (GET/PATCH, {CONCURRENCY} in flight) in {:.2} s = {rate:.0} requests/s; {failures} failed; {logged} logged",
        elapsed.as_secs_f64()
    );
    handle.shutdown().await;
    anyhow::ensure!(failures == 0, "{failures} requests failed");
    anyhow::ensure!(
        rate >= FLOOR,
        "{rate:.0} requests/s is below the {FLOOR} floor"
    );
    Ok(())
}

fn main() -> anyhow::Result<()> {
    // Two worker threads: the machine the floor is set for has two cores.
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?
        .block_on(run())
}
