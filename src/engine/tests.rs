//! Table-driven tests of the engine with a fake provider model.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde_json::{Value, json};

use super::*;
use crate::api::conditions::{Reason, reasons, types};
use crate::api::{
    Availability, HeaderSpec, HeaderValueSource, LocalSecretKeyRef, ManagementPolicy,
    McpServerSpec, McpServerStatus, PendingCreate,
};
use crate::provider::*;

/// A provider with name/url readable, `headers` write-only and null-resettable, `description`
/// null-resettable, `transport` create-only; `toolkits` readable; nothing else supported.
#[derive(Debug)]
struct Fake;

impl ProviderModel for Fake {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Pais
    }
    fn field_rule(&self, field: Field) -> Option<FieldRule> {
        Some(match field {
            Field::DisplayName => FieldRule::plain("name"),
            Field::Url => FieldRule::plain("url"),
            Field::Description => FieldRule {
                null_resets: true,
                ..FieldRule::plain("description")
            },
            Field::Headers => FieldRule {
                write_only: true,
                null_resets: true,
                ..FieldRule::plain("headers")
            },
            Field::Transport => FieldRule {
                create_only: true,
                ..FieldRule::plain("transport")
            },
            Field::Toolkits => FieldRule::plain("toolkits"),
            _ => return None,
        })
    }
    fn check(&self, field: Field, value: &Value) -> Result<(), Violation> {
        match (field, value.as_str()) {
            (Field::Url, Some(u)) if !u.starts_with("https://") => Err(Violation {
                path: "spec.url".into(),
                rule: "must be https".into(),
                unsupported: false,
            }),
            _ => Ok(()),
        }
    }
    fn names_unique(&self) -> bool {
        false
    }
    fn auth_headers(&self) -> Vec<AuthHeader> {
        Vec::new()
    }
    fn get_request(&self, id: &str) -> RequestSpec {
        RequestSpec::new(Method::Get, format!("/{id}"))
    }
    fn list_request(&self, _: Option<&Cursor>, _: Option<&str>) -> RequestSpec {
        RequestSpec::new(Method::Get, "/")
    }
    fn create_request(
        &self,
        _: &BTreeMap<Field, Value>,
        _: &WriteContext,
    ) -> Result<RequestSpec, Violation> {
        Ok(RequestSpec::new(Method::Post, "/"))
    }
    fn patch_request(&self, id: &str, _: &[Change], _: &WriteContext) -> RequestSpec {
        RequestSpec::new(Method::Patch, format!("/{id}"))
    }
    fn delete_request(&self, id: &str) -> RequestSpec {
        RequestSpec::new(Method::Delete, format!("/{id}"))
    }
    fn parse_record(&self, _: &Value) -> Result<RemoteRecord, DecodeError> {
        Err(DecodeError {
            provider: "fake",
            what: "unused".into(),
        })
    }
    fn parse_list(&self, _: &Value, _: Option<&Cursor>) -> Result<ListPage, DecodeError> {
        Ok(ListPage::default())
    }
    fn error_message(&self, _: u16, _: &Value) -> Option<String> {
        None
    }
}

const CANARY: &str = "canary-SECRET-7f3a";
const SALT: [u8; 16] = [7; 16];

fn now() -> Timestamp {
    Timestamp::from_second(1_790_000_000).unwrap()
}

fn spec() -> McpServerSpec {
    McpServerSpec {
        display_name: Some("GitHub".into()),
        url: Some("https://github-mcp.example.com".into()),
        ..Default::default()
    }
}

fn with_secret_header(mut s: McpServerSpec) -> McpServerSpec {
    s.headers = Some(vec![HeaderSpec {
        name: "Authorization".into(),
        value: None,
        value_from: Some(HeaderValueSource {
            secret_key_ref: LocalSecretKeyRef {
                name: "gh".into(),
                key: "header".into(),
            },
        }),
    }]);
    s
}

fn secrets(v: &str) -> ResolvedSecrets {
    ResolvedSecrets {
        headers: [("Authorization".to_string(), v.to_string())].into(),
        credentials: None,
    }
}

