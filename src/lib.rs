//! llmload: load-testing and latency-benchmarking for OpenAI-compatible APIs.
//!
//! The data flow, module by module (see DESIGN.md):
//! `scenario` (validated input) → `workload` (request bodies) and
//! `load::Schedule` (intended start times) → `load::run` (one worker loop,
//! `client::Backend` sends) → `metrics` (histograms, `Summary`) →
//! `results` (the results directory) and `report` (every output format).
//! `target` starts the embedded simulator when a scenario asks for it;
//! `run` puts one run together; this file maps commands to exit codes.

pub mod cli;
pub mod client;
pub mod load;
pub mod metrics;
pub mod report;
pub mod results;
mod run;
pub mod scenario;
pub mod target;
pub mod workload;

use std::io::IsTerminal;
use std::path::PathBuf;

use tokio::sync::watch;

use cli::{Cli, Command, RunArgs};
use load::StopReason;
use load::shutdown::Stop;
use report::Format;
use scenario::{Scenario, ScenarioError};

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
        Command::Validate { scenarios } => cmd_validate(&scenarios),
        Command::Mock(args) => cmd_mock(args).await,
    };
    match result {
        Ok(exit) => exit,
        Err(e) => {
            eprintln!("error: {e:#}");
            if is_bad_input(&e) { Exit::BadInput } else { Exit::Failed }
        }
    }
}

fn cmd_validate(paths: &[PathBuf]) -> anyhow::Result<Exit> {
    let mut exit = Exit::Ok;
    for p in paths {
        match Scenario::load(p) {
            Ok(s) => {
                println!("{}: ok ({} variant{})", p.display(), s.variants.len(), plural(s.variants.len()));
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
    if args.dry_run {
        let mut s = Scenario::load(&args.scenario)?;
        if let Some(seed) = args.seed {
            s.seed = seed;
        }
        if let Some(shard) = args.shard {
            shard.apply(&mut s)?;
        }
        print!("{}", scenario::Plan::new(&s).render(&s));
        return Ok(Exit::Ok);
    }
    let (stop_tx, stop_rx) = watch::channel(Stop::Running);
    tokio::spawn(load::shutdown::escalate_on_signals(stop_tx));
    let quiet = args.quiet;
    let opts = RunOptions {
        scenario: args.scenario,
        out: args.out,
        seed: args.seed,
        reports_root: PathBuf::from("reports"),
        progress: !args.quiet,
        shard: args.shard,
        start_at: args.start_at,
    };
    let outcome = run_scenario(opts, stop_rx).await?;
    if !quiet && std::io::stderr().is_terminal() {
        eprintln!(); // end the progress line
    }
    println!("{}", report::Table.render(&outcome.summary));
    println!("results: {}", outcome.dir.display());
    Ok(if outcome.summary.stop_reason == StopReason::Interrupted.as_str() {
        Exit::Interrupted
    } else if outcome.summary.total.requests.ok == 0 {
        eprintln!("error: no request succeeded");
        Exit::Failed
    } else if outcome.summary.slo_passed == Some(false) {
        eprintln!("error: service-level objectives not met");
        Exit::Failed
    } else {
        Exit::Ok
    })
}
