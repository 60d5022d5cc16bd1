//! Judging a summary against the scenario's objectives.

use serde::{Deserialize, Serialize};

use super::{Percentiles, Stats, Summary};
use crate::scenario::{Bound, LatencyMetric, Slo, SloMetric, Stat};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SloResult {
    /// `null` for the whole run.
    pub variant: Option<String>,
    /// As written, e.g. `ttft.p95`.
    pub metric: String,
    /// `max` or `min`.
    pub bound: Bound,
    /// Milliseconds for latencies; the metric's own unit otherwise.
    pub threshold: f64,
    /// The unit of `threshold` and `actual`: `ms`, `fraction`, `req/s`,
    /// `tok/s` or `USD`.
    #[serde(default)]
    pub unit: String,
    /// `null` when there was nothing to measure (which fails).
    pub actual: Option<f64>,
    pub passed: bool,
    /// A shard's figure of an objective on the whole run (throughput, error
    /// rate, cost): reported, judged only once the shards are merged
    /// (`llmload report`), never failing the shard.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deferred: bool,
}

/// Objectives that only the whole run can meet: a shard's share of the
/// throughput or the cost, or its own error rate, says nothing of them.
pub fn whole_run(metric: SloMetric) -> bool {
    !matches!(metric, SloMetric::Latency(..))
}

pub fn evaluate(objectives: &[Slo], s: &Summary) -> Vec<SloResult> {
    objectives
        .iter()
        .map(|o| {
            let stats = match &o.variant {
                None => Some(&s.total),
                Some(name) => s.variant(name),
            };
            let actual = stats.and_then(|st| value(st, o.metric));
            let passed = actual.is_some_and(|a| match o.bound {
                Bound::Max => a <= o.threshold,
                Bound::Min => a >= o.threshold,
            });
            SloResult {
                variant: o.variant.clone(),
                metric: o.key.clone(),
                bound: o.bound,
                threshold: o.threshold,
                unit: unit(o.metric).into(),
                actual,
                passed,
                deferred: false,
            }
        })
        .collect()
}

fn unit(metric: SloMetric) -> &'static str {
    match metric {
        SloMetric::Latency(..) => "ms",
        SloMetric::ErrorRate => "fraction",
        SloMetric::RequestsPerS => "req/s",
        SloMetric::OutputTokensPerS => "tok/s",
        SloMetric::CostUsd => "USD",
        SloMetric::Goodput => "req/s",
        SloMetric::GoodFraction => "fraction",
    }
}

fn value(st: &Stats, metric: SloMetric) -> Option<f64> {
    match metric {
        SloMetric::Latency(m, stat) => pick(latency(st, m), stat),
        SloMetric::ErrorRate => {
            let ended = st.requests.ended();
            // A run with no finished request has no error rate to meet.
            (ended > 0).then(|| st.requests.errors as f64 / ended as f64)
        }
        SloMetric::RequestsPerS => Some(st.throughput.requests_per_s),
        SloMetric::OutputTokensPerS => Some(st.throughput.output_tokens_per_s),
        SloMetric::CostUsd => st.cost_usd,
        SloMetric::Goodput => st.goodput.map(|g| g.requests_per_s),
        SloMetric::GoodFraction => st.goodput.map(|g| g.good_fraction),
    }
}

fn latency(st: &Stats, m: LatencyMetric) -> &Percentiles {
    match m {
        LatencyMetric::Ttft => &st.ttft_ms,
        LatencyMetric::TtftService => &st.ttft_service_ms,
        LatencyMetric::E2e => &st.e2e_ms,
        LatencyMetric::E2eService => &st.e2e_service_ms,
        LatencyMetric::Itl => &st.itl_ms,
        LatencyMetric::Tpot => &st.tpot_ms,
        LatencyMetric::QueueDelay => &st.queue_delay_ms,
    }
}

fn pick(p: &Percentiles, stat: Stat) -> Option<f64> {
    match stat {
        Stat::P50 => p.p50,
        Stat::P90 => p.p90,
        Stat::P95 => p.p95,
        Stat::P99 => p.p99,
        Stat::P999 => p.p999,
        Stat::Max => p.max,
        Stat::Mean => p.mean,
    }
}
