//! [`ChatStream`]: the stream `chat_stream` returns, and the leased stream behind it.
//!
//! Once the first chunk with content has reached the caller the key is committed: an
//! upstream error then ends the stream with one `Err` item (and is recorded against the
//! key), a clean end records a success with the final usage, and dropping the stream
//! early drops the upstream request and frees the key's in-flight slot.

use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;

use crate::error::LMRotateError;
use crate::lease::Lease;
use crate::provider::{BoxStream, Headroom, ProviderStream};
use crate::response::{StreamChunk, Usage};

/// A stream of [`StreamChunk`]s; `Send + Unpin + 'static`.
pub struct ChatStream {
    inner: BoxStream<'static, Result<StreamChunk, LMRotateError>>,
}

impl ChatStream {
    /// Wraps any stream of chunks.
    pub fn new(
        stream: impl Stream<Item = Result<StreamChunk, LMRotateError>> + Send + 'static,
    ) -> Self {
        Self {
            inner: Box::pin(stream),
        }
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

    /// A stream whose upstream already ended cleanly without any content.
    pub(crate) fn ended(lease: Lease, headroom: Option<Headroom>) -> Self {
        Self {
            lease,
            first: None,
            events: None,
            headroom,
            usage: None,
            finished: false,
        }
    }

    fn chunk(&self, delta: crate::provider::StreamDelta) -> StreamChunk {
        StreamChunk {
            delta: delta.delta,
            finish_reason: delta.finish_reason,
            usage: delta.usage,
            provider: self.lease.provider_name().to_string(),
            model: self.lease.model().to_string(),
        }
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
                let chunk = this.chunk(delta);
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
