//! The CRDs, their rules and the admission policy on a real API server (kube-apiserver and
//! etcd built from Go modules, see `tests/support/kube.rs`): what users meet with
//! `kubectl apply`, `kubectl explain`, `kubectl get` and `kubectl wait`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use k8s_openapi::api::admissionregistration::v1::{
    ValidatingAdmissionPolicy, ValidatingAdmissionPolicyBinding,
};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::{Client, Resource};
use mcpsync::api::{self, McpServer};
use serde_json::{Value, json};

mod support;
use support::kube::{CRD_NAMES, TestNamespace, env};
use support::schema_cases::{
    CLUSTER_REGISTRY_CASES, Case, MCPREGISTRY_CASES, REGISTRY_CASES, SERVER_CASES, merge,
    registry_base, server_base,
};

const FIELD_MANAGER: &str = "mcpsync-tests";

/// Creates the namespaces that fixed-name examples live in (dry runs only ever go there).
fn ensure_namespaces(names: &BTreeSet<String>) {
    for name in names {
        let out = env().kubectl_output(&["create", "namespace", name], None);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() || stderr.contains("AlreadyExists"),
            "create namespace {name}: {stderr}"
        );
    }
}

/// The collection path of `object`'s kind (namespaced kinds in `metadata.namespace`).
fn collection_path(object: &Value) -> String {
    let kind = object["kind"].as_str().unwrap_or_default();
    let plural = match kind {
        "McpServer" => "mcpservers",
        "McpRegistry" => "mcpregistries",
        "ClusterMcpRegistry" => "clustermcpregistries",
        other => panic!("not an mcpsync kind: {other}"),
    };
    match object["metadata"]["namespace"].as_str() {
        Some(ns) if kind != "ClusterMcpRegistry" => {
            format!("/apis/mcpsync.dev/v1alpha1/namespaces/{ns}/{plural}")
        }
        _ => format!("/apis/mcpsync.dev/v1alpha1/{plural}"),
    }
}

/// What the API server says to a create of `object` (a dry run, with the strict field
/// validation `kubectl create` and `kubectl apply` use): `Ok` or the error message.
async fn server_verdict(client: &Client, object: &Value) -> Result<(), String> {
    let uri = format!(
        "{}?dryRun=All&fieldValidation=Strict&fieldManager={FIELD_MANAGER}",
        collection_path(object)
    );
    let request = http::Request::post(uri)
        .header("content-type", "application/json")
        .body(serde_json::to_vec(object).expect("object serializes"))
        .expect("request builds");
    match client.request::<Value>(request).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) => Err(status.message),
        Err(other) => panic!("no verdict from the API server: {other}"),
    }
}

/// The part of a table case's expected error that the API server's message must contain:
/// the field path for schema errors (`.spec.url: should be at least 1` -> `spec.url`;
/// the server words those itself), the whole text for the project's own CEL messages.
fn server_fragment(expect: &str) -> &str {
    let expect = expect.trim_start_matches('.');
    match expect.split_once(": ") {
        Some((path, _)) if !path.contains(' ') => path,
        _ => expect,
    }
}

async fn judge_cases(client: &Client, kind: &str, base: &Value, cases: &[Case]) -> Vec<String> {
    let mut failures = Vec::new();
    for case in cases {
        let patch: Value = serde_saphyr::from_str(case.patch).expect("case YAML parses");
        let object = merge(base, &json!({ "spec": patch }));
        let verdict = server_verdict(client, &object).await;
        match (case.expect, verdict) {
            (None, Ok(())) => {}
            (None, Err(message)) => failures.push(format!(
                "{kind} `{}`: the table says valid, the API server refused: {message}",
                case.name
            )),
            (Some(want), Ok(())) => failures.push(format!(
                "{kind} `{}`: the table says refused ({want}), the API server accepted it",
                case.name
            )),
            (Some(want), Err(message)) if message.contains(server_fragment(want)) => {}
            (Some(want), Err(message)) => failures.push(format!(
                "{kind} `{}`: refused by both, but the API server's message does not name {:?}: {message}",
                case.name,
                server_fragment(want)
            )),
        }
    }
    failures
}

