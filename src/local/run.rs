//! `plan` and `apply` on manifest files: the same engine as the controller, with desired
//! state from files and status kept in a state file.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use jiff::Timestamp;
use serde::Serialize;
use serde_json::Value;

use crate::api::conditions::Reason;
use crate::api::registry::RegistryConnection;
use crate::api::{McpServer, McpServerStatus};
use crate::engine::plan::{Action, DecideInput, Decision, FieldDiff, Observation, Refusal, Target};
use crate::engine::status::{Outcome, Report};
use crate::engine::{self, Desired, Field, ResolvedSecrets, SecretNeed};
use crate::local::manifests::{self, Manifests};
use crate::local::secrets::{self, RegistryView};
use crate::local::state::{ServerState, StateFile};
use crate::provider::http::{ClientConfig, RegistryClient};
use crate::provider::{ProviderKind, ProviderModel, RemoteError, RemoteRecord, model_for};
use crate::reconcile;
use crate::secret::{Redactor, SecretValue};

/// Whether writes are made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Read the registries and print what would change.
    Plan,
    /// Carry the changes out and keep statuses in the state file.
    Apply,
}

/// Maps a provider to the base URL to use instead of the registry's (the demo's simulator).
pub type BaseUrlOverride = Arc<dyn Fn(ProviderKind) -> String + Send + Sync>;

/// One `plan` or `apply`.
pub struct RunOptions {
    pub paths: Vec<PathBuf>,
    pub state_path: PathBuf,
    pub mode: Mode,
    pub base_url_override: Option<BaseUrlOverride>,
}

/// What happened to one server, for output.
#[derive(Clone, Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ServerResult {
    /// `namespace/name`.
    pub server: String,
    pub registry: String,
    pub provider: String,
    pub action: ActionKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<ShownChange>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    pub status: McpServerStatus,
}

/// The kind of result, as printed.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub enum ActionKind {
    InSync,
    Create,
    Patch,
    Drift,
    Missing,
    Refused,
    Failed,
    /// `spec.suspend: true`: no remote call was made.
    Suspended,
}

/// One changed field, safe to print: Secret-backed values are replaced by `(secret)`.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ShownChange {
    pub field: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old: Option<serde_json::Value>,
    pub new: serde_json::Value,
}

/// The results of a run, one per McpServer in the files.
#[derive(Clone, Debug, Serialize, PartialEq, Default)]
pub struct RunReport {
    pub servers: Vec<ServerResult>,
    pub skipped: Vec<String>,
}

impl RunReport {
    /// True when a plan has something to do.
    pub fn has_changes(&self) -> bool {
        self.servers
            .iter()
            .any(|s| matches!(s.action, ActionKind::Create | ActionKind::Patch))
    }
    /// True when some server could not be brought in line.
    pub fn has_errors(&self) -> bool {
        self.servers
            .iter()
            .any(|s| matches!(s.action, ActionKind::Refused | ActionKind::Failed))
    }
}

/// A run that could not start (unreadable files or state).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Load(#[from] manifests::LoadError),
    #[error(transparent)]
    State(#[from] crate::local::state::StateError),
}

/// A server ready to be observed: its desired state and where it goes.
struct Prepared<'a> {
    server: &'a McpServer,
    key: String,
    desired: Desired,
    secret_values: Vec<String>,
    prev: McpServerStatus,
}

impl Prepared<'_> {
    fn who<'w>(&'w self, registry: &'w str, provider: &'w str) -> Who<'w> {
        Who {
            key: &self.key,
            registry,
            provider,
        }
    }
}

