//! Access token validation: RS256 against the issuer's JWKS, as an axum extractor.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use tokio::sync::{Mutex, RwLock};

use latchkey_http::ProviderHttp;

use crate::AppState;
use crate::error::ApiError;
use crate::verified::{self, VerifiedTokens};

/// An unknown `kid` may refetch the JWKS at most this often, so forged tokens cannot
/// make the API hammer the issuer.
const REFETCH_INTERVAL: Duration = Duration::from_secs(30);
/// Tolerated clock difference for `exp` and `nbf`.
const LEEWAY_SECS: u64 = 30;

/// The verified claims of the caller's access token: what this API reads of it, and no more.
/// One shared allocation: the verified-token cache ([`crate::verified`]) hands the same claims
/// to every call that carries the token, at the cost of a reference count.
#[derive(Clone, Debug, Deserialize)]
#[serde(from = "TokenClaims")]
pub struct Claims(Arc<ClaimSet>);

/// The fields of [`Claims`].
#[derive(Debug)]
pub struct ClaimSet {
    pub sub: String,
    /// Expiry, Unix seconds (required: a token without one is refused).
    pub exp: u64,
    pub scope: String,
    pub permissions: Vec<String>,
    /// Roles from a namespaced `…/roles` claim (an Auth0 Action adds one), sorted.
    pub roles: Vec<String>,
    /// The thumbprint of the key a DPoP-bound token is bound to (`cnf.jkt`, RFC 9449 §6).
    pub jkt: Option<String>,
}

/// The claims as the token carries them, namespaced ones included.
#[derive(Deserialize)]
struct TokenClaims {
    sub: String,
    exp: u64,
    #[serde(default)]
    scope: String,
    #[serde(default)]
    permissions: Vec<String>,
    #[serde(default)]
    cnf: Option<Confirmation>,
    #[serde(flatten)]
    other: HashMap<String, serde_json::Value>,
}

/// The confirmation claim (RFC 7800) a DPoP-bound token carries.
#[derive(Deserialize)]
struct Confirmation {
    #[serde(default)]
    jkt: Option<String>,
}

impl From<TokenClaims> for Claims {
    fn from(token: TokenClaims) -> Self {
        let mut roles: Vec<String> = token
            .other
            .iter()
            .filter(|(name, _)| name.ends_with("/roles"))
            .filter_map(|(_, value)| value.as_array())
            .flatten()
            .filter_map(|role| role.as_str().map(str::to_owned))
            .collect();
        roles.sort();
        roles.dedup();
        Self(Arc::new(ClaimSet {
            sub: token.sub,
            exp: token.exp,
            scope: token.scope,
            permissions: token.permissions,
            roles,
            jkt: token.cnf.and_then(|c| c.jkt),
        }))
    }
}

impl std::ops::Deref for Claims {
    type Target = ClaimSet;

    fn deref(&self) -> &ClaimSet {
        &self.0
    }
}

impl Claims {
    pub fn require(&self, permission: &'static str) -> Result<(), ApiError> {
        if self.permissions.iter().any(|p| p == permission) {
            Ok(())
        } else {
            Err(ApiError::InsufficientScope(permission))
        }
    }
}

/// Validates tokens for one issuer and audience; keys are parsed once per `kid`.
pub struct TokenValidator {
    issuer: String,
    audience: String,
    http: ProviderHttp,
    keys: RwLock<HashMap<String, Arc<DecodingKey>>>,
    last_fetch: Mutex<Option<Instant>>,
    /// How soon after a fetch an unknown `kid` may fetch the keys again.
    refetch_interval: Duration,
    /// Tokens that passed every check, until their `exp` (see [`crate::verified`]).
    verified: VerifiedTokens,
}

impl TokenValidator {
    pub fn new(issuer: &str, audience: &str) -> Self {
        Self {
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            http: ProviderHttp::default(),
            keys: RwLock::new(HashMap::new()),
            last_fetch: Mutex::new(None),
            refetch_interval: REFETCH_INTERVAL,
            verified: VerifiedTokens::new(verified::CAPACITY),
        }
    }

