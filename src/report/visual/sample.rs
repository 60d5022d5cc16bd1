//! Bounded views of per-request data, pure so they can be tested alone:
//! which rows a scatter plot draws, and per-time-bucket rates.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Picks at most `max` of `n` rows (known in advance from a first pass):
/// every `stride`-th row, so the picture keeps the run's shape, plus the
/// slowest rows, which a uniform sample would lose and which are what a
/// latency scatter plot is looked at for.
pub struct Sampler<T> {
    stride: u64,
    uniform: Vec<T>,
    /// Min-heap on latency of the slowest rows not in the uniform sample.
    slowest: BinaryHeap<Reverse<Slow<T>>>,
    slowest_max: usize,
}

struct Slow<T>(f64, T);

impl<T> PartialEq for Slow<T> {
    fn eq(&self, o: &Self) -> bool {
        self.0.total_cmp(&o.0).is_eq()
    }
}
impl<T> Eq for Slow<T> {}
impl<T> PartialOrd for Slow<T> {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl<T> Ord for Slow<T> {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&o.0)
    }
}

impl<T> Sampler<T> {
    pub fn new(n: u64, max: usize) -> Self {
        let max = max.max(2);
        if n as usize <= max {
            return Sampler { stride: 1, uniform: Vec::new(), slowest: BinaryHeap::new(), slowest_max: 0 };
        }
        // A twentieth of the budget goes to the tail.
        let slowest_max = max / 20;
        let uniform_max = (max - slowest_max) as u64;
        let stride = n.div_ceil(uniform_max);
        Sampler { stride, uniform: Vec::new(), slowest: BinaryHeap::new(), slowest_max }
    }

    /// Offers row number `i` (0-based, in file order) with its latency.
    pub fn offer(&mut self, i: u64, latency: f64, row: T) {
        if i.is_multiple_of(self.stride) {
            self.uniform.push(row);
        } else if self.slowest_max > 0 {
            if self.slowest.len() < self.slowest_max {
                self.slowest.push(Reverse(Slow(latency, row)));
            } else if self.slowest.peek().is_some_and(|Reverse(s)| s.0 < latency) {
                self.slowest.pop();
                self.slowest.push(Reverse(Slow(latency, row)));
            }
        }
    }

    pub fn finish(self) -> Vec<T> {
        let mut out = self.uniform;
        out.extend(self.slowest.into_iter().map(|Reverse(s)| s.1));
        out
    }
}

/// Time buckets: for each, ok completions per second and the mean number of
/// requests in flight (time-weighted, so a bucket half covered by one
/// request shows 0.5).
pub struct Buckets {
    pub start: f64,
    pub width: f64,
    /// Run time at which the data ends: the last bucket is only partly covered.
    end: f64,
    completions: Vec<f64>,
    busy: Vec<f64>,
    /// Difference array of whole buckets covered by an interval (each worth
    /// `width`), so a long request costs O(1), not one step per bucket.
    whole: Vec<f64>,
}

/// The width of at most `max_buckets` buckets covering `span` seconds:
/// 1 s (the usual "per second"), else a round number of seconds.
pub fn bucket_width(span: f64, max_buckets: usize) -> f64 {
    const WIDTHS: [f64; 12] = [1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0];
    let max = max_buckets.max(1) as f64;
    WIDTHS.into_iter().find(|w| span / w <= max).unwrap_or_else(|| (span / max / 3600.0).ceil() * 3600.0)
}

impl Buckets {
    pub fn new(start: f64, end: f64, max_buckets: usize) -> Self {
        let end = end.max(start);
        let width = bucket_width(end - start, max_buckets);
        let n = (((end - start) / width).ceil() as usize).max(1);
        Buckets { start, width, end, completions: vec![0.0; n], busy: vec![0.0; n], whole: vec![0.0; n + 1] }
    }

    fn index(&self, t: f64) -> usize {
        (((t - self.start) / self.width).floor().max(0.0) as usize).min(self.busy.len() - 1)
    }

    pub fn completion(&mut self, t: f64) {
        let i = self.index(t);
        self.completions[i] += 1.0;
    }

    /// A request in flight from `from` to `to` (seconds of run time).
    pub fn in_flight(&mut self, from: f64, to: f64) {
        let (from, to) = (from.max(self.start), to.min(self.end));
        if to <= from {
            return;
        }
        let (a, b) = (self.index(from), self.index(to));
        if a == b {
            self.busy[a] += to - from;
            return;
        }
        let edge = |i: usize| self.start + i as f64 * self.width;
        self.busy[a] += edge(a + 1) - from;
        self.busy[b] += to - edge(b);
        if b > a + 1 {
            self.whole[a + 1] += self.width;
            self.whole[b] -= self.width;
        }
    }

