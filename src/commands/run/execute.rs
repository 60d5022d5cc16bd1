//! One run, start to finish: results directory, target, the steps of the
//! load plan (one, or one per variant in a sequential sweep), the summary
//! computed once, and every output written.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use tokio::sync::watch;

use crate::client::target::RunningTarget;
use crate::client::{self, Backend, OpenAiBackend};
use crate::error::Result;
use crate::load::shutdown::Stop;
use crate::load::{self, BudgetGuard, Limiter, Schedule, Step, StopReason};
use crate::metrics::{self, Metrics, Summary, VariantInfo};
use crate::progress::Progress;
use crate::report;
use crate::results::{self, ResultsDir, Reuse, RunInfo};
use crate::scenario::{Scenario, SweepMode};
use crate::workload::Workload;

/// What `run_scenario` needs; the CLI fills it from its arguments.
pub struct RunOptions {
    pub scenario: PathBuf,
    pub out: Option<PathBuf>,
    pub seed: Option<u64>,
    /// Where default results directories go (`reports/`).
    pub reports_root: PathBuf,
    /// Where progress goes (`progress::for_terminal`, or `progress::Messages`).
    pub progress: Box<dyn Progress>,
    /// Send only this shard's part of the load (`--shard K/N`).
    pub shard: Option<load::Shard>,
    /// Start the load at this wall-clock time (`--start-at`).
    pub start_at: Option<SystemTime>,
    /// `--force`: a non-empty `out` is reused, its old results removed.
    pub force: bool,
}

pub struct RunOutcome {
    pub summary: Summary,
    pub dir: PathBuf,
    /// The first file of the results directory that could not be written,
    /// and why: the run's figures are in `summary` all the same, and the
    /// command prints them before failing.
    pub write_error: Option<String>,
}

/// A scenario made ready for this process, once: the seed given on the
/// command line set (the simulator's too), and this shard's part of the
/// load taken.
pub struct Prepared {
    pub scenario: Scenario,
    /// The seed before the shard derived its own (run.json records both).
    pub scenario_seed: u64,
    pub shard: Option<load::Shard>,
}

impl Prepared {
    pub fn new(mut scenario: Scenario, seed: Option<u64>, shard: Option<load::Shard>) -> Result<Self> {
        if let Some(seed) = seed {
            scenario.seed = seed;
            scenario.simulator.seed = seed;
        }
        let scenario_seed = scenario.seed;
        if let Some(shard) = shard {
            shard.apply(&mut scenario)?;
        }
        Ok(Prepared { scenario, scenario_seed, shard })
    }
}

/// Loads, runs and reports one scenario. `stop` turning true ends the run
/// early (Ctrl-C); what was measured is kept and the summary marked partial.
pub async fn run_scenario(opts: RunOptions, stop: watch::Receiver<Stop>) -> Result<RunOutcome> {
    let scenario = Scenario::load(&opts.scenario)?;
    run_loaded(scenario, opts, stop).await
}

/// Runs an already validated scenario (tests shorten the load of example
/// scenarios this way), with `opts.seed` and `opts.shard` applied.
pub async fn run_loaded(
    scenario: Scenario,
    opts: RunOptions,
    stop: watch::Receiver<Stop>,
) -> Result<RunOutcome> {
    let prepared = Prepared::new(scenario, opts.seed, opts.shard)?;
    execute(prepared, opts, stop).await
}

/// Runs a prepared scenario against its target (the embedded simulator,
/// started here, or the live API); `opts.seed` and `opts.shard` are already
/// in it.
pub async fn execute(
    prepared: Prepared,
    opts: RunOptions,
    stop: watch::Receiver<Stop>,
) -> Result<RunOutcome> {
    client::target::require_key(&prepared.scenario)?;
    let target = RunningTarget::start(&prepared.scenario).await?;
    let policy = client::Policy::from_scenario(&prepared.scenario);
    let result = match OpenAiBackend::for_endpoint(&target.endpoint, policy) {
        Ok(backend) => {
            let base_url = target.base_url().to_owned();
            execute_with(prepared, opts, stop, backend, &base_url).await
        }
        Err(e) => Err(e),
    };
    target.stop().await?;
    result
}

