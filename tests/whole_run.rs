//! Whole runs through the one worker loop on a deterministic fake backend
//! (`client::scripted`): every stop reason, its exit code, and the rule that
//! every request sent has its row in requests.csv. No timing tolerance: each
//! request's fate is a function of its sequence number.

use std::sync::Arc;
use std::time::Duration;

use llmload::Exit;
use llmload::client::scripted::{Reply, ScriptedBackend};
use llmload::commands::run::{Prepared, exit_code};
use llmload::load::shutdown::Stop;
use llmload::metrics::StopReason;
use llmload::results::ResultsDir;
use llmload::scenario::Scenario;
use tokio::sync::watch;

use crate::util::{options, scenario_file};

/// A scenario of one streamed variant of model `m`; `load` and `extra` are
/// TOML added to its `[load]` table and after it.
fn scenario(load: &str, extra: &str) -> String {
    format!(
        "name = \"fake\"\nseed = 1\n[load]\nconcurrency = 2\nwarmup = \"0s\"\n{load}\n{extra}\n\
         [[variant]]\nname = \"v\"\nendpoint = \"chat\"\nmodel = \"m\"\nmax_tokens = 4\nprompt_tokens = 10\n"
    )
}

struct Ran {
    outcome: llmload::RunOutcome,
    sent: u64,
    rows: u64,
    _dir: tempfile::TempDir,
}

/// Runs `toml` on `backend` in-process; `stop` lets a test interrupt it.
async fn run_with(toml: &str, backend: Arc<ScriptedBackend>, stop: watch::Receiver<Stop>) -> Ran {
    let _heavy = crate::util::CPU_HEAVY.read().await;
    let (dir, path) = scenario_file(toml);
    let s = Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let prepared = Prepared::new(s, None, None).expect("prepared");
    let opts = options(path, dir.path());
    let outcome = llmload::execute_with(prepared, opts, stop, Shared(backend.clone()), "scripted://")
        .await
        .expect("the run completes");
    let mut rows = 0u64;
    let d = ResultsDir::open(&outcome.dir, "results directory").unwrap();
    d.requests()
        .unwrap()
        .for_each(|_| {
            rows += 1;
            Ok(())
        })
        .unwrap();
    // Every request sent has its row, and the summary says so.
    assert_eq!(outcome.summary.total.requests.sent, rows, "sent == rows of requests.csv");
    Ran { outcome, sent: backend.sent(), rows, _dir: dir }
}

async fn run(toml: &str, script: impl Fn(u64) -> Reply + Send + Sync + 'static) -> Ran {
    let (_tx, rx) = watch::channel(Stop::Running);
    run_with(toml, Arc::new(ScriptedBackend::new(script)), rx).await
}

/// The backend shared with the test, which reads its count afterwards.
struct Shared(Arc<ScriptedBackend>);

impl llmload::client::Backend for Shared {
    fn send(
        &self,
        req: &llmload::workload::WorkRequest,
        ticket: &llmload::load::Ticket,
        timer: &mut llmload::client::Timer,
    ) -> impl Future<Output = llmload::metrics::RequestRecord> + Send {
        self.0.send(req, ticket, timer)
    }
}

fn ok(_: u64) -> Reply {
    Reply::Ok { output_tokens: 4, latency: Duration::ZERO }
}

#[tokio::test]
async fn a_request_count_stops_the_run_with_exit_0_and_a_row_per_request() {
    let r = run(&scenario("requests = 25", ""), ok).await;
    let s = &r.outcome.summary;
    assert_eq!(s.stop_reason, StopReason::Requests);
    assert!(!s.partial);
    assert_eq!((r.sent, r.rows, s.total.requests.ok), (25, 25, 25));
    assert_eq!(s.total.output_tokens, 100);
    assert_eq!(exit_code(s), Exit::Ok);
}

#[tokio::test]
async fn a_duration_stops_the_run_with_exit_0_and_every_sent_request_in_the_csv() {
    let reply = |_| Reply::Ok { output_tokens: 4, latency: Duration::from_millis(2) };
    let r = run(&scenario("duration = \"200ms\"", ""), reply).await;
    let s = &r.outcome.summary;
    assert_eq!(s.stop_reason, StopReason::Duration);
    assert!(r.sent > 0);
    assert_eq!(r.rows, r.sent, "every request sent has its row");
    assert_eq!(s.total.requests.ok, r.sent);
    assert_eq!(exit_code(s), Exit::Ok);
}

