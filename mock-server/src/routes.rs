//! The routes, and the path of a request from arrival to response.
//!
//! A generation request goes, in the order the real API's layers would see it:
//! arrival time taken → API key checked (401) → body read (413) and parsed (400) → model
//! found (404) → prompt and completion checked against the model's context window (400)
//! → a sequence number, which with the seed fixes everything random about the request →
//! rate limits (429) → injected fault, if any → a place in the model's batch, waiting if
//! it is full → a plan of what each sequence generates → answered, streamed or whole, at
//! the times the schedule gives.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri, Version, header, request};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use serde::Serialize;
use tokio::time::Instant;

use crate::SimConfig;
use crate::embeddings;
use crate::fault::{self, Fault};
use crate::model::Model;
use crate::openai::{self, ApiError, ChoiceText, Endpoint, Meta, PromptDetails};
use crate::plan::Plan;
use crate::server::ConnControl;
use crate::stream::{Schedule, generate_whole, sse_body, truncated_body};
use crate::text;

/// Larger than any prompt a real model accepts, small enough that a bad client cannot
/// make us buffer without bound.
const MAX_BODY_BYTES: usize = 32 << 20;

/// Listed when no model is configured, so that `/v1/models` is never empty.
const DEFAULT_MODEL: &str = "sim-default";

const ORGANIZATION: HeaderName = HeaderName::from_static("openai-organization");
const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
const RETRY_AFTER_MS: HeaderName = HeaderName::from_static("retry-after-ms");

struct Sim {
    models: HashMap<String, Arc<Model>>,
    /// Serves every name not in `models`, when the configuration allows that.
    fallback: Option<Arc<Model>>,
    /// Empty: any key, or none, is accepted.
    api_keys: HashSet<String>,
    seed: u64,
    /// Counts requests that got as far as a sequence number; with the seed it
    /// identifies each one.
    next_seq: AtomicU64,
    /// Unix time the server started, reported as the models' creation time.
    started: u64,
}

