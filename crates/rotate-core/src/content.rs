//! Multimodal input for Google's `generate_content`: [`Content`] turns made of [`ContentPart`]s.

use std::sync::Arc;

use base64::Engine as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The kind of a [`ContentPart`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
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
}

/// One part of a multimodal turn. Its bytes are shared (cloning is cheap) and its
/// `Debug` shows their length, not the bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct ContentPart {
    kind: PartKind,
    text: Option<String>,
    data: Option<Arc<[u8]>>,
    file_uri: Option<String>,
    mime_type: Option<String>,
}

impl ContentPart {
    /// A text part.
    pub fn text(text: impl Into<String>) -> Self {
        Self {
            kind: PartKind::Text,
            text: Some(text.into()),
            data: None,
            file_uri: None,
            mime_type: None,
        }
    }

    /// A PDF document, sent as `application/pdf`.
    pub fn pdf_bytes(data: impl Into<Vec<u8>>) -> Self {
        Self {
            kind: PartKind::PdfBytes,
            text: None,
            data: Some(data.into().into()),
            file_uri: None,
            mime_type: Some("application/pdf".to_owned()),
        }
    }

    /// An image; with `mime_type` `None` the type is sniffed from the magic bytes.
    pub fn image_bytes(data: impl Into<Vec<u8>>, mime_type: Option<&str>) -> Self {
        let data: Arc<[u8]> = data.into().into();
        let mime = mime_type.map_or_else(|| sniff_image_mime(&data).to_owned(), str::to_owned);
        Self {
            kind: PartKind::ImageBytes,
            text: None,
            data: Some(data),
            file_uri: None,
            mime_type: Some(mime),
        }
    }

    /// A file already stored with the vendor (a Files API URI, or `gs://…` for Vertex).
    pub fn file(file_uri: impl Into<String>, mime_type: impl Into<String>) -> Self {
        Self {
            kind: PartKind::File,
            text: None,
            data: None,
            file_uri: Some(file_uri.into()),
            mime_type: Some(mime_type.into()),
        }
    }

    /// The kind of part.
    pub fn kind(&self) -> PartKind {
        self.kind
    }

    /// The text of a text part (the accessor is `as_text` because `text` is the constructor).
    pub fn as_text(&self) -> Option<&str> {
        self.text.as_deref()
    }

    /// The bytes of a PDF or image part.
    pub fn data(&self) -> Option<&[u8]> {
        self.data.as_deref()
    }

    /// The URI of a file part.
    pub fn file_uri(&self) -> Option<&str> {
        self.file_uri.as_deref()
    }

    /// The MIME type of a PDF, image or file part.
    pub fn mime_type(&self) -> Option<&str> {
        self.mime_type.as_deref()
    }
}

impl std::fmt::Debug for ContentPart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut shown = f.debug_struct("ContentPart");
        shown.field("kind", &self.kind);
        if let Some(text) = &self.text {
            shown.field("text", text);
        }
        if let Some(data) = &self.data {
            shown.field("bytes", &data.len());
        }
        if let Some(uri) = &self.file_uri {
            shown.field("file_uri", uri);
        }
        if let Some(mime) = &self.mime_type {
            shown.field("mime_type", mime);
        }
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

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PartWire {
    #[serde(rename = "type")]
    kind: PartKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    data: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    file_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    mime_type: Option<String>,
}

impl Serialize for ContentPart {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        PartWire {
            kind: self.kind,
            text: self.text.clone(),
            data: self
                .data
                .as_ref()
                .map(|d| base64::engine::general_purpose::STANDARD.encode(d)),
            file_uri: self.file_uri.clone(),
            mime_type: self.mime_type.clone(),
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for ContentPart {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let wire = PartWire::deserialize(deserializer)?;
        let bytes = |field: Option<String>| -> Result<Vec<u8>, D::Error> {
            let encoded = field.ok_or_else(|| D::Error::missing_field("data"))?;
            base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .map_err(|e| D::Error::custom(format!("`data` is not base64: {e}")))
        };
        Ok(match wire.kind {
            PartKind::Text => Self::text(wire.text.ok_or_else(|| D::Error::missing_field("text"))?),
            PartKind::PdfBytes => Self::pdf_bytes(bytes(wire.data)?),
            PartKind::ImageBytes => Self::image_bytes(bytes(wire.data)?, wire.mime_type.as_deref()),
            PartKind::File => Self::file(
                wire.file_uri
                    .ok_or_else(|| D::Error::missing_field("file_uri"))?,
                wire.mime_type
                    .ok_or_else(|| D::Error::missing_field("mime_type"))?,
            ),
        })
    }
}

/// One turn of multimodal input: a role (`user`, `model`, or none) and its parts.
///
/// Consecutive contents without a role are sent as one user turn.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
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
