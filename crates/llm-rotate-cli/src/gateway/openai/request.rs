//! Reading a `POST /v1/chat/completions` body in one pass: the fields the gateway acts
//! on are checked as they are read (each wrong one named in the error), messages go
//! straight into typed values for keys of other vendors, and the body itself goes whole
//! to OpenAI-family keys (see [`Passthrough`]).

use std::borrow::Cow;
use std::cell::RefCell;
use std::fmt;

use base64::Engine as _;
use http::StatusCode;
use llm_rotate::{ChatMessage, ChatOptions, ContentPart, Passthrough, Role, ToolCall, WireDialect};
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::gateway::http::ApiError;

/// A parsed chat completion request.
pub struct ChatCompletion {
    pub model: String,
    pub messages: Vec<ChatMessage>,
    pub stream: bool,
    pub include_usage: bool,
    pub options: ChatOptions,
    /// What only an OpenAI-family key can carry (parts and fields the neutral request
    /// has no form for).
    pub untranslatable: Vec<String>,
}

/// Parses and checks a request body; the body itself goes with it for OpenAI-family
/// keys (see [`Passthrough`]).
pub fn parse(body: &[u8]) -> Result<ChatCompletion, ApiError> {
    let mut request = parse_typed(body)?;
    let mut pass = Passthrough::from_json(WireDialect::OpenAiChat, body)
        .map_err(|e| ApiError::bad_request(format!("The request body is not valid JSON: {e}")))?;
    for field in request.untranslatable.drain(..) {
        pass = pass.untranslatable(field);
    }
    request.options.passthrough = Some(pass);
    Ok(request)
}

/// Reads the body into the neutral request, for keys of other vendors.
fn parse_typed(body: &[u8]) -> Result<ChatCompletion, ApiError> {
    let problem = RefCell::new(None);
    let skipped = RefCell::new(Vec::new());
    let mut reader = serde_json::Deserializer::from_slice(body);
    let fields = RequestSeed {
        problem: &problem,
        skipped: &skipped,
    }
    .deserialize(&mut reader)
    .and_then(|fields| reader.end().map(|()| fields));
    match (fields, problem.into_inner()) {
        (_, Some(problem)) => Err(problem),
        (Ok(fields), None) => fields.check(skipped.into_inner()),
        (Err(e), None) if e.is_data() => Err(ApiError::bad_request(
            "The request body must be a JSON object.",
        )),
        (Err(e), None) => Err(ApiError::bad_request(format!(
            "The request body is not valid JSON: {e}"
        ))),
    }
}

/// A 400 naming `name` and what it must be.
pub fn field_error(name: &str, expected: &str) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "invalid_request_error",
        "invalid_type",
        format!("`{name}` must be {expected}."),
    )
}

fn missing(message: &str) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "invalid_request_error",
        "missing_required_parameter",
        message,
    )
}

/// The body's fields as read, before the checks that need all of them.
#[derive(Default)]
struct Fields {
    model: Option<Value>,
    messages: Option<Vec<ChatMessage>>,
    stream: Option<Value>,
    include_usage: bool,
    max_tokens: Option<Value>,
    max_completion_tokens: Option<Value>,
    temperature: Option<Value>,
    n: Option<Value>,
    tools: Option<Value>,
    tool_choice: Option<Value>,
    parallel_tool_calls: Option<Value>,
    response_format: Option<Value>,
    reasoning_effort: Option<Value>,
    extra: Map<String, Value>,
}

