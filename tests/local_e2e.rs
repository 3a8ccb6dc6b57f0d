//! End-to-end tests of the cluster-less mode (`plan` / `apply` / `delete`) against the
//! in-process registry simulator: each test starts its own simulator on 127.0.0.1:0,
//! writes manifests pointing at it into a temporary folder, drives the library or the
//! real binary, and asserts on the exact request bodies the simulator received.

use std::path::PathBuf;
use std::process::Output;
use std::time::{Duration, Instant};

use mcpsync::api::PendingCreate;
use mcpsync::local::delete::{self, DeleteOutcome};
use mcpsync::local::run::{self, ActionKind, Mode, RunOptions, RunReport};
use mcpsync::local::state::StateFile;
use mcpsync::sim::{self, LoggedRequest, NextFault, Provider, SimConfig, SimHandle};
use serde_json::{Value, json};

mod support;
// `P` keeps the tests short: one dialect of the shared table.
use support::providers::{self, Dialect as P};

const NS: &str = "t";

/// The organization of the e2e Aitronos registry.
const ORG: &str = "org_e2e";
/// The credentials every e2e registry's Secret holds (the simulator runs unseeded).
const KEY: &str = "key-1";
const SECRET: &str = "zudu-secret";

/// The e2e manifests and requests of a dialect, from the shared table.
trait E2e {
    fn create_call(self, display: &str) -> (String, String, Option<Value>);
    fn registry_yaml(self, base: &str, key: &str) -> String;
    fn server_yaml(self, name: &str, display: &str, extra: &str) -> String;
}

impl E2e for P {
    /// The POST creating the minimal server of [`E2e::server_yaml`].
    fn create_call(self, display: &str) -> (String, String, Option<Value>) {
        (
            "POST".into(),
            self.create_path().into(),
            Some(self.server_create_body(display, ORG)),
        )
    }

    /// The registry named after the prefix, with its auth Secret.
    fn registry_yaml(self, base: &str, key: &str) -> String {
        format!(
            "apiVersion: mcpsync.dev/v1alpha1
kind: McpRegistry
metadata: {{name: {prefix}, namespace: {NS}}}
spec:
  provider: {block}
  baseUrl: {base}
  allowInsecureHttp: true
---
apiVersion: v1
kind: Secret
metadata: {{name: reg-{prefix}, namespace: {NS}}}
stringData:
  {key_name}: {key}
  {secret_name}: {SECRET}
",
            prefix = self.prefix(),
            block = self.block(&format!("reg-{}", self.prefix()), ORG),
            key_name = providers::KEY,
            secret_name = providers::SECRET,
        )
    }

    /// A minimal valid McpServer for this provider; `extra` lines are appended to spec.
    fn server_yaml(self, name: &str, display: &str, extra: &str) -> String {
        format!(
            "apiVersion: mcpsync.dev/v1alpha1
kind: McpServer
metadata: {{name: {name}, namespace: {NS}}}
spec:
  registryRef: {{name: {prefix}}}
  displayName: {display}
{base}{extra}",
            prefix = self.prefix(),
            base = self.server_spec_yaml(),
        )
    }
}

/// `request` with the credentials of the e2e registries.
fn authed(p: P, mut request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
    for (header, value) in p.auth(KEY, SECRET) {
        request = request.header(header, value);
    }
    request
}

/// One test's simulator, manifest folder and state file.
struct Env {
    sim: SimHandle,
    dir: tempfile::TempDir,
}

impl Env {
    async fn start() -> Env {
        Env::with(SimConfig::default()).await
    }

    async fn with(config: SimConfig) -> Env {
        let sim = sim::start(SimConfig {
            availability_delay: Duration::ZERO,
            ..config
        })
        .await
        .expect("simulator starts");
        Env {
            sim,
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    fn manifests(&self) -> PathBuf {
        self.dir.path().join("manifests")
    }

    fn state(&self) -> PathBuf {
        self.dir.path().join("state.yaml")
    }

    /// Writes (or overwrites) one manifest file.
    fn write(&self, file: &str, yaml: &str) {
        std::fs::create_dir_all(self.manifests()).unwrap();
        std::fs::write(self.manifests().join(file), yaml).unwrap();
    }

    fn registry(&self, p: P) {
        self.write(
            &format!("reg-{}.yaml", p.prefix()),
            &p.registry_yaml(&self.sim.base_url(p.prefix()), KEY),
        );
    }

    fn opts(&self, mode: Mode) -> RunOptions {
        RunOptions {
            paths: vec![self.manifests()],
            state_path: self.state(),
            mode,
            base_url_override: None,
            wait_for_state: false,
            prune: false,
            progress: None,
        }
    }

    async fn run(&self, mode: Mode) -> RunReport {
        run::run(&self.opts(mode), jiff::Timestamp::now())
            .await
            .expect("run starts")
    }

    /// Clears the log, applies, and returns the report.
    async fn apply(&self) -> RunReport {
        self.sim.clear_log();
        self.run(Mode::Apply).await
    }

    fn state_file(&self) -> StateFile {
        StateFile::load(&self.state()).expect("state file loads")
    }

    fn external_id(&self, name: &str) -> String {
        self.state_file()
            .get(&format!("{NS}/{name}"))
            .and_then(|s| s.status.external_id.clone())
            .unwrap_or_else(|| panic!("no externalId for {name}"))
    }

    /// Every non-GET request in the log.
    fn writes(&self) -> Vec<LoggedRequest> {
        self.sim
            .requests()
            .into_iter()
            .filter(|r| r.method != "GET")
            .collect()
    }

    /// Runs the real binary with `args` (the manifests and state file are appended).
    async fn cli(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_mcpsync"));
        cmd.args(args)
            .arg("-f")
            .arg(self.manifests())
            .arg("--state")
            .arg(self.state())
            .env_remove("RUST_LOG");
        for (k, v) in env {
            cmd.env(k, v);
        }
        tokio::task::spawn_blocking(move || cmd.output().expect("binary runs"))
            .await
            .unwrap()
    }
}

/// `(method, path, body)` of each request, for exact comparisons.
fn calls(requests: &[LoggedRequest]) -> Vec<(String, String, Option<Value>)> {
    requests
        .iter()
        .map(|r| (r.method.clone(), r.path.clone(), r.body.clone()))
        .collect()
}

fn result<'a>(report: &'a RunReport, name: &str) -> &'a run::ServerResult {
    let key = format!("{NS}/{name}");
    report
        .servers
        .iter()
        .find(|s| s.server == key)
        .unwrap_or_else(|| panic!("no result for {key}: {report:#?}"))
}

