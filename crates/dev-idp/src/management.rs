//! The Auth0-compatible subset of a management API that Latchkey's sample API uses:
//! `client_credentials` tokens for the management audience; `GET /api/v2/users` with `q`,
//! `page`, `per_page` and `include_totals` (the query's words are matched against name,
//! email and username — a subset of Auth0's Lucene syntax, enough for `name:w* OR
//! email:w*`); and `GET` / `PATCH /api/v2/users/{id}` with `user_metadata` merged (not
//! replaced) on update, as Auth0 does.

use std::sync::{Arc, PoisonError};

use axum::body::Bytes;
use axum::extract::{Path, Query, RawQuery, State};
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
        .unwrap_or_else(PoisonError::into_inner)
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
        "last_login": user.last_login.and_then(|t| chrono::DateTime::from_timestamp(t, 0))
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
        "logins_count": user.logins_count,
        "identities": [{
            "connection": DATABASE_CONNECTION,
            "provider": "auth0",
            "user_id": user.username,
            "isSocial": false,
        }],
    })
}

#[derive(Deserialize)]
pub(crate) struct ListQuery {
    #[serde(default)]
    q: String,
    page: Option<String>,
    per_page: Option<String>,
    #[serde(default)]
    include_totals: Option<String>,
}

/// Auth0's limit: `page * per_page` may not pass 1,000 results.
const MAX_LISTED: u64 = 1000;

/// Auth0's paging rules: 1 to 100 per page, and no page past the first 1,000 results (any
/// number a caller sends is checked without overflow).
fn paging_is_valid(page: u64, per_page: u64) -> bool {
    (1..=100).contains(&per_page) && page.saturating_add(1).saturating_mul(per_page) <= MAX_LISTED
}

/// The words of a Lucene-style user query: field names, wildcards, grouping and the
/// operators `AND` / `OR` are dropped; what remains must all match.
fn query_words(q: &str) -> Vec<String> {
    q.split(|c: char| c.is_whitespace() || "()".contains(c))
        .filter(|t| !t.is_empty() && *t != "OR" && *t != "AND")
        .map(|t| {
            let value = t.split_once(':').map_or(t, |(_, v)| v);
            value.replace(['*', '"', '\\'], "")
        })
        .filter(|w| !w.is_empty())
        .collect()
}

pub(crate) async fn list_users(
    State(p): State<Arc<Provider>>,
    RawQuery(raw): RawQuery,
    Query(query): Query<ListQuery>,
    headers: HeaderMap,
) -> Response {
    if let Some(denied) = refusal(&p, &headers, "read:users") {
        return denied;
    }
    {
        // The latest few, for tests; a long-running dev stack keeps no more.
        let mut queries = p
            .user_queries
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if queries.len() >= 100 {
            queries.remove(0);
        }
        queries.push(raw.unwrap_or_default());
    }
    // A parameter that is not a whole number is named in the refusal.
    let number = |value: &Option<String>, default: u64, name: &'static str| match value {
        None => Ok(default),
        Some(text) => text.parse::<u64>().map_err(|_| name),
    };
    let (page, per_page) = match (
        number(&query.page, 0, "page"),
        number(&query.per_page, 50, "per_page"),
    ) {
        (Ok(page), Ok(per_page)) => (page, per_page),
        (Err(name), _) | (_, Err(name)) => {
            return error(
                StatusCode::BAD_REQUEST,
                "invalid_query_string",
                &format!("Query validation error: '{name}' must be a whole number"),
            );
        }
    };
    if !paging_is_valid(page, per_page) {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_paging",
            "Query validation error: per_page is 1 to 100, and page * per_page at most 1000.",
        );
    }
    let found = p
        .directory
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .search(&query_words(&query.q));
    let total = found.len();
    let users: Vec<Value> = found
        .iter()
        .skip((page * per_page) as usize)
        .take(per_page as usize)
        .map(|user| user_json(&p, user))
        .collect();
    if query.include_totals.as_deref() == Some("true") {
        Json(json!({
            "start": page * per_page,
            "limit": per_page,
            "length": users.len(),
            "total": total,
            "users": users,
        }))
        .into_response()
    } else {
        Json(Value::Array(users)).into_response()
    }
}

pub(crate) async fn get_user(
    State(p): State<Arc<Provider>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Some(denied) = refusal(&p, &headers, "read:users") {
        return denied;
    }
    match p.user(&id) {
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
    // Merged one level deep; a null removes the key (Auth0's documented behaviour).
    let updated = p
        .directory
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .update(&id, |user| {
            if let Some(email) = patch.email {
                user.email = email.trim().to_owned();
            }
            if let Some(name) = patch.name {
                user.name = name.trim().to_owned();
            }
            for (key, value) in patch.user_metadata.unwrap_or_default() {
                if value.is_null() {
                    user.user_metadata.remove(&key);
                } else {
                    user.user_metadata.insert(key, value);
                }
            }
        });
    let Some(updated) = updated else {
        return error(
            StatusCode::NOT_FOUND,
            "inexistent_user",
            "The user does not exist.",
        );
    };
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
    use super::{looks_like_email, paging_is_valid, query_words};

    #[test]
    fn paging_follows_auth0s_limits_for_any_number() {
        assert!(paging_is_valid(0, 50));
        assert!(paging_is_valid(9, 100));
        assert!(!paging_is_valid(10, 100), "past the first 1,000");
        assert!(!paging_is_valid(0, 0));
        assert!(!paging_is_valid(0, 101));
        assert!(!paging_is_valid(u64::MAX, 1), "no overflow");
        assert!(!paging_is_valid(1, u64::MAX));
    }

    #[test]
    fn query_words_drop_fields_wildcards_and_operators() {
        assert_eq!(
            query_words("name:jemma* OR email:jemma*"),
            ["jemma", "jemma"]
        );
        assert_eq!(
            query_words("(name:jem* OR email:jem*) AND (name:doe* OR email:doe*)"),
            ["jem", "jem", "doe", "doe"]
        );
        assert!(query_words("").is_empty());
    }

    #[test]
    fn email_shape() {
        assert!(looks_like_email("jemma@example.com"));
        assert!(!looks_like_email("jemma"));
        assert!(!looks_like_email("jemma@localhost"));
        assert!(!looks_like_email("je mma@example.com"));
    }
}
