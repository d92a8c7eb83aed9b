//! Unit tests of `select`.

use super::*;
use crate::health::HealthState;
use crate::report::KeyState;
use crate::strategy::Strategy;
use proptest::prelude::{prop_assert_eq, proptest};

fn index(specs: &[KeySpec]) -> ProviderIndex {
    let runtimes = specs
        .iter()
        .map(|_| Arc::new(KeyRuntime::new(HealthState::default(), true)))
        .collect();
    ProviderIndex::new(runtimes, specs, 0, 0)
}

fn spec(weight: u32, priority: i64) -> KeySpec {
    KeySpec {
        weight,
        priority,
        models: Vec::new(),
    }
}

fn picks(ix: &ProviderIndex, strategy: Strategy, n: usize) -> Vec<usize> {
    (0..n)
        .map(|_| ix.select(0, strategy, 0, &[]).unwrap())
        .collect()
}

fn cool(ix: &ProviderIndex, pos: usize, until: u64) {
    ix.runtime(pos).install(HealthState {
        state: KeyState::CoolingDown,
        until_ms: until,
        ..HealthState::default()
    });
    ix.refresh(pos, 0);
}

#[test]
fn round_robin_cycles_in_order_and_a_skipped_key_keeps_its_place() {
    let ix = index(&[spec(1, 0), spec(1, 0), spec(1, 0)]);
    assert_eq!(picks(&ix, Strategy::RoundRobin, 4), [0, 1, 2, 0]);
    cool(&ix, 2, 100);
    assert_eq!(picks(&ix, Strategy::RoundRobin, 3), [1, 0, 1]);
    // time passes: key 2 is back, in its place
    assert_eq!(ix.select(0, Strategy::RoundRobin, 100, &[]), Some(2));
    assert_eq!(ix.select(0, Strategy::RoundRobin, 100, &[]), Some(0));
}

#[test]
fn priority_prefers_lowest_number_and_rotates_ties() {
    let ix = index(&[spec(1, 5), spec(1, 1), spec(1, 1), spec(1, 0)]);
    assert_eq!(picks(&ix, Strategy::Priority, 2), [3, 3]);
    cool(&ix, 3, 100);
    assert_eq!(picks(&ix, Strategy::Priority, 3), [1, 2, 1]);
    cool(&ix, 1, 100);
    cool(&ix, 2, 100);
    assert_eq!(picks(&ix, Strategy::Priority, 1), [0]);
}

#[test]
fn weighted_matches_nginx_smooth_sequence() {
    let ix = index(&[spec(5, 0), spec(1, 0), spec(1, 0)]);
    assert_eq!(
        picks(&ix, Strategy::Weighted, 14),
        [0, 0, 1, 0, 2, 0, 0, 0, 0, 1, 0, 2, 0, 0]
    );
}

#[test]
fn weighted_skips_resting_keys() {
    let ix = index(&[spec(5, 0), spec(1, 0), spec(1, 0)]);
    cool(&ix, 0, 100);
    let got = picks(&ix, Strategy::Weighted, 4);
    assert!(got.iter().all(|&p| p != 0), "{got:?}");
    assert_eq!(got.iter().filter(|&&p| p == 1).count(), 2);
}

#[test]
fn tried_keys_are_never_picked_again() {
    let ix = index(&[spec(1, 0), spec(1, 0)]);
    for strategy in Strategy::ALL {
        assert_eq!(ix.select(0, strategy, 0, &[0, 1]), None, "{strategy}");
        let got = ix.select(0, strategy, 0, &[0]);
        assert_eq!(got, Some(1), "{strategy}");
    }
}

#[test]
fn health_aware_spreads_equal_keys_evenly() {
    let ix = index(&[spec(1, 0), spec(1, 0), spec(1, 0), spec(1, 0)]);
    let mut counts = [0usize; 4];
    for p in picks(&ix, Strategy::HealthAware, 400) {
        counts[p] += 1;
    }
    assert!(counts.iter().all(|&c| c == 100), "{counts:?}");
}

#[test]
fn health_aware_avoids_failing_and_busy_keys() {
    let ix = index(&[spec(1, 0), spec(1, 0)]);
    ix.runtime(0).install(HealthState {
        consecutive_failures: 2,
        ..HealthState::default()
    });
    let got = picks(&ix, Strategy::HealthAware, 20);
    assert!(got.iter().filter(|&&p| p == 1).count() >= 15, "{got:?}");
}

#[test]
fn only_one_caller_takes_a_probe() {
    let ix = index(&[spec(1, 0)]);
    ix.runtime(0).install(HealthState {
        state: KeyState::Quarantined,
        until_ms: 50,
        consecutive_failures: 5,
        strikes: 1,
        transient: true,
        auth_failures: 0,
    });
    ix.refresh(0, 0);
    assert_eq!(ix.select(0, Strategy::RoundRobin, 10, &[]), None);
    assert_eq!(ix.soonest("m", 10, &[]), Some(50));
    assert_eq!(ix.select(0, Strategy::RoundRobin, 50, &[]), Some(0));
    assert_eq!(ix.select(0, Strategy::RoundRobin, 50, &[]), None);
}

#[test]
fn model_pools_respect_allow_lists() {
    let specs = [
        KeySpec {
            weight: 1,
            priority: 0,
            models: vec!["a".into()],
        },
        KeySpec {
            weight: 1,
            priority: 0,
            models: vec![],
        },
        KeySpec {
            weight: 1,
            priority: 0,
            models: vec!["b".into()],
        },
    ];
    let ix = index(&specs);
    let pool_a = ix.pool_for("a");
    let got: Vec<usize> = (0..4)
        .map(|_| ix.select(pool_a, Strategy::RoundRobin, 0, &[]).unwrap())
        .collect();
    assert_eq!(got, [0, 1, 0, 1]);
    let other: Vec<usize> = (0..2)
        .map(|_| {
            ix.select(ix.pool_for("zzz"), Strategy::RoundRobin, 0, &[])
                .unwrap()
        })
        .collect();
    assert_eq!(other, [1, 1]);
}

#[test]
fn large_indices_find_the_next_key_across_words() {
    let specs: Vec<KeySpec> = (0..300).map(|_| spec(1, 0)).collect();
    let ix = index(&specs);
    for pos in 0..299 {
        cool(&ix, pos, 100);
    }
    assert_eq!(ix.select(0, Strategy::RoundRobin, 1, &[]), Some(299));
    assert_eq!(ix.select(0, Strategy::HealthAware, 1, &[]), Some(299));
    assert_eq!(ix.count_available(1), 1);
}

proptest! {
    #[test]
    fn weighted_gives_each_key_exactly_its_weight_in_every_window(
        weights in proptest::collection::vec(1u32..6, 1..7),
        offset in 0usize..40,
    ) {
        let specs: Vec<KeySpec> = weights.iter().map(|&w| spec(w, 0)).collect();
        let ix = index(&specs);
        let total: usize = weights.iter().map(|&w| w as usize).sum();
        let seq = picks(&ix, Strategy::Weighted, offset + 3 * total);
        for start in 0..=(seq.len() - total) {
            let mut counts = vec![0u32; weights.len()];
            for &p in &seq[start..start + total] {
                counts[p] += 1;
            }
            prop_assert_eq!(&counts, &weights, "window at {}", start);
        }
    }
}
