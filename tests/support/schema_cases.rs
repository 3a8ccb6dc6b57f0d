//! The schema examples shared by two judges: `tests/crd_schema.rs` checks each against
//! the generated CRDs without a server (an OpenAPI walker and kube's CEL evaluator), and
//! `tests/kube_api.rs` sends each to a real API server (`create --dry-run=server`, strict
//! field validation). Both must give every case the verdict it names, so the offline
//! checks can never drift from what the API server does.

use serde_json::{Value, json};

pub fn yaml(text: &str) -> Value {
    serde_saphyr::from_str(text).expect("test YAML parses")
}

/// RFC 7386 JSON merge patch: `null` removes a key.
pub fn merge(base: &Value, patch: &Value) -> Value {
    match (base, patch) {
        (Value::Object(b), Value::Object(p)) => {
            let mut out = b.clone();
            for (k, v) in p {
                if v.is_null() {
                    out.remove(k);
                } else {
                    let merged = merge(b.get(k).unwrap_or(&Value::Null), v);
                    out.insert(k.clone(), merged);
                }
            }
            Value::Object(out)
        }
        (_, p) => p.clone(),
    }
}

pub fn server_base() -> Value {
    yaml(
        r#"
apiVersion: mcpsync.dev/v1alpha1
kind: McpServer
metadata: {name: github, namespace: team-a}
spec:
  registryRef: {name: composio-prod}
"#,
    )
}

pub fn registry_base(kind: &str) -> Value {
    let namespace = if kind == "McpRegistry" {
        // The namespace the shared cases' secret references name: its own, so the
        // admission policy (judged too) lets them through, as it does for a real user.
        json!({"name": "prod", "namespace": "mcpsync-system"})
    } else {
        json!({"name": "prod"})
    };
    let ref_ns = if kind == "McpRegistry" {
        Value::Null
    } else {
        json!("mcpsync-system")
    };
    let mut provider = yaml(
        "composio:\n  apiKeySecretRef: {name: composio-api, key: api-key}\n  keyHeader: x-api-key\n",
    );
    if !ref_ns.is_null() {
        provider["composio"]["apiKeySecretRef"]["namespace"] = ref_ns;
    }
    json!({
        "apiVersion": "mcpsync.dev/v1alpha1",
        "kind": kind,
        "metadata": namespace,
        "spec": {"provider": provider},
    })
}

/// One example: `patch` is merged into `spec` of the base object; `expect` is `None` for a
/// valid example, else a piece of the error the API server must report.
pub struct Case {
    pub name: &'static str,
    pub patch: &'static str,
    pub expect: Option<&'static str>,
}

pub const fn ok(name: &'static str, patch: &'static str) -> Case {
    Case {
        name,
        patch,
        expect: None,
    }
}

pub const fn bad(name: &'static str, patch: &'static str, expect: &'static str) -> Case {
    Case {
        name,
        patch,
        expect: Some(expect),
    }
}

