//! The parts of a message or a `generate_content` turn: [`ContentPart`] (text, images,
//! PDFs, files, audio, tool calls and results, reasoning), and [`Content`] turns.

mod wire;

use std::sync::Arc;

use crate::tool::{Reasoning, ToolCall, ToolResult};

/// The kind of a [`ContentPart`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PartKind {
    /// Plain text.
    Text,
    /// A PDF document's bytes.
    PdfBytes,
    /// An image's bytes.
    ImageBytes,
    /// A file already uploaded (Files API URI or `gs://` URI).
    File,
    /// An image at a URL (`https://…` or a `data:` URL).
    ImageUrl,
    /// Audio bytes in a named format (`wav`, `mp3`, …).
    Audio,
    /// A tool call the model made.
    ToolCall,
    /// The caller's answer to a tool call.
    ToolResult,
    /// A reasoning block, with its signature.
    Reasoning,
}

/// One part of a message or turn. Its bytes are shared (cloning is cheap) and its
/// `Debug` shows their length, not the bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct ContentPart {
    body: Body,
}

#[derive(Clone, PartialEq, Eq)]
enum Body {
    Text(String),
    /// PDF or image bytes.
    Bytes {
        kind: PartKind,
        data: Arc<[u8]>,
        mime: String,
    },
    File {
        uri: String,
        mime: String,
    },
    ImageUrl {
        url: String,
        detail: Option<String>,
    },
    Audio {
        data: Arc<[u8]>,
        format: String,
    },
    ToolCall(ToolCall),
    ToolResult(ToolResult),
    Reasoning(Reasoning),
}

impl ContentPart {
    fn of(body: Body) -> Self {
        Self { body }
    }

    /// A text part.
    pub fn text(text: impl Into<String>) -> Self {
        Self::of(Body::Text(text.into()))
    }

    /// A PDF document, sent as `application/pdf`.
    pub fn pdf_bytes(data: impl Into<Vec<u8>>) -> Self {
        Self::of(Body::Bytes {
            kind: PartKind::PdfBytes,
            data: data.into().into(),
            mime: "application/pdf".to_owned(),
        })
    }

    /// An image; with `mime_type` `None` the type is sniffed from the magic bytes.
    pub fn image_bytes(data: impl Into<Vec<u8>>, mime_type: Option<&str>) -> Self {
        let data: Arc<[u8]> = data.into().into();
        let mime = mime_type.map_or_else(|| sniff_image_mime(&data).to_owned(), str::to_owned);
        Self::of(Body::Bytes {
            kind: PartKind::ImageBytes,
            data,
            mime,
        })
    }

    /// A file already stored with the vendor (a Files API URI, or `gs://…` for Vertex).
    pub fn file(file_uri: impl Into<String>, mime_type: impl Into<String>) -> Self {
        Self::of(Body::File {
            uri: file_uri.into(),
            mime: mime_type.into(),
        })
    }

    /// An image at `url` (`https://…`, or a `data:` URL).
    pub fn image_url(url: impl Into<String>) -> Self {
        Self::of(Body::ImageUrl {
            url: url.into(),
            detail: None,
        })
    }

    /// An image at `url`, with OpenAI's `detail` (`low`, `high`, `auto`).
    pub fn image_url_with_detail(url: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::of(Body::ImageUrl {
            url: url.into(),
            detail: Some(detail.into()),
        })
    }

    /// Audio bytes in `format` (`wav`, `mp3`, …).
    pub fn audio(data: impl Into<Vec<u8>>, format: impl Into<String>) -> Self {
        Self::of(Body::Audio {
            data: data.into().into(),
            format: format.into(),
        })
    }

    /// A tool call (in an assistant turn).
    pub fn tool_call(call: ToolCall) -> Self {
        Self::of(Body::ToolCall(call))
    }

    /// The result of call `call_id`.
    pub fn tool_result(
        call_id: impl Into<String>,
        content: Vec<ContentPart>,
        is_error: bool,
    ) -> Self {
        Self::of(Body::ToolResult(ToolResult {
            call_id: call_id.into(),
            content,
            is_error,
        }))
    }

