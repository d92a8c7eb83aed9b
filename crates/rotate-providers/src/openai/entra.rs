//! Entra ID (Azure AD) tokens for Azure keys of a service principal: a key with
//! `metadata.auth: entra` whose value is `{"tenant_id", "client_id", "client_secret"}`
//! gets its bearer token by the client-credentials grant at
//! `{authority}/{tenant}/oauth2/v2.0/token` (authority `metadata.authority`, default
//! [`DEFAULT_AUTHORITY`]; scope `metadata.scope`, default [`DEFAULT_SCOPE`]), cached per
//! key until four minutes before it expires, fetched by one caller while the others
//! wait, and dropped after a 401 so the retry fetches a new one. An `entra` key whose
//! value is not JSON is an access token already, sent as it is.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use rotate_core::clock::Clock;
use rotate_core::error::{ErrorKind, ProviderError};
use rotate_core::provider::{BoxFuture, KeyInfo};
use rotate_core::secret::Secret;
use serde::Deserialize;

use crate::client::HttpClient;
use crate::credentials::{set_bearer, Credentials, Token, TokenCell};
use crate::errors::{malformed, shorten};

/// Where Entra ID issues tokens (the public cloud).
pub const DEFAULT_AUTHORITY: &str = "https://login.microsoftonline.com";
/// The scope Azure OpenAI and Azure AI Foundry's OpenAI endpoints take.
pub const DEFAULT_SCOPE: &str = "https://cognitiveservices.azure.com/.default";
/// How long before its expiry a token is replaced.
const REFRESH_MARGIN_MS: u64 = 240_000;

/// A service principal written as a key's value.
#[derive(Deserialize)]
struct Principal {
    tenant_id: String,
    client_id: String,
    client_secret: Secret,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

/// True when `key` is an Entra service principal (its token is fetched, not given).
pub(crate) fn is_principal(key: &KeyInfo) -> bool {
    key.metadata().get("auth").map(String::as_str) == Some("entra")
        && key.secret().expose().trim_start().starts_with('{')
}

/// A key's token cell, and the key (its value) the cell was made for.
type Cells = HashMap<Arc<str>, (Arc<KeyInfo>, Arc<TokenCell>)>;

/// The token cells of one provider's service-principal keys.
pub(crate) struct EntraTokens {
    client: HttpClient,
    clock: Arc<dyn Clock>,
    timeout: Duration,
    cells: Mutex<Cells>,
}

impl EntraTokens {
    pub(crate) fn new(client: HttpClient, clock: Arc<dyn Clock>, timeout: Duration) -> Self {
        Self {
            client,
            clock,
            timeout,
            cells: Mutex::new(HashMap::new()),
        }
    }

    /// The cell of `key`, made again when its value changed.
    fn cell(&self, key: &Arc<KeyInfo>) -> Arc<TokenCell> {
        let mut cells = self.cells.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((known, cell)) = cells.get(key.id()) {
            if known.secret().expose() == key.secret().expose() {
                return cell.clone();
            }
        }
        let cell = Arc::new(TokenCell::default());
        cells.insert(key.id_arc().clone(), (key.clone(), cell.clone()));
        cell
    }

    async fn fetch(&self, key: &KeyInfo) -> Result<Token, ProviderError> {
        let principal: Principal = serde_json::from_str(key.secret().expose()).map_err(|_| {
            ProviderError::new(
                ErrorKind::Auth,
                "an Entra key written as JSON needs `tenant_id`, `client_id` and `client_secret`",
            )
        })?;
        let authority = key
            .metadata()
            .get("authority")
            .map_or(DEFAULT_AUTHORITY, String::as_str);
        let scope = key
            .metadata()
            .get("scope")
            .map_or(DEFAULT_SCOPE, String::as_str);
        let url = crate::url::RequestUrl::new(authority)
            .segment("tenant_id", &principal.tenant_id)?
            .path("oauth2/v2.0/token")
            .finish();
        let form = form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "client_credentials")
            .append_pair("client_id", &principal.client_id)
            .append_pair("client_secret", principal.client_secret.expose())
            .append_pair("scope", scope)
            .finish();
        let request = Request::post(&url)
            .header(
                http::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(Full::new(Bytes::from(form)))
            .map_err(|e| {
                ProviderError::new(
                    ErrorKind::Configuration,
                    "the Entra authority is not usable",
                )
                .with_source(e)
            })?;
        let now_ms = self.clock.unix_ms();
        let (parts, body) = self.client.exchange(request, self.timeout).await?;
        if !parts.status.is_success() {
            let kind = match parts.status.as_u16() {
                400 | 401 | 403 => ErrorKind::Auth,
                429 => ErrorKind::RateLimited,
                _ => ErrorKind::ServerError,
            };
            let said: Option<serde_json::Value> = serde_json::from_slice(&body).ok();
            let description = said
                .as_ref()
                .and_then(|v| v.get("error_description").or_else(|| v.get("error")))
                .and_then(serde_json::Value::as_str)
                .map_or_else(
                    || String::from_utf8_lossy(&body).trim().to_owned(),
                    str::to_owned,
                );
            let description = description.replace(principal.client_secret.expose(), "[REDACTED]");
            return Err(ProviderError::new(
                kind,
                format!(
                    "Entra ID refused the service principal: {}",
                    shorten(&description)
                ),
            )
            .with_status(parts.status.as_u16()));
        }
        let answer: TokenAnswer =
            serde_json::from_slice(&body).map_err(|e| malformed("token response", e))?;
        let lifetime_ms = answer.expires_in.unwrap_or(3600).saturating_mul(1000);
        Ok(Token {
            value: Secret::new(answer.access_token),
            refresh_at_ms: now_ms + lifetime_ms.saturating_sub(REFRESH_MARGIN_MS),
        })
    }
}

impl Credentials for EntraTokens {
    /// Only service principals: the other Azure keys carry their own header.
    fn wants(&self, key: &KeyInfo) -> bool {
        is_principal(key)
    }

    fn authorize<'a>(
        &'a self,
        key: &'a Arc<KeyInfo>,
        request: &'a mut Request<Full<Bytes>>,
    ) -> BoxFuture<'a, Result<(), ProviderError>> {
        Box::pin(async move {
            let cell = self.cell(key);
            let token = cell
                .get(|| self.clock.unix_ms(), || self.fetch(key))
                .await?;
            set_bearer(request, token.value.expose())
        })
    }

    fn refused(&self, key: &Arc<KeyInfo>) -> bool {
        self.cell(key).forget();
        true
    }
}
