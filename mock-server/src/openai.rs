//! The OpenAI wire format: what we accept, what we send, and the error shape.
//!
//! Requests are parsed leniently (unknown fields are ignored, as the real API ignores
//! what it does not use) into one [`Generation`], so that the timing code never looks
//! at JSON. Responses are defined once, as the serde types below; the SSE token event,
//! the hot path, is rendered from the same types with a placeholder and then reused as
//! a prefix and a suffix.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::stream::SseFrames;
use crate::text::count_words;

/// Default output length when the request gives none: the legacy completions API's
/// default, and a chat reply of typical size.
const DEFAULT_COMPLETION_TOKENS: u32 = 16;
const DEFAULT_CHAT_TOKENS: u32 = 256;

/// Largest output a request may ask for, like a model's context limit. It bounds the
/// memory of a non-streaming response.
const MAX_OUTPUT_TOKENS: i64 = 131_072;

const SYSTEM_FINGERPRINT: &str = "fp_llmload_sim";
const FINISH_LENGTH: &str = "length";
const DONE: &[u8] = b"data: [DONE]\n\n";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endpoint {
    Chat,
    Completions,
}

/// What a valid request asks the simulator to do.
#[derive(Debug, PartialEq)]
pub(crate) struct Generation {
    pub(crate) model: String,
    pub(crate) prompt_tokens: u64,
    pub(crate) max_tokens: u32,
    pub(crate) stream: bool,
    pub(crate) include_usage: bool,
}

// ---- requests ------------------------------------------------------------------------

#[derive(Deserialize)]
struct ChatRequest {
    model: Option<String>,
    messages: Option<Vec<ChatMessage>>,
    max_tokens: Option<i64>,
    max_completion_tokens: Option<i64>,
    n: Option<i64>,
    stream: Option<bool>,
    stream_options: Option<StreamOptions>,
}

