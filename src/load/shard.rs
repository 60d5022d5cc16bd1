//! One run split over N processes (`run --shard K/N`), usually on N machines.
//!
//! Shard K of N sends its share of the load through the ordinary run: the
//! scenario is rewritten before anything starts, so the schedule, the worker
//! loop and the results directory are those of any run. Every count splits
//! so that the N shards add up exactly to the plan:
//!
//! - users (closed loop) are dealt round-robin: global user `u` belongs to
//!   shard `u % N`, so shard K has ⌊L/N⌋ users, plus one when K < L mod N,
//!   in every stage; its users' ramp-up slots interleave with the others';
//! - the arrival rate (open loop) is divided by N; constant arrivals are
//!   offset by K/N of a gap, so the union of the shards' arrivals is the
//!   unsharded schedule;
//! - `requests` (and open loop's `max_in_flight`) split like users;
//! - `[client_limit]` and `budget` amounts are divided by N.
//!
//! Each shard draws from its own seeded streams (prompts, variant mix,
//! Poisson gaps, the embedded simulator), derived from the scenario seed and
//! K, so shards never send the same requests while the variant weights stay
//! the same. `--shard 0/1` is exactly an unsharded run.

use std::time::{Duration, SystemTime};

use crate::error::InputProblem;
use crate::scenario::{LoadMode, Scenario};

/// Reads an RFC 3339 time for `--start-at`: `2026-11-27T10:00:00Z`, with
/// optional fractional seconds, or a `+hh:mm`/`-hh:mm` offset instead of `Z`.
pub fn parse_start_at(s: &str) -> Result<SystemTime, String> {
    let bad = || format!("expected an RFC 3339 time such as 2026-11-27T10:00:00Z, got {s:?}");
    let t = s.trim();
    let (base, offset) = if let Some(b) = t.strip_suffix(['Z', 'z']) {
        (b, 0i64)
    } else {
        let at = t.len().checked_sub(6).filter(|&i| t.is_char_boundary(i)).ok_or_else(bad)?;
        let (b, off) = t.split_at(at);
        let sign = match off.as_bytes()[0] {
            b'+' => 1,
            b'-' => -1,
            _ => return Err(bad()),
        };
        let (h, m) = off[1..].split_once(':').ok_or_else(bad)?;
        let (h, m): (i64, i64) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
        if h > 23 || m > 59 {
            return Err(bad());
        }
        (b, sign * (h * 3600 + m * 60))
    };
    if !base.contains('T') && !base.contains('t') {
        return Err(bad());
    }
    let local = humantime::parse_rfc3339_weak(base).map_err(|_| bad())?;
    // 10:00+02:00 is 08:00 UTC.
    let shift = Duration::from_secs(offset.unsigned_abs());
    let utc = if offset >= 0 { local.checked_sub(shift) } else { local.checked_add(shift) };
    utc.ok_or_else(bad)
}

/// Shard `index` of `count` (index from 0, like Kubernetes'
/// `JOB_COMPLETION_INDEX`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl std::str::FromStr for Shard {
    type Err = String;

    /// `K/N`, with N ≥ 1 and K < N.
    fn from_str(s: &str) -> Result<Self, String> {
        let (k, n) = s.split_once('/').ok_or_else(|| format!("expected K/N (e.g. 0/4), got {s:?}"))?;
        let parse = |x: &str, what: &str| {
            x.trim().parse::<u32>().map_err(|_| format!("{what} must be a whole number, got {x:?} in {s:?}"))
        };
        let (index, count) = (parse(k, "K")?, parse(n, "N")?);
        if count == 0 {
            return Err(format!("N must be at least 1, got {s:?}"));
        }
        if index >= count {
            return Err(format!("K counts from 0 and must be below N, got {s:?}"));
        }
        Ok(Shard { index, count })
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl Shard {
    /// This shard's part of `total` items dealt round-robin.
    pub fn split(&self, total: u64) -> u64 {
        let (k, n) = (u64::from(self.index), u64::from(self.count));
        total / n + u64::from(k < total % n)
    }

    /// The seed of this shard's streams; the scenario's own for one shard.
    pub fn seed(&self, seed: u64) -> u64 {
        if self.count == 1 {
            seed
        } else {
            // Its own domain, apart from the per-request streams of `mix(seed, seq)`.
            crate::workload::mix(seed ^ 0x5348_4152_4400_0000, u64::from(self.index))
        }
    }

    /// Where this shard's first constant arrival falls, as a fraction of its
    /// own gap: K/N, so the shards' arrivals interleave evenly.
    pub fn phase(&self) -> f64 {
        f64::from(self.index) / f64::from(self.count)
    }

    /// Rewrites `s` into this shard's part of the run. Fails (bad input)
    /// when the shard would have nothing to send.
    pub fn apply(&self, s: &mut Scenario) -> Result<(), ShardError> {
        if self.count == 1 {
            return Ok(());
        }
        if let Some(t) = &s.load.trace {
            return Err(ShardError(format!(
                "--shard {self}: a trace ({}) is replayed by one process; split the trace's lines \
                 among the shards' scenarios instead",
                t.path.display()
            )));
        }
        let n = f64::from(self.count);
        let load = &mut s.load;
        match &mut load.mode {
            LoadMode::Closed => {
                let most = load.stages.iter().map(|st| st.level as u64).max().unwrap_or(0);
                if most < u64::from(self.count) {
                    return Err(ShardError(format!(
                        "--shard {self}: the scenario has at most {most} users, fewer than {} shards; \
                         every shard needs at least one",
                        self.count
                    )));
                }
                for st in &mut load.stages {
                    st.level = self.split(st.level as u64) as f64;
                }
            }
            LoadMode::Open { max_in_flight, .. } => {
                for st in &mut load.stages {
                    st.level /= n;
                }
                *max_in_flight = (self.split(u64::from(*max_in_flight)) as u32).max(1);
            }
        }
        if let Some(r) = &mut load.requests {
            if *r < u64::from(self.count) {
                return Err(ShardError(format!(
                    "--shard {self}: load.requests = {r} cannot give each of {} shards a request",
                    self.count
                )));
            }
            *r = self.split(*r);
        }
        let limit = &mut s.client_limit;
        let amounts = [
            &mut limit.requests_per_minute,
            &mut limit.tokens_per_minute,
            &mut s.budget.max_usd,
            &mut s.budget.warn_usd,
        ];
        for x in amounts.into_iter().flatten() {
            *x /= n;
        }
        s.seed = self.seed(s.seed);
        s.simulator.seed = self.seed(s.simulator.seed);
        Ok(())
    }
}

#[cfg(test)]
mod tests;

/// A shard that would have nothing to send: bad input (exit 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ShardError(String);

impl InputProblem for ShardError {}