impl Fields {
    fn check(self, skipped: Vec<String>) -> Result<ChatCompletion, ApiError> {
        let model = match self.model {
            Some(Value::String(m)) if !m.is_empty() => m,
            None => return Err(missing("you must provide a model parameter")),
            Some(_) => return Err(field_error("model", "a non-empty string")),
        };
        let messages = match self.messages {
            Some(list) if !list.is_empty() => list,
            None => return Err(missing("Missing required parameter: 'messages'.")),
            Some(_) => return Err(field_error("messages", "a non-empty array")),
        };
        let stream = match self.stream {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => b,
            Some(_) => return Err(field_error("stream", "a boolean")),
        };
        let max_tokens = match self.max_completion_tokens.or(self.max_tokens) {
            None | Some(Value::Null) => None,
            Some(v) => Some(
                v.as_u64()
                    .and_then(|n| u32::try_from(n).ok())
                    .ok_or_else(|| field_error("max_tokens", "a positive integer"))?,
            ),
        };
        let temperature = match self.temperature {
            None | Some(Value::Null) => None,
            Some(v) => Some(
                v.as_f64()
                    .ok_or_else(|| field_error("temperature", "a number"))? as f32,
            ),
        };
        match &self.n {
            None | Some(Value::Null) => {}
            Some(n) if n.as_u64().is_some_and(|n| n >= 1) => {}
            Some(_) => return Err(field_error("n", "a positive integer")),
        }
        let present = |v: Option<Value>| v.filter(|v| !v.is_null());
        let tools = match present(self.tools) {
            Some(tools) => super::options::tools(&tools)?,
            None => Vec::new(),
        };
        let tool_choice = present(self.tool_choice)
            .map(|c| super::options::tool_choice(&c))
            .transpose()?;
        let response_format = present(self.response_format)
            .map(|f| super::options::response_format(&f))
            .transpose()?;
        let parallel_tool_calls = match present(self.parallel_tool_calls) {
            None => None,
            Some(Value::Bool(b)) => Some(b),
            Some(_) => return Err(field_error("parallel_tool_calls", "a boolean")),
        };
        let reasoning_effort = match present(self.reasoning_effort) {
            None => None,
            Some(Value::String(effort)) => Some(effort),
            Some(_) => return Err(field_error("reasoning_effort", "a string")),
        };
        let affinity = self
            .extra
            .get("prompt_cache_key")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let mut untranslatable = skipped;
        untranslatable.extend(
            super::options::untranslatable(self.n.as_ref(), &self.extra)
                .into_iter()
                .map(str::to_owned),
        );
        // the rest is OpenAI's own: it goes to OpenAI-family keys in the body only
        if !self.extra.is_empty() {
            tracing::debug!(fields = ?self.extra.keys().collect::<Vec<_>>(), "fields carried to OpenAI-family keys only");
        }
        Ok(ChatCompletion {
            model,
            messages,
            stream,
            include_usage: self.include_usage,
            options: ChatOptions {
                max_tokens,
                temperature,
                tools,
                tool_choice,
                parallel_tool_calls,
                response_format,
                reasoning_effort,
                affinity,
                ..ChatOptions::default()
            },
            untranslatable,
        })
    }
}

/// Reads the top-level object; a field's own problem goes to `problem`.
struct RequestSeed<'p> {
    problem: &'p RefCell<Option<ApiError>>,
    skipped: &'p RefCell<Vec<String>>,
}

impl<'de> DeserializeSeed<'de> for RequestSeed<'_> {
    type Value = Fields;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Fields, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for RequestSeed<'_> {
    type Value = Fields;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Fields, A::Error> {
        let mut fields = Fields::default();
        while let Some(Key(key)) = map.next_key()? {
            match key.as_ref() {
                "model" => fields.model = Some(map.next_value()?),
                "messages" => {
                    fields.messages = Some(map.next_value_seed(MessagesSeed {
                        problem: self.problem,
                        skipped: self.skipped,
                    })?);
                }
                "stream" => fields.stream = Some(map.next_value()?),
                "stream_options" => {
                    let options: Value = map.next_value()?;
                    fields.include_usage = options
                        .get("include_usage")
                        .and_then(Value::as_bool)
                        .unwrap_or(false);
                }
                "max_tokens" => fields.max_tokens = Some(map.next_value()?),
                "max_completion_tokens" => {
                    fields.max_completion_tokens = Some(map.next_value()?);
                }
                "temperature" => fields.temperature = Some(map.next_value()?),
                "n" => fields.n = Some(map.next_value()?),
                "tools" => fields.tools = Some(map.next_value()?),
                "tool_choice" => fields.tool_choice = Some(map.next_value()?),
                "parallel_tool_calls" => fields.parallel_tool_calls = Some(map.next_value()?),
                "response_format" => fields.response_format = Some(map.next_value()?),
                "reasoning_effort" => fields.reasoning_effort = Some(map.next_value()?),
                _ => {
                    let value = map.next_value()?;
                    fields.extra.insert(key.into_owned(), value);
                }
            }
        }
        Ok(fields)
    }
}

