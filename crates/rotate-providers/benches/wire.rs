//! Wire costs: parsing a typical non-streamed reply (text, and a tool call of about the
//! same size), and SSE decoding throughput (the decoder alone, and decoder + OpenAI
//! chunk parsing).
#![allow(missing_docs)] // criterion's macros generate undocumented items

use std::collections::VecDeque;
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rotate_core::config::ProviderConfig;
use rotate_providers::events::StreamProtocol;
use rotate_providers::sse::SseDecoder;
use rotate_providers::{AnthropicWire, OpenAiWire, WireProtocol};

const OPENAI_REPLY: &[u8] = br#"{"id":"chatcmpl-AbC123","object":"chat.completion","created":1767225600,"model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"message":{"role":"assistant","content":"The capital of France is Paris. It is known for the Eiffel Tower, the Louvre, and its cafes.","refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":24,"completion_tokens":23,"total_tokens":47,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}},"service_tier":"default","system_fingerprint":"fp_0aa8d3e20b"}"#;

/// The same answer size, as one tool call (what an agent's turns look like).
const OPENAI_TOOL_CALL_REPLY: &[u8] = br#"{"id":"chatcmpl-AbC124","object":"chat.completion","created":1767225600,"model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[{"id":"call_Qm7x","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\",\"unit\":\"celsius\"}"}}],"refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":24,"completion_tokens":23,"total_tokens":47,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}},"service_tier":"default","system_fingerprint":"fp_0aa8d3e20b"}"#;

const ANTHROPIC_REPLY: &[u8] = br#"{"id":"msg_01XFDUDYJgAACzvnptvVoYEL","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[{"type":"text","text":"The capital of France is Paris. It is known for the Eiffel Tower, the Louvre, and its cafes."}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":24,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":23,"service_tier":"standard"}}"#;

fn transcript(chunks: usize) -> Vec<u8> {
    let mut out = String::new();
    for i in 0..chunks {
        out.push_str(&format!(
            "data: {{\"id\":\"chatcmpl-AbC123\",\"object\":\"chat.completion.chunk\",\"created\":1767225600,\"model\":\"gpt-4o-mini\",\"system_fingerprint\":\"fp_0aa8d3e20b\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"word{i} \"}},\"logprobs\":null,\"finish_reason\":null}}],\"usage\":null,\"obfuscation\":\"x7Yz\"}}\n\n"
        ));
    }
    out.push_str("data: [DONE]\n\n");
    out.into_bytes()
}

fn parse(c: &mut Criterion) {
    let openai = OpenAiWire::new("openai", &ProviderConfig::default()).expect("wire");
    let anthropic = AnthropicWire::new("anthropic", &ProviderConfig::default()).expect("wire");
    let mut group = c.benchmark_group("parse");
    group.bench_function("openai_reply", |b| {
        b.iter(|| openai.parse_reply(black_box(OPENAI_REPLY)).expect("parses"))
    });
    group.bench_function("openai_tool_call_reply", |b| {
        b.iter(|| {
            let reply = openai
                .parse_reply(black_box(OPENAI_TOOL_CALL_REPLY))
                .expect("parses");
            assert_eq!(reply.tool_calls.len(), 1);
            reply
        })
    });
    group.bench_function("anthropic_reply", |b| {
        b.iter(|| {
            anthropic
                .parse_reply(black_box(ANTHROPIC_REPLY))
                .expect("parses")
        })
    });
    group.finish();
}

fn sse(c: &mut Criterion) {
    let bytes = transcript(4_000);
    let mut group = c.benchmark_group("sse");
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    group.bench_function("decode", |b| {
        b.iter(|| {
            let mut decoder = SseDecoder::new();
            let mut events = 0usize;
            for piece in bytes.chunks(8 * 1024) {
                decoder
                    .feed(piece, &mut |e| {
                        events += e.data.len();
                        Ok(())
                    })
                    .expect("decodes");
            }
            black_box(events)
        })
    });
    let openai = OpenAiWire::new("openai", &ProviderConfig::default()).expect("wire");
    group.bench_function("decode_and_parse_openai", |b| {
        b.iter(|| {
            let mut decoder = SseDecoder::new();
            let mut protocol = openai.stream_protocol();
            let mut out = VecDeque::new();
            for piece in bytes.chunks(8 * 1024) {
                decoder
                    .feed(piece, &mut |e| protocol.on_event(e, &mut out))
                    .expect("decodes");
                out.clear();
            }
            black_box(protocol.finished())
        })
    });
    group.finish();
}

criterion_group!(benches, parse, sse);
criterion_main!(benches);
