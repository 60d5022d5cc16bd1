//! Rate limits per API key and model: requests and tokens per minute, as token buckets
//! that refill continuously, which is how the real API behaves (a limit of 60 per minute
//! gives back one request a second, not 60 at the top of each minute).
//!
//! Each answer carries the state of the buckets in the API's headers
//! (`x-ratelimit-limit-requests`, `-remaining-`, `-reset-`, the same for tokens), on
//! successes as on 429s, so a client can pace itself. One short critical section per
//! request: a map lookup and a few multiplications.

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use tokio::time::Instant;

use crate::config::RateLimits;

const MINUTE: f64 = 60.0;

/// Beyond this many keys, full (idle) buckets are forgotten: with auth off any string is
/// a key, and the map must not grow with every one ever seen.
const MAX_TRACKED_KEYS: usize = 10_000;

pub(crate) struct RateLimiter {
    limits: RateLimits,
    buckets: Mutex<HashMap<String, Buckets>>,
}

#[derive(Clone, Copy)]
struct Buckets {
    requests: f64,
    tokens: f64,
    at: Instant,
}

/// The state after a request was counted or refused, as headers.
pub(crate) struct Status {
    requests: Option<Level>,
    tokens: Option<Level>,
}

#[derive(Clone, Copy)]
struct Level {
    limit: u64,
    remaining: u64,
    /// Until the bucket is full again.
    reset: Duration,
}

/// A refused request: which limit, when to retry, and the headers.
pub(crate) struct Limited {
    pub(crate) status: Status,
    pub(crate) retry_after: Duration,
    /// `"requests"` or `"tokens"`, the real API's error type.
    pub(crate) kind: &'static str,
    pub(crate) message: String,
}

impl RateLimiter {
    /// `None` when there is nothing to limit.
    pub(crate) fn new(limits: RateLimits) -> Option<Self> {
        let any = limits.requests_per_minute.is_some() || limits.tokens_per_minute.is_some();
        any.then(|| Self { limits, buckets: Mutex::new(HashMap::new()) })
    }

    /// Counts one request of `tokens` estimated tokens for `key`, or refuses it. A
    /// refused request takes nothing from either bucket.
    pub(crate) fn check(&self, key: &str, tokens: u64, now: Instant) -> Result<Status, Limited> {
        let rpm = self.limits.requests_per_minute.map_or(f64::INFINITY, f64::from);
        let tpm = self.limits.tokens_per_minute.map_or(f64::INFINITY, |t| t as f64);
        let mut buckets = self.buckets.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if buckets.len() >= MAX_TRACKED_KEYS && !buckets.contains_key(key) {
            buckets.retain(|_, b| {
                let b = refill(*b, rpm, tpm, now);
                b.requests < rpm || b.tokens < tpm
            });
        }
        let b = match buckets.get_mut(key) {
            Some(b) => b,
            None => buckets.entry(key.to_owned()).or_insert(Buckets { requests: rpm, tokens: tpm, at: now }),
        };
        *b = refill(*b, rpm, tpm, now);
        let needed = tokens as f64;
        let short = if b.requests < 1.0 {
            Some(("requests", wait(1.0 - b.requests, rpm)))
        } else if b.tokens < needed {
            Some(("tokens", wait(needed - b.tokens, tpm)))
        } else {
            b.requests -= 1.0;
            b.tokens -= needed;
            None
        };
        let status = self.status(*b, rpm, tpm);
        drop(buckets);

        let Some((kind, retry_after)) = short else { return Ok(status) };
        let message = match kind {
            "requests" => format!(
                "Rate limit reached on requests per min (RPM): Limit {}, Requested 1. Please try again in {}.",
                self.limits.requests_per_minute.unwrap_or(0),
                go_duration(retry_after),
            ),
            _ if needed > tpm => format!(
                "Request too large on tokens per min (TPM): Limit {}, Requested {tokens}. The input or output tokens must be reduced in order to run successfully.",
                self.limits.tokens_per_minute.unwrap_or(0),
            ),
            _ => format!(
                "Rate limit reached on tokens per min (TPM): Limit {}, Requested {tokens}. Please try again in {}.",
                self.limits.tokens_per_minute.unwrap_or(0),
                go_duration(retry_after),
            ),
        };
        Err(Limited { status, retry_after, kind, message })
    }

    fn status(&self, b: Buckets, rpm: f64, tpm: f64) -> Status {
        let level = |limit: Option<u64>, value: f64, per_minute: f64| {
            limit.map(|limit| Level {
                limit,
                remaining: value.max(0.0).floor() as u64,
                reset: wait(per_minute - value, per_minute),
            })
        };
        Status {
            requests: level(self.limits.requests_per_minute.map(u64::from), b.requests, rpm),
            tokens: level(self.limits.tokens_per_minute, b.tokens, tpm),
        }
    }
}

fn refill(b: Buckets, rpm: f64, tpm: f64, now: Instant) -> Buckets {
    let minutes = now.saturating_duration_since(b.at).as_secs_f64() / MINUTE;
    Buckets {
        requests: (b.requests + rpm * minutes).min(rpm),
        tokens: (b.tokens + tpm * minutes).min(tpm),
        at: now,
    }
}

