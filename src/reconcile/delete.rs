//! Delete: what happens to a server's remote record when the server goes away
//! (`mcpsync delete`, `--prune`, the controller's finalizer). The decision is the pure
//! [`deletion`]; this step connects only when a call is needed, looks a pending create up
//! by name, deletes, and classifies the answer. Front ends only report the outcome.

use std::future::Future;
use std::time::Duration;

use crate::api::conditions::Reason;
use crate::api::{McpServerSpec, McpServerStatus};
use crate::engine::lifecycle::{Deletion, RetainReason, deletion};
use crate::engine::plan::Refusal;
use crate::reconcile::Mode;
use crate::reconcile::ports::RegistryApi;
use crate::vocab::{ErrorClass, RemoteError};

/// A delete that needed no call, or whose call succeeded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Deleted {
    /// The record stays in the registry.
    Retained(RetainReason),
    /// No record was ever created or adopted.
    NoRecord,
    /// `spec.suspend: true`: no remote call; the server keeps waiting.
    Suspended,
    /// Under [`Mode::Plan`]: the record would be deleted (`id` when one is recorded; a
    /// pending create is looked up only when the delete is carried out).
    WouldDelete { id: Option<String> },
    /// The registry deleted the record.
    Deleted { id: String },
    /// The registry answered 404: already gone, which counts as done.
    AlreadyGone { id: String },
    /// A create was pending, but no record has its name: there is nothing to delete.
    NothingFound { name: String },
}

/// A delete that did not happen.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DeleteError {
    /// No client for the registry: not found, not ready, or its credentials unreadable.
    #[error("{}", .0.message)]
    NotConnected(Refusal),
    /// A create was pending, and more than one record has its name: deleting one of them
    /// could delete somebody else's.
    #[error(
        "a create was pending, and {count} records are named {name:?}: set spec.externalId to the one to delete"
    )]
    Ambiguous { name: String, count: usize },
    /// The look-up of a pending create's record failed.
    #[error("{source}")]
    LookUp { name: String, source: RemoteError },
    /// The registry refused the delete and will until something changes (409: the record
    /// is in use; 401/403: credentials).
    #[error("the record {id} cannot be deleted: {source}")]
    Refused { id: String, source: RemoteError },
    /// The delete may succeed when tried again (429, 5xx, timeouts).
    #[error("{source}")]
    Transient { id: String, source: RemoteError },
}

impl Deleted {
    /// What a person is told beyond the outcome itself, if anything.
    pub fn message(&self) -> Option<String> {
        match self {
            Deleted::Retained(why @ RetainReason::ObserveOnly) => Some(why.message().into()),
            Deleted::Suspended => Some(crate::reconcile::SUSPENDED_MESSAGE.into()),
            Deleted::NothingFound { name } => Some(format!(
                "a create was pending, but no record named {name:?} exists: nothing to delete"
            )),
            _ => None,
        }
    }

    /// The id of the record acted on, when known.
    pub fn id(&self) -> Option<&str> {
        match self {
            Deleted::WouldDelete { id } => id.as_deref(),
            Deleted::Deleted { id } | Deleted::AlreadyGone { id } => Some(id),
            _ => None,
        }
    }
}

impl DeleteError {
    /// The condition reason of the refusal.
    pub fn reason(&self) -> Reason {
        match self {
            DeleteError::NotConnected(r) => r.reason,
            DeleteError::Ambiguous { .. } => Reason::Conflict,
            DeleteError::LookUp { source, .. }
            | DeleteError::Refused { source, .. }
            | DeleteError::Transient { source, .. } => source.class.reason(),
        }
    }

    /// Whether trying again soon may help (with backoff, never before `retry_after`).
    pub fn is_transient(&self) -> bool {
        matches!(self, DeleteError::Transient { .. })
    }

    /// The registry's `Retry-After`, when it sent one.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            DeleteError::LookUp { source, .. }
            | DeleteError::Refused { source, .. }
            | DeleteError::Transient { source, .. } => source.retry_after,
            _ => None,
        }
    }

    /// The id of the record the delete was for, when known.
    pub fn id(&self) -> Option<&str> {
        match self {
            DeleteError::Refused { id, .. } | DeleteError::Transient { id, .. } => Some(id),
            _ => None,
        }
    }

    /// As a refusal of the server (`Stalled` with the reason).
    pub fn refusal(&self) -> Refusal {
        Refusal {
            reason: self.reason(),
            message: self.to_string(),
        }
    }
}

/// Carries out the deletion decision for a server going away: `connect` is called only
/// when the registry must be asked, and under [`Mode::Plan`] never.
pub async fn delete<R, F, Fut>(
    spec: &McpServerSpec,
    status: &McpServerStatus,
    mode: Mode,
    connect: F,
) -> Result<Deleted, DeleteError>
where
    R: RegistryApi,
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<R, Refusal>>,
{
    // The record's id, or the name of a pending create to look it up by.
    let target = match deletion(spec, status) {
        Deletion::Retain(why) => return Ok(Deleted::Retained(why)),
        Deletion::NoRecord => return Ok(Deleted::NoRecord),
        Deletion::Suspended => return Ok(Deleted::Suspended),
        Deletion::Delete { id } => Ok(id),
        Deletion::LookUpThenDelete { name } => Err(name),
    };
    if mode == Mode::Plan {
        return Ok(Deleted::WouldDelete { id: target.ok() });
    }
    let client = connect().await.map_err(DeleteError::NotConnected)?;
    let id = match target {
        Ok(id) => id,
        Err(name) => match look_up(&client, &name).await? {
            Some(id) => id,
            None => return Ok(Deleted::NothingFound { name }),
        },
    };
    delete_id(&client, id).await
}

/// The record a pending create made, by its name: its id when exactly one is found.
async fn look_up<R: RegistryApi>(client: &R, name: &str) -> Result<Option<String>, DeleteError> {
    let found = client
        .list_all(Some(name))
        .await
        .map_err(|source| DeleteError::LookUp {
            name: name.to_string(),
            source,
        })?;
    match found.as_slice() {
        [] => Ok(None),
        [record] => Ok(Some(record.id.clone())),
        several => Err(DeleteError::Ambiguous {
            name: name.to_string(),
            count: several.len(),
        }),
    }
}

async fn delete_id<R: RegistryApi>(client: &R, id: String) -> Result<Deleted, DeleteError> {
    match client.delete(&id).await {
        Ok(()) => Ok(Deleted::Deleted { id }),
        Err(e) if e.class == ErrorClass::NotFound => Ok(Deleted::AlreadyGone { id }),
        Err(source) if source.class.is_stalled() => Err(DeleteError::Refused { id, source }),
        Err(source) => Err(DeleteError::Transient { id, source }),
    }
}
