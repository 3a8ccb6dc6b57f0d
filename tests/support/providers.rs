//! The one table of registry dialects the tests use: the contract tests
//! (`provider_contract.rs`), the end-to-end tests (`local_e2e.rs`), the simulator's tests
//! (`sim_contract.rs`) and the CRD's (`crd_schema.rs`) take every per-provider value from
//! here. Every method matches on [`Dialect`] exhaustively, and [`completeness_failures`]
//! holds the table to the provider list (`ProviderKind::ALL` and its simulator prefixes)
//! and to the simulator's `Provider::ALL`: a new registry fails to compile or fails a test
//! until it has its row, never falls back to another provider's values
//! (docs/architecture.md, "Adding a registry").

use std::collections::{BTreeMap, BTreeSet};

use mcpsync::api::{
    AitronosProvider, ComposioProvider, PaisProvider, ProviderSpec, SecretKeyRef, ZuduBodyStyle,
    ZuduProvider,
};
use mcpsync::engine::field::Field;
use mcpsync::provider::{ProviderKind, WriteContext};
use mcpsync::sim::Provider;
use serde_json::{Value, json};

/// The Secret key a [`Dialect::spec`] reads the API key (or token) from.
pub const KEY: &str = "api-key";
/// The Secret key a [`Dialect::spec`] reads a second credential from (Zudu's API secret).
pub const SECRET: &str = "api-secret";
/// The organization the seeded simulator puts its callers in ([`seed_yaml`]).
pub const SEEDED_ORG: &str = "org_contract";
/// A second Aitronos credential of the seed: another user, for ownership tests.
pub const AITRONOS_OTHER_KEY: &str = "ait-key-other";

/// One wire dialect of the simulator: a provider, or one body style of it (Zudu's two
/// published documents disagree on the body shape, seeds 003 and 004).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Dialect {
    Aitronos,
    Composio,
    Pais,
    /// `bodyStyle: Wrapped` (seed 003): `{"config": {...}}` bodies.
    Zudu,
    /// `bodyStyle: Flat` (seed 004).
    ZuduFlat,
}

impl Dialect {
    pub const ALL: [Dialect; 5] = [
        Dialect::Aitronos,
        Dialect::Composio,
        Dialect::Pais,
        Dialect::Zudu,
        Dialect::ZuduFlat,
    ];

    /// The simulated registry that speaks this dialect.
    pub fn sim(self) -> Provider {
        match self {
            Dialect::Aitronos => Provider::Aitronos,
            Dialect::Composio => Provider::Composio,
            Dialect::Pais => Provider::Pais,
            Dialect::Zudu => Provider::Zudu,
            Dialect::ZuduFlat => Provider::ZuduFlat,
        }
    }

