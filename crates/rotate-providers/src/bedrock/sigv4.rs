//! A Bedrock key's credentials on a request: a Bedrock API key as
//! `Authorization: Bearer`, or AWS credentials as a SigV4 signature (service `bedrock`,
//! the key's region, the time from the adapter's clock) over the finished request.

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use rotate_core::clock::Clock;
use rotate_core::error::{ErrorKind, ProviderError};
use rotate_core::provider::{BoxFuture, KeyInfo};
use rotate_core::secret::Secret;
use serde::Deserialize;

use crate::credentials::{body_bytes, set_bearer, Credentials};

/// The service name Bedrock's runtime signs under.
pub const SERVICE: &str = "bedrock";

/// AWS credentials written as a key's JSON value.
#[derive(Deserialize)]
struct AccessKey {
    access_key_id: String,
    secret_access_key: Secret,
    #[serde(default)]
    session_token: Option<Secret>,
}

/// How one key authenticates.
enum KeyKind {
    /// A Bedrock API key.
    Bearer,
    /// AWS credentials.
    Aws(AccessKey),
}

fn kind_of(key: &KeyInfo) -> Result<KeyKind, ProviderError> {
    let value = key.secret().expose();
    if value.trim_start().starts_with('{') {
        return serde_json::from_str::<AccessKey>(value)
            .map(KeyKind::Aws)
            .map_err(|_| {
                ProviderError::new(
                    ErrorKind::Auth,
                    "a Bedrock key written as JSON needs `access_key_id` and `secret_access_key` (and may have `session_token`)",
                )
            });
    }
    Ok(match key.metadata().get("access_key_id") {
        Some(id) => KeyKind::Aws(AccessKey {
            access_key_id: id.clone(),
            secret_access_key: Secret::new(value),
            session_token: None,
        }),
        None => KeyKind::Bearer,
    })
}

/// Signs or bears each Bedrock request.
pub(crate) struct AwsCredentials {
    clock: Arc<dyn Clock>,
}

impl AwsCredentials {
    pub(crate) fn new(clock: Arc<dyn Clock>) -> Self {
        Self { clock }
    }

    fn sign(
        &self,
        key: &KeyInfo,
        access: &AccessKey,
        request: &mut Request<Full<Bytes>>,
    ) -> Result<(), ProviderError> {
        let region = super::region_of(key)?;
        let identity = aws_credential_types::Credentials::new(
            &access.access_key_id,
            access.secret_access_key.expose(),
            access.session_token.as_ref().map(|t| t.expose().to_owned()),
            None,
            "llm-rotate",
        )
        .into();
        let time = UNIX_EPOCH + Duration::from_millis(self.clock.unix_ms());
        let failed = |e: &dyn std::fmt::Display| {
            ProviderError::new(
                ErrorKind::Configuration,
                format!("cannot sign the Bedrock request: {e}"),
            )
        };
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(region)
            .name(SERVICE)
            .time(time)
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| failed(&e))?
            .into();
        let body = body_bytes(request);
        let uri = request.uri().to_string();
        let headers: Vec<(&str, &str)> = request
            .headers()
            .iter()
            .filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?)))
            .collect();
        let signable = SignableRequest::new(
            request.method().as_str(),
            uri.as_str(),
            headers.into_iter(),
            SignableBody::Bytes(&body),
        )
        .map_err(|e| failed(&e))?;
        let (instructions, _signature) = sign(signable, &params)
            .map_err(|e| failed(&e))?
            .into_parts();
        instructions.apply_to_request_http1x(request);
        for name in [http::header::AUTHORIZATION.as_str(), "x-amz-security-token"] {
            if let Some(value) = request.headers_mut().get_mut(name) {
                value.set_sensitive(true);
            }
        }
        Ok(())
    }
}

impl Credentials for AwsCredentials {
    fn authorize<'a>(
        &'a self,
        key: &'a Arc<KeyInfo>,
        request: &'a mut Request<Full<Bytes>>,
    ) -> BoxFuture<'a, Result<(), ProviderError>> {
        let done = match kind_of(key) {
            Ok(KeyKind::Bearer) => set_bearer(request, key.secret().expose()),
            Ok(KeyKind::Aws(access)) => self.sign(key, &access, request),
            Err(error) => Err(error),
        };
        Box::pin(std::future::ready(done))
    }
}
