use super::*;

/// Answers as servers send them: the simulator, OpenAI, llama.cpp, vLLM,
/// DeepSeek, OpenRouter, Ollama; whole bodies and stream events.
const ANSWERS: &[&str] = &[
    // llmload's simulator, completions and chat events.
    r#"{"id":"cmpl-22e2678d4624bbaf","object":"text_completion","created":1796385697,"model":"sim-small","choices":[{"text":" it","index":0,"logprobs":null,"finish_reason":"length"}],"usage":{"prompt_tokens":2,"completion_tokens":1,"total_tokens":3}}"#,
    r#"{"id":"chatcmpl-5c71","object":"chat.completion.chunk","created":1796385697,"model":"sim-small","system_fingerprint":"fp_llmload_sim","choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}],"usage":null}"#,
    r#"{"id":"chatcmpl-5c71","object":"chat.completion.chunk","created":1796385697,"model":"sim-small","choices":[{"index":2,"delta":{"content":" most"},"logprobs":null,"finish_reason":null}],"usage":null}"#,
    r#"{"id":"chatcmpl-5c71","object":"chat.completion.chunk","created":1796385697,"model":"sim-small","choices":[],"usage":{"prompt_tokens":12,"completion_tokens":64,"total_tokens":76}}"#,
    // OpenAI, chat, with the details objects and a refusal field.
    r#"{"id":"chatcmpl-B9MHD","object":"chat.completion","created":1741570283,"model":"gpt-4o-2024-08-06","choices":[{"index":0,"message":{"role":"assistant","content":"The image shows a wooden boardwalk.","refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":1117,"completion_tokens":46,"total_tokens":1163,"prompt_tokens_details":{"cached_tokens":1024,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":12,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}},"service_tier":"default","system_fingerprint":"fp_fc9f1d7035"}"#,
    // llama.cpp: timings with floats, cache_n.
    r#"{"choices":[{"finish_reason":"length","index":0,"message":{"role":"assistant","content":"Once upon a time"}}],"created":1733,"model":"tiny","system_fingerprint":"b4000","object":"chat.completion","usage":{"completion_tokens":4,"prompt_tokens":9,"total_tokens":13},"id":"chatcmpl-x","timings":{"prompt_n":2,"prompt_ms":1.234,"prompt_per_token_ms":0.617,"prompt_per_second":1.62e3,"predicted_n":4,"predicted_ms":20.5,"cache_n":7}}"#,
    // vLLM: escapes of every kind, raw UTF-8, surrogate pairs, extra nulls.
    r#"{"id":"cmpl-9","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"Line one\nline \"two\"\t caf\u00e9 \ud83d\ude00 café 😀 a\/b \\ end","reasoning_content":null,"tool_calls":[]},"logprobs":null,"finish_reason":"stop","stop_reason":null}],"usage":{"prompt_tokens":10,"total_tokens":20,"completion_tokens":10,"prompt_tokens_details":null},"prompt_logprobs":null,"kv_transfer_params":null}"#,
    // DeepSeek: reasoning_content and its own cache field.
    r#"{"id":"d","object":"chat.completion","created":1,"model":"deepseek-reasoner","choices":[{"index":0,"message":{"role":"assistant","content":"42","reasoning_content":"Think: 6 × 7."},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":20,"completion_tokens":30,"total_tokens":50,"prompt_cache_hit_tokens":16,"prompt_cache_miss_tokens":4,"completion_tokens_details":{"reasoning_tokens":25}}}"#,
    // Completions, n = 3, logprobs whose keys are tokens (escapes, UTF-8).
    r#"{"id":"c","object":"text_completion","created":1,"model":"m","choices":[{"text":"a","index":0,"logprobs":{"tokens":["a"],"token_logprobs":[-0.1],"top_logprobs":[{"a":-0.1,"\u00e9t\u00e9":-2.5,"é":-3,"\n":-4.0E+1}],"text_offset":[0]},"finish_reason":"length"},{"text":"b","index":1,"logprobs":null,"finish_reason":"stop"},{"text":"","index":2,"logprobs":null,"finish_reason":"content_filter"}],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}"#,
    // OpenRouter: `reasoning`, a nested provider object, numbers of all forms.
    r#"{"id":"gen-1","provider":{"name":"x","order":[1,2.5,-0,0.0,1e-3,-1E+10,[[],{}]],"ok":true,"no":false},"model":"r1","object":"chat.completion.chunk","created":1,"choices":[{"index":0,"delta":{"role":"assistant","content":null,"reasoning":"hmm"},"finish_reason":null,"native_finish_reason":null,"logprobs":null}]}"#,
    // Tool calls: content null, arguments as escaped JSON.
    r#"{"id":"t","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"f","arguments":"{\"city\":\"Paris\",\"n\":[1,2]}"}}]},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":50,"completion_tokens":9}}"#,
    // Pretty-printed, an `error` that is null, whitespace everywhere.
    "{\n  \"choices\" : [\n    {\n      \"index\" : 1 ,\n      \"message\" : { \"content\" : \"hi\" } ,\n      \"finish_reason\" : \"stop\"\n    }\n  ] ,\r\n\t\"error\" : null ,\n  \"usage\" : { \"prompt_tokens\" : 0 , \"completion_tokens\" : 18446744073709551615 }\n}\n",
    // Ollama's OpenAI endpoint, and an empty object.
    r#"{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"llama3.2","system_fingerprint":"fp_ollama","choices":[{"index":0,"message":{"role":"assistant","content":"Hello!"},"finish_reason":"stop"}],"usage":{"prompt_tokens":26,"completion_tokens":3,"total_tokens":29}}"#,
    "{}",
];

