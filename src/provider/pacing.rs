//! A registry client's own pace under the registry's limit: additive increase,
//! multiplicative decrease (the way TCP shares a link). A 429 halves the rate the client
//! allows itself, down to a floor; answers give it back steadily, the configured rate
//! over [`RECOVERY_SECS`] of answers (each adds `ceiling / (RECOVERY_SECS * rate)`, so
//! the increase per second does not depend on the rate), up to the configured rate. Without it a client whose configured rate exceeds what the registry
//! grants only pauses for a `Retry-After` and then bursts into the limit again, so that a
//! backlog costs a 429 (and a retry) for every few requests.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// Halving steps from the configured rate to the floor: 1/16 of it.
const FLOOR_DIVISOR: f64 = 16.0;
/// Seconds of answers at the current rate that give back the whole configured rate.
pub const RECOVERY_SECS: f64 = 30.0;

#[derive(Debug)]
pub struct Pacing {
    ceiling: f64,
    floor: f64,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    rate: f64,
    next: Instant,
}

impl Pacing {
    /// Starts at `ceiling` requests per second (the client's configured rate, > 0).
    pub fn new(ceiling: f64, now: Instant) -> Self {
        Pacing {
            ceiling,
            floor: ceiling / FLOOR_DIVISOR,
            state: Mutex::new(State {
                rate: ceiling,
                next: now,
            }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The rate the client allows itself now.
    pub fn rate(&self) -> f64 {
        self.state().rate
    }

    /// The registry answered 429: halve the rate.
    pub fn throttled(&self) {
        let mut s = self.state();
        s.rate = (s.rate / 2.0).max(self.floor);
    }

    /// The registry answered: give back a step of the rate.
    pub fn succeeded(&self) {
        let mut s = self.state();
        s.rate = (s.rate + self.ceiling / (RECOVERY_SECS * s.rate)).min(self.ceiling);
    }

    /// When the next request may be sent, reserving its slot; `None` when it may go now.
    /// At the configured rate the client's token bucket alone paces, bursts included.
    pub fn reserve(&self, now: Instant) -> Option<Instant> {
        let mut s = self.state();
        if s.rate >= self.ceiling {
            s.next = now;
            return None;
        }
        let slot = s.next.max(now);
        s.next = slot + Duration::from_secs_f64(1.0 / s.rate);
        (slot > now).then_some(slot)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_429_halves_the_rate_down_to_a_floor_and_successes_give_it_back() {
        let p = Pacing::new(16.0, Instant::now());
        p.throttled();
        assert_eq!(p.rate(), 8.0);
        for _ in 0..10 {
            p.throttled();
        }
        assert_eq!(p.rate(), 1.0, "the floor is 1/16 of the configured rate");
        p.succeeded();
        let step = 16.0 / RECOVERY_SECS;
        assert!((p.rate() - (1.0 + step)).abs() < 1e-9, "{}", p.rate());
        // A second of answers at rate r (r answers) adds about 16/30, whatever r is.
        let p = Pacing::new(16.0, Instant::now());
        p.throttled();
        for _ in 0..8 {
            p.succeeded();
        }
        let gained = p.rate() - 8.0;
        assert!((0.45..0.55).contains(&gained), "{gained}");
        for _ in 0..10_000 {
            p.succeeded();
        }
        assert_eq!(p.rate(), 16.0, "never above the configured rate");
    }

    #[test]
    fn below_the_configured_rate_requests_are_spaced_evenly() {
        let now = Instant::now();
        let p = Pacing::new(10.0, now);
        assert_eq!(p.reserve(now), None, "at full rate the token bucket paces");
        p.throttled(); // 5 per second: one every 200 ms
        assert_eq!(p.reserve(now), None, "the first slot is now");
        assert_eq!(p.reserve(now), Some(now + Duration::from_millis(200)));
        assert_eq!(p.reserve(now), Some(now + Duration::from_millis(400)));
        // A slot in the past is not owed: a quiet client starts again from now.
        let later = now + Duration::from_secs(5);
        assert_eq!(p.reserve(later), None);
        assert_eq!(p.reserve(later), Some(later + Duration::from_millis(200)));
    }
}
