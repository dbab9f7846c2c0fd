//! Who is signed in: the profile from the ID token's claims, or from `/userinfo` when the ID
//! token carries none (OpenID Connect Core §5.3), or from the vault's cache when offline.

use openidconnect::core::{CoreIdTokenClaims, CoreUserInfoClaims};
use openidconnect::{AccessToken, SubjectIdentifier};
use serde::Serialize;

use crate::provider::Provider;
use crate::store::CachedProfile;

/// Who is signed in, as the ID token says. Holds no token.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Profile {
    /// The provider's subject identifier for the person (`sub`).
    pub sub: String,
    /// The full name (`name`), if the provider gave one.
    pub name: Option<String>,
    /// The nickname or username (`nickname`), if given.
    pub nickname: Option<String>,
    /// The email address (`email`), if given.
    pub email: Option<String>,
    /// The URL of the person's picture (`picture`), if given.
    pub picture: Option<String>,
    /// The validated ID token claims, for display (offline: the cached profile).
    pub claims: serde_json::Value,
}

impl Profile {
    pub(crate) fn from_claims(
        claims: &CoreIdTokenClaims,
        userinfo: Option<&UserinfoProfile>,
    ) -> Self {
        let userinfo = userinfo.cloned().unwrap_or_default();
        Self {
            sub: claims.subject().to_string(),
            name: claims
                .name()
                .and_then(|c| c.get(None))
                .map(|v| v.to_string())
                .or(userinfo.name)
                .or_else(|| claims.preferred_username().map(|u| u.to_string())),
            nickname: claims
                .nickname()
                .and_then(|c| c.get(None))
                .map(|v| v.to_string())
                .or(userinfo.nickname),
            email: claims.email().map(|e| e.to_string()).or(userinfo.email),
            picture: claims
                .picture()
                .and_then(|c| c.get(None))
                .map(|v| v.to_string())
                .or(userinfo.picture),
            claims: serde_json::to_value(claims).unwrap_or_default(),
        }
    }

    /// The profile an offline start shows: what the vault remembers of `sub`.
    pub(crate) fn from_cache(sub: &str, cached: &CachedProfile) -> Self {
        Self {
            sub: sub.to_owned(),
            name: cached.name.clone(),
            nickname: None,
            email: cached.email.clone(),
            picture: cached.picture.clone(),
            claims: serde_json::json!({
                "sub": sub,
                "name": cached.name,
                "email": cached.email,
                "picture": cached.picture,
            }),
        }
    }

    /// The non-secret part kept in the vault for offline starts.
    pub(crate) fn to_cache(&self) -> CachedProfile {
        CachedProfile {
            name: self.name.clone().or_else(|| self.nickname.clone()),
            email: self.email.clone(),
            picture: self.picture.clone(),
        }
    }

    /// The best name to greet the person with: the name (or `preferred_username`), the
    /// nickname, the email, else [`Profile::NO_NAME`] — never the bare `sub`, which reads as a
    /// name ("Signed in as 1") at providers that send only that.
    pub fn display_name(&self) -> &str {
        self.given_name().unwrap_or(Self::NO_NAME)
    }

    /// A name or email the provider gave, if any.
    pub fn given_name(&self) -> Option<&str> {
        self.name
            .as_deref()
            .or(self.nickname.as_deref())
            .or(self.email.as_deref())
    }

    /// What stands for the name when the provider gave none.
    pub const NO_NAME: &'static str = "(no name from the provider)";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_profile_with_only_a_subject_says_no_name_was_given() {
        let bare = Profile::from_cache(
            "1",
            &CachedProfile {
                name: None,
                email: None,
                picture: None,
            },
        );
        assert_eq!(bare.display_name(), "(no name from the provider)");
        assert_eq!(bare.given_name(), None);
        let with_email = Profile {
            email: Some("a@example.com".into()),
            ..bare
        };
        assert_eq!(with_email.display_name(), "a@example.com");
    }
}

/// Profile claims from `/userinfo`, for an ID token that carries none; taken only when its
/// `sub` is the ID token's (§5.3.2).
#[derive(Clone, Debug, Default)]
pub(crate) struct UserinfoProfile {
    name: Option<String>,
    nickname: Option<String>,
    email: Option<String>,
    picture: Option<String>,
}

/// Asks `/userinfo` for the profile when the ID token has none of its own; an answer about
/// another `sub` (or none at all) is discarded.
pub(crate) async fn userinfo<C>(
    provider: &Provider,
    http: &C,
    access_token: &AccessToken,
    claims: &CoreIdTokenClaims,
) -> Option<UserinfoProfile>
where
    C: for<'c> openidconnect::AsyncHttpClient<'c, Error = latchkey_http::HttpError>,
{
    let has_profile = claims.name().is_some() || claims.email().is_some();
    if has_profile {
        return None;
    }
    let expected: SubjectIdentifier = claims.subject().clone();
    let request = provider
        .client
        .user_info(access_token.clone(), Some(expected))
        .ok()?;
    let answer: CoreUserInfoClaims = match request.request_async(http).await {
        Ok(answer) => answer,
        Err(err) => {
            // The crate compares `sub` with the ID token's: a mismatch lands here too.
            tracing::warn!("ignored the provider's userinfo answer: {err}");
            return None;
        }
    };
    Some(UserinfoProfile {
        name: answer
            .name()
            .and_then(|c| c.get(None))
            .map(|v| v.to_string()),
        nickname: answer
            .nickname()
            .and_then(|c| c.get(None))
            .map(|v| v.to_string()),
        email: answer.email().map(|e| e.to_string()),
        picture: answer
            .picture()
            .and_then(|c| c.get(None))
            .map(|v| v.to_string()),
    })
}
