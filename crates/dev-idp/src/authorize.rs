//! `/authorize`, its login and sign-up forms, and RP-initiated logout.
//!
//! (Over 400 lines with its tests: authorize, login, sign-up and end session share the
//! redirect rules they test.)

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use url::Url;

use crate::grants::CodeGrant;
use crate::{Provider, Tamper, pages, prune};

/// How long a person has to fill in the form.
const FORM_TTL: Duration = Duration::from_secs(600);

/// An authorization request that passed validation and waits for the person to log in.
#[derive(Clone, Debug)]
pub(crate) struct AuthRequest {
    client_id: String,
    redirect_uri: String,
    state: Option<String>,
    nonce: Option<String>,
    code_challenge: String,
    scope: String,
    audience: Option<String>,
    created: Instant,
}

#[derive(Default)]
pub(crate) struct PendingRequests(Mutex<HashMap<String, AuthRequest>>);

impl PendingRequests {
    fn insert(&self, request: AuthRequest) -> String {
        let tx = crate::random_token(18);
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        prune(&mut map, |r| r.created.elapsed() < FORM_TTL);
        map.insert(tx.clone(), request);
        tx
    }

    fn get(&self, tx: &str) -> Option<AuthRequest> {
        let map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        map.get(tx)
            .filter(|r| r.created.elapsed() < FORM_TTL)
            .cloned()
    }

    fn take(&self, tx: &str) -> Option<AuthRequest> {
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        map.remove(tx).filter(|r| r.created.elapsed() < FORM_TTL)
    }
}

/// Whether `requested` is one of `registered`: exact match, except that a registered
/// loopback IP redirect accepts any port (RFC 8252 §7.3) unless `exact` (as Auth0, Okta and
/// dex compare: port included).
pub(crate) fn redirect_is_registered(registered: &[String], requested: &str, exact: bool) -> bool {
    let Ok(req) = Url::parse(requested) else {
        return false;
    };
    registered.iter().any(|reg| {
        if reg == requested {
            return true;
        }
        if exact {
            return false;
        }
        let Ok(reg) = Url::parse(reg) else {
            return false;
        };
        let loopback = matches!(reg.host_str(), Some("127.0.0.1") | Some("[::1]"));
        loopback
            && reg.scheme() == "http"
            && req.scheme() == "http"
            && reg.host_str() == req.host_str()
            && reg.port().is_none()
            && reg.path() == req.path()
            && reg.query() == req.query()
            && req.fragment().is_none()
            && req.username().is_empty()
            && req.password().is_none()
    })
}

/// Sends the person back to the client with `params`, `state` and `iss` (RFC 9207).
fn back_to_client(
    p: &Provider,
    redirect_uri: &str,
    state: Option<&str>,
    params: &[(&str, &str)],
) -> Response {
    let Ok(mut url) = Url::parse(redirect_uri) else {
        return pages::error_page(StatusCode::BAD_REQUEST, "The redirect URI is malformed.");
    };
    {
        let mut query = url.query_pairs_mut();
        for (k, v) in params {
            query.append_pair(k, v);
        }
        if let Some(state) = state {
            query.append_pair("state", state);
        }
        match p.take_tamper(&[Tamper::ResponseWrongIss, Tamper::ResponseWithoutIss]) {
            Some(Tamper::ResponseWithoutIss) => {}
            Some(_) => {
                query.append_pair("iss", "https://attacker.example/");
            }
            None => {
                query.append_pair("iss", &p.issuer);
            }
        }
    }
    Redirect::to(url.as_str()).into_response()
}

#[derive(Deserialize)]
pub(crate) struct AuthorizeParams {
    client_id: Option<String>,
    redirect_uri: Option<String>,
    response_type: Option<String>,
    scope: Option<String>,
    state: Option<String>,
    nonce: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
    audience: Option<String>,
    screen_hint: Option<String>,
    login_hint: Option<String>,
    prompt: Option<String>,
}

