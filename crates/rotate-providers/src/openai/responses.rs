//! OpenAI's Responses API for passthrough calls (`POST …/responses`; Azure's
//! `openai/responses?api-version=`): the client's body with the model set, the answer
//! read for accounting (`output[]` messages and function calls, `usage` with
//! `input_tokens` / `output_tokens`, `status`), and its `response.*` event stream, whose
//! terminal events are `response.completed`, `response.incomplete` and
//! `response.failed` (there is no `[DONE]`).

use std::collections::VecDeque;

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use rotate_core::error::{ErrorKind, ProviderError};
use rotate_core::passthrough::Passthrough;
use rotate_core::provider::{ProviderCall, ProviderReply, StreamDelta};
use rotate_core::response::Usage;
use rotate_core::tool::{ToolCall, ToolCallDelta};
use serde_json::Value;

use super::request::target_of;
use super::OpenAiWire;
use crate::errors::malformed;
use crate::json::{count, field};
use crate::request::json_request;
use crate::sse::SseEvent;

/// The request of a Responses call carrying the client's body.
pub(crate) fn build(
    wire: &OpenAiWire,
    call: &ProviderCall,
    pass: &Passthrough,
    stream: bool,
) -> Result<Request<Full<Bytes>>, ProviderError> {
    let (uri, headers) = target_of(wire, call, "responses", "deployment", stream)?;
    // Azure's Responses URL holds no deployment: the body's model names it
    let model = match call.key.metadata().get("deployment") {
        Some(deployment) if wire.azure => deployment.clone(),
        _ => call.model.to_string(),
    };
    let uri = if wire.azure { azure_uri(&uri) } else { uri };
    let model = ("model", Value::from(model));
    let body = if stream {
        pass.write_with(&[model, ("stream", Value::Bool(true))], &[])
    } else {
        pass.write_with(&[model], &["stream"])
    };
    json_request(&uri, headers, body)
}

/// `…/openai/deployments/{d}/responses?api-version=V` as `…/openai/responses?api-version=V`.
fn azure_uri(uri: &str) -> String {
    match (uri.find("/openai/deployments/"), uri.rfind("/responses")) {
        (Some(start), Some(end)) if start < end => {
            format!("{}/openai{}", &uri[..start], &uri[end..])
        }
        _ => uri.to_owned(),
    }
}

/// `usage` of a response: `input_tokens`, `output_tokens` and their details.
fn usage_of(v: Option<&Value>) -> Result<Usage, ProviderError> {
    let Some(v) = v.filter(|u| u.is_object()) else {
        return Ok(Usage::default());
    };
    let n = |path: &[&str]| count(v, path, "usage").map(Option::unwrap_or_default);
    let prompt = n(&["input_tokens"])?;
    let completion = n(&["output_tokens"])?;
    Ok(Usage {
        prompt_tokens: prompt,
        completion_tokens: completion,
        total_tokens: count(v, &["total_tokens"], "usage")?.unwrap_or(prompt + completion),
        cached_tokens: n(&["input_tokens_details", "cached_tokens"])?,
        reasoning_tokens: n(&["output_tokens_details", "reasoning_tokens"])?,
        ..Usage::default()
    })
}

/// The normalised finish of a response object.
fn finish_of(response: &Value, calls: bool) -> Option<String> {
    match field(response, "status").and_then(Value::as_str)? {
        "completed" if calls => Some("tool_calls".to_owned()),
        "completed" => Some("stop".to_owned()),
        "incomplete" => {
            let reason = response
                .pointer("/incomplete_details/reason")
                .and_then(Value::as_str);
            Some(match reason {
                Some("max_output_tokens") => "length".to_owned(),
                Some("content_filter") => "content_filter".to_owned(),
                Some(other) => other.to_owned(),
                None => "length".to_owned(),
            })
        }
        other => Some(other.to_owned()),
    }
}