fn record(fields: &[(Field, Value)]) -> RemoteRecord {
    RemoteRecord {
        id: "rec-1".into(),
        name: Some("GitHub".into()),
        fields: fields.iter().cloned().collect(),
        ..Default::default()
    }
}

fn live_equal() -> RemoteRecord {
    record(&[
        (Field::DisplayName, json!("GitHub")),
        (Field::Url, json!("https://github-mcp.example.com")),
    ])
}

fn run(
    spec: &McpServerSpec,
    sec: &ResolvedSecrets,
    status: &McpServerStatus,
    obs: Observation,
) -> Decision {
    let d = desired(spec, "github", sec).unwrap();
    decide(DecideInput {
        model: &Fake,
        spec,
        desired: &d,
        status,
        observation: obs,
    })
}

fn patched_fields(d: &Decision) -> Vec<(Field, Option<Value>)> {
    match &d.action {
        Action::Patch { changes } => changes.iter().map(|c| (c.field, c.value.clone())).collect(),
        other => panic!("expected a patch, got {other:?}"),
    }
}

/// Status after a successful write of `d`.
fn applied(
    spec: &McpServerSpec,
    sec: &ResolvedSecrets,
    prev: &McpServerStatus,
    d: &Decision,
) -> McpServerStatus {
    let des = desired(spec, "github", sec).unwrap();
    let rec = d.live.clone().unwrap_or_else(live_equal);
    let outcome = if matches!(d.action, Action::Nothing) {
        Outcome::NoWrite
    } else {
        Outcome::Written(&rec)
    };
    next_status(
        prev,
        Some(1),
        now(),
        Report::Decided {
            decision: d,
            outcome,
            desired: &des,
            model: &Fake,
            salt: SALT,
        },
    )
}

fn cond<'a>(s: &'a McpServerStatus, t: &str) -> (&'a str, &'a str) {
    let c = s.conditions.iter().find(|c| c.type_ == t).unwrap();
    (c.status.as_str(), c.reason.as_str())
}

#[test]
fn in_sync_record_needs_nothing() {
    let d = run(
        &spec(),
        &ResolvedSecrets::default(),
        &Default::default(),
        Observation::Found(live_equal()),
    );
    assert_eq!(d.action, Action::Nothing);
    assert!(d.diffs.is_empty());
}

#[test]
fn one_differing_field_is_patched_alone() {
    let mut live = live_equal();
    live.fields.insert(Field::DisplayName, json!("Old name"));
    let d = run(
        &spec(),
        &ResolvedSecrets::default(),
        &Default::default(),
        Observation::Found(live),
    );
    assert_eq!(
        patched_fields(&d),
        vec![(Field::DisplayName, Some(json!("GitHub")))]
    );
    assert_eq!(d.diffs[0].old, Some(json!("Old name")));
}

#[test]
fn absent_spec_fields_are_not_managed() {
    let mut live = live_equal();
    live.fields.insert(Field::Toolkits, json!(["x"]));
    let d = run(
        &spec(),
        &ResolvedSecrets::default(),
        &Default::default(),
        Observation::Found(live),
    );
    assert_eq!(d.action, Action::Nothing);
}

#[test]
fn set_like_lists_compare_as_sets() {
    let mut s = spec();
    s.toolkits = Some(vec!["slack".into(), "github".into(), "github".into()]);
    let mut live = live_equal();
    live.fields
        .insert(Field::Toolkits, json!(["github", "slack"]));
    let d = run(
        &s,
        &ResolvedSecrets::default(),
        &Default::default(),
        Observation::Found(live),
    );
    assert_eq!(d.action, Action::Nothing);
}

#[test]
fn write_only_field_without_fingerprint_is_sent_then_settles() {
    let s = with_secret_header(spec());
    let d = run(
        &s,
        &secrets(CANARY),
        &Default::default(),
        Observation::Found(live_equal()),
    );
    assert_eq!(
        patched_fields(&d),
        vec![(Field::Headers, Some(json!({"Authorization": CANARY})))]
    );
    assert!(d.diffs[0].secret && d.diffs[0].write_only);
    let st = applied(&s, &secrets(CANARY), &Default::default(), &d);
    let fp = st.applied_fingerprints.get("headers").unwrap();
    assert!(!fp.contains(CANARY));
    let again = run(&s, &secrets(CANARY), &st, Observation::Found(live_equal()));
    assert_eq!(
        again.action,
        Action::Nothing,
        "an applied fingerprint must settle the field"
    );
}

