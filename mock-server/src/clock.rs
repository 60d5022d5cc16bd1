//! The simulator's clock: every deadline of every stream in the process,
//! precise to a fraction of a millisecond, woken in batches.
//!
//! Tokio's timer rounds each deadline up to its next millisecond tick (a
//! token left ~1.1 ms after its deadline at the median and ~3 ms at p99 with
//! 2,000 streams). Here deadlines are rounded up to the next `SLOT` (250 µs)
//! instead, and kept per slot; one thread sleeps in a blocking read of a
//! timerfd armed for the earliest slot, and when it fires wakes every stream
//! due in it at once. So the precision is the slot's, and the cost is one
//! timer per slot, not one per token: at 100,000 tokens a second that is 25
//! tokens a wake-up. The thread is never busy: it blocks in the kernel
//! between slots.
//!
//! Alternatives measured (BENCHMARKS.md "Simulator under load"): tokio's
//! timer for every token (p99 ~3 ms); a timerfd per stream through tokio's
//! reactor (precise, but its system calls per token raised the process's CPU
//! by ~70%, so it served only the first and last token); a clock thread with a
//! heap and a wake-up per deadline (~30% more CPU, p99 1.5 to 8.7 ms); these
//! slots read by a task per runtime worker through tokio's reactor (p99 1.6
//! to 2.2 ms and more CPU than this thread: two clocks, and streams woken on
//! one worker to be stolen by the other).
//! Elsewhere than Linux, tokio's timer.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::time::Instant;

/// Waits until `due`; a deadline already passed returns at once, and a
/// deadline is never woken early.
pub(crate) fn sleep_until(due: Instant) -> Sleep {
    Sleep { due, registered: false, fallback: None }
}

pub(crate) struct Sleep {
    due: Instant,
    registered: bool,
    /// Tokio's timer, when the clock cannot be had.
    fallback: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if let Some(f) = &mut self.fallback {
            return f.as_mut().poll(cx);
        }
        if Instant::now() >= self.due {
            return Poll::Ready(());
        }
        if !self.registered {
            // A stream's task keeps one waker for its life: registering once
            // is enough.
            self.registered = imp::register(self.due, cx.waker());
            if !self.registered {
                let due = self.due;
                return self.fallback.insert(Box::pin(tokio::time::sleep_until(due))).as_mut().poll(cx);
            }
        }
        Poll::Pending
    }
}

#[cfg(target_os = "linux")]
mod imp {
    use std::collections::BTreeMap;
    use std::os::fd::OwnedFd;
    use std::sync::{Mutex, OnceLock};
    use std::task::Waker;
    use std::time::Duration;

    use rustix::time::{Itimerspec, TimerfdClockId, TimerfdFlags, TimerfdTimerFlags, Timespec};
    use tokio::time::Instant;

    /// Deadlines closer than this share a wake-up.
    const SLOT: Duration = Duration::from_micros(250);

    struct Clock {
        fd: OwnedFd,
        epoch: Instant,
        state: Mutex<State>,
    }

    #[derive(Default)]
    struct State {
        /// Slot number → the tasks due in it. A slot `k` ends at
        /// `epoch + k × SLOT`, when it is woken.
        slots: BTreeMap<u64, Vec<Waker>>,
        /// The slot the timerfd is armed for.
        armed: Option<u64>,
    }

    static CLOCK: OnceLock<Option<Clock>> = OnceLock::new();

