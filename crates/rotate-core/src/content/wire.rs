//! The JSON form of a [`ContentPart`]: an object tagged by `type` (`text`, `pdf_bytes`,
//! `image_bytes`, `file`, `image_url`, `audio`, `tool_call`, `tool_result`, `reasoning`),
//! bytes in base64. An unknown `type` or field is an error naming it.

use base64::Engine as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{Body, ContentPart, PartKind};
use crate::tool::{Reasoning, ToolCall, ToolResult};

#[derive(Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum PartWire {
    Text {
        text: String,
    },
    PdfBytes {
        data: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        mime_type: Option<String>,
    },
    ImageBytes {
        data: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        mime_type: Option<String>,
    },
    File {
        file_uri: String,
        mime_type: String,
    },
    ImageUrl {
        url: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        detail: Option<String>,
    },
    Audio {
        data: String,
        format: String,
    },
    ToolCall {
        id: String,
        name: String,
        arguments: String,
    },
    ToolResult {
        call_id: String,
        content: Vec<ContentPart>,
        #[serde(default)]
        is_error: bool,
    },
    Reasoning {
        #[serde(default)]
        text: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        signature: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        redacted: Option<String>,
        #[serde(default)]
        provider: String,
    },
}

fn encode(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

impl Serialize for ContentPart {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let wire = match &self.body {
            Body::Text(text) => PartWire::Text { text: text.clone() },
            Body::Bytes { kind, data, mime } => {
                let (data, mime_type) = (encode(data), Some(mime.clone()));
                if *kind == PartKind::PdfBytes {
                    PartWire::PdfBytes { data, mime_type }
                } else {
                    PartWire::ImageBytes { data, mime_type }
                }
            }
            Body::File { uri, mime } => PartWire::File {
                file_uri: uri.clone(),
                mime_type: mime.clone(),
            },
            Body::ImageUrl { url, detail } => PartWire::ImageUrl {
                url: url.clone(),
                detail: detail.clone(),
            },
            Body::Audio { data, format } => PartWire::Audio {
                data: encode(data),
                format: format.clone(),
            },
            Body::ToolCall(call) => PartWire::ToolCall {
                id: call.id.clone(),
                name: call.name.clone(),
                arguments: call.arguments.clone(),
            },
            Body::ToolResult(result) => PartWire::ToolResult {
                call_id: result.call_id.clone(),
                content: result.content.clone(),
                is_error: result.is_error,
            },
            Body::Reasoning(reasoning) => PartWire::Reasoning {
                text: reasoning.text.clone(),
                signature: reasoning.signature.clone(),
                redacted: reasoning.redacted.clone(),
                provider: reasoning.provider.clone(),
            },
        };
        wire.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for ContentPart {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let bytes = |encoded: String| -> Result<Vec<u8>, D::Error> {
            base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .map_err(|e| D::Error::custom(format!("`data` is not base64: {e}")))
        };
        Ok(match PartWire::deserialize(deserializer)? {
            PartWire::Text { text } => Self::text(text),
            PartWire::PdfBytes { data, .. } => Self::pdf_bytes(bytes(data)?),
            PartWire::ImageBytes { data, mime_type } => {
                Self::image_bytes(bytes(data)?, mime_type.as_deref())
            }
            PartWire::File {
                file_uri,
                mime_type,
            } => Self::file(file_uri, mime_type),
            PartWire::ImageUrl { url, detail } => Self::of(Body::ImageUrl { url, detail }),
            PartWire::Audio { data, format } => Self::audio(bytes(data)?, format),
            PartWire::ToolCall {
                id,
                name,
                arguments,
            } => Self::tool_call(ToolCall {
                id,
                name,
                arguments,
            }),
            PartWire::ToolResult {
                call_id,
                content,
                is_error,
            } => Self::of(Body::ToolResult(ToolResult {
                call_id,
                content,
                is_error,
            })),
            PartWire::Reasoning {
                text,
                signature,
                redacted,
                provider,
            } => Self::reasoning(Reasoning {
                text,
                signature,
                redacted,
                provider,
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_round_trips() {
        let parts = vec![
            ContentPart::text("hi"),
            ContentPart::pdf_bytes(b"%PDF-1.7".to_vec()),
            ContentPart::image_bytes(b"\x89PNG\r\n\x1a\n".to_vec(), None),
            ContentPart::file("files/abc", "application/pdf"),
            ContentPart::image_url_with_detail("https://example.com/a.png", "low"),
            ContentPart::audio(vec![1, 2, 3], "wav"),
            ContentPart::tool_call(ToolCall::new("call_1", "weather", r#"{"city":"Paris"}"#)),
            ContentPart::tool_result("call_1", vec![ContentPart::text("18 C")], false),
            ContentPart::reasoning(Reasoning {
                text: "think".into(),
                signature: Some("sig".into()),
                redacted: None,
                provider: "anthropic".into(),
            }),
        ];
        let json = serde_json::to_value(&parts).unwrap();
        assert_eq!(json[0], serde_json::json!({"type": "text", "text": "hi"}));
        assert_eq!(json[6]["type"], "tool_call");
        let back: Vec<ContentPart> = serde_json::from_value(json).unwrap();
        assert_eq!(back, parts);
    }

    #[test]
    fn unknown_types_and_fields_are_named() {
        let error = serde_json::from_str::<ContentPart>(r#"{"type":"hologram"}"#).unwrap_err();
        assert!(error.to_string().contains("hologram"), "{error}");
        let error =
            serde_json::from_str::<ContentPart>(r#"{"type":"text","text":"a","x":1}"#).unwrap_err();
        assert!(error.to_string().contains('x'), "{error}");
    }
}