    /// A reasoning block.
    pub fn reasoning(reasoning: Reasoning) -> Self {
        Self::of(Body::Reasoning(reasoning))
    }

    /// The kind of part.
    pub fn kind(&self) -> PartKind {
        match &self.body {
            Body::Text(_) => PartKind::Text,
            Body::Bytes { kind, .. } => *kind,
            Body::File { .. } => PartKind::File,
            Body::ImageUrl { .. } => PartKind::ImageUrl,
            Body::Audio { .. } => PartKind::Audio,
            Body::ToolCall(_) => PartKind::ToolCall,
            Body::ToolResult(_) => PartKind::ToolResult,
            Body::Reasoning(_) => PartKind::Reasoning,
        }
    }

    /// The text of a text part (the accessor is `as_text` because `text` is the constructor).
    pub fn as_text(&self) -> Option<&str> {
        match &self.body {
            Body::Text(text) => Some(text),
            _ => None,
        }
    }

    /// The bytes of a PDF, image or audio part.
    pub fn data(&self) -> Option<&[u8]> {
        match &self.body {
            Body::Bytes { data, .. } | Body::Audio { data, .. } => Some(data),
            _ => None,
        }
    }

    /// The URI of a file part.
    pub fn file_uri(&self) -> Option<&str> {
        match &self.body {
            Body::File { uri, .. } => Some(uri),
            _ => None,
        }
    }

    /// The MIME type of a PDF, image or file part.
    pub fn mime_type(&self) -> Option<&str> {
        match &self.body {
            Body::Bytes { mime, .. } | Body::File { mime, .. } => Some(mime),
            _ => None,
        }
    }

    /// The URL of an image-URL part, and its `detail`.
    pub fn image_url_parts(&self) -> Option<(&str, Option<&str>)> {
        match &self.body {
            Body::ImageUrl { url, detail } => Some((url, detail.as_deref())),
            _ => None,
        }
    }

    /// The MIME type and base64 payload of an image-URL part given as a
    /// `data:<mime>;base64,<payload>` URL.
    pub fn data_url(&self) -> Option<(&str, &str)> {
        let (url, _) = self.image_url_parts()?;
        url.strip_prefix("data:")?.split_once(";base64,")
    }

    /// The format of an audio part.
    pub fn audio_format(&self) -> Option<&str> {
        match &self.body {
            Body::Audio { format, .. } => Some(format),
            _ => None,
        }
    }

    /// The call of a tool-call part.
    pub fn as_tool_call(&self) -> Option<&ToolCall> {
        match &self.body {
            Body::ToolCall(call) => Some(call),
            _ => None,
        }
    }

    /// The result of a tool-result part.
    pub fn as_tool_result(&self) -> Option<&ToolResult> {
        match &self.body {
            Body::ToolResult(result) => Some(result),
            _ => None,
        }
    }

    /// The block of a reasoning part.
    pub fn as_reasoning(&self) -> Option<&Reasoning> {
        match &self.body {
            Body::Reasoning(reasoning) => Some(reasoning),
            _ => None,
        }
    }
}

impl std::fmt::Debug for ContentPart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut shown = f.debug_struct("ContentPart");
        shown.field("kind", &self.kind());
        match &self.body {
            Body::Text(text) => shown.field("text", text),
            Body::Bytes { data, mime, .. } => {
                shown.field("bytes", &data.len()).field("mime_type", mime)
            }
            Body::File { uri, mime } => shown.field("file_uri", uri).field("mime_type", mime),
            Body::ImageUrl { url, detail } => {
                // a data: URL can be megabytes: show its head only
                let head: String = url.chars().take(64).collect();
                shown.field("url", &head).field("detail", detail)
            }
            Body::Audio { data, format } => {
                shown.field("bytes", &data.len()).field("format", format)
            }
            Body::ToolCall(call) => shown.field("call", call),
            Body::ToolResult(result) => shown.field("result", result),
            Body::Reasoning(reasoning) => shown.field("reasoning", reasoning),
        };
        shown.finish()
    }
}

