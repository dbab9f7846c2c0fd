//! The grants behind the token endpoint: authorization codes, refresh token families with
//! rotation and reuse detection, revoked families.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use crate::{Provider, prune};

/// What an authorization code stands for until it is redeemed.
pub(crate) struct CodeGrant {
    pub client_id: String,
    pub redirect_uri: String,
    pub code_challenge: String,
    pub nonce: Option<String>,
    pub scope: String,
    pub audience: Option<String>,
    pub sub: String,
    pub auth_time: i64,
    pub created: Instant,
}

pub(crate) struct RefreshRecord {
    pub(crate) family: String,
    pub(crate) client_id: String,
    pub(crate) sub: String,
    pub(crate) scope: String,
    pub(crate) audience: Option<String>,
    /// When the person authenticated: every ID token of the family repeats it (OIDC §12.2).
    pub(crate) auth_time: i64,
    /// Set once the token has been exchanged; a second use is a replay.
    pub(crate) used: bool,
    /// The DPoP key the token is bound to (RFC 9449 §5: a public client's refresh tokens
    /// are): a refresh must prove it.
    pub(crate) jkt: Option<String>,
}

#[derive(Default)]
pub(crate) struct GrantState {
    pub(crate) codes: HashMap<String, CodeGrant>,
    /// Codes already redeemed, with the family they started: a replay revokes it.
    pub(crate) redeemed_codes: HashMap<String, Option<String>>,
    pub(crate) refresh: HashMap<String, RefreshRecord>,
    pub(crate) revoked_families: std::collections::HashSet<String>,
    /// The latest refresh tokens issued, revoked or not, for tests that prove none reached a
    /// place it must not (at most [`ISSUED_KEPT`]).
    pub(crate) issued: std::collections::VecDeque<String>,
}

/// How many issued refresh tokens [`GrantState::issued`] keeps.
const ISSUED_KEPT: usize = 4096;

#[derive(Default)]
pub(crate) struct Grants(pub(crate) Mutex<GrantState>);

impl Grants {
    pub(crate) fn issue_code(&self, grant: CodeGrant) -> String {
        let code = crate::random_token(24);
        let mut state = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        prune(&mut state.codes, |g| g.created.elapsed().as_secs() < 600);
        state.codes.insert(code.clone(), grant);
        code
    }

    pub(crate) fn is_active(&self, refresh_token: &str) -> bool {
        let state = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        state
            .refresh
            .get(refresh_token)
            .is_some_and(|r| !r.used && !state.revoked_families.contains(&r.family))
    }

    pub(crate) fn issued_refresh_tokens(&self) -> Vec<String> {
        let state = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        state.issued.iter().cloned().collect()
    }

    pub(crate) fn active_count(&self) -> usize {
        let state = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        state
            .refresh
            .values()
            .filter(|r| !r.used && !state.revoked_families.contains(&r.family))
            .count()
    }

    pub(crate) fn new_refresh(
        state: &mut GrantState,
        record: RefreshRecord,
        bytes: usize,
    ) -> String {
        let token = crate::random_token(bytes.clamp(16, 8192));
        state.refresh.insert(token.clone(), record);
        if state.issued.len() == ISSUED_KEPT {
            state.issued.pop_front();
        }
        state.issued.push_back(token.clone());
        token
    }

    pub(crate) fn revoke_family(state: &mut GrantState, family: &str) {
        state.revoked_families.insert(family.to_owned());
        state.refresh.retain(|_, r| r.family != family);
    }
}

impl Provider {
    pub(crate) fn grant_state(&self) -> std::sync::MutexGuard<'_, GrantState> {
        self.grants.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
