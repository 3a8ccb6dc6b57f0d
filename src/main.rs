//! The `mcpsync` command line. Each subcommand is a few lines calling into the library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use mcpsync::local::output::{self, Format};
use mcpsync::local::run::{self, Mode, RunOptions};
use mcpsync::local::state::DEFAULT_STATE_FILE;

#[derive(Parser, Debug)]
#[command(
    name = "mcpsync",
    version,
    about = "Keeps MCP server registrations in remote registries equal to McpServer resources"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Print the CustomResourceDefinitions and the McpRegistry admission policy as YAML
    /// (the same as crds/).
    Crds,
    /// Without a cluster: read manifests, read the registries, print the minimal change
    /// each server would get. Exit 0: nothing to do; 2: changes pending; 1: error.
    Plan(FileArgs),
    /// Without a cluster: the same as plan, and carry it out; statuses go to the state file.
    Apply(FileArgs),
    /// As `kubectl delete -f`: delete remote records under `deletionPolicy: Delete`, keep
    /// them under `Retain`, and drop the servers from the state file.
    Delete(FileArgs),
    /// Start the simulator in-process, apply examples/ twice and show what was sent.
    Demo {
        /// Folder of example manifests.
        #[arg(long, default_value = "examples")]
        examples: PathBuf,
    },
    /// Run the registry simulator (all four providers) for tests, demos and dry runs.
    Sim(mcpsync::sim::SimArgs),
    /// The controller: keep McpServers in sync inside a cluster (in a pod, or locally
    /// with the current kubeconfig).
    Run(RunArgs),
}

#[derive(Args, Debug)]
struct RunArgs {
    /// Namespace to watch (repeatable, or comma-separated); default: all namespaces.
    #[arg(
        short = 'n',
        long = "namespace",
        env = "MCPSYNC_NAMESPACES",
        value_delimiter = ','
    )]
    namespaces: Vec<String>,
    /// Label selector of the McpServers this instance manages, e.g. `shard=a` (shards
    /// large installations across several deployments).
    #[arg(short = 'l', long, env = "MCPSYNC_SELECTOR")]
    selector: Option<String>,
    /// Reconciles running at once, per controller.
    #[arg(long, env = "MCPSYNC_CONCURRENCY", default_value_t = 4)]
    concurrency: u16,
    /// Sync interval of servers and registries that set none (Go duration).
    #[arg(long, env = "MCPSYNC_SYNC_INTERVAL", default_value = "10m", value_parser = parse_interval)]
    sync_interval: std::time::Duration,
    /// Kubeconfig file (default: in-cluster config, else $KUBECONFIG or ~/.kube/config).
    #[arg(long, env = "MCPSYNC_KUBECONFIG")]
    kubeconfig: Option<PathBuf>,
    /// Kubeconfig context to use.
    #[arg(long)]
    context: Option<String>,
}

fn parse_interval(text: &str) -> Result<std::time::Duration, String> {
    match mcpsync::engine::schedule::parse_go_duration(text) {
        Some(d) if d >= std::time::Duration::from_secs(1) => Ok(d),
        _ => Err(format!(
            "{text:?} is not a Go duration of at least 1s, such as 30s, 10m or 1h"
        )),
    }
}

#[derive(Args, Debug)]
struct FileArgs {
    /// Manifest files or folders (YAML or JSON, multi-document); `-` reads stdin.
    #[arg(short = 'f', long = "filename", required = true)]
    files: Vec<PathBuf>,
    /// State file keeping ids and fingerprints between runs.
    #[arg(long, default_value = DEFAULT_STATE_FILE)]
    state: PathBuf,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value = "text")]
    output: Format,
    /// When another run holds the state file, wait for it instead of failing at once.
    #[arg(long)]
    wait: bool,
}

impl FileArgs {
    fn options(&self, mode: Mode) -> RunOptions {
        RunOptions {
            paths: self.files.clone(),
            state_path: self.state.clone(),
            mode,
            base_url_override: None,
            wait_for_state: self.wait,
        }
    }
}

fn main() -> ExitCode {
    init_logging();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Crds => mcpsync::api::crds_yaml()
            .map(|yaml| {
                print!("{yaml}");
                ExitCode::SUCCESS
            })
            .map_err(anyhow::Error::from),
        Command::Plan(args) => block_on(plan_or_apply(args, Mode::Plan)),
        Command::Apply(args) => block_on(plan_or_apply(args, Mode::Apply)),
        Command::Delete(args) => block_on(delete(args)),
        Command::Demo { examples } => block_on(async {
            mcpsync::local::demo::demo(examples)
                .await
                .map(|()| ExitCode::SUCCESS)
        }),
        Command::Sim(args) => mcpsync::sim::cli::run(args).map(|()| ExitCode::SUCCESS),
        Command::Run(args) => block_on(run_controller(args)),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// Logs go to stderr; `RUST_LOG` sets the level (default `warn`).
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init()
        .ok();
}

fn block_on<F: std::future::Future<Output = anyhow::Result<ExitCode>>>(
    f: F,
) -> anyhow::Result<ExitCode> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(f)
}

async fn plan_or_apply(args: FileArgs, mode: Mode) -> anyhow::Result<ExitCode> {
    let report = run::run(&args.options(mode), jiff::Timestamp::now()).await?;
    print!(
        "{}",
        output::render(&report, mode, args.output).map_err(anyhow::Error::msg)?
    );
    Ok(match (mode, report.has_errors(), report.has_changes()) {
        (_, true, _) => ExitCode::from(1),
        (Mode::Plan, false, true) => ExitCode::from(2),
        _ => ExitCode::SUCCESS,
    })
}

async fn delete(args: FileArgs) -> anyhow::Result<ExitCode> {
    let results =
        mcpsync::local::delete::delete(&args.options(Mode::Apply), jiff::Timestamp::now()).await?;
    print!(
        "{}",
        output::render_deletes(&results, args.output).map_err(anyhow::Error::msg)?
    );
    let failed = results
        .iter()
        .any(|r| r.outcome == mcpsync::local::delete::DeleteOutcome::Failed);
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

async fn kube_client(args: &RunArgs) -> anyhow::Result<kube::Client> {
    use kube::config::{KubeConfigOptions, Kubeconfig};
    let options = KubeConfigOptions {
        context: args.context.clone(),
        ..KubeConfigOptions::default()
    };
    let config = match &args.kubeconfig {
        Some(path) => {
            let kubeconfig = Kubeconfig::read_from(path)
                .map_err(|e| anyhow::anyhow!("kubeconfig {}: {e}", path.display()))?;
            kube::Config::from_custom_kubeconfig(kubeconfig, &options).await?
        }
        None if args.context.is_some() => kube::Config::from_kubeconfig(&options).await?,
        None => kube::Config::infer().await?,
    };
    Ok(kube::Client::try_from(config)?)
}

async fn run_controller(args: RunArgs) -> anyhow::Result<ExitCode> {
    let client = kube_client(&args).await?;
    let shutdown = tokio_util::sync::CancellationToken::new();
    let signal = shutdown.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutting down: finishing the reconciles in flight");
        signal.cancel();
    });
    let options = mcpsync::controller::Options {
        namespaces: args.namespaces,
        selector: args.selector,
        concurrency: args.concurrency.max(1),
        default_sync_interval: args.sync_interval,
        instance: std::env::var("POD_NAME").ok(),
    };
    mcpsync::controller::run(client, options, shutdown).await?;
    Ok(ExitCode::SUCCESS)
}

/// SIGTERM (a pod being stopped) or SIGINT (Ctrl-C).
async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
