//! The parts of OpenAI response bodies and stream chunks that measurement
//! needs. Unknown fields are ignored: servers add their own.

use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
pub struct Body {
    #[serde(default)]
    pub choices: Vec<Choice>,
    pub usage: Option<Usage>,
    pub error: Option<ApiError>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Choice {
    /// Streaming chat.
    pub delta: Option<Message>,
    /// Non-streaming chat.
    pub message: Option<Message>,
    /// Completions, streaming or not.
    pub text: Option<String>,
    pub finish_reason: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Message {
    pub content: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub struct Usage {
    pub prompt_tokens: Option<u64>,
    pub completion_tokens: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
pub struct ApiError {
    #[serde(default)]
    pub message: String,
}

impl Choice {
    /// The generated text this choice carries, if any.
    pub fn content(&self) -> Option<&str> {
        fn text(m: &Option<Message>) -> Option<&str> {
            m.as_ref().and_then(|m| m.content.as_deref())
        }
        text(&self.delta).or_else(|| text(&self.message)).or(self.text.as_deref())
    }
}

impl Body {
    /// A content-bearing event carries non-empty text on some choice;
    /// role-only, empty and usage-only chunks do not count.
    pub fn has_content(&self) -> bool {
        self.choices.iter().any(|c| c.content().is_some_and(|t| !t.is_empty()))
    }

    pub fn content_chars(&self) -> usize {
        self.choices.iter().filter_map(Choice::content).map(str::len).sum()
    }

    pub fn finish_reason(&self) -> Option<&str> {
        self.choices.iter().rev().find_map(|c| c.finish_reason.as_deref())
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

    fn parse(s: &str) -> Body {
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
        assert_eq!(b.finish_reason(), Some("stop"));
        let msg = error_message(
            br#"{"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}}"#,
        );
        assert_eq!(msg.as_deref(), Some("Rate limit reached"));
        assert_eq!(error_message(b"<html>bad gateway</html>"), None);
    }
}
