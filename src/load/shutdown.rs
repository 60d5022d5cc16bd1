//! Stopping a run without losing what was measured.
//!
//! The first Ctrl-C (or SIGTERM) drains: no request starts any more, and those
//! in flight may finish for up to `GRACE`. A second signal, or the end of the
//! grace period, cancels them; they are recorded as `cancelled`. Either way
//! every finished request is on disk and the summary is written, marked
//! partial.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::task::Poll;
use std::time::Duration;

use futures_util::task::AtomicWaker;
use tokio::sync::watch;

/// How far a stop has gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stop {
    Running,
    /// Start nothing new; let requests in flight finish.
    Draining,
    /// Cancel requests in flight.
    Cancel,
}

/// How long requests in flight may go on after the first stop signal.
pub const GRACE: Duration = Duration::from_secs(10);

/// Escalates `tx` on each Ctrl-C or SIGTERM: Draining, then Cancel. Runs
/// until the second signal (or until the process ends).
pub async fn escalate_on_signals(tx: watch::Sender<Stop>) {
    #[cfg(unix)]
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    for level in [Stop::Draining, Stop::Cancel] {
        #[cfg(unix)]
        let terminated = async {
            match term.as_mut() {
                Some(t) => {
                    t.recv().await;
                }
                None => std::future::pending().await,
            }
        };
        #[cfg(not(unix))]
        let terminated = std::future::pending::<()>();
        tokio::select! {
            r = tokio::signal::ctrl_c() => if r.is_err() { return },
            _ = terminated => {}
        }
        match level {
            Stop::Draining => eprintln!(
                "\nstopping: no new requests; those in flight may finish for up to {} s (press Ctrl-C again to cancel them)",
                GRACE.as_secs()
            ),
            _ => eprintln!("\ncancelling the requests in flight"),
        }
        let _ = tx.send(level);
    }
}

/// Follows `outer` and turns a drain into a cancel after `grace`, and
/// cancels at `cancel_at` in any case: what the workers of one step watch,
/// through a view for `workers` workers. The receiver returned has the same
/// levels (the view is set before each is sent); whoever runs the step holds
/// it until the step is over: once it is dropped, nothing follows `outer`.
pub fn with_grace(
    mut outer: watch::Receiver<Stop>,
    grace: Duration,
    cancel_at: Option<std::time::Instant>,
    workers: usize,
) -> (watch::Receiver<Stop>, Arc<StopView>) {
    let (tx, rx) = watch::channel(*outer.borrow());
    let view = Arc::new(StopView::new(*outer.borrow(), workers));
    let levels = Levels { view: view.clone(), tx };
    let deadline = async move {
        match cancel_at {
            Some(at) => tokio::time::sleep_until(at.into()).await,
            None => std::future::pending().await,
        }
    };
    tokio::spawn(async move {
        tokio::pin!(deadline);
        tokio::select! {
            _ = signal(&mut outer, Stop::Draining) => {}
            _ = &mut deadline => return levels.send(Stop::Cancel),
            _ = levels.closed() => return,
        }
        levels.send(Stop::Draining);
        tokio::select! {
            _ = signal(&mut outer, Stop::Cancel) => {}
            _ = tokio::time::sleep(grace) => {}
            _ = &mut deadline => {}
            // Nobody watches any more: the step is over.
            _ = levels.closed() => return,
        }
        levels.send(Stop::Cancel);
    });
    (rx, view)
}

/// Ready once `outer` reaches `level`; never, once no signal can come any
/// more (its sender gone: no handler could be installed), so that the
/// deadline and the grace period still decide.
async fn signal(outer: &mut watch::Receiver<Stop>, level: Stop) {
    if outer.wait_for(|s| *s >= level).await.is_err() {
        std::future::pending().await
    }
}

/// Sends a level to a step's workers: their view first, then the receiver.
struct Levels {
    view: Arc<StopView>,
    tx: watch::Sender<Stop>,
}

impl Levels {
    fn send(&self, level: Stop) {
        self.view.set(level);
        let _ = self.tx.send(level);
    }

    async fn closed(&self) {
        self.tx.closed().await
    }
}

/// The stop level as the workers of one step read it on every request: an
/// atomic load, and a new level that wakes each worker through a waker of
/// its own. (A `watch` receiver takes its shared lock to be read and registers
/// with its shared notifier to be waited on: lines both cores write on every
/// request.) Set by `with_grace`, before its receiver is sent each level.
pub struct StopView {
    level: AtomicU8,
    /// One per worker, each on a cache line of its own.
    wakers: Box<[Padded<AtomicWaker>]>,
}

/// A value on cache lines of its own (128 bytes: the pair of lines a core
/// prefetches together), so that one worker's writes do not move another's.
#[repr(align(128))]
#[derive(Default)]
pub(super) struct Padded<T>(pub(super) T);

impl StopView {
    fn new(level: Stop, workers: usize) -> Self {
        StopView {
            level: AtomicU8::new(level as u8),
            wakers: (0..workers).map(|_| Padded::default()).collect(),
        }
    }

    /// Stores `level` and wakes every worker waiting on `reached` (a
    /// level is set at most twice per step).
    fn set(&self, level: Stop) {
        self.level.store(level as u8, Ordering::Release);
        self.wakers.iter().for_each(|w| w.0.wake());
    }

