//! Rendering the one `Summary`. Each format is a file here and only formats:
//! no figure is computed outside `metrics::Summary`.

mod csv;
mod json;
mod markdown;
mod output;
mod table;
mod visual;

use crate::metrics::{IndexStats, Percentiles, SloResult, Summary};
use crate::scenario::Bound;

pub use csv::Csv;
pub use json::Json;
pub use markdown::Markdown;
pub use output::{STEP_SUMMARY_ENV, append_step_summary, write_all, write_results};
pub use table::Table;
pub use visual::{MAX_POINTS, capacity_visuals, write_visuals};

/// An output format.
pub trait Format {
    /// File name inside the results directory, if the format is written there.
    fn file_name(&self) -> Option<&'static str>;
    fn render(&self, summary: &Summary) -> String;
}

/// The formats every run writes or prints.
pub fn all() -> [&'static dyn Format; 4] {
    [&Table { width: 80 }, &Json, &Markdown, &Csv]
}

/// A percentile in ms for a table cell; "-" when there were no samples.
fn cell(v: Option<f64>) -> String {
    match v {
        None => "-".into(),
        Some(ms) if ms >= 100.0 => format!("{ms:.0}"),
        Some(ms) if ms >= 10.0 => format!("{ms:.1}"),
        Some(ms) => format!("{ms:.2}"),
    }
}

/// Figures only some runs have, each a titled list of lines that every
/// format shows (the terminal as `label: line`): sessions, the prompt
/// cache, goodput. Only those with lines.
pub(crate) struct Section {
    pub id: &'static str,
    pub title: &'static str,
    /// Markdown; the page shows it without the backticks.
    pub intro: &'static str,
    pub label: &'static str,
    pub lines: Vec<String>,
}

pub(crate) fn sections(s: &Summary) -> Vec<Section> {
    let all = [
        Section {
            id: "embeddings",
            title: "Embeddings",
            intro: "Variants on `/v1/embeddings`: inputs embedded and input tokens per second, and the latency of a request (no first token: the vectors arrive at once).",
            label: "embeddings",
            lines: embedding_lines(s),
        },
        Section {
            id: "reasoning",
            title: "Reasoning",
            intro: "Models that stream reasoning before their answer: TTFT is the first token of either kind; the first answer token comes later by the reasoning's length.",
            label: "reasoning",
            lines: reasoning_lines(s),
        },
        Section {
            id: "sessions",
            title: "Sessions",
            intro: "Multi-turn conversations: each turn sends the conversation so far.",
            label: "sessions",
            lines: session_lines(s),
        },
        Section {
            id: "choices",
            title: "Per choice",
            intro: "Streams of several choices (n > 1): each choice's own first and last token.",
            label: "per choice",
            lines: index_lines(s, "choice", |v| v.by_choice.as_deref()),
        },
        Section {
            id: "prompts",
            title: "Per prompt",
            intro: "Streamed batches: each prompt's choices, mapped back by index.",
            label: "per prompt",
            lines: index_lines(s, "prompt", |v| v.by_prompt.as_deref()),
        },
        Section {
            id: "stop",
            title: "Stop sequences",
            intro: "Variants with `stop`: choices that ended with finish_reason `stop` (a stop sequence, or the model's own end: the API does not tell them apart), and the output tokens not generated against `max_tokens`.",
            label: "stop",
            lines: stop_lines(s),
        },
        Section {
            id: "cache",
            title: "Prompt cache",
            intro: "What the server said its prefix cache served (`cached_tokens`).",
            label: "prompt cache",
            lines: cache_lines(s),
        },
        Section {
            id: "goodput",
            title: "Goodput",
            intro: "Requests that succeeded and met every objective of `[goodput]`.",
            label: "goodput",
            lines: goodput_lines(s),
        },
    ];
    all.into_iter().filter(|x| !x.lines.is_empty()).collect()
}