    /// Lets an unknown `kid` fetch the issuer's keys again this soon after the last fetch
    /// (30 s by default): shorter picks up a rotated key sooner, at the price of more fetches
    /// that forged tokens can cause.
    pub fn refetch_interval(self, interval: Duration) -> Self {
        Self {
            refetch_interval: interval,
            ..self
        }
    }

    /// A validator that trusts `set` and fetches no keys (the fuzz target's, a test's).
    pub fn with_keys(issuer: &str, audience: &str, set: &JwkSet) -> Self {
        let validator = Self::new(issuer, audience);
        let keys = decoding_keys(set);
        Self {
            keys: RwLock::new(keys),
            // A "last fetch" far ahead: an unknown kid is refused without a fetch.
            last_fetch: Mutex::new(Some(Instant::now() + REFETCH_INTERVAL * 1000)),
            ..validator
        }
    }

    pub async fn validate(&self, token: &str) -> Result<Claims, ApiError> {
        let now = unix_now();
        if let Some(claims) = self.verified.get(token, now) {
            return Ok(claims);
        }
        let claims = self.verify(token).await?;
        self.verified.insert(token, &claims, now);
        Ok(claims)
    }

    /// How many verified tokens are remembered now (for tests).
    pub fn remembered_tokens(&self) -> usize {
        self.verified.len()
    }

    /// The whole check: header, key, signature, issuer, audience, lifetime.
    async fn verify(&self, token: &str) -> Result<Claims, ApiError> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| ApiError::InvalidToken("malformed token".into()))?;
        if header.alg != Algorithm::RS256 {
            return Err(ApiError::InvalidToken(format!(
                "algorithm {:?} is not accepted",
                header.alg
            )));
        }
        let kid = header
            .kid
            .ok_or_else(|| ApiError::InvalidToken("the token names no key (kid)".into()))?;
        let key = self.key(&kid).await?;
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = LEEWAY_SECS;
        jsonwebtoken::decode::<Claims>(token, &key, &validation)
            .map(|data| data.claims)
            .map_err(|err| ApiError::InvalidToken(describe(&err)))
    }

    async fn key(&self, kid: &str) -> Result<Arc<DecodingKey>, ApiError> {
        if let Some(key) = self.keys.read().await.get(kid) {
            return Ok(key.clone());
        }
        {
            let mut last = self.last_fetch.lock().await;
            // Another caller may have fetched while this one waited.
            if let Some(key) = self.keys.read().await.get(kid) {
                return Ok(key.clone());
            }
            if last.is_some_and(|t| t.elapsed() < self.refetch_interval) {
                return Err(ApiError::InvalidToken(
                    "the token's signing key is unknown".into(),
                ));
            }
            let fetched = self.fetch().await?;
            *last = Some(Instant::now());
            *self.keys.write().await = fetched;
            // A key the issuer no longer publishes must not keep its tokens valid here.
            self.verified.clear();
        }
        self.keys
            .read()
            .await
            .get(kid)
            .cloned()
            .ok_or_else(|| ApiError::InvalidToken("the token's signing key is unknown".into()))
    }

    async fn fetch(&self) -> Result<HashMap<String, Arc<DecodingKey>>, ApiError> {
        #[derive(Deserialize)]
        struct Discovery {
            jwks_uri: String,
        }
        let discovery_url = format!(
            "{}/.well-known/openid-configuration",
            self.issuer.trim_end_matches('/')
        );
        let discovery: Discovery = self.get_json(&discovery_url).await?;
        let set: JwkSet = self.get_json(&discovery.jwks_uri).await?;
        let keys = decoding_keys(&set);
        tracing::info!(count = keys.len(), "fetched the issuer's signing keys");
        Ok(keys)
    }

    async fn get_json<T: serde::de::DeserializeOwned>(&self, url: &str) -> Result<T, ApiError> {
        self.http.get_json(url).await.map_err(|err| {
            tracing::warn!("the issuer's signing keys: {err}");
            ApiError::KeysUnavailable
        })
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The keys of `set` that have a `kid` and parse.
fn decoding_keys(set: &JwkSet) -> HashMap<String, Arc<DecodingKey>> {
    let mut keys = HashMap::new();
    for jwk in &set.keys {
        let (Some(kid), Ok(key)) = (jwk.common.key_id.clone(), DecodingKey::from_jwk(jwk)) else {
            continue;
        };
        keys.insert(kid, Arc::new(key));
    }
    keys
}

/// The token of an `Authorization: Bearer …` header (the scheme in any case).
pub fn bearer_token(headers: &axum::http::HeaderMap) -> Result<&str, ApiError> {
    match credentials(headers)? {
        (false, token) => Ok(token),
        (true, _) => Err(ApiError::InvalidToken("use the Bearer scheme".into())),
    }
}

fn describe(err: &jsonwebtoken::errors::Error) -> String {
    use jsonwebtoken::errors::ErrorKind;
    match err.kind() {
        ErrorKind::ExpiredSignature => "the token expired".into(),
        ErrorKind::ImmatureSignature => "the token is not valid yet".into(),
        ErrorKind::InvalidIssuer => "the token was issued by another issuer".into(),
        ErrorKind::InvalidAudience => "the token is for another audience".into(),
        ErrorKind::InvalidSignature => "the token's signature does not verify".into(),
        ErrorKind::MissingRequiredClaim(claim) => format!("the token lacks the {claim} claim"),
        _ => "malformed token".into(),
    }
}

/// How the API takes DPoP-bound tokens (RFC 9449 §7).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DpopPolicy {
    /// Bearer tokens and DPoP-bound tokens with their proofs (a bound token sent as a bearer
    /// is refused either way).
    #[default]
    Allowed,
    /// DPoP-bound tokens only.
    Required,
}

