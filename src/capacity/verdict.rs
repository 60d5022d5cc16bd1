//! The verdict on one probe, noise included.
//!
//! A percentile measured on a few hundred requests is itself uncertain: the
//! probe's p99 could as well have come out a little lower or higher. For a
//! latency percentile the requests of the probe (requests.csv) give a
//! bootstrap interval (the resampling `compare` uses); the objective is met
//! when the whole interval is within the limit, missed when the whole
//! interval is beyond it, and too close to call otherwise. Figures with no
//! per-request samples (ITL and TPOT percentiles, rates, fractions, cost)
//! are judged on their value.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::Verdict;
use crate::compare::stats::bootstrap_quantile;
use crate::metrics::Summary;
use crate::results::{ResultsDir, ResultsError};
use crate::scenario::{Bound, LatencyMetric, Slo, SloMetric, Stat};

/// The interval's level: 95%, two-sided.
const ALPHA: f64 = 0.05;
const RESAMPLES: usize = 2000;

/// One objective on one probe.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Objective {
    /// `ttft.p99 (total)`.
    pub name: String,
    pub limit: f64,
    pub unit: String,
    pub estimate: Option<f64>,
    /// The 95% interval of the estimate, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<(f64, f64)>,
    pub verdict: Verdict,
}

/// Per-request latencies of a probe's measured, ok requests (ms, sorted),
/// per variant and in total.
#[derive(Debug, Default)]
pub struct Samples {
    by_variant: BTreeMap<String, Latencies>,
    total: Latencies,
}

#[derive(Debug, Default)]
struct Latencies {
    ttft: Vec<f64>,
    e2e: Vec<f64>,
    queue_delay: Vec<f64>,
}

impl Latencies {
    fn push(&mut self, ttft: Option<f64>, e2e: f64, queue_delay: f64) {
        if let Some(t) = ttft {
            self.ttft.push(t);
        }
        self.e2e.push(e2e);
        self.queue_delay.push(queue_delay);
    }

    fn sort(&mut self) {
        for v in [&mut self.ttft, &mut self.e2e, &mut self.queue_delay] {
            v.sort_unstable_by(f64::total_cmp);
        }
    }

    fn of(&self, m: LatencyMetric) -> Option<&[f64]> {
        match m {
            LatencyMetric::Ttft => Some(&self.ttft),
            LatencyMetric::E2e => Some(&self.e2e),
            LatencyMetric::QueueDelay => Some(&self.queue_delay),
            // Not per request in requests.csv (service times are, but
            // derived): judged on the summary's value.
            _ => None,
        }
    }
}

impl Samples {
    /// The samples of a results directory's requests.csv.
    pub fn read(dir: &Path) -> Result<Samples, ResultsError> {
        let mut s = Samples::default();
        let mut rows = ResultsDir::open(dir, "probe results directory")?.requests()?;
        while let Some(r) = rows.next_measured()? {
            if r.ok() {
                s.by_variant.entry(r.variant.to_owned()).or_default().push(
                    r.ttft_ms,
                    r.e2e_ms,
                    r.queue_delay_ms,
                );
                s.total.push(r.ttft_ms, r.e2e_ms, r.queue_delay_ms);
            }
        }
        s.total.sort();
        s.by_variant.values_mut().for_each(Latencies::sort);
        Ok(s)
    }
}

/// The probe's verdict on `objectives` (judged in `summary.slo`, in the
/// same order), and each objective's.
pub fn judge(summary: &Summary, objectives: &[Slo], samples: &Samples) -> (Verdict, Vec<Objective>) {
    let judged: Vec<Objective> = objectives
        .iter()
        .zip(&summary.slo)
        .enumerate()
        .map(|(i, (o, r))| {
            let scope = o.variant.as_deref().unwrap_or("total");
            let lat = match o.variant.as_deref() {
                Some(v) => samples.by_variant.get(v),
                None => Some(&samples.total),
            };
            let sampled = match (o.metric, lat) {
                (SloMetric::Latency(m, stat), Some(lat)) => quantile(stat).zip(lat.of(m)),
                _ => None,
            };
            let stats = match o.variant.as_deref() {
                Some(v) => summary.variants.iter().find(|s| s.name == v),
                None => Some(&summary.total),
            };
            let (verdict, interval) = match sampled {
                // Nothing of this scope was even sent (a short probe of a
                // low rate, a variant of small weight): no evidence either
                // way, unlike requests sent that all failed.
                _ if stats.is_none_or(|s| s.requests.sent == 0) => (Verdict::TooClose, None),
                Some((q, xs)) => latency(xs, q, o.threshold, o.bound, 0x5EA7C4 + i as u64),
                None => (if r.actual.is_some() && r.passed { Verdict::Meets } else { Verdict::Misses }, None),
            };
            Objective {
                name: format!("{} ({scope})", o.key),
                limit: o.threshold,
                unit: r.unit.clone(),
                estimate: r.actual,
                interval,
                verdict,
            }
        })
        .collect();
    let verdict = if judged.iter().any(|o| o.verdict == Verdict::Misses) {
        Verdict::Misses
    } else if judged.iter().any(|o| o.verdict == Verdict::TooClose) {
        Verdict::TooClose
    } else {
        Verdict::Meets
    };
    (verdict, judged)
}

/// The verdict on the q-quantile of `sorted` against `limit`, from its
/// bootstrap interval (no samples: missed, as a run with no data).
pub fn latency(sorted: &[f64], q: f64, limit: f64, bound: Bound, seed: u64) -> (Verdict, Option<(f64, f64)>) {
    match bootstrap_quantile(sorted, q, ALPHA, RESAMPLES, seed) {
        Some((lo, hi)) => (within(lo, hi, limit, bound), Some((lo, hi))),
        None => (Verdict::Misses, None),
    }
}

/// The verdict of an interval [lo, hi] against a limit.
fn within(lo: f64, hi: f64, limit: f64, bound: Bound) -> Verdict {
    let (sure_in, sure_out) = match bound {
        Bound::Max => (hi <= limit, lo > limit),
        Bound::Min => (lo >= limit, hi < limit),
    };
    if sure_in {
        Verdict::Meets
    } else if sure_out {
        Verdict::Misses
    } else {
        Verdict::TooClose
    }
}

fn quantile(stat: Stat) -> Option<f64> {
    match stat {
        Stat::P50 => Some(0.5),
        Stat::P90 => Some(0.9),
        Stat::P95 => Some(0.95),
        Stat::P99 => Some(0.99),
        Stat::P999 => Some(0.999),
        Stat::Max | Stat::Mean => None,
    }
}
