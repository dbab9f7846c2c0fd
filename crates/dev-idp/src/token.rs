//! `/oauth/token`: the authorization code grant (PKCE) and the refresh token grant.
//!
//! (Just over 400 lines: the two grants share the token response and its tamper modes.)

use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};

use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openidconnect::{PkceCodeChallenge, PkceCodeVerifier};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::grants::{Grants, RefreshRecord};
use crate::keys::SigningKey;
use crate::users::User;
use crate::{Provider, Tamper, now_secs};

/// An OAuth error response (RFC 6749 §5.2).
/// The request's `client_id`, when it names a registered client.
pub(crate) fn known_client<'a>(p: &Provider, client_id: Option<&'a str>) -> Option<&'a str> {
    client_id.filter(|id| p.client(id).is_some())
}

/// RFC 6749 §5.2: the client is unknown or did not say who it is.
pub(crate) fn invalid_client() -> Response {
    oauth_error(
        StatusCode::UNAUTHORIZED,
        "invalid_client",
        "Unknown or missing client_id.",
    )
}

pub(crate) fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        [(header::CACHE_CONTROL, "no-store")],
        Json(json!({ "error": error, "error_description": description })),
    )
        .into_response()
}

#[derive(Deserialize)]
pub(crate) struct TokenForm {
    grant_type: Option<String>,
    client_id: Option<String>,
    code: Option<String>,
    redirect_uri: Option<String>,
    code_verifier: Option<String>,
    refresh_token: Option<String>,
    client_secret: Option<String>,
    audience: Option<String>,
    pub(crate) device_code: Option<String>,
}

/// The token request's DPoP proof (RFC 9449 §5), checked: its key's thumbprint, or `None`
/// when the request has none. A bad proof, a replayed one, or one without the nonce this
/// provider demands is the error answer.
fn dpop_key(p: &Provider, headers: &HeaderMap) -> Result<Option<String>, Box<Response>> {
    let refused = |why: &str| {
        Box::new(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_dpop_proof",
            why,
        ))
    };
    let mut proofs = headers.get_all("dpop").iter();
    let proof = match (proofs.next(), proofs.next()) {
        (None, _) => return Ok(None),
        (Some(proof), None) => proof
            .to_str()
            .map_err(|_| refused("The DPoP proof is not text."))?,
        (Some(_), Some(_)) => return Err(refused("More than one DPoP header.")),
    };
    let now = latchkey_dpop::unix_now();
    let url = p.url("oauth/token");
    let request = latchkey_dpop::Request {
        method: "POST",
        url: &url,
        access_token: None,
    };
    let verified =
        latchkey_dpop::verify(proof, request, now).map_err(|e| refused(&e.to_string()))?;
    if p.settings.dpop_nonces && !p.dpop_nonces.accepts(verified.nonce.as_deref(), now) {
        p.counters
            .dpop_nonce_challenges
            .fetch_add(1, Ordering::SeqCst);
        let mut answer = oauth_error(
            StatusCode::BAD_REQUEST,
            "use_dpop_nonce",
            "Authorization server requires nonce in DPoP proof",
        );
        if let Ok(nonce) = HeaderValue::from_str(&p.dpop_nonces.current(now)) {
            answer.headers_mut().insert("dpop-nonce", nonce);
        }
        return Err(Box::new(answer));
    }
    p.dpop_replays
        .first_use(&verified, now)
        .map_err(|e| refused(&e.to_string()))?;
    p.counters.dpop_proofs.fetch_add(1, Ordering::SeqCst);
    Ok(Some(verified.jkt))
}

