//! The one worker loop, and where its measurements go.
//!
//! Workers take tickets from the schedule, wait for the intended time,
//! reserve the budget, send, and record; they share nothing else. The
//! workers are dealt to the lanes (`crate::lanes`: a thread and a runtime
//! each), and each lane records its own workers' requests (`Recorder`):
//! its histograms, and its requests.csv rows, handed to the step's writer
//! a block at a time and at least once a second, so that a stopped run
//! loses no finished request. The lanes' measurements are merged, exactly,
//! when the step ends. Closed loop, open loop, stages and sweeps all run
//! through this loop; only the schedule differs.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use hdrhistogram::Histogram;
use tokio::sync::{mpsc, oneshot, watch};

use super::abort::ErrorRateAbort;
use super::shutdown::{GRACE, Padded, Stop, StopView, with_grace};
use super::{BudgetGuard, Limiter, Schedule, StopReason, Ticket};
use crate::client::{Backend, Timer};
use crate::metrics::{Metrics, Outcome, RequestRecord, TokenSource};
use crate::progress::{Progress, Status};
use crate::results::{ROW_BLOCK, RequestsWriter, RowFormat};
use crate::workload::{WorkRequest, Workload};

/// One pass of the schedule: the whole run, or one variant of a sequential
/// sweep.
pub struct Step<B> {
    pub backend: Arc<B>,
    pub workload: Arc<Workload>,
    pub schedule: Arc<Schedule>,
    /// Shared by all steps of a run: the cap is for the run.
    pub budget: Arc<BudgetGuard>,
    /// The client-side rate limit, if any (shared by all steps).
    pub limiter: Option<Arc<Limiter>>,
    pub abort_on_error_rate: Option<f64>,
    pub warn_usd: Option<f64>,
}

/// What a step produced, for the summary and run.json.
pub struct RunResult {
    pub metrics: Metrics,
    pub stop_reason: StopReason,
    pub started_at: SystemTime,
    pub ended_at: SystemTime,
    /// Things the user should know (budget warnings, aborts).
    pub notes: Vec<String>,
    /// How late workers woke for intended starts (µs).
    pub dispatch_lateness: Histogram<u64>,
    /// When the first request of the step was sent.
    pub first_request_at: Option<SystemTime>,
}

struct Worker<B> {
    id: usize,
    backend: Arc<B>,
    workload: Arc<Workload>,
    schedule: Arc<Schedule>,
    budget: Arc<BudgetGuard>,
    limiter: Option<Arc<Limiter>>,
    abort: Option<Arc<ErrorRateAbort>>,
    not_sent: Arc<NotSent>,
    /// This worker's lane's.
    recorder: Arc<Mutex<Recorder>>,
    /// The stop, read per request without a lock and waited on through a
    /// waker of this worker's own.
    view: Arc<StopView>,
    /// For the total timeouts of this worker's requests.
    timer: Timer,
    /// Requests started, for the progress bar.
    started: Arc<Started>,
    /// When the first request was sent (`FirstSent`).
    first_sent: Arc<FirstSent>,
}

