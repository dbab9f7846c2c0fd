//! `/oauth/revoke` (RFC 7009): revoking a refresh token ends its family.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Form;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::Provider;
use crate::grants::Grants;
use crate::token::{invalid_client, known_client, oauth_error};

#[derive(Deserialize)]
pub(crate) struct RevokeForm {
    token: Option<String>,
    client_id: Option<String>,
}

/// RFC 7009: revoking a refresh token ends its whole family; unknown tokens are not an error.
pub(crate) async fn revoke(
    State(p): State<Arc<Provider>>,
    Form(form): Form<RevokeForm>,
) -> Response {
    p.counters.revocations.fetch_add(1, Ordering::SeqCst);
    if p.revocation_unavailable.load(Ordering::SeqCst) {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, "1")],
            "the dev IdP cannot revoke right now",
        )
            .into_response();
    }
    let Some(client_id) = known_client(&p, form.client_id.as_deref()) else {
        return invalid_client();
    };
    let Some(token) = form.token.as_deref() else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "token is required.",
        );
    };
    let mut state = p.grant_state();
    let family = state
        .refresh
        .get(token)
        .filter(|r| r.client_id == client_id)
        .map(|r| r.family.clone());
    if let Some(family) = family {
        Grants::revoke_family(&mut state, &family);
    }
    StatusCode::OK.into_response()
}