#[derive(Deserialize)]
struct ChatMessage {
    content: Option<MessageContent>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum MessageContent {
    Text(String),
    Parts(Vec<ContentPart>),
}

/// A part of a multi-part message. Only text parts carry tokens we count; image and
/// audio parts have no `text`.
#[derive(Deserialize)]
struct ContentPart {
    text: Option<String>,
}

#[derive(Deserialize)]
struct CompletionRequest {
    model: Option<String>,
    prompt: Option<Prompt>,
    max_tokens: Option<i64>,
    n: Option<i64>,
    best_of: Option<i64>,
    stream: Option<bool>,
    stream_options: Option<StreamOptions>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Prompt {
    Text(String),
    Texts(Vec<String>),
    Tokens(Vec<u64>),
    TokenLists(Vec<Vec<u64>>),
}

#[derive(Deserialize)]
struct StreamOptions {
    include_usage: Option<bool>,
}

impl MessageContent {
    fn tokens(&self) -> u64 {
        match self {
            Self::Text(s) => count_words(s),
            Self::Parts(parts) => parts
                .iter()
                .filter_map(|p| p.text.as_deref())
                .map(count_words)
                .sum(),
        }
    }
}

impl Prompt {
    /// A prompt array counts as the prompts joined (batching is not simulated yet).
    /// Token-id prompts count their ids.
    fn tokens(&self) -> u64 {
        match self {
            Self::Text(s) => count_words(s),
            Self::Texts(v) => v.iter().map(|s| count_words(s)).sum(),
            Self::Tokens(v) => v.len() as u64,
            Self::TokenLists(v) => v.iter().map(|t| t.len() as u64).sum(),
        }
    }
}

pub(crate) fn parse(endpoint: Endpoint, body: &[u8]) -> Result<Generation, ApiError> {
    match endpoint {
        Endpoint::Chat => parse_chat(body),
        Endpoint::Completions => parse_completion(body),
    }
}

fn parse_chat(body: &[u8]) -> Result<Generation, ApiError> {
    let req: ChatRequest = serde_json::from_slice(body).map_err(ApiError::unparsable)?;
    let model = require_model(req.model)?;
    let messages = req.messages.ok_or_else(|| ApiError::missing("messages"))?;
    let prompt_tokens = messages
        .iter()
        .filter_map(|m| m.content.as_ref())
        .map(MessageContent::tokens)
        .sum();
    require_one("n", req.n)?;
    // max_completion_tokens supersedes the deprecated max_tokens.
    let max_tokens = match (req.max_completion_tokens, req.max_tokens) {
        (Some(v), _) => output_tokens("max_completion_tokens", v)?,
        (None, Some(v)) => output_tokens("max_tokens", v)?,
        (None, None) => DEFAULT_CHAT_TOKENS,
    };
    Ok(Generation {
        model,
        prompt_tokens,
        max_tokens,
        stream: req.stream.unwrap_or(false),
        include_usage: include_usage(req.stream_options),
    })
}

fn parse_completion(body: &[u8]) -> Result<Generation, ApiError> {
    let req: CompletionRequest = serde_json::from_slice(body).map_err(ApiError::unparsable)?;
    let model = require_model(req.model)?;
    require_one("n", req.n)?;
    require_one("best_of", req.best_of)?;
    let max_tokens = match req.max_tokens {
        Some(v) => output_tokens("max_tokens", v)?,
        None => DEFAULT_COMPLETION_TOKENS,
    };
    Ok(Generation {
        model,
        prompt_tokens: req.prompt.as_ref().map_or(0, Prompt::tokens),
        max_tokens,
        stream: req.stream.unwrap_or(false),
        include_usage: include_usage(req.stream_options),
    })
}

fn require_model(model: Option<String>) -> Result<String, ApiError> {
    match model {
        Some(m) if !m.is_empty() => Ok(m),
        _ => Err(ApiError::invalid(
            "you must provide a model parameter",
            Some("model"),
            None,
        )),
    }
}

fn output_tokens(param: &'static str, value: i64) -> Result<u32, ApiError> {
    if value < 1 {
        return Err(ApiError::invalid(
            format!("Invalid '{param}': integer below minimum value. Expected a value >= 1, but got {value} instead."),
            Some(param),
            Some("integer_below_min_value"),
        ));
    }
    if value > MAX_OUTPUT_TOKENS {
        return Err(ApiError::invalid(
            format!("Invalid '{param}': integer above maximum value. Expected a value <= {MAX_OUTPUT_TOKENS}, but got {value} instead."),
            Some(param),
            Some("integer_above_max_value"),
        ));
    }
    // In range by the checks above.
    Ok(value as u32)
}

/// Several choices per request are not simulated yet; saying so beats returning one
/// choice and letting the client count the wrong thing.
fn require_one(param: &'static str, value: Option<i64>) -> Result<(), ApiError> {
    match value {
        None | Some(1) => Ok(()),
        Some(v) => Err(ApiError::invalid(
            format!("'{param}' = {v} is not supported by the simulator yet (only 1)"),
            Some(param),
            Some("unsupported_value"),
        )),
    }
}

fn include_usage(options: Option<StreamOptions>) -> bool {
    options.and_then(|o| o.include_usage).unwrap_or(false)
}

// ---- errors --------------------------------------------------------------------------

/// An error answered in OpenAI's shape, `{"error":{"message","type","param","code"}}`.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    message: String,
    kind: &'static str,
    param: Option<&'static str>,
    code: Option<&'static str>,
}

impl ApiError {
    pub(crate) fn invalid(
        message: impl Into<String>,
        param: Option<&'static str>,
        code: Option<&'static str>,
    ) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
            kind: "invalid_request_error",
            param,
            code,
        }
    }

    fn missing(param: &'static str) -> Self {
        Self::invalid(
            format!("Missing required parameter: '{param}'."),
            Some(param),
            Some("missing_required_parameter"),
        )
    }

    fn unparsable(e: serde_json::Error) -> Self {
        Self::invalid(
            format!("We could not parse the JSON body of your request: {e}"),
            None,
            None,
        )
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: ErrorDetail<'a>,
}

