//! The pipeline's ports served from files: who owns which record (state file and
//! manifests), where create intents go (the locked state file).

use std::collections::{BTreeMap, HashMap};

use crate::api::{McpServerSpec, McpServerStatus};
use crate::local::manifests::Manifests;
use crate::local::run::{RunOptions, object_key};
use crate::local::state::{self, ServerState, StateError, StateFile, StateLock};
use crate::reconcile::lookup::find_registry;
use crate::reconcile::ports::{IntentSink, OwnershipIndex};
use crate::vocab::{ObjectKey, RegistryId};

/// Takes the state file's lock: at once, or (with `--wait`) when the other run ends.
pub async fn lock_state(opts: &RunOptions) -> Result<StateLock, StateError> {
    match state::lock(&opts.state_path, false) {
        Err(StateError::Locked { .. }) if opts.wait_for_state => {
            tracing::info!(state = %opts.state_path.display(), "waiting for another run to release the state file");
            let path = opts.state_path.clone();
            tokio::task::spawn_blocking(move || state::lock(&path, true))
                .await
                .map_err(|e| StateError::Lock {
                    path: opts.state_path.clone(),
                    lock_path: opts.state_path.clone(),
                    source: std::io::Error::other(e.to_string()),
                })?
        }
        other => other,
    }
}

/// Who manages which record, as the state file (ids recorded by earlier runs) and the
/// manifests (`spec.externalId`) say, taken when the run starts.
pub(crate) struct StateOwners {
    by_record: HashMap<(String, String), Vec<ObjectKey>>,
}

impl StateOwners {
    pub(crate) fn new(state: &StateFile, manifests: &Manifests) -> Self {
        let mut by_record: HashMap<(String, String), Vec<ObjectKey>> = HashMap::new();
        for (key, entry) in state.servers() {
            let id = entry.status.external_id.as_ref();
            if let (Some(id), Some(registry), Ok(key)) =
                (id, &entry.registry, key.parse::<ObjectKey>())
            {
                by_record
                    .entry((registry.clone(), id.clone()))
                    .or_default()
                    .push(key);
            }
        }
        for server in manifests.servers.iter().map(|l| &l.object) {
            let (Some(id), Ok(view)) = (&server.spec.external_id, find_registry(manifests, server))
            else {
                continue;
            };
            by_record
                .entry((view.label(), id.clone()))
                .or_default()
                .push(object_key(server));
        }
        StateOwners { by_record }
    }
}

impl OwnershipIndex for StateOwners {
    fn owner(
        &self,
        registry: &RegistryId,
        record_id: &str,
        except: &ObjectKey,
    ) -> Option<ObjectKey> {
        self.by_record
            .get(&(registry.to_string(), record_id.to_string()))?
            .iter()
            .find(|k| *k != except)
            .cloned()
    }
}

/// Create intents go to the state file, in one write per batch, before the POSTs.
pub(crate) struct StateIntents<'a> {
    state: &'a mut StateFile,
    /// Held under `apply`, the only mode that creates.
    lock: Option<&'a StateLock>,
    registry: &'a str,
    /// The specs of the run's servers, kept with their intents (see `ServerState::spec`).
    specs: &'a BTreeMap<ObjectKey, McpServerSpec>,
}

impl<'a> StateIntents<'a> {
    pub(crate) fn new(
        state: &'a mut StateFile,
        lock: Option<&'a StateLock>,
        registry: &'a str,
        specs: &'a BTreeMap<ObjectKey, McpServerSpec>,
    ) -> Self {
        StateIntents {
            state,
            lock,
            registry,
            specs,
        }
    }
}

/// Why create intents did not reach the state file.
#[derive(Debug, thiserror::Error)]
pub enum StateIntentError {
    #[error("the state file is not locked: plan never creates")]
    NotLocked,
    #[error(transparent)]
    Save(#[from] StateError),
}

impl IntentSink for StateIntents<'_> {
    type Error = StateIntentError;

    async fn record(
        &mut self,
        intents: &[(ObjectKey, McpServerStatus)],
    ) -> Result<(), StateIntentError> {
        for (key, status) in intents {
            let entry = ServerState {
                status: status.clone(),
                registry: Some(self.registry.to_string()),
                spec: self.specs.get(key).cloned(),
            };
            self.state.insert(key.to_string(), entry);
        }
        let lock = self.lock.ok_or(StateIntentError::NotLocked)?;
        Ok(lock.save(self.state)?)
    }
}
