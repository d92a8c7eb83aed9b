//! The JSON body of a `generateContent` call, built from a [`GenerateContentRequest`]:
//! camelCase fields, base64 inline data written straight into the output (no
//! intermediate string), uploaded parts sent as `fileData`, and `extra` merged last.

use std::collections::HashMap;

use base64::display::Base64Display;
use base64::engine::general_purpose::STANDARD;
use rotate_core::content::{ContentPart, PartKind};
use rotate_core::error::{ErrorKind, ProviderError};
use rotate_core::generate::GenerateContentRequest;
use rotate_providers::request::decimal;
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};

/// A part that went through the Files API: where it is now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadedFile {
    /// The file's URI (`https://…/files/abc`).
    pub uri: String,
    /// Its MIME type.
    pub mime_type: String,
}

/// Uploaded parts by position: (content index, part index).
pub type Uploads = HashMap<(usize, usize), UploadedFile>;

/// The body for `request`, with `uploads` replacing the inline data they came from.
pub fn build(
    request: &GenerateContentRequest,
    uploads: &Uploads,
) -> Result<Vec<u8>, ProviderError> {
    let body = Body { request, uploads };
    serde_json::to_vec(&body).map_err(|e| {
        ProviderError::new(ErrorKind::InvalidRequest, "cannot encode the request").with_source(e)
    })
}

/// Extra keys that belong inside `generationConfig`, with their wire names.
const GENERATION_EXTRAS: [(&str, &str); 10] = [
    ("response_schema", "responseSchema"),
    ("responseSchema", "responseSchema"),
    ("response_json_schema", "responseJsonSchema"),
    ("top_k", "topK"),
    ("topK", "topK"),
    ("stop_sequences", "stopSequences"),
    ("stopSequences", "stopSequences"),
    ("candidate_count", "candidateCount"),
    ("presence_penalty", "presencePenalty"),
    ("frequency_penalty", "frequencyPenalty"),
];

fn generation_config(request: &GenerateContentRequest) -> Map<String, Value> {
    let mut config = Map::new();
    let mut put = |name: &str, value: Option<Value>| {
        if let Some(value) = value {
            config.insert(name.to_owned(), value);
        }
    };
    put("temperature", request.temperature.map(decimal));
    put("topP", request.top_p.map(decimal));
    put(
        "maxOutputTokens",
        request.max_output_tokens.map(Value::from),
    );
    put("seed", request.seed.map(Value::from));
    put(
        "responseMimeType",
        request.response_mime_type.clone().map(Value::from),
    );
    if let Some(budget) = request.thinking_budget {
        config.insert(
            "thinkingConfig".to_owned(),
            serde_json::json!({ "thinkingBudget": budget }),
        );
    }
    for (from, to) in GENERATION_EXTRAS {
        if let Some(value) = request.extra.get(from) {
            config.insert(to.to_owned(), value.clone());
        }
    }
    for name in ["generationConfig", "generation_config"] {
        if let Some(Value::Object(given)) = request.extra.get(name) {
            for (k, v) in given {
                config.insert(k.clone(), v.clone());
            }
        }
    }
    config
}

/// Whether an `extra` key is consumed by `generationConfig` rather than sent top level.
fn is_generation_extra(name: &str) -> bool {
    GENERATION_EXTRAS.iter().any(|(from, _)| *from == name)
        || name == "generationConfig"
        || name == "generation_config"
}

struct Body<'a> {
    request: &'a GenerateContentRequest,
    uploads: &'a Uploads,
}

impl Serialize for Body<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let request = self.request;
        let mut map = serializer.serialize_map(None)?;
        // tool results name their function: the name of the call they answer
        let names: HashMap<&str, &str> = request
            .contents
            .iter()
            .flat_map(|c| c.parts.iter())
            .filter_map(ContentPart::as_tool_call)
            .map(|call| (call.id.as_str(), call.name.as_str()))
            .collect();
        let contents: Vec<WireContent<'_>> = request
            .contents
            .iter()
            .enumerate()
            .map(|(c, content)| {
                let mut parts = Vec::with_capacity(content.parts.len());
                // a signature-only reasoning part goes on the function call after it;
                // a call from another vendor gets the documented placeholder
                let mut signature: Option<&str> = None;
                let mut first_call = true;
                for (p, part) in content.parts.iter().enumerate() {
                    if let Some(reasoning) = part.as_reasoning() {
                        if reasoning.text.is_empty() {
                            signature = reasoning.signature.as_deref().or(signature);
                            continue;
                        }
                    }
                    let call_signature = if part.kind() == PartKind::ToolCall {
                        let own = signature.take();
                        let first = std::mem::replace(&mut first_call, false);
                        own.or(first.then_some(SKIP_SIGNATURE))
                    } else {
                        None
                    };
                    parts.push(WirePart {
                        part,
                        uploaded: self.uploads.get(&(c, p)),
                        signature: call_signature,
                        names: &names,
                    });
                }
                WireContent {
                    role: content.role.as_deref().unwrap_or("user"),
                    parts,
                }
            })
            .collect();
        map.serialize_entry("contents", &contents)?;
        if let Some(system) = &request.system_instruction {
            map.serialize_entry(
                "systemInstruction",
                &serde_json::json!({ "parts": [{ "text": system }] }),
            )?;
        }
        let config = generation_config(request);
        if !config.is_empty() {
            map.serialize_entry("generationConfig", &config)?;
        }
        for (name, value) in &request.extra {
            if !is_generation_extra(name) {
                map.serialize_entry(name, value)?;
            }
        }
        map.end()
    }
}

