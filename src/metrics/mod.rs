//! Measurements: per-variant HDR histograms and counters, fed one record at a
//! time by each lane's recorder and merged across lanes (`Metrics::merge`),
//! and the `Summary` computed from them once.

mod add;
mod record;
mod sessions;
mod slo;
mod summary;
mod window;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::scenario::{GoodputObjectives, Swept};

pub use record::{ChoiceTimes, Outcome, Reason, RequestRecord, TokenSource, reason};
pub use sessions::{ByIndex, SessionMetrics, TurnMetrics};
pub use slo::SloResult;
pub use summary::{
    CacheStats, IndexStats, Percentiles, SessionStats, StageStats, Stats, StopReason, StopStats, Summary,
};
pub use window::{Completions, Done};

/// A start this much later than intended counts as late.
pub const LATE_START: Duration = Duration::from_millis(5);
/// Distinct error messages kept per error class; the rest are counted together.
const MESSAGES_PER_CLASS: usize = 20;

/// One latency distribution in microseconds: 1 µs to 1 h at 3 significant
/// digits, the precision of every figure we report.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("static histogram bounds are valid")
}

#[derive(Debug, Clone)]
pub struct Histograms {
    pub ttft: Histogram<u64>,
    pub ttft_service: Histogram<u64>,
    pub e2e: Histogram<u64>,
    pub e2e_service: Histogram<u64>,
    pub itl: Histogram<u64>,
    pub tpot: Histogram<u64>,
    pub queue_delay: Histogram<u64>,
    /// Time to first reasoning token (thinking models only).
    pub ttfr: Histogram<u64>,
    /// Time to first answer token, of requests that reasoned first (their
    /// TTFT is the first reasoning token's).
    pub ttfa: Histogram<u64>,
    /// TTFT of ok requests whose server said part of the prompt came from
    /// its prefix cache, and of those it said none did.
    pub ttft_cached: Histogram<u64>,
    pub ttft_uncached: Histogram<u64>,
}

impl Default for Histograms {
    fn default() -> Self {
        Histograms {
            ttft: new_histogram(),
            ttft_service: new_histogram(),
            e2e: new_histogram(),
            e2e_service: new_histogram(),
            itl: new_histogram(),
            tpot: new_histogram(),
            queue_delay: new_histogram(),
            ttfr: new_histogram(),
            ttfa: new_histogram(),
            ttft_cached: new_histogram(),
            ttft_uncached: new_histogram(),
        }
    }
}

impl Histograms {
    /// Adds another set (exact: HDR histograms merge losslessly).
    pub fn add(&mut self, o: &Histograms) {
        for (a, b) in [
            (&mut self.ttft, &o.ttft),
            (&mut self.ttft_service, &o.ttft_service),
            (&mut self.e2e, &o.e2e),
            (&mut self.e2e_service, &o.e2e_service),
            (&mut self.itl, &o.itl),
            (&mut self.tpot, &o.tpot),
            (&mut self.queue_delay, &o.queue_delay),
            (&mut self.ttfr, &o.ttfr),
            (&mut self.ttfa, &o.ttfa),
            (&mut self.ttft_cached, &o.ttft_cached),
            (&mut self.ttft_uncached, &o.ttft_uncached),
        ] {
            // Same bounds on both sides, so adding cannot fail.
            let _ = a.add(b);
        }
    }
}

/// An error message with its numbers as `N`, so that messages that differ
/// only in them count as one: "Please try again in 1.234s" and "... in
/// 870ms", "Used 29500, Requested 1200". requests.csv keeps each as it came.
const DURATION_UNITS: [&str; 10] = ["ns", "us", "µs", "ms", "s", "sec", "secs", "seconds", "m", "h"];

