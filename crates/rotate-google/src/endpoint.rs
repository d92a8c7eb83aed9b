//! Where a call goes and how it authenticates: AI Studio's `models/{model}:method`
//! with `x-goog-api-key`; Vertex's project/location path with a service account's
//! bearer token, or its express-mode path with an API key.

use rotate_core::error::{ErrorKind, ProviderError};
use rotate_core::provider::KeyInfo;

use crate::auth::ServiceAccount;

/// Vertex's location when the key's metadata names none.
pub const DEFAULT_LOCATION: &str = "us-central1";

/// The method of a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `:generateContent`.
    Generate,
    /// `:streamGenerateContent?alt=sse`.
    Stream,
}

impl Method {
    fn suffix(self) -> &'static str {
        match self {
            Self::Generate => ":generateContent",
            Self::Stream => ":streamGenerateContent?alt=sse",
        }
    }
}

fn model_path(model: &str) -> &str {
    model.strip_prefix("models/").unwrap_or(model)
}

/// AI Studio: `{base}/models/{model}:generateContent`.
pub fn studio_url(base: &str, model: &str, method: Method) -> String {
    format!(
        "{}/models/{}{}",
        base.trim_end_matches('/'),
        model_path(model),
        method.suffix()
    )
}

/// A Vertex base URL with `{location}` filled in (`global` has no regional prefix).
pub fn vertex_base(template: &str, location: &str) -> String {
    let base = if location == "global" {
        template.replace("{location}-", "")
    } else {
        template.to_owned()
    };
    base.replace("{location}", location)
        .trim_end_matches('/')
        .to_owned()
}

/// Vertex with a service account: the project/location publisher path.
pub fn vertex_url(
    template: &str,
    key: &KeyInfo,
    account: Option<&ServiceAccount>,
    model: &str,
    method: Method,
) -> Result<String, ProviderError> {
    let location = key
        .metadata()
        .get("location")
        .map_or(DEFAULT_LOCATION, String::as_str);
    let project = key
        .metadata()
        .get("project_id")
        .map(String::as_str)
        .or_else(|| account.and_then(|a| a.project_id.as_deref()))
        .ok_or_else(|| {
            ProviderError::new(
                ErrorKind::Configuration,
                "a Vertex key needs `metadata.project_id` or a service account with `project_id`",
            )
        })?;
    Ok(format!(
        "{}/projects/{project}/locations/{location}/publishers/google/models/{}{}",
        vertex_base(template, location),
        model_path(model),
        method.suffix()
    ))
}

/// Vertex express mode (an API key): the global publisher path.
pub fn vertex_express_url(template: &str, model: &str, method: Method) -> String {
    format!(
        "{}/publishers/google/models/{}{}",
        vertex_base(template, "global"),
        model_path(model),
        method.suffix()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use rotate_core::secret::Secret;
    use std::collections::BTreeMap;

    const TEMPLATE: &str = "https://{location}-aiplatform.googleapis.com/v1";

    fn key(metadata: &[(&str, &str)]) -> KeyInfo {
        let metadata: BTreeMap<String, String> = metadata
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        KeyInfo::new("v", "vertex", Secret::new("x"), None, metadata)
    }

    #[test]
    fn urls_for_each_service() {
        assert_eq!(
            studio_url("https://generativelanguage.googleapis.com/v1beta/", "gemini-2.5-flash", Method::Stream),
            "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
        );
        assert_eq!(
            vertex_url(TEMPLATE, &key(&[("project_id", "p1"), ("location", "europe-west4")]), None, "gemini-2.5-pro", Method::Generate).unwrap(),
            "https://europe-west4-aiplatform.googleapis.com/v1/projects/p1/locations/europe-west4/publishers/google/models/gemini-2.5-pro:generateContent"
        );
        assert_eq!(
            vertex_url(TEMPLATE, &key(&[("project_id", "p1"), ("location", "global")]), None, "m", Method::Generate).unwrap(),
            "https://aiplatform.googleapis.com/v1/projects/p1/locations/global/publishers/google/models/m:generateContent"
        );
        assert_eq!(
            vertex_url(TEMPLATE, &key(&[("project_id", "p1")]), None, "m", Method::Generate).unwrap(),
            "https://us-central1-aiplatform.googleapis.com/v1/projects/p1/locations/us-central1/publishers/google/models/m:generateContent"
        );
        assert_eq!(
            vertex_express_url(TEMPLATE, "models/m", Method::Stream),
            "https://aiplatform.googleapis.com/v1/publishers/google/models/m:streamGenerateContent?alt=sse"
        );
        let missing = vertex_url(TEMPLATE, &key(&[]), None, "m", Method::Generate).unwrap_err();
        assert_eq!(missing.kind, ErrorKind::Configuration);
    }
}