struct WireContent<'a> {
    role: &'a str,
    parts: Vec<WirePart<'a>>,
}

impl Serialize for WireContent<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(2))?;
        map.serialize_entry("role", self.role)?;
        map.serialize_entry("parts", &self.parts)?;
        map.end()
    }
}

struct WirePart<'a> {
    part: &'a ContentPart,
    uploaded: Option<&'a UploadedFile>,
    /// For a function call: the `thoughtSignature` it goes back with.
    signature: Option<&'a str>,
    /// Function names by call id, for function responses.
    names: &'a HashMap<&'a str, &'a str>,
}

/// The placeholder Gemini documents for function calls it did not sign (made by another
/// vendor), which its signature check then skips.
const SKIP_SIGNATURE: &str = "skip_thought_signature_validator";

struct Inline<'a> {
    mime_type: &'a str,
    data: &'a [u8],
}

impl Serialize for Inline<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(2))?;
        map.serialize_entry("mimeType", self.mime_type)?;
        map.serialize_entry("data", &Base64(self.data))?;
        map.end()
    }
}

/// Bytes serialized as standard base64, encoded while being written.
struct Base64<'a>(&'a [u8]);

impl Serialize for Base64<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&Base64Display::new(self.0, &STANDARD))
    }
}

/// An image URL as Gemini takes it: a `data:` URL as `inlineData`, any other as
/// `fileData` with the MIME type guessed from the path's extension (`image/jpeg` when
/// there is none).
fn image_url(part: &ContentPart) -> Value {
    if let Some((mime, data)) = part.data_url() {
        return serde_json::json!({ "inlineData": { "mimeType": mime, "data": data } });
    }
    let (url, _) = part.image_url_parts().unwrap_or(("", None));
    let path = url
        .split(['?', '#'])
        .next()
        .unwrap_or(url)
        .to_ascii_lowercase();
    let mime = [
        (".png", "image/png"),
        (".gif", "image/gif"),
        (".webp", "image/webp"),
        (".heic", "image/heic"),
        (".heif", "image/heif"),
    ]
    .iter()
    .find(|(ext, _)| path.ends_with(ext))
    .map_or("image/jpeg", |(_, mime)| mime);
    file_data(mime, url)
}

fn file_data<'a>(mime_type: &'a str, uri: &'a str) -> Value {
    serde_json::json!({ "fileData": { "mimeType": mime_type, "fileUri": uri } })
}

