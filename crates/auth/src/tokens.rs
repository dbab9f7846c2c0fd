//! Taking a token endpoint's answer (RFC 6749 §5.1; OpenID Connect Core §3.1.3.7 and §12.2):
//! one path for every grant — the authorization code, the device code (RFC 8628) and refresh.
//!
//! [`Session::check_answer`] looks at the answer itself (a non-empty access token of a sane
//! size, a `Bearer` token type) and at its ID token with the grant's rules: the sign-in's
//! nonce for the code flow, none for the device grant, and for a refresh the identity of the
//! stored session (§12.2). [`Session::keep_answer`] then writes the refresh token to the vault
//! before the tokens are taken into memory, so a rotated token is never only in memory while
//! its access token is in use. The lifetime is bounded where the tokens are adopted
//! ([`crate::refresh::renew_at`]).

use std::sync::Arc;
use std::time::{Duration, Instant};

use latchkey_dpop::ProofKey;

use openidconnect::core::CoreTokenResponse;
use openidconnect::{Nonce, OAuth2TokenResponse, RefreshToken, TokenResponse};

use crate::idtoken::IdTokenProblem;
use crate::profile::{self, Profile};
use crate::provider::Provider;
use crate::session::Session;
use crate::store::{Binding, SessionStore, StoredEntry, StoredSession};

/// The longest access token taken: Keycloak's and Entra ID's reach a few tens of KB.
pub const MAX_ACCESS_TOKEN_LEN: usize = 64 * 1024;

/// Why a token endpoint's answer was refused. The same answer is refused the same way
/// whichever grant it answers.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TokenAnswerError {
    /// The answer's `access_token` is empty.
    #[error("the token answer has an empty access token")]
    EmptyAccessToken,
    /// The answer's `access_token` is larger than [`MAX_ACCESS_TOKEN_LEN`].
    #[error(
        "the token answer's access token is {len} bytes, more than the {MAX_ACCESS_TOKEN_LEN} accepted"
    )]
    AccessTokenTooLarge {
        /// Its length in bytes.
        len: usize,
    },
    /// The answer's `token_type` is neither `Bearer` (RFC 6750) nor, when a DPoP proof was
    /// sent, `DPoP` (RFC 9449).
    #[error("the token answer's token_type is {token_type:?}, not Bearer or DPoP")]
    UnsupportedTokenType {
        /// The `token_type` the provider sent.
        token_type: String,
    },
    /// DPoP was asked for (`"dpop": true`) and the provider issued bearer tokens: a downgrade
    /// that would leave a copied token usable anywhere (allow it with `"dpopAllowBearer"`).
    #[error(
        "the provider issued bearer tokens though DPoP-bound ones were asked for (\"dpop\": true); refused as a downgrade"
    )]
    DpopDowngrade,
    /// The answer has no ID token at all (a plain OAuth 2.0 grant), so nothing says who
    /// signed in; refused rather than signing in an unknown person.
    #[error(
        "the provider returned no ID token for this {grant} sign-in, so it cannot say who signed in; make the provider answer this grant with OpenID Connect (ask for the openid scope; django-oauth-toolkit: an application with OIDC on), or sign in with a browser"
    )]
    NoIdToken {
        /// Which grant answered without one: "browser" or "device".
        grant: &'static str,
    },
    /// The ID token failed validation (signature, issuer, audience, authorized party, expiry,
    /// nonce); the reason says which.
    #[error("the provider's ID token is not valid: {0}")]
    InvalidIdToken(IdTokenProblem),
    /// A refreshed ID token is about another sign-in than the stored one (§12.2).
    #[error("the refreshed ID token is about another sign-in: {0}")]
    IdentityChanged(&'static str),
}

/// The grant a token answer comes from, with what its ID token is checked against.
pub(crate) enum Grant<'a> {
    /// The authorization code flow: the ID token must carry the sign-in's nonce.
    Code { nonce: &'a Nonce },
    /// The device authorization grant (RFC 8628): an ID token without a nonce.
    Device,
    /// A refresh: an ID token, when one comes, must keep the stored identity; without one the
    /// stored identity and profile stay (`shown` is the profile in memory, if any).
    Refresh {
        current: &'a StoredSession,
        shown: Option<Profile>,
    },
}

impl Grant<'_> {
    fn name(&self) -> &'static str {
        match self {
            Self::Code { .. } => "browser",
            Self::Device => "device",
            Self::Refresh { .. } => "refresh",
        }
    }
}

