//! Rendering the one `Summary`. Each format is a file here and only formats:
//! no figure is computed outside `metrics::Summary`.

mod json;
mod markdown;
mod table;
mod visual;

use crate::metrics::{Percentiles, Summary};

pub use json::Json;
pub use markdown::Markdown;
pub use table::Table;
pub use visual::{MAX_POINTS, write_visuals};

/// An output format.
pub trait Format {
    /// File name inside the results directory, if the format is written there.
    fn file_name(&self) -> Option<&'static str>;
    fn render(&self, summary: &Summary) -> String;
}

/// The formats every run writes or prints.
pub fn all() -> [&'static dyn Format; 3] {
    [&Table, &Json, &Markdown]
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

fn p50_95_99(p: &Percentiles) -> [String; 3] {
    [cell(p.p50), cell(p.p95), cell(p.p99)]
}

/// One line per objective: "PASS ttft.p95 (total) 412 <= 800".
fn slo_lines(s: &Summary) -> Vec<String> {
    s.slo
        .iter()
        .map(|r| {
            let scope = r.variant.as_deref().unwrap_or("total");
            let op = if r.bound == "max" { "<=" } else { ">=" };
            let actual = r.actual.map_or("no data".into(), |a| format!("{a:.3}"));
            let verdict = if r.passed { "PASS" } else { "FAIL" };
            format!("{verdict} {} ({scope}): {actual} {op} {}", r.metric, r.threshold)
        })
        .collect()
}

fn status_line(s: &Summary) -> String {
    format!(
        "{} — stopped by {}{}; measured window {:.1} s",
        s.scenario,
        s.stop_reason,
        if s.partial { " (partial results)" } else { "" },
        s.measured_seconds
    )
}
