use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;
use serde_json::{Value, json};

use super::*;

/// A byte-level BPE tokenizer.json in which each of `words` is one token
/// (with and without a leading space) and any other word is one token per
/// letter: a tokenizer whose vocabulary differs from tiktoken's, built here.
pub(crate) fn bpe_json(words: &[&str]) -> String {
    let mut vocab = serde_json::Map::new();
    let mut merges: Vec<Value> = Vec::new();
    fn add(t: &str, vocab: &mut serde_json::Map<String, Value>) {
        if !vocab.contains_key(t) {
            let id = vocab.len();
            vocab.insert(t.to_owned(), json!(id));
        }
    }
    add("Ġ", &mut vocab);
    for c in 'a'..='z' {
        add(&c.to_string(), &mut vocab);
    }
    // Left to right within a word, then the space onto the whole word. A
    // word whose chain another word's merges cut into stays several tokens,
    // as in real vocabularies; `Words::choose` leaves it out.
    for w in words {
        let chars: Vec<char> = w.chars().collect();
        let mut left: String = chars[0].to_string();
        for c in &chars[1..] {
            let merged = format!("{left}{c}");
            if !vocab.contains_key(&merged) {
                merges.push(json!([left, c.to_string()]));
                add(&merged, &mut vocab);
            }
            left = merged;
        }
        merges.push(json!(["Ġ", w]));
        add(&format!("Ġ{w}"), &mut vocab);
    }
    let byte_level =
        json!({"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true});
    json!({
        "version": "1.0", "truncation": null, "padding": null, "added_tokens": [], "normalizer": null,
        "pre_tokenizer": byte_level, "post_processor": null, "decoder": byte_level,
        "model": {"type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": null,
                  "end_of_word_suffix": null, "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
                  "vocab": vocab, "merges": merges}
    })
    .to_string()
}

/// `bpe_json(words)` written to a directory, as `tokenizer.json`.
pub(crate) fn tokenizer_dir(words: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tokenizer.json"), bpe_json(words)).unwrap();
    dir
}

fn prompt(t: &Tokenizer, seed: u64, n: u32) -> String {
    let mut s = String::new();
    t.write_prompt(&mut Xoshiro256PlusPlus::seed_from_u64(seed), n, &mut s);
    s
}

#[test]
fn prompts_have_exactly_the_asked_tokens_in_every_tiktoken_encoding() {
    // o200k, cl100k, p50k, r50k and the fallback.
    for model in ["gpt-4o", "gpt-4", "text-davinci-003", "davinci", "llama-3-8b"] {
        let t = Tokenizer::for_model(model);
        assert!(t.sizes_exactly(), "{model}");
        for (seed, n) in [(1, 1), (2, 7), (3, 300), (4, 2048)] {
            let p = prompt(&t, seed, n);
            assert_eq!(t.count(&p), n as usize, "{model}: {p}");
        }
    }
    assert_ne!(
        prompt(&Tokenizer::for_model("gpt-4o"), 1, 50),
        prompt(&Tokenizer::for_model("gpt-4o"), 2, 50)
    );
    assert_eq!(
        prompt(&Tokenizer::for_model("gpt-4o"), 1, 50),
        prompt(&Tokenizer::for_model("gpt-4o"), 1, 50)
    );
}

#[test]
fn openai_models_count_in_tiktoken_and_others_in_the_stated_fallback() {
    let t = Tokenizer::for_model("gpt-4o-mini");
    assert_eq!((t.counter(), t.label()), (Counter::Tiktoken, "o200k_base"));
    assert_eq!(Tokenizer::for_model("gpt-4").label(), "cl100k_base");
    let f = Tokenizer::for_model("meta-llama/Llama-3.1-8B-Instruct");
    assert_eq!((f.counter(), f.label()), (Counter::Fallback, FALLBACK_ENCODING));
}

#[test]
fn a_tokenizer_json_counts_in_its_own_vocabulary_and_sizes_prompts_exactly() {
    let own: Vec<&str> = words::WORDS[..40].to_vec();
    let dir = tokenizer_dir(&own);
    // A directory holding tokenizer.json, or the file itself.
    for path in [dir.path().to_owned(), dir.path().join("tokenizer.json")] {
        let t = Tokenizer::load(&path).unwrap();
        assert_eq!(t.counter(), Counter::Tokenizer);
        assert!(t.label().contains("tokenizer.json"), "{}", t.label());
        // One token each in this vocabulary; several otherwise, unlike tiktoken.
        assert_eq!(t.count("the of and"), 3);
        assert!(t.count("window") > 1);
        assert_eq!(Tokenizer::for_model("gpt-4o").count("window"), 1);
        assert!(t.sizes_exactly());
        for (seed, n) in [(1, 1), (2, 64), (3, 1000)] {
            let p = prompt(&t, seed, n);
            assert_eq!(t.count(&p), n as usize, "{p}");
            assert!(p.split(' ').all(|w| own.contains(&w)), "only words of one token: {p}");
        }
    }
}

#[test]
fn a_tokenizer_with_too_few_one_token_words_says_it_sizes_approximately() {
    let dir = tokenizer_dir(&words::WORDS[..5]);
    let t = Tokenizer::load(dir.path()).unwrap();
    assert!(!t.sizes_exactly());
    // Still a prompt of n words, never an empty or endless one.
    assert_eq!(prompt(&t, 1, 30).split(' ').count(), 30);
}

#[test]
fn a_missing_or_broken_tokenizer_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let e = Tokenizer::load(dir.path()).unwrap_err();
    assert!(e.contains("cannot read") && e.contains("tokenizer.json"), "{e}");
    std::fs::write(dir.path().join("tokenizer.json"), "{\"not\": \"a tokenizer\"}").unwrap();
    let e = Tokenizer::load(dir.path()).unwrap_err();
    assert!(e.contains("is not a Hugging Face tokenizer.json"), "{e}");
}

#[tokio::test]
async fn counts_off_the_workers_use_the_given_tokenizer() {
    let dir = tokenizer_dir(&["hello", "world"]);
    let t = Tokenizer::load(dir.path()).unwrap();
    let n = count_off_workers(&t, vec![Received::whole("hello world"), Received::whole("xyz")]).await;
    assert_eq!(n, Some(2 + 3));
}

/// A streamed answer is counted event by event: "hello" then "world" sent
/// as "hel", "lo wor", "ld" is counted as the pieces the server sent.
#[test]
fn received_text_is_counted_event_by_event() {
    let dir = tokenizer_dir(&["hello", "world"]);
    let t = Tokenizer::load(dir.path()).unwrap();
    let whole = Received::whole("hello world");
    assert_eq!(t.count_received(&whole), 2);
    let split = Received { text: "hello world".into(), cuts: vec![5, 11] };
    assert_eq!(split.pieces().collect::<Vec<_>>(), ["hello", " world"]);
    assert_eq!(t.count_received(&split), 2);
    let odd = Received { text: "hello world".into(), cuts: vec![3, 9, 11] };
    assert_eq!(odd.pieces().collect::<Vec<_>>(), ["hel", "lo wor", "ld"]);
    let apart = t.count("hel") + t.count("lo wor") + t.count("ld");
    assert_eq!(t.count_received(&odd), apart, "as the events cut the text");
    assert!(apart > 2);
}