impl Serialize for WirePart<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if let Some(file) = self.uploaded {
            return file_data(&file.mime_type, &file.uri).serialize(serializer);
        }
        let part = self.part;
        let mime = part.mime_type().unwrap_or("application/octet-stream");
        match part.kind() {
            PartKind::Text => {
                serde_json::json!({ "text": part.as_text().unwrap_or("") }).serialize(serializer)
            }
            PartKind::PdfBytes | PartKind::ImageBytes => {
                let mut map = serializer.serialize_map(Some(1))?;
                map.serialize_entry(
                    "inlineData",
                    &Inline {
                        mime_type: mime,
                        data: part.data().unwrap_or(&[]),
                    },
                )?;
                map.end()
            }
            PartKind::File => file_data(mime, part.file_uri().unwrap_or("")).serialize(serializer),
            PartKind::Audio => {
                let mime = format!("audio/{}", part.audio_format().unwrap_or("wav"));
                let mut map = serializer.serialize_map(Some(1))?;
                map.serialize_entry(
                    "inlineData",
                    &Inline {
                        mime_type: &mime,
                        data: part.data().unwrap_or(&[]),
                    },
                )?;
                map.end()
            }
            PartKind::ImageUrl => image_url(part).serialize(serializer),
            PartKind::ToolCall => {
                let call = part
                    .as_tool_call()
                    .ok_or_else(|| serde::ser::Error::custom("not a call"))?;
                let args = call.arguments_json().map_err(|e| {
                    serde::ser::Error::custom(format!(
                        "the arguments of tool call `{}` are not JSON: {e}",
                        call.id
                    ))
                })?;
                let mut value = serde_json::json!({"functionCall": {"id": call.id, "name": call.name, "args": args}});
                if let Some(signature) = self.signature {
                    value["thoughtSignature"] = Value::String(signature.to_owned());
                }
                value.serialize(serializer)
            }
            PartKind::ToolResult => {
                let result = part
                    .as_tool_result()
                    .ok_or_else(|| serde::ser::Error::custom("not a result"))?;
                let name = self
                    .names
                    .get(result.call_id.as_str())
                    .copied()
                    .unwrap_or("");
                let text: String = result
                    .content
                    .iter()
                    .filter_map(ContentPart::as_text)
                    .collect();
                let response = match serde_json::from_str::<Value>(&text) {
                    Ok(object @ Value::Object(_)) if !result.is_error => object,
                    _ if result.is_error => serde_json::json!({"error": text}),
                    _ => serde_json::json!({"result": text}),
                };
                serde_json::json!({"functionResponse": {"id": result.call_id, "name": name, "response": response}})
                    .serialize(serializer)
            }
            PartKind::Reasoning => {
                let reasoning = part
                    .as_reasoning()
                    .ok_or_else(|| serde::ser::Error::custom("not reasoning"))?;
                let mut value = serde_json::json!({"text": reasoning.text, "thought": true});
                if let Some(signature) = &reasoning.signature {
                    value["thoughtSignature"] = Value::String(signature.clone());
                }
                value.serialize(serializer)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rotate_core::{Content, GenerateOptions};
    use serde_json::json;

    fn body(request: &GenerateContentRequest) -> Value {
        serde_json::from_slice(&build(request, &Uploads::new()).unwrap()).unwrap()
    }

    #[test]
    fn every_option_lands_where_gemini_wants_it() {
        let mut extra = Map::new();
        extra.insert("response_schema".into(), json!({"type": "OBJECT"}));
        extra.insert(
            "safetySettings".into(),
            json!([{"category": "HARM_CATEGORY_HATE_SPEECH", "threshold": "BLOCK_NONE"}]),
        );
        extra.insert("generationConfig".into(), json!({"topK": 3}));
        let opts = GenerateOptions {
            system_instruction: Some("be terse".into()),
            response_mime_type: Some("application/json".into()),
            max_output_tokens: Some(256),
            temperature: Some(0.5),
            top_p: Some(0.25),
            seed: Some(7),
            thinking_budget: Some(1024),
            extra,
            ..GenerateOptions::default()
        };
        let request = GenerateContentRequest::new(vec!["hi".into()], &opts);
        let b = body(&request);
        assert_eq!(
            b["contents"],
            json!([{"role": "user", "parts": [{"text": "hi"}]}])
        );
        assert_eq!(
            b["systemInstruction"],
            json!({"parts": [{"text": "be terse"}]})
        );
        assert_eq!(
            b["generationConfig"],
            json!({
                "temperature": 0.5, "topP": 0.25, "maxOutputTokens": 256, "seed": 7,
                "responseMimeType": "application/json",
                "thinkingConfig": {"thinkingBudget": 1024},
                "responseSchema": {"type": "OBJECT"}, "topK": 3
            })
        );
        assert_eq!(b["safetySettings"][0]["threshold"], "BLOCK_NONE");
        assert!(b.get("response_schema").is_none());
    }

    #[test]
    fn parts_become_text_inline_data_and_file_data() {
        let contents = vec![
            Content::from("look"),
            ContentPart::pdf_bytes(b"%PDF-1.7".to_vec()).into(),
            ContentPart::image_bytes(b"\x89PNG\r\n\x1a\n".to_vec(), None).into(),
            ContentPart::file("gs://bucket/a.mp4", "video/mp4").into(),
        ];
        let request = GenerateContentRequest::new(contents, &GenerateOptions::default());
        let b = body(&request);
        let parts = &b["contents"][0]["parts"];
        assert_eq!(parts[0], json!({"text": "look"}));
        assert_eq!(
            parts[1],
            json!({"inlineData": {"mimeType": "application/pdf", "data": "JVBERi0xLjc="}})
        );
        assert_eq!(parts[2]["inlineData"]["mimeType"], "image/png");
        assert_eq!(
            parts[3],
            json!({"fileData": {"mimeType": "video/mp4", "fileUri": "gs://bucket/a.mp4"}})
        );
        assert!(b.get("generationConfig").is_none());
    }

    #[test]
    fn uploaded_parts_are_sent_as_files() {
        let request = GenerateContentRequest::new(
            vec![ContentPart::pdf_bytes(vec![1, 2, 3]).into()],
            &GenerateOptions::default(),
        );
        let mut uploads = Uploads::new();
        uploads.insert(
            (0, 0),
            UploadedFile {
                uri: "https://x/v1beta/files/abc".into(),
                mime_type: "application/pdf".into(),
            },
        );
        let b: Value = serde_json::from_slice(&build(&request, &uploads).unwrap()).unwrap();
        assert_eq!(
            b["contents"][0]["parts"][0]["fileData"]["fileUri"],
            "https://x/v1beta/files/abc"
        );
    }
}