/// Parses a response object (a whole answer, or the one `response.completed` carries).
pub(crate) fn parse_value(raw: Value) -> Result<ProviderReply, ProviderError> {
    let Some(output) = raw.get("output").and_then(Value::as_array) else {
        return Err(malformed("response", "no `output` list"));
    };
    let mut content = String::new();
    let mut tool_calls = Vec::new();
    let mut refusal = None;
    for item in output {
        match field(item, "type").and_then(Value::as_str) {
            Some("message") => {
                for part in item
                    .get("content")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    match field(part, "type").and_then(Value::as_str) {
                        Some("output_text") => {
                            content
                                .push_str(part.get("text").and_then(Value::as_str).unwrap_or(""));
                        }
                        Some("refusal") => {
                            refusal = part
                                .get("refusal")
                                .and_then(Value::as_str)
                                .map(str::to_owned);
                        }
                        _ => {}
                    }
                }
            }
            Some("function_call") => {
                let text = |k: &str| item.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
                tool_calls.push(ToolCall::new(
                    text("call_id"),
                    text("name"),
                    text("arguments"),
                ));
            }
            _ => {}
        }
    }
    Ok(ProviderReply {
        content,
        model: raw
            .get("model")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned(),
        usage: usage_of(raw.get("usage"))?,
        finish_reason: finish_of(&raw, !tool_calls.is_empty()),
        tool_calls,
        refusal,
        raw,
        ..ProviderReply::default()
    })
}

/// Parses a successful Responses body.
pub(crate) fn parse(body: &[u8]) -> Result<ProviderReply, ProviderError> {
    let raw: Value = serde_json::from_slice(body).map_err(|e| malformed("response", e))?;
    parse_value(raw)
}

/// The state of a `response.*` stream: whether its terminal event came, and whether the
/// answer called tools.
#[derive(Debug, Default)]
pub(crate) struct ResponsesState {
    pub(crate) done: bool,
    calls: bool,
}