    /// (bucket mid-time, completions/s, mean in flight) per bucket. The last
    /// bucket is rated over the part of it the data covers; when that is
    /// under half a bucket it joins the one before, so a few requests ending
    /// just after a boundary do not show as a spike.
    pub fn finish(mut self) -> Vec<(f64, f64, f64)> {
        let mut acc = 0.0;
        for i in 0..self.busy.len() {
            acc += self.whole[i];
            self.busy[i] += acc;
        }
        let n = self.busy.len();
        let mut spans: Vec<(f64, f64, f64, f64)> = (0..n)
            .map(|i| {
                let lo = self.start + i as f64 * self.width;
                (lo, self.end.min(lo + self.width), self.completions[i], self.busy[i])
            })
            .collect();
        if n > 1 && spans[n - 1].1 - spans[n - 1].0 < self.width / 2.0 {
            let last = spans.pop().expect("n > 1");
            let prev = spans.last_mut().expect("n > 1");
            (prev.1, prev.2, prev.3) = (last.1, prev.2 + last.2, prev.3 + last.3);
        }
        spans
            .into_iter()
            .map(|(lo, hi, done, busy)| {
                let covered = (hi - lo).max(1e-3);
                (lo + covered / 2.0, done / covered, busy / covered)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampler_keeps_everything_when_under_the_budget() {
        let mut s = Sampler::new(10, 100);
        for i in 0..10 {
            s.offer(i, i as f64, i);
        }
        assert_eq!(s.finish(), (0..10).collect::<Vec<_>>());
    }

    #[test]
    fn sampler_is_bounded_uniform_and_keeps_the_slowest() {
        let n = 1_000_000u64;
        let max = 20_000;
        let mut s = Sampler::new(n, max);
        // Latency peaks at one row that the stride would skip.
        let slow_row = 777_777;
        for i in 0..n {
            let latency = if i == slow_row { 1e9 } else { (i % 1000) as f64 };
            s.offer(i, latency, i);
        }
        let kept = s.finish();
        assert!(kept.len() <= max, "{} rows kept", kept.len());
        assert!(kept.len() > max * 9 / 10, "the budget is used: {}", kept.len());
        assert!(kept.contains(&slow_row), "the slowest row is drawn");
        assert!(kept.contains(&0) && kept.iter().any(|&i| i > n - 100), "both ends of the run are drawn");
        let mut again = Sampler::new(n, max);
        for i in 0..n {
            again.offer(i, if i == slow_row { 1e9 } else { (i % 1000) as f64 }, i);
        }
        let mut a = again.finish();
        let mut b = kept;
        a.sort();
        b.sort();
        assert_eq!(a, b, "deterministic");
    }

    #[test]
    fn bucket_width_is_a_second_unless_the_run_is_long() {
        assert_eq!(bucket_width(12.0, 600), 1.0);
        assert_eq!(bucket_width(600.0, 600), 1.0);
        assert_eq!(bucket_width(601.0, 600), 2.0);
        assert_eq!(bucket_width(3600.0 * 24.0, 600), 300.0);
        assert!(bucket_width(1e9, 600) * 600.0 >= 1e9);
    }

    #[test]
    fn buckets_count_completions_and_time_weighted_concurrency() {
        let mut b = Buckets::new(0.0, 4.0, 600);
        assert_eq!(b.width, 1.0);
        // One request over the whole run, one over half of the second bucket.
        b.in_flight(0.0, 4.0);
        b.in_flight(1.25, 1.75);
        // A long request spanning buckets 0.5..3.5.
        b.in_flight(0.5, 3.5);
        for t in [0.1, 0.2, 3.99] {
            b.completion(t);
        }
        let rows = b.finish();
        assert_eq!(rows.len(), 4);
        let flight: Vec<f64> = rows.iter().map(|r| r.2).collect();
        assert_eq!(flight, [1.5, 2.5, 2.0, 1.5]);
        let rate: Vec<f64> = rows.iter().map(|r| r.1).collect();
        assert_eq!(rate, [2.0, 0.0, 0.0, 1.0]);
        assert_eq!(rows[0].0, 0.5);
    }

    #[test]
    fn a_partial_last_bucket_is_rated_over_what_it_covers() {
        let mut b = Buckets::new(10.0, 11.5, 600);
        b.in_flight(10.0, 11.5);
        b.completion(11.4);
        let rows = b.finish();
        assert_eq!(rows.len(), 2);
        assert_eq!((rows[1].0, rows[1].1, rows[1].2), (11.25, 2.0, 1.0));
    }

    #[test]
    fn a_sliver_of_a_last_bucket_joins_the_one_before() {
        let mut b = Buckets::new(0.0, 2.2, 600);
        b.in_flight(0.0, 2.2);
        for t in [1.5, 2.1] {
            b.completion(t);
        }
        let rows = b.finish();
        assert_eq!(rows.len(), 2);
        let (mid, rate, flight) = rows[1];
        assert!((mid - 1.6).abs() < 1e-9 && (rate - 2.0 / 1.2).abs() < 1e-9 && (flight - 1.0).abs() < 1e-9);
    }
}
