//! The ownership guard: one remote record, one McpServer. Pure; the front end's
//! ownership index says who else claims a record.

use crate::api::McpServerStatus;
use crate::api::conditions::Reason;
use crate::engine::plan::{Action, Decision, Refusal};
use crate::vocab::ObjectKey;

/// The id of a record this decision would take over by name, if any: only an adoption
/// needs the guard (an id from the spec or status is the server's own).
pub fn adopted_id(decision: &Decision) -> Option<&str> {
    decision.record_id.as_deref().filter(|_| decision.adopted)
}

/// Refuses to adopt a record that `owner` (another McpServer of the same registry)
/// already manages: two owners would overwrite each other, and one's
/// `deletionPolicy: Delete` would delete the other's record. It happens when two
/// McpServers share a `displayName`.
pub fn refuse_claimed(decision: Decision, owner: Option<&ObjectKey>) -> Decision {
    let (Some(id), Some(owner)) = (adopted_id(&decision), owner) else {
        return decision;
    };
    let name = decision
        .live
        .as_ref()
        .and_then(|r| r.name.as_deref())
        .unwrap_or_default();
    let message = format!(
        "the record named {name:?} ({id}) is already managed by {owner}; give this server another displayName or set spec.externalId"
    );
    conflict(&decision, message)
}

/// The decision replaced by a refusal (`Conflict`): nothing is adopted or sent.
fn conflict(decision: &Decision, message: String) -> Decision {
    Decision {
        action: Action::Refuse(Refusal {
            reason: Reason::Conflict,
            message,
        }),
        record_id: None,
        live: None,
        diffs: Vec::new(),
        adopted: false,
        observe_only: decision.observe_only,
    }
}

/// Adoption is explicit (docs/api.md): a record is taken over only through `spec.externalId`
/// or a create intent of this server's own (`status.pendingCreate`: a create of ours may
/// have reached the registry). A same-named record found otherwise belongs to someone
/// else; it is never taken over silently. `ObserveOnly` may read it, as it never writes.
pub fn refuse_foreign(decision: Decision, status: &McpServerStatus) -> Decision {
    let Some(id) = adopted_id(&decision) else {
        return decision;
    };
    if status.pending_create.is_some() || decision.observe_only {
        return decision;
    }
    let name = decision
        .live
        .as_ref()
        .and_then(|r| r.name.as_deref())
        .unwrap_or_default();
    let message = format!(
        "a record named {name:?} ({id}) already exists in the registry and was not created by this McpServer; to manage it, set spec.externalId: {id}; otherwise give this server another displayName"
    );
    conflict(&decision, message)
}