    pub fn get(&self) -> Stop {
        match self.level.load(Ordering::Acquire) {
            0 => Stop::Running,
            1 => Stop::Draining,
            _ => Stop::Cancel,
        }
    }

    /// Ready once the stop is at `level` or past it; `worker` waits on one
    /// thing at a time.
    pub fn reached(&self, worker: usize, level: Stop) -> impl Future<Output = ()> + '_ {
        std::future::poll_fn(move |cx| {
            // Registered before the level is read: a level stored after the
            // read wakes this waker.
            self.wakers[worker].0.register(cx.waker());
            if self.get() >= level { Poll::Ready(()) } else { Poll::Pending }
        })
    }

    /// Ready once the requests in flight are to be cancelled.
    pub fn cancelled(&self, worker: usize) -> impl Future<Output = ()> + '_ {
        self.reached(worker, Stop::Cancel)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_drain_becomes_a_cancel_after_the_grace_period() {
        let (tx, rx) = watch::channel(Stop::Running);
        let (mut inner, _view) = with_grace(rx, Duration::from_millis(50), None, 1);
        tx.send(Stop::Draining).unwrap();
        inner.wait_for(|s| *s == Stop::Draining).await.unwrap();
        let t = std::time::Instant::now();
        inner.wait_for(|s| *s == Stop::Cancel).await.unwrap();
        assert!(t.elapsed() >= Duration::from_millis(40));
    }

    #[tokio::test]
    async fn a_second_signal_cancels_at_once() {
        let (tx, rx) = watch::channel(Stop::Running);
        let (mut inner, _view) = with_grace(rx, Duration::from_secs(60), None, 1);
        tx.send(Stop::Draining).unwrap();
        inner.wait_for(|s| *s == Stop::Draining).await.unwrap();
        tx.send(Stop::Cancel).unwrap();
        tokio::time::timeout(Duration::from_secs(1), inner.wait_for(|s| *s == Stop::Cancel))
            .await
            .unwrap()
            .unwrap();
    }

    #[tokio::test]
    async fn the_deadline_cancels_without_any_signal() {
        let (_tx, rx) = watch::channel(Stop::Running);
        let at = std::time::Instant::now() + Duration::from_millis(30);
        let (mut inner, _view) = with_grace(rx, Duration::from_secs(60), Some(at), 1);
        tokio::time::timeout(Duration::from_secs(2), inner.wait_for(|s| *s == Stop::Cancel))
            .await
            .unwrap()
            .unwrap();
        assert!(std::time::Instant::now() >= at);
    }

    #[tokio::test]
    async fn without_signals_the_deadline_still_cancels_and_a_drain_still_has_its_grace() {
        // The signals' sender gone before any signal (none could be
        // listened for): the deadline cancels.
        let (tx, rx) = watch::channel(Stop::Running);
        let at = std::time::Instant::now() + Duration::from_millis(30);
        let (mut inner, _view) = with_grace(rx, Duration::from_secs(60), Some(at), 1);
        drop(tx);
        tokio::time::timeout(Duration::from_secs(2), inner.wait_for(|s| *s == Stop::Cancel))
            .await
            .expect("cancelled at the deadline")
            .unwrap();
        assert!(std::time::Instant::now() >= at);

        // Gone after a drain: the cancel waits for the grace period.
        let (tx, rx) = watch::channel(Stop::Running);
        let (mut inner, _view) = with_grace(rx, Duration::from_millis(100), None, 1);
        tx.send(Stop::Draining).unwrap();
        inner.wait_for(|s| *s == Stop::Draining).await.unwrap();
        let t = std::time::Instant::now();
        drop(tx);
        inner.wait_for(|s| *s == Stop::Cancel).await.unwrap();
        assert!(t.elapsed() >= Duration::from_millis(80), "{:?}", t.elapsed());
    }

    #[tokio::test]
    async fn the_view_has_each_level_before_the_receiver_and_wakes_every_worker_waiting_for_it() {
        let (tx, rx) = watch::channel(Stop::Running);
        let (mut inner, view) = with_grace(rx, Duration::from_secs(60), None, 4);
        assert_eq!(view.get(), Stop::Running);
        // Waiting for a drain before it comes.
        let drain = {
            let v = view.clone();
            tokio::spawn(async move { v.reached(3, Stop::Draining).await })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!drain.is_finished());
        let waiting: Vec<_> = (0..3)
            .map(|w| {
                let v = view.clone();
                tokio::spawn(async move { v.cancelled(w).await })
            })
            .collect();
        tx.send(Stop::Draining).unwrap();
        inner.wait_for(|s| *s == Stop::Draining).await.unwrap();
        // Whoever sees the drain on the receiver sees it on the view.
        assert_eq!(view.get(), Stop::Draining);
        // It wakes who waits for it.
        tokio::time::timeout(Duration::from_secs(1), drain).await.unwrap().unwrap();
        // A drain cancels nothing.
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(waiting.iter().all(|w| !w.is_finished()));
        tx.send(Stop::Cancel).unwrap();
        inner.wait_for(|s| *s == Stop::Cancel).await.unwrap();
        assert_eq!(view.get(), Stop::Cancel);
        for w in waiting {
            tokio::time::timeout(Duration::from_secs(1), w).await.unwrap().unwrap();
        }
        // A worker that waits after the cancel is cancelled at once.
        tokio::time::timeout(Duration::from_secs(1), view.cancelled(1)).await.unwrap();
    }
}
