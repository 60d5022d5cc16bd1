//! The parts of OpenAI response bodies and stream chunks that measurement
//! needs. Unknown fields are ignored: servers add their own.
//!
//! Text borrows from the event's bytes (`Cow` copies only when the JSON
//! string has escapes): a stream parses one of these per token.

use std::borrow::Cow;

use serde::{Deserialize, Deserializer};

/// An optional string that borrows from the input when it can. serde borrows
/// a `Cow<str>` field only when it is the field's whole type: inside an
/// `Option` it always copies (one allocation per token of a stream).
fn borrowed<'de: 'a, 'a, D: Deserializer<'de>>(d: D) -> Result<Option<Cow<'a, str>>, D::Error> {
    #[derive(Deserialize)]
    struct Text<'a>(#[serde(borrow)] Cow<'a, str>);
    Ok(Option::<Text>::deserialize(d)?.map(|t| t.0))
}

#[derive(Debug, Default, Deserialize)]
pub struct Body<'a> {
    #[serde(default, borrow)]
    pub choices: Vec<Choice<'a>>,
    pub usage: Option<Usage>,
    pub error: Option<ApiError>,
    /// llama.cpp's own figures, beside its usage.
    pub timings: Option<Timings>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Choice<'a> {
    /// Which choice (n > 1) or prompt × choice (batches) this is; servers that
    /// omit it have one choice.
    #[serde(default)]
    pub index: u32,
    /// Streaming chat.
    #[serde(borrow)]
    pub delta: Option<Message<'a>>,
    /// Non-streaming chat.
    #[serde(borrow)]
    pub message: Option<Message<'a>>,
    /// Completions, streaming or not.
    #[serde(borrow, default, deserialize_with = "borrowed")]
    pub text: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "borrowed")]
    pub finish_reason: Option<Cow<'a, str>>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Message<'a> {
    #[serde(borrow, default, deserialize_with = "borrowed")]
    pub content: Option<Cow<'a, str>>,
    /// Reasoning text as DeepSeek and vLLM stream it.
    #[serde(borrow, default, deserialize_with = "borrowed")]
    pub reasoning_content: Option<Cow<'a, str>>,
    /// The same under the name other servers (OpenRouter, Ollama) use.
    #[serde(borrow, default, deserialize_with = "borrowed")]
    pub reasoning: Option<Cow<'a, str>>,
}

#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub struct Usage {
    pub prompt_tokens: Option<u64>,
    pub completion_tokens: Option<u64>,
    /// OpenAI, vLLM (`--enable-prompt-tokens-details`) and llama.cpp.
    pub prompt_tokens_details: Option<PromptTokensDetails>,
    /// DeepSeek's name for the prompt tokens its cache served.
    pub prompt_cache_hit_tokens: Option<u64>,
    /// Of the completion tokens, the reasoning ones (OpenAI, vLLM).
    pub completion_tokens_details: Option<OutputTokensDetails>,
}

#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub struct PromptTokensDetails {
    pub cached_tokens: Option<u64>,
}

/// llama.cpp's `timings`: `cache_n` prompt tokens reused from its cache
/// (older builds send it without `prompt_tokens_details`).
#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub struct Timings {
    pub cache_n: Option<u64>,
}

impl Body<'_> {
    /// Prompt tokens the server says it served from its prefix cache, by
    /// the first field it sent of: `usage.prompt_tokens_details.cached_tokens`,
    /// `usage.prompt_cache_hit_tokens`, `timings.cache_n`.
    pub fn cached_tokens(&self) -> Option<u64> {
        let usage = self.usage.as_ref();
        usage
            .and_then(|u| u.prompt_tokens_details.and_then(|d| d.cached_tokens))
            .or_else(|| usage.and_then(|u| u.prompt_cache_hit_tokens))
            .or_else(|| self.timings.and_then(|t| t.cache_n))
    }
}

