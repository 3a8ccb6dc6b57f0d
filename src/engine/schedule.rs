//! When to look again. Pure: the front end passes the jitter in.

use std::time::Duration;

use crate::api::McpServerStatus;
use crate::api::conditions::types;

/// The default drift re-check period (docs/api.md: `syncInterval`, default `10m`).
pub const DEFAULT_SYNC_INTERVAL: Duration = Duration::from_secs(600);
/// First wait after a transient failure; doubles per consecutive failure.
pub const BACKOFF_BASE: Duration = Duration::from_secs(5);
/// Longest wait after transient failures, whatever the sync interval.
pub const BACKOFF_MAX: Duration = Duration::from_secs(300);
/// Shortest cap of that wait, so that a nonsense interval cannot make a busy loop.
const BACKOFF_MIN_CAP: Duration = Duration::from_secs(1);

/// When the next reconcile of an object is due.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Requeue {
    /// Look again after this long.
    After(Duration),
    /// Stalled or suspended: retrying cannot help; wait for a change of the object or of
    /// what it references.
    OnChange,
}

/// How a reconcile ended, as far as scheduling is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Settled {
    /// Synced, drift reported, or a write made: the normal period.
    Done,
    /// A transient failure (rate limit, unreachable, gone record being recreated):
    /// `failures` in a row so far (1 for the first), and the registry's `Retry-After`.
    Transient {
        failures: u32,
        retry_after: Option<Duration>,
    },
    /// Stalled or suspended.
    Waiting,
}

/// The next reconcile: the sync interval (minus up to 10% jitter so that servers created
/// together spread out), exponential backoff with jitter after transient failures (never
/// sooner than `Retry-After`), nothing for stalled or suspended objects. `jitter` is in
/// `[0, 1)`.
///
/// The backoff never exceeds the sync interval: an object is looked at no less often
/// while its registry fails than while it is in sync, so after an outage (docs/api.md:
/// `syncInterval`) it is back within one interval, not after a wait that grew during it.
pub fn requeue(settled: Settled, sync_interval: Duration, jitter: f64) -> Requeue {
    let jitter = jitter.clamp(0.0, 1.0);
    match settled {
        Settled::Done => Requeue::After(sync_interval.mul_f64(1.0 - 0.1 * jitter)),
        Settled::Waiting => Requeue::OnChange,
        Settled::Transient {
            failures,
            retry_after,
        } => {
            let exponent = failures.saturating_sub(1).min(16);
            let backoff = BACKOFF_BASE
                .saturating_mul(1u32 << exponent)
                .min(backoff_cap(sync_interval));
            // Full range jitter in the upper half: [backoff/2, backoff).
            let backoff = backoff.mul_f64(0.5 + 0.5 * jitter);
            Requeue::After(retry_after.map_or(backoff, |r| r.max(backoff)))
        }
    }
}

/// The longest backoff for an object of this sync interval.
pub fn backoff_cap(sync_interval: Duration) -> Duration {
    sync_interval.clamp(BACKOFF_MIN_CAP, BACKOFF_MAX)
}

/// Whether a status says the object is stalled (`Stalled=True`).
pub fn is_stalled(status: &McpServerStatus) -> bool {
    status
        .conditions
        .iter()
        .any(|c| c.type_ == types::STALLED && c.status == "True")
}

/// A Go duration as the CRD accepts it (`30s`, `5m`, `1h30m`, `1.5h`, `300ms`).
pub fn parse_go_duration(text: &str) -> Option<Duration> {
    let mut rest = text.trim();
    if rest.is_empty() {
        return None;
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..number_len].parse().ok()?;
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let seconds = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += number * seconds;
    }
    Duration::try_from_secs_f64(total).ok()
}

