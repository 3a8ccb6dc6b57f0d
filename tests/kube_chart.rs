//! The Helm chart `charts/mcpsync`, judged by a real Helm (v4, built from Go modules by
//! `tests/helm/build.sh`) and, for the install, by the real API server of
//! `tests/support/kube.rs`.
//!
//! Without a cluster: `helm lint`, `helm template` with the defaults and several value
//! sets, `values.schema.json` refusing bad values, and the chart's copies of `crds/` and
//! `config/rbac.yaml` kept equal to the originals.
//!
//! On the API server, in one test (it owns the release and the operator's identity):
//! `helm install`, the Deployment's pod accepted by PodSecurity admission under the
//! `restricted` profile, `mcpsync run` reconciling a McpServer to Ready with nothing but
//! the chart's RBAC (cluster-wide, then per watched namespace after `helm upgrade`),
//! `kubectl auth can-i` showing that RBAC least, and `helm uninstall`.
//!
//! `config/rbac.yaml` binds the same identity (`tests/kube_controller.rs` applies it), which
//! would hide a rule missing from the chart: the install test deletes those objects first.
//! `cargo test` runs the test binaries one after another, so that cannot race with
//! `kube_controller`'s tests (which apply it again).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use kube::Api;
use kube::api::DeleteParams;
use mcpsync::api::McpServer;
use mcpsync::sim::{self, SimConfig, SimHandle};
use serde_json::{Value, json};

mod support;
use support::kube::{OPERATOR_USER, TestNamespace, env};

const RELEASE: &str = "mcpsync";
const RELEASE_NS: &str = "mcpsync-system";

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn chart_dir() -> PathBuf {
    repo_root().join("charts/mcpsync")
}

// ---------------------------------------------------------------------------------------
// Helm

/// The helm binary: built (or found in the cache) by `tests/helm/build.sh`, once.
fn helm_bin() -> &'static Path {
    static HELM: OnceLock<PathBuf> = OnceLock::new();
    HELM.get_or_init(|| {
        let out = Command::new("bash")
            .arg(repo_root().join("tests/helm/build.sh"))
            .stderr(Stdio::inherit())
            .output()
            .expect("run tests/helm/build.sh");
        assert!(
            out.status.success(),
            "tests/helm/build.sh failed ({}); it says why above",
            out.status
        );
        PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()).join("helm")
    })
}

/// Runs helm with its own (empty) configuration and cache folders, whatever its exit status.
fn helm(args: &[&str]) -> Output {
    let home = std::env::temp_dir().join(format!("mcpsync-helm-home-{}", std::process::id()));
    Command::new(helm_bin())
        .args(args)
        .env("HELM_CONFIG_HOME", home.join("config"))
        .env("HELM_CACHE_HOME", home.join("cache"))
        .env("HELM_DATA_HOME", home.join("data"))
        .stdin(Stdio::null())
        .output()
        .expect("run helm")
}

