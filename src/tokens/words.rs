//! Seeded prompt text of an exact size in tokens, without a tokenizer on the
//! hot path.
//!
//! Of the common English words below, those that are one token in the model's
//! tokenizer both at the start of a text and after a space are kept when the
//! tokenizer is loaded (all of them in cl100k and o200k; most in any tokenizer
//! trained on English). Pre-tokenizers split text at spaces, so `n` such words
//! make a prompt of exactly `n` tokens; this is checked once on a long sample,
//! and a tokenizer that fails it sizes prompts per word, about right, with a
//! note in the plan.

use rand::RngExt;
use rand::SeedableRng;

/// Fewer kept words than this and prompts would repeat too much to be
/// realistic: the whole list is used, sized per word.
pub const MIN_WORDS: usize = 16;

/// Words in the sample that checks sizing.
const SAMPLE: u32 = 512;

pub const WORDS: &[&str] = &[
    "the", "of", "and", "to", "in", "is", "that", "for", "it", "with", "as", "was", "on", "be", "at", "by",
    "this", "had", "not", "are", "but", "from", "or", "have", "an", "they", "which", "one", "you", "were",
    "all", "we", "her", "she", "there", "would", "their", "will", "when", "who", "him", "been", "has",
    "more", "if", "no", "out", "do", "so", "can", "what", "up", "said", "about", "other", "into", "than",
    "its", "time", "only", "could", "new", "them", "man", "some", "these", "then", "two", "first", "may",
    "any", "like", "now", "my", "such", "make", "over", "our", "even", "most", "me", "state", "after",
    "also", "made", "many", "did", "must", "before", "back", "see", "through", "way", "where", "get", "much",
    "go", "well", "your", "know", "should", "down", "work", "year", "because", "come", "people", "just",
    "each", "those", "how", "too", "little", "us", "good", "very", "own", "long", "day", "world", "life",
    "still", "here", "under", "while", "last", "never", "great", "might", "same", "another", "water",
    "house", "place", "small", "old", "right", "think", "take", "found", "part", "between", "both", "being",
    "high", "off", "three", "every", "again", "home", "hand", "end", "light", "number", "city", "line",
    "school", "group", "point", "country", "system", "market", "family", "question", "company", "service",
    "order", "power", "case", "game", "book", "word", "music", "story", "table", "river", "street", "paper",
    "friend", "night", "money", "idea", "door", "road", "window",
];

pub struct Words {
    list: Vec<&'static str>,
    /// `n` words are `n` tokens.
    pub exact: bool,
}

impl Words {
    /// The words of one token in the tokenizer that `count` counts with.
    pub fn choose(count: impl Fn(&str) -> usize) -> Words {
        let list: Vec<&'static str> =
            WORDS.iter().copied().filter(|w| count(w) == 1 && count(&format!(" {w}")) == 1).collect();
        if list.len() < MIN_WORDS {
            return Words { list: WORDS.to_vec(), exact: false };
        }
        let mut words = Words { list, exact: true };
        let mut sample = String::new();
        words.write(&mut rand::rngs::Xoshiro256PlusPlus::seed_from_u64(7), SAMPLE, &mut sample);
        words.exact = count(&sample) == SAMPLE as usize;
        words
    }

    /// Appends `tokens` seeded words, space-separated, to `out`.
    pub fn write(&self, rng: &mut impl rand::Rng, tokens: u32, out: &mut String) {
        out.reserve(tokens as usize * 6);
        for i in 0..tokens {
            if i > 0 {
                out.push(' ');
            }
            out.push_str(self.list[rng.random_range(0..self.list.len())]);
        }
    }
}
