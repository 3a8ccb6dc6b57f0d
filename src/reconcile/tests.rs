//! The pipeline against an in-memory registry (no HTTP): create intents, their clearing,
//! plan mode, and the ownership guard; the delete step and registry look-up in their
//! own files.

mod delete;
mod lookup;

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde_json::{Value, json};

use super::*;
use crate::api::{ComposioProvider, McpServer, PendingCreate, SecretKeyRef};
use crate::provider::ProviderModel;
use crate::provider::composio::Composio;
use crate::provider::http::Listing;
use crate::reconcile::refs::SecretError;
use crate::secret::SecretValue;
use crate::vocab::{Change, ErrorClass, Field, RegistryId, RemoteRecord, WriteContext};

/// A registry in memory: records, an optional answer to the next create, the calls made.
struct Fake {
    model: Composio,
    records: Mutex<Vec<RemoteRecord>>,
    create_fails: Option<ErrorClass>,
    /// The answer to every DELETE (`None`: deleted); every listing fails with `list_fails`.
    delete_fails: Option<RemoteError>,
    list_fails: Option<RemoteError>,
    calls: Mutex<Vec<String>>,
}

impl Fake {
    fn new(records: Vec<RemoteRecord>, create_fails: Option<ErrorClass>) -> Fake {
        Fake {
            model: Composio::new(&ComposioProvider {
                api_key_secret_ref: SecretKeyRef {
                    name: "k".into(),
                    key: "k".into(),
                    namespace: None,
                },
                key_header: None,
            }),
            records: Mutex::new(records),
            create_fails,
            delete_fails: None,
            list_fails: None,
            calls: Mutex::new(Vec::new()),
        }
    }

    fn log(&self, call: &str) {
        self.calls.lock().unwrap().push(call.to_string());
    }

    fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }

    fn named(&self, name: Option<&str>) -> Vec<RemoteRecord> {
        let records = self.records.lock().unwrap();
        records
            .iter()
            .filter(|r| name.is_none() || r.name.as_deref() == name)
            .cloned()
            .collect()
    }
}

fn error(class: ErrorClass) -> RemoteError {
    RemoteError {
        class,
        status: None,
        message: format!("{class:?}"),
        retry_after: None,
    }
}

impl RegistryApi for Fake {
    fn model(&self) -> &dyn ProviderModel {
        &self.model
    }
    async fn get(&self, id: &str) -> Result<RemoteRecord, RemoteError> {
        self.log("GET");
        let records = self.records.lock().unwrap();
        records
            .iter()
            .find(|r| r.id == id)
            .cloned()
            .ok_or(error(ErrorClass::NotFound))
    }
    async fn list_all(&self, name: Option<&str>) -> Result<Vec<RemoteRecord>, RemoteError> {
        self.log("LIST");
        match &self.list_fails {
            Some(e) => Err(e.clone()),
            None => Ok(self.named(name)),
        }
    }
    async fn list_within(&self, name: Option<&str>, _: usize) -> Result<Listing, RemoteError> {
        self.log("LIST");
        Ok(Listing::Complete(self.named(name)))
    }
    async fn create(
        &self,
        fields: &BTreeMap<Field, Value>,
        _: &WriteContext,
    ) -> Result<RemoteRecord, RemoteError> {
        self.log("POST");
        if let Some(class) = self.create_fails {
            return Err(error(class));
        }
        let record = RemoteRecord {
            id: "new-1".into(),
            name: fields
                .get(&Field::DisplayName)
                .and_then(Value::as_str)
                .map(str::to_string),
            fields: fields.clone(),
            ..RemoteRecord::default()
        };
        self.records.lock().unwrap().push(record.clone());
        Ok(record)
    }
    async fn patch(
        &self,
        _: &str,
        _: &[Change],
        _: &WriteContext,
    ) -> Result<RemoteRecord, RemoteError> {
        self.log("PATCH");
        Err(error(ErrorClass::Rejected))
    }
    async fn delete(&self, id: &str) -> Result<(), RemoteError> {
        self.log(&format!("DELETE {id}"));
        match &self.delete_fails {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }
}

struct NoSecrets;

impl SecretSource for NoSecrets {
    async fn key(&self, ns: &str, name: &str, _: &str) -> Result<SecretValue, SecretError> {
        Err(SecretError::NotFound {
            namespace: ns.into(),
            name: name.into(),
            key: None,
        })
    }
    async fn all(
        &self,
        ns: &str,
        name: &str,
    ) -> Result<BTreeMap<String, SecretValue>, SecretError> {
        Err(SecretError::NotFound {
            namespace: ns.into(),
            name: name.into(),
            key: None,
        })
    }
}

/// Every record belongs to `owner` when set.
struct Owners(Option<ObjectKey>);

impl OwnershipIndex for Owners {
    fn owner(&self, _: &RegistryId, _: &str, except: &ObjectKey) -> Option<ObjectKey> {
        self.0.clone().filter(|o| o != except)
    }
}

/// Records intents, or refuses them.
struct Intents {
    fail: bool,
    recorded: Vec<(ObjectKey, McpServerStatus)>,
}

/// The one failure [`Intents`] knows.
#[derive(Debug, thiserror::Error)]
#[error("status write refused")]
struct Refused;

impl IntentSink for Intents {
    type Error = Refused;

