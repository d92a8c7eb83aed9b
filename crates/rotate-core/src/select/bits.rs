//! A fixed-size set of key positions, updated without locks, scanned a word at a time
//! (what keeps selection from growing with the number of keys).

use std::sync::atomic::{AtomicU64, Ordering};

/// A fixed-size set of positions, updated without locks.
#[derive(Debug)]
pub(super) struct Bits {
    words: Box<[AtomicU64]>,
}

impl Bits {
    pub(super) fn new(len: usize) -> Self {
        Self {
            words: (0..len.div_ceil(64)).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    pub(super) fn set(&self, i: usize) {
        self.words[i / 64].fetch_or(1 << (i % 64), Ordering::AcqRel);
    }

    pub(super) fn clear(&self, i: usize) {
        self.words[i / 64].fetch_and(!(1 << (i % 64)), Ordering::AcqRel);
    }

    fn word(&self, w: usize, mask: Option<&[u64]>) -> u64 {
        let bits = self.words[w].load(Ordering::Acquire);
        mask.map_or(bits, |m| bits & m[w])
    }

    /// The first set position in `[start, end)` that `mask` allows.
    fn scan(&self, start: usize, end: usize, mask: Option<&[u64]>) -> Option<usize> {
        if start >= end {
            return None;
        }
        let mut w = start / 64;
        let mut bits = self.word(w, mask) & (!0u64 << (start % 64));
        loop {
            if bits != 0 {
                let i = w * 64 + bits.trailing_zeros() as usize;
                return (i < end).then_some(i);
            }
            w += 1;
            if w * 64 >= end {
                return None;
            }
            bits = self.word(w, mask);
        }
    }

    /// The first set position at or after `from`, wrapping around at `len`.
    pub(super) fn next(&self, from: usize, len: usize, mask: Option<&[u64]>) -> Option<usize> {
        if len == 0 {
            return None;
        }
        let from = from % len;
        self.scan(from, len, mask)
            .or_else(|| self.scan(0, from, mask))
    }
}

pub(super) fn mask_of(len: usize, members: impl IntoIterator<Item = usize>) -> Box<[u64]> {
    let mut mask = vec![0u64; len.div_ceil(64)];
    for i in members {
        mask[i / 64] |= 1 << (i % 64);
    }
    mask.into_boxed_slice()
}
