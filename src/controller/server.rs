//! Reconciling one McpServer in a cluster: the finalizer, the shared pipeline against the
//! registry's snapshot, the status write (only when it changed, or `lastSyncTime` is due),
//! events, and when to look again.

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use kube::api::{Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::{Api, ResourceExt};
use serde_json::json;

use crate::api::conditions::{Reason, types};
use crate::api::{CLEANUP_FINALIZER, McpServer, McpServerStatus, RECONCILE_REQUESTED_AT};
use crate::controller::Error;
use crate::controller::context::Ctx;
use crate::controller::events::{EventAction, EventReason};
use crate::controller::ports::{StatusIntents, StoreOwners, StoreRegistries};
use crate::controller::snapshot::SnapshotRegistry;
use crate::controller::status::{FIELD_MANAGER, server_status_due};
use crate::engine::lifecycle::needs_cleanup;
use crate::engine::material_change;
use crate::engine::plan::Refusal;
use crate::engine::schedule::{self, Requeue, Settled};
use crate::engine::{self, status::Report};
use crate::provider::model_for;
use crate::reconcile::delete::{self, DeleteError, Deleted};
use crate::reconcile::lookup::{LookupError, find_registry};
use crate::reconcile::refs::{RegistryView, server_secret_namespace};
use crate::reconcile::{self, ActionKind, Batch, Mode, ServerInput, ServerResult};
use crate::vocab::{ObjectKey, RemoteError};

fn key_of(server: &McpServer) -> ObjectKey {
    ObjectKey::new(server_secret_namespace(server), server.name_any())
}

/// The sync interval of a server: its own, its registry's, the operator's default.
fn interval_of(server: &McpServer, view: Option<&RegistryView>, ctx: &Ctx) -> Duration {
    let own = server.spec.sync_interval.as_deref();
    let registry = view.and_then(|v| v.connection.sync_interval.as_deref());
    own.and_then(schedule::parse_go_duration)
        .or_else(|| registry.and_then(schedule::parse_go_duration))
        .unwrap_or(ctx.settings.default_sync_interval)
}

pub async fn reconcile(server: Arc<McpServer>, ctx: Arc<Ctx>) -> Result<Action, Error> {
    let key = key_of(&server);
    tracing::debug!(mcpserver = %key, "reconcile");
    if server.metadata.deletion_timestamp.is_some() {
        return cleanup(&server, &key, &ctx).await;
    }
    sync_finalizer(&server, &ctx).await?;
    let now = Timestamp::now();
    let prev = current_status(&server, &ctx);
    let input = ServerInput {
        key: key.clone(),
        server: &server,
        prev: prev.clone(),
    };
    if let Some(result) = reconcile::suspended(&input, now) {
        let interval = interval_of(&server, None, &ctx);
        write_if_due(&server, &prev, &result.status, interval, now, &ctx).await?;
        return Ok(Action::await_change());
    }
    let view = match find_registry(&registries(&ctx), &server) {
        Ok(view) => view,
        // Its status write wakes this server; the requeue is a safety net.
        Err(LookupError::NotChecked) => {
            return Ok(Action::requeue(Duration::from_secs(5)));
        }
        Err(e) => return refuse(&server, &input, None, None, &e.refusal(), now, &ctx).await,
    };
    let interval = interval_of(&server, Some(&view), &ctx);
    let label = view.label();
    let provider = model_for(&view.connection.provider).kind().id();
    let client = match ctx.registry_client(&view).await {
        Ok(client) => client,
        Err(refusal) => {
            return refuse(
                &server,
                &input,
                Some(&label),
                Some(provider),
                &refusal,
                now,
                &ctx,
            )
            .await;
        }
    };
    let registry = SnapshotRegistry {
        client,
        snapshot: ctx.snapshots.of(&view.id),
        // The listing is read at most once per interval; a server's view of the record is
        // then never older than one interval.
        max_age: interval,
        live: check_requested(&server, &key, &ctx)
            || ctx.settings.observe == super::Observe::GetEach,
    };
    let owners = StoreOwners {
        stores: &ctx.stores.servers,
    };
    let mut intents = StatusIntents {
        writer: &ctx.writer,
        server: &server,
    };
    let batch = Batch {
        registry: &view,
        secrets: &ctx.secrets,
        owners: &owners,
        intents: &mut intents,
        mode: Mode::Apply,
        now,
    };
    let Some(result) = reconcile::run_one(batch, &registry, input).await else {
        return Ok(Action::requeue(interval));
    };
    // A create intent may have been written meanwhile: compare with what is stored now.
    let stored = ctx
        .writer
        .last_written(&server)
        .unwrap_or_else(|| prev.clone());
    let deferred = write_if_due(&server, &stored, &result.status, interval, now, &ctx).await?;
    report_events(&server, &prev, &result, &ctx).await;
    record_metrics(&key, &result, &ctx);
    let action = requeue(&key, &result, interval, &ctx);
    if deferred {
        // Its lastSyncTime refresh was over budget: try again at a random point of the
        // next half interval, so the budget is spent evenly instead of by the bursts of
        // servers that came due together (a reconcile from the snapshot is cheap).
        let half = interval.as_secs_f64() / 2.0;
        let delay =
            Duration::try_from_secs_f64(1.0 + rand::random::<f64>() * (half - 1.0).max(0.0))
                .unwrap_or(interval);
        return Ok(Action::requeue(delay));
    }
    Ok(action)
}

/// PATCHes, drift and the server's state for `/metrics`.
fn record_metrics(key: &ObjectKey, result: &ServerResult, ctx: &Ctx) {
    use crate::ops::metrics::{ProviderLabels, RegistryLabels, ServerLabels, metrics};
    let m = metrics();
    let provider = ProviderLabels {
        provider: result.provider.clone().unwrap_or_default(),
    };
    match result.action {
        ActionKind::Patch => {
            m.patches.get_or_create(&provider).inc();
            m.patched_fields
                .get_or_create(&provider)
                .inc_by(result.changes.len() as u64);
            m.drift.get_or_create(&provider).inc();
        }
        ActionKind::Drift => {
            m.drift.get_or_create(&provider).inc();
        }
        _ => {}
    }
    let (ready, reason) = condition(&result.status, types::READY);
    let availability = result
        .status
        .availability
        .unwrap_or_default()
        .as_str()
        .to_string();
    m.server_state(
        &key.to_string(),
        Some(ServerLabels {
            ready,
            reason,
            availability,
        }),
    );
    for (registry, age) in ctx.snapshots.ages() {
        m.snapshot_age
            .get_or_create(&RegistryLabels { registry })
            .set(age.as_secs_f64());
    }
}

fn condition(status: &McpServerStatus, type_: &str) -> (String, String) {
    status
        .conditions
        .iter()
        .find(|c| c.type_ == type_)
        .map(|c| (c.status.clone(), c.reason.clone()))
        .unwrap_or_else(|| ("Unknown".into(), String::new()))
}

/// Whether a new `mcpsync.dev/reconcile-requested-at` value asks for a check against the
/// registry itself rather than the snapshot.
fn check_requested(server: &McpServer, key: &ObjectKey, ctx: &Ctx) -> bool {
    let Some(value) = server.annotations().get(RECONCILE_REQUESTED_AT) else {
        return false;
    };
    let previous = ctx.requested.lock().insert(key.to_string(), value.clone());
    previous.as_deref() != Some(value.as_str())
}

/// The status to decide from: what this process last wrote (its own writes may not be in
/// the cache yet), else the cached one.
fn current_status(server: &McpServer, ctx: &Ctx) -> McpServerStatus {
    ctx.writer
        .last_written(server)
        .or_else(|| server.status.clone())
        .unwrap_or_default()
}

/// The registries in the caches, with this process's own checks.
fn registries(ctx: &Ctx) -> StoreRegistries<'_> {
    StoreRegistries {
        stores: &ctx.stores,
        writer: &ctx.writer,
    }
}

