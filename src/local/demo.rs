//! `mcpsync demo`: the simulator in-process, `apply` on `examples/` twice, and a drift
//! repaired — showing exactly which calls were made each time.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;

use crate::local::output::{self, Format};
use crate::local::run::{self, Mode, RunOptions};
use crate::provider::ProviderKind;
use crate::sim::{self, LoggedRequest, SimConfig};

/// Runs the demo on `examples` and prints what happened.
pub async fn demo(examples: PathBuf) -> anyhow::Result<()> {
    let sim = sim::start(SimConfig::default())
        .await
        .context("starting the simulator")?;
    let state_dir = tempfile::tempdir().context("creating a temporary state directory")?;
    let base = sim.base_url("");
    let opts = RunOptions {
        paths: vec![examples.clone()],
        state_path: state_dir.path().join("state.yaml"),
        mode: Mode::Apply,
        // Each model names the simulator prefix that speaks its dialect.
        base_url_override: Some(Arc::new(move |model| {
            format!("{base}{}", model.sim_prefix())
        })),
        wait_for_state: false,
        prune: false,
        progress: None,
    };
    let ids: Vec<&str> = ProviderKind::ALL.iter().map(|k| k.id()).collect();
    println!(
        "mcpsync demo: simulator of {} on {}\n",
        ids.join(", "),
        sim.addr()
    );

    println!(
        "== 1. apply -f {} (first time: records are created)\n",
        examples.display()
    );
    step(&opts, &sim).await?;

    println!("== 2. apply again: every record already equals its manifest\n");
    let writes = step(&opts, &sim).await?;
    println!("{writes} write request(s) in the second apply.\n");

    println!("== 3. someone renames a Composio record in the registry's UI; apply repairs it\n");
    drift_composio(&sim, &opts).await?;
    step(&opts, &sim).await?;

    sim.shutdown().await;
    Ok(())
}

/// One `apply`, then the requests the simulator received. Returns the number of writes.
async fn step(opts: &RunOptions, sim: &sim::SimHandle) -> anyhow::Result<usize> {
    sim.clear_log();
    let report = run::run(opts, jiff::Timestamp::now()).await?;
    print!(
        "{}",
        output::render(&report, Mode::Apply, Format::Text, &opts.state_path)?
    );
    let requests = sim.requests();
    println!(
        "\nrequests received by the registries ({}):",
        requests.len()
    );
    for r in &requests {
        println!("  {}", describe(r));
    }
    println!();
    Ok(requests.iter().filter(|r| r.method != "GET").count())
}

fn describe(r: &LoggedRequest) -> String {
    let query = r
        .query
        .as_deref()
        .map(|q| format!("?{q}"))
        .unwrap_or_default();
    let body = r.body.as_ref().map(|b| format!(" {b}")).unwrap_or_default();
    format!(
        "{} {} /{}{}{query} -> {}{body}",
        r.provider, r.method, r.provider, r.path, r.status
    )
}

/// Changes one Composio record behind mcpsync's back, as a person in a web UI would.
async fn drift_composio(sim: &sim::SimHandle, opts: &RunOptions) -> anyhow::Result<()> {
    let state = crate::local::state::StateFile::load(&opts.state_path)?;
    let Some(id) = state
        .servers()
        .find(|(_, s)| {
            s.registry
                .as_deref()
                .is_some_and(|r| r.contains("composio"))
        })
        .and_then(|(_, s)| s.status.external_id.clone())
    else {
        println!("(no Composio server in the examples: skipped)");
        return Ok(());
    };
    let url = format!("{}/api/v3/mcp/{id}", sim.base_url("composio"));
    let answer = reqwest::Client::new()
        .patch(&url)
        .header("x-api-key", "demo-ui-session")
        .json(&serde_json::json!({"name": "Renamed in UI"}))
        .send()
        .await
        .context("renaming the record in the simulator")?;
    println!(
        "(PATCH {url} name=\"Renamed in UI\" -> {})\n",
        answer.status().as_u16()
    );
    Ok(())
}
