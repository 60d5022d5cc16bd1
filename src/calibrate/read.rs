//! The input of a fit: each results directory checked (a live run, in this
//! version's format), its measured rows grouped by model, each row tagged
//! with its load level.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use hdrhistogram::Histogram;

use super::CalibrateError;
use crate::results::{ResultsDir, TargetKind};

/// One load level of one run: a stage of a directory.
#[derive(Debug, Clone)]
pub struct Group {
    pub dir: usize,
    pub level: f64,
    pub unit: &'static str,
    /// The stage's measured length (for its arrival rate).
    pub duration_s: f64,
}

/// One measured request, as much as a fit needs. Times are ms of service:
/// from the send, the client's own queueing taken out.
#[derive(Debug, Clone)]
pub struct Row {
    pub group: usize,
    /// Prompt tokens the server computed (the cached ones taken out).
    pub prompt: f64,
    pub cached: u64,
    pub output: u64,
    /// Of the output, reasoning tokens (the server's usage; 0 when it said none).
    pub reasoning: u64,
    /// Streamed answers of two events or more: the TTFT and the mean gap.
    pub ttft: Option<f64>,
    pub itl_mean: Option<f64>,
    pub e2e: f64,
    pub finish: Option<String>,
    pub outcome: String,
    pub attempts: u32,
    pub rate_limited: u32,
}

impl Row {
    pub fn ok(&self) -> bool {
        self.outcome == "ok"
    }
    pub fn streamed(&self) -> bool {
        self.ttft.is_some() && self.itl_mean.is_some()
    }
    /// Time per output token after the first.
    pub fn tpot(&self) -> Option<f64> {
        let ttft = self.ttft?;
        (self.output > 1).then(|| (self.e2e - ttft) / (self.output - 1) as f64)
    }
}

/// Everything read of one model.
pub struct Sample {
    pub rows: Vec<Row>,
    pub groups: Vec<Group>,
    /// Every gap between content events of its variants' ok requests, µs
    /// (metrics.json).
    pub gaps: Histogram<u64>,
    /// How often each `x-ratelimit-limit-{requests,tokens}` pair was seen.
    pub limits: BTreeMap<(Option<u64>, Option<u64>), u64>,
    pub variants: BTreeSet<String>,
}

impl Sample {
    pub fn streamed_ok(&self) -> usize {
        self.rows.iter().filter(|r| r.ok() && r.streamed()).count()
    }
}

pub struct Samples {
    /// Each directory with its target, for the report.
    pub sources: Vec<String>,
    pub models: BTreeMap<String, Sample>,
}