pub(crate) async fn token(
    State(p): State<Arc<Provider>>,
    headers: HeaderMap,
    Form(form): Form<TokenForm>,
) -> Response {
    if p.unavailable.load(Ordering::SeqCst) {
        p.counters
            .unavailable_answers
            .fetch_add(1, Ordering::SeqCst);
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "the dev IdP is unavailable",
        )
            .into_response();
    }
    if form.grant_type.as_deref() == Some("client_credentials") {
        return crate::management::client_credentials(
            &p,
            form.client_id.as_deref().unwrap_or_default(),
            form.client_secret.as_deref(),
            form.audience.as_deref(),
        );
    }
    let Some(client_id) = known_client(&p, form.client_id.as_deref()) else {
        return invalid_client();
    };
    let jkt = match dpop_key(&p, &headers) {
        Ok(jkt) => jkt,
        Err(refused) => return *refused,
    };
    let jkt = jkt.as_deref();
    match form.grant_type.as_deref() {
        Some("authorization_code") => {
            p.counters.code_grants.fetch_add(1, Ordering::SeqCst);
            redeem_code(&p, client_id, &form, jkt)
        }
        Some(crate::device::DEVICE_GRANT) => {
            p.counters.device_polls.fetch_add(1, Ordering::SeqCst);
            crate::device::redeem(&p, client_id, &form, jkt)
        }
        Some("refresh_token") => {
            p.counters.refresh_grants.fetch_add(1, Ordering::SeqCst);
            if let Some(Tamper::RefreshNeedsSignIn(code)) = p.take_refresh_refusal() {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    code,
                    "The provider's policy asks for a new sign-in.",
                );
            }
            let answer = redeem_refresh(&p, client_id, &form, jkt);
            if answer.status().is_success() {
                p.stall_at(crate::Stall::RefreshAnswer).await;
            }
            answer
        }
        _ => oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "Use authorization_code or refresh_token.",
        ),
    }
}

fn redeem_code(p: &Provider, client_id: &str, form: &TokenForm, jkt: Option<&str>) -> Response {
    let invalid = |d: &str| oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", d);
    let Some(code) = form.code.as_deref() else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "code is required.",
        );
    };
    let mut state = p.grant_state();
    let Some(grant) = state.codes.remove(code) else {
        // RFC 6749 §4.1.2: a replayed code revokes what it issued.
        if let Some(family) = state.redeemed_codes.get(code).cloned() {
            if let Some(family) = family {
                Grants::revoke_family(&mut state, &family);
            }
            return invalid("The authorization code was already used.");
        }
        return invalid("Unknown authorization code.");
    };
    if grant.created.elapsed() > p.settings.code_ttl {
        return invalid("The authorization code expired.");
    }
    if grant.client_id != client_id {
        return invalid("The code was issued to another client.");
    }
    if form.redirect_uri.as_deref() != Some(grant.redirect_uri.as_str()) {
        return invalid("redirect_uri does not match the authorization request.");
    }
    let verifier = form.code_verifier.as_deref().unwrap_or_default();
    let valid_verifier = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
    let challenge =
        PkceCodeChallenge::from_code_verifier_sha256(&PkceCodeVerifier::new(verifier.to_owned()));
    if !valid_verifier || challenge.as_str() != grant.code_challenge {
        return invalid("PKCE verification failed.");
    }
    let Some(user) = p.user(&grant.sub) else {
        return invalid("The user no longer exists.");
    };
    let offline = grant
        .scope
        .split_whitespace()
        .any(|s| s == "offline_access");
    let family = offline.then(|| crate::random_token(12));
    state.redeemed_codes.insert(code.to_owned(), family.clone());
    let refresh = family.as_deref().map(|f| {
        Grants::new_refresh(
            &mut state,
            RefreshRecord {
                family: f.to_owned(),
                client_id: client_id.to_owned(),
                sub: user.sub.clone(),
                scope: grant.scope.clone(),
                audience: grant.audience.clone(),
                auth_time: grant.auth_time,
                used: false,
                jkt: jkt.map(str::to_owned),
            },
            p.settings.refresh_token_bytes,
        )
    });
    drop(state);
    token_response(
        p,
        &user,
        client_id,
        &grant.scope,
        grant.audience.as_deref(),
        grant.nonce.as_deref(),
        Some(grant.auth_time),
        refresh,
        jkt,
    )
}