#[derive(Serialize)]
struct ErrorDetail<'a> {
    message: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    param: Option<&'a str>,
    code: Option<&'a str>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                message: &self.message,
                kind: self.kind,
                param: self.param,
                code: self.code,
            },
        };
        json_response(self.status, &body)
    }
}

// ---- responses -----------------------------------------------------------------------

/// What every chunk and response of one request shares.
pub(crate) struct Meta<'a> {
    pub(crate) id: &'a str,
    pub(crate) created: u64,
    pub(crate) model: &'a str,
}

#[derive(Serialize, Clone, Copy)]
pub(crate) struct Usage {
    pub(crate) prompt_tokens: u64,
    pub(crate) completion_tokens: u64,
    pub(crate) total_tokens: u64,
}

/// The `usage` field of a chunk: absent unless usage was asked for; then `null` on
/// every chunk but the last, as the real API does. (`Some(None)` serializes as `null`.)
type ChunkUsage = Option<Option<Usage>>;

#[derive(Serialize)]
struct ChatChunk<'a> {
    id: &'a str,
    object: &'static str,
    created: u64,
    model: &'a str,
    system_fingerprint: &'static str,
    choices: &'a [ChatChunkChoice<'a>],
    #[serde(skip_serializing_if = "Option::is_none")]
    usage: ChunkUsage,
}

#[derive(Serialize)]
struct ChatChunkChoice<'a> {
    index: u32,
    delta: Delta<'a>,
    /// Always `null`; `()` serializes as `null`.
    logprobs: (),
    finish_reason: Option<&'static str>,
}

#[derive(Serialize)]
struct Delta<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content: Option<&'a str>,
}

/// A legacy completion, streamed or not: the two differ only in `usage`.
#[derive(Serialize)]
struct Completion<'a> {
    id: &'a str,
    object: &'static str,
    created: u64,
    model: &'a str,
    choices: &'a [CompletionChoice<'a>],
    #[serde(skip_serializing_if = "Option::is_none")]
    usage: ChunkUsage,
}

#[derive(Serialize)]
struct CompletionChoice<'a> {
    text: &'a str,
    index: u32,
    logprobs: (),
    finish_reason: Option<&'static str>,
}

#[derive(Serialize)]
struct ChatCompletion<'a> {
    id: &'a str,
    object: &'static str,
    created: u64,
    model: &'a str,
    system_fingerprint: &'static str,
    choices: [ChatChoice<'a>; 1],
    usage: Usage,
}

#[derive(Serialize)]
struct ChatChoice<'a> {
    index: u32,
    message: Message<'a>,
    logprobs: (),
    finish_reason: &'static str,
}

#[derive(Serialize)]
struct Message<'a> {
    role: &'static str,
    content: &'a str,
}

pub(crate) fn id_prefix(endpoint: Endpoint) -> &'static str {
    match endpoint {
        Endpoint::Chat => "chatcmpl-",
        Endpoint::Completions => "cmpl-",
    }
}

/// The complete non-streaming response.
pub(crate) fn response(endpoint: Endpoint, meta: &Meta, text: &str, usage: Usage) -> Response {
    match endpoint {
        Endpoint::Chat => json_response(StatusCode::OK, &ChatCompletion {
            id: meta.id,
            object: "chat.completion",
            created: meta.created,
            model: meta.model,
            system_fingerprint: SYSTEM_FINGERPRINT,
            choices: [ChatChoice {
                index: 0,
                message: Message {
                    role: "assistant",
                    content: text,
                },
                logprobs: (),
                finish_reason: FINISH_LENGTH,
            }],
            usage,
        }),
        Endpoint::Completions => json_response(StatusCode::OK, &Completion {
            id: meta.id,
            object: "text_completion",
            created: meta.created,
            model: meta.model,
            choices: &[CompletionChoice {
                text,
                index: 0,
                logprobs: (),
                finish_reason: Some(FINISH_LENGTH),
            }],
            usage: Some(Some(usage)),
        }),
    }
}

