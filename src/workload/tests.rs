use std::path::Path;

use serde_json::Value;

use super::*;
use crate::scenario::Scenario;

/// Variants from a scenario text (the simplest way to build valid ones).
fn variants(variant_tables: &str) -> Vec<Variant> {
    let src = format!("name = \"w\"\n[load]\nconcurrency = 1\nrequests = 1\n{variant_tables}");
    Scenario::parse(&src, Path::new("w.toml")).unwrap_or_else(|e| panic!("{e}")).variants
}

fn body_of(w: &Workload, seq: u64) -> Value {
    serde_json::from_slice(&w.request(seq).body).unwrap()
}

const CHAT: &str = "[[variant]]\nname = \"a\"\nendpoint = \"chat\"\nmodel = \"gpt-4o\"\nmax_tokens = 5\nprompt_tokens = 12\n";

#[test]
fn mix_follows_weights_and_is_deterministic() {
    let v = variants(&format!(
        "{CHAT}[[variant]]\nname = \"b\"\nweight = 3\nendpoint = \"completions\"\nmodel = \"m\"\nmax_tokens = 5\nprompt_tokens = 3\n"
    ));
    let w = Workload::new(&v, 9);
    let picks: Vec<usize> = (0..4000).map(|s| w.request(s).variant).collect();
    let b = picks.iter().filter(|&&v| v == 1).count() as f64 / 4000.0;
    assert!((b - 0.75).abs() < 0.03, "share of b = {b}");
    let again: Vec<usize> = (0..4000).map(|s| w.request(s).variant).collect();
    assert_eq!(picks, again);
    let only_b = Workload::single(&v, 1, 9);
    assert!((0..100).all(|s| only_b.request(s).variant == 1));
}

#[test]
fn chat_body_has_messages_usage_and_only_the_set_parameters() {
    let w = Workload::new(&variants(CHAT), 1);
    let r = w.request(0);
    let b = body_of(&w, 0);
    assert_eq!(r.path, "/chat/completions");
    assert_eq!(b["messages"][0]["role"], "user");
    assert_eq!(b["stream_options"]["include_usage"], true);
    assert_eq!(b["max_tokens"], 5);
    for absent in ["n", "best_of", "stop", "temperature", "prompt"] {
        assert!(b.get(absent).is_none(), "{absent} not sent unless set");
    }
    assert_ne!(w.request(3).body, w.request(4).body, "each request gets its own prompt");
}

#[test]
fn generated_prompts_have_exactly_the_asked_tokens_in_the_model_encoding() {
    for model in ["gpt-4o", "gpt-4", "llama-3-8b"] {
        let w = Workload::new(
            &variants(&CHAT.replace("gpt-4o", model).replace("12", "{ min = 5, max = 300 }")),
            3,
        );
        for seq in 0..20 {
            let r = w.request(seq);
            let b: Value = serde_json::from_slice(&r.body).unwrap();
            let text = b["messages"][0]["content"].as_str().unwrap();
            assert_eq!(Tokenizer::for_model(model).count(text), r.prompt_tokens as usize, "{model}: {text}");
            assert!((5..=300).contains(&r.prompt_tokens));
        }
    }
}

#[test]
fn completions_batch_sends_a_prompt_array_with_every_parameter() {
    let v = variants(
        "[[variant]]\nname = \"c\"\nendpoint = \"completions\"\nmodel = \"m\"\nmax_tokens = 7\nprompt_tokens = 4\n\
         batch = 3\nn = 2\nbest_of = 3\nstream = false\nstop = [\"\\n\", \"END\"]\ntemperature = 0.5\nseed = 11\n\
         logit_bias = { \"50256\" = -100 }\nextra_body = { ignore_eos = true, max_tokens = 9 }\n",
    );
    let w = Workload::new(&v, 1);
    let r = w.request(0);
    let b = body_of(&w, 0);
    assert_eq!(r.path, "/completions");
    assert_eq!(r.prompts, 3);
    assert_eq!(r.prompt_tokens, 12);
    assert_eq!(b["prompt"].as_array().unwrap().len(), 3);
    assert_eq!((&b["n"], &b["best_of"]), (&Value::from(2), &Value::from(3)));
    assert_eq!(b["stop"], serde_json::json!(["\n", "END"]));
    assert_eq!(b["temperature"], 0.5);
    assert_eq!(b["seed"], 11);
    assert_eq!(b["logit_bias"]["50256"], -100);
    assert_eq!(b["ignore_eos"], true);
    assert_eq!(b["max_tokens"], 9, "extra_body is applied last, as written");
    assert!(b.get("stream_options").is_none());
    // ...and what it sets is what is priced: 9 tokens x 3 sequences x 3 prompts.
    assert_eq!(r.max_output_tokens, 81);
}

#[test]
fn billed_keys_in_extra_body_must_be_whole_numbers() {
    let src = "name = \"w\"\n[load]\nconcurrency = 1\nrequests = 1\n[[variant]]\nname = \"a\"\nendpoint = \"chat\"\n\
               model = \"m\"\nmax_tokens = 5\nprompt_tokens = 3\nextra_body = { n = \"five\", max_completion_tokens = 0 }\n";
    let err = Scenario::parse(src, Path::new("w.toml")).expect_err("refused").to_string();
    assert!(err.contains("variant[0].extra_body.n: is billed"), "{err}");
    assert!(err.contains("extra_body.max_completion_tokens"), "{err}");
}

