//! The response bodies of the OpenAI routes, serialized straight from typed values: a
//! `chat.completion` object, `chat.completion.chunk` events and the usage block both
//! share.

use std::borrow::Cow;

use llm_rotate::{ChatResponse, StreamChunk, Usage};
use serde::Serialize;

/// `chat.completion`.
#[derive(Serialize)]
pub struct Completion<'a> {
    id: &'a str,
    object: &'static str,
    created: u64,
    model: &'a str,
    choices: [Choice<'a>; 1],
    usage: UsageBlock,
    system_fingerprint: Option<()>,
}

#[derive(Serialize)]
struct Choice<'a> {
    index: u32,
    message: Message<'a>,
    logprobs: Option<()>,
    finish_reason: Cow<'static, str>,
}

#[derive(Serialize)]
struct Message<'a> {
    role: &'static str,
    /// `null` when the model only called tools.
    content: Option<&'a str>,
    refusal: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tool_calls: Vec<CallBlock<'a>>,
}

/// One tool call, as `{id, type: function, function: {name, arguments}}`.
#[derive(Serialize)]
struct CallBlock<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    index: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
    function: FunctionBlock<'a>,
}

#[derive(Serialize)]
struct FunctionBlock<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    arguments: &'a str,
}

impl<'a> Completion<'a> {
    /// The object for `answer`, named `id`, made at `created` (Unix seconds).
    pub fn of(answer: &'a ChatResponse, id: &'a str, created: u64) -> Self {
        Self {
            id,
            object: "chat.completion",
            created,
            model: &answer.model,
            choices: [Choice {
                index: 0,
                message: Message {
                    role: "assistant",
                    content: (!answer.content.is_empty() || answer.tool_calls.is_empty())
                        .then_some(answer.content.as_str()),
                    refusal: answer.refusal.as_deref(),
                    tool_calls: answer
                        .tool_calls
                        .iter()
                        .map(|call| CallBlock {
                            index: None,
                            id: Some(&call.id),
                            kind: Some("function"),
                            function: FunctionBlock {
                                name: Some(&call.name),
                                arguments: &call.arguments,
                            },
                        })
                        .collect(),
                },
                logprobs: None,
                finish_reason: finish_reason(answer.finish_reason.as_deref())
                    .unwrap_or(Cow::Borrowed("stop")),
            }],
            usage: UsageBlock::of(&answer.usage),
            system_fingerprint: None,
        }
    }
}

/// `chat.completion.chunk`: one delta, or (with no choices) the closing usage.
#[derive(Serialize)]
pub struct Chunk<'a> {
    id: &'a str,
    object: &'static str,
    created: u64,
    model: &'a str,
    choices: Vec<ChunkChoice<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    usage: Option<UsageBlock>,
}

#[derive(Serialize)]
struct ChunkChoice<'a> {
    index: u32,
    delta: Delta<'a>,
    logprobs: Option<()>,
    finish_reason: Option<Cow<'static, str>>,
}

#[derive(Serialize)]
struct Delta<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<&'static str>,
    content: &'a str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tool_calls: Vec<CallBlock<'a>>,
}

impl<'a> Chunk<'a> {
    /// The event for `chunk` (`first`: the one that names the role).
    pub fn delta(chunk: &'a StreamChunk, id: &'a str, created: u64, first: bool) -> Self {
        Self {
            id,
            object: "chat.completion.chunk",
            created,
            model: &chunk.model,
            choices: vec![ChunkChoice {
                index: 0,
                delta: Delta {
                    role: first.then_some("assistant"),
                    content: &chunk.delta,
                    tool_calls: chunk
                        .tool_calls
                        .iter()
                        .map(|piece| CallBlock {
                            index: Some(piece.index),
                            id: piece.id.as_deref(),
                            kind: piece.id.as_ref().map(|_| "function"),
                            function: FunctionBlock {
                                name: piece.name.as_deref(),
                                arguments: &piece.arguments,
                            },
                        })
                        .collect(),
                },
                logprobs: None,
                finish_reason: finish_reason(chunk.finish_reason.as_deref()),
            }],
            usage: None,
        }
    }

    /// The closing event that carries the stream's usage.
    pub fn usage(usage: &Usage, model: &'a str, id: &'a str, created: u64) -> Self {
        Self {
            id,
            object: "chat.completion.chunk",
            created,
            model,
            choices: Vec::new(),
            usage: Some(UsageBlock::of(usage)),
        }
    }
}

/// OpenAI's `usage` object.
#[derive(Serialize)]
struct UsageBlock {
    prompt_tokens: u64,
    completion_tokens: u64,
    total_tokens: u64,
    prompt_tokens_details: CachedTokens,
    completion_tokens_details: ReasoningTokens,
}

#[derive(Serialize)]
struct CachedTokens {
    cached_tokens: u64,
}

#[derive(Serialize)]
struct ReasoningTokens {
    reasoning_tokens: u64,
}

impl UsageBlock {
    fn of(usage: &Usage) -> Self {
        Self {
            prompt_tokens: usage.prompt_tokens,
            completion_tokens: usage.completion_tokens,
            total_tokens: usage.total_tokens,
            prompt_tokens_details: CachedTokens {
                cached_tokens: usage.cached_tokens,
            },
            completion_tokens_details: ReasoningTokens {
                reasoning_tokens: usage.reasoning_tokens,
            },
        }
    }
}

