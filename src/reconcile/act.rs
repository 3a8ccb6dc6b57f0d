//! Act: carry a decision out (under `apply`) and compute the resulting status: the
//! create, the PATCH, the one follow-up PATCH after a create, and redaction of every
//! message that could echo a Secret value.

use jiff::Timestamp;

use crate::api::McpServerStatus;
use crate::engine::plan::{Action, DecideInput, Decision, Observation};
use crate::engine::status::{Outcome, Report};
use crate::engine::{self};
use crate::reconcile::ports::RegistryApi;
use crate::reconcile::report::{
    ActionKind, ServerResult, ShownChange, created_fields, shown_changes,
};
use crate::reconcile::{Mode, Prepared};
use crate::vocab::{RemoteError, RemoteRecord};

/// Where one batch's writes go, and what they need to know.
pub(crate) struct Sink<'a, R> {
    pub client: &'a R,
    pub label: &'a str,
    pub provider: &'a str,
    pub mode: Mode,
    pub now: Timestamp,
    /// Why the create intents could not be recorded: then no create is sent.
    pub intent_error: Option<&'a crate::reconcile::IntentNotRecorded>,
}

impl<R> Sink<'_, R> {
    fn who<'w>(&'w self, key: &'w str) -> crate::reconcile::Who<'w> {
        crate::reconcile::Who {
            key,
            registry: Some(self.label),
            provider: Some(self.provider),
        }
    }
}

/// Carries a decision out (under `apply`) and computes the resulting status.
pub(crate) async fn settle<R: RegistryApi>(
    sink: &Sink<'_, R>,
    p: &Prepared<'_>,
    decision: Result<Decision, RemoteError>,
) -> ServerResult {
    let key = p.input.key.to_string();
    let decision = match decision {
        Ok(d) => d,
        Err(e) => {
            let e = p.redact(e);
            let status = engine::next_status(
                &p.input.prev,
                p.input.server.metadata.generation,
                sink.now,
                Report::ObserveFailed(&e),
            );
            return ServerResult {
                message: Some(e.message.clone()),
                retry_after: e.retry_after,
                ..sink.who(&key).result(ActionKind::Failed, status)
            };
        }
    };
    let model = sink.client.model();
    let desired = &p.resolved.desired;
    let (mut kind, mut message) = describe(&decision.action);
    let mut changes = match &decision.action {
        Action::Create { fields } => created_fields(model, fields, &desired.secret_fields),
        _ => shown_changes(model, &decision.diffs),
    };
    let mut prev = p.input.prev.clone();
    let written = match (&decision.action, sink.mode) {
        (Action::Create { fields }, Mode::Apply) => {
            prev = engine::with_pending_create(&p.input.prev, &desired.create_name, sink.now);
            if let Some(e) = sink.intent_error {
                let failed = sink
                    .who(&key)
                    .result(ActionKind::Failed, p.input.prev.clone());
                return ServerResult {
                    changes,
                    message: Some(e.to_string()),
                    ..failed
                };
            }
            Some(sink.client.create(fields, &desired.ctx).await)
        }
        (Action::Patch { changes }, Mode::Apply) => {
            let id = decision.record_id.as_deref().unwrap_or_default();
            Some(sink.client.patch(id, changes, &desired.ctx).await)
        }
        _ => None,
    };
    let written = written.map(|w| w.map_err(|e| p.redact(e)));
    let mut status = status_after(sink, p, &prev, &decision, written.as_ref());
    let mut retry_after = None;
    if let Some(Err(e)) = &written {
        kind = ActionKind::Failed;
        message = Some(e.message.clone());
        retry_after = e.retry_after;
    }
    if let (Action::Create { .. }, Some(Ok(created))) = (&decision.action, &written) {
        // A create endpoint may not take every field (Aitronos `is_active`): one follow-up
        // PATCH sends what the new record still lacks.
        if let Some((more, next_status, failure)) =
            follow_up(sink, p, &status, created.clone()).await
        {
            changes.extend(more);
            status = next_status;
            if let Some(e) = failure {
                kind = ActionKind::Failed;
                message = Some(e.message);
                retry_after = e.retry_after;
            }
        }
    }
    ServerResult {
        changes,
        message,
        retry_after,
        ..sink.who(&key).result(kind, status)
    }
}

/// The status after a decision and the answer to its write, if one was sent.
fn status_after<R: RegistryApi>(
    sink: &Sink<'_, R>,
    p: &Prepared<'_>,
    prev: &McpServerStatus,
    decision: &Decision,
    written: Option<&Result<RemoteRecord, RemoteError>>,
) -> McpServerStatus {
    let outcome = match written {
        None => Outcome::NoWrite,
        Some(Ok(record)) => Outcome::Written(record),
        Some(Err(e)) => Outcome::Failed(e),
    };
    let report = Report::Decided {
        decision,
        outcome,
        desired: &p.resolved.desired,
        model: sink.client.model(),
        salt: rand::random(),
    };
    engine::next_status(prev, p.input.server.metadata.generation, sink.now, report)
}

/// Decides again against a just-created record and sends one PATCH if it still differs.
async fn follow_up<R: RegistryApi>(
    sink: &Sink<'_, R>,
    p: &Prepared<'_>,
    status: &McpServerStatus,
    created: RemoteRecord,
) -> Option<(Vec<ShownChange>, McpServerStatus, Option<RemoteError>)> {
    let desired = &p.resolved.desired;
    let decision = engine::decide(DecideInput {
        model: sink.client.model(),
        spec: &p.input.server.spec,
        desired,
        status,
        observation: Observation::Found(created),
    });
    let Action::Patch { changes } = &decision.action else {
        return None;
    };
    let id = decision.record_id.as_deref().unwrap_or_default();
    let answer = sink
        .client
        .patch(id, changes, &desired.ctx)
        .await
        .map_err(|e| p.redact(e));
    let next = status_after(sink, p, status, &decision, Some(&answer));
    Some((
        shown_changes(sink.client.model(), &decision.diffs),
        next,
        answer.err(),
    ))
}

fn describe(action: &Action) -> (ActionKind, Option<String>) {
    match action {
        Action::Nothing => (ActionKind::InSync, None),
        Action::Create { .. } => (ActionKind::Create, None),
        Action::Patch { .. } => (ActionKind::Patch, None),
        Action::ReportDrift => (ActionKind::Drift, None),
        Action::ReportMissing {
            message,
            pinned: true,
        } => (ActionKind::Refused, Some(message.clone())),
        Action::ReportMissing { message, .. } => (ActionKind::Missing, Some(message.clone())),
        Action::Refuse(r) => (ActionKind::Refused, Some(r.message.clone())),
    }
}