/// "think: TTFT p50 52.1 ms (first reasoning token); first answer token p50
/// 455 ms / p99 470 ms; 1200 of 1380 output tokens were reasoning (87%)".
fn reasoning_lines(s: &Summary) -> Vec<String> {
    let ms = |x: Option<f64>| format!("{} ms", cell(x));
    s.variants
        .iter()
        .filter(|v| v.ttfr_ms.count > 0 || v.reasoning_tokens > 0)
        .map(|v| {
            let mut line = if v.ttfr_ms.count > 0 {
                format!(
                    "{}: TTFT p50 {} (first reasoning token); first answer token p50 {} / p99 {}",
                    v.name,
                    ms(v.ttft_ms.p50),
                    ms(v.ttfa_ms.p50),
                    ms(v.ttfa_ms.p99)
                )
            } else {
                format!(
                    "{}: reasoning not streamed: TTFT p50 {} is the answer's first token, after the reasoning",
                    v.name,
                    ms(v.ttft_ms.p50)
                )
            };
            if v.reasoning_tokens > 0 && v.output_tokens > 0 {
                line += &format!(
                    "; {} of {} output tokens were reasoning ({:.0}%)",
                    v.reasoning_tokens,
                    v.output_tokens,
                    v.reasoning_tokens as f64 * 100.0 / v.output_tokens as f64
                );
            }
            line
        })
        .collect()
}

/// "embed: 412.5 inputs/s, 25,300 input tokens/s; 8.0 inputs a request;
/// latency p50 21.3 / p95 30.2 / p99 41.0 ms".
fn embedding_lines(s: &Summary) -> Vec<String> {
    s.variants
        .iter()
        .filter(|v| v.embeddings)
        .map(|v| {
            let t = &v.throughput;
            let per_request = if t.requests_per_s > 0.0 { t.prompts_per_s / t.requests_per_s } else { 0.0 };
            let e = &v.e2e_ms;
            format!(
                "{}: {:.1} inputs/s, {} input tokens/s; {per_request:.1} inputs a request; latency p50 {} / p95 {} / p99 {} ms",
                v.name,
                t.prompts_per_s,
                number(t.input_tokens_per_s.round()),
                cell(e.p50),
                cell(e.p95),
                cell(e.p99)
            )
        })
        .collect()
}

/// One line per variant split by `what` (choice, prompt): "chat: TTFT p50
/// by choice: 1: 105 ms, 2: 110 ms; e2e p50: 1: 300 ms, 2: 310 ms".
fn index_lines(
    s: &Summary,
    what: &str,
    pick: fn(&crate::metrics::Stats) -> Option<&[IndexStats]>,
) -> Vec<String> {
    let ms = |x: Option<f64>| x.map_or("-".into(), |x| format!("{} ms", number(x)));
    s.variants
        .iter()
        .filter_map(|v| {
            let split = pick(v)?;
            let ttft: Vec<String> =
                split.iter().map(|t| format!("{}: {}", t.index, ms(t.ttft_ms.p50))).collect();
            let e2e: Vec<String> =
                split.iter().map(|t| format!("{}: {}", t.index, ms(t.e2e_ms.p50))).collect();
            Some(format!("{}: TTFT p50 by {what}: {}; e2e p50: {}", v.name, ttft.join(", "), e2e.join(", ")))
        })
        .collect()
}

/// "chat: 82% of 300 choices ended with stop; 1234 of 5000 output tokens
/// saved against max_tokens (24.7%)".
fn stop_lines(s: &Summary) -> Vec<String> {
    s.variants
        .iter()
        .filter_map(|v| {
            let st = v.stop.as_ref()?;
            Some(format!(
                "{}: {}% of {} choices ended with stop; {} of {} output tokens saved against max_tokens ({}%)",
                v.name,
                number(st.stopped_share * 100.0),
                st.choices,
                st.tokens_saved,
                st.max_tokens,
                number(st.saved_share * 100.0)
            ))
        })
        .collect()
}

/// The variants, and the total when there are several.
fn variants_and_total(s: &Summary) -> impl Iterator<Item = &crate::metrics::Stats> {
    s.variants.iter().chain((s.variants.len() > 1).then_some(&s.total))
}

