//! A selection pool: the keys of one provider that may serve one model, their priority
//! tiers and weight groups, the strategies' cursors, and the smooth weighted
//! round-robin step.

use parking_lot::Mutex;

use super::bits::mask_of;

/// What selection needs to know of a key when the index is built.
#[derive(Debug, Clone)]
pub(crate) struct KeySpec {
    pub(crate) weight: u32,
    pub(crate) priority: i64,
    pub(crate) models: Vec<String>,
}

#[derive(Debug)]
pub(super) struct WeightGroup {
    pub(super) weight: u64,
    pub(super) members: Box<[usize]>,
}

#[derive(Debug)]
pub(super) struct Cursor {
    pub(super) rr: usize,
    pub(super) tier_rr: Box<[usize]>,
    pub(super) step: u64,
    pub(super) picks: Box<[u64]>,
    pub(super) rng: u64,
}

impl Cursor {
    pub(super) fn random(&mut self) -> u64 {
        // xorshift64: cheap, and deterministic runs make tests repeatable.
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        x
    }
}

/// The keys of one provider that may serve one model, and the strategies' cursors.
#[derive(Debug)]
pub(super) struct Pool {
    pub(super) mask: Option<Box<[u64]>>,
    pub(super) len: usize,
    pub(super) tiers: Box<[Box<[u64]>]>,
    pub(super) groups: Box<[WeightGroup]>,
    pub(super) total_weight: u64,
    pub(super) cursor: Mutex<Cursor>,
}

impl Pool {
    /// True when the key at `pos` belongs to this pool.
    pub(super) fn holds(&self, pos: usize) -> bool {
        self.len > 0
            && self
                .mask
                .as_ref()
                .is_none_or(|m| m[pos / 64] & (1 << (pos % 64)) != 0)
    }

    pub(super) fn new(positions: &[usize], all: usize, specs: &[KeySpec]) -> Self {
        let mask = (positions.len() != all).then(|| mask_of(all, positions.iter().copied()));
        let mut priorities: Vec<i64> = positions.iter().map(|&p| specs[p].priority).collect();
        priorities.sort_unstable();
        priorities.dedup();
        let tiers: Box<[Box<[u64]>]> = priorities
            .iter()
            .map(|&prio| {
                mask_of(
                    all,
                    positions
                        .iter()
                        .copied()
                        .filter(|&p| specs[p].priority == prio),
                )
            })
            .collect();
        let mut weights: Vec<u32> = positions
            .iter()
            .map(|&p| specs[p].weight)
            .filter(|&w| w > 0)
            .collect();
        weights.sort_unstable();
        weights.dedup();
        let groups: Box<[WeightGroup]> = weights
            .iter()
            .map(|&w| WeightGroup {
                weight: u64::from(w),
                members: positions
                    .iter()
                    .copied()
                    .filter(|&p| specs[p].weight == w)
                    .collect(),
            })
            .collect();
        let total_weight = groups
            .iter()
            .map(|g| g.weight * g.members.len() as u64)
            .sum();
        Self {
            mask,
            len: positions.len(),
            cursor: Mutex::new(Cursor {
                rr: 0,
                tier_rr: vec![0; tiers.len()].into_boxed_slice(),
                step: 0,
                picks: vec![0; groups.len()].into_boxed_slice(),
                rng: 0x9E37_79B9_7F4A_7C15,
            }),
            tiers,
            groups,
            total_weight,
        }
    }
}

/// One step of nginx's smooth weighted round-robin over weight groups.
///
/// At step `t` (1-based) a key of weight `w` picked `c` times has current weight
/// `t·w − W·c`; the largest wins, ties to the lowest position. Inside a group of equal
/// weights the least-picked, lowest-position key is the group's round-robin next, so only
/// one candidate per group is compared.
pub(super) fn next_smooth_weighted(pool: &Pool, cursor: &mut Cursor) -> usize {
    cursor.step += 1;
    let t = i128::from(cursor.step);
    let total = i128::from(pool.total_weight);
    let mut best: Option<(i128, usize, usize)> = None;
    for (g, group) in pool.groups.iter().enumerate() {
        let picks = cursor.picks[g];
        let size = group.members.len() as u64;
        let member = group.members[(picks % size) as usize];
        let current = t * i128::from(group.weight) - total * i128::from(picks / size);
        let wins = match best {
            None => true,
            Some((value, position, _)) => {
                current > value || (current == value && member < position)
            }
        };
        if wins {
            best = Some((current, member, g));
        }
    }
    let (_, member, g) = best.unwrap_or((0, 0, 0));
    cursor.picks[g] += 1;
    if cursor.step >= pool.total_weight {
        cursor.step = 0;
        cursor.picks.iter_mut().for_each(|p| *p = 0);
    }
    member
}
