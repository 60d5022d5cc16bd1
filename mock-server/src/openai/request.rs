//! Requests: parsed leniently (parameters the simulator does not use are ignored, as
//! the API ignores what it does not use) into one `Generation`, so that the timing code
//! never looks at JSON. What the API refuses, we refuse with its status, message, `param`
//! and `code`; `body` reads the JSON, this module judges it.

use super::body::{self, Fields};
use super::json::{Folded, Scalar, Shaped, Skip};
use super::{ApiError, Endpoint, Number};
use crate::config::MAX_OUTPUT_TOKENS;

/// Default output length when the request gives none: the legacy completions API's
/// default, and a chat reply of typical size. Either is cut to what the model's context
/// window leaves.
const DEFAULT_COMPLETION_TOKENS: u32 = 16;
const DEFAULT_CHAT_TOKENS: u32 = 256;

/// The API's ranges for `n` and `best_of`.
const MAX_N: u32 = 128;
const MAX_BEST_OF: u32 = 20;

/// Simulator limits, far above what a load test sends: the length of a model name
/// (echoed in every chunk of a stream), sequences generated for one request
/// (prompts × best_of), and tokens a non-streaming response holds in memory
/// (choices × max_tokens).
const MAX_MODEL_CHARS: usize = 256;
const MAX_SEQUENCES: u64 = 4096;
const MAX_BUFFERED_TOKENS: u64 = 1 << 22;

/// What a valid request asks the simulator to do.
#[derive(Debug, PartialEq)]
pub(crate) struct Generation {
    pub(crate) model: String,
    /// Prompt tokens of each prompt: one entry for chat, one per prompt of an array.
    pub(crate) prompts: Vec<u64>,
    /// Output tokens per sequence at most: the request's, or a default.
    pub(crate) max_tokens: u32,
    /// Whether `max_tokens` is the request's (which must fit in the context window)
    /// or the default (which is cut to fit).
    pub(crate) max_tokens_given: bool,
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

    /// Checks, as the API does before generating, that each prompt and its completion
    /// fit in the model's context window of `window` tokens; a default `max_tokens` is
    /// cut to the room the longest prompt leaves.
    pub(crate) fn fit_context(&mut self, endpoint: Endpoint, window: u32) -> Result<(), ApiError> {
        let prompt = self.prompts.iter().copied().max().unwrap_or(0);
        let room = u64::from(window).saturating_sub(prompt);
        if self.max_tokens_given && u64::from(self.max_tokens) > room {
            return Err(context_exceeded(endpoint, window, prompt, Some(self.max_tokens)));
        }
        if room == 0 {
            return Err(context_exceeded(endpoint, window, prompt, None));
        }
        self.max_tokens = self.max_tokens.min(u32::try_from(room).unwrap_or(u32::MAX));
        Ok(())
    }
}

/// The API's `context_length_exceeded`, for a prompt of `prompt` tokens and the
/// `completion` the request asked for (`None`: it asked for none, and the prompt alone
/// leaves no room).
fn context_exceeded(endpoint: Endpoint, window: u32, prompt: u64, completion: Option<u32>) -> ApiError {
    let (param, yours, theirs) = match endpoint {
        Endpoint::Chat => ("messages", "your messages", "the messages"),
        Endpoint::Completions => ("prompt", "your prompt", "the prompt"),
    };
    let message = match completion {
        Some(c) => format!(
            "This model's maximum context length is {window} tokens. However, you requested {} tokens ({prompt} in {theirs}, {c} in the completion). Please reduce the length of {theirs} or completion.",
            prompt + u64::from(c)
        ),
        None => format!(
            "This model's maximum context length is {window} tokens. However, {yours} resulted in {prompt} tokens, which leaves no room for a completion. Please reduce the length of {theirs}."
        ),
    };
    ApiError::invalid_param(param, message, Some("context_length_exceeded"))
}