/// The table of `tests/crd_schema.rs` (judged there without a server) gets the same
/// verdict from the real API server, case by case.
#[tokio::test]
async fn schema_table_verdicts_equal_the_api_servers() {
    env().install_crds();
    ensure_namespaces(&BTreeSet::from(["team-a".into(), "mcpsync-system".into()]));
    let client = env().admin().await;
    let mut failures = Vec::new();
    failures.extend(judge_cases(&client, "McpServer", &server_base(), SERVER_CASES).await);
    for kind in ["McpRegistry", "ClusterMcpRegistry"] {
        failures.extend(judge_cases(&client, kind, &registry_base(kind), REGISTRY_CASES).await);
    }
    let base = registry_base("McpRegistry");
    failures.extend(judge_cases(&client, "McpRegistry", &base, MCPREGISTRY_CASES).await);
    let base = registry_base("ClusterMcpRegistry");
    failures
        .extend(judge_cases(&client, "ClusterMcpRegistry", &base, CLUSTER_REGISTRY_CASES).await);
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[tokio::test]
async fn crds_install_with_server_side_apply_and_become_established() {
    env().install_crds();
    let client = env().admin().await;
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let mut versions = Vec::new();
    for name in CRD_NAMES {
        let crd = crds.get(name).await.expect("CRD exists");
        let conditions = crd
            .status
            .as_ref()
            .and_then(|s| s.conditions.clone())
            .unwrap_or_default();
        for wanted in ["Established", "NamesAccepted"] {
            assert!(
                conditions
                    .iter()
                    .any(|c| c.type_ == wanted && c.status == "True"),
                "{name}: {wanted} is not True: {conditions:?}"
            );
        }
        versions.push(crd.metadata.resource_version.clone());
    }
    let policies: Api<ValidatingAdmissionPolicy> = Api::all(client.clone());
    let policy = policies
        .get(api::admission::POLICY_NAME)
        .await
        .expect("the admission policy is installed");
    assert_eq!(
        policy
            .status
            .as_ref()
            .and_then(|s| s.type_checking.as_ref())
            .and_then(|t| t.expression_warnings.as_ref())
            .map(Vec::len)
            .unwrap_or(0),
        0,
        "the API server's type check warns about the policy: {:?}",
        policy.status
    );
    let bindings: Api<ValidatingAdmissionPolicyBinding> = Api::all(client.clone());
    bindings
        .get(api::admission::POLICY_NAME)
        .await
        .expect("the policy binding is installed");

    // Applying the same manifests again changes nothing: what the generator writes is
    // what the server stores, with no defaulted field that flips on every apply.
    let crds_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("crds");
    env().kubectl(&[
        "apply",
        "--server-side",
        "--field-manager=mcpsync-tests",
        "-f",
        &crds_dir.to_string_lossy(),
    ]);
    for (name, before) in CRD_NAMES.iter().zip(versions) {
        let crd = crds.get(name).await.expect("CRD exists");
        assert_eq!(
            crd.metadata.resource_version, before,
            "{name} changed on a second identical apply"
        );
    }
}

fn registry_with_ref(namespace: &str, ref_namespace: Option<&str>) -> Value {
    let mut secret_ref = json!({"name": "pais-token", "key": "token"});
    if let Some(ns) = ref_namespace {
        secret_ref["namespace"] = json!(ns);
    }
    json!({
        "apiVersion": "mcpsync.dev/v1alpha1",
        "kind": "McpRegistry",
        "metadata": {"name": "pais", "namespace": namespace},
        "spec": {
            "baseUrl": "https://pais.example.com",
            "provider": {"pais": {"tokenSecretRef": secret_ref}},
        },
    })
}

#[tokio::test]
async fn admission_policy_keeps_mcpregistry_secrets_in_their_own_namespace() {
    env().install_crds();
    let ns = TestNamespace::new("policy");
    let client = env().admin().await;
    let denied = server_verdict(&client, &registry_with_ref(&ns.name, Some("kube-system")))
        .await
        .expect_err("a McpRegistry reading another namespace's Secret is refused");
    assert!(
        denied.contains("ValidatingAdmissionPolicy")
            && denied.contains(
                "spec.provider.pais.tokenSecretRef.namespace must be omitted or equal to the McpRegistry's own namespace"
            ),
        "{denied}"
    );
    server_verdict(&client, &registry_with_ref(&ns.name, Some(&ns.name)))
        .await
        .expect("its own namespace named explicitly is allowed");
    server_verdict(&client, &registry_with_ref(&ns.name, None))
        .await
        .expect("no namespace (its own) is allowed");
    // A ClusterMcpRegistry may read any namespace: the policy does not match it.
    let cluster = json!({
        "apiVersion": "mcpsync.dev/v1alpha1",
        "kind": "ClusterMcpRegistry",
        "metadata": {"name": "pais-shared"},
        "spec": {
            "baseUrl": "https://pais.example.com",
            "provider": {"pais": {"tokenSecretRef": {"name": "t", "key": "k", "namespace": "kube-system"}}},
        },
    });
    server_verdict(&client, &cluster)
        .await
        .expect("a ClusterMcpRegistry may name any namespace");
}

/// Manifests in `dir` (recursively), sorted.
fn manifests(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("manifest folder").flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("yaml" | "yml")
            ) {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Namespaces named by `metadata.namespace` or a Secret reference in `files`.
fn namespaces_of(files: &[PathBuf]) -> BTreeSet<String> {
    let pattern = regex::Regex::new(r"namespace:\s*([a-z0-9][-a-z0-9]*)").expect("regex");
    files
        .iter()
        .flat_map(|f| {
            let text = std::fs::read_to_string(f).expect("manifest reads");
            pattern
                .captures_iter(&text)
                .map(|c| c[1].to_string())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Every manifest of `examples/` and `tests/e2e/manifests/valid/` is accepted by
/// `kubectl apply --dry-run=server`; every one of `tests/e2e/manifests/invalid/` is
/// refused with the error on its `# expect:` line.
#[tokio::test]
async fn manifests_get_the_verdict_the_tests_expect() {
    env().install_crds();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let valid: Vec<PathBuf> = manifests(&root.join("examples"))
        .into_iter()
        .chain(manifests(&root.join("tests/e2e/manifests/valid")))
        .collect();
    let invalid = manifests(&root.join("tests/e2e/manifests/invalid"));
    assert!(valid.len() >= 10 && invalid.len() >= 10, "manifests found");
    let all: Vec<PathBuf> = valid.iter().chain(&invalid).cloned().collect();
    ensure_namespaces(&namespaces_of(&all));

    let mut failures = Vec::new();
    for file in &valid {
        let path = file.to_string_lossy();
        let out = env().kubectl_output(&["apply", "--dry-run=server", "-f", &path], None);
        if !out.status.success() {
            failures.push(format!(
                "{path}: refused: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    for file in &invalid {
        let path = file.to_string_lossy();
        let text = std::fs::read_to_string(file).expect("manifest reads");
        let expect = text
            .lines()
            .find_map(|l| l.strip_prefix("# expect: "))
            .unwrap_or_else(|| panic!("{path} has no `# expect:` line"));
        let out = env().kubectl_output(&["apply", "--dry-run=server", "-f", &path], None);
        let stderr = String::from_utf8_lossy(&out.stderr);
        if out.status.success() {
            failures.push(format!("{path}: accepted, expected a refusal: {expect}"));
        } else if !stderr.contains(expect) {
            failures.push(format!(
                "{path}: refused for another reason (expected {expect:?}): {stderr}"
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

/// A misspelled field is an error, as `kubectl apply` does by default (strict decoding).
#[tokio::test]
async fn unknown_fields_are_refused_by_strict_decoding() {
    env().install_crds();
    let ns = TestNamespace::new("strict");
    let manifest = format!(
        "apiVersion: mcpsync.dev/v1alpha1\nkind: McpServer\nmetadata: {{name: typo, namespace: {}}}\nspec:\n  registryRef: {{name: r}}\n  dispalyName: GitHub\n",
        ns.name
    );
    let out = env().kubectl_output(&["apply", "--dry-run=server", "-f", "-"], Some(&manifest));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "a misspelled field was accepted");
    assert!(
        stderr.contains("unknown field \"spec.dispalyName\""),
        "{stderr}"
    );
}

#[tokio::test]
async fn external_id_cannot_change_once_set() {
    env().install_crds();
    let ns = TestNamespace::new("transition");
    let client = env().admin().await;
    let servers: Api<McpServer> = Api::namespaced(client, &ns.name);
    let object = |id: Option<&str>| {
        let mut spec = json!({"registryRef": {"name": "pais"}});
        if let Some(id) = id {
            spec["externalId"] = json!(id);
        }
        json!({
            "apiVersion": "mcpsync.dev/v1alpha1",
            "kind": "McpServer",
            "metadata": {"name": "transition"},
            "spec": spec,
        })
    };
    let apply = PatchParams::apply(FIELD_MANAGER);
    servers
        .patch("transition", &apply, &Patch::Apply(object(None)))
        .await
        .expect("created without an id");
    servers
        .patch("transition", &apply, &Patch::Apply(object(Some("first"))))
        .await
        .expect("an id may be set for the first time");
    servers
        .patch("transition", &apply, &Patch::Apply(object(Some("first"))))
        .await
        .expect("the same id again is no change");
    for (change, new) in [("changed", Some("second")), ("removed", None)] {
        let err = servers
            .patch("transition", &apply, &Patch::Apply(object(new)))
            .await
            .expect_err("an id, once set, cannot change");
        assert!(
            err.to_string().contains("externalId cannot be changed"),
            "{change}: {err}"
        );
    }
}

/// The description the CRD gives `spec.<field>` of McpServer.
fn field_description(field: &str) -> String {
    let crd = api::crds()
        .into_iter()
        .find(|c| c.spec.names.kind == "McpServer")
        .expect("McpServer CRD");
    let schema = serde_json::to_value(&crd.spec.versions[0].schema).expect("schema serializes");
    schema["openAPIV3Schema"]["properties"]["spec"]["properties"][field]["description"]
        .as_str()
        .unwrap_or_else(|| panic!("spec.{field} has no description"))
        .to_string()
}

fn words(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn kubectl_explain_shows_every_field_and_its_documentation() {
    env().install_crds();
    let explain = env().kubectl(&["explain", "mcpserver.spec.url"]);
    let description = field_description("url");
    assert!(
        words(&explain).contains(&words(&description)),
        "kubectl explain mcpserver.spec.url does not show the field's documentation {description:?}:\n{explain}"
    );
    let spec = env().kubectl(&["explain", "mcpserver.spec"]);
    for field in [
        "registryRef",
        "externalId",
        "displayName",
        "url",
        "description",
        "documentationUrl",
        "transport",
        "enabled",
        "approvalPolicy",
        "headers",
        "credentials",
        "tools",
        "toolkits",
        "authConfigIds",
        "managedAuth",
        "secretTokenId",
        "managementPolicy",
        "deletionPolicy",
        "syncInterval",
        "suspend",
    ] {
        assert!(
            spec.lines()
                .any(|l| l.split_whitespace().next() == Some(field)),
            "kubectl explain mcpserver.spec lacks {field}:\n{spec}"
        );
    }
    for kind in [
        "mcpregistry.spec",
        "clustermcpregistry.spec.allowedNamespaces",
    ] {
        env().kubectl(&["explain", kind]);
    }
}

/// A status written through the status subresource shows in `kubectl get mcps`, leaves
/// `metadata.generation` alone and satisfies `kubectl wait --for=condition=Ready`; a spec
/// change bumps the generation and cannot write the status.
#[tokio::test]
async fn status_subresource_columns_generation_and_wait() {
    env().install_crds();
    let ns = TestNamespace::new("status");
    let client = env().admin().await;
    let servers: Api<McpServer> = Api::namespaced(client, &ns.name);
    let server: McpServer = serde_json::from_value(json!({
        "apiVersion": "mcpsync.dev/v1alpha1",
        "kind": "McpServer",
        "metadata": {"name": "github"},
        "spec": {"registryRef": {"kind": "ClusterMcpRegistry", "name": "composio-prod"}, "displayName": "GitHub"},
    }))
    .expect("McpServer decodes");
    let created = servers
        .create(&PostParams::default(), &server)
        .await
        .expect("created");
    assert_eq!(created.metadata.generation, Some(1));

    // Not Ready yet: `kubectl wait` must time out.
    let wait = [
        "wait",
        "--for=condition=Ready",
        "-n",
        &ns.name,
        "mcps/github",
        "--timeout=2s",
    ];
    assert!(
        !env().kubectl_output(&wait, None).status.success(),
        "kubectl wait succeeded before any status"
    );

    let status = json!({"status": {
        "observedGeneration": 1,
        "externalId": "7f0c5d2e",
        "availability": "Available",
        "lastSyncTime": "2026-11-22T10:00:00Z",
        "conditions": [
            {"type": "Ready", "status": "True", "reason": "Available", "message": "the remote record equals the spec", "observedGeneration": 1, "lastTransitionTime": "2026-11-22T10:00:00Z"},
            {"type": "Synced", "status": "True", "reason": "Synced", "message": "the remote record equals the spec", "observedGeneration": 1, "lastTransitionTime": "2026-11-22T10:00:00Z"},
        ],
    }});
    let written = servers
        .patch_status("github", &PatchParams::default(), &Patch::Merge(&status))
        .await
        .expect("status written through the status subresource");
    assert_eq!(
        written.metadata.generation,
        Some(1),
        "a status write must not bump the generation"
    );
    assert_eq!(
        written
            .status
            .as_ref()
            .and_then(|s| s.external_id.as_deref()),
        Some("7f0c5d2e")
    );
    env().kubectl(&wait);

    let table = env().kubectl(&["get", "mcps", "-n", &ns.name]);
    let mut lines = table.lines();
    let header: Vec<&str> = lines
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(
        header,
        [
            "NAME",
            "REGISTRY",
            "EXTERNAL-ID",
            "SYNCED",
            "READY",
            "AVAILABILITY",
            "LAST-SYNC",
            "AGE"
        ],
        "{table}"
    );
    let row: Vec<&str> = lines
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(
        row[..6],
        [
            "github",
            "composio-prod",
            "7f0c5d2e",
            "True",
            "True",
            "Available"
        ],
        "{table}"
    );
    // LAST-SYNC is a date column: kubectl prints an age such as "12d", not the timestamp.
    assert!(
        row.get(6)
            .is_some_and(|age| age.ends_with(['s', 'm', 'h', 'd', 'y'])),
        "{table}"
    );

    // A spec change bumps the generation; status sent with it through the main resource
    // is ignored.
    let change =
        json!({"spec": {"displayName": "GitHub Search"}, "status": {"externalId": "other"}});
    let changed = servers
        .patch("github", &PatchParams::default(), &Patch::Merge(&change))
        .await
        .expect("spec changed");
    assert_eq!(changed.metadata.generation, Some(2));
    assert_eq!(
        changed
            .status
            .as_ref()
            .and_then(|s| s.external_id.as_deref()),
        Some("7f0c5d2e"),
        "the main resource must not write status"
    );
    assert_eq!(McpServer::kind(&()), "McpServer");
}

/// The operator's identity exists and holds no rights beyond what RBAC grants it: until
/// the project's RBAC is applied, it cannot even list McpServers.
#[tokio::test]
async fn operator_identity_has_only_the_rights_rbac_grants() {
    env().install_crds();
    let ns = TestNamespace::new("rbac");
    let operator = env().operator().await;
    let servers: Api<McpServer> = Api::namespaced(operator, &ns.name);
    match servers.list(&Default::default()).await {
        Err(kube::Error::Api(status)) => {
            assert_eq!(status.code, 403, "{status:?}");
            assert!(
                status
                    .message
                    .contains("system:serviceaccount:mcpsync-system:mcpsync"),
                "{status:?}"
            );
        }
        other => panic!("the operator identity could list McpServers without RBAC: {other:?}"),
    }
}

/// One table, two judges: `mcpsync validate -f` and the API server (`kubectl create
/// --dry-run=server`, strict field validation) give every manifest the same verdict.
#[tokio::test]
async fn mcpsync_validate_gives_the_api_servers_verdict() {
    env().install_crds();
    let ns = TestNamespace::new("validate");
    let long_name = "a".repeat(300);
    let server = |name: &str, spec: &str| {
        format!(
            "apiVersion: mcpsync.dev/v1alpha1\nkind: McpServer\nmetadata: {{name: {name}, namespace: NS}}\nspec:\n  registryRef: {{name: r}}\n{spec}"
        )
    };
    let registry = |spec: &str| {
        format!(
            "apiVersion: mcpsync.dev/v1alpha1\nkind: McpRegistry\nmetadata: {{name: reg, namespace: NS}}\nspec:\n  provider: {{composio: {{apiKeySecretRef: {{name: k, key: k}}}}}}\n{spec}"
        )
    };
    let cases: Vec<(&str, String)> = vec![
        ("minimal server", server("ok", "")),
        ("full server", server("full", "  displayName: GitHub\n  url: https://x.example.com/mcp\n  transport: Sse\n  headers: [{name: User-Agent, value: x}]\n  syncInterval: 5m\n")),
        ("dispalyName typo", server("t1", "  dispalyName: GitHub\n")),
        ("managmentPolicy typo", server("t2", "  managmentPolicy: Manage\n")),
        ("suspended typo", server("t3", "  suspended: true\n")),
        ("ftp url", server("t4", "  url: ftp://x.example.com\n")),
        ("header name with a space", server("t5", "  headers: [{name: User Agent, value: x}]\n")),
        ("syncInterval 1s", server("t6", "  syncInterval: 1s\n")),
        ("300-character name", server(&long_name, "")),
        ("name with capitals", server("GitHub", "")),
        ("registry", registry("  baseUrl: https://backend.composio.dev\n")),
        ("baseURL typo", registry("  baseURL: https://evil.example.com\n")),
        ("rate 1e-30", registry("  rateLimit: {requestsPerSecond: 1e-30}\n")),
        ("rate 0", registry("  rateLimit: {requestsPerSecond: 0}\n")),
        (
            "registry secret in another namespace",
            registry("").replace("key: k}", "key: k, namespace: kube-system}"),
        ),
        ("unknown kind", "apiVersion: mcpsync.dev/v1alpha1\nkind: McpThing\nmetadata: {name: x, namespace: NS}\n".to_string()),
    ];
    let dir = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    for (name, manifest) in &cases {
        let manifest = manifest.replace("NS", &ns.name);
        let file = dir.path().join("case.yaml");
        std::fs::write(&file, &manifest).unwrap();
        let offline = std::process::Command::new(env!("CARGO_BIN_EXE_mcpsync"))
            .args(["validate", "-f"])
            .arg(&file)
            .output()
            .unwrap();
        let server =
            env().kubectl_output(&["create", "--dry-run=server", "-f", "-"], Some(&manifest));
        let (offline_ok, server_ok) = (offline.status.success(), server.status.success());
        if offline_ok != server_ok {
            failures.push(format!(
                "{name}: mcpsync validate says {}, the API server says {}: {} / {}",
                if offline_ok { "valid" } else { "invalid" },
                if server_ok { "valid" } else { "invalid" },
                String::from_utf8_lossy(&offline.stdout).trim(),
                String::from_utf8_lossy(&server.stderr).trim()
            ));
        }
        if !offline_ok && offline.status.code() != Some(1) {
            failures.push(format!("{name}: exit code {:?}", offline.status.code()));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}