/// Who an accepted answer is about.
pub(crate) struct Accepted {
    pub(crate) binding: Binding,
    pub(crate) profile: Profile,
    /// The time spent asking `/userinfo` (for [`crate::SignInTimings`]).
    pub(crate) userinfo: Duration,
    /// The DPoP key the tokens are bound to, when the provider bound them.
    pub(crate) dpop: Option<Arc<ProofKey>>,
}

impl Session {
    /// Checks a token endpoint's answer with `grant`'s rules; returns who it is about.
    pub(crate) async fn check_answer(
        &self,
        provider: &Provider,
        response: &CoreTokenResponse,
        grant: Grant<'_>,
        dpop: Option<Arc<ProofKey>>,
    ) -> Result<Accepted, TokenAnswerError> {
        let access = response.access_token().secret();
        if access.is_empty() {
            return Err(TokenAnswerError::EmptyAccessToken);
        }
        if access.len() > MAX_ACCESS_TOKEN_LEN {
            return Err(TokenAnswerError::AccessTokenTooLarge { len: access.len() });
        }
        let token_type = response.token_type().as_ref();
        let dpop = match dpop {
            Some(key) if token_type.eq_ignore_ascii_case("dpop") => Some(key),
            None if token_type.eq_ignore_ascii_case("bearer") => None,
            Some(_) if token_type.eq_ignore_ascii_case("bearer") => {
                if self.inner.config.dpop == Some(true) && !self.inner.config.dpop_allow_bearer {
                    return Err(TokenAnswerError::DpopDowngrade);
                }
                tracing::info!("DPoP proofs were sent; the provider issued bearer tokens");
                None
            }
            _ => {
                return Err(TokenAnswerError::UnsupportedTokenType {
                    token_type: token_type.to_owned(),
                });
            }
        };
        let client_id = &self.inner.config.client_id;
        let Some(id_token) = response.id_token() else {
            return match grant {
                Grant::Refresh { current, shown } => {
                    let no_id_token = || TokenAnswerError::InvalidIdToken(IdTokenProblem::Missing);
                    let binding = current.binding.clone().ok_or_else(no_id_token)?;
                    let profile = shown
                        .or_else(|| {
                            current
                                .profile
                                .as_ref()
                                .map(|cached| Profile::from_cache(&binding.sub, cached))
                        })
                        .ok_or_else(no_id_token)?;
                    Ok(Accepted {
                        binding,
                        profile,
                        userinfo: Duration::ZERO,
                        dpop,
                    })
                }
                other => Err(TokenAnswerError::NoIdToken {
                    grant: other.name(),
                }),
            };
        };
        let nonce = match &grant {
            Grant::Code { nonce } => Some(*nonce),
            _ => None,
        };
        let claims = crate::idtoken::verify(provider, &self.inner.http, client_id, id_token, nonce)
            .await
            .map_err(TokenAnswerError::InvalidIdToken)?;
        let binding = match &grant {
            Grant::Refresh {
                current:
                    StoredSession {
                        binding: Some(binding),
                        ..
                    },
                ..
            } => {
                crate::idtoken::check_refreshed(binding, &claims)
                    .map_err(TokenAnswerError::IdentityChanged)?;
                binding.clone()
            }
            // A sign-in, or an entry from before bindings were kept: the ID token binds it.
            _ => Binding::from_claims(&claims, client_id),
        };
        let asking = Instant::now();
        let access = response.access_token();
        let userinfo = match &dpop {
            Some(key) => {
                let http = self.dpop_http(key);
                profile::userinfo(provider, &http, access, &claims).await
            }
            None => profile::userinfo(provider, &self.inner.http, access, &claims).await,
        };
        Ok(Accepted {
            binding,
            profile: Profile::from_claims(&claims, userinfo.as_ref()),
            userinfo: asking.elapsed(),
            dpop,
        })
    }

    /// Keeps an accepted answer: its refresh token (or `current`, from a provider that does
    /// not rotate) goes into `entry` and the vault first, then the tokens into memory. The
    /// caller holds the entry lock; `entry` is `None` when the vault could not be read, and
    /// the session then lives in memory only. Returns whether the vault has it.
    pub(crate) async fn keep_answer(
        &self,
        response: &CoreTokenResponse,
        accepted: Accepted,
        current: Option<RefreshToken>,
        entry: Option<(&SessionStore, &mut StoredEntry)>,
    ) -> bool {
        let refresh = response.refresh_token().cloned().or(current);
        let persisted = match (entry, &refresh) {
            (Some((store, entry)), Some(token)) => {
                self.persist(store, entry, token, &accepted).await
            }
            _ => false,
        };
        self.adopt(response, refresh, accepted, persisted);
        persisted
    }
}
