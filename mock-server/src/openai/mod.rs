//! The OpenAI wire format: what we accept (`request`, which judges what `body` reads
//! with the lenient reader in `json`), what we send (`response`), and the error shape,
//! which both use.
//!
//! Requests are parsed leniently into one `Generation`, so that the timing code never
//! looks at JSON; responses are serde types, defined once.

mod body;
mod json;
mod request;
mod response;
pub(crate) mod responses;

use std::borrow::Cow;
use std::fmt::Display;

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

pub(crate) use request::{Generation, parse};
pub(crate) use response::{
    ChoiceText, CompletionDetails, Meta, PromptDetails, Usage, id_prefix, response_json, sse_frames,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endpoint {
    Chat,
    Completions,
    /// `/v1/responses`.
    Responses,
}

/// An error answered in OpenAI's shape, `{"error":{"message","type","param","code"}}`.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    message: String,
    kind: &'static str,
    /// The parameter at fault, as the API names it: `n`, `messages[2].role`.
    param: Option<Cow<'static, str>>,
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
            param: param.map(Cow::Borrowed),
            code,
        }
    }

    /// A 400 about one parameter.
    pub(super) fn invalid_param(
        param: impl Into<Cow<'static, str>>,
        message: impl Into<String>,
        code: Option<&'static str>,
    ) -> Self {
        Self { param: Some(param.into()), ..Self::invalid(message, None, code) }
    }

    pub(crate) fn unparsable(e: serde_json::Error) -> Self {
        Self::invalid(format!("We could not parse the JSON body of your request: {e}"), None, None)
    }

    pub(crate) fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    pub(crate) fn too_large(limit: usize) -> Self {
        Self::invalid(format!("The request body is larger than the limit of {limit} bytes."), None, None)
            .with_status(StatusCode::PAYLOAD_TOO_LARGE)
    }

    pub(crate) fn model_not_found(model: &str) -> Self {
        Self::invalid(
            format!("The model `{model}` does not exist or you do not have access to it."),
            None,
            Some("model_not_found"),
        )
        .with_status(StatusCode::NOT_FOUND)
    }

    /// `key` is what the client sent, `None` when it sent no key at all. Like the real
    /// API, the message shows only the ends of a wrong key.
    pub(crate) fn invalid_api_key(key: Option<&str>) -> Self {
        let message = match key {
            None => "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).".to_owned(),
            Some(k) => format!("Incorrect API key provided: {}.", redact(k)),
        };
        Self::invalid(message, None, Some("invalid_api_key")).with_status(StatusCode::UNAUTHORIZED)
    }

    pub(crate) fn rate_limited(kind: &'static str, message: String) -> Self {
        Self {
            status: StatusCode::TOO_MANY_REQUESTS,
            message,
            kind,
            param: None,
            code: Some("rate_limit_exceeded"),
        }
    }

    pub(crate) fn server_error() -> Self {
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message:
                "The server had an error while processing your request. Sorry about that! (injected fault)"
                    .into(),
            kind: "server_error",
            param: None,
            code: None,
        }
    }

    pub(crate) fn overloaded() -> Self {
        Self {
            status: StatusCode::SERVICE_UNAVAILABLE,
            message: "The engine is currently overloaded, please try again later. (injected fault)".into(),
            kind: "server_error",
            param: None,
            code: None,
        }
    }
}

/// Integer or decimal: the word in a range error's message, and its code.
#[derive(Debug, Clone, Copy)]
pub(super) enum Number {
    Integer,
    Decimal,
}

/// The real API's 400s for a request's parameters, in its words, so that a client's
/// error handling (and its logs) see what they would see from the API.
impl ApiError {
    pub(super) fn missing(param: impl Into<Cow<'static, str>>) -> Self {
        let param = param.into();
        let message = format!("Missing required parameter: '{param}'.");
        Self::invalid_param(param, message, Some("missing_required_parameter"))
    }

