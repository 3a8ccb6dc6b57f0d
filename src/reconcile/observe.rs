//! Observe: read the remote records a batch of servers of one registry needs.
//!
//! Observation is batched: for many servers of one registry a single LIST (all pages)
//! feeds every decision when that is cheaper, so checking N servers for drift costs
//! `pages` calls instead of N GETs; in a registry full of foreign records the listing
//! stops at the break-even page and the rest is looked at one by one. A known id missing
//! from the listing is confirmed with a GET before it is called
//! gone, so a listing that hides records (soft deletes, eventual consistency) never leads
//! to a second record.

use std::collections::HashMap;

use crate::engine::plan::{Observation, Target};
use crate::provider::http::Listing;
use crate::reconcile::ports::RegistryApi;
use crate::vocab::{ErrorClass, RemoteError, RemoteRecord};

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
///
/// One LIST serves every target when it costs fewer calls than looking at each target
/// alone (a GET per id, a filtered LIST per name). The listing is read only up to that
/// break-even page count: in a registry shared with many foreign records it stops early,
/// uses what it read, and looks at the remaining targets one by one.
pub async fn observe(
    client: &impl RegistryApi,
    targets: &[Target],
) -> Vec<Result<Observation, RemoteError>> {
    let lookups = targets.iter().filter(|t| !matches!(t, Target::New)).count();
    if lookups < 2 {
        return observe_each(client, targets, &Index::default()).await;
    }
    match client.list_within(None, lookups - 1).await {
        Ok(Listing::Complete(records)) => {
            let index = Index::new(records);
            let mut out = Vec::with_capacity(targets.len());
            for t in targets {
                out.push(match t {
                    Target::Name(name) => Ok(Observation::ByName(
                        index.by_name.get(name).cloned().unwrap_or_default(),
                    )),
                    _ => observe_indexed(client, t, &index).await,
                });
            }
            out
        }
        Ok(Listing::Truncated { records, .. }) => {
            observe_each(client, targets, &Index::new(records)).await
        }
        Err(e) => targets.iter().map(|_| Err(e.clone())).collect(),
    }
}

/// Each target alone, but ids already seen in `partial` (a truncated listing) need no GET.
async fn observe_each(
    client: &impl RegistryApi,
    targets: &[Target],
    partial: &Index,
) -> Vec<Result<Observation, RemoteError>> {
    let mut out = Vec::with_capacity(targets.len());
    for t in targets {
        out.push(observe_indexed(client, t, partial).await);
    }
    out
}

/// An id found in the index, else the single call for the target. A known id missing
/// from a listing is confirmed with a GET before it is called gone.
async fn observe_indexed(
    client: &impl RegistryApi,
    target: &Target,
    index: &Index,
) -> Result<Observation, RemoteError> {
    match target {
        Target::Id(id) => match index.by_id.get(id) {
            Some(r) => Ok(Observation::Found(r.clone())),
            None => observe_one(client, target).await,
        },
        _ => observe_one(client, target).await,
    }
}

/// Observes one target with the cheapest call: a GET for an id, a name-filtered LIST for
/// a name (the provider narrows it where its API can).
pub async fn observe_one(
    client: &impl RegistryApi,
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