pub fn message_kind(msg: &str) -> String {
    let mut out = String::with_capacity(msg.len());
    for (k, word) in msg.split(' ').enumerate() {
        if k > 0 {
            out.push(' ');
        }
        // An id (a request's, a completion's): letters and digits mixed, long.
        let id_like = word.len() >= 12
            && word.chars().any(|c| c.is_ascii_digit())
            && word.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if id_like {
            out.push_str("ID");
            continue;
        }
        let w: Vec<char> = word.chars().collect();
        let mut i = 0;
        while i < w.len() {
            if !w[i].is_ascii_digit() {
                out.push(w[i]);
                i += 1;
                continue;
            }
            // Digits, with a '.' or ',' only between two of them.
            let start = i;
            let inside =
                |i: usize| matches!(w[i], '.' | ',') && w.get(i + 1).is_some_and(char::is_ascii_digit);
            while i < w.len() && (w[i].is_ascii_digit() || inside(i)) {
                i += 1;
            }
            let letters: String = w[i..].iter().take_while(|c| c.is_alphabetic()).collect();
            if DURATION_UNITS.contains(&letters.as_str()) {
                // A duration, whatever its unit.
                out.push_str("Ns");
                i += letters.chars().count();
            } else if letters.is_empty() {
                out.push('N');
            } else {
                // Part of a name (gpt-4o, o200k): kept.
                out.extend(&w[start..i]);
            }
        }
    }
    out
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ErrorClass {
    pub count: u64,
    pub messages: BTreeMap<String, u64>,
    pub other_messages: u64,
}

/// Everything measured for one variant. Stored as is in metrics.json
/// (`results::metrics_json`): a field added here is stored too; `default` lets files
/// written before it load.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct VariantMetrics {
    pub name: String,
    pub streaming: bool,
    /// `/v1/embeddings`: no tokens generated, so no TTFT, ITL or output.
    pub embeddings: bool,
    #[serde(rename = "histograms")]
    pub h: Histograms,
    pub ok: u64,
    pub cancelled: u64,
    pub late_starts: u64,
    pub errors: BTreeMap<String, ErrorClass>,
    pub prompt_tokens: u64,
    pub output_tokens: u64,
    /// Of the output tokens, reasoning ones, as the server's usage said
    /// (`completion_tokens_details.reasoning_tokens`).
    pub reasoning_tokens: u64,
    pub tokens_from_usage: u64,
    pub tokens_estimated: u64,
    /// Counted by the client (any tokenizer); of them, in the model's own
    /// tokenizer.json and in the fallback encoding (the rest: tiktoken).
    pub tokens_counted: u64,
    pub tokens_tokenizer: u64,
    pub tokens_fallback: u64,
    /// Prompts in ok requests (more than requests when batching).
    pub prompts: u64,
    /// Prompt caching, from ok requests whose server said (`cached_tokens`):
    /// how many said, how many of them had cached tokens, the cached tokens
    /// and the prompt tokens of those requests.
    pub cache_reported: u64,
    pub cache_hits: u64,
    pub cached_tokens: u64,
    pub cache_prompt_tokens: u64,
    /// Multi-turn sessions, when the variant has them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sessions: Option<SessionMetrics>,
    /// Streams of several choices: latency by choice index (n > 1) and by
    /// prompt (a batch).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by_choice: Option<ByIndex>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by_prompt: Option<ByIndex>,
    /// A variant with stop sequences: the most output its ok requests could
    /// have had (`max_tokens` for every choice), and their choices.
    pub stop_max_tokens: u64,
    pub stop_output_tokens: u64,
    pub stop_choices: u64,
    pub stop_stopped: u64,
    /// Extra attempts (retries) of measured requests, whatever their outcome.
    pub retries: u64,
    /// 429 responses seen, including ones a retry got past.
    pub rate_limited: u64,
    /// Requests sent again on a fresh connection (the reused one was closed).
    pub reconnects: u64,
    /// Finish reason → choices that ended with it (ok requests).
    pub finish_reasons: BTreeMap<String, u64>,
    /// Whether the model has a price; `cost_usd` is 0 otherwise.
    pub priced: bool,
    pub cost_usd: f64,
    /// Measured requests scheduled but never sent.
    pub not_sent: u64,
    /// Ok requests by when they completed, warm-up ones included: what
    /// throughput counts (`window`). Empty in files written before it.
    pub completed: Completions,
    /// Goodput: whether the scenario set per-request objectives
    /// (`[goodput]`); measured requests that were ok and met them all; and
    /// such requests by when they completed, warm-up ones included (what
    /// goodput counts, over the same window as throughput).
    pub goodput_judged: bool,
    pub good: u64,
    pub good_completed: Completions,
    /// What a sweep set in this variant (absent outside sweeps, and in files
    /// written before it was recorded).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub swept: Option<Swept>,
}

impl VariantMetrics {
    pub fn error_count(&self) -> u64 {
        self.errors.values().map(|e| e.count).sum()
    }

    /// Measured requests that ended, cancelled ones included.
    pub fn ended(&self) -> u64 {
        self.ok + self.error_count() + self.cancelled
    }

    /// Keeps name and kind, drops every count.
    pub fn reset_counts(&mut self) {
        let (name, streaming, priced) = (std::mem::take(&mut self.name), self.streaming, self.priced);
        let (swept, goodput_judged, embeddings) = (self.swept.take(), self.goodput_judged, self.embeddings);
        *self = VariantMetrics {
            name,
            streaming,
            priced,
            swept,
            goodput_judged,
            embeddings,
            ..Default::default()
        };
    }
}

/// The measured part of one step of a run (the whole run, or one variant of
/// a sequential sweep).
#[derive(Debug, Clone)]
pub struct Metrics {
    pub variants: Vec<VariantMetrics>,
    /// All variants together, per load stage.
    pub stages: Vec<VariantMetrics>,
    /// Start of the measured window (end of warm-up).
    pub window_start: Instant,
    /// End of the last measured request.
    pub last_end: Option<Instant>,
    /// End of the measured window: the planned end, or (a run stopped by
    /// its request count or early) the intended start of its last request;
    /// the drain after it is not part of the window. `None` for steps
    /// loaded from files written before windows were defined so: their
    /// window ends at `last_end`.
    pub window_end: Option<Instant>,
    /// Per-request objectives, when the scenario sets them.
    pub goodput: Option<GoodputObjectives>,
}

