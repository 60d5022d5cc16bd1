//! metrics.json: everything a run measured, stored without loss so that a
//! report can be re-rendered, and shards of one run merged, long after the
//! run (`llmload report`).
//!
//! Per step of the run (one, or one per variant of a sequential sweep): each
//! variant's and each load stage's counters, error classes and messages, and
//! every histogram serialized with hdrhistogram's V2 + deflate format (base64
//! in the JSON), plus the step's measured window in seconds. Beside the steps,
//! what `Summary::new` and `Summary::judge` need besides the measurements:
//! scenario name, stop reason, partial flag, notes, the load stages (level and
//! duration, when there is more than one) and the objectives judged.
//!
//! Histograms are the exact HDR counts, so merging loaded histograms gives
//! the same figures as if one process had recorded everything. Instants do
//! not survive a process, so a loaded step's window is rebuilt relative to a
//! fresh `Instant`: `Metrics::window()` gives back the stored duration.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Deserializer as HdrDeserializer, Serializer as _, V2DeflateSerializer};
use serde::{Deserialize, Serialize};

use crate::metrics::{Histograms, Metrics, StopReason, Summary, VariantMetrics, new_histogram};
use crate::scenario::{self, Slo, Stage};

/// The value of `format` in metrics.json; a later incompatible layout gets a
/// new one, and loading refuses what it does not know.
pub const FORMAT: &str = "llmload-metrics/1";

/// A run as loaded back from metrics.json: enough to compute and judge its
/// `Summary` again.
#[derive(Debug, Clone)]
pub struct StoredRun {
    pub scenario: String,
    pub stop_reason: StopReason,
    pub partial: bool,
    pub notes: Vec<String>,
    /// The load stages; empty when the load had a single stage.
    pub stages: Vec<Stage>,
    /// The objectives the run was judged by (its scenario's `[slo]` and any
    /// command-line overrides).
    pub objectives: Vec<Slo>,
    pub steps: Vec<Metrics>,
}

impl StoredRun {
    /// Computes and judges the summary, as the run did.
    pub fn summary(&self) -> Summary {
        let mut s = Summary::new(&self.scenario, &self.steps, &self.stages, self.stop_reason, self.partial);
        s.notes = self.notes.clone();
        s.judge(&self.objectives);
        s
    }

    /// Variant names, in the order of the run.
    pub fn variant_names(&self) -> Vec<String> {
        self.steps.first().map(|m| m.variants.iter().map(|v| v.name.clone()).collect()).unwrap_or_default()
    }
}

#[derive(Serialize, Deserialize)]
struct File<S> {
    format: String,
    scenario: String,
    stop_reason: StopReason,
    partial: bool,
    notes: Vec<String>,
    stages: Vec<StageFile>,
    slo: Vec<ObjectiveFile>,
    steps: Vec<S>,
}

#[derive(Serialize, Deserialize)]
struct StageFile {
    /// Users (closed loop) or requests/s (open loop).
    level: f64,
    duration_s: Option<f64>,
}

#[derive(Serialize, Deserialize)]
struct ObjectiveFile {
    variant: Option<String>,
    /// As written in `[slo]`, e.g. `ttft.p95`.
    metric: String,
    bound: scenario::Bound,
    threshold: f64,
}

#[derive(Serialize)]
struct StepOut<'a> {
    window_s: f64,
    variants: &'a [VariantMetrics],
    stages: &'a [VariantMetrics],
}

#[derive(Deserialize)]
struct StepIn {
    window_s: f64,
    variants: Vec<VariantMetrics>,
    stages: Vec<VariantMetrics>,
}

/// metrics.json for a run: its summary (for the run-level facts and the
/// judged objectives) and the measured steps.
pub fn to_json(summary: &Summary, steps: &[Metrics]) -> anyhow::Result<String> {
    let file = File {
        format: FORMAT.to_owned(),
        scenario: summary.scenario.clone(),
        stop_reason: summary.stop_reason,
        partial: summary.partial,
        notes: summary.notes.clone(),
        stages: summary
            .stages
            .iter()
            .map(|st| StageFile { level: st.level, duration_s: st.duration_s })
            .collect(),
        slo: summary
            .slo
            .iter()
            .map(|r| ObjectiveFile {
                variant: r.variant.clone(),
                metric: r.metric.clone(),
                bound: r.bound,
                threshold: r.threshold,
            })
            .collect(),
        steps: steps
            .iter()
            .map(|m| StepOut { window_s: m.window().as_secs_f64(), variants: &m.variants, stages: &m.stages })
            .collect(),
    };
    Ok(serde_json::to_string(&file)? + "\n")
}

