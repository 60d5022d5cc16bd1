//! The one computed result of a run. Every output format renders this; none
//! computes figures of its own. Field names are a contract: later versions add
//! fields, never rename these.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use hdrhistogram::Histogram;

use super::{Done, Histograms, Metrics, SloResult, VariantMetrics};
use crate::scenario::{Slo, Stage, Swept};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Summary {
    pub scenario: String,
    /// The run stopped before its plan was complete (e.g. Ctrl-C).
    pub partial: bool,
    pub stop_reason: StopReason,
    /// The measured window, in seconds (summed over the steps of a
    /// sequential sweep): from the end of warm-up to the planned end (or, when
    /// a request count or an early stop ended the run, the intended start of
    /// its last request). Throughput is the work that completed inside it
    /// divided by it.
    pub measured_seconds: f64,
    /// After the window, until the last measured request ended: requests in
    /// flight finishing. Their latency counts; their completions do not count
    /// toward throughput.
    #[serde(default)]
    pub drain_seconds: f64,
    pub variants: Vec<Stats>,
    pub total: Stats,
    /// Per load stage, when the load has more than one.
    pub stages: Vec<StageStats>,
    /// Every objective of `[slo]` and whether it was met.
    pub slo: Vec<SloResult>,
    /// `null` without objectives.
    pub slo_passed: Option<bool>,
    /// Things to know about the run (budget warnings, aborts, estimates).
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StageStats {
    /// 1-based, as people count stages.
    pub stage: usize,
    /// Users (closed loop) or requests/s (open loop) asked for.
    pub level: f64,
    /// The stage's planned length; `null` when only a request count ends it.
    #[serde(default)]
    pub duration_s: Option<f64>,
    pub stats: Stats,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Stats {
    pub name: String,
    /// `false`: TTFT equals e2e (the whole answer arrives at once).
    /// `null` in the total when streaming and non-streaming variants mix.
    pub streaming: Option<bool>,
    /// An embeddings variant: its figures are latency, inputs (`prompts_per_s`)
    /// and input tokens; it has no TTFT, ITL or output.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub embeddings: bool,
    pub requests: Requests,
    pub errors: Vec<ErrorSummary>,
    pub ttft_ms: Percentiles,
    pub e2e_ms: Percentiles,
    pub itl_ms: Percentiles,
    pub tpot_ms: Percentiles,
    pub queue_delay_ms: Percentiles,
    pub ttft_service_ms: Percentiles,
    pub e2e_service_ms: Percentiles,
    pub prompt_tokens: u64,
    pub output_tokens: u64,
    /// Of the output tokens, reasoning ones (from the server's usage); the
    /// rest are the answer's.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub reasoning_tokens: u64,
    pub output_token_source: TokenSources,
    pub throughput: Throughput,
    /// When the scenario sets `[goodput]` objectives.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goodput: Option<Goodput>,
    /// USD for the measured requests; `null` when a model has no price.
    pub cost_usd: Option<f64>,
    /// Time to first reasoning token (`reasoning_content`), from the intended
    /// start; count 0 for models that do not stream their reasoning.
    #[serde(default)]
    pub ttfr_ms: Percentiles,
    /// Time to first answer token of requests that reasoned first (their
    /// `ttft_ms` is their first reasoning token's); count 0 otherwise.
    #[serde(default)]
    pub ttfa_ms: Percentiles,
    /// Finish reason → choices of ok requests that ended with it (per choice:
    /// n > 1 and batches count each).
    #[serde(default)]
    pub finish_reasons: BTreeMap<String, u64>,
    /// What a sweep set in this variant; absent outside sweeps and in the total.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub swept: Option<Swept>,
    /// Prompt caching, when the server said how many prompt tokens its
    /// cache served (absent otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache: Option<CacheStats>,
    /// Multi-turn sessions, when the variant has them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sessions: Option<SessionStats>,
    /// Streams of several choices: each choice index's latency (n > 1) and
    /// each prompt's (a streamed batch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by_choice: Option<Vec<IndexStats>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by_prompt: Option<Vec<IndexStats>>,
    /// A variant with stop sequences: how often they ended a choice, and
    /// what that saved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop: Option<StopStats>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Requests {
    /// Measured requests sent: ok + errors + cancelled, one row each in
    /// requests.csv. (Before: ok + errors.)
    pub sent: u64,
    pub ok: u64,
    pub errors: u64,
    pub cancelled: u64,
    /// Started more than 5 ms after their intended time.
    pub late_starts: u64,
    /// Extra attempts made by retries (a request tried 3 times counts 2).
    #[serde(default)]
    pub retries: u64,
    /// HTTP 429 responses seen, including ones a later retry got past.
    #[serde(default)]
    pub rate_limited: u64,
    /// Requests written on a reused connection that the server had closed,
    /// sent again once on a fresh one: not errors, not retries.
    #[serde(default)]
    pub reconnects: u64,
    /// Measured requests scheduled but never sent (the run stopped while
    /// they waited for their start, the client-side limit or the budget);
    /// the run's notes say why.
    #[serde(default)]
    pub not_sent: u64,
}

impl Requests {
    /// Requests that ended with an answer or an error (not cancelled): what
    /// an error rate is a share of.
    pub fn ended(&self) -> u64 {
        self.ok + self.errors
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorSummary {
    pub class: String,
    pub count: u64,
    pub messages: Vec<MessageCount>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MessageCount {
    pub message: String,
    pub count: u64,
}

/// Where the output token counts of ok requests came from: the server's
/// `usage`, a count by the client on the text received (in the model's own
/// tokenizer.json, tiktoken's encoding of an OpenAI model, or the fallback
/// encoding), or an estimate (one per event).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenSources {
    pub usage: u64,
    pub estimate: u64,
    #[serde(default)]
    pub tokenizer: u64,
    #[serde(default)]
    pub tiktoken: u64,
    #[serde(default)]
    pub fallback: u64,
}

/// Goodput (DistServe, vLLM's `--goodput`): the requests that succeeded
/// and met every per-request objective of `[goodput]`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Goodput {
    /// Good requests that completed inside the measured window, per second
    /// (the window of `throughput`).
    pub requests_per_s: f64,
    pub output_tokens_per_s: f64,
    /// Measured requests that were good.
    pub good: u64,
    /// `good` over the measured requests that ended (ok + errors).
    pub good_fraction: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Throughput {
    /// Achieved: ok requests that completed inside the window, per second.
    pub requests_per_s: f64,
    /// Prompts of ok requests per second (more than requests when batching).
    pub prompts_per_s: f64,
    /// Prompt (input) tokens of ok requests per second: an embeddings
    /// run's throughput. 0 in files written before it.
    #[serde(default)]
    pub input_tokens_per_s: f64,
    pub output_tokens_per_s: f64,
    /// Offered: measured requests started (intended) per second, whatever
    /// became of them; above `requests_per_s` when the server fell behind or
    /// failed.
    #[serde(default)]
    pub offered_requests_per_s: f64,
}

/// Milliseconds; `null` when there were no samples.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Percentiles {
    pub count: u64,
    pub p50: Option<f64>,
    pub p90: Option<f64>,
    pub p95: Option<f64>,
    pub p99: Option<f64>,
    pub p999: Option<f64>,
    pub max: Option<f64>,
    pub mean: Option<f64>,
}

impl Percentiles {
    pub fn from_histogram(h: &Histogram<u64>) -> Self {
        let ms = |us: f64| us.round() / 1000.0;
        let q = |q: f64| (!h.is_empty()).then(|| ms(h.value_at_quantile(q) as f64));
        Percentiles {
            count: h.len(),
            p50: q(0.5),
            p90: q(0.9),
            p95: q(0.95),
            p99: q(0.99),
            p999: q(0.999),
            max: (!h.is_empty()).then(|| ms(h.max() as f64)),
            mean: (!h.is_empty()).then(|| ms(h.mean())),
        }
    }
}

impl Summary {
    /// Computes the summary once from the steps of a run (one step, or one
    /// per variant in a sequential sweep). Each variant's throughput is over
    /// the windows of the steps it ran in.
    pub fn new(
        scenario: &str,
        steps: &[Metrics],
        stages: &[Stage],
        stop_reason: StopReason,
        partial: bool,
    ) -> Self {
        let windows: Vec<f64> = steps.iter().map(|m| m.window().as_secs_f64()).collect();
        let n_variants = steps.first().map_or(0, |m| m.variants.len());
        // Work completed inside each step's window, per variant.
        let in_window = |m: &Metrics, i: usize| m.done(i, Duration::ZERO, m.window());
        let variants: Vec<Stats> = (0..n_variants)
            .map(|i| {
                let mut v = steps[0].variants[i].clone();
                v.reset_counts();
                let (mut secs, mut done) = (0.0, Done::default());
                for (m, w) in steps.iter().zip(&windows) {
                    if m.variants[i].ended() > 0 || steps.len() == 1 {
                        v.merge(&m.variants[i]);
                        secs += w;
                        done += in_window(m, i);
                    }
                }
                stats(&v, secs, done)
            })
            .collect();
        let mut all = VariantMetrics { name: "total".into(), ..Default::default() };
        let mut done = Done::default();
        for m in steps {
            for (i, v) in m.variants.iter().enumerate() {
                all.merge(v);
                done += in_window(m, i);
            }
        }
        let secs: f64 = windows.iter().sum();
        let mut total = stats(&all, secs, done);
        let kinds: Vec<bool> =
            steps.first().map(|m| m.variants.iter().map(|v| v.streaming).collect()).unwrap_or_default();
        total.streaming =
            if kinds.iter().all(|s| Some(s) == kinds.first()) { kinds.first().copied() } else { None };
        // A run of embeddings only has no first token in its total either.
        total.embeddings =
            steps.first().is_some_and(|m| !m.variants.is_empty() && m.variants.iter().all(|v| v.embeddings));
        let stage_stats = if stages.len() > 1 {
            let mut from = Duration::ZERO;
            stages
                .iter()
                .enumerate()
                .map(|(k, st)| {
                    let mut agg = VariantMetrics { name: format!("stage {}", k + 1), ..Default::default() };
                    let (mut secs, mut done) = (0.0, Done::default());
                    for m in steps {
                        agg.merge(&m.stages[k]);
                        if m.window_end.is_none() {
                            // Written before completion times were kept: the
                            // stage's own requests over its planned length.
                            let own = &m.stages[k];
                            done += Done {
                                requests: own.ok,
                                prompts: own.prompts,
                                input_tokens: own.prompt_tokens,
                                output_tokens: own.output_tokens,
                                good: own.good,
                                good_output_tokens: 0,
                            };
                            secs += st.duration.map_or(m.window(), |d| d).as_secs_f64();
                            continue;
                        }
                        // Requests belong to the stage they started in for
                        // latency; throughput counts what completed during
                        // the stage's time (cut at the window's end).
                        let window = m.window();
                        let to = st.duration.map_or(window, |d| (from + d).min(window));
                        secs += to.saturating_sub(from).as_secs_f64();
                        for i in 0..m.variants.len() {
                            done += m.done(i, from, to);
                        }
                    }
                    from += st.duration.unwrap_or_default();
                    StageStats {
                        stage: k + 1,
                        level: st.level,
                        duration_s: st.duration.map(|d| d.as_secs_f64()),
                        stats: stats(&agg, secs, done),
                    }
                })
                .collect()
        } else {
            Vec::new()
        };
        let drain: f64 = steps.iter().map(|m| m.drain().as_secs_f64()).sum();
        Summary {
            scenario: scenario.to_owned(),
            partial,
            stop_reason,
            measured_seconds: (secs * 1000.0).round() / 1000.0,
            drain_seconds: (drain * 1000.0).round() / 1000.0,
            variants,
            total,
            stages: stage_stats,
            slo: Vec::new(),
            slo_passed: None,
            notes: Vec::new(),
        }
    }

    /// Judges the objectives against this summary and records the verdict.
    pub fn judge(&mut self, objectives: &[Slo]) {
        self.slo = super::slo::evaluate(objectives, self);
        self.slo_passed = (!self.slo.is_empty()).then(|| self.slo.iter().all(|r| r.passed));
    }

    /// `judge`, for one shard of a run: objectives on the whole run are
    /// reported but deferred to the merge, and do not decide the verdict.
    pub fn judge_shard(&mut self, objectives: &[Slo]) {
        self.judge(objectives);
        for (r, o) in self.slo.iter_mut().zip(objectives) {
            if super::slo::whole_run(o.metric) {
                (r.deferred, r.passed) = (true, true);
            }
        }
        let judged: Vec<bool> = self.slo.iter().filter(|r| !r.deferred).map(|r| r.passed).collect();
        self.slo_passed = (!judged.is_empty()).then(|| judged.iter().all(|&p| p));
    }

    pub fn variant(&self, name: &str) -> Option<&Stats> {
        self.variants.iter().find(|v| v.name == name)
    }
}

/// The figures of `v`, whose window lasted `secs` and saw `done` completed.
fn stats(v: &VariantMetrics, secs: f64, done: Done) -> Stats {
    let Histograms {
        ttft,
        ttft_service,
        e2e,
        e2e_service,
        itl,
        tpot,
        queue_delay,
        ttfr,
        ttfa,
        ttft_cached,
        ttft_uncached,
    } = &v.h;
    let p = Percentiles::from_histogram;
    let errors = v.error_count();
    let per_s = |n: u64| if secs > 0.0 { (n as f64 / secs * 1000.0).round() / 1000.0 } else { 0.0 };
    Stats {
        name: v.name.clone(),
        swept: v.swept.clone(),
        streaming: Some(v.streaming),
        embeddings: v.embeddings,
        requests: Requests {
            sent: v.ok + errors + v.cancelled,
            not_sent: v.not_sent,
            ok: v.ok,
            errors,
            cancelled: v.cancelled,
            late_starts: v.late_starts,
            retries: v.retries,
            rate_limited: v.rate_limited,
            reconnects: v.reconnects,
        },
        errors: v
            .errors
            .iter()
            .map(|(class, e)| {
                let mut messages: Vec<MessageCount> =
                    e.messages.iter().map(|(m, &count)| MessageCount { message: m.clone(), count }).collect();
                if e.other_messages > 0 {
                    messages
                        .push(MessageCount { message: "(other messages)".into(), count: e.other_messages });
                }
                messages.sort_by_key(|m| std::cmp::Reverse(m.count));
                ErrorSummary { class: class.clone(), count: e.count, messages }
            })
            .collect(),
        ttft_ms: p(ttft),
        e2e_ms: p(e2e),
        itl_ms: p(itl),
        tpot_ms: p(tpot),
        queue_delay_ms: p(queue_delay),
        ttft_service_ms: p(ttft_service),
        e2e_service_ms: p(e2e_service),
        prompt_tokens: v.prompt_tokens,
        output_tokens: v.output_tokens,
        reasoning_tokens: v.reasoning_tokens,
        output_token_source: TokenSources {
            usage: v.tokens_from_usage,
            estimate: v.tokens_estimated,
            tokenizer: v.tokens_tokenizer,
            tiktoken: v.tokens_counted.saturating_sub(v.tokens_tokenizer + v.tokens_fallback),
            fallback: v.tokens_fallback,
        },
        throughput: Throughput {
            requests_per_s: per_s(done.requests),
            prompts_per_s: per_s(done.prompts),
            input_tokens_per_s: per_s(done.input_tokens),
            output_tokens_per_s: per_s(done.output_tokens),
            offered_requests_per_s: per_s(v.ok + errors + v.cancelled),
        },
        goodput: v.goodput_judged.then(|| Goodput {
            requests_per_s: per_s(done.good),
            output_tokens_per_s: per_s(done.good_output_tokens),
            good: v.good,
            good_fraction: if v.ok + errors > 0 { v.good as f64 / (v.ok + errors) as f64 } else { 0.0 },
        }),
        cost_usd: v.priced.then(|| (v.cost_usd * 1e6).round() / 1e6),
        ttfr_ms: p(ttfr),
        ttfa_ms: p(ttfa),
        finish_reasons: v.finish_reasons.clone(),
        cache: (v.cache_reported > 0).then(|| CacheStats {
            requests: v.cache_reported,
            hits: v.cache_hits,
            cached_tokens: v.cached_tokens,
            prompt_tokens: v.cache_prompt_tokens,
            cached_share: if v.cache_prompt_tokens > 0 {
                v.cached_tokens as f64 / v.cache_prompt_tokens as f64
            } else {
                0.0
            },
            ttft_cached_ms: p(ttft_cached),
            ttft_uncached_ms: p(ttft_uncached),
        }),
        sessions: v.sessions.as_ref().map(|s| SessionStats {
            completed: s.duration.len(),
            duration_ms: p(&s.duration),
            by_turn: by_index(&s.turns),
        }),
        by_choice: v.by_choice.as_ref().map(by_index),
        by_prompt: v.by_prompt.as_ref().map(by_index),
        stop: (v.stop_max_tokens > 0).then(|| {
            let (choices, stopped) = (v.stop_choices, v.stop_stopped);
            let saved = v.stop_max_tokens.saturating_sub(v.stop_output_tokens);
            StopStats {
                choices,
                stopped,
                stopped_share: if choices > 0 { stopped as f64 / choices as f64 } else { 0.0 },
                max_tokens: v.stop_max_tokens,
                output_tokens: v.stop_output_tokens,
                tokens_saved: saved,
                saved_share: saved as f64 / v.stop_max_tokens as f64,
            }
        }),
    }
}

/// Why a run stopped: the schedule stops issuing tickets for one of these.
/// Serialized in snake case in run.json, summary.json and metrics.json.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// The planned duration (all stages) is over.
    Duration,
    /// The planned number of measured requests was sent.
    Requests,
    /// Ctrl-C or SIGTERM.
    Interrupted,
    /// The next request could have passed `budget.max_usd`.
    Budget,
    /// The error rate passed `load.abort_on_error_rate`.
    ErrorRate,
}

impl StopReason {
    /// A stop that cut the planned run short.
    pub fn is_partial(self) -> bool {
        !matches!(self, StopReason::Duration | StopReason::Requests)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            StopReason::Duration => "duration",
            StopReason::Requests => "requests",
            StopReason::Interrupted => "interrupted",
            StopReason::Budget => "budget",
            StopReason::ErrorRate => "error_rate",
        }
    }
}

impl std::fmt::Display for StopReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

mod parts;
#[cfg(test)]
mod tests;

use parts::by_index;
pub use parts::{CacheStats, IndexStats, SessionStats, StopStats};

fn is_zero(n: &u64) -> bool {
    *n == 0
}
