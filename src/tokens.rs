//! Token counts in a model's own encoding (tiktoken), with a stated fallback.
//!
//! OpenAI models map to their encoding; any other model (llama, mistral, …)
//! is counted with o200k_base, the encoding of current OpenAI models — an
//! approximation for those models that the plan and reports name.

use std::sync::OnceLock;
use std::sync::mpsc;

use tiktoken_rs::CoreBPE;
use tiktoken_rs::tokenizer::{Tokenizer, get_tokenizer};

/// The encoding used for models tiktoken does not know.
pub const FALLBACK_ENCODING: &str = "o200k_base";

/// The encoding for `model` and its name; the fallback when unknown.
pub fn encoding(model: &str) -> (&'static CoreBPE, &'static str) {
    let tokenizer = get_tokenizer(model).unwrap_or(Tokenizer::O200kBase);
    let name = match tokenizer {
        Tokenizer::O200kBase => "o200k_base",
        Tokenizer::O200kHarmony => "o200k_harmony",
        Tokenizer::Cl100kBase => "cl100k_base",
        Tokenizer::P50kBase => "p50k_base",
        Tokenizer::P50kEdit => "p50k_edit",
        Tokenizer::R50kBase => "r50k_base",
        Tokenizer::Gpt2 => "gpt2",
    };
    (tiktoken_rs::bpe_for_tokenizer(tokenizer).unwrap_or_else(|_| tiktoken_rs::o200k_base_singleton()), name)
}

/// Tokens of `text` as `model` counts them (special tokens as plain text).
pub fn count(model: &str, text: &str) -> usize {
    encoding(model).0.encode_ordinary(text).len()
}

/// Whether the model's own encoding is used (not the fallback).
pub fn is_known(model: &str) -> bool {
    get_tokenizer(model).is_some()
}

/// One count to make: the texts in `model`'s encoding, the sum sent back.
struct Job {
    model: String,
    texts: Vec<String>,
    reply: tokio::sync::oneshot::Sender<u64>,
}

/// Counts `texts` in `model`'s encoding on a thread of its own, never on the
/// async workers, so that a count (tiktoken takes ~0.7 s of CPU per MB of
/// unusual text) cannot delay another request's timeline. The thread runs at
/// the lowest CPU priority: on a machine whose cores the run fills, the
/// workers, which take the timestamps, go first. `None` if the thread is
/// gone.
pub async fn count_off_workers(model: &str, texts: Vec<String>) -> Option<u64> {
    static COUNTER: OnceLock<mpsc::Sender<Job>> = OnceLock::new();
    let counter = COUNTER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Job>();
        let spawned = std::thread::Builder::new().name("llmload-count".into()).spawn(move || {
            lower_priority();
            for job in rx {
                let (bpe, _) = encoding(&job.model);
                let n = job.texts.iter().map(|t| bpe.encode_ordinary(t).len() as u64).sum();
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
    counter.send(Job { model: model.to_owned(), texts, reply }).ok()?;
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
