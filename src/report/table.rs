//! The table printed to the terminal at the end of a run.

use super::{Format, cell, p50_95_99, sections, slo_lines, status_line};
use crate::metrics::{Stats, Summary};

pub struct Table;

const HEAD: [&str; 10] =
    ["variant", "requests", "errors", "ttft p50", "p95", "p99", "e2e p50", "p95", "p99", "out tok/s"];

impl Format for Table {
    fn file_name(&self) -> Option<&'static str> {
        None
    }

    fn render(&self, s: &Summary) -> String {
        let mut rows: Vec<[String; 10]> = vec![HEAD.map(str::to_owned)];
        rows.extend(s.variants.iter().map(row));
        if s.variants.len() > 1 {
            rows.push(row(&s.total));
        }
        let widths: Vec<usize> =
            (0..10).map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0)).collect();
        let mut out = status_line(s) + "\nlatencies in ms, measured from the intended start\n\n";
        for (i, r) in rows.iter().enumerate() {
            let cells: Vec<String> = r
                .iter()
                .enumerate()
                .map(|(c, v)| {
                    if c == 0 { format!("{v:<w$}", w = widths[c]) } else { format!("{v:>w$}", w = widths[c]) }
                })
                .collect();
            out += cells.join("  ").trim_end();
            out.push('\n');
            if i == 0 {
                out += &"-".repeat(widths.iter().sum::<usize>() + 2 * (widths.len() - 1));
                out.push('\n');
            }
        }
        if s.variants.iter().any(|v| v.streaming == Some(false)) {
            out += "* not streamed: the whole answer arrives at once, so TTFT = e2e\n";
        }
        for e in &s.total.errors {
            let top = e.messages.first().map(|m| m.message.as_str()).unwrap_or("");
            out += &format!("errors: {} × {} (e.g. {top})\n", e.count, e.class);
        }
        if !s.stages.is_empty() {
            out += "\nstage  level  requests  errors  ttft p50    p99  e2e p50    p99  out tok/s\n";
            for st in &s.stages {
                let v = &st.stats;
                out += &format!(
                    "{:>5}  {:>5}  {:>8}  {:>6}  {:>8}  {:>5}  {:>7}  {:>5}  {:>9.1}\n",
                    st.stage,
                    st.level,
                    v.requests.sent,
                    v.requests.errors,
                    cell(v.ttft_ms.p50),
                    cell(v.ttft_ms.p99),
                    cell(v.e2e_ms.p50),
                    cell(v.e2e_ms.p99),
                    v.throughput.output_tokens_per_s
                );
            }
        }
        if let Some(c) = s.total.cost_usd {
            out += &format!("cost: ${c:.4} for the measured requests\n");
        }
        for section in sections(s) {
            for line in &section.lines {
                out += &format!("{}: {line}\n", section.label);
            }
        }
        for line in slo_lines(s) {
            out += &format!("slo: {line}\n");
        }
        for n in &s.notes {
            out += &format!("note: {n}\n");
        }
        out
    }
}

fn row(v: &Stats) -> [String; 10] {
    let mut ttft = p50_95_99(&v.ttft_ms);
    if v.streaming == Some(false) {
        ttft = ttft.map(|c| c + "*");
    }
    let e2e = p50_95_99(&v.e2e_ms);
    let [t50, t95, t99] = ttft;
    let [e50, e95, e99] = e2e;
    [
        v.name.clone(),
        v.requests.sent.to_string(),
        v.requests.errors.to_string(),
        t50,
        t95,
        t99,
        e50,
        e95,
        e99,
        format!("{:.1}", v.throughput.output_tokens_per_s),
    ]
}
