//! Synthetic text: what the simulator needs is token counts and cheap output, not language.
//!
//! Prompt tokens are counted as whitespace-separated words. That is an approximation
//! (a real tokenizer gives roughly 1.3 tokens per English word), chosen because it is
//! cheap and needs no vocabulary; the client counts real tokens itself.
//!
//! Output tokens are words from a fixed list, each with a leading space. Every word was
//! checked to be exactly one token in both cl100k_base and o200k_base, alone and in
//! sequence, so a client that counts the received text with tiktoken gets the same
//! number as `usage.completion_tokens`.

/// 64 entries, so a word is chosen with a mask.
const WORDS: [&str; 64] = [
    " the", " of", " and", " to", " in", " is", " that", " for", " it", " as", " was", " with", " be", " by",
    " on", " not", " this", " are", " or", " from", " at", " which", " but", " have", " they", " were",
    " one", " all", " can", " has", " there", " been", " more", " when", " will", " would", " time",
    " people", " first", " new", " some", " could", " other", " than", " then", " now", " only", " also",
    " into", " after", " over", " most", " made", " like", " about", " many", " these", " way", " just",
    " through", " where", " much", " well", " back",
];

/// Words of a prompt, the simulator's stand-in for its token count.
pub(crate) fn count_words(s: &str) -> u64 {
    s.split_whitespace().count() as u64
}

/// The output token at `index` of the request identified by `key`. A pure function of
/// both, so the text does not depend on timing or jitter and costs one hash per token.
pub(crate) fn word(key: u64, index: u32) -> &'static str {
    let h = splitmix64(key ^ u64::from(index).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    WORDS[(h & (WORDS.len() as u64 - 1)) as usize]
}

/// The text a sequence shows: its first `tokens` words, cut at byte `visible` when a
/// stop sequence ended it (the stop string and whatever followed are not shown).
pub(crate) fn render(key: u64, tokens: u32, visible: Option<u32>) -> String {
    let mut out = String::with_capacity(tokens as usize * 6);
    for i in 0..tokens {
        out.push_str(word(key, i));
    }
    if let Some(v) = visible {
        // Words are ASCII, so every byte offset is a char boundary.
        out.truncate(v as usize);
    }
    out
}

/// Where generation ends because a stop string appeared: the number of tokens generated
/// (up to and including the one that completed the match) and the byte length of the
/// text before the match. The earliest-ending match wins, as the API checks after each
/// token; among those ending in the same token, the earliest-starting one.
///
/// Looks at no more than `limit` tokens, and after each only at the matches that end in
/// it (a few byte comparisons per stop string), keeping a window of the text as long as
/// the longest stop string: so a long stop string costs no more per token than a short
/// one, and one longer than the whole text costs nothing.
pub(crate) fn find_stop(key: u64, limit: u32, stops: &[String]) -> Option<(u32, u32)> {
    let stops = || stops.iter().map(String::as_bytes).filter(|s| !s.is_empty());
    let longest = stops().map(<[u8]>::len).max()?;
    // What a match ending in a later word could still start in.
    let keep = longest - 1;
    let mut window: Vec<u8> = Vec::with_capacity(keep.min(4096) + 16);
    // Bytes of the text before the window.
    let mut dropped = 0usize;
    for i in 0..limit {
        let word = word(key, i).as_bytes();
        window.extend_from_slice(word);
        // Every match in the window ends in the word just added: one that ended earlier
        // would have stopped generation then.
        let ends = window.len() + 1 - word.len()..=window.len();
        let start = ends
            .flat_map(|end| {
                let window = &window;
                stops().filter_map(move |s| end.checked_sub(s.len()).filter(|&at| &window[at..end] == s))
            })
            .min();
        if let Some(start) = start {
            let visible = u32::try_from(dropped + start).unwrap_or(u32::MAX);
            return Some((i + 1, visible));
        }
        // Trimmed in bulk, not by a word each time: a long window is not copied per token.
        if window.len() > 2 * keep + 64 {
            let cut = window.len() - keep;
            window.drain(..cut);
            dropped += cut;
        }
    }
    None
}

