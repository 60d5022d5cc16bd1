//! `llmload run`: the arguments checked, the scenario prepared once (seed,
//! shard), the plan printed (`--dry-run`) or the cost gate passed, then the
//! run (`execute`) and its table, with the exit code of its outcome.

pub mod cost_gate;
mod execute;

use std::path::PathBuf;
use std::time::SystemTime;

use tokio::sync::watch;

pub use execute::{Prepared, RunOptions, RunOutcome, execute, execute_with, run_loaded, run_scenario};

use super::verdict;
use crate::cli::RunArgs;
use crate::error::{ArgumentError, Exit, Result};
use crate::load::shutdown::{self, Stop};
use crate::metrics::{StopReason, Summary};
use crate::progress;
use crate::report::{self, Format};
use crate::results::rfc3339;
use crate::scenario::{self, Scenario};

pub async fn command(args: RunArgs) -> Result<Exit> {
    if let Some(at) = args.start_at
        && at <= SystemTime::now()
    {
        let problem = format!("{}: that time has passed (now {})", rfc3339(at), rfc3339(SystemTime::now()));
        return Err(ArgumentError { arg: "--start-at", problem }.into());
    }
    args.cost.check()?;
    let mut s = match &args.simulator {
        Some(profile) => Scenario::load_simulated(&args.scenario, llmload_mock::profile::load(profile, 0)?)?,
        None => Scenario::load_profile(&args.scenario, args.profile.as_deref())?,
    };
    let names: Vec<String> = s.variants.iter().map(|v| v.name.clone()).collect();
    scenario::apply_overrides(&mut s.slo, &args.slo.objectives, &names)?;
    // What this process sends: its shard's part of the plan, with its seed.
    let prepared = Prepared::new(s, args.seed, args.shard)?;
    if args.dry_run {
        say!("{}", scenario::Plan::new(&prepared.scenario).render(&prepared.scenario));
        return Ok(Exit::Ok);
    }
    crate::client::target::require_key(&prepared.scenario)?;
    cost_gate::confirm(&prepared.scenario, &args.cost)?;
    let (stop_tx, stop_rx) = watch::channel(Stop::Running);
    tokio::spawn(shutdown::escalate_on_signals(stop_tx));
    let opts = RunOptions {
        scenario: args.scenario,
        out: args.out,
        seed: args.seed,
        reports_root: PathBuf::from("reports"),
        progress: progress::for_terminal(args.quiet),
        shard: args.shard,
        start_at: args.start_at,
        force: args.force,
    };
    let outcome = execute(prepared, opts, stop_rx).await?;
    report::append_step_summary(&outcome.summary);
    sayln!("{}", report::Table::for_terminal().render(&outcome.summary));
    if let Some(e) = &outcome.write_error {
        eprintln!("error: the results in {} are incomplete: {e}", outcome.dir.display());
        let _ = exit_code(&outcome.summary);
        return Ok(Exit::Failed);
    }
    sayln!("results: {}", outcome.dir.display());
    Ok(exit_code(&outcome.summary))
}

/// The exit code of a finished run, with the reason on stderr: 130 when a
/// signal stopped it; 1 when an abort threshold or the budget cut it short,
/// nothing succeeded, or an objective was missed; else 0.
pub fn exit_code(summary: &Summary) -> Exit {
    let cut_short = match summary.stop_reason {
        StopReason::Interrupted => return Exit::Interrupted,
        StopReason::Duration | StopReason::Requests => return verdict(summary),
        StopReason::ErrorRate => "the error rate passed load.abort_on_error_rate",
        StopReason::Budget => "the next request could have passed budget.max_usd",
    };
    // The objectives are still judged and said, but the run failed anyway.
    let _ = verdict(summary);
    eprintln!("error: the run was stopped early: {cut_short}");
    Exit::Failed
}
