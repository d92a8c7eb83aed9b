//! Conversations beyond text against the fake upstream: two-turn tool loops on the
//! OpenAI protocol, Anthropic (with signed thinking) and Gemini (with thought
//! signatures), the exact bodies sent, tool calls back streamed and not, loops that
//! cross vendors mid-conversation, media parts in each vendor's form, refusals, a stream
//! cut inside a tool call, requests no vendor could take refused before any call, and a
//! plan entry whose vendor cannot carry the conversation skipped with the reason.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use llm_rotate::{
    ChatMessage, ChatOptions, ContentPart, ErrorKind, LMRotate, LMRotateConfig, LMRotateError,
    Role, ToolCall, ToolChoice, ToolSpec,
};
use rotate_testkit::{Api, Behavior, FakeUpstream};
use serde_json::json;

fn client(upstream: &FakeUpstream, keys: &[(&str, &str)]) -> LMRotate {
    let mut config = upstream.config(keys, json!({"max_retries": 0}));
    config["fallback_chains"] = json!({"agent": [
        {"provider": "openai", "upstream": "gpt-4o"},
        {"provider": "anthropic", "upstream": "claude-sonnet-4-5"}
    ]});
    LMRotate::new(LMRotateConfig::from_value(config).unwrap()).unwrap()
}

fn weather() -> ToolSpec {
    ToolSpec::new(
        "weather",
        json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}),
    )
    .description("Current weather in a city")
}

fn options() -> ChatOptions {
    ChatOptions::default()
        .tool(weather())
        .tool_choice(ToolChoice::Auto)
        .parallel_tool_calls(false)
}