/// The part of `word` that is shown, given that `offset` bytes of the sequence's text
/// came before it and the text is cut at `visible`.
pub(crate) fn visible_part(word: &'static str, offset: u32, visible: Option<u32>) -> &'static str {
    match visible {
        Some(v) if offset.saturating_add(word.len() as u32) > v => &word[..v.saturating_sub(offset) as usize],
        _ => word,
    }
}

/// The key of sequence `index` of a request: its text and natural length.
/// The key of a sequence's reasoning text: apart from its answer's.
pub(crate) fn reasoning_key(sequence: u64) -> u64 {
    splitmix64(sequence ^ 0x7EA5_0111_7EA5_0111)
}

pub(crate) fn sequence_key(request: u64, index: u32) -> u64 {
    splitmix64(request ^ u64::from(index).wrapping_mul(0xD1B5_4A32_D192_ED03))
}

/// Identifies the `seq`-th request of a server seeded with `seed`. It drives the
/// request's id, text and jitter, which makes a run reproducible for a given arrival order.
pub(crate) fn request_key(seed: u64, seq: u64) -> u64 {
    splitmix64(splitmix64(seed) ^ seq)
}

/// SplitMix64's finaliser: a cheap, well-mixed 64-bit hash.
pub(crate) fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_space_led_lowercase_ascii() {
        // The SSE hot path writes words into JSON unescaped: this is what makes it safe.
        assert!(WORDS.len().is_power_of_two());
        for w in WORDS {
            let rest = w.strip_prefix(' ').expect("leading space");
            assert!(!rest.is_empty() && rest.bytes().all(|b| b.is_ascii_lowercase()), "{w:?}");
        }
    }

    #[test]
    fn counts_whitespace_separated_words() {
        assert_eq!(count_words(""), 0);
        assert_eq!(count_words("  hello \n world\t! "), 3);
    }

    #[test]
    fn text_is_deterministic_and_varies_by_request() {
        let a = render(request_key(7, 0), 50, None);
        assert_eq!(a, render(request_key(7, 0), 50, None));
        assert_ne!(a, render(request_key(7, 1), 50, None));
        assert_ne!(a, render(request_key(8, 0), 50, None));
        assert_eq!(count_words(&a), 50);
        assert!(a.starts_with(' '));
    }

    #[test]
    fn words_are_evenly_used() {
        let mut seen = std::collections::HashMap::new();
        let mut repeats = 0;
        for i in 0..6400 {
            let w = word(request_key(0, 0), i);
            *seen.entry(w).or_insert(0) += 1;
            repeats += usize::from(i > 0 && w == word(request_key(0, 0), i - 1));
        }
        assert_eq!(seen.len(), WORDS.len());
        assert!(seen.values().all(|&n| (50..=150).contains(&n)), "{seen:?}");
        assert!((50..=150).contains(&repeats), "{repeats} immediate repeats, want ~100");
    }

    /// The stop search agrees with searching the whole rendered text.
    #[test]
    fn stop_is_found_where_the_text_has_it() {
        let stops = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        for k in 0..200 {
            let key = sequence_key(request_key(1, k), 0);
            let text = render(key, 100, None);
            for set in
                [stops(&[" the"]), stops(&["he ", "xyz"]), stops(&[" of the", " and"]), stops(&["e t"])]
            {
                let found = find_stop(key, 100, &set);
                // The earliest end, then the earliest start.
                let best =
                    set.iter().filter_map(|s| text.find(s.as_str()).map(|at| (at + s.len(), at))).min();
                match (found, best) {
                    (None, None) => {}
                    (Some((tokens, visible)), Some((end, start))) => {
                        assert!(render(key, tokens, None).len() >= end);
                        assert!(render(key, tokens - 1, None).len() < end, "{k} {set:?}");
                        assert_eq!(visible as usize, start, "{k} {set:?}");
                        // And the shown words add up to the cut text.
                        let mut offset = 0;
                        let mut shown = String::new();
                        for i in 0..tokens {
                            let w = visible_part(word(key, i), offset, Some(visible));
                            shown.push_str(w);
                            offset += word(key, i).len() as u32;
                        }
                        assert_eq!(shown, render(key, tokens, Some(visible)));
                        assert_eq!(shown, text[..start]);
                    }
                    other => panic!("{k} {set:?}: {other:?}"),
                }
            }
        }
        assert_eq!(find_stop(1, 100, &stops(&["", "Z"])), None);
        assert_eq!(find_stop(1, 100, &[]), None);
        // A stop string longer than any text the sequence could have is never found, and
        // (checked against the end of each word only) costs nothing to look for.
        let huge = " the".repeat(1 << 20);
        assert_eq!(find_stop(1, 131_072, &[huge, "Z".into()]), None);
        // A long one that does occur is found, wherever the window was trimmed.
        let key = sequence_key(request_key(1, 3), 0);
        let text = render(key, 5000, None);
        let long = text[4000..4300].to_owned();
        let (tokens, visible) = find_stop(key, 5000, std::slice::from_ref(&long)).expect("found");
        assert_eq!(visible as usize, text.find(&long).expect("in the text"));
        assert!(render(key, tokens, None).len() >= 4300 && render(key, tokens - 1, None).len() < 4300);
    }
}
