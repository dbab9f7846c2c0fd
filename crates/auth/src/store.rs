//! What the vault entry holds: the refresh token, whom it belongs to, and what is left to revoke.
//!
//! ```json
//! { "v": 2,
//!   "session": { "refreshToken": "…",
//!                "binding": { "issuer": "…", "clientId": "…", "sub": "…", "authTime": 1700000000,
//!                             "audiences": ["…"], "nonce": "…" },
//!                "profile": { "name": "…", "email": "…", "picture": "…" },
//!                "dpopKey": "…" },
//!   "toRevoke": ["…"] }
//! ```
//! The binding is the identity the token was issued for (OpenID Connect Core §12.2: a
//! refreshed ID token must name the same one); the profile is not secret and lets an
//! offline start show whose session it is. `toRevoke` holds tokens signed out of locally
//! whose revocation the provider has not confirmed yet (RFC 7009 §2.2.1): never used to
//! sign in, only to retry the revocation. An entry written before this format (just the
//! token) is read as a session without binding and rewritten at its next refresh.
//! `dpopKey` is the private key (PKCS #8, base64url) the tokens are DPoP-bound to (RFC 9449),
//! kept beside the refresh token it binds and deleted with it.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use latchkey_dpop::ProofKey;
use openidconnect::RefreshToken;
use openidconnect::core::CoreIdTokenClaims;
use serde::{Deserialize, Serialize};

use crate::lock::EntryLock;
use crate::vault::{Vault, VaultError, VaultProblem};

/// The format version written now.
const FORMAT: u8 = 2;
/// At most this many unconfirmed revocations are kept; the oldest go first.
pub const MAX_PENDING_REVOCATIONS: usize = 8;

/// The identity a stored refresh token was issued for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Binding {
    /// The issuer the session was signed in at.
    pub issuer: String,
    /// The client the session was signed in with.
    pub client_id: String,
    /// The person's subject identifier (`sub`).
    pub sub: String,
    /// When the person authenticated (seconds since the epoch), if the provider said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    /// The ID token's audiences at sign-in.
    pub audiences: Vec<String>,
    /// The sign-in's nonce: a refreshed ID token may repeat it, and carry no other.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
}

impl Binding {
    /// The binding a validated ID token establishes.
    pub(crate) fn from_claims(claims: &CoreIdTokenClaims, client_id: &str) -> Self {
        Self {
            issuer: claims.issuer().to_string(),
            client_id: client_id.to_owned(),
            sub: claims.subject().to_string(),
            auth_time: claims.auth_time().map(|t| t.timestamp()),
            audiences: claims.audiences().iter().map(|a| a.to_string()).collect(),
            nonce: claims.nonce().map(|n| n.secret().clone()),
        }
    }
}

/// The non-secret profile kept for offline starts.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CachedProfile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// The full name, if the provider gave one.
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// The email address, if given.
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// The picture URL, if given.
    pub picture: Option<String>,
}

/// A stored session: the refresh token and what it belongs to.
#[derive(Clone)]
pub struct StoredSession {
    /// The refresh token: the only token the vault holds.
    pub refresh_token: RefreshToken,
    /// `None` only for an entry written before bindings were kept.
    pub binding: Option<Binding>,
    /// The profile last seen, for an offline start.
    pub profile: Option<CachedProfile>,
    /// The key the tokens are DPoP-bound to, if they are.
    pub dpop_key: Option<Arc<ProofKey>>,
}

impl std::fmt::Debug for StoredSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredSession")
            .field("refresh_token", &"[redacted]")
            .field("binding", &self.binding)
            .field("profile", &self.profile)
            .field("dpop_key", &self.dpop_key)
            .finish()
    }
}

/// Everything in the vault entry.
#[derive(Clone, Default)]
pub struct StoredEntry {
    /// The signed-in session, if any.
    pub session: Option<StoredSession>,
    /// Tokens signed out of locally whose revocation is not confirmed yet.
    pub to_revoke: Vec<RefreshToken>,
}

impl std::fmt::Debug for StoredEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredEntry")
            .field("session", &self.session)
            .field("to_revoke", &self.to_revoke.len())
            .finish()
    }
}

impl StoredEntry {
    /// Whether the entry holds nothing worth keeping.
    pub fn is_empty(&self) -> bool {
        self.session.is_none() && self.to_revoke.is_empty()
    }