/// The fast path agrees with serde_json: it reads the same body, or
/// leaves the bytes to serde_json. Returns whether it read them.
fn agrees(bytes: &[u8]) -> bool {
    // Read as text (an event's data, checked for UTF-8 already), the same.
    if let Ok(t) = std::str::from_utf8(bytes) {
        assert_eq!(format!("{:?}", text(t)), format!("{:?}", body(bytes)), "as text: {t}");
    }
    let Some(fast) = body(bytes) else { return false };
    match serde_json::from_slice::<Body>(bytes) {
        Ok(slow) => assert_eq!(
            format!("{fast:?}"),
            format!("{slow:?}"),
            "read otherwise than serde_json: {}",
            String::from_utf8_lossy(bytes)
        ),
        Err(e) => panic!("read {fast:?} where serde_json refuses ({e}): {}", String::from_utf8_lossy(bytes)),
    }
    true
}

#[test]
fn each_real_answer_is_read_fast_and_as_serde_json_reads_it() {
    for answer in ANSWERS {
        assert!(agrees(answer.as_bytes()), "left to serde_json: {answer}");
    }
    // Text without escapes is borrowed, as serde_json borrows it.
    let b = body(ANSWERS[2].as_bytes()).unwrap();
    let content = b.choices[0].delta.as_ref().unwrap().content.as_ref().unwrap();
    assert!(matches!(content, Cow::Borrowed(" most")));
    let b = body(ANSWERS[6].as_bytes()).unwrap();
    assert_eq!(b.choices[0].content(), Some("Line one\nline \"two\"\t café 😀 café 😀 a/b \\ end"));
    assert_eq!(b.usage.unwrap().prompt_tokens_details.map(|d| d.cached_tokens), None);
    assert_eq!(body(ANSWERS[5].as_bytes()).unwrap().cached_tokens(), Some(7));
    assert_eq!(body(ANSWERS[7].as_bytes()).unwrap().cached_tokens(), Some(16));
}