/// Runs a prepared scenario with `backend` carrying every request (tests
/// give a deterministic fake); `base_url` is what run.json records.
pub async fn execute_with<B: Backend>(
    prepared: Prepared,
    opts: RunOptions,
    stop: watch::Receiver<Stop>,
    backend: B,
    base_url: &str,
) -> Result<RunOutcome> {
    let Prepared { scenario, scenario_seed, shard } = prepared;
    let now = SystemTime::now();
    let reuse = if opts.force { Reuse::Replace } else { Reuse::Empty };
    let dir = ResultsDir::create(opts.out.as_deref(), &opts.reports_root, &scenario.name, now, reuse)?;
    let names: Vec<String> = scenario.variants.iter().map(|v| v.name.clone()).collect();
    let models = scenario.variants.iter().map(|v| v.model.clone()).collect();
    let levels = scenario.load.stages.iter().map(|s| s.level).collect();
    let mut csv = dir.requests_writer(names)?.describe(models, levels);
    let mut info = RunInfo::new(&scenario, base_url, now);
    info.shard = shard.map(|s| results::ShardInfo { index: s.index, count: s.count, scenario_seed });
    info.start_at = opts.start_at.map(results::rfc3339);
    dir.write_run_info(&info)?;
    // Every tokenizer the run may count in, loaded before the first request
    // (o200k takes ~80 ms; its first use used to stall a worker mid-run).
    let tokenizers: Vec<_> = scenario.variants.iter().map(|v| v.tokenizer.clone()).collect();
    let _ = tokio::task::spawn_blocking(move || tokenizers.iter().for_each(|t| t.prepare())).await;
    let backend = Arc::new(backend);
    let budget = Arc::new(BudgetGuard::new(scenario.budget.max_usd));
    let limiter = Limiter::new(scenario.client_limit).map(Arc::new);
    let mut progress = opts.progress;
    // A sequential sweep runs the whole load plan once per variant; anything
    // else is one step with every variant mixed.
    let steps: Vec<Option<usize>> = match scenario.sweep_mode {
        SweepMode::Sequential => (0..scenario.variants.len()).map(Some).collect(),
        SweepMode::Mix => vec![None],
    };
    let mut measured = Vec::new();
    let mut dispatch_lateness = metrics::new_histogram();
    let cpu_start = client_cpu_seconds();
    let wall_start = Instant::now();
    let mut notes = Vec::new();
    let mut stop_reason = StopReason::Duration;
    let mut ended_at = now;
    let mut first_request_at = None;
    crate::lanes::start().map_err(|e| anyhow::anyhow!("{e}"))?;
    if let Some(at) = opts.start_at {
        wait_until(at, stop.clone(), progress.as_mut()).await;
    }
    let phase = shard.map_or(0.0, |s| s.phase());
    for (k, only) in steps.iter().enumerate() {
        if k > 0 {
            csv.next_step();
        }
        if let Some(i) = only {
            progress.message(&format!("step {}/{}: {}", k + 1, steps.len(), scenario.variants[*i].name));
        }
        let workload = match only {
            Some(i) => Workload::single(&scenario.variants, *i, scenario.seed),
            None => Workload::new(&scenario.variants, scenario.seed),
        };
        let schedule =
            Arc::new(Schedule::new(&scenario.load, scenario.seed, Instant::now()).with_phase(phase));
        let infos = scenario.variants.iter().map(|v| VariantInfo {
            name: v.name.clone(),
            streaming: v.stream,
            embeddings: v.endpoint == crate::scenario::Endpoint::Embeddings,
            priced: v.price.is_some(),
            swept: v.swept.clone(),
        });
        let metrics = Metrics::new(infos, scenario.load.stages.len(), schedule.warmup_end())
            .with_goodput(scenario.goodput);
        let step = Step {
            backend: backend.clone(),
            workload: Arc::new(workload),
            schedule: schedule.clone(),
            budget: budget.clone(),
            limiter: limiter.clone(),
            abort_on_error_rate: scenario.load.abort_on_error_rate,
            warn_usd: scenario.budget.warn_usd,
        };
        let result = load::run(step, metrics, &mut csv, stop.clone(), progress.as_mut()).await?;
        measured.push(result.metrics);
        let _ = dispatch_lateness.add(&result.dispatch_lateness);
        notes.extend(result.notes);
        if let Some(e) = schedule.trace_error() {
            notes.push(format!("the trace's replay stopped early: {e}"));
        }
        first_request_at = first_request_at.or(result.first_request_at);
        stop_reason = result.stop_reason;
        ended_at = result.ended_at;
        if stop_reason.is_partial() {
            break;
        }
    }

    // The lanes are idle now; what they freed would stay resident through
    // the report (src/alloc.rs).
    crate::alloc::release_freed();
    let partial = stop_reason.is_partial() || measured.len() < steps.len();
    let mut summary = Summary::new(&scenario.name, &measured, &scenario.load.stages, stop_reason, partial);
    summary.notes = notes;
    let sources = &summary.total.output_token_source;
    for (n, how) in [
        (sources.tokenizer, "the model's own tokenizer.json"),
        (sources.tiktoken, "tiktoken (the model's OpenAI encoding)"),
        (sources.fallback, "the fallback encoding (o200k_base: not the model's own; give [tokenizers])"),
    ] {
        if n > 0 {
            summary.notes.push(format!(
                "{n} ok requests had no usage from the server: their output tokens were counted with {how} \
                 on the text received"
            ));
        }
    }
    if sources.estimate > 0 {
        summary.notes.push(format!(
            "{} ok requests have estimated output tokens (one per event): they ended before their text could be counted",
            sources.estimate
        ));
    }
    let reconnects = summary.total.requests.reconnects;
    if reconnects > 0 {
        summary.notes.push(format!(
            "{reconnects} times a request was sent again before any answer, not as an error nor a retry: \
             a kept-alive connection the server had closed (sent again once, on a new connection) or an \
             HTTP/2 stream the server refused unprocessed (up to 3 times); counted as reconnects"
        ));
    }
    summary.notes.extend(client_stall_note(&dispatch_lateness, &summary));
    summary.notes.extend(unsupported_features(&scenario, &summary));
    // A shard's share of the run cannot meet or miss an objective on the
    // whole run (throughput, error rate, cost): the merge judges those.
    if shard.is_some_and(|s| s.count > 1) {
        summary.judge_shard(&scenario.slo);
    } else {
        summary.judge(&scenario.slo);
    }
    info.ended_at = Some(results::rfc3339(ended_at));
    info.partial = Some(partial);
    info.stop_reason = Some(stop_reason);
    info.client = Some(results::ClientOverhead::new(
        &dispatch_lateness,
        cpu_start.zip(client_cpu_seconds()).map(|(a, b)| b - a),
        wall_start.elapsed(),
        first_request_at,
    ));
    // A file that cannot be written (a full disk) does not lose the run:
    // what was measured is returned for the terminal, with the error.
    let write_error = csv
        .error()
        .map(str::to_owned)
        .or_else(|| dir.write_run_info(&info).err().map(|e| format!("{e:#}")))
        .or_else(|| report::write_all(&dir, &summary, &measured, &info).err().map(|e| format!("{e:#}")));
    Ok(RunOutcome { summary, dir: dir.path, write_error })
}