/// Runs `plan` or `apply`.
pub async fn run(opts: &RunOptions, now: Timestamp) -> Result<RunReport, RunError> {
    let manifests = manifests::load(&opts.paths)?;
    let mut state = StateFile::load(&opts.state_path)?;
    let mut report = RunReport {
        skipped: manifests.skipped.clone(),
        ..Default::default()
    };
    let mut groups: BTreeMap<String, (RegistryView<'_>, Vec<Prepared<'_>>)> = BTreeMap::new();
    for server in manifests.servers.iter().map(|l| &l.object) {
        let key = server_key(server);
        let prev = state
            .get(&key)
            .map(|s| s.status.clone())
            .unwrap_or_default();
        if server.spec.suspend == Some(true) {
            let status =
                engine::next_status(&prev, server.metadata.generation, now, Report::Suspended);
            let who = Who {
                key: &key,
                registry: "-",
                provider: "-",
            };
            let message = Some("spec.suspend is true: no remote call was made".to_string());
            report.servers.push(ServerResult {
                message,
                ..who.result(ActionKind::Suspended, status)
            });
            continue;
        }
        let view = match secrets::find_registry(&manifests, server) {
            Ok(v) => v,
            Err(e) => {
                let r = Refusal {
                    reason: e.reason(),
                    message: e.to_string(),
                };
                let who = Who {
                    key: &key,
                    registry: "-",
                    provider: "-",
                };
                report.servers.push(who.refused(server, &prev, &r, now));
                continue;
            }
        };
        match prepare(&manifests, server, &key, prev.clone()) {
            Ok(p) => groups
                .entry(view.label())
                .or_insert_with(|| (view, Vec::new()))
                .1
                .push(p),
            Err(r) => {
                let provider = model_for(&view.connection.provider).kind().id();
                let label = view.label();
                let who = Who {
                    key: &key,
                    registry: &label,
                    provider,
                };
                report.servers.push(who.refused(server, &prev, &r, now));
            }
        }
    }
    for (label, (view, servers)) in groups {
        let results = run_registry(opts, &manifests, &label, &view, servers, &mut state, now).await;
        report.servers.extend(results);
    }
    report.servers.sort_by(|a, b| a.server.cmp(&b.server));
    if opts.mode == Mode::Apply {
        for r in &report.servers {
            let entry = ServerState {
                status: r.status.clone(),
                registry: r.registry.clone(),
            };
            state.insert(r.server.clone(), entry);
        }
        state.save(&opts.state_path)?;
    }
    Ok(report)
}

/// The state-file key of a server: `namespace/name`.
pub(crate) fn server_key(server: &McpServer) -> String {
    crate::local::state::server_key(
        server
            .metadata
            .namespace
            .as_deref()
            .unwrap_or(crate::local::manifests::DEFAULT_NAMESPACE),
        server.metadata.name.as_deref().unwrap_or_default(),
    )
}

/// Desired state of one server, with its Secrets resolved from its own namespace.
fn prepare<'a>(
    manifests: &'a Manifests,
    server: &'a McpServer,
    key: &str,
    prev: McpServerStatus,
) -> Result<Prepared<'a>, Refusal> {
    let ns = server.metadata.namespace.as_deref().unwrap_or("default");
    let mut resolved = ResolvedSecrets::default();
    for need in engine::secret_needs(&server.spec) {
        let missing = |e: secrets::SecretError| Refusal {
            reason: Reason::SecretNotFound,
            message: e.to_string(),
        };
        match need {
            SecretNeed::HeaderKey {
                header,
                secret,
                key,
            } => {
                let v = manifests.secrets.get(ns, &secret, &key).map_err(missing)?;
                resolved.headers.insert(header, v);
            }
            SecretNeed::WholeSecret { secret } => {
                resolved.credentials =
                    Some(manifests.secrets.get_all(ns, &secret).map_err(missing)?);
            }
        }
    }
    let name = server.metadata.name.as_deref().unwrap_or_default();
    let desired = engine::desired(&server.spec, name, &resolved).map_err(|e| Refusal {
        reason: Reason::InvalidSpec,
        message: e.to_string(),
    })?;
    let secret_values = resolved.values().into_iter().map(str::to_string).collect();
    Ok(Prepared {
        server,
        key: key.to_string(),
        desired,
        secret_values,
        prev,
    })
}

