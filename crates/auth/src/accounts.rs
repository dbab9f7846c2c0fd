//! Several accounts side by side: one vault entry per account, and a small record of which
//! one is active.
//!
//! Each account's refresh token, binding, cached profile and DPoP key live in its own vault
//! entry (`client@issuer#sub:{sub}`), with its own cross-process lock, exactly as the single
//! entry did. The record is a JSON file in the app's data directory, without any secret:
//!
//! ```json
//! { "v": 1, "active": "app@https://idp/#sub:user-1",
//!   "accounts": [ { "entry": "app@https://idp/#sub:user-1", "sub": "user-1",
//!                   "name": "Jemma Doe", "email": "jemma@example.com", "picture": "…" } ] }
//! ```
//! It is rewritten whole under its own file lock (written to a temporary file, then renamed
//! over the old one), so a reader sees the old record or the new one, never half of either.
//! The entry an older version kept the one session in (`client@issuer`) is taken over as an
//! account on the first start, where it is: nothing is copied, nobody is signed out.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::error::SessionError;
use crate::lock::{EntryLock, LOCK_TIMEOUT, LockError};
use crate::lock_unpoisoned;
use crate::logout::LogoutOutcome;
use crate::profile::Profile;
use crate::restore::Restored;
use crate::session::{Session, State};
use crate::store::{CachedProfile, SessionStore, StoredSession};
use crate::tokens::Accepted;

/// The most accounts kept side by side.
pub const MAX_ACCOUNTS: usize = 10;

/// The record's format version.
const FORMAT: u8 = 1;

/// One account, as the record lists it: who it is, never a token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Account {
    /// The account's vault entry name, which also identifies it here (not a secret).
    pub entry: String,
    /// The person's subject identifier at the provider, once known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// The full name last seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The email address last seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The picture URL last seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub picture: Option<String>,
    /// The provider refused this account's refresh token: it needs a sign-in in the browser.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sign_in_again: bool,
}

impl Account {
    /// What a person calls the account: the name, else the email, else the subject.
    pub fn label(&self) -> &str {
        self.name
            .as_deref()
            .or(self.email.as_deref())
            .or(self.sub.as_deref())
            .unwrap_or("an account signed in before accounts were kept")
    }

    /// Whether `selector` names this account: its email, name or `sub` exactly (emails
    /// without regard to case), or its entry name.
    pub fn answers_to(&self, selector: &str) -> bool {
        self.email
            .as_deref()
            .is_some_and(|e| e.eq_ignore_ascii_case(selector))
            || self.name.as_deref() == Some(selector)
            || self.sub.as_deref() == Some(selector)
            || self.entry == selector
    }

    fn describe(&mut self, sub: &str, profile: &CachedProfile) {
        self.sub = Some(sub.to_owned());
        self.name.clone_from(&profile.name);
        self.email.clone_from(&profile.email);
        self.picture.clone_from(&profile.picture);
    }

    /// The cached profile this record shows, as a [`Profile`].
    pub fn profile(&self) -> Option<Profile> {
        let cached = CachedProfile {
            name: self.name.clone(),
            email: self.email.clone(),
            picture: self.picture.clone(),
        };
        Some(Profile::from_cache(self.sub.as_deref()?, &cached))
    }
}

/// The record: the accounts in the order they were added, and the active one.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountList {
    #[serde(default)]
    v: u8,
    /// The active account's entry name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<String>,
    /// Every account kept, in the order they were added.
    #[serde(default)]
    pub accounts: Vec<Account>,
}

impl AccountList {
    /// The active account, if there is one.
    pub fn active(&self) -> Option<&Account> {
        let active = self.active.as_deref()?;
        self.accounts.iter().find(|a| a.entry == active)
    }

    /// The account kept in entry `entry`.
    pub fn get(&self, entry: &str) -> Option<&Account> {
        self.accounts.iter().find(|a| a.entry == entry)
    }