#[test]
fn rotated_secret_resends_that_field_alone() {
    let s = with_secret_header(spec());
    let first = run(
        &s,
        &secrets(CANARY),
        &Default::default(),
        Observation::Found(live_equal()),
    );
    let st = applied(&s, &secrets(CANARY), &Default::default(), &first);
    let d = run(
        &s,
        &secrets("rotated-value-2"),
        &st,
        Observation::Found(live_equal()),
    );
    assert_eq!(
        patched_fields(&d),
        vec![(
            Field::Headers,
            Some(json!({"Authorization": "rotated-value-2"}))
        )]
    );
}

#[test]
fn dropped_field_is_reset_with_null_where_provider_allows_and_it_was_applied() {
    let prev = McpServerStatus {
        applied_fields: vec!["description".into(), "name".into(), "url".into()],
        ..Default::default()
    };
    let mut live = live_equal();
    live.fields.insert(Field::Description, json!("old text"));
    let d = run(
        &spec(),
        &ResolvedSecrets::default(),
        &prev,
        Observation::Found(live.clone()),
    );
    assert_eq!(patched_fields(&d), vec![(Field::Description, None)]);
    // Never applied by us: not managed, left alone.
    let d = run(
        &spec(),
        &ResolvedSecrets::default(),
        &Default::default(),
        Observation::Found(live),
    );
    assert_eq!(d.action, Action::Nothing);
}

#[test]
fn dropped_field_already_null_needs_no_reset() {
    let prev = McpServerStatus {
        applied_fields: vec!["description".into()],
        ..Default::default()
    };
    let mut live = live_equal();
    live.fields.insert(Field::Description, Value::Null);
    let d = run(
        &spec(),
        &ResolvedSecrets::default(),
        &prev,
        Observation::Found(live),
    );
    assert_eq!(d.action, Action::Nothing);
}

#[test]
fn dropped_field_not_resettable_is_just_unmanaged() {
    let prev = McpServerStatus {
        applied_fields: vec!["toolkits".into()],
        ..Default::default()
    };
    let mut live = live_equal();
    live.fields.insert(Field::Toolkits, json!(["a"]));
    let d = run(
        &spec(),
        &ResolvedSecrets::default(),
        &prev,
        Observation::Found(live),
    );
    assert_eq!(d.action, Action::Nothing);
}

#[test]
fn refusals_happen_before_any_call_and_name_the_field() {
    let cases: Vec<(McpServerSpec, &str, &str)> = vec![
        (
            McpServerSpec {
                managed_auth: Some(true),
                ..spec()
            },
            reasons::UNSUPPORTED_FIELD,
            "spec.managedAuth is not supported by the pais provider",
        ),
        (
            McpServerSpec {
                url: Some("http://plain.example.com".into()),
                ..spec()
            },
            reasons::INVALID_SPEC,
            "spec.url: must be https",
        ),
    ];
    for (s, reason, msg) in cases {
        let d = run(
            &s,
            &ResolvedSecrets::default(),
            &Default::default(),
            Observation::Found(live_equal()),
        );
        match d.action {
            Action::Refuse(r) => {
                assert_eq!(r.reason, reason);
                assert!(r.message.contains(msg), "{}", r.message);
            }
            other => panic!("expected refusal, got {other:?}"),
        }
    }
}

