//! `[load.trace]`: a JSONL trace replayed against the simulator, checked
//! against the trace itself (every request's intended start is its scaled
//! timestamp; its prompt and output lengths are the trace's) and against
//! the simulator's prefix-cache model (which requests share which blocks,
//! so how many tokens are cached, what TTFT and cost that gives).

use std::collections::HashSet;
use std::path::Path;

use crate::util::{CPU_HEAVY, llmload, read_json, run, run_alone};

/// Rows of requests.csv as maps of column to value, in `seq` order.
fn rows(dir: &Path) -> Vec<std::collections::HashMap<String, String>> {
    let text = std::fs::read_to_string(dir.join("requests.csv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<String> = lines.next().unwrap().split(',').map(str::to_owned).collect();
    let mut out: Vec<_> = lines
        .map(|l| {
            header
                .iter()
                .cloned()
                .zip(l.split(',').map(str::to_owned))
                .collect::<std::collections::HashMap<_, _>>()
        })
        .collect();
    out.sort_by_key(|r| r["seq"].parse::<u64>().unwrap());
    out
}

fn write_trace(lines: &[String]) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("trace.jsonl");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let shown = path.display().to_string();
    (dir, shown)
}

/// 10,000 requests at their trace times, 4 times faster: each one's intended
/// start is its timestamp / 4, with the trace's lengths, and none was sent
/// far from it. (How close, in a release build, is a benchmark's figure:
/// BENCHMARKS.md, scripts/bench-trace.sh. A debug build on 2 busy cores
/// gives p99 ~3 ms, ~20 ms when the machine is shared; the bound here
/// catches a schedule gone wrong.)
#[tokio::test]
async fn ten_thousand_lines_replay_on_time() {
    let _alone = CPU_HEAVY.write().await;
    // Irregular gaps (a seeded LCG): 0 to 8 ms of trace time, ~4 ms apart.
    let mut x: u64 = 12345;
    let mut t = 0u64;
    let lines: Vec<String> = (0..10_000)
        .map(|_| {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            t += (x >> 33) % 9;
            format!(r#"{{"timestamp": {t}, "input_length": 8, "output_length": 2}}"#)
        })
        .collect();
    let (_trace_dir, trace) = write_trace(&lines);
    let toml = format!(
        r#"
name = "replay"
[load]
max_in_flight = 64
[load.trace]
file = "{trace}"
block_size = 16
time_scale = 4.0
[simulator]
ttft = "1ms"
itl = "0ms"
[[variant]]
name = "v"
endpoint = "chat"
model = "sim"
max_tokens = 16
"#
    );
    // As a user runs it: its own process, its own runtime.
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("replay.toml");
    std::fs::write(&scenario, toml).unwrap();
    let out = dir.path().join("out");
    let o = llmload().args(["run", "-q", "--out"]).arg(&out).arg(&scenario).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(read_json(&out.join("summary.json"))["total"]["requests"]["sent"], 10_000);
    let rows = rows(&out);
    assert_eq!(rows.len(), 10_000);
    let mut delays = Vec::new();
    for (k, (row, line)) in rows.iter().zip(&lines).enumerate() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let want = v["timestamp"].as_f64().unwrap() / 4.0;
        let intended: f64 = row["intended_ms"].parse().unwrap();
        assert!((intended - want).abs() < 0.01, "request {k}: intended {intended} ms, trace {want} ms");
        assert_eq!((row["prompt_tokens"].as_str(), row["output_tokens"].as_str()), ("8", "2"), "request {k}");
        delays.push(row["queue_delay_ms"].parse::<f64>().unwrap());
    }
    delays.sort_by(f64::total_cmp);
    let p99 = delays[delays.len() * 99 / 100];
    println!("send delay from the trace time: p50 {:.3} ms, p99 {p99:.3} ms", delays[delays.len() / 2]);
    assert!(p99 <= 50.0, "p99 {p99} ms");
}

/// The cached tokens the simulator's prefix cache (blocks of 16 words, an
/// unbounded capacity here) gives each request of a trace whose blocks are
/// 16 tokens: the leading blocks some earlier request held whole, all but
/// the one holding the last token.
fn predicted_cached(trace: &[(u64, Vec<u64>)]) -> Vec<u64> {
    let mut seen: HashSet<Vec<u64>> = HashSet::new();
    trace
        .iter()
        .map(|(input, ids)| {
            let hits = (1..=ids.len()).take_while(|&j| seen.contains(&ids[..j])).count() as u64;
            for j in 1..=ids.len() {
                if *input >= 16 * j as u64 {
                    seen.insert(ids[..j].to_vec());
                }
            }
            hits.min((input - 1) / 16) * 16
        })
        .collect()
}

/// Requests that repeat hash ids: the cached share is the trace's own
/// (predicted apart, from the hash ids), each request's TTFT is the
/// simulator's 10 ms plus 0.5 ms per uncached token, and the cost is the
/// cached-price sum, lower than the full price by the cached discount.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_hash_ids_are_cached_as_the_trace_predicts() {
    // 8 prefixes of 2-5 blocks; each request one of them plus 1-3 new blocks.
    let mut x: u64 = 99;
    let mut next = |m: u64| {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (x >> 33) % m
    };
    let mut id = 1000;
    let prefixes: Vec<Vec<u64>> = (0..8u64).map(|p| (0..2 + next(4)).map(|b| p * 10 + b).collect()).collect();
    let mut trace = Vec::new();
    let mut lines = Vec::new();
    for i in 0..300u64 {
        let mut ids = prefixes[next(8) as usize].clone();
        for _ in 0..1 + next(3) {
            ids.push(id);
            id += 1;
        }
        let input = (ids.len() as u64 - 1) * 16 + 1 + next(16);
        lines.push(format!(
            r#"{{"timestamp": {}, "input_length": {input}, "output_length": 4, "hash_ids": {ids:?}}}"#,
            // 25 ms apart, from 300 ms: the order they reach the
            // simulator in is the trace's, even on a busy machine.
            300 + i * 25
        ));
        trace.push((input, ids));
    }
    let (_trace_dir, path) = write_trace(&lines);
    let toml = format!(
        r#"
name = "cache"
[load]
[load.trace]
file = "{path}"
block_size = 16
[simulator]
ttft = "10ms"
prefill_per_token = "500us"
prefix_cache_tokens = 1000000
itl = "1ms"
[[variant]]
name = "v"
endpoint = "chat"
model = "sim"
max_tokens = 4
[pricing.sim]
input_per_1m = 2.0
cached_input_per_1m = 0.5
output_per_1m = 8.0
"#
    );
    let _alone = CPU_HEAVY.write().await;
    let (dir, outcome) = run_alone(&toml).await;
    let rows = rows(&dir.path().join("out"));
    assert_eq!(rows.len(), 300);
    // In the order they were sent (the trace's, unless the machine stalled).
    let sent = |k: usize| {
        rows[k]["intended_ms"].parse::<f64>().unwrap() + rows[k]["queue_delay_ms"].parse::<f64>().unwrap()
    };
    let mut order: Vec<usize> = (0..300).collect();
    order.sort_by(|&a, &b| sent(a).total_cmp(&sent(b)));
    let in_order: Vec<(u64, Vec<u64>)> = order.iter().map(|&k| trace[k].clone()).collect();
    let mut predicted = vec![0; 300];
    for (p, &k) in predicted_cached(&in_order).into_iter().zip(&order) {
        predicted[k] = p;
    }
    let (mut cached_sum, mut prompt_sum, mut cost, mut full) = (0u64, 0u64, 0.0f64, 0.0f64);
    let mut off = Vec::new();
    for (k, row) in rows.iter().enumerate() {
        let prompt: u64 = row["prompt_tokens"].parse().unwrap();
        let cached: u64 = row["cached_tokens"].parse().unwrap();
        assert_eq!(prompt, trace[k].0, "request {k}: the trace's input_length");
        assert_eq!(cached, predicted[k], "request {k} ({:?})", trace[k].1);
        let ttft: f64 = row["ttft_ms"].parse().unwrap();
        off.push(ttft - (10.0 + 0.5 * (prompt - cached) as f64));
        cached_sum += cached;
        prompt_sum += prompt;
        let out: u64 = row["output_tokens"].parse().unwrap();
        cost += ((prompt - cached) as f64 * 2.0 + cached as f64 * 0.5 + out as f64 * 8.0) / 1e6;
        full += (prompt as f64 * 2.0 + out as f64 * 8.0) / 1e6;
    }
    // What remains of each TTFT is the client's and the runtime's own
    // constant cost: the same for all but a few, whatever was cached.
    off.sort_by(f64::total_cmp);
    let (p5, p50, p95) = (off[15], off[150], off[285]);
    // A cached block of 16 tokens saves 8 ms: a spread of 5 ms still tells.
    assert!(
        p50 > -0.5 && p50 < 5.0 && p95 - p5 < 5.0,
        "TTFT = 10 ms + 0.5 ms per uncached token: {p5} {p50} {p95}"
    );
    let cache = outcome.summary.total.cache.as_ref().expect("the cache is reported");
    let share = cached_sum as f64 / prompt_sum as f64;
    assert!(share > 0.3, "the trace shares much: {share}");
    assert!((cache.cached_share - share).abs() <= 0.02, "{} vs {share}", cache.cached_share);
    assert_eq!(cache.cached_tokens, cached_sum);
    let (hit, miss) = (cache.ttft_cached_ms.p50.unwrap(), cache.ttft_uncached_ms.p50.unwrap());
    assert!(hit < miss, "cached {hit} ms, uncached {miss} ms");
    let reported = outcome.summary.total.cost_usd.unwrap();
    assert!((reported - cost).abs() < 1e-6, "{reported} vs {cost}");
    assert!(
        ((full - reported) - cached_sum as f64 * 1.5 / 1e6).abs() < 1e-6,
        "cheaper by the cached discount"
    );
    // Every format says so.
    let out = dir.path().join("out");
    assert!(std::fs::read_to_string(out.join("summary.md")).unwrap().contains("### Prompt cache"));
    assert!(std::fs::read_to_string(out.join("summary.csv")).unwrap().contains("v,cached_share,fraction"));
    let json = read_json(&out.join("summary.json"));
    assert!(json["total"]["cache"]["ttft_cached_ms"]["p50"].is_number());
    assert!(std::fs::read_to_string(out.join("report.html")).unwrap().contains("Prompt cache"));
}