impl<B: Backend> Worker<B> {
    /// Returns how late this worker woke for the starts it waited for: the
    /// client's own timing error, the floor of what the run can measure.
    async fn run(mut self) -> Histogram<u64> {
        // Two significant digits (a per-mille error is far below what
        // lateness is read for): 25 KB, not the 190 KB of a latency
        // histogram, times hundreds of workers allocated at the start.
        let mut lateness =
            Histogram::new_with_bounds(1, 3_600_000_000, 2).expect("static histogram bounds are valid");
        let mut free_since = None;
        let closed = self.schedule.closed_loop();
        // A session under way, and when its next turn is due.
        let mut session: Option<(crate::workload::Session, Instant)> = None;
        loop {
            // A stop seen here ends the worker before it takes a ticket: the
            // task that stops the schedule may not have run yet, and a
            // ticket taken now would be sent and at once cancelled.
            if self.view.get() >= Stop::Draining {
                break;
            }
            let next = match &session {
                Some((_, due)) => self.schedule.follow_up(*due),
                None => self.schedule.next(self.id, free_since),
            };
            let Some(ticket) = next else { break };
            let mut turn = session.take().map(|(s, _)| s);
            let req = self.workload.request_in(&ticket, &mut turn);
            // A start still ahead is waited for on the lane's clock, not
            // tokio's timer, whose 1 ms wheel would make it up to 1 ms late
            // (`clock`); a start already due is not waited for at all.
            if ticket.intended > Instant::now() {
                tokio::select! {
                    _ = super::clock::sleep_until(ticket.intended) => {
                        let late = ticket.intended.elapsed().as_micros();
                        lateness.saturating_record(u64::try_from(late).unwrap_or(u64::MAX));
                    }
                    // Not sent, so not a request: counted, no row.
                    _ = self.view.reached(self.id, Stop::Draining) => {
                        self.not_sent.count(&ticket, &req, NotSentReason::Stopped);
                        return lateness;
                    }
                }
            } else if closed {
                // The user was free before the worker got back to it: the
                // client's own delay. (An open-loop ticket already due is
                // queueing behind max_in_flight, reported as queue delay.)
                let late = ticket.intended.elapsed().as_micros();
                lateness.saturating_record(u64::try_from(late).unwrap_or(u64::MAX));
            }
            if let Some(l) = &self.limiter {
                // Held back at most until the planned end and its grace: a
                // ticket the limit keeps longer is not sent (a run never
                // outlives its plan by more than the grace).
                let end = self.schedule.end().map(|e| e + GRACE);
                let past_end = async move {
                    match end {
                        Some(end) => tokio::time::sleep_until(end.into()).await,
                        None => std::future::pending().await,
                    }
                };
                tokio::select! {
                    _ = l.acquire(req.estimated_tokens) => {}
                    _ = past_end => {
                        self.not_sent.count(&ticket, &req, NotSentReason::ClientLimit);
                        return lateness;
                    }
                    // The view also drains at the plan's end and its grace,
                    // on the main runtime's clock: a ticket the limit held
                    // that long was held by the limit, whichever woke first.
                    _ = self.view.reached(self.id, Stop::Draining) => {
                        let held = end.is_some_and(|e| Instant::now() >= e);
                        let why = if held { NotSentReason::ClientLimit } else { NotSentReason::Stopped };
                        self.not_sent.count(&ticket, &req, why);
                        return lateness;
                    }
                }
            }
            let reserved = req.worst_cost.unwrap_or(0.0);
            if !self.budget.reserve(reserved) {
                self.schedule.stop(StopReason::Budget);
                self.not_sent.count(&ticket, &req, NotSentReason::Budget);
                return lateness;
            }
            self.first_sent.note();
            self.started.add(self.id, !ticket.warmup);
            let sent = Instant::now();
            let mut record = tokio::select! {
                // In this order: no random draw per request to choose one.
                biased;
                r = self.backend.send(&req, &ticket, &mut self.timer) => r,
                _ = self.view.cancelled(self.id) => cancelled(&req, &ticket, sent),
            };
            record.stage = ticket.stage;
            record.prompts = req.prompts;
            record.cost_usd = req.price.map(|p| self.budget.charge(&record, &req, p));
            self.budget.settle(reserved, record.cost_usd.unwrap_or(0.0));
            if let Some(abort) = &self.abort
                && !record.warmup
                && record.outcome != Outcome::Cancelled
                && abort.observe(!record.outcome.is_ok())
            {
                self.schedule.stop(StopReason::ErrorRate);
            }
            free_since = Some(record.end.max(sent));
            if let Some(mut s) = turn {
                let ok = record.outcome == Outcome::Ok;
                match s.after(ok, record.answer.take(), record.end, record.output_tokens) {
                    Some(due) => session = Some((s, due)),
                    None => record.session_done = Some(record.end.saturating_duration_since(s.started)),
                }
            }
            lock(&self.recorder).keep(record);
        }
        lateness
    }
}

/// A lane's share of the measurements, recorded by its workers on its
/// thread: no hop to another thread per request. Read by the step once a
/// second (progress, and the rows not yet handed over) and at its end.
struct Recorder {
    /// Records not yet counted: counted a batch at a time, while the
    /// histograms they go to are in the cache.
    pending: Vec<RequestRecord>,
    metrics: Metrics,
    /// Rows formatted and not yet handed to the writer.
    rows: Vec<u8>,
    /// One past the highest `seq` among `rows`.
    seq_next: u64,
    format: RowFormat,
    /// The step's start (`intended_ms` is an offset from it).
    t0: Instant,
    /// Full blocks of rows, to the step's writer.
    blocks: mpsc::UnboundedSender<(Vec<u8>, u64)>,
    done: u64,
    errors: u64,
    /// The intended start of the last request: where the window ends when
    /// the run did not run to its planned end.
    last_intended: Option<Instant>,
}

/// Records a lane counts at once (`Recorder::keep`).
const BATCH: usize = 64;

impl Recorder {
    /// Keeps a finished request's record, and counts the batch once full.
    fn keep(&mut self, rec: RequestRecord) {
        self.pending.push(rec);
        if self.pending.len() >= BATCH {
            self.count_pending();
        }
    }

