//! The simulator's shared state: one table per provider, the faults and the log.
//! `parking_lot` locks cannot be poisoned, so a panic elsewhere never turns every later
//! request into a 500.

use std::time::Duration;

use indexmap::IndexMap;
use parking_lot::Mutex;

use super::faults::{Faults, NextFault, RateLimit};
use super::kind::Provider;
use super::log::RequestLog;
use super::seed::{Credential, Seed};
use super::{aitronos, composio, pais, zudu};

/// Records by id, in creation order (the order lists are answered in).
pub type Table<R> = IndexMap<String, R>;

/// What a reset returns the faults to: the command line's.
#[derive(Clone, Debug, Default)]
pub struct InitialFaults {
    pub latency: Duration,
    pub rate_limits: Vec<RateLimit>,
    pub next: Vec<NextFault>,
}

pub struct Sim {
    pub aitronos: Mutex<Table<aitronos::Record>>,
    pub composio: Mutex<Table<composio::Record>>,
    pub pais: Mutex<Table<pais::Record>>,
    pub zudu: Mutex<Table<zudu::Record>>,
    pub zudu_flat: Mutex<Table<zudu::Record>>,
    pub faults: Faults,
    pub log: RequestLog,
    /// How long Aitronos and PAIS records stay pending after a create or URL change.
    pub availability_delay: Duration,
    seed: Seed,
    initial_faults: InitialFaults,
}

fn table<R: Clone>(records: &[R], id: impl Fn(&R) -> String) -> Mutex<Table<R>> {
    Mutex::new(records.iter().map(|r| (id(r), r.clone())).collect())
}

impl Sim {
    pub fn new(
        seed: Seed,
        faults: InitialFaults,
        availability_delay: Duration,
        log_capacity: usize,
    ) -> Sim {
        let sim = Sim {
            aitronos: table(&seed.aitronos.records, |r| r.id.clone()),
            composio: table(&seed.composio.records, |r| r.id.clone()),
            pais: table(&seed.pais.records, |r| r.id.clone()),
            zudu: table(&seed.zudu.records, |r| r.id.clone()),
            zudu_flat: table(&seed.zudu_flat.records, |r| r.id.clone()),
            faults: Faults::default(),
            log: RequestLog::new(log_capacity),
            availability_delay,
            seed,
            initial_faults: faults,
        };
        sim.apply_initial_faults();
        sim
    }

    fn apply_initial_faults(&self) {
        self.faults.clear();
        self.faults.set_latency(None, self.initial_faults.latency);
        for limit in &self.initial_faults.rate_limits {
            self.faults.set_rate_limit(limit.clone());
        }
        for fault in &self.initial_faults.next {
            self.faults.push_next(fault.clone());
        }
    }

    pub fn credentials(&self, provider: Provider) -> &[Credential] {
        match provider {
            Provider::Aitronos => &self.seed.aitronos.credentials,
            Provider::Composio => &self.seed.composio.credentials,
            Provider::Pais => &self.seed.pais.credentials,
            Provider::Zudu => &self.seed.zudu.credentials,
            Provider::ZuduFlat => &self.seed.zudu_flat.credentials,
        }
    }

    pub fn zudu_table(&self, flat: bool) -> &Mutex<Table<zudu::Record>> {
        if flat { &self.zudu_flat } else { &self.zudu }
    }

    /// Back to the start: seeded records, command-line faults, empty log and counters.
    pub fn reset(&self) {
        *self.aitronos.lock() = table(&self.seed.aitronos.records, |r| r.id.clone()).into_inner();
        *self.composio.lock() = table(&self.seed.composio.records, |r| r.id.clone()).into_inner();
        *self.pais.lock() = table(&self.seed.pais.records, |r| r.id.clone()).into_inner();
        *self.zudu.lock() = table(&self.seed.zudu.records, |r| r.id.clone()).into_inner();
        *self.zudu_flat.lock() = table(&self.seed.zudu_flat.records, |r| r.id.clone()).into_inner();
        self.apply_initial_faults();
        self.log.clear_all();
    }
}
