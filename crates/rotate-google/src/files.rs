//! The AI Studio Files API, for inline payloads over the request limit: a resumable
//! upload (start, then upload-and-finalize) with the call's own key, then polling the
//! file until it is `ACTIVE`.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode};
use http_body_util::Full;
use rotate_core::error::{ErrorKind, ProviderError};
use rotate_providers::client::HttpClient;
use rotate_providers::errors::malformed;
use rotate_providers::url::RequestUrl;
use serde_json::Value;

use crate::body::UploadedFile;
use crate::reply::{classify, Service};

/// The longest the adapter waits for an uploaded file to become `ACTIVE`.
const ACTIVATION_LIMIT: Duration = Duration::from_secs(300);

/// Where uploads and file lookups go.
#[derive(Debug, Clone)]
pub struct FilesApi {
    /// `{origin}/upload/{version}/files`.
    pub upload_url: String,
    /// `{base}` (file names `files/abc` are appended).
    pub base_url: String,
}

impl FilesApi {
    /// The Files API of an AI Studio base URL (`https://host/v1beta`).
    pub fn of(base_url: &str) -> Self {
        let base = base_url.trim_end_matches('/');
        let (origin, version) = match base.rsplit_once('/') {
            Some((origin, version)) if origin.contains("://") => (origin, version),
            _ => (base, "v1beta"),
        };
        Self {
            upload_url: format!("{origin}/upload/{version}/files"),
            base_url: base.to_owned(),
        }
    }

    /// Uploads `data` with the key's headers and waits until the file is usable.
    pub async fn upload(
        &self,
        client: &HttpClient,
        auth: &HeaderMap,
        data: &[u8],
        mime_type: &str,
        timeout: Duration,
    ) -> Result<UploadedFile, ProviderError> {
        let length = data.len().to_string();
        let start = request(
            http::Method::POST,
            &self.upload_url,
            auth,
            &[
                ("x-goog-upload-protocol", "resumable"),
                ("x-goog-upload-command", "start"),
                ("x-goog-upload-header-content-length", &length),
                ("x-goog-upload-header-content-type", mime_type),
                ("content-type", "application/json"),
            ],
            Bytes::from_static(br#"{"file":{"display_name":"llm-rotate upload"}}"#),
        )?;
        let (parts, body) = client.exchange(start, timeout).await?;
        check(parts.status, &body)?;
        let session = parts
            .headers
            .get("x-goog-upload-url")
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| malformed("Files API answer", "no x-goog-upload-url header"))?
            .to_owned();
        if !same_origin(&session, &self.upload_url) {
            return Err(malformed(
                "Files API answer",
                "the upload session URL points to another host",
            ));
        }
        let upload = request(
            http::Method::POST,
            &session,
            auth,
            &[
                ("x-goog-upload-command", "upload, finalize"),
                ("x-goog-upload-offset", "0"),
            ],
            Bytes::copy_from_slice(data),
        )?;
        let (parts, body) = client.exchange(upload, timeout).await?;
        check(parts.status, &body)?;
        let mut file = read_file(&body)?;
        let mut wait = Duration::from_millis(250);
        let mut waited = Duration::ZERO;
        while file.state != "ACTIVE" {
            if file.state == "FAILED" {
                return Err(ProviderError::new(
                    ErrorKind::InvalidRequest,
                    format!("the Files API could not process the upload `{}`", file.name),
                ));
            }
            if waited > ACTIVATION_LIMIT {
                return Err(ProviderError::new(
                    ErrorKind::Timeout,
                    format!("the uploaded file `{}` did not become ACTIVE", file.name),
                ));
            }
            if waited > Duration::ZERO {
                pause(wait).await;
                wait = (wait * 2).min(Duration::from_secs(5));
            }
            waited += wait;
            let id = file.name.strip_prefix("files/").ok_or_else(|| {
                malformed("Files API answer", "a file `name` that is not `files/{id}`")
            })?;
            let url = RequestUrl::new(&self.base_url)
                .path("files")
                .segment("file name", id)
                .map_err(|_| malformed("Files API answer", "a file id that is not one segment"))?
                .finish();
            let lookup = request(http::Method::GET, &url, auth, &[], Bytes::new())?;
            let (parts, body) = client.exchange(lookup, timeout).await?;
            check(parts.status, &body)?;
            file = read_file(&body)?;
        }
        Ok(UploadedFile {
            uri: file.uri,
            mime_type: file.mime_type.unwrap_or_else(|| mime_type.to_owned()),
        })
    }
}

