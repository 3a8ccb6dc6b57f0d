//! Reconciling a McpRegistry or ClusterMcpRegistry: `Ready` when its credentials resolve
//! and a cheap authenticated call (one page of the listing) succeeds.

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::runtime::controller::Action;

use crate::api::conditions::{Reason, types};
use crate::api::{ClusterMcpRegistry, McpRegistry, RegistryStatus};
use crate::controller::Error;
use crate::controller::context::Ctx;
use crate::controller::events::{EventAction, EventReason};
use crate::controller::index::{cluster_view, namespaced_view, registry_secrets};
use crate::controller::status::registry_status_due;
use crate::engine::schedule::{self, Requeue, Settled};
use crate::provider::model_for;
use crate::reconcile::refs::RegistryView;
use crate::vocab::ErrorClass;

/// The outcome of a check: Ready's status, reason and message.
struct Check {
    ready: bool,
    reason: Reason,
    message: String,
    retry_after: Option<Duration>,
}

async fn check(view: &RegistryView, ctx: &Ctx) -> Check {
    let client = match ctx.registry_client(view).await {
        Ok(client) => client,
        Err(refusal) => {
            let reason = match refusal.reason {
                Reason::SecretNotFound => Reason::SecretNotFound,
                _ => Reason::InvalidSpec,
            };
            return Check {
                ready: false,
                reason,
                message: refusal.message,
                retry_after: None,
            };
        }
    };
    // The servers' snapshot was read with these credentials within the interval: that
    // authenticated call answers the check too.
    if ctx.snapshots.fresh(&view.id, interval_of(view, ctx)) {
        return Check {
            ready: true,
            reason: Reason::Valid,
            message: "credentials accepted".to_string(),
            retry_after: None,
        };
    }
    match client.list_within(None, 1).await {
        Ok(_) => Check {
            ready: true,
            reason: Reason::Valid,
            message: "credentials accepted".to_string(),
            retry_after: None,
        },
        Err(e) => Check {
            ready: false,
            reason: match e.class {
                ErrorClass::Unauthorized => Reason::Unauthorized,
                ErrorClass::Rejected => Reason::InvalidSpec,
                _ => Reason::Unreachable,
            },
            message: e.message,
            retry_after: e.retry_after,
        },
    }
}

fn next_status(
    prev: &RegistryStatus,
    generation: Option<i64>,
    provider: &str,
    check: &Check,
    now: Timestamp,
) -> RegistryStatus {
    let status = if check.ready { "True" } else { "False" };
    let last_transition_time = prev
        .conditions
        .iter()
        .find(|c| c.type_ == types::READY && c.status == status)
        .map_or(Time(now), |c| c.last_transition_time.clone());
    RegistryStatus {
        observed_generation: generation,
        provider: Some(provider.to_string()),
        conditions: vec![Condition {
            type_: types::READY.to_string(),
            status: status.to_string(),
            reason: check.reason.as_str().to_string(),
            message: check.message.clone(),
            observed_generation: generation,
            last_transition_time,
        }],
        last_checked_time: Some(Time(now)),
    }
}

fn requeue(key: &str, check: &Check, interval: Duration, ctx: &Ctx) -> Action {
    let settled = match check.reason {
        Reason::Valid => {
            ctx.succeeded(key);
            Settled::Done
        }
        // Credentials refused or a spec at fault: look again after the interval (or on a
        // change of the registry or its Secret), slowly.
        Reason::Unauthorized | Reason::InvalidSpec | Reason::SecretNotFound => Settled::Done,
        _ => Settled::Transient {
            failures: ctx.failed(key),
            retry_after: check.retry_after,
        },
    };
    match schedule::requeue(settled, interval, rand::random()) {
        Requeue::After(d) => Action::requeue(d),
        Requeue::OnChange => Action::await_change(),
    }
}

fn interval_of(view: &RegistryView, ctx: &Ctx) -> Duration {
    view.connection
        .sync_interval
        .as_deref()
        .and_then(schedule::parse_go_duration)
        .unwrap_or(ctx.settings.default_sync_interval)
}

/// What a reconcile needs of either registry kind.
trait RegistryObject: kube::Resource<DynamicType = ()> + Send + Sync {
    fn view(&self) -> Option<RegistryView>;
    fn status(&self) -> Option<&RegistryStatus>;
    async fn write_status(&self, ctx: &Ctx, status: &RegistryStatus) -> Result<(), kube::Error>;
}

impl RegistryObject for McpRegistry {
    fn view(&self) -> Option<RegistryView> {
        namespaced_view(self)
    }
    fn status(&self) -> Option<&RegistryStatus> {
        self.status.as_ref()
    }
    async fn write_status(&self, ctx: &Ctx, status: &RegistryStatus) -> Result<(), kube::Error> {
        ctx.writer.write_registry(self, status).await
    }
}

impl RegistryObject for ClusterMcpRegistry {
    fn view(&self) -> Option<RegistryView> {
        cluster_view(self)
    }
    fn status(&self) -> Option<&RegistryStatus> {
        self.status.as_ref()
    }
    async fn write_status(&self, ctx: &Ctx, status: &RegistryStatus) -> Result<(), kube::Error> {
        ctx.writer.write_cluster_registry(self, status).await
    }
}

pub async fn reconcile_namespaced(
    registry: Arc<McpRegistry>,
    ctx: Arc<Ctx>,
) -> Result<Action, Error> {
    reconcile(registry.as_ref(), &ctx).await
}

pub async fn reconcile_cluster(
    registry: Arc<ClusterMcpRegistry>,
    ctx: Arc<Ctx>,
) -> Result<Action, Error> {
    reconcile(registry.as_ref(), &ctx).await
}

/// Checks a registry, writes its status when it changed (or `lastCheckedTime` is due),
/// and reports a new refusal as an event.
async fn reconcile<R: RegistryObject>(registry: &R, ctx: &Ctx) -> Result<Action, Error> {
    let Some(view) = registry.view() else {
        return Ok(Action::await_change());
    };
    ctx.index
        .write()
        .set_registry(view.id.clone(), registry_secrets(&view));
    let now = Timestamp::now();
    let prev = registry.status().cloned().unwrap_or_default();
    let check = check(&view, ctx).await;
    let provider = model_for(&view.connection.provider).kind().id();
    let next = next_status(&prev, registry.meta().generation, provider, &check, now);
    let interval = interval_of(&view, ctx);
    ctx.writer
        .remember_check(registry.meta().uid.as_deref(), &next);
    if registry_status_due(&prev, &next, interval, now) {
        registry
            .write_status(ctx, &next)
            .await
            .map_err(Error::Kube)?;
    }
    let new_refusal = prev
        .conditions
        .iter()
        .all(|c| c.reason != check.reason.as_str());
    if !check.ready && new_refusal {
        let reason = EventReason::of_check(check.reason);
        ctx.event(registry, reason, EventAction::Check, check.message.clone())
            .await;
    }
    tracing::debug!(registry = %view.id, ready = check.ready, "checked");
    Ok(requeue(&view.id.to_string(), &check, interval, ctx))
}
