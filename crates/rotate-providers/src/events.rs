//! From an HTTP body to [`StreamDelta`]s: the framing (server-sent events, or AWS's
//! binary event stream), a protocol's event parser, the idle timeout, and the rule that
//! a stream without its terminal event is an error.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_core::Stream;
use http_body_util::BodyExt as _;
use hyper::body::{Body, Incoming};
use pin_project_lite::pin_project;
use rotate_core::error::{ErrorKind, ProviderError};
use rotate_core::provider::StreamDelta;

use crate::sse::{SseDecoder, SseEvent};

/// How a vendor frames its stream's events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// Server-sent events (`text/event-stream`).
    Sse,
    /// AWS event-stream messages (`application/vnd.amazon.eventstream`), Bedrock's.
    #[cfg(feature = "bedrock")]
    AwsEventStream,
}

impl Framing {
    /// The content type a stream of this framing is sent with.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Sse => "text/event-stream",
            #[cfg(feature = "bedrock")]
            Self::AwsEventStream => "application/vnd.amazon.eventstream",
        }
    }
}

/// The decoder of one framing.
#[derive(Debug)]
enum Decoder {
    Sse(SseDecoder),
    #[cfg(feature = "bedrock")]
    Aws(crate::eventstream::EventStreamDecoder),
}

impl Decoder {
    fn of(framing: Framing) -> Self {
        match framing {
            Framing::Sse => Self::Sse(SseDecoder::new()),
            #[cfg(feature = "bedrock")]
            Framing::AwsEventStream => Self::Aws(crate::eventstream::EventStreamDecoder::new()),
        }
    }

    fn feed<F>(&mut self, bytes: &[u8], on_event: &mut F) -> Result<(), ProviderError>
    where
        F: FnMut(SseEvent<'_>) -> Result<(), ProviderError>,
    {
        match self {
            Self::Sse(decoder) => decoder.feed(bytes, on_event),
            #[cfg(feature = "bedrock")]
            Self::Aws(decoder) => decoder.feed(bytes, on_event),
        }
    }

    fn finish<F>(&mut self, on_event: &mut F) -> Result<(), ProviderError>
    where
        F: FnMut(SseEvent<'_>) -> Result<(), ProviderError>,
    {
        match self {
            Self::Sse(decoder) => decoder.finish(on_event),
            #[cfg(feature = "bedrock")]
            Self::Aws(decoder) => decoder.finish(),
        }
    }
}

/// How far ahead a deadline too long to represent is put (thirty years).
const FAR: Duration = Duration::from_secs(30 * 365 * 86_400);

/// A vendor's stream grammar.
pub trait StreamProtocol: Send + 'static {
    /// Handles one SSE event, pushing what the caller should see.
    fn on_event(
        &mut self,
        event: SseEvent<'_>,
        out: &mut VecDeque<StreamDelta>,
    ) -> Result<(), ProviderError>;

    /// True once the protocol's terminal event was seen.
    fn finished(&self) -> bool;

    /// The protocol's name, for the truncation error.
    fn name(&self) -> &'static str;

    /// True when the event just handled is one the client did not ask for and a
    /// passthrough stream keeps from it (OpenAI's usage chunk added for accounting).
    fn hides_last_event(&self) -> bool {
        false
    }

    /// The line ending the vendor frames its events with, for passing them on.
    fn line_end(&self) -> &'static str {
        "\n"
    }

    /// How the vendor frames its events.
    fn framing(&self) -> Framing {
        Framing::Sse
    }

    /// True when the body may end here without losing anything (by default, once the
    /// terminal event was seen; a vendor whose last event is optional says more).
    fn may_end(&self) -> bool {
        self.finished()
    }
}

pin_project! {
    /// The deltas of one upstream stream.
    pub struct EventStream<P> {
        #[pin]
        body: Incoming,
        #[pin]
        idle: tokio::time::Sleep,
        idle_timeout: Duration,
        decoder: Decoder,
        protocol: P,
        pending: VecDeque<StreamDelta>,
        done: bool,
        raw: bool,
    }
}

