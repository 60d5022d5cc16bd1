//! The plan: what a scenario will send and the most it can cost, before
//! anything is sent. `validate` and `run --dry-run` print it; a live run
//! prints its worst case first.
//!
//! Worst case per request = batch × (prompt tokens + system tokens) input and
//! batch × max_tokens × max(n, best_of) output, priced per million tokens.
//! Expected requests: open loop, Σ rate × duration over the stages and the
//! warm-up (capped by `requests`); closed loop, `requests` when set (its
//! warm-up adds an unknown number), else unbounded.

use std::fmt::Write;

use super::{Endpoint, LoadMode, PromptSource, Scenario, SweepMode, Variant};
use crate::tokens::{Counter, Tokenizer};

#[derive(Debug, Clone)]
pub struct Plan {
    pub variants: Vec<VariantPlan>,
    /// Requests over the whole run, when bounded.
    pub requests: Option<f64>,
    pub worst_input_tokens: Option<f64>,
    pub worst_output_tokens: Option<f64>,
    /// `None` when unbounded or a model has no price.
    pub worst_cost_usd: Option<f64>,
    pub notes: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct VariantPlan {
    pub name: String,
    pub requests: Option<f64>,
    /// Per request: (input, output).
    pub worst_tokens: (u64, u64),
    pub worst_cost_usd: Option<f64>,
}

impl Plan {
    pub fn new(s: &Scenario) -> Plan {
        let total_requests = expected_requests(s);
        let weights: u64 = s.variants.iter().map(|v| u64::from(v.weight)).sum::<u64>().max(1);
        let variants: Vec<VariantPlan> = s
            .variants
            .iter()
            .map(|v| {
                let share = match s.sweep_mode {
                    SweepMode::Mix => f64::from(v.weight) / weights as f64,
                    SweepMode::Sequential => 1.0,
                };
                // Open-loop arrivals start sessions: each may send its
                // every turn (a request count counts turns already).
                let turns = match (&s.load.mode, v.session, s.load.requests) {
                    (LoadMode::Open { .. }, Some(ss), None) => f64::from(ss.max_turns),
                    _ => 1.0,
                };
                let requests = total_requests.map(|r| r * share * turns);
                let worst = v.worst_case_tokens();
                let worst_cost_usd = requests.zip(v.worst_case_cost()).map(|(r, c)| r * c);
                VariantPlan { name: v.name.clone(), requests, worst_tokens: worst, worst_cost_usd }
            })
            .collect();
        let sum = |f: &dyn Fn(&VariantPlan) -> Option<f64>| variants.iter().map(f).sum::<Option<f64>>();
        let mut notes: Vec<String> = s.pricing_source.iter().cloned().collect();
        let unpriced: Vec<&str> =
            unique(s.variants.iter().filter(|v| v.price.is_none()).map(|v| v.model.as_str()));
        if !unpriced.is_empty() {
            notes.push(format!("no [pricing] for {}: cost not computed", unpriced.join(", ")));
        }
        let fallback: Vec<&str> = unique(
            s.variants
                .iter()
                .filter(|v| v.tokenizer.counter() == Counter::Fallback)
                .map(|v| v.model.as_str()),
        );
        if !fallback.is_empty() {
            notes.push(format!(
                "no tokenizer given for {} and tiktoken does not know it: prompts are sized and answers \
                 without usage counted in {} (give its tokenizer.json in [tokenizers])",
                fallback.join(", "),
                crate::tokens::FALLBACK_ENCODING
            ));
        }
        let mut own: Vec<(&str, &Tokenizer)> = Vec::new();
        for v in s.variants.iter().filter(|v| v.tokenizer.counter() == Counter::Tokenizer) {
            if !own.iter().any(|(m, _)| *m == v.model) {
                own.push((&v.model, &v.tokenizer));
            }
        }
        for (model, t) in own {
            notes.push(format!("{model}: prompts sized and answers without usage counted in {t:?}"));
        }
        for v in &s.variants {
            if matches!(v.prompt, PromptSource::Tokens(_)) && !v.tokenizer.sizes_exactly() {
                notes.push(format!(
                    "{}: {:?} cannot size prompts word by word; prompt_tokens are about right, not exact",
                    v.name, v.tokenizer
                ));
            }
        }
        if matches!(s.load.mode, LoadMode::Closed) && !s.load.warmup.is_zero() && total_requests.is_some() {
            notes.push("closed-loop warm-up requests come on top of the count above".into());
        }
        if total_requests.is_none() {
            notes.push("closed loop without `requests`: the number of requests depends on latency; set `requests` or a [budget] to bound the cost".into());
        }
        Plan {
            requests: sum(&|v| v.requests),
            worst_input_tokens: sum(&|v| v.requests.map(|r| r * v.worst_tokens.0 as f64)),
            worst_output_tokens: sum(&|v| v.requests.map(|r| r * v.worst_tokens.1 as f64)),
            worst_cost_usd: sum(&|v| v.worst_cost_usd),
            variants,
            notes,
        }
    }

