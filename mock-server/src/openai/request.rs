//! Requests, parsed leniently: unknown fields are ignored, as the real API ignores what
//! it does not use, and only what shapes the simulated generation is kept. What the real
//! API refuses, we refuse with its status, message shape and `param`.

use serde::Deserialize;

use super::{ApiError, Endpoint};
use crate::config::MAX_OUTPUT_TOKENS;
use crate::text::count_words;

/// Default output length when the request gives none: the legacy completions API's
/// default, and a chat reply of typical size.
const DEFAULT_COMPLETION_TOKENS: u32 = 16;
const DEFAULT_CHAT_TOKENS: u32 = 256;

/// The API's ranges for `n`, `best_of` and the number of stop sequences.
const MAX_N: i64 = 128;
const MAX_BEST_OF: i64 = 20;
const MAX_STOPS: usize = 4;

/// Simulator limits, far above what a load test sends: prompts in one request, sequences
/// generated for one request (prompts × best_of), and tokens a non-streaming response
/// holds in memory (choices × max_tokens).
const MAX_PROMPTS: usize = 2048;
const MAX_SEQUENCES: u64 = 4096;
const MAX_BUFFERED_TOKENS: u64 = 1 << 22;

/// What a valid request asks the simulator to do.
#[derive(Debug, PartialEq)]
pub(crate) struct Generation {
    pub(crate) model: String,
    /// Prompt tokens of each prompt: one entry for chat, one per prompt of an array.
    pub(crate) prompts: Vec<u64>,
    pub(crate) max_tokens: u32,
    /// Choices returned per prompt.
    pub(crate) n: u32,
    /// Sequences generated per prompt, at least `n`; the first `n` are returned.
    pub(crate) best_of: u32,
    /// Non-empty stop strings.
    pub(crate) stop: Vec<String>,
    pub(crate) stream: bool,
    pub(crate) include_usage: bool,
}

impl Generation {
    pub(crate) fn prompt_tokens(&self) -> u64 {
        self.prompts.iter().sum()
    }

    /// Sequences generated: what takes capacity.
    pub(crate) fn sequences(&self) -> u32 {
        // Bounded by MAX_SEQUENCES at parse time.
        self.prompts.len() as u32 * self.best_of
    }

    /// The API's estimate for rate limiting, made before generating: the prompt plus
    /// max_tokens for every sequence, i.e. prompt + max_tokens × max(n, best_of).
    pub(crate) fn estimated_tokens(&self) -> u64 {
        self.prompt_tokens() + u64::from(self.max_tokens) * u64::from(self.sequences())
    }
}

