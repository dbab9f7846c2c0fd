//! Why the session cannot produce what was asked, and token endpoint errors in words.

use openidconnect::RequestTokenError;

use crate::lock::LockError;
use crate::provider::{DiscoveryError, error_chain};
use crate::vault::VaultError;

/// Why the session cannot produce what was asked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// Nobody is signed in.
    #[error("you are not signed in")]
    SignedOut,
    /// Another Latchkey process (the app, the CLI) signed out of this session.
    #[error("you signed out in another Latchkey window or terminal")]
    SignedOutElsewhere,
    /// The provider ended the session (`invalid_grant`); the stored token was deleted.
    #[error("your session has ended; sign in again")]
    Expired,
    /// The provider could not be reached; the stored session is kept for later.
    #[error("cannot reach the sign-in provider ({0}); your session is kept, try again when online")]
    Offline(String),
    /// The provider answered with a server error; the stored session is kept.
    #[error("the sign-in provider is having problems ({0}); your session is kept, try again later")]
    ProviderUnavailable(String),
    /// The provider refused the refresh for another reason.
    #[error("the sign-in provider refused to renew the session: {0}")]
    Provider(String),
    /// A refreshed ID token failed validation.
    #[error("the provider's ID token is not valid: {0}")]
    InvalidIdToken(String),
    /// A refreshed ID token is about another sign-in than the stored one (OpenID Connect
    /// Core §12.2); the session was ended and nothing of the other identity kept.
    #[error(
        "the provider's renewed sign-in does not match yours ({0}); you were signed out to be safe, sign in again"
    )]
    IdentityChanged(String),
    /// Another process held the session's lock too long.
    #[error(transparent)]
    Busy(#[from] LockError),
    #[error(transparent)]
    Discovery(#[from] DiscoveryError),
    #[error(transparent)]
    Vault(#[from] VaultError),
}

impl SessionError {
    /// Whether the provider could not be reached or failed on its side: the session is kept
    /// and a later attempt may succeed.
    pub fn is_offline(&self) -> bool {
        matches!(self, Self::Offline(_) | Self::ProviderUnavailable(_))
    }
}

/// A token endpoint error in words, without the response body (it may echo a token).
pub(crate) fn describe_token_error<
    RE: std::error::Error + 'static,
    T: openidconnect::ErrorResponse + 'static,
>(
    err: &RequestTokenError<RE, T>,
) -> String {
    match err {
        RequestTokenError::ServerResponse(response) => response.to_string(),
        RequestTokenError::Request(e) => error_chain(e),
        RequestTokenError::Parse(e, _) => {
            format!("unreadable answer from the token endpoint ({e})")
        }
        RequestTokenError::Other(e) => e.clone(),
    }
}