/// Reads `messages`, naming the first bad one.
struct MessagesSeed<'p> {
    problem: &'p RefCell<Option<ApiError>>,
    skipped: &'p RefCell<Vec<String>>,
}

impl MessagesSeed<'_> {
    fn fail<E: de::Error>(&self, problem: ApiError) -> E {
        let text = problem.message.clone();
        *self.problem.borrow_mut() = Some(problem);
        E::custom(text)
    }
}

impl<'de> DeserializeSeed<'de> for MessagesSeed<'_> {
    type Value = Vec<ChatMessage>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        let problem = self.problem;
        let messages = deserializer.deserialize_seq(self);
        // an error no message claimed: `messages` was not an array at all
        if messages.is_err() && problem.borrow().is_none() {
            *problem.borrow_mut() = Some(field_error("messages", "a non-empty array"));
        }
        messages
    }
}

impl<'de> Visitor<'de> for MessagesSeed<'_> {
    type Value = Vec<ChatMessage>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of messages")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut messages = Vec::with_capacity(seq.size_hint().unwrap_or(4));
        loop {
            let index = messages.len();
            let message = match seq.next_element::<Message<'de>>() {
                Ok(Some(message)) => message,
                Ok(None) => return Ok(messages),
                Err(e) => {
                    return Err(self.fail(ApiError::bad_request(format!("messages[{index}]: {e}"))))
                }
            };
            match message.into_chat(index, &mut self.skipped.borrow_mut()) {
                Ok(message) => messages.push(message),
                Err(problem) => return Err(self.fail(problem)),
            }
        }
    }
}

/// A field name, borrowed from the body unless it holds escapes.
#[derive(Deserialize)]
struct Key<'a>(#[serde(borrow)] Cow<'a, str>);

/// One message as sent.
#[derive(Deserialize)]
struct Message<'a> {
    #[serde(borrow)]
    role: Cow<'a, str>,
    #[serde(default)]
    content: Option<Value>,
    #[serde(default)]
    tool_calls: Option<Value>,
    #[serde(default)]
    tool_call_id: Option<String>,
}

impl Message<'_> {
    fn into_chat(self, index: usize, skipped: &mut Vec<String>) -> Result<ChatMessage, ApiError> {
        let mut parts = parts_of(self.content, index, skipped)?;
        if let Some(calls) = self.tool_calls.filter(|c| !c.is_null()) {
            parts.extend(tool_calls_of(calls, index)?);
        }
        let role = match self.role.as_ref() {
            "system" | "developer" => Role::System,
            "user" => Role::User,
            "assistant" => Role::Assistant,
            "tool" => Role::Tool,
            other => {
                return Err(ApiError::bad_request(format!(
                    "messages[{index}].role: unknown role `{other}`"
                )))
            }
        };
        if role == Role::Tool {
            let call_id = self.tool_call_id.ok_or_else(|| {
                field_error(
                    &format!("messages[{index}].tool_call_id"),
                    "the id of the tool call answered",
                )
            })?;
            return Ok(ChatMessage::new(
                Role::Tool,
                vec![ContentPart::tool_result(call_id, parts, false)],
            ));
        }
        Ok(ChatMessage::new(role, parts))
    }
}

