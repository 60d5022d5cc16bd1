//! llmload-mock: an OpenAI-compatible LLM API simulator.
//!
//! A load test needs a target whose latency is known, so that the harness itself can be
//! checked and a first run needs no API key and no network. wiremock answers whole
//! responses after one delay; this server paces every stream token by token, at the
//! times a [`ModelProfile`] says, with absolute deadlines so that long streams do not
//! drift.
//!
//! Layout: this file holds the configuration and [`serve`]; `server` is the accept loop
//! and shutdown; `routes` turns a request into a generation; `openai` is the wire format;
//! `stream` is the token schedule and the SSE body; `text` is the synthetic text.
//!
//! The model of a request is deliberately simple for now (a fixed time to first token,
//! then one token per inter-token gap); a capacity model, rate limits and fault injection
//! belong in `routes` (admission) and `stream` (the schedule).

mod openai;
mod routes;
mod server;
mod stream;
mod text;

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

/// Longest time to first token or inter-token latency a profile may ask for, and the cap
/// on any sampled (jittered) duration. It only exists to keep deadline arithmetic far from
/// overflow; no realistic profile comes near it.
const MAX_DURATION: Duration = Duration::from_secs(3600);

/// Latency profile of one simulated model.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelProfile {
    /// Time from request arrival to the first content token.
    pub ttft: Duration,
    /// Inter-token latency between consecutive content tokens.
    pub itl: Duration,
    /// 0.0 = exact; otherwise each sampled duration d' = d * max(0, 1 + jitter * Z),
    /// Z ~ N(0,1), from an RNG seeded per request.
    pub jitter: f64,
}

impl Default for ModelProfile {
    /// Round, clearly synthetic numbers: nobody should mistake them for a measurement.
    fn default() -> Self {
        Self { ttft: Duration::from_millis(200), itl: Duration::from_millis(20), jitter: 0.0 }
    }
}

impl ModelProfile {
    /// Checks that the profile can be simulated: durations of at most one hour, and a
    /// finite, non-negative jitter. [`serve`] refuses a configuration that fails this.
    pub fn validate(&self) -> Result<(), String> {
        if self.ttft > MAX_DURATION {
            return Err(format!("ttft {:?} is longer than {MAX_DURATION:?}", self.ttft));
        }
        if self.itl > MAX_DURATION {
            return Err(format!("itl {:?} is longer than {MAX_DURATION:?}", self.itl));
        }
        if !self.jitter.is_finite() || self.jitter < 0.0 {
            return Err(format!("jitter must be a finite number >= 0, got {}", self.jitter));
        }
        Ok(())
    }
}

/// Configuration of one simulator instance.
#[derive(Debug, Clone, Default)]
pub struct SimConfig {
    /// Used for any model not in `models`.
    pub default_profile: ModelProfile,
    /// Models listed by `/v1/models`, each with its own profile.
    pub models: BTreeMap<String, ModelProfile>,
    /// With the order in which requests arrive, determines every output text and every
    /// jittered duration.
    pub seed: u64,
}

impl SimConfig {
    fn profile(&self, model: &str) -> &ModelProfile {
        self.models.get(model).unwrap_or(&self.default_profile)
    }

    fn validate(&self) -> Result<(), String> {
        self.default_profile.validate().map_err(|e| format!("default profile: {e}"))?;
        for (name, profile) in &self.models {
            profile.validate().map_err(|e| format!("model {name:?}: {e}"))?;
        }
        Ok(())
    }
}

/// Serves the OpenAI-compatible API on `listener` until `shutdown` completes.
///
/// On shutdown it stops accepting, closes idle connections, gives in-flight responses a
/// short grace period (one second) and then cuts whatever is left, so it never hangs on a
/// long stream. Fails at once, with `InvalidInput`, if a profile does not validate.
pub async fn serve(
    listener: tokio::net::TcpListener,
    config: SimConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    config.validate().map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    server::run(listener, routes::router(config), shutdown).await;
    Ok(())
}
