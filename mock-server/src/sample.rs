//! The random parts of a profile, compiled once per model so that drawing one costs no
//! logarithm or square root on the per-token path.
//!
//! Every draw takes the caller's RNG, itself seeded from the request's key: the same
//! seed and arrival order give the same durations and lengths.

use std::time::Duration;

use rand::RngExt;
use rand::rngs::Xoshiro256PlusPlus;
use rand_distr::{LogNormal, StandardNormal};

use crate::config::{ItlDistribution, MAX_DURATION, MAX_OUTPUT_TOKENS, OutputLength};

/// The standard normal's 99th percentile.
const Z99: f64 = 2.326_347_874_040_840_8;

/// A distribution of durations.
#[derive(Debug, Clone)]
pub(crate) enum DurationDist {
    Exact(Duration),
    /// `mean * max(0, 1 + spread * Z)`.
    Normal {
        mean: Duration,
        spread: f64,
    },
    LogNormal(LogNormal<f64>),
    /// Quantiles `(q, seconds)` from q = 0 to 1: the inverse CDF, linear
    /// between them.
    Empirical(std::sync::Arc<[(f64, f64)]>),
}

impl DurationDist {
    /// The TTFT, and an ITL under `ItlDistribution::Normal`: normal with `jitter`.
    pub(crate) fn normal(mean: Duration, jitter: f64) -> Self {
        if jitter == 0.0 { Self::Exact(mean) } else { Self::Normal { mean, spread: jitter } }
    }

    pub(crate) fn itl(itl: Duration, jitter: f64, distribution: &ItlDistribution) -> Self {
        match *distribution {
            ItlDistribution::Normal => Self::normal(itl, jitter),
            ItlDistribution::Constant => Self::Exact(itl),
            ItlDistribution::LogNormal { p99 } => {
                match lognormal(itl.as_secs_f64(), p99.as_secs_f64()) {
                    Some(d) => Self::LogNormal(d),
                    // Validation rules this out; exact is the harmless reading.
                    None => Self::Exact(itl),
                }
            }
            ItlDistribution::Empirical(ref points) => {
                Self::Empirical(points.iter().map(|(q, d)| (*q, d.as_secs_f64())).collect())
            }
        }
    }

    pub(crate) fn sample(&self, rng: &mut Xoshiro256PlusPlus) -> Duration {
        let secs = match *self {
            Self::Exact(d) => return d,
            Self::Normal { mean, spread } => {
                let z: f64 = rng.sample(StandardNormal);
                mean.as_secs_f64() * (1.0 + spread * z).max(0.0)
            }
            Self::LogNormal(d) => rng.sample(d),
            Self::Empirical(ref points) => {
                let u: f64 = rng.random();
                // The segment holding u: points are few (at most 101).
                let i = points.partition_point(|p| p.0 <= u).clamp(1, points.len() - 1);
                let ((q0, v0), (q1, v1)) = (points[i - 1], points[i]);
                let at = if q1 > q0 { (u - q0) / (q1 - q0) } else { 0.0 };
                v0 + (v1 - v0) * at.clamp(0.0, 1.0)
            }
        };
        // Capped, so that an absurd spread is a long wait and not an overflow.
        Duration::try_from_secs_f64(secs).map_or(MAX_DURATION, |d| d.min(MAX_DURATION))
    }
}

/// A distribution of natural output lengths, in tokens.
#[derive(Debug, Clone, Copy)]
pub(crate) enum LengthDist {
    Unbounded,
    Constant(u32),
    LogNormal(LogNormal<f64>),
}

impl LengthDist {
    pub(crate) fn new(output: OutputLength) -> Self {
        match output {
            OutputLength::MaxTokens => Self::Unbounded,
            OutputLength::Constant(n) => Self::Constant(n),
            OutputLength::LogNormal { mean, p99 } => match lognormal(f64::from(mean), f64::from(p99)) {
                Some(d) => Self::LogNormal(d),
                None => Self::Constant(mean),
            },
        }
    }

    /// The natural length of one sequence, or `None` when only `max_tokens` ends it.
    pub(crate) fn sample(&self, rng: &mut Xoshiro256PlusPlus) -> Option<u32> {
        match *self {
            Self::Unbounded => None,
            Self::Constant(n) => Some(n),
            // `as` saturates; NaN, impossible here, would give 0 and then 1.
            Self::LogNormal(d) => Some((rng.sample(d).round() as u32).clamp(1, MAX_OUTPUT_TOKENS)),
        }
    }
}

