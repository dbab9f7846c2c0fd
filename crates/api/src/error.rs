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
    /// Nothing by that id belongs to the caller (whether or not it exists for someone else).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The request body is not JSON at all (400).
    #[error("{0}")]
    BadRequest(String),
    /// The body is JSON but a field is missing, unknown or has a bad value (422).
    #[error("{0}")]
    Invalid(String),
    /// The body is not declared as JSON (415).
    #[error("send the body as JSON (Content-Type: application/json)")]
    NotJson,
    /// RFC 9449 §7.1 `invalid_dpop_proof`: the DPoP proof is missing, malformed, for another
    /// request, too old, replayed, or not by the key the token is bound to.
    #[error("{0}")]
    InvalidDpopProof(String),
    /// RFC 9449 §9 `use_dpop_nonce`: the proof must carry this server nonce.
    #[error("the DPoP proof must carry the server's nonce (DPoP-Nonce)")]
    UseDpopNonce(String),
    /// Storage or an upstream service failed; logged, and the caller may retry.
    #[error("{0}")]
    Unavailable(String),
}

impl From<axum::extract::rejection::JsonRejection> for ApiError {
    fn from(rejection: axum::extract::rejection::JsonRejection) -> Self {
        use axum::extract::rejection::JsonRejection;
        match rejection {
            JsonRejection::JsonDataError(err) => Self::Invalid(err.body_text()),
            JsonRejection::MissingJsonContentType(_) => Self::NotJson,
            other => Self::BadRequest(other.body_text()),
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> Self {
        tracing::error!("storage: {err}");
        Self::Unavailable("the API's storage failed; try again".into())
    }
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
            Self::InvalidDpopProof(why) => (
                StatusCode::UNAUTHORIZED,
                "invalid_dpop_proof",
                format!(
                    "DPoP algs=\"{}\", error=\"invalid_dpop_proof\", error_description=\"{}\"",
                    latchkey_dpop::ALGORITHM_NAMES,
                    quote_safe(why)
                ),
            ),
            Self::UseDpopNonce(_) => (
                StatusCode::UNAUTHORIZED,
                "use_dpop_nonce",
                format!(
                    "DPoP algs=\"{}\", error=\"use_dpop_nonce\", error_description=\"Resource server requires nonce in DPoP proof\"",
                    latchkey_dpop::ALGORITHM_NAMES
                ),
            ),
            Self::KeysUnavailable | Self::Unavailable(_) => {
                if matches!(self, Self::KeysUnavailable) {
                    tracing::warn!("JWKS unavailable");
                }
                return (
                    StatusCode::SERVICE_UNAVAILABLE,
                    Json(json!({ "error": "temporarily_unavailable", "message": message })),
                )
                    .into_response();
            }
            Self::NotFound(_) => return plain(StatusCode::NOT_FOUND, "not_found", &message),
            Self::BadRequest(_) => return plain(StatusCode::BAD_REQUEST, "bad_request", &message),
            Self::Invalid(_) => {
                return plain(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid_request",
                    &message,
                );
            }
            Self::NotJson => {
                return plain(StatusCode::UNSUPPORTED_MEDIA_TYPE, "not_json", &message);
            }
        };
        let mut response =
            (status, Json(json!({ "error": code, "message": message }))).into_response();
        if let Ok(value) = HeaderValue::from_str(&challenge) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, value);
        }
        // Both schemes are offered (RFC 9449 §7.1): a client may prove its key instead.
        if status == StatusCode::UNAUTHORIZED && !challenge.starts_with("DPoP") {
            let dpop = format!("DPoP algs=\"{}\"", latchkey_dpop::ALGORITHM_NAMES);
            if let Ok(value) = HeaderValue::from_str(&dpop) {
                response
                    .headers_mut()
                    .append(header::WWW_AUTHENTICATE, value);
            }
        }
        if let Self::UseDpopNonce(nonce) = &self
            && let Ok(value) = HeaderValue::from_str(nonce)
        {
            response.headers_mut().insert("dpop-nonce", value);
        }
        response
    }
}

fn plain(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(json!({ "error": code, "message": message }))).into_response()
}

/// RFC 6750 §3: error_description is limited to printable ASCII without `"` and `\`.
fn quote_safe(text: &str) -> String {
    text.chars()
        .filter(|c| (' '..='~').contains(c) && *c != '"' && *c != '\\')
        .collect()
}
