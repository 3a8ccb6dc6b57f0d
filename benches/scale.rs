//! The scale benchmark of issue 13: `mcpsync run` on the real API server of the tests,
//! the simulator as the registries, at N = 1,000 and 10,000 McpServers, the product
//! (`--observe snapshot`) side by side with the baseline that GETs every server every
//! interval (`--observe get-each`, the Crossplane/ACK model). The harness is
//! tests/support/scale.rs (also run at N = 200 by tests/kube_scale.rs).
//!
//! `make bench` runs it inside `kubetest run` (a fresh API server whose audit log counts
//! the operator's writes). Writes `target/bench/scale.json` and `target/bench/scale.png`
//! and prints the table.
//!
//! Environment: `MCPSYNC_BENCH_SCALE_N` (default `1000,10000`), `MCPSYNC_BENCH_INTERVAL`
//! (seconds; default 30 up to N = 2,000, 60 above), `MCPSYNC_BENCH_RATE` (R, default 100
//! requests/s), `MCPSYNC_BENCH_SAMPLES` (latency samples, default 100),
//! `MCPSYNC_BENCH_CONCURRENCY` (`mcpsync run --concurrency`, default 4 as in the product);
//! `MCPSYNC_BENCH_REPLOT=FILE.json` only redraws the plot of an earlier run (FILE.png).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use mcpsync::api::{McpServerSpec, McpServerStatus, ProviderSpec};
use mcpsync::engine::desired::{ResolvedSecrets, desired};
use mcpsync::engine::plan::{Action, DecideInput, Observation, decide};
use mcpsync::provider::model_for;
use mcpsync::vocab::RemoteRecord;
use serde::Serialize;
use serde_json::{Value, json};

#[path = "../tests/support/mod.rs"]
mod support;
use support::scale::{self, Plan, Run};

#[derive(Serialize)]
struct Report {
    machine: Machine,
    engine: Engine,
    runs: Vec<Run>,
    total_s: f64,
}

#[derive(Clone, Serialize)]
struct Machine {
    cpu: String,
    cores: usize,
    memory_gib: f64,
    kernel: String,
    when: String,
}

