//! Vertex AI credentials: a service account's RS256-signed JWT exchanged at its
//! `token_uri` for a bearer token (cloud-platform scope), cached per key until four
//! minutes before it expires, refreshed by one caller while the others wait for it,
//! and dropped after a 401 so the next attempt fetches a new one.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rotate_core::clock::Clock;
use rotate_core::error::{ErrorKind, ProviderError};
use rotate_core::secret::Secret;
use rotate_providers::client::HttpClient;
use rotate_providers::credentials::TokenCell;
use rotate_providers::errors::{malformed, shorten};
use serde::{Deserialize, Serialize};

/// The OAuth scope Vertex needs.
pub const CLOUD_PLATFORM_SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";
/// How long before its expiry a token is replaced.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(240);
/// The lifetime asked of a signed assertion (Google's maximum).
const ASSERTION_LIFETIME_SECS: u64 = 3600;

/// The fields of a service-account JSON key the token flow needs.
#[derive(Clone, Deserialize)]
pub struct ServiceAccount {
    /// The account (`…@….iam.gserviceaccount.com`), the JWT's issuer.
    pub client_email: String,
    /// The PEM private key.
    private_key: Secret,
    /// The key's id, the JWT header's `kid`.
    #[serde(default)]
    pub private_key_id: String,
    /// Where assertions are exchanged for tokens.
    #[serde(default = "default_token_uri")]
    pub token_uri: String,
    /// The account's project.
    #[serde(default)]
    pub project_id: Option<String>,
}

fn default_token_uri() -> String {
    "https://oauth2.googleapis.com/token".to_owned()
}

impl std::fmt::Debug for ServiceAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceAccount")
            .field("client_email", &self.client_email)
            .field("private_key_id", &self.private_key_id)
            .field("token_uri", &self.token_uri)
            .field("project_id", &self.project_id)
            .finish_non_exhaustive()
    }
}

impl ServiceAccount {
    /// Reads a service-account JSON key; `None` when `text` is not one (an API key).
    pub fn parse(text: &str) -> Option<Result<Self, String>> {
        let trimmed = text.trim_start();
        if !trimmed.starts_with('{') {
            return None;
        }
        Some(
            serde_json::from_str::<Self>(trimmed)
                .map_err(|e| format!("the service-account JSON is not usable: {e}")),
        )
    }
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    scope: &'a str,
    aud: &'a str,
    iat: u64,
    exp: u64,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

pub use rotate_providers::credentials::Token;

/// One service account's tokens.
pub struct TokenSource {
    account: ServiceAccount,
    signing_key: EncodingKey,
    cell: TokenCell,
}

impl std::fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSource")
            .field("account", &self.account)
            .finish_non_exhaustive()
    }
}

impl TokenSource {
    /// A source for `account`; fails when its private key is not an RSA PEM key.
    pub fn new(account: ServiceAccount) -> Result<Self, String> {
        let signing_key = EncodingKey::from_rsa_pem(account.private_key.expose().as_bytes())
            .map_err(|e| format!("the service account's private_key is not an RSA PEM key: {e}"))?;
        Ok(Self {
            account,
            signing_key,
            cell: TokenCell::default(),
        })
    }

    /// The account.
    pub fn account(&self) -> &ServiceAccount {
        &self.account
    }

    /// A valid token: the cached one, or a new one fetched by exactly one caller.
    pub async fn token(
        &self,
        client: &HttpClient,
        clock: &Arc<dyn Clock>,
        timeout: Duration,
    ) -> Result<Token, ProviderError> {
        self.cell
            .get(|| clock.unix_ms(), || self.fetch(client, clock, timeout))
            .await
    }

    /// Forgets `token` (after a 401), unless a newer one already replaced it.
    pub fn invalidate(&self, token: &Token) {
        self.cell.invalidate(token);
    }

    /// Forgets the cached token, whichever it is (after a 401 to a request that went
    /// out with it).
    pub fn forget(&self) {
        self.cell.forget();
    }

    fn assertion(&self, now_secs: u64) -> Result<String, ProviderError> {
        let mut header = Header::new(Algorithm::RS256);
        if !self.account.private_key_id.is_empty() {
            header.kid = Some(self.account.private_key_id.clone());
        }
        let claims = Claims {
            iss: &self.account.client_email,
            scope: CLOUD_PLATFORM_SCOPE,
            aud: &self.account.token_uri,
            iat: now_secs,
            exp: now_secs + ASSERTION_LIFETIME_SECS,
        };
        jsonwebtoken::encode(&header, &claims, &self.signing_key).map_err(|e| {
            ProviderError::new(ErrorKind::Auth, "cannot sign the token request").with_source(e)
        })
    }

    async fn fetch(
        &self,
        client: &HttpClient,
        clock: &Arc<dyn Clock>,
        timeout: Duration,
    ) -> Result<Token, ProviderError> {
        let now_ms = clock.unix_ms();
        let assertion = self.assertion(now_ms / 1000)?;
        let form = form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer")
            .append_pair("assertion", &assertion)
            .finish();
        let request = Request::post(&self.account.token_uri)
            .header(
                http::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(Full::new(Bytes::from(form)))
            .map_err(|e| {
                ProviderError::new(
                    ErrorKind::Configuration,
                    "the service account's token_uri is not usable",
                )
                .with_source(e)
            })?;
        let (parts, body) = client.exchange(request, timeout).await?;
        if !parts.status.is_success() {
            let kind = match parts.status.as_u16() {
                400 | 401 | 403 => ErrorKind::Auth,
                429 => ErrorKind::RateLimited,
                _ => ErrorKind::ServerError,
            };
            let shown = shorten(String::from_utf8_lossy(&body).trim());
            return Err(ProviderError::new(
                kind,
                format!("the token endpoint refused the service account: {shown}"),
            )
            .with_status(parts.status.as_u16()));
        }
        let answer: TokenAnswer =
            serde_json::from_slice(&body).map_err(|e| malformed("token response", e))?;
        let lifetime_ms = answer.expires_in.unwrap_or(3600).saturating_mul(1000);
        let refresh_at_ms = now_ms + lifetime_ms.saturating_sub(REFRESH_MARGIN.as_millis() as u64);
        Ok(Token {
            value: Secret::new(answer.access_token),
            refresh_at_ms,
        })
    }
}
