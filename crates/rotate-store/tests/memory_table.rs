//! The memory store applies every row of the shared health table exactly as the pure
//! transition does, and keeps what it computed.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use rotate_core::store::StateStore;
use rotate_store::MemoryStore;
use rotate_testkit::health_table::{CASES, POLICY};

#[test]
fn applies_every_row_of_the_shared_table() {
    for case in CASES {
        let store = MemoryStore::new();
        store.install("k", case.before);
        let got = store.apply("k", case.event, case.now_ms, &POLICY);
        assert_eq!(got, case.after, "row: {}", case.name);
        assert_eq!(store.state("k"), case.after);
    }
}
