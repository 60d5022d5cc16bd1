//! `llmload search`: the highest open-loop rate at which the scenario's
//! `[slo]` holds (`capacity`), measured by probes.
//!
//! Each probe is a normal run of the scenario's variants at one rate, with
//! its own warm-up, written to `<out>/probes/<k>-<rate>/`. A synchronous
//! probe (one user) first gives the service time, hence the first rate; the
//! verdicts then drive `capacity::Search`. A probe too close to call is
//! measured again, twice as long, once.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use tokio::sync::watch;

use super::run::{Prepared, RunOptions, cost_gate, execute};
use crate::capacity::{self, Capacity, Probe, Samples, Verdict};
use crate::cli::SearchArgs;
use crate::error::{ArgumentError, Exit, Result};
use crate::load::shutdown::{self, Stop};
use crate::metrics::StopReason;
use crate::results::{ResultsDir, Reuse};
use crate::scenario::{self, Arrival, DEFAULT_MAX_IN_FLIGHT, LoadMode, Scenario, Stage, SweepMode};

pub async fn command(args: SearchArgs) -> Result<Exit> {
    let mut s = Scenario::load_profile(&args.scenario, args.profile.as_deref())?;
    let names: Vec<String> = s.variants.iter().map(|v| v.name.clone()).collect();
    scenario::apply_overrides(&mut s.slo, &args.slo.objectives, &names)?;
    if s.slo.is_empty() {
        let problem =
            "a capacity search needs objectives to meet: add [slo] to the scenario or give --slo".into();
        return Err(ArgumentError { arg: "SCENARIO", problem }.into());
    }
    if let Some(m) = args.min_rate {
        if !(m.is_finite() && m >= scenario::MIN_RATE) {
            let problem = format!("must be a rate of at least {} requests/s, got {m}", scenario::MIN_RATE);
            return Err(ArgumentError { arg: "--min-rate", problem }.into());
        }
        s.search.min_rate = Some(m);
    }
    crate::client::target::require_key(&s)?;
    // The worst case of the whole search: every probe at the ceiling.
    let all = probes_at_ceiling(&s);
    args.cost.check()?;
    cost_gate::confirm(&all, &args.cost)?;
    let root = ResultsDir::create(
        args.out.as_deref(),
        &PathBuf::from("reports"),
        &format!("{}-search", s.name),
        SystemTime::now(),
        if args.force { Reuse::Replace } else { Reuse::Empty },
    )?;
    let (stop_tx, stop_rx) = watch::channel(Stop::Running);
    tokio::spawn(shutdown::escalate_on_signals(stop_tx));
    let outcome = search(&s, &root, args.seed, args.quiet, stop_rx).await?;
    let table = render(&outcome.capacity);
    print!("{table}");
    let json = serde_json::json!({ "scenario": s.name, "capacity": outcome.capacity });
    root.write("summary.json", serde_json::to_string_pretty(&json).unwrap_or_default().as_bytes())?;
    root.write("summary.md", format!("## llmload search: {}\n\n```text\n{table}```\n", s.name).as_bytes())?;
    let (svg, png, html) = crate::report::capacity_visuals(&outcome.capacity, &table, &s.name)?;
    root.write("charts/capacity.svg", svg.as_bytes())?;
    root.write("charts/capacity.png", &png)?;
    root.write("report.html", html.as_bytes())?;
    println!("results: {}", root.path.display());
    if outcome.interrupted {
        return Ok(Exit::Interrupted);
    }
    if !outcome.capacity.passed {
        let min = outcome.capacity.min_rate.unwrap_or_default();
        eprintln!("error: the capacity found is below min_rate = {min} requests/s");
        return Ok(Exit::Failed);
    }
    Ok(if outcome.capacity.max_rate.is_some() { Exit::Ok } else { Exit::Failed })
}

pub struct SearchOutcome {
    pub capacity: Capacity,
    pub interrupted: bool,
}

