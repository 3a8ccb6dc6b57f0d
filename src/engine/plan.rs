//! Decide: desired fields, the live record and the last-applied record in; a plan out.
//!
//! The three-way comparison of `kubectl apply`:
//! - readable fields: desired against live, so remote drift is repaired;
//! - write-only fields: desired against the fingerprint recorded when last applied;
//! - fields dropped from spec: reset with `null` where the provider documents that and
//!   they were applied before, otherwise left alone (no longer managed).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::api::conditions::Reason;
use crate::api::{ManagementPolicy, McpServerSpec, McpServerStatus};
use crate::engine::desired::Desired;
use crate::engine::field::{Field, debug_value};
use crate::engine::fingerprint;
use crate::provider::ProviderModel;
use crate::vocab::{Change, RemoteRecord};

/// Which remote record a reconcile must look at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A known id: `spec.externalId`, else `status.externalId`.
    Id(String),
    /// No id yet: look the record up by this name before any create.
    Name(String),
    /// No id, and nothing to look up: the record is to be created (names are not unique
    /// in this registry and no create of ours is pending, so a same-named record belongs
    /// to someone else). The front end observes `ByName(vec![])` without a call.
    New,
}

/// What a front end found for the [`Target`].
#[derive(Clone, Debug, PartialEq)]
pub enum Observation {
    /// The record with the known id.
    Found(RemoteRecord),
    /// The known id answered 404.
    Gone,
    /// Records whose name equals the looked-up name (from a LIST page or a filtered LIST).
    ByName(Vec<RemoteRecord>),
}

/// A refusal: nothing is sent, and retrying will not help until the spec or a referenced
/// object changes (`Stalled=True`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// Condition reason (`UnsupportedField`, `InvalidSpec`, `Conflict`, ...).
    pub reason: Reason,
    /// For a person: names the field or object at fault, never a secret value.
    pub message: String,
}

/// One field that differs, for output and for the PATCH.
#[derive(Clone, PartialEq)]
pub struct FieldDiff {
    pub field: Field,
    /// The provider's name of the field.
    pub remote: &'static str,
    /// Live value where the registry returns it.
    pub old: Option<Value>,
    /// New value; `None` resets the field with `null`.
    pub new: Option<Value>,
    /// The values hold Secret material: show only that it changed.
    pub secret: bool,
    /// Write-only field: the old value is unknown, a fingerprint showed the change.
    pub write_only: bool,
}

impl std::fmt::Debug for FieldDiff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = |v: &Option<Value>| match v {
            Some(_) if self.secret => Some(Value::from("***")),
            Some(v) => Some(debug_value(self.field, v)),
            None => None,
        };
        f.debug_struct("FieldDiff")
            .field("field", &self.field)
            .field("remote", &self.remote)
            .field("old", &shown(&self.old))
            .field("new", &shown(&self.new))
            .field("secret", &self.secret)
            .field("write_only", &self.write_only)
            .finish()
    }
}

/// What to do. `Debug` never shows a value that may hold Secret material.
#[derive(Clone, PartialEq)]
pub enum Action {
    /// The remote record equals the spec.
    Nothing,
    /// No record: create one with these fields (record the intent first).
    Create { fields: BTreeMap<Field, Value> },
    /// Send one PATCH with exactly these changes.
    Patch { changes: Vec<Change> },
    /// ObserveOnly: differences exist and are reported, never written.
    ReportDrift,
    /// The record is missing and must not be created (policy or `spec.externalId`).
    /// `pinned`: `spec.externalId` names a record that does not exist, which retrying
    /// cannot fix (`Stalled`, reason `RemoteNotFound`).
    ReportMissing { message: String, pinned: bool },
    /// Refused before any write.
    Refuse(Refusal),
}

impl std::fmt::Debug for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Action::Nothing => f.write_str("Nothing"),
            Action::Create { fields } => {
                let shown: BTreeMap<_, _> = fields
                    .iter()
                    .map(|(k, v)| (k, debug_value(*k, v)))
                    .collect();
                f.debug_struct("Create").field("fields", &shown).finish()
            }
            Action::Patch { changes } => f.debug_struct("Patch").field("changes", changes).finish(),
            Action::ReportDrift => f.write_str("ReportDrift"),
            Action::ReportMissing { message, pinned } => f
                .debug_struct("ReportMissing")
                .field("pinned", pinned)
                .field("message", message)
                .finish(),
            Action::Refuse(r) => f.debug_tuple("Refuse").field(r).finish(),
        }
    }
}

/// The outcome of [`decide`].
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    pub action: Action,
    /// The id acted on (known, adopted by name, or none before a create).
    pub record_id: Option<String>,
    /// The live record the decision is based on.
    pub live: Option<RemoteRecord>,
    /// Every differing field (also under ObserveOnly).
    pub diffs: Vec<FieldDiff>,
    /// True when the record was found by name rather than by id.
    pub adopted: bool,
    /// `ObserveOnly`: nothing is ever applied, so nothing is recorded as applied.
    pub observe_only: bool,
}

