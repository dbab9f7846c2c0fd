//! The Auth0-compatible subset of a management API that Latchkey's sample API uses:
//! `client_credentials` tokens for the management audience, and `GET` / `PATCH
//! /api/v2/users/{id}` with `user_metadata` merged (not replaced) on update, as Auth0 does.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::users::{DATABASE_CONNECTION, User};
use crate::{Provider, now_secs};

/// What the management token lets its holder do.
pub const MANAGEMENT_SCOPES: &str = "read:users update:users";

/// A confidential client allowed to call the management API (the sample API's backend).
#[derive(Clone)]
pub struct ManagementClient {
    pub client_id: String,
    pub client_secret: String,
}

impl std::fmt::Debug for ManagementClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ManagementClient")
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .finish()
    }
}

impl Provider {
    /// The management API's audience, as Auth0 names it: `https://TENANT/api/v2/`.
    pub(crate) fn management_audience(&self) -> String {
        self.url("api/v2/")
    }
}

/// Auth0's management error shape.
fn error(status: StatusCode, error_code: &str, message: &str) -> Response {
    (
        status,
        Json(json!({
            "statusCode": status.as_u16(),
            "error": status.canonical_reason().unwrap_or_default(),
            "message": message,
            "errorCode": error_code,
        })),
    )
        .into_response()
}

/// `grant_type=client_credentials` (client_secret_post): a token for the management API.
pub(crate) fn client_credentials(
    p: &Provider,
    client_id: &str,
    client_secret: Option<&str>,
    audience: Option<&str>,
) -> Response {
    let oauth_error = |status: StatusCode, code: &str, description: &str| {
        (
            status,
            [(header::CACHE_CONTROL, "no-store")],
            Json(json!({ "error": code, "error_description": description })),
        )
            .into_response()
    };
    let Some(client) = p.settings.management.as_ref() else {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "This provider has no confidential clients.",
        );
    };
    let secret_matches = client_secret.is_some_and(|s| {
        // Both sides are short; compare every byte so timing says nothing.
        s.len() == client.client_secret.len()
            && s.bytes()
                .zip(client.client_secret.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    });
    if client.client_id != client_id || !secret_matches {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Unknown client or wrong client secret.",
        );
    }
    let wanted = p.management_audience();
    if audience != Some(wanted.as_str()) {
        return oauth_error(
            StatusCode::FORBIDDEN,
            "access_denied",
            &format!("Service not enabled within domain: ask for the audience {wanted}"),
        );
    }
    let now = now_secs();
    let ttl = 3600;
    let claims = json!({
        "iss": p.issuer,
        "sub": format!("{client_id}@clients"),
        "aud": wanted,
        "azp": client_id,
        "gty": "client-credentials",
        "iat": now,
        "exp": now + ttl,
        "scope": MANAGEMENT_SCOPES,
        "jti": crate::random_token(12),
    });
    let signed = p
        .keys
        .read()
        .expect("keys lock")
        .current()
        .sign(&claims, "at+jwt");
    match signed {
        Ok(token) => (
            [(header::CACHE_CONTROL, "no-store")],
            Json(json!({
                "access_token": token,
                "token_type": "Bearer",
                "expires_in": ttl,
                "scope": MANAGEMENT_SCOPES,
            })),
        )
            .into_response(),
        Err(err) => {
            tracing::error!("management token signing failed: {err}");
            oauth_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "Signing failed.",
            )
        }
    }
}

#[derive(Deserialize)]
struct ManagementClaims {
    aud: Value,
    #[serde(default)]
    scope: String,
}