/// The SSE events of a streaming response, rendered ahead of time.
pub(crate) fn sse_frames(
    endpoint: Endpoint,
    meta: &Meta,
    usage: Usage,
    include_usage: bool,
) -> SseFrames {
    let chunk_usage = include_usage.then_some(None);
    let final_usage = include_usage.then_some(Some(usage));
    let (open, token, finish, usage_event) = match endpoint {
        Endpoint::Chat => {
            let chunk = |choices: &[ChatChunkChoice], usage| {
                sse_event(&ChatChunk {
                    id: meta.id,
                    object: "chat.completion.chunk",
                    created: meta.created,
                    model: meta.model,
                    system_fingerprint: SYSTEM_FINGERPRINT,
                    choices,
                    usage,
                })
            };
            let delta = |role, content, finish_reason| ChatChunkChoice {
                index: 0,
                delta: Delta { role, content },
                logprobs: (),
                finish_reason,
            };
            (
                Some(chunk(&[delta(Some("assistant"), Some(""), None)], chunk_usage)),
                chunk(&[delta(None, Some(PLACEHOLDER), None)], chunk_usage),
                chunk(&[delta(None, None, Some(FINISH_LENGTH))], chunk_usage),
                chunk(&[], final_usage),
            )
        }
        Endpoint::Completions => {
            let chunk = |choices: &[CompletionChoice], usage| {
                sse_event(&Completion {
                    id: meta.id,
                    object: "text_completion",
                    created: meta.created,
                    model: meta.model,
                    choices,
                    usage,
                })
            };
            let choice = |text, finish_reason| CompletionChoice {
                text,
                index: 0,
                logprobs: (),
                finish_reason,
            };
            (
                None,
                chunk(&[choice(PLACEHOLDER, None)], chunk_usage),
                chunk(&[choice("", Some(FINISH_LENGTH))], chunk_usage),
                chunk(&[], final_usage),
            )
        }
    };
    let (token_prefix, token_suffix) = split_at_placeholder(token);
    let mut tail = finish;
    if include_usage {
        tail.extend_from_slice(&usage_event);
    }
    tail.extend_from_slice(DONE);
    SseFrames {
        open: open.map(Bytes::from),
        token_prefix,
        token_suffix,
        tail: Some(Bytes::from(tail)),
    }
}

/// Stands for the token's text in the rendered token event. serde_json writes it as
/// `\u0000`, which nothing else in the event can produce after the content field: the
/// model name (which could) comes before it, and only `usage: null` after.
const PLACEHOLDER: &str = "\u{0}";
const PLACEHOLDER_JSON: &[u8] = b"\\u0000";

fn split_at_placeholder(event: Vec<u8>) -> (Bytes, Bytes) {
    let at = event
        .windows(PLACEHOLDER_JSON.len())
        .rposition(|w| w == PLACEHOLDER_JSON)
        .expect("the token event is rendered with the placeholder");
    let event = Bytes::from(event);
    (
        event.slice(..at),
        event.slice(at + PLACEHOLDER_JSON.len()..),
    )
}

fn sse_event(value: &impl Serialize) -> Vec<u8> {
    let mut out = b"data: ".to_vec();
    serde_json::to_writer(&mut out, value).expect("plain structs serialize to JSON");
    out.extend_from_slice(b"\n\n");
    out
}

