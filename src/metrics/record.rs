//! One request's timeline and result, as measured by the client.

use std::borrow::Cow;
use std::time::{Duration, Instant};

use crate::tokens::Counter;
use crate::workload::WorkRequest;
use crate::workload::{Ticket, Turn};

/// A finish reason: OpenAI's own are static strings, so the common case
/// allocates nothing per request; a server's own reasons are kept as sent.
pub type Reason = Cow<'static, str>;

/// `text` as a [`Reason`], static when it is one of the reasons servers
/// commonly send.
pub fn reason(text: &str) -> Reason {
    const KNOWN: [&str; 6] = ["stop", "length", "tool_calls", "content_filter", "function_call", "eos"];
    match KNOWN.iter().find(|k| **k == text) {
        Some(k) => Cow::Borrowed(k),
        None => Cow::Owned(text.to_owned()),
    }
}

/// What happened to a request. Errors are classes, counted by class and
/// message, never kept one by one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Outcome {
    Ok,
    /// HTTP 429.
    RateLimited,
    /// Any other non-2xx status.
    Http(u16),
    /// The total `timeout` passed (backoff between retries included).
    Timeout,
    /// The connection could not be set up within `connect_timeout`.
    ConnectTimeout,
    /// No response headers within `first_byte_timeout` of an attempt's send.
    FirstByteTimeout,
    /// A gap between two body chunks longer than `idle_timeout`.
    IdleTimeout,
    /// No connection: the request never reached the server (refused, DNS,
    /// TLS).
    Connect,
    /// The connection was closed or reset after the request was written and
    /// before a whole answer's headers: the server may have seen it.
    Closed,
    /// The server answered with bytes that are not HTTP.
    NotHttp,
    /// The body ended (or broke) before `[DONE]`.
    StreamTruncated,
    /// A data event that is not JSON, or a body that is not the API's shape.
    MalformedEvent,
    /// An error object in a 2xx response or inside a stream.
    ApiError,
    /// The run was stopped (Ctrl-C) while the request was in flight.
    Cancelled,
}

impl Outcome {
    pub fn is_ok(self) -> bool {
        self == Outcome::Ok
    }

    /// Stable name used in CSV, JSON and tables; borrowed for every class but
    /// `http_<status>`, so an ok row costs no allocation.
    pub fn class(self) -> Cow<'static, str> {
        match self {
            Outcome::Ok => "ok".into(),
            Outcome::RateLimited => "http_429".into(),
            Outcome::Http(s) => Cow::Owned(format!("http_{s}")),
            Outcome::Timeout => "timeout".into(),
            Outcome::ConnectTimeout => "connect_timeout".into(),
            Outcome::FirstByteTimeout => "first_byte_timeout".into(),
            Outcome::IdleTimeout => "idle_timeout".into(),
            Outcome::Connect => "connect".into(),
            Outcome::Closed => "connection_closed".into(),
            Outcome::NotHttp => "not_http".into(),
            Outcome::StreamTruncated => "stream_truncated".into(),
            Outcome::MalformedEvent => "malformed_event".into(),
            Outcome::ApiError => "api_error".into(),
            Outcome::Cancelled => "cancelled".into(),
        }
    }
}

/// Where an output token count came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenSource {
    /// `usage.completion_tokens` sent by the server.
    Usage,
    /// Estimated by the client when the server sent no usage: one per
    /// content-bearing event for streams (servers may pack several tokens in
    /// one event), characters / 4 for whole bodies.
    Estimate,
    /// Counted by the client on the text received, per choice (the server
    /// sent no usage), with the model's tokenizer, tiktoken or the fallback.
    Counted(Counter),
}