/// Runs the probes of a search of `s` into `root`'s `probes/`.
pub async fn search(
    s: &Scenario,
    root: &ResultsDir,
    seed: Option<u64>,
    quiet: bool,
    stop: watch::Receiver<Stop>,
) -> Result<SearchOutcome> {
    let cfg = s.search;
    let say = |line: String| {
        if !quiet {
            eprintln!("{line}");
        }
    };
    let mut spent = 0.0;
    let mut probes: Vec<Probe> = Vec::new();
    let mut k = 0;
    let mut run = |scenario: Scenario, label: String| {
        k += 1;
        let out = root.path.join("probes").join(format!("{k:02}-{label}"));
        let opts = RunOptions {
            scenario: s.path.clone(),
            out: Some(out),
            seed,
            reports_root: PathBuf::from("reports"),
            progress: Box::new(crate::progress::Messages),
            shard: None,
            start_at: None,
            force: false,
        };
        let stop = stop.clone();
        async move { execute(Prepared::new(scenario, None, None)?, opts, stop).await }
    };

    // Closed loop: the level is a number of users, from one. Open loop: one
    // user, one request at a time, gives the service time, hence the first rate.
    let closed = s.load.mode == LoadMode::Closed;
    let (mut search, mut interrupted) = if closed {
        let max_users = cfg.max_rate.min(f64::from(u32::MAX)) as u32;
        (capacity::Search::users(1, max_users, cfg.precision), false)
    } else {
        let length = (cfg.probe / 2).max(Duration::from_secs(1));
        let sync = run(closed_probe(s, 1, length, Duration::ZERO), "synchronous".into()).await?;
        spent += sync.summary.total.cost_usd.unwrap_or(0.0);
        let service_ms = sync.summary.total.e2e_service_ms.mean;
        let start = match service_ms {
            Some(ms) if ms > 0.0 => 1000.0 / ms,
            _ => {
                return Err(anyhow::anyhow!(
                    "the synchronous probe got no answer ({} errors): nothing to search from; see {}",
                    sync.summary.total.requests.errors,
                    sync.dir.display()
                )
                .into());
            }
        };
        say(format!(
            "service time {:.1} ms: starting at {start:.2} requests/s",
            service_ms.unwrap_or_default()
        ));
        let interrupted = sync.summary.stop_reason == StopReason::Interrupted;
        (capacity::Search::new(start, cfg.max_rate, cfg.precision), interrupted)
    };
    let unit = if closed { "users" } else { "requests/s" };
    let mut limiting = None;
    while let Some(rate) = search.next() {
        if interrupted || probes.len() as u32 + 1 >= cfg.max_probes {
            break;
        }
        let budget_left = s.budget.max_usd.map(|m| m - spent);
        if budget_left.is_some_and(|b| b <= 0.0) {
            say("the budget is spent: the search stops here".into());
            break;
        }
        let mut verdict = Verdict::TooClose;
        for (attempt, length) in [cfg.probe, cfg.probe * 2].into_iter().enumerate() {
            if attempt > 0 && (verdict != Verdict::TooClose || probes.len() as u32 + 1 >= cfg.max_probes) {
                break;
            }
            let mut p = if closed {
                let mut p = closed_probe(s, rate as u32, length, cfg.warmup);
                p.load.think_time = s.load.think_time;
                p
            } else {
                open_probe(s, rate, length)
            };
            p.budget.max_usd = budget_left;
            let again = if attempt > 0 { "-again" } else { "" };
            let label = if closed { format!("{rate}users{again}") } else { format!("{rate:.3}rps{again}") };
            let o = run(p, label).await?;
            spent += o.summary.total.cost_usd.unwrap_or(0.0);
            interrupted |= o.summary.stop_reason == StopReason::Interrupted;
            let samples = Samples::read(&o.dir)?;
            let (v, objectives) = capacity::judge(&o.summary, &s.slo, &samples);
            verdict = v;
            if v != Verdict::Meets && limiting.is_none() {
                limiting = objectives.iter().find(|o| o.verdict != Verdict::Meets).map(|o| o.name.clone());
            }
            let t = &o.summary.total;
            say(format!(
                "probe {:>2}: {rate:8.3} {unit} offered, {:8.3} req/s achieved, ttft p99 {} ms: {}",
                probes.len() + 1,
                t.throughput.requests_per_s,
                t.ttft_ms.p99.map_or("-".into(), |x| format!("{x:.1}")),
                v.as_str()
            ));
            probes.push(Probe {
                offered_rate: rate,
                achieved_rate: t.throughput.requests_per_s,
                seconds: o.summary.measured_seconds,
                ttft_p50_ms: t.ttft_ms.p50,
                ttft_p99_ms: t.ttft_ms.p99,
                e2e_p99_ms: t.e2e_ms.p99,
                goodput: t.goodput.map(|g| g.requests_per_s),
                errors: t.requests.errors,
                verdict: v,
                objectives,
                dir: o.dir.display().to_string(),
            });
            if interrupted {
                break;
            }
        }
        search.record(rate, verdict);
    }
    let (lo, hi) = search.bracket();
    let passed = match cfg.min_rate {
        Some(m) => lo.is_some_and(|r| r >= m),
        None => true,
    };
    let capacity = Capacity {
        unit: unit.into(),
        max_rate: lo,
        interval: (lo, hi),
        limiting: if hi.is_some() { limiting } else { None },
        precision: cfg.precision,
        min_rate: cfg.min_rate,
        passed,
        probes,
    };
    Ok(SearchOutcome { capacity, interrupted })
}

