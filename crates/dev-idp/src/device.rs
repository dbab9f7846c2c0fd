//! The device authorization grant (RFC 8628): `/oauth/device/code`, the verification page at
//! `/activate` (enter the code, sign in, approve or deny), and the token endpoint's
//! `urn:ietf:params:oauth:grant-type:device_code` with `authorization_pending`, `slow_down`,
//! `access_denied` and `expired_token`.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use serde::Deserialize;
use serde_json::json;

use crate::grants::{Grants, RefreshRecord};
use crate::pages::{escape, page};
use crate::token::{TokenForm, invalid_client, known_client, oauth_error, token_response};
use crate::{Provider, Tamper, now_secs, prune};

/// RFC 8628 §3.5: the grant type a device polls with.
pub(crate) const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

enum Decision {
    Pending,
    Approved { sub: String, auth_time: i64 },
    Denied,
}

struct DeviceGrant {
    client_id: String,
    scope: String,
    audience: Option<String>,
    user_code: String,
    created: Instant,
    /// The interval the provider holds the device to (polls sooner get `slow_down`).
    interval: Duration,
    last_poll: Option<Instant>,
    decision: Decision,
}

#[derive(Default)]
pub(crate) struct DeviceGrants(Mutex<HashMap<String, DeviceGrant>>);

/// `ABCD-EFGH` from letters that cannot be mistaken for each other (RFC 8628 §6.1).
fn user_code(exact: bool) -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"BCDFGHJKLMNPQRSTVWXZ";
    let mut rng = rand::rngs::OsRng;
    let mut code: String = (0..8)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect();
    if !exact {
        code.insert(4, '-');
    }
    code
}