/// The parts of a message's content: a string, or text, `image_url`, `input_audio` and
/// `file` (PDF data) parts; a part of another type is left out of the neutral request
/// and named in `skipped` (only an OpenAI-family key then serves the call).
fn parts_of(
    content: Option<Value>,
    index: usize,
    skipped: &mut Vec<String>,
) -> Result<Vec<ContentPart>, ApiError> {
    match content {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(text)) => Ok(vec![ContentPart::text(text)]),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|part| {
                let kind = part.get("type").and_then(Value::as_str);
                let part = match kind {
                    Some("text") => part
                        .get("text")
                        .and_then(Value::as_str)
                        .map(ContentPart::text)
                        .ok_or_else(|| {
                            field_error(&format!("messages[{index}].content[].text"), "a string")
                        }),
                    Some("image_url") => image_part(part, index),
                    Some("input_audio") => audio_part(part, index),
                    Some("file") if pdf_data(part).is_some() => pdf_data(part)
                        .and_then(|data| {
                            base64::engine::general_purpose::STANDARD.decode(data).ok()
                        })
                        .map(ContentPart::pdf_bytes)
                        .ok_or_else(|| {
                            field_error(
                                &format!("messages[{index}].content[].file.file_data"),
                                "a base64 PDF data URL",
                            )
                        }),
                    Some(other) => {
                        skipped.push(format!("messages[{index}].content: a `{other}` part"));
                        return None;
                    }
                    None => Err(field_error(
                        &format!("messages[{index}].content[].type"),
                        "a string",
                    )),
                };
                Some(part)
            })
            .collect(),
        Some(_) => Err(field_error(
            &format!("messages[{index}].content"),
            "a string or an array of parts",
        )),
    }
}

/// `{type: image_url, image_url: {url, detail}}`.
fn image_part(part: &Value, index: usize) -> Result<ContentPart, ApiError> {
    let image = part.get("image_url");
    let url = image
        .and_then(|i| i.get("url"))
        .and_then(Value::as_str)
        .ok_or_else(|| {
            field_error(
                &format!("messages[{index}].content[].image_url.url"),
                "a URL",
            )
        })?;
    Ok(
        match image.and_then(|i| i.get("detail")).and_then(Value::as_str) {
            Some(detail) => ContentPart::image_url_with_detail(url, detail),
            None => ContentPart::image_url(url),
        },
    )
}

/// `{type: input_audio, input_audio: {data, format}}`.
fn audio_part(part: &Value, index: usize) -> Result<ContentPart, ApiError> {
    let audio = part.get("input_audio");
    let data = audio
        .and_then(|a| a.get("data"))
        .and_then(Value::as_str)
        .and_then(|d| base64::engine::general_purpose::STANDARD.decode(d).ok())
        .ok_or_else(|| {
            field_error(
                &format!("messages[{index}].content[].input_audio.data"),
                "base64 audio",
            )
        })?;
    let format = audio
        .and_then(|a| a.get("format"))
        .and_then(Value::as_str)
        .ok_or_else(|| {
            field_error(
                &format!("messages[{index}].content[].input_audio.format"),
                "a string",
            )
        })?;
    Ok(ContentPart::audio(data, format))
}

/// The base64 data of a `file` part holding a PDF data URL.
fn pdf_data(part: &Value) -> Option<&str> {
    part.get("file")?
        .get("file_data")?
        .as_str()?
        .strip_prefix("data:application/pdf;base64,")
}

