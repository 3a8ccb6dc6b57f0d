//! The scale benchmark's harness (issue 13), shared by `benches/scale.rs` (N = 1,000 and
//! 10,000) and its smoke test `tests/kube_scale.rs` (N = 200).
//!
//! One run of [`run`] on the API server of tests/support/kube.rs:
//!
//! 1. setup: a namespace, the in-process simulator, large Secrets no server references,
//!    a Composio registry, a PAIS registry with one server whose header comes from a
//!    Secret, and N Composio McpServers created through the API; then `mcpsync run` (a
//!    child process) is started and every server waits for Ready (the operator creates
//!    the N records). Timed, not measured.
//! 2. steady state of the product (`--observe snapshot`): calls at the simulator by kind
//!    (LIST page, GET, PATCH) and the operator's writes from the API server's audit log,
//!    over `intervals` sync intervals.
//! 3. latency: an McpServer change to its PATCH, a Secret rotation to its PATCH.
//! 4. mass change: every server changes its `displayName`, without a rate limit and then
//!    with the simulator (and the registry's client) limited to R requests/s.
//! 5. the baseline (`--observe get-each`, the Crossplane/ACK model) on the same servers:
//!    steady state again, counted the same way.
//!
//! Peak RSS is the child's `VmHWM` (/proc/PID/status); RSS during the steady windows is
//! sampled every second.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use mcpsync::api::McpServer;
use mcpsync::sim::{self, Provider, RateLimit, SimConfig, SimHandle};
use serde::Serialize;
use serde_json::{Value, json};

use super::kube::{OPERATOR_USER, TestNamespace, env};

/// Composio's listing page as the provider asks for it (`limit=100`).
pub const PAGE: usize = 100;
/// Requests to the API server the harness sends at once while creating or patching.
const API_CONCURRENCY: usize = 32;

/// What to run.
#[derive(Clone, Debug, Serialize)]
pub struct Plan {
    pub n: usize,
    #[serde(rename = "interval_s", serialize_with = "secs")]
    pub interval: Duration,
    /// Sync intervals per steady-state window.
    pub intervals: u32,
    /// The sync interval of the operator that the latency and mass-change phases run
    /// against (the product's default is 10m). The steady-state interval is short only
    /// so that three intervals fit the benchmark; its lastSyncTime writes (N per
    /// interval) would otherwise be background load that no installation has.
    #[serde(rename = "change_interval_s", serialize_with = "secs")]
    pub change_interval: Duration,
    /// R: the simulator's limit (requests/s) for the limited mass change.
    pub rate_limit: u32,
    pub latency_samples: usize,
    /// Unreferenced Secrets of `big_secret_bytes` each, created before the operator starts.
    pub big_secrets: usize,
    pub big_secret_bytes: usize,
    /// `mcpsync run --concurrency`.
    pub concurrency: u16,
    /// Also run the limited mass change with the client's burst equal to the simulator's
    /// (10), to show what the 429s cost.
    pub limited_same_burst: bool,
}

fn secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Setup {
    /// Creating the unreferenced Secrets.
    pub secrets_s: f64,
    /// Creating the N McpServers in the API server (harness, 32 requests at once).
    pub create_servers_s: f64,
    /// From starting `mcpsync run` to every server Ready (the operator creates N records).
    pub operator_ready_s: f64,
    pub records_created: usize,
}

