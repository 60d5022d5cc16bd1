//! When each token is due, and the SSE body that sends it then.
//!
//! Every deadline is absolute, computed from the request's arrival, and awaited with
//! `sleep_until`. Tokio's relative `sleep` overshoots by about a millisecond each time,
//! which over a 256-token stream adds up to hundreds of milliseconds of drift; with
//! absolute deadlines a late wake-up is caught up by the next one instead.

use std::convert::Infallible;
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use rand_distr::StandardNormal;
use tokio::time::Instant;

use crate::{MAX_DURATION, ModelProfile};

/// The deadlines of a request's content tokens, computed one at a time so that a long
/// stream costs no memory: token 0 is due `ttft` after arrival, each next one an `itl`
/// after the previous one, each duration jittered independently.
pub(crate) struct Schedule {
    next: Instant,
    remaining: u32,
    itl: Duration,
    jitter: f64,
    // A portable, documented algorithm: the same seed gives the same jitter on every
    // platform and rand release, which `SmallRng` does not promise.
    rng: Xoshiro256PlusPlus,
}

impl Schedule {
    pub(crate) fn new(arrival: Instant, profile: &ModelProfile, key: u64, tokens: u32) -> Self {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(key);
        let ttft = sample(profile.ttft, profile.jitter, &mut rng);
        Self { next: arrival + ttft, remaining: tokens, itl: profile.itl, jitter: profile.jitter, rng }
    }

    /// The deadline of the next token, or `None` once every token has been scheduled.
    pub(crate) fn next_deadline(&mut self) -> Option<Instant> {
        if self.remaining == 0 {
            return None;
        }
        let due = self.next;
        self.remaining -= 1;
        if self.remaining > 0 {
            self.next = due + sample(self.itl, self.jitter, &mut self.rng);
        }
        Some(due)
    }

    /// The deadline of the last token: when a non-streaming response is complete.
    pub(crate) fn last_deadline(mut self) -> Option<Instant> {
        let mut last = None;
        while let Some(due) = self.next_deadline() {
            last = Some(due);
        }
        last
    }
}

/// `d * max(0, 1 + jitter * Z)`, capped at [`MAX_DURATION`]. Jitter 0 draws nothing, so
/// the schedule is then exact to the nanosecond.
fn sample(d: Duration, jitter: f64, rng: &mut Xoshiro256PlusPlus) -> Duration {
    if jitter == 0.0 {
        return d;
    }
    let z: f64 = rng.sample(StandardNormal);
    let factor = (1.0 + jitter * z).max(0.0);
    Duration::try_from_secs_f64(d.as_secs_f64() * factor).map_or(MAX_DURATION, |s| s.min(MAX_DURATION))
}

/// The pre-rendered pieces of one SSE response. Everything but the token events is known
/// when the request arrives, so it is rendered once; token events, sent thousands of
/// times a second across streams, are a prefix, the word and a suffix.
pub(crate) struct SseFrames {
    /// Sent at once, before the first token (chat's role-only chunk).
    pub(crate) open: Option<Bytes>,
    pub(crate) token_prefix: Bytes,
    pub(crate) token_suffix: Bytes,
    /// Sent right after the last token: the finish event, the usage event if asked for,
    /// and `[DONE]`.
    pub(crate) tail: Option<Bytes>,
}

impl SseFrames {
    fn token(&self, word: &str) -> Bytes {
        let mut event = Vec::with_capacity(self.token_prefix.len() + word.len() + self.token_suffix.len());
        event.extend_from_slice(&self.token_prefix);
        event.extend_from_slice(word.as_bytes());
        event.extend_from_slice(&self.token_suffix);
        Bytes::from(event)
    }
}

struct SseState {
    frames: SseFrames,
    schedule: Schedule,
    key: u64,
    index: u32,
}

/// The body of a streaming response: each event is yielded when it is due. When the
/// client goes away hyper drops the body, and with it the pending timer.
pub(crate) fn sse_body(frames: SseFrames, schedule: Schedule, key: u64) -> Body {
    let state = SseState { frames, schedule, key, index: 0 };
    let events = futures_util::stream::unfold(state, |mut s| async move {
        if let Some(open) = s.frames.open.take() {
            return Some((Ok::<_, Infallible>(open), s));
        }
        if let Some(due) = s.schedule.next_deadline() {
            tokio::time::sleep_until(due).await;
            let event = s.frames.token(crate::text::word(s.key, s.index));
            s.index += 1;
            return Some((Ok(event), s));
        }
        let tail = s.frames.tail.take()?;
        Some((Ok(tail), s))
    });
    Body::from_stream(events)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(ttft_ms: u64, itl_ms: u64, jitter: f64) -> ModelProfile {
        ModelProfile { ttft: Duration::from_millis(ttft_ms), itl: Duration::from_millis(itl_ms), jitter }
    }

    fn offsets(t0: Instant, p: &ModelProfile, key: u64, n: u32) -> Vec<Duration> {
        let mut s = Schedule::new(t0, p, key, n);
        std::iter::from_fn(|| s.next_deadline()).map(|d| d - t0).collect()
    }

    #[test]
    fn exact_without_jitter() {
        let t0 = Instant::now();
        let got = offsets(t0, &profile(100, 10, 0.0), 1, 20);
        let want: Vec<_> = (0..20).map(|i| Duration::from_millis(100 + 10 * i)).collect();
        assert_eq!(got, want);
        let last = Schedule::new(t0, &profile(100, 10, 0.0), 1, 20).last_deadline();
        assert_eq!(last, Some(t0 + Duration::from_millis(290)));
        assert_eq!(Schedule::new(t0, &profile(1, 1, 0.0), 1, 0).last_deadline(), None);
    }

    #[test]
    fn jitter_varies_but_is_deterministic_per_key() {
        let t0 = Instant::now();
        let p = profile(100, 10, 0.3);
        let a = offsets(t0, &p, 42, 50);
        assert_eq!(a, offsets(t0, &p, 42, 50));
        assert_ne!(a, offsets(t0, &p, 43, 50));
        let gaps: Vec<_> = a.windows(2).map(|w| w[1] - w[0]).collect();
        assert!(gaps.iter().any(|g| *g != gaps[0]), "gaps all equal: {gaps:?}");
        assert!(a.windows(2).all(|w| w[1] >= w[0]), "deadlines go back in time");
        let mean = gaps.iter().sum::<Duration>() / gaps.len() as u32;
        assert!(mean > Duration::from_millis(7) && mean < Duration::from_millis(13), "{mean:?}");
    }

    #[test]
    fn absurd_jitter_is_capped_not_a_panic() {
        let t0 = Instant::now();
        let p = profile(1, 1, 1e300);
        let got = offsets(t0, &p, 5, 10);
        assert!(got.iter().all(|d| *d <= MAX_DURATION * 10));
    }
}