    async fn record(&mut self, intents: &[(ObjectKey, McpServerStatus)]) -> Result<(), Refused> {
        if self.fail {
            return Err(Refused);
        }
        self.recorded.extend(intents.iter().cloned());
        Ok(())
    }
}

fn server() -> McpServer {
    serde_json::from_value(json!({
        "apiVersion": "mcpsync.dev/v1alpha1",
        "kind": "McpServer",
        "metadata": {"name": "github", "namespace": "team-a", "generation": 1},
        "spec": {"registryRef": {"name": "composio"}, "displayName": "GitHub Tools", "toolkits": ["github"]},
    }))
    .unwrap()
}

fn view() -> RegistryView {
    serde_json::from_value::<crate::api::McpRegistry>(json!({
        "apiVersion": "mcpsync.dev/v1alpha1",
        "kind": "McpRegistry",
        "metadata": {"name": "composio", "namespace": "team-a"},
        "spec": {"provider": {"composio": {"apiKeySecretRef": {"name": "k", "key": "k"}}}},
    }))
    .map(|r| {
        RegistryView::new(
            RegistryId::Namespaced(ObjectKey::new("team-a", "composio")),
            r.spec.connection,
        )
    })
    .unwrap()
}

async fn reconcile(
    fake: &Fake,
    intents: &mut Intents,
    owners: &Owners,
    prev: McpServerStatus,
    mode: Mode,
) -> ServerResult {
    let server = server();
    let view = view();
    let batch = Batch {
        registry: &view,
        secrets: &NoSecrets,
        owners,
        intents,
        mode,
        now: Timestamp::UNIX_EPOCH,
    };
    let input = ServerInput {
        key: ObjectKey::new("team-a", "github"),
        server: &server,
        prev,
    };
    run_one(batch, fake, input).await.unwrap()
}

#[tokio::test]
async fn no_create_is_sent_when_its_intent_cannot_be_recorded() {
    let fake = Fake::new(Vec::new(), None);
    let mut intents = Intents {
        fail: true,
        recorded: Vec::new(),
    };
    let r = reconcile(
        &fake,
        &mut intents,
        &Owners(None),
        Default::default(),
        Mode::Apply,
    )
    .await;
    assert_eq!(r.action, ActionKind::Failed);
    assert!(
        r.message
            .unwrap_or_default()
            .contains("the create was not sent"),
        "names why"
    );
    assert_eq!(fake.calls(), Vec::<String>::new(), "no POST");
}

#[tokio::test]
async fn the_intent_is_recorded_before_the_create_and_cleared_by_the_record() {
    let fake = Fake::new(Vec::new(), None);
    let mut intents = Intents {
        fail: false,
        recorded: Vec::new(),
    };
    let r = reconcile(
        &fake,
        &mut intents,
        &Owners(None),
        Default::default(),
        Mode::Apply,
    )
    .await;
    assert_eq!(r.action, ActionKind::Create, "{r:#?}");
    assert_eq!(fake.calls(), vec!["POST"]);
    let recorded = &intents.recorded;
    assert_eq!(recorded.len(), 1);
    assert_eq!(
        recorded[0]
            .1
            .pending_create
            .as_ref()
            .map(|p| p.name.as_str()),
        Some("GitHub Tools")
    );
    assert_eq!(r.status.pending_create, None);
    assert_eq!(r.status.external_id.as_deref(), Some("new-1"));
}

#[tokio::test]
async fn plan_records_no_intent_and_writes_nothing() {
    let fake = Fake::new(Vec::new(), None);
    let mut intents = Intents {
        fail: false,
        recorded: Vec::new(),
    };
    let r = reconcile(
        &fake,
        &mut intents,
        &Owners(None),
        Default::default(),
        Mode::Plan,
    )
    .await;
    assert_eq!(r.action, ActionKind::Create);
    assert!(intents.recorded.is_empty());
    assert_eq!(fake.calls(), Vec::<String>::new());
}

#[tokio::test]
async fn a_definitive_refusal_clears_the_intent_a_lost_answer_keeps_it() {
    for (class, kept) in [
        (ErrorClass::Conflict, false),
        (ErrorClass::Rejected, false),
        (ErrorClass::Unauthorized, false),
        (ErrorClass::RateLimited, true),
        (ErrorClass::Unreachable, true),
    ] {
        let fake = Fake::new(Vec::new(), Some(class));
        let mut intents = Intents {
            fail: false,
            recorded: Vec::new(),
        };
        let r = reconcile(
            &fake,
            &mut intents,
            &Owners(None),
            Default::default(),
            Mode::Apply,
        )
        .await;
        assert_eq!(r.action, ActionKind::Failed, "{class:?}");
        assert_eq!(r.status.pending_create.is_some(), kept, "{class:?}");
    }
}

#[tokio::test]
async fn a_record_found_by_name_that_another_server_manages_is_not_adopted() {
    let record = RemoteRecord {
        id: "rec-9".into(),
        name: Some("GitHub Tools".into()),
        ..RemoteRecord::default()
    };
    let prev = McpServerStatus {
        pending_create: Some(PendingCreate {
            name: "GitHub Tools".into(),
            time: k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(Timestamp::UNIX_EPOCH),
        }),
        ..McpServerStatus::default()
    };
    let fake = Fake::new(vec![record], None);
    let mut intents = Intents {
        fail: false,
        recorded: Vec::new(),
    };
    let other = Owners(Some(ObjectKey::new("team-a", "other")));
    let r = reconcile(&fake, &mut intents, &other, prev.clone(), Mode::Apply).await;
    assert_eq!(r.action, ActionKind::Refused, "{r:#?}");
    assert!(
        r.message
            .unwrap_or_default()
            .contains("already managed by team-a/other")
    );
    // Nobody else claims it: our pending create is adopted.
    let r = reconcile(&fake, &mut intents, &Owners(None), prev, Mode::Apply).await;
    assert_eq!(r.status.external_id.as_deref(), Some("rec-9"), "{r:#?}");
    assert!(!fake.calls().contains(&"POST".to_string()));
}
