//! A calibration written out: the simulator's TOML (the report above it as
//! comments), and the report as text.

use std::fmt::Write as _;

use super::Calibration;
use super::fit::{ItlShape, ModelFit};

/// A duration the simulator's TOML reads: whole microseconds.
fn us(ms: f64) -> String {
    format!("\"{}us\"", (ms * 1000.0).round().max(0.0) as u64)
}

pub fn to_toml(c: &Calibration) -> String {
    let mut t = String::new();
    let _ = writeln!(
        t,
        "# A simulator profile fitted by `llmload calibrate`. Replay the recorded scenario with it:"
    );
    let _ = writeln!(t, "#   llmload run SCENARIO.toml --simulator THIS.toml");
    let _ = writeln!(t, "# (or serve it: llmload mock --config THIS.toml). The fit, figure by figure:");
    for line in render_report(c).lines() {
        let _ = writeln!(t, "#   {line}");
    }
    let _ = writeln!(t, "\nserve_any_model = false");
    for f in &c.fits {
        model_table(&mut t, f);
    }
    t
}

fn model_table(t: &mut String, f: &ModelFit) {
    let name = toml_key(&f.model);
    let _ = writeln!(t, "\n[models.{name}]");
    let _ = writeln!(t, "# Not measured: large enough for every request recorded.");
    let _ = writeln!(t, "context_window = 1048576");
    let _ = writeln!(t, "ttft = {}", us(f.ttft_ms));
    let _ = writeln!(t, "prefill_per_token = {}", us(f.prefill_ms));
    let _ = writeln!(t, "jitter = {:.4}", f.jitter);
    match &f.itl_shape {
        ItlShape::LogNormal { p99_ms } => {
            let _ = writeln!(t, "itl_distribution = \"lognormal\"");
            let _ = writeln!(t, "itl = {}", us(f.itl_ms));
            let _ = writeln!(t, "itl_p99 = {}", us(*p99_ms));
        }
        ItlShape::Empirical(points) => {
            let _ = writeln!(t, "itl_distribution = \"empirical\"");
            let _ = writeln!(t, "itl_quantiles = [");
            let mut last = 0u64;
            for (q, ms) in points {
                // Whole microseconds, never decreasing once rounded.
                let v = ((ms * 1000.0).round().max(0.0) as u64).max(last);
                last = v;
                let _ = writeln!(t, "  {{ q = {q:?}, itl = \"{v}us\" }},");
            }
            let _ = writeln!(t, "]");
        }
    }
    if f.itl_per_sequence_ms > 0.0 {
        let _ = writeln!(t, "itl_per_sequence = {}", us(f.itl_per_sequence_ms));
    }
    if let Some(k) = f.max_sequences {
        let _ = writeln!(t, "max_sequences = {k}");
    }
    if let Some(r) = f.reasoning_tokens {
        let _ = writeln!(t, "reasoning_tokens = {r}");
    }
    if let Some((mean, p99)) = f.output {
        let _ = writeln!(t, "output_tokens = {mean}");
        if let Some(p99) = p99 {
            let _ = writeln!(t, "output_tokens_p99 = {p99}");
        }
    }
    if let Some((r, tok)) = f.rate_limits {
        let _ = writeln!(t, "\n[models.{name}.rate_limits]");
        if let Some(r) = r {
            let _ = writeln!(t, "requests_per_minute = {r}");
        }
        if let Some(tok) = tok {
            let _ = writeln!(t, "tokens_per_minute = {tok}");
        }
    }
    if !f.faults.is_empty() {
        let _ = writeln!(t, "\n[models.{name}.faults]");
        for (key, p, _) in &f.faults {
            let _ = writeln!(t, "{key} = {p:.5}");
        }
    }
}

/// A TOML key: bare when it can be, else quoted.
fn toml_key(k: &str) -> String {
    if !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        k.to_owned()
    } else {
        toml::Value::String(k.to_owned()).to_string()
    }
}

/// The fit as text: per model, each figure, how it was found and how well
/// it fits, then what was not fitted.
pub fn render_report(c: &Calibration) -> String {
    let mut t = String::new();
    let _ = writeln!(t, "from: {}", c.sources.join(", "));
    for f in &c.fits {
        let _ = writeln!(
            t,
            "\nmodel {} ({} requests, {} ok; variants: {})",
            f.model,
            f.requests,
            f.ok,
            f.variants.join(", ")
        );
        let _ = writeln!(
            t,
            "  ttft      {:.1} ms + {:.4} ms per prompt token, jitter {:.3}; KS {:.3} ({})",
            f.ttft_ms, f.prefill_ms, f.jitter, f.ttft_ks, f.ttft_how
        );
        let shape = match &f.itl_shape {
            ItlShape::LogNormal { p99_ms } => {
                format!("lognormal, mean {:.2} ms, p99 {p99_ms:.2} ms", f.itl_ms)
            }
            ItlShape::Empirical(p) => {
                let at = |q: f64| p.iter().find(|x| (x.0 - q).abs() < 1e-9).map_or(f64::NAN, |x| x.1);
                format!("empirical, p50 {:.2} ms, p99 {:.2} ms", at(0.5), at(0.99))
            }
        };
        let _ = writeln!(
            t,
            "  itl       {shape} at one sequence, + {:.3} ms per other sequence in service; KS {:.3} ({})",
            f.itl_per_sequence_ms, f.itl_ks, f.itl_how
        );
        let output = match f.output {
            Some((m, Some(p99))) => format!("mean {m}, p99 {p99} tokens"),
            Some((m, None)) => format!("{m} tokens"),
            None => "run to max_tokens".into(),
        };
        let finish: Vec<String> = f.finish.iter().map(|(k, v)| format!("{k} {v}")).collect();
        let _ = writeln!(t, "  output    {output} ({}); finish reasons: {}", f.output_how, finish.join(", "));
        if let Some(r) = f.reasoning_tokens {
            let _ =
                writeln!(t, "  reasoning {r} tokens before each answer (the median of the server's usage)");
        }
        let _ = writeln!(t, "  capacity  {}", f.capacity_how);
        for l in &f.levels {
            let _ = writeln!(
                t,
                "            {:>8} {:<10} {:>5} ok  {:>6.1} in flight  {:>5.1} in service  ttft p50 {:>7.1} ms  queue {:>6.1} ms  itl {:>6.2} ms{}",
                l.level,
                l.unit,
                l.ok,
                l.in_flight,
                l.active,
                l.ttft_p50_ms,
                l.queue_ms,
                l.itl_ms,
                if l.queueing { "  (queueing)" } else { "" }
            );
        }
        let faults: Vec<String> =
            f.faults.iter().map(|(k, p, n)| format!("{k} {:.2}% ({n})", p * 100.0)).collect();
        let faults = if faults.is_empty() { "none".to_owned() } else { faults.join(", ") };
        let _ = writeln!(t, "  errors    faults: {faults}; {}", f.errors_how);
        for u in &f.unfitted {
            let _ = writeln!(t, "  not fitted: {u}");
        }
    }
    for (m, why) in &c.skipped {
        let _ = writeln!(t, "\nmodel {m}: not fitted: {why}");
    }
    t
}
