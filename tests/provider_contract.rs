//! Provider contract tests: the real `RegistryClient` of each provider against the
//! in-process registry simulator, over loopback.
//!
//! The provider clients (`src/provider/`) and the simulator (`src/sim/`) are two
//! independent readings of the vendors' documents (`seeds/`, `providers.md`). These tests
//! are where they meet: every value one side produces must be understood by the other,
//! and every documented constraint must be enforced the same way by both.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use mcpsync::api::{Availability, ProviderSpec};
use mcpsync::engine::field::Field;
use mcpsync::provider::http::{ClientConfig, RegistryClient};
use mcpsync::provider::{Change, ErrorClass, RemoteRecord, WriteContext, model_for};
use mcpsync::secret::SecretValue;
use mcpsync::sim::{LoggedRequest, NextFault, SimConfig, SimHandle};
use serde_json::{Value, json};

mod support;
// `P` keeps the tests short: one dialect of the shared table.
use support::providers::{AITRONOS_OTHER_KEY, Dialect as P, SEEDED_ORG, seed_yaml};

const WRONG_SECRET: &str = "wrong-credential-canary-7c1e";
const AITRONOS_ORG: &str = SEEDED_ORG;

/// The registry block of `p` the contract clients use.
fn spec(p: P) -> ProviderSpec {
    p.spec("registry", AITRONOS_ORG)
}

