//! `llmload compare`: is the candidate run worse than the baseline, beyond
//! run-to-run noise?
//!
//! Both results directories are read (summary.json for the figures people
//! see; the measured rows of requests.csv for the tests, see `load`).
//! Variants are matched by name; the total is compared too. Every metric row
//! gets a verdict:
//!
//! - `regression`: the change is statistically significant at `ALPHA` in the
//!   worse direction AND worse by more than `--max-regression` (relative to
//!   the baseline);
//! - `improvement`: the same in the better direction;
//! - `no significant change`: anything else (noise, or a real but smaller
//!   change);
//! - `not compared`: one side lacks the figure or its per-request data.
//!
//! Significance: latency percentiles need both a Mann–Whitney U test on the
//! per-request values (the distribution moved) and a bootstrap interval of
//! that percentile's change excluding 0, in the same direction (this
//! percentile moved); requiring both keeps a CI gate from failing on a noisy
//! tail. Throughput, error rate and cost use z-tests (`stats`). The method and
//! the JSON fields are documented in docs/compare.md.

mod judge;
mod load;
mod render;
pub mod stats;

use std::path::Path;

use serde::Serialize;

use crate::error::{ArgumentError, Result};
use judge::{Judge, Pair, side};
use load::{RunData, Samples};
use stats::{ALPHA, RESAMPLES};

pub use render::{OutputFormat, render};

/// Parses `--max-regression`: `10%` or the fraction `0.1`.
pub fn parse_threshold(s: &str) -> Result<f64, String> {
    let t = s.trim();
    let (num, percent) = match t.strip_suffix('%') {
        Some(n) => (n.trim_end(), true),
        None => (t, false),
    };
    let v: f64 = num
        .parse()
        .map_err(|_| format!("expected a percentage like 10% or a fraction like 0.1, got {s:?}"))?;
    if !v.is_finite() || v < 0.0 {
        return Err(format!("must be 0 or more, got {s:?}"));
    }
    if percent {
        Ok(v / 100.0)
    } else if v > 1.0 {
        Err(format!(
            "a bare number is a fraction from 0 to 1 (0.1 = 10%), got {s:?}; write {s}% for a percentage"
        ))
    } else {
        Ok(v)
    }
}