    /// Counts every record kept so far: its row, its histograms.
    fn count_pending(&mut self) {
        let mut pending = std::mem::take(&mut self.pending);
        for rec in pending.drain(..) {
            self.record(&rec);
        }
        // The allocation is kept for the next batch.
        self.pending = pending;
    }

    fn record(&mut self, rec: &RequestRecord) {
        let next = self.format.format(rec, self.t0, &mut self.rows);
        self.seq_next = self.seq_next.max(next);
        self.last_intended = self.last_intended.max(Some(rec.intended));
        self.done += 1;
        self.errors += u64::from(!rec.outcome.is_ok() && rec.outcome != Outcome::Cancelled);
        self.metrics.record(rec);
        if self.rows.len() >= ROW_BLOCK {
            let block = (std::mem::replace(&mut self.rows, Vec::with_capacity(ROW_BLOCK)), self.seq_next);
            // The step has ended only once every lane has: it is there.
            let _ = self.blocks.send(block);
        }
    }

    /// The rows not yet handed over (every record kept counted first), with
    /// one past their highest `seq`.
    fn take_rows(&mut self) -> (Vec<u8>, u64) {
        self.count_pending();
        (std::mem::replace(&mut self.rows, Vec::with_capacity(ROW_BLOCK)), self.seq_next)
    }
}

/// A lane's recorder, locked: by its own thread per request, by the
/// step's once a second. A worker that panicked while holding it left
/// counts that are still whole (a record is added field by field), so the
/// lock is taken again.
fn lock(r: &Mutex<Recorder>) -> MutexGuard<'_, Recorder> {
    r.lock().unwrap_or_else(|p| p.into_inner())
}

/// The wall-clock time of the first request sent: the earliest of those
/// that saw none sent yet (workers racing to be first all offer theirs).
/// Once set it is only read, so its cache line is not moved per request.
struct FirstSent(AtomicU64);

impl Default for FirstSent {
    fn default() -> Self {
        FirstSent(AtomicU64::new(u64::MAX))
    }
}

impl FirstSent {
    fn note(&self) {
        if self.0.load(Ordering::Relaxed) == u64::MAX {
            let ns = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
            self.0.fetch_min(u64::try_from(ns).unwrap_or(u64::MAX - 1), Ordering::Relaxed);
        }
    }

    fn get(&self) -> Option<SystemTime> {
        match self.0.load(Ordering::Relaxed) {
            u64::MAX => None,
            ns => Some(SystemTime::UNIX_EPOCH + Duration::from_nanos(ns)),
        }
    }
}

/// Requests started, counted by each worker on a cache line of its own: a
/// counter all workers add to moves between the cores with every request
/// (as the stop's shared `watch` did before `StopView`). The progress line
/// sums them once a second.
struct Started(Box<[Padded<StartedBy>]>);

#[derive(Default)]
struct StartedBy {
    all: AtomicU64,
    /// Not warm-up.
    measured: AtomicU64,
}

impl Started {
    fn new(workers: usize) -> Self {
        Started((0..workers).map(|_| Padded::default()).collect())
    }

    /// Counts a start by `worker`, the only one that writes its counts
    /// (so no read-modify-write is needed).
    fn add(&self, worker: usize, measured: bool) {
        let c = &self.0[worker].0;
        c.all.store(c.all.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        if measured {
            c.measured.store(c.measured.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        }
    }

    /// All requests started, and the measured ones.
    fn sum(&self) -> (u64, u64) {
        self.0.iter().map(|c| &c.0).fold((0, 0), |(a, m), c| {
            (a + c.all.load(Ordering::Relaxed), m + c.measured.load(Ordering::Relaxed))
        })
    }
}

/// Why a ticket the schedule issued was never sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum NotSentReason {
    Stopped,
    ClientLimit,
    Budget,
}

impl NotSentReason {
    fn says(self) -> &'static str {
        match self {
            NotSentReason::Stopped => "the run was stopped while they waited for their start",
            NotSentReason::ClientLimit => {
                "[client_limit] held them past the planned end and its 10 s of grace"
            }
            NotSentReason::Budget => "the budget could not cover their worst case",
        }
    }
}

/// Measured tickets that were never sent, by variant and reason: every
/// scheduled request is accounted for, as a row of requests.csv or here.
#[derive(Default)]
struct NotSent(std::sync::Mutex<std::collections::BTreeMap<(usize, NotSentReason), u64>>);

