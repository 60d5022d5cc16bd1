//! The Responses API (`/v1/responses`): its request read into the same `Generation`
//! as the other endpoints, and its answer: a `response` object, or its stream of typed
//! events. Each event carries a `sequence_number`; the token event, the hot path, is
//! rendered once per request in three pieces (before the text, between the text and the
//! number, after the number), as the other endpoints' token events are in two.

use bytes::Bytes;
use serde::Serialize;
use serde_json::Value;

use super::response::{Meta, Usage};
use super::{ApiError, to_json};
use crate::stream::SseFrames;
use crate::text;

/// The Responses API's default cap on output, when the request sets none: a reply of
/// typical size, cut to what the context window leaves.
const DEFAULT_OUTPUT_TOKENS: u32 = 256;
/// Events before the first delta: created, in_progress, the message item, its part.
pub(crate) const FIRST_DELTA_SEQUENCE: u64 = 4;

fn invalid(param: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::invalid(message, Some(param), None)
}

/// `model`, `input` (a string, or message items whose `content` is a string or a list
/// of `input_text` parts), `instructions`, `max_output_tokens`, `stream`.
pub(crate) fn parse(body: &[u8]) -> Result<super::Generation, ApiError> {
    let v: Value = serde_json::from_slice(body).map_err(ApiError::unparsable)?;
    let Some(obj) = v.as_object() else {
        return Err(ApiError::invalid("The body must be a JSON object.", None, None));
    };
    let model = match obj.get("model") {
        Some(Value::String(m)) if !m.is_empty() => m.clone(),
        _ => return Err(invalid("model", "Missing required parameter: 'model'.")),
    };
    let mut words = match obj.get("input") {
        Some(Value::String(s)) => text::count_words(s),
        Some(Value::Array(items)) if !items.is_empty() => {
            let mut n = 0;
            for item in items {
                n += match item.get("content") {
                    Some(Value::String(s)) => text::count_words(s),
                    Some(Value::Array(parts)) => parts
                        .iter()
                        .map(|p| p.get("text").and_then(Value::as_str).map_or(0, text::count_words))
                        .sum(),
                    _ => return Err(invalid("input", "Invalid 'input': each item needs a 'content'.")),
                };
            }
            n
        }
        _ => return Err(invalid("input", "Missing required parameter: 'input'.")),
    };
    match obj.get("instructions") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) => words += text::count_words(s),
        Some(_) => return Err(invalid("instructions", "Invalid 'instructions': expected a string.")),
    }
    let max_output_tokens = match obj.get("max_output_tokens") {
        None | Some(Value::Null) => None,
        Some(m) => match m.as_u64() {
            Some(n @ 16..=131_072) => Some(n as u32),
            _ => {
                return Err(invalid(
                    "max_output_tokens",
                    format!(
                        "Invalid 'max_output_tokens': integer below minimum value. Expected a value >= 16, but got {m} instead."
                    ),
                ));
            }
        },
    };
    let stream = match obj.get("stream") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(invalid("stream", "Invalid 'stream': expected a boolean.")),
    };
    Ok(super::Generation {
        model,
        prompts: vec![words],
        blocks: Vec::new(),
        max_tokens: max_output_tokens.unwrap_or(DEFAULT_OUTPUT_TOKENS),
        max_tokens_given: max_output_tokens.is_some(),
        n: 1,
        best_of: 1,
        stop: Vec::new(),
        stream,
        include_usage: true,
    })
}

#[derive(Serialize)]
struct ResponseUsage {
    input_tokens: u64,
    input_tokens_details: InputDetails,
    output_tokens: u64,
    output_tokens_details: OutputDetails,
    total_tokens: u64,
}

#[derive(Serialize)]
struct InputDetails {
    cached_tokens: u64,
}

#[derive(Serialize)]
struct OutputDetails {
    reasoning_tokens: u64,
}

impl From<Usage> for ResponseUsage {
    fn from(u: Usage) -> Self {
        ResponseUsage {
            input_tokens: u.prompt_tokens,
            input_tokens_details: InputDetails {
                cached_tokens: u.prompt_tokens_details.map_or(0, |d| d.cached_tokens),
            },
            output_tokens: u.completion_tokens,
            output_tokens_details: OutputDetails {
                reasoning_tokens: u.completion_tokens_details.map_or(0, |d| d.reasoning_tokens),
            },
            total_tokens: u.total_tokens,
        }
    }
}

#[derive(Serialize)]
struct Response<'a> {
    id: &'a str,
    object: &'static str,
    created_at: u64,
    status: &'static str,
    incomplete_details: Option<Incomplete>,
    model: &'a str,
    output: Vec<Item<'a>>,
    usage: Option<ResponseUsage>,
}

#[derive(Serialize)]
struct Incomplete {
    reason: &'static str,
}

#[derive(Serialize)]
struct Item<'a> {
    id: String,
    #[serde(rename = "type")]
    kind: &'static str,
    status: &'static str,
    role: &'static str,
    content: Vec<Part<'a>>,
}

