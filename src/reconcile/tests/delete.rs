//! The shared delete step against the in-memory registry: every decision, every answer.

use std::cell::Cell;
use std::time::Duration;

use super::{Fake, error};
use crate::api::conditions::Reason;
use crate::api::{McpServerSpec, McpServerStatus, PendingCreate};
use crate::engine::lifecycle::RetainReason;
use crate::engine::plan::Refusal;
use crate::reconcile::Mode;
use crate::reconcile::delete::{DeleteError, Deleted, delete};
use crate::vocab::{ErrorClass, RemoteError, RemoteRecord};

fn spec(yaml: &str) -> McpServerSpec {
    serde_saphyr::from_str(&format!("registryRef: {{name: composio}}\n{yaml}")).unwrap()
}

fn with_id(id: &str) -> McpServerStatus {
    McpServerStatus {
        external_id: Some(id.into()),
        ..Default::default()
    }
}

fn pending(name: &str) -> McpServerStatus {
    McpServerStatus {
        pending_create: Some(PendingCreate {
            name: name.into(),
            time: k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(jiff::Timestamp::UNIX_EPOCH),
        }),
        ..Default::default()
    }
}

fn record(id: &str, name: &str) -> RemoteRecord {
    RemoteRecord {
        id: id.into(),
        name: Some(name.into()),
        ..RemoteRecord::default()
    }
}

/// Runs the step against `fake`; also says whether it connected.
async fn run(
    fake: &Fake,
    spec: &McpServerSpec,
    status: &McpServerStatus,
    mode: Mode,
) -> (Result<Deleted, DeleteError>, bool) {
    let connected = Cell::new(false);
    let connect = || async {
        connected.set(true);
        Ok::<_, Refusal>(fake)
    };
    let outcome = delete(spec, status, mode, connect).await;
    (outcome, connected.get())
}

const DELETE: &str = "deletionPolicy: Delete\n";

#[tokio::test]
async fn retain_no_record_and_suspend_make_no_call_and_do_not_connect() {
    let fake = Fake::new(Vec::new(), None);
    let cases = [
        (
            spec(""),
            with_id("rec-1"),
            Deleted::Retained(RetainReason::Policy),
        ),
        (
            spec("deletionPolicy: Delete\nmanagementPolicy: ObserveOnly"),
            with_id("rec-1"),
            Deleted::Retained(RetainReason::ObserveOnly),
        ),
        (spec(DELETE), McpServerStatus::default(), Deleted::NoRecord),
        (
            spec("deletionPolicy: Delete\nsuspend: true"),
            with_id("rec-1"),
            Deleted::Suspended,
        ),
    ];
    for (spec, status, want) in cases {
        let (outcome, connected) = run(&fake, &spec, &status, Mode::Apply).await;
        assert_eq!(outcome, Ok(want.clone()));
        assert!(!connected, "{want:?}: no client needed");
    }
    assert!(fake.calls().is_empty());
}

#[test]
fn the_messages_of_outcomes_that_need_one() {
    let observe_only = Deleted::Retained(RetainReason::ObserveOnly).message();
    assert_eq!(
        observe_only.as_deref(),
        Some("managementPolicy is ObserveOnly: the record is never deleted")
    );
    assert_eq!(Deleted::Retained(RetainReason::Policy).message(), None);
    assert_eq!(
        Deleted::Suspended.message().as_deref(),
        Some("spec.suspend is true: no remote call was made")
    );
    let nothing = Deleted::NothingFound {
        name: "GitHub".into(),
    };
    assert_eq!(
        nothing.message().as_deref(),
        Some("a create was pending, but no record named \"GitHub\" exists: nothing to delete")
    );
}

#[tokio::test]
async fn a_recorded_id_is_deleted() {
    let fake = Fake::new(vec![record("rec-1", "GitHub")], None);
    let (outcome, _) = run(&fake, &spec(DELETE), &with_id("rec-1"), Mode::Apply).await;
    assert_eq!(outcome, Ok(Deleted::Deleted { id: "rec-1".into() }));
    assert_eq!(fake.calls(), vec!["DELETE rec-1"]);
}

#[tokio::test]
async fn a_pinned_external_id_is_deleted() {
    let fake = Fake::new(Vec::new(), None);
    let spec = spec("deletionPolicy: Delete\nexternalId: pinned");
    let (outcome, _) = run(&fake, &spec, &McpServerStatus::default(), Mode::Apply).await;
    assert_eq!(
        outcome,
        Ok(Deleted::Deleted {
            id: "pinned".into()
        })
    );
}

#[tokio::test]
async fn a_404_counts_as_done() {
    let mut fake = Fake::new(Vec::new(), None);
    fake.delete_fails = Some(error(ErrorClass::NotFound));
    let (outcome, _) = run(&fake, &spec(DELETE), &with_id("rec-1"), Mode::Apply).await;
    assert_eq!(outcome, Ok(Deleted::AlreadyGone { id: "rec-1".into() }));
}

#[tokio::test]
async fn a_409_is_refused_as_a_conflict_that_names_the_record() {
    let mut fake = Fake::new(Vec::new(), None);
    fake.delete_fails = Some(RemoteError {
        message: "the server is linked to an agent".into(),
        ..error(ErrorClass::Conflict)
    });
    let (outcome, _) = run(&fake, &spec(DELETE), &with_id("rec-1"), Mode::Apply).await;
    let e = outcome.unwrap_err();
    assert!(matches!(e, DeleteError::Refused { .. }), "{e:?}");
    assert_eq!(e.reason(), Reason::Conflict);
    assert!(!e.is_transient());
    assert_eq!(e.id(), Some("rec-1"));
    assert_eq!(
        e.to_string(),
        "the record rec-1 cannot be deleted: the server is linked to an agent"
    );
    assert_eq!(e.refusal().reason, Reason::Conflict);
}

