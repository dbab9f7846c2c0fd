//! Signing out: revocation (RFC 7009) with a queue for what the provider has not confirmed,
//! and the provider's own browser session (OpenID Connect RP-Initiated Logout 1.0).
//!
//! The local sign-out happens at once. The refresh token leaves the session in the vault and
//! waits in the entry's "to revoke" list, never to be used again, until the provider confirms
//! its revocation (RFC 7009 §2.2.1: a 503 or no answer means it was not revoked).

use std::sync::atomic::Ordering;
use std::time::Duration;

use openidconnect::RefreshToken;
use url::Url;

use crate::config::Config;
use crate::error::{ProviderError, SessionError};
use crate::lock::LOCK_TIMEOUT;
use crate::lock_unpoisoned;
use crate::login::LoginError;
use crate::loopback::{LoopbackListener, PageOutcome};
use crate::provider::error_chain;
use crate::quirks::Flavor;
use crate::refresh::offline_or;
use crate::session::{Session, State};
use crate::store::SessionStore;
use crate::vault::VaultError;

/// The first wait before revocation is tried again; it doubles up to [`REVOKE_RETRY_MAX`].
pub const REVOKE_RETRY_FIRST: Duration = Duration::from_secs(2);
/// The longest wait between two revocation attempts.
pub const REVOKE_RETRY_MAX: Duration = Duration::from_secs(300);

/// What `logout` did.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct LogoutOutcome {
    /// The refresh token was revoked at the provider (RFC 7009).
    pub revoked: bool,
    /// The provider has not confirmed the revocation: the token waits in the vault, marked
    /// "to revoke", and [`Session::keep_revoking`] (or the next start) tries again.
    pub revocation_pending: bool,
    /// The provider's end-session URL, to end its browser session too (it carries the ID
    /// token as `id_token_hint`: a browser may see it, the web view never does).
    /// [`Session::end_provider_session`] opens it.
    pub end_session_url: Option<Url>,
    /// The vault entry could not be updated.
    pub vault_error: Option<VaultError>,
}

/// The entry lock of `store`, or none (with a warning) when it cannot be had: signing out
/// goes on either way.
async fn lock_or_warn(store: &SessionStore) -> Option<crate::lock::EntryLockGuard> {
    match store.lock().acquire(LOCK_TIMEOUT).await {
        Ok(guard) => Some(guard),
        Err(err) => {
            tracing::warn!("signing out without the session lock: {err}");
            None
        }
    }
}

/// How the revocation endpoint answered.
enum Revocation {
    Confirmed,
    /// A 5xx or no answer: not revoked, try again later.
    NotYet,
    /// A 4xx: the provider will not revoke this token, and asking again will not change that.
    Refused,
}

impl Session {
    /// Signs out: memory is cleared at once, the session leaves the vault, and its refresh
    /// token is revoked (RFC 7009) when the provider can — or kept as "to revoke" until the
    /// provider confirms. Returns the provider's end-session URL.
    pub async fn logout(&self) -> LogoutOutcome {
        self.cancel_login();
        let previous =
            std::mem::replace(&mut *lock_unpoisoned(&self.inner.state), State::SignedOut);
        // A session that has not restored yet (a new CLI process) signs out of the active
        // account, not of whatever entry it started on.
        if matches!(previous, State::SignedOut)
            && self.inner.pinned.is_none()
            && let Ok(Some(active)) = self.active_store().await
        {
            *lock_unpoisoned(&self.inner.store) = active;
        }
        let (in_memory, id_token) = match previous {
            State::SignedIn(tokens) => (tokens.refresh, tokens.id_token.map(|t| t.to_string())),
            State::Stored(stored) => (Some(stored.refresh_token), None),
            State::SignedOut => (None, None),
        };
        let provider = self.provider().await.ok();
        let can_revoke = provider
            .as_ref()
            .is_some_and(|p| p.revocation_endpoint().is_some());
        let (token, saved) = self.take_out_of_vault(in_memory, can_revoke).await;
        let vault_error = saved.err();
        let revocation_endpoint = provider
            .as_ref()
            .and_then(|p| p.revocation_endpoint().map(|e| e.url.clone()));
        let (revoked, pending) = match (revocation_endpoint, &vault_error, token) {
            (Some(_), None, _) => {
                let pending = self.retry_revocations().await.unwrap_or(1);
                (pending == 0, pending)
            }
            // No vault to queue in: one attempt, as that is all there can be.
            (Some(endpoint), Some(_), Some(token)) => {
                let answer = revoke(
                    &self.inner.http,
                    &endpoint,
                    &self.inner.config.client_id,
                    &token,
                )
                .await;
                (matches!(answer, Revocation::Confirmed), 0)
            }
            _ => (false, 0),
        };
        let end_session_url = provider.as_ref().and_then(|p| {
            end_session_url(
                &self.inner.config,
                Flavor::of(&self.inner.config, Some(p)),
                p.extra().end_session_endpoint.as_ref(),
                id_token.as_deref(),
            )
        });
        tracing::debug!(revoked, pending, "signed out");
        LogoutOutcome {
            revoked,
            revocation_pending: pending > 0,
            end_session_url,
            vault_error,
        }
    }

