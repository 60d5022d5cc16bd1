//! Command-line interface (clap derive types only; behaviour lives in lib.rs).

use std::path::PathBuf;
use std::time::SystemTime;

use clap::{Args, Parser, Subcommand};

use crate::load::{Shard, parse_start_at};

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
    /// No progress lines while the run goes on.
    #[arg(long, short)]
    pub quiet: bool,
    /// Print the plan (variants, load, expected requests, worst-case tokens
    /// and cost) and exit without sending anything.
    #[arg(long)]
    pub dry_run: bool,
    /// Send only shard K of N of the load (K from 0, e.g.
    /// `$(JOB_COMPLETION_INDEX)/4` in a Kubernetes Indexed Job): its share of
    /// the users (closed loop) or of the arrival rate (open loop) and of
    /// `requests`, with its own seeds. The results directory is a normal one.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<Shard>,
    /// Wait until this time (RFC 3339, e.g. 2026-11-27T10:00:00Z) before the
    /// load starts, so that shards start together. Set-up (scenario,
    /// tokenizer, target) happens before the wait.
    #[arg(long, value_name = "TIME", value_parser = parse_start_at)]
    pub start_at: Option<SystemTime>,
}
