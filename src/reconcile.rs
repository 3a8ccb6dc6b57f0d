//! Observe and act: the I/O around the pure engine, shared by every front end
//! (`plan`/`apply` now, the controller later).
//!
//! Observation is batched: for many servers of one registry a single LIST (all pages)
//! feeds every decision, so checking N servers for drift costs `pages` calls instead of N
//! GETs. A known id missing from the listing is confirmed with a GET before it is called
//! gone, so a listing that hides records (soft deletes, eventual consistency) never leads
//! to a second record.

use std::collections::HashMap;

use crate::engine::plan::{Observation, Target};
use crate::provider::http::RegistryClient;
use crate::provider::{ErrorClass, RemoteError, RemoteRecord};

/// Records of one LIST, indexed by id and by name.
#[derive(Default)]
struct Index {
    by_id: HashMap<String, RemoteRecord>,
    by_name: HashMap<String, Vec<RemoteRecord>>,
}

impl Index {
    fn new(records: Vec<RemoteRecord>) -> Self {
        let mut index = Index::default();
        for r in records {
            if let Some(name) = &r.name {
                index
                    .by_name
                    .entry(name.clone())
                    .or_default()
                    .push(r.clone());
            }
            index.by_id.insert(r.id.clone(), r);
        }
        index
    }
}

/// Observes every target of one registry; the answer `i` belongs to `targets[i]`.
pub async fn observe(
    client: &RegistryClient,
    targets: &[Target],
) -> Vec<Result<Observation, RemoteError>> {
    let lookups = targets.iter().filter(|t| !matches!(t, Target::New)).count();
    if lookups < 2 {
        let mut out = Vec::with_capacity(targets.len());
        for t in targets {
            out.push(observe_one(client, t).await);
        }
        return out;
    }
    let index = match client.list_all(None).await {
        Ok(records) => Index::new(records),
        Err(e) => return targets.iter().map(|_| Err(e.clone())).collect(),
    };
    let mut out = Vec::with_capacity(targets.len());
    for t in targets {
        out.push(match t {
            Target::Id(id) => match index.by_id.get(id) {
                Some(r) => Ok(Observation::Found(r.clone())),
                None => observe_one(client, t).await,
            },
            Target::New => Ok(Observation::ByName(Vec::new())),
            Target::Name(name) => Ok(Observation::ByName(
                index.by_name.get(name).cloned().unwrap_or_default(),
            )),
        });
    }
    out
}

/// Observes one target with the cheapest call: a GET for an id, a name-filtered LIST for
/// a name (the provider narrows it where its API can).
pub async fn observe_one(
    client: &RegistryClient,
    target: &Target,
) -> Result<Observation, RemoteError> {
    match target {
        Target::Id(id) => match client.get(id).await {
            Ok(r) => Ok(Observation::Found(r)),
            Err(e) if e.class == ErrorClass::NotFound => Ok(Observation::Gone),
            Err(e) => Err(e),
        },
        Target::New => Ok(Observation::ByName(Vec::new())),
        Target::Name(name) => {
            let records = client.list_all(Some(name)).await?;
            Ok(Observation::ByName(
                records
                    .into_iter()
                    .filter(|r| r.name.as_deref() == Some(name.as_str()))
                    .collect(),
            ))
        }
    }
}