#[tokio::test]
async fn a_two_turn_tool_loop_on_the_openai_protocol() {
    let upstream = FakeUpstream::start().await.unwrap();
    let client = client(&upstream, &[("oa", "openai")]);
    let call = ToolCall::new("call_1", "weather", r#"{"city":"Paris"}"#);
    upstream.script("sk-test-oa", [Behavior::ToolCalls(vec![call.clone()])]);
    let mut history = vec![ChatMessage::user("Weather in Paris?")];
    let first = client.chat("gpt-4o", &history, options()).await.unwrap();
    assert_eq!(first.tool_calls, std::slice::from_ref(&call));
    assert_eq!(first.finish_reason.as_deref(), Some("tool_calls"));
    assert_eq!(first.content, "");
    let sent = &upstream.requests()[0].body;
    assert_eq!(
        sent["tools"],
        json!([{"type": "function", "function": {"name": "weather", "description": "Current weather in a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}])
    );
    assert_eq!(sent["tool_choice"], "auto");
    assert_eq!(sent["parallel_tool_calls"], false);

    history.push(first.message());
    for call in &first.tool_calls {
        history.push(ChatMessage::tool_result(&call.id, "18 C and sunny"));
    }
    let second = client.chat("gpt-4o", &history, options()).await.unwrap();
    assert_eq!(second.content, "ok from sk-test-oa");
    assert_eq!(
        upstream.requests()[1].body["messages"],
        json!([
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"}}
            ]},
            {"role": "tool", "tool_call_id": "call_1", "content": "18 C and sunny"}
        ])
    );
}

#[tokio::test]
async fn streamed_tool_calls_collect_to_the_non_streamed_answer() {
    let upstream = FakeUpstream::start().await.unwrap();
    let client = client(&upstream, &[("oa", "openai")]);
    let calls = vec![
        ToolCall::new("call_a", "weather", r#"{"city":"Paris","unit":"celsius"}"#),
        ToolCall::new("call_b", "weather", r#"{"city":"Lyon"}"#),
    ];
    upstream.script(
        "sk-test-oa",
        [
            Behavior::ToolCalls(calls.clone()),
            Behavior::ToolCalls(calls.clone()),
        ],
    );
    let hi = [ChatMessage::user("Paris and Lyon?")];
    let whole = client.chat("gpt-4o", &hi, options()).await.unwrap();
    let stream = client.chat_stream("gpt-4o", &hi, options()).await.unwrap();
    assert_eq!(stream.key_id(), "oa");
    let collected = stream.collect_response().await.unwrap();
    assert_eq!(collected.tool_calls, calls);
    assert_eq!(collected.tool_calls, whole.tool_calls);
    assert_eq!(collected.finish_reason, whole.finish_reason);
    assert_eq!(collected.message(), whole.message());
    assert_eq!(collected.key_id, "oa");
}

#[tokio::test]
async fn images_go_to_openai_as_parts() {
    let upstream = FakeUpstream::start().await.unwrap();
    let client = client(&upstream, &[("oa", "openai")]);
    let message = ChatMessage::new(
        Role::User,
        vec![
            ContentPart::text("What is in these?"),
            ContentPart::image_url_with_detail("https://example.com/cat.png", "low"),
            ContentPart::image_bytes(b"\x89PNG\r\n\x1a\n".to_vec(), None),
        ],
    );
    client
        .chat("gpt-4o", &[message], ChatOptions::default())
        .await
        .unwrap();
    assert_eq!(
        upstream.requests()[0].body["messages"][0]["content"],
        json!([
            {"type": "text", "text": "What is in these?"},
            {"type": "image_url", "image_url": {"url": "https://example.com/cat.png", "detail": "low"}},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}
        ])
    );
}

#[tokio::test]
async fn what_no_vendor_could_take_fails_before_any_call() {
    let upstream = FakeUpstream::start().await.unwrap();
    let client = client(&upstream, &[("oa", "openai")]);
    let orphan = [
        ChatMessage::user("hi"),
        ChatMessage::tool_result("call_404", "result"),
    ];
    let bad_url = [ChatMessage::new(
        Role::User,
        vec![ContentPart::image_url("file:///etc/passwd")],
    )];
    for (messages, needle) in [(&orphan[..], "call_404"), (&bad_url[..], "file:///")] {
        let error = client
            .chat("gpt-4o", messages, ChatOptions::default())
            .await
            .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidRequest, "{error}");
        assert!(error.to_string().contains(needle), "{error}");
    }
    assert!(upstream.requests().is_empty());
}

#[tokio::test]
async fn a_vendor_that_cannot_carry_the_conversation_is_skipped_with_the_reason() {
    let upstream = FakeUpstream::start().await.unwrap();
    let client = client(&upstream, &[("oa", "openai"), ("an", "anthropic")]);
    // audio pinned to Anthropic: refused before any network call
    let audio = [ChatMessage::new(
        Role::User,
        vec![ContentPart::audio(vec![0, 1, 2], "wav")],
    )];
    let error = client
        .chat(
            "claude-sonnet-4-5",
            &audio,
            ChatOptions::default().provider("anthropic"),
        )
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Configuration, "{error}");
    assert!(error.to_string().contains("no audio"), "{error}");
    assert!(upstream.requests().is_empty());

    // in a chain: OpenAI (which takes audio) fails, the Anthropic entry is skipped and says why
    upstream.script("sk-test-oa", [Behavior::ServerError(500)]);
    let error = client
        .chat("agent", &audio, ChatOptions::default())
        .await
        .unwrap_err();
    let LMRotateError::Exhausted { attempts } = error else {
        panic!("{error}")
    };
    assert_eq!(attempts.len(), 2);
    assert_eq!(attempts[1].provider, "anthropic");
    assert_eq!(attempts[1].error.kind, ErrorKind::Configuration);
    assert!(attempts[1].error.message.contains("audio"));
    assert!(upstream.requests().iter().all(|r| r.api == Api::OpenAi));
}

#[tokio::test]
async fn a_tool_loop_with_thinking_on_the_anthropic_protocol() {
    let upstream = FakeUpstream::start().await.unwrap();
    let client = client(&upstream, &[("an", "anthropic")]);
    let call = ToolCall::new("toolu_1", "weather", r#"{"city":"Paris"}"#);
    upstream.script(
        "sk-test-an",
        [
            Behavior::ToolCalls(vec![call.clone()]),
            Behavior::ToolCalls(vec![call.clone()]),
        ],
    );
    let opts = options().reasoning_budget_tokens(1024);
    let mut history = vec![ChatMessage::user("Weather in Paris?")];
    let first = client
        .chat("claude-sonnet-4-5", &history, opts.clone())
        .await
        .unwrap();
    assert_eq!(first.tool_calls, std::slice::from_ref(&call));
    assert_eq!(first.finish_reason.as_deref(), Some("tool_calls"));
    let thought = first.reasoning[0].as_reasoning().unwrap();
    assert_eq!(thought.signature.as_deref(), Some("sig_testkit_tools"));
    assert_eq!(thought.provider, "anthropic");
    let sent = &upstream.requests()[0].body;
    assert_eq!(
        sent["tools"],
        json!([{"name": "weather", "description": "Current weather in a city",
            "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}])
    );
    assert_eq!(
        sent["tool_choice"],
        json!({"type": "auto", "disable_parallel_tool_use": true})
    );
    assert_eq!(
        sent["thinking"],
        json!({"type": "enabled", "budget_tokens": 1024})
    );

    // the streamed answer collects to the same turn
    let streamed = client
        .chat_stream("claude-sonnet-4-5", &history, opts.clone())
        .await
        .unwrap()
        .collect_response()
        .await
        .unwrap();
    assert_eq!(streamed.message(), first.message());

    history.push(first.message());
    history.push(ChatMessage::tool_result("toolu_1", "18 C"));
    client
        .chat("claude-sonnet-4-5", &history, opts)
        .await
        .unwrap();
    assert_eq!(
        upstream.requests()[2].body["messages"],
        json!([
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "I should call a tool.", "signature": "sig_testkit_tools"},
                {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {"city": "Paris"}}
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "text", "text": "18 C"}]}
            ]}
        ])
    );
}