pub fn read(dirs: &[PathBuf]) -> Result<Samples, CalibrateError> {
    let mut groups: Vec<Group> = Vec::new();
    let mut models: BTreeMap<String, Sample> = BTreeMap::new();
    let mut sources = Vec::new();
    for (d, path) in dirs.iter().enumerate() {
        let bad = |problem: String| CalibrateError { dir: path.clone(), problem };
        let dir = ResultsDir::open(path, "results directory").map_err(|e| bad(e.to_string()))?;
        let info = dir.run_info().map_err(|e| bad(e.to_string()))?;
        if !dir.has_requests() {
            return Err(bad("no requests.csv: the fit needs each request's figures".into()));
        }
        sources.push(format!("{} ({})", path.display(), info.target.base_url));
        let unit = info.load.mode.level_unit();
        let first_group = groups.len();
        // A level is a stage of a step: in a sequential sweep every variant
        // runs the whole load plan in turn, its stages numbered from 1 again.
        let sequential = info.load.sweep_mode == crate::scenario::SweepMode::Sequential;
        let mut stage_group: BTreeMap<(u32, String), usize> = BTreeMap::new();
        let mut variant_model: BTreeMap<String, String> = BTreeMap::new();
        let mut spans: BTreeMap<(u32, String), (f64, f64)> = BTreeMap::new();
        let mut reader = dir.requests().map_err(|e| bad(e.to_string()))?;
        let mut any = false;
        while let Some(r) = reader.next_measured().map_err(|e| bad(e.to_string()))? {
            any = true;
            let (Some(stage), Some(level)) = (r.stage, r.level) else {
                return Err(bad(
                    "written by an older llmload: its requests.csv has no model, stage and level columns, \
                     which a fit needs (record the run again with this version)"
                        .into(),
                ));
            };
            if r.model.is_empty() {
                return Err(bad("requests.csv names no model for its requests (an older llmload?)".into()));
            }
            if info.target.kind == TargetKind::Simulator {
                return Err(bad(
                    "a run against the embedded simulator: there is nothing live in it to fit (record the run \
                     against the live API or a staging server, then calibrate from that)"
                        .into(),
                ));
            }
            let Some(index) = (stage as usize).checked_sub(1) else {
                return Err(bad(format!("requests.csv: stage 0 in row {} (stages count from 1)", r.seq)));
            };
            let step = if sequential { r.variant.to_owned() } else { String::new() };
            let span = spans.entry((stage, step.clone())).or_insert((f64::INFINITY, 0.0));
            *span = (span.0.min(r.intended_ms), span.1.max(r.intended_ms));
            let group = *stage_group.entry((stage, step)).or_insert_with(|| {
                let configured = info.load.stages.get(index).and_then(|s| s.duration_s);
                groups.push(Group { dir: d, level, unit, duration_s: configured.unwrap_or(f64::NAN) });
                groups.len() - 1
            });
            variant_model.insert(r.variant.to_owned(), r.model.to_owned());
            let sample = models.entry(r.model.to_owned()).or_insert_with(|| Sample {
                rows: Vec::new(),
                groups: Vec::new(),
                gaps: crate::metrics::new_histogram(),
                limits: BTreeMap::new(),
                variants: BTreeSet::new(),
            });
            sample.variants.insert(r.variant.to_owned());
            if r.ratelimit_requests.is_some() || r.ratelimit_tokens.is_some() {
                *sample.limits.entry((r.ratelimit_requests, r.ratelimit_tokens)).or_default() += 1;
            }
            let cached = r.cached_tokens.unwrap_or(0);
            let streamed = r.itl_mean_ms.is_some();
            sample.rows.push(Row {
                group,
                prompt: r.prompt_tokens.saturating_sub(cached) as f64,
                cached,
                output: r.output_tokens,
                reasoning: r.reasoning_tokens.unwrap_or(0),
                ttft: r.ttft_ms.filter(|_| streamed).map(|t| (t - r.queue_delay_ms).max(0.0)),
                itl_mean: r.itl_mean_ms,
                e2e: (r.e2e_ms - r.queue_delay_ms).max(0.0),
                finish: r.finish_reason.map(str::to_owned),
                outcome: r.outcome.to_owned(),
                attempts: r.attempts,
                rate_limited: r.rate_limited,
            });
        }
        if !any {
            return Err(bad("no measured request in requests.csv".into()));
        }
        // A stage ended by its request count has no set length, and one a
        // run cut short (a request count, an abort, a budget, Ctrl-C) ran
        // less than its length: the span of its intended starts stands for it.
        let cut = info.partial == Some(true) || info.load.requests.is_some();
        for (key, g) in &stage_group {
            let (lo, hi) = spans[key];
            let span = ((hi - lo) / 1000.0).max(1e-3);
            // Only the last stage a step reached can have been cut.
            let last = !stage_group.keys().any(|(stage, step)| step == &key.1 && *stage > key.0);
            if groups[*g].duration_s.is_nan() || (cut && last && span < groups[*g].duration_s) {
                groups[*g].duration_s = span;
            }
        }
        debug_assert!(groups[first_group..].iter().all(|g| g.dir == d));
        // Every gap of the model's variants, from the histograms.
        let stored = dir.stored_run().map_err(|e| bad(e.to_string()))?;
        for step in &stored.steps {
            for v in &step.variants {
                if let Some(m) = variant_model.get(&v.name) {
                    let _ = models.get_mut(m).map(|s| s.gaps.add(&v.h.itl));
                }
            }
        }
    }
    for s in models.values_mut() {
        s.groups = groups.clone();
    }
    Ok(Samples { sources, models })
}
