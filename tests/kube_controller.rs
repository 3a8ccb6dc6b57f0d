//! `mcpsync run` as a process on a real API server (tests/support/kube.rs), with the
//! operator's own identity and only the RBAC the project ships (config/rbac.yaml), and the
//! simulator as the registries. Each test has its own namespace, simulator and operator
//! (watching that namespace).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Secret;
use kube::api::{DeleteParams, Patch, PatchParams};
use kube::{Api, ResourceExt};
use mcpsync::api::{CLEANUP_FINALIZER, McpRegistry, McpServer, McpServerStatus};
use mcpsync::sim::{self, NextFault, Provider, SimConfig, SimHandle};
use serde_json::{Value, json};

mod support;
use support::kube::{TestNamespace, env};

/// `mcpsync run` watching one namespace; killed when dropped.
struct Operator {
    child: Child,
    log: PathBuf,
}

impl Operator {
    fn start(namespace: &str, sync_interval: &str) -> Operator {
        Operator::start_with(namespace, sync_interval, &[], &[])
    }

    /// With more arguments and environment variables; endpoints on free loopback ports
    /// unless `args` names them.
    fn start_with(
        namespace: &str,
        sync_interval: &str,
        args: &[&str],
        vars: &[(&str, &str)],
    ) -> Operator {
        let log = std::env::temp_dir().join(format!(
            "mcpsync-operator-{namespace}-{}.log",
            uuid::Uuid::new_v4().simple()
        ));
        let file = std::fs::File::create(&log).expect("operator log");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_mcpsync"));
        cmd.args([
            "run",
            "--namespace",
            namespace,
            "--sync-interval",
            sync_interval,
        ])
        .arg("--kubeconfig")
        .arg(env().operator_kubeconfig_file());
        if !args.contains(&"--metrics-addr") {
            cmd.args([
                "--metrics-addr",
                "127.0.0.1:0",
                "--probe-addr",
                "127.0.0.1:0",
            ]);
        }
        cmd.args(args)
            .env("RUST_LOG", "mcpsync=debug,kube=warn")
            .envs(vars.iter().copied())
            .stdout(Stdio::from(file.try_clone().expect("log handle")))
            .stderr(Stdio::from(file));
        let child = cmd.spawn().expect("mcpsync run starts");
        Operator { child, log }
    }

    /// SIGTERM, as Kubernetes stops a pod; returns the exit status.
    fn terminate(&mut self) -> Option<std::process::ExitStatus> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(40);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        None
    }

    /// SIGKILL: no graceful shutdown, as a crashed pod.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            eprintln!(
                "--- operator log ({}) ---\n{}",
                self.log.display(),
                self.logs()
            );
        }
    }
}

/// One test's world: namespace, simulator, operator, client.
struct World {
    ns: TestNamespace,
    sim: SimHandle,
    client: kube::Client,
    operator: Option<Operator>,
    interval: &'static str,
}

impl World {
    async fn start(prefix: &str) -> World {
        World::with(prefix, SimConfig::default(), "30s").await
    }

    async fn with(prefix: &str, config: SimConfig, interval: &'static str) -> World {
        env().install_crds();
        env().install_rbac();
        let ns = TestNamespace::new(prefix);
        let sim = sim::start(SimConfig {
            availability_delay: Duration::ZERO,
            ..config
        })
        .await
        .expect("simulator starts");
        let client = env().admin().await;
        let operator = Some(Operator::start(&ns.name, interval));
        World {
            ns,
            sim,
            client,
            operator,
            interval,
        }
    }

