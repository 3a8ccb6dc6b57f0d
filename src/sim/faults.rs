//! Faults on demand: added latency, scripted answers for the next N requests, dropped
//! connections and a token-bucket rate limit per provider. Decided before the provider
//! sees the request, so a faulted request changes no record, except for a scripted fault
//! marked `after` ([`NextFault::after`]): that request is handled as usual (a create
//! stores its record) and only its answer is replaced or lost.

use std::collections::{BTreeMap, VecDeque};
use std::str::FromStr;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use super::kind::Provider;

/// Answer (or drop) the next `count` requests, optionally only those of one provider.
///
/// By default the fault stands in for the provider, which never sees the request. With
/// `after`, the provider handles the request first (auth included, so a create really
/// stores its record) and the fault then replaces its answer: the answer a client never
/// got, e.g. a create that reached the registry but whose response was lost.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NextFault {
    #[serde(default)]
    pub provider: Option<Provider>,
    /// Status to answer with; ignored when `drop` is set.
    #[serde(default = "default_status")]
    pub status: u16,
    /// Seconds for `Retry-After`; 429 and 503 get 1 when absent.
    #[serde(default)]
    pub retry_after: Option<u64>,
    #[serde(default = "one")]
    pub count: u32,
    /// Close the connection without answering instead.
    #[serde(default)]
    pub drop: bool,
    /// Let the provider handle the request first (records change as usual), then answer
    /// `status` or drop the connection instead of sending the provider's answer.
    #[serde(default)]
    pub after: bool,
}

fn default_status() -> u16 {
    503
}

fn one() -> u32 {
    1
}

/// `STATUS[:COUNT[:PROVIDER]]`, e.g. `503:3:zudu`; `drop` as status drops connections.
/// An `after:` prefix sets [`NextFault::after`]: `after:503:1:composio`, `after:drop`.
impl FromStr for NextFault {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (after, s) = match s.strip_prefix("after:") {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let mut parts = s.split(':');
        let head = parts.next().unwrap_or_default();
        let drop = head == "drop";
        let status = if drop { 0 } else { head.parse()? };
        if !drop && !(100..=599).contains(&status) {
            anyhow::bail!("{status} is not an HTTP status (100-599), nor `drop`");
        }
        let count = parts.next().map(str::parse).transpose()?.unwrap_or(1);
        let provider = parts.next().map(str::parse).transpose()?;
        Ok(NextFault {
            provider,
            status,
            retry_after: None,
            count,
            drop,
            after,
        })
    }
}

/// A provider's rate limit: `per_minute` sustained, `burst` at once.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RateLimit {
    pub provider: Provider,
    pub per_minute: u32,
    #[serde(default)]
    pub burst: Option<u32>,
}

/// `PROVIDER=N/min` or `PROVIDER=N/s`, as on the command line.
impl FromStr for RateLimit {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (provider, rate) = s
            .split_once('=')
            .ok_or_else(|| anyhow::anyhow!("expected PROVIDER=N/min, got {s:?}"))?;
        let (n, unit) = rate.split_once('/').unwrap_or((rate, "min"));
        let n: u32 = n.trim().parse()?;
        let per_minute = match unit.trim() {
            "min" | "m" | "minute" => n,
            "s" | "sec" | "second" => n.saturating_mul(60),
            other => anyhow::bail!("unknown rate unit {other:?} (use /min or /s)"),
        };
        Ok(RateLimit {
            provider: provider.trim().parse()?,
            per_minute,
            burst: None,
        })
    }
}

/// What the `X-RateLimit-*` headers say.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateInfo {
    pub limit: u32,
    pub remaining: u32,
    /// Seconds until the bucket is full again.
    pub reset_secs: u64,
}

/// What to do with one request.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    /// Hand the request to the provider; the rate-limit headers to add, if limited.
    Pass(Option<RateInfo>),
    /// Answer `status` without the provider seeing the request.
    Answer {
        status: u16,
        retry_after: Option<u64>,
        rate: Option<RateInfo>,
    },
    /// Close the connection without the provider seeing the request.
    Drop,
    /// Hand the request to the provider, then answer `status` instead of its answer.
    AnswerAfter {
        status: u16,
        retry_after: Option<u64>,
    },
    /// Hand the request to the provider, then close the connection without answering.
    DropAfter,
}

struct Bucket {
    limit: RateLimit,
    tokens: f64,
    last: Instant,
}

impl Bucket {
    fn new(limit: RateLimit) -> Self {
        let tokens = f64::from(capacity(&limit));
        Bucket {
            limit,
            tokens,
            last: Instant::now(),
        }
    }