/// An embeddings response: one vector per input (their values are not
/// needed, only how many came back) and the input tokens billed.
#[derive(Debug, Default, Deserialize)]
pub struct Embeddings {
    #[serde(default)]
    pub data: Vec<serde::de::IgnoredAny>,
    pub usage: Option<Usage>,
    pub error: Option<ApiError>,
}

#[derive(Debug, Default, Deserialize)]
pub struct ApiError {
    #[serde(default)]
    pub message: String,
}

impl Choice<'_> {
    /// The generated text this choice carries, if any.
    pub fn content(&self) -> Option<&str> {
        fn text<'m>(m: &'m Option<Message<'_>>) -> Option<&'m str> {
            m.as_ref().and_then(|m| m.content.as_deref())
        }
        text(&self.delta).or_else(|| text(&self.message)).or(self.text.as_deref())
    }

    /// The reasoning text this choice carries, if any and non-empty.
    pub fn reasoning(&self) -> Option<&str> {
        let m = self.delta.as_ref().or(self.message.as_ref())?;
        [&m.reasoning_content, &m.reasoning].into_iter().flatten().map(|t| t.as_ref()).find(|t| !t.is_empty())
    }

    /// Non-empty generated text: what makes an event content-bearing.
    pub fn has_content(&self) -> bool {
        self.content().is_some_and(|t| !t.is_empty())
    }
}

impl Body<'_> {
    /// A content-bearing event carries non-empty text on some choice;
    /// role-only, empty and usage-only chunks do not count.
    pub fn has_content(&self) -> bool {
        self.choices.iter().any(Choice::has_content)
    }

    /// Reasoning deltas are timed apart and never count as content.
    pub fn has_reasoning(&self) -> bool {
        self.choices.iter().any(|c| c.reasoning().is_some())
    }
}

/// A chat or completions body, or one event of its stream: read by the fast
/// path (`skim`) when it can, else by serde_json, which also words the error.
pub fn parse_body(bytes: &[u8]) -> serde_json::Result<Body<'_>> {
    match super::skim::body(bytes) {
        Some(body) => Ok(body),
        None => serde_json::from_slice(bytes),
    }
}

/// One event of a stream, as `parse_body`: its data is already text.
pub fn parse_event(data: &str) -> serde_json::Result<Body<'_>> {
    match super::skim::text(data) {
        Some(body) => Ok(body),
        None => serde_json::from_str(data),
    }
}