#[test]
fn name_lookup_creates_adopts_or_refuses() {
    let st = McpServerStatus::default();
    let d = run(
        &spec(),
        &ResolvedSecrets::default(),
        &st,
        Observation::ByName(vec![]),
    );
    assert!(matches!(d.action, Action::Create { .. }));
    let d = run(
        &spec(),
        &ResolvedSecrets::default(),
        &st,
        Observation::ByName(vec![live_equal()]),
    );
    assert_eq!(
        (d.action.clone(), d.adopted, d.record_id.as_deref()),
        (Action::Nothing, true, Some("rec-1"))
    );
    let d = run(
        &spec(),
        &ResolvedSecrets::default(),
        &st,
        Observation::ByName(vec![live_equal(), live_equal()]),
    );
    assert!(matches!(
        d.action,
        Action::Refuse(Refusal {
            reason: Reason::Conflict,
            ..
        })
    ));
}

#[test]
fn gone_record_is_recreated_only_when_managed_and_not_pinned() {
    let d = run(
        &spec(),
        &ResolvedSecrets::default(),
        &Default::default(),
        Observation::Gone,
    );
    assert!(matches!(d.action, Action::Create { .. }));
    let pinned = McpServerSpec {
        external_id: Some("abc".into()),
        ..spec()
    };
    let d = run(
        &pinned,
        &ResolvedSecrets::default(),
        &Default::default(),
        Observation::Gone,
    );
    assert!(matches!(d.action, Action::ReportMissing { .. }));
    let observe = McpServerSpec {
        management_policy: Some(ManagementPolicy::ObserveOnly),
        ..spec()
    };
    let d = run(
        &observe,
        &ResolvedSecrets::default(),
        &Default::default(),
        Observation::Gone,
    );
    assert!(matches!(d.action, Action::ReportMissing { .. }));
}

#[test]
fn observe_only_never_writes_and_reports_drift() {
    let s = McpServerSpec {
        management_policy: Some(ManagementPolicy::ObserveOnly),
        ..spec()
    };
    let mut live = live_equal();
    live.fields
        .insert(Field::Url, json!("https://elsewhere.example.com"));
    let d = run(
        &s,
        &ResolvedSecrets::default(),
        &Default::default(),
        Observation::Found(live),
    );
    assert_eq!(d.action, Action::ReportDrift);
    let des = desired(&s, "github", &ResolvedSecrets::default()).unwrap();
    let st = next_status(
        &Default::default(),
        Some(2),
        now(),
        Report::Decided {
            decision: &d,
            outcome: Outcome::NoWrite,
            desired: &des,
            model: &Fake,
            salt: SALT,
        },
    );
    assert_eq!(st.drift, vec!["url".to_string()]);
    assert_eq!(cond(&st, types::SYNCED), ("False", reasons::DRIFTED));
    let d = run(
        &s,
        &ResolvedSecrets::default(),
        &Default::default(),
        Observation::ByName(vec![]),
    );
    assert!(
        matches!(d.action, Action::ReportMissing { .. }),
        "ObserveOnly never creates"
    );
}

#[test]
fn create_only_field_that_differs_stalls_instead_of_patching() {
    let s = McpServerSpec {
        transport: Some(crate::api::Transport::Sse),
        ..spec()
    };
    let mut live = live_equal();
    live.fields
        .insert(Field::Transport, json!("StreamableHttp"));
    let d = run(
        &s,
        &ResolvedSecrets::default(),
        &Default::default(),
        Observation::Found(live),
    );
    assert!(
        matches!(
            d.action,
            Action::Refuse(Refusal {
                reason: Reason::UnsupportedField,
                ..
            })
        ),
        "{:?}",
        d.action
    );
}

