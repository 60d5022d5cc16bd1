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
    /// The prompt's block names for the prefix cache (`prefix.rs`): of the
    /// conversation, or of a single `prompt`; none for a batch.
    pub(crate) blocks: Vec<u64>,
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
        Endpoint::Responses => ("input", "your input", "the input"),
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
    let g = match endpoint {
        Endpoint::Chat => chat(read(body)?)?,
        Endpoint::Completions => completion(read(body)?)?,
        Endpoint::Responses => super::responses::parse(body)?,
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
    let (prompt_tokens, blocks) = match f.messages.take() {
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
        blocks,
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
    let (prompts, blocks) = match f.prompt.take() {
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
        blocks,
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
mod tests;
