//! `/userinfo` (OpenID Connect Core §5.3) for the bearer of an access token this provider
//! signed, or for the holder of a DPoP-bound one with its proof (RFC 9449 §7).

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use serde::Deserialize;
use serde_json::json;

use crate::{Provider, Tamper};

#[derive(Deserialize)]
struct VerifiedAccess {
    sub: String,
    /// The DPoP key a bound token is bound to.
    #[serde(default)]
    cnf: Option<Confirmation>,
}

#[derive(Deserialize)]
struct Confirmation {
    jkt: Option<String>,
}

impl VerifiedAccess {
    fn jkt(&self) -> Option<&str> {
        self.cnf.as_ref().and_then(|c| c.jkt.as_deref())
    }
}

/// The caller's verified access token: a bearer token that is not DPoP-bound, or a bound one
/// sent with the `DPoP` scheme and a proof by its key for this request.
fn caller(p: &Provider, method: &Method, headers: &HeaderMap) -> Option<VerifiedAccess> {
    let authorization = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    if let Some(token) = authorization.strip_prefix("Bearer ") {
        let claims = p.verify::<VerifiedAccess>(token)?;
        return claims.jkt().is_none().then_some(claims);
    }
    let token = authorization.strip_prefix("DPoP ")?;
    let mut proofs = headers.get_all("dpop").iter();
    let (Some(proof), None) = (proofs.next(), proofs.next()) else {
        return None;
    };
    let now = latchkey_dpop::unix_now();
    let url = p.url("userinfo");
    let request = latchkey_dpop::Request {
        method: method.as_str(),
        url: &url,
        access_token: Some(token),
    };
    let proof = latchkey_dpop::verify(proof.to_str().ok()?, request, now).ok()?;
    let claims = p.verify::<VerifiedAccess>(token)?;
    if claims.jkt() != Some(proof.jkt.as_str()) {
        return None;
    }
    p.dpop_replays.first_use(&proof, now).ok()?;
    Some(claims)
}

pub(crate) async fn userinfo(
    State(p): State<Arc<Provider>>,
    method: Method,
    headers: HeaderMap,
) -> Response {
    let unauthorized = || {
        (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer error=\"invalid_token\"")],
        )
            .into_response()
    };
    p.stall_at(crate::Stall::Userinfo).await;
    let Some(claims) = caller(&p, &method, &headers) else {
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
