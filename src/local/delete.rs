//! `mcpsync delete -f`: as `kubectl delete -f`, honouring each McpServer's
//! `deletionPolicy`, and dropping it from the state file.

use jiff::Timestamp;
use serde::Serialize;

use crate::api::{DeletionPolicy, ManagementPolicy};
use crate::local::manifests;
use crate::local::run::{RunError, RunOptions, registry_client, server_key};
use crate::local::secrets;
use crate::local::state::StateFile;
use crate::provider::ErrorClass;

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
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    pub outcome: DeleteOutcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Deletes (or retains) the remote record of every McpServer in the files.
pub async fn delete(opts: &RunOptions, _now: Timestamp) -> Result<Vec<DeleteResult>, RunError> {
    let manifests = manifests::load(&opts.paths)?;
    let mut state = StateFile::load(&opts.state_path)?;
    let mut results = Vec::new();
    for loaded in &manifests.servers {
        let server = &loaded.object;
        let key = server_key(server);
        let id = server
            .spec
            .external_id
            .clone()
            .or_else(|| state.get(&key).and_then(|s| s.status.external_id.clone()));
        let mut result = DeleteResult {
            server: key.clone(),
            external_id: id.clone(),
            outcome: DeleteOutcome::NoRecord,
            message: None,
        };
        let observe_only = server.spec.management_policy == Some(ManagementPolicy::ObserveOnly);
        match (server.spec.deletion_policy.unwrap_or_default(), id) {
            (_, None) => {}
            (DeletionPolicy::Delete, Some(_)) if server.spec.suspend == Some(true) => {
                result.outcome = DeleteOutcome::Suspended;
                result.message = Some("spec.suspend is true: no remote call was made".into());
            }
            (DeletionPolicy::Retain, Some(_)) => result.outcome = DeleteOutcome::Retained,
            // ObserveOnly never writes to the registry, and a DELETE is a write.
            (DeletionPolicy::Delete, Some(_)) if observe_only => {
                result.outcome = DeleteOutcome::Retained;
                result.message =
                    Some("managementPolicy is ObserveOnly: the record is never deleted".into());
            }
            (DeletionPolicy::Delete, Some(id)) => {
                let client = secrets::find_registry(&manifests, server)
                    .map_err(|e| e.to_string())
                    .and_then(|view| {
                        registry_client(opts, &manifests, &view).map_err(|r| r.message)
                    });
                let answer = match client {
                    Ok(client) => client
                        .delete(&id)
                        .await
                        .map_err(|e| (Some(e.class), e.message)),
                    Err(message) => Err((None, message)),
                };
                result.outcome = match answer {
                    Ok(()) => DeleteOutcome::Deleted,
                    Err((Some(ErrorClass::NotFound), _)) => DeleteOutcome::AlreadyGone,
                    Err((_, message)) => {
                        result.message = Some(message);
                        DeleteOutcome::Failed
                    }
                };
            }
        }
        if !matches!(
            result.outcome,
            DeleteOutcome::Failed | DeleteOutcome::Suspended
        ) {
            state.remove(&key);
        }
        results.push(result);
    }
    state.save(&opts.state_path)?;
    Ok(results)
}