    /// Removes the session from the vault under the entry lock, queueing its token (the one
    /// the vault holds now: another process may have rotated ours) for revocation in the
    /// first entry, where every account's revocations wait. The account leaves the list; the
    /// next one becomes active when it was.
    async fn take_out_of_vault(
        &self,
        in_memory: Option<RefreshToken>,
        queue: bool,
    ) -> (Option<RefreshToken>, Result<(), VaultError>) {
        let store = self.store();
        let base = &self.inner.base;
        let same = store.entry_name() == base.entry_name();
        let (token, mut saved) = {
            let _entry_lock = lock_or_warn(&store).await;
            let mut entry = store.load().await.unwrap_or_default();
            let token = entry.session.take().map(|s| s.refresh_token).or(in_memory);
            if let (true, true, Some(token)) = (same, queue, &token) {
                entry.queue_revocation(token.clone());
            }
            (token, store.save(&entry).await)
        };
        if let (false, true, Some(token), Ok(())) = (same, queue, &token, &saved) {
            let _base_lock = lock_or_warn(base).await;
            let mut entry = base.load().await.unwrap_or_default();
            entry.queue_revocation(token.clone());
            saved = base.save(&entry).await;
        }
        self.note_vault_result(&saved);
        if saved.is_err() {
            // The entry may still hold the session: the account stays listed, not hidden.
            return (token, saved);
        }
        let entry = store.entry_name().to_owned();
        let next = self
            .inner
            .book
            .update(|list| {
                list.remove(&entry);
                Ok(list.active.clone())
            })
            .await;
        match next {
            Ok(next) if self.inner.pinned.is_none() => {
                *lock_unpoisoned(&self.inner.store) = match next {
                    Some(next) => crate::accounts::store_for(base, &next),
                    None => base.clone(),
                };
            }
            Ok(_) => {}
            Err(err) => tracing::warn!("{err}"),
        }
        (token, saved)
    }

    /// Sends the revocations the provider has not confirmed yet; a confirmed (or refused)
    /// one leaves the vault. Returns how many are still waiting.
    pub async fn retry_revocations(&self) -> Result<usize, SessionError> {
        let base = &self.inner.base;
        let waiting = base.load().await?.to_revoke;
        if waiting.is_empty() {
            self.inner.pending_revocations.store(0, Ordering::Relaxed);
            return Ok(0);
        }
        let provider = self.provider().await.map_err(offline_or)?;
        let mut settled = Vec::new();
        match provider.revocation_endpoint().map(|e| &e.url) {
            // The provider cannot revoke at all: nothing to wait for.
            None => settled.clone_from(&waiting),
            Some(endpoint) => {
                for token in &waiting {
                    match revoke(
                        &self.inner.http,
                        endpoint,
                        &self.inner.config.client_id,
                        token,
                    )
                    .await
                    {
                        Revocation::Confirmed | Revocation::Refused => settled.push(token.clone()),
                        Revocation::NotYet => {}
                    }
                }
            }
        }
        let remaining = if settled.is_empty() {
            waiting.len()
        } else {
            let _entry_lock = base.lock().acquire(LOCK_TIMEOUT).await?;
            let mut entry = base.load().await?;
            entry
                .to_revoke
                .retain(|t| !settled.iter().any(|s| s.secret() == t.secret()));
            let saved = base.save(&entry).await;
            self.note_vault_result(&saved);
            saved?;
            entry.to_revoke.len()
        };
        self.inner
            .pending_revocations
            .store(remaining, Ordering::Relaxed);
        Ok(remaining)
    }

    /// Retries the pending revocations with backoff (2 s, doubling, at most 5 minutes) until
    /// none is left. For a long-running front end; the CLI retries once per run instead.
    pub async fn keep_revoking(&self) {
        let mut wait = REVOKE_RETRY_FIRST;
        while self.pending_revocations() > 0 {
            tokio::time::sleep(wait).await;
            match self.retry_revocations().await {
                Ok(0) => return,
                Ok(_) | Err(_) => wait = (wait * 2).min(REVOKE_RETRY_MAX),
            }
        }
    }

