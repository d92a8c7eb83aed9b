//! The `otel` feature end to end: a gateway pointed at an in-process OTLP/HTTP receiver
//! exports a call span and its attempt spans with the GenAI attributes, decoded here
//! from the protobuf the collector would get, and never the prompt or a key's value.
#![cfg(feature = "otel")]
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

#[path = "support/gateway_process.rs"]
mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use rotate_testkit::{Behavior, FakeUpstream};
use serde_json::json;
use support::{config, GatewayProcess};

const PROMPT: &str = "a prompt that must never leave as telemetry";

/// Accepts OTLP/HTTP exports on 127.0.0.1 and keeps every span.
async fn receiver() -> (String, Arc<Mutex<Vec<Span>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let spans = Arc::new(Mutex::new(Vec::new()));
    let kept = spans.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let kept = kept.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(
                    move |request: http::Request<hyper::body::Incoming>| {
                        let kept = kept.clone();
                        async move {
                            assert_eq!(request.uri().path(), "/v1/traces");
                            let body = request.into_body().collect().await.unwrap().to_bytes();
                            let export = ExportTraceServiceRequest::decode(body).unwrap();
                            for resource in export.resource_spans {
                                for scope in resource.scope_spans {
                                    kept.lock().unwrap().extend(scope.spans);
                                }
                            }
                            Ok::<_, std::convert::Infallible>(
                                Response::builder()
                                    .status(StatusCode::OK)
                                    .header("content-type", "application/x-protobuf")
                                    .body(Full::new(Bytes::new()))
                                    .unwrap(),
                            )
                        }
                    },
                );
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (url, spans)
}

fn attributes(span: &Span) -> HashMap<String, String> {
    span.attributes
        .iter()
        .map(|kv| {
            let value = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                Some(AnyValue::StringValue(s)) => s.clone(),
                Some(AnyValue::IntValue(i)) => i.to_string(),
                Some(AnyValue::BoolValue(b)) => b.to_string(),
                Some(AnyValue::DoubleValue(d)) => d.to_string(),
                other => format!("{other:?}"),
            };
            (kv.key.clone(), value)
        })
        .collect()
}

#[allow(clippy::disallowed_methods)] // waits for a real batch exporter in another process
async fn pause() {
    tokio::time::sleep(Duration::from_millis(50)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_and_attempt_spans_reach_the_collector_with_gen_ai_attributes() {
    let (collector, spans) = receiver().await;
    let upstream = FakeUpstream::start().await.unwrap();
    let mut config = config(&upstream, &[("a", "openai"), ("b", "openai")]);
    config["gateway"]["otel_endpoint"] = json!(collector);
    // the first attempt fails on a, the retry succeeds on b
    upstream.set_default("sk-test-a", Behavior::ServerError(500));
    let gateway = GatewayProcess::start_with_env(&config, &[("OTEL_BSP_SCHEDULE_DELAY", "50")]);
    let ask = json!({"model": "gpt-4o", "messages": [{"role": "user", "content": PROMPT}]});
    let (status, _, body) = gateway.post_json("/v1/chat/completions", &ask).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let mut call = None;
    for _ in 0..200 {
        call = spans
            .lock()
            .unwrap()
            .iter()
            .find(|s| s.name == "llm_rotate.chat")
            .cloned();
        if call.is_some() {
            break;
        }
        pause().await;
    }
    let call = call.expect("the call span was exported");
    let attrs = attributes(&call);
    assert_eq!(attrs["gen_ai.operation.name"], "chat", "{attrs:?}");
    assert_eq!(attrs["gen_ai.request.model"], "gpt-4o");
    assert_eq!(attrs["gen_ai.provider.name"], "openai");
    assert_eq!(attrs["gen_ai.response.model"], "gpt-4o");
    // the tokens the client was told of
    let usage = &body["usage"];
    assert_eq!(
        attrs["gen_ai.usage.output_tokens"],
        usage["completion_tokens"].to_string()
    );
    assert_eq!(
        attrs["gen_ai.usage.input_tokens"],
        usage["prompt_tokens"].to_string()
    );
    assert_eq!(attrs["gen_ai.response.finish_reasons"], "stop");
    assert_eq!(attrs["llm_rotate.key_id"], "b");
    assert_eq!(attrs["llm_rotate.outcome"], "ok");

    // the attempts are the call's children: a failed with a server error, b served
    let all = spans.lock().unwrap().clone();
    let mut attempts: Vec<HashMap<String, String>> = all
        .iter()
        .filter(|s| s.name == "llm_rotate.attempt" && s.parent_span_id == call.span_id)
        .map(attributes)
        .collect();
    attempts.sort_by(|x, y| x["llm_rotate.key_id"].cmp(&y["llm_rotate.key_id"]));
    assert_eq!(attempts.len(), 2, "{attempts:?}");
    assert_eq!(attempts[0]["llm_rotate.outcome"], "server_error");
    assert_eq!(attempts[1]["llm_rotate.outcome"], "ok");
    assert_eq!(attempts[1]["gen_ai.provider.name"], "openai");

    // neither the prompt nor a key's value is in any exported attribute
    for span in &all {
        for value in attributes(span).values() {
            assert!(!value.contains(PROMPT), "{}: {value}", span.name);
            assert!(!value.contains("sk-test-"), "{}: {value}", span.name);
        }
    }
}
