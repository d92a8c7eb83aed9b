//! Client limit counters in this process: one (window start, count) per client and
//! counter, under one short lock, so admission is atomic and exact.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;
use rotate_core::limit::{usage_charges, ClientLimits, LimitExceeded, LimitKind};
use rotate_core::store::UsageRecord;

/// Each counter's (window start, count), in [`LimitKind::ALL`] order.
type Windows = [(u64, u64); 4];

/// The counters of every client seen.
#[derive(Debug, Default)]
pub struct LimitTable {
    counters: Mutex<HashMap<Arc<str>, Windows>>,
}

fn slot(kind: LimitKind) -> usize {
    LimitKind::ALL.iter().position(|k| *k == kind).unwrap_or(0)
}

fn current(windows: Option<&Windows>, kind: LimitKind, now_ms: u64) -> u64 {
    let start = kind.window().bounds_ms(now_ms).0;
    match windows.map(|w| w[slot(kind)]) {
        Some((at, used)) if at == start => used,
        _ => 0,
    }
}

impl LimitTable {
    /// Admits one request of `client` (counting it), or names the spent window.
    pub fn admit(
        &self,
        client: &str,
        limits: &ClientLimits,
        now_ms: u64,
    ) -> Result<(), LimitExceeded> {
        let mut counters = self.counters.lock();
        for kind in LimitKind::ALL {
            let Some(cap) = limits.cap(kind) else {
                continue;
            };
            if current(counters.get(client), kind, now_ms) >= cap {
                return Err(LimitExceeded::new(kind, now_ms));
            }
        }
        if limits.cap(LimitKind::Requests).is_some() {
            add(&mut counters, client, LimitKind::Requests, 1, now_ms);
        }
        Ok(())
    }

    /// Adds a recorded attempt's tokens and cost to its client's windows.
    pub fn record(&self, record: &UsageRecord<'_>) {
        let Some(client) = record.client.filter(|_| record.success) else {
            return;
        };
        let mut counters = self.counters.lock();
        for (kind, amount) in usage_charges(record.usage.total_tokens, record.cost_nano_usd) {
            if amount > 0 {
                add(&mut counters, client, kind, amount, record.at_ms);
            }
        }
    }

    /// `client`'s count of `kind` in the window holding `now_ms`.
    pub fn used(&self, client: &str, kind: LimitKind, now_ms: u64) -> u64 {
        current(self.counters.lock().get(client), kind, now_ms)
    }
}

fn add(
    counters: &mut HashMap<Arc<str>, Windows>,
    client: &str,
    kind: LimitKind,
    amount: u64,
    now_ms: u64,
) {
    let start = kind.window().bounds_ms(now_ms).0;
    let windows = match counters.get_mut(client) {
        Some(windows) => windows,
        None => counters.entry(Arc::from(client)).or_default(),
    };
    let slot = &mut windows[slot(kind)];
    if slot.0 < start {
        *slot = (start, 0);
    }
    if slot.0 == start {
        slot.1 = slot.1.saturating_add(amount);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rotate_core::response::Usage;

    fn record(client: &str, tokens: u64, cost: u64, at_ms: u64) -> UsageRecord<'_> {
        UsageRecord {
            key_id: "k",
            provider: "openai",
            model: "m",
            upstream_provider: None,
            success: true,
            usage: Usage::new(tokens, 0),
            cost_nano_usd: cost,
            client: Some(client),
            at_ms,
        }
    }

    #[test]
    fn requests_are_admitted_up_to_the_minute_s_limit() {
        let table = LimitTable::default();
        let limits = ClientLimits {
            rpm: Some(2),
            ..Default::default()
        };
        assert!(table.admit("a", &limits, 60_000).is_ok());
        assert!(table.admit("a", &limits, 60_001).is_ok());
        let refused = table.admit("a", &limits, 119_000).unwrap_err();
        assert_eq!(refused.kind, LimitKind::Requests);
        assert_eq!(refused.retry_after.as_millis(), 1_000);
        // another client has its own windows, and the next minute starts again
        assert!(table.admit("b", &limits, 119_000).is_ok());
        assert!(table.admit("a", &limits, 120_000).is_ok());
        assert_eq!(table.used("a", LimitKind::Requests, 120_000), 1);
    }

    #[test]
    fn tokens_and_spend_refuse_once_they_reach_their_limit() {
        let table = LimitTable::default();
        let limits = ClientLimits {
            tpm: Some(100),
            budget_usd_per_day: Some(0.000_001), // 1,000 nano-dollars
            ..Default::default()
        };
        table.record(&record("a", 60, 400, 1_000));
        assert!(table.admit("a", &limits, 2_000).is_ok());
        table.record(&record("a", 40, 400, 3_000));
        assert_eq!(
            table.admit("a", &limits, 4_000).unwrap_err().kind,
            LimitKind::Tokens
        );
        // next minute: tokens start again, the day's spend does not
        assert!(table.admit("a", &limits, 61_000).is_ok());
        table.record(&record("a", 1, 200, 62_000));
        assert_eq!(
            table.admit("a", &limits, 63_000).unwrap_err().kind,
            LimitKind::DailyBudget
        );
        // no requests counted when only spend is limited
        assert_eq!(table.used("a", LimitKind::Requests, 63_000), 0);
        // a record without a client counts nowhere
        let mut anonymous = record("a", 500, 500, 63_000);
        anonymous.client = None;
        table.record(&anonymous);
        assert_eq!(table.used("a", LimitKind::Tokens, 63_000), 1);
    }
}