pub(crate) async fn authorize(
    State(p): State<Arc<Provider>>,
    Query(q): Query<AuthorizeParams>,
) -> Response {
    p.prompts
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push(q.prompt.clone());
    // Until the client and its redirect are known good, errors are shown here, never redirected.
    let Some(client) = q.client_id.as_deref().and_then(|id| p.client(id)) else {
        return pages::error_page(StatusCode::BAD_REQUEST, "Unknown client_id.");
    };
    let Some(redirect_uri) = q
        .redirect_uri
        .as_deref()
        .filter(|r| redirect_is_registered(&client.redirect_uris, r, client.exact_redirects))
    else {
        return pages::error_page(
            StatusCode::BAD_REQUEST,
            "The redirect_uri is not registered for this client.",
        );
    };
    let state = q.state.as_deref();
    let refuse = |error: &str, description: &str| {
        back_to_client(
            &p,
            redirect_uri,
            state,
            &[("error", error), ("error_description", description)],
        )
    };
    if q.response_type.as_deref() != Some("code") {
        return refuse(
            "unsupported_response_type",
            "Only response_type=code is supported.",
        );
    }
    let challenge = match (
        q.code_challenge.as_deref(),
        q.code_challenge_method.as_deref(),
    ) {
        (Some(c), Some("S256")) if (43..=128).contains(&c.len()) => c.to_owned(),
        _ => {
            return refuse(
                "invalid_request",
                "PKCE with code_challenge_method=S256 is required.",
            );
        }
    };
    let scope = q.scope.clone().unwrap_or_default();
    if !scope.split_whitespace().any(|s| s == "openid") {
        return refuse("invalid_scope", "The openid scope is required.");
    }
    if let Some(aud) = q.audience.as_deref()
        && aud != crate::API_AUDIENCE
    {
        return refuse("invalid_request", "Unknown audience.");
    }
    let request = AuthRequest {
        client_id: client.client_id.clone(),
        redirect_uri: redirect_uri.to_owned(),
        state: q.state.clone(),
        nonce: q.nonce.clone(),
        code_challenge: challenge,
        scope,
        audience: q.audience.clone(),
        created: Instant::now(),
    };
    let tx = p.authorize.insert(request);
    let hint = q.login_hint.as_deref().unwrap_or_default();
    if q.screen_hint.as_deref() == Some("signup") {
        pages::signup_form(&tx, hint, None)
    } else {
        pages::login_form(&tx, &client.name, hint, None)
    }
}

#[derive(Deserialize)]
pub(crate) struct LoginForm {
    tx: String,
    action: Option<String>,
    username: Option<String>,
    password: Option<String>,
}

pub(crate) async fn login(State(p): State<Arc<Provider>>, Form(form): Form<LoginForm>) -> Response {
    let Some(request) = p.authorize.get(&form.tx) else {
        return pages::error_page(
            StatusCode::BAD_REQUEST,
            "This sign-in request expired. Start again from the app.",
        );
    };
    if form.action.as_deref() == Some("cancel") {
        p.authorize.take(&form.tx);
        return back_to_client(
            &p,
            &request.redirect_uri,
            request.state.as_deref(),
            &[
                ("error", "access_denied"),
                ("error_description", "The user cancelled the sign-in."),
            ],
        );
    }
    let username = form.username.unwrap_or_default();
    let user = p
        .directory
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .authenticate(&username, form.password.as_deref().unwrap_or_default());
    let Some(user) = user else {
        let client = p
            .client(&request.client_id)
            .map(|c| c.name.as_str())
            .unwrap_or_default();
        let mut page = pages::login_form(
            &form.tx,
            client,
            &username,
            Some("Wrong username or password."),
        );
        *page.status_mut() = StatusCode::UNAUTHORIZED;
        return page;
    };
    complete(&p, &form.tx, &user.sub)
}

#[derive(Deserialize)]
pub(crate) struct SignupForm {
    tx: String,
    username: Option<String>,
    password: Option<String>,
    name: Option<String>,
}

pub(crate) async fn signup(
    State(p): State<Arc<Provider>>,
    Form(form): Form<SignupForm>,
) -> Response {
    if p.authorize.get(&form.tx).is_none() {
        return pages::error_page(
            StatusCode::BAD_REQUEST,
            "This sign-up request expired. Start again from the app.",
        );
    }
    let username = form.username.unwrap_or_default();
    let created = p
        .directory
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .sign_up(
            &username,
            form.password.as_deref().unwrap_or_default(),
            form.name.as_deref().unwrap_or_default(),
        );
    match created {
        Ok(user) => complete(&p, &form.tx, &user.sub),
        Err(refusal) => {
            let mut page = pages::signup_form(&form.tx, &username, Some(refusal.message()));
            *page.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            page
        }
    }
}