#[allow(clippy::too_many_arguments)]
async fn refuse(
    server: &McpServer,
    input: &ServerInput<'_>,
    registry: Option<&str>,
    provider: Option<&str>,
    refusal: &Refusal,
    now: Timestamp,
    ctx: &Ctx,
) -> Result<Action, Error> {
    let result = reconcile::refused(input, registry, provider, refusal, now);
    let interval = interval_of(server, None, ctx);
    write_if_due(server, &input.prev, &result.status, interval, now, ctx).await?;
    report_events(server, &input.prev, &result, ctx).await;
    Ok(Action::await_change())
}

/// Writes a server's status when it is due; true when the write, a `lastSyncTime` refresh
/// alone, was put off by the refresh budget.
async fn write_if_due(
    server: &McpServer,
    stored: &McpServerStatus,
    next: &McpServerStatus,
    interval: Duration,
    now: Timestamp,
    ctx: &Ctx,
) -> Result<bool, Error> {
    if !server_status_due(stored, next, interval, now) {
        return Ok(false);
    }
    // Only lastSyncTime moves: within the refresh budget, else at a later reconcile.
    if !material_change(stored, next) && !ctx.settings.may_refresh() {
        crate::ops::metrics::metrics()
            .status_refreshes_deferred
            .inc();
        return Ok(true);
    }
    ctx.writer
        .write_server(server, next)
        .await
        .map_err(Error::Kube)?;
    Ok(false)
}