pub(crate) fn router(config: SimConfig) -> Router {
    let models = config.models.iter().map(|(name, p)| (name.clone(), Arc::new(Model::new(p)))).collect();
    let sim = Sim {
        models,
        fallback: config.serve_any_model.then(|| Arc::new(Model::new(&config.default_profile))),
        api_keys: config.api_keys.into_iter().collect(),
        seed: config.seed,
        next_seq: AtomicU64::new(0),
        started: unix_now(),
    };
    Router::new()
        .route("/health", get(health))
        .route("/v1/models", get(list_models))
        .route("/v1/chat/completions", post(chat_completions))
        .route("/v1/completions", post(completions))
        .route("/v1/embeddings", post(embeddings))
        .route("/v1/responses", post(responses))
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

async fn responses(State(sim): State<Arc<Sim>>, req: Request) -> Response {
    let arrival = Instant::now();
    sim.generate(Endpoint::Responses, arrival, req).await
}

async fn embeddings(State(sim): State<Arc<Sim>>, req: Request) -> Response {
    let arrival = Instant::now();
    let (parts, body) = req.into_parts();
    let response = match sim.embed(arrival, &parts, body).await {
        Ok(response) | Err(response) => response,
    };
    billed_to(&parts, response)
}

/// The API answers with the organization the request was billed to.
fn billed_to(parts: &request::Parts, mut response: Response) -> Response {
    if let Some(org) = parts.headers.get(&ORGANIZATION) {
        response.headers_mut().insert(ORGANIZATION, org.clone());
    }
    response
}

impl Sim {
    /// `/v1/embeddings`, through the same layers as a generation: key, body, model,
    /// context window, sequence number, rate limits, fault, a slot; then the answer at
    /// the model's base latency plus its prefill of every input token.
    async fn embed(
        &self,
        arrival: Instant,
        parts: &request::Parts,
        body: Body,
    ) -> Result<Response, Response> {
        let api_key = self.authenticate(&parts.headers)?;
        let body = read_body(parts.version, &parts.headers, body).await?;
        let request = embeddings::parse(&body)?;
        drop(body);
        let model = self.model(&request.model)?;
        let window = u64::from(model.context_window);
        if let Some(long) = request.inputs.iter().find(|i| i.tokens > window) {
            let message = format!(
                "This model's maximum context length is {window} tokens, however you requested {} tokens in an \
                 input. Please reduce your input.",
                long.tokens
            );
            return Err(
                ApiError::invalid(message, Some("input"), Some("context_length_exceeded")).into_response()
            );
        }
        let dims = request.dimensions.unwrap_or(model.embedding_dimensions);
        if dims > model.embedding_dimensions {
            let message =
                format!("This model's embeddings have at most {} dimensions.", model.embedding_dimensions);
            return Err(ApiError::invalid(message, Some("dimensions"), None).into_response());
        }
        let (key, mut headers) = self.number();
        if let Some(too_many) = over_rate_limit(&model, api_key, request.tokens(), &mut headers) {
            return Err(too_many);
        }
        let (mut start, cut) = early_fault(&model, key, parts, &mut headers, arrival).await?;
        let slots = match model.pool.try_admit(1) {
            Some(slots) => slots,
            None => {
                let slots = model.pool.admit(1).await;
                start = Instant::now();
                slots
            }
        };
        let mut rng = <rand::rngs::Xoshiro256PlusPlus as rand::SeedableRng>::seed_from_u64(key);
        let due = start + model.ttft.sample(&mut rng) + model.prefill(request.tokens());
        crate::clock::sleep_until(due).await;
        drop(slots);
        let json = embeddings::response_json(&request, dims);
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        let body = if cut { truncated_body(json) } else { Body::from(json) };
        Ok((headers, body).into_response())
    }

    async fn generate(&self, endpoint: Endpoint, arrival: Instant, req: Request) -> Response {
        let (parts, body) = req.into_parts();
        let response = match self.admit_and_answer(endpoint, arrival, &parts, body).await {
            Ok(response) | Err(response) => response,
        };
        billed_to(&parts, response)
    }

    /// Everything from the API key to the response; an early answer (an error, a 429, a
    /// fault) is the `Err`.
    async fn admit_and_answer(
        &self,
        endpoint: Endpoint,
        arrival: Instant,
        parts: &request::Parts,
        body: Body,
    ) -> Result<Response, Response> {
        let api_key = self.authenticate(&parts.headers)?;
        let body = read_body(parts.version, &parts.headers, body).await?;
        let mut generation = openai::parse(endpoint, &body)?;
        // Not held through a generation that may last minutes.
        drop(body);
        let model = self.model(&generation.model)?;
        // Before the sequence number, like every refusal of the request itself.
        generation.fit_context(endpoint, model.context_window)?;

        let (key, mut headers) = self.number();
        if let Some(too_many) = over_rate_limit(&model, api_key, generation.estimated_tokens(), &mut headers)
        {
            return Err(too_many);
        }

        let (mut start, cut) = match fault::draw(&model.faults, key) {
            Fault::Cut(fraction) => (arrival, Some(fraction)),
            _ => (early_fault(&model, key, parts, &mut headers, arrival).await?.0, None),
        };

        let slots = match model.pool.try_admit(generation.sequences()) {
            Some(slots) => slots,
            None => {
                let slots = model.pool.admit(generation.sequences()).await;
                // Time in the queue is TTFT the client sees; the model's own starts now.
                start = Instant::now();
                slots
            }
        };
        let mut plan = Plan::new(&generation, &model, key);
        // Admitted: its prefix is looked up, and its prefill is what is not cached.
        let cached = model.prefix.as_ref().map(|c| c.admit(&generation.blocks, generation.prompt_tokens()));
        plan.usage.prompt_tokens_details = cached.map(|cached_tokens| PromptDetails { cached_tokens });
        let prefill = generation.prompt_tokens() - cached.unwrap_or(0);
        let schedule = Schedule::new(start, &model, prefill, key);
        let id = format!("{}{key:016x}", openai::id_prefix(endpoint));
        let meta = Meta { id: &id, created: unix_now(), model: &generation.model };
        let cut_after = cut.map(|fraction| fault::cut_after(fraction, plan.steps()));

        if generation.stream {
            let frames = match (endpoint, plan.returned().next()) {
                (Endpoint::Responses, Some(s)) => {
                    let text = Plan::answer_text(s);
                    openai::responses::frames(&meta, &text, s.tokens - s.reasoning, s.finish, plan.usage)
                }
                _ => {
                    let finishes: Vec<&'static str> = plan.returned().map(|s| s.finish).collect();
                    let chat = endpoint == Endpoint::Chat;
                    openai::sse_frames(chat, &meta, &finishes, plan.usage, generation.include_usage)
                }
            };
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            let body = sse_body(frames, &plan, schedule, slots, cut_after);
            return Ok((headers, body).into_response());
        }

        generate_whole(schedule, &plan, slots).await;
        let choices: Vec<ChoiceText> = plan
            .returned()
            .map(|s| ChoiceText {
                text: Plan::answer_text(s),
                reasoning: Plan::reasoning_text(s),
                finish_reason: s.finish,
            })
            .collect();
        let json = openai::response_json(endpoint, &meta, &choices, plan.usage);
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        let body = if cut_after.is_some() { truncated_body(json) } else { Body::from(json) };
        Ok((headers, body).into_response())
    }

    /// The request's sequence number, which with the seed fixes everything random
    /// about it, as its key; and its response headers so far (its request id).
    fn number(&self) -> (u64, HeaderMap) {
        let seq = self.next_seq.fetch_add(1, Ordering::Relaxed);
        let key = text::request_key(self.seed, seq);
        let mut headers = HeaderMap::new();
        if let Ok(id) = HeaderValue::from_str(&format!("req_{key:016x}")) {
            headers.insert(REQUEST_ID, id);
        }
        (key, headers)
    }

    /// The key to count the request against, or 401.
    fn authenticate<'h>(&self, headers: &'h HeaderMap) -> Result<&'h str, ApiError> {
        let key = bearer(headers);
        if self.api_keys.is_empty() || key.is_some_and(|k| self.api_keys.contains(k)) {
            return Ok(key.unwrap_or(""));
        }
        Err(ApiError::invalid_api_key(key))
    }

    fn model(&self, name: &str) -> Result<Arc<Model>, ApiError> {
        match self.models.get(name).or(self.fallback.as_ref()) {
            Some(model) => Ok(model.clone()),
            None => Err(ApiError::model_not_found(name)),
        }
    }
}