#[tokio::test]
async fn the_error_rate_abort_stops_the_run_partial_with_exit_1() {
    // Every third request fails at first, then all of them: the abort comes
    // once the window of recent requests is mostly errors. Errors come back
    // at once, as they often do: the abort must still catch them.
    let reply = |seq| if seq < 30 && seq % 3 != 0 { ok(seq) } else { Reply::Status(500) };
    let r = run(&scenario("requests = 500\nabort_on_error_rate = 0.5", ""), reply).await;
    let s = &r.outcome.summary;
    assert_eq!(s.stop_reason, StopReason::ErrorRate);
    assert!(s.partial);
    // 20 of the first 30 succeed; more than half of the last ones failed by
    // the 45th or so; one more may be in flight on the other user.
    assert!((40..60).contains(&r.sent), "stopped early: {} sent", r.sent);
    assert_eq!(r.rows, r.sent);
    assert!(s.total.requests.ok > 0, "some succeeded: the exit code is the abort's, not 'nothing succeeded'");
    assert_eq!(exit_code(s), Exit::Failed);
}

#[tokio::test]
async fn the_budget_stops_the_run_partial_with_exit_1_and_spend_under_the_cap() {
    // 10 prompt + 4 output tokens at $1,000 per 1M: $0.014 a request, whose
    // worst case (10 + 4 tokens) is the same; the cap allows 7 of them.
    let extra = "[pricing.m]\ninput_per_1m = 1000.0\noutput_per_1m = 1000.0\n[budget]\nmax_usd = 0.1\n";
    let r = run(&scenario("requests = 100", extra), ok).await;
    let s = &r.outcome.summary;
    assert_eq!(s.stop_reason, StopReason::Budget);
    assert!(s.partial);
    assert_eq!((r.sent, r.rows), (7, 7));
    let spent = s.total.cost_usd.expect("priced");
    assert!(spent <= 0.1 && spent > 0.09, "spent {spent}");
    assert_eq!(exit_code(s), Exit::Failed);
}

#[tokio::test]
async fn a_signal_stops_the_run_partial_with_exit_130_and_requests_in_flight_cancelled() {
    // Five requests answer; every later one hangs until cancelled.
    let backend = Arc::new(ScriptedBackend::new(|seq| if seq < 5 { ok(seq) } else { Reply::Hang }));
    let (tx, rx) = watch::channel(Stop::Running);
    let watcher = backend.clone();
    let interrupt = tokio::spawn(async move {
        while watcher.sent() < 7 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        // Ctrl-C twice: stop sending, then cancel what is in flight.
        let _ = tx.send(Stop::Draining);
        let _ = tx.send(Stop::Cancel);
        tx
    });
    let r = run_with(&scenario("requests = 1000", ""), backend, rx).await;
    drop(interrupt.await);
    let s = &r.outcome.summary;
    assert_eq!(s.stop_reason, StopReason::Interrupted);
    assert!(s.partial);
    assert_eq!(s.total.requests.ok, 5);
    assert_eq!(s.total.requests.cancelled, 2, "the two users' hung requests");
    assert_eq!((r.sent, r.rows), (7, 7), "cancelled requests have their rows too");
    assert_eq!(exit_code(s), Exit::Interrupted);
}

#[tokio::test]
async fn a_run_where_nothing_succeeded_exits_1() {
    let r = run(&scenario("requests = 10", ""), |_| Reply::Connect).await;
    let s = &r.outcome.summary;
    assert_eq!(s.stop_reason, StopReason::Requests);
    assert_eq!((s.total.requests.ok, s.total.requests.errors, r.rows), (0, 10, 10));
    assert_eq!(exit_code(s), Exit::Failed);
}

#[tokio::test]
async fn a_missed_objective_exits_1_and_a_met_one_0() {
    let slow = |_| Reply::Ok { output_tokens: 4, latency: Duration::from_millis(5) };
    let r = run(&scenario("requests = 10", "[slo]\n\"e2e.p50\" = \"1ms\"\n"), slow).await;
    assert_eq!(r.outcome.summary.slo_passed, Some(false));
    assert_eq!(exit_code(&r.outcome.summary), Exit::Failed);
    let r = run(&scenario("requests = 10", "[slo]\n\"e2e.p50\" = \"10s\"\n"), slow).await;
    assert_eq!(r.outcome.summary.slo_passed, Some(true));
    assert_eq!(exit_code(&r.outcome.summary), Exit::Ok);
}

#[tokio::test]
async fn rate_limited_answers_are_errors_of_their_own_class() {
    let r =
        run(&scenario("requests = 10", ""), |seq| if seq % 2 == 0 { ok(seq) } else { Reply::Status(429) })
            .await;
    let s = &r.outcome.summary;
    assert_eq!((s.total.requests.ok, s.total.requests.errors, s.total.requests.rate_limited), (5, 5, 5));
    assert_eq!(s.total.errors[0].class, "http_429");
    assert_eq!(exit_code(s), Exit::Ok);
}