/// The person is authenticated: issue a single-use code and send them back to the client.
fn complete(p: &Provider, tx: &str, sub: &str) -> Response {
    let Some(request) = p.authorize.take(tx) else {
        return pages::error_page(
            StatusCode::BAD_REQUEST,
            "This sign-in request was already used.",
        );
    };
    let code = p.grants.issue_code(CodeGrant {
        client_id: request.client_id,
        redirect_uri: request.redirect_uri.clone(),
        code_challenge: request.code_challenge,
        nonce: request.nonce,
        scope: request.scope,
        audience: request.audience,
        sub: sub.to_owned(),
        auth_time: crate::now_secs(),
        created: Instant::now(),
    });
    back_to_client(
        p,
        &request.redirect_uri,
        request.state.as_deref(),
        &[("code", &code)],
    )
}

#[derive(Deserialize)]
pub(crate) struct EndSessionParams {
    client_id: Option<String>,
    post_logout_redirect_uri: Option<String>,
    state: Option<String>,
    id_token_hint: Option<String>,
}

/// RP-initiated logout. The dev IdP keeps no browser session, so this only confirms.
pub(crate) async fn end_session(
    State(p): State<Arc<Provider>>,
    Query(q): Query<EndSessionParams>,
) -> Response {
    #[derive(Deserialize)]
    struct Hint {
        sub: String,
    }
    let hinted_sub = q
        .id_token_hint
        .as_deref()
        .and_then(|hint| p.verify::<Hint>(hint))
        .map(|hint| hint.sub);
    let mut ended = crate::EndedSession {
        hinted_sub,
        returned: false,
    };
    let answer = end_session_answer(&p, &q);
    ended.returned = answer.status().is_redirection();
    p.ended_sessions
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push(ended);
    answer
}

fn end_session_answer(p: &Provider, q: &EndSessionParams) -> Response {
    if let (Some(client), Some(target)) = (
        q.client_id.as_deref().and_then(|id| p.client(id)),
        q.post_logout_redirect_uri.as_deref(),
    ) && redirect_is_registered(&client.redirect_uris, target, client.exact_redirects)
        && let Ok(mut url) = Url::parse(target)
    {
        if let Some(state) = q.state.as_deref() {
            url.query_pairs_mut().append_pair("state", state);
        }
        return Redirect::to(url.as_str()).into_response();
    }
    pages::page(
        StatusCode::OK,
        "Signed out",
        "<h1>You are signed out</h1><p>You can close this tab.</p>",
    )
}

#[cfg(test)]
mod tests {
    use super::redirect_is_registered;

    #[test]
    fn loopback_redirect_matches_any_port_but_nothing_else() {
        let reg = vec!["http://127.0.0.1/callback".to_owned()];
        assert!(redirect_is_registered(
            &reg,
            "http://127.0.0.1:49152/callback",
            false
        ));
        assert!(redirect_is_registered(
            &reg,
            "http://127.0.0.1/callback",
            false
        ));
        assert!(!redirect_is_registered(
            &reg,
            "http://127.0.0.1:49152/other",
            false
        ));
        assert!(!redirect_is_registered(
            &reg,
            "http://localhost:49152/callback",
            false
        ));
        assert!(!redirect_is_registered(
            &reg,
            "https://127.0.0.1:49152/callback",
            false
        ));
        assert!(!redirect_is_registered(
            &reg,
            "http://evil@127.0.0.1:1/callback",
            false
        ));
        assert!(!redirect_is_registered(
            &reg,
            "http://127.0.0.2:49152/callback",
            false
        ));
    }

    #[test]
    fn an_exact_client_matches_the_port_too() {
        let reg = vec!["http://127.0.0.1:53682/callback".to_owned()];
        assert!(redirect_is_registered(
            &reg,
            "http://127.0.0.1:53682/callback",
            true
        ));
        assert!(!redirect_is_registered(
            &reg,
            "http://127.0.0.1:41234/callback",
            true
        ));
        let any_port = vec!["http://127.0.0.1/callback".to_owned()];
        assert!(!redirect_is_registered(
            &any_port,
            "http://127.0.0.1:41234/callback",
            true
        ));
    }

    #[test]
    fn other_redirects_match_exactly() {
        let reg = vec!["dev.latchkey.desktop:/callback".to_owned()];
        assert!(redirect_is_registered(
            &reg,
            "dev.latchkey.desktop:/callback",
            false
        ));
        assert!(!redirect_is_registered(
            &reg,
            "dev.latchkey.desktop:/callback2",
            false
        ));
    }
}