/// Handles one `response.*` event.
pub(crate) fn on_event(
    state: &mut ResponsesState,
    event: SseEvent<'_>,
    out: &mut VecDeque<StreamDelta>,
) -> Result<(), ProviderError> {
    let Some(data) = event.json("response event")? else {
        return Ok(());
    };
    let kind = data
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or(event.event);
    let index = || {
        data.get("output_index")
            .and_then(Value::as_u64)
            .and_then(|i| u32::try_from(i).ok())
            .unwrap_or(0)
    };
    match kind {
        "response.output_text.delta" => {
            let delta = data.get("delta").and_then(Value::as_str).unwrap_or("");
            out.push_back(StreamDelta {
                delta: delta.to_owned(),
                ..StreamDelta::default()
            });
        }
        "response.output_item.added"
            if data.pointer("/item/type").and_then(Value::as_str) == Some("function_call") =>
        {
            state.calls = true;
            let text = |k: &str| {
                data.pointer(&format!("/item/{k}"))
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            };
            out.push_back(StreamDelta {
                tool_calls: vec![ToolCallDelta {
                    index: index(),
                    id: text("call_id"),
                    name: text("name"),
                    arguments: String::new(),
                }],
                ..StreamDelta::default()
            });
        }
        "response.function_call_arguments.delta" => {
            let delta = data.get("delta").and_then(Value::as_str).unwrap_or("");
            out.push_back(StreamDelta {
                tool_calls: vec![ToolCallDelta {
                    index: index(),
                    id: None,
                    name: None,
                    arguments: delta.to_owned(),
                }],
                ..StreamDelta::default()
            });
        }
        "response.completed" | "response.incomplete" => {
            state.done = true;
            let response = data.get("response").cloned().unwrap_or(Value::Null);
            out.push_back(StreamDelta {
                finish_reason: finish_of(&response, state.calls),
                usage: Some(usage_of(response.get("usage"))?),
                ..StreamDelta::default()
            });
        }
        "response.failed" | "error" => {
            let error = data
                .pointer("/response/error")
                .or_else(|| data.get("error"))
                .unwrap_or(&data);
            let message = error
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("the response failed")
                .to_owned();
            let code = error.get("code").and_then(Value::as_str).unwrap_or("");
            let kind = match code {
                "rate_limit_exceeded" => ErrorKind::RateLimited,
                "insufficient_quota" => ErrorKind::QuotaExhausted,
                "context_length_exceeded" => ErrorKind::ContextLength,
                _ => ErrorKind::ServerError,
            };
            return Err(ProviderError::new(kind, message));
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_response_object_reads_text_calls_usage_and_finish() {
        let body = json!({"id": "resp_1", "object": "response", "status": "completed", "model": "gpt-4o",
            "output": [{"type": "reasoning", "id": "rs_1", "summary": []},
                       {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Hi", "annotations": []}]},
                       {"type": "function_call", "call_id": "call_1", "name": "f", "arguments": "{}"}],
            "usage": {"input_tokens": 5, "output_tokens": 3, "total_tokens": 8, "output_tokens_details": {"reasoning_tokens": 1}}});
        let reply = parse(body.to_string().as_bytes()).unwrap();
        assert_eq!(reply.content, "Hi");
        assert_eq!(reply.tool_calls, vec![ToolCall::new("call_1", "f", "{}")]);
        assert_eq!(reply.finish_reason.as_deref(), Some("tool_calls"));
        assert_eq!(
            (
                reply.usage.prompt_tokens,
                reply.usage.completion_tokens,
                reply.usage.reasoning_tokens
            ),
            (5, 3, 1)
        );
        let cut = json!({"status": "incomplete", "incomplete_details": {"reason": "max_output_tokens"}, "output": []});
        assert_eq!(
            parse(cut.to_string().as_bytes())
                .unwrap()
                .finish_reason
                .as_deref(),
            Some("length")
        );
        assert_eq!(parse(b"{}").unwrap_err().kind, ErrorKind::Decode);
        assert_eq!(
            azure_uri("https://r.openai.azure.com/openai/deployments/d/responses?api-version=v"),
            "https://r.openai.azure.com/openai/responses?api-version=v"
        );
    }

    #[test]
    fn events_read_text_calls_and_the_terminal_event() {
        let mut state = ResponsesState::default();
        let mut out = VecDeque::new();
        for data in [
            r#"{"type":"response.created","response":{"status":"in_progress","output":[]}}"#,
            r#"{"type":"response.output_text.delta","output_index":0,"delta":"Hel"}"#,
            r#"{"type":"response.output_item.added","output_index":1,"item":{"type":"function_call","call_id":"call_1","name":"f","arguments":""}}"#,
            r#"{"type":"response.function_call_arguments.delta","output_index":1,"delta":"{}"}"#,
            r#"{"type":"response.completed","response":{"status":"completed","output":[],"usage":{"input_tokens":2,"output_tokens":4}}}"#,
        ] {
            on_event(&mut state, SseEvent { event: "", data }, &mut out).unwrap();
        }
        assert!(state.done);
        let deltas: Vec<StreamDelta> = out.into_iter().collect();
        assert_eq!(deltas[0].delta, "Hel");
        assert_eq!(deltas[1].tool_calls[0].name.as_deref(), Some("f"));
        assert_eq!(deltas[2].tool_calls[0].arguments, "{}");
        assert_eq!(deltas[3].finish_reason.as_deref(), Some("tool_calls"));
        assert_eq!(deltas[3].usage.unwrap().completion_tokens, 4);
        let failed = r#"{"type":"response.failed","response":{"status":"failed","error":{"code":"rate_limit_exceeded","message":"slow down"}}}"#;
        let error = on_event(
            &mut ResponsesState::default(),
            SseEvent {
                event: "",
                data: failed,
            },
            &mut VecDeque::new(),
        )
        .unwrap_err();
        assert_eq!(error.kind, ErrorKind::RateLimited);
    }
}
