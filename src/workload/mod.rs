//! What each request carries: the variant drawn from the weighted mix, its
//! prompts, and the serialized request body.
//!
//! A request is a pure function of (seed, sequence number), so the same
//! scenario and seed send the same requests whichever worker sends them.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use serde_json::{Value, json};

use crate::scenario::trace::TraceEntry;
use crate::scenario::{Endpoint, Price, PromptContent, PromptOrder, PromptSource, TokenSpread, Variant};
use crate::tokens::Tokenizer;

/// Below the base URL: the two endpoints requests go to.
pub const CHAT_PATH: &str = "/chat/completions";
pub const COMPLETIONS_PATH: &str = "/completions";
pub const EMBEDDINGS_PATH: &str = "/embeddings";
pub const RESPONSES_PATH: &str = "/responses";

/// Permission to send one request, issued by `load::Schedule`. It lives
/// here, beside the request it goes with, because the client and the
/// records read it too (they sit below `load`).
#[derive(Debug, Clone)]
pub struct Ticket {
    pub seq: u64,
    pub intended: Instant,
    /// Intended during warm-up: sent, not measured.
    pub warmup: bool,
    /// The stage the intended time falls in (0 during warm-up).
    pub stage: usize,
    /// The trace's request, when a trace is replayed.
    pub trace: Option<Arc<TraceEntry>>,
}

/// Where a request stands in a multi-turn session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Turn {
    /// The session: its first request's `seq`.
    pub id: u64,
    /// From 1.
    pub turn: u32,
}

/// A request ready to send.
#[derive(Debug, Clone)]
pub struct WorkRequest {
    pub variant: usize,
    pub seq: u64,
    /// Path below the base URL, e.g. `/chat/completions`.
    pub path: &'static str,
    /// What the answer is: chat or completion chunks, the Responses API's
    /// events, or vectors (`/v1/embeddings`); its body is read as such.
    pub endpoint: Endpoint,
    pub body: Bytes,
    pub stream: bool,
    /// Prompts in the request (the batch size).
    pub prompts: u32,
    /// Tokens of all its prompts, as we sized or counted them.
    pub prompt_tokens: u32,
    /// The most this request can cost (USD), when its model has a price.
    pub worst_cost: Option<f64>,
    pub price: Option<Price>,
    /// Tokens as the API estimates them for rate limits: prompt +
    /// max_tokens × max(n, best_of), per prompt.
    pub estimated_tokens: u64,
    /// The most output tokens the request can be billed for.
    pub max_output_tokens: u64,
    /// The model's tokenizer, for counting output tokens when the server
    /// sends no usage.
    pub tokenizer: Tokenizer,
    /// Choices per prompt (`n`).
    pub n: u32,
    /// The variant sends stop sequences.
    pub stops: bool,
    /// Keep the answer's text (`RequestRecord::answer`): a turn of a
    /// session whose next turn sends it back.
    pub keep_answer: bool,
    /// The session and turn this request is, if any.
    pub turn: Option<Turn>,
    /// The model sent, when not the variant's (a trace line that names one).
    pub model: Option<String>,
}

pub struct Workload {
    variants: Arc<[Variant]>,
    /// Indices of the variants this workload draws from.
    choices: Vec<usize>,
    /// Running sums of their weights, for drawing one.
    cumulative: Vec<u64>,
    seed: u64,
    /// Each variant's body and prompt tokens when they are the same for
    /// every request (a literal prompt): serialized once, not per request
    /// (BENCHMARKS.md, "A literal prompt's body, once").
    fixed: Vec<Option<(Bytes, u32)>>,
}

impl Workload {
    /// Draws from every variant by weight.
    pub fn new(variants: &[Variant], seed: u64) -> Self {
        Self::of(variants.into(), (0..variants.len()).collect(), seed)
    }

    /// Sends only variant `index` (a step of a sequential sweep).
    pub fn single(variants: &[Variant], index: usize, seed: u64) -> Self {
        Self::of(variants.into(), vec![index], seed)
    }

    fn of(variants: Arc<[Variant]>, choices: Vec<usize>, seed: u64) -> Self {
        let cumulative = choices
            .iter()
            .scan(0u64, |sum, &i| {
                *sum += u64::from(variants[i].weight);
                Some(*sum)
            })
            .collect();
        let fixed = variants
            .iter()
            .map(|v| match &v.prompt {
                PromptSource::Literal { text, tokens } => {
                    let prompts = (0..v.batch).map(|_| PromptContent::Text(text.clone())).collect();
                    Some((body(v, prompts, v.max_tokens, &v.model), v.batch * (tokens + v.system_tokens)))
                }
                _ => None,
            })
            .collect();
        Workload { variants, choices, cumulative, seed, fixed }
    }

