use super::*;
use serde_json::{Value, json};

fn chat(body: Value) -> Result<Generation, ApiError> {
    parse(Endpoint::Chat, body.to_string().as_bytes())
}

fn completion(body: Value) -> Result<Generation, ApiError> {
    parse(Endpoint::Completions, body.to_string().as_bytes())
}

/// `(param, code)` of a refused request.
fn refused(r: Result<Generation, ApiError>) -> (Option<String>, Option<&'static str>) {
    let e = r.expect_err("invalid");
    assert_eq!(e.status, axum::http::StatusCode::BAD_REQUEST, "{e:?}");
    (e.param.map(|p| p.into_owned()), e.code)
}

fn at(param: &str, code: &'static str) -> (Option<String>, Option<&'static str>) {
    (Some(param.to_owned()), Some(code))
}

const HI: &str = r#"[{"role": "user", "content": "hi"}]"#;

fn with_messages(extra: Value) -> Value {
    let mut body = json!({"model": "m", "messages": serde_json::from_str::<Value>(HI).expect("json")});
    body.as_object_mut().expect("object").extend(extra.as_object().expect("object").clone());
    body
}

#[test]
fn chat_counts_string_and_part_contents() {
    let g = chat(json!({
        "model": "m",
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": [
                {"type": "text", "text": "three words here"},
                {"type": "image_url", "image_url": {"url": "http://x"}}
            ]},
            {"role": "assistant", "content": null, "tool_calls": []}
        ],
        "max_completion_tokens": 7, "max_tokens": 99,
        "stream": true, "stream_options": {"include_usage": true},
        "unknown_parameter": {"is": ["ignored"]}, "temperature": null
    }))
    .expect("valid");
    assert!(g.blocks.is_empty(), "5 words: no whole block");
    assert_eq!(
        g,
        Generation {
            model: "m".into(),
            prompts: vec![5],
            max_tokens: 7,
            max_tokens_given: true,
            n: 1,
            best_of: 1,
            stop: vec![],
            stream: true,
            include_usage: true,
            blocks: vec![],
        }
    );
    let g = chat(with_messages(json!({}))).expect("valid");
    assert_eq!((g.max_tokens, g.max_tokens_given, g.stream, g.include_usage), (256, false, false, false));
}

#[test]
fn completion_prompt_shapes() {
    let tokens = |prompt: Value| completion(json!({"model": "m", "prompt": prompt})).expect("valid").prompts;
    assert_eq!(tokens(json!("a b c")), [3]);
    assert_eq!(tokens(json!("")), [0]);
    assert_eq!(tokens(json!(["a b", "c"])), [2, 1]);
    assert_eq!(tokens(json!([1, 2, 3, 4])), [4]);
    assert_eq!(tokens(json!([[1, 2], [3], []])), [2, 1, 0]);
    let g = completion(json!({"model": "m", "prompt": "x"})).expect("valid");
    assert_eq!((g.max_tokens, g.max_tokens_given), (16, false));
}