    fn restart_operator(&mut self) {
        self.operator = Some(Operator::start(&self.ns.name, self.interval));
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

    fn servers(&self) -> Api<McpServer> {
        Api::namespaced(self.client.clone(), &self.ns.name)
    }

    /// A Composio registry (McpRegistry `composio`) on the simulator, with its key.
    fn composio_registry(&self) {
        self.apply(&format!(
            "apiVersion: v1
kind: Secret
metadata: {{name: composio-api, namespace: NS}}
stringData: {{api-key: cmp-key}}
---
apiVersion: mcpsync.dev/v1alpha1
kind: McpRegistry
metadata: {{name: composio, namespace: NS}}
spec:
  provider:
    composio:
      apiKeySecretRef: {{name: composio-api, key: api-key}}
  baseUrl: {}
  allowInsecureHttp: true
",
            self.sim.base_url("composio")
        ));
    }

    /// A PAIS registry (McpRegistry `pais`) on the simulator.
    fn pais_registry(&self) {
        self.apply(&format!(
            "apiVersion: v1
kind: Secret
metadata: {{name: pais-token, namespace: NS}}
stringData: {{token: pais-token}}
---
apiVersion: mcpsync.dev/v1alpha1
kind: McpRegistry
metadata: {{name: pais, namespace: NS}}
spec:
  provider:
    pais:
      tokenSecretRef: {{name: pais-token, key: token}}
  baseUrl: {}
  allowInsecureHttp: true
",
            self.sim.base_url("pais")
        ));
    }

    /// Waits until the server's status satisfies `check` (30 s at most).
    async fn wait_status(
        &self,
        name: &str,
        what: &str,
        check: impl Fn(&McpServerStatus) -> bool,
    ) -> McpServerStatus {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let status = self
                .servers()
                .get_opt(name)
                .await
                .ok()
                .flatten()
                .and_then(|s| s.status)
                .unwrap_or_default();
            if check(&status) {
                return status;
            }
            if Instant::now() > deadline {
                let logs = self
                    .operator
                    .as_ref()
                    .map(Operator::logs)
                    .unwrap_or_default();
                panic!("{name}: {what} not reached; status: {status:#?}\noperator log:\n{logs}");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The requests the simulator received that write (POST, PATCH, DELETE).
    fn writes(&self) -> Vec<(String, String, Option<Value>)> {
        self.sim
            .requests()
            .into_iter()
            .filter(|r| r.method != "GET")
            .map(|r| (r.method, r.path, r.body))
            .collect()
    }

    /// Status writes of the operator to McpServers of this namespace, from the audit log.
    fn status_writes(&self, name: &str) -> usize {
        self.all_status_writes(|n| n == name)
    }

    /// Status writes of the operator to the McpServers whose name `pick` accepts.
    fn all_status_writes(&self, pick: impl Fn(&str) -> bool) -> usize {
        let Some(path) = env().audit_log() else {
            return 0;
        };
        let log = std::fs::read_to_string(path).unwrap_or_default();
        log.lines()
            .filter(|l| l.contains(&self.ns.name) && l.contains("\"status\""))
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|e| {
                e["stage"] == "ResponseComplete"
                    && e["user"]["username"] == "system:serviceaccount:mcpsync-system:mcpsync"
                    && e["objectRef"]["resource"] == "mcpservers"
                    && e["objectRef"]["subresource"] == "status"
                    && e["objectRef"]["namespace"] == json!(self.ns.name)
                    && e["objectRef"]["name"].as_str().is_some_and(&pick)
            })
            .count()
    }
}

fn condition(status: &McpServerStatus, type_: &str) -> Option<(String, String)> {
    status
        .conditions
        .iter()
        .find(|c| c.type_ == type_)
        .map(|c| (c.status.clone(), c.reason.clone()))
}

fn ready(status: &McpServerStatus) -> bool {
    condition(status, "Ready").is_some_and(|(s, _)| s == "True")
}

fn stalled_with(reason: &'static str) -> impl Fn(&McpServerStatus) -> bool {
    move |s| condition(s, "Stalled") == Some(("True".to_string(), reason.to_string()))
}

fn not_ready_with(reason: &'static str) -> impl Fn(&McpServerStatus) -> bool {
    move |s| condition(s, "Ready") == Some(("False".to_string(), reason.to_string()))
}

const PAIS_SERVER: &str = "apiVersion: mcpsync.dev/v1alpha1
kind: McpServer
metadata: {name: docs, namespace: NS}
spec:
  registryRef: {name: pais}
  displayName: Docs Search
  url: https://docs.example.com/mcp
  transport: StreamableHttp
  description: first
  deletionPolicy: Delete
  headers:
    - name: Authorization
      valueFrom: {secretKeyRef: {name: docs-token, key: header}}
";

fn token_secret(value: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: docs-token, namespace: NS}}\nstringData: {{header: '{value}'}}\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_update_rotate_and_delete() {
    let w = World::start("ctl-life").await;
    w.pais_registry();
    w.apply(&token_secret("Bearer first-CANARY-1"));
    w.apply(PAIS_SERVER);
    let status = w.wait_status("docs", "Ready", ready).await;
    let id = status.external_id.clone().expect("an id");
    let posts: Vec<_> = w
        .writes()
        .into_iter()
        .filter(|(m, _, _)| m == "POST")
        .collect();
    assert_eq!(posts.len(), 1, "one create: {posts:#?}");
    let server = w.servers().get("docs").await.unwrap();
    assert!(
        server.finalizers().contains(&CLEANUP_FINALIZER.to_string()),
        "deletionPolicy: Delete holds the finalizer"
    );

    // A minimal update: one PATCH with that field.
    w.sim.clear_log();
    w.apply(&PAIS_SERVER.replace("description: first", "description: second"));
    w.wait_status("docs", "the new generation synced", |s| {
        s.observed_generation == Some(2) && ready(s)
    })
    .await;
    assert_eq!(
        w.writes(),
        vec![(
            "PATCH".to_string(),
            format!("/api/v1/control/mcp-servers/{id}"),
            Some(json!({"description": "second"}))
        )]
    );

    // A rotated Secret: one PATCH with the headers alone.
    w.sim.clear_log();
    let before = w
        .servers()
        .get("docs")
        .await
        .unwrap()
        .status
        .unwrap_or_default();
    w.apply(&token_secret("Bearer second-CANARY-2"));
    w.wait_status("docs", "the rotated header applied", |s| {
        s.applied_fingerprints.get("headers") != before.applied_fingerprints.get("headers")
    })
    .await;
    let writes = w.writes();
    assert_eq!(writes.len(), 1, "{writes:#?}");
    assert_eq!(writes[0].0, "PATCH");
    let body = writes[0].2.clone().unwrap_or_default();
    assert_eq!(
        body.as_object()
            .map(|o| o.keys().cloned().collect::<Vec<_>>()),
        Some(vec!["headers".to_string()])
    );
    let stored = w.sim.stored_record(Provider::Pais, &id).unwrap();
    assert!(stored.to_string().contains("second-CANARY-2"), "{stored}");

    // Nothing leaked: not in status, events or the operator's log.
    let server = w.servers().get("docs").await.unwrap();
    let events = env().kubectl(&["get", "events", "-n", &w.ns.name, "-o", "json"]);
    for (what, text) in [
        ("status", serde_json::to_string(&server.status).unwrap()),
        ("events", events.clone()),
        ("log", w.operator.as_ref().unwrap().logs()),
    ] {
        assert!(!text.contains("CANARY"), "a secret value in the {what}");
    }
    assert!(
        events.contains("Created") && events.contains("Patched"),
        "{events}"
    );

    // Delete under deletionPolicy: Delete: the record goes, then the object.
    w.servers()
        .delete("docs", &DeleteParams::default())
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while w.servers().get_opt("docs").await.unwrap().is_some() {
        assert!(Instant::now() < deadline, "the McpServer is never released");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        w.sim.stored_record(Provider::Pais, &id).is_none(),
        "record deleted"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_secret_registry_and_namespace_not_allowed_then_fixed() {
    let w = World::start("ctl-refs").await;
    // No registry yet.
    w.apply(&token_secret("Bearer t"));
    w.apply(PAIS_SERVER);
    let status = w
        .wait_status(
            "docs",
            "RegistryNotReady",
            not_ready_with("RegistryNotReady"),
        )
        .await;
    assert!(format!("{status:?}").contains("McpRegistry"), "{status:#?}");
    assert!(w.sim.requests().is_empty(), "no remote call");
    // The registry appears: the server follows.
    w.pais_registry();
    w.wait_status("docs", "Ready", ready).await;

    // A server whose header Secret is missing, then created.
    w.apply(
        &PAIS_SERVER
            .replace("name: docs,", "name: other,")
            .replace("docs-token", "late-token")
            .replace("Docs Search", "Other"),
    );
    w.wait_status("other", "SecretNotFound", stalled_with("SecretNotFound"))
        .await;
    w.apply("apiVersion: v1\nkind: Secret\nmetadata: {name: late-token, namespace: NS}\nstringData: {header: x}\n");
    w.wait_status("other", "Ready", ready).await;

    // A ClusterMcpRegistry that does not allow this namespace.
    let cluster = format!("ctl-{}", &w.ns.name[w.ns.name.len() - 8..]);
    w.apply(&format!(
        "apiVersion: mcpsync.dev/v1alpha1
kind: ClusterMcpRegistry
metadata: {{name: {cluster}}}
spec:
  provider:
    composio:
      apiKeySecretRef: {{name: composio-api, key: api-key, namespace: NS}}
  baseUrl: {}
  allowInsecureHttp: true
  allowedNamespaces: [somewhere-else]
---
apiVersion: v1
kind: Secret
metadata: {{name: composio-api, namespace: NS}}
stringData: {{api-key: k}}
---
apiVersion: mcpsync.dev/v1alpha1
kind: McpServer
metadata: {{name: shared, namespace: NS}}
spec:
  registryRef: {{kind: ClusterMcpRegistry, name: {cluster}}}
  displayName: shared-tools
  toolkits: [github]
",
        w.sim.base_url("composio")
    ));
    let status = w
        .wait_status("shared", "not allowed", not_ready_with("RegistryNotReady"))
        .await;
    assert!(
        format!("{status:?}").contains("allowedNamespaces"),
        "{status:#?}"
    );
    assert!(w.sim.stored_records(Provider::Composio).is_empty());
    env().kubectl(&["delete", "clustermcpregistry", &cluster, "--wait=false"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unauthorized_registry_blocks_its_servers_without_remote_calls() {
    let seed = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        seed.path(),
        "composio:\n  credentials:\n    - api_key: the-right-key\n",
    )
    .unwrap();
    let w = World::with(
        "ctl-401",
        SimConfig {
            seed: Some(seed.path().to_path_buf()),
            ..SimConfig::default()
        },
        "30s",
    )
    .await;
    w.composio_registry(); // its key is cmp-key: refused
    w.apply(
        "apiVersion: mcpsync.dev/v1alpha1
kind: McpServer
metadata: {name: tools, namespace: NS}
spec:
  registryRef: {name: composio}
  displayName: github-tools
  toolkits: [github]
",
    );
    let registries: Api<McpRegistry> = Api::namespaced(w.client.clone(), &w.ns.name);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = registries.get("composio").await.unwrap();
        let reason = r
            .status
            .and_then(|s| s.conditions.into_iter().find(|c| c.type_ == "Ready"))
            .map(|c| c.reason);
        if reason.as_deref() == Some("Unauthorized") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "registry never Unauthorized: {reason:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    w.wait_status(
        "tools",
        "RegistryNotReady",
        not_ready_with("RegistryNotReady"),
    )
    .await;
    assert!(w.writes().is_empty(), "no write: {:#?}", w.writes());
    // The right key: the registry becomes Ready, then the server syncs.
    w.apply("apiVersion: v1\nkind: Secret\nmetadata: {name: composio-api, namespace: NS}\nstringData: {api-key: the-right-key}\n");
    w.wait_status("tools", "Ready", ready).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adopt_suspend_observe_only_annotation_and_quiet_status() {
    let w = World::start("ctl-adopt").await;
    w.composio_registry();
    // A record that exists already, adopted by id.
    let client = reqwest::Client::new();
    let answer: Value = client
        .post(format!(
            "{}/api/v3/mcp/servers/custom",
            w.sim.base_url("composio")
        ))
        .header("x-api-key", "cmp-key")
        .json(&json!({"name": "adopted-tools", "toolkits": ["slack"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = answer["id"].as_str().expect("id").to_string();
    w.sim.clear_log();
    w.apply(&format!(
        "apiVersion: mcpsync.dev/v1alpha1
kind: McpServer
metadata: {{name: adopted, namespace: NS}}
spec:
  registryRef: {{name: composio}}
  externalId: {id}
  displayName: adopted-tools
  toolkits: [github]
"
    ));
    let status = w.wait_status("adopted", "Ready", ready).await;
    assert_eq!(status.external_id.as_deref(), Some(id.as_str()));
    assert_eq!(
        w.writes(),
        vec![(
            "PATCH".to_string(),
            format!("/api/v3/mcp/{id}"),
            Some(json!({"toolkits": ["github"]}))
        )],
        "no create, one PATCH of the differing field"
    );

    // Nothing changes: no remote write and no status write beyond the first.
    let writes_before = w.status_writes("adopted");
    w.sim.clear_log();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(w.writes().is_empty());
    if env().audit_log().is_some() {
        assert_eq!(
            w.status_writes("adopted"),
            writes_before,
            "status written with nothing changed"
        );
    }

    // The annotation forces an immediate check, which repairs remote drift.
    let patch = json!({"name": "renamed-in-console"});
    let status = client
        .patch(format!("{}/api/v3/mcp/{id}", w.sim.base_url("composio")))
        .header("x-api-key", "cmp-key")
        .json(&patch)
        .send()
        .await
        .unwrap()
        .status();
    assert!(status.is_success());
    w.sim.clear_log();
    let annotate =
        json!({"metadata": {"annotations": {"mcpsync.dev/reconcile-requested-at": "now-1"}}});
    w.servers()
        .patch("adopted", &PatchParams::default(), &Patch::Merge(&annotate))
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !w
        .writes()
        .iter()
        .any(|(m, _, b)| m == "PATCH" && *b == Some(json!({"name": "adopted-tools"})))
    {
        assert!(
            Instant::now() < deadline,
            "the annotation did not force a check: {:#?}",
            w.sim.requests()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // suspend: no remote call at all.
    let suspend = json!({"spec": {"suspend": true, "displayName": "changed-while-suspended"}});
    w.servers()
        .patch("adopted", &PatchParams::default(), &Patch::Merge(&suspend))
        .await
        .unwrap();
    w.wait_status("adopted", "Suspended", |s| {
        condition(s, "Reconciling").is_some_and(|(_, r)| r == "Suspended")
    })
    .await;
    w.sim.clear_log();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(w.sim.requests().is_empty(), "{:#?}", w.sim.requests());

    // ObserveOnly: drift reported, never written.
    let observe = json!({"spec": {"suspend": false, "managementPolicy": "ObserveOnly"}});
    w.servers()
        .patch("adopted", &PatchParams::default(), &Patch::Merge(&observe))
        .await
        .unwrap();
    let status = w
        .wait_status("adopted", "Drifted", |s| {
            condition(s, "Synced") == Some(("False".into(), "Drifted".into()))
        })
        .await;
    assert_eq!(status.drift, vec!["name".to_string()]);
    assert!(w.writes().is_empty(), "{:#?}", w.writes());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conflict_and_rate_limit() {
    let w = World::start("ctl-429").await;
    w.composio_registry();
    // 409: another record holds the name (the simulator keeps Composio names unique).
    let taken = reqwest::Client::new()
        .post(format!(
            "{}/api/v3/mcp/servers/custom",
            w.sim.base_url("composio")
        ))
        .header("x-api-key", "cmp-key")
        .json(&json!({"name": "taken-name", "toolkits": ["slack"]}))
        .send()
        .await
        .unwrap();
    assert!(taken.status().is_success());
    w.apply(
        "apiVersion: mcpsync.dev/v1alpha1
kind: McpServer
metadata: {name: clash, namespace: NS}
spec:
  registryRef: {name: composio}
  displayName: taken-name
  toolkits: [github]
",
    );
    // A new trigger may start another attempt (intent written, then cleared by its 409):
    // wait for a settled Conflict.
    let status = w
        .wait_status("clash", "Conflict", |s| {
            stalled_with("Conflict")(s) && s.pending_create.is_none()
        })
        .await;
    assert_eq!(
        status.pending_create, None,
        "a refused create leaves no intent"
    );
    let events = env().kubectl(&["get", "events", "-n", &w.ns.name]);
    assert!(events.contains("Refused"), "{events}");

    // 429 with Retry-After: waited out, then synced.
    for _ in 0..3 {
        w.sim.faults().push_next(NextFault {
            provider: Some(Provider::Composio),
            status: 429,
            retry_after: Some(2),
            count: 1,
            drop: false,
            after: false,
        });
    }
    let started = Instant::now();
    w.apply(
        "apiVersion: mcpsync.dev/v1alpha1
kind: McpServer
metadata: {name: patient, namespace: NS}
spec:
  registryRef: {name: composio}
  displayName: patient-tools
  toolkits: [github]
",
    );
    w.wait_status("patient", "Ready", ready).await;
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "Retry-After was not honoured"
    );
    let posts = w
        .writes()
        .into_iter()
        .filter(|(m, p, _)| m == "POST" && p.ends_with("/custom"))
        .count();
    assert!(posts >= 1);
    let named: Vec<_> = w
        .sim
        .stored_records(Provider::Composio)
        .into_iter()
        .filter(|r| r["name"] == "patient-tools")
        .collect();
    assert_eq!(named.len(), 1, "one record");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retain_keeps_the_record_and_a_policy_change_releases_the_finalizer() {
    let w = World::start("ctl-retain").await;
    w.pais_registry();
    w.apply(&token_secret("Bearer t"));
    w.apply(PAIS_SERVER);
    let status = w.wait_status("docs", "Ready", ready).await;
    let id = status.external_id.unwrap();
    w.apply(&PAIS_SERVER.replace("deletionPolicy: Delete", "deletionPolicy: Retain"));
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let server = w.servers().get("docs").await.unwrap();
        if !server.finalizers().contains(&CLEANUP_FINALIZER.to_string()) {
            break;
        }
        assert!(Instant::now() < deadline, "finalizer kept under Retain");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    w.servers()
        .delete("docs", &DeleteParams::default())
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while w.servers().get_opt("docs").await.unwrap().is_some() {
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        w.sim.stored_record(Provider::Pais, &id).is_some(),
        "Retain keeps the record"
    );
    assert!(!w.writes().iter().any(|(m, _, _)| m == "DELETE"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_in_the_middle_of_a_create_leaves_one_record() {
    let mut w = World::start("ctl-crash").await;
    w.composio_registry();
    // The registry check comes first: wait for it, so the fault below meets the create.
    let registries: Api<McpRegistry> = Api::namespaced(w.client.clone(), &w.ns.name);
    let deadline = Instant::now() + Duration::from_secs(30);
    while registries
        .get("composio")
        .await
        .ok()
        .and_then(|r| r.status)
        .is_none()
    {
        assert!(Instant::now() < deadline, "registry never checked");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The create is stored, then its answer is held for 20 s: the operator is killed in
    // that window, after the POST and before it could write the id to the status.
    w.sim.faults().set_after_hold(Duration::from_secs(20));
    // Two: a registry re-check (a watch event) may take the first; the create meets one.
    w.sim.faults().push_next(NextFault {
        provider: Some(Provider::Composio),
        status: 503,
        retry_after: None,
        count: 2,
        drop: true,
        after: true,
    });
    w.apply(
        "apiVersion: mcpsync.dev/v1alpha1
kind: McpServer
metadata: {name: crash, namespace: NS}
spec:
  registryRef: {name: composio}
  displayName: crash-tools
  toolkits: [github]
",
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while w.sim.stored_records(Provider::Composio).is_empty() {
        assert!(Instant::now() < deadline, "the create never arrived");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    w.operator.as_mut().unwrap().kill();
    let server = w.servers().get("crash").await.unwrap();
    let status = server.status.unwrap_or_default();
    assert!(
        status.pending_create.is_some(),
        "the intent was written before the POST"
    );
    assert_eq!(status.external_id, None);

    w.sim.faults().clear();
    w.sim.faults().set_after_hold(Duration::ZERO);
    w.restart_operator();
    let status = w.wait_status("crash", "Ready", ready).await;
    let records = w.sim.stored_records(Provider::Composio);
    assert_eq!(records.len(), 1, "{records:#?}");
    assert_eq!(status.external_id.as_deref(), records[0]["id"].as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn steady_state_costs_only_list_pages_and_last_sync_writes() {
    const N: usize = 200;
    let w = World::with("ctl-steady", SimConfig::default(), "10s").await;
    w.composio_registry();
    let servers: Vec<String> = (0..N)
        .map(|i| {
            format!(
                "apiVersion: mcpsync.dev/v1alpha1\nkind: McpServer\nmetadata: {{name: s{i:03}, namespace: NS}}\nspec:\n  registryRef: {{name: composio}}\n  displayName: server-{i:03}\n  toolkits: [github]\n"
            )
        })
        .collect();
    w.apply(&servers.join("---\n"));
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let list = w.servers().list(&Default::default()).await.unwrap();
        let ready_count = list
            .items
            .iter()
            .filter(|s| s.status.as_ref().is_some_and(ready))
            .count();
        if ready_count == N {
            break;
        }
        assert!(Instant::now() < deadline, "{ready_count}/{N} ready");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // Let the first interval after the creates pass, then count three intervals.
    tokio::time::sleep(Duration::from_secs(12)).await;
    let writes_before = w.all_status_writes(|_| true);
    w.sim.clear_log();
    tokio::time::sleep(Duration::from_secs(30)).await;
    let requests = w.sim.requests();
    let by_kind = |m: &str, list: bool| {
        requests
            .iter()
            .filter(|r| r.method == m && (r.path.ends_with("/servers") == list))
            .count()
    };
    let lists = by_kind("GET", true);
    let gets = by_kind("GET", false);
    let writes = requests.iter().filter(|r| r.method != "GET").count();
    let pages = N.div_ceil(100); // the provider's page size
    eprintln!(
        "steady state, {N} servers, 3 intervals of 10 s: {lists} LIST pages, {gets} GET, {writes} writes"
    );
    assert_eq!(gets, 0, "no GET per server");
    assert_eq!(writes, 0, "no PATCH");
    // A registry check (one page) plus the snapshot (all pages) per interval.
    let queries: Vec<String> = requests
        .iter()
        .map(|r| {
            format!(
                "{} {}?{}",
                r.method,
                r.path,
                r.query.clone().unwrap_or_default()
            )
        })
        .collect();
    assert!(
        lists <= 4 * pages,
        "{lists} LIST calls in 3 intervals: {queries:#?}"
    );
    if env().audit_log().is_some() {
        let writes_after = w.all_status_writes(|_| true);
        let status_writes = writes_after - writes_before;
        eprintln!("status writes in 3 intervals: {status_writes}");
        // lastSyncTime at most once per interval per server, and within the default
        // --status-refresh-qps of 10 (200 servers every 10 s would want 20/s): 30 s of
        // budget plus its one-second burst, and a second of slack for the clock.
        assert!(status_writes <= 4 * N, "{status_writes} status writes");
        assert!(
            status_writes <= 10 * 32,
            "{status_writes} status writes in 30 s"
        );
    }
    let _ = Secret::default();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delete_refused_with_409_keeps_the_finalizer_and_is_retried() {
    let w = World::with("ctl-409del", SimConfig::default(), "10s").await;
    w.pais_registry();
    w.apply(&token_secret("Bearer t"));
    w.apply(PAIS_SERVER);
    let status = w.wait_status("docs", "Ready", ready).await;
    let id = status.external_id.unwrap();
    // PAIS answers 409 while the server's tools are linked to an agent.
    w.sim.faults().push_next(NextFault {
        provider: Some(Provider::Pais),
        status: 409,
        retry_after: None,
        count: 1,
        drop: false,
        after: false,
    });
    w.servers()
        .delete("docs", &DeleteParams::default())
        .await
        .unwrap();
    let status = w
        .wait_status("docs", "Conflict on delete", stalled_with("Conflict"))
        .await;
    let message = status
        .conditions
        .iter()
        .find(|c| c.type_ == "Stalled")
        .map(|c| c.message.clone())
        .unwrap_or_default();
    assert!(message.contains("cannot be deleted"), "{message}");
    let server = w.servers().get("docs").await.unwrap();
    assert!(server.finalizers().contains(&CLEANUP_FINALIZER.to_string()));
    assert!(w.sim.stored_record(Provider::Pais, &id).is_some());
    // The cause goes away (the fault was one answer): the next try deletes it.
    let deadline = Instant::now() + Duration::from_secs(30);
    while w.servers().get_opt("docs").await.unwrap().is_some() {
        assert!(Instant::now() < deadline, "the delete is never retried");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(w.sim.stored_record(Provider::Pais, &id).is_none());
}

/// A free loopback port.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

async fn http_get(url: &str) -> Option<(u16, String)> {
    let answer = reqwest::get(url).await.ok()?;
    let status = answer.status().as_u16();
    Some((status, answer.text().await.unwrap_or_default()))
}

async fn wait_http(url: &str, status: u16) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some((s, body)) = http_get(url).await
            && s == status
        {
            return body;
        }
        assert!(Instant::now() < deadline, "{url} never answered {status}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_probes_and_json_logs() {
    let mut w = World::start("ctl-ops").await;
    // Replace the default operator with one on known ports.
    w.operator = None;
    let (metrics, probes) = (free_port(), free_port());
    let metrics_addr = format!("127.0.0.1:{metrics}");
    let probe_addr = format!("127.0.0.1:{probes}");
    w.operator = Some(Operator::start_with(
        &w.ns.name,
        "30s",
        &["--metrics-addr", &metrics_addr, "--probe-addr", &probe_addr],
        &[("RUST_LOG", "")],
    ));
    wait_http(&format!("http://{probe_addr}/healthz"), 200).await;
    wait_http(&format!("http://{probe_addr}/readyz"), 200).await;
    w.composio_registry();
    w.apply(
        "apiVersion: mcpsync.dev/v1alpha1
kind: McpServer
metadata: {name: measured, namespace: NS}
spec:
  registryRef: {name: composio}
  displayName: measured-tools
  toolkits: [github]
",
    );
    w.wait_status("measured", "Ready", ready).await;
    // A change: the check reads the registry's listing (the snapshot) and PATCHes.
    w.servers()
        .patch(
            "measured",
            &PatchParams::default(),
            &Patch::Merge(&json!({"spec": {"displayName": "measured-tools-2"}})),
        )
        .await
        .unwrap();
    w.wait_status("measured", "generation 2 synced", |s| {
        s.observed_generation == Some(2) && ready(s)
    })
    .await;
    let text = wait_http(&format!("http://{metrics_addr}/metrics"), 200).await;
    for needle in [
        "controller_runtime_reconcile_total{controller=\"mcpserver\",result=\"success\"}",
        "controller_runtime_reconcile_total{controller=\"mcpregistry\",result=\"success\"}",
        "controller_runtime_reconcile_time_seconds_count{controller=\"mcpserver\"}",
        "controller_runtime_active_workers{controller=\"mcpserver\"}",
        "mcpsync_registry_requests_total{provider=\"composio\",operation=\"create\",code=\"201\"} 1",
        "mcpsync_registry_request_duration_seconds_count{provider=\"composio\",operation=\"create\"} 1",
        "mcpsync_servers{ready=\"True\",reason=\"Synced\",availability=\"Unknown\"} 1",
        "mcpsync_snapshot_age_seconds{registry=\"McpRegistry/",
        "mcpsync_patches_total{provider=\"composio\"} 1",
        "mcpsync_patched_fields_total{provider=\"composio\"} 1",
    ] {
        assert!(text.contains(needle), "/metrics lacks {needle}:\n{text}");
    }
    // Logs: JSON (stderr is not a terminal), at the default level.
    let logs = w.operator.as_ref().unwrap().logs();
    let lines: Vec<&str> = logs.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(!lines.is_empty());
    for line in &lines {
        let v: Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(
            v.get("level").is_some() && v.get("timestamp").is_some(),
            "{line}"
        );
    }
    // SIGTERM: a clean exit, well within the grace period.
    let started = Instant::now();
    let status = w
        .operator
        .as_mut()
        .unwrap()
        .terminate()
        .expect("exits after SIGTERM");
    assert!(status.success(), "{status:?}");
    assert!(
        started.elapsed() < Duration::from_secs(26),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_leader_reconciles_and_a_standby_takes_over_at_once_on_sigterm() {
    let mut w = World::start("ctl-lease").await;
    w.operator = None;
    // What the chart grants in the release namespace: the Lease.
    w.apply(
        "apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: mcpsync-leader, namespace: NS}
rules:
  - apiGroups: [coordination.k8s.io]
    resources: [leases]
    verbs: [get, list, watch, create, update, patch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: mcpsync-leader, namespace: NS}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: mcpsync-leader}
subjects:
  - {kind: ServiceAccount, name: mcpsync, namespace: mcpsync-system}
",
    );
    let ns = w.ns.name.clone();
    let elect = [
        "--leader-elect",
        "--leader-election-namespace",
        &ns,
        "--leader-election-id",
        "mcpsync",
    ];
    let leases: Api<k8s_openapi::api::coordination::v1::Lease> =
        Api::namespaced(w.client.clone(), &ns);
    let holder = || async {
        leases
            .get_opt("mcpsync")
            .await
            .ok()
            .flatten()
            .and_then(|l| l.spec)
            .and_then(|s| s.holder_identity)
    };
    let mut a = Operator::start_with(&ns, "30s", &elect, &[("POD_NAME", "op-a")]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while holder().await.as_deref() != Some("op-a") {
        assert!(Instant::now() < deadline, "op-a never leads:\n{}", a.logs());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (b_probe, b_metrics) = (free_port(), free_port());
    let b_probe_addr = format!("127.0.0.1:{b_probe}");
    let b_metrics_addr = format!("127.0.0.1:{b_metrics}");
    let mut b_args = elect.to_vec();
    b_args.extend([
        "--metrics-addr",
        &b_metrics_addr,
        "--probe-addr",
        &b_probe_addr,
    ]);
    let b = Operator::start_with(&ns, "30s", &b_args, &[("POD_NAME", "op-b")]);
    // A healthy standby is ready, and does not reconcile.
    wait_http(&format!("http://{b_probe_addr}/readyz"), 200).await;
    w.composio_registry();
    w.apply(
        "apiVersion: mcpsync.dev/v1alpha1
kind: McpServer
metadata: {name: led, namespace: NS}
spec:
  registryRef: {name: composio}
  displayName: led-tools
  toolkits: [github]
",
    );
    w.wait_status("led", "Ready", ready).await;
    assert!(
        !b.logs().contains("controllers started"),
        "the standby reconciles:\n{}",
        b.logs()
    );
    let metrics = wait_http(&format!("http://{b_metrics_addr}/metrics"), 200).await;
    assert!(
        !metrics.contains("controller_runtime_reconcile_total{"),
        "{metrics}"
    );

    // SIGTERM the leader: it releases the Lease and the standby leads at once (the Lease
    // would otherwise expire only after 15 s).
    let stopped = Instant::now();
    let status = a.terminate().expect("the leader exits");
    assert!(status.success(), "{status:?}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while holder().await.as_deref() != Some("op-b") {
        assert!(Instant::now() < deadline, "op-b never leads:\n{}", b.logs());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let took = stopped.elapsed();
    eprintln!("leader hand-over took {took:?}");
    assert!(took < Duration::from_secs(10), "hand-over took {took:?}");
    // The new leader reconciles.
    w.servers()
        .patch(
            "led",
            &PatchParams::default(),
            &Patch::Merge(&json!({"spec": {"displayName": "led-tools-2"}})),
        )
        .await
        .unwrap();
    w.wait_status("led", "the change applied by op-b", |s| {
        s.observed_generation == Some(2) && ready(s)
    })
    .await;
    w.operator = Some(b);
}

/// The operator's events (events.k8s.io/v1) about one object of the namespace.
async fn events_of(w: &World, name: &str) -> Vec<k8s_openapi::api::events::v1::Event> {
    let api: Api<k8s_openapi::api::events::v1::Event> =
        Api::namespaced(w.client.clone(), &w.ns.name);
    api.list(&Default::default())
        .await
        .map(|l| l.items)
        .unwrap_or_default()
        .into_iter()
        .filter(|e| {
            e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name)
                && e.reporting_controller.as_deref() == Some("mcpsync")
        })
        .collect()
}

/// (note, series count) of the `Patched` events of `name`, sorted by note.
async fn patched_events(w: &World, name: &str) -> Vec<(String, i32)> {
    let mut patched: Vec<(String, i32)> = events_of(w, name)
        .await
        .into_iter()
        .filter(|e| e.reason.as_deref() == Some("Patched"))
        .map(|e| (e.note.unwrap_or_default(), e.series.map_or(1, |s| s.count)))
        .collect();
    patched.sort();
    patched
}

/// Rotates the `docs-token` Secret and waits until server `docs` has PATCHed its headers.
async fn rotate_docs_token(w: &World, value: &str) {
    let headers_of = |s: &McpServerStatus| s.applied_fingerprints.get("headers").cloned();
    let before = w
        .servers()
        .get("docs")
        .await
        .unwrap()
        .status
        .unwrap_or_default();
    w.apply(&token_secret(value));
    w.wait_status("docs", "the rotated header applied", |s| {
        headers_of(s) != headers_of(&before)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_patch_event_names_its_own_fields_and_repeats_fold_into_a_series() {
    let w = World::start("ctl-events").await;
    w.pais_registry();
    w.apply(&token_secret("Bearer one"));
    w.apply(PAIS_SERVER);
    w.wait_status("docs", "Ready", ready).await;
    // 1. headers (a rotated Secret), 2. documentation_url, 3. headers again.
    rotate_docs_token(&w, "Bearer two").await;
    w.apply(&PAIS_SERVER.replace(
        "description: first",
        "description: first\n  documentationUrl: https://docs.example.com/guide",
    ));
    w.wait_status("docs", "documentationUrl applied", |s| {
        s.observed_generation == Some(2) && ready(s)
    })
    .await;
    rotate_docs_token(&w, "Bearer three").await;

    let headers = "patched fields: headers".to_string();
    let docs = "patched fields: documentation_url".to_string();
    let want = vec![(docs, 1), (headers, 2)];
    // Events are published after the status write: give them a moment.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut patched = patched_events(&w, "docs").await;
    while patched != want && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
        patched = patched_events(&w, "docs").await;
    }
    assert_eq!(
        patched, want,
        "each PATCH's event names its own fields; the identical second headers PATCH is \
         the first one's series (count 2), not a new object"
    );
    let patches = w
        .writes()
        .into_iter()
        .filter(|(m, _, _)| m == "PATCH")
        .count();
    assert_eq!(patches, 3, "three PATCHes, three events counted");
}

/// The reason of a registry's Ready condition.
async fn registry_ready_reason(w: &World, name: &str) -> Option<String> {
    let registries: Api<McpRegistry> = Api::namespaced(w.client.clone(), &w.ns.name);
    registries
        .get_opt(name)
        .await
        .ok()
        .flatten()
        .and_then(|r| r.status)
        .and_then(|s| s.conditions.into_iter().find(|c| c.type_ == "Ready"))
        .map(|c| c.reason)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_made_during_a_registry_outage_are_applied_within_an_interval_of_its_end() {
    const INTERVAL: Duration = Duration::from_secs(10);
    const OUTAGE: Duration = Duration::from_secs(45);
    let w = World::with("ctl-outage", SimConfig::default(), "10s").await;
    // Three registries, each with one server: three independent draws of the checks'
    // jitter (with the uncapped backoff, all three back within 15 s of a 45 s outage is
    // a chance of about 1 in 400).
    let names = ["a", "b", "c"];
    let mut yaml = String::from(
        "apiVersion: v1\nkind: Secret\nmetadata: {name: pais-token, namespace: NS}\nstringData: {token: pais-token}\n",
    );
    for n in names {
        yaml.push_str(&format!(
            "---
apiVersion: mcpsync.dev/v1alpha1
kind: McpRegistry
metadata: {{name: pais-{n}, namespace: NS}}
spec:
  provider:
    pais:
      tokenSecretRef: {{name: pais-token, key: token}}
  baseUrl: {base}
  allowInsecureHttp: true
---
apiVersion: mcpsync.dev/v1alpha1
kind: McpServer
metadata: {{name: server-{n}, namespace: NS}}
spec:
  registryRef: {{name: pais-{n}}}
  displayName: Tools {n}
  url: https://{n}.example.com/mcp
  transport: StreamableHttp
  description: before
",
            base = w.sim.base_url("pais")
        ));
    }
    w.apply(&yaml);
    for n in names {
        w.wait_status(&format!("server-{n}"), "Ready", ready).await;
    }

    // The outage: every call answered 503 (Retry-After: 1). A touched Secret makes every
    // registry check at once, so that their backoff grows over the whole outage.
    w.sim.faults().push_next(NextFault {
        provider: Some(Provider::Pais),
        status: 503,
        retry_after: None,
        count: u32::MAX,
        drop: false,
        after: false,
    });
    let outage = Instant::now();
    w.apply("apiVersion: v1\nkind: Secret\nmetadata: {name: pais-token, namespace: NS, labels: {touched: 'yes'}}\nstringData: {token: pais-token}\n");
    for n in names {
        let registry = format!("pais-{n}");
        while registry_ready_reason(&w, &registry).await.as_deref() != Some("Unreachable") {
            assert!(
                outage.elapsed() < Duration::from_secs(20),
                "{registry} never Unreachable"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    // The changes, made during the outage.
    let servers = w.servers();
    for n in names {
        let patch = json!({"spec": {"description": "during the outage"}});
        servers
            .patch(
                &format!("server-{n}"),
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await
            .unwrap();
    }
    // Refused while their registry is not ready: nothing requeues them, only the
    // registry's next successful check wakes them.
    for n in names {
        w.wait_status(
            &format!("server-{n}"),
            "RegistryNotReady",
            not_ready_with("RegistryNotReady"),
        )
        .await;
    }
    tokio::time::sleep(OUTAGE.saturating_sub(outage.elapsed())).await;
    w.sim.faults().clear();
    w.sim.clear_log();
    let ended = Instant::now();

    for n in names {
        w.wait_status(&format!("server-{n}"), "the change applied", |s| {
            s.observed_generation == Some(2) && ready(s)
        })
        .await;
    }
    let late = ended.elapsed();
    let patched = w
        .writes()
        .into_iter()
        .filter(|(m, _, body)| {
            m == "PATCH"
                && body
                    .as_ref()
                    .is_some_and(|b| b["description"] == "during the outage")
        })
        .count();
    assert_eq!(
        patched,
        names.len(),
        "each change PATCHed once after the outage"
    );
    // One interval for the registry's next check, and a few seconds for the check's
    // status write to wake its server and that server's listing and PATCH.
    assert!(
        late <= INTERVAL + Duration::from_secs(5),
        "the changes were applied {late:?} after the outage ended (interval {INTERVAL:?})"
    );
    eprintln!("applied {late:?} after a {OUTAGE:?} outage");
}

/// The sum of the `mcpsync_servers` series in a `/metrics` text.
fn servers_gauge(metrics: &str) -> f64 {
    metrics
        .lines()
        .filter(|l| l.starts_with("mcpsync_servers{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleted_servers_and_registries_leave_no_state_and_their_servers_learn_it() {
    const N: usize = 50;
    let mut w = World::start("ctl-gone").await;
    w.operator = None;
    let metrics_addr = format!("127.0.0.1:{}", free_port());
    w.operator = Some(Operator::start_with(
        &w.ns.name,
        "30s",
        &[
            "--metrics-addr",
            &metrics_addr,
            "--probe-addr",
            "127.0.0.1:0",
        ],
        &[],
    ));
    let metrics_url = format!("http://{metrics_addr}/metrics");
    w.composio_registry();
    // Retain: no finalizer, so the operator never sees these servers being deleted; only
    // the watch's delete events tell it they are gone.
    let servers: Vec<String> = (0..N)
        .map(|i| {
            format!(
                "apiVersion: mcpsync.dev/v1alpha1
kind: McpServer
metadata: {{name: churn-{i}, namespace: NS}}
spec:
  registryRef: {{name: composio}}
  displayName: churn-tools-{i}
  toolkits: [github]
  deletionPolicy: Retain
"
            )
        })
        .collect();
    w.apply(&servers.join("---\n"));
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let text = wait_http(&metrics_url, 200).await;
        if servers_gauge(&text) as usize == N {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{N} servers never counted:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let out = env().kubectl_output(
        &[
            "delete",
            "mcpservers",
            "--all",
            "-n",
            &w.ns.name,
            "--wait=false",
        ],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let started = Instant::now();
    let text = loop {
        let text = wait_http(&metrics_url, 200).await;
        if servers_gauge(&text) == 0.0 {
            break text;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "deleted servers still counted:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    eprintln!(
        "{N} deleted servers uncounted after {:?}",
        started.elapsed()
    );
    assert!(
        !text.contains("churn-"),
        "a series names a deleted server:\n{text}"
    );
    assert!(
        !text.lines().any(|l| l.starts_with("mcpsync_servers{")),
        "no series left for states no server is in:\n{text}"
    );

    // A deleted registry: its server learns at once, not at its next sync.
    w.apply(
        "apiVersion: mcpsync.dev/v1alpha1
kind: McpServer
metadata: {name: left, namespace: NS}
spec:
  registryRef: {name: composio}
  displayName: left-tools
  toolkits: [github]
  deletionPolicy: Retain
",
    );
    w.wait_status("left", "Ready", ready).await;
    let registries: Api<McpRegistry> = Api::namespaced(w.client.clone(), &w.ns.name);
    registries
        .delete("composio", &DeleteParams::default())
        .await
        .unwrap();
    let started = Instant::now();
    loop {
        let status = w
            .servers()
            .get("left")
            .await
            .ok()
            .and_then(|s| s.status)
            .unwrap_or_default();
        let message = status
            .conditions
            .iter()
            .find(|c| c.type_ == "Ready")
            .map(|c| c.message.clone())
            .unwrap_or_default();
        if not_ready_with("RegistryNotReady")(&status) && message.contains("which is not") {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the server of a deleted registry did not learn it (interval 30 s): {status:#?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    eprintln!(
        "server reported its registry gone after {:?}",
        started.elapsed()
    );
    let text = wait_http(&metrics_url, 200).await;
    let series = format!("registry=\"McpRegistry/{}/composio\"", w.ns.name);
    assert!(
        !text.contains(&series),
        "the deleted registry's series remain:\n{text}"
    );
}