#[derive(Serialize)]
struct Part<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    text: &'a str,
    annotations: [(); 0],
}

/// `completed`, or `incomplete` when `max_output_tokens` ended it.
fn status(finish: &str) -> (&'static str, Option<Incomplete>) {
    if finish == crate::plan::FINISH_LENGTH {
        ("incomplete", Some(Incomplete { reason: "max_output_tokens" }))
    } else {
        ("completed", None)
    }
}

fn message_id(meta: &Meta) -> String {
    format!("msg_{}", meta.id.trim_start_matches("resp_"))
}

fn response<'a>(meta: &'a Meta, text: Option<&'a str>, finish: &str, usage: Option<Usage>) -> Response<'a> {
    let (status, incomplete_details) = match text {
        Some(_) => status(finish),
        None => ("in_progress", None),
    };
    let item_status = if status == "in_progress" { "in_progress" } else { "completed" };
    Response {
        id: meta.id,
        object: "response",
        created_at: meta.created,
        status,
        incomplete_details,
        model: meta.model,
        output: text
            .map(|t| Item {
                id: message_id(meta),
                kind: "message",
                status: item_status,
                role: "assistant",
                content: vec![Part { kind: "output_text", text: t, annotations: [] }],
            })
            .into_iter()
            .collect(),
        usage: usage.map(ResponseUsage::from),
    }
}

/// The whole answer, not streamed.
pub(crate) fn response_json(meta: &Meta, text: &str, finish: &str, usage: Usage) -> Vec<u8> {
    to_json(&response(meta, Some(text), finish, Some(usage)))
}

/// One event: `event: TYPE` and its JSON, whose `type` repeats it.
fn event(kind: &str, value: &impl Serialize) -> Vec<u8> {
    let mut out = format!("event: {kind}\ndata: ").into_bytes();
    serde_json::to_writer(&mut out, value).expect("plain structs serialize to JSON");
    out.extend_from_slice(b"\n\n");
    out
}

#[derive(Serialize)]
struct Envelope<'a, T: Serialize> {
    #[serde(rename = "type")]
    kind: &'a str,
    #[serde(flatten)]
    body: T,
    sequence_number: u64,
}

#[derive(Serialize)]
struct ResponseEvent<'a> {
    response: Response<'a>,
}

#[derive(Serialize)]
struct ItemEvent<'a> {
    output_index: u32,
    item: Item<'a>,
}

#[derive(Serialize)]
struct PartEvent<'a> {
    item_id: String,
    output_index: u32,
    content_index: u32,
    part: Part<'a>,
}

#[derive(Serialize)]
struct TextDone<'a> {
    item_id: String,
    output_index: u32,
    content_index: u32,
    text: &'a str,
}

/// Numbers come last in a delta event so that the template can end with one.
#[derive(Serialize)]
struct Delta<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    item_id: &'a str,
    output_index: u32,
    content_index: u32,
    delta: &'a str,
    logprobs: [(); 0],
    sequence_number: u64,
}