/// The message of an OpenAI-style error body, for a non-2xx response.
pub fn error_message(body: &[u8]) -> Option<String> {
    let parsed: Body = serde_json::from_slice(body).ok()?;
    parsed.error.map(|e| e.message).filter(|m| !m.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Body<'_> {
        serde_json::from_str(s).unwrap()
    }

    #[test]
    fn text_borrows_from_the_event_unless_it_has_escapes() {
        let bytes = br#"{"choices":[{"index":0,"delta":{"content":" hi","reasoning":"a\nb"},"text":"t","finish_reason":"stop"}]}"#;
        let b: Body = serde_json::from_slice(bytes).unwrap();
        let c = &b.choices[0];
        let delta = c.delta.as_ref().unwrap();
        assert!(matches!(&delta.content, Some(Cow::Borrowed(" hi"))), "{:?}", delta.content);
        assert!(matches!(&c.text, Some(Cow::Borrowed("t"))), "{:?}", c.text);
        assert!(matches!(&c.finish_reason, Some(Cow::Borrowed("stop"))), "{:?}", c.finish_reason);
        // An escape has to be undone: a copy, with the text it stands for.
        assert!(matches!(&delta.reasoning, Some(Cow::Owned(t)) if t == "a\nb"), "{:?}", delta.reasoning);
        // Null and absent are both none.
        assert!(delta.reasoning_content.is_none() && c.message.is_none());
        let null = parse(r#"{"choices":[{"delta":{"content":null},"text":null,"finish_reason":null}]}"#);
        let c = &null.choices[0];
        assert!(c.text.is_none() && c.finish_reason.is_none() && c.delta.as_ref().unwrap().content.is_none());
        let event: ResponsesEvent =
            serde_json::from_slice(br#"{"type":"response.output_text.delta","delta":"x"}"#).unwrap();
        assert!(matches!(event.delta, Some(Cow::Borrowed("x"))));
    }

    #[test]
    fn ttft_ignores_role_only_and_empty_deltas() {
        let role =
            r#"{"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}"#;
        assert!(!parse(role).has_content());
        assert!(!parse(r#"{"choices":[{"index":0,"delta":{}}]}"#).has_content());
        assert!(!parse(r#"{"choices":[{"index":0,"delta":{"content":null}}]}"#).has_content());
        assert!(parse(r#"{"choices":[{"index":0,"delta":{"content":" hi"}}]}"#).has_content());
    }

    #[test]
    fn reasoning_is_not_content() {
        for field in ["reasoning_content", "reasoning"] {
            let text = format!(r#"{{"choices":[{{"index":1,"delta":{{"{field}":"hmm"}}}}]}}"#);
            let b = parse(&text);
            assert!(b.has_reasoning() && !b.has_content(), "{field}");
            assert_eq!(b.choices[0].index, 1);
        }
        let empty = parse(r#"{"choices":[{"delta":{"reasoning_content":"","content":"a"}}]}"#);
        assert!(!empty.has_reasoning() && empty.has_content());
    }

    #[test]
    fn completions_text_counts_and_usage_only_chunk_does_not() {
        assert!(parse(r#"{"choices":[{"text":" a","index":0}]}"#).has_content());
        assert!(!parse(r#"{"choices":[{"text":"","index":0,"finish_reason":"length"}]}"#).has_content());
        let usage =
            parse(r#"{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":9,"total_tokens":12}}"#);
        assert!(!usage.has_content());
        assert_eq!(usage.usage.unwrap().completion_tokens, Some(9));
    }

    #[test]
    fn reads_whole_chat_body_and_error_bodies() {
        let b = parse(
            r#"{"choices":[{"index":0,"message":{"role":"assistant","content":"hello"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":2}}"#,
        );
        assert!(b.has_content());
        assert_eq!(b.choices[0].finish_reason.as_deref(), Some("stop"));
        let msg = error_message(
            br#"{"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}}"#,
        );
        assert_eq!(msg.as_deref(), Some("Rate limit reached"));
        assert_eq!(error_message(b"<html>bad gateway</html>"), None);
    }
}

/// One event of the Responses API's stream (`/v1/responses`), or its whole
/// non-streamed answer, as much as measurement needs. Each is read into the
/// same `Body` as a chat chunk (`into_body`), so one timeline serves both.
#[derive(Debug, Default, Deserialize)]
pub struct ResponsesEvent<'a> {
    #[serde(rename = "type", default, borrow)]
    pub kind: Cow<'a, str>,
    #[serde(borrow, default, deserialize_with = "borrowed")]
    pub delta: Option<Cow<'a, str>>,
    /// In `response.created`, `.completed`, `.incomplete`, `.failed`.
    pub response: Option<ResponsesObject>,
    /// The `error` event's message.
    pub message: Option<String>,
}

/// A `response` object: its status, usage and, not streamed, its output.
#[derive(Debug, Default, Deserialize)]
pub struct ResponsesObject {
    pub status: Option<String>,
    pub incomplete_details: Option<Incomplete>,
    pub usage: Option<ResponsesUsage>,
    pub error: Option<ApiError>,
    #[serde(default)]
    pub output: Vec<OutputItem>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Incomplete {
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub struct ResponsesUsage {
    pub input_tokens: Option<u64>,
    pub output_tokens: Option<u64>,
    pub input_tokens_details: Option<PromptTokensDetails>,
    pub output_tokens_details: Option<OutputTokensDetails>,
}

#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub struct OutputTokensDetails {
    pub reasoning_tokens: Option<u64>,
}

/// An output item: a `message` (its `output_text` parts) or `reasoning`
/// (its summary parts).
#[derive(Debug, Default, Deserialize)]
pub struct OutputItem {
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub content: Vec<TextPart>,
    #[serde(default)]
    pub summary: Vec<TextPart>,
}

#[derive(Debug, Default, Deserialize)]
pub struct TextPart {
    #[serde(default)]
    pub text: String,
}

impl ResponsesObject {
    /// `stop` when completed, `length` when `max_output_tokens` cut it.
    fn finish_reason(&self) -> Option<String> {
        match self.status.as_deref() {
            Some("completed") => Some("stop".into()),
            Some("incomplete") => {
                let reason = self.incomplete_details.as_ref().and_then(|d| d.reason.as_deref());
                Some(
                    if reason == Some("max_output_tokens") {
                        "length"
                    } else {
                        reason.unwrap_or("incomplete")
                    }
                    .into(),
                )
            }
            _ => None,
        }
    }

    fn usage(&self) -> Option<Usage> {
        self.usage.map(|u| Usage {
            prompt_tokens: u.input_tokens,
            completion_tokens: u.output_tokens,
            prompt_tokens_details: u.input_tokens_details,
            prompt_cache_hit_tokens: None,
            completion_tokens_details: u.output_tokens_details,
        })
    }

    /// The whole answer as a chat body: one choice with the output text and
    /// the reasoning summary, its finish reason and usage.
    pub fn into_body(self) -> Body<'static> {
        let mut text = String::new();
        let mut reasoning = String::new();
        for item in &self.output {
            match item.kind.as_str() {
                "message" => item.content.iter().for_each(|p| text.push_str(&p.text)),
                "reasoning" => {
                    item.summary.iter().chain(&item.content).for_each(|p| reasoning.push_str(&p.text))
                }
                _ => {}
            }
        }
        let message = Message {
            content: Some(Cow::Owned(text)),
            reasoning_content: (!reasoning.is_empty()).then_some(Cow::Owned(reasoning)),
            reasoning: None,
        };
        let failed = self.status.as_deref() == Some("failed");
        let (finish_reason, usage) = (self.finish_reason(), self.usage());
        let error = self.error.or_else(|| failed.then(|| ApiError { message: "the response failed".into() }));
        Body {
            choices: vec![Choice {
                message: Some(message),
                finish_reason: finish_reason.map(Cow::Owned),
                ..Default::default()
            }],
            usage,
            error,
            timings: None,
        }
    }
}

impl<'a> ResponsesEvent<'a> {
    /// The end of the stream: completed, incomplete or failed.
    pub fn is_terminal(&self) -> bool {
        matches!(self.kind.as_ref(), "response.completed" | "response.incomplete" | "response.failed")
    }

    /// What the event says, as a chat chunk: a text delta, a reasoning
    /// delta, the end (finish reason and usage) or an error; `None` for the
    /// events that carry nothing measured (created, item added, part done).
    pub fn into_body(self) -> Option<Body<'a>> {
        let delta = |content, reasoning| Body {
            choices: vec![Choice {
                delta: Some(Message { content, reasoning_content: reasoning, reasoning: None }),
                ..Default::default()
            }],
            ..Default::default()
        };
        match self.kind.as_ref() {
            "response.output_text.delta" => Some(delta(self.delta, None)),
            "response.reasoning_text.delta" | "response.reasoning_summary_text.delta" => {
                Some(delta(None, self.delta))
            }
            "response.completed" | "response.incomplete" | "response.failed" => {
                let r = self.response.unwrap_or_default();
                let failed = self.kind == "response.failed";
                let choices = match r.finish_reason() {
                    Some(f) => vec![Choice { finish_reason: Some(Cow::Owned(f)), ..Default::default() }],
                    None => Vec::new(),
                };
                let usage = r.usage();
                let error =
                    r.error.or_else(|| failed.then(|| ApiError { message: "the response failed".into() }));
                Some(Body { choices, usage, error, timings: None })
            }
            "error" => Some(Body {
                error: Some(ApiError { message: self.message.unwrap_or_else(|| "error event".into()) }),
                ..Default::default()
            }),
            _ => None,
        }
    }
}
