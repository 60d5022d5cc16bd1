//! Reading a 2xx response body: a stream of SSE events or one JSON document.
//!
//! Everything learned is written into the record as it arrives (tokens, first
//! token, finish reasons), so a request cut short by any timeout keeps what
//! was measured. Each read waits at most the idle timeout: a server that
//! stalls mid-answer is its own outcome, not a hang.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::chunk::{Body, Usage};
use super::sse::SseParser;
use super::transport::Answer;
use crate::metrics::ChoiceTimes;
use crate::metrics::{Outcome, Reason, RequestRecord, TokenSource, reason};
use crate::tokens::{Received, Tokenizer};

/// What one choice (by `index`) has produced so far.
#[derive(Default)]
struct ChoiceState {
    /// Events carrying content or reasoning: one token each, for the estimate
    /// (servers may pack several tokens in one event; usage is exact).
    events: u64,
    /// Characters of a whole body's text, for the estimate.
    chars: usize,
    /// The text received (content and reasoning) and where each event's
    /// ended, counted at the end when the server sends no usage.
    text: Received,
    finish: Option<Reason>,
    /// Its first and last content event (streams).
    first: Option<Instant>,
    last: Option<Instant>,
}

/// Accumulates what a response's events say, per choice.
#[derive(Default)]
struct Accumulator {
    done: bool,
    last_content: Option<Instant>,
    usage: Option<Usage>,
    /// Prompt tokens served from the server's cache, when it says.
    cached: Option<u64>,
    /// The text of the first choice as received, kept when the next turn
    /// of a session sends it back (`answer`).
    keep_answer: bool,
    answer: String,
    /// A BTreeMap, not a Vec indexed by `index`: the index is network data.
    choices: BTreeMap<u32, ChoiceState>,
    /// The Responses API's typed events, not chat chunks.
    responses: bool,
    bad: Option<(Outcome, String)>,
}

impl Accumulator {
    /// One SSE data payload, received at `at`.
    fn on_event(&mut self, data: &str, at: Instant, rec: &mut RequestRecord) {
        if data == "[DONE]" {
            self.done = true;
            rec.end = at;
            return;
        }
        let malformed = |e: serde_json::Error| {
            let shown: String = data.chars().take(80).collect();
            (Outcome::MalformedEvent, format!("not JSON ({e}): {shown}"))
        };
        let body: Body = if self.responses {
            match serde_json::from_str::<super::chunk::ResponsesEvent>(data) {
                Ok(ev) => {
                    if ev.is_terminal() {
                        self.done = true;
                        rec.end = at;
                    }
                    match ev.into_body() {
                        Some(b) => b,
                        None => return,
                    }
                }
                Err(e) => {
                    self.bad.get_or_insert(malformed(e));
                    return;
                }
            }
        } else {
            match super::chunk::parse_event(data) {
                Ok(b) => b,
                Err(e) => {
                    self.bad.get_or_insert(malformed(e));
                    return;
                }
            }
        };
        // TTFT is the first content of any kind, reasoning included (the
        // user sees the model respond); the first answer token is timed beside
        // it, and the gaps run between every content-bearing event.
        let reasoning = body.has_reasoning();
        if reasoning && rec.first_reasoning.is_none() {
            rec.first_reasoning = Some(at);
        }
        if body.has_content() && rec.first_answer.is_none() {
            rec.first_answer = Some(at);
        }
        if body.has_content() || reasoning {
            match self.last_content {
                None => rec.first_token = Some(at),
                Some(prev) => rec.itl.push(at.saturating_duration_since(prev)),
            }
            self.last_content = Some(at);
        }
        for c in &body.choices {
            if self.keep_answer && c.index == 0 {
                self.answer.push_str(c.content().unwrap_or_default());
            }
            let st = self.choices.entry(c.index).or_default();
            if c.has_content() || c.reasoning().is_some() {
                st.events += 1;
            }
            if c.has_content() || c.reasoning().is_some() {
                st.first.get_or_insert(at);
                st.last = Some(at);
            }
            if self.usage.is_none() {
                let before = st.text.text.len();
                st.text.text.push_str(c.content().unwrap_or_default());
                st.text.text.push_str(c.reasoning().unwrap_or_default());
                if st.text.text.len() > before {
                    st.text.cuts.push(u32::try_from(st.text.text.len()).unwrap_or(u32::MAX));
                }
            }
        }
        self.on_body(body, rec);
    }

