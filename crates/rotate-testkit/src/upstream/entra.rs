//! The fake Entra ID token endpoint, `POST /{tenant}/oauth2/v2.0/token`: the
//! client-credentials grant for the service principals [`entra_secret_of`] knows,
//! tokens valid for the upstream's token lifetime, refusals as Entra words them
//! (`invalid_client`, `AADSTS…`). Azure routes take the tokens it issued as bearer keys
//! (the request's key is then the principal's client id) and answer 401 to any other
//! token of its making, expired or revoked.

use std::collections::HashMap;

use http::{Response, StatusCode};
use serde_json::json;

use super::google::GoogleState;
use super::render::{json, ReplyBody};

/// How the tokens this endpoint issues begin.
pub(crate) const TOKEN_PREFIX: &str = "eyJ0eXAiOiJKV1Qi.entra-testkit-";

/// The client secret the fake knows for service principal `client_id`.
pub fn entra_secret_of(client_id: &str) -> String {
    format!("entra-secret/{client_id}")
}

/// A key value for service principal `client_id` of `tenant_id` (its secret from
/// [`entra_secret_of`]).
pub fn entra_principal_json(tenant_id: &str, client_id: &str) -> String {
    json!({"tenant_id": tenant_id, "client_id": client_id, "client_secret": entra_secret_of(client_id)})
        .to_string()
}

/// The answer to a token request, and the principal it was for.
pub(crate) fn token(
    tokens: &GoogleState,
    form: &[u8],
    now_ms: u64,
) -> (Option<String>, Response<ReplyBody>) {
    let fields: HashMap<String, String> = form_urlencoded::parse(form).into_owned().collect();
    let field = |name: &str| fields.get(name).map(String::as_str).unwrap_or("");
    let client_id = field("client_id").to_owned();
    let refusal = if field("grant_type") != "client_credentials" {
        Some((
            "unsupported_grant_type",
            "AADSTS70003: The app requested an unsupported grant type.",
        ))
    } else if field("scope") != "https://cognitiveservices.azure.com/.default" {
        Some((
            "invalid_scope",
            "AADSTS70011: The provided request must include a 'scope' input parameter.",
        ))
    } else if field("client_secret") != entra_secret_of(&client_id) {
        Some(("invalid_client", "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID."))
    } else {
        None
    };
    if let Some((error, description)) = refusal {
        let status = if error == "invalid_client" {
            StatusCode::UNAUTHORIZED
        } else {
            StatusCode::BAD_REQUEST
        };
        let body = json!({"error": error, "error_description": description, "error_codes": [7000215], "trace_id": "00000000-testkit"});
        return (Some(client_id), json(status, &body, &[]));
    }
    let (token, lifetime) = tokens.issue(TOKEN_PREFIX, &client_id, now_ms);
    let body = json!({"token_type": "Bearer", "expires_in": lifetime, "ext_expires_in": lifetime, "access_token": token});
    (Some(client_id), json(StatusCode::OK, &body, &[]))
}

/// Azure's answer to a bearer token it does not take.
pub(crate) fn unauthorized() -> Response<ReplyBody> {
    json(
        StatusCode::UNAUTHORIZED,
        &json!({"error": {"code": "401", "message": "Unauthorized. Access token is missing, invalid, audience is incorrect (https://cognitiveservices.azure.com), or have expired."}}),
        &[],
    )
}
