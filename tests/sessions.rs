//! Multi-turn sessions against the simulator, checked against its usage and
//! its TTFT model: each turn sends the conversation so far, so its prompt
//! is the last turn's plus the answer actually received plus a new prompt,
//! and its TTFT grows by the simulator's prefill cost per token.

use std::collections::BTreeMap;

use crate::util::{CPU_HEAVY, run_alone};

/// Closed loop: 3 users, each running sessions one after another.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_loop_sessions_carry_the_conversation_and_ttft_grows_as_prefill_predicts() {
    check("concurrency = 3").await;
}

/// Open loop: sessions arrive at a rate, each run through by one worker.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_loop_sessions_carry_the_conversation_and_ttft_grows_as_prefill_predicts() {
    check("rate = 6").await;
}

async fn check(level: &str) {
    let toml = r#"
name = "sessions"
seed = 3
[load]
LEVEL
duration = "4s"
[simulator]
ttft = "20ms"
prefill_per_token = "200us"
itl = "2ms"
output_tokens = 12
[[variant]]
name = "chat"
endpoint = "chat"
model = "sim"
max_tokens = 40
prompt_tokens = 30
system = "You are a concise assistant who answers in one short paragraph."
turns = 4
think_time = "50ms"
"#;
    // Its TTFT checks are timing: alone, as the timing tests run.
    let _alone = CPU_HEAVY.write().await;
    let (dir, outcome) = run_alone(&toml.replace("LEVEL", level)).await;
    let text = std::fs::read_to_string(dir.path().join("out/requests.csv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    // session → its turns: (turn, intended, ttft, e2e, prompt, output)
    type Turns = Vec<(u32, f64, f64, f64, u64, u64)>;
    let mut sessions: BTreeMap<u64, Turns> = BTreeMap::new();
    let mut residuals = Vec::new();
    for line in lines {
        let c: Vec<&str> = line.split(',').collect();
        assert_eq!(c[col("outcome")], "ok", "{line}");
        let num = |k: &str| c[col(k)].parse::<f64>().unwrap();
        let (prompt, ttft) = (num("prompt_tokens") as u64, num("ttft_ms"));
        // The simulator: 20 ms + 0.2 ms per prompt token (system, history, prompt).
        residuals.push(ttft - (20.0 + 0.2 * prompt as f64));
        sessions.entry(num("session") as u64).or_default().push((
            num("turn") as u32,
            num("intended_ms"),
            ttft,
            num("e2e_ms"),
            prompt,
            num("output_tokens") as u64,
        ));
    }
    let mut durations = Vec::new();
    for (id, turns) in &mut sessions {
        turns.sort_by_key(|t| t.0);
        let numbers: Vec<u32> = turns.iter().map(|t| t.0).collect();
        assert_eq!(numbers, (1..=turns.len() as u32).collect::<Vec<_>>(), "session {id}: turns in order");
        // 11 words of system prompt and 30 of prompt; then each turn adds the
        // answer received (12 words) and a new prompt (30).
        assert_eq!(turns[0].4, 41, "session {id}");
        for w in turns.windows(2) {
            assert_eq!(
                w[1].4,
                w[0].4 + w[0].5 + 30,
                "session {id}: turn {} carries turn {}'s answer",
                w[1].0,
                w[0].0
            );
            assert!(
                w[1].1 >= w[0].1 + w[0].3 + 50.0 - 0.01,
                "session {id}: the next turn is due 50 ms after the answer"
            );
        }
        if turns.len() == 4 {
            durations.push(turns[3].1 + turns[3].3 - turns[0].1);
        }
    }
    residuals.sort_by(f64::total_cmp);
    let n = residuals.len();
    assert!(n > 40, "{n} turns");
    let (p5, p95) = (residuals[n / 20], residuals[n * 19 / 20]);
    // Prompts run from 41 to 191 tokens: without the prefill growth the
    // residuals would spread over 30 ms; a busy machine adds up to ~7.
    assert!(
        p95 - p5 < 10.0 && residuals[n / 2] > -0.5,
        "TTFT = 20 ms + 0.2 ms per prompt token: {p5}..{p95}"
    );

    let s = outcome.summary.variants[0].sessions.as_ref().expect("sessions are reported");
    assert_eq!(s.completed as usize, durations.len(), "completed sessions, as counted in requests.csv");
    durations.sort_by(f64::total_cmp);
    let p50 = s.duration_ms.p50.unwrap();
    let median = durations[(durations.len() - 1) / 2];
    assert!((p50 - median).abs() <= median * 0.01 + 0.5, "session p50 {p50} vs {median} from requests.csv");
    let ttft: Vec<f64> = s.by_turn.iter().map(|t| t.ttft_ms.p50.unwrap()).collect();
    assert_eq!(s.by_turn.len(), 4);
    // Each turn's p50 is the model's prediction from its mean prompt, plus
    // the client's own constant cost (the median residual above).
    let own = residuals[n / 2];
    for (k, t) in s.by_turn.iter().enumerate() {
        let predicted = 20.0 + 0.2 * t.prompt_tokens_mean + own;
        assert!((t.ttft_ms.p50.unwrap() - predicted).abs() < 2.5, "turn {}: {ttft:?} ({own} ms own)", k + 1);
    }
    assert!(ttft.windows(2).all(|w| w[1] > w[0] + 5.0), "each turn adds 42 tokens, 8.4 ms: {ttft:?}");
    let md = std::fs::read_to_string(dir.path().join("out/summary.md")).unwrap();
    assert!(md.contains("### Sessions") && md.contains("TTFT p50 by turn"), "{md}");
    let csv = std::fs::read_to_string(dir.path().join("out/summary.csv")).unwrap();
    assert!(csv.contains("chat,ttft_turn_4,ms") && csv.contains("chat,session_duration,ms"));
}
