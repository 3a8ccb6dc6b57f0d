//! What a simulated registry is, and the one list of them.
//!
//! A registry is one file in `src/sim/` with a type implementing [`SimRegistry`], plus
//! one line in the `sim_registries!` invocation in
//! `src/sim/mod.rs`. The list generates everything that has to name every registry
//! (the [`Provider`] enum, the per-registry tables and seed sections); every other part
//! of the simulator (gate, admin API, seed, reset) reaches a registry through
//! [`Provider::registry`], so no second list can fall out of step with the first.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use parking_lot::Mutex;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::admin::{AdminError, AvailabilityBody};
use super::auth::Caller;
use super::seed::{Credential, Section};
use super::state::{Sim, Table};
use super::{Provider, Seed, Tables};

/// One wire dialect of a vendor, served under `/{PREFIX}`. Written once per simulated
/// registry, in its own file; the list in `src/sim/mod.rs` does the rest.
pub trait SimRegistry: Send + Sync + 'static {
    /// The path prefix without the slash. It is also the registry's name in the seed
    /// file, the request log, the counters, the admin API and the command line.
    const PREFIX: &'static str;

    /// One stored record: what the seed file holds and `/_sim/records/{prefix}` shows
    /// (write-only fields included, masked there by field name).
    type Record: Clone + fmt::Debug + Serialize + DeserializeOwned + Send + Sync + 'static;

    /// The key of the record in its table.
    fn id(record: &Self::Record) -> &str;

    /// The vendor's routes, relative to the prefix. The gate (faults, auth, log) runs in
    /// front of them, so a handler sees only authenticated requests, with their
    /// [`Caller`] in the request extensions.
    fn router() -> Router<Arc<Sim>>;

    /// The caller, or the reason for a 401 (safe to show: it never echoes a value).
    /// `accepted` is the seed's credentials for this registry; empty, any non-empty
    /// values pass.
    fn authenticate(headers: &HeaderMap, accepted: &[Credential]) -> Result<Caller, &'static str>;

    /// The vendor's own error body for a status the simulator decided on its own
    /// (faults, rate limits, auth, oversized bodies), so clients parse it exactly as a
    /// vendor answer.
    fn error(status: StatusCode, detail: &str) -> Response;

    /// `PUT /_sim/availability/{prefix}/{id}` and `SimHandle::set_availability`: the
    /// availability the vendor reports, overridden. Vendors that report none keep this
    /// default refusal.
    fn set_availability(_sim: &Sim, _id: &str, _body: AvailabilityBody) -> Result<(), AdminError> {
        Err(AdminError::BadRequest(format!(
            "{} reports no availability",
            Self::PREFIX
        )))
    }

    /// Admin endpoints that only make sense for this vendor, mounted under
    /// `/_sim/records/{prefix}` beside the generic ones, outside the gate (not logged,
    /// not authenticated).
    fn admin_router() -> Router<Arc<Sim>> {
        Router::new()
    }
}

/// What the list adds to a [`SimRegistry`]: its [`Provider`] variant and where its
/// table and seed section live. Implemented by `sim_registries!`
/// only.
pub trait Registered: SimRegistry {
    const PROVIDER: Provider;
    fn table(tables: &Tables) -> &Mutex<Table<Self::Record>>;
    fn section(seed: &Seed) -> &Section<Self::Record>;
}

/// The registry behind a [`Provider`], without its types: how the gate, the admin API
/// and reset reach it.
pub trait DynRegistry: Sync {
    fn router(&self) -> Router<Arc<Sim>>;
    fn admin_router(&self) -> Router<Arc<Sim>>;
    fn authenticate(&self, headers: &HeaderMap, seed: &Seed) -> Result<Caller, &'static str>;
    fn error(&self, status: StatusCode, detail: &str) -> Response;
    /// Every stored record as the simulator holds it (secrets in clear).
    fn stored_records(&self, sim: &Sim) -> Vec<Value>;
    fn set_availability(
        &self,
        sim: &Sim,
        id: &str,
        body: AvailabilityBody,
    ) -> Result<(), AdminError>;
    /// Back to the seeded records.
    fn reset(&self, sim: &Sim);
}

/// A [`Registered`] type as a [`DynRegistry`] value. `fn() -> R` keeps it `Sync`
/// whatever `R` is; it holds nothing.
pub struct Erased<R>(PhantomData<fn() -> R>);

impl<R> Erased<R> {
    pub const fn new() -> Self {
        Erased(PhantomData)
    }
}

impl<R> Default for Erased<R> {
    fn default() -> Self {
        Self::new()
    }
}

