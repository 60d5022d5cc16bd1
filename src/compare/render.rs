//! The formats of a comparison: an aligned table for terminals, GitHub
//! Markdown (for `$GITHUB_STEP_SUMMARY`) and JSON. They only lay out the
//! `Comparison`; no figure is computed here.

use super::{Comparison, MetricRow, VariantComparison, Verdict};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// An aligned table for terminals.
    Text,
    /// GitHub-flavoured Markdown (for $GITHUB_STEP_SUMMARY).
    Md,
    /// JSON with stable field names (docs/compare.md).
    Json,
}

pub fn render(c: &Comparison, format: OutputFormat) -> String {
    match format {
        OutputFormat::Text => text(c),
        OutputFormat::Md => markdown(c),
        OutputFormat::Json => {
            let mut s = serde_json::to_string_pretty(c).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
            s.push('\n');
            s
        }
    }
}

const HEADER: [&str; 7] = ["metric", "baseline", "candidate", "change", "99% CI of change", "p", "verdict"];

/// The cells of one row, as both text and Markdown show them.
fn cells(m: &MetricRow) -> [String; 7] {
    // The error rate is shown in percent (its change in percentage points).
    let scale = if m.metric == "error_rate" { 100.0 } else { 1.0 };
    let v = |x: Option<f64>| x.map_or("-".into(), |x| num(x * scale));
    let change = match (m.delta, m.delta_pct) {
        (Some(d), Some(p)) => format!("{} ({p:+.1}%)", signed(d * scale)),
        (Some(d), None) => signed(d * scale),
        _ => "-".into(),
    };
    let ci = match (m.ci_low, m.ci_high) {
        (Some(lo), Some(hi)) => format!("[{}, {}]", signed(lo * scale), signed(hi * scale)),
        _ => "-".into(),
    };
    let p = match m.p_value {
        None => "-".into(),
        Some(p) if p < 0.0001 => "<0.0001".into(),
        Some(p) => format!("{p:.4}"),
    };
    [label(&m.metric), v(m.baseline), v(m.candidate), change, ci, p, m.verdict.as_str().into()]
}

/// `ttft_ms.p95` → `ttft p95 (ms)`.
fn label(metric: &str) -> String {
    match metric {
        "throughput.requests_per_s" => "requests/s".into(),
        "throughput.output_tokens_per_s" => "output tokens/s".into(),
        "error_rate" => "error rate (%)".into(),
        "cost_per_request_usd" => "cost/request (USD)".into(),
        m => match m.split_once("_ms.") {
            Some((name, stat)) => format!("{name} {stat} (ms)"),
            None => m.into(),
        },
    }
}

/// Four significant digits, at most 8 decimals: fits ms, tokens/s and USD.
fn num(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    let magnitude = x.abs().log10().floor() as i32;
    let decimals = (3 - magnitude).clamp(0, 8) as usize;
    format!("{x:.decimals$}")
}

fn signed(x: f64) -> String {
    if x > 0.0 { format!("+{}", num(x)) } else { num(x) }
}

fn sections(c: &Comparison) -> impl Iterator<Item = &VariantComparison> {
    c.variants.iter().chain([&c.total])
}

fn headline(c: &Comparison) -> String {
    if c.regressions.is_empty() {
        let imp = c.improvements.len();
        match imp {
            0 => "no significant regression".into(),
            _ => format!("no significant regression ({imp} improvement{})", if imp == 1 { "" } else { "s" }),
        }
    } else {
        let n = c.regressions.len();
        format!("{n} significant regression{} beyond the threshold", if n == 1 { "" } else { "s" })
    }
}

/// "total ttft_ms.p50" → "total: ttft p50 (ms) +30.2%".
fn named(c: &Comparison, wanted: Verdict) -> Vec<String> {
    sections(c)
        .flat_map(|v| v.metrics.iter().filter(move |m| m.verdict == wanted).map(move |m| (v, m)))
        .map(|(v, m)| {
            let pct = m.delta_pct.map_or(String::new(), |p| format!(" {p:+.1}%"));
            format!("{}: {}{pct}", v.name, label(&m.metric))
        })
        .collect()
}

fn method_line(c: &Comparison) -> String {
    format!(
        "a regression is a change significant at alpha {} and worse by more than {}% (docs/compare.md)",
        c.method.alpha,
        (c.method.max_regression * 100.0 * 1e6).round() / 1e6
    )
}

fn text(c: &Comparison) -> String {
    let mut out = String::new();
    let run = |r: &super::RunRef| {
        let partial = if r.partial { ", partial" } else { "" };
        format!("{} ({}, {} requests{partial})", r.dir, r.scenario, r.requests)
    };
    out +=
        &format!("baseline:  {}\ncandidate: {}\n{}\n", run(&c.baseline), run(&c.candidate), method_line(c));
    let rows: Vec<[String; 7]> = sections(c).flat_map(|v| v.metrics.iter().map(cells)).collect();
    let mut width = HEADER.map(str::len);
    for r in &rows {
        for (w, cell) in width.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[String; 7]| {
        let mut s = String::from("  ");
        for (k, cell) in cells.iter().enumerate() {
            let pad = width[k].saturating_sub(cell.chars().count());
            match k {
                0 | 6 => s += &format!("{cell}{}  ", " ".repeat(if k == 6 { 0 } else { pad })),
                _ => s += &format!("{}{cell}  ", " ".repeat(pad)),
            }
        }
        s.trim_end().to_owned() + "\n"
    };
    for v in sections(c) {
        out += &format!("\n{}\n", v.name);
        out += &line(&HEADER.map(String::from));
        for m in &v.metrics {
            out += &line(&cells(m));
        }
    }
    out += "\n";
    for (side, names) in [("baseline", &c.only_in_baseline), ("candidate", &c.only_in_candidate)] {
        if !names.is_empty() {
            out += &format!("only in the {side} (not compared): {}\n", names.join(", "));
        }
    }
    for n in &c.notes {
        out += &format!("note: {n}\n");
    }
    out += &format!("result: {}\n", headline(c));
    for r in named(c, Verdict::Regression) {
        out += &format!("  regression {r}\n");
    }
    out
}

fn markdown(c: &Comparison) -> String {
    let mut out = format!("### llmload compare: {}\n\n", headline(c));
    let run = |r: &super::RunRef| format!("`{}` ({}, {} requests)", r.dir, r.scenario, r.requests);
    out +=
        &format!("Baseline {}, candidate {}; {}.\n\n", run(&c.baseline), run(&c.candidate), method_line(c));
    let regressions = named(c, Verdict::Regression);
    if !regressions.is_empty() {
        out += &format!("**Regressions:** {}\n\n", regressions.join("; "));
    }
    for v in sections(c) {
        let name = if v.name == "total" { "**total**".into() } else { format!("`{}`", v.name) };
        out += &format!("#### {name}\n\n| {} |\n|---|--:|--:|--:|--:|--:|---|\n", HEADER.join(" | "));
        for m in &v.metrics {
            let mut cells = cells(m);
            if m.verdict == Verdict::Regression {
                cells[6] = format!("**{}**", cells[6]);
            }
            out += &format!("| {} |\n", cells.join(" | "));
        }
        out += "\n";
    }
    for (side, names) in [("baseline", &c.only_in_baseline), ("candidate", &c.only_in_candidate)] {
        if !names.is_empty() {
            out += &format!("Only in the {side} (not compared): {}\n\n", names.join(", "));
        }
    }
    for n in &c.notes {
        out += &format!("Note: {n}\n\n");
    }
    out
}