pub(crate) fn parse(endpoint: Endpoint, body: &[u8]) -> Result<Generation, ApiError> {
    let fields = read(body)?;
    let g = match endpoint {
        Endpoint::Chat => chat(fields)?,
        Endpoint::Completions => completion(fields)?,
    };
    within_simulator_limits(&g)?;
    Ok(g)
}

/// The body's parameters; 400 if it is not a JSON object.
fn read(body: &[u8]) -> Result<Fields, ApiError> {
    let text = std::str::from_utf8(body).map_err(|e| {
        let message = format!(
            "We could not parse the JSON body of your request: it is not valid UTF-8 (invalid byte at offset {}).",
            e.valid_up_to()
        );
        ApiError::invalid(message, None, None)
    })?;
    match serde_json::from_str(text).map_err(ApiError::unparsable)? {
        Shaped::<Skip, Fields>::Object(fields) => Ok(fields),
        other => {
            let message = format!(
                "Invalid type for the request body: expected a JSON object, but got {} instead.",
                other.kind()
            );
            Err(ApiError::invalid(message, None, Some("invalid_type")))
        }
    }
}

fn chat(mut f: Fields) -> Result<Generation, ApiError> {
    let model = model(f.model.take())?;
    let prompt_tokens = match f.messages.take() {
        Some(Shaped::Array(Folded(messages))) => messages.tokens()?,
        Some(other) => return Err(ApiError::invalid_type("messages", "an array of objects", other.kind())),
        None => return Err(ApiError::missing("messages")),
    };
    // max_completion_tokens supersedes the deprecated max_tokens; both must be valid.
    let max_completion_tokens =
        whole("max_completion_tokens", f.max_completion_tokens.as_ref(), 1, MAX_OUTPUT_TOKENS)?;
    let max_tokens = whole("max_tokens", f.max_tokens.as_ref(), 1, MAX_OUTPUT_TOKENS)?;
    let max_tokens = max_completion_tokens.or(max_tokens);
    let n = whole("n", f.n.as_ref(), 1, MAX_N)?.unwrap_or(1);
    let shared = Shared::read(f)?;
    Ok(Generation {
        model,
        prompts: vec![prompt_tokens],
        max_tokens: max_tokens.unwrap_or(DEFAULT_CHAT_TOKENS),
        max_tokens_given: max_tokens.is_some(),
        n,
        best_of: n,
        stop: shared.stop,
        stream: shared.stream,
        include_usage: shared.include_usage,
    })
}

fn completion(mut f: Fields) -> Result<Generation, ApiError> {
    let model = model(f.model.take())?;
    let prompts = match f.prompt.take() {
        Some(prompt) => body::prompt_tokens(prompt)?,
        None => return Err(ApiError::missing("prompt")),
    };
    let max_tokens = whole("max_tokens", f.max_tokens.as_ref(), 1, MAX_OUTPUT_TOKENS)?;
    let n = whole("n", f.n.as_ref(), 1, MAX_N)?.unwrap_or(1);
    let best_of = whole("best_of", f.best_of.as_ref(), 1, MAX_BEST_OF)?;
    if let Some(b) = best_of
        && b < n
    {
        return Err(ApiError::invalid_value(
            "best_of",
            format!("Invalid 'best_of': best_of must be greater than or equal to n ({n}), got {b}."),
        ));
    }
    let shared = Shared::read(f)?;
    if shared.stream && best_of.is_some_and(|b| b > 1) {
        return Err(ApiError::invalid_value(
            "best_of",
            "Invalid 'best_of': results cannot be streamed when best_of > 1.",
        ));
    }
    Ok(Generation {
        model,
        prompts,
        max_tokens: max_tokens.unwrap_or(DEFAULT_COMPLETION_TOKENS),
        max_tokens_given: max_tokens.is_some(),
        n,
        best_of: best_of.unwrap_or(n),
        stop: shared.stop,
        stream: shared.stream,
        include_usage: shared.include_usage,
    })
}