#[derive(Clone, Serialize)]
struct Engine {
    decisions: u64,
    seconds: f64,
    decisions_per_s: f64,
    /// Share of the inputs that decide a PATCH (the others decide nothing).
    patch_share: f64,
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() -> anyhow::Result<()> {
    let started = Instant::now();
    let out = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench");
    std::fs::create_dir_all(&out)?;
    // `MCPSYNC_BENCH_REPLOT=FILE.json`: draws the plot of an earlier run only.
    if let Ok(json) = std::env::var("MCPSYNC_BENCH_REPLOT") {
        let report: Value = serde_json::from_str(&std::fs::read_to_string(&json)?)?;
        let png = PathBuf::from(json).with_extension("png");
        plot(&png, &report)?;
        println!("written: {}", png.display());
        return Ok(());
    }
    let engine = engine_decisions(Duration::from_secs(3));
    eprintln!(
        "engine: {:.0} decisions/s ({} in {:.1} s)",
        engine.decisions_per_s, engine.decisions, engine.seconds
    );
    let ns: Vec<usize> = std::env::var("MCPSYNC_BENCH_SCALE_N")
        .unwrap_or("1000,10000".into())
        .split(',')
        .filter_map(|n| n.trim().parse().ok())
        .collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let mut runs = Vec::new();
    for n in ns {
        let default_interval = if n <= 2_000 { 30 } else { 60 };
        let plan = Plan {
            n,
            interval: Duration::from_secs(env_or("MCPSYNC_BENCH_INTERVAL", default_interval)),
            intervals: 3,
            change_interval: Duration::from_secs(600),
            rate_limit: env_or("MCPSYNC_BENCH_RATE", 100),
            latency_samples: env_or("MCPSYNC_BENCH_SAMPLES", 100),
            big_secrets: 100,
            big_secret_bytes: 512 * 1024,
            concurrency: env_or("MCPSYNC_BENCH_CONCURRENCY", 4),
            // Illustrates what 429s cost; at 10,000 it would take ~8 minutes.
            limited_same_burst: n <= 2_000,
        };
        eprintln!("--- N = {n}: {plan:?}");
        let run = runtime.block_on(scale::run(plan));
        eprintln!("{}", scale::table(std::slice::from_ref(&run)));
        runs.push(run);
        // Keep what is measured so far, should a later N fail.
        write_json(&out, &machine(), &engine, &runs, started.elapsed())?;
    }
    let report = write_json(&out, &machine(), &engine, &runs, started.elapsed())?;
    plot(&out.join("scale.png"), &serde_json::to_value(&report)?)?;
    println!();
    println!(
        "mcpsync scale benchmark on {} ({} cores, {:.0} GiB), {}",
        report.machine.cpu, report.machine.cores, report.machine.memory_gib, report.machine.when
    );
    println!("{}", scale::table(&report.runs));
    println!(
        "{:<52} {:>16.0}",
        "engine decisions / s (pure decide, one core)", report.engine.decisions_per_s
    );
    println!(
        "written: {}, {} ({:.0} s in all)",
        out.join("scale.json").display(),
        out.join("scale.png").display(),
        report.total_s
    );
    Ok(())
}

fn write_json(
    out: &std::path::Path,
    machine: &Machine,
    engine: &Engine,
    runs: &[Run],
    elapsed: Duration,
) -> anyhow::Result<Report> {
    let report = Report {
        machine: machine.clone(),
        engine: engine.clone(),
        runs: runs.to_vec(),
        total_s: elapsed.as_secs_f64(),
    };
    std::fs::write(
        out.join("scale.json"),
        serde_json::to_string_pretty(&report)?,
    )?;
    Ok(report)
}

fn machine() -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or("unknown CPU".into());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory_gib = meminfo
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<f64>().ok())
        .map(|kib| kib / 1024.0 / 1024.0)
        .unwrap_or(0.0);
    Machine {
        cpu,
        cores: std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        memory_gib,
        kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .unwrap_or_default()
            .trim()
            .to_string(),
        when: jiff::Timestamp::now()
            .round(jiff::Unit::Second)
            .map(|t| t.to_string())
            .unwrap_or_default(),
    }
}