fn condition(status: &mcpsync::api::McpServerStatus, t: &str) -> (String, String) {
    let c = status
        .conditions
        .iter()
        .find(|c| c.type_ == t)
        .unwrap_or_else(|| panic!("no {t} condition in {status:#?}"));
    (c.status.clone(), c.reason.clone())
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Changes a record behind mcpsync's back through the provider's own PATCH endpoint.
async fn remote_patch(env: &Env, p: P, id: &str, body: Value) {
    let url = format!("{}{}", env.sim.base_url(p.prefix()), p.record_path(id));
    let req = reqwest::Client::new().patch(&url).json(&body);
    let req = authed(p, req);
    let status = req.send().await.unwrap().status();
    assert!(status.is_success(), "remote PATCH {url}: {status}");
}

// ---- 1. create, then nothing ---------------------------------------------------------

async fn first_apply_creates_and_second_sends_nothing(p: P) {
    let env = Env::start().await;
    env.registry(p);
    env.write(
        "servers.yaml",
        &format!(
            "{}---\n{}",
            p.server_yaml("one", "Server One", ""),
            p.server_yaml("two", "Server Two", "")
        ),
    );
    let report = env.apply().await;
    assert!(!report.has_errors(), "{report:#?}");
    let writes = env.writes();
    assert_eq!(
        calls(&writes),
        vec![p.create_call("Server One"), p.create_call("Server Two")],
        "one POST per server, nothing else"
    );
    assert!(writes.iter().all(|r| (200..300).contains(&r.status)));
    for name in ["one", "two"] {
        assert_eq!(result(&report, name).action, ActionKind::Create);
        let id = env.external_id(name);
        assert!(env.sim.stored_record(p.sim(), &id).is_some(), "{name}");
    }
    let second = env.apply().await;
    assert!(!second.has_errors() && !second.has_changes(), "{second:#?}");
    for name in ["one", "two"] {
        assert_eq!(result(&second, name).action, ActionKind::InSync);
    }
    assert_eq!(calls(&env.writes()), vec![], "second apply wrote");
    env.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_then_no_write_aitronos() {
    first_apply_creates_and_second_sends_nothing(P::Aitronos).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_then_no_write_composio() {
    first_apply_creates_and_second_sends_nothing(P::Composio).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_then_no_write_pais() {
    first_apply_creates_and_second_sends_nothing(P::Pais).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_then_no_write_zudu_wrapped() {
    first_apply_creates_and_second_sends_nothing(P::Zudu).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_then_no_write_zudu_flat() {
    first_apply_creates_and_second_sends_nothing(P::ZuduFlat).await;
}

// ---- 2. a one-field change -----------------------------------------------------------

/// Applies `before`, then `after`: exactly one PATCH holding `expected`, then nothing.
async fn change_one_field(p: P, before: &str, after: &str, expected: Value) {
    let env = Env::start().await;
    env.registry(p);
    env.write("s.yaml", &p.server_yaml("s", "Server One", before));
    let first = env.apply().await;
    assert!(!first.has_errors(), "{first:#?}");
    let id = env.external_id("s");
    env.write("s.yaml", &p.server_yaml("s", "Server One", after));
    let report = env.apply().await;
    assert_eq!(
        result(&report, "s").action,
        ActionKind::Patch,
        "{report:#?}"
    );
    assert_eq!(
        calls(&env.writes()),
        vec![("PATCH".into(), p.record_path(&id), Some(expected))]
    );
    assert_eq!(
        calls(&{
            env.apply().await;
            env.writes()
        }),
        vec![]
    );
    env.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_field_change_sends_that_field_only_pais() {
    change_one_field(
        P::Pais,
        "  description: old text\n",
        "  description: new text\n",
        json!({"description": "new text"}),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_field_change_sends_that_field_only_zudu_wrapped() {
    change_one_field(
        P::Zudu,
        "  description: old text\n",
        "  description: new text\n",
        json!({"config": {"description": "new text"}}),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_field_change_sends_that_field_only_zudu_flat() {
    change_one_field(
        P::ZuduFlat,
        "  description: old text\n",
        "  description: new text\n",
        json!({"description": "new text"}),
    )
    .await;
}

/// Providers without `description`: the name changes instead.
async fn rename(p: P) {
    let env = Env::start().await;
    env.registry(p);
    env.write("s.yaml", &p.server_yaml("s", "Old Name", ""));
    assert!(!env.apply().await.has_errors());
    let id = env.external_id("s");
    env.write("s.yaml", &p.server_yaml("s", "New Name", ""));
    let report = env.apply().await;
    assert_eq!(
        result(&report, "s").action,
        ActionKind::Patch,
        "{report:#?}"
    );
    assert_eq!(
        calls(&env.writes()),
        vec![(
            "PATCH".into(),
            p.record_path(&id),
            Some(json!({"name": "New Name"}))
        )]
    );
    env.apply().await;
    assert_eq!(calls(&env.writes()), vec![]);
    env.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_field_change_sends_that_field_only_composio() {
    rename(P::Composio).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_field_change_sends_that_field_only_aitronos() {
    rename(P::Aitronos).await;
}

// ---- 3. a rotated Secret -------------------------------------------------------------

fn secret_yaml(name: &str, key: &str, value: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: {name}, namespace: {NS}}}\nstringData:\n  {key}: {value}\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotated_secret_resends_that_field_alone_then_nothing() {
    let env = Env::start().await;
    env.registry(P::Pais);
    env.registry(P::Aitronos);
    let pais = P::Pais.server_yaml(
        "docs",
        "Docs",
        "  description: handbook\n  headers:\n    - name: User-Agent\n      value: e2e\n    - name: Authorization\n      valueFrom: {secretKeyRef: {name: docs-token, key: header}}\n",
    );
    let ait = P::Aitronos.server_yaml(
        "gh",
        "GitHub",
        "  credentials:\n    authType: api_key\n    secretRef: {name: gh-creds}\n",
    );
    env.write("servers.yaml", &format!("{pais}---\n{ait}"));
    env.write(
        "s1.yaml",
        &secret_yaml("docs-token", "header", "Bearer one"),
    );
    env.write("s2.yaml", &secret_yaml("gh-creds", "api_key", "cred-one"));
    let first = env.apply().await;
    assert!(!first.has_errors(), "{first:#?}");
    let (pais_id, ait_id) = (env.external_id("docs"), env.external_id("gh"));

    env.write(
        "s1.yaml",
        &secret_yaml("docs-token", "header", "Bearer two"),
    );
    env.write("s2.yaml", &secret_yaml("gh-creds", "api_key", "cred-two"));
    let report = env.apply().await;
    assert!(!report.has_errors(), "{report:#?}");
    let mut writes = calls(&env.writes());
    writes.sort_by(|a, b| a.1.cmp(&b.1));
    assert_eq!(
        writes,
        vec![
            (
                "PATCH".into(),
                P::Pais.record_path(&pais_id),
                // The whole list (PAIS `headers` is one field), ordered by name.
                Some(json!({"headers": [
                    {"name": "Authorization", "value": "***", "is_secret": true},
                    {"name": "User-Agent", "value": "***", "is_secret": false}
                ]}))
            ),
            (
                "PATCH".into(),
                P::Aitronos.record_path(&ait_id),
                Some(json!({"credentials": {"api_key": "***"}}))
            ),
        ]
    );
    let stored = env.sim.stored_record(Provider::Pais, &pais_id).unwrap();
    assert_eq!(
        stored["headers"],
        json!([
            {"name": "Authorization", "value": "Bearer two", "is_secret": true},
            {"name": "User-Agent", "value": "e2e", "is_secret": false}
        ])
    );
    let stored = env.sim.stored_record(Provider::Aitronos, &ait_id).unwrap();
    assert_eq!(stored["credentials"], json!({"api_key": "cred-two"}));

    env.apply().await;
    assert_eq!(calls(&env.writes()), vec![]);
    env.sim.shutdown().await;
}

// ---- 4. a field removed from spec ----------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removed_field_is_reset_with_null_on_pais_and_left_alone_on_zudu() {
    let env = Env::start().await;
    env.registry(P::Pais);
    env.registry(P::Zudu);
    env.registry(P::ZuduFlat);
    let with = |p: P| p.server_yaml(p.prefix(), "Described", "  description: to be removed\n");
    let without = |p: P| p.server_yaml(p.prefix(), "Described", "");
    let all = [P::Pais, P::Zudu, P::ZuduFlat];
    env.write("servers.yaml", &all.map(with).join("---\n"));
    assert!(!env.apply().await.has_errors());
    let pais_id = env.external_id("pais");
    env.write("servers.yaml", &all.map(without).join("---\n"));
    let report = env.apply().await;
    assert!(!report.has_errors(), "{report:#?}");
    assert_eq!(
        calls(&env.writes()),
        vec![(
            "PATCH".into(),
            P::Pais.record_path(&pais_id),
            Some(json!({"description": null}))
        )]
    );
    for p in [P::Zudu, P::ZuduFlat] {
        let id = env.external_id(p.prefix());
        let stored = env.sim.stored_record(p.sim(), &id).unwrap();
        assert_eq!(stored["description"], json!("to be removed"), "{p:?}");
    }
    env.apply().await;
    assert_eq!(calls(&env.writes()), vec![]);
    env.sim.shutdown().await;
}

// ---- 5. remote drift -----------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_drift_is_repaired_with_one_patch_of_that_field() {
    let env = Env::start().await;
    for p in [P::Pais, P::Zudu, P::Composio] {
        env.registry(p);
    }
    let servers = [
        P::Pais.server_yaml("pais", "Docs", "  description: original\n"),
        P::Zudu.server_yaml("zudu", "Docs", "  description: original\n"),
        P::Composio.server_yaml("composio", "Code Tools", ""),
    ];
    env.write("servers.yaml", &servers.join("---\n"));
    assert!(!env.apply().await.has_errors());
    let ids = ["pais", "zudu", "composio"].map(|n| env.external_id(n));
    remote_patch(&env, P::Pais, &ids[0], json!({"description": "edited"})).await;
    remote_patch(
        &env,
        P::Zudu,
        &ids[1],
        json!({"config": {"description": "edited"}}),
    )
    .await;
    remote_patch(&env, P::Composio, &ids[2], json!({"name": "Renamed in UI"})).await;
    let report = env.apply().await;
    assert!(!report.has_errors(), "{report:#?}");
    let mut writes = calls(&env.writes());
    writes.sort_by(|a, b| a.1.cmp(&b.1));
    let mut expected = vec![
        (
            "PATCH".to_string(),
            P::Pais.record_path(&ids[0]),
            Some(json!({"description": "original"})),
        ),
        (
            "PATCH".to_string(),
            P::Zudu.record_path(&ids[1]),
            Some(json!({"config": {"description": "original"}})),
        ),
        (
            "PATCH".to_string(),
            P::Composio.record_path(&ids[2]),
            Some(json!({"name": "Code Tools"})),
        ),
    ];
    expected.sort_by(|a, b| a.1.cmp(&b.1));
    assert_eq!(writes, expected);
    env.apply().await;
    assert_eq!(calls(&env.writes()), vec![]);
    env.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn observe_only_drift_is_reported_not_written() {
    let env = Env::start().await;
    env.registry(P::Pais);
    env.write(
        "s.yaml",
        &P::Pais.server_yaml("docs", "Docs", "  description: original\n"),
    );
    assert!(!env.apply().await.has_errors());
    let id = env.external_id("docs");
    env.write(
        "s.yaml",
        &P::Pais.server_yaml(
            "docs",
            "Docs",
            "  description: original\n  managementPolicy: ObserveOnly\n",
        ),
    );
    remote_patch(&env, P::Pais, &id, json!({"description": "edited"})).await;
    env.sim.clear_log();

    let plan = env.cli(&["plan"], &[]).await;
    let plan_out = text(&plan.stdout);
    assert!(plan_out.contains("drifted"), "{plan_out}");
    assert!(plan_out.contains("description"), "{plan_out}");

    let apply = env.cli(&["apply"], &[]).await;
    let out = text(&apply.stdout);
    assert!(out.contains("drifted"), "{out}\n{}", text(&apply.stderr));
    assert!(out.contains("Synced=False(Drifted)"), "{out}");

    let json_out = env.cli(&["apply", "-o", "json"], &[]).await;
    let v: Value = serde_json::from_slice(&json_out.stdout).expect("json output");
    assert_eq!(v["servers"][0]["action"], json!("drift"), "{v:#}");

    assert_eq!(calls(&env.writes()), vec![], "ObserveOnly wrote");
    let stored = env.sim.stored_record(Provider::Pais, &id).unwrap();
    assert_eq!(stored["description"], json!("edited"));

    let state = env.state_file();
    let status = &state.get(&format!("{NS}/docs")).unwrap().status;
    assert!(
        status.drift.iter().any(|d| d.contains("description")),
        "{status:#?}"
    );
    assert_eq!(
        condition(status, "Synced"),
        ("False".to_string(), "Drifted".to_string())
    );
    env.sim.shutdown().await;
}

// ---- 6. 429 with Retry-After ---------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_429_is_waited_out() {
    let env = Env::start().await;
    env.registry(P::Pais);
    env.write("s.yaml", &P::Pais.server_yaml("docs", "Docs", ""));
    env.sim.faults().push_next(NextFault {
        provider: Some(Provider::Pais),
        status: 429,
        retry_after: Some(1),
        count: 1,
        drop: false,
        after: false,
    });
    let started = Instant::now();
    let report = env.apply().await;
    let elapsed = started.elapsed();
    assert!(!report.has_errors(), "{report:#?}");
    assert_eq!(result(&report, "docs").action, ActionKind::Create);
    assert!(elapsed >= Duration::from_millis(900), "{elapsed:?}");
    let log = env.sim.requests();
    assert_eq!(log[0].status, 429, "{:#?}", log);
    assert_eq!(
        (&log[1].method, &log[1].path, &log[1].query),
        (&log[0].method, &log[0].path, &log[0].query),
        "the refused request is sent again: {log:#?}"
    );
    assert!((200..300).contains(&log[1].status));
    // PAIS names are not unique, so no look-up precedes the create: the refused request
    // is the POST itself, re-sent once after the 429 (which created nothing).
    let posts: Vec<u16> = log
        .iter()
        .filter(|r| r.method == "POST")
        .map(|r| r.status)
        .collect();
    assert_eq!(posts, vec![429, 201], "{log:#?}");
    env.sim.shutdown().await;
}

// ---- 7. Zudu 409 ---------------------------------------------------------------------

/// Asserts the server stalled on a conflict, in the binary's JSON output and the state.
fn assert_conflict(env: &Env, out: &Output, name: &str, action: &str) {
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).expect("json output");
    let key = format!("{NS}/{name}");
    let server = v["servers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["server"] == json!(key))
        .unwrap();
    assert_eq!(server["action"], json!(action), "{v:#}");
    let state = env.state_file();
    let status = &state.get(&key).unwrap().status;
    assert_eq!(
        condition(status, "Stalled"),
        ("True".to_string(), "Conflict".to_string()),
        "{status:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zudu_conflict_on_create_stops_without_retry_storm() {
    let env = Env::start().await;
    env.registry(P::Zudu);
    // Two McpServers with one displayName in one Zudu organization.
    env.write(
        "s.yaml",
        &[
            P::Zudu.server_yaml("a-first", "Same Name", ""),
            P::Zudu.server_yaml("b-second", "Same Name", "  description: second\n"),
        ]
        .join("---\n"),
    );
    env.sim.clear_log();
    let out = env.cli(&["apply", "-o", "json"], &[]).await;
    assert_conflict(&env, &out, "b-second", "failed");
    let writes = env.writes();
    let statuses: Vec<_> = writes
        .iter()
        .map(|r| (r.method.as_str(), r.status))
        .collect();
    assert_eq!(
        statuses,
        vec![("POST", 201), ("POST", 409)],
        "one attempt each: {:#?}",
        calls(&writes)
    );
    // The next run finds the first server's record by name: it must not take it over.
    let first_id = env.external_id("a-first");
    env.sim.clear_log();
    let out = env.cli(&["apply", "-o", "json"], &[]).await;
    assert_conflict(&env, &out, "b-second", "refused");
    assert_eq!(calls(&env.writes()), vec![], "no write for either server");
    let state = env.state_file();
    let second = &state.get(&format!("{NS}/b-second")).unwrap().status;
    assert_eq!(second.external_id, None, "{second:#?}");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        v.to_string().contains("already managed by t/a-first"),
        "{v:#}"
    );
    let stored = env.sim.stored_record(Provider::Zudu, &first_id).unwrap();
    assert_eq!(stored["description"], Value::Null, "{stored}");
    env.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zudu_conflict_on_patch_stops_without_retry_storm() {
    let env = Env::start().await;
    env.registry(P::Zudu);
    // Someone else's record holds the name this server's record is to get.
    let url = format!("{}/api/mcp-servers", env.sim.base_url("zudu"));
    let answer = authed(P::Zudu, reqwest::Client::new().post(&url))
        .json(&json!({"config": {"name": "Taken", "url": "https://other.example.com/mcp"}}))
        .send()
        .await
        .unwrap();
    assert!(answer.status().is_success(), "{}", answer.status());
    env.write("s.yaml", &P::Zudu.server_yaml("clash", "Mine", ""));
    assert!(!env.apply().await.has_errors());
    let id = env.external_id("clash");
    env.write(
        "s.yaml",
        &P::Zudu.server_yaml("clash", "Taken", &format!("  externalId: {id}\n")),
    );
    for _ in 0..2 {
        env.sim.clear_log();
        let out = env.cli(&["apply", "-o", "json"], &[]).await;
        assert_conflict(&env, &out, "clash", "failed");
        assert_eq!(
            calls(&env.writes()),
            vec![(
                "PATCH".into(),
                P::Zudu.record_path(&id),
                Some(json!({"config": {"name": "Taken"}}))
            )],
            "exactly one attempt per run"
        );
        assert!(env.writes().iter().all(|r| r.status == 409));
    }
    env.sim.shutdown().await;
}

// ---- 8. canary secrets ---------------------------------------------------------------

const CANARIES: [&str; 5] = [
    "canary-HEADER-5a1f",
    "canary-CRED-9b2e",
    "canary-KEY-77c3",
    "canary-HEADER2-c0de",
    "canary-CRED2-f00d",
];

fn assert_no_canary(what: &str, s: &str) {
    for c in &CANARIES {
        assert!(!s.contains(c), "{what} holds {c}:\n{s}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn canary_secrets_never_reach_output_logs_or_state() {
    for format in ["text", "yaml", "json"] {
        // Only the canary key is accepted, so a successful call proves it was sent.
        let seed_dir = tempfile::tempdir().unwrap();
        let seed = seed_dir.path().join("seed.yaml");
        std::fs::write(
            &seed,
            "aitronos:\n  credentials: [{api_key: canary-KEY-77c3, user_id: usr_e2e}]\n",
        )
        .unwrap();
        let env = Env::with(SimConfig {
            seed: Some(seed),
            ..SimConfig::default()
        })
        .await;
        env.registry(P::Pais);
        env.write(
            "reg-aitronos.yaml",
            &P::Aitronos.registry_yaml(&env.sim.base_url("aitronos"), "canary-KEY-77c3"),
        );
        let pais = P::Pais.server_yaml(
            "docs",
            "Docs",
            "  headers:\n    - name: Authorization\n      valueFrom: {secretKeyRef: {name: docs-token, key: header}}\n",
        );
        let ait = P::Aitronos.server_yaml(
            "gh",
            "GitHub",
            "  credentials:\n    authType: api_key\n    secretRef: {name: gh-creds}\n",
        );
        env.write("servers.yaml", &format!("{pais}---\n{ait}"));
        env.write(
            "s1.yaml",
            &secret_yaml("docs-token", "header", "canary-HEADER-5a1f"),
        );
        env.write(
            "s2.yaml",
            &secret_yaml("gh-creds", "api_key", "canary-CRED-9b2e"),
        );

        let trace = [("RUST_LOG", "trace")];
        let mut outputs = Vec::new();
        let plan = env.cli(&["plan", "-o", format], &trace).await;
        assert_eq!(plan.status.code(), Some(2), "{}", text(&plan.stderr));
        outputs.push(("plan", plan));
        let apply = env.cli(&["apply", "-o", format], &trace).await;
        assert_eq!(apply.status.code(), Some(0), "{}", text(&apply.stderr));
        outputs.push(("apply", apply));
        let (pais_id, ait_id) = (env.external_id("docs"), env.external_id("gh"));
        // Rotate: the changed secret fields are shown and sent again.
        env.write(
            "s1.yaml",
            &secret_yaml("docs-token", "header", "canary-HEADER2-c0de"),
        );
        env.write(
            "s2.yaml",
            &secret_yaml("gh-creds", "api_key", "canary-CRED2-f00d"),
        );
        let plan = env.cli(&["plan", "-o", format], &trace).await;
        assert_eq!(plan.status.code(), Some(2), "{}", text(&plan.stdout));
        outputs.push(("plan after rotation", plan));
        let apply = env.cli(&["apply", "-o", format], &trace).await;
        assert_eq!(apply.status.code(), Some(0), "{}", text(&apply.stdout));
        outputs.push(("apply after rotation", apply));

        for (what, out) in &outputs {
            let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
            assert!(!stdout.is_empty(), "{what} -o {format}: empty stdout");
            assert!(
                stderr.contains("TRACE") || stderr.contains("DEBUG"),
                "{what}: trace logging is on"
            );
            assert_no_canary(&format!("{what} -o {format} stdout"), &stdout);
            assert_no_canary(&format!("{what} -o {format} stderr"), &stderr);
        }
        let state = std::fs::read_to_string(env.state()).unwrap();
        assert_no_canary("state file", &state);
        let log = serde_json::to_string(&env.sim.requests()).unwrap();
        assert_no_canary("simulator log (masked)", &log);

        // The registries did receive them.
        let stored = env.sim.stored_record(Provider::Pais, &pais_id).unwrap();
        assert!(
            stored.to_string().contains("canary-HEADER2-c0de"),
            "{stored}"
        );
        let stored = env.sim.stored_record(Provider::Aitronos, &ait_id).unwrap();
        assert_eq!(
            stored["credentials"],
            json!({"api_key": "canary-CRED2-f00d"})
        );
        assert!(
            env.sim
                .requests()
                .iter()
                .filter(|r| r.provider == "aitronos")
                .all(|r| r.status != 401),
            "the canary key was accepted"
        );
        env.sim.shutdown().await;
    }
}

// ---- 9. plan exit codes --------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_exit_codes_and_plan_never_writes() {
    let env = Env::start().await;
    env.registry(P::Pais);
    env.write(
        "s.yaml",
        &P::Pais.server_yaml("docs", "Docs", "  description: one\n"),
    );
    env.sim.clear_log();
    let plan = env.cli(&["plan"], &[]).await;
    assert_eq!(plan.status.code(), Some(2), "{}", text(&plan.stderr));
    assert!(
        text(&plan.stdout).contains("would create"),
        "{}",
        text(&plan.stdout)
    );
    assert_eq!(calls(&env.writes()), vec![]);
    assert!(!env.state().exists(), "plan created the state file");

    let apply = env.cli(&["apply"], &[]).await;
    assert_eq!(apply.status.code(), Some(0), "{}", text(&apply.stderr));
    let state_before = std::fs::read(env.state()).unwrap();

    env.sim.clear_log();
    let plan = env.cli(&["plan"], &[]).await;
    assert_eq!(plan.status.code(), Some(0), "{}", text(&plan.stdout));

    env.write(
        "s.yaml",
        &P::Pais.server_yaml("docs", "Docs", "  description: two\n"),
    );
    let plan = env.cli(&["plan"], &[]).await;
    assert_eq!(plan.status.code(), Some(2), "{}", text(&plan.stdout));
    assert!(
        text(&plan.stdout).contains("would patch 1 field"),
        "{}",
        text(&plan.stdout)
    );

    // A missing Secret, then a Secret lacking the key: exit 1, naming both.
    let header = "  headers:\n    - name: Authorization\n      valueFrom: {secretKeyRef: {name: tok, key: the-key}}\n";
    env.write("s.yaml", &P::Pais.server_yaml("docs", "Docs", header));
    let plan = env.cli(&["plan"], &[]).await;
    assert_eq!(plan.status.code(), Some(1), "{}", text(&plan.stdout));
    let all = format!("{}{}", text(&plan.stdout), text(&plan.stderr));
    assert!(
        all.contains("Secret t/tok not found") && all.contains("the-key"),
        "names the Secret and key: {all}"
    );
    env.write("tok.yaml", &secret_yaml("tok", "other-key", "v"));
    let plan = env.cli(&["plan"], &[]).await;
    assert_eq!(plan.status.code(), Some(1), "{}", text(&plan.stdout));
    let all = format!("{}{}", text(&plan.stdout), text(&plan.stderr));
    assert!(
        all.contains("Secret t/tok") && all.contains("\"the-key\""),
        "names the Secret and key: {all}"
    );

    assert_eq!(calls(&env.writes()), vec![], "plan wrote to a registry");
    assert_eq!(
        std::fs::read(env.state()).unwrap(),
        state_before,
        "plan wrote the state"
    );
    env.sim.shutdown().await;
}

// ---- 10. delete ----------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_honours_policy_and_counts_404_as_done() {
    let env = Env::start().await;
    env.registry(P::Pais);
    env.registry(P::ZuduFlat);
    env.write(
        "servers.yaml",
        &[
            P::Pais.server_yaml("deleted", "Deleted", "  deletionPolicy: Delete\n"),
            P::Pais.server_yaml("retained", "Retained", "  deletionPolicy: Retain\n"),
            P::ZuduFlat.server_yaml("gone", "Gone", "  deletionPolicy: Delete\n"),
            P::Pais.server_yaml("observed", "Observed", "  deletionPolicy: Delete\n"),
        ]
        .join("---\n"),
    );
    assert!(!env.apply().await.has_errors());
    let ids = ["deleted", "retained", "gone", "observed"].map(|n| env.external_id(n));
    // "observed" is switched to ObserveOnly after its record exists: never deleted.
    let observed = P::Pais.server_yaml(
        "observed",
        "Observed",
        "  deletionPolicy: Delete\n  managementPolicy: ObserveOnly\n",
    );
    env.write(
        "servers.yaml",
        &[
            P::Pais.server_yaml("deleted", "Deleted", "  deletionPolicy: Delete\n"),
            P::Pais.server_yaml("retained", "Retained", "  deletionPolicy: Retain\n"),
            P::ZuduFlat.server_yaml("gone", "Gone", "  deletionPolicy: Delete\n"),
            observed,
        ]
        .join("---\n"),
    );
    // "gone" disappears behind mcpsync's back.
    let url = format!(
        "{}{}",
        env.sim.base_url("zudu-flat"),
        P::ZuduFlat.record_path(&ids[2])
    );
    let answer = authed(P::ZuduFlat, reqwest::Client::new().delete(&url))
        .send()
        .await
        .unwrap();
    assert!(answer.status().is_success());
    env.sim.clear_log();

    let results = delete::delete(&env.opts(Mode::Apply), jiff::Timestamp::now())
        .await
        .unwrap();
    let outcome = |n: &str| {
        results
            .iter()
            .find(|r| r.server == format!("{NS}/{n}"))
            .unwrap()
            .outcome
    };
    assert_eq!(outcome("deleted"), DeleteOutcome::Deleted);
    assert_eq!(outcome("retained"), DeleteOutcome::Retained);
    assert_eq!(outcome("gone"), DeleteOutcome::AlreadyGone);
    assert_eq!(outcome("observed"), DeleteOutcome::Retained);
    assert!(env.sim.stored_record(Provider::Pais, &ids[3]).is_some());
    let writes = env.writes();
    let mut deletes: Vec<_> = writes
        .iter()
        .map(|r| (r.provider.clone(), r.method.clone(), r.path.clone()))
        .collect();
    deletes.sort();
    assert_eq!(
        deletes,
        vec![
            ("pais".into(), "DELETE".into(), P::Pais.record_path(&ids[0])),
            (
                "zudu-flat".into(),
                "DELETE".into(),
                P::ZuduFlat.record_path(&ids[2])
            ),
        ]
    );
    assert!(env.sim.stored_record(Provider::Pais, &ids[0]).is_none());
    assert!(env.sim.stored_record(Provider::Pais, &ids[1]).is_some());
    assert!(env.state_file().is_empty(), "{:?}", env.state_file());
    env.sim.shutdown().await;
}

// ---- 11. crash between POST and status write -----------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_between_post_and_status_write_adopts_instead_of_second_post() {
    for p in [P::Pais, P::Zudu, P::Aitronos] {
        let env = Env::start().await;
        env.registry(p);
        env.write("s.yaml", &p.server_yaml("s", "Crash Test", ""));
        assert!(!env.apply().await.has_errors());
        let id = env.external_id("s");
        // The state as a crash after the POST would leave it: the intent, no id.
        let mut state = env.state_file();
        let key = format!("{NS}/s");
        let mut entry = state.get(&key).unwrap().clone();
        entry.status = Default::default();
        entry.status.pending_create = Some(PendingCreate {
            name: "Crash Test".to_string(),
            time: k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(jiff::Timestamp::now()),
        });
        state.insert(key, entry);
        state.save(&env.state()).unwrap();

        let report = env.apply().await;
        assert!(!report.has_errors(), "{p:?}: {report:#?}");
        let posts: Vec<_> = env
            .writes()
            .into_iter()
            .filter(|r| r.method == "POST")
            .collect();
        assert_eq!(calls(&posts), vec![], "{p:?}: second POST");
        assert_eq!(env.external_id("s"), id, "{p:?}: adopted");
        assert!(
            env.state_file()
                .get(&format!("{NS}/s"))
                .unwrap()
                .status
                .pending_create
                .is_none()
        );
        env.sim.shutdown().await;
    }
}

// ---- suspend ------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suspended_server_makes_no_remote_call_until_resumed() {
    let env = Env::start().await;
    env.registry(P::Pais);
    let yaml = |extra: &str| P::Pais.server_yaml("s", "Suspended", extra);
    env.write("s.yaml", &yaml("  deletionPolicy: Delete\n"));
    assert!(!env.apply().await.has_errors());
    env.write(
        "s.yaml",
        &yaml("  deletionPolicy: Delete\n  description: changed\n  suspend: true\n"),
    );
    env.sim.clear_log();
    let report = env.apply().await;
    assert_eq!(result(&report, "s").action, ActionKind::Suspended);
    let plan = run::run(&env.opts(Mode::Plan), jiff::Timestamp::now())
        .await
        .unwrap();
    assert_eq!(result(&plan, "s").action, ActionKind::Suspended);
    let deleted = delete::delete(&env.opts(Mode::Apply), jiff::Timestamp::now())
        .await
        .unwrap();
    assert_eq!(deleted[0].outcome, DeleteOutcome::Suspended);
    assert!(
        env.sim.requests().is_empty(),
        "no call at all: {:#?}",
        env.sim.requests()
    );
    assert!(
        !env.state_file().is_empty(),
        "a suspended server stays in the state file"
    );
    // Resumed: the pending change goes out as one PATCH.
    env.write(
        "s.yaml",
        &yaml("  deletionPolicy: Delete\n  description: changed\n"),
    );
    let report = env.apply().await;
    assert_eq!(result(&report, "s").action, ActionKind::Patch);
    let writes = env.writes();
    assert_eq!(writes.len(), 1, "{writes:#?}");
    assert_eq!(writes[0].body, Some(json!({"description": "changed"})));
    env.sim.shutdown().await;
}

// ---- batched observation in a shared registry -----------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_stops_at_break_even_in_a_registry_full_of_foreign_records() {
    let env = Env::start().await;
    env.registry(P::Pais);
    let servers = ["a", "b", "c"].map(|n| P::Pais.server_yaml(n, &format!("Own {n}"), ""));
    env.write("s.yaml", &servers.join("---\n"));
    assert!(!env.apply().await.has_errors());
    // 450 records of other teams: a full listing would be 5 pages of 100.
    let http = reqwest::Client::new();
    let url = format!("{}/api/v1/control/mcp-servers/", env.sim.base_url("pais"));
    for i in 0..450 {
        let body = json!({"name": format!("foreign {i}"), "url": "https://f.example.com", "transport": "SSE"});
        let answer = authed(P::Pais, http.post(&url))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(answer.status().is_success());
    }
    env.sim.clear_log();
    let plan = run::run(&env.opts(Mode::Plan), jiff::Timestamp::now())
        .await
        .unwrap();
    assert!(
        plan.servers.iter().all(|s| s.action == ActionKind::InSync),
        "{plan:#?}"
    );
    let reads: Vec<(String, String)> = env
        .sim
        .requests()
        .into_iter()
        .map(|r| (r.method, r.path))
        .collect();
    // Break-even for 3 servers is 2 pages; the oldest records (ours) come first, so the
    // truncated listing already holds them and no GET is needed.
    assert!(reads.len() <= 2 + 3, "{reads:#?}");
    assert!(reads.iter().all(|(m, _)| m == "GET"), "{reads:#?}");
    let pages = reads
        .iter()
        .filter(|(_, p)| p.ends_with("/mcp-servers/"))
        .count();
    assert!(
        pages <= 2,
        "the listing must stop at the break-even page: {reads:#?}"
    );
    env.sim.shutdown().await;
}

// ---- create exactly once --------------------------------------------------------------

/// Creates a record behind mcpsync's back through the provider's own create endpoint:
/// another team's record. Returns its id.
async fn remote_create(env: &Env, p: P, display: &str) -> String {
    let (_, path, body) = p.create_call(display);
    let url = format!("{}{}", env.sim.base_url(p.prefix()), path);
    let req = reqwest::Client::new().post(&url).json(&body);
    let req = authed(p, req);
    let answer = req.send().await.unwrap();
    assert!(answer.status().is_success(), "remote POST {url}");
    let body: Value = answer.json().await.unwrap();
    let id = body
        .pointer("/id")
        .or_else(|| body.pointer("/data/id"))
        .or_else(|| body.pointer("/data/server_id"))
        .or_else(|| body.pointer("/data/mcp_server_id"))
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("an id in {body}"));
    id.to_string()
}

/// Records of `p` in the simulator whose name is `name`.
fn stored_named(env: &Env, p: P, name: &str) -> Vec<Value> {
    env.sim
        .stored_records(p.sim())
        .into_iter()
        .filter(|r| {
            r.get("name").and_then(Value::as_str) == Some(name)
                || r.pointer("/config/name").and_then(Value::as_str) == Some(name)
        })
        .collect()
}

/// The state as a crash right after the POST would leave it: the intent, no id.
fn crash_after_post(env: &Env, server: &str, name: &str) {
    let mut state = env.state_file();
    let key = format!("{NS}/{server}");
    let mut entry = state.get(&key).unwrap().clone();
    entry.status = Default::default();
    entry.status.pending_create = Some(PendingCreate {
        name: name.to_string(),
        time: k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(jiff::Timestamp::now()),
    });
    state.insert(key, entry);
    state.save(&env.state()).unwrap();
}

fn posts(env: &Env) -> Vec<LoggedRequest> {
    env.writes()
        .into_iter()
        .filter(|r| r.method == "POST")
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_without_display_name_creates_a_record_named_after_it_and_finds_it_again() {
    for p in P::ALL {
        let env = Env::start().await;
        env.registry(p);
        let yaml = p
            .server_yaml("no-display", "X", "")
            .replace("  displayName: X\n", "");
        env.write("s.yaml", &yaml);
        let report = env.apply().await;
        assert!(!report.has_errors(), "{p:?}: {report:#?}");
        let sent = posts(&env);
        assert_eq!(sent.len(), 1, "{p:?}: {:#?}", calls(&sent));
        let body = sent[0].body.clone().unwrap_or_default();
        let name = body
            .get("name")
            .or_else(|| body.pointer("/config/name"))
            .cloned();
        assert_eq!(name, Some(json!("no-display")), "{p:?}: {body}");
        let id = env.external_id("no-display");

        // A later look-up by that name (after a crash between POST and status write)
        // finds what was created: no second record.
        crash_after_post(&env, "no-display", "no-display");
        env.sim.clear_log();
        let report = env.apply().await;
        assert!(!report.has_errors(), "{p:?}: {report:#?}");
        assert_eq!(calls(&posts(&env)), vec![], "{p:?}: a second POST");
        assert_eq!(env.external_id("no-display"), id, "{p:?}: adopted");
        assert_eq!(stored_named(&env, p, "no-display").len(), 1, "{p:?}");
        env.sim.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_the_registry_would_refuse_is_stalled_before_any_call_in_plan_and_apply() {
    let env = Env::start().await;
    env.registry(P::Pais);
    // PAIS requires url and transport on create.
    let yaml = P::Pais
        .server_yaml("no-url", "No Url", "")
        .replace("  url: https://p.example.com/mcp\n", "");
    env.write("s.yaml", &yaml);
    env.sim.clear_log();
    for mode in [Mode::Plan, Mode::Apply] {
        let report = env.run(mode).await;
        let r = result(&report, "no-url");
        assert_eq!(r.action, ActionKind::Refused, "{mode:?}: {r:#?}");
        assert_eq!(
            condition(&r.status, "Stalled"),
            ("True".to_string(), "InvalidSpec".to_string()),
            "{mode:?}"
        );
        assert!(
            r.message.as_deref().unwrap_or_default().contains("url"),
            "{mode:?}: {:?}",
            r.message
        );
    }
    assert_eq!(calls(&env.sim.requests()), vec![], "no call at all");
    let state = env.state_file();
    let status = &state.get(&format!("{NS}/no-url")).unwrap().status;
    assert_eq!(
        status.pending_create, None,
        "no intent for a create never sent"
    );
    env.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_refused_with_409_leaves_no_intent_and_never_takes_the_other_record_over() {
    let env = Env::start().await;
    env.registry(P::Composio);
    // Another team's record holds the name (the simulator keeps Composio names unique).
    let foreign = remote_create(&env, P::Composio, "Shared Name").await;
    let before = env.sim.stored_record(Provider::Composio, &foreign).unwrap();
    env.write(
        "s.yaml",
        &P::Composio
            .server_yaml("ours", "Shared Name", "")
            .replace("[github]", "[slack]"),
    );
    for run in 1..=2 {
        env.sim.clear_log();
        let report = env.apply().await;
        let r = result(&report, "ours");
        assert_eq!(r.action, ActionKind::Failed, "run {run}: {r:#?}");
        assert_eq!(
            condition(&r.status, "Stalled"),
            ("True".to_string(), "Conflict".to_string()),
            "run {run}"
        );
        assert_eq!(r.status.pending_create, None, "run {run}: intent cleared");
        assert_eq!(r.status.external_id, None, "run {run}");
        let writes = env.writes();
        assert!(
            writes.iter().all(|w| w.method == "POST" && w.status == 409),
            "run {run}: only the refused create: {:#?}",
            calls(&writes)
        );
    }
    let after = env.sim.stored_record(Provider::Composio, &foreign).unwrap();
    assert_eq!(after, before, "the other team's record is untouched");
    assert_eq!(stored_named(&env, P::Composio, "Shared Name").len(), 1);
    env.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_whose_answer_is_lost_is_looked_up_by_name_not_sent_again() {
    for drop in [false, true] {
        let env = Env::start().await;
        env.registry(P::Composio);
        env.write(
            "s.yaml",
            &P::Composio.server_yaml("lost", "Lost Answer", ""),
        );
        env.sim.faults().push_next(NextFault {
            provider: Some(Provider::Composio),
            status: 503,
            retry_after: Some(1),
            count: 1,
            drop,
            after: true,
        });
        let report = env.apply().await;
        let r = result(&report, "lost");
        assert_eq!(r.action, ActionKind::Failed, "drop={drop}: {r:#?}");
        assert_eq!(
            stored_named(&env, P::Composio, "Lost Answer").len(),
            1,
            "drop={drop}: the registry stored it once"
        );
        assert_eq!(posts(&env).len(), 1, "drop={drop}: never re-sent blindly");
        assert!(
            r.status.pending_create.is_some(),
            "drop={drop}: the intent stays"
        );

        env.sim.clear_log();
        let report = env.apply().await;
        let r = result(&report, "lost");
        assert_eq!(r.action, ActionKind::InSync, "drop={drop}: {r:#?}");
        assert_eq!(calls(&posts(&env)), vec![], "drop={drop}: adopted, no POST");
        let stored = stored_named(&env, P::Composio, "Lost Answer");
        assert_eq!(stored.len(), 1, "drop={drop}");
        assert_eq!(
            r.status.external_id.as_deref(),
            stored[0].get("id").and_then(Value::as_str),
            "drop={drop}"
        );
        env.sim.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_same_named_record_not_ours_is_a_conflict_that_says_how_to_adopt_it() {
    let env = Env::start().await;
    env.registry(P::Zudu);
    let foreign = remote_create(&env, P::Zudu, "Taken").await;
    let before = env.sim.stored_record(Provider::Zudu, &foreign).unwrap();
    env.write(
        "s.yaml",
        &P::Zudu.server_yaml("ours", "Taken", "  description: ours\n"),
    );
    env.sim.clear_log();
    let report = env.apply().await;
    let r = result(&report, "ours");
    assert_eq!(r.action, ActionKind::Refused, "{r:#?}");
    assert_eq!(
        condition(&r.status, "Stalled"),
        ("True".to_string(), "Conflict".to_string())
    );
    let message = r.message.clone().unwrap_or_default();
    assert!(
        message.contains(&format!("spec.externalId: {foreign}")),
        "{message}"
    );
    assert_eq!(calls(&env.writes()), vec![], "no write");
    assert_eq!(
        env.sim.stored_record(Provider::Zudu, &foreign).unwrap(),
        before
    );
    // ObserveOnly may read it by name: it reports, never writes.
    env.write(
        "s.yaml",
        &P::Zudu.server_yaml(
            "ours",
            "Taken",
            "  description: ours\n  managementPolicy: ObserveOnly\n",
        ),
    );
    let report = env.apply().await;
    let r = result(&report, "ours");
    assert_eq!(r.action, ActionKind::Drift, "{r:#?}");
    assert_eq!(calls(&env.writes()), vec![]);
    // Pinning the id adopts it explicitly.
    env.write(
        "s.yaml",
        &P::Zudu.server_yaml(
            "ours",
            "Taken",
            &format!("  description: ours\n  externalId: {foreign}\n"),
        ),
    );
    let report = env.apply().await;
    let r = result(&report, "ours");
    assert_eq!(r.action, ActionKind::Patch, "{r:#?}");
    env.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_applies_at_once_on_one_state_file_create_one_record_per_server() {
    let env = Env::with(SimConfig {
        latency: Duration::from_millis(150),
        ..SimConfig::default()
    })
    .await;
    env.registry(P::Pais);
    let servers: Vec<String> = (0..3)
        .map(|i| P::Pais.server_yaml(&format!("s{i}"), &format!("Server {i}"), ""))
        .collect();
    env.write("s.yaml", &servers.join("---\n"));
    // Both wait for the lock: the second run sees the first one's ids.
    let (a, b) = tokio::join!(
        env.cli(&["apply", "--wait"], &[]),
        env.cli(&["apply", "--wait"], &[])
    );
    assert_eq!(a.status.code(), Some(0), "{}", text(&a.stderr));
    assert_eq!(b.status.code(), Some(0), "{}", text(&b.stderr));
    for i in 0..3 {
        assert_eq!(
            stored_named(&env, P::Pais, &format!("Server {i}")).len(),
            1,
            "server {i}"
        );
    }
    // Without --wait the second run stops at once, naming the holder.
    env.write(
        "s.yaml",
        &(0..3)
            .map(|i| {
                P::Pais.server_yaml(
                    &format!("s{i}"),
                    &format!("Server {i}"),
                    "  description: changed\n",
                )
            })
            .collect::<Vec<_>>()
            .join("---\n"),
    );
    let (a, b) = tokio::join!(env.cli(&["apply"], &[]), env.cli(&["apply"], &[]));
    let codes = [a.status.code(), b.status.code()];
    assert!(codes.contains(&Some(0)), "{codes:?}");
    if let Some(refused) = [&a, &b].into_iter().find(|o| o.status.code() != Some(0)) {
        let stderr = text(&refused.stderr);
        assert!(
            stderr.contains("is in use by another mcpsync run (pid "),
            "{stderr}"
        );
    }
    for i in 0..3 {
        assert_eq!(
            stored_named(&env, P::Pais, &format!("Server {i}")).len(),
            1,
            "server {i}"
        );
    }
    env.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_finds_a_record_whose_create_was_pending() {
    let env = Env::start().await;
    env.registry(P::Pais);
    env.write(
        "s.yaml",
        &P::Pais.server_yaml("gone", "Pending Delete", "  deletionPolicy: Delete\n"),
    );
    assert!(!env.apply().await.has_errors());
    let id = env.external_id("gone");
    crash_after_post(&env, "gone", "Pending Delete");
    let results = delete::delete(&env.opts(Mode::Apply), jiff::Timestamp::now())
        .await
        .unwrap();
    assert_eq!(results[0].outcome, DeleteOutcome::Deleted, "{results:#?}");
    assert_eq!(results[0].external_id.as_deref(), Some(id.as_str()));
    assert!(env.sim.stored_record(Provider::Pais, &id).is_none());
    assert!(env.state_file().is_empty());
    env.sim.shutdown().await;
}

// ---- a CLI a script can rely on ---------------------------------------------------------

fn mcpsync(args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_mcpsync"))
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("binary runs")
}

#[test]
fn usage_errors_exit_64_for_every_subcommand() {
    for args in [
        vec!["plan"],
        vec!["apply", "-f", "x", "--bogus"],
        vec!["delete"],
        vec!["validate"],
        vec!["plan", "-f", "x", "-o", "xml"],
        vec!["frobnicate"],
    ] {
        let out = mcpsync(&args);
        assert_eq!(
            out.status.code(),
            Some(64),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
    assert_eq!(mcpsync(&["--help"]).status.code(), Some(0));
}

#[test]
fn nothing_to_read_is_an_error_not_nothing_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let comments = dir.path().join("comments.yaml");
    std::fs::write(&comments, "# only a comment\n---\n").unwrap();
    for path in [&empty, &comments] {
        for cmd in ["validate", "plan"] {
            let out = mcpsync(&[cmd, "-f", &path.to_string_lossy()]);
            assert_eq!(out.status.code(), Some(1), "{cmd} {path:?}");
            assert!(
                text(&out.stderr).contains("no manifests"),
                "{}",
                text(&out.stderr)
            );
        }
    }
    let started = Instant::now();
    let out = mcpsync(&["validate", "-f", "/dev/zero"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("larger than 16 MiB"),
        "{}",
        text(&out.stderr)
    );
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[test]
fn validate_reports_every_error_with_file_line_object_and_field_and_plan_refuses_to_run() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.yaml");
    std::fs::write(
        &file,
        "apiVersion: mcpsync.dev/v1alpha1\nkind: McpServer\nmetadata: {name: typo, namespace: t}\nspec:\n  registryRef: {name: r}\n  dispalyName: GitHub\n  syncInterval: 1s\n",
    )
    .unwrap();
    let path = file.to_string_lossy().to_string();
    let out = mcpsync(&["validate", "-f", &path]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains(&format!(
            "{path}:6: McpServer t/typo: spec.dispalyName: unknown field"
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("{path}:7: McpServer t/typo: spec.syncInterval: syncInterval must be a duration of at least 10s")),
        "{stdout}"
    );
    let plan = mcpsync(&["plan", "-f", &path]);
    assert_eq!(plan.status.code(), Some(1));
    assert!(
        text(&plan.stderr).contains("unknown field"),
        "{}",
        text(&plan.stderr)
    );
    let examples = concat!(env!("CARGO_MANIFEST_DIR"), "/examples");
    assert_eq!(
        mcpsync(&["validate", "-f", examples]).status.code(),
        Some(0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pinned_external_id_that_does_not_exist_is_stalled_and_exits_1() {
    let env = Env::start().await;
    env.registry(P::Pais);
    env.write(
        "s.yaml",
        &P::Pais.server_yaml("pinned", "Pinned", "  externalId: does-not-exist\n"),
    );
    for cmd in ["plan", "apply"] {
        let out = env.cli(&[cmd, "-o", "json"], &[]).await;
        assert_eq!(out.status.code(), Some(1), "{cmd}: {}", text(&out.stdout));
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        let status: mcpsync::api::McpServerStatus =
            serde_json::from_value(v["servers"][0]["status"].clone()).unwrap();
        assert_eq!(
            condition(&status, "Stalled"),
            ("True".to_string(), "RemoteNotFound".to_string()),
            "{cmd}"
        );
    }
    assert!(env.writes().is_empty(), "nothing created for a pinned id");
    env.sim.shutdown().await;
}

/// The README's sandbox: `mcpsync sim --seed docs/sim-seed.yaml`, then `apply -f
/// examples/`. The seed's credentials are the examples' Secrets: nothing is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seeded_simulator_accepts_the_examples_credentials() {
    let seed = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/sim-seed.yaml");
    let env = Env::with(SimConfig {
        seed: Some(seed),
        ..SimConfig::default()
    })
    .await;
    let sim_base = env.sim.base_url("");
    let opts = RunOptions {
        paths: vec![PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples")],
        state_path: env.state(),
        mode: Mode::Apply,
        base_url_override: Some(std::sync::Arc::new(move |model| {
            format!("{sim_base}{}", model.sim_prefix())
        })),
        wait_for_state: false,
        prune: false,
        progress: None,
    };
    let report = run::run(&opts, jiff::Timestamp::now()).await.unwrap();
    let refused: Vec<_> = report
        .servers
        .iter()
        .filter(|s| matches!(s.action, ActionKind::Refused | ActionKind::Failed))
        .map(|s| (s.server.clone(), s.message.clone()))
        .collect();
    assert!(refused.is_empty(), "{refused:#?}");
    assert!(!report.servers.is_empty());
    // Every condition says something, and Ready=True has a reason of the README's table
    // (`Available`, else `Synced`; never the availability `Pending`).
    for s in &report.servers {
        for c in &s.status.conditions {
            assert!(!c.message.is_empty(), "{}: {c:?}", s.server);
            if c.type_ == "Ready" && c.status == "True" {
                assert!(
                    ["Available", "Synced"].contains(&c.reason.as_str()),
                    "{c:?}"
                );
            }
        }
    }
    env.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_that_left_the_manifests_are_reported() {
    let env = Env::start().await;
    env.registry(P::Pais);
    env.write("a.yaml", &P::Pais.server_yaml("kept", "Kept", ""));
    env.write("b.yaml", &P::Pais.server_yaml("gone", "Gone", ""));
    assert!(!env.apply().await.has_errors());
    let id = env.external_id("gone");
    std::fs::remove_file(env.manifests().join("b.yaml")).unwrap();
    let report = env.run(Mode::Plan).await;
    let orphaned: Vec<String> = report.orphaned.iter().map(|o| o.to_string()).collect();
    assert_eq!(
        orphaned,
        vec![format!("{NS}/gone (McpRegistry/{NS}/pais, id {id})")]
    );
    let out = env.cli(&["plan"], &[]).await;
    assert!(
        text(&out.stdout).contains(&format!("not in the manifests: {NS}/gone")),
        "{}",
        text(&out.stdout)
    );
    env.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_says_a_server_is_not_in_the_state_file() {
    let env = Env::start().await;
    env.registry(P::Pais);
    env.write(
        "s.yaml",
        &P::Pais.server_yaml("never", "Never Applied", "  deletionPolicy: Delete\n"),
    );
    let results = delete::delete(&env.opts(Mode::Apply), jiff::Timestamp::now())
        .await
        .unwrap();
    assert_eq!(results[0].outcome, DeleteOutcome::NoRecord);
    assert!(
        results[0]
            .message
            .as_deref()
            .unwrap_or_default()
            .contains("not in the state file"),
        "{results:#?}"
    );
    assert!(env.sim.requests().is_empty());
    env.sim.shutdown().await;
}

// ---- One output shape, prune, timeout, progress ---------------------------------------

/// Every string anywhere in a JSON document (for "no `-` placeholder" checks).
fn strings(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|v| strings(v, out)),
        Value::Object(map) => map.values().for_each(|v| strings(v, out)),
        _ => {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_apply_and_delete_print_one_json_shape_with_typed_counts() {
    let env = Env::start().await;
    env.registry(P::Pais);
    env.write(
        "a.yaml",
        &P::Pais.server_yaml("a", "A", "  deletionPolicy: Delete\n"),
    );
    // A server whose registry does not exist: refused before any call, so it has no
    // registry and no provider (absent, not "-").
    env.write(
        "b.yaml",
        &P::Pais
            .server_yaml("b", "B", "")
            .replace("registryRef: {name: pais}", "registryRef: {name: nowhere}"),
    );
    let mut docs = Vec::new();
    for command in ["plan", "apply", "delete"] {
        let out = env.cli(&[command, "-o", "json"], &[]).await;
        let doc: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{command}: {e}: {}", text(&out.stdout)));
        assert_eq!(doc["command"], command);
        assert_eq!(
            doc["exitCode"].as_i64(),
            out.status.code().map(i64::from),
            "{command}: exitCode is the process's"
        );
        assert_eq!(doc["stateFile"], env.state().display().to_string());
        let mut keys: Vec<&String> = doc.as_object().unwrap().keys().collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                "command",
                "exitCode",
                "orphaned",
                "pruned",
                "servers",
                "skipped",
                "stateFile",
                "summary"
            ],
            "{command}"
        );
        // Every counter is a number, zeros included.
        let summary = doc["summary"].as_object().unwrap();
        assert_eq!(summary.len(), 16, "{summary:?}");
        assert!(summary.values().all(Value::is_u64), "{summary:?}");
        assert_eq!(summary["servers"], 2);
        let mut all = Vec::new();
        strings(&doc, &mut all);
        assert!(!all.iter().any(|s| s == "-"), "{command}: {doc:#}");
        docs.push(doc);
    }
    let (plan, apply, delete) = (&docs[0], &docs[1], &docs[2]);
    assert_eq!(plan["summary"]["create"], 1);
    assert_eq!(plan["summary"]["refused"], 1);
    let b = plan["servers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["server"] == format!("{NS}/b"))
        .unwrap();
    assert_eq!(b["action"], "refused");
    assert!(
        b.get("registry").is_none() && b.get("provider").is_none(),
        "{b:#}"
    );
    assert_eq!(apply["summary"]["create"], 1);
    assert_eq!(apply["exitCode"], 1, "a refused server is an error");
    assert_eq!(delete["summary"]["deleted"], 1, "{delete:#}");
    assert_eq!(delete["summary"]["noRecord"], 1, "{delete:#}");
    let a = &delete["servers"][0];
    assert_eq!(
        (a["server"].as_str(), a["action"].as_str()),
        (Some("t/a"), Some("deleted"))
    );
    // YAML is the same document.
    let out = env.cli(&["plan", "-o", "yaml"], &[]).await;
    let yaml: Value = serde_saphyr::from_str(&text(&out.stdout)).unwrap();
    assert_eq!(yaml["command"], "plan");
    assert_eq!(yaml["summary"]["servers"], 2);
    env.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prune_deletes_orphans_as_their_last_applied_policy_says() {
    let env = Env::start().await;
    env.registry(P::Pais);
    env.write("keep.yaml", &P::Pais.server_yaml("keep", "Keep", ""));
    env.write(
        "del.yaml",
        &P::Pais.server_yaml("del", "Del", "  deletionPolicy: Delete\n"),
    );
    env.write("stay.yaml", &P::Pais.server_yaml("stay", "Stay", ""));
    assert!(!env.apply().await.has_errors());
    let (keep, del) = (env.external_id("keep"), env.external_id("del"));
    std::fs::remove_file(env.manifests().join("keep.yaml")).unwrap();
    std::fs::remove_file(env.manifests().join("del.yaml")).unwrap();

    // Without --prune: reported, nothing deleted, nothing pending.
    env.sim.clear_log();
    let out = env.cli(&["plan"], &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains("--prune removes it"));

    // plan --prune: says what it would do (exit 2), and deletes nothing.
    let out = env.cli(&["plan", "--prune", "-o", "json"], &[]).await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let pruned: Vec<(String, String)> = doc["pruned"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["server"].as_str().unwrap().into(),
                p["action"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        pruned,
        [
            (format!("{NS}/del"), "deleted".to_string()),
            (format!("{NS}/keep"), "retained".to_string())
        ]
    );
    assert!(!env.sim.requests().iter().any(|r| r.method == "DELETE"));

    // apply --prune: the Delete one goes, the Retain one stays; both leave the state.
    let out = env.cli(&["apply", "--prune"], &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("pruned: 1 deleted, 1 retained"), "{stdout}");
    let deletes: Vec<String> = env
        .sim
        .requests()
        .iter()
        .filter(|r| r.method == "DELETE")
        .map(|r| r.path.clone())
        .collect();
    assert_eq!(deletes.len(), 1, "{deletes:?}");
    assert!(deletes[0].ends_with(&del), "{deletes:?}");
    assert!(env.sim.stored_record(Provider::Pais, &del).is_none());
    assert!(env.sim.stored_record(Provider::Pais, &keep).is_some());
    let state = env.state_file();
    assert!(state.get(&format!("{NS}/del")).is_none());
    assert!(state.get(&format!("{NS}/keep")).is_none());
    assert!(state.get(&format!("{NS}/stay")).is_some());
    let out = env.cli(&["plan", "--prune", "-o", "json"], &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    env.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeout_bounds_a_whole_run_against_a_slow_registry() {
    let env = Env::with(SimConfig {
        latency: Duration::from_secs(20),
        ..SimConfig::default()
    })
    .await;
    env.registry(P::Pais);
    env.write("a.yaml", &P::Pais.server_yaml("a", "A", ""));
    let started = Instant::now();
    let out = env.cli(&["apply", "--timeout", "2s"], &[]).await;
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("gave up after --timeout 2s"),
        "{}",
        text(&out.stderr)
    );
    assert!(took < Duration::from_secs(15), "took {took:?}");
    // The lock was released: the next run starts at once.
    let out = env.cli(&["plan", "--timeout", "1s"], &[]).await;
    assert!(
        !text(&out.stderr).contains("in use by another"),
        "{}",
        text(&out.stderr)
    );
    env.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_run_says_its_progress_and_retries_on_stderr_only() {
    let env = Env::with(SimConfig {
        latency: Duration::from_millis(4500),
        ..SimConfig::default()
    })
    .await;
    env.registry(P::Pais);
    env.write("a.yaml", &P::Pais.server_yaml("a", "A", ""));
    env.sim.faults().push_next(NextFault {
        provider: Some(Provider::Pais),
        status: 429,
        retry_after: Some(0),
        count: 1,
        drop: false,
        after: false,
    });
    // A fresh server needs no read; its create is one slow POST, answered 429 once.
    let out = env.cli(&["apply", "-o", "json"], &[]).await;
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "mcpsync: 0/1 server(s) done; now McpRegistry/{NS}/pais"
        )),
        "{stderr}"
    );
    assert!(stderr.contains("retrying"), "{stderr}");
    assert!(
        !stderr.contains('\u{1b}'),
        "no colour when stderr is not a terminal: {stderr:?}"
    );
    // stdout is the document alone.
    let doc: Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON only");
    assert_eq!(doc["summary"]["create"], 1, "{doc:#}");
    env.sim.shutdown().await;
}