#[test]
fn target_prefers_spec_id_then_status_id_then_pending_name_then_create_name() {
    let des = desired(&spec(), "github", &ResolvedSecrets::default()).unwrap();
    let pinned = McpServerSpec {
        external_id: Some("spec-id".into()),
        ..spec()
    };
    let with_id = McpServerStatus {
        external_id: Some("status-id".into()),
        ..Default::default()
    };
    let pending = McpServerStatus {
        pending_create: Some(PendingCreate {
            name: "Pending".into(),
            time: k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(now()),
        }),
        ..Default::default()
    };
    assert_eq!(
        target(&Fake, &pinned, &with_id, &des),
        Target::Id("spec-id".into())
    );
    assert_eq!(
        target(&Fake, &spec(), &with_id, &des),
        Target::Id("status-id".into())
    );
    assert_eq!(
        target(&Fake, &spec(), &pending, &des),
        Target::Name("Pending".into())
    );
    // Names not unique (Fake), nothing pending: a same-named record is someone else's.
    assert_eq!(
        target(&Fake, &spec(), &Default::default(), &des),
        Target::New
    );
    let observe = McpServerSpec {
        management_policy: Some(ManagementPolicy::ObserveOnly),
        ..spec()
    };
    assert_eq!(
        target(&Fake, &observe, &Default::default(), &des),
        Target::Name("GitHub".into())
    );
    let unique = zudu_model();
    assert!(unique.names_unique());
    assert_eq!(
        target(&unique, &spec(), &Default::default(), &des),
        Target::Name("GitHub".into())
    );
    let unnamed = McpServerSpec {
        display_name: None,
        ..spec()
    };
    let des = desired(&unnamed, "github", &ResolvedSecrets::default()).unwrap();
    assert_eq!(
        target(&unique, &unnamed, &Default::default(), &des),
        Target::Name("github".into())
    );
}

fn zudu_model() -> crate::provider::zudu::Zudu {
    use crate::api::{SecretKeyRef, ZuduProvider};
    let r = |key: &str| SecretKeyRef {
        name: "zudu".into(),
        key: key.into(),
        namespace: None,
    };
    crate::provider::zudu::Zudu::new(&ZuduProvider {
        api_key_secret_ref: r("key"),
        api_secret_secret_ref: r("secret"),
        body_style: None,
    })
}

#[test]
fn successful_write_records_patch_fields_ids_and_conditions() {
    let mut live = live_equal();
    live.fields.insert(Field::DisplayName, json!("Old"));
    live.availability = Availability::Available;
    let prev = with_pending_create(&Default::default(), "GitHub", now());
    let d = run(
        &spec(),
        &ResolvedSecrets::default(),
        &prev,
        Observation::Found(live),
    );
    let mut written = live_equal();
    written.availability = Availability::Available;
    let des = desired(&spec(), "github", &ResolvedSecrets::default()).unwrap();
    let st = next_status(
        &prev,
        Some(3),
        now(),
        Report::Decided {
            decision: &d,
            outcome: Outcome::Written(&written),
            desired: &des,
            model: &Fake,
            salt: SALT,
        },
    );
    assert_eq!(st.external_id.as_deref(), Some("rec-1"));
    assert!(st.pending_create.is_none());
    assert_eq!(
        st.last_patch.as_ref().unwrap().fields,
        vec!["name".to_string()]
    );
    assert_eq!(
        st.applied_fields,
        vec!["name".to_string(), "url".to_string()]
    );
    assert_eq!(st.observed_generation, Some(3));
    assert_eq!(cond(&st, types::READY), ("True", reasons::AVAILABLE));
    assert_eq!(cond(&st, types::SYNCED), ("True", reasons::SYNCED));
    assert_eq!(cond(&st, types::STALLED), ("False", reasons::IDLE));
    assert!(
        st.conditions
            .iter()
            .all(|c| c.observed_generation == Some(3))
    );
}

#[test]
fn unavailable_server_is_synced_but_not_ready() {
    let mut live = live_equal();
    live.availability = Availability::Unavailable;
    live.availability_message = Some("connection refused".into());
    let d = run(
        &spec(),
        &ResolvedSecrets::default(),
        &Default::default(),
        Observation::Found(live),
    );
    let st = applied(
        &spec(),
        &ResolvedSecrets::default(),
        &Default::default(),
        &d,
    );
    assert_eq!(cond(&st, types::SYNCED).0, "True");
    assert_eq!(cond(&st, types::READY), ("False", reasons::UNAVAILABLE));
    assert_eq!(st.availability, Some(Availability::Unavailable));
    assert_eq!(
        st.availability_message.as_deref(),
        Some("connection refused")
    );
}