/// The API's DPoP settings and memory: the policy, the proofs seen (replay), the nonces.
pub struct Dpop {
    pub policy: DpopPolicy,
    replays: latchkey_dpop::ReplayCache,
    /// Set: every proof must carry a current server nonce (§9).
    nonces: Option<latchkey_dpop::Nonces>,
    /// The URL the API is reached at, for `htu` (without it, `http://` and the Host header).
    public_url: Option<url::Url>,
}

/// Proofs remembered for replay detection: above any request rate the sample API sees in
/// [`latchkey_dpop::MAX_AGE`].
const REPLAY_CAPACITY: usize = 1_000_000;

impl Dpop {
    pub fn new(policy: DpopPolicy) -> Self {
        Self {
            policy,
            replays: latchkey_dpop::ReplayCache::new(REPLAY_CAPACITY),
            nonces: None,
            public_url: None,
        }
    }

    /// Demands server nonces, replaced every `lifetime_secs`.
    pub fn with_nonces(mut self, lifetime_secs: u64) -> Self {
        self.nonces = Some(latchkey_dpop::Nonces::new(
            lifetime_secs,
            latchkey_dpop::unix_now(),
        ));
        self
    }

    /// The URL the API is reached at (behind a proxy, say), for the proofs' `htu`.
    pub fn with_public_url(mut self, url: url::Url) -> Self {
        self.public_url = Some(url);
        self
    }

    /// The request's URL as the client addressed it.
    fn request_url(&self, parts: &Parts) -> String {
        let path = parts
            .uri
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_owned();
        match &self.public_url {
            Some(base) => format!("{}{path}", base.as_str().trim_end_matches('/')),
            None => {
                let host = parts
                    .headers
                    .get(header::HOST)
                    .and_then(|h| h.to_str().ok())
                    .unwrap_or("localhost");
                format!("http://{host}{path}")
            }
        }
    }
}

