//! The few statistics a fit needs: robust line, quantiles, the two-sample
//! Kolmogorov–Smirnov distance, the normal's quantile.

/// The q-quantile of sorted `v` (linear between order statistics).
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let at = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let (i, f) = (at.floor() as usize, at.fract());
    let next = sorted[(i + 1).min(sorted.len() - 1)];
    sorted[i] + (next - sorted[i]) * f
}

pub fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(f64::total_cmp);
    v
}

pub fn median(v: &[f64]) -> f64 {
    quantile(&sorted(v.to_vec()), 0.5)
}

pub fn mean(v: &[f64]) -> f64 {
    if v.is_empty() { f64::NAN } else { v.iter().sum::<f64>() / v.len() as f64 }
}

/// The standard deviation a normal would have with this median absolute
/// deviation: robust to the outliers live runs have.
pub fn robust_sd(v: &[f64]) -> f64 {
    let m = median(v);
    let dev: Vec<f64> = v.iter().map(|x| (x - m).abs()).collect();
    1.4826 * median(&dev)
}

/// Theil–Sen: the median of the slopes between pairs of points (a thinned,
/// evenly spread subset of at most 400 points when there are more), and the
/// median intercept. Robust to a quarter of the points being outliers.
pub fn theil_sen(points: &[(f64, f64)]) -> (f64, f64) {
    let step = points.len().div_ceil(400).max(1);
    let thin: Vec<(f64, f64)> = points.iter().step_by(step).copied().collect();
    let mut slopes = Vec::new();
    for (i, a) in thin.iter().enumerate() {
        for b in &thin[i + 1..] {
            if (b.0 - a.0).abs() > 1e-9 {
                slopes.push((b.1 - a.1) / (b.0 - a.0));
            }
        }
    }
    let slope = if slopes.is_empty() { 0.0 } else { median(&slopes) };
    let intercepts: Vec<f64> = points.iter().map(|(x, y)| y - slope * x).collect();
    (slope, median(&intercepts))
}

/// Weighted least squares of y on x: (intercept, slope).
pub fn line(points: &[(f64, f64, f64)]) -> Option<(f64, f64)> {
    let w: f64 = points.iter().map(|p| p.2).sum();
    if w <= 0.0 {
        return None;
    }
    let mx = points.iter().map(|p| p.0 * p.2).sum::<f64>() / w;
    let my = points.iter().map(|p| p.1 * p.2).sum::<f64>() / w;
    let sxx: f64 = points.iter().map(|p| p.2 * (p.0 - mx).powi(2)).sum();
    if sxx <= 1e-12 {
        return None;
    }
    let sxy: f64 = points.iter().map(|p| p.2 * (p.0 - mx) * (p.1 - my)).sum();
    let slope = sxy / sxx;
    Some((my - slope * mx, slope))
}

/// The largest distance between the empirical CDFs of two sorted samples.
pub fn ks(a: &[f64], b: &[f64]) -> f64 {
    if a.is_empty() || b.is_empty() {
        return f64::NAN;
    }
    let (mut i, mut j, mut d) = (0, 0, 0f64);
    while i < a.len() && j < b.len() {
        let x = a[i].min(b[j]);
        while i < a.len() && a[i] <= x {
            i += 1;
        }
        while j < b.len() && b[j] <= x {
            j += 1;
        }
        d = d.max((i as f64 / a.len() as f64 - j as f64 / b.len() as f64).abs());
    }
    d
}

/// The standard normal's quantile (Acklam's rational approximation, good to
/// 1e-9 between 1e-6 and 1 − 1e-6).
pub fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969683028665376e1,
        2.209460984245205e2,
        -2.759285104469687e2,
        1.38357751867269e2,
        -3.066479806614716e1,
        2.506628277459239,
    ];
    const B: [f64; 5] = [
        -5.447609879822406e1,
        1.615858368580409e2,
        -1.556989798598866e2,
        6.680131188771972e1,
        -1.328068155288572e1,
    ];
    const C: [f64; 6] = [
        -7.784894002430293e-3,
        -3.223964580411365e-1,
        -2.400758277161838,
        -2.549732539343734,
        4.374664141464968,
        2.938163982698783,
    ];
    const D: [f64; 4] = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
    let p = p.clamp(1e-12, 1.0 - 1e-12);
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < 0.02425 {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - 0.02425 {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn theil_sen_finds_the_line_through_outliers() {
        let mut pts: Vec<(f64, f64)> = (0..200).map(|i| (i as f64, 40.0 + 0.25 * i as f64)).collect();
        for p in pts.iter_mut().step_by(7) {
            p.1 += 500.0;
        }
        let (slope, intercept) = theil_sen(&pts);
        assert!((slope - 0.25).abs() < 1e-9 && (intercept - 40.0).abs() < 1e-9, "{slope} {intercept}");
    }

    #[test]
    fn ks_of_equal_and_apart_samples() {
        let a: Vec<f64> = (0..100).map(f64::from).collect();
        assert_eq!(ks(&a, &a), 0.0);
        let b: Vec<f64> = (1000..1100).map(f64::from).collect();
        assert_eq!(ks(&a, &b), 1.0);
        let c: Vec<f64> = (50..150).map(f64::from).collect();
        assert!((ks(&a, &c) - 0.5).abs() < 0.011);
    }

    #[test]
    fn normal_quantiles() {
        assert!((normal_quantile(0.99) - 2.326_347_874).abs() < 1e-6);
        assert!((normal_quantile(0.5)).abs() < 1e-9);
        assert!((normal_quantile(0.1) + 1.281_551_565).abs() < 1e-6);
    }
}
