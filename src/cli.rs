//! Command-line interface (clap derive types only; behaviour lives in
//! `commands`).

use std::path::PathBuf;
use std::time::SystemTime;

use clap::{Args, Parser, Subcommand};

pub use crate::compare::OutputFormat as CompareFormat;
use crate::load::{Shard, parse_start_at};

/// Load-testing and latency-benchmarking for OpenAI-compatible LLM APIs.
///
/// Exit codes: 0 ok, 1 the run failed (no request succeeded, a fault stopped
/// it, or an SLO was missed; `report` likewise), `compare` found a
/// regression or a `check` failed, 2 bad input (scenario, arguments, output
/// path, results directory, or a live run refused for its cost), 130 stopped
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
    /// The client's threads [default: one per core].
    ///
    /// N lanes send the requests, each a thread with its share of the users
    /// on a runtime of its own; the progress line and the embedded simulator
    /// run beside them on N threads more. When the server under test shares
    /// this machine, fewer threads leave it more of the cores, at a price:
    /// on 2 cores one lane spent less CPU per HTTP/2 stream, but made fewer
    /// requests/s of one token, being then the bottleneck (BENCHMARKS.md,
    /// "One client thread" and "Lanes").
    #[arg(long, global = true, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub threads: Option<u16>,
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
    /// Compute the outputs of results directories again from their stored
    /// measurements (metrics.json); merge the directories of the shards of
    /// one run into one.
    ///
    /// With one directory, its summary.{json,md,csv}, metrics.json, charts and
    /// report.html are
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
    /// Find the highest open-loop rate at which the scenario's [slo] holds:
    /// a synchronous probe for the service time, then rates doubled until
    /// one misses, then bisection to [search] precision. Each probe is a run
    /// of its own (<out>/probes/), judged with the bootstrap interval of each
    /// percentile: meets, misses, or too close to call (measured again,
    /// longer). Exit 0 with a capacity, 1 when none or below --min-rate.
    Search(SearchArgs),
    /// Print the shell completion script for SHELL: e.g.
    /// `source <(llmload completions bash)`, or save it where the shell
    /// loads completions from (see README).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) of llmload, or with --out DIR write
    /// llmload.1 and a page per command (llmload-run.1, ...) into DIR.
    Man {
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// Compare two results directories: per variant and in total, each
    /// metric's change and whether it is a regression beyond run-to-run noise.
    #[command(long_about = COMPARE_ABOUT)]
    Compare(CompareArgs),
    /// Fit a simulator profile from results directories of live runs: TTFT
    /// against prompt tokens, the ITL distribution, output lengths, errors,
    /// rate limits and, from several load levels, the capacity; each with
    /// how well it fits. `run --simulator PROFILE.toml` then replays the
    /// scenario against it.
    Calibrate(CalibrateArgs),
}

const COMPARE_ABOUT: &str = "\
Compare two results directories (baseline, candidate): per variant (matched by
name) and in total, the change of TTFT, e2e and ITL p50/p95/p99, requests/s,
output tokens/s, error rate and cost per request, each with a verdict:
regression, improvement or no significant change.

A change is a regression only when it is statistically significant at alpha
0.01 AND worse by more than --max-regression. Latency: a Mann-Whitney U test
(normal approximation, tie-corrected) on the measured ok requests of
requests.csv, and a seeded bootstrap 99% interval of the percentile's change
that must exclude 0 (ITL is tested on each request's mean inter-token gap).
Throughput: a z-test with the variance from 20 time slices of each run (batch
means); error rate: a two-proportion z-test; cost per request: a z-test on
per-request costs. docs/compare.md has the details.

Exit codes: 0 no significant regression, 1 at least one, 2 a directory or
file is missing or unreadable, or an argument is bad.";

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// Results directory of the reference run.
    #[arg(value_name = "BASELINE_DIR")]
    pub baseline: PathBuf,
    /// Results directory of the run to judge.
    #[arg(value_name = "CANDIDATE_DIR")]
    pub candidate: PathBuf,
    /// Largest tolerated worsening of a metric, as `10%` or `0.1`.
    #[arg(long, value_name = "THRESHOLD", default_value = "10%", value_parser = crate::compare::parse_threshold)]
    pub max_regression: f64,
    /// Output format.
    #[arg(long, value_enum, default_value_t = CompareFormat::Text)]
    pub format: CompareFormat,
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

/// `llmload calibrate`.
#[derive(Debug, Args)]
pub struct CalibrateArgs {
    /// Results directories of live runs (this version's format), e.g. one
    /// run with stages, or the probes of a capacity search.
    #[arg(required = true, value_name = "RESULTS_DIR")]
    pub dirs: Vec<PathBuf>,
    /// Where to write the fitted simulator profile (TOML).
    #[arg(long, value_name = "PROFILE.toml")]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Scenario file (TOML).
    pub scenario: PathBuf,
    /// The `[profiles.<NAME>]` target to run against (required when the
    /// scenario defines profiles and no `default_profile`).
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// Run against the embedded simulator with this profile (the simulator's
    /// TOML, such as `llmload calibrate` fits from a live run), whatever
    /// target the scenario names: the same scenario, replayed for free.
    #[arg(long, value_name = "PROFILE.toml", conflicts_with = "profile")]
    pub simulator: Option<PathBuf>,
    #[command(flatten)]
    pub cost: CostArgs,
    /// Results directory [default: reports/<scenario name>/<UTC timestamp>].
    /// It must be new or empty, unless --force.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Reuse a non-empty --out: the results of the earlier run there are
    /// removed first (a directory holding other files is still refused).
    #[arg(long)]
    pub force: bool,
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
    #[command(flatten)]
    pub slo: SloArgs,
}

/// Consent to what a live run may cost (`run` and `search`).
#[derive(Debug, Args)]
pub struct CostArgs {
    /// Start a live run whose worst-case cost is above `--confirm-above`, or
    /// unknown, without asking.
    #[arg(long, short)]
    pub yes: bool,
    /// Live runs whose worst-case cost passes this many USD (or cannot be
    /// bounded) need `--yes`, a `[budget] max_usd`, or an answer on a terminal.
    #[arg(long, value_name = "USD", default_value_t = 1.0)]
    pub confirm_above: f64,
}

#[derive(Debug, Args)]
pub struct SearchArgs {
    /// Scenario file (TOML) with [slo] (and optionally [search]).
    pub scenario: PathBuf,
    /// The `[profiles.<NAME>]` target to search against.
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// Exit 1 when the capacity found is below this many requests/s
    /// (overrides [search] min_rate): a CI gate on capacity.
    #[arg(long, value_name = "REQ_PER_S")]
    pub min_rate: Option<f64>,
    /// The search's worst case is every probe at [search] max_rate.
    #[command(flatten)]
    pub cost: CostArgs,
    /// Results directory [default: reports/<scenario name>-search/<UTC timestamp>];
    /// new or empty unless --force.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    #[arg(long)]
    pub force: bool,
    /// Seed for the variant mix, prompts, arrivals and the simulator.
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// No line per probe on stderr.
    #[arg(long, short)]
    pub quiet: bool,
    /// Search with N processes together, this one shard K (K from 0): each
    /// probe's rate (or users) is split as `run --shard` splits it. Every
    /// shard needs the same scenario and --out DIR, a directory they all
    /// see; shard 0 decides the probes, judges them merged and writes the
    /// results; every shard exits with the search's exit code.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<Shard>,
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
    /// merging several]. It must be new or empty, unless --force.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Reuse a non-empty --out: the results there are removed first.
    #[arg(long)]
    pub force: bool,
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
