//! llmload-mock: an OpenAI-compatible LLM API simulator.
//!
//! A load test needs a target whose behaviour is known, so that the harness itself can be
//! checked and a first run needs no API key and no network. wiremock answers whole
//! responses after one delay; this server paces every stream token by token, at the
//! times a [`ModelProfile`] says, with absolute deadlines so that long streams do not
//! drift. It models what shapes latency, cost and failure in the real API: TTFT that
//! grows with the prompt, a finite batch that slows and then queues under load, `n` and
//! `best_of` multiplying the work, stop sequences and natural lengths ending it early,
//! a context window, rate limits, API keys, and injected faults; and it refuses, with the
//! API's error JSON, whatever the API would refuse.
//!
//! Layout: `config` is the configuration ([`SimConfig`], [`ModelProfile`]) and
//! [`profile`] its TOML form; `standalone` is the server as a program ([`Args`],
//! [`run_standalone`]); `server` is the accept loop and shutdown; `routes` is the path
//! of a request from arrival to response; `openai` is the wire format. Behind them:
//! `model` (a profile at run time), `capacity` (batch and queue), `ratelimit`, `fault`,
//! `plan` (what each sequence generates), `stream` (the schedule and the bodies),
//! `sample` (distributions) and `text` (the synthetic words). `lateness` measures the
//! server's own pacing error, for benchmarks.

mod capacity;
mod clock;
mod config;
mod embeddings;
mod fault;
#[doc(hidden)]
pub mod lateness;
mod model;
mod openai;
mod plan;
pub mod prefix;
pub mod profile;
mod ratelimit;
mod routes;
mod sample;
mod server;
mod standalone;
mod stream;
mod text;

use std::future::Future;

pub use config::{
    DEFAULT_CONTEXT_WINDOW, Faults, ItlDistribution, ModelProfile, OutputLength, RateLimits, SimConfig,
};
pub use profile::{ProfileError, ProfileFile};
pub use standalone::{Args, config as standalone_config, run_standalone, serve_configured, stopped};

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
