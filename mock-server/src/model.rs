//! A served model at run time: its profile compiled into samplers, and the state it
//! shares between requests (the batch and queue, the rate-limit buckets).

use std::sync::Arc;
use std::time::Duration;

use crate::capacity::Pool;
use crate::config::{Faults, ModelProfile};
use crate::prefix::PrefixCache;
use crate::ratelimit::RateLimiter;
use crate::sample::{DurationDist, LengthDist};

pub(crate) struct Model {
    /// Tokens a prompt and its completion may take together.
    pub(crate) context_window: u32,
    pub(crate) ttft: DurationDist,
    pub(crate) ttft_per_prompt_token: Duration,
    pub(crate) itl: DurationDist,
    pub(crate) itl_per_sequence: Duration,
    pub(crate) length: LengthDist,
    pub(crate) pool: Arc<Pool>,
    pub(crate) limiter: Option<RateLimiter>,
    pub(crate) faults: Faults,
    pub(crate) prefix: Option<PrefixCache>,
    /// The length of the vectors `/v1/embeddings` returns (`dimensions` may ask for fewer).
    pub(crate) embedding_dimensions: u32,
    /// Reasoning tokens before each sequence's answer.
    pub(crate) reasoning_tokens: u32,
}

impl Model {
    pub(crate) fn new(p: &ModelProfile) -> Self {
        Self {
            context_window: p.context_window,
            ttft: DurationDist::normal(p.ttft, p.jitter),
            ttft_per_prompt_token: p.ttft_per_prompt_token,
            itl: DurationDist::itl(p.itl, p.jitter, &p.itl_distribution),
            itl_per_sequence: p.itl_per_sequence,
            length: LengthDist::new(p.output_length),
            pool: Pool::new(p.max_sequences),
            limiter: RateLimiter::new(p.rate_limits),
            faults: p.faults,
            prefix: PrefixCache::new(p.prefix_cache_tokens),
            embedding_dimensions: p.embedding_dimensions,
            reasoning_tokens: p.reasoning_tokens,
        }
    }

    /// The prefill part of the TTFT: linear in prompt tokens, capped like any duration.
    pub(crate) fn prefill(&self, prompt_tokens: u64) -> Duration {
        let nanos = self.ttft_per_prompt_token.as_nanos().saturating_mul(u128::from(prompt_tokens));
        let cap = crate::config::MAX_DURATION;
        if nanos >= cap.as_nanos() { cap } else { Duration::from_nanos(nanos as u64) }
    }
}