/// The injected fault drawn for the request `key`, if it answers early (500, 503, 429;
/// a reset never answers); else when the model's work starts (after slow headers) and
/// whether the response is to be cut.
async fn early_fault(
    model: &Model,
    key: u64,
    parts: &request::Parts,
    headers: &mut HeaderMap,
    arrival: Instant,
) -> Result<(Instant, bool), Response> {
    let error = match fault::draw(&model.faults, key) {
        Fault::None => return Ok((arrival, false)),
        Fault::Cut(_) => return Ok((arrival, true)),
        Fault::SlowHeaders(delay) => {
            tokio::time::sleep(delay).await;
            return Ok((Instant::now(), false));
        }
        Fault::Http500 => ApiError::server_error(),
        Fault::Http503 => ApiError::overloaded(),
        Fault::Http429 => {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(1u32));
            let message = "Rate limit reached (injected fault). Please try again in 1s.".to_owned();
            ApiError::rate_limited("requests", message)
        }
        Fault::Reset => {
            if let Some(control) = parts.extensions.get::<Arc<ConnControl>>() {
                control.reset();
                // The connection task drops this future with the connection.
                std::future::pending::<()>().await;
            }
            // Not served by our accept loop (no control): the nearest thing.
            ApiError::server_error()
        }
    };
    Err((std::mem::take(headers), error).into_response())
}