/// The events of a streamed response: `text` is the whole answer (for the `done`
/// events), `tokens` its length in tokens (deltas), `finish` why it ended.
pub(crate) fn frames(meta: &Meta, text: &str, tokens: u32, finish: &str, usage: Usage) -> SseFrames {
    let id = message_id(meta);
    let mut seq = 0u64;
    let mut next = || {
        seq += 1;
        seq - 1
    };
    let mut open = Vec::new();
    for kind in ["response.created", "response.in_progress"] {
        let body = ResponseEvent { response: response(meta, None, finish, None) };
        open.extend(event(kind, &Envelope { kind, body, sequence_number: next() }));
    }
    let item = |status, content| Item { id: id.clone(), kind: "message", status, role: "assistant", content };
    let kind = "response.output_item.added";
    let body = ItemEvent { output_index: 0, item: item("in_progress", Vec::new()) };
    open.extend(event(kind, &Envelope { kind, body, sequence_number: next() }));
    let part = |t| Part { kind: "output_text", text: t, annotations: [] };
    let kind = "response.content_part.added";
    let body = PartEvent { item_id: id.clone(), output_index: 0, content_index: 0, part: part("") };
    open.extend(event(kind, &Envelope { kind, body, sequence_number: next() }));
    debug_assert_eq!(seq, FIRST_DELTA_SEQUENCE);

    // The delta template: split at the text and at the number.
    const SENTINEL: u64 = 987_654_321_987_654_321;
    let delta = Delta {
        kind: "response.output_text.delta",
        item_id: &id,
        output_index: 0,
        content_index: 0,
        delta: "\u{0}",
        logprobs: [],
        sequence_number: SENTINEL,
    };
    let rendered = event("response.output_text.delta", &delta);
    let find =
        |needle: &[u8]| rendered.windows(needle.len()).position(|w| w == needle).expect("in the template");
    let at_text = find(b"\\u0000");
    let at_number = find(SENTINEL.to_string().as_bytes());
    let rendered = Bytes::from(rendered);
    let prefix = rendered.slice(..at_text);
    let middle = rendered.slice(at_text + 6..at_number);
    let after = rendered.slice(at_number + SENTINEL.to_string().len()..);

    let mut seq = FIRST_DELTA_SEQUENCE + u64::from(tokens);
    let mut next = || {
        seq += 1;
        seq - 1
    };
    let mut tail = Vec::new();
    let kind = "response.output_text.done";
    let body = TextDone { item_id: id.clone(), output_index: 0, content_index: 0, text };
    tail.extend(event(kind, &Envelope { kind, body, sequence_number: next() }));
    let kind = "response.content_part.done";
    let body = PartEvent { item_id: id.clone(), output_index: 0, content_index: 0, part: part(text) };
    tail.extend(event(kind, &Envelope { kind, body, sequence_number: next() }));
    let kind = "response.output_item.done";
    let body = ItemEvent { output_index: 0, item: item("completed", vec![part(text)]) };
    tail.extend(event(kind, &Envelope { kind, body, sequence_number: next() }));
    let (status, _) = status(finish);
    let kind = if status == "completed" { "response.completed" } else { "response.incomplete" };
    let body = ResponseEvent { response: response(meta, Some(text), finish, Some(usage)) };
    tail.extend(event(kind, &Envelope { kind, body, sequence_number: next() }));

    SseFrames {
        open: Some(Bytes::from(open)),
        tokens: vec![(prefix, middle)],
        // The API does not stream raw reasoning: its time passes unseen.
        reasoning: Vec::new(),
        numbered: Some((after, FIRST_DELTA_SEQUENCE)),
        finish: vec![Bytes::new()],
        tail: Bytes::from(tail),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage() -> Usage {
        Usage {
            prompt_tokens: 3,
            completion_tokens: 2,
            total_tokens: 5,
            prompt_tokens_details: None,
            completion_tokens_details: None,
        }
    }

    #[test]
    fn requests_are_read_and_refused_as_the_api_does() {
        let g = parse(br#"{"model":"m","input":"one two three","instructions":"be brief","max_output_tokens":19,"stream":true}"#)
            .unwrap();
        assert_eq!((g.prompts.clone(), g.max_tokens, g.stream, g.n), (vec![5], 19, true, 1));
        let g = parse(br#"{"model":"m","input":[{"role":"user","content":[{"type":"input_text","text":"a b"}]},{"role":"assistant","content":"c"}]}"#)
            .unwrap();
        assert_eq!((g.prompts.clone(), g.max_tokens, g.stream), (vec![3], DEFAULT_OUTPUT_TOKENS, false));
        for bad in
            [r#"{"input":"x"}"#, r#"{"model":"m"}"#, r#"{"model":"m","input":"x","max_output_tokens":15}"#]
        {
            assert!(parse(bad.as_bytes()).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_stream_is_numbered_events_ending_in_completed() {
        let meta = Meta { id: "resp_1", created: 7, model: "m" };
        let f = frames(&meta, " a b", 2, "stop", usage());
        let mut all = f.open.clone().unwrap().to_vec();
        for (i, word) in [" a", " b"].iter().enumerate() {
            let (prefix, middle) = &f.tokens[0];
            let (after, first) = f.numbered.clone().unwrap();
            all.extend_from_slice(prefix);
            all.extend_from_slice(word.as_bytes());
            all.extend_from_slice(middle);
            all.extend_from_slice((first + i as u64).to_string().as_bytes());
            all.extend_from_slice(&after);
        }
        all.extend_from_slice(&f.tail);
        let text = String::from_utf8(all).unwrap();
        let events: Vec<Value> = text
            .split("\n\n")
            .filter(|e| !e.is_empty())
            .map(|e| {
                let (head, data) = e.split_once('\n').unwrap();
                let v: Value = serde_json::from_str(data.strip_prefix("data: ").unwrap()).unwrap();
                assert_eq!(head.strip_prefix("event: "), v["type"].as_str(), "{e}");
                v
            })
            .collect();
        let numbers: Vec<u64> = events.iter().map(|e| e["sequence_number"].as_u64().unwrap()).collect();
        assert_eq!(numbers, (0..events.len() as u64).collect::<Vec<_>>());
        let deltas: String = events.iter().filter_map(|e| e["delta"].as_str()).collect();
        assert_eq!(deltas, " a b");
        let last = events.last().unwrap();
        assert_eq!(last["type"], "response.completed");
        assert_eq!(last["response"]["usage"]["output_tokens"], 2);
        assert_eq!(last["response"]["output"][0]["content"][0]["text"], " a b");
        let cut = frames(&meta, " a", 1, "length", usage());
        assert!(String::from_utf8(cut.tail.to_vec()).unwrap().contains("\"max_output_tokens\""));
    }
}
