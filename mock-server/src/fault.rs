//! Injected faults: which one (if any) a request gets, drawn from its key.
//!
//! The draw depends only on the seed and the request's sequence number, so a run of N
//! requests gets exactly the same faults whatever their timing, and a test can count them.

use std::time::Duration;

use crate::config::Faults;
use crate::text::splitmix64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    None,
    Http500,
    Http503,
    Http429,
    /// Reset the connection before the response headers.
    Reset,
    /// Cut the body after this fraction (out of 2^32) of its steps.
    Cut(u32),
    SlowHeaders(Duration),
}

/// Keeps the fault draw independent of the text, which uses the same key.
const SALT: u64 = 0xFA17_FA17_FA17_FA17;

pub(crate) fn draw(faults: &Faults, key: u64) -> Fault {
    if faults.total() == 0.0 {
        return Fault::None;
    }
    let h = splitmix64(key ^ SALT);
    // The top 53 bits as a uniform number in [0, 1).
    let u = (h >> 11) as f64 / (1u64 << 53) as f64;
    let mut edge = 0.0;
    for (p, fault) in [
        (faults.http_500, Fault::Http500),
        (faults.http_503, Fault::Http503),
        (faults.http_429, Fault::Http429),
        (faults.reset, Fault::Reset),
        (faults.cut, Fault::Cut(h as u32)),
        (faults.slow_headers, Fault::SlowHeaders(faults.slow_headers_delay)),
    ] {
        edge += p;
        if u < edge {
            return fault;
        }
    }
    Fault::None
}

/// How many of `steps` steps a cut stream still sends: at least one, fewer than all.
pub(crate) fn cut_after(fraction: u32, steps: u32) -> u32 {
    if steps <= 1 {
        return 0;
    }
    ((u64::from(fraction) * u64::from(steps - 1)) >> 32) as u32 + 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::request_key;

    #[test]
    fn rates_match_probabilities() {
        let faults = Faults {
            http_500: 0.01,
            http_503: 0.02,
            reset: 0.03,
            cut: 0.04,
            slow_headers: 0.05,
            http_429: 0.06,
            ..Faults::default()
        };
        let mut counts = [0u32; 7];
        let n = 100_000;
        for seq in 0..n {
            let i = match draw(&faults, request_key(3, seq)) {
                Fault::None => 0,
                Fault::Http500 => 1,
                Fault::Http503 => 2,
                Fault::Reset => 3,
                Fault::Cut(_) => 4,
                Fault::SlowHeaders(_) => 5,
                Fault::Http429 => 6,
            };
            counts[i] += 1;
        }
        for (i, want) in [0.79, 0.01, 0.02, 0.03, 0.04, 0.05, 0.06].into_iter().enumerate() {
            let got = f64::from(counts[i]) / n as f64;
            assert!((got - want).abs() < 0.003, "{i}: {got} vs {want}");
        }
        assert_eq!(draw(&Faults::default(), 1), Fault::None);
    }

    #[test]
    fn cut_leaves_some_but_not_all() {
        assert_eq!(cut_after(0, 10), 1);
        assert_eq!(cut_after(u32::MAX, 10), 9);
        assert_eq!(cut_after(u32::MAX, 1), 0);
    }
}
