//! The calls' and attempts' `tracing` spans, with the OpenTelemetry GenAI semantic
//! conventions' attributes, so that any `tracing` exporter (an OTLP one through
//! `tracing-opentelemetry` included) shows them as GenAI spans. Spans are at `debug`
//! level: enable `llm_rotate=debug` (or `rotate_core=debug`) to export them.
//!
//! A call span (`llm_rotate.chat`, …) carries `gen_ai.operation.name` and
//! `gen_ai.request.model`, and when it succeeds `gen_ai.provider.name`,
//! `gen_ai.response.model`, `gen_ai.usage.input_tokens`, `gen_ai.usage.output_tokens`,
//! `gen_ai.response.finish_reasons`, `llm_rotate.key_id` and `llm_rotate.outcome`; each
//! attempt span (`llm_rotate.attempt`) the provider, the key id, the upstream model, its
//! number and its outcome (`ok` or the error kind). Message content is never recorded.

use tracing::field::Empty;
use tracing::Span;

use crate::response::ChatResponse;

/// A call span named `$name`, with every GenAI attribute, those known only at the end
/// left empty.
macro_rules! call_span {
    ($name:literal, $operation:expr, $model:expr) => {
        tracing::debug_span!(
            $name,
            gen_ai.operation.name = $operation,
            gen_ai.request.model = %$model,
            gen_ai.provider.name = Empty,
            gen_ai.response.model = Empty,
            gen_ai.usage.input_tokens = Empty,
            gen_ai.usage.output_tokens = Empty,
            gen_ai.response.finish_reasons = Empty,
            llm_rotate.key_id = Empty,
            llm_rotate.outcome = Empty,
        )
    };
}

/// The span of one call of `operation` (`chat`, `generate_content`) for `model`; span
/// names are static, so each kind of call has its own.
pub(crate) fn call_span(name: &'static str, operation: &'static str, model: &str) -> Span {
    match name {
        "llm_rotate.chat_stream" => call_span!("llm_rotate.chat_stream", operation, model),
        "llm_rotate.generate_content" => {
            call_span!("llm_rotate.generate_content", operation, model)
        }
        _ => call_span!("llm_rotate.chat", operation, model),
    }
}

/// Records a whole call's answer on its span.
pub(crate) fn record_answer(span: &Span, answer: &ChatResponse) {
    span.record("gen_ai.provider.name", answer.provider.as_str());
    span.record("gen_ai.response.model", answer.model.as_str());
    span.record("gen_ai.usage.input_tokens", answer.usage.prompt_tokens);
    span.record("gen_ai.usage.output_tokens", answer.usage.completion_tokens);
    if let Some(reason) = &answer.finish_reason {
        span.record("gen_ai.response.finish_reasons", reason.as_str());
    }
    span.record("llm_rotate.key_id", answer.key_id.as_str());
    span.record("llm_rotate.outcome", "ok");
}

/// Records how a call ended: the kind of its error.
pub(crate) fn record_failure(span: &Span, kind: &str) {
    span.record("llm_rotate.outcome", kind);
}

/// The span of attempt number `n` with a key of `provider`.
pub(crate) fn attempt_span(provider: &str, key_id: &str, model: &str, n: usize) -> Span {
    tracing::debug_span!(
        "llm_rotate.attempt",
        gen_ai.provider.name = %provider,
        gen_ai.request.model = %model,
        llm_rotate.key_id = %key_id,
        llm_rotate.attempt = n,
        llm_rotate.outcome = Empty,
    )
}