/// Observes, decides and (under `apply`) acts for every server of one registry.
async fn run_registry(
    opts: &RunOptions,
    manifests: &Manifests,
    label: &str,
    view: &RegistryView<'_>,
    servers: Vec<Prepared<'_>>,
    state: &mut StateFile,
    now: Timestamp,
) -> Vec<ServerResult> {
    let model = model_for(&view.connection.provider);
    let provider = model.kind().id();
    let client = match registry_client(opts, manifests, view) {
        Ok(c) => c,
        Err(r) => {
            return servers
                .into_iter()
                .map(|p| p.who(label, provider).refused(p.server, &p.prev, &r, now))
                .collect();
        }
    };
    // Refuse what the provider cannot take before any call.
    let mut ready = Vec::new();
    let mut out = Vec::new();
    for p in servers {
        match engine::validate(client.model(), &p.desired) {
            Ok(()) => ready.push(p),
            Err(r) => out.push(p.who(label, provider).refused(p.server, &p.prev, &r, now)),
        }
    }
    let targets: Vec<Target> = ready
        .iter()
        .map(|p| engine::target(client.model(), &p.server.spec, &p.prev, &p.desired))
        .collect();
    let observations = reconcile::observe(&client, &targets).await;
    let pinned: Vec<(String, String)> = ready
        .iter()
        .filter_map(|p| Some((p.key.clone(), p.server.spec.external_id.clone()?)))
        .collect();
    let mut decided = Vec::with_capacity(ready.len());
    for (p, observed) in ready.into_iter().zip(observations) {
        let decision = observed.map(|observation| {
            let mut decision = engine::decide(DecideInput {
                model: client.model(),
                spec: &p.server.spec,
                desired: &p.desired,
                status: &p.prev,
                observation,
            });
            refuse_claimed(&mut decision, &p.key, label, state, &pinned);
            decision
        });
        decided.push((p, decision));
    }
    let intent_error = match opts.mode {
        Mode::Apply => record_intents(opts, state, label, &decided, now).err(),
        Mode::Plan => None,
    };
    for (p, decision) in decided {
        let result = match decision {
            Err(e) => {
                let e = redact(e, &p.secret_values);
                let status = engine::next_status(
                    &p.prev,
                    p.server.metadata.generation,
                    now,
                    Report::ObserveFailed(&e),
                );
                ServerResult {
                    message: Some(e.message.clone()),
                    ..p.who(label, provider).result(ActionKind::Failed, status)
                }
            }
            Ok(decision) => {
                let sink = Sink {
                    opts,
                    client: &client,
                    label,
                    provider,
                    now,
                    intent_error: intent_error.as_deref(),
                };
                settle(&sink, &p, decision).await
            }
        };
        out.push(result);
    }
    out
}

