//! Command-line interface (clap derive types only; behaviour lives in lib.rs).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Load-testing and latency-benchmarking for OpenAI-compatible LLM APIs.
///
/// Exit codes: 0 ok, 1 the run failed (no request succeeded, a fault stopped
/// it, or an SLO was missed; `report` likewise), 2 bad input (scenario,
/// arguments, output path, results directory), 130 stopped by
/// Ctrl-C/SIGTERM (results so far are written).
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
    /// Compute the outputs of results directories again from their stored
    /// measurements (metrics.json); merge the directories of the shards of
    /// one run into one.
    ///
    /// With one directory, its summary.{json,md,csv} and metrics.json are
    /// rewritten (in place, or into --out with run.json and requests.csv).
    /// With several (the shards of one run), counts and histograms are merged
    /// exactly into --out: per step, variants matched by name; the window is
    /// the longest shard's; requests.csv is the shards' rows with a `shard`
    /// column. Directories of another scenario or other variants are refused
    /// (exit 2). Exit 1 when an objective is missed or no request succeeded.
    Report(ReportArgs),
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
    #[command(flatten)]
    pub slo: SloArgs,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Results directories written by `llmload run` (several: shards of one
    /// run, to merge).
    #[arg(required = true, value_name = "RESULTS_DIR")]
    pub dirs: Vec<PathBuf>,
    /// Where the outputs go [default: the directory itself; required when
    /// merging several].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub slo: SloArgs,
}

#[derive(Debug, Args)]
pub struct SloArgs {
    /// A service-level objective, added to the scenario's [slo] or replacing
    /// its entry for the same metric and variant; repeatable. METRIC and
    /// VALUE as in [slo]: `ttft.p95=800ms`, `error_rate=0.01`,
    /// `requests_per_s={min=15}`; `VARIANT:` scopes it to one variant
    /// (`chat:itl.p50=30ms`). A missed objective exits 1.
    #[arg(long = "slo", value_name = "[VARIANT:]METRIC=VALUE")]
    pub objectives: Vec<String>,
}
