//! The one reconcile pipeline, shared by every front end (`run`, `plan`/`apply`, `demo`):
//!
//! gate -> resolve -> validate -> target -> observe -> decide -> guard -> intent -> act
//! -> next status
//!
//! Front ends differ only in where desired state comes from and where status goes: they
//! supply the [`ports`] (Secrets, ownership, create intents, the registry API), group
//! servers by registry, and store or print the [`ServerResult`]s. Decide is the pure
//! [`crate::engine`]; this module is the I/O around it.

pub mod act;
pub mod delete;
pub mod lookup;
pub mod observe;
pub mod ports;
pub mod refs;
pub mod report;
pub mod resolve;

use jiff::Timestamp;

use crate::api::{McpServer, McpServerStatus};
use crate::engine::lifecycle::{Gate, gate};
use crate::engine::plan::{Action, DecideInput, Decision, Refusal, Target};
use crate::engine::status::Report;
use crate::engine::{self, guard};
use crate::secret::Redactor;
use crate::vocab::{ObjectKey, RemoteError};
use ports::{IntentSink, OwnershipIndex, RegistryApi, SecretSource};
use refs::RegistryView;
pub use report::{ActionKind, ServerResult, ShownChange, Who};
pub use resolve::{BaseUrlOverride, Resolved, connect, desired_of};

/// Whether writes are made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Read the registries and report what would change.
    Plan,
    /// Carry the changes out.
    Apply,
}

/// One McpServer to reconcile, with the status it has now.
#[derive(Clone, Debug)]
pub struct ServerInput<'a> {
    pub key: ObjectKey,
    pub server: &'a McpServer,
    pub prev: McpServerStatus,
}

/// Everything a batch of one registry's servers shares.
pub struct Batch<'a, S, O, I> {
    pub registry: &'a RegistryView,
    pub secrets: &'a S,
    pub owners: &'a O,
    pub intents: &'a mut I,
    pub mode: Mode,
    pub now: Timestamp,
}

/// What a suspended server's result says, for a sync and for a delete alike.
pub const SUSPENDED_MESSAGE: &str = "spec.suspend is true: no remote call was made";

/// The gate: a suspended server makes no remote call and reports `Suspended`.
pub fn suspended(input: &ServerInput<'_>, now: Timestamp) -> Option<ServerResult> {
    if gate(&input.server.spec) == Gate::Proceed {
        return None;
    }
    let status = engine::next_status(
        &input.prev,
        input.server.metadata.generation,
        now,
        Report::Suspended,
    );
    let key = input.key.to_string();
    let who = Who {
        key: &key,
        registry: None,
        provider: None,
    };
    Some(ServerResult {
        message: Some(SUSPENDED_MESSAGE.to_string()),
        ..who.result(ActionKind::Suspended, status)
    })
}

/// A server refused before any call (its registry, a Secret or its spec at fault):
/// `Stalled` with the refusal's reason.
pub fn refused(
    input: &ServerInput<'_>,
    registry: Option<&str>,
    provider: Option<&str>,
    refusal: &Refusal,
    now: Timestamp,
) -> ServerResult {
    let status = engine::next_status(
        &input.prev,
        input.server.metadata.generation,
        now,
        Report::Refused(refusal),
    );
    let key = input.key.to_string();
    let who = Who {
        key: &key,
        registry,
        provider,
    };
    ServerResult {
        message: Some(refusal.message.clone()),
        ..who.result(ActionKind::Refused, status)
    }
}

/// A server whose desired state is resolved, on its way through the pipeline.
pub(crate) struct Prepared<'a> {
    pub input: ServerInput<'a>,
    pub resolved: Resolved,
}

impl Prepared<'_> {
    pub(crate) fn redact(&self, mut e: RemoteError) -> RemoteError {
        e.message = Redactor::from_secrets(self.resolved.secret_values.iter()).redact(&e.message);
        e
    }
}