#[tokio::test]
async fn credentials_refused_on_delete_are_refused_too() {
    let mut fake = Fake::new(Vec::new(), None);
    fake.delete_fails = Some(error(ErrorClass::Unauthorized));
    let (outcome, _) = run(&fake, &spec(DELETE), &with_id("rec-1"), Mode::Apply).await;
    let e = outcome.unwrap_err();
    assert!(matches!(e, DeleteError::Refused { .. }), "{e:?}");
    assert_eq!(e.reason(), Reason::Unauthorized);
}

#[tokio::test]
async fn a_transient_failure_is_transient_with_the_registry_retry_after() {
    for class in [ErrorClass::RateLimited, ErrorClass::Unreachable] {
        let mut fake = Fake::new(Vec::new(), None);
        fake.delete_fails = Some(RemoteError {
            retry_after: Some(Duration::from_secs(7)),
            ..error(class)
        });
        let (outcome, _) = run(&fake, &spec(DELETE), &with_id("rec-1"), Mode::Apply).await;
        let e = outcome.unwrap_err();
        assert!(matches!(e, DeleteError::Transient { .. }), "{e:?}");
        assert!(e.is_transient());
        assert_eq!(e.retry_after(), Some(Duration::from_secs(7)));
        assert_eq!(e.id(), Some("rec-1"));
        assert_eq!(e.reason(), class.reason());
    }
}

#[tokio::test]
async fn a_pending_create_found_once_by_name_is_deleted() {
    let fake = Fake::new(
        vec![record("rec-7", "GitHub"), record("rec-8", "Other")],
        None,
    );
    let (outcome, _) = run(&fake, &spec(DELETE), &pending("GitHub"), Mode::Apply).await;
    assert_eq!(outcome, Ok(Deleted::Deleted { id: "rec-7".into() }));
    assert_eq!(fake.calls(), vec!["LIST", "DELETE rec-7"]);
}

#[tokio::test]
async fn a_pending_create_found_nowhere_leaves_nothing_to_delete() {
    let fake = Fake::new(vec![record("rec-8", "Other")], None);
    let (outcome, _) = run(&fake, &spec(DELETE), &pending("GitHub"), Mode::Apply).await;
    assert_eq!(
        outcome,
        Ok(Deleted::NothingFound {
            name: "GitHub".into()
        })
    );
    assert_eq!(fake.calls(), vec!["LIST"], "no DELETE");
}

#[tokio::test]
async fn a_pending_create_whose_name_several_records_have_is_refused_as_a_conflict() {
    let fake = Fake::new(
        vec![record("rec-1", "GitHub"), record("rec-2", "GitHub")],
        None,
    );
    let (outcome, _) = run(&fake, &spec(DELETE), &pending("GitHub"), Mode::Apply).await;
    let e = outcome.unwrap_err();
    assert_eq!(
        e,
        DeleteError::Ambiguous {
            name: "GitHub".into(),
            count: 2
        }
    );
    assert_eq!(e.reason(), Reason::Conflict);
    assert_eq!(
        e.to_string(),
        "a create was pending, and 2 records are named \"GitHub\": set spec.externalId to the one to delete"
    );
    assert_eq!(fake.calls(), vec!["LIST"], "no DELETE");
}

#[tokio::test]
async fn a_failed_look_up_is_reported_with_its_answer() {
    let mut fake = Fake::new(Vec::new(), None);
    fake.list_fails = Some(error(ErrorClass::Unreachable));
    let (outcome, _) = run(&fake, &spec(DELETE), &pending("GitHub"), Mode::Apply).await;
    let e = outcome.unwrap_err();
    assert!(matches!(e, DeleteError::LookUp { .. }), "{e:?}");
    assert_eq!(e.reason(), Reason::RegistryUnreachable);
}

#[tokio::test]
async fn plan_decides_without_connecting() {
    let fake = Fake::new(vec![record("rec-7", "GitHub")], None);
    let (outcome, connected) = run(&fake, &spec(DELETE), &with_id("rec-1"), Mode::Plan).await;
    assert_eq!(
        outcome,
        Ok(Deleted::WouldDelete {
            id: Some("rec-1".into())
        })
    );
    assert!(!connected);
    let (outcome, _) = run(&fake, &spec(DELETE), &pending("GitHub"), Mode::Plan).await;
    assert_eq!(outcome, Ok(Deleted::WouldDelete { id: None }));
    assert!(fake.calls().is_empty());
}

#[tokio::test]
async fn a_registry_that_cannot_be_connected_keeps_the_refusal() {
    let refusal = Refusal {
        reason: Reason::SecretNotFound,
        message: "McpRegistry/team-a/composio: Secret team-a/k not found".into(),
    };
    let connect = || async { Err::<&Fake, _>(refusal.clone()) };
    let outcome = delete(&spec(DELETE), &with_id("rec-1"), Mode::Apply, connect).await;
    let e = outcome.unwrap_err();
    assert_eq!(e, DeleteError::NotConnected(refusal.clone()));
    assert_eq!(e.reason(), Reason::SecretNotFound);
    assert_eq!(e.to_string(), refusal.message);
}