/// How long a bucket refilling at `per_minute` takes to gain `missing`.
fn wait(missing: f64, per_minute: f64) -> Duration {
    if missing <= 0.0 {
        return Duration::ZERO;
    }
    // Infinite when the request can never fit; capped like every other duration here.
    Duration::try_from_secs_f64(missing / per_minute * MINUTE).unwrap_or(Duration::from_secs(3600))
}

impl Status {
    pub(crate) fn write_headers(&self, headers: &mut HeaderMap) {
        for (level, [limit, remaining, reset]) in
            [(self.requests, REQUEST_HEADERS), (self.tokens, TOKEN_HEADERS)]
        {
            if let Some(l) = level {
                headers.insert(limit, HeaderValue::from(l.limit));
                headers.insert(remaining, HeaderValue::from(l.remaining));
                // Digits, letters and dots only: always a valid header value.
                if let Ok(v) = HeaderValue::from_str(&go_duration(l.reset)) {
                    headers.insert(reset, v);
                }
            }
        }
    }
}

const REQUEST_HEADERS: [HeaderName; 3] = [
    HeaderName::from_static("x-ratelimit-limit-requests"),
    HeaderName::from_static("x-ratelimit-remaining-requests"),
    HeaderName::from_static("x-ratelimit-reset-requests"),
];
const TOKEN_HEADERS: [HeaderName; 3] = [
    HeaderName::from_static("x-ratelimit-limit-tokens"),
    HeaderName::from_static("x-ratelimit-remaining-tokens"),
    HeaderName::from_static("x-ratelimit-reset-tokens"),
];

/// A duration the way the API writes its reset headers (Go's format): `20ms`, `1s`,
/// `1.5s`, `6m0s`, `1h2m3s`.
pub(crate) fn go_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let (h, m) = (ms / 3_600_000, ms / 60_000 % 60);
    let (s, frac) = (ms / 1000 % 60, ms % 1000);
    let mut out = String::new();
    if h > 0 {
        let _ = write!(out, "{h}h");
    }
    if h > 0 || m > 0 {
        let _ = write!(out, "{m}m");
    }
    let _ = write!(out, "{s}");
    if frac > 0 {
        let frac = format!(".{frac:03}");
        out.push_str(frac.trim_end_matches('0'));
    }
    out.push('s');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(rpm: Option<u32>, tpm: Option<u64>) -> RateLimiter {
        RateLimiter::new(RateLimits { requests_per_minute: rpm, tokens_per_minute: tpm }).expect("limits")
    }

    fn header(status: &Status, name: &str) -> String {
        let mut h = HeaderMap::new();
        status.write_headers(&mut h);
        h.get(name).and_then(|v| v.to_str().ok()).unwrap_or("-").to_owned()
    }

    #[test]
    fn go_durations() {
        let cases = [
            (0, "0ms"),
            (20, "20ms"),
            (1000, "1s"),
            (1500, "1.5s"),
            (360_000, "6m0s"),
            (3_723_000, "1h2m3s"),
        ];
        for (ms, want) in cases {
            assert_eq!(go_duration(Duration::from_millis(ms)), want);
        }
    }

    #[test]
    fn requests_bucket_refills_continuously() {
        let l = limiter(Some(60), None);
        let t0 = Instant::now();
        for i in 0..60 {
            let s = l.check("k", 10, t0).unwrap_or_else(|_| panic!("request {i} refused"));
            assert_eq!(header(&s, "x-ratelimit-remaining-requests"), (59 - i).to_string());
        }
        let refused = l.check("k", 10, t0).err().expect("61st refused");
        assert_eq!(refused.kind, "requests");
        assert_eq!(refused.retry_after, Duration::from_secs(1));
        assert_eq!(header(&refused.status, "x-ratelimit-reset-requests"), "1m0s");
        assert_eq!(header(&refused.status, "x-ratelimit-limit-tokens"), "-");
        // Other keys have their own buckets; time gives one request back per second.
        assert!(l.check("other", 10, t0).is_ok());
        assert!(l.check("k", 10, t0 + Duration::from_millis(1001)).is_ok());
        assert!(l.check("k", 10, t0 + Duration::from_millis(1002)).is_err());
    }

    #[test]
    fn tokens_bucket_and_requests_too_large() {
        let l = limiter(Some(100), Some(1000));
        let t0 = Instant::now();
        let s = l.check("k", 700, t0).ok().expect("fits");
        assert_eq!(header(&s, "x-ratelimit-remaining-tokens"), "300");
        assert_eq!(header(&s, "x-ratelimit-reset-tokens"), "42s");
        let refused = l.check("k", 400, t0).err().expect("100 short");
        assert_eq!(refused.kind, "tokens");
        assert_eq!(refused.retry_after, Duration::from_secs(6));
        // Refused requests take nothing.
        assert_eq!(header(&refused.status, "x-ratelimit-remaining-requests"), "99");
        let huge = l.check("k", 5000, t0 + Duration::from_secs(60)).err().expect("never fits");
        assert!(huge.message.starts_with("Request too large"), "{}", huge.message);
    }
}
