//! `/userinfo` (OpenID Connect Core §5.3) for the bearer of an access token this provider signed.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use serde::Deserialize;
use serde_json::json;

use crate::{Provider, Tamper};

#[derive(Deserialize)]
struct VerifiedAccess {
    sub: String,
}

pub(crate) async fn userinfo(State(p): State<Arc<Provider>>, headers: HeaderMap) -> Response {
    let unauthorized = || {
        (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer error=\"invalid_token\"")],
        )
            .into_response()
    };
    p.stall_at(crate::Stall::Userinfo).await;
    let Some(claims) = p.bearer_claims::<VerifiedAccess>(&headers) else {
        return unauthorized();
    };
    let Some(user) = p.user(&claims.sub) else {
        return unauthorized();
    };
    let sub = match p.take_tamper(&[Tamper::UserinfoOtherSubject]) {
        Some(_) => format!("{}-impostor", user.sub),
        None => user.sub.clone(),
    };
    Json(json!({
        "sub": sub,
        "name": user.display_name(),
        "given_name": user.given_name(),
        "family_name": user.family_name(),
        "nickname": user.username,
        "picture": p.url(&format!("avatars/{}.svg", user.username)),
        "email": user.email,
        "email_verified": true,
    }))
    .into_response()
}