impl TokenSource {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenSource::Usage => "usage",
            TokenSource::Estimate => "estimate",
            TokenSource::Counted(c) => c.as_str(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct RequestRecord {
    /// Index into the scenario's variants.
    pub variant: usize,
    /// The model sent, when not the variant's (a trace line that names one).
    pub model: Option<String>,
    /// Position in the run's request sequence (deterministic from the seed).
    pub seq: u64,
    /// Sent during warm-up: written to requests.csv but not measured.
    pub warmup: bool,
    pub streaming: bool,
    /// When the schedule wanted the request sent.
    pub intended: Instant,
    /// The first attempt's send; retries do not move it.
    pub sent: Instant,
    /// Response headers received.
    pub headers: Option<Instant>,
    /// First content-bearing event of any kind, reasoning included
    /// (streaming), or the whole body (not streaming): the headline TTFT.
    pub first_token: Option<Instant>,
    /// First answer (not reasoning) content: time to first answer token.
    pub first_answer: Option<Instant>,
    /// `[DONE]`, the last byte, or the moment the request failed.
    pub end: Instant,
    /// First reasoning delta (`reasoning_content` / `reasoning`, the
    /// Responses API's reasoning events).
    pub first_reasoning: Option<Instant>,
    /// Gaps between consecutive content-bearing events (reasoning included).
    pub itl: Vec<Duration>,
    pub prompt_tokens: u64,
    /// Of them, served from the server's prefix cache, when it says
    /// (`chunk::Body::cached_tokens`).
    pub cached_tokens: Option<u64>,
    /// The session and turn, for a request of a multi-turn session.
    pub session: Option<Turn>,
    /// The first choice's text as received, when asked for
    /// (`WorkRequest::keep_answer`): a session's next turn sends it back.
    pub answer: Option<String>,
    /// The last turn of a session: how long the session took, from its
    /// first turn's intended start to this turn's end.
    pub session_done: Option<Duration>,
    /// A stream of several choices (n > 1, a batch): each one's first and
    /// last content event; empty otherwise.
    pub choices: Vec<ChoiceTimes>,
    /// Choices per prompt (`n`): a choice's index is prompt × n + choice.
    pub n: u32,
    /// Its variant sends stop sequences; the most output it could have had
    /// (`max_tokens` for every choice): what a stop saves is the rest.
    pub stops: bool,
    pub max_output_tokens: u64,
    pub output_tokens: u64,
    /// Of them, reasoning tokens, when the server's usage says.
    pub reasoning_tokens: Option<u64>,
    pub token_source: TokenSource,
    /// `prompt_tokens` is the server's (its usage), not the client's count.
    pub prompt_from_usage: bool,
    /// The last finish reason seen (the CSV column).
    pub finish_reason: Option<Reason>,
    /// Every choice's finish reason (n > 1 and batches have several). Kept as
    /// strings: servers add reasons of their own beyond OpenAI's.
    pub finish_reasons: Vec<Reason>,
    pub outcome: Outcome,
    /// Error message (status text, API error message, transport error).
    pub error: Option<String>,
    /// The load stage the request was intended in.
    pub stage: usize,
    /// Prompts in the request (batching).
    pub prompts: u32,
    /// What the tokens cost, when the model has a price.
    pub cost_usd: Option<f64>,
    /// HTTP attempts made: 1 plus retries.
    pub attempts: u32,
    /// 429 responses seen, including ones a later retry got past.
    pub rate_limited: u32,
    /// The server's `x-ratelimit-limit-requests` and `-tokens` headers on
    /// the last answer, when it sent them.
    pub ratelimit: [Option<u64>; 2],
    /// Times it was sent again before any answer without counting as a
    /// retry: on a fresh connection because the reused one had been closed
    /// by the server, or because the server refused its HTTP/2 stream
    /// unprocessed (REFUSED_STREAM).
    pub reconnects: u32,
}

/// When one choice of a stream began and ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChoiceTimes {
    pub index: u32,
    pub first: Option<Instant>,
    pub last: Option<Instant>,
}

impl RequestRecord {
    /// Whether this (ok) request met every per-request objective of `[goodput]`.
    pub fn meets(&self, g: &crate::scenario::GoodputObjectives) -> bool {
        let within = |limit: Option<Duration>, got: Option<Duration>| match (limit, got) {
            (Some(l), Some(got)) => got <= l,
            // Nothing to judge (one token: no TPOT, no gap).
            _ => true,
        };
        within(g.ttft, self.ttft())
            && within(g.tpot, self.tpot())
            && within(g.itl, self.itl.iter().max().copied())
            && within(g.e2e, Some(self.e2e()))
    }

