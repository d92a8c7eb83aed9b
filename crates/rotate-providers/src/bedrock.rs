//! AWS Bedrock's Converse API (`api: bedrock`): `POST {base}/model/{modelId}/converse`
//! and `/converse-stream`, the model id (a model, an inference profile or an ARN) one
//! percent-encoded path segment, the stream in AWS event-stream framing.
//!
//! A key is one of two kinds:
//! - a Bedrock API key (long- or short-term), sent as `Authorization: Bearer`;
//! - AWS credentials, signed with SigV4 (service `bedrock`): the key's value a JSON object
//!   `{"access_key_id", "secret_access_key", "session_token"?}`, or the secret access key
//!   with `metadata.access_key_id` beside it.
//!
//! Each key names its region (`metadata.region`, default [`DEFAULT_REGION`]), filled into
//! the base URL's `{region}`, so one provider rotates over accounts and regions.

mod converse;
mod reply;
mod sigv4;
mod stream;

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode};
use http_body_util::Full;
use rotate_core::clock::Clock;
use rotate_core::config::ProviderConfig;
use rotate_core::error::{ConfigurationError, ErrorKind, ProviderError};
use rotate_core::message::ChatRequest;
use rotate_core::passthrough::{Passthrough, WireDialect};
use rotate_core::provider::{Headroom, Provider, ProviderCall, ProviderReply};

pub use stream::BedrockStream;

use crate::adapter::{Adapter, Timeouts, WireProtocol};
use crate::client::HttpClient;
use crate::request::{json_request, static_headers};
use crate::url::RequestUrl;

/// The region of a key whose metadata names none.
pub const DEFAULT_REGION: &str = "us-east-1";

/// The Converse protocol as one provider speaks it.
#[derive(Debug, Clone)]
pub struct BedrockWire {
    base_url: Option<String>,
    headers: HeaderMap,
}

/// The adapter of a `bedrock` provider: the Converse protocol, with each key's
/// credentials (a bearer API key or a SigV4 signature) put on last.
pub(crate) fn adapter(
    name: &str,
    config: &ProviderConfig,
    client: HttpClient,
    timeouts: Timeouts,
    clock: Arc<dyn Clock>,
) -> Result<Arc<dyn Provider>, ConfigurationError> {
    let wire = BedrockWire {
        base_url: config.base_url.clone(),
        headers: static_headers(name, config)?,
    };
    let signer = Arc::new(sigv4::AwsCredentials::new(clock.clone()));
    Ok(Arc::new(Adapter::with_credentials(
        wire, client, timeouts, clock, signer,
    )))
}

/// A key's region: `metadata.region`, a name such as `us-east-1`.
pub(crate) fn region_of(key: &rotate_core::provider::KeyInfo) -> Result<&str, ProviderError> {
    let region = key
        .metadata()
        .get("region")
        .map_or(DEFAULT_REGION, String::as_str);
    if !rotate_core::catalogue::is_region_name(region) {
        return Err(ProviderError::new(
            ErrorKind::Configuration,
            "a Bedrock `metadata.region` is a region name such as `us-east-1`",
        ));
    }
    Ok(region)
}

impl BedrockWire {
    fn url(&self, call: &ProviderCall, stream: bool) -> Result<String, ProviderError> {
        let base = crate::request::base_url(call, self.base_url.as_deref())?;
        let base = base.replace("{region}", region_of(&call.key)?);
        Ok(RequestUrl::new(&base)
            .path("model")
            .opaque_segment("model", &call.model)?
            .path(if stream {
                "converse-stream"
            } else {
                "converse"
            })
            .finish())
    }
}

impl WireProtocol for BedrockWire {
    type Stream = BedrockStream;

    fn build(
        &self,
        call: &ProviderCall,
        stream: bool,
    ) -> Result<Request<Full<Bytes>>, ProviderError> {
        let body = converse::body(call)?;
        let mut headers = self.headers.clone();
        headers.insert(
            http::header::ACCEPT,
            http::HeaderValue::from_static(if stream {
                "application/vnd.amazon.eventstream"
            } else {
                "application/json"
            }),
        );
        json_request(&self.url(call, stream)?, headers, body)
    }

    fn parse_reply(&self, body: &[u8]) -> Result<ProviderReply, ProviderError> {
        reply::parse(body)
    }

    fn classify(
        &self,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
        _now_unix_ms: u64,
    ) -> ProviderError {
        reply::classify(status, headers, body)
    }

    fn headroom(&self, _headers: &HeaderMap, _now_unix_ms: u64) -> Option<Headroom> {
        None
    }

    fn stream_protocol(&self) -> BedrockStream {
        BedrockStream::default()
    }

    fn check_model(&self, model: &str) -> Result<(), ProviderError> {
        crate::url::check_opaque_segment("model", model)
    }

    fn cannot_carry(&self, request: &ChatRequest) -> Option<String> {
        converse::cannot_carry(request)
    }

    /// No client speaks Converse to the gateway: every request is translated.
    fn dialect(&self) -> Option<WireDialect> {
        None
    }

    fn build_passthrough(
        &self,
        call: &ProviderCall,
        _body: &Passthrough,
        stream: bool,
    ) -> Result<Request<Full<Bytes>>, ProviderError> {
        self.build(call, stream)
    }
}
