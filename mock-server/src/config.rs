//! What one simulator instance simulates: a profile per model, which models exist, who
//! may call. Plain data with public fields, so an embedding program (`llmload run`) can
//! build it by hand; `profile` builds it from TOML.
//!
//! `validate` is the one place where the limits of the simulation are checked, so that a
//! hand-built configuration and one read from a file are refused for the same reasons.

use std::collections::BTreeMap;
use std::time::Duration;

/// Longest duration a profile may ask for, and the cap on any sampled (jittered)
/// duration. It only exists to keep deadline arithmetic far from overflow; no realistic
/// profile comes near it.
pub(crate) const MAX_DURATION: Duration = Duration::from_secs(3600);

/// Largest natural output length a profile may set, and the largest `max_tokens` a
/// request may ask for: like a model's output limit.
pub(crate) const MAX_OUTPUT_TOKENS: u32 = 131_072;

/// The length of an embedding when the profile sets none: text-embedding-3-small's.
pub const DEFAULT_EMBEDDING_DIMENSIONS: u32 = 1536;

/// A model's context window when its profile sets none: the size of GPT-4's first one.
pub const DEFAULT_CONTEXT_WINDOW: u32 = 8192;

/// A lognormal's p99 is at most e^(z99²/2) ≈ 14.96 times its mean (beyond that no
/// lognormal has both); profiles are held a little below.
pub(crate) const MAX_P99_OVER_MEAN: f64 = 14.9;

/// How inter-token gaps are drawn.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum ItlDistribution {
    /// `itl * max(0, 1 + jitter * Z)`, Z ~ N(0,1); exact when `jitter` is 0.
    #[default]
    Normal,
    /// Always `itl`, whatever `jitter` is (which then only spreads the TTFT).
    Constant,
    /// Lognormal with mean `itl` and 99th percentile `p99` (`itl < p99 <= 14.9 × itl`):
    /// mostly steady, with the long right tail real servers show.
    LogNormal { p99: Duration },
    /// Drawn from these quantiles (`(q, gap)`: q from 0 to 1, both
    /// increasing), linearly between them: any measured shape, as
    /// `llmload calibrate` fits it. `itl` is then their mean.
    Empirical(std::sync::Arc<[(f64, Duration)]>),
}

impl ItlDistribution {
    /// The mean of an empirical distribution: each segment's midpoint
    /// weighted by its share of probability.
    pub fn empirical_mean(points: &[(f64, Duration)]) -> Duration {
        let secs: f64 = points
            .windows(2)
            .map(|w| (w[1].0 - w[0].0) * (w[0].1.as_secs_f64() + w[1].1.as_secs_f64()) / 2.0)
            .sum();
        Duration::from_secs_f64(secs.max(0.0))
    }
}

/// How many tokens a sequence would produce if `max_tokens` did not stop it first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutputLength {
    /// Every sequence runs to `max_tokens` (finish_reason `length`).
    #[default]
    MaxTokens,
    /// Every sequence ends after this many tokens (finish_reason `stop`) unless
    /// `max_tokens` is smaller.
    Constant(u32),
    /// Lognormal with this mean and 99th percentile, rounded, at least 1.
    LogNormal { mean: u32, p99: u32 },
}

/// Requests and tokens per minute allowed per API key and model, like the real API's
/// token buckets. `None` = unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RateLimits {
    pub requests_per_minute: Option<u32>,
    /// Tokens counted as the API estimates them before generating:
    /// prompt tokens + max_tokens × max(n, best_of) for each prompt.
    pub tokens_per_minute: Option<u64>,
}

/// Probabilities, per request, of each injected fault. They are exclusive (a request gets
/// at most one) and drawn from the seed, so a run is reproducible.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Faults {
    /// 500 with the API's `server_error` JSON.
    pub http_500: f64,
    /// 503 with the API's overloaded `server_error` JSON.
    pub http_503: f64,
    /// 429 with the API's `rate_limit_exceeded` JSON and `retry-after: 1`,
    /// whatever the rate limits say: a target for retry logic.
    pub http_429: f64,
    /// The connection is reset (RST) before any response header is sent.
    pub reset: f64,
    /// The response starts normally and the connection is cut partway through the body:
    /// a stream ends without `[DONE]`, a JSON body is truncated.
    pub cut: f64,
    /// Nothing is sent for `slow_headers_delay`, then the request is handled normally.
    pub slow_headers: f64,
    pub slow_headers_delay: Duration,
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            http_500: 0.0,
            http_503: 0.0,
            http_429: 0.0,
            reset: 0.0,
            cut: 0.0,
            slow_headers: 0.0,
            slow_headers_delay: Duration::from_secs(5),
        }
    }
}

