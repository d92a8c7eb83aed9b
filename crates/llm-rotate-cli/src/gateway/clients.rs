//! Client tokens (`gateway.clients`): each client has its own token, an id its usage is
//! counted under, the models it may call, and limits (requests and tokens per minute,
//! a spend budget per day and per month) kept by the library's store, so every replica
//! sharing a Redis namespace enforces one count.
//!
//! Limits are checked once per call, before its body is read, whatever the route or
//! dialect; the model allow-list where each route learns its model.

use std::sync::Arc;

use http::StatusCode;
use llm_rotate::core::limit::{ClientLimits, LimitExceeded, LimitKind};
use llm_rotate::{ConfigurationError, Secret};
use serde::{Deserialize, Serialize};

use super::http::ApiError;

/// One entry of `gateway.clients`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientConfig {
    /// The name its usage, cost and metrics go under (letters, digits, `.`, `_`, `-`).
    pub id: String,
    /// Its token (or give `env`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<Secret>,
    /// The environment variable holding its token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<String>,
    /// The models it may call (a trailing `*` matches any ending); empty: all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub models: Vec<String>,
    /// Requests per UTC minute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rpm: Option<u64>,
    /// Tokens per UTC minute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tpm: Option<u64>,
    /// US dollars per UTC day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_usd_per_day: Option<f64>,
    /// US dollars per UTC calendar month.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_usd_per_month: Option<f64>,
}

/// A client, its token resolved.
pub struct Client {
    pub id: Arc<str>,
    pub token: Secret,
    models: Vec<String>,
    pub limits: ClientLimits,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("id", &self.id).finish()
    }
}

impl Client {
    /// Refuses `model` when it is not among the client's models (403).
    pub fn allow_model(&self, model: &str) -> Result<(), ApiError> {
        let allowed = self.models.is_empty()
            || self
                .models
                .iter()
                .any(|pattern| match pattern.strip_suffix('*') {
                    Some(prefix) => model.starts_with(prefix),
                    None => model == pattern,
                });
        if allowed {
            return Ok(());
        }
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "invalid_request_error",
            "model_not_allowed",
            format!("The client `{}` may not call the model `{model}`.", self.id),
        ))
    }

    /// The refusal a client gets past one of its limits, in the vendors' terms: 429 with
    /// `rate_limit_exceeded` for a rate, 402 with `budget_exceeded` for a budget; both say
    /// when the window resets.
    pub fn refusal(&self, refused: &LimitExceeded) -> ApiError {
        let cap = self.limits.cap(refused.kind).unwrap_or(0);
        let resets = refused.retry_after.as_secs().max(1);
        let mut error = match refused.kind {
            LimitKind::Requests | LimitKind::Tokens => ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                if refused.kind == LimitKind::Requests {
                    "requests"
                } else {
                    "tokens"
                },
                "rate_limit_exceeded",
                format!(
                    "The client `{}` has reached its `{}` limit of {cap} this minute; retry in {resets}s.",
                    self.id,
                    refused.kind.as_str()
                ),
            ),
            LimitKind::DailyBudget | LimitKind::MonthlyBudget => ApiError::new(
                StatusCode::PAYMENT_REQUIRED,
                "insufficient_quota",
                "budget_exceeded",
                format!(
                    "The client `{}` has spent its `{}` of ${:.2}; it renews in {resets}s.",
                    self.id,
                    refused.kind.as_str(),
                    llm_rotate::core::price::nano_to_usd(cap)
                ),
            ),
        };
        error.retry_after = Some(refused.retry_after);
        error
    }
}

