//! When each step of a generation is due, and the bodies that wait for them: the SSE
//! body that sends each step's tokens then, and the wait for a whole response.
//!
//! Every deadline is absolute, counted from the request's start, and awaited with
//! `sleep_until`. Tokio's relative `sleep` overshoots by about a millisecond each time,
//! which over a 256-token stream adds up to hundreds of milliseconds of drift; with
//! absolute deadlines a late wake-up is caught up by the next one instead.
//!
//! Deadlines are awaited on the simulator's own clock (`clock.rs`): tokio's timer rounds
//! each one up to its next millisecond, which put a token ~1.1 ms after its deadline at
//! the median and ~3 ms at p99 with 2,000 streams; the clock batches deadlines per
//! 250 µs slot instead.
//!
//! A step is one decode step of the batch: every sequence of the request still running
//! produces one token in it. The gap to the next step is drawn when a step is taken,
//! with the batch as it is then, so load arriving mid-stream slows the stream down.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;
use tokio::time::Instant;

use crate::capacity::{Pool, Slots};
use crate::config::MAX_DURATION;
use crate::model::Model;
use crate::plan::Plan;
use crate::sample::DurationDist;
use crate::text;

/// The deadlines of a request's steps, computed one at a time so that a long stream
/// costs no memory: step 0 (the first token) is due the TTFT after the start, each next
/// one an inter-token gap after the previous one.
pub(crate) struct Schedule {
    next: Instant,
    itl: DurationDist,
    per_sequence: Duration,
    pool: Arc<Pool>,
    // A portable, documented algorithm: the same seed gives the same durations on every
    // platform and rand release, which `SmallRng` does not promise.
    rng: Xoshiro256PlusPlus,
}

impl Schedule {
    pub(crate) fn new(start: Instant, model: &Model, prompt_tokens: u64, key: u64) -> Self {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(key);
        let ttft = model.ttft.sample(&mut rng) + model.prefill(prompt_tokens);
        Self {
            next: start + ttft,
            itl: model.itl.clone(),
            per_sequence: model.itl_per_sequence,
            pool: model.pool.clone(),
            rng,
        }
    }

    /// The deadline of the next step.
    pub(crate) fn next_deadline(&mut self) -> Instant {
        let due = self.next;
        let mut gap = self.itl.sample(&mut self.rng);
        if !self.per_sequence.is_zero() {
            let others = u32::try_from(self.pool.active().saturating_sub(1)).unwrap_or(u32::MAX);
            gap += self.per_sequence.checked_mul(others).map_or(MAX_DURATION, |d| d.min(MAX_DURATION));
        }
        self.next = due + gap;
        due
    }
}

/// Steps waited for at once by a whole (non-streaming) response: it shows nothing
/// between them, so it needs to wake only to let finished sequences leave the batch and
/// to look at the batch size again.
const WHOLE_STEPS: u32 = 16;

use crate::clock::sleep_until;

/// Waits until every sequence of `plan` has produced its last token, freeing each
/// sequence's slot when it does.
pub(crate) async fn generate_whole(mut schedule: Schedule, plan: &Plan, mut slots: Slots) {
    let mut ends: Vec<u32> = plan.sequences.iter().map(|s| s.tokens).collect();
    ends.sort_unstable();
    let steps = plan.steps();
    let (mut done, mut ended) = (0u32, 0usize);
    while done < steps {
        let next_end = ends.get(ended).copied().unwrap_or(steps);
        let target = next_end.min(done + WHOLE_STEPS);
        let mut due = None;
        while done < target {
            due = Some(schedule.next_deadline());
            done += 1;
        }
        if let Some(due) = due {
            sleep_until(due).await;
        }
        let finished = ends[ended..].iter().take_while(|&&t| t <= done).count();
        slots.finish(finished as u32);
        ended += finished;
    }
}

/// The pre-rendered pieces of one SSE response. Everything but the token events is known
/// when the request is admitted, so it is rendered once; token events, sent thousands of
/// times a second across streams, are a prefix, the word and a suffix.
pub(crate) struct SseFrames {
    /// Sent at once, before the first token (chat's role-only chunks).
    pub(crate) open: Option<Bytes>,
    /// Per choice: the token event around its text.
    pub(crate) tokens: Vec<(Bytes, Bytes)>,
    /// Per choice: the reasoning token event around its text; empty when the
    /// endpoint does not stream reasoning (its steps then send nothing).
    pub(crate) reasoning: Vec<(Bytes, Bytes)>,
    /// Token events that end in a sequence number (the Responses API's): what follows
    /// the number, and the first delta's number; each token event takes the next.
    pub(crate) numbered: Option<(Bytes, u64)>,
    /// Per choice: the event with its finish_reason, sent right after its last token.
    pub(crate) finish: Vec<Bytes>,
    /// Sent after the last finish: the usage event if asked for, and `[DONE]`.
    pub(crate) tail: Bytes,
}

