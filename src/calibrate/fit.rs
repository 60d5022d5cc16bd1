//! A model's sample turned into the simulator's parameters, each with how
//! well it fits and what could not be fitted.
//!
//! The model fitted is the simulator's own: TTFT = base + prefill × prompt
//! tokens, spread by a normal jitter, plus any wait for a free sequence
//! slot; each gap = a draw from the ITL distribution + `itl_per_sequence` ×
//! the other sequences in service; natural lengths lognormal, cut at
//! max_tokens; faults at fixed rates. Load levels (stages, runs) separate
//! what depends on load (queueing, ITL growth) from what does not.

use std::collections::BTreeMap;

use super::read::{Row, Sample};
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use rand_distr::StandardNormal;

use super::stats::{self, ks, median, quantile, robust_sd, sorted};

/// The fits' Monte Carlo checks draw from a seeded generator, as the
/// workload does: the same input gives the same report.
type Rng = Xoshiro256PlusPlus;

fn normal(rng: &mut Rng) -> f64 {
    rng.sample(StandardNormal)
}

/// The ITL's quantile levels written for an empirical distribution: dense
/// in the tail, where servers differ.
const Q_LEVELS: [f64; 21] = [
    0.0, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.97, 0.98, 0.99, 0.995, 0.998,
    0.999, 1.0,
];
/// A lognormal is written when it is this close (KS) to what was measured.
const LOGNORMAL_KS: f64 = 0.03;
const Z99: f64 = 2.326_347_874_040_840_8;

#[derive(Debug, Clone)]
pub enum ItlShape {
    LogNormal {
        p99_ms: f64,
    },
    /// (q, ms) from q = 0 to 1.
    Empirical(Vec<(f64, f64)>),
}

/// One load level as the fit saw it.
#[derive(Debug, Clone)]
pub struct LevelFit {
    pub group: usize,
    pub level: f64,
    pub unit: &'static str,
    pub ok: usize,
    /// Requests in the server (Little's law), and of them in service.
    pub in_flight: f64,
    pub active: f64,
    pub ttft_p50_ms: f64,
    /// Mean TTFT above the fit's prediction: time waiting for a slot.
    pub queue_ms: f64,
    pub queueing: bool,
    pub itl_ms: f64,
}