/// What both endpoints take beyond the prompt and the counts: checked, and kept where
/// the simulation uses it.
struct Shared {
    /// Non-empty stop strings.
    stop: Vec<String>,
    stream: bool,
    include_usage: bool,
}

impl Shared {
    fn read(f: Fields) -> Result<Self, ApiError> {
        // Sampling changes nothing the simulator does, but a value the API refuses
        // should not pass here.
        for (param, value, min, max) in [
            ("temperature", &f.temperature, 0.0, 2.0),
            ("top_p", &f.top_p, 0.0, 1.0),
            ("presence_penalty", &f.presence_penalty, -2.0, 2.0),
            ("frequency_penalty", &f.frequency_penalty, -2.0, 2.0),
        ] {
            if let Some(value) = value {
                decimal(param, value, min, max)?;
            }
        }
        if let Some(seed) = &f.seed {
            integer("seed", seed, i64::MIN, i64::MAX)?;
        }
        if let Some(bias) = f.logit_bias {
            body::check_logit_bias(bias)?;
        }
        let stop = match f.stop {
            // An empty stop string would end every generation before it began; the API
            // ignores it.
            Some(stop) => body::stop_strings(stop)?.into_iter().filter(|s| !s.is_empty()).collect(),
            None => Vec::new(),
        };
        let stream = f.stream.as_ref().map(|v| boolean("stream", v)).transpose()?.unwrap_or(false);
        let include_usage = match f.stream_options {
            None => false,
            Some(Shaped::Object(options)) => {
                let include = options.include_usage.as_ref();
                let include = include.map(|v| boolean("stream_options.include_usage", v)).transpose()?;
                if !stream {
                    return Err(ApiError::invalid(
                        "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
                        Some("stream_options"),
                        None,
                    ));
                }
                include.unwrap_or(false)
            }
            Some(other) => return Err(ApiError::invalid_type("stream_options", "an object", other.kind())),
        };
        Ok(Self { stop, stream, include_usage })
    }
}

fn model(value: Option<Scalar>) -> Result<String, ApiError> {
    match value {
        Some(Shaped::Str(m)) if !m.is_empty() => {
            let chars = m.chars().count();
            if chars > MAX_MODEL_CHARS {
                return Err(ApiError::string_too_long("model", MAX_MODEL_CHARS, chars));
            }
            Ok(m)
        }
        Some(Shaped::Str(_)) | None => {
            Err(ApiError::invalid("you must provide a model parameter", Some("model"), None))
        }
        Some(other) => Err(ApiError::invalid_type("model", "a string", other.kind())),
    }
}

/// An optional count within `min..=max`.
fn whole(param: &'static str, value: Option<&Scalar>, min: u32, max: u32) -> Result<Option<u32>, ApiError> {
    let Some(value) = value else { return Ok(None) };
    let n = integer(param, value, min.into(), max.into())?;
    // In range of u32: so are min and max.
    Ok(Some(u32::try_from(n).unwrap_or(max)))
}

/// An integer within `min..=max`. A whole decimal (`5.0`) counts as one, as a JSON
/// integer too large for i64 does, so that it gets the range error and not a type error.
fn integer(param: &'static str, value: &Scalar, min: i64, max: i64) -> Result<i64, ApiError> {
    let n = match *value {
        Shaped::Int(n) => n,
        Shaped::Float(f) if f.fract() == 0.0 => {
            if f < min as f64 {
                return Err(ApiError::below_min(param, Number::Integer, min, f));
            }
            if f > max as f64 {
                return Err(ApiError::above_max(param, Number::Integer, max, f));
            }
            // Whole and in range: exact (or, at i64's very ends, saturated).
            f as i64
        }
        ref other => return Err(ApiError::invalid_type(param, "an integer", other.kind())),
    };
    if n < min {
        return Err(ApiError::below_min(param, Number::Integer, min, n));
    }
    if n > max {
        return Err(ApiError::above_max(param, Number::Integer, max, n));
    }
    Ok(n)
}

