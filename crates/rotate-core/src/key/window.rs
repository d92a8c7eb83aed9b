//! A key's view of the vendor's request window, from its rate-limit headers: how many
//! requests it has left (less the calls sent since it said so), when it resets, how many
//! it allows and how long it lasts (the longest reset seen).

use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::Mutex;

/// What taking one request from the window gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Reservation {
    /// Taken (or nothing is known of the window).
    Granted,
    /// Taken, and it was the window's last: nothing is left until this reset (ms).
    Last(u64),
    /// Nothing is left until this reset (ms): the call must go elsewhere.
    Refused(u64),
}

#[derive(Debug, Clone, Copy, Default)]
struct Counts {
    left: Option<u64>,
    reset_at: u64,
    limit: Option<u64>,
    length_ms: u64,
}

/// The request window of one key.
#[derive(Debug, Default)]
pub(super) struct RequestWindow {
    counts: Mutex<Counts>,
    /// True once a vendor spoke of the window (spares every call the lock until then).
    known: AtomicBool,
}

impl RequestWindow {
    /// Takes one request at `now_ms`. A window that has reset starts again from its
    /// limit; an unknown one grants every call.
    pub(super) fn reserve(&self, now_ms: u64) -> Reservation {
        if !self.known.load(Ordering::Acquire) {
            return Reservation::Granted;
        }
        let mut counts = self.counts.lock();
        if now_ms >= counts.reset_at {
            if counts.length_ms == 0 {
                counts.left = None;
                return Reservation::Granted;
            }
            // the next window of the same length
            let behind = (now_ms - counts.reset_at) / counts.length_ms + 1;
            counts.reset_at = counts
                .reset_at
                .saturating_add(behind.saturating_mul(counts.length_ms));
            counts.left = counts.limit;
        }
        match counts.left {
            None => Reservation::Granted,
            Some(0) => Reservation::Refused(counts.reset_at),
            Some(left) => {
                counts.left = Some(left - 1);
                if left == 1 {
                    Reservation::Last(counts.reset_at)
                } else {
                    Reservation::Granted
                }
            }
        }
    }

    /// Gives back a request taken for a call that did not go.
    pub(super) fn release(&self) {
        if let Some(left) = self.counts.lock().left.as_mut() {
            *left += 1;
        }
    }

    /// What the vendor said at `now_ms`: `left` (already less the calls in flight) of
    /// `limit` until `reset_at_ms`. Within one window the count only goes down (an answer
    /// that arrives late says more was left than is), unless the answer's reset is later
    /// than the one known: the window rolls and refills as it goes (OpenAI's do), and the
    /// newer answer is taken as said. True when nothing is left.
    pub(super) fn observe(
        &self,
        left: u64,
        limit: Option<u64>,
        reset_at_ms: u64,
        now_ms: u64,
    ) -> bool {
        self.known.store(true, Ordering::Release);
        let mut counts = self.counts.lock();
        // the same window, give or take the rounding of the vendor's reset
        let same = counts.left.is_some() && reset_at_ms <= counts.reset_at.saturating_add(100);
        let rolled = reset_at_ms > counts.reset_at;
        let left = match counts.left {
            Some(known) if same && !rolled => known.min(left),
            _ => left,
        };
        counts.left = Some(left);
        counts.reset_at = if same {
            counts.reset_at.max(reset_at_ms)
        } else {
            reset_at_ms
        };
        counts.limit = limit.or(counts.limit);
        counts.length_ms = counts.length_ms.max(reset_at_ms.saturating_sub(now_ms));
        left == 0
    }
}
