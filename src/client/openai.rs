//! The HTTP backend for OpenAI-compatible APIs (the simulator included).
//!
//! Timestamps are taken as bytes arrive, before any parsing, so parsing cost
//! never counts as server latency.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue};

use super::Backend;
use super::chunk::{self, Body, Usage};
use super::sse::SseParser;
use crate::load::Ticket;
use crate::metrics::{Outcome, RequestRecord, TokenSource};
use crate::workload::WorkRequest;

/// An API key. Its `Debug` never shows the value and it is only ever turned
/// into a header marked sensitive.
#[derive(Clone)]
pub struct ApiKey(String);

impl ApiKey {
    /// Reads the key from the environment variable `var`; `None` when unset or
    /// empty (local servers often need no key).
    pub fn from_env(var: &str) -> Option<ApiKey> {
        std::env::var(var).ok().filter(|k| !k.is_empty()).map(ApiKey)
    }
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

pub struct OpenAiBackend {
    client: reqwest::Client,
    base_url: String,
    headers: HeaderMap,
    timeout: Duration,
}

impl OpenAiBackend {
    /// `base_url` ends with the API version, e.g. `http://127.0.0.1:8000/v1`.
    pub fn new(base_url: &str, key: Option<ApiKey>, timeout: Duration) -> anyhow::Result<Self> {
        // One process-wide TLS provider; a second install is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if let Some(ApiKey(k)) = key {
            let mut v = HeaderValue::from_str(&format!("Bearer {k}")).map_err(|_| {
                anyhow::anyhow!("the API key contains characters not allowed in an HTTP header")
            })?;
            v.set_sensitive(true);
            headers.insert(AUTHORIZATION, v);
        }
        let client = reqwest::Client::builder()
            .user_agent(concat!("llmload/", env!("CARGO_PKG_VERSION")))
            .no_proxy()
            .tcp_nodelay(true)
            .connect_timeout(timeout)
            .build()?;
        Ok(OpenAiBackend { client, base_url: base_url.trim_end_matches('/').to_owned(), headers, timeout })
    }

    /// Everything after the request is built; fills `rec` as it goes so a
    /// timeout keeps what was measured.
    async fn exchange(&self, req: &WorkRequest, rec: &mut RequestRecord) {
        let url = format!("{}{}", self.base_url, req.path);
        let sent = self.client.post(url).headers(self.headers.clone()).body(req.body.clone()).send();
        rec.sent = Instant::now();
        let resp = match sent.await {
            Ok(r) => r,
            Err(e) => return fail(rec, transport_outcome(&e, Outcome::Connect), error_chain(&e)),
        };
        rec.headers = Some(Instant::now());
        let status = resp.status();
        if !status.is_success() {
            let body = resp.bytes().await.unwrap_or_default();
            let outcome =
                if status.as_u16() == 429 { Outcome::RateLimited } else { Outcome::Http(status.as_u16()) };
            let msg = chunk::error_message(&body).unwrap_or_else(|| status.to_string());
            return fail(rec, outcome, msg);
        }
        if req.stream { read_stream(resp, rec).await } else { read_whole(resp, rec).await }
    }
}

impl Backend for OpenAiBackend {
    async fn send(&self, req: &WorkRequest, ticket: &Ticket) -> RequestRecord {
        let now = Instant::now();
        let mut rec = RequestRecord::new(req, ticket, now);
        let deadline = tokio::time::Instant::from_std(now + self.timeout);
        if tokio::time::timeout_at(deadline, self.exchange(req, &mut rec)).await.is_err() {
            let after = self.timeout;
            fail(&mut rec, Outcome::Timeout, format!("no complete response within {after:?}"));
        }
        rec
    }
}

fn fail(rec: &mut RequestRecord, outcome: Outcome, message: String) {
    rec.end = Instant::now();
    rec.outcome = outcome;
    rec.error = Some(message);
}