/// The scenario's variants, mixed, at `rate` requests/s for `length`, after
/// its own warm-up.
fn open_probe(s: &Scenario, rate: f64, length: Duration) -> Scenario {
    let mut p = s.clone();
    let (arrival, max_in_flight) = match s.load.mode {
        LoadMode::Open { arrival, max_in_flight } => (arrival, max_in_flight),
        LoadMode::Closed => (Arrival::Constant, DEFAULT_MAX_IN_FLIGHT),
    };
    p.load.mode = LoadMode::Open { arrival, max_in_flight };
    p.load.stages = vec![Stage { duration: Some(length), level: rate }];
    p.load.requests = None;
    p.load.warmup = s.search.warmup;
    p.load.think_time = Duration::ZERO;
    p.load.ramp_up = Duration::ZERO;
    p.sweep_mode = SweepMode::Mix;
    p
}

/// `users` users for `length` after `warmup`, without think time (a
/// closed-loop search puts the scenario's back).
fn closed_probe(s: &Scenario, users: u32, length: Duration, warmup: Duration) -> Scenario {
    let mut p = s.clone();
    p.load.mode = LoadMode::Closed;
    p.load.stages = vec![Stage { duration: Some(length), level: f64::from(users.max(1)) }];
    p.load.requests = None;
    p.load.warmup = warmup;
    p.load.think_time = Duration::ZERO;
    p.load.ramp_up = Duration::ZERO;
    p.sweep_mode = SweepMode::Mix;
    p
}

/// Every probe the search may run, each at the ceiling: what the cost gate
/// weighs before the search starts.
fn probes_at_ceiling(s: &Scenario) -> Scenario {
    let mut all = open_probe(s, s.search.max_rate, s.search.probe * 2);
    let each = Stage { duration: Some(s.search.probe * 2 + s.search.warmup), level: s.search.max_rate };
    all.load.stages = vec![each; s.search.max_probes as usize];
    all.load.warmup = Duration::ZERO;
    all
}

/// The capacity table, as the terminal and summary.md show it.
pub fn render(c: &Capacity) -> String {
    let cell = |x: Option<f64>| x.map_or("-".into(), |x| format!("{x:.1}"));
    let offered = if c.unit == "users" { "        users" } else { "offered req/s" };
    let mut out = format!(
        "probe  {offered}  achieved req/s  ttft p50  ttft p99  e2e p99  errors  verdict\n\
         -----  -------------  --------------  --------  --------  -------  ------  -------\n",
    );
    for (i, p) in c.probes.iter().enumerate() {
        let why = p
            .objectives
            .iter()
            .filter(|o| o.verdict != Verdict::Meets)
            .map(|o| match (o.estimate, o.interval) {
                (Some(e), Some((lo, hi))) => format!("{} {e:.1} [{lo:.1}, {hi:.1}] vs {}", o.name, o.limit),
                (Some(e), None) => format!("{} {e:.3} vs {}", o.name, o.limit),
                _ => format!("{}: no data", o.name),
            })
            .collect::<Vec<_>>()
            .join("; ");
        out += &format!(
            "{:>5}  {:>13.3}  {:>14.3}  {:>8}  {:>8}  {:>7}  {:>6}  {}{}\n",
            i + 1,
            p.offered_rate,
            p.achieved_rate,
            cell(p.ttft_p50_ms),
            cell(p.ttft_p99_ms),
            cell(p.e2e_p99_ms),
            p.errors,
            p.verdict.as_str(),
            if why.is_empty() { String::new() } else { format!(": {why}") }
        );
    }
    out += &match (c.max_rate, c.interval.1) {
        (Some(lo), Some(hi)) => format!(
            "capacity: {lo:.3} {unit} meets every objective; {hi:.3} does not (limited by {})\n",
            c.limiting.as_deref().unwrap_or("-"),
            unit = c.unit
        ),
        (Some(lo), None) => {
            format!("capacity: at least {lo:.3} {} (the ceiling, [search] max_rate)\n", c.unit)
        }
        (None, _) => "capacity: no rate probed met the objectives\n".into(),
    };
    out
}
