//! Capacity: how many sequences a model generates at once, and the queue in front of it.
//!
//! A serving engine with continuous batching runs one decode step for every active
//! sequence at a time, so (1) the step, which is the inter-token gap, lengthens as the
//! batch grows, and (2) when the batch is full a new request waits for sequences to
//! finish. Together they make latency rise with load and turn sharply at capacity: the
//! knee a load test looks for.
//!
//! The queue is tokio's semaphore, which is first come first served and costs one atomic
//! operation when there is room. The batch size is one atomic counter, read once per step.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

pub(crate) struct Pool {
    /// `None` = unlimited: nobody waits, but the batch is still counted.
    slots: Option<Arc<Semaphore>>,
    capacity: u32,
    active: AtomicUsize,
}

impl Pool {
    pub(crate) fn new(max_sequences: Option<u32>) -> Arc<Self> {
        let slots = max_sequences.map(|n| Arc::new(Semaphore::new(n as usize)));
        Arc::new(Self { slots, capacity: max_sequences.unwrap_or(u32::MAX), active: AtomicUsize::new(0) })
    }

    /// Sequences being generated right now.
    pub(crate) fn active(&self) -> usize {
        self.active.load(Ordering::Relaxed)
    }

    /// Room for `sequences` sequences: at once if there is room, else after everyone who
    /// came first. A request with more sequences than the whole capacity takes all of it.
    /// Dropping the future gives up the place in the queue.
    pub(crate) async fn admit(self: &Arc<Self>, sequences: u32) -> Slots {
        let held = sequences.min(self.capacity);
        let permit = match &self.slots {
            // Only fails if the semaphore is closed, which we never do; then go ahead
            // unqueued rather than refuse.
            Some(slots) => slots.clone().acquire_many_owned(held).await.ok(),
            None => None,
        };
        self.active.fetch_add(sequences as usize, Ordering::Relaxed);
        Slots { pool: self.clone(), permit, running: sequences, held }
    }

    /// Like [`admit`](Self::admit), or `None` when it would have to wait.
    pub(crate) fn try_admit(self: &Arc<Self>, sequences: u32) -> Option<Slots> {
        let held = sequences.min(self.capacity);
        let permit = match &self.slots {
            Some(slots) => Some(slots.clone().try_acquire_many_owned(held).ok()?),
            None => None,
        };
        self.active.fetch_add(sequences as usize, Ordering::Relaxed);
        Some(Slots { pool: self.clone(), permit, running: sequences, held })
    }
}

/// A request's place in the batch. Sequences leave it one by one as they finish
/// ([`finish`](Self::finish)); dropping it (the response ended, or the client left)
/// releases the rest.
pub(crate) struct Slots {
    pool: Arc<Pool>,
    permit: Option<OwnedSemaphorePermit>,
    /// Sequences still generating.
    running: u32,
    /// Permits held: `running`, capped at the capacity.
    held: u32,
}

impl Slots {
    /// `count` sequences have produced their last token.
    pub(crate) fn finish(&mut self, count: u32) {
        let count = count.min(self.running);
        self.running -= count;
        self.pool.active.fetch_sub(count as usize, Ordering::Relaxed);
        let keep = self.running.min(self.held);
        if let Some(permit) = &mut self.permit {
            // Splitting off the permits no longer needed and dropping them frees them.
            drop(permit.split((self.held - keep) as usize));
        }
        self.held = keep;
    }
}

impl Drop for Slots {
    fn drop(&mut self) {
        self.finish(self.running);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn waits_first_come_first_served_and_frees_per_sequence() {
        let pool = Pool::new(Some(4));
        let mut a = pool.try_admit(3).expect("room");
        assert_eq!(pool.active(), 3);
        assert!(pool.try_admit(2).is_none(), "only 1 free");
        let b = pool.try_admit(1).expect("the last one");
        assert_eq!(pool.active(), 4);
        a.finish(2);
        assert_eq!(pool.active(), 2);
        let c = pool.try_admit(2).expect("two freed");
        drop((a, b, c));
        assert_eq!(pool.active(), 0);
        // Larger than the whole capacity: takes all of it, counts all its sequences.
        let big = pool.admit(10).await;
        assert_eq!(pool.active(), 10);
        assert!(pool.try_admit(1).is_none());
        drop(big);
        assert!(pool.try_admit(4).is_some());
    }

    #[test]
    fn unlimited_never_waits_but_counts() {
        let pool = Pool::new(None);
        let a = pool.try_admit(1000).expect("unlimited");
        assert_eq!(pool.active(), 1000);
        drop(a);
        assert_eq!(pool.active(), 0);
    }
}