/// Reconciles every server of one registry: resolve and validate each, observe them
/// together (batched reads), decide, guard, record create intents, act, and report.
/// Suspended servers must have been taken out with [`suspended`] first.
pub async fn run_batch<R, S, O, I>(
    batch: Batch<'_, S, O, I>,
    client: &R,
    servers: Vec<ServerInput<'_>>,
) -> Vec<ServerResult>
where
    R: RegistryApi,
    S: ports::SecretSource,
    O: OwnershipIndex,
    I: IntentSink,
{
    let model = client.model();
    let provider = model.kind().id();
    let label = batch.registry.label();
    let mut out = Vec::new();
    let mut ready = Vec::new();
    for input in servers {
        let resolved = match desired_of(input.server, batch.secrets).await {
            Ok(r) => r,
            Err(r) => {
                out.push(refused(&input, Some(&label), Some(provider), &r, batch.now));
                continue;
            }
        };
        match engine::validate(model, &resolved.desired) {
            Ok(()) => ready.push(Prepared { input, resolved }),
            Err(r) => out.push(refused(&input, Some(&label), Some(provider), &r, batch.now)),
        }
    }
    let targets: Vec<Target> = ready
        .iter()
        .map(|p| {
            engine::target(
                model,
                &p.input.server.spec,
                &p.input.prev,
                &p.resolved.desired,
            )
        })
        .collect();
    let observations = observe::observe(client, &targets).await;
    let mut decided = Vec::with_capacity(ready.len());
    for (p, observed) in ready.into_iter().zip(observations) {
        let decision = observed.map(|observation| {
            let decision = engine::decide(DecideInput {
                model,
                spec: &p.input.server.spec,
                desired: &p.resolved.desired,
                status: &p.input.prev,
                observation,
            });
            let owner = guard::adopted_id(&decision)
                .and_then(|id| batch.owners.owner(&batch.registry.id, id, &p.input.key));
            let decision = guard::refuse_claimed(decision, owner.as_ref());
            guard::refuse_foreign(decision, &p.input.prev)
        });
        decided.push((p, decision));
    }
    let intent_error = match batch.mode {
        Mode::Apply => record_intents(batch.intents, &decided, batch.now)
            .await
            .err(),
        Mode::Plan => None,
    };
    let sink = act::Sink {
        client,
        label: &label,
        provider,
        mode: batch.mode,
        now: batch.now,
        intent_error: intent_error.as_ref(),
    };
    for (p, decision) in decided {
        out.push(act::settle(&sink, &p, decision).await);
    }
    out
}

/// Reconciles one server (a batch of one).
pub async fn run_one<R, S, O, I>(
    batch: Batch<'_, S, O, I>,
    client: &R,
    server: ServerInput<'_>,
) -> Option<ServerResult>
where
    R: RegistryApi,
    S: SecretSource,
    O: OwnershipIndex,
    I: IntentSink,
{
    run_batch(batch, client, vec![server]).await.pop()
}

/// The create intents of a batch could not be recorded: none of its creates is sent.
#[derive(Debug, thiserror::Error)]
#[error("{source}; the create was not sent")]
pub struct IntentNotRecorded {
    source: Box<dyn std::error::Error + Send + Sync>,
}

/// Records the intent of every create of this batch in one write, before any POST: after a
/// crash, the next run looks those records up by name instead of creating second ones.
async fn record_intents(
    sink: &mut impl IntentSink,
    decided: &[(Prepared<'_>, Result<Decision, RemoteError>)],
    now: Timestamp,
) -> Result<(), IntentNotRecorded> {
    let intents: Vec<(ObjectKey, McpServerStatus)> = decided
        .iter()
        .filter(|(_, d)| {
            matches!(
                d,
                Ok(Decision {
                    action: Action::Create { .. },
                    ..
                })
            )
        })
        .map(|(p, _)| {
            let status =
                engine::with_pending_create(&p.input.prev, &p.resolved.desired.create_name, now);
            (p.input.key.clone(), status)
        })
        .collect();
    if intents.is_empty() {
        return Ok(());
    }
    sink.record(&intents).await.map_err(|e| IntentNotRecorded {
        source: Box::new(e),
    })
}

#[cfg(test)]
mod tests;
