//! The API's one error type: RFC 6750 for authentication, JSON bodies, never a 500 for bad input.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use serde_json::json;

const REALM: &str = "latchkey-api";

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No credentials at all: RFC 6750 §3.1 says answer without an error code.
    #[error("this endpoint needs a bearer access token")]
    MissingToken,
    /// RFC 6750 §3.1 `invalid_token`: malformed, bad signature, expired, wrong issuer or audience.
    #[error("the access token is invalid: {0}")]
    InvalidToken(String),
    /// RFC 6750 §3.1 `insufficient_scope`.
    #[error("the access token lacks the permission {0}")]
    InsufficientScope(&'static str),
    /// The issuer's keys could not be fetched; not the caller's fault.
    #[error("the API cannot reach the token issuer's keys right now")]
    KeysUnavailable,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let message = self.to_string();
        let (status, code, challenge) = match &self {
            Self::MissingToken => (
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                format!("Bearer realm=\"{REALM}\""),
            ),
            Self::InvalidToken(why) => (
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                format!(
                    "Bearer realm=\"{REALM}\", error=\"invalid_token\", error_description=\"{}\"",
                    quote_safe(why)
                ),
            ),
            Self::InsufficientScope(scope) => (
                StatusCode::FORBIDDEN,
                "insufficient_scope",
                format!(
                    "Bearer realm=\"{REALM}\", error=\"insufficient_scope\", scope=\"{scope}\""
                ),
            ),
            Self::KeysUnavailable => {
                tracing::warn!("JWKS unavailable");
                return (
                    StatusCode::SERVICE_UNAVAILABLE,
                    Json(json!({ "error": "temporarily_unavailable", "message": message })),
                )
                    .into_response();
            }
        };
        let mut response =
            (status, Json(json!({ "error": code, "message": message }))).into_response();
        if let Ok(value) = HeaderValue::from_str(&challenge) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, value);
        }
        response
    }
}

/// RFC 6750 §3: error_description is limited to printable ASCII without `"` and `\`.
fn quote_safe(text: &str) -> String {
    text.chars()
        .filter(|c| (' '..='~').contains(c) && *c != '"' && *c != '\\')
        .collect()
}