    /// The account `selector` names (see [`Account::answers_to`]); an error naming the
    /// candidates when it names none or several.
    pub fn find(&self, selector: &str) -> Result<&Account, AccountError> {
        let matches: Vec<&Account> = self
            .accounts
            .iter()
            .filter(|a| a.answers_to(selector))
            .collect();
        match matches.as_slice() {
            [one] => Ok(one),
            [] => Err(AccountError::Unknown {
                selector: selector.to_owned(),
                known: self.accounts.iter().map(candidate).collect(),
            }),
            several => Err(AccountError::Ambiguous {
                selector: selector.to_owned(),
                candidates: several.iter().map(|a| candidate(a)).collect(),
            }),
        }
    }

    /// Takes the account of a sign-in (`sub`) into the list, as the active one unless
    /// `activate` is false; an account already kept is updated. Returns its entry name.
    pub(crate) fn sign_in(
        &mut self,
        entry: &str,
        sub: &str,
        profile: &CachedProfile,
        activate: bool,
    ) -> Result<String, AccountError> {
        let index = match self.accounts.iter().position(|a| a.entry == entry) {
            Some(index) => index,
            None if self.accounts.len() >= MAX_ACCOUNTS => {
                return Err(AccountError::TooMany);
            }
            None => {
                self.accounts.push(Account {
                    entry: entry.to_owned(),
                    sub: None,
                    name: None,
                    email: None,
                    picture: None,
                    sign_in_again: false,
                });
                self.accounts.len() - 1
            }
        };
        let account = &mut self.accounts[index];
        account.describe(sub, profile);
        account.sign_in_again = false;
        if activate {
            self.active = Some(entry.to_owned());
        }
        Ok(entry.to_owned())
    }

    /// Drops the account in `entry`; the next account in the list becomes active when it was.
    pub(crate) fn remove(&mut self, entry: &str) {
        let Some(index) = self.accounts.iter().position(|a| a.entry == entry) else {
            return;
        };
        self.accounts.remove(index);
        if self.active.as_deref() == Some(entry) {
            self.active = self
                .accounts
                .get(index)
                .or(self.accounts.last())
                .map(|a| a.entry.clone());
        }
    }

    fn mark(&mut self, entry: &str, sign_in_again: bool) {
        if let Some(account) = self.accounts.iter_mut().find(|a| a.entry == entry) {
            account.sign_in_again = sign_in_again;
        }
    }
}

fn candidate(account: &Account) -> String {
    match (&account.name, &account.email) {
        (Some(name), Some(email)) => format!("{name} <{email}>"),
        _ => account.label().to_owned(),
    }
}