/// McpServer examples (the base object is [`server_base`]).
pub const SERVER_CASES: &[Case] = &[
    ok("minimal", "{}"),
    bad(
        "registryRef required",
        "registryRef: null",
        ".spec.registryRef: Required value",
    ),
    bad(
        "registryRef.name required",
        "registryRef: {name: null, kind: McpRegistry}",
        ".spec.registryRef.name: Required value",
    ),
    bad(
        "registryRef.name empty",
        "registryRef: {name: ''}",
        ".spec.registryRef.name: should be at least 1",
    ),
    ok(
        "registryRef.kind cluster",
        "registryRef: {kind: ClusterMcpRegistry}",
    ),
    bad(
        "registryRef.kind enum",
        "registryRef: {kind: Registry}",
        ".spec.registryRef.kind: Unsupported value",
    ),
    ok("externalId", "externalId: 7f0c0000-aaaa"),
    bad(
        "externalId empty",
        "externalId: ''",
        ".spec.externalId: should be at least 1",
    ),
    ok("displayName", "displayName: GitHub"),
    ok("url https", "url: https://github-mcp.example.com/mcp"),
    ok("url http with port", "url: http://10.0.0.7:8080/mcp"),
    bad(
        "url without scheme",
        "url: github-mcp.example.com",
        "url must be an absolute http(s) URL",
    ),
    bad(
        "url ftp",
        "url: ftp://github-mcp.example.com",
        "url must be an absolute http(s) URL",
    ),
    bad(
        "url without host",
        "url: 'https://'",
        "url must be an absolute http(s) URL",
    ),
    bad("url empty", "url: ''", ".spec.url: should be at least 1"),
    ok(
        "documentationUrl",
        "documentationUrl: https://docs.example.com/github-mcp",
    ),
    bad(
        "documentationUrl relative",
        "documentationUrl: /docs/github",
        "documentationUrl must be an absolute http(s) URL",
    ),
    ok("description", "description: Code search for team A"),
    bad(
        "description not a string",
        "description: [a]",
        ".spec.description: must be of type string",
    ),
    ok("transport", "transport: WebSocket"),
    bad(
        "transport enum",
        "transport: streamable_http",
        ".spec.transport: Unsupported value",
    ),
    ok("enabled", "enabled: false"),
    bad(
        "enabled not a bool",
        "enabled: 'yes'",
        ".spec.enabled: must be of type boolean",
    ),
    ok("approvalPolicy", "approvalPolicy: AutoApproveReadOnly"),
    bad(
        "approvalPolicy enum",
        "approvalPolicy: auto_approve_all",
        ".spec.approvalPolicy: Unsupported value",
    ),
    ok(
        "header value",
        "headers: [{name: User-Agent, value: MCP-Client/2.0}]",
    ),
    ok(
        "header valueFrom",
        "headers: [{name: Authorization, valueFrom: {secretKeyRef: {name: github-token, key: header}}}]",
    ),
    bad(
        "header both",
        "headers: [{name: Authorization, value: x, valueFrom: {secretKeyRef: {name: t, key: k}}}]",
        "a header needs exactly one of value or valueFrom",
    ),
    bad(
        "header neither",
        "headers: [{name: Authorization}]",
        "a header needs exactly one of value or valueFrom",
    ),
    bad(
        "header name with space",
        "headers: [{name: 'User Agent', value: x}]",
        ".spec.headers[0].name: should match",
    ),
    bad(
        "header name missing",
        "headers: [{value: x}]",
        ".spec.headers[0].name: Required value",
    ),
    bad(
        "header names repeat",
        "headers: [{name: A, value: x}, {name: A, value: y}]",
        ".spec.headers: Duplicate value",
    ),
    bad(
        "header secret key missing",
        "headers: [{name: A, valueFrom: {secretKeyRef: {name: t}}}]",
        ".spec.headers[0].valueFrom.secretKeyRef.key: Required value",
    ),
    ok(
        "credentials",
        "credentials: {authType: bearer_token, secretRef: {name: github-credentials}}",
    ),
    bad(
        "credentials without secretRef",
        "credentials: {authType: bearer_token}",
        ".spec.credentials.secretRef: Required value",
    ),
    ok(
        "tools",
        "tools: {enabled: true, allowed: [search_code, list_issues]}",
    ),
    bad(
        "tools repeat",
        "tools: {allowed: [search_code, search_code]}",
        ".spec.tools.allowed: Duplicate value",
    ),
    ok("toolkits", "toolkits: [github, slack]"),
    bad(
        "toolkit empty",
        "toolkits: ['']",
        ".spec.toolkits[0]: should be at least 1",
    ),
    ok("authConfigIds", "authConfigIds: [ac_123]"),
    bad(
        "authConfigIds repeat",
        "authConfigIds: [ac_1, ac_1]",
        ".spec.authConfigIds: Duplicate value",
    ),
    ok("managedAuth", "managedAuth: true"),
    ok("secretTokenId", "secretTokenId: sec_42"),
    bad(
        "secretTokenId empty",
        "secretTokenId: ''",
        ".spec.secretTokenId: should be at least 1",
    ),
    ok("managementPolicy", "managementPolicy: ObserveOnly"),
    bad(
        "managementPolicy enum",
        "managementPolicy: Observe",
        ".spec.managementPolicy: Unsupported value",
    ),
    ok("deletionPolicy", "deletionPolicy: Delete"),
    bad(
        "deletionPolicy enum",
        "deletionPolicy: Orphan",
        ".spec.deletionPolicy: Unsupported value",
    ),
    ok("syncInterval 5m", "syncInterval: 5m"),
    ok("syncInterval 1h30m", "syncInterval: 1h30m"),
    ok("syncInterval 10s", "syncInterval: 10s"),
    bad(
        "syncInterval words",
        "syncInterval: 5 minutes",
        ".spec.syncInterval: should match",
    ),
    bad(
        "syncInterval no unit",
        "syncInterval: '300'",
        ".spec.syncInterval: should match",
    ),
    bad(
        "syncInterval too short",
        "syncInterval: 5s",
        "syncInterval must be a duration of at least 10s",
    ),
    ok("suspend", "suspend: true"),
    bad(
        "unknown field",
        "displayname: GitHub",
        ".spec.displayname: unknown field",
    ),
];