fn valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Checks every entry and resolves its token; ids and tokens must be unique, and no
/// client token may also be a plain gateway token.
pub fn resolve(
    list: &[ClientConfig],
    plain_tokens: &[Secret],
) -> Result<Vec<Arc<Client>>, ConfigurationError> {
    let mut clients: Vec<Arc<Client>> = Vec::with_capacity(list.len());
    for (i, entry) in list.iter().enumerate() {
        let path = format!("gateway.clients[{i}]");
        if !valid_id(&entry.id) {
            return Err(ConfigurationError::new(
                format!("{path}.id"),
                "an id is 1 to 64 letters, digits, `.`, `_` or `-`",
            ));
        }
        if clients.iter().any(|c| *c.id == *entry.id) {
            return Err(ConfigurationError::new(
                format!("{path}.id"),
                format!("the id `{}` is given twice", entry.id),
            ));
        }
        let token = match (&entry.token, &entry.env) {
            (Some(token), None) => token.clone(),
            (None, Some(var)) => std::env::var(var).map(Secret::new).map_err(|_| {
                ConfigurationError::new(
                    format!("{path}.env"),
                    format!("environment variable `{var}` is not set"),
                )
            })?,
            _ => {
                return Err(ConfigurationError::new(
                    path,
                    "give either `token` or `env`",
                ))
            }
        };
        if token.expose().trim().is_empty() {
            return Err(ConfigurationError::new(
                format!("{path}.token"),
                "a token must not be empty",
            ));
        }
        let taken = clients.iter().map(|c| &c.token).chain(plain_tokens);
        if super::http::token_position(Some(token.expose().as_bytes()), taken).is_some() {
            return Err(ConfigurationError::new(
                format!("{path}.token"),
                "this token is already another client's or a gateway token",
            ));
        }
        if let Some((j, _)) = entry
            .models
            .iter()
            .enumerate()
            .find(|(_, m)| m.trim().is_empty())
        {
            return Err(ConfigurationError::new(
                format!("{path}.models[{j}]"),
                "a model must not be empty",
            ));
        }
        let limits = ClientLimits {
            rpm: entry.rpm,
            tpm: entry.tpm,
            budget_usd_per_day: entry.budget_usd_per_day,
            budget_usd_per_month: entry.budget_usd_per_month,
        };
        limits.validate(&path)?;
        clients.push(Arc::new(Client {
            id: Arc::from(entry.id.as_str()),
            token,
            models: entry.models.clone(),
            limits,
        }));
    }
    Ok(clients)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entries(value: serde_json::Value) -> Vec<ClientConfig> {
        serde_json::from_value(value).unwrap()
    }

    fn refused(value: serde_json::Value) -> ConfigurationError {
        resolve(&entries(value), &[Secret::new("plain")]).unwrap_err()
    }

    #[test]
    fn entries_are_checked_with_the_field_named() {
        let ok = resolve(
            &entries(json!([{"id": "team-a", "token": "ta", "models": ["gpt-*"], "rpm": 5}])),
            &[],
        )
        .unwrap();
        assert_eq!(&*ok[0].id, "team-a");
        assert_eq!(ok[0].limits.rpm, Some(5));
        let path = |v| refused(v).path().to_owned();
        assert_eq!(
            path(json!([{"id": "a b", "token": "t"}])),
            "gateway.clients[0].id"
        );
        assert_eq!(
            path(json!([{"id": "a", "token": "t"}, {"id": "a", "token": "u"}])),
            "gateway.clients[1].id"
        );
        assert_eq!(path(json!([{"id": "a"}])), "gateway.clients[0]");
        assert_eq!(
            path(json!([{"id": "a", "token": "t"}, {"id": "b", "token": "t"}])),
            "gateway.clients[1].token"
        );
        assert_eq!(
            path(json!([{"id": "a", "token": "plain"}])),
            "gateway.clients[0].token"
        );
        assert_eq!(
            path(json!([{"id": "a", "token": "t", "budget_usd_per_day": -2}])),
            "gateway.clients[0].budget_usd_per_day"
        );
        assert_eq!(
            path(json!([{"id": "a", "env": "LLM_ROTATE_UNIT_TEST_UNSET_VAR"}])),
            "gateway.clients[0].env"
        );
        let secret = refused(json!([{"id": "a", "token": "sk-client-secret", "rpm": 0}]));
        assert!(!format!("{secret} {secret:?}").contains("sk-client-secret"));
        assert!(!format!("{:?}", ok[0]).contains("ta\""));
    }

    #[test]
    fn the_model_list_allows_exact_names_and_prefixes() {
        let client = &resolve(
            &entries(json!([{"id": "a", "token": "t", "models": ["gpt-4o", "claude-*"]}])),
            &[],
        )
        .unwrap()[0];
        assert!(client.allow_model("gpt-4o").is_ok());
        assert!(client.allow_model("claude-sonnet-4-5").is_ok());
        let refused = client.allow_model("gpt-4o-mini").unwrap_err();
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        assert_eq!(refused.code, "model_not_allowed");
    }

    #[test]
    fn refusals_say_which_limit_and_when_it_resets() {
        let client = &resolve(
            &entries(json!([{"id": "a", "token": "t", "rpm": 3, "budget_usd_per_month": 12.5}])),
            &[],
        )
        .unwrap()[0];
        let rate = client.refusal(&LimitExceeded::new(LimitKind::Requests, 30_000));
        assert_eq!(rate.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(rate.code, "rate_limit_exceeded");
        assert!(
            rate.message.contains("`rpm` limit of 3"),
            "{}",
            rate.message
        );
        assert_eq!(rate.retry_after, Some(std::time::Duration::from_secs(30)));
        let budget = client.refusal(&LimitExceeded::new(LimitKind::MonthlyBudget, 0));
        assert_eq!(budget.status, StatusCode::PAYMENT_REQUIRED);
        assert_eq!(budget.code, "budget_exceeded");
        assert!(budget.message.contains("$12.50"), "{}", budget.message);
    }
}