/// When to look again: the sync interval, backoff after transient failures (never sooner
/// than `Retry-After`), nothing for stalled objects (a change of the object or of what it
/// references triggers them).
fn requeue(key: &ObjectKey, result: &ServerResult, interval: Duration, ctx: &Ctx) -> Action {
    let id = key.to_string();
    let settled = if schedule::is_stalled(&result.status) {
        ctx.succeeded(&id);
        Settled::Waiting
    } else if result.action == ActionKind::Failed {
        Settled::Transient {
            failures: ctx.failed(&id),
            retry_after: result.retry_after,
        }
    } else {
        ctx.succeeded(&id);
        Settled::Done
    };
    match schedule::requeue(settled, interval, rand::random()) {
        Requeue::After(d) => Action::requeue(d),
        Requeue::OnChange => Action::await_change(),
    }
}

/// Events for what a person wants to know: writes, and a new refusal (not one per
/// reconcile: only when the Stalled reason or message changes).
async fn report_events(
    server: &McpServer,
    prev: &McpServerStatus,
    result: &ServerResult,
    ctx: &Ctx,
) {
    let fields: Vec<&str> = result.changes.iter().map(|c| c.field.as_str()).collect();
    match result.action {
        ActionKind::Create => {
            let id = result.external_id.clone().unwrap_or_default();
            ctx.event(
                server,
                EventReason::Created,
                EventAction::Create,
                format!(
                    "created record {id} in {}",
                    result.registry.as_deref().unwrap_or("its registry")
                ),
            )
            .await;
        }
        ActionKind::Patch => {
            ctx.event(
                server,
                EventReason::Patched,
                EventAction::Patch,
                format!("patched fields: {}", fields.join(", ")),
            )
            .await;
        }
        _ => {}
    }
    let stalled = |s: &McpServerStatus| {
        s.conditions
            .iter()
            .find(|c| c.type_ == types::STALLED && c.status == "True")
            .map(|c| (c.reason.clone(), c.message.clone()))
    };
    if let Some((reason, message)) = stalled(&result.status)
        && stalled(prev).as_ref() != Some(&(reason.clone(), message.clone()))
    {
        let event_reason = if reason == Reason::Unauthorized.as_str() {
            EventReason::Unauthorized
        } else {
            EventReason::Refused
        };
        ctx.event(
            server,
            event_reason,
            EventAction::Reconcile,
            format!("{reason}: {message}"),
        )
        .await;
    }
}

/// The finalizer is present only while `deletionPolicy: Delete` needs it.
async fn sync_finalizer(server: &McpServer, ctx: &Ctx) -> Result<(), Error> {
    let has = server.finalizers().iter().any(|f| f == CLEANUP_FINALIZER);
    let needs = needs_cleanup(&server.spec);
    if has == needs {
        return Ok(());
    }
    let mut finalizers: Vec<String> = server
        .finalizers()
        .iter()
        .filter(|f| *f != CLEANUP_FINALIZER)
        .cloned()
        .collect();
    if needs {
        finalizers.push(CLEANUP_FINALIZER.to_string());
    }
    patch_finalizers(server, finalizers, ctx).await
}

async fn patch_finalizers(
    server: &McpServer,
    finalizers: Vec<String>,
    ctx: &Ctx,
) -> Result<(), Error> {
    let api: Api<McpServer> =
        Api::namespaced(ctx.client.clone(), &server.namespace().unwrap_or_default());
    // The resourceVersion makes it a compare-and-swap: another writer's finalizer is
    // never lost (a conflict is retried).
    let patch = json!({"metadata": {
        "finalizers": finalizers,
        "resourceVersion": server.resource_version(),
    }});
    let params = PatchParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..PatchParams::default()
    };
    match api
        .patch(&server.name_any(), &params, &Patch::Merge(&patch))
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(Error::Kube(e)),
    }
}

