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

use crate::metrics::{
    ByIndex, Completions, Histograms, Metrics, SessionMetrics, StopReason, Summary, TurnMetrics,
    VariantMetrics, new_histogram,
};
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
    /// The measured window (see `Metrics::window_end`).
    window_s: f64,
    /// After the window until the last measured request ended. Absent in
    /// files of before, whose `window_s` ran to that end and whose
    /// throughput was every measured request over it.
    #[serde(skip_serializing_if = "Option::is_none")]
    drain_s: Option<f64>,
    variants: &'a [VariantMetrics],
    stages: &'a [VariantMetrics],
}

#[derive(Deserialize)]
struct StepIn {
    window_s: f64,
    #[serde(default)]
    drain_s: Option<f64>,
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
            .map(|m| StepOut {
                window_s: m.window().as_secs_f64(),
                drain_s: m.window_end.map(|_| m.drain().as_secs_f64()),
                variants: &m.variants,
                stages: &m.stages,
            })
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
            let (window_end, last_end) = match s.drain_s {
                Some(d) if d.is_finite() && d >= 0.0 => {
                    (Some(origin + window), Some(origin + window + seconds(d)))
                }
                Some(d) => anyhow::bail!("drain_s {d} is not >= 0"),
                // Files of before: the window ran to the last end.
                None => (None, (!window.is_zero()).then(|| origin + window)),
            };
            // The verdicts of each request are stored (good, good_completed),
            // not the objectives: nothing is judged again.
            Ok(Metrics {
                variants: s.variants,
                stages: s.stages,
                window_start: origin,
                last_end,
                window_end,
                goodput: None,
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
const NAMES: [&str; 11] = [
    "ttft",
    "ttft_service",
    "e2e",
    "e2e_service",
    "itl",
    "tpot",
    "queue_delay",
    "ttfr",
    "ttft_cached",
    "ttft_uncached",
    "ttfa",
];

impl Histograms {
    fn by_name(&self) -> [&Histogram<u64>; 11] {
        [
            &self.ttft,
            &self.ttft_service,
            &self.e2e,
            &self.e2e_service,
            &self.itl,
            &self.tpot,
            &self.queue_delay,
            &self.ttfr,
            &self.ttft_cached,
            &self.ttft_uncached,
            &self.ttfa,
        ]
    }

    fn by_name_mut(&mut self) -> [&mut Histogram<u64>; 11] {
        [
            &mut self.ttft,
            &mut self.ttft_service,
            &mut self.e2e,
            &mut self.e2e_service,
            &mut self.itl,
            &mut self.tpot,
            &mut self.queue_delay,
            &mut self.ttfr,
            &mut self.ttft_cached,
            &mut self.ttft_uncached,
            &mut self.ttfa,
        ]
    }
}

impl Serialize for Histograms {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        encode(NAMES.iter().copied().zip(self.by_name())).map_err(serde::ser::Error::custom)?.serialize(ser)
    }
}

impl<'de> Deserialize<'de> for Histograms {
    fn deserialize<D: serde::Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        let stored = BTreeMap::<String, String>::deserialize(de)?;
        let mut h = Histograms::default();
        decode(&stored, NAMES.iter().copied().zip(h.by_name_mut())).map_err(serde::de::Error::custom)?;
        Ok(h)
    }
}

/// Completion times (`metrics::window`), like the latency histograms.
/// `input_tokens` is absent from files written before it (read as none).
const COMPLETION_NAMES: [&str; 4] = ["requests", "prompts", "output_tokens", "input_tokens"];

impl Serialize for Completions {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let all = [&self.requests, &self.prompts, &self.output_tokens, &self.input_tokens];
        encode(COMPLETION_NAMES.iter().copied().zip(all)).map_err(serde::ser::Error::custom)?.serialize(ser)
    }
}

impl<'de> Deserialize<'de> for Completions {
    fn deserialize<D: serde::Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        let stored = BTreeMap::<String, String>::deserialize(de)?;
        let mut c = Completions::default();
        let slots = [&mut c.requests, &mut c.prompts, &mut c.output_tokens, &mut c.input_tokens];
        decode(&stored, COMPLETION_NAMES.iter().copied().zip(slots)).map_err(serde::de::Error::custom)?;
        Ok(c)
    }
}