/// A JSON response. Our response types have only string keys and finite numbers, so
/// serialization cannot fail.
pub(crate) fn json_response(status: StatusCode, value: &impl Serialize) -> Response {
    let body = serde_json::to_vec(value).expect("plain structs serialize to JSON");
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn chat(body: Value) -> Result<Generation, ApiError> {
        parse(Endpoint::Chat, body.to_string().as_bytes())
    }

    fn completion(body: Value) -> Result<Generation, ApiError> {
        parse(Endpoint::Completions, body.to_string().as_bytes())
    }

    #[test]
    fn chat_counts_string_and_part_contents() {
        let g = chat(json!({
            "model": "m",
            "messages": [
                {"role": "system", "content": "be brief"},
                {"role": "user", "content": [
                    {"type": "text", "text": "three words here"},
                    {"type": "image_url", "image_url": {"url": "http://x"}}
                ]},
                {"role": "assistant", "content": null, "tool_calls": []}
            ],
            "max_completion_tokens": 7, "max_tokens": 99,
            "stream": true, "stream_options": {"include_usage": true}
        }))
        .expect("valid");
        assert_eq!(
            g,
            Generation {
                model: "m".into(),
                prompt_tokens: 5,
                max_tokens: 7,
                stream: true,
                include_usage: true
            }
        );
        let g = chat(json!({"model": "m", "messages": []})).expect("valid");
        assert_eq!((g.max_tokens, g.stream, g.include_usage), (256, false, false));
    }

    #[test]
    fn completion_prompt_shapes() {
        let tokens = |prompt: Value| {
            completion(json!({"model": "m", "prompt": prompt}))
                .expect("valid")
                .prompt_tokens
        };
        assert_eq!(tokens(json!("a b c")), 3);
        assert_eq!(tokens(json!(["a b", "c"])), 3);
        assert_eq!(tokens(json!([1, 2, 3, 4])), 4);
        assert_eq!(tokens(json!([[1, 2], [3]])), 3);
        let g = completion(json!({"model": "m"})).expect("valid");
        assert_eq!((g.prompt_tokens, g.max_tokens), (0, 16));
    }

    #[test]
    fn rejects_what_it_cannot_simulate() {
        let param = |r: Result<Generation, ApiError>| r.expect_err("invalid").param;
        assert_eq!(param(chat(json!({"messages": []}))), Some("model"));
        assert_eq!(param(chat(json!({"model": "", "messages": []}))), Some("model"));
        assert_eq!(param(chat(json!({"model": "m"}))), Some("messages"));
        let zero = json!({"model": "m", "messages": [], "max_tokens": 0});
        assert_eq!(param(chat(zero)), Some("max_tokens"));
        let huge = json!({"model": "m", "max_tokens": 1_000_000_000_000u64});
        assert_eq!(param(completion(huge)), Some("max_tokens"));
        assert_eq!(param(completion(json!({"model": "m", "n": 2}))), Some("n"));
        for bad in ["", "{", "[]", "null", "3", "{\"model\": 3}", "{\"model\":\"m\",\"prompt\":{}}"] {
            let e = parse(Endpoint::Completions, bad.as_bytes()).expect_err(bad);
            assert_eq!(e.status, StatusCode::BAD_REQUEST);
        }
    }

    /// The pre-rendered token event must be exactly what serde would write.
    #[test]
    fn token_template_matches_serialized_chunk() {
        let meta = Meta {
            id: "chatcmpl-1",
            created: 5,
            model: "we\u{0}ird \"model\"",
        };
        let usage = Usage {
            prompt_tokens: 1,
            completion_tokens: 2,
            total_tokens: 3,
        };
        for endpoint in [Endpoint::Chat, Endpoint::Completions] {
            for include_usage in [false, true] {
                let frames = sse_frames(endpoint, &meta, usage, include_usage);
                let event = frames.token_prefix.iter().chain(b" word").chain(&frames.token_suffix);
                let event: Vec<u8> = event.copied().collect();
                let json = event
                    .strip_prefix(b"data: ")
                    .and_then(|e| e.strip_suffix(b"\n\n"))
                    .expect("SSE framing");
                let v: Value = serde_json::from_slice(json).expect("JSON");
                assert_eq!(v["model"], json!(meta.model));
                let text = match endpoint {
                    Endpoint::Chat => &v["choices"][0]["delta"]["content"],
                    Endpoint::Completions => &v["choices"][0]["text"],
                };
                assert_eq!(text, &json!(" word"));
                assert_eq!(v.get("usage").is_some(), include_usage);
            }
        }
    }
}
