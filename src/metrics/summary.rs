//! The one computed result of a run. Every output format renders this; none
//! computes figures of its own. Field names are a contract: later versions add
//! fields, never rename these.

use serde::{Deserialize, Serialize};

use super::{Histograms, Metrics, VariantMetrics};
use hdrhistogram::Histogram;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Summary {
    pub scenario: String,
    /// The run stopped before its plan was complete (e.g. Ctrl-C).
    pub partial: bool,
    pub stop_reason: String,
    /// Seconds from the end of warm-up to the end of the last measured request.
    pub measured_seconds: f64,
    pub variants: Vec<Stats>,
    pub total: Stats,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Stats {
    pub name: String,
    /// `false`: TTFT equals e2e (the whole answer arrives at once).
    /// `null` in the total when streaming and non-streaming variants mix.
    pub streaming: Option<bool>,
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
    pub output_token_source: TokenSources,
    pub throughput: Throughput,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Requests {
    /// Measured requests that ended (ok + errors); cancelled ones are apart.
    pub sent: u64,
    pub ok: u64,
    pub errors: u64,
    pub cancelled: u64,
    /// Started more than 5 ms after their intended time.
    pub late_starts: u64,
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

/// How many ok requests had their output tokens from server `usage`, and how
/// many were estimated by the client.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenSources {
    pub usage: u64,
    pub estimate: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Throughput {
    pub requests_per_s: f64,
    pub output_tokens_per_s: f64,
}

/// Milliseconds; `null` when there were no samples.
#[derive(Debug, Clone, Serialize, Deserialize)]
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
        let ms = |us: f64| (us / 1000.0 * 1000.0).round() / 1000.0;
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
    pub fn new(scenario: &str, metrics: &Metrics, stop_reason: &str, partial: bool) -> Self {
        let secs = metrics.window().as_secs_f64();
        let variants: Vec<Stats> = metrics.variants.iter().map(|v| stats(v, secs)).collect();
        let mut all = VariantMetrics { name: "total".into(), ..Default::default() };
        for v in &metrics.variants {
            merge(&mut all, v);
        }
        let mut total = stats(&all, secs);
        let kinds: Vec<bool> = metrics.variants.iter().map(|v| v.streaming).collect();
        total.streaming = if kinds.iter().all(|&s| s == kinds[0]) { kinds.first().copied() } else { None };
        Summary {
            scenario: scenario.to_owned(),
            partial,
            stop_reason: stop_reason.to_owned(),
            measured_seconds: (secs * 1000.0).round() / 1000.0,
            variants,
            total,
        }
    }
}

fn merge(into: &mut VariantMetrics, v: &VariantMetrics) {
    into.h.add(&v.h);
    into.ok += v.ok;
    into.cancelled += v.cancelled;
    into.late_starts += v.late_starts;
    into.prompt_tokens += v.prompt_tokens;
    into.output_tokens += v.output_tokens;
    into.tokens_from_usage += v.tokens_from_usage;
    into.tokens_estimated += v.tokens_estimated;
    for (class, e) in &v.errors {
        let t = into.errors.entry(class.clone()).or_default();
        t.count += e.count;
        t.other_messages += e.other_messages;
        for (m, n) in &e.messages {
            *t.messages.entry(m.clone()).or_default() += n;
        }
    }
}

fn stats(v: &VariantMetrics, secs: f64) -> Stats {
    let Histograms { ttft, ttft_service, e2e, e2e_service, itl, tpot, queue_delay } = &v.h;
    let p = Percentiles::from_histogram;
    let errors = v.error_count();
    let per_s = |n: u64| if secs > 0.0 { (n as f64 / secs * 1000.0).round() / 1000.0 } else { 0.0 };
    Stats {
        name: v.name.clone(),
        streaming: Some(v.streaming),
        requests: Requests {
            sent: v.ok + errors,
            ok: v.ok,
            errors,
            cancelled: v.cancelled,
            late_starts: v.late_starts,
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
        output_token_source: TokenSources { usage: v.tokens_from_usage, estimate: v.tokens_estimated },
        throughput: Throughput { requests_per_s: per_s(v.ok), output_tokens_per_s: per_s(v.output_tokens) },
    }
}
