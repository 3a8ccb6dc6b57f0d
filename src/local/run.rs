//! `plan` and `apply` on manifest files: the shared reconcile pipeline with desired state
//! from files and status kept in a state file. This module only groups servers by
//! registry, serves the pipeline's ports from the files, and stores the results.

use std::collections::BTreeMap;
use std::path::PathBuf;

use jiff::Timestamp;
use serde::Serialize;

use crate::api::McpServer;
use crate::engine::plan::Refusal;
use crate::local::manifests;
use crate::local::ports::{StateIntents, StateOwners, lock_state};
use crate::local::secrets::{self, RegistryView};
use crate::local::state::{ServerState, StateFile};
use crate::provider::model_for;
use crate::reconcile::{self, Batch, ServerInput};
pub use crate::reconcile::{ActionKind, BaseUrlOverride, Mode, ServerResult, ShownChange};
use crate::vocab::{ObjectKey, RegistryId};

/// One `plan` or `apply`.
pub struct RunOptions {
    pub paths: Vec<PathBuf>,
    pub state_path: PathBuf,
    pub mode: Mode,
    pub base_url_override: Option<BaseUrlOverride>,
    /// When another run holds the state file: wait for it (`--wait`) instead of failing.
    pub wait_for_state: bool,
}

/// The results of a run, one per McpServer in the files.
#[derive(Clone, Debug, Serialize, PartialEq, Default)]
pub struct RunReport {
    pub servers: Vec<ServerResult>,
    pub skipped: Vec<String>,
    /// Servers the state file knows but the manifests no longer hold (`namespace/name`,
    /// registry, id): their records stay until `mcpsync delete` is run on their manifest.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub orphaned: Vec<String>,
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

/// Runs `plan` or `apply`.
pub async fn run(opts: &RunOptions, now: Timestamp) -> Result<RunReport, RunError> {
    let manifests = manifests::load(&opts.paths)?;
    // `apply` holds the state file from load to final save, so two runs cannot both
    // create the same server's record; `plan` writes nothing and reads an atomic file.
    let lock = match opts.mode {
        Mode::Apply => Some(lock_state(opts).await?),
        Mode::Plan => None,
    };
    let mut state = match &lock {
        Some(lock) => lock.load()?,
        None => StateFile::load(&opts.state_path)?,
    };
    let owners = StateOwners::new(&state, &manifests);
    let mut report = RunReport {
        skipped: manifests.skipped.clone(),
        orphaned: orphaned(&state, &manifests),
        ..Default::default()
    };
    let mut groups: BTreeMap<RegistryId, (RegistryView, Vec<ServerInput<'_>>)> = BTreeMap::new();
    for server in manifests.servers.iter().map(|l| &l.object) {
        let key = object_key(server);
        let prev = state
            .get(&key.to_string())
            .map(|s| s.status.clone())
            .unwrap_or_default();
        let input = ServerInput { key, server, prev };
        if let Some(result) = reconcile::suspended(&input, now) {
            report.servers.push(result);
            continue;
        }
        match secrets::find_registry(&manifests, server) {
            Ok(view) => groups
                .entry(view.id.clone())
                .or_insert_with(|| (view, Vec::new()))
                .1
                .push(input),
            Err(e) => {
                let refusal = Refusal {
                    reason: e.reason(),
                    message: e.to_string(),
                };
                report
                    .servers
                    .push(reconcile::refused(&input, "-", "-", &refusal, now));
            }
        }
    }
    for (view, inputs) in groups.into_values() {
        let label = view.label();
        let provider = model_for(&view.connection.provider).kind().id();
        let connected =
            reconcile::connect(&view, &manifests.secrets, opts.base_url_override.as_ref()).await;
        let client = match connected {
            Ok(client) => client,
            Err(r) => {
                let refused = inputs
                    .iter()
                    .map(|input| reconcile::refused(input, &label, provider, &r, now));
                report.servers.extend(refused);
                continue;
            }
        };
        let mut intents = StateIntents::new(&mut state, lock.as_ref(), &label);
        let batch = Batch {
            registry: &view,
            secrets: &manifests.secrets,
            owners: &owners,
            intents: &mut intents,
            mode: opts.mode,
            now,
        };
        let results = reconcile::run_batch(batch, &client, inputs).await;
        report.servers.extend(results);
    }
    report.servers.sort_by(|a, b| a.server.cmp(&b.server));
    if let Some(lock) = &lock {
        for r in &report.servers {
            let entry = ServerState {
                status: r.status.clone(),
                registry: r.registry.clone(),
            };
            state.insert(r.server.clone(), entry);
        }
        lock.save(&state)?;
    }
    Ok(report)
}

/// State entries of servers that are not in the manifests any more.
fn orphaned(state: &StateFile, manifests: &manifests::Manifests) -> Vec<String> {
    let present: std::collections::BTreeSet<String> = manifests
        .servers
        .iter()
        .map(|l| server_key(&l.object))
        .collect();
    state
        .servers()
        .filter(|(key, _)| !present.contains(*key))
        .map(|(key, entry)| match &entry.status.external_id {
            Some(id) => format!("{key} ({}, id {id})", entry.registry),
            None => format!("{key} ({}, no record)", entry.registry),
        })
        .collect()
}

/// The identity of a server: its namespace (`default` when the manifest names none) and
/// name.
pub(crate) fn object_key(server: &McpServer) -> ObjectKey {
    ObjectKey::new(
        secrets::server_secret_namespace(server),
        server.metadata.name.as_deref().unwrap_or_default(),
    )
}

/// The state-file key of a server: `namespace/name`.
pub(crate) fn server_key(server: &McpServer) -> String {
    object_key(server).to_string()
}
