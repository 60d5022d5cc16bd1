//! Requests of a replayed trace (`[load.trace]`): the variant drawn by
//! weight as for any request gives the endpoint, model and parameters; the
//! trace's line gives the prompt and the output length (and, literally
//! written, the model).
//!
//! A lengths-form prompt is exactly `input_length` tokens in the model's
//! tokenizer: block j is the text of hash id `hash_ids[j]`, `block_size`
//! words of one token each drawn from a stream seeded by the id alone, so
//! equal ids are equal text wherever they appear (what a server's prefix
//! cache shares), and the last, partial block is a prefix of its full text.
//! Tokens beyond the hash ids' blocks are the request's own.

use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;

use super::{Sizing, WorkRequest, Workload, body, mix};
use crate::scenario::PromptContent;
use crate::scenario::trace::{TraceEntry, TraceRequest};
use crate::tokens::Tokenizer;

/// Seeds the blocks of hash ids, apart from every per-request stream.
const BLOCK_SALT: u64 = 0x4841_5348_4944_0000;

impl Workload {
    pub(super) fn traced(&self, seq: u64, entry: &TraceEntry) -> WorkRequest {
        let (variant, _) = self.draw(seq);
        let v = &self.variants[variant];
        let (content, tokens, max_tokens, model) = match &entry.request {
            TraceRequest::Lengths { input, output, hash_ids, block_size } => {
                let text = lengths_prompt(&v.tokenizer, *input, hash_ids, *block_size, mix(self.seed, seq));
                (PromptContent::Text(text), *input + v.system_tokens, *output, v.model.as_str())
            }
            TraceRequest::Literal { messages, prompt, max_tokens, model } => {
                let (content, tokens) = match (messages, prompt) {
                    (Some(m), _) => {
                        let tokens = m
                            .iter()
                            .filter_map(|x| x["content"].as_str())
                            .map(|c| v.tokenizer.count(c))
                            .sum();
                        (PromptContent::Messages(m.clone()), tokens)
                    }
                    (None, p) => {
                        let text = p.clone().unwrap_or_default();
                        let tokens = v.tokenizer.count(&text);
                        (PromptContent::Text(text), tokens)
                    }
                };
                let tokens = u32::try_from(tokens).unwrap_or(u32::MAX) + v.system_tokens;
                (content, tokens, max_tokens.unwrap_or(v.max_tokens), model.as_deref().unwrap_or(&v.model))
            }
        };
        let sequences = u64::from(v.billed.sequences);
        let max_output_tokens = u64::from(max_tokens) * sequences;
        let sized = Sizing { prompts: 1, prompt_tokens: tokens, max_output_tokens };
        let mut req = sized.request(v, variant, seq, body(v, vec![content], max_tokens, model));
        req.model = (model != v.model).then(|| model.to_owned());
        req
    }
}

/// A prompt of `input` tokens whose blocks are the texts of `hash_ids`.
pub(crate) fn lengths_prompt(
    tokenizer: &Tokenizer,
    input: u32,
    hash_ids: &[u64],
    block_size: u32,
    own: u64,
) -> String {
    let mut text = String::with_capacity(input as usize * 6);
    let mut left = input;
    for &id in hash_ids {
        if left == 0 {
            break;
        }
        let n = left.min(block_size);
        if !text.is_empty() {
            text.push(' ');
        }
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(mix(BLOCK_SALT ^ u64::from(block_size), id));
        tokenizer.write_prompt(&mut rng, n, &mut text);
        left -= n;
    }
    if left > 0 {
        if !text.is_empty() {
            text.push(' ');
        }
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(own);
        tokenizer.write_prompt(&mut rng, left, &mut text);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_hash_ids_are_equal_text_and_the_length_is_exact() {
        let t = Tokenizer::for_model("gpt-4o");
        let a = lengths_prompt(&t, 40, &[7, 8, 9], 16, 1);
        let b = lengths_prompt(&t, 45, &[7, 8, 10], 16, 2);
        let words = |s: &str| s.split(' ').map(str::to_owned).collect::<Vec<_>>();
        let (wa, wb) = (words(&a), words(&b));
        assert_eq!((wa.len(), wb.len()), (40, 45));
        assert_eq!(wa[..32], wb[..32], "blocks 7 and 8 are shared");
        assert_ne!(wa[32..40], wb[32..40], "block 9 is not block 10");
        // A partial block is the beginning of the same id's whole block.
        let c = lengths_prompt(&t, 37, &[7, 8, 10], 16, 3);
        assert_eq!(words(&c)[..37], wb[..37]);
        assert_eq!(t.count(&a), 40, "exact in the model's tokenizer");
        // Beyond its blocks, a request's tokens are its own.
        let d = lengths_prompt(&t, 50, &[7], 16, 4);
        assert_eq!(words(&d)[..16], wa[..16]);
        assert_eq!(words(&d).len(), 50);
    }
}
