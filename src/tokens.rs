//! Token counts in the served model's own tokenizer, with a stated fallback.
//!
//! A `Tokenizer` is chosen per model when the scenario is loaded, in this
//! order: a Hugging Face `tokenizer.json` the scenario names (`[tokenizers]`
//! per model, or `tokenizer` of the target), read offline with the
//! `tokenizers` crate; tiktoken's encoding for an OpenAI model name; else
//! o200k_base, the encoding of current OpenAI models, as a stated fallback.
//! The same tokenizer sizes the prompts of `prompt_tokens = N` and counts the
//! answers of a server that sends no usage (`count_off_workers`).

mod words;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, OnceLock};

use tiktoken_rs::CoreBPE;
use tiktoken_rs::tokenizer::get_tokenizer;

/// The encoding used for models tiktoken does not know.
pub const FALLBACK_ENCODING: &str = "o200k_base";

/// The largest tokenizer.json read (the largest published ones are ~30 MB).
pub const MAX_TOKENIZER_BYTES: u64 = 128 << 20;

/// Where a client-side count comes from: what a count's source column says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counter {
    /// The model's own tokenizer.json.
    Tokenizer,
    /// tiktoken's encoding for an OpenAI model.
    Tiktoken,
    /// o200k_base for a model no tokenizer was given for.
    Fallback,
}

impl Counter {
    pub fn as_str(self) -> &'static str {
        match self {
            Counter::Tokenizer => "tokenizer",
            Counter::Tiktoken => "tiktoken",
            Counter::Fallback => "fallback",
        }
    }
}

/// A model's tokenizer: cheap to clone, shared by every request of the model.
#[derive(Clone)]
pub struct Tokenizer(Arc<Inner>);

struct Inner {
    encoder: Encoder,
    counter: Counter,
    /// What the plan and the notes call it: `tokenizer.json (PATH)`, `o200k_base`.
    label: String,
    /// Words of one token each, preceded by a space or not, for prompts of
    /// an exact size; fewer than `words::MIN_WORDS` when the tokenizer has
    /// too few (prompts are then sized per word, about right, and the plan
    /// says so).
    words: OnceLock<words::Words>,
}

enum Encoder {
    /// tiktoken's, loaded on first use (o200k takes ~80 ms).
    Tiktoken(tiktoken_rs::tokenizer::Tokenizer),
    HuggingFace(Box<tokenizers::Tokenizer>),
}

impl Tokenizer {
    /// tiktoken's encoding for `model`, or the fallback when it is no OpenAI model.
    pub fn for_model(model: &str) -> Tokenizer {
        let (kind, counter) = match get_tokenizer(model) {
            Some(k) => (k, Counter::Tiktoken),
            None => (tiktoken_rs::tokenizer::Tokenizer::O200kBase, Counter::Fallback),
        };
        Tokenizer(Arc::new(Inner {
            encoder: Encoder::Tiktoken(kind),
            counter,
            label: encoding_name(kind).to_owned(),
            words: OnceLock::new(),
        }))
    }

    /// A Hugging Face tokenizer: `path` is a tokenizer.json, or a directory
    /// holding one. Read from disk only, never fetched.
    pub fn load(path: &Path) -> Result<Tokenizer, String> {
        let file: PathBuf = if path.is_dir() { path.join("tokenizer.json") } else { path.to_owned() };
        let shown = file.display();
        let size = std::fs::metadata(&file).map_err(|e| format!("cannot read {shown}: {e}"))?.len();
        if size > MAX_TOKENIZER_BYTES {
            return Err(format!(
                "{shown} is larger than the {} MiB a tokenizer.json may be",
                MAX_TOKENIZER_BYTES >> 20
            ));
        }
        let bytes = std::fs::read(&file).map_err(|e| format!("cannot read {shown}: {e}"))?;
        let tok = tokenizers::Tokenizer::from_bytes(&bytes)
            .map_err(|e| format!("{shown} is not a Hugging Face tokenizer.json: {e}"))?;
        let t = Tokenizer(Arc::new(Inner {
            encoder: Encoder::HuggingFace(Box::new(tok)),
            counter: Counter::Tokenizer,
            label: format!("tokenizer.json ({shown})"),
            words: OnceLock::new(),
        }));
        // Checked now, so that a tokenizer that cannot encode fails at load.
        t.words();
        Ok(t)
    }

    pub fn counter(&self) -> Counter {
        self.0.counter
    }

    pub fn label(&self) -> &str {
        &self.0.label
    }

    /// Tokens of `text` (special tokens as plain text; no BOS/EOS added).
    pub fn count(&self, text: &str) -> usize {
        match &self.0.encoder {
            Encoder::Tiktoken(kind) => bpe(*kind).encode_ordinary(text).len(),
            Encoder::HuggingFace(tok) => tok.encode_fast(text, false).map_or(0, |e| e.len()),
        }
    }