/// Why an account could not be chosen, added or read.
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AccountError {
    /// No account answers to the name given.
    #[error("no account is called {selector:?}; the accounts kept are: {}", list(.known))]
    Unknown {
        /// What was asked for.
        selector: String,
        /// The accounts there are.
        known: Vec<String>,
    },
    /// Several accounts answer to the name given.
    #[error("{selector:?} names several accounts ({}); give the email or the subject instead", .candidates.join(", "))]
    Ambiguous {
        /// What was asked for.
        selector: String,
        /// The accounts it names.
        candidates: Vec<String>,
    },
    /// The list is full.
    #[error("{MAX_ACCOUNTS} accounts are kept already; sign out of one before adding another")]
    TooMany,
    /// The record of accounts could not be read or written.
    #[error("the list of accounts at {path} could not be {action}: {reason}")]
    Record {
        /// Where the record is.
        path: PathBuf,
        /// "read" or "written".
        action: &'static str,
        /// Why.
        reason: String,
    },
    /// Another process held the record's lock too long.
    #[error(transparent)]
    Lock(#[from] LockError),
}

fn list(known: &[String]) -> String {
    if known.is_empty() {
        "none".into()
    } else {
        known.join(", ")
    }
}

/// The record of accounts for one provider and client: a file in the app's data directory,
/// or (with no data directory) this process's memory.
#[derive(Debug)]
pub(crate) struct AccountBook {
    path: Option<PathBuf>,
    lock: EntryLock,
    memory: Mutex<AccountList>,
}

impl AccountBook {
    /// The record for the entries named after `base` (`client@issuer`) under the vault
    /// service `service`, in `dir`.
    pub(crate) fn new(
        dir: Option<&Path>,
        lock_dir: Option<&Path>,
        service: &str,
        base: &str,
    ) -> Self {
        let digest = crate::vault::fnv1a(&format!("{service}\n{base}"));
        Self {
            path: dir.map(|d| d.join(format!("accounts-{digest:016x}.json"))),
            lock: EntryLock::in_dir(lock_dir, &format!("accounts:{base}")),
            memory: Mutex::new(AccountList::default()),
        }
    }

    /// Where the record is kept, if on disk.
    pub(crate) fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The record as it is now (an empty one when there is none yet).
    pub(crate) fn read(&self) -> Result<AccountList, AccountError> {
        let Some(path) = &self.path else {
            return Ok(lock_unpoisoned(&self.memory).clone());
        };
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                return Ok(AccountList::default());
            }
            Err(err) => return Err(record_error(path, "read", err.to_string())),
        };
        let list: AccountList = serde_json::from_str(&text).map_err(|e| {
            record_error(path, "read", format!("it is not a list of accounts ({e})"))
        })?;
        if list.v > FORMAT {
            return Err(record_error(
                path,
                "read",
                format!(
                    "it was written by a newer version (format {}); update the app",
                    list.v
                ),
            ));
        }
        Ok(list)
    }

    /// Changes the record under its lock: reads it, lets `change` edit it, writes it back
    /// whole when it changed. Returns what `change` returned.
    pub(crate) async fn update<T>(
        &self,
        change: impl FnOnce(&mut AccountList) -> Result<T, AccountError>,
    ) -> Result<T, AccountError> {
        let _guard = self.lock.acquire(LOCK_TIMEOUT).await?;
        let before = self.read()?;
        let mut list = before.clone();
        let answer = change(&mut list)?;
        if list != before {
            list.v = FORMAT;
            self.write(&list)?;
        }
        Ok(answer)
    }

    /// Takes an account's sign-in into the record (see [`AccountList::sign_in`]).
    pub(crate) async fn sign_in(
        &self,
        entry: &str,
        stored: &StoredSession,
        activate: bool,
    ) -> Result<(), AccountError> {
        let Some(binding) = &stored.binding else {
            return Ok(());
        };
        let profile = stored.profile.clone().unwrap_or_default();
        self.update(|list| {
            list.sign_in(entry, &binding.sub, &profile, activate)
                .map(drop)
        })
        .await
    }

    /// Marks the account in `entry` as needing a sign-in in the browser (or not).
    pub(crate) async fn mark(&self, entry: &str, sign_in_again: bool) {
        let marked = self
            .update(|list| {
                list.mark(entry, sign_in_again);
                Ok(())
            })
            .await;
        if let Err(err) = marked {
            tracing::warn!("{err}");
        }
    }

    fn write(&self, list: &AccountList) -> Result<(), AccountError> {
        let Some(path) = &self.path else {
            *lock_unpoisoned(&self.memory) = list.clone();
            return Ok(());
        };
        let fail = |e: std::io::Error| record_error(path, "written", e.to_string());
        if list.accounts.is_empty() {
            return match std::fs::remove_file(path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(fail(e)),
                _ => Ok(()),
            };
        }
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(fail)?;
        }
        let text = serde_json::to_string_pretty(list).expect("the record serializes");
        let temporary = path.with_extension(format!("json.{}.tmp", std::process::id()));
        std::fs::write(&temporary, text).map_err(fail)?;
        std::fs::rename(&temporary, path).map_err(|e| {
            let _ = std::fs::remove_file(&temporary);
            fail(e)
        })
    }
}

fn record_error(path: &Path, action: &'static str, reason: String) -> AccountError {
    AccountError::Record {
        path: path.to_owned(),
        action,
        reason,
    }
}

/// The entry name of `sub`'s account next to `base` (`client@issuer`). The subject is
/// escaped so no name can pass for another's, or for a part of a split entry (`…#1`).
pub(crate) fn entry_name(base: &str, sub: &str) -> String {
    let escaped = sub.replace('%', "%25").replace('#', "%23");
    format!("{base}#sub:{escaped}")
}

/// The session store of `entry`, beside `base`'s (same vault, same lock directory).
pub(crate) fn store_for(base: &SessionStore, entry: &str) -> SessionStore {
    base.for_entry(entry)
}

impl Session {
    /// The accounts kept, in the order they were added, and which is active: from the record,
    /// without the network. The entry an older version kept its one session in is taken over
    /// first, if there is one and nothing else is kept.
    pub async fn accounts(&self) -> Result<AccountList, SessionError> {
        self.take_over_single_entry().await?;
        Ok(self.inner.book.read()?)
    }

