//! Waiting within a deadline for a key to come back.
//!
//! When nothing is eligible but a key will be before the call's `max_wait` runs out, the
//! call waits instead of failing: it takes its place in a first-come queue (a fair
//! lock), and the call at the head sleeps until the soonest key's rest ends by the
//! engine's [`Clock`](crate::clock::Clock), or until a key comes back early (an
//! operator's enable, a reload, another process's transition through the store), then
//! tries again and hands the head to the next waiter. The number of waiting calls is
//! bounded (`defaults.max_waiters`); past it, and past the deadline, a call fails at
//! once with `NoAvailableKey` and its `retry_in`.

use std::sync::atomic::{AtomicU32, Ordering};

use tokio::sync::{Mutex, MutexGuard, Notify};

/// The waiting calls of one engine.
#[derive(Debug, Default)]
pub(crate) struct Waiting {
    /// Signalled whenever a key may have become eligible before its rest was due to end.
    available: Notify,
    /// Arrival order: the call holding it is the one that sleeps for the key.
    queue: Mutex<()>,
    count: AtomicU32,
}

/// A call counted among the waiters until dropped.
pub(crate) struct Waiter<'a> {
    waiting: &'a Waiting,
}

impl Drop for Waiter<'_> {
    fn drop(&mut self) {
        self.waiting.count.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Waiting {
    /// Counts a new waiter, unless `limit` calls already wait.
    pub(crate) fn enter(&self, limit: u32) -> Option<Waiter<'_>> {
        self.count
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < limit).then_some(n + 1)
            })
            .ok()
            .map(|_| Waiter { waiting: self })
    }

    /// Waits for the head of the queue.
    pub(crate) async fn turn(&self) -> MutexGuard<'_, ()> {
        self.queue.lock().await
    }

    /// A future that completes at the next [`wake`](Self::wake); create it before
    /// checking, so that a wake in between is not missed.
    pub(crate) fn woken(&self) -> tokio::sync::futures::Notified<'_> {
        self.available.notified()
    }

    /// Wakes the waiting call at the head of the queue: a key may have come back.
    pub(crate) fn wake(&self) {
        self.available.notify_waiters();
    }

    /// How many calls wait now.
    pub(crate) fn count(&self) -> u32 {
        self.count.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_number_of_waiters_is_bounded_and_counted_back_down() {
        let waiting = Waiting::default();
        let first = waiting.enter(2).unwrap();
        let second = waiting.enter(2).unwrap();
        assert!(waiting.enter(2).is_none());
        assert_eq!(waiting.count(), 2);
        drop(first);
        assert_eq!(waiting.count(), 1);
        assert!(waiting.enter(2).is_some());
        drop(second);
        assert!(waiting.enter(0).is_none());
    }
}
