//! A worker's timer for the total timeouts of its requests.
//!
//! A timeout set and cleared per request is two operations on the runtime's
//! timer wheel (and its lock) for a deadline that is almost never reached.
//! This timer is kept from one request to the next: it stays armed at an
//! earlier request's deadline, and is moved on only when it fires before the
//! current one's. A worker's deadlines only move forward (each is its
//! request's start plus the same total timeout), so the timer never fires
//! late; it fires early at most once per timeout period, and is then re-armed.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use tokio::time::Sleep;

pub struct Timer {
    /// Boxed: a worker's future stays small (it is moved whole per layer).
    sleep: Option<Pin<Box<Sleep>>>,
}

impl Default for Timer {
    fn default() -> Self {
        Self::new()
    }
}

impl Timer {
    pub fn new() -> Self {
        Timer { sleep: None }
    }

    /// `f`'s output, or `None` once `deadline` has passed first. `f` is
    /// polled before the deadline is looked at, as `tokio::time::timeout`
    /// does: an answer complete at the deadline counts.
    ///
    /// A future of its own, not an `async fn`: one would keep `f` twice
    /// (the argument, and the copy it pins), and a worker's future is
    /// copied whole as it is made and awaited, per request.
    pub fn within<F: Future>(&mut self, deadline: Instant, f: F) -> Within<'_, F> {
        let sleep = self.sleep.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline.into())));
        // Never later than this deadline (a caller whose deadlines went back
        // in time still gets them).
        if sleep.deadline().into_std() > deadline {
            sleep.as_mut().reset(deadline.into());
        }
        Within { f, sleep, deadline }
    }
}

pin_project_lite::pin_project! {
    /// `Timer::within`'s future.
    pub struct Within<'t, F> {
        #[pin]
        f: F,
        sleep: &'t mut Pin<Box<Sleep>>,
        deadline: Instant,
    }
}

impl<F: Future> Future for Within<'_, F> {
    type Output = Option<F::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(v) = this.f.poll(cx) {
            return Poll::Ready(Some(v));
        }
        // Fired: at this deadline, or early, at an earlier request's.
        while this.sleep.as_mut().poll(cx).is_ready() {
            if this.sleep.deadline().into_std() >= *this.deadline {
                return Poll::Ready(None);
            }
            this.sleep.as_mut().reset((*this.deadline).into());
        }
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn each_deadline_is_kept_whatever_the_timer_was_armed_at() {
        let mut timer = Timer::new();
        let ms = Duration::from_millis;
        // Done in time, then a timeout, with the timer armed at an earlier,
        // already passed deadline (early fire, re-armed).
        let start = Instant::now();
        assert_eq!(timer.within(start + ms(200), async { 7 }).await, Some(7));
        let t = Instant::now();
        let late = timer.within(t + ms(300), tokio::time::sleep(ms(5_000))).await;
        assert_eq!(late, None);
        let waited = t.elapsed();
        assert!(waited >= ms(300) && waited < ms(1_000), "{waited:?}");
        // A deadline earlier than the one armed (deadlines going back) still holds.
        let t = Instant::now();
        let _ = timer.within(t + ms(5_000), async {}).await;
        let early = timer.within(t + ms(50), tokio::time::sleep(ms(5_000))).await;
        assert_eq!(early, None);
        assert!(t.elapsed() < ms(1_000), "{:?}", t.elapsed());
        // Work that ends before the deadline is not cut, many times over.
        for _ in 0..100 {
            let d = Instant::now() + ms(200);
            assert_eq!(timer.within(d, tokio::time::sleep(ms(1))).await, Some(()));
        }
        // An answer complete at the deadline counts (polled first).
        let past = Instant::now() - ms(1);
        assert_eq!(timer.within(past, async { 1 }).await, Some(1));
        assert_eq!(timer.within(past, std::future::pending::<()>()).await, None);
    }
}