fn transport_outcome(e: &reqwest::Error, otherwise: Outcome) -> Outcome {
    if e.is_timeout() {
        Outcome::Timeout
    } else if e.is_connect() {
        Outcome::Connect
    } else {
        otherwise
    }
}

/// reqwest's top-level message is generic ("error sending request"); the cause
/// is further down the chain.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut msg = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    msg
}

/// Accumulates what a stream's events say.
#[derive(Default)]
struct StreamState {
    done: bool,
    last_content: Option<Instant>,
    content_events: u64,
    usage: Option<Usage>,
    bad: Option<(Outcome, String)>,
}

impl StreamState {
    fn on_event(&mut self, data: &str, at: Instant, rec: &mut RequestRecord) {
        if data == "[DONE]" {
            self.done = true;
            rec.end = at;
            return;
        }
        let body: Body = match serde_json::from_str(data) {
            Ok(b) => b,
            Err(e) => {
                let shown: String = data.chars().take(80).collect();
                self.bad.get_or_insert((Outcome::MalformedEvent, format!("not JSON ({e}): {shown}")));
                return;
            }
        };
        if let Some(err) = &body.error {
            self.bad = Some((Outcome::ApiError, err.message.clone()));
        }
        if body.has_content() {
            match self.last_content {
                None => rec.first_token = Some(at),
                Some(prev) => rec.itl.push(at.saturating_duration_since(prev)),
            }
            self.last_content = Some(at);
            self.content_events += 1;
        }
        if let Some(reason) = body.finish_reason() {
            rec.finish_reason = Some(reason.to_owned());
        }
        if body.usage.is_some() {
            self.usage = body.usage;
        }
    }
}

async fn read_stream(resp: reqwest::Response, rec: &mut RequestRecord) {
    let mut parser = SseParser::new();
    let mut state = StreamState::default();
    let mut stream = resp.bytes_stream();
    let mut broken = None;
    while let Some(item) = stream.next().await {
        let at = Instant::now();
        rec.end = at;
        match item {
            Ok(bytes) => parser.push(&bytes, |ev| state.on_event(&ev.data, at, rec)),
            Err(e) => {
                broken = Some(error_chain(&e));
                break;
            }
        }
        if state.done {
            break;
        }
    }
    apply_usage(rec, state.usage, state.content_events);
    if let Some((outcome, msg)) = state.bad {
        rec.outcome = outcome;
        rec.error = Some(msg);
    } else if !state.done {
        rec.outcome = Outcome::StreamTruncated;
        rec.error = Some(broken.unwrap_or_else(|| "stream ended before [DONE]".into()));
    }
}

async fn read_whole(resp: reqwest::Response, rec: &mut RequestRecord) {
    let bytes = match resp.bytes().await {
        Ok(b) => b,
        Err(e) => return fail(rec, transport_outcome(&e, Outcome::StreamTruncated), error_chain(&e)),
    };
    let at = Instant::now();
    rec.end = at;
    let body: Body = match serde_json::from_slice(&bytes) {
        Ok(b) => b,
        Err(e) => return fail(rec, Outcome::MalformedEvent, format!("response is not the API's JSON: {e}")),
    };
    if let Some(err) = body.error {
        return fail(rec, Outcome::ApiError, err.message);
    }
    // The whole answer arrives at once: time to first token is the e2e time.
    rec.first_token = Some(at);
    rec.finish_reason = body.finish_reason().map(str::to_owned);
    apply_usage(rec, body.usage, body.content_chars().div_ceil(4) as u64);
}

fn apply_usage(rec: &mut RequestRecord, usage: Option<Usage>, estimate: u64) {
    let usage = usage.unwrap_or_default();
    if let Some(p) = usage.prompt_tokens {
        rec.prompt_tokens = p;
    }
    match usage.completion_tokens {
        Some(c) => {
            rec.output_tokens = c;
            rec.token_source = TokenSource::Usage;
        }
        None => {
            rec.output_tokens = estimate;
            rec.token_source = TokenSource::Estimate;
        }
    }
}