/// Loads metrics.json text. Errors say what is wrong; the caller names the file.
pub fn from_json(text: &str) -> anyhow::Result<StoredRun> {
    let probe: serde_json::Value = serde_json::from_str(text)?;
    let format = probe.get("format").and_then(|f| f.as_str()).unwrap_or("(none)");
    anyhow::ensure!(
        format == FORMAT,
        "format {format:?} is not {FORMAT:?}: written by another llmload version"
    );
    let file: File<StepIn> = serde_json::from_value(probe)?;
    let objectives = file
        .slo
        .into_iter()
        .map(|o| {
            let metric = scenario::slo_metric(&o.metric)
                .ok_or_else(|| anyhow::anyhow!("slo: unknown metric {:?}", o.metric))?;
            Ok(Slo { variant: o.variant, metric, bound: o.bound, threshold: o.threshold, key: o.metric })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    // One origin for every step: only the windows' lengths matter.
    let origin = Instant::now();
    let steps = file
        .steps
        .into_iter()
        .map(|s| {
            anyhow::ensure!(
                s.window_s.is_finite() && s.window_s >= 0.0,
                "window_s {} is not >= 0",
                s.window_s
            );
            let window = seconds(s.window_s);
            Ok(Metrics {
                variants: s.variants,
                stages: s.stages,
                window_start: origin,
                last_end: (!window.is_zero()).then(|| origin + window),
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(StoredRun {
        scenario: file.scenario,
        stop_reason: file.stop_reason,
        partial: file.partial,
        notes: file.notes,
        stages: file
            .stages
            .iter()
            .map(|s| Stage { level: s.level, duration: s.duration_s.map(seconds) })
            .collect(),
        objectives,
        steps,
    })
}

/// Seconds back to a `Duration`, to the nanosecond: rounding (not
/// truncating) makes `seconds(d.as_secs_f64()) == d` for any window a run
/// can have, so a loaded summary's rates equal the original's.
pub fn seconds(s: f64) -> Duration {
    Duration::from_nanos((s * 1e9).round() as u64)
}

/// The histograms of a variant, by name, each V2 + deflate then base64.
const NAMES: [&str; 8] = ["ttft", "ttft_service", "e2e", "e2e_service", "itl", "tpot", "queue_delay", "ttfr"];

impl Histograms {
    fn by_name(&self) -> [&Histogram<u64>; 8] {
        [
            &self.ttft,
            &self.ttft_service,
            &self.e2e,
            &self.e2e_service,
            &self.itl,
            &self.tpot,
            &self.queue_delay,
            &self.ttfr,
        ]
    }

    fn by_name_mut(&mut self) -> [&mut Histogram<u64>; 8] {
        [
            &mut self.ttft,
            &mut self.ttft_service,
            &mut self.e2e,
            &mut self.e2e_service,
            &mut self.itl,
            &mut self.tpot,
            &mut self.queue_delay,
            &mut self.ttfr,
        ]
    }
}

impl Serialize for Histograms {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let mut out = BTreeMap::new();
        let mut v2 = V2DeflateSerializer::new();
        for (name, h) in NAMES.iter().zip(self.by_name()) {
            let mut bytes = Vec::new();
            v2.serialize(h, &mut bytes).map_err(|e| serde::ser::Error::custom(format!("{name}: {e:?}")))?;
            out.insert(*name, BASE64.encode(bytes));
        }
        out.serialize(ser)
    }
}

impl<'de> Deserialize<'de> for Histograms {
    fn deserialize<D: serde::Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let stored = BTreeMap::<String, String>::deserialize(de)?;
        if let Some(unknown) = stored.keys().find(|k| !NAMES.contains(&k.as_str())) {
            return Err(D::Error::custom(format!("unknown histogram {unknown:?}; known: {NAMES:?}")));
        }
        let mut h = Histograms::default();
        let mut reader = HdrDeserializer::new();
        for (name, slot) in NAMES.iter().zip(h.by_name_mut()) {
            let Some(text) = stored.get(*name) else { continue };
            let bytes = BASE64.decode(text).map_err(|e| D::Error::custom(format!("{name}: {e}")))?;
            let loaded: Histogram<u64> = reader
                .deserialize(&mut bytes.as_slice())
                .map_err(|e| D::Error::custom(format!("{name}: not an HDR histogram ({e:?})")))?;
            // Into our own bounds, so later merges cannot fail silently.
            *slot = new_histogram();
            slot.add(&loaded).map_err(|e| D::Error::custom(format!("{name}: out of range ({e:?})")))?;
        }
        Ok(h)
    }
}

#[cfg(test)]
mod tests;
