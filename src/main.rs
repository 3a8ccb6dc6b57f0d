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
    /// Without a cluster: what the API server would say of the manifests (strict fields,
    /// OpenAPI, the CRDs' CEL rules, the admission policy). Exit 0: valid; 1: invalid.
    Validate {
        /// Manifest files or folders (YAML or JSON, multi-document); `-` reads stdin.
        #[arg(short = 'f', long = "filename", required = true)]
        files: Vec<PathBuf>,
    },
    /// Without a cluster: read manifests, read the registries, print the minimal change
    /// each server would get. Exit 0: nothing to do; 2: changes pending; 1: error.
    Plan(PlanArgs),
    /// Without a cluster: the same as plan, and carry it out; statuses go to the state file.
    Apply(PlanArgs),
    /// As `kubectl delete -f`: delete remote records under `deletionPolicy: Delete`, keep
    /// them under `Retain`, and drop the servers from the state file.
    Delete(FileArgs),
    /// Start the simulator in-process, apply examples/ and show what was sent, apply again
    /// (nothing is sent), then repair a record changed behind mcpsync's back.
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
    /// Status writes per second that only refresh `lastSyncTime`; one over budget waits
    /// for the server's next reconcile (a changed status is always written at once).
    /// Bounds the API-server load of large installations; 0: unlimited.
    #[arg(long, env = "MCPSYNC_STATUS_REFRESH_QPS", default_value_t = 10.0)]
    status_refresh_qps: f64,
    /// Kubeconfig file (default: in-cluster config, else $KUBECONFIG or ~/.kube/config).
    #[arg(long, env = "MCPSYNC_KUBECONFIG")]
    kubeconfig: Option<PathBuf>,
    /// Kubeconfig context to use.
    #[arg(long)]
    context: Option<String>,
    /// Where `/metrics` (Prometheus) is served; `off` serves none.
    #[arg(long, env = "MCPSYNC_METRICS_ADDR", default_value = "0.0.0.0:8080")]
    metrics_addr: String,
    /// Where `/healthz` (alive) and `/readyz` (caches synced, or a healthy standby) are
    /// served; `off` serves none.
    #[arg(long, env = "MCPSYNC_PROBE_ADDR", default_value = "0.0.0.0:8081")]
    probe_addr: String,
    /// Run only while holding a Lease, so that one of several replicas reconciles.
    #[arg(long, env = "MCPSYNC_LEADER_ELECT")]
    leader_elect: bool,
    /// Namespace of the Lease (default: the pod's, from POD_NAMESPACE).
    #[arg(long, env = "POD_NAMESPACE")]
    leader_election_namespace: Option<String>,
    /// Name of the Lease.
    #[arg(long, default_value = "mcpsync")]
    leader_election_id: String,
    /// Log level of mcpsync's own messages (`error`, `warn`, `info`, `debug`, `trace`);
    /// `RUST_LOG`, when set, wins.
    #[arg(long, env = "MCPSYNC_LOG_LEVEL", default_value = "info")]
    log_level: String,
    /// `json` (one object per line), `text`, or `auto`: JSON unless stderr is a terminal.
    #[arg(long, env = "MCPSYNC_LOG_FORMAT", value_enum, default_value = "auto")]
    log_format: LogFormat,
    /// Benchmark baseline only: `get-each` reads every server's record with a GET on every
    /// reconcile (the Crossplane/ACK model) instead of the registry's listing.
    #[arg(long, value_enum, default_value = "snapshot", hide = true)]
    observe: ObserveArg,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum ObserveArg {
    Snapshot,
    GetEach,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum LogFormat {
    Auto,
    Json,
    Text,
}

fn parse_addr(flag: &str, text: &str) -> anyhow::Result<Option<std::net::SocketAddr>> {
    if text == "off" || text == "0" {
        return Ok(None);
    }
    text.parse().map(Some).map_err(|_| {
        anyhow::anyhow!("{flag} {text:?} is not an address such as 0.0.0.0:8080, or off")
    })
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
    /// Give up after this long (Go duration, e.g. 90s or 5m): the whole run, waits for
    /// the state file and the registries included. Default: no limit.
    #[arg(long, value_parser = parse_interval)]
    timeout: Option<std::time::Duration>,
}

#[derive(Args, Debug)]
struct PlanArgs {
    #[command(flatten)]
    files: FileArgs,
    /// Also delete the servers the state file knows but the manifests no longer hold, as
    /// their last applied `deletionPolicy` says (Retain keeps the record); `plan --prune`
    /// shows what would be deleted.
    #[arg(long)]
    prune: bool,
}

impl FileArgs {
    fn options(&self, mode: Mode, prune: bool, progress: run::Progress) -> RunOptions {
        RunOptions {
            paths: self.files.clone(),
            state_path: self.state.clone(),
            mode,
            base_url_override: None,
            wait_for_state: self.wait,
            prune,
            progress: Some(progress),
        }
    }
}

/// Progress of a long run on stderr: silent for the first 3 s, then every 5 s.
fn progress() -> run::Progress {
    use std::time::Duration;
    run::Progress::stderr(Duration::from_secs(3), Duration::from_secs(5))
}

/// Runs `work` within `--timeout`, if one is set.
async fn within<T>(
    timeout: Option<std::time::Duration>,
    progress: &run::Progress,
    work: impl std::future::Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<T> {
    let result = match timeout {
        None => work.await,
        Some(limit) => match tokio::time::timeout(limit, work).await {
            Ok(result) => result,
            Err(_) => Err(anyhow::anyhow!(
                "gave up after --timeout {}: the calls in flight were cancelled; create intents \
                 already written stay in the state file, so a new run finishes the work \
                 without creating twice",
                jiff::SignedDuration::try_from(limit)
                    .map(|d| format!("{d:#}"))
                    .unwrap_or_else(|_| format!("{limit:?}"))
            )),
        },
    };
    progress.finish();
    result
}

/// The exit code of a usage error (unknown flag, missing `-f`, bad value), the same for
/// every subcommand and never 0 or 2 (2 means "changes pending"): EX_USAGE.
const EXIT_USAGE: u8 = 64;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(EXIT_USAGE)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match &cli.command {
        Command::Run(args) => init_logging(&args.log_level, args.log_format),
        // The CLI: warnings, and the registry client's retries as they happen.
        _ => init_logging("warn,mcpsync::provider::http=info", LogFormat::Text),
    }
    let result = match cli.command {
        Command::Crds => mcpsync::api::crds_yaml()
            .map(|yaml| {
                print!("{yaml}");
                ExitCode::SUCCESS
            })
            .map_err(anyhow::Error::from),
        Command::Validate { files } => validate(&files),
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

/// Logs go to stderr. `RUST_LOG` sets the filter when present; otherwise `level` applies
/// to mcpsync's own messages and `warn` to its libraries'.
fn init_logging(level: &str, format: LogFormat) {
    use std::io::IsTerminal;
    let from_env = std::env::var("RUST_LOG")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .and_then(|v| tracing_subscriber::EnvFilter::try_new(v).ok());
    let filter = from_env.unwrap_or_else(|| {
        tracing_subscriber::EnvFilter::try_new(format!("warn,mcpsync={level}"))
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,mcpsync=info"))
    });
    let json = match format {
        LogFormat::Json => true,
        LogFormat::Text => false,
        LogFormat::Auto => !std::io::stderr().is_terminal(),
    };
    // Colour only on a terminal, and never under NO_COLOR (https://no-color.org).
    let colour = std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour)
        .with_writer(std::io::stderr);
    if json {
        builder.json().flatten_event(true).try_init().ok();
    } else {
        builder.try_init().ok();
    }
}

fn block_on<F: std::future::Future<Output = anyhow::Result<ExitCode>>>(
    f: F,
) -> anyhow::Result<ExitCode> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(f)
}

async fn plan_or_apply(args: PlanArgs, mode: Mode) -> anyhow::Result<ExitCode> {
    let progress = progress();
    let opts = args.files.options(mode, args.prune, progress.clone());
    let work = async { Ok(run::run(&opts, jiff::Timestamp::now()).await?) };
    let report = within(args.files.timeout, &progress, work).await?;
    if mode == Mode::Apply {
        eprintln!("state file: {}", args.files.state.display());
    }
    let state = &args.files.state;
    let text = output::render(&report, mode, args.files.output, state);
    print!("{}", text?);
    Ok(ExitCode::from(output::run_exit_code(&report, mode)))
}

async fn delete(args: FileArgs) -> anyhow::Result<ExitCode> {
    let progress = progress();
    let opts = args.options(Mode::Apply, false, progress.clone());
    let work = async { Ok(mcpsync::local::delete::delete(&opts, jiff::Timestamp::now()).await?) };
    let results = within(args.timeout, &progress, work).await?;
    eprintln!("state file: {}", args.state.display());
    let text = output::render_deletes(&results, args.output, &args.state);
    print!("{}", text?);
    Ok(ExitCode::from(output::delete_exit_code(&results)))
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
    let identity = std::env::var("POD_NAME").ok();
    let leader = if args.leader_elect {
        let namespace = args.leader_election_namespace.clone().ok_or_else(|| {
            anyhow::anyhow!("--leader-elect needs --leader-election-namespace (or POD_NAMESPACE)")
        })?;
        Some(mcpsync::ops::LeaderOptions {
            namespace,
            lease: args.leader_election_id.clone(),
            identity: identity
                .clone()
                .unwrap_or_else(|| format!("mcpsync-{}", uuid::Uuid::new_v4().simple())),
        })
    } else {
        None
    };
    let options = mcpsync::ops::OperatorOptions {
        controller: mcpsync::controller::Options {
            namespaces: args.namespaces,
            selector: args.selector,
            concurrency: args.concurrency.max(1),
            default_sync_interval: args.sync_interval,
            status_refresh_qps: args.status_refresh_qps,
            instance: identity,
            ready: None,
            observe: match args.observe {
                ObserveArg::Snapshot => mcpsync::controller::Observe::Snapshot,
                ObserveArg::GetEach => mcpsync::controller::Observe::GetEach,
            },
        },
        metrics_addr: parse_addr("--metrics-addr", &args.metrics_addr)?,
        probe_addr: parse_addr("--probe-addr", &args.probe_addr)?,
        leader,
    };
    mcpsync::ops::run(client, options, shutdown).await?;
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

fn validate(files: &[PathBuf]) -> anyhow::Result<ExitCode> {
    let manifests = mcpsync::local::manifests::load_all(files)?;
    for invalid in &manifests.invalid {
        println!("{invalid}");
    }
    let objects =
        manifests.servers.len() + manifests.registries.len() + manifests.cluster_registries.len();
    if manifests.invalid.is_empty() {
        println!(
            "valid: {objects} mcpsync object(s), {} Secret(s), {} other document(s) skipped",
            manifests.secrets.len(),
            manifests.skipped.len()
        );
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!(
            "invalid: {} error(s); the API server would refuse these objects",
            manifests.invalid.len()
        );
        Ok(ExitCode::from(1))
    }
}