    /// What streamed and whole bodies share: errors, finish reasons, usage.
    fn on_body(&mut self, body: Body, rec: &mut RequestRecord) {
        let cached = body.cached_tokens();
        if let Some(err) = body.error {
            self.bad = Some((Outcome::ApiError, err.message));
        }
        for c in body.choices {
            if let Some(text) = c.finish_reason {
                let reason = reason(&text);
                rec.finish_reason = Some(reason.clone());
                self.choices.entry(c.index).or_default().finish = Some(reason);
                rec.finish_reasons = self.choices.values().filter_map(|s| s.finish.clone()).collect();
            }
        }
        if let Some(c) = cached {
            self.cached = Some(c);
        }
        if body.usage.is_some() {
            self.usage = body.usage;
        }
        self.apply_tokens(rec);
    }

    /// Usage when the server sent it, else the sum of per-choice estimates.
    fn apply_tokens(&self, rec: &mut RequestRecord) {
        let usage = self.usage.unwrap_or_default();
        rec.cached_tokens = self.cached;
        if let Some(p) = usage.prompt_tokens {
            rec.prompt_tokens = p;
            rec.prompt_from_usage = true;
        }
        rec.reasoning_tokens = usage.completion_tokens_details.and_then(|d| d.reasoning_tokens);
        match usage.completion_tokens {
            Some(c) => {
                rec.output_tokens = c;
                rec.token_source = TokenSource::Usage;
            }
            None => {
                rec.output_tokens =
                    self.choices.values().map(|c| c.events + c.chars.div_ceil(4) as u64).sum();
                rec.token_source = TokenSource::Estimate;
            }
        }
    }

    /// Without usage from the server, the received text of every choice,
    /// taken out to be counted in the model's encoding (exact where the event
    /// count is not); `None` with usage, or when the text is longer than a
    /// count may take (the estimate stays then).
    fn take_text_to_count(&mut self) -> Option<Vec<Received>> {
        if self.usage.and_then(|u| u.completion_tokens).is_some() {
            return None;
        }
        let bytes: usize = self.choices.values().map(|c| c.text.text.len()).sum();
        if bytes > MAX_COUNTED_BYTES {
            return None;
        }
        Some(self.choices.values_mut().map(|c| std::mem::take(&mut c.text)).collect())
    }

    /// The outcome once the body ended (or broke) without a timeout.
    fn finish(self, rec: &mut RequestRecord, broken: Option<String>) {
        if self.keep_answer {
            rec.answer = Some(self.answer);
        }
        // Several choices (n > 1, a batch): when each began and ended.
        if self.choices.len() > 1 {
            rec.choices = self
                .choices
                .iter()
                .map(|(&i, st)| ChoiceTimes { index: i, first: st.first, last: st.last })
                .collect();
        }
        if let Some((outcome, msg)) = self.bad {
            rec.outcome = outcome;
            rec.error = Some(msg);
        } else if !self.done {
            rec.outcome = Outcome::StreamTruncated;
            rec.error = Some(broken.unwrap_or_else(|| "stream ended before [DONE]".into()));
        }
    }
}

/// A response's text is counted only up to this size: tiktoken takes about
/// 0.7 s of CPU per MB of unusual text (seen: 5.6 s for one 8 MB event).
/// Longer answers keep the estimate, and the count source says so.
const MAX_COUNTED_BYTES: usize = 1 << 20;

