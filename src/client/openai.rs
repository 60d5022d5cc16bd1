//! The HTTP backend for OpenAI-compatible APIs (the simulator included).
//!
//! Timestamps are taken as bytes arrive (the connection's read that brought
//! them, `Answer::arrived`), before any parsing, so parsing cost
//! never counts as server latency. Retries happen here, inside one `send`,
//! so the runner sees one request with one intended start whatever it took.

use std::time::{Duration, Instant};

use super::http::Endpoint;
use super::retry::{self, Backoff};
use super::transport::{Failure, Transport};
use super::{Backend, body, chunk};
use crate::metrics::{Outcome, RequestRecord};
use crate::scenario::{ClientConfig, Scenario};
use crate::workload::Ticket;
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

    /// `text` with the key (and anything starting with its first 8
    /// characters, as servers echo keys cut short) replaced.
    pub fn redact(&self, text: &str) -> String {
        let head: String = self.0.chars().take(8).collect();
        let mut out = text.replace(&self.0, "<redacted>");
        if head.chars().count() == 8 {
            while let Some(at) = out.find(&head) {
                let end = out[at..]
                    .find(|c: char| c.is_whitespace() || c == '"' || c == '\'')
                    .map_or(out.len(), |e| at + e);
                out.replace_range(at..end, "<redacted>");
            }
        }
        out
    }

    /// The key itself: only for building the `Authorization` header.
    pub(super) fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

/// How requests are sent: the total timeout, and the scenario's other
/// timeouts and retry rule as they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Bounds the whole request, backoff between retries included.
    pub timeout: Duration,
    pub client: ClientConfig,
}

impl Policy {
    /// Only a total timeout; the others default to it (connect: 10 s at most)
    /// and nothing is retried.
    pub fn new(timeout: Duration) -> Self {
        Policy { timeout, client: ClientConfig::defaults(timeout) }
    }

    /// The scenario's `[load]` timeouts and retries.
    pub fn from_scenario(s: &Scenario) -> Self {
        Policy { timeout: s.load.timeout, client: s.client.clone() }
    }

    /// A per-attempt or per-read timeout worth a timer: one shorter than the
    /// total, which bounds everything already (the defaults equal it).
    fn limit(&self, d: Duration) -> Option<Duration> {
        (d < self.timeout).then_some(d)
    }
}

pub struct OpenAiBackend {
    transport: Transport,
    policy: Policy,
}

/// How one attempt ended.
enum Attempt {
    /// Final: the record holds the outcome.
    Done,
    /// A status in `retry_on`; the server's wait hint, if it gave one.
    Retryable(Option<Duration>),
}

impl OpenAiBackend {
    /// `base_url` ends with the API version, e.g. `http://127.0.0.1:8000/v1`.
    /// Only a total timeout, no retries: see `with_policy`.
    pub fn new(base_url: &str, key: Option<ApiKey>, timeout: Duration) -> crate::error::Result<Self> {
        Self::with_policy(base_url, key, Policy::new(timeout))
    }

    pub fn with_policy(base_url: &str, key: Option<ApiKey>, policy: Policy) -> crate::error::Result<Self> {
        Self::for_endpoint(&Endpoint::plain(base_url, key), policy)
    }

    /// The endpoint's headers, TLS roots and proxy rule (see `http.rs`).
    pub fn for_endpoint(endpoint: &Endpoint, policy: Policy) -> crate::error::Result<Self> {
        let transport = Transport::new(endpoint, policy.client.connect_timeout, policy.client.http2)?;
        Ok(OpenAiBackend { transport, policy })
    }

    /// Attempts until one is final, retries are spent, or the next wait would
    /// pass the total deadline. Statuses in `retry_on` are retried, and with
    /// `retry_connect` connections never made; a 2xx never is, so nothing is
    /// retried once content has started streaming.
    async fn attempts(&self, req: &WorkRequest, rec: &mut RequestRecord, deadline: Instant) {
        let mut backoff = Backoff::new(req.seq);
        loop {
            let Attempt::Retryable(hint) = self.attempt(req, rec).await else { return };
            let retry = rec.attempts;
            if retry > self.policy.client.retries {
                return;
            }
            let wait = hint.unwrap_or_else(|| backoff.next(retry));
            if Instant::now() + wait >= deadline {
                // Waiting would only end in a timeout; the status says more.
                if let Some(e) = &mut rec.error {
                    e.push_str(" (not retried: the wait would pass the total timeout)");
                }
                return;
            }
            tokio::time::sleep(wait).await;
            rec.attempts += 1;
            rec.headers = None;
            rec.outcome = Outcome::Ok;
            rec.error = None;
        }
    }

