//! `llmload search`: the highest open-loop rate at which the scenario's
//! `[slo]` holds (`capacity`), measured by probes.
//!
//! Each probe is a normal run of the scenario's variants at one rate, with
//! its own warm-up, written to `<out>/probes/<k>-<rate>/`. A synchronous
//! probe (one user) first gives the service time, hence the first rate; the
//! verdicts then drive `capacity::Search`. A probe too close to call is
//! measured again, twice as long, once. With `--shard K/N` every probe is
//! sent by N processes together (`shards.rs`) and judged merged.

mod probe;
mod shards;
mod table;

use std::path::PathBuf;
use std::time::SystemTime;

use tokio::sync::watch;

use super::run::cost_gate;
use crate::capacity::{self, Capacity, Probe, Samples, Verdict};
use crate::cli::SearchArgs;
use crate::error::{ArgumentError, Exit, Result};
use crate::load::shutdown::{self, Stop};
use crate::results::ResultsDir;
use crate::results::Reuse;
use crate::scenario::{self, LoadMode, Scenario};
use probe::{Measured, ProbePlan, Runner};
pub use table::render;

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
    let shard = args.shard.filter(|sh| sh.count > 1);
    let shared = match (shard, &args.out) {
        (Some(_), None) => {
            let problem = "a sharded search needs --out DIR, a directory every shard sees".into();
            return Err(ArgumentError { arg: "--shard", problem }.into());
        }
        (_, out) => out.clone(),
    };
    crate::client::target::require_key(&s)?;
    // The worst case of the whole search (this shard's share of it): every
    // probe at the ceiling.
    let mut all = probe::at_ceiling(&s);
    if let Some(sh) = shard {
        sh.apply(&mut all)?;
    }
    args.cost.check()?;
    cost_gate::confirm(&all, &args.cost)?;
    let (stop_tx, stop_rx) = watch::channel(Stop::Running);
    tokio::spawn(shutdown::escalate_on_signals(stop_tx));
    let runner = Runner { scenario: &s, seed: args.seed, stop: stop_rx.clone() };
    if let (Some(sh), Some(dir)) = (shard, &shared)
        && sh.index > 0
    {
        return shards::follow(dir, sh, &s.sha256, &runner, args.quiet).await;
    }
    let root = ResultsDir::create(
        args.out.as_deref(),
        &PathBuf::from("reports"),
        &format!("{}-search", s.name),
        SystemTime::now(),
        if args.force { Reuse::Replace } else { Reuse::Empty },
    )?;
    let mut probes = Probes { runner, root: root.path.clone(), k: 0, leader: None };
    if let Some(sh) = shard {
        match shards::Leader::start(&root.path, sh, &s.sha256, &s.name, stop_rx).await? {
            Some(leader) => probes.leader = Some(leader),
            None => return Ok(Exit::Interrupted),
        }
    }
    let result = match search(&s, &mut probes, args.quiet).await {
        Ok(outcome) => write_outputs(&s, &root, &outcome).map(|()| outcome.exit()),
        Err(e) => Err(e),
    };
    // Every follower exits as the search does.
    if let Some(leader) = &probes.leader {
        let (exit, error) = match &result {
            Ok(exit) => (*exit, None),
            Err(e) => (e.exit(), Some(e.to_string())),
        };
        leader.end(exit, error)?;
    }
    result
}

fn write_outputs(s: &Scenario, root: &ResultsDir, outcome: &SearchOutcome) -> Result<()> {
    let table = render(&outcome.capacity);
    say!("{table}");
    let json = serde_json::json!({ "scenario": s.name, "capacity": outcome.capacity });
    root.write("summary.json", serde_json::to_string_pretty(&json).unwrap_or_default().as_bytes())?;
    root.write("summary.md", format!("## llmload search: {}\n\n```text\n{table}```\n", s.name).as_bytes())?;
    let (svg, png, html) = crate::report::capacity_visuals(&outcome.capacity, &table, &s.name)?;
    root.write("charts/capacity.svg", svg.as_bytes())?;
    root.write("charts/capacity.png", &png)?;
    root.write("report.html", html.as_bytes())?;
    sayln!("results: {}", root.path.display());
    Ok(())
}