    fn per_second(&self) -> f64 {
        f64::from(self.limit.per_minute.max(1)) / 60.0
    }

    /// Takes one token; `Err` carries the seconds to wait for the next one.
    fn take(&mut self, now: Instant) -> (RateInfo, Result<(), u64>) {
        let cap = f64::from(capacity(&self.limit));
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.per_second()).min(cap);
        self.last = now;
        let outcome = if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - self.tokens) / self.per_second()).ceil().max(1.0) as u64)
        };
        let info = RateInfo {
            limit: self.limit.per_minute,
            remaining: self.tokens.floor() as u32,
            reset_secs: ((cap - self.tokens) / self.per_second()).ceil() as u64,
        };
        (info, outcome)
    }
}

fn capacity(limit: &RateLimit) -> u32 {
    limit.burst.unwrap_or(limit.per_minute).max(1)
}

#[derive(Default)]
struct State {
    latency: Duration,
    provider_latency: BTreeMap<Provider, Duration>,
    queue: VecDeque<NextFault>,
    buckets: BTreeMap<Provider, Bucket>,
    /// How long an `after` fault holds its answer once the provider has handled the
    /// request: a window in which the change is made but its answer not yet sent (tests
    /// stop a client there).
    after_hold: Duration,
}

/// The current faults, as the admin API shows them.
#[derive(Clone, Debug, Serialize)]
pub struct FaultSnapshot {
    pub latency_ms: u64,
    pub provider_latency_ms: BTreeMap<Provider, u64>,
    pub next: Vec<NextFault>,
    pub rate_limits: Vec<RateLimit>,
}

#[derive(Default)]
pub struct Faults {
    state: Mutex<State>,
}

impl Faults {
    /// Latency to add and what to answer; consumes a queued fault or a token.
    pub fn decide(&self, provider: Provider) -> (Duration, Verdict) {
        let mut state = self.state.lock();
        let latency = state
            .provider_latency
            .get(&provider)
            .copied()
            .unwrap_or(state.latency);
        // A queued fault, `after` or not, comes before the rate limit and takes no token.
        if let Some(fault) = take_queued(&mut state.queue, provider) {
            let retry_after = fault
                .retry_after
                .or(matches!(fault.status, 429 | 503).then_some(1));
            let verdict = match (fault.drop, fault.after) {
                (true, false) => Verdict::Drop,
                (true, true) => Verdict::DropAfter,
                (false, false) => Verdict::Answer {
                    status: fault.status,
                    retry_after,
                    rate: None,
                },
                (false, true) => Verdict::AnswerAfter {
                    status: fault.status,
                    retry_after,
                },
            };
            return (latency, verdict);
        }
        let verdict = match state.buckets.get_mut(&provider) {
            None => Verdict::Pass(None),
            Some(bucket) => match bucket.take(Instant::now()) {
                (info, Ok(())) => Verdict::Pass(Some(info)),
                (info, Err(wait)) => Verdict::Answer {
                    status: 429,
                    retry_after: Some(wait),
                    rate: Some(info),
                },
            },
        };
        (latency, verdict)
    }

    pub fn set_latency(&self, provider: Option<Provider>, latency: Duration) {
        let mut state = self.state.lock();
        match provider {
            None => state.latency = latency,
            Some(p) if latency.is_zero() => {
                state.provider_latency.remove(&p);
            }
            Some(p) => {
                state.provider_latency.insert(p, latency);
            }
        }
    }

    /// Holds the answer of every `after` fault this long after the provider handled it.
    pub fn set_after_hold(&self, hold: Duration) {
        self.state.lock().after_hold = hold;
    }

    pub fn after_hold(&self) -> Duration {
        self.state.lock().after_hold
    }

    pub fn push_next(&self, fault: NextFault) {
        if fault.count > 0 {
            self.state.lock().queue.push_back(fault);
        }
    }

    pub fn set_rate_limit(&self, limit: RateLimit) {
        let provider = limit.provider;
        self.state
            .lock()
            .buckets
            .insert(provider, Bucket::new(limit));
    }

    pub fn clear_rate_limit(&self, provider: Provider) {
        self.state.lock().buckets.remove(&provider);
    }

    pub fn clear(&self) {
        *self.state.lock() = State::default();
    }

