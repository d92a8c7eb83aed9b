//! [`ChatStream`]: the stream `chat_stream` returns, and the leased stream behind it.
//!
//! Once the first chunk with content has reached the caller the key is committed: an
//! upstream error then ends the stream with one `Err` item (and is recorded against the
//! key), a clean end records a success with the final usage, and dropping the stream
//! early drops the upstream request and frees the key's in-flight slot.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_core::Stream;

use crate::clock::Clock;
use crate::error::LMRotateError;
use crate::lease::Lease;
use crate::provider::{BoxStream, Headroom, ProviderStream};
use crate::response::{ChatResponse, ResponseCollector, StreamChunk, Usage};

/// A stream of [`StreamChunk`]s; `Send + Unpin + 'static`.
pub struct ChatStream {
    inner: BoxStream<'static, Result<StreamChunk, LMRotateError>>,
    key_id: String,
    clock: Option<Arc<dyn Clock>>,
}

impl ChatStream {
    /// Wraps any stream of chunks.
    pub fn new(
        stream: impl Stream<Item = Result<StreamChunk, LMRotateError>> + Send + 'static,
    ) -> Self {
        Self {
            inner: Box::pin(stream),
            key_id: String::new(),
            clock: None,
        }
    }

    pub(crate) fn leased(stream: LeasedStream) -> Self {
        let key_id = stream.key_id().to_owned();
        let clock = Some(stream.lease.clock().clone());
        Self {
            key_id,
            clock,
            ..Self::new(stream)
        }
    }

    /// The id of the key serving the stream (empty for a stream made with [`new`](Self::new)).
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// Reads the whole stream into the [`ChatResponse`] the non-streamed call gives
    /// (`latency_ms` is the time spent reading, by the engine's clock; `raw` is null). An
    /// error item, a cut stream included, is returned as the error.
    pub async fn collect_response(mut self) -> Result<ChatResponse, LMRotateError> {
        let now = |clock: &Option<Arc<dyn Clock>>| clock.as_ref().map(|c| c.monotonic());
        let started = now(&self.clock);
        let mut collector = ResponseCollector::default();
        while let Some(chunk) = std::future::poll_fn(|cx| Pin::new(&mut self).poll_next(cx)).await {
            collector.push(chunk?);
        }
        let latency = match (started, now(&self.clock)) {
            (Some(start), Some(end)) => end.saturating_sub(start).as_secs_f64() * 1000.0,
            _ => 0.0,
        };
        Ok(collector.finish(&self.key_id, latency))
    }
}

impl std::fmt::Debug for ChatStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatStream").finish_non_exhaustive()
    }
}

impl Stream for ChatStream {
    type Item = Result<StreamChunk, LMRotateError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

/// An upstream stream that holds its key until it ends.
pub(crate) struct LeasedStream {
    lease: Lease,
    first: Option<StreamChunk>,
    events: Option<ProviderStream>,
    headroom: Option<Headroom>,
    usage: Option<Usage>,
    finished: bool,
}

impl LeasedStream {
    pub(crate) fn new(
        lease: Lease,
        first: Option<StreamChunk>,
        events: ProviderStream,
        headroom: Option<Headroom>,
    ) -> Self {
        let usage = first.as_ref().and_then(|c| c.usage);
        Self {
            lease,
            first,
            events: Some(events),
            headroom,
            usage,
            finished: false,
        }
    }

    /// A stream whose upstream already ended cleanly without any content (`first`: its
    /// raw events, on a passthrough stream).
    pub(crate) fn ended(
        lease: Lease,
        first: Option<StreamChunk>,
        headroom: Option<Headroom>,
    ) -> Self {
        Self {
            lease,
            first,
            events: None,
            headroom,
            usage: None,
            finished: false,
        }
    }

    fn chunk(&self, delta: crate::provider::StreamDelta) -> StreamChunk {
        StreamChunk::from_delta(delta, self.lease.provider_name(), self.lease.model())
    }

    /// The id of the key serving the stream.
    pub(crate) fn key_id(&self) -> &str {
        self.lease.info().id()
    }

    fn finish_ok(&mut self) {
        self.finished = true;
        self.events = None;
        let usage = self.usage.unwrap_or_default();
        self.lease.succeed(usage, self.headroom, None);
    }
}

impl Stream for LeasedStream {
    type Item = Result<StreamChunk, LMRotateError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if let Some(first) = this.first.take() {
            return Poll::Ready(Some(Ok(first)));
        }
        if this.finished {
            return Poll::Ready(None);
        }
        let Some(events) = this.events.as_mut() else {
            this.finish_ok();
            return Poll::Ready(None);
        };
        match events.as_mut().poll_next(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(Ok(delta))) => {
                if delta.usage.is_some() {
                    this.usage = delta.usage;
                }
                let mut chunk = this.chunk(delta);
                if let Some(usage) = &chunk.usage {
                    chunk.cost_usd = this.lease.price(usage).map(crate::price::nano_to_usd);
                }
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(Some(Err(error))) => {
                this.finished = true;
                this.events = None;
                let error = error.for_key(this.lease.provider_name(), this.lease.info().id());
                this.lease.fail(&error);
                Poll::Ready(Some(Err(LMRotateError::Stream(error))))
            }
            Poll::Ready(None) => {
                this.finish_ok();
                Poll::Ready(None)
            }
        }
    }
}