#[tokio::test]
async fn a_tool_loop_crosses_from_openai_to_anthropic_and_back() {
    let upstream = FakeUpstream::start().await.unwrap();
    let client = client(&upstream, &[("oa", "openai"), ("an", "anthropic")]);
    let call = ToolCall::new("call_1", "weather", r#"{"city":"Paris"}"#);
    // turn 1 on OpenAI; turn 2: OpenAI fails, the chain moves the conversation to Anthropic
    upstream.script(
        "sk-test-oa",
        [
            Behavior::ToolCalls(vec![call.clone()]),
            Behavior::ServerError(500),
        ],
    );
    let mut history = vec![ChatMessage::user("Weather in Paris?")];
    let first = client.chat("agent", &history, options()).await.unwrap();
    assert_eq!(first.provider, "openai");
    history.push(first.message());
    history.push(ChatMessage::tool_result("call_1", "18 C"));
    let second = client.chat("agent", &history, options()).await.unwrap();
    assert_eq!(second.provider, "anthropic");
    assert_eq!(second.content, "ok from sk-test-an");
    let to_anthropic = upstream.requests().last().unwrap().body.clone();
    assert_eq!(
        to_anthropic["messages"][1],
        json!({"role": "assistant", "content": [{"type": "tool_use", "id": "call_1", "name": "weather", "input": {"city": "Paris"}}]})
    );
    assert_eq!(
        to_anthropic["messages"][2],
        json!({"role": "user", "content": [{"type": "tool_result", "tool_use_id": "call_1", "content": [{"type": "text", "text": "18 C"}]}]})
    );

    // and back: an Anthropic turn with signed thinking goes to OpenAI without the thinking
    let back = client_pinned_anthropic_first(&upstream);
    let call = ToolCall::new("toolu_9", "weather", r#"{"city":"Lyon"}"#);
    upstream.script("sk-test-an", [Behavior::ToolCalls(vec![call.clone()])]);
    let mut history = vec![ChatMessage::user("Weather in Lyon?")];
    let first = back
        .chat(
            "agent-back",
            &history,
            options().reasoning_budget_tokens(1024),
        )
        .await
        .unwrap();
    assert_eq!(first.provider, "anthropic");
    assert!(!first.reasoning.is_empty());
    history.push(first.message());
    history.push(ChatMessage::tool_result("toolu_9", "12 C"));
    upstream.script("sk-test-an", [Behavior::ServerError(500)]);
    let second = back.chat("agent-back", &history, options()).await.unwrap();
    assert_eq!(second.provider, "openai");
    assert_eq!(
        upstream.requests().last().unwrap().body["messages"],
        json!([
            {"role": "user", "content": "Weather in Lyon?"},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "toolu_9", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Lyon\"}"}}
            ]},
            {"role": "tool", "tool_call_id": "toolu_9", "content": "12 C"}
        ])
    );
}

