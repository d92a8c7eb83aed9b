//! An in-process provider with outcomes scripted per key, and a log of every call.
//!
//! Each key has a queue of [`Step`]s consumed one per call, then a default step (a
//! success whose content names the key). Streams are scripted as lists of events.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use parking_lot::Mutex;
use rotate_core::error::{ErrorKind, ProviderError};
use rotate_core::provider::{
    BoxFuture, Headroom, Provider, ProviderCall, ProviderReply, ProviderStreamStart, StreamDelta,
};
use rotate_core::response::Usage;

/// What a scripted call does.
#[derive(Debug, Clone)]
pub enum Step {
    /// Answer `ok from {key}` with usage 10 + 5.
    Ok,
    /// Answer with this text and usage.
    Reply(String, Usage),
    /// Answer `ok from {key}` with these rate-limit headers.
    OkWithHeadroom(Headroom),
    /// Fail with this error.
    Fail(ProviderError),
    /// For streams: these events, then a clean end.
    Stream(Vec<Result<StreamDelta, ProviderError>>),
}

impl Step {
    /// A failure of `kind` with an HTTP `status`.
    pub fn fail(kind: ErrorKind, status: u16) -> Self {
        Step::Fail(ProviderError::new(kind, format!("scripted {status}")).with_status(status))
    }

    /// A 429 with a Retry-After.
    pub fn rate_limited(retry_after: std::time::Duration) -> Self {
        Step::Fail(
            ProviderError::new(ErrorKind::RateLimited, "scripted 429")
                .with_status(429)
                .with_retry_after(Some(retry_after)),
        )
    }
}

/// One call the provider received.
#[derive(Debug, Clone, PartialEq)]
pub struct CallRecord {
    /// The key's id.
    pub key_id: String,
    /// The upstream model asked for.
    pub model: String,
    /// Whether it was a stream.
    pub stream: bool,
}

/// A [`Provider`] whose outcomes are scripted per key.
#[derive(Debug, Default)]
pub struct ScriptedProvider {
    scripts: Mutex<HashMap<String, VecDeque<Step>>>,
    defaults: Mutex<HashMap<String, Step>>,
    log: Mutex<Vec<CallRecord>>,
    quiet: std::sync::atomic::AtomicBool,
}

impl ScriptedProvider {
    /// A provider that answers every call with [`Step::Ok`].
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Queues `step` for the next call with `key_id`.
    pub fn push(&self, key_id: &str, step: Step) {
        self.scripts
            .lock()
            .entry(key_id.to_owned())
            .or_default()
            .push_back(step);
    }

    /// What `key_id` does once its queue is empty.
    pub fn set_default(&self, key_id: &str, step: Step) {
        self.defaults.lock().insert(key_id.to_owned(), step);
    }

    /// Stops (or resumes) logging calls, so benchmarks do not grow the log.
    pub fn set_log_enabled(&self, enabled: bool) {
        self.quiet
            .store(!enabled, std::sync::atomic::Ordering::Relaxed);
    }

    /// Every call so far, in order.
    pub fn calls(&self) -> Vec<CallRecord> {
        self.log.lock().clone()
    }

    /// The key ids of every call so far, in order.
    pub fn keys_called(&self) -> Vec<String> {
        self.log.lock().iter().map(|c| c.key_id.clone()).collect()
    }

    /// Forgets the log.
    pub fn clear_log(&self) {
        self.log.lock().clear();
    }

    fn next_step(&self, call: &ProviderCall, stream: bool) -> Step {
        let key = call.key.id().to_owned();
        self.log.lock().push(CallRecord {
            key_id: key.clone(),
            model: call.model.to_string(),
            stream,
        });
        if let Some(step) = self
            .scripts
            .lock()
            .get_mut(&key)
            .and_then(VecDeque::pop_front)
        {
            return step;
        }
        self.defaults.lock().get(&key).cloned().unwrap_or(Step::Ok)
    }
}

fn ok_reply(key: &str, model: &str, headroom: Option<Headroom>) -> ProviderReply {
    ProviderReply {
        content: format!("ok from {key}"),
        model: model.to_owned(),
        usage: Usage::new(10, 5),
        finish_reason: Some("stop".to_owned()),
        raw: serde_json::json!({"key": key}),
        headroom,
        upstream_provider: None,
        ..ProviderReply::default()
    }
}

impl Provider for ScriptedProvider {
    fn chat(&self, call: ProviderCall) -> BoxFuture<'static, Result<ProviderReply, ProviderError>> {
        let step = self.next_step(&call, false);
        let key = call.key.id().to_owned();
        let model = call.model.to_string();
        Box::pin(async move {
            match step {
                Step::Ok | Step::Stream(_) => Ok(ok_reply(&key, &model, None)),
                Step::OkWithHeadroom(h) => Ok(ok_reply(&key, &model, Some(h))),
                Step::Reply(content, usage) => Ok(ProviderReply {
                    content,
                    usage,
                    ..ok_reply(&key, &model, None)
                }),
                Step::Fail(error) => Err(error),
            }
        })
    }

    fn chat_stream(
        &self,
        call: ProviderCall,
    ) -> BoxFuture<'static, Result<ProviderStreamStart, ProviderError>> {
        let step = self.next_step(&call, true);
        let key = call.key.id().to_owned();
        Box::pin(async move {
            let events: Vec<Result<StreamDelta, ProviderError>> = match step {
                Step::Fail(error) => return Err(error),
                Step::Stream(events) => events,
                Step::Ok | Step::OkWithHeadroom(_) | Step::Reply(..) => {
                    let text = format!("ok from {key}");
                    let mut events: Vec<Result<StreamDelta, ProviderError>> = text
                        .split_inclusive(' ')
                        .map(|piece| {
                            Ok(StreamDelta {
                                delta: piece.to_owned(),
                                ..StreamDelta::default()
                            })
                        })
                        .collect();
                    events.push(Ok(StreamDelta {
                        finish_reason: Some("stop".to_owned()),
                        usage: Some(Usage::new(10, 5)),
                        ..StreamDelta::default()
                    }));
                    events
                }
            };
            Ok(ProviderStreamStart {
                headroom: None,
                events: Box::pin(futures_util::stream::iter(events)),
            })
        })
    }
}