/// The lognormal with this mean and 99th percentile, if there is one.
///
/// With X = e^(μ + σZ): mean = e^(μ + σ²/2) and p99 = e^(μ + z99·σ), so
/// σ²/2 − z99·σ + ln(p99/mean) = 0. The smaller root is the one whose p99 lies above
/// the mean; a real root needs p99/mean <= e^(z99²/2).
fn lognormal(mean: f64, p99: f64) -> Option<LogNormal<f64>> {
    let ratio = p99 / mean;
    let disc = Z99 * Z99 - 2.0 * ratio.ln();
    // Written to be true for NaN too (a zero or infinite mean).
    if ratio.is_nan() || ratio <= 1.0 || disc.is_nan() || disc < 0.0 {
        return None;
    }
    let sigma = Z99 - disc.sqrt();
    let mu = mean.ln() - sigma * sigma / 2.0;
    LogNormal::new(mu, sigma).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn draws(d: DurationDist, n: usize) -> Vec<f64> {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(9);
        let mut v: Vec<f64> = (0..n).map(|_| d.sample(&mut rng).as_secs_f64() * 1e3).collect();
        v.sort_by(f64::total_cmp);
        v
    }

    #[test]
    fn lognormal_has_the_asked_mean_and_p99() {
        let d = DurationDist::itl(
            Duration::from_millis(20),
            0.0,
            &ItlDistribution::LogNormal { p99: Duration::from_millis(60) },
        );
        let v = draws(d, 200_000);
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        let p99 = v[v.len() * 99 / 100];
        assert!((mean - 20.0).abs() < 0.3, "mean {mean}");
        assert!((p99 - 60.0).abs() < 1.5, "p99 {p99}");
    }

    #[test]
    fn empirical_draws_follow_the_quantiles() {
        let ms = Duration::from_millis;
        let points: std::sync::Arc<[(f64, Duration)]> =
            vec![(0.0, ms(4)), (0.5, ms(8)), (0.9, ms(10)), (0.99, ms(30)), (1.0, ms(60))].into();
        let d = DurationDist::itl(ms(0), 0.0, &ItlDistribution::Empirical(points.clone()));
        let v = draws(d, 200_000);
        for (q, want) in [(0.25, 6.0), (0.5, 8.0), (0.7, 9.0), (0.95, 10.0 + 20.0 * 5.0 / 9.0), (0.995, 45.0)]
        {
            let got = v[(v.len() as f64 * q) as usize];
            // The tail is steep (3 ms per 0.1% at q 0.995): allow for sampling.
            assert!((got - want).abs() < want * 0.04, "q{q}: {got} ms, want {want}");
        }
        assert!(v[0] >= 4.0 && v[v.len() - 1] <= 60.0);
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        let said = ItlDistribution::empirical_mean(&points).as_secs_f64() * 1e3;
        assert!((mean - said).abs() < 0.05, "mean {mean} against {said}");
    }

    #[test]
    fn exact_and_constant_draw_nothing() {
        let d = DurationDist::itl(Duration::from_millis(7), 0.5, &ItlDistribution::Constant);
        assert!(draws(d, 10).iter().all(|&ms| ms == 7.0));
        let d = DurationDist::normal(Duration::from_millis(7), 0.0);
        assert!(draws(d, 10).iter().all(|&ms| ms == 7.0));
    }

    #[test]
    fn normal_spreads_and_is_never_negative() {
        let v = draws(DurationDist::normal(Duration::from_millis(10), 2.0), 10_000);
        assert_eq!(v[0], 0.0);
        assert!(v[v.len() - 1] > 30.0);
    }

    #[test]
    fn lengths() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
        assert_eq!(LengthDist::new(OutputLength::MaxTokens).sample(&mut rng), None);
        assert_eq!(LengthDist::new(OutputLength::Constant(5)).sample(&mut rng), Some(5));
        let d = LengthDist::new(OutputLength::LogNormal { mean: 100, p99: 400 });
        let mut v: Vec<u32> = (0..100_000).filter_map(|_| d.sample(&mut rng)).collect();
        v.sort_unstable();
        let mean = v.iter().map(|&n| f64::from(n)).sum::<f64>() / v.len() as f64;
        assert!((mean - 100.0).abs() < 2.0, "mean {mean}");
        let p99 = v[v.len() * 99 / 100];
        assert!((380..=420).contains(&p99), "p99 {p99}");
        assert!(v[0] >= 1);
    }

    #[test]
    fn impossible_lognormals_are_refused() {
        assert!(lognormal(10.0, 10.0).is_none());
        assert!(lognormal(10.0, 5.0).is_none());
        assert!(lognormal(10.0, 200.0).is_none());
        assert!(lognormal(0.0, 1.0).is_none());
        assert!(lognormal(10.0, 149.0).is_some());
    }
}
