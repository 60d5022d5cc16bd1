//! Command-line interface (clap derive types only; behaviour lives in lib.rs).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Load-testing and latency-benchmarking for OpenAI-compatible LLM APIs.
///
/// Exit codes: 0 ok, 1 the run failed (no request succeeded, a fault stopped
/// it, or an SLO was missed) or a `check` failed, 2 bad input (scenario,
/// arguments, output path, or a live run refused for its cost), 130 stopped
/// by Ctrl-C/SIGTERM (results so far are written).
///
/// Live targets: the key only ever comes from the environment
/// (`api_key_env`, default OPENAI_API_KEY); `base_url` defaults to
/// OPENAI_BASE_URL. See docs/scenario.md.
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
        /// The `[profiles.<NAME>]` target to resolve.
        #[arg(long, value_name = "NAME")]
        profile: Option<String>,
    },
    /// Check that a scenario's target answers before running it: connects,
    /// lists /v1/models and confirms every model, sends one request of one
    /// token per variant, and compares the server's rate limits with the
    /// plan. Exit 0 all good, 1 a check failed, 2 bad input.
    Check(CheckArgs),
    /// Start the simulator on its own and print its base URL (the same as
    /// `llmload-mock`).
    Mock(llmload_mock::Args),
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Scenario file (TOML).
    pub scenario: PathBuf,
    /// The `[profiles.<NAME>]` target to check.
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// Only connect and list the models; send no generation request.
    #[arg(long)]
    pub no_request: bool,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Scenario file (TOML).
    pub scenario: PathBuf,
    /// The `[profiles.<NAME>]` target to run against (required when the
    /// scenario defines profiles and no `default_profile`).
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// Start a live run whose worst-case cost is above `--confirm-above`, or
    /// unknown, without asking.
    #[arg(long, short)]
    pub yes: bool,
    /// Live runs whose worst-case cost passes this many USD (or cannot be
    /// bounded) need `--yes`, a `[budget] max_usd`, or an answer on a terminal.
    #[arg(long, value_name = "USD", default_value_t = 1.0)]
    pub confirm_above: f64,
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
}
