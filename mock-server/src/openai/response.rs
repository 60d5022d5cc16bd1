//! Responses and SSE events. The shapes are the serde types below, used for every
//! event; the token event, the hot path, is rendered once per request with a
//! placeholder and then reused as a prefix and a suffix around each word.

use bytes::Bytes;
use serde::Serialize;

use super::{Endpoint, to_json};
use crate::stream::SseFrames;

const SYSTEM_FINGERPRINT: &str = "fp_llmload_sim";
const DONE: &[u8] = b"data: [DONE]\n\n";

/// What every chunk and response of one request shares.
pub(crate) struct Meta<'a> {
    pub(crate) id: &'a str,
    pub(crate) created: u64,
    pub(crate) model: &'a str,
}

#[derive(Serialize, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Usage {
    pub(crate) prompt_tokens: u64,
    pub(crate) completion_tokens: u64,
    pub(crate) total_tokens: u64,
    /// Sent when the model has a prefix cache, as the API sends it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) prompt_tokens_details: Option<PromptDetails>,
    /// Sent for a model that reasons, as the API sends it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) completion_tokens_details: Option<CompletionDetails>,
}

#[derive(Serialize, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct CompletionDetails {
    pub(crate) reasoning_tokens: u64,
}

#[derive(Serialize, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PromptDetails {
    pub(crate) cached_tokens: u64,
}

/// A returned choice of a non-streaming response, in index order.
pub(crate) struct ChoiceText {
    pub(crate) text: String,
    pub(crate) reasoning: Option<String>,
    pub(crate) finish_reason: &'static str,
}

/// The `usage` field of a chunk: absent unless usage was asked for; then `null` on
/// every chunk but the last, as the real API does. (`Some(None)` serializes as `null`.)
type ChunkUsage = Option<Option<Usage>>;

#[derive(Serialize)]
struct ChatChunk<'a> {
    id: &'a str,
    object: &'static str,
    created: u64,
    model: &'a str,
    system_fingerprint: &'static str,
    choices: &'a [ChatChunkChoice<'a>],
    #[serde(skip_serializing_if = "Option::is_none")]
    usage: ChunkUsage,
}

#[derive(Serialize)]
struct ChatChunkChoice<'a> {
    index: u32,
    delta: Delta<'a>,
    /// Always `null`; `()` serializes as `null`.
    logprobs: (),
    finish_reason: Option<&'static str>,
}

#[derive(Serialize)]
struct Delta<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content: Option<&'a str>,
    /// A reasoning token, as vLLM and DeepSeek stream it.
    #[serde(skip_serializing_if = "Option::is_none")]
    reasoning_content: Option<&'a str>,
}

/// A legacy completion, streamed or not: the two differ only in `usage`.
#[derive(Serialize)]
struct Completion<'a> {
    id: &'a str,
    object: &'static str,
    created: u64,
    model: &'a str,
    choices: &'a [CompletionChoice<'a>],
    #[serde(skip_serializing_if = "Option::is_none")]
    usage: ChunkUsage,
}

#[derive(Serialize)]
struct CompletionChoice<'a> {
    text: &'a str,
    index: u32,
    logprobs: (),
    finish_reason: Option<&'static str>,
}

#[derive(Serialize)]
struct ChatCompletion<'a> {
    id: &'a str,
    object: &'static str,
    created: u64,
    model: &'a str,
    system_fingerprint: &'static str,
    choices: Vec<ChatChoice<'a>>,
    usage: Usage,
}

#[derive(Serialize)]
struct ChatChoice<'a> {
    index: u32,
    message: Message<'a>,
    logprobs: (),
    finish_reason: &'static str,
}

#[derive(Serialize)]
struct Message<'a> {
    role: &'static str,
    content: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reasoning_content: Option<&'a str>,
    /// Always `null`: the simulator never refuses.
    refusal: (),
}

