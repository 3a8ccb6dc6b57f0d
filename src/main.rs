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
