//! The one worker loop, and the collector that owns all measurements.
//!
//! Workers take tickets from the schedule, wait for the intended time, send,
//! and pass the record on; they share nothing else. A single collector task
//! owns the histograms and the requests.csv writer, so recording needs no
//! locks and every finished request reaches disk even if the run is stopped.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::{mpsc, watch};

use super::{Schedule, StopReason, Ticket};
use crate::client::Backend;
use crate::metrics::{Metrics, Outcome, RequestRecord, TokenSource};
use crate::results::RequestsCsv;
use crate::workload::Workload;

/// What the run produced, for the summary and run.json.
pub struct RunResult {
    pub metrics: Metrics,
    pub stop_reason: StopReason,
    pub started_at: SystemTime,
    pub ended_at: SystemTime,
}

/// Where progress lines go while the run goes on.
pub type Progress = Box<dyn FnMut(&str) + Send>;

struct Worker<B> {
    backend: Arc<B>,
    workload: Arc<Workload>,
    schedule: Arc<Schedule>,
    records: mpsc::UnboundedSender<RequestRecord>,
    stop: watch::Receiver<bool>,
    started: Arc<AtomicU64>,
}

impl<B: Backend> Worker<B> {
    async fn run(mut self) {
        while let Some(ticket) = self.schedule.next() {
            let req = self.workload.request(ticket.seq);
            // A timer due now still waits for the next tick of tokio's 1 ms
            // wheel, which would add up to 1 ms of queue delay to every closed-loop
            // request: only sleep for a start that is still ahead.
            if ticket.intended > Instant::now() {
                tokio::select! {
                    _ = tokio::time::sleep_until(ticket.intended.into()) => {}
                    // Not sent yet, so not a request: nothing to record.
                    Ok(_) = self.stop.wait_for(|s| *s) => return,
                }
            }
            self.started.fetch_add(1, Ordering::Relaxed);
            let sent = Instant::now();
            let record = tokio::select! {
                r = self.backend.send(&req, &ticket) => r,
                Ok(_) = self.stop.wait_for(|s| *s) => cancelled(&req, &ticket, sent),
            };
            if self.records.send(record).is_err() {
                return;
            }
        }
    }
}

fn cancelled(req: &crate::workload::WorkRequest, t: &Ticket, sent: Instant) -> RequestRecord {
    RequestRecord {
        variant: req.variant,
        seq: req.seq,
        warmup: t.warmup,
        streaming: req.stream,
        intended: t.intended,
        sent,
        headers: None,
        first_token: None,
        end: Instant::now(),
        itl: Vec::new(),
        prompt_tokens: u64::from(req.prompt_tokens),
        output_tokens: 0,
        token_source: TokenSource::Estimate,
        finish_reason: None,
        outcome: Outcome::Cancelled,
        error: Some("run stopped while the request was in flight".into()),
    }
}

/// Runs the schedule to its end (or until `stop` turns true) and returns the
/// measurements. Every record is written to `csv` as it arrives.
pub async fn run<B: Backend>(
    backend: Arc<B>,
    workload: Arc<Workload>,
    schedule: Arc<Schedule>,
    mut metrics: Metrics,
    mut csv: RequestsCsv,
    stop: watch::Receiver<bool>,
    mut progress: Progress,
) -> anyhow::Result<RunResult> {
    let started_at = SystemTime::now();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let started = Arc::new(AtomicU64::new(0));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..schedule.workers() {
        let w = Worker {
            backend: backend.clone(),
            workload: workload.clone(),
            schedule: schedule.clone(),
            records: tx.clone(),
            stop: stop.clone(),
            started: started.clone(),
        };
        workers.spawn(w.run());
    }
    drop(tx);

    let mut stop_watch = stop.clone();
    let interrupt = {
        let schedule = schedule.clone();
        tokio::spawn(async move {
            if stop_watch.wait_for(|s| *s).await.is_ok() {
                schedule.interrupt();
            }
        })
    };

    let t0 = schedule.start();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.tick().await;
    let (mut done, mut errors) = (0u64, 0u64);
    loop {
        tokio::select! {
            rec = rx.recv() => {
                let Some(rec) = rec else { break };
                csv.write(&rec, t0)?;
                done += 1;
                errors += u64::from(!rec.outcome.is_ok() && rec.outcome != Outcome::Cancelled);
                metrics.record(&rec);
            }
            _ = tick.tick() => {
                csv.flush()?;
                let in_flight = started.load(Ordering::Relaxed).saturating_sub(done);
                let phase = if Instant::now() < schedule.warmup_end() { " (warm-up)" } else { "" };
                progress(&format!(
                    "[{:>6.1}s] done {done:>7}  errors {errors:>5}  in flight {in_flight:>5}{phase}",
                    t0.elapsed().as_secs_f64()
                ));
            }
        }
    }
    while workers.join_next().await.is_some() {}
    interrupt.abort();
    csv.flush()?;
    Ok(RunResult {
        metrics,
        stop_reason: schedule.stop_reason().unwrap_or(StopReason::Interrupted),
        started_at,
        ended_at: SystemTime::now(),
    })
}
