//! The CRDs as an API server would enforce them, checked without a cluster.
//!
//! - OpenAPI constraints (type, enum, pattern, lengths, ranges, required, oneOf, list
//!   types) by the walker of `mcpsync::validate` over the generated `openAPIV3Schema`.
//!   It refuses any schema keyword it does not know, so a new kind of constraint cannot
//!   slip in untested.
//! - CEL rules (`x-kubernetes-validations`) by kube's `cel` feature (kube-cel), which
//!   escapes property names (`namespace` -> `__namespace__`) as the API server does.
//! - The McpRegistry admission policy by evaluating its CEL expressions with the `cel`
//!   crate on plain JSON, as the API server does for admission policies.
//! - Structural-schema rules, rule placement and cost, docs on every field.
//! - `crds/` equals `mcpsync crds`; the YAML examples of api.md round-trip through the types.
//!
//! `tests/kube_api.rs` sends the same examples (`tests/support/schema_cases.rs`) to a real
//! API server, which must give each the same verdict.

use std::collections::BTreeSet;

use kube::core::cel::{ScopeContext, analyze_rule, cel, compile_schema};
use mcpsync::api::{
    self, ClusterMcpRegistry, McpServer, McpServerStatus, admission, registry::secret_ref_paths,
};
use mcpsync::provider::ProviderKind;
use mcpsync::validate;
use serde_json::{Value, json};

mod support;
use support::providers::Dialect;
use support::schema_cases::{
    CLUSTER_REGISTRY_CASES, Case, MCPREGISTRY_CASES, REGISTRY_CASES, SERVER_CASES, merge,
    registry_base, server_base, yaml,
};

// ---------------------------------------------------------------------------------------
// Helpers

fn schema(kind: &str) -> Value {
    validate::schema(kind)
        .cloned()
        .expect("kind is one of the CRDs")
}

/// Every error the API server would report for `object` (and `old` on update): OpenAPI
/// first, then CEL; the library's offline judge (`mcpsync::validate`), which refuses any
/// schema keyword it does not know so a new kind of constraint cannot slip in untested.
fn errors(kind: &str, object: &Value, old: Option<&Value>) -> Vec<String> {
    validate::schema_errors(kind, object, old)
}

// ---------------------------------------------------------------------------------------
// Examples: a valid base object per kind, and table cases that change one thing.