/// The sync interval of a server: its own `syncInterval`, else its registry's, else the
/// default. An unparseable value (the CRD refuses those) falls back the same way.
pub fn sync_interval(server: Option<&str>, registry: Option<&str>) -> Duration {
    server
        .and_then(parse_go_duration)
        .or_else(|| registry.and_then(parse_go_duration))
        .unwrap_or(DEFAULT_SYNC_INTERVAL)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations_parse_as_the_crd_accepts_them() {
        let cases = [
            ("30s", Some(30.0)),
            ("5m", Some(300.0)),
            ("1h30m", Some(5400.0)),
            ("1.5h", Some(5400.0)),
            ("300ms", Some(0.3)),
            ("10m", Some(600.0)),
            ("", None),
            ("5", None),
            ("5 minutes", None),
            ("m", None),
        ];
        for (text, want) in cases {
            assert_eq!(
                parse_go_duration(text).map(|d| d.as_secs_f64()),
                want,
                "{text}"
            );
        }
        assert_eq!(
            sync_interval(Some("1m"), Some("5m")),
            Duration::from_secs(60)
        );
        assert_eq!(sync_interval(None, Some("5m")), Duration::from_secs(300));
        assert_eq!(sync_interval(None, None), DEFAULT_SYNC_INTERVAL);
    }

    #[test]
    fn synced_objects_come_back_within_the_interval_spread_by_jitter() {
        let interval = Duration::from_secs(600);
        assert_eq!(
            requeue(Settled::Done, interval, 0.0),
            Requeue::After(interval)
        );
        let Requeue::After(late) = requeue(Settled::Done, interval, 0.999) else {
            panic!("a synced object is requeued");
        };
        assert!(late < interval && late >= interval.mul_f64(0.9), "{late:?}");
    }

    #[test]
    fn transient_failures_back_off_exponentially_and_honour_retry_after() {
        let interval = Duration::from_secs(600);
        let wait = |failures, retry_after, jitter| match requeue(
            Settled::Transient {
                failures,
                retry_after,
            },
            interval,
            jitter,
        ) {
            Requeue::After(d) => d,
            Requeue::OnChange => panic!("a transient failure is retried"),
        };
        assert_eq!(wait(1, None, 0.999_999).as_secs(), 4); // just under 5 s
        assert_eq!(wait(1, None, 0.0), Duration::from_millis(2500));
        assert!(wait(2, None, 0.0) > wait(1, None, 0.0));
        assert!(wait(3, None, 0.0) > wait(2, None, 0.0));
        assert!(wait(30, None, 0.999) <= BACKOFF_MAX);
        let ra = Duration::from_secs(42);
        assert!(
            wait(1, Some(ra), 0.0) >= ra,
            "never sooner than Retry-After"
        );
    }

    fn backoff(failures: u32, interval: Duration, jitter: f64) -> Duration {
        match requeue(
            Settled::Transient {
                failures,
                retry_after: None,
            },
            interval,
            jitter,
        ) {
            Requeue::After(d) => d,
            Requeue::OnChange => panic!("a transient failure is retried"),
        }
    }

    #[test]
    fn the_backoff_is_never_above_the_sync_interval() {
        let jitters = [0.0, 0.25, 0.5, 0.75, 0.999_999];
        for interval in [1, 10, 30, 60, 299, 600, 3600].map(Duration::from_secs) {
            for failures in 1..40 {
                for jitter in jitters {
                    let wait = backoff(failures, interval, jitter);
                    assert!(
                        wait <= interval && wait <= BACKOFF_MAX,
                        "{failures} failures at {interval:?}: {wait:?}"
                    );
                }
            }
        }
        // The CRD's shortest interval: a 60 s outage is followed by a check within 10 s,
        // where the uncapped backoff had grown to 40-80 s.
        let ten = Duration::from_secs(10);
        assert!(backoff(5, ten, 0.999_999) < ten);
        assert!(backoff(30, Duration::ZERO, 0.0) >= Duration::from_millis(500));
    }

    #[test]
    fn the_backoff_grows_then_stays_at_the_cap() {
        let interval = Duration::from_secs(60);
        let waits: Vec<Duration> = (1..12).map(|n| backoff(n, interval, 0.0)).collect();
        assert!(
            waits.windows(2).all(|w| w[0] <= w[1]),
            "never shrinks: {waits:?}"
        );
        assert!(
            waits[1] > waits[0] && waits[2] > waits[1],
            "grows: {waits:?}"
        );
        // 5 s x 2^4 = 80 s is past the 60 s interval: from the 5th failure on it stays.
        assert!(
            waits[4..].iter().all(|w| *w == interval / 2),
            "stays: {waits:?}"
        );
    }

    #[test]
    fn the_capped_backoff_is_jittered_within_its_upper_half() {
        let interval = Duration::from_secs(10);
        let low = backoff(20, interval, 0.0);
        let high = backoff(20, interval, 0.999_999);
        assert_eq!(low, interval / 2);
        assert!(high < interval && high > interval.mul_f64(0.99), "{high:?}");
        let mid = backoff(20, interval, 0.5);
        assert!(low < mid && mid < high, "spread by the jitter: {mid:?}");
        // Out-of-range jitter is clamped, never above the cap.
        assert!(backoff(20, interval, 7.0) <= interval);
        assert!(backoff(20, interval, -1.0) >= interval / 2);
        // Retry-After still wins over the cap.
        let ra = Duration::from_secs(42);
        let waited = requeue(
            Settled::Transient {
                failures: 20,
                retry_after: Some(ra),
            },
            interval,
            0.0,
        );
        assert_eq!(waited, Requeue::After(ra));
    }

    #[test]
    fn stalled_objects_wait_for_a_change() {
        assert_eq!(
            requeue(Settled::Waiting, Duration::from_secs(60), 0.5),
            Requeue::OnChange
        );
    }
}