/// One line per variant (and the total, when several) whose requests were
/// judged against `[goodput]`: "chat: goodput 12.4 req/s (310.0 tok/s), 95.2% of requests good (1904)".
fn goodput_lines(s: &Summary) -> Vec<String> {
    variants_and_total(s)
        .filter_map(|v| {
            let g = v.goodput?;
            Some(format!(
                "{}: goodput {} req/s ({} tok/s), {}% of requests good ({})",
                v.name,
                number(g.requests_per_s),
                number(g.output_tokens_per_s),
                number(g.good_fraction * 100.0),
                g.good
            ))
        })
        .collect()
}

/// One line per variant (and the total, when several) whose server said
/// what its prompt cache served: "chat: 62.5% of prompt tokens cached (940
/// of 1503 requests hit); TTFT p50 cached 105.2 ms, uncached 180.4 ms".
fn cache_lines(s: &Summary) -> Vec<String> {
    variants_and_total(s)
        .filter_map(|v| {
            let c = v.cache.as_ref()?;
            let p50 = |p: &Percentiles| p.p50.map_or("-".into(), |x| format!("{} ms", number(x)));
            Some(format!(
                "{}: {}% of prompt tokens cached ({} of {} requests hit); TTFT p50 cached {}, uncached {}",
                v.name,
                number(c.cached_share * 100.0),
                c.hits,
                c.requests,
                p50(&c.ttft_cached_ms),
                p50(&c.ttft_uncached_ms)
            ))
        })
        .collect()
}

/// One line per variant with sessions: "chat: 12 sessions completed,
/// p50 3.2 s; TTFT p50 by turn: 1: 105.1 ms, 2: 121.0 ms, 3: 140.2 ms".
fn session_lines(s: &Summary) -> Vec<String> {
    s.variants
        .iter()
        .filter_map(|v| {
            let ss = v.sessions.as_ref()?;
            let ms = |x: Option<f64>| x.map_or("-".into(), |x| format!("{} ms", number(x)));
            let by_turn: Vec<String> =
                ss.by_turn.iter().map(|t| format!("{}: {}", t.index, ms(t.ttft_ms.p50))).collect();
            Some(format!(
                "{}: {} sessions completed, p50 {}; TTFT p50 by turn: {}",
                v.name,
                ss.completed,
                ss.duration_ms.p50.map_or("-".into(), |x| format!("{} s", number(x / 1000.0))),
                by_turn.join(", ")
            ))
        })
        .collect()
}

/// One line per objective: "PASS ttft.p95 (total): 412.3 ms, limit <= 800 ms".
fn slo_lines(s: &Summary) -> Vec<String> {
    s.slo.iter().map(slo_line).collect()
}

/// An objective's verdict, naming the metric, its actual value and the limit.
pub fn slo_line(r: &SloResult) -> String {
    let scope = r.variant.as_deref().unwrap_or("total");
    let op = match r.bound {
        Bound::Max => "<=",
        Bound::Min => ">=",
    };
    let unit = if r.unit.is_empty() || r.unit == "fraction" { String::new() } else { format!(" {}", r.unit) };
    let actual = r.actual.map_or("no data".into(), |a| format!("{}{unit}", number(a)));
    let verdict = match (r.deferred, r.passed) {
        (true, _) => "DEFERRED to the merge of the shards:",
        (false, true) => "PASS",
        (false, false) => "FAIL",
    };
    format!("{verdict} {} ({scope}): {actual}, limit {op} {}{unit}", r.metric, number(r.threshold))
}

/// Up to 3 decimals, without trailing zeros.
fn number(x: f64) -> String {
    let s = format!("{x:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".into() } else { s.to_owned() }
}

fn status_line(s: &Summary) -> String {
    let drain = if s.drain_seconds > 0.0 {
        format!(" (then {:.1} s of drain)", s.drain_seconds)
    } else {
        String::new()
    };
    format!(
        "{} — stopped by {}{}; measured window {:.1} s{drain}",
        s.scenario,
        s.stop_reason,
        if s.partial { " (partial results)" } else { "" },
        s.measured_seconds
    )
}