    /// The simulator's path prefix (`zudu-flat`), also its name in logs and seeds.
    pub fn prefix(self) -> &'static str {
        self.sim().as_str()
    }

    /// The provider whose client speaks this dialect.
    pub fn kind(self) -> ProviderKind {
        match self {
            Dialect::Aitronos => ProviderKind::Aitronos,
            Dialect::Composio => ProviderKind::Composio,
            Dialect::Pais => ProviderKind::Pais,
            Dialect::Zudu | Dialect::ZuduFlat => ProviderKind::Zudu,
        }
    }

    /// The dialect named by a simulator prefix; a prefix without a row fails the test.
    pub fn from_prefix(prefix: &str) -> Dialect {
        Dialect::ALL
            .into_iter()
            .find(|d| d.prefix() == prefix)
            .unwrap_or_else(|| panic!("no dialect for simulator prefix {prefix:?}"))
    }

    /// The dialect a provider speaks by default (its first simulator prefix).
    pub fn of_kind(kind: ProviderKind) -> Dialect {
        let prefix = kind
            .descriptor()
            .sim_prefixes
            .first()
            .unwrap_or_else(|| panic!("{kind}: no simulator prefix"));
        Dialect::from_prefix(prefix)
    }

    /// A registry block for this dialect: credentials from the Secret `secret_name`
    /// (keys [`KEY`], [`SECRET`]), `organization` where the provider needs one.
    pub fn spec(self, secret_name: &str, organization: &str) -> ProviderSpec {
        let r = |key: &str| SecretKeyRef {
            name: secret_name.into(),
            key: key.into(),
            namespace: None,
        };
        let zudu = |style| {
            ProviderSpec::Zudu(ZuduProvider {
                api_key_secret_ref: r(KEY),
                api_secret_secret_ref: r(SECRET),
                body_style: Some(style),
            })
        };
        match self {
            Dialect::Aitronos => ProviderSpec::Aitronos(AitronosProvider {
                api_key_secret_ref: r(KEY),
                organization_id: organization.into(),
            }),
            Dialect::Composio => ProviderSpec::Composio(ComposioProvider {
                api_key_secret_ref: r(KEY),
                key_header: None,
            }),
            Dialect::Pais => ProviderSpec::Pais(PaisProvider {
                token_secret_ref: r(KEY),
            }),
            Dialect::Zudu => zudu(ZuduBodyStyle::Wrapped),
            Dialect::ZuduFlat => zudu(ZuduBodyStyle::Flat),
        }
    }

    /// [`Dialect::spec`] as the `spec.provider` value of a manifest: `{"zudu": {...}}`.
    pub fn block(self, secret_name: &str, organization: &str) -> Value {
        serde_json::to_value(self.spec(secret_name, organization))
            .unwrap_or_else(|e| panic!("{self:?}: registry block serializes: {e}"))
    }

    /// The vendor's auth headers carrying the API key `key` and, where the vendor wants a
    /// second one, `secret`. Written from the vendors' documents, not from the client.
    pub fn auth(self, key: &str, secret: &str) -> Vec<(&'static str, String)> {
        match self {
            Dialect::Aitronos => vec![("X-API-Key", key.to_string())],
            Dialect::Composio => vec![("x-api-key", key.to_string())],
            Dialect::Pais => vec![("Authorization", format!("Bearer {key}"))],
            Dialect::Zudu | Dialect::ZuduFlat => vec![
                ("X-API-KEY", key.to_string()),
                ("X-API-SECRET", secret.to_string()),
            ],
        }
    }

    /// The credentials [`seed_yaml`] makes the simulator accept: API key, second secret
    /// (empty where the vendor has none).
    pub fn good_credentials(self) -> (&'static str, &'static str) {
        match self {
            Dialect::Aitronos => ("ait-key-good", ""),
            Dialect::Composio => ("comp-key-good", ""),
            Dialect::Pais => ("pais-token-good", ""),
            Dialect::Zudu | Dialect::ZuduFlat => ("sk_good", "s3cr3t_good"),
        }
    }

    /// The accepted value of the Secret key `key` of [`Dialect::spec`].
    pub fn good_secret(self, key: &str) -> &'static str {
        let (api_key, secret) = self.good_credentials();
        if key == SECRET { secret } else { api_key }
    }

    /// This dialect's `credentials` section of the simulator seed.
    fn seed_credentials(self) -> Value {
        let (key, secret) = self.good_credentials();
        match self {
            Dialect::Aitronos => json!([
                {"api_key": key, "user_id": "usr_contract"},
                {"api_key": AITRONOS_OTHER_KEY, "user_id": "usr_other"},
            ]),
            Dialect::Composio => json!([{ "api_key": key }]),
            Dialect::Pais => json!([{ "token": key }]),
            Dialect::Zudu | Dialect::ZuduFlat => json!([
                {"api_key": key, "api_secret": secret, "organization_id": SEEDED_ORG},
            ]),
        }
    }

    /// The vendor path of one record.
    pub fn record_path(self, id: &str) -> String {
        match self {
            Dialect::Aitronos => format!("/v1/mcp-configurations/{id}"),
            Dialect::Composio => format!("/api/v3/mcp/{id}"),
            Dialect::Pais => format!("/api/v1/control/mcp-servers/{id}"),
            Dialect::Zudu | Dialect::ZuduFlat => format!("/api/mcp-servers/{id}"),
        }
    }

    /// The path a create is POSTed to, as the client sends it.
    pub fn create_path(self) -> &'static str {
        match self {
            Dialect::Aitronos => "/v1/mcp-configurations",
            Dialect::Composio => "/api/v3/mcp/servers/custom",
            Dialect::Pais => "/api/v1/control/mcp-servers/",
            Dialect::Zudu | Dialect::ZuduFlat => "/api/mcp-servers",
        }
    }

    /// One listing page of up to 100 records of `organization` (where the vendor lists
    /// per organization): path with query, and the JSON pointer of the records array.
    pub fn list(self, organization: &str) -> (String, &'static str) {
        match self {
            Dialect::Aitronos => (
                format!("/v1/mcp-configurations?organization_id={organization}"),
                "/configurations",
            ),
            Dialect::Composio => ("/api/v3/mcp/servers?limit=100".into(), "/items"),
            Dialect::Pais => ("/api/v1/control/mcp-servers?limit=100".into(), "/data"),
            Dialect::Zudu | Dialect::ZuduFlat => {
                ("/api/mcp-servers?limit=100".into(), "/data/servers")
            }
        }
    }

    /// The body of a request as this dialect carries `fields` (Zudu wrapped: in `config`).
    pub fn wrap(self, fields: Value) -> Value {
        match self {
            Dialect::Zudu => json!({ "config": fields }),
            Dialect::Aitronos | Dialect::Composio | Dialect::Pais | Dialect::ZuduFlat => fields,
        }
    }

    /// The fields of a minimal create the simulator accepts, named `name`, before
    /// [`Dialect::wrap`]: a raw request, bypassing the client.
    pub fn raw_create_fields(self, name: &str, organization: &str) -> Value {
        match self {
            Dialect::Aitronos => json!({"name": name, "server_url": "https://ok.example.com",
                "transport_type": "sse", "auth_type": "none", "organization_id": organization}),
            Dialect::Composio => json!({ "name": name }),
            Dialect::Pais => {
                json!({"name": name, "url": "https://ok.example.com", "transport": "SSE"})
            }
            Dialect::Zudu | Dialect::ZuduFlat => {
                json!({"name": name, "url": "https://ok.example.com"})
            }
        }
    }

    /// The spec lines of a minimal McpServer of this dialect (after `displayName`).
    pub fn server_spec_yaml(self) -> &'static str {
        match self {
            Dialect::Aitronos => "  url: https://a.example.com/mcp\n  transport: Sse\n",
            Dialect::Composio => "  toolkits: [github]\n",
            Dialect::Pais => "  url: https://p.example.com/mcp\n  transport: StreamableHttp\n",
            Dialect::Zudu | Dialect::ZuduFlat => {
                "  url: https://z.example.com/mcp\n  transport: StreamableHttp\n"
            }
        }
    }

    /// The body the client POSTs to create the server of [`Dialect::server_spec_yaml`]
    /// named `display` (`organization` where the registry block names one).
    pub fn server_create_body(self, display: &str, organization: &str) -> Value {
        let fields = match self {
            Dialect::Aitronos => {
                json!({"auth_type": "none", "name": display, "organization_id": organization,
                       "server_url": "https://a.example.com/mcp", "transport_type": "sse"})
            }
            Dialect::Composio => json!({"name": display, "toolkits": ["github"]}),
            Dialect::Pais => json!({"name": display, "transport": "STREAMABLE_HTTP",
                                    "url": "https://p.example.com/mcp"}),
            Dialect::Zudu | Dialect::ZuduFlat => {
                json!({"name": display, "transport": "STREAMABLE_HTTP",
                       "url": "https://z.example.com/mcp"})
            }
        };
        self.wrap(fields)
    }

    /// A minimal valid create through the client, named `name` (canonical values).
    pub fn minimal_fields(self, name: &str) -> BTreeMap<Field, Value> {
        let url_and_transport = || {
            fields(&[
                (Field::DisplayName, json!(name)),
                (Field::Url, json!("https://min.example.com")),
                (Field::Transport, json!("StreamableHttp")),
            ])
        };
        match self {
            Dialect::Composio => fields(&[(Field::DisplayName, json!(name))]),
            Dialect::Aitronos | Dialect::Pais | Dialect::Zudu | Dialect::ZuduFlat => {
                url_and_transport()
            }
        }
    }

    /// Every field the provider supports, with canonical values (`engine/field.rs`); the
    /// write-only ones as [`Dialect::write_only_stored`] expects them stored.
    pub fn full_fields(self, name: &str) -> BTreeMap<Field, Value> {
        let zudu = |transport: &str, policy: &str| {
            fields(&[
                (Field::DisplayName, json!(name)),
                (Field::Url, json!("https://zudu-mcp.example.com/mcp")),
                (Field::Description, json!("The contract test server")),
                (Field::Transport, json!(transport)),
                (Field::ApprovalPolicy, json!(policy)),
                (
                    Field::Headers,
                    json!({"Authorization": "Bearer hdr-1", "X-Custom": "v"}),
                ),
                (Field::SecretTokenId, json!("sec_contract_1")),
            ])
        };
        match self {
            Dialect::Aitronos => fields(&[
                (Field::DisplayName, json!(name)),
                (Field::Url, json!("https://github-mcp.example.com/mcp")),
                (Field::Transport, json!("Sse")),
                (Field::Enabled, json!(true)),
                (
                    Field::Credentials,
                    json!({"api_key": "cred-value-1", "extra": "cred-value-2"}),
                ),
                (
                    Field::Tools,
                    json!({"enabled": true, "allowed": ["list_issues", "search_code"]}),
                ),
            ]),
            Dialect::Composio => fields(&[
                (Field::DisplayName, json!(name)),
                (
                    Field::Tools,
                    json!({"allowed": ["GITHUB_LIST", "SLACK_POST"]}),
                ),
                (Field::Toolkits, json!(["github", "slack"])),
                (Field::AuthConfigIds, json!(["ac_1", "ac_2"])),
                (Field::ManagedAuth, json!(true)),
            ]),
            Dialect::Pais => fields(&[
                (Field::DisplayName, json!(name)),
                (Field::Url, json!("https://pais-mcp.example.com/mcp")),
                (Field::Description, json!("The contract test server")),
                (
                    Field::DocumentationUrl,
                    json!("https://docs.example.com/mcp"),
                ),
                (Field::Transport, json!("StreamableHttp")),
                (
                    Field::Headers,
                    json!({"X-Plain": "plain-value", "X-Token": "header-secret-1"}),
                ),
            ]),
            Dialect::Zudu => zudu("Sse", "RequireApprovalPerTool"),
            // Values only the flat body knows (seed 004).
            Dialect::ZuduFlat => zudu("WebSocket", "AutoApproveReadOnly"),
        }
    }

    /// What the engine passes along with [`Dialect::full_fields`]: which headers are
    /// secret, and the auth type where the vendor wants one.
    pub fn write_ctx(self) -> WriteContext {
        let secret_headers = match self {
            Dialect::Pais => BTreeSet::from(["X-Token".to_string()]),
            Dialect::Aitronos | Dialect::Composio | Dialect::Zudu | Dialect::ZuduFlat => {
                BTreeSet::new()
            }
        };
        let auth_type = match self {
            Dialect::Aitronos => Some("api_key".to_string()),
            Dialect::Composio | Dialect::Pais | Dialect::Zudu | Dialect::ZuduFlat => None,
        };
        WriteContext {
            secret_headers,
            auth_type,
        }
    }

    /// What the simulator stores for the write-only part of [`Dialect::full_fields`]
    /// created with [`Dialect::write_ctx`]: `(stored key, value)`; `organization` is the
    /// one of the registry block.
    pub fn write_only_stored(self, organization: &str) -> Vec<(&'static str, Value)> {
        match self {
            Dialect::Aitronos => vec![
                (
                    "credentials",
                    json!({"api_key": "cred-value-1", "extra": "cred-value-2"}),
                ),
                (
                    "tool_configuration",
                    json!({"enabled": true, "allowed_tools": ["list_issues", "search_code"]}),
                ),
                ("auth_type", json!("api_key")),
                ("organization_id", json!(organization)),
            ],
            Dialect::Pais => vec![(
                "headers",
                json!([
                    {"name": "X-Plain", "value": "plain-value", "is_secret": false},
                    {"name": "X-Token", "value": "header-secret-1", "is_secret": true},
                ]),
            )],
            Dialect::Zudu | Dialect::ZuduFlat => {
                vec![("secret_token", json!({"secret_id": "sec_contract_1"}))]
            }
            Dialect::Composio => Vec::new(),
        }
    }

    /// A valid record name numbered `i`, one the registry's name rules accept.
    pub fn numbered_name(self, i: usize) -> String {
        match self {
            Dialect::Composio => format!("Page {i}"),
            Dialect::Aitronos | Dialect::Pais | Dialect::Zudu | Dialect::ZuduFlat => {
                format!("page {i}")
            }
        }
    }

    /// A well-formed id of this registry that names no record.
    pub fn unknown_id(self) -> &'static str {
        match self {
            Dialect::Pais | Dialect::Composio => "00000000-0000-4000-8000-000000000000",
            Dialect::Aitronos | Dialect::Zudu | Dialect::ZuduFlat => "mcp_does_not_exist",
        }
    }

    /// The vendor's own message for wrong credentials, from its error envelope.
    pub fn unauthorized_message(self) -> &'static str {
        match self {
            Dialect::Aitronos => "Authentication required: Invalid API key (UNAUTHORIZED)",
            Dialect::Composio => "Invalid API key",
            Dialect::Pais => "Invalid authentication credentials",
            Dialect::Zudu | Dialect::ZuduFlat => "Unauthorized: Missing or invalid API key/secret",
        }
    }

    /// Whether a delete keeps the record, marked `deleted: true` (soft delete).
    pub fn deletes_softly(self) -> bool {
        match self {
            Dialect::Aitronos | Dialect::Composio => true,
            Dialect::Pais | Dialect::Zudu | Dialect::ZuduFlat => false,
        }
    }
}

