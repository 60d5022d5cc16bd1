//! A timer precise to tens of microseconds, for deadlines that count from a
//! request's arrival.
//!
//! Tokio's timer rounds every deadline up to its next millisecond tick, so a
//! token leaves ~1.2 ms after its deadline at the median (see stream.rs).
//! Between tokens that lateness cancels out (deadlines are absolute), but the
//! first token's lateness is all TTFT error and the last one's all e2e error.
//! On Linux this timer is a timerfd armed for the exact deadline and awaited
//! through tokio's reactor, on the same thread as the stream (no cross-thread
//! wake-ups). It costs a few system calls a wait, so streams use it for their
//! first and last deadlines only. Elsewhere it falls back to tokio's timer.

use tokio::time::Instant;

pub(crate) use imp::Timer;

#[cfg(target_os = "linux")]
mod imp {
    use std::io;
    use std::os::fd::OwnedFd;

    use rustix::time::{Itimerspec, TimerfdClockId, TimerfdFlags, TimerfdTimerFlags, Timespec};
    use tokio::io::Interest;
    use tokio::io::unix::AsyncFd;

    use super::Instant;

    pub(crate) struct Timer {
        fd: Option<AsyncFd<OwnedFd>>,
    }

    impl Timer {
        pub(crate) fn new() -> Self {
            Timer { fd: None }
        }

        /// Waits until `due`; a deadline already passed returns at once. If
        /// the timerfd cannot be had (out of descriptors), tokio's timer does.
        pub(crate) async fn sleep_until(&mut self, due: Instant) {
            if self.precise(due).await.is_err() {
                tokio::time::sleep_until(due).await;
            }
        }

        async fn precise(&mut self, due: Instant) -> io::Result<()> {
            let left = due.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(());
            }
            let fd = match &mut self.fd {
                Some(fd) => fd,
                None => {
                    let flags = TimerfdFlags::NONBLOCK | TimerfdFlags::CLOEXEC;
                    let fd = rustix::time::timerfd_create(TimerfdClockId::Monotonic, flags)?;
                    // SAFETY: an `OwnedFd` stays open, and is the same descriptor,
                    // for as long as the `AsyncFd` that owns it.
                    let fd = unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) }
                        .map_err(|e| e.into_parts().1)?;
                    self.fd.insert(fd)
                }
            };
            let value = Timespec { tv_sec: left.as_secs() as i64, tv_nsec: i64::from(left.subsec_nanos()) };
            let zero = Timespec { tv_sec: 0, tv_nsec: 0 };
            let spec = Itimerspec { it_interval: zero, it_value: value };
            rustix::time::timerfd_settime(fd.get_ref(), TimerfdTimerFlags::empty(), &spec)?;
            loop {
                let mut ready = fd.readable().await?;
                let mut expirations = [0u8; 8];
                match rustix::io::read(ready.get_inner(), &mut expirations) {
                    Ok(_) => return Ok(()),
                    Err(rustix::io::Errno::AGAIN) => ready.clear_ready(),
                    Err(e) => return Err(e.into()),
                }
            }
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    use super::Instant;

    pub(crate) struct Timer;

    impl Timer {
        pub(crate) fn new() -> Self {
            Timer
        }

        pub(crate) async fn sleep_until(&mut self, due: Instant) {
            tokio::time::sleep_until(due).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn never_wakes_before_the_deadline_and_can_be_rearmed() {
        let mut timer = Timer::new();
        for ms in [3, 1, 7] {
            let due = Instant::now() + Duration::from_millis(ms);
            timer.sleep_until(due).await;
            assert!(Instant::now() >= due, "woke before a {ms} ms deadline");
        }
        // A deadline in the past returns at once (no timer is armed).
        let past = Instant::now() - Duration::from_millis(5);
        let before = Instant::now();
        timer.sleep_until(past).await;
        assert!(before.elapsed() < Duration::from_millis(1));
    }
}
