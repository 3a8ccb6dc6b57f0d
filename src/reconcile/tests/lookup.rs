//! Registry look-up against an in-memory source: both kinds, `allowedNamespaces`, and the
//! checks a source may keep.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

use super::view;
use crate::api::conditions::Reason;
use crate::api::{McpServer, RegistryKind, RegistryStatus};
use crate::reconcile::lookup::{LookupError, find_registry};
use crate::reconcile::ports::{Health, RegistrySource, SourcedRegistry};
use crate::reconcile::refs::RegistryView;
use crate::vocab::{ObjectKey, RegistryId};

/// Registries in memory: the McpRegistry `team-a/composio` and ClusterMcpRegistries.
struct Source {
    namespaced: Vec<SourcedRegistry>,
    cluster: Vec<SourcedRegistry>,
}

impl RegistrySource for Source {
    fn place(&self) -> &'static str {
        "in the test source"
    }
    fn mcp_registry(&self, key: &ObjectKey) -> Option<SourcedRegistry> {
        let id = RegistryId::Namespaced(key.clone());
        self.namespaced.iter().find(|r| r.view.id == id).cloned()
    }
    fn cluster_registry(&self, name: &str) -> Option<SourcedRegistry> {
        let id = RegistryId::Cluster(name.to_string());
        self.cluster.iter().find(|r| r.view.id == id).cloned()
    }
}

fn namespaced(health: Health) -> SourcedRegistry {
    let mut view = view();
    view.generation = Some(2);
    SourcedRegistry {
        view,
        allowed_namespaces: None,
        health,
    }
}

fn cluster(name: &str, allowed: Option<&[&str]>) -> SourcedRegistry {
    let view = RegistryView::new(RegistryId::Cluster(name.into()), view().connection.clone());
    SourcedRegistry {
        view,
        allowed_namespaces: allowed.map(|a| a.iter().map(|s| s.to_string()).collect()),
        health: Health::Untracked,
    }
}

fn source(health: Health) -> Source {
    Source {
        namespaced: vec![namespaced(health)],
        cluster: vec![
            cluster("open", None),
            cluster("restricted", Some(&["team-a"])),
            cluster("closed", Some(&[])),
        ],
    }
}

fn server(namespace: &str, kind: Option<RegistryKind>, registry: &str) -> McpServer {
    let mut server = McpServer::new("github", Default::default());
    server.metadata.namespace = Some(namespace.to_string());
    server.spec.registry_ref.kind = kind;
    server.spec.registry_ref.name = registry.to_string();
    server
}

const CLUSTER: Option<RegistryKind> = Some(RegistryKind::ClusterMcpRegistry);

/// A check's status: `Ready` as given, for `generation`.
fn checked(ready: &str, reason: &str, generation: i64) -> Health {
    Health::Checked(Some(RegistryStatus {
        observed_generation: Some(generation),
        conditions: vec![Condition {
            type_: "Ready".into(),
            status: ready.into(),
            reason: reason.into(),
            message: "the key was refused".into(),
            observed_generation: Some(generation),
            last_transition_time: Time(jiff::Timestamp::UNIX_EPOCH),
        }],
        ..Default::default()
    }))
}

#[test]
fn a_mcp_registry_is_found_in_the_server_namespace_only() {
    let source = source(Health::Untracked);
    let view = find_registry(&source, &server("team-a", None, "composio")).unwrap();
    assert_eq!(view.label(), "McpRegistry/team-a/composio");
    let e = find_registry(&source, &server("team-b", None, "composio")).unwrap_err();
    assert!(matches!(e, LookupError::NotFound { .. }), "{e:?}");
    assert_eq!(
        e.to_string(),
        "McpServer team-b/github refers to McpRegistry team-b/composio, which is not in the test source"
    );
    assert_eq!(e.reason(), Reason::RegistryNotReady);
}

#[test]
fn a_missing_cluster_registry_is_not_found() {
    let e = find_registry(
        &source(Health::Untracked),
        &server("team-a", CLUSTER, "nope"),
    );
    assert_eq!(
        e.unwrap_err().to_string(),
        "McpServer team-a/github refers to ClusterMcpRegistry nope, which is not in the test source"
    );
}

#[test]
fn a_cluster_registry_serves_the_namespaces_its_allow_list_names() {
    let source = source(Health::Untracked);
    let open = find_registry(&source, &server("anything", CLUSTER, "open")).unwrap();
    assert_eq!(open.label(), "ClusterMcpRegistry/open");
    assert!(find_registry(&source, &server("team-a", CLUSTER, "restricted")).is_ok());
    let e = find_registry(&source, &server("team-b", CLUSTER, "restricted")).unwrap_err();
    assert!(matches!(e, LookupError::NotAllowed { .. }), "{e:?}");
    assert_eq!(
        e.to_string(),
        "McpServer team-b/github may not use ClusterMcpRegistry restricted: its allowedNamespaces (team-a) do not include \"team-b\""
    );
    assert_eq!(e.refusal().reason, Reason::RegistryNotReady);
    let e = find_registry(&source, &server("team-a", CLUSTER, "closed")).unwrap_err();
    assert!(
        matches!(e, LookupError::NotAllowed { .. }),
        "an empty list allows none"
    );
}

#[test]
fn a_registry_whose_current_generation_was_never_checked_is_a_wait() {
    let server = server("team-a", None, "composio");
    for health in [Health::Checked(None), checked("True", "Valid", 1)] {
        let e = find_registry(&source(health.clone()), &server).unwrap_err();
        assert_eq!(e, LookupError::NotChecked, "{health:?}");
        assert_eq!(e.to_string(), "the registry has not been checked yet");
    }
    let no_conditions = Health::Checked(Some(RegistryStatus {
        observed_generation: Some(2),
        ..Default::default()
    }));
    let e = find_registry(&source(no_conditions), &server).unwrap_err();
    assert_eq!(e, LookupError::NotChecked);
}

#[test]
fn a_registry_checked_not_ready_refuses_its_servers_with_the_check_reason() {
    let server = server("team-a", None, "composio");
    let e = find_registry(&source(checked("False", "Unauthorized", 2)), &server).unwrap_err();
    assert_eq!(
        e.to_string(),
        "McpRegistry/team-a/composio is not ready (Unauthorized): the key was refused"
    );
    assert_eq!(e.refusal().reason, Reason::RegistryNotReady);
    // A failed check of an older spec says nothing about the current one.
    let e = find_registry(&source(checked("False", "Unauthorized", 1)), &server).unwrap_err();
    assert_eq!(e, LookupError::NotChecked);
}

#[test]
fn a_registry_checked_ready_is_used() {
    let server = server("team-a", None, "composio");
    let view = find_registry(&source(checked("True", "Valid", 2)), &server).unwrap();
    assert_eq!(view.generation, Some(2));
}