impl Faults {
    pub(crate) fn total(&self) -> f64 {
        self.http_500 + self.http_503 + self.http_429 + self.reset + self.cut + self.slow_headers
    }
}

/// Latency, capacity, limits and faults of one simulated model.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelProfile {
    /// Tokens a prompt and its completion may take together (prompt tokens +
    /// `max_tokens`, per sequence); a request over it gets the API's 400
    /// `context_length_exceeded`. At least 1.
    pub context_window: u32,
    /// Time from arrival (or from getting a slot, when the request had to wait) to the
    /// first content token, before the per-prompt-token part.
    pub ttft: Duration,
    /// Mean inter-token latency of a sequence running alone.
    pub itl: Duration,
    /// 0.0 = exact; otherwise the TTFT (and the ITL when `itl_distribution` is
    /// `Normal`) is d * max(0, 1 + jitter * Z), Z ~ N(0,1), seeded per request.
    pub jitter: f64,
    /// Added to the TTFT for every prompt token (prefill).
    pub ttft_per_prompt_token: Duration,
    pub itl_distribution: ItlDistribution,
    pub output_length: OutputLength,
    /// Sequences generated at once (continuous batching); a request waits, first come
    /// first served, until its sequences fit. `None` = unlimited.
    pub max_sequences: Option<u32>,
    /// Added to every inter-token gap for each other sequence being generated at that
    /// moment: a decode step processes the whole batch, so it grows with it.
    pub itl_per_sequence: Duration,
    pub rate_limits: RateLimits,
    pub faults: Faults,
    /// Tokens of prompt prefixes kept for reuse (`prefix.rs`): a prompt
    /// whose beginning is cached pays `ttft_per_prompt_token` only for the
    /// rest, and its usage says how many were cached. 0 = no cache.
    pub prefix_cache_tokens: u64,
    /// The length of the vectors `/v1/embeddings` returns for this model.
    pub embedding_dimensions: u32,
    /// Tokens of reasoning each sequence generates before its answer, at the same
    /// pace (chat streams them as `delta.reasoning_content`); `max_tokens` caps
    /// reasoning and answer together, and usage bills both. 0 = none.
    pub reasoning_tokens: u32,
}

impl Default for ModelProfile {
    /// Round, clearly synthetic numbers: nobody should mistake them for a measurement.
    /// Beyond `ttft`, `itl`, `jitter` and an 8192-token context window everything is
    /// off: no prefill cost, runs to `max_tokens`, unlimited capacity, no limits, no
    /// faults.
    fn default() -> Self {
        Self {
            context_window: DEFAULT_CONTEXT_WINDOW,
            ttft: Duration::from_millis(200),
            itl: Duration::from_millis(20),
            jitter: 0.0,
            ttft_per_prompt_token: Duration::ZERO,
            itl_distribution: ItlDistribution::Normal,
            output_length: OutputLength::MaxTokens,
            max_sequences: None,
            itl_per_sequence: Duration::ZERO,
            rate_limits: RateLimits::default(),
            faults: Faults::default(),
            prefix_cache_tokens: 0,
            embedding_dimensions: DEFAULT_EMBEDDING_DIMENSIONS,
            reasoning_tokens: 0,
        }
    }
}

/// A failed check: the profile key at fault (as written in a profile table, e.g.
/// `["faults", "reset"]`) and what is allowed.
pub(crate) struct Invalid {
    pub(crate) key: &'static [&'static str],
    pub(crate) message: String,
}

fn invalid(key: &'static [&'static str], message: String) -> Result<(), Invalid> {
    Err(Invalid { key, message })
}

impl ModelProfile {
    /// Checks that the profile can be simulated. [`serve`](crate::serve) refuses a
    /// configuration that fails this.
    pub fn validate(&self) -> Result<(), String> {
        self.check().map_err(|e| format!("{}: {}", e.key.join("."), e.message))
    }

