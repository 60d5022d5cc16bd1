//! Token counts in a model's own encoding (tiktoken), with a stated fallback.
//!
//! OpenAI models map to their encoding; any other model (llama, mistral, …)
//! is counted with o200k_base, the encoding of current OpenAI models — an
//! approximation for those models that the plan and reports name.

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