    /// A record for `req` sent at `sent`, before anything came back.
    pub fn new(req: &WorkRequest, t: &Ticket, sent: Instant) -> Self {
        RequestRecord {
            variant: req.variant,
            model: req.model.clone(),
            seq: req.seq,
            warmup: t.warmup,
            streaming: req.stream,
            intended: t.intended,
            sent,
            headers: None,
            first_token: None,
            first_answer: None,
            first_reasoning: None,
            end: sent,
            itl: Vec::new(),
            prompt_tokens: u64::from(req.prompt_tokens),
            cached_tokens: None,
            session: req.turn,
            answer: None,
            session_done: None,
            choices: Vec::new(),
            n: req.n,
            stops: req.stops,
            max_output_tokens: req.max_output_tokens,
            output_tokens: 0,
            reasoning_tokens: None,
            token_source: TokenSource::Estimate,
            prompt_from_usage: false,
            finish_reason: None,
            finish_reasons: Vec::new(),
            outcome: Outcome::Ok,
            error: None,
            stage: t.stage,
            prompts: req.prompts,
            cost_usd: None,
            attempts: 1,
            rate_limited: 0,
            ratelimit: [None, None],
            reconnects: 0,
        }
    }

    /// For unit tests: a streamed chat request of variant 0, stage 0, sent at
    /// its intended time, before anything came back.
    #[cfg(test)]
    pub(crate) fn example(intended: Instant) -> Self {
        let req = WorkRequest::example();
        RequestRecord::new(&req, &Ticket { seq: 0, intended, warmup: false, stage: 0, trace: None }, intended)
    }

    pub fn queue_delay(&self) -> Duration {
        self.sent.saturating_duration_since(self.intended)
    }
    pub fn e2e(&self) -> Duration {
        self.end.saturating_duration_since(self.intended)
    }
    pub fn e2e_service(&self) -> Duration {
        self.end.saturating_duration_since(self.sent)
    }
    pub fn ttft(&self) -> Option<Duration> {
        self.first_token.map(|t| t.saturating_duration_since(self.intended))
    }
    pub fn ttft_service(&self) -> Option<Duration> {
        self.first_token.map(|t| t.saturating_duration_since(self.sent))
    }
    /// Time to first reasoning token, from the intended start.
    /// Time to first answer token, from the intended start.
    pub fn ttfa(&self) -> Option<Duration> {
        self.first_answer.map(|t| t.saturating_duration_since(self.intended))
    }
    pub fn ttfr(&self) -> Option<Duration> {
        self.first_reasoning.map(|t| t.saturating_duration_since(self.intended))
    }
    /// (end − first token) / (output tokens − 1); streaming only.
    pub fn tpot(&self) -> Option<Duration> {
        let first = self.first_token?;
        if !self.streaming || self.output_tokens < 2 {
            return None;
        }
        let span = self.end.saturating_duration_since(first);
        Some(span / u32::try_from(self.output_tokens - 1).unwrap_or(u32::MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_keep_their_text_and_the_common_ones_are_static() {
        for text in ["stop", "length", "tool_calls", "content_filter", "function_call", "eos"] {
            assert!(matches!(reason(text), Cow::Borrowed(t) if t == text), "{text}");
        }
        // A server's own reason, and near misses of OpenAI's, are kept as sent.
        for text in ["abort", "Stop", "stop ", "", "max_tokens"] {
            assert!(matches!(reason(text), Cow::Owned(t) if t == text), "{text:?}");
        }
    }
}