/// Examples of both registry kinds (the base object is [`registry_base`]).
pub const REGISTRY_CASES: &[Case] = &[
    ok("composio", "{}"),
    ok(
        "composio user key",
        "provider: {composio: {keyHeader: x-user-api-key}}",
    ),
    bad(
        "composio keyHeader enum",
        "provider: {composio: {keyHeader: Authorization}}",
        "keyHeader: Unsupported value",
    ),
    bad(
        "composio without key",
        "provider: {composio: {apiKeySecretRef: null}}",
        ".spec.provider.composio.apiKeySecretRef: Required value",
    ),
    bad(
        "no provider",
        "provider: {composio: null}",
        "exactly one provider block must be set",
    ),
    bad(
        "two providers",
        "provider: {pais: {tokenSecretRef: {name: t, key: k, namespace: mcpsync-system}}}",
        "exactly one provider block must be set",
    ),
    bad(
        "unknown provider",
        "provider: {composio: null, smithery: {}}",
        ".spec.provider.smithery: unknown field",
    ),
    bad(
        "secret name empty",
        "provider: {composio: {apiKeySecretRef: {name: ''}}}",
        "apiKeySecretRef.name: should be at least 1",
    ),
    bad(
        "secret key missing",
        "provider: {composio: {apiKeySecretRef: {key: null}}}",
        "apiKeySecretRef.key: Required value",
    ),
    bad(
        "secret namespace not a name",
        "provider: {composio: {apiKeySecretRef: {namespace: Team_A}}}",
        "apiKeySecretRef.namespace: should match",
    ),
    ok("baseUrl", "baseUrl: https://backend.composio.dev"),
    bad(
        "baseUrl without scheme",
        "baseUrl: backend.composio.dev",
        "baseUrl must be an absolute http(s) URL",
    ),
    bad(
        "baseUrl http",
        "baseUrl: http://127.0.0.1:8080/composio",
        "set allowInsecureHttp: true to allow it",
    ),
    bad(
        "baseUrl http, allowInsecureHttp false",
        "{baseUrl: 'http://127.0.0.1:8080/composio', allowInsecureHttp: false}",
        "set allowInsecureHttp: true to allow it",
    ),
    ok(
        "baseUrl http allowed",
        "{baseUrl: 'http://127.0.0.1:8080/composio', allowInsecureHttp: true}",
    ),
    ok("timeoutSeconds", "timeoutSeconds: 30"),
    bad(
        "timeoutSeconds zero",
        "timeoutSeconds: 0",
        ".spec.timeoutSeconds: should be greater than or equal to 1",
    ),
    bad(
        "timeoutSeconds too big",
        "timeoutSeconds: 601",
        ".spec.timeoutSeconds: should be less than or equal to 600",
    ),
    bad(
        "timeoutSeconds not a number",
        "timeoutSeconds: 30s",
        ".spec.timeoutSeconds: must be of type integer",
    ),
    ok("rateLimit", "rateLimit: {requestsPerSecond: 5, burst: 10}"),
    ok(
        "rateLimit fractional",
        "rateLimit: {requestsPerSecond: 0.5}",
    ),
    bad(
        "rateLimit zero",
        "rateLimit: {requestsPerSecond: 0}",
        ".spec.rateLimit.requestsPerSecond: should be greater than or equal to 0.01",
    ),
    bad(
        "rateLimit below the minimum",
        "rateLimit: {requestsPerSecond: 1e-30}",
        ".spec.rateLimit.requestsPerSecond: should be greater than or equal to 0.01",
    ),
    bad(
        "rateLimit burst zero",
        "rateLimit: {requestsPerSecond: 5, burst: 0}",
        ".spec.rateLimit.burst: should be greater than or equal to 1",
    ),
    bad(
        "rateLimit without rate",
        "rateLimit: {burst: 10}",
        ".spec.rateLimit.requestsPerSecond: Required value",
    ),
    ok("syncInterval", "syncInterval: 10m"),
    bad(
        "syncInterval unit",
        "syncInterval: 10min",
        ".spec.syncInterval: should match",
    ),
    bad(
        "syncInterval too short",
        "syncInterval: 500ms",
        "syncInterval must be a duration of at least 10s",
    ),
    ok(
        "aitronos",
        "provider: {composio: null, aitronos: {apiKeySecretRef: {name: a, key: k, namespace: mcpsync-system}, organizationId: org_1}}",
    ),
    bad(
        "aitronos without organization",
        "provider: {composio: null, aitronos: {apiKeySecretRef: {name: a, key: k, namespace: mcpsync-system}}}",
        ".spec.provider.aitronos.organizationId: Required value",
    ),
    ok(
        "pais",
        "{baseUrl: 'https://pais.example.com', provider: {composio: null, pais: {tokenSecretRef: {name: t, key: k, namespace: mcpsync-system}}}}",
    ),
    bad(
        "pais without baseUrl",
        "provider: {composio: null, pais: {tokenSecretRef: {name: t, key: k, namespace: mcpsync-system}}}",
        "baseUrl is required for the pais provider",
    ),
    ok(
        "zudu",
        "provider: {composio: null, zudu: {apiKeySecretRef: {name: z, key: key, namespace: mcpsync-system}, apiSecretSecretRef: {name: z, key: secret, namespace: mcpsync-system}, bodyStyle: Flat}}",
    ),
    bad(
        "zudu without secret",
        "provider: {composio: null, zudu: {apiKeySecretRef: {name: z, key: key, namespace: mcpsync-system}}}",
        ".spec.provider.zudu.apiSecretSecretRef: Required value",
    ),
    bad(
        "zudu bodyStyle enum",
        "provider: {composio: null, zudu: {apiKeySecretRef: {name: z, key: key, namespace: mcpsync-system}, apiSecretSecretRef: {name: z, key: secret, namespace: mcpsync-system}, bodyStyle: wrapped}}",
        "bodyStyle: Unsupported value",
    ),
];