fn fields(pairs: &[(Field, Value)]) -> BTreeMap<Field, Value> {
    pairs.iter().cloned().collect()
}

/// A simulator seed that accepts exactly [`Dialect::good_credentials`] (and
/// [`AITRONOS_OTHER_KEY`]) in every dialect, so wrong credentials are refused. JSON is
/// YAML: the seed loader reads it as is.
pub fn seed_yaml() -> String {
    let seed: serde_json::Map<String, Value> = Dialect::ALL
        .into_iter()
        .map(|d| {
            (
                d.prefix().to_string(),
                json!({ "credentials": d.seed_credentials() }),
            )
        })
        .collect();
    Value::Object(seed).to_string()
}

/// What keeps the table equal to the provider list and the simulator: every simulator
/// prefix of every provider has exactly one dialect (of that provider, whose client speaks
/// it), every simulated registry has exactly one, and no dialect is left over. Empty when
/// the table is complete.
pub fn completeness_failures() -> Vec<String> {
    let mut failures = Vec::new();
    let mut covered = BTreeSet::new();
    for kind in ProviderKind::ALL {
        for prefix in kind.descriptor().sim_prefixes {
            let rows: Vec<Dialect> = Dialect::ALL
                .into_iter()
                .filter(|d| d.prefix() == *prefix)
                .collect();
            match rows.as_slice() {
                [d] => {
                    covered.insert(*d);
                    if d.kind() != *kind {
                        failures.push(format!("{d:?} speaks {prefix} but says it is {}", d.kind()));
                    }
                    let model = mcpsync::provider::model_for(&d.spec("s", "org"));
                    if model.kind() != *kind || model.sim_prefix() != *prefix {
                        failures.push(format!(
                            "{d:?}: its spec builds a {} client for {}, not {kind} for {prefix}",
                            model.kind(),
                            model.sim_prefix()
                        ));
                    }
                }
                rows => failures.push(format!(
                    "{kind}: simulator prefix {prefix} has {} dialects in \
                     tests/support/providers.rs: {rows:?}",
                    rows.len()
                )),
            }
        }
    }
    for sim in Provider::ALL {
        let rows = Dialect::ALL.into_iter().filter(|d| d.sim() == sim).count();
        if rows != 1 {
            failures.push(format!("simulated registry {sim} has {rows} dialects"));
        }
    }
    for d in Dialect::ALL {
        if !covered.contains(&d) {
            failures.push(format!(
                "{d:?} ({}) is no simulator prefix of any provider",
                d.prefix()
            ));
        }
    }
    failures
}

/// Runs in every test binary that declares `mod support;` (the contract, e2e, simulator
/// and CRD tests among them).
#[test]
fn every_provider_and_simulated_registry_has_exactly_one_dialect() {
    let failures = completeness_failures();
    assert!(
        failures.is_empty(),
        "tests/support/providers.rs is out of step with the provider list:\n{}",
        failures.join("\n")
    );
}
