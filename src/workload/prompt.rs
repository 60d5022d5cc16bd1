//! Seeded prompt text of a requested size in tokens.
//!
//! Each word below, preceded by a space, is a single token in the common BPE
//! encodings (cl100k, o200k), so `n` words make a prompt of about `n` tokens
//! without a tokenizer on the hot path. Exact sizing with the model's own
//! encoding is a later refinement; the simulator counts these words as tokens.

use rand::RngExt;

const WORDS: &[&str] = &[
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

/// Appends `tokens` seeded words, space-separated, to `out`.
pub fn write_prompt(rng: &mut impl rand::Rng, tokens: u32, out: &mut String) {
    out.reserve(tokens as usize * 6);
    for i in 0..tokens {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(WORDS[rng.random_range(0..WORDS.len())]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::Xoshiro256PlusPlus;

    #[test]
    fn prompt_has_the_requested_word_count_and_depends_on_the_seed() {
        let prompt = |seed| {
            let mut s = String::new();
            write_prompt(&mut Xoshiro256PlusPlus::seed_from_u64(seed), 50, &mut s);
            s
        };
        assert_eq!(prompt(1).split_whitespace().count(), 50);
        assert_eq!(prompt(1), prompt(1));
        assert_ne!(prompt(1), prompt(2));
    }
}
