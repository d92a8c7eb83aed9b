//! `Engine::embed`: an embedding call through the same driver as chat, over the plan
//! entries whose adapter speaks an embeddings API.

use std::sync::Arc;

use tracing::Instrument;

use super::driver::{Attempted, Route};
use super::elapsed_ms;
use super::Engine;
use crate::embed::{EmbedOptions, EmbedRequest, EmbedResponse};
use crate::error::LMRotateError;

impl Engine {
    /// One embedding call (a vector per input), with rotation, retries and fallback.
    /// Plan entries without an embeddings API are skipped with the reason in the
    /// attempts.
    pub async fn embed(
        &self,
        model: &str,
        inputs: &[impl AsRef<str>],
        opts: &EmbedOptions,
    ) -> Result<EmbedResponse, LMRotateError> {
        let request = Arc::new(EmbedRequest::new(inputs, opts));
        let route = Route::new(model, opts.provider.as_deref(), opts.max_retries)
            .embedding()
            .passing(opts.passthrough.as_ref())
            .for_client(opts.client.as_deref());
        let span =
            tracing::debug_span!("llm_rotate.embed", model = %model, inputs = request.inputs.len());
        let started = self.inner.clock.monotonic();
        let clock = self.inner.clock.clone();
        self.drive(&route, |mut lease| {
            let call = lease.call(request.clone());
            let adapter = lease.adapter();
            let clock = clock.clone();
            async move {
                match adapter.embed(call).await {
                    Ok(reply) => {
                        lease.succeed(reply.usage, reply.headroom, None);
                        Attempted::Done(EmbedResponse {
                            embeddings: reply.embeddings,
                            provider: lease.provider_name().to_string(),
                            model: lease.answering_model(reply.model),
                            key_id: lease.info().id().to_owned(),
                            usage: reply.usage,
                            latency_ms: elapsed_ms(clock.as_ref(), started),
                            raw: reply.raw,
                            passthrough: reply.passthrough,
                        })
                    }
                    Err(error) => Attempted::Failed(lease, error),
                }
            }
        })
        .instrument(span)
        .await
    }
}
