//! A client-side rate limit (`[client_limit]`): requests and tokens per
//! minute, as token buckets holding one second's worth (and starting with
//! one request), so requests are paced evenly rather than sent in a burst. A request held back starts late, and
//! the wait shows as queue delay: nothing is hidden.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::scenario::ClientLimit;

pub struct Limiter {
    /// Per second.
    requests: Option<f64>,
    tokens: Option<f64>,
    state: Mutex<Buckets>,
}

struct Buckets {
    requests: f64,
    tokens: f64,
    at: Instant,
}

impl Limiter {
    /// `None` when nothing is limited.
    pub fn new(limit: ClientLimit) -> Option<Limiter> {
        let requests = limit.requests_per_minute.map(|r| r / 60.0);
        let tokens = limit.tokens_per_minute.map(|t| t / 60.0);
        (requests.is_some() || tokens.is_some()).then(|| Limiter {
            requests,
            tokens,
            state: Mutex::new(Buckets {
                // One request at once, then the pace: no burst at the start.
                requests: 1.0,
                tokens: tokens.unwrap_or(0.0),
                at: Instant::now(),
            }),
        })
    }

    /// Waits until a request of `tokens` estimated tokens may start.
    pub async fn acquire(&self, tokens: u64) {
        loop {
            let wait = self.try_take(tokens as f64, Instant::now());
            match wait {
                None => return,
                Some(w) => tokio::time::sleep(w).await,
            }
        }
    }

    /// Takes from the buckets, or says how long until they hold enough.
    fn try_take(&self, tokens: f64, now: Instant) -> Option<Duration> {
        let mut b = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let dt = now.saturating_duration_since(b.at).as_secs_f64();
        b.at = now;
        // Capacity: one second's worth, and at least one request (or one
        // request's tokens), so a single large request can pass.
        if let Some(r) = self.requests {
            b.requests = (b.requests + r * dt).min(r.max(1.0));
        }
        if let Some(t) = self.tokens {
            b.tokens = (b.tokens + t * dt).min(t.max(tokens));
        }
        let need_r = self.requests.map_or(0.0, |r| (1.0 - b.requests).max(0.0) / r);
        let need_t = self.tokens.map_or(0.0, |t| (tokens - b.tokens).max(0.0) / t);
        let wait = need_r.max(need_t);
        if wait > 0.0 {
            return Some(Duration::from_secs_f64(wait));
        }
        if self.requests.is_some() {
            b.requests -= 1.0;
        }
        if self.tokens.is_some() {
            b.tokens -= tokens;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_paced_at_the_asked_rate() {
        let l =
            Limiter::new(ClientLimit { requests_per_minute: Some(600.0), tokens_per_minute: None }).unwrap();
        let t0 = Instant::now();
        // One passes at once, then one every 100 ms.
        let passed = (0..20).filter(|_| l.try_take(1.0, t0).is_none()).count();
        assert_eq!(passed, 1);
        let wait = l.try_take(1.0, t0).unwrap();
        assert!((wait.as_secs_f64() - 0.1).abs() < 1e-3, "{wait:?}");
        assert!(l.try_take(1.0, t0 + Duration::from_millis(101)).is_none());
    }

    #[test]
    fn tokens_limit_large_requests() {
        let l = Limiter::new(ClientLimit { requests_per_minute: None, tokens_per_minute: Some(60_000.0) })
            .unwrap();
        let t0 = Instant::now();
        assert!(l.try_take(1000.0, t0).is_none(), "1,000 tokens/s: one second's worth");
        let wait = l.try_take(500.0, t0).unwrap();
        assert!((wait.as_secs_f64() - 0.5).abs() < 1e-3, "{wait:?}");
    }
}