    /// The plan as text, with the scenario's load and variants.
    pub fn render(&self, s: &Scenario) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "scenario {:?} (seed {})", s.name, s.seed);
        let _ = writeln!(out, "load: {}", describe_load(s));
        if s.variants.len() > 1 {
            let how = match s.sweep_mode {
                SweepMode::Mix => "mix (variants interleaved by weight in one run)",
                SweepMode::Sequential => "sequential (each variant gets the whole load plan in turn)",
            };
            let _ = writeln!(out, "variants: {how}");
        }
        let _ = writeln!(out);
        let head = [
            "variant",
            "weight",
            "request",
            "prompt tok",
            "USD/req max",
            "requests",
            "worst tok in",
            "worst tok out",
            "worst USD",
        ];
        let mut rows = vec![head.map(str::to_owned)];
        for (v, p) in s.variants.iter().zip(&self.variants) {
            rows.push([
                v.name.clone(),
                v.weight.to_string(),
                describe_request(v),
                v.prompt.max_tokens().to_string(),
                v.worst_case_cost().map_or_else(|| "-".into(), |c| format!("{c:.6}")),
                opt(p.requests, 0),
                opt(p.requests.map(|r| r * p.worst_tokens.0 as f64), 0),
                opt(p.requests.map(|r| r * p.worst_tokens.1 as f64), 0),
                opt(p.worst_cost_usd, 6),
            ]);
        }
        rows.push([
            "total".into(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            opt(self.requests, 0),
            opt(self.worst_input_tokens, 0),
            opt(self.worst_output_tokens, 0),
            opt(self.worst_cost_usd, 6),
        ]);
        let widths: Vec<usize> =
            (0..head.len()).map(|c| rows.iter().map(|r| r[c].len()).max().unwrap_or(0)).collect();
        for r in &rows {
            let cells: Vec<String> = r
                .iter()
                .enumerate()
                .map(|(c, v)| {
                    if c == 0 || c == 2 {
                        format!("{v:<w$}", w = widths[c])
                    } else {
                        format!("{v:>w$}", w = widths[c])
                    }
                })
                .collect();
            let _ = writeln!(out, "{}", cells.join("  ").trim_end());
        }
        for n in &self.notes {
            let _ = writeln!(out, "note: {n}");
        }
        out
    }
}

fn unique<'a>(it: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut v: Vec<&str> = it.collect();
    v.sort();
    v.dedup();
    v
}

fn opt(v: Option<f64>, decimals: usize) -> String {
    v.map_or_else(|| "unbounded".into(), |x| format!("{x:.decimals$}"))
}

/// Requests one pass of the load plan sends (for one variant in sequential
/// mode, for all together in mix mode).
fn expected_requests(s: &Scenario) -> Option<f64> {
    let l = &s.load;
    match l.mode {
        LoadMode::Closed => l.requests.map(|r| r as f64),
        LoadMode::Open { .. } => {
            let warm = l.warmup.as_secs_f64() * l.stages[0].level;
            let by_time: Option<f64> =
                l.stages.iter().map(|st| st.duration.map(|d| d.as_secs_f64() * st.level)).sum();
            let measured = match (by_time, l.requests) {
                (Some(t), Some(r)) => Some(t.floor().min(r as f64)),
                (Some(t), None) => Some(t.floor()),
                (None, r) => r.map(|r| r as f64),
            }?;
            Some(measured + warm.floor())
        }
    }
}

fn describe_load(s: &Scenario) -> String {
    let l = &s.load;
    let level = |x: f64| match l.mode {
        LoadMode::Closed => format!("{x} users"),
        LoadMode::Open { .. } => format!("{x}/s"),
    };
    let mut d = match l.mode {
        LoadMode::Closed => "closed loop".to_owned(),
        LoadMode::Open { arrival, max_in_flight } => {
            format!("open loop, {arrival:?} arrivals, at most {max_in_flight} in flight").to_lowercase()
        }
    };
    let stages: Vec<String> = l
        .stages
        .iter()
        .map(|st| match st.duration {
            Some(t) => format!("{} for {}", level(st.level), humantime::format_duration(t)),
            None => level(st.level),
        })
        .collect();
    match &l.trace {
        Some(t) => {
            d += &format!(
                ", replaying {} ({} requests over {} of trace{}{}{}), {} on average",
                t.path.display(),
                t.entries,
                humantime::format_duration(round_ms(t.span)),
                if t.time_scale == 1.0 { String::new() } else { format!(" at {}x", t.time_scale) },
                if t.start.is_zero() {
                    String::new()
                } else {
                    format!(" from {}", humantime::format_duration(t.start))
                },
                if t.repeat { ", looped" } else { "" },
                stages.join(" then "),
            );
            if let Some(end) = l.stages.first().and_then(|st| st.duration).filter(|_| t.repeat) {
                d += &format!(" for {}", humantime::format_duration(end));
            }
        }
        None => d += &format!(", {}", stages.join(" then ")),
    }
    if !l.warmup.is_zero() {
        d += &format!(", after {} of warm-up", humantime::format_duration(l.warmup));
    }
    if let Some(r) = l.requests {
        d += &format!(", stopping at {r} measured requests");
    }
    d
}

fn round_ms(d: std::time::Duration) -> std::time::Duration {
    std::time::Duration::from_millis(d.as_millis() as u64)
}

fn describe_request(v: &Variant) -> String {
    let mut d = match v.endpoint {
        Endpoint::Embeddings => format!("embeddings {}", v.model),
        e => format!("{} {} max_tokens={}", e.name(), v.model, v.max_tokens),
    };
    if let Some(d2) = v.dimensions {
        d += &format!(" dimensions={d2}");
    }
    if v.n > 1 {
        d += &format!(" n={}", v.n);
    }
    if let Some(b) = v.best_of {
        d += &format!(" best_of={b}");
    }
    if v.batch > 1 {
        d += &format!(" batch={}", v.batch);
    }
    if !v.stop.is_empty() {
        d += " stop";
    }
    d += if v.stream { " stream" } else { " whole" };
    d
}