#[test]
fn every_error_row_maps_to_its_condition() {
    let rows = [
        (ErrorClass::Rejected, reasons::REMOTE_REJECTED, true),
        (ErrorClass::Unauthorized, reasons::UNAUTHORIZED, true),
        (ErrorClass::NotFound, reasons::REMOTE_NOT_FOUND, false),
        (ErrorClass::Conflict, reasons::CONFLICT, true),
        (ErrorClass::RateLimited, reasons::RATE_LIMITED, false),
        (
            ErrorClass::Unreachable,
            reasons::REGISTRY_UNREACHABLE,
            false,
        ),
    ];
    for (class, reason, stalled) in rows {
        let err = RemoteError {
            class,
            status: None,
            message: format!("PATCH /x: {reason}"),
            retry_after: None,
        };
        let st = next_status(
            &Default::default(),
            Some(1),
            now(),
            Report::ObserveFailed(&err),
        );
        assert_eq!(cond(&st, types::SYNCED), ("False", reason), "{class:?}");
        assert_eq!(
            cond(&st, types::STALLED).0,
            if stalled { "True" } else { "False" },
            "{class:?}"
        );
        assert_eq!(
            cond(&st, types::RECONCILING).0,
            if stalled { "False" } else { "True" },
            "{class:?}"
        );
        assert_eq!(cond(&st, types::READY).0, "False");
    }
}

#[test]
fn transition_time_moves_only_when_status_changes() {
    let err = RemoteError {
        class: ErrorClass::Unreachable,
        status: Some(502),
        message: "x".into(),
        retry_after: None,
    };
    let t1 = now();
    let t2 = t1 + jiff::SignedDuration::from_secs(60);
    let s1 = next_status(
        &Default::default(),
        Some(1),
        t1,
        Report::ObserveFailed(&err),
    );
    let s2 = next_status(&s1, Some(1), t2, Report::ObserveFailed(&err));
    let c2 = s2
        .conditions
        .iter()
        .find(|c| c.type_ == types::SYNCED)
        .unwrap();
    assert_eq!(c2.last_transition_time.0, t1);
    let d = run(
        &spec(),
        &ResolvedSecrets::default(),
        &s2,
        Observation::Found(live_equal()),
    );
    let s3 = {
        let des = desired(&spec(), "github", &ResolvedSecrets::default()).unwrap();
        next_status(
            &s2,
            Some(1),
            t2,
            Report::Decided {
                decision: &d,
                outcome: Outcome::NoWrite,
                desired: &des,
                model: &Fake,
                salt: SALT,
            },
        )
    };
    let c3 = s3
        .conditions
        .iter()
        .find(|c| c.type_ == types::SYNCED)
        .unwrap();
    assert_eq!(
        (c3.status.as_str(), c3.last_transition_time.0),
        ("True", t2)
    );
}

#[test]
fn secret_values_never_appear_in_debug_or_status() {
    let s = with_secret_header(spec());
    let sec = secrets(CANARY);
    let des = desired(&s, "github", &sec).unwrap();
    assert!(!format!("{des:?}").contains(CANARY));
    assert!(!format!("{sec:?}").contains(CANARY));
    let d = run(
        &s,
        &sec,
        &Default::default(),
        Observation::Found(live_equal()),
    );
    assert!(matches!(d.action, Action::Patch { .. }));
    assert!(!format!("{d:?}").contains(CANARY), "{d:?}");
    let st = applied(&s, &sec, &Default::default(), &d);
    assert!(!serde_json::to_string(&st).unwrap().contains(CANARY));
    let create = run(&s, &sec, &Default::default(), Observation::ByName(vec![]));
    assert!(matches!(create.action, Action::Create { .. }));
    assert!(!format!("{create:?}").contains(CANARY), "{create:?}");
    // A registry that returns header values in clear (Zudu): the record's Debug masks them.
    let mut live = live_equal();
    live.fields
        .insert(Field::Headers, json!({"Authorization": CANARY}));
    assert!(!format!("{live:?}").contains(CANARY));
    let req = RequestSpec::new(Method::Patch, "/x").body(json!({"headers": [{"value": CANARY}]}));
    assert!(!format!("{req:?}").contains(CANARY));
}