pub struct SearchOutcome {
    pub capacity: Capacity,
    pub interrupted: bool,
}

impl SearchOutcome {
    /// 130 when interrupted; 1 without a capacity or below the minimum.
    fn exit(&self) -> Exit {
        if self.interrupted {
            return Exit::Interrupted;
        }
        if !self.capacity.passed {
            let min = self.capacity.min_rate.unwrap_or_default();
            eprintln!("error: the capacity found is below min_rate = {min} requests/s");
            return Exit::Failed;
        }
        if self.capacity.max_rate.is_some() { Exit::Ok } else { Exit::Failed }
    }
}

/// Where probes run: in this process, or led by it over every shard.
struct Probes<'a> {
    runner: Runner<'a>,
    root: PathBuf,
    /// Probes run so far.
    k: u32,
    leader: Option<shards::Leader>,
}

impl Probes<'_> {
    async fn run(&mut self, plan: ProbePlan) -> Result<Measured> {
        self.k += 1;
        if let Some(leader) = &mut self.leader {
            return leader.probe(self.k, &plan, &self.runner).await;
        }
        let out = self.root.join("probes").join(format!("{:02}-{}", self.k, plan.label));
        let o = self.runner.run(&plan, None, out, None).await?;
        let interrupted = o.summary.stop_reason == crate::metrics::StopReason::Interrupted;
        Ok(Measured { summary: o.summary, dir: o.dir, interrupted })
    }
}

/// Runs the probes of a search of `s`, deciding each from the verdicts of
/// those before.
async fn search(s: &Scenario, probes: &mut Probes<'_>, quiet: bool) -> Result<SearchOutcome> {
    let cfg = s.search;
    let say = |line: String| {
        if !quiet {
            eprintln!("{line}");
        }
    };
    let mut spent = 0.0;
    let mut judged: Vec<Probe> = Vec::new();

    // Closed loop: the level is a number of users, from one. Open loop: one
    // user, one request at a time, gives the service time, hence the first rate.
    let closed = s.load.mode == LoadMode::Closed;
    let (mut search, mut interrupted) = if closed {
        let max_users = cfg.max_rate.min(f64::from(u32::MAX)) as u32;
        (capacity::Search::users(1, max_users, cfg.precision), false)
    } else {
        let sync = probes.run(ProbePlan::synchronous(s)).await?;
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
        (capacity::Search::new(start, cfg.max_rate, cfg.precision), sync.interrupted)
    };
    let unit = if closed { "users" } else { "requests/s" };
    let mut limiting = None;
    while let Some(rate) = search.next() {
        if interrupted || judged.len() as u32 + 1 >= cfg.max_probes {
            break;
        }
        let budget_left = s.budget.max_usd.map(|m| m - spent);
        if budget_left.is_some_and(|b| b <= 0.0) {
            say("the budget is spent: the search stops here".into());
            break;
        }
        let mut verdict = Verdict::TooClose;
        for (attempt, length) in [cfg.probe, cfg.probe * 2].into_iter().enumerate() {
            if attempt > 0 && (verdict != Verdict::TooClose || judged.len() as u32 + 1 >= cfg.max_probes) {
                break;
            }
            let mut plan = ProbePlan::at(s, rate, length, attempt > 0);
            plan.budget_usd = budget_left;
            let o = probes.run(plan).await?;
            spent += o.summary.total.cost_usd.unwrap_or(0.0);
            interrupted |= o.interrupted;
            let samples = Samples::read(&o.dir)?;
            let (v, objectives) = capacity::judge(&o.summary, &s.slo, &samples);
            verdict = v;
            if v != Verdict::Meets && limiting.is_none() {
                limiting = objectives.iter().find(|o| o.verdict != Verdict::Meets).map(|o| o.name.clone());
            }
            let t = &o.summary.total;
            say(format!(
                "probe {:>2}: {rate:8.3} {unit} offered, {:8.3} req/s achieved, ttft p99 {} ms: {}",
                judged.len() + 1,
                t.throughput.requests_per_s,
                t.ttft_ms.p99.map_or("-".into(), |x| format!("{x:.1}")),
                v.as_str()
            ));
            judged.push(Probe {
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
        probes: judged,
    };
    Ok(SearchOutcome { capacity, interrupted })
}
