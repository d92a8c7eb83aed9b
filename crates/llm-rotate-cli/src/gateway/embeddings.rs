//! Embeddings in two dialects, through `LMRotate::embed`: OpenAI's `POST /v1/embeddings`
//! and Gemini's `:embedContent` / `:batchEmbedContents`. The body goes whole to keys of
//! its dialect and their answer comes back as sent; keys of the other dialect get the
//! texts (and `dimensions`) and the answer is written in the client's shape.

use base64::Engine as _;
use http::{Response, StatusCode};
use llm_rotate::{EmbedOptions, EmbedResponse, LMRotate, Passthrough, WireDialect};
use serde_json::{json, Map, Value};

use super::answer::served;
use super::http::{ApiError, Body};

/// A parsed embedding request.
pub struct Embed {
    pub inputs: Vec<String>,
    pub options: EmbedOptions,
    /// OpenAI's `encoding_format: base64`, honoured on translated answers too.
    base64: bool,
}

fn body_object(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    match serde_json::from_slice(body) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err(ApiError::bad_request(
            "The request body must be a JSON object.",
        )),
        Err(e) => Err(ApiError::bad_request(format!(
            "The request body is not valid JSON: {e}"
        ))),
    }
}

fn passthrough(dialect: WireDialect, body: &[u8]) -> Result<Passthrough, ApiError> {
    Passthrough::from_json(dialect, body)
        .map_err(|e| ApiError::bad_request(format!("The request body is not valid JSON: {e}")))
}

fn wrong(name: &str, expected: &str) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "invalid_request_error",
        "invalid_type",
        format!("`{name}` must be {expected}."),
    )
}

/// Reads an OpenAI embeddings body: `model`, `input` (a string or a list of strings;
/// token-id lists go to OpenAI-family keys only), `dimensions`, `encoding_format`.
pub fn parse_openai(body: &[u8]) -> Result<(String, Embed), ApiError> {
    let object = body_object(body)?;
    let model = match object.get("model") {
        Some(Value::String(m)) if !m.is_empty() => m.clone(),
        None => return Err(ApiError::bad_request("you must provide a model parameter")),
        Some(_) => return Err(wrong("model", "a non-empty string")),
    };
    let mut untranslatable = Vec::new();
    let inputs = match object.get("input") {
        Some(Value::String(text)) => vec![text.clone()],
        Some(Value::Array(items)) if !items.is_empty() => {
            let texts: Option<Vec<String>> = items
                .iter()
                .map(|i| i.as_str().map(str::to_owned))
                .collect();
            match texts {
                Some(texts) => texts,
                None if items.iter().all(|i| i.is_number() || i.is_array()) => {
                    untranslatable.push("input (token ids)");
                    Vec::new()
                }
                None => return Err(wrong("input", "a string or a list of strings")),
            }
        }
        None => {
            return Err(ApiError::bad_request(
                "Missing required parameter: 'input'.",
            ))
        }
        Some(_) => return Err(wrong("input", "a non-empty string or list")),
    };
    let dimensions = match object.get("dimensions") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .filter(|n| *n > 0)
                .ok_or_else(|| wrong("dimensions", "a positive integer"))?,
        ),
    };
    let base64 = match object.get("encoding_format") {
        None | Some(Value::Null) => false,
        Some(Value::String(f)) if f == "float" => false,
        Some(Value::String(f)) if f == "base64" => true,
        Some(_) => return Err(wrong("encoding_format", "`float` or `base64`")),
    };
    let pass = untranslatable.into_iter().fold(
        passthrough(WireDialect::OpenAiChat, body)?,
        Passthrough::untranslatable,
    );
    Ok((
        model,
        Embed {
            inputs,
            options: EmbedOptions {
                dimensions,
                passthrough: Some(pass),
                ..EmbedOptions::default()
            },
            base64,
        },
    ))
}

/// The text of a Gemini `content` (its text parts joined).
fn text_of(content: Option<&Value>, at: &str) -> Result<String, ApiError> {
    let parts = content
        .and_then(|c| c.get("parts"))
        .and_then(Value::as_array)
        .filter(|p| !p.is_empty())
        .ok_or_else(|| ApiError::bad_request(format!("{at}.parts must be a non-empty array")))?;
    parts
        .iter()
        .enumerate()
        .map(|(i, part)| {
            part.get("text").and_then(Value::as_str).ok_or_else(|| {
                ApiError::bad_request(format!("{at}.parts[{i}].text must be a string"))
            })
        })
        .collect()
}

/// Reads a Gemini `:embedContent` body (`batch` false: `{content}`) or a
/// `:batchEmbedContents` one (`{requests: [{content}]}`).
pub fn parse_gemini(body: &[u8], batch: bool) -> Result<Embed, ApiError> {
    let object = body_object(body)?;
    let dimensions = |request: &Value| {
        request
            .get("outputDimensionality")
            .and_then(Value::as_u64)
            .and_then(|n| u32::try_from(n).ok())
    };
    let (inputs, dimensions) = if batch {
        let requests = object
            .get("requests")
            .and_then(Value::as_array)
            .filter(|r| !r.is_empty())
            .ok_or_else(|| ApiError::bad_request("requests must be a non-empty array"))?;
        let inputs = requests
            .iter()
            .enumerate()
            .map(|(i, r)| text_of(r.get("content"), &format!("requests[{i}].content")))
            .collect::<Result<Vec<_>, _>>()?;
        (inputs, requests.first().and_then(dimensions))
    } else {
        let text = text_of(object.get("content"), "content")?;
        (vec![text], dimensions(&Value::Object(object.clone())))
    };
    Ok(Embed {
        inputs,
        options: EmbedOptions {
            dimensions,
            passthrough: Some(passthrough(WireDialect::Gemini, body)?),
            ..EmbedOptions::default()
        },
        base64: false,
    })
}