/// Runs helm and returns its stdout; panics with its stderr when it fails.
fn helm_ok(args: &[&str]) -> String {
    let out = helm(args);
    assert!(
        out.status.success(),
        "helm {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A values file for `helm --values`, removed when dropped.
fn values_file(yaml: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::Builder::new()
        .suffix(".yaml")
        .tempfile()
        .expect("values file");
    file.write_all(yaml.as_bytes()).expect("write values");
    file
}

/// `helm template mcpsync charts/mcpsync -n mcpsync-system` with these values.
fn template_output(values: &str) -> Output {
    let file = values_file(values);
    let chart = chart_dir();
    helm(&[
        "template",
        RELEASE,
        &chart.to_string_lossy(),
        "--namespace",
        RELEASE_NS,
        "--values",
        &file.path().to_string_lossy(),
    ])
}

/// The objects `helm template` renders with these values.
fn render(values: &str) -> Vec<Value> {
    let out = template_output(values);
    assert!(
        out.status.success(),
        "helm template with {values:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    parse_stream(&String::from_utf8_lossy(&out.stdout))
}

/// helm's error when rendering with these values fails (panics when it succeeds).
fn render_error(values: &str) -> String {
    let out = template_output(values);
    assert!(
        !out.status.success(),
        "helm template accepted {values:?}:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The documents of a YAML stream, empty ones left out.
fn parse_stream(text: &str) -> Vec<Value> {
    let docs: Vec<Value> = serde_saphyr::from_multiple(text)
        .unwrap_or_else(|e| panic!("the YAML stream does not parse: {e}\n{text}"));
    docs.into_iter().filter(|d| !d.is_null()).collect()
}

fn kind_of(obj: &Value) -> &str {
    obj["kind"].as_str().unwrap_or_default()
}

fn name_of(obj: &Value) -> &str {
    obj["metadata"]["name"].as_str().unwrap_or_default()
}

fn namespace_of(obj: &Value) -> &str {
    obj["metadata"]["namespace"].as_str().unwrap_or_default()
}

/// (kind, namespace, name) of every object, sorted.
fn inventory(objs: &[Value]) -> Vec<(String, String, String)> {
    let mut list: Vec<_> = objs
        .iter()
        .map(|o| {
            (
                kind_of(o).to_string(),
                namespace_of(o).to_string(),
                name_of(o).to_string(),
            )
        })
        .collect();
    list.sort();
    list
}

fn find<'a>(objs: &'a [Value], kind: &str, name: &str) -> &'a Value {
    objs.iter()
        .find(|o| kind_of(o) == kind && name_of(o) == name)
        .unwrap_or_else(|| panic!("no {kind} {name} among {:#?}", inventory(objs)))
}

fn all_of<'a>(objs: &'a [Value], kind: &str) -> Vec<&'a Value> {
    objs.iter().filter(|o| kind_of(o) == kind).collect()
}

fn container(objs: &[Value]) -> &Value {
    &find(objs, "Deployment", "mcpsync")["spec"]["template"]["spec"]["containers"][0]
}

fn args(objs: &[Value]) -> Vec<String> {
    container(objs)["args"]
        .as_array()
        .expect("container args")
        .iter()
        .map(|a| a.as_str().expect("a string argument").to_string())
        .collect()
}

fn strs(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// The chart's appVersion, the default image tag.
fn app_version() -> String {
    let chart: Value = serde_saphyr::from_str(
        &std::fs::read_to_string(chart_dir().join("Chart.yaml")).expect("Chart.yaml"),
    )
    .expect("Chart.yaml parses");
    chart["appVersion"]
        .as_str()
        .expect("appVersion")
        .to_string()
}

/// Every (apiGroup, resource, verb) a list of RBAC rules grants, sorted.
fn grants(rules: &[&Value]) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for rule in rules {
        let list = |key: &str| -> Vec<String> {
            rule[key]
                .as_array()
                .unwrap_or_else(|| panic!("rule without {key}: {rule}"))
                .iter()
                .map(|v| v.as_str().unwrap_or_default().to_string())
                .collect()
        };
        for group in list("apiGroups") {
            for resource in list("resources") {
                for verb in list("verbs") {
                    out.push((group.clone(), resource.clone(), verb));
                }
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

fn rules_of(obj: &Value) -> Vec<&Value> {
    obj["rules"].as_array().expect("rules").iter().collect()
}

/// config/rbac.yaml's objects.
fn config_rbac() -> Vec<Value> {
    parse_stream(
        &std::fs::read_to_string(repo_root().join("config/rbac.yaml")).expect("config/rbac.yaml"),
    )
}

fn operator_subject() -> Value {
    json!([{"kind": "ServiceAccount", "name": "mcpsync", "namespace": RELEASE_NS}])
}

// ---------------------------------------------------------------------------------------
// Without a cluster

#[test]
fn helm_lint_passes_with_every_value_set() {
    let chart = chart_dir();
    let chart = chart.to_string_lossy();
    for values in [
        "{}",
        "watchNamespaces: [team-a, team-b]",
        "replicas: 3",
        "metrics: {serviceMonitor: {enabled: true}}",
        "leaderElection: {enabled: false}",
    ] {
        let file = values_file(values);
        let out = helm_ok(&[
            "lint",
            "--strict",
            &chart,
            "--values",
            &file.path().to_string_lossy(),
        ]);
        assert!(out.contains("0 chart(s) failed"), "{values}: {out}");
    }
}

#[test]
fn defaults_render_a_cluster_wide_operator_under_the_restricted_profile() {
    let objs = render("{}");
    let policy = "mcpregistry-secret-namespace.mcpsync.dev";
    let expected: Vec<(String, String, String)> = [
        ("ClusterRole", "", "mcpsync"),
        ("ClusterRoleBinding", "", "mcpsync"),
        ("Deployment", RELEASE_NS, "mcpsync"),
        ("Role", RELEASE_NS, "mcpsync-leader-election"),
        ("RoleBinding", RELEASE_NS, "mcpsync-leader-election"),
        ("Service", RELEASE_NS, "mcpsync-metrics"),
        ("ServiceAccount", RELEASE_NS, "mcpsync"),
        ("ValidatingAdmissionPolicy", "", policy),
        ("ValidatingAdmissionPolicyBinding", "", policy),
    ]
    .iter()
    .map(|(k, ns, n)| (k.to_string(), ns.to_string(), n.to_string()))
    .collect();
    assert_eq!(
        inventory(&objs),
        expected,
        "no PodDisruptionBudget with one replica, no ServiceMonitor unless asked"
    );

    let deployment = find(&objs, "Deployment", "mcpsync");
    assert_eq!(deployment["spec"]["replicas"], json!(1));
    let pod = &deployment["spec"]["template"]["spec"];
    assert_eq!(pod["serviceAccountName"], json!("mcpsync"));
    // The restricted Pod Security profile.
    assert_eq!(pod["securityContext"]["runAsNonRoot"], json!(true));
    let uid = pod["securityContext"]["runAsUser"]
        .as_i64()
        .expect("runAsUser");
    assert!(uid > 0, "a non-root user: {uid}");
    assert_eq!(
        pod["securityContext"]["seccompProfile"]["type"],
        json!("RuntimeDefault")
    );
    let c = container(&objs);
    assert_eq!(
        c["image"],
        json!(format!("ghcr.io/mcpsync/mcpsync:{}", app_version()))
    );
    assert_eq!(c["imagePullPolicy"], json!("IfNotPresent"));
    let sc = &c["securityContext"];
    assert_eq!(sc["allowPrivilegeEscalation"], json!(false));
    assert_eq!(sc["readOnlyRootFilesystem"], json!(true));
    assert_eq!(sc["capabilities"]["drop"], json!(["ALL"]));

    assert_eq!(
        args(&objs),
        strs(&[
            "run",
            "--metrics-addr=0.0.0.0:8080",
            "--probe-addr=0.0.0.0:8081",
            "--leader-elect",
            "--leader-election-id=mcpsync",
            "--log-level=info",
            "--log-format=json",
            "--concurrency=4",
            "--sync-interval=10m",
            "--status-refresh-qps=10",
        ]),
        "all namespaces: no --namespace"
    );
    // The downward API gives the pod's name (events, Lease holder) and namespace (Lease).
    assert_eq!(
        c["env"],
        json!([
            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
        ])
    );
    // Probes on the probe port; metrics on its own.
    let port = |name: &str| {
        c["ports"]
            .as_array()
            .expect("ports")
            .iter()
            .find(|p| p["name"] == json!(name))
            .map(|p| p["containerPort"].clone())
    };
    assert_eq!(port("metrics"), Some(json!(8080)));
    assert_eq!(port("probes"), Some(json!(8081)));
    assert_eq!(
        c["livenessProbe"]["httpGet"],
        json!({"path": "/healthz", "port": "probes"})
    );
    assert_eq!(
        c["readinessProbe"]["httpGet"],
        json!({"path": "/readyz", "port": "probes"})
    );
    assert!(c["resources"]["requests"]["memory"].is_string(), "{c}");
    assert!(c["resources"]["limits"]["memory"].is_string(), "{c}");

    // The metrics Service selects the pods, on their metrics port.
    let service = find(&objs, "Service", "mcpsync-metrics");
    let pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
        .as_object()
        .expect("pod labels");
    for (key, value) in service["spec"]["selector"].as_object().expect("selector") {
        assert_eq!(pod_labels.get(key), Some(value), "selector {key}");
    }
    assert_eq!(
        deployment["spec"]["selector"]["matchLabels"],
        service["spec"]["selector"]
    );
    assert_eq!(
        service["spec"]["ports"],
        json!([{"name": "metrics", "port": 8080, "targetPort": "metrics", "protocol": "TCP"}])
    );

    // Every binding names the operator's ServiceAccount; the Lease only in the release namespace.
    for kind in ["ClusterRoleBinding", "RoleBinding"] {
        for binding in all_of(&objs, kind) {
            assert_eq!(binding["subjects"], operator_subject(), "{binding}");
        }
    }
    let lease = find(&objs, "Role", "mcpsync-leader-election");
    assert_eq!(
        grants(&rules_of(lease)),
        // list and watch: a standby watches the Lease to take it over at once.
        ["create", "get", "list", "patch", "update", "watch"]
            .iter()
            .map(|v| ("coordination.k8s.io".into(), "leases".into(), v.to_string()))
            .collect::<Vec<_>>()
    );
}

#[test]
fn the_chart_rbac_equals_config_rbac() {
    let shipped = config_rbac();
    let objs = render("{}");
    let ours = find(&objs, "ClusterRole", "mcpsync");
    let theirs = find(&shipped, "ClusterRole", "mcpsync");
    assert_eq!(
        ours["rules"], theirs["rules"],
        "charts/mcpsync/templates/_helpers.tpl (mcpsync.rules.all) and config/rbac.yaml differ"
    );
    assert_eq!(
        find(&objs, "ClusterRoleBinding", "mcpsync")["subjects"],
        find(&shipped, "ClusterRoleBinding", "mcpsync")["subjects"]
    );

    // Per watched namespace: the Roles and the cluster-scoped rest grant the same, together.
    let objs = render("watchNamespaces: [team-a]");
    let role = objs
        .iter()
        .find(|o| kind_of(o) == "Role" && namespace_of(o) == "team-a")
        .expect("a Role in team-a");
    let cluster = find(&objs, "ClusterRole", "mcpsync");
    let mut union = rules_of(role);
    union.extend(rules_of(cluster));
    assert_eq!(grants(&union), grants(&rules_of(theirs)));
}

#[test]
fn watch_namespaces_render_a_role_in_each_and_cluster_rights_only_for_cluster_registries() {
    let objs = render("watchNamespaces: [team-a, team-b]");
    assert!(args(&objs).contains(&"--namespace=team-a,team-b".to_string()));

    let namespaced = grants(&rules_of(find(&config_rbac(), "ClusterRole", "mcpsync")))
        .into_iter()
        .filter(|(_, resource, _)| !resource.starts_with("clustermcpregistries"))
        .collect::<Vec<_>>();
    for ns in ["team-a", "team-b"] {
        let role = all_of(&objs, "Role")
            .into_iter()
            .find(|r| namespace_of(r) == ns)
            .unwrap_or_else(|| panic!("no Role in {ns}"));
        assert_eq!(grants(&rules_of(role)), namespaced, "Role in {ns}");
        let binding = all_of(&objs, "RoleBinding")
            .into_iter()
            .find(|r| namespace_of(r) == ns)
            .unwrap_or_else(|| panic!("no RoleBinding in {ns}"));
        assert_eq!(binding["roleRef"]["name"], role["metadata"]["name"]);
        assert_eq!(binding["subjects"], operator_subject());
    }
    // Cluster-wide: the cluster-scoped kind and its status, nothing else.
    let cluster = all_of(&objs, "ClusterRole");
    assert_eq!(cluster.len(), 1);
    let mcpsync = "mcpsync.dev".to_string();
    assert_eq!(
        grants(&rules_of(cluster[0])),
        vec![
            (mcpsync.clone(), "clustermcpregistries".into(), "get".into()),
            (
                mcpsync.clone(),
                "clustermcpregistries".into(),
                "list".into()
            ),
            (
                mcpsync.clone(),
                "clustermcpregistries".into(),
                "watch".into()
            ),
            (
                mcpsync.clone(),
                "clustermcpregistries/status".into(),
                "get".into()
            ),
            (
                mcpsync,
                "clustermcpregistries/status".into(),
                "patch".into()
            ),
        ]
    );
    // Roles only in the watched namespaces and the release's (the Lease).
    let mut role_namespaces: Vec<&str> = all_of(&objs, "Role")
        .into_iter()
        .map(namespace_of)
        .collect();
    role_namespaces.sort();
    assert_eq!(role_namespaces, vec![RELEASE_NS, "team-a", "team-b"]);
}

#[test]
fn replicas_two_get_a_disruption_budget_and_need_leader_election() {
    let objs = render("replicas: 2");
    assert_eq!(
        find(&objs, "Deployment", "mcpsync")["spec"]["replicas"],
        json!(2)
    );
    let pdb = find(&objs, "PodDisruptionBudget", "mcpsync");
    assert_eq!(pdb["spec"]["minAvailable"], json!(1));
    assert_eq!(
        pdb["spec"]["selector"]["matchLabels"],
        find(&objs, "Deployment", "mcpsync")["spec"]["selector"]["matchLabels"]
    );
    assert!(args(&objs).contains(&"--leader-elect".to_string()));

    // Forced either way.
    let objs = render("replicas: 2\npodDisruptionBudget: {enabled: false}");
    assert!(all_of(&objs, "PodDisruptionBudget").is_empty());
    let objs = render("podDisruptionBudget: {enabled: true, minAvailable: 0}");
    assert_eq!(
        find(&objs, "PodDisruptionBudget", "mcpsync")["spec"]["minAvailable"],
        json!(0)
    );

    // Two instances without a Lease would write the same records.
    let err = render_error("replicas: 2\nleaderElection: {enabled: false}");
    assert!(err.contains("needs leaderElection.enabled"), "{err}");
}

#[test]
fn service_monitor_selects_the_metrics_service() {
    let objs = render(
        "metrics:\n  serviceMonitor: {enabled: true, interval: 15s, labels: {release: prometheus}}",
    );
    let monitor = find(&objs, "ServiceMonitor", "mcpsync");
    assert_eq!(monitor["apiVersion"], json!("monitoring.coreos.com/v1"));
    assert_eq!(monitor["metadata"]["namespace"], json!(RELEASE_NS));
    assert_eq!(
        monitor["metadata"]["labels"]["release"],
        json!("prometheus")
    );
    let service = find(&objs, "Service", "mcpsync-metrics");
    let service_labels = service["metadata"]["labels"].as_object().expect("labels");
    for (key, value) in monitor["spec"]["selector"]["matchLabels"]
        .as_object()
        .expect("matchLabels")
    {
        assert_eq!(service_labels.get(key), Some(value), "label {key}");
    }
    assert_eq!(
        monitor["spec"]["endpoints"][0]["port"],
        service["spec"]["ports"][0]["name"]
    );
    assert_eq!(monitor["spec"]["endpoints"][0]["path"], json!("/metrics"));
    assert_eq!(monitor["spec"]["endpoints"][0]["interval"], json!("15s"));

    let err = render_error("metrics: {service: {enabled: false}, serviceMonitor: {enabled: true}}");
    assert!(err.contains("needs metrics.service.enabled"), "{err}");
}

#[test]
fn leader_election_off_drops_the_flag_and_the_lease_role() {
    let objs = render("leaderElection: {enabled: false}");
    let flags = args(&objs);
    assert!(
        !flags.iter().any(|a| a.starts_with("--leader-elect")),
        "{flags:?}"
    );
    assert!(
        all_of(&objs, "Role").is_empty() && all_of(&objs, "RoleBinding").is_empty(),
        "{:#?}",
        inventory(&objs)
    );
    assert_eq!(
        find(&objs, "Deployment", "mcpsync")["spec"]["strategy"]["type"],
        json!("Recreate"),
        "never two instances at once, not even in a rollout"
    );
    // Named Lease when on.
    let objs = render("leaderElection: {enabled: true, id: shard-a}");
    let flags = args(&objs);
    assert!(
        flags.contains(&"--leader-election-id=shard-a".to_string()),
        "{flags:?}"
    );
}

#[test]
fn values_reach_the_pod() {
    let objs = render(
        r#"
image: {repository: registry.example.com/mcpsync, tag: "1.2.3", pullPolicy: Always}
extraEnv:
  - {name: HTTPS_PROXY, value: "http://proxy.example.com:3128"}
  - name: FROM_SECRET
    valueFrom: {secretKeyRef: {name: s, key: k}}
selector: shard=a
concurrency: 8
syncInterval: 1h30m
logLevel: info,mcpsync=debug
logFormat: text
metrics: {port: 9090, service: {port: 9443}}
probes: {port: 9091}
nodeSelector: {kubernetes.io/os: linux}
tolerations: [{key: dedicated, operator: Equal, value: ops, effect: NoSchedule}]
affinity: {nodeAffinity: {requiredDuringSchedulingIgnoredDuringExecution: {nodeSelectorTerms: [{matchExpressions: [{key: zone, operator: In, values: [a]}]}]}}}
priorityClassName: system-cluster-critical
podAnnotations: {example.com/team: platform}
podLabels: {example.com/tier: ops}
"#,
    );
    let args = args(&objs);
    for expected in [
        "--selector=shard=a",
        "--concurrency=8",
        "--sync-interval=1h30m",
        "--log-level=info,mcpsync=debug",
        "--log-format=text",
        "--metrics-addr=0.0.0.0:9090",
        "--probe-addr=0.0.0.0:9091",
    ] {
        assert!(args.contains(&expected.to_string()), "{expected}: {args:?}");
    }
    let c = container(&objs);
    assert_eq!(c["image"], json!("registry.example.com/mcpsync:1.2.3"));
    assert_eq!(c["imagePullPolicy"], json!("Always"));
    let env = c["env"].as_array().expect("env");
    let names: Vec<&str> = env.iter().filter_map(|e| e["name"].as_str()).collect();
    assert_eq!(
        names,
        vec!["POD_NAME", "POD_NAMESPACE", "HTTPS_PROXY", "FROM_SECRET"]
    );
    assert_eq!(
        env[3]["valueFrom"],
        json!({"secretKeyRef": {"name": "s", "key": "k"}})
    );
    let pod = &find(&objs, "Deployment", "mcpsync")["spec"]["template"];
    assert_eq!(
        pod["spec"]["nodeSelector"],
        json!({"kubernetes.io/os": "linux"})
    );
    assert_eq!(pod["spec"]["tolerations"][0]["key"], json!("dedicated"));
    assert!(pod["spec"]["affinity"]["nodeAffinity"].is_object());
    assert_eq!(
        pod["spec"]["priorityClassName"],
        json!("system-cluster-critical")
    );
    assert_eq!(
        pod["metadata"]["annotations"]["example.com/team"],
        json!("platform")
    );
    assert_eq!(pod["metadata"]["labels"]["example.com/tier"], json!("ops"));
    assert_eq!(
        c["livenessProbe"]["httpGet"]["port"],
        json!("probes"),
        "named port, wherever it is"
    );
    let service = find(&objs, "Service", "mcpsync-metrics");
    assert_eq!(service["spec"]["ports"][0]["port"], json!(9443));
    assert_eq!(service["spec"]["ports"][0]["targetPort"], json!("metrics"));

    // A digest wins over the tag.
    let digest = format!("sha256:{}", "ab".repeat(32));
    let objs = render(&format!("image: {{digest: \"{digest}\"}}"));
    assert_eq!(
        container(&objs)["image"],
        json!(format!("ghcr.io/mcpsync/mcpsync@{digest}"))
    );
    // Another release name: prefixed names, the same everywhere.
    let objs = render("fullnameOverride: shard-b");
    assert_eq!(
        find(&objs, "ClusterRoleBinding", "shard-b")["subjects"][0]["name"],
        json!("shard-b")
    );
    assert_eq!(
        find(&objs, "Deployment", "shard-b")["spec"]["template"]["spec"]["serviceAccountName"],
        json!("shard-b")
    );
}

#[test]
fn the_values_schema_refuses_bad_values() {
    for (values, path) in [
        ("replicas: -1", "/replicas"),
        ("replicas: one", "/replicas"),
        ("logFormat: xml", "/logFormat"),
        ("logLevel: loud", "/logLevel"),
        ("concurrency: 0", "/concurrency"),
        ("syncInterval: 10 minutes", "/syncInterval"),
        ("syncInterval: 10", "/syncInterval"),
        ("watchNamespaces: [Team_A]", "/watchNamespaces/0"),
        ("watchNamespaces: [a, a]", "/watchNamespaces"),
        ("image: {pullPolicy: Sometimes}", "/image/pullPolicy"),
        ("metrics: {port: 70000}", "/metrics/port"),
        (
            "leaderElection: {enabled: maybe}",
            "/leaderElection/enabled",
        ),
        ("extraEnv: [{value: x}]", "/extraEnv/0"),
        ("replicsa: 2", "replicsa"),
        ("metrics: {serviceMonitor: {enable: true}}", "enable"),
    ] {
        let err = render_error(values);
        assert!(
            err.contains("values don't meet the specifications of the schema"),
            "{values}: {err}"
        );
        assert!(
            err.contains(path),
            "{values}: the error names {path}: {err}"
        );
    }
}

#[test]
fn the_chart_crds_equal_the_top_level_crds() {
    // crds/ of the chart holds the CRDs (helm lint refuses anything else there) and
    // files/admission-policy.yaml the rest, in order: together, the top-level file.
    let top = std::fs::read_to_string(repo_root().join("crds/mcpsync.dev_crds.yaml"))
        .expect("crds/mcpsync.dev_crds.yaml");
    let chart_crds = std::fs::read_to_string(chart_dir().join("crds/mcpsync.dev_crds.yaml"))
        .expect("charts/mcpsync/crds/mcpsync.dev_crds.yaml");
    let chart_rest = std::fs::read_to_string(chart_dir().join("files/admission-policy.yaml"))
        .expect("charts/mcpsync/files/admission-policy.yaml");
    assert!(
        format!("{chart_crds}{chart_rest}") == top,
        "the chart's copy of crds/ is stale: run `make crds`"
    );
    let entries: Vec<String> = std::fs::read_dir(chart_dir().join("crds"))
        .expect("chart crds/")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(entries, vec!["mcpsync.dev_crds.yaml"]);
    let crds = parse_stream(&chart_crds);
    assert_eq!(crds.len(), 3);
    assert!(
        crds.iter()
            .all(|d| kind_of(d) == "CustomResourceDefinition")
    );

    // What the chart installs from files/: the same objects, with the chart's labels.
    let expected: Vec<Value> = parse_stream(&top)
        .into_iter()
        .filter(|d| kind_of(d) != "CustomResourceDefinition")
        .collect();
    assert_eq!(expected.len(), 2, "the policy and its binding");
    let rendered: Vec<Value> = render("{}")
        .into_iter()
        .filter(|o| kind_of(o).starts_with("ValidatingAdmissionPolicy"))
        .map(|mut o| {
            let labels = o["metadata"]
                .as_object_mut()
                .and_then(|m| m.remove("labels"));
            assert_eq!(
                labels
                    .as_ref()
                    .map(|l| l["app.kubernetes.io/managed-by"].clone()),
                Some(json!("Helm"))
            );
            o
        })
        .collect();
    assert_eq!(rendered, expected);
    let objs = render("admissionPolicy: {enabled: false}");
    assert!(
        objs.iter()
            .all(|o| !kind_of(o).starts_with("ValidatingAdmissionPolicy"))
    );
}

// ---------------------------------------------------------------------------------------
// On the API server

/// `mcpsync run` as the operator's identity, watching one namespace; killed when dropped.
struct Operator {
    child: Child,
    log: PathBuf,
}

impl Operator {
    fn start(namespace: &str) -> Operator {
        let log = std::env::temp_dir().join(format!(
            "mcpsync-chart-operator-{namespace}-{}.log",
            uuid::Uuid::new_v4().simple()
        ));
        let file = std::fs::File::create(&log).expect("operator log");
        let child = Command::new(env!("CARGO_BIN_EXE_mcpsync"))
            .args(["run", "--namespace", namespace, "--sync-interval", "30s"])
            .arg("--kubeconfig")
            .arg(env().operator_kubeconfig_file())
            .env("RUST_LOG", "mcpsync=debug,kube=warn")
            .stdout(Stdio::from(file.try_clone().expect("log handle")))
            .stderr(Stdio::from(file))
            .spawn()
            .expect("mcpsync run starts");
        Operator { child, log }
    }

    fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!(
                "--- operator log ({}) ---\n{}",
                self.log.display(),
                self.logs()
            );
        }
    }
}

/// The installed release: uninstalled (and the namespace's Pod Security labels removed)
/// when dropped, also when the test fails.
struct Release {
    installed: bool,
}

impl Release {
    fn helm(&self, args: &[&str]) -> Output {
        let kubeconfig = env().admin_kubeconfig().to_string_lossy().into_owned();
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--namespace", RELEASE_NS, "--kubeconfig", &kubeconfig]);
        helm(&all)
    }

    fn uninstall(&mut self) -> Output {
        self.installed = false;
        self.helm(&["uninstall", RELEASE, "--wait", "--timeout", "60s"])
    }
}

impl Drop for Release {
    fn drop(&mut self) {
        if self.installed {
            let _ = self.uninstall();
        }
        let _ = env().kubectl_output(
            &[
                "label",
                "namespace",
                RELEASE_NS,
                "pod-security.kubernetes.io/enforce-",
                "pod-security.kubernetes.io/warn-",
            ],
            None,
        );
    }
}

/// `kubectl auth can-i` as the operator's ServiceAccount.
/// `resource` may name a subresource (`mcpservers.mcpsync.dev/status`).
fn can_i(verb: &str, resource: &str, namespace: Option<&str>) -> bool {
    let (resource, subresource) = match resource.split_once('/') {
        Some((resource, sub)) => (resource, Some(sub)),
        None => (resource, None),
    };
    let mut args = vec!["auth", "can-i", verb, resource, "--as", OPERATOR_USER];
    if let Some(sub) = subresource {
        args.extend(["--subresource", sub]);
    }
    match namespace {
        Some(ns) => args.extend(["--namespace", ns]),
        None => args.push("--all-namespaces"),
    }
    let out = env().kubectl_output(&args, None);
    let answer = String::from_utf8_lossy(&out.stdout).trim().to_string();
    match answer.as_str() {
        "yes" => true,
        "no" => false,
        _ => panic!(
            "kubectl {}: {answer} {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

fn assert_grants(cases: &[(&str, &str, Option<&str>, bool)]) {
    let wrong: Vec<String> = cases
        .iter()
        .filter(|(verb, resource, ns, allowed)| can_i(verb, resource, *ns) != *allowed)
        .map(|(verb, resource, ns, allowed)| {
            format!(
                "{} {verb} {resource} in {}",
                if *allowed { "cannot" } else { "can" },
                ns.unwrap_or("all namespaces")
            )
        })
        .collect();
    assert!(
        wrong.is_empty(),
        "the chart's RBAC for {OPERATOR_USER}: {wrong:#?}"
    );
}

/// A PAIS registry on the simulator, a header Secret and a McpServer `docs` in `ns`.
fn apply_server(ns: &str, sim: &SimHandle) {
    let yaml = format!(
        "apiVersion: v1
kind: Secret
metadata: {{name: pais-token, namespace: {ns}}}
stringData: {{token: pais-token}}
---
apiVersion: v1
kind: Secret
metadata: {{name: docs-token, namespace: {ns}}}
stringData: {{header: 'Bearer t'}}
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
---
apiVersion: mcpsync.dev/v1alpha1
kind: McpServer
metadata: {{name: docs, namespace: {ns}}}
spec:
  registryRef: {{name: pais}}
  displayName: Docs Search {ns}
  url: https://docs.example.com/mcp
  transport: StreamableHttp
  deletionPolicy: Delete
  headers:
    - name: Authorization
      valueFrom: {{secretKeyRef: {{name: docs-token, key: header}}}}
",
        sim.base_url("pais")
    );
    let out = env().kubectl_output(&["apply", "-f", "-"], Some(&yaml));
    assert!(
        out.status.success(),
        "kubectl apply: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Waits (30 s at most) until `docs` in `ns` is Ready, then deletes it and waits until the
/// operator released it (the remote record deleted, the finalizer removed).
async fn reconcile_to_ready_and_delete(ns: &str, operator: &Operator) {
    let servers: Api<McpServer> = Api::namespaced(env().admin().await, ns);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let status = servers
            .get_opt("docs")
            .await
            .ok()
            .flatten()
            .and_then(|s| s.status)
            .unwrap_or_default();
        let ready = status
            .conditions
            .iter()
            .any(|c| c.type_ == "Ready" && c.status == "True");
        if ready {
            assert!(status.external_id.is_some(), "{status:#?}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{ns}/docs is not Ready with the chart's RBAC; status: {status:#?}\noperator log:\n{}",
            operator.logs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let events = env().kubectl(&["get", "events.events.k8s.io", "-n", ns, "-o", "json"]);
    assert!(
        events.contains("Created"),
        "the operator wrote its events: {events}"
    );
    servers
        .delete("docs", &DeleteParams::default())
        .await
        .expect("delete docs");
    let deadline = Instant::now() + Duration::from_secs(30);
    while servers.get_opt("docs").await.expect("get docs").is_some() {
        assert!(
            Instant::now() < deadline,
            "{ns}/docs is never released; operator log:\n{}",
            operator.logs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let logs = operator.logs();
    assert!(
        !logs.to_lowercase().contains("forbidden"),
        "the operator was refused something:\n{logs}"
    );
}

/// Everything that needs the installed release, in one test: the release and the
/// operator's identity are shared by the whole API server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helm_install_runs_the_operator_with_the_chart_rbac_alone_and_least() {
    let env = env();
    let admin = env.admin_kubeconfig().to_string_lossy().into_owned();
    // The same identity is bound by config/rbac.yaml (kube_controller applies it) and the
    // admission policy may exist from `crds/` (install_crds): neither may hide or block the chart.
    let rbac = repo_root().join("config/rbac.yaml");
    env.kubectl(&[
        "delete",
        "-f",
        &rbac.to_string_lossy(),
        "--ignore-not-found",
    ]);
    let _ = helm(&[
        "uninstall",
        RELEASE,
        "--namespace",
        RELEASE_NS,
        "--kubeconfig",
        &admin,
        "--ignore-not-found",
        "--wait",
    ]);
    env.kubectl(&[
        "delete",
        "validatingadmissionpolicybinding,validatingadmissionpolicy",
        "mcpregistry-secret-namespace.mcpsync.dev",
        "--ignore-not-found",
    ]);
    assert!(
        !can_i("list", "mcpservers.mcpsync.dev", None),
        "{OPERATOR_USER} still holds rights from elsewhere"
    );

    // The release namespace, enforcing the restricted Pod Security profile.
    let exists = env
        .kubectl_output(&["get", "namespace", RELEASE_NS], None)
        .status
        .success();
    if !exists {
        env.kubectl(&["create", "namespace", RELEASE_NS]);
    }
    let mut release = Release { installed: false };
    env.kubectl(&[
        "label",
        "--overwrite",
        "namespace",
        RELEASE_NS,
        "pod-security.kubernetes.io/enforce=restricted",
        "pod-security.kubernetes.io/warn=restricted",
    ]);

    let chart = chart_dir().to_string_lossy().into_owned();
    release.installed = true;
    let out = release.helm(&["install", RELEASE, &chart]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "helm install: {stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("STATUS: deployed"), "{stdout}");
    assert!(
        stdout.contains("kubectl -n mcpsync-system rollout status deployment/mcpsync"),
        "NOTES.txt: {stdout}"
    );
    assert!(
        !stderr.contains("PodSecurity"),
        "a PodSecurity warning: {stderr}"
    );
    assert!(
        helm_ok(&["list", "-n", RELEASE_NS, "--kubeconfig", &admin]).contains(RELEASE),
        "helm lists the release"
    );

    // The CRDs (from the chart's crds/, unless already there) and the chart's admission policy.
    let mut wait = vec!["wait", "--for=condition=Established", "--timeout=60s"];
    let crds = support::kube::CRD_NAMES.map(|n| format!("crd/{n}"));
    wait.extend(crds.iter().map(String::as_str));
    env.kubectl(&wait);
    let probe = "apiVersion: mcpsync.dev/v1alpha1\nkind: McpRegistry\nmetadata: {name: policy-probe, namespace: default}\nspec:\n  provider:\n    pais:\n      tokenSecretRef: {name: t, key: k, namespace: kube-system}\n  baseUrl: https://pais.example.com\n";
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = env.kubectl_output(&["create", "--dry-run=server", "-f", "-"], Some(probe));
        let stderr = String::from_utf8_lossy(&out.stderr);
        if !out.status.success() && stderr.contains("ValidatingAdmissionPolicy") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the chart's admission policy is not in force after 60 s: {stderr}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let owner = env.kubectl(&[
        "get",
        "clusterrole",
        "mcpsync",
        "-o",
        "jsonpath={.metadata.annotations.meta\\.helm\\.sh/release-name}",
    ]);
    assert_eq!(owner, RELEASE, "the ClusterRole is the release's");

    // The Deployment's pod, as the ReplicaSet controller would create it (there is none
    // here), is admitted under `restricted`; the same pod without the container's
    // security context is not (the admission is really in force).
    let deployment: Value = serde_json::from_str(&env.kubectl(&[
        "get",
        "deployment",
        "mcpsync",
        "-n",
        RELEASE_NS,
        "-o",
        "json",
    ]))
    .expect("deployment JSON");
    let template = &deployment["spec"]["template"];
    let mut pod = json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "mcpsync-pss-probe", "namespace": RELEASE_NS, "labels": template["metadata"]["labels"]},
        "spec": template["spec"],
    });
    let out = env.kubectl_output(
        &["create", "--dry-run=server", "-f", "-"],
        Some(&pod.to_string()),
    );
    assert!(
        out.status.success(),
        "the chart's pod is refused under restricted: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    pod["spec"]["containers"][0]
        .as_object_mut()
        .expect("container")
        .remove("securityContext");
    let out = env.kubectl_output(
        &["create", "--dry-run=server", "-f", "-"],
        Some(&pod.to_string()),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("violates PodSecurity \"restricted"),
        "a pod without the security context must be refused: {stderr}"
    );

    // Enough: `mcpsync run` with the operator's identity and only the chart's RBAC takes a
    // McpServer to Ready (reading its Secrets and registry, writing status, finalizer and
    // events) and releases it on delete.
    let sim = sim::start(SimConfig {
        availability_delay: Duration::ZERO,
        ..SimConfig::default()
    })
    .await
    .expect("simulator starts");
    let ns = TestNamespace::new("chart-op");
    apply_server(&ns.name, &sim);
    let operator = Operator::start(&ns.name);
    reconcile_to_ready_and_delete(&ns.name, &operator).await;
    drop(operator);

    // Least: nothing beyond what the operator needs.
    let any = Some("default");
    assert_grants(&[
        ("get", "mcpservers.mcpsync.dev", None, true),
        ("list", "mcpservers.mcpsync.dev", None, true),
        ("watch", "mcpservers.mcpsync.dev", None, true),
        ("patch", "mcpservers.mcpsync.dev", any, true),
        ("patch", "mcpservers.mcpsync.dev/status", any, true),
        ("list", "mcpregistries.mcpsync.dev", None, true),
        ("patch", "mcpregistries.mcpsync.dev/status", any, true),
        ("list", "clustermcpregistries.mcpsync.dev", None, true),
        (
            "patch",
            "clustermcpregistries.mcpsync.dev/status",
            None,
            true,
        ),
        ("get", "secrets", any, true),
        ("list", "secrets", None, true),
        ("watch", "secrets", None, true),
        ("create", "events.events.k8s.io", any, true),
        (
            "create",
            "leases.coordination.k8s.io",
            Some(RELEASE_NS),
            true,
        ),
        (
            "update",
            "leases.coordination.k8s.io",
            Some(RELEASE_NS),
            true,
        ),
        // No write to Secrets.
        ("create", "secrets", any, false),
        ("update", "secrets", any, false),
        ("patch", "secrets", any, false),
        ("delete", "secrets", any, false),
        // The McpServers are the users': no create, update or delete.
        ("create", "mcpservers.mcpsync.dev", any, false),
        ("update", "mcpservers.mcpsync.dev", any, false),
        ("delete", "mcpservers.mcpsync.dev", any, false),
        ("patch", "mcpregistries.mcpsync.dev", any, false),
        ("delete", "clustermcpregistries.mcpsync.dev", None, false),
        ("update", "mcpservers.mcpsync.dev/status", any, false),
        // Nothing else.
        ("get", "configmaps", any, false),
        ("list", "pods", None, false),
        ("get", "deployments.apps", Some(RELEASE_NS), false),
        ("list", "namespaces", None, false),
        ("create", "events", any, false),
        ("create", "leases.coordination.k8s.io", any, false),
        (
            "get",
            "customresourcedefinitions.apiextensions.k8s.io",
            None,
            false,
        ),
        ("*", "*", None, false),
    ]);

    // Per watched namespace (helm upgrade): Roles there, the operator still works there,
    // and nothing reaches the other namespaces.
    let watched = TestNamespace::new("chart-watched");
    let set = format!("watchNamespaces={{{}}}", watched.name);
    let out = release.helm(&["upgrade", RELEASE, &chart, "--set", &set]);
    assert!(
        out.status.success(),
        "helm upgrade: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let w = Some(watched.name.as_str());
    assert_grants(&[
        ("list", "mcpservers.mcpsync.dev", w, true),
        ("get", "secrets", w, true),
        ("create", "events.events.k8s.io", w, true),
        ("list", "clustermcpregistries.mcpsync.dev", None, true),
        ("list", "mcpservers.mcpsync.dev", None, false),
        (
            "list",
            "mcpservers.mcpsync.dev",
            Some(ns.name.as_str()),
            false,
        ),
        ("get", "secrets", any, false),
        ("list", "secrets", None, false),
        (
            "create",
            "leases.coordination.k8s.io",
            Some(RELEASE_NS),
            true,
        ),
    ]);
    apply_server(&watched.name, &sim);
    let operator = Operator::start(&watched.name);
    reconcile_to_ready_and_delete(&watched.name, &operator).await;
    drop(operator);

    // Uninstall: the release's objects go (the CRDs stay, as Helm does with crds/).
    let out = release.uninstall();
    assert!(
        out.status.success(),
        "helm uninstall: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    for object in [
        "clusterrole/mcpsync",
        "clusterrolebinding/mcpsync",
        "validatingadmissionpolicy/mcpregistry-secret-namespace.mcpsync.dev",
    ] {
        let out = env.kubectl_output(&["get", object], None);
        assert!(!out.status.success(), "{object} outlived helm uninstall");
    }
    let out = env.kubectl_output(
        &["get", "deployment,serviceaccount", "-n", RELEASE_NS],
        None,
    );
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(!listed.contains("mcpsync"), "{listed}");
    env.kubectl(&["get", "crd/mcpservers.mcpsync.dev"]);
    assert!(!can_i("list", "mcpservers.mcpsync.dev", None));
}

/// The binary accepts the exact arguments the chart renders (with every value set that
/// changes them): `ARGS --help` fails on any unknown or malformed flag first.
#[test]
fn the_binary_accepts_the_rendered_arguments() {
    for values in [
        "",
        "watchNamespaces: [team-a, team-b]\nselector: shard=a\nleaderElection: {enabled: false}\nlogFormat: text\nlogLevel: debug",
    ] {
        let rendered = args(&render(values));
        assert_eq!(rendered.first().map(String::as_str), Some("run"));
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_mcpsync"))
            .args(&rendered)
            .arg("--help")
            .output()
            .expect("mcpsync runs");
        assert!(
            out.status.success(),
            "mcpsync run refuses the chart's arguments {rendered:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
