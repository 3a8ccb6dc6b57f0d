//! `mcpsync delete -f`: as `kubectl delete -f`, honouring each McpServer's
//! `deletionPolicy`, and dropping it from the state file.

use jiff::Timestamp;
use serde::Serialize;

use crate::api::{McpServer, McpServerStatus};
use crate::engine::lifecycle::{Deletion, RetainReason, deletion};
use crate::local::manifests::{self, Manifests};
use crate::local::ports::lock_state;
use crate::local::run::{Mode, RunError, RunOptions, server_key};
use crate::local::secrets;
use crate::reconcile;
use crate::vocab::ErrorClass;

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

/// The delete of one server's record, as its spec's `deletionPolicy` says; under
/// [`Mode::Plan`] only the decision, without a remote call (`Deleted` = to delete).
pub(crate) async fn delete_one(
    opts: &RunOptions,
    manifests: &Manifests,
    server: &McpServer,
    status: &McpServerStatus,
    known: bool,
    mode: Mode,
) -> DeleteResult {
    let id = server
        .spec
        .external_id
        .clone()
        .or_else(|| status.external_id.clone());
    let mut result = DeleteResult {
        server: server_key(server),
        registry: None,
        external_id: id,
        outcome: DeleteOutcome::NoRecord,
        message: None,
    };
    match deletion(&server.spec, status) {
        Deletion::NoRecord if !known => {
            result.message = Some(
                "not in the state file: mcpsync never created or adopted a record for it here"
                    .into(),
            );
        }
        Deletion::NoRecord => {}
        Deletion::Suspended => {
            result.outcome = DeleteOutcome::Suspended;
            result.message = Some("spec.suspend is true: no remote call was made".into());
        }
        Deletion::Retain(why) => {
            result.outcome = DeleteOutcome::Retained;
            if why == RetainReason::ObserveOnly {
                result.message = Some(why.message().into());
            }
        }
        Deletion::Delete { .. } | Deletion::LookUpThenDelete { .. } if mode == Mode::Plan => {
            result.outcome = DeleteOutcome::Deleted;
        }
        Deletion::Delete { id } => {
            let answer = match client_for(opts, manifests, server).await {
                Ok(client) => client
                    .delete(&id)
                    .await
                    .map_err(|e| (Some(e.class), e.message)),
                Err(message) => Err((None, message)),
            };
            (result.outcome, result.message) = outcome_of(answer);
        }
        Deletion::LookUpThenDelete { name } => {
            let (outcome, message, id) = delete_by_name(opts, manifests, server, &name).await;
            (result.outcome, result.message) = (outcome, message);
            result.external_id = id;
        }
    }
    result
}

async fn client_for(
    opts: &RunOptions,
    manifests: &Manifests,
    server: &McpServer,
) -> Result<crate::provider::http::RegistryClient, String> {
    let view = secrets::find_registry(manifests, server).map_err(|e| e.to_string())?;
    reconcile::connect(&view, &manifests.secrets, opts.base_url_override.as_ref())
        .await
        .map_err(|r| r.message)
}

fn outcome_of(answer: Result<(), (Option<ErrorClass>, String)>) -> (DeleteOutcome, Option<String>) {
    match answer {
        Ok(()) => (DeleteOutcome::Deleted, None),
        Err((Some(ErrorClass::NotFound), _)) => (DeleteOutcome::AlreadyGone, None),
        Err((_, message)) => (DeleteOutcome::Failed, Some(message)),
    }
}

/// A create of ours may have reached the registry without its id being recorded: look
/// the record up by the name it was created with, and delete it when exactly one is found.
async fn delete_by_name(
    opts: &RunOptions,
    manifests: &Manifests,
    server: &McpServer,
    name: &str,
) -> (DeleteOutcome, Option<String>, Option<String>) {
    let client = match client_for(opts, manifests, server).await {
        Ok(c) => c,
        Err(message) => return (DeleteOutcome::Failed, Some(message), None),
    };
    let found = match client.list_all(Some(name)).await {
        Ok(found) => found,
        Err(e) => return (DeleteOutcome::Failed, Some(e.message), None),
    };
    match found.as_slice() {
        [] => (
            DeleteOutcome::NoRecord,
            Some(format!(
                "a create was pending, but no record named {name:?} exists: nothing to delete"
            )),
            None,
        ),
        [record] => {
            let answer = client
                .delete(&record.id)
                .await
                .map_err(|e| (Some(e.class), e.message));
            let (outcome, message) = outcome_of(answer);
            (outcome, message, Some(record.id.clone()))
        }
        several => (
            DeleteOutcome::Failed,
            Some(format!(
                "a create was pending, and {} records are named {name:?}: set spec.externalId to the one to delete",
                several.len()
            )),
            None,
        ),
    }
}
