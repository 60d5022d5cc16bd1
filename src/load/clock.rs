//! Starts on time. Tokio's timer rounds every deadline up to its next
//! millisecond, so a start waited for with it leaves 0.5 ms late on average
//! and up to 1 ms: the client's own error, in every latency measured from
//! the intended start of an open loop (BENCHMARKS.md, "Starts on time").
//! Each lane has a clock of its own: a timerfd armed for the end of the
//! 250 µs slot of its earliest start, read through the lane's reactor by one
//! task, which wakes the workers whose starts have come. Slots bound the
//! wake-ups to 4,000 a second per lane, whatever the rate (a wake-up per
//! start cost 2.5 times the CPU at 20,000 starts a second), and a start's
//! lateness to about 0.25 ms. A lane is one thread, so its clock's lock is
//! never contended.
//!
//! Elsewhere (not Linux, or no timerfd) a start is waited for with tokio's
//! timer, as before.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

/// Waits until `due`: on a lane's clock, to the end of its 250 µs slot and
/// a wake-up; elsewhere, on tokio's timer. A `due` already past is ready at
/// the first poll (the caller has usually checked: no second clock read).
pub async fn sleep_until(due: Instant) {
    match imp::Start::new(due) {
        Some(start) => start.await,
        None => tokio::time::sleep_until(due.into()).await,
    }
}

#[cfg(target_os = "linux")]
mod imp {
    use std::collections::BTreeMap;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::sync::{Arc, Mutex};
    use std::task::Waker;
    use std::time::{Duration, Instant};

    use tokio::io::unix::AsyncFd;

    use super::*;

    /// Starts due in one slot share a wake-up at its end.
    const SLOT: Duration = Duration::from_micros(250);

    pub(super) struct Clock {
        fd: AsyncFd<OwnedFd>,
        /// Slot `k` ends at `epoch + k × SLOT`.
        epoch: Instant,
        state: Mutex<State>,
    }

    #[derive(Default)]
    struct State {
        /// (due, id) → the waiting worker.
        waiting: BTreeMap<(Instant, u64), Waker>,
        next_id: u64,
        /// What the timerfd is armed for.
        armed: Option<Instant>,
    }

    thread_local! {
        /// This thread's clock: made on first use, in the thread's runtime
        /// (a lane's), whose reactor reads it; `None` where none can be.
        static CLOCK: std::cell::OnceCell<Option<Arc<Clock>>> = const { std::cell::OnceCell::new() };
    }

    fn clock() -> Option<Arc<Clock>> {
        CLOCK.with(|c| c.get_or_init(make).clone())
    }

    /// How many waits this thread's clock holds.
    #[cfg(test)]
    pub(super) fn waiting() -> usize {
        clock().map_or(0, |c| c.lock().waiting.len())
    }

