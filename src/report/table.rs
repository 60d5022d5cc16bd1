//! The table printed to the terminal at the end of a run.

use super::{Format, cell, sections, slo_lines, status_line};
use crate::metrics::{Stats, Summary};

/// The terminal table, fitted to `width` columns: one table when every
/// column fits, else a latency table and a volume table one above the
/// other (variant names shortened when even those do not fit). The full set
/// of figures stays in summary.md, summary.json and report.html.
pub struct Table {
    pub width: usize,
}

impl Table {
    /// As wide as the terminal on stdout, else `$COLUMNS`, else 80.
    pub fn for_terminal() -> Table {
        let columns = std::env::var("COLUMNS").ok().and_then(|c| c.trim().parse().ok());
        Table { width: terminal_width().or(columns).unwrap_or(80).max(40) }
    }
}

/// The width of the terminal stdout is, if it is one.
fn terminal_width() -> Option<usize> {
    // SAFETY: TIOCGWINSZ only fills the winsize it is given, and fails
    // (returns -1) when fd 1 is not a terminal.
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    let ok = unsafe { libc::ioctl(1, libc::TIOCGWINSZ, &mut ws) } == 0;
    (ok && ws.ws_col > 0).then_some(usize::from(ws.ws_col))
}

/// A column: its heading and a cell per row (the variants, then the total).
struct Column {
    head: &'static str,
    cells: Vec<String>,
}

impl Format for Table {
    fn file_name(&self) -> Option<&'static str> {
        None
    }

    fn render(&self, s: &Summary) -> String {
        let mut rows: Vec<&Stats> = s.variants.iter().collect();
        if s.variants.len() > 1 {
            rows.push(&s.total);
        }
        let names: Vec<String> = rows.iter().map(|v| v.name.clone()).collect();
        let (latency, volume) = columns(s, &rows);
        let mut out = status_line(s) + "\nlatencies in ms, measured from the intended start\n\n";
        let all: Vec<&Column> = volume[..2].iter().chain(&latency).chain(&volume[2..]).collect();
        if table_width(&names, &all) <= self.width {
            out += &table(&names, &all, self.width);
        } else {
            out += &table(&names, &latency.iter().collect::<Vec<_>>(), self.width);
            out.push('\n');
            out += &table(&names, &volume.iter().collect::<Vec<_>>(), self.width);
        }
        if s.variants.iter().any(|v| v.streaming == Some(false) && !v.embeddings) {
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

/// The latency columns, and the volume columns (requests and errors
/// first: they lead the single table), with late starts, cost and finish
/// reasons only when some variant has them.
fn columns(s: &Summary, rows: &[&Stats]) -> (Vec<Column>, Vec<Column>) {
    let col = |head: &'static str, f: &dyn Fn(&Stats) -> String| Column {
        head,
        cells: rows.iter().map(|v| f(v)).collect(),
    };
    // Embeddings have no first token; non-streamed answers' TTFT is their e2e.
    let ttft = |v: &Stats, c: Option<f64>| match (v.embeddings, v.streaming) {
        (true, _) => "-".to_owned(),
        (false, Some(false)) => cell(c) + "*",
        _ => cell(c),
    };
    let mut latency = vec![
        col("ttft p50", &|v| ttft(v, v.ttft_ms.p50)),
        col("p95", &|v| ttft(v, v.ttft_ms.p95)),
        col("p99", &|v| ttft(v, v.ttft_ms.p99)),
    ];
    // A model that reasons first: its TTFT is its first reasoning token; the
    // first answer token comes beside it.
    if s.variants.iter().any(|v| v.ttfa_ms.count > 0) {
        latency.push(col("answer p50", &|v| cell(v.ttfa_ms.p50)));
        latency.push(col("p99", &|v| cell(v.ttfa_ms.p99)));
    }
    latency.extend([
        col("e2e p50", &|v| cell(v.e2e_ms.p50)),
        col("p95", &|v| cell(v.e2e_ms.p95)),
        col("p99", &|v| cell(v.e2e_ms.p99)),
    ]);
    let mut volume = vec![
        col("requests", &|v| v.requests.sent.to_string()),
        col("errors", &|v| v.requests.errors.to_string()),
    ];
    if s.total.requests.late_starts > 0 {
        volume.push(col("late", &|v| v.requests.late_starts.to_string()));
    }
    if s.variants.iter().any(|v| v.embeddings) {
        volume.push(col("inputs/s", &|v| format!("{:.1}", v.throughput.prompts_per_s)));
        volume.push(col("in tok/s", &|v| format!("{:.0}", v.throughput.input_tokens_per_s)));
    }
    if s.variants.iter().any(|v| !v.embeddings) {
        volume.push(col("out tok/s", &|v| format!("{:.1}", v.throughput.output_tokens_per_s)));
    }
    if s.total.cost_usd.is_some() {
        volume.push(col("cost $", &|v| v.cost_usd.map_or("-".into(), |c| format!("{c:.4}"))));
    }
    if s.total.finish_reasons.len() > 1 || s.total.finish_reasons.keys().any(|r| r != "length") {
        volume.push(col("finish", &|v| finish(v)));
    }
    (latency, volume)
}

/// The most common finish reason and its share of the choices: "stop 82%".
fn finish(v: &Stats) -> String {
    let all: u64 = v.finish_reasons.values().sum();
    match v.finish_reasons.iter().max_by_key(|(_, n)| **n) {
        Some((reason, n)) if all > 0 => format!("{reason} {:.0}%", *n as f64 * 100.0 / all as f64),
        _ => "-".into(),
    }
}

const GAP: usize = 2;

fn table_width(names: &[String], cols: &[&Column]) -> usize {
    let name = names.iter().map(|n| n.chars().count()).max().unwrap_or(0).max("variant".len());
    name + cols.iter().map(|c| GAP + col_width(c)).sum::<usize>()
}

fn col_width(c: &Column) -> usize {
    c.cells.iter().map(|x| x.chars().count()).chain([c.head.len()]).max().unwrap_or(0)
}

/// One table; variant names cut (with "…") when the row would pass `width`.
fn table(names: &[String], cols: &[&Column], width: usize) -> String {
    let rest: usize = cols.iter().map(|c| GAP + col_width(c)).sum();
    let longest = names.iter().map(|n| n.chars().count()).max().unwrap_or(0).max("variant".len());
    let name_w = longest.min(width.saturating_sub(rest).max("variant".len()));
    let cut = |n: &str| {
        if n.chars().count() <= name_w {
            n.to_owned()
        } else {
            n.chars().take(name_w - 1).collect::<String>() + "…"
        }
    };
    let line = |name: &str, cells: Vec<(&str, usize)>| {
        let mut l = format!("{:<name_w$}", cut(name));
        for (c, w) in cells {
            l += &format!("{:>w$}", c, w = GAP + w);
        }
        l.trim_end().to_owned() + "\n"
    };
    let mut out = line("variant", cols.iter().map(|c| (c.head, col_width(c))).collect());
    out += &"-".repeat(name_w + rest);
    out.push('\n');
    for (i, name) in names.iter().enumerate() {
        out += &line(name, cols.iter().map(|c| (c.cells[i].as_str(), col_width(c))).collect());
    }
    out
}
