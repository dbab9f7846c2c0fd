//! ID token validation (OpenID Connect Core §3.1.3.7) with openidconnect, plus the JWKS
//! refetch on an unknown `kid`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use openidconnect::core::{
    CoreIdToken, CoreIdTokenClaims, CoreIdTokenVerifier, CoreJwsSigningAlgorithm,
};
use openidconnect::{
    ClaimsVerificationError, ClientId, IssuerUrl, Nonce, SignatureVerificationError,
};

use crate::provider::Provider;

/// Tolerated clock difference for `exp` and `iat`.
pub const CLOCK_SKEW: Duration = Duration::from_secs(60);

/// Asymmetric algorithms only: a public client has no secret, so HS* (and `none`) are refused.
const ALLOWED_ALGS: [CoreJwsSigningAlgorithm; 9] = [
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
    CoreJwsSigningAlgorithm::RsaSsaPssSha256,
    CoreJwsSigningAlgorithm::RsaSsaPssSha384,
    CoreJwsSigningAlgorithm::RsaSsaPssSha512,
    CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    CoreJwsSigningAlgorithm::EcdsaP384Sha384,
    CoreJwsSigningAlgorithm::EdDsa,
];

/// Why an ID token was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IdTokenProblem {
    /// Its signature, algorithm, issuer, audience, lifetime or nonce failed the checks of
    /// OpenID Connect Core §3.1.3.7 (openidconnect's verifier).
    #[error("{}", latchkey_http::error_chain(.0))]
    Claims(#[source] ClaimsVerificationError),
    /// Its authorized party (`azp`) is another client (§3.1.3.7 rule 5).
    #[error("its authorized party (azp) is {azp:?}, not this app's client id {client_id:?}")]
    OtherAuthorizedParty {
        /// The `azp` it names.
        azp: String,
        /// This app's client id.
        client_id: String,
    },
    /// It has several audiences and no `azp` naming this app (§3.1.3.7 rule 4).
    #[error("it has several audiences but no authorized party (azp) claim naming this app")]
    NoAuthorizedParty,
    /// A refresh answer without one, for a stored session with no identity to keep.
    #[error("the provider returned no ID token")]
    Missing,
}

/// Validates `id_token`: signature by the provider's JWKS, algorithm, `iss`, `aud`, `azp`,
/// `exp`, `iat` and — for a fresh login — `nonce`. An unknown `kid` refetches the JWKS once.
pub(crate) async fn verify(
    provider: &Provider,
    http: &latchkey_http::ProviderHttp,
    client_id: &str,
    id_token: &CoreIdToken,
    nonce: Option<&Nonce>,
) -> Result<CoreIdTokenClaims, IdTokenProblem> {
    let claims = match verify_with_current_keys(provider, client_id, id_token, nonce) {
        Err(ClaimsVerificationError::SignatureVerification(
            SignatureVerificationError::NoMatchingKey,
        )) if provider.refetch_jwks(http).await => {
            verify_with_current_keys(provider, client_id, id_token, nonce)
        }
        other => other,
    }
    .map_err(IdTokenProblem::Claims)?;
    check_authorized_party(&claims, client_id)?;
    Ok(claims)
}

/// OpenID Connect Core §3.1.3.7 rules 4–5, which openidconnect leaves to the caller: an ID
/// token for several audiences must name its authorized party (`azp`), and an `azp` must be
/// this client.
pub(crate) fn check_authorized_party(
    claims: &CoreIdTokenClaims,
    client_id: &str,
) -> Result<(), IdTokenProblem> {
    match claims.authorized_party() {
        Some(azp) if azp.as_str() != client_id => Err(IdTokenProblem::OtherAuthorizedParty {
            azp: azp.as_str().to_owned(),
            client_id: client_id.to_owned(),
        }),
        None if claims.audiences().len() > 1 => Err(IdTokenProblem::NoAuthorizedParty),
        _ => Ok(()),
    }
}

pub(crate) fn verify_with_current_keys(
    provider: &Provider,
    client_id: &str,
    id_token: &CoreIdToken,
    nonce: Option<&Nonce>,
) -> Result<CoreIdTokenClaims, ClaimsVerificationError> {
    let issuer: IssuerUrl = provider.metadata.issuer().clone();
    let verifier = CoreIdTokenVerifier::new_public_client(
        ClientId::new(client_id.to_owned()),
        issuer,
        provider.jwks(),
    )
    .set_allowed_algs(ALLOWED_ALGS)
    .set_time_fn(|| Utc::now() - CLOCK_SKEW)
    .set_issue_time_verifier_fn(|iat: DateTime<Utc>| {
        if iat > Utc::now() + CLOCK_SKEW {
            Err("the token was issued in the future".to_owned())
        } else {
            Ok(())
        }
    });
    match nonce {
        Some(nonce) => id_token.claims(&verifier, nonce).cloned(),
        // A refreshed ID token carries no nonce of ours (OpenID Connect Core §12.2).
        None => id_token
            .claims(&verifier, |_: Option<&Nonce>| Ok(()))
            .cloned(),
    }
}

/// OpenID Connect Core §12.2: a refreshed ID token describes the sign-in it renews. Returns
/// which claim differs from the stored `binding` (never the claim's value: it may name
/// another person).
pub(crate) fn check_refreshed(
    binding: &crate::store::Binding,
    claims: &CoreIdTokenClaims,
) -> Result<(), &'static str> {
    if claims.issuer().as_str() != binding.issuer {
        return Err("another issuer");
    }
    if claims.subject().as_str() != binding.sub {
        return Err("another user");
    }
    let mut audiences: Vec<&str> = claims.audiences().iter().map(|a| a.as_str()).collect();
    let mut bound: Vec<&str> = binding.audiences.iter().map(String::as_str).collect();
    audiences.sort_unstable();
    bound.sort_unstable();
    if audiences != bound {
        return Err("another audience");
    }
    if claims
        .authorized_party()
        .is_some_and(|azp| azp.as_str() != binding.client_id)
    {
        return Err("another authorized party");
    }
    // auth_time must be the original authentication's; compared when both are known.
    if let (Some(now), Some(then)) = (claims.auth_time(), binding.auth_time)
        && now.timestamp() != then
    {
        return Err("another authentication time");
    }
    if let Some(nonce) = claims.nonce()
        && binding.nonce.as_deref() != Some(nonce.secret().as_str())
    {
        return Err("a nonce that is not the sign-in's");
    }
    Ok(())
}