fn run_cases(kind: &str, base: &Value, cases: &[Case]) {
    let mut failures = Vec::new();
    for case in cases {
        let patch = yaml(case.patch);
        let object = merge(base, &json!({ "spec": patch }));
        assert_eq!(
            object["kind"], kind,
            "case {} is judged as its kind",
            case.name
        );
        let found = all_refusals(&object);
        match (case.expect, found.as_slice()) {
            (None, []) => {}
            (None, found) => {
                failures.push(format!("{kind} `{}`: valid, but got {found:?}", case.name))
            }
            (Some(want), found) if found.iter().any(|e| e.contains(want)) => {}
            (Some(want), found) => failures.push(format!(
                "{kind} `{}`: expected an error containing {want:?}, got {found:?}",
                case.name
            )),
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn mcpserver_rules() {
    run_cases("McpServer", &server_base(), SERVER_CASES);
}

#[test]
fn mcpserver_lengths_are_bounded() {
    let long = format!("https://example.com/{}", "a".repeat(2048));
    let object = merge(&server_base(), &json!({"spec": {"url": long}}));
    let found = errors("McpServer", &object, None);
    assert!(
        found
            .iter()
            .any(|e| e.contains(".spec.url: may not be more than 2048")),
        "{found:?}"
    );
    let object = merge(
        &server_base(),
        &json!({"spec": {"displayName": "a".repeat(256)}}),
    );
    let found = errors("McpServer", &object, None);
    assert!(
        found
            .iter()
            .any(|e| e.contains(".spec.displayName: may not be more than 255")),
        "{found:?}"
    );
    let headers: Vec<Value> = (0..65)
        .map(|i| json!({"name": format!("h{i}"), "value": "x"}))
        .collect();
    let object = merge(&server_base(), &json!({"spec": {"headers": headers}}));
    let found = errors("McpServer", &object, None);
    assert!(
        found
            .iter()
            .any(|e| e.contains(".spec.headers: must have at most 64")),
        "{found:?}"
    );
}

#[test]
fn explicit_nulls_mean_absent() {
    let object = merge(
        &server_base(),
        &json!({"spec": {"headers": [{"name": "A", "value": "x"}]}}),
    );
    let mut object = object;
    for field in ["url", "externalId", "syncInterval", "transport", "tools"] {
        object["spec"][field] = Value::Null;
    }
    object["spec"]["headers"][0]["valueFrom"] = Value::Null;
    assert_eq!(errors("McpServer", &object, None), Vec::<String>::new());
}

#[test]
fn external_id_cannot_change_once_set() {
    let with = |id: Option<&str>| merge(&server_base(), &json!({"spec": {"externalId": id}}));
    let cases = [
        (None, Some("a"), true, "set for the first time"),
        (Some("a"), Some("a"), true, "unchanged"),
        (None, None, true, "never set"),
        (Some("a"), Some("b"), false, "changed"),
        (Some("a"), None, false, "removed"),
    ];
    for (old, new, valid, name) in cases {
        let found = errors("McpServer", &with(new), Some(&with(old)));
        let refused = found
            .iter()
            .any(|e| e.contains("externalId cannot be changed"));
        assert_eq!(!refused, valid, "{name}: {found:?}");
        if valid {
            assert!(found.is_empty(), "{name}: {found:?}");
        }
    }
    // The rule is a transition rule: on create there is no oldSelf and any id is fine.
    assert!(errors("McpServer", &with(Some("b")), None).is_empty());
}

#[test]
fn mcpregistry_rules() {
    run_cases("McpRegistry", &registry_base("McpRegistry"), REGISTRY_CASES);
    run_cases(
        "McpRegistry",
        &registry_base("McpRegistry"),
        MCPREGISTRY_CASES,
    );
}

#[test]
fn clustermcpregistry_rules() {
    run_cases(
        "ClusterMcpRegistry",
        &registry_base("ClusterMcpRegistry"),
        REGISTRY_CASES,
    );
    run_cases(
        "ClusterMcpRegistry",
        &registry_base("ClusterMcpRegistry"),
        CLUSTER_REGISTRY_CASES,
    );
}

/// The provider whose id is `provider`; an id no provider has fails the test.
fn kind_of(provider: &str) -> ProviderKind {
    ProviderKind::ALL
        .iter()
        .copied()
        .find(|k| k.id() == provider)
        .unwrap_or_else(|| panic!("no provider with id {provider}"))
}

/// A minimal valid provider block for `provider` (the provider table's) whose every
/// secret reference names `namespace` (or none when `None`).
fn provider_block(provider: &str, namespace: Option<&str>) -> Value {
    let mut block = Dialect::of_kind(kind_of(provider)).block("creds", "org_1");
    for (_, field) in secret_ref_paths().iter().filter(|(p, _)| *p == provider) {
        let mut secret_ref = json!({"name": "creds", "key": *field});
        if let Some(ns) = namespace {
            secret_ref["namespace"] = json!(ns);
        }
        block[provider][*field] = secret_ref;
    }
    block
}

fn registry_with(kind: &str, provider: &str, refs: Value) -> Value {
    let mut object = registry_base(kind);
    object["spec"]["provider"] = refs;
    // Without a public default the CRD requires `baseUrl`.
    if kind_of(provider).default_base_url().is_none() {
        object["spec"]["baseUrl"] = json!(format!("https://{provider}.example.com"));
    }
    object
}

#[test]
fn cluster_registry_secret_refs_name_their_namespace() {
    let providers: BTreeSet<&str> = secret_ref_paths().iter().map(|(p, _)| *p).collect();
    for provider in providers {
        let kind = "ClusterMcpRegistry";
        let valid = registry_with(
            kind,
            provider,
            provider_block(provider, Some("mcpsync-system")),
        );
        assert_eq!(
            errors(kind, &valid, None),
            Vec::<String>::new(),
            "{provider}"
        );
        // Each reference on its own: drop the namespace of one, keep the others.
        for (_, field) in secret_ref_paths().iter().filter(|(p, _)| *p == provider) {
            let mut refs = provider_block(provider, Some("mcpsync-system"));
            refs[provider][*field]
                .as_object_mut()
                .expect("ref is an object")
                .remove("namespace");
            let found = errors(kind, &registry_with(kind, provider, refs), None);
            assert!(
                found.iter().any(|e| e.contains("must name its namespace")),
                "{provider}.{field}: {found:?}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// The admission policy for McpRegistry secret namespaces.

/// Runs every validation of the policy on a McpRegistry `object`, twice: once with the
/// object as plain JSON (the `cel` crate, nothing escaped) and once as kube-cel's admission
/// policy evaluator sees it (property names that are CEL reserved words escaped). The
/// API server uses one of the two; the verdicts must agree.
fn policy_denials(object: &Value) -> Vec<String> {
    let policy = admission::mcpregistry_secret_namespace_policy();
    let validations = policy
        .spec
        .and_then(|s| s.validations)
        .expect("policy has validations");
    let namespace_object = json!({"metadata": {"name": object["metadata"]["namespace"]}});

    let mut plain = Vec::new();
    for v in &validations {
        let program = cel::Program::compile(&v.expression).expect("expression compiles");
        let mut ctx = cel::Context::default();
        ctx.add_variable("object", cel::to_value(object).expect("object converts"))
            .expect("variable binds");
        ctx.add_variable(
            "namespaceObject",
            cel::to_value(&namespace_object).expect("converts"),
        )
        .expect("variable binds");
        match program.execute(&ctx) {
            Ok(cel::Value::Bool(true)) => {}
            Ok(cel::Value::Bool(false)) => plain.push(v.message.clone().unwrap_or_default()),
            other => panic!("{}: evaluated to {other:?}", v.expression),
        }
    }

    // The escaped evaluation is the one `mcpsync validate` runs.
    let escaped = mcpsync::validate::policy_denials(object);
    assert_eq!(plain, escaped, "plain and escaped evaluation disagree");
    plain
}

#[test]
fn mcpregistry_secret_refs_stay_in_own_namespace() {
    let providers: BTreeSet<&str> = secret_ref_paths().iter().map(|(p, _)| *p).collect();
    for provider in providers {
        let kind = "McpRegistry";
        // registry_base puts a McpRegistry in mcpsync-system: that is its own namespace.
        for ns in [None, Some("mcpsync-system")] {
            let object = registry_with(kind, provider, provider_block(provider, ns));
            assert_eq!(
                policy_denials(&object),
                Vec::<String>::new(),
                "{provider} {ns:?}"
            );
            assert_eq!(
                errors(kind, &object, None),
                Vec::<String>::new(),
                "{provider} {ns:?}"
            );
        }
        for (_, field) in secret_ref_paths().iter().filter(|(p, _)| *p == provider) {
            let mut refs = provider_block(provider, None);
            refs[provider][*field]["namespace"] = json!("team-a");
            let denials = policy_denials(&registry_with(kind, provider, refs));
            let want = format!("spec.provider.{provider}.{field}.namespace must be omitted");
            assert!(
                denials.len() == 1 && denials[0].contains(&want),
                "{provider}.{field}: {denials:?}"
            );
        }
    }
}

#[test]
fn admission_policy_matches_mcpregistries_only_and_is_bound() {
    let policy = admission::mcpregistry_secret_namespace_policy();
    let spec = policy.spec.expect("spec");
    assert_eq!(spec.failure_policy.as_deref(), Some("Fail"));
    let rules = spec
        .match_constraints
        .and_then(|m| m.resource_rules)
        .expect("resource rules");
    assert_eq!(rules.len(), 1);
    assert_eq!(
        rules[0].resources.as_deref(),
        Some(&["mcpregistries".to_string()][..])
    );
    assert_eq!(
        rules[0].api_groups.as_deref(),
        Some(&["mcpsync.dev".to_string()][..])
    );
    assert_eq!(
        spec.validations.map(|v| v.len()),
        Some(secret_ref_paths().len())
    );
    let binding = admission::mcpregistry_secret_namespace_binding();
    let bspec = binding.spec.expect("binding spec");
    assert_eq!(
        bspec.policy_name.as_deref(),
        policy.metadata.name.as_deref()
    );
    assert_eq!(bspec.validation_actions, Some(vec!["Deny".to_string()]));
    for v in admission::secret_ref_validations() {
        let warnings =
            kube::core::cel::check_rule_scope(&v.expression, ScopeContext::AdmissionPolicy);
        assert!(warnings.is_empty(), "{warnings:?}");
    }
}

// ---------------------------------------------------------------------------------------
// Structural schema, rule placement and cost, docs.

/// Calls `visit(path, node)` for every schema node below `node`.
fn walk(node: &Value, path: &str, visit: &mut dyn FnMut(&str, &Value)) {
    visit(path, node);
    if let Some(props) = node.get("properties").and_then(Value::as_object) {
        for (k, child) in props {
            walk(child, &format!("{path}.{k}"), visit);
        }
    }
    if let Some(items) = node.get("items") {
        walk(items, &format!("{path}[]"), visit);
    }
    if let Some(additional) = node.get("additionalProperties").filter(|a| a.is_object()) {
        walk(additional, &format!("{path}{{}}"), visit);
    }
    for key in ["oneOf", "anyOf", "allOf"] {
        for (i, branch) in node
            .get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            walk(branch, &format!("{path}<{key}{i}>"), visit);
        }
    }
}

const KINDS: [&str; 3] = ["McpServer", "McpRegistry", "ClusterMcpRegistry"];

#[test]
fn schemas_are_structural() {
    let mut problems = Vec::new();
    for kind in KINDS {
        walk(&schema(kind), kind, &mut |path, node| {
            let in_branch = path.contains("<");
            let obj = node.as_object().expect("node is an object");
            if obj.contains_key("nullable") {
                problems.push(format!(
                    "{path}: nullable (explicit nulls must be dropped, not kept)"
                ));
            }
            let known_formats = ["int32", "int64", "float", "double", "date-time", "byte"];
            if let Some(format) = obj.get("format").and_then(Value::as_str)
                && !known_formats.contains(&format)
            {
                problems.push(format!("{path}: format {format} unknown to the API server"));
            }
            if obj.contains_key("default") {
                problems.push(format!("{path}: has a default (apply defaults in code)"));
            }
            for forbidden in [
                "$ref",
                "anyOf",
                "allOf",
                "not",
                "x-kubernetes-preserve-unknown-fields",
                "x-kubernetes-int-or-string",
                "x-kubernetes-embedded-resource",
            ] {
                if obj.contains_key(forbidden) {
                    problems.push(format!("{path}: uses {forbidden}"));
                }
            }
            if in_branch {
                // Inside oneOf only value validations are allowed (no type, description...).
                for key in obj.keys() {
                    if !["required", "properties"].contains(&key.as_str()) {
                        problems.push(format!("{path}: `{key}` inside oneOf"));
                    }
                }
            } else if !obj.contains_key("type") {
                problems.push(format!("{path}: untyped node {node}"));
            }
            if obj.get("type") == Some(&json!("object"))
                && !obj.contains_key("properties")
                && !obj
                    .get("additionalProperties")
                    .is_some_and(Value::is_object)
                && !in_branch
            {
                problems.push(format!(
                    "{path}: object with neither properties nor a typed map"
                ));
            }
            if obj.contains_key("properties") && obj.contains_key("additionalProperties") {
                problems.push(format!("{path}: both properties and additionalProperties"));
            }
            if obj.get("type") == Some(&json!("array")) && !obj.contains_key("items") {
                problems.push(format!("{path}: array without items"));
            }
        });
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

#[test]
fn every_field_is_documented() {
    let mut missing = Vec::new();
    for kind in KINDS {
        walk(&schema(kind), kind, &mut |path, node| {
            let is_property = !path.ends_with("[]") && !path.contains('<') && !path.ends_with('}');
            let described = node
                .get("description")
                .and_then(Value::as_str)
                .is_some_and(|d| d.split_whitespace().count() >= 2);
            if is_property && !described {
                missing.push(path.to_string());
            }
        });
    }
    assert!(
        missing.is_empty(),
        "fields without a useful description: {missing:?}"
    );
}

/// Names CEL reserves; a property with such a name must be written `__name__` in a CRD rule.
const CEL_RESERVED: &[&str] = &[
    "true",
    "false",
    "null",
    "in",
    "as",
    "break",
    "const",
    "continue",
    "else",
    "for",
    "function",
    "if",
    "import",
    "let",
    "loop",
    "package",
    "namespace",
    "return",
    "var",
    "void",
    "while",
];

#[test]
fn cel_rules_would_be_accepted_by_an_api_server() {
    let mut problems = Vec::new();
    let selection = regex::Regex::new(r"\.([A-Za-z_][A-Za-z0-9_]*)").expect("regex");
    for kind in KINDS {
        let schema = schema(kind);
        let compiled = compile_schema(&schema);
        for e in compiled.compilation_errors() {
            problems.push(format!("{kind}: {e}"));
        }
        walk(&schema, kind, &mut |path, node| {
            let rules = node
                .get("x-kubernetes-validations")
                .and_then(Value::as_array);
            for rule in rules.into_iter().flatten() {
                let text = rule["rule"].as_str().expect("rule is a string");
                if rule
                    .get("message")
                    .and_then(Value::as_str)
                    .is_none_or(str::is_empty)
                {
                    problems.push(format!("{path}: rule without a message: {text}"));
                }
                for cap in selection.captures_iter(text) {
                    if CEL_RESERVED.contains(&&cap[1]) {
                        problems.push(format!(
                            "{path}: unescaped reserved word `{}` in {text}",
                            &cap[1]
                        ));
                    }
                }
                // Transition rules need an oldSelf: not below a plain (atomic/set) list.
                if text.contains("oldSelf") && path.contains("[]") {
                    problems.push(format!("{path}: transition rule below a list: {text}"));
                }
                for w in analyze_rule(text, &compile_schema(node), ScopeContext::CrdValidation) {
                    problems.push(format!("{path}: {}", w.message));
                }
                // Every string and list a rule reads is bounded, so the estimated cost is too.
                for key in ["maxLength", "maxItems"] {
                    let unbounded_self = match node.get("type").and_then(Value::as_str) {
                        Some("string") => key == "maxLength" && node.get(key).is_none(),
                        Some("array") => key == "maxItems" && node.get(key).is_none(),
                        _ => false,
                    };
                    if unbounded_self {
                        problems.push(format!("{path}: rule on a node without {key}"));
                    }
                }
            }
        });
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

#[test]
fn cluster_rule_covers_every_secret_ref() {
    let schema = schema("ClusterMcpRegistry");
    let rules = schema["properties"]["spec"]["x-kubernetes-validations"].to_string();
    for (provider, field) in secret_ref_paths() {
        let escaped = format!("self.provider.{provider}.{field}.__namespace__");
        assert!(rules.contains(&escaped), "no rule reads {escaped}");
    }
}

// ---------------------------------------------------------------------------------------
// Names of the contract (api.md) and the committed manifests.

#[test]
fn names_columns_and_categories_follow_api_md() {
    let crds = api::crds();
    let expected = [
        ("McpServer", "mcpservers", "Namespaced", "mcps"),
        ("McpRegistry", "mcpregistries", "Namespaced", "mcpreg"),
        (
            "ClusterMcpRegistry",
            "clustermcpregistries",
            "Cluster",
            "cmcpreg",
        ),
    ];
    for (crd, (kind, plural, scope, short)) in crds.iter().zip(expected) {
        assert_eq!(crd.spec.group, "mcpsync.dev");
        assert_eq!(crd.spec.names.kind, kind);
        assert_eq!(crd.spec.names.plural, plural);
        assert_eq!(crd.spec.scope, scope);
        assert_eq!(crd.spec.names.short_names, Some(vec![short.to_string()]));
        assert_eq!(crd.spec.names.categories, Some(vec!["mcpsync".to_string()]));
        let version = &crd.spec.versions[0];
        assert_eq!(
            (version.name.as_str(), version.served, version.storage),
            ("v1alpha1", true, true)
        );
        assert!(
            version
                .subresources
                .as_ref()
                .and_then(|s| s.status.as_ref())
                .is_some()
        );
    }
    let columns: Vec<String> = crds[0].spec.versions[0]
        .additional_printer_columns
        .iter()
        .flatten()
        .map(|c| c.name.clone())
        .collect();
    // NAME is printed by kubectl itself.
    assert_eq!(
        columns,
        [
            "REGISTRY",
            "EXTERNAL-ID",
            "SYNCED",
            "READY",
            "AVAILABILITY",
            "LAST-SYNC",
            "AGE"
        ]
    );
}

#[test]
fn committed_crds_are_fresh() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/crds/mcpsync.dev_crds.yaml");
    let committed = std::fs::read_to_string(path).expect("crds/mcpsync.dev_crds.yaml exists");
    let generated = api::crds_yaml().expect("CRDs serialize");
    assert!(
        committed == generated,
        "crds/ is stale: run `make crds` and commit crds/mcpsync.dev_crds.yaml"
    );
}

// ---------------------------------------------------------------------------------------
// The YAML examples of api.md (copied verbatim into tests/fixtures/api-md/).

const API_MD_SERVER: &str = include_str!("fixtures/api-md/mcpserver.yaml");
const API_MD_CLUSTER_REGISTRY: &str = include_str!("fixtures/api-md/clustermcpregistry.yaml");
const API_MD_STATUS: &str = include_str!("fixtures/api-md/status.yaml");

/// Empty lists and empty maps are the same as absent fields (the types skip them), and
/// numbers compare by value.
fn without_empties(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| (k, without_empties(v)))
                .filter(|(_, v)| {
                    !matches!(v, Value::Array(a) if a.is_empty())
                        && !matches!(v, Value::Object(o) if o.is_empty())
                        && !v.is_null()
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(without_empties).collect()),
        // `5` in YAML and `5.0` from an f64 field are the same number.
        Value::Number(n) => json!(n.as_f64()),
        other => other,
    }
}

#[test]
fn api_md_mcpserver_round_trips() {
    let raw = yaml(API_MD_SERVER);
    let typed: McpServer = serde_saphyr::from_str(API_MD_SERVER).expect("example deserializes");
    let back = serde_json::to_value(&typed).expect("serializes");
    assert_eq!(without_empties(back), without_empties(raw.clone()));
    assert_eq!(errors("McpServer", &raw, None), Vec::<String>::new());
}

#[test]
fn api_md_cluster_registry_round_trips() {
    let raw = yaml(API_MD_CLUSTER_REGISTRY);
    let typed: ClusterMcpRegistry =
        serde_saphyr::from_str(API_MD_CLUSTER_REGISTRY).expect("example deserializes");
    let back = serde_json::to_value(&typed).expect("serializes");
    assert_eq!(without_empties(back), without_empties(raw.clone()));
    assert_eq!(
        errors("ClusterMcpRegistry", &raw, None),
        Vec::<String>::new()
    );
}

#[test]
fn api_md_status_round_trips() {
    let mut raw = yaml(API_MD_STATUS)["status"].clone();
    // api.md abbreviates conditions; metav1.Condition requires these two fields.
    for condition in raw["conditions"].as_array_mut().expect("conditions") {
        condition["lastTransitionTime"] = json!("2026-11-22T09:58:00Z");
        condition["message"] = json!("");
    }
    let typed: McpServerStatus = serde_json::from_value(raw.clone()).expect("status deserializes");
    let back = serde_json::to_value(&typed).expect("serializes");
    assert_eq!(without_empties(back), without_empties(raw.clone()));
    let object = merge(&server_base(), &json!({ "status": raw }));
    assert_eq!(errors("McpServer", &object, None), Vec::<String>::new());
}

/// The fixtures are verbatim copies of api.md's examples; when the design folder sits
/// beside the repository (as in this project's workspace and CI), keep them in step.
#[test]
fn fixtures_match_api_md() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/design/api.md");
    let Ok(doc) = std::fs::read_to_string(path) else {
        eprintln!("skipped: {path} not present");
        return;
    };
    for fixture in [API_MD_SERVER, API_MD_CLUSTER_REGISTRY, API_MD_STATUS] {
        assert!(
            doc.contains(&format!("```yaml\n{fixture}```")),
            "a YAML example of api.md changed: copy it to tests/fixtures/api-md/ again:\n{fixture}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// tests/e2e/manifests: what `tests/kube_api.rs` sends to a real API server must get the same
// verdict here, so the two layers cannot drift apart.

fn e2e_manifests(dir: &str) -> Vec<(String, String, Value)> {
    let path = format!("{}/tests/e2e/manifests/{dir}", env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<_> = std::fs::read_dir(&path)
        .expect("manifest folder exists")
        .map(|e| e.expect("dir entry").path())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|file| {
            let text = std::fs::read_to_string(&file).expect("manifest reads");
            let expect = text
                .lines()
                .find_map(|l| l.strip_prefix("# expect: "))
                .unwrap_or_default()
                .to_string();
            (file.display().to_string(), expect, yaml(&text))
        })
        .collect()
}

/// What the API server refuses: the schema and its rules, then (for a McpRegistry that
/// passes them) the admission policy, as the server runs validating admission last.
fn all_refusals(object: &Value) -> Vec<String> {
    let kind = object["kind"].as_str().expect("manifest has a kind");
    let mut found = errors(kind, object, None);
    if kind == "McpRegistry" && found.is_empty() {
        found.extend(policy_denials(object));
    }
    found
}

#[test]
fn e2e_manifests_agree_with_these_checks() {
    let valid = e2e_manifests("valid");
    let invalid = e2e_manifests("invalid");
    assert!(valid.len() >= 5 && invalid.len() >= 15);
    for (file, _, object) in valid {
        assert_eq!(all_refusals(&object), Vec::<String>::new(), "{file}");
    }
    for (file, expect, object) in invalid {
        assert!(!expect.is_empty(), "{file}: no `# expect:` line");
        let found = all_refusals(&object);
        assert!(
            found.iter().any(|e| e.contains(&expect)),
            "{file}: want {expect:?}, got {found:?}"
        );
    }
}

/// A new provider or secret field must be added to the provider descriptors (`secret_ref_paths`), or neither the
/// cluster rule nor the admission policy would cover it.
#[test]
fn secret_ref_paths_list_every_secret_reference() {
    for kind in ["McpRegistry", "ClusterMcpRegistry"] {
        let mut found = BTreeSet::new();
        walk(&schema(kind), "", &mut |path, node| {
            let props = node.get("properties").and_then(Value::as_object);
            let is_ref =
                props.is_some_and(|p| p.contains_key("namespace") && p.contains_key("key"));
            if is_ref && let Some(rest) = path.strip_prefix(".spec.provider.") {
                found.insert(rest.to_string());
            }
        });
        let listed: BTreeSet<String> = secret_ref_paths()
            .iter()
            .map(|(provider, field)| format!("{provider}.{field}"))
            .collect();
        assert_eq!(found, listed, "{kind}");
    }
}