/// A returned sequence as the stream walks through it.
struct Choice {
    key: u64,
    tokens: u32,
    /// Its first `reasoning` steps are reasoning tokens.
    reasoning: u32,
    visible: Option<u32>,
    /// Bytes of its text generated so far, shown or not.
    offset: u32,
}

struct SseState {
    frames: SseFrames,
    choices: Vec<Choice>,
    schedule: Schedule,
    slots: Slots,
    step: u32,
    steps: u32,
    /// Steps sent before the connection is cut (an injected fault).
    cut_after: Option<u32>,
    tail_sent: bool,
    /// The next token event's sequence number, when they have one.
    sequence: u64,
}

impl SseState {
    /// The events of one step, in one buffer: one allocation per step, whatever `n`,
    /// of exactly the size needed (a `Vec` with spare capacity would make `Bytes` add a
    /// second allocation).
    fn step_events(&mut self, step: u32) -> Bytes {
        // What each live choice shows at this step: a reasoning word (when the
        // endpoint streams reasoning), or the visible part of its answer's next word.
        let mut size = 0;
        for (i, c) in self.choices.iter().enumerate() {
            if step >= c.tokens {
                continue;
            }
            match c.shown(step, &self.frames, i) {
                Shown::Reasoning(word, (prefix, suffix)) => size += prefix.len() + word.len() + suffix.len(),
                Shown::Answer(shown, _) if !shown.is_empty() => {
                    let (prefix, suffix) = &self.frames.tokens[i];
                    size += prefix.len() + shown.len() + suffix.len();
                    if let Some((after, _)) = &self.frames.numbered {
                        size += 20 + after.len();
                    }
                }
                _ => {}
            }
            if step + 1 == c.tokens {
                size += self.frames.finish[i].len();
            }
        }
        let mut out = Vec::with_capacity(size);
        let mut finished = 0;
        for (i, c) in self.choices.iter_mut().enumerate() {
            if step >= c.tokens {
                continue;
            }
            match c.shown(step, &self.frames, i) {
                Shown::Reasoning(word, (prefix, suffix)) => {
                    out.extend_from_slice(prefix);
                    out.extend_from_slice(word.as_bytes());
                    out.extend_from_slice(suffix);
                }
                Shown::Answer(shown, word_len) => {
                    c.offset += word_len;
                    if !shown.is_empty() {
                        let (prefix, suffix) = &self.frames.tokens[i];
                        out.extend_from_slice(prefix);
                        out.extend_from_slice(shown.as_bytes());
                        out.extend_from_slice(suffix);
                        if let Some((after, _)) = &self.frames.numbered {
                            // Written in place: no string per event.
                            let _ = std::io::Write::write_fmt(&mut out, format_args!("{}", self.sequence));
                            out.extend_from_slice(after);
                            self.sequence += 1;
                        }
                    }
                }
                Shown::Nothing => {}
            }
            if step + 1 == c.tokens {
                out.extend_from_slice(&self.frames.finish[i]);
                finished += 1;
            }
        }
        self.slots.finish(finished);
        debug_assert!(out.len() <= size);
        Bytes::from(out)
    }
}

/// What a choice shows at one step.
enum Shown<'f> {
    /// A reasoning word, and its event's template.
    Reasoning(&'static str, &'f (Bytes, Bytes)),
    /// The visible part of an answer word, and the word's length.
    Answer(&'static str, u32),
    /// A reasoning step the endpoint does not stream.
    Nothing,
}

impl Choice {
    fn shown<'f>(&self, step: u32, frames: &'f SseFrames, i: usize) -> Shown<'f> {
        if step < self.reasoning {
            return match frames.reasoning.get(i) {
                Some(template) => Shown::Reasoning(text::word(text::reasoning_key(self.key), step), template),
                None => Shown::Nothing,
            };
        }
        let word = text::word(self.key, step - self.reasoning);
        Shown::Answer(text::visible_part(word, self.offset, self.visible), word.len() as u32)
    }
}

fn cut_error() -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::ConnectionAborted, "injected fault: response cut")
}

/// A whole response's body cut halfway, for the same fault.
pub(crate) fn truncated_body(json: Vec<u8>) -> Body {
    let json = Bytes::from(json);
    let half = json.slice(..json.len() / 2);
    let parts = futures_util::stream::unfold(Some(half), |half| async move {
        match half {
            Some(half) => Some((Ok(half), None)),
            None => {
                // As for a stream: let hyper flush the headers and the half first.
                tokio::task::yield_now().await;
                Some((Err(cut_error()), None))
            }
        }
    });
    Body::from_stream(parts)
}