#[test]
fn header_with_unresolved_secret_is_a_spec_error_naming_the_header() {
    let s = with_secret_header(spec());
    let err = desired(&s, "github", &ResolvedSecrets::default()).unwrap_err();
    assert_eq!(err.path, "spec.headers[0].valueFrom");
    assert!(err.message.contains("Authorization"));
}

#[test]
fn planned_but_unsent_changes_are_not_synced_and_reconciling() {
    let mut live = live_equal();
    live.fields
        .insert(Field::Url, json!("https://old.example.com"));
    let d = run(
        &spec(),
        &ResolvedSecrets::default(),
        &Default::default(),
        Observation::Found(live),
    );
    let des = desired(&spec(), "github", &ResolvedSecrets::default()).unwrap();
    let st = next_status(
        &Default::default(),
        Some(1),
        now(),
        Report::Decided {
            decision: &d,
            outcome: Outcome::NoWrite,
            desired: &des,
            model: &Fake,
            salt: SALT,
        },
    );
    assert_eq!(st.drift, vec!["url".to_string()]);
    assert_eq!(cond(&st, types::SYNCED), ("False", reasons::UPDATING));
    assert_eq!(cond(&st, types::RECONCILING).0, "True");
    assert!(st.last_sync_time.is_none() && st.last_patch.is_none());
}

#[test]
fn create_records_every_sent_field_as_the_last_patch() {
    let s = with_secret_header(spec());
    let sec = secrets(CANARY);
    let d = run(&s, &sec, &Default::default(), Observation::ByName(vec![]));
    assert!(matches!(d.action, Action::Create { .. }));
    let des = desired(&s, "github", &sec).unwrap();
    let created = live_equal();
    let st = next_status(
        &with_pending_create(&Default::default(), "GitHub", now()),
        Some(1),
        now(),
        Report::Decided {
            decision: &d,
            outcome: Outcome::Written(&created),
            desired: &des,
            model: &Fake,
            salt: SALT,
        },
    );
    assert_eq!(
        st.last_patch.unwrap().fields,
        vec!["name", "url", "headers"]
    );
    assert!(st.applied_fingerprints.contains_key("headers"));
    assert_eq!(st.external_id.as_deref(), Some("rec-1"));
    assert!(st.pending_create.is_none());
}

#[test]
fn observe_only_neither_reports_unreadable_fields_nor_records_anything_as_applied() {
    let s = McpServerSpec {
        management_policy: Some(ManagementPolicy::ObserveOnly),
        ..with_secret_header(spec())
    };
    let d = run(
        &s,
        &secrets(CANARY),
        &Default::default(),
        Observation::Found(live_equal()),
    );
    assert_eq!(
        d.action,
        Action::Nothing,
        "a write-only header cannot be observed: {:?}",
        d.diffs
    );
    let st = applied(&s, &secrets(CANARY), &Default::default(), &d);
    assert_eq!(cond(&st, types::SYNCED).0, "True");
    assert!(st.applied_fields.is_empty() && st.applied_fingerprints.is_empty());
}

mod properties {
    //! Convergence: whatever the live record, carrying out the plan once leaves nothing to
    //! do, and the order of set-like lists never matters.

    use proptest::prelude::*;

    use super::*;

    fn opt_string() -> impl Strategy<Value = Option<String>> {
        proptest::option::of("[a-z]{1,6}")
    }

    fn names() -> impl Strategy<Value = Vec<String>> {
        proptest::collection::vec("[a-c]{1,2}", 0..4)
    }

    prop_compose! {
        fn spec_strategy()(name in opt_string(), desc in opt_string(), kits in proptest::option::of(names()), header in opt_string()) -> (McpServerSpec, ResolvedSecrets) {
            let mut s = McpServerSpec {
                display_name: name,
                url: Some("https://x.example.com".into()),
                description: desc,
                toolkits: kits,
                ..Default::default()
            };
            let mut sec = ResolvedSecrets::default();
            if let Some(h) = header {
                s = with_secret_header(s);
                sec = secrets(&h);
            }
            (s, sec)
        }
    }

