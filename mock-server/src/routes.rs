//! The routes, and the path of a request from arrival to response.
//!
//! A generation request goes: arrival time taken → body parsed into a `Generation` →
//! admitted (a sequence number, which with the seed makes it reproducible, and a token
//! schedule) → answered, streamed or whole. Rate limits, fault injection and a capacity
//! model are steps of admission: they will reject the request or change its schedule,
//! and nothing after them needs to know.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Serialize;
use tokio::time::Instant;

use crate::SimConfig;
use crate::openai::{self, ApiError, Endpoint, Meta, Usage};
use crate::stream::{Schedule, sse_body};
use crate::text;

/// Larger than any prompt a real model accepts, small enough that a bad client cannot
/// make us buffer without bound.
const MAX_BODY_BYTES: usize = 32 << 20;

/// Listed when no model is configured, so that `/v1/models` is never empty.
const DEFAULT_MODEL: &str = "sim-default";

struct Sim {
    config: SimConfig,
    /// Counts admitted requests; with the seed it identifies each one.
    next_seq: AtomicU64,
    /// Unix time the server started, reported as the models' creation time.
    started: u64,
}

pub(crate) fn router(config: SimConfig) -> Router {
    let sim = Sim { config, next_seq: AtomicU64::new(0), started: unix_now() };
    Router::new()
        .route("/v1/models", get(list_models))
        .route("/v1/chat/completions", post(chat_completions))
        .route("/v1/completions", post(completions))
        .fallback(unknown_route)
        .method_not_allowed_fallback(wrong_method)
        .with_state(Arc::new(sim))
}

async fn chat_completions(State(sim): State<Arc<Sim>>, req: Request) -> Response {
    // Before anything else, so that reading the body counts as server time.
    let arrival = Instant::now();
    sim.generate(Endpoint::Chat, arrival, req).await
}

async fn completions(State(sim): State<Arc<Sim>>, req: Request) -> Response {
    let arrival = Instant::now();
    sim.generate(Endpoint::Completions, arrival, req).await
}

impl Sim {
    async fn generate(&self, endpoint: Endpoint, arrival: Instant, req: Request) -> Response {
        let generation = match read_body(req).await.and_then(|body| openai::parse(endpoint, &body)) {
            Ok(generation) => generation,
            Err(e) => return e.into_response(),
        };

        let seq = self.next_seq.fetch_add(1, Ordering::Relaxed);
        let key = text::request_key(self.config.seed, seq);
        let profile = self.config.profile(&generation.model);
        let schedule = Schedule::new(arrival, profile, key, generation.max_tokens);

        let id = format!("{}{key:016x}", openai::id_prefix(endpoint));
        let meta = Meta { id: &id, created: unix_now(), model: &generation.model };
        let completion_tokens = u64::from(generation.max_tokens);
        let usage = Usage {
            prompt_tokens: generation.prompt_tokens,
            completion_tokens,
            total_tokens: generation.prompt_tokens + completion_tokens,
        };

        if generation.stream {
            let frames = openai::sse_frames(endpoint, &meta, usage, generation.include_usage);
            let headers = [(header::CONTENT_TYPE, "text/event-stream"), (header::CACHE_CONTROL, "no-cache")];
            (headers, sse_body(frames, schedule, key)).into_response()
        } else {
            if let Some(done) = schedule.last_deadline() {
                tokio::time::sleep_until(done).await;
            }
            let text = text::render(key, generation.max_tokens);
            openai::response(endpoint, &meta, &text, usage)
        }
    }
}

async fn read_body(req: Request) -> Result<bytes::Bytes, ApiError> {
    axum::body::to_bytes(req.into_body(), MAX_BODY_BYTES)
        .await
        .map_err(|e| ApiError::invalid(format!("could not read the request body: {e}"), None, None))
}

#[derive(Serialize)]
struct ModelList<'a> {
    object: &'static str,
    data: Vec<ModelEntry<'a>>,
}

#[derive(Serialize)]
struct ModelEntry<'a> {
    id: &'a str,
    object: &'static str,
    created: u64,
    owned_by: &'static str,
}

async fn list_models(State(sim): State<Arc<Sim>>) -> Response {
    let mut names: Vec<&str> = sim.config.models.keys().map(String::as_str).collect();
    if names.is_empty() {
        names.push(DEFAULT_MODEL);
    }
    let list = ModelList {
        object: "list",
        data: names
            .into_iter()
            .map(|id| ModelEntry { id, object: "model", created: sim.started, owned_by: "llmload-sim" })
            .collect(),
    };
    openai::json_response(StatusCode::OK, &list)
}

// The real API answers unknown routes with its error JSON too; clients parse it.
async fn unknown_route(method: Method, uri: Uri) -> Response {
    invalid_url(StatusCode::NOT_FOUND, &method, &uri)
}

async fn wrong_method(method: Method, uri: Uri) -> Response {
    invalid_url(StatusCode::METHOD_NOT_ALLOWED, &method, &uri)
}

fn invalid_url(status: StatusCode, method: &Method, uri: &Uri) -> Response {
    let e = ApiError::invalid(format!("Invalid URL ({method} {})", uri.path()), None, None);
    let mut response = e.into_response();
    *response.status_mut() = status;
    response
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}
