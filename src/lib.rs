//! llmload: load-testing and latency-benchmarking for OpenAI-compatible APIs.
//!
//! The data flow, module by module (see DESIGN.md):
//! `scenario` (validated input) → `workload` (request bodies) and
//! `load::Schedule` (intended start times) → `load::run` (one worker loop,
//! `client::Backend` sends) → `metrics` (histograms, `Summary`) →
//! `results` (the results directory) and `report` (every output format).
//! `target` starts the embedded simulator when a scenario asks for it;
//! `run` puts one run together; `check` probes a target before a run and
//! `cost_gate` asks for consent before a costly live one; `progress` is what
//! the user sees while a run goes on; `rerender` is `llmload report` (outputs
//! again from stored measurements, shards merged); `compare` judges a
//! candidate run against a baseline; this file maps commands to exit codes.

pub mod check;
pub mod cli;
pub mod client;
pub mod compare;
pub mod cost_gate;
pub mod load;
pub mod metrics;
pub mod progress;
pub mod report;
mod rerender;
pub mod results;
mod run;
pub mod scenario;
pub mod target;
pub mod workload;

use std::path::PathBuf;

use tokio::sync::watch;

use cli::{CheckArgs, Cli, Command, ReportArgs, RunArgs};
use load::StopReason;
use load::shutdown::Stop;
use report::Format;
use scenario::{Scenario, ScenarioError};

pub use rerender::{ReportOptions, ReportOutcome, report_results};
pub use run::{RunOptions, RunOutcome, run_loaded, run_scenario};

/// Process exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Ok = 0,
    /// The run failed: nothing succeeded, or a fault stopped it.
    Failed = 1,
    /// Bad input: scenario, arguments or output path.
    BadInput = 2,
    /// Stopped by Ctrl-C or SIGTERM (128 + SIGINT, as shells expect); the
    /// results so far are written and marked partial.
    Interrupted = 130,
}

/// An error in what the user gave us (exit code 2), as opposed to a failure
/// while running (exit code 1).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BadInput(pub String);

fn is_bad_input(e: &anyhow::Error) -> bool {
    e.chain()
        .any(|c| c.is::<BadInput>() || c.is::<ScenarioError>() || c.is::<llmload_mock::profile::LoadError>())
}

/// Runs one parsed command line; prints errors; returns the exit code.
pub async fn main(cli: Cli) -> Exit {
    let result = match cli.command {
        // On the runtime's workers, not the thread that blocks on `main`: the
        // run's collector then wakes where records are sent from, without a
        // thread switch per finished request (profiled: those switches cost
        // about as much CPU as the HTTP client itself).
        Command::Run(args) => match tokio::spawn(cmd_run(args)).await {
            Ok(r) => r,
            Err(e) => Err(anyhow::anyhow!("the run task failed: {e}")),
        },
        Command::Validate { scenarios, profile } => cmd_validate(&scenarios, profile.as_deref()),
        Command::Check(args) => cmd_check(args).await,
        Command::Report(args) => cmd_report(args),
        Command::Mock(args) => cmd_mock(args).await,
        Command::Compare(args) => compare::cmd(&args),
    };
    match result {
        Ok(exit) => exit,
        Err(e) => {
            eprintln!("error: {e:#}");
            if is_bad_input(&e) { Exit::BadInput } else { Exit::Failed }
        }
    }
}

fn cmd_validate(paths: &[PathBuf], profile: Option<&str>) -> anyhow::Result<Exit> {
    let mut exit = Exit::Ok;
    for p in paths {
        match Scenario::load_profile(p, profile) {
            Ok(s) => {
                println!("{}: ok ({} variant{})", p.display(), s.variants.len(), plural(s.variants.len()));
                println!("{}", describe_target(&s));
                println!("{}", scenario::Plan::new(&s).render(&s));
            }
            Err(e) => {
                eprintln!("error: {e}");
                exit = Exit::BadInput;
            }
        }
    }
    Ok(exit)
}