/// OpenAI's finish reason for a vendor's (unknown ones lower-cased).
fn finish_reason(reason: Option<&str>) -> Option<Cow<'static, str>> {
    Some(Cow::Borrowed(match reason? {
        "stop" | "end_turn" | "STOP" | "stop_sequence" => "stop",
        "length" | "max_tokens" | "MAX_TOKENS" => "length",
        "tool_calls" | "tool_use" => "tool_calls",
        "refusal" => "stop",
        "content_filter" | "SAFETY" | "PROHIBITED_CONTENT" | "BLOCKLIST" | "SPII"
        | "RECITATION" => "content_filter",
        other => return Some(Cow::Owned(other.to_ascii_lowercase())),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn to_value(value: &impl Serialize) -> Value {
        serde_json::to_value(value).unwrap_or_default()
    }

    #[test]
    fn completion_has_the_shape_openai_clients_read() {
        let answer = ChatResponse {
            content: "Hello \"you\"".into(),
            provider: "openai".into(),
            model: "gpt-4o-2024".into(),
            key_id: "k1".into(),
            usage: Usage {
                prompt_tokens: 3,
                completion_tokens: 4,
                total_tokens: 7,
                cached_tokens: 1,
                reasoning_tokens: 2,
                cache_write_tokens: 0,
            },
            cost_usd: None,
            latency_ms: 1.0,
            finish_reason: Some("MAX_TOKENS".into()),
            tool_calls: Vec::new(),
            reasoning: Vec::new(),
            refusal: None,
            raw: Value::Null,
            passthrough: false,
        };
        assert_eq!(
            to_value(&Completion::of(&answer, "chatcmpl-1", 99)),
            json!({
                "id": "chatcmpl-1", "object": "chat.completion", "created": 99, "model": "gpt-4o-2024",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello \"you\"", "refusal": null},
                             "logprobs": null, "finish_reason": "length"}],
                "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7,
                          "prompt_tokens_details": {"cached_tokens": 1},
                          "completion_tokens_details": {"reasoning_tokens": 2}},
                "system_fingerprint": null
            })
        );
    }

    #[test]
    fn tool_calls_go_out_in_openai_form() {
        let answer = ChatResponse {
            content: String::new(),
            provider: "anthropic".into(),
            model: "claude".into(),
            key_id: "k1".into(),
            usage: Usage::default(),
            cost_usd: None,
            latency_ms: 1.0,
            finish_reason: Some("tool_use".into()),
            tool_calls: vec![llm_rotate::ToolCall::new(
                "toolu_1",
                "weather",
                r#"{"city":"Paris"}"#,
            )],
            reasoning: Vec::new(),
            refusal: None,
            raw: Value::Null,
            passthrough: false,
        };
        let value = to_value(&Completion::of(&answer, "c", 1));
        assert_eq!(
            value["choices"][0]["message"],
            json!({"role": "assistant", "content": null, "refusal": null, "tool_calls": [
                {"id": "toolu_1", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"}}
            ]})
        );
        assert_eq!(value["choices"][0]["finish_reason"], "tool_calls");
        let piece = StreamChunk {
            delta: String::new(),
            tool_calls: vec![llm_rotate::ToolCallDelta {
                index: 0,
                id: None,
                name: None,
                arguments: "{\"ci".into(),
            }],
            reasoning: None,
            reasoning_signature: None,
            finish_reason: None,
            provider: "openai".into(),
            model: "m".into(),
            ..StreamChunk::default()
        };
        assert_eq!(
            to_value(&Chunk::delta(&piece, "c", 1, false))["choices"][0]["delta"],
            json!({"content": "", "tool_calls": [{"index": 0, "function": {"arguments": "{\"ci"}}]})
        );
    }

    #[test]
    fn chunks_name_the_role_once_and_close_with_usage() {
        let chunk = StreamChunk {
            delta: "Hi".into(),
            tool_calls: Vec::new(),
            reasoning: None,
            reasoning_signature: None,
            finish_reason: None,
            provider: "anthropic".into(),
            model: "claude".into(),
            ..StreamChunk::default()
        };
        let first = to_value(&Chunk::delta(&chunk, "c", 5, true));
        assert_eq!(
            first["choices"],
            json!([{"index": 0, "delta": {"role": "assistant", "content": "Hi"}, "logprobs": null, "finish_reason": null}])
        );
        assert!(first.get("usage").is_none());
        let last = StreamChunk {
            finish_reason: Some("end_turn".into()),
            ..chunk
        };
        let later = to_value(&Chunk::delta(&last, "c", 5, false));
        assert_eq!(later["choices"][0]["delta"], json!({"content": "Hi"}));
        assert_eq!(later["choices"][0]["finish_reason"], json!("stop"));
        let usage = to_value(&Chunk::usage(&Usage::new(2, 3), "claude", "c", 5));
        assert_eq!(usage["choices"], json!([]));
        assert_eq!(usage["usage"]["total_tokens"], json!(5));
        assert_eq!(usage["object"], json!("chat.completion.chunk"));
    }

    #[test]
    fn vendor_finish_reasons_map_to_openai_ones() {
        for (vendor, openai) in [
            ("end_turn", "stop"),
            ("STOP", "stop"),
            ("max_tokens", "length"),
            ("tool_use", "tool_calls"),
            ("SAFETY", "content_filter"),
            ("MALFORMED_FUNCTION_CALL", "malformed_function_call"),
        ] {
            assert_eq!(finish_reason(Some(vendor)).as_deref(), Some(openai));
        }
        assert_eq!(finish_reason(None), None);
    }
}