/// Counts `texts` in the model's tokenizer off the async workers
/// (`tokens::count_off_workers`); the record's times are all taken before.
pub(super) async fn count_tokens(texts: Vec<Received>, tokenizer: &Tokenizer, rec: &mut RequestRecord) {
    if let Some(n) = crate::tokens::count_off_workers(tokenizer, texts).await {
        rec.output_tokens = n;
        rec.token_source = TokenSource::Counted(tokenizer.counter());
    }
}

/// How long the end of a body may take after `[DONE]` for its connection to
/// be kept: a server that ends the body later loses the connection, not the
/// measurement.
const RELEASE_WITHIN: Duration = Duration::from_millis(20);

/// `f`, given at most `limit`; `None` once the limit passed. Without a limit
/// (one no shorter than the request's total timeout, which bounds it anyway)
/// no timer is set: a stream reads once per event, and a timer set and
/// cleared per read was a measurable part of the client's CPU.
///
/// Not an `async fn`: its state would hold `f` twice (the argument, and the
/// awaited timeout that moved it), and a request's futures are moved whole
/// (memcpy) at every layer: the sizes add up per request.
pub(super) fn bounded<F: std::future::Future>(
    limit: Option<Duration>,
    f: F,
) -> impl std::future::Future<Output = Option<F::Output>> {
    use futures_util::FutureExt;
    use futures_util::future::Either;
    match limit {
        Some(d) => Either::Left(tokio::time::timeout(d, f).map(Result::ok)),
        None => Either::Right(f.map(Some)),
    }
}

fn idle_timeout(rec: &mut RequestRecord, idle: Duration) {
    rec.end = Instant::now();
    rec.outcome = Outcome::IdleTimeout;
    rec.error = Some(format!("no data for {idle:?} mid-response"));
}

/// The byte-to-record half of reading a stream, apart from the network so
/// that it can be measured on its own (`benches/hot_paths.rs`): SSE parsing
/// and the delta extraction of every event.
#[derive(Default)]
pub struct StreamDecoder {
    parser: SseParser,
    acc: Accumulator,
}

impl StreamDecoder {
    /// A decoder that also keeps the first choice's text (`RequestRecord::answer`).
    pub fn keeping_answer() -> Self {
        StreamDecoder { acc: Accumulator { keep_answer: true, ..Default::default() }, ..Default::default() }
    }

    /// The decoder of `req`'s stream: chat chunks or the Responses API's
    /// events, keeping the answer when a session's next turn needs it.
    pub fn for_request(req: &crate::workload::WorkRequest) -> Self {
        let responses = req.endpoint == crate::scenario::Endpoint::Responses;
        let acc = Accumulator { keep_answer: req.keep_answer, responses, ..Default::default() };
        StreamDecoder { acc, ..Default::default() }
    }

    /// Feeds bytes received at `at`; what their events say goes into `rec`.
    pub fn push(&mut self, bytes: &[u8], at: Instant, rec: &mut RequestRecord) {
        let acc = &mut self.acc;
        self.parser.push(bytes, |ev| acc.on_event(ev.data, at, rec));
    }

    /// `[DONE]` was received.
    pub fn done(&self) -> bool {
        self.acc.done
    }

    /// Settles the outcome once the body ended (`broken`: how, if it broke);
    /// returns the text to count when the server sent no usage
    /// (`count_tokens`).
    pub fn finish(mut self, rec: &mut RequestRecord, broken: Option<String>) -> Option<Vec<Received>> {
        let texts = self.acc.take_text_to_count();
        self.acc.finish(rec, broken);
        texts
    }
}

