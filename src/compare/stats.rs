//! The statistics behind `compare`'s verdicts, kept free of I/O so each is
//! tested against values computed by hand.
//!
//! - Mann–Whitney U (normal approximation, tie correction, continuity
//!   correction): does one run's latency tend to be larger than the other's?
//!   Rank based, so it needs no assumption on the shape of the distribution
//!   and a few extreme requests do not dominate it.
//! - A bootstrap interval for the change of a percentile. Resampling n values
//!   with replacement from sorted data and taking the k-th smallest is the
//!   same as taking the value at index ⌊n·U⌋ where U is the k-th order
//!   statistic of n uniforms, which is Beta(k, n + 1 − k) distributed. One
//!   Beta draw replaces n draws and a selection, so every request is used
//!   (no subsampling) and 1M-row runs cost the same as small ones.
//! - z-tests for rates, proportions and means (large-sample normal
//!   approximations).

use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;
use rand_distr::{Beta, Distribution};

/// Significance level of every test. Strict because a CI job that fails on
/// noise once a week gets switched off.
pub const ALPHA: f64 = 0.01;
/// The two-sided critical value for `ALPHA`: Φ⁻¹(1 − ALPHA / 2).
pub const Z_CRIT: f64 = 2.575_829_303_548_901;
/// Bootstrap resamples per interval: 20 in each 0.5% tail of a 99% interval.
pub const RESAMPLES: usize = 4000;

/// The outcome of a test of "candidate − baseline".
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Evidence {
    /// Two-sided p-value.
    pub p_value: f64,
    /// The (1 − ALPHA) interval of the change, low ≤ high.
    pub ci: (f64, f64),
}

impl Evidence {
    /// Significant at ALPHA and the interval excludes 0: the sign of the change
    /// (+1.0 or −1.0), else `None`.
    pub fn significant_sign(&self) -> Option<f64> {
        if self.p_value >= ALPHA {
            None
        } else if self.ci.0 > 0.0 {
            Some(1.0)
        } else if self.ci.1 < 0.0 {
            Some(-1.0)
        } else {
            None
        }
    }
}

/// erfc(x), Numerical Recipes' Chebyshev fit: relative error below 1.2e-7
/// everywhere, far finer than any p-value is read.
pub fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let r = t * poly.exp();
    if x >= 0.0 { r } else { 2.0 - r }
}

