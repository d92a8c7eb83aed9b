//! The rest of Google's surface a Gemini client touches: the AI Studio Files API
//! (resumable upload, then polling until `ACTIVE`) and an OAuth token endpoint that
//! verifies a service account's JWT (RS256 signature with the test key's public key,
//! `kid`, issuer, scope, audience, issue and expiry times) and hands out bearer tokens.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use http::{Response, StatusCode};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use parking_lot::Mutex;
use serde::Deserialize;
use serde_json::{json, Value};

use super::gemini::rpc_error;
use super::render::{json, ReplyBody};

/// The private key of the test service account (PKCS#8 PEM; a fixture, not a secret).
pub const SERVICE_ACCOUNT_PRIVATE_KEY: &str =
    include_str!("../../fixtures/service-account-key.pem");
const SERVICE_ACCOUNT_PUBLIC_KEY: &str = include_str!("../../fixtures/service-account-pub.pem");
/// The `private_key_id` (JWT `kid`) of the test service account.
pub const SERVICE_ACCOUNT_KEY_ID: &str = "testkit-key-1";
/// The audience Google's own auth library signs with.
const GOOGLE_TOKEN_AUDIENCE: &str = "https://oauth2.googleapis.com/token";

/// An uploaded file.
#[derive(Debug, Clone)]
pub(crate) struct StoredFile {
    pub(crate) owner: String,
    pub(crate) size: usize,
    pub(crate) mime_type: String,
    pub(crate) active: bool,
}

/// An open resumable upload.
#[derive(Debug, Clone)]
struct Session {
    owner: String,
    declared: usize,
    mime_type: String,
}

/// A token handed out.
#[derive(Debug, Clone)]
struct Issued {
    account: String,
    expires_at_ms: u64,
}

/// The Files API and token endpoint state.
#[derive(Debug, Default)]
pub(crate) struct GoogleState {
    sessions: Mutex<HashMap<u64, Session>>,
    pub(crate) files: Mutex<HashMap<String, StoredFile>>,
    tokens: Mutex<HashMap<String, Issued>>,
    next: AtomicU64,
    pub(crate) token_lifetime_secs: AtomicU64,
}