impl NotSent {
    fn count(&self, ticket: &Ticket, req: &WorkRequest, reason: NotSentReason) {
        if !ticket.warmup {
            *self.0.lock().unwrap_or_else(|p| p.into_inner()).entry((req.variant, reason)).or_default() += 1;
        }
    }

    /// Adds the counts to the variants' and says why, in one note.
    fn settle(&self, metrics: &mut Metrics) -> Option<String> {
        let counts = std::mem::take(&mut *self.0.lock().unwrap_or_else(|p| p.into_inner()));
        let mut by_reason = std::collections::BTreeMap::<NotSentReason, u64>::new();
        for ((variant, reason), n) in counts {
            if let Some(v) = metrics.variants.get_mut(variant) {
                v.not_sent += n;
            }
            *by_reason.entry(reason).or_default() += n;
        }
        let total: u64 = by_reason.values().sum();
        (total > 0).then(|| {
            let why: Vec<String> = by_reason.iter().map(|(r, n)| format!("{n}: {}", r.says())).collect();
            format!("{total} scheduled requests were not sent ({})", why.join("; "))
        })
    }
}

fn cancelled(req: &WorkRequest, t: &Ticket, sent: Instant) -> RequestRecord {
    let mut r = RequestRecord::new(req, t, sent);
    r.end = Instant::now();
    r.outcome = Outcome::Cancelled;
    r.error = Some("run stopped while the request was in flight".into());
    r.token_source = TokenSource::Estimate;
    r
}