fn redeem_refresh(p: &Provider, client_id: &str, form: &TokenForm, jkt: Option<&str>) -> Response {
    let invalid = |d: &str| oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", d);
    let Some(presented) = form.refresh_token.as_deref() else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "refresh_token is required.",
        );
    };
    let mut state = p.grant_state();
    let Some(record) = state.refresh.get_mut(presented) else {
        return invalid("Unknown or revoked refresh token.");
    };
    if record.client_id != client_id {
        return invalid("The refresh token was issued to another client.");
    }
    // A bound token without a proof by its key is a copy without the key: refused, and the
    // holder's own token stays good.
    if let Some(bound) = &record.jkt
        && jkt != Some(bound.as_str())
    {
        p.counters
            .dpop_key_mismatches
            .fetch_add(1, Ordering::SeqCst);
        return invalid("The refresh token is bound to a DPoP key this request does not prove.");
    }
    if record.used {
        // Reuse of a rotated token: someone holds a copy. Revoke the whole family.
        let family = record.family.clone();
        p.counters.refresh_reuse.fetch_add(1, Ordering::SeqCst);
        Grants::revoke_family(&mut state, &family);
        return invalid("Refresh token reuse detected; the session was revoked.");
    }
    let rotate = p.client(client_id).is_none_or(|c| c.rotate_refresh_tokens);
    record.used = rotate;
    let (family, sub, scope, audience, auth_time, bound) = (
        record.family.clone(),
        record.sub.clone(),
        record.scope.clone(),
        record.audience.clone(),
        record.auth_time,
        record.jkt.clone(),
    );
    if state.revoked_families.contains(&family) {
        return invalid("The session was revoked.");
    }
    let next = rotate.then(|| {
        Grants::new_refresh(
            &mut state,
            RefreshRecord {
                family: family.clone(),
                client_id: client_id.to_owned(),
                sub: sub.clone(),
                scope: scope.clone(),
                audience: audience.clone(),
                auth_time,
                used: false,
                jkt: bound,
            },
            p.settings.refresh_token_bytes,
        )
    });
    drop(state);
    let Some(user) = p.user(&sub) else {
        return invalid("The user no longer exists.");
    };
    token_response(
        p,
        &user,
        client_id,
        &scope,
        audience.as_deref(),
        None,
        Some(auth_time),
        next,
        jkt,
    )
}

#[derive(Serialize)]
struct AccessClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: Vec<String>,
    azp: &'a str,
    iat: i64,
    exp: i64,
    scope: &'a str,
    permissions: &'a [String],
    jti: String,
    /// The DPoP key the token is bound to (RFC 9449 §6.1).
    #[serde(skip_serializing_if = "Option::is_none")]
    cnf: Option<Value>,
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn token_response(
    p: &Provider,
    user: &User,
    client_id: &str,
    scope: &str,
    audience: Option<&str>,
    nonce: Option<&str>,
    auth_time: Option<i64>,
    refresh_token: Option<String>,
    jkt: Option<&str>,
) -> Response {
    let now = now_secs();
    let keys = p.keys.read().unwrap_or_else(PoisonError::into_inner);
    let key = keys.current();
    let userinfo = p.url("userinfo");
    let access = AccessClaims {
        iss: &p.issuer,
        sub: &user.sub,
        aud: audience
            .map(str::to_owned)
            .into_iter()
            .chain([userinfo])
            .collect(),
        azp: client_id,
        iat: now,
        exp: now + p.settings.access_token_ttl.as_secs() as i64,
        scope,
        permissions: &user.permissions,
        jti: crate::random_token(12),
        cnf: jkt.map(|jkt| json!({ "jkt": jkt })),
    };
    let access_token = match key.sign(&access, "at+jwt") {
        Ok(t) => t,
        Err(err) => return internal(err),
    };
    let mut id_claims = json!({
        "iss": p.issuer,
        "sub": user.sub,
        "aud": client_id,
        "azp": client_id,
        "iat": now,
        "exp": now + p.settings.id_token_ttl.as_secs() as i64,
        "name": user.display_name(),
        "given_name": user.given_name(),
        "family_name": user.family_name(),
        "nickname": user.username,
        "picture": p.url(&format!("avatars/{}.svg", user.username)),
        "email": user.email,
        "email_verified": true,
    });
    if let Some(nonce) = nonce {
        id_claims["nonce"] = nonce.into();
    }
    if let Some(auth_time) = auth_time {
        id_claims["auth_time"] = auth_time.into();
    }
    let id_token = match sign_id_token(p, key, id_claims) {
        Ok(t) => t,
        Err(err) => return internal(err),
    };
    let mut body = json!({
        "access_token": access_token,
        "token_type": if jkt.is_some() { "DPoP" } else { "Bearer" },
        "expires_in": p.settings.access_token_ttl.as_secs(),
        "scope": scope,
        "id_token": id_token,
    });
    if let Some(refresh) = refresh_token {
        body["refresh_token"] = refresh.into();
    }
    if p.take_tamper(&[Tamper::TokenWithoutIdToken]).is_some()
        && let Some(fields) = body.as_object_mut()
    {
        fields.remove("id_token");
    }
    match p.take_tamper_where(|t| {
        matches!(
            t,
            Tamper::EmptyAccessToken | Tamper::HugeAccessToken | Tamper::TokenType(_)
        )
    }) {
        Some(Tamper::EmptyAccessToken) => body["access_token"] = "".into(),
        Some(Tamper::HugeAccessToken) => body["access_token"] = "A".repeat(100 * 1024).into(),
        Some(Tamper::TokenType(kind)) => body["token_type"] = kind.into(),
        _ => {}
    }
    (
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::PRAGMA, "no-cache"),
        ],
        Json(body),
    )
        .into_response()
}