    prop_compose! {
        fn live_strategy()(name in opt_string(), desc in opt_string(), kits in proptest::option::of(names())) -> RemoteRecord {
            let mut fields = BTreeMap::new();
            if let Some(n) = name { fields.insert(Field::DisplayName, json!(n)); }
            if let Some(d) = desc { fields.insert(Field::Description, json!(d)); }
            if let Some(k) = kits { fields.insert(Field::Toolkits, crate::engine::field::canonical_set(k)); }
            fields.insert(Field::Url, json!("https://old.example.com"));
            RemoteRecord { id: "rec-1".into(), fields, ..Default::default() }
        }
    }

    /// The live record after the registry took `changes` (write-only fields are not read back).
    fn apply_changes(live: &RemoteRecord, changes: &[Change]) -> RemoteRecord {
        let mut next = live.clone();
        for c in changes {
            if Fake.field_rule(c.field).is_some_and(|r| r.write_only) {
                continue;
            }
            match &c.value {
                Some(v) => next.fields.insert(c.field, v.clone()),
                None => next.fields.insert(c.field, Value::Null),
            };
        }
        next
    }

    proptest! {
        #[test]
        fn one_patch_converges((s, sec) in spec_strategy(), live in live_strategy(), applied_before in proptest::bool::ANY) {
            let prev = if applied_before {
                McpServerStatus { applied_fields: vec!["description".into()], ..Default::default() }
            } else {
                McpServerStatus::default()
            };
            let d = run(&s, &sec, &prev, Observation::Found(live.clone()));
            let (after, status) = match &d.action {
                Action::Patch { changes } => {
                    let after = apply_changes(&live, changes);
                    let des = desired(&s, "github", &sec).unwrap();
                    let st = next_status(&prev, Some(1), now(), Report::Decided { decision: &d, outcome: Outcome::Written(&after), desired: &des, model: &Fake, salt: SALT });
                    (after, st)
                }
                Action::Nothing => (live.clone(), applied(&s, &sec, &prev, &d)),
                other => return Err(TestCaseError::fail(format!("unexpected {other:?}"))),
            };
            let again = run(&s, &sec, &status, Observation::Found(after));
            prop_assert_eq!(again.action, Action::Nothing, "diffs left: {:?}", again.diffs);
        }

        #[test]
        fn set_order_never_matters(kits in names(), seed in 0usize..24) {
            let mut shuffled = kits.clone();
            shuffled.rotate_left(if kits.is_empty() { 0 } else { seed % kits.len() });
            shuffled.reverse();
            let s = McpServerSpec { toolkits: Some(shuffled), ..spec() };
            let mut live = live_equal();
            live.fields.insert(Field::Toolkits, crate::engine::field::canonical_set(kits));
            let d = run(&s, &ResolvedSecrets::default(), &Default::default(), Observation::Found(live));
            prop_assert_eq!(d.action, Action::Nothing);
        }
    }
}

#[test]
fn material_change_ignores_timestamps_only() {
    use crate::engine::material_change;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    let d = run(
        &spec(),
        &ResolvedSecrets::default(),
        &Default::default(),
        Observation::Found(live_equal()),
    );
    let des = desired(&spec(), "github", &ResolvedSecrets::default()).unwrap();
    let report = |at| {
        next_status(
            &Default::default(),
            Some(1),
            at,
            Report::Decided {
                decision: &d,
                outcome: Outcome::NoWrite,
                desired: &des,
                model: &Fake,
                salt: [0; 16],
            },
        )
    };
    let first = report(now());
    let later = report(now() + jiff::SignedDuration::from_secs(600));
    assert_ne!(first.last_sync_time, later.last_sync_time);
    assert!(!material_change(&first, &later), "only lastSyncTime moved");
    let mut changed = later.clone();
    changed.availability = Some(Availability::Unavailable);
    assert!(material_change(&first, &changed));
    let mut changed = later.clone();
    changed.conditions[0].message = "other".into();
    assert!(material_change(&first, &changed));
    let mut changed = later.clone();
    changed.observed_generation = Some(2);
    assert!(material_change(&first, &changed));
    let mut moved = later;
    moved.last_available_time = Some(Time(now()));
    assert!(!material_change(&first, &moved));
}
