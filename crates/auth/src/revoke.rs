//! Token revocation (RFC 7009).
//!
//! Sent directly rather than through oauth2's `revoke_token`, which refuses plain-http
//! endpoints even on loopback, where the local dev stack lives. Endpoints were already
//! checked at discovery: https, or http on a loopback address only.

use openidconnect::RefreshToken;
use url::Url;

/// Revokes `token`; returns whether the provider confirmed (RFC 7009 §2.2: 200).
pub(crate) async fn revoke(
    http: &reqwest::Client,
    endpoint: &Url,
    client_id: &str,
    token: &RefreshToken,
) -> bool {
    let form = [
        ("token", token.secret().as_str()),
        ("token_type_hint", "refresh_token"),
        ("client_id", client_id),
    ];
    match http.post(endpoint.clone()).form(&form).send().await {
        Ok(response) if response.status().is_success() => true,
        Ok(response) => {
            tracing::warn!(
                "the provider refused to revoke the refresh token: HTTP {}",
                response.status()
            );
            false
        }
        Err(err) => {
            tracing::warn!(
                "could not reach the revocation endpoint: {}",
                crate::provider::error_chain(&err)
            );
            false
        }
    }
}
