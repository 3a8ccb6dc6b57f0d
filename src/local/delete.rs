//! `mcpsync delete -f`: as `kubectl delete -f`, honouring each McpServer's
//! `deletionPolicy`, and dropping it from the state file.

use jiff::Timestamp;
use serde::Serialize;

use crate::api::{McpServer, McpServerStatus};
use crate::local::manifests::{self, Manifests};
use crate::local::ports::lock_state;
use crate::local::run::{Mode, RunError, RunOptions, server_key};
use crate::reconcile;
use crate::reconcile::delete::{self, Deleted};
use crate::reconcile::lookup::find_registry;

/// What happened to one server's remote record.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub enum DeleteOutcome {
    /// `deletionPolicy: Delete`: the registry deleted it.
    Deleted,
    /// `deletionPolicy: Delete`: it was already gone (404 counts as done).
    AlreadyGone,
    /// `deletionPolicy: Retain` (the default): left in the registry.
    Retained,
    /// No record was ever created or adopted for it.
    NoRecord,
    /// The delete failed; the server stays in the state file so a later run can retry.
    Failed,
    /// `spec.suspend: true`: no remote call; the server stays in the state file.
    Suspended,
}

/// One server's result.
#[derive(Clone, Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DeleteResult {
    pub server: String,
    /// The registry the record is (or would be) deleted from, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registry: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// Named `action` in output, as for `plan` and `apply`: one shape for every command.
    #[serde(rename = "action")]
    pub outcome: DeleteOutcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Deletes (or retains) the remote record of every McpServer in the files.
pub async fn delete(opts: &RunOptions, _now: Timestamp) -> Result<Vec<DeleteResult>, RunError> {
    let manifests = manifests::load(&opts.paths)?;
    let lock = lock_state(opts).await?;
    let mut state = lock.load()?;
    let mut results = Vec::new();
    for loaded in &manifests.servers {
        let server = &loaded.object;
        let key = server_key(server);
        let entry = state.get(&key);
        let status = entry.map(|s| s.status.clone()).unwrap_or_default();
        let registry = entry.and_then(|s| s.registry.clone());
        let result = delete_one(
            opts,
            &manifests,
            server,
            &status,
            entry.is_some(),
            Mode::Apply,
        )
        .await
        .with_registry(registry);
        if result.outcome.leaves_state() {
            state.remove(&key);
        }
        results.push(result);
    }
    lock.save(&state)?;
    Ok(results)
}

impl DeleteOutcome {
    /// Whether the server leaves the state file: not when a later run must retry.
    pub fn leaves_state(self) -> bool {
        !matches!(self, DeleteOutcome::Failed | DeleteOutcome::Suspended)
    }
}

impl DeleteResult {
    fn with_registry(mut self, known: Option<String>) -> Self {
        self.registry = self.registry.or(known);
        self
    }
}

/// The delete of one server's record, as its spec's `deletionPolicy` says (the shared
/// step, [`reconcile::delete`]); under [`Mode::Plan`] only the decision, without a remote
/// call (`Deleted` = to delete). `known`: whether the state file has the server.
pub(crate) async fn delete_one(
    opts: &RunOptions,
    manifests: &Manifests,
    server: &McpServer,
    status: &McpServerStatus,
    known: bool,
    mode: Mode,
) -> DeleteResult {
    let connect = || async {
        let view = find_registry(manifests, server).map_err(|e| e.refusal())?;
        reconcile::connect(&view, &manifests.secrets, opts.base_url_override.as_ref()).await
    };
    let outcome = delete::delete(&server.spec, status, mode, connect).await;
    let recorded = server
        .spec
        .external_id
        .clone()
        .or_else(|| status.external_id.clone());
    let (outcome, found, message) = match outcome {
        Ok(Deleted::NoRecord) if !known => (
            DeleteOutcome::NoRecord,
            None,
            Some(NOT_IN_STATE.to_string()),
        ),
        Ok(done) => (
            DeleteOutcome::of(&done),
            done.id().map(str::to_string),
            done.message(),
        ),
        Err(e) => (
            DeleteOutcome::Failed,
            e.id().map(str::to_string),
            Some(e.to_string()),
        ),
    };
    DeleteResult {
        server: server_key(server),
        registry: None,
        // A record found by a pending create's name has no id recorded.
        external_id: recorded.or(found),
        outcome,
        message,
    }
}

/// Said of a server `delete` was asked about but no run of this state file applied.
const NOT_IN_STATE: &str =
    "not in the state file: mcpsync never created or adopted a record for it here";

impl DeleteOutcome {
    fn of(done: &Deleted) -> Self {
        match done {
            Deleted::Retained(_) => DeleteOutcome::Retained,
            Deleted::NoRecord | Deleted::NothingFound { .. } => DeleteOutcome::NoRecord,
            Deleted::Suspended => DeleteOutcome::Suspended,
            Deleted::WouldDelete { .. } | Deleted::Deleted { .. } => DeleteOutcome::Deleted,
            Deleted::AlreadyGone { .. } => DeleteOutcome::AlreadyGone,
        }
    }
}