/// A number within `min..=max`.
fn decimal(param: &'static str, value: &Scalar, min: f64, max: f64) -> Result<f64, ApiError> {
    let x = match *value {
        Shaped::Int(n) => n as f64,
        Shaped::Float(f) => f,
        ref other => return Err(ApiError::invalid_type(param, "a decimal", other.kind())),
    };
    if x < min {
        return Err(ApiError::below_min(param, Number::Decimal, min, x));
    }
    if x > max {
        return Err(ApiError::above_max(param, Number::Decimal, max, x));
    }
    Ok(x)
}

fn boolean(param: &'static str, value: &Scalar) -> Result<bool, ApiError> {
    match *value {
        Shaped::Bool(b) => Ok(b),
        ref other => Err(ApiError::invalid_type(param, "a boolean", other.kind())),
    }
}

/// What the API would take but the simulator does not: too many sequences, or too
/// many tokens to hold for one response.
fn within_simulator_limits(g: &Generation) -> Result<(), ApiError> {
    let sequences = g.prompts.len() as u64 * u64::from(g.best_of);
    if sequences > MAX_SEQUENCES {
        return Err(ApiError::simulator_limit(
            "n",
            format!(
                "The simulator generates at most {MAX_SEQUENCES} sequences per request (prompts × max(n, best_of)); this one asks for {sequences}."
            ),
        ));
    }
    let buffered = g.prompts.len() as u64 * u64::from(g.n) * u64::from(g.max_tokens);
    if !g.stream && buffered > MAX_BUFFERED_TOKENS {
        return Err(ApiError::simulator_limit(
            "max_tokens",
            format!(
                "The simulator returns at most {MAX_BUFFERED_TOKENS} tokens in one non-streaming response (choices × max_tokens); this one could return {buffered}. Stream it instead."
            ),
        ));
    }
    Ok(())
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

    /// `(param, code)` of a refused request.
    fn refused(r: Result<Generation, ApiError>) -> (Option<String>, Option<&'static str>) {
        let e = r.expect_err("invalid");
        assert_eq!(e.status, axum::http::StatusCode::BAD_REQUEST, "{e:?}");
        (e.param.map(|p| p.into_owned()), e.code)
    }

    fn at(param: &str, code: &'static str) -> (Option<String>, Option<&'static str>) {
        (Some(param.to_owned()), Some(code))
    }

    const HI: &str = r#"[{"role": "user", "content": "hi"}]"#;

    fn with_messages(extra: Value) -> Value {
        let mut body = json!({"model": "m", "messages": serde_json::from_str::<Value>(HI).expect("json")});
        body.as_object_mut().expect("object").extend(extra.as_object().expect("object").clone());
        body
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
            "stream": true, "stream_options": {"include_usage": true},
            "unknown_parameter": {"is": ["ignored"]}, "temperature": null
        }))
        .expect("valid");
        assert_eq!(
            g,
            Generation {
                model: "m".into(),
                prompts: vec![5],
                max_tokens: 7,
                max_tokens_given: true,
                n: 1,
                best_of: 1,
                stop: vec![],
                stream: true,
                include_usage: true
            }
        );
        let g = chat(with_messages(json!({}))).expect("valid");
        assert_eq!((g.max_tokens, g.max_tokens_given, g.stream, g.include_usage), (256, false, false, false));
    }

    #[test]
    fn completion_prompt_shapes() {
        let tokens =
            |prompt: Value| completion(json!({"model": "m", "prompt": prompt})).expect("valid").prompts;
        assert_eq!(tokens(json!("a b c")), [3]);
        assert_eq!(tokens(json!("")), [0]);
        assert_eq!(tokens(json!(["a b", "c"])), [2, 1]);
        assert_eq!(tokens(json!([1, 2, 3, 4])), [4]);
        assert_eq!(tokens(json!([[1, 2], [3], []])), [2, 1, 0]);
        let g = completion(json!({"model": "m", "prompt": "x"})).expect("valid");
        assert_eq!((g.max_tokens, g.max_tokens_given), (16, false));
    }

    #[test]
    fn rejects_what_the_api_rejects_naming_the_parameter() {
        let cases: &[(Value, (&str, &'static str))] = &[
            (json!({"messages": []}), ("model", "")),
            (json!({"model": "", "messages": []}), ("model", "")),
            (json!({"model": 3, "messages": []}), ("model", "invalid_type")),
            (json!({"model": "x".repeat(300), "messages": []}), ("model", "string_above_max_length")),
            (json!({"model": "m"}), ("messages", "missing_required_parameter")),
            (json!({"model": "m", "messages": []}), ("messages", "empty_array")),
            (json!({"model": "m", "messages": "hi"}), ("messages", "invalid_type")),
            (json!({"model": "m", "messages": ["hi"]}), ("messages[0]", "invalid_type")),
            (
                json!({"model": "m", "messages": [{"content": "hi"}]}),
                ("messages[0].role", "missing_required_parameter"),
            ),
            (
                json!({"model": "m", "messages": [{"role": "user", "content": "a"}, {"role": "boss", "content": "b"}]}),
                ("messages[1].role", "invalid_value"),
            ),
            (json!({"model": "m", "messages": [{"role": 1}]}), ("messages[0].role", "invalid_type")),
            (
                json!({"model": "m", "messages": [{"role": "user", "content": 5}]}),
                ("messages[0].content", "invalid_type"),
            ),
            (
                json!({"model": "m", "messages": [{"role": "user", "content": [{"text": "a"}, "b"]}]}),
                ("messages[0].content[1]", "invalid_type"),
            ),
            (with_messages(json!({"max_tokens": 0})), ("max_tokens", "integer_below_min_value")),
            (with_messages(json!({"max_tokens": "x"})), ("max_tokens", "invalid_type")),
            (with_messages(json!({"max_tokens": 1.5})), ("max_tokens", "invalid_type")),
            (
                with_messages(json!({"max_tokens": 1_000_000_000_000_000u64})),
                ("max_tokens", "integer_above_max_value"),
            ),
            (with_messages(json!({"max_tokens": 1e300})), ("max_tokens", "integer_above_max_value")),
            (
                with_messages(json!({"max_completion_tokens": -1})),
                ("max_completion_tokens", "integer_below_min_value"),
            ),
            (
                with_messages(json!({"max_completion_tokens": 5, "max_tokens": true})),
                ("max_tokens", "invalid_type"),
            ),
            (with_messages(json!({"n": 0})), ("n", "integer_below_min_value")),
            (with_messages(json!({"n": -1})), ("n", "integer_below_min_value")),
            (with_messages(json!({"n": 129})), ("n", "integer_above_max_value")),
            (with_messages(json!({"n": 1_000_000})), ("n", "integer_above_max_value")),
            (with_messages(json!({"n": "two"})), ("n", "invalid_type")),
            (with_messages(json!({"temperature": "hot"})), ("temperature", "invalid_type")),
            (with_messages(json!({"temperature": 2.5})), ("temperature", "decimal_above_max_value")),
            (with_messages(json!({"temperature": -0.1})), ("temperature", "decimal_below_min_value")),
            (with_messages(json!({"top_p": 1.01})), ("top_p", "decimal_above_max_value")),
            (with_messages(json!({"presence_penalty": -3})), ("presence_penalty", "decimal_below_min_value")),
            (with_messages(json!({"frequency_penalty": [1]})), ("frequency_penalty", "invalid_type")),
            (with_messages(json!({"seed": 1.5})), ("seed", "invalid_type")),
            (with_messages(json!({"seed": 1e30})), ("seed", "integer_above_max_value")),
            (with_messages(json!({"logit_bias": [1]})), ("logit_bias", "invalid_type")),
            (with_messages(json!({"logit_bias": {"abc": 1}})), ("logit_bias", "invalid_value")),
            (with_messages(json!({"logit_bias": {"50256": -101}})), ("logit_bias", "invalid_value")),
            (with_messages(json!({"logit_bias": {"50256": "x"}})), ("logit_bias.50256", "invalid_type")),
            (with_messages(json!({"stream": "yes"})), ("stream", "invalid_type")),
            (with_messages(json!({"stream": 1})), ("stream", "invalid_type")),
            (with_messages(json!({"stream_options": {"include_usage": true}})), ("stream_options", "")),
            (
                with_messages(json!({"stream": true, "stream_options": true})),
                ("stream_options", "invalid_type"),
            ),
            (
                with_messages(json!({"stream": true, "stream_options": {"include_usage": "y"}})),
                ("stream_options.include_usage", "invalid_type"),
            ),
            (with_messages(json!({"stop": 3})), ("stop", "invalid_type")),
            (with_messages(json!({"stop": ["a", 3]})), ("stop[1]", "invalid_type")),
            (with_messages(json!({"stop": ["a", "b", "c", "d", "e"]})), ("stop", "array_above_max_length")),
        ];
        for (body, (param, code)) in cases {
            let (p, c) = refused(chat(body.clone()));
            assert_eq!((p.as_deref(), c.unwrap_or("")), (Some(*param), *code), "{body}");
        }

        let cases: &[(Value, (&str, &'static str))] = &[
            (json!({"model": "m"}), ("prompt", "missing_required_parameter")),
            (json!({"model": "m", "prompt": null}), ("prompt", "missing_required_parameter")),
            (json!({"model": "m", "prompt": 3}), ("prompt", "invalid_type")),
            (json!({"model": "m", "prompt": {}}), ("prompt", "invalid_type")),
            (json!({"model": "m", "prompt": []}), ("prompt", "empty_array")),
            (json!({"model": "m", "prompt": ["a", 1]}), ("prompt[1]", "invalid_type")),
            (json!({"model": "m", "prompt": [1, "a"]}), ("prompt[1]", "invalid_type")),
            (json!({"model": "m", "prompt": [1, -2]}), ("prompt[1]", "invalid_type")),
            (json!({"model": "m", "prompt": [[1], 2]}), ("prompt[1]", "invalid_type")),
            (json!({"model": "m", "prompt": [[1], [2, 2.5]]}), ("prompt[1][1]", "invalid_type")),
            (json!({"model": "m", "prompt": [null]}), ("prompt[0]", "invalid_type")),
            (json!({"model": "m", "prompt": vec!["x"; 2049]}), ("prompt", "simulator_limit")),
            (
                json!({"model": "m", "prompt": "x", "max_tokens": 0}),
                ("max_tokens", "integer_below_min_value"),
            ),
            (json!({"model": "m", "prompt": "x", "n": 0}), ("n", "integer_below_min_value")),
            (json!({"model": "m", "prompt": "x", "n": 3, "best_of": 2}), ("best_of", "invalid_value")),
            (json!({"model": "m", "prompt": "x", "best_of": 21}), ("best_of", "integer_above_max_value")),
            (json!({"model": "m", "prompt": "x", "best_of": "3"}), ("best_of", "invalid_type")),
            (
                json!({"model": "m", "prompt": "x", "best_of": 2, "stream": true}),
                ("best_of", "invalid_value"),
            ),
            (json!({"model": "m", "prompt": vec!["x"; 100], "n": 100}), ("n", "simulator_limit")),
        ];
        for (body, (param, code)) in cases {
            let (p, c) = refused(completion(body.clone()));
            assert_eq!((p.as_deref(), c.unwrap_or("")), (Some(*param), *code), "{body}");
        }
        let buffered = with_messages(json!({"n": 128, "max_tokens": 131072}));
        assert_eq!(refused(chat(buffered)), at("max_tokens", "simulator_limit"));
    }

    #[test]
    fn messages_quote_what_was_sent_but_not_all_of_it() {
        let role = "r".repeat(100_000);
        let e = chat(json!({"model": "m", "messages": [{"role": role}]})).expect_err("invalid");
        assert!(e.message.starts_with("Invalid value: 'rrrr"), "{}", e.message);
        assert!(e.message.len() < 300, "{}", e.message);
        let e = chat(with_messages(json!({"temperature": "hot"}))).expect_err("invalid");
        assert_eq!(
            e.message,
            "Invalid type for 'temperature': expected a decimal, but got a string instead."
        );
        let e = chat(with_messages(json!({"n": 1_000_000}))).expect_err("invalid");
        assert_eq!(
            e.message,
            "Invalid 'n': integer above maximum value. Expected a value <= 128, but got 1000000 instead."
        );
    }

    #[test]
    fn bodies_that_are_not_json_objects() {
        for (bad, code) in [
            ("", None),
            ("{", None),
            ("{not json", None),
            ("[]", Some("invalid_type")),
            ("[1, 2]", Some("invalid_type")),
            ("null", Some("invalid_type")),
            ("3", Some("invalid_type")),
            ("\"text\"", Some("invalid_type")),
            ("{\"model\": \"m\"} trailing", None),
        ] {
            let e = parse(Endpoint::Completions, bad.as_bytes()).expect_err(bad);
            assert_eq!(
                (e.status, e.param, e.code),
                (axum::http::StatusCode::BAD_REQUEST, None, code),
                "{bad}"
            );
        }
        let e = parse(Endpoint::Chat, b"{\"model\": \"m\xff\"}").expect_err("not UTF-8");
        assert!(e.message.contains("UTF-8"), "{}", e.message);
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
        let g = chat(with_messages(json!({"n": 3, "stop": "x", "stream": true}))).expect("valid");
        assert_eq!((g.n, g.best_of, g.stop.as_slice()), (3, 3, &["x".to_owned()][..]));
        // best_of = 1 with stream is what the SDKs send by default: fine.
        let g =
            completion(json!({"model": "m", "prompt": "x", "best_of": 1, "stream": true})).expect("valid");
        assert!(g.stream);
        // A whole number written as a decimal is an integer.
        let g = chat(with_messages(json!({"max_tokens": 5.0, "seed": -3, "temperature": 2}))).expect("valid");
        assert_eq!(g.max_tokens, 5);
    }

    #[test]
    fn prompt_and_completion_must_fit_the_context_window() {
        let words = |n: usize| vec!["w"; n].join(" ");
        // 10 prompt tokens + 90 = 100: fits exactly.
        let mut g = chat(
            json!({"model": "m", "messages": [{"role": "user", "content": words(10)}], "max_tokens": 90}),
        )
        .expect("valid");
        assert!(g.fit_context(Endpoint::Chat, 100).is_ok());
        let e = g.fit_context(Endpoint::Chat, 99).expect_err("too long");
        assert_eq!((e.param.as_deref(), e.code), (Some("messages"), Some("context_length_exceeded")));
        assert_eq!(
            e.message,
            "This model's maximum context length is 99 tokens. However, you requested 100 tokens (10 in the messages, 90 in the completion). Please reduce the length of the messages or completion."
        );

        // Without max_tokens the default is cut to what is left; no room left is an error.
        let mut g = completion(json!({"model": "m", "prompt": ["a", words(30)]})).expect("valid");
        assert!(g.fit_context(Endpoint::Completions, 40).is_ok());
        assert_eq!(g.max_tokens, 10);
        let e = g.fit_context(Endpoint::Completions, 30).expect_err("no room");
        assert_eq!((e.param.as_deref(), e.code), (Some("prompt"), Some("context_length_exceeded")));
        assert!(e.message.contains("your prompt resulted in 30 tokens"), "{}", e.message);

        // Per prompt (and per sequence), not summed over a batch or over n.
        let mut g =
            completion(json!({"model": "m", "prompt": [words(50), words(50)], "n": 4, "max_tokens": 50}))
                .expect("valid");
        assert!(g.fit_context(Endpoint::Completions, 100).is_ok());
    }
}
