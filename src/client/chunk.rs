//! The parts of OpenAI response bodies and stream chunks that measurement
//! needs. Unknown fields are ignored: servers add their own.
//!
//! Text borrows from the event's bytes (`Cow` copies only when the JSON
//! string has escapes): a stream parses one of these per token.

use std::borrow::Cow;

use serde::Deserialize;

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
    #[serde(borrow)]
    pub text: Option<Cow<'a, str>>,
    pub finish_reason: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Message<'a> {
    #[serde(borrow)]
    pub content: Option<Cow<'a, str>>,
    /// Reasoning text as DeepSeek and vLLM stream it.
    #[serde(borrow)]
    pub reasoning_content: Option<Cow<'a, str>>,
    /// The same under the name other servers (OpenRouter, Ollama) use.
    #[serde(borrow)]
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
