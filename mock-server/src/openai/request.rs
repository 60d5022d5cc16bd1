//! Requests, parsed leniently: unknown fields are ignored, as the real API ignores what
//! it does not use, and only what shapes the simulated generation is kept.

use serde::Deserialize;

use super::{ApiError, Endpoint};
use crate::text::count_words;

/// Default output length when the request gives none: the legacy completions API's
/// default, and a chat reply of typical size.
const DEFAULT_COMPLETION_TOKENS: u32 = 16;
const DEFAULT_CHAT_TOKENS: u32 = 256;

/// Largest output a request may ask for, like a model's context limit. It bounds the
/// memory of a non-streaming response.
const MAX_OUTPUT_TOKENS: i64 = 131_072;

/// What a valid request asks the simulator to do.
#[derive(Debug, PartialEq)]
pub(crate) struct Generation {
    pub(crate) model: String,
    pub(crate) prompt_tokens: u64,
    pub(crate) max_tokens: u32,
    pub(crate) stream: bool,
    pub(crate) include_usage: bool,
}

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
            Self::Parts(parts) => parts.iter().filter_map(|p| p.text.as_deref()).map(count_words).sum(),
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
    let prompt_tokens = messages.iter().filter_map(|m| m.content.as_ref()).map(MessageContent::tokens).sum();
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
        _ => Err(ApiError::invalid("you must provide a model parameter", Some("model"), None)),
    }
}

fn output_tokens(param: &'static str, value: i64) -> Result<u32, ApiError> {
    if value < 1 {
        return Err(ApiError::invalid(
            format!(
                "Invalid '{param}': integer below minimum value. Expected a value >= 1, but got {value} instead."
            ),
            Some(param),
            Some("integer_below_min_value"),
        ));
    }
    if value > MAX_OUTPUT_TOKENS {
        return Err(ApiError::invalid(
            format!(
                "Invalid '{param}': integer above maximum value. Expected a value <= {MAX_OUTPUT_TOKENS}, but got {value} instead."
            ),
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
        let tokens =
            |prompt: Value| completion(json!({"model": "m", "prompt": prompt})).expect("valid").prompt_tokens;
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
            assert_eq!(e.status, axum::http::StatusCode::BAD_REQUEST);
        }
    }
}