impl<P: StreamProtocol> EventStream<P> {
    /// Reads `body` with `protocol`; silence longer than `idle_timeout` is a `Timeout`.
    #[allow(clippy::disallowed_methods)] // the idle timer is a real deadline, not a test wait
    pub fn new(body: Incoming, protocol: P, idle_timeout: Duration) -> Self {
        Self {
            body,
            idle: tokio::time::sleep(idle_timeout),
            idle_timeout,
            decoder: Decoder::of(protocol.framing()),
            protocol,
            pending: VecDeque::new(),
            done: false,
            raw: false,
        }
    }

    /// Also hands on every event framed as received, on the delta it produced (an event
    /// that produced none gets an empty delta of its own): a passthrough stream.
    pub fn passing_through(mut self) -> Self {
        self.raw = true;
        self
    }
}

impl<P: StreamProtocol> Stream for EventStream<P> {
    type Item = Result<StreamDelta, ProviderError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut this = self.project();
        loop {
            if let Some(delta) = this.pending.pop_front() {
                return Poll::Ready(Some(Ok(delta)));
            }
            if *this.done {
                return Poll::Ready(None);
            }
            if this.protocol.finished() {
                *this.done = true;
                continue;
            }
            let protocol = &mut *this.protocol;
            let pending = &mut *this.pending;
            let raw = *this.raw;
            let mut on_event = |event: SseEvent<'_>| {
                if protocol.finished() {
                    return Ok(());
                }
                let before = pending.len();
                protocol.on_event(event, pending)?;
                if raw && !protocol.hides_last_event() {
                    let framed = Some(event.framed(protocol.line_end()));
                    match pending.get_mut(before) {
                        Some(delta) => delta.raw = framed,
                        None => pending.push_back(StreamDelta {
                            raw: framed,
                            ..StreamDelta::default()
                        }),
                    }
                }
                Ok(())
            };
            match this.body.as_mut().poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => {
                    if let Some(data) = frame.data_ref() {
                        if let Err(error) = this.decoder.feed(data, &mut on_event) {
                            *this.done = true;
                            return Poll::Ready(Some(Err(error)));
                        }
                    }
                    let now = tokio::time::Instant::now();
                    // a timeout too long to add is as good as none
                    let deadline = now.checked_add(*this.idle_timeout).unwrap_or(now + FAR);
                    this.idle.as_mut().reset(deadline);
                }
                Poll::Ready(Some(Err(error))) => {
                    *this.done = true;
                    return Poll::Ready(Some(Err(ProviderError::new(
                        ErrorKind::Network,
                        "the stream broke",
                    )
                    .with_source(error))));
                }
                Poll::Ready(None) => {
                    let finished = this.decoder.finish(&mut on_event);
                    *this.done = true;
                    if let Err(error) = finished {
                        return Poll::Ready(Some(Err(error)));
                    }
                    if !this.protocol.may_end() {
                        this.pending.clear();
                        return Poll::Ready(Some(Err(ProviderError::new(
                            ErrorKind::Decode,
                            format!(
                                "the {} stream ended without its terminal event",
                                this.protocol.name()
                            ),
                        ))));
                    }
                }
                Poll::Pending => {
                    if this.idle.as_mut().poll(cx).is_ready() {
                        *this.done = true;
                        return Poll::Ready(Some(Err(ProviderError::new(
                            ErrorKind::Timeout,
                            format!(
                                "the stream was silent for {} ms",
                                this.idle_timeout.as_millis()
                            ),
                        ))));
                    }
                    return Poll::Pending;
                }
            }
        }
    }
}

/// Discards a body in the background so its connection can go back to the pool.
pub fn drain(body: Incoming) {
    if body.is_end_stream() {
        return;
    }
    tokio::spawn(async move {
        let _ = tokio::time::timeout(Duration::from_secs(5), body.collect()).await;
    });
}