/// The resolved target, and where its URL came from (never the key).
fn describe_target(s: &Scenario) -> String {
    match &s.target {
        scenario::Target::Simulator => "target: the embedded simulator".into(),
        scenario::Target::OpenAi(l) => {
            let profile = l.profile.as_ref().map(|p| format!(", profile {p:?}")).unwrap_or_default();
            format!("target: {} (from {}{profile}), key from ${}", l.base_url, l.base_url_from, l.api_key_env)
        }
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

async fn cmd_mock(args: llmload_mock::Args) -> anyhow::Result<Exit> {
    llmload_mock::run_standalone(args, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(Exit::Ok)
}

async fn cmd_check(args: CheckArgs) -> anyhow::Result<Exit> {
    let s = Scenario::load_profile(&args.scenario, args.profile.as_deref())?;
    check::run(&s, args.no_request).await
}

async fn cmd_run(args: RunArgs) -> anyhow::Result<Exit> {
    if let Some(at) = args.start_at
        && at <= std::time::SystemTime::now()
    {
        let now = results::rfc3339(std::time::SystemTime::now());
        return Err(BadInput(format!(
            "--start-at {}: that time has passed (now {now})",
            results::rfc3339(at)
        ))
        .into());
    }
    let mut s = Scenario::load_profile(&args.scenario, args.profile.as_deref())?;
    if let Some(seed) = args.seed {
        s.seed = seed;
    }
    let names: Vec<String> = s.variants.iter().map(|v| v.name.clone()).collect();
    scenario::apply_overrides(&mut s.slo, &args.slo.objectives, &names)?;
    // What this process sends: its shard's part of the plan (`run_loaded`
    // takes the part itself, from the whole scenario).
    let mut planned = s.clone();
    if let Some(shard) = args.shard {
        shard.apply(&mut planned)?;
    }
    if args.dry_run {
        print!("{}", scenario::Plan::new(&planned).render(&planned));
        return Ok(Exit::Ok);
    }
    if !(args.confirm_above.is_finite() && args.confirm_above >= 0.0) {
        return Err(BadInput(format!(
            "--confirm-above: must be a USD amount >= 0, got {}",
            args.confirm_above
        ))
        .into());
    }
    cost_gate::confirm(&planned, args.confirm_above, args.yes)?;
    let (stop_tx, stop_rx) = watch::channel(Stop::Running);
    tokio::spawn(load::shutdown::escalate_on_signals(stop_tx));
    let opts = RunOptions {
        scenario: args.scenario,
        out: args.out,
        seed: args.seed,
        reports_root: PathBuf::from("reports"),
        progress: progress::for_terminal(args.quiet),
        shard: args.shard,
        start_at: args.start_at,
    };
    let outcome = run_loaded(s, opts, stop_rx).await?;
    report::append_step_summary(&outcome.summary);
    println!("{}", report::Table.render(&outcome.summary));
    println!("results: {}", outcome.dir.display());
    Ok(if outcome.summary.stop_reason == StopReason::Interrupted.as_str() {
        Exit::Interrupted
    } else {
        verdict(&outcome.summary)
    })
}

fn cmd_report(args: ReportArgs) -> anyhow::Result<Exit> {
    let opts = ReportOptions { dirs: args.dirs, out: args.out, slo: args.slo.objectives };
    let outcome = report_results(opts)?;
    report::append_step_summary(&outcome.summary);
    println!("{}", report::Table.render(&outcome.summary));
    println!("results: {}", outcome.dir.display());
    Ok(verdict(&outcome.summary))
}

/// Exit 1, said on stderr, when nothing succeeded or an objective was
/// missed (each named with its actual value and limit); else 0.
fn verdict(s: &metrics::Summary) -> Exit {
    let mut exit = Exit::Ok;
    if s.total.requests.ok == 0 {
        eprintln!("error: no request succeeded ({} ended in error)", s.total.requests.errors);
        exit = Exit::Failed;
    }
    for r in s.slo.iter().filter(|r| !r.passed) {
        eprintln!("error: service-level objective missed: {}", report::slo_line(r));
        exit = Exit::Failed;
    }
    exit
}
