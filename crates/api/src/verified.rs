//! Access tokens this API has already verified, remembered until they expire (the technique
//! of fast-jwt's cache): a client sends the same token with every call for minutes, and an
//! RS256 signature check costs far more than the request it guards.
//!
//! The rules a security review asks for: an entry is keyed by the whole token, so no other
//! token can hit it; it is used only before the token's `exp` (no leeway); a failed check is
//! never remembered; the number of entries is capped, so a flood of distinct tokens cannot
//! grow it; and everything is forgotten when the issuer's keys are fetched again.
//!
//! The map hashes with foldhash (randomly seeded per process) rather than SipHash: a key is a
//! whole token of about a kilobyte, hashed on every call, and only tokens that passed the
//! signature check are ever inserted, so nobody can choose keys to collide.

use std::collections::HashMap;
use std::sync::{PoisonError, RwLock};

use foldhash::fast::RandomState;

use crate::auth::Claims;

/// Entries at most; a full cache first drops what expired, then starts over.
pub const CAPACITY: usize = 4096;

pub(crate) struct VerifiedTokens {
    entries: RwLock<HashMap<Box<str>, Claims, RandomState>>,
    capacity: usize,
}

impl VerifiedTokens {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            entries: RwLock::new(HashMap::default()),
            capacity,
        }
    }

    /// The claims of `token` if it was verified and `now` (Unix seconds) is before its `exp`.
    pub(crate) fn get(&self, token: &str, now: u64) -> Option<Claims> {
        let entries = self.entries.read().unwrap_or_else(PoisonError::into_inner);
        entries.get(token).filter(|c| now < c.exp).cloned()
    }

    /// Remembers the claims of a token that passed every check.
    pub(crate) fn insert(&self, token: &str, claims: &Claims, now: u64) {
        if claims.exp <= now || self.capacity == 0 {
            return;
        }
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= self.capacity {
            entries.retain(|_, c| now < c.exp);
            if entries.len() >= self.capacity {
                entries.clear();
            }
        }
        entries.insert(token.into(), claims.clone());
    }

    pub(crate) fn clear(&self) {
        self.entries
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    pub(crate) fn len(&self) -> usize {
        self.entries
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: u64) -> Claims {
        serde_json::from_value(serde_json::json!({"sub": "dev-idp|jemma", "exp": exp})).unwrap()
    }

    #[test]
    fn an_entry_serves_only_its_own_token_and_only_before_exp() {
        let cache = VerifiedTokens::new(8);
        cache.insert("token-a", &claims(100), 50);
        assert_eq!(cache.get("token-a", 99).unwrap().sub, "dev-idp|jemma");
        assert!(cache.get("token-a", 100).is_none(), "not at exp");
        assert!(cache.get("token-a", 500).is_none(), "not after exp");
        assert!(cache.get("token-b", 60).is_none());
        assert!(
            cache.get("token-", 60).is_none(),
            "a prefix is another token"
        );
    }

    #[test]
    fn an_expired_token_is_not_remembered() {
        let cache = VerifiedTokens::new(8);
        cache.insert("old", &claims(10), 10);
        assert_eq!(cache.len(), 0);
    }

    #[test]
    fn a_flood_of_distinct_tokens_cannot_grow_it_past_its_capacity() {
        let cache = VerifiedTokens::new(16);
        for i in 0..1000 {
            cache.insert(&format!("token-{i}"), &claims(1_000), 1);
            assert!(cache.len() <= 16);
        }
        assert!(cache.get("token-999", 2).is_some(), "the newest is kept");
    }

    #[test]
    fn a_full_cache_drops_what_expired_first() {
        let cache = VerifiedTokens::new(4);
        cache.insert("short-1", &claims(20), 1);
        cache.insert("short-2", &claims(20), 1);
        cache.insert("long-1", &claims(1_000), 1);
        cache.insert("long-2", &claims(1_000), 1);
        cache.insert("new", &claims(1_000), 30);
        assert_eq!(cache.len(), 3);
        assert!(cache.get("long-1", 31).is_some());
        assert!(cache.get("new", 31).is_some());
    }
}