/// A table holding `records`, keyed by id, in seed order.
pub fn table_of<R: SimRegistry>(records: &[R::Record]) -> Table<R::Record> {
    records
        .iter()
        .map(|r| (R::id(r).to_string(), r.clone()))
        .collect()
}

/// The record `id` of `R`, for admin calls, or the admin API's 404.
pub fn record_mut<'a, R: Registered>(
    table: &'a mut Table<R::Record>,
    id: &str,
) -> Result<&'a mut R::Record, AdminError> {
    table.get_mut(id).ok_or_else(|| AdminError::NotFound {
        provider: R::PROVIDER,
        id: id.to_string(),
    })
}

impl<R: Registered> DynRegistry for Erased<R> {
    fn router(&self) -> Router<Arc<Sim>> {
        R::router()
    }

    fn admin_router(&self) -> Router<Arc<Sim>> {
        R::admin_router()
    }

    fn authenticate(&self, headers: &HeaderMap, seed: &Seed) -> Result<Caller, &'static str> {
        R::authenticate(headers, &R::section(seed).credentials)
    }

    fn error(&self, status: StatusCode, detail: &str) -> Response {
        R::error(status, detail)
    }

    fn stored_records(&self, sim: &Sim) -> Vec<Value> {
        R::table(&sim.tables)
            .lock()
            .values()
            .filter_map(|r| serde_json::to_value(r).ok())
            .collect()
    }

    fn set_availability(
        &self,
        sim: &Sim,
        id: &str,
        body: AvailabilityBody,
    ) -> Result<(), AdminError> {
        R::set_availability(sim, id, body)
    }

    fn reset(&self, sim: &Sim) {
        *R::table(&sim.tables).lock() = table_of::<R>(&R::section(sim.seed()).records);
    }
}

