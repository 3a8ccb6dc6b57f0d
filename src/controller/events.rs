//! Events (events.k8s.io/v1) about McpServers and registries, with a typed vocabulary.
//!
//! kube-runtime's `Recorder` folds every event with the same reason and action about an
//! object into one series and keeps the first note (its cache key leaves the note out):
//! a second PATCH showed only as the first one's "patched fields: headers", count 2. This
//! recorder folds only identical events (same type, reason, action and note), so each
//! change is an Event naming its own fields, while a failure that repeats word for word
//! is still one series, not a storm of objects.

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::events::v1::{Event as K8sEvent, EventSeries};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client};
use parking_lot::Mutex;
use serde_json::json;

pub use kube::runtime::events::Reporter;

/// Why an event was published (its `reason`, shown by `kubectl describe`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventReason {
    /// A record was created in the registry.
    Created,
    /// Fields of a record were patched.
    Patched,
    /// A record was deleted from the registry.
    Deleted,
    /// A server is stalled: its spec, registry or references are refused.
    Refused,
    /// The registry refused the credentials (401, 403).
    Unauthorized,
    /// A registry's spec is at fault.
    InvalidSpec,
    /// A registry's credentials Secret or key is missing.
    SecretNotFound,
    /// A registry could not be reached.
    Unreachable,
}

impl EventReason {
    /// The reason as the API stores it.
    pub const fn as_str(self) -> &'static str {
        match self {
            EventReason::Created => "Created",
            EventReason::Patched => "Patched",
            EventReason::Deleted => "Deleted",
            EventReason::Refused => "Refused",
            EventReason::Unauthorized => "Unauthorized",
            EventReason::InvalidSpec => "InvalidSpec",
            EventReason::SecretNotFound => "SecretNotFound",
            EventReason::Unreachable => "Unreachable",
        }
    }

    /// The event of a failed registry check, by the reason of its `Ready=False`.
    pub fn of_check(reason: crate::api::conditions::Reason) -> EventReason {
        use crate::api::conditions::Reason;
        match reason {
            Reason::Unauthorized => EventReason::Unauthorized,
            Reason::SecretNotFound => EventReason::SecretNotFound,
            Reason::InvalidSpec => EventReason::InvalidSpec,
            _ => EventReason::Unreachable,
        }
    }

    fn warning(self) -> bool {
        !matches!(
            self,
            EventReason::Created | EventReason::Patched | EventReason::Deleted
        )
    }
}

impl fmt::Display for EventReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the operator did or tried (an event's `action`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventAction {
    Create,
    Patch,
    Delete,
    Reconcile,
    Check,
}

impl EventAction {
    pub const fn as_str(self) -> &'static str {
        match self {
            EventAction::Create => "Create",
            EventAction::Patch => "Patch",
            EventAction::Delete => "Delete",
            EventAction::Reconcile => "Reconcile",
            EventAction::Check => "Check",
        }
    }
}

impl fmt::Display for EventAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How long an event can still take repeats into its series; kube-runtime's choice too
/// (the API server keeps events for an hour by default).
const SERIES_WINDOW: Duration = Duration::from_secs(6 * 60);

/// What makes two events the same: the object, the vocabulary and the note.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Key {
    regarding: (String, String, String, String), // kind, namespace, name, uid
    reason: EventReason,
    action: EventAction,
    note: String,
}

struct Published {
    namespace: String,
    name: String,
    count: i32,
    last: Timestamp,
}

/// What to send for an event.
#[derive(Debug, PartialEq, Eq)]
enum Publish {
    /// A new Event object.
    Create,
    /// One more of the series of the Event named so.
    Repeat {
        namespace: String,
        name: String,
        count: i32,
    },
}

/// The events published within the series window; pure so that the folding is tested
/// without an API server.
#[derive(Default)]
struct Folds {
    recent: HashMap<Key, Published>,
}

impl Folds {
    fn decide(&mut self, key: &Key, now: Timestamp) -> Publish {
        let window = jiff::SignedDuration::try_from(SERIES_WINDOW).unwrap_or_default();
        // Forgotten once out of the window: the map stays as small as the last minutes'
        // distinct events, however long the operator runs.
        self.recent.retain(|_, p| p.last + window > now);
        match self.recent.get(key) {
            Some(p) => Publish::Repeat {
                namespace: p.namespace.clone(),
                name: p.name.clone(),
                count: p.count.saturating_add(1),
            },
            None => Publish::Create,
        }
    }

    fn published(&mut self, key: Key, namespace: String, name: String, count: i32, now: Timestamp) {
        self.recent.insert(
            key,
            Published {
                namespace,
                name,
                count,
                last: now,
            },
        );
    }
}

/// Publishes events; identical repeats within the window become a series.
pub struct Recorder {
    client: Client,
    reporter: Reporter,
    folds: Mutex<Folds>,
}

impl Recorder {
    pub fn new(client: Client, reporter: Reporter) -> Recorder {
        Recorder {
            client,
            reporter,
            folds: Mutex::default(),
        }
    }

