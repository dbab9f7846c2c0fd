//! Renewing the tokens (RFC 6749 §6): one redemption at a time in this process and across
//! processes, rotation and non-rotation alike, and the checks on a refreshed ID token.
//!
//! Every redemption runs with both guards held: the in-process flight lock (so concurrent
//! callers share one refresh) and the entry's OS file lock ([`crate::lock`]). Under them the
//! vault is read again: a token another process already rotated is used instead of the stale
//! one in memory, and a session another process signed out of is not brought back. A refused
//! token (`invalid_grant`) is deleted only when the entry still holds that very token.

use std::sync::Arc;
use std::time::{Duration, Instant};

use openidconnect::core::{CoreErrorResponseType, CoreTokenResponse};
use openidconnect::{
    AccessToken, OAuth2TokenResponse, RefreshToken, RequestTokenError, TokenResponse,
};
use tokio::sync::MutexGuard;

use crate::error::{ProviderError, SessionError, SignInRequired};
use crate::lock::LOCK_TIMEOUT;
use crate::lock_unpoisoned;
use crate::profile::Profile;
use crate::provider::DiscoveryError;
use crate::session::{REFRESH_MARGIN, Session, State, Tokens};
use crate::store::{SessionStore, StoredEntry, StoredSession};
use crate::tokens::{Accepted, Grant, TokenAnswerError};

/// An access token, its generation, the DPoP key it is bound to, and its account's entry.
pub(crate) type Credentials = (
    AccessToken,
    u64,
    Option<Arc<latchkey_dpop::ProofKey>>,
    Arc<str>,
);

/// A discovery failure while renewing: unreachable means offline, anything else is itself.
pub(crate) fn offline_or(err: DiscoveryError) -> SessionError {
    match err {
        fetch @ DiscoveryError::Fetch { .. } => {
            SessionError::Offline(ProviderError::discovery(fetch))
        }
        unusable @ DiscoveryError::Unusable { .. } => {
            SessionError::ProviderUnavailable(ProviderError::discovery(unusable))
        }
        other => SessionError::Discovery(other),
    }
}

impl Session {
    /// A valid access token, refreshed first if it is about to expire. Concurrent callers
    /// share one refresh. Returns the token's generation, for [`Session::refresh`].
    pub async fn access_token(&self) -> Result<(AccessToken, u64), SessionError> {
        let stale_generation = match &*lock_unpoisoned(&self.inner.state) {
            State::SignedOut => return Err(SessionError::SignedOut),
            State::Stored(_) => 0,
            State::SignedIn(tokens) => {
                if tokens.renew_at.is_none_or(|at| Instant::now() < at) {
                    return Ok((tokens.access.clone(), tokens.generation));
                }
                tokens.generation
            }
        };
        self.refresh(stale_generation).await?;
        match &*lock_unpoisoned(&self.inner.state) {
            State::SignedIn(tokens) => Ok((tokens.access.clone(), tokens.generation)),
            _ => Err(SessionError::SignedOut),
        }
    }

    /// [`Session::access_token`] with the DPoP key it is bound to, if it is: read together,
    /// so a proof is never made with another session's key.
    /// The account's entry name comes with them, so a caller retrying a call can tell that
    /// another account became active in between.
    pub(crate) async fn access_credentials(&self) -> Result<Credentials, SessionError> {
        let (access, generation) = self.access_token().await?;
        match &*lock_unpoisoned(&self.inner.state) {
            State::SignedIn(tokens) if tokens.generation == generation => Ok((
                access,
                generation,
                tokens.dpop.clone(),
                tokens.entry.clone(),
            )),
            // Renewed or switched in between: the caller's 401 path refreshes and asks again.
            State::SignedIn(tokens) => Ok((access, generation, None, tokens.entry.clone())),
            _ => Err(SessionError::SignedOut),
        }
    }

    /// Marks the access token in memory as due: the next call renews it first. For an app
    /// that learns some other way than a 401 that the token should not be used any more (its
    /// API's own signal, a permission changed at the provider).
    pub fn expire_access_token(&self) {
        if let State::SignedIn(tokens) = &mut *lock_unpoisoned(&self.inner.state) {
            tokens.renew_at = Some(Instant::now());
        }
    }

    /// Renews the tokens now, for a profile changed at the provider, and returns the profile
    /// the fresh ID token describes.
    pub async fn reload_profile(&self) -> Result<Profile, SessionError> {
        let (_, generation) = self.access_token().await?;
        self.refresh(generation).await?;
        self.profile().ok_or(SessionError::SignedOut)
    }

    /// Renews the tokens unless someone already replaced generation `stale_generation`.
    pub async fn refresh(&self, stale_generation: u64) -> Result<(), SessionError> {
        let flight = self.inner.refresh_flight.lock().await;
        match &*lock_unpoisoned(&self.inner.state) {
            State::SignedOut => return Err(SessionError::SignedOut),
            State::SignedIn(tokens) if tokens.generation != stale_generation => return Ok(()),
            _ => {}
        }
        self.redeem(&flight).await
    }