#[test]
fn whatever_serde_json_might_read_otherwise_is_left_to_it() {
    let left = [
        // A field twice (serde_json refuses it), at each level.
        r#"{"choices":[],"choices":[]}"#,
        r#"{"choices":[{"index":0,"index":1}]}"#,
        r#"{"choices":[{"delta":{"content":"a","content":"b"}}]}"#,
        r#"{"usage":{"prompt_tokens":1,"prompt_tokens":2}}"#,
        r#"{"timings":{"cache_n":1,"cache_n":2}}"#,
        // A key with an escape: serde_json matches it as `text`.
        r#"{"choices":[{"te\u0078t":"hidden"}]}"#,
        // Numbers an unsigned field refuses.
        r#"{"choices":[{"index":null}]}"#,
        r#"{"choices":[{"index":1.0}]}"#,
        r#"{"choices":[{"index":-1}]}"#,
        r#"{"choices":[{"index":4294967296}]}"#,
        r#"{"choices":[{"index":01}]}"#,
        r#"{"usage":{"completion_tokens":1e3}}"#,
        r#"{"usage":{"completion_tokens":18446744073709551616}}"#,
        // Structs written as arrays (serde_json reads them by position).
        r#"{"usage":[1,2]}"#,
        r#"[[]]"#,
        // An error body, nulls where a list is due, wrong types.
        r#"{"error":{"message":"overloaded"}}"#,
        r#"{"choices":null}"#,
        r#"{"choices":[null]}"#,
        r#"{"choices":[{"text":5}]}"#,
        // Broken JSON.
        "",
        "{",
        r#"{"choices":[]} x"#,
        r#"{"choices":[],}"#,
        r#"{"a":[1,]}"#,
        r#"{"a":01}"#,
        r#"{"a":1.}"#,
        r#"{"a":-}"#,
        r#"{"a":"\x"}"#,
        r#"{"a":"\u12"}"#,
        "{\"a\":\"tab\there\"}",
        r#"{"a":tru}"#,
    ];
    for text in left {
        assert!(body(text.as_bytes()).is_none(), "read fast: {text}");
    }
    // Nesting past the limit, and invalid UTF-8 in text that is read.
    let deep = format!(r#"{{"a":{}{}}}"#, "[".repeat(100), "]".repeat(100));
    assert!(body(deep.as_bytes()).is_none());
    assert!(body(b"{\"choices\":[{\"text\":\"\xff\"}]}").is_none());
    assert!(body(b"{\"choices\":[{\"text\":\"\\ud800\"}]}").is_none());
    // Within the limit, and invalid UTF-8 in a skipped string: as serde_json.
    let nested = format!(r#"{{"a":{}{}}}"#, "[".repeat(60), "]".repeat(60));
    assert!(agrees(nested.as_bytes()));
    assert!(agrees(b"{\"id\":\"\xff\",\"choices\":[]}"));
}

/// A small deterministic generator (xorshift64*): the same cases each run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Bytes and pieces that change how JSON reads.
const BYTES: &[u8] = b"{}[]\":,\\ \n0123456789-+.eEnultrfa/u\x00\x1f\x7f\xc3\xa9\xff";
const PIECES: &[&str] = &[
    r#""index":1,"#,
    r#""index":7"#,
    r#""index":4294967296,"#,
    r#""text":null,"#,
    r#""text":"x","#,
    r#""content":"y","#,
    r#""reasoning":"","#,
    r#""usage":{"prompt_tokens":5},"#,
    r#""usage":null,"#,
    r#""error":null,"#,
    r#""error":{},"#,
    r#""choices":[],"#,
    r#""timings":{"cache_n":3},"#,
    r#""prompt_tokens_details":{"cached_tokens":2},"#,
    r#"\u0041"#,
    r#"\ud83d\ude00"#,
    r#"\n"#,
    "01",
    "1e2",
    "-0.5",
    "null",
    "true",
    "[]",
    "{}",
];

#[test]
fn mutated_answers_are_read_as_serde_json_reads_them_or_left_to_it() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let (mut cases, mut read) = (0, 0);
    for answer in ANSWERS {
        for _ in 0..3_000 {
            let mut b = answer.as_bytes().to_vec();
            for _ in 0..1 + rng.below(3) {
                let at = rng.below(b.len() + 1);
                match rng.below(5) {
                    0 if at < b.len() => _ = b.remove(at),
                    1 => b.insert(at, BYTES[rng.below(BYTES.len())]),
                    2 if at < b.len() => b[at] = BYTES[rng.below(BYTES.len())],
                    3 => {
                        let from = rng.below(b.len() + 1);
                        let to = (from + rng.below(40)).min(b.len());
                        let span = b[from..to].to_vec();
                        b.splice(at..at, span);
                    }
                    _ => _ = b.splice(at..at, PIECES[rng.below(PIECES.len())].bytes()).count(),
                }
            }
            cases += 1;
            read += usize::from(agrees(&b));
        }
    }
    // Not a test of the fallback alone: many mutants stay readable.
    assert!(read * 10 > cases, "only {read} of {cases} mutated answers read fast");
}

#[test]
fn a_plain_run_ends_at_the_first_quote_backslash_or_control_byte() {
    let mut rng = Rng(7);
    for _ in 0..20_000 {
        let len = rng.below(40);
        // Mostly plain bytes (UTF-8 ones too), sometimes one that ends a run.
        let s: Vec<u8> = (0..len)
            .map(|_| match rng.below(12) {
                0 => [b'"', b'\\', 0x00, 0x1f, 0x20, 0x7f, 0x80, 0xff, b'!', b'#', b'[', b']'][rng.below(12)],
                _ => b'a' + rng.below(26) as u8,
            })
            .collect();
        let naive = s.iter().position(|&c| c == b'"' || c == b'\\' || c < 0x20).unwrap_or(s.len());
        assert_eq!(plain_run(&s), naive, "{s:?}");
    }
}
