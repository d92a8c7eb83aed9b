//! The `llm-rotate serve` binary end to end, in front of the fake upstream: OpenAI and
//! Gemini routes (plain and streamed), tokens, every kind of bad input (no upstream
//! call, no panic), 429 with Retry-After, health and metrics without secrets, reload by
//! admin route and by SIGHUP, a slow client cut off, random bodies, graceful drain.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

#[path = "support/gateway_process.rs"]
mod support;

use std::io::{Read, Write};
use std::time::Duration;

use http::{Method, StatusCode};
use rotate_testkit::{Behavior, FakeUpstream};
use serde_json::{json, Value};
use support::{config, GatewayProcess, ADMIN, TOKEN};

fn chat(model: &str) -> Value {
    json!({"model": model, "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}], "max_tokens": 20})
}

#[tokio::test]
async fn plain_and_streamed_completions_speak_openai_format() {
    let upstream = FakeUpstream::start().await.unwrap();
    let gateway = GatewayProcess::start(&config(&upstream, &[("a", "openai"), ("b", "anthropic")]));
    let (status, headers, body) = gateway
        .post_json("/v1/chat/completions", &chat("gpt-4o"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["choices"][0]["message"]["role"], "assistant");
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "ok from sk-test-a"
    );
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
    assert!(body["usage"]["total_tokens"].as_u64().unwrap() > 0);
    assert_eq!(headers["x-llm-rotate-key-id"], "a");
    let sent = &upstream.requests()[0];
    assert_eq!(sent.body["max_tokens"], 20);
    assert_eq!(
        sent.header("authorization"),
        Some("Bearer sk-test-a"),
        "the upstream key comes from the config"
    );

    let (status, _, body) = gateway
        .post_json("/v1/chat/completions", &chat("claude-sonnet-4-5"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "ok from sk-test-b"
    );

    upstream.set_default("sk-test-a", Behavior::Reply("three short words".into()));
    let mut streamed = chat("gpt-4o");
    streamed["stream"] = json!(true);
    streamed["stream_options"] = json!({"include_usage": true});
    let (status, headers, bytes) = gateway
        .send(
            Method::POST,
            "/v1/chat/completions",
            Some(TOKEN),
            streamed.to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    assert!(text.ends_with("data: [DONE]\n\n"), "{text}");
    let events: Vec<Value> = text
        .split("\n\n")
        .filter_map(|e| e.strip_prefix("data: "))
        .filter(|d| *d != "[DONE]")
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    let content: String = events
        .iter()
        .filter_map(|e| e["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(content, "three short words");
    assert_eq!(events[0]["choices"][0]["delta"]["role"], "assistant");
    assert!(events
        .iter()
        .all(|e| e["object"] == "chat.completion.chunk"));
    assert!(
        events
            .iter()
            .any(|e| e["usage"]["completion_tokens"].as_u64() == Some(3)),
        "{text}"
    );
    assert!(
        !text.contains("sk-test"),
        "no key value reaches the client: {text}"
    );
}

#[tokio::test]
async fn gemini_routes_serve_generate_content() {
    let upstream = FakeUpstream::start().await.unwrap();
    let gateway = GatewayProcess::start(&config(&upstream, &[("g", "google")]));
    let request = json!({"contents": [{"role": "user", "parts": [{"text": "hi"}, {"inlineData": {"mimeType": "application/pdf", "data": "JVBERi0xLjc="}}]}],
        "generationConfig": {"maxOutputTokens": 50, "thinkingConfig": {"thinkingBudget": 32}}});
    let (status, headers, body) = gateway
        .post_json("/v1beta/models/gemini-2.5-flash:generateContent", &request)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(headers["x-llm-rotate-provider"], "google");
    assert_eq!(
        body["candidates"][0]["content"]["parts"][1]["text"],
        "ok from sk-test-g"
    );
    assert_eq!(body["usageMetadata"]["thoughtsTokenCount"], 7);
    let sent = upstream.requests().pop().unwrap();
    assert_eq!(
        sent.body["contents"][0]["parts"][1]["inlineData"]["data"],
        "JVBERi0xLjc="
    );
    assert_eq!(
        sent.body["generationConfig"]["thinkingConfig"]["thinkingBudget"],
        32
    );
    let (status, _, bytes) = gateway
        .send(
            Method::POST,
            "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
            Some(TOKEN),
            request.to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    let chunks: Vec<Value> = text
        .split("\r\n\r\n")
        .filter_map(|e| e.strip_prefix("data: "))
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    // Google's own chunks: thought parts as they came, then the answer
    let parts: Vec<&Value> = chunks
        .iter()
        .filter_map(|c| c["candidates"][0]["content"]["parts"].as_array())
        .flatten()
        .collect();
    let text_of = |thought: bool| -> String {
        parts
            .iter()
            .filter(|p| p["thought"].as_bool().unwrap_or(false) == thought)
            .filter_map(|p| p["text"].as_str())
            .collect()
    };
    assert_eq!(text_of(false), "ok from sk-test-g");
    assert!(!text_of(true).is_empty(), "thought parts pass through");
    assert_eq!(
        chunks.last().unwrap()["candidates"][0]["finishReason"],
        "STOP"
    );
    let (status, _, body) = gateway
        .post_json(
            "/v1beta/models/gemini-2.5-flash:generateContent",
            &json!({"contents": "nope"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["error"]["status"], "INVALID_ARGUMENT",
        "Google-shaped errors on Google routes"
    );
}

#[tokio::test]
async fn bad_input_gets_a_clear_status_and_never_reaches_the_upstream() {
    let upstream = FakeUpstream::start().await.unwrap();
    let gateway = GatewayProcess::start(&config(&upstream, &[("a", "openai")]));
    let cases: Vec<(Option<&str>, String, StatusCode, &str)> = vec![
        (None, chat("gpt-4o").to_string(), StatusCode::UNAUTHORIZED, "invalid_api_key"),
        (Some("wrong-token"), chat("gpt-4o").to_string(), StatusCode::UNAUTHORIZED, "invalid_api_key"),
        (Some(ADMIN), chat("gpt-4o").to_string(), StatusCode::UNAUTHORIZED, "invalid_api_key"),
        (Some(TOKEN), "{not json".into(), StatusCode::BAD_REQUEST, "invalid_request"),
        (Some(TOKEN), json!({"model": 5, "messages": []}).to_string(), StatusCode::BAD_REQUEST, "invalid_type"),
        (Some(TOKEN), json!({"model": "gpt-4o"}).to_string(), StatusCode::BAD_REQUEST, "missing_required_parameter"),
        (Some(TOKEN), json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}], "temperature": "hot"}).to_string(), StatusCode::BAD_REQUEST, "invalid_type"),
        (Some(TOKEN), chat("no-such-model").to_string(), StatusCode::NOT_FOUND, "model_not_found"),
        (Some(TOKEN), json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "x".repeat(70_000)}]}).to_string(), StatusCode::PAYLOAD_TOO_LARGE, "request_too_large"),
    ];
    for (token, body, expected, code) in cases {
        let (status, _, bytes) = gateway
            .send(Method::POST, "/v1/chat/completions", token, body)
            .await;
        let value: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(status, expected, "{value}");
        assert_eq!(value["error"]["code"], code, "{value}");
        assert!(value["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()));
    }
    let (status, _, _) = gateway
        .send(Method::GET, "/v1/nothing", Some(TOKEN), "")
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = gateway
        .send(Method::GET, "/v1/chat/completions", Some(TOKEN), "")
        .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(
        upstream.requests().is_empty(),
        "no upstream call for bad input"
    );
    let (status, _, _) = gateway
        .post_json("/v1/chat/completions", &chat("gpt-4o"))
        .await;
    assert_eq!(status, StatusCode::OK, "still serving");
}

#[tokio::test]
async fn no_eligible_key_is_a_429_with_retry_after() {
    let upstream = FakeUpstream::start().await.unwrap();
    let gateway = GatewayProcess::start(&config(&upstream, &[("a", "openai"), ("b", "openai")]));
    for key in ["sk-test-a", "sk-test-b"] {
        upstream.script(key, [Behavior::RateLimited(Some(Duration::from_secs(30)))]);
    }
    let (status, _, body) = gateway
        .post_json("/v1/chat/completions", &chat("gpt-4o"))
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    let (status, headers, body) = gateway
        .post_json("/v1/chat/completions", &chat("gpt-4o"))
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(body["error"]["code"], "no_available_key");
    let wait: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((29..=30).contains(&wait), "{wait}");
    assert_eq!(upstream.requests().len(), 2, "cooling keys get no request");
    // a wait too short for the soonest key fails at once, the same way
    let body = chat("gpt-4o").to_string();
    let (status, headers, _) = gateway
        .send_with(
            Method::POST,
            "/v1/chat/completions",
            Some(TOKEN),
            &[("x-llm-rotate-max-wait", "2.5")],
            body.clone(),
        )
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(headers.contains_key("retry-after"));
    // a wait that is not a number of seconds is the caller's mistake
    let (status, _, answer) = gateway
        .send_with(
            Method::POST,
            "/v1/chat/completions",
            Some(TOKEN),
            &[("x-llm-rotate-max-wait", "soon")],
            body,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(String::from_utf8_lossy(&answer).contains("x-llm-rotate-max-wait"));
    assert_eq!(upstream.requests().len(), 2);
}

#[tokio::test]
async fn health_and_metrics_report_without_secrets() {
    let upstream = FakeUpstream::start().await.unwrap();
    let gateway = GatewayProcess::start(&config(&upstream, &[("a", "openai"), ("b", "openai")]));
    upstream.script("sk-test-a", [Behavior::ServerError(500)]);
    gateway
        .post_json("/v1/chat/completions", &chat("gpt-4o"))
        .await;
    let (status, _, health) = gateway.send(Method::GET, "/health", Some(TOKEN), "").await;
    assert_eq!(status, StatusCode::OK);
    let health: Value = serde_json::from_slice(&health).unwrap();
    assert_eq!(health["keys"][0]["key_id"], "a");
    assert_eq!(health["keys"][0]["failures_by_kind"]["server_error"], 1);
    let (status, headers, metrics) = gateway.send(Method::GET, "/metrics", Some(TOKEN), "").await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let metrics = String::from_utf8(metrics.to_vec()).unwrap();
    for needle in [
        "llm_rotate_http_requests_total{route=\"chat_completions\",status=\"200\"} 1",
        "llm_rotate_upstream_failures_total{provider=\"openai\",key_id=\"a\",kind=\"server_error\"} 1",
        "llm_rotate_upstream_requests_total{provider=\"openai\",key_id=\"b\"} 1",
        "llm_rotate_key_state{provider=\"openai\",key_id=\"b\",state=\"healthy\"} 1",
        "llm_rotate_overhead_seconds_count 1",
        "llm_rotate_request_duration_seconds_bucket{le=\"+Inf\"}",
        "llm_rotate_in_flight",
    ] {
        assert!(metrics.contains(needle), "missing `{needle}` in\n{metrics}");
    }
    // gpt-4o has a built-in price: the one served call cost something
    let cost: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("llm_rotate_cost_usd_total{provider=\"openai\"} "))
        .expect("a cost line")
        .parse()
        .unwrap();
    assert!(cost > 0.0 && cost < 0.01, "{cost}");
    for text in [&metrics, &health.to_string()] {
        assert!(!text.contains("sk-test") && !text.contains(TOKEN));
    }
    let (status, _, _) = gateway.send(Method::GET, "/metrics", None, "").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn reload_by_admin_route_and_by_sighup() {
    let upstream = FakeUpstream::start().await.unwrap();
    let gateway = GatewayProcess::start(&config(&upstream, &[("a", "openai")]));
    gateway.rewrite(&config(&upstream, &[("a", "openai"), ("b", "openai")]));
    let (status, _, _) = gateway
        .send(Method::POST, "/admin/reload", Some(TOKEN), "")
        .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "gateway tokens cannot reload"
    );
    let (status, _, body) = gateway
        .send(Method::POST, "/admin/reload", Some(ADMIN), "")
        .await;
    assert_eq!(status, StatusCode::OK, "{body:?}");
    let keys = |health: &Value| {
        health["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["key_id"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    let (_, _, health) = gateway.send(Method::GET, "/health", Some(TOKEN), "").await;
    assert_eq!(keys(&serde_json::from_slice(&health).unwrap()), ["a", "b"]);
    let mut broken = config(&upstream, &[("a", "openai")]);
    broken["keys"][0]["provider"] = json!("opneai");
    gateway.rewrite(&broken);
    let (status, _, body) = gateway
        .send(Method::POST, "/admin/reload", Some(ADMIN), "")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(String::from_utf8_lossy(&body).contains("did you mean"));

    gateway.rewrite(&config(&upstream, &[("c", "openai")]));
    let pid = gateway.child.id().to_string();
    assert!(std::process::Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .unwrap()
        .success());
    let mut seen = Vec::new();
    for _ in 0..100 {
        let (_, _, health) = gateway.send(Method::GET, "/health", Some(TOKEN), "").await;
        seen = keys(&serde_json::from_slice(&health).unwrap());
        if seen == ["c"] {
            break;
        }
        tokio::task::yield_now().await;
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(seen, ["c"], "SIGHUP re-read the file");
}

#[tokio::test]
async fn a_client_too_slow_with_its_headers_is_disconnected() {
    let upstream = FakeUpstream::start().await.unwrap();
    let gateway = GatewayProcess::start(&config(&upstream, &[("a", "openai")]));
    let address = gateway.url.trim_start_matches("http://").to_owned();
    let mut slow = std::net::TcpStream::connect(&address).unwrap();
    slow.write_all(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buffer = Vec::new();
    let read = slow.read_to_end(&mut buffer);
    assert!(
        read.is_ok(),
        "the server closed the connection within the header timeout: {read:?}"
    );
    let (status, _, _) = gateway
        .post_json("/v1/chat/completions", &chat("gpt-4o"))
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn random_bodies_get_4xx_and_the_gateway_keeps_serving() {
    use proptest::strategy::{Strategy, ValueTree};
    use proptest::test_runner::TestRunner;
    let upstream = FakeUpstream::start().await.unwrap();
    let gateway = GatewayProcess::start(&config(&upstream, &[("a", "openai"), ("g", "google")]));
    let mut runner = TestRunner::deterministic();
    let bytes = proptest::collection::vec(proptest::num::u8::ANY, 0..2048);
    let shaped = proptest::string::string_regex(
        r#"\{"(model|messages|contents|stream)": ?(\[|\{|"|[0-9]|true|null)[ -~]{0,40}"#,
    )
    .unwrap();
    for i in 0..150 {
        let body: Vec<u8> = if i % 2 == 0 {
            bytes.new_tree(&mut runner).unwrap().current()
        } else {
            shaped.new_tree(&mut runner).unwrap().current().into_bytes()
        };
        let path = if i % 3 == 0 {
            "/v1beta/models/gemini-2.5-flash:generateContent"
        } else {
            "/v1/chat/completions"
        };
        let (status, _, answer) = gateway.send(Method::POST, path, Some(TOKEN), body).await;
        assert!(
            status.is_client_error(),
            "{status} for body #{i}: {}",
            String::from_utf8_lossy(&answer)
        );
        assert!(serde_json::from_slice::<Value>(&answer).is_ok());
    }
    assert!(upstream.requests().is_empty());
    let (status, _, _) = gateway
        .post_json("/v1/chat/completions", &chat("gpt-4o"))
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn sigterm_drains_in_flight_requests_then_exits() {
    let upstream = FakeUpstream::start().await.unwrap();
    let mut gateway = GatewayProcess::start(&config(&upstream, &[("a", "openai")]));
    upstream.script(
        "sk-test-a",
        [Behavior::Latency(
            Duration::from_millis(600),
            Box::new(Behavior::Ok),
        )],
    );
    let url = gateway.url.clone();
    let slow = tokio::spawn(async move {
        let probe = GatewayProcess::client_only(&url);
        probe
            .post_json("/v1/chat/completions", &chat("gpt-4o"))
            .await
    });
    for _ in 0..200 {
        if !upstream.requests().is_empty() {
            break;
        }
        tokio::task::yield_now().await;
        std::thread::sleep(Duration::from_millis(5));
    }
    let pid = gateway.child.id().to_string();
    assert!(std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let (status, _, body) = slow.await.unwrap();
    assert_eq!(
        status,
        StatusCode::OK,
        "the in-flight request finished: {body}"
    );
    let exit = gateway.child.wait().unwrap();
    assert!(exit.success(), "{exit}");
}

#[tokio::test]
async fn http2_clients_multiplex_requests_over_one_connection() {
    use bytes::Bytes;
    use http_body_util::{BodyExt, Full};
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;

    let upstream = FakeUpstream::start().await.unwrap();
    let gateway = GatewayProcess::start(&config(&upstream, &[("a", "openai"), ("b", "openai")]));
    // HTTP/2 with prior knowledge: one connection carries every request
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build_http();
    let calls = (0..16).map(|_| {
        let request = http::Request::post(format!("{}/v1/chat/completions", gateway.url))
            .header("authorization", format!("Bearer {TOKEN}"))
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(chat("gpt-4o").to_string())))
            .unwrap();
        let client = client.clone();
        async move {
            let response = client.request(request).await.unwrap();
            assert_eq!(response.version(), http::Version::HTTP_2);
            let status = response.status();
            let body = response.into_body().collect().await.unwrap().to_bytes();
            (status, serde_json::from_slice::<Value>(&body).unwrap())
        }
    });
    let answers = futures_util::future::join_all(calls).await;
    let mut served_by_a = 0;
    for (status, body) in &answers {
        assert_eq!(*status, StatusCode::OK, "{body}");
        let content = body["choices"][0]["message"]["content"].as_str().unwrap();
        assert!(content.starts_with("ok from sk-test-"), "{content}");
        served_by_a += usize::from(content == "ok from sk-test-a");
    }
    assert_eq!(served_by_a, 8, "round robin over both keys");
    assert_eq!(upstream.requests().len(), 16);
}

#[tokio::test]
async fn a_passthrough_stream_that_ends_early_ends_with_an_error_event_of_its_dialect() {
    let upstream = FakeUpstream::start().await.unwrap();
    let mut config = config(
        &upstream,
        &[("o", "openai"), ("a", "anthropic"), ("g", "google")],
    );
    config["defaults"]["max_retries"] = json!(0);
    let gateway = GatewayProcess::start(&config);
    for key in ["sk-test-o", "sk-test-a", "sk-test-g"] {
        upstream.script(key, [Behavior::EndWithoutTerminal(2)]);
    }
    let cases = [
        (
            "/v1/chat/completions",
            json!({"model": "gpt-4o", "stream": true, "messages": [{"role": "user", "content": "hi"}]}),
            "\"error\"",
        ),
        (
            "/v1/messages",
            json!({"model": "claude-sonnet-4-5", "max_tokens": 50, "stream": true, "messages": [{"role": "user", "content": "hi"}]}),
            "event: error",
        ),
        (
            "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
            json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}),
            "\"error\"",
        ),
    ];
    for (path, body, error_marker) in cases {
        let (status, _, bytes) = gateway
            .send(Method::POST, path, Some(TOKEN), body.to_string())
            .await;
        assert_eq!(status, StatusCode::OK, "{path}");
        let text = String::from_utf8(bytes.to_vec()).unwrap();
        // the events that came before the cut passed through, then the dialect's error
        assert!(text.contains(error_marker), "{path}: {text}");
        assert!(
            text.contains("without its terminal event"),
            "{path}: {text}"
        );
        assert!(
            !text.contains("[DONE]"),
            "{path}: a cut stream never ends cleanly"
        );
        assert!(!text.contains("message_stop"), "{path}: {text}");
        let error_at = text.find(error_marker).unwrap();
        assert!(error_at > 0, "{path}: content came before the error");
    }
}

#[tokio::test]
async fn probes_answer_without_a_token_and_say_no_more_than_ready() {
    let upstream = FakeUpstream::start().await.unwrap();
    let gateway = GatewayProcess::start(&config(&upstream, &[("a", "openai")]));
    for path in ["/livez", "/readyz"] {
        let (status, _, body) = gateway.send(Method::GET, path, None, "").await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(&body[..], b"ok\n");
    }
    // the only key cools down: alive, but not ready
    upstream.script(
        "sk-test-a",
        [Behavior::RateLimited(Some(Duration::from_secs(30)))],
    );
    let (status, _, _) = gateway
        .post_json("/v1/chat/completions", &chat("gpt-4o"))
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    let (status, _, body) = gateway.send(Method::GET, "/readyz", None, "").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(&body[..], b"not ready\n");
    let (status, _, _) = gateway.send(Method::GET, "/livez", None, "").await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_configured_store_that_cannot_be_reached_is_not_ready() {
    let upstream = FakeUpstream::start().await.unwrap();
    let mut config = config(&upstream, &[("a", "openai")]);
    // a port nothing listens on
    let unused = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = unused.local_addr().unwrap().port();
    drop(unused);
    config["state_store"] = json!({"backend": "redis", "redis_url": format!("redis://127.0.0.1:{port}"), "redis_namespace": "probe-test"});
    let gateway = GatewayProcess::start(&config);
    // a call makes the store try Redis and find it away
    let _ = gateway
        .post_json("/v1/chat/completions", &chat("gpt-4o"))
        .await;
    let (status, _, body) = gateway.send(Method::GET, "/readyz", None, "").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(&body[..], b"not ready\n");
}

#[tokio::test]
async fn admin_routes_turn_a_key_off_and_on_and_refuse_other_tokens() {
    let upstream = FakeUpstream::start().await.unwrap();
    let gateway = GatewayProcess::start(&config(&upstream, &[("a", "openai"), ("b", "openai")]));
    let disable = "/admin/keys/a/disable";
    for token in [None, Some(TOKEN)] {
        let (status, _, _) = gateway.send(Method::POST, disable, token, "").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{token:?}");
    }
    let (status, _, body) = gateway.send(Method::POST, disable, Some(ADMIN), "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        serde_json::from_slice::<Value>(&body).unwrap(),
        json!({"key_id": "a", "enabled": false})
    );
    let (_, _, health) = gateway.send(Method::GET, "/health", Some(TOKEN), "").await;
    let health: Value = serde_json::from_slice(&health).unwrap();
    assert_eq!(health["keys"][0]["state"], "disabled");
    assert_eq!(health["keys"][0]["disabled_reason"], "operator");
    for _ in 0..3 {
        let (_, headers, _) = gateway
            .post_json("/v1/chat/completions", &chat("gpt-4o"))
            .await;
        assert_eq!(headers["x-llm-rotate-key-id"], "b");
    }
    let (status, _, _) = gateway
        .send(Method::POST, "/admin/keys/a/enable", Some(ADMIN), "")
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, _, health) = gateway.send(Method::GET, "/health", Some(TOKEN), "").await;
    let health: Value = serde_json::from_slice(&health).unwrap();
    assert_eq!(health["keys"][0]["state"], "healthy");
    let (status, _, _) = gateway
        .send(Method::POST, "/admin/keys/nope/disable", Some(ADMIN), "")
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