/// A note when the client's own delays could have moved a reported latency
/// percentile. Latency counts from the intended start, so a dispatch the
/// client made late (a stalled worker, a starved core) adds to the latency
/// reported for the server. A delay counts when it exceeds 2 ms and 5% of the
/// TTFT p50; the note names the lowest percentile the delayed share can
/// reach (a share of 1% reaches p99). Delays too rare to reach p99.9 are
/// left to run.json (`client.dispatch_lateness_ms`).
fn client_stall_note(lateness_us: &hdrhistogram::Histogram<u64>, summary: &Summary) -> Option<String> {
    let ttft_p50_ms = summary.total.ttft_ms.p50?;
    let threshold_us = (ttft_p50_ms * 50.0).max(2000.0) as u64;
    let late = lateness_us.count_between(threshold_us, u64::MAX);
    let share = late as f64 / lateness_us.len().max(1) as f64;
    let reached = [(0.5, "p50"), (0.1, "p90"), (0.05, "p95"), (0.01, "p99"), (0.001, "p99.9")]
        .into_iter()
        .find(|(q, _)| share >= *q)?
        .1;
    Some(format!(
        "the client itself was late sending {late} of {} requests by more than {:.1} ms (up to {:.1} ms): \
         latency counts from the intended start, so percentiles from {reached} up may hold the client's \
         delay, not the server's (run.json: client.dispatch_lateness_ms)",
        lateness_us.len(),
        threshold_us as f64 / 1000.0,
        lateness_us.max() as f64 / 1000.0
    ))
}