    /// One HTTP exchange; fills `rec` as it goes so a timeout keeps what was
    /// measured.
    async fn attempt(&self, req: &WorkRequest, rec: &mut RequestRecord) -> Attempt {
        if rec.attempts == 1 {
            rec.sent = Instant::now();
        }
        let first_byte = self.policy.client.first_byte_timeout;
        // HTTP/2 streams the server refused unprocessed are sent again inside
        // the transport and counted straight into the record, where a timeout
        // that drops this attempt leaves them.
        let limit = self.policy.limit(first_byte);
        let post = self.transport.post(req.path, req.body.clone(), false, &mut rec.reconnects);
        let mut answer = body::bounded(limit, post).await;
        // A server may close a kept-alive connection after answering (llama.cpp's
        // llama-server does, after each stream, without saying so): a request
        // written on it meets the close before any answer. Like Go's transport
        // for a server-closed idle connection, send it again, once, on a
        // connection of its own; its latency still counts from the intended start.
        if let Some(Err(e)) = &answer
            && e.failure == Failure::ClosedBeforeAnswer
        {
            rec.reconnects += 1;
            let post = self.transport.post(req.path, req.body.clone(), true, &mut rec.reconnects);
            answer = body::bounded(limit, post).await;
        }
        let mut resp = match answer {
            Some(Ok(r)) => r,
            Some(Err(e)) => {
                fail(rec, transport_outcome(e.failure), e.message);
                // Only a connection never made is safe to send again: a request
                // cut after it was sent may have been served (and billed).
                let never_sent = matches!(e.failure, Failure::Connect | Failure::ConnectTimeout);
                return if never_sent && self.policy.client.retry_connect {
                    Attempt::Retryable(None)
                } else {
                    Attempt::Done
                };
            }
            None => {
                fail(rec, Outcome::FirstByteTimeout, format!("no response headers within {first_byte:?}"));
                return Attempt::Done;
            }
        };
        rec.headers = Some(resp.arrived());
        rec.ratelimit = retry::limits(&resp.headers);
        let status = resp.status;
        if status.is_success() {
            let idle = self.policy.limit(self.policy.client.idle_timeout);
            if req.stream {
                body::read_stream(resp, rec, idle, req).await;
            } else {
                body::read_whole(resp, rec, idle, req).await;
            }
            return Attempt::Done;
        }
        let code = status.as_u16();
        let hint = retry::server_hint(&resp.headers);
        let outcome = if code == 429 {
            rec.rate_limited += 1;
            Outcome::RateLimited
        } else {
            Outcome::Http(code)
        };
        // An error body is small; one that stalls is not worth waiting for.
        let body = tokio::time::timeout(self.policy.client.idle_timeout, resp.bytes())
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default();
        drop(resp);
        // Not every server sends OpenAI's error object: a plain-text body
        // (e.g. a 500 from a server that cannot take a prompt array) still
        // says more than the status alone.
        let msg = chunk::error_message(&body).unwrap_or_else(|| plain_error(status, &body));
        fail(rec, outcome, msg);
        if self.policy.client.retry_on.contains(&code) { Attempt::Retryable(hint) } else { Attempt::Done }
    }
}

impl Backend for OpenAiBackend {
    async fn send(&self, req: &WorkRequest, ticket: &Ticket, timer: &mut super::Timer) -> RequestRecord {
        let now = Instant::now();
        let mut rec = RequestRecord::new(req, ticket, now);
        let deadline = now + self.policy.timeout;
        // Boxed: the attempts' future (2.4 KB) would otherwise live in the
        // worker's, one per user, and be written there, cold, per request;
        // the allocator hands back the block a request just freed, still in
        // the cache (BENCHMARKS.md, "A worker's future in the cache").
        let attempts = Box::pin(self.attempts(req, &mut rec, deadline));
        if timer.within(deadline, attempts).await.is_none() {
            let after = self.policy.timeout;
            fail(&mut rec, Outcome::Timeout, format!("no complete response within {after:?}"));
        }
        rec
    }
}

/// The status and the start of a body that is not an OpenAI error object.
fn plain_error(status: hyper::StatusCode, body: &[u8]) -> String {
    // An error object with an empty message: its type is all there is.
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(body)
        && let Some(kind) = v["error"]["type"].as_str().or(v["error"]["code"].as_str())
    {
        return format!("{status}: {kind} (the server gave no message)");
    }
    let text = String::from_utf8_lossy(body);
    let text: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.is_empty() {
        return status.to_string();
    }
    let clipped: String = text.chars().take(160).collect();
    let more = if clipped.len() < text.len() { "…" } else { "" };
    format!("{status}: {clipped}{more}")
}

fn fail(rec: &mut RequestRecord, outcome: Outcome, message: String) {
    rec.end = Instant::now();
    rec.outcome = outcome;
    rec.error = Some(message);
}

/// What a transport failure means for the record.
fn transport_outcome(f: Failure) -> Outcome {
    match f {
        Failure::Connect => Outcome::Connect,
        Failure::ConnectTimeout => Outcome::ConnectTimeout,
        Failure::NotHttp => Outcome::NotHttp,
        Failure::ClosedBeforeAnswer | Failure::Closed => Outcome::Closed,
    }
}

#[cfg(test)]
mod tests {
    use super::ApiKey;

    #[test]
    fn redact_hides_the_key_and_echoes_of_its_start() {
        let k = ApiKey("sk-proj-0123456789abcdef".into());
        assert_eq!(k.redact("key sk-proj-0123456789abcdef rejected"), "key <redacted> rejected");
        // Servers echo keys cut short: "Incorrect API key provided: sk-proj-****cdef".
        assert_eq!(k.redact("provided: sk-proj-****cdef."), "provided: <redacted>");
        assert_eq!(k.redact("{\"m\":\"sk-proj-01\"}"), "{\"m\":\"<redacted>\"}");
        assert_eq!(k.redact("nothing here"), "nothing here");
        assert_eq!(format!("{k:?}"), "ApiKey(<redacted>)");
    }
}
