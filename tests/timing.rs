//! Measured latencies against a simulator whose truth is known exactly.

use crate::util::{run_alone as run, variant};

/// Timing assertions hold on an idle machine; these tests take turns so that
/// they do not load the 2 cores for one another, and tests that burn CPU in
/// bursts (`util::CPU_HEAVY`) wait for them.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const EXACT: &str = r#"
name = "exact"
seed = 1

[load]
concurrency = 32
duration = "3s"
warmup = "500ms"

[simulator]
ttft = "100ms"
itl = "10ms"
jitter = 0

[[variant]]
name = "stream"
endpoint = "chat"
model = "m"
max_tokens = 40
stream = true
prompt_tokens = 50

[[variant]]
name = "whole"
endpoint = "completions"
model = "m"
max_tokens = 40
stream = false
prompt_tokens = 50
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zero_jitter_simulator_gives_configured_ttft_and_itl() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let _quiet = crate::util::CPU_HEAVY.write().await;
    let (_dir, out) = run(EXACT).await;
    let s = variant(&out.summary, "stream");
    assert!(s.requests.ok > 60, "enough samples: {:?}", s.requests);
    assert_eq!(s.requests.errors, 0);
    let ttft = s.ttft_ms.p50.unwrap();
    let itl = s.itl_ms.p50.unwrap();
    assert!((ttft - 100.0).abs() <= 3.0, "ttft p50 {ttft} ms, want 100 ± 3");
    assert!((itl - 10.0).abs() <= 1.0, "itl p50 {itl} ms, want 10 ± 1");
    // 40 tokens: first at 100 ms, last 39 gaps later.
    let e2e = s.e2e_ms.p50.unwrap();
    assert!((e2e - 490.0).abs() <= 5.0, "e2e p50 {e2e} ms, want 490 ± 5");
    let tpot = s.tpot_ms.p50.unwrap();
    assert!((tpot - 10.0).abs() <= 1.0, "tpot p50 {tpot}");
    assert_eq!(s.output_tokens, 40 * s.requests.ok, "usage counts every token");
    assert_eq!(s.output_token_source.usage, s.requests.ok);
    // Closed loop sends as soon as a user is free: a start is late (5 ms
    // after its user was free) only when the client itself was held up.
    // A user is free when its answer's last bytes arrived (the kernel's
    // stamp), so the client's own delay in reading them counts here: in
    // this debug build, with 32 users and the simulator on 2 shared cores,
    // 0.4-0.5 ms at the median, against 0.06-0.09 ms when reads were
    // stamped by the read: the bound is twice that.
    assert!(s.queue_delay_ms.p50.unwrap() < 1.0, "queue delay {:?}", s.queue_delay_ms);
    let late = s.requests.late_starts;
    assert!(late * 20 <= s.requests.ok, "late starts {late} of {}", s.requests.ok);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_streaming_ttft_is_the_whole_answer() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let _quiet = crate::util::CPU_HEAVY.write().await;
    let (_dir, out) = run(EXACT).await;
    let s = variant(&out.summary, "whole");
    assert_eq!(s.streaming, Some(false));
    let (ttft, e2e) = (s.ttft_ms.p50.unwrap(), s.e2e_ms.p50.unwrap());
    assert!((e2e - 490.0).abs() <= 5.0, "e2e p50 {e2e}");
    assert!((ttft - e2e).abs() < 0.01, "ttft {ttft} = e2e {e2e} without streaming");
    assert_eq!(s.itl_ms.count, 0, "no inter-token latency without a stream");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_loop_sends_at_the_asked_rate() {
    let toml = EXACT
        .replace("concurrency = 32", "rate = 40\narrival = \"constant\"")
        .replace("duration = \"3s\"", "duration = \"2s\"");
    let _turn = ONE_AT_A_TIME.lock().await;
    let _quiet = crate::util::CPU_HEAVY.write().await;
    let (_dir, out) = run(&toml).await;
    let t = &out.summary.total;
    assert_eq!(t.requests.sent, 80, "2 s at 40/s");
    assert_eq!(t.requests.errors, 0);
    // Open-loop starts wait on the lane's clock, to the end of a 250 µs
    // slot: about 0.15 ms late at the median, where tokio's 1 ms timer
    // wheel made them ~1 ms late. That lateness is reported (it is in every
    // latency), and must stay that small.
    let q = &t.queue_delay_ms;
    assert!(q.p50.unwrap() < 0.5 && q.p99.unwrap() < 10.0, "sent on time: {q:?}");
    assert!(t.requests.late_starts <= 2, "late starts {}", t.requests.late_starts);
    // Latency is from the intended start, so it includes any lateness.
    let s = variant(&out.summary, "stream");
    let ttft = s.ttft_ms.p50.unwrap();
    assert!((ttft - 100.0).abs() <= 4.0, "ttft p50 {ttft}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_capped_open_loop_reports_late_starts_in_latency() {
    // 50/s of 490 ms requests needs ~25 in flight; a cap of 5 must queue.
    let toml = EXACT
        .replace("concurrency = 32", "rate = 50\nmax_in_flight = 5")
        .replace("duration = \"3s\"", "duration = \"1s\"")
        .replace("warmup = \"500ms\"", "warmup = \"0s\"");
    let _turn = ONE_AT_A_TIME.lock().await;
    let _quiet = crate::util::CPU_HEAVY.write().await;
    let (_dir, out) = run(&toml).await;
    let t = &out.summary.total;
    assert_eq!(t.requests.sent, 50);
    assert!(t.requests.late_starts > 30, "late starts {}", t.requests.late_starts);
    let e2e = t.e2e_ms.p99.unwrap();
    let service = t.e2e_service_ms.p99.unwrap();
    assert!(e2e > service + 1000.0, "intended-start e2e {e2e} includes the queue; service {service}");
}
