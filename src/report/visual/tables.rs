//! The tables of report.html, rendered from the `Summary` only.

use std::fmt::Write;

use super::escape::esc;
use crate::metrics::{Percentiles, Stats, Summary};
use crate::report::{cell, sections, slo_lines};

fn three(p: &Percentiles) -> String {
    format!("{} / {} / {}", cell(p.p50), cell(p.p95), cell(p.p99))
}

fn usd(v: Option<f64>) -> String {
    v.map_or("-".into(), |c| format!("${c:.4}"))
}

pub fn slo(s: &Summary) -> String {
    let mut h = String::new();
    for section in sections(s) {
        let intro = esc(&section.intro.replace('`', ""));
        let _ = writeln!(h, "<h2 id=\"{}\">{}</h2>\n<p>{intro}</p>\n<ul>", section.id, section.title);
        for line in &section.lines {
            let _ = writeln!(h, "<li>{}</li>", esc(line));
        }
        h += "</ul>\n";
    }
    h += "<h2 id=\"slo\">Service-level objectives</h2>\n";
    if s.slo.is_empty() {
        return h + "<p class=\"muted\">No objectives ([slo] in the scenario).</p>\n";
    }
    let verdict = match s.slo_passed {
        Some(true) => "<span class=\"badge pass\">met</span>",
        Some(false) => "<span class=\"badge fail\">not met</span>",
        None => "<span class=\"badge none\">deferred to the merge of the shards</span>",
    };
    let _ = writeln!(h, "<p>Verdict: {verdict}</p>\n<ul>");
    for (line, r) in slo_lines(s).iter().zip(&s.slo) {
        let class = match (r.deferred, r.passed) {
            (true, _) => "none",
            (false, true) => "pass",
            (false, false) => "fail",
        };
        let _ = writeln!(h, "<li><span class=\"badge {class}\">{}</span></li>", esc(line));
    }
    h + "</ul>\n"
}

pub fn summary(s: &Summary) -> String {
    let mut rows: Vec<&Stats> = s.variants.iter().collect();
    if s.variants.len() > 1 {
        rows.push(&s.total);
    }
    let total = |v: &Stats| if std::ptr::eq(v, &s.total) { " class=\"total\"" } else { "" };
    // Two tables, latencies then volumes, so that neither is wider than a page.
    let mut h = String::from(
        "<h2 id=\"summary\">Summary</h2>\n<p>Latencies in ms from the intended start, p50 / p95 / p99.</p>\n\
         <div class=\"wide\"><table>\n<tr><th class=\"l\">variant</th><th>TTFT</th><th>e2e</th><th>ITL</th>\
         <th>TPOT</th><th>queue delay</th></tr>\n",
    );
    for v in &rows {
        let star = if v.streaming == Some(false) { "*" } else { "" };
        // Embeddings have no first token.
        let ttft = if v.embeddings { "-".to_owned() } else { format!("{}{star}", three(&v.ttft_ms)) };
        let _ = writeln!(
            h,
            "<tr{}><td class=\"l\">{}</td><td>{ttft}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            total(v),
            esc(&v.name),
            three(&v.e2e_ms),
            three(&v.itl_ms),
            three(&v.tpot_ms),
            three(&v.queue_delay_ms),
        );
    }
    h += "</table></div>\n";
    if s.variants.iter().any(|v| v.streaming == Some(false) && !v.embeddings) {
        h += "<p class=\"muted\">* not streamed: the whole answer arrives at once, so TTFT = e2e.</p>\n";
    }
    h += "<div class=\"wide\"><table>\n<tr><th class=\"l\">variant</th><th>requests</th><th>ok</th>\
          <th>errors</th><th>late starts</th><th>retries</th><th>req/s</th><th>output tok/s</th>\
          <th>prompt tokens</th><th>output tokens</th><th>cost</th></tr>\n";
    for v in &rows {
        let r = &v.requests;
        let _ = writeln!(
            h,
            "<tr{}><td class=\"l\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.2}</td>\
             <td>{:.1}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            total(v),
            esc(&v.name),
            r.sent,
            r.ok,
            r.errors,
            r.late_starts,
            r.retries,
            v.throughput.requests_per_s,
            v.throughput.output_tokens_per_s,
            v.prompt_tokens,
            v.output_tokens,
            usd(v.cost_usd),
        );
    }
    h + "</table></div>\n"
}

pub fn stages(s: &Summary) -> String {
    if s.stages.is_empty() {
        return String::new();
    }
    let mut h = String::from(
        "<h2 id=\"stages\">Stages</h2>\n<table>\n<tr><th>stage</th><th>level</th><th>requests</th>\
         <th>errors</th><th>TTFT</th><th>e2e</th><th>req/s</th><th>output tok/s</th></tr>\n",
    );
    for st in &s.stages {
        let v = &st.stats;
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.2}</td>\
             <td>{:.1}</td></tr>",
            st.stage,
            st.level,
            v.requests.sent,
            v.requests.errors,
            three(&v.ttft_ms),
            three(&v.e2e_ms),
            v.throughput.requests_per_s,
            v.throughput.output_tokens_per_s
        );
    }
    h + "</table>\n"
}

pub fn errors(s: &Summary) -> String {
    if s.total.errors.is_empty() {
        return String::new();
    }
    let mut h = String::from(
        "<h2 id=\"errors\">Errors</h2>\n<table>\n<tr><th class=\"l\">class</th><th>count</th>\
         <th class=\"l\">messages (count)</th></tr>\n",
    );
    for e in &s.total.errors {
        let msgs: Vec<String> =
            e.messages.iter().take(5).map(|m| format!("{} ({})", esc(&m.message), m.count)).collect();
        let _ = writeln!(
            h,
            "<tr><td class=\"l\">{}</td><td>{}</td><td class=\"l\">{}</td></tr>",
            esc(&e.class),
            e.count,
            msgs.join("<br>")
        );
    }
    h + "</table>\n"
}

pub fn notes(s: &Summary) -> String {
    let mut h = String::new();
    if let Some(c) = s.total.cost_usd {
        let _ = writeln!(h, "<p>Cost of the measured requests: {}.</p>", usd(Some(c)));
    }
    if s.notes.is_empty() {
        return h;
    }
    h += "<h2 id=\"notes\">Notes</h2>\n";
    for n in &s.notes {
        let _ = writeln!(h, "<p class=\"note\">{}</p>", esc(n));
    }
    h
}