    /// Whether the stored session's token is `token`.
    pub fn holds(&self, token: &RefreshToken) -> bool {
        self.session
            .as_ref()
            .is_some_and(|s| s.refresh_token.secret() == token.secret())
    }

    /// Queues `token` for revocation (once), dropping the oldest beyond the cap.
    pub(crate) fn queue_revocation(&mut self, token: RefreshToken) {
        if self.to_revoke.iter().any(|t| t.secret() == token.secret()) {
            return;
        }
        self.to_revoke.push(token);
        let excess = self.to_revoke.len().saturating_sub(MAX_PENDING_REVOCATIONS);
        self.to_revoke.drain(..excess);
    }

    fn to_text(&self) -> String {
        let wire = WireEntry {
            v: FORMAT,
            session: self.session.as_ref().map(|s| WireSession {
                refresh_token: s.refresh_token.secret().clone(),
                binding: s.binding.clone(),
                profile: s.profile.clone(),
                dpop_key: s
                    .dpop_key
                    .as_ref()
                    .map(|k| URL_SAFE_NO_PAD.encode(k.pkcs8())),
            }),
            to_revoke: self.to_revoke.iter().map(|t| t.secret().clone()).collect(),
        };
        serde_json::to_string(&wire).expect("the entry serializes")
    }