/// A simulator of its own for one test, with credentials seeded so that wrong ones are
/// refused. New records stay pending for a minute, so availability only changes when a
/// test says so.
async fn start_sim() -> SimHandle {
    static N: AtomicUsize = AtomicUsize::new(0);
    let path: PathBuf = std::env::temp_dir().join(format!(
        "mcpsync-contract-seed-{}-{}.yaml",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::write(&path, seed_yaml()).unwrap();
    let config = SimConfig {
        seed: Some(path.clone()),
        availability_delay: Duration::from_secs(60),
        ..SimConfig::default()
    };
    let sim = mcpsync::sim::start(config).await.unwrap();
    let _ = std::fs::remove_file(&path);
    assert!(sim.addr().ip().is_loopback());
    sim
}

fn config(sim: &SimHandle, p: P) -> ClientConfig {
    let mut c = ClientConfig::new(sim.base_url(p.prefix()).parse().unwrap());
    c.allow_insecure_http = true;
    c.requests_per_second = 2000.0;
    c.burst = 200;
    c.min_backoff = Duration::from_millis(20);
    c.max_backoff = Duration::from_millis(50);
    c.timeout = Duration::from_secs(5);
    c
}

fn client_with(p: P, cfg: ClientConfig, secret: Option<&str>) -> RegistryClient {
    let model = model_for(&spec(p));
    let auth = model
        .auth_headers()
        .into_iter()
        .map(|h| {
            let value = secret.unwrap_or_else(|| p.good_secret(&h.secret.key));
            (h, SecretValue::new(value))
        })
        .collect();
    RegistryClient::new(model, cfg, auth).unwrap()
}

fn client(sim: &SimHandle, p: P) -> RegistryClient {
    client_with(p, config(sim, p), None)
}

/// A request straight to the simulator with the right credentials, bypassing the
/// client (and its model) entirely.
async fn raw(
    http: &reqwest::Client,
    sim: &SimHandle,
    p: P,
    method: reqwest::Method,
    path: &str,
    body: &Value,
) -> u16 {
    let mut req = http
        .request(method, format!("{}{path}", sim.base_url(p.prefix())))
        .json(body);
    for h in model_for(&spec(p)).auth_headers() {
        req = req.header(
            h.header,
            format!("{}{}", h.prefix, p.good_secret(&h.secret.key)),
        );
    }
    req.send().await.unwrap().status().as_u16()
}

fn requests(sim: &SimHandle, p: P, method: &str) -> Vec<LoggedRequest> {
    sim.requests()
        .into_iter()
        .filter(|r| r.provider == p.prefix() && r.method == method)
        .collect()
}

fn last_body(sim: &SimHandle, p: P, method: &str) -> Value {
    let all = requests(sim, p, method);
    let last = all.last().unwrap_or_else(|| panic!("no {method} logged"));
    last.body.clone().unwrap_or(Value::Null)
}

/// The readable part of `sent`: what a GET must give back.
fn readable(client: &RegistryClient, sent: &BTreeMap<Field, Value>) -> BTreeMap<Field, Value> {
    sent.iter()
        .filter(|(f, _)| !client.model().field_rule(**f).unwrap().write_only)
        .map(|(f, v)| (*f, v.clone()))
        .collect()
}

/// What the simulator stored for the write-only fields of `full_fields`.
fn assert_write_only_stored(sim: &SimHandle, p: P, id: &str) {
    let stored = sim.stored_record(p.sim(), id).expect("stored record");
    for (key, value) in p.write_only_stored(AITRONOS_ORG) {
        assert_eq!(stored[key], value, "{p:?}: {key}");
    }
}

/// Create with every supported field, read back by create, GET and LIST.
async fn round_trip(p: P) {
    let sim = start_sim().await;
    let c = client(&sim, p);
    let name = "Contract Full";
    let sent = p.full_fields(name);
    let created = c.create(&sent, &p.write_ctx()).await.unwrap();
    assert!(!created.id.is_empty(), "{p:?}: no id");
    assert_eq!(created.name.as_deref(), Some(name), "{p:?}");
    assert_eq!(created.fields, readable(&c, &sent), "{p:?}: create answer");
    assert_write_only_stored(&sim, p, &created.id);
    // Timestamps in each vendor's unit (ISO-8601, Unix seconds, Unix milliseconds)
    // decode to about now.
    let updated = created.updated_at.expect("updated_at decoded");
    let skew = jiff::Timestamp::now().duration_since(updated).abs();
    assert!(
        skew < jiff::SignedDuration::from_secs(120),
        "{p:?}: {updated}"
    );

    // Nothing changed in between: GET and LIST give the very same record.
    let got = c.get(&created.id).await.unwrap();
    assert_eq!(got, created, "{p:?}: GET");

    let listed = c.list_all(None).await.unwrap();
    assert_eq!(listed.len(), 1, "{p:?}: {listed:?}");
    assert_eq!(listed[0], created, "{p:?}: LIST");
    let named = c.list_all(Some(name)).await.unwrap();
    assert_eq!(named.len(), 1, "{p:?}");
    assert_eq!(named[0].id, created.id, "{p:?}");
    assert!(c.list_all(Some("Contract Ful")).await.unwrap().is_empty());
    sim.shutdown().await;
}

#[tokio::test]
async fn aitronos_round_trip() {
    round_trip(P::Aitronos).await;
}

#[tokio::test]
async fn composio_round_trip() {
    round_trip(P::Composio).await;
}

#[tokio::test]
async fn pais_round_trip() {
    round_trip(P::Pais).await;
}

#[tokio::test]
async fn zudu_wrapped_round_trip() {
    round_trip(P::Zudu).await;
}

#[tokio::test]
async fn zudu_flat_round_trip() {
    round_trip(P::ZuduFlat).await;
}

/// More records than one page: every one listed exactly once, and a name filter that
/// the registry applies as a substring search still yields exactly the named record.
async fn pagination(p: P, count: usize, pages: usize) {
    let sim = start_sim().await;
    let c = client(&sim, p);
    let mut ids = BTreeSet::new();
    for i in 0..count {
        let rec = c
            .create(&p.minimal_fields(&p.numbered_name(i)), &p.write_ctx())
            .await
            .unwrap();
        ids.insert(rec.id);
    }
    let listed = c.list_all(None).await.unwrap();
    let listed_ids: Vec<&String> = listed.iter().map(|r| &r.id).collect();
    assert_eq!(listed.len(), count, "{p:?}: every record exactly once");
    assert_eq!(
        listed_ids.into_iter().cloned().collect::<BTreeSet<_>>(),
        ids,
        "{p:?}"
    );
    let gets = requests(&sim, p, "GET");
    assert_eq!(gets.len(), pages, "{p:?}: pages read: {gets:?}");
    // "page 1" is a substring of "page 10".."page 19": only the exact name counts.
    let one = p.numbered_name(1);
    let named = c.list_all(Some(&one)).await.unwrap();
    assert_eq!(named.len(), 1, "{p:?}: {named:?}");
    assert_eq!(named[0].name.as_deref(), Some(one.as_str()));
    sim.shutdown().await;
}

#[tokio::test]
async fn composio_list_pages() {
    pagination(P::Composio, 105, 2).await;
}

#[tokio::test]
async fn pais_list_pages() {
    pagination(P::Pais, 105, 2).await;
}

#[tokio::test]
async fn zudu_wrapped_list_pages() {
    pagination(P::Zudu, 25, 2).await;
}

#[tokio::test]
async fn zudu_flat_list_pages() {
    pagination(P::ZuduFlat, 25, 2).await;
}

/// Aitronos documents no pagination: every record in one answer.
#[tokio::test]
async fn aitronos_list_is_one_page() {
    pagination(P::Aitronos, 25, 1).await;
}

/// A one-field PATCH sends exactly that field and the answer reflects it.
async fn patch_one(p: P, field: Field, value: Value, remote: Value) {
    let sim = start_sim().await;
    let c = client(&sim, p);
    let created = c
        .create(&p.full_fields("Contract Patch"), &p.write_ctx())
        .await
        .unwrap();
    let change = Change {
        field,
        value: Some(value.clone()),
    };
    let patched = c
        .patch(&created.id, &[change], &p.write_ctx())
        .await
        .unwrap();
    assert_eq!(last_body(&sim, p, "PATCH"), p.wrap(remote), "{p:?}");
    assert_eq!(requests(&sim, p, "PATCH").len(), 1);
    let rule = c.model().field_rule(field).unwrap();
    let mut expected = created.fields.clone();
    if !rule.write_only {
        expected.insert(field, value);
    }
    assert_eq!(patched.fields, expected, "{p:?}: PATCH answer");
    assert_eq!(c.get(&created.id).await.unwrap().fields, expected, "{p:?}");
    sim.shutdown().await;
}

#[tokio::test]
async fn aitronos_patch_one_field() {
    patch_one(
        P::Aitronos,
        Field::Enabled,
        json!(false),
        json!({"is_active": false}),
    )
    .await;
    patch_one(
        P::Aitronos,
        Field::DisplayName,
        json!("Renamed GitHub"),
        json!({"name": "Renamed GitHub"}),
    )
    .await;
}

#[tokio::test]
async fn aitronos_patch_write_only_field_is_stored() {
    let sim = start_sim().await;
    let p = P::Aitronos;
    let c = client(&sim, p);
    let created = c
        .create(&p.full_fields("Contract Patch"), &p.write_ctx())
        .await
        .unwrap();
    let change = Change {
        field: Field::Tools,
        value: Some(json!({"enabled": false, "allowed": ["only_this"]})),
    };
    let patched = c
        .patch(&created.id, &[change], &WriteContext::default())
        .await;
    assert_eq!(patched.unwrap().fields, created.fields);
    assert_eq!(
        last_body(&sim, p, "PATCH"),
        json!({"tool_configuration": {"enabled": false, "allowed_tools": ["only_this"]}})
    );
    let stored = sim.stored_record(p.sim(), &created.id).unwrap();
    assert_eq!(
        stored["tool_configuration"],
        json!({"enabled": false, "allowed_tools": ["only_this"]})
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn composio_patch_one_field() {
    patch_one(
        P::Composio,
        Field::Toolkits,
        json!(["github", "linear"]),
        json!({"toolkits": ["github", "linear"]}),
    )
    .await;
}

#[tokio::test]
async fn pais_patch_one_field() {
    patch_one(
        P::Pais,
        Field::Description,
        json!("Changed"),
        json!({"description": "Changed"}),
    )
    .await;
}

#[tokio::test]
async fn zudu_wrapped_patch_one_field() {
    patch_one(
        P::Zudu,
        Field::ApprovalPolicy,
        json!("AutoApproveAll"),
        json!({"approval_policy": "auto_approve_all"}),
    )
    .await;
}

#[tokio::test]
async fn zudu_flat_patch_one_field() {
    patch_one(
        P::ZuduFlat,
        Field::Description,
        json!("Changed"),
        json!({"description": "Changed"}),
    )
    .await;
}

/// PAIS: `null` resets a field (seed 002: "To reset/remove a property ... use the null
/// value"), write-only headers included.
#[tokio::test]
async fn pais_null_resets_a_field() {
    let sim = start_sim().await;
    let p = P::Pais;
    let c = client(&sim, p);
    let created = c
        .create(&p.full_fields("Contract Reset"), &p.write_ctx())
        .await
        .unwrap();
    for field in [
        Field::DisplayName,
        Field::Description,
        Field::DocumentationUrl,
        Field::Headers,
    ] {
        assert!(c.model().field_rule(field).unwrap().null_resets);
    }
    // url and transport are required: the model never resets them, the registry refuses.
    let http = reqwest::Client::new();
    let path = format!("/api/v1/control/mcp-servers/{}", created.id);
    for (field, key) in [(Field::Url, "url"), (Field::Transport, "transport")] {
        assert!(!c.model().field_rule(field).unwrap().null_resets);
        let body = json!({ key: null });
        let status = raw(&http, &sim, p, reqwest::Method::PATCH, &path, &body).await;
        assert_eq!(status, 422, "{key}: null");
    }
    sim.clear_log();
    let reset = Change {
        field: Field::Description,
        value: None,
    };
    let patched = c
        .patch(&created.id, &[reset], &p.write_ctx())
        .await
        .unwrap();
    assert_eq!(last_body(&sim, p, "PATCH"), json!({"description": null}));
    let mut expected = created.fields.clone();
    expected.remove(&Field::Description);
    assert_eq!(patched.fields, expected);
    assert_eq!(c.get(&created.id).await.unwrap().fields, expected);

    let reset = Change {
        field: Field::DisplayName,
        value: None,
    };
    let patched = c
        .patch(&created.id, &[reset], &p.write_ctx())
        .await
        .unwrap();
    assert_eq!(last_body(&sim, p, "PATCH"), json!({"name": null}));
    expected.remove(&Field::DisplayName);
    assert_eq!(patched.fields, expected);
    assert_eq!(patched.name, None);

    let reset = Change {
        field: Field::Headers,
        value: None,
    };
    c.patch(&created.id, &[reset], &p.write_ctx())
        .await
        .unwrap();
    assert_eq!(last_body(&sim, p, "PATCH"), json!({"headers": null}));
    let stored = sim.stored_record(p.sim(), &created.id).unwrap();
    assert_eq!(stored["headers"], json!([]));
    sim.shutdown().await;
}

/// Zudu: "At least one field must be provided for update" (seed 003) is a rejection.
#[tokio::test]
async fn zudu_empty_update_is_rejected() {
    let sim = start_sim().await;
    for p in [P::Zudu, P::ZuduFlat] {
        let c = client(&sim, p);
        let created = c
            .create(&p.minimal_fields("empty update"), &p.write_ctx())
            .await
            .unwrap();
        let err = c.patch(&created.id, &[], &p.write_ctx()).await.unwrap_err();
        assert_eq!(err.class, ErrorClass::Rejected, "{p:?}: {err:?}");
        assert_eq!(err.status, Some(400));
        assert!(
            err.message
                .contains("At least one field must be provided for update"),
            "{p:?}: {}",
            err.message
        );
        assert_eq!(requests(&sim, p, "PATCH").len(), 1, "{p:?}: not retried");
    }
    sim.shutdown().await;
}

/// Zudu names are unique in the organization (seed 003): 409 -> `Conflict`, on create
/// and on rename.
#[tokio::test]
async fn zudu_duplicate_name_is_conflict() {
    let sim = start_sim().await;
    for p in [P::Zudu, P::ZuduFlat] {
        let c = client(&sim, p);
        assert!(c.model().names_unique());
        c.create(&p.minimal_fields("taken"), &p.write_ctx())
            .await
            .unwrap();
        let err = c
            .create(&p.minimal_fields("taken"), &p.write_ctx())
            .await
            .unwrap_err();
        assert_eq!(err.class, ErrorClass::Conflict, "{p:?}: {err:?}");
        assert!(err.message.contains("already exists"), "{}", err.message);
        let other = c
            .create(&p.minimal_fields("other"), &p.write_ctx())
            .await
            .unwrap();
        let rename = Change {
            field: Field::DisplayName,
            value: Some(json!("taken")),
        };
        let err = c
            .patch(&other.id, &[rename], &p.write_ctx())
            .await
            .unwrap_err();
        assert_eq!(err.class, ErrorClass::Conflict, "{p:?}: {err:?}");
        assert_eq!(requests(&sim, p, "POST").len(), 3, "{p:?}: no retry");
    }
    sim.shutdown().await;
}

/// Availability per providers.md ("Availability").
#[tokio::test]
async fn aitronos_availability_follows_connection_status() {
    let sim = start_sim().await;
    let p = P::Aitronos;
    let c = client(&sim, p);
    let rec = c
        .create(&p.minimal_fields("avail"), &p.write_ctx())
        .await
        .unwrap();
    assert_eq!(rec.availability, Availability::Pending);
    let cases: [(&str, Option<&str>, Availability, Option<&str>); 6] = [
        ("connected", None, Availability::Available, None),
        (
            "error",
            Some("TLS handshake failed"),
            Availability::Unavailable,
            Some("TLS handshake failed"),
        ),
        (
            "failed",
            Some("connection refused"),
            Availability::Unavailable,
            Some("connection refused"),
        ),
        ("disconnected", None, Availability::Unavailable, None),
        ("pending", None, Availability::Pending, None),
        ("checking", None, Availability::Pending, None),
    ];
    for (status, message, want, want_message) in cases {
        sim.set_availability(p.sim(), &rec.id, status, message)
            .unwrap();
        let got: RemoteRecord = c.get(&rec.id).await.unwrap();
        assert_eq!(got.availability, want, "{status}");
        assert_eq!(
            got.availability_message.as_deref(),
            want_message,
            "{status}"
        );
        let listed = c.list_all(None).await.unwrap();
        assert_eq!(listed[0].availability, want, "{status} in LIST");
        if status == "connected" {
            assert!(got.last_available_at.is_some());
        }
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn pais_availability_follows_the_registry() {
    let sim = start_sim().await;
    let p = P::Pais;
    let c = client(&sim, p);
    let rec = c
        .create(&p.minimal_fields("avail"), &p.write_ctx())
        .await
        .unwrap();
    assert_eq!(rec.availability, Availability::Pending);
    for (status, want) in [
        ("AVAILABLE", Availability::Available),
        ("UNAVAILABLE", Availability::Unavailable),
        ("PENDING", Availability::Pending),
    ] {
        sim.set_availability(p.sim(), &rec.id, status, None)
            .unwrap();
        let got = c.get(&rec.id).await.unwrap();
        assert_eq!(got.availability, want, "{status}");
        let listed = c.list_all(None).await.unwrap();
        assert_eq!(listed[0].availability, want, "{status} in LIST");
        if status == "AVAILABLE" {
            assert!(got.last_available_at.is_some());
        }
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn composio_and_zudu_report_no_availability() {
    let sim = start_sim().await;
    for p in [P::Composio, P::Zudu, P::ZuduFlat] {
        let c = client(&sim, p);
        let rec = c
            .create(&p.minimal_fields("no avail"), &p.write_ctx())
            .await
            .unwrap();
        assert_eq!(rec.availability, Availability::Unknown, "{p:?}");
        assert_eq!(
            c.get(&rec.id).await.unwrap().availability,
            Availability::Unknown
        );
    }
    sim.shutdown().await;
}

/// Wrong credentials: `Unauthorized`, and the message never holds the credential.
#[tokio::test]
async fn wrong_credentials_are_unauthorized() {
    let sim = start_sim().await;
    for p in P::ALL {
        let c = client_with(p, config(&sim, p), Some(WRONG_SECRET));
        let err = c.get("some-id").await.unwrap_err();
        assert_eq!(err.class, ErrorClass::Unauthorized, "{p:?}: {err:?}");
        assert_eq!(err.status, Some(401), "{p:?}");
        assert!(
            !err.message.contains(WRONG_SECRET),
            "{p:?}: {}",
            err.message
        );
        // The vendor's own message, read from its error envelope.
        let vendor = p.unauthorized_message();
        assert!(err.message.contains(vendor), "{p:?}: {}", err.message);
        let err = c.list_all(None).await.unwrap_err();
        assert_eq!(err.class, ErrorClass::Unauthorized, "{p:?}");
        let err = c
            .create(&p.minimal_fields("unauth"), &p.write_ctx())
            .await
            .unwrap_err();
        assert_eq!(err.class, ErrorClass::Unauthorized, "{p:?}");
        assert!(
            !err.message.contains(WRONG_SECRET),
            "{p:?}: {}",
            err.message
        );
        assert!(
            sim.stored_record(p.sim(), "some-id").is_none(),
            "{p:?}: nothing stored"
        );
    }
    sim.shutdown().await;
}

/// GET of an id the registry never had: `NotFound`.
#[tokio::test]
async fn unknown_id_is_not_found() {
    let sim = start_sim().await;
    for p in P::ALL {
        let c = client(&sim, p);
        let id = p.unknown_id();
        let err = c.get(id).await.unwrap_err();
        assert_eq!(err.class, ErrorClass::NotFound, "{p:?}: {err:?}");
        assert_eq!(err.status, Some(404), "{p:?}");
        let err = c.delete(id).await.unwrap_err();
        assert_eq!(err.class, ErrorClass::NotFound, "{p:?}: {err:?}");
    }
    sim.shutdown().await;
}

/// Delete, then GET: `NotFound`, whether the registry deletes softly (Aitronos,
/// Composio) or for good (PAIS, Zudu); the record is gone from listings too.
#[tokio::test]
async fn delete_then_get_is_not_found() {
    let sim = start_sim().await;
    for p in P::ALL {
        let c = client(&sim, p);
        let keep = c
            .create(&p.minimal_fields("keep me"), &p.write_ctx())
            .await
            .unwrap();
        let gone = c
            .create(&p.minimal_fields("delete me"), &p.write_ctx())
            .await
            .unwrap();
        c.delete(&gone.id).await.unwrap();
        let err = c.get(&gone.id).await.unwrap_err();
        assert_eq!(err.class, ErrorClass::NotFound, "{p:?}: {err:?}");
        let listed = c.list_all(None).await.unwrap();
        assert_eq!(
            listed.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
            vec![keep.id.as_str()],
            "{p:?}"
        );
        let err = c.delete(&gone.id).await.unwrap_err();
        assert_eq!(err.class, ErrorClass::NotFound, "{p:?}: second delete");
        let stored = sim.stored_record(p.sim(), &gone.id);
        if p.deletes_softly() {
            // Soft deletes: the record is kept, marked deleted.
            assert_eq!(stored.unwrap()["deleted"], json!(true), "{p:?}")
        } else {
            assert!(stored.is_none(), "{p:?}")
        }
    }
    sim.shutdown().await;
}

/// A 429 with `Retry-After` from the simulator's fault API is waited out.
#[tokio::test]
async fn rate_limited_call_is_retried_after_retry_after() {
    let sim = start_sim().await;
    let mut ids = Vec::new();
    for p in P::ALL {
        let c = client(&sim, p);
        let rec = c
            .create(&p.minimal_fields("limited"), &p.write_ctx())
            .await
            .unwrap();
        ids.push((p, c, rec.id));
    }
    for (p, _, _) in &ids {
        sim.faults().push_next(NextFault {
            provider: Some(p.sim()),
            status: 429,
            retry_after: Some(1),
            count: 1,
            drop: false,
            after: false,
        });
    }
    // All five wait out their second at once.
    let start = Instant::now();
    let results = futures::future::join_all(ids.iter().map(|(_, c, id)| c.get(id))).await;
    let elapsed = start.elapsed();
    for ((p, c, id), result) in ids.iter().zip(results) {
        assert_eq!(result.unwrap().id, *id, "{p:?}");
        assert_eq!(c.stats().retries, 1, "{p:?}");
        let gets = requests(&sim, *p, "GET");
        let statuses: Vec<u16> = gets.iter().map(|r| r.status).collect();
        assert_eq!(statuses, vec![429, 200], "{p:?}");
    }
    assert!(elapsed >= Duration::from_millis(950), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
    sim.shutdown().await;
}

/// A burst of 500s longer than the attempts allowed: `Unreachable`, after exactly
/// `max_attempts` tries.
#[tokio::test]
async fn server_error_burst_is_unreachable() {
    let sim = start_sim().await;
    for p in P::ALL {
        let mut cfg = config(&sim, p);
        cfg.max_attempts = 3;
        let c = client_with(p, cfg, None);
        let rec = c
            .create(&p.minimal_fields("flaky"), &p.write_ctx())
            .await
            .unwrap();
        sim.faults().push_next(NextFault {
            provider: Some(p.sim()),
            status: 500,
            retry_after: None,
            count: 10,
            drop: false,
            after: false,
        });
        let err = c.get(&rec.id).await.unwrap_err();
        assert_eq!(err.class, ErrorClass::Unreachable, "{p:?}: {err:?}");
        assert_eq!(err.status, Some(500), "{p:?}");
        assert_eq!(requests(&sim, p, "GET").len(), 3, "{p:?}");
        sim.faults().clear();
        assert_eq!(c.get(&rec.id).await.unwrap().id, rec.id);

        // A POST answered 500 may have been processed: never sent again.
        sim.faults().push_next(NextFault {
            provider: Some(p.sim()),
            status: 500,
            retry_after: None,
            count: 10,
            drop: false,
            after: false,
        });
        let err = c
            .create(&p.minimal_fields("flaky two"), &p.write_ctx())
            .await
            .unwrap_err();
        assert_eq!(err.class, ErrorClass::Unreachable, "{p:?}: {err:?}");
        let posts: Vec<u16> = requests(&sim, p, "POST").iter().map(|r| r.status).collect();
        assert_eq!(posts, vec![201, 500], "{p:?}");
        sim.faults().clear();

        // A POST answered 429 was not processed: sent again, one record made.
        sim.faults().push_next(NextFault {
            provider: Some(p.sim()),
            status: 429,
            retry_after: Some(0),
            count: 1,
            drop: false,
            after: false,
        });
        let made = c
            .create(&p.minimal_fields("limited post"), &p.write_ctx())
            .await
            .unwrap();
        let posts: Vec<u16> = requests(&sim, p, "POST").iter().map(|r| r.status).collect();
        assert_eq!(posts, vec![201, 500, 429, 201], "{p:?}");
        let named = c.list_all(Some("limited post")).await.unwrap();
        assert_eq!(named.len(), 1, "{p:?}");
        assert_eq!(named[0].id, made.id);
    }
    sim.shutdown().await;
}

/// Composio names: the simulator assumes them unique among live servers (409); the
/// client classifies that as `Conflict` and does not retry.
#[tokio::test]
async fn composio_duplicate_name_is_conflict() {
    let sim = start_sim().await;
    let p = P::Composio;
    let c = client(&sim, p);
    c.create(&p.minimal_fields("Taken Name"), &p.write_ctx())
        .await
        .unwrap();
    let err = c
        .create(&p.minimal_fields("Taken Name"), &p.write_ctx())
        .await
        .unwrap_err();
    assert_eq!(err.class, ErrorClass::Conflict, "{err:?}");
    assert!(
        err.message
            .contains("MCP server with name 'Taken Name' already exists"),
        "{}",
        err.message
    );
    assert_eq!(requests(&sim, p, "POST").len(), 2);
    sim.shutdown().await;
}

/// One documented constraint probed on both sides: the model's `check` and the
/// simulator fed the same value raw.
struct Probe {
    p: P,
    field: Field,
    value: Value,
    /// The request body carrying `value`, in the vendor's terms.
    body: Value,
}

fn long(n: usize) -> String {
    "a".repeat(n)
}

fn long_url(n: usize) -> String {
    let head = "https://x.example.com/";
    format!("{head}{}", "p".repeat(n - head.len()))
}

/// A raw create body for `p` with one remote field set to `remote`.
fn raw_create(p: P, key: &str, remote: Value, unique: usize) -> Value {
    let mut fields = p.raw_create_fields(&format!("probe {unique}"), AITRONOS_ORG);
    fields[key] = remote;
    p.wrap(fields)
}

fn probes() -> Vec<(Probe, bool)> {
    let mut out = Vec::new();
    let mut add = |p: P, field: Field, key: &str, value: Value, remote: Value, ok: bool| {
        let n = out.len();
        out.push((
            Probe {
                p,
                field,
                value,
                body: raw_create(p, key, remote, n),
            },
            ok,
        ));
    };
    // Aitronos: server_url must be HTTPS (seed 000).
    for (url, ok) in [
        ("https://ok.example.com/mcp", true),
        ("http://plain.example.com/mcp", false),
        ("ftp://files.example.com", false),
        ("not a url", false),
    ] {
        add(
            P::Aitronos,
            Field::Url,
            "server_url",
            json!(url),
            json!(url),
            ok,
        );
    }
    // Aitronos: transport_type sse or streamable_http (providers.md).
    for (canonical, remote, ok) in [
        ("Sse", "sse", true),
        ("StreamableHttp", "streamable_http", true),
        ("WebSocket", "WebSocket", false),
    ] {
        add(
            P::Aitronos,
            Field::Transport,
            "transport_type",
            json!(canonical),
            json!(remote),
            ok,
        );
    }
    // Composio: 4-30 characters, letters, digits, spaces, hyphens (seed 001).
    for (name, ok) in [
        ("Abcd".to_string(), true),
        ("Team-7 tools".to_string(), true),
        ("A".repeat(30), true),
        ("Abc".to_string(), false),
        ("A".repeat(31), false),
        ("bad_name".to_string(), false),
        ("dots.not.ok".to_string(), false),
        ("Caf\u{e9} tools".to_string(), false),
    ] {
        add(
            P::Composio,
            Field::DisplayName,
            "name",
            json!(name),
            json!(name),
            ok,
        );
    }
    // PAIS: url minLength 1 (seed 002).
    add(P::Pais, Field::Url, "url", json!(""), json!(""), false);
    add(
        P::Pais,
        Field::Url,
        "url",
        json!("https://ok.example.com"),
        json!("https://ok.example.com"),
        true,
    );
    // PAIS: transport STREAMABLE_HTTP or SSE (seed 002).
    for (canonical, remote, ok) in [
        ("Sse", "SSE", true),
        ("StreamableHttp", "STREAMABLE_HTTP", true),
        ("WebSocket", "WebSocket", false),
    ] {
        add(
            P::Pais,
            Field::Transport,
            "transport",
            json!(canonical),
            json!(remote),
            ok,
        );
    }
    // Zudu: lengths, url scheme, enums; WebSocket and auto_approve_read_only only with
    // the flat body (seeds 003, 004).
    for p in [P::Zudu, P::ZuduFlat] {
        let flat = p == P::ZuduFlat;
        for (n, ok) in [(255, true), (256, false)] {
            add(
                p,
                Field::DisplayName,
                "name",
                json!(long(n)),
                json!(long(n)),
                ok,
            );
            // Lengths count characters, not bytes.
            let wide = "\u{e9}".repeat(n);
            add(p, Field::DisplayName, "name", json!(wide), json!(wide), ok);
        }
        for (n, ok) in [(1000, true), (1001, false)] {
            add(
                p,
                Field::Url,
                "url",
                json!(long_url(n)),
                json!(long_url(n)),
                ok,
            );
        }
        for (url, ok) in [
            ("http://plain.example.com", true),
            ("ftp://files.example.com", false),
            ("example.com/mcp", false),
            ("HTTPS://upper.example.com", false),
        ] {
            add(p, Field::Url, "url", json!(url), json!(url), ok);
        }
        for (n, ok) in [(5000, true), (5001, false)] {
            add(
                p,
                Field::Description,
                "description",
                json!(long(n)),
                json!(long(n)),
                ok,
            );
        }
        for (n, ok) in [(255, true), (256, false)] {
            add(
                p,
                Field::SecretTokenId,
                "secret_token",
                json!(long(n)),
                json!({"secret_id": long(n)}),
                ok,
            );
        }
        for (canonical, remote, ok) in [
            ("Sse", "SSE", true),
            ("StreamableHttp", "STREAMABLE_HTTP", true),
            ("WebSocket", "WebSocket", flat),
            ("Grpc", "GRPC", false),
        ] {
            add(
                p,
                Field::Transport,
                "transport",
                json!(canonical),
                json!(remote),
                ok,
            );
        }
        for (canonical, remote, ok) in [
            ("AutoApproveAll", "auto_approve_all", true),
            ("RequireApprovalAll", "require_approval_all", true),
            ("RequireApprovalPerTool", "require_approval_per_tool", true),
            ("AutoApproveReadOnly", "auto_approve_read_only", flat),
            ("Never", "never", false),
        ] {
            add(
                p,
                Field::ApprovalPolicy,
                "approval_policy",
                json!(canonical),
                json!(remote),
                ok,
            );
        }
    }
    out
}

/// The model accepts exactly what the simulator accepts, for every documented
/// constraint: accepted values also go through the real client, refused ones are sent
/// raw to prove the simulator refuses them too.
#[tokio::test]
async fn model_checks_agree_with_the_simulator() {
    let sim = start_sim().await;
    // One client each, built once: building HTTP clients dominates this test otherwise.
    let http = reqwest::Client::new();
    let clients: BTreeMap<usize, RegistryClient> = P::ALL
        .iter()
        .map(|p| (*p as usize, client(&sim, *p)))
        .collect();
    for (i, (probe, ok)) in probes().into_iter().enumerate() {
        let Probe {
            p,
            field,
            value,
            body,
        } = probe;
        let model = model_for(&spec(p));
        let checked = model.check(field, &value);
        assert_eq!(
            checked.is_ok(),
            ok,
            "{p:?} model check of {field} = {value}: {checked:?}"
        );
        if ok {
            // Through the real client: the simulator takes it and reads it back.
            let mut fields = p.minimal_fields(&p.numbered_name(1000 + i));
            fields.insert(field, value.clone());
            let c = &clients[&(p as usize)];
            let rec = c.create(&fields, &p.write_ctx()).await;
            let rec = rec.unwrap_or_else(|e| panic!("{p:?} {field} = {value}: {e}"));
            if !model.field_rule(field).unwrap().write_only {
                assert_eq!(rec.fields.get(&field), Some(&value), "{p:?} {field}");
            }
        } else {
            let status = raw(
                &http,
                &sim,
                p,
                reqwest::Method::POST,
                p.create_path(),
                &body,
            )
            .await;
            assert!(
                status == 400 || status == 422,
                "{p:?}: sim took {field} = {value} ({status})"
            );
        }
    }
    sim.shutdown().await;
}

/// Constraints the simulator enforces that the model does not pre-check: the client
/// reports them as `Rejected` with the registry's message.
#[tokio::test]
async fn registry_only_constraints_are_rejected_with_the_vendor_message() {
    let sim = start_sim().await;
    let cases: [(P, Field, Value, &str); 4] = [
        // PAIS url is `string As uri` (seed 002); the model only checks minLength 1.
        (
            P::Pais,
            Field::Url,
            json!("not a url"),
            "body.url: Input should be a valid URL",
        ),
        // Zudu and Aitronos refuse blank names.
        (
            P::Zudu,
            Field::DisplayName,
            json!("   "),
            "Validation failed: name must not be empty",
        ),
        (
            P::Aitronos,
            Field::DisplayName,
            json!("   "),
            "Invalid request parameters: Validation failed: name must be a non-empty string",
        ),
        (
            P::ZuduFlat,
            Field::SecretTokenId,
            json!(""),
            "Validation failed: secret_token must be",
        ),
    ];
    for (p, field, value, message) in cases {
        let c = client(&sim, p);
        assert!(c.model().check(field, &value).is_ok(), "{p:?} {field}");
        let mut fields = p.minimal_fields("registry only");
        fields.insert(field, value.clone());
        let err = c.create(&fields, &p.write_ctx()).await.unwrap_err();
        assert_eq!(err.class, ErrorClass::Rejected, "{p:?}: {err:?}");
        assert!(
            err.status == Some(400) || err.status == Some(422),
            "{err:?}"
        );
        assert!(err.message.contains(message), "{p:?}: {}", err.message);
        assert_eq!(requests(&sim, p, "POST").len(), 1, "{p:?}: not retried");
        sim.clear_log();
    }
    sim.shutdown().await;
}

/// Names travel verbatim: what was sent is what is read back, spaces and characters
/// that need escaping in a query included, or the engine would see drift forever.
#[tokio::test]
async fn names_round_trip_verbatim() {
    let sim = start_sim().await;
    let odd = "R&D = tools #1 / \u{fc}?x+y";
    for (p, name) in P::ALL
        .iter()
        .map(|p| (*p, " Padded Name "))
        .chain([P::Aitronos, P::Pais, P::Zudu, P::ZuduFlat].map(|p| (p, odd)))
    {
        let c = client(&sim, p);
        let rec = c
            .create(&p.minimal_fields(name), &p.write_ctx())
            .await
            .unwrap();
        assert_eq!(rec.name.as_deref(), Some(name), "{p:?}");
        assert_eq!(c.get(&rec.id).await.unwrap().name.as_deref(), Some(name));
        let named = c.list_all(Some(name)).await.unwrap();
        assert_eq!(named.len(), 1, "{p:?}: by name");
        assert_eq!(named[0].id, rec.id);
    }
    sim.shutdown().await;
}

/// A `Retry-After` longer than the client waits inside a call comes back to the caller
/// as `RateLimited` with the delay, after one request; a 503 without one is retried.
#[tokio::test]
async fn long_retry_after_is_returned_and_503_is_retried() {
    let sim = start_sim().await;
    for p in P::ALL {
        let c = client(&sim, p);
        let rec = c
            .create(&p.minimal_fields("slow down"), &p.write_ctx())
            .await
            .unwrap();
        sim.clear_log();
        sim.faults().push_next(NextFault {
            provider: Some(p.sim()),
            status: 429,
            retry_after: Some(120),
            count: 1,
            drop: false,
            after: false,
        });
        let err = c.get(&rec.id).await.unwrap_err();
        assert_eq!(err.class, ErrorClass::RateLimited, "{p:?}: {err:?}");
        assert_eq!(err.retry_after, Some(Duration::from_secs(120)), "{p:?}");
        assert_eq!(requests(&sim, p, "GET").len(), 1, "{p:?}");

        let mut cfg = config(&sim, p);
        cfg.max_retry_wait = Duration::ZERO;
        let c = client_with(p, cfg, None);
        sim.faults().push_next(NextFault {
            provider: Some(p.sim()),
            status: 503,
            retry_after: Some(0),
            count: 2,
            drop: false,
            after: false,
        });
        assert_eq!(c.get(&rec.id).await.unwrap().id, rec.id, "{p:?}");
        let statuses: Vec<u16> = requests(&sim, p, "GET").iter().map(|r| r.status).collect();
        assert_eq!(statuses, vec![429, 503, 503, 200], "{p:?}");
    }
    sim.shutdown().await;
}

/// A dropped connection: a GET is sent again; a POST is not, so that a create the
/// registry may have processed can never be made twice.
#[tokio::test]
async fn dropped_connections_retry_reads_but_never_creates() {
    let sim = start_sim().await;
    for p in P::ALL {
        let c = client(&sim, p);
        let rec = c
            .create(&p.minimal_fields("dropped"), &p.write_ctx())
            .await
            .unwrap();
        sim.faults().push_next(NextFault {
            provider: Some(p.sim()),
            status: 0,
            retry_after: None,
            count: 1,
            drop: true,
            after: false,
        });
        assert_eq!(c.get(&rec.id).await.unwrap().id, rec.id, "{p:?}");
        let statuses: Vec<u16> = requests(&sim, p, "GET").iter().map(|r| r.status).collect();
        assert_eq!(statuses, vec![0, 200], "{p:?}");

        sim.faults().push_next(NextFault {
            provider: Some(p.sim()),
            status: 0,
            retry_after: None,
            count: 1,
            drop: true,
            after: false,
        });
        let err = c
            .create(&p.minimal_fields("dropped twice"), &p.write_ctx())
            .await
            .unwrap_err();
        assert_eq!(err.class, ErrorClass::Unreachable, "{p:?}: {err:?}");
        let posts: Vec<u16> = requests(&sim, p, "POST").iter().map(|r| r.status).collect();
        assert_eq!(posts, vec![201, 0], "{p:?}: the create was not re-sent");
    }
    sim.shutdown().await;
}

/// Aitronos: only the owner may update (seed 000); 403 is `Unauthorized`.
#[tokio::test]
async fn aitronos_not_the_owner_is_unauthorized() {
    let sim = start_sim().await;
    let p = P::Aitronos;
    let rec = client(&sim, p)
        .create(&p.minimal_fields("owned"), &p.write_ctx())
        .await
        .unwrap();
    let other = client_with(p, config(&sim, p), Some(AITRONOS_OTHER_KEY));
    let change = Change {
        field: Field::Enabled,
        value: Some(json!(false)),
    };
    let err = other
        .patch(&rec.id, &[change], &WriteContext::default())
        .await
        .unwrap_err();
    assert_eq!(err.class, ErrorClass::Unauthorized, "{err:?}");
    assert_eq!(err.status, Some(403));
    assert!(!err.message.contains(AITRONOS_OTHER_KEY), "{}", err.message);
    let err = other.delete(&rec.id).await.unwrap_err();
    assert_eq!(err.class, ErrorClass::Unauthorized, "{err:?}");
    sim.shutdown().await;
}

/// PAIS: DELETE answers 409 without a body while the server's tools are linked to an
/// agent (providers.md): `Conflict`.
#[tokio::test]
async fn pais_delete_while_linked_is_conflict() {
    let sim = start_sim().await;
    let p = P::Pais;
    let c = client(&sim, p);
    let rec = c
        .create(&p.minimal_fields("linked"), &p.write_ctx())
        .await
        .unwrap();
    let admin = format!("http://{}/_sim/records/pais/{}/linked", sim.addr(), rec.id);
    let answer = reqwest::Client::new()
        .put(admin)
        .json(&json!({"linked": true}))
        .send()
        .await
        .unwrap();
    assert!(answer.status().is_success(), "{}", answer.status());
    let err = c.delete(&rec.id).await.unwrap_err();
    assert_eq!(err.class, ErrorClass::Conflict, "{err:?}");
    assert_eq!(err.status, Some(409));
    assert_eq!(c.get(&rec.id).await.unwrap().id, rec.id);
    sim.shutdown().await;
}

/// A write-only field changed alone: the PATCH holds that field only, the registry
/// stores it, and the readable fields are untouched.
#[tokio::test]
async fn write_only_fields_patch_alone_and_are_stored() {
    let sim = start_sim().await;
    let cases = [
        (
            P::Aitronos,
            Field::Credentials,
            json!({"api_key": "rotated-1"}),
            json!({"credentials": {"api_key": "***"}}),
            "credentials",
            json!({"api_key": "rotated-1"}),
        ),
        (
            P::Pais,
            Field::Headers,
            json!({"X-Token": "rotated-2"}),
            json!({"headers": [{"name": "X-Token", "value": "***", "is_secret": true}]}),
            "headers",
            json!([{"name": "X-Token", "value": "rotated-2", "is_secret": true}]),
        ),
        (
            P::Zudu,
            Field::SecretTokenId,
            json!("sec_rotated"),
            json!({"config": {"secret_token": {"secret_id": "***"}}}),
            "secret_token",
            json!({"secret_id": "sec_rotated"}),
        ),
        (
            P::ZuduFlat,
            Field::SecretTokenId,
            json!("sec_rotated"),
            json!({"secret_token": {"secret_id": "***"}}),
            "secret_token",
            json!({"secret_id": "sec_rotated"}),
        ),
    ];
    for (p, field, value, logged, key, stored) in cases {
        let c = client(&sim, p);
        let created = c
            .create(&p.full_fields("Write Only"), &p.write_ctx())
            .await
            .unwrap();
        let change = Change {
            field,
            value: Some(value),
        };
        let patched = c
            .patch(&created.id, &[change], &p.write_ctx())
            .await
            .unwrap();
        assert_eq!(patched.fields, created.fields, "{p:?}");
        assert_eq!(last_body(&sim, p, "PATCH"), logged, "{p:?}");
        let record = sim.stored_record(p.sim(), &created.id).unwrap();
        assert_eq!(record[key], stored, "{p:?}");
    }
    sim.shutdown().await;
}

/// The simulator's own rate limit: its `Retry-After` is waited out by every caller of
/// the client, and every call ends well.
#[tokio::test]
async fn registry_rate_limit_is_waited_out_by_all_callers() {
    let sim = start_sim().await;
    let p = P::Pais;
    let c = client(&sim, p);
    let rec = c
        .create(&p.minimal_fields("bucket"), &p.write_ctx())
        .await
        .unwrap();
    sim.faults().set_rate_limit(mcpsync::sim::RateLimit {
        provider: p.sim(),
        per_minute: 120,
        burst: Some(2),
    });
    sim.clear_log();
    let start = Instant::now();
    let calls = (0..5).map(|_| c.get(&rec.id));
    for result in futures::future::join_all(calls).await {
        assert_eq!(result.unwrap().id, rec.id);
    }
    let statuses: Vec<u16> = requests(&sim, p, "GET").iter().map(|r| r.status).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        5,
        "{statuses:?}"
    );
    assert!(statuses.contains(&429), "{statuses:?}");
    assert!(start.elapsed() >= Duration::from_millis(950));
    sim.shutdown().await;
}

/// Composio takes the key in `x-user-api-key` as well (seed 001, UserApiKeyAuth).
#[tokio::test]
async fn composio_user_api_key_header() {
    let sim = start_sim().await;
    let mut spec = spec(P::Composio);
    if let ProviderSpec::Composio(c) = &mut spec {
        c.key_header = Some(mcpsync::api::ComposioKeyHeader::XUserApiKey);
    }
    for (secret, ok) in [("comp-key-good", true), (WRONG_SECRET, false)] {
        let model = model_for(&spec);
        let headers = model.auth_headers();
        assert_eq!(headers.len(), 1);
        assert_eq!(headers[0].header, "x-user-api-key");
        let auth = headers
            .into_iter()
            .map(|h| (h, SecretValue::new(secret)))
            .collect();
        let c = RegistryClient::new(model, config(&sim, P::Composio), auth).unwrap();
        let result = c.list_all(None).await;
        if ok {
            assert!(result.unwrap().is_empty());
        } else {
            assert_eq!(result.unwrap_err().class, ErrorClass::Unauthorized);
        }
    }
    sim.shutdown().await;
}

/// Aitronos create does not list `is_active` (providers.md): the client leaves it out of
/// the POST (the registry would answer 422), the record starts enabled, and one PATCH of
/// that field alone sets it, as the follow-up patch after create does.
#[tokio::test]
async fn aitronos_enabled_false_needs_a_patch_after_create() {
    let sim = start_sim().await;
    let p = P::Aitronos;
    let c = client(&sim, p);
    let mut sent = p.minimal_fields("disabled");
    sent.insert(Field::Enabled, json!(false));
    let created = c.create(&sent, &p.write_ctx()).await.unwrap();
    let post = last_body(&sim, p, "POST");
    let keys: BTreeSet<&str> = post
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        BTreeSet::from([
            "name",
            "server_url",
            "transport_type",
            "auth_type",
            "organization_id"
        ])
    );
    assert_eq!(created.fields.get(&Field::Enabled), Some(&json!(true)));
    let change = Change {
        field: Field::Enabled,
        value: Some(json!(false)),
    };
    let patched = c
        .patch(&created.id, &[change], &p.write_ctx())
        .await
        .unwrap();
    assert_eq!(last_body(&sim, p, "PATCH"), json!({"is_active": false}));
    assert_eq!(patched.fields.get(&Field::Enabled), Some(&json!(false)));
    sim.shutdown().await;
}

/// A registry slower than the client's timeout: `Unreachable`, reads retried.
#[tokio::test]
async fn slow_registry_times_out_as_unreachable() {
    let sim = start_sim().await;
    let p = P::Zudu;
    let c = client(&sim, p);
    let rec = c
        .create(&p.minimal_fields("slow"), &p.write_ctx())
        .await
        .unwrap();
    sim.faults()
        .set_latency(Some(p.sim()), Duration::from_millis(600));
    let mut cfg = config(&sim, p);
    cfg.timeout = Duration::from_millis(150);
    cfg.max_attempts = 2;
    let slow = client_with(p, cfg, None);
    let start = Instant::now();
    let err = slow.get(&rec.id).await.unwrap_err();
    assert_eq!(err.class, ErrorClass::Unreachable, "{err:?}");
    assert_eq!(err.status, None);
    assert!(err.message.contains("no answer within"), "{}", err.message);
    assert_eq!(slow.stats().requests, 2);
    assert!(start.elapsed() < Duration::from_secs(3));
    sim.faults().set_latency(Some(p.sim()), Duration::ZERO);
    assert_eq!(slow.get(&rec.id).await.unwrap().id, rec.id);
    sim.shutdown().await;
}

/// Under a registry limit below the client's configured rate, a client that lowers its
/// own rate after a 429 (the default) runs into the limit far less often than one that
/// only waits out each `Retry-After` and bursts again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_under_a_registry_limit_lowers_its_own_rate() {
    let sim = start_sim().await;
    let p = P::Pais;
    let rec = client(&sim, p)
        .create(&p.minimal_fields("paced"), &p.write_ctx())
        .await
        .unwrap();
    sim.faults().set_rate_limit(mcpsync::sim::RateLimit {
        provider: p.sim(),
        per_minute: 600,
        burst: Some(2),
    });
    let mut throttled = Vec::new();
    for adaptive in [false, true] {
        // Let the simulator's bucket fill up again between the two runs.
        tokio::time::sleep(Duration::from_secs(1)).await;
        let mut cfg = config(&sim, p);
        cfg.requests_per_second = 100.0;
        cfg.burst = 10;
        cfg.max_attempts = 50;
        cfg.adaptive_rate = adaptive;
        let c = client_with(p, cfg, None);
        sim.clear_log();
        let calls = (0..20).map(|_| c.get(&rec.id));
        for result in futures::future::join_all(calls).await {
            assert_eq!(result.unwrap().id, rec.id);
        }
        let statuses: Vec<u16> = requests(&sim, p, "GET").iter().map(|r| r.status).collect();
        assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 20);
        throttled.push(statuses.iter().filter(|s| **s == 429).count());
        if adaptive {
            assert!(c.current_rate() < 100.0, "{}", c.current_rate());
        }
    }
    let (bursting, adaptive) = (throttled[0], throttled[1]);
    eprintln!("429 answers for 20 calls: {bursting} without adaptation, {adaptive} with");
    assert!(
        adaptive * 2 <= bursting,
        "429s: {adaptive} adaptive vs {bursting} bursting"
    );
    sim.shutdown().await;
}