/// The body of a streaming response: each step's events are yielded when the step is
/// due. When the client goes away hyper drops the body, and with it the pending timer
/// and the request's place in the batch.
pub(crate) fn sse_body(
    frames: SseFrames,
    plan: &Plan,
    schedule: Schedule,
    slots: Slots,
    cut_after: Option<u32>,
) -> Body {
    let frames_first_sequence = frames.numbered.as_ref().map_or(0, |n| n.1);
    let choices = plan
        .returned()
        .map(|s| Choice {
            key: s.key,
            tokens: s.tokens,
            reasoning: s.reasoning,
            visible: s.visible,
            offset: 0,
        })
        .collect();
    let state = SseState {
        frames,
        choices,
        schedule,
        slots,
        step: 0,
        steps: plan.steps(),
        cut_after,
        tail_sent: false,
        sequence: frames_first_sequence,
    };
    let events = futures_util::stream::unfold(state, |mut s| async move {
        if let Some(open) = s.frames.open.take() {
            return Some((Ok(open), s));
        }
        while s.step < s.steps {
            if s.cut_after == Some(s.step) {
                // When the next token would have come. Yielding once lets hyper flush
                // what was sent (it discards unflushed output on error), so that even a
                // zero-latency stream is seen cut, not refused.
                sleep_until(s.schedule.next_deadline()).await;
                tokio::task::yield_now().await;
                // An error ends the body without its terminating chunk: hyper closes the
                // connection, and the client sees a stream cut short.
                s.steps = 0;
                s.tail_sent = true;
                return Some((Err(cut_error()), s));
            }
            let due = s.schedule.next_deadline();
            sleep_until(due).await;
            let step = s.step;
            s.step += 1;
            let events = s.step_events(step);
            crate::lateness::record(due);
            if !events.is_empty() {
                return Some((Ok(events), s));
            }
        }
        if s.tail_sent {
            return None;
        }
        s.tail_sent = true;
        Some((Ok(s.frames.tail.clone()), s))
    });
    Body::from_stream(events)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ModelProfile;

    fn model(ttft_ms: u64, itl_ms: u64, jitter: f64) -> Model {
        Model::new(&ModelProfile {
            ttft: Duration::from_millis(ttft_ms),
            itl: Duration::from_millis(itl_ms),
            jitter,
            ..ModelProfile::default()
        })
    }

    fn offsets(t0: Instant, m: &Model, key: u64, n: u32) -> Vec<Duration> {
        let mut s = Schedule::new(t0, m, 0, key);
        (0..n).map(|_| s.next_deadline() - t0).collect()
    }

    #[test]
    fn exact_without_jitter() {
        let t0 = Instant::now();
        let got = offsets(t0, &model(100, 10, 0.0), 1, 20);
        let want: Vec<_> = (0..20).map(|i| Duration::from_millis(100 + 10 * i)).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn prompt_tokens_lengthen_the_ttft() {
        let t0 = Instant::now();
        let m = Model::new(&ModelProfile {
            ttft: Duration::from_millis(100),
            ttft_per_prompt_token: Duration::from_micros(50),
            ..ModelProfile::default()
        });
        let mut s = Schedule::new(t0, &m, 2000, 1);
        assert_eq!(s.next_deadline() - t0, Duration::from_millis(200));
    }

    #[test]
    fn the_step_grows_with_the_batch() {
        let t0 = Instant::now();
        let m = Model::new(&ModelProfile {
            ttft: Duration::from_millis(10),
            itl: Duration::from_millis(10),
            itl_per_sequence: Duration::from_millis(1),
            ..ModelProfile::default()
        });
        let _batch = m.pool.try_admit(6).expect("unlimited");
        let mut s = Schedule::new(t0, &m, 0, 1);
        let first = s.next_deadline();
        // 5 other sequences: 10 ms + 5 × 1 ms.
        assert_eq!(s.next_deadline() - first, Duration::from_millis(15));
    }

    #[test]
    fn jitter_varies_but_is_deterministic_per_key() {
        let t0 = Instant::now();
        let m = model(100, 10, 0.3);
        let a = offsets(t0, &m, 42, 50);
        assert_eq!(a, offsets(t0, &m, 42, 50));
        assert_ne!(a, offsets(t0, &m, 43, 50));
        let gaps: Vec<_> = a.windows(2).map(|w| w[1] - w[0]).collect();
        assert!(gaps.iter().any(|g| *g != gaps[0]), "gaps all equal: {gaps:?}");
        assert!(a.windows(2).all(|w| w[1] >= w[0]), "deadlines go back in time");
        let mean = gaps.iter().sum::<Duration>() / gaps.len() as u32;
        assert!(mean > Duration::from_millis(7) && mean < Duration::from_millis(13), "{mean:?}");
    }

    #[test]
    fn absurd_jitter_is_capped_not_a_panic() {
        let t0 = Instant::now();
        let got = offsets(t0, &model(1, 1, 1e300), 5, 10);
        assert!(got.iter().all(|d| *d <= MAX_DURATION * 10));
    }
}