    /// Makes the account in `entry` the active one, with tokens renewed from its own refresh
    /// token: no browser. The account signed in before stays as it is until the new one is
    /// ready; when the provider cannot be reached, or no longer honours the account's
    /// session, nothing changes but that account's mark, and the error says which it was.
    pub async fn switch_account(&self, entry: &str) -> Result<Profile, SessionError> {
        let list = self.accounts().await?;
        let account = list.get(entry).cloned().ok_or_else(|| {
            SessionError::Accounts(AccountError::Unknown {
                selector: entry.to_owned(),
                known: list.accounts.iter().map(candidate).collect(),
            })
        })?;
        if self.store().entry_name() == entry
            && let Some(profile) = self.profile()
        {
            self.activate(entry).await?;
            return Ok(profile);
        }
        let target = self.for_account(entry);
        let label = account.label().to_owned();
        match target.restore().await {
            Ok(Restored::SignedIn(_)) => {}
            Ok(Restored::Offline { reason, .. }) => {
                return Err(SessionError::SwitchUnreachable {
                    account: label,
                    reason,
                });
            }
            Ok(Restored::NothingStored) => {
                self.inner.book.mark(entry, true).await;
                return Err(SessionError::AccountSignInRequired { account: label });
            }
            Err(err) if err.ended_the_session() => {
                return Err(SessionError::AccountSignInRequired { account: label });
            }
            Err(err) => return Err(err),
        }
        let _flight = self.inner.refresh_flight.lock().await;
        let taken = std::mem::replace(&mut *lock_unpoisoned(&target.inner.state), State::SignedOut);
        let State::SignedIn(mut tokens) = taken else {
            return Err(SessionError::SignedOut);
        };
        self.activate(entry).await?;
        tokens.generation = self.next_generation();
        let profile = tokens.profile.clone();
        *lock_unpoisoned(&self.inner.store) = target.store();
        *lock_unpoisoned(&self.inner.state) = State::SignedIn(tokens);
        tracing::debug!("switched account");
        Ok(profile)
    }

    /// Signs out of the account in `entry`: its refresh token is revoked and its entry
    /// deleted; the other accounts are untouched. Signing out of the active account makes the
    /// next one in the list active ([`Session::restore`] brings it in).
    pub async fn logout_account(&self, entry: &str) -> LogoutOutcome {
        if self.store().entry_name() == entry && self.inner.pinned.is_none() {
            self.logout().await
        } else {
            self.for_account(entry).logout().await
        }
    }

    /// Signs out of every account kept; returns what signing out of the active one did, with
    /// `revocation_pending` set if any revocation is still waiting.
    pub async fn logout_all(&self) -> LogoutOutcome {
        let others: Vec<String> = match self.accounts().await {
            Ok(list) => list.accounts.into_iter().map(|a| a.entry).collect(),
            Err(err) => {
                tracing::warn!("{err}");
                Vec::new()
            }
        };
        let active = self.store().entry_name().to_owned();
        let mut pending = false;
        for entry in others.iter().filter(|e| **e != active) {
            pending |= self.for_account(entry).logout().await.revocation_pending;
        }
        let mut outcome = self.logout().await;
        outcome.revocation_pending |= pending;
        outcome
    }

    /// Follows a switch, an added account or a sign-out made by another process of this app:
    /// when the record's active account is not this session's, this session changes to it.
    /// `None` when nothing changed.
    pub async fn follow_accounts(&self) -> Option<Result<Restored, SessionError>> {
        if self.inner.pinned.is_some() {
            return None;
        }
        let list = match self.inner.book.read() {
            Ok(list) => list,
            Err(err) => {
                tracing::warn!("{err}");
                return None;
            }
        };
        let mine = self.store().entry_name().to_owned();
        let signed_in = !matches!(*lock_unpoisoned(&self.inner.state), State::SignedOut);
        match list.active.as_deref() {
            Some(active) if active == mine => None,
            Some(active) => {
                if !signed_in {
                    *lock_unpoisoned(&self.inner.store) = store_for(&self.inner.base, active);
                    return Some(self.restore().await);
                }
                Some(self.switch_account(active).await.map(Restored::SignedIn))
            }
            None if signed_in
                || list.get(&mine).is_none() && mine != self.inner.base.entry_name() =>
            {
                self.clear();
                *lock_unpoisoned(&self.inner.store) = self.inner.base.clone();
                Some(Ok(Restored::NothingStored))
            }
            None => None,
        }
    }