/// The record to look at for this server.
///
/// Without an id, a record is adopted by name only where that is safe: in a registry that
/// keeps names unique, under `ObserveOnly` (which never writes), or when a create of ours
/// may have reached the registry (`status.pendingCreate`: a crash between the POST and the
/// status write). Elsewhere a same-named record may be another team's, so it is left alone.
pub fn target(
    model: &dyn ProviderModel,
    spec: &McpServerSpec,
    status: &McpServerStatus,
    desired: &Desired,
) -> Target {
    if let Some(id) = spec.external_id.as_ref().or(status.external_id.as_ref()) {
        return Target::Id(id.clone());
    }
    if let Some(pending) = &status.pending_create {
        return Target::Name(pending.name.clone());
    }
    let observe_only = spec.management_policy == Some(ManagementPolicy::ObserveOnly);
    if model.names_unique() || observe_only {
        Target::Name(desired.create_name.clone())
    } else {
        Target::New
    }
}

/// Checks every desired field against the provider before any call.
pub fn validate(model: &dyn ProviderModel, desired: &Desired) -> Result<(), Refusal> {
    let provider = model.kind().id();
    for (field, value) in &desired.fields {
        if model.field_rule(*field).is_none() {
            return Err(Refusal {
                reason: Reason::UnsupportedField,
                message: format!(
                    "{field} is not supported by the {provider} provider; remove it from the spec"
                ),
            });
        }
        if let Err(v) = model.check(*field, value) {
            let reason = if v.unsupported {
                Reason::UnsupportedField
            } else {
                Reason::InvalidSpec
            };
            return Err(Refusal {
                reason,
                message: format!("{}: {} ({provider})", v.path, v.rule),
            });
        }
    }
    Ok(())
}

/// Everything [`decide`] looks at.
pub struct DecideInput<'a> {
    pub model: &'a dyn ProviderModel,
    pub spec: &'a McpServerSpec,
    pub desired: &'a Desired,
    /// Last applied: `appliedFields`, `appliedFingerprints`, ids.
    pub status: &'a McpServerStatus,
    pub observation: Observation,
}

/// Decides the minimal action. Pure.
pub fn decide(input: DecideInput<'_>) -> Decision {
    let policy = input.spec.management_policy.unwrap_or_default();
    let mut decision = Decision {
        action: Action::Nothing,
        record_id: None,
        live: None,
        diffs: Vec::new(),
        adopted: false,
        observe_only: policy == ManagementPolicy::ObserveOnly,
    };
    if let Err(refusal) = validate(input.model, input.desired) {
        decision.action = Action::Refuse(refusal);
        return decision;
    }
    let DecideInput {
        model,
        spec,
        desired,
        status,
        observation,
    } = input;
    let live = match observation {
        Observation::Found(record) => record,
        Observation::Gone => {
            decision.action = missing_action(model, spec, desired, policy, true);
            return decision;
        }
        Observation::ByName(mut records) => match records.len() {
            0 => {
                decision.action = missing_action(model, spec, desired, policy, false);
                return decision;
            }
            1 => {
                decision.adopted = true;
                records.remove(0)
            }
            n => {
                decision.action = Action::Refuse(Refusal {
                    reason: Reason::Conflict,
                    message: format!(
                        "{n} records in the registry are named {:?}; set spec.externalId to the one to manage",
                        desired.create_name
                    ),
                });
                return decision;
            }
        },
    };
    decision.record_id = Some(live.id.clone());
    decision.diffs = diff(model, desired, status, &live);
    if decision.observe_only {
        // A write-only value cannot be read back, and ObserveOnly never applied it, so no
        // fingerprint can tell whether it differs: it is unobservable, not drifted.
        decision.diffs.retain(|d| !d.write_only);
    }
    decision.action = action_for(model, policy, &decision.diffs);
    decision.live = Some(live);
    decision
}

fn missing_action(
    model: &dyn ProviderModel,
    spec: &McpServerSpec,
    desired: &Desired,
    policy: ManagementPolicy,
    known_id_gone: bool,
) -> Action {
    let pinned = spec.external_id.is_some();
    if policy == ManagementPolicy::Manage && !pinned {
        return match create_fields(model, desired) {
            Ok(fields) => Action::Create { fields },
            Err(refusal) => Action::Refuse(refusal),
        };
    }
    let message = match (known_id_gone, pinned) {
        (true, true) => format!(
            "spec.externalId {:?} does not exist in the registry; it is not recreated because the spec pins it",
            spec.external_id.as_deref().unwrap_or_default()
        ),
        (true, false) => "the remote record is gone; ObserveOnly does not recreate it".to_string(),
        (false, _) => format!(
            "no record named {:?} in the registry; ObserveOnly does not create it",
            desired.create_name
        ),
    };
    Action::ReportMissing {
        message,
        pinned: pinned && known_id_gone,
    }
}

