//! How many registry calls a drift check of many servers costs, and how long it takes.
//!
//! Seeds the simulator with N Composio records, writes N McpServer manifests pointing at
//! them (a few with a drifted field), then runs `plan` (read only), `apply` (repair) and
//! `plan` again through the same library code as `mcpsync plan|apply`. Prints the calls
//! made per phase. The batch observation means one LIST page per 100 servers instead of
//! one GET per server.
//!
//! `cargo bench --bench drift_check` (N = 10,000; `MCPSYNC_BENCH_SERVERS` overrides).

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Instant;

use mcpsync::local::run::{self, Mode, RunOptions};
use mcpsync::sim::{self, SimConfig};

const DRIFTED: usize = 10;

fn main() -> anyhow::Result<()> {
    let n: usize = std::env::var("MCPSYNC_BENCH_SERVERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(bench(n))
}

fn record_id(i: usize) -> String {
    format!("00000000-0000-4000-8000-{i:012}")
}

async fn bench(n: usize) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut seed =
        String::from("composio:\n  credentials:\n    - api_key: bench-key\n  records:\n");
    for i in 0..n {
        let toolkits = if i < DRIFTED {
            "[github, slack]"
        } else {
            "[github]"
        };
        let _ = writeln!(
            seed,
            "    - {{id: {}, name: srv-{i:05}, toolkits: {toolkits}}}",
            record_id(i)
        );
    }
    let seed_path = dir.path().join("seed.yaml");
    std::fs::write(&seed_path, seed)?;
    let manifests = dir.path().join("manifests");
    std::fs::create_dir(&manifests)?;
    std::fs::write(manifests.join("registry.yaml"), REGISTRY)?;
    let mut servers = String::new();
    for i in 0..n {
        let _ = write!(
            servers,
            "---\napiVersion: mcpsync.dev/v1alpha1\nkind: McpServer\nmetadata: {{name: srv-{i:05}, namespace: bench}}\nspec:\n  registryRef: {{kind: ClusterMcpRegistry, name: composio}}\n  externalId: {}\n  displayName: srv-{i:05}\n  toolkits: [github]\n",
            record_id(i)
        );
    }
    std::fs::write(manifests.join("servers.yaml"), servers)?;

    let sim = sim::start(SimConfig {
        seed: Some(seed_path),
        log_capacity: 4 * n + 1000,
        ..SimConfig::default()
    })
    .await?;
    let base = sim.base_url("composio");
    let opts = |mode| RunOptions {
        paths: vec![manifests.clone()],
        state_path: dir.path().join("state.yaml"),
        mode,
        base_url_override: Some(Arc::new({
            let base = base.clone();
            move |_| base.clone()
        })),
        wait_for_state: false,
        prune: false,
        progress: None,
    };
    println!("drift_check: {n} McpServers in one Composio registry, {DRIFTED} of them drifted");
    for (phase, mode) in [
        ("plan", Mode::Plan),
        ("apply", Mode::Apply),
        ("plan again", Mode::Plan),
    ] {
        sim.clear_log();
        let started = Instant::now();
        let report = run::run(&opts(mode), jiff::Timestamp::now()).await?;
        let elapsed = started.elapsed();
        let requests = sim.requests();
        let reads = requests.iter().filter(|r| r.method == "GET").count();
        let writes = requests.len() - reads;
        let changed = report
            .servers
            .iter()
            .filter(|s| !s.changes.is_empty())
            .count();
        println!(
            "  {phase:<10} {:>7.2} s  {reads:>5} reads  {writes:>3} writes  ({changed} servers with changes; one GET per server would be {n} reads)",
            elapsed.as_secs_f64()
        );
    }
    sim.shutdown().await;
    Ok(())
}

const REGISTRY: &str = "apiVersion: mcpsync.dev/v1alpha1
kind: ClusterMcpRegistry
metadata: {name: composio}
spec:
  provider:
    composio:
      apiKeySecretRef: {name: composio-api, key: api-key, namespace: bench}
  baseUrl: http://127.0.0.1:1/composio
  allowInsecureHttp: true
  rateLimit: {requestsPerSecond: 10000, burst: 10000}
---
apiVersion: v1
kind: Secret
metadata: {name: composio-api, namespace: bench}
stringData: {api-key: bench-key}
";