/// Checks the bearer token: ours, for the management audience, with `scope`. Returns the
/// refusal to send, if any.
fn refusal(p: &Provider, headers: &HeaderMap, scope: &str) -> Option<Response> {
    if !headers.contains_key(header::AUTHORIZATION) {
        return Some(error(
            StatusCode::UNAUTHORIZED,
            "missing_token",
            "Missing authentication.",
        ));
    }
    let Some(claims) = p.bearer_claims::<ManagementClaims>(headers) else {
        return Some(error(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            "Invalid token.",
        ));
    };
    let audience = p.management_audience();
    let for_us = match &claims.aud {
        Value::String(a) => *a == audience,
        Value::Array(all) => all.iter().any(|a| a.as_str() == Some(audience.as_str())),
        _ => false,
    };
    if !for_us {
        return Some(error(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            "The token is not for the management API.",
        ));
    }
    if !claims.scope.split(' ').any(|s| s == scope) {
        return Some(error(
            StatusCode::FORBIDDEN,
            "insufficient_scope",
            &format!("Insufficient scope, expected any of: {scope}"),
        ));
    }
    None
}

/// A user as Auth0's management API shows one.
fn user_json(p: &Provider, user: &User) -> Value {
    json!({
        "user_id": user.sub,
        "email": user.email,
        "email_verified": true,
        "username": user.username,
        "name": user.name,
        "nickname": user.username,
        "picture": p.url(&format!("avatars/{}.svg", user.username)),
        "user_metadata": user.user_metadata,
        "app_metadata": {},
        "identities": [{
            "connection": DATABASE_CONNECTION,
            "provider": "auth0",
            "user_id": user.username,
            "isSocial": false,
        }],
    })
}

pub(crate) async fn get_user(
    State(p): State<Arc<Provider>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Some(denied) = refusal(&p, &headers, "read:users") {
        return denied;
    }
    match p.directory.lock().expect("directory lock").by_sub(&id) {
        Some(user) => Json(user_json(&p, &user)).into_response(),
        None => error(
            StatusCode::NOT_FOUND,
            "inexistent_user",
            "The user does not exist.",
        ),
    }
}

/// The fields a `PATCH` may carry; anything else is refused, as Auth0's schema does.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UserPatch {
    email: Option<String>,
    name: Option<String>,
    user_metadata: Option<Map<String, Value>>,
}

pub(crate) async fn patch_user(
    State(p): State<Arc<Provider>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(denied) = refusal(&p, &headers, "update:users") {
        return denied;
    }
    let patch: UserPatch = match serde_json::from_slice(&body) {
        Ok(patch) => patch,
        Err(err) => {
            return error(
                StatusCode::BAD_REQUEST,
                "invalid_body",
                &format!("Payload validation error: {err}"),
            );
        }
    };
    if let Some(email) = &patch.email
        && !looks_like_email(email)
    {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_body",
            "Payload validation error: 'Object didn't pass validation for format email' on property email.",
        );
    }
    let mut directory = p.directory.lock().expect("directory lock");
    let Some(user) = directory.by_sub_mut(&id) else {
        return error(
            StatusCode::NOT_FOUND,
            "inexistent_user",
            "The user does not exist.",
        );
    };
    if let Some(email) = patch.email {
        user.email = email.trim().to_owned();
    }
    if let Some(name) = patch.name {
        user.name = name.trim().to_owned();
    }
    // Merged one level deep; a null removes the key (Auth0's documented behaviour).
    for (key, value) in patch.user_metadata.unwrap_or_default() {
        if value.is_null() {
            user.user_metadata.remove(&key);
        } else {
            user.user_metadata.insert(key, value);
        }
    }
    let updated = user.clone();
    drop(directory);
    Json(user_json(&p, &updated)).into_response()
}

fn looks_like_email(text: &str) -> bool {
    let text = text.trim();
    match text.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !text.chars().any(char::is_whitespace)
                && text.len() <= 254
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::looks_like_email;

    #[test]
    fn email_shape() {
        assert!(looks_like_email("jemma@example.com"));
        assert!(!looks_like_email("jemma"));
        assert!(!looks_like_email("jemma@localhost"));
        assert!(!looks_like_email("je mma@example.com"));
    }
}
