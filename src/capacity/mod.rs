//! Capacity: the highest open-loop rate at which a scenario's `[slo]` holds.
//!
//! `llmload search` measures probes (`commands::search`); this module holds
//! what is independent of running them: the verdict on one probe, noise
//! included (`verdict.rs`), and the choice of the next rate (`Search`):
//! a synchronous probe gives the service time, rates double from there until
//! one misses, then bisection narrows the gap between the highest rate that
//! met the objectives and the lowest that did not, until they are within the
//! stated precision or the probes run out.

mod verdict;

use serde::{Deserialize, Serialize};

pub use verdict::{Objective, Samples, judge, latency};

/// A probe's verdict on the objectives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Every objective holds, noise included.
    Meets,
    /// An objective is missed beyond noise.
    Misses,
    /// None is missed beyond noise, but one is within noise of its limit.
    TooClose,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Meets => "meets",
            Verdict::Misses => "misses",
            Verdict::TooClose => "too close to call",
        }
    }
}

/// One probe as reported: what was offered and achieved, the figures the
/// objectives judge, and the verdict with the objective that decided it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Probe {
    pub offered_rate: f64,
    pub achieved_rate: f64,
    pub seconds: f64,
    pub ttft_p50_ms: Option<f64>,
    pub ttft_p99_ms: Option<f64>,
    pub e2e_p99_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goodput: Option<f64>,
    pub errors: u64,
    pub verdict: Verdict,
    /// Each objective's estimate and interval, and its verdict.
    pub objectives: Vec<Objective>,
    /// Where the probe's own results directory is.
    pub dir: String,
}

/// What the search found: `summary.json` → `capacity`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Capacity {
    /// What the search varied: `requests/s` (open loop) or `users`
    /// (closed loop: `max_rate` is then the most concurrent users).
    pub unit: String,
    /// The highest rate probed that met every objective; `None` when none
    /// did.
    pub max_rate: Option<f64>,
    /// Where the capacity lies: from `max_rate` to the lowest rate that
    /// missed (or was too close to call); `None` above when no rate missed
    /// up to `max_rate` of `[search]`.
    pub interval: (Option<f64>, Option<f64>),
    /// The objective that failed first above `max_rate`.
    pub limiting: Option<String>,
    pub precision: f64,
    pub min_rate: Option<f64>,
    /// Whether `min_rate` (if any) was reached.
    pub passed: bool,
    pub probes: Vec<Probe>,
}

/// The state of the search between probes.
#[derive(Debug, Clone)]
pub struct Search {
    /// Highest rate that met, lowest that did not.
    lo: Option<f64>,
    hi: Option<f64>,
    next: f64,
    max_rate: f64,
    precision: f64,
    /// Levels are whole numbers (users, in closed loop).
    whole: bool,
}

impl Search {
    /// Starts at `start` req/s (one user's rate, from the service time).
    pub fn new(start: f64, max_rate: f64, precision: f64) -> Self {
        let next = start.clamp(crate::scenario::MIN_RATE, max_rate);
        Search { lo: None, hi: None, next, max_rate, precision, whole: false }
    }

    /// A search over whole numbers of users (closed loop), from `start`.
    pub fn users(start: u32, max_users: u32, precision: f64) -> Self {
        let max = f64::from(max_users.max(1));
        Search {
            lo: None,
            hi: None,
            next: f64::from(start.max(1)).min(max),
            max_rate: max,
            precision,
            whole: true,
        }
    }

    /// The rate to probe next; `None` when the answer is as precise as asked.
    pub fn next(&self) -> Option<f64> {
        match (self.lo, self.hi) {
            (Some(lo), Some(hi)) if (hi - lo) / lo <= self.precision => None,
            // Neighbouring whole numbers: nothing in between.
            (Some(lo), Some(hi)) if self.whole && hi - lo <= 1.0 => None,
            (None, Some(hi)) if self.whole && hi <= 1.0 => None,
            // Every rate up to the ceiling met: nothing above to find.
            (Some(lo), None) if lo >= self.max_rate => None,
            // The lowest rate missed: the capacity is below what can be probed.
            (None, Some(hi)) if hi <= crate::scenario::MIN_RATE * 1.0001 => None,
            _ => Some(self.next),
        }
    }

    /// Takes a probe's verdict at `rate`. A rate too close to call counts
    /// as not shown to meet: the answer stays on the safe side of it.
    pub fn record(&mut self, rate: f64, verdict: Verdict) {
        if verdict == Verdict::Meets {
            self.lo = Some(self.lo.map_or(rate, |l| l.max(rate)));
        } else {
            self.hi = Some(self.hi.map_or(rate, |h| h.min(rate)));
        }
        self.next = match (self.lo, self.hi) {
            // Bracketing: double until a rate misses.
            (Some(lo), None) => (lo * 2.0).min(self.max_rate),
            // Nothing met yet: halve until one does.
            (None, Some(hi)) => (hi / 2.0).max(crate::scenario::MIN_RATE),
            // Bisection, in the middle of the bracket.
            (Some(lo), Some(hi)) => (lo + hi) / 2.0,
            (None, None) => self.next,
        };
        if self.whole {
            self.next = self.next.floor().max(1.0);
        }
    }

    /// (highest rate that met, lowest that did not).
    pub fn bracket(&self) -> (Option<f64>, Option<f64>) {
        (self.lo, self.hi)
    }
}

#[cfg(test)]
mod tests;