/// How the answer is written when the key was of the other dialect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    OpenAi,
    GeminiOne,
    GeminiBatch,
}

/// Serves a parsed request for `model`, answering in `shape`.
pub async fn serve(
    client: &LMRotate,
    model: &str,
    request: Embed,
    shape: Shape,
) -> Result<(Response<Body>, Option<f64>), ApiError> {
    let answer = client
        .embed(model, &request.inputs, request.options)
        .await
        .map_err(|e| ApiError::from(&e))?;
    let (provider, key, latency) = (&answer.provider, &answer.key_id, answer.latency_ms);
    Ok(if answer.passthrough {
        served(&answer.raw, provider, key, latency)
    } else {
        served(
            &written(&answer, shape, request.base64),
            provider,
            key,
            latency,
        )
    })
}

/// A translated answer in the client's shape.
fn written(answer: &EmbedResponse, shape: Shape, base64: bool) -> Value {
    match shape {
        Shape::OpenAi => {
            let data: Vec<Value> = answer
                .embeddings
                .iter()
                .enumerate()
                .map(|(index, vector)| {
                    let embedding = if base64 {
                        let bytes: Vec<u8> = vector.iter().flat_map(|f| f.to_le_bytes()).collect();
                        json!(base64::engine::general_purpose::STANDARD.encode(bytes))
                    } else {
                        json!(vector)
                    };
                    json!({"object": "embedding", "index": index, "embedding": embedding})
                })
                .collect();
            json!({"object": "list", "data": data, "model": answer.model,
                   "usage": {"prompt_tokens": answer.usage.prompt_tokens, "total_tokens": answer.usage.total_tokens}})
        }
        Shape::GeminiOne => {
            json!({"embedding": {"values": answer.embeddings.first().cloned().unwrap_or_default()}})
        }
        Shape::GeminiBatch => {
            let list: Vec<Value> = answer
                .embeddings
                .iter()
                .map(|v| json!({"values": v}))
                .collect();
            json!({"embeddings": list})
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openai_bodies_read_and_bad_ones_name_the_field() {
        let (model, embed) = parse_openai(br#"{"model": "text-embedding-3-small", "input": ["a", "bb"], "dimensions": 8, "user": "u"}"#).ok().unwrap();
        assert_eq!(model, "text-embedding-3-small");
        assert_eq!(embed.inputs, ["a", "bb"]);
        assert_eq!(embed.options.dimensions, Some(8));
        let pass = embed.options.passthrough.unwrap();
        assert_eq!(pass.get("user").unwrap(), "u");
        assert!(pass.untranslatable_fields().is_empty());
        let (_, tokens) = parse_openai(br#"{"model": "m", "input": [[1, 2], [3]]}"#)
            .ok()
            .unwrap();
        assert_eq!(
            tokens.options.passthrough.unwrap().untranslatable_fields(),
            ["input (token ids)"]
        );
        for (body, needle) in [
            (&b"["[..], "not valid JSON"),
            (br#"{"input": "x"}"#, "model"),
            (br#"{"model": "m"}"#, "input"),
            (br#"{"model": "m", "input": 3}"#, "`input`"),
            (br#"{"model": "m", "input": ["a", 3]}"#, "`input`"),
            (
                br#"{"model": "m", "input": "a", "dimensions": 0}"#,
                "`dimensions`",
            ),
            (
                br#"{"model": "m", "input": "a", "encoding_format": "hex"}"#,
                "`encoding_format`",
            ),
        ] {
            let message = parse_openai(body).err().unwrap().message;
            assert!(message.contains(needle), "{needle}: {message}");
        }
    }

    #[test]
    fn gemini_bodies_read_one_or_many_and_answers_take_the_clients_shape() {
        let one = parse_gemini(
            br#"{"content": {"parts": [{"text": "hello"}]}, "outputDimensionality": 3}"#,
            false,
        )
        .ok()
        .unwrap();
        assert_eq!(one.inputs, ["hello"]);
        assert_eq!(one.options.dimensions, Some(3));
        let many = parse_gemini(br#"{"requests": [{"model": "models/e", "content": {"parts": [{"text": "a"}]}}, {"content": {"parts": [{"text": "b"}]}}]}"#, true).ok().unwrap();
        assert_eq!(many.inputs, ["a", "b"]);
        assert!(parse_gemini(br#"{"content": {"parts": []}}"#, false).is_err());
        assert!(parse_gemini(br#"{"requests": []}"#, true).is_err());
        let answer = EmbedResponse {
            embeddings: vec![vec![0.5, 1.0]],
            provider: "openai".into(),
            model: "m".into(),
            key_id: "k".into(),
            usage: llm_rotate::Usage::default(),
            latency_ms: 0.0,
            raw: Value::Null,
            passthrough: false,
        };
        assert_eq!(
            written(&answer, Shape::GeminiOne, false),
            json!({"embedding": {"values": [0.5, 1.0]}})
        );
        assert_eq!(
            written(&answer, Shape::GeminiBatch, false),
            json!({"embeddings": [{"values": [0.5, 1.0]}]})
        );
        let openai = written(&answer, Shape::OpenAi, true);
        assert_eq!(openai["data"][0]["embedding"], "AAAAPwAAgD8=");
    }
}