/// A McpServer being deleted: the shared delete step under its `deletionPolicy`, then the
/// finalizer is released; a refusal (a 409: the record is in use) keeps it with a Stalled
/// message, and is tried again each interval (its cause may go away without any change
/// to the object).
async fn cleanup(server: &McpServer, key: &ObjectKey, ctx: &Ctx) -> Result<Action, Error> {
    if !server.finalizers().iter().any(|f| f == CLEANUP_FINALIZER) {
        return Ok(Action::await_change());
    }
    // The id written a moment ago may not be in the cache yet: without it the record
    // would be left behind when the finalizer goes.
    let prev = current_status(server, ctx);
    let now = Timestamp::now();
    let input = ServerInput {
        key: key.clone(),
        server,
        prev: prev.clone(),
    };
    let mut found: Option<RegistryView> = None;
    let slot = &mut found;
    let connect = move || async move {
        let view = find_registry(&registries(ctx), server).map_err(|e| e.refusal())?;
        let client = ctx.registry_client(&view).await;
        *slot = Some(view);
        client
    };
    let outcome = delete::delete(&server.spec, &prev, Mode::Apply, connect).await;
    let label = found.as_ref().map(RegistryView::label);
    let interval = interval_of(server, found.as_ref(), ctx);
    match outcome {
        Ok(Deleted::Deleted { id }) => {
            let from = label.as_deref().unwrap_or("its registry");
            let note = format!("deleted record {id} from {from}");
            ctx.event(server, EventReason::Deleted, EventAction::Delete, note)
                .await;
            release(server, ctx).await
        }
        Ok(
            Deleted::Retained(_)
            | Deleted::NoRecord
            | Deleted::AlreadyGone { .. }
            | Deleted::NothingFound { .. },
        ) => release(server, ctx).await,
        Ok(Deleted::Suspended | Deleted::WouldDelete { .. }) => Ok(Action::await_change()),
        // A failed look-up of a pending create is retried as a failed delete is: the
        // condition says why, and the registry's Retry-After is honoured.
        Err(DeleteError::LookUp { source, .. } | DeleteError::Transient { source, .. }) => {
            retry_later(&input, &source, interval, now, ctx).await
        }
        Err(e @ DeleteError::Refused { .. }) => {
            let label = label.as_deref();
            refuse(server, &input, label, None, &e.refusal(), now, ctx).await?;
            Ok(Action::requeue(interval))
        }
        Err(e @ (DeleteError::NotConnected(_) | DeleteError::Ambiguous { .. })) => {
            let label = label.as_deref();
            refuse(server, &input, label, None, &e.refusal(), now, ctx).await
        }
    }
}

/// A delete that failed for now: the condition says why, and it is tried again with
/// backoff, never before the registry's `Retry-After`.
async fn retry_later(
    input: &ServerInput<'_>,
    failure: &RemoteError,
    interval: Duration,
    now: Timestamp,
    ctx: &Ctx,
) -> Result<Action, Error> {
    let server = input.server;
    let settled = Settled::Transient {
        failures: ctx.failed(&input.key.to_string()),
        retry_after: failure.retry_after,
    };
    let report = Report::ObserveFailed(failure);
    let status = engine::next_status(&input.prev, server.metadata.generation, now, report);
    write_if_due(server, &input.prev, &status, Duration::MAX, now, ctx).await?;
    match schedule::requeue(settled, interval, rand::random()) {
        Requeue::After(d) => Ok(Action::requeue(d)),
        Requeue::OnChange => Ok(Action::await_change()),
    }
}

async fn release(server: &McpServer, ctx: &Ctx) -> Result<Action, Error> {
    crate::ops::metrics::metrics().server_state(&key_of(server).to_string(), None);
    ctx.writer.forget(server);
    let finalizers = server
        .finalizers()
        .iter()
        .filter(|f| *f != CLEANUP_FINALIZER)
        .cloned()
        .collect();
    patch_finalizers(server, finalizers, ctx).await?;
    Ok(Action::await_change())
}
