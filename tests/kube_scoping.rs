//! What one `mcpsync run` is responsible for, on a real API server (tests/support/kube.rs):
//! the namespaces it is given (`--namespace`, several), the McpServers its label selector
//! picks (`--selector`, several operators sharding one namespace), and its refusal to
//! start when a CRD is missing. The tests of this file run one at a time: one of them
//! removes a CRD for a moment.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use kube::Api;
use mcpsync::api::McpServer;
use mcpsync::sim::{self, Provider, SimConfig, SimHandle};

mod support;
use support::kube::{TestNamespace, env};
use support::operator::Operator;

static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A PAIS registry `pais` on `sim`, and the McpServers `names` (with `labels`), in `ns`.
fn apply_servers(ns: &str, sim: &SimHandle, servers: &[(&str, &str)]) {
    let mut yaml = format!(
        "apiVersion: v1
kind: Secret
metadata: {{name: pais-token, namespace: {ns}}}
stringData: {{token: pais-token}}
---
apiVersion: mcpsync.dev/v1alpha1
kind: McpRegistry
metadata: {{name: pais, namespace: {ns}}}
spec:
  provider:
    pais:
      tokenSecretRef: {{name: pais-token, key: token}}
  baseUrl: {}
  allowInsecureHttp: true
",
        sim.base_url("pais")
    );
    for (name, labels) in servers {
        yaml.push_str(&format!(
            "---
apiVersion: mcpsync.dev/v1alpha1
kind: McpServer
metadata: {{name: {name}, namespace: {ns}, labels: {{{labels}}}}}
spec:
  registryRef: {{name: pais}}
  displayName: {name}
  url: https://{name}.example.com/mcp
  transport: StreamableHttp
"
        ));
    }
    let out = env().kubectl_output(&["apply", "-f", "-"], Some(&yaml));
    assert!(
        out.status.success(),
        "kubectl apply: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Whether the McpServer `ns/name` has a `Ready=True` condition.
async fn is_ready(ns: &str, name: &str) -> bool {
    let api: Api<McpServer> = Api::namespaced(env().admin().await, ns);
    let Ok(Some(server)) = api.get_opt(name).await else {
        return false;
    };
    server.status.is_some_and(|s| {
        s.conditions
            .iter()
            .any(|c| c.type_ == "Ready" && c.status == "True")
    })
}

/// Whether the McpServer `ns/name` has any status at all (an operator touched it).
async fn has_status(ns: &str, name: &str) -> bool {
    let api: Api<McpServer> = Api::namespaced(env().admin().await, ns);
    matches!(api.get_opt(name).await, Ok(Some(s)) if s.status.is_some())
}

async fn wait_ready(servers: &[(&str, &str)]) {
    let deadline = Instant::now() + Duration::from_secs(30);
    for (ns, name) in servers {
        while !is_ready(ns, name).await {
            assert!(Instant::now() < deadline, "{ns}/{name} not Ready in 30 s");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// The names of the records the simulator's PAIS registry holds.
fn record_names(sim: &SimHandle) -> BTreeSet<String> {
    sim.stored_records(Provider::Pais)
        .iter()
        .filter_map(|r| r["name"].as_str().map(str::to_string))
        .collect()
}

fn names(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_operator_serves_exactly_the_namespaces_it_is_given() {
    let _serial = SERIAL.lock().await;
    env().install_crds();
    env().install_rbac();
    let sim = sim::start(SimConfig::default()).await.expect("simulator");
    let (a, b, other) = (
        TestNamespace::new("scope-a"),
        TestNamespace::new("scope-b"),
        TestNamespace::new("scope-other"),
    );
    apply_servers(&a.name, &sim, &[("in-a", "")]);
    apply_servers(&b.name, &sim, &[("in-b", "")]);
    apply_servers(&other.name, &sim, &[("in-other", "")]);
    // Both spellings the flag takes: repeated, and comma-separated.
    let both = format!("{},{}", a.name, b.name);
    let operator = Operator::start(&["--namespace", &both, "--sync-interval", "30s"]);
    wait_ready(&[(&a.name, "in-a"), (&b.name, "in-b")]).await;
    // Give the other namespace's server the time it would have needed, then look.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        !has_status(&other.name, "in-other").await,
        "a namespace not given was served"
    );
    assert_eq!(record_names(&sim), names(&["in-a", "in-b"]));
    assert_eq!(
        operator.reconciled_servers(),
        names(&[&format!("{}/in-a", a.name), &format!("{}/in-b", b.name)])
    );
    drop(operator);

    let repeated = Operator::start(&[
        "--namespace",
        &a.name,
        "--namespace",
        &other.name,
        "--sync-interval",
        "30s",
    ]);
    wait_ready(&[(&other.name, "in-other")]).await;
    assert_eq!(record_names(&sim), names(&["in-a", "in-b", "in-other"]));
    assert!(
        !repeated
            .reconciled_servers()
            .contains(&format!("{}/in-b", b.name)),
        "a namespace not given was reconciled"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_with_label_selectors_shard_one_namespace() {
    let _serial = SERIAL.lock().await;
    env().install_crds();
    env().install_rbac();
    let sim = sim::start(SimConfig::default()).await.expect("simulator");
    let ns = TestNamespace::new("shard");
    apply_servers(
        &ns.name,
        &sim,
        &[
            ("one", "shard: a"),
            ("two", "shard: b"),
            ("three", "shard: a"),
            ("unsharded", ""),
        ],
    );
    let common = ["--namespace", ns.name.as_str(), "--sync-interval", "30s"];
    let shard_a = Operator::start(&[&common[..], &["--selector", "shard=a"]].concat());
    let shard_b = Operator::start(&[&common[..], &["--selector", "shard=b"]].concat());
    wait_ready(&[(&ns.name, "one"), (&ns.name, "two"), (&ns.name, "three")]).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        !has_status(&ns.name, "unsharded").await,
        "a server no selector picks was served"
    );
    let key = |name: &str| format!("{}/{name}", ns.name);
    assert_eq!(
        shard_a.reconciled_servers(),
        names(&[&key("one"), &key("three")])
    );
    assert_eq!(shard_b.reconciled_servers(), names(&[&key("two")]));
    // One record per server: the shards never both created one.
    let creates = sim.requests().iter().filter(|r| r.method == "POST").count();
    assert_eq!(creates, 3);
    assert_eq!(record_names(&sim), names(&["one", "two", "three"]));
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_crd_stops_the_start_with_its_name() {
    let _serial = SERIAL.lock().await;
    env().install_crds();
    env().install_rbac();
    let crd = "clustermcpregistries.mcpsync.dev";
    env().kubectl(&["delete", "crd", crd, "--wait=true"]);
    let mut operator = Operator::start(&["--sync-interval", "30s"]);
    let exit = operator.wait_exit(Duration::from_secs(30));
    let logs = operator.logs();
    // Put the CRD back before asserting anything: the other tests need it.
    let crds = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("crds");
    env().kubectl(&[
        "apply",
        "--server-side",
        "--force-conflicts",
        "--field-manager=mcpsync-tests",
        "-f",
        &crds.to_string_lossy(),
    ]);
    env().kubectl(&[
        "wait",
        "--for=condition=Established",
        "--timeout=60s",
        &format!("crd/{crd}"),
    ]);
    let exit = exit.expect("mcpsync run ended by itself");
    assert!(!exit.success(), "{exit:?}");
    assert!(logs.contains("clustermcpregistries"), "{logs}");
}
