//! `llmload-mock`: the simulator as a standalone server, for pointing any
//! OpenAI-compatible client at a target with known behaviour. Everything but argument
//! parsing and exit codes lives in the library, which `llmload mock` also uses.

use std::process::ExitCode;

use clap::Parser;
use llmload_mock::profile::LoadError;

#[derive(Parser)]
#[command(name = "llmload-mock", version, about)]
struct Cli {
    #[command(flatten)]
    args: llmload_mock::Args,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match llmload_mock::run_standalone(cli.args, llmload_mock::stopped()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("llmload-mock: {e:#}");
            // A profile that cannot be used is a usage error, like a bad flag.
            if e.downcast_ref::<LoadError>().is_some() { ExitCode::from(2) } else { ExitCode::FAILURE }
        }
    }
}