#[tokio::test]
async fn a_server_over_reporting_usage_never_pushes_spend_past_the_cap() {
    // max_tokens = 4, but the server claims 500 output tokens each time.
    let extra = "[pricing.m]\ninput_per_1m = 1000.0\noutput_per_1m = 1000.0\n[budget]\nmax_usd = 0.1\n";
    let r = run(&scenario("requests = 100", extra), |_| Reply::Ok {
        output_tokens: 500,
        latency: Duration::ZERO,
    })
    .await;
    let s = &r.outcome.summary;
    assert_eq!(s.stop_reason, StopReason::Budget);
    let spent = s.total.cost_usd.expect("priced");
    assert!(spent <= 0.1, "spent {spent} against a cap of 0.1");
    assert!(
        s.notes.iter().any(|n| n.contains("server anomaly") && n.contains("more than max_tokens allows")),
        "{:?}",
        s.notes
    );
}

#[tokio::test]
async fn requests_the_server_refused_cost_nothing() {
    let extra = "[pricing.m]\ninput_per_1m = 1000.0\noutput_per_1m = 1000.0\n";
    let r = run(&scenario("requests = 10", extra), |seq| {
        if seq % 2 == 0 { Reply::Status(401) } else { Reply::Connect }
    })
    .await;
    assert_eq!(r.outcome.summary.total.cost_usd, Some(0.0));
    // Never answered: their prompt tokens are the client's own count, and say so.
    let d = ResultsDir::open(&r.outcome.dir, "results directory").unwrap();
    d.requests()
        .unwrap()
        .for_each(|row| {
            assert_eq!((row.prompt_tokens, row.prompt_token_source), (10, "client"));
            Ok(())
        })
        .unwrap();
}

/// An open loop of 20 requests/s for 1 s whose `[client_limit]` lets one
/// through at once and then one every 10 s: most tickets still wait in the
/// limiter when the plan and its 10 s of grace are over.
const LIMITED: &str = "name = \"limited\"\nseed = 1\n[load]\nrate = 20\narrival = \"constant\"\nduration = \"1s\"\n\
    warmup = \"0s\"\n[client_limit]\nrequests_per_minute = 6\n\
    [[variant]]\nname = \"v\"\nendpoint = \"chat\"\nmodel = \"m\"\nmax_tokens = 4\nprompt_tokens = 10\n";

#[tokio::test]
async fn a_client_limit_cannot_make_a_run_outlive_its_plan_and_every_ticket_is_accounted_for() {
    let r = run(LIMITED, ok).await;
    // The run's own span (run.json), not the charts drawn after it, which a
    // busy machine may take seconds over.
    let info = ResultsDir::open(&r.outcome.dir, "results directory").unwrap().run_info().unwrap();
    let at = |t: &str| humantime::parse_rfc3339(t).unwrap();
    let took = at(info.ended_at.as_deref().unwrap()).duration_since(at(&info.started_at)).unwrap();
    let s = &r.outcome.summary;
    assert_eq!(s.stop_reason, StopReason::Duration);
    assert!(took < Duration::from_secs(12), "a 1 s plan took {took:?}: more than its 10 s of grace");
    let q = &s.total.requests;
    assert!(q.not_sent > 0, "tickets held past the end are counted");
    assert_eq!(q.sent + q.not_sent, 20, "20 scheduled: {q:?}");
    assert!(s.notes.iter().any(|n| n.contains("not sent") && n.contains("[client_limit]")), "{:?}", s.notes);
}

#[tokio::test]
async fn a_signal_interrupts_a_run_held_by_its_client_limit() {
    let backend = Arc::new(ScriptedBackend::new(ok));
    let (tx, rx) = watch::channel(Stop::Running);
    let watcher = backend.clone();
    let signal = tokio::spawn(async move {
        while watcher.sent() < 1 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        // The plan's tickets are issued as the workers take them, which the
        // users on the other lane may not have done at the first send: the
        // run is held by its limit once each has (the last is due at 950 ms).
        tokio::time::sleep(Duration::from_millis(300)).await;
        let _ = tx.send(Stop::Draining);
        tx
    });
    let r = run_with(LIMITED, backend, rx).await;
    drop(signal.await);
    let s = &r.outcome.summary;
    assert_eq!(s.stop_reason, StopReason::Interrupted);
    assert!(s.partial);
    assert_eq!(exit_code(s), Exit::Interrupted);
    assert_eq!(s.total.requests.sent + s.total.requests.not_sent, 20, "{:?}", s.total.requests);
}