#[derive(Deserialize)]
struct ChatRequest {
    model: Option<String>,
    messages: Option<Vec<ChatMessage>>,
    max_tokens: Option<i64>,
    max_completion_tokens: Option<i64>,
    n: Option<i64>,
    stop: Option<Stop>,
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
    stop: Option<Stop>,
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
#[serde(untagged)]
enum Stop {
    One(String),
    Many(Vec<String>),
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
    /// Tokens of each prompt: an array of strings or of token lists is a batch of
    /// prompts; a single string or token list is one.
    fn tokens(&self) -> Vec<u64> {
        match self {
            Self::Text(s) => vec![count_words(s)],
            Self::Texts(v) => v.iter().map(|s| count_words(s)).collect(),
            Self::Tokens(v) => vec![v.len() as u64],
            Self::TokenLists(v) => v.iter().map(|t| t.len() as u64).collect(),
        }
    }
}

pub(crate) fn parse(endpoint: Endpoint, body: &[u8]) -> Result<Generation, ApiError> {
    let g = match endpoint {
        Endpoint::Chat => parse_chat(body)?,
        Endpoint::Completions => parse_completion(body)?,
    };
    let sequences = g.prompts.len() as u64 * u64::from(g.best_of);
    if sequences > MAX_SEQUENCES {
        return Err(ApiError::invalid(
            format!(
                "The simulator generates at most {MAX_SEQUENCES} sequences per request (prompts × max(n, best_of)); this one asks for {sequences}."
            ),
            Some("n"),
            Some("simulator_limit"),
        ));
    }
    let buffered = g.prompts.len() as u64 * u64::from(g.n) * u64::from(g.max_tokens);
    if !g.stream && buffered > MAX_BUFFERED_TOKENS {
        return Err(ApiError::invalid(
            format!(
                "The simulator returns at most {MAX_BUFFERED_TOKENS} tokens in one non-streaming response (choices × max_tokens); this one could return {buffered}. Stream it instead."
            ),
            Some("max_tokens"),
            Some("simulator_limit"),
        ));
    }
    Ok(g)
}

fn parse_chat(body: &[u8]) -> Result<Generation, ApiError> {
    let req: ChatRequest = serde_json::from_slice(body).map_err(ApiError::unparsable)?;
    let model = require_model(req.model)?;
    let messages = req.messages.ok_or_else(|| ApiError::missing("messages"))?;
    let prompt_tokens = messages.iter().filter_map(|m| m.content.as_ref()).map(MessageContent::tokens).sum();
    let n = in_range("n", req.n.unwrap_or(1), 1, MAX_N)?;
    // max_completion_tokens supersedes the deprecated max_tokens.
    let max_tokens = match (req.max_completion_tokens, req.max_tokens) {
        (Some(v), _) => in_range("max_completion_tokens", v, 1, MAX_OUTPUT_TOKENS.into())?,
        (None, Some(v)) => in_range("max_tokens", v, 1, MAX_OUTPUT_TOKENS.into())?,
        (None, None) => DEFAULT_CHAT_TOKENS,
    };
    Ok(Generation {
        model,
        prompts: vec![prompt_tokens],
        max_tokens,
        n,
        best_of: n,
        stop: stops(req.stop)?,
        stream: req.stream.unwrap_or(false),
        include_usage: include_usage(req.stream_options),
    })
}

fn parse_completion(body: &[u8]) -> Result<Generation, ApiError> {
    let req: CompletionRequest = serde_json::from_slice(body).map_err(ApiError::unparsable)?;
    let model = require_model(req.model)?;
    // No prompt: the API then generates from an empty document.
    let prompts = req.prompt.as_ref().map_or_else(|| vec![0], Prompt::tokens);
    if prompts.is_empty() || prompts.len() > MAX_PROMPTS {
        return Err(ApiError::invalid(
            format!("Invalid 'prompt': expected 1 to {MAX_PROMPTS} prompts, got {}.", prompts.len()),
            Some("prompt"),
            Some("invalid_value"),
        ));
    }
    let n = in_range("n", req.n.unwrap_or(1), 1, MAX_N)?;
    let best_of = match req.best_of {
        None => n,
        Some(b) => {
            let b = in_range("best_of", b, 1, MAX_BEST_OF)?;
            if b < n {
                return Err(ApiError::invalid(
                    format!("Invalid 'best_of': best_of must be greater than or equal to n ({n}), got {b}."),
                    Some("best_of"),
                    Some("invalid_value"),
                ));
            }
            b
        }
    };
    let stream = req.stream.unwrap_or(false);
    if stream && best_of > 1 && req.best_of.is_some() {
        return Err(ApiError::invalid(
            "Invalid 'best_of': results cannot be streamed when best_of > 1.",
            Some("best_of"),
            Some("invalid_value"),
        ));
    }
    let max_tokens = match req.max_tokens {
        Some(v) => in_range("max_tokens", v, 1, MAX_OUTPUT_TOKENS.into())?,
        None => DEFAULT_COMPLETION_TOKENS,
    };
    Ok(Generation {
        model,
        prompts,
        max_tokens,
        n,
        best_of,
        stop: stops(req.stop)?,
        stream,
        include_usage: include_usage(req.stream_options),
    })
}

fn require_model(model: Option<String>) -> Result<String, ApiError> {
    match model {
        Some(m) if !m.is_empty() => Ok(m),
        _ => Err(ApiError::invalid("you must provide a model parameter", Some("model"), None)),
    }
}

/// `value` as a u32 within `min..=max`, or the API's error for the bound it crosses.
fn in_range(param: &'static str, value: i64, min: i64, max: i64) -> Result<u32, ApiError> {
    if value < min {
        return Err(ApiError::invalid(
            format!(
                "Invalid '{param}': integer below minimum value. Expected a value >= {min}, but got {value} instead."
            ),
            Some(param),
            Some("integer_below_min_value"),
        ));
    }
    if value > max {
        return Err(ApiError::invalid(
            format!(
                "Invalid '{param}': integer above maximum value. Expected a value <= {max}, but got {value} instead."
            ),
            Some(param),
            Some("integer_above_max_value"),
        ));
    }
    // In range of u32: every caller's max is.
    Ok(u32::try_from(value).unwrap_or(u32::MAX))
}

fn stops(stop: Option<Stop>) -> Result<Vec<String>, ApiError> {
    let all = match stop {
        None => return Ok(Vec::new()),
        Some(Stop::One(s)) => vec![s],
        Some(Stop::Many(v)) => v,
    };
    if all.len() > MAX_STOPS {
        return Err(ApiError::invalid(
            format!(
                "Invalid 'stop': array too long. Expected an array with maximum length {MAX_STOPS}, but got an array with length {} instead.",
                all.len()
            ),
            Some("stop"),
            Some("array_above_max_length"),
        ));
    }
    // An empty stop string would end every generation before it began; the API
    // ignores it.
    Ok(all.into_iter().filter(|s| !s.is_empty()).collect())
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
                prompts: vec![5],
                max_tokens: 7,
                n: 1,
                best_of: 1,
                stop: vec![],
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
            |prompt: Value| completion(json!({"model": "m", "prompt": prompt})).expect("valid").prompts;
        assert_eq!(tokens(json!("a b c")), [3]);
        assert_eq!(tokens(json!(["a b", "c"])), [2, 1]);
        assert_eq!(tokens(json!([1, 2, 3, 4])), [4]);
        assert_eq!(tokens(json!([[1, 2], [3]])), [2, 1]);
        let g = completion(json!({"model": "m"})).expect("valid");
        assert_eq!((g.prompts, g.max_tokens), (vec![0], 16));
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
        assert_eq!(param(completion(json!({"model": "m", "n": 0}))), Some("n"));
        assert_eq!(param(chat(json!({"model": "m", "messages": [], "n": 129}))), Some("n"));
        assert_eq!(param(completion(json!({"model": "m", "n": 3, "best_of": 2}))), Some("best_of"));
        assert_eq!(param(completion(json!({"model": "m", "best_of": 21}))), Some("best_of"));
        assert_eq!(param(completion(json!({"model": "m", "best_of": 2, "stream": true}))), Some("best_of"));
        assert_eq!(param(completion(json!({"model": "m", "prompt": []}))), Some("prompt"));
        assert_eq!(param(completion(json!({"model": "m", "stop": ["a", "b", "c", "d", "e"]}))), Some("stop"));
        let many = json!({"model": "m", "prompt": vec!["x"; 100], "n": 100});
        assert_eq!(param(completion(many)), Some("n"));
        let buffered = json!({"model": "m", "messages": [], "n": 128, "max_tokens": 131072});
        assert_eq!(param(chat(buffered)), Some("max_tokens"));
        for bad in ["", "{", "[]", "null", "3", "{\"model\": 3}", "{\"model\":\"m\",\"prompt\":{}}"] {
            let e = parse(Endpoint::Completions, bad.as_bytes()).expect_err(bad);
            assert_eq!(e.status, axum::http::StatusCode::BAD_REQUEST);
        }
    }

    #[test]
    fn several_choices_prompts_and_stops() {
        let g = completion(json!({
            "model": "m", "prompt": ["a", "b c"], "n": 2, "best_of": 3, "max_tokens": 10,
            "stop": ["", " the"]
        }))
        .expect("valid");
        assert_eq!((g.n, g.best_of, g.sequences()), (2, 3, 6));
        assert_eq!(g.stop, [" the"]);
        // 3 prompt tokens + 10 × 3 sequences × 2 prompts.
        assert_eq!(g.estimated_tokens(), 63);
        let g =
            chat(json!({"model": "m", "messages": [], "n": 3, "stop": "x", "stream": true})).expect("valid");
        assert_eq!((g.n, g.best_of, g.stop.as_slice()), (3, 3, &["x".to_owned()][..]));
        // best_of = 1 with stream is what the SDKs send by default: fine.
        let g = completion(json!({"model": "m", "best_of": 1, "stream": true})).expect("valid");
        assert!(g.stream);
    }
}
