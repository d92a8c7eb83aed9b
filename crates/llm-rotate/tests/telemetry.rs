//! The calls' and attempts' spans carry the OpenTelemetry GenAI attributes (and never a
//! message's content), as any `tracing` layer, an OTLP exporter's included, sees them.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use llm_rotate::{ChatMessage, ChatOptions, LMRotate, LMRotateConfig};
use rotate_testkit::{Behavior, FakeUpstream};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

/// A span's name and its fields.
type Recorded = (String, BTreeMap<String, String>);

/// Every span's name and fields, as recorded.
#[derive(Clone, Default)]
struct Spans(Arc<Mutex<Vec<Recorded>>>);

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

/// The span's index in the list, kept in its extensions.
struct Index(usize);

impl<S> Layer<S> for Spans
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut fields = BTreeMap::new();
        attrs.record(&mut Fields(&mut fields));
        let mut spans = self.0.lock().unwrap();
        spans.push((attrs.metadata().name().to_owned(), fields));
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(Index(spans.len() - 1));
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let Some(index) = span.extensions().get::<Index>().map(|i| i.0) else {
            return;
        };
        values.record(&mut Fields(&mut self.0.lock().unwrap()[index].1));
    }
}

impl Spans {
    fn named(&self, name: &str) -> Vec<BTreeMap<String, String>> {
        let spans = self.0.lock().unwrap();
        spans
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, f)| f.clone())
            .collect()
    }
}

#[tokio::test]
async fn call_and_attempt_spans_carry_the_gen_ai_attributes() {
    let spans = Spans::default();
    let subscriber = tracing_subscriber::registry().with(spans.clone());
    let _guard = tracing::subscriber::set_default(subscriber);
    let upstream = FakeUpstream::start().await.unwrap();
    upstream.script("sk-test-a", [Behavior::ServerError(500)]);
    let config = upstream.config(
        &[("a", "openai"), ("b", "openai")],
        serde_json::json!({"selection_strategy": "round_robin"}),
    );
    let client = LMRotate::new(LMRotateConfig::from_value(config).unwrap()).unwrap();
    let secret_prompt = "the launch code is 0000";
    let reply = client
        .chat(
            "gpt-4o-mini",
            &[ChatMessage::user(secret_prompt)],
            ChatOptions::default(),
        )
        .await
        .unwrap();

    let calls = spans.named("llm_rotate.chat");
    assert_eq!(calls.len(), 1);
    let call = &calls[0];
    assert_eq!(call["gen_ai.operation.name"], "chat");
    assert_eq!(call["gen_ai.request.model"], "gpt-4o-mini");
    assert_eq!(call["gen_ai.provider.name"], "openai");
    assert_eq!(call["gen_ai.response.model"], reply.model);
    assert_eq!(
        call["gen_ai.usage.input_tokens"],
        reply.usage.prompt_tokens.to_string()
    );
    assert_eq!(
        call["gen_ai.usage.output_tokens"],
        reply.usage.completion_tokens.to_string()
    );
    assert_eq!(call["gen_ai.response.finish_reasons"], "stop");
    assert_eq!(call["llm_rotate.key_id"], "b");
    assert_eq!(call["llm_rotate.outcome"], "ok");

    let attempts = spans.named("llm_rotate.attempt");
    assert_eq!(attempts.len(), 2);
    assert_eq!(attempts[0]["llm_rotate.key_id"], "a");
    assert_eq!(attempts[0]["llm_rotate.outcome"], "server_error");
    assert_eq!(attempts[1]["llm_rotate.key_id"], "b");
    assert_eq!(attempts[1]["llm_rotate.outcome"], "ok");
    assert_eq!(attempts[1]["gen_ai.provider.name"], "openai");

    let everything = format!("{:?}", spans.0.lock().unwrap());
    assert!(
        !everything.contains("launch code"),
        "message content in a span"
    );
    assert!(!everything.contains("sk-test"), "a key in a span");
}
