//! The health machine agrees with every row of the shared conformance table (the same
//! rows the memory and Redis stores are held to).
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use rotate_core::health::transition;
use rotate_testkit::health_table::{CASES, POLICY};

#[test]
fn every_row_of_the_table_holds() {
    for case in CASES {
        let got = transition(case.before, case.event, case.now_ms, &POLICY);
        assert_eq!(got, case.after, "row: {}", case.name);
    }
}