/// True when `url` is on the same scheme, host and port as `reference` (so an upload
/// session never takes the key to another host).
fn same_origin(url: &str, reference: &str) -> bool {
    match (url.parse::<http::Uri>(), reference.parse::<http::Uri>()) {
        (Ok(url), Ok(reference)) => {
            url.scheme().is_some()
                && url.scheme() == reference.scheme()
                && url.authority() == reference.authority()
        }
        _ => false,
    }
}

/// Waits between polls (a real wait for a remote file, not a test sleep).
#[allow(clippy::disallowed_methods)]
async fn pause(wait: Duration) {
    tokio::time::sleep(wait).await;
}

struct FileState {
    name: String,
    uri: String,
    mime_type: Option<String>,
    state: String,
}

/// A `file` object, bare or wrapped in `{"file": …}`.
fn read_file(body: &[u8]) -> Result<FileState, ProviderError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| malformed("Files API answer", e))?;
    let file = value.get("file").unwrap_or(&value);
    let text = |name: &str| file.get(name).and_then(Value::as_str).map(str::to_owned);
    Ok(FileState {
        name: text("name").ok_or_else(|| malformed("Files API answer", "no file `name`"))?,
        uri: text("uri").ok_or_else(|| malformed("Files API answer", "no file `uri`"))?,
        mime_type: text("mimeType"),
        state: text("state").unwrap_or_else(|| "ACTIVE".to_owned()),
    })
}

fn request(
    method: http::Method,
    url: &str,
    auth: &HeaderMap,
    headers: &[(&str, &str)],
    body: Bytes,
) -> Result<Request<Full<Bytes>>, ProviderError> {
    let mut builder = Request::builder().method(method).uri(url);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    if let Some(h) = builder.headers_mut() {
        h.extend(auth.clone());
    }
    builder.body(Full::new(body)).map_err(|e| {
        ProviderError::new(
            ErrorKind::Configuration,
            "cannot build the Files API request",
        )
        .with_source(e)
    })
}

fn check(status: StatusCode, body: &[u8]) -> Result<(), ProviderError> {
    if status.is_success() {
        Ok(())
    } else {
        // an upload's own failure: no daily reset applies
        Err(classify(status, body, Service::Studio, 0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_urls_follow_the_base_url() {
        let api = FilesApi::of("https://generativelanguage.googleapis.com/v1beta/");
        assert_eq!(
            api.upload_url,
            "https://generativelanguage.googleapis.com/upload/v1beta/files"
        );
        assert_eq!(
            api.base_url,
            "https://generativelanguage.googleapis.com/v1beta"
        );
        let local = FilesApi::of("http://127.0.0.1:9/v1beta");
        assert_eq!(local.upload_url, "http://127.0.0.1:9/upload/v1beta/files");
    }

    #[test]
    fn upload_sessions_stay_on_the_upload_host() {
        let upload = "http://127.0.0.1:9/upload/v1beta/files";
        assert!(same_origin(
            "http://127.0.0.1:9/upload/v1beta/files?upload_id=1",
            upload
        ));
        assert!(!same_origin("http://127.0.0.1:99/upload", upload));
        assert!(!same_origin(
            "http://127.0.0.1:9.evil.example/upload",
            upload
        ));
        assert!(!same_origin("https://127.0.0.1:9/upload", upload));
    }
}
