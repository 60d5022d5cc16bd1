//! The capacity table, one row per probe, as the terminal and summary.md
//! show it.

use crate::capacity::{Capacity, Verdict};

/// The capacity table, as the terminal and summary.md show it.
pub fn render(c: &Capacity) -> String {
    let cell = |x: Option<f64>| x.map_or("-".into(), |x| format!("{x:.1}"));
    let offered = if c.unit == "users" { "        users" } else { "offered req/s" };
    let mut out = format!(
        "probe  {offered}  achieved req/s  ttft p50  ttft p99  e2e p99  errors  verdict\n\
         -----  -------------  --------------  --------  --------  -------  ------  -------\n",
    );
    for (i, p) in c.probes.iter().enumerate() {
        let why = p
            .objectives
            .iter()
            .filter(|o| o.verdict != Verdict::Meets)
            .map(|o| match (o.estimate, o.interval) {
                (Some(e), Some((lo, hi))) => format!("{} {e:.1} [{lo:.1}, {hi:.1}] vs {}", o.name, o.limit),
                (Some(e), None) => format!("{} {e:.3} vs {}", o.name, o.limit),
                _ => format!("{}: no data", o.name),
            })
            .collect::<Vec<_>>()
            .join("; ");
        out += &format!(
            "{:>5}  {:>13.3}  {:>14.3}  {:>8}  {:>8}  {:>7}  {:>6}  {}{}\n",
            i + 1,
            p.offered_rate,
            p.achieved_rate,
            cell(p.ttft_p50_ms),
            cell(p.ttft_p99_ms),
            cell(p.e2e_p99_ms),
            p.errors,
            p.verdict.as_str(),
            if why.is_empty() { String::new() } else { format!(": {why}") }
        );
    }
    out += &match (c.max_rate, c.interval.1) {
        (Some(lo), Some(hi)) => format!(
            "capacity: {lo:.3} {unit} meets every objective; {hi:.3} does not (limited by {})\n",
            c.limiting.as_deref().unwrap_or("-"),
            unit = c.unit
        ),
        (Some(lo), None) => {
            format!("capacity: at least {lo:.3} {} (the ceiling, [search] max_rate)\n", c.unit)
        }
        (None, _) => "capacity: no rate probed met the objectives\n".into(),
    };
    out
}