/// Reads an SSE stream to `[DONE]` (or its end).
pub(super) async fn read_stream(
    mut resp: Answer<'_>,
    rec: &mut RequestRecord,
    idle: Option<Duration>,
    req: &crate::workload::WorkRequest,
) {
    let tokenizer = &req.tokenizer;
    let mut decoder = StreamDecoder::for_request(req);
    let mut broken = None;
    loop {
        let Some(item) = bounded(idle, resp.chunk()).await else {
            return idle_timeout(rec, idle.unwrap_or_default());
        };
        let Some(item) = item else { break };
        match item {
            Ok(bytes) => {
                // When the read that brought it happened (`Answer::arrived`),
                // not when this task got to it, and before any parsing:
                // neither the client's scheduling nor its parsing is server
                // latency.
                let at = resp.arrived();
                rec.end = at;
                decoder.push(&bytes, at, rec);
            }
            Err(e) => {
                // A close or a reset brings no bytes to time it by.
                rec.end = Instant::now();
                broken = Some(e);
                break;
            }
        }
        if decoder.done() {
            // The body's end (an HTTP/1.1 chunk terminator) follows `[DONE]`
            // at once from a well-behaved server: read it, outside the
            // measured time, so the connection can serve again.
            resp.release(RELEASE_WITHIN).await;
            break;
        }
    }
    if let Some(texts) = decoder.finish(rec, broken) {
        count_tokens(texts, tokenizer, rec).await;
    }
}

/// Reads a whole JSON body. The answer arrives at once: TTFT is the e2e time.
pub(super) async fn read_whole(
    mut resp: Answer<'_>,
    rec: &mut RequestRecord,
    idle: Option<Duration>,
    req: &crate::workload::WorkRequest,
) {
    let tokenizer = &req.tokenizer;
    // Most bodies come in one read: that chunk is parsed where it lies, and
    // only a body of several is copied together.
    let mut bytes = Whole::Empty;
    // When the last bytes came: taken as they are handed over, since the
    // body's end gives an HTTP/1.1 connection back to the pool, where
    // another request's reads may move the connection's time on.
    let mut last = None;
    loop {
        let Some(item) = bounded(idle, resp.chunk()).await else {
            return idle_timeout(rec, idle.unwrap_or_default());
        };
        match item {
            None => break,
            Some(Ok(b)) => {
                last = Some(resp.arrived());
                bytes.push(b);
            }
            Some(Err(e)) => {
                rec.end = Instant::now();
                rec.outcome = Outcome::StreamTruncated;
                rec.error = Some(e);
                return;
            }
        }
    }
    let at = last.unwrap_or_else(Instant::now);
    rec.end = at;
    let bytes = bytes.as_slice();
    let parsed = match req.endpoint {
        crate::scenario::Endpoint::Embeddings => return read_embeddings(bytes, at, rec, req.prompts),
        crate::scenario::Endpoint::Responses => {
            serde_json::from_slice::<super::chunk::ResponsesObject>(bytes).map(|r| r.into_body())
        }
        _ => super::chunk::parse_body(bytes),
    };
    let body: Body = match parsed {
        Ok(b) => b,
        Err(e) => {
            rec.outcome = Outcome::MalformedEvent;
            rec.error = Some(format!("response is not the API's JSON: {e}"));
            return;
        }
    };
    if body.error.is_none() {
        rec.first_token = Some(at);
    }
    let mut acc = Accumulator { done: true, keep_answer: req.keep_answer, ..Default::default() };
    // The text is kept only to be counted, when usage does not say.
    let count_text = body.usage.and_then(|u| u.completion_tokens).is_none();
    for c in &body.choices {
        if acc.keep_answer && c.index == 0 {
            acc.answer.push_str(c.content().unwrap_or_default());
        }
        let chars = c.content().map_or(0, str::len) + c.reasoning().map_or(0, str::len);
        let st = acc.choices.entry(c.index).or_default();
        st.chars += chars;
        if count_text {
            st.text.text.push_str(c.content().unwrap_or_default());
            st.text.text.push_str(c.reasoning().unwrap_or_default());
        }
    }
    acc.on_body(body, rec);
    let texts = acc.take_text_to_count();
    acc.finish(rec, None);
    if let Some(texts) = texts {
        count_tokens(texts, tokenizer, rec).await;
    }
}

