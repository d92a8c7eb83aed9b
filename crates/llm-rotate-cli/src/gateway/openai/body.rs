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
    content: &'a str,
    refusal: Option<()>,
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
                    content: &answer.content,
                    refusal: None,
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
        "content_filter" | "SAFETY" | "PROHIBITED_CONTENT" | "BLOCKLIST" | "SPII"
        | "RECITATION" => "content_filter",
        other => return Some(Cow::Owned(other.to_ascii_lowercase())),
    }))
}