/// One steady-state window.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Steady {
    pub mode: String,
    pub window_s: f64,
    pub intervals: u32,
    /// Composio calls at the simulator.
    pub list_pages: usize,
    pub gets: usize,
    pub patches: usize,
    pub other_calls: usize,
    pub calls_per_interval: f64,
    pub list_pages_per_interval: f64,
    pub gets_per_interval: f64,
    /// The operator's writes to McpServer status in the window (audit log).
    pub status_writes: usize,
    pub status_writes_per_interval: f64,
    pub status_writes_per_s: f64,
    /// Every other write of the operator in the window, `resource[/subresource] verb`.
    pub other_kube_writes: BTreeMap<String, usize>,
    /// Servers whose status differs at the end of the window in anything but
    /// `lastSyncTime`.
    pub statuses_changed_beyond_last_sync: usize,
    /// Largest VmRSS sampled in the window, and the process's VmHWM at its end (MiB).
    pub rss_max_mib: f64,
    pub peak_rss_mib: f64,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Mass {
    /// `None`: no limit.
    pub rate_limit: Option<u32>,
    /// The registry's client-side `rateLimit.burst` (its rate is R); the simulator's
    /// bucket holds 10.
    pub client_burst: Option<u32>,
    /// From the first spec patch to the N-th PATCH answered 2xx at the simulator.
    pub converge_s: f64,
    /// Sending the N spec patches to the API server.
    pub spec_patches_s: f64,
    pub patches: usize,
    /// Composio answers 429 in the window.
    pub throttled: usize,
    pub patches_per_s: f64,
    /// converge_s / (N / R).
    pub ratio_to_bound: Option<f64>,
    pub converged: bool,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Latency {
    pub samples: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// Changes that produced no PATCH within 10 s.
    pub missed: usize,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct SecretCache {
    pub unreferenced_secrets: usize,
    pub unreferenced_bytes: usize,
    /// Peak RSS of the operator (MiB), the Secrets included in its namespace.
    pub peak_rss_mib: f64,
    /// How the operator watches Secrets (from the API server's view: metadata only).
    pub secret_watch: String,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Run {
    pub plan: Option<Plan>,
    pub setup: Setup,
    pub mcpsync: Steady,
    pub baseline: Steady,
    /// Baseline calls per interval / mcpsync calls per interval.
    pub call_ratio: f64,
    pub latency_change: Latency,
    pub latency_secret: Latency,
    pub mass_unlimited: Mass,
    pub mass_limited: Mass,
    /// The same with the client's burst equal to the simulator's (when planned).
    pub mass_limited_same_burst: Option<Mass>,
    /// VmHWM of each operator process over its whole life (MiB): the product's is the
    /// larger of the one that ran setup and steady state and the one that ran the changes.
    pub mcpsync_peak_rss_mib: f64,
    pub setup_and_steady_peak_rss_mib: f64,
    pub changes_peak_rss_mib: f64,
    pub baseline_peak_rss_mib: f64,
    pub secret_cache: SecretCache,
    /// The operator's `lastSyncTime` writes at the default interval (10m), from the
    /// measured writes per server and interval: servers x (writes/server/interval) / 600.
    pub last_sync_writes_per_s_at_10m: f64,
    pub total_s: f64,
}

/// `mcpsync run` as a child process; killed when dropped.
pub struct Operator {
    child: Child,
    pub log: PathBuf,
}

impl Operator {
    pub fn start(namespace: &str, interval: Duration, concurrency: u16, observe: &str) -> Self {
        let log = std::env::temp_dir().join(format!(
            "mcpsync-scale-{namespace}-{observe}-{}.log",
            std::process::id()
        ));
        let file = std::fs::File::create(&log).expect("operator log");
        let child = Command::new(env!("CARGO_BIN_EXE_mcpsync"))
            .args(["run", "--namespace", namespace, "--sync-interval"])
            .arg(format!("{}s", interval.as_secs()))
            .arg("--concurrency")
            .arg(concurrency.to_string())
            .args(["--observe", observe])
            // The product runs with its default status refresh budget (10 writes/s); the
            // baseline without one, so that its windows measure what lastSyncTime alone
            // would cost unbudgeted (the same status code path: only the reads differ).
            .args(if observe == "get-each" {
                &["--status-refresh-qps", "0"][..]
            } else {
                &[][..]
            })
            .arg("--kubeconfig")
            .arg(env().operator_kubeconfig_file())
            .args(["--metrics-addr", "off", "--probe-addr", "off"])
            .args(["--log-format", "text"])
            .env("RUST_LOG", "mcpsync=warn,kube=warn")
            .stdout(Stdio::from(file.try_clone().expect("log handle")))
            .stderr(Stdio::from(file))
            .spawn()
            .expect("mcpsync run starts");
        Operator { child, log }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// (VmRSS, VmHWM) in MiB.
    pub fn rss(&self) -> (f64, f64) {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<f64>().ok())
                .map(|kib| kib / 1024.0)
                .unwrap_or(0.0)
        };
        (field("VmRSS:"), field("VmHWM:"))
    }

    /// SIGTERM, then SIGKILL after 30 s.
    pub fn stop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Everything of one run.
pub struct World {
    pub plan: Plan,
    pub ns: TestNamespace,
    pub sim: SimHandle,
    pub client: kube::Client,
    pub operator: Option<Operator>,
}

/// The operator's writes in the audit log from a byte offset on, for one namespace.
#[derive(Debug, Default)]
pub struct Writes {
    pub server_status: usize,
    pub other: BTreeMap<String, usize>,
}

/// Where the audit log stands: its file (inode), length and the time. The API server
/// rotates `audit.log` at 100 MB (to `audit-<time>.log`), which a 10,000-server run
/// reaches within minutes.
#[derive(Clone, Copy, Debug)]
pub struct AuditMark {
    inode: u64,
    offset: u64,
    at: std::time::SystemTime,
}

pub fn audit_offset() -> AuditMark {
    use std::os::unix::fs::MetadataExt;
    let meta = env().audit_log().and_then(|p| std::fs::metadata(p).ok());
    AuditMark {
        inode: meta.as_ref().map(|m| m.ino()).unwrap_or(0),
        offset: meta.as_ref().map(|m| m.len()).unwrap_or(0),
        at: std::time::SystemTime::now(),
    }
}

/// Counts the operator's writes (answered) in namespace `ns` after `mark`: the rest of
/// the file that was `audit.log` then (rotated or not) and every audit file written
/// since.
pub fn operator_writes(ns: &str, mark: AuditMark) -> Writes {
    use std::os::unix::fs::MetadataExt;
    let mut writes = Writes::default();
    let Some(dir) = env()
        .audit_log()
        .and_then(|p| p.parent().map(PathBuf::from))
    else {
        return writes;
    };
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return writes;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with("audit") || !name.ends_with(".log") {
            continue;
        }
        let Ok(meta) = entry.metadata() else { continue };
        let from = if meta.ino() == mark.inode {
            mark.offset
        } else if meta.modified().is_ok_and(|m| m >= mark.at) {
            0
        } else {
            continue;
        };
        count_writes(&entry.path(), from, ns, &mut writes);
    }
    writes
}

fn count_writes(path: &std::path::Path, offset: u64, ns: &str, writes: &mut Writes) {
    let Ok(mut file) = std::fs::File::open(path) else {
        return;
    };
    if file.seek(SeekFrom::Start(offset)).is_err() {
        return;
    }
    let needle = format!("\"namespace\":\"{ns}\"");
    for line in BufReader::new(file).lines().map_while(Result::ok) {
        if !line.contains(OPERATOR_USER) || !line.contains(&needle) {
            continue;
        }
        let Ok(e) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        if e["stage"] != "ResponseComplete"
            || e["user"]["username"] != OPERATOR_USER
            || e["objectRef"]["namespace"] != json!(ns)
        {
            continue;
        }
        let resource = e["objectRef"]["resource"].as_str().unwrap_or("?");
        let sub = e["objectRef"]["subresource"].as_str();
        if resource == "mcpservers" && sub == Some("status") {
            writes.server_status += 1;
        } else {
            let verb = e["verb"].as_str().unwrap_or("?");
            let key = match sub {
                Some(sub) => format!("{resource}/{sub} {verb}"),
                None => format!("{resource} {verb}"),
            };
            *writes.other.entry(key).or_default() += 1;
        }
    }
}

/// Answers of the simulator for `provider`, `method`, status accepted by `code`.
pub fn answered(sim: &SimHandle, provider: &str, method: &str, code: impl Fn(&str) -> bool) -> u64 {
    sim.counters()
        .get(provider)
        .and_then(|m| m.get(method))
        .map(|by_code| {
            by_code
                .iter()
                .filter(|(c, _)| code(c))
                .map(|(_, n)| *n)
                .sum()
        })
        .unwrap_or(0)
}

fn ok(code: &str) -> bool {
    code.starts_with('2')
}

fn mib(bytes: usize) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn server_name(i: usize) -> String {
    format!("s{i:05}")
}

fn server_manifest(ns: &str, i: usize, display: &str) -> McpServer {
    serde_json::from_value(json!({
        "apiVersion": "mcpsync.dev/v1alpha1",
        "kind": "McpServer",
        "metadata": {"name": server_name(i), "namespace": ns},
        "spec": {
            "registryRef": {"name": "composio"},
            "displayName": display,
            "toolkits": ["github"],
        }
    }))
    .expect("a valid McpServer")
}

/// Runs `f` over `items` with `API_CONCURRENCY` at once; panics on the first error.
async fn for_each_concurrent<T, F, Fut, E>(items: Vec<T>, f: F)
where
    F: Fn(T) -> Fut,
    Fut: std::future::Future<Output = Result<(), E>>,
    E: std::fmt::Display,
{
    let mut stream =
        futures::stream::iter(items.into_iter().map(f)).buffer_unordered(API_CONCURRENCY);
    while let Some(result) = stream.next().await {
        if let Err(e) = result {
            panic!("API request failed: {e}");
        }
    }
}

impl World {
    /// Setup (step 1): returns the world with the product's operator running and every
    /// server Ready.
    pub async fn setup(plan: Plan) -> (World, Setup) {
        env().install_crds();
        env().install_rbac();
        let ns = TestNamespace::new(&format!("scale-{}", plan.n));
        let sim = sim::start(SimConfig {
            availability_delay: Duration::ZERO,
            log_capacity: 4_000_000,
            ..SimConfig::default()
        })
        .await
        .expect("simulator starts");
        let client = env().admin().await;
        let mut setup = Setup::default();

        let started = Instant::now();
        let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns.name);
        let filler = "x".repeat(plan.big_secret_bytes);
        let big: Vec<usize> = (0..plan.big_secrets).collect();
        for_each_concurrent(big, |i| {
            let secrets = secrets.clone();
            let secret: Secret = serde_json::from_value(json!({
                "metadata": {"name": format!("unreferenced-{i:03}")},
                "stringData": {"blob": filler},
            }))
            .expect("a valid Secret");
            async move {
                secrets
                    .create(&PostParams::default(), &secret)
                    .await
                    .map(|_| ())
            }
        })
        .await;
        setup.secrets_s = started.elapsed().as_secs_f64();

        let world = World {
            plan,
            ns,
            sim,
            client,
            operator: None,
        };
        world.registries();

        let started = Instant::now();
        let servers = world.servers();
        let ns_name = world.ns.name.clone();
        for_each_concurrent((0..world.plan.n).collect(), |i| {
            let servers = servers.clone();
            let server = server_manifest(&ns_name, i, &format!("srv-{i:05}"));
            async move {
                servers
                    .create(&PostParams::default(), &server)
                    .await
                    .map(|_| ())
            }
        })
        .await;
        setup.create_servers_s = started.elapsed().as_secs_f64();

        let started = Instant::now();
        let mut world = world;
        world.operator = Some(Operator::start(
            &world.ns.name,
            world.plan.interval,
            world.plan.concurrency,
            "snapshot",
        ));
        let timeout = Duration::from_secs(120 + world.plan.n as u64 / 20);
        world.wait_all_ready(timeout).await;
        setup.operator_ready_s = started.elapsed().as_secs_f64();
        setup.records_created = answered(&world.sim, "composio", "POST", ok) as usize;
        (world, setup)
    }

    pub fn servers(&self) -> Api<McpServer> {
        Api::namespaced(self.client.clone(), &self.ns.name)
    }

    fn apply(&self, yaml: &str) {
        let yaml = yaml.replace("NS", &self.ns.name);
        let out = env().kubectl_output(&["apply", "-f", "-"], Some(&yaml));
        assert!(
            out.status.success(),
            "kubectl apply: {}\n{yaml}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A Composio registry (client limit as given) and a PAIS registry with one server
    /// whose `Authorization` header comes from the Secret `docs-token`.
    fn registries(&self) {
        self.apply(&format!(
            "apiVersion: v1
kind: Secret
metadata: {{name: composio-api, namespace: NS}}
stringData: {{api-key: cmp-key}}
---
apiVersion: v1
kind: Secret
metadata: {{name: pais-token, namespace: NS}}
stringData: {{token: pais-token}}
---
apiVersion: v1
kind: Secret
metadata: {{name: docs-token, namespace: NS}}
stringData: {{header: 'Bearer v0'}}
---
apiVersion: mcpsync.dev/v1alpha1
kind: McpRegistry
metadata: {{name: pais, namespace: NS}}
spec:
  provider:
    pais:
      tokenSecretRef: {{name: pais-token, key: token}}
  baseUrl: {pais}
  allowInsecureHttp: true
---
apiVersion: mcpsync.dev/v1alpha1
kind: McpServer
metadata: {{name: docs, namespace: NS}}
spec:
  registryRef: {{name: pais}}
  displayName: Docs Search
  url: https://docs.example.com/mcp
  transport: StreamableHttp
  headers:
    - name: Authorization
      valueFrom: {{secretKeyRef: {{name: docs-token, key: header}}}}
",
            pais = self.sim.base_url("pais")
        ));
        self.composio_registry(10_000, 1_000);
    }

    fn composio_registry(&self, per_second: u32, burst: u32) {
        self.apply(&format!(
            "apiVersion: mcpsync.dev/v1alpha1
kind: McpRegistry
metadata: {{name: composio, namespace: NS}}
spec:
  provider:
    composio:
      apiKeySecretRef: {{name: composio-api, key: api-key}}
  baseUrl: {}
  allowInsecureHttp: true
  rateLimit: {{requestsPerSecond: {per_second}, burst: {burst}}}
",
            self.sim.base_url("composio")
        ));
    }

    /// Every McpServer of the namespace, paged.
    pub async fn list_servers(&self) -> Vec<McpServer> {
        let api = self.servers();
        let mut all = Vec::new();
        let mut params = ListParams::default().limit(1000);
        loop {
            let page = api.list(&params).await.expect("list McpServers");
            all.extend(page.items);
            match page.metadata.continue_ {
                Some(token) if !token.is_empty() => params = params.continue_token(&token),
                _ => return all,
            }
        }
    }

    /// Waits until every server (the N and `docs`) is Ready at its current generation.
    pub async fn wait_all_ready(&mut self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        let want = self.plan.n + 1;
        loop {
            let servers = self.list_servers().await;
            let ready = servers.iter().filter(|s| synced(s)).count();
            if ready == want {
                return;
            }
            let alive = self.operator.as_mut().is_some_and(Operator::alive);
            if Instant::now() > deadline || !alive {
                let logs = self
                    .operator
                    .as_ref()
                    .map(Operator::logs)
                    .unwrap_or_default();
                let tail: String = logs.lines().rev().take(40).collect::<Vec<_>>().join("\n");
                panic!(
                    "{ready}/{want} servers Ready (operator alive: {alive}); operator log (last lines, newest first):\n{tail}"
                );
            }
            // Listing 10,000 servers is itself a load on the API server.
            tokio::time::sleep(Duration::from_millis(2_000 + self.plan.n as u64 / 5)).await;
        }
    }

    /// Each server's status without `lastSyncTime`.
    async fn statuses(&self) -> BTreeMap<String, Value> {
        self.list_servers()
            .await
            .into_iter()
            .map(|s| {
                let mut status = serde_json::to_value(&s.status).unwrap_or(Value::Null);
                if let Some(map) = status.as_object_mut() {
                    map.remove("lastSyncTime");
                }
                (s.metadata.name.unwrap_or_default(), status)
            })
            .collect()
    }

    /// Step 2 / 5: waits one interval (plus a little) for the operator to settle, then
    /// counts over `intervals` intervals.
    pub async fn steady(&self, mode: &str) -> Steady {
        let interval = self.plan.interval;
        tokio::time::sleep(interval + Duration::from_secs(2)).await;
        let before = self.statuses().await;
        let offset = audit_offset();
        self.sim.clear_log();
        let started = Instant::now();
        let window = interval * self.plan.intervals;
        let operator = self.operator.as_ref().expect("an operator runs");
        let mut rss_max: f64 = 0.0;
        while started.elapsed() < window {
            rss_max = rss_max.max(operator.rss().0);
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        let window_s = started.elapsed().as_secs_f64();
        let requests = self.sim.requests();
        let writes = operator_writes(&self.ns.name, offset);
        let after = self.statuses().await;
        let composio = requests.iter().filter(|r| r.provider == "composio");
        let (mut list_pages, mut gets, mut patches, mut other_calls) = (0, 0, 0, 0);
        for r in composio {
            match r.method.as_str() {
                "GET" if r.path.ends_with("/servers") => list_pages += 1,
                "GET" => gets += 1,
                "PATCH" => patches += 1,
                _ => other_calls += 1,
            }
        }
        let changed = after
            .iter()
            .filter(|(name, status)| before.get(*name) != Some(status))
            .count();
        let k = f64::from(self.plan.intervals);
        Steady {
            mode: mode.to_string(),
            window_s,
            intervals: self.plan.intervals,
            list_pages,
            gets,
            patches,
            other_calls,
            calls_per_interval: (list_pages + gets + patches + other_calls) as f64 / k,
            list_pages_per_interval: list_pages as f64 / k,
            gets_per_interval: gets as f64 / k,
            status_writes: writes.server_status,
            status_writes_per_interval: writes.server_status as f64 / k,
            status_writes_per_s: writes.server_status as f64 / window_s,
            other_kube_writes: writes.other,
            statuses_changed_beyond_last_sync: changed,
            rss_max_mib: rss_max,
            peak_rss_mib: operator.rss().1,
        }
    }

    /// Step 3: an McpServer change to its PATCH, `samples` times, one server after the
    /// other.
    pub async fn latency_change(&self, samples: usize) -> Latency {
        let servers = self.servers();
        let mut times = Vec::new();
        let mut missed = 0;
        for k in 0..samples {
            let i = (k * 7919) % self.plan.n;
            let before = answered(&self.sim, "composio", "PATCH", ok);
            let started = Instant::now();
            servers
                .patch(
                    &server_name(i),
                    &PatchParams::default(),
                    &Patch::Merge(&json!({"spec": {"displayName": format!("srv-{i:05}-l{k}")}})),
                )
                .await
                .expect("patch a server");
            match self.wait_count("composio", "PATCH", before + 1).await {
                true => times.push(started.elapsed()),
                false => missed += 1,
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        latency(times, missed)
    }

    /// Step 3: a Secret rotation to the PATCH of the header it feeds.
    pub async fn latency_secret(&self, samples: usize) -> Latency {
        let secrets: Api<Secret> = Api::namespaced(self.client.clone(), &self.ns.name);
        let mut times = Vec::new();
        let mut missed = 0;
        for k in 1..=samples {
            let before = answered(&self.sim, "pais", "PATCH", ok);
            let started = Instant::now();
            secrets
                .patch(
                    "docs-token",
                    &PatchParams::default(),
                    &Patch::Merge(&json!({"stringData": {"header": format!("Bearer v{k}")}})),
                )
                .await
                .expect("rotate the Secret");
            match self.wait_count("pais", "PATCH", before + 1).await {
                true => times.push(started.elapsed()),
                false => missed += 1,
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        latency(times, missed)
    }

    /// Polls the simulator's counters every 2 ms until `method` answered 2xx `want` times
    /// (10 s at most).
    async fn wait_count(&self, provider: &str, method: &str, want: u64) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if answered(&self.sim, provider, method, ok) >= want {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        false
    }

    /// Step 4: every server's `displayName` changes; with `limit` = (R, burst), the
    /// simulator allows R requests/s (bucket of 10) and the registry's client R requests/s
    /// with that burst.
    pub async fn mass_change(&self, tag: &str, limit: Option<(u32, u32)>) -> Mass {
        let n = self.plan.n;
        if let Some((r, burst)) = limit {
            self.sim.faults().set_rate_limit(RateLimit {
                provider: Provider::Composio,
                per_minute: r * 60,
                burst: Some(10),
            });
            self.composio_registry(r, burst);
            self.quiet().await;
        }
        let before = answered(&self.sim, "composio", "PATCH", ok);
        let throttled_before = answered(&self.sim, "composio", "PATCH", |c| c == "429")
            + answered(&self.sim, "composio", "GET", |c| c == "429");
        let started = Instant::now();
        let spec_done = Arc::new(AtomicU64::new(0));
        let servers = self.servers();
        let tag = tag.to_string();
        let done = spec_done.clone();
        let patcher = tokio::spawn(async move {
            for_each_concurrent((0..n).collect(), |i| {
                let servers = servers.clone();
                let name = format!("srv-{i:05}-{tag}");
                async move {
                    servers
                        .patch(
                            &server_name(i),
                            &PatchParams::default(),
                            &Patch::Merge(&json!({"spec": {"displayName": name}})),
                        )
                        .await
                        .map(|_| ())
                }
            })
            .await;
            done.store(started.elapsed().as_millis() as u64, Ordering::SeqCst);
        });
        let bound = limit.map(|(r, _)| n as f64 / f64::from(r));
        let timeout = Duration::from_secs_f64(bound.unwrap_or(0.0) * 3.0 + 60.0 + n as f64 / 50.0);
        let mut converged = false;
        while started.elapsed() < timeout {
            if answered(&self.sim, "composio", "PATCH", ok) >= before + n as u64 {
                converged = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let converge_s = started.elapsed().as_secs_f64();
        patcher.await.expect("the spec patches finish");
        let patches = (answered(&self.sim, "composio", "PATCH", ok) - before) as usize;
        let throttled = (answered(&self.sim, "composio", "PATCH", |c| c == "429")
            + answered(&self.sim, "composio", "GET", |c| c == "429")
            - throttled_before) as usize;
        if limit.is_some() {
            self.sim.faults().clear_rate_limit(Provider::Composio);
            self.composio_registry(10_000, 1_000);
        }
        Mass {
            rate_limit: limit.map(|(r, _)| r),
            client_burst: limit.map(|(_, b)| b),
            converge_s,
            spec_patches_s: spec_done.load(Ordering::SeqCst) as f64 / 1000.0,
            patches,
            throttled,
            patches_per_s: patches as f64 / converge_s,
            ratio_to_bound: bound.map(|b| converge_s / b),
            converged,
        }
    }

    /// Waits until the simulator saw no Composio request for 2 s (60 s at most).
    async fn quiet(&self) {
        let total = || -> u64 {
            self.sim
                .counters()
                .get("composio")
                .map(|m| m.values().flat_map(|c| c.values()).sum())
                .unwrap_or(0)
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut last = total();
        let mut since = Instant::now();
        while Instant::now() < deadline && since.elapsed() < Duration::from_secs(2) {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let now = total();
            if now != last {
                last = now;
                since = Instant::now();
            }
        }
    }

    /// Replaces the running operator with one in `observe` mode; returns the old one's
    /// VmHWM (MiB).
    pub fn switch_operator(&mut self, observe: &str) -> f64 {
        self.switch_operator_with(observe, self.plan.interval)
    }

    /// The same with another sync interval; waits until the new operator's start-up pass
    /// is over (the simulator quiet, then N/1000 + 3 s).
    pub async fn switch_and_settle(&mut self, observe: &str, interval: Duration) -> f64 {
        let peak = self.switch_operator_with(observe, interval);
        tokio::time::sleep(Duration::from_secs(3)).await;
        self.quiet().await;
        tokio::time::sleep(Duration::from_secs(3 + self.plan.n as u64 / 1000)).await;
        peak
    }

    fn switch_operator_with(&mut self, observe: &str, interval: Duration) -> f64 {
        let mut peak = 0.0;
        if let Some(mut old) = self.operator.take() {
            peak = old.rss().1;
            old.stop();
        }
        self.operator = Some(Operator::start(
            &self.ns.name,
            interval,
            self.plan.concurrency,
            observe,
        ));
        peak
    }
}

fn synced(s: &McpServer) -> bool {
    let Some(status) = &s.status else {
        return false;
    };
    status.observed_generation == s.metadata.generation
        && status
            .conditions
            .iter()
            .any(|c| c.type_ == "Ready" && c.status == "True")
}

fn latency(mut times: Vec<Duration>, missed: usize) -> Latency {
    times.sort();
    let pick = |q: f64| -> f64 {
        if times.is_empty() {
            return 0.0;
        }
        let i = ((times.len() as f64 * q).ceil() as usize).clamp(1, times.len()) - 1;
        times[i].as_secs_f64() * 1000.0
    };
    Latency {
        samples: times.len(),
        p50_ms: pick(0.5),
        p99_ms: pick(0.99),
        max_ms: times
            .last()
            .map(|t| t.as_secs_f64() * 1000.0)
            .unwrap_or(0.0),
        missed,
    }
}

/// The whole run (steps 1-5).
pub async fn run(plan: Plan) -> Run {
    let started = Instant::now();
    let (mut world, setup) = World::setup(plan.clone()).await;
    eprintln!(
        "[N={}] setup: {:.1} s secrets, {:.1} s creating servers, {:.1} s until all Ready",
        plan.n, setup.secrets_s, setup.create_servers_s, setup.operator_ready_s
    );
    let mcpsync = world.steady("mcpsync").await;
    eprintln!("[N={}] steady (mcpsync): {mcpsync:?}", plan.n);
    let steady_peak = world
        .switch_and_settle("snapshot", plan.change_interval)
        .await;
    let latency_change = world.latency_change(plan.latency_samples).await;
    let latency_secret = world.latency_secret(plan.latency_samples).await;
    eprintln!(
        "[N={}] latency: change {latency_change:?}, secret {latency_secret:?}",
        plan.n
    );
    let mass_unlimited = world.mass_change("u", None).await;
    eprintln!("[N={}] mass change, no limit: {mass_unlimited:?}", plan.n);
    let mass_limited = world.mass_change("r", Some((plan.rate_limit, 1))).await;
    eprintln!(
        "[N={}] mass change, R={}: {mass_limited:?}",
        plan.n, plan.rate_limit
    );
    let mut mass_limited_same_burst = None;
    if plan.limited_same_burst {
        let mass = world.mass_change("b", Some((plan.rate_limit, 10))).await;
        eprintln!(
            "[N={}] mass change, R={}, client burst 10: {mass:?}",
            plan.n, plan.rate_limit
        );
        mass_limited_same_burst = Some(mass);
    }
    let changes_peak = world.switch_operator("get-each");
    let mcpsync_peak = steady_peak.max(changes_peak);
    let baseline = world.steady("baseline").await;
    eprintln!("[N={}] steady (baseline): {baseline:?}", plan.n);
    let baseline_peak = world.operator.as_ref().map(|o| o.rss().1).unwrap_or(0.0);
    if let Some(mut op) = world.operator.take() {
        op.stop();
    }
    let call_ratio = baseline.calls_per_interval / mcpsync.calls_per_interval.max(1.0);
    // lastSyncTime's unbudgeted cost: the baseline's status writes (it runs without the
    // refresh budget; in steady state it writes nothing but lastSyncTime either).
    let per_server_interval = baseline.status_writes_per_interval / plan.n.max(1) as f64;
    let secret_cache = SecretCache {
        unreferenced_secrets: plan.big_secrets,
        unreferenced_bytes: plan.big_secrets * plan.big_secret_bytes,
        peak_rss_mib: steady_peak,
        secret_watch: "metadata only (PartialObjectMeta<Secret> watch, src/controller/mod.rs); values read by GET when a reconcile needs them".into(),
    };
    let run = Run {
        plan: Some(plan.clone()),
        setup,
        mcpsync,
        baseline,
        call_ratio,
        latency_change,
        latency_secret,
        mass_unlimited,
        mass_limited,
        mass_limited_same_burst,
        mcpsync_peak_rss_mib: mcpsync_peak,
        setup_and_steady_peak_rss_mib: steady_peak,
        changes_peak_rss_mib: changes_peak,
        baseline_peak_rss_mib: baseline_peak,
        secret_cache,
        last_sync_writes_per_s_at_10m: plan.n as f64 * per_server_interval / 600.0,
        total_s: started.elapsed().as_secs_f64(),
    };
    world.sim.clear_log();
    run
}

/// The terminal table of several runs.
pub fn table(runs: &[Run]) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let mut row = |label: &str, f: &dyn Fn(&Run) -> String| {
        let _ = write!(out, "{label:<52}");
        for r in runs {
            let _ = write!(out, " {:>16}", f(r));
        }
        out.push('\n');
    };
    row("N", &|r| {
        r.plan.as_ref().map(|p| p.n).unwrap_or(0).to_string()
    });
    row("sync interval (s)", &|r| {
        format!(
            "{:.0}",
            r.plan
                .as_ref()
                .map(|p| p.interval.as_secs_f64())
                .unwrap_or(0.0)
        )
    });
    row("setup: create N McpServers (s)", &|r| {
        format!("{:.1}", r.setup.create_servers_s)
    });
    row("setup: operator start to all Ready (s)", &|r| {
        format!("{:.1}", r.setup.operator_ready_s)
    });
    row("mcpsync: LIST pages / interval", &|r| {
        format!("{:.1}", r.mcpsync.list_pages_per_interval)
    });
    row("mcpsync: GET / PATCH in window", &|r| {
        format!("{} / {}", r.mcpsync.gets, r.mcpsync.patches)
    });
    row("mcpsync: remote calls / interval", &|r| {
        format!("{:.1}", r.mcpsync.calls_per_interval)
    });
    row("baseline: remote calls / interval", &|r| {
        format!("{:.1}", r.baseline.calls_per_interval)
    });
    row("calls ratio baseline / mcpsync", &|r| {
        format!("{:.0}x", r.call_ratio)
    });
    row("mcpsync: status writes / interval", &|r| {
        format!("{:.0}", r.mcpsync.status_writes_per_interval)
    });
    row("mcpsync: other k8s writes in window", &|r| {
        r.mcpsync
            .other_kube_writes
            .values()
            .sum::<usize>()
            .to_string()
    });
    row("mcpsync: statuses changed beyond lastSyncTime", &|r| {
        r.mcpsync.statuses_changed_beyond_last_sync.to_string()
    });
    row("baseline: status writes / interval", &|r| {
        format!("{:.0}", r.baseline.status_writes_per_interval)
    });
    row("lastSyncTime writes/s at the default 10m", &|r| {
        format!("{:.1}", r.last_sync_writes_per_s_at_10m)
    });
    row("changes run at sync interval (s)", &|r| {
        format!(
            "{:.0}",
            r.plan
                .as_ref()
                .map(|p| p.change_interval.as_secs_f64())
                .unwrap_or(0.0)
        )
    });
    row("mass change, no limit: PATCH/s", &|r| {
        format!("{:.0}", r.mass_unlimited.patches_per_s)
    });
    row("mass change, limit R: R (req/s)", &|r| {
        r.mass_limited.rate_limit.unwrap_or(0).to_string()
    });
    row("mass change, limit R: time / (N/R)", &|r| {
        format!("{:.2}", r.mass_limited.ratio_to_bound.unwrap_or(0.0))
    });
    row("  same, client burst = simulator's: time / (N/R)", &|r| {
        r.mass_limited_same_burst
            .as_ref()
            .and_then(|m| m.ratio_to_bound)
            .map(|x| format!("{x:.2}"))
            .unwrap_or("-".into())
    });
    row("latency change->PATCH p50/p99 (ms)", &|r| {
        format!(
            "{:.0} / {:.0}",
            r.latency_change.p50_ms, r.latency_change.p99_ms
        )
    });
    row("latency Secret->PATCH p50/p99 (ms)", &|r| {
        format!(
            "{:.0} / {:.0}",
            r.latency_secret.p50_ms, r.latency_secret.p99_ms
        )
    });
    row("peak RSS mcpsync / baseline (MiB)", &|r| {
        format!(
            "{:.0} / {:.0}",
            r.mcpsync_peak_rss_mib, r.baseline_peak_rss_mib
        )
    });
    row("unreferenced Secret bytes in namespace (MiB)", &|r| {
        format!("{:.0}", mib(r.secret_cache.unreferenced_bytes))
    });
    row("run time (s)", &|r| format!("{:.0}", r.total_s));
    out
}