/// The one list of simulated registries. Each line is a module (a file in `src/sim/`)
/// and the dialects it serves, `Variant: Type` with `Type: SimRegistry` in that module;
/// one file may serve several dialects (Zudu: `Zudu: Wrapped, ZuduFlat: Flat`), each
/// under its own prefix with its own records. Generates the modules, the [`Provider`]
/// enum (variants in list order), the per-dialect [`Tables`] and [`Seed`] sections and
/// the [`Registered`] impls.
macro_rules! sim_registries {
    ($(
        $module:ident { $( $(#[$meta:meta])* $variant:ident : $ty:ident ),+ $(,)? }
    ),+ $(,)?) => {
        $( pub mod $module; )+

        /// One simulated registry dialect, named by its path prefix without the slash.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Provider {
            $( $( $(#[$meta])* $variant, )+ )+
        }

        impl Provider {
            /// Every dialect, in list order.
            pub const ALL: [Provider; [$( $( stringify!($variant), )+ )+].len()] =
                [$( $( Provider::$variant, )+ )+];

            /// Every prefix, in the order of [`Provider::ALL`].
            pub const PREFIXES: [&'static str; [$( $( stringify!($variant), )+ )+].len()] =
                [$( $( <$module::$ty as $crate::sim::registry::SimRegistry>::PREFIX, )+ )+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $( $( Provider::$variant =>
                        <$module::$ty as $crate::sim::registry::SimRegistry>::PREFIX, )+ )+
                }
            }

            /// The registry behind this variant.
            pub fn registry(self) -> &'static dyn $crate::sim::registry::DynRegistry {
                match self {
                    $( $( Provider::$variant => {
                        static REGISTRY: $crate::sim::registry::Erased<$module::$ty> =
                            $crate::sim::registry::Erased::new();
                        &REGISTRY
                    } )+ )+
                }
            }
        }

        $( $(
            impl $crate::sim::registry::Registered for $module::$ty {
                const PROVIDER: Provider = Provider::$variant;

                fn table(
                    tables: &Tables,
                ) -> &parking_lot::Mutex<$crate::sim::state::Table<Self::Record>> {
                    &tables.$variant
                }

                fn section(
                    seed: &Seed,
                ) -> &$crate::sim::seed::Section<Self::Record> {
                    &seed.$variant
                }
            }
        )+ )+

        /// Every dialect's records, by id in creation order.
        #[allow(non_snake_case)]
        pub struct Tables {
            $( $(
                $variant: parking_lot::Mutex<$crate::sim::state::Table<
                    <$module::$ty as $crate::sim::registry::SimRegistry>::Record,
                >>,
            )+ )+
        }

        impl Tables {
            fn new(seed: &Seed) -> Tables {
                Tables {
                    $( $(
                        $variant: parking_lot::Mutex::new(
                            $crate::sim::registry::table_of::<$module::$ty>(&seed.$variant.records),
                        ),
                    )+ )+
                }
            }
        }

        /// The seed file: one section per dialect, named by its prefix.
        #[allow(non_snake_case)]
        #[derive(Clone, Debug, Default)]
        pub struct Seed {
            $( $(
                $variant: $crate::sim::seed::Section<
                    <$module::$ty as $crate::sim::registry::SimRegistry>::Record,
                >,
            )+ )+
        }

        impl Seed {
            /// Reads the section of `provider` as the next value of `map`.
            fn read_section<'de, A: serde::de::MapAccess<'de>>(
                &mut self,
                provider: Provider,
                map: &mut A,
            ) -> Result<(), A::Error> {
                match provider {
                    $( $( Provider::$variant => self.$variant = map.next_value()?, )+ )+
                }
                Ok(())
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::time::Duration;

    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    use super::*;
    use crate::sim::admin;
    use crate::sim::state::InitialFaults;

    fn sim(seed: Seed) -> Arc<Sim> {
        Arc::new(Sim::new(
            seed,
            InitialFaults::default(),
            Duration::from_secs(1),
            100,
        ))
    }

    /// Every key path of a JSON value: its shape, without the values that vary
    /// (trace ids, timestamps).
    fn shape(value: &Value, at: &str, out: &mut BTreeSet<String>) {
        out.insert(at.to_string());
        match value {
            Value::Object(map) => {
                for (key, v) in map {
                    shape(v, &format!("{at}/{key}"), out);
                }
            }
            Value::Array(items) => items
                .iter()
                .for_each(|v| shape(v, &format!("{at}/[]"), out)),
            _ => {}
        }
    }

    async fn body_of(response: Response) -> (StatusCode, Value) {
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    #[test]
    fn the_list_gives_every_dialect_one_distinct_prefix() {
        assert_eq!(Provider::ALL.len(), Provider::PREFIXES.len());
        let distinct: BTreeSet<&str> = Provider::PREFIXES.into_iter().collect();
        assert_eq!(distinct.len(), Provider::PREFIXES.len(), "{distinct:?}");
        for (provider, prefix) in Provider::ALL.into_iter().zip(Provider::PREFIXES) {
            assert_eq!(provider.as_str(), prefix);
            assert!(
                !prefix.is_empty()
                    && prefix
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                "{prefix:?} is not a path segment"
            );
            assert_ne!(prefix, "_sim", "the admin API's prefix");
        }
        // The variants the rest of the crate and the tests name keep their prefixes
        // (a new registry may be listed anywhere).
        for (provider, prefix) in [
            (Provider::Aitronos, "aitronos"),
            (Provider::Composio, "composio"),
            (Provider::Pais, "pais"),
            (Provider::Zudu, "zudu"),
            (Provider::ZuduFlat, "zudu-flat"),
        ] {
            assert_eq!(provider.as_str(), prefix);
            assert!(Provider::ALL.contains(&provider), "{prefix}");
        }
    }

    #[tokio::test]
    async fn each_dialect_answers_its_own_auth_failure_in_its_own_error_shape() {
        let app = crate::sim::app(sim(Seed::default()));
        for provider in Provider::ALL {
            let reason = match provider
                .registry()
                .authenticate(&HeaderMap::new(), &Seed::default())
            {
                Err(reason) => reason,
                Ok(_) => panic!("{provider} accepted a request without credentials"),
            };
            let request = Request::get(format!("/{provider}/no-such-path"))
                .body(Body::empty())
                .unwrap();
            let response = app.clone().oneshot(request).await.unwrap();
            let (status, answered) = body_of(response).await;
            let (_, own) = body_of(provider.error(StatusCode::UNAUTHORIZED, reason)).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{provider}");
            let (mut got, mut want) = (BTreeSet::new(), BTreeSet::new());
            shape(&answered, "", &mut got);
            shape(&own, "", &mut want);
            assert_eq!(got, want, "{provider}: {answered}");
            assert!(
                answered.to_string().contains(reason),
                "{provider}: {answered}"
            );
        }
    }

    #[test]
    fn every_section_of_the_seed_fills_its_own_table() {
        let text = include_str!("../../docs/sim-seed.yaml");
        let sim = sim(Seed::parse(text).unwrap());
        let raw: Value = serde_saphyr::from_str(text).unwrap();
        let seeded = |provider: Provider| {
            raw.pointer(&format!("/{provider}/records"))
                .and_then(Value::as_array)
                .map_or(0, Vec::len)
        };
        assert!(Provider::ALL.into_iter().any(|p| seeded(p) > 0));
        for provider in Provider::ALL {
            let stored = admin::stored_records(&sim, provider);
            assert_eq!(stored.len(), seeded(provider), "{provider}");
        }
    }
}