/// Runs one step to its end (or until `stop` says so) and returns its
/// measurements. Every record is written to `csv` within a second of its
/// end.
pub async fn run<B: Backend>(
    step: Step<B>,
    mut metrics: Metrics,
    csv: &mut RequestsWriter,
    stop: watch::Receiver<Stop>,
    progress: &mut dyn Progress,
) -> anyhow::Result<RunResult> {
    let started_at = SystemTime::now();
    let schedule = step.schedule.clone();
    // Signals come on `outer`; the workers' view turns a drain into a cancel
    // after the grace period, and cancels what is still in flight once the
    // planned end is a grace period behind (a run never outlives its plan by
    // more).
    let outer = stop;
    let cancel_at = schedule.end().map(|end| end + GRACE);
    // Held to the step's end: the levels are followed while it lives.
    let (_step, view) = with_grace(outer.clone(), GRACE, cancel_at, schedule.workers());
    let t0 = schedule.start();
    let (blocks_tx, mut blocks) = mpsc::unbounded_channel();
    let lanes = crate::lanes::count().min(schedule.workers()).max(1);
    let recorders: Vec<Arc<Mutex<Recorder>>> = (0..lanes)
        .map(|_| {
            Arc::new(Mutex::new(Recorder {
                pending: Vec::with_capacity(BATCH),
                metrics: metrics.clone(),
                rows: Vec::with_capacity(ROW_BLOCK),
                seq_next: 0,
                format: csv.format(),
                t0,
                blocks: blocks_tx.clone(),
                done: 0,
                errors: 0,
                last_intended: None,
            }))
        })
        .collect();
    drop(blocks_tx);
    let started = Arc::new(Started::new(schedule.workers()));
    let first_sent = Arc::new(FirstSent::default());
    let abort = step.abort_on_error_rate.map(|limit| Arc::new(ErrorRateAbort::new(limit)));
    let not_sent = Arc::new(NotSent::default());
    let mut shares: Vec<Vec<Worker<B>>> = (0..lanes).map(|_| Vec::new()).collect();
    for id in 0..schedule.workers() {
        shares[id % lanes].push(Worker {
            id,
            backend: step.backend.clone(),
            workload: step.workload.clone(),
            schedule: schedule.clone(),
            budget: step.budget.clone(),
            limiter: step.limiter.clone(),
            abort: abort.clone(),
            not_sent: not_sent.clone(),
            recorder: recorders[id % lanes].clone(),
            view: view.clone(),
            timer: Timer::new(),
            started: started.clone(),
            first_sent: first_sent.clone(),
        });
    }
    let mut ended = Vec::with_capacity(lanes);
    for (lane, share) in shares.into_iter().enumerate() {
        let (tx, rx) = oneshot::channel();
        crate::lanes::spawn(lane, run_share(share, tx)).map_err(|e| anyhow::anyhow!("{e}"))?;
        ended.push(rx);
    }
    // Every lane's workers have returned, with how late they woke.
    let all_ended = async move {
        let mut dispatch_lateness = crate::metrics::new_histogram();
        for rx in ended {
            if let Ok(h) = rx.await {
                let _ = dispatch_lateness.add(&h);
            }
        }
        dispatch_lateness
    };
    tokio::pin!(all_ended);

    let mut stop_watch = outer;
    let interrupt = {
        let schedule = schedule.clone();
        tokio::spawn(async move {
            if stop_watch.wait_for(|s| *s >= Stop::Draining).await.is_ok() {
                schedule.interrupt();
            }
        })
    };

    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.tick().await;
    let mut done_at_last_tick = 0u64;
    let mut notes = Vec::new();
    let mut warned = false;
    let dispatch_lateness = loop {
        tokio::select! {
            Some((rows, seq_next)) = blocks.recv() => csv.append(&rows, seq_next),
            _ = tick.tick() => {
                // The rows of the last second, whatever their number; a
                // failed write is kept in the writer, for the end of the
                // run: measuring goes on.
                let (mut done, mut errors) = (0, 0);
                let live = {
                    let mut guards: Vec<_> = recorders.iter().map(|r| lock(r)).collect();
                    for g in &mut guards {
                        let (rows, seq_next) = g.take_rows();
                        csv.append(&rows, seq_next);
                        (done, errors) = (done + g.done, errors + g.errors);
                    }
                    Metrics::live_ttft_of(guards.iter().map(|g| &g.metrics))
                };
                let _ = csv.flush();
                warn_once(&step, &mut warned, &mut notes, progress);
                let per_s = done - done_at_last_tick;
                let (all_started, measured_started) = started.sum();
                done_at_last_tick = done;
                progress.status(&Status {
                    elapsed: t0.elapsed(),
                    planned: schedule.end().map(|e| e - t0),
                    planned_requests: schedule.max_measured(),
                    measured_started,
                    per_s,
                    done,
                    errors,
                    in_flight: all_started.saturating_sub(done),
                    ttft: live,
                    warmup: Instant::now() < schedule.warmup_end(),
                });
            }
            h = &mut all_ended => break h,
        }
    };
    interrupt.abort();
    // Every worker has returned: the lanes' blocks are all sent, and what
    // each lane holds is its last rows and its measurements.
    while let Ok((rows, seq_next)) = blocks.try_recv() {
        csv.append(&rows, seq_next);
    }
    let mut last_intended: Option<Instant> = None;
    for r in &recorders {
        let mut r = lock(r);
        let (rows, seq_next) = r.take_rows();
        csv.append(&rows, seq_next);
        metrics.merge(&r.metrics);
        last_intended = last_intended.max(r.last_intended);
    }
    let _ = csv.flush();
    warn_once(&step, &mut warned, &mut notes, progress);
    // The measured window: to the planned end when the run got there, else
    // to the last request's intended start; the drain after it is excluded.
    let window_end = match schedule.stop_reason() {
        Some(StopReason::Duration) => schedule.end().or(last_intended),
        _ => last_intended,
    };
    metrics.window_end = Some(window_end.map_or(metrics.window_start, |e| e.max(metrics.window_start)));
    notes.extend(step.budget.take_anomaly_note());
    notes.extend(not_sent.settle(&mut metrics));
    // The abort's note, if it stopped this step (the schedule's first stop wins).
    if schedule.stop_reason() == Some(StopReason::ErrorRate) {
        notes.extend(abort.and_then(|a| a.note()));
    }
    Ok(RunResult {
        metrics,
        stop_reason: schedule.stop_reason().unwrap_or(StopReason::Interrupted),
        started_at,
        ended_at: SystemTime::now(),
        notes,
        dispatch_lateness,
        first_request_at: first_sent.get(),
    })
}

/// One lane's workers, run on the lane's runtime; `ended` gets how late
/// they woke once all have returned.
async fn run_share<B: Backend>(share: Vec<Worker<B>>, ended: oneshot::Sender<Histogram<u64>>) {
    let mut workers = tokio::task::JoinSet::new();
    for w in share {
        workers.spawn(w.run());
    }
    let mut lateness = crate::metrics::new_histogram();
    while let Some(done) = workers.join_next().await {
        if let Ok(h) = done {
            let _ = lateness.add(&h);
        }
    }
    let _ = ended.send(lateness);
}

/// Says once, as a note and on the progress line, that the spending went
/// past `budget.warn_usd` (checked once a second and at the step's end).
fn warn_once<B>(step: &Step<B>, warned: &mut bool, notes: &mut Vec<String>, progress: &mut dyn Progress) {
    if let Some(warn) = step.warn_usd
        && !*warned
        && step.budget.spent() >= warn
    {
        *warned = true;
        let msg = format!("spent ${:.4}, past budget.warn_usd = ${warn}", step.budget.spent());
        progress.message(&format!("warning: {msg}"));
        notes.push(msg);
    }
}