/// The fields a create sends: the desired fields, plus the name the record gets
/// (`displayName`, else `metadata.name`) so that a later look-up by name finds it. What
/// the registry requires on create (PAIS `url` and `transport`, the name's rules, ...) is
/// checked here, before any call and before any create intent is recorded, so `plan` and
/// `apply` agree and a create that cannot be sent is refused (`InvalidSpec`).
pub fn create_fields(
    model: &dyn ProviderModel,
    desired: &Desired,
) -> Result<BTreeMap<Field, Value>, Refusal> {
    let provider = model.kind().id();
    let mut fields = desired.fields.clone();
    if model.field_rule(Field::DisplayName).is_some() && !fields.contains_key(&Field::DisplayName) {
        let name = Value::String(desired.create_name.clone());
        model.check(Field::DisplayName, &name).map_err(|v| Refusal {
            reason: Reason::InvalidSpec,
            message: format!(
                "the record would be named after metadata.name {:?}, which {provider} refuses: {} ({provider}); set spec.displayName",
                desired.create_name, v.rule
            ),
        })?;
        fields.insert(Field::DisplayName, name);
    }
    model
        .create_request(&fields, &desired.ctx)
        .map_err(|v| Refusal {
            reason: if v.unsupported {
                Reason::UnsupportedField
            } else {
                Reason::InvalidSpec
            },
            message: format!("{}: {} ({provider})", v.path, v.rule),
        })?;
    Ok(fields)
}

fn action_for(model: &dyn ProviderModel, policy: ManagementPolicy, diffs: &[FieldDiff]) -> Action {
    if diffs.is_empty() {
        return Action::Nothing;
    }
    if policy == ManagementPolicy::ObserveOnly {
        return Action::ReportDrift;
    }
    if let Some(d) = diffs
        .iter()
        .find(|d| model.field_rule(d.field).is_some_and(|r| r.create_only))
    {
        return Action::Refuse(Refusal {
            reason: Reason::UnsupportedField,
            message: format!(
                "{} differs from the record, but the {} provider sets {} on create only; recreate the record or change the spec",
                d.field,
                model.kind().id(),
                d.remote
            ),
        });
    }
    let changes = diffs
        .iter()
        .map(|d| Change {
            field: d.field,
            value: d.new.clone(),
        })
        .collect();
    Action::Patch { changes }
}

/// Every field that differs between desired (with last applied) and live.
pub fn diff(
    model: &dyn ProviderModel,
    desired: &Desired,
    status: &McpServerStatus,
    live: &RemoteRecord,
) -> Vec<FieldDiff> {
    let mut diffs = Vec::new();
    for (field, want) in &desired.fields {
        let Some(rule) = model.field_rule(*field) else {
            continue;
        };
        let secret = desired.secret_fields.contains(field);
        if rule.write_only {
            let known = status.applied_fingerprints.get(rule.remote);
            if known.is_some_and(|fp| fingerprint::matches(fp, rule.remote, want)) {
                continue;
            }
            diffs.push(FieldDiff {
                field: *field,
                remote: rule.remote,
                old: None,
                new: Some(want.clone()),
                secret,
                write_only: true,
            });
        } else if live.fields.get(field) != Some(want) {
            diffs.push(FieldDiff {
                field: *field,
                remote: rule.remote,
                old: live.fields.get(field).cloned(),
                new: Some(want.clone()),
                secret,
                write_only: false,
            });
        }
    }
    diffs.extend(resets(model, desired, status, live));
    diffs
}

/// Fields applied before, now dropped from spec, that the provider resets with `null`.
fn resets(
    model: &dyn ProviderModel,
    desired: &Desired,
    status: &McpServerStatus,
    live: &RemoteRecord,
) -> Vec<FieldDiff> {
    let applied: BTreeSet<&str> = status.applied_fields.iter().map(String::as_str).collect();
    Field::ALL
        .into_iter()
        .filter(|f| !desired.fields.contains_key(f))
        .filter_map(|f| model.field_rule(f).map(|r| (f, r)))
        .filter(|(_, r)| r.null_resets && applied.contains(r.remote))
        .filter(|(f, r)| r.write_only || live.fields.get(f).is_some_and(|v| !v.is_null()))
        .map(|(f, r)| FieldDiff {
            field: f,
            remote: r.remote,
            old: live.fields.get(&f).cloned(),
            new: None,
            secret: false,
            write_only: r.write_only,
        })
        .collect()
}
