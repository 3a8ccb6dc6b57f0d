//! The gate before a reconcile and the decision when a McpServer goes away. Pure.

use crate::api::{DeletionPolicy, ManagementPolicy, McpServerSpec, McpServerStatus};

/// Whether a reconcile may call the registry at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gate {
    Proceed,
    /// `spec.suspend: true`: no remote call of any kind (read, write or delete).
    Suspended,
}

/// The one suspend rule, for every front end and every operation.
pub fn gate(spec: &McpServerSpec) -> Gate {
    if spec.suspend == Some(true) {
        Gate::Suspended
    } else {
        Gate::Proceed
    }
}

/// What happens to the remote record when its McpServer is deleted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Deletion {
    /// Delete the record with this id; an answer of 404 counts as done.
    Delete { id: String },
    /// No id is recorded, but a create of ours may have reached the registry (a pending
    /// create intent): look the record up by this name, and delete what is found.
    LookUpThenDelete { name: String },
    /// Leave the record in the registry, for the reason given.
    Retain(RetainReason),
    /// There is no record to act on: never created, never adopted.
    NoRecord,
    /// `spec.suspend: true`: no remote call; the object keeps waiting.
    Suspended,
}

/// Why a record is left in the registry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetainReason {
    /// `deletionPolicy: Retain` (the default).
    Policy,
    /// `managementPolicy: ObserveOnly` never writes to the registry, and a DELETE is a write.
    ObserveOnly,
}

impl RetainReason {
    /// For a person.
    pub fn message(self) -> &'static str {
        match self {
            RetainReason::Policy => "deletionPolicy is Retain: the record stays in the registry",
            RetainReason::ObserveOnly => {
                "managementPolicy is ObserveOnly: the record is never deleted"
            }
        }
    }
}

/// The deletion decision for a server being deleted.
pub fn deletion(spec: &McpServerSpec, status: &McpServerStatus) -> Deletion {
    let id = spec.external_id.as_ref().or(status.external_id.as_ref());
    let pending = status.pending_create.as_ref().map(|p| p.name.clone());
    if id.is_none() && pending.is_none() {
        return Deletion::NoRecord;
    }
    if spec.deletion_policy.unwrap_or_default() == DeletionPolicy::Retain {
        return Deletion::Retain(RetainReason::Policy);
    }
    if gate(spec) == Gate::Suspended {
        return Deletion::Suspended;
    }
    if spec.management_policy == Some(ManagementPolicy::ObserveOnly) {
        return Deletion::Retain(RetainReason::ObserveOnly);
    }
    match (id, pending) {
        (Some(id), _) => Deletion::Delete { id: id.clone() },
        (None, Some(name)) => Deletion::LookUpThenDelete { name },
        (None, None) => Deletion::NoRecord,
    }
}

/// Whether the remote record must be deleted with the object, so a finalizer must hold
/// the object until that is done (`deletionPolicy: Delete` under `Manage`).
pub fn needs_cleanup(spec: &McpServerSpec) -> bool {
    spec.deletion_policy.unwrap_or_default() == DeletionPolicy::Delete
        && spec.management_policy.unwrap_or_default() == ManagementPolicy::Manage
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::PendingCreate;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn spec(yaml: &str) -> McpServerSpec {
        serde_saphyr::from_str(&format!("registryRef: {{name: r}}\n{yaml}")).unwrap()
    }

    #[test]
    fn deletion_follows_policy_observe_only_suspend_and_pending_creates() {
        let with_id = McpServerStatus {
            external_id: Some("rec-1".into()),
            ..Default::default()
        };
        let pending = McpServerStatus {
            pending_create: Some(PendingCreate {
                name: "GitHub".into(),
                time: Time(jiff::Timestamp::UNIX_EPOCH),
            }),
            ..Default::default()
        };
        let none = McpServerStatus::default();
        let cases = [
            ("", &with_id, Deletion::Retain(RetainReason::Policy)),
            ("deletionPolicy: Delete", &none, Deletion::NoRecord),
            (
                "deletionPolicy: Delete",
                &with_id,
                Deletion::Delete { id: "rec-1".into() },
            ),
            (
                "deletionPolicy: Delete\nexternalId: pinned",
                &none,
                Deletion::Delete {
                    id: "pinned".into(),
                },
            ),
            (
                "deletionPolicy: Delete",
                &pending,
                Deletion::LookUpThenDelete {
                    name: "GitHub".into(),
                },
            ),
            (
                "deletionPolicy: Delete\nmanagementPolicy: ObserveOnly",
                &with_id,
                Deletion::Retain(RetainReason::ObserveOnly),
            ),
            (
                "deletionPolicy: Delete\nsuspend: true",
                &with_id,
                Deletion::Suspended,
            ),
            (
                "suspend: true",
                &with_id,
                Deletion::Retain(RetainReason::Policy),
            ),
        ];
        for (yaml, status, want) in cases {
            assert_eq!(deletion(&spec(yaml), status), want, "{yaml}");
        }
    }

    #[test]
    fn cleanup_is_needed_only_for_delete_under_manage() {
        assert!(needs_cleanup(&spec("deletionPolicy: Delete")));
        assert!(!needs_cleanup(&spec("")));
        assert!(!needs_cleanup(&spec(
            "deletionPolicy: Delete\nmanagementPolicy: ObserveOnly"
        )));
        assert_eq!(gate(&spec("suspend: true")), Gate::Suspended);
        assert_eq!(gate(&spec("suspend: false")), Gate::Proceed);
    }
}
