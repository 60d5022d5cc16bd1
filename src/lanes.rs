//! Lanes: the client's threads, each with a single-threaded runtime of its
//! own and its own share of the users, connections and measurements.
//!
//! On one work-stealing runtime, every burst of answers a thread's driver
//! read woke the other thread to look for work, and every finished request
//! was handed to the collector on another thread (BENCHMARKS.md, "Lanes").
//! A lane keeps a user, its connections and its records on one thread from
//! start to end; the lanes' measurements are merged when the step ends
//! (`load::runner`). The transport keeps its connection pools per lane
//! (`PerLane`), HTTP/1.1's and HTTP/2's, so a connection is only ever
//! driven by the thread whose runtime registered it, and a read wakes only
//! that thread's streams.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;

use tokio::sync::mpsc;

static COUNT: OnceLock<usize> = OnceLock::new();

type Job = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Each lane's door: a job sent here is spawned on the lane's runtime.
/// The lanes live as long as the process, so a connection a lane opened
/// in one step of a sweep (its runtime registered it) serves the next.
static LANES: OnceLock<Result<Vec<mpsc::UnboundedSender<Job>>, String>> = OnceLock::new();

/// `CURRENT` of a thread that is no lane.
const OUTSIDE: usize = usize::MAX;

thread_local! {
    static CURRENT: Cell<usize> = const { Cell::new(OUTSIDE) };
}

/// Sets how many lanes a run uses (once per process, before the first
/// run; `--threads`). Unset, it is one per core.
pub fn set_count(n: usize) {
    let _ = COUNT.set(n.max(1));
}

/// How many lanes a run uses.
pub fn count() -> usize {
    *COUNT.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Starts the lanes, if they are not yet: before a run's start, so that a
/// run starting at a set time (`--start-at`, shards) does not spend its
/// first milliseconds starting threads. An error: a lane's thread or
/// runtime could not be started.
pub fn start() -> Result<(), String> {
    lanes().map(|_| ())
}

fn lanes() -> Result<&'static [mpsc::UnboundedSender<Job>], String> {
    let lanes = LANES.get_or_init(|| (0..count()).map(start_lane).collect());
    lanes.as_deref().map_err(Clone::clone)
}

/// Runs `job` on lane `lane` (modulo `count()`), starting the lanes on
/// first use.
pub fn spawn(lane: usize, job: impl Future<Output = ()> + Send + 'static) -> Result<(), String> {
    let lanes = lanes()?;
    lanes[lane % lanes.len()].send(Box::pin(job)).map_err(|_| format!("the client's lane {lane} has stopped"))
}

/// Lane `i`'s thread, with its runtime, taking jobs until the process ends.
fn start_lane(i: usize) -> Result<mpsc::UnboundedSender<Job>, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the client's runtime: {e}"))?;
    let (tx, mut rx) = mpsc::unbounded_channel::<Job>();
    std::thread::Builder::new()
        .name(format!("llmload-lane-{i}"))
        .spawn(move || {
            CURRENT.with(|c| c.set(i));
            runtime.block_on(async move {
                while let Some(job) = rx.recv().await {
                    tokio::spawn(job);
                }
            });
        })
        .map_err(|e| format!("cannot start the client's threads: {e}"))?;
    Ok(tx)
}

/// One `T` per lane, and one for the threads that are no lane (the main
/// runtime's: `llmload check`, say), each on cache lines of its own (a
/// lane's pool is taken and given back per request: two lanes' on one line
/// would move it between the cores every time).
pub struct PerLane<T>(Box<[Aligned<T>]>);

#[repr(align(128))]
struct Aligned<T>(T);

impl<T> PerLane<T> {
    /// One per lane of `count()` and one for the rest, each made by `make`.
    pub fn new(mut make: impl FnMut() -> T) -> Self {
        PerLane((0..=count()).map(|_| Aligned(make())).collect())
    }

    /// This thread's lane's, or the one of the threads outside lanes.
    pub fn get(&self) -> &T {
        let outside = self.0.len() - 1;
        let i = CURRENT.with(Cell::get);
        &self.0[if i == OUTSIDE { outside } else { i % outside.max(1) }].0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A job runs on its lane's thread, which finds its own share there;
    /// a thread that is no lane finds the share of the rest.
    #[test]
    fn each_lane_runs_its_jobs_on_its_own_thread_with_its_own_share() {
        let shares = std::sync::Arc::new(PerLane::new(|| std::sync::Mutex::new(Vec::new())));
        let (tx, rx) = std::sync::mpsc::channel();
        for lane in 0..2 * count() {
            let (shares, tx) = (shares.clone(), tx.clone());
            spawn(lane, async move {
                let name = std::thread::current().name().map(str::to_owned);
                shares.get().lock().unwrap().push(lane);
                tx.send((lane, name)).unwrap();
            })
            .unwrap();
        }
        for _ in 0..2 * count() {
            let (lane, name) = rx.recv_timeout(std::time::Duration::from_secs(10)).unwrap();
            assert_eq!(name.as_deref(), Some(format!("llmload-lane-{}", lane % count()).as_str()));
        }
        for (i, share) in shares.0.iter().enumerate().take(count()) {
            let mut got = share.0.lock().unwrap().clone();
            got.sort_unstable();
            assert_eq!(got, [i, i + count()], "lane {i}'s jobs, in lane {i}'s share");
        }
        assert!(shares.get().lock().unwrap().is_empty(), "this thread is no lane");
    }
}
