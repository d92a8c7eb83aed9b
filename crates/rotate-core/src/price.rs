//! What calls cost: a price per model (USD per million tokens of each kind), from the
//! config's `prices` over a built-in table of the catalogue's common models.
//!
//! A call's cost prices its usage the way the vendors bill it: input tokens not served
//! from a cache at `input`, cache reads at `cached_input` (OpenAI cached input,
//! Anthropic cache reads, Gemini cached content), cache writes at `cache_write`
//! (Anthropic cache creation), output at `output` and reasoning tokens at `reasoning`
//! (each falling back to `input` or `output` when the vendor has no separate price).
//! Costs are counted in nano-dollars, so that the usage counters stay integers (and add
//! up exactly in Redis).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::ConfigurationError;
use crate::response::Usage;

/// The prices of one model, in USD per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelPrice {
    /// Input tokens not read from a cache.
    pub input: f64,
    /// Input tokens read from the vendor's prompt cache (default: `input`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached_input: Option<f64>,
    /// Input tokens written to the vendor's prompt cache (default: `input`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_write: Option<f64>,
    /// Output tokens.
    pub output: f64,
    /// Reasoning tokens (default: `output`, as the vendors bill them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<f64>,
}

/// When the built-in table's list prices were taken.
pub const BUILTIN_PRICES_AS_OF: &str = "2025-10";

const fn price(input: f64, cached: f64, write: Option<f64>, output: f64) -> ModelPrice {
    ModelPrice {
        input,
        cached_input: Some(cached),
        cache_write: write,
        output,
        reasoning: None,
    }
}

/// List prices of common models ([`BUILTIN_PRICES_AS_OF`]); the config's `prices` win.
/// A model matches the longest name here that it starts with, so dated snapshots
/// (`gpt-4o-mini-2024-07-18`) take their model's price.
pub const BUILTIN_PRICES: &[(&str, ModelPrice)] = &[
    ("gpt-4o", price(2.50, 1.25, None, 10.00)),
    ("gpt-4o-mini", price(0.15, 0.075, None, 0.60)),
    ("gpt-4.1", price(2.00, 0.50, None, 8.00)),
    ("gpt-4.1-mini", price(0.40, 0.10, None, 1.60)),
    ("gpt-4.1-nano", price(0.10, 0.025, None, 0.40)),
    ("gpt-5", price(1.25, 0.125, None, 10.00)),
    ("gpt-5-mini", price(0.25, 0.025, None, 2.00)),
    ("gpt-5-nano", price(0.05, 0.005, None, 0.40)),
    ("o3", price(2.00, 0.50, None, 8.00)),
    ("o4-mini", price(1.10, 0.275, None, 4.40)),
    ("text-embedding-3-small", price(0.02, 0.02, None, 0.0)),
    ("text-embedding-3-large", price(0.13, 0.13, None, 0.0)),
    ("claude-opus-4", price(15.00, 1.50, Some(18.75), 75.00)),
    ("claude-sonnet-4", price(3.00, 0.30, Some(3.75), 15.00)),
    ("claude-3-7-sonnet", price(3.00, 0.30, Some(3.75), 15.00)),
    ("claude-haiku-4-5", price(1.00, 0.10, Some(1.25), 5.00)),
    ("claude-3-5-haiku", price(0.80, 0.08, Some(1.00), 4.00)),
    ("gemini-2.5-pro", price(1.25, 0.31, None, 10.00)),
    ("gemini-2.5-flash", price(0.30, 0.075, None, 2.50)),
    ("gemini-2.5-flash-lite", price(0.10, 0.025, None, 0.40)),
    ("gemini-2.0-flash", price(0.10, 0.025, None, 0.40)),
];

impl ModelPrice {
    /// What `usage` costs at these prices, in nano-dollars.
    pub fn cost_nano_usd(&self, usage: &Usage) -> u64 {
        let cached = usage.cached_tokens.min(usage.prompt_tokens);
        let written = usage.cache_write_tokens.min(usage.prompt_tokens - cached);
        let fresh = usage.prompt_tokens - cached - written;
        let reasoning = usage.reasoning_tokens.min(usage.completion_tokens);
        let answer = usage.completion_tokens - reasoning;
        // USD per million tokens is nano-dollars per thousandth of a token: × 1000
        let nano = fresh as f64 * self.input
            + cached as f64 * self.cached_input.unwrap_or(self.input)
            + written as f64 * self.cache_write.unwrap_or(self.input)
            + answer as f64 * self.output
            + reasoning as f64 * self.reasoning.unwrap_or(self.output);
        (nano * 1_000.0).round() as u64
    }

    /// Checks every price is a finite number, zero or more.
    fn check(&self, model: &str) -> Result<(), ConfigurationError> {
        let fields = [
            ("input", Some(self.input)),
            ("cached_input", self.cached_input),
            ("cache_write", self.cache_write),
            ("output", Some(self.output)),
            ("reasoning", self.reasoning),
        ];
        for (field, value) in fields {
            if let Some(value) = value.filter(|v| !v.is_finite() || *v < 0.0) {
                return Err(ConfigurationError::new(
                    format!("prices.{model}.{field}"),
                    format!("a price is USD per million tokens, zero or more (got {value})"),
                ));
            }
        }
        Ok(())
    }
}

