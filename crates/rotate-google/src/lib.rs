//! Google's providers for llm-rotate: `google` (Gemini on AI Studio), `vertex`
//! (Gemini on Vertex AI) and `vertex_anthropic` (Claude on Vertex AI, see [`claude`]).
//!
//! What it is for: speaking Gemini's `generateContent` protocol: multimodal request
//! bodies (text, PDFs, images, files), replies and `alt=sse` streams (thought parts kept
//! out of the text, thinking tokens counted), google.rpc error classification, the AI
//! Studio Files API for large inputs, and Vertex service-account auth (RS256 JWT
//! exchanged for a cached bearer token). What it is not for: key health or selection,
//! which the engine in `rotate-core` does for these providers exactly as for the others.
//!
//! Applications use it through the `llm-rotate` facade (`google` feature, on by
//! default): `LMRotate::generate_content` and `generate_content_stream`, and `chat` on
//! Google providers.
//!
//! ```
//! use rotate_core::generate::GenerateContentRequest;
//! use rotate_core::{ContentPart, GenerateOptions};
//!
//! let request = GenerateContentRequest::new(
//!     vec!["Describe this".into(), ContentPart::pdf_bytes(b"%PDF-1.7".to_vec()).into()],
//!     &GenerateOptions { temperature: Some(0.2), ..GenerateOptions::default() },
//! );
//! let body: serde_json::Value =
//!     serde_json::from_slice(&rotate_google::body::build(&request, &Default::default()).unwrap()).unwrap();
//! assert_eq!(body["contents"][0]["parts"][1]["inlineData"]["mimeType"], "application/pdf");
//! assert_eq!(body["generationConfig"]["temperature"], 0.2);
//! ```
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod accounts;
mod adapter;
pub mod auth;
pub mod body;
pub mod claude;
pub mod daily;
mod endpoint;
mod factory;
mod files;
pub mod reply;
pub mod stream;

pub use adapter::{GoogleAdapter, DEFAULT_INLINE_LIMIT_BYTES};
pub use factory::GoogleAdapterFactory;
pub use reply::Service;
