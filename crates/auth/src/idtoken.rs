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

/// Validates `id_token`: signature by the provider's JWKS, algorithm, `iss`, `aud`, `azp`,
/// `exp`, `iat` and — for a fresh login — `nonce`. An unknown `kid` refetches the JWKS once.
pub(crate) async fn verify(
    provider: &Provider,
    http: &reqwest::Client,
    client_id: &str,
    id_token: &CoreIdToken,
    nonce: Option<&Nonce>,
) -> Result<CoreIdTokenClaims, String> {
    match verify_with_current_keys(provider, client_id, id_token, nonce) {
        Err(ClaimsVerificationError::SignatureVerification(
            SignatureVerificationError::NoMatchingKey,
        )) if provider.refetch_jwks(http).await => {
            verify_with_current_keys(provider, client_id, id_token, nonce)
        }
        other => other,
    }
    .map_err(|err| crate::provider::error_chain(&err))
}

fn verify_with_current_keys(
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
