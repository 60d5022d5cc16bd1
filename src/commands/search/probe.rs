//! One probe of a search: what the search decides (`ProbePlan`, also what a
//! sharded search hands every shard), the scenario each process rebuilds
//! from it, and the part of it a shard sends.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::commands::run::{Prepared, RunOptions, RunOutcome, execute};
use crate::error::Result;
use crate::load::Shard;
use crate::load::shutdown::Stop;
use crate::metrics::Summary;
use crate::scenario::{Arrival, DEFAULT_MAX_IN_FLIGHT, LoadMode, Scenario, Stage, SweepMode};

/// Requests of each variant an open-loop probe is long enough to expect.
const MIN_EACH: f64 = 10.0;

/// One probe: a load level held for a measured time after a warm-up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbePlan {
    /// Its directory's name under `probes/`: `NN-<level><unit>`.
    pub label: String,
    /// Requests/s (open loop) or users (closed loop).
    pub level: f64,
    pub closed: bool,
    pub seconds: f64,
    pub warmup_seconds: f64,
    /// Closed loop: keep the scenario's think time (the synchronous probe
    /// of an open-loop search has none).
    pub think: bool,
    /// What is left of `[budget] max_usd` for the whole probe.
    pub budget_usd: Option<f64>,
}

impl ProbePlan {
    /// One user, one request at a time, without think time: the service time.
    pub fn synchronous(s: &Scenario) -> ProbePlan {
        ProbePlan {
            label: "synchronous".into(),
            level: 1.0,
            closed: true,
            seconds: (s.search.probe / 2).max(Duration::from_secs(1)).as_secs_f64(),
            warmup_seconds: 0.0,
            think: false,
            budget_usd: None,
        }
    }

    /// A probe of the search proper at `level`, `length` long, or longer
    /// at a low rate: long enough to expect `MIN_EACH` requests of every
    /// variant (at most four times `length`), so that no objective is left
    /// without data by chance.
    pub fn at(s: &Scenario, level: f64, length: Duration, again: bool) -> ProbePlan {
        let closed = s.load.mode == LoadMode::Closed;
        let total: u32 = s.variants.iter().map(|v| v.weight).sum();
        let rarest =
            s.variants.iter().map(|v| f64::from(v.weight) / f64::from(total.max(1))).fold(1.0, f64::min);
        let length = match closed {
            false if level > 0.0 && rarest > 0.0 => {
                let enough =
                    Duration::try_from_secs_f64(MIN_EACH / (level * rarest)).unwrap_or(Duration::MAX);
                enough.clamp(length, length * 4)
            }
            _ => length,
        };
        let again = if again { "-again" } else { "" };
        ProbePlan {
            label: if closed { format!("{level}users{again}") } else { format!("{level:.3}rps{again}") },
            level,
            closed,
            seconds: length.as_secs_f64(),
            warmup_seconds: s.search.warmup.as_secs_f64(),
            think: closed,
            budget_usd: None,
        }
    }

    /// The whole scenario's variants, mixed, at this probe's level.
    pub fn scenario(&self, s: &Scenario) -> Scenario {
        let mut p = s.clone();
        let length = Duration::from_secs_f64(self.seconds);
        p.load.mode = if self.closed {
            LoadMode::Closed
        } else {
            match s.load.mode {
                LoadMode::Open { arrival, max_in_flight } => LoadMode::Open { arrival, max_in_flight },
                LoadMode::Closed => {
                    LoadMode::Open { arrival: Arrival::Constant, max_in_flight: DEFAULT_MAX_IN_FLIGHT }
                }
            }
        };
        let level = if self.closed { self.level.max(1.0).floor() } else { self.level };
        p.load.stages = vec![Stage { duration: Some(length), level }];
        p.load.requests = None;
        p.load.warmup = Duration::from_secs_f64(self.warmup_seconds);
        p.load.think_time = if self.think { s.load.think_time } else { Duration::ZERO };
        p.load.ramp_up = Duration::ZERO;
        p.sweep_mode = SweepMode::Mix;
        p.budget.max_usd = self.budget_usd;
        p
    }

    /// The shard under which `shard` sends its part of this probe, or none
    /// when it has no part: a closed-loop probe of L users deals them
    /// round-robin, so with L below the shard count only shards 0..L run,
    /// each one user, as shards of L.
    pub fn part(&self, shard: Shard) -> Option<Shard> {
        if !self.closed {
            return Some(shard);
        }
        let users = self.level.max(1.0) as u64;
        match u64::from(shard.count) <= users {
            true => Some(shard),
            false if u64::from(shard.index) < users => {
                Some(Shard { index: shard.index, count: users as u32 })
            }
            false => None,
        }
    }
}

/// A probe measured: its summary and results directory (merged, for a
/// sharded search), and whether Ctrl-C cut it short.
pub struct Measured {
    pub summary: Summary,
    pub dir: PathBuf,
    pub interrupted: bool,
}

/// Runs probes of one scenario: the same seed for each (every shard
/// derives its own from it), and the search's Ctrl-C.
pub struct Runner<'a> {
    pub scenario: &'a Scenario,
    pub seed: Option<u64>,
    pub stop: watch::Receiver<Stop>,
}

impl Runner<'_> {
    /// `plan` (`part` of it, for a shard) as a run into `out`, starting at
    /// `start_at` when given.
    pub async fn run(
        &self,
        plan: &ProbePlan,
        part: Option<Shard>,
        out: PathBuf,
        start_at: Option<SystemTime>,
    ) -> Result<RunOutcome> {
        let opts = RunOptions {
            scenario: self.scenario.path.clone(),
            out: Some(out),
            seed: self.seed,
            reports_root: PathBuf::from("reports"),
            progress: Box::new(crate::progress::Messages),
            shard: part,
            start_at,
            force: false,
        };
        let prepared = Prepared::new(plan.scenario(self.scenario), self.seed, part)?;
        execute(prepared, opts, self.stop.clone()).await
    }
}

/// Every probe the search may run, each at the ceiling: what the cost gate
/// weighs before the search starts.
pub fn at_ceiling(s: &Scenario) -> Scenario {
    let mut one = ProbePlan::at(s, s.search.max_rate, s.search.probe * 2, false);
    one.closed = false;
    let mut all = one.scenario(s);
    let each = Stage { duration: Some(s.search.probe * 2 + s.search.warmup), level: s.search.max_rate };
    all.load.stages = vec![each; s.search.max_probes as usize];
    all.load.warmup = Duration::ZERO;
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(users: f64) -> ProbePlan {
        ProbePlan {
            label: "x".into(),
            level: users,
            closed: true,
            seconds: 1.0,
            warmup_seconds: 0.0,
            think: false,
            budget_usd: None,
        }
    }

    #[test]
    fn fewer_users_than_shards_run_on_the_first_shards_one_each() {
        let shard = |index, count| Shard { index, count };
        assert_eq!(plan(1.0).part(shard(0, 3)), Some(shard(0, 1)));
        assert_eq!(plan(1.0).part(shard(1, 3)), None);
        assert_eq!(plan(2.0).part(shard(1, 3)), Some(shard(1, 2)));
        assert_eq!(plan(2.0).part(shard(2, 3)), None);
        assert_eq!(plan(7.0).part(shard(2, 3)), Some(shard(2, 3)));
        let mut open = plan(0.5);
        open.closed = false;
        assert_eq!(open.part(shard(2, 3)), Some(shard(2, 3)), "a rate always splits");
    }
}