/// The literal form: each request's messages and max_tokens are the line's
/// (the simulator runs to max_tokens, so the output is exactly it).
#[tokio::test]
async fn the_literal_sample_trace_replays_with_its_own_lengths() {
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/traces/sample-literal.jsonl");
    let toml = format!(
        r#"
name = "literal"
[load]
[load.trace]
file = "{}"
time_scale = 20.0
[simulator]
ttft = "5ms"
itl = "0ms"
[[variant]]
name = "v"
endpoint = "chat"
model = "sim"
max_tokens = 1
"#,
        sample.display()
    );
    let (dir, _) = run(&toml).await;
    let rows = rows(&dir.path().join("out"));
    let lines: Vec<serde_json::Value> =
        std::fs::read_to_string(&sample).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(rows.len(), lines.len());
    for (row, line) in rows.iter().zip(&lines) {
        assert_eq!(row["output_tokens"], line["max_tokens"].to_string());
        let intended: f64 = row["intended_ms"].parse().unwrap();
        assert!((intended - line["timestamp"].as_f64().unwrap() / 20.0).abs() < 0.01);
    }
}

/// A bad line is named by file and line, exit 2, before anything is sent.
#[test]
fn a_bad_trace_line_is_named_and_exits_2() {
    let (trace_dir, path) = write_trace(&[
        r#"{"timestamp": 0, "input_length": 5, "output_length": 2}"#.into(),
        r#"{"timestamp": 10, "input_length": "many", "output_length": 2}"#.into(),
    ]);
    let scenario = trace_dir.path().join("s.toml");
    std::fs::write(
        &scenario,
        format!(
            "name = \"bad\"\n[load]\n[load.trace]\nfile = \"{path}\"\n[[variant]]\nname = \"v\"\nendpoint = \"chat\"\nmodel = \"sim\"\nmax_tokens = 4\n"
        ),
    )
    .unwrap();
    let o = llmload().args(["run", "--dry-run"]).arg(&scenario).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("s.toml:4:1: load.trace.file:") && err.contains("trace.jsonl:2: input_length"),
        "{err}"
    );
}
