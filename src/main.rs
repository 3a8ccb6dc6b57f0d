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
    /// Print the CustomResourceDefinitions and the McpRegistry admission policy as YAML
    /// (the same as crds/).
    Crds,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Crds => mcpsync::api::crds_yaml().map(|yaml| {
            print!("{yaml}");
            ExitCode::SUCCESS
        }),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}