/// A whole body as it is read: no bytes, one chunk, or several copied
/// together.
enum Whole {
    Empty,
    One(bytes::Bytes),
    Many(Vec<u8>),
}

impl Whole {
    fn push(&mut self, b: bytes::Bytes) {
        *self = match std::mem::replace(self, Whole::Empty) {
            Whole::Empty => Whole::One(b),
            Whole::One(first) => Whole::Many([&first[..], &b[..]].concat()),
            Whole::Many(mut all) => {
                all.extend_from_slice(&b);
                Whole::Many(all)
            }
        }
    }

    fn as_slice(&self) -> &[u8] {
        match self {
            Whole::Empty => &[],
            Whole::One(b) => b,
            Whole::Many(v) => v,
        }
    }
}

/// An embeddings answer: as many vectors as inputs, the input tokens from
/// its usage, no output.
fn read_embeddings(bytes: &[u8], at: Instant, rec: &mut RequestRecord, inputs: u32) {
    let body: super::chunk::Embeddings = match serde_json::from_slice(bytes) {
        Ok(b) => b,
        Err(e) => {
            rec.outcome = Outcome::MalformedEvent;
            rec.error = Some(format!("response is not the API's JSON: {e}"));
            return;
        }
    };
    if let Some(err) = body.error {
        rec.outcome = Outcome::ApiError;
        rec.error = Some(err.message);
        return;
    }
    if body.data.len() != inputs as usize {
        rec.outcome = Outcome::MalformedEvent;
        rec.error = Some(format!("{} embeddings came back for {inputs} inputs", body.data.len()));
        return;
    }
    // No first token: the vectors arrive at once, and an embedding's TTFT
    // would only repeat its e2e (and pull down a total's TTFT).
    let _ = at;
    rec.output_tokens = 0;
    rec.token_source = TokenSource::Usage;
    if let Some(p) = body.usage.and_then(|u| u.prompt_tokens) {
        rec.prompt_tokens = p;
        rec.prompt_from_usage = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> RequestRecord {
        RequestRecord::example(Instant::now())
    }

    #[test]
    fn a_whole_body_is_its_chunks_in_order_however_many() {
        let body = br#"{"choices":[{"text":"h\u00e9llo","finish_reason":"stop"}]}"#;
        for cuts in [vec![], vec![body.len()], vec![1, body.len()], vec![3, 20, 21, body.len()]] {
            let mut whole = Whole::Empty;
            let mut from = 0;
            for to in cuts.iter().copied() {
                whole.push(bytes::Bytes::copy_from_slice(&body[from..to]));
                from = to;
            }
            let expected: &[u8] = if cuts.is_empty() { b"" } else { body };
            assert_eq!(whole.as_slice(), expected, "cut at {cuts:?}");
        }
    }

    /// The Responses API's typed events, on the chat timeline: deltas are
    /// content, `completed` ends the stream with its usage, `failed` and
    /// `error` are API errors, and a stream without an end is truncated.
    #[test]
    fn responses_events_map_onto_the_same_timeline() {
        let responses = || Accumulator { responses: true, ..Default::default() };
        let (mut rec, mut acc, t) = (record(), responses(), Instant::now());
        for ev in [
            r#"{"type":"response.created","sequence_number":0,"response":{"status":"in_progress"}}"#,
            r#"{"type":"response.reasoning_summary_text.delta","delta":"hm","sequence_number":1}"#,
            r#"{"type":"response.output_text.delta","delta":"a","sequence_number":2}"#,
            r#"{"type":"response.output_text.delta","delta":"b","sequence_number":3}"#,
            r#"{"type":"response.incomplete","sequence_number":4,"response":{"status":"incomplete","incomplete_details":{"reason":"max_output_tokens"},"usage":{"input_tokens":5,"output_tokens":9,"input_tokens_details":{"cached_tokens":2},"output_tokens_details":{"reasoning_tokens":7}}}}"#,
        ] {
            acc.on_event(ev, t, &mut rec);
        }
        assert!(acc.done, "the incomplete event ends the stream");
        assert!(rec.first_reasoning.is_some() && rec.first_answer.is_some() && rec.first_token.is_some());
        assert_eq!(rec.itl.len(), 2);
        assert_eq!((rec.prompt_tokens, rec.output_tokens, rec.reasoning_tokens), (5, 9, Some(7)));
        assert_eq!((rec.cached_tokens, rec.finish_reason.as_deref()), (Some(2), Some("length")));
        acc.finish(&mut rec, None);
        assert_eq!(rec.outcome, Outcome::Ok);

        let (mut rec, mut acc) = (record(), responses());
        acc.on_event(r#"{"type":"response.output_text.delta","delta":"a"}"#, t, &mut rec);
        acc.on_event(
            r#"{"type":"response.failed","response":{"status":"failed","error":{"message":"boom"}}}"#,
            t,
            &mut rec,
        );
        acc.finish(&mut rec, None);
        assert_eq!((rec.outcome, rec.error.as_deref()), (Outcome::ApiError, Some("boom")));

        let (mut rec, mut acc) = (record(), responses());
        acc.on_event(r#"{"type":"error","message":"overloaded","code":"server_error"}"#, t, &mut rec);
        acc.finish(&mut rec, None);
        assert_eq!((rec.outcome, rec.error.as_deref()), (Outcome::ApiError, Some("overloaded")));

        let (mut rec, mut acc) = (record(), responses());
        acc.on_event(r#"{"type":"response.output_text.delta","delta":"a"}"#, t, &mut rec);
        acc.finish(&mut rec, None);
        assert_eq!(rec.outcome, Outcome::StreamTruncated, "no response.completed");
    }

    #[test]
    fn per_choice_tokens_and_finish_reasons() {
        let mut rec = record();
        let mut acc = Accumulator::default();
        let t = Instant::now();
        for ev in [
            r#"{"choices":[{"index":0,"delta":{"role":"assistant"}},{"index":1,"delta":{"role":"assistant"}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"content":"a"}}]}"#,
            r#"{"choices":[{"index":1,"delta":{"reasoning_content":"r"}}]}"#,
            r#"{"choices":[{"index":1,"delta":{"content":"b"}},{"index":0,"delta":{"content":"c"}}]}"#,
            r#"{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#,
            r#"{"choices":[{"index":1,"delta":{},"finish_reason":"length"}]}"#,
            "[DONE]",
        ] {
            acc.on_event(ev, t, &mut rec);
        }
        assert_eq!(rec.output_tokens, 4);
        assert_eq!(rec.token_source, TokenSource::Estimate);
        assert_eq!(rec.finish_reasons, ["stop", "length"]);
        assert_eq!(rec.itl.len(), 2, "gaps between the three content events, reasoning included");
        acc.finish(&mut rec, None);
        assert_eq!(rec.outcome, Outcome::Ok);
    }

    #[test]
    fn usage_wins_over_estimate_and_errors_win_over_truncation() {
        let mut rec = record();
        let mut acc = Accumulator::default();
        let t = Instant::now();
        acc.on_event(r#"{"choices":[{"delta":{"content":"a"}}]}"#, t, &mut rec);
        acc.on_event(r#"{"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":9}}"#, t, &mut rec);
        assert_eq!((rec.output_tokens, rec.prompt_tokens, rec.token_source), (9, 5, TokenSource::Usage));
        acc.on_event(r#"{"error":{"message":"overloaded"}}"#, t, &mut rec);
        acc.finish(&mut rec, None);
        assert_eq!(rec.outcome, Outcome::ApiError);
        assert_eq!(rec.error.as_deref(), Some("overloaded"));
    }
}