fn client_pinned_anthropic_first(upstream: &FakeUpstream) -> LMRotate {
    let mut config = upstream.config(
        &[("oa", "openai"), ("an", "anthropic")],
        json!({"max_retries": 0}),
    );
    config["fallback_chains"] = json!({"agent-back": [
        {"provider": "anthropic", "upstream": "claude-sonnet-4-5"},
        {"provider": "openai", "upstream": "gpt-4o"}
    ]});
    LMRotate::new(LMRotateConfig::from_value(config).unwrap()).unwrap()
}

#[cfg(feature = "google")]
fn chain_client(upstream: &FakeUpstream, chain: serde_json::Value) -> LMRotate {
    let mut config = upstream.config(
        &[("oa", "openai"), ("an", "anthropic"), ("gm", "google")],
        json!({"max_retries": 0}),
    );
    config["fallback_chains"] = json!({ "chain": chain });
    LMRotate::new(LMRotateConfig::from_value(config).unwrap()).unwrap()
}

#[cfg(feature = "google")]
#[tokio::test]
async fn a_tool_loop_on_gemini_keeps_the_signature_on_its_call() {
    let upstream = FakeUpstream::start().await.unwrap();
    let client = chain_client(
        &upstream,
        json!([{"provider": "google", "upstream": "gemini-2.5-flash"}]),
    );
    upstream.script(
        "sk-test-gm",
        [
            Behavior::ToolCalls(vec![ToolCall::new("x", "weather", r#"{"city":"Paris"}"#)]),
            Behavior::ToolCalls(vec![ToolCall::new("x", "weather", r#"{"city":"Paris"}"#)]),
        ],
    );
    let mut history = vec![ChatMessage::user("Weather in Paris?")];
    let first = client.chat("chain", &history, options()).await.unwrap();
    assert_eq!(first.finish_reason.as_deref(), Some("tool_calls"));
    let call = first.tool_calls[0].clone();
    assert_eq!(
        (call.name.as_str(), call.arguments.as_str()),
        ("weather", r#"{"city":"Paris"}"#)
    );
    assert!(
        llm_rotate::core::tool::is_portable_call_id(&call.id),
        "{}",
        call.id
    );
    let sent = &upstream.requests()[0].body;
    assert_eq!(
        sent["tools"],
        json!([{"functionDeclarations": [{"name": "weather", "description": "Current weather in a city",
            "parametersJsonSchema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}]}])
    );
    assert_eq!(
        sent["toolConfig"],
        json!({"functionCallingConfig": {"mode": "AUTO"}})
    );

    let streamed = client
        .chat_stream("chain", &history, options())
        .await
        .unwrap()
        .collect_response()
        .await
        .unwrap();
    assert_eq!(streamed.finish_reason.as_deref(), Some("tool_calls"));
    assert_eq!(streamed.tool_calls[0].name, "weather");

    history.push(first.message());
    history.push(ChatMessage::tool_result(&call.id, "18 C"));
    client.chat("chain", &history, options()).await.unwrap();
    assert_eq!(
        upstream.requests()[2].body["contents"],
        json!([
            {"role": "user", "parts": [{"text": "Weather in Paris?"}]},
            {"role": "model", "parts": [{"functionCall": {"id": call.id, "name": "weather", "args": {"city": "Paris"}}, "thoughtSignature": rotate_testkit::upstream::GEMINI_SIGNATURE}]},
            {"role": "user", "parts": [{"functionResponse": {"id": call.id, "name": "weather", "response": {"result": "18 C"}}}]}
        ])
    );
}

#[cfg(feature = "google")]
#[tokio::test]
async fn a_tool_loop_crosses_from_openai_to_gemini() {
    let upstream = FakeUpstream::start().await.unwrap();
    let client = chain_client(
        &upstream,
        json!([
            {"provider": "openai", "upstream": "gpt-4o"},
            {"provider": "google", "upstream": "gemini-2.5-flash"}
        ]),
    );
    let call = ToolCall::new("call_1", "weather", r#"{"city":"Paris"}"#);
    upstream.script(
        "sk-test-oa",
        [
            Behavior::ToolCalls(vec![call.clone()]),
            Behavior::ServerError(500),
        ],
    );
    let mut history = vec![ChatMessage::user("Weather in Paris?")];
    let first = client.chat("chain", &history, options()).await.unwrap();
    history.push(first.message());
    history.push(ChatMessage::tool_result("call_1", r#"{"temp_c": 18}"#));
    let second = client.chat("chain", &history, options()).await.unwrap();
    assert_eq!(second.provider, "google");
    assert_eq!(
        upstream.requests().last().unwrap().body["contents"],
        json!([
            {"role": "user", "parts": [{"text": "Weather in Paris?"}]},
            {"role": "model", "parts": [{"functionCall": {"id": "call_1", "name": "weather", "args": {"city": "Paris"}}, "thoughtSignature": "skip_thought_signature_validator"}]},
            {"role": "user", "parts": [{"functionResponse": {"id": "call_1", "name": "weather", "response": {"temp_c": 18}}}]}
        ])
    );
}

#[tokio::test]
async fn a_stream_cut_inside_a_tool_call_is_an_error_not_a_clean_end() {
    let upstream = FakeUpstream::start().await.unwrap();
    let client = client(&upstream, &[("oa", "openai"), ("an", "anthropic")]);
    let call = ToolCall::new("call_1", "weather", r#"{"city":"Paris","unit":"celsius"}"#);
    for (key, model, provider) in [
        ("sk-test-oa", "gpt-4o", "openai"),
        ("sk-test-an", "claude-sonnet-4-5", "anthropic"),
    ] {
        upstream.script(key, [Behavior::ToolCallsCut(vec![call.clone()])]);
        let stream = client
            .chat_stream(
                model,
                &[ChatMessage::user("weather?")],
                options().provider(provider),
            )
            .await
            .unwrap();
        let error = stream.collect_response().await.unwrap_err();
        assert!(
            matches!(error, LMRotateError::Stream(_)),
            "{provider}: {error}"
        );
    }
}

#[tokio::test]
async fn refusals_come_back_as_refusals() {
    let upstream = FakeUpstream::start().await.unwrap();
    let client = client(&upstream, &[("oa", "openai"), ("an", "anthropic")]);
    for (key, model, provider) in [
        ("sk-test-oa", "gpt-4o", "openai"),
        ("sk-test-an", "claude-sonnet-4-5", "anthropic"),
    ] {
        upstream.script(key, [Behavior::Refusal("I can't help with that.".into())]);
        let reply = client
            .chat(
                model,
                &[ChatMessage::user("something bad")],
                ChatOptions::default().provider(provider),
            )
            .await
            .unwrap();
        assert_eq!(
            reply.refusal.as_deref(),
            Some("I can't help with that."),
            "{provider}"
        );
        assert_eq!(
            reply.finish_reason.as_deref(),
            Some("refusal"),
            "{provider}"
        );
    }
}

#[cfg(feature = "google")]
#[tokio::test]
async fn media_parts_reach_each_vendor_in_its_form() {
    let upstream = FakeUpstream::start().await.unwrap();
    let client = chain_client(&upstream, json!([{"provider": "openai"}]));
    let pdf = ContentPart::pdf_bytes(b"%PDF-1.7".to_vec());
    let ask = |parts: Vec<ContentPart>| vec![ChatMessage::new(Role::User, parts)];
    // OpenAI: a PDF as a file part, audio as input_audio
    client
        .chat(
            "gpt-4o",
            &ask(vec![pdf.clone(), ContentPart::audio(vec![1, 2, 3], "wav")]),
            ChatOptions::default().provider("openai"),
        )
        .await
        .unwrap();
    assert_eq!(
        upstream.requests()[0].body["messages"][0]["content"],
        json!([
            {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBERi0xLjc=", "filename": "document.pdf"}},
            {"type": "input_audio", "input_audio": {"data": "AQID", "format": "wav"}}
        ])
    );
    // Anthropic: a PDF as a document, an image URL as a url source
    client
        .chat(
            "claude-sonnet-4-5",
            &ask(vec![
                pdf.clone(),
                ContentPart::image_url("https://example.com/a.png"),
            ]),
            ChatOptions::default().provider("anthropic"),
        )
        .await
        .unwrap();
    assert_eq!(
        upstream.requests()[1].body["messages"][0]["content"],
        json!([
            {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0xLjc="}},
            {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}}
        ])
    );
    // Gemini: inline PDF and audio, an image URL as fileData with its type from the extension
    client
        .chat(
            "gemini-2.5-flash",
            &ask(vec![
                pdf,
                ContentPart::audio(vec![1, 2, 3], "mp3"),
                ContentPart::image_url("https://example.com/a.webp?x=1"),
            ]),
            ChatOptions::default().provider("google"),
        )
        .await
        .unwrap();
    assert_eq!(
        upstream.requests()[2].body["contents"][0]["parts"],
        json!([
            {"inlineData": {"mimeType": "application/pdf", "data": "JVBERi0xLjc="}},
            {"inlineData": {"mimeType": "audio/mp3", "data": "AQID"}},
            {"fileData": {"mimeType": "image/webp", "fileUri": "https://example.com/a.webp?x=1"}}
        ])
    );
}

#[cfg(feature = "google")]
#[tokio::test]
async fn a_tool_loop_crosses_from_gemini_to_anthropic_without_its_signatures() {
    let upstream = FakeUpstream::start().await.unwrap();
    let client = chain_client(
        &upstream,
        json!([
            {"provider": "google", "upstream": "gemini-2.5-flash"},
            {"provider": "anthropic", "upstream": "claude-sonnet-4-5"}
        ]),
    );
    upstream.script(
        "sk-test-gm",
        [
            Behavior::ToolCalls(vec![ToolCall::new("x", "weather", r#"{"city":"Oslo"}"#)]),
            Behavior::ServerError(503),
        ],
    );
    let mut history = vec![ChatMessage::user("Weather in Oslo?")];
    let first = client.chat("chain", &history, options()).await.unwrap();
    assert_eq!(first.provider, "google");
    let call = first.tool_calls[0].clone();
    history.push(first.message());
    history.push(ChatMessage::tool_result(&call.id, "-3 C"));
    let second = client.chat("chain", &history, options()).await.unwrap();
    assert_eq!(second.provider, "anthropic");
    assert_eq!(
        upstream.requests().last().unwrap().body["messages"],
        json!([
            {"role": "user", "content": "Weather in Oslo?"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": call.id, "name": "weather", "input": {"city": "Oslo"}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": [{"type": "text", "text": "-3 C"}]}]}
        ])
    );
}

#[cfg(feature = "google")]
#[tokio::test]
async fn response_formats_and_tool_choices_in_each_dialect() {
    use llm_rotate::ResponseFormat;
    let upstream = FakeUpstream::start().await.unwrap();
    let client = chain_client(&upstream, json!([{"provider": "openai"}]));
    let schema = json!({"type": "object", "properties": {"answer": {"type": "string"}}});
    let opts = ChatOptions::default()
        .tool(weather())
        .tool_choice(ToolChoice::Tool("weather".into()))
        .response_format(ResponseFormat::JsonSchema {
            name: "answer".into(),
            schema: schema.clone(),
            strict: Some(true),
        });
    let hi = [ChatMessage::user("hi")];
    for (model, provider) in [
        ("gpt-4o", "openai"),
        ("claude-sonnet-4-5", "anthropic"),
        ("gemini-2.5-flash", "google"),
    ] {
        client
            .chat(model, &hi, opts.clone().provider(provider))
            .await
            .unwrap();
    }
    let sent: Vec<_> = upstream.requests().into_iter().map(|r| r.body).collect();
    assert_eq!(
        sent[0]["response_format"],
        json!({"type": "json_schema", "json_schema": {"name": "answer", "schema": schema, "strict": true}})
    );
    assert_eq!(
        sent[0]["tool_choice"],
        json!({"type": "function", "function": {"name": "weather"}})
    );
    assert_eq!(
        sent[1]["output_config"],
        json!({"format": {"type": "json_schema", "schema": schema}})
    );
    assert_eq!(
        sent[1]["tool_choice"],
        json!({"type": "tool", "name": "weather"})
    );
    assert_eq!(
        sent[2]["generationConfig"]["responseMimeType"],
        "application/json"
    );
    assert_eq!(sent[2]["generationConfig"]["responseJsonSchema"], schema);
    assert_eq!(
        sent[2]["toolConfig"],
        json!({"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["weather"]}})
    );
}