    /// Reads an entry: this format, or an older entry that was just the token.
    fn from_text(text: &str) -> Result<Self, VaultError> {
        if !text.trim_start().starts_with('{') {
            let token = text.trim();
            if token.is_empty() {
                return Ok(Self::default());
            }
            return Ok(Self {
                session: Some(StoredSession {
                    refresh_token: RefreshToken::new(token.to_owned()),
                    binding: None,
                    profile: None,
                    dpop_key: None,
                }),
                to_revoke: Vec::new(),
            });
        }
        let wire: WireEntry = serde_json::from_str(text).map_err(|e| {
            // serde's message names the field, never the value.
            VaultError::Failed(VaultProblem::caused(
                format!("the stored session is unreadable ({e})"),
                e,
            ))
        })?;
        if wire.v > FORMAT {
            return Err(VaultError::Failed(VaultProblem::found(format!(
                "the stored session was written by a newer version (format {}); update the app",
                wire.v
            ))));
        }
        Ok(Self {
            session: wire.session.map(|s| StoredSession {
                refresh_token: RefreshToken::new(s.refresh_token),
                binding: s.binding,
                profile: s.profile,
                // A key that does not read binds nothing usable: the provider refuses the
                // refresh, and the person signs in again.
                dpop_key: s
                    .dpop_key
                    .and_then(|k| URL_SAFE_NO_PAD.decode(k).ok())
                    .and_then(|der| ProofKey::from_pkcs8(&der))
                    .map(Arc::new),
            }),
            to_revoke: wire.to_revoke.into_iter().map(RefreshToken::new).collect(),
        })
    }
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireEntry {
    v: u8,
    #[serde(default)]
    session: Option<WireSession>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    to_revoke: Vec<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireSession {
    refresh_token: String,
    #[serde(default)]
    binding: Option<Binding>,
    #[serde(default)]
    profile: Option<CachedProfile>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    dpop_key: Option<String>,
}

/// The session's vault entry and the lock that guards redeeming it.
#[derive(Clone, Debug)]
pub struct SessionStore {
    vault: Vault,
    lock: EntryLock,
}

impl SessionStore {
    /// Latchkey's entry (shared by its window and its CLI) for `client_id` at `issuer`.
    pub fn for_client(issuer: &str, client_id: &str) -> Self {
        Self::for_app(&crate::AppIdentity::latchkey(), issuer, client_id)
    }

    /// `app`'s entry for `client_id` at `issuer`: its vault service, its lock directory.
    pub fn for_app(app: &crate::AppIdentity, issuer: &str, client_id: &str) -> Self {
        let vault = Vault::for_app(app, issuer, client_id);
        let lock = EntryLock::in_dir(app.lock_dir(), vault.account());
        Self { vault, lock }
    }

    /// The same entry kept in `vault` (for tests of the Windows splitting path).
    pub fn with_vault(self, vault: Vault) -> Self {
        Self { vault, ..self }
    }

    /// The entry `account` in the same vault, with its own lock beside this one's.
    pub(crate) fn for_entry(&self, account: &str) -> Self {
        let dir = self.lock.path().and_then(|p| p.parent());
        Self {
            vault: self.vault.with_account(account),
            lock: EntryLock::in_dir(dir, account),
        }
    }

    /// The entry of the account of `sub` (the person's subject identifier at the provider)
    /// beside this one, as a sign-in as that person keeps it.
    pub fn account(&self, sub: &str) -> Self {
        self.for_entry(&crate::accounts::entry_name(self.entry_name(), sub))
    }

    /// The entry's account name in the vault (`client@issuer`, or `…#sub:{sub}`).
    pub fn entry_name(&self) -> &str {
        self.vault.account()
    }

    /// The OS credential vault entry.
    pub fn vault(&self) -> &Vault {
        &self.vault
    }

    /// The cross-process lock of this entry.
    pub fn lock(&self) -> &EntryLock {
        &self.lock
    }

    /// Reads the whole entry; an empty one when nothing is stored.
    pub async fn load(&self) -> Result<StoredEntry, VaultError> {
        match self.vault.read().await? {
            Some(text) => StoredEntry::from_text(&text),
            None => Ok(StoredEntry::default()),
        }
    }

    /// The stored session's refresh token, if one is stored.
    pub async fn refresh_token(&self) -> Result<Option<RefreshToken>, VaultError> {
        Ok(self.load().await?.session.map(|s| s.refresh_token))
    }

    /// Writes `entry`; an empty entry deletes it. Call with the entry lock held.
    pub async fn save(&self, entry: &StoredEntry) -> Result<(), VaultError> {
        if entry.is_empty() {
            self.vault.delete().await
        } else {
            self.vault.write(entry.to_text()).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(token: &str) -> StoredSession {
        StoredSession {
            refresh_token: RefreshToken::new(token.into()),
            binding: Some(Binding {
                issuer: "https://idp.example/".into(),
                client_id: "app".into(),
                sub: "user|1".into(),
                auth_time: Some(1_700_000_000),
                audiences: vec!["app".into()],
                nonce: None,
            }),
            profile: Some(CachedProfile {
                name: Some("Jemma Doe".into()),
                email: None,
                picture: None,
            }),
            dpop_key: None,
        }
    }

    #[test]
    fn an_entry_round_trips_with_binding_profile_and_pending_revocations() {
        let mut entry = StoredEntry {
            session: Some(session("current")),
            to_revoke: Vec::new(),
        };
        entry.queue_revocation(RefreshToken::new("old".into()));
        entry.queue_revocation(RefreshToken::new("old".into()));
        let back = StoredEntry::from_text(&entry.to_text()).unwrap();
        assert!(back.holds(&RefreshToken::new("current".into())));
        assert!(!back.holds(&RefreshToken::new("old".into())));
        let stored = back.session.unwrap();
        assert_eq!(stored.binding, session("x").binding);
        assert_eq!(stored.profile, session("x").profile);
        assert_eq!(back.to_revoke.len(), 1, "queued once");
    }

    #[test]
    fn an_old_entry_that_is_just_the_token_is_read_as_a_session() {
        let entry = StoredEntry::from_text("legacy-refresh-token").unwrap();
        let session = entry.session.unwrap();
        assert_eq!(session.refresh_token.secret(), "legacy-refresh-token");
        assert!(session.binding.is_none());
    }

    #[test]
    fn pending_revocations_are_capped() {
        let mut entry = StoredEntry::default();
        for n in 0..20 {
            entry.queue_revocation(RefreshToken::new(format!("t{n}")));
        }
        assert_eq!(entry.to_revoke.len(), MAX_PENDING_REVOCATIONS);
        assert_eq!(entry.to_revoke.last().unwrap().secret(), "t19");
    }

    #[test]
    fn an_unreadable_or_newer_entry_is_an_error_that_shows_no_secret() {
        let err = StoredEntry::from_text(r#"{"v":2,"session":{"refreshToken":7}}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("unreadable"), "{err}");
        let err = StoredEntry::from_text(r#"{"v":9,"session":null}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("newer version"), "{err}");
        let text = StoredEntry {
            session: Some(session("very-secret")),
            to_revoke: vec![RefreshToken::new("also-secret".into())],
        };
        let shown = format!("{text:?}");
        assert!(!shown.contains("secret"), "{shown}");
    }
}