impl GoogleState {
    fn next_id(&self) -> u64 {
        self.next.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// `POST /upload/v1beta/files` (start) and `POST …?upload_id=N` (upload, finalize).
    pub(crate) fn upload(
        &self,
        origin: &str,
        key: &str,
        query: Option<&str>,
        header: &dyn Fn(&str) -> Option<String>,
        body: &[u8],
    ) -> Response<ReplyBody> {
        let command = header("x-goog-upload-command").unwrap_or_default();
        let session_id = query
            .and_then(|q| q.split('&').find_map(|p| p.strip_prefix("upload_id=")))
            .and_then(|id| id.parse::<u64>().ok());
        match (command.as_str(), session_id) {
            ("start", None) => {
                if header("x-goog-upload-protocol").as_deref() != Some("resumable") {
                    return rpc_error(
                        400,
                        "INVALID_ARGUMENT",
                        "Upload protocol must be resumable.",
                        json!([]),
                    );
                }
                let Some(declared) =
                    header("x-goog-upload-header-content-length").and_then(|v| v.parse().ok())
                else {
                    return rpc_error(
                        400,
                        "INVALID_ARGUMENT",
                        "Missing X-Goog-Upload-Header-Content-Length.",
                        json!([]),
                    );
                };
                let mime_type = header("x-goog-upload-header-content-type")
                    .unwrap_or_else(|| "application/octet-stream".to_owned());
                let id = self.next_id();
                self.sessions.lock().insert(
                    id,
                    Session {
                        owner: key.to_owned(),
                        declared,
                        mime_type,
                    },
                );
                let mut response = json(StatusCode::OK, &json!({}), &[
                    ("x-goog-upload-url", format!("{origin}/upload/v1beta/files?upload_id={id}&upload_protocol=resumable")),
                    ("x-goog-upload-status", "active".to_owned()),
                ]);
                *response.status_mut() = StatusCode::OK;
                response
            }
            ("upload, finalize", Some(id)) => {
                let Some(session) = self.sessions.lock().remove(&id) else {
                    return rpc_error(404, "NOT_FOUND", "No such upload session.", json!([]));
                };
                if session.owner != key {
                    return rpc_error(
                        403,
                        "PERMISSION_DENIED",
                        "The upload session belongs to another key.",
                        json!([]),
                    );
                }
                if header("x-goog-upload-offset").as_deref() != Some("0")
                    || body.len() != session.declared
                {
                    return rpc_error(
                        400,
                        "INVALID_ARGUMENT",
                        &format!(
                            "Expected {} bytes at offset 0, got {}.",
                            session.declared,
                            body.len()
                        ),
                        json!([]),
                    );
                }
                let name = format!("files/testkit{}", self.next_id());
                let file = StoredFile {
                    owner: key.to_owned(),
                    size: body.len(),
                    mime_type: session.mime_type,
                    active: false,
                };
                let shown = file_json(origin, &name, &file);
                self.files.lock().insert(name, file);
                json(
                    StatusCode::OK,
                    &json!({"file": shown}),
                    &[("x-goog-upload-status", "final".to_owned())],
                )
            }
            _ => rpc_error(
                400,
                "INVALID_ARGUMENT",
                &format!("Unexpected upload command `{command}`."),
                json!([]),
            ),
        }
    }

    /// `GET /v1beta/files/{id}`: the file, `ACTIVE` from the first look on.
    pub(crate) fn get_file(&self, origin: &str, key: &str, name: &str) -> Response<ReplyBody> {
        let mut files = self.files.lock();
        let Some(file) = files.get_mut(name) else {
            return rpc_error(
                404,
                "NOT_FOUND",
                &format!("File {name} not found."),
                json!([]),
            );
        };
        if file.owner != key {
            return rpc_error(
                403,
                "PERMISSION_DENIED",
                &format!(
                    "You do not have permission to access the File {name} or it may not exist."
                ),
                json!([]),
            );
        }
        let shown = file_json(origin, name, file);
        file.active = true;
        json(StatusCode::OK, &shown, &[])
    }

    /// Why `key` may not use the file at `uri`, if it may not.
    pub(crate) fn refuse_file(
        &self,
        origin: &str,
        key: &str,
        uri: &str,
    ) -> Option<Response<ReplyBody>> {
        let prefix = format!("{origin}/v1beta/");
        let name = uri.strip_prefix(&prefix)?;
        let files = self.files.lock();
        match files.get(name) {
            None => Some(rpc_error(
                400,
                "INVALID_ARGUMENT",
                &format!("File {name} not found."),
                json!([]),
            )),
            Some(f) if f.owner != key => Some(rpc_error(
                403,
                "PERMISSION_DENIED",
                &format!(
                    "You do not have permission to access the File {name} or it may not exist."
                ),
                json!([]),
            )),
            Some(f) if !f.active => Some(rpc_error(
                400,
                "FAILED_PRECONDITION",
                &format!("The File {name} is not in an ACTIVE state and usage is not allowed."),
                json!([]),
            )),
            Some(_) => None,
        }
    }

    /// `POST /token`: checks the assertion and issues a bearer token.
    pub(crate) fn token(
        &self,
        origin: &str,
        form: &[u8],
        now_ms: u64,
    ) -> (Option<String>, Response<ReplyBody>) {
        match self.verify(origin, form, now_ms) {
            Ok(account) => {
                let (token, lifetime) = self.issue("ya29.testkit-", &account, now_ms);
                let body =
                    json!({"access_token": token, "expires_in": lifetime, "token_type": "Bearer"});
                (Some(account), json(StatusCode::OK, &body, &[]))
            }
            Err((account, description)) => {
                let body = json!({"error": "invalid_grant", "error_description": description});
                (account, json(StatusCode::BAD_REQUEST, &body, &[]))
            }
        }
    }

    fn verify(
        &self,
        origin: &str,
        form: &[u8],
        now_ms: u64,
    ) -> Result<String, (Option<String>, String)> {
        let fields: HashMap<String, String> = form_urlencoded::parse(form).into_owned().collect();
        if fields.get("grant_type").map(String::as_str)
            != Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
        {
            return Err((None, "Invalid grant_type.".to_owned()));
        }
        let assertion = fields
            .get("assertion")
            .ok_or((None, "Missing assertion.".to_owned()))?;
        let header = jsonwebtoken::decode_header(assertion)
            .map_err(|e| (None, format!("Invalid JWT: {e}")))?;
        if header.kid.as_deref() != Some(SERVICE_ACCOUNT_KEY_ID) {
            return Err((None, "Invalid JWT: unknown kid.".to_owned()));
        }
        let key = DecodingKey::from_rsa_pem(SERVICE_ACCOUNT_PUBLIC_KEY.as_bytes())
            .map_err(|e| (None, e.to_string()))?;
        let mut validation = Validation::new(Algorithm::RS256);
        validation.validate_exp = false;
        validation.set_audience(&[format!("{origin}/token").as_str(), GOOGLE_TOKEN_AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iat", "aud", "iss"]);
        let claims = jsonwebtoken::decode::<Claims>(assertion, &key, &validation)
            .map_err(|e| (None, format!("Invalid JWT Signature or claims: {e}")))?
            .claims;
        let who = Some(claims.iss.clone());
        let now = now_ms / 1000;
        if !claims
            .scope
            .split(' ')
            .any(|s| s == "https://www.googleapis.com/auth/cloud-platform")
        {
            return Err((who, "Invalid scope.".to_owned()));
        }
        if claims.iat > now + 60
            || claims.exp <= now
            || claims.exp.saturating_sub(claims.iat) > 3600
        {
            return Err((who, "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.".to_owned()));
        }
        Ok(claims.iss)
    }

    /// A new token for `account` (its name starting with `prefix`), valid for the
    /// configured lifetime from `now_ms`; and that lifetime in seconds.
    pub(crate) fn issue(&self, prefix: &str, account: &str, now_ms: u64) -> (String, u64) {
        let token = format!("{prefix}{}", self.next_id());
        let lifetime = match self.token_lifetime_secs.load(Ordering::Relaxed) {
            0 => 3599,
            n => n,
        };
        self.tokens.lock().insert(
            token.clone(),
            Issued {
                account: account.to_owned(),
                expires_at_ms: now_ms + lifetime * 1000,
            },
        );
        (token, lifetime)
    }

    /// The account a bearer token was issued to, if it is valid at `now_ms`.
    pub(crate) fn account_of(&self, token: &str, now_ms: u64) -> Option<String> {
        self.tokens
            .lock()
            .get(token)
            .filter(|t| now_ms < t.expires_at_ms)
            .map(|t| t.account.clone())
    }

    /// Forgets every issued token (they answer 401 from now on).
    pub(crate) fn revoke_tokens(&self) {
        self.tokens.lock().clear();
    }
}

#[derive(Deserialize)]
struct Claims {
    iss: String,
    scope: String,
    iat: u64,
    exp: u64,
}

fn file_json(origin: &str, name: &str, file: &StoredFile) -> Value {
    json!({
        "name": name, "displayName": "llm-rotate upload", "mimeType": file.mime_type,
        "sizeBytes": file.size.to_string(), "uri": format!("{origin}/v1beta/{name}"),
        "state": if file.active { "ACTIVE" } else { "PROCESSING" }, "source": "UPLOADED"
    })
}