#[test]
fn system_prompt_and_literal_prompt() {
    let v = variants(
        "[[variant]]\nname = \"s\"\nendpoint = \"chat\"\nmodel = \"gpt-4o\"\nmax_tokens = 3\n\
         prompt = \"Say hello.\"\nsystem = \"You are terse.\"\n",
    );
    let w = Workload::new(&v, 1);
    let b = body_of(&w, 0);
    assert_eq!(b["messages"][0], serde_json::json!({"role": "system", "content": "You are terse."}));
    assert_eq!(b["messages"][1]["content"], "Say hello.");
    assert_eq!(w.request(0).body, w.request(1).body);
    let gpt4o = Tokenizer::for_model("gpt-4o");
    assert_eq!(
        w.request(0).prompt_tokens,
        (gpt4o.count("Say hello.") + gpt4o.count("You are terse.")) as u32
    );
}

#[test]
fn prompts_file_lines_in_every_shape_sampled_or_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p.jsonl");
    std::fs::write(
        &file,
        "\"first prompt\"\n\n{\"prompt\": \"second prompt\"}\n[{\"role\": \"user\", \"content\": \"third\"}]\n\
         {\"messages\": [{\"role\": \"system\", \"content\": \"be brief\"}, {\"role\": \"user\", \"content\": \"fourth\"}]}\n",
    )
    .unwrap();
    let scenario = String::from(
        "name = \"w\"\n[load]\nconcurrency = 1\nrequests = 1\n[[variant]]\nname = \"f\"\nendpoint = \"chat\"\n\
         model = \"gpt-4o\"\nmax_tokens = 3\nprompts_file = \"p.jsonl\"\nprompts_order = \"sequential\"\n",
    );
    let s = Scenario::parse(&scenario, &dir.path().join("s.toml")).unwrap_or_else(|e| panic!("{e}"));
    let w = Workload::new(&s.variants, 1);
    let contents: Vec<Value> = (0..5).map(|seq| body_of(&w, seq)["messages"].clone()).collect();
    assert_eq!(contents[0][0]["content"], "first prompt");
    assert_eq!(contents[1][0]["content"], "second prompt");
    assert_eq!(contents[2][0]["content"], "third");
    assert_eq!(contents[3][0]["role"], "system");
    assert_eq!(contents[3][1]["content"], "fourth");
    assert_eq!(contents[4], contents[0], "sequential wraps around");
    assert_eq!(w.request(0).prompt_tokens as usize, Tokenizer::for_model("gpt-4o").count("first prompt"));

    let random =
        Scenario::parse(&scenario.replace("sequential", "random"), &dir.path().join("s.toml")).unwrap();
    let w = Workload::new(&random.variants, 1);
    let firsts: std::collections::BTreeSet<String> =
        (0..40).map(|seq| body_of(&w, seq)["messages"].to_string()).collect();
    assert_eq!(firsts.len(), 4, "every line gets drawn");

    // Completions cannot take a messages array: the error names file and line.
    let bad = scenario.replace("endpoint = \"chat\"", "endpoint = \"completions\"");
    let e = Scenario::parse(&bad, &dir.path().join("s.toml")).unwrap_err().to_string();
    assert!(e.contains("p.jsonl:4: a messages array needs endpoint = \"chat\""), "{e}");
}

#[test]
fn normal_prompt_spread_stays_within_bounds() {
    let v = variants(
        &CHAT.replace("prompt_tokens = 12", "prompt_tokens = { mean = 50, stddev = 20, min = 30, max = 60 }"),
    );
    let w = Workload::new(&v, 5);
    let sizes: Vec<u32> = (0..500).map(|s| w.request(s).prompt_tokens).collect();
    assert!(sizes.iter().all(|n| (30..=60).contains(n)));
    let mean = sizes.iter().map(|&n| f64::from(n)).sum::<f64>() / 500.0;
    assert!((mean - 48.0).abs() < 4.0, "mean {mean}");
}

/// A literal prompt's body is made once: what every request sends is the
/// body made for it alone, for each endpoint and batch, and its prompt
/// tokens are the prompt's and the system prompt's, per prompt of the batch.
#[test]
fn a_literal_prompts_body_made_once_is_the_body_made_for_each_request() {
    let v = variants(
        "[[variant]]\nname = \"c\"\nendpoint = \"chat\"\nmodel = \"gpt-4o\"\nmax_tokens = 3\n\
         prompt = \"Say \\\"hi\\\".\"\nsystem = \"Be terse.\"\ntemperature = 0.5\n\
         [[variant]]\nname = \"p\"\nendpoint = \"completions\"\nmodel = \"gpt-4o\"\nmax_tokens = 4\n\
         prompt = \"Once\"\nbatch = 3\nstop = [\"\\n\"]\n\
         [[variant]]\nname = \"e\"\nendpoint = \"embeddings\"\nmodel = \"gpt-4o\"\nprompt = \"vec\"\nbatch = 2\n\
         [[variant]]\nname = \"r\"\nendpoint = \"responses\"\nmodel = \"gpt-4o\"\nmax_tokens = 16\n\
         prompt = \"Why?\"\nsystem = \"Answer.\"\n",
    );
    let gpt4o = Tokenizer::for_model("gpt-4o");
    for (k, v) in v.iter().enumerate() {
        let w = Workload::single(std::slice::from_ref(v), 0, 7);
        let PromptSource::Literal { text, .. } = &v.prompt else { panic!("{}: literal", v.name) };
        let prompts = (0..v.batch).map(|_| PromptContent::Text(text.clone())).collect();
        let fresh = body(v, prompts, v.max_tokens, &v.model);
        for seq in [0, 1, 99] {
            let r = w.request(seq);
            assert_eq!(r.body, fresh, "{} (variant {k})", v.name);
            let system = v.system.as_deref().map_or(0, |s| gpt4o.count(s));
            assert_eq!(
                r.prompt_tokens as usize,
                v.batch as usize * (gpt4o.count(text) + system),
                "{}",
                v.name
            );
            assert_eq!(r.prompts, v.batch);
        }
    }
}