/// Latency by index: the histograms named `ttft_<k>` and `e2e_<k>`, and
/// each index's prompt tokens.
#[derive(Serialize, Deserialize)]
struct StoredByIndex {
    histograms: BTreeMap<String, String>,
    prompt_tokens: Vec<u64>,
}

fn index_names(n: usize) -> Vec<String> {
    (1..=n).flat_map(|k| [format!("ttft_{k}"), format!("e2e_{k}")]).collect()
}

impl Serialize for ByIndex {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let names = index_names(self.0.len());
        let hists = self.0.iter().flat_map(|t| [&t.ttft, &t.e2e]);
        let histograms =
            encode(names.iter().map(String::as_str).zip(hists)).map_err(serde::ser::Error::custom)?;
        let histograms = histograms.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        let prompt_tokens = self.0.iter().map(|t| t.prompt_tokens).collect();
        StoredByIndex { histograms, prompt_tokens }.serialize(ser)
    }
}

impl<'de> Deserialize<'de> for ByIndex {
    fn deserialize<D: serde::Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        let stored = StoredByIndex::deserialize(de)?;
        let mut m = ByIndex(
            stored
                .prompt_tokens
                .iter()
                .map(|&p| TurnMetrics { prompt_tokens: p, ..Default::default() })
                .collect(),
        );
        let names = index_names(m.0.len());
        let slots = m.0.iter_mut().flat_map(|t| [&mut t.ttft, &mut t.e2e]);
        decode(&stored.histograms, names.iter().map(String::as_str).zip(slots))
            .map_err(serde::de::Error::custom)?;
        Ok(m)
    }
}

/// Sessions: their durations' histogram, and their turns by number.
#[derive(Serialize, Deserialize)]
struct StoredSessions {
    duration: BTreeMap<String, String>,
    turns: ByIndex,
}

impl Serialize for SessionMetrics {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let duration =
            encode(std::iter::once(("duration", &self.duration))).map_err(serde::ser::Error::custom)?;
        let duration = duration.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        StoredSessions { duration, turns: self.turns.clone() }.serialize(ser)
    }
}

impl<'de> Deserialize<'de> for SessionMetrics {
    fn deserialize<D: serde::Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        let stored = StoredSessions::deserialize(de)?;
        let mut m = SessionMetrics { turns: stored.turns, ..Default::default() };
        decode(&stored.duration, std::iter::once(("duration", &mut m.duration)))
            .map_err(serde::de::Error::custom)?;
        Ok(m)
    }
}

/// Named histograms, each V2 + deflate then base64.
fn encode<'a>(
    named: impl Iterator<Item = (&'a str, &'a Histogram<u64>)>,
) -> Result<BTreeMap<&'a str, String>, String> {
    let mut v2 = V2DeflateSerializer::new();
    let mut out = BTreeMap::new();
    for (name, h) in named {
        let mut bytes = Vec::new();
        v2.serialize(h, &mut bytes).map_err(|e| format!("{name}: {e:?}"))?;
        out.insert(name, BASE64.encode(bytes));
    }
    Ok(out)
}

/// Fills each slot from its stored histogram; a name not stored stays empty,
/// a stored name with no slot is refused.
fn decode<'a>(
    stored: &BTreeMap<String, String>,
    slots: impl Iterator<Item = (&'a str, &'a mut Histogram<u64>)>,
) -> Result<(), String> {
    let slots: Vec<_> = slots.collect();
    if let Some(unknown) = stored.keys().find(|k| !slots.iter().any(|(n, _)| n == k)) {
        let known: Vec<&str> = slots.iter().map(|(n, _)| *n).collect();
        return Err(format!("unknown histogram {unknown:?}; known: {known:?}"));
    }
    let mut reader = HdrDeserializer::new();
    for (name, slot) in slots {
        let Some(text) = stored.get(name) else { continue };
        let bytes = BASE64.decode(text).map_err(|e| format!("{name}: {e}"))?;
        let loaded: Histogram<u64> = reader
            .deserialize(&mut bytes.as_slice())
            .map_err(|e| format!("{name}: not an HDR histogram ({e:?})"))?;
        // Into our own bounds, so later merges cannot fail silently.
        *slot = new_histogram();
        slot.add(&loaded).map_err(|e| format!("{name}: out of range ({e:?})"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