    /// Makes `entry` the active account in the record (a pinned session never does).
    async fn activate(&self, entry: &str) -> Result<(), SessionError> {
        if self.inner.pinned.is_some() {
            return Ok(());
        }
        self.inner
            .book
            .update(|list| {
                list.active = Some(entry.to_owned());
                Ok(())
            })
            .await?;
        Ok(())
    }

    /// The entry a sign-in's tokens go to: the account's own when it is kept already (the
    /// old single entry included), else a new one, refused when the list is full. The record
    /// lists it (as the active account, unless this session is pinned) before the vault
    /// holds it, so a crash in between never leaves a token nobody can see.
    pub(crate) async fn account_for_sign_in(
        &self,
        accepted: &Accepted,
    ) -> Result<SessionStore, SessionError> {
        let sub = &accepted.binding.sub;
        let base = &self.inner.base;
        let activate = self.inner.pinned.is_none();
        let profile = accepted.profile.to_cache();
        let entry = self
            .inner
            .book
            .update(|list| {
                let entry = list
                    .accounts
                    .iter()
                    .find(|a| a.sub.as_deref() == Some(sub.as_str()))
                    .map(|a| a.entry.clone())
                    .unwrap_or_else(|| entry_name(base.entry_name(), sub));
                list.sign_in(&entry, sub, &profile, activate)
            })
            .await?;
        Ok(store_for(base, &entry))
    }

    /// The active account's entry, as the record says (this session's own entry when it is
    /// pinned); `None` when no account is kept.
    pub(crate) async fn active_store(&self) -> Result<Option<SessionStore>, SessionError> {
        if self.inner.pinned.is_some() {
            return Ok(Some(self.store()));
        }
        let list = self.accounts().await?;
        Ok(list.active().map(|a| store_for(&self.inner.base, &a.entry)))
    }

    /// The active account's entry held nothing (signed out in another process, or deleted in
    /// the vault's manager): an account marked as needing a sign-in stays listed and another
    /// becomes active, any other leaves the list. Returns the account now active, if it is
    /// another one.
    pub(crate) async fn vacate(&self, entry: &str) -> Result<Option<String>, SessionError> {
        if self.inner.pinned.is_some() {
            return Ok(None);
        }
        let next = self
            .inner
            .book
            .update(|list| {
                match list.get(entry) {
                    Some(account) if account.sign_in_again => {
                        list.active = list
                            .accounts
                            .iter()
                            .find(|a| !a.sign_in_again)
                            .map(|a| a.entry.clone())
                            .or(list.active.clone());
                    }
                    _ => list.remove(entry),
                }
                Ok(list.active.clone())
            })
            .await?;
        Ok(next.filter(|n| n != entry))
    }

