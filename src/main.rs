//! The `mcpsync` command line. Each subcommand is a few lines calling into the library.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

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
    /// Print the CustomResourceDefinitions as YAML (the same as crds/).
    Crds,
    /// Run the registry simulator (all four providers) for tests, demos and dry runs.
    Sim(mcpsync::sim::SimArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Crds => mcpsync::api::crds_yaml()
            .map(|yaml| {
                print!("{yaml}");
                ExitCode::SUCCESS
            })
            .map_err(anyhow::Error::from),
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