    /// The request a ticket asks for: the trace's, when it carries one.
    pub fn request_for(&self, t: &Ticket) -> WorkRequest {
        match &t.trace {
            Some(entry) => self.traced(t.seq, entry),
            None => self.request(t.seq),
        }
    }

    /// The variant request `seq` draws by weight, and its random stream.
    fn draw(&self, seq: u64) -> (usize, Xoshiro256PlusPlus) {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(mix(self.seed, seq));
        let total = *self.cumulative.last().unwrap_or(&1);
        let draw = rng.random_range(0..total.max(1));
        let variant =
            self.choices[self.cumulative.partition_point(|&c| c <= draw).min(self.choices.len() - 1)];
        (variant, rng)
    }

    pub fn request(&self, seq: u64) -> WorkRequest {
        let (variant, mut rng) = self.draw(seq);
        let v = &self.variants[variant];
        let (body, prompt_tokens) = match &self.fixed[variant] {
            Some((body, tokens)) => (body.clone(), *tokens),
            None => {
                let mut prompt_tokens = 0u32;
                let prompts: Vec<PromptContent> = (0..v.batch)
                    .map(|j| {
                        let k = seq * u64::from(v.batch) + u64::from(j);
                        let (content, tokens) = pick_prompt(v, &mut rng, k);
                        prompt_tokens += tokens + v.system_tokens;
                        content
                    })
                    .collect();
                (body(v, prompts, v.max_tokens, &v.model), prompt_tokens)
            }
        };
        let sized = Sizing { prompts: v.batch, prompt_tokens, max_output_tokens: v.max_output_tokens() };
        WorkRequest { worst_cost: v.worst_case_cost(), ..sized.request(v, variant, seq, body) }
    }
}

/// What a request of a variant carries beyond its body: how many prompts,
/// of how many tokens, and the most output it may be billed for.
pub(crate) struct Sizing {
    pub prompts: u32,
    pub prompt_tokens: u32,
    pub max_output_tokens: u64,
}

impl Sizing {
    /// Request `seq` of `v` (at `variant`) with `body`: priced at its own
    /// prompt and most output, neither a session's turn nor keeping its answer.
    pub fn request(self, v: &Variant, variant: usize, seq: u64, body: Bytes) -> WorkRequest {
        WorkRequest {
            variant,
            seq,
            path: path_of(v),
            endpoint: v.endpoint,
            body,
            stream: v.stream,
            prompts: self.prompts,
            prompt_tokens: self.prompt_tokens,
            worst_cost: v.price.map(|p| p.cost(u64::from(self.prompt_tokens), self.max_output_tokens)),
            estimated_tokens: u64::from(self.prompt_tokens) + self.max_output_tokens,
            max_output_tokens: self.max_output_tokens,
            price: v.price,
            tokenizer: v.tokenizer.clone(),
            n: v.n,
            stops: !v.stop.is_empty(),
            keep_answer: false,
            turn: None,
            model: None,
        }
    }
}

impl WorkRequest {
    /// For unit tests: a streamed chat request of variant 0 with a prompt of
    /// one token, unpriced.
    #[cfg(test)]
    pub(crate) fn example() -> Self {
        WorkRequest {
            variant: 0,
            seq: 0,
            path: CHAT_PATH,
            endpoint: Endpoint::Chat,
            body: Bytes::new(),
            stream: true,
            prompts: 1,
            prompt_tokens: 1,
            worst_cost: None,
            price: None,
            tokenizer: Tokenizer::for_model("gpt-4o"),
            n: 1,
            stops: false,
            keep_answer: false,
            turn: None,
            model: None,
            estimated_tokens: 0,
            max_output_tokens: 0,
        }
    }
}

/// Where requests of `v` go, below the base URL.
fn path_of(v: &Variant) -> &'static str {
    match v.endpoint {
        Endpoint::Chat => CHAT_PATH,
        Endpoint::Completions => COMPLETIONS_PATH,
        Endpoint::Embeddings => EMBEDDINGS_PATH,
        Endpoint::Responses => RESPONSES_PATH,
    }
}

/// One prompt and its size in tokens. `k` numbers the prompts of the run,
/// for sequential prompt files.
fn pick_prompt(v: &Variant, rng: &mut Xoshiro256PlusPlus, k: u64) -> (PromptContent, u32) {
    match &v.prompt {
        PromptSource::Tokens(spread) => {
            let n = match *spread {
                TokenSpread::Fixed(n) => n,
                TokenSpread::Uniform { min, max } => rng.random_range(min..=max),
                TokenSpread::Normal { mean, stddev, min, max } => {
                    let z: f64 = rng.sample(rand_distr::StandardNormal);
                    ((mean + stddev * z).round().clamp(f64::from(min), f64::from(max))) as u32
                }
            };
            let mut text = String::new();
            v.tokenizer.write_prompt(rng, n, &mut text);
            (PromptContent::Text(text), n)
        }
        PromptSource::Literal { text, tokens } => (PromptContent::Text(text.clone()), *tokens),
        PromptSource::File { prompts, order, .. } => {
            let i = match order {
                PromptOrder::Random => rng.random_range(0..prompts.len()),
                PromptOrder::Sequential => (k % prompts.len() as u64) as usize,
            };
            (prompts[i].content.clone(), prompts[i].tokens)
        }
        // A ticket of a trace carries its prompt (`request_for`).
        PromptSource::Trace { .. } => (PromptContent::Text(String::new()), 0),
    }
}

