//! The OpenAI wire format: what we accept (`request`), what we send (`response`), and
//! the error shape, which both use.
//!
//! Requests are parsed leniently into one `Generation`, so that the timing code never
//! looks at JSON; responses are serde types, defined once.

mod request;
mod response;

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

pub(crate) use request::{Generation, parse};
pub(crate) use response::{ChoiceText, Meta, Usage, id_prefix, response_json, sse_frames};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endpoint {
    Chat,
    Completions,
}

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

    pub(super) fn missing(param: &'static str) -> Self {
        Self::invalid(
            format!("Missing required parameter: '{param}'."),
            Some(param),
            Some("missing_required_parameter"),
        )
    }

    pub(super) fn unparsable(e: serde_json::Error) -> Self {
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
                param: self.param,
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
