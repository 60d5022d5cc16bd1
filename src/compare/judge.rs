//! The verdict of each metric row: which figures, which test, and the rule
//! that turns a test and a threshold into regression / improvement / no
//! significant change (see the module doc of `compare`).

use super::load::{RunData, Samples};
use super::stats::{self, Evidence, RESAMPLES};
use super::{Better, MetricRow, VariantComparison, Verdict};
use crate::metrics::{Percentiles, Stats};

/// One side of a comparison: the summary's figures, the per-request data
/// and the measured window they came from.
pub(super) struct Side<'a> {
    stats: &'a Stats,
    samples: &'a Samples,
    /// Seconds the throughput was measured over.
    window: f64,
}

pub(super) fn side<'a>(r: &RunData, stats: &'a Stats, samples: &'a Samples) -> Side<'a> {
    // A sequential sweep measures each variant over its own steps: the
    // window is what the summary divided by.
    let t = &stats.throughput;
    let window = if t.requests_per_s > 0.0 && stats.requests.ok > 0 {
        stats.requests.ok as f64 / t.requests_per_s
    } else {
        r.summary.measured_seconds
    };
    Side { stats, samples, window }
}

pub(super) struct Pair<'a> {
    pub b: Side<'a>,
    pub c: Side<'a>,
}

pub(super) struct Judge {
    pub threshold: f64,
}

impl Judge {
    pub fn variant(&self, name: &str, p: &Pair) -> VariantComparison {
        let mut metrics = Vec::new();
        let (b, c) = (p.b.stats, p.c.stats);
        // Without streaming TTFT is e2e by definition: the e2e rows say it.
        if b.streaming != Some(false) || c.streaming != Some(false) {
            let (sb, sc) = (&p.b.samples.ttft, &p.c.samples.ttft);
            self.latency(&mut metrics, name, "ttft_ms", (&b.ttft_ms, &c.ttft_ms), (sb, sc));
        }
        let (sb, sc) = (&p.b.samples.e2e, &p.c.samples.e2e);
        self.latency(&mut metrics, name, "e2e_ms", (&b.e2e_ms, &c.e2e_ms), (sb, sc));
        // Single gaps are not in requests.csv: the test uses each request's
        // mean gap; the figures shown are the summary's.
        let (sb, sc) = (&p.b.samples.itl_mean, &p.c.samples.itl_mean);
        self.latency(&mut metrics, name, "itl_ms", (&b.itl_ms, &c.itl_ms), (sb, sc));
        // Throughput noise from the run itself: the window cut in time slices
        // (batch means; see stats::slice_rate_variance).
        let var = |s: &Side, tokens: bool| {
            let weights = tokens.then_some(s.samples.ok_tokens.as_slice());
            stats::slice_rate_variance(&s.samples.ends, weights, s.window, stats::SLICES)
        };
        let rate = |name: &str, vb: f64, vc: f64, tokens: bool| {
            let ev =
                var(&p.b, tokens).zip(var(&p.c, tokens)).map(|(b, c)| stats::z_test(vc - vb, (b + c).sqrt()));
            let sign = ev.and_then(|e| e.significant_sign());
            self.row(format!("throughput.{name}"), Better::Higher, Some(vb), Some(vc), ev, sign)
        };
        let (tb, tc) = (&b.throughput, &c.throughput);
        metrics.push(rate("requests_per_s", tb.requests_per_s, tc.requests_per_s, false));
        metrics.push(rate("output_tokens_per_s", tb.output_tokens_per_s, tc.output_tokens_per_s, true));
        let (rb, rc) = (&b.requests, &c.requests);
        if rb.ended() > 0 || rc.ended() > 0 {
            let share = |errors: u64, ended: u64| (ended > 0).then(|| errors as f64 / ended as f64);
            let ev = stats::two_proportions(rb.errors, rb.ended(), rc.errors, rc.ended());
            let sign = ev.and_then(|e| e.significant_sign());
            metrics.push(self.row(
                "error_rate".into(),
                Better::Lower,
                share(rb.errors, rb.ended()),
                share(rc.errors, rc.ended()),
                ev,
                sign,
            ));
        }
        if b.cost_usd.is_some() || c.cost_usd.is_some() {
            let (cb, cc) = (cost_per_request(&p.b), cost_per_request(&p.c));
            let ev = cb.zip(cc).map(|((mb, vb), (mc, vc))| stats::z_test(mc - mb, (vb + vc).sqrt()));
            let sign = ev.and_then(|e| e.significant_sign());
            metrics.push(self.row(
                "cost_per_request_usd".into(),
                Better::Lower,
                cb.map(|x| x.0),
                cc.map(|x| x.0),
                ev,
                sign,
            ));
        }
        VariantComparison { name: name.to_owned(), metrics }
    }

