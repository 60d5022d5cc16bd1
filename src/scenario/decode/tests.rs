use serde::Deserialize;

use super::*;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Doc {
    name: String,
    load: Load,
    #[serde(default)]
    variant: Vec<Variant>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Load {
    concurrency: Option<u32>,
    rate: Option<f64>,
    stream: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Variant {
    name: String,
    max_tokens: u32,
    endpoint: Option<super::super::Endpoint>,
}

fn problems(src: &str) -> Vec<String> {
    let d = decode::<Doc>(src).unwrap_or_else(|e| panic!("syntax: {}", e.message));
    let mut p: Vec<String> = d.problems.iter().map(|(k, m)| format!("{k}: {m}")).collect();
    p.sort();
    p
}

#[test]
fn every_wrong_key_and_value_is_reported_in_one_pass() {
    let p = problems(
        "name = \"x\"\n[load]\nconcurency = 4\nrate = \"fast\"\nstream = 1\n\
         [[variant]]\nname = \"a\"\nmax_tokens = -3\nendpoint = \"chatt\"\n\
         [[variant]]\nmax_tokens = \"abc\"\n",
    );
    assert_eq!(
        p,
        [
            "load.concurency: unknown key; did you mean `concurrency`?",
            "load.rate: must be a number (got \"fast\")",
            "load.stream: must be true or false (got 1)",
            "variant[0].endpoint: must be one of \"chat\", \"completions\", \"embeddings\", \"responses\" (got \"chatt\"); did you mean \"chat\"?",
            "variant[0].max_tokens: must be a whole number, 0 or more (got -3)",
            "variant[1].max_tokens: must be a whole number, 0 or more (got \"abc\")",
            "variant[1].name: `name` is required here and missing",
        ],
        "{p:#?}"
    );
}

#[test]
fn a_missing_table_is_stood_in_for_and_the_rest_still_checked() {
    let p = problems("name = 3\n");
    assert_eq!(
        p,
        ["load: `load` is required here and missing", "name: must be text in quotes (got 3)"],
        "{p:#?}"
    );
}

#[test]
fn an_unknown_key_far_from_any_known_one_lists_what_the_table_takes() {
    let p = problems("name = \"x\"\n[load]\nzzzzzz = 1\n");
    assert_eq!(p, ["load.zzzzzz: unknown key (this table takes: concurrency, rate, stream)"], "{p:#?}");
}

#[test]
fn syntax_errors_stop_with_their_offset() {
    let e = decode::<Doc>("name = \"x\"\n[load\n").err().expect("a syntax error");
    assert!(e.offset.is_some() && !e.message.is_empty(), "{}", e.message);
}

#[test]
fn typos_are_matched_by_edit_distance_with_swaps() {
    let names: Vec<String> = ["concurrency", "rate", "requests", "duration"].map(String::from).into();
    assert_eq!(suggest("concurency", &names), Some("concurrency"));
    assert_eq!(suggest("reqeusts", &names), Some("requests"));
    assert_eq!(suggest("rat", &names), Some("rate"));
    assert_eq!(suggest("model", &names), None);
    let names: Vec<String> = ["max_usd", "warn_usd"].map(String::from).into();
    assert_eq!(suggest("warn", &names), Some("warn_usd"));
}

#[test]
fn values_that_may_be_keys_are_never_echoed() {
    let p = problems("name = \"x\"\n[load]\nrate = \"sk-proj-abc123\"\nconcurrency = [\"Bearer xyz\"]\n");
    let all = p.join("\n");
    assert!(!all.contains("abc123") && !all.contains("xyz"), "{all}");
    assert!(
        all.contains("load.rate: must be a number") && all.contains("load.concurrency: must be"),
        "{all}"
    );
}