/// The whole comparison; serialized as is for `--format json`.
#[derive(Debug, Serialize)]
pub struct Comparison {
    pub baseline: RunRef,
    pub candidate: RunRef,
    pub method: Method,
    /// Variants present in both runs, in the baseline's order.
    pub variants: Vec<VariantComparison>,
    pub total: VariantComparison,
    pub only_in_baseline: Vec<String>,
    pub only_in_candidate: Vec<String>,
    /// "variant metric" of every regression, e.g. "total ttft_ms.p95".
    pub regressions: Vec<String>,
    pub improvements: Vec<String>,
    /// No regression: the exit code is 0.
    pub passed: bool,
    pub notes: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct RunRef {
    pub dir: String,
    pub scenario: String,
    /// Measured requests that ended (ok + errors).
    pub requests: u64,
    pub partial: bool,
}

#[derive(Debug, Serialize)]
pub struct Method {
    pub alpha: f64,
    /// As a fraction: 0.1 = 10%.
    pub max_regression: f64,
    pub bootstrap_resamples: usize,
}

#[derive(Debug, Serialize)]
pub struct VariantComparison {
    pub name: String,
    pub metrics: Vec<MetricRow>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Better {
    Lower,
    Higher,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Verdict {
    #[serde(rename = "regression")]
    Regression,
    #[serde(rename = "improvement")]
    Improvement,
    #[serde(rename = "no significant change")]
    NoChange,
    #[serde(rename = "not compared")]
    NotCompared,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Regression => "regression",
            Verdict::Improvement => "improvement",
            Verdict::NoChange => "no significant change",
            Verdict::NotCompared => "not compared",
        }
    }
}

/// One metric of one variant.
#[derive(Debug, Clone, Serialize)]
pub struct MetricRow {
    /// Its path in summary.json (`ttft_ms.p95`, `throughput.requests_per_s`)
    /// or `error_rate`, `cost_per_request_usd`.
    pub metric: String,
    pub better: Better,
    pub baseline: Option<f64>,
    pub candidate: Option<f64>,
    /// candidate − baseline.
    pub delta: Option<f64>,
    /// 100 · delta / baseline; `null` when the baseline is 0.
    pub delta_pct: Option<f64>,
    /// The (1 − alpha) interval of the change.
    pub ci_low: Option<f64>,
    pub ci_high: Option<f64>,
    pub p_value: Option<f64>,
    pub significant: bool,
    pub verdict: Verdict,
}

/// Compares two results directories. `max_regression` is a fraction.
pub fn compare(baseline: &Path, candidate: &Path, max_regression: f64) -> Result<Comparison> {
    if !(max_regression.is_finite() && max_regression >= 0.0) {
        let problem = format!("must be 0 or more, got {max_regression}");
        return Err(ArgumentError { arg: "--max-regression", problem }.into());
    }
    let (b, c) = load::load_both(baseline, candidate)?;
    let judge = Judge { threshold: max_regression };
    let mut variants = Vec::new();
    for (i, bv) in b.summary.variants.iter().enumerate() {
        if let Some(j) = c.summary.variants.iter().position(|v| v.name == bv.name) {
            let pair =
                Pair { b: side(&b, bv, &b.samples[i]), c: side(&c, &c.summary.variants[j], &c.samples[j]) };
            variants.push(judge.variant(&bv.name, &pair));
        }
    }
    let (tb, tc) = (Samples::pooled(&b.samples), Samples::pooled(&c.samples));
    let total = judge
        .variant("total", &Pair { b: side(&b, &b.summary.total, &tb), c: side(&c, &c.summary.total, &tc) });
    let names = |r: &RunData| r.summary.variants.iter().map(|v| v.name.clone()).collect::<Vec<_>>();
    let only = |x: &RunData, y: &RunData| -> Vec<String> {
        names(x).into_iter().filter(|n| y.summary.variant(n).is_none()).collect()
    };
    let found = |want: Verdict| -> Vec<String> {
        variants
            .iter()
            .chain([&total])
            .flat_map(|v| v.metrics.iter().filter(move |m| m.verdict == want).map(move |m| (v, m)))
            .map(|(v, m)| format!("{} {}", v.name, m.metric))
            .collect()
    };
    let (regressions, improvements) = (found(Verdict::Regression), found(Verdict::Improvement));
    Ok(Comparison {
        baseline: run_ref(&b),
        candidate: run_ref(&c),
        method: Method { alpha: ALPHA, max_regression, bootstrap_resamples: RESAMPLES },
        only_in_baseline: only(&b, &c),
        only_in_candidate: only(&c, &b),
        passed: regressions.is_empty(),
        regressions,
        improvements,
        notes: notes(&b, &c),
        variants,
        total,
    })
}

fn run_ref(r: &RunData) -> RunRef {
    RunRef {
        dir: r.dir.display().to_string(),
        scenario: r.summary.scenario.clone(),
        requests: r.summary.total.requests.sent,
        partial: r.summary.partial,
    }
}

fn notes(b: &RunData, c: &RunData) -> Vec<String> {
    let mut notes = Vec::new();
    if b.summary.scenario != c.summary.scenario {
        notes.push(format!(
            "the runs are of different scenarios ({:?} and {:?})",
            b.summary.scenario, c.summary.scenario
        ));
    }
    for (role, r) in [("baseline", b), ("candidate", c)] {
        if r.summary.partial {
            notes.push(format!("the {role} run is partial (stopped: {})", r.summary.stop_reason));
        }
        if r.unknown_rows > 0 {
            notes.push(format!(
                "{} measured rows of the {role}'s requests.csv name a variant its summary does not have; ignored",
                r.unknown_rows
            ));
        }
        if r.summary.total.requests.ok < 20 {
            notes.push(format!(
                "the {role} has {} ok requests: too few for the tests to detect much",
                r.summary.total.requests.ok
            ));
        }
    }
    notes
}

#[cfg(test)]
mod tests;