    /// `expected` and `got` as the API writes them: "a string", "an array of objects".
    pub(super) fn invalid_type(param: impl Into<Cow<'static, str>>, expected: &str, got: &str) -> Self {
        let param = param.into();
        let message = format!("Invalid type for '{param}': expected {expected}, but got {got} instead.");
        Self::invalid_param(param, message, Some("invalid_type"))
    }

    pub(super) fn below_min(
        param: &'static str,
        number: Number,
        min: impl Display,
        got: impl Display,
    ) -> Self {
        let (word, code) = match number {
            Number::Integer => ("integer", "integer_below_min_value"),
            Number::Decimal => ("decimal", "decimal_below_min_value"),
        };
        let message = format!(
            "Invalid '{param}': {word} below minimum value. Expected a value >= {min}, but got {got} instead."
        );
        Self::invalid_param(param, message, Some(code))
    }

    pub(super) fn above_max(
        param: &'static str,
        number: Number,
        max: impl Display,
        got: impl Display,
    ) -> Self {
        let (word, code) = match number {
            Number::Integer => ("integer", "integer_above_max_value"),
            Number::Decimal => ("decimal", "decimal_above_max_value"),
        };
        let message = format!(
            "Invalid '{param}': {word} above maximum value. Expected a value <= {max}, but got {got} instead."
        );
        Self::invalid_param(param, message, Some(code))
    }

    pub(super) fn empty_array(param: &'static str) -> Self {
        let message = format!(
            "Invalid '{param}': empty array. Expected an array with minimum length 1, but got an empty array instead."
        );
        Self::invalid_param(param, message, Some("empty_array"))
    }

    pub(super) fn array_too_long(param: &'static str, max: usize, len: usize) -> Self {
        let message = format!(
            "Invalid '{param}': array too long. Expected an array with maximum length {max}, but got an array with length {len} instead."
        );
        Self::invalid_param(param, message, Some("array_above_max_length"))
    }

    pub(super) fn string_too_long(param: &'static str, max: usize, len: usize) -> Self {
        let message = format!(
            "Invalid '{param}': string too long. Expected a string with maximum length {max}, but got a string with length {len} instead."
        );
        Self::invalid_param(param, message, Some("string_above_max_length"))
    }

    pub(super) fn invalid_value(param: impl Into<Cow<'static, str>>, message: impl Into<String>) -> Self {
        Self::invalid_param(param, message, Some("invalid_value"))
    }

    /// Valid for the API, beyond what the simulator takes on (README, "Limits").
    pub(super) fn simulator_limit(param: &'static str, message: impl Into<String>) -> Self {
        Self::invalid_param(param, message, Some("simulator_limit"))
    }
}

/// A value the client sent, fit to be quoted in an error message: whole if short, else
/// its start, so that a 10 MB value does not come back as a 10 MB message.
pub(super) fn quoted(value: &str) -> String {
    const MAX_CHARS: usize = 64;
    match value.char_indices().nth(MAX_CHARS) {
        Some((end, _)) => format!("{}…", &value[..end]),
        None => value.to_owned(),
    }
}

/// `sk-abc...wxyz` → `sk-abc***wxyz`: enough to recognise a key, not to use it. Short
/// keys are hidden whole. Counted in chars, so any UTF-8 is cut on a boundary.
fn redact(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    if chars.len() <= 10 {
        return "***".into();
    }
    let head: String = chars[..6].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}***{tail}")
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
                param: self.param.as_deref(),
                code: self.code,
            },
        };
        json_response(self.status, &body)
    }
}

/// So that `?` answers an `ApiError` where a handler returns `Result<_, Response>`.
impl From<ApiError> for Response {
    fn from(e: ApiError) -> Self {
        e.into_response()
    }
}

/// A JSON response.
pub(crate) fn json_response(status: StatusCode, value: &impl Serialize) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], to_json(value)).into_response()
}

/// Our response types have only string keys and finite numbers, so serialization
/// cannot fail.
pub(crate) fn to_json(value: &impl Serialize) -> Vec<u8> {
    serde_json::to_vec(value).expect("plain structs serialize to JSON")
}