/// What the metrics need to know of a variant.
pub struct VariantInfo {
    pub name: String,
    pub streaming: bool,
    pub embeddings: bool,
    pub priced: bool,
    pub swept: Option<Swept>,
}

impl Metrics {
    pub fn new(
        variants: impl IntoIterator<Item = VariantInfo>,
        stages: usize,
        window_start: Instant,
    ) -> Self {
        let variants: Vec<VariantMetrics> = variants
            .into_iter()
            .map(|v| VariantMetrics {
                name: v.name,
                streaming: v.streaming,
                embeddings: v.embeddings,
                priced: v.priced,
                swept: v.swept,
                ..Default::default()
            })
            .collect();
        let priced = variants.iter().any(|v| v.priced);
        let stages = (0..stages.max(1))
            .map(|i| VariantMetrics { name: format!("stage {}", i + 1), priced, ..Default::default() })
            .collect();
        Metrics { variants, stages, window_start, last_end: None, window_end: None, goodput: None }
    }

    /// Judges every request against per-request objectives (`[goodput]`).
    pub fn with_goodput(mut self, objectives: Option<GoodputObjectives>) -> Self {
        for v in self.variants.iter_mut().chain(self.stages.iter_mut()) {
            v.goodput_judged = objectives.is_some();
        }
        self.goodput = objectives;
        self
    }

    /// "p50 X / p99 Y ms" of the TTFT measured so far, for progress lines.
    pub fn live_ttft(&self) -> String {
        Self::live_ttft_of([self])
    }

    /// `live_ttft` of shares of one step (the lanes'), taken together.
    /// TTFT so far of the streamed variants only: a variant not streamed
    /// has TTFT = e2e, which would pass for a slow first token. Labelled
    /// when some variants are not streamed.
    pub fn live_ttft_of<'a>(parts: impl IntoIterator<Item = &'a Metrics>) -> String {
        let mut parts = parts.into_iter().peekable();
        let Some(&first) = parts.peek() else { return "-".into() };
        let streamed: Vec<usize> =
            (0..first.variants.len()).filter(|&i| first.variants[i].streaming).collect();
        if streamed.is_empty() {
            return "- (not streamed)".into();
        }
        let mut h = new_histogram();
        for m in parts {
            for &i in &streamed {
                let _ = h.add(&m.variants[i].h.ttft);
            }
        }
        let of = if streamed.len() < first.variants.len() { " (streamed variants)" } else { "" };
        if h.is_empty() {
            return format!("-{of}");
        }
        let ms = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
        format!("p50 {:.0} / p99 {:.0} ms{of}", ms(0.5), ms(0.99))
    }

    /// Length of the measured window: from the end of warm-up to
    /// `window_end` (files of before: to the end of the last measured
    /// request).
    pub fn window(&self) -> Duration {
        self.window_end
            .or(self.last_end)
            .map_or(Duration::ZERO, |e| e.saturating_duration_since(self.window_start))
    }

    /// From the window's end to the end of the last measured request: the
    /// drain, excluded from the window.
    pub fn drain(&self) -> Duration {
        match (self.window_end, self.last_end) {
            (Some(w), Some(l)) => l.saturating_duration_since(w),
            _ => Duration::ZERO,
        }
    }

    /// Work completed from `from` to `to` (offsets from the window start),
    /// per variant; files of before have no completion times, and the
    /// measured counts of each variant stand in for the whole window.
    pub fn done(&self, variant: usize, from: Duration, to: Duration) -> Done {
        let v = &self.variants[variant];
        if self.window_end.is_none() {
            return Done {
                requests: v.ok,
                prompts: v.prompts,
                input_tokens: v.prompt_tokens,
                output_tokens: v.output_tokens,
                good: v.good,
                good_output_tokens: 0,
            };
        }
        let mut done = v.completed.within(from, to);
        let good = v.good_completed.within(from, to);
        (done.good, done.good_output_tokens) = (good.requests, good.output_tokens);
        done
    }
}

#[cfg(test)]
mod message_tests {
    use super::message_kind;

    #[test]
    fn messages_that_differ_only_in_numbers_and_ids_are_one_kind() {
        let a = "Rate limit reached for gpt-4o on tokens per min (TPM): Limit 30000, Used 29,500, Requested 1200. Please try again in 1.234s.";
        let b = "Rate limit reached for gpt-4o on tokens per min (TPM): Limit 30000, Used 29,950, Requested 800. Please try again in 870ms.";
        assert_eq!(message_kind(a), message_kind(b));
        assert_eq!(
            message_kind(a),
            "Rate limit reached for gpt-4o on tokens per min (TPM): Limit N, Used N, Requested N. Please try again in Ns."
        );
        assert_eq!(message_kind("request req_8f3a9c0b1d2e4f failed"), "request ID failed");
        assert_eq!(message_kind("no digits here."), "no digits here.");
    }
}
