//! Smoke version of the scale benchmark (`benches/scale.rs`, `make bench`): the same
//! harness (tests/support/scale.rs) at N = 200 with 10 s intervals, so that the counting
//! itself cannot rot. It asserts counts only; times and RSS are the benchmark's to judge.

mod support;
use std::time::Duration;

use support::kube::env;
use support::scale::{self, PAGE, Plan};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scale_smoke_counts_calls_and_writes_of_both_modes() {
    const N: usize = 200;
    let plan = Plan {
        n: N,
        interval: Duration::from_secs(10),
        intervals: 2,
        change_interval: Duration::from_secs(600),
        rate_limit: 100,
        latency_samples: 5,
        big_secrets: 4,
        big_secret_bytes: 256 * 1024,
        concurrency: 4,
        limited_same_burst: false,
    };
    let run = scale::run(plan.clone()).await;
    eprintln!("{}", scale::table(std::slice::from_ref(&run)));
    eprintln!("{}", serde_json::to_string_pretty(&run).unwrap());

    assert_eq!(run.setup.records_created, N, "one create per server");
    let k = plan.intervals as usize;
    let pages = N.div_ceil(PAGE);
    // The product: the listing once per interval (a window of k intervals can hold k + 1
    // refreshes), plus at most one registry check page per interval; nothing per server.
    let m = &run.mcpsync;
    assert!(m.list_pages >= k * pages / 2, "no listing at all? {m:?}");
    assert!(m.list_pages <= (k + 1) * (pages + 1), "{m:?}");
    assert_eq!(m.gets, 0, "no GET per server: {m:?}");
    assert_eq!(m.patches, 0, "no PATCH in steady state: {m:?}");
    assert_eq!(m.other_calls, 0, "no create or delete: {m:?}");
    assert_eq!(m.statuses_changed_beyond_last_sync, 0, "{m:?}");
    // The baseline reads every server once per interval.
    let b = &run.baseline;
    assert!(b.gets >= (k - 1) * N, "baseline GETs: {b:?}");
    assert!(b.gets <= (k + 1) * N, "baseline GETs: {b:?}");
    assert_eq!(b.patches, 0, "{b:?}");
    assert!(run.call_ratio > 10.0, "ratio {}", run.call_ratio);
    if env().audit_log().is_some() {
        // lastSyncTime, unbudgeted (the baseline runs with --status-refresh-qps 0): about
        // one status write per server and interval, never more than one per interval that
        // can start in the window.
        assert!(b.status_writes >= (k - 1) * N, "{b:?}");
        assert!(b.status_writes <= (k + 1) * (N + 1), "{b:?}");
        // The product: lastSyncTime writes within the default budget of 10/s (plus its
        // one-second burst and a second of slack), and some of them do happen.
        assert!(m.status_writes > 0, "{m:?}");
        assert!(m.status_writes <= (k + 1) * (N + 1), "{m:?}");
        assert!(
            (m.status_writes as f64) <= 10.0 * (m.window_s + 2.0),
            "{m:?}"
        );
        // Nothing else is written in steady state but each registry's check (no events,
        // no finalizer updates).
        for (what, count) in &m.other_kube_writes {
            assert_eq!(what, "mcpregistries/status patch", "{m:?}");
            assert!(*count <= 2 * (k + 1), "{m:?}");
        }
    }
    // Every change and every rotation was seen as exactly one PATCH.
    assert_eq!(
        run.latency_change.samples, plan.latency_samples,
        "{:?}",
        run.latency_change
    );
    assert_eq!(
        run.latency_secret.samples, plan.latency_samples,
        "{:?}",
        run.latency_secret
    );
    for mass in [&run.mass_unlimited, &run.mass_limited] {
        assert!(mass.converged, "{mass:?}");
        assert_eq!(mass.patches, N, "one PATCH per changed server: {mass:?}");
    }
    assert!(run.mcpsync_peak_rss_mib > 0.0 && run.baseline_peak_rss_mib > 0.0);
}