pub(crate) fn id_prefix(endpoint: Endpoint) -> &'static str {
    match endpoint {
        Endpoint::Chat => "chatcmpl-",
        Endpoint::Completions => "cmpl-",
        Endpoint::Responses => "resp_",
    }
}

/// The body of a complete non-streaming response.
pub(crate) fn response_json(
    endpoint: Endpoint,
    meta: &Meta,
    choices: &[ChoiceText],
    usage: Usage,
) -> Vec<u8> {
    let indexed = choices.iter().zip(0u32..);
    match endpoint {
        // One choice: the API has no `n`.
        Endpoint::Responses => {
            let (text, finish) = choices.first().map_or(("", "stop"), |c| (c.text.as_str(), c.finish_reason));
            super::responses::response_json(meta, text, finish, usage)
        }
        Endpoint::Chat => to_json(&ChatCompletion {
            id: meta.id,
            object: "chat.completion",
            created: meta.created,
            model: meta.model,
            system_fingerprint: SYSTEM_FINGERPRINT,
            choices: indexed
                .map(|(c, index)| ChatChoice {
                    index,
                    message: Message {
                        role: "assistant",
                        content: &c.text,
                        reasoning_content: c.reasoning.as_deref(),
                        refusal: (),
                    },
                    logprobs: (),
                    finish_reason: c.finish_reason,
                })
                .collect(),
            usage,
        }),
        Endpoint::Completions => {
            let choices: Vec<_> = indexed
                .map(|(c, index)| CompletionChoice {
                    text: &c.text,
                    index,
                    logprobs: (),
                    finish_reason: Some(c.finish_reason),
                })
                .collect();
            to_json(&Completion {
                id: meta.id,
                object: "text_completion",
                created: meta.created,
                model: meta.model,
                choices: &choices,
                usage: Some(Some(usage)),
            })
        }
    }
}

