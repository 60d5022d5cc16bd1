//! summary.csv: one row per variant (and `total`) and latency metric, for
//! spreadsheets and scripts. Columns: `variant, metric, unit, count, p50,
//! p90, p95, p99, p99.9, max, mean, slo`; an empty cell means no samples.
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
const METRICS: [(&str, Pick); 8] = [
    ("ttft", |s| &s.ttft_ms),
    ("e2e", |s| &s.e2e_ms),
    ("itl", |s| &s.itl_ms),
    ("tpot", |s| &s.tpot_ms),
    ("queue_delay", |s| &s.queue_delay_ms),
    ("ttft_service", |s| &s.ttft_service_ms),
    ("e2e_service", |s| &s.e2e_service_ms),
    ("ttfr", |s| &s.ttfr_ms),
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
        // Sessions: each turn's TTFT and e2e, and whole sessions' durations.
        for v in s.variants.iter().chain([&s.total]) {
            let Some(ss) = &v.sessions else { continue };
            let turns = ss.by_turn.iter().flat_map(|t| {
                [(format!("ttft_turn_{}", t.turn), &t.ttft_ms), (format!("e2e_turn_{}", t.turn), &t.e2e_ms)]
            });
            for (metric, p) in turns.chain([("session_duration".to_owned(), &ss.duration_ms)]) {
                let cell = |x: Option<f64>| x.map(|x| x.to_string()).unwrap_or_default();
                let mut row = vec![v.name.clone(), metric, "ms".into(), p.count.to_string()];
                row.extend([p.p50, p.p90, p.p95, p.p99, p.p999, p.max, p.mean].map(cell));
                row.push(String::new());
                rows.push(row);
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