    pub fn snapshot(&self) -> FaultSnapshot {
        let state = self.state.lock();
        FaultSnapshot {
            latency_ms: state.latency.as_millis() as u64,
            provider_latency_ms: state
                .provider_latency
                .iter()
                .map(|(p, d)| (*p, d.as_millis() as u64))
                .collect(),
            next: state.queue.iter().cloned().collect(),
            rate_limits: state.buckets.values().map(|b| b.limit.clone()).collect(),
        }
    }
}

/// The first queued fault that applies, counted down and removed when used up.
fn take_queued(queue: &mut VecDeque<NextFault>, provider: Provider) -> Option<NextFault> {
    let index = queue
        .iter()
        .position(|f| f.provider.is_none_or(|p| p == provider))?;
    let fault = queue.get_mut(index)?;
    fault.count = fault.count.saturating_sub(1);
    let used = fault.clone();
    if fault.count == 0 {
        queue.remove(index);
    }
    Some(used)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_faults_apply_in_order_and_per_provider() {
        let faults = Faults::default();
        faults.push_next("503:2:zudu".parse().unwrap());
        assert_eq!(faults.decide(Provider::Pais).1, Verdict::Pass(None));
        for _ in 0..2 {
            let (_, v) = faults.decide(Provider::Zudu);
            assert!(matches!(
                v,
                Verdict::Answer {
                    status: 503,
                    retry_after: Some(1),
                    ..
                }
            ));
        }
        assert_eq!(faults.decide(Provider::Zudu).1, Verdict::Pass(None));
    }

    #[test]
    fn bucket_refuses_past_burst_with_retry_after() {
        let faults = Faults::default();
        faults.set_rate_limit("aitronos=3/min".parse().unwrap());
        for _ in 0..3 {
            assert!(matches!(
                faults.decide(Provider::Aitronos).1,
                Verdict::Pass(Some(_))
            ));
        }
        match faults.decide(Provider::Aitronos).1 {
            Verdict::Answer {
                status,
                retry_after,
                rate,
            } => {
                assert_eq!(status, 429);
                assert!(retry_after.unwrap() >= 1);
                assert_eq!(rate.unwrap().remaining, 0);
            }
            other => panic!("expected 429, got {other:?}"),
        }
    }

    #[test]
    fn parses_cli_forms() {
        let r: RateLimit = "pais=2/s".parse().unwrap();
        assert_eq!(r.per_minute, 120);
        let d: NextFault = "drop:2".parse().unwrap();
        assert!(d.drop);
        assert_eq!(d.count, 2);
        assert!(!d.after);
        assert!("bogus=1/min".parse::<RateLimit>().is_err());
    }

    #[test]
    fn after_prefix_parses_and_leaves_the_rest_as_before() {
        let a: NextFault = "after:503:2:composio".parse().unwrap();
        let plain: NextFault = "503:2:composio".parse().unwrap();
        assert!(a.after && !plain.after);
        assert_eq!(NextFault { after: false, ..a }, plain);
        let d: NextFault = "after:drop".parse().unwrap();
        assert!(d.after && d.drop);
        assert_eq!(d.count, 1);
        assert_eq!(d.provider, None);
        assert!("after:".parse::<NextFault>().is_err());
        for bad in ["0", "99", "600", "65535", "after:1000"] {
            assert!(bad.parse::<NextFault>().is_err(), "{bad}");
        }
        assert!("599".parse::<NextFault>().is_ok());
        assert!("after:after:503".parse::<NextFault>().is_err());
    }

    #[test]
    fn after_faults_give_after_verdicts_in_order() {
        let faults = Faults::default();
        faults.push_next("after:503:1:pais".parse().unwrap());
        faults.push_next("after:drop:1:pais".parse().unwrap());
        faults.push_next("500:1:pais".parse().unwrap());
        assert_eq!(
            faults.decide(Provider::Pais).1,
            Verdict::AnswerAfter {
                status: 503,
                retry_after: Some(1)
            }
        );
        assert_eq!(faults.decide(Provider::Pais).1, Verdict::DropAfter);
        assert!(matches!(
            faults.decide(Provider::Pais).1,
            Verdict::Answer {
                status: 500,
                retry_after: None,
                ..
            }
        ));
        assert_eq!(faults.decide(Provider::Pais).1, Verdict::Pass(None));
    }

    #[test]
    fn after_defaults_to_false_in_json() {
        let f: NextFault = serde_json::from_value(serde_json::json!({"status": 503})).unwrap();
        assert!(!f.after);
        let f: NextFault =
            serde_json::from_value(serde_json::json!({"status": 503, "after": true})).unwrap();
        assert!(f.after);
    }
}