    fn make() -> Option<Arc<Clock>> {
        // A runtime on this thread alone: the task that reads the clock runs
        // where the workers it wakes do.
        let handle = tokio::runtime::Handle::try_current().ok()?;
        if handle.runtime_flavor() != tokio::runtime::RuntimeFlavor::CurrentThread {
            return None;
        }
        // SAFETY: plain syscall; the descriptor returned is owned here.
        let raw =
            unsafe { libc::timerfd_create(libc::CLOCK_MONOTONIC, libc::TFD_NONBLOCK | libc::TFD_CLOEXEC) };
        if raw < 0 {
            return None;
        }
        // SAFETY: `raw` is a new, valid descriptor no one else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: the `OwnedFd` stays open, the same descriptor, for as long
        // as the `AsyncFd` that owns it.
        let fd = unsafe { AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE) }.ok()?;
        let clock = Arc::new(Clock { fd, epoch: Instant::now(), state: Mutex::default() });
        handle.spawn(run(clock.clone()));
        Some(clock)
    }

    /// The clock's task: each time the timerfd fires, wakes the workers
    /// whose starts have come and arms it for the next.
    async fn run(clock: Arc<Clock>) {
        loop {
            let Ok(mut ready) = clock.fd.readable().await else { return };
            let mut expirations = [0u8; 8];
            // SAFETY: reads 8 bytes into an 8-byte buffer from a valid fd.
            // Read or not (a wake-up with nothing to read), the descriptor is
            // drained: it is armed again only below, on this thread.
            let _ = unsafe { libc::read(clock.fd.as_raw_fd(), expirations.as_mut_ptr().cast(), 8) };
            ready.clear_ready();
            let now = Instant::now();
            let mut s = clock.lock();
            s.armed = None;
            while let Some(entry) = s.waiting.first_entry() {
                if entry.key().0 > now {
                    break;
                }
                entry.remove().wake();
            }
            if let Some(&(next, _)) = s.waiting.keys().next() {
                clock.arm(&mut s, next);
            }
        }
    }

    impl Clock {
        fn lock(&self) -> std::sync::MutexGuard<'_, State> {
            self.state.lock().unwrap_or_else(|p| p.into_inner())
        }

        /// The end of the slot holding `due`: never before it.
        fn slot_end(&self, due: Instant) -> Instant {
            let since = due.saturating_duration_since(self.epoch).as_nanos();
            let slots = since.div_ceil(SLOT.as_nanos());
            self.epoch + Duration::from_nanos(u64::try_from(slots * SLOT.as_nanos()).unwrap_or(u64::MAX))
        }

        /// Sets the timerfd to fire at the end of the slot holding `due`.
        fn arm(&self, s: &mut State, due: Instant) {
            let at = self.slot_end(due);
            if s.armed == Some(at) {
                return;
            }
            s.armed = Some(at);
            // Never zero, which would disarm it: a time already past fires
            // at once.
            let left = at.saturating_duration_since(Instant::now()).max(Duration::from_nanos(1));
            let spec = libc::itimerspec {
                it_interval: libc::timespec { tv_sec: 0, tv_nsec: 0 },
                it_value: libc::timespec {
                    tv_sec: left.as_secs() as libc::time_t,
                    tv_nsec: left.subsec_nanos() as libc::c_long,
                },
            };
            // SAFETY: a valid timerfd and a valid itimerspec; cannot fail.
            unsafe { libc::timerfd_settime(self.fd.as_raw_fd(), 0, &spec, std::ptr::null_mut()) };
        }
    }

    /// A worker's wait for its start on this lane's clock.
    pub(crate) struct Start {
        due: Instant,
        clock: Arc<Clock>,
        /// Its place among the clock's waiting, once polled.
        id: Option<u64>,
    }

    impl Start {
        pub(crate) fn new(due: Instant) -> Option<Start> {
            Some(Start { due, clock: clock()?, id: None })
        }
    }

    impl Future for Start {
        type Output = ();

        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            let due = self.due;
            let mut s = self.clock.lock();
            if Instant::now() >= due {
                if let Some(id) = self.id {
                    s.waiting.remove(&(due, id));
                }
                drop(s);
                self.id = None;
                return Poll::Ready(());
            }
            let id = match self.id {
                Some(id) => id,
                None => {
                    s.next_id += 1;
                    s.next_id
                }
            };
            s.waiting.insert((due, id), cx.waker().clone());
            if s.armed.is_none_or(|a| due < a) {
                self.clock.arm(&mut s, due);
            }
            drop(s);
            self.id = Some(id);
            Poll::Pending
        }
    }

    impl Drop for Start {
        fn drop(&mut self) {
            if let Some(id) = self.id {
                self.clock.lock().waiting.remove(&(self.due, id));
            }
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    use super::*;

    /// Never made: `new` gives `None`, and tokio's timer is used.
    pub(crate) struct Start;

    impl Start {
        pub(crate) fn new(_due: Instant) -> Option<Start> {
            None
        }
    }

    impl Future for Start {
        type Output = ();

        fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
            Poll::Ready(())
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use std::time::Duration;

    use super::*;

    /// On a thread with a runtime of its own (a lane's kind), starts spread
    /// over 40 ms at odd offsets each end at or after their due time, never
    /// before (a start sent early would shorten every latency measured from
    /// it), whether woken by the clock or polled again before it; they wait
    /// on the lane's clock, not tokio's timer; a wait given up leaves
    /// nothing behind.
    #[test]
    fn starts_wake_at_or_after_their_time_on_the_lanes_clock() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let t0 = Instant::now() + Duration::from_millis(5);
            assert!(imp::Start::new(t0).is_some(), "a lane's clock, not tokio's timer");
            let waits: Vec<_> = (0..200u64)
                .map(|i| {
                    // Odd offsets, many inside one slot, some a slot apart.
                    let due = t0 + Duration::from_micros(i * 7_919 % 40_000);
                    tokio::spawn(async move {
                        let mut wait = std::pin::pin!(sleep_until(due));
                        if i % 2 == 0 {
                            wait.await;
                        } else {
                            // Polled again and again before its time, as a
                            // worker is when another branch of its select
                            // wakes it: still not ready before its start.
                            while std::future::poll_fn(|cx| Poll::Ready(wait.as_mut().poll(cx)))
                                .await
                                .is_pending()
                            {
                                tokio::task::yield_now().await;
                            }
                        }
                        (due, Instant::now())
                    })
                })
                .collect();
            for w in waits {
                let (due, woke) = w.await.unwrap();
                assert!(woke >= due, "woke {:?} before its start", due - woke);
            }
            // Given up before its time: removed from the clock.
            let given_up = imp::Start::new(Instant::now() + Duration::from_secs(5)).unwrap();
            let mut given_up = Box::pin(given_up);
            let waker = std::task::Waker::noop();
            assert!(given_up.as_mut().poll(&mut Context::from_waker(waker)).is_pending());
            assert_eq!(imp::waiting(), 1);
            drop(given_up);
            assert_eq!(imp::waiting(), 0);
        });
    }
}