/// The scheme and token of the `Authorization` header.
fn credentials(headers: &axum::http::HeaderMap) -> Result<(bool, &str), ApiError> {
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or(ApiError::MissingToken)?
        .to_str()
        .map_err(|_| ApiError::InvalidToken("malformed Authorization header".into()))?;
    let (scheme, token) = value
        .split_once(' ')
        .ok_or_else(|| ApiError::InvalidToken("malformed Authorization header".into()))?;
    let token = token.trim();
    if token.is_empty() {
        return Err(ApiError::InvalidToken(
            "malformed Authorization header".into(),
        ));
    }
    if scheme.eq_ignore_ascii_case("dpop") {
        Ok((true, token))
    } else if scheme.eq_ignore_ascii_case("bearer") {
        Ok((false, token))
    } else {
        Err(ApiError::InvalidToken(
            "use the Bearer or the DPoP scheme".into(),
        ))
    }
}

impl FromRequestParts<AppState> for Claims {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let (dpop, token) = credentials(&parts.headers)?;
        if !dpop {
            if state.dpop.policy == DpopPolicy::Required {
                return Err(ApiError::InvalidToken(
                    "this API takes DPoP-bound tokens only (the DPoP scheme with a proof)".into(),
                ));
            }
            let claims = state.validator.validate(token).await?;
            if claims.jkt.is_some() {
                return Err(ApiError::InvalidToken(
                    "the token is DPoP-bound: send it with the DPoP scheme and a proof".into(),
                ));
            }
            return Ok(claims);
        }
        let mut proofs = parts.headers.get_all("dpop").iter();
        let proof = match (proofs.next(), proofs.next()) {
            (Some(proof), None) => proof.to_str().map_err(|_| {
                ApiError::InvalidDpopProof(
                    latchkey_dpop::ProofError::Malformed("not text").to_string(),
                )
            })?,
            (None, _) => {
                return Err(ApiError::InvalidDpopProof(
                    latchkey_dpop::ProofError::Missing.to_string(),
                ));
            }
            (Some(_), Some(_)) => {
                return Err(ApiError::InvalidDpopProof(
                    latchkey_dpop::ProofError::Several.to_string(),
                ));
            }
        };
        let url = state.dpop.request_url(parts);
        let now = latchkey_dpop::unix_now();
        let request = latchkey_dpop::Request {
            method: parts.method.as_str(),
            url: &url,
            access_token: Some(token),
        };
        let verified = latchkey_dpop::verify(proof, request, now)
            .map_err(|e| ApiError::InvalidDpopProof(e.to_string()))?;
        if let Some(nonces) = &state.dpop.nonces
            && !nonces.accepts(verified.nonce.as_deref(), now)
        {
            return Err(ApiError::UseDpopNonce(nonces.current(now)));
        }
        let claims = state.validator.validate(token).await?;
        if claims.jkt.as_deref() != Some(verified.jkt.as_str()) {
            return Err(ApiError::InvalidDpopProof(
                latchkey_dpop::ProofError::WrongKey.to_string(),
            ));
        }
        state
            .dpop
            .replays
            .first_use(&verified, now)
            .map_err(|e| ApiError::InvalidDpopProof(e.to_string()))?;
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::Claims;

    #[test]
    fn roles_come_from_a_namespaced_claim_sorted_once_each() {
        let claims: Claims = serde_json::from_value(serde_json::json!({
            "sub": "auth0|1",
            "exp": 2_000_000_000u64,
            "permissions": ["read:users"],
            "https://api.example.com/roles": ["editor", "admin", "editor", 7],
            "https://api.example.com/other": ["not a role"],
        }))
        .unwrap();
        assert_eq!(claims.roles, ["admin", "editor"]);
        assert_eq!(claims.permissions, ["read:users"]);
        let plain: Claims =
            serde_json::from_value(serde_json::json!({"sub": "s", "exp": 1u64})).unwrap();
        assert!(plain.roles.is_empty() && plain.permissions.is_empty());
        assert!(
            serde_json::from_value::<Claims>(serde_json::json!({"sub": "s"})).is_err(),
            "no exp, no claims"
        );
    }
}
