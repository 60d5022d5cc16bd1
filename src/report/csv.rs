//! summary.csv: one row per variant (and `total`) and latency metric, for
//! spreadsheets and scripts. Columns: `variant, metric, unit, count, p50,
//! p90, p95, p99, p99.9, max, mean, slo`; an empty cell means no samples.
//!
//! Embeddings variants add `inputs_per_s` and `input_tokens_per_s` rows (the
//! rate in `mean`).
//!
//! `slo` holds the verdicts of the objectives on that variant and metric
//! ("PASS ttft.p95 (total): 412.3 ms, limit <= 800 ms", several joined by
//! "; "). An objective on a figure that has no row here (error_rate,
//! throughput, cost) gets a row of its own with only `variant`, `metric`,
//! `unit` and `slo` filled, so every verdict is in the file.

use super::{Format, slo_line};
use crate::metrics::{Percentiles, Stats, Summary};

pub struct Csv;

type Pick = fn(&Stats) -> &Percentiles;

/// The latency metrics, named as `[slo]` keys name them.
const METRICS: [(&str, Pick); 9] = [
    ("ttft", |s| &s.ttft_ms),
    ("e2e", |s| &s.e2e_ms),
    ("itl", |s| &s.itl_ms),
    ("tpot", |s| &s.tpot_ms),
    ("queue_delay", |s| &s.queue_delay_ms),
    ("ttft_service", |s| &s.ttft_service_ms),
    ("e2e_service", |s| &s.e2e_service_ms),
    ("ttfr", |s| &s.ttfr_ms),
    ("ttfa", |s| &s.ttfa_ms),
];

const HEADER: [&str; 12] =
    ["variant", "metric", "unit", "count", "p50", "p90", "p95", "p99", "p99.9", "max", "mean", "slo"];

