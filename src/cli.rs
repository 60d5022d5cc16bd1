//! Command-line interface (clap derive types only; behaviour lives in lib.rs).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Load-testing and latency-benchmarking for OpenAI-compatible LLM APIs.
///
/// Exit codes: 0 ok, 1 the run failed (no request succeeded, a fault stopped
/// it, or an SLO was missed), 2 bad input (scenario, arguments, output path),
/// 130 stopped by Ctrl-C/SIGTERM (results so far are written).
#[derive(Debug, Parser)]
#[command(name = "llmload", version, about, long_about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a scenario and write its results directory.
    Run(RunArgs),
    /// Check scenario files and print their plans, without sending anything.
    Validate {
        /// Scenario files (TOML).
        #[arg(required = true)]
        scenarios: Vec<PathBuf>,
    },
    /// Start the simulator on its own and print its base URL (the same as
    /// `llmload-mock`).
    Mock(llmload_mock::Args),
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Scenario file (TOML).
    pub scenario: PathBuf,
    /// Results directory [default: reports/<scenario name>/<UTC timestamp>].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Seed for the variant mix, prompts, arrivals and the simulator
    /// (overrides the scenario's `seed`).
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// No progress bar (it is also off when stdout or stderr is not a terminal).
    #[arg(long, short)]
    pub quiet: bool,
    /// Print the plan (variants, load, expected requests, worst-case tokens
    /// and cost) and exit without sending anything.
    #[arg(long)]
    pub dry_run: bool,
}
