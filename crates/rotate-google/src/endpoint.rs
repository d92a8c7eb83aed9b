//! Where a call goes and how it authenticates: AI Studio's `models/{model}:method`
//! with `x-goog-api-key`; Vertex's project/location path with a service account's
//! bearer token, or its express-mode path with an API key.

use rotate_core::error::{ErrorKind, ProviderError};
use rotate_core::provider::KeyInfo;

use rotate_providers::url::RequestUrl;

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
    /// `:embedContent`.
    Embed,
    /// `:batchEmbedContents`.
    BatchEmbed,
}

impl Method {
    fn verb(self) -> &'static str {
        match self {
            Self::Generate => ":generateContent",
            Self::Stream => ":streamGenerateContent",
            Self::Embed => ":embedContent",
            Self::BatchEmbed => ":batchEmbedContents",
        }
    }
}

/// A model id as it goes into the path: Gemini's `models/` prefix dropped.
fn model_segment(model: &str) -> &str {
    model.strip_prefix("models/").unwrap_or(model)
}

/// Refuses a model that cannot be one path segment.
pub fn check_model(model: &str) -> Result<(), ProviderError> {
    rotate_providers::url::check_segment("model", model_segment(model))
}

/// `{url}/{model}{verb}` (the model one encoded segment; a `models/` prefix dropped),
/// with `alt=sse` for streams.
fn model_url(url: RequestUrl, model: &str, method: Method) -> Result<String, ProviderError> {
    let url = url.segment_with_method("model", model_segment(model), method.verb())?;
    Ok(match method {
        Method::Stream => url.query("alt", "sse").finish(),
        Method::Generate | Method::Embed | Method::BatchEmbed => url.finish(),
    })
}

/// AI Studio: `{base}/models/{model}:generateContent`.
pub fn studio_url(base: &str, model: &str, method: Method) -> Result<String, ProviderError> {
    model_url(RequestUrl::new(base).path("models"), model, method)
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
    model_url(
        vertex_models(template, key, account, "google")?,
        model,
        method,
    )
}

/// `{base}/projects/{project}/locations/{location}/publishers/{publisher}/models`: the
/// key's `metadata.location` (default [`DEFAULT_LOCATION`]) and `metadata.project_id`
/// (else the service account's project).
pub fn vertex_models(
    template: &str,
    key: &KeyInfo,
    account: Option<&ServiceAccount>,
    publisher: &str,
) -> Result<RequestUrl, ProviderError> {
    let location = key
        .metadata()
        .get("location")
        .map_or(DEFAULT_LOCATION, String::as_str);
    if !rotate_core::catalogue::is_region_name(location) {
        return Err(ProviderError::new(
            ErrorKind::Configuration,
            "a Vertex `metadata.location` is a region name such as `us-central1` or `global`",
        ));
    }
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
    Ok(RequestUrl::new(&vertex_base(template, location))
        .path("projects")
        .segment("project_id", project)?
        .path("locations")
        .segment("location", location)?
        .path("publishers")
        .path(publisher)
        .path("models"))
}

/// Vertex express mode (an API key): the global publisher path.
pub fn vertex_express_url(
    template: &str,
    model: &str,
    method: Method,
) -> Result<String, ProviderError> {
    let url = RequestUrl::new(&vertex_base(template, "global")).path("publishers/google/models");
    model_url(url, model, method)
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
            studio_url("https://generativelanguage.googleapis.com/v1beta/", "gemini-2.5-flash", Method::Stream).unwrap(),
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
            vertex_express_url(TEMPLATE, "models/m", Method::Stream).unwrap(),
            "https://aiplatform.googleapis.com/v1/publishers/google/models/m:streamGenerateContent?alt=sse"
        );
        let missing = vertex_url(TEMPLATE, &key(&[]), None, "m", Method::Generate).unwrap_err();
        assert_eq!(missing.kind, ErrorKind::Configuration);
    }

    #[test]
    fn a_model_is_one_encoded_segment() {
        assert_eq!(
            studio_url(
                "http://h/v1beta",
                "m:streamGenerateContent?x=1",
                Method::Generate
            )
            .unwrap(),
            "http://h/v1beta/models/m%3AstreamGenerateContent%3Fx%3D1:generateContent"
        );
        for model in ["gemini/../../cached", "..", "models/", "a/b"] {
            let refused = studio_url("http://h/v1beta", model, Method::Generate).unwrap_err();
            assert_eq!(refused.kind, ErrorKind::InvalidRequest, "{model}");
            let refused = vertex_express_url(TEMPLATE, model, Method::Stream).unwrap_err();
            assert_eq!(refused.kind, ErrorKind::InvalidRequest, "{model}");
        }
        let refused = vertex_url(
            TEMPLATE,
            &key(&[("project_id", "p/../q")]),
            None,
            "m",
            Method::Generate,
        )
        .unwrap_err();
        assert_eq!(refused.kind, ErrorKind::InvalidRequest);
    }
}