fn normalize(code: &str) -> String {
    code.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

#[derive(Deserialize)]
pub(crate) struct DeviceCodeForm {
    client_id: Option<String>,
    scope: Option<String>,
    audience: Option<String>,
}

/// RFC 8628 §3.1–3.2.
pub(crate) async fn device_code(
    State(p): State<Arc<Provider>>,
    Form(form): Form<DeviceCodeForm>,
) -> Response {
    let Some(client_id) = known_client(&p, form.client_id.as_deref()) else {
        return invalid_client();
    };
    let client_id = client_id.to_owned();
    let device_code = crate::random_token(32);
    let user_code = user_code(p.settings.device_codes_exact);
    let interval = p.settings.device_interval;
    let lifetime = p.settings.device_code_ttl;
    {
        let mut grants = p.devices.0.lock().unwrap_or_else(PoisonError::into_inner);
        prune(&mut grants, |g| {
            g.created.elapsed() < lifetime + Duration::from_secs(60)
        });
        grants.insert(
            device_code.clone(),
            DeviceGrant {
                client_id,
                scope: form.scope.unwrap_or_else(|| "openid".into()),
                audience: form.audience,
                user_code: user_code.clone(),
                created: Instant::now(),
                interval,
                last_poll: None,
                decision: Decision::Pending,
            },
        );
    }
    let verification_uri = p.url("activate");
    let mut body = json!({
        "device_code": device_code,
        "user_code": user_code,
        "verification_uri": verification_uri,
        "verification_uri_complete": format!("{verification_uri}?user_code={user_code}"),
        "expires_in": lifetime.as_secs(),
        "interval": interval.as_secs(),
    });
    match p.take_tamper(&[
        Tamper::DeviceAnswerWithoutUserCode,
        Tamper::DeviceIntervalZero,
        Tamper::DeviceIntervalHuge,
        Tamper::DeviceExpiresHuge,
        Tamper::DeviceIntervalTooShort,
    ]) {
        Some(Tamper::DeviceAnswerWithoutUserCode) => {
            body.as_object_mut().map(|b| b.remove("user_code"));
        }
        Some(Tamper::DeviceIntervalZero) => body["interval"] = 0.into(),
        Some(Tamper::DeviceIntervalHuge) => body["interval"] = u64::MAX.into(),
        Some(Tamper::DeviceExpiresHuge) => body["expires_in"] = u64::MAX.into(),
        // Advertises 1 s but holds the device to the configured interval: slow_down follows.
        Some(Tamper::DeviceIntervalTooShort) => body["interval"] = 1.into(),
        _ => {}
    }
    Json(body).into_response()
}

/// The token endpoint's device grant (RFC 8628 §3.4–3.5).
pub(crate) fn redeem(
    p: &Provider,
    client_id: &str,
    form: &TokenForm,
    jkt: Option<&str>,
) -> Response {
    let error = |code: &str, text: &str| oauth_error(StatusCode::BAD_REQUEST, code, text);
    let Some(device_code) = form.device_code.as_deref() else {
        return error("invalid_request", "device_code is required.");
    };
    let mut grants = p.devices.0.lock().unwrap_or_else(PoisonError::into_inner);
    let Some(grant) = grants.get_mut(device_code) else {
        return error("invalid_grant", "Unknown device code.");
    };
    if grant.client_id != client_id {
        return error(
            "invalid_grant",
            "The device code was issued to another client.",
        );
    }
    if grant.created.elapsed() > p.settings.device_code_ttl {
        grants.remove(device_code);
        return error("expired_token", "The device code expired.");
    }
    match &grant.decision {
        Decision::Denied => {
            grants.remove(device_code);
            error("access_denied", "The person denied the request.")
        }
        Decision::Pending => {
            let too_soon = grant
                .last_poll
                .is_some_and(|t| t.elapsed() < grant.interval);
            grant.last_poll = Some(Instant::now());
            if too_soon {
                p.counters.device_slow_downs.fetch_add(1, Ordering::SeqCst);
                error("slow_down", "Poll less often.")
            } else {
                error("authorization_pending", "The person has not approved yet.")
            }
        }
        Decision::Approved { sub, auth_time } => {
            let (sub, auth_time) = (sub.clone(), *auth_time);
            let Some(grant) = grants.remove(device_code) else {
                return error("invalid_grant", "Unknown device code.");
            };
            drop(grants);
            let Some(user) = p.user(&sub) else {
                return error("invalid_grant", "The user no longer exists.");
            };
            let offline = grant
                .scope
                .split_whitespace()
                .any(|s| s == "offline_access");
            let refresh = offline.then(|| {
                let mut state = p.grant_state();
                Grants::new_refresh(
                    &mut state,
                    RefreshRecord {
                        family: crate::random_token(12),
                        client_id: client_id.to_owned(),
                        sub: sub.clone(),
                        scope: grant.scope.clone(),
                        audience: grant.audience.clone(),
                        auth_time,
                        used: false,
                        jkt: jkt.map(str::to_owned),
                    },
                    p.settings.refresh_token_bytes,
                )
            });
            token_response(
                p,
                &user,
                client_id,
                &grant.scope,
                grant.audience.as_deref(),
                None,
                Some(auth_time),
                refresh,
                jkt,
            )
        }
    }
}

#[derive(Deserialize)]
pub(crate) struct ActivateQuery {
    user_code: Option<String>,
}

/// The verification page: the code (pre-filled from `verification_uri_complete`), the
/// person's credentials, approve or deny.
pub(crate) async fn activate_page(Query(q): Query<ActivateQuery>) -> Response {
    activate_form(q.user_code.as_deref().unwrap_or_default(), None)
}

fn activate_form(code: &str, error: Option<&str>) -> Response {
    let error = error
        .map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", escape(e)))
        .unwrap_or_default();
    page(
        StatusCode::OK,
        "Connect a device",
        &format!(
            "<h1>Connect a device</h1><p>Enter the code your terminal shows, then sign in.</p>{error}\
<form method=\"post\" action=\"activate\">\
<label for=\"user_code\">Code</label><input id=\"user_code\" name=\"user_code\" value=\"{code}\" autocomplete=\"off\" required>\
<label for=\"username\">Username</label><input id=\"username\" name=\"username\" autocomplete=\"username\" required>\
<label for=\"password\">Password</label><input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required>\
<button type=\"submit\" name=\"decision\" value=\"approve\">Approve</button>\
<button class=\"secondary\" type=\"submit\" name=\"decision\" value=\"deny\">Deny</button></form>",
            code = escape(code)
        ),
    )
}

#[derive(Deserialize)]
pub(crate) struct ActivateForm {
    user_code: Option<String>,
    username: Option<String>,
    password: Option<String>,
    decision: Option<String>,
}

pub(crate) async fn activate(
    State(p): State<Arc<Provider>>,
    Form(form): Form<ActivateForm>,
) -> Response {
    let code = form.user_code.unwrap_or_default();
    let Some(user) = p
        .directory
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .authenticate(
            form.username.as_deref().unwrap_or_default(),
            form.password.as_deref().unwrap_or_default(),
        )
    else {
        return activate_form(&code, Some("Wrong username or password."));
    };
    let exact = p.settings.device_codes_exact;
    let wanted = if exact {
        code.clone()
    } else {
        normalize(&code)
    };
    let mut grants = p.devices.0.lock().unwrap_or_else(PoisonError::into_inner);
    let lifetime = p.settings.device_code_ttl;
    let Some(grant) = grants.values_mut().find(|g| {
        let issued = if exact {
            g.user_code.clone()
        } else {
            normalize(&g.user_code)
        };
        issued == wanted && g.created.elapsed() <= lifetime
    }) else {
        return activate_form(&code, Some("That code is unknown or has expired."));
    };
    if !matches!(grant.decision, Decision::Pending) {
        return activate_form(&code, Some("That code was already used."));
    }
    let approve = form.decision.as_deref() != Some("deny");
    grant.decision = if approve {
        Decision::Approved {
            sub: user.sub.clone(),
            auth_time: now_secs(),
        }
    } else {
        Decision::Denied
    };
    let (title, text) = if approve {
        (
            "Device connected",
            "The device is signed in. Return to your terminal.",
        )
    } else {
        (
            "Request denied",
            "The device was not signed in. You can close this page.",
        )
    };
    page(
        StatusCode::OK,
        title,
        &format!("<h1>{title}</h1><p id=\"outcome\">{text}</p>"),
    )
}