    /// Redeems the stored refresh token at the token endpoint. The flight guard proves the
    /// caller holds the in-process lock; the entry lock is taken here.
    pub(crate) async fn redeem(&self, _flight: &MutexGuard<'_, ()>) -> Result<(), SessionError> {
        let provider = self.provider().await.map_err(offline_or)?;
        // The flight lock is held, so the active account cannot change under this redemption.
        let store = self.store();
        let entry_lock = store.lock().acquire(LOCK_TIMEOUT).await?;
        let (ours, persisted, shown) = match &*lock_unpoisoned(&self.inner.state) {
            State::SignedOut => return Err(SessionError::SignedOut),
            State::Stored(stored) => (stored.clone(), true, None),
            State::SignedIn(tokens) => (
                StoredSession {
                    refresh_token: tokens.refresh.clone().ok_or(SessionError::Expired)?,
                    binding: Some(tokens.binding.clone()),
                    profile: Some(tokens.profile.to_cache()),
                    dpop_key: tokens.dpop.clone(),
                },
                tokens.persisted,
                Some(tokens.profile.clone()),
            ),
        };
        // The vault as it is now: another process may have rotated the token or signed out.
        let loaded = store.load().await;
        self.note_vault_result(&loaded);
        let vault_ok = loaded.is_ok();
        let mut entry = loaded.unwrap_or_default();
        let current = match (vault_ok, entry.session.clone()) {
            (true, Some(stored)) => {
                let other_account = matches!(
                    (&stored.binding, &ours.binding),
                    (Some(theirs), Some(mine)) if theirs.sub != mine.sub
                );
                if other_account {
                    self.clear();
                    return Err(SessionError::SignedOutElsewhere);
                }
                stored
            }
            (true, None) if persisted => {
                self.clear();
                return Err(SessionError::SignedOutElsewhere);
            }
            _ => ours,
        };
        let request = provider
            .client
            .exchange_refresh_token(&current.refresh_token)
            .map_err(|e| SessionError::Provider(ProviderError::unusable(e)))?;
        // Bound tokens are refreshed with a proof by their key (RFC 9449 §5).
        let answer = match &current.dpop_key {
            Some(key) => request.request_async(&self.dpop_http(key)).await,
            None => request.request_async(&self.inner.http).await,
        };
        if let Err(RequestTokenError::ServerResponse(err)) = &answer
            && let CoreErrorResponseType::Extension(code) = err.error()
            && let Some(why) = SignInRequired::from_code(code)
        {
            tracing::info!("the provider asks for a new sign-in ({code})");
            self.end_stored(&store, &mut entry, vault_ok, &current.refresh_token)
                .await;
            return Err(SessionError::SignInRequired(why));
        }
        let response = match answer {
            Ok(response) => response,
            Err(RequestTokenError::ServerResponse(err))
                if *err.error() == CoreErrorResponseType::InvalidGrant =>
            {
                tracing::info!("the provider ended the session (invalid_grant)");
                self.end_stored(&store, &mut entry, vault_ok, &current.refresh_token)
                    .await;
                return Err(SessionError::Expired);
            }
            // Reached, but failing on its side (5xx): kept, as for an unreachable provider.
            Err(err @ RequestTokenError::Request(latchkey_http::HttpError::Status { .. })) => {
                return Err(SessionError::ProviderUnavailable(ProviderError::request(
                    err,
                )));
            }
            Err(err @ RequestTokenError::Request(_)) => {
                return Err(SessionError::Offline(ProviderError::request(err)));
            }
            Err(err @ RequestTokenError::ServerResponse(_)) => {
                return Err(SessionError::Provider(ProviderError::request(err)));
            }
            Err(err) => {
                return Err(SessionError::ProviderUnavailable(ProviderError::request(
                    err,
                )));
            }
        };
        let grant = Grant::Refresh {
            current: &current,
            shown,
        };
        let accepted = match self
            .check_answer(&provider, &response, grant, current.dpop_key.clone())
            .await
        {
            Ok(accepted) => accepted,
            Err(TokenAnswerError::IdentityChanged(why)) => {
                tracing::warn!("refused a refreshed ID token: {why}");
                self.end_stored(&store, &mut entry, vault_ok, &current.refresh_token)
                    .await;
                return Err(SessionError::IdentityChanged { reason: why });
            }
            Err(refused) => return Err(SessionError::Answer(refused)),
        };
        // A provider that does not rotate (Google, Auth0 with rotation off) sends no new
        // refresh token: the current one stays, in memory and in the vault.
        let rotated = response.refresh_token().is_some();
        let entry = vault_ok.then_some((&store, &mut entry));
        let persisted = self
            .keep_answer(&response, accepted, Some(current.refresh_token), entry)
            .await;
        tracing::debug!(rotated, persisted, "session renewed");
        drop(entry_lock);
        Ok(())
    }