/// The SSE events of a streaming response, rendered ahead of time. `finish_reasons` has
/// one entry per returned choice, in index order. The Responses API's frames are
/// `responses::frames`.
pub(crate) fn sse_frames(
    chat: bool,
    meta: &Meta,
    finish_reasons: &[&'static str],
    usage: Usage,
    include_usage: bool,
) -> SseFrames {
    let endpoint = if chat { Endpoint::Chat } else { Endpoint::Completions };
    let chunk_usage = include_usage.then_some(None);
    let final_usage = include_usage.then_some(Some(usage));
    let mut open = Vec::new();
    let mut tokens = Vec::with_capacity(finish_reasons.len());
    // Chat streams reasoning; the legacy completions API has no field for it.
    let mut reasoning = Vec::new();
    let mut finish = Vec::with_capacity(finish_reasons.len());
    let usage_event = match endpoint {
        Endpoint::Chat => {
            let chunk = |choices: &[ChatChunkChoice], usage| {
                sse_event(&ChatChunk {
                    id: meta.id,
                    object: "chat.completion.chunk",
                    created: meta.created,
                    model: meta.model,
                    system_fingerprint: SYSTEM_FINGERPRINT,
                    choices,
                    usage,
                })
            };
            let delta = |index, role, content, finish_reason| ChatChunkChoice {
                index,
                delta: Delta { role, content, reasoning_content: None },
                logprobs: (),
                finish_reason,
            };
            for (reason, index) in finish_reasons.iter().zip(0u32..) {
                open.extend(chunk(&[delta(index, Some("assistant"), Some(""), None)], chunk_usage));
                tokens.push(split_at_placeholder(chunk(
                    &[delta(index, None, Some(PLACEHOLDER), None)],
                    chunk_usage,
                )));
                let thinking = ChatChunkChoice {
                    index,
                    delta: Delta { role: None, content: None, reasoning_content: Some(PLACEHOLDER) },
                    logprobs: (),
                    finish_reason: None,
                };
                reasoning.push(split_at_placeholder(chunk(&[thinking], chunk_usage)));
                finish.push(Bytes::from(chunk(&[delta(index, None, None, Some(*reason))], chunk_usage)));
            }
            chunk(&[], final_usage)
        }
        Endpoint::Completions | Endpoint::Responses => {
            let chunk = |choices: &[CompletionChoice], usage| {
                sse_event(&Completion {
                    id: meta.id,
                    object: "text_completion",
                    created: meta.created,
                    model: meta.model,
                    choices,
                    usage,
                })
            };
            let choice =
                |index, text, finish_reason| CompletionChoice { text, index, logprobs: (), finish_reason };
            for (reason, index) in finish_reasons.iter().zip(0u32..) {
                tokens.push(split_at_placeholder(chunk(&[choice(index, PLACEHOLDER, None)], chunk_usage)));
                finish.push(Bytes::from(chunk(&[choice(index, "", Some(*reason))], chunk_usage)));
            }
            chunk(&[], final_usage)
        }
    };
    let mut tail = Vec::new();
    if include_usage {
        tail.extend_from_slice(&usage_event);
    }
    tail.extend_from_slice(DONE);
    SseFrames {
        open: (!open.is_empty()).then(|| Bytes::from(open)),
        tokens,
        reasoning,
        numbered: None,
        finish,
        tail: Bytes::from(tail),
    }
}

/// Stands for the token's text in the rendered token event. serde_json writes it as
/// `\u0000`, which nothing else in the event can produce after the content field: the
/// model name (which could) comes before it, and only `usage: null` after.
const PLACEHOLDER: &str = "\u{0}";
const PLACEHOLDER_JSON: &[u8] = b"\\u0000";

fn split_at_placeholder(event: Vec<u8>) -> (Bytes, Bytes) {
    let at = event
        .windows(PLACEHOLDER_JSON.len())
        .rposition(|w| w == PLACEHOLDER_JSON)
        .expect("the token event is rendered with the placeholder");
    let event = Bytes::from(event);
    (event.slice(..at), event.slice(at + PLACEHOLDER_JSON.len()..))
}

fn sse_event(value: &impl Serialize) -> Vec<u8> {
    let mut out = b"data: ".to_vec();
    serde_json::to_writer(&mut out, value).expect("plain structs serialize to JSON");
    out.extend_from_slice(b"\n\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    /// A token event assembled from the template is a valid chunk carrying the word, even
    /// when the model name contains the placeholder character itself.
    #[test]
    fn token_template_matches_serialized_chunk() {
        let meta = Meta { id: "chatcmpl-1", created: 5, model: "we\u{0}ird \"model\"" };
        let usage = Usage {
            prompt_tokens: 1,
            completion_tokens: 2,
            total_tokens: 3,
            prompt_tokens_details: None,
            completion_tokens_details: None,
        };
        for endpoint in [Endpoint::Chat, Endpoint::Completions] {
            for include_usage in [false, true] {
                let chat = endpoint == Endpoint::Chat;
                let frames = sse_frames(chat, &meta, &["stop", "length", "stop"], usage, include_usage);
                assert_eq!(frames.tokens.len(), 3);
                for (index, (prefix, suffix)) in frames.tokens.iter().enumerate() {
                    let event = prefix.iter().chain(b" word").chain(suffix);
                    let event: Vec<u8> = event.copied().collect();
                    let json = event
                        .strip_prefix(b"data: ")
                        .and_then(|e| e.strip_suffix(b"\n\n"))
                        .expect("SSE framing");
                    let v: Value = serde_json::from_slice(json).expect("JSON");
                    assert_eq!(v["model"], json!(meta.model));
                    assert_eq!(v["choices"][0]["index"], json!(index));
                    let text = match endpoint {
                        Endpoint::Chat => &v["choices"][0]["delta"]["content"],
                        _ => &v["choices"][0]["text"],
                    };
                    assert_eq!(text, &json!(" word"));
                    assert_eq!(v.get("usage").is_some(), include_usage);
                }
                assert_eq!(frames.open.is_some(), endpoint == Endpoint::Chat);
            }
        }
    }
}