/// Two-sided p-value of a standard normal statistic.
pub fn p_two_sided(z: f64) -> f64 {
    erfc(z.abs() / std::f64::consts::SQRT_2).min(1.0)
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MannWhitney {
    /// U of the candidate: pairs (baseline, candidate) where the candidate is
    /// larger, ties counting half.
    pub u: f64,
    /// Standardized U (positive: the candidate tends to be larger).
    pub z: f64,
    pub p_value: f64,
}

/// Mann–Whitney U on two ascending-sorted samples; `None` if one is empty.
/// Ranks come from one merge walk (mid-ranks for ties), so the cost after
/// sorting is linear.
pub fn mann_whitney(base: &[f64], cand: &[f64]) -> Option<MannWhitney> {
    let (na, nb) = (base.len(), cand.len());
    if na == 0 || nb == 0 {
        return None;
    }
    let (mut i, mut j) = (0, 0);
    let mut pos = 0.0_f64;
    let (mut rank_sum_cand, mut ties) = (0.0_f64, 0.0_f64);
    while i < na || j < nb {
        let v = match (base.get(i), cand.get(j)) {
            (Some(&a), Some(&b)) => a.min(b),
            (Some(&a), None) => a,
            (None, Some(&b)) => b,
            (None, None) => unreachable!("loop condition"),
        };
        let i0 = i;
        while i < na && base[i] == v {
            i += 1;
        }
        let j0 = j;
        while j < nb && cand[j] == v {
            j += 1;
        }
        let t = (i - i0 + j - j0) as f64;
        let mid_rank = pos + (t + 1.0) / 2.0;
        rank_sum_cand += (j - j0) as f64 * mid_rank;
        ties += t * t * t - t;
        pos += t;
    }
    let (fa, fb, n) = (na as f64, nb as f64, (na + nb) as f64);
    let u = rank_sum_cand - fb * (fb + 1.0) / 2.0;
    let mean = fa * fb / 2.0;
    let var = if n > 1.0 { fa * fb / 12.0 * ((n + 1.0) - ties / (n * (n - 1.0))) } else { 0.0 };
    if var <= 0.0 {
        return Some(MannWhitney { u, z: 0.0, p_value: 1.0 });
    }
    let d = u - mean;
    let z = d.signum() * (d.abs() - 0.5).max(0.0) / var.sqrt();
    Some(MannWhitney { u, z, p_value: p_two_sided(z) })
}

/// 0-based index of the q-quantile in n sorted values: the smallest value
/// with at least q·n values at or below it (how hdrhistogram reads its
/// percentiles, so the figures agree with summary.json).
pub fn quantile_index(n: usize, q: f64) -> usize {
    ((q * n as f64).ceil() as usize).clamp(1, n) - 1
}

/// The q-quantile of ascending-sorted data; `None` when empty.
pub fn quantile(sorted: &[f64], q: f64) -> Option<f64> {
    (!sorted.is_empty()).then(|| sorted[quantile_index(sorted.len(), q)])
}

/// The q-quantile of one bootstrap resample of `sorted` (see the module doc).
fn resampled_quantile(sorted: &[f64], q: f64, rng: &mut Xoshiro256PlusPlus) -> f64 {
    let n = sorted.len();
    let k = quantile_index(n, q) + 1;
    if n == 1 {
        return sorted[0];
    }
    let u: f64 = match Beta::new(k as f64, (n + 1 - k) as f64) {
        Ok(beta) => beta.sample(rng),
        Err(_) => q, // unreachable for k in 1..=n; the plain quantile then
    };
    sorted[((u * n as f64) as usize).min(n - 1)]
}

/// The (1 − ALPHA) percentile-bootstrap interval of quantile(cand, q) −
/// quantile(base, q), from `resamples` independent resamples of each side.
/// Deterministic for a given seed. `None` if a side is empty.
pub fn bootstrap_quantile_delta(
    base: &[f64],
    cand: &[f64],
    q: f64,
    resamples: usize,
    seed: u64,
) -> Option<(f64, f64)> {
    if base.is_empty() || cand.is_empty() || resamples == 0 {
        return None;
    }
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut deltas: Vec<f64> = (0..resamples)
        .map(|_| {
            let b = resampled_quantile(base, q, &mut rng);
            resampled_quantile(cand, q, &mut rng) - b
        })
        .collect();
    deltas.sort_unstable_by(f64::total_cmp);
    let lo = ((resamples as f64 * ALPHA / 2.0).floor() as usize).min(resamples - 1);
    let hi = ((resamples as f64 * (1.0 - ALPHA / 2.0)).ceil() as usize).clamp(1, resamples) - 1;
    Some((deltas[lo], deltas[hi]))
}

/// The two-sided `1 - alpha` percentile-bootstrap interval of the
/// q-quantile of ascending-sorted `sorted`, from `resamples` resamples;
/// deterministic for a seed. `None` when empty.
pub fn bootstrap_quantile(
    sorted: &[f64],
    q: f64,
    alpha: f64,
    resamples: usize,
    seed: u64,
) -> Option<(f64, f64)> {
    if sorted.is_empty() || resamples == 0 {
        return None;
    }
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut qs: Vec<f64> = (0..resamples).map(|_| resampled_quantile(sorted, q, &mut rng)).collect();
    qs.sort_unstable_by(f64::total_cmp);
    let lo = ((resamples as f64 * alpha / 2.0).floor() as usize).min(resamples - 1);
    let hi = ((resamples as f64 * (1.0 - alpha / 2.0)).ceil() as usize).clamp(1, resamples) - 1;
    Some((qs[lo], qs[hi]))
}

/// Time slices of the measured window for the throughput's noise.
pub const SLICES: usize = 20;

/// The variance of a throughput, estimated from the run itself by batch
/// means: the window (`window_s` seconds ending at the last `ends`, in ms) is
/// cut in `slices` equal slices, each slice's rate (requests, or the
/// `weights` summed: tokens) is computed, and the variance of their mean is
/// s² / slices. Unlike a Poisson assumption this sees how regular the load
/// really was (a closed loop is far steadier than Poisson; bursts are not).
/// Slices shorter than a request make neighbouring slices anti-correlated,
/// which overstates the variance: the error is on the side of "no change".
/// `None` without requests or window.
pub fn slice_rate_variance(
    ends: &[f64],
    weights: Option<&[f64]>,
    window_s: f64,
    slices: usize,
) -> Option<f64> {
    if ends.is_empty() || window_s.is_nan() || window_s <= 0.0 || slices < 2 {
        return None;
    }
    let end = ends.iter().copied().fold(f64::MIN, f64::max);
    let slice_ms = window_s * 1000.0 / slices as f64;
    let start = end - window_s * 1000.0;
    let mut sums = vec![0.0; slices];
    for (i, &t) in ends.iter().enumerate() {
        // Slices are (a, b], anchored at the last end. Ends before the
        // window (a sweep's earlier steps) fall in the first slice.
        let k = (((t - start) / slice_ms).ceil().max(1.0) as usize - 1).min(slices - 1);
        sums[k] += weights.map_or(1.0, |w| w[i]);
    }
    let rates: Vec<f64> = sums.iter().map(|s| s / (slice_ms / 1000.0)).collect();
    let k = slices as f64;
    let mean = rates.iter().sum::<f64>() / k;
    let s2 = rates.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / (k - 1.0);
    Some(s2 / k)
}

/// A z-test of a change `delta` with standard error `se`. A zero standard
/// error means the figure has no noise (e.g. a fixed token count times a
/// price): any change is then certain.
pub fn z_test(delta: f64, se: f64) -> Evidence {
    if se <= 0.0 || !se.is_finite() {
        let p_value = if delta == 0.0 { 1.0 } else { 0.0 };
        return Evidence { p_value, ci: (delta, delta) };
    }
    Evidence { p_value: p_two_sided(delta / se), ci: (delta - Z_CRIT * se, delta + Z_CRIT * se) }
}

/// Two-proportion z-test of x2/n2 − x1/n1: pooled variance for the p-value
/// (the null hypothesis is one common rate), unpooled for the interval.
pub fn two_proportions(x1: u64, n1: u64, x2: u64, n2: u64) -> Option<Evidence> {
    if n1 == 0 || n2 == 0 {
        return None;
    }
    let (f1, f2) = (n1 as f64, n2 as f64);
    let (p1, p2) = (x1 as f64 / f1, x2 as f64 / f2);
    let delta = p2 - p1;
    let pooled = (x1 + x2) as f64 / (f1 + f2);
    let se0 = (pooled * (1.0 - pooled) * (1.0 / f1 + 1.0 / f2)).sqrt();
    if se0 == 0.0 {
        // Both 0% or both 100%: no difference at all.
        return Some(Evidence { p_value: 1.0, ci: (0.0, 0.0) });
    }
    let se = (p1 * (1.0 - p1) / f1 + p2 * (1.0 - p2) / f2).sqrt();
    Some(Evidence { p_value: p_two_sided(delta / se0), ci: (delta - Z_CRIT * se, delta + Z_CRIT * se) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn normal_tail_matches_tables() {
        assert!(close(p_two_sided(1.959_964), 0.05, 1e-6), "{}", p_two_sided(1.959_964));
        assert!(close(p_two_sided(Z_CRIT), ALPHA, 1e-7));
        assert!(close(p_two_sided(0.0), 1.0, 1e-7));
        assert!(close(erfc(-1.0), 1.842_700_792_9, 1e-7));
    }

    #[test]
    fn mann_whitney_separated_samples() {
        // Hand computation: U_cand = 25, mean 12.5, var 5·5·11/12, continuity
        // correction 0.5: z = 12/4.7871 = 2.5067, p = 0.012186.
        let a = [1.0, 2.0, 3.0, 4.0, 5.0];
        let b = [6.0, 7.0, 8.0, 9.0, 10.0];
        let mw = mann_whitney(&a, &b).unwrap();
        assert_eq!(mw.u, 25.0);
        assert!(close(mw.z, 2.506_7, 1e-4), "{mw:?}");
        assert!(close(mw.p_value, 0.012_186, 1e-5), "{mw:?}");
        let rev = mann_whitney(&b, &a).unwrap();
        assert_eq!(rev.u, 0.0);
        assert!(close(rev.z, -mw.z, 1e-12) && close(rev.p_value, mw.p_value, 1e-12));
    }

    #[test]
    fn mann_whitney_with_ties() {
        // Ranks of [1,2,2,3 | 2,3,3,4]: 1 | 3,3,3 | 6,6,6 | 8. Candidate's
        // rank sum 3+6+6+8 = 23, U = 23 − 10 = 13, mean 8. Tie groups of 3
        // and 3: Σ(t³ − t) = 48; var = 16/12·(9 − 48/56) = 10.857;
        // z = (5 − 0.5)/3.2950 = 1.3657, p = 0.17203.
        let a = [1.0, 2.0, 2.0, 3.0];
        let b = [2.0, 3.0, 3.0, 4.0];
        let mw = mann_whitney(&a, &b).unwrap();
        assert_eq!(mw.u, 13.0);
        assert!(close(mw.z, 1.365_7, 1e-4), "{mw:?}");
        assert!(close(mw.p_value, 0.172_03, 1e-4), "{mw:?}");
    }

    #[test]
    fn mann_whitney_of_identical_constant_samples_is_not_significant() {
        let mw = mann_whitney(&[3.0; 10], &[3.0; 7]).unwrap();
        assert_eq!((mw.u, mw.z, mw.p_value), (35.0, 0.0, 1.0));
        assert!(mann_whitney(&[], &[1.0]).is_none());
    }

    #[test]
    fn quantiles_read_like_hdrhistogram() {
        let x: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(quantile(&x, 0.5), Some(50.0));
        assert_eq!(quantile(&x, 0.95), Some(95.0));
        assert_eq!(quantile(&x, 0.99), Some(99.0));
        assert_eq!(quantile(&x[..3], 0.99), Some(3.0));
        assert_eq!(quantile(&[], 0.5), None);
    }

    #[test]
    fn bootstrap_is_deterministic_and_brackets_a_real_shift() {
        let base: Vec<f64> = (0..500).map(|i| 100.0 + f64::from(i % 50)).collect();
        let cand: Vec<f64> = base.iter().map(|v| v + 30.0).collect();
        let mut sb = base.clone();
        sb.sort_by(f64::total_cmp);
        let mut sc = cand.clone();
        sc.sort_by(f64::total_cmp);
        let a = bootstrap_quantile_delta(&sb, &sc, 0.5, RESAMPLES, 7).unwrap();
        let b = bootstrap_quantile_delta(&sb, &sc, 0.5, RESAMPLES, 7).unwrap();
        assert_eq!(a, b, "same seed, same interval");
        assert!(a.0 > 20.0 && a.1 < 40.0 && a.0 <= 30.0 && 30.0 <= a.1, "{a:?}");
        let same = bootstrap_quantile_delta(&sb, &sb, 0.95, RESAMPLES, 7).unwrap();
        assert!(same.0 <= 0.0 && 0.0 <= same.1, "no shift: the interval holds 0: {same:?}");
    }

    #[test]
    fn beta_shortcut_matches_naive_resampling() {
        // The distribution of a resample's p90 by the Beta shortcut against
        // the naive way (n draws, sort, pick): their means and spreads agree.
        use rand::RngExt;
        let sorted: Vec<f64> = (0..40).map(|i| f64::from(i * i)).collect();
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(3);
        let reps = 5_000;
        let fast: Vec<f64> = (0..reps).map(|_| resampled_quantile(&sorted, 0.9, &mut rng)).collect();
        let slow: Vec<f64> = (0..reps)
            .map(|_| {
                let mut r: Vec<f64> = (0..sorted.len()).map(|_| sorted[rng.random_range(0..40)]).collect();
                r.sort_by(f64::total_cmp);
                quantile(&r, 0.9).unwrap()
            })
            .collect();
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        let sd = |v: &[f64]| (v.iter().map(|x| (x - mean(v)).powi(2)).sum::<f64>() / v.len() as f64).sqrt();
        assert!(close(mean(&fast), mean(&slow), 0.02 * mean(&slow)), "{} vs {}", mean(&fast), mean(&slow));
        assert!(close(sd(&fast), sd(&slow), 0.05 * sd(&slow)), "{} vs {}", sd(&fast), sd(&slow));
    }

    #[test]
    fn two_proportions_known_value() {
        // 10/100 vs 20/100: pooled 0.15, se 0.050498, z 1.9803, p 0.047672.
        let e = two_proportions(10, 100, 20, 100).unwrap();
        assert!(close(e.p_value, 0.047_672, 1e-5), "{e:?}");
        assert_eq!(two_proportions(0, 50, 0, 80).unwrap().p_value, 1.0);
        assert!(two_proportions(0, 0, 1, 2).is_none());
    }

    #[test]
    fn slice_rates_see_how_steady_the_load_was() {
        // 200 requests evenly over 10 s: every slice holds 10, no variance.
        let even: Vec<f64> = (1..=200).map(|i| 50.0 * f64::from(i)).collect();
        assert_eq!(slice_rate_variance(&even, None, 10.0, 20), Some(0.0));
        // Alternating slices of 0 and 20 requests (0.5 s each): rates 0 and
        // 40/s, mean 20, s² = 20·400/19, variance of the mean s²/20 = 400/19.
        let bursty: Vec<f64> = (0..10)
            .flat_map(|s| (0..20).map(move |i| 1000.0 * f64::from(s) + 500.0 + f64::from(i)))
            .collect();
        let v = slice_rate_variance(&bursty, None, 10.0, 20).unwrap();
        assert!(close(v, 400.0 / 19.0, 1e-9), "{v}");
        // Weights (tokens) scale the rate: twice the tokens, four times the variance.
        let w = vec![2.0; bursty.len()];
        assert!(close(slice_rate_variance(&bursty, Some(&w), 10.0, 20).unwrap(), 4.0 * v, 1e-9));
        assert_eq!(slice_rate_variance(&[], None, 10.0, 20), None);
        assert_eq!(slice_rate_variance(&even, None, 0.0, 20), None);
    }

    #[test]
    fn z_test_and_significance() {
        let e = z_test(3.0, 1.0);
        assert!(close(e.p_value, 0.002_699_8, 1e-6), "{e:?}");
        assert_eq!(e.significant_sign(), Some(1.0));
        assert_eq!(z_test(-1.0, 1.0).significant_sign(), None);
        assert_eq!(z_test(-0.5, 0.0).significant_sign(), Some(-1.0), "no noise: any change is certain");
        assert_eq!(z_test(0.0, 0.0).significant_sign(), None);
    }
}