    pub(crate) fn check(&self) -> Result<(), Invalid> {
        for (key, d) in [
            (&["ttft"][..], self.ttft),
            (&["itl"], self.itl),
            (&["ttft_per_prompt_token"], self.ttft_per_prompt_token),
            (&["itl_per_sequence"], self.itl_per_sequence),
            (&["faults", "slow_headers_delay"], self.faults.slow_headers_delay),
        ] {
            if d > MAX_DURATION {
                invalid(key, format!("{d:?} is longer than the limit of {MAX_DURATION:?}"))?;
            }
        }
        if !self.jitter.is_finite() || self.jitter < 0.0 {
            invalid(&["jitter"], format!("must be a finite number >= 0, got {}", self.jitter))?;
        }
        if let ItlDistribution::LogNormal { p99 } = self.itl_distribution {
            let ratio = p99.as_secs_f64() / self.itl.as_secs_f64();
            // Also false for itl = 0 (ratio NaN or infinite).
            if !(ratio > 1.0 && ratio <= MAX_P99_OVER_MEAN) {
                invalid(
                    &["itl_p99"],
                    format!(
                        "{p99:?} must be above the mean itl ({:?}) and at most {MAX_P99_OVER_MEAN} times it",
                        self.itl
                    ),
                )?;
            }
        }
        match self.output_length {
            OutputLength::MaxTokens => {}
            OutputLength::Constant(n) | OutputLength::LogNormal { mean: n, .. }
                if n == 0 || n > MAX_OUTPUT_TOKENS =>
            {
                invalid(&["output_tokens"], format!("must be 1..={MAX_OUTPUT_TOKENS}, got {n}"))?;
            }
            OutputLength::Constant(_) => {}
            OutputLength::LogNormal { mean, p99 } => {
                let ratio = f64::from(p99) / f64::from(mean);
                if !(ratio > 1.0 && ratio <= MAX_P99_OVER_MEAN) {
                    invalid(
                        &["output_tokens_p99"],
                        format!(
                            "{p99} must be above output_tokens ({mean}) and at most {MAX_P99_OVER_MEAN} times it"
                        ),
                    )?;
                }
            }
        }
        if self.context_window == 0 {
            invalid(&["context_window"], "must be at least 1 (tokens of prompt and completion)".into())?;
        }
        if self.max_sequences == Some(0) {
            invalid(&["max_sequences"], "must be at least 1 (leave it out for unlimited)".into())?;
        }
        if self.rate_limits.requests_per_minute == Some(0) {
            invalid(
                &["rate_limits", "requests_per_minute"],
                "must be at least 1 (leave it out for no limit)".into(),
            )?;
        }
        if self.rate_limits.tokens_per_minute == Some(0) {
            invalid(
                &["rate_limits", "tokens_per_minute"],
                "must be at least 1 (leave it out for no limit)".into(),
            )?;
        }
        let f = &self.faults;
        for (key, p) in [
            (&["faults", "http_500"][..], f.http_500),
            (&["faults", "http_503"], f.http_503),
            (&["faults", "http_429"], f.http_429),
            (&["faults", "reset"], f.reset),
            (&["faults", "cut"], f.cut),
            (&["faults", "slow_headers"], f.slow_headers),
        ] {
            if !(0.0..=1.0).contains(&p) {
                invalid(key, format!("must be a probability from 0 to 1, got {p}"))?;
            }
        }
        if f.total() > 1.0 {
            invalid(&["faults"], format!("the probabilities add up to {}, more than 1", f.total()))?;
        }
        Ok(())
    }
}

/// Configuration of one simulator instance.
#[derive(Debug, Clone, PartialEq)]
pub struct SimConfig {
    /// Used for any model not in `models` (when `serve_any_model` lets it in).
    pub default_profile: ModelProfile,
    /// Models listed by `/v1/models`, each with its own profile, capacity and limits.
    pub models: BTreeMap<String, ModelProfile>,
    /// With the order in which requests arrive, determines every output text, every
    /// sampled duration and length, and every injected fault.
    pub seed: u64,
    /// Whether a model name not in `models` is served with `default_profile` (all such
    /// names share one capacity pool) or gets 404 `model_not_found`. Default: true.
    pub serve_any_model: bool,
    /// Accepted API keys (`Authorization: Bearer KEY`); empty = any key, or none.
    pub api_keys: Vec<String>,
}

impl Default for SimConfig {
    /// Default profile for every model name, any key accepted.
    fn default() -> Self {
        Self {
            default_profile: ModelProfile::default(),
            models: BTreeMap::new(),
            seed: 0,
            serve_any_model: true,
            api_keys: Vec::new(),
        }
    }
}

impl SimConfig {
    pub(crate) fn validate(&self) -> Result<(), String> {
        self.default_profile.validate().map_err(|e| format!("default profile: {e}"))?;
        for (name, profile) in &self.models {
            profile.validate().map_err(|e| format!("model {name:?}: {e}"))?;
        }
        if !self.serve_any_model && self.models.is_empty() {
            return Err("serve_any_model is false but no model is listed: nothing could be served".into());
        }
        Ok(())
    }
}