    /// Takes the tokens of a completed sign-in: the refresh token goes to the vault (under the
    /// entry lock) before the access token is used.
    pub(crate) async fn sign_in_with(
        &self,
        response: CoreTokenResponse,
        accepted: Accepted,
    ) -> Result<Profile, SessionError> {
        let profile = accepted.profile.clone();
        // No redemption of the account signed in before runs while the account changes.
        let _flight = self.inner.refresh_flight.lock().await;
        let store = self.account_for_sign_in(&accepted).await?;
        *lock_unpoisoned(&self.inner.store) = store.clone();
        let persisted = if response.refresh_token().is_some() {
            let _entry_lock = store.lock().acquire(LOCK_TIMEOUT).await?;
            // An unreadable entry is replaced; its pending revocations are kept otherwise.
            let mut entry = store.load().await.unwrap_or_default();
            self.keep_answer(&response, accepted, None, Some((&store, &mut entry)))
                .await
        } else {
            self.keep_answer(&response, accepted, None, None).await
        };
        tracing::debug!(persisted, "signed in");
        Ok(profile)
    }

    /// Writes the session into `entry` and the vault; returns whether it got there.
    /// The record of accounts is told of a changed name, email or picture.
    pub(crate) async fn persist(
        &self,
        store: &SessionStore,
        entry: &mut StoredEntry,
        refresh: &RefreshToken,
        accepted: &Accepted,
    ) -> bool {
        let stored = StoredSession {
            refresh_token: refresh.clone(),
            binding: Some(accepted.binding.clone()),
            profile: Some(accepted.profile.to_cache()),
            dpop_key: accepted.dpop.clone(),
        };
        entry.session = Some(stored.clone());
        let saved = store.save(entry).await;
        self.note_vault_result(&saved);
        if saved.is_ok()
            && let Err(err) = self
                .inner
                .book
                .sign_in(store.entry_name(), &stored, false)
                .await
        {
            tracing::warn!("{err}");
        }
        saved.is_ok()
    }

    /// Ends the session after the provider refused `token`: memory is cleared, and the vault
    /// entry loses the session only if it still holds that token (compare, then delete).
    /// The account stays in the list, marked as needing a sign-in in the browser.
    async fn end_stored(
        &self,
        store: &SessionStore,
        entry: &mut StoredEntry,
        vault_ok: bool,
        token: &RefreshToken,
    ) {
        self.clear();
        if vault_ok && entry.holds(token) {
            entry.session = None;
            let saved = store.save(entry).await;
            self.note_vault_result(&saved);
        }
        self.inner.book.mark(store.entry_name(), true).await;
    }

    pub(crate) fn adopt(
        &self,
        response: &CoreTokenResponse,
        refresh: Option<RefreshToken>,
        accepted: Accepted,
        persisted: bool,
    ) {
        let Accepted {
            binding,
            profile,
            dpop,
            ..
        } = accepted;
        let renew_at = renew_at(Instant::now(), response.expires_in());
        let mut state = lock_unpoisoned(&self.inner.state);
        let id_token = match &*state {
            State::SignedIn(previous) => response
                .id_token()
                .cloned()
                .or_else(|| previous.id_token.clone()),
            _ => response.id_token().cloned(),
        };
        *state = State::SignedIn(Tokens {
            access: response.access_token().clone(),
            renew_at,
            refresh,
            id_token,
            profile,
            binding,
            persisted,
            dpop,
            entry: self.store().entry_name().into(),
            generation: self.next_generation(),
        });
    }

    /// The provider's HTTP client putting a proof by `key` on every request.
    pub(crate) fn dpop_http<'a>(
        &'a self,
        key: &'a Arc<latchkey_dpop::ProofKey>,
    ) -> crate::dpop::DpopHttp<'a> {
        crate::dpop::DpopHttp {
            http: &self.inner.http,
            key,
            nonces: &self.inner.dpop_nonces,
        }
    }

    /// Forgets the session in this process (the vault is left as it is).
    pub(crate) fn clear(&self) {
        *lock_unpoisoned(&self.inner.state) = State::SignedOut;
    }
}

/// A provider's `expires_in` over this is taken as this: a token is renewed at least daily,
/// and no lifetime it sends can overflow the clock.
pub const MAX_ACCESS_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);

/// When to renew an access token issued at `now` for `expires_in` (`None`: the provider did
/// not say, so it is used until the API refuses it): a margin before it expires, never more
/// than half its life; `expires_in: 0` renews at its first use.
pub fn renew_at(now: Instant, expires_in: Option<Duration>) -> Option<Instant> {
    let life = expires_in?.min(MAX_ACCESS_LIFETIME);
    now.checked_add(life.saturating_sub(REFRESH_MARGIN.min(life / 2)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_lifetime_a_provider_sends_gives_a_renewal_time_within_a_day() {
        let now = Instant::now();
        for secs in [
            0,
            1,
            59,
            60,
            61,
            3600,
            86_400,
            86_401,
            u64::MAX / 2,
            u64::MAX,
        ] {
            let at = renew_at(now, Some(Duration::from_secs(secs))).expect("a time");
            assert!(at <= now + MAX_ACCESS_LIFETIME, "{secs}");
            if let Some(expiry) = now.checked_add(Duration::from_secs(secs)) {
                assert!(at <= expiry, "{secs}: not after expiry");
            }
        }
        assert_eq!(renew_at(now, Some(Duration::ZERO)), Some(now));
        assert_eq!(renew_at(now, None), None);
    }
}