/// Nano-dollars as US dollars.
pub fn nano_to_usd(nano: u64) -> f64 {
    nano as f64 / 1e9
}

/// Checks the config's price table.
pub(crate) fn check_prices(
    prices: &BTreeMap<String, ModelPrice>,
) -> Result<(), ConfigurationError> {
    prices
        .iter()
        .try_for_each(|(model, price)| price.check(model))
}

/// The prices in force: the config's, then the built-in table.
#[derive(Debug, Clone, Default)]
pub(crate) struct Prices {
    configured: BTreeMap<String, ModelPrice>,
}

impl Prices {
    pub(crate) fn new(configured: &BTreeMap<String, ModelPrice>) -> Self {
        Self {
            configured: configured.clone(),
        }
    }

    /// The price of `model`: an exact configured name, else the longest configured or
    /// built-in name it starts with.
    pub(crate) fn of(&self, model: &str) -> Option<&ModelPrice> {
        if let Some(price) = self.configured.get(model) {
            return Some(price);
        }
        let configured = self
            .configured
            .iter()
            .map(|(name, price)| (name.as_str(), price));
        let builtin = BUILTIN_PRICES.iter().map(|(name, price)| (*name, price));
        // the last of equally long names wins, so a configured one over a built-in one
        builtin
            .chain(configured)
            .filter(|(name, _)| model.starts_with(name))
            .max_by_key(|(name, _)| name.len())
            .map(|(_, price)| price)
    }

    /// What `usage` of `model` costs in nano-dollars (0 for a model with no price).
    pub(crate) fn cost_nano_usd(&self, model: &str, usage: &Usage) -> Option<u64> {
        self.of(model).map(|price| price.cost_nano_usd(usage))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(prompt: u64, cached: u64, written: u64, completion: u64, reasoning: u64) -> Usage {
        Usage {
            prompt_tokens: prompt,
            completion_tokens: completion,
            total_tokens: prompt + completion,
            cached_tokens: cached,
            reasoning_tokens: reasoning,
            cache_write_tokens: written,
        }
    }

    #[test]
    fn every_kind_of_token_is_priced_as_the_vendor_bills_it() {
        let prices = Prices::default();
        // gpt-4o: 1M fresh input 2.50, 1M cached 1.25, 1M output 10.00
        let cost = prices
            .cost_nano_usd(
                "gpt-4o-2024-08-06",
                &usage(2_000_000, 1_000_000, 0, 1_000_000, 0),
            )
            .unwrap();
        assert_eq!(cost, 13_750_000_000);
        // claude sonnet: a cache write at 3.75, a cache read at 0.30, thinking as output
        let cost = prices
            .cost_nano_usd(
                "claude-sonnet-4-5-20250929",
                &usage(3_000_000, 1_000_000, 1_000_000, 2_000_000, 1_000_000),
            )
            .unwrap();
        assert_eq!(
            cost,
            (3.00 + 0.30 + 3.75 + 15.0 + 15.0) as u64 * 1_000_000_000 + 50_000_000
        );
        // the longest prefix wins: gpt-4o-mini is not priced as gpt-4o
        let mini = prices.of("gpt-4o-mini").unwrap();
        assert_eq!(mini.input, 0.15);
        assert_eq!(prices.of("some-local-model"), None);
        // a small call keeps its fraction of a cent
        let small = prices
            .cost_nano_usd("gpt-4o-mini", &usage(10, 0, 0, 5, 0))
            .unwrap();
        assert_eq!(small, 4_500);
    }

    #[test]
    fn configured_prices_win_and_extend_the_table() {
        let mut configured = BTreeMap::new();
        configured.insert(
            "gpt-4o".to_owned(),
            ModelPrice {
                input: 1.0,
                cached_input: None,
                cache_write: None,
                output: 2.0,
                reasoning: Some(4.0),
            },
        );
        configured.insert(
            "my-model".to_owned(),
            ModelPrice {
                input: 0.5,
                cached_input: None,
                cache_write: None,
                output: 0.5,
                reasoning: None,
            },
        );
        let prices = Prices::new(&configured);
        let cost = prices
            .cost_nano_usd(
                "gpt-4o-2024-08-06",
                &usage(1_000_000, 500_000, 0, 1_000_000, 500_000),
            )
            .unwrap();
        // cached input falls back to input; reasoning has its own price
        assert_eq!(cost, 1_000_000_000 + 1_000_000_000 + 2_000_000_000);
        assert_eq!(prices.of("my-model").unwrap().output, 0.5);
    }

    #[test]
    fn a_negative_or_infinite_price_is_refused_by_name() {
        let mut configured = BTreeMap::new();
        configured.insert(
            "m".to_owned(),
            ModelPrice {
                input: 1.0,
                cached_input: Some(-0.1),
                cache_write: None,
                output: 2.0,
                reasoning: None,
            },
        );
        assert_eq!(
            check_prices(&configured).unwrap_err().path(),
            "prices.m.cached_input"
        );
        configured.insert(
            "m".to_owned(),
            ModelPrice {
                input: f64::INFINITY,
                cached_input: None,
                cache_write: None,
                output: 2.0,
                reasoning: None,
            },
        );
        assert_eq!(
            check_prices(&configured).unwrap_err().path(),
            "prices.m.input"
        );
    }
}