/// The MIME type of an image, from its first bytes; `application/octet-stream` when unknown.
pub fn sniff_image_mime(data: &[u8]) -> &'static str {
    if data.starts_with(b"\x89PNG\r\n\x1a\n") {
        "image/png"
    } else if data.starts_with(&[0xFF, 0xD8, 0xFF]) {
        "image/jpeg"
    } else if data.starts_with(b"GIF87a") || data.starts_with(b"GIF89a") {
        "image/gif"
    } else if data.len() >= 12 && &data[..4] == b"RIFF" && &data[8..12] == b"WEBP" {
        "image/webp"
    } else if data.len() >= 12 && &data[4..8] == b"ftyp" {
        match &data[8..12] {
            b"heic" | b"heix" | b"hevc" | b"hevx" | b"heim" | b"heis" | b"hevm" | b"hevs" => {
                "image/heic"
            }
            b"mif1" | b"msf1" | b"heif" => "image/heif",
            _ => "application/octet-stream",
        }
    } else {
        "application/octet-stream"
    }
}

/// One turn of multimodal input: a role (`user`, `model`, or none) and its parts.
///
/// Consecutive contents without a role are sent as one user turn.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Content {
    /// `user`, `model`, or `None` (a user turn merged with its neighbours).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// The parts of the turn.
    pub parts: Vec<ContentPart>,
}

impl Content {
    /// A user turn.
    pub fn user(parts: impl Into<Vec<ContentPart>>) -> Self {
        Self {
            role: Some("user".to_owned()),
            parts: parts.into(),
        }
    }

    /// A model turn (an earlier answer).
    pub fn model(parts: impl Into<Vec<ContentPart>>) -> Self {
        Self {
            role: Some("model".to_owned()),
            parts: parts.into(),
        }
    }
}

impl From<ContentPart> for Content {
    fn from(part: ContentPart) -> Self {
        Self {
            role: None,
            parts: vec![part],
        }
    }
}

impl From<&str> for Content {
    fn from(text: &str) -> Self {
        ContentPart::text(text).into()
    }
}

impl From<String> for Content {
    fn from(text: String) -> Self {
        ContentPart::text(text).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_image_types_from_magic_bytes() {
        assert_eq!(sniff_image_mime(b"\x89PNG\r\n\x1a\n0000"), "image/png");
        assert_eq!(sniff_image_mime(&[0xFF, 0xD8, 0xFF, 0xE0]), "image/jpeg");
        assert_eq!(sniff_image_mime(b"RIFF\0\0\0\0WEBPVP8 "), "image/webp");
        assert_eq!(sniff_image_mime(b"\0\0\0\x18ftypheic\0\0"), "image/heic");
        assert_eq!(sniff_image_mime(b"\0\0\0\x18ftypmif1\0\0"), "image/heif");
        assert_eq!(sniff_image_mime(b"hello"), "application/octet-stream");
        let part = ContentPart::image_bytes(b"\x89PNG\r\n\x1a\nrest".to_vec(), None);
        assert_eq!(part.mime_type(), Some("image/png"));
        let given = ContentPart::image_bytes(vec![1, 2, 3], Some("image/webp"));
        assert_eq!(given.mime_type(), Some("image/webp"));
    }

    #[test]
    fn parts_serialize_with_base64_data_and_round_trip() {
        let part = ContentPart::pdf_bytes(b"%PDF-1.7".to_vec());
        let json = serde_json::to_value(&part).unwrap();
        assert_eq!(json["type"], "pdf_bytes");
        assert_eq!(json["data"], "JVBERi0xLjc=");
        assert_eq!(json["mime_type"], "application/pdf");
        let back: ContentPart = serde_json::from_value(json).unwrap();
        assert_eq!(back, part);
        assert_eq!(back.kind(), PartKind::PdfBytes);
    }

    #[test]
    fn bare_strings_and_parts_become_roleless_turns() {
        let turns: Vec<Content> = vec!["Summarise".into(), ContentPart::pdf_bytes(vec![1]).into()];
        assert!(turns.iter().all(|t| t.role.is_none()));
        assert_eq!(turns[0].parts[0].as_text(), Some("Summarise"));
        assert_eq!(
            Content::model(vec![ContentPart::text("x")]).role.as_deref(),
            Some("model")
        );
    }
}