/// The request body of `v` with `prompts`, asking for `max_tokens` of
/// `model` (the variant's own, or a trace's).
fn body(v: &Variant, prompts: Vec<PromptContent>, max_tokens: u32, model: &str) -> Bytes {
    let mut b = serde_json::Map::new();
    b.insert("model".into(), json!(model));
    if v.endpoint == Endpoint::Embeddings {
        let texts: Vec<Value> = prompts
            .into_iter()
            .map(|p| match p {
                PromptContent::Text(t) => Value::String(t),
                // Rejected by validation for embeddings.
                PromptContent::Messages(m) => Value::String(Value::Array(m).to_string()),
            })
            .collect();
        let input =
            if texts.len() == 1 { texts.into_iter().next().unwrap_or_default() } else { Value::Array(texts) };
        b.insert("input".into(), input);
        if let Some(d) = v.dimensions {
            b.insert("dimensions".into(), json!(d));
        }
        if let Some(f) = v.encoding_format {
            b.insert("encoding_format".into(), json!(f));
        }
        b.extend(v.extra_body.clone());
        return Bytes::from(serde_json::to_vec(&Value::Object(b)).unwrap_or_default());
    }
    if v.endpoint == Endpoint::Responses {
        match prompts.into_iter().next() {
            Some(PromptContent::Text(t)) => b.insert("input".into(), Value::String(t)),
            Some(PromptContent::Messages(m)) => b.insert("input".into(), Value::Array(m)),
            None => b.insert("input".into(), Value::String(String::new())),
        };
        if let Some(s) = &v.system {
            b.insert("instructions".into(), json!(s));
        }
        b.insert("max_output_tokens".into(), json!(max_tokens));
        b.insert("stream".into(), json!(v.stream));
        b.extend(v.sampling.clone());
        b.extend(v.extra_body.clone());
        return Bytes::from(serde_json::to_vec(&Value::Object(b)).unwrap_or_default());
    }
    match v.endpoint {
        Endpoint::Chat => {
            let mut messages = Vec::new();
            if let Some(s) = &v.system {
                messages.push(json!({ "role": "system", "content": s }));
            }
            match prompts.into_iter().next() {
                Some(PromptContent::Text(t)) => messages.push(json!({ "role": "user", "content": t })),
                Some(PromptContent::Messages(m)) => messages.extend(m),
                None => {}
            }
            b.insert("messages".into(), Value::Array(messages));
        }
        Endpoint::Completions => {
            let texts: Vec<Value> = prompts
                .into_iter()
                .map(|p| match p {
                    PromptContent::Text(t) => Value::String(t),
                    // Rejected by validation for completions; sent as text if it ever gets here.
                    PromptContent::Messages(m) => Value::String(Value::Array(m).to_string()),
                })
                .collect();
            let prompt = if texts.len() == 1 {
                texts.into_iter().next().unwrap_or_default()
            } else {
                Value::Array(texts)
            };
            b.insert("prompt".into(), prompt);
        }
        // Their bodies are built above, whole.
        Endpoint::Embeddings | Endpoint::Responses => {}
    }
    b.insert("max_tokens".into(), json!(max_tokens));
    if v.n > 1 {
        b.insert("n".into(), json!(v.n));
    }
    if let Some(best_of) = v.best_of {
        b.insert("best_of".into(), json!(best_of));
    }
    match v.stop.as_slice() {
        [] => {}
        [one] => {
            b.insert("stop".into(), json!(one));
        }
        many => {
            b.insert("stop".into(), json!(many));
        }
    }
    b.insert("stream".into(), json!(v.stream));
    if v.stream && v.include_usage {
        b.insert("stream_options".into(), json!({ "include_usage": true }));
    }
    b.extend(v.sampling.clone());
    b.extend(v.extra_body.clone());
    Bytes::from(serde_json::to_vec(&Value::Object(b)).unwrap_or_default())
}

/// SplitMix64 of seed and sequence: independent streams per request.
pub(crate) fn mix(seed: u64, seq: u64) -> u64 {
    let mut z = seed ^ seq.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

mod session;
mod trace;

pub use session::Session;

#[cfg(test)]
mod tests;