/// Examples of McpRegistry only.
pub const MCPREGISTRY_CASES: &[Case] = &[
    ok(
        "ref in own namespace (admission policy checks the value)",
        "provider: {composio: {apiKeySecretRef: {namespace: mcpsync-system}}}",
    ),
    bad(
        "ref into another namespace (admission policy)",
        "provider: {composio: {apiKeySecretRef: {namespace: team-a}}}",
        "apiKeySecretRef.namespace must be omitted or equal to the McpRegistry's own namespace",
    ),
    bad(
        "allowedNamespaces is cluster-only",
        "allowedNamespaces: [team-b]",
        ".spec.allowedNamespaces: unknown field",
    ),
];

/// Examples of ClusterMcpRegistry only.
pub const CLUSTER_REGISTRY_CASES: &[Case] = &[
    ok("allowedNamespaces", "allowedNamespaces: [team-a, team-b]"),
    ok("allowedNamespaces empty", "allowedNamespaces: []"),
    bad(
        "allowedNamespaces not a name",
        "allowedNamespaces: [Team A]",
        ".spec.allowedNamespaces[0]: should match",
    ),
    bad(
        "allowedNamespaces repeat",
        "allowedNamespaces: [team-a, team-a]",
        ".spec.allowedNamespaces: Duplicate value",
    ),
];
