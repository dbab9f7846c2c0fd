//! Why the session cannot produce what was asked.

use openidconnect::RequestTokenError;

use crate::accounts::AccountError;
use crate::lock::LockError;
use crate::provider::DiscoveryError;
use crate::tokens::TokenAnswerError;
use crate::vault::VaultError;

/// Why the session cannot produce what was asked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// Nobody is signed in.
    #[error("you are not signed in")]
    SignedOut,
    /// Another Latchkey process (the app, the CLI) signed out of this session.
    #[error(
        "you signed out in another window of this app or in its command-line tool; sign in again here"
    )]
    SignedOutElsewhere,
    /// The provider ended the session (`invalid_grant`: revoked, expired, or its refresh token
    /// reused elsewhere); the stored token was deleted.
    #[error("your provider ended the session (it was revoked or has expired); sign in again")]
    Expired,
    /// The provider refuses to renew the session until the person signs in again in the
    /// browser (OpenID Connect Core §3.1.2.6 errors, which some providers also send from
    /// the token endpoint); the stored token was deleted.
    #[error("{0}")]
    SignInRequired(SignInRequired),
    /// The provider could not be reached; the stored session is kept for later.
    #[error("cannot reach the sign-in provider ({0}); your session is kept, try again when online")]
    Offline(ProviderError),
    /// The provider answered with a server error; the stored session is kept.
    #[error("the sign-in provider is having problems ({0}); your session is kept, try again later")]
    ProviderUnavailable(ProviderError),
    /// The provider refused the refresh for another reason.
    #[error("the sign-in provider refused to renew the session: {0}")]
    Provider(ProviderError),
    /// The provider's answer to the refresh was refused (an empty access token, an ID token
    /// that fails validation); the stored session is kept.
    #[error(transparent)]
    Answer(TokenAnswerError),
    /// A refreshed ID token is about another sign-in than the stored one (OpenID Connect
    /// Core §12.2); the session was ended and nothing of the other identity kept.
    #[error(
        "your provider now answers for another person ({reason}); you were signed out to be safe, sign in again"
    )]
    IdentityChanged {
        /// Which part of the identity changed (OpenID Connect Core §12.2).
        reason: &'static str,
    },
    /// Another process held the session's lock too long.
    #[error(transparent)]
    Busy(#[from] LockError),
    #[error(transparent)]
    /// The provider's configuration could not be read or used.
    Discovery(#[from] DiscoveryError),
    #[error(transparent)]
    /// The credential vault failed.
    Vault(#[from] VaultError),
    /// An account could not be found, added, or the list of accounts read.
    #[error(transparent)]
    Accounts(#[from] AccountError),
    /// The provider could not be reached to renew the account switched to; the account that
    /// was active stays active.
    #[error(
        "{reason}, so you are still on the account you were using; {account} is kept for later"
    )]
    SwitchUnreachable {
        /// The account switched to, as a person calls it.
        account: String,
        /// What could not be reached.
        reason: String,
    },
    /// The account switched to needs a sign-in in the browser (its refresh token was
    /// refused); the other accounts are untouched.
    #[error(
        "{account} needs a new sign-in in the browser (the provider no longer honours its session); your other accounts are unaffected"
    )]
    AccountSignInRequired {
        /// The account, as a person calls it.
        account: String,
    },
    /// Another account became active while a call was on its way; it was not retried with
    /// the other account's token.
    #[error(
        "the account was switched while this call was on its way; it was not sent again as the other account"
    )]
    AccountSwitched,
}

/// A request to the provider that got no usable answer: a sentence for a person, and the
/// error itself as [`std::error::Error::source`] (the transport error, the HTTP status, the
/// unreadable answer, or the provider's OAuth error).
#[derive(Debug, thiserror::Error)]
#[error("{description}")]
pub struct ProviderError {
    description: String,
    oauth_error: Option<String>,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl ProviderError {
    /// A token or device endpoint request that failed.
    pub(crate) fn request<RE, T>(err: RequestTokenError<RE, T>) -> Self
    where
        RE: std::error::Error + Send + Sync + 'static,
        T: openidconnect::ErrorResponse + Send + Sync + 'static,
    {
        let description = latchkey_http::describe_token_error(&err);
        let (oauth_error, source): (_, Box<dyn std::error::Error + Send + Sync>) = match err {
            RequestTokenError::ServerResponse(response) => (
                serde_json::to_value(&response)
                    .ok()
                    .and_then(|v| v["error"].as_str().map(str::to_owned)),
                Box::new(RequestTokenError::<RE, T>::ServerResponse(response)),
            ),
            // The answer's bytes stay behind: they may hold a token, and the source (and its
            // Debug) outlives this call. The parse error names the field that was wrong.
            RequestTokenError::Parse(parse, _body) => (None, Box::new(parse)),
            other => (None, Box::new(other)),
        };
        Self {
            description,
            oauth_error,
            source: Some(source),
        }
    }

    /// Discovery (or the keys it names) that failed.
    pub(crate) fn discovery(err: DiscoveryError) -> Self {
        let description = match &err {
            DiscoveryError::Fetch { detail, .. } => detail.clone(),
            other => other.to_string(),
        };
        Self {
            description,
            oauth_error: None,
            source: Some(Box::new(err)),
        }
    }

    /// A request that could not be made at all (a URL that is not one).
    pub(crate) fn unusable(err: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self {
            description: err.to_string(),
            oauth_error: None,
            source: Some(Box::new(err)),
        }
    }

    /// The provider's OAuth error code (RFC 6749 §5.2: `invalid_grant`, `invalid_scope`, …),
    /// when it answered with one.
    pub fn oauth_error(&self) -> Option<&str> {
        self.oauth_error.as_deref()
    }
}

/// Why a provider asks for a new sign-in in the browser (OpenID Connect Core §3.1.2.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignInRequired {
    /// `login_required`: the provider wants the person to authenticate again.
    #[error("your provider asks you to sign in again (login_required)")]
    Login,
    /// `interaction_required`: a step only the person can take (a new factor, accepting terms).
    #[error(
        "your provider needs you to sign in again and complete a step it asks for (interaction_required)"
    )]
    Interaction,
    /// `consent_required`: the person must approve the app's access again.
    #[error(
        "your provider needs you to sign in again and approve this app's access (consent_required)"
    )]
    Consent,
}

impl SignInRequired {
    /// The error code's meaning, when `code` is one of the three.
    pub fn from_code(code: &str) -> Option<Self> {
        match code {
            "login_required" => Some(Self::Login),
            "interaction_required" => Some(Self::Interaction),
            "consent_required" => Some(Self::Consent),
            _ => None,
        }
    }
}

impl SessionError {
    /// Whether this ended the session, so the person must sign in again: the sentence is the
    /// reason the signed-out view and the CLI give.
    pub fn ended_the_session(&self) -> bool {
        matches!(
            self,
            Self::SignedOutElsewhere
                | Self::Expired
                | Self::SignInRequired(_)
                | Self::IdentityChanged { .. }
        )
    }

    /// Whether the provider could not be reached or failed on its side: the session is kept
    /// and a later attempt may succeed.
    pub fn is_offline(&self) -> bool {
        matches!(self, Self::Offline(_) | Self::ProviderUnavailable(_))
    }
}