    fn clock() -> Option<&'static Clock> {
        CLOCK
            .get_or_init(|| {
                let fd =
                    rustix::time::timerfd_create(TimerfdClockId::Monotonic, TimerfdFlags::CLOEXEC).ok()?;
                let spawned = std::thread::Builder::new().name("llmload-mock-clock".into()).spawn(run);
                spawned.ok()?;
                Some(Clock { fd, epoch: Instant::now(), state: Mutex::new(State::default()) })
            })
            .as_ref()
    }

    /// Adds `waker` to the slot holding `due`; false when there is no clock
    /// (no timerfd or no thread), for the caller to fall back.
    pub(super) fn register(due: Instant, waker: &Waker) -> bool {
        let Some(c) = clock() else { return false };
        let since = due.saturating_duration_since(c.epoch).as_nanos();
        let slot = u64::try_from(since.div_ceil(SLOT.as_nanos())).unwrap_or(u64::MAX);
        let mut s = c.state.lock().unwrap_or_else(|p| p.into_inner());
        s.slots.entry(slot).or_default().push(waker.clone());
        if s.armed.is_none_or(|a| slot < a) {
            s.armed = Some(slot);
            arm(c, slot);
        }
        true
    }

    /// Sets the timerfd to fire when `slot` ends.
    fn arm(c: &Clock, slot: u64) {
        let at = c.epoch + SLOT * u32::try_from(slot).unwrap_or(u32::MAX);
        // Never zero, which would disarm it: a slot already over fires at once.
        let left = at.saturating_duration_since(Instant::now()).max(Duration::from_nanos(1));
        let value = Timespec { tv_sec: left.as_secs() as i64, tv_nsec: i64::from(left.subsec_nanos()) };
        let zero = Timespec { tv_sec: 0, tv_nsec: 0 };
        let spec = Itimerspec { it_interval: zero, it_value: value };
        // Cannot fail for a valid timerfd and time.
        let _ = rustix::time::timerfd_settime(&c.fd, TimerfdTimerFlags::empty(), &spec);
    }

    /// The clock thread: waits for the timerfd, wakes the slots that are
    /// over, arms it for the next.
    fn run() {
        let c = loop {
            // `CLOCK` is set by the call that spawned this thread, just after.
            match CLOCK.get() {
                Some(Some(c)) => break c,
                Some(None) => return,
                None => std::thread::yield_now(),
            }
        };
        // Ahead of the runtimes' workers when the system allows it (root, or
        // CAP_SYS_NICE): one late wake-up of this thread makes every stream
        // of its slot late, and it does little work. Refused, it stays as it is.
        let _ = rustix::process::setpriority_process(Some(rustix::thread::gettid()), -10);
        let mut expirations = [0u8; 8];
        let mut due = Vec::new();
        loop {
            // Blocks until the timer fires (the descriptor is blocking).
            if rustix::io::read(&c.fd, &mut expirations).is_err() {
                std::thread::sleep(SLOT);
            }
            let now = u64::try_from(c.epoch.elapsed().as_nanos() / SLOT.as_nanos()).unwrap_or(u64::MAX);
            {
                let mut s = c.state.lock().unwrap_or_else(|p| p.into_inner());
                while let Some(entry) = s.slots.first_entry() {
                    if *entry.key() > now {
                        break;
                    }
                    due.append(&mut entry.remove());
                }
                s.armed = s.slots.keys().next().copied();
                if let Some(next) = s.armed {
                    arm(c, next);
                }
            }
            // Woken outside the lock: a woken task may register again at once.
            for w in due.drain(..) {
                w.wake();
            }
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    use std::task::Waker;

    use tokio::time::Instant;

    pub(super) fn register(_due: Instant, _waker: &Waker) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn never_wakes_before_the_deadline_and_is_precise() {
        for us in [3_000, 150, 7_000, 1_000] {
            let due = Instant::now() + Duration::from_micros(us);
            sleep_until(due).await;
            let late = Instant::now().duration_since(due);
            assert!(late < Duration::from_millis(50), "{late:?} late for a {us} µs deadline");
        }
        // A deadline in the past returns at once.
        let past = Instant::now() - Duration::from_millis(5);
        let before = Instant::now();
        sleep_until(past).await;
        assert!(before.elapsed() < Duration::from_millis(1));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn many_deadlines_each_wake_their_own_task() {
        let start = Instant::now();
        let tasks: Vec<_> = (0..500u64)
            .map(|i| {
                let due = start + Duration::from_micros(500 + i * 37 % 20_000);
                tokio::spawn(async move {
                    sleep_until(due).await;
                    Instant::now() >= due
                })
            })
            .collect();
        for t in tasks {
            assert!(t.await.unwrap(), "a task woke before its deadline");
        }
    }
}