/// In closed loop a user sends again when its last request ended (plus its
/// think time): time the client spends before it does (here a scripted
/// 100 ms after five answers, as a long token count would take) is dispatch
/// lateness, counted in the latency of the request it delayed and named in
/// a note, not time that silently vanishes.
#[tokio::test]
async fn a_closed_loop_client_stall_is_dispatch_lateness_and_said() {
    let stall = Duration::from_millis(100);
    let one_user = scenario("requests = 100", "").replace("concurrency = 2", "concurrency = 1");
    let r = run(&one_user, move |seq| {
        let latency = Duration::from_millis(20);
        if (10..15).contains(&seq) {
            Reply::OkThenStall { output_tokens: 4, latency, stall }
        } else {
            Reply::Ok { output_tokens: 4, latency }
        }
    })
    .await;
    let total = &r.outcome.summary.total;
    // The request after each stall started 100 ms after its user was free.
    assert_eq!(total.requests.late_starts, 5, "{:?}", total.requests);
    assert!(total.queue_delay_ms.max.unwrap() >= 100.0, "{:?}", total.queue_delay_ms);
    let info = ResultsDir::open(&r.outcome.dir, "results").unwrap().run_info().unwrap();
    let lateness = info.client.expect("client overhead").dispatch_lateness_ms;
    // Every dispatch is measured, the stalls among them.
    assert_eq!(lateness.count, 100);
    assert!((100.0..150.0).contains(&lateness.max.unwrap()), "{lateness:?}");
    // The five stalls, and on a busy machine perhaps a dispatch or two late
    // by a few ms more.
    let notes = r.outcome.summary.notes.join("\n");
    let late: u64 = notes
        .split("the client itself was late sending ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next()?.parse().ok())
        .unwrap_or_else(|| panic!("a note on the client's lateness: {notes}"));
    assert!((5..=9).contains(&late) && notes.contains("of 100 requests"), "{notes}");
    assert!(notes.contains("from p95 up") || notes.contains("from p90 up"), "{notes}");

    // Without stalls, nothing like it: no dispatch is held for tens of ms,
    // and no note reaches a percentile below p99 (a busy machine may still
    // delay a dispatch by a few ms, and the note then says so).
    let shorter = one_user.replace("requests = 100", "requests = 30");
    let r = run(&shorter, |_| Reply::Ok { output_tokens: 4, latency: Duration::from_millis(100) }).await;
    let info = ResultsDir::open(&r.outcome.dir, "results").unwrap().run_info().unwrap();
    let lateness = info.client.expect("client overhead").dispatch_lateness_ms;
    assert!(lateness.max.unwrap() < 50.0, "{lateness:?}");
    let notes = r.outcome.summary.notes.join("\n");
    assert!(!["from p50", "from p90", "from p95"].iter().any(|p| notes.contains(p)), "{notes}");
}

/// One tick of the progress line: elapsed s, measured started, done, in flight.
type Tick = (f64, u64, u64, u64);

/// What the progress line was told at each tick.
struct Ticks(Arc<std::sync::Mutex<Vec<Tick>>>);

impl llmload::progress::Progress for Ticks {
    fn status(&mut self, s: &llmload::progress::Status) {
        self.0.lock().unwrap().push((s.elapsed.as_secs_f64(), s.measured_started, s.done, s.in_flight));
    }
    fn message(&mut self, _: &str) {}
}

#[tokio::test]
async fn the_progress_line_counts_the_requests_each_user_started_and_has_in_flight() {
    let _heavy = crate::util::CPU_HEAVY.read().await;
    // 4 users, 5 rounds of 450 ms: started at 0, 0.45, 0.9, 1.35 and 1.8 s.
    let toml = scenario("requests = 20", "").replace("concurrency = 2", "concurrency = 4");
    let (dir, path) = scenario_file(&toml);
    let prepared = Prepared::new(Scenario::load(&path).unwrap(), None, None).unwrap();
    let ticks = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut opts = options(path, dir.path());
    opts.progress = Box::new(Ticks(ticks.clone()));
    let backend =
        ScriptedBackend::new(|_| Reply::Ok { output_tokens: 1, latency: Duration::from_millis(450) });
    let (_tx, stop) = watch::channel(Stop::Running);
    let outcome =
        llmload::execute_with(prepared, opts, stop, Shared(Arc::new(backend)), "scripted://").await.unwrap();
    assert_eq!(outcome.summary.total.requests.sent, 20);
    let ticks = ticks.lock().unwrap().clone();
    // The ticks at 1 s and 2 s: 3 rounds started and 2 ended, then all 5
    // started and 4 ended; each time one round (4 requests) in flight.
    let at = |t: f64| {
        let (_, started, done, in_flight) = *ticks
            .iter()
            .find(|k| (k.0 - t).abs() < 0.2)
            .unwrap_or_else(|| panic!("a tick near {t} s: {ticks:?}"));
        (started, done, in_flight)
    };
    assert_eq!(at(1.0), (12, 8, 4), "{ticks:?}");
    assert_eq!(at(2.0), (20, 16, 4), "{ticks:?}");
}