/// An assistant message's `tool_calls`, as tool-call parts.
fn tool_calls_of(calls: Value, index: usize) -> Result<Vec<ContentPart>, ApiError> {
    let path = format!("messages[{index}].tool_calls");
    let Value::Array(calls) = calls else {
        return Err(field_error(&path, "a list of tool calls"));
    };
    calls
        .iter()
        .map(|call| {
            let text = |v: Option<&Value>, what: &str| {
                v.and_then(Value::as_str)
                    .map(str::to_owned)
                    .ok_or_else(|| field_error(&format!("{path}[].{what}"), "a string"))
            };
            let function = call.get("function");
            Ok(ContentPart::tool_call(ToolCall::new(
                text(call.get("id"), "id")?,
                text(function.and_then(|f| f.get("name")), "function.name")?,
                text(
                    function.and_then(|f| f.get("arguments")),
                    "function.arguments",
                )?,
            )))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn requests_parse_into_chat_calls_and_bad_ones_say_why() {
        let ok = parse(br#"{"model": "gpt-4o", "messages": [{"role": "developer", "content": "be brief"}, {"role": "user", "content": [{"type": "text", "text": "hi"}]}], "max_completion_tokens": 9, "temperature": 0.5, "top_p": 0.9, "stream": true, "stream_options": {"include_usage": true}}"#).ok().unwrap();
        assert_eq!(ok.model, "gpt-4o");
        assert_eq!(
            ok.messages,
            vec![ChatMessage::system("be brief"), ChatMessage::user("hi")]
        );
        assert!(ok.stream && ok.include_usage);
        assert_eq!(ok.options.max_tokens, Some(9));
        // OpenAI's own fields go in the body, to OpenAI-family keys only
        assert!(ok.options.extra.is_empty());
        let pass = ok.options.passthrough.as_ref().unwrap();
        assert_eq!(pass.get("top_p").unwrap(), json!(0.9));
        assert_eq!(pass.get("messages").unwrap()[0]["role"], "developer");
        assert_eq!(pass.get("max_completion_tokens").unwrap(), 9);
        assert!(pass.untranslatable_fields().is_empty());
        let wide = parse(br#"{"model": "m", "messages": [{"role": "user", "content": [{"type": "text", "text": "x"}, {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}}, {"type": "file", "file": {"file_id": "file-1"}}]}], "n": 2, "logprobs": true}"#).ok().unwrap();
        assert_eq!(
            wide.messages[0].content.len(),
            2,
            "text and audio read; the file id cannot be"
        );
        assert_eq!(
            wide.options.passthrough.unwrap().untranslatable_fields(),
            ["messages[0].content: a `file` part", "n", "logprobs"]
        );
        for (body, needle) in [
            (&b"{"[..], "not valid JSON"),
            (b"[]", "JSON object"),
            (br#"{"messages": [{"role": "user", "content": "x"}]}"#, "model"),
            (br#"{"model": 3, "messages": []}"#, "`model`"),
            (br#"{"model": "m"}"#, "messages"),
            (br#"{"model": "m", "messages": "hi"}"#, "`messages`"),
            (br#"{"model": "m", "messages": [{"content": "x"}]}"#, "messages[0]"),
            (br#"{"model": "m", "messages": [{"role": "wizard", "content": "x"}]}"#, "unknown role"),
            (br#"{"model": "m", "messages": [{"role": "user", "content": 5}]}"#, "content"),
            (br#"{"model": "m", "messages": [{"role": "user", "content": [{"type": "input_audio", "input_audio": {"data": "%%", "format": "wav"}}]}]}"#, "input_audio.data"),
            (br#"{"model": "m", "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]}"#, "image_url.url"),
            (br#"{"model": "m", "messages": [{"role": "tool", "content": "x"}]}"#, "tool_call_id"),
            (br#"{"model": "m", "messages": [{"role": "assistant", "tool_calls": [{"id": "c"}]}]}"#, "function.name"),
            (br#"{"model": "m", "messages": [{"role": "user", "content": "x"}], "stream": "yes"}"#, "`stream`"),
            (br#"{"model": "m", "messages": [{"role": "user", "content": "x"}], "max_tokens": -1}"#, "max_tokens"),
            (br#"{"model": "m", "messages": [{"role": "user", "content": "x"}], "n": 0}"#, "`n`"),
            (br#"{"model": "m", "messages": [{"role": "user", "content": "x"}], "tools": [{"type": "function"}]}"#, "tools[0].function"),
            (br#"{"model": "m", "messages": [{"role": "user", "content": "x"}]} trailing"#, "not valid JSON"),
            (br#"{"model": "m", "messages": [{"role": "user", "content": "x"}], "top_p": }"#, "not valid JSON"),
            (br#"{"model": "m", "messages": [{"role": "user", "content": "x"}, {"role": "user"]}"#, "messages[1]"),
            (br#"{"model": "m", "messages": {"role": "user"}}"#, "`messages`"),
            (br#"{"model": "m", "messages": [{"role": "user", "content": "x"}], "temperature": "hot"}"#, "`temperature`"),
            (b"\"just a string\"", "JSON object"),
            (b"", "not valid JSON"),
        ] {
            let error = parse(body).err().unwrap();
            assert_eq!(error.status, StatusCode::BAD_REQUEST);
            assert!(error.message.contains(needle), "{needle}: {}", error.message);
        }
    }

    #[test]
    fn escaped_and_repeated_fields_read_as_json_says_and_extras_pass_through_whole() {
        let ok = parse(
            br#"{"mo\u0064el": "gpt-\u00e9", "messages": [{"role": "user", "content": "a\nb"}],
                "model": "gpt-4o", "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}},
                "stop": ["\u0000", "end"], "max_tokens": 5, "max_completion_tokens": 7, "temperature": null}"#,
        )
        .ok()
        .unwrap();
        // the later `model` wins, as in any JSON object reader
        assert_eq!(ok.model, "gpt-4o");
        assert_eq!(ok.messages, vec![ChatMessage::user("a\nb")]);
        // max_completion_tokens wins over the older max_tokens
        assert_eq!(ok.options.max_tokens, Some(7));
        assert_eq!(ok.options.temperature, None);
        assert_eq!(
            ok.options.response_format,
            Some(llm_rotate::ResponseFormat::JsonSchema {
                name: "x".into(),
                schema: json!({"type": "object"}),
                strict: None
            })
        );
        let pass = ok.options.passthrough.unwrap();
        assert_eq!(pass.get("stop").unwrap(), json!(["\u{0}", "end"]));
        assert_eq!(pass.get("model").unwrap(), "gpt-4o");
        assert!(!ok.stream && !ok.include_usage);
    }

    use rotate_testkit::arbitrary::any_json;

    /// A valid request with one of its values swapped for `replacement` at `slot`.
    fn mutated(slot: usize, replacement: Value) -> Vec<u8> {
        let mut body = json!({
            "model": "gpt-4o",
            "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": [{"type": "text", "text": "hi"}]}],
            "max_tokens": 9, "temperature": 0.5, "stream": true, "stream_options": {"include_usage": true}
        });
        let pointers = [
            "/model",
            "/messages",
            "/messages/0",
            "/messages/0/role",
            "/messages/1/content",
            "/messages/1/content/0",
            "/messages/1/content/0/text",
            "/max_tokens",
            "/temperature",
            "/stream",
            "/stream_options",
            "/stream_options/include_usage",
        ];
        if let Some(target) = body.pointer_mut(pointers[slot % pointers.len()]) {
            *target = replacement;
        }
        serde_json::to_vec(&body).unwrap_or_default()
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 512, failure_persistence: None, ..Default::default() })]

        /// Arbitrary bytes: a request or a 4xx that names the problem, never a panic.
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256)) {
            if let Err(error) = parse(&bytes) {
                proptest::prop_assert!(error.status.is_client_error());
                proptest::prop_assert!(!error.message.is_empty());
            }
        }

        /// A valid request with any value swapped for any JSON: parsed, or a 4xx.
        #[test]
        fn mutated_requests_never_panic(slot in 0usize..12, replacement in any_json()) {
            if let Err(error) = parse(&mutated(slot, replacement)) {
                proptest::prop_assert!(error.status.is_client_error());
                proptest::prop_assert!(!error.message.is_empty());
            }
        }
    }
}
