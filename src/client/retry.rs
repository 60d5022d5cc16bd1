//! When to try a request again, and how long to wait first.
//!
//! A benchmark that retries must stay repeatable and must not hammer a server
//! that asked it to slow down, so: the server's own hint wins (`retry-after-ms`,
//! `retry-after` in seconds, `x-ratelimit-reset-*`); otherwise exponential
//! backoff with full jitter, drawn from an RNG seeded by the request's
//! sequence number so the same run waits the same way.

use std::time::Duration;

use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use reqwest::header::{HeaderMap, HeaderName};

/// The first backoff's ceiling; doubles per attempt.
pub const BACKOFF_BASE: Duration = Duration::from_millis(250);
/// No backoff waits longer than this.
pub const BACKOFF_CAP: Duration = Duration::from_secs(20);

/// Backoff waits for one request: deterministic from its sequence number.
pub struct Backoff {
    rng: Xoshiro256PlusPlus,
}

impl Backoff {
    pub fn new(seq: u64) -> Self {
        // A fixed salt keeps these draws apart from the workload's, which are
        // also seeded from `seq`.
        Backoff { rng: Xoshiro256PlusPlus::seed_from_u64(seq ^ 0x7265_7472_795f_6a69) }
    }

    /// Full jitter: uniform in [0, min(cap, base × 2^(retry−1))]; `retry`
    /// counts from 1.
    pub fn next(&mut self, retry: u32) -> Duration {
        let ceiling = BACKOFF_BASE.saturating_mul(1u32 << retry.saturating_sub(1).min(20)).min(BACKOFF_CAP);
        let micros = u64::try_from(ceiling.as_micros()).unwrap_or(u64::MAX);
        Duration::from_micros(self.rng.random_range(0..=micros))
    }
}

/// How long the server asked us to wait, if it said.
///
/// `retry-after-ms` is the most precise; `retry-after` as an HTTP date is not
/// supported (clock skew makes it unreliable) and falls back to backoff.
/// Of `x-ratelimit-reset-requests`/`-tokens`, the one whose limit is spent
/// (`x-ratelimit-remaining-* = 0`) applies; without that, the later of the two.
pub fn server_hint(headers: &HeaderMap) -> Option<Duration> {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    if let Some(ms) = text("retry-after-ms").and_then(|v| v.parse::<f64>().ok()) {
        return finite_secs(ms / 1000.0);
    }
    if let Some(s) = text("retry-after").and_then(|v| v.parse::<f64>().ok()) {
        return finite_secs(s);
    }
    let reset = |kind: &str| text(&format!("x-ratelimit-reset-{kind}")).and_then(go_duration);
    let spent = |kind: &str| text(&format!("x-ratelimit-remaining-{kind}")) == Some("0");
    let (requests, tokens) = (reset("requests"), reset("tokens"));
    match (spent("requests"), spent("tokens")) {
        (true, false) if requests.is_some() => requests,
        (false, true) if tokens.is_some() => tokens,
        _ => requests.max(tokens),
    }
}

/// The limits the server announces: `x-ratelimit-limit-requests` and
/// `x-ratelimit-limit-tokens` (OpenAI's, per minute), when sent.
///
/// Read from every answer: the names are made once, not formatted and
/// parsed per request.
pub fn limits(headers: &HeaderMap) -> [Option<u64>; 2] {
    static NAMES: [HeaderName; 2] = [
        HeaderName::from_static("x-ratelimit-limit-requests"),
        HeaderName::from_static("x-ratelimit-limit-tokens"),
    ];
    NAMES.each_ref().map(|name| headers.get(name)?.to_str().ok()?.trim().parse().ok())
}

fn finite_secs(s: f64) -> Option<Duration> {
    (s.is_finite() && s >= 0.0).then(|| Duration::from_secs_f64(s.min(86_400.0)))
}

/// A Go `time.Duration` string as OpenAI sends it: "1s", "6m0s", "20ms",
/// "1h2m3.5s", "0.5s". Units: h, m, s, ms, us/µs, ns.
pub fn go_duration(text: &str) -> Option<Duration> {
    let mut rest = text.trim();
    if rest.is_empty() {
        return None;
    }
    let mut secs = 0.0;
    while !rest.is_empty() {
        let num_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
        if num_len == 0 {
            return None;
        }
        let value: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" => 1e-6,
            "ns" => 1e-9,
            _ => return None,
        };
        secs += value * scale;
        rest = &rest[unit_len..];
    }
    finite_secs(secs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn go_durations() {
        assert_eq!(go_duration("1s"), Some(Duration::from_secs(1)));
        assert_eq!(go_duration("6m0s"), Some(Duration::from_secs(360)));
        assert_eq!(go_duration("20ms"), Some(Duration::from_millis(20)));
        assert_eq!(go_duration("1h2m3.5s"), Some(Duration::from_secs_f64(3723.5)));
        assert_eq!(go_duration("0.5s"), Some(Duration::from_millis(500)));
        for bad in ["", "s", "5", "5x", "1s2", "-1s"] {
            assert_eq!(go_duration(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn server_hint_precedence() {
        let h = headers(&[("retry-after-ms", "1500"), ("retry-after", "3")]);
        assert_eq!(server_hint(&h), Some(Duration::from_millis(1500)));
        assert_eq!(server_hint(&headers(&[("retry-after", "2")])), Some(Duration::from_secs(2)));
        // An HTTP date is not supported: no hint, so backoff applies.
        assert_eq!(server_hint(&headers(&[("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT")])), None);
        let both = [("x-ratelimit-reset-requests", "1s"), ("x-ratelimit-reset-tokens", "6m0s")];
        assert_eq!(server_hint(&headers(&both)), Some(Duration::from_secs(360)));
        let mut spent = both.to_vec();
        spent.push(("x-ratelimit-remaining-requests", "0"));
        spent.push(("x-ratelimit-remaining-tokens", "9000"));
        assert_eq!(server_hint(&headers(&spent)), Some(Duration::from_secs(1)));
        assert_eq!(server_hint(&HeaderMap::new()), None);
    }

    #[test]
    fn limits_are_read_from_either_header_whatever_else_is_sent() {
        let both = [("x-ratelimit-limit-requests", "500"), ("x-ratelimit-limit-tokens", " 30000 ")];
        assert_eq!(limits(&headers(&both)), [Some(500), Some(30_000)]);
        assert_eq!(limits(&headers(&[("x-ratelimit-limit-tokens", "9")])), [None, Some(9)]);
        let noise = [("content-type", "application/json"), ("x-ratelimit-limit-requests", "ten")];
        assert_eq!(limits(&headers(&noise)), [None, None]);
        assert_eq!(limits(&HeaderMap::new()), [None, None]);
    }

    #[test]
    fn backoff_is_full_jitter_capped_and_repeatable() {
        let draws = |seq| {
            let mut b = Backoff::new(seq);
            (1..=12).map(|k| b.next(k)).collect::<Vec<_>>()
        };
        assert_eq!(draws(7), draws(7));
        assert_ne!(draws(7), draws(8));
        for (k, d) in draws(3).into_iter().enumerate() {
            let ceiling = BACKOFF_BASE * (1 << k);
            assert!(d <= ceiling.min(BACKOFF_CAP), "retry {}: {d:?}", k + 1);
        }
        // Full jitter spreads over the whole range, not near the ceiling only.
        let mut b = Backoff::new(1);
        let small = (0..1000).filter(|_| b.next(1) < BACKOFF_BASE / 4).count();
        assert!((150..350).contains(&small), "{small}");
    }
}
