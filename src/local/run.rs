//! `plan` and `apply` on manifest files: the shared reconcile pipeline with desired state
//! from files and status kept in a state file. This module only groups servers by
//! registry, serves the pipeline's ports from the files, and stores the results.

use std::collections::BTreeMap;
use std::path::PathBuf;

use jiff::Timestamp;
use serde::Serialize;

use crate::api::{McpServer, McpServerSpec};
use crate::local::delete::{DeleteOutcome, DeleteResult};
use crate::local::manifests;
use crate::local::ports::{StateIntents, StateOwners, lock_state};
pub use crate::local::progress::Progress;
pub use crate::local::prune::Orphan;
use crate::local::prune::{orphaned, prune};
use crate::local::secrets::{self, RegistryView};
use crate::local::state::{ServerState, StateFile};
use crate::provider::model_for;
use crate::reconcile::lookup::find_registry;
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
    /// `--prune`: servers the state file knows but the manifests no longer hold are
    /// deleted as their last applied `deletionPolicy` says (and dropped from the state).
    pub prune: bool,
    /// Where progress of a long run goes (stderr for the CLI); `None` says nothing.
    pub progress: Option<Progress>,
}

/// The results of a run, one per McpServer in the files.
#[derive(Clone, Debug, Serialize, PartialEq, Default)]
pub struct RunReport {
    pub servers: Vec<ServerResult>,
    pub skipped: Vec<String>,
    /// Servers the state file knows but the manifests no longer hold: their records stay
    /// until `--prune` (or `mcpsync delete` on their manifest) removes them.
    pub orphaned: Vec<Orphan>,
    /// With `--prune`: what happened (or, under `plan`, would happen) to the orphans.
    pub pruned: Vec<DeleteResult>,
}

impl RunReport {
    /// True when a plan has something to do (a create, a PATCH, or a delete to prune).
    pub fn has_changes(&self) -> bool {
        let writes = self
            .servers
            .iter()
            .any(|s| matches!(s.action, ActionKind::Create | ActionKind::Patch));
        writes
            || self
                .pruned
                .iter()
                .any(|p| p.outcome == DeleteOutcome::Deleted)
    }
    /// True when some server could not be brought in line (or pruned).
    pub fn has_errors(&self) -> bool {
        let servers = self
            .servers
            .iter()
            .any(|s| matches!(s.action, ActionKind::Refused | ActionKind::Failed));
        servers
            || self
                .pruned
                .iter()
                .any(|p| p.outcome == DeleteOutcome::Failed)
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
    let specs: BTreeMap<ObjectKey, McpServerSpec> = manifests
        .servers
        .iter()
        .map(|l| (object_key(&l.object), l.object.spec.clone()))
        .collect();
    let progress = opts.progress.clone().unwrap_or_default();
    progress.begin(manifests.servers.len());
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
            progress.done(1);
            continue;
        }
        match find_registry(&manifests, server) {
            Ok(view) => groups
                .entry(view.id.clone())
                .or_insert_with(|| (view, Vec::new()))
                .1
                .push(input),
            Err(e) => {
                let refused = reconcile::refused(&input, None, None, &e.refusal(), now);
                report.servers.push(refused);
                progress.done(1);
            }
        }
    }
    for (view, inputs) in groups.into_values() {
        let label = view.label();
        let provider = model_for(&view.connection.provider).kind().id();
        progress.stage(format!("{label}: {} server(s)", inputs.len()));
        let count = inputs.len();
        let connected =
            reconcile::connect(&view, &manifests.secrets, opts.base_url_override.as_ref()).await;
        let client = match connected {
            Ok(client) => client,
            Err(r) => {
                let refused = inputs
                    .iter()
                    .map(|input| reconcile::refused(input, Some(&label), Some(provider), &r, now));
                report.servers.extend(refused);
                progress.done(count);
                continue;
            }
        };
        let mut intents = StateIntents::new(&mut state, lock.as_ref(), &label, &specs);
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
        progress.done(count);
    }
    report.servers.sort_by(|a, b| a.server.cmp(&b.server));
    if opts.prune {
        progress.stage(format!("pruning {} server(s)", report.orphaned.len()));
        report.pruned = prune(opts, &manifests, &state, &report.orphaned).await;
    }
    if let Some(lock) = &lock {
        for r in &report.servers {
            let key = r.server.parse::<ObjectKey>().ok();
            let entry = ServerState {
                status: r.status.clone(),
                registry: r.registry.clone(),
                spec: key.and_then(|k| specs.get(&k).cloned()),
            };
            state.insert(r.server.clone(), entry);
        }
        for pruned in report.pruned.iter().filter(|p| p.outcome.leaves_state()) {
            state.remove(&pruned.server);
        }
        lock.save(&state)?;
    }
    Ok(report)
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