    /// The p50/p95/p99 rows of one latency: `shown` from the summaries,
    /// `data` the per-request values (sorted) the tests run on.
    fn latency(
        &self,
        out: &mut Vec<MetricRow>,
        name: &str,
        id: &str,
        shown: (&Percentiles, &Percentiles),
        data: (&[f64], &[f64]),
    ) {
        let ((pb, pc), (sb, sc)) = (shown, data);
        if pb.count == 0 && pc.count == 0 {
            return;
        }
        let mw = stats::mann_whitney(sb, sc);
        for (stat, q, vb, vc) in
            [("p50", 0.5, pb.p50, pc.p50), ("p95", 0.95, pb.p95, pc.p95), ("p99", 0.99, pb.p99, pc.p99)]
        {
            let metric = format!("{id}.{stat}");
            let ci = stats::bootstrap_quantile_delta(sb, sc, q, RESAMPLES, seed(name, &metric));
            let ev = mw.zip(ci).map(|(mw, ci)| (Evidence { p_value: mw.p_value, ci }, mw.z));
            // The rank test and the interval must point the same way.
            let sign = ev.and_then(|(e, z)| e.significant_sign().filter(|s| s * z > 0.0));
            out.push(self.row(metric, Better::Lower, vb, vc, ev.map(|(e, _)| e), sign));
        }
    }

    /// `sign`: the direction of a significant change, `None` if not significant.
    pub fn row(
        &self,
        metric: String,
        better: Better,
        b: Option<f64>,
        c: Option<f64>,
        ev: Option<Evidence>,
        sign: Option<f64>,
    ) -> MetricRow {
        let delta = b.zip(c).map(|(b, c)| c - b);
        let delta_pct = b.zip(delta).and_then(|(b, d)| (b != 0.0).then(|| 100.0 * d / b));
        let verdict = match (delta, ev) {
            (None, _) | (_, None) => Verdict::NotCompared,
            (Some(d), Some(_)) => self.verdict(better, d, delta_pct, sign),
        };
        MetricRow {
            metric,
            better,
            baseline: b,
            candidate: c,
            delta,
            delta_pct,
            ci_low: ev.map(|e| e.ci.0),
            ci_high: ev.map(|e| e.ci.1),
            p_value: ev.map(|e| e.p_value),
            significant: sign.is_some(),
            verdict,
        }
    }

    pub fn verdict(&self, better: Better, delta: f64, delta_pct: Option<f64>, sign: Option<f64>) -> Verdict {
        // The figure shown must have moved the way the test says.
        let Some(sign) = sign.filter(|s| delta != 0.0 && delta.signum() == *s) else {
            return Verdict::NoChange;
        };
        // From a baseline of 0 any change is beyond a relative threshold.
        let beyond = delta_pct.is_none_or(|pct| pct.abs() > 100.0 * self.threshold);
        let worse = (better == Better::Lower) == (sign > 0.0);
        match (beyond, worse) {
            (false, _) => Verdict::NoChange,
            (true, true) => Verdict::Regression,
            (true, false) => Verdict::Improvement,
        }
    }
}

/// Mean cost per ended request and the variance of that mean. The summary
/// has one total; requests.csv has tokens, not costs, so the total is spread
/// over requests in proportion to their tokens (exact when prompt and output
/// tokens cost the same; otherwise an approximation of the spread).
fn cost_per_request(s: &Side) -> Option<(f64, f64)> {
    let cost = s.stats.cost_usd?;
    let n = s.stats.requests.ended();
    if n == 0 {
        return None;
    }
    let mean = cost / n as f64;
    let d = s.samples;
    let var_mean = if d.ended > 1 && d.tokens > 0.0 {
        let m = d.ended as f64;
        let var_tokens = ((d.tokens_sq - d.tokens * d.tokens / m) / (m - 1.0)).max(0.0);
        let per_token = cost / d.tokens;
        per_token * per_token * var_tokens / m
    } else {
        0.0
    };
    Some((mean, var_mean))
}

/// A bootstrap seed fixed by what is compared (FNV-1a: stable across
/// builds), so a figure's interval does not depend on the order of work.
pub(super) fn seed(variant: &str, metric: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in variant.bytes().chain([0]).chain(metric.bytes()) {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    h
}