    /// Ends the provider's own browser session after [`Session::logout`] (OpenID Connect
    /// RP-Initiated Logout 1.0 §2–3): opens `end_session_url` in the system browser with a
    /// loopback `post_logout_redirect_uri` and a fresh `state`, and waits until the provider
    /// sends the browser back with that `state`; the tab then says the person is signed out.
    /// Auth0's `/v2/logout` takes `returnTo` instead and returns no `state`, so the `state`
    /// travels inside `returnTo`.
    pub async fn end_provider_session(
        &self,
        end_session_url: &Url,
        timeout: Duration,
    ) -> Result<(), LoginError> {
        let listener = LoopbackListener::bind_ports(&self.inner.config.loopback_ports)
            .await
            .map_err(LoginError::Listener)?
            .for_app(self.app().name());
        let state = openidconnect::CsrfToken::new_random();
        let mut url = end_session_url.clone();
        if url.path().ends_with("/v2/logout") {
            let mut return_to = Url::parse(&listener.redirect_uri())
                .map_err(|e| LoginError::Exchange(ProviderError::unusable(e)))?;
            return_to
                .query_pairs_mut()
                .append_pair("state", state.secret());
            url.query_pairs_mut()
                .append_pair("returnTo", return_to.as_str());
        } else {
            url.query_pairs_mut()
                .append_pair("post_logout_redirect_uri", &listener.redirect_uri())
                .append_pair("state", state.secret());
        }
        let mut server = listener.serve(state.clone());
        if let Err(err) = self.inner.browser.open(&url) {
            tracing::warn!("could not open the browser to sign out at the provider: {err}");
        }
        let callback = tokio::time::timeout(timeout, server.callback())
            .await
            .map_err(|_| LoginError::TimedOut(timeout))?
            .ok_or(LoginError::Cancelled)?;
        callback.respond(PageOutcome::SignedOut);
        Ok(())
    }
}

/// Revokes `token` (RFC 7009 §2.1). Sent directly rather than through oauth2's
/// `revoke_token`, which refuses plain-http endpoints even on loopback, where the local dev
/// stack lives; endpoints were already checked at discovery (https, or http on loopback).
async fn revoke(
    http: &latchkey_http::ProviderHttp,
    endpoint: &Url,
    client_id: &str,
    token: &RefreshToken,
) -> Revocation {
    let form = [
        ("token", token.secret().as_str()),
        ("token_type_hint", "refresh_token"),
        ("client_id", client_id),
    ];
    match http
        .client()
        .post(endpoint.clone())
        .form(&form)
        .send()
        .await
    {
        Ok(response) if response.status().is_success() => Revocation::Confirmed,
        Ok(response) if response.status().is_client_error() => {
            tracing::warn!(
                "the provider refused to revoke the refresh token: HTTP {}",
                response.status()
            );
            Revocation::Refused
        }
        Ok(response) => {
            tracing::warn!(
                "the provider did not revoke the refresh token yet: HTTP {}",
                response.status()
            );
            Revocation::NotYet
        }
        Err(err) => {
            tracing::warn!(
                "could not reach the revocation endpoint: {}",
                error_chain(&err)
            );
            Revocation::NotYet
        }
    }
}

/// Where to send the browser to end the provider's own session: RP-Initiated Logout when
/// discovery names an end-session endpoint, else the provider's own ([`Flavor`]).
pub(crate) fn end_session_url(
    config: &Config,
    flavor: Flavor,
    endpoint: Option<&Url>,
    id_token_hint: Option<&str>,
) -> Option<Url> {
    let mut url = match endpoint {
        Some(endpoint) => endpoint.clone(),
        None => flavor.fallback_logout(config.issuer.url())?,
    };
    {
        let mut query = url.query_pairs_mut();
        query.append_pair("client_id", &config.client_id);
        if let (Some(_), Some(hint)) = (endpoint, id_token_hint) {
            query.append_pair("id_token_hint", hint);
        }
    }
    Some(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(issuer: &str) -> Config {
        Config {
            issuer: openidconnect::IssuerUrl::new(issuer.to_owned()).unwrap(),
            ..Config::parse(
                r#"{ "issuer": "http://127.0.0.1:6080/", "clientId": "latchkey-desktop", "apiUrl": "http://127.0.0.1:6060" }"#,
                "test",
            )
            .unwrap()
        }
    }

    #[test]
    fn end_session_uses_the_discovered_endpoint_with_the_id_token_hint() {
        let endpoint = Url::parse("https://idp.example.com/logout").unwrap();
        let url = end_session_url(
            &config("https://idp.example.com/"),
            Flavor::Standard,
            Some(&endpoint),
            Some("HINT"),
        )
        .unwrap();
        assert_eq!(
            url.as_str(),
            "https://idp.example.com/logout?client_id=latchkey-desktop&id_token_hint=HINT"
        );
    }

    #[test]
    fn auth0_without_end_session_falls_back_to_v2_logout() {
        let url = end_session_url(
            &config("https://tenant.eu.auth0.com/"),
            Flavor::Auth0,
            None,
            Some("HINT"),
        )
        .unwrap();
        assert_eq!(
            url.as_str(),
            "https://tenant.eu.auth0.com/v2/logout?client_id=latchkey-desktop"
        );
        assert_eq!(
            end_session_url(
                &config("https://idp.example.com/"),
                Flavor::Standard,
                None,
                Some("HINT")
            ),
            None
        );
    }
}