    /// Appends a seeded prompt of `tokens` tokens in this tokenizer to `out`.
    pub fn write_prompt(&self, rng: &mut impl rand::Rng, tokens: u32, out: &mut String) {
        self.words().write(rng, tokens, out);
    }

    /// Whether `write_prompt` sizes prompts exactly (it does for every
    /// tokenizer whose common English words are tokens of their own).
    pub fn sizes_exactly(&self) -> bool {
        self.words().exact
    }

    /// Loads whatever is loaded lazily, so that no request pays for it.
    pub fn prepare(&self) {
        self.words();
    }

    fn words(&self) -> &words::Words {
        self.0.words.get_or_init(|| words::Words::choose(|t| self.count(t)))
    }
}

impl fmt::Debug for Tokenizer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.label)
    }
}

impl PartialEq for Tokenizer {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.0.label == other.0.label
    }
}

fn bpe(kind: tiktoken_rs::tokenizer::Tokenizer) -> &'static CoreBPE {
    tiktoken_rs::bpe_for_tokenizer(kind).unwrap_or_else(|_| tiktoken_rs::o200k_base_singleton())
}

fn encoding_name(kind: tiktoken_rs::tokenizer::Tokenizer) -> &'static str {
    use tiktoken_rs::tokenizer::Tokenizer as T;
    match kind {
        T::O200kBase => "o200k_base",
        T::O200kHarmony => "o200k_harmony",
        T::Cl100kBase => "cl100k_base",
        T::P50kBase => "p50k_base",
        T::P50kEdit => "p50k_edit",
        T::R50kBase => "r50k_base",
        T::Gpt2 => "gpt2",
    }
}

/// A choice's text as it was received: `cuts` are the byte offsets where
/// each streamed event's text ended (empty for a whole body).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Received {
    pub text: String,
    pub cuts: Vec<u32>,
}

impl Received {
    pub fn whole(text: impl Into<String>) -> Self {
        Received { text: text.into(), cuts: Vec::new() }
    }

    /// The text of each event (the whole text for a body).
    pub fn pieces(&self) -> impl Iterator<Item = &str> {
        let ends = self.cuts.iter().map(|&c| c as usize).chain([self.text.len()]);
        let mut from = 0;
        ends.filter_map(move |to| {
            let piece = self.text.get(from..to)?;
            from = to;
            (!piece.is_empty()).then_some(piece)
        })
    }
}

impl Tokenizer {
    /// Tokens of a received answer, counted event by event: a server that
    /// streams one token per event (llama.cpp, vLLM) chose those token
    /// boundaries, and counting the events' texts apart keeps them, where
    /// re-tokenizing the whole text would merge tokens the model generated
    /// apart (measured against llama-server: +4.9% for the whole text, exact
    /// event by event).
    pub fn count_received(&self, r: &Received) -> usize {
        r.pieces().map(|p| self.count(p)).sum()
    }
}

/// One count to make: the texts in a tokenizer, the sum sent back.
struct Job {
    tokenizer: Tokenizer,
    texts: Vec<Received>,
    reply: tokio::sync::oneshot::Sender<u64>,
}

/// Counts `texts` on a thread of its own, never on the async workers, so that
/// a count (tiktoken takes ~0.7 s of CPU per MB of unusual text) cannot delay
/// another request's timeline. The thread runs at the lowest CPU priority: on
/// a machine whose cores the run fills, the workers, which take the
/// timestamps, go first. `None` if the thread is gone.
pub async fn count_off_workers(tokenizer: &Tokenizer, texts: Vec<Received>) -> Option<u64> {
    static COUNTER: OnceLock<mpsc::Sender<Job>> = OnceLock::new();
    let counter = COUNTER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Job>();
        let spawned = std::thread::Builder::new().name("llmload-count".into()).spawn(move || {
            lower_priority();
            for job in rx {
                let n = job.texts.iter().map(|t| job.tokenizer.count_received(t) as u64).sum();
                let _ = job.reply.send(n);
            }
        });
        if spawned.is_err() {
            // No thread: every count answers None, and the estimate stays.
            let (tx, _) = mpsc::channel();
            return tx;
        }
        tx
    });
    let (reply, answer) = tokio::sync::oneshot::channel();
    counter.send(Job { tokenizer: tokenizer.clone(), texts, reply }).ok()?;
    answer.await.ok()
}

/// Nice 19 for the calling thread (Linux sets it per thread).
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: setpriority only reads its integer arguments; who = 0 is the
    // calling thread on Linux.
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, 0, 19);
    }
}

#[cfg(test)]
pub(crate) mod tests;