    /// Publishes one event about `regarding`. The note must hold no secret value.
    pub async fn publish(
        &self,
        regarding: &ObjectReference,
        reason: EventReason,
        action: EventAction,
        note: String,
    ) -> Result<(), kube::Error> {
        let key = Key {
            regarding: (
                regarding.kind.clone().unwrap_or_default(),
                regarding.namespace.clone().unwrap_or_default(),
                regarding.name.clone().unwrap_or_default(),
                regarding.uid.clone().unwrap_or_default(),
            ),
            reason,
            action,
            note,
        };
        let now = Timestamp::now();
        let publish = self.folds.lock().decide(&key, now);
        if let Publish::Repeat {
            namespace,
            name,
            count,
        } = publish
        {
            let series = json!({"series": EventSeries {
                count,
                last_observed_time: MicroTime(now),
            }});
            let api: Api<K8sEvent> = Api::namespaced(self.client.clone(), &namespace);
            match api
                .patch(&name, &PatchParams::default(), &Patch::Merge(&series))
                .await
            {
                Ok(_) => {
                    self.folds
                        .lock()
                        .published(key, namespace, name, count, now);
                    return Ok(());
                }
                // The API server dropped it (its event TTL): a new one starts.
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(e) => return Err(e),
            }
        }
        // Cluster-scoped objects' events go to `default`, as kube-runtime's do.
        let namespace = regarding
            .namespace
            .clone()
            .unwrap_or_else(|| "default".to_string());
        let event = self.event(regarding, &key, &namespace, now);
        let api: Api<K8sEvent> = Api::namespaced(self.client.clone(), &namespace);
        let created = api.create(&PostParams::default(), &event).await?;
        let name = created.metadata.name.unwrap_or_default();
        self.folds.lock().published(key, namespace, name, 1, now);
        Ok(())
    }

    fn event(
        &self,
        regarding: &ObjectReference,
        key: &Key,
        namespace: &str,
        now: Timestamp,
    ) -> K8sEvent {
        let controller = &self.reporter.controller;
        K8sEvent {
            metadata: ObjectMeta {
                // As kube-runtime names them (a generateName ending in '.' is refused).
                name: Some(format!(
                    "{}.{:x}",
                    regarding.name.as_deref().unwrap_or(controller),
                    now.as_nanosecond()
                )),
                namespace: Some(namespace.to_string()),
                ..ObjectMeta::default()
            },
            action: Some(key.action.as_str().to_string()),
            reason: Some(key.reason.as_str().to_string()),
            note: Some(key.note.clone()),
            type_: Some(
                if key.reason.warning() {
                    "Warning"
                } else {
                    "Normal"
                }
                .to_string(),
            ),
            event_time: Some(MicroTime(now)),
            regarding: Some(regarding.clone()),
            reporting_controller: Some(controller.clone()),
            reporting_instance: Some(
                self.reporter
                    .instance
                    .clone()
                    .unwrap_or_else(|| controller.clone()),
            ),
            ..K8sEvent::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(reason: EventReason, note: &str) -> Key {
        Key {
            regarding: (
                "McpServer".into(),
                "ns".into(),
                "docs".into(),
                "uid-1".into(),
            ),
            reason,
            action: EventAction::Patch,
            note: note.into(),
        }
    }

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + seconds).unwrap_or(Timestamp::UNIX_EPOCH)
    }

    #[test]
    fn different_notes_are_different_events_and_identical_ones_a_series() {
        let mut folds = Folds::default();
        let headers = key(EventReason::Patched, "patched fields: headers");
        let docs = key(EventReason::Patched, "patched fields: documentationUrl");
        assert_eq!(folds.decide(&headers, at(0)), Publish::Create);
        folds.published(headers.clone(), "ns".into(), "docs.a".into(), 1, at(0));
        assert_eq!(
            folds.decide(&docs, at(1)),
            Publish::Create,
            "another note is another event, not a repeat of the first"
        );
        folds.published(docs.clone(), "ns".into(), "docs.b".into(), 1, at(1));
        for count in 2..5 {
            let send = folds.decide(&headers, at(count.into()));
            assert_eq!(
                send,
                Publish::Repeat {
                    namespace: "ns".into(),
                    name: "docs.a".into(),
                    count
                }
            );
            folds.published(
                headers.clone(),
                "ns".into(),
                "docs.a".into(),
                count,
                at(count.into()),
            );
        }
    }

    #[test]
    fn a_repeat_after_the_window_starts_a_new_event_and_old_ones_are_forgotten() {
        let mut folds = Folds::default();
        let refused = key(EventReason::Refused, "RegistryNotReady: pais is not ready");
        folds.published(refused.clone(), "ns".into(), "docs.a".into(), 1, at(0));
        assert!(matches!(
            folds.decide(&refused, at(300)),
            Publish::Repeat { .. }
        ));
        assert_eq!(folds.decide(&refused, at(361)), Publish::Create);
        assert!(folds.recent.is_empty(), "nothing kept past the window");
    }

    #[test]
    fn reasons_read_as_the_api_stores_them() {
        use crate::api::conditions::Reason;
        assert_eq!(EventReason::Patched.to_string(), "Patched");
        assert_eq!(
            EventReason::of_check(Reason::Unauthorized).as_str(),
            Reason::Unauthorized.as_str()
        );
        assert_eq!(
            EventReason::of_check(Reason::Unreachable).as_str(),
            Reason::Unreachable.as_str()
        );
        assert!(EventReason::Refused.warning() && !EventReason::Patched.warning());
    }
}
