//! summary.md: GitHub-flavoured Markdown, for PR comments and job summaries.

use super::{Format, cell, sections, slo_lines, status_line};
use crate::metrics::{Stats, Summary};

pub struct Markdown;

impl Format for Markdown {
    fn file_name(&self) -> Option<&'static str> {
        Some("summary.md")
    }

    fn render(&self, s: &Summary) -> String {
        let mut out = format!("## llmload: {}\n\n", status_line(s));
        out += "Latencies in ms, measured from the intended start (p50 / p95 / p99).\n\n";
        out += "| variant | requests | errors | TTFT | e2e | ITL | TPOT | queue delay | output tok/s | req/s |\n";
        out += "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
        for v in &s.variants {
            out += &row(v, false);
        }
        if s.variants.len() > 1 {
            out += &row(&s.total, true);
        }
        if s.variants.iter().any(|v| v.streaming == Some(false) && !v.embeddings) {
            out += "\n\\* not streamed: the whole answer arrives at once, so TTFT = e2e.\n";
        }
        if !s.stages.is_empty() {
            out += "\n### Stages\n\n| stage | level | requests | errors | TTFT | e2e | output tok/s |\n";
            out += "|---:|---:|---:|---:|---:|---:|---:|\n";
            for st in &s.stages {
                let v = &st.stats;
                out += &format!(
                    "| {} | {} | {} | {} | {} | {} | {:.1} |\n",
                    st.stage,
                    st.level,
                    v.requests.sent,
                    v.requests.errors,
                    three(&v.ttft_ms),
                    three(&v.e2e_ms),
                    v.throughput.output_tokens_per_s
                );
            }
        }
        for section in sections(s) {
            out += &format!("\n### {}\n\n{}\n\n", section.title, section.intro);
            for line in &section.lines {
                out += &format!("- {line}\n");
            }
        }
        if !s.slo.is_empty() {
            let verdict = match s.slo_passed {
                Some(true) => "met",
                Some(false) => "**not met**",
                None => "deferred to the merge of the shards",
            };
            out += &format!("\n### Service-level objectives: {verdict}\n\n");
            for line in slo_lines(s) {
                out += &format!("- {line}\n");
            }
        }
        if let Some(c) = s.total.cost_usd {
            out += &format!("\nCost of the measured requests: ${c:.4}.\n");
        }
        if !s.total.errors.is_empty() {
            out += "\n### Errors\n\n| class | count | most frequent message |\n|---|---:|---|\n";
            for e in &s.total.errors {
                let msg = e.messages.first().map(|m| m.message.replace('|', "\\|")).unwrap_or_default();
                out += &format!("| {} | {} | {} |\n", e.class, e.count, msg);
            }
        }
        for n in &s.notes {
            out += &format!("\n> {n}\n");
        }
        out
    }
}

fn three(p: &crate::metrics::Percentiles) -> String {
    format!("{} / {} / {}", cell(p.p50), cell(p.p95), cell(p.p99))
}

fn row(v: &Stats, bold: bool) -> String {
    let three =
        |p: &crate::metrics::Percentiles| format!("{} / {} / {}", cell(p.p50), cell(p.p95), cell(p.p99));
    let star = if v.streaming == Some(false) { "\\*" } else { "" };
    let ttft = if v.embeddings { "-".to_owned() } else { format!("{}{star}", three(&v.ttft_ms)) };
    let name = if bold { format!("**{}**", v.name) } else { v.name.clone() };
    format!(
        "| {name} | {} | {} | {ttft} | {} | {} | {} | {} | {:.1} | {:.2} |\n",
        v.requests.sent,
        v.requests.errors,
        three(&v.e2e_ms),
        three(&v.itl_ms),
        three(&v.tpot_ms),
        three(&v.queue_delay_ms),
        v.throughput.output_tokens_per_s,
        v.throughput.requests_per_s,
    )
}