/// The pure decide function alone, on 1,000 synthetic Composio servers of which every
/// tenth has one drifted field; inputs are built beforehand.
fn engine_decisions(budget: Duration) -> Engine {
    let provider: ProviderSpec = serde_json::from_value(json!({
        "composio": {"apiKeySecretRef": {"name": "k", "key": "k"}}
    }))
    .expect("a provider spec");
    let model = model_for(&provider);
    let secrets = ResolvedSecrets::default();
    let inputs: Vec<(McpServerSpec, _, McpServerStatus, RemoteRecord)> = (0..1_000)
        .map(|i| {
            let spec: McpServerSpec = serde_json::from_value(json!({
                "registryRef": {"name": "composio"},
                "displayName": format!("srv-{i:05}"),
                "toolkits": ["github", "slack"],
                "tools": {"allowed": ["search_code", "create_issue"]},
            }))
            .expect("a server spec");
            let want = desired(&spec, &format!("s{i:05}"), &secrets).expect("desired fields");
            let id = format!("00000000-0000-4000-8000-{i:012}");
            let mut fields = want.fields.clone();
            if i % 10 == 0 {
                for value in fields.values_mut() {
                    if let Value::String(s) = value {
                        s.push_str("-drifted");
                        break;
                    }
                }
            }
            let status: McpServerStatus =
                serde_json::from_value(json!({"externalId": id})).expect("a status");
            let record = RemoteRecord {
                id,
                name: Some(format!("srv-{i:05}")),
                fields,
                ..RemoteRecord::default()
            };
            (spec, want, status, record)
        })
        .collect();
    let started = Instant::now();
    let (mut decisions, mut patches) = (0u64, 0u64);
    while started.elapsed() < budget {
        for (spec, want, status, record) in &inputs {
            let decision = decide(DecideInput {
                model: model.as_ref(),
                spec,
                desired: want,
                status,
                observation: Observation::Found(record.clone()),
            });
            if matches!(decision.action, Action::Patch { .. }) {
                patches += 1;
            }
            decisions += 1;
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    Engine {
        decisions,
        seconds,
        decisions_per_s: decisions as f64 / seconds,
        patch_share: patches as f64 / decisions.max(1) as f64,
    }
}

/// Two panels, log scale: remote calls per sync interval against N, and peak RSS against
/// N, mcpsync vs the baseline.
fn plot(path: &std::path::Path, report: &Value) -> anyhow::Result<()> {
    use plotters::prelude::*;
    use plotters::style::{FontStyle, register_font};
    register_font("sans-serif", FontStyle::Normal, dejavu::sans::regular())
        .map_err(|_| anyhow::anyhow!("the embedded font does not load"))?;
    /// N, then calls per interval and peak RSS, each (mcpsync, baseline).
    struct Point {
        n: f64,
        calls: (f64, f64),
        rss: (f64, f64),
    }
    let number = |v: &Value| v.as_f64().unwrap_or(0.0);
    let runs: Vec<Point> = report["runs"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|r| Point {
            n: number(&r["plan"]["n"]),
            calls: (
                number(&r["mcpsync"]["calls_per_interval"]),
                number(&r["baseline"]["calls_per_interval"]),
            ),
            rss: (
                number(&r["mcpsync_peak_rss_mib"]),
                number(&r["baseline_peak_rss_mib"]),
            ),
        })
        .collect();
    let n = |r: &Point| r.n.max(1.0);
    let max_n = runs.iter().map(n).fold(1.0, f64::max) * 1.5;
    let min_n = runs.iter().map(n).fold(max_n, f64::min) / 1.5;
    let root = BitMapBackend::new(path, (1200, 520)).into_drawing_area();
    root.fill(&WHITE)?;
    let (left, right) = root.split_horizontally(600);
    let series = |r: &Point, baseline: bool, calls: bool| -> f64 {
        let (mcpsync, base) = if calls { r.calls } else { r.rss };
        if baseline { base } else { mcpsync }
    };
    for (area, calls) in [(&left, true), (&right, false)] {
        let values: Vec<f64> = runs
            .iter()
            .flat_map(|r| [series(r, false, calls), series(r, true, calls)])
            .collect();
        let floor = if calls { 1.0 } else { 128.0 };
        let max_y = values.iter().copied().fold(floor, f64::max) * 2.0;
        let min_y = values.iter().copied().fold(max_y, f64::min).max(0.5) / 2.0;
        let (title, y_desc) = if calls {
            ("Remote calls per sync interval", "calls / interval")
        } else {
            ("Peak RSS of mcpsync run", "MiB (VmHWM)")
        };
        let mut chart = ChartBuilder::on(area)
            .caption(title, ("sans-serif", 24))
            .margin(16)
            .x_label_area_size(44)
            .y_label_area_size(64)
            .build_cartesian_2d((min_n..max_n).log_scale(), (min_y..max_y).log_scale())?;
        chart
            .configure_mesh()
            .x_labels(4)
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_label_formatter(&|y| format!("{y:.0}"))
            .x_desc("McpServers (N)")
            .y_desc(y_desc)
            .label_style(("sans-serif", 14))
            .draw()?;
        for (baseline, color, label) in [
            (false, BLUE, "mcpsync (LIST snapshot)"),
            (true, RED, "baseline (GET each, Crossplane/ACK model)"),
        ] {
            let points: Vec<(f64, f64)> = runs
                .iter()
                .map(|r| (n(r), series(r, baseline, calls)))
                .collect();
            chart
                .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))?
                .label(label)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
            chart.draw_series(points.iter().map(|p| Circle::new(*p, 4, color.filled())))?;
        }
        if !calls {
            let limit = vec![(min_n, 128.0), (max_n, 128.0)];
            chart
                .draw_series(LineSeries::new(limit, BLACK.stroke_width(1)))?
                .label("target 128 MiB")
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .label_font(("sans-serif", 14))
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()?;
    }
    root.present()?;
    Ok(())
}