/// Counts `tokens` (the API's estimate of the request) against the model's limits for
/// `api_key`, writing their state into `headers`; over a limit, returns the 429 to answer.
fn over_rate_limit(model: &Model, api_key: &str, tokens: u64, headers: &mut HeaderMap) -> Option<Response> {
    let limiter = model.limiter.as_ref()?;
    match limiter.check(api_key, tokens, Instant::now()) {
        Ok(status) => {
            status.write_headers(headers);
            None
        }
        Err(limited) => {
            limited.status.write_headers(headers);
            let wait = limited.retry_after;
            // Whole seconds, rounded up: retrying at the rounded-down second would fail.
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
            let ms = u64::try_from(wait.as_millis().max(1)).unwrap_or(u64::MAX);
            headers.insert(RETRY_AFTER_MS, HeaderValue::from(ms));
            let error = ApiError::rate_limited(limited.kind, limited.message);
            Some((std::mem::take(headers), error).into_response())
        }
    }
}

/// The token of `Authorization: Bearer TOKEN`, if the request has one.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|t| !t.is_empty())
}

/// The whole body, or 413 as soon as it is known to be over the limit: at once for a
/// declared length, else when the bytes read cross it. Never more than the limit is held.
async fn read_body(version: Version, headers: &HeaderMap, mut body: Body) -> Result<Bytes, ApiError> {
    let declared = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        linger(version, body);
        return Err(ApiError::too_large(MAX_BODY_BYTES));
    }
    // A declared length is a hint, not a promise: the buffer grows with what arrives.
    let hint = declared.map_or(0, |n| n.min(1 << 20) as usize);
    let mut buf = BytesMut::with_capacity(hint);
    while let Some(frame) = body.frame().await {
        let frame = frame
            .map_err(|e| ApiError::invalid(format!("could not read the request body: {e}"), None, None))?;
        // Trailers, which no client of this API sends, carry no bytes of the body.
        let Ok(data) = frame.into_data() else { continue };
        if buf.len() + data.len() > MAX_BODY_BYTES {
            linger(version, body);
            return Err(ApiError::too_large(MAX_BODY_BYTES));
        }
        buf.extend_from_slice(&data);
    }
    Ok(buf.freeze())
}

/// How long, and how many more bytes, the rest of a refused HTTP/1 body is read (and
/// discarded) after the 413 is sent.
const LINGER_TIME: Duration = Duration::from_secs(10);
const LINGER_BYTES: usize = 4 * MAX_BODY_BYTES;

/// Reads and discards the rest of a refused body in the background, for a while, as
/// nginx's lingering close does. An HTTP/1 client sends its whole body before it reads
/// the answer: were the connection closed under it, it would see a broken pipe instead
/// of the 413. HTTP/2 needs none of this: the stream is reset, the connection stays.
fn linger(version: Version, mut body: Body) {
    if version >= Version::HTTP_2 {
        return;
    }
    tokio::spawn(async move {
        let drain = async {
            let mut discarded = 0;
            while let Some(Ok(frame)) = body.frame().await {
                discarded += frame.data_ref().map_or(0, Bytes::len);
                if discarded > LINGER_BYTES {
                    break;
                }
            }
        };
        // Then the body is dropped, and the connection closed if it was not all read.
        let _ = tokio::time::timeout(LINGER_TIME, drain).await;
    });
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

async fn list_models(State(sim): State<Arc<Sim>>, headers: HeaderMap) -> Response {
    if let Err(denied) = sim.authenticate(&headers) {
        return denied.into_response();
    }
    let mut names: Vec<&str> = sim.models.keys().map(String::as_str).collect();
    names.sort_unstable();
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

async fn health() -> Response {
    openai::json_response(StatusCode::OK, &serde_json::json!({"status": "ok"}))
}

// The real API answers unknown routes with its error JSON too; clients parse it.
async fn unknown_route(method: Method, uri: Uri) -> Response {
    invalid_url(StatusCode::NOT_FOUND, &method, &uri)
}

async fn wrong_method(method: Method, uri: Uri) -> Response {
    invalid_url(StatusCode::METHOD_NOT_ALLOWED, &method, &uri)
}

fn invalid_url(status: StatusCode, method: &Method, uri: &Uri) -> Response {
    ApiError::invalid(format!("Invalid URL ({method} {})", uri.path()), None, None)
        .with_status(status)
        .into_response()
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}
