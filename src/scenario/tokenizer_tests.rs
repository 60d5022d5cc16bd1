//! Which tokenizer each model gets (tokenizer_rules.rs), and what it sizes.

use std::path::Path;

use super::*;
use crate::tokens::Counter;
use crate::tokens::tests::tokenizer_dir;
use crate::workload::Workload;

const WORDS: &[&str] = &[
    "the", "of", "and", "to", "in", "is", "that", "for", "it", "with", "as", "was", "on", "be", "at", "by",
    "this", "had", "not", "are", "but", "from",
];

fn variants(models: &[&str]) -> String {
    models
        .iter()
        .enumerate()
        .map(|(i, m)| {
            format!(
                "[[variant]]\nname = \"v{i}\"\nendpoint = \"chat\"\nmodel = \"{m}\"\nmax_tokens = 4\nprompt_tokens = 64\n"
            )
        })
        .collect()
}

fn parse_in(
    dir: &Path,
    head: &str,
    models: &[&str],
    profile: Option<&str>,
) -> Result<Scenario, ScenarioError> {
    let src = format!("name = \"t\"\n{head}\n[load]\nconcurrency = 1\nrequests = 1\n\n{}", variants(models));
    validate::parse(&src, &dir.join("s.toml"), profile, None)
}

fn counters(s: &Scenario) -> Vec<(String, Counter, String)> {
    s.variants
        .iter()
        .map(|v| (v.model.clone(), v.tokenizer.counter(), v.tokenizer.label().to_owned()))
        .collect()
}

#[test]
fn per_model_tokenizers_win_over_the_targets_which_wins_over_tiktoken() {
    let own = tokenizer_dir(WORDS);
    let shared = tokenizer_dir(&WORDS[..18]);
    let dir = tempfile::tempdir().unwrap();
    let head = format!(
        "[tokenizers]\n\"tiny\" = {:?}\n[target]\nkind = \"simulator\"\ntokenizer = {:?}\n",
        own.path().display().to_string(),
        shared.path().join("tokenizer.json").display().to_string()
    );
    let s = parse_in(dir.path(), &head, &["tiny", "other"], None).unwrap_or_else(|e| panic!("{e}"));
    let c = counters(&s);
    assert_eq!(c[0].1, Counter::Tokenizer);
    assert!(c[0].2.contains(&own.path().display().to_string()), "{c:?}");
    assert_eq!(c[1].1, Counter::Tokenizer);
    assert!(c[1].2.contains(&shared.path().display().to_string()), "{c:?}");

    // Without any: tiktoken for OpenAI names, the fallback for the rest.
    let s = parse_in(dir.path(), "", &["gpt-4o", "tiny"], None).unwrap();
    let c = counters(&s);
    assert_eq!((c[0].1, c[1].1), (Counter::Tiktoken, Counter::Fallback));
    assert!(
        Plan::new(&s).notes.iter().any(|n| n.contains("no tokenizer given for tiny")),
        "{:?}",
        Plan::new(&s).notes
    );
}

#[test]
fn the_chosen_profiles_tokenizer_wins_over_the_targets() {
    let a = tokenizer_dir(WORDS);
    let b = tokenizer_dir(&WORDS[..18]);
    let dir = tempfile::tempdir().unwrap();
    let head = format!(
        "[target]\nbase_url = \"http://127.0.0.1:9/v1\"\ntokenizer = {:?}\n\
         [profiles.staging]\ntokenizer = {:?}\n[profiles.prod]\n",
        a.path().display().to_string(),
        b.path().display().to_string()
    );
    let label = |p| counters(&parse_in(dir.path(), &head, &["m"], Some(p)).unwrap())[0].2.clone();
    assert!(label("staging").contains(&b.path().display().to_string()));
    assert!(label("prod").contains(&a.path().display().to_string()));
}

#[test]
fn prompts_are_sized_in_the_models_tokenizer_and_the_plan_names_it() {
    let own = tokenizer_dir(WORDS);
    let dir = tempfile::tempdir().unwrap();
    let head = format!("[tokenizers]\n\"tiny\" = {:?}\n", own.path().display().to_string());
    let s = parse_in(dir.path(), &head, &["tiny"], None).unwrap();
    let t = &s.variants[0].tokenizer;
    let w = Workload::new(&s.variants, 9);
    for seq in 0..20 {
        let r = w.request(seq);
        let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        let text = body["messages"][0]["content"].as_str().unwrap();
        assert_eq!(t.count(text), 64, "{text}");
        assert_eq!(r.prompt_tokens, 64);
        // In o200k the same text is another count: the tokenizer mattered.
        assert_eq!(r.tokenizer, *t);
    }
    let notes = Plan::new(&s).notes;
    assert!(
        notes.iter().any(|n| n.starts_with("tiny: prompts sized") && n.contains("tokenizer.json")),
        "{notes:?}"
    );
}

#[test]
fn missing_broken_and_unused_tokenizers_are_errors_at_their_key() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("broken.json"), "{}").unwrap();
    let head = "[tokenizers]\n\"m\" = \"nowhere/tokenizer.json\"\n\"typo\" = \"broken.json\"\n\
                [target]\nkind = \"simulator\"\ntokenizer = \"broken.json\"\n";
    let e = parse_in(dir.path(), head, &["m"], None).unwrap_err().to_string();
    assert!(
        e.contains("s.toml:3:") && e.contains("tokenizers.m: cannot read") && e.contains("nowhere"),
        "{e}"
    );
    assert!(e.contains("tokenizers.typo: no variant uses model \"typo\""), "{e}");
    assert!(e.contains("target.tokenizer:") && e.contains("is not a Hugging Face tokenizer.json"), "{e}");
}