impl Format for Csv {
    fn file_name(&self) -> Option<&'static str> {
        Some("summary.csv")
    }

    fn render(&self, s: &Summary) -> String {
        let mut w = ::csv::Writer::from_writer(Vec::new());
        let mut rows: Vec<Vec<String>> = vec![HEADER.map(str::to_owned).to_vec()];
        // Objectives name a variant, or none for the whole run (the total).
        let scoped = s.variants.iter().map(|v| (Some(v.name.as_str()), v)).chain([(None, &s.total)]);
        for (scope, v) in scoped {
            for (metric, pick) in METRICS {
                let p = pick(v);
                let cell = |x: Option<f64>| x.map(|x| x.to_string()).unwrap_or_default();
                let verdicts: Vec<String> = s
                    .slo
                    .iter()
                    .filter(|r| r.variant.as_deref() == scope)
                    .filter(|r| r.metric.split_once('.').is_some_and(|(m, _)| m == metric))
                    .map(slo_line)
                    .collect();
                rows.push(vec![
                    v.name.clone(),
                    metric.into(),
                    "ms".into(),
                    p.count.to_string(),
                    cell(p.p50),
                    cell(p.p90),
                    cell(p.p95),
                    cell(p.p99),
                    cell(p.p999),
                    cell(p.max),
                    cell(p.mean),
                    verdicts.join("; "),
                ]);
            }
        }
        // The prompt cache, when the server said: TTFT of cached and uncached
        // requests as latency rows, the cached share in `mean` of its own.
        for v in s.variants.iter().chain([&s.total]) {
            if let Some(c) = &v.cache {
                for (metric, p) in
                    [("ttft_cached", &c.ttft_cached_ms), ("ttft_uncached", &c.ttft_uncached_ms)]
                {
                    let cell = |x: Option<f64>| x.map(|x| x.to_string()).unwrap_or_default();
                    let mut row = vec![v.name.clone(), metric.into(), "ms".into(), p.count.to_string()];
                    row.extend([p.p50, p.p90, p.p95, p.p99, p.p999, p.max, p.mean].map(cell));
                    row.push(String::new());
                    rows.push(row);
                }
                let mut row = vec![String::new(); HEADER.len()];
                (row[0], row[1], row[2], row[3]) =
                    (v.name.clone(), "cached_share".into(), "fraction".into(), c.requests.to_string());
                row[10] = c.cached_share.to_string();
                rows.push(row);
            }
        }
        // Splits by index (session turn, choice, prompt): each one's TTFT
        // and e2e; whole sessions' durations.
        for v in s.variants.iter().chain([&s.total]) {
            let mut split: Vec<(String, &Percentiles)> = Vec::new();
            let by = [
                ("turn", v.sessions.as_ref().map(|ss| ss.by_turn.as_slice())),
                ("choice", v.by_choice.as_deref()),
                ("prompt", v.by_prompt.as_deref()),
            ];
            for (what, items) in by {
                for t in items.unwrap_or_default() {
                    split.push((format!("ttft_{what}_{}", t.index), &t.ttft_ms));
                    split.push((format!("e2e_{what}_{}", t.index), &t.e2e_ms));
                }
            }
            if let Some(ss) = &v.sessions {
                split.push(("session_duration".to_owned(), &ss.duration_ms));
            }
            for (metric, p) in split {
                let cell = |x: Option<f64>| x.map(|x| x.to_string()).unwrap_or_default();
                let mut row = vec![v.name.clone(), metric, "ms".into(), p.count.to_string()];
                row.extend([p.p50, p.p90, p.p95, p.p99, p.p999, p.max, p.mean].map(cell));
                row.push(String::new());
                rows.push(row);
            }
        }
        // Embeddings: inputs and input tokens per second, in `mean` (the
        // requests in `count`).
        for v in s.variants.iter().filter(|v| v.embeddings) {
            for (metric, unit, value) in [
                ("inputs_per_s", "inputs/s", v.throughput.prompts_per_s),
                ("input_tokens_per_s", "tokens/s", v.throughput.input_tokens_per_s),
            ] {
                let mut row = vec![String::new(); HEADER.len()];
                (row[0], row[1], row[2], row[3]) =
                    (v.name.clone(), metric.into(), unit.into(), v.requests.ok.to_string());
                row[10] = value.to_string();
                rows.push(row);
            }
        }
        // Stop sequences: the share of choices that stopped, and the share of
        // max_tokens saved, in `mean` (their counts in `count`).
        for v in s.variants.iter().chain([&s.total]) {
            if let Some(st) = &v.stop {
                for (metric, count, value) in [
                    ("stop_share", st.choices, st.stopped_share),
                    ("tokens_saved_share", st.max_tokens, st.saved_share),
                ] {
                    let mut row = vec![String::new(); HEADER.len()];
                    (row[0], row[1], row[2], row[3]) =
                        (v.name.clone(), metric.into(), "fraction".into(), count.to_string());
                    row[10] = value.to_string();
                    rows.push(row);
                }
            }
        }
        // Goodput, when judged: its rate in `mean`, the good requests in `count`.
        for v in s.variants.iter().chain([&s.total]) {
            if let Some(g) = v.goodput {
                for (metric, unit, value) in
                    [("goodput", "req/s", g.requests_per_s), ("good_fraction", "fraction", g.good_fraction)]
                {
                    let mut row = vec![String::new(); HEADER.len()];
                    (row[0], row[1], row[2], row[3]) =
                        (v.name.clone(), metric.into(), unit.into(), g.good.to_string());
                    row[10] = value.to_string();
                    rows.push(row);
                }
            }
        }
        for r in s.slo.iter().filter(|r| !r.metric.contains('.')) {
            let mut row = vec![String::new(); HEADER.len()];
            row[0] = r.variant.clone().unwrap_or_else(|| "total".into());
            row[1] = r.metric.clone();
            row[2] = r.unit.clone();
            row[11] = slo_line(r);
            rows.push(row);
        }
        for row in rows {
            // Writing to a Vec cannot fail.
            let _ = w.write_record(&row);
        }
        String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
    }
}