/// Records the intent of every create of this registry in the state file, in one write,
/// before any POST: after a crash, the next run looks those records up by name instead of
/// creating second ones. An intent recorded for a create that then fails or never runs
/// is harmless: the look-up finds nothing and the create is made.
fn record_intents(
    opts: &RunOptions,
    state: &mut StateFile,
    label: &str,
    decided: &[(Prepared<'_>, Result<Decision, RemoteError>)],
    now: Timestamp,
) -> Result<(), String> {
    let mut any = false;
    for (p, decision) in decided {
        if let Ok(Decision {
            action: Action::Create { .. },
            ..
        }) = decision
        {
            let status = engine::with_pending_create(&p.prev, &p.desired.create_name, now);
            let entry = ServerState {
                status,
                registry: label.to_string(),
            };
            state.insert(p.key.clone(), entry);
            any = true;
        }
    }
    if !any {
        return Ok(());
    }
    state
        .save(&opts.state_path)
        .map_err(|e| format!("{e}; the create was not sent"))
}

/// A record found by name that another McpServer of the same registry already manages
/// (its id in that server's state or `spec.externalId`) is not adopted a second time:
/// two owners would overwrite each other, and one's `deletionPolicy: Delete` would
/// delete the other's record. It happens when two McpServers share a `displayName`: the
/// second one's create answers 409, and the next run would find the first one's record.
fn refuse_claimed(
    decision: &mut Decision,
    key: &str,
    label: &str,
    state: &StateFile,
    pinned: &[(String, String)],
) {
    let Some(id) = decision.record_id.as_deref().filter(|_| decision.adopted) else {
        return;
    };
    let in_state = state.servers().find(|(k, s)| {
        k.as_str() != key && s.registry == label && s.status.external_id.as_deref() == Some(id)
    });
    let owner = in_state.map(|(k, _)| k.as_str()).or_else(|| {
        pinned
            .iter()
            .find(|(k, pinned_id)| k.as_str() != key && pinned_id.as_str() == id)
            .map(|(k, _)| k.as_str())
    });
    let Some(owner) = owner else {
        return;
    };
    let name = decision
        .live
        .as_ref()
        .and_then(|r| r.name.as_deref())
        .unwrap_or_default()
        .to_string();
    *decision = Decision {
        action: Action::Refuse(Refusal {
            reason: Reason::Conflict,
            message: format!(
                "the record named {name:?} ({id}) is already managed by {owner}; give this server another displayName or set spec.externalId"
            ),
        }),
        record_id: None,
        live: None,
        diffs: Vec::new(),
        adopted: false,
        observe_only: decision.observe_only,
    };
}

/// Where one server's results go: its registry and the state file.
struct Sink<'a> {
    opts: &'a RunOptions,
    client: &'a RegistryClient,
    label: &'a str,
    provider: &'a str,
    now: Timestamp,
    /// Why the create intents could not be recorded: then no create is sent.
    intent_error: Option<&'a str>,
}

/// Carries a decision out (under `apply`) and computes the resulting status.
async fn settle(sink: &Sink<'_>, p: &Prepared<'_>, decision: Decision) -> ServerResult {
    let (mut kind, mut message) = describe(&decision.action);
    let mut changes = match &decision.action {
        Action::Create { fields } => created_fields(sink.client.model(), fields, &p.desired),
        _ => shown_changes(sink.client.model(), &decision.diffs),
    };
    let mut prev = p.prev.clone();
    let written = match (&decision.action, sink.opts.mode) {
        (Action::Create { fields }, Mode::Apply) => {
            prev = engine::with_pending_create(&p.prev, &p.desired.create_name, sink.now);
            if let Some(e) = sink.intent_error {
                let m = e.to_string();
                let failed = p
                    .who(sink.label, sink.provider)
                    .result(ActionKind::Failed, p.prev.clone());
                return ServerResult {
                    changes,
                    message: Some(m),
                    ..failed
                };
            }
            Some(sink.client.create(fields, &p.desired.ctx).await)
        }
        (Action::Patch { changes }, Mode::Apply) => {
            let id = decision.record_id.as_deref().unwrap_or_default();
            Some(sink.client.patch(id, changes, &p.desired.ctx).await)
        }
        _ => None,
    };
    let written = written.map(|w| w.map_err(|e| redact(e, &p.secret_values)));
    let mut status = status_after(sink, p, &prev, &decision, written.as_ref());
    if let Some(Err(e)) = &written {
        kind = ActionKind::Failed;
        message = Some(e.message.clone());
    }
    if let (Action::Create { .. }, Some(Ok(created))) = (&decision.action, &written) {
        // A create endpoint may not take every field (Aitronos `is_active`): one follow-up
        // PATCH sends what the new record still lacks.
        let follow = follow_up(sink, p, &status, created.clone()).await;
        if let Some((more, next_status, failure)) = follow {
            changes.extend(more);
            status = next_status;
            if let Some(m) = failure {
                kind = ActionKind::Failed;
                message = Some(m);
            }
        }
    }
    ServerResult {
        changes,
        message,
        ..p.who(sink.label, sink.provider).result(kind, status)
    }
}

/// The status after a decision and the answer to its write, if one was sent.
fn status_after(
    sink: &Sink<'_>,
    p: &Prepared<'_>,
    prev: &McpServerStatus,
    decision: &Decision,
    written: Option<&Result<RemoteRecord, RemoteError>>,
) -> McpServerStatus {
    let outcome = match written {
        None => Outcome::NoWrite,
        Some(Ok(record)) => Outcome::Written(record),
        Some(Err(e)) => Outcome::Failed(e),
    };
    let report = Report::Decided {
        decision,
        outcome,
        desired: &p.desired,
        model: sink.client.model(),
        salt: rand::random(),
    };
    engine::next_status(prev, p.server.metadata.generation, sink.now, report)
}

/// Decides again against a just-created record and sends one PATCH if it still differs.
async fn follow_up(
    sink: &Sink<'_>,
    p: &Prepared<'_>,
    status: &McpServerStatus,
    created: RemoteRecord,
) -> Option<(Vec<ShownChange>, McpServerStatus, Option<String>)> {
    let decision = engine::decide(DecideInput {
        model: sink.client.model(),
        spec: &p.server.spec,
        desired: &p.desired,
        status,
        observation: Observation::Found(created),
    });
    let Action::Patch { changes } = &decision.action else {
        return None;
    };
    let id = decision.record_id.as_deref().unwrap_or_default();
    let answer = sink
        .client
        .patch(id, changes, &p.desired.ctx)
        .await
        .map_err(|e| redact(e, &p.secret_values));
    let next = status_after(sink, p, status, &decision, Some(&answer));
    Some((
        shown_changes(sink.client.model(), &decision.diffs),
        next,
        answer.err().map(|e| e.message),
    ))
}

fn describe(action: &Action) -> (ActionKind, Option<String>) {
    match action {
        Action::Nothing => (ActionKind::InSync, None),
        Action::Create { .. } => (ActionKind::Create, None),
        Action::Patch { .. } => (ActionKind::Patch, None),
        Action::ReportDrift => (ActionKind::Drift, None),
        Action::ReportMissing { message } => (ActionKind::Missing, Some(message.clone())),
        Action::Refuse(r) => (ActionKind::Refused, Some(r.message.clone())),
    }
}

fn redact(mut e: RemoteError, secrets: &[String]) -> RemoteError {
    e.message = Redactor::new(secrets.iter().map(String::as_str)).redact(&e.message);
    e
}

/// The registry client of a registry resource, with its credentials resolved.
pub(crate) fn registry_client(
    opts: &RunOptions,
    manifests: &Manifests,
    view: &RegistryView<'_>,
) -> Result<RegistryClient, Refusal> {
    let conn: &RegistryConnection = view.connection;
    let model = model_for(&conn.provider);
    let kind = model.kind();
    let not_ready = |message: String| Refusal {
        reason: Reason::RegistryNotReady,
        message,
    };
    let mut auth = Vec::new();
    for header in model.auth_headers() {
        let ns = secrets::registry_secret_namespace(
            &header.secret,
            view.kind,
            view.namespace.as_deref(),
        )
        .map_err(|e| not_ready(format!("{}: {e}", view.label())))?;
        let value = manifests
            .secrets
            .get(&ns, &header.secret.name, &header.secret.key)
            .map_err(|e| Refusal {
                reason: Reason::SecretNotFound,
                message: format!("{}: {e}", view.label()),
            })?;
        auth.push((header, SecretValue::new(value)));
    }
    let base = match &opts.base_url_override {
        Some(f) => f(kind),
        None => conn
            .base_url
            .clone()
            .or_else(|| kind.default_base_url().map(str::to_string))
            .ok_or_else(|| {
                not_ready(format!(
                    "{}: baseUrl is required for the {kind} provider",
                    view.label()
                ))
            })?,
    };
    let config = ClientConfig::for_connection(conn, &base, opts.base_url_override.is_some())
        .map_err(|e| not_ready(format!("{}: {e}", view.label())))?;
    RegistryClient::new(model, config, auth)
        .map_err(|e| not_ready(format!("{}: {e}", view.label())))
}

/// A value as printed: in the registry's own form, or `(secret)` when it comes from a
/// Secret; `null` for a reset.
fn shown(model: &dyn ProviderModel, field: Field, secret: bool, value: Option<&Value>) -> Value {
    match value {
        _ if secret => Value::from("(secret)"),
        Some(v) => model.wire_value(field, v),
        None => Value::Null,
    }
}

/// The fields a create sends, as changes from nothing.
fn created_fields(
    model: &dyn ProviderModel,
    fields: &BTreeMap<Field, Value>,
    desired: &Desired,
) -> Vec<ShownChange> {
    fields
        .iter()
        .map(|(f, v)| ShownChange {
            field: model
                .field_rule(*f)
                .map_or(f.spec_name(), |r| r.remote)
                .to_string(),
            old: None,
            new: shown(model, *f, desired.secret_fields.contains(f), Some(v)),
        })
        .collect()
}

/// The differing fields; the old value of a write-only field is unknown.
fn shown_changes(model: &dyn ProviderModel, diffs: &[FieldDiff]) -> Vec<ShownChange> {
    diffs
        .iter()
        .map(|d| ShownChange {
            field: d.remote.to_string(),
            old: (!d.write_only).then(|| shown(model, d.field, d.secret, d.old.as_ref())),
            new: shown(model, d.field, d.secret, d.new.as_ref()),
        })
        .collect()
}

/// Who a result is about: the server and its registry.
#[derive(Clone, Copy)]
struct Who<'a> {
    key: &'a str,
    registry: &'a str,
    provider: &'a str,
}

impl Who<'_> {
    fn result(self, action: ActionKind, status: McpServerStatus) -> ServerResult {
        ServerResult {
            server: self.key.to_string(),
            registry: self.registry.to_string(),
            provider: self.provider.to_string(),
            action,
            external_id: status.external_id.clone(),
            changes: Vec::new(),
            message: None,
            status,
        }
    }

    /// A server refused before any write: `Stalled` with the refusal's reason.
    fn refused(
        self,
        server: &McpServer,
        prev: &McpServerStatus,
        r: &Refusal,
        now: Timestamp,
    ) -> ServerResult {
        let status = engine::next_status(prev, server.metadata.generation, now, Report::Refused(r));
        ServerResult {
            message: Some(r.message.clone()),
            ..self.result(ActionKind::Refused, status)
        }
    }
}
