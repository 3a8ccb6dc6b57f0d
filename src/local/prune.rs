//! `--prune` and orphans: servers the state file knows but the manifests no longer hold.
//! `plan` and `apply` report them; with `--prune` each one's record goes the shared delete
//! step's way under its last applied `deletionPolicy`.

use serde::Serialize;

use crate::api::McpServer;
use crate::local::delete::{DeleteOutcome, DeleteResult, delete_one};
use crate::local::manifests::Manifests;
use crate::local::run::{RunOptions, server_key};
use crate::local::state::StateFile;
use crate::vocab::ObjectKey;

/// A server in the state file whose manifest is gone.
#[derive(Clone, Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Orphan {
    /// `namespace/name`.
    pub server: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registry: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
}

impl std::fmt::Display for Orphan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let registry = self.registry.as_deref().unwrap_or("no registry");
        match &self.external_id {
            Some(id) => write!(f, "{} ({registry}, id {id})", self.server),
            None => write!(f, "{} ({registry}, no record)", self.server),
        }
    }
}

/// `--prune`: each orphan's record is deleted (or kept) as its last applied spec says,
/// through the registry the manifests still declare. Under `plan`, only the decisions.
pub(crate) async fn prune(
    opts: &RunOptions,
    manifests: &Manifests,
    state: &StateFile,
    orphans: &[Orphan],
) -> Vec<DeleteResult> {
    let mut results = Vec::new();
    for orphan in orphans {
        let entry = state.get(&orphan.server);
        let status = entry.map(|e| e.status.clone()).unwrap_or_default();
        let Some((spec, key)) = entry
            .and_then(|e| e.spec.clone())
            .zip(orphan.server.parse::<ObjectKey>().ok())
        else {
            results.push(DeleteResult {
                server: orphan.server.clone(),
                registry: orphan.registry.clone(),
                external_id: orphan.external_id.clone(),
                outcome: DeleteOutcome::Retained,
                message: Some(
                    "the state file holds no spec for it (written by an older mcpsync): \
                     pruned as deletionPolicy: Retain"
                        .into(),
                ),
            });
            continue;
        };
        let mut server = McpServer::new(&key.name, spec);
        server.metadata.namespace = Some(key.namespace);
        let mode = opts.mode;
        let result = delete_one(opts, manifests, &server, &status, true, mode).await;
        results.push(DeleteResult {
            registry: orphan.registry.clone(),
            ..result
        });
    }
    results
}

/// State entries of servers that are not in the manifests any more.
pub(crate) fn orphaned(state: &StateFile, manifests: &Manifests) -> Vec<Orphan> {
    let present: std::collections::BTreeSet<String> = manifests
        .servers
        .iter()
        .map(|l| server_key(&l.object))
        .collect();
    state
        .servers()
        .filter(|(key, _)| !present.contains(*key))
        .map(|(key, entry)| Orphan {
            server: key.clone(),
            registry: entry.registry.clone(),
            external_id: entry.status.external_id.clone(),
        })
        .collect()
}
