//! The next status: conditions (kstatus), availability, sync times, what was applied.

use std::collections::BTreeMap;

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

use crate::api::conditions::{Reason, types};
use crate::api::{Availability, LastPatch, McpServerStatus, PendingCreate};
use crate::engine::desired::Desired;
use crate::engine::fingerprint;
use crate::engine::plan::{Action, Decision, Refusal};
use crate::provider::ProviderModel;
use crate::vocab::{ErrorClass, RemoteError, RemoteRecord};

/// What happened in one reconcile.
#[derive(Debug)]
pub enum Report<'a> {
    /// A decision was made; `outcome` says how its write (if any) went.
    Decided {
        decision: &'a Decision,
        outcome: Outcome<'a>,
        desired: &'a Desired,
        model: &'a dyn ProviderModel,
        salt: [u8; 16],
    },
    /// Refused before looking at the registry (spec, Secret or registry at fault).
    Refused(&'a Refusal),
    /// Reading the registry failed.
    ObserveFailed(&'a RemoteError),
    /// `spec.suspend` is true: nothing was called.
    Suspended,
}

/// How the write of a decision went.
#[derive(Debug)]
pub enum Outcome<'a> {
    /// No write was needed or allowed.
    NoWrite,
    /// The create or PATCH succeeded; the registry answered with this record.
    Written(&'a RemoteRecord),
    /// The create or PATCH failed.
    Failed(&'a RemoteError),
}

/// Status recorded before a create, so that a crash between the POST and the status write
/// leads to a look-up by name instead of a second POST.
pub fn with_pending_create(prev: &McpServerStatus, name: &str, now: Timestamp) -> McpServerStatus {
    let mut s = prev.clone();
    s.pending_create = Some(PendingCreate {
        name: name.to_string(),
        time: Time(now),
    });
    s
}

/// The status after `report`.
pub fn next_status(
    prev: &McpServerStatus,
    generation: Option<i64>,
    now: Timestamp,
    report: Report<'_>,
) -> McpServerStatus {
    let mut s = prev.clone();
    s.observed_generation = generation;
    let c = Conds { generation, now };
    match report {
        Report::Suspended => {
            c.set(
                &mut s,
                types::RECONCILING,
                false,
                Reason::Suspended,
                "spec.suspend is true: no remote calls",
            );
            c.set(&mut s, types::STALLED, false, Reason::Suspended, "");
        }
        Report::Refused(r) => c.stalled(&mut s, r.reason, &r.message),
        Report::ObserveFailed(e) => c.failed(&mut s, e),
        Report::Decided {
            decision,
            outcome,
            desired,
            model,
            salt,
        } => decided(&mut s, &c, decision, outcome, desired, model, &salt),
    }
    s
}

fn decided(
    s: &mut McpServerStatus,
    c: &Conds,
    decision: &Decision,
    outcome: Outcome<'_>,
    desired: &Desired,
    model: &dyn ProviderModel,
    salt: &[u8; 16],
) {
    if let Some(live) = &decision.live {
        observe_record(s, live);
    }
    match (&decision.action, outcome) {
        (Action::Refuse(r), _) => c.stalled(s, r.reason, &r.message),
        (
            Action::ReportMissing {
                message,
                pinned: true,
            },
            _,
        ) => {
            s.drift.clear();
            c.stalled(s, Reason::RemoteNotFound, message);
        }
        (Action::ReportMissing { message, .. }, _) => {
            s.drift.clear();
            c.not_synced(s, Reason::RemoteNotFound, message, false);
        }
        (Action::ReportDrift, _) => {
            s.drift = decision
                .diffs
                .iter()
                .map(|d| d.remote.to_string())
                .collect();
            let msg = format!("ObserveOnly: the record differs in {}", s.drift.join(", "));
            c.not_synced(s, Reason::Drifted, &msg, false);
        }
        (_, Outcome::Failed(e)) => {
            if matches!(decision.action, Action::Create { .. }) && e.class.is_definitive() {
                // The registry refused the create (400/401/403/404/409/422): it made no
                // record, so nothing may later be adopted by name on the strength of it.
                s.pending_create = None;
            }
            s.drift = decision
                .diffs
                .iter()
                .map(|d| d.remote.to_string())
                .collect();
            c.failed(s, e);
        }
        (Action::Nothing, _) => synced(s, c, desired, model, decision, None, salt),
        (Action::Create { .. } | Action::Patch { .. }, Outcome::Written(record)) => {
            observe_record(s, record);
            synced(s, c, desired, model, decision, Some(record), salt)
        }
        (Action::Create { .. } | Action::Patch { .. }, Outcome::NoWrite) => {
            // Planned but not carried out (plan only): the record still differs.
            s.drift = decision
                .diffs
                .iter()
                .map(|d| d.remote.to_string())
                .collect();
            let msg = match &decision.action {
                Action::Create { .. } => {
                    "the record does not exist yet; a create is pending".to_string()
                }
                _ => format!("changes are pending for {}", s.drift.join(", ")),
            };
            c.not_synced(s, Reason::Updating, &msg, true);
        }
    }
}

/// Availability and remote times from a record.
fn observe_record(s: &mut McpServerStatus, r: &RemoteRecord) {
    s.external_id = Some(r.id.clone());
    s.pending_create = None;
    s.availability = Some(r.availability);
    s.availability_message = r.availability_message.clone().filter(|m| !m.is_empty());
    if let Some(t) = r.last_available_at {
        s.last_available_time = Some(Time(t));
    }
    s.remote_updated_at = r.updated_at.map(Time);
}

/// The record now equals the spec.
fn synced(
    s: &mut McpServerStatus,
    c: &Conds,
    desired: &Desired,
    model: &dyn ProviderModel,
    decision: &Decision,
    written: Option<&RemoteRecord>,
    salt: &[u8; 16],
) {
    let sent: Vec<&str> = match (&decision.action, written) {
        (_, None) => Vec::new(),
        (Action::Create { fields }, Some(_)) => fields
            .keys()
            .filter_map(|f| model.field_rule(*f))
            .map(|r| r.remote)
            .collect(),
        (_, Some(_)) => decision.diffs.iter().map(|d| d.remote).collect(),
    };
    if !decision.observe_only {
        record_applied(s, desired, model, &sent, salt);
    }
    s.drift.clear();
    if written.is_some() {
        s.last_patch = Some(LastPatch {
            time: Time(c.now),
            fields: sent.iter().map(|f| f.to_string()).collect(),
        });
    }
    s.last_sync_time = Some(Time(c.now));
    c.set(
        s,
        types::SYNCED,
        true,
        Reason::Synced,
        "the remote record equals the spec",
    );
    c.set(s, types::RECONCILING, false, Reason::Idle, "");
    c.set(s, types::STALLED, false, Reason::Idle, "");
    match s.availability.unwrap_or_default() {
        Availability::Unavailable => {
            let why = s
                .availability_message
                .clone()
                .unwrap_or_else(|| "the registry reports the server unavailable".into());
            c.set(s, types::READY, false, Reason::Unavailable, &why)
        }
        a => {
            let (reason, message) = ready_reason(a);
            c.set(s, types::READY, true, reason, message)
        }
    }
}

/// What is now applied: the managed fields, and fingerprints of write-only values (new
/// for those just sent, kept for the others).
fn record_applied(
    s: &mut McpServerStatus,
    desired: &Desired,
    model: &dyn ProviderModel,
    sent: &[&str],
    salt: &[u8; 16],
) {
    let mut fingerprints = BTreeMap::new();
    let mut applied = Vec::new();
    for (field, value) in &desired.fields {
        let Some(rule) = model.field_rule(*field) else {
            continue;
        };
        applied.push(rule.remote.to_string());
        if rule.write_only {
            let fp = match s.applied_fingerprints.get(rule.remote) {
                Some(old) if !sent.contains(&rule.remote) => old.clone(),
                _ => fingerprint::fingerprint(rule.remote, value, salt),
            };
            fingerprints.insert(rule.remote.to_string(), fp);
        }
    }
    applied.sort();
    s.applied_fields = applied;
    s.applied_fingerprints = fingerprints;
}

/// `Ready=True`: `Available` when the registry says so, else `Synced` (the README's table).
fn ready_reason(a: Availability) -> (Reason, &'static str) {
    match a {
        Availability::Available => (
            Reason::Available,
            "in sync, and the registry reports the server available",
        ),
        Availability::Pending => (
            Reason::Synced,
            "in sync; the registry reports the server still connecting (availability Pending)",
        ),
        Availability::Unknown | Availability::Unavailable => (
            Reason::Synced,
            "in sync; the registry reports no availability for this server",
        ),
    }
}

/// The message of a condition set without one: every condition says something.
fn default_message(type_: &str, status: bool, reason: Reason) -> String {
    match (type_, status) {
        (types::RECONCILING, false) => "no change in progress".into(),
        (types::RECONCILING, true) => "a change is in progress".into(),
        (types::STALLED, false) if reason == Reason::Suspended => {
            "spec.suspend is true: nothing is reconciled until it is false".into()
        }
        (types::STALLED, false) => {
            "no error that needs a change to the spec or a referenced object".into()
        }
        _ => format!("{type_}: {}", reason.as_str()),
    }
}

/// Condition reason and stalled-ness of a failed call (docs/providers.md, "Errors -> conditions").
pub fn error_reason(class: ErrorClass) -> (Reason, bool) {
    (class.reason(), class.is_stalled())
}

/// Sets conditions with kstatus semantics: `lastTransitionTime` moves only when the status
/// of a condition changes.
struct Conds {
    generation: Option<i64>,
    now: Timestamp,
}

impl Conds {
    fn set(
        &self,
        s: &mut McpServerStatus,
        type_: &str,
        status: bool,
        reason: Reason,
        message: &str,
    ) {
        let message = match message {
            "" => default_message(type_, status, reason),
            m => m.to_string(),
        };
        let status = if status { "True" } else { "False" }.to_string();
        let last_transition_time = match s.conditions.iter().find(|c| c.type_ == type_) {
            Some(old) if old.status == status => old.last_transition_time.clone(),
            _ => Time(self.now),
        };
        let cond = Condition {
            type_: type_.to_string(),
            status,
            reason: reason.as_str().to_string(),
            message,
            observed_generation: self.generation,
            last_transition_time,
        };
        match s.conditions.iter_mut().find(|c| c.type_ == type_) {
            Some(slot) => *slot = cond,
            None => s.conditions.push(cond),
        }
        s.conditions.sort_by_key(|a| condition_rank(&a.type_));
    }

    /// An error that retrying cannot fix until the spec or a referenced object changes.
    fn stalled(&self, s: &mut McpServerStatus, reason: Reason, message: &str) {
        self.set(s, types::READY, false, reason, message);
        self.set(s, types::SYNCED, false, reason, message);
        self.set(s, types::RECONCILING, false, reason, "");
        self.set(s, types::STALLED, true, reason, message);
    }

    /// Not equal to spec, and no write will be made (drift report, missing record).
    fn not_synced(
        &self,
        s: &mut McpServerStatus,
        reason: Reason,
        message: &str,
        reconciling: bool,
    ) {
        self.set(s, types::READY, false, reason, message);
        self.set(s, types::SYNCED, false, reason, message);
        self.set(
            s,
            types::RECONCILING,
            reconciling,
            if reconciling { reason } else { Reason::Idle },
            "",
        );
        self.set(s, types::STALLED, false, Reason::Idle, "");
    }

    fn failed(&self, s: &mut McpServerStatus, e: &RemoteError) {
        let (reason, stalled) = error_reason(e.class);
        if stalled {
            self.stalled(s, reason, &e.message);
        } else {
            self.not_synced(s, reason, &e.message, true);
        }
    }
}

fn condition_rank(type_: &str) -> usize {
    [
        types::READY,
        types::SYNCED,
        types::RECONCILING,
        types::STALLED,
    ]
    .iter()
    .position(|t| *t == type_)
    .unwrap_or(usize::MAX)
}

/// Whether `new` differs from `old` in anything but timestamps: the status is written
/// only then (plus `lastSyncTime` once per sync interval), so an unchanged object costs
/// no API-server write. Times that move on every check (`lastSyncTime`,
/// `lastAvailableTime`, `remoteUpdatedAt`, transition and patch times) are ignored;
/// everything a person or a tool reads (ids, conditions' status/reason/message,
/// availability, applied fields, fingerprints, drift, the fields of the last patch, a
/// pending create) counts.
pub fn material_change(old: &McpServerStatus, new: &McpServerStatus) -> bool {
    fn strip(s: &McpServerStatus) -> McpServerStatus {
        let mut s = s.clone();
        s.last_sync_time = None;
        s.last_available_time = None;
        s.remote_updated_at = None;
        if let Some(p) = s.last_patch.as_mut() {
            p.time = Time(Timestamp::UNIX_EPOCH);
        }
        if let Some(p) = s.pending_create.as_mut() {
            p.time = Time(Timestamp::UNIX_EPOCH);
        }
        for c in &mut s.conditions {
            c.last_transition_time = Time(Timestamp::UNIX_EPOCH);
        }
        s
    }
    strip(old) != strip(new)
}