/// Signs an ID token, applying a misbehaviour a test armed.
fn sign_id_token(p: &Provider, key: &SigningKey, mut claims: Value) -> anyhow::Result<String> {
    let tamper = p.take_tamper(&[
        Tamper::IdTokenBadSignature,
        Tamper::IdTokenAlgNone,
        Tamper::IdTokenWrongIssuer,
        Tamper::IdTokenWrongAudience,
        Tamper::IdTokenExpired,
        Tamper::IdTokenWrongNonce,
        Tamper::IdTokenWithoutProfile,
        Tamper::IdTokenOtherSubject,
        Tamper::IdTokenExtraAudience,
        Tamper::IdTokenWrongAzp,
        Tamper::IdTokenOtherAuthTime,
    ]);
    match tamper {
        Some(Tamper::IdTokenWithoutProfile) => {
            if let Some(claims) = claims.as_object_mut() {
                claims.retain(|name, _| {
                    [
                        "iss",
                        "sub",
                        "aud",
                        "azp",
                        "exp",
                        "iat",
                        "nonce",
                        "auth_time",
                    ]
                    .contains(&name.as_str())
                });
            }
        }
        Some(Tamper::IdTokenWrongIssuer) => claims["iss"] = "https://attacker.example/".into(),
        Some(Tamper::IdTokenWrongAudience) => {
            claims["aud"] = "another-client".into();
            claims["azp"] = "another-client".into();
        }
        Some(Tamper::IdTokenExpired) => {
            claims["iat"] = (now_secs() - 1200).into();
            claims["exp"] = (now_secs() - 600).into();
        }
        Some(Tamper::IdTokenWrongNonce) => claims["nonce"] = "not-the-nonce-you-sent".into(),
        Some(Tamper::IdTokenOtherSubject) => {
            claims["sub"] = "dev-idp|someone-else".into();
            claims["name"] = "Somebody Else".into();
        }
        Some(Tamper::IdTokenExtraAudience) => {
            let client = claims["aud"].clone();
            claims["aud"] = json!([client, "urn:untrusted:audience"]);
        }
        Some(Tamper::IdTokenWrongAzp) => claims["azp"] = "another-client".into(),
        Some(Tamper::IdTokenOtherAuthTime) => {
            claims["auth_time"] = (now_secs() - 86_400).into();
        }
        Some(Tamper::IdTokenAlgNone) => {
            let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
            let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims)?);
            return Ok(format!("{header}.{payload}."));
        }
        Some(Tamper::IdTokenBadSignature) => {
            // Same kid as the published key, but signed by a key nobody published.
            let forged = key.sign(&claims, "JWT")?;
            let impostor = SigningKey::generate()?.sign(&claims, "JWT")?;
            let (head, _) = forged.rsplit_once('.').unwrap_or_default();
            let (_, sig) = impostor.rsplit_once('.').unwrap_or_default();
            return Ok(format!("{head}.{sig}"));
        }
        _ => {}
    }
    key.sign(&claims, "JWT")
}

fn internal(err: anyhow::Error) -> Response {
    tracing::error!("token signing failed: {err}");
    oauth_error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "server_error",
        "The provider could not sign the tokens.",
    )
}