#[derive(Debug, Clone)]
pub struct ModelFit {
    pub model: String,
    pub variants: Vec<String>,
    pub requests: usize,
    pub ok: usize,
    pub ttft_ms: f64,
    pub prefill_ms: f64,
    pub jitter: f64,
    pub ttft_how: String,
    pub ttft_ks: f64,
    pub itl_ms: f64,
    pub itl_shape: ItlShape,
    pub itl_per_sequence_ms: f64,
    pub itl_how: String,
    pub itl_ks: f64,
    /// (mean, p99) of the natural length; `None`: answers run to max_tokens.
    pub output: Option<(u32, Option<u32>)>,
    pub output_how: String,
    pub finish: BTreeMap<String, u64>,
    pub max_sequences: Option<u32>,
    pub capacity_how: String,
    /// Reasoning tokens before each answer (the median), when the server's
    /// usage said there were any.
    pub reasoning_tokens: Option<u32>,
    pub levels: Vec<LevelFit>,
    /// (simulator fault key, probability, count seen).
    pub faults: Vec<(&'static str, f64, u64)>,
    pub rate_limits: Option<(Option<u64>, Option<u64>)>,
    pub errors_how: String,
    /// What could not be fitted, said plainly.
    pub unfitted: Vec<String>,
}

pub fn fit(model: &str, s: &Sample) -> ModelFit {
    let mut unfitted = Vec::new();
    let ok_rows: Vec<&Row> = s.rows.iter().filter(|r| r.ok()).collect();
    let streamed: Vec<&Row> = ok_rows.iter().copied().filter(|r| r.streamed()).collect();

    // Each load level's rate and requests in flight (Little's law: the
    // rate of ok answers × their mean time in the server).
    let mut by_group: BTreeMap<usize, Vec<&Row>> = BTreeMap::new();
    for r in &ok_rows {
        by_group.entry(r.group).or_default().push(r);
    }
    let flow = |rows: &[&Row], g: usize| {
        let rate = rows.len() as f64 / s.groups[g].duration_s;
        (rate, rate * stats::mean(&rows.iter().map(|r| r.e2e / 1000.0).collect::<Vec<_>>()))
    };
    // The least loaded level with enough streamed answers is the baseline.
    let base = by_group
        .iter()
        .filter(|(_, rows)| rows.iter().filter(|r| r.streamed()).count() >= 10)
        .min_by(|a, b| flow(a.1, *a.0).1.total_cmp(&flow(b.1, *b.0).1))
        .map(|(g, _)| *g)
        .unwrap_or_else(|| streamed[0].group);

    // TTFT against the prompt tokens computed, first at the baseline: the
    // line from which each level's wait for a slot is measured.
    let at = |keep: &dyn Fn(usize) -> bool| -> Vec<(f64, f64)> {
        streamed.iter().filter(|r| keep(r.group)).map(|r| (r.prompt, r.ttft.unwrap_or(0.0))).collect()
    };
    let (prefill, ttft) = ttft_line(&at(&|g| g == base), &mut Vec::new());
    let residual = |r: &Row| r.ttft.unwrap_or(0.0) - (ttft + prefill * r.prompt);
    let base_res: Vec<f64> = streamed.iter().filter(|r| r.group == base).map(|r| residual(r)).collect();

    // Per level: queue wait (TTFT above the prediction), sequences in service, mean gap.
    let base_excess = stats::mean(&base_res);
    let mut levels: Vec<LevelFit> = by_group
        .iter()
        .map(|(&g, rows)| {
            let (rate, in_flight) = flow(rows, g);
            let st: Vec<&&Row> = rows.iter().filter(|r| r.streamed()).collect();
            let res: Vec<f64> = st.iter().map(|r| residual(r)).collect();
            let queue = stats::mean(&res) - base_excess;
            let se = robust_sd(&res) / (res.len().max(1) as f64).sqrt();
            let queueing = res.len() >= 5 && queue > (3.0 * se).max(0.05 * ttft);
            let gaps: Vec<f64> = st.iter().filter_map(|r| r.itl_mean).collect();
            LevelFit {
                group: g,
                level: s.groups[g].level,
                unit: s.groups[g].unit,
                ok: rows.len(),
                in_flight,
                active: (in_flight - rate * queue.max(0.0) / 1000.0).max(1.0),
                ttft_p50_ms: median(&st.iter().filter_map(|r| r.ttft).collect::<Vec<_>>()),
                queue_ms: queue,
                queueing,
                itl_ms: stats::mean(&gaps),
            }
        })
        .collect();
    levels.sort_by(|a, b| a.in_flight.total_cmp(&b.in_flight));

    // Then on every level where nothing waits for a slot: more answers, the
    // same line.
    let calm: Vec<&LevelFit> = levels.iter().filter(|l| !l.queueing).collect();
    let points = at(&|g| calm.iter().any(|l| l.group == g) || g == base);
    let (prefill, ttft) = ttft_line(&points, &mut unfitted);
    let residuals: Vec<f64> = points.iter().map(|(x, y)| y - (ttft + prefill * x)).collect();
    let jitter = (robust_sd(&residuals) / ttft).clamp(0.0, 5.0);
    let ttft_ks = {
        let mut rng = Rng::seed_from_u64(1);
        let live = sorted(points.iter().map(|p| p.1).collect());
        let fitted = sorted(
            points
                .iter()
                .flat_map(|p| (0..20).map(move |_| p.0))
                .map(|x| ttft * (1.0 + jitter * normal(&mut rng)).max(0.0) + prefill * x)
                .collect(),
        );
        ks(&live, &fitted)
    };
    let calm_levels: Vec<String> = calm.iter().map(|l| l.level.to_string()).collect();
    let ttft_how = format!(
        "Theil–Sen line on {} streamed answers at the levels where none waited for a slot ({} {}), jitter from \
         the residuals' MAD",
        points.len(),
        calm_levels.join(", "),
        s.groups[base].unit
    );

    // Capacity: where requests wait for a slot, the slots in service.
    let queued: Vec<f64> = levels.iter().filter(|l| l.queueing).map(|l| l.active).collect();
    let (max_sequences, capacity_how) = if levels.len() < 2 {
        unfitted.push(
            "capacity (max_sequences, itl_per_sequence): one load level only; run stages or a capacity search \
             to find where latency starts to rise"
                .into(),
        );
        (None, "one load level: not fitted".to_owned())
    } else if queued.is_empty() {
        let top = &levels[levels.len() - 1];
        let how = format!(
            "no queueing seen up to {} {} (~{:.1} in flight): max_sequences left unlimited",
            top.level, top.unit, top.in_flight
        );
        (None, how)
    } else {
        let k = median(&queued).round().max(1.0) as u32;
        let first = levels.iter().find(|l| l.queueing).expect("a queueing level");
        let how = format!(
            "TTFT starts to rise at {} {} (~{:.1} in flight, {:.0} ms waiting for a slot): {k} sequences in service",
            first.level, first.unit, first.in_flight, first.queue_ms
        );
        (Some(k), how)
    };

    // Gaps: tokens per event (a server may pack several), growth with the
    // sequences in service, and the shape at one sequence.
    // Rows with reasoning are left out: reasoning a server does not stream
    // is in their tokens but not in their gaps.
    let per_token: Vec<f64> = streamed
        .iter()
        .filter(|r| r.reasoning == 0)
        .filter_map(|r| Some(r.tpot()? / r.itl_mean?))
        .filter(|x| x.is_finite() && *x > 0.0)
        .collect();
    let ratio = if per_token.is_empty() { 1.0 } else { median(&per_token).clamp(0.05, 1.0) };
    if ratio < 0.9 {
        unfitted.push(format!(
            "the server sent about {:.1} tokens per event; the simulator sends one, so gaps are fitted per token",
            1.0 / ratio
        ));
    }
    let line_points: Vec<(f64, f64, f64)> = levels
        .iter()
        .filter(|l| l.itl_ms.is_finite())
        .map(|l| (l.active - 1.0, l.itl_ms * ratio, l.ok as f64))
        .collect();
    let spread = line_points.iter().map(|p| p.0).fold(f64::NEG_INFINITY, f64::max)
        - line_points.iter().map(|p| p.0).fold(f64::INFINITY, f64::min);
    let (itl0, per_seq) = match stats::line(&line_points).filter(|_| line_points.len() >= 2 && spread >= 0.5)
    {
        Some((i0, slope)) if slope > 0.0 => (i0.max(0.001), slope),
        _ => {
            let w: f64 = line_points.iter().map(|p| p.2).sum();
            (line_points.iter().map(|p| p.1 * p.2).sum::<f64>() / w.max(1.0), 0.0)
        }
    };
    // The measured gaps (every gap of every ok answer), as 2,000 evenly
    // spread quantiles, per token.
    const N: usize = 2000;
    let live: Vec<f64> = (0..N)
        .map(|i| s.gaps.value_at_quantile((i as f64 + 0.5) / N as f64) as f64 / 1000.0 * ratio)
        .collect();
    // Each level's share of the gaps and its shift over one sequence.
    let weights: Vec<(f64, f64)> = levels
        .iter()
        .map(|l| (if l.itl_ms.is_finite() { l.ok as f64 } else { 0.0 }, per_seq * (l.active - 1.0)))
        .filter(|w| w.0 > 0.0)
        .collect();
    let total_w: f64 = weights.iter().map(|w| w.0).sum::<f64>().max(1e-9);
    let mean_shift = weights.iter().map(|w| w.0 * w.1).sum::<f64>() / total_w;
    let at_one = |u: f64| (quantile(&live, u) - mean_shift).max(0.0);
    let empirical: Vec<(f64, f64)> = Q_LEVELS.iter().map(|&q| (q, at_one(q))).collect();
    let p99 = at_one(0.99);
    // Checked as written (whole microseconds), as the simulator will read it.
    let (itl_us, p99_us) = ((itl0 * 1000.0).round(), (p99 * 1000.0).round());
    let lognormal_ok = itl_us >= 1.0 && p99_us > itl_us && p99_us <= (itl_us * 14.9).floor();
    let simulate = |draw: &mut dyn FnMut(&mut Rng) -> f64| {
        let mut rng = Rng::seed_from_u64(2);
        let mut out = Vec::with_capacity(4 * N);
        for (w, shift) in &weights {
            let n = ((w / total_w) * (4 * N) as f64).round() as usize;
            out.extend((0..n).map(|_| draw(&mut rng) + shift));
        }
        sorted(out)
    };
    let empirical_ks = ks(&live, &simulate(&mut |rng| sample_empirical(&empirical, rng.random::<f64>())));
    let lognormal_ks = if lognormal_ok {
        let sigma = Z99 - (Z99 * Z99 - 2.0 * (p99 / itl0).ln()).sqrt();
        let mu = itl0.ln() - sigma * sigma / 2.0;
        ks(&live, &simulate(&mut |rng| (mu + sigma * normal(rng)).exp()))
    } else {
        f64::INFINITY
    };
    let (itl_shape, itl_ks, shape_how) = if lognormal_ks <= LOGNORMAL_KS {
        (ItlShape::LogNormal { p99_ms: p99 }, lognormal_ks, format!("lognormal (KS {lognormal_ks:.3})"))
    } else {
        let why = if lognormal_ok {
            format!("a lognormal fits less well (KS {lognormal_ks:.3})")
        } else {
            "no lognormal has this mean and p99".to_owned()
        };
        (
            ItlShape::Empirical(empirical),
            empirical_ks,
            format!("empirical quantiles (KS {empirical_ks:.3}; {why})"),
        )
    };
    let itl_how = format!("{shape_how}, from {} gaps", s.gaps.len());

    // Natural output lengths: answers cut by max_tokens are censored.
    let (output, output_how) = lengths(&ok_rows, &mut unfitted);
    let mut finish = BTreeMap::new();
    for r in &ok_rows {
        *finish.entry(r.finish.clone().unwrap_or_else(|| "none".into())).or_insert(0) += 1;
    }

    let (faults, rate_limits, errors_how) = errors(s, &mut unfitted);
    let reasoning: Vec<f64> = ok_rows.iter().map(|r| r.reasoning as f64).collect();
    let reasoning_tokens = ok_rows.iter().any(|r| r.reasoning > 0).then(|| median(&reasoning).round() as u32);
    if s.rows.iter().any(|r| r.cached > 0) {
        unfitted.push(
            "prompt caching: the server said it served cached prompt tokens; the fit uses the tokens it computed, \
             and prefix_cache_tokens is left unset"
                .into(),
        );
    }
    ModelFit {
        model: model.to_owned(),
        variants: s.variants.iter().cloned().collect(),
        requests: s.rows.len(),
        ok: ok_rows.len(),
        ttft_ms: ttft,
        prefill_ms: prefill,
        jitter,
        ttft_how,
        ttft_ks,
        itl_ms: itl0,
        itl_shape,
        itl_per_sequence_ms: per_seq,
        itl_how,
        itl_ks,
        output,
        output_how,
        finish,
        max_sequences,
        capacity_how,
        reasoning_tokens,
        levels,
        faults,
        rate_limits,
        errors_how,
        unfitted,
    }
}

/// The TTFT's line through `points` (prompt tokens, ms): (per token, base).
fn ttft_line(points: &[(f64, f64)], unfitted: &mut Vec<String>) -> (f64, f64) {
    let xs = sorted(points.iter().map(|p| p.0).collect());
    let ys = || points.iter().map(|p| p.1).collect::<Vec<_>>();
    let (mut prefill, mut ttft) = if quantile(&xs, 0.9) - quantile(&xs, 0.1) < 1.0 {
        unfitted.push(format!(
            "prefill per prompt token: the prompts were all about {:.0} tokens long; their prefill is in the base TTFT \
             (vary prompt_tokens to fit it)",
            median(&xs)
        ));
        (0.0, median(&ys()))
    } else {
        stats::theil_sen(points)
    };
    if prefill < 0.0 {
        unfitted.push(format!(
            "prefill per prompt token: the fit's slope was negative ({prefill:.4} ms), taken as 0"
        ));
        prefill = 0.0;
        ttft = median(&ys());
    }
    (prefill, ttft.max(0.001))
}

fn sample_empirical(points: &[(f64, f64)], u: f64) -> f64 {
    let i = points.partition_point(|p| p.0 <= u).clamp(1, points.len() - 1);
    let ((q0, v0), (q1, v1)) = (points[i - 1], points[i]);
    v0 + (v1 - v0) * ((u - q0) / (q1 - q0)).clamp(0.0, 1.0)
}

/// Kaplan–Meier over the answers' lengths, those cut by max_tokens
/// (finish `length`) censored, then a lognormal through its median and
/// the highest quantile it reaches (p99, else p90, else p75).
fn lengths(rows: &[&Row], unfitted: &mut Vec<String>) -> (Option<(u32, Option<u32>)>, String) {
    // The answer's length: reasoning before it is a profile key of its own.
    let mut v: Vec<(u64, bool)> = rows
        .iter()
        .map(|r| (r.output.saturating_sub(r.reasoning), r.finish.as_deref() == Some("length")))
        .filter(|x| x.0 > 0)
        .collect();
    v.sort();
    let capped = v.iter().filter(|x| x.1).count();
    let n = v.len();
    let mut at_risk = n as f64;
    let mut surv = 1.0;
    let mut cdf: Vec<(f64, f64)> = Vec::new();
    let mut i = 0;
    while i < n {
        let t = v[i].0;
        let (mut d, mut c) = (0.0, 0.0);
        while i < n && v[i].0 == t {
            if v[i].1 {
                c += 1.0
            } else {
                d += 1.0
            }
            i += 1;
        }
        if d > 0.0 {
            surv *= 1.0 - d / at_risk;
            cdf.push((t as f64, 1.0 - surv));
        }
        at_risk -= d + c;
    }
    let q = |p: f64| cdf.iter().find(|c| c.1 >= p - 1e-12).map(|c| c.0);
    let said = format!("{} answers, {capped} cut by max_tokens (censored)", n);
    let Some(q50) = q(0.5) else {
        unfitted.push(format!(
            "output length: {capped} of {n} answers were cut by max_tokens, too many to see their natural length; \
             answers run to max_tokens (raise max_tokens in the recorded run to fit it)"
        ));
        return (None, said);
    };
    let hi = [0.99, 0.9, 0.75].into_iter().find_map(|p| Some((p, q(p)?)));
    let Some((p_hi, q_hi)) = hi.filter(|h| h.1 > q50) else {
        return (Some((q50.round().max(1.0) as u32, None)), format!("constant {q50:.0} tokens, from {said}"));
    };
    let sigma = (q_hi / q50).ln() / stats::normal_quantile(p_hi);
    let mean = q50 * (sigma * sigma / 2.0).exp();
    let p99 = q50 * (Z99 * sigma).exp();
    // As written: whole tokens within the simulator's bounds (at most
    // 131,072; a lognormal's p99 above its mean and at most 14.9 times it).
    const MAX: f64 = 131_072.0;
    let mean = mean.round().clamp(1.0, MAX - 1.0);
    let p99 = p99.round().min((mean * 14.9).floor()).min(MAX);
    if p99 <= mean {
        return (Some((mean as u32, None)), format!("constant {mean} tokens, from {said}"));
    }
    let how = format!(
        "lognormal through the median {q50:.0} and p{:.0} {q_hi:.0} tokens, from {said}",
        p_hi * 100.0
    );
    (Some((mean as u32, Some(p99 as u32))), how)
}

/// Fault rates by class per attempt; 429s as rate limits when the server
/// announced its limits, else as a fault rate.
type Errors = (Vec<(&'static str, f64, u64)>, Option<(Option<u64>, Option<u64>)>, String);

fn errors(s: &Sample, unfitted: &mut Vec<String>) -> Errors {
    let attempts: u64 = s.rows.iter().map(|r| u64::from(r.attempts)).sum::<u64>().max(1);
    let mut classes: BTreeMap<&str, u64> = BTreeMap::new();
    for r in s.rows.iter().filter(|r| !r.ok() && r.outcome != "cancelled") {
        *classes.entry(r.outcome.as_str()).or_default() += 1;
    }
    let limited: u64 = s.rows.iter().map(|r| u64::from(r.rate_limited)).sum();
    let limits = s.limits.iter().max_by_key(|(_, n)| **n).map(|(l, _)| *l);
    let mut faults = Vec::new();
    for (class, key) in [
        ("http_500", "http_500"),
        ("http_503", "http_503"),
        ("connection_closed", "reset"),
        ("stream_truncated", "cut"),
    ] {
        if let Some(&n) = classes.get(class) {
            faults.push((key, n as f64 / attempts as f64, n));
        }
    }
    if limited > 0 && limits.is_none() {
        faults.push(("http_429", limited as f64 / attempts as f64, limited));
    }
    if s.rows.iter().any(|r| r.attempts > 1) {
        unfitted.push(
            "retries: errors a retry got past are not in requests.csv (429s aside), so the fault rates are a lower \
             bound; record without retries to fit them"
                .into(),
        );
    }
    let other: Vec<String> = classes
        .iter()
        .filter(|(c, _)| {
            !["http_500", "http_503", "http_429", "connection_closed", "stream_truncated"].contains(c)
        })
        .map(|(c, n)| format!("{c} ×{n}"))
        .collect();
    if !other.is_empty() {
        unfitted.push(format!("errors the simulator has no fault for: {}", other.join(", ")));
    }
    let how = match limits {
        Some((r, t)) => format!(
            "{limited} answers of 429 over {attempts} attempts; the server announced its limits \
             (x-ratelimit-limit-requests {}, -tokens {}): 429s are left to them",
            r.map_or("-".into(), |v| v.to_string()),
            t.map_or("-".into(), |v| v.to_string())
        ),
        None if limited > 0 => {
            format!(
                "{limited} answers of 429 over {attempts} attempts and no x-ratelimit-limit-* header: a fault rate"
            )
        }
        None => format!("no 429 over {attempts} attempts; no x-ratelimit-limit-* header seen"),
    };
    (faults, limits, how)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(output: u64, finish: &str) -> Row {
        Row {
            group: 0,
            prompt: 10.0,
            cached: 0,
            output,
            reasoning: 0,
            ttft: None,
            itl_mean: None,
            e2e: 1.0,
            finish: Some(finish.into()),
            outcome: "ok".into(),
            attempts: 1,
            rate_limited: 0,
        }
    }

    /// A heavy tail seen only to p75 (a quarter cut by max_tokens) gives a
    /// lognormal whose p99 would pass 14.9 times its mean: it is written
    /// within the simulator's bounds, as whole tokens.
    #[test]
    fn a_heavy_tailed_length_is_written_within_the_simulators_bounds() {
        // Median 20, p75 95: σ = ln(95 / 20) / 0.674 = 2.31, so p99 / mean = 14.96.
        let mut rows: Vec<Row> = (0..50).map(|i| row(i % 20 + 1, "stop")).collect();
        rows.extend((0..25).map(|_| row(95, "stop")));
        rows.extend((0..25).map(|_| row(100, "length")));
        let refs: Vec<&Row> = rows.iter().collect();
        let (fit, how) = lengths(&refs, &mut Vec::new());
        let (mean, p99) = fit.expect("a fit");
        let p99 = p99.expect("a lognormal");
        assert!(p99 > mean && f64::from(p99) <= (f64::from(mean) * 14.9).floor(), "{mean} {p99}: {how}");
        let profile = format!("[models.m]\noutput_tokens = {mean}\noutput_tokens_p99 = {p99}\n");
        assert!(llmload_mock::profile::parse(&profile, 0).is_ok(), "{profile}");
    }

    #[test]
    fn answers_all_cut_by_max_tokens_leave_the_length_unfitted_and_say_so() {
        let rows: Vec<Row> = (0..40).map(|_| row(64, "length")).collect();
        let refs: Vec<&Row> = rows.iter().collect();
        let mut unfitted = Vec::new();
        assert_eq!(lengths(&refs, &mut unfitted).0, None);
        assert!(unfitted[0].contains("40 of 40 answers were cut by max_tokens"), "{unfitted:?}");
    }
}