#[test]
fn rejects_what_the_api_rejects_naming_the_parameter() {
    let cases: &[(Value, (&str, &'static str))] = &[
        (json!({"messages": []}), ("model", "")),
        (json!({"model": "", "messages": []}), ("model", "")),
        (json!({"model": 3, "messages": []}), ("model", "invalid_type")),
        (json!({"model": "x".repeat(300), "messages": []}), ("model", "string_above_max_length")),
        (json!({"model": "m"}), ("messages", "missing_required_parameter")),
        (json!({"model": "m", "messages": []}), ("messages", "empty_array")),
        (json!({"model": "m", "messages": "hi"}), ("messages", "invalid_type")),
        (json!({"model": "m", "messages": ["hi"]}), ("messages[0]", "invalid_type")),
        (
            json!({"model": "m", "messages": [{"content": "hi"}]}),
            ("messages[0].role", "missing_required_parameter"),
        ),
        (
            json!({"model": "m", "messages": [{"role": "user", "content": "a"}, {"role": "boss", "content": "b"}]}),
            ("messages[1].role", "invalid_value"),
        ),
        (json!({"model": "m", "messages": [{"role": 1}]}), ("messages[0].role", "invalid_type")),
        (
            json!({"model": "m", "messages": [{"role": "user", "content": 5}]}),
            ("messages[0].content", "invalid_type"),
        ),
        (
            json!({"model": "m", "messages": [{"role": "user", "content": [{"text": "a"}, "b"]}]}),
            ("messages[0].content[1]", "invalid_type"),
        ),
        (with_messages(json!({"max_tokens": 0})), ("max_tokens", "integer_below_min_value")),
        (with_messages(json!({"max_tokens": "x"})), ("max_tokens", "invalid_type")),
        (with_messages(json!({"max_tokens": 1.5})), ("max_tokens", "invalid_type")),
        (
            with_messages(json!({"max_tokens": 1_000_000_000_000_000u64})),
            ("max_tokens", "integer_above_max_value"),
        ),
        (with_messages(json!({"max_tokens": 1e300})), ("max_tokens", "integer_above_max_value")),
        (
            with_messages(json!({"max_completion_tokens": -1})),
            ("max_completion_tokens", "integer_below_min_value"),
        ),
        (
            with_messages(json!({"max_completion_tokens": 5, "max_tokens": true})),
            ("max_tokens", "invalid_type"),
        ),
        (with_messages(json!({"n": 0})), ("n", "integer_below_min_value")),
        (with_messages(json!({"n": -1})), ("n", "integer_below_min_value")),
        (with_messages(json!({"n": 129})), ("n", "integer_above_max_value")),
        (with_messages(json!({"n": 1_000_000})), ("n", "integer_above_max_value")),
        (with_messages(json!({"n": "two"})), ("n", "invalid_type")),
        (with_messages(json!({"temperature": "hot"})), ("temperature", "invalid_type")),
        (with_messages(json!({"temperature": 2.5})), ("temperature", "decimal_above_max_value")),
        (with_messages(json!({"temperature": -0.1})), ("temperature", "decimal_below_min_value")),
        (with_messages(json!({"top_p": 1.01})), ("top_p", "decimal_above_max_value")),
        (with_messages(json!({"presence_penalty": -3})), ("presence_penalty", "decimal_below_min_value")),
        (with_messages(json!({"frequency_penalty": [1]})), ("frequency_penalty", "invalid_type")),
        (with_messages(json!({"seed": 1.5})), ("seed", "invalid_type")),
        (with_messages(json!({"seed": 1e30})), ("seed", "integer_above_max_value")),
        (with_messages(json!({"logit_bias": [1]})), ("logit_bias", "invalid_type")),
        (with_messages(json!({"logit_bias": {"abc": 1}})), ("logit_bias", "invalid_value")),
        (with_messages(json!({"logit_bias": {"50256": -101}})), ("logit_bias", "invalid_value")),
        (with_messages(json!({"logit_bias": {"50256": "x"}})), ("logit_bias.50256", "invalid_type")),
        (with_messages(json!({"stream": "yes"})), ("stream", "invalid_type")),
        (with_messages(json!({"stream": 1})), ("stream", "invalid_type")),
        (with_messages(json!({"stream_options": {"include_usage": true}})), ("stream_options", "")),
        (with_messages(json!({"stream": true, "stream_options": true})), ("stream_options", "invalid_type")),
        (
            with_messages(json!({"stream": true, "stream_options": {"include_usage": "y"}})),
            ("stream_options.include_usage", "invalid_type"),
        ),
        (with_messages(json!({"stop": 3})), ("stop", "invalid_type")),
        (with_messages(json!({"stop": ["a", 3]})), ("stop[1]", "invalid_type")),
        (with_messages(json!({"stop": ["a", "b", "c", "d", "e"]})), ("stop", "array_above_max_length")),
    ];
    for (body, (param, code)) in cases {
        let (p, c) = refused(chat(body.clone()));
        assert_eq!((p.as_deref(), c.unwrap_or("")), (Some(*param), *code), "{body}");
    }

    let cases: &[(Value, (&str, &'static str))] = &[
        (json!({"model": "m"}), ("prompt", "missing_required_parameter")),
        (json!({"model": "m", "prompt": null}), ("prompt", "missing_required_parameter")),
        (json!({"model": "m", "prompt": 3}), ("prompt", "invalid_type")),
        (json!({"model": "m", "prompt": {}}), ("prompt", "invalid_type")),
        (json!({"model": "m", "prompt": []}), ("prompt", "empty_array")),
        (json!({"model": "m", "prompt": ["a", 1]}), ("prompt[1]", "invalid_type")),
        (json!({"model": "m", "prompt": [1, "a"]}), ("prompt[1]", "invalid_type")),
        (json!({"model": "m", "prompt": [1, -2]}), ("prompt[1]", "invalid_type")),
        (json!({"model": "m", "prompt": [[1], 2]}), ("prompt[1]", "invalid_type")),
        (json!({"model": "m", "prompt": [[1], [2, 2.5]]}), ("prompt[1][1]", "invalid_type")),
        (json!({"model": "m", "prompt": [null]}), ("prompt[0]", "invalid_type")),
        (json!({"model": "m", "prompt": vec!["x"; 2049]}), ("prompt", "simulator_limit")),
        (json!({"model": "m", "prompt": "x", "max_tokens": 0}), ("max_tokens", "integer_below_min_value")),
        (json!({"model": "m", "prompt": "x", "n": 0}), ("n", "integer_below_min_value")),
        (json!({"model": "m", "prompt": "x", "n": 3, "best_of": 2}), ("best_of", "invalid_value")),
        (json!({"model": "m", "prompt": "x", "best_of": 21}), ("best_of", "integer_above_max_value")),
        (json!({"model": "m", "prompt": "x", "best_of": "3"}), ("best_of", "invalid_type")),
        (json!({"model": "m", "prompt": "x", "best_of": 2, "stream": true}), ("best_of", "invalid_value")),
        (json!({"model": "m", "prompt": vec!["x"; 100], "n": 100}), ("n", "simulator_limit")),
    ];
    for (body, (param, code)) in cases {
        let (p, c) = refused(completion(body.clone()));
        assert_eq!((p.as_deref(), c.unwrap_or("")), (Some(*param), *code), "{body}");
    }
    let buffered = with_messages(json!({"n": 128, "max_tokens": 131072}));
    assert_eq!(refused(chat(buffered)), at("max_tokens", "simulator_limit"));
}

#[test]
fn messages_quote_what_was_sent_but_not_all_of_it() {
    let role = "r".repeat(100_000);
    let e = chat(json!({"model": "m", "messages": [{"role": role}]})).expect_err("invalid");
    assert!(e.message.starts_with("Invalid value: 'rrrr"), "{}", e.message);
    assert!(e.message.len() < 300, "{}", e.message);
    let e = chat(with_messages(json!({"temperature": "hot"}))).expect_err("invalid");
    assert_eq!(e.message, "Invalid type for 'temperature': expected a decimal, but got a string instead.");
    let e = chat(with_messages(json!({"n": 1_000_000}))).expect_err("invalid");
    assert_eq!(
        e.message,
        "Invalid 'n': integer above maximum value. Expected a value <= 128, but got 1000000 instead."
    );
}

#[test]
fn bodies_that_are_not_json_objects() {
    for (bad, code) in [
        ("", None),
        ("{", None),
        ("{not json", None),
        ("[]", Some("invalid_type")),
        ("[1, 2]", Some("invalid_type")),
        ("null", Some("invalid_type")),
        ("3", Some("invalid_type")),
        ("\"text\"", Some("invalid_type")),
        ("{\"model\": \"m\"} trailing", None),
    ] {
        let e = parse(Endpoint::Completions, bad.as_bytes()).expect_err(bad);
        assert_eq!((e.status, e.param, e.code), (axum::http::StatusCode::BAD_REQUEST, None, code), "{bad}");
    }
    let e = parse(Endpoint::Chat, b"{\"model\": \"m\xff\"}").expect_err("not UTF-8");
    assert!(e.message.contains("UTF-8"), "{}", e.message);
}

#[test]
fn several_choices_prompts_and_stops() {
    let g = completion(json!({
        "model": "m", "prompt": ["a", "b c"], "n": 2, "best_of": 3, "max_tokens": 10,
        "stop": ["", " the"]
    }))
    .expect("valid");
    assert_eq!((g.n, g.best_of, g.sequences()), (2, 3, 6));
    assert_eq!(g.stop, [" the"]);
    // 3 prompt tokens + 10 × 3 sequences × 2 prompts.
    assert_eq!(g.estimated_tokens(), 63);
    let g = chat(with_messages(json!({"n": 3, "stop": "x", "stream": true}))).expect("valid");
    assert_eq!((g.n, g.best_of, g.stop.as_slice()), (3, 3, &["x".to_owned()][..]));
    // best_of = 1 with stream is what the SDKs send by default: fine.
    let g = completion(json!({"model": "m", "prompt": "x", "best_of": 1, "stream": true})).expect("valid");
    assert!(g.stream);
    // A whole number written as a decimal is an integer.
    let g = chat(with_messages(json!({"max_tokens": 5.0, "seed": -3, "temperature": 2}))).expect("valid");
    assert_eq!(g.max_tokens, 5);
}

#[test]
fn prompt_and_completion_must_fit_the_context_window() {
    let words = |n: usize| vec!["w"; n].join(" ");
    // 10 prompt tokens + 90 = 100: fits exactly.
    let mut g =
        chat(json!({"model": "m", "messages": [{"role": "user", "content": words(10)}], "max_tokens": 90}))
            .expect("valid");
    assert!(g.fit_context(Endpoint::Chat, 100).is_ok());
    let e = g.fit_context(Endpoint::Chat, 99).expect_err("too long");
    assert_eq!((e.param.as_deref(), e.code), (Some("messages"), Some("context_length_exceeded")));
    assert_eq!(
        e.message,
        "This model's maximum context length is 99 tokens. However, you requested 100 tokens (10 in the messages, 90 in the completion). Please reduce the length of the messages or completion."
    );

    // Without max_tokens the default is cut to what is left; no room left is an error.
    let mut g = completion(json!({"model": "m", "prompt": ["a", words(30)]})).expect("valid");
    assert!(g.fit_context(Endpoint::Completions, 40).is_ok());
    assert_eq!(g.max_tokens, 10);
    let e = g.fit_context(Endpoint::Completions, 30).expect_err("no room");
    assert_eq!((e.param.as_deref(), e.code), (Some("prompt"), Some("context_length_exceeded")));
    assert!(e.message.contains("your prompt resulted in 30 tokens"), "{}", e.message);

    // Per prompt (and per sequence), not summed over a batch or over n.
    let mut g = completion(json!({"model": "m", "prompt": [words(50), words(50)], "n": 4, "max_tokens": 50}))
        .expect("valid");
    assert!(g.fit_context(Endpoint::Completions, 100).is_ok());
}
