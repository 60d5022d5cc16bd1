//! The simulator's own lateness: how long after its deadline each token event left the
//! stream, measured inside the server. A client measures this plus its own delays;
//! this is what the simulator adds, which a benchmark needs to state separately.
//!
//! Process-wide and off unless [`enable`]d: when off, a token costs one relaxed load of
//! a flag. When on, one relaxed increment of a bucket (10 µs wide, up to 100 ms).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

const BUCKET: Duration = Duration::from_micros(10);
/// 100 ms in 10 µs buckets, and one more for everything later.
const BUCKETS: usize = 10_001;

static ENABLED: AtomicBool = AtomicBool::new(false);
static COUNTS: [AtomicU64; BUCKETS] = [const { AtomicU64::new(0) }; BUCKETS];

/// Starts recording, for every server in this process.
pub fn enable() {
    ENABLED.store(true, Ordering::Relaxed);
}

/// Records a token event sent now against its deadline `due`.
pub(crate) fn record(due: Instant) {
    if !ENABLED.load(Ordering::Relaxed) {
        return;
    }
    let late = Instant::now().saturating_duration_since(due);
    let bucket = (late.as_nanos() / BUCKET.as_nanos()).min(BUCKETS as u128 - 1) as usize;
    COUNTS[bucket].fetch_add(1, Ordering::Relaxed);
}

/// What has been recorded so far.
#[derive(Debug, Clone)]
pub struct Snapshot {
    counts: Vec<u64>,
}

pub fn snapshot() -> Snapshot {
    Snapshot { counts: COUNTS.iter().map(|c| c.load(Ordering::Relaxed)).collect() }
}

impl Snapshot {
    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// The upper edge of the bucket holding quantile `q` (0..=1), so a slight
    /// overstatement; `None` when nothing was recorded. 100 ms means "100 ms or more".
    pub fn quantile(&self, q: f64) -> Option<Duration> {
        let total = self.count();
        if total == 0 {
            return None;
        }
        let rank = ((total as f64 * q.clamp(0.0, 1.0)).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, &n) in self.counts.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return Some(BUCKET * (i as u32 + 1).min(BUCKETS as u32 - 1));
            }
        }
        None
    }
}

/// One line: `simulator lateness (N token events): p50 .. p99 .. p99.9 .. max ..`.
impl std::fmt::Display for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let q = |p| self.quantile(p).map_or("-".into(), |d| format!("{d:.2?}"));
        write!(
            f,
            "simulator lateness ({} token events): p50 {} p99 {} p99.9 {} max {}",
            self.count(),
            q(0.5),
            q(0.99),
            q(0.999),
            q(1.0)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Against a distribution set bucket by bucket: each quantile is the upper
    /// edge of the bucket holding its rank, and the line prints them.
    #[test]
    fn quantiles_and_the_line_follow_the_counts() {
        let mut counts = vec![0; BUCKETS];
        counts[10] = 90; // 100-110 µs
        counts[500] = 9; // 5.00-5.01 ms
        counts[BUCKETS - 1] = 1; // 100 ms or more
        let s = Snapshot { counts };
        let us = Duration::from_micros;
        assert_eq!(s.quantile(0.5), Some(us(110)));
        assert_eq!(s.quantile(0.9), Some(us(110)));
        assert_eq!(s.quantile(0.99), Some(us(5_010)));
        assert_eq!(s.quantile(0.999), Some(us(100_000)));
        assert_eq!(
            s.to_string(),
            "simulator lateness (100 token events): p50 110.00µs p99 5.01ms p99.9 100.00ms max 100.00ms"
        );
        let none = Snapshot { counts: vec![0; BUCKETS] };
        assert_eq!(none.to_string(), "simulator lateness (0 token events): p50 - p99 - p99.9 - max -");
    }
}
