//! The `mcpsync sim` flags, kept here so `main.rs` only names the subcommand.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::SimConfig;
use super::faults::{NextFault, RateLimit};

#[derive(Args, Debug, Clone)]
pub struct SimArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080", env = "MCPSYNC_SIM_LISTEN")]
    pub listen: SocketAddr,
    /// YAML file of accepted credentials and records per provider.
    #[arg(long)]
    pub seed: Option<PathBuf>,
    /// Latency added to every provider request, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Token-bucket rate limit, e.g. `aitronos=100/min` or `pais=5/s` (repeatable).
    #[arg(long = "rate-limit", value_name = "PROVIDER=N/min")]
    pub rate_limits: Vec<RateLimit>,
    /// Answer the next requests with a status: `STATUS[:COUNT[:PROVIDER]]`, or
    /// `drop[:COUNT[:PROVIDER]]` to close connections without answering (repeatable).
    /// Prefixed `after:` (e.g. `after:503:1:composio`), the provider handles the request
    /// first, so a create stores its record, and only its answer is replaced or lost.
    #[arg(long = "fail-next", value_name = "STATUS:COUNT:PROVIDER")]
    pub fail_next: Vec<NextFault>,
    /// How long new Aitronos/PAIS records stay pending before they connect.
    #[arg(long, default_value_t = 1000)]
    pub availability_delay_ms: u64,
}

impl From<SimArgs> for SimConfig {
    fn from(args: SimArgs) -> SimConfig {
        SimConfig {
            listen: args.listen,
            seed: args.seed,
            latency: Duration::from_millis(args.latency_ms),
            rate_limits: args.rate_limits,
            fail_next: args.fail_next,
            availability_delay: Duration::from_millis(args.availability_delay_ms),
            ..SimConfig::default()
        }
    }
}

/// Runs `mcpsync sim` on its own runtime, so `main` stays synchronous.
pub fn run(args: SimArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(super::serve(args.into()))
}
