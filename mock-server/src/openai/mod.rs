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

pub(crate) use request::parse;
pub(crate) use response::{Meta, Usage, id_prefix, response, sse_frames};

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

/// A JSON response. Our response types have only string keys and finite numbers, so
/// serialization cannot fail.
pub(crate) fn json_response(status: StatusCode, value: &impl Serialize) -> Response {
    let body = serde_json::to_vec(value).expect("plain structs serialize to JSON");
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}
