//! The prefix cache: what lets a real server skip the prefill of a prompt
//! whose beginning it computed before (vLLM's automatic prefix caching,
//! llama.cpp's cache reuse, the API's prompt caching).
//!
//! A prompt is cut into blocks of `BLOCK_TOKENS` tokens (words, as the
//! simulator counts them); each full block is named by a hash chained over
//! every word before it, so equal names mean equal prefixes. A request's
//! cached tokens are the blocks of its longest prefix already in the cache,
//! except that the last token is always computed again (a fully cached
//! prompt still gives up its last block, as vLLM does). Its blocks are then
//! cached, least recently used evicted beyond the model's capacity; the
//! blocks of a prompt are touched last-first, so that eviction takes a
//! prompt's tail before its head and a chain is never left headless.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

/// Tokens per block: vLLM's default block size.
pub const BLOCK_TOKENS: u64 = 16;

/// The chained block names of one prompt, fed word by word.
#[derive(Debug, Default, Clone)]
pub(crate) struct PrefixHasher {
    state: u64,
    in_block: u64,
    pub(crate) blocks: Vec<u64>,
}

impl PrefixHasher {
    /// Every whitespace-separated word of `text`, in order.
    pub(crate) fn text(&mut self, text: &str) {
        word_hashes(text).for_each(|h| self.word(h));
    }

    /// One word, by its `word_hashes` value.
    pub(crate) fn word(&mut self, h: u64) {
        self.mark(h);
        self.in_block += 1;
        if self.in_block == BLOCK_TOKENS {
            self.blocks.push(self.state);
            self.in_block = 0;
        }
    }

    /// Something that is not a token but tells two prompts apart (a
    /// message's role): it changes the names of the blocks after it.
    pub(crate) fn mark(&mut self, h: u64) {
        self.state = crate::text::splitmix64(self.state ^ h);
    }

    /// `mark` of a string.
    pub(crate) fn mark_str(&mut self, s: &str) {
        self.mark(fnv(s.as_bytes()) ^ 0x524F_4C45);
    }
}

/// What names each word of `text`, for a `PrefixHasher` fed later.
pub(crate) fn word_hashes(text: &str) -> impl Iterator<Item = u64> + '_ {
    text.split_whitespace().map(|w| fnv(w.as_bytes()))
}

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
}

/// One model's cache of blocks, shared by its requests.
pub(crate) struct PrefixCache {
    capacity_blocks: usize,
    lru: Mutex<Lru>,
}

#[derive(Default)]
struct Lru {
    tick: u64,
    /// Block name → when it was last used.
    used: HashMap<u64, u64>,
    /// When → block name: the oldest first.
    order: BTreeMap<u64, u64>,
}

impl PrefixCache {
    pub(crate) fn new(capacity_tokens: u64) -> Option<Self> {
        let capacity_blocks = usize::try_from(capacity_tokens / BLOCK_TOKENS).unwrap_or(usize::MAX);
        (capacity_blocks > 0).then(|| PrefixCache { capacity_blocks, lru: Mutex::new(Lru::default()) })
    }

    /// The tokens of a prompt of `prompt_tokens` (named by `blocks`) found
    /// cached; its blocks are cached from now on.
    pub(crate) fn admit(&self, blocks: &[u64], prompt_tokens: u64) -> u64 {
        let mut lru = self.lru.lock().unwrap_or_else(|p| p.into_inner());
        let hit = blocks.iter().take_while(|b| lru.used.contains_key(b)).count() as u64;
        // The last token is always computed: it gives the first output.
        let most = prompt_tokens.saturating_sub(1) / BLOCK_TOKENS;
        for &b in blocks.iter().rev() {
            lru.tick += 1;
            let tick = lru.tick;
            if let Some(old) = lru.used.insert(b, tick) {
                lru.order.remove(&old);
            }
            lru.order.insert(tick, b);
        }
        while lru.used.len() > self.capacity_blocks {
            let Some((_, oldest)) = lru.order.pop_first() else { break };
            lru.used.remove(&oldest);
        }
        hit.min(most) * BLOCK_TOKENS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blocks(text: &str) -> Vec<u64> {
        let mut h = PrefixHasher::default();
        h.text(text);
        h.blocks
    }

    fn words(n: usize, salt: &str) -> String {
        (0..n).map(|i| format!("{salt}{i} ")).collect()
    }

    #[test]
    fn a_shared_prefix_is_cached_to_its_last_full_block() {
        let cache = PrefixCache::new(1000).unwrap();
        let shared = words(40, "s");
        let a = format!("{shared}{}", words(10, "a"));
        let b = format!("{shared}{}", words(30, "b"));
        assert_eq!(cache.admit(&blocks(&a), 50), 0, "a cold cache");
        // 40 shared words: blocks 0 and 1 (32 tokens) are whole in both.
        assert_eq!(cache.admit(&blocks(&b), 70), 32);
        // The same prompt again: all but the block holding its last token.
        assert_eq!(cache.admit(&blocks(&b), 70), 64);
        let exact = words(32, "e");
        cache.admit(&blocks(&exact), 32);
        assert_eq!(cache.admit(&blocks(&exact), 32), 16, "the last token is computed again");
    }

    #[test]
    fn a_different_word_or_role_before_changes_every_block_after() {
        let a = blocks(&format!("x {}", words(32, "w")));
        let b = blocks(&format!("y {}", words(32, "w")));
        assert!(a.iter().zip(&b).all(|(x, y)| x != y));
        let mut h = PrefixHasher::default();
        h.mark_str("user");
        h.text(&words(32, "w"));
        assert_ne!(h.blocks, blocks(&words(32, "w")));
    }

    #[test]
    fn the_least_recently_used_prompt_is_evicted_tail_first() {
        // Room for 4 blocks: two prompts of 2 blocks (and a token) each.
        let cache = PrefixCache::new(64).unwrap();
        let (a, b, c) = (blocks(&words(33, "a")), blocks(&words(33, "b")), blocks(&words(33, "c")));
        cache.admit(&a, 33);
        cache.admit(&b, 33);
        assert_eq!(cache.admit(&a, 33), 32, "both fit");
        cache.admit(&c, 33);
        assert_eq!(cache.admit(&b, 33), 0, "b, least recently used, was evicted");
        // Room for 3: a third block evicts the tail of the oldest prompt only.
        let cache = PrefixCache::new(48).unwrap();
        cache.admit(&a, 33);
        cache.admit(&b, 33);
        assert_eq!(cache.admit(&a, 33), 16, "a's head is still cached, its tail is not");
    }
}
