//! The typed options of a Chat Completions body, read for keys of other vendors:
//! `tools`, `tool_choice`, `response_format`, and the fields only OpenAI-family keys can
//! carry (`n` above 1, `logprobs`, audio output), which keep such a request off keys of
//! other dialects. Keys of the OpenAI family get the body as sent.

use llm_rotate::{ResponseFormat, ToolChoice, ToolSpec};
use serde_json::{Map, Value};

use super::request::field_error;
use crate::gateway::http::ApiError;

/// `tools: [{type: function, function: {name, description, parameters, strict}}]`.
pub fn tools(value: &Value) -> Result<Vec<ToolSpec>, ApiError> {
    let Value::Array(list) = value else {
        return Err(field_error("tools", "an array of tools"));
    };
    list.iter()
        .enumerate()
        .map(|(i, tool)| {
            let at = format!("tools[{i}]");
            match tool.get("type").and_then(Value::as_str) {
                Some("function") => {}
                Some(other) => {
                    return Err(ApiError::bad_request(format!(
                        "{at}.type: tools of type `{other}` are carried to OpenAI-family keys only"
                    )))
                }
                None => return Err(field_error(&format!("{at}.type"), "`function`")),
            }
            let function = tool
                .get("function")
                .filter(|f| f.is_object())
                .ok_or_else(|| field_error(&format!("{at}.function"), "an object"))?;
            let name = function
                .get("name")
                .and_then(Value::as_str)
                .filter(|n| !n.is_empty())
                .ok_or_else(|| field_error(&format!("{at}.function.name"), "a string"))?;
            let parameters = function
                .get("parameters")
                .cloned()
                .unwrap_or_else(|| serde_json::json!({"type": "object", "properties": {}}));
            let mut spec = ToolSpec::new(name, parameters);
            if let Some(description) = function.get("description").and_then(Value::as_str) {
                spec = spec.description(description);
            }
            spec.strict = function.get("strict").and_then(Value::as_bool);
            Ok(spec)
        })
        .collect()
}

/// `tool_choice`: `auto`, `none`, `required` or `{type: function, function: {name}}`.
pub fn tool_choice(value: &Value) -> Result<ToolChoice, ApiError> {
    match value {
        Value::String(s) if s == "auto" => Ok(ToolChoice::Auto),
        Value::String(s) if s == "none" => Ok(ToolChoice::None),
        Value::String(s) if s == "required" => Ok(ToolChoice::Required),
        Value::Object(choice) => choice
            .get("function")
            .and_then(|f| f.get("name"))
            .and_then(Value::as_str)
            .map(|name| ToolChoice::Tool(name.to_owned()))
            .ok_or_else(|| field_error("tool_choice.function.name", "a string")),
        _ => Err(field_error(
            "tool_choice",
            "`auto`, `none`, `required` or {\"type\": \"function\", \"function\": {\"name\"}}",
        )),
    }
}

/// `response_format`: `{type: text | json_object | json_schema}`.
pub fn response_format(value: &Value) -> Result<ResponseFormat, ApiError> {
    match value.get("type").and_then(Value::as_str) {
        Some("text") => Ok(ResponseFormat::Text),
        Some("json_object") => Ok(ResponseFormat::JsonObject),
        Some("json_schema") => {
            let spec = value
                .get("json_schema")
                .ok_or_else(|| field_error("response_format.json_schema", "an object"))?;
            let name = spec
                .get("name")
                .and_then(Value::as_str)
                .ok_or_else(|| field_error("response_format.json_schema.name", "a string"))?;
            Ok(ResponseFormat::JsonSchema {
                name: name.to_owned(),
                schema: spec
                    .get("schema")
                    .cloned()
                    .unwrap_or_else(|| serde_json::json!({})),
                strict: spec.get("strict").and_then(Value::as_bool),
            })
        }
        _ => Err(field_error(
            "response_format.type",
            "`text`, `json_object` or `json_schema`",
        )),
    }
}

/// The fields of `extra` whose meaning only an OpenAI-family key keeps.
pub fn untranslatable(n: Option<&Value>, extra: &Map<String, Value>) -> Vec<&'static str> {
    let mut fields = Vec::new();
    if n.and_then(Value::as_u64).is_some_and(|n| n > 1) {
        fields.push("n");
    }
    let set = |name: &str| extra.get(name).is_some_and(|v| !v.is_null() && v != false);
    for name in [
        "logprobs",
        "top_logprobs",
        "audio",
        "prediction",
        "logit_bias",
    ] {
        if set(name) {
            fields.push(name);
        }
    }
    let audio_out = extra
        .get("modalities")
        .and_then(Value::as_array)
        .is_some_and(|m| m.iter().any(|v| v == "audio"));
    if audio_out {
        fields.push("modalities");
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn function_tools_choices_and_formats_read_typed() {
        let specs = tools(&json!([{"type": "function", "function": {"name": "get_weather", "description": "Weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}, "strict": true}}])).unwrap();
        assert_eq!(specs.len(), 1);
        assert_eq!(specs[0].name, "get_weather");
        assert_eq!(specs[0].description.as_deref(), Some("Weather"));
        assert_eq!(specs[0].strict, Some(true));
        assert_eq!(specs[0].parameters["properties"]["city"]["type"], "string");
        assert_eq!(
            tool_choice(&json!("required")).unwrap(),
            ToolChoice::Required
        );
        assert_eq!(
            tool_choice(&json!({"type": "function", "function": {"name": "f"}})).unwrap(),
            ToolChoice::Tool("f".into())
        );
        assert_eq!(
            response_format(&json!({"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}, "strict": true}})).unwrap(),
            ResponseFormat::JsonSchema { name: "x".into(), schema: json!({"type": "object"}), strict: Some(true) }
        );
        for (result, needle) in [
            (tools(&json!({})).err(), "`tools`"),
            (tools(&json!([{"type": "web_search"}])).err(), "web_search"),
            (
                tools(&json!([{"type": "function", "function": {}}])).err(),
                "function.name",
            ),
            (tool_choice(&json!(3)).err(), "tool_choice"),
            (
                response_format(&json!({"type": "yaml"})).err(),
                "response_format.type",
            ),
        ] {
            let error = result.unwrap();
            assert!(
                error.message.contains(needle),
                "{needle}: {}",
                error.message
            );
        }
    }

    #[test]
    fn only_fields_that_change_the_answer_keep_a_request_on_openai_keys() {
        let extra =
            json!({"logprobs": true, "top_p": 0.5, "modalities": ["text", "audio"], "audio": null});
        let extra = extra.as_object().unwrap();
        assert_eq!(
            untranslatable(Some(&json!(2)), extra),
            vec!["n", "logprobs", "modalities"]
        );
        let plain = json!({"logprobs": false, "top_p": 0.5});
        assert!(untranslatable(Some(&json!(1)), plain.as_object().unwrap()).is_empty());
    }
}