    /// On the first start with the record, the entry an older version kept its one session
    /// in becomes the first account, where it is.
    async fn take_over_single_entry(&self) -> Result<(), SessionError> {
        if self.inner.pinned.is_some() || !self.inner.book.read()?.accounts.is_empty() {
            return Ok(());
        }
        let base = &self.inner.base;
        let loaded = base.load().await;
        self.note_vault_result(&loaded);
        let Some(stored) = loaded?.session else {
            return Ok(());
        };
        let entry = base.entry_name().to_owned();
        self.inner
            .book
            .update(|list| {
                if !list.accounts.is_empty() {
                    return Ok(());
                }
                list.accounts.push(Account {
                    entry: entry.clone(),
                    sub: None,
                    name: None,
                    email: None,
                    picture: None,
                    sign_in_again: false,
                });
                if let Some(binding) = &stored.binding {
                    let profile = stored.profile.clone().unwrap_or_default();
                    list.sign_in(&entry, &binding.sub, &profile, true)?;
                }
                list.active = Some(entry.clone());
                Ok(())
            })
            .await?;
        tracing::info!("the stored session is now the first of the accounts kept");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(name: &str, email: &str) -> CachedProfile {
        CachedProfile {
            name: Some(name.into()),
            email: Some(email.into()),
            picture: None,
        }
    }

    #[test]
    fn entries_of_different_subjects_never_collide_with_each_other_or_split_parts() {
        let base = "app@https://idp/";
        let names = [
            entry_name(base, "1"),
            entry_name(base, "x#1"),
            entry_name(base, "x%231"),
            entry_name(base, "x"),
        ];
        for (i, a) in names.iter().enumerate() {
            for b in &names[i + 1..] {
                assert_ne!(a, b);
                assert_ne!(format!("{a}#1"), *b, "a part of {a} is not {b}");
            }
            assert_ne!(
                format!("{base}#1"),
                *a,
                "not a part of the old single entry"
            );
        }
    }

    #[test]
    fn signing_in_adds_activates_and_caps_the_list() {
        let mut list = AccountList::default();
        list.sign_in("e1", "s1", &profile("Work", "w@x"), true)
            .unwrap();
        list.sign_in("e2", "s2", &profile("Home", "h@x"), true)
            .unwrap();
        assert_eq!(list.active().unwrap().entry, "e2");
        list.sign_in("e1", "s1", &profile("Work 2", "w@x"), false)
            .unwrap();
        assert_eq!(
            list.accounts.len(),
            2,
            "a known account is updated, not added"
        );
        assert_eq!(list.get("e1").unwrap().name.as_deref(), Some("Work 2"));
        assert_eq!(list.active().unwrap().entry, "e2", "not activated");
        for n in 3..=MAX_ACCOUNTS {
            list.sign_in(&format!("e{n}"), "s", &profile("P", "p@x"), true)
                .unwrap();
        }
        let err = list
            .sign_in("e-new", "s", &profile("P", "p@x"), true)
            .unwrap_err();
        assert!(err.to_string().contains("sign out of one"), "{err}");
        assert_eq!(list.accounts.len(), MAX_ACCOUNTS);
    }

    #[test]
    fn removing_the_active_account_activates_the_next_one() {
        let mut list = AccountList::default();
        for n in 1..=3 {
            list.sign_in(&format!("e{n}"), "s", &profile("P", "p@x"), false)
                .unwrap();
        }
        list.active = Some("e2".into());
        list.remove("e2");
        assert_eq!(list.active.as_deref(), Some("e3"));
        list.remove("e3");
        assert_eq!(list.active.as_deref(), Some("e1"));
        list.remove("e1");
        assert_eq!(list.active, None);
    }

    #[test]
    fn a_selector_names_one_account_or_says_which_it_could_be() {
        let mut list = AccountList::default();
        list.sign_in("e1", "auth0|1", &profile("Sam", "sam@work.example"), true)
            .unwrap();
        list.sign_in("e2", "auth0|2", &profile("Sam", "sam@home.example"), true)
            .unwrap();
        assert_eq!(list.find("SAM@home.example").unwrap().entry, "e2");
        assert_eq!(list.find("auth0|1").unwrap().entry, "e1");
        let err = list.find("Sam").unwrap_err().to_string();
        assert!(
            err.contains("Sam <sam@work.example>") && err.contains("Sam <sam@home.example>"),
            "{err}"
        );
        let err = list.find("nobody").unwrap_err().to_string();
        assert!(
            err.contains("no account is called") && err.contains("sam@home"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn the_record_is_replaced_whole_and_a_newer_one_is_refused() {
        let dir = std::env::temp_dir().join(format!("latchkey-accounts-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let book = AccountBook::new(Some(&dir), Some(&dir), "App", "app@https://idp/");
        book.update(|list| {
            list.sign_in("e1", "s1", &profile("A", "a@x"), true)
                .map(drop)
        })
        .await
        .unwrap();
        let path = book.path().unwrap().to_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("\"active\": \"e1\""), "{text}");
        let leftovers: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().contains(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "no temporary file is left behind");
        book.update(|list| {
            list.remove("e1");
            Ok(())
        })
        .await
        .unwrap();
        assert!(!path.exists(), "an empty record leaves no file");
        std::fs::write(&path, r#"{"v":9,"accounts":[]}"#).unwrap();
        let err = book.read().unwrap_err().to_string();
        assert!(
            err.contains("newer version") && err.contains("accounts-"),
            "{err}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
