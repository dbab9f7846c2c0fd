//! Restoring the stored session at start-up, silently, and reconnecting after an offline start.
//!
//! A provider that cannot be reached (connection refused, DNS, timeout, 5xx) is a state, not
//! a sign-out: the stored session stays, the cached profile says whose it is, and
//! [`Session::reconnect`] tries again with backoff. Only the provider's `invalid_grant` (or
//! the person's log-out) ends the session.

use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::Notify;

use crate::error::SessionError;
use crate::lock_unpoisoned;
use crate::profile::Profile;
use crate::session::{Session, State};
use crate::store::StoredSession;

/// The first wait before reconnecting; it doubles up to [`RECONNECT_MAX`].
pub const RECONNECT_FIRST: Duration = Duration::from_secs(1);
/// The longest wait between two reconnection attempts.
pub const RECONNECT_MAX: Duration = Duration::from_secs(30);

/// What `restore` found.
#[derive(Clone, Debug, PartialEq)]
pub enum Restored {
    /// The session was restored; the provider renewed its tokens.
    SignedIn(Profile),
    /// A session is stored but the provider could not be reached: it is kept, and
    /// `profile` (from the vault's cache) says whose it is, when the entry knows.
    Offline {
        /// The profile cached with the session, if any.
        profile: Option<Profile>,
        /// One calm sentence for a person: what could not be reached.
        reason: String,
        /// The whole error chain, for support and logs.
        details: String,
    },
    /// No session is stored: the person signs in.
    NothingStored,
}

impl Session {
    /// Restores the session from the vault at start-up. A network error keeps the stored
    /// session ([`Restored::Offline`]); only `invalid_grant` deletes it.
    pub async fn restore(&self) -> Result<Restored, SessionError> {
        if let Some(profile) = self.profile() {
            return Ok(Restored::SignedIn(profile));
        }
        // Discovery starts while the vault answers, so a restore waits for the slower of the
        // two, not both; with nothing stored nobody waits for it (an offline provider must
        // not hold up the signed-out view). The refresh below joins it through the cache lock.
        let warm = self.clone();
        tokio::spawn(async move {
            let _ = warm.provider().await;
        });
        let known = match &*lock_unpoisoned(&self.inner.state) {
            State::Stored(stored) => Some(stored.clone()),
            _ => None,
        };
        let stored = match known {
            None => match self.load_active().await? {
                Some(stored) => stored,
                // Signed in meanwhile by another task, or nothing stored.
                None => {
                    return Ok(self
                        .profile()
                        .map_or(Restored::NothingStored, Restored::SignedIn));
                }
            },
            Some(stored) => stored,
        };
        let flight = self.inner.refresh_flight.lock().await;
        if let Some(profile) = self.profile() {
            return Ok(Restored::SignedIn(profile));
        }
        match self.redeem(&flight).await {
            Ok(()) => Ok(Restored::SignedIn(
                self.profile().ok_or(SessionError::SignedOut)?,
            )),
            Err(err) if err.is_offline() => Ok(Restored::Offline {
                profile: cached_profile(&stored),
                reason: self.unreachable(&err),
                details: err.to_string(),
            }),
            Err(err) => Err(err),
        }
    }

    /// After an offline start: tries [`Session::restore`] again with backoff (1 s, doubling,
    /// at most 30 s between attempts, unless [`crate::SessionBuilder::reconnect_backoff`]
    /// says otherwise), or at once when `retry_now` is notified, until the provider answers;
    /// returns that answer.
    pub async fn reconnect(&self, retry_now: &Notify) -> Result<Restored, SessionError> {
        let (first, max) = self.inner.reconnect_backoff;
        let mut wait = first;
        loop {
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = retry_now.notified() => {}
            }
            match self.restore().await? {
                Restored::Offline { reason, .. } => {
                    tracing::info!("still offline ({reason}); next attempt in {wait:?}");
                    wait = (wait * 2).min(max);
                }
                answer => return Ok(answer),
            }
        }
    }
}

impl Session {
    /// Reads the active account's stored session into memory (not redeemed yet). An account
    /// whose entry holds nothing is passed over for the next one ([`Session::vacate`]).
    async fn load_active(&self) -> Result<Option<StoredSession>, SessionError> {
        for _ in 0..=crate::MAX_ACCOUNTS {
            let Some(store) = self.active_store().await? else {
                let waiting = self
                    .inner
                    .base
                    .load()
                    .await
                    .map_or(0, |e| e.to_revoke.len());
                self.inner
                    .pending_revocations
                    .store(waiting, Ordering::Relaxed);
                return Ok(None);
            };
            let loaded = store.load().await;
            self.note_vault_result(&loaded);
            let entry = loaded?;
            // Revocations wait in the first entry, whichever account they were of.
            let waiting = if store.entry_name() == self.inner.base.entry_name() {
                entry.to_revoke.len()
            } else {
                self.inner
                    .base
                    .load()
                    .await
                    .map_or(0, |e| e.to_revoke.len())
            };
            self.inner
                .pending_revocations
                .store(waiting, Ordering::Relaxed);
            let Some(stored) = entry.session else {
                match self.vacate(store.entry_name()).await? {
                    Some(_) => continue,
                    None => return Ok(None),
                }
            };
            let mut state = lock_unpoisoned(&self.inner.state);
            if let State::SignedIn(_) = &*state {
                return Ok(None);
            }
            *lock_unpoisoned(&self.inner.store) = store;
            *state = State::Stored(stored.clone());
            return Ok(Some(stored));
        }
        Ok(None)
    }

    /// What an offline state is, in a sentence without the error chain: which provider, and
    /// whether it could not be reached or answered with a failure of its own.
    fn unreachable(&self, err: &SessionError) -> String {
        let issuer = &self.inner.config.issuer;
        let url = issuer.url();
        let host = match (url.host_str(), url.port()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) => host.to_owned(),
            (None, _) => issuer.to_string(),
        };
        match err {
            SessionError::ProviderUnavailable(_) => {
                format!("Your sign-in provider ({host}) is having problems")
            }
            _ => format!("Your sign-in provider ({host}) cannot be reached"),
        }
    }
}

fn cached_profile(stored: &StoredSession) -> Option<Profile> {
    let binding = stored.binding.as_ref()?;
    let cached = stored.profile.as_ref()?;
    Some(Profile::from_cache(&binding.sub, cached))
}