/// Sleeps until the wall-clock time `at` (or until the run is stopped: the
/// runner then ends at once with nothing sent). Set-up may have taken longer
/// than the lead time given; the load then starts late, and says so.
async fn wait_until(at: SystemTime, mut stop: watch::Receiver<Stop>, progress: &mut dyn Progress) {
    match at.duration_since(SystemTime::now()) {
        Ok(wait) => {
            let at = results::rfc3339(at);
            progress.message(&format!("waiting {:.1} s to start at {at}", wait.as_secs_f64()));
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = stop.wait_for(|s| *s >= Stop::Draining) => {}
            }
        }
        Err(late) => progress.message(&format!(
            "warning: set-up ended {:.3} s after --start-at {}; starting now",
            late.duration().as_secs_f64(),
            results::rfc3339(at)
        )),
    }
}

/// What a server did not support, variant by variant: several choices per
/// request (n, batch) asked but fewer returned (some servers ignore `n`, so
/// tokens and cost are lower than the plan's; counted from finish reasons,
/// one per choice), or a prompt array that always failed.
fn unsupported_features(s: &Scenario, summary: &Summary) -> Vec<String> {
    let mut notes = Vec::new();
    for v in &s.variants {
        let want = u64::from(v.n) * u64::from(v.batch);
        let Some(st) = summary.variants.iter().find(|st| st.name == v.name) else { continue };
        let got: u64 = st.finish_reasons.values().sum();
        let ok = st.requests.ok;
        // Embeddings have no choices: the client checks each answer's vectors.
        let embeddings = v.endpoint == crate::scenario::Endpoint::Embeddings;
        if want > 1 && ok > 0 && got < ok * want && !embeddings {
            notes.push(format!(
                "{}: {ok} ok requests returned {got} choices, not {want} each (n = {}, batch = {}): the server may ignore n",
                v.name, v.n, v.batch
            ));
        }
        if v.batch > 1 && ok == 0 && st.requests.errors > 0 {
            let classes: Vec<&str> = st.errors.iter().map(|e| e.class.as_str()).collect();
            notes.push(format!(
                "{}: every request failed ({}): the server may not accept a prompt array (batch = {})",
                v.name,
                classes.join(", "),
                v.batch
            ));
        }
    }
    notes
}

/// CPU time (user + system) this process has used, from /proc on Linux;
/// `None` elsewhere. The kernel reports it in clock ticks of 1/100 s.
fn client_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}
